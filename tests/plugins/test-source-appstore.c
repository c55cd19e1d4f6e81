/* SPDX-License-Identifier: MIT */
/*
 * test-source-appstore.c - the appstore source against App Store customer-review feeds written
 * from the documented format (tests/fixtures/appstore/, see PROVENANCE.md there): options,
 * feed names, request URLs, reviews field by field with their star rating, the (time, id)
 * cursor, the walk over pages with its end and its gaps, the feed's quirks (metadata entry, no
 * "entry", a single object), error answers (parse_error: an app or store Apple does not
 * have), and bodies that are broken or of the wrong shape.
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

#define LOCAL SETTINGS("apps=1234567890", "base_url=http://localhost:8081")
#define SEC INT64_C(1000000)

/* review k of the fixtures: updated 2026-08-01T13:55:00Z minus 10 minutes a step */
#define T(k) ((INT64_C(1785592500) - 600 * (k)) * SEC)
#define ID(k) (INT64_C(14600000050) - (k))

typedef SourceTest TS;

static void post_id(char *buf, size_t len, int64_t id) {
        (void)snprintf(buf, len, "appstore:%lld", (long long)id);
}

static void test_descriptor(void **state) {
        expect_source_descriptor("appstore");

        size_t n = 0;
        for (const struct earshot_option *o = P->options; o->name; o++, n++) {
                assert_true(o->description && strlen(o->description) > 20);
                assert_false(o->flags & EARSHOT_OPT_SECRET);
                assert_int_equal(!!(o->flags & EARSHOT_OPT_REQUIRED), strcmp(o->name, "apps") == 0);
        }
        assert_int_equal(n, 4);
}

static void test_feeds(void **state) {
        TS *t = *state;

        /* default storefront: us */
        create_ok(t, SETTINGS("apps=1234567890", "apps=id1234567890", "apps=ID284882215"));
        assert_string_equal(P->source->feed(t->state, 0), "us/id1234567890");
        assert_string_equal(P->source->feed(t->state, 1), "us/id284882215");
        assert_null(P->source->feed(t->state, 2));

        create_ok(t, SETTINGS("apps=1234567890", "apps=284882215", "countries=US", "countries=gb",
                              "countries=us"));
        assert_string_equal(P->source->feed(t->state, 0), "us/id1234567890");
        assert_string_equal(P->source->feed(t->state, 1), "gb/id1234567890");
        assert_string_equal(P->source->feed(t->state, 2), "us/id284882215");
        assert_string_equal(P->source->feed(t->state, 3), "gb/id284882215");
        assert_null(P->source->feed(t->state, 4));
        assert_null(P->source->feed(t->state, UINT32_MAX));
}

static void test_create_rejects(void **state) {
        TS *t = *state;

        expect_rejected(t, SETTINGS("countries=us"), "apps");
        expect_rejected(t, SETTINGS("apps=acme"), "apps: 'acme' is not an app id");
        expect_rejected(t, SETTINGS("apps=0123"), "not an app id");
        expect_rejected(t, SETTINGS("apps=id"), "not an app id");
        expect_rejected(t, SETTINGS("apps=1234567890123456"), "not an app id");
        expect_rejected(t, SETTINGS("apps=1", "countries=usa"), "countries: 'usa' is not");
        expect_rejected(t, SETTINGS("apps=1", "countries=u1"), "two-letter");
        expect_rejected(t, SETTINGS("apps=1", "max_pages=11"),
                        "max_pages: 11 is out of range 1..10");
        expect_rejected(t, SETTINGS("apps=1", "max_pages=0"), "max_pages");
        expect_rejected(t, SETTINGS("apps=1", "base_url=http://itunes.apple.com"), "https://");
}

static void test_requests(void **state) {
        TS *t = *state;

        create_ok(t, SETTINGS("apps=1234567890", "countries=de"));
        build(t, 0, NULL, NULL);
        assert_string_equal(t->req.method, "GET");
        assert_string_equal(t->req.url, "https://itunes.apple.com/de/rss/customerreviews/page=1/"
                                        "id=1234567890/sortby=mostrecent/json");
        assert_string_equal(mock_request_header(&t->req, "Accept"), "application/json");
        build(t, 0, "2026-08-01T13:55:00.000Z#14600000050", "3:1785592500000000:14600000050");
        assert_string_equal(t->req.url, "https://itunes.apple.com/de/rss/customerreviews/page=3/"
                                        "id=1234567890/sortby=mostrecent/json");

        static const char *const bad[] = {"junk",   "1:5:5", "11:5:5",
                                          "2:5",    "2::5",  "2:5:x",
                                          "2:-5:5", "",      "2:5:123456789012345678901"};
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                mock_request_done(&t->req);
                mock_request_init(&t->req);
                assert_int_equal(P->source->build_request(t->state, 0, NULL, bad[i], &t->req),
                                 -EINVAL);
        }
        assert_int_equal(P->source->build_request(t->state, 1, NULL, NULL, &t->req), -EINVAL);
}

static void test_first_poll(void **state) {
        TS *t = *state;
        char id[64];

        create_ok(t, LOCAL);
        mock_host_clear_logs(&t->mh);
        assert_int_equal(parse_fixture(t, NULL, NULL, "appstore/page1-full.json"), 0);
        /* 50 reviews; the app's own entry is not one, and not worth a warning */
        assert_int_equal(t->sink.n_posts, 50);
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_WARNING, ""), 0);
        assert_int_equal(t->sink.n_page, 0);
        assert_int_equal(t->sink.n_gaps, 0);
        assert_string_equal(t->sink.cursor, "2026-08-01T13:55:00.000Z#14600000050");

        /* oldest first */
        for (size_t i = 0; i < 50; i++) {
                post_id(id, sizeof(id), ID(49 - (int64_t)i));
                assert_string_equal(t->sink.posts[i].id, id);
                assert_int_equal(t->sink.posts[i].created_usec, T(49 - (int64_t)i));
        }

        const struct earshot_post *p = &t->sink.posts[49];
        assert_string_equal(p->id, "appstore:14600000050");
        assert_string_equal(p->network, "appstore");
        assert_int_equal(p->rating, 1);
        assert_string_equal(p->title, "Charged twice, no refund");
        assert_string_equal(p->text, "Acme billed my card twice for the annual plan and support "
                                     "has not answered in a week. I want my money back.");
        assert_string_equal(p->author_handle, "angry_in_ohio");
        assert_string_equal(p->author_name, "angry_in_ohio");
        assert_int_equal(p->author_followers, -1);
        assert_null(p->lang);
        assert_string_equal(
                p->url, "https://itunes.apple.com/us/review?id=1234567890&type=Purple%20Software");
        assert_int_equal(p->created_usec, T(0));
        assert_int_equal(p->likes, 0);
        assert_int_equal(p->replies, -1);
        assert_int_equal(p->reposts, -1);
        assert_null(p->reply_to);
        assert_int_equal(p->edited_usec, 0);

        /* plain text stays as written: line breaks, non-ASCII, emoji */
        p = &t->sink.posts[47];
        assert_int_equal(p->rating, 2);
        assert_string_equal(p->text, "Since the last update the app crashes every time I open it "
                                     "on my iPhone 15.\nReinstalling did not help.");
        assert_int_equal(p->likes, 2);
        p = &t->sink.posts[44];
        assert_string_equal(p->title, "Login loop \xf0\x9f\x98\xa1");
        assert_string_equal(p->author_handle, "Ren\xc3\xa9"
                                              "e");
        p = &t->sink.posts[40];
        assert_int_equal(p->rating, 5);
        assert_string_equal(p->author_name, "\xd0\x90\xd0\xbd\xd0\xbd\xd0\xb0");
}

static void test_meets_cursor(void **state) {
        TS *t = *state;

        /* the cursor is review 10: reviews 0..9 are new */
        create_ok(t, LOCAL);
        assert_int_equal(parse_fixture(t, "2026-08-01T12:15:00.000Z#14600000040", NULL,
                                       "appstore/page1-full.json"),
                         0);
        assert_int_equal(t->sink.n_posts, 10);
        assert_string_equal(t->sink.posts[0].id, "appstore:14600000041");
        assert_string_equal(t->sink.posts[9].id, "appstore:14600000050");
        assert_int_equal(t->sink.n_page, 0);
        assert_int_equal(t->sink.n_gaps, 0);
        assert_string_equal(t->sink.cursor, "2026-08-01T13:55:00.000Z#14600000050");

        /* nothing new */
        assert_int_equal(parse_fixture(t, "2026-08-01T13:55:00.000Z#14600000050", NULL,
                                       "appstore/page1-full.json"),
                         0);
        assert_int_equal(t->sink.n_posts, 0);
        assert_int_equal(t->sink.n_cursor, 0);

        /* a cursor from elsewhere is no cursor: page 1, as on the first poll */
        assert_int_equal(parse_fixture(t, "14600000040", NULL, "appstore/page1-full.json"), 0);
        assert_int_equal(t->sink.n_posts, 50);
        assert_int_equal(t->sink.n_page, 0);
}

static void test_walk(void **state) {
        TS *t = *state;

        /* the cursor is review 60, on page 2: page 1 is full and all new, so page on */
        create_ok(t, LOCAL);
        const char *cursor = "2026-08-01T03:55:00.000Z#14599999990";
        assert_int_equal(parse_fixture(t, cursor, NULL, "appstore/page1-full.json"), EARSHOT_MORE);
        assert_int_equal(t->sink.n_posts, 50);
        assert_int_equal(t->sink.n_cursor, 0); /* the cursor waits for the end of the walk */
        assert_string_equal(t->sink.page, "2:1785592500000000:14600000050");
        build(t, 0, cursor, t->sink.page);
        assert_string_equal(t->req.url, "http://localhost:8081/us/rss/customerreviews/page=2/"
                                        "id=1234567890/sortby=mostrecent/json");

        assert_int_equal(parse_fixture(t, cursor, "2:1785592500000000:14600000050",
                                       "appstore/page2-short.json"),
                         0);
        assert_int_equal(t->sink.n_posts, 10); /* reviews 50..59 */
        assert_string_equal(t->sink.posts[0].id, "appstore:14599999991");
        assert_string_equal(t->sink.posts[9].id, "appstore:14600000000");
        assert_int_equal(t->sink.n_page, 0);
        assert_int_equal(t->sink.n_gaps, 0);
        assert_string_equal(t->sink.cursor, "2026-08-01T13:55:00.000Z#14600000050");

        /* a short page is the end of the feed: done, no gap, even short of the cursor */
        assert_int_equal(parse_fixture(t, "2020-01-01T00:00:00.000Z#1",
                                       "2:1785592500000000:14600000050",
                                       "appstore/page2-short.json"),
                         0);
        assert_int_equal(t->sink.n_posts, 20);
        assert_int_equal(t->sink.n_gaps, 0);
        assert_string_equal(t->sink.cursor, "2026-08-01T13:55:00.000Z#14600000050");

        /* no reviews on a later page: done too */
        assert_int_equal(parse_fixture(t, "2020-01-01T00:00:00.000Z#1",
                                       "2:1785592500000000:14600000050", "appstore/empty.json"),
                         0);
        assert_int_equal(t->sink.n_posts, 0);
        assert_string_equal(t->sink.cursor, "2026-08-01T13:55:00.000Z#14600000050");
}

static void test_gaps(void **state) {
        TS *t = *state;

        /* max_pages used up: a gap from the cursor to the oldest review reached */
        create_ok(t, SETTINGS("apps=1234567890", "base_url=http://localhost:8081", "max_pages=1"));
        assert_int_equal(parse_fixture(t, "2026-07-01T00:00:00.000Z#14000000000", NULL,
                                       "appstore/page1-full.json"),
                         0);
        assert_int_equal(t->sink.n_page, 0);
        assert_int_equal(t->sink.n_gaps, 1);
        assert_int_equal(t->sink.gap_from_usec, INT64_C(1782864000) * SEC);
        assert_int_equal(t->sink.gap_to_usec, T(49));
        assert_string_equal(t->sink.gap_reason, "max_pages reached");
        assert_string_equal(t->sink.cursor, "2026-08-01T13:55:00.000Z#14600000050");

        /* page 10 is the last the feed has */
        create_ok(t, LOCAL);
        mock_host_clear_logs(&t->mh);
        assert_int_equal(parse_fixture(t, "2026-07-01T00:00:00.000Z#14000000000",
                                       "10:1785599999000000:14600000099",
                                       "appstore/page1-full.json"),
                         0);
        assert_int_equal(t->sink.n_gaps, 1);
        assert_string_equal(t->sink.gap_reason, "the App Store feed ends after 10 pages");
        assert_string_equal(t->sink.cursor, "2026-08-01T15:59:59.000Z#14600000099");
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_INFO, "stopped after 10 pages"),
                         1);

        /* a host without report_gap: a warning instead */
        t->mh.host.size = offsetof(struct earshot_host, report_gap);
        assert_int_equal(parse_fixture(t, "2026-07-01T00:00:00.000Z#14000000000",
                                       "10:1785599999000000:14600000099",
                                       "appstore/page1-full.json"),
                         0);
        assert_int_equal(t->sink.n_gaps, 0);
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_WARNING, "may be missed"), 1);
}

static void test_order_ties_edits(void **state) {
        TS *t = *state;
        static const char body[] = "{\"feed\":{\"entry\":["
                                   "{\"id\":{\"label\":\"7\"},\"im:rating\":{\"label\":\"2\"},"
                                   " \"updated\":{\"label\":\"2026-08-01T07:00:00-07:00\"},"
                                   " \"content\":{\"label\":\"edited: still broken\"}},"
                                   "{\"id\":{\"label\":\"101\"},\"im:rating\":{\"label\":\"1\"},"
                                   " \"updated\":{\"label\":\"2026-08-01T06:00:00-07:00\"},"
                                   " \"content\":{\"label\":\"same second, newer\"}},"
                                   "{\"id\":{\"label\":\"100\"},\"im:rating\":{\"label\":\"1\"},"
                                   " \"updated\":{\"label\":\"2026-08-01T06:00:00-07:00\"},"
                                   " \"content\":{\"label\":\"the cursor\"}}"
                                   "]}}";

        create_ok(t, LOCAL);
        assert_int_equal(parse(t, "2026-08-01T13:00:00.000Z#100", NULL, body), 0);
        /* 101 shares the cursor's second but is newer; 7 was edited since: both new */
        assert_int_equal(t->sink.n_posts, 2);
        assert_string_equal(t->sink.posts[0].id, "appstore:101");
        assert_string_equal(t->sink.posts[1].id, "appstore:7");
        assert_string_equal(t->sink.cursor, "2026-08-01T14:00:00.000Z#7");
        assert_int_equal(t->sink.n_page, 0); /* a short page */
}

static void test_quirks(void **state) {
        TS *t = *state;

        /* a single review as an object */
        create_ok(t, LOCAL);
        assert_int_equal(parse_fixture(t, NULL, NULL, "appstore/single.json"), 0);
        assert_int_equal(t->sink.n_posts, 1);
        assert_string_equal(t->sink.posts[0].id, "appstore:14600000050");
        assert_int_equal(t->sink.posts[0].rating, 1);

        /* no "entry" at all: no reviews yet; the cursor waits for the first */
        assert_int_equal(parse_fixture(t, NULL, NULL, "appstore/empty.json"), 0);
        assert_int_equal(t->sink.n_posts, 0);
        assert_int_equal(t->sink.n_cursor, 0);
        assert_int_equal(parse(t, NULL, NULL, "{\"feed\":{\"entry\":null}}"), 0);
        assert_int_equal(t->sink.n_posts, 0);

        /* the 2016-2018 JSON had no `updated`: ids alone order the feed */
        cJSON *doc = load_json("appstore/page1-full.json");
        cJSON *e;
        cJSON_ArrayForEach(e, cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "feed"), "entry"))
                cJSON_DeleteItemFromObject(e, "updated");
        assert_int_equal(parse_json(t, NULL, NULL, doc), 0);
        assert_int_equal(t->sink.n_posts, 50);
        assert_int_equal(t->sink.posts[0].created_usec, 0);
        assert_string_equal(t->sink.cursor, "#14600000050");
        assert_int_equal(parse_json(t, "#14600000045", NULL, doc), 0);
        assert_int_equal(t->sink.n_posts, 5);
        assert_string_equal(t->sink.posts[0].id, "appstore:14600000046");
        assert_int_equal(t->sink.n_page, 0);
        cJSON_Delete(doc);
}

static void expect_bad(TS *t, const char *body, size_t len) {
        expect_bad_feed(t, 0, "2026-08-01T12:15:00.000Z#14600000040", body, len);
}

static void test_garbage(void **state) {
        TS *t = *state;
        size_t len;
        char *body = mock_read_fixture("appstore/single.json", &len);

        create_ok(t, LOCAL);
        mock_host_clear_logs(&t->mh);
        for (size_t cut = 0; cut < len; cut += len / 37 + 1)
                expect_bad(t, body, cut);
        expect_bad(t, body, len - 2);
        assert_true(mock_host_count_logs(&t->mh, EARSHOT_LOG_ERR, "not valid JSON") > 30);
        free(body);

#define BAD(s) expect_bad(t, s, sizeof(s) - 1)
        BAD("");
        BAD("null");
        BAD("[]");
        BAD("{}");
        BAD("{\"feed\":[]}");
        BAD("{\"feed\":\"x\"}");
        BAD("{\"feed\":{\"entry\":\"x\"}}");
        BAD("{\"feed\":{\"entry\":7}}");
        BAD("{\"feed\":{}} {}");
        BAD("{\"feed\":{\0}}");
        BAD("<?xml version=\"1.0\"?><feed/>");
#undef BAD

        char *deep = malloc(200001);
        assert_non_null(deep);
        memset(deep, '[', 200000);
        deep[200000] = 0;
        expect_bad(t, deep, 200000);
        free(deep);

        size_t cap = 1001 * 40 + 64, k = 0;
        char *many = malloc(cap);
        assert_non_null(many);
        k += (size_t)snprintf(many + k, cap - k, "{\"feed\":{\"entry\":[");
        for (int i = 0; i < 1001; i++)
                k += (size_t)snprintf(many + k, cap - k, "%s{\"id\":{\"label\":\"%d\"}}",
                                      i ? "," : "", i + 1);
        k += (size_t)snprintf(many + k, cap - k, "]}}");
        expect_bad(t, many, k);
        free(many);
}

static void test_wrong_types(void **state) {
        TS *t = *state;
        static const char body[] =
                "{\"feed\":{\"entry\":[1, \"str\", null, [], {\"im:rating\":null},"
                "{\"id\":{\"label\":\"abc\"},\"im:rating\":{\"label\":\"1\"},"
                " \"content\":{\"label\":\"x\"}},"
                "{\"id\":{\"label\":11},\"im:rating\":{\"label\":\"1\"},\"content\":{\"label\":"
                "\"x\"}},"
                "{\"id\":{\"label\":\"12\"},\"im:rating\":{\"label\":\"6\"},\"content\":{\"label\":"
                "\"x\"}},"
                "{\"id\":{\"label\":\"13\"},\"im:rating\":{\"label\":\"0\"},\"content\":{\"label\":"
                "\"x\"}},"
                "{\"id\":{\"label\":\"14\"},\"im:rating\":3,\"content\":{\"label\":\"x\"}},"
                "{\"id\":{\"label\":\"15\"},\"im:rating\":{\"label\":\"3\"}},"
                "{\"id\":{\"label\":\"16\"},\"im:rating\":{\"label\":\"3\"},\"content\":7},"
                "{\"id\":{\"label\":\"20\"},\"im:rating\":{\"label\":\"4\"},"
                " \"content\":[{\"label\":\"<b>html</b>\",\"attributes\":{\"type\":\"html\"}},"
                "              {\"label\":\"plain <3\",\"attributes\":{\"type\":\"text\"}}],"
                " \"title\":{\"label\":7},\"author\":{\"name\":\"x\"},\"updated\":{\"label\":"
                "\"soon\"},"
                " \"link\":{\"attributes\":{\"href\":\"javascript:alert(1)\"}},"
                " \"im:voteSum\":{\"label\":\"-3\"}},"
                "{\"id\":{\"label\":\"21\"},\"im:rating\":{\"label\":\"5\"},"
                " \"content\":{\"label\":\"\"},\"author\":{\"name\":{\"label\":\"\"}},"
                " \"updated\":{\"label\":\"2026-02-30T00:00:00Z\"},\"im:voteSum\":{\"label\":"
                "\"1e3\"}}"
                "]}}";

        create_ok(t, SETTINGS("apps=1234567890", "countries=gb", "base_url=http://localhost:8081"));
        mock_host_clear_logs(&t->mh);
        assert_int_equal(parse(t, NULL, NULL, body), 0);
        assert_int_equal(t->sink.n_posts, 2);

        const struct earshot_post *p = find_post(t, "appstore:20");
        assert_string_equal(p->text, "plain <3");
        assert_int_equal(p->rating, 4);
        assert_null(p->title);
        assert_null(p->author_handle);
        assert_int_equal(p->created_usec, 0);
        assert_int_equal(p->likes, -1);
        /* no usable link: the app's review page */
        assert_string_equal(p->url, "https://apps.apple.com/gb/app/id1234567890?see-all=reviews");

        p = find_post(t, "appstore:21");
        assert_string_equal(p->text, "");
        assert_null(p->author_name);
        assert_int_equal(p->created_usec, 0);
        assert_int_equal(p->likes, -1);

        /* 4 non-objects and 7 bad reviews; {"im:rating":null} is a review without an id */
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_WARNING, "skipped 12 of 14"), 1);
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_ERR, ""), 0);
        assert_string_equal(t->sink.cursor, "#21");
}

/* parse_error(): an app or a store Apple does not have, after a few polls to be sure. */
static void test_parse_error(void **state) {
        TS *t = *state;
        int r;

        create_ok(t, SETTINGS("apps=1234567890", "countries=us", "countries=DE",
                              "base_url=http://localhost:8081"));
        mock_host_clear_logs(&t->mh);
        /* page 1 answering 404: retried twice (Apple 404s now and then for apps that exist) */
        for (int k = 0; k < 2; k++) {
                r = error_response(t, NULL, NULL, 404, "");
                expect_explained(t, r, EARSHOT_RETRY,
                                 "Apple's review feed answered HTTP 404 for app 1234567890 in "
                                 "the US store: no such app there? Check `apps` and "
                                 "`countries`");
        }
        /* the third in a row: blocked */
        r = error_response(t, "#14600000050", NULL, 404, "");
        expect_explained(t, r, EARSHOT_BLOCKED,
                         "no app 1234567890 in the US store (HTTP 404 for 3 polls in a row): "
                         "check `apps` and `countries`");
        r = error_response(t, NULL, NULL, 400, "<html></html>");
        expect_explained(t, r, EARSHOT_BLOCKED, "no app 1234567890 in the US store (HTTP 400");
        /* each feed counts its own */
        expect_failure(t, 1, NULL, NULL, 400, "", EARSHOT_RETRY, "in the DE store");
        /* an answer resets the count */
        assert_int_equal(parse_fixture(t, NULL, NULL, "appstore/single.json"), 0);
        expect_failure(t, 0, NULL, NULL, 404, "", EARSHOT_RETRY, "no such app there?");
        /* a later page: retried, the walk starts over */
        expect_failure(t, 0, "#14600000000", "2:1785592500000000:14600000050", 404, "",
                       EARSHOT_RETRY,
                       "page 2 of the reviews of app 1234567890 in the US store answered HTTP "
                       "404; the next poll starts over");
        assert_int_equal(error_response(t, NULL, "junk", 404, ""), -EINVAL);
        /* the rest is the core's */
        expect_generic(t, 0, NULL, NULL, 403, "");
        expect_generic(t, 0, NULL, NULL, 429, "");
        expect_generic(t, 0, NULL, NULL, 502, "<html>Bad Gateway</html>");
        assert_int_equal(mock_host_count_logs(&t->mh, -1, ""), 0);
        assert_int_equal(P->source->parse_error(t->state, 2, NULL, NULL,
                                                &(struct earshot_response){.size = 1}, &t->sink),
                         -EINVAL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_descriptor, setup, teardown),
                cmocka_unit_test_setup_teardown(test_feeds, setup, teardown),
                cmocka_unit_test_setup_teardown(test_create_rejects, setup, teardown),
                cmocka_unit_test_setup_teardown(test_requests, setup, teardown),
                cmocka_unit_test_setup_teardown(test_first_poll, setup, teardown),
                cmocka_unit_test_setup_teardown(test_meets_cursor, setup, teardown),
                cmocka_unit_test_setup_teardown(test_walk, setup, teardown),
                cmocka_unit_test_setup_teardown(test_gaps, setup, teardown),
                cmocka_unit_test_setup_teardown(test_order_ties_edits, setup, teardown),
                cmocka_unit_test_setup_teardown(test_quirks, setup, teardown),
                cmocka_unit_test_setup_teardown(test_garbage, setup, teardown),
                cmocka_unit_test_setup_teardown(test_wrong_types, setup, teardown),
                cmocka_unit_test_setup_teardown(test_parse_error, setup, teardown),
        };
        return cmocka_run_group_tests_name("source-appstore", tests, NULL, NULL);
}
