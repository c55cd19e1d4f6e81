/* SPDX-License-Identifier: MIT */
/*
 * discourse.c - public Discourse forums as an earshot source.
 *
 * Feeds. Without `queries`, one feed per forum, named "BASE/posts": the forum's latest posts
 * across all public topics, GET {forum}/posts.json, then {forum}/posts.json?before=ID for older
 * ones ("load posts with an id lower than this value"; Discourse answers at most 50, newest
 * first). With `queries`, one feed per forum and query, named "BASE/search?q=QUERY":
 * GET {forum}/search.json?q=QUERY%20order:latest[&page=N] (newest first, 50 a page, more pages
 * while grouped_search_result.more_full_page_results is set).
 *
 * Cursor. "ID@TIME": the id of the newest post seen and its creation time (RFC 3339; a bare
 * "ID" is accepted too). Post ids are assigned in creation order, forum-wide, so "newer than
 * the cursor" is "id greater than the cursor's". The first poll of a feed takes the newest page
 * only (earshot starts listening now). A later poll walks backwards from the newest post until
 * it meets a post at or below the cursor, the listing ends, or `max_pages` requests were made;
 * only posts above the cursor are emitted (oldest first), so a quiet forum's old posts are not
 * handed over again on every poll. Pages are walked newest to oldest, so the cursor can only
 * move once the walk is complete: it is set on the walk's last response, and the page tokens
 * carry the newest post seen so far ("N:BEFORE:ID:USEC" for /posts.json, "N:ID:USEC" for
 * search). A walk that fails half way leaves the cursor alone, and the next poll starts over
 * (posts already handed over are recognised by the core). A walk cut short by `max_pages`
 * reports the time range it could not reach with report_gap() and then moves the cursor to
 * the newest post, so one burst does not stall the feed forever.
 *
 * Fields. id "BASE/p/POST_ID" (Discourse's own short link to a post, stable across topic
 * renames); url BASE/t/SLUG/TOPIC_ID/POST_NUMBER; author_handle = username, author_name = name;
 * text = cooked HTML through html_to_text (search results without `cooked` fall back to the
 * plain `blurb` excerpt); title = the topic's title (`topic_title`, or from the search result's
 * topics[]); reply_to = the URL of the post named by reply_to_post_number, or of the topic for
 * another reply in it; replies = reply_count; likes = the like action count (or like_count);
 * edited_usec = updated_at for posts with version > 1. Discourse has no follower counts and no
 * language. Small-action posts ("closed this topic") and deleted posts are skipped quietly.
 *
 * Limits. A body that is not the JSON object the endpoint sends is -EBADMSG after one error
 * line (an HTML page usually means a login-only forum); JSON nested deeper than 64 levels and
 * pages of more than 1000 posts are refused; a malformed post is skipped, with one warning a
 * page.
 *
 * Error answers (parse_error). Discourse answers errors with {"errors": ["..."], "error_type":
 * "..."} (ApplicationController#render_json_error). A 429 of its rate limiter
 * (RateLimiter::LimitExceeded) says in extras.wait_seconds how long to wait, as Retry-After
 * does: that pause is taken (set_backoff) and the poll retried. 403 (a private or login-only
 * forum: NotLoggedIn and InvalidAccess answer JSON requests with it) and 404 (no forum there)
 * block the feed until `forums` is fixed, quoting errors[0] when there is one. Anything else
 * is left to the core.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "earshot-plugin.h"
#include "plugin-json.h"
#include "plugin-util.h"

#define MAX_PAGES_MAX 50
#define MAX_POSTS_PER_PAGE 1000 /* Discourse sends 50 */
#define MAX_QUERY_LEN 500
#define MAX_ID INT64_C(9007199254740991) /* 2^53 - 1: exact in a JSON number */

/* ---- state ---------------------------------------------------------------------------------- */

typedef struct Feed {
        size_t forum;      /* index into Discourse::forums */
        const char *query; /* borrowed from Discourse::queries; NULL = the latest posts */
        char *name;        /* owned: "https://forum.example/posts" or ".../search?q=acme" */
} Feed;

typedef struct Discourse {
        const struct earshot_host *host; /* borrowed, valid until destroy */
        char **forums;                   /* owned: normalised base URLs */
        size_t n_forums;
        char **queries; /* owned */
        size_t n_queries;
        Feed *feeds; /* owned: forums x queries, or one per forum */
        size_t n_feeds;
        int64_t max_pages;
} Discourse;

static void discourse_destroy(void *state) {
        Discourse *d = state;

        if (!d)
                return;
        strv_free_n(d->forums, d->n_forums);
        strv_free_n(d->queries, d->n_queries);
        for (size_t i = 0; i < d->n_feeds; i++)
                free(d->feeds[i].name);
        free(d->feeds);
        free(d);
}

static inline void discourse_destroyp(Discourse **d) {
        discourse_destroy(*d);
}

/* A search query as written, blanks trimmed. Discourse's own syntax is passed through. */
static int query_parse(const char *s, char **ret, const char **ret_error) {
        _cleanup_free_ char *q = NULL;
        int r;

        r = query_trim(s, MAX_QUERY_LEN, &q, ret_error);
        if (r < 0)
                return r;
        /* the feed's order is ours to set: newest first is what the cursor relies on */
        for (size_t i = 0; q[i]; i++)
                if (strncasecmp(q + i, "order:", 6) == 0 && (i == 0 || q[i - 1] == ' ')) {
                        *ret_error = "may not set order: (the source adds order:latest)";
                        return -EINVAL;
                }
        *ret = q;
        q = NULL;
        return 0;
}

static int discourse_create(const struct earshot_host *host, const struct earshot_values *vals,
                            char *err, size_t err_len, void **ret_state) {
        _cleanup_(discourse_destroyp) Discourse *d = NULL;
        const struct earshot_value *forums, *queries;
        const char *error = NULL;
        int r;

        forums = list_value(vals, "forums");
        if (!forums)
                return set_error(err, err_len, "forums: at least one forum URL is needed");
        queries = list_value(vals, "queries");

        d = calloc(1, sizeof(*d));
        if (!d)
                return -ENOMEM;
        d->host = host;
        d->forums = calloc(forums->n_list, sizeof(char *));
        d->queries = calloc(queries ? queries->n_list : 1, sizeof(char *));
        if (!d->forums || !d->queries)
                return -ENOMEM;

        for (size_t i = 0; i < forums->n_list && forums->list[i]; i++) {
                char *base = NULL;

                r = option_base_url("forums", forums->list[i], &base, NULL, err, err_len);
                if (r < 0)
                        return r;
                list_add_unique(d->forums, &d->n_forums, base);
        }
        for (size_t i = 0; queries && i < queries->n_list && queries->list[i]; i++) {
                char *q = NULL;
                bool dup = false;

                r = query_parse(queries->list[i], &q, &error);
                if (r == -EINVAL)
                        return set_error(err, err_len, "queries: '%.80s' %s", queries->list[i],
                                         error);
                if (r < 0)
                        return r;
                for (size_t j = 0; j < d->n_queries && !dup; j++)
                        dup = strcmp(d->queries[j], q) == 0;
                if (dup)
                        free(q);
                else
                        d->queries[d->n_queries++] = q;
        }
        if (d->n_forums == 0)
                return set_error(err, err_len, "forums: the list is empty");

        r = option_int(vals, "max_pages", 5, 1, MAX_PAGES_MAX, &d->max_pages, err, err_len);
        if (r < 0)
                return r;

        size_t per_forum = d->n_queries > 0 ? d->n_queries : 1;
        d->feeds = calloc(d->n_forums * per_forum, sizeof(Feed));
        if (!d->feeds)
                return -ENOMEM;
        for (size_t i = 0; i < d->n_forums; i++)
                for (size_t q = 0; q < per_forum; q++) {
                        Feed *f = &d->feeds[d->n_feeds];

                        f->forum = i;
                        f->query = d->n_queries > 0 ? d->queries[q] : NULL;
                        f->name = f->query ? strjoin(d->forums[i], "/search?q=", f->query)
                                           : strjoin(d->forums[i], "/posts");
                        if (!f->name)
                                return -ENOMEM;
                        d->n_feeds++;
                }

        *ret_state = d;
        d = NULL;
        return 0;
}

static const char *discourse_feed(void *state, uint32_t i) {
        Discourse *d = state;
        return i < d->n_feeds ? d->feeds[i].name : NULL;
}

/* ---- cursors and page tokens ---------------------------------------------------------------- */

/* Parse "123" into *ret; the whole of s[0..n) must be digits and the value 1..MAX_ID. */
static int parse_id(const char *s, size_t n, int64_t *ret) {
        int64_t v;

        if (parse_digits(s, n, 16, &v) < 0 || v < 1 || v > MAX_ID)
                return -EINVAL;
        *ret = v;
        return 0;
}

/*
 * The cursor: "ID@TIME" or "ID". Returns 0 with *ret_id (0 = no cursor) and *ret_usec (0 =
 * unknown). A cursor this plugin did not write counts as none: the feed starts afresh rather
 * than stalling.
 */
static void cursor_parse(const Discourse *d, const char *cursor, int64_t *ret_id,
                         int64_t *ret_usec) {
        *ret_id = 0;
        *ret_usec = 0;
        if (!cursor || !*cursor)
                return;
        size_t n = strcspn(cursor, "@");
        if (parse_id(cursor, n, ret_id) < 0) {
                *ret_id = 0;
                return;
        }
        if (cursor[n] == '@' && d->host->parse_time(cursor + n + 1, ret_usec) < 0)
                *ret_usec = 0;
}

static int cursor_format(const Discourse *d, int64_t id, int64_t usec, char *buf, size_t len) {
        char t[64];

        if (usec > 0 && d->host->format_time(usec, t, sizeof(t)))
                (void)snprintf(buf, len, "%" PRId64 "@%s", id, t);
        else
                (void)snprintf(buf, len, "%" PRId64, id);
        return 0;
}

/*
 * Page tokens: "N:BEFORE:ID:USEC" (latest posts) or "N:ID:USEC" (search): this is page N of
 * the walk; BEFORE is the before= of this request; ID/USEC the newest post of the walk so far
 * (0 when none). Returns 0, or -EINVAL for a token this plugin did not write.
 */
typedef struct Page {
        int64_t n, before, newest_id, newest_usec;
} Page;

static int page_parse(const char *token, bool search, Page *ret) {
        int64_t v[4] = {0};
        size_t want = search ? 3 : 4, k = 0;
        const char *p = token;

        for (;;) {
                size_t n = 0;
                bool neg = false;
                if (k == want - 1 && *p == '-') { /* the time may be negative, in theory */
                        neg = true;
                        p++;
                }
                while (p[n] >= '0' && p[n] <= '9')
                        n++;
                if (n == 0 || n > 18)
                        return -EINVAL;
                for (size_t i = 0; i < n; i++)
                        v[k] = v[k] * 10 + (p[i] - '0');
                if (neg)
                        v[k] = -v[k];
                p += n;
                k++;
                if (k == want)
                        break;
                if (*p++ != ':')
                        return -EINVAL;
        }
        if (*p != 0 || v[0] < 2 || v[0] > MAX_PAGES_MAX)
                return -EINVAL;
        if (search)
                *ret = (Page){.n = v[0], .newest_id = v[1], .newest_usec = v[2]};
        else {
                if (v[1] < 1)
                        return -EINVAL;
                *ret = (Page){.n = v[0], .before = v[1], .newest_id = v[2], .newest_usec = v[3]};
        }
        return 0;
}

static int discourse_build_request(void *state, uint32_t i, const char *cursor, const char *page,
                                   struct earshot_request *req) {
        Discourse *d = state;
        const struct earshot_host *h = d->host;
        _cleanup_free_ char *url = NULL;
        Page pg = {.n = 1};
        char num[32];
        int r;

        if (i >= d->n_feeds)
                return -EINVAL;
        const Feed *f = &d->feeds[i];
        const char *base = d->forums[f->forum];

        if (page) {
                r = page_parse(page, f->query != NULL, &pg);
                if (r < 0)
                        return r;
        }
        if (f->query) {
                _cleanup_free_ char *q = strjoin(f->query, " order:latest");
                _cleanup_free_ char *qe = q ? url_encode(q) : NULL;
                if (!qe)
                        return -ENOMEM;
                (void)snprintf(num, sizeof(num), "%" PRId64, pg.n);
                url = strjoin(base, "/search.json?q=", qe, pg.n > 1 ? "&page=" : "",
                              pg.n > 1 ? num : "");
        } else {
                (void)snprintf(num, sizeof(num), "%" PRId64, pg.before);
                url = strjoin(base, "/posts.json", pg.n > 1 ? "?before=" : "", pg.n > 1 ? num : "");
        }
        if (!url)
                return -ENOMEM;

        return request_get(h, req, url, "application/json");
}

/* ---- parsing -------------------------------------------------------------------------------- */

/* One post of a page, as far as paging and the cursor need it. */
typedef struct Item {
        const cJSON *json;
        int64_t id;           /* 0 when the element has no usable id */
        int64_t created_usec; /* 0 when unknown */
} Item;

typedef struct Topic {
        int64_t id;
        const char *title, *slug; /* borrowed from the JSON */
} Topic;

static const Topic *topic_find(const Topic *topics, size_t n, int64_t id) {
        for (size_t i = 0; i < n; i++)
                if (topics[i].id == id)
                        return &topics[i];
        return NULL;
}

/* A slug is used in a URL path: take it only when it is what Discourse writes. */
static bool slug_ok(const char *s) {
        if (!s || !*s || strlen(s) > 255)
                return false;
        for (const unsigned char *c = (const unsigned char *)s; *c; c++)
                if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                      (*c >= '0' && *c <= '9') || *c == '-' || *c == '_' || *c >= 0x80))
                        return false;
        return true;
}

/* BASE/t/SLUG/TOPIC[/NUMBER] (SLUG percent-encoded, left out when unknown); NULL on OOM. */
static char *topic_url(const char *base, const char *slug, int64_t topic, int64_t number) {
        char t[32], n[32];
        _cleanup_free_ char *s = slug_ok(slug) ? url_encode(slug) : NULL;

        if (slug_ok(slug) && !s)
                return NULL;
        (void)snprintf(t, sizeof(t), "%" PRId64, topic);
        (void)snprintf(n, sizeof(n), "%" PRId64, number);
        return strjoin(base, "/t/", s ? s : "", s ? "/" : "", t, number > 0 ? "/" : "",
                       number > 0 ? n : "");
}

/*
 * Likes: like_count where the post has it (search results), else the count of the like action
 * (id 2) in actions_summary (/posts.json, which lists only actions that happened: none is 0);
 * -1 when neither is there.
 */
static int64_t post_likes(const cJSON *p) {
        const cJSON *actions = json_get(p, "actions_summary");
        int64_t likes = json_count(p, "like_count");

        if (likes >= 0)
                return likes;
        if (!cJSON_IsArray(actions))
                return -1;
        for (const cJSON *a = actions->child; a; a = a->next)
                if (json_id(a, "id") == 2) {
                        int64_t c = json_count(a, "count");
                        return c >= 0 ? c : -1;
                }
        return 0;
}

/*
 * Emits one post. Returns 0 when emitted, 1 when skipped as malformed (the reason in *why),
 * 2 when skipped quietly (not something people wrote), or a negative errno.
 */
static int post_emit(Discourse *d, const Feed *f, const Item *it, const Topic *topics,
                     size_t n_topics, struct earshot_sink *sink, const char **why) {
        const struct earshot_host *h = d->host;
        const char *base = d->forums[f->forum];
        const cJSON *p = it->json;
        _cleanup_free_ char *text = NULL, *id = NULL, *url = NULL, *reply_to = NULL;
        char num[32];

        if (!cJSON_IsObject(p)) {
                *why = "not an object";
                return 1;
        }
        if (it->id == 0) {
                *why = "no numeric id";
                return 1;
        }
        /* "closed this topic", "pinned globally" ...: the forum's own notes */
        if (json_count(p, "post_type") == 3 || json_nstr(p, "deleted_at"))
                return 2;

        const char *cooked = json_str(p, "cooked"), *blurb = json_str(p, "blurb");
        const char *html = cooked && *cooked ? cooked : blurb ? blurb : cooked;
        if (!html) {
                *why = "no cooked text";
                return 1;
        }
        text = h->html_to_text(html, strlen(html));
        if (!text)
                return -ENOMEM;

        (void)snprintf(num, sizeof(num), "%" PRId64, it->id);
        id = strjoin(base, "/p/", num);
        if (!id)
                return -ENOMEM;

        int64_t topic_id = json_id(p, "topic_id"), number = json_id(p, "post_number");
        const Topic *t = topic_id ? topic_find(topics, n_topics, topic_id) : NULL;
        const char *slug = json_nstr(p, "topic_slug"), *title = json_nstr(p, "topic_title");
        if (t) {
                slug = slug ? slug : t->slug;
                title = title ? title : t->title;
        }
        if (topic_id && number) {
                url = topic_url(base, slug, topic_id, number);
                if (!url)
                        return -ENOMEM;
                /* a reply names the post it answers, or else answers the topic */
                int64_t to = json_id(p, "reply_to_post_number");
                bool answers = true;
                if (to > 0 && to != number)
                        reply_to = topic_url(base, slug, topic_id, to);
                else if (number > 1)
                        reply_to = topic_url(base, slug, topic_id, 0);
                else
                        answers = false;
                if (answers && !reply_to)
                        return -ENOMEM;
        }

        struct earshot_post post = {
                .size = sizeof(post),
                .id = id,
                .network = "discourse",
                .url = url ? url : id,
                .text = text,
                .author_handle = json_nstr(p, "username"),
                .author_name = json_nstr(p, "name"),
                .author_followers = -1,
                .lang = NULL,
                .created_usec = it->created_usec,
                .replies = json_count(p, "reply_count"),
                .reposts = -1,
                .likes = post_likes(p),
                .title = title,
                .reply_to = reply_to,
                .rating = 0,
                .edited_usec = 0,
        };
        const char *updated = json_nstr(p, "updated_at");
        int64_t version = json_count(p, "version"), edited = 0;
        if (version > 1 && updated && h->parse_time(updated, &edited) == 0 && edited > 0)
                post.edited_usec = edited;
        return h->emit_post(sink, &post);
}

/* A response body as JSON; a forum behind a login answers with its HTML page instead. */
static int body_parse(Discourse *d, const Feed *f, const struct earshot_response *resp,
                      cJSON **ret) {
        const struct earshot_host *h = d->host;
        size_t len = resp->body ? resp->body_len : 0, skip = 0;

        while (skip < len && char_is_blank(resp->body[skip]))
                skip++;
        if (skip < len && resp->body[skip] == '<') {
                h->log(h, EARSHOT_LOG_ERR,
                       "%s: the forum answered with an HTML page, not JSON (does it require a "
                       "login?)",
                       f->name);
                return -EBADMSG;
        }
        return json_parse_response(h, f->name, resp, ret);
}

/* Discourse's error bodies: {"errors": ["..."], "error_type": "..."}. */
static const char *error_text(const cJSON *root) {
        const cJSON *errors = json_get(root, "errors");
        if (cJSON_IsArray(errors) && cJSON_IsString(errors->child) && errors->child->valuestring)
                return errors->child->valuestring;
        return json_nstr(root, "error_type");
}

/* Discourse's error message of a body, one line, as ` ("...")` into buf; "" when it has none. */
static const char *error_said(const cJSON *root, char *buf, size_t len) {
        const cJSON *errors = json_get(root, "errors");
        const char *e = cJSON_IsArray(errors) && cJSON_IsString(errors->child)
                                ? errors->child->valuestring
                                : NULL;
        char line[200];

        buf[0] = 0;
        if (e && *e)
                (void)snprintf(buf, len, " (\"%s\")", text_oneline(line, sizeof(line), e, NULL));
        return buf;
}

static int discourse_parse_error(void *state, uint32_t i, const char *cursor, const char *page,
                                 const struct earshot_response *resp, struct earshot_sink *sink) {
        Discourse *d = state;
        const struct earshot_host *h = d->host;
        _cleanup_(cJSON_Deletep) cJSON *root = NULL;
        const char *why = NULL;
        char said[240];
        int r;

        if (i >= d->n_feeds)
                return -EINVAL;
        const Feed *f = &d->feeds[i];
        const char *base = d->forums[f->forum];
        if (json_load(resp, &root, &why) < 0)
                root = NULL;
        (void)error_said(root, said, sizeof(said));

        switch (resp->status) {
        case 429: {
                /* {"error_type": "rate_limit", "extras": {"wait_seconds": 3, ...}} */
                int64_t wait = json_count(json_obj(root, "extras"), "wait_seconds");
                if (wait > 86400)
                        wait = 86400;
                if (wait > 0 && EARSHOT_HOST_HAS(h, set_backoff)) {
                        r = h->set_backoff(sink, wait * INT64_C(1000000));
                        if (r < 0)
                                return r;
                }
                char w[48] = "";
                if (wait > 0)
                        (void)snprintf(w, sizeof(w), "; waiting %" PRId64 " s", wait);
                return source_fail(h, sink, f->name, EARSHOT_RETRY,
                                   "the forum's rate limit%s%s (it allows about 200 requests a "
                                   "minute per IP by default: a longer `interval` helps)",
                                   said, w);
        }
        case 403:
                return source_fail(h, sink, f->name, EARSHOT_BLOCKED,
                                   "%s refused access (HTTP 403)%s: a private or login-only "
                                   "forum cannot be read by this source; check `forums`",
                                   base, said);
        case 404:
                return source_fail(
                        h, sink, f->name, EARSHOT_BLOCKED,
                        "%s answered 404%s: is it the address of a Discourse forum? Check "
                        "`forums`",
                        base, said);
        }
        return SOURCE_ERROR_GENERIC;
}

/*
 * Whether a search has another page: grouped_search_result.more_full_page_results is set (true,
 * or a string such as "more", depending on the version); more_posts is what older versions say.
 */
static bool search_has_more(const cJSON *root) {
        const cJSON *g = json_get(root, "grouped_search_result");
        static const char *const keys[] = {"more_full_page_results", "more_posts"};

        for (size_t k = 0; k < 2; k++) {
                const cJSON *v = json_get(g, keys[k]);
                if (cJSON_IsTrue(v) || (cJSON_IsString(v) && v->valuestring && *v->valuestring))
                        return true;
        }
        return false;
}

static int discourse_parse_response(void *state, uint32_t i, const char *cursor, const char *page,
                                    const struct earshot_response *resp,
                                    struct earshot_sink *sink) {
        Discourse *d = state;
        const struct earshot_host *h = d->host;
        _cleanup_(cJSON_Deletep) cJSON *root = NULL;
        _cleanup_free_ Item *items = NULL;
        _cleanup_free_ Topic *topics = NULL;
        size_t n = 0, n_topics = 0;
        int64_t cur_id, cur_usec;
        Page pg = {.n = 1};
        int r;

        if (i >= d->n_feeds)
                return -EINVAL;
        const Feed *f = &d->feeds[i];
        bool search = f->query != NULL;
        if (page) {
                r = page_parse(page, search, &pg);
                if (r < 0)
                        return r;
        }
        cursor_parse(d, cursor, &cur_id, &cur_usec);

        r = body_parse(d, f, resp, &root);
        if (r < 0)
                return r;

        const char *key = search ? "posts" : "latest_posts";
        const cJSON *list = json_get(root, key);
        if (!cJSON_IsArray(list)) {
                const char *error = error_text(root);
                /* a search without hits may leave posts out entirely */
                if (search && !list && !error &&
                    cJSON_IsObject(json_get(root, "grouped_search_result")))
                        list = NULL;
                else {
                        h->log(h, EARSHOT_LOG_ERR,
                               "%s: expected a JSON object with a \"%s\" array, got %s%s%.200s%s",
                               f->name, key,
                               cJSON_IsObject(root)  ? "an object without it"
                               : cJSON_IsArray(root) ? "an array"
                                                     : "a scalar",
                               error ? " (error: \"" : "", error ? error : "", error ? "\")" : "");
                        return -EBADMSG;
                }
        }

        for (const cJSON *p = list ? list->child : NULL; p; p = p->next)
                if (++n > MAX_POSTS_PER_PAGE) {
                        h->log(h, EARSHOT_LOG_ERR,
                               "%s: more than %d posts in one response; Discourse sends 50",
                               f->name, MAX_POSTS_PER_PAGE);
                        return -EBADMSG;
                }
        items = calloc(n ? n : 1, sizeof(Item));
        if (!items)
                return -ENOMEM;

        if (search) {
                const cJSON *tl = json_get(root, "topics");
                size_t nt = 0;
                for (const cJSON *t = cJSON_IsArray(tl) ? tl->child : NULL; t; t = t->next)
                        nt++;
                if (nt > MAX_POSTS_PER_PAGE)
                        nt = MAX_POSTS_PER_PAGE;
                topics = calloc(nt ? nt : 1, sizeof(Topic));
                if (!topics)
                        return -ENOMEM;
                for (const cJSON *t = cJSON_IsArray(tl) ? tl->child : NULL; t && n_topics < nt;
                     t = t->next) {
                        int64_t tid = json_id(t, "id");
                        if (tid)
                                topics[n_topics++] = (Topic){.id = tid,
                                                             .title = json_nstr(t, "title"),
                                                             .slug = json_nstr(t, "slug")};
                }
        }

        /* What the walk needs: the newest and the oldest post of the page. */
        int64_t newest_id = pg.newest_id, newest_usec = pg.newest_usec;
        int64_t oldest_id = 0, oldest_usec = 0;
        n = 0;
        for (const cJSON *p = list ? list->child : NULL; p; p = p->next) {
                Item *it = &items[n++];
                const char *created = json_nstr(p, "created_at");

                it->json = p;
                it->id = json_id(p, "id");
                if (created && h->parse_time(created, &it->created_usec) < 0)
                        it->created_usec = 0;
                if (it->id == 0)
                        continue;
                if (it->id > newest_id) {
                        newest_id = it->id;
                        newest_usec = it->created_usec;
                }
                if (oldest_id == 0 || it->id < oldest_id) {
                        oldest_id = it->id;
                        oldest_usec = it->created_usec;
                }
        }

        /* newest first on the wire; emit oldest first, and only what is above the cursor */
        Skipped skipped = {0};
        for (size_t k = n; k > 0; k--) {
                const Item *it = &items[k - 1];
                const char *why = NULL;

                if (cur_id > 0 && it->id > 0 && it->id <= cur_id)
                        continue;
                r = post_emit(d, f, it, topics, n_topics, sink, &why);
                if (r < 0)
                        return r;
                if (r == 1) {
                        h->log(h, EARSHOT_LOG_DEBUG, "%s: skipping element %zu: %s", f->name, k - 1,
                               why);
                        skipped_add(&skipped, k - 1, why);
                }
        }
        skipped_log(&skipped, h, f->name, n, "elements that are not valid posts", "element");

        /* Where the walk stands. */
        bool done, gap = false;
        const char *gap_reason = NULL;
        if (cur_id == 0)
                done = true; /* the first poll: the newest page only */
        else if (oldest_id == 0)
                done = true; /* nothing (usable) older: the listing ends here */
        else if (oldest_id <= cur_id)
                done = true; /* met the cursor */
        else if (search && !search_has_more(root))
                done = true; /* the search has nothing older */
        else if (!search && pg.n > 1 && oldest_id >= pg.before) {
                /* a server that ignores before= sends the newest page again */
                h->log(h, EARSHOT_LOG_WARNING,
                       "%s: the forum ignored before=%" PRId64 "; cannot page further back",
                       f->name, pg.before);
                done = gap = true;
                gap_reason = "the forum ignored before=";
        } else if (pg.n >= d->max_pages) {
                h->log(h, EARSHOT_LOG_INFO,
                       "%s: stopped after %" PRId64 " page%s without reaching the last post seen",
                       f->name, pg.n, pg.n == 1 ? "" : "s");
                done = gap = true;
                gap_reason = "max_pages reached";
        } else
                done = false;

        if (gap) {
                int64_t to = oldest_usec > 0 ? oldest_usec : h->now_usec(h);
                if (EARSHOT_HOST_HAS(h, report_gap)) {
                        r = h->report_gap(sink, cur_usec, to, gap_reason);
                        if (r < 0)
                                return r;
                } else
                        h->log(h, EARSHOT_LOG_WARNING,
                               "%s: posts between the last one seen and the oldest one reached "
                               "may be missed (%s)",
                               f->name, gap_reason);
        }

        if (done) {
                if (newest_id > cur_id) {
                        char buf[128];
                        (void)cursor_format(d, newest_id, newest_usec, buf, sizeof(buf));
                        r = h->set_cursor(sink, buf);
                        if (r < 0)
                                return r;
                }
                return 0;
        }

        char token[128];
        if (search)
                (void)snprintf(token, sizeof(token), "%" PRId64 ":%" PRId64 ":%" PRId64, pg.n + 1,
                               newest_id, newest_usec);
        else
                (void)snprintf(token, sizeof(token), "%" PRId64 ":%" PRId64 ":%" PRId64 ":%" PRId64,
                               pg.n + 1, oldest_id, newest_id, newest_usec);
        r = h->next_page(sink, token);
        if (r < 0)
                return r;
        return EARSHOT_MORE;
}

static const struct earshot_option discourse_options[] = {
        {"forums", EARSHOT_OPT_STRLIST, EARSHOT_OPT_REQUIRED, NULL,
         "base URLs of public Discourse forums, e.g. https://meta.discourse.org (https://, or "
         "http:// on loopback; a subfolder install keeps its path)"},
        {"queries", EARSHOT_OPT_STRLIST, 0, NULL,
         "search queries in Discourse's syntax (e.g. 'acme', 'acme #support', '\"acme plus\" "
         "tags:billing'), one feed each per forum, newest first (order:latest is added); "
         "none: every public post of the forum (/posts.json)"},
        {"max_pages", EARSHOT_OPT_INT, 0, "5",
         "requests per feed and poll at most, 1..50 (50 posts each); a poll that cannot reach "
         "back to the last post seen reports a coverage gap"},
        {.name = NULL},
};

static const struct earshot_source_ops discourse_ops = {
        .size = sizeof(struct earshot_source_ops),
        .create = discourse_create,
        .destroy = discourse_destroy,
        .feed = discourse_feed,
        .build_request = discourse_build_request,
        .parse_response = discourse_parse_response,
        .parse_error = discourse_parse_error,
};

EARSHOT_PLUGIN_DEFINE(.kind = EARSHOT_PLUGIN_SOURCE, .name = "discourse",
                      .description = "latest posts or searches of public Discourse forums",
                      .options = discourse_options, .source = &discourse_ops);
