/* SPDX-License-Identifier: MIT */
/*
 * appstore.c - Apple App Store customer reviews as an earshot source.
 *
 * Feeds. One per app and storefront, named "CC/idAPP" ("us/id284882215"):
 * GET {base_url}/{cc}/rss/customerreviews/page={n}/id={app}/sortby=mostrecent/json, Apple's
 * public review feed: no key, no documented rate limit, newest first, about 50 reviews a page
 * and 10 pages at most (about 500 reviews; nothing older can be had).
 *
 * Cursor. "TIME#ID": the `updated` time of the newest review seen (RFC 3339, UTC) and its id
 * ("#ID" alone for feeds without times). Reviews are ordered by that time, then by id (review
 * ids grow with time; the id settles reviews of the same second). The first poll of a feed
 * takes page 1 only (earshot starts listening now). A later poll walks pages 1, 2, ... until a
 * page reaches back to the cursor, a page holds fewer than 50 reviews (the end of the feed),
 * or `max_pages` / the feed's 10 pages are used up, which reports the time range it could not
 * reach with report_gap(). Only reviews after the cursor are emitted, oldest first. Pages are
 * walked newest first, so the cursor moves only when the walk is complete: on its last page;
 * the page tokens ("N:USEC:ID") carry the newest review seen so far. A walk that fails half way
 * leaves the cursor alone and starts over next poll (the core drops what it has seen). A review
 * the author edits comes back with a new time and its old id: it is the same post to the core.
 *
 * Fields. The JSON wraps every scalar as {"label": "..."}. id "appstore:" + id.label; rating =
 * im:rating (1-5; stars are kept in `rating`: a 1-2 star review is a complaint candidate,
 * though the rule language cannot filter on rating yet, so rules see the title and text only);
 * title = title.label; text = content.label (plain text already; the XML feed's second, HTML
 * content is not in the JSON); author_handle and author_name = author.name.label (a nickname;
 * there are no handles); likes = im:voteSum (net "helpful" votes); created = updated.label
 * (ISO 8601 with Apple's Pacific offset); url = the entry's link (the app's review page; single
 * reviews have no URL). The app version (im:version) has no field in the post and is dropped.
 * No language: a storefront does not say what language a review is in. No follower counts.
 *
 * Quirks handled: an entry without im:rating is the app's own metadata (older feeds put it
 * first) and is skipped quietly; a feed without reviews has no "entry" key; a single review may
 * come as an object instead of an array. A body that is not {"feed": {...}} is -EBADMSG after
 * one error line; JSON deeper than 64 levels and pages of more than 1000 entries are refused; a
 * malformed review is skipped with one warning a page.
 *
 * Error answers (parse_error). What Apple's feed answers for an app id or a storefront it does
 * not have is not documented, and 404s for apps that exist have been reported too
 * (facundoolano/app-store-scraper#143, "404 / inconsistent"). So a 404 or 400 for page 1 is
 * retried, with an explanation that names the app and the store, and only the third in a row
 * (counted since the feed last answered) blocks the feed: "no app ID in the XX store". A 404
 * or 400 for a later page is retried (the walk starts over at page 1 on the next poll).
 * Anything else is left to the core.
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

#define FEED_PAGES 10 /* the feed serves 10 pages, nothing older */
#define PAGE_SIZE 50  /* reviews a full page holds */
#define MAX_ENTRIES_PER_PAGE 1000
#define NOT_FOUND_BLOCKS 3 /* 404s for page 1 in a row that block the feed */

/* ---- state ---------------------------------------------------------------------------------- */

typedef struct Feed {
        size_t app, country; /* indexes into AppStore::apps and ::countries */
        char *name;          /* owned: "us/id284882215" */
        unsigned not_found;  /* 404s or 400s for page 1 in a row, since the feed last answered */
} Feed;

typedef struct AppStore {
        const struct earshot_host *host; /* borrowed, valid until destroy */
        char *base;                      /* owned: "https://itunes.apple.com" */
        char **apps;                     /* owned: numeric app ids */
        size_t n_apps;
        char **countries; /* owned: two lowercase letters */
        size_t n_countries;
        Feed *feeds; /* owned: apps x countries */
        size_t n_feeds;
        int64_t max_pages;
} AppStore;

static void appstore_destroy(void *state) {
        AppStore *a = state;

        if (!a)
                return;
        free(a->base);
        strv_free_n(a->apps, a->n_apps);
        strv_free_n(a->countries, a->n_countries);
        for (size_t i = 0; i < a->n_feeds; i++)
                free(a->feeds[i].name);
        free(a->feeds);
        free(a);
}

static inline void appstore_destroyp(AppStore **a) {
        appstore_destroy(*a);
}

static int appstore_create(const struct earshot_host *host, const struct earshot_values *vals,
                           char *err, size_t err_len, void **ret_state) {
        _cleanup_(appstore_destroyp) AppStore *a = NULL;
        const struct earshot_value *apps, *countries;
        const char *base;
        int r;

        apps = list_value(vals, "apps");
        if (!apps)
                return set_error(err, err_len,
                                 "apps: at least one numeric app id is needed (the digits in "
                                 "apps.apple.com/.../id284882215)");
        countries = list_value(vals, "countries");

        a = calloc(1, sizeof(*a));
        if (!a)
                return -ENOMEM;
        a->host = host;
        a->apps = calloc(apps->n_list, sizeof(char *));
        a->countries = calloc(countries ? countries->n_list : 1, sizeof(char *));
        if (!a->apps || !a->countries)
                return -ENOMEM;

        base = earshot_value_str(vals, "base_url");
        r = option_base_url("base_url", base ? base : "https://itunes.apple.com", &a->base, NULL,
                            err, err_len);
        if (r < 0)
                return r;

        for (size_t i = 0; i < apps->n_list && apps->list[i]; i++) {
                const char *id = apps->list[i];
                if (strncasecmp(id, "id", 2) == 0)
                        id += 2;
                size_t n = strlen(id);
                if (!is_digits(id, n) || n > 15 || id[0] == '0')
                        return set_error(err, err_len,
                                         "apps: '%.40s' is not an app id (digits, as in "
                                         "apps.apple.com/us/app/name/id284882215)",
                                         apps->list[i]);
                char *c = strdup(id);
                if (!c)
                        return -ENOMEM;
                list_add_unique(a->apps, &a->n_apps, c);
        }
        for (size_t i = 0; countries && i < countries->n_list && countries->list[i]; i++) {
                const char *cc = countries->list[i];
                char c[3];
                if (strlen(cc) != 2 || !((cc[0] | 0x20) >= 'a' && (cc[0] | 0x20) <= 'z') ||
                    !((cc[1] | 0x20) >= 'a' && (cc[1] | 0x20) <= 'z'))
                        return set_error(err, err_len,
                                         "countries: '%.20s' is not a two-letter storefront code "
                                         "(us, gb, de, ...)",
                                         cc);
                c[0] = (char)(cc[0] | 0x20);
                c[1] = (char)(cc[1] | 0x20);
                c[2] = 0;
                char *d = strdup(c);
                if (!d)
                        return -ENOMEM;
                list_add_unique(a->countries, &a->n_countries, d);
        }
        if (a->n_apps == 0)
                return set_error(err, err_len, "apps: the list is empty");
        if (a->n_countries == 0) {
                a->countries[0] = strdup("us");
                if (!a->countries[0])
                        return -ENOMEM;
                a->n_countries = 1;
        }

        a->max_pages = earshot_value_num(vals, "max_pages", FEED_PAGES);
        if (a->max_pages < 1 || a->max_pages > FEED_PAGES)
                return set_error(err, err_len,
                                 "max_pages: %" PRId64 " is out of range 1..%d (the feed has "
                                 "%d pages)",
                                 a->max_pages, FEED_PAGES, FEED_PAGES);

        a->feeds = calloc(a->n_apps * a->n_countries, sizeof(Feed));
        if (!a->feeds)
                return -ENOMEM;
        for (size_t i = 0; i < a->n_apps; i++)
                for (size_t c = 0; c < a->n_countries; c++) {
                        Feed *f = &a->feeds[a->n_feeds];

                        f->app = i;
                        f->country = c;
                        f->name = strjoin(a->countries[c], "/id", a->apps[i]);
                        if (!f->name)
                                return -ENOMEM;
                        a->n_feeds++;
                }

        *ret_state = a;
        a = NULL;
        return 0;
}

static const char *appstore_feed(void *state, uint32_t i) {
        AppStore *a = state;
        return i < a->n_feeds ? a->feeds[i].name : NULL;
}

/* ---- positions: (time, id) ------------------------------------------------------------------ */

#define MAX_REVIEW_ID 20

/* Where a review stands in the feed's order. */
typedef struct Pos {
        int64_t usec;               /* the review's `updated`; 0 when unknown */
        char id[MAX_REVIEW_ID + 1]; /* digits; "" when none */
} Pos;

/* Review ids are decimal numbers of any length: "99" < "100". */
static int id_compare(const char *a, const char *b) {
        size_t la = strlen(a), lb = strlen(b);
        int c;

        if (la != lb)
                return la < lb ? -1 : 1;
        c = strcmp(a, b);
        return c < 0 ? -1 : c > 0;
}

/* By time when both have one, then by id. */
static int pos_compare(const Pos *a, const Pos *b) {
        if (a->usec > 0 && b->usec > 0 && a->usec != b->usec)
                return a->usec < b->usec ? -1 : 1;
        return id_compare(a->id, b->id);
}

static bool pos_set(const Pos *p) {
        return p->id[0] != 0;
}

/* "TIME#ID" or "#ID"; false for anything this plugin did not write. */
static bool cursor_parse(const AppStore *a, const char *cursor, Pos *ret) {
        const char *hash = cursor ? strrchr(cursor, '#') : NULL;
        char t[64];

        *ret = (Pos){0};
        if (!hash || !is_digits(hash + 1, strlen(hash + 1)) || strlen(hash + 1) > MAX_REVIEW_ID)
                return false;
        if (hash > cursor) {
                if ((size_t)(hash - cursor) >= sizeof(t))
                        return false;
                memcpy(t, cursor, (size_t)(hash - cursor));
                t[hash - cursor] = 0;
                if (a->host->parse_time(t, &ret->usec) < 0 || ret->usec <= 0) {
                        *ret = (Pos){0};
                        return false;
                }
        }
        strcpy(ret->id, hash + 1);
        return true;
}

static void cursor_format(const AppStore *a, const Pos *p, char *buf, size_t len) {
        char t[64];

        if (p->usec > 0 && a->host->format_time(p->usec, t, sizeof(t)))
                (void)snprintf(buf, len, "%s#%s", t, p->id);
        else
                (void)snprintf(buf, len, "#%s", p->id);
}

/* Page tokens: "N:USEC:ID": page N (2..10) of a walk whose newest review so far is USEC/ID. */
static int page_parse(const char *token, int64_t *ret_n, Pos *ret_newest) {
        const char *c1 = strchr(token, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        int64_t n = 0, usec = 0;

        if (!c1 || !c2 || c1 - token > 2 || c2 - c1 - 1 > 18 || strlen(c2 + 1) > MAX_REVIEW_ID ||
            !is_digits(token, (size_t)(c1 - token)) || !is_digits(c1 + 1, (size_t)(c2 - c1 - 1)) ||
            (c2[1] && !is_digits(c2 + 1, strlen(c2 + 1))))
                return -EINVAL;
        for (const char *p = token; p < c1; p++)
                n = n * 10 + (*p - '0');
        for (const char *p = c1 + 1; p < c2; p++)
                usec = usec * 10 + (*p - '0');
        if (n < 2 || n > FEED_PAGES)
                return -EINVAL;
        *ret_n = n;
        *ret_newest = (Pos){.usec = usec};
        strcpy(ret_newest->id, c2 + 1);
        return 0;
}

/*
 * Feed i and where its walk stands by the page token: page *ret_n (1 without a token) and the
 * newest review of the walk so far (none on page 1). -EINVAL for a feed or a token this plugin
 * does not have.
 */
static int feed_page(AppStore *a, uint32_t i, const char *page, Feed **ret_feed, int64_t *ret_n,
                     Pos *ret_newest) {
        if (i >= a->n_feeds)
                return -EINVAL;
        *ret_feed = &a->feeds[i];
        *ret_n = 1;
        *ret_newest = (Pos){0};
        return page ? page_parse(page, ret_n, ret_newest) : 0;
}

static int appstore_build_request(void *state, uint32_t i, const char *cursor, const char *page,
                                  struct earshot_request *req) {
        AppStore *a = state;
        const struct earshot_host *h = a->host;
        int64_t n;
        Pos newest;
        char num[32];
        Feed *f;
        int r;

        r = feed_page(a, i, page, &f, &n, &newest);
        if (r < 0)
                return r;
        (void)snprintf(num, sizeof(num), "%" PRId64, n);
        _cleanup_free_ char *url =
                strjoin(a->base, "/", a->countries[f->country], "/rss/customerreviews/page=", num,
                        "/id=", a->apps[f->app], "/sortby=mostrecent/json");
        if (!url)
                return -ENOMEM;
        return request_get(h, req, url, "application/json");
}

/* ---- parsing -------------------------------------------------------------------------------- */

/* The label of a {"label": "..."} member: what every scalar of this feed is wrapped in. */
static const char *label(const cJSON *obj, const char *key) {
        return json_str(json_get(obj, key), "label");
}

/* A label holding a small non-negative number ("0".."999999999"); -1 otherwise. */
static int64_t label_count(const cJSON *obj, const char *key) {
        const char *s = label(obj, key);
        int64_t v;

        if (!s || parse_digits(s, strlen(s), 9, &v) < 0)
                return -1;
        return v;
}

/* The text content: an object, or (in some renderings) an array of them; "text" preferred. */
static const char *content_text(const cJSON *entry) {
        const cJSON *c = json_get(entry, "content");

        if (cJSON_IsObject(c))
                return json_str(c, "label");
        if (!cJSON_IsArray(c))
                return NULL;
        for (const cJSON *e = c->child; e; e = e->next) {
                const char *type = json_str(json_get(e, "attributes"), "type");
                if (type && strcmp(type, "text") == 0)
                        return json_str(e, "label");
        }
        return NULL;
}

/* One entry of the page. */
typedef struct Item {
        const cJSON *json;
        bool review; /* has im:rating: a review, not the app's metadata */
        bool usable; /* a review with an id: it takes part in the order */
        Pos pos;
} Item;

static void item_init(const AppStore *a, const cJSON *e, Item *ret) {
        const char *id = label(e, "id"), *updated = label(e, "updated");

        *ret = (Item){.json = e};
        if (!cJSON_IsObject(e)) {
                ret->review = true; /* counts as malformed, not as metadata */
                return;
        }
        ret->review = json_get(e, "im:rating") != NULL;
        if (!ret->review || !id || !is_digits(id, strlen(id)) || strlen(id) > MAX_REVIEW_ID)
                return;
        strcpy(ret->pos.id, id);
        if (updated && (a->host->parse_time(updated, &ret->pos.usec) < 0 || ret->pos.usec < 0))
                ret->pos.usec = 0;
        ret->usable = true;
}

/* Emits one review. Returns 0 when emitted, 1 when skipped as malformed (*why), or -errno. */
static int review_emit(AppStore *a, const Feed *f, const Item *it, struct earshot_sink *sink,
                       const char **why) {
        const struct earshot_host *h = a->host;
        const cJSON *e = it->json;
        _cleanup_free_ char *id = NULL, *url = NULL;

        if (!cJSON_IsObject(e)) {
                *why = "not an object";
                return 1;
        }
        if (!it->usable) {
                *why = "no numeric id";
                return 1;
        }
        int64_t rating = label_count(e, "im:rating");
        if (rating < 1 || rating > 5) {
                *why = "no rating 1-5";
                return 1;
        }
        const char *text = content_text(e);
        if (!text) {
                *why = "no content";
                return 1;
        }
        id = strjoin("appstore:", it->pos.id);
        if (!id)
                return -ENOMEM;

        const char *link = json_nstr(json_get(json_get(e, "link"), "attributes"), "href");
        if (!link || (strncmp(link, "https://", 8) != 0 && strncmp(link, "http://", 7) != 0)) {
                url = strjoin("https://apps.apple.com/", a->countries[f->country], "/app/id",
                              a->apps[f->app], "?see-all=reviews");
                if (!url)
                        return -ENOMEM;
                link = url;
        }
        const char *author = label(json_get(e, "author"), "name"), *title = label(e, "title");

        struct earshot_post post = {
                .size = sizeof(post),
                .id = id,
                .network = "appstore",
                .url = link,
                .text = text,
                .author_handle = author && *author ? author : NULL,
                .author_name = author && *author ? author : NULL,
                .author_followers = -1,
                .lang = NULL,
                .created_usec = it->pos.usec,
                .replies = -1,
                .reposts = -1,
                .likes = label_count(e, "im:voteSum"),
                .title = title && *title ? title : NULL,
                .reply_to = NULL,
                .rating = rating,
                .edited_usec = 0,
        };
        return h->emit_post(sink, &post);
}

static int appstore_parse_response(void *state, uint32_t i, const char *cursor, const char *page,
                                   const struct earshot_response *resp, struct earshot_sink *sink) {
        AppStore *a = state;
        const struct earshot_host *h = a->host;
        _cleanup_(cJSON_Deletep) cJSON *root = NULL;
        _cleanup_free_ Item *items = NULL;
        Pos cur, newest, oldest = {0};
        bool have_cursor;
        int64_t n_page;
        Feed *f;
        int r;

        r = feed_page(a, i, page, &f, &n_page, &newest);
        if (r < 0)
                return r;
        have_cursor = cursor_parse(a, cursor, &cur);

        r = json_parse_response(h, f->name, resp, &root);
        if (r < 0)
                return r;
        const cJSON *feed = json_get(root, "feed");
        if (!cJSON_IsObject(feed)) {
                h->log(h, EARSHOT_LOG_ERR,
                       "%s: expected a JSON object with a \"feed\" object, got %s", f->name,
                       cJSON_IsObject(root)  ? "an object without it"
                       : cJSON_IsArray(root) ? "an array"
                                             : "a scalar");
                return -EBADMSG;
        }
        f->not_found = 0; /* the feed is there */
        /* no "entry": no reviews; one review: an object; else an array */
        const cJSON *entry = json_get(feed, "entry");
        size_t n = 0;
        if (cJSON_IsArray(entry)) {
                for (const cJSON *e = entry->child; e; e = e->next)
                        if (++n > MAX_ENTRIES_PER_PAGE) {
                                h->log(h, EARSHOT_LOG_ERR,
                                       "%s: more than %d entries in one response; the feed "
                                       "sends about %d",
                                       f->name, MAX_ENTRIES_PER_PAGE, PAGE_SIZE);
                                return -EBADMSG;
                        }
        } else if (cJSON_IsObject(entry))
                n = 1;
        else if (entry && !cJSON_IsNull(entry)) {
                h->log(h, EARSHOT_LOG_ERR, "%s: \"entry\" is neither a list nor an object",
                       f->name);
                return -EBADMSG;
        }

        items = calloc(n ? n : 1, sizeof(Item));
        if (!items)
                return -ENOMEM;
        size_t n_reviews = 0, fill = 0;
        if (cJSON_IsObject(entry))
                item_init(a, entry, &items[0]);
        else
                for (const cJSON *e = cJSON_IsArray(entry) ? entry->child : NULL; e; e = e->next)
                        item_init(a, e, &items[fill++]);
        for (size_t k = 0; k < n; k++) {
                const Item *it = &items[k];
                if (!it->review)
                        continue;
                n_reviews++;
                if (!it->usable)
                        continue;
                if (!pos_set(&newest) || pos_compare(&it->pos, &newest) > 0)
                        newest = it->pos;
                if (!pos_set(&oldest) || pos_compare(&it->pos, &oldest) < 0)
                        oldest = it->pos;
        }

        /* newest first on the wire; emit oldest first, and only what is after the cursor */
        Skipped skipped = {0};
        for (size_t k = n; k > 0; k--) {
                const Item *it = &items[k - 1];
                const char *why = NULL;

                if (!it->review)
                        continue; /* the app's own entry */
                if (have_cursor && it->usable && pos_compare(&it->pos, &cur) <= 0)
                        continue;
                r = review_emit(a, f, it, sink, &why);
                if (r < 0)
                        return r;
                if (r == 1) {
                        h->log(h, EARSHOT_LOG_DEBUG, "%s: skipping entry %zu: %s", f->name, k - 1,
                               why);
                        skipped_add(&skipped, k - 1, why);
                }
        }
        skipped_log(&skipped, h, f->name, n, "entries that are not valid reviews", "entry");

        /* Where the walk stands. */
        const char *gap = NULL;
        bool done;
        if (!have_cursor)
                done = true; /* the first poll: page 1 only */
        else if (!pos_set(&oldest))
                done = true; /* no (usable) reviews: the feed ends here */
        else if (pos_compare(&oldest, &cur) <= 0)
                done = true; /* reached the cursor */
        else if (n_reviews < PAGE_SIZE)
                done = true; /* a short page is the feed's last */
        else if (n_page >= FEED_PAGES) {
                done = true;
                gap = "the App Store feed ends after 10 pages";
        } else if (n_page >= a->max_pages) {
                done = true;
                gap = "max_pages reached";
        } else
                done = false;

        if (gap) {
                h->log(h, EARSHOT_LOG_INFO,
                       "%s: stopped after %" PRId64 " page%s without reaching the last review "
                       "seen (%s)",
                       f->name, n_page, n_page == 1 ? "" : "s", gap);
                int64_t to = oldest.usec > 0 ? oldest.usec : h->now_usec(h);
                if (EARSHOT_HOST_HAS(h, report_gap)) {
                        r = h->report_gap(sink, cur.usec, to, gap);
                        if (r < 0)
                                return r;
                } else
                        h->log(h, EARSHOT_LOG_WARNING,
                               "%s: reviews between the last one seen and the oldest one "
                               "reached may be missed (%s)",
                               f->name, gap);
        }

        if (done) {
                if (pos_set(&newest) && (!have_cursor || pos_compare(&newest, &cur) > 0)) {
                        char buf[128];
                        cursor_format(a, &newest, buf, sizeof(buf));
                        r = h->set_cursor(sink, buf);
                        if (r < 0)
                                return r;
                }
                return 0;
        }

        char token[64];
        (void)snprintf(token, sizeof(token), "%" PRId64 ":%" PRId64 ":%s", n_page + 1,
                       newest.usec > 0 ? newest.usec : 0, newest.id);
        r = h->next_page(sink, token);
        if (r < 0)
                return r;
        return EARSHOT_MORE;
}

static int appstore_parse_error(void *state, uint32_t i, const char *cursor, const char *page,
                                const struct earshot_response *resp, struct earshot_sink *sink) {
        AppStore *a = state;
        const struct earshot_host *h = a->host;
        int64_t n_page;
        Pos newest;
        char cc[3];
        Feed *f;
        int r;

        r = feed_page(a, i, page, &f, &n_page, &newest);
        if (r < 0)
                return r;
        if (resp->status != 404 && resp->status != 400)
                return SOURCE_ERROR_GENERIC;
        const char *app = a->apps[f->app], *country = a->countries[f->country];
        cc[0] = (char)(country[0] - 'a' + 'A');
        cc[1] = (char)(country[1] - 'a' + 'A');
        cc[2] = 0;
        if (n_page > 1)
                return source_fail(h, sink, f->name, EARSHOT_RETRY,
                                   "page %" PRId64 " of the reviews of app %s in the %s store "
                                   "answered HTTP %d; the next poll starts over",
                                   n_page, app, cc, (int)resp->status);
        if (f->not_found < NOT_FOUND_BLOCKS)
                f->not_found++;
        if (f->not_found < NOT_FOUND_BLOCKS)
                return source_fail(h, sink, f->name, EARSHOT_RETRY,
                                   "Apple's review feed answered HTTP %d for app %s in the %s "
                                   "store: no such app there? Check `apps` and `countries` "
                                   "(retried: Apple answers 404 now and then for apps that "
                                   "exist, too)",
                                   (int)resp->status, app, cc);
        return source_fail(h, sink, f->name, EARSHOT_BLOCKED,
                           "no app %s in the %s store (HTTP %d for %d polls in a row): check "
                           "`apps` and `countries`",
                           app, cc, (int)resp->status, NOT_FOUND_BLOCKS);
}

static const struct earshot_option appstore_options[] = {
        {"apps", EARSHOT_OPT_STRLIST, EARSHOT_OPT_REQUIRED, NULL,
         "numeric App Store app ids (the digits in apps.apple.com/us/app/name/id284882215)"},
        {"countries", EARSHOT_OPT_STRLIST, 0, "us",
         "two-letter storefront codes (us, gb, de, ...); one feed per app and country"},
        {"max_pages", EARSHOT_OPT_INT, 0, "10",
         "requests per feed and poll at most, 1..10 (about 50 reviews each; the feed has 10 "
         "pages); a poll that cannot reach back to the last review seen reports a coverage gap"},
        {"base_url", EARSHOT_OPT_URL, 0, "https://itunes.apple.com",
         "feed root (https://, or http:// on loopback for tests)"},
        {.name = NULL},
};

static const struct earshot_source_ops appstore_ops = {
        .size = sizeof(struct earshot_source_ops),
        .create = appstore_create,
        .destroy = appstore_destroy,
        .feed = appstore_feed,
        .build_request = appstore_build_request,
        .parse_response = appstore_parse_response,
        .parse_error = appstore_parse_error,
};

EARSHOT_PLUGIN_DEFINE(.kind = EARSHOT_PLUGIN_SOURCE, .name = "appstore",
                      .description = "customer reviews of apps in Apple's App Store, star "
                                     "rating kept",
                      .options = appstore_options, .source = &appstore_ops);
