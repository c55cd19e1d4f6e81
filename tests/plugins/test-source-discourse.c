/* SPDX-License-Identifier: MIT */
/*
 * test-source-discourse.c - the discourse source against recorded Discourse responses
 * (tests/fixtures/discourse/, see PROVENANCE.md there): options, feed names, request URLs,
 * posts field by field for /posts.json and /search.json, the cursor, the backwards walk with
 * before= and page=, coverage gaps, error answers (parse_error: the rate limit's wait, private
 * and missing forums), and bodies that are broken or of the wrong shape.
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

#define LATEST SETTINGS("forums=http://localhost:4200")
#define SEARCH SETTINGS("forums=http://localhost:4200", "queries=acme")
#define BASE "http://localhost:4200"

/* created_at of the posts in posts-latest.json */
#define T15 INT64_C(1579918207971000) /* 2020-01-25T02:10:07.971Z */
#define T14 INT64_C(1579913915475000) /* 2020-01-25T00:58:35.475Z */
#define T10 INT64_C(1579908369014000) /* 2020-01-24T23:26:09.014Z */
#define T2 INT64_C(1579908365551000)  /* 2020-01-24T23:26:05.551Z */
#define T16 INT64_C(1477750460516000) /* 2016-10-29T14:14:20.516Z, search-query.json */

typedef SourceTest T;

static void test_descriptor(void **state) {
        expect_source_descriptor("discourse");

        size_t n = 0;
        for (const struct earshot_option *o = P->options; o->name; o++, n++) {
                assert_non_null(o->description);
                assert_true(strlen(o->description) > 20);
                if (strcmp(o->name, "forums") == 0) {
                        assert_int_equal(o->type, EARSHOT_OPT_STRLIST);
                        assert_true(o->flags & EARSHOT_OPT_REQUIRED);
                } else
                        assert_false(o->flags & EARSHOT_OPT_REQUIRED);
        }
        assert_int_equal(n, 3);
}

static void test_feeds(void **state) {
        T *t = *state;

        /* no queries: one "latest posts" feed per forum; duplicates after normalising dropped */
        create_ok(t, SETTINGS("forums=https://Meta.Discourse.org/",
                              "forums=https://meta.discourse.org",
                              "forums=https://example.com/forum//"));
        assert_string_equal(P->source->feed(t->state, 0), "https://meta.discourse.org/posts");
        assert_string_equal(P->source->feed(t->state, 1), "https://example.com/forum/posts");
        assert_null(P->source->feed(t->state, 2));
        assert_null(P->source->feed(t->state, UINT32_MAX));

        /* queries: forums x queries, trimmed and de-duplicated */
        create_ok(t, SETTINGS("forums=https://a.example", "forums=http://127.0.0.1:4200",
                              "queries=acme", "queries=  acme ", "queries=\"acme plus\" #support"));
        assert_string_equal(P->source->feed(t->state, 0), "https://a.example/search?q=acme");
        assert_string_equal(P->source->feed(t->state, 1),
                            "https://a.example/search?q=\"acme plus\" #support");
        assert_string_equal(P->source->feed(t->state, 2), "http://127.0.0.1:4200/search?q=acme");
        assert_null(P->source->feed(t->state, 4));
}

static void test_create_rejects(void **state) {
        T *t = *state;

        expect_rejected(t, SETTINGS("forums=http://meta.discourse.org"),
                        "'http://meta.discourse.org' must use https://");
        expect_rejected(t, SETTINGS("forums=ftp://x.example"), "not an http:// or https:// URL");
        expect_rejected(t, SETTINGS("forums=https://x.example?a=1"), "query");
        expect_rejected(t, SETTINGS("forums=https://u:p@x.example"), "credentials");
        expect_rejected(t, SETTINGS("forums=https://x.example:0"), "port");
        expect_rejected(t, SETTINGS("forums=https://"), "has no host");
        expect_rejected(t, SETTINGS("forums=https://ok.example", "forums=http://bad.example"),
                        "bad.example");
        expect_rejected(t, SETTINGS("forums=https://x.example", "queries= "),
                        "queries: ' ' is empty");
        expect_rejected(t, SETTINGS("forums=https://x.example", "queries=acme order:likes"),
                        "order:");
        expect_rejected(t, SETTINGS("forums=https://x.example", "queries=a\tb\nc"), "control");
        expect_rejected(t, SETTINGS("forums=https://x.example", "max_pages=0"),
                        "max_pages: 0 is out of range 1..50");
        expect_rejected(t, SETTINGS("forums=https://x.example", "max_pages=51"), "max_pages");
        expect_rejected(t, SETTINGS("queries=acme"), "forums");

        char longq[600];
        memset(longq, 'a', sizeof(longq) - 1);
        longq[sizeof(longq) - 1] = 0;
        char setting[620];
        (void)snprintf(setting, sizeof(setting), "queries=%s", longq);
        expect_rejected(t, SETTINGS("forums=https://x.example", setting), "too long");
}

static void test_requests(void **state) {
        T *t = *state;

        create_ok(t, LATEST);
        build(t, 0, NULL, NULL);
        assert_string_equal(t->req.method, "GET");
        assert_string_equal(t->req.url, BASE "/posts.json");
        assert_string_equal(mock_request_header(&t->req, "Accept"), "application/json");
        assert_null(t->req.body);
        /* the cursor alone does not change the first request of a poll: newest first */
        build(t, 0, "15@2020-01-25T02:10:07.971Z", NULL);
        assert_string_equal(t->req.url, BASE "/posts.json");
        build(t, 0, "1", "2:10:15:1579918207971000");
        assert_string_equal(t->req.url, BASE "/posts.json?before=10");

        create_ok(t,
                  SETTINGS("forums=https://example.com/forum/", "queries=\"acme plus\" #support"));
        build(t, 0, NULL, NULL);
        assert_string_equal(t->req.url,
                            "https://example.com/forum/search.json?q=%22acme%20plus%22%20"
                            "%23support%20order%3Alatest");
        build(t, 0, "16", "3:16:0");
        assert_string_equal(t->req.url,
                            "https://example.com/forum/search.json?q=%22acme%20plus%22%20"
                            "%23support%20order%3Alatest&page=3");

        /* tokens this plugin did not write, or for the other kind of feed, are bugs */
        static const char *const bad[] = {"junk",      "1:5:5:5",  "2:0:5:5",  "2:5:5", "51:5:5:5",
                                          "2:5:5:5:5", "2:-5:5:5", "2:5:5:5x", ""};
        create_ok(t, LATEST);
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                mock_request_done(&t->req);
                mock_request_init(&t->req);
                assert_int_equal(P->source->build_request(t->state, 0, NULL, bad[i], &t->req),
                                 -EINVAL);
        }
        assert_int_equal(P->source->build_request(t->state, 1, NULL, NULL, &t->req), -EINVAL);
        create_ok(t, SEARCH);
        assert_int_equal(P->source->build_request(t->state, 0, NULL, "2:10:15:7", &t->req),
                         -EINVAL);
}

static void test_latest_first_poll(void **state) {
        T *t = *state;

        create_ok(t, LATEST);
        assert_int_equal(parse_fixture(t, NULL, NULL, "discourse/posts-latest.json"), 0);
        assert_int_equal(t->sink.n_posts, 4);
        assert_int_equal(t->sink.n_page, 0);
        assert_int_equal(t->sink.n_gaps, 0);
        assert_int_equal(t->sink.n_cursor, 1);
        assert_string_equal(t->sink.cursor, "15@2020-01-25T02:10:07.971Z");

        /* oldest first */
        assert_string_equal(t->sink.posts[0].id, BASE "/p/2");
        assert_string_equal(t->sink.posts[1].id, BASE "/p/10");
        assert_string_equal(t->sink.posts[2].id, BASE "/p/14");
        assert_string_equal(t->sink.posts[3].id, BASE "/p/15");

        const struct earshot_post *p = &t->sink.posts[3];
        assert_string_equal(p->network, "discourse");
        assert_string_equal(p->url, BASE "/t/this-is-an-uncategorized-title/11/2");
        assert_string_equal(p->text, "holla bullhonky.");
        assert_string_equal(p->author_handle, "johndoe");
        assert_null(p->author_name); /* name: null */
        assert_int_equal(p->author_followers, -1);
        assert_null(p->lang);
        assert_int_equal(p->created_usec, T15);
        assert_int_equal(p->replies, 0);
        assert_int_equal(p->reposts, -1);
        assert_int_equal(p->likes, 0); /* actions_summary: [] */
        assert_string_equal(p->title, "This is an uncategorized title");
        /* post 2 of the topic, not a reply to a post: it answers the topic */
        assert_string_equal(p->reply_to, BASE "/t/this-is-an-uncategorized-title/11");
        assert_int_equal(p->rating, 0);
        assert_int_equal(p->edited_usec, 0);

        p = &t->sink.posts[2];
        assert_string_equal(p->url, BASE "/t/this-is-an-uncategorized-title/11/1");
        assert_null(p->reply_to); /* the topic's first post */
        assert_string_equal(p->text, "hi there. hi there. hi there.");
        assert_int_equal(p->created_usec, T14);

        p = &t->sink.posts[1];
        assert_string_equal(p->author_handle, "system");
        assert_string_equal(p->author_name, "system");
        assert_string_equal(p->title, "Welcome to Discourse");
        assert_string_equal(p->url, BASE "/t/welcome-to-discourse/7/1");
        assert_int_equal(p->created_usec, T10);
        /* cooked HTML: blocks become lines, list items readable, no tags, entities decoded */
        assert_non_null(strstr(p->text, "It\xe2\x80\x99s important!"));
        assert_non_null(strstr(p->text, "Edit this into a brief description of your community:"));
        assert_non_null(strstr(p->text, "Who is it for?"));
        assert_null(strchr(p->text, '<'));
        assert_null(strstr(p->text, "&"));

        p = &t->sink.posts[0];
        assert_string_equal(p->text, "Discussion about this site, its organization, how it works, "
                                     "and how we can improve it.");
        assert_int_equal(p->created_usec, T2);
}

static void test_latest_meets_cursor(void **state) {
        T *t = *state;

        /* the page reaches back past the cursor: only what is newer, cursor to the newest */
        create_ok(t, LATEST);
        assert_int_equal(parse_fixture(t, "10@2020-01-24T23:26:09.014Z", NULL,
                                       "discourse/posts-latest.json"),
                         0);
        assert_int_equal(t->sink.n_posts, 2);
        assert_string_equal(t->sink.posts[0].id, BASE "/p/14");
        assert_string_equal(t->sink.posts[1].id, BASE "/p/15");
        assert_int_equal(t->sink.n_page, 0);
        assert_int_equal(t->sink.n_gaps, 0);
        assert_string_equal(t->sink.cursor, "15@2020-01-25T02:10:07.971Z");

        /* nothing new: no posts, the cursor stays */
        assert_int_equal(parse_fixture(t, "15@2020-01-25T02:10:07.971Z", NULL,
                                       "discourse/posts-latest.json"),
                         0);
        assert_int_equal(t->sink.n_posts, 0);
        assert_int_equal(t->sink.n_cursor, 0);
        assert_int_equal(t->sink.n_page, 0);

        /* a bare id is a cursor too; a cursor from elsewhere is as good as none */
        assert_int_equal(parse_fixture(t, "14", NULL, "discourse/posts-latest.json"), 0);
        assert_int_equal(t->sink.n_posts, 1);
        assert_string_equal(t->sink.cursor, "15@2020-01-25T02:10:07.971Z");
        assert_int_equal(parse_fixture(t, "not-a-cursor", NULL, "discourse/posts-latest.json"), 0);
        assert_int_equal(t->sink.n_posts, 4);
        assert_int_equal(t->sink.n_page, 0);
        assert_string_equal(t->sink.cursor, "15@2020-01-25T02:10:07.971Z");
}

static void test_latest_walk(void **state) {
        T *t = *state;

        /* page 1 does not reach the cursor: page on with before=, the cursor waits */
        create_ok(t, LATEST);
        assert_int_equal(
                parse_fixture(t, "1@2020-01-01T00:00:00.000Z", NULL, "discourse/posts-latest.json"),
                EARSHOT_MORE);
        assert_int_equal(t->sink.n_posts, 4);
        assert_int_equal(t->sink.n_cursor, 0);
        assert_int_equal(t->sink.n_page, 1);
        assert_string_equal(t->sink.page, "2:2:15:1579918207971000");
        build(t, 0, "1@2020-01-01T00:00:00.000Z", t->sink.page);
        assert_string_equal(t->req.url, BASE "/posts.json?before=2");

        /* page 2 (recorded for before=15) still above the cursor: page 3 */
        assert_int_equal(parse_fixture(t, "1@2020-01-01T00:00:00.000Z", "2:15:15:1579918207971000",
                                       "discourse/posts-before.json"),
                         EARSHOT_MORE);
        assert_int_equal(t->sink.n_posts, 3);
        assert_int_equal(t->sink.n_cursor, 0);
        assert_string_equal(t->sink.page, "3:2:15:1579918207971000");

        /* the listing ends: done, and the cursor is the walk's newest post */
        assert_int_equal(parse(t, "1@2020-01-01T00:00:00.000Z", "3:2:15:1579918207971000",
                               "{\"latest_posts\":[]}"),
                         0);
        assert_int_equal(t->sink.n_posts, 0);
        assert_int_equal(t->sink.n_gaps, 0);
        assert_string_equal(t->sink.cursor, "15@2020-01-25T02:10:07.971Z");

        /* a later page meets the cursor: done */
        assert_int_equal(parse_fixture(t, "10@2020-01-24T23:26:09.014Z", "2:15:20:1579920000000000",
                                       "discourse/posts-before.json"),
                         0);
        assert_int_equal(t->sink.n_posts, 1); /* 14; 10 and 2 are not after the cursor */
        assert_string_equal(t->sink.posts[0].id, BASE "/p/14");
        assert_string_equal(t->sink.cursor, "20@2020-01-25T02:40:00.000Z");
}

static void test_latest_gap(void **state) {
        T *t = *state;

        /* max_pages used up before the cursor: a gap from the cursor to the oldest reached */
        create_ok(t, SETTINGS("forums=http://localhost:4200", "max_pages=2"));
        assert_int_equal(parse_fixture(t, "1@2020-01-01T00:00:00.000Z", "2:15:15:1579918207971000",
                                       "discourse/posts-before.json"),
                         0);
        assert_int_equal(t->sink.n_page, 0);
        assert_int_equal(t->sink.n_gaps, 1);
        assert_int_equal(t->sink.gap_from_usec, INT64_C(1577836800000000));
        assert_int_equal(t->sink.gap_to_usec, T2);
        assert_string_equal(t->sink.gap_reason, "max_pages reached");
        assert_string_equal(t->sink.cursor, "15@2020-01-25T02:10:07.971Z");
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_INFO, "stopped after 2 pages"),
                         1);

        /* max_pages=1: the first page is the last */
        create_ok(t, SETTINGS("forums=http://localhost:4200", "max_pages=1"));
        assert_int_equal(parse_fixture(t, "1", NULL, "discourse/posts-latest.json"), 0);
        assert_int_equal(t->sink.n_gaps, 1);
        assert_int_equal(t->sink.gap_from_usec, 0); /* a bare id: the time is not known */
        assert_string_equal(t->sink.cursor, "15@2020-01-25T02:10:07.971Z");

        /* a forum that ignores before= sends page 1 again: no progress, stop with a gap */
        create_ok(t, LATEST);
        assert_int_equal(
                parse_fixture(t, "1", "2:2:15:1579918207971000", "discourse/posts-latest.json"), 0);
        assert_int_equal(t->sink.n_page, 0);
        assert_int_equal(t->sink.n_gaps, 1);
        assert_string_equal(t->sink.gap_reason, "the forum ignored before=");
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_WARNING, "ignored before=2"), 1);
}

static void test_single_post_fields(void **state) {
        T *t = *state;
        cJSON *doc = cJSON_CreateObject(), *list = cJSON_AddArrayToObject(doc, "latest_posts");
        cJSON *p = load_json("discourse/post-single.json");

        /* the documented /posts/:id.json post, edited, liked, a reply to post 2 */
        cJSON_ReplaceItemInObject(p, "version", cJSON_CreateNumber(3));
        cJSON_ReplaceItemInObject(p, "updated_at", cJSON_CreateString("2016-10-04T08:00:00.000Z"));
        cJSON_ReplaceItemInObject(p, "reply_to_post_number", cJSON_CreateNumber(2));
        cJSON_ReplaceItemInObject(p, "reply_count", cJSON_CreateNumber(7));
        cJSON *like = cJSON_CreateObject();
        cJSON_AddNumberToObject(like, "id", 2);
        cJSON_AddNumberToObject(like, "count", 12);
        cJSON_AddItemToArray(cJSON_GetObjectItem(p, "actions_summary"), like);
        cJSON_AddItemToArray(list, p);

        create_ok(t, LATEST);
        assert_int_equal(parse_json(t, NULL, NULL, doc), 0);
        cJSON_Delete(doc);
        assert_int_equal(t->sink.n_posts, 1);
        const struct earshot_post *q = &t->sink.posts[0];
        assert_string_equal(q->id, BASE "/p/33");
        assert_string_equal(q->url, BASE "/t/welcome-to-discourse/8/4");
        assert_string_equal(q->reply_to, BASE "/t/welcome-to-discourse/8/2");
        assert_string_equal(q->author_handle, "blake");
        assert_null(q->author_name); /* name "" */
        assert_null(q->title);       /* /posts/:id.json has no topic_title */
        assert_int_equal(q->replies, 7);
        assert_int_equal(q->likes, 12);
        assert_int_equal(q->edited_usec, INT64_C(1475568000000000));
        assert_int_equal(q->created_usec, INT64_C(1475501836594000));
        assert_string_equal(t->sink.cursor, "33@2016-10-03T13:37:16.594Z");
}

static void test_search(void **state) {
        T *t = *state;

        create_ok(t, SEARCH);
        assert_int_equal(parse_fixture(t, NULL, NULL, "discourse/search-query.json"), 0);
        assert_int_equal(t->sink.n_posts, 1);
        const struct earshot_post *p = &t->sink.posts[0];
        assert_string_equal(p->id, BASE "/p/16");
        assert_string_equal(p->network, "discourse");
        /* slug and title come from the result's topics[] */
        assert_string_equal(p->url, BASE "/t/2a6aa74e-e341-5e3c-1eaa-78c6331f305f/13/1");
        assert_string_equal(p->title, "2a6aa74e-e341-5e3c-1eaa-78c6331f305f");
        assert_null(p->reply_to);
        assert_string_equal(p->author_handle, "discourse1");
        assert_null(p->author_name);
        assert_int_equal(p->likes, 0);
        assert_int_equal(p->replies, -1);
        assert_int_equal(p->created_usec, T16);
        /* the full cooked text, not the truncated blurb */
        assert_null(strstr(p->text, "..."));
        assert_true(strncmp(p->text, "ecf65fcd-1e16-7c4c-4244-a467b46c610becf65fcd", 44) == 0);
        assert_string_equal(t->sink.cursor, "16@2016-10-29T14:14:20.516Z");
        assert_int_equal(t->sink.n_page, 0);

        /* a later poll: post 16 is new; the search has no more pages: done */
        assert_int_equal(parse_fixture(t, "10", NULL, "discourse/search-query.json"), 0);
        assert_int_equal(t->sink.n_posts, 1);
        assert_int_equal(t->sink.n_page, 0);
        assert_int_equal(t->sink.n_gaps, 0);
        assert_string_equal(t->sink.cursor, "16@2016-10-29T14:14:20.516Z");

        /* seen already */
        assert_int_equal(parse_fixture(t, "16", NULL, "discourse/search-query.json"), 0);
        assert_int_equal(t->sink.n_posts, 0);
        assert_int_equal(t->sink.n_cursor, 0);
}

static void test_search_paging(void **state) {
        T *t = *state;
        cJSON *doc = load_json("discourse/search-query.json");
        cJSON *g = cJSON_GetObjectItem(doc, "grouped_search_result");

        /* more pages and the cursor not met: page 2 */
        cJSON_ReplaceItemInObject(g, "more_posts", cJSON_CreateTrue());
        create_ok(t, SEARCH);
        assert_int_equal(parse_json(t, "3", NULL, doc), EARSHOT_MORE);
        assert_string_equal(t->sink.page, "2:16:1477750460516000");
        assert_int_equal(t->sink.n_cursor, 0);
        build(t, 0, "3", t->sink.page);
        assert_string_equal(t->req.url, BASE "/search.json?q=acme%20order%3Alatest&page=2");

        /* newer versions say more_full_page_results, sometimes as a string */
        cJSON_ReplaceItemInObject(g, "more_posts", cJSON_CreateNull());
        cJSON_AddStringToObject(g, "more_full_page_results", "more");
        assert_int_equal(parse_json(t, "3", "2:20:1477750500000000", doc), EARSHOT_MORE);
        assert_string_equal(t->sink.page, "3:20:1477750500000000");

        /* page cap: a gap, and the cursor moves to the walk's newest */
        create_ok(t, SETTINGS("forums=http://localhost:4200", "queries=acme", "max_pages=3"));
        assert_int_equal(parse_json(t, "3", "3:20:1477750500000000", doc), 0);
        assert_int_equal(t->sink.n_gaps, 1);
        assert_int_equal(t->sink.gap_to_usec, T16);
        assert_string_equal(t->sink.cursor, "20@2016-10-29T14:15:00.000Z");

        /* no hits at all: a search may leave out "posts" */
        assert_int_equal(parse(t, "3", NULL, "{\"grouped_search_result\":{\"post_ids\":[]}}"), 0);
        assert_int_equal(t->sink.n_posts, 0);
        assert_int_equal(t->sink.n_cursor, 0);
        cJSON_Delete(doc);
}

static void expect_bad(T *t, const char *body, size_t len) {
        expect_bad_feed(t, 0, "1", body, len);
}

/* {"latest_posts":[[[...]]]} nested `depth` levels deep in all; malloc()ed */
static char *nested(int depth) {
        char *s = malloc((size_t)depth * 2 + 32);
        int n = 0;

        if (!s)
                abort(); /* out of memory */
        n += sprintf(s, "{\"latest_posts\":[");
        for (int k = 0; k < depth - 2; k++)
                s[n++] = '[';
        for (int k = 0; k < depth - 2; k++)
                s[n++] = ']';
        strcpy(s + n, "]}");
        return s;
}

static void test_garbage(void **state) {
        T *t = *state;
        size_t len;
        char *body = mock_read_fixture("discourse/posts-latest.json", &len);

        create_ok(t, LATEST);
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
        BAD("{\"latest_posts\":{}}");
        BAD("{\"latest_posts\":[]} x");
        BAD("{\"latest_posts\":[]}{}");
        BAD("{\"latest_posts\":[\0]}");
        BAD("{\"posts\":[]}"); /* a search body on the latest feed */

        mock_host_clear_logs(&t->mh);
        BAD("\n<!DOCTYPE html><html><body>Log in</body></html>");
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_ERR, "require a login"), 1);
        BAD("{\"errors\":[\"The requested URL or resource could not be found.\"],"
            "\"error_type\":\"not_found\"}");
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_ERR, "could not be found"), 1);
        BAD("{\"error_type\":\"rate_limit\",\"extras\":{\"wait_seconds\":7}}");
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_ERR, "rate_limit"), 1);
#undef BAD

        /* the legacy (pre-1.x) search shape is not a search result */
        create_ok(t, SEARCH);
        mock_host_clear_logs(&t->mh);
        assert_int_equal(parse_fixture(t, "1", NULL, "discourse/search-legacy.json"), -EBADMSG);
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_ERR, "got an array"), 1);
        /* and a latest-posts body is not one either */
        assert_int_equal(parse_fixture(t, "1", NULL, "discourse/posts-latest.json"), -EBADMSG);

        /* nesting: 64 levels pass, 65 do not; 200000 never reach cJSON */
        create_ok(t, LATEST);
        char *deep = nested(64);
        assert_int_equal(parse(t, "1", NULL, deep), 0);
        free(deep);
        deep = nested(65);
        expect_bad(t, deep, strlen(deep));
        free(deep);
        char *huge = malloc(200001);
        if (!huge)
                abort(); /* out of memory */
        memset(huge, '[', 200000);
        huge[200000] = 0;
        expect_bad(t, huge, 200000);
        /* brackets inside strings do not count */
        static const char head[] = "{\"latest_posts\":[],\"x\":\"";
        memcpy(huge, head, strlen(head));
        memcpy(huge + strlen(head) + 1000, "\"}", 3);
        assert_int_equal(parse(t, "1", NULL, huge), 0);
        free(huge);

        /* more posts than Discourse ever sends */
        size_t cap = 1001 * 16 + 64, k = 0;
        char *many = malloc(cap);
        assert_non_null(many);
        k += (size_t)snprintf(many + k, cap - k, "{\"latest_posts\":[");
        for (int i = 0; i < 1001; i++)
                k += (size_t)snprintf(many + k, cap - k, "%s{\"id\":%d}", i ? "," : "", i + 1);
        k += (size_t)snprintf(many + k, cap - k, "]}");
        expect_bad(t, many, k);
        free(many);
}

static void test_wrong_types(void **state) {
        T *t = *state;
        static const char body[] =
                "{\"latest_posts\":[1, \"str\", null, true, [], {},"
                "{\"id\":\"50\",\"cooked\":\"x\"},"
                "{\"id\":-3,\"cooked\":\"x\"},"
                "{\"id\":1.5,\"cooked\":\"x\"},"
                "{\"id\":1e300,\"cooked\":\"x\"},"
                "{\"id\":49,\"cooked\":7},"
                "{\"id\":48,\"cooked\":\"<p>closed</p>\",\"post_type\":3},"
                "{\"id\":47,\"cooked\":\"<p>gone</p>\",\"deleted_at\":\"2020-01-01T00:00:00Z\"},"
                "{\"id\":46,\"cooked\":\"<p>ok</p>\",\"username\":7,\"name\":[],\"topic_id\":\"5\","
                " \"post_number\":1,\"created_at\":5,\"reply_count\":\"3\",\"like_count\":-1,"
                " \"actions_summary\":{},\"topic_title\":{},\"version\":\"2\"},"
                "{\"id\":45,\"cooked\":\"\",\"blurb\":\"plain &amp; short...\",\"topic_id\":9,"
                " \"post_number\":3,\"reply_to_post_number\":3,\"topic_slug\":\"../../etc\","
                " \"created_at\":\"2020-13-01T00:00:00Z\",\"actions_summary\":[{\"id\":2},{}]},"
                "{\"id\":44,\"cooked\":\"<b>unclosed <i>tags &bogus; &#0;\",\"topic_id\":9,"
                " \"post_number\":2,\"topic_slug\":\"caf\xc3\xa9-talk\",\"reply_count\":1e300,"
                " \"actions_summary\":[{\"id\":2,\"count\":4}]}"
                "]}";

        create_ok(t, LATEST);
        assert_int_equal(parse(t, "1", NULL, body), EARSHOT_MORE);
        assert_int_equal(t->sink.n_posts, 3);

        const struct earshot_post *p = find_post(t, BASE "/p/46");
        assert_string_equal(p->text, "ok");
        assert_string_equal(p->url, BASE "/p/46"); /* no usable topic: the short link */
        assert_null(p->author_handle);
        assert_null(p->author_name);
        assert_null(p->title);
        assert_null(p->reply_to);
        assert_int_equal(p->created_usec, 0);
        assert_int_equal(p->replies, -1);
        assert_int_equal(p->likes, -1);
        assert_int_equal(p->edited_usec, 0);

        /* an empty cooked falls back to the blurb; a slug that is not one is left out */
        p = find_post(t, BASE "/p/45");
        assert_string_equal(p->text, "plain & short...");
        assert_string_equal(p->url, BASE "/t/9/3");
        assert_string_equal(p->reply_to, BASE "/t/9");
        assert_int_equal(p->created_usec, 0);
        assert_int_equal(p->likes, -1);

        p = find_post(t, BASE "/p/44");
        assert_string_equal(p->url, BASE "/t/caf%C3%A9-talk/9/2");
        assert_int_equal(p->likes, 4);
        assert_int_equal(p->replies, -1);
        assert_null(strchr(p->text, '<'));

        /* malformed elements: one warning for the page, details at debug level */
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_WARNING, "skipped 11 of 16"), 1);
        assert_true(mock_host_count_logs(&t->mh, EARSHOT_LOG_DEBUG, "skipping element") >= 11);
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_ERR, ""), 0);
        /* the newest usable id leads the walk: 46 is past the cursor, page on */
        assert_string_equal(t->sink.page, "2:44:49:0");
}

/* parse_error(): Discourse's error answers. */
static void test_parse_error(void **state) {
        T *t = *state;
        int r;

        /* the rate limiter's 429: the pause it names, then a retry */
        create_ok(t, LATEST);
        mock_host_clear_logs(&t->mh);
        r = error_response_fixture(t, 0, "15", NULL, 429, "discourse/error-rate-limit.json");
        expect_explained(t, r, EARSHOT_RETRY,
                         "the forum's rate limit (\"You’ve performed this action too many "
                         "times. Please wait 3 seconds before trying again.\"); waiting 3 s");
        assert_int_equal(t->sink.backoff_usec, 3 * INT64_C(1000000));
        /* without wait_seconds (or without JSON): retried, the core honours Retry-After */
        r = error_response(t, "15", "2:10:15:0", 429, "<html>Too Many Requests</html>");
        expect_explained(t, r, EARSHOT_RETRY, "the forum's rate limit (it allows");
        assert_int_equal(t->sink.n_backoff, 0);
        r = error_response(t, "15", NULL, 429,
                           "{\"error_type\":\"rate_limit\",\"extras\":{\"wait_seconds\":1e12}}");
        expect_explained(t, r, EARSHOT_RETRY, "waiting 86400 s");
        assert_int_equal(t->sink.backoff_usec, 86400 * INT64_C(1000000));
        r = error_response(t, "15", NULL, 429, "{\"extras\":{\"wait_seconds\":-3}}");
        expect_explained(t, r, EARSHOT_RETRY, "rate limit");
        assert_int_equal(t->sink.n_backoff, 0);

        /* a private or login-only forum: blocked, with Discourse's words */
        r = error_response_fixture(t, 0, "15", NULL, 403, "discourse/error-invalid-access.json");
        expect_explained(t, r, EARSHOT_BLOCKED,
                         BASE " refused access (HTTP 403) (\"You are not permitted to view the "
                              "requested resource.\"): a private or login-only forum cannot be "
                              "read by this source; check `forums`");
        assert_int_equal(t->sink.backoff_usec, 0);
        expect_failure(t, 0, NULL, NULL, 403, "<html>login</html>", EARSHOT_BLOCKED,
                       "refused access (HTTP 403): a private");
        /* no forum there */
        expect_failure(t, 0, NULL, NULL, 404,
                       "{\"errors\":[\"The requested URL or resource could not be found.\"],"
                       "\"error_type\":\"not_found\"}",
                       EARSHOT_BLOCKED,
                       BASE " answered 404 (\"The requested URL or resource could not be "
                            "found.\"): is it the address of a Discourse forum? Check `forums`");
        create_ok(t, SEARCH);
        expect_failure(t, 0, NULL, "2:99:0", 404, "", EARSHOT_BLOCKED, "answered 404: is it");

        /* the rest is the core's */
        expect_generic(t, 0, NULL, NULL, 500, "{\"errors\":[\"oops\"]}");
        expect_generic(t, 0, NULL, NULL, 502, "<html>Bad Gateway</html>");
        expect_generic(t, 0, NULL, NULL, 400, "{\"errors\":[\"bad\"]}");
        expect_generic(t, 0, NULL, NULL, 401, "");
        assert_int_equal(mock_host_count_logs(&t->mh, -1, ""), 0);
        assert_int_equal(P->source->parse_error(t->state, 1, NULL, NULL,
                                                &(struct earshot_response){.size = 1}, &t->sink),
                         -EINVAL);

        /* a host without set_backoff and set_error: a warning line, and RETRY */
        create_ok(t, LATEST);
        t->mh.host.size = offsetof(struct earshot_host, set_backoff);
        r = error_response_fixture(t, 0, "15", NULL, 429, "discourse/error-rate-limit.json");
        assert_int_equal(r, EARSHOT_RETRY);
        assert_int_equal(t->sink.n_backoff, 0);
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_WARNING,
                                              BASE "/posts: the forum's rate limit"),
                         1);
        assert_int_equal(error_response(t, NULL, NULL, 404, ""), EARSHOT_RETRY);
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_ERR, "answered 404"), 1);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_descriptor, setup, teardown),
                cmocka_unit_test_setup_teardown(test_feeds, setup, teardown),
                cmocka_unit_test_setup_teardown(test_create_rejects, setup, teardown),
                cmocka_unit_test_setup_teardown(test_requests, setup, teardown),
                cmocka_unit_test_setup_teardown(test_latest_first_poll, setup, teardown),
                cmocka_unit_test_setup_teardown(test_latest_meets_cursor, setup, teardown),
                cmocka_unit_test_setup_teardown(test_latest_walk, setup, teardown),
                cmocka_unit_test_setup_teardown(test_latest_gap, setup, teardown),
                cmocka_unit_test_setup_teardown(test_single_post_fields, setup, teardown),
                cmocka_unit_test_setup_teardown(test_search, setup, teardown),
                cmocka_unit_test_setup_teardown(test_search_paging, setup, teardown),
                cmocka_unit_test_setup_teardown(test_garbage, setup, teardown),
                cmocka_unit_test_setup_teardown(test_wrong_types, setup, teardown),
                cmocka_unit_test_setup_teardown(test_parse_error, setup, teardown),
        };
        return cmocka_run_group_tests_name("source-discourse", tests, NULL, NULL);
}
