/* SPDX-License-Identifier: MIT */
/*
 * lemmy.c - posts and comments of Lemmy instances (API v3, Lemmy 0.19) as an earshot source.
 *
 * Feeds, per instance (base URL), each with one id space and so one cursor:
 *   "INSTANCE#q:QUERY/posts"     GET {instance}/api/v3/search?q=Q&type_=Posts&sort=New
 *                                    &listing_type=All&limit=L[&page=P]          -> {posts[]}
 *   "INSTANCE#q:QUERY/comments"  the same with type_=Comments                   -> {comments[]}
 *   "INSTANCE#!COMMUNITY/posts"  GET {instance}/api/v3/post/list?community_name=C&type_=All
 *                                    &sort=New&limit=L[&page=P]                  -> {posts[]}
 *   "INSTANCE#!COMMUNITY/comments" GET {instance}/api/v3/comment/list?... (same)  -> {comments[]}
 * `search_type` picks the query feeds (posts, comments or both); `community_comments` the
 * last kind. A search with type_=All would return posts and comments, two id spaces, in one
 * page; two feeds keep one cursor and one stopping rule each.
 *
 * Cursor: "ID:T", the newest instance-local id seen in the feed (post ids and comment ids are
 * separate sequences, hence separate feeds) and the newest `published` time seen (Unix
 * seconds; only for gap reports). Lemmy numbers what it stores in the order it receives it,
 * federated content included, so an id above the cursor is an item the last poll cannot have
 * seen. sort=New lists by `published`, newest first, so a poll walks backwards: every item
 * whose id is above the cursor is emitted, and the walk stops on the first page that holds an
 * id at or below the cursor ("stop at the last seen id"), or on a short page. An item
 * federated late (published long before it arrived) that sorts below that page is not seen;
 * Lemmy offers no id order to catch it. Items at or below the cursor are not emitted again, so
 * a quiet community does not re-emit its top page on every poll. The first poll of a feed (no
 * cursor) takes only the newest page; an empty one leaves the feed without a cursor. The
 * cursor is only set when a walk ends, so a walk broken off by a failed request starts again
 * from the old cursor (the core's seen-set drops what was emitted already). `limit` is at most
 * 50 (Lemmy answers 51 with an error); `max_pages` requests at most per poll, and a walk
 * stopped by it before reaching the cursor reports a coverage gap (host->report_gap) from the
 * cursor's time to the oldest item reached. Page tokens are "N:FROMID:FROMT:TOPID:TOPT":
 * request N (page N) of a walk from the old cursor FROM, TOP being the cursor to set at the end.
 *
 * Ids: the ActivityPub id `ap_id` (a URL on the instance where the item was created) is the
 * post id: it is the same whichever instance we read it through, so a post followed on two
 * federated instances is one post and one alert (instance-local ids are not; they are only
 * the cursor). Without an ap_id the local URL INSTANCE/post/ID or INSTANCE/comment/ID stands
 * in. url = ap_id. author_handle "name@host", the host taken from `creator.actor_id`;
 * author_name `creator.display_name`. Posts: title `post.name`, text the Markdown `post.body`
 * as plain text (markdown.c) plus the link `post.url` on a line of its own; replies =
 * counts.comments. Comments: text `comment.content` as plain text; reply_to the parent
 * comment (INSTANCE/comment/PARENT, from `comment.path` "0.PARENT.ID") or else the post's
 * ap_id; replies = counts.child_count. likes = counts.upvotes, created `published` (naive
 * timestamps of older servers are UTC), edited `updated`. Deleted or removed items are not
 * emitted (their ids still move the cursor). `language_id` is an instance table index, not a
 * language tag, so lang stays unknown. A body that is not a JSON object with the expected
 * array is -EBADMSG (Lemmy's {"error": "..."} is logged); an element of the wrong shape is
 * skipped with one warning per page; JSON nesting deeper than 64 is refused before parsing.
 *
 * Error answers (parse_error). Lemmy answers errors with {"error": "snake_case_code"} (HTTP 400
 * in 0.19, a few codes with 401 or 404): "rate_limit_error" is retried; the codes that say
 * the options cannot work (couldnt_find_community, instance_is_private, not_logged_in,
 * invalid_query, ...) block the feed, named with what to change; a 404 without one of those
 * means the instance does not serve API v3 at all (Lemmy 1.0 serves /api/v4), or is no Lemmy
 * instance: blocked too. Other codes and statuses are left to the core.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "earshot-plugin.h"
#include "markdown.h"
#include "plugin-json.h"
#include "plugin-util.h"

#define LIMIT_MAX 50                   /* Lemmy refuses limit > 50 */
#define MAX_PAGES_MAX 50               /* the core follows at most 50 pages of one poll */
#define ITEMS_MAX 1000                 /* elements looked at in one response */
#define ID_MAX JSON_INT_MAX            /* exact in a JSON number */
#define TIME_MAX INT64_C(253402300799) /* 9999-12-31T23:59:59Z */
#define QUERY_MAX 512
#define USEC_PER_SEC INT64_C(1000000)

/* ---- instances ------------------------------------------------------------------------------- */

typedef struct Instance {
        char *base; /* owned: "https://lemmy.world", no trailing '/' */
        char *host; /* owned: "lemmy.world" or "127.0.0.1:8536", for handles of local users */
} Instance;

/* ---- state ----------------------------------------------------------------------------------- */

typedef enum FeedKind {
        FEED_SEARCH_POSTS,
        FEED_SEARCH_COMMENTS,
        FEED_COMMUNITY_POSTS,
        FEED_COMMUNITY_COMMENTS,
} FeedKind;

typedef struct Feed {
        FeedKind kind;
        size_t instance;  /* index into Lemmy::instances */
        const char *term; /* borrowed from Lemmy::queries or Lemmy::communities */
        char *name;       /* owned: "https://lemmy.world#q:acme/posts" */
} Feed;

typedef struct Lemmy {
        const struct earshot_host *host; /* borrowed, valid until destroy */
        Instance *instances;             /* owned */
        size_t n_instances;
        char **queries; /* owned: trimmed, blanks collapsed */
        size_t n_queries;
        char **communities; /* owned: "acme" or "acme@lemmy.world", lowercased */
        size_t n_communities;
        Feed *feeds; /* owned */
        size_t n_feeds;
        bool search_posts, search_comments, community_comments;
        int64_t limit;
        int64_t max_pages;
} Lemmy;

static void lemmy_destroy(void *state) {
        Lemmy *l = state;

        if (!l)
                return;
        for (size_t i = 0; i < l->n_instances; i++) {
                free(l->instances[i].base);
                free(l->instances[i].host);
        }
        free(l->instances);
        strv_free_n(l->queries, l->n_queries);
        strv_free_n(l->communities, l->n_communities);
        for (size_t i = 0; i < l->n_feeds; i++)
                free(l->feeds[i].name);
        free(l->feeds);
        free(l);
}

static inline void lemmy_destroyp(Lemmy **l) {
        lemmy_destroy(*l);
}

/*
 * "!Acme@Lemmy.World" -> "acme@lemmy.world". Lemmy community names are lowercase letters,
 * digits and '_'; a remote community carries "@host".
 */
static int community_parse(const char *s, char **ret, const char **ret_error) {
        const char *at;
        size_t nlen;

        while (char_is_blank(*s))
                s++;
        if (*s == '!')
                s++;
        _cleanup_free_ char *c = strdup(s);
        if (!c)
                return -ENOMEM;
        for (size_t n = strlen(c); n > 0 && char_is_blank(c[n - 1]); n--)
                c[n - 1] = 0;
        ascii_lower(c);
        at = strchr(c, '@');
        nlen = at ? (size_t)(at - c) : strlen(c);
        if (nlen == 0 || nlen > 255) {
                *ret_error = "has no community name";
                return -EINVAL;
        }
        for (size_t i = 0; i < nlen; i++)
                if (!char_is_alnum(c[i]) && c[i] != '_') {
                        *ret_error = "is not a community name (letters, digits and '_', "
                                     "optionally @instance)";
                        return -EINVAL;
                }
        if (at) {
                if (!at[1]) {
                        *ret_error = "has an empty instance after '@'";
                        return -EINVAL;
                }
                for (const char *h = at + 1; *h; h++)
                        if (!char_is_host(*h) && *h != ':') {
                                *ret_error = "has a bad instance name after '@'";
                                return -EINVAL;
                        }
        }
        *ret = c;
        c = NULL;
        return 0;
}

static int feed_add(Lemmy *l, FeedKind kind, size_t instance, const char *term) {
        static const char *const fmt[][2] = {
                [FEED_SEARCH_POSTS] = {"#q:", "/posts"},
                [FEED_SEARCH_COMMENTS] = {"#q:", "/comments"},
                [FEED_COMMUNITY_POSTS] = {"#!", "/posts"},
                [FEED_COMMUNITY_COMMENTS] = {"#!", "/comments"},
        };
        Feed *f = &l->feeds[l->n_feeds];

        f->name = strjoin(l->instances[instance].base, fmt[kind][0], term, fmt[kind][1]);
        if (!f->name)
                return -ENOMEM;
        f->kind = kind;
        f->instance = instance;
        f->term = term;
        l->n_feeds++;
        return 0;
}

static int lemmy_create(const struct earshot_host *host, const struct earshot_values *vals,
                        char *err, size_t err_len, void **ret_state) {
        _cleanup_(lemmy_destroyp) Lemmy *l = NULL;
        const struct earshot_value *instances, *queries, *communities;
        const char *error = NULL, *type;
        int r;

        instances = list_value(vals, "instances");
        if (!instances)
                return set_error(err, err_len, "instances: at least one instance URL is needed");
        queries = list_value(vals, "queries");
        communities = list_value(vals, "communities");
        if (!queries && !communities)
                return set_error(err, err_len,
                                 "queries, communities: give search queries, communities or both");

        l = calloc(1, sizeof(*l));
        if (!l)
                return -ENOMEM;
        l->host = host;
        l->instances = calloc(instances->n_list, sizeof(Instance));
        l->queries = calloc(queries ? queries->n_list : 1, sizeof(char *));
        l->communities = calloc(communities ? communities->n_list : 1, sizeof(char *));
        if (!l->instances || !l->queries || !l->communities)
                return -ENOMEM;

        for (size_t i = 0; i < instances->n_list && instances->list[i]; i++) {
                Instance inst = {0};
                bool dup = false;

                r = option_base_url("instances", instances->list[i], &inst.base, &inst.host, err,
                                    err_len);
                if (r < 0)
                        return r;
                /* the same instance twice would make two feeds with one name */
                for (size_t j = 0; j < l->n_instances && !dup; j++)
                        dup = strcmp(l->instances[j].base, inst.base) == 0;
                if (dup) {
                        free(inst.base);
                        free(inst.host);
                        continue;
                }
                l->instances[l->n_instances++] = inst;
        }

        for (size_t i = 0; queries && i < queries->n_list && queries->list[i]; i++) {
                _cleanup_free_ char *q = NULL;
                bool dup = false;
                int kq = query_option("queries", queries->list[i], QUERY_MAX, NULL, &q, err,
                                      err_len);
                if (kq < 0)
                        return kq;
                for (size_t j = 0; j < l->n_queries && !dup; j++)
                        dup = strcasecmp(l->queries[j], q) == 0;
                if (dup)
                        continue;
                l->queries[l->n_queries++] = q;
                q = NULL;
        }

        for (size_t i = 0; communities && i < communities->n_list && communities->list[i]; i++) {
                char *c = NULL;
                bool dup = false;

                r = community_parse(communities->list[i], &c, &error);
                if (r == -EINVAL)
                        return set_error(err, err_len, "communities: '%s' %s", communities->list[i],
                                         error);
                if (r < 0)
                        return r;
                for (size_t j = 0; j < l->n_communities && !dup; j++)
                        dup = strcmp(l->communities[j], c) == 0;
                if (dup) {
                        free(c);
                        continue;
                }
                l->communities[l->n_communities++] = c;
        }

        type = earshot_value_str(vals, "search_type");
        if (!type || strcasecmp(type, "all") == 0)
                l->search_posts = l->search_comments = true;
        else if (strcasecmp(type, "posts") == 0)
                l->search_posts = true;
        else if (strcasecmp(type, "comments") == 0)
                l->search_comments = true;
        else
                return set_error(err, err_len,
                                 "search_type: '%s' is not one of posts, comments, all", type);
        l->community_comments = earshot_value_num(vals, "community_comments", 1) != 0;

        r = option_int(vals, "limit", LIMIT_MAX, 1, LIMIT_MAX, &l->limit, err, err_len);
        if (r < 0)
                return r;
        r = option_int(vals, "max_pages", 5, 1, MAX_PAGES_MAX, &l->max_pages, err, err_len);
        if (r < 0)
                return r;
        if (l->n_instances == 0 || (l->n_queries == 0 && l->n_communities == 0))
                return set_error(err, err_len, "instances, queries, communities: a list is empty");

        l->feeds = calloc(l->n_instances * (2 * l->n_queries + 2 * l->n_communities), sizeof(Feed));
        if (!l->feeds)
                return -ENOMEM;
        for (size_t i = 0; i < l->n_instances; i++) {
                for (size_t q = 0; q < l->n_queries; q++) {
                        if (l->search_posts &&
                            (r = feed_add(l, FEED_SEARCH_POSTS, i, l->queries[q])) < 0)
                                return r;
                        if (l->search_comments &&
                            (r = feed_add(l, FEED_SEARCH_COMMENTS, i, l->queries[q])) < 0)
                                return r;
                }
                for (size_t c = 0; c < l->n_communities; c++) {
                        r = feed_add(l, FEED_COMMUNITY_POSTS, i, l->communities[c]);
                        if (r < 0)
                                return r;
                        if (l->community_comments &&
                            (r = feed_add(l, FEED_COMMUNITY_COMMENTS, i, l->communities[c])) < 0)
                                return r;
                }
        }

        *ret_state = l;
        l = NULL;
        return 0;
}

static const char *lemmy_feed(void *state, uint32_t i) {
        Lemmy *l = state;
        return i < l->n_feeds ? l->feeds[i].name : NULL;
}

static bool feed_is_comments(const Feed *f) {
        return f->kind == FEED_SEARCH_COMMENTS || f->kind == FEED_COMMUNITY_COMMENTS;
}

/* ---- cursor and page tokens ------------------------------------------------------------------ */

typedef struct Mark {
        int64_t id; /* newest local id; -1: none */
        int64_t t;  /* newest published, Unix seconds; -1: unknown */
} Mark;

#define MARK_NULL ((Mark){.id = -1, .t = -1})

/* "ID" or "ID:T"; the whole string must be used. */
static int cursor_parse(const char *s, Mark *ret) {
        Mark m = MARK_NULL;
        const char *p = s;

        if (parse_num(&p, ID_MAX, &m.id) < 0)
                return -EINVAL;
        if (*p == ':') {
                p++;
                if (parse_num(&p, TIME_MAX, &m.t) < 0)
                        return -EINVAL;
        }
        if (*p)
                return -EINVAL;
        *ret = m;
        return 0;
}

static void cursor_format(const Mark *m, char *buf, size_t len) {
        if (m->t >= 0)
                (void)snprintf(buf, len, "%" PRId64 ":%" PRId64, m->id, m->t);
        else
                (void)snprintf(buf, len, "%" PRId64, m->id);
}

typedef struct Walk {
        int64_t n; /* request n of the poll, asking page n */
        Mark from; /* the cursor the walk started from */
        Mark top;  /* the cursor to set when it ends */
} Walk;

/* "N:FROMID:FROMT:TOPID:TOPT", a time of "-" being unknown. */
static int walk_parse(const char *s, Walk *ret) {
        Walk w = {.from = MARK_NULL, .top = MARK_NULL};
        const char *p = s;

        if (parse_num(&p, MAX_PAGES_MAX, &w.n) < 0 || w.n < 2 || *p++ != ':' ||
            parse_num(&p, ID_MAX, &w.from.id) < 0 || *p++ != ':')
                return -EINVAL;
        if (*p == '-')
                p++;
        else if (parse_num(&p, TIME_MAX, &w.from.t) < 0)
                return -EINVAL;
        if (*p++ != ':' || parse_num(&p, ID_MAX, &w.top.id) < 0 || *p++ != ':')
                return -EINVAL;
        if (*p == '-')
                p++;
        else if (parse_num(&p, TIME_MAX, &w.top.t) < 0)
                return -EINVAL;
        if (*p)
                return -EINVAL;
        *ret = w;
        return 0;
}

/* ---- requests -------------------------------------------------------------------------------- */

static int lemmy_build_request(void *state, uint32_t i, const char *cursor, const char *page,
                               struct earshot_request *req) {
        Lemmy *l = state;
        const struct earshot_host *h = l->host;
        char limit[24], pg[32] = "";
        Walk w;
        int r;

        if (i >= l->n_feeds)
                return -EINVAL;
        const Feed *f = &l->feeds[i];
        if (page) {
                r = walk_parse(page, &w);
                if (r < 0)
                        return r;
                (void)snprintf(pg, sizeof(pg), "&page=%" PRId64, w.n);
        }
        (void)snprintf(limit, sizeof(limit), "%" PRId64, l->limit);
        _cleanup_free_ char *term = url_encode(f->term);
        if (!term)
                return -ENOMEM;

        const char *base = l->instances[f->instance].base;
        _cleanup_free_ char *url = NULL;
        switch (f->kind) {
        case FEED_SEARCH_POSTS:
        case FEED_SEARCH_COMMENTS:
                url = strjoin(base, "/api/v3/search?q=", term,
                              "&type_=", f->kind == FEED_SEARCH_POSTS ? "Posts" : "Comments",
                              "&sort=New&listing_type=All&limit=", limit, pg);
                break;
        case FEED_COMMUNITY_POSTS:
        case FEED_COMMUNITY_COMMENTS:
                url = strjoin(base,
                              f->kind == FEED_COMMUNITY_POSTS ? "/api/v3/post/list"
                                                              : "/api/v3/comment/list",
                              "?community_name=", term, "&type_=All&sort=New&limit=", limit, pg);
                break;
        }
        if (!url)
                return -ENOMEM;

        return request_get(h, req, url, "application/json");
}

/* ---- JSON ------------------------------------------------------------------------------------ */

static bool json_true(const cJSON *obj, const char *key) {
        return cJSON_IsTrue(json_get(obj, key));
}

/* An http(s) URL string, or NULL. */
static const char *json_url(const cJSON *obj, const char *key) {
        const char *s = json_nstr(obj, key);
        return s && url_skip_http(s) ? s : NULL;
}

/* ---- items ----------------------------------------------------------------------------------- */

/* A timestamp field as µs since the epoch; 0 when missing or unreadable. */
static int64_t item_time(const Lemmy *l, const cJSON *obj, const char *key) {
        const char *s = json_nstr(obj, key);
        int64_t usec;

        if (!s || l->host->parse_time(s, &usec) < 0 || usec <= 0 || usec / USEC_PER_SEC > TIME_MAX)
                return 0;
        return usec;
}

/* "name@host", the host taken from the actor URL ("https://lemmy.ml/u/name"); NULL on OOM. */
static char *author_handle(const Instance *inst, const cJSON *creator, bool *oom) {
        const char *name = json_nstr(creator, "name"), *actor = json_url(creator, "actor_id");
        char *handle;

        *oom = false;
        if (!name)
                return NULL;
        if (actor) {
                const char *host = url_skip_http(actor);
                size_t hlen = strcspn(host, "/?#");
                const char *at = memchr(host, '@', hlen);
                if (at) { /* user info has no place in a handle */
                        hlen -= (size_t)(at + 1 - host);
                        host = at + 1;
                }
                if (hlen > 0 && hlen <= 255) {
                        handle = malloc(strlen(name) + 1 + hlen + 1);
                        if (!handle) {
                                *oom = true;
                                return NULL;
                        }
                        char *o = stpcpy(handle, name);
                        *o++ = '@';
                        memcpy(o, host, hlen);
                        o[hlen] = 0;
                        ascii_lower(o);
                        return handle;
                }
        }
        /* no actor URL: a local user's handle is relative to the instance we asked */
        handle = json_true(creator, "local") ? strjoin(name, "@", inst->host) : strdup(name);
        if (!handle)
                *oom = true;
        return handle;
}

/* Markdown to plain text; NULL on OOM. */
static char *md_text(const char *md) {
        return lemmy_markdown_to_text(md, strlen(md));
}

/* The parent comment's local id from a path "0.12.34" (34's parent is 12), or -1. */
static int64_t path_parent(const char *path) {
        const char *last = strrchr(path, '.'), *prev;
        int64_t n;

        if (!last || last == path)
                return -1;
        for (prev = last - 1; prev > path && *prev != '.'; prev--)
                ;
        if (*prev != '.')
                return -1; /* "0.34": a top-level comment */
        prev++;
        if (parse_num(&prev, ID_MAX, &n) < 0 || prev != last || n == 0)
                return -1;
        return n;
}

/*
 * Emits one element (a PostView or a CommentView, by the feed's kind), whose local id is
 * `id`. Returns 0 when emitted, 1 when it is not usable or not to be shown (the reason in
 * *why; deleted and removed items are not malformed, *malformed says which), or a negative
 * errno.
 */
static int item_emit(Lemmy *l, const Feed *f, const cJSON *item, int64_t id,
                     struct earshot_sink *sink, const char **why, bool *malformed) {
        const struct earshot_host *h = l->host;
        const Instance *inst = &l->instances[f->instance];
        const cJSON *post = json_obj(item, "post"), *comment = json_obj(item, "comment");
        const cJSON *creator = json_obj(item, "creator"), *counts = json_obj(item, "counts");
        const cJSON *self = feed_is_comments(f) ? comment : post;
        _cleanup_free_ char *text = NULL, *local = NULL, *handle = NULL, *reply_to = NULL;
        const char *ap_id, *title = NULL;
        char num[24];
        bool oom;

        *malformed = false;
        if (json_true(self, "deleted") || json_true(self, "removed")) {
                *why = "deleted or removed";
                return 1;
        }
        (void)snprintf(num, sizeof(num), "%" PRId64, id);
        ap_id = json_url(self, "ap_id");
        if (!ap_id) {
                local = strjoin(inst->base, feed_is_comments(f) ? "/comment/" : "/post/", num);
                if (!local)
                        return -ENOMEM;
        }

        if (feed_is_comments(f)) {
                const char *content = json_nstr(comment, "content"), *path;
                int64_t parent;

                if (!content) {
                        *why = "a comment without content";
                        *malformed = true;
                        return 1;
                }
                text = md_text(content);
                if (!text)
                        return -ENOMEM;
                path = json_nstr(comment, "path");
                parent = path ? path_parent(path) : -1;
                /* the comment it answers, else the post it is under */
                int64_t post_id = json_int(comment, "post_id", ID_MAX);
                bool want = true;
                if (parent > 0) {
                        (void)snprintf(num, sizeof(num), "%" PRId64, parent);
                        reply_to = strjoin(inst->base, "/comment/", num);
                } else if (json_url(post, "ap_id"))
                        reply_to = strdup(json_url(post, "ap_id"));
                else if (post_id > 0) {
                        (void)snprintf(num, sizeof(num), "%" PRId64, post_id);
                        reply_to = strjoin(inst->base, "/post/", num);
                } else
                        want = false;
                if (want && !reply_to)
                        return -ENOMEM;
        } else {
                const char *body = json_nstr(post, "body"), *link = json_url(post, "url");
                _cleanup_free_ char *plain = NULL;

                title = json_nstr(post, "name");
                if (body) {
                        plain = md_text(body);
                        if (!plain)
                                return -ENOMEM;
                }
                if (!title && !(plain && *plain) && !link) {
                        *why = "a post without name, body or link";
                        *malformed = true;
                        return 1;
                }
                /* the body, then the link it points to, if any */
                if (plain && *plain && link)
                        text = strjoin(plain, "\n", link);
                else if (link)
                        text = strdup(link);
                else
                        text = strdup(plain ? plain : "");
                if (!text)
                        return -ENOMEM;
        }

        handle = author_handle(inst, creator, &oom);
        if (oom)
                return -ENOMEM;

        struct earshot_post p = {
                .size = sizeof(p),
                .id = ap_id ? ap_id : local,
                .network = "lemmy",
                .url = ap_id ? ap_id : local,
                .text = text,
                .author_handle = handle,
                .author_name = json_nstr(creator, "display_name"),
                .author_followers = -1,
                .lang = NULL,
                .created_usec = item_time(l, self, "published"),
                .replies =
                        json_int(counts, feed_is_comments(f) ? "child_count" : "comments", ID_MAX),
                .reposts = -1,
                .likes = json_int(counts, "upvotes", ID_MAX),
                .title = title,
                .reply_to = reply_to,
                .rating = 0,
                .edited_usec = item_time(l, self, "updated"),
        };
        return h->emit_post(sink, &p);
}

/* ---- responses ------------------------------------------------------------------------------- */

static int set_cursor_if_new(Lemmy *l, struct earshot_sink *sink, const char *old, const Mark *m) {
        char buf[64];

        if (m->id < 0)
                return 0;
        cursor_format(m, buf, sizeof(buf));
        if (old && strcmp(old, buf) == 0)
                return 0;
        return l->host->set_cursor(sink, buf);
}

static int lemmy_parse_response(void *state, uint32_t i, const char *cursor, const char *page,
                                const struct earshot_response *resp, struct earshot_sink *sink) {
        Lemmy *l = state;
        const struct earshot_host *h = l->host;
        _cleanup_(cJSON_Deletep) cJSON *root = NULL;
        const char *key;
        const cJSON *list;
        Mark old = MARK_NULL;
        bool have_cursor = false;
        Walk w;
        int r;

        if (i >= l->n_feeds)
                return -EINVAL;
        const Feed *f = &l->feeds[i];
        key = feed_is_comments(f) ? "comments" : "posts";

        if (page) {
                r = walk_parse(page, &w);
                if (r < 0)
                        return r;
        }
        if (cursor) {
                have_cursor = cursor_parse(cursor, &old) >= 0;
                if (!have_cursor && !page)
                        h->log(h, EARSHOT_LOG_WARNING,
                               "%s: cannot read the cursor \"%.64s\"; starting afresh from the "
                               "newest page",
                               f->name, cursor);
        }
        if (!page)
                w = (Walk){.n = 1, .from = old, .top = old};
        bool first = !page && !have_cursor;

        r = json_parse_response(h, f->name, resp, &root);
        if (r < 0)
                return r;
        list = json_get(root, key);
        if (!cJSON_IsArray(list)) {
                const char *error = json_nstr(root, "error");
                h->log(h, EARSHOT_LOG_ERR,
                       "%s: expected an object with a \"%s\" array, got %s%s%.200s%s", f->name, key,
                       cJSON_IsObject(root) ? "an object" : "another JSON value",
                       error ? " (error: \"" : "", error ? error : "", error ? "\")" : "");
                return -EBADMSG;
        }

        size_t n = 0;
        const cJSON *items[ITEMS_MAX];
        for (const cJSON *item = list->child; item; item = item->next) {
                if (n == ITEMS_MAX) {
                        h->log(h, EARSHOT_LOG_WARNING,
                               "%s: more than %d elements in one response; looking at the first "
                               "%d",
                               f->name, ITEMS_MAX, ITEMS_MAX);
                        break;
                }
                items[n++] = item;
        }

        /* newest first on the wire; emit oldest first */
        int64_t oldest = -1;
        bool reached = false;
        Skipped skipped = {0};
        for (size_t k = n; k > 0; k--) {
                const cJSON *item = items[k - 1];
                const cJSON *self = json_obj(item, feed_is_comments(f) ? "comment" : "post");
                const char *why = NULL;
                bool malformed = true;
                int64_t id = json_int(self, "id", ID_MAX);

                if (!cJSON_IsObject(item))
                        why = "not an object";
                else if (!self)
                        why = feed_is_comments(f) ? "no comment object" : "no post object";
                else if (id <= 0)
                        why = "no numeric id";
                else {
                        int64_t usec = item_time(l, self, "published");
                        int64_t t = usec > 0 ? usec / USEC_PER_SEC : -1;

                        if (id > w.top.id)
                                w.top.id = id;
                        if (t > w.top.t)
                                w.top.t = t;
                        if (t >= 0 && (oldest < 0 || t < oldest))
                                oldest = t;
                        if (w.from.id >= 0 && id <= w.from.id) {
                                reached = true; /* seen by an earlier poll */
                                continue;
                        }
                        r = item_emit(l, f, item, id, sink, &why, &malformed);
                        if (r < 0)
                                return r;
                        if (r == 0 || !malformed)
                                continue;
                }
                skipped_add(&skipped, k - 1, why);
        }
        char what[64];
        (void)snprintf(what, sizeof(what), "elements that are not valid %s", key);
        skipped_log(&skipped, h, f->name, n, what, "element");

        /* The first poll of a feed takes the newest page only: no history digging. */
        if (first)
                return set_cursor_if_new(l, sink, cursor, &w.top);

        if (reached || (int64_t)n < l->limit)
                return set_cursor_if_new(l, sink, cursor, &w.top);
        if (w.n >= l->max_pages) {
                int64_t from = w.from.t >= 0 ? w.from.t : 0, to = oldest >= 0 ? oldest : from;
                if (to > from) {
                        if (EARSHOT_HOST_HAS(h, report_gap)) {
                                r = h->report_gap(sink, from * USEC_PER_SEC, to * USEC_PER_SEC,
                                                  "max_pages");
                                if (r < 0)
                                        return r;
                        } else
                                h->log(h, EARSHOT_LOG_WARNING,
                                       "%s: coverage gap (max_pages): items published between "
                                       "%" PRId64 " and %" PRId64 " (Unix time) may be missed",
                                       f->name, from, to);
                }
                h->log(h, EARSHOT_LOG_INFO,
                       "%s: stopped after %" PRId64 " page%s before reaching the cursor", f->name,
                       w.n, w.n == 1 ? "" : "s");
                return set_cursor_if_new(l, sink, cursor, &w.top);
        }

        char token[160], from_t[24] = "-", top_t[24] = "-";
        if (w.from.t >= 0)
                (void)snprintf(from_t, sizeof(from_t), "%" PRId64, w.from.t);
        if (w.top.t >= 0)
                (void)snprintf(top_t, sizeof(top_t), "%" PRId64, w.top.t);
        (void)snprintf(token, sizeof(token), "%" PRId64 ":%" PRId64 ":%s:%" PRId64 ":%s", w.n + 1,
                       w.from.id, from_t, w.top.id, top_t);
        r = h->next_page(sink, token);
        if (r < 0)
                return r;
        return EARSHOT_MORE;
}

/* ---- error answers --------------------------------------------------------------------------- */

/* Lemmy's error codes that say a feed cannot work as configured, and what to change. */
static const struct {
        const char *code;
        const char *advice;
} config_errors[] = {
        {"couldnt_find_community", "no such community there: check `communities`"},
        {"invalid_community", "not a community it serves: check `communities`"},
        {"couldnt_find_person", "no such user there: check the source's options"},
        {"not_logged_in", "it answers logged-in users only: drop it from `instances`"},
        {"instance_is_private", "a private instance answers its users only: drop it from "
                                "`instances`"},
        {"federation_disabled", "it does not federate: follow remote communities on another "
                                "instance"},
        {"invalid_query", "check `queries`"},
        {"contradicting_filters", "check the source's options"},
        {"too_many_items", "lower `limit`"},
        {"no_id_given", "check `communities`"},
};

static int lemmy_parse_error(void *state, uint32_t i, const char *cursor, const char *page,
                             const struct earshot_response *resp, struct earshot_sink *sink) {
        Lemmy *l = state;
        const struct earshot_host *h = l->host;
        _cleanup_(cJSON_Deletep) cJSON *root = NULL;
        const char *why = NULL, *code = NULL;
        char buf[80];

        if (i >= l->n_feeds)
                return -EINVAL;
        const Feed *f = &l->feeds[i];
        const char *host = l->instances[f->instance].host;
        if (json_load(resp, &root, &why) == 0 && (code = json_nstr(root, "error")))
                code = text_oneline(buf, sizeof(buf), code, NULL);

        if (code && strcmp(code, "rate_limit_error") == 0)
                return source_fail(h, sink, f->name, EARSHOT_RETRY,
                                   "%s's rate limit (rate_limit_error): a longer `interval` or "
                                   "fewer feeds per instance help",
                                   host);
        for (size_t k = 0; code && k < sizeof(config_errors) / sizeof(config_errors[0]); k++)
                if (strcmp(code, config_errors[k].code) == 0)
                        return source_fail(h, sink, f->name, EARSHOT_BLOCKED,
                                           "%s answered %s (HTTP %d) for %s: %s", host, code,
                                           (int)resp->status, f->term, config_errors[k].advice);
        if (resp->status == 404)
                return source_fail(h, sink, f->name, EARSHOT_BLOCKED,
                                   "%s does not serve Lemmy's API v3 (HTTP 404%s%s%s): Lemmy 1.0 "
                                   "and later serve /api/v4 only, which this source does not "
                                   "read yet; or it is no Lemmy instance: check `instances`",
                                   host, code ? ", \"" : "", code ? code : "", code ? "\"" : "");
        return SOURCE_ERROR_GENERIC;
}

static const struct earshot_option lemmy_options[] = {
        {"instances", EARSHOT_OPT_STRLIST, EARSHOT_OPT_REQUIRED, NULL,
         "base URLs of Lemmy instances (https://, or http:// on loopback)"},
        {"queries", EARSHOT_OPT_STRLIST, 0, NULL,
         "search queries (/api/v3/search, newest first), on every instance"},
        {"communities", EARSHOT_OPT_STRLIST, 0, NULL,
         "communities to follow on every instance (/api/v3/post/list), \"name\" or "
         "\"name@instance\""},
        {"search_type", EARSHOT_OPT_STRING, 0, "all",
         "what a query finds: posts, comments, or all (both, as two feeds)"},
        {"community_comments", EARSHOT_OPT_BOOL, 0, "true",
         "also follow the communities' comments (/api/v3/comment/list)"},
        {"limit", EARSHOT_OPT_INT, 0, "50", "items per request, 1..50"},
        {"max_pages", EARSHOT_OPT_INT, 0, "5",
         "requests per feed and poll at most, 1..50; a poll stopped before the cursor records a "
         "coverage gap"},
        {.name = NULL},
};

static const struct earshot_source_ops lemmy_ops = {
        .size = sizeof(struct earshot_source_ops),
        .create = lemmy_create,
        .destroy = lemmy_destroy,
        .feed = lemmy_feed,
        .build_request = lemmy_build_request,
        .parse_response = lemmy_parse_response,
        .parse_error = lemmy_parse_error,
};

EARSHOT_PLUGIN_DEFINE(.kind = EARSHOT_PLUGIN_SOURCE, .name = "lemmy",
                      .description = "posts and comments of Lemmy instances: searches and "
                                     "communities",
                      .options = lemmy_options, .source = &lemmy_ops);
