/* SPDX-License-Identifier: MIT */
/*
 * test-source-mastodon.c - the mastodon source against recorded Mastodon responses
 * (tests/fixtures/mastodon/, see PROVENANCE.md there): options, feed names, request URLs,
 * posts field by field, reblogs, the cursor, paging, the instance check, error answers
 * (parse_error), and bodies that are broken or of the wrong shape.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
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

/* instance and tag used unless a test says otherwise */
#define LOCAL_SETTINGS SETTINGS("instances=http://localhost:3000", "tags=hoot")

typedef SourceTest T;

/*
 * Most tests are about timelines, so they switch the instance check off (it would take the
 * first request of a new feed and end some polls); the tests of the check use create_default()
 * (the plugin's defaults) or say check_instance=true, which wins over this.
 */
static const char *const no_instance_check[] = {"check_instance=false", NULL};

static void create_default(T *t, const char *const *settings) {
        int r = create_with(t, NULL, settings);
        if (r != 0)
                fail_msg("create: %d (%s)", r, t->err);
        assert_non_null(t->state);
}

static void test_descriptor(void **state) {
        expect_source_descriptor("mastodon");

        bool secret = false;
        size_t n = 0;
        for (const struct earshot_option *o = P->options; o->name; o++, n++) {
                assert_non_null(o->description);
                assert_true(strlen(o->description) > 10);
                if (strcmp(o->name, "access_token") == 0)
                        secret = o->flags & EARSHOT_OPT_SECRET;
                else /* nothing else is a secret, nothing else may be hidden in dumps */
                        assert_false(o->flags & EARSHOT_OPT_SECRET);
                if (strcmp(o->name, "instances") == 0 || strcmp(o->name, "tags") == 0 ||
                    strcmp(o->name, "accounts") == 0)
                        assert_int_equal(o->type, EARSHOT_OPT_STRLIST);
                /* only instances is required: a source follows tags, accounts or both */
                assert_int_equal(!!(o->flags & EARSHOT_OPT_REQUIRED),
                                 strcmp(o->name, "instances") == 0);
        }
        assert_int_equal(n, 13);
        assert_true(secret);
}

static void test_feeds(void **state) {
        T *t = *state;

        create_ok(t,
                  SETTINGS("instances=https://Mastodon.Social/",
                           "instances=http://localhost:3000//", "instances=https://mastodon.social",
                           "tags=#Acme", "tags=acme", "tags=AcmeSupport"));
        /* duplicates after normalisation are dropped: 2 instances x 2 tags */
        assert_string_equal(P->source->feed(t->state, 0), "https://mastodon.social#acme");
        assert_string_equal(P->source->feed(t->state, 1), "https://mastodon.social#acmesupport");
        assert_string_equal(P->source->feed(t->state, 2), "http://localhost:3000#acme");
        assert_string_equal(P->source->feed(t->state, 3), "http://localhost:3000#acmesupport");
        assert_null(P->source->feed(t->state, 4));
        assert_null(P->source->feed(t->state, UINT32_MAX));
}

static void test_create_accepts_loopback_http(void **state) {
        T *t = *state;

        create_ok(t, SETTINGS("instances=http://127.0.0.1:8080/", "instances=http://[::1]:3000",
                              "instances=http://localhost", "instances=http://api.localhost",
                              "instances=https://example.org/mastodon/", "tags=acme"));
        assert_string_equal(P->source->feed(t->state, 0), "http://127.0.0.1:8080#acme");
        assert_string_equal(P->source->feed(t->state, 1), "http://[::1]:3000#acme");
        assert_string_equal(P->source->feed(t->state, 4), "https://example.org/mastodon#acme");
}

static void test_create_rejects(void **state) {
        T *t = *state;

        expect_rejected(t, SETTINGS("instances=http://mastodon.social", "tags=a"),
                        "'http://mastodon.social' must use https://");
        expect_rejected(t, SETTINGS("instances=http://127.0.0.1.example.com", "tags=a"),
                        "must use https://");
        expect_rejected(t, SETTINGS("instances=http://localhost.example.com", "tags=a"),
                        "must use https://");
        expect_rejected(t, SETTINGS("instances=ftp://mastodon.social", "tags=a"),
                        "not an http:// or https:// URL");
        expect_rejected(t, SETTINGS("instances=mastodon.social", "tags=a"), "instances:");
        expect_rejected(t, SETTINGS("instances=https://", "tags=a"), "has no host");
        expect_rejected(t, SETTINGS("instances=https:///x", "tags=a"), "has no host");
        expect_rejected(t, SETTINGS("instances=https://m.example?x=1", "tags=a"), "query");
        expect_rejected(t, SETTINGS("instances=https://m.example/#x", "tags=a"), "fragment");
        expect_rejected(t, SETTINGS("instances=https://user:pw@m.example", "tags=a"),
                        "credentials");
        expect_rejected(t, SETTINGS("instances=https://m.example:99999", "tags=a"), "port");
        expect_rejected(t, SETTINGS("instances=https://m.example:x", "tags=a"), "port");
        expect_rejected(t, SETTINGS("instances=https://m example", "tags=a"), "blanks");
        /* a good instance does not excuse a bad one */
        expect_rejected(
                t,
                SETTINGS("instances=https://ok.example", "instances=http://bad.example", "tags=a"),
                "bad.example");

        expect_rejected(t, SETTINGS("instances=https://m.example", "tags=#"), "tags: '#' is empty");
        expect_rejected(t, SETTINGS("instances=https://m.example", "tags=acme support"),
                        "not a hashtag");
        expect_rejected(t, SETTINGS("instances=https://m.example", "tags=a/b"), "not a hashtag");
        expect_rejected(t, SETTINGS("instances=https://m.example", "tags=a", "limit=0"),
                        "limit: 0 is out of range 1..40");
        expect_rejected(t, SETTINGS("instances=https://m.example", "tags=a", "limit=41"), "limit");
        expect_rejected(t, SETTINGS("instances=https://m.example", "tags=a", "max_pages=0"),
                        "max_pages");
        expect_rejected(t,
                        SETTINGS("instances=https://a.example", "instances=https://b.example",
                                 "tags=a", "access_token=s3cret"),
                        "access_token");
        assert_null(strstr(t->err, "s3cret"));
        /* required options missing (the core checks too; the plugin must not crash) */
        expect_rejected(t, SETTINGS("tags=a"), "instances");
        expect_rejected(t, SETTINGS("instances=https://m.example"), "tags");
}

static void test_request_first_poll(void **state) {
        T *t = *state;

        create_ok(t, SETTINGS("instances=https://mastodon.social/", "tags=#Acme"));
        build(t, 0, NULL, NULL);
        assert_string_equal(t->req.method, "GET");
        assert_string_equal(t->req.url,
                            "https://mastodon.social/api/v1/timelines/tag/acme?limit=40");
        assert_string_equal(mock_request_header(&t->req, "Accept"), "application/json");
        assert_null(mock_request_header(&t->req, "Authorization"));
        assert_null(t->req.body);
}

static void test_request_cursor_and_page(void **state) {
        T *t = *state;

        create_ok(t, SETTINGS("instances=https://mastodon.social", "tags=acme", "limit=20",
                              "local=true"));
        build(t, 0, "117020593741189701", NULL);
        assert_string_equal(t->req.url, "https://mastodon.social/api/v1/timelines/tag/acme"
                                        "?limit=20&local=true&min_id=117020593741189701");
        /* a page token overrides the cursor */
        build(t, 0, "117020593741189701", "3:117020593741189999");
        assert_string_equal(t->req.url, "https://mastodon.social/api/v1/timelines/tag/acme"
                                        "?limit=20&local=true&min_id=117020593741189999");
        /* a cursor is opaque: whatever it holds is encoded */
        build(t, 0, "a b&c", NULL);
        assert_non_null(strstr(t->req.url, "&min_id=a%20b%26c"));
        /* a token this plugin did not write is a bug, not a request */
        mock_request_done(&t->req);
        mock_request_init(&t->req);
        assert_int_equal(P->source->build_request(t->state, 0, NULL, "junk", &t->req), -EINVAL);
        assert_int_equal(P->source->build_request(t->state, 1, NULL, NULL, &t->req), -EINVAL);
}

static void test_request_percent_encoding(void **state) {
        T *t = *state;

        /* "Café_Ünï" with ASCII lowercased, UTF-8 percent-encoded */
        create_ok(t, SETTINGS("instances=http://localhost:3000",
                              "tags=#Caf\xc3\xa9_\xc3\x9cn\xc3\xaf"));
        assert_string_equal(P->source->feed(t->state, 0),
                            "http://localhost:3000#caf\xc3\xa9_\xc3\x9cn\xc3\xaf");
        build(t, 0, NULL, NULL);
        assert_string_equal(t->req.url, "http://localhost:3000/api/v1/timelines/tag/"
                                        "caf%C3%A9_%C3%9Cn%C3%AF?limit=40");
}

static void test_request_access_token(void **state) {
        T *t = *state;

        create_ok(t, SETTINGS("instances=https://mastodon.social", "tags=acme", "tags=acmehelp",
                              "access_token=tok-123"));
        build(t, 1, NULL, NULL);
        assert_string_equal(mock_request_header(&t->req, "Authorization"), "Bearer tok-123");
        assert_null(strstr(t->req.url, "tok-123"));
        assert_null(strstr(P->source->feed(t->state, 0), "tok-123"));
}

static void test_parse_hashtag_timeline(void **state) {
        T *t = *state;

        create_ok(t, LOCAL_SETTINGS);
        /* the first poll ever: newest page, cursor starts there, no paging */
        assert_int_equal(parse_fixture(t, NULL, NULL, "mastodon/tag-hoot.json"), 0);
        assert_int_equal(t->sink.n_posts, 1);
        const struct earshot_post *p = &t->sink.posts[0];
        assert_string_equal(p->id, "http://localhost:3000/ap/users/117020566092212359/statuses/"
                                   "117020593741189701");
        assert_string_equal(p->network, "mastodon");
        assert_string_equal(p->url, "http://localhost:3000/@mastodonpy_test_2/117020593741189701");
        assert_string_equal(p->text, "#hoot (hashtag toot)");
        assert_string_equal(p->author_handle, "mastodonpy_test_2@localhost:3000");
        assert_null(p->author_name); /* display_name "" */
        assert_int_equal(p->author_followers, 0);
        assert_string_equal(p->lang, "ja");
        assert_int_equal(p->created_usec, INT64_C(1785592555867000)); /* 2026-08-01T13:55:55.867Z */
        assert_int_equal(p->replies, 0);
        assert_int_equal(p->reposts, 0);
        assert_int_equal(p->likes, 0);
        assert_int_equal(t->sink.n_cursor, 1);
        assert_string_equal(t->sink.cursor, "117020593741189701");
        assert_int_equal(t->sink.n_page, 0);

        /* the same page again: nothing new for the cursor */
        assert_int_equal(parse_fixture(t, "117020593741189701", NULL, "mastodon/tag-hoot.json"), 0);
        assert_int_equal(t->sink.n_cursor, 0);
}

static void test_parse_public_timeline(void **state) {
        T *t = *state;

        create_ok(t, LOCAL_SETTINGS);
        assert_int_equal(parse_fixture(t, "117020574000000000", NULL, "mastodon/public-8.json"), 0);
        assert_int_equal(t->sink.n_posts, 8);
        assert_int_equal(t->sink.n_page, 0); /* 8 < limit 40: the end */
        assert_string_equal(t->sink.cursor, "117020593134559451");

        /* oldest first */
        assert_string_equal(t->sink.posts[0].url,
                            "http://localhost:3000/@admin/117020574694606796");
        assert_string_equal(t->sink.posts[0].text, "I have never stolen a ham in my life.");
        assert_int_equal(t->sink.posts[0].created_usec, INT64_C(1785592265238000));
        assert_string_equal(t->sink.posts[7].url,
                            "http://localhost:3000/@mastodonpy_test_2/117020593134559451");
        for (size_t i = 1; i < t->sink.n_posts; i++)
                assert_true(t->sink.posts[i - 1].created_usec < t->sink.posts[i].created_usec);

        /* entities decoded */
        const struct earshot_post *p = find_post(
                t, "http://localhost:3000/ap/users/117020565693913441/statuses/117020592137523525");
        assert_string_equal(p->text, "you can't say that on television");
        assert_string_equal(p->author_handle, "admin@localhost:3000");
        assert_int_equal(p->author_followers, 1);
        assert_string_equal(p->lang, "en");

        /* an h-card mention stays readable */
        p = find_post(t, "http://localhost:3000/ap/users/117020565693913441/statuses/"
                         "117020588169351887");
        assert_string_equal(p->text, "@mastodonpy_test beep beep I'm a jeep");

        /* an edited status is just a status */
        p = find_post(t, "http://localhost:3000/ap/users/117020566092212359/statuses/"
                         "117020586180926938");
        assert_string_equal(
                p->text,
                "the best editor? why, of course it is the KDE Advanced Text Editor, Kate");
}

static void test_parse_status_example(void **state) {
        T *t = *state;
        cJSON *arr = cJSON_CreateArray();

        /* the documentation's example, served by mastodon.social */
        create_ok(t, SETTINGS("instances=https://mastodon.social", "tags=acme"));
        cJSON_AddItemToArray(arr, load_json("mastodon/status-example.json"));
        assert_int_equal(parse_json(t, "1", NULL, arr), 0);
        cJSON_Delete(arr);

        assert_int_equal(t->sink.n_posts, 1);
        const struct earshot_post *p = &t->sink.posts[0];
        assert_string_equal(p->id,
                            "https://mastodon.social/users/Gargron/statuses/103270115826048975");
        assert_string_equal(p->url, "https://mastodon.social/@Gargron/103270115826048975");
        assert_string_equal(p->author_handle, "Gargron@mastodon.social");
        assert_string_equal(p->author_name, "Eugen");
        assert_int_equal(p->author_followers, 322930);
        assert_int_equal(p->replies, 5);
        assert_int_equal(p->reposts, 6);
        assert_int_equal(p->likes, 11);
        assert_int_equal(p->created_usec, INT64_C(1575776913901000));
        /* &quot; decoded, the link kept whole although Mastodon hides parts of it */
        assert_true(strncmp(p->text,
                            "\"I lost my inheritance with one wrong digit on my sort code\"",
                            60) == 0);
        assert_non_null(strstr(p->text, "https://www.theguardian.com/money/2019/dec/07/"
                                        "i-lost-my-193000-inheritance-with-one-wrong-digit-on-my-"
                                        "sort-code"));
        assert_null(strchr(p->text, '<'));
        assert_null(strstr(p->text, "&quot;"));
        assert_string_equal(t->sink.cursor, "103270115826048975");

        /* a bare status object is not a timeline */
        size_t n = mock_host_count_logs(&t->mh, EARSHOT_LOG_ERR, "expected a JSON array");
        assert_int_equal(parse_fixture(t, "1", NULL, "mastodon/status-example.json"), -EBADMSG);
        assert_int_equal(t->sink.n_posts, 0);
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_ERR, "expected a JSON array"),
                         n + 1);
}

static void test_parse_reblog(void **state) {
        T *t = *state;
        cJSON *page = load_json("mastodon/public-8.json");
        cJSON *boost = cJSON_Duplicate(cJSON_GetArrayItem(page, 0), true);

        /* a boost by mastodonpy_test_2 of the documentation's status, newer than the page */
        create_ok(t, LOCAL_SETTINGS);
        cJSON_ReplaceItemInObject(boost, "id", cJSON_CreateString("117020600000000001"));
        cJSON_ReplaceItemInObject(boost, "content", cJSON_CreateString(""));
        cJSON_ReplaceItemInObject(
                boost, "uri",
                cJSON_CreateString("http://localhost:3000/ap/users/117020566092212359/statuses/"
                                   "117020600000000001/activity"));
        cJSON_ReplaceItemInObject(boost, "reblog", load_json("mastodon/status-example.json"));
        cJSON_InsertItemInArray(page, 0, boost);

        assert_int_equal(parse_json(t, "117020574000000000", NULL, page), 0);
        cJSON_Delete(page);
        assert_int_equal(t->sink.n_posts, 9);
        const struct earshot_post *p = &t->sink.posts[8];
        assert_string_equal(p->id,
                            "https://mastodon.social/users/Gargron/statuses/103270115826048975");
        assert_string_equal(p->url, "https://mastodon.social/@Gargron/103270115826048975");
        assert_string_equal(p->author_handle, "Gargron@localhost:3000"); /* as this instance says */
        assert_string_equal(p->author_name, "Eugen");
        assert_int_equal(p->author_followers, 322930);
        assert_int_equal(p->likes, 11);
        assert_non_null(strstr(p->text, "wrong digit"));
        /* the cursor follows the timeline (outer) id, not the boosted status's own */
        assert_string_equal(t->sink.cursor, "117020600000000001");
}

static void test_parse_spoiler_and_fallbacks(void **state) {
        T *t = *state;
        cJSON *page = load_json("mastodon/tag-hoot.json");
        cJSON *s = cJSON_GetArrayItem(page, 0);
        cJSON *acct = cJSON_GetObjectItem(cJSON_GetObjectItem(s, "account"), "acct");

        create_ok(t, LOCAL_SETTINGS);
        cJSON_ReplaceItemInObject(s, "spoiler_text", cJSON_CreateString("CW: refunds"));
        cJSON_DeleteItemFromObject(s, "uri");
        cJSON_DeleteItemFromObject(s, "url");
        cJSON_SetValuestring(acct, "bob@example.social");
        cJSON_ReplaceItemInObject(s, "created_at", cJSON_CreateString("yesterday"));
        cJSON_ReplaceItemInObject(cJSON_GetObjectItem(s, "account"), "followers_count",
                                  cJSON_CreateNumber(-5));
        cJSON_DeleteItemFromObject(s, "favourites_count");
        cJSON_ReplaceItemInObject(s, "language", cJSON_CreateNull());

        assert_int_equal(parse_json(t, NULL, NULL, page), 0);
        cJSON_Delete(page);
        assert_int_equal(t->sink.n_posts, 1);
        const struct earshot_post *p = &t->sink.posts[0];
        assert_string_equal(p->text, "CW: refunds\n#hoot (hashtag toot)");
        /* no uri: the id is made global with the instance */
        assert_string_equal(p->id, "http://localhost:3000/117020593741189701");
        assert_null(p->url);
        assert_string_equal(p->author_handle, "bob@example.social");
        assert_int_equal(p->created_usec, 0);
        assert_int_equal(p->author_followers, -1);
        assert_int_equal(p->likes, -1);
        assert_int_equal(p->replies, 0);
        assert_null(p->lang);

        /* url falls back to uri */
        assert_int_equal(parse(t, NULL, NULL,
                               "[{\"id\":\"5\",\"content\":\"<p>x</p>\",\"uri\":\"https://"
                               "a.example/s/5\"}]"),
                         0);
        assert_int_equal(t->sink.n_posts, 1);
        assert_string_equal(t->sink.posts[0].url, "https://a.example/s/5");
        assert_null(t->sink.posts[0].author_handle);
        assert_int_equal(t->sink.posts[0].author_followers, -1);
}

static void test_cursor_order(void **state) {
        T *t = *state;

        create_ok(t, LOCAL_SETTINGS);
        /* "99" < "100": by length first */
        assert_int_equal(parse(t, "99", NULL, "[{\"id\":\"100\",\"content\":\"a\"}]"), 0);
        assert_int_equal(t->sink.n_cursor, 1);
        assert_string_equal(t->sink.cursor, "100");

        /* never backwards */
        assert_int_equal(parse(t, "100", NULL, "[{\"id\":\"99\",\"content\":\"a\"}]"), 0);
        assert_int_equal(t->sink.n_posts, 1);
        assert_int_equal(t->sink.n_cursor, 0);

        /* the max of the page, wherever it is in the page */
        assert_int_equal(
                parse(t, "5", NULL,
                      "[{\"id\":\"1000\",\"content\":\"a\"},{\"id\":\"999\",\"content\":\"a\"},"
                      "{\"id\":\"1001\",\"content\":\"a\"},{\"id\":\"2\",\"content\":\"a\"}]"),
                0);
        assert_string_equal(t->sink.cursor, "1001");

        /* same length: bytewise */
        assert_int_equal(parse(t, "117020593741189701", NULL,
                               "[{\"id\":\"117020593741189702\",\"content\":\"a\"}]"),
                         0);
        assert_string_equal(t->sink.cursor, "117020593741189702");

        /* empty page: done, cursor kept */
        assert_int_equal(parse(t, "117020593741189701", NULL, "[]"), 0);
        assert_int_equal(t->sink.n_posts, 0);
        assert_int_equal(t->sink.n_cursor, 0);
        assert_int_equal(t->sink.n_page, 0);
        assert_int_equal(parse(t, NULL, NULL, " [ ]\n"), 0);
        assert_int_equal(t->sink.n_cursor, 0);
}

static void test_paging(void **state) {
        T *t = *state;

        /* a full page after a cursor: there may be more, walk on */
        create_ok(t, SETTINGS("instances=http://localhost:3000", "tags=hoot", "limit=8"));
        assert_int_equal(parse_fixture(t, "117020574000000000", NULL, "mastodon/public-8.json"),
                         EARSHOT_MORE);
        assert_int_equal(t->sink.n_posts, 8);
        assert_int_equal(t->sink.n_page, 1);
        assert_string_equal(t->sink.page, "2:117020593134559451");
        assert_string_equal(t->sink.cursor, "117020593134559451");

        /* the next request starts right after the page */
        build(t, 0, "117020574000000000", t->sink.page);
        assert_string_equal(t->req.url, "http://localhost:3000/api/v1/timelines/tag/hoot"
                                        "?limit=8&min_id=117020593134559451");

        /* page 2 full again: page 3 */
        create_ok(t, SETTINGS("instances=http://localhost:3000", "tags=hoot", "limit=20"));
        assert_int_equal(parse_fixture(t, "117020574000000000", "2:117024000000000000",
                                       "mastodon/public-20.json"),
                         EARSHOT_MORE);
        assert_int_equal(t->sink.n_posts, 20);
        assert_string_equal(t->sink.page, "3:117024258897469903");
        assert_string_equal(t->sink.cursor, "117024258897469903");

        /* a short page ends the poll */
        create_ok(t, SETTINGS("instances=http://localhost:3000", "tags=hoot", "limit=9"));
        assert_int_equal(parse_fixture(t, "117020574000000000", "2:117020574000000001",
                                       "mastodon/public-8.json"),
                         0);
        assert_int_equal(t->sink.n_page, 0);

        /* a full page that does not get past the cursor (min_id ignored): no paging */
        create_ok(t, SETTINGS("instances=http://localhost:3000", "tags=hoot", "limit=8"));
        assert_int_equal(parse_fixture(t, "117020593134559451", NULL, "mastodon/public-8.json"), 0);
        assert_int_equal(t->sink.n_page, 0);
        assert_int_equal(t->sink.n_cursor, 0);
        assert_int_equal(parse_fixture(t, "117020574000000000", "2:117020593134559451",
                                       "mastodon/public-8.json"),
                         0);
        assert_int_equal(t->sink.n_page, 0);

        /* an empty page after a full one: the cursor still reaches the page start */
        assert_int_equal(parse(t, "117020574000000000", "2:117020593134559451", "[]"), 0);
        assert_int_equal(t->sink.n_page, 0);
        assert_string_equal(t->sink.cursor, "117020593134559451");
}

static void test_first_poll_does_not_page(void **state) {
        T *t = *state;

        create_ok(t, SETTINGS("instances=http://localhost:3000", "tags=hoot", "limit=8"));
        assert_int_equal(parse_fixture(t, NULL, NULL, "mastodon/public-8.json"), 0);
        assert_int_equal(t->sink.n_posts, 8);
        assert_int_equal(t->sink.n_page, 0);
        assert_string_equal(t->sink.cursor, "117020593134559451");
}

static void test_max_pages(void **state) {
        T *t = *state;

        create_ok(t, SETTINGS("instances=http://localhost:3000", "tags=hoot", "limit=8",
                              "max_pages=3"));
        assert_int_equal(parse_fixture(t, "1", "2:2", "mastodon/public-8.json"), EARSHOT_MORE);
        assert_string_equal(t->sink.page, "3:117020593134559451");
        assert_int_equal(parse_fixture(t, "1", "3:3", "mastodon/public-8.json"), 0);
        assert_int_equal(t->sink.n_page, 0);
        /* the cursor still moves: the next poll goes on from here, no gap */
        assert_string_equal(t->sink.cursor, "117020593134559451");
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_INFO, "stopped after 3 pages"),
                         1);

        create_ok(t, SETTINGS("instances=http://localhost:3000", "tags=hoot", "limit=8",
                              "max_pages=1"));
        assert_int_equal(parse_fixture(t, "1", NULL, "mastodon/public-8.json"), 0);
        assert_int_equal(t->sink.n_page, 0);
}

static void expect_bad(T *t, const char *body, size_t len) {
        expect_bad_feed(t, 0, "1", body, len);
}

static void test_garbage(void **state) {
        T *t = *state;
        size_t len;
        char *body = mock_read_fixture("mastodon/public-8.json", &len);

        create_ok(t, LOCAL_SETTINGS);
        mock_host_clear_logs(&t->mh);

        /* truncated anywhere: nothing at all */
        for (size_t cut = 0; cut < len; cut += len / 37 + 1)
                expect_bad(t, body, cut);
        expect_bad(t, body, len - 1);
        assert_true(mock_host_count_logs(&t->mh, EARSHOT_LOG_ERR, "not valid JSON") > 30);

#define BAD(s) expect_bad(t, s, sizeof(s) - 1)
        BAD("");
        BAD("<html><body>502 Bad Gateway</body></html>");
        BAD("null");
        BAD("\"statuses\"");
        BAD("[] []");
        BAD("[]x");
        BAD("[{\"id\":\"1\",\"content\":\"a\"}\0]");

        mock_host_clear_logs(&t->mh);
        BAD("{\"error\":\"This method requires an authenticated user\"}");
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_ERR,
                                              "This method requires an authenticated user"),
                         1);
#undef BAD

        /* deep nesting is refused by the parser, not by the stack */
        char *deep = malloc(200001);
        assert_non_null(deep);
        memset(deep, '[', 200000);
        deep[200000] = 0;
        expect_bad(t, deep, 200000);
        free(deep);
        free(body);
}

static void test_wrong_types(void **state) {
        T *t = *state;
        static const char body[] =
                "[1, \"str\", null, true, [], {},"
                "{\"id\":5,\"content\":\"x\"},"
                "{\"id\":\"\",\"content\":\"x\"},"
                "{\"id\":\"1\",\"content\":7},"
                "{\"id\":\"2\",\"content\":\"<p>ok</p>\",\"account\":\"x\",\"uri\":12,\"url\":[],"
                " \"created_at\":5,\"language\":{},\"replies_count\":\"3\",\"reblogs_count\":1e300,"
                " \"favourites_count\":null,\"reblog\":\"x\",\"spoiler_text\":9},"
                "{\"id\":\"3\",\"content\":\"<p>boost</"
                "p>\",\"reblog\":{\"id\":7,\"content\":\"x\"}},"
                "{\"id\":\"4\",\"content\":\"<p>y</"
                "p>\",\"account\":{\"acct\":7,\"followers_count\":\"9\","
                " \"display_name\":null},\"reblog\":[],\"created_at\":\"2026-13-01T00:00:00Z\"},"
                "{\"id\":\"6\",\"content\":\"<b>unclosed <i>tags &bogus; &#0; &#x110000;\","
                " \"account\":{\"acct\":\"\"},\"replies_count\":-3,\"reblogs_count\":2.5}"
                "]";

        create_ok(t, LOCAL_SETTINGS);
        assert_int_equal(parse(t, "0", NULL, body), 0);
        assert_int_equal(t->sink.n_posts, 3);

        const struct earshot_post *p = find_post(t, "http://localhost:3000/2");
        assert_string_equal(p->text, "ok");
        assert_null(p->url);
        assert_null(p->author_handle);
        assert_null(p->author_name);
        assert_int_equal(p->author_followers, -1);
        assert_null(p->lang);
        assert_int_equal(p->created_usec, 0);
        assert_int_equal(p->replies, -1);
        assert_int_equal(p->reposts, -1);
        assert_int_equal(p->likes, -1);

        p = find_post(t, "http://localhost:3000/4");
        assert_string_equal(p->text, "y");
        assert_null(p->author_handle);
        assert_int_equal(p->author_followers, -1);
        assert_int_equal(p->created_usec, 0);

        p = find_post(t, "http://localhost:3000/6");
        assert_int_equal(p->replies, -1);
        assert_int_equal(p->reposts, 2);
        assert_null(p->author_handle);

        /* skipped elements are reported at debug level only */
        assert_true(mock_host_count_logs(&t->mh, EARSHOT_LOG_DEBUG, "skipping element") >= 9);
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_ERR, ""), 0);
        /* the cursor takes every string id of the page, shown or skipped */
        assert_string_equal(t->sink.cursor, "6");
}

/* ---- account feeds -------------------------------------------------------------------------- */

static void test_account_feeds(void **state) {
        T *t = *state;

        create_ok(t,
                  SETTINGS("instances=https://mastodon.social", "instances=http://localhost:3000",
                           "accounts=Acme", "accounts=@acme", "accounts=acme@Mastodon.Social",
                           "accounts=@Bob@other.example", "accounts=109876543210", "accounts=@1234",
                           "accounts=c@localhost:3000"));
        static const char *const want[] = {
                /* "acme@mastodon.social" asked of mastodon.social is its "acme": one feed */
                "https://mastodon.social/@acme",
                "https://mastodon.social/@bob@other.example",
                "https://mastodon.social/accounts/109876543210",
                "https://mastodon.social/@1234", /* '@': a user named 1234, not an id */
                "https://mastodon.social/@c@localhost:3000",
                "http://localhost:3000/@acme",
                "http://localhost:3000/@acme@mastodon.social",
                "http://localhost:3000/@bob@other.example",
                "http://localhost:3000/accounts/109876543210",
                "http://localhost:3000/@1234",
                "http://localhost:3000/@c",
        };
        for (uint32_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
                assert_string_equal(P->source->feed(t->state, i), want[i]);
        assert_null(P->source->feed(t->state, sizeof(want) / sizeof(want[0])));

        /* tags and accounts together: per instance its tags, then its accounts */
        create_ok(t, SETTINGS("instances=https://mastodon.social", "tags=acme", "accounts=acme"));
        assert_string_equal(P->source->feed(t->state, 0), "https://mastodon.social#acme");
        assert_string_equal(P->source->feed(t->state, 1), "https://mastodon.social/@acme");
        assert_null(P->source->feed(t->state, 2));

        expect_rejected(t, SETTINGS("instances=https://m.example", "accounts=acme support"),
                        "accounts: 'acme support' is not an account");
        expect_rejected(t, SETTINGS("instances=https://m.example", "accounts=a@b@c"),
                        "not an account");
        expect_rejected(t, SETTINGS("instances=https://m.example", "accounts=@"), "is empty");
        expect_rejected(t, SETTINGS("instances=https://m.example", "accounts="), "is empty");
        expect_rejected(t, SETTINGS("instances=https://m.example", "accounts=x@"),
                        "not an account");
        expect_rejected(t, SETTINGS("instances=https://m.example", "accounts=@x@-bad.example"),
                        "not an account");
        expect_rejected(t, SETTINGS("instances=https://m.example", "accounts=x@h.example:0"),
                        "not an account");
        expect_rejected(t, SETTINGS("instances=https://m.example", "accounts=\xc3\xbc"),
                        "not an account");
        expect_rejected(t, SETTINGS("instances=https://m.example", "accounts=x?y"),
                        "not an account");
}

static void test_account_lookup(void **state) {
        T *t = *state;

        create_ok(t, SETTINGS("instances=http://localhost:3000",
                              "accounts=MastodonPy_Test@localhost:3000", "limit=5"));
        assert_string_equal(P->source->feed(t->state, 0), "http://localhost:3000/@mastodonpy_test");

        /* the first request of the feed resolves the handle */
        build(t, 0, NULL, NULL);
        assert_string_equal(t->req.url,
                            "http://localhost:3000/api/v1/accounts/lookup?acct=mastodonpy_test");
        assert_null(mock_request_header(&t->req, "Authorization"));
        assert_int_equal(parse_fixture(t, NULL, NULL, "mastodon/account-lookup.json"),
                         EARSHOT_MORE);
        assert_int_equal(t->sink.n_posts, 0);
        assert_string_equal(t->sink.cursor, "id=117020565966271181");
        assert_string_equal(t->sink.page, "timeline");
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_INFO,
                                              "@mastodonpy_test is account 117020565966271181"),
                         1);

        /* then, in the same poll, the account's newest page, and no digging further */
        build(t, 0, "id=117020565966271181", "timeline");
        assert_string_equal(t->req.url, "http://localhost:3000/api/v1/accounts/117020565966271181/"
                                        "statuses?limit=5&exclude_reblogs=false");
        assert_int_equal(parse_fixture(t, "id=117020565966271181", "timeline",
                                       "mastodon/account-statuses-newest.json"),
                         0);
        assert_int_equal(t->sink.n_posts, 5);
        assert_int_equal(t->sink.n_page, 0);
        assert_string_equal(t->sink.cursor, "id=117020565966271181;min=117020580518794573");
        assert_string_equal(t->sink.posts[0].text, "Toot number 5!");
        const struct earshot_post *p = &t->sink.posts[4];
        assert_string_equal(p->id, "http://localhost:3000/ap/users/117020565966271181/statuses/"
                                   "117020580518794573");
        assert_string_equal(p->network, "mastodon");
        assert_string_equal(p->url, "http://localhost:3000/@mastodonpy_test/117020580518794573");
        assert_string_equal(p->text, "Toot number 9!");
        assert_string_equal(p->author_handle, "mastodonpy_test@localhost:3000");
        assert_string_equal(p->author_name, "John Lennon");
        assert_int_equal(p->author_followers, 0);
        assert_string_equal(p->lang, "en");
        assert_int_equal(p->created_usec, INT64_C(1785592354108000)); /* 13:52:34.108Z */
        assert_int_equal(p->replies, 0);
        assert_int_equal(p->reposts, 0);
        assert_int_equal(p->likes, 0);
        assert_null(p->title);
        assert_null(p->reply_to);
        assert_int_equal(p->rating, 0);
        assert_int_equal(p->edited_usec, 0);

        /* the next poll (or a restart) does not look it up again */
        build(t, 0, "id=117020565966271181;min=117020580518794573", NULL);
        assert_string_equal(t->req.url, "http://localhost:3000/api/v1/accounts/117020565966271181/"
                                        "statuses?limit=5&exclude_reblogs=false"
                                        "&min_id=117020580518794573");

        /* a user of another instance is looked up by its full handle */
        create_ok(t, SETTINGS("instances=http://localhost:3000", "accounts=@Bob@Other.Example"));
        build(t, 0, NULL, NULL);
        assert_string_equal(t->req.url, "http://localhost:3000/api/v1/accounts/lookup"
                                        "?acct=bob%40other.example");
        /* an account id needs no lookup */
        create_ok(t, SETTINGS("instances=http://localhost:3000", "accounts=117020565966271181",
                              "account_replies=false"));
        build(t, 0, NULL, NULL);
        assert_string_equal(t->req.url, "http://localhost:3000/api/v1/accounts/117020565966271181/"
                                        "statuses?limit=40&exclude_reblogs=false"
                                        "&exclude_replies=true");
}

static void expect_bad_lookup(T *t, const char *body, const char *in_log) {
        size_t n = mock_host_count_logs(&t->mh, EARSHOT_LOG_ERR, in_log);
        int r = parse(t, NULL, NULL, body);
        if (r != -EBADMSG)
                fail_msg("expected -EBADMSG, got %d for %s", r, body);
        assert_int_equal(t->sink.n_cursor, 0);
        assert_int_equal(t->sink.n_page, 0);
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_ERR, in_log), n + 1);
}

static void test_account_lookup_failures(void **state) {
        T *t = *state;

        create_ok(t, SETTINGS("instances=http://localhost:3000", "accounts=mastodonpy_test"));
        /* what an unknown account gets (with a 404, which the core reports; a 200 alike) */
        size_t len;
        char *body = mock_read_fixture("mastodon/account-lookup-404.json", &len);
        expect_bad_lookup(t, body,
                          "@mastodonpy_test: expected an account, got an object "
                          "(error: \"Record not found\")");
        free(body);
        expect_bad_lookup(t, "<html>busy</html>", "not valid JSON");
        expect_bad_lookup(t, "[]", "got an array");
        expect_bad_lookup(t, "\"x\"", "got a scalar");
        expect_bad_lookup(t, "{\"id\":5,\"acct\":\"mastodonpy_test\"}", "no usable id");
        expect_bad_lookup(t, "{\"id\":\"1/../2\"}", "no usable id");
        expect_bad_lookup(t, "{\"id\":\"\"}", "no usable id");
        expect_bad_lookup(t, "{\"id\":\"7\",\"acct\":\"mastodonpy\"}",
                          "returned another account, @mastodonpy; not following it");
        expect_bad_lookup(t, "{\"id\":\"7\",\"acct\":\"someone\\nelse\"}", "@someone else;");

        /* the account domain may differ from the web domain we asked */
        assert_int_equal(
                parse(t, NULL, NULL, "{\"id\":\"7\",\"acct\":\"MastodonPy_Test@social.example\"}"),
                EARSHOT_MORE);
        assert_string_equal(t->sink.cursor, "id=7");
        /* a moved account is followed as configured, with a word about it */
        assert_int_equal(
                parse(t, NULL, NULL,
                      "{\"id\":\"8\",\"moved\":{\"id\":\"9\",\"acct\":\"new@b.example\"}}"),
                EARSHOT_MORE);
        assert_string_equal(t->sink.cursor, "id=8");
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_NOTICE,
                                              "@mastodonpy_test has moved to @new@b.example"),
                         1);
}

static void test_account_paging(void **state) {
        T *t = *state;

        /* the recorded walk over 10 statuses, 5 a page: a cursor before toot 0 */
        create_ok(t, SETTINGS("instances=http://localhost:3000", "accounts=mastodonpy_test",
                              "limit=5"));
        const char *c1 = "id=117020565966271181;min=117020580452511284";
        build(t, 0, c1, NULL);
        assert_string_equal(t->req.url, "http://localhost:3000/api/v1/accounts/117020565966271181/"
                                        "statuses?limit=5&exclude_reblogs=false"
                                        "&min_id=117020580452511284");
        assert_int_equal(parse_fixture(t, c1, NULL, "mastodon/account-statuses-older.json"),
                         EARSHOT_MORE);
        assert_int_equal(t->sink.n_posts, 5);
        assert_string_equal(t->sink.posts[0].text, "Toot number 0!");
        assert_string_equal(t->sink.posts[4].text, "Toot number 4!");
        assert_int_equal(t->sink.posts[0].created_usec, INT64_C(1785592353097000));
        assert_string_equal(t->sink.page, "2:117020580481736214");
        assert_string_equal(t->sink.cursor, "id=117020565966271181;min=117020580481736214");

        /* page 2 asks exactly what the recording asked (min_id=...214) */
        const char *c2 = "id=117020565966271181;min=117020580481736214";
        build(t, 0, c2, "2:117020580481736214");
        assert_string_equal(t->req.url, "http://localhost:3000/api/v1/accounts/117020565966271181/"
                                        "statuses?limit=5&exclude_reblogs=false"
                                        "&min_id=117020580481736214");
        assert_int_equal(parse_fixture(t, c2, "2:117020580481736214",
                                       "mastodon/account-statuses-after.json"),
                         EARSHOT_MORE);
        assert_int_equal(t->sink.n_posts, 5);
        assert_string_equal(t->sink.posts[0].text, "Toot number 5!");
        assert_string_equal(t->sink.posts[4].text, "Toot number 9!");
        assert_string_equal(t->sink.page, "3:117020580518794573");
        assert_string_equal(t->sink.cursor, "id=117020565966271181;min=117020580518794573");

        /* page 3: nothing newer, the poll ends, the cursor stays */
        const char *c3 = "id=117020565966271181;min=117020580518794573";
        build(t, 0, c3, "3:117020580518794573");
        assert_non_null(strstr(t->req.url, "&min_id=117020580518794573"));
        assert_int_equal(parse(t, c3, "3:117020580518794573", "[]"), 0);
        assert_int_equal(t->sink.n_page, 0);
        assert_int_equal(t->sink.n_cursor, 0);

        /* an account given by id keeps the plain cursor */
        create_ok(t, SETTINGS("instances=http://localhost:3000", "accounts=117020565966271181",
                              "limit=5", "max_pages=2"));
        assert_int_equal(parse_fixture(t, "117020580452511284", NULL,
                                       "mastodon/account-statuses-older.json"),
                         EARSHOT_MORE);
        assert_string_equal(t->sink.cursor, "117020580481736214");
        assert_int_equal(parse_fixture(t, "117020580481736214", "2:117020580481736214",
                                       "mastodon/account-statuses-after.json"),
                         0); /* max_pages */
        assert_string_equal(t->sink.cursor, "117020580518794573");
}

static void test_account_reblog(void **state) {
        T *t = *state;
        cJSON *page = load_json("mastodon/account-statuses-newest.json");
        cJSON *boost = cJSON_GetArrayItem(page, 0);

        /* the watched account boosts a complaint: the complaint is the post */
        create_ok(t, SETTINGS("instances=http://localhost:3000", "accounts=mastodonpy_test"));
        cJSON_ReplaceItemInObject(boost, "content", cJSON_CreateString(""));
        cJSON_ReplaceItemInObject(boost, "reblog", load_json("mastodon/status-example.json"));
        assert_int_equal(parse_json(t, "id=117020565966271181;min=117020580518794000", NULL, page),
                         0);
        cJSON_Delete(page);
        assert_int_equal(t->sink.n_posts, 5);
        const struct earshot_post *p = &t->sink.posts[4];
        assert_string_equal(p->id,
                            "https://mastodon.social/users/Gargron/statuses/103270115826048975");
        assert_string_equal(p->author_handle, "Gargron@localhost:3000");
        assert_non_null(strstr(p->text, "wrong digit"));
        assert_string_equal(t->sink.cursor, "id=117020565966271181;min=117020580518794573");
}

/* ---- cursors -------------------------------------------------------------------------------- */

static void test_cursor_fields(void **state) {
        T *t = *state;

        create_ok(t, SETTINGS("instances=https://m.example", "accounts=acme"));
        /* fields in any order; unknown ones (of a later version) ignored */
        build(t, 0, "checked=1785592800;min=7;x=y;id=5", NULL);
        assert_string_equal(t->req.url, "https://m.example/api/v1/accounts/5/statuses?limit=40"
                                        "&exclude_reblogs=false&min_id=7");
        /* the last of a repeated field wins */
        build(t, 0, "id=5;min=7;id=6", NULL);
        assert_string_equal(t->req.url, "https://m.example/api/v1/accounts/6/statuses?limit=40"
                                        "&exclude_reblogs=false&min_id=7");
        /* a malformed field is ignored: a bad id means looking the account up again */
        build(t, 0, "id=5/6;min=7", NULL);
        assert_string_equal(t->req.url, "https://m.example/api/v1/accounts/lookup?acct=acme");
        build(t, 0, "id=;min=", NULL);
        assert_string_equal(t->req.url, "https://m.example/api/v1/accounts/lookup?acct=acme");
        build(t, 0, "id=5;min=a b;checked=x", NULL);
        assert_string_equal(t->req.url, "https://m.example/api/v1/accounts/5/statuses?limit=40"
                                        "&exclude_reblogs=false");
        build(t, 0, ";;=;id=5;;", NULL);
        assert_string_equal(t->req.url, "https://m.example/api/v1/accounts/5/statuses?limit=40"
                                        "&exclude_reblogs=false");

        /* round trip: every known field comes back, unknown ones are dropped */
        assert_int_equal(parse(t, "x=1;id=5;min=7;checked=1785592800", NULL,
                               "[{\"id\":\"9\",\"content\":\"a\"}]"),
                         0);
        assert_string_equal(t->sink.cursor, "id=5;min=9;checked=1785592800");
        assert_int_equal(parse(t, "id=5;min=9;checked=1785592800", NULL, "[]"), 0);
        assert_int_equal(t->sink.n_cursor, 0);
        /* a timeline id that cannot go into a cursor does not */
        assert_int_equal(parse(t, "id=5;min=7", NULL,
                               "[{\"id\":\"99;min=1\",\"content\":\"a\"},"
                               "{\"id\":\"8\",\"content\":\"b\"}]"),
                         0);
        assert_int_equal(t->sink.n_posts, 2);
        assert_string_equal(t->sink.cursor, "id=5;min=8");

        /* a hashtag feed with nothing but `min` keeps the bare form of old cursors */
        create_ok(t, SETTINGS("instances=https://m.example", "tags=acme"));
        assert_int_equal(parse(t, "min=7", NULL, "[{\"id\":\"9\",\"content\":\"a\"}]"), 0);
        assert_string_equal(t->sink.cursor, "9");
        assert_int_equal(parse(t, "7", NULL, "[{\"id\":\"10\",\"content\":\"a\"}]"), 0);
        assert_string_equal(t->sink.cursor, "10");
        assert_int_equal(parse(t, "checked=1785592800", NULL, "[{\"id\":\"1\",\"content\":\"a\"}]"),
                         0);
        assert_string_equal(t->sink.cursor, "min=1;checked=1785592800");
}

/* ---- the instance check --------------------------------------------------------------------- */

/* /api/v2/instance from the local fixture, with hashtag_feeds set as given (NULL: removed) */
static cJSON *instance_with(const char *local, const char *remote) {
        cJSON *doc = load_json("mastodon/instance-v2-local.json");
        cJSON *ta =
                cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "configuration"), "timelines_access");
        cJSON *hf = cJSON_GetObjectItem(ta, "hashtag_feeds");
        assert_non_null(hf);
        if (local)
                cJSON_ReplaceItemInObject(hf, "local", cJSON_CreateString(local));
        else
                cJSON_DeleteItemFromObject(hf, "local");
        if (remote)
                cJSON_ReplaceItemInObject(hf, "remote", cJSON_CreateString(remote));
        else
                cJSON_DeleteItemFromObject(hf, "remote");
        return doc;
}

static int parse_instance(T *t, uint32_t feed, const char *local, const char *remote) {
        cJSON *doc = instance_with(local, remote);
        int r = parse_feed_json(t, feed, NULL, NULL, doc);
        cJSON_Delete(doc);
        return r;
}

static void expect_probe_passes(T *t, uint32_t feed, const char *local, const char *remote) {
        int r = parse_instance(t, feed, local, remote);
        if (r != EARSHOT_MORE)
                fail_msg("local %s, remote %s: expected EARSHOT_MORE, got %d", local, remote, r);
        assert_string_equal(t->sink.cursor, "checked=1785592800");
        assert_string_equal(t->sink.page, "timeline");
}

/* The feed cannot work there: blocked, with one explanation that says what to do (the core
 * logs it), and nothing logged by the plugin itself. */
static void expect_probe_fails(T *t, uint32_t feed, const char *local, const char *remote,
                               const char *in_error) {
        size_t n = mock_host_count_logs(&t->mh, EARSHOT_LOG_ERR, "");
        int r = parse_instance(t, feed, local, remote);
        if (r != EARSHOT_BLOCKED)
                fail_msg("local %s, remote %s: expected EARSHOT_BLOCKED, got %d", local, remote, r);
        expect_explained(t, r, EARSHOT_BLOCKED, in_error);
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_ERR, ""), n);
}

static void test_probe_public(void **state) {
        T *t = *state;

        /* the defaults: a new hashtag feed asks the instance first */
        create_default(
                t, SETTINGS("instances=http://localhost:3000", "tags=hoot", "access_token=tok-1"));
        build(t, 0, NULL, NULL);
        assert_string_equal(t->req.url, "http://localhost:3000/api/v2/instance");
        assert_string_equal(mock_request_header(&t->req, "Accept"), "application/json");
        assert_null(mock_request_header(&t->req, "Authorization")); /* it needs none */

        /* recorded: Mastodon 4.6.4 with every timeline public */
        assert_int_equal(parse_fixture(t, NULL, NULL, "mastodon/instance-v2-local.json"),
                         EARSHOT_MORE);
        assert_int_equal(t->sink.n_posts, 0);
        assert_string_equal(t->sink.cursor, "checked=1785592800");
        assert_string_equal(t->sink.page, "timeline");
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_WARNING, ""), 0);
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_ERR, ""), 0);

        /* the same poll goes on with the timeline: the newest page only */
        build(t, 0, "checked=1785592800", "timeline");
        assert_string_equal(t->req.url, "http://localhost:3000/api/v1/timelines/tag/hoot?limit=40");
        assert_string_equal(mock_request_header(&t->req, "Authorization"), "Bearer tok-1");
        assert_int_equal(
                parse_fixture(t, "checked=1785592800", "timeline", "mastodon/tag-hoot.json"), 0);
        assert_int_equal(t->sink.n_posts, 1);
        assert_int_equal(t->sink.n_page, 0);
        assert_string_equal(t->sink.cursor, "min=117020593741189701;checked=1785592800");

        /* later polls (and restarts) go straight to the timeline */
        build(t, 0, "min=117020593741189701;checked=1785592800", NULL);
        assert_string_equal(t->req.url, "http://localhost:3000/api/v1/timelines/tag/hoot?limit=40"
                                        "&min_id=117020593741189701");
        /* also when the check passed and the timeline request failed */
        build(t, 0, "checked=1785592800", NULL);
        assert_string_equal(t->req.url, "http://localhost:3000/api/v1/timelines/tag/hoot?limit=40");

        /* recorded on mastodon.social: live feeds disabled, hashtag feeds public -> fine */
        create_default(t, SETTINGS("instances=https://mastodon.social", "tags=acme"));
        assert_int_equal(parse_fixture(t, NULL, NULL, "mastodon/instance-v2-mastodon-social.json"),
                         EARSHOT_MORE);
        assert_string_equal(t->sink.cursor, "checked=1785592800");
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_ERR, ""), 0);
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_WARNING, ""), 0);
}

static void test_probe_disabled(void **state) {
        T *t = *state;

        create_default(t, SETTINGS("instances=http://localhost:3000", "tags=hoot"));
        expect_probe_fails(t, 0, "disabled", "disabled",
                           "localhost:3000 has disabled its hashtag timelines "
                           "(timelines_access.hashtag_feeds: local disabled, remote disabled); "
                           "this feed cannot work there: follow #hoot on another instance, or "
                           "drop http://localhost:3000 from `instances`");
        /* a token does not help */
        create_default(
                t, SETTINGS("instances=http://localhost:3000", "tags=hoot", "access_token=tok"));
        expect_probe_fails(t, 0, "disabled", "disabled", "has disabled its hashtag timelines");
        /* local only: the remote part does not matter */
        create_default(t, SETTINGS("instances=http://localhost:3000", "tags=hoot", "local=true"));
        expect_probe_fails(t, 0, "disabled", "public", "has disabled");

        /* remote disabled: Mastodon wants a logged-in user for the whole timeline */
        create_default(t, SETTINGS("instances=http://localhost:3000", "tags=hoot"));
        expect_probe_fails(t, 0, "public", "disabled",
                           "set `access_token` to a token of a user on localhost:3000 (read "
                           "scope), or set `local: true` to follow only posts by its own users");
        /* ... which local=true avoids */
        create_default(t, SETTINGS("instances=http://localhost:3000", "tags=hoot", "local=true"));
        expect_probe_passes(t, 0, "public", "disabled");
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_WARNING, ""), 0);
        /* ... and with a token the local posts come, with a warning */
        create_default(
                t, SETTINGS("instances=http://localhost:3000", "tags=hoot", "access_token=tok"));
        expect_probe_passes(t, 0, "public", "disabled");
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_WARNING,
                                              "localhost:3000 has disabled remote posts in its "
                                              "hashtag timelines; this feed sees only posts by "
                                              "its own users"),
                         1);
}

static void test_probe_authenticated(void **state) {
        T *t = *state;

        create_default(t, SETTINGS("instances=http://localhost:3000", "tags=hoot"));
        expect_probe_fails(t, 0, "authenticated", "authenticated",
                           "localhost:3000 serves its hashtag timelines to logged-in users only "
                           "(timelines_access.hashtag_feeds: local authenticated, remote "
                           "authenticated); set `access_token` to a token of a user on "
                           "localhost:3000 (read scope)");
        assert_null(strstr(t->sink.error, "local: true"));
        expect_probe_fails(t, 0, "public", "authenticated", "or set `local: true`");
        expect_probe_fails(t, 0, "authenticated", NULL, "logged-in users only");

        /* with a token for this instance: fine */
        create_default(
                t, SETTINGS("instances=http://localhost:3000", "tags=hoot", "access_token=tok"));
        expect_probe_passes(t, 0, "authenticated", "authenticated");
        /* local only and the local part public: no token needed */
        create_default(t, SETTINGS("instances=http://localhost:3000", "tags=hoot", "local=true"));
        expect_probe_passes(t, 0, "public", "authenticated");

        /* the token belongs to another instance and is not sent here: said so */
        create_default(t, SETTINGS("instances=http://localhost:3000", "instances=https://b.example",
                                   "tags=hoot", "access_token=s3cr3t-t0k",
                                   "access_token_instance=https://b.example"));
        expect_probe_fails(t, 0, "authenticated", "authenticated",
                           "the configured token belongs to another instance and is not sent "
                           "here");
        assert_null(strstr(t->sink.error, "s3cr3t-t0k"));
        expect_probe_passes(t, 1, "authenticated", "authenticated");
        assert_int_equal(mock_host_count_logs(&t->mh, -1, "s3cr3t-t0k"), 0);

        /* a host from before set_error and EARSHOT_BLOCKED: an error line, and RETRY */
        create_default(t, SETTINGS("instances=http://localhost:3000", "tags=hoot"));
        t->mh.host.size = offsetof(struct earshot_host, set_error);
        mock_host_clear_logs(&t->mh);
        assert_int_equal(parse_instance(t, 0, "authenticated", "authenticated"), EARSHOT_RETRY);
        assert_int_equal(t->sink.n_error, 0);
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_ERR,
                                              "http://localhost:3000#hoot: localhost:3000 serves "
                                              "its hashtag timelines to logged-in users only"),
                         1);
}

static void expect_probe_goes_on(T *t, const char *body, const char *in_warning) {
        size_t n = mock_host_count_logs(&t->mh, EARSHOT_LOG_WARNING, "");
        int r = parse(t, NULL, NULL, body);
        if (r != EARSHOT_MORE)
                fail_msg("expected EARSHOT_MORE, got %d for %s", r, body);
        assert_string_equal(t->sink.cursor, "checked=1785592800");
        assert_string_equal(t->sink.page, "timeline");
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_ERR, ""), 0);
        if (in_warning)
                assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_WARNING, in_warning), 1);
        else
                assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_WARNING, ""), n);
}

static void test_probe_absent(void **state) {
        T *t = *state;

        create_default(t, SETTINGS("instances=http://localhost:3000", "tags=hoot"));
        /* older servers say nothing about timeline access: go on */
        expect_probe_goes_on(t, "{\"domain\":\"x\",\"version\":\"4.2.0\",\"configuration\":{}}",
                             NULL);
        expect_probe_goes_on(t, "{\"configuration\":{\"timelines_access\":\"x\"}}", NULL);
        expect_probe_goes_on(t, "{\"configuration\":{\"timelines_access\":{\"hashtag_feeds\":[]}}}",
                             NULL);
        /* values this plugin does not know are not taken for "disabled" */
        expect_probe_goes_on(t,
                             "{\"configuration\":{\"timelines_access\":{\"hashtag_feeds\":"
                             "{\"local\":7,\"remote\":\"friends-only\"}}}}",
                             NULL);
        cJSON *doc = instance_with(NULL, NULL);
        char *body = cJSON_PrintUnformatted(doc);
        expect_probe_goes_on(t, body, NULL);
        free(body);
        cJSON_Delete(doc);

        /* not an instance at all: the check is advice, the feed goes on, with a warning */
        expect_probe_goes_on(t, "<html>Welcome</html>",
                             "the answer of http://localhost:3000/api/v2/instance is not valid "
                             "JSON; cannot tell whether its hashtag timelines are open, going on");
        expect_probe_goes_on(t, "[]", "instance is not an object");
        expect_probe_goes_on(t, "{\"error\":\"nope\\r\\nX-Injected: 1\"}",
                             "instance is an error (\"nope  X-Injected: 1\")");
}

static void test_probe_recheck(void **state) {
        T *t = *state;

        create_default(t, SETTINGS("instances=http://localhost:3000", "tags=hoot", "limit=8"));

        /* checked two days ago: after the poll's last page, check again */
        const char *stale = "min=117020574000000000;checked=1785420000";
        assert_int_equal(parse_fixture(t, stale, NULL, "mastodon/tag-hoot.json"), EARSHOT_MORE);
        assert_int_equal(t->sink.n_posts, 1);
        assert_string_equal(t->sink.page, "probe");
        assert_string_equal(t->sink.cursor, "min=117020593741189701;checked=1785420000");
        const char *after = "min=117020593741189701;checked=1785420000";
        build(t, 0, after, "probe");
        assert_string_equal(t->req.url, "http://localhost:3000/api/v2/instance");
        assert_int_equal(parse_fixture(t, after, "probe", "mastodon/instance-v2-local.json"), 0);
        assert_int_equal(t->sink.n_page, 0); /* the poll is over */
        assert_string_equal(t->sink.cursor, "min=117020593741189701;checked=1785592800");

        /* a re-check that fails: blocked (the pages before it are committed already) */
        cJSON *doc = instance_with("disabled", "disabled");
        int r = parse_json(t, after, "probe", doc);
        cJSON_Delete(doc);
        expect_explained(t, r, EARSHOT_BLOCKED, "has disabled");

        /* paging first, the check after the last page */
        assert_int_equal(parse_fixture(t, stale, NULL, "mastodon/public-8.json"), EARSHOT_MORE);
        assert_string_equal(t->sink.page, "2:117020593134559451");

        /* checked recently: nothing more */
        assert_int_equal(parse_fixture(t, "min=117020574000000000;checked=1785592000", NULL,
                                       "mastodon/tag-hoot.json"),
                         0);
        assert_int_equal(t->sink.n_page, 0);
        /* a clock set back (checked "in the future"): check */
        assert_int_equal(parse_fixture(t, "min=117020574000000000;checked=1785600000", NULL,
                                       "mastodon/tag-hoot.json"),
                         EARSHOT_MORE);
        assert_string_equal(t->sink.page, "probe");

        /* a cursor from before the check: checked at the end of its next poll */
        assert_int_equal(parse_fixture(t, "117020574000000000", NULL, "mastodon/tag-hoot.json"),
                         EARSHOT_MORE);
        assert_string_equal(t->sink.page, "probe");
        assert_string_equal(t->sink.cursor, "117020593741189701");
        assert_int_equal(
                parse_fixture(t, "117020593741189701", "probe", "mastodon/instance-v2-local.json"),
                0);
        assert_string_equal(t->sink.cursor, "min=117020593741189701;checked=1785592800");

        /* recheck_after: 0 = never again; check_instance: false = never at all */
        create_default(t,
                       SETTINGS("instances=http://localhost:3000", "tags=hoot", "recheck_after=0"));
        assert_int_equal(parse_fixture(t, stale, NULL, "mastodon/tag-hoot.json"), 0);
        create_ok(t, SETTINGS("instances=http://localhost:3000", "tags=hoot"));
        assert_int_equal(parse_fixture(t, "117020574000000000", NULL, "mastodon/tag-hoot.json"), 0);
        build(t, 0, NULL, NULL);
        assert_string_equal(t->req.url, "http://localhost:3000/api/v1/timelines/tag/hoot?limit=40");
        /* a shorter recheck_after */
        create_default(
                t, SETTINGS("instances=http://localhost:3000", "tags=hoot", "recheck_after=10m"));
        assert_int_equal(parse_fixture(t, "min=117020574000000000;checked=1785592000", NULL,
                                       "mastodon/tag-hoot.json"),
                         EARSHOT_MORE);

        /* account feeds have nothing to check */
        create_default(t, SETTINGS("instances=http://localhost:3000", "accounts=5"));
        build(t, 0, NULL, NULL);
        assert_string_equal(t->req.url, "http://localhost:3000/api/v1/accounts/5/statuses"
                                        "?limit=40&exclude_reblogs=false");
        assert_int_equal(parse(t, NULL, NULL, "[{\"id\":\"9\",\"content\":\"a\"}]"), 0);
        mock_request_done(&t->req);
        assert_int_equal(P->source->build_request(t->state, 0, NULL, "probe", &t->req), -EINVAL);
}

/* ---- error answers (parse_error) ------------------------------------------------------------ */

static void test_error_probe(void **state) {
        T *t = *state;

        /* no /api/v2/instance (before Mastodon 4.0, another server): the check passes, with
         * one info line, and the poll goes on with the timeline */
        create_default(t, SETTINGS("instances=http://localhost:3000", "tags=hoot"));
        mock_host_clear_logs(&t->mh);
        assert_int_equal(error_response(t, NULL, NULL, 404,
                                        "<html><body>The page you were looking for doesn't "
                                        "exist.</body></html>"),
                         EARSHOT_MORE);
        assert_string_equal(t->sink.cursor, "checked=1785592800");
        assert_string_equal(t->sink.page, "timeline");
        assert_int_equal(t->sink.n_error, 0);
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_INFO,
                                              "localhost:3000 has no /api/v2/instance (HTTP 404"),
                         1);
        assert_int_equal(mock_host_count_logs(&t->mh, -1, ""), 1);
        build(t, 0, "checked=1785592800", "timeline");
        assert_string_equal(t->req.url, "http://localhost:3000/api/v1/timelines/tag/hoot?limit=40");
        assert_int_equal(error_response(t, NULL, NULL, 410, ""), EARSHOT_MORE);
        /* a re-check at the end of a poll: the poll is over */
        assert_int_equal(error_response(t, "min=5;checked=1", "probe", 404, "{\"error\":\"x\"}"),
                         0);
        assert_string_equal(t->sink.cursor, "min=5;checked=1785592800");
        assert_int_equal(t->sink.n_page, 0);

        /* anything else is the core's: rate limits, server trouble, a login wall */
        expect_generic(t, 0, NULL, NULL, 429, "{\"error\":\"Too many requests\"}");
        expect_generic(t, 0, NULL, NULL, 503, "");
        expect_generic(t, 0, NULL, NULL, 401, "{\"error\":\"x\"}");
        expect_generic(t, 0, NULL, NULL, 302, "");
}

static void test_error_timeline(void **state) {
        T *t = *state;

        /* a hashtag nobody has used: an empty timeline, not a failure */
        create_ok(t, LOCAL_SETTINGS);
        mock_host_clear_logs(&t->mh);
        assert_int_equal(
                error_response_fixture(t, 0, NULL, NULL, 404, "mastodon/account-lookup-404.json"),
                0);
        assert_int_equal(t->sink.n_posts, 0);
        assert_int_equal(t->sink.n_cursor, 0);
        assert_int_equal(t->sink.n_page, 0);
        assert_int_equal(t->sink.n_error, 0);
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_WARNING, ""), 0);
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_ERR, ""), 0);
        assert_int_equal(error_response(t, "117020593741189701", NULL, 404,
                                        "{\"error\":\"Record not found\"}"),
                         0);
        assert_int_equal(t->sink.n_cursor, 0);
        /* ... like an empty page: the re-check still comes when due */
        create_default(t, LOCAL_SETTINGS);
        assert_int_equal(
                error_response(t, "min=5;checked=1", NULL, 404, "{\"error\":\"Record not found\"}"),
                EARSHOT_MORE);
        assert_string_equal(t->sink.page, "probe");
        /* a 404 that is not Mastodon's (a proxy, a wrong URL): the core's */
        expect_generic(t, 0, "min=5;checked=1785592000", NULL, 404, "<html>Not Found</html>");

        /* a login wall, no token: blocked, saying to set access_token */
        create_ok(t, LOCAL_SETTINGS);
        expect_failure(t, 0, NULL, NULL, 401,
                       "{\"error\":\"This API requires an authenticated user\"}", EARSHOT_BLOCKED,
                       "localhost:3000 requires a login for this timeline (\"This API requires "
                       "an authenticated user\"): set `access_token` to a token of a user on "
                       "localhost:3000 (read scope)");
        expect_failure(t, 0, "min=5", "2:7", 403, "", EARSHOT_BLOCKED,
                       "requires a login for this timeline: set `access_token`");
        /* a token for another instance is not sent here: said so */
        create_ok(t, SETTINGS("instances=http://localhost:3000", "instances=https://b.example",
                              "tags=hoot", "access_token=s3cr3t-t0k",
                              "access_token_instance=https://b.example"));
        expect_failure(t, 0, NULL, NULL, 401, "{\"error\":\"x\"}", EARSHOT_BLOCKED,
                       "the configured token belongs to another instance");
        assert_null(strstr(t->sink.error, "s3cr3t"));
        /* the token was sent: refused (401), or short of the scope (403) */
        expect_failure(t, 1, NULL, NULL, 401, "{\"error\":\"The access token is invalid\"}",
                       EARSHOT_BLOCKED,
                       "b.example refused the access token (\"The access token is invalid\") "
                       "(revoked or expired?): set a valid `access_token`");
        expect_failure(t, 1, NULL, NULL, 403,
                       "{\"error\":\"This action is outside the authorized scopes\"}",
                       EARSHOT_BLOCKED, "the access token lacks the read scope this timeline");
        assert_null(strstr(t->sink.error, "s3cr3t"));
        /* a server that quotes the token does not get it into the log */
        expect_failure(t, 1, NULL, NULL, 401, "{\"error\":\"token s3cr3t-t0k is unknown\"}",
                       EARSHOT_BLOCKED, "(\"token *** is unknown\")");

        /* rate limits and server trouble: the core's (Retry-After, backoff) */
        create_ok(t, LOCAL_SETTINGS);
        expect_generic(t, 0, "min=5", NULL, 429, "{\"error\":\"Too many requests\"}");
        expect_generic(t, 0, "min=5", NULL, 500, "{\"error\":\"oops\"}");
        expect_generic(t, 0, "min=5", NULL, 502, "<html>Bad Gateway</html>");
        expect_generic(t, 0, "min=5", NULL, 410, "{\"error\":\"x\"}");
        expect_generic(t, 0, "min=5", NULL, 400, "{\"error\":\"x\"}");
        assert_int_equal(P->source->parse_error(t->state, 1, NULL, NULL,
                                                &(struct earshot_response){.size = 1}, &t->sink),
                         -EINVAL);
        assert_int_equal(error_response(t, NULL, "junk", 404, "{}"), -EINVAL);

        /* an account timeline whose account is gone */
        create_ok(t, SETTINGS("instances=http://localhost:3000", "accounts=5", "accounts=acme"));
        expect_failure(t, 0, NULL, NULL, 404, "{\"error\":\"Record not found\"}", EARSHOT_BLOCKED,
                       "account 5 is gone from localhost:3000 (HTTP 404: deleted or suspended?): "
                       "check `accounts`");
        expect_failure(t, 1, "id=7;min=9", NULL, 410, "", EARSHOT_BLOCKED,
                       "account @acme is gone from localhost:3000 (HTTP 410");
        expect_failure(t, 0, NULL, NULL, 401, "", EARSHOT_BLOCKED, "set `access_token`");
}

static void test_error_lookup(void **state) {
        T *t = *state;

        create_ok(t, SETTINGS("instances=http://localhost:3000", "accounts=mastodonpy_test"));
        int r = error_response_fixture(t, 0, NULL, NULL, 404, "mastodon/account-lookup-404.json");
        expect_explained(t, r, EARSHOT_BLOCKED,
                         "no account @mastodonpy_test on localhost:3000: check `accounts`");
        expect_failure(t, 0, NULL, NULL, 401,
                       "{\"error\":\"This API requires an authenticated "
                       "user\"}",
                       EARSHOT_BLOCKED,
                       "localhost:3000 requires a login to look up @mastodonpy_test (\"This API "
                       "requires an authenticated user\"): set `access_token` to a token of a "
                       "user on localhost:3000 (read scope), or give the account's numeric id in "
                       "`accounts`");
        expect_generic(t, 0, NULL, NULL, 429, "");
        expect_generic(t, 0, NULL, NULL, 503, "");

        create_ok(t, SETTINGS("instances=http://localhost:3000", "accounts=mastodonpy_test",
                              "access_token=tok"));
        expect_failure(t, 0, NULL, NULL, 403, "{\"error\":\"nope\"}", EARSHOT_BLOCKED,
                       "lacks the read scope the lookup needs");
        expect_failure(t, 0, NULL, NULL, 401, "", EARSHOT_BLOCKED, "refused the access token");
        assert_null(strstr(t->sink.error, "tok "));

        /* a host from before set_error: an error line, and RETRY */
        t->mh.host.size = offsetof(struct earshot_host, set_error);
        mock_host_clear_logs(&t->mh);
        assert_int_equal(error_response(t, NULL, NULL, 404, "{\"error\":\"Record not found\"}"),
                         EARSHOT_RETRY);
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_ERR,
                                              "http://localhost:3000/@mastodonpy_test: no account "
                                              "@mastodonpy_test on localhost:3000"),
                         1);
}

/* ---- tokens --------------------------------------------------------------------------------- */

static void expect_authorization(T *t, uint32_t feed, const char *cursor, const char *page,
                                 const char *want) {
        build(t, feed, cursor, page);
        const char *got = mock_request_header(&t->req, "Authorization");
        if (!want && got)
                fail_msg("feed %u (%s): a token where none belongs", feed, t->req.url);
        if (want && (!got || strcmp(got, want) != 0))
                fail_msg("feed %u (%s): Authorization %s, want %s", feed, t->req.url,
                         got ? got : "(none)", want);
}

static void test_tokens(void **state) {
        T *t = *state;

        /* one instance: its token on every request but the instance check */
        create_default(t, SETTINGS("instances=https://a.example", "tags=acme", "accounts=acme",
                                   "access_token=tok-1"));
        expect_authorization(t, 0, NULL, NULL, NULL); /* the check */
        expect_authorization(t, 0, "checked=1", "timeline", "Bearer tok-1");
        expect_authorization(t, 0, "min=5;checked=1", "2:6", "Bearer tok-1");
        expect_authorization(t, 1, NULL, NULL, "Bearer tok-1"); /* the lookup */
        expect_authorization(t, 1, "id=5", "timeline", "Bearer tok-1");

        /* several instances: the token goes to its own only */
        create_ok(t, SETTINGS("instances=https://a.example", "instances=https://b.example/",
                              "tags=acme", "accounts=acme", "access_token=tok-2",
                              "access_token_instance=HTTPS://B.example/"));
        assert_string_equal(P->source->feed(t->state, 2), "https://b.example#acme");
        expect_authorization(t, 0, NULL, NULL, NULL);
        expect_authorization(t, 1, NULL, NULL, NULL);
        expect_authorization(t, 1, "id=5", NULL, NULL);
        expect_authorization(t, 2, NULL, NULL, "Bearer tok-2");
        expect_authorization(t, 3, NULL, NULL, "Bearer tok-2");
        expect_authorization(t, 3, "id=5;min=6", NULL, "Bearer tok-2");
        for (uint32_t i = 0; i < 4; i++)
                assert_null(strstr(P->source->feed(t->state, i), "tok-2"));

        expect_rejected(t,
                        SETTINGS("instances=https://a.example", "instances=https://b.example",
                                 "tags=a", "access_token=s3cret"),
                        "name its instance with access_token_instance");
        assert_null(strstr(t->err, "s3cret"));
        expect_rejected(t,
                        SETTINGS("instances=https://a.example", "tags=a", "access_token=s3cret",
                                 "access_token_instance=https://c.example"),
                        "access_token_instance: 'https://c.example' is not one of the instances");
        assert_null(strstr(t->err, "s3cret"));
        expect_rejected(t,
                        SETTINGS("instances=https://a.example", "tags=a",
                                 "access_token_instance=https://a.example"),
                        "access_token_instance: given, but there is no access_token");
        expect_rejected(t,
                        SETTINGS("instances=https://a.example", "tags=a", "access_token=s3cret",
                                 "access_token_instance=ftp://a.example"),
                        "access_token_instance: 'ftp://a.example' is not an http");
        expect_rejected(t, SETTINGS("instances=https://a.example", "tags=a", "access_token=a\nb"),
                        "access_token: contains control characters");
}

/* ---- edits and replies ---------------------------------------------------------------------- */

static void test_edits_and_replies(void **state) {
        T *t = *state;

        create_ok(t, SETTINGS("instances=https://mastodon.social", "tags=acme"));

        /* a thread on mastodon.social (GET /statuses/:id/context): a reply and its root */
        cJSON *ctx = load_json("mastodon/context-reply.json");
        cJSON *page = cJSON_CreateArray();
        cJSON_AddItemToArray(page, cJSON_DetachItemFromObject(ctx, "descendants"));
        cJSON *descendants = cJSON_DetachItemFromArray(page, 0);
        cJSON_Delete(page);
        cJSON_AddItemToArray(descendants,
                             cJSON_DetachItemFromArray(cJSON_GetObjectItem(ctx, "ancestors"), 0));
        cJSON_Delete(ctx);
        assert_int_equal(parse_json(t, "1", NULL, descendants), 0);
        cJSON_Delete(descendants);
        assert_int_equal(t->sink.n_posts, 2);
        const struct earshot_post *p = &t->sink.posts[1];
        assert_string_equal(p->id,
                            "https://mastodon.social/users/halcy/statuses/110446984249325790");
        assert_string_equal(p->url, "https://mastodon.social/@halcy/110446984249325790");
        assert_string_equal(p->text, "final status");
        assert_string_equal(p->author_handle, "halcy@mastodon.social");
        assert_string_equal(p->author_name, "autumnal halcy");
        assert_int_equal(p->author_followers, 126);
        assert_string_equal(p->lang, "de");
        assert_int_equal(p->created_usec, INT64_C(1685287235248000));
        /* the parent's id is mastodon.social's own: a URL there that answers with it */
        assert_string_equal(p->reply_to,
                            "https://mastodon.social/api/v1/statuses/110446983926957470");
        assert_int_equal(p->edited_usec, 0);
        assert_null(t->sink.posts[0].reply_to); /* the thread's root */
        assert_string_equal(t->sink.posts[0].text, "first status");

        /* an edited status of another instance, as mastodon.social serves it */
        cJSON *arr = cJSON_CreateArray();
        cJSON_AddItemToArray(arr, load_json("mastodon/status-edited-remote.json"));
        assert_int_equal(parse_json(t, "1", NULL, arr), 0);
        assert_int_equal(t->sink.n_posts, 1);
        p = &t->sink.posts[0];
        assert_string_equal(p->id,
                            "https://icosahedron.website/users/halcy/statuses/110446222386355655");
        assert_string_equal(p->url, "https://icosahedron.website/@halcy/110446222386355655");
        assert_string_equal(p->author_handle, "halcy@icosahedron.website");
        assert_string_equal(p->author_name, "halcy\xe2\x80\x8b :icosahedron:");
        assert_int_equal(p->author_followers, 3553);
        assert_string_equal(p->lang, "de");
        assert_int_equal(p->created_usec, INT64_C(1685275610000000)); /* 12:06:50Z */
        assert_int_equal(p->edited_usec, INT64_C(1685275784000000));  /* 12:09:44Z */
        assert_int_equal(p->likes, 1);
        assert_null(p->reply_to);
        assert_true(strncmp(p->text,
                            "test post for mastodon.py stuff\n@halcy you're a doo-doo "
                            "head",
                            60) == 0);

        /* a boost of an edited reply: the boosted status's fields */
        cJSON *boost = cJSON_CreateObject();
        cJSON *inner = cJSON_DetachItemFromArray(arr, 0);
        cJSON_ReplaceItemInObject(inner, "in_reply_to_id",
                                  cJSON_CreateString("110446000000000001"));
        cJSON_AddStringToObject(boost, "id", "110446300000000000");
        cJSON_AddStringToObject(boost, "content", "");
        cJSON_AddNullToObject(boost, "in_reply_to_id");
        cJSON_AddNullToObject(boost, "edited_at");
        cJSON_AddItemToObject(boost, "reblog", inner);
        cJSON_AddItemToArray(arr, boost);
        assert_int_equal(parse_json(t, "1", NULL, arr), 0);
        cJSON_Delete(arr);
        p = &t->sink.posts[0];
        assert_string_equal(p->reply_to,
                            "https://mastodon.social/api/v1/statuses/110446000000000001");
        assert_int_equal(p->edited_usec, INT64_C(1685275784000000));
        assert_string_equal(t->sink.cursor, "110446300000000000");

        /* the recorded local timeline: one edited status, the others never edited */
        create_ok(t, LOCAL_SETTINGS);
        assert_int_equal(parse_fixture(t, "1", NULL, "mastodon/public-8.json"), 0);
        for (size_t i = 0; i < t->sink.n_posts; i++) {
                p = &t->sink.posts[i];
                assert_null(p->reply_to);
                assert_null(p->title);
                assert_int_equal(p->rating, 0);
                if (strstr(p->id, "/117020586180926938")) {
                        assert_int_equal(p->created_usec, INT64_C(1785592440505000));
                        assert_int_equal(p->edited_usec, INT64_C(1785592440695000));
                } else
                        assert_int_equal(p->edited_usec, 0);
        }

        /* wrong types: no reply_to, no edit time */
        assert_int_equal(
                parse(t, "1", NULL,
                      "[{\"id\":\"2\",\"content\":\"a\",\"in_reply_to_id\":5,\"edited_at\":7},"
                      "{\"id\":\"3\",\"content\":\"b\",\"in_reply_to_id\":\"../x\","
                      "\"edited_at\":\"yesterday\"},"
                      "{\"id\":\"4\",\"content\":\"c\",\"in_reply_to_id\":\"\","
                      "\"edited_at\":\"\"}]"),
                0);
        assert_int_equal(t->sink.n_posts, 3);
        for (size_t i = 0; i < 3; i++) {
                assert_null(t->sink.posts[i].reply_to);
                assert_int_equal(t->sink.posts[i].edited_usec, 0);
        }
}

static void test_json_depth(void **state) {
        T *t = *state;
        char body[256];

        create_ok(t, LOCAL_SETTINGS);
        /* 64 levels: read (the inner arrays are not statuses, skipped) */
        memset(body, '[', 64);
        memset(body + 64, ']', 64);
        body[128] = 0;
        assert_int_equal(parse(t, "1", NULL, body), 0);
        assert_int_equal(t->sink.n_posts, 0);
        /* 65: refused before cJSON sees it */
        memset(body, '[', 65);
        memset(body + 65, ']', 65);
        body[130] = 0;
        expect_bad(t, body, 130);
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_ERR, "nests deeper than 64"), 1);
        /* brackets inside strings (and escaped quotes) do not count */
        int n = snprintf(body, sizeof(body), "[{\"id\":\"1\",\"content\":\"\\\"");
        memset(body + n, '[', 100);
        strcpy(body + n + 100, "\"}]");
        assert_int_equal(parse(t, "0", NULL, body), 0);
        assert_int_equal(t->sink.n_posts, 1);
}

/* ---- streams --------------------------------------------------------------------------------- */

#define TOKEN_SETTINGS(...)                                                                        \
        SETTINGS("instances=http://localhost:3000", "tags=hoot", "access_token=t0ken", __VA_ARGS__)

/* parse_event() of (event, data) as feed's, into a fresh t->sink; its result. */
static int event_feed(T *t, uint32_t feed, const char *event, const char *data) {
        assert_true(EARSHOT_SOURCE_HAS(P->source, parse_event));
        mock_sink_done(&t->sink);
        mock_sink_init(&t->sink);
        return P->source->parse_event(t->state, feed, event, data, strlen(data), &t->sink);
}

/* stream_request() for feed into t->req; its result. */
static int stream_req(T *t, uint32_t feed, const char *cursor) {
        assert_true(EARSHOT_SOURCE_HAS(P->source, stream_request));
        mock_request_done(&t->req);
        mock_request_init(&t->req);
        return P->source->stream_request(t->state, feed, cursor, &t->req);
}

static bool req_has_header(const T *t, const char *line) {
        for (char **h = t->req.headers; h && *h; h++)
                if (strcmp(*h, line) == 0)
                        return true;
        return false;
}

static void test_stream_options(void **state) {
        T *t = *state;

        /* streaming needs a user token since Mastodon 4.2: said at once */
        expect_rejected(t, SETTINGS("instances=http://localhost:3000", "tags=hoot", "stream=true"),
                        "access_token");
        expect_rejected(t,
                        SETTINGS("instances=http://localhost:3000", "accounts=acme",
                                 "access_token=t0ken", "stream=true"),
                        "tags");

        create_ok(t, TOKEN_SETTINGS("stream=true", "accounts=acme"));
        assert_int_equal(stream_req(t, 0, NULL), 0);
        assert_string_equal(t->req.url,
                            "http://localhost:3000/api/v1/streaming/hashtag?tag=hoot");
        assert_true(req_has_header(t, "Authorization: Bearer t0ken"));
        /* account feeds are only polled */
        assert_int_equal(stream_req(t, 1, NULL), -EOPNOTSUPP);

        create_ok(t, TOKEN_SETTINGS("stream=true", "local=true", "tags=caf\xC3\xA9"));
        assert_int_equal(stream_req(t, 1, NULL), 0);
        assert_string_equal(t->req.url, "http://localhost:3000/api/v1/streaming/hashtag/local?"
                                        "tag=caf%C3%A9");

        /* off by default */
        create_ok(t, TOKEN_SETTINGS("check_instance=false"));
        assert_int_equal(stream_req(t, 0, NULL), -EOPNOTSUPP);

        /* several instances: only the token's own streams */
        create_ok(t, SETTINGS("instances=https://a.example", "instances=https://b.example",
                              "tags=acme", "access_token=t0ken",
                              "access_token_instance=https://b.example", "stream=true"));
        assert_int_equal(stream_req(t, 0, NULL), -EOPNOTSUPP);
        assert_int_equal(stream_req(t, 1, NULL), 0);
        assert_string_equal(t->req.url, "https://b.example/api/v1/streaming/hashtag?tag=acme");
}

typedef struct SseBlock {
        char *event, *data;
} SseBlock;

/* The recorded stream's events (each has one event: and one data: line; blank lines between). */
static size_t read_sse_fixture(SseBlock *out, size_t max) {
        size_t len, n = 0;
        char *body = mock_read_fixture("mastodon/streaming-examples.sse", &len);
        char *save = NULL, *ev = NULL;

        for (char *line = strtok_r(body, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                if (strncmp(line, "event: ", 7) == 0)
                        ev = line + 7;
                else if (strncmp(line, "data: ", 6) == 0) {
                        assert_non_null(ev);
                        assert_true(n < max);
                        out[n].event = strdup(ev);
                        out[n].data = strdup(line + 6);
                        n++;
                        ev = NULL;
                }
        }
        free(body);
        return n;
}

/* The post id the plugin must emit for a status JSON: its uri (the boosted one's for a boost). */
static char *expected_post_id(const char *data) {
        cJSON *j = cJSON_Parse(data);
        assert_non_null(j);
        cJSON *s = cJSON_GetObjectItem(j, "reblog");
        if (!cJSON_IsObject(s))
                s = j;
        char *id = strdup(cJSON_GetObjectItem(s, "uri")->valuestring);
        cJSON_Delete(j);
        return id;
}

static void test_stream_recorded_events(void **state) {
        T *t = *state;
        SseBlock ev[64];
        size_t n = read_sse_fixture(ev, 64);
        unsigned updates = 0, edits = 0, deletes = 0;
        char *last_uri_of[64] = {0};

        assert_int_equal(n, 26);
        create_ok(t, TOKEN_SETTINGS("stream=true", "check_instance=false"));
        assert_int_equal(stream_req(t, 0, "108914000000000000"), 0);
        for (size_t i = 0; i < n; i++) {
                int r = event_feed(t, 0, ev[i].event, ev[i].data);
                if (strcmp(ev[i].event, "update") == 0 ||
                    strcmp(ev[i].event, "status.update") == 0) {
                        assert_int_equal(r, 0);
                        assert_int_equal(t->sink.n_posts, 1);
                        char *want = expected_post_id(ev[i].data);
                        /* the same post id the REST timeline gives it */
                        assert_string_equal(t->sink.posts[0].id, want);
                        assert_string_equal(t->sink.posts[0].network, "mastodon");
                        last_uri_of[i] = want;
                        if (strcmp(ev[i].event, "status.update") == 0) {
                                edits++;
                                assert_true(t->sink.posts[0].edited_usec > 0);
                                assert_int_equal(t->sink.n_cursor, 0);
                        } else
                                updates++;
                        assert_int_equal(t->sink.n_deleted, 0);
                } else if (strcmp(ev[i].event, "delete") == 0) {
                        deletes++;
                        assert_int_equal(r, 0);
                        assert_int_equal(t->sink.n_posts, 0);
                        /* a status seen on this stream: deleted under its post id */
                        const char *want = NULL;
                        for (size_t k = 0; k < i; k++) {
                                if (last_uri_of[k] && strstr(ev[k].data, ev[i].data) &&
                                    strncmp(ev[k].data + 7, ev[i].data, strlen(ev[i].data)) == 0)
                                        want = last_uri_of[k];
                        }
                        if (want) {
                                char key[300];
                                snprintf(key, sizeof(key), "mastodon:%s", want);
                                assert_int_equal(t->sink.n_deleted, 1);
                                assert_string_equal(t->sink.deleted[0], key);
                        } else /* never seen: ignored */
                                assert_int_equal(t->sink.n_deleted, 0);
                } else {
                        /* notifications, announcements, filters: not the feed's */
                        assert_int_equal(r, 0);
                        assert_int_equal(t->sink.n_posts, 0);
                        assert_int_equal(t->sink.n_deleted, 0);
                        assert_int_equal(t->sink.n_cursor, 0);
                }
        }
        assert_int_equal(updates, 7);
        assert_int_equal(edits, 6);
        assert_int_equal(deletes, 6);
        for (size_t i = 0; i < n; i++) {
                free(ev[i].event);
                free(ev[i].data);
                free(last_uri_of[i]);
        }
}

static void test_stream_delete_after_rest(void **state) {
        T *t = *state;

        /* a status the REST timeline brought is known to a later delete event */
        create_ok(t, TOKEN_SETTINGS("stream=true", "check_instance=false"));
        assert_int_equal(parse_fixture(t, "1", NULL, "mastodon/tag-hoot.json"), 0);
        assert_int_equal(t->sink.n_posts, 1);
        char *post_id = strdup(t->sink.posts[0].id);
        cJSON *page = load_json("mastodon/tag-hoot.json");
        const char *local = cJSON_GetObjectItem(cJSON_GetArrayItem(page, 0), "id")->valuestring;

        assert_int_equal(event_feed(t, 0, "delete", local), 0);
        assert_int_equal(t->sink.n_deleted, 1);
        char key[300];
        snprintf(key, sizeof(key), "mastodon:%s", post_id);
        assert_string_equal(t->sink.deleted[0], key);
        /* unknown ids, other instances' and garbage */
        assert_int_equal(event_feed(t, 0, "delete", "99999999999"), 0);
        assert_int_equal(t->sink.n_deleted, 0);
        assert_int_equal(event_feed(t, 0, "delete", "not an id"), -EBADMSG);
        assert_int_equal(event_feed(t, 0, "delete", ""), -EBADMSG);
        assert_int_equal(event_feed(t, 0, "update", "{\"id\":"), -EBADMSG);
        assert_int_equal(t->sink.n_posts, 0);
        assert_int_equal(event_feed(t, 0, "update", "[]"), -EBADMSG);
        /* no event type: nothing */
        assert_int_equal(P->source->parse_event(t->state, 0, NULL, "x", 1, &t->sink), 0);
        cJSON_Delete(page);
        free(post_id);
}

static void test_stream_cursor(void **state) {
        T *t = *state;
        cJSON *page = load_json("mastodon/tag-hoot.json");
        cJSON *st = cJSON_DetachItemFromArray(page, 0);
        cJSON_Delete(page);

        create_ok(t, TOKEN_SETTINGS("stream=true"));
        /* the committed cursor, with the instance check's time, as REST left it */
        build(t, 0, "min=100;checked=1785592555", NULL);
        cJSON_ReplaceItemInObject(st, "id", cJSON_CreateString("117020580000000000"));
        char *body = cJSON_PrintUnformatted(st);
        assert_int_equal(event_feed(t, 0, "update", body), 0);
        assert_int_equal(t->sink.n_cursor, 1);
        assert_string_equal(t->sink.cursor, "min=117020580000000000;checked=1785592555");
        free(body);

        /* an older id (a late remote status) does not move it back */
        cJSON_ReplaceItemInObject(st, "id", cJSON_CreateString("99999999999999999"));
        body = cJSON_PrintUnformatted(st);
        assert_int_equal(event_feed(t, 0, "update", body), 0);
        assert_int_equal(t->sink.n_posts, 1);
        assert_int_equal(t->sink.n_cursor, 0);
        free(body);

        /* an edit is an old status: emitted, the cursor stays */
        cJSON_ReplaceItemInObject(st, "id", cJSON_CreateString("117020590000000000"));
        cJSON_ReplaceItemInObject(st, "edited_at", cJSON_CreateString("2026-08-01T14:00:00Z"));
        body = cJSON_PrintUnformatted(st);
        assert_int_equal(event_feed(t, 0, "status.update", body), 0);
        assert_int_equal(t->sink.n_posts, 1);
        assert_int_equal(t->sink.posts[0].edited_usec, INT64_C(1785592800000000));
        assert_int_equal(t->sink.n_cursor, 0);
        /* a newer update moves it again, from where the stream left it */
        assert_int_equal(event_feed(t, 0, "update", body), 0);
        assert_string_equal(t->sink.cursor, "min=117020590000000000;checked=1785592555");
        free(body);
        cJSON_Delete(st);
}

static void test_stream_errors(void **state) {
        T *t = *state;

        create_ok(t, TOKEN_SETTINGS("stream=true"));
        expect_failure(t, 0, NULL, "stream", 401, "{\"error\":\"The access token is invalid\"}",
                       EARSHOT_BLOCKED, "access_token");
        assert_null(strstr(t->sink.error, "t0ken"));
        expect_failure(t, 0, NULL, "stream", 403, "{}", EARSHOT_BLOCKED, "read scope");
        expect_failure(t, 0, NULL, "stream", 404, "Not Found", EARSHOT_BLOCKED, "stream");
        expect_generic(t, 0, NULL, "stream", 500, "oops");
        expect_generic(t, 0, NULL, "stream", 429, "{}");
}

/* ---- search ---------------------------------------------------------------------------------- */

static void test_search_options(void **state) {
        T *t = *state;

        expect_rejected(t, SETTINGS("instances=http://localhost:3000", "search=acme broken"),
                        "access_token");
        expect_rejected(t,
                        SETTINGS("instances=http://localhost:3000", "search= ",
                                 "access_token=t0ken"),
                        "search:");
        create_ok(t, SETTINGS("instances=http://localhost:3000", "search=acme broken",
                              "search=acme broken", "search=\"acme\" refund",
                              "access_token=t0ken"));
        assert_string_equal(P->source->feed(t->state, 0),
                            "http://localhost:3000/api/v2/search?q=acme%20broken");
        assert_string_equal(P->source->feed(t->state, 1),
                            "http://localhost:3000/api/v2/search?q=%22acme%22%20refund");
        assert_null(P->source->feed(t->state, 2));
        /* searches do not stream */
        assert_int_equal(stream_req(t, 0, NULL), -EOPNOTSUPP);

        build(t, 0, NULL, NULL);
        assert_string_equal(t->req.url, "http://localhost:3000/api/v2/search?q=acme%20broken"
                                        "&type=statuses&resolve=false&limit=40");
        assert_true(req_has_header(t, "Authorization: Bearer t0ken"));
        build(t, 0, "116388107849695302", NULL);
        assert_string_equal(t->req.url, "http://localhost:3000/api/v2/search?q=acme%20broken"
                                        "&type=statuses&resolve=false&limit=40"
                                        "&min_id=116388107849695302");
        build(t, 0, "100", "2:116388107849695302:116388149027005349");
        assert_string_equal(t->req.url, "http://localhost:3000/api/v2/search?q=acme%20broken"
                                        "&type=statuses&resolve=false&limit=40&min_id=100"
                                        "&max_id=116388107849695302");
}

static void test_search_responses(void **state) {
        T *t = *state;

        create_ok(t, SETTINGS("instances=https://mastodon.social", "search=halcy",
                              "access_token=t0ken", "limit=2"));
        /* the first poll: the newest page only, oldest first, the cursor at the newest */
        assert_int_equal(parse_fixture(t, NULL, NULL, "mastodon/search-halcy.json"), 0);
        assert_int_equal(t->sink.n_posts, 2);
        assert_string_equal(t->sink.cursor, "116388149027005349");
        assert_int_equal(t->sink.n_page, 0);
        assert_true(strncmp(t->sink.posts[0].id, "https://", 8) == 0);

        /* a later poll with a full page: walk back with max_id, the cursor waits */
        assert_int_equal(parse_fixture(t, "100", NULL, "mastodon/search-halcy.json"),
                         EARSHOT_MORE);
        assert_int_equal(t->sink.n_cursor, 0);
        assert_string_equal(t->sink.page, "2:116388107849695302:116388149027005349");
        /* ... and set on the walk's last page */
        assert_int_equal(parse_fixture(t, "100", "2:116388107849695302:116388149027005349",
                                       "mastodon/search-statuses-empty.json"),
                         0);
        assert_int_equal(t->sink.n_posts, 0);
        assert_string_equal(t->sink.cursor, "116388149027005349");
        /* at max_pages the walk stops and says so */
        create_ok(t, SETTINGS("instances=https://mastodon.social", "search=halcy",
                              "access_token=t0ken", "limit=2", "max_pages=1"));
        assert_int_equal(parse_fixture(t, "100", NULL, "mastodon/search-halcy.json"), 0);
        assert_int_equal(t->sink.n_gaps, 1);
        assert_string_equal(t->sink.cursor, "116388149027005349");

        /* nothing new: no cursor */
        assert_int_equal(parse_fixture(t, "116388149027005349", NULL,
                                       "mastodon/search-statuses-empty.json"),
                         0);
        assert_int_equal(t->sink.n_cursor, 0);
        /* a server without full-text search: empty for words; said once on a first poll */
        assert_int_equal(parse_fixture(t, NULL, NULL, "mastodon/search-statuses-empty.json"), 0);
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_NOTICE, "full-text search"), 1);

        /* not a search result */
        assert_int_equal(parse(t, NULL, NULL, "[]"), -EBADMSG);
        assert_int_equal(parse(t, NULL, NULL, "{\"statuses\":{}}"), -EBADMSG);

        /* refusals block the feed with the explanation */
        expect_failure(t, 0, NULL, NULL, 401, "{\"error\":\"The access token is invalid\"}",
                       EARSHOT_BLOCKED, "full-text search needs a user token and a server with "
                                        "search enabled");
        expect_failure(t, 0, NULL, NULL, 422, "{\"error\":\"Search is disabled\"}",
                       EARSHOT_BLOCKED, "full-text search");
        expect_generic(t, 0, NULL, NULL, 503, "down");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_descriptor, setup, teardown),
                cmocka_unit_test_setup_teardown(test_feeds, setup, teardown),
                cmocka_unit_test_setup_teardown(test_create_accepts_loopback_http, setup, teardown),
                cmocka_unit_test_setup_teardown(test_create_rejects, setup, teardown),
                cmocka_unit_test_setup_teardown(test_request_first_poll, setup, teardown),
                cmocka_unit_test_setup_teardown(test_request_cursor_and_page, setup, teardown),
                cmocka_unit_test_setup_teardown(test_request_percent_encoding, setup, teardown),
                cmocka_unit_test_setup_teardown(test_request_access_token, setup, teardown),
                cmocka_unit_test_setup_teardown(test_parse_hashtag_timeline, setup, teardown),
                cmocka_unit_test_setup_teardown(test_parse_public_timeline, setup, teardown),
                cmocka_unit_test_setup_teardown(test_parse_status_example, setup, teardown),
                cmocka_unit_test_setup_teardown(test_parse_reblog, setup, teardown),
                cmocka_unit_test_setup_teardown(test_parse_spoiler_and_fallbacks, setup, teardown),
                cmocka_unit_test_setup_teardown(test_cursor_order, setup, teardown),
                cmocka_unit_test_setup_teardown(test_paging, setup, teardown),
                cmocka_unit_test_setup_teardown(test_first_poll_does_not_page, setup, teardown),
                cmocka_unit_test_setup_teardown(test_max_pages, setup, teardown),
                cmocka_unit_test_setup_teardown(test_garbage, setup, teardown),
                cmocka_unit_test_setup_teardown(test_wrong_types, setup, teardown),
                cmocka_unit_test_setup_teardown(test_account_feeds, setup, teardown),
                cmocka_unit_test_setup_teardown(test_account_lookup, setup, teardown),
                cmocka_unit_test_setup_teardown(test_account_lookup_failures, setup, teardown),
                cmocka_unit_test_setup_teardown(test_account_paging, setup, teardown),
                cmocka_unit_test_setup_teardown(test_account_reblog, setup, teardown),
                cmocka_unit_test_setup_teardown(test_cursor_fields, setup, teardown),
                cmocka_unit_test_setup_teardown(test_probe_public, setup, teardown),
                cmocka_unit_test_setup_teardown(test_probe_disabled, setup, teardown),
                cmocka_unit_test_setup_teardown(test_probe_authenticated, setup, teardown),
                cmocka_unit_test_setup_teardown(test_probe_absent, setup, teardown),
                cmocka_unit_test_setup_teardown(test_probe_recheck, setup, teardown),
                cmocka_unit_test_setup_teardown(test_error_probe, setup, teardown),
                cmocka_unit_test_setup_teardown(test_error_timeline, setup, teardown),
                cmocka_unit_test_setup_teardown(test_error_lookup, setup, teardown),
                cmocka_unit_test_setup_teardown(test_tokens, setup, teardown),
                cmocka_unit_test_setup_teardown(test_edits_and_replies, setup, teardown),
                cmocka_unit_test_setup_teardown(test_json_depth, setup, teardown),
                cmocka_unit_test_setup_teardown(test_stream_options, setup, teardown),
                cmocka_unit_test_setup_teardown(test_stream_recorded_events, setup, teardown),
                cmocka_unit_test_setup_teardown(test_stream_delete_after_rest, setup, teardown),
                cmocka_unit_test_setup_teardown(test_stream_cursor, setup, teardown),
                cmocka_unit_test_setup_teardown(test_stream_errors, setup, teardown),
                cmocka_unit_test_setup_teardown(test_search_options, setup, teardown),
                cmocka_unit_test_setup_teardown(test_search_responses, setup, teardown),
        };
        source_test_defaults = no_instance_check;
        return cmocka_run_group_tests_name("source-mastodon", tests, NULL, NULL);
}
