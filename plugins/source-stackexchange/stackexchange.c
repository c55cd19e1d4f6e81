/* SPDX-License-Identifier: MIT */
/*
 * stackexchange.c - questions on Stack Exchange sites (Stack Overflow, Super User, ...) as an
 * earshot source, through the Stack Exchange API 2.3.
 *
 * Feeds. One per site and query, named "SITE?q=QUERY" (or "SITE" without `queries`: every new
 * question, narrowed by `tagged`). Every request is
 * GET {base_url}/2.3/search/advanced?site=SITE[&q=QUERY][&tagged=A;B]&sort=creation&...
 * &pagesize=100&filter=FILTER. The body carries the quota and the throttle:
 * `backoff: N` ("wait N seconds before hitting the same method again") becomes set_backoff(N s)
 * and ends the poll; `quota_remaining` below 10 warns once a day and pauses the source until the
 * quota resets at 00:00 UTC. Bodies arrive decompressed (the core's libcurl asks for and decodes
 * gzip).
 *
 * Errors. The API answers errors with HTTP 400 and {"error_id", "error_name", "error_message"}
 * (api.stackexchange.com/docs/error-handling), read by parse_error() (and by parse_response(),
 * should one come with a 200): 502 throttle_violation ("... more requests available in 82
 * seconds") pauses the source that long (60 s when the message does not say) and is retried;
 * 500 internal_error and 503 temporarily_unavailable are retried; 400 bad_parameter, 404
 * no_method and the key and token errors (401, 402, 403 access_denied, 405, 406) block the feed
 * until the options are fixed. The explanation quotes the API's message, with the key, should
 * the message name it, replaced by "***". Any other answer is left to the core.
 *
 * Cursor. "T" or "T;resume": T is the newest creation_date seen, in epoch seconds
 * ("1785592555"). The first poll of a feed asks order=desc and takes the newest page only
 * (earshot starts listening now; an empty first page starts the cursor at the present). Later
 * polls walk forwards in time: order=asc&fromdate=FROM&page=N, and every page moves the cursor
 * to its newest question. fromdate is inclusive and creation_date has one-second resolution, so
 * `fromdate = T + 1` would drop a question created in the cursor's second after the last poll
 * saw that second; a poll that follows a complete walk asks again from `T - overlap` instead,
 * which re-reads that second and also covers questions that reach the search index late. A
 * walk that stops before its end (max_pages, a backoff, the quota, a failed request) leaves
 * ";resume" in the cursor, and the next poll goes on from T itself: everything before T was
 * read by that walk, and re-reading the overlap on top of it could fill whole pages with what
 * was seen already. What is read twice is not new to the core (it remembers the posts it has
 * seen), and questions older than fromdate are dropped here too, so a server that ignores
 * fromdate cannot replay history; the re-reading is limited to questions less than a day old,
 * so a quiet feed does not hand its newest question over again once the core has forgotten it
 * (store.seen_retention).
 *
 * Paging. Page tokens are "N:FROMDATE:COUNTED:PREV": page N of a walk that started at FROMDATE,
 * COUNTED the pages so far that held a question newer than the cursor (only those count toward
 * `max_pages`: a page of the overlap read again costs a request but no progress), PREV the
 * newest creation_date of page N-1. One walk pages through one fixed result set; new questions
 * only append to its end (ascending order), which cannot shift a page. A page whose oldest
 * question is older than PREV went backwards: the server ignores page=, and the walk stops; a
 * page entirely before fromdate means it ignores fromdate=. Either is warned about once until
 * a walk ends normally again. A walk makes at most EARSHOT_MAX_PAGES_PER_POLL requests.
 *
 * Fields. id "SITE/q/QUESTION_ID" ("SITE/a/ANSWER_ID" for an answer, whose reply_to is its
 * question's id); url = link; title = title and text = body, both HTML through html_to_text
 * (the API's "safe" filters escape entities even in titles and names); author_handle and
 * author_name = owner.display_name (Stack Exchange has no handles); followers -1 (reputation is
 * not a follower count); likes = score (negative scores as 0); replies = answer_count +
 * comment_count, as far as the filter includes them; created = creation_date, edited =
 * last_edit_date; lang only for the localised Stack Overflows (ru., es., pt., ja.), whose posts
 * must be in that language. The default filter, "withbody", includes the body; a filter without
 * it leaves only titles to match, with one warning (again only once the bodies were back).
 *
 * Limits. A body that is not the API's wrapper object is -EBADMSG after one error line; JSON
 * deeper than 64 levels and pages of more than 1000 items are refused; a malformed item is
 * skipped with one warning a page. The app key travels as "Authorization: Bearer KEY" (since
 * June 2026 the API no longer takes it as a query parameter), so it never shows in a URL, a
 * log line or a feed name; Stack Exchange does not treat app keys as secrets, but the option
 * is marked secret all the same.
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

#define MAX_PAGES_MAX 25        /* 2,500 questions a poll */
#define MAX_ITEMS_PER_PAGE 1000 /* the API sends at most 100 */
#define MAX_QUERY_LEN 500
#define PAGE_SIZE 100
#define QUOTA_LOW 10
#define USEC_PER_SEC INT64_C(1000000)
#define USEC_PER_DAY (INT64_C(86400) * USEC_PER_SEC)
#define MAX_EPOCH INT64_C(32503680000) /* year 3000: anything later is not a date */
#define REREAD_MAX INT64_C(86400)      /* seconds: the overlap re-reads questions this young only */

/* ---- state ---------------------------------------------------------------------------------- */

typedef struct Feed {
        size_t site;       /* index into StackExchange::sites */
        const char *query; /* borrowed from StackExchange::queries; NULL = every question */
        char *name;        /* owned: "stackoverflow?q=acme" or "stackoverflow" */
        /* warnings given, not repeated while the condition lasts (a poll every minute would
         * repeat them every minute) */
        bool warned_walk;    /* the server ignores page= or fromdate= */
        bool warned_no_body; /* the filter leaves out the bodies */
} Feed;

typedef struct StackExchange {
        const struct earshot_host *host; /* borrowed, valid until destroy */
        char *base;                      /* owned: "https://api.stackexchange.com" */
        char **sites;                    /* owned: API site names, lowercased */
        size_t n_sites;
        char **queries; /* owned */
        size_t n_queries;
        char *tagged;        /* owned: "a;b", or NULL */
        char *filter;        /* owned */
        char *authorization; /* owned, secret: "Bearer KEY", or NULL */
        Feed *feeds;         /* owned: sites x queries, or one per site */
        size_t n_feeds;
        int64_t max_pages;
        int64_t overlap_sec;
        int64_t quota_warned_day; /* the UTC day (days since the epoch) of the last quota warning */
} StackExchange;

static void stackexchange_destroy(void *state) {
        StackExchange *s = state;

        if (!s)
                return;
        free(s->base);
        strv_free_n(s->sites, s->n_sites);
        strv_free_n(s->queries, s->n_queries);
        free(s->tagged);
        free(s->filter);
        if (s->authorization) {
                explicit_bzero(s->authorization, strlen(s->authorization));
                free(s->authorization);
        }
        for (size_t i = 0; i < s->n_feeds; i++)
                free(s->feeds[i].name);
        free(s->feeds);
        free(s);
}

static inline void stackexchange_destroyp(StackExchange **s) {
        stackexchange_destroy(*s);
}

/* Whether every byte of s is in the set (plus ASCII letters and digits); s must be non-empty. */
static bool chars_ok(const char *s, const char *extra) {
        if (!*s)
                return false;
        for (; *s; s++)
                if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
                      (*s >= '0' && *s <= '9') || (*s && strchr(extra, *s))))
                        return false;
        return true;
}

static int stackexchange_create(const struct earshot_host *host, const struct earshot_values *vals,
                                char *err, size_t err_len, void **ret_state) {
        _cleanup_(stackexchange_destroyp) StackExchange *s = NULL;
        const struct earshot_value *sites, *queries, *tagged;
        const char *error = NULL, *base, *filter, *key;
        int r;

        sites = list_value(vals, "sites");
        if (!sites)
                return set_error(err, err_len,
                                 "sites: at least one site is needed (e.g. stackoverflow)");
        queries = list_value(vals, "queries");
        tagged = list_value(vals, "tagged");

        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->host = host;
        s->quota_warned_day = -1;
        s->sites = calloc(sites->n_list, sizeof(char *));
        s->queries = calloc(queries ? queries->n_list : 1, sizeof(char *));
        if (!s->sites || !s->queries)
                return -ENOMEM;

        base = earshot_value_str(vals, "base_url");
        r = option_base_url("base_url", base ? base : "https://api.stackexchange.com", &s->base,
                            NULL, err, err_len);
        if (r < 0)
                return r;

        for (size_t i = 0; i < sites->n_list && sites->list[i]; i++) {
                const char *site = sites->list[i];
                /* "stackoverflow", "ru.stackoverflow", "math.stackexchange.com", ... */
                if (strlen(site) > 100 || !chars_ok(site, ".-") || site[0] == '.' || site[0] == '-')
                        return set_error(err, err_len,
                                         "sites: '%.100s' is not a site name as the API knows "
                                         "it (e.g. stackoverflow, superuser, ru.stackoverflow)",
                                         site);
                char *c = strdup(site);
                if (!c)
                        return -ENOMEM;
                list_add_unique(s->sites, &s->n_sites, ascii_lower(c));
        }
        for (size_t i = 0; queries && i < queries->n_list && queries->list[i]; i++) {
                char *q = NULL;
                r = query_trim(queries->list[i], MAX_QUERY_LEN, &q, &error);
                if (r == -EINVAL)
                        return set_error(err, err_len, "queries: '%.80s' %s", queries->list[i],
                                         error);
                if (r < 0)
                        return r;
                list_add_unique(s->queries, &s->n_queries, q);
        }
        if (s->n_sites == 0)
                return set_error(err, err_len, "sites: the list is empty");

        /* tags: lowercase letters, digits and + # . - (as the sites allow); joined with ';' */
        for (size_t i = 0; tagged && i < tagged->n_list && tagged->list[i]; i++) {
                const char *t = tagged->list[i];
                if (strlen(t) > 35 || !chars_ok(t, "+#.-"))
                        return set_error(err, err_len,
                                         "tagged: '%.40s' is not a tag (letters, digits and "
                                         "+ # . - only, 35 at most)",
                                         t);
                char *joined = s->tagged ? strjoin(s->tagged, ";", t) : strdup(t);
                if (!joined)
                        return -ENOMEM;
                free(s->tagged);
                s->tagged = ascii_lower(joined);
        }
        if (tagged && tagged->n_list > 5)
                return set_error(err, err_len, "tagged: the API takes 5 tags at most, not %zu",
                                 tagged->n_list);

        filter = earshot_value_str(vals, "filter");
        if (!filter)
                filter = "withbody";
        if (strlen(filter) > 100 || !chars_ok(filter, "!()*-._"))
                return set_error(err, err_len, "filter: '%.40s' is not a filter name", filter);
        s->filter = strdup(filter);
        if (!s->filter)
                return -ENOMEM;

        key = earshot_value_str(vals, "key");
        if (key && *key) {
                /* never echo the value: it is kept out of logs and dumps */
                if (strlen(key) > 200 || !chars_ok(key, "()*-._~+/="))
                        return set_error(err, err_len,
                                         "key: not an app key (letters, digits and -._~+/=() "
                                         "only)");
                s->authorization = strjoin("Bearer ", key);
                if (!s->authorization)
                        return -ENOMEM;
        }

        r = option_int(vals, "max_pages", 5, 1, MAX_PAGES_MAX, &s->max_pages, err, err_len);
        if (r < 0)
                return r;
        int64_t overlap = earshot_value_num(vals, "overlap", 120 * USEC_PER_SEC);
        if (overlap < 0 || overlap > USEC_PER_DAY)
                return set_error(err, err_len, "overlap: must be between 0s and 1d");
        s->overlap_sec = overlap / USEC_PER_SEC;

        size_t per_site = s->n_queries > 0 ? s->n_queries : 1;
        s->feeds = calloc(s->n_sites * per_site, sizeof(Feed));
        if (!s->feeds)
                return -ENOMEM;
        for (size_t i = 0; i < s->n_sites; i++)
                for (size_t q = 0; q < per_site; q++) {
                        Feed *f = &s->feeds[s->n_feeds];

                        f->site = i;
                        f->query = s->n_queries > 0 ? s->queries[q] : NULL;
                        f->name = f->query ? strjoin(s->sites[i], "?q=", f->query)
                                           : strdup(s->sites[i]);
                        if (!f->name)
                                return -ENOMEM;
                        s->n_feeds++;
                }

        *ret_state = s;
        s = NULL;
        return 0;
}

static const char *stackexchange_feed(void *state, uint32_t i) {
        StackExchange *s = state;
        return i < s->n_feeds ? s->feeds[i].name : NULL;
}

/* ---- cursors and page tokens ---------------------------------------------------------------- */

/* Parse a decimal epoch second count 0..MAX_EPOCH; -EINVAL for anything else. */
static int parse_epoch(const char *s, size_t n, int64_t *ret) {
        int64_t v;

        if (parse_digits(s, n, 12, &v) < 0 || v > MAX_EPOCH)
                return -EINVAL;
        *ret = v;
        return 0;
}

/* The cursor, as this plugin writes it: "T" after a complete walk, "T;resume" after one cut
 * short. */
#define CURSOR_RESUME ";resume"

typedef struct Cursor {
        int64_t t;   /* the newest creation_date seen; -1: no cursor (or one not ours) */
        bool resume; /* the last walk stopped early: go on from t itself */
} Cursor;

static Cursor cursor_parse(const char *cursor) {
        const size_t rl = sizeof(CURSOR_RESUME) - 1;
        Cursor c = {.t = -1};
        size_t n;

        if (!cursor)
                return c;
        n = strlen(cursor);
        if (n > rl && strcmp(cursor + n - rl, CURSOR_RESUME) == 0) {
                c.resume = true;
                n -= rl;
        }
        if (parse_epoch(cursor, n, &c.t) < 0)
                return (Cursor){.t = -1};
        return c;
}

/* Hands the cursor (t, resume) to the core unless it is the one the feed has. */
static int cursor_commit(const StackExchange *s, struct earshot_sink *sink, const char *old,
                         int64_t t, bool resume) {
        char buf[48];

        if (t < 0)
                return 0;
        (void)snprintf(buf, sizeof(buf), "%" PRId64 "%s", t, resume ? CURSOR_RESUME : "");
        if (old && strcmp(old, buf) == 0)
                return 0;
        return s->host->set_cursor(sink, buf);
}

/*
 * Where a poll stands: the first poll of a feed (no cursor) reads the newest page, newest
 * first; every other request reads page N, oldest first, from FROMDATE. Page tokens are
 * "N:FROMDATE:COUNTED:PREV" (see the top of the file).
 */
typedef struct Walk {
        bool first;
        int64_t n, fromdate;
        int64_t counted; /* pages before this one that counted toward max_pages */
        int64_t prev;    /* the newest creation_date of the page before; 0: none */
} Walk;

/* "N:FROMDATE:COUNTED:PREV", N in 2..EARSHOT_MAX_PAGES_PER_POLL, COUNTED below N. */
static int page_parse(const char *token, Walk *ret) {
        int64_t v[4];
        const char *p = token;

        for (size_t k = 0; k < 4; k++) {
                size_t n = strspn(p, "0123456789");
                if (parse_epoch(p, n, &v[k]) < 0 || p[n] != (k < 3 ? ':' : 0))
                        return -EINVAL;
                p += n + (k < 3);
        }
        if (v[0] < 2 || v[0] > EARSHOT_MAX_PAGES_PER_POLL || v[2] >= v[0])
                return -EINVAL;
        *ret = (Walk){.n = v[0], .fromdate = v[1], .counted = v[2], .prev = v[3]};
        return 0;
}

static int walk_get(const StackExchange *s, const char *cursor, const char *page, Walk *ret) {
        Cursor c = cursor_parse(cursor);

        if (page)
                return page_parse(page, ret);
        if (c.t < 0) {
                *ret = (Walk){.first = true, .n = 1};
                return 0;
        }
        /* after a complete walk, the overlap again; after one cut short, on from its end */
        int64_t from = c.resume ? c.t : c.t > s->overlap_sec ? c.t - s->overlap_sec : 0;
        *ret = (Walk){.n = 1, .fromdate = from};
        return 0;
}

static int stackexchange_build_request(void *state, uint32_t i, const char *cursor,
                                       const char *page, struct earshot_request *req) {
        StackExchange *s = state;
        const struct earshot_host *h = s->host;
        char from[32], num[32];
        Walk w;
        int r;

        if (i >= s->n_feeds)
                return -EINVAL;
        const Feed *f = &s->feeds[i];
        r = walk_get(s, cursor, page, &w);
        if (r < 0)
                return r;

        _cleanup_free_ char *site = url_encode(s->sites[f->site]);
        _cleanup_free_ char *q = f->query ? url_encode(f->query) : NULL;
        _cleanup_free_ char *tagged = s->tagged ? url_encode(s->tagged) : NULL;
        _cleanup_free_ char *filter = url_encode(s->filter);
        if (!site || !filter || (f->query && !q) || (s->tagged && !tagged))
                return -ENOMEM;
        (void)snprintf(from, sizeof(from), "%" PRId64, w.fromdate);
        (void)snprintf(num, sizeof(num), "%" PRId64, w.n);

        _cleanup_free_ char *url =
                strjoin(s->base, "/2.3/search/advanced?site=", site, q ? "&q=" : "", q ? q : "",
                        tagged ? "&tagged=" : "", tagged ? tagged : "", "&sort=creation",
                        w.first ? "&order=desc" : "&order=asc",
                        w.first ? "" : "&fromdate=", w.first ? "" : from, w.n > 1 ? "&page=" : "",
                        w.n > 1 ? num : "", "&pagesize=100&filter=", filter);
        if (!url)
                return -ENOMEM;

        r = request_get(h, req, url, "application/json");
        if (r < 0)
                return r;
        /*
         * The app key travels in the Authorization header: Stack Exchange stopped taking keys
         * as a query parameter in June 2026 (meta.stackexchange.com/questions/417382).
         */
        if (s->authorization) {
                r = h->request_header(req, "Authorization", s->authorization);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* ---- parsing -------------------------------------------------------------------------------- */

/* The language a site's posts must be written in, where the site says so; else NULL. */
static const char *site_lang(const char *site) {
        static const char *const localised[] = {"ru", "es", "pt", "ja"};

        for (size_t i = 0; i < sizeof(localised) / sizeof(localised[0]); i++) {
                size_t n = strlen(localised[i]);
                if (strncmp(site, localised[i], n) == 0 &&
                    (strcmp(site + n, ".stackoverflow") == 0 ||
                     strcmp(site + n, ".stackoverflow.com") == 0))
                        return localised[i];
        }
        return NULL;
}

/* An epoch-seconds date field; -1 when missing, of the wrong type or out of range. */
static int64_t json_epoch(const cJSON *obj, const char *key) {
        const cJSON *j = json_get(obj, key);
        if (!cJSON_IsNumber(j) || !(j->valuedouble >= 1 && j->valuedouble <= (double)MAX_EPOCH))
                return -1;
        return (int64_t)j->valuedouble;
}

/* A signed integer such as a score; *ok false when missing or out of range. */
static int64_t json_signed(const cJSON *obj, const char *key, bool *ok) {
        const cJSON *j = json_get(obj, key);
        *ok = cJSON_IsNumber(j) && j->valuedouble > -9.0e18 && j->valuedouble < 9.0e18;
        return *ok ? (int64_t)j->valuedouble : 0;
}

/* html_to_text() of a string field, or NULL (with *oom set when that was the reason). */
static char *field_text(const StackExchange *s, const cJSON *obj, const char *key, bool *oom) {
        const char *v = json_str(obj, key);
        char *t;

        if (!v)
                return NULL;
        t = s->host->html_to_text(v, strlen(v));
        if (!t)
                *oom = true;
        return t;
}

/*
 * Emits one question (or answer). Returns 0 when emitted, 1 when skipped as malformed (the
 * reason in *why), or a negative errno. *no_body is set for an item the filter left the body
 * out of.
 */
static int item_emit(StackExchange *s, const Feed *f, const cJSON *it, struct earshot_sink *sink,
                     const char **why, bool *no_body) {
        const struct earshot_host *h = s->host;
        const char *site = s->sites[f->site];
        _cleanup_free_ char *id = NULL, *reply_to = NULL, *title = NULL, *text = NULL,
                            *author = NULL;
        char num[32];
        bool oom = false, ok;

        if (!cJSON_IsObject(it)) {
                *why = "not an object";
                return 1;
        }
        int64_t qid = json_id(it, "question_id"), aid = json_id(it, "answer_id");
        int64_t created = json_epoch(it, "creation_date");
        if (qid == 0) {
                *why = "no numeric question_id";
                return 1;
        }
        if (created < 0) {
                *why = "no creation_date";
                return 1;
        }

        (void)snprintf(num, sizeof(num), "%" PRId64, aid ? aid : qid);
        id = strjoin(site, aid ? "/a/" : "/q/", num);
        if (!id)
                return -ENOMEM;
        if (aid) {
                (void)snprintf(num, sizeof(num), "%" PRId64, qid);
                reply_to = strjoin(site, "/q/", num);
                if (!reply_to)
                        return -ENOMEM;
        }

        title = field_text(s, it, "title", &oom);
        text = field_text(s, it, "body", &oom);
        author = field_text(s, json_get(it, "owner"), "display_name", &oom);
        if (oom)
                return -ENOMEM;
        if (!text) {
                *no_body = true;
                text = strdup("");
                if (!text)
                        return -ENOMEM;
        }

        const char *link = json_nstr(it, "link");
        if (link && strncmp(link, "https://", 8) != 0 && strncmp(link, "http://", 7) != 0)
                link = NULL;

        int64_t answers = json_count(it, "answer_count"),
                comments = json_count(it, "comment_count");
        int64_t replies = answers >= 0 && comments >= 0 ? answers + comments
                          : answers >= 0                ? answers
                                                        : comments;
        int64_t score = json_signed(it, "score", &ok);
        int64_t edited = json_epoch(it, "last_edit_date");

        struct earshot_post post = {
                .size = sizeof(post),
                .id = id,
                .network = "stackexchange",
                .url = link,
                .text = text,
                .author_handle = author && *author ? author : NULL,
                .author_name = author && *author ? author : NULL,
                .author_followers = -1,
                .lang = site_lang(site),
                .created_usec = created * USEC_PER_SEC,
                .replies = replies,
                .reposts = -1,
                .likes = ok ? (score > 0 ? score : 0) : -1,
                .title = title && *title ? title : NULL,
                .reply_to = reply_to,
                .rating = 0,
                .edited_usec = edited > 0 ? edited * USEC_PER_SEC : 0,
        };
        return h->emit_post(sink, &post);
}

static int backoff(const StackExchange *s, struct earshot_sink *sink, int64_t usec) {
        const struct earshot_host *h = s->host;

        if (!EARSHOT_HOST_HAS(h, set_backoff)) {
                h->log(h, EARSHOT_LOG_WARNING,
                       "this earshotd cannot pause a feed when the API asks for it; polls go on "
                       "at the configured interval");
                return 0;
        }
        return h->set_backoff(sink, usec);
}

/*
 * "too many requests from this IP, more requests available in 79835 seconds": the wait, in
 * seconds, or -1 when the message does not say.
 */
static int64_t message_wait(const char *msg) {
        static const char marker[] = "available in ";
        const char *p = msg ? strstr(msg, marker) : NULL;
        int64_t v = 0;
        size_t n = 0;

        if (!p)
                return -1;
        p += sizeof(marker) - 1;
        while (p[n] >= '0' && p[n] <= '9' && n < 7)
                v = v * 10 + (p[n++] - '0');
        return n > 0 && strncmp(p + n, " second", 7) == 0 ? v : -1;
}

#define THROTTLE_DEFAULT_SEC 60 /* a throttle that does not say for how long */

/*
 * An error body, {"error_id": N, "error_name": "...", "error_message": "..."}, whatever the
 * status it came with (api.stackexchange.com/docs/error-handling): the throttle pauses the
 * source and retries, a server fault retries, a refusal of the options blocks the feed. Returns
 * EARSHOT_RETRY or EARSHOT_BLOCKED after set_error(), or, for an error this plugin does not
 * know, `unknown`.
 */
static int error_body(StackExchange *s, const Feed *f, const cJSON *root, struct earshot_sink *sink,
                      int unknown) {
        const struct earshot_host *h = s->host;
        const char *name = json_nstr(root, "error_name"), *raw = json_nstr(root, "error_message");
        const char *key = s->authorization ? s->authorization + strlen("Bearer ") : NULL;
        int64_t id = json_count(root, "error_id");
        char msg[240], nm[48];
        int r;

        /* the API's words, one line; an app key it might quote stays out of the log */
        (void)text_oneline(msg, sizeof(msg), raw ? raw : "(no message)", key);
        (void)text_oneline(nm, sizeof(nm), name ? name : "unnamed", NULL);

        if (id == 502 || (name && strcmp(name, "throttle_violation") == 0)) {
                int64_t wait = message_wait(raw);
                if (wait <= 0 || wait > 86400)
                        wait = wait > 86400 ? 86400 : THROTTLE_DEFAULT_SEC;
                r = backoff(s, sink, wait * USEC_PER_SEC);
                if (r < 0)
                        return r;
                return source_fail(h, sink, f->name, EARSHOT_RETRY,
                                   "Stack Exchange throttle: %s; pausing this source for %" PRId64
                                   " s%s",
                                   msg, wait,
                                   s->authorization ? ""
                                                    : " (an app key, option `key`, raises the "
                                                      "daily quota)");
        }
        switch (id) {
        case 400: /* bad_parameter: the message names the parameter */
                return source_fail(h, sink, f->name, EARSHOT_BLOCKED,
                                   "Stack Exchange refused the search (error 400 %s: %s); check "
                                   "`sites`, `queries`, `tagged` and `filter`",
                                   nm, msg);
        case 401: /* access_token_required */
        case 402: /* invalid_access_token */
        case 403: /* access_denied */
        case 405: /* key_required */
        case 406: /* access_token_compromised */
                return source_fail(h, sink, f->name, EARSHOT_BLOCKED,
                                   "Stack Exchange refused the request (error %" PRId64
                                   " %s: %s); check `key`",
                                   id, nm, msg);
        case 404: /* no_method */
                return source_fail(h, sink, f->name, EARSHOT_BLOCKED,
                                   "Stack Exchange has no such method (error 404 %s: %s); check "
                                   "`base_url`",
                                   nm, msg);
        case 500: /* internal_error */
        case 503: /* temporarily_unavailable */
                return source_fail(h, sink, f->name, EARSHOT_RETRY,
                                   "Stack Exchange error %" PRId64 " %s: %s", id, nm, msg);
        }
        if (unknown < 0)
                return unknown;
        return source_fail(h, sink, f->name, EARSHOT_RETRY,
                           "Stack Exchange error %" PRId64 " %s: %s", id, nm, msg);
}

static bool is_error_body(const cJSON *root) {
        return cJSON_IsObject(root) && (json_get(root, "error_id") || json_get(root, "error_name"));
}

/*
 * A warning about feed f's walk that is given once while its condition lasts: *warned says
 * whether it was; later ones go to the debug log.
 */
static void warn_once(const StackExchange *s, bool *warned, const char *format, ...)
        __attribute__((format(printf, 3, 4)));
static void warn_once(const StackExchange *s, bool *warned, const char *format, ...) {
        const struct earshot_host *h = s->host;
        char msg[512];
        va_list ap;

        va_start(ap, format);
        (void)vsnprintf(msg, sizeof(msg), format, ap);
        va_end(ap);
        h->log(h, *warned ? EARSHOT_LOG_DEBUG : EARSHOT_LOG_WARNING, "%s", msg);
        *warned = true;
}

static int stackexchange_parse_response(void *state, uint32_t i, const char *cursor,
                                        const char *page, const struct earshot_response *resp,
                                        struct earshot_sink *sink) {
        StackExchange *s = state;
        const struct earshot_host *h = s->host;
        _cleanup_(cJSON_Deletep) cJSON *root = NULL;
        _cleanup_free_ const cJSON **items = NULL;
        int64_t cur = cursor_parse(cursor).t, now_sec = h->now_usec(h) / USEC_PER_SEC;
        bool paused = false;
        Walk w;
        int r;

        if (i >= s->n_feeds)
                return -EINVAL;
        Feed *f = &s->feeds[i];
        r = walk_get(s, cursor, page, &w);
        if (r < 0)
                return r;

        r = json_parse_response(h, f->name, resp, &root);
        if (r < 0)
                return r;
        if (!cJSON_IsObject(root)) {
                h->log(h, EARSHOT_LOG_ERR, "%s: expected the API's wrapper object, got %s", f->name,
                       cJSON_IsArray(root) ? "an array" : "a scalar");
                return -EBADMSG;
        }
        if (is_error_body(root))
                return error_body(s, f, root, sink, EARSHOT_RETRY);

        const cJSON *list = json_get(root, "items");
        if (!cJSON_IsArray(list)) {
                h->log(h, EARSHOT_LOG_ERR,
                       "%s: expected the API's wrapper object with an \"items\" array, got an "
                       "object without it",
                       f->name);
                return -EBADMSG;
        }
        size_t n = 0;
        for (const cJSON *it = list->child; it; it = it->next)
                if (++n > MAX_ITEMS_PER_PAGE) {
                        h->log(h, EARSHOT_LOG_ERR,
                               "%s: more than %d items in one response; the API sends %d at "
                               "most",
                               f->name, MAX_ITEMS_PER_PAGE, PAGE_SIZE);
                        return -EBADMSG;
                }

        /* The throttle: "backoff" is for this method, the quota for the whole day. */
        int64_t wait = json_count(root, "backoff");
        if (wait > 0) {
                h->log(h, EARSHOT_LOG_INFO,
                       "%s: the API asks for a pause of %" PRId64 " s before the next search",
                       f->name, wait);
                r = backoff(s, sink, (wait < 86400 ? wait : 86400) * USEC_PER_SEC);
                if (r < 0)
                        return r;
                paused = true;
        }
        int64_t quota = json_count(root, "quota_remaining");
        if (quota >= 0 && quota < QUOTA_LOW) {
                /*
                 * The daily quota is taken to reset at 00:00 UTC. (A stackapps.com answer
                 * describes the "day" as 24 hours from the first request of a quota period
                 * instead. Either way, a pause that ends too early costs one request that finds
                 * the quota still low and pauses again, and one that ends late delays posts
                 * without losing them: the walk resumes from the cursor.)
                 */
                int64_t now = h->now_usec(h), day = now / USEC_PER_DAY;
                int64_t until = (day + 1) * USEC_PER_DAY - now + 60 * USEC_PER_SEC;
                int64_t max = json_count(root, "quota_max");
                bool warn = s->quota_warned_day != day;

                s->quota_warned_day = day;
                h->log(h, warn ? EARSHOT_LOG_WARNING : EARSHOT_LOG_DEBUG,
                       "%s: only %" PRId64 " of %" PRId64
                       " daily API requests left; pausing until the quota resets at 00:00 "
                       "UTC%s",
                       f->name, quota, max,
                       s->authorization ? "" : " (an app key, option `key`, raises the quota)");
                r = backoff(s, sink, until);
                if (r < 0)
                        return r;
                paused = true;
        }

        items = calloc(n ? n : 1, sizeof(cJSON *));
        if (!items)
                return -ENOMEM;
        n = 0;
        for (const cJSON *it = list->child; it; it = it->next)
                items[n++] = it;

        /* Emit oldest first: the first poll reads newest first, every other one oldest first. */
        size_t no_body = 0, too_old = 0;
        Skipped skipped = {0};
        int64_t newest = cur, page_newest = -1, page_oldest = -1;
        for (size_t k = 0; k < n; k++) {
                size_t idx = w.first ? n - 1 - k : k;
                const cJSON *it = items[idx];
                int64_t created = json_epoch(it, "creation_date");
                const char *why = NULL;
                bool nb = false;

                if (created >= 0) {
                        if (created > page_newest)
                                page_newest = created;
                        if (page_oldest < 0 || created < page_oldest)
                                page_oldest = created;
                }
                /*
                 * A server that ignores fromdate must not replay history; and what the overlap
                 * re-reads is re-read for a day at most: the core forgets the posts it has seen
                 * after a while (store.seen_retention), and a quiet feed's newest question must
                 * not come back as new then.
                 */
                if (!w.first && created >= 0 && created < w.fromdate) {
                        too_old++;
                        continue;
                }
                if (!w.first && created >= 0 && created <= cur && created < now_sec - REREAD_MAX)
                        continue;
                r = item_emit(s, f, it, sink, &why, &nb);
                if (r < 0)
                        return r;
                if (r == 1) {
                        h->log(h, EARSHOT_LOG_DEBUG, "%s: skipping item %zu: %s", f->name, idx,
                               why);
                        skipped_add(&skipped, idx, why);
                        continue;
                }
                no_body += nb;
                if (created > newest)
                        newest = created;
        }
        skipped_log(&skipped, h, f->name, n, "items that are not valid questions", "item");
        if (no_body > 0)
                warn_once(s, &f->warned_no_body,
                          "%s: filter '%s' leaves out the body of %zu question%s; only titles "
                          "can match (the default filter, withbody, includes it)",
                          f->name, s->filter, no_body, no_body == 1 ? "" : "s");
        else if (n > too_old)
                f->warned_no_body = false;

        /* The first poll with nothing to show still starts the cursor: at the present. */
        if (w.first && newest < 0)
                newest = h->now_usec(h) / USEC_PER_SEC;

        /* Where the walk stands: at its end, stopped before it, or going on. */
        if (w.first || n == 0 || !cJSON_IsTrue(json_get(root, "has_more"))) {
                if (!w.first)
                        f->warned_walk = false;
                return cursor_commit(s, sink, cursor, newest, false);
        }
        if (too_old == n) {
                /* a page entirely before fromdate: the server ignores it; nothing new here */
                warn_once(s, &f->warned_walk,
                          "%s: page %" PRId64 " holds only questions from before fromdate=%" PRId64
                          " (fromdate= ignored?); not paging further",
                          f->name, w.n, w.fromdate);
                return cursor_commit(s, sink, cursor, newest, cursor_parse(cursor).resume);
        }
        if (w.n > 1 && w.prev > 0 && page_oldest >= 0 && page_oldest < w.prev) {
                /* ascending order: a page older than the one before is that page again */
                warn_once(s, &f->warned_walk,
                          "%s: page %" PRId64 " went back to questions before the previous "
                          "page's (page= ignored?); not paging further, the next poll goes on "
                          "from the newest question seen",
                          f->name, w.n);
                return cursor_commit(s, sink, cursor, newest, true);
        }
        /* a page of questions seen already (the overlap read again) does not count */
        int64_t counted = w.counted + (page_newest < 0 || page_newest > cur);
        if (paused)
                return cursor_commit(s, sink, cursor, newest, true);
        if (counted >= s->max_pages || w.n >= EARSHOT_MAX_PAGES_PER_POLL) {
                h->log(h, EARSHOT_LOG_INFO,
                       "%s: stopped after %" PRId64 " request%s; the rest follows on the next "
                       "poll",
                       f->name, w.n, w.n == 1 ? "" : "s");
                return cursor_commit(s, sink, cursor, newest, true);
        }
        /* the walk goes on; should it break off here, the next poll resumes from the cursor */
        r = cursor_commit(s, sink, cursor, newest, true);
        if (r < 0)
                return r;
        char token[96];
        (void)snprintf(token, sizeof(token), "%" PRId64 ":%" PRId64 ":%" PRId64 ":%" PRId64,
                       w.n + 1, w.fromdate, counted, page_newest > 0 ? page_newest : w.prev);
        r = h->next_page(sink, token);
        if (r < 0)
                return r;
        return EARSHOT_MORE;
}

/* parse_error(): the API's error bodies (see the top of the file); anything else is the core's. */
static int stackexchange_parse_error(void *state, uint32_t i, const char *cursor, const char *page,
                                     const struct earshot_response *resp,
                                     struct earshot_sink *sink) {
        StackExchange *s = state;
        _cleanup_(cJSON_Deletep) cJSON *root = NULL;
        const char *why = NULL;

        if (i >= s->n_feeds)
                return -EINVAL;
        if (json_load(resp, &root, &why) < 0 || !is_error_body(root))
                return SOURCE_ERROR_GENERIC;
        return error_body(s, &s->feeds[i], root, sink, SOURCE_ERROR_GENERIC);
}

static const struct earshot_option stackexchange_options[] = {
        {"sites", EARSHOT_OPT_STRLIST, EARSHOT_OPT_REQUIRED, NULL,
         "Stack Exchange sites as the API names them: stackoverflow, superuser, serverfault, "
         "askubuntu, ru.stackoverflow, ..."},
        {"queries", EARSHOT_OPT_STRLIST, 0, NULL,
         "free-text searches (the API's q=), one feed each per site; none: every new question "
         "of the site (narrowed by tagged)"},
        {"tagged", EARSHOT_OPT_STRLIST, 0, NULL,
         "up to 5 tags; a question must carry at least one of them (applies to every feed)"},
        {"key", EARSHOT_OPT_STRING, EARSHOT_OPT_SECRET, NULL,
         "app key from stackapps.com, sent as Authorization: Bearer; raises the daily quota "
         "from 300 to 10,000 requests per IP"},
        {"filter", EARSHOT_OPT_STRING, 0, "withbody",
         "API filter; it must include the question body, as the built-in withbody does"},
        {"base_url", EARSHOT_OPT_URL, 0, "https://api.stackexchange.com",
         "API root (https://, or http:// on loopback for tests)"},
        {"max_pages", EARSHOT_OPT_INT, 0, "5",
         "requests per feed and poll at most, 1..25 (100 questions each; a page of questions "
         "seen already does not count); the rest follows on the next poll"},
        {"overlap", EARSHOT_OPT_DURATION, 0, "2m",
         "each poll searches again from this long before the newest question seen (same-second "
         "ties, search index lag); repeats are recognised and dropped, 0s..1d"},
        {.name = NULL},
};

static const struct earshot_source_ops stackexchange_ops = {
        .size = sizeof(struct earshot_source_ops),
        .create = stackexchange_create,
        .destroy = stackexchange_destroy,
        .feed = stackexchange_feed,
        .build_request = stackexchange_build_request,
        .parse_response = stackexchange_parse_response,
        .parse_error = stackexchange_parse_error,
};

EARSHOT_PLUGIN_DEFINE(.kind = EARSHOT_PLUGIN_SOURCE, .name = "stackexchange",
                      .description = "new questions on Stack Exchange sites, by search or tag",
                      .options = stackexchange_options, .source = &stackexchange_ops);
