/* SPDX-License-Identifier: MIT */
/*
 * bluesky.c - Bluesky (AT Protocol) posts as an earshot source: keyword searches through the
 * account's PDS with a login, and accounts' feeds from the public AppView.
 *
 * Feeds:
 *   "PDS#q:QUERY"      GET {pds}/xrpc/app.bsky.feed.searchPosts?q=Q&sort=latest&limit=L
 *                          [&since=T][&lang=X][&cursor=C]  with Authorization: Bearer ACCESS
 *                          -> {posts: postView[], cursor?}
 *   "APPVIEW#@ACTOR"   GET {appview}/xrpc/app.bsky.feed.getAuthorFeed?actor=A&limit=L
 *                          &filter=posts_with_replies[&cursor=C]   (public, no login)
 *                          -> {feed: [{post, reply?, reason?}], cursor?}
 * Search has needed a login since January 2025 (the public AppView answers 403 "Request
 * forbidden"), so it goes to the account's PDS, which proxies it to the AppView.
 *
 * The login (com.atproto.server.createSession, POST {identifier, password} -> {accessJwt,
 * refreshJwt, did, handle}) is a request of the poll, like any other. The session is kept in the
 * store (state_set "session", with the PDS and identifier it belongs to) so a restart does not
 * log in again: Bluesky allows 30 createSession calls per 5 minutes and 300 a day per account.
 * The access token is used until its exp claim (less a fifth of its life, at most a minute),
 * then renewed with com.atproto.server.refreshSession (POST, Authorization: Bearer REFRESH);
 * when the refresh token is refused (ExpiredToken, InvalidToken), or a request answers 400/401
 * ExpiredToken or InvalidToken after a refresh, the source logs in again, at most once per
 * poll. The feeds of a source share the session: a feed whose request was refused after
 * another feed renewed the session tries the renewed one first, instead of throwing it away.
 * A login refused with 401 (AuthenticationRequired, "Invalid identifier or password") blocks
 * the search feeds with one explanation naming `identifier` and `app_password` (and forgets the
 * session); an AppView given as `pds` (no createSession there) blocks them too, naming `pds`;
 * a 429 pauses the source until RateLimit-Reset. No token or password is ever logged or put in a
 * URL.
 *
 * Which request a response answers: build_request() records, per feed, the step it built
 * (login, refresh, page or profiles): the first request of a poll has no page token to say it,
 * and a page request turns into a login or refresh when the session needs one. Page tokens are
 * "K C N FLAGS TOPT TOPURI CURSOR DIDS": K the step asked for (L login, R refresh, P page,
 * F profiles), C the step that follows a login or refresh (P or F), N the page of the walk,
 * FLAGS "r" (refreshed in this poll), "l" (logged in in this poll), "p" (this page's authors
 * were looked up), TOPT TOPURI the cursor to set at the end of the walk, CURSOR the API's
 * cursor for page N (percent-encoded) and DIDS the authors still to look up; "-" for none.
 *
 * Cursor "USEC URI": the newest post seen (indexedAt, the server's time, else createdAt) and its
 * AT URI. Both APIs list newest first, so a poll walks backwards from the newest page until a
 * page reaches a post at or before the cursor's time, the API gives no further cursor, or
 * `max_pages` (then the range it could not reach is reported with report_gap()); the new cursor
 * is set only when the walk ends. Posts within OVERLAP before the cursor are emitted again (the
 * core drops what it saw already) for servers that index late; searches also ask since=cursor
 * time less OVERLAP so the server cuts the list. The first poll of a feed takes the newest page
 * only. Reposts and pinned posts in an author feed (items with a `reason`) are skipped: their
 * order is the repost's, and the original is not the watched account's.
 *
 * Follower counts are not in a postView. Before a page's posts are emitted, the authors without
 * a cached count are looked up with app.bsky.actor.getProfiles (25 per request, as extra
 * requests of the poll), then the page is asked again and emitted with the counts: one more
 * request per page with new authors, in exchange for counts that rules (min_followers) can use
 * on the first post of an author. An author the network does not return is cached as unknown
 * (-1). The counts live in one state value "profiles" ("DID COUNT TIME" lines, newest first,
 * at most PROFILES_MAX entries within 64 KiB, entries older than `profile_cache` dropped).
 * `max_pages` is capped at 8 so that a walk, its lookups and a login fit the core's 50 requests
 * per poll.
 *
 * Posts: id the AT URI, url https://bsky.app/profile/HANDLE/post/RKEY, text record.text with
 * link facets expanded (bluesky-parse.c), lang record.langs[0], created record.createdAt (else
 * indexedAt), reply_to record.reply.parent.uri, replies/reposts/likes from the postView. With
 * `lang` set, a post that names languages, none of them wanted, is not emitted (a post naming
 * none is); a single `lang` is also passed to searchPosts.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "bluesky-parse.h"
#include "earshot-plugin.h"
#include "plugin-json.h"
#include "plugin-util.h"

#define LIMIT_MAX 100   /* searchPosts and getAuthorFeed answer 100 at most */
#define MAX_PAGES_MAX 8 /* 2 auth + 8 * (page + 4 lookups + page again) <= 50 requests */
#define PROFILES_PER_REQUEST 25
#define ITEMS_MAX 200 /* elements looked at in one response */
#define QUERY_MAX 512
#define TOKEN_DIDS_MAX 3000 /* bytes of DIDs carried in a page token */
#define TOKEN_MAX 4000      /* the core keeps 4096 bytes of a page token */
#define API_CURSOR_MAX 512
#define USEC_PER_SEC INT64_C(1000000)
#define OVERLAP (2 * 60 * USEC_PER_SEC)
#define ACCESS_DEFAULT (60 * 60 * USEC_PER_SEC)         /* when the JWT does not say */
#define REFRESH_DEFAULT (60 * 24 * 3600 * USEC_PER_SEC) /* about 60 days */
#define ACCESS_MARGIN_MAX (60 * USEC_PER_SEC)
#define BACKOFF_MAX (24 * 3600 * USEC_PER_SEC)
#define TIME_MAX_USEC (INT64_C(253402300799) * USEC_PER_SEC)

/* ---- state ----------------------------------------------------------------------------------- */

typedef enum FeedKind {
        FEED_SEARCH,
        FEED_AUTHOR,
} FeedKind;

typedef struct Feed {
        FeedKind kind;
        char *term;   /* owned: the query, or the actor (handle or DID) */
        char *name;   /* owned: "https://bsky.social#q:acme", "https://public.api.bsky.app#@x" */
        char built;   /* the step build_request() made last: 'L', 'R', 'P' or 'F' */
        uint64_t gen; /* Bluesky::gen when it was built */
} Feed;

typedef struct Bluesky {
        const struct earshot_host *host; /* borrowed, valid until destroy */
        char *pds;                       /* owned, no trailing '/' */
        char *appview;                   /* owned */
        char *identifier;                /* owned, or NULL */
        char *password;                  /* owned (a secret), or NULL */
        char **langs;                    /* owned */
        size_t n_langs;
        Feed *feeds; /* owned */
        size_t n_feeds;
        int64_t limit, max_pages, profile_cache;
        uint64_t gen; /* counts the session's changes: a feed whose request failed with an
                       * older session than the kept one retries with the kept one */
} Bluesky;

static void bluesky_destroy(void *state) {
        Bluesky *b = state;

        if (!b)
                return;
        free(b->pds);
        free(b->appview);
        free(b->identifier);
        if (b->password) {
                explicit_bzero(b->password, strlen(b->password));
                free(b->password);
        }
        strv_free_n(b->langs, b->n_langs);
        for (size_t i = 0; i < b->n_feeds; i++) {
                free(b->feeds[i].term);
                free(b->feeds[i].name);
        }
        free(b->feeds);
        free(b);
}

static inline void bluesky_destroyp(Bluesky **b) {
        bluesky_destroy(*b);
}

/* "@Alice.bsky.social" -> "alice.bsky.social"; a DID stays as it is. */
static int actor_parse(const char *s, char **ret) {
        while (char_is_blank(*s))
                s++;
        if (*s == '@')
                s++;
        _cleanup_free_ char *a = strdup(s);
        if (!a)
                return -ENOMEM;
        for (size_t n = strlen(a); n > 0 && char_is_blank(a[n - 1]); n--)
                a[n - 1] = 0;
        if (strncmp(a, "did:", 4) == 0) {
                if (!bsky_did_valid(a))
                        return -EINVAL;
        } else {
                size_t n = strlen(a);
                if (n == 0 || n > 253 || !strchr(a, '.') || a[0] == '.' || a[n - 1] == '.')
                        return -EINVAL;
                for (size_t i = 0; i < n; i++)
                        if (!char_is_alnum(a[i]) && a[i] != '.' && a[i] != '-')
                                return -EINVAL;
                ascii_lower(a);
        }
        *ret = a;
        a = NULL;
        return 0;
}

/* Whether s looks like an app password as Bluesky issues them: xxxx-xxxx-xxxx-xxxx. */
static bool app_password_shape(const char *s) {
        if (strlen(s) != 19)
                return false;
        for (size_t i = 0; i < 19; i++)
                if (i % 5 == 4 ? s[i] != '-' : !char_is_alnum(s[i]))
                        return false;
        return true;
}

static int bluesky_create(const struct earshot_host *host, const struct earshot_values *vals,
                          char *err, size_t err_len, void **ret_state) {
        _cleanup_(bluesky_destroyp) Bluesky *b = NULL;
        const struct earshot_value *queries = list_value(vals, "queries");
        const struct earshot_value *accounts = list_value(vals, "accounts");
        const struct earshot_value *langs = list_value(vals, "lang");
        const char *s;
        int r;

        if (!queries && !accounts)
                return set_error(err, err_len,
                                 "queries, accounts: give search terms, accounts "
                                 "to watch, or both");
        b = calloc(1, sizeof(*b));
        if (!b)
                return -ENOMEM;
        b->host = host;

        s = earshot_value_str(vals, "pds");
        r = option_base_url("pds", s ? s : "https://bsky.social", &b->pds, NULL, err, err_len);
        if (r < 0)
                return r;
        s = earshot_value_str(vals, "appview");
        r = option_base_url("appview", s ? s : "https://public.api.bsky.app", &b->appview, NULL,
                            err, err_len);
        if (r < 0)
                return r;

        s = earshot_value_str(vals, "identifier");
        if (s && *s) {
                const char *error = NULL;
                r = query_trim(s, 256, &b->identifier, &error);
                if (r == -EINVAL)
                        return set_error(err, err_len, "identifier: %s", error);
                if (r < 0)
                        return r;
        }
        s = earshot_value_str(vals, "app_password");
        if (s && *s) {
                b->password = strdup(s);
                if (!b->password)
                        return -ENOMEM;
        }
        if (queries && (!b->identifier || !b->password))
                return set_error(err, err_len,
                                 "queries: searching Bluesky needs a login: set identifier and "
                                 "app_password (an app password, not the account's password)");
        if (queries && (!EARSHOT_HOST_HAS(host, state_get) || !EARSHOT_HOST_HAS(host, state_set)))
                return set_error(err, err_len,
                                 "queries: this earshotd cannot keep a login session (it predates "
                                 "state_get/state_set); upgrade it or watch `accounts` only");
        if (b->password && !app_password_shape(b->password))
                host->log(host, EARSHOT_LOG_WARNING,
                          "app_password does not look like an app password (xxxx-xxxx-xxxx-"
                          "xxxx): create one under Settings > Privacy and security > App "
                          "passwords; never configure the account's own password");

        r = option_int(vals, "limit", LIMIT_MAX, 1, LIMIT_MAX, &b->limit, err, err_len);
        if (r < 0)
                return r;
        r = option_int(vals, "max_pages", 5, 1, MAX_PAGES_MAX, &b->max_pages, err, err_len);
        if (r < 0)
                return r;
        b->profile_cache = earshot_value_num(vals, "profile_cache", 6 * 3600 * USEC_PER_SEC);
        if (b->profile_cache < USEC_PER_SEC)
                return set_error(err, err_len, "profile_cache: must be at least 1s");

        b->langs = calloc(langs ? langs->n_list : 1, sizeof(char *));
        if (!b->langs)
                return -ENOMEM;
        for (size_t i = 0; langs && i < langs->n_list && langs->list[i]; i++) {
                const char *l = langs->list[i];
                size_t n = strlen(l);
                if (n == 0 || n > 35)
                        return set_error(err, err_len, "lang: '%s' is not a language tag", l);
                for (size_t k = 0; k < n; k++)
                        if (!char_is_alnum(l[k]) && l[k] != '-')
                                return set_error(err, err_len,
                                                 "lang: '%s' is not a language tag (en, pt-BR)", l);
                char *c = strdup(l);
                if (!c)
                        return -ENOMEM;
                list_add_unique(b->langs, &b->n_langs, c);
        }

        size_t nq = queries ? queries->n_list : 0, na = accounts ? accounts->n_list : 0;
        b->feeds = calloc(nq + na + 1, sizeof(Feed));
        if (!b->feeds)
                return -ENOMEM;
        for (size_t i = 0; i < nq && queries->list[i]; i++) {
                _cleanup_free_ char *q = NULL;
                bool dup = false;
                int kq = query_option("queries", queries->list[i], QUERY_MAX, NULL, &q, err,
                                      err_len);
                if (kq < 0)
                        return kq;
                for (size_t j = 0; j < b->n_feeds && !dup; j++)
                        dup = strcmp(b->feeds[j].term, q) == 0;
                if (dup)
                        continue;
                Feed *f = &b->feeds[b->n_feeds];
                f->name = strjoin(b->pds, "#q:", q);
                if (!f->name)
                        return -ENOMEM;
                f->kind = FEED_SEARCH;
                f->term = q;
                q = NULL;
                b->n_feeds++;
        }
        for (size_t i = 0; i < na && accounts->list[i]; i++) {
                char *a = NULL;
                bool dup = false;

                r = actor_parse(accounts->list[i], &a);
                if (r == -EINVAL)
                        return set_error(err, err_len,
                                         "accounts: '%s' is neither a handle (alice.bsky.social) "
                                         "nor a DID",
                                         accounts->list[i]);
                if (r < 0)
                        return r;
                for (size_t j = 0; j < b->n_feeds && !dup; j++)
                        dup = b->feeds[j].kind == FEED_AUTHOR && strcmp(b->feeds[j].term, a) == 0;
                if (dup) {
                        free(a);
                        continue;
                }
                Feed *f = &b->feeds[b->n_feeds];
                f->name = strjoin(b->appview, "#@", a);
                if (!f->name) {
                        free(a);
                        return -ENOMEM;
                }
                f->kind = FEED_AUTHOR;
                f->term = a;
                b->n_feeds++;
        }

        *ret_state = b;
        b = NULL;
        return 0;
}

static const char *bluesky_feed(void *state, uint32_t i) {
        Bluesky *b = state;
        return i < b->n_feeds ? b->feeds[i].name : NULL;
}

/* ---- the session ----------------------------------------------------------------------------- */

typedef struct Session {
        char *access;       /* owned, or NULL when dropped */
        char *refresh;      /* owned */
        char *did, *handle; /* owned, may be NULL */
        int64_t access_exp; /* µs: use the access token until then */
        int64_t refresh_exp;
} Session;

static void session_done(Session *s) {
        if (s->access)
                explicit_bzero(s->access, strlen(s->access));
        if (s->refresh)
                explicit_bzero(s->refresh, strlen(s->refresh));
        free(s->access);
        free(s->refresh);
        free(s->did);
        free(s->handle);
        *s = (Session){0};
}

static int dup_or_null(const char *s, char **ret) {
        *ret = s ? strdup(s) : NULL;
        return !s || *ret ? 0 : -ENOMEM;
}

/* The kept session of this PDS and identifier: 0, -ENOENT when there is none, -ENOMEM. */
static int session_load(Bluesky *b, Session *ret) {
        const struct earshot_host *h = b->host;
        const char *text, *pds, *id;
        Session s = {0};

        if (!EARSHOT_HOST_HAS(h, state_get))
                return -ENOENT;
        text = h->state_get(h, "session");
        if (!text)
                return -ENOENT;
        _cleanup_(cJSON_Deletep) cJSON *j = cJSON_Parse(text);
        pds = json_str(j, "pds");
        id = json_str(j, "id");
        /* a session of another account or server (the config changed) is none */
        if (!pds || !id || strcmp(pds, b->pds) != 0 || !b->identifier ||
            strcmp(id, b->identifier) != 0 || !json_nstr(j, "refresh"))
                return -ENOENT;
        if (dup_or_null(json_nstr(j, "access"), &s.access) < 0 ||
            dup_or_null(json_nstr(j, "refresh"), &s.refresh) < 0 ||
            dup_or_null(json_nstr(j, "did"), &s.did) < 0 ||
            dup_or_null(json_nstr(j, "handle"), &s.handle) < 0) {
                session_done(&s);
                return -ENOMEM;
        }
        s.access_exp = json_int(j, "access_exp", TIME_MAX_USEC);
        s.refresh_exp = json_int(j, "refresh_exp", TIME_MAX_USEC);
        *ret = s;
        return 0;
}

static int session_save(Bluesky *b, const Session *s) {
        const struct earshot_host *h = b->host;
        _cleanup_(cJSON_Deletep) cJSON *j = cJSON_CreateObject();
        int r;

        if (!j || !cJSON_AddStringToObject(j, "pds", b->pds) ||
            !cJSON_AddStringToObject(j, "id", b->identifier ? b->identifier : "") ||
            (s->did && !cJSON_AddStringToObject(j, "did", s->did)) ||
            (s->handle && !cJSON_AddStringToObject(j, "handle", s->handle)) ||
            (s->access && !cJSON_AddStringToObject(j, "access", s->access)) ||
            !cJSON_AddNumberToObject(j, "access_exp", (double)s->access_exp) ||
            !cJSON_AddStringToObject(j, "refresh", s->refresh) ||
            !cJSON_AddNumberToObject(j, "refresh_exp", (double)s->refresh_exp))
                return -ENOMEM;
        char *text = cJSON_PrintUnformatted(j);
        if (!text)
                return -ENOMEM;
        r = h->state_set(h, "session", text, s->refresh_exp);
        explicit_bzero(text, strlen(text));
        free(text);
        b->gen++;
        return r;
}

static int session_forget(Bluesky *b) {
        const struct earshot_host *h = b->host;
        b->gen++;
        return EARSHOT_HOST_HAS(h, state_set) ? h->state_set(h, "session", NULL, 0) : 0;
}

/* The kept session with its access token dropped (refused by the server): the next request
 * refreshes first. */
static int session_drop_access(Bluesky *b) {
        Session s = {0};
        int r = session_load(b, &s);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        free(s.access);
        s.access = NULL;
        s.access_exp = 0;
        r = session_save(b, &s);
        session_done(&s);
        return r;
}

/* Keep the session a createSession or refreshSession answered; -EBADMSG without tokens. */
static int session_store_response(Bluesky *b, const cJSON *root) {
        const struct earshot_host *h = b->host;
        const char *access = json_nstr(root, "accessJwt"), *refresh = json_nstr(root, "refreshJwt");
        int64_t now = h->now_usec(h), exp;
        Session s = {0};
        int r;

        if (!access || !refresh)
                return -EBADMSG;
        if (dup_or_null(access, &s.access) < 0 || dup_or_null(refresh, &s.refresh) < 0 ||
            dup_or_null(bsky_did_valid(json_str(root, "did")) ? json_str(root, "did") : NULL,
                        &s.did) < 0 ||
            dup_or_null(json_nstr(root, "handle"), &s.handle) < 0) {
                session_done(&s);
                return -ENOMEM;
        }
        /* renew a little before the access token's exp: a fifth of its life, a minute at most */
        if (bsky_jwt_exp(access, &exp) == 0 && exp < TIME_MAX_USEC / USEC_PER_SEC) {
                int64_t life = exp * USEC_PER_SEC - now, margin = life / 5;
                if (margin > ACCESS_MARGIN_MAX)
                        margin = ACCESS_MARGIN_MAX;
                s.access_exp = exp * USEC_PER_SEC - (margin > 0 ? margin : 0);
        } else
                s.access_exp = now + ACCESS_DEFAULT - ACCESS_MARGIN_MAX;
        if (bsky_jwt_exp(refresh, &exp) == 0 && exp < TIME_MAX_USEC / USEC_PER_SEC)
                s.refresh_exp = exp * USEC_PER_SEC;
        else
                s.refresh_exp = now + REFRESH_DEFAULT;
        if (s.refresh_exp <= now) /* a clock far off: keep it for the poll at least */
                s.refresh_exp = now + 60 * USEC_PER_SEC;
        r = session_save(b, &s);
        session_done(&s);
        return r;
}

/* ---- page tokens ----------------------------------------------------------------------------- */

typedef struct Token {
        char kind; /* 'L', 'R', 'P' or 'F': the step asked for */
        char next; /* 'P' or 'F': what follows a login or refresh */
        int64_t n; /* page of the walk, from 1 */
        bool refreshed, logged_in, profiled;
        int64_t top_t; /* the newest post time the walk saw, µs; -1: none */
        char *top_uri; /* owned, or NULL */
        char *api;     /* owned: the API cursor of page n, percent-encoded, or NULL */
        char *dids;    /* owned: "DID,DID,..." still to look up, or NULL */
} Token;

#define TOKEN_START ((Token){.kind = 'P', .next = 'P', .n = 1, .top_t = -1})

static void token_done(Token *t) {
        free(t->top_uri);
        free(t->api);
        free(t->dids);
        *t = (Token){0};
}

static int field_dup(const char *s, char **ret) {
        *ret = NULL;
        if (strcmp(s, "-") == 0)
                return 0;
        *ret = strdup(s);
        return *ret ? 0 : -ENOMEM;
}

static int token_parse(const char *page, Token *ret) {
        _cleanup_free_ char *copy = NULL;
        char *fields[8], *save = NULL;
        size_t n = 0;
        Token t = TOKEN_START;
        const char *p;
        int r;

        if (!page) {
                *ret = t;
                return 0;
        }
        copy = strdup(page);
        if (!copy)
                return -ENOMEM;
        for (char *f = strtok_r(copy, " ", &save); f; f = strtok_r(NULL, " ", &save)) {
                if (n == 8)
                        return -EINVAL;
                fields[n++] = f;
        }
        if (n != 8 || strlen(fields[0]) != 1 || !strchr("LRPF", fields[0][0]) ||
            strlen(fields[1]) != 1 || !strchr("PF", fields[1][0]))
                return -EINVAL;
        t.kind = fields[0][0];
        t.next = fields[1][0];
        p = fields[2];
        if (parse_num(&p, MAX_PAGES_MAX, &t.n) < 0 || *p || t.n < 1)
                return -EINVAL;
        if (strcmp(fields[3], "-") != 0)
                for (p = fields[3]; *p; p++) {
                        if (*p == 'r')
                                t.refreshed = true;
                        else if (*p == 'l')
                                t.logged_in = true;
                        else if (*p == 'p')
                                t.profiled = true;
                        else
                                return -EINVAL;
                }
        p = fields[4];
        if (strcmp(p, "-") != 0 && (parse_num(&p, TIME_MAX_USEC, &t.top_t) < 0 || *p))
                return -EINVAL;
        if ((r = field_dup(fields[5], &t.top_uri)) < 0 || (r = field_dup(fields[6], &t.api)) < 0 ||
            (r = field_dup(fields[7], &t.dids)) < 0) {
                token_done(&t);
                return r;
        }
        if ((t.top_uri && !bsky_post_uri(t.top_uri, NULL)) ||
            (t.api && strlen(t.api) > 3 * API_CURSOR_MAX) ||
            (t.dids && strlen(t.dids) > TOKEN_DIDS_MAX)) {
                token_done(&t);
                return -EINVAL;
        }
        *ret = t;
        return 0;
}

/* The token as text; NULL on OOM. */
static char *token_format(const Token *t) {
        char flags[4] = "", *f = flags, head[64], tt[24] = "-";

        if (t->refreshed)
                *f++ = 'r';
        if (t->logged_in)
                *f++ = 'l';
        if (t->profiled)
                *f++ = 'p';
        *f = 0;
        if (t->top_t >= 0)
                (void)snprintf(tt, sizeof(tt), "%" PRId64, t->top_t);
        (void)snprintf(head, sizeof(head), "%c %c %" PRId64 " %s %s", t->kind, t->next, t->n,
                       flags[0] ? flags : "-", tt);
        return strjoin(head, " ", t->top_uri ? t->top_uri : "-", " ", t->api ? t->api : "-", " ",
                       t->dids ? t->dids : "-");
}

static int next_page_token(Bluesky *b, struct earshot_sink *sink, const Token *t) {
        _cleanup_free_ char *s = token_format(t);
        int r;

        if (!s)
                return -ENOMEM;
        r = b->host->next_page(sink, s);
        return r < 0 ? r : EARSHOT_MORE;
}

/* ---- cursor ---------------------------------------------------------------------------------- */

typedef struct Mark {
        int64_t t;       /* µs; -1: none */
        const char *uri; /* borrowed from the cursor string, or NULL */
} Mark;

/* "USEC URI" (or "USEC"): the newest post the last walk saw. */
static int cursor_parse(const char *s, Mark *ret) {
        const char *p = s;
        Mark m = {.t = -1};

        if (!s || parse_num(&p, TIME_MAX_USEC, &m.t) < 0)
                return -EINVAL;
        if (*p == ' ') {
                m.uri = p + 1;
                if (!bsky_post_uri(m.uri, NULL))
                        return -EINVAL;
        } else if (*p)
                return -EINVAL;
        *ret = m;
        return 0;
}

static int set_cursor_top(Bluesky *b, struct earshot_sink *sink, const char *old, const Token *t) {
        char buf[1100];

        if (t->top_t < 0)
                return 0;
        (void)snprintf(buf, sizeof(buf), "%" PRId64 "%s%s", t->top_t, t->top_uri ? " " : "",
                       t->top_uri ? t->top_uri : "");
        if (old && strcmp(old, buf) == 0)
                return 0;
        return b->host->set_cursor(sink, buf);
}

/* ---- requests -------------------------------------------------------------------------------- */

/* The auth step a search request needs first: 0 (none), 'R' or 'L'. */
static char auth_needed(Bluesky *b, const Session *s, bool have, const Token *t) {
        int64_t now = b->host->now_usec(b->host);

        if (!have)
                return t->logged_in ? 0 : 'L';
        if (s->access && s->access_exp > now)
                return 0;
        if (!t->refreshed && s->refresh_exp > now)
                return 'R';
        if (!t->logged_in)
                return 'L';
        return 0; /* renewed in this poll already: try what there is */
}

static int request_bearer(const struct earshot_host *h, struct earshot_request *req,
                          const char *jwt) {
        _cleanup_free_ char *v = strjoin("Bearer ", jwt);
        int r;

        if (!v)
                return -ENOMEM;
        r = h->request_header(req, "Authorization", v);
        explicit_bzero(v, strlen(v));
        return r;
}

static int build_login(Bluesky *b, struct earshot_request *req) {
        const struct earshot_host *h = b->host;
        _cleanup_free_ char *url = strjoin(b->pds, "/xrpc/com.atproto.server.createSession");
        _cleanup_(cJSON_Deletep) cJSON *j = cJSON_CreateObject();
        int r;

        if (!url || !j ||
            !cJSON_AddStringToObject(j, "identifier", b->identifier ? b->identifier : "") ||
            !cJSON_AddStringToObject(j, "password", b->password ? b->password : ""))
                return -ENOMEM;
        char *body = cJSON_PrintUnformatted(j);
        if (!body)
                return -ENOMEM;
        r = h->request_method(req, "POST");
        if (r >= 0)
                r = h->request_url(req, url);
        if (r >= 0)
                r = h->request_header(req, "Content-Type", "application/json");
        if (r >= 0)
                r = h->request_header(req, "Accept", "application/json");
        if (r >= 0)
                r = h->request_body(req, body, strlen(body));
        explicit_bzero(body, strlen(body));
        free(body);
        return r;
}

static int build_refresh(Bluesky *b, const Session *s, struct earshot_request *req) {
        const struct earshot_host *h = b->host;
        _cleanup_free_ char *url = strjoin(b->pds, "/xrpc/com.atproto.server.refreshSession");
        int r;

        if (!url)
                return -ENOMEM;
        r = h->request_method(req, "POST");
        if (r >= 0)
                r = h->request_url(req, url);
        if (r >= 0)
                r = h->request_header(req, "Accept", "application/json");
        if (r >= 0)
                r = request_bearer(h, req, s->refresh);
        if (r >= 0)
                r = h->request_body(req, "", 0);
        return r;
}

/* "&actors=A&actors=B..." for the first PROFILES_PER_REQUEST DIDs of the list. */
static char *profiles_query(const char *dids) {
        size_t len = 0, n = 0;
        const char *p = dids;

        char *out = malloc(strlen(dids) * 3 + PROFILES_PER_REQUEST * 10 + 1);
        if (!out)
                return NULL;
        out[0] = 0;
        while (*p && n < PROFILES_PER_REQUEST) {
                size_t k = strcspn(p, ",");
                _cleanup_free_ char *did = strndup(p, k);
                if (!did) {
                        free(out);
                        return NULL;
                }
                _cleanup_free_ char *enc = url_encode(did);
                if (!enc) {
                        free(out);
                        return NULL;
                }
                len += (size_t)sprintf(out + len, "%sactors=%s", n ? "&" : "", enc);
                n++;
                p += k;
                if (*p == ',')
                        p++;
        }
        return out;
}

static int build_page(Bluesky *b, const Feed *f, const char *cursor, const Token *t,
                      const Session *s, struct earshot_request *req) {
        const struct earshot_host *h = b->host;
        const char *base = f->kind == FEED_SEARCH ? b->pds : b->appview;
        _cleanup_free_ char *url = NULL, *term = url_encode(f->term), *lang = NULL;
        char limit[24], since[64] = "";
        Mark from;
        int r;

        if (!term)
                return -ENOMEM;
        (void)snprintf(limit, sizeof(limit), "%" PRId64, b->limit);

        if (t->kind == 'F') {
                _cleanup_free_ char *q = profiles_query(t->dids ? t->dids : "");
                if (!q)
                        return -ENOMEM;
                url = strjoin(base, "/xrpc/app.bsky.actor.getProfiles?", q);
        } else if (f->kind == FEED_SEARCH) {
                if (cursor && cursor_parse(cursor, &from) == 0) {
                        char ts[40];
                        int64_t st = from.t > OVERLAP ? from.t - OVERLAP : 0;
                        _cleanup_free_ char *e = url_encode(h->format_time(st, ts, sizeof(ts)));
                        if (!e)
                                return -ENOMEM;
                        (void)snprintf(since, sizeof(since), "&since=%s", e);
                }
                if (b->n_langs == 1) {
                        _cleanup_free_ char *e = url_encode(b->langs[0]);
                        lang = e ? strjoin("&lang=", e) : NULL;
                        if (!lang)
                                return -ENOMEM;
                }
                url = strjoin(base, "/xrpc/app.bsky.feed.searchPosts?q=", term,
                              "&sort=latest&limit=", limit, since, lang ? lang : "",
                              t->api ? "&cursor=" : "", t->api ? t->api : "");
        } else
                url = strjoin(base, "/xrpc/app.bsky.feed.getAuthorFeed?actor=", term,
                              "&limit=", limit, "&filter=posts_with_replies",
                              t->api ? "&cursor=" : "", t->api ? t->api : "");
        if (!url)
                return -ENOMEM;
        r = request_get(h, req, url, "application/json");
        if (r >= 0 && f->kind == FEED_SEARCH && s && s->access)
                r = request_bearer(h, req, s->access);
        return r;
}

static int bluesky_build_request(void *state, uint32_t i, const char *cursor, const char *page,
                                 struct earshot_request *req) {
        Bluesky *b = state;
        Session s = {0};
        Token t;
        bool have = false;
        char step;
        int r;

        if (i >= b->n_feeds)
                return -EINVAL;
        Feed *f = &b->feeds[i];
        r = token_parse(page, &t);
        if (r < 0)
                return r;
        if (f->kind == FEED_SEARCH) {
                r = session_load(b, &s);
                if (r < 0 && r != -ENOENT) {
                        token_done(&t);
                        return r;
                }
                have = r == 0;
        }

        step = t.kind;
        if (f->kind == FEED_AUTHOR)
                step = step == 'F' ? 'F' : 'P';
        else if (step == 'R' && !have)
                step = 'L';
        else if (step == 'P' || step == 'F') {
                char a = auth_needed(b, &s, have, &t);
                if (a)
                        step = a;
        }
        f->built = step;
        f->gen = b->gen;
        if (step == 'L')
                r = build_login(b, req);
        else if (step == 'R')
                r = build_refresh(b, &s, req);
        else {
                Token q = t;
                q.kind = step;
                r = build_page(b, f, cursor, &q, have ? &s : NULL, req);
        }
        session_done(&s);
        token_done(&t);
        return r;
}

/* ---- posts ----------------------------------------------------------------------------------- */

static int64_t item_time(const Bluesky *b, const cJSON *obj, const char *key) {
        const char *s = json_nstr(obj, key);
        int64_t usec;

        if (!s || b->host->parse_time(s, &usec) < 0 || usec <= 0 || usec > TIME_MAX_USEC)
                return 0;
        return usec;
}

/* The time that orders a post: the server's indexedAt, else the client's createdAt. */
static int64_t post_time(const Bluesky *b, const cJSON *post) {
        int64_t t = item_time(b, post, "indexedAt");
        return t > 0 ? t : item_time(b, json_obj(post, "record"), "createdAt");
}

/* Whether a post's languages pass the `lang` filter. */
static bool lang_wanted(const Bluesky *b, const cJSON *record) {
        const cJSON *langs = json_get(record, "langs"), *l;
        bool named = false;

        if (b->n_langs == 0)
                return true;
        if (!cJSON_IsArray(langs))
                langs = NULL;
        cJSON_ArrayForEach(l, langs) {
                if (!cJSON_IsString(l) || !l->valuestring || !*l->valuestring)
                        continue;
                named = true;
                for (size_t k = 0; k < b->n_langs; k++) {
                        size_t n = strlen(b->langs[k]);
                        /* "en" takes "en-US" too */
                        if (strncasecmp(l->valuestring, b->langs[k], n) == 0 &&
                            (l->valuestring[n] == 0 || l->valuestring[n] == '-'))
                                return true;
                }
        }
        return !named;
}

static const char *first_lang(const cJSON *record) {
        const cJSON *langs = json_get(record, "langs");
        const cJSON *l = cJSON_IsArray(langs) ? langs->child : NULL;
        return cJSON_IsString(l) && l->valuestring && *l->valuestring ? l->valuestring : NULL;
}

/* Emit one postView; 0, or 1 with *why when it is not usable, or a negative errno. */
static int post_emit(Bluesky *b, const cJSON *post, const Profiles *prof, struct earshot_sink *sink,
                     const char **why) {
        const struct earshot_host *h = b->host;
        const cJSON *record = json_obj(post, "record"), *author = json_obj(post, "author");
        const char *uri = json_str(post, "uri"), *rkey = NULL, *text, *handle, *did;
        const cJSON *reply = json_obj(record, "reply");

        if (!bsky_post_uri(uri, &rkey)) {
                *why = "no post URI";
                return 1;
        }
        text = json_str(record, "text");
        if (!text) {
                *why = "no record.text";
                return 1;
        }
        handle = json_nstr(author, "handle");
        did = json_str(author, "did");
        if (handle && (strcmp(handle, "handle.invalid") == 0 || strpbrk(handle, " /?#\t\r\n")))
                handle = NULL;
        if (!bsky_did_valid(did))
                did = NULL;

        _cleanup_free_ char *plain = bsky_text_expand(text, json_get(record, "facets"));
        if (!plain)
                return -ENOMEM;
        _cleanup_free_ char *url = strjoin("https://bsky.app/profile/",
                                           handle ? handle
                                           : did  ? did
                                                  : "",
                                           "/post/", rkey);
        if (!url)
                return -ENOMEM;
        const char *parent = json_nstr(json_obj(reply, "parent"), "uri");
        int64_t created = item_time(b, record, "createdAt");
        int64_t followers = did ? profiles_lookup(prof, did) : -1;

        struct earshot_post p = {
                .size = sizeof(p),
                .id = uri,
                .network = "bluesky",
                .url = handle || did ? url : NULL,
                .text = plain,
                .author_handle = handle,
                .author_name = json_nstr(author, "displayName"),
                .author_followers = followers >= 0 ? followers : -1,
                .lang = first_lang(record),
                .created_usec = created > 0 ? created : item_time(b, post, "indexedAt"),
                .replies = json_count(post, "replyCount"),
                .reposts = json_count(post, "repostCount"),
                .likes = json_count(post, "likeCount"),
                .title = NULL,
                .reply_to = parent && bsky_post_uri(parent, NULL) ? parent : NULL,
                .rating = 0,
                .edited_usec = 0,
        };
        return h->emit_post(sink, &p);
}

/* ---- responses ------------------------------------------------------------------------------- */

static int profiles_read(Bluesky *b, Profiles *ret) {
        const struct earshot_host *h = b->host;
        const char *text = EARSHOT_HOST_HAS(h, state_get) ? h->state_get(h, "profiles") : NULL;
        int64_t now = h->now_usec(h);

        return profiles_load(ret, text, (now - b->profile_cache) / USEC_PER_SEC);
}

static int profiles_write(Bluesky *b, const Profiles *p) {
        const struct earshot_host *h = b->host;

        if (!EARSHOT_HOST_HAS(h, state_set))
                return 0;
        _cleanup_free_ char *text = profiles_format(p);
        if (!text)
                return -ENOMEM;
        return h->state_set(h, "profiles", text, 0);
}

/* A login or refresh answered 200: keep the session, go on with what was asked. */
static int parse_auth(Bluesky *b, const Feed *f, const Token *t, const cJSON *root,
                      struct earshot_sink *sink) {
        const struct earshot_host *h = b->host;
        int r;

        r = session_store_response(b, root);
        if (r == -EBADMSG) {
                h->log(h, EARSHOT_LOG_ERR, "%s: %s answered without accessJwt and refreshJwt",
                       f->name, f->built == 'L' ? "createSession" : "refreshSession");
                return r;
        }
        if (r < 0)
                return r;
        Token n = *t;
        if (n.kind == 'L' || n.kind == 'R')
                n.kind = n.next;
        if (f->built == 'L')
                n.logged_in = true;
        else
                n.refreshed = true;
        return next_page_token(b, sink, &n);
}

/* getProfiles answered: cache the counts, look up the rest or ask the page again. */
static int parse_profiles(Bluesky *b, const Feed *f, const Token *t, const cJSON *root,
                          struct earshot_sink *sink) {
        const struct earshot_host *h = b->host;
        const cJSON *list = json_get(root, "profiles"), *pv;
        _cleanup_(profiles_done) Profiles prof = {0};
        int64_t now = h->now_usec(h) / USEC_PER_SEC;
        const char *p = t->dids ? t->dids : "";
        size_t n = 0;
        int r;

        if (!cJSON_IsArray(list)) {
                h->log(h, EARSHOT_LOG_ERR, "%s: getProfiles answered without a \"profiles\" array",
                       f->name);
                return -EBADMSG;
        }
        r = profiles_read(b, &prof);
        if (r < 0)
                return r;
        /* the asked ones first as unknown: an actor the network does not return stays -1 */
        while (*p && n < PROFILES_PER_REQUEST) {
                size_t k = strcspn(p, ",");
                _cleanup_free_ char *did = strndup(p, k);
                if (!did)
                        return -ENOMEM;
                if (bsky_did_valid(did) && (r = profiles_put(&prof, did, -1, now)) < 0)
                        return r;
                n++;
                p += k;
                if (*p == ',')
                        p++;
        }
        cJSON_ArrayForEach(pv, list) {
                const char *did = json_str(pv, "did");
                int64_t c = json_count(pv, "followersCount");
                if (bsky_did_valid(did) && (r = profiles_put(&prof, did, c, now)) < 0)
                        return r;
        }
        r = profiles_write(b, &prof);
        if (r < 0)
                return r;

        Token nt = *t;
        nt.dids = *p ? (char *)p : NULL;
        if (nt.dids)
                nt.kind = 'F';
        else {
                nt.kind = 'P';
                nt.profiled = true;
        }
        nt.next = nt.kind;
        return next_page_token(b, sink, &nt);
}

/* Whether did is in the list of n */
static bool did_listed(const char *const *list, size_t n, const char *did) {
        for (size_t k = 0; k < n; k++)
                if (strcmp(list[k], did) == 0)
                        return true;
        return false;
}

static int parse_page(Bluesky *b, const Feed *f, const char *cursor, const char *page,
                      const Token *t, const cJSON *root, struct earshot_sink *sink) {
        const struct earshot_host *h = b->host;
        const char *key = f->kind == FEED_SEARCH ? "posts" : "feed";
        const cJSON *list = json_get(root, key);
        _cleanup_(profiles_done) Profiles prof = {0};
        Mark from = {.t = -1};
        bool have_from = false;
        int r;

        if (!cJSON_IsArray(list)) {
                const char *error = json_nstr(root, "error");
                char buf[120];
                h->log(h, EARSHOT_LOG_ERR, "%s: expected an object with a \"%s\" array%s%s%s",
                       f->name, key, error ? " (error: \"" : "",
                       error ? text_oneline(buf, sizeof(buf), error, b->password) : "",
                       error ? "\")" : "");
                return -EBADMSG;
        }
        if (cursor) {
                have_from = cursor_parse(cursor, &from) == 0;
                if (!have_from && !page)
                        h->log(h, EARSHOT_LOG_WARNING,
                               "%s: cannot read the cursor \"%.64s\"; starting afresh from the "
                               "newest page",
                               f->name, cursor);
        }
        bool first = !have_from;

        /* the posts of this page, newest first as listed */
        const cJSON *posts[ITEMS_MAX];
        size_t n = 0, total = 0;
        Skipped skipped = {0};
        const cJSON *item;
        cJSON_ArrayForEach(item, list) {
                const cJSON *post = f->kind == FEED_SEARCH ? item : json_obj(item, "post");
                total++;
                if (n == ITEMS_MAX)
                        continue;
                if (f->kind == FEED_AUTHOR && json_get(item, "reason"))
                        continue; /* a repost or a pin: not in the feed's order */
                if (!cJSON_IsObject(post) || !bsky_post_uri(json_str(post, "uri"), NULL)) {
                        skipped_add(&skipped, total - 1, "not a post with an AT URI");
                        continue;
                }
                posts[n++] = post;
        }

        /* which of them to emit, and the walk's progress (never behind the old cursor) */
        Token nt = *t;
        if (have_from && nt.top_t < from.t) {
                nt.top_t = from.t;
                nt.top_uri = (char *)from.uri;
        }
        bool reached = false, emit[ITEMS_MAX];
        int64_t oldest = -1;
        for (size_t k = 0; k < n; k++) {
                const char *uri = json_str(posts[k], "uri");
                int64_t pt = post_time(b, posts[k]);

                emit[k] = false;
                if (pt > nt.top_t) {
                        nt.top_t = pt;
                        nt.top_uri = (char *)uri;
                }
                if (pt > 0 && (oldest < 0 || pt < oldest))
                        oldest = pt;
                if (have_from && (pt <= from.t || (from.uri && strcmp(uri, from.uri) == 0)))
                        reached = true;
                if (have_from && pt > 0 && pt <= from.t - OVERLAP)
                        continue; /* seen by an earlier poll */
                if (from.uri && strcmp(uri, from.uri) == 0)
                        continue;
                emit[k] = lang_wanted(b, json_obj(posts[k], "record"));
        }

        /* authors without a known follower count are looked up first */
        r = profiles_read(b, &prof);
        if (r < 0)
                return r;
        if (!t->profiled) {
                const char *missing[ITEMS_MAX];
                size_t m = 0, len = 0;
                /* what the token holds besides the DIDs, with room for its short fields */
                size_t rest =
                        64 + (t->api ? strlen(t->api) : 1) + (t->top_uri ? strlen(t->top_uri) : 1);
                size_t budget = TOKEN_MAX > rest ? TOKEN_MAX - rest : 0;
                if (budget > TOKEN_DIDS_MAX)
                        budget = TOKEN_DIDS_MAX;
                for (size_t k = 0; k < n; k++) {
                        const char *did = json_str(json_obj(posts[k], "author"), "did");
                        if (!emit[k] || !bsky_did_valid(did) || profiles_lookup(&prof, did) != -2 ||
                            did_listed(missing, m, did))
                                continue;
                        if (len + strlen(did) + 1 > budget)
                                break;
                        missing[m++] = did;
                        len += strlen(did) + 1;
                }
                if (m > 0) {
                        _cleanup_free_ char *dids = calloc(1, len + 1);
                        if (!dids)
                                return -ENOMEM;
                        for (size_t k = 0; k < m; k++) {
                                if (k)
                                        strcat(dids, ",");
                                strcat(dids, missing[k]);
                        }
                        Token ft = *t; /* the page is asked again after: top unchanged */
                        ft.kind = ft.next = 'F';
                        ft.dids = dids;
                        return next_page_token(b, sink, &ft);
                }
        }

        /* emit, oldest first */
        for (size_t k = n; k > 0; k--) {
                const char *why = NULL;
                if (!emit[k - 1])
                        continue;
                r = post_emit(b, posts[k - 1], &prof, sink, &why);
                if (r < 0)
                        return r;
                if (r > 0)
                        skipped_add(&skipped, k - 1, why);
        }
        skipped_log(&skipped, h, f->name, total, "elements that are not valid posts", "element");

        const char *api = json_nstr(root, "cursor");
        if (first || reached || !api || total == 0)
                return set_cursor_top(b, sink, cursor, &nt);
        if (t->n >= b->max_pages) {
                int64_t to = oldest > 0 ? oldest : from.t;
                if (to > from.t) {
                        if (EARSHOT_HOST_HAS(h, report_gap)) {
                                r = h->report_gap(sink, from.t, to, "max_pages");
                                if (r < 0)
                                        return r;
                        } else
                                h->log(h, EARSHOT_LOG_WARNING,
                                       "%s: coverage gap (max_pages): posts between %" PRId64
                                       " and %" PRId64 " (µs since the epoch) may be missed",
                                       f->name, from.t, to);
                }
                h->log(h, EARSHOT_LOG_INFO,
                       "%s: stopped after %" PRId64 " page%s before reaching the cursor", f->name,
                       t->n, t->n == 1 ? "" : "s");
                return set_cursor_top(b, sink, cursor, &nt);
        }
        if (strlen(api) > API_CURSOR_MAX) {
                h->log(h, EARSHOT_LOG_WARNING,
                       "%s: the API's cursor is longer than %d bytes; "
                       "the walk stops here",
                       f->name, API_CURSOR_MAX);
                return set_cursor_top(b, sink, cursor, &nt);
        }
        _cleanup_free_ char *enc = url_encode(api);
        if (!enc)
                return -ENOMEM;
        nt.kind = nt.next = 'P';
        nt.n = t->n + 1;
        nt.profiled = false;
        nt.api = enc;
        nt.dids = NULL;
        return next_page_token(b, sink, &nt);
}

static int bluesky_parse_response(void *state, uint32_t i, const char *cursor, const char *page,
                                  const struct earshot_response *resp, struct earshot_sink *sink) {
        Bluesky *b = state;
        _cleanup_(cJSON_Deletep) cJSON *root = NULL;
        _cleanup_(token_done) Token t = {0};
        int r;

        if (i >= b->n_feeds)
                return -EINVAL;
        Feed *f = &b->feeds[i];
        r = token_parse(page, &t);
        if (r < 0)
                return r;
        r = json_parse_response(b->host, f->name, resp, &root);
        if (r < 0)
                return r;
        switch (f->built) {
        case 'L':
        case 'R':
                return parse_auth(b, f, &t, root, sink);
        case 'F':
                return parse_profiles(b, f, &t, root, sink);
        default:
                return parse_page(b, f, cursor, page, &t, root, sink);
        }
}

/* ---- error answers --------------------------------------------------------------------------- */

static bool is_token_error(const char *code) {
        return code &&
               (strcmp(code, "ExpiredToken") == 0 || strcmp(code, "InvalidToken") == 0 ||
                strcmp(code, "AuthenticationRequired") == 0 || strcmp(code, "AuthMissing") == 0);
}

/* The seconds since the epoch of RateLimit-Reset from now, in µs, or 0. */
static int64_t reset_delay(Bluesky *b, const struct earshot_response *resp) {
        const char *v = earshot_response_header(resp, "RateLimit-Reset");
        int64_t reset, now = b->host->now_usec(b->host);

        if (!v || parse_num(&v, INT64_C(253402300799), &reset) < 0)
                return 0;
        reset *= USEC_PER_SEC;
        if (reset <= now)
                return 0;
        return reset - now > BACKOFF_MAX ? BACKOFF_MAX : reset - now;
}

static int bluesky_parse_error(void *state, uint32_t i, const char *cursor, const char *page,
                               const struct earshot_response *resp, struct earshot_sink *sink) {
        Bluesky *b = state;
        const struct earshot_host *h = b->host;
        _cleanup_(cJSON_Deletep) cJSON *root = NULL;
        _cleanup_(token_done) Token t = {0};
        const char *why = NULL, *code = NULL, *message = NULL;
        char cbuf[80], mbuf[200];
        int status = resp->status;
        int r;

        (void)cursor;
        if (i >= b->n_feeds)
                return -EINVAL;
        Feed *f = &b->feeds[i];
        r = token_parse(page, &t);
        if (r < 0)
                return r;
        if (json_load(resp, &root, &why) == 0) {
                code = json_nstr(root, "error");
                message = json_nstr(root, "message");
                if (code)
                        code = text_oneline(cbuf, sizeof(cbuf), code, b->password);
                if (message)
                        message = text_oneline(mbuf, sizeof(mbuf), message, b->password);
        }

        if (f->built == 'L') {
                if (status == 429) {
                        int64_t d = reset_delay(b, resp);
                        if (d > 0 && EARSHOT_HOST_HAS(h, set_backoff) &&
                            (r = h->set_backoff(sink, d)) < 0)
                                return r;
                        return source_fail(h, sink, f->name, EARSHOT_RETRY,
                                           "%s refuses more logins for now (createSession allows "
                                           "30 per 5 minutes and 300 a day per account)",
                                           b->pds);
                }
                if (status == 401 || (status == 400 && code &&
                                      (strcmp(code, "AccountTakedown") == 0 ||
                                       strcmp(code, "AccountDeactivated") == 0))) {
                        /* a session of the old credentials is no use either */
                        r = session_forget(b);
                        if (r < 0)
                                return r;
                        return source_fail(h, sink, f->name, EARSHOT_BLOCKED,
                                           "%s refused the login of '%s' (HTTP %d%s%s%s%s): check "
                                           "`identifier` and `app_password` (create a new app "
                                           "password if it was revoked)",
                                           b->pds, b->identifier ? b->identifier : "", status,
                                           code ? ", " : "", code ? code : "", message ? ": " : "",
                                           message ? message : "");
                }
                /* an AppView or another server: it has no accounts to log in to */
                if (status == 404 || status == 501 ||
                    (code && (strcmp(code, "MethodNotImplemented") == 0 ||
                              strcmp(code, "XRPCNotSupported") == 0)))
                        return source_fail(h, sink, f->name, EARSHOT_BLOCKED,
                                           "%s does not serve logins (com.atproto.server."
                                           "createSession answered HTTP %d%s%s): set `pds` to "
                                           "the account's PDS (https://bsky.social for most "
                                           "accounts)",
                                           b->pds, status, code ? ", " : "", code ? code : "");
                return SOURCE_ERROR_GENERIC;
        }

        if (f->built == 'R') {
                if ((status == 400 || status == 401) && f->gen != b->gen) {
                        /* another feed renewed the session meanwhile: go on with that one */
                        Token n = t;
                        if (n.kind == 'L' || n.kind == 'R')
                                n.kind = n.next;
                        n.refreshed = true;
                        return next_page_token(b, sink, &n);
                }
                if (status == 400 || status == 401) {
                        r = session_forget(b);
                        if (r < 0)
                                return r;
                        if (t.logged_in)
                                return source_fail(h, sink, f->name, EARSHOT_RETRY,
                                                   "%s refused to refresh a session it just "
                                                   "issued (HTTP %d%s%s)",
                                                   b->pds, status, code ? ", " : "",
                                                   code ? code : "");
                        h->log(h, EARSHOT_LOG_INFO, "%s: the session ended (%s); logging in again",
                               f->name, code ? code : "refused");
                        Token n = t;
                        if (n.kind != 'L' && n.kind != 'R')
                                n.next = n.kind;
                        n.kind = 'L';
                        n.refreshed = true;
                        return next_page_token(b, sink, &n);
                }
                return SOURCE_ERROR_GENERIC;
        }

        /* a page or a profile lookup */
        if (f->kind == FEED_SEARCH && (status == 400 || status == 401) &&
            (status == 401 || is_token_error(code))) {
                if (f->gen != b->gen && !t.refreshed) {
                        /* another feed renewed the session meanwhile: try that one */
                        Token n = t;
                        n.refreshed = true;
                        return next_page_token(b, sink, &n);
                }
                if (t.logged_in)
                        return source_fail(h, sink, f->name, EARSHOT_RETRY,
                                           "%s refused a session it just issued (HTTP %d%s%s)",
                                           b->pds, status, code ? ", " : "", code ? code : "");
                r = session_drop_access(b);
                if (r < 0)
                        return r;
                Token n = t;
                n.next = n.kind == 'F' ? 'F' : 'P';
                n.kind = t.refreshed ? 'L' : 'R';
                return next_page_token(b, sink, &n);
        }
        if (f->built == 'F' && status != 429 && status < 500) {
                /* counts are a nicety: emit the page without them */
                h->log(h, EARSHOT_LOG_WARNING,
                       "%s: getProfiles answered HTTP %d%s%s; emitting posts without follower "
                       "counts",
                       f->name, status, code ? ", " : "", code ? code : "");
                Token n = t;
                n.kind = n.next = 'P';
                n.profiled = true;
                free(n.dids);
                n.dids = NULL;
                t.dids = NULL;
                return next_page_token(b, sink, &n);
        }
        if (status == 403 && f->kind == FEED_SEARCH)
                return source_fail(h, sink, f->name, EARSHOT_BLOCKED,
                                   "%s forbids the search (HTTP 403%s%s): searchPosts needs the "
                                   "login through the account's PDS: set `pds` to it "
                                   "(https://bsky.social for most accounts), not to an AppView",
                                   b->pds, message ? ": " : "", message ? message : "");
        if (status == 429)
                return source_fail(h, sink, f->name, EARSHOT_RETRY,
                                   "%s's rate limit (HTTP 429): a longer `interval` or fewer "
                                   "feeds help",
                                   f->kind == FEED_SEARCH ? b->pds : b->appview);
        if (status == 400 && code && f->kind == FEED_SEARCH && strcmp(code, "BadQueryString") == 0)
                return source_fail(h, sink, f->name, EARSHOT_BLOCKED,
                                   "the search refuses '%s' (BadQueryString%s%s): check `queries`",
                                   f->term, message ? ": " : "", message ? message : "");
        if (status == 400 && code && f->kind == FEED_AUTHOR &&
            (strcmp(code, "InvalidRequest") == 0 || strcmp(code, "AccountTakedown") == 0 ||
             strcmp(code, "BlockedActor") == 0 || strcmp(code, "BlockedByActor") == 0 ||
             strcmp(code, "AccountDeactivated") == 0))
                return source_fail(h, sink, f->name, EARSHOT_BLOCKED,
                                   "%s cannot show the feed of '%s' (%s%s%s): check `accounts`",
                                   b->appview, f->term, code, message ? ": " : "",
                                   message ? message : "");
        return SOURCE_ERROR_GENERIC;
}

static const struct earshot_option bluesky_options[] = {
        {"pds", EARSHOT_OPT_URL, 0, "https://bsky.social",
         "the account's PDS: where the login and searches go"},
        {"appview", EARSHOT_OPT_URL, 0, "https://public.api.bsky.app",
         "the public AppView that serves `accounts` feeds (no login)"},
        {"identifier", EARSHOT_OPT_STRING, 0, NULL,
         "handle or e-mail address of the account that logs in (needed by `queries`)"},
        {"app_password", EARSHOT_OPT_STRING, EARSHOT_OPT_SECRET, NULL,
         "an app password of that account (Settings > Privacy and security > App passwords), "
         "never the account's own password"},
        {"queries", EARSHOT_OPT_STRLIST, 0, NULL,
         "search terms, each a feed (app.bsky.feed.searchPosts, newest first; needs the login)"},
        {"accounts", EARSHOT_OPT_STRLIST, 0, NULL,
         "handles or DIDs whose posts and replies to watch (app.bsky.feed.getAuthorFeed, public)"},
        {"lang", EARSHOT_OPT_STRLIST, 0, NULL,
         "only posts in these languages (en, de, pt-BR); posts that name none are kept"},
        {"limit", EARSHOT_OPT_INT, 0, "100", "posts per request, 1..100"},
        {"max_pages", EARSHOT_OPT_INT, 0, "5",
         "requests per feed and poll at most, 1..8; a poll stopped before the cursor records a "
         "coverage gap"},
        {"profile_cache", EARSHOT_OPT_DURATION, 0, "6h",
         "how long an author's follower count is reused before it is asked again"},
        {.name = NULL},
};

static const struct earshot_source_ops bluesky_ops = {
        .size = sizeof(struct earshot_source_ops),
        .create = bluesky_create,
        .destroy = bluesky_destroy,
        .feed = bluesky_feed,
        .build_request = bluesky_build_request,
        .parse_response = bluesky_parse_response,
        .parse_error = bluesky_parse_error,
};

EARSHOT_PLUGIN_DEFINE(.kind = EARSHOT_PLUGIN_SOURCE, .name = "bluesky",
                      .description = "Bluesky posts: keyword searches (with an app password) and "
                                     "accounts' feeds",
                      .options = bluesky_options, .source = &bluesky_ops);
