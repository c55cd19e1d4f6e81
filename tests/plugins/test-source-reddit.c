/* SPDX-License-Identifier: MIT */
/*
 * test-source-reddit.c - the reddit source against recorded Reddit responses (PRAW's
 * cassettes, an Atom front page of 2016) and a project-written Atom listing
 * (tests/fixtures/reddit/, see PROVENANCE.md there): options and feeds, the OAuth login as
 * requests of a poll (password and client_credentials grants, the token kept in the host's
 * state and reused, logged in again when it expires or a listing answers 401, blocked when the
 * token endpoint refuses, no secret in any log line or message), listings field by field,
 * "[deleted]" and "[removed]" items reported with post_deleted, the seen-set cursor and where a
 * walk stops (a deleted cursor item does not stall it), paging and coverage gaps, the Atom
 * fallback without credentials, and error answers.
 */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "earshot-plugin.h"
#include "mock-host.h"
#include "source-test.h"
#include "source-reddit/reddit.h"

#define SEC INT64_C(1000000)
#define TOKEN_URL "https://www.reddit.com/api/v1/access_token"
#define UA "linux:com.example.earshot:1.0 (by /u/acme_support)"
#define SECRET "s3cr3t-Cl1ent"
#define PASSWORD "hunter2-Passw0rd"

/* OAuth as a script app; feeds: 0 r/acme/new, 1 r/acme/comments, 2 search:acme refund */
#define SCRIPT                                                                                     \
        SETTINGS("subreddits=r/Acme", "searches=acme  refund", "client_id=AbCdEf123",              \
                 "client_secret=" SECRET, "username=acme_support", "password=" PASSWORD,           \
                 "user_agent=" UA)
enum { NEW, COMMENTS, SEARCH };

typedef SourceTest T;

/* ---- helpers --------------------------------------------------------------------------------- */

/* parse_response() of an answer of the token endpoint (its URL) for page. */
static int login_answer(T *t, uint32_t feed, const char *page, int status, const char *body) {
        struct earshot_response resp = mock_response(status, body, strlen(body));
        resp.url = TOKEN_URL;
        mock_sink_done(&t->sink);
        mock_sink_init(&t->sink);
        if (status >= 200 && status < 300)
                return P->source->parse_response(t->state, feed, NULL, page, &resp, &t->sink);
        return P->source->parse_error(t->state, feed, NULL, page, &resp, &t->sink);
}

/* The token as the fixture carries it, kept as a poll would keep it. */
static void log_in(T *t) {
        char *body = mock_read_fixture("reddit/token.json", NULL);
        build(t, NEW, NULL, NULL);
        assert_string_equal(t->req.url, TOKEN_URL);
        assert_int_equal(login_answer(t, NEW, NULL, 200, body), EARSHOT_MORE);
        free(body);
        assert_string_equal(t->sink.page, "1|");
}

/* No log line, error message, page token or cursor mentions a secret or the token. */
static void expect_no_secrets(const T *t) {
        static const char *const secrets[] = {SECRET, PASSWORD, "<ACCESS_TOKEN>", "fresh-t0ken"};
        for (size_t s = 0; s < sizeof(secrets) / sizeof(secrets[0]); s++) {
                for (size_t i = 0; i < t->mh.n_logs; i++)
                        if (strstr(t->mh.logs[i].message, secrets[s]))
                                fail_msg("log line \"%s\" holds a secret", t->mh.logs[i].message);
                if (t->sink.error && strstr(t->sink.error, secrets[s]))
                        fail_msg("error \"%s\" holds a secret", t->sink.error);
                if (t->sink.page && strstr(t->sink.page, secrets[s]))
                        fail_msg("page token holds a secret");
                if (t->sink.cursor && strstr(t->sink.cursor, secrets[s]))
                        fail_msg("cursor holds a secret");
        }
}

/* A Listing of t3 items "t3_<id>" created at the given Unix times; after = the last one. */
static char *listing(size_t n, const char *const *ids, const int64_t *times, bool with_after) {
        cJSON *root = cJSON_CreateObject(), *data = cJSON_AddObjectToObject(root, "data");
        cJSON *children = cJSON_AddArrayToObject(data, "children");
        char name[32], link[96];

        cJSON_AddStringToObject(root, "kind", "Listing");
        for (size_t i = 0; i < n; i++) {
                cJSON *c = cJSON_CreateObject(), *d = cJSON_AddObjectToObject(c, "data");
                cJSON_AddStringToObject(c, "kind", "t3");
                (void)snprintf(name, sizeof(name), "t3_%s", ids[i]);
                (void)snprintf(link, sizeof(link), "/r/acme/comments/%s/post/", ids[i]);
                cJSON_AddStringToObject(d, "name", name);
                cJSON_AddStringToObject(d, "title", "acme refund please");
                cJSON_AddStringToObject(d, "selftext", "");
                cJSON_AddStringToObject(d, "author", "someone");
                cJSON_AddStringToObject(d, "permalink", link);
                cJSON_AddNumberToObject(d, "created_utc", (double)times[i]);
                cJSON_AddItemToArray(children, c);
        }
        if (with_after && n > 0) {
                (void)snprintf(name, sizeof(name), "t3_%s", ids[n - 1]);
                cJSON_AddStringToObject(data, "after", name);
        } else
                cJSON_AddNullToObject(data, "after");
        char *s = cJSON_PrintUnformatted(root);
        cJSON_Delete(root);
        assert_non_null(s);
        return s;
}

/* ---- options and feeds ----------------------------------------------------------------------- */

static void test_descriptor(void **state) {
        expect_source_descriptor("reddit");
        size_t n = 0;
        for (const struct earshot_option *o = P->options; o->name; o++, n++) {
                assert_non_null(o->description);
                assert_false(o->flags & EARSHOT_OPT_REQUIRED);
                bool secret =
                        strcmp(o->name, "client_secret") == 0 || strcmp(o->name, "password") == 0;
                assert_int_equal(!!(o->flags & EARSHOT_OPT_SECRET), secret);
        }
        assert_int_equal(n, 13);
        assert_true(EARSHOT_SOURCE_HAS(P->source, parse_error));
}

static void test_feeds(void **state) {
        T *t = *state;

        create_ok(t, SCRIPT);
        assert_string_equal(P->source->feed(t->state, NEW), "r/acme/new");
        assert_string_equal(P->source->feed(t->state, COMMENTS), "r/acme/comments");
        assert_string_equal(P->source->feed(t->state, SEARCH), "search:acme refund");
        assert_null(P->source->feed(t->state, 3));
        assert_int_equal(mock_host_count_logs(&t->mh, -1, NULL), 0);

        create_ok(t, SETTINGS("subreddits=acme", "subreddits=/r/ACME/", "subreddits=a_b+cd",
                              "comments=false"));
        assert_string_equal(P->source->feed(t->state, 0), "r/acme/new");
        assert_string_equal(P->source->feed(t->state, 1), "r/a_b+cd/new");
        assert_null(P->source->feed(t->state, 2));
        /* without credentials: one warning that says so */
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_WARNING, "without OAuth"), 1);
        assert_int_equal(mock_host_count_logs(&t->mh, -1, "5m"), 1);
}

static void test_create_rejects(void **state) {
        T *t = *state;

        expect_rejected(t, SETTINGS("comments=true"), "subreddits, searches");
        expect_rejected(t, SETTINGS("subreddits=a"), "is not a subreddit name");
        expect_rejected(t, SETTINGS("subreddits=acme corp"), "is not a subreddit name");
        expect_rejected(t, SETTINGS("subreddits=acme", "searches= "), "may not be empty");
        expect_rejected(t, SETTINGS("subreddits=acme", "client_secret=x"), "client_id");
        expect_rejected(t, SETTINGS("subreddits=acme", "username=a", "password=b"), "client_id");
        expect_rejected(t, SETTINGS("subreddits=acme", "client_id=abc", "user_agent=" UA),
                        "client_secret");
        expect_rejected(t,
                        SETTINGS("subreddits=acme", "client_id=abc", "client_secret=x",
                                 "username=a", "user_agent=" UA),
                        "username, password");
        expect_rejected(t, SETTINGS("subreddits=acme", "client_id=abc", "client_secret=x"),
                        "(by /u/<username>)");
        expect_rejected(t,
                        SETTINGS("subreddits=acme", "client_id=abc", "client_secret=x",
                                 "user_agent=curl/8.0"),
                        "is not of the form");
        expect_rejected(t,
                        SETTINGS("subreddits=acme", "client_id=abc", "client_secret=x",
                                 "user_agent=linux:app:1.0"),
                        "is not of the form");
        expect_rejected(t,
                        SETTINGS("subreddits=acme", "client_id=abc", "client_secret=x",
                                 "user_agent=linux::1.0 (by /u/x)"),
                        "is not of the form");
        expect_rejected(t, SETTINGS("subreddits=acme", "limit=101"), "limit");
        expect_rejected(t, SETTINGS("subreddits=acme", "max_pages=49"), "max_pages");
        expect_rejected(t, SETTINGS("subreddits=acme", "oauth_url=http://reddit.com"), "oauth_url");
        /* the secret is never repeated in a message */
        expect_rejected(t, SETTINGS("subreddits=acme", "client_secret=" SECRET), "client_id");
        assert_null(strstr(t->err, SECRET));
        /* user agents Reddit accepts */
        create_ok(t, SETTINGS("subreddits=acme", "client_id=abc", "client_secret=x",
                              "user_agent=web:earshot:v0.3 (by u/Some-Body)"));
}

/* ---- OAuth ----------------------------------------------------------------------------------- */

static void test_login_password(void **state) {
        T *t = *state;

        create_ok(t, SCRIPT);
        /* no token yet: the poll's first request is the login */
        build(t, NEW, NULL, NULL);
        assert_string_equal(t->req.method, "POST");
        assert_string_equal(t->req.url, TOKEN_URL);
        assert_string_equal(t->req.user, "AbCdEf123");
        assert_string_equal(t->req.password, SECRET);
        assert_string_equal(t->req.body,
                            "grant_type=password&username=acme_support&password=hunter2-Passw0rd");
        assert_string_equal(mock_request_header(&t->req, "Content-Type"),
                            "application/x-www-form-urlencoded");
        assert_string_equal(mock_request_header(&t->req, "User-Agent"), UA);
        assert_null(mock_request_header(&t->req, "Authorization"));

        /* the answer: the token is kept, the poll goes on with the listing */
        char *body = mock_read_fixture("reddit/token-password.json", NULL);
        assert_int_equal(login_answer(t, NEW, NULL, 200, body), EARSHOT_MORE);
        free(body);
        assert_string_equal(t->sink.page, "1|");
        assert_int_equal(t->sink.n_posts, 0);
        assert_int_equal(t->sink.n_cursor, 0);
        assert_int_equal(t->mh.n_state, 1);
        /* kept until 60 s before it expires (86400 s) */
        assert_int_equal(t->mh.state_expires[0], t->mh.now + (86400 - 60) * SEC);

        build(t, NEW, NULL, "1|");
        assert_string_equal(t->req.method, "GET");
        assert_string_equal(t->req.url, "https://oauth.reddit.com/r/acme/new?limit=100&raw_json=1");
        assert_string_equal(mock_request_header(&t->req, "Authorization"), "bearer <ACCESS_TOKEN>");
        assert_string_equal(mock_request_header(&t->req, "User-Agent"), UA);
        build(t, COMMENTS, NULL, "1|");
        assert_string_equal(t->req.url,
                            "https://oauth.reddit.com/r/acme/comments?limit=100&raw_json=1");
        build(t, SEARCH, NULL, "1|");
        assert_string_equal(t->req.url, "https://oauth.reddit.com/search?q=acme%20refund"
                                        "&sort=new&limit=100&raw_json=1");

        /* the next poll, and other feeds, reuse the token: no second login */
        unsigned sets = t->mh.n_state_set;
        for (uint32_t f = NEW; f <= SEARCH; f++) {
                build(t, f, NULL, NULL);
                assert_string_equal(t->req.method, "GET");
                assert_string_equal(mock_request_header(&t->req, "Authorization"),
                                    "bearer <ACCESS_TOKEN>");
        }
        assert_int_equal(t->mh.n_state_set, sets);

        /* a day later it has expired: the poll logs in again */
        t->mh.now += 86400 * SEC;
        build(t, NEW, NULL, NULL);
        assert_string_equal(t->req.url, TOKEN_URL);
        expect_no_secrets(t);
}

static void test_login_client_credentials(void **state) {
        T *t = *state;

        create_ok(t, SETTINGS("subreddits=acme", "client_id=AbCdEf123", "client_secret=" SECRET,
                              "user_agent=" UA, "token_url=http://127.0.0.1:8080/token",
                              "oauth_url=http://127.0.0.1:8080/api/"));
        build(t, NEW, NULL, NULL);
        assert_string_equal(t->req.url, "http://127.0.0.1:8080/token");
        assert_string_equal(t->req.body, "grant_type=client_credentials");
        assert_string_equal(t->req.user, "AbCdEf123");

        /* told apart from a listing by its URL */
        struct earshot_response resp = mock_response(200, "", 0);
        const char *body = "{\"access_token\": \"fresh-t0ken\", \"token_type\": \"bearer\", "
                           "\"expires_in\": 3600}";
        resp = mock_response(200, body, strlen(body));
        resp.url = "http://127.0.0.1:8080/token";
        assert_int_equal(parse_response_as(t, NEW, NULL, NULL, &resp), EARSHOT_MORE);
        assert_string_equal(t->sink.page, "1|");
        /* 60 s of margin before the hour is up */
        assert_int_equal(t->mh.state_expires[0], t->mh.now + (3600 - 60) * SEC);
        build(t, NEW, NULL, "1|");
        assert_string_equal(t->req.url,
                            "http://127.0.0.1:8080/api/r/acme/new?limit=100&raw_json=1");
        assert_string_equal(mock_request_header(&t->req, "Authorization"), "bearer fresh-t0ken");

        /* other credentials do not use this token */
        create_ok(t, SETTINGS("subreddits=acme", "client_id=Other", "client_secret=" SECRET,
                              "user_agent=" UA, "token_url=http://127.0.0.1:8080/token"));
        build(t, NEW, NULL, NULL);
        assert_string_equal(t->req.url, "http://127.0.0.1:8080/token");
        expect_no_secrets(t);
}

static void test_token_refused(void **state) {
        T *t = *state;

        create_ok(t, SCRIPT);
        log_in(t);
        /* a listing answers 401: forget the token, log in once more, go on */
        assert_int_equal(error_response(t, NULL, "1|", 401,
                                        "{\"message\": \"Unauthorized\", \"error\": 401}"),
                         EARSHOT_BLOCKED);
        /* ... not after a login of this poll: that one was fresh, so the app is refused */
        assert_non_null(strstr(t->sink.error, "client_id"));
        expect_nothing_kept(t);

        /* a token from the store (a new poll) refused: log in again */
        const char *unauth = "{\"message\": \"Unauthorized\", \"error\": 401}";
        assert_int_equal(error_response(t, NULL, NULL, 401, unauth), EARSHOT_MORE);
        assert_string_equal(t->sink.page, "1|login|");
        assert_int_equal(t->mh.n_state, 0); /* forgotten */
        build(t, NEW, NULL, "1|login|");
        assert_string_equal(t->req.url, TOKEN_URL);
        const char *fresh = "{\"access_token\": \"fresh-t0ken\", \"token_type\": \"bearer\", "
                            "\"expires_in\": 86400, \"scope\": \"*\"}";
        assert_int_equal(login_answer(t, NEW, "1|login|", 200, fresh), EARSHOT_MORE);
        assert_string_equal(t->sink.page, "1|");
        build(t, NEW, NULL, "1|");
        assert_string_equal(mock_request_header(&t->req, "Authorization"), "bearer fresh-t0ken");
        /* the new token is refused too: blocked, no loop */
        int r = error_response(t, NULL, "1|", 401, unauth);
        expect_explained(t, r, EARSHOT_BLOCKED, "client_secret");

        /* in the middle of a walk, the walk goes on after the login */
        assert_int_equal(error_response(t, "1456800000:348fbm9", "0|2:t3_48f6io:1456821458:348fbm9",
                                        401, unauth),
                         EARSHOT_MORE);
        assert_string_equal(t->sink.page, "1|login|2:t3_48f6io:1456821458:348fbm9");
        char *login_page = strdup(t->sink.page);
        assert_int_equal(login_answer(t, NEW, login_page, 200, fresh), EARSHOT_MORE);
        free(login_page);
        assert_string_equal(t->sink.page, "1|2:t3_48f6io:1456821458:348fbm9");
        char *walk_page = strdup(t->sink.page);
        build(t, NEW, "1456800000:348fbm9", walk_page);
        free(walk_page);
        assert_string_equal(t->req.url, "https://oauth.reddit.com/r/acme/new?limit=100"
                                        "&raw_json=1&after=t3_48f6io");
        expect_no_secrets(t);
}

static void test_login_blocked(void **state) {
        T *t = *state;
        int r;

        create_ok(t, SCRIPT);
        /* wrong password: Reddit answers 200 {"error": "invalid_grant"} (or 400) */
        r = login_answer(t, NEW, NULL, 200, "{\"error\": \"invalid_grant\"}");
        expect_explained(t, r, EARSHOT_BLOCKED, "username and password");
        assert_non_null(strstr(t->sink.error, "acme_support"));
        r = login_answer(t, NEW, "1|login|", 400, "{\"error\": \"invalid_grant\"}");
        expect_explained(t, r, EARSHOT_BLOCKED, "username and password");
        /* wrong client id or secret, or a revoked app: 401 */
        r = login_answer(t, NEW, NULL, 401, "{\"message\": \"Unauthorized\", \"error\": 401}");
        expect_explained(t, r, EARSHOT_BLOCKED, "client_id and client_secret");
        r = login_answer(t, NEW, NULL, 200, "{\"message\": \"Unauthorized\", \"error\": 401}");
        expect_explained(t, r, EARSHOT_BLOCKED, "client_id and client_secret");
        r = login_answer(t, NEW, NULL, 403, "<html>Blocked</html>");
        expect_explained(t, r, EARSHOT_BLOCKED, "client_id");
        r = login_answer(t, NEW, NULL, 400, "{\"error\": \"unsupported_grant_type\"}");
        expect_explained(t, r, EARSHOT_BLOCKED, "unsupported_grant_type");
        /* a busy or broken token endpoint is the core's to retry */
        assert_int_equal(login_answer(t, NEW, NULL, 503, "oops"), -EOPNOTSUPP);
        assert_int_equal(login_answer(t, NEW, NULL, 429, ""), -EOPNOTSUPP);
        /* an answer without a token is malformed; nothing is kept */
        assert_int_equal(login_answer(t, NEW, NULL, 200, "{\"token_type\": \"bearer\"}"), -EBADMSG);
        assert_int_equal(login_answer(t, NEW, NULL, 200,
                                      "{\"access_token\": \"a b\", \"token_type\": \"bearer\"}"),
                         -EBADMSG);
        assert_int_equal(login_answer(t, NEW, NULL, 200,
                                      "{\"access_token\": \"x\", \"token_type\": \"mac\"}"),
                         -EBADMSG);
        assert_int_equal(login_answer(t, NEW, NULL, 200, "not json"), -EBADMSG);
        assert_int_equal(t->mh.n_state, 0);

        /* application-only: the message does not ask for a password */
        create_ok(t, SETTINGS("subreddits=acme", "client_id=AbCdEf123", "client_secret=" SECRET,
                              "user_agent=" UA));
        r = login_answer(t, NEW, NULL, 401, "{\"message\": \"Unauthorized\", \"error\": 401}");
        expect_explained(t, r, EARSHOT_BLOCKED, "client_id and client_secret");
        assert_null(strstr(t->sink.error, "password"));
        expect_no_secrets(t);
}

/* ---- listings -------------------------------------------------------------------------------- */

static void test_parse_submissions(void **state) {
        T *t = *state;

        create_ok(t, SCRIPT);
        log_in(t);
        /* the first poll takes the newest page and sets the cursor */
        assert_int_equal(parse_fixture(t, NULL, "1|", "reddit/askreddit-new.json"), 0);
        assert_int_equal(t->sink.n_posts, 100);
        assert_int_equal(t->sink.n_page, 0);
        assert_int_equal(t->sink.n_deleted, 0);
        /* oldest first */
        assert_string_equal(t->sink.posts[99].id, "t3_48fbm9");
        assert_string_equal(t->sink.posts[0].id, "t3_48f6io");

        const struct earshot_post *p = find_post(t, "t3_48fbm9");
        assert_string_equal(p->network, "reddit");
        assert_string_equal(p->url, "https://www.reddit.com/r/AskReddit/comments/48fbm9/"
                                    "serious_parents_of_reddit_whats_the_biggest_lie/");
        assert_string_equal(p->title, "[Serious] Parents of Reddit, what's the biggest lie about "
                                      "yourself you've told your kids?");
        assert_string_equal(p->text, p->title); /* no selftext */
        assert_string_equal(p->author_handle, "RedHeadQc");
        assert_null(p->author_name);
        assert_int_equal(p->author_followers, -1);
        assert_int_equal(p->created_usec, INT64_C(1456821458) * SEC);
        assert_int_equal(p->replies, 1);
        assert_int_equal(p->likes, 1);
        assert_null(p->reply_to);
        assert_null(p->lang);

        /* cursor: the newest time and the 100 fullnames, compact */
        assert_non_null(t->sink.cursor);
        assert_true(strncmp(t->sink.cursor, "1456821458:348fbm9,", 19) == 0);
        assert_non_null(strstr(t->sink.cursor, ",348f6io"));
        assert_true(strlen(t->sink.cursor) < 1000);

        /* a selftext follows the title */
        assert_int_equal(parse_fixture(t, NULL, "1|", "reddit/all-new-before.json"), 0);
        p = find_post(t, "t3_5jo141");
        assert_true(strncmp(p->text, "LF: Lure Ball Gible", 19) == 0);
        assert_non_null(strstr(p->text, "\n[casual] I have the following:\n\n* HA Mareanie"));
        assert_string_equal(p->url, "https://www.reddit.com/r/pokemontrades/comments/5jo141/"
                                    "lf_lure_ball_gible_and_friend_ball/");

        /* edited as a time, Japanese text */
        assert_int_equal(parse_fixture(t, NULL, "1|", "reddit/search.json"), 0);
        assert_int_equal(t->sink.n_posts, 6);
        p = find_post(t, "t3_3gpbiu");
        assert_int_equal(p->edited_usec, INT64_C(1439447718) * SEC);
        assert_int_equal(find_post(t, "t3_3x4kt2")->edited_usec, 0);
        assert_non_null(strstr(find_post(t, "t3_4at068")->title, "たびたび話題になる"));
}

static void test_parse_comments(void **state) {
        T *t = *state;

        create_ok(t, SCRIPT);
        log_in(t);
        assert_int_equal(parse_feed_fixture(t, COMMENTS, NULL, "1|", "reddit/comments.json"), 0);
        /* the comments under a deleted post are not deleted themselves */
        assert_int_equal(t->sink.n_posts, 100);
        assert_int_equal(t->sink.n_deleted, 0);
        const struct earshot_post *p = find_post(t, "t1_k3yrfii");
        assert_string_equal(p->text, "Did it work?");
        assert_null(p->title);
        assert_string_equal(p->reply_to, "t1_k3u4rtt");
        assert_string_equal(p->author_handle, "Acceptable-Bread-566");
        assert_int_equal(p->replies, -1); /* num_comments is the thread's */
        assert_int_equal(p->created_usec, INT64_C(1696754768) * SEC);
        assert_string_equal(p->url, "https://www.reddit.com/r/<TEST_SUBREDDIT>/comments/agi5zf/"
                                    "<TEST_SUBREDDIT>/k3yrfii/");
        assert_true(strncmp(t->sink.cursor, "1696754768:1k3yrfii,", 20) == 0);
}

static void test_deleted(void **state) {
        T *t = *state;

        create_ok(t, SCRIPT);
        log_in(t);
        /* author and body "[deleted]": reported, never emitted */
        assert_int_equal(
                parse_feed_fixture(t, COMMENTS, NULL, "1|", "reddit/info-deleted-comment.json"), 0);
        assert_int_equal(t->sink.n_posts, 0);
        assert_int_equal(t->sink.n_deleted, 1);
        assert_string_equal(t->sink.deleted[0], "reddit:t1_d7ltvl0");

        /* a post seen before and deleted since is reported although it is in the seen-set */
        const char *body =
                "{\"kind\": \"Listing\", \"data\": {\"after\": null, \"children\": ["
                "{\"kind\": \"t3\", \"data\": {\"name\": \"t3_new1\", \"title\": \"acme\", "
                "\"selftext\": \"refund\", \"author\": \"a\", \"created_utc\": 1785592700.0}},"
                "{\"kind\": \"t3\", \"data\": {\"name\": \"t3_old2\", \"title\": \"acme\", "
                "\"selftext\": \"[removed]\", \"author\": \"b\", \"created_utc\": 1785592600.0}},"
                "{\"kind\": \"t3\", \"data\": {\"name\": \"t3_old1\", \"title\": \"acme\", "
                "\"selftext\": \"[deleted]\", \"author\": \"[deleted]\", "
                "\"created_utc\": 1785592500.0}}]}}";
        assert_int_equal(parse(t, "1785592600:3old2,3old1", "1|", body), 0);
        expect_ids(t, 1, "t3_new1");
        assert_string_equal(t->sink.posts[0].text, "acme\nrefund");
        assert_int_equal(t->sink.n_deleted, 2);
        assert_string_equal(t->sink.deleted[0], "reddit:t3_old1");
        assert_string_equal(t->sink.deleted[1], "reddit:t3_old2");
        assert_string_equal(t->sink.cursor, "1785592700:3new1,3old2,3old1");
}

/* ---- walks ----------------------------------------------------------------------------------- */

static void test_walk(void **state) {
        T *t = *state;

        create_ok(t, SCRIPT);
        log_in(t);
        /* the last poll saw an item older than this page: page 1 holds nothing seen, so the
         * walk goes on with after= */
        const char *old = "1456810000:3zzzzzz";
        assert_int_equal(parse_fixture(t, old, "1|", "reddit/askreddit-new.json"), EARSHOT_MORE);
        assert_int_equal(t->sink.n_posts, 100);
        assert_int_equal(t->sink.n_cursor, 0); /* only at the end of the walk */
        assert_true(strncmp(t->sink.page, "1|2:t3_48f6io:1456821458:348fbm9,", 33) == 0);
        assert_true(strlen(t->sink.page) < 4096);
        char *page2 = strdup(t->sink.page);
        build(t, NEW, old, page2);
        assert_string_equal(t->req.url, "https://oauth.reddit.com/r/acme/new?limit=100"
                                        "&raw_json=1&after=t3_48f6io");

        /* page 2 reaches the seen item: the walk ends, the cursor keeps the newest ids */
        int64_t times[] = {1456815000, 1456812000, 1456810000, 1456800000};
        const char *ids[] = {"a1", "a2", "zzzzzz", "a0"};
        char *body = listing(4, ids, times, false);
        assert_int_equal(parse(t, old, page2, body), 0);
        expect_ids(t, 2, "t3_a2", "t3_a1");
        assert_int_equal(t->sink.n_gaps, 0);
        assert_true(strncmp(t->sink.cursor, "1456821458:348fbm9,", 19) == 0);
        /* newest first, the old seen-set after the new one, at most 200 */
        assert_non_null(strstr(t->sink.cursor, ",348f6io,3a1,3a2,3zzzzzz,3a0"));
        free(body);
        free(page2);
}

static void test_deleted_cursor_item(void **state) {
        T *t = *state;

        create_ok(t, SCRIPT);
        log_in(t);
        /* every item of the seen-set is gone (deleted: Reddit lists it no more); a before=
         * cursor would stall here for ever. The walk stops at items older than the overlap. */
        const char *old = "1785590000:3gone1,3gone2";
        int64_t times[] = {1785592000, 1785591000, 1785589000, 1785500000, 1785400000};
        const char *ids[] = {"n2", "n1", "o3", "o2", "o1"};
        char *body = listing(5, ids, times, true);
        assert_int_equal(parse(t, old, "1|", body), 0);
        /* o3 is within the hour of overlap before the cursor's time: emitted (seen-set of the
         * core drops it if it was seen); o2 and o1 are older: not */
        expect_ids(t, 3, "t3_o3", "t3_n1", "t3_n2");
        assert_int_equal(t->sink.n_page, 0);
        assert_int_equal(t->sink.n_gaps, 0);
        assert_string_equal(t->sink.cursor, "1785592000:3n2,3n1,3o3,3o2,3o1,3gone1,3gone2");
        free(body);

        /* the next poll with nothing new: nothing emitted, the cursor stays */
        body = listing(5, ids, times, true);
        char *cursor = strdup(t->sink.cursor);
        assert_int_equal(parse(t, cursor, "1|", body), 0);
        assert_int_equal(t->sink.n_posts, 0);
        assert_int_equal(t->sink.n_cursor, 0);
        assert_int_equal(t->sink.n_page, 0);
        free(body);
        free(cursor);
}

static void test_max_pages(void **state) {
        T *t = *state;

        create_ok(t, SETTINGS("subreddits=acme", "client_id=AbCdEf123", "client_secret=" SECRET,
                              "user_agent=" UA, "max_pages=2", "limit=3"));
        log_in(t);
        const char *old = "1785500000:3seen";
        int64_t t1[] = {1785592000, 1785591000, 1785590000};
        const char *i1[] = {"c3", "c2", "c1"};
        char *body = listing(3, i1, t1, true);
        build(t, NEW, old, "1|");
        assert_string_equal(t->req.url, "https://oauth.reddit.com/r/acme/new?limit=3&raw_json=1");
        assert_int_equal(parse(t, old, "1|", body), EARSHOT_MORE);
        assert_string_equal(t->sink.page, "1|2:t3_c1:1785592000:3c3,3c2,3c1");
        free(body);
        char *page2 = strdup(t->sink.page);
        int64_t t2[] = {1785580000, 1785570000, 1785560000};
        const char *i2[] = {"b3", "b2", "b1"};
        body = listing(3, i2, t2, true);
        /* max_pages reached short of the cursor: a gap from the cursor to the oldest item */
        assert_int_equal(parse(t, old, page2, body), 0);
        expect_ids(t, 3, "t3_b1", "t3_b2", "t3_b3");
        assert_int_equal(t->sink.n_gaps, 1);
        assert_int_equal(t->sink.gap_from_usec, INT64_C(1785500000) * SEC);
        assert_int_equal(t->sink.gap_to_usec, INT64_C(1785560000) * SEC);
        assert_string_equal(t->sink.gap_reason, "max_pages");
        assert_string_equal(t->sink.cursor, "1785592000:3c3,3c2,3c1,3b3,3b2,3b1,3seen");
        free(body);

        /* the listing ends (after null) on a short page: no gap */
        body = listing(2, i2, t2, false);
        assert_int_equal(parse(t, old, page2, body), 0);
        assert_int_equal(t->sink.n_gaps, 0);
        free(body);
        free(page2);
}

static void test_seen_set_bounded(void **state) {
        T *t = *state;

        create_ok(t, SCRIPT);
        log_in(t);
        /* 300 items over three pages: the cursor keeps the newest 200 and stays small */
        char ids[300][16];
        const char *idp[100];
        int64_t times[100];
        char *page = strdup("1|");
        const char *old = "1000000000:3x";
        for (int pg = 0; pg < 3; pg++) {
                for (int k = 0; k < 100; k++) {
                        int n = pg * 100 + k;
                        (void)snprintf(ids[n], sizeof(ids[n]), "zz%04d", 9999 - n);
                        idp[k] = ids[n];
                        times[k] = 1785592000 - n;
                }
                /* the listing ends after the third page */
                char *body = listing(100, idp, times, pg < 2);
                int r = parse(t, old, page, body);
                free(body);
                assert_true(t->sink.page || t->sink.cursor);
                free(page);
                page = t->sink.page ? strdup(t->sink.page) : NULL;
                if (r != EARSHOT_MORE)
                        break;
                assert_true(strlen(page) < 4096);
        }
        free(page);
        assert_non_null(t->sink.cursor);
        assert_true(strlen(t->sink.cursor) < 4096);
        size_t commas = 0;
        for (const char *c = t->sink.cursor; *c; c++)
                commas += *c == ',';
        assert_int_equal(commas, 199);
        assert_true(strncmp(t->sink.cursor, "1785592000:3zz9999,", 19) == 0);
        assert_null(strstr(t->sink.cursor, "3x"));
        /* a full last page that does not reach the cursor: Reddit's listing ends there */
        assert_int_equal(t->sink.n_gaps, 1);
        assert_string_equal(t->sink.gap_reason, "end of Reddit's listing");
}

/* ---- without OAuth: Atom --------------------------------------------------------------------- */

static void test_atom(void **state) {
        T *t = *state;

        create_ok(t, SETTINGS("subreddits=acme", "searches=acme refund", "limit=25",
                              "www_url=http://127.0.0.1:9000"));
        build(t, 0, NULL, NULL);
        assert_string_equal(t->req.method, "GET");
        assert_string_equal(t->req.url, "http://127.0.0.1:9000/r/acme/new/.rss?limit=25");
        assert_null(mock_request_header(&t->req, "Authorization"));
        build(t, 1, NULL, NULL);
        assert_string_equal(t->req.url, "http://127.0.0.1:9000/r/acme/comments/.rss?limit=25");
        build(t, 2, NULL, NULL);
        assert_string_equal(t->req.url,
                            "http://127.0.0.1:9000/search.rss?q=acme%20refund&sort=new&limit=25");

        assert_int_equal(parse_fixture(t, NULL, NULL, "reddit/acme-new.atom"), 0);
        expect_ids(t, 2, "t3_1abc2dc", "t3_1abc2de");
        const struct earshot_post *p = find_post(t, "t3_1abc2de");
        assert_string_equal(p->title, "Where is my refund?");
        assert_string_equal(p->text, "Where is my refund?\nThree weeks and no refund from Acme. "
                                     "Support doesn't answer.");
        assert_string_equal(p->author_handle, "jane_doe");
        assert_string_equal(p->url,
                            "https://www.reddit.com/r/acme/comments/1abc2de/where_is_my_refund/");
        assert_int_equal(p->created_usec, INT64_C(1785592200) * SEC);
        assert_int_equal(p->edited_usec, INT64_C(1785592510) * SEC);
        /* a link post has no text of its own */
        assert_string_equal(find_post(t, "t3_1abc2dc")->text, "Acme rocket skates recalled");
        /* [removed] */
        assert_int_equal(t->sink.n_deleted, 1);
        assert_string_equal(t->sink.deleted[0], "reddit:t3_1abc2db");
        assert_string_equal(t->sink.cursor, "1785592200:31abc2de,31abc2dc,31abc2db");

        /* again: nothing new */
        char *cursor = strdup(t->sink.cursor);
        assert_int_equal(parse_fixture(t, cursor, NULL, "reddit/acme-new.atom"), 0);
        assert_int_equal(t->sink.n_posts, 0);
        assert_int_equal(t->sink.n_gaps, 0);
        free(cursor);

        /* the 2016 front page, content as inline XHTML */
        assert_int_equal(parse_fixture(t, NULL, NULL, "reddit/front-page-2016.atom"), 0);
        assert_int_equal(t->sink.n_posts, 24);
        p = find_post(t, "t3_42tizy");
        assert_string_equal(p->text, "How the British as seen by Americans and Europeans");
        assert_string_equal(p->author_handle, "AngryRedditorsBelow");
        assert_string_equal(p->url, "https://www.reddit.com/r/funny/comments/42tizy/"
                                    "how_the_british_as_seen_by_americans_and_europeans/");
        assert_int_equal(p->likes, -1);

        /* a page with nothing seen since the last poll: a gap (one page a poll) */
        assert_int_equal(parse_fixture(t, "1785500000:3zzz", NULL, "reddit/acme-new.atom"), 0);
        assert_int_equal(t->sink.n_gaps, 1);
        assert_string_equal(t->sink.gap_reason, "feed window");
        assert_int_equal(t->sink.gap_to_usec, INT64_C(1785591000) * SEC);
}

static void test_atom_reader(void **state) {
        T *t = *state;
        AtomEntry *e = NULL;
        const char *why = NULL;
        size_t n = 0;

        /* entities a document declares are never expanded */
        const char *bomb = "<?xml version=\"1.0\"?><!DOCTYPE feed [<!ENTITY a \"aaaaaaaaaa\">"
                           "<!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">]>"
                           "<feed xmlns=\"http://www.w3.org/2005/Atom\"><entry><id>t3_x1</id>"
                           "<title>acme &b;</title><author><name>/u/z</name></author></entry>"
                           "</feed>";
        assert_int_equal(reddit_atom_parse(&t->mh.host, bomb, strlen(bomb), &e, &n, &why), 0);
        assert_int_equal(n, 1);
        assert_string_equal(e[0].title, "acme");
        assert_string_equal(e[0].author, "z");
        assert_string_equal(e[0].text, "");
        atom_entries_free(e, n);

        const char *rss = "<rss version=\"2.0\"><channel><item><guid>t3_a</guid></item>"
                          "</channel></rss>";
        assert_int_equal(reddit_atom_parse(&t->mh.host, rss, strlen(rss), &e, &n, &why), -EBADMSG);
        assert_non_null(strstr(why, "not an Atom feed"));
        assert_int_equal(reddit_atom_parse(&t->mh.host, "<feed", 5, &e, &n, &why), -EBADMSG);
        assert_int_equal(reddit_atom_parse(&t->mh.host, "", 0, &e, &n, &why), -EBADMSG);
}

/* ---- error answers and garbage --------------------------------------------------------------- */

static void test_parse_error(void **state) {
        T *t = *state;

        /* without OAuth */
        create_ok(t, SETTINGS("subreddits=acme"));
        expect_failure(t, 0, NULL, NULL, 403, "<html><body>Blocked</body></html>", EARSHOT_BLOCKED,
                       "set client_id and client_secret");
        expect_failure(t, 0, NULL, NULL, 429, "Too Many Requests", EARSHOT_RETRY, "5m");
        expect_failure(t, 0, NULL, NULL, 404, "{}", EARSHOT_BLOCKED, "r/acme");
        expect_generic(t, 0, NULL, NULL, 500, "<html>oops</html>");

        /* with OAuth */
        create_ok(t, SCRIPT);
        log_in(t);
        expect_failure(t, NEW, NULL, "1|", 403,
                       "{\"reason\": \"private\", \"message\": \"Forbidden\", \"error\": 403}",
                       EARSHOT_BLOCKED, "r/acme is private");
        expect_failure(t, NEW, NULL, "1|", 403, "<html>Blocked</html>", EARSHOT_BLOCKED,
                       "subreddits");
        expect_failure(t, NEW, NULL, "1|", 404,
                       "{\"reason\": \"banned\", \"message\": \"Not Found\", \"error\": 404}",
                       EARSHOT_BLOCKED, "r/acme does not exist or was banned");
        expect_failure(t, SEARCH, NULL, "1|", 429, "", EARSHOT_RETRY, "100 requests a minute");
        expect_generic(t, SEARCH, NULL, "1|", 404, "{}");
        expect_generic(t, NEW, NULL, "1|", 502, "bad gateway");
        expect_no_secrets(t);
}

static void test_garbage(void **state) {
        T *t = *state;

        create_ok(t, SCRIPT);
        log_in(t);
        expect_bad_feed(t, NEW, NULL, "nope", 4);
        expect_bad_feed(t, NEW, NULL, "[]", 2);
        expect_bad_feed(t, NEW, NULL, "{\"kind\": \"Listing\", \"data\": {}}", 31);
        expect_bad_feed(t, NEW, NULL, "{\"kind\": \"t3\"}{}", 16);
        /* items of the wrong shape are skipped with one warning */
        const char *body =
                "{\"kind\": \"Listing\", \"data\": {\"children\": [7, {\"kind\": \"more\", "
                "\"data\": {}}, {\"kind\": \"t3\", \"data\": {\"name\": \"t1_bad\"}}, "
                "{\"kind\": \"t3\", \"data\": {\"name\": \"t3_notitle\", \"author\": \"x\"}}, "
                "{\"kind\": \"t3\", \"data\": {\"name\": \"t3_ok\", \"title\": \"acme\", "
                "\"score\": -5, \"created_utc\": \"yesterday\"}}]}}";
        mock_host_clear_logs(&t->mh);
        assert_int_equal(parse(t, NULL, "1|", body), 0);
        expect_ids(t, 1, "t3_ok");
        assert_int_equal(t->sink.posts[0].likes, 0);
        assert_int_equal(t->sink.posts[0].created_usec, 0);
        assert_null(t->sink.posts[0].url);
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_WARNING, "skipped 4 of 5"), 1);

        /* a bad page token or cursor */
        assert_int_equal(P->source->build_request(t->state, NEW, NULL, "9|", &t->req), -EINVAL);
        assert_int_equal(parse(t, NULL, "1|2:x3_a:1:3a", "{}"), -EINVAL);
        mock_host_clear_logs(&t->mh);
        assert_int_equal(parse_fixture(t, "garbage", "1|", "reddit/all-new-before.json"), 0);
        assert_int_equal(t->sink.n_posts, 4);
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_WARNING, "cursor"), 1);

        /* Atom garbage */
        create_ok(t, SETTINGS("subreddits=acme"));
        expect_bad_feed(t, 0, NULL, "<html><body>Blocked</body></html>", 33);
        expect_bad_feed(t, 0, NULL, "{\"kind\": \"Listing\"}", 19);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_descriptor, setup, teardown),
                cmocka_unit_test_setup_teardown(test_feeds, setup, teardown),
                cmocka_unit_test_setup_teardown(test_create_rejects, setup, teardown),
                cmocka_unit_test_setup_teardown(test_login_password, setup, teardown),
                cmocka_unit_test_setup_teardown(test_login_client_credentials, setup, teardown),
                cmocka_unit_test_setup_teardown(test_token_refused, setup, teardown),
                cmocka_unit_test_setup_teardown(test_login_blocked, setup, teardown),
                cmocka_unit_test_setup_teardown(test_parse_submissions, setup, teardown),
                cmocka_unit_test_setup_teardown(test_parse_comments, setup, teardown),
                cmocka_unit_test_setup_teardown(test_deleted, setup, teardown),
                cmocka_unit_test_setup_teardown(test_walk, setup, teardown),
                cmocka_unit_test_setup_teardown(test_deleted_cursor_item, setup, teardown),
                cmocka_unit_test_setup_teardown(test_max_pages, setup, teardown),
                cmocka_unit_test_setup_teardown(test_seen_set_bounded, setup, teardown),
                cmocka_unit_test_setup_teardown(test_atom, setup, teardown),
                cmocka_unit_test_setup_teardown(test_atom_reader, setup, teardown),
                cmocka_unit_test_setup_teardown(test_parse_error, setup, teardown),
                cmocka_unit_test_setup_teardown(test_garbage, setup, teardown),
        };
        return cmocka_run_group_tests_name("source-reddit", tests, NULL, NULL);
}
