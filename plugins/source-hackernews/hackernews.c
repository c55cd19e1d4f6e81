/* SPDX-License-Identifier: MIT */
/*
 * hackernews.c - Hacker News stories and comments matching a query, through the Algolia HN
 * Search API, as an earshot source.
 *
 * One feed per query, named "BASE#QUERY" (e.g. "https://hn.algolia.com#acme"). A poll asks
 * GET {base}/api/v1/search_by_date?query=Q&tags=(story,comment)&hitsPerPage=H
 *     &numericFilters=created_at_i>=LO[,created_at_i<=HI][&page=P]
 * which Algolia answers newest first: {hits[], nbHits, page, nbPages, hitsPerPage, ...}.
 *
 * Cursor: "T" or "T:ID,ID,...", T being the newest `created_at_i` (Unix seconds) seen and the
 * IDs the objectIDs seen at that very second (at most 16). The next poll asks for
 * created_at_i >= min(T, now - overlap): ">=" so that an item created in the same second as
 * the newest one, but indexed after our poll, is not lost; the IDs of the cursor are not
 * emitted again; `overlap` (default 5m) re-reads a few minutes further back for items Algolia
 * indexes late. Those repeats are emitted again and dropped by the core's seen-set, which is
 * what it is for; re-reading is bounded by `overlap` from now, so a quiet query does not
 * re-emit an old item on every poll until the seen-set forgets it. The cursor never moves
 * backwards. The first poll of a feed (no cursor) takes only the newest page: earshot starts
 * listening "now" and does not dig up history; an empty first page starts the cursor at
 * now - overlap.
 *
 * Paging: the results come newest first, so a poll walks backwards in time, from the newest
 * hit down to the cursor. After the first page the window is pinned (created_at_i <= HI, HI
 * being the newest hit) so that items arriving during the walk cannot shift the pages. A full
 * page asks for the next (`page=P+1`) while P+1 < nbPages. Algolia serves at most 1,000 hits
 * of one query (nbPages is capped at 1000/hitsPerPage): when the window ends and nbHits says
 * there is more, the walk narrows the window to end at the oldest hit seen
 * (created_at_i <= OLDEST, page 0) and goes on. At most `max_pages` requests are made per
 * poll; a walk stopped before it reached the cursor calls host->report_gap() with the time
 * range not covered and the reason "1,000-hit window" (the stop came at the end of a
 * truncated window) or "max_pages" (in the middle of one): gaps are recorded, never silent.
 * The cursor is only set when the walk ends, so a walk broken off by a failed request starts
 * again from the old cursor on the next poll (what was emitted already is de-duplicated by
 * the core) instead of leaving a hole behind the newest page. Page tokens are
 * "N:P:LO:HI:FROM:CURSOR": request N of the poll asks page P of the window [LO, HI]; FROM is
 * the old cursor's second (where a gap would start) and CURSOR the one to set at the end.
 *
 * Fields: id "hn:<objectID>" (the HN item id), url https://news.ycombinator.com/item?id=ID,
 * author_handle `author` (Algolia has no display name or follower count); stories (and polls)
 * have `title` as title and `story_text` (HTML) plus the link `url` as text; comments have
 * `comment_text` (HTML) as text and reply_to "hn:<parent_id>" (else the story id); HTML goes
 * through host->html_to_text (entities such as &#x27; decoded, tags dropped); created from
 * `created_at_i` (else `created_at`); points -> likes, num_comments -> replies where given.
 * `_highlightResult` is never used. A body that is not a JSON object with a `hits` array is
 * -EBADMSG (an Algolia error object's message is logged); a hit of the wrong shape is skipped
 * with one warning per page; JSON nesting deeper than 64 is refused before parsing.
 *
 * Error answers (parse_error). Algolia answers errors with {"message": "...", "status": N}. A
 * 400 says the query or its filters are invalid, which only a change of `queries` or `tags`
 * fixes: the feed is blocked, with Algolia's message. A 429 (about 10,000 requests an hour per
 * IP) is retried. Anything else is left to the core.
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

#define HITS_PER_PAGE_MAX 1000         /* Algolia's hitsPerPage cap, and its 1,000-hit window */
#define MAX_PAGES_MAX 50               /* the core follows at most 50 pages of one poll */
#define HITS_MAX 1000                  /* hits looked at in one response */
#define CURSOR_IDS_MAX 16              /* objectIDs kept for the cursor's second */
#define ITEM_ID_MAX 20                 /* digits of an objectID (uint64) */
#define TIME_MAX INT64_C(253402300799) /* 9999-12-31T23:59:59Z */
#define QUERY_MAX 512
#define USEC_PER_SEC INT64_C(1000000)

/* ---- state ----------------------------------------------------------------------------------- */

typedef struct HackerNews {
        const struct earshot_host *host; /* borrowed, valid until destroy */
        char *base;                      /* owned: "https://hn.algolia.com", no trailing '/' */
        char **queries;                  /* owned: trimmed, blanks collapsed */
        char **feeds;                    /* owned: "BASE#QUERY", one per query */
        size_t n_queries;
        char *tags; /* owned: "(story,comment)", or NULL for all types */
        int64_t hits_per_page;
        int64_t max_pages;
        int64_t overlap; /* seconds */
} HackerNews;

static void hackernews_destroy(void *state) {
        HackerNews *hn = state;

        if (!hn)
                return;
        strv_free_n(hn->queries, hn->n_queries);
        strv_free_n(hn->feeds, hn->n_queries);
        free(hn->base);
        free(hn->tags);
        free(hn);
}

static inline void hackernews_destroyp(HackerNews **hn) {
        hackernews_destroy(*hn);
}

/* Appends the tags of one list element ("story, comment" or "story") to *tags. */
static int tags_add(const char *element, char **tags, size_t *n_tags, const char **ret_bad) {
        const char *p = element;

        while (*p) {
                const char *start, *end;
                size_t len;

                while (*p == ',' || char_is_blank(*p))
                        p++;
                if (!*p)
                        break;
                start = p;
                while (*p && *p != ',')
                        p++;
                end = p;
                while (end > start && char_is_blank(end[-1]))
                        end--;
                len = (size_t)(end - start);
                for (size_t i = 0; i < len; i++)
                        if (!char_is_alnum(start[i]) && start[i] != '_' && start[i] != '-') {
                                *ret_bad = element;
                                return -EINVAL;
                        }
                if (len == 0 || len > 64) {
                        *ret_bad = element;
                        return -EINVAL;
                }
                /* a duplicate changes nothing in an OR */
                bool dup = false;
                const char *t = *tags;
                while (t && *t && !dup) {
                        size_t tl = strcspn(t, ",");
                        dup = tl == len && strncmp(t, start, len) == 0;
                        t += tl + (t[tl] == ',');
                }
                if (dup)
                        continue;
                size_t old = *tags ? strlen(*tags) : 0;
                char *n = realloc(*tags, old + len + 2);
                if (!n)
                        return -ENOMEM;
                if (old > 0)
                        n[old++] = ',';
                memcpy(n + old, start, len);
                n[old + len] = 0;
                *tags = n;
                (*n_tags)++;
        }
        return 0;
}

static int hackernews_create(const struct earshot_host *host, const struct earshot_values *vals,
                             char *err, size_t err_len, void **ret_state) {
        _cleanup_(hackernews_destroyp) HackerNews *hn = NULL;
        const struct earshot_value *queries, *tags;
        const char *base;
        int r;

        queries = earshot_value_get(vals, "queries");
        if (!queries || !queries->set || !queries->list || queries->n_list == 0)
                return set_error(err, err_len, "queries: at least one search query is needed");

        hn = calloc(1, sizeof(*hn));
        if (!hn)
                return -ENOMEM;
        hn->host = host;

        base = earshot_value_str(vals, "base_url");
        r = option_base_url("base_url", base ? base : "https://hn.algolia.com", &hn->base, NULL,
                            err, err_len);
        if (r < 0)
                return r;

        hn->queries = calloc(queries->n_list, sizeof(char *));
        hn->feeds = calloc(queries->n_list, sizeof(char *));
        if (!hn->queries || !hn->feeds)
                return -ENOMEM;
        for (size_t i = 0; i < queries->n_list && queries->list[i]; i++) {
                _cleanup_free_ char *q = NULL;
                bool dup = false;
                int kq = query_option("queries", queries->list[i], QUERY_MAX,
                                      "an empty query would follow all of Hacker News; give "
                                      "words to search for",
                                      &q, err, err_len);
                if (kq < 0)
                        return kq;
                /* Algolia matches case-insensitively: "Acme" and "acme" are one feed */
                for (size_t j = 0; j < hn->n_queries && !dup; j++)
                        dup = strcasecmp(hn->queries[j], q) == 0;
                if (dup)
                        continue;
                hn->feeds[hn->n_queries] = strjoin(hn->base, "#", q);
                if (!hn->feeds[hn->n_queries])
                        return -ENOMEM;
                hn->queries[hn->n_queries++] = q;
                q = NULL;
        }
        if (hn->n_queries == 0)
                return set_error(err, err_len, "queries: the list is empty");

        tags = earshot_value_get(vals, "tags");
        size_t n_tags = 0;
        _cleanup_free_ char *tag_list = NULL;
        for (size_t i = 0; tags && tags->set && tags->list && i < tags->n_list && tags->list[i];
             i++) {
                const char *bad = NULL;
                r = tags_add(tags->list[i], &tag_list, &n_tags, &bad);
                if (r == -EINVAL)
                        return set_error(err, err_len,
                                         "tags: '%s' is not a list of Algolia tags (story, "
                                         "comment, poll, pollopt, show_hn, ask_hn, front_page, "
                                         "author_NAME, story_ID)",
                                         bad);
                if (r < 0)
                        return r;
        }
        if (n_tags > 0) {
                /* "(a,b)" is an OR in Algolia's tag syntax; a bare "a,b" would be an AND */
                hn->tags = strjoin("(", tag_list, ")");
                if (!hn->tags)
                        return -ENOMEM;
        }

        r = option_int(vals, "hits_per_page", 100, 1, HITS_PER_PAGE_MAX, &hn->hits_per_page, err,
                       err_len);
        if (r < 0)
                return r;
        r = option_int(vals, "max_pages", 10, 1, MAX_PAGES_MAX, &hn->max_pages, err, err_len);
        if (r < 0)
                return r;
        int64_t overlap = earshot_value_num(vals, "overlap", 5 * 60 * USEC_PER_SEC);
        if (overlap < 0 || overlap > 7 * 24 * 3600 * USEC_PER_SEC)
                return set_error(err, err_len, "overlap: more than a week (7d) makes no sense");
        hn->overlap = overlap / USEC_PER_SEC;

        *ret_state = hn;
        hn = NULL;
        return 0;
}

static const char *hackernews_feed(void *state, uint32_t i) {
        HackerNews *hn = state;
        return i < hn->n_queries ? hn->feeds[i] : NULL;
}

/* ---- cursor and page tokens ------------------------------------------------------------------ */

typedef struct Cursor {
        int64_t t; /* newest created_at_i seen; -1: none */
        size_t n_ids;
        char ids[CURSOR_IDS_MAX][ITEM_ID_MAX + 1]; /* objectIDs created at second t */
} Cursor;

#define CURSOR_NULL ((Cursor){.t = -1})

static bool cursor_has_id(const Cursor *c, const char *id) {
        for (size_t i = 0; i < c->n_ids; i++)
                if (strcmp(c->ids[i], id) == 0)
                        return true;
        return false;
}

/* Takes (t, id) into the cursor if it is newer than, or as new as, what the cursor holds. */
static void cursor_take(Cursor *c, int64_t t, const char *id) {
        if (t < 0 || t < c->t)
                return;
        if (t > c->t) {
                c->t = t;
                c->n_ids = 0;
        }
        if (!id || cursor_has_id(c, id) || c->n_ids >= CURSOR_IDS_MAX)
                return; /* more items in one second than we keep: the seen-set copes */
        strcpy(c->ids[c->n_ids++], id);
}

/* "T" or "T:ID,ID". The whole string must be used; -EINVAL otherwise. */
static int cursor_parse(const char *s, Cursor *ret) {
        Cursor c = CURSOR_NULL;
        const char *p = s;
        int r;

        r = parse_num(&p, TIME_MAX, &c.t);
        if (r < 0)
                return r;
        if (*p == ':') {
                if (!*++p)
                        return -EINVAL;
                while (*p) {
                        size_t len = 0;
                        while (p[len] >= '0' && p[len] <= '9')
                                len++;
                        if (len == 0 || len > ITEM_ID_MAX)
                                return -EINVAL;
                        if (c.n_ids < CURSOR_IDS_MAX) {
                                memcpy(c.ids[c.n_ids], p, len);
                                c.ids[c.n_ids++][len] = 0;
                        }
                        p += len;
                        if (*p == ',' && p[1])
                                p++;
                        else if (*p)
                                return -EINVAL;
                }
        }
        if (*p)
                return -EINVAL;
        *ret = c;
        return 0;
}

/* Longest formatted cursor: 12 digits, ':', 16 ids of 20 digits with commas, NUL. */
#define CURSOR_STRLEN (12 + 1 + CURSOR_IDS_MAX * (ITEM_ID_MAX + 1) + 1)

static void cursor_format(const Cursor *c, char buf[static CURSOR_STRLEN]) {
        char *o = buf + sprintf(buf, "%" PRId64, c->t);

        for (size_t i = 0; i < c->n_ids; i++)
                o += sprintf(o, "%c%s", i == 0 ? ':' : ',', c->ids[i]);
}

typedef struct Walk {
        int64_t n;    /* this is request n of the poll (1-based) */
        int64_t page; /* Algolia page (0-based) within the window */
        int64_t lo;   /* window: created_at_i >= lo */
        int64_t hi;   /* ... and <= hi; -1 before it is pinned */
        int64_t from; /* the old cursor's second: where a gap would start */
        Cursor top;   /* the cursor to set when the walk ends */
} Walk;

static int walk_parse(const char *s, Walk *ret) {
        Walk w = {0};
        const char *p = s;

        if (parse_num(&p, MAX_PAGES_MAX, &w.n) < 0 || w.n < 2 || *p++ != ':' ||
            parse_num(&p, HITS_PER_PAGE_MAX, &w.page) < 0 || *p++ != ':' ||
            parse_num(&p, TIME_MAX, &w.lo) < 0 || *p++ != ':' ||
            parse_num(&p, TIME_MAX, &w.hi) < 0 || *p++ != ':' ||
            parse_num(&p, TIME_MAX, &w.from) < 0 || *p++ != ':' || cursor_parse(p, &w.top) < 0)
                return -EINVAL;
        if (w.lo > w.hi)
                return -EINVAL;
        *ret = w;
        return 0;
}

/* ---- requests -------------------------------------------------------------------------------- */

static int64_t now_sec(const HackerNews *hn) {
        int64_t now = hn->host->now_usec(hn->host);
        return now > 0 ? now / USEC_PER_SEC : 0;
}

/* Where a poll that starts from cursor c reads from: the cursor's second, or `overlap` before
 * now if that is earlier. */
static int64_t start_of(const HackerNews *hn, const Cursor *c) {
        int64_t lo = now_sec(hn) - hn->overlap;
        return lo < c->t ? (lo > 0 ? lo : 0) : c->t;
}

static int hackernews_build_request(void *state, uint32_t i, const char *cursor, const char *page,
                                    struct earshot_request *req) {
        HackerNews *hn = state;
        const struct earshot_host *h = hn->host;
        char filters[80] = "", num[32], pg[32] = "";
        Cursor c;
        Walk w;
        int r;

        if (i >= hn->n_queries)
                return -EINVAL;
        if (page) {
                r = walk_parse(page, &w);
                if (r < 0)
                        return r;
                (void)snprintf(filters, sizeof(filters),
                               "created_at_i>=%" PRId64 ",created_at_i<=%" PRId64, w.lo, w.hi);
                if (w.page > 0)
                        (void)snprintf(pg, sizeof(pg), "&page=%" PRId64, w.page);
        } else if (cursor && cursor_parse(cursor, &c) >= 0)
                (void)snprintf(filters, sizeof(filters), "created_at_i>=%" PRId64,
                               start_of(hn, &c));
        /* a cursor we cannot read starts the feed afresh; parse_response says so */

        (void)snprintf(num, sizeof(num), "%" PRId64, hn->hits_per_page);
        _cleanup_free_ char *q = url_encode(hn->queries[i]);
        _cleanup_free_ char *t = hn->tags ? url_encode(hn->tags) : NULL;
        _cleanup_free_ char *f = *filters ? url_encode(filters) : NULL;
        if (!q || (hn->tags && !t) || (*filters && !f))
                return -ENOMEM;
        _cleanup_free_ char *url =
                strjoin(hn->base, "/api/v1/search_by_date?query=", q, t ? "&tags=" : "", t ? t : "",
                        "&hitsPerPage=", num, f ? "&numericFilters=" : "", f ? f : "", pg);
        if (!url)
                return -ENOMEM;

        return request_get(h, req, url, "application/json");
}

/* ---- JSON ------------------------------------------------------------------------------------ */

/*
 * An item id, given as a string of digits (objectID) or an integral number (parent_id), into
 * buf. Returns false when there is none.
 */
static bool json_item_id(const cJSON *obj, const char *key, char buf[static ITEM_ID_MAX + 1]) {
        const cJSON *j = json_get(obj, key);

        if (cJSON_IsString(j) && j->valuestring) {
                size_t len = strlen(j->valuestring);
                if (len > ITEM_ID_MAX || !is_digits(j->valuestring, len))
                        return false;
                memcpy(buf, j->valuestring, len + 1);
                return true;
        }
        int64_t n = json_int(obj, key, JSON_INT_MAX);
        if (n < 0)
                return false;
        (void)snprintf(buf, ITEM_ID_MAX + 1, "%" PRId64, n);
        return true;
}

/* ---- hits ------------------------------------------------------------------------------------ */

static bool hit_has_tag(const cJSON *hit, const char *tag) {
        const cJSON *tags = json_get(hit, "_tags"), *t;

        if (!cJSON_IsArray(tags))
                return false;
        cJSON_ArrayForEach(t, tags) if (cJSON_IsString(t) && t->valuestring &&
                                        strcmp(t->valuestring, tag) == 0) return true;
        return false;
}

/* The hit's creation second, or -1. */
static int64_t hit_time(const HackerNews *hn, const cJSON *hit) {
        int64_t t = json_int(hit, "created_at_i", TIME_MAX), usec;
        const char *s;

        if (t >= 0)
                return t;
        s = json_nstr(hit, "created_at");
        if (s && hn->host->parse_time(s, &usec) >= 0 && usec >= 0 &&
            usec / USEC_PER_SEC <= TIME_MAX)
                return usec / USEC_PER_SEC;
        return -1;
}

/* HTML to plain text; NULL on OOM. */
static char *html_text(const HackerNews *hn, const char *html) {
        return hn->host->html_to_text(html, strlen(html));
}

/*
 * Emits one hit whose objectID is `id` and creation second `t` (-1: unknown). Returns 0 when
 * emitted, 1 when the hit is not usable (the reason in *why), or a negative errno.
 */
static int hit_emit(HackerNews *hn, const cJSON *hit, const char *id, int64_t t,
                    struct earshot_sink *sink, const char **why) {
        const struct earshot_host *h = hn->host;
        _cleanup_free_ char *text = NULL, *post_id = NULL, *url = NULL, *reply_to = NULL;
        const char *title = NULL;
        char parent[ITEM_ID_MAX + 1];
        bool comment;

        /* Algolia tags every record with its type; fall back on the fields for odd ones */
        if (hit_has_tag(hit, "comment"))
                comment = true;
        else if (hit_has_tag(hit, "story") || hit_has_tag(hit, "poll") ||
                 hit_has_tag(hit, "pollopt"))
                comment = false;
        else
                comment = !json_nstr(hit, "title") && json_nstr(hit, "comment_text");

        if (comment) {
                const char *html = json_nstr(hit, "comment_text");
                if (!html) {
                        *why = "a comment without comment_text";
                        return 1;
                }
                text = html_text(hn, html);
                if (!text)
                        return -ENOMEM;
                if (json_item_id(hit, "parent_id", parent) ||
                    json_item_id(hit, "story_id", parent)) {
                        reply_to = strjoin("hn:", parent);
                        if (!reply_to)
                                return -ENOMEM;
                }
        } else {
                const char *html = json_nstr(hit, "story_text"), *link = json_nstr(hit, "url");
                _cleanup_free_ char *body = NULL;

                title = json_nstr(hit, "title");
                if (html) {
                        body = html_text(hn, html);
                        if (!body)
                                return -ENOMEM;
                }
                if (!title && !(body && *body)) {
                        *why = "a story without title or text";
                        return 1;
                }
                /* the text, then the link: a story is often nothing but a title and a link */
                if (body && *body && link)
                        text = strjoin(body, "\n", link);
                else if (link)
                        text = strdup(link);
                else
                        text = strdup(body ? body : "");
                if (!text)
                        return -ENOMEM;
        }

        post_id = strjoin("hn:", id);
        url = strjoin("https://news.ycombinator.com/item?id=", id);
        if (!post_id || !url)
                return -ENOMEM;

        struct earshot_post post = {
                .size = sizeof(post),
                .id = post_id,
                .network = "hackernews",
                .url = url,
                .text = text,
                .author_handle = json_nstr(hit, "author"),
                .author_name = NULL,
                .author_followers = -1,
                .lang = NULL,
                .created_usec = t >= 0 ? t * USEC_PER_SEC : 0,
                .replies = json_int(hit, "num_comments", JSON_INT_MAX),
                .reposts = -1,
                .likes = json_int(hit, "points", JSON_INT_MAX),
                .title = title,
                .reply_to = reply_to,
                .rating = 0,
                .edited_usec = 0,
        };
        return h->emit_post(sink, &post);
}

/* ---- responses ------------------------------------------------------------------------------- */

static int set_cursor_if_new(HackerNews *hn, struct earshot_sink *sink, const char *old,
                             const Cursor *c) {
        char buf[CURSOR_STRLEN];

        if (c->t < 0)
                return 0;
        cursor_format(c, buf);
        if (old && strcmp(old, buf) == 0)
                return 0;
        return hn->host->set_cursor(sink, buf);
}

/* The walk stops short of the cursor: record what it could not cover. */
static int report_gap(HackerNews *hn, const char *feed, struct earshot_sink *sink, int64_t from,
                      int64_t to, const char *reason) {
        const struct earshot_host *h = hn->host;

        if (to <= from)
                return 0; /* what is left is older than the cursor: nothing missed */
        if (EARSHOT_HOST_HAS(h, report_gap))
                return h->report_gap(sink, from * USEC_PER_SEC, to * USEC_PER_SEC, reason);
        /* a core from before report_gap: at least say so */
        h->log(h, EARSHOT_LOG_WARNING,
               "%s: coverage gap (%s): items created between %" PRId64 " and %" PRId64
               " (Unix time) may be missed",
               feed, reason, from, to);
        return 0;
}

static int hackernews_parse_response(void *state, uint32_t i, const char *cursor, const char *page,
                                     const struct earshot_response *resp,
                                     struct earshot_sink *sink) {
        HackerNews *hn = state;
        const struct earshot_host *h = hn->host;
        _cleanup_(cJSON_Deletep) cJSON *root = NULL;
        const cJSON *hits;
        Cursor old = CURSOR_NULL;
        bool have_cursor = false;
        Walk w;
        int r;

        if (i >= hn->n_queries)
                return -EINVAL;
        const char *feed = hn->feeds[i];

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
                               "newest hits",
                               feed, cursor);
        }
        if (!page) {
                w = (Walk){.n = 1, .page = 0, .hi = -1, .top = old};
                w.from = w.lo = have_cursor ? start_of(hn, &old) : 0;
                if (have_cursor)
                        w.from = old.t;
        }

        r = json_parse_response(h, feed, resp, &root);
        if (r < 0)
                return r;
        hits = json_get(root, "hits");
        if (!cJSON_IsArray(hits)) {
                const char *message = json_nstr(root, "message");
                h->log(h, EARSHOT_LOG_ERR,
                       "%s: expected an object with a \"hits\" array, got %s%s%.200s%s", feed,
                       cJSON_IsObject(root) ? "an object" : "another JSON value",
                       message ? " (message: \"" : "", message ? message : "",
                       message ? "\")" : "");
                return -EBADMSG;
        }
        int64_t nb_pages = json_int(root, "nbPages", INT64_C(1) << 40);
        int64_t nb_hits = json_int(root, "nbHits", JSON_INT_MAX);

        size_t n = 0;
        const cJSON *items[HITS_MAX];
        for (const cJSON *hit = hits->child; hit; hit = hit->next) {
                if (n == HITS_MAX) {
                        h->log(h, EARSHOT_LOG_WARNING,
                               "%s: more than %d hits in one response; looking at the first %d",
                               feed, HITS_MAX, HITS_MAX);
                        break;
                }
                items[n++] = hit;
        }

        /* newest first on the wire; emit oldest first */
        int64_t oldest = -1;
        Skipped skipped = {0};
        for (size_t k = n; k > 0; k--) {
                const cJSON *hit = items[k - 1];
                char id[ITEM_ID_MAX + 1];
                const char *why = NULL;
                int64_t t;

                if (!cJSON_IsObject(hit))
                        why = "not an object";
                else if (!json_item_id(hit, "objectID", id))
                        why = "no objectID of digits";
                if (why) {
                        skipped_add(&skipped, k - 1, why);
                        continue;
                }
                t = hit_time(hn, hit);
                if (t >= 0) {
                        cursor_take(&w.top, t, id);
                        if (oldest < 0 || t < oldest)
                                oldest = t;
                }
                /* seen at the cursor's second by the last poll */
                if (have_cursor && cursor_has_id(&old, id))
                        continue;
                r = hit_emit(hn, hit, id, t, sink, &why);
                if (r < 0)
                        return r;
                if (r > 0)
                        skipped_add(&skipped, k - 1, why);
        }
        skipped_log(&skipped, h, feed, n, "hits that are not valid items", "hit");

        /* The first poll of a feed takes the newest page only: no history digging. */
        if (!have_cursor && !page) {
                if (w.top.t < 0) {
                        /* nothing yet: listen from now on */
                        int64_t start = now_sec(hn) - hn->overlap;
                        w.top = (Cursor){.t = start > 0 ? start : 0};
                }
                return set_cursor_if_new(hn, sink, cursor, &w.top);
        }

        bool full = (int64_t)n >= hn->hits_per_page;
        bool more = full && (nb_pages < 0 || w.page + 1 < nb_pages);
        /* the window ended but Algolia counts more hits than it would serve: 1,000-hit cap */
        bool truncated = !more && full && nb_hits > (w.page + 1) * hn->hits_per_page;
        if ((!more && !truncated) || w.top.t < 0)
                return set_cursor_if_new(hn, sink, cursor, &w.top);

        int64_t hi = w.hi >= 0 ? w.hi : w.top.t; /* pin the window at the newest hit */
        bool narrow = truncated && oldest >= 0 && oldest < hi;
        if (w.n >= hn->max_pages || (truncated && !narrow)) {
                r = report_gap(hn, feed, sink, w.from, oldest >= 0 ? oldest : hi,
                               truncated ? "1,000-hit window" : "max_pages");
                if (r < 0)
                        return r;
                h->log(h, EARSHOT_LOG_INFO, "%s: stopped after %" PRId64 " request%s (%s)", feed,
                       w.n, w.n == 1 ? "" : "s",
                       truncated ? "Algolia serves 1,000 hits of a query" : "max_pages");
                return set_cursor_if_new(hn, sink, cursor, &w.top);
        }

        Walk next = w;
        next.n = w.n + 1;
        if (more) {
                next.page = w.page + 1;
                next.hi = hi;
        } else {
                /* narrow the window to what the 1,000 hits did not reach */
                next.page = 0;
                next.hi = oldest;
        }
        if (next.lo > next.hi)
                next.lo = next.hi;

        char token[5 * 24 + CURSOR_STRLEN], top[CURSOR_STRLEN];
        cursor_format(&next.top, top);
        (void)snprintf(token, sizeof(token),
                       "%" PRId64 ":%" PRId64 ":%" PRId64 ":%" PRId64 ":%" PRId64 ":%s", next.n,
                       next.page, next.lo, next.hi, next.from, top);
        r = h->next_page(sink, token);
        if (r < 0)
                return r;
        return EARSHOT_MORE;
}

/* ---- error answers --------------------------------------------------------------------------- */

static int hackernews_parse_error(void *state, uint32_t i, const char *cursor, const char *page,
                                  const struct earshot_response *resp, struct earshot_sink *sink) {
        HackerNews *hn = state;
        const struct earshot_host *h = hn->host;
        _cleanup_(cJSON_Deletep) cJSON *root = NULL;
        const char *why = NULL, *message = NULL;
        char buf[240], said[260] = "";

        if (i >= hn->n_queries)
                return -EINVAL;
        const char *feed = hn->feeds[i];
        if (json_load(resp, &root, &why) == 0 && (message = json_nstr(root, "message")))
                (void)snprintf(said, sizeof(said), ": %s",
                               text_oneline(buf, sizeof(buf), message, NULL));

        switch (resp->status) {
        case 400:
                return source_fail(h, sink, feed, EARSHOT_BLOCKED,
                                   "Algolia refused the search (HTTP 400%s); check `queries` and "
                                   "`tags`",
                                   said);
        case 429:
                return source_fail(h, sink, feed, EARSHOT_RETRY,
                                   "Algolia's rate limit (HTTP 429%s; about 10,000 requests an "
                                   "hour per IP): a longer `interval` or fewer queries help",
                                   said);
        }
        return SOURCE_ERROR_GENERIC;
}

static const struct earshot_option hackernews_options[] = {
        {"queries", EARSHOT_OPT_STRLIST, EARSHOT_OPT_REQUIRED, NULL,
         "search queries (Algolia full text, e.g. \"acme\"); one feed per query"},
        {"tags", EARSHOT_OPT_STRLIST, 0, "story,comment",
         "item types, any of: story, comment, poll, pollopt, show_hn, ask_hn, front_page, "
         "author_NAME, story_ID"},
        {"hits_per_page", EARSHOT_OPT_INT, 0, "100", "hits per request, 1..1000"},
        {"max_pages", EARSHOT_OPT_INT, 0, "10",
         "requests per feed and poll at most, 1..50; a poll stopped before the cursor records a "
         "coverage gap"},
        {"overlap", EARSHOT_OPT_DURATION, 0, "5m",
         "also re-read hits this much older than the newest seen, for items indexed late "
         "(repeats are dropped)"},
        {"base_url", EARSHOT_OPT_URL, 0, "https://hn.algolia.com",
         "Algolia HN Search API base URL (https://, or http:// on loopback)"},
        {.name = NULL},
};

static const struct earshot_source_ops hackernews_ops = {
        .size = sizeof(struct earshot_source_ops),
        .create = hackernews_create,
        .destroy = hackernews_destroy,
        .feed = hackernews_feed,
        .build_request = hackernews_build_request,
        .parse_response = hackernews_parse_response,
        .parse_error = hackernews_parse_error,
};

EARSHOT_PLUGIN_DEFINE(.kind = EARSHOT_PLUGIN_SOURCE, .name = "hackernews",
                      .description = "Hacker News stories and comments matching a query "
                                     "(Algolia HN Search)",
                      .options = hackernews_options, .source = &hackernews_ops);
