/* SPDX-License-Identifier: MIT */
/*
 * test-source-bluesky.c - the Bluesky source against recorded responses (tests/fixtures/bluesky:
 * searchPosts and getAuthorFeed bodies of 2023 and 2025) and the mock host: options and feeds,
 * requests, the login flow kept in the host's state (log in, reuse, refresh, log in again,
 * blocked on a bad password, paused on 429), follower counts looked up before a page is
 * emitted and cached in one state value, walks back to the cursor with gaps, link facets over
 * byte offsets, JWT expiry, and that no token or password reaches a log line or an error.
 */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "../../plugins/source-bluesky/bluesky-parse.h"
#include "earshot-plugin.h"
#include "mock-host.h"
#include "source-test.h"

#define USEC INT64_C(1000000)
#define PASSWORD "abcd-efgh-ijkl-mnop"
#define PDS "https://bsky.social"
#define APPVIEW "https://public.api.bsky.app"
#define Q_FEED 0 /* feed 0: the search for "acme" */
#define A_FEED 1 /* feed 1: the author feed */
#define SEARCH_2025 "bluesky/search-2025.json"
#define AUTHOR_2025 "bluesky/author-feed-2025.json"
#define AUTHOR_2023 "bluesky/author-feed-2023.json"
#define SEARCH_2023 "bluesky/search-2023.json"

static const char *const DEFAULTS[] = {"identifier=acme.bsky.social", "app_password=" PASSWORD,
                                       "queries=acme", "accounts=chriskenny.bsky.social", NULL};

/* ---- helpers --------------------------------------------------------------------------------- */

static char *b64url(const char *s) {
        static const char tab[] =
                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        size_t n = strlen(s), o = 0;
        char *out = malloc(n * 2 + 4);
        uint32_t acc = 0;
        unsigned bits = 0;

        assert_non_null(out);
        for (size_t i = 0; i < n; i++) {
                acc = (acc << 8) | (unsigned char)s[i];
                bits += 8;
                while (bits >= 6) {
                        bits -= 6;
                        out[o++] = tab[(acc >> bits) & 63];
                }
        }
        if (bits > 0)
                out[o++] = tab[(acc << (6 - bits)) & 63];
        out[o] = 0;
        return out;
}

/* A JWT whose payload says exp (seconds), marked with `tag` so tests can find it in logs. */
static char *jwt(const char *tag, int64_t exp) {
        char payload[200];
        (void)snprintf(payload, sizeof(payload),
                       "{\"scope\":\"com.atproto.appPass\",\"sub\":\"did:plc:me\",\"exp\":%" PRId64
                       ",\"tag\":\"%s\"}",
                       exp, tag);
        char *h = b64url("{\"typ\":\"at+jwt\",\"alg\":\"ES256K\"}"), *p = b64url(payload);
        size_t n = strlen(h) + strlen(p) + 32;
        char *out = malloc(n);
        assert_non_null(out);
        (void)snprintf(out, n, "%s.%s.c2lnbmF0dXJl", h, p);
        free(h);
        free(p);
        return out;
}

/* A createSession / refreshSession answer with tokens expiring `access_life` and
 * `refresh_life` seconds after the mock's now. *ret_access gets the access token. */
static char *session_body(SourceTest *t, const char *tag, int64_t access_life, int64_t refresh_life,
                          char **ret_access, char **ret_refresh) {
        char atag[64], rtag[64];
        (void)snprintf(atag, sizeof(atag), "access-%s", tag);
        (void)snprintf(rtag, sizeof(rtag), "refresh-%s", tag);
        char *a = jwt(atag, t->mh.now / USEC + access_life);
        char *r = jwt(rtag, t->mh.now / USEC + refresh_life);
        size_t n = strlen(a) + strlen(r) + 200;
        char *body = malloc(n);
        assert_non_null(body);
        (void)snprintf(
                body, n,
                "{\"accessJwt\":\"%s\",\"refreshJwt\":\"%s\",\"handle\":\"acme.bsky.social\","
                "\"did\":\"did:plc:me\",\"active\":true}",
                a, r);
        if (ret_access)
                *ret_access = a;
        else
                free(a);
        if (ret_refresh)
                *ret_refresh = r;
        else
                free(r);
        return body;
}

/* The page token the last parse passed on, which must exist; a copy. */
static char *next_token(SourceTest *t) {
        assert_int_equal(t->sink.n_page, 1);
        assert_non_null(t->sink.page);
        char *s = strdup(t->sink.page);
        assert_non_null(s);
        return s;
}

/* Log in for feed: build the login (page NULL), answer it; returns the token to go on with. */
static char *login(SourceTest *t, uint32_t feed, const char *cursor, char **ret_access) {
        build(t, feed, cursor, NULL);
        assert_string_equal(t->req.method, "POST");
        assert_string_equal(t->req.url, PDS "/xrpc/com.atproto.server.createSession");
        char *body = session_body(t, "1", 7200, 60 * 86400, ret_access, NULL);
        assert_int_equal(parse_feed(t, feed, cursor, NULL, body), EARSHOT_MORE);
        free(body);
        return next_token(t);
}

/* Cache a follower count for every author in a fixture: count = 1000 + position. */
static void seed_profiles(SourceTest *t, const char *fixture) {
        cJSON *doc = load_json(fixture), *list = cJSON_GetObjectItem(doc, "posts"), *it;
        char *text = calloc(1, 65536);
        size_t k = 0;

        assert_non_null(text);
        if (!list)
                list = cJSON_GetObjectItem(doc, "feed");
        cJSON_ArrayForEach(it, list) {
                cJSON *post =
                        cJSON_GetObjectItem(it, "post") ? cJSON_GetObjectItem(it, "post") : it;
                const char *did = cJSON_GetObjectItem(cJSON_GetObjectItem(post, "author"), "did")
                                          ->valuestring;
                size_t len = strlen(text);
                (void)snprintf(text + len, 65536 - len, "%s %zu %" PRId64 "\n", did, 1000 + k++,
                               t->mh.now / USEC);
        }
        assert_int_equal(t->mh.host.state_set(&t->mh.host, "profiles", text, 0), 0);
        free(text);
        cJSON_Delete(doc);
}

/* No log line holds the password or any part of a token we handed out. */
static void expect_no_secrets(const SourceTest *t) {
        for (size_t i = 0; i < t->mh.n_logs; i++) {
                const char *m = t->mh.logs[i].message;
                if (strstr(m, PASSWORD) || strstr(m, "eyJ") || strstr(m, "c2lnbmF0dXJl"))
                        fail_msg("a secret in the log: %s", m);
        }
        if (t->sink.error && (strstr(t->sink.error, PASSWORD) || strstr(t->sink.error, "eyJ")))
                fail_msg("a secret in the error: %s", t->sink.error);
}

static const char *session_state(SourceTest *t) {
        return t->mh.host.state_get(&t->mh.host, "session");
}

/* ---- tests ----------------------------------------------------------------------------------- */

static void test_descriptor(void **state) {
        SourceTest *t = *state;
        expect_source_descriptor("bluesky");
        create_ok(t,
                  SETTINGS("queries=Acme   Corp", "queries=acme corp", "accounts=@Bob.Example.COM",
                           "accounts=did:plc:abcdefghijklmnopqrstuvwx",
                           "accounts=bob.example.com"));
        assert_string_equal(P->source->feed(t->state, 0), PDS "#q:acme");
        assert_string_equal(P->source->feed(t->state, 1), PDS "#q:Acme Corp");
        assert_string_equal(P->source->feed(t->state, 2), PDS "#q:acme corp");
        assert_string_equal(P->source->feed(t->state, 3), APPVIEW "#@chriskenny.bsky.social");
        assert_string_equal(P->source->feed(t->state, 4), APPVIEW "#@bob.example.com");
        assert_string_equal(P->source->feed(t->state, 5),
                            APPVIEW "#@did:plc:abcdefghijklmnopqrstuvwx");
        assert_null(P->source->feed(t->state, 6));
        /* the description warns against the account's password */
        for (const struct earshot_option *o = P->options; o->name; o++)
                if (strcmp(o->name, "app_password") == 0) {
                        assert_true(o->flags & EARSHOT_OPT_SECRET);
                        assert_non_null(strstr(o->description, "never the account's own password"));
                }
        assert_int_equal(mock_host_count_logs(&t->mh, -1, ""), 0);
}

static void test_create_rejects(void **state) {
        SourceTest *t = *state;
        const char *none[] = {NULL};

        assert_int_equal(create_with(t, none, SETTINGS("pds=" PDS)), -EINVAL);
        assert_non_null(strstr(t->err, "queries, accounts"));
        assert_int_equal(create_with(t, none, SETTINGS("queries=acme", "identifier=a.b")), -EINVAL);
        assert_non_null(strstr(t->err, "app_password"));
        assert_int_equal(create_with(t, none, SETTINGS("queries=acme", "app_password=" PASSWORD)),
                         -EINVAL);
        assert_non_null(strstr(t->err, "identifier"));
        /* accounts alone need no login */
        assert_int_equal(create_with(t, none, SETTINGS("accounts=x.bsky.social")), 0);
        expect_rejected(t, SETTINGS("accounts=not a handle"), "accounts: 'not a handle'");
        expect_rejected(t, SETTINGS("accounts=did:plc"), "neither a handle");
        expect_rejected(t, SETTINGS("limit=101"), "limit: 101 is out of range 1..100");
        expect_rejected(t, SETTINGS("max_pages=9"), "max_pages: 9 is out of range 1..8");
        expect_rejected(t, SETTINGS("pds=http://bsky.example"), "must use https://");
        expect_rejected(t, SETTINGS("lang=en us"), "lang: 'en us'");
        assert_null(strstr(t->err, PASSWORD));
}

static void test_password_shape(void **state) {
        SourceTest *t = *state;
        create_ok(t, SETTINGS("app_password=hunter2hunter2"));
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_WARNING,
                                              "never configure the "
                                              "account's own password"),
                         1);
        assert_int_equal(mock_host_count_logs(&t->mh, -1, "hunter2"), 0);
}

static void test_login_flow(void **state) {
        SourceTest *t = *state;
        char *access = NULL;

        create_ok(t, NULL);
        /* the first poll logs in: POST createSession, the credentials in a JSON body */
        build(t, Q_FEED, NULL, NULL);
        assert_string_equal(t->req.method, "POST");
        assert_string_equal(t->req.url, PDS "/xrpc/com.atproto.server.createSession");
        assert_string_equal(mock_request_header(&t->req, "Content-Type"), "application/json");
        assert_null(mock_request_header(&t->req, "Authorization"));
        cJSON *j = cJSON_Parse(t->req.body);
        assert_string_equal(cJSON_GetObjectItem(j, "identifier")->valuestring, "acme.bsky.social");
        assert_string_equal(cJSON_GetObjectItem(j, "password")->valuestring, PASSWORD);
        cJSON_Delete(j);

        char *body = session_body(t, "1", 7200, 60 * 86400, &access, NULL);
        assert_int_equal(parse_feed(t, Q_FEED, NULL, NULL, body), EARSHOT_MORE);
        free(body);
        char *tok = next_token(t);
        assert_string_equal(tok, "P P 1 l - - - -");
        assert_int_equal(t->sink.n_posts, 0);
        assert_int_equal(t->sink.n_cursor, 0);
        const char *kept = session_state(t);
        assert_non_null(kept);
        assert_non_null(strstr(kept, access));
        /* kept until the refresh token's exp */
        assert_int_equal(t->mh.state_expires[0], t->mh.now + 60 * 86400 * USEC);

        /* the search itself, with the access token */
        build(t, Q_FEED, NULL, tok);
        assert_string_equal(t->req.method, "GET");
        assert_string_equal(t->req.url,
                            PDS "/xrpc/app.bsky.feed.searchPosts?q=acme&sort=latest&limit=100");
        char want[2048];
        (void)snprintf(want, sizeof(want), "Bearer %s", access);
        assert_string_equal(mock_request_header(&t->req, "Authorization"), want);

        /* the next poll reuses the session: no login, a since= from the cursor */
        const char *cursor = "1747674609813000 at://did:plc:kkergqgbhb56ptpwj2wenkje/"
                             "app.bsky.feed.post/3lpk2u6qo222m";
        build(t, Q_FEED, cursor, NULL);
        assert_string_equal(t->req.method, "GET");
        assert_string_equal(t->req.url, PDS "/xrpc/app.bsky.feed.searchPosts?q=acme&sort=latest"
                                            "&limit=100&since=2025-05-19T17%3A08%3A09.813Z");
        assert_string_equal(mock_request_header(&t->req, "Authorization"), want);

        /* the author feed needs no login, and goes to the AppView */
        build(t, A_FEED, NULL, NULL);
        assert_string_equal(t->req.url, APPVIEW "/xrpc/app.bsky.feed.getAuthorFeed?actor="
                                                "chriskenny.bsky.social&limit=100&filter="
                                                "posts_with_replies");
        assert_null(mock_request_header(&t->req, "Authorization"));
        expect_no_secrets(t);
        free(tok);
        free(access);
}

static void test_refresh(void **state) {
        SourceTest *t = *state;
        char *access = NULL, *access2 = NULL, *refresh2 = NULL;

        create_ok(t, NULL);
        free(login(t, Q_FEED, NULL, &access));
        const char *kept = session_state(t);
        cJSON *j = cJSON_Parse(kept);
        char *refresh = strdup(cJSON_GetObjectItem(j, "refresh")->valuestring);
        cJSON_Delete(j);

        /* the access token ran out (2 h, renewed a minute early): refresh first */
        t->mh.now += 7200 * USEC - 30 * USEC;
        build(t, Q_FEED, NULL, NULL);
        assert_string_equal(t->req.method, "POST");
        assert_string_equal(t->req.url, PDS "/xrpc/com.atproto.server.refreshSession");
        char want[2048];
        (void)snprintf(want, sizeof(want), "Bearer %s", refresh);
        assert_string_equal(mock_request_header(&t->req, "Authorization"), want);
        char *body = session_body(t, "2", 7200, 60 * 86400, &access2, &refresh2);
        assert_int_equal(parse_feed(t, Q_FEED, NULL, NULL, body), EARSHOT_MORE);
        free(body);
        char *tok = next_token(t);
        assert_string_equal(tok, "P P 1 r - - - -");
        assert_non_null(strstr(session_state(t), access2));
        build(t, Q_FEED, NULL, tok);
        (void)snprintf(want, sizeof(want), "Bearer %s", access2);
        assert_string_equal(mock_request_header(&t->req, "Authorization"), want);
        free(tok);

        /* a search answering 400 ExpiredToken: drop the access token, refresh, go on */
        tok = strdup("P P 2 - 1747674609813000 - 25 -");
        int r = error_response(t, NULL, tok, 400,
                               "{\"error\":\"ExpiredToken\",\"message\":\"Token has expired\"}");
        assert_int_equal(r, EARSHOT_MORE);
        char *tok2 = next_token(t);
        assert_string_equal(tok2, "R P 2 - 1747674609813000 - 25 -");
        assert_null(strstr(session_state(t), access2));
        build(t, Q_FEED, NULL, tok2);
        assert_string_equal(t->req.url, PDS "/xrpc/com.atproto.server.refreshSession");
        body = session_body(t, "3", 7200, 60 * 86400, NULL, NULL);
        assert_int_equal(parse_feed(t, Q_FEED, NULL, tok2, body), EARSHOT_MORE);
        free(body);
        char *tok3 = next_token(t);
        assert_string_equal(tok3, "P P 2 r 1747674609813000 - 25 -");
        build(t, Q_FEED, NULL, tok3);
        assert_non_null(strstr(t->req.url, "&cursor=25"));

        /* refused again after the refresh: log in again, once */
        r = error_response(t, NULL, tok3, 401, "{\"error\":\"InvalidToken\"}");
        assert_int_equal(r, EARSHOT_MORE);
        char *tok4 = next_token(t);
        assert_string_equal(tok4, "L P 2 r 1747674609813000 - 25 -");
        build(t, Q_FEED, NULL, tok4);
        assert_string_equal(t->req.url, PDS "/xrpc/com.atproto.server.createSession");
        body = session_body(t, "4", 7200, 60 * 86400, NULL, NULL);
        assert_int_equal(parse_feed(t, Q_FEED, NULL, tok4, body), EARSHOT_MORE);
        free(body);
        char *tok5 = next_token(t);
        assert_string_equal(tok5, "P P 2 rl 1747674609813000 - 25 -");
        /* and refused even then: no loop of logins, a retry later */
        build(t, Q_FEED, NULL, tok5);
        r = error_response(t, NULL, tok5, 401, "{\"error\":\"InvalidToken\"}");
        expect_explained(t, r, EARSHOT_RETRY, "refused a session it just issued");
        expect_no_secrets(t);

        free(tok);
        free(tok2);
        free(tok3);
        free(tok4);
        free(tok5);
        free(access);
        free(access2);
        free(refresh);
        free(refresh2);
}

static void test_refresh_fails_relogin(void **state) {
        SourceTest *t = *state;

        create_ok(t, NULL);
        free(login(t, Q_FEED, NULL, NULL));
        t->mh.now += 7200 * USEC;
        build(t, Q_FEED, NULL, NULL);
        assert_string_equal(t->req.url, PDS "/xrpc/com.atproto.server.refreshSession");
        /* the refresh token was revoked: forget the session, log in again in the same poll */
        int r = error_response(
                t, NULL, NULL, 400,
                "{\"error\":\"ExpiredToken\",\"message\":\"Token has been revoked\"}");
        assert_int_equal(r, EARSHOT_MORE);
        char *tok = next_token(t);
        assert_string_equal(tok, "L P 1 r - - - -");
        assert_null(session_state(t));
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_INFO, "logging in again"), 1);
        build(t, Q_FEED, NULL, tok);
        assert_string_equal(t->req.url, PDS "/xrpc/com.atproto.server.createSession");
        char *body = session_body(t, "5", 7200, 60 * 86400, NULL, NULL);
        assert_int_equal(parse_feed(t, Q_FEED, NULL, tok, body), EARSHOT_MORE);
        free(body);
        char *tok2 = next_token(t);
        assert_string_equal(tok2, "P P 1 rl - - - -");
        assert_non_null(session_state(t));

        /* and when the new login is refused: blocked, naming the options */
        free(tok);
        tok = strdup("L P 1 r - - - -");
        build(t, Q_FEED, NULL, tok);
        r = error_response(t, NULL, tok, 401,
                           "{\"error\":\"AuthenticationRequired\",\"message\":\"Invalid "
                           "identifier or password\"}");
        expect_explained(t, r, EARSHOT_BLOCKED, "check `identifier` and `app_password`");
        assert_non_null(strstr(t->sink.error, "Invalid identifier or password"));
        assert_non_null(strstr(t->sink.error, "acme.bsky.social"));
        assert_null(session_state(t));
        expect_no_secrets(t);
        free(tok);
        free(tok2);
}

static void test_bad_password(void **state) {
        SourceTest *t = *state;

        create_ok(t, NULL);
        build(t, Q_FEED, NULL, NULL);
        /* a server that echoes the password gets it masked */
        int r = error_response(t, NULL, NULL, 401,
                               "{\"error\":\"AuthenticationRequired\",\"message\":\"Invalid "
                               "identifier or password " PASSWORD "\"}");
        expect_explained(t, r, EARSHOT_BLOCKED, "app_password");
        assert_non_null(strstr(t->sink.error, "identifier"));
        assert_non_null(strstr(t->sink.error, "***"));
        expect_no_secrets(t);
        /* the next poll tries to log in again (the core polls a blocked feed rarely) */
        build(t, Q_FEED, NULL, NULL);
        assert_string_equal(t->req.url, PDS "/xrpc/com.atproto.server.createSession");
        /* a taken-down account blocks too */
        r = error_response(t, NULL, NULL, 400,
                           "{\"error\":\"AccountTakedown\",\"message\":\"Account has been taken "
                           "down\"}");
        expect_explained(t, r, EARSHOT_BLOCKED, "AccountTakedown");
        /* an AppView configured as `pds`: no logins there */
        expect_failure(t, Q_FEED, NULL, NULL, 501,
                       "{\"error\":\"MethodNotImplemented\",\"message\":\"Method Not "
                       "Implemented\"}",
                       EARSHOT_BLOCKED, "set `pds` to the account's PDS");
        expect_failure(t, Q_FEED, NULL, NULL, 404, "<html>not found</html>", EARSHOT_BLOCKED,
                       "does not serve logins");
        /* other failures of the login are the core's */
        expect_generic(t, Q_FEED, NULL, NULL, 500, "{\"error\":\"InternalServerError\"}");
}

static void test_login_rate_limited(void **state) {
        SourceTest *t = *state;
        char reset[64];

        create_ok(t, NULL);
        build(t, Q_FEED, NULL, NULL);
        (void)snprintf(reset, sizeof(reset), "RateLimit-Reset: %" PRId64, t->mh.now / USEC + 240);
        const char *headers[] = {"RateLimit-Limit: 30", "RateLimit-Remaining: 0", reset, NULL};
        const char *body = "{\"error\":\"RateLimitExceeded\",\"message\":\"Rate Limit Exceeded\"}";
        struct earshot_response resp = mock_response(429, body, strlen(body));
        resp.headers = headers;
        mock_sink_done(&t->sink);
        mock_sink_init(&t->sink);
        int r = P->source->parse_error(t->state, Q_FEED, NULL, NULL, &resp, &t->sink);
        expect_explained(t, r, EARSHOT_RETRY, "refuses more logins for now");
        assert_int_equal(t->sink.backoff_usec, 240 * USEC);
}

static void test_search_errors(void **state) {
        SourceTest *t = *state;

        create_ok(t, NULL);
        free(login(t, Q_FEED, NULL, NULL));
        build(t, Q_FEED, NULL, "P P 1 l - - - -");
        expect_failure(t, Q_FEED, NULL, "P P 1 l - - - -", 403,
                       "<html><body><h1>403 Forbidden</h1>Request forbidden by administrative "
                       "rules.</body></html>",
                       EARSHOT_BLOCKED, "searchPosts needs the login through the account's PDS");
        expect_failure(t, Q_FEED, NULL, "P P 1 l - - - -", 400,
                       "{\"error\":\"BadQueryString\",\"message\":\"bad query\"}", EARSHOT_BLOCKED,
                       "check `queries`");
        expect_failure(t, Q_FEED, NULL, "P P 1 l - - - -", 429, "", EARSHOT_RETRY, "rate limit");
        expect_generic(t, Q_FEED, NULL, "P P 1 l - - - -", 502, "<html>Bad Gateway</html>");
        /* a fresh login refused at once: no second login in this poll */
        expect_failure(t, Q_FEED, NULL, "P P 1 l - - - -", 401, "{\"error\":\"ExpiredToken\"}",
                       EARSHOT_RETRY, "just issued");

        build(t, A_FEED, NULL, NULL);
        expect_failure(t, A_FEED, NULL, NULL, 400,
                       "{\"error\":\"InvalidRequest\",\"message\":\"Profile not found\"}",
                       EARSHOT_BLOCKED, "check `accounts`");
        expect_generic(t, A_FEED, NULL, NULL, 403, "<html>Forbidden</html>");
        expect_no_secrets(t);
}

/* The search fixture: the authors are looked up, then the page is emitted with their counts. */
static void test_search_first_poll(void **state) {
        SourceTest *t = *state;

        create_ok(t, NULL);
        char *tok = login(t, Q_FEED, NULL, NULL);
        build(t, Q_FEED, NULL, tok);
        assert_int_equal(parse_feed_fixture(t, Q_FEED, NULL, tok, SEARCH_2025), EARSHOT_MORE);
        assert_int_equal(t->sink.n_posts, 0);
        assert_int_equal(t->sink.n_cursor, 0);
        char *ftok = next_token(t);
        assert_true(strncmp(ftok, "F F 1 l - - - did:plc:", 22) == 0);

        /* 18 authors, one request; the asked DIDs go as repeated actors= */
        build(t, Q_FEED, NULL, ftok);
        const char *want_url = PDS "/xrpc/app.bsky.actor.getProfiles?actors=did%3Aplc%3A";
        assert_true(strncmp(t->req.url, want_url, strlen(want_url)) == 0);
        size_t n = 0;
        for (const char *p = strstr(t->req.url, "actors="); p; p = strstr(p + 1, "actors="))
                n++;
        assert_int_equal(n, 18);
        assert_non_null(mock_request_header(&t->req, "Authorization"));

        /* the network answers for two of them */
        const char *profiles =
                "{\"profiles\":[{\"did\":\"did:plc:kkergqgbhb56ptpwj2wenkje\",\"handle\":"
                "\"socpaperbot.bsky.social\",\"followersCount\":4321,\"followsCount\":1},"
                "{\"did\":\"did:plc:7nagdvjqrzaquzk7mueohne5\",\"handle\":\"mcpli.bsky.social\","
                "\"followersCount\":87}]}";
        assert_int_equal(parse_feed(t, Q_FEED, NULL, ftok, profiles), EARSHOT_MORE);
        char *ptok = next_token(t);
        assert_string_equal(ptok, "P P 1 lp - - - -");
        const char *cache = t->mh.host.state_get(&t->mh.host, "profiles");
        assert_non_null(cache);
        assert_non_null(strstr(cache, "did:plc:kkergqgbhb56ptpwj2wenkje 4321 "));
        assert_non_null(strstr(cache, "did:plc:s7savtl25cqhm3ddqc7jeljx -1 "));

        /* the page again: emitted, oldest first, the first poll's newest page only */
        build(t, Q_FEED, NULL, ptok);
        assert_string_equal(t->req.url,
                            PDS "/xrpc/app.bsky.feed.searchPosts?q=acme&sort=latest&limit=100");
        assert_int_equal(parse_feed_fixture(t, Q_FEED, NULL, ptok, SEARCH_2025), 0);
        assert_int_equal(t->sink.n_posts, 25);
        assert_int_equal(t->sink.n_page, 0);
        assert_string_equal(t->sink.cursor,
                            "1747674609813000 at://did:plc:kkergqgbhb56ptpwj2wenkje/"
                            "app.bsky.feed.post/3lpk2u6qo222m");
        assert_string_equal(t->sink.posts[0].id, "at://did:plc:7nagdvjqrzaquzk7mueohne5/"
                                                 "app.bsky.feed.post/3lpica7sxmk2u");

        const struct earshot_post *p = find_post(t, "at://did:plc:kkergqgbhb56ptpwj2wenkje/"
                                                    "app.bsky.feed.post/3lpk2u6qo222m");
        assert_string_equal(p->network, "bluesky");
        assert_string_equal(p->url, "https://bsky.app/profile/socpaperbot.bsky.social/post/"
                                    "3lpk2u6qo222m");
        assert_string_equal(p->author_handle, "socpaperbot.bsky.social");
        assert_string_equal(p->author_name, "Sociology papers (journals + SocArXiv)");
        assert_int_equal(p->author_followers, 4321);
        assert_null(p->lang);
        assert_null(p->title);
        assert_null(p->reply_to);
        assert_true(strncmp(p->text, "Ends Versus Means: Public Opinion", 33) == 0);
        int64_t want;
        assert_int_equal(t->mh.host.parse_time("2025-05-19T17:10:09.561858Z", &want), 0);
        assert_int_equal(p->created_usec, want);

        /* a shortened link is expanded to the facet's URI; a reply names its parent */
        p = find_post(t, "at://did:plc:s7savtl25cqhm3ddqc7jeljx/app.bsky.feed.post/3lpk2r5h5ec2j");
        assert_non_null(strstr(p->text, "https://open.substack.com/pub/christackett/p/the-pawn-or-"
                                        "the-collaborator?r=92vnq&utm_medium=ios"));
        assert_null(strstr(p->text, "christac..."));
        assert_int_equal(p->author_followers, -1); /* asked, not returned */
        assert_string_equal(p->lang, "en");
        assert_int_equal(p->replies, 0);
        assert_int_equal(p->reposts, 3);
        assert_int_equal(p->likes, 4);
        p = find_post(t, "at://did:plc:7nagdvjqrzaquzk7mueohne5/app.bsky.feed.post/3lpjzka2pzc2l");
        assert_string_equal(p->reply_to, "at://did:plc:7nagdvjqrzaquzk7mueohne5/app.bsky.feed.post/"
                                         "3lpjzgltpa22l");
        assert_int_equal(p->author_followers, 87);
        assert_string_equal(p->author_name, "Michael Li (李之樸)");
        /* a post whose client clock ran ahead keeps its createdAt */
        p = find_post(t, "at://did:plc:mhbp4wx4zsjf6537frktqux2/app.bsky.feed.post/3lpikwarowc2o");
        assert_int_equal(t->mh.host.parse_time("2025-05-19T02:52:19.333Z", &want), 0);
        assert_int_equal(p->created_usec, want);
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_WARNING, ""), 0);
        expect_no_secrets(t);

        /* the next page of the same poll has them all cached: no lookup */
        assert_int_equal(parse_feed_fixture(t, Q_FEED, NULL, ptok, SEARCH_2025), 0);
        assert_int_equal(t->sink.n_posts, 25);
        free(tok);
        free(ftok);
        free(ptok);
}

/* Later polls walk back to the cursor; max_pages stops the walk with a gap. */
static void test_walk(void **state) {
        SourceTest *t = *state;

        create_ok(t, SETTINGS("max_pages=2"));
        seed_profiles(t, SEARCH_2025);
        free(login(t, Q_FEED, NULL, NULL));

        /* the cursor at post 10 (13:08:41.010): posts newer, plus two minutes' overlap */
        const char *cursor = "1747660121010000 at://did:plc:clxs5bimkdx2zvxzrbs6v3pw/"
                             "app.bsky.feed.post/3lpjneeyp6c2w";
        build(t, Q_FEED, cursor, "P P 1 l - - - -");
        assert_int_equal(parse_feed_fixture(t, Q_FEED, cursor, "P P 1 l - - - -", SEARCH_2025), 0);
        assert_int_equal(t->sink.n_posts, 10);
        assert_string_equal(t->sink.posts[9].id, "at://did:plc:kkergqgbhb56ptpwj2wenkje/"
                                                 "app.bsky.feed.post/3lpk2u6qo222m");
        assert_string_equal(t->sink.cursor,
                            "1747674609813000 at://did:plc:kkergqgbhb56ptpwj2wenkje/"
                            "app.bsky.feed.post/3lpk2u6qo222m");
        assert_int_equal(t->sink.n_gaps, 0);
        assert_int_equal(find_post(t, "at://did:plc:kkergqgbhb56ptpwj2wenkje/app.bsky.feed.post/"
                                      "3lpk2u6qo222m")
                                 ->author_followers,
                         1000);

        /* a cursor older than the page: go on to the next with the API's cursor */
        const char *old = "1747600000000000 at://did:plc:x/app.bsky.feed.post/old";
        build(t, Q_FEED, old, "P P 1 l - - - -");
        assert_int_equal(parse_feed_fixture(t, Q_FEED, old, "P P 1 l - - - -", SEARCH_2025),
                         EARSHOT_MORE);
        assert_int_equal(t->sink.n_posts, 25);
        assert_int_equal(t->sink.n_cursor, 0);
        char *tok = next_token(t);
        assert_string_equal(tok, "P P 2 l 1747674609813000 at://did:plc:kkergqgbhb56ptpwj2wenkje/"
                                 "app.bsky.feed.post/3lpk2u6qo222m 25 -");
        build(t, Q_FEED, old, tok);
        assert_string_equal(t->req.url, PDS "/xrpc/app.bsky.feed.searchPosts?q=acme&sort=latest"
                                            "&limit=100&since=2025-05-18T20%3A24%3A40.000Z"
                                            "&cursor=25");
        /* page 2 of 2 (the same body stands in): stopped, the gap reported, the cursor set */
        assert_int_equal(parse_feed_fixture(t, Q_FEED, old, tok, SEARCH_2025), 0);
        assert_int_equal(t->sink.n_gaps, 1);
        assert_int_equal(t->sink.gap_from_usec, INT64_C(1747600000000000));
        assert_int_equal(t->sink.gap_to_usec, INT64_C(1747613813915000));
        assert_string_equal(t->sink.gap_reason, "max_pages");
        assert_string_equal(t->sink.cursor,
                            "1747674609813000 at://did:plc:kkergqgbhb56ptpwj2wenkje/"
                            "app.bsky.feed.post/3lpk2u6qo222m");

        /* nothing new: no posts, the cursor stays */
        const char *top = "1747674609813000 at://did:plc:kkergqgbhb56ptpwj2wenkje/"
                          "app.bsky.feed.post/3lpk2u6qo222m";
        build(t, Q_FEED, top, "P P 1 l - - - -");
        assert_int_equal(parse_feed_fixture(t, Q_FEED, top, "P P 1 l - - - -", SEARCH_2025), 0);
        /* posts within the overlap come again (the core drops them), the cursor's own does not */
        assert_int_equal(t->sink.n_posts, 1);
        assert_string_equal(t->sink.posts[0].id, "at://did:plc:s7savtl25cqhm3ddqc7jeljx/"
                                                 "app.bsky.feed.post/3lpk2r5h5ec2j");
        assert_int_equal(t->sink.n_cursor, 0);

        /* an empty answer without cursor ends the walk: the walk's top becomes the cursor */
        build(t, Q_FEED, old, tok);
        assert_int_equal(parse_feed(t, Q_FEED, old, tok, "{\"posts\":[]}"), 0);
        assert_int_equal(t->sink.n_posts, 0);
        assert_string_equal(t->sink.cursor,
                            "1747674609813000 at://did:plc:kkergqgbhb56ptpwj2wenkje/"
                            "app.bsky.feed.post/3lpk2u6qo222m");
        free(tok);
}

static void test_lang(void **state) {
        SourceTest *t = *state;

        create_ok(t, SETTINGS("lang=de"));
        seed_profiles(t, SEARCH_2025);
        char *tok = login(t, Q_FEED, NULL, NULL);
        build(t, Q_FEED, NULL, tok);
        assert_string_equal(t->req.url, PDS "/xrpc/app.bsky.feed.searchPosts?q=acme&sort=latest"
                                            "&limit=100&lang=de");
        /* 21 posts say en: out; 4 say nothing: in */
        assert_int_equal(parse_feed_fixture(t, Q_FEED, NULL, tok, SEARCH_2025), 0);
        assert_int_equal(t->sink.n_posts, 4);
        for (size_t i = 0; i < 4; i++)
                assert_null(t->sink.posts[i].lang);
        free(tok);

        create_ok(t, SETTINGS("lang=en", "lang=de"));
        seed_profiles(t, SEARCH_2025);
        tok = strdup("P P 1 l - - - -");
        build(t, Q_FEED, NULL, tok); /* the session is kept: no login */
        assert_string_equal(t->req.method, "GET");
        assert_null(strstr(t->req.url, "lang="));
        assert_int_equal(parse_feed_fixture(t, Q_FEED, NULL, tok, SEARCH_2025), 0);
        assert_int_equal(t->sink.n_posts, 25);
        free(tok);
}

static void test_author_feed(void **state) {
        SourceTest *t = *state;

        create_ok(t, NULL);
        /* 2023: a repost (skipped), a reply and its parent; an old-style cursor */
        const char *cursor = "1696200000000000";
        build(t, A_FEED, cursor, NULL);
        assert_int_equal(parse_feed_fixture(t, A_FEED, cursor, NULL, AUTHOR_2023), EARSHOT_MORE);
        char *ftok = next_token(t);
        assert_string_equal(ftok, "F F 1 - - - - did:plc:wpe35pganb6d4pg4ekmfy6u5");
        build(t, A_FEED, cursor, ftok);
        assert_string_equal(t->req.url, APPVIEW "/xrpc/app.bsky.actor.getProfiles?actors=did%3Aplc"
                                                "%3Awpe35pganb6d4pg4ekmfy6u5");
        assert_null(mock_request_header(&t->req, "Authorization"));
        /* getProfiles failing is no reason to hold the posts back */
        int r = error_response_feed(t, A_FEED, cursor, ftok, 400, "{\"error\":\"InvalidRequest\"}");
        assert_int_equal(r, EARSHOT_MORE);
        char *ptok = next_token(t);
        assert_string_equal(ptok, "P P 1 p - - - -");
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_WARNING, "without follower"), 1);

        build(t, A_FEED, cursor, ptok);
        assert_int_equal(parse_feed_fixture(t, A_FEED, cursor, ptok, AUTHOR_2023), EARSHOT_MORE);
        expect_ids(t, 2, "at://did:plc:wpe35pganb6d4pg4ekmfy6u5/app.bsky.feed.post/3kasvrt6b372y",
                   "at://did:plc:wpe35pganb6d4pg4ekmfy6u5/app.bsky.feed.post/3kasvzedyyu2r");
        assert_string_equal(
                t->sink.posts[1].reply_to,
                "at://did:plc:wpe35pganb6d4pg4ekmfy6u5/app.bsky.feed.post/3kasvrt6b372y");
        assert_int_equal(t->sink.posts[1].author_followers, -1);
        /* the cursor of 2023 is opaque and goes on, percent-encoded */
        char *tok2 = next_token(t);
        assert_string_equal(tok2, "P P 2 - 1696301605697000 at://did:plc:wpe35pganb6d4pg4ekmfy6u5/"
                                  "app.bsky.feed.post/3kasvzedyyu2r 1696301352905%3A%3Abafyreifij"
                                  "eifzyh724gobyh3s2cswupnzib3wdbhrtmozbt4abb3wmyvaa -");
        build(t, A_FEED, cursor, tok2);
        assert_string_equal(t->req.url, APPVIEW "/xrpc/app.bsky.feed.getAuthorFeed?actor=chriskenny"
                                                ".bsky.social&limit=100&filter=posts_with_replies"
                                                "&cursor=1696301352905%3A%3Abafyreifijeifzyh724g"
                                                "obyh3s2cswupnzib3wdbhrtmozbt4abb3wmyvaa");
        free(ftok);
        free(ptok);
        free(tok2);

        /* 2025: 50 items, 7 reposts skipped; the first poll takes the page as it is */
        seed_profiles(t, AUTHOR_2025);
        assert_int_equal(parse_feed_fixture(t, A_FEED, NULL, NULL, AUTHOR_2025), 0);
        assert_int_equal(t->sink.n_posts, 43);
        for (size_t i = 0; i < t->sink.n_posts; i++) {
                assert_string_equal(t->sink.posts[i].author_handle, "chriskenny.bsky.social");
                assert_true(strncmp(t->sink.posts[i].url,
                                    "https://bsky.app/profile/chriskenny.bsky.social/post/",
                                    52) == 0);
                assert_true(t->sink.posts[i].author_followers >= 1000);
        }
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_WARNING, "skipped"), 0);
}

static void test_garbage(void **state) {
        SourceTest *t = *state;
        static const char *bad[] = {"",
                                    "not json",
                                    "[]",
                                    "{\"feed\":[]}",
                                    "{\"posts\":{}}",
                                    "{\"posts\":[]} {}",
                                    "{\"posts\":[],\"x\":\"\\u0000\"}"};

        create_ok(t, NULL);
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                build(t, Q_FEED, NULL, "P P 1 l - - - -");
                int r = parse_feed(t, Q_FEED, NULL, "P P 1 l - - - -", bad[i]);
                if (i == 6) /* a NUL escape is valid JSON */
                        assert_int_equal(r, 0);
                else
                        assert_int_equal(r, -EBADMSG);
                assert_int_equal(t->sink.n_posts, 0);
        }
        /* elements of the wrong shape are skipped with one warning */
        seed_profiles(t, SEARCH_2025);
        build(t, Q_FEED, NULL, "P P 1 l - - - -");
        assert_int_equal(
                parse_feed(t, Q_FEED, NULL, "P P 1 l - - - -",
                           "{\"posts\":[1,{\"uri\":\"https://x\"},{\"uri\":\"at://did:plc:"
                           "kkergqgbhb56ptpwj2wenkje/app.bsky.feed.post/a\",\"record\":{}},"
                           "{\"uri\":\"at://did:plc:kkergqgbhb56ptpwj2wenkje/app.bsky.feed."
                           "post/b\",\"record\":{\"text\":\"acme\",\"facets\":7,\"langs\":"
                           "[3]},\"author\":{\"did\":\"did:plc:kkergqgbhb56ptpwj2wenkje\","
                           "\"handle\":\"handle.invalid\"}}]}"),
                0);
        assert_int_equal(t->sink.n_posts, 1);
        assert_string_equal(t->sink.posts[0].text, "acme");
        assert_string_equal(t->sink.posts[0].url, "https://bsky.app/profile/did:plc:"
                                                  "kkergqgbhb56ptpwj2wenkje/post/b");
        assert_null(t->sink.posts[0].author_handle);
        assert_null(t->sink.posts[0].lang);
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_WARNING, "skipped 3 of 4"), 1);

        /* a login answer without tokens is malformed */
        build(t, Q_FEED, NULL, NULL);
        assert_int_equal(parse_feed(t, Q_FEED, NULL, NULL, "{\"did\":\"did:plc:me\"}"), -EBADMSG);
        assert_null(session_state(t));
        /* bad page tokens */
        static const char *tokens[] = {"",
                                       "X P 1 - - - - -",
                                       "P P 0 - - - - -",
                                       "P P 1 q - - - - -",
                                       "P P 1 - - - -",
                                       "P P 99 - - - - -",
                                       "P P 1 - x - - -",
                                       "P P 1 - 5 https://x - -"};
        for (size_t i = 0; i < sizeof(tokens) / sizeof(tokens[0]); i++)
                assert_int_equal(
                        P->source->build_request(t->state, Q_FEED, NULL, tokens[i], &t->req),
                        -EINVAL);
        assert_int_equal(P->source->build_request(t->state, 9, NULL, NULL, &t->req), -EINVAL);
        /* a cursor that makes no sense: a warning, then the first poll's rules */
        seed_profiles(t, SEARCH_2025);
        build(t, A_FEED, NULL, NULL);
        build(t, Q_FEED, NULL, "P P 1 l - - - -");
        assert_int_equal(parse_feed_fixture(t, Q_FEED, "garbage", NULL, SEARCH_2025), 0);
        assert_int_equal(t->sink.n_posts, 25);
        assert_int_equal(
                mock_host_count_logs(&t->mh, EARSHOT_LOG_WARNING, "cannot read the cursor"), 1);
}

static void test_old_search(void **state) {
        SourceTest *t = *state;

        create_ok(t, NULL);
        seed_profiles(t, SEARCH_2023);
        build(t, Q_FEED, NULL, "P P 1 l - - - -");
        assert_int_equal(parse_feed_fixture(t, Q_FEED, NULL, "P P 1 l - - - -", SEARCH_2023), 0);
        assert_int_equal(t->sink.n_posts, 23);
        assert_string_equal(t->sink.posts[22].author_handle, "planetcarnival.bsky.social");
}

/* ---- the helpers of bluesky-parse.c ------------------------------------------------------------
 */

static char *expand(const char *text, const char *facets_json) {
        cJSON *f = cJSON_Parse(facets_json);
        char *s = bsky_text_expand(text, f);
        cJSON_Delete(f);
        assert_non_null(s);
        return s;
}

#define LINK(s, e, uri)                                                                            \
        "{\"index\":{\"byteStart\":" #s ",\"byteEnd\":" #e "},\"features\":[{\"$type\":"           \
        "\"app.bsky.richtext.facet#link\",\"uri\":\"" uri "\"}]}"

static void test_facets(void **state) {
        (void)state;
        char *s;

        /* "ü" is two bytes: the byte offsets land after it */
        s = expand("Grüße acme.com/x... ok", "[" LINK(8, 21, "https://acme.com/x/long") "]");
        assert_string_equal(s, "Grüße https://acme.com/x/long ok");
        free(s);
        /* two links, given out of order */
        s = expand("a x.io/1 b y.io/2 c",
                   "[" LINK(11, 17, "https://y.io/2222") "," LINK(2, 8, "https://x.io/1111") "]");
        assert_string_equal(s, "a https://x.io/1111 b https://y.io/2222 c");
        free(s);
        /* out of bounds, reversed, empty, splitting "ü", overlapping, not http, blanks */
        const char *text = "Grüße x.io/1";
        /* clang-format off */
        static const char bad[] =
                "[" LINK(7, 99, "https://x") "," LINK(9, 7, "https://x") ","
                LINK(7, 7, "https://x") "," LINK(3, 6, "https://x") ","
                LINK(7, 13, "javascript:alert(1)") "," LINK(7, 13, "https://a b") "]";
        /* clang-format on */
        s = expand(text, bad);
        assert_string_equal(s, text);
        free(s);
        s = expand("x.io/1 y", "[" LINK(0, 6, "https://x.io/1/a") "," LINK(2, 8, "https://z") "]");
        assert_string_equal(s, "https://x.io/1/a y");
        free(s);
        /* mentions and tags are left alone; no facets at all */
        s = expand("@bob #acme",
                   "[{\"index\":{\"byteStart\":0,\"byteEnd\":4},\"features\":[{\"$type\":"
                   "\"app.bsky.richtext.facet#mention\",\"did\":\"did:plc:b\"}]}]");
        assert_string_equal(s, "@bob #acme");
        free(s);
        s = expand("plain", "null");
        assert_string_equal(s, "plain");
        free(s);
}

static void test_jwt(void **state) {
        (void)state;
        int64_t exp = 0;
        char *j = jwt("x", 1785600000);

        assert_int_equal(bsky_jwt_exp(j, &exp), 0);
        assert_int_equal(exp, 1785600000);
        free(j);
        assert_int_equal(bsky_jwt_exp("abc", &exp), -EINVAL);
        assert_int_equal(bsky_jwt_exp("a..c", &exp), -EINVAL);
        assert_int_equal(bsky_jwt_exp("a.!!!.c", &exp), -EINVAL);
        char *p = b64url("{\"sub\":\"x\"}"), buf[128];
        (void)snprintf(buf, sizeof(buf), "e30.%s.sig", p);
        assert_int_equal(bsky_jwt_exp(buf, &exp), -EINVAL);
        free(p);
        p = b64url("{\"exp\":-5}");
        (void)snprintf(buf, sizeof(buf), "e30.%s.sig", p);
        assert_int_equal(bsky_jwt_exp(buf, &exp), -EINVAL);
        free(p);
        assert_int_equal(exp, 1785600000);

        /* a login whose JWT has no exp: an hour, renewed a minute early */
        SourceTest *t = *state;
        (void)t;
}

static void test_profiles_cache(void **state) {
        (void)state;
        Profiles p = {0};
        char did[64];

        assert_int_equal(profiles_load(&p,
                                       "did:plc:a 5 100\ndid:plc:b -1 200\nbad line\n"
                                       "did:plc:c 7 50\nnotadid 3 300\ndid:plc:a 9 400\n",
                                       60),
                         0);
        assert_int_equal(p.n, 2);
        assert_int_equal(profiles_lookup(&p, "did:plc:a"), 5);
        assert_int_equal(profiles_lookup(&p, "did:plc:b"), -1);
        assert_int_equal(profiles_lookup(&p, "did:plc:c"), -2); /* expired */
        /* more than fit: the oldest go */
        for (int i = 0; i < PROFILES_MAX + 200; i++) {
                (void)snprintf(did, sizeof(did), "did:plc:%024d", i);
                assert_int_equal(profiles_put(&p, did, i, 1000 + i), 0);
        }
        char *text = profiles_format(&p);
        assert_non_null(text);
        assert_true(strlen(text) <= PROFILES_BYTES_MAX);
        profiles_done(&p);
        assert_int_equal(profiles_load(&p, text, 0), 0);
        assert_true(p.n <= PROFILES_MAX && p.n > 500);
        (void)snprintf(did, sizeof(did), "did:plc:%024d", PROFILES_MAX + 199);
        assert_int_equal(profiles_lookup(&p, did), PROFILES_MAX + 199);
        assert_int_equal(profiles_lookup(&p, "did:plc:a"), -2);
        (void)snprintf(did, sizeof(did), "did:plc:%024d", 0);
        assert_int_equal(profiles_lookup(&p, did), -2);
        free(text);
        profiles_done(&p);

        assert_true(bsky_post_uri("at://did:plc:x/app.bsky.feed.post/abc", NULL));
        assert_false(bsky_post_uri("at://did:plc:x/app.bsky.feed.like/abc", NULL));
        assert_false(bsky_post_uri("at://did:plc:x/app.bsky.feed.post/", NULL));
        assert_false(bsky_post_uri("at://did:plc:x/app.bsky.feed.post/a b", NULL));
        assert_false(bsky_did_valid("did:plc"));
        assert_false(bsky_did_valid("did:plc:a/b"));
        assert_true(bsky_did_valid("did:web:example.com"));
}

/* A session whose access JWT cannot be read is used for an hour; the refresh JWT's for 60 days. */
static void test_opaque_tokens(void **state) {
        SourceTest *t = *state;

        create_ok(t, NULL);
        build(t, Q_FEED, NULL, NULL);
        assert_int_equal(
                parse_feed(t, Q_FEED, NULL, NULL,
                           "{\"accessJwt\":\"opaque-access\",\"refreshJwt\":\"opaque-"
                           "refresh\",\"did\":\"did:plc:me\",\"handle\":\"acme.bsky.social\"}"),
                EARSHOT_MORE);
        assert_int_equal(t->mh.state_expires[0], t->mh.now + INT64_C(60) * 86400 * USEC);
        t->mh.now += 58 * 60 * USEC;
        build(t, Q_FEED, NULL, NULL);
        assert_string_equal(mock_request_header(&t->req, "Authorization"), "Bearer opaque-access");
        t->mh.now += 2 * 60 * USEC;
        build(t, Q_FEED, NULL, NULL);
        assert_string_equal(t->req.url, PDS "/xrpc/com.atproto.server.refreshSession");
        /* another identifier in the config: the kept session is not theirs */
        create_ok(t, SETTINGS("identifier=other.bsky.social"));
        build(t, Q_FEED, NULL, NULL);
        assert_string_equal(t->req.url, PDS "/xrpc/com.atproto.server.createSession");
}

/* Two searches share the session: one renewing it does not make the other throw it away. */
static void test_shared_session(void **state) {
        SourceTest *t = *state;

        create_ok(t, SETTINGS("queries=other"));
        assert_string_equal(P->source->feed(t->state, 2), APPVIEW "#@chriskenny.bsky.social");
        free(login(t, Q_FEED, NULL, NULL));
        /* feed 0 asks with the first access token ... */
        build(t, Q_FEED, NULL, "P P 1 l - - - -");
        /* ... feed 1 finds it expired and refreshes meanwhile */
        t->mh.now += 7200 * USEC;
        build(t, 1, NULL, NULL);
        assert_string_equal(t->req.url, PDS "/xrpc/com.atproto.server.refreshSession");
        char *access2 = NULL, *body = session_body(t, "2", 7200, 60 * 86400, &access2, NULL);
        assert_int_equal(parse_feed(t, 1, NULL, NULL, body), EARSHOT_MORE);
        free(body);
        /* feed 0's answer: expired; it goes on with the renewed session, no refresh, no login */
        int r = error_response(t, NULL, "P P 1 l - - - -", 400, "{\"error\":\"ExpiredToken\"}");
        assert_int_equal(r, EARSHOT_MORE);
        assert_string_equal(t->sink.page, "P P 1 rl - - - -");
        assert_non_null(strstr(session_state(t), access2));
        build(t, Q_FEED, NULL, t->sink.page);
        assert_string_equal(t->req.method, "GET");
        char want[2048];
        (void)snprintf(want, sizeof(want), "Bearer %s", access2);
        assert_string_equal(mock_request_header(&t->req, "Authorization"), want);
        /* the same for a refresh refused because the other feed rotated the token */
        build(t, Q_FEED, NULL, "R P 1 - - - - -"); /* the kept session, refresh asked */
        body = session_body(t, "3", 7200, 60 * 86400, NULL, NULL);
        build(t, 1, NULL, "R P 1 - - - - -");
        assert_int_equal(parse_feed(t, 1, NULL, "R P 1 - - - - -", body), EARSHOT_MORE);
        free(body);
        r = error_response(t, NULL, "R P 1 - - - - -", 400,
                           "{\"error\":\"ExpiredToken\",\"message\":\"Token has been revoked\"}");
        assert_int_equal(r, EARSHOT_MORE);
        assert_string_equal(t->sink.page, "P P 1 r - - - -");
        assert_non_null(session_state(t));
        free(access2);
}

/* A page of 100 new authors behind a long API cursor: lookups of 25, tokens that fit the core. */
static void test_many_authors(void **state) {
        SourceTest *t = *state;
        cJSON *doc = cJSON_CreateObject(), *posts = cJSON_AddArrayToObject(doc, "posts");
        char api[501], buf[160];

        memset(api, 'c', 500);
        api[500] = 0;
        cJSON_AddStringToObject(doc, "cursor", api);
        for (int i = 0; i < 100; i++) {
                cJSON *p = cJSON_CreateObject(), *au = cJSON_AddObjectToObject(p, "author");
                cJSON *rec = cJSON_AddObjectToObject(p, "record");
                (void)snprintf(buf, sizeof(buf), "did:plc:%024d", i);
                cJSON_AddStringToObject(au, "did", buf);
                (void)snprintf(buf, sizeof(buf), "at://did:plc:%024d/app.bsky.feed.post/r%d", i, i);
                cJSON_AddStringToObject(p, "uri", buf);
                cJSON_AddStringToObject(rec, "text", "acme refund");
                (void)snprintf(buf, sizeof(buf), "2026-08-01T13:%02d:%02d.000Z", 59 - i / 60,
                               59 - i % 60);
                cJSON_AddStringToObject(p, "indexedAt", buf);
                cJSON_AddItemToArray(posts, p);
        }
        create_ok(t, NULL);
        free(login(t, Q_FEED, NULL, NULL));
        const char *old = "1785500000000000";
        char *tok = strdup("P P 2 l 1785592799000000 at://did:plc:x/app.bsky.feed.post/top "
                           "ccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
                           "ccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
                           "ccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
                           "ccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
                           "ccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
                           "ccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
                           "cccccccccccccccccccccccccccccccccccccccccccccc -");
        unsigned lookups = 0;
        for (;;) {
                build(t, Q_FEED, old, tok);
                int r = strstr(t->req.url, "getProfiles")
                                ? parse_feed(t, Q_FEED, old, tok, "{\"profiles\":[]}")
                                : parse_feed_json(t, Q_FEED, old, tok, doc);
                if (strstr(t->req.url, "getProfiles")) {
                        size_t n = 0;
                        for (const char *q = strstr(t->req.url, "actors="); q;
                             q = strstr(q + 1, "actors="))
                                n++;
                        assert_true(n >= 1 && n <= 25);
                        lookups++;
                }
                assert_int_equal(r, EARSHOT_MORE);
                assert_true(strlen(t->sink.page) < 4096);
                free(tok);
                tok = next_token(t);
                if (t->sink.n_posts > 0)
                        break;
                assert_true(lookups < 10);
        }
        /* all 100 emitted at once after the lookups; the walk goes on to page 3 */
        assert_int_equal(t->sink.n_posts, 100);
        assert_true(lookups >= 3);
        assert_true(strncmp(tok, "P P 3 l ", 8) == 0);
        cJSON_Delete(doc);
        free(tok);
}

int main(void) {
        source_test_defaults = DEFAULTS;
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_descriptor, setup, teardown),
                cmocka_unit_test_setup_teardown(test_create_rejects, setup, teardown),
                cmocka_unit_test_setup_teardown(test_password_shape, setup, teardown),
                cmocka_unit_test_setup_teardown(test_login_flow, setup, teardown),
                cmocka_unit_test_setup_teardown(test_refresh, setup, teardown),
                cmocka_unit_test_setup_teardown(test_refresh_fails_relogin, setup, teardown),
                cmocka_unit_test_setup_teardown(test_bad_password, setup, teardown),
                cmocka_unit_test_setup_teardown(test_login_rate_limited, setup, teardown),
                cmocka_unit_test_setup_teardown(test_search_errors, setup, teardown),
                cmocka_unit_test_setup_teardown(test_search_first_poll, setup, teardown),
                cmocka_unit_test_setup_teardown(test_walk, setup, teardown),
                cmocka_unit_test_setup_teardown(test_lang, setup, teardown),
                cmocka_unit_test_setup_teardown(test_author_feed, setup, teardown),
                cmocka_unit_test_setup_teardown(test_garbage, setup, teardown),
                cmocka_unit_test_setup_teardown(test_old_search, setup, teardown),
                cmocka_unit_test_setup_teardown(test_facets, setup, teardown),
                cmocka_unit_test_setup_teardown(test_jwt, setup, teardown),
                cmocka_unit_test_setup_teardown(test_profiles_cache, setup, teardown),
                cmocka_unit_test_setup_teardown(test_opaque_tokens, setup, teardown),
                cmocka_unit_test_setup_teardown(test_shared_session, setup, teardown),
                cmocka_unit_test_setup_teardown(test_many_authors, setup, teardown),
        };
        return cmocka_run_group_tests_name("source-bluesky", tests, NULL, NULL);
}
