/* SPDX-License-Identifier: MIT */
/*
 * test-source-stackexchange.c - the stackexchange source against Stack Exchange API 2.3
 * responses written from the documented format (tests/fixtures/stackexchange/, see
 * PROVENANCE.md there): options, feed names, request URLs and the key header, questions field
 * by field, the cursor and its overlap, paging (pages read again, walks cut short and resumed),
 * the body's backoff and quota, error bodies with any status (parse_error), and bodies that are
 * broken or of the wrong shape.
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

#define LOCAL SETTINGS("sites=stackoverflow", "queries=acme", "base_url=http://127.0.0.1:8080")
#define API "http://127.0.0.1:8080/2.3/search/advanced?site=stackoverflow&q=acme"
#define SEC INT64_C(1000000)

typedef SourceTest T;

static void test_descriptor(void **state) {
        expect_source_descriptor("stackexchange");

        size_t n = 0;
        bool key_secret = false;
        for (const struct earshot_option *o = P->options; o->name; o++, n++) {
                assert_true(o->description && strlen(o->description) > 20);
                if (strcmp(o->name, "key") == 0)
                        key_secret = o->flags & EARSHOT_OPT_SECRET;
                else
                        assert_false(o->flags & EARSHOT_OPT_SECRET);
                assert_int_equal(!!(o->flags & EARSHOT_OPT_REQUIRED),
                                 strcmp(o->name, "sites") == 0);
        }
        assert_int_equal(n, 8);
        assert_true(key_secret);
}

static void test_feeds(void **state) {
        T *t = *state;

        create_ok(t, SETTINGS("sites=StackOverflow", "sites=superuser", "sites=stackoverflow",
                              "queries=acme", "queries= acme ", "queries=\"acme plus\""));
        assert_string_equal(P->source->feed(t->state, 0), "stackoverflow?q=acme");
        assert_string_equal(P->source->feed(t->state, 1), "stackoverflow?q=\"acme plus\"");
        assert_string_equal(P->source->feed(t->state, 2), "superuser?q=acme");
        assert_string_equal(P->source->feed(t->state, 3), "superuser?q=\"acme plus\"");
        assert_null(P->source->feed(t->state, 4));
        assert_null(P->source->feed(t->state, UINT32_MAX));

        /* no queries: every question of the site */
        create_ok(t, SETTINGS("sites=ru.stackoverflow", "tagged=acme-sdk"));
        assert_string_equal(P->source->feed(t->state, 0), "ru.stackoverflow");
        assert_null(P->source->feed(t->state, 1));
}

static void test_create_rejects(void **state) {
        T *t = *state;

        expect_rejected(t, SETTINGS("queries=acme"), "sites");
        expect_rejected(t, SETTINGS("sites=stack overflow"), "'stack overflow' is not a site");
        expect_rejected(t, SETTINGS("sites=so&key=x"), "is not a site");
        expect_rejected(t, SETTINGS("sites=.so"), "is not a site");
        expect_rejected(t, SETTINGS("sites=so", "queries="), "queries: '' is empty");
        expect_rejected(t, SETTINGS("sites=so", "tagged=c sharp"), "tagged: 'c sharp'");
        expect_rejected(t, SETTINGS("sites=so", "tagged=a;b"), "not a tag");
        expect_rejected(t,
                        SETTINGS("sites=so", "tagged=a", "tagged=b", "tagged=c", "tagged=d",
                                 "tagged=e", "tagged=f"),
                        "5 tags at most");
        expect_rejected(t, SETTINGS("sites=so", "filter=with body"), "filter");
        expect_rejected(t, SETTINGS("sites=so", "key=ab cd s3cret"), "key: not an app key");
        assert_null(strstr(t->err, "s3cret"));
        expect_rejected(t, SETTINGS("sites=so", "max_pages=0"),
                        "max_pages: 0 is out of range 1..25");
        expect_rejected(t, SETTINGS("sites=so", "max_pages=26"), "max_pages");
        expect_rejected(t, SETTINGS("sites=so", "overlap=2d"), "overlap");
        expect_rejected(t, SETTINGS("sites=so", "base_url=http://api.stackexchange.com"),
                        "base_url: 'http://api.stackexchange.com' must use https://");
}

static void test_requests(void **state) {
        T *t = *state;

        /* the first poll: newest first, no fromdate, no key */
        create_ok(t, SETTINGS("sites=stackoverflow", "queries=acme \"sdk\"", "tagged=Acme-SDK",
                              "tagged=c#"));
        build(t, 0, NULL, NULL);
        assert_string_equal(t->req.method, "GET");
        assert_string_equal(t->req.url,
                            "https://api.stackexchange.com/2.3/search/advanced?site=stackoverflow"
                            "&q=acme%20%22sdk%22&tagged=acme-sdk%3Bc%23&sort=creation&order=desc"
                            "&pagesize=100&filter=withbody");
        assert_string_equal(mock_request_header(&t->req, "Accept"), "application/json");
        assert_null(mock_request_header(&t->req, "Authorization"));

        /* later polls: oldest first from the cursor minus the overlap (2m) */
        create_ok(t,
                  SETTINGS("sites=stackoverflow", "queries=acme", "base_url=http://127.0.0.1:8080/",
                           "key=Ab1(xyz)", "filter=!nNPvSNdWme"));
        build(t, 0, "1785592600", NULL);
        assert_string_equal(t->req.url, API "&sort=creation&order=asc&fromdate=1785592480"
                                            "&pagesize=100&filter=%21nNPvSNdWme");
        /* the key goes in the header, never in the URL */
        assert_string_equal(mock_request_header(&t->req, "Authorization"), "Bearer Ab1(xyz)");
        assert_null(strstr(t->req.url, "Ab1"));
        assert_null(strstr(P->source->feed(t->state, 0), "Ab1"));

        /* a page token fixes the walk's fromdate, whatever the cursor is by then */
        build(t, 0, "1785592800;resume", "3:1785592480:2:1785592700");
        assert_string_equal(t->req.url, API "&sort=creation&order=asc&fromdate=1785592480"
                                            "&page=3&pagesize=100&filter=%21nNPvSNdWme");
        /* after a walk cut short: on from the cursor itself, no overlap */
        build(t, 0, "1785592600;resume", NULL);
        assert_string_equal(t->req.url, API "&sort=creation&order=asc&fromdate=1785592600"
                                            "&pagesize=100&filter=%21nNPvSNdWme");

        /* overlap 0s: from the cursor itself (fromdate is inclusive: ties are read again) */
        create_ok(t, SETTINGS("sites=stackoverflow", "queries=acme",
                              "base_url=http://127.0.0.1:8080", "overlap=0s"));
        build(t, 0, "1785592600", NULL);
        assert_non_null(strstr(t->req.url, "&fromdate=1785592600&"));
        /* a cursor this plugin did not write: start afresh */
        build(t, 0, "yesterday", NULL);
        assert_non_null(strstr(t->req.url, "&order=desc"));
        build(t, 0, "50", NULL);
        assert_non_null(strstr(t->req.url, "&fromdate=50&"));
        build(t, 0, "resume", NULL);
        assert_non_null(strstr(t->req.url, "&order=desc"));
        build(t, 0, "5;resume;resume", NULL);
        assert_non_null(strstr(t->req.url, "&order=desc"));
        build(t, 0, "1785592600;Resume", NULL);
        assert_non_null(strstr(t->req.url, "&order=desc"));

        /* tokens: "N:FROMDATE:COUNTED:PREV", N up to the core's 50 requests, COUNTED below N */
        build(t, 0, NULL, "50:5:49:7");
        assert_non_null(strstr(t->req.url, "&fromdate=5&page=50&"));
        static const char *const bad[] = {"junk",         "1:5:0:0",  "51:5:0:0", "2:5:2:0",
                                          "2:5:0",        "2:5:0:0:", "2:5x:0:0", "2:-5:0:0",
                                          "3:1785592480", ":5:0:0",   "2::0:0",   ""};
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                mock_request_done(&t->req);
                mock_request_init(&t->req);
                assert_int_equal(P->source->build_request(t->state, 0, NULL, bad[i], &t->req),
                                 -EINVAL);
        }
        assert_int_equal(P->source->build_request(t->state, 1, NULL, NULL, &t->req), -EINVAL);
}

static void test_first_poll(void **state) {
        T *t = *state;

        create_ok(t, LOCAL);
        assert_int_equal(parse_fixture(t, NULL, NULL, "stackexchange/search-first.json"), 0);
        assert_int_equal(t->sink.n_posts, 3);
        assert_int_equal(t->sink.n_page, 0); /* the first poll takes the newest page only */
        assert_int_equal(t->sink.backoff_usec, 0);
        assert_string_equal(t->sink.cursor, "1785592600");

        /* oldest first */
        assert_string_equal(t->sink.posts[0].id, "stackoverflow/q/79700001");
        assert_string_equal(t->sink.posts[1].id, "stackoverflow/q/79700002");
        assert_string_equal(t->sink.posts[2].id, "stackoverflow/q/79700003");

        const struct earshot_post *p = &t->sink.posts[2];
        assert_string_equal(p->network, "stackexchange");
        assert_string_equal(p->url, "https://stackoverflow.com/questions/79700003/"
                                    "acme-sdk-crashes-on-startup-after-update");
        /* the API escapes entities in titles and names: decoded */
        assert_string_equal(p->title,
                            "Acme SDK \"crashes\" on startup after update & won't recover");
        assert_string_equal(p->author_handle, "O'Brien");
        assert_string_equal(p->author_name, "O'Brien");
        assert_int_equal(p->author_followers, -1); /* reputation is not a follower count */
        assert_null(p->lang);
        assert_int_equal(p->created_usec, 1785592600 * SEC);
        assert_int_equal(p->edited_usec, 0);
        assert_int_equal(p->likes, 0); /* score -2 */
        assert_int_equal(p->replies, 0);
        assert_int_equal(p->reposts, -1);
        assert_null(p->reply_to);
        assert_int_equal(p->rating, 0);
        assert_non_null(
                strstr(p->text, "Since updating to Acme SDK 4.2 my app crashes on startup:"));
        assert_non_null(strstr(p->text, "AcmeClient not initialised"));
        assert_non_null(strstr(p->text, "workaround <without> downgrading?"));

        p = &t->sink.posts[1];
        assert_string_equal(p->title, "Acme API returns 429 although quota is left");
        assert_int_equal(p->likes, 3);
        assert_int_equal(p->replies, 2);
        assert_int_equal(p->edited_usec, 1785592400 * SEC);
        assert_string_equal(p->author_handle, "dev_anna");

        p = &t->sink.posts[0];
        assert_string_equal(p->author_handle, "user24680099"); /* a deleted user */
        assert_string_equal(p->text, "Where do I set the proxy for the Acme SDK?");

        /* an empty first page starts the cursor at the present */
        assert_int_equal(parse_fixture(t, NULL, NULL, "stackexchange/empty.json"), 0);
        assert_int_equal(t->sink.n_posts, 0);
        assert_string_equal(t->sink.cursor, "1785592800");
}

static void test_later_poll_and_backoff(void **state) {
        T *t = *state;

        create_ok(t, LOCAL);
        mock_host_clear_logs(&t->mh);
        assert_int_equal(parse_fixture(t, "1785592600", NULL, "stackexchange/search-asc.json"), 0);
        assert_int_equal(t->sink.n_posts, 2);
        assert_string_equal(t->sink.posts[0].id, "stackoverflow/q/79700004");
        assert_string_equal(t->sink.posts[1].id, "stackoverflow/q/79700005");
        assert_string_equal(t->sink.posts[1].author_handle, "J\xc3\xbcrgen");
        assert_int_equal(t->sink.posts[1].likes, 1);
        /* "backoff": 10 -> a pause, and no next page although has_more: the walk stops
         * before its end, and the next poll goes on from the cursor */
        assert_string_equal(t->sink.cursor, "1785592800;resume");
        assert_int_equal(t->sink.backoff_usec, 10 * SEC);
        assert_int_equal(t->sink.n_page, 0);
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_INFO, "pause of 10 s"), 1);
}

/* A page of questions created at from, from + step, ... (count of them, ids from id). */
static cJSON *page_of(int64_t id, int64_t from, double step, int count, bool has_more) {
        cJSON *doc = cJSON_CreateObject(), *items = cJSON_AddArrayToObject(doc, "items");
        for (int k = 0; k < count; k++) {
                cJSON *q = cJSON_CreateObject();
                char title[64];
                (void)snprintf(title, sizeof(title), "Acme question %d", k);
                cJSON_AddNumberToObject(q, "question_id", (double)(id + k));
                cJSON_AddNumberToObject(q, "creation_date", (double)(from + (int64_t)(k * step)));
                cJSON_AddStringToObject(q, "title", title);
                cJSON_AddStringToObject(q, "body", "<p>acme</p>");
                cJSON_AddItemToArray(items, q);
        }
        cJSON_AddBoolToObject(doc, "has_more", has_more);
        cJSON_AddNumberToObject(doc, "quota_max", 10000);
        cJSON_AddNumberToObject(doc, "quota_remaining", 9000);
        return doc;
}

static void test_paging(void **state) {
        T *t = *state;
        cJSON *doc = load_json("stackexchange/search-asc.json");
        cJSON_DeleteItemFromObject(doc, "backoff");

        /* has_more: page on; every page moves the cursor, marked to resume should the walk
         * break off here */
        create_ok(t, SETTINGS("sites=stackoverflow", "queries=acme",
                              "base_url=http://127.0.0.1:8080", "max_pages=3"));
        assert_int_equal(parse_json(t, "1785592600", NULL, doc), EARSHOT_MORE);
        assert_string_equal(t->sink.page, "2:1785592480:1:1785592800");
        assert_string_equal(t->sink.cursor, "1785592800;resume");
        cJSON *later = page_of(79700010, 1785592900, 10, 2, true);
        assert_int_equal(parse_json(t, "1785592800;resume", "2:1785592480:1:1785592800", later),
                         EARSHOT_MORE);
        assert_string_equal(t->sink.page, "3:1785592480:2:1785592910");
        assert_string_equal(t->sink.cursor, "1785592910;resume");
        assert_int_equal(t->sink.n_posts, 2);

        /* a later page older than the page before: the server ignores page=; stop, and the
         * next poll goes on from the cursor */
        mock_host_clear_logs(&t->mh);
        assert_int_equal(parse_json(t, "1785592800;resume", "2:1785592480:1:1785592800", doc), 0);
        assert_int_equal(t->sink.n_page, 0);
        assert_int_equal(t->sink.n_cursor, 0);
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_WARNING, "page= ignored?"), 1);

        /* max_pages: stop; the next poll goes on from the cursor, no gap */
        mock_host_clear_logs(&t->mh);
        assert_int_equal(parse_json(t, "1785592800;resume", "3:1785592480:2:1785592800", later), 0);
        assert_int_equal(t->sink.n_page, 0);
        assert_int_equal(t->sink.n_gaps, 0);
        assert_string_equal(t->sink.cursor, "1785592910;resume");
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_INFO, "stopped after 3 requests"),
                         1);
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_WARNING, ""), 0);

        /* has_more false, or an empty page: the walk is complete */
        cJSON_ReplaceItemInObject(doc, "has_more", cJSON_CreateFalse());
        assert_int_equal(parse_json(t, "1785592600", NULL, doc), 0);
        assert_int_equal(t->sink.n_page, 0);
        assert_string_equal(t->sink.cursor, "1785592800");
        assert_int_equal(parse_json(t, "1785592800;resume", "2:1785592480:1:1785592800", doc), 0);
        assert_string_equal(t->sink.cursor, "1785592800");
        assert_int_equal(parse(t, "1785592600;resume", "2:1785592480:1:1785592600",
                               "{\"items\":[],\"has_more\":true,\"quota_remaining\":50}"),
                         0);
        assert_int_equal(t->sink.n_page, 0);
        assert_string_equal(t->sink.cursor, "1785592600");
        cJSON_Delete(later);
        cJSON_Delete(doc);
}

/*
 * More than a page of questions seen already inside the overlap (a burst, or a walk cut short
 * by max_pages): those pages are read through without counting toward max_pages, and the walk
 * reaches the new questions behind them. (It used to stop at page 2 with "no question after
 * the cursor", poll after poll, and the cursor never moved again.)
 */
static void test_pages_read_again(void **state) {
        T *t = *state;
        const int64_t cur = 1785592750; /* 300 questions at 4 a second from 1785592700 */

        create_ok(t, SETTINGS("sites=stackoverflow", "queries=acme",
                              "base_url=http://127.0.0.1:8080", "max_pages=1"));
        mock_host_clear_logs(&t->mh);
        build(t, 0, "1785592750", NULL);
        assert_non_null(strstr(t->req.url, "&fromdate=1785592630&"));

        cJSON *p1 = page_of(1, 1785592700, 0.25, 100, true);   /* 1785592700..724 */
        cJSON *p2 = page_of(101, 1785592725, 0.25, 100, true); /* 1785592725..749 */
        cJSON *p3 = page_of(201, 1785592750, 0.25, 100, true); /* 1785592750..774 */
        cJSON *p4 = page_of(301, 1785592775, 1, 3, false);
        assert_int_equal(parse_json(t, "1785592750", NULL, p1), EARSHOT_MORE);
        assert_string_equal(t->sink.page, "2:1785592630:0:1785592724");
        assert_string_equal(t->sink.cursor, "1785592750;resume");
        assert_int_equal(t->sink.n_posts, 100); /* the core drops what it has seen */
        build(t, 0, t->sink.cursor, "2:1785592630:0:1785592724");
        assert_non_null(strstr(t->req.url, "&fromdate=1785592630&page=2&"));
        assert_int_equal(parse_json(t, "1785592750;resume", "2:1785592630:0:1785592724", p2),
                         EARSHOT_MORE);
        assert_string_equal(t->sink.page, "3:1785592630:0:1785592749");
        assert_int_equal(t->sink.n_cursor, 0);
        /* page 3 holds new questions: it counts, and max_pages 1 stops the walk there */
        assert_int_equal(parse_json(t, "1785592750;resume", "3:1785592630:0:1785592749", p3), 0);
        assert_string_equal(t->sink.cursor, "1785592774;resume");
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_INFO, "stopped after 3 requests"),
                         1);
        (void)cur;

        /* the next poll goes on from the cursor itself: no overlap to read through again */
        build(t, 0, "1785592774;resume", NULL);
        assert_non_null(strstr(t->req.url, "&fromdate=1785592774&"));
        assert_null(strstr(t->req.url, "&page="));
        assert_int_equal(parse_json(t, "1785592774;resume", NULL, p4), 0);
        assert_string_equal(t->sink.cursor, "1785592777");
        assert_int_equal(t->sink.n_posts, 3);
        /* and the one after that, after a complete walk, re-reads the overlap again */
        build(t, 0, "1785592777", NULL);
        assert_non_null(strstr(t->req.url, "&fromdate=1785592657&"));
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_WARNING, ""), 0);

        /* a page of nothing new still pages on, but the walk ends at the core's cap */
        assert_int_equal(parse_json(t, "1785592800;resume", "50:1785592630:0:1785592699", p1), 0);
        assert_int_equal(t->sink.n_page, 0);
        assert_int_equal(
                mock_host_count_logs(&t->mh, EARSHOT_LOG_INFO, "stopped after 50 requests"), 1);
        cJSON_Delete(p1);
        cJSON_Delete(p2);
        cJSON_Delete(p3);
        cJSON_Delete(p4);
}

/* A warning about a server that ignores page= or fromdate= is given once, not every poll,
 * until a walk ends normally again; so is the one about a filter without bodies. */
static void test_warnings_once(void **state) {
        T *t = *state;
        cJSON *doc = load_json("stackexchange/search-asc.json");
        cJSON_DeleteItemFromObject(doc, "backoff");

        create_ok(t, LOCAL);
        mock_host_clear_logs(&t->mh);
        for (int k = 0; k < 3; k++)
                assert_int_equal(
                        parse_json(t, "1785592800;resume", "2:1785592480:1:1785592800", doc), 0);
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_WARNING, "page= ignored?"), 1);
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_DEBUG, "page= ignored?"), 2);
        /* another feed has its own */
        create_ok(t, SETTINGS("sites=stackoverflow", "queries=acme", "queries=widget"));
        mock_host_clear_logs(&t->mh);
        assert_int_equal(parse_json(t, "1785592800;resume", "2:1785592480:1:1785592800", doc), 0);
        struct earshot_response resp;
        char *body = cJSON_PrintUnformatted(doc);
        resp = mock_response(200, body, strlen(body));
        mock_sink_done(&t->sink);
        mock_sink_init(&t->sink);
        assert_int_equal(P->source->parse_response(t->state, 1, "1785592800;resume",
                                                   "2:1785592480:1:1785592800", &resp, &t->sink),
                         0);
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_WARNING, "page= ignored?"), 2);
        free(body);
        /* a walk that ends normally: the next time is worth a warning again */
        cJSON *last = page_of(9, 1785592900, 1, 2, false);
        assert_int_equal(parse_json(t, "1785592800;resume", NULL, last), 0);
        assert_int_equal(parse_json(t, "1785592800;resume", "2:1785592480:1:1785592800", doc), 0);
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_WARNING, "page= ignored?"), 3);

        /* no bodies: one warning while it lasts */
        cJSON *nobody = page_of(20, 1785592900, 1, 2, false);
        for (cJSON *q = cJSON_GetObjectItem(nobody, "items")->child; q; q = q->next)
                cJSON_DeleteItemFromObject(q, "body");
        mock_host_clear_logs(&t->mh);
        for (int k = 0; k < 3; k++)
                assert_int_equal(parse_json(t, "1785592800", NULL, nobody), 0);
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_WARNING, "leaves out the body"),
                         1);
        assert_int_equal(parse_json(t, "1785592800", NULL, last), 0);
        assert_int_equal(parse_json(t, "1785592800", NULL, nobody), 0);
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_WARNING, "leaves out the body"),
                         2);
        cJSON_Delete(nobody);
        cJSON_Delete(last);
        cJSON_Delete(doc);
}

static void test_overlap_filters(void **state) {
        T *t = *state;

        /* the question at the cursor comes again (same second): handed over, deduped later */
        create_ok(t, LOCAL);
        assert_int_equal(parse_fixture(t, "1785592700", NULL, "stackexchange/search-asc.json"), 0);
        assert_int_equal(t->sink.n_posts, 2);

        /* ... but not once it is more than a day old: the core may have forgotten it */
        t->mh.now += 2 * 86400 * SEC;
        assert_int_equal(parse_fixture(t, "1785592700", NULL, "stackexchange/search-asc.json"), 0);
        assert_int_equal(t->sink.n_posts, 1);
        assert_string_equal(t->sink.posts[0].id, "stackoverflow/q/79700005");

        /* a server that ignores fromdate cannot replay older questions, nor page forever */
        cJSON *doc = load_json("stackexchange/search-asc.json");
        cJSON_DeleteItemFromObject(doc, "backoff");
        mock_host_clear_logs(&t->mh);
        assert_int_equal(parse_json(t, "1785600000", NULL, doc), 0);
        assert_int_equal(t->sink.n_posts, 0);
        assert_int_equal(t->sink.n_cursor, 0);
        assert_int_equal(t->sink.n_page, 0);
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_WARNING,
                                              "page 1 holds only questions from before "
                                              "fromdate=1785599880 (fromdate= ignored?)"),
                         1);
        cJSON_Delete(doc);
}

static void test_quota(void **state) {
        T *t = *state;

        create_ok(t, LOCAL);
        mock_host_clear_logs(&t->mh);
        assert_int_equal(parse_fixture(t, "1785592800", NULL, "stackexchange/quota-low.json"), 0);
        assert_int_equal(t->sink.n_posts, 1);
        assert_string_equal(t->sink.cursor, "1785592900;resume");
        /* 14:00 UTC: ten hours to midnight, and a minute to spare */
        assert_int_equal(t->sink.backoff_usec, (10 * 3600 + 60) * SEC);
        assert_int_equal(t->sink.n_page, 0); /* has_more, but the quota is nearly gone */
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_WARNING,
                                              "only 3 of 300 daily API requests left"),
                         1);
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_WARNING, "an app key"), 1);

        /* warned once a day */
        t->mh.now += 3600 * SEC;
        assert_int_equal(parse_fixture(t, "1785592800", NULL, "stackexchange/quota-low.json"), 0);
        assert_int_equal(t->sink.backoff_usec, (9 * 3600 + 60) * SEC);
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_WARNING, "daily API requests"),
                         1);
        t->mh.now += 86400 * SEC;
        assert_int_equal(parse_fixture(t, "1785592800", NULL, "stackexchange/quota-low.json"), 0);
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_WARNING, "daily API requests"),
                         2);

        /* with a key, no advice to get one */
        create_ok(t, SETTINGS("sites=stackoverflow", "queries=acme", "key=k"));
        mock_host_clear_logs(&t->mh);
        assert_int_equal(parse_fixture(t, "1785592800", NULL, "stackexchange/quota-low.json"), 0);
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_WARNING, "an app key"), 0);

        /* plenty of quota: no pause */
        assert_int_equal(parse_fixture(t, "1785592800", NULL, "stackexchange/empty.json"), 0);
        assert_int_equal(t->sink.backoff_usec, 0);
}

static void test_old_host(void **state) {
        T *t = *state;

        /* a host from before set_backoff: a warning, no crash, and still no paging */
        create_ok(t, LOCAL);
        t->mh.host.size = offsetof(struct earshot_host, set_backoff);
        mock_host_clear_logs(&t->mh);
        assert_int_equal(parse_fixture(t, "1785592600", NULL, "stackexchange/search-asc.json"), 0);
        assert_int_equal(t->sink.backoff_usec, 0);
        assert_int_equal(t->sink.n_page, 0);
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_WARNING, "cannot pause"), 1);
}

/* An error body that came with a 200 (the API sends them with 400): read all the same. */
static void test_error_bodies(void **state) {
        T *t = *state;

        create_ok(t, LOCAL);
        mock_host_clear_logs(&t->mh);
        int r = parse_fixture(t, "1785592600", NULL, "stackexchange/error-throttle.json");
        expect_explained(t, r, EARSHOT_RETRY,
                         "Stack Exchange throttle: too many requests from this IP");
        assert_int_equal(t->sink.backoff_usec, 79835 * SEC);

        r = parse_fixture(t, "1785592600", NULL, "stackexchange/error-bad-parameter.json");
        expect_explained(t, r, EARSHOT_BLOCKED, "error 400 bad_parameter: site is required");
        assert_int_equal(t->sink.backoff_usec, 0);

        /* an error body with odd fields is still an error body */
        r = parse(t, NULL, NULL, "{\"error_id\":\"x\",\"error_message\":7}");
        expect_explained(t, r, EARSHOT_RETRY, "Stack Exchange error");
        r = parse(t, NULL, NULL,
                  "{\"error_name\":\"throttle_violation\",\"error_message\":"
                  "\"more requests available in 99999999999 seconds\"}");
        expect_explained(t, r, EARSHOT_RETRY, "throttle");
        assert_int_equal(t->sink.backoff_usec, 60 * SEC);          /* not a number it can trust */
        assert_int_equal(mock_host_count_logs(&t->mh, -1, ""), 0); /* the core logs them */
}

/* parse_error(): what the API answers with HTTP 400 (and other statuses). */
static void test_parse_error(void **state) {
        T *t = *state;
        int r;

        create_ok(t, LOCAL);
        mock_host_clear_logs(&t->mh);

        /* the throttle: pause the source as long as the message says, then retry */
        r = error_response_fixture(t, 0, "1785592600", NULL, 400,
                                   "stackexchange/error-throttle.json");
        expect_explained(t, r, EARSHOT_RETRY,
                         "Stack Exchange throttle: too many requests from this IP, more requests "
                         "available in 79835 seconds");
        assert_int_equal(t->sink.backoff_usec, 79835 * SEC);
        assert_non_null(strstr(t->sink.error, "an app key, option `key`"));
        r = error_response(t, "1785592600", "2:1785592480:1:1785592700", 400,
                           "{\"error_id\":502,\"error_name\":\"throttle_violation\","
                           "\"error_message\":\"too many requests from this IP, more requests "
                           "available in 82 seconds\"}");
        expect_explained(t, r, EARSHOT_RETRY, "more requests available in 82 seconds");
        assert_int_equal(t->sink.backoff_usec, 82 * SEC);
        /* no number: a minute */
        r = error_response(t, NULL, NULL, 400,
                           "{\"error_id\":502,\"error_name\":\"throttle_violation\","
                           "\"error_message\":\"slow down\"}");
        expect_explained(t, r, EARSHOT_RETRY, "Stack Exchange throttle: slow down");
        assert_int_equal(t->sink.backoff_usec, 60 * SEC);

        /* the options are wrong: blocked until someone fixes them */
        r = error_response_fixture(t, 0, "1785592600", NULL, 400,
                                   "stackexchange/error-bad-parameter.json");
        expect_explained(t, r, EARSHOT_BLOCKED,
                         "Stack Exchange refused the search (error 400 bad_parameter: site is "
                         "required); check `sites`");
        assert_int_equal(t->sink.backoff_usec, 0);
        expect_failure(t, 0, NULL, NULL, 400,
                       "{\"error_id\":404,\"error_name\":\"no_method\","
                       "\"error_message\":\"no method found with this name\"}",
                       EARSHOT_BLOCKED, "check `base_url`");
        expect_failure(t, 0, NULL, NULL, 400,
                       "{\"error_id\":405,\"error_name\":\"key_required\","
                       "\"error_message\":\"a key is required\"}",
                       EARSHOT_BLOCKED, "error 405 key_required: a key is required); check `key`");
        expect_failure(t, 0, NULL, NULL, 403,
                       "{\"error_id\":403,\"error_name\":\"access_denied\","
                       "\"error_message\":\"denied\"}",
                       EARSHOT_BLOCKED, "error 403 access_denied");
        expect_failure(t, 0, NULL, NULL, 401,
                       "{\"error_id\":401,\"error_name\":\"access_token_required\","
                       "\"error_message\":\"\"}",
                       EARSHOT_BLOCKED, "check `key`");
        expect_failure(t, 0, NULL, NULL, 400,
                       "{\"error_id\":406,\"error_name\":\"access_token_compromised\","
                       "\"error_message\":\"x\\r\\ny\"}",
                       EARSHOT_BLOCKED, "x  y");

        /* the server's trouble: retried */
        expect_failure(t, 0, NULL, NULL, 503,
                       "{\"error_id\":503,\"error_name\":\"temporarily_unavailable\","
                       "\"error_message\":\"try later\"}",
                       EARSHOT_RETRY,
                       "Stack Exchange error 503 temporarily_unavailable: try later");
        expect_failure(t, 0, NULL, NULL, 500,
                       "{\"error_id\":500,\"error_name\":\"internal_error\"}", EARSHOT_RETRY,
                       "internal_error: (no message)");
        assert_int_equal(t->sink.backoff_usec, 0);

        /* nothing it knows: the core's reading */
        expect_generic(t, 0, NULL, NULL, 400,
                       "{\"error_id\":409,\"error_name\":\"duplicate_request\","
                       "\"error_message\":\"x\"}");
        expect_generic(t, 0, NULL, NULL, 503, "<html><h1>503 Service Unavailable</h1></html>");
        expect_generic(t, 0, NULL, NULL, 429, "");
        expect_generic(t, 0, NULL, NULL, 400, "{\"items\":[]}");
        expect_generic(t, 0, NULL, NULL, 400, "[{\"error_id\":400}]");
        assert_int_equal(mock_host_count_logs(&t->mh, -1, ""), 0);
        assert_int_equal(error_response(t, NULL, NULL, 400, "{\"error_id\":400}"), EARSHOT_BLOCKED);
        assert_int_equal(P->source->parse_error(t->state, 1, NULL, NULL,
                                                &(struct earshot_response){.size = 1}, &t->sink),
                         -EINVAL);

        /* the key never shows, even when the API quotes it */
        create_ok(t, SETTINGS("sites=stackoverflow", "queries=acme", "key=Sekr3tKey((",
                              "base_url=http://127.0.0.1:8080"));
        expect_failure(t, 0, NULL, NULL, 400,
                       "{\"error_id\":400,\"error_name\":\"bad_parameter\","
                       "\"error_message\":\"key Sekr3tKey(( is not valid for this site\"}",
                       EARSHOT_BLOCKED, "key *** is not valid");
        assert_null(strstr(t->sink.error, "Sekr3t"));
        expect_failure(t, 0, NULL, NULL, 400,
                       "{\"error_id\":502,\"error_name\":\"throttle_violation\","
                       "\"error_message\":\"Sekr3tKey((Sekr3tKey((\"}",
                       EARSHOT_RETRY, "throttle: ******;");
        assert_null(strstr(t->sink.error, "an app key"));

        /* a host from before set_error: the explanation as a log line, and RETRY */
        create_ok(t, LOCAL);
        t->mh.host.size = offsetof(struct earshot_host, set_error);
        mock_host_clear_logs(&t->mh);
        r = error_response_fixture(t, 0, NULL, NULL, 400, "stackexchange/error-bad-parameter.json");
        assert_int_equal(r, EARSHOT_RETRY);
        assert_int_equal(t->sink.n_error, 0);
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_ERR,
                                              "stackoverflow?q=acme: Stack Exchange refused the "
                                              "search (error 400 bad_parameter: site is required)"),
                         1);
        r = error_response_fixture(t, 0, NULL, NULL, 400, "stackexchange/error-throttle.json");
        assert_int_equal(r, EARSHOT_RETRY);
        assert_int_equal(t->sink.backoff_usec, 79835 * SEC);
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_WARNING, "throttle"), 1);
}

static void expect_bad(T *t, const char *body, size_t len) {
        expect_bad_feed(t, 0, "1785592600", body, len);
}

static void test_garbage(void **state) {
        T *t = *state;
        size_t len;
        char *body = mock_read_fixture("stackexchange/search-first.json", &len);

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
        BAD("\"items\"");
        BAD("{}");
        BAD("{\"items\":{}}");
        BAD("{\"items\":null}");
        BAD("{\"items\":[]} {\"items\":[]}");
        BAD("{\"items\":[]\0}");
        BAD("<html><body><h1>503 Service Unavailable</h1></body></html>");
#undef BAD

        char *deep = malloc(200001);
        assert_non_null(deep);
        memset(deep, '{', 200000);
        deep[200000] = 0;
        expect_bad(t, deep, 200000);
        int n = sprintf(deep, "{\"items\":[");
        for (int k = 0; k < 63; k++)
                deep[n++] = '[';
        for (int k = 0; k < 63; k++)
                deep[n++] = ']';
        n += sprintf(deep + n, "]}");
        expect_bad(t, deep, (size_t)n);
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_ERR, "deeper than 64"), 2);
        free(deep);

        size_t cap = 1001 * 20 + 64, k = 0;
        char *many = malloc(cap);
        assert_non_null(many);
        k += (size_t)snprintf(many + k, cap - k, "{\"items\":[");
        for (int i = 0; i < 1001; i++)
                k += (size_t)snprintf(many + k, cap - k, "%s{\"question_id\":%d}", i ? "," : "",
                                      i + 1);
        k += (size_t)snprintf(many + k, cap - k, "]}");
        expect_bad(t, many, k);
        free(many);
}

static void test_wrong_types(void **state) {
        T *t = *state;
        static const char body[] =
                "{\"items\":[1, \"str\", null, true, [], {},"
                "{\"question_id\":\"50\",\"creation_date\":1785592700},"
                "{\"question_id\":51,\"creation_date\":\"1785592700\"},"
                "{\"question_id\":52,\"creation_date\":-5},"
                "{\"question_id\":53,\"creation_date\":1e300},"
                "{\"question_id\":54.5,\"creation_date\":1785592700},"
                "{\"question_id\":60,\"creation_date\":1785592701,\"title\":7,\"body\":[],"
                " \"owner\":\"x\",\"link\":\"javascript:alert(1)\",\"score\":1e300,"
                " \"answer_count\":\"2\",\"comment_count\":4,\"last_edit_date\":true},"
                "{\"question_id\":61,\"answer_id\":70,\"creation_date\":1785592702,"
                " \"title\":\"Q &lt;title&gt;\",\"body\":\"<b>unclosed <i>tags &bogus; &#0;\","
                " \"owner\":{\"display_name\":\"\"},\"score\":-1,\"comment_count\":1}"
                "],\"has_more\":\"yes\",\"quota_remaining\":-4,\"backoff\":\"9\"}";

        create_ok(t, LOCAL);
        mock_host_clear_logs(&t->mh);
        assert_int_equal(parse(t, "1785592600", NULL, body), 0);
        assert_int_equal(t->sink.n_posts, 2);
        assert_int_equal(t->sink.backoff_usec, 0);
        assert_int_equal(t->sink.n_page, 0); /* has_more is not true */

        const struct earshot_post *p = find_post(t, "stackoverflow/q/60");
        assert_string_equal(p->text, "");
        assert_null(p->title);
        assert_null(p->url);
        assert_null(p->author_handle);
        assert_int_equal(p->likes, -1);
        assert_int_equal(p->replies, 4);
        assert_int_equal(p->edited_usec, 0);
        assert_int_equal(p->created_usec, 1785592701 * SEC);

        /* an answer answers its question */
        p = find_post(t, "stackoverflow/a/70");
        assert_string_equal(p->reply_to, "stackoverflow/q/61");
        assert_string_equal(p->title, "Q <title>");
        assert_null(strchr(p->text, '<'));
        assert_null(p->author_handle);
        assert_int_equal(p->likes, 0);
        assert_int_equal(p->replies, 1);

        assert_string_equal(t->sink.cursor, "1785592702");
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_WARNING, "skipped 11 of 13"), 1);
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_WARNING, "leaves out the body"),
                         1);
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_ERR, ""), 0);
}

static void test_site_language(void **state) {
        T *t = *state;
        static const char body[] =
                "{\"items\":[{\"question_id\":5,\"creation_date\":1785592700,"
                "\"title\":\"\xd0\x90\xd0\xba\xd0\xbc\xd0\xb5\",\"body\":\"x\"}]}";

        create_ok(t, SETTINGS("sites=ru.stackoverflow", "sites=es.stackoverflow.com",
                              "sites=rus.stackexchange", "sites=pt.stackoverflowx"));
        static const char *const want[] = {"ru", "es", NULL, NULL};
        for (uint32_t i = 0; i < 4; i++) {
                struct earshot_response resp = mock_response(200, body, sizeof(body) - 1);
                mock_sink_done(&t->sink);
                mock_sink_init(&t->sink);
                assert_int_equal(
                        P->source->parse_response(t->state, i, NULL, NULL, &resp, &t->sink), 0);
                assert_int_equal(t->sink.n_posts, 1);
                if (want[i])
                        assert_string_equal(t->sink.posts[0].lang, want[i]);
                else
                        assert_null(t->sink.posts[0].lang);
        }
        assert_string_equal(t->sink.posts[0].id, "pt.stackoverflowx/q/5");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_descriptor, setup, teardown),
                cmocka_unit_test_setup_teardown(test_feeds, setup, teardown),
                cmocka_unit_test_setup_teardown(test_create_rejects, setup, teardown),
                cmocka_unit_test_setup_teardown(test_requests, setup, teardown),
                cmocka_unit_test_setup_teardown(test_first_poll, setup, teardown),
                cmocka_unit_test_setup_teardown(test_later_poll_and_backoff, setup, teardown),
                cmocka_unit_test_setup_teardown(test_paging, setup, teardown),
                cmocka_unit_test_setup_teardown(test_pages_read_again, setup, teardown),
                cmocka_unit_test_setup_teardown(test_warnings_once, setup, teardown),
                cmocka_unit_test_setup_teardown(test_overlap_filters, setup, teardown),
                cmocka_unit_test_setup_teardown(test_quota, setup, teardown),
                cmocka_unit_test_setup_teardown(test_old_host, setup, teardown),
                cmocka_unit_test_setup_teardown(test_error_bodies, setup, teardown),
                cmocka_unit_test_setup_teardown(test_parse_error, setup, teardown),
                cmocka_unit_test_setup_teardown(test_garbage, setup, teardown),
                cmocka_unit_test_setup_teardown(test_wrong_types, setup, teardown),
                cmocka_unit_test_setup_teardown(test_site_language, setup, teardown),
        };
        return cmocka_run_group_tests_name("source-stackexchange", tests, NULL, NULL);
}
