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
 * and ends the poll; `quota_remaining` below 10 warns once a day and pauses the feed until the
 * quota resets at 00:00 UTC; an error body ({"error_id": 502, "error_name":
 * "throttle_violation", "error_message": ...}) is logged and answered with EARSHOT_RETRY.
 * Bodies arrive decompressed (the core's libcurl asks for and decodes gzip).
 *
 * Cursor. The newest creation_date seen, in epoch seconds ("1785592555"). The first poll of a
 * feed asks order=desc and takes the newest page only (earshot starts listening now; an empty
 * first page starts the cursor at the present). Later polls walk forwards in time:
 * order=asc&fromdate=CURSOR-overlap&page=N, and every page moves the cursor to its newest
 * question, so a walk cut short (max_pages, a backoff, a failed request) loses nothing: the
 * next poll resumes there. fromdate is inclusive and creation_date has one-second resolution,
 * so `fromdate = cursor + 1` would drop a question created in the cursor's second after the
 * last poll saw that second; asking again from `cursor - overlap` instead re-reads that second
 * and also covers questions that reach the search index late. What is read twice is not new
 * to the core (it remembers the posts it has seen), and questions older than fromdate are
 * dropped here too, so a server that ignores fromdate cannot replay history; the re-reading is
 * limited to questions less than a day old, so a quiet feed does not hand its newest question
 * over again once the core has forgotten it (store.seen_retention). Page tokens are
 * "N:FROMDATE", so one walk pages through one fixed result set; new questions only append to
 * its end (ascending order), which cannot shift a page. A later page that does not move the
 * cursor ends the walk with a warning (a server that ignores page= would repeat it forever).
 *
 * Fields. id "SITE/q/QUESTION_ID" ("SITE/a/ANSWER_ID" for an answer, whose reply_to is its
 * question's id); url = link; title = title and text = body, both HTML through html_to_text
 * (the API's "safe" filters escape entities even in titles and names); author_handle and
 * author_name = owner.display_name (Stack Exchange has no handles); followers -1 (reputation is
 * not a follower count); likes = score (negative scores as 0); replies = answer_count +
 * comment_count, as far as the filter includes them; created = creation_date, edited =
 * last_edit_date; lang only for the localised Stack Overflows (ru., es., pt., ja.), whose posts
 * must be in that language. The default filter, "withbody", includes the body; a filter without
 * it leaves only titles to match, with one warning a page.
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

/* The cursor: epoch seconds, or -1 when there is none (or not one this plugin wrote). */
static int64_t cursor_parse(const char *cursor) {
        int64_t v;

        if (!cursor || parse_epoch(cursor, strlen(cursor), &v) < 0)
                return -1;
        return v;
}

/* Page tokens: "N:FROMDATE", page N (2..max) of a walk that started at FROMDATE. */
static int page_parse(const char *token, int64_t *ret_n, int64_t *ret_fromdate) {
        const char *colon = strchr(token, ':');
        int64_t n;

        if (!colon || parse_epoch(token, (size_t)(colon - token), &n) < 0 || n < 2 ||
            n > MAX_PAGES_MAX || parse_epoch(colon + 1, strlen(colon + 1), ret_fromdate) < 0)
                return -EINVAL;
        *ret_n = n;
        return 0;
}

/*
 * Where a poll stands: the first poll of a feed (no cursor) reads the newest page, newest
 * first; every other request reads page N, oldest first, from FROMDATE.
 */
typedef struct Walk {
        bool first;
        int64_t n, fromdate;
} Walk;

static int walk_get(const StackExchange *s, const char *cursor, const char *page, Walk *ret) {
        int64_t c = cursor_parse(cursor);

        if (page) {
                *ret = (Walk){.first = false};
                return page_parse(page, &ret->n, &ret->fromdate);
        }
        if (c < 0) {
                *ret = (Walk){.first = true, .n = 1};
                return 0;
        }
        *ret = (Walk){
                .first = false, .n = 1, .fromdate = c > s->overlap_sec ? c - s->overlap_sec : 0};
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

/* An error body: log it, pass on the wait it names, ask the core to retry. */
static int error_body(StackExchange *s, const Feed *f, const cJSON *root,
                      struct earshot_sink *sink) {
        const struct earshot_host *h = s->host;
        const char *name = json_nstr(root, "error_name"), *msg = json_nstr(root, "error_message");
        int64_t id = json_count(root, "error_id"), wait = message_wait(msg);
        bool throttled = id == 502 || (name && strcmp(name, "throttle_violation") == 0);
        int r;

        h->log(h, throttled ? EARSHOT_LOG_WARNING : EARSHOT_LOG_ERR,
               "%s: Stack Exchange answered error %" PRId64 " %s: %.300s%s", f->name, id,
               name ? name : "(unnamed)", msg ? msg : "(no message)",
               throttled ? "" : "; check the source's options");
        if (wait > 0) {
                r = backoff(s, sink, (wait < 86400 ? wait : 86400) * USEC_PER_SEC);
                if (r < 0)
                        return r;
        }
        return EARSHOT_RETRY;
}

static int stackexchange_parse_response(void *state, uint32_t i, const char *cursor,
                                        const char *page, const struct earshot_response *resp,
                                        struct earshot_sink *sink) {
        StackExchange *s = state;
        const struct earshot_host *h = s->host;
        _cleanup_(cJSON_Deletep) cJSON *root = NULL;
        _cleanup_free_ const cJSON **items = NULL;
        int64_t cur = cursor_parse(cursor), now_sec = h->now_usec(h) / USEC_PER_SEC;
        bool paused = false;
        Walk w;
        int r;

        if (i >= s->n_feeds)
                return -EINVAL;
        const Feed *f = &s->feeds[i];
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
        if (json_get(root, "error_id") || json_get(root, "error_name"))
                return error_body(s, f, root, sink);

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
        int64_t newest = cur;
        for (size_t k = 0; k < n; k++) {
                size_t idx = w.first ? n - 1 - k : k;
                const cJSON *it = items[idx];
                int64_t created = json_epoch(it, "creation_date");
                const char *why = NULL;
                bool nb = false;

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
                h->log(h, EARSHOT_LOG_WARNING,
                       "%s: filter '%s' leaves out the body of %zu question%s; only titles can "
                       "match (the default filter, withbody, includes it)",
                       f->name, s->filter, no_body, no_body == 1 ? "" : "s");

        /* The first poll with nothing to show still starts the cursor: at the present. */
        if (w.first && newest < 0)
                newest = h->now_usec(h) / USEC_PER_SEC;
        if (newest > cur) {
                char buf[32];
                (void)snprintf(buf, sizeof(buf), "%" PRId64, newest);
                r = h->set_cursor(sink, buf);
                if (r < 0)
                        return r;
        }

        if (w.first || paused || n == 0 || !cJSON_IsTrue(json_get(root, "has_more")))
                return 0;
        /*
         * A walk runs oldest first, so every page after the first must move the cursor; one
         * that does not (or a page entirely before fromdate) comes from a server that ignores
         * page= or fromdate=, and paging on would only repeat it.
         */
        if (too_old == n || (w.n > 1 && newest <= cur)) {
                h->log(h, EARSHOT_LOG_WARNING,
                       "%s: page %" PRId64
                       " brought no question after the cursor (fromdate=%" PRId64
                       " or page= ignored?); not paging further",
                       f->name, w.n, w.fromdate);
                return 0;
        }
        if (w.n >= s->max_pages) {
                h->log(h, EARSHOT_LOG_INFO,
                       "%s: stopped after %" PRId64 " page%s; the rest follows on the next poll",
                       f->name, w.n, w.n == 1 ? "" : "s");
                return 0;
        }
        char token[64];
        (void)snprintf(token, sizeof(token), "%" PRId64 ":%" PRId64, w.n + 1, w.fromdate);
        r = h->next_page(sink, token);
        if (r < 0)
                return r;
        return EARSHOT_MORE;
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
         "requests per feed and poll at most, 1..25 (100 questions each); the rest follows on "
         "the next poll"},
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
};

EARSHOT_PLUGIN_DEFINE(.kind = EARSHOT_PLUGIN_SOURCE, .name = "stackexchange",
                      .description = "new questions on Stack Exchange sites, by search or tag",
                      .options = stackexchange_options, .source = &stackexchange_ops);
