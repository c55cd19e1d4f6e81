/* SPDX-License-Identifier: MIT */
/*
 * test-source-hackernews.c - the hackernews source against recorded Algolia HN Search
 * responses (tests/fixtures/hackernews/, see PROVENANCE.md there): options, feed names,
 * request URLs, posts field by field (stories, comments, polls, Ask HN), the cursor and its
 * ties within one second, paging within a pinned window, narrowing past the 1,000-hit window,
 * coverage gaps, error answers (parse_error), and bodies that are broken or of the wrong shape.
 * Pages longer than the recordings (which hold one hit each) are built at run time from their
 * hits with cJSON.
 */
#include <errno.h>
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

#define SEC INT64_C(1000000)
/* mock-host.c's clock: 2026-08-01T14:00:00Z */
#define NOW INT64_C(1785592800)

typedef SourceTest T;

/* A minimal comment hit as Algolia sends it. */
static cJSON *hit(const char *id, int64_t created_at_i) {
        char text[64];
        cJSON *h = cJSON_CreateObject(), *tags = cJSON_AddArrayToObject(h, "_tags");

        cJSON_AddItemToArray(tags, cJSON_CreateString("comment"));
        (void)snprintf(text, sizeof(text), "<p>comment %s</p>", id);
        cJSON_AddStringToObject(h, "comment_text", text);
        cJSON_AddStringToObject(h, "author", "someone");
        cJSON_AddNumberToObject(h, "parent_id", 1);
        cJSON_AddNumberToObject(h, "created_at_i", (double)created_at_i);
        cJSON_AddStringToObject(h, "objectID", id);
        return h;
}

/*
 * A search_by_date page: the hits given as (id, second) pairs, newest first as Algolia sends
 * them, and the counts Algolia reports.
 */
static cJSON *page_doc(int64_t nb_hits, int64_t nb_pages, int64_t page, size_t n, ...) {
        cJSON *doc = cJSON_CreateObject(), *hits = cJSON_AddArrayToObject(doc, "hits");
        va_list ap;

        va_start(ap, n);
        for (size_t i = 0; i < n; i++) {
                const char *id = va_arg(ap, const char *);
                int64_t t = va_arg(ap, int64_t);
                cJSON_AddItemToArray(hits, hit(id, t));
        }
        va_end(ap);
        cJSON_AddNumberToObject(doc, "nbHits", (double)nb_hits);
        cJSON_AddNumberToObject(doc, "page", (double)page);
        cJSON_AddNumberToObject(doc, "nbPages", (double)nb_pages);
        cJSON_AddNumberToObject(doc, "hitsPerPage", 2);
        return doc;
}

static int parse_page(T *t, const char *cursor, const char *page, cJSON *doc) {
        int r = parse_json(t, cursor, page, doc);
        cJSON_Delete(doc);
        return r;
}

static bool starts_with(const char *s, const char *prefix) {
        return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* ---- options and feeds ------------------------------------------------------------------------
 */

static void test_descriptor(void **state) {
        expect_source_descriptor("hackernews");

        size_t n = 0;
        for (const struct earshot_option *o = P->options; o->name; o++, n++) {
                assert_non_null(o->description);
                assert_false(o->flags & EARSHOT_OPT_SECRET);
                if (strcmp(o->name, "queries") == 0) {
                        assert_int_equal(o->type, EARSHOT_OPT_STRLIST);
                        assert_true(o->flags & EARSHOT_OPT_REQUIRED);
                } else
                        assert_non_null(o->def); /* every other option has a default */
        }
        assert_int_equal(n, 6);
}

static void test_feeds(void **state) {
        T *t = *state;

        create_ok(t, SETTINGS("queries=acme", "queries=  Acme ", "queries=acme\t corp",
                              "queries=ACME CORP"));
        /* blanks collapsed, duplicates (case-insensitive, as Algolia matches) dropped */
        assert_string_equal(P->source->feed(t->state, 0), "https://hn.algolia.com#acme");
        assert_string_equal(P->source->feed(t->state, 1), "https://hn.algolia.com#acme corp");
        assert_null(P->source->feed(t->state, 2));
        assert_null(P->source->feed(t->state, UINT32_MAX));

        create_ok(t, SETTINGS("queries=acme", "base_url=HTTP://127.0.0.1:8080/"));
        assert_string_equal(P->source->feed(t->state, 0), "http://127.0.0.1:8080#acme");
        create_ok(t, SETTINGS("queries=acme", "base_url=http://localhost/hn/"));
        assert_string_equal(P->source->feed(t->state, 0), "http://localhost/hn#acme");
        create_ok(t, SETTINGS("queries=acme", "base_url=http://[::1]:9"));
        assert_string_equal(P->source->feed(t->state, 0), "http://[::1]:9#acme");
}

static void test_create_rejects(void **state) {
        T *t = *state;

        expect_rejected(t, SETTINGS("queries=   "), "empty query");
        expect_rejected(t,
                        SETTINGS("queries=acme", "queries=a\x01"
                                                 "b"),
                        "control characters");
        expect_rejected(t, SETTINGS("queries=acme", "tags=story comment"), "tags: 'story comment'");
        expect_rejected(t, SETTINGS("queries=acme", "tags=(story)"), "tags");
        expect_rejected(t, SETTINGS("queries=acme", "hits_per_page=0"),
                        "hits_per_page: 0 is out of range 1..1000");
        expect_rejected(t, SETTINGS("queries=acme", "hits_per_page=1001"), "hits_per_page");
        expect_rejected(t, SETTINGS("queries=acme", "max_pages=0"), "max_pages");
        /* the core follows 50 pages at most; more would never be asked for */
        expect_rejected(t, SETTINGS("queries=acme", "max_pages=51"), "out of range 1..50");
        expect_rejected(t, SETTINGS("queries=acme", "overlap=8d"), "overlap");
        expect_rejected(t, SETTINGS("queries=acme", "base_url=http://hn.algolia.com"),
                        "must use https://");
        expect_rejected(t, SETTINGS("queries=acme", "base_url=ftp://hn.algolia.com"),
                        "not an http:// or https:// URL");
        expect_rejected(t, SETTINGS("queries=acme", "base_url=https://hn.algolia.com/?x=1"),
                        "query");
        expect_rejected(t, SETTINGS("queries=acme", "base_url=https://u:p@hn.algolia.com"),
                        "credentials");
        expect_rejected(t, SETTINGS("queries=acme", "base_url=https://hn.algolia.com:0"), "port");
        expect_rejected(t, SETTINGS("queries=acme", "base_url=https://"), "has no host");
        expect_rejected(t, SETTINGS("queries=acme", "base_url=https://h\xc3\xa9.example"),
                        "punycode");
        /* a required option missing (the core checks too; the plugin must not crash) */
        expect_rejected(t, SETTINGS("tags=story"), "queries");
}

/* ---- requests -------------------------------------------------------------------------------- */

static void test_request_first_poll(void **state) {
        T *t = *state;

        create_ok(t, SETTINGS("queries=acme corp"));
        build(t, 0, NULL, NULL);
        assert_string_equal(t->req.method, "GET");
        assert_string_equal(t->req.url, "https://hn.algolia.com/api/v1/search_by_date"
                                        "?query=acme%20corp&tags=%28story%2Ccomment%29"
                                        "&hitsPerPage=100");
        assert_string_equal(mock_request_header(&t->req, "Accept"), "application/json");
        assert_null(t->req.body);

        /* tags: one list element with commas, or several, duplicates dropped */
        create_ok(t, SETTINGS("queries=acme", "tags=story", "tags=ask_hn, story", "tags=author_pg",
                              "hits_per_page=1000"));
        build(t, 0, NULL, NULL);
        assert_string_equal(t->req.url, "https://hn.algolia.com/api/v1/search_by_date"
                                        "?query=acme&tags=%28story%2Cask_hn%2Cauthor_pg%29"
                                        "&hitsPerPage=1000");
        /* the query is data: whatever it holds is encoded */
        create_ok(t, SETTINGS("queries=a&b=c #d \"e\" caf\xc3\xa9"));
        build(t, 0, NULL, NULL);
        assert_non_null(strstr(t->req.url, "?query=a%26b%3Dc%20%23d%20%22e%22%20caf%C3%A9&"));
}

static void test_request_cursor(void **state) {
        T *t = *state;

        create_ok(t, SETTINGS("queries=acme", "base_url=http://127.0.0.1:8080"));
        /* the cursor's second, ">=": an item of the same second indexed late is not lost */
        build(t, 0, "1403235346", NULL);
        assert_string_equal(t->req.url, "http://127.0.0.1:8080/api/v1/search_by_date?query=acme"
                                        "&tags=%28story%2Ccomment%29&hitsPerPage=100"
                                        "&numericFilters=created_at_i%3E%3D1403235346");
        build(t, 0, "1403235346:7919424,7919431", NULL);
        assert_non_null(strstr(t->req.url, "&numericFilters=created_at_i%3E%3D1403235346"));
        /* a recent cursor: re-read `overlap` (5m) before now for late-indexed items */
        build(t, 0, "1785592700:40001210", NULL);
        assert_non_null(strstr(t->req.url, "&numericFilters=created_at_i%3E%3D1785592500"));
        create_ok(t, SETTINGS("queries=acme", "overlap=0s"));
        build(t, 0, "1785592700:40001210", NULL);
        assert_non_null(strstr(t->req.url, "&numericFilters=created_at_i%3E%3D1785592700"));
        /* a cursor this plugin did not write: start afresh (parse_response says so) */
        build(t, 0, "yesterday", NULL);
        assert_null(strstr(t->req.url, "numericFilters"));
}

static void test_request_page(void **state) {
        T *t = *state;

        create_ok(t, SETTINGS("queries=acme", "hits_per_page=2"));
        /* page 1 of the window [100, 200] */
        build(t, 0, "150", "2:1:100:200:150:200:7");
        assert_string_equal(t->req.url, "https://hn.algolia.com/api/v1/search_by_date?query=acme"
                                        "&tags=%28story%2Ccomment%29&hitsPerPage=2"
                                        "&numericFilters=created_at_i%3E%3D100"
                                        "%2Ccreated_at_i%3C%3D200&page=1");
        /* a narrowed window starts at its page 0, which Algolia takes as the default */
        build(t, 0, "150", "3:0:100:180:150:200:7");
        assert_string_equal(t->req.url, "https://hn.algolia.com/api/v1/search_by_date?query=acme"
                                        "&tags=%28story%2Ccomment%29&hitsPerPage=2"
                                        "&numericFilters=created_at_i%3E%3D100"
                                        "%2Ccreated_at_i%3C%3D180");

        /* tokens this plugin did not write are bugs, not requests */
        static const char *const bad[] = {
                "junk",
                "1:1:100:200:150:200",
                "2:1:100:200:150",
                "2:1:300:200:150:200",
                "99:1:100:200:150:200",
                "2:1:100:200:150:200:",
                "2:1:100:200:150:200:x",
                "2:-1:100:200:150:200",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                mock_request_done(&t->req);
                mock_request_init(&t->req);
                if (P->source->build_request(t->state, 0, NULL, bad[i], &t->req) != -EINVAL)
                        fail_msg("token \"%s\" accepted", bad[i]);
        }
        assert_int_equal(P->source->build_request(t->state, 1, NULL, NULL, &t->req), -EINVAL);
}

/* ---- posts ----------------------------------------------------------------------------------- */

static void test_parse_comment(void **state) {
        T *t = *state;

        create_ok(t, SETTINGS("queries=acme"));
        /* the first poll ever: newest page, cursor starts there, no paging */
        assert_int_equal(parse_fixture(t, NULL, NULL, "hackernews/by-date-comment.json"), 0);
        assert_int_equal(t->sink.n_posts, 1);
        const struct earshot_post *p = &t->sink.posts[0];
        assert_string_equal(p->id, "hn:7919431");
        assert_string_equal(p->network, "hackernews");
        assert_string_equal(p->url, "https://news.ycombinator.com/item?id=7919431");
        /* HTML: <p> breaks, &#x2F; and &#x27; decoded, the link's text kept */
        assert_string_equal(p->text,
                            "A perennial HN favorite\n"
                            "https://hn.algolia.com/?q=Fibonacci+Flim-Flam#!/all/forever/...\n"
                            "What's fascinating about this topic is that the reposts come at "
                            "intervals that approximates the Fibonacci sequence.");
        assert_string_equal(p->author_handle, "gohrt");
        assert_null(p->author_name);
        assert_int_equal(p->author_followers, -1);
        assert_null(p->lang);
        assert_int_equal(p->created_usec, INT64_C(1403235595) * SEC); /* 2014-06-20T03:39:55Z */
        assert_null(p->title); /* a comment has none; the story title is not its text */
        assert_string_equal(p->reply_to, "hn:7919207");
        assert_int_equal(p->replies, -1); /* num_comments: null */
        assert_int_equal(p->reposts, -1);
        assert_int_equal(p->likes, 1);
        assert_int_equal(p->rating, 0);
        assert_int_equal(p->edited_usec, 0);
        assert_int_equal(t->sink.n_cursor, 1);
        assert_string_equal(t->sink.cursor, "1403235595:7919431");
        assert_int_equal(t->sink.n_page, 0);
        assert_int_equal(t->sink.n_gaps, 0);

        /* the same page after that cursor: the hit is known, nothing moves */
        assert_int_equal(
                parse_fixture(t, "1403235595:7919431", NULL, "hackernews/by-date-comment.json"), 0);
        assert_int_equal(t->sink.n_posts, 0);
        assert_int_equal(t->sink.n_cursor, 0);

        /* a reply to a reply: parent_id, not the story */
        assert_int_equal(parse_fixture(t, NULL, NULL, "hackernews/by-date-comment-apple.json"), 0);
        p = &t->sink.posts[0];
        assert_string_equal(p->id, "hn:7919418");
        assert_string_equal(p->reply_to, "hn:7919290");
        assert_string_equal(p->author_handle, "fleitz");
        assert_true(strstr(p->text, "they aren't contributing to the scholarship they do pay"));
        assert_true(strstr(p->text, "Starbucks/Wal-Mart"));
        assert_null(strstr(p->text, "<em>")); /* never the highlighted copy */
        assert_non_null(strstr(p->text, "shouldn't be applauded."));

        assert_int_equal(parse_fixture(t, NULL, NULL, "hackernews/by-date-comment-pg.json"), 0);
        p = &t->sink.posts[0];
        assert_string_equal(p->text, "Is there a forum that doesn't ban people?");
        assert_string_equal(p->author_handle, "pg");
        assert_int_equal(p->likes, 8);
        assert_string_equal(p->reply_to, "hn:7494175");
        assert_string_equal(t->sink.cursor, "1396138355:7494555");
}

static void test_parse_story(void **state) {
        T *t = *state;

        create_ok(t, SETTINGS("queries=apple"));
        assert_int_equal(parse_fixture(t, NULL, NULL, "hackernews/by-date-story-apple.json"), 0);
        assert_int_equal(t->sink.n_posts, 1);
        const struct earshot_post *p = &t->sink.posts[0];
        assert_string_equal(p->id, "hn:7919424");
        assert_string_equal(p->network, "hackernews");
        assert_string_equal(p->url, "https://news.ycombinator.com/item?id=7919424");
        assert_string_equal(p->title, "Judge says concerned about Apple, Google hiring settlement");
        /* a link story: no story_text, the link is the text */
        assert_string_equal(p->text, "http://in.reuters.com/article/2014/06/19/"
                                     "apple-google-settlement-idINL2N0P01ZI20140619");
        assert_string_equal(p->author_handle, "bradleyjg");
        assert_null(p->author_name);
        assert_int_equal(p->author_followers, -1);
        assert_null(p->lang);
        assert_int_equal(p->created_usec, INT64_C(1403235346) * SEC);
        assert_null(p->reply_to);
        assert_int_equal(p->replies, 0);
        assert_int_equal(p->reposts, -1);
        assert_int_equal(p->likes, 1);
        assert_string_equal(t->sink.cursor, "1403235346:7919424");

        assert_int_equal(parse_fixture(t, NULL, NULL, "hackernews/by-date-story-pg.json"), 0);
        p = &t->sink.posts[0];
        assert_string_equal(p->title, "Meet the People Taking over Hacker News");
        assert_string_equal(p->text,
                            "http://blog.ycombinator.com/meet-the-people-taking-over-hacker-news");
        assert_int_equal(p->replies, 290);
        assert_int_equal(p->likes, 578);
        assert_int_equal(p->created_usec, INT64_C(1396125804) * SEC);

        /* Ask HN: story_text (HTML) is the text, url "" is no link */
        assert_int_equal(
                parse_fixture(t, NULL, NULL, "hackernews/by-date-ask-hn-page-2-apple.json"), 0);
        p = &t->sink.posts[0];
        assert_string_equal(p->id, "hn:7915384");
        assert_string_equal(p->title, "Ask HN: How can I get Swag from Startups?");
        assert_true(starts_with(p->text, "\\tHello HN,\\nI'm a college student from India."));
        assert_true(strstr(p->text, "when received :) Thanks"));
        assert_null(strstr(p->text, "http"));
        assert_int_equal(p->replies, 3);

        /* a poll is a story: title, and its text with &quot; decoded */
        assert_int_equal(parse_fixture(t, NULL, NULL, "hackernews/by-date-poll.json"), 0);
        p = &t->sink.posts[0];
        assert_string_equal(p->id, "hn:7918694");
        assert_string_equal(p->title, "Poll: Do you experience \"The Hum\"?");
        assert_true(starts_with(p->text, "According to this article, between 2 and 10% of the "
                                         "population experiences \"The Hum\""));
        assert_true(strstr(p->text, "https://news.ycombinator.com/item?id=7917771."));
        assert_true(strstr(p->text, "\nDo you experience this hum?"));
        assert_int_equal(p->likes, 3);
        assert_int_equal(p->replies, 1);
}

static void test_parse_2026_shape(void **state) {
        T *t = *state;

        /* the response shape of today's API: exhaustive{}, updated_at, children[], ... */
        create_ok(t, SETTINGS("queries=acme"));
        assert_int_equal(parse_fixture(t, "1785591000", NULL, "hackernews/by-date-2026-shape.json"),
                         0);
        expect_ids(t, 2, "hn:40001000", "hn:40001210"); /* oldest first */
        const struct earshot_post *p = find_post(t, "hn:40001000");
        assert_string_equal(p->title, "Acme firmware 4.2 bricks routers");
        assert_string_equal(p->text, "https://acme.example/blog/4.2");
        assert_string_equal(p->author_handle, "rkm");
        assert_int_equal(p->created_usec, INT64_C(1785591600) * SEC);
        assert_int_equal(p->replies, 57);
        assert_int_equal(p->likes, 212);
        assert_null(p->reply_to);
        assert_int_equal(p->edited_usec, 0); /* updated_at is Algolia's, not an edit */

        p = find_post(t, "hn:40001210");
        assert_null(p->title);
        assert_string_equal(p->text, "Acme's router firmware bricked mine too. Support told me "
                                     "to \"wait for the fix\".\n"
                                     "Details: https://acme.example/kb/77");
        assert_string_equal(p->reply_to, "hn:40001190");
        assert_int_equal(p->replies, -1);
        assert_int_equal(p->likes, -1);
        assert_int_equal(p->created_usec, INT64_C(1785592700) * SEC);
        assert_string_equal(t->sink.cursor, "1785592700:40001210");
        assert_int_equal(t->sink.n_page, 0);
        assert_int_equal(t->sink.n_gaps, 0);
}

/* ---- the cursor ------------------------------------------------------------------------------ */

static void test_cursor_ties(void **state) {
        T *t = *state;

        create_ok(t, SETTINGS("queries=acme", "overlap=0s"));

        /* first poll: the newest second and every id at it */
        assert_int_equal(parse_page(t, NULL, NULL,
                                    page_doc(3, 1, 0, 3, "30", INT64_C(1000), "29", INT64_C(1000),
                                             "28", INT64_C(999))),
                         0);
        expect_ids(t, 3, "hn:28", "hn:29", "hn:30");
        assert_string_equal(t->sink.cursor, "1000:29,30");

        /* the next poll asks >= 1000 and gets 29 and 30 again, with 31 of the same second */
        assert_int_equal(parse_page(t, "1000:29,30", NULL,
                                    page_doc(3, 1, 0, 3, "31", INT64_C(1000), "30", INT64_C(1000),
                                             "29", INT64_C(1000))),
                         0);
        expect_ids(t, 1, "hn:31");
        assert_string_equal(t->sink.cursor, "1000:29,30,31");

        /* a newer second replaces the ids */
        assert_int_equal(parse_page(t, "1000:29,30,31", NULL,
                                    page_doc(2, 1, 0, 2, "33", INT64_C(1002), "31", INT64_C(1000))),
                         0);
        expect_ids(t, 1, "hn:33");
        assert_string_equal(t->sink.cursor, "1002:33");

        /* never backwards: old hits (a server ignoring the filter) are emitted, the cursor stays */
        assert_int_equal(parse_page(t, "1002:33", NULL, page_doc(1, 1, 0, 1, "5", INT64_C(10))), 0);
        expect_ids(t, 1, "hn:5");
        assert_int_equal(t->sink.n_cursor, 0);

        /* an empty page keeps the cursor */
        assert_int_equal(parse(t, "1002:33", NULL, "{\"hits\":[],\"nbHits\":0,\"nbPages\":0}"), 0);
        assert_int_equal(t->sink.n_posts, 0);
        assert_int_equal(t->sink.n_cursor, 0);
        assert_int_equal(t->sink.n_page, 0);

        /* at most 16 ids are kept for one second; the rest are the seen-set's */
        cJSON *doc = page_doc(20, 1, 0, 0);
        cJSON *hits = cJSON_GetObjectItem(doc, "hits");
        for (int k = 0; k < 20; k++) {
                char id[8];
                (void)snprintf(id, sizeof(id), "%d", 100 + k);
                cJSON_AddItemToArray(hits, hit(id, 2000));
        }
        create_ok(t, SETTINGS("queries=acme", "hits_per_page=50"));
        assert_int_equal(parse_page(t, "1002", NULL, doc), 0);
        assert_int_equal(t->sink.n_posts, 20);
        assert_string_equal(t->sink.cursor, "2000:119,118,117,116,115,114,113,112,111,110,109,108,"
                                            "107,106,105,104");
}

static void test_first_poll(void **state) {
        T *t = *state;

        create_ok(t, SETTINGS("queries=acme", "hits_per_page=2"));
        /* a full first page with more behind it: no history digging, no gap */
        assert_int_equal(
                parse_page(t, NULL, NULL,
                           page_doc(50, 25, 0, 2, "12", INT64_C(1200), "11", INT64_C(1100))),
                0);
        expect_ids(t, 2, "hn:11", "hn:12");
        assert_int_equal(t->sink.n_page, 0);
        assert_int_equal(t->sink.n_gaps, 0);
        assert_string_equal(t->sink.cursor, "1200:12");

        /* nothing yet: listen from now on (minus the overlap) */
        assert_int_equal(
                parse(t, NULL, NULL, "{\"hits\":[],\"nbHits\":0,\"nbPages\":0,\"page\":0}"), 0);
        assert_int_equal(t->sink.n_cursor, 1);
        assert_string_equal(t->sink.cursor, "1785592500");

        /* an unreadable cursor is said once and the feed starts afresh */
        mock_host_clear_logs(&t->mh);
        assert_int_equal(parse_page(t, "junk", NULL, page_doc(1, 1, 0, 1, "12", INT64_C(1200))), 0);
        assert_string_equal(t->sink.cursor, "1200:12");
        assert_int_equal(
                mock_host_count_logs(&t->mh, EARSHOT_LOG_WARNING, "cannot read the cursor"), 1);
}

/* ---- paging ---------------------------------------------------------------------------------- */

static void test_paging(void **state) {
        T *t = *state;

        create_ok(t, SETTINGS("queries=acme", "hits_per_page=2", "overlap=0s"));

        /* page 0 after cursor 1000: full, 3 pages in the window; the cursor waits for the end */
        assert_int_equal(parse_page(t, "1000:9", NULL,
                                    page_doc(5, 3, 0, 2, "15", INT64_C(1500), "14", INT64_C(1400))),
                         EARSHOT_MORE);
        expect_ids(t, 2, "hn:14", "hn:15");
        assert_int_equal(t->sink.n_cursor, 0);
        assert_int_equal(t->sink.n_gaps, 0);
        /* request 2, page 1 of the window [1000, 1500] pinned at the newest hit */
        assert_string_equal(t->sink.page, "2:1:1000:1500:1000:1500:15");
        build(t, 0, "1000:9", t->sink.page);
        assert_non_null(strstr(t->req.url, "&numericFilters=created_at_i%3E%3D1000"
                                           "%2Ccreated_at_i%3C%3D1500&page=1"));

        /* page 1: full again */
        assert_int_equal(parse_page(t, "1000:9", "2:1:1000:1500:1000:1500:15",
                                    page_doc(5, 3, 1, 2, "13", INT64_C(1300), "12", INT64_C(1200))),
                         EARSHOT_MORE);
        assert_string_equal(t->sink.page, "3:2:1000:1500:1000:1500:15");
        assert_int_equal(t->sink.n_cursor, 0);

        /* page 2: the last one (short; it reaches the cursor's second, 9 is known) */
        assert_int_equal(parse_page(t, "1000:9", "3:2:1000:1500:1000:1500:15",
                                    page_doc(5, 3, 2, 2, "10", INT64_C(1100), "9", INT64_C(1000))),
                         0);
        expect_ids(t, 1, "hn:10");
        assert_int_equal(t->sink.n_page, 0);
        assert_int_equal(t->sink.n_gaps, 0);
        assert_string_equal(t->sink.cursor, "1500:15");

        /* a full last page of the window, nbHits agreeing: the walk is complete */
        assert_int_equal(parse_page(t, "1000", "3:2:1000:1500:1000:1500:15",
                                    page_doc(6, 3, 2, 2, "10", INT64_C(1100), "9", INT64_C(1000))),
                         0);
        assert_int_equal(t->sink.n_page, 0);
        assert_int_equal(t->sink.n_gaps, 0);
        assert_string_equal(t->sink.cursor, "1500:15");

        /* without nbPages, a full page asks for the next, an empty one ends the walk */
        assert_int_equal(parse(t, "1000", NULL,
                               "{\"hits\":[{\"objectID\":\"15\",\"created_at_i\":1500,"
                               "\"_tags\":[\"comment\"],\"comment_text\":\"x\"},"
                               "{\"objectID\":\"14\",\"created_at_i\":1400,"
                               "\"_tags\":[\"comment\"],\"comment_text\":\"y\"}]}"),
                         EARSHOT_MORE);
        assert_string_equal(t->sink.page, "2:1:1000:1500:1000:1500:15");
        assert_int_equal(parse(t, "1000", "2:1:1000:1500:1000:1500:15", "{\"hits\":[]}"), 0);
        assert_string_equal(t->sink.cursor, "1500:15");
}

static void test_max_pages_gap(void **state) {
        T *t = *state;

        create_ok(t, SETTINGS("queries=acme", "hits_per_page=2", "max_pages=2", "overlap=0s"));
        assert_int_equal(
                parse_page(t, "1000", NULL,
                           page_doc(10, 5, 0, 2, "20", INT64_C(2000), "19", INT64_C(1900))),
                EARSHOT_MORE);
        /* request 2 = max_pages, still full, pages left: stop, record the gap, move on */
        assert_string_equal(t->sink.page, "2:1:1000:2000:1000:2000:20");
        mock_host_clear_logs(&t->mh);
        assert_int_equal(
                parse_page(t, "1000", "2:1:1000:2000:1000:2000:20",
                           page_doc(10, 5, 1, 2, "18", INT64_C(1800), "17", INT64_C(1700))),
                0);
        expect_ids(t, 2, "hn:17", "hn:18");
        assert_int_equal(t->sink.n_page, 0);
        assert_int_equal(t->sink.n_gaps, 1);
        assert_int_equal(t->sink.gap_from_usec, INT64_C(1000) * SEC);
        assert_int_equal(t->sink.gap_to_usec, INT64_C(1700) * SEC);
        assert_string_equal(t->sink.gap_reason, "max_pages");
        assert_string_equal(t->sink.cursor, "2000:20");
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_INFO, "stopped after 2 requests"),
                         1);

        /* max_pages=1: every poll is one request */
        create_ok(t, SETTINGS("queries=acme", "hits_per_page=2", "max_pages=1", "overlap=0s"));
        assert_int_equal(
                parse_page(t, "1000", NULL,
                           page_doc(10, 5, 0, 2, "20", INT64_C(2000), "19", INT64_C(1900))),
                0);
        assert_int_equal(t->sink.n_gaps, 1);
        assert_int_equal(t->sink.gap_to_usec, INT64_C(1900) * SEC);
        assert_string_equal(t->sink.cursor, "2000:20");

        /* stopped, but below the cursor already (the overlap): nothing missed, no gap */
        assert_int_equal(
                parse_page(t, "1950", NULL,
                           page_doc(10, 5, 0, 2, "20", INT64_C(2000), "19", INT64_C(1900))),
                0);
        assert_int_equal(t->sink.n_gaps, 0);
}

static void test_window_gap(void **state) {
        T *t = *state;

        /* 2 hits a page, Algolia's window = 1 page (as 1000 hits of 1000), 3 requests a poll */
        create_ok(t, SETTINGS("queries=acme", "hits_per_page=2", "max_pages=3", "overlap=0s"));
        assert_int_equal(
                parse_page(t, "1000", NULL,
                           page_doc(5000, 1, 0, 2, "50", INT64_C(5000), "49", INT64_C(4900))),
                EARSHOT_MORE);
        /* the window is exhausted but nbHits says more: narrow it to end at the oldest hit */
        assert_string_equal(t->sink.page, "2:0:1000:4900:1000:5000:50");
        assert_int_equal(t->sink.n_gaps, 0);
        build(t, 0, "1000", t->sink.page);
        assert_non_null(strstr(t->req.url, "&numericFilters=created_at_i%3E%3D1000"
                                           "%2Ccreated_at_i%3C%3D4900"));
        assert_null(strstr(t->req.url, "&page="));

        /* the narrowed window repeats 49 (same second, "<="): the seen-set drops it */
        assert_int_equal(
                parse_page(t, "1000", "2:0:1000:4900:1000:5000:50",
                           page_doc(4000, 1, 0, 2, "49", INT64_C(4900), "48", INT64_C(4800))),
                EARSHOT_MORE);
        assert_string_equal(t->sink.page, "3:0:1000:4800:1000:5000:50");

        /* request 3 = max_pages at the end of a truncated window: the 1,000-hit gap */
        assert_int_equal(
                parse_page(t, "1000", "3:0:1000:4800:1000:5000:50",
                           page_doc(3000, 1, 0, 2, "48", INT64_C(4800), "47", INT64_C(4700))),
                0);
        assert_int_equal(t->sink.n_page, 0);
        assert_int_equal(t->sink.n_gaps, 1);
        assert_string_equal(t->sink.gap_reason, "1,000-hit window");
        assert_int_equal(t->sink.gap_from_usec, INT64_C(1000) * SEC);
        assert_int_equal(t->sink.gap_to_usec, INT64_C(4700) * SEC);
        assert_string_equal(t->sink.cursor, "5000:50");

        /* a full window within one second cannot be narrowed: gap at once */
        assert_int_equal(
                parse_page(t, "1000", NULL,
                           page_doc(5000, 1, 0, 2, "50", INT64_C(5000), "49", INT64_C(5000))),
                0);
        assert_int_equal(t->sink.n_page, 0);
        assert_int_equal(t->sink.n_gaps, 1);
        assert_string_equal(t->sink.gap_reason, "1,000-hit window");
        assert_int_equal(t->sink.gap_to_usec, INT64_C(5000) * SEC);
        assert_string_equal(t->sink.cursor, "5000:49,50");

        /* the defaults: 100 a page, 10 requests = exactly Algolia's 1,000 hits */
        create_ok(t, SETTINGS("queries=acme"));
        assert_int_equal(
                parse_page(t, "1000", "10:9:1000:5000:1000:5000:50", page_doc(5000, 10, 9, 0)), 0);
        assert_int_equal(t->sink.n_gaps, 0); /* not full: the end */
}

static void test_gap_without_report_gap(void **state) {
        T *t = *state;

        /* a core from before report_gap: the gap is logged, never silent */
        t->mh.host.size = offsetof(struct earshot_host, set_backoff);
        create_ok(t, SETTINGS("queries=acme", "hits_per_page=2", "max_pages=1", "overlap=0s"));
        assert_int_equal(
                parse_page(t, "1000", NULL,
                           page_doc(10, 5, 0, 2, "20", INT64_C(2000), "19", INT64_C(1900))),
                0);
        assert_int_equal(t->sink.n_gaps, 0);
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_WARNING,
                                              "coverage gap (max_pages): items created between "
                                              "1000 and 1900"),
                         1);
        assert_string_equal(t->sink.cursor, "2000:20");
}

/* ---- failure modes --------------------------------------------------------------------------- */

static void expect_bad(T *t, const char *body, size_t len) {
        expect_bad_feed(t, 0, "1", body, len);
}

static void test_garbage(void **state) {
        T *t = *state;
        size_t len;
        char *body = mock_read_fixture("hackernews/by-date-2026-shape.json", &len);

        create_ok(t, SETTINGS("queries=acme"));
        mock_host_clear_logs(&t->mh);

        /* truncated anywhere: nothing at all */
        for (size_t cut = 0; cut < len - 1; cut += len / 41 + 1)
                expect_bad(t, body, cut);
        assert_true(mock_host_count_logs(&t->mh, EARSHOT_LOG_ERR, "not valid JSON") > 30);
        free(body);

#define BAD(s) expect_bad(t, s, sizeof(s) - 1)
        BAD("");
        BAD("<html><body>502 Bad Gateway</body></html>");
        BAD("null");
        BAD("[]");
        BAD("{}");
        BAD("{\"hits\":{}}");
        BAD("{\"hits\":null}");
        BAD("{\"hits\":[]} {}");
        BAD("{\"hits\":[]}x");
        BAD("{\"hits\":[]\0}");

        mock_host_clear_logs(&t->mh);
        BAD("{\"message\":\"Invalid value for numericFilters\",\"status\":400}");
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_ERR,
                                              "https://hn.algolia.com#acme: expected an object "
                                              "with a \"hits\" array, got an object (message: "
                                              "\"Invalid value for numericFilters\")"),
                         1);
#undef BAD

        /* nesting: 64 levels are JSON, 65 are refused before cJSON sees them */
        char deep[256];
        int n = snprintf(deep, sizeof(deep), "{\"hits\":[],\"x\":");
        for (int k = 0; k < 63; k++)
                deep[n++] = '[';
        for (int k = 0; k < 63; k++)
                deep[n++] = ']';
        deep[n++] = '}';
        deep[n] = 0;
        assert_int_equal(parse(t, "1", NULL, deep), 0);
        n = snprintf(deep, sizeof(deep), "{\"hits\":[],\"x\":");
        for (int k = 0; k < 64; k++)
                deep[n++] = '[';
        for (int k = 0; k < 64; k++)
                deep[n++] = ']';
        deep[n++] = '}';
        deep[n] = 0;
        mock_host_clear_logs(&t->mh);
        expect_bad(t, deep, (size_t)n);
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_ERR, "deeper than 64"), 1);
        /* brackets in strings are not nesting */
        assert_int_equal(parse(t, "1", NULL,
                               "{\"hits\":[],\"x\":\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
                               "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\\\"[[[\"}"),
                         0);

        char *huge = malloc(300001);
        assert_non_null(huge);
        memset(huge, '[', 300000);
        huge[300000] = 0;
        expect_bad(t, huge, 300000);
        free(huge);
}

static void test_wrong_types(void **state) {
        T *t = *state;
        static const char body[] =
                "{\"hits\":[1, \"str\", null, true, [], {},"
                "{\"objectID\":\"abc\",\"comment_text\":\"x\"},"
                "{\"objectID\":\"\",\"comment_text\":\"x\"},"
                "{\"objectID\":\"123456789012345678901\",\"comment_text\":\"x\"},"
                "{\"objectID\":-5,\"comment_text\":\"x\"},"
                "{\"objectID\":\"1\",\"_tags\":[\"comment\"],\"comment_text\":7},"
                "{\"objectID\":\"2\",\"_tags\":[\"story\"],\"title\":null,\"story_text\":\"\"},"
                "{\"objectID\":\"3\",\"_tags\":\"comment\",\"comment_text\":\"<p>ok</p>\","
                " \"author\":5,\"created_at_i\":\"1400000000\",\"created_at\":\"2014-05-13T16:53:"
                "20Z\","
                " \"points\":\"3\",\"num_comments\":1e300,\"parent_id\":\"77\"},"
                "{\"objectID\":4,\"title\":\"T\",\"story_text\":7,\"url\":[],\"created_at_i\":1e15,"
                " \"created_at\":\"2014-13-01T00:00:00Z\",\"points\":-3,\"num_comments\":2.5,"
                " \"_tags\":[null,7,\"story\"]},"
                "{\"objectID\":\"5\",\"_tags\":[\"comment\"],\"comment_text\":\"<b>unclosed "
                "<i>tags "
                "&bogus; &#0; &#x110000;\",\"created_at_i\":1400000001,\"parent_id\":1e300,"
                " \"story_id\":9}"
                "],\"nbHits\":\"x\",\"nbPages\":-1}";

        create_ok(t, SETTINGS("queries=acme"));
        mock_host_clear_logs(&t->mh);
        assert_int_equal(parse(t, "1", NULL, body), 0);
        expect_ids(t, 3, "hn:5", "hn:4", "hn:3");

        const struct earshot_post *p = find_post(t, "hn:3");
        assert_string_equal(p->text, "ok");
        assert_null(p->author_handle);
        assert_int_equal(p->created_usec, INT64_C(1400000000) * SEC); /* from created_at */
        assert_int_equal(p->likes, -1);
        assert_int_equal(p->replies, -1);
        assert_string_equal(p->reply_to, "hn:77");

        p = find_post(t, "hn:4");
        assert_string_equal(p->title, "T");
        assert_string_equal(p->text, "");
        assert_int_equal(p->created_usec, 0);
        assert_int_equal(p->likes, -1);
        assert_int_equal(p->replies, -1);

        p = find_post(t, "hn:5");
        assert_non_null(strstr(p->text, "unclosed tags"));
        assert_string_equal(p->reply_to, "hn:9"); /* parent_id unusable: the story */

        /* one warning for the page, naming the first bad hit */
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_WARNING,
                                              "skipped 12 of 15 hits that are not valid items"),
                         1);
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_ERR, ""), 0);
        /* the cursor: the newest hit with a time */
        assert_string_equal(t->sink.cursor, "1400000001:5");
        assert_int_equal(t->sink.n_page, 0); /* 15 < 100 */
}

/* parse_error(): Algolia's error answers. */
static void test_parse_error(void **state) {
        T *t = *state;
        int r;

        create_ok(t, SETTINGS("queries=acme"));
        mock_host_clear_logs(&t->mh);
        r = error_response_fixture(t, 0, "1785592000", NULL, 400, "hackernews/error-400.json");
        expect_explained(t, r, EARSHOT_BLOCKED,
                         "Algolia refused the search (HTTP 400: Invalid syntax for numeric value: "
                         "created_at_i>=x); check `queries` and `tags`");
        expect_failure(t, 0, NULL, NULL, 400, "", EARSHOT_BLOCKED,
                       "Algolia refused the search (HTTP 400); check");
        expect_failure(t, 0, NULL, NULL, 429, "{\"message\":\"Too many requests\",\"status\":429}",
                       EARSHOT_RETRY,
                       "Algolia's rate limit (HTTP 429: Too many requests; about 10,000 requests "
                       "an hour per IP)");
        assert_int_equal(t->sink.backoff_usec, 0);
        expect_generic(t, 0, NULL, NULL, 404, "{\"message\":\"Not Found\",\"status\":404}");
        expect_generic(t, 0, NULL, NULL, 500, "");
        expect_generic(t, 0, NULL, NULL, 503, "<html>x</html>");
        assert_int_equal(mock_host_count_logs(&t->mh, -1, ""), 0);
        assert_int_equal(P->source->parse_error(t->state, 1, NULL, NULL,
                                                &(struct earshot_response){.size = 1}, &t->sink),
                         -EINVAL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_descriptor, setup, teardown),
                cmocka_unit_test_setup_teardown(test_feeds, setup, teardown),
                cmocka_unit_test_setup_teardown(test_create_rejects, setup, teardown),
                cmocka_unit_test_setup_teardown(test_request_first_poll, setup, teardown),
                cmocka_unit_test_setup_teardown(test_request_cursor, setup, teardown),
                cmocka_unit_test_setup_teardown(test_request_page, setup, teardown),
                cmocka_unit_test_setup_teardown(test_parse_comment, setup, teardown),
                cmocka_unit_test_setup_teardown(test_parse_story, setup, teardown),
                cmocka_unit_test_setup_teardown(test_parse_2026_shape, setup, teardown),
                cmocka_unit_test_setup_teardown(test_cursor_ties, setup, teardown),
                cmocka_unit_test_setup_teardown(test_first_poll, setup, teardown),
                cmocka_unit_test_setup_teardown(test_paging, setup, teardown),
                cmocka_unit_test_setup_teardown(test_max_pages_gap, setup, teardown),
                cmocka_unit_test_setup_teardown(test_window_gap, setup, teardown),
                cmocka_unit_test_setup_teardown(test_gap_without_report_gap, setup, teardown),
                cmocka_unit_test_setup_teardown(test_garbage, setup, teardown),
                cmocka_unit_test_setup_teardown(test_wrong_types, setup, teardown),
                cmocka_unit_test_setup_teardown(test_parse_error, setup, teardown),
        };
        return cmocka_run_group_tests_name("source-hackernews", tests, NULL, NULL);
}
