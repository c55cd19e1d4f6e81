/* SPDX-License-Identifier: MIT */
/*
 * reddit.c - Reddit submissions and comments as an earshot source: the newest posts and
 * comments of subreddits, and searches, read through Reddit's OAuth API, or, without
 * credentials, through its Atom (.rss) listings.
 *
 * Feeds, named independently of the way they are read (so adding credentials later keeps the
 * cursors):
 *   "r/SUB/new"       GET {oauth_url}/r/SUB/new?limit=L&raw_json=1[&after=FULLNAME]
 *                     or  {www_url}/r/SUB/new/.rss?limit=L
 *   "r/SUB/comments"  GET {oauth_url}/r/SUB/comments?... or {www_url}/r/SUB/comments/.rss?...
 *                     (unless `comments: false`)
 *   "search:QUERY"    GET {oauth_url}/search?q=Q&sort=new&limit=L&raw_json=1[&after=...]
 *                     or  {www_url}/search.rss?q=Q&sort=new&limit=L
 *
 * OAuth. With `client_id`, every request carries "Authorization: bearer TOKEN". The token comes
 * from POST {token_url} with HTTP Basic client_id:client_secret and the form body
 * grant_type=password&username=..&password=.. (a "script" app, logged in as one of its
 * developers) or, without username and password, grant_type=client_credentials (application
 * only); the answer is {"access_token", "token_type": "bearer", "expires_in": 86400}. The token
 * is kept with host->state_set() (in the store, so a restart does not log in again) until 60 s
 * before it expires (a poll that finds less than another minute left logs in first, so a walk
 * never outlives its token), under a key derived from the token URL, grant, client id and user
 * name, so that changed credentials log in afresh. A login is one more request of a poll: when the
 * poll starts without a usable token, its first request is the login (told apart from a listing by
 * the URL it went to), and the poll goes on with the listing (page token "1|"). A listing that
 * answers 401 (the token was revoked or expired early) makes the plugin forget the token and
 * log in again once ("1|login|WALK"); a second 401 in the same poll, or a token endpoint that
 * refuses the credentials (401, or {"error": "invalid_grant"} with 200 or 400), blocks the
 * feed with a message that names the options to fix (EARSHOT_BLOCKED: one operator alert, no
 * loop of logins). Reddit requires a User-Agent of the form
 * "<platform>:<app ID>:<version> (by /u/<username>)" and throttles generic ones, so
 * `user_agent` is required with OAuth, checked loosely at create() and sent on every request.
 * Secrets (client_secret, password, the token) are never logged. The rate-limit headers
 * (X-Ratelimit-Remaining, a float, -Used and -Reset in seconds) are read by the core.
 *
 * Walks and cursors. Listings are newest first and page backwards with after=FULLNAME. A
 * cursor of one fullname (before=) stalls for ever once that item is deleted, so the cursor
 * is "T:IDS": the newest created_utc seen (Unix seconds) and the fullnames of the newest
 * SEEN_MAX items seen, compactly ("3abc" for t3_abc, comma-separated; at most SEEN_BYTES_MAX
 * bytes). A poll reads the newest page, then older ones, until a page holds an item of the
 * seen-set or one created more than OVERLAP_SEC before T (the walk has reached what the last
 * poll saw, even if every item of the seen-set is gone), or the listing ends, or `max_pages`
 * requests were made (then the range from T to the oldest item reached is reported as a
 * coverage gap). Every item not in the seen-set and created after T - OVERLAP_SEC is emitted,
 * oldest first per page: an item that shows up late (a post approved by moderators, a search
 * index that lags) is caught within the overlap. The first poll of a feed (no cursor) takes the
 * newest page only. The walk state (request number, after=, newest time, the new seen-set so
 * far) travels in the page token, and the cursor is set on the walk's last page only, so a
 * walk broken off by a failure starts again from the old cursor. Page tokens are
 * "K|[login|][N:AFTER:TOPT:IDS]", K being the logins made in this poll.
 *
 * Posts. id = the fullname (t3_abc, t1_def), network "reddit", url "https://www.reddit.com" +
 * permalink. Submissions: text = title + "\n" + selftext (Markdown kept as plain text;
 * raw_json=1 keeps Reddit from escaping it as HTML entities), title, replies = num_comments,
 * reposts = num_crossposts. Comments: text = body, reply_to = parent_id (the fullname of the
 * comment or submission it answers); num_comments of a comment is its thread's, so replies is
 * unknown. author_handle = author; likes = score (0 for a negative score); created =
 * created_utc, edited = edited when a time; no language, display name or follower count
 * exists in listings. An item whose author is "[deleted]" or whose text is "[deleted]" or
 * "[removed]" is reported with host->post_deleted() and never emitted: Reddit's terms require
 * dropping content deleted there, and the core marks an alert raised for it. Items of other
 * kinds, and items without a valid fullname, are skipped with one warning per page.
 *
 * Without credentials. Reddit answers anonymous JSON with 403 "Blocked" since 2026 and limits
 * anonymous readers to about 10 requests a minute, so without `client_id` the source reads
 * the Atom listings (reddit-atom.c), one page per poll (no paging: the gap since the last poll
 * is reported when a page holds nothing already seen), and create() warns once that it runs
 * without OAuth: poll slowly (interval 5m or more). A 403 blocks the feed ("set client_id and
 * client_secret"); a 429 is retried with the core's backoff and Retry-After.
 *
 * Other error answers (parse_error): 403 on a listing (a private, quarantined or banned
 * subreddit, or Reddit refusing the client) and 404 (no such subreddit) block the feed naming
 * the subreddit; 429 is retried and explained; anything else (5xx, ...) is left to the core.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "earshot-plugin.h"
#include "plugin-json.h"
#include "plugin-util.h"
#include "reddit.h"

#define LIMIT_MAX 100       /* Reddit's largest page */
#define MAX_PAGES_MAX 48    /* the core follows 50 requests a poll; two may be logins */
#define SEEN_MAX 200        /* fullnames kept in the cursor */
#define SEEN_BYTES_MAX 2800 /* ... in at most this many bytes (cursors and pages: 4096) */
#define FULLNAME_MAX 20     /* "t3_" and a base-36 id; Reddit's ids are 6-7 digits */
#define OVERLAP_SEC 3600    /* late items caught this long before the newest seen */
#define QUERY_MAX 512
#define ITEMS_MAX 1000      /* elements looked at in one response */
#define TOKEN_MARGIN_SEC 60 /* log in again this long before the token expires */
#define TOKEN_MAX 4096
#define TIME_MAX INT64_C(253402300799) /* 9999-12-31T23:59:59Z */
#define USEC_PER_SEC INT64_C(1000000)
#define REDDIT_WEB "https://www.reddit.com"

/* ---- state ----------------------------------------------------------------------------------- */

typedef enum FeedKind {
        FEED_NEW,
        FEED_COMMENTS,
        FEED_SEARCH,
} FeedKind;

typedef struct Feed {
        FeedKind kind;
        const char *term; /* borrowed from Reddit::subs or Reddit::queries */
        char *name;       /* owned: "r/acme/new", "search:acme corp" */
} Feed;

typedef struct Reddit {
        const struct earshot_host *host; /* borrowed, valid until destroy */
        char **subs;                     /* owned: lowercased, without "r/" */
        size_t n_subs;
        char **queries; /* owned: trimmed, blanks collapsed */
        size_t n_queries;
        Feed *feeds; /* owned */
        size_t n_feeds;
        bool oauth;                  /* client_id given */
        char *client_id;             /* owned */
        char *client_secret;         /* owned, secret */
        char *username;              /* owned, NULL for client_credentials */
        char *password;              /* owned, secret */
        char *user_agent;            /* owned, NULL: the core's */
        char *oauth_url, *token_url; /* owned, normalised */
        char *www_url;               /* owned */
        char token_key[32];          /* state key of the access token */
        int64_t limit;
        int64_t max_pages;
} Reddit;

static void secret_free(char *s) {
        if (s) {
                explicit_bzero(s, strlen(s));
                free(s);
        }
}

static void reddit_destroy(void *state) {
        Reddit *r = state;

        if (!r)
                return;
        strv_free_n(r->subs, r->n_subs);
        strv_free_n(r->queries, r->n_queries);
        for (size_t i = 0; i < r->n_feeds; i++)
                free(r->feeds[i].name);
        free(r->feeds);
        free(r->client_id);
        secret_free(r->client_secret);
        free(r->username);
        secret_free(r->password);
        free(r->user_agent);
        free(r->oauth_url);
        free(r->token_url);
        free(r->www_url);
        free(r);
}

static inline void reddit_destroyp(Reddit **r) {
        reddit_destroy(*r);
}

/* ---- options --------------------------------------------------------------------------------- */

/*
 * "r/Acme", "/r/acme/", "acme" -> "acme". Subreddit names are 2-21 letters, digits and '_'
 * (3-21 for new ones, older ones are shorter); several joined by '+' read as one listing.
 */
static int subreddit_parse(const char *s, char **ret, const char **ret_error) {
        while (char_is_blank(*s))
                s++;
        if (*s == '/')
                s++;
        if ((s[0] == 'r' || s[0] == 'R') && s[1] == '/')
                s += 2;
        _cleanup_free_ char *c = strdup(s);
        if (!c)
                return -ENOMEM;
        for (size_t n = strlen(c); n > 0 && (char_is_blank(c[n - 1]) || c[n - 1] == '/'); n--)
                c[n - 1] = 0;
        ascii_lower(c);
        size_t part = 0;
        for (const char *p = c;; p++) {
                if (*p == '+' || *p == 0) {
                        if (part < 2 || part > 21) {
                                *ret_error = "is not a subreddit name (2-21 letters, digits and "
                                             "'_', several joined by '+')";
                                return -EINVAL;
                        }
                        if (*p == 0)
                                break;
                        part = 0;
                } else if (char_is_alnum(*p) || *p == '_')
                        part++;
                else {
                        *ret_error = "is not a subreddit name (2-21 letters, digits and '_', "
                                     "several joined by '+')";
                        return -EINVAL;
                }
        }
        if (strlen(c) > 200) {
                *ret_error = "joins too many subreddits";
                return -EINVAL;
        }
        *ret = c;
        c = NULL;
        return 0;
}

/*
 * Reddit's rule for API clients: "<platform>:<app ID>:<version string> (by /u/<reddit
 * username>)". Checked loosely: three non-empty ':'-separated parts before the first blank,
 * then "(by /u/NAME)" or "(by u/NAME)".
 */
static bool user_agent_valid(const char *ua) {
        const char *sp = strchr(ua, ' '), *p;
        size_t colons = 0;

        for (p = ua; *p; p++)
                if ((unsigned char)*p < ' ' || *p == 0x7f)
                        return false;
        if (!sp || sp == ua)
                return false;
        for (p = ua; p < sp; p++)
                if (*p == ':') {
                        if (p == ua || p[-1] == ':' || p + 1 == sp)
                                return false;
                        colons++;
                }
        if (colons < 2)
                return false;
        p = sp;
        while (*p == ' ')
                p++;
        if (strncasecmp(p, "(by ", 4) != 0)
                return false;
        p += 4;
        if (*p == '/')
                p++;
        if (strncasecmp(p, "u/", 2) != 0)
                return false;
        p += 2;
        size_t n = 0;
        while (char_is_alnum(p[n]) || p[n] == '_' || p[n] == '-')
                n++;
        return n > 0 && p[n] == ')';
}

/* 64-bit FNV-1a of s, continuing from h. */
static uint64_t fnv1a(uint64_t h, const char *s) {
        for (; s && *s; s++) {
                h ^= (unsigned char)*s;
                h *= UINT64_C(0x100000001b3);
        }
        return h ^ 0xff; /* separates "ab"+"c" from "a"+"bc" */
}

static int feed_add(Reddit *r, FeedKind kind, const char *term) {
        Feed *f = &r->feeds[r->n_feeds];

        switch (kind) {
        case FEED_NEW:
                f->name = strjoin("r/", term, "/new");
                break;
        case FEED_COMMENTS:
                f->name = strjoin("r/", term, "/comments");
                break;
        case FEED_SEARCH:
                f->name = strjoin("search:", term);
                break;
        }
        if (!f->name)
                return -ENOMEM;
        f->kind = kind;
        f->term = term;
        r->n_feeds++;
        return 0;
}

static int dup_option(const struct earshot_values *vals, const char *name, char **ret) {
        const char *v = earshot_value_str(vals, name);

        *ret = NULL;
        if (!v || !*v)
                return 0;
        *ret = strdup(v);
        return *ret ? 0 : -ENOMEM;
}

static int reddit_create(const struct earshot_host *host, const struct earshot_values *vals,
                         char *err, size_t err_len, void **ret_state) {
        _cleanup_(reddit_destroyp) Reddit *r = NULL;
        const struct earshot_value *subs, *queries;
        const char *error = NULL;
        int k;

        subs = list_value(vals, "subreddits");
        queries = list_value(vals, "searches");
        if (!subs && !queries)
                return set_error(err, err_len,
                                 "subreddits, searches: give subreddits to follow, searches or "
                                 "both");

        r = calloc(1, sizeof(*r));
        if (!r)
                return -ENOMEM;
        r->host = host;
        r->subs = calloc(subs ? subs->n_list : 1, sizeof(char *));
        r->queries = calloc(queries ? queries->n_list : 1, sizeof(char *));
        if (!r->subs || !r->queries)
                return -ENOMEM;

        for (size_t i = 0; subs && i < subs->n_list && subs->list[i]; i++) {
                char *c = NULL;
                k = subreddit_parse(subs->list[i], &c, &error);
                if (k == -EINVAL)
                        return set_error(err, err_len, "subreddits: '%s' %s", subs->list[i], error);
                if (k < 0)
                        return k;
                list_add_unique(r->subs, &r->n_subs, c);
        }
        for (size_t i = 0; queries && i < queries->n_list && queries->list[i]; i++) {
                _cleanup_free_ char *q = NULL;
                int kq = query_option("searches", queries->list[i], QUERY_MAX, NULL, &q, err,
                                      err_len);
                if (kq < 0)
                        return kq;
                list_add_unique(r->queries, &r->n_queries, q);
                q = NULL;
        }

        if ((k = dup_option(vals, "client_id", &r->client_id)) < 0 ||
            (k = dup_option(vals, "client_secret", &r->client_secret)) < 0 ||
            (k = dup_option(vals, "username", &r->username)) < 0 ||
            (k = dup_option(vals, "password", &r->password)) < 0 ||
            (k = dup_option(vals, "user_agent", &r->user_agent)) < 0)
                return k;
        r->oauth = r->client_id != NULL;
        if (!r->oauth && (r->client_secret || r->username || r->password))
                return set_error(err, err_len,
                                 "client_id: client_secret, username and password need the "
                                 "client_id of a Reddit app (reddit.com/prefs/apps)");
        if (r->oauth && !r->client_secret)
                return set_error(err, err_len,
                                 "client_secret: a client_id needs its app's secret (a \"script\" "
                                 "or \"web\" app at reddit.com/prefs/apps)");
        if (!!r->username != !!r->password)
                return set_error(err, err_len,
                                 "username, password: give both (a script app logs in as one "
                                 "of its developers) or neither (application-only access)");
        for (const char *c = r->client_id; c && *c; c++)
                if ((unsigned char)*c <= ' ' || *c == ':' || *c == 0x7f)
                        return set_error(err, err_len,
                                         "client_id: '%s' is not a Reddit app id (no blanks, "
                                         "':' or control characters)",
                                         r->client_id);
        if (r->oauth && !r->user_agent)
                return set_error(err, err_len,
                                 "user_agent: Reddit requires API clients to identify as "
                                 "'<platform>:<app ID>:<version> (by /u/<username>)', e.g. "
                                 "'linux:com.example.earshot:1.0 (by /u/acme_support)'; "
                                 "generic agents are throttled or blocked");
        if (r->oauth && !user_agent_valid(r->user_agent))
                return set_error(err, err_len,
                                 "user_agent: '%s' is not of the form Reddit requires, "
                                 "'<platform>:<app ID>:<version> (by /u/<username>)', e.g. "
                                 "'linux:com.example.earshot:1.0 (by /u/acme_support)'",
                                 r->user_agent);
        for (const char *c = r->user_agent; c && *c; c++)
                if ((unsigned char)*c < ' ' || *c == 0x7f)
                        return set_error(err, err_len, "user_agent: contains control characters");
        if (r->oauth && !(EARSHOT_HOST_HAS(host, request_login) &&
                          EARSHOT_HOST_HAS(host, state_get) && EARSHOT_HOST_HAS(host, state_set)))
                return set_error(err, err_len,
                                 "client_id: this earshotd cannot keep OAuth tokens (it predates "
                                 "plugin ABI 0.3); update earshotd or drop client_id");

        k = option_base_url("oauth_url",
                            earshot_value_str(vals, "oauth_url") ?: "https://oauth.reddit.com",
                            &r->oauth_url, NULL, err, err_len);
        if (k < 0)
                return k;
        k = option_base_url("token_url",
                            earshot_value_str(vals, "token_url")
                                    ?: "https://www.reddit.com/api/v1/access_token",
                            &r->token_url, NULL, err, err_len);
        if (k < 0)
                return k;
        k = option_base_url("www_url",
                            earshot_value_str(vals, "www_url") ?: "https://www.reddit.com",
                            &r->www_url, NULL, err, err_len);
        if (k < 0)
                return k;
        k = option_int(vals, "limit", LIMIT_MAX, 1, LIMIT_MAX, &r->limit, err, err_len);
        if (k < 0)
                return k;
        k = option_int(vals, "max_pages", 5, 1, MAX_PAGES_MAX, &r->max_pages, err, err_len);
        if (k < 0)
                return k;
        if (r->n_subs == 0 && r->n_queries == 0)
                return set_error(err, err_len, "subreddits, searches: the lists are empty");

        bool comments = earshot_value_num(vals, "comments", 1) != 0;
        r->feeds = calloc(2 * r->n_subs + r->n_queries, sizeof(Feed));
        if (!r->feeds)
                return -ENOMEM;
        for (size_t i = 0; i < r->n_subs; i++) {
                if ((k = feed_add(r, FEED_NEW, r->subs[i])) < 0)
                        return k;
                if (comments && (k = feed_add(r, FEED_COMMENTS, r->subs[i])) < 0)
                        return k;
        }
        for (size_t i = 0; i < r->n_queries; i++)
                if ((k = feed_add(r, FEED_SEARCH, r->queries[i])) < 0)
                        return k;

        /* the token of other credentials (or another token endpoint) is not this one */
        uint64_t hash = UINT64_C(0xcbf29ce484222325);
        hash = fnv1a(hash, r->token_url);
        hash = fnv1a(hash, r->username ? "password" : "client_credentials");
        hash = fnv1a(hash, r->client_id);
        hash = fnv1a(hash, r->username);
        (void)snprintf(r->token_key, sizeof(r->token_key), "token-%016" PRIx64, hash);

        if (!r->oauth)
                host->log(host, EARSHOT_LOG_WARNING,
                          "no client_id: reading Reddit's public RSS listings without OAuth. "
                          "Reddit allows anonymous readers about 10 requests a minute and may "
                          "refuse them altogether (403 \"Blocked\"): keep `interval` at 5m or "
                          "more, or set client_id, client_secret and user_agent");

        *ret_state = r;
        r = NULL;
        return 0;
}

static const char *reddit_feed(void *state, uint32_t i) {
        Reddit *r = state;
        return i < r->n_feeds ? r->feeds[i].name : NULL;
}

/* ---- fullnames and seen-sets ----------------------------------------------------------------- */

/* Whether s is a fullname of a comment or submission: "t1_" or "t3_" and a base-36 id. */
static bool fullname_valid(const char *s) {
        size_t n;

        if (!s || s[0] != 't' || (s[1] != '1' && s[1] != '3') || s[2] != '_')
                return false;
        for (n = 3; s[n]; n++)
                if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'z')))
                        return false;
        return n > 3 && n <= FULLNAME_MAX;
}

/* "t3_abc" -> "3abc", the form the seen-set keeps. */
static void fullname_encode(const char *fullname, char *buf, size_t len) {
        (void)snprintf(buf, len, "%c%s", fullname[1], fullname + 3);
}

/* Whether the comma-separated list ids holds enc. */
static bool seen_has(const char *ids, const char *enc) {
        size_t n = strlen(enc);

        for (const char *p = ids; p && *p;) {
                size_t l = strcspn(p, ",");
                if (l == n && strncmp(p, enc, n) == 0)
                        return true;
                p += l;
                if (*p == ',')
                        p++;
        }
        return false;
}

/* A seen-set being built: a comma-separated list, newest first. */
typedef struct Seen {
        char buf[SEEN_BYTES_MAX + FULLNAME_MAX + 2];
        size_t len;
        size_t n;
} Seen;

static void seen_add(Seen *s, const char *enc) {
        size_t l = strlen(enc);

        if (s->n >= SEEN_MAX || s->len + l + 1 > SEEN_BYTES_MAX || l == 0 || seen_has(s->buf, enc))
                return;
        if (s->len > 0)
                s->buf[s->len++] = ',';
        memcpy(s->buf + s->len, enc, l);
        s->len += l;
        s->buf[s->len] = 0;
        s->n++;
}

/* Every element of the comma-separated list ids added to s, in order. */
static void seen_add_all(Seen *s, const char *ids) {
        char one[FULLNAME_MAX + 1];

        for (const char *p = ids; p && *p;) {
                size_t l = strcspn(p, ",");
                if (l > 0 && l < sizeof(one)) {
                        memcpy(one, p, l);
                        one[l] = 0;
                        seen_add(s, one);
                }
                p += l;
                if (*p == ',')
                        p++;
        }
}

/* Whether s (n bytes) is a list of encoded ids: [1-6][0-9a-z]+ separated by ','. */
static bool ids_valid(const char *s, size_t n) {
        bool start = true;

        for (size_t i = 0; i < n; i++) {
                char c = s[i];
                if (start) {
                        if (c < '1' || c > '6')
                                return false;
                        start = false;
                        if (i + 1 == n || s[i + 1] == ',')
                                return false;
                } else if (c == ',')
                        start = true;
                else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z')))
                        return false;
        }
        return !start || n == 0;
}

/* The cursor "T:IDS". */
typedef struct Mark {
        int64_t t;       /* newest created_utc seen, Unix seconds; 0: unknown */
        const char *ids; /* borrowed from the cursor string */
} Mark;

static int cursor_parse(const char *s, Mark *ret) {
        const char *p = s;
        int64_t t;

        if (parse_num(&p, TIME_MAX, &t) < 0 || *p++ != ':' || !ids_valid(p, strlen(p)) ||
            strlen(p) > SEEN_BYTES_MAX)
                return -EINVAL;
        *ret = (Mark){.t = t, .ids = p};
        return 0;
}

/* ---- page tokens ----------------------------------------------------------------------------- */

typedef struct Page {
        int64_t logins;               /* logins made in this poll, this one included */
        bool login;                   /* this request is a login */
        int64_t n;                    /* request n of the walk (1: the newest page) */
        char after[FULLNAME_MAX + 1]; /* after= for this page; "" on the first */
        int64_t top;                  /* newest created seen in the walk so far; 0: none */
        const char *ids;              /* borrowed: the new seen-set so far */
} Page;

#define PAGE_FIRST ((Page){.n = 1, .ids = ""})

/* "K|[login|][N:AFTER:TOPT:IDS]" */
static int page_parse(const char *s, Page *ret) {
        Page pg = PAGE_FIRST;
        const char *p = s;

        if (parse_num(&p, 2, &pg.logins) < 0 || *p++ != '|')
                return -EINVAL;
        if (strncmp(p, "login|", 6) == 0) {
                pg.login = true;
                p += 6;
        }
        if (*p) {
                const char *after = NULL;
                size_t alen;
                if (parse_num(&p, MAX_PAGES_MAX, &pg.n) < 0 || pg.n < 2 || *p++ != ':')
                        return -EINVAL;
                after = p;
                alen = strcspn(p, ":");
                if (alen == 0 || alen > FULLNAME_MAX)
                        return -EINVAL;
                memcpy(pg.after, after, alen);
                pg.after[alen] = 0;
                if (!fullname_valid(pg.after))
                        return -EINVAL;
                p += alen;
                if (*p++ != ':' || parse_num(&p, TIME_MAX, &pg.top) < 0 || *p++ != ':' ||
                    !ids_valid(p, strlen(p)))
                        return -EINVAL;
                pg.ids = p;
        }
        *ret = pg;
        return 0;
}

/* The token of a walk page: "K|[login|]" and, past the first page, "N:AFTER:TOPT:IDS". */
static void page_format(const Page *pg, char *buf, size_t len) {
        int n = snprintf(buf, len, "%" PRId64 "|%s", pg->logins, pg->login ? "login|" : "");
        if (n > 0 && (size_t)n < len && pg->n > 1)
                (void)snprintf(buf + n, len - (size_t)n, "%" PRId64 ":%s:%" PRId64 ":%s", pg->n,
                               pg->after, pg->top, pg->ids);
}

/* ---- the access token ------------------------------------------------------------------------ */

/*
 * The kept token as "EXPIRES_USEC TOKEN": the token, or NULL when there is none or it expires
 * within TOKEN_MARGIN_SEC (margin true) or has expired (margin false).
 */
static const char *token_get(const Reddit *r, bool margin) {
        const struct earshot_host *h = r->host;
        const char *v = h->state_get(h, r->token_key), *p = v;
        int64_t expires;

        if (!v || parse_num(&p, INT64_MAX / 2, &expires) < 0 || *p != ' ' || !p[1])
                return NULL;
        if (margin && expires - TOKEN_MARGIN_SEC * USEC_PER_SEC <= h->now_usec(h))
                return NULL;
        return p + 1;
}

/* Whether this response answers the login request: the page says so, or (on a poll's first
 * request, which is a login when no token was usable) it came from the token URL. */
static bool is_login(const Reddit *r, const char *page, const Page *pg,
                     const struct earshot_response *resp) {
        if (!r->oauth)
                return false;
        if (page)
                return pg->login;
        if (resp->url) {
                size_t n = strlen(r->token_url);
                return strncasecmp(resp->url, r->token_url, n) == 0 &&
                       (resp->url[n] == 0 || resp->url[n] == '?');
        }
        return !token_get(r, true);
}

static int build_login(Reddit *r, struct earshot_request *req) {
        const struct earshot_host *h = r->host;
        _cleanup_free_ char *body = NULL;
        int k;

        if (r->username) {
                _cleanup_free_ char *user = url_encode(r->username);
                _cleanup_free_ char *pass = url_encode(r->password);
                if (!user || !pass)
                        return -ENOMEM;
                body = strjoin("grant_type=password&username=", user, "&password=", pass);
                if (pass)
                        explicit_bzero(pass, strlen(pass));
        } else
                body = strdup("grant_type=client_credentials");
        if (!body)
                return -ENOMEM;
        if ((k = h->request_method(req, "POST")) < 0 ||
            (k = h->request_url(req, r->token_url)) < 0 ||
            (k = h->request_login(req, r->client_id, r->client_secret)) < 0 ||
            (k = h->request_header(req, "Content-Type", "application/x-www-form-urlencoded")) < 0 ||
            (k = h->request_header(req, "Accept", "application/json")) < 0 ||
            (k = h->request_header(req, "User-Agent", r->user_agent)) < 0)
                return k;
        k = h->request_body(req, body, strlen(body));
        explicit_bzero(body, strlen(body));
        return k;
}

/* ---- requests -------------------------------------------------------------------------------- */

static char *listing_url(const Reddit *r, const Feed *f, const Page *pg) {
        char limit[24];
        _cleanup_free_ char *term = url_encode(f->term);

        if (!term)
                return NULL;
        (void)snprintf(limit, sizeof(limit), "%" PRId64, r->limit);
        if (!r->oauth)
                switch (f->kind) {
                case FEED_NEW:
                        return strjoin(r->www_url, "/r/", f->term, "/new/.rss?limit=", limit);
                case FEED_COMMENTS:
                        return strjoin(r->www_url, "/r/", f->term, "/comments/.rss?limit=", limit);
                case FEED_SEARCH:
                        return strjoin(r->www_url, "/search.rss?q=", term,
                                       "&sort=new&limit=", limit);
                }
        const char *after = pg->n > 1 ? "&after=" : "", *an = pg->n > 1 ? pg->after : "";
        switch (f->kind) {
        case FEED_NEW:
                return strjoin(r->oauth_url, "/r/", f->term, "/new?limit=", limit, "&raw_json=1",
                               after, an);
        case FEED_COMMENTS:
                return strjoin(r->oauth_url, "/r/", f->term, "/comments?limit=", limit,
                               "&raw_json=1", after, an);
        case FEED_SEARCH:
                return strjoin(r->oauth_url, "/search?q=", term, "&sort=new&limit=", limit,
                               "&raw_json=1", after, an);
        }
        return NULL;
}

static int reddit_build_request(void *state, uint32_t i, const char *cursor, const char *page,
                                struct earshot_request *req) {
        Reddit *r = state;
        const struct earshot_host *h = r->host;
        Page pg = PAGE_FIRST;
        const char *token = NULL;
        int k;

        if (i >= r->n_feeds)
                return -EINVAL;
        const Feed *f = &r->feeds[i];
        if (page && page_parse(page, &pg) < 0)
                return -EINVAL;
        if (r->oauth) {
                if (page ? pg.login : !token_get(r, true))
                        return build_login(r, req);
                token = token_get(r, false);
                if (!token) {
                        /* the token kept a moment ago is gone (the store failed?) */
                        h->log(h, EARSHOT_LOG_ERR, "%s: the access token is gone mid-poll",
                               f->name);
                        return -ENOKEY;
                }
        }
        _cleanup_free_ char *url = listing_url(r, f, &pg);
        if (!url)
                return -ENOMEM;
        k = request_get(h, req, url,
                        r->oauth ? "application/json" : "application/atom+xml, application/xml");
        if (k < 0)
                return k;
        if (r->user_agent && (k = h->request_header(req, "User-Agent", r->user_agent)) < 0)
                return k;
        if (token) {
                _cleanup_free_ char *auth = strjoin("bearer ", token);
                if (!auth)
                        return -ENOMEM;
                k = h->request_header(req, "Authorization", auth);
                explicit_bzero(auth, strlen(auth));
        }
        return k;
}

/* ---- the login answer ------------------------------------------------------------------------ */

/* Why the token endpoint refused, for the operator, naming the options to fix. */
static int login_refused(Reddit *r, const Feed *f, struct earshot_sink *sink, int status,
                         const char *code) {
        const struct earshot_host *h = r->host;
        char c[64];

        if (code && strcmp(code, "invalid_grant") == 0 && r->username)
                return source_fail(h, sink, f->name, EARSHOT_BLOCKED,
                                   "Reddit refused the login of '%s' (invalid_grant): check "
                                   "username and password (the account must be a developer of "
                                   "the app, and accounts with two-factor authentication cannot "
                                   "log in this way)",
                                   r->username);
        if (status == 401 || (code && strcmp(code, "invalid_client") == 0))
                return source_fail(h, sink, f->name, EARSHOT_BLOCKED,
                                   "Reddit refused the app's credentials (HTTP %d from the token "
                                   "endpoint): check client_id and client_secret (the id is "
                                   "under the app's name at reddit.com/prefs/apps; a revoked or "
                                   "deleted app needs new ones)",
                                   status);
        if (status == 403)
                return source_fail(h, sink, f->name, EARSHOT_BLOCKED,
                                   "Reddit refused to log in the app (HTTP 403 from the token "
                                   "endpoint): the app of client_id may not be approved for "
                                   "API access, or Reddit blocks this client; check client_id, "
                                   "client_secret and user_agent");
        return source_fail(h, sink, f->name, EARSHOT_BLOCKED,
                           "Reddit's token endpoint answered HTTP %d%s%s%s: check client_id, "
                           "client_secret%s",
                           status, code ? " (" : "",
                           code ? text_oneline(c, sizeof(c), code, NULL) : "", code ? ")" : "",
                           r->username ? ", username and password" : "");
}

static int login_response(Reddit *r, const Feed *f, const Page *pg,
                          const struct earshot_response *resp, struct earshot_sink *sink) {
        const struct earshot_host *h = r->host;
        _cleanup_(cJSON_Deletep) cJSON *root = NULL;
        const char *why = NULL, *token, *type, *code;
        char buf[TOKEN_MAX + 32], next[4096];
        int64_t expires_in, expires;
        int k;

        if (json_load(resp, &root, &why) < 0) {
                h->log(h, EARSHOT_LOG_ERR, "%s: the token endpoint's answer %s (%zu bytes)",
                       f->name, why, resp->body ? resp->body_len : 0);
                return -EBADMSG;
        }
        /* Reddit answers a wrong password with 200 {"error": "invalid_grant"} */
        code = json_nstr(root, "error");
        if (!code && cJSON_IsNumber(json_get(root, "error")))
                return login_refused(r, f, sink, (int)json_get(root, "error")->valuedouble, NULL);
        if (code)
                return login_refused(r, f, sink, resp->status, code);
        token = json_nstr(root, "access_token");
        type = json_nstr(root, "token_type");
        if (!token || strlen(token) > TOKEN_MAX || (type && strcasecmp(type, "bearer") != 0)) {
                h->log(h, EARSHOT_LOG_ERR,
                       "%s: the token endpoint's answer has no bearer access_token", f->name);
                return -EBADMSG;
        }
        for (const char *c = token; *c; c++)
                if ((unsigned char)*c <= ' ' || (unsigned char)*c >= 0x7f) {
                        h->log(h, EARSHOT_LOG_ERR,
                               "%s: the access token holds characters a header cannot carry",
                               f->name);
                        return -EBADMSG;
                }
        expires_in = json_int(root, "expires_in", INT64_C(10) * 365 * 86400);
        if (expires_in <= 0)
                expires_in = 3600; /* Reddit's tokens last an hour or a day */
        expires = h->now_usec(h) + (expires_in - TOKEN_MARGIN_SEC) * USEC_PER_SEC;
        if (expires_in <= 2 * TOKEN_MARGIN_SEC)
                expires = h->now_usec(h) + expires_in * USEC_PER_SEC / 2;
        (void)snprintf(buf, sizeof(buf), "%" PRId64 " %s", expires, token);
        k = h->state_set(h, r->token_key, buf, expires);
        explicit_bzero(buf, sizeof(buf));
        if (k < 0) {
                h->log(h, EARSHOT_LOG_ERR, "%s: cannot keep the access token: %s", f->name,
                       strerror(-k));
                return k;
        }
        h->log(h, EARSHOT_LOG_INFO, "%s: logged in to Reddit as %s (token valid %" PRId64 "s)",
               f->name, r->username ? r->username : "the app", expires_in);

        Page cont = *pg;
        cont.login = false;
        page_format(&cont, next, sizeof(next));
        k = h->next_page(sink, next);
        return k < 0 ? k : EARSHOT_MORE;
}

/* ---- walks ----------------------------------------------------------------------------------- */

/* One element of a listing, as the walk sees it. */
typedef struct Item {
        char id[FULLNAME_MAX + 1];  /* fullname */
        char enc[FULLNAME_MAX + 1]; /* in the seen-set's form */
        int64_t t;                  /* created, Unix seconds; -1 unknown */
        bool deleted;               /* "[deleted]" or "[removed]" */
        const char *why;            /* set: not usable, skipped for this reason */
        const void *src;            /* the cJSON data object or the AtomEntry */
} Item;

typedef int (*EmitFn)(Reddit *r, const Feed *f, const Item *it, struct earshot_sink *sink,
                      const char **why);

static int set_cursor_if_new(Reddit *r, struct earshot_sink *sink, const char *old, int64_t t,
                             const Seen *ids) {
        char buf[sizeof(((Seen *)0)->buf) + 32];

        (void)snprintf(buf, sizeof(buf), "%" PRId64 ":%s", t, ids->buf);
        if (old && strcmp(old, buf) == 0)
                return 0;
        return r->host->set_cursor(sink, buf);
}

/*
 * Go through one page (items[0] newest): emit what the last poll did not see, report deleted
 * items, then either ask for the next page (after=next_after) or end the walk: set the cursor
 * and report a gap if the walk could not reach the old cursor. `paged`: the listing has pages
 * (JSON); the Atom listings are read one page a poll.
 */
static int walk_page(Reddit *r, const Feed *f, const char *cursor, const char *page, const Page *pg,
                     Item *items, size_t n, const char *next_after, bool paged, EmitFn emit,
                     struct earshot_sink *sink) {
        const struct earshot_host *h = r->host;
        Mark old = {.t = 0, .ids = ""};
        bool have_old = false, reached = false;
        Seen *fresh = NULL;
        Skipped skipped = {0};
        int64_t top = pg->top, oldest = -1;
        int k = 0;

        if (cursor) {
                have_old = cursor_parse(cursor, &old) >= 0;
                if (!have_old && pg->n == 1)
                        h->log(h, EARSHOT_LOG_WARNING,
                               "%s: cannot read the cursor \"%.64s\"; starting afresh from the "
                               "newest page",
                               f->name, cursor);
        }
        fresh = calloc(1, sizeof(Seen));
        if (!fresh)
                return -ENOMEM;
        seen_add_all(fresh, pg->ids);

        int64_t floor = old.t > OVERLAP_SEC ? old.t - OVERLAP_SEC : 0;
        for (size_t j = 0; j < n; j++) {
                Item *it = &items[j];
                if (it->why)
                        continue;
                seen_add(fresh, it->enc);
                if (it->t > top)
                        top = it->t;
                if (it->t >= 0 && (oldest < 0 || it->t < oldest))
                        oldest = it->t;
                if (have_old && (seen_has(old.ids, it->enc) || (it->t >= 0 && it->t < floor)))
                        reached = true;
        }
        /* oldest first, as they were posted */
        for (size_t j = n; j > 0; j--) {
                Item *it = &items[j - 1];
                const char *why = it->why;
                if (!why && it->deleted) {
                        k = EARSHOT_HOST_HAS(h, post_deleted)
                                    ? h->post_deleted(sink, "reddit", it->id)
                                    : 0;
                        if (k < 0)
                                goto out;
                        continue;
                }
                if (!why && have_old &&
                    (seen_has(old.ids, it->enc) || (it->t >= 0 && it->t < floor)))
                        continue;
                if (!why) {
                        k = emit(r, f, it, sink, &why);
                        if (k < 0)
                                goto out;
                        if (k == 0)
                                continue;
                }
                skipped_add(&skipped, j - 1, why);
        }
        skipped_log(&skipped, h, f->name, n, "listing items that are not valid posts", "item");

        bool first = !have_old;
        bool more = paged && next_after && (int64_t)n >= r->limit;
        bool stop = first || reached || !more || pg->n >= r->max_pages;
        if (stop && !first && !reached && n > 0 && oldest > old.t) {
                /* the walk ends short of what the last poll saw */
                const char *reason = !paged                   ? "feed window"
                                     : more                   ? "max_pages"
                                     : (int64_t)n >= r->limit ? "end of Reddit's listing"
                                                              : NULL;
                if (reason && EARSHOT_HOST_HAS(h, report_gap)) {
                        k = h->report_gap(sink, old.t * USEC_PER_SEC, oldest * USEC_PER_SEC,
                                          reason);
                        if (k < 0)
                                goto out;
                } else if (reason)
                        h->log(h, EARSHOT_LOG_WARNING,
                               "%s: coverage gap (%s): posts between %" PRId64 " and %" PRId64
                               " (Unix time) may be missed",
                               f->name, reason, old.t, oldest);
                if (paged && more)
                        h->log(h, EARSHOT_LOG_INFO,
                               "%s: stopped after %" PRId64 " page%s before reaching the cursor",
                               f->name, pg->n, pg->n == 1 ? "" : "s");
        }

        if (stop) {
                seen_add_all(fresh, old.ids);
                k = 0;
                if (fresh->n > 0 || top > 0)
                        k = set_cursor_if_new(r, sink, cursor, top > old.t ? top : old.t, fresh);
                goto out;
        }

        Page nx = *pg;
        char token[4096];
        nx.login = false;
        nx.n = pg->n + 1;
        (void)snprintf(nx.after, sizeof(nx.after), "%s", next_after);
        nx.top = top;
        nx.ids = fresh->buf;
        page_format(&nx, token, sizeof(token));
        k = h->next_page(sink, token);
        if (k >= 0)
                k = EARSHOT_MORE;
out:
        free(fresh);
        return k;
}

/* ---- JSON listings --------------------------------------------------------------------------- */

static bool is_gone(const char *s) {
        return s && (strcmp(s, "[deleted]") == 0 || strcmp(s, "[removed]") == 0);
}

static int emit_json(Reddit *r, const Feed *f, const Item *it, struct earshot_sink *sink,
                     const char **why) {
        const struct earshot_host *h = r->host;
        const cJSON *d = it->src, *edited = json_get(d, "edited"), *score = json_get(d, "score");
        const char *permalink = json_nstr(d, "permalink"), *title = NULL;
        _cleanup_free_ char *text = NULL, *url = NULL;
        bool t3 = it->id[1] == '3';

        if (t3) {
                const char *self = json_str(d, "selftext");
                title = json_nstr(d, "title");
                if (!title) {
                        *why = "a submission without a title";
                        return 1;
                }
                text = self && *self ? strjoin(title, "\n", self) : strdup(title);
        } else {
                const char *body = json_nstr(d, "body");
                if (!body) {
                        *why = "a comment without a body";
                        return 1;
                }
                text = strdup(body);
        }
        if (!text)
                return -ENOMEM;
        if (permalink && permalink[0] == '/' && !(url = strjoin(REDDIT_WEB, permalink)))
                return -ENOMEM;

        int64_t likes = -1;
        if (cJSON_IsNumber(score) && score->valuedouble > -9.0e18 && score->valuedouble < 9.0e18)
                likes = score->valuedouble > 0 ? (int64_t)score->valuedouble : 0;
        int64_t edited_usec = 0;
        if (cJSON_IsNumber(edited) && edited->valuedouble > 0 &&
            edited->valuedouble < (double)TIME_MAX)
                edited_usec = (int64_t)(edited->valuedouble * 1e6);
        const char *parent = t3 ? NULL : json_nstr(d, "parent_id");
        /* created_utc to the microsecond (it->t is whole seconds) */
        int64_t created = it->t >= 0 ? (int64_t)(json_get(d, "created_utc")->valuedouble * 1e6) : 0;

        struct earshot_post p = {
                .size = sizeof(p),
                .id = it->id,
                .network = "reddit",
                .url = url,
                .text = text,
                .author_handle = json_nstr(d, "author"),
                .author_name = NULL,
                .author_followers = -1,
                .lang = NULL,
                .created_usec = created,
                .replies = t3 ? json_count(d, "num_comments") : -1,
                .reposts = t3 ? json_count(d, "num_crossposts") : -1,
                .likes = likes,
                .title = title,
                .reply_to = parent && fullname_valid(parent) ? parent : NULL,
                .rating = 0,
                .edited_usec = edited_usec,
        };
        return h->emit_post(sink, &p);
}

static void json_item(const cJSON *child, Item *it) {
        const char *kind = json_nstr(child, "kind"), *name, *author;
        const cJSON *d = json_obj(child, "data"), *created;

        memset(it, 0, sizeof(*it));
        it->t = -1;
        it->src = d;
        if (!cJSON_IsObject(child) || !d) {
                it->why = "not a {kind, data} object";
                return;
        }
        if (!kind || (strcmp(kind, "t3") != 0 && strcmp(kind, "t1") != 0)) {
                it->why = "neither a submission (t3) nor a comment (t1)";
                return;
        }
        name = json_nstr(d, "name");
        if (!fullname_valid(name) || name[1] != kind[1]) {
                it->why = "no valid fullname";
                return;
        }
        (void)snprintf(it->id, sizeof(it->id), "%s", name);
        fullname_encode(name, it->enc, sizeof(it->enc));
        created = json_get(d, "created_utc");
        if (cJSON_IsNumber(created) && created->valuedouble > 0 &&
            created->valuedouble < (double)TIME_MAX)
                it->t = (int64_t)created->valuedouble;
        author = json_nstr(d, "author");
        it->deleted = (author && strcmp(author, "[deleted]") == 0) ||
                      is_gone(json_str(d, kind[1] == '3' ? "selftext" : "body"));
}

static int parse_json_listing(Reddit *r, const Feed *f, const char *cursor, const char *page,
                              const Page *pg, const struct earshot_response *resp,
                              struct earshot_sink *sink) {
        const struct earshot_host *h = r->host;
        _cleanup_(cJSON_Deletep) cJSON *root = NULL;
        _cleanup_free_ Item *items = NULL;
        const cJSON *data, *children;
        size_t n = 0;
        int k;

        k = json_parse_response(h, f->name, resp, &root);
        if (k < 0)
                return k;
        data = json_obj(root, "data");
        children = json_get(data, "children");
        if (!cJSON_IsArray(children)) {
                h->log(h, EARSHOT_LOG_ERR,
                       "%s: expected a Listing ({\"kind\": \"Listing\", \"data\": {\"children\": "
                       "[...]}}), got %s",
                       f->name, cJSON_IsObject(root) ? "another object" : "another JSON value");
                return -EBADMSG;
        }
        items = calloc(ITEMS_MAX, sizeof(Item));
        if (!items)
                return -ENOMEM;
        for (const cJSON *c = children->child; c; c = c->next) {
                if (n == ITEMS_MAX) {
                        h->log(h, EARSHOT_LOG_WARNING,
                               "%s: more than %d items in one listing; looking at the first %d",
                               f->name, ITEMS_MAX, ITEMS_MAX);
                        break;
                }
                json_item(c, &items[n++]);
        }
        /* after= the listing's own cursor (the last item's fullname); null: the end */
        const char *after = json_nstr(data, "after");
        if (after && !fullname_valid(after))
                after = NULL;
        return walk_page(r, f, cursor, page, pg, items, n, after, true, emit_json, sink);
}

/* ---- Atom listings --------------------------------------------------------------------------- */

static int emit_atom(Reddit *r, const Feed *f, const Item *it, struct earshot_sink *sink,
                     const char **why) {
        const AtomEntry *e = it->src;
        _cleanup_free_ char *text = NULL;
        bool t3 = it->id[1] == '3';
        const char *title = t3 ? e->title : NULL;

        if (t3 && !title) {
                *why = "a submission without a title";
                return 1;
        }
        if (t3)
                text = *e->text ? strjoin(title, "\n", e->text) : strdup(title);
        else if (*e->text)
                text = strdup(e->text);
        else {
                *why = "a comment without text";
                return 1;
        }
        if (!text)
                return -ENOMEM;
        struct earshot_post p = {
                .size = sizeof(p),
                .id = it->id,
                .network = "reddit",
                .url = e->link,
                .text = text,
                .author_handle = e->author,
                .author_followers = -1,
                .created_usec = e->created,
                .replies = -1,
                .reposts = -1,
                .likes = -1,
                .title = title,
                .edited_usec = e->edited,
        };
        return r->host->emit_post(sink, &p);
}

static int parse_atom_listing(Reddit *r, const Feed *f, const char *cursor, const char *page,
                              const Page *pg, const struct earshot_response *resp,
                              struct earshot_sink *sink) {
        const struct earshot_host *h = r->host;
        AtomEntry *entries = NULL;
        const char *why = NULL;
        size_t n = 0;
        int k;

        k = reddit_atom_parse(h, resp->body, resp->body ? resp->body_len : 0, &entries, &n, &why);
        if (k == -EBADMSG)
                h->log(h, EARSHOT_LOG_ERR, "%s: response %s (%zu bytes)", f->name, why,
                       resp->body ? resp->body_len : 0);
        if (k < 0)
                return k;
        Item *items = calloc(n ? n : 1, sizeof(Item));
        if (!items) {
                atom_entries_free(entries, n);
                return -ENOMEM;
        }
        for (size_t j = 0; j < n; j++) {
                const AtomEntry *e = &entries[j];
                Item *it = &items[j];
                it->t = e->created > 0 ? e->created / USEC_PER_SEC : -1;
                it->src = e;
                if (!fullname_valid(e->id)) {
                        it->why = "no fullname as <id>";
                        continue;
                }
                (void)snprintf(it->id, sizeof(it->id), "%s", e->id);
                fullname_encode(e->id, it->enc, sizeof(it->enc));
                it->deleted = !e->author || strcmp(e->author, "[deleted]") == 0 || is_gone(e->text);
        }
        k = walk_page(r, f, cursor, page, pg, items, n, NULL, false, emit_atom, sink);
        free(items);
        atom_entries_free(entries, n);
        return k;
}

static int reddit_parse_response(void *state, uint32_t i, const char *cursor, const char *page,
                                 const struct earshot_response *resp, struct earshot_sink *sink) {
        Reddit *r = state;
        Page pg = PAGE_FIRST;

        if (i >= r->n_feeds)
                return -EINVAL;
        const Feed *f = &r->feeds[i];
        if (page && page_parse(page, &pg) < 0)
                return -EINVAL;
        if (is_login(r, page, &pg, resp)) {
                if (!page)
                        pg.logins = 1;
                return login_response(r, f, &pg, resp, sink);
        }
        if (!r->oauth)
                return parse_atom_listing(r, f, cursor, page, &pg, resp, sink);
        return parse_json_listing(r, f, cursor, page, &pg, resp, sink);
}

/* ---- error answers --------------------------------------------------------------------------- */

/* What the listing of feed f is, for messages: "r/acme" or "the search 'acme corp'". */
static void feed_what(const Feed *f, char *buf, size_t len) {
        if (f->kind == FEED_SEARCH)
                (void)snprintf(buf, len, "the search '%s'", f->term);
        else
                (void)snprintf(buf, len, "r/%s", f->term);
}

static int reddit_parse_error(void *state, uint32_t i, const char *cursor, const char *page,
                              const struct earshot_response *resp, struct earshot_sink *sink) {
        Reddit *r = state;
        const struct earshot_host *h = r->host;
        _cleanup_(cJSON_Deletep) cJSON *root = NULL;
        const char *why = NULL, *code = NULL, *reason = NULL;
        Page pg = PAGE_FIRST;
        char what[600], c[64], rs[64];
        int k;

        if (i >= r->n_feeds)
                return -EINVAL;
        const Feed *f = &r->feeds[i];
        if (page && page_parse(page, &pg) < 0)
                return -EINVAL;
        if (json_load(resp, &root, &why) == 0) {
                code = json_nstr(root, "error");
                reason = json_nstr(root, "reason");
        }
        if (code)
                code = text_oneline(c, sizeof(c), code, NULL);
        if (reason)
                reason = text_oneline(rs, sizeof(rs), reason, NULL);
        feed_what(f, what, sizeof(what));

        if (is_login(r, page, &pg, resp)) {
                if (resp->status == 429 || resp->status >= 500)
                        return SOURCE_ERROR_GENERIC;
                return login_refused(r, f, sink, resp->status, code);
        }

        if (resp->status == 401 && r->oauth) {
                if (pg.logins == 0) {
                        /* revoked or expired early: forget it, log in once more */
                        char next[4096];
                        Page again = pg;
                        k = h->state_set(h, r->token_key, NULL, 0);
                        if (k < 0)
                                return k;
                        again.logins = 1;
                        again.login = true;
                        page_format(&again, next, sizeof(next));
                        h->log(h, EARSHOT_LOG_INFO,
                               "%s: Reddit refused the access token (HTTP 401); logging in again",
                               f->name);
                        k = h->next_page(sink, next);
                        return k < 0 ? k : EARSHOT_MORE;
                }
                /* the next attempt (after the blocked pause) starts with a login */
                k = h->state_set(h, r->token_key, NULL, 0);
                if (k < 0)
                        return k;
                return source_fail(h, sink, f->name, EARSHOT_BLOCKED,
                                   "Reddit refused a fresh access token for %s (HTTP 401): check "
                                   "client_id, client_secret%s and that the app is still "
                                   "authorised",
                                   what, r->username ? ", username, password" : "");
        }
        if (resp->status == 403) {
                if (!r->oauth)
                        return source_fail(h, sink, f->name, EARSHOT_BLOCKED,
                                           "Reddit refuses anonymous access (HTTP 403 for %s): "
                                           "set client_id and client_secret (and user_agent) "
                                           "of a Reddit app",
                                           what);
                if (reason &&
                    (strcmp(reason, "private") == 0 || strcmp(reason, "quarantined") == 0 ||
                     strcmp(reason, "gold_only") == 0 || strcmp(reason, "banned") == 0))
                        return source_fail(h, sink, f->name, EARSHOT_BLOCKED,
                                           "%s is %s (HTTP 403): remove it from `subreddits`", what,
                                           reason);
                return source_fail(h, sink, f->name, EARSHOT_BLOCKED,
                                   "Reddit refuses %s (HTTP 403%s%s): a private or banned "
                                   "subreddit, or a client Reddit blocks; check `subreddits`, "
                                   "client_id and user_agent",
                                   what, reason ? ", " : "", reason ? reason : "");
        }
        if (resp->status == 404 && f->kind != FEED_SEARCH)
                return source_fail(h, sink, f->name, EARSHOT_BLOCKED,
                                   "%s does not exist or was banned (HTTP 404%s%s): check "
                                   "`subreddits`",
                                   what, reason ? ", " : "", reason ? reason : "");
        if (resp->status == 429)
                return source_fail(h, sink, f->name, EARSHOT_RETRY,
                                   r->oauth ? "Reddit's rate limit (about 100 requests a minute "
                                              "per client_id): a longer `interval` or fewer "
                                              "feeds help"
                                            : "Reddit's rate limit for anonymous readers (about "
                                              "10 requests a minute): keep `interval` at 5m or "
                                              "more, or set client_id and client_secret");
        return SOURCE_ERROR_GENERIC;
}

static const struct earshot_option reddit_options[] = {
        {"subreddits", EARSHOT_OPT_STRLIST, 0, NULL,
         "subreddits to follow (\"acme\" or \"r/acme\"): their newest posts (/r/SUB/new)"},
        {"searches", EARSHOT_OPT_STRLIST, 0, NULL,
         "search queries over all of Reddit, newest first (/search?q=...&sort=new)"},
        {"comments", EARSHOT_OPT_BOOL, 0, "true",
         "also follow the subreddits' newest comments (/r/SUB/comments)"},
        {"client_id", EARSHOT_OPT_STRING, 0, NULL,
         "the id of a Reddit app (reddit.com/prefs/apps) for OAuth; without it the source reads "
         "the public RSS listings, slowly"},
        {"client_secret", EARSHOT_OPT_STRING, EARSHOT_OPT_SECRET, NULL, "the app's secret"},
        {"username", EARSHOT_OPT_STRING, 0, NULL,
         "for a \"script\" app: the Reddit account to log in as (password grant); without it, "
         "application-only access (client_credentials)"},
        {"password", EARSHOT_OPT_STRING, EARSHOT_OPT_SECRET, NULL, "that account's password"},
        {"user_agent", EARSHOT_OPT_STRING, 0, NULL,
         "required with client_id: \"<platform>:<app ID>:<version> (by /u/<username>)\", as "
         "Reddit's API rules demand"},
        {"oauth_url", EARSHOT_OPT_URL, 0, "https://oauth.reddit.com", "base URL of the OAuth API"},
        {"token_url", EARSHOT_OPT_URL, 0, "https://www.reddit.com/api/v1/access_token",
         "URL of the token endpoint"},
        {"www_url", EARSHOT_OPT_URL, 0, "https://www.reddit.com",
         "base URL of the RSS listings (used without client_id)"},
        {"limit", EARSHOT_OPT_INT, 0, "100", "items per request, 1..100"},
        {"max_pages", EARSHOT_OPT_INT, 0, "5",
         "requests per feed and poll at most, 1..48; a poll stopped before the cursor records a "
         "coverage gap"},
        {.name = NULL},
};

static const struct earshot_source_ops reddit_ops = {
        .size = sizeof(struct earshot_source_ops),
        .create = reddit_create,
        .destroy = reddit_destroy,
        .feed = reddit_feed,
        .build_request = reddit_build_request,
        .parse_response = reddit_parse_response,
        .parse_error = reddit_parse_error,
};

EARSHOT_PLUGIN_DEFINE(.kind = EARSHOT_PLUGIN_SOURCE, .name = "reddit",
                      .description = "Reddit submissions and comments: subreddits and searches, "
                                     "through OAuth or the public RSS listings",
                      .options = reddit_options, .source = &reddit_ops);
