/* SPDX-License-Identifier: MIT */
/*
 * test-source-lemmy.c - the lemmy source against Lemmy 0.19 (API v3) responses written by the
 * project from the documented format (tests/fixtures/lemmy/, see PROVENANCE.md there: no
 * recorded Lemmy responses exist in the shared fixtures): options, feeds per instance, query
 * and community, request URLs, posts and comments field by field (ap_id ids, handles from
 * actor_id, reply_to from the comment path, deleted and removed items), the cursor and where a
 * walk stops, paging and coverage gaps, the Markdown stripper, error answers (parse_error:
 * error codes, the rate limit, no API v3), and bodies that are broken or of the wrong shape.
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
#include <time.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "earshot-plugin.h"
#include "mock-host.h"
#include "source-test.h"
#include "source-lemmy/markdown.h"

#define SEC INT64_C(1000000)

/* feeds of WORLD: 0 q:acme/posts, 1 q:acme/comments, 2 !acme/posts, 3 !acme/comments */
#define WORLD SETTINGS("instances=https://lemmy.world", "queries=acme", "communities=acme")
enum { SEARCH_POSTS, SEARCH_COMMENTS, COMMUNITY_POSTS, COMMUNITY_COMMENTS };

typedef SourceTest T;

/* ---- options and feeds ------------------------------------------------------------------------
 */

static void test_descriptor(void **state) {
        expect_source_descriptor("lemmy");

        size_t n = 0;
        for (const struct earshot_option *o = P->options; o->name; o++, n++) {
                assert_non_null(o->description);
                assert_false(o->flags & EARSHOT_OPT_SECRET);
                if (strcmp(o->name, "instances") == 0) {
                        assert_int_equal(o->type, EARSHOT_OPT_STRLIST);
                        assert_true(o->flags & EARSHOT_OPT_REQUIRED);
                } else
                        assert_false(o->flags & EARSHOT_OPT_REQUIRED);
        }
        assert_int_equal(n, 7);
}

static void test_feeds(void **state) {
        T *t = *state;

        create_ok(t, SETTINGS("instances=https://Lemmy.World/", "instances=http://127.0.0.1:8536",
                              "instances=https://lemmy.world", "queries=acme", "queries= Acme ",
                              "queries=acme  corp", "communities=!Acme",
                              "communities=acme@Lemmy.ML", "communities=acme"));
        static const char *const want[] = {
                "https://lemmy.world#q:acme/posts",
                "https://lemmy.world#q:acme/comments",
                "https://lemmy.world#q:acme corp/posts",
                "https://lemmy.world#q:acme corp/comments",
                "https://lemmy.world#!acme/posts",
                "https://lemmy.world#!acme/comments",
                "https://lemmy.world#!acme@lemmy.ml/posts",
                "https://lemmy.world#!acme@lemmy.ml/comments",
                "http://127.0.0.1:8536#q:acme/posts",
        };
        for (uint32_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
                assert_string_equal(P->source->feed(t->state, i), want[i]);
        assert_string_equal(P->source->feed(t->state, 15),
                            "http://127.0.0.1:8536#!acme@lemmy.ml/comments");
        assert_null(P->source->feed(t->state, 16));
        assert_null(P->source->feed(t->state, UINT32_MAX));

        create_ok(t, SETTINGS("instances=https://lemmy.world", "queries=acme", "communities=acme",
                              "search_type=Posts", "community_comments=false"));
        assert_string_equal(P->source->feed(t->state, 0), "https://lemmy.world#q:acme/posts");
        assert_string_equal(P->source->feed(t->state, 1), "https://lemmy.world#!acme/posts");
        assert_null(P->source->feed(t->state, 2));

        create_ok(t, SETTINGS("instances=https://lemmy.world", "queries=acme",
                              "search_type=comments"));
        assert_string_equal(P->source->feed(t->state, 0), "https://lemmy.world#q:acme/comments");
        assert_null(P->source->feed(t->state, 1));

        create_ok(t, SETTINGS("instances=https://lemmy.world", "communities=acme"));
        assert_string_equal(P->source->feed(t->state, 0), "https://lemmy.world#!acme/posts");
        assert_string_equal(P->source->feed(t->state, 1), "https://lemmy.world#!acme/comments");
        assert_null(P->source->feed(t->state, 2));
}

static void test_create_rejects(void **state) {
        T *t = *state;

        expect_rejected(t, SETTINGS("instances=https://lemmy.world"), "queries, communities");
        expect_rejected(t, SETTINGS("queries=acme"), "instances");
        expect_rejected(t, SETTINGS("instances=http://lemmy.world", "queries=a"),
                        "'http://lemmy.world' must use https://");
        expect_rejected(t, SETTINGS("instances=lemmy.world", "queries=a"), "not an http://");
        expect_rejected(t, SETTINGS("instances=https://lemmy.world/?x", "queries=a"), "query");
        expect_rejected(t, SETTINGS("instances=https://a@lemmy.world", "queries=a"), "credentials");
        expect_rejected(t, SETTINGS("instances=https://lemmy.world:70000", "queries=a"), "port");
        expect_rejected(t, SETTINGS("instances=https://lemmy.world", "queries= \t"), "empty");
        expect_rejected(t, SETTINGS("instances=https://lemmy.world", "communities=ac me"),
                        "communities: 'ac me' is not a community name");
        expect_rejected(t, SETTINGS("instances=https://lemmy.world", "communities=acme@"),
                        "empty instance");
        expect_rejected(t, SETTINGS("instances=https://lemmy.world", "communities=@lemmy.ml"),
                        "no community name");
        expect_rejected(t, SETTINGS("instances=https://lemmy.world", "communities=acme@a/b"),
                        "bad instance");
        expect_rejected(t,
                        SETTINGS("instances=https://lemmy.world", "queries=a", "search_type=users"),
                        "search_type: 'users'");
        expect_rejected(t, SETTINGS("instances=https://lemmy.world", "queries=a", "limit=51"),
                        "limit: 51 is out of range 1..50");
        expect_rejected(t, SETTINGS("instances=https://lemmy.world", "queries=a", "limit=0"),
                        "limit");
        expect_rejected(t, SETTINGS("instances=https://lemmy.world", "queries=a", "max_pages=0"),
                        "max_pages");
        expect_rejected(t, SETTINGS("instances=https://lemmy.world", "queries=a", "max_pages=51"),
                        "max_pages");
}

/* ---- requests -------------------------------------------------------------------------------- */

static void test_requests(void **state) {
        T *t = *state;

        create_ok(t, SETTINGS("instances=https://lemmy.world", "queries=acme corp",
                              "communities=acme", "communities=!help@Lemmy.ML"));
        build(t, 0, NULL, NULL);
        assert_string_equal(t->req.method, "GET");
        assert_string_equal(t->req.url, "https://lemmy.world/api/v3/search?q=acme%20corp"
                                        "&type_=Posts&sort=New&listing_type=All&limit=50");
        assert_string_equal(mock_request_header(&t->req, "Accept"), "application/json");
        assert_null(t->req.body);
        build(t, 1, "88102:1785592202", NULL);
        assert_string_equal(t->req.url, "https://lemmy.world/api/v3/search?q=acme%20corp"
                                        "&type_=Comments&sort=New&listing_type=All&limit=50");
        build(t, 2, NULL, NULL);
        assert_string_equal(t->req.url, "https://lemmy.world/api/v3/post/list?community_name=acme"
                                        "&type_=All&sort=New&limit=50");
        build(t, 3, NULL, NULL);
        assert_string_equal(t->req.url, "https://lemmy.world/api/v3/comment/list"
                                        "?community_name=acme&type_=All&sort=New&limit=50");
        build(t, 4, NULL, NULL);
        assert_string_equal(t->req.url, "https://lemmy.world/api/v3/post/list"
                                        "?community_name=help%40lemmy.ml&type_=All&sort=New"
                                        "&limit=50");
        /* a later page of a walk */
        build(t, 2, "14100:1785500000", "3:14100:1785500000:14210:1785590411");
        assert_string_equal(t->req.url, "https://lemmy.world/api/v3/post/list?community_name=acme"
                                        "&type_=All&sort=New&limit=50&page=3");
        build(t, 0, "14100", "2:14100:-:14210:-");
        assert_string_equal(t->req.url, "https://lemmy.world/api/v3/search?q=acme%20corp"
                                        "&type_=Posts&sort=New&listing_type=All&limit=50&page=2");

        create_ok(t, SETTINGS("instances=http://localhost:8536/lemmy/", "queries=caf\xc3\xa9 & co",
                              "limit=7"));
        build(t, 0, NULL, NULL);
        assert_string_equal(t->req.url, "http://localhost:8536/lemmy/api/v3/search"
                                        "?q=caf%C3%A9%20%26%20co&type_=Posts&sort=New"
                                        "&listing_type=All&limit=7");

        static const char *const bad[] = {
                "junk",       "1:1:1:1:1",  "2:1:1:1",    "2:x:1:1:1",
                "2:1:1:1:1:", "51:1:1:1:1", "2:1:-1:1:1", "2:9007199254740993:1:1:1",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                mock_request_done(&t->req);
                mock_request_init(&t->req);
                if (P->source->build_request(t->state, 0, NULL, bad[i], &t->req) != -EINVAL)
                        fail_msg("token \"%s\" accepted", bad[i]);
        }
        assert_int_equal(P->source->build_request(t->state, 2, NULL, NULL, &t->req), -EINVAL);
}

/* ---- posts ----------------------------------------------------------------------------------- */

static void test_parse_post_list(void **state) {
        T *t = *state;

        create_ok(t, WORLD);
        /* the first poll ever: newest page, cursor starts there, no paging */
        assert_int_equal(parse_feed_fixture(t, COMMUNITY_POSTS, NULL, NULL, "lemmy/post-list.json"),
                         0);
        /* oldest first; 14205 is deleted */
        expect_ids(t, 3, "https://lemmy.world/post/14203", "https://lemmy.world/post/14207",
                   "https://lemmy.ml/post/99871");
        assert_int_equal(t->sink.n_cursor, 1);
        assert_string_equal(t->sink.cursor, "14210:1785590411");
        assert_int_equal(t->sink.n_page, 0);
        assert_int_equal(t->sink.n_gaps, 0);

        /* federated from lemmy.ml: its ap_id is the id, wherever we read it */
        const struct earshot_post *p = find_post(t, "https://lemmy.ml/post/99871");
        assert_string_equal(p->network, "lemmy");
        assert_string_equal(p->url, "https://lemmy.ml/post/99871");
        assert_string_equal(p->title, "Acme support never answered my refund request");
        assert_string_equal(p->text,
                            "I asked Acme for a refund on March 3rd and heard nothing.\n"
                            "\n"
                            "See my ticket https://acme.example/support/ticket/4411 and the FAQ.\n"
                            "\n"
                            "faq: https://acme.example/faq");
        assert_string_equal(p->author_handle, "bob_k@lemmy.ml");
        assert_string_equal(p->author_name, "Bob K.");
        assert_int_equal(p->author_followers, -1);
        assert_null(p->lang);
        /* a naive timestamp (older servers) is UTC */
        assert_int_equal(p->created_usec, INT64_C(1785590411402913));
        assert_int_equal(p->edited_usec, 0);
        assert_null(p->reply_to);
        assert_int_equal(p->replies, 2);
        assert_int_equal(p->reposts, -1);
        assert_int_equal(p->likes, 5);
        assert_int_equal(p->rating, 0);

        /* a link post: the link is the text */
        p = find_post(t, "https://lemmy.world/post/14207");
        assert_string_equal(p->title, "Acme status page says all green during outage");
        assert_string_equal(p->text, "https://acme.example/blog/outage");
        assert_string_equal(p->author_handle, "fiona@lemmy.world");
        assert_null(p->author_name);
        assert_int_equal(p->created_usec, INT64_C(1785585600) * SEC);
        assert_int_equal(p->edited_usec, INT64_C(1785587400) * SEC);
        assert_int_equal(p->replies, 11);
        assert_int_equal(p->likes, 40);

        /* Markdown: headings, lists, task boxes, quotes, code, images, tables, rules */
        p = find_post(t, "https://lemmy.world/post/14203");
        assert_string_equal(p->text, "Week three without internet\n"
                                     "\n"
                                     "Things I tried:\n"
                                     "\n"
                                     "Power-cycled the Acme box\n"
                                     "Called support & waited 2 hours\n"
                                     "factory reset\n"
                                     "\n"
                                     "Your call is important to us\n"
                                     "\n"
                                     "$ ping 192.168.0.1\n"
                                     "Request timeout for icmp_seq 0\n"
                                     "\n"
                                     "screenshot of the status light\n"
                                     "\n"
                                     "day outage\n"
                                     "Mon 3h\n"
                                     "\n"
                                     "Use acme_reset at your own risk or not.");
        assert_string_equal(p->author_handle, "Dana@lemmy.world");
        assert_string_equal(p->author_name, "Dana \xf0\x9f\x9b\xa0");
        assert_int_equal(p->created_usec, INT64_C(1785575564513201));
        assert_int_equal(p->replies, 4);
        assert_int_equal(p->likes, 13);

        /* the same page again: all known, the cursor stays */
        assert_int_equal(parse_feed_fixture(t, COMMUNITY_POSTS, "14210:1785590411", NULL,
                                            "lemmy/post-list.json"),
                         0);
        assert_int_equal(t->sink.n_posts, 0);
        assert_int_equal(t->sink.n_cursor, 0);
        assert_int_equal(t->sink.n_page, 0);

        /* the search feed reads the same PostViews */
        assert_int_equal(parse_feed_fixture(t, SEARCH_POSTS, "14100:1785500000", NULL,
                                            "lemmy/search-posts.json"),
                         0);
        expect_ids(t, 2, "https://lemmy.world/post/14207", "https://lemmy.ml/post/99871");
        assert_string_equal(t->sink.cursor, "14210:1785590411");
}

static void test_parse_comments(void **state) {
        T *t = *state;

        create_ok(t, WORLD);
        assert_int_equal(
                parse_feed_fixture(t, SEARCH_COMMENTS, NULL, NULL, "lemmy/search-comments.json"),
                0);
        /* oldest first; 88071 is removed */
        expect_ids(t, 2, "https://beehaw.org/comment/5512", "https://lemmy.world/comment/88102");
        assert_string_equal(t->sink.cursor, "88102:1785592202");

        /* a top-level comment from beehaw.org answers the post */
        const struct earshot_post *p = find_post(t, "https://beehaw.org/comment/5512");
        assert_string_equal(p->network, "lemmy");
        assert_string_equal(p->url, "https://beehaw.org/comment/5512");
        assert_string_equal(p->text, "Acme told me the outage was \"planned maintenance\". It "
                                     "wasn't announced anywhere.");
        assert_null(p->title);
        assert_string_equal(p->reply_to, "https://lemmy.world/post/14203");
        assert_string_equal(p->author_handle, "Quinn@beehaw.org");
        assert_string_equal(p->author_name, "Quinn \xf0\x9f\x8c\xb1");
        assert_int_equal(p->author_followers, -1);
        assert_null(p->lang);
        assert_int_equal(p->created_usec, INT64_C(1785591903118000));
        assert_int_equal(p->edited_usec, 0);
        assert_int_equal(p->replies, 1);
        assert_int_equal(p->reposts, -1);
        assert_int_equal(p->likes, 7);

        /* a reply to it: the parent comment, from the path "0.88090.88102" */
        p = find_post(t, "https://lemmy.world/comment/88102");
        assert_string_equal(p->text, "Same here. Acme's support help desk closed my ticket: "
                                     "ticket #4411 https://acme.example/t/4411");
        assert_string_equal(p->reply_to, "https://lemmy.world/comment/88090");
        assert_string_equal(p->author_handle, "Dana@lemmy.world");
        assert_int_equal(p->created_usec, INT64_C(1785592202) * SEC);
        assert_int_equal(p->edited_usec, INT64_C(1785592320) * SEC);
        assert_int_equal(p->replies, 0);
        assert_int_equal(p->likes, 3);

        /* a community's comments: the same CommentViews, after a cursor */
        assert_int_equal(parse_feed_fixture(t, COMMUNITY_COMMENTS, "88095:1785591950", NULL,
                                            "lemmy/comment-list.json"),
                         0);
        expect_ids(t, 1, "https://lemmy.world/comment/88102");
        assert_string_equal(t->sink.cursor, "88102:1785592202");
        assert_int_equal(t->sink.n_page, 0);

        /* the wrong list for the feed is not a response to it */
        mock_host_clear_logs(&t->mh);
        assert_int_equal(
                parse_feed_fixture(t, COMMUNITY_POSTS, NULL, NULL, "lemmy/comment-list.json"),
                -EBADMSG);
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_ERR,
                                              "https://lemmy.world#!acme/posts: expected an object "
                                              "with a \"posts\" array"),
                         1);
}

/* ---- the cursor, paging, gaps -----------------------------------------------------------------
 */

static void test_cursor(void **state) {
        T *t = *state;

        create_ok(t, SETTINGS("instances=https://lemmy.world", "communities=acme", "limit=4"));
        /* stop at the last seen id: 14203 is known, only newer ids are emitted, no paging */
        assert_int_equal(parse_feed_fixture(t, 0, "14205:1785582120", NULL, "lemmy/post-list.json"),
                         0);
        expect_ids(t, 2, "https://lemmy.world/post/14207", "https://lemmy.ml/post/99871");
        assert_string_equal(t->sink.cursor, "14210:1785590411");
        assert_int_equal(t->sink.n_page, 0);
        assert_int_equal(t->sink.n_gaps, 0);

        /* never backwards */
        assert_int_equal(parse_feed_fixture(t, 0, "20000:1785592000", NULL, "lemmy/post-list.json"),
                         0);
        assert_int_equal(t->sink.n_posts, 0);
        assert_int_equal(t->sink.n_cursor, 0);

        /* an empty page keeps the cursor; an empty first page sets none */
        assert_int_equal(parse_feed(t, 0, "14210:1785590411", NULL, "{\"posts\":[]}"), 0);
        assert_int_equal(t->sink.n_cursor, 0);
        assert_int_equal(parse_feed(t, 0, NULL, NULL, "{\"posts\":[],\"next_page\":null}"), 0);
        assert_int_equal(t->sink.n_cursor, 0);

        /* a cursor without a time (hand-written) works, and gains one */
        assert_int_equal(parse_feed_fixture(t, 0, "14206", NULL, "lemmy/post-list.json"), 0);
        expect_ids(t, 2, "https://lemmy.world/post/14207", "https://lemmy.ml/post/99871");
        assert_string_equal(t->sink.cursor, "14210:1785590411");

        /* an unreadable cursor: said once, the feed starts afresh with the newest page */
        mock_host_clear_logs(&t->mh);
        assert_int_equal(parse_feed_fixture(t, 0, "p=14206", NULL, "lemmy/post-list.json"), 0);
        assert_int_equal(t->sink.n_posts, 3);
        assert_int_equal(t->sink.n_page, 0);
        assert_string_equal(t->sink.cursor, "14210:1785590411");
        assert_int_equal(
                mock_host_count_logs(&t->mh, EARSHOT_LOG_WARNING, "cannot read the cursor"), 1);
}

static void test_paging(void **state) {
        T *t = *state;

        create_ok(t, SETTINGS("instances=https://lemmy.world", "communities=acme", "limit=4"));
        /* a full page, all newer than the cursor: ask page 2, the cursor waits */
        assert_int_equal(parse_feed_fixture(t, 0, "14100:1785500000", NULL, "lemmy/post-list.json"),
                         EARSHOT_MORE);
        assert_int_equal(t->sink.n_posts, 3);
        assert_int_equal(t->sink.n_cursor, 0);
        assert_int_equal(t->sink.n_page, 1);
        assert_string_equal(t->sink.page, "2:14100:1785500000:14210:1785590411");
        build(t, 0, "14100:1785500000", t->sink.page);
        assert_non_null(strstr(t->req.url, "&limit=4&page=2"));

        /* page 2 reaches the cursor: the walk ends, the cursor is the walk's newest */
        cJSON *doc = load_json("lemmy/post-list.json");
        cJSON *posts = cJSON_GetObjectItem(doc, "posts");
        for (int k = 0; k < 4; k++) {
                cJSON *post = cJSON_GetObjectItem(cJSON_GetArrayItem(posts, k), "post");
                cJSON_SetNumberValue(cJSON_GetObjectItem(post, "id"), 14099 + 1 - k);
                char ap[64];
                (void)snprintf(ap, sizeof(ap), "https://lemmy.world/post/%d", 14100 - k);
                cJSON_SetValuestring(cJSON_GetObjectItem(post, "ap_id"), ap);
        }
        /* ids 14100 (known), 14099, 14098, 14097 */
        assert_int_equal(parse_feed_json(t, 0, "14100:1785500000",
                                         "2:14100:1785500000:14210:1785590411", doc),
                         0);
        cJSON_Delete(doc);
        assert_int_equal(t->sink.n_page, 0);
        assert_int_equal(t->sink.n_posts, 0); /* every id is at or below the cursor */
        assert_string_equal(t->sink.cursor, "14210:1785590411");

        /* a short page ends the walk too */
        assert_int_equal(parse_feed_fixture(t, 0, "14100:1785500000",
                                            "3:14100:1785500000:14300:1785590999",
                                            "lemmy/search-posts.json"),
                         0);
        assert_int_equal(t->sink.n_posts, 2);
        assert_string_equal(t->sink.cursor, "14300:1785590999");

        /* a full page 3 of max_pages 3 that has not reached the cursor: a coverage gap */
        create_ok(t, SETTINGS("instances=https://lemmy.world", "communities=acme", "limit=4",
                              "max_pages=3"));
        mock_host_clear_logs(&t->mh);
        assert_int_equal(parse_feed_fixture(t, 0, "14100:1785500000",
                                            "3:14100:1785500000:14300:1785590999",
                                            "lemmy/post-list.json"),
                         0);
        assert_int_equal(t->sink.n_page, 0);
        assert_int_equal(t->sink.n_gaps, 1);
        assert_string_equal(t->sink.gap_reason, "max_pages");
        assert_int_equal(t->sink.gap_from_usec, INT64_C(1785500000) * SEC);
        assert_int_equal(t->sink.gap_to_usec, INT64_C(1785575564) * SEC); /* 14203 */
        assert_string_equal(t->sink.cursor, "14300:1785590999");
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_INFO, "stopped after 3 pages"),
                         1);

        /* max_pages=1 after a cursor without time: a gap from the epoch is still a gap */
        create_ok(t, SETTINGS("instances=https://lemmy.world", "communities=acme", "limit=4",
                              "max_pages=1"));
        assert_int_equal(parse_feed_fixture(t, 0, "14100", NULL, "lemmy/post-list.json"), 0);
        assert_int_equal(t->sink.n_gaps, 1);
        assert_int_equal(t->sink.gap_from_usec, 0);
        assert_string_equal(t->sink.cursor, "14210:1785590411");

        /* the first poll never pages, however full */
        assert_int_equal(parse_feed_fixture(t, 0, NULL, NULL, "lemmy/post-list.json"), 0);
        assert_int_equal(t->sink.n_page, 0);
        assert_int_equal(t->sink.n_gaps, 0);

        /* a core from before report_gap: the gap is logged, never silent */
        t->mh.host.size = offsetof(struct earshot_host, set_backoff);
        mock_host_clear_logs(&t->mh);
        assert_int_equal(parse_feed_fixture(t, 0, "14100:1785500000", NULL, "lemmy/post-list.json"),
                         0);
        assert_int_equal(t->sink.n_gaps, 0);
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_WARNING,
                                              "coverage gap (max_pages): items published between "
                                              "1785500000 and 1785575564"),
                         1);
}

/* ---- Markdown ---------------------------------------------------------------------------------
 */

static void expect_md(const char *md, const char *want) {
        char *got = lemmy_markdown_to_text(md, strlen(md));
        assert_non_null(got);
        if (strcmp(got, want) != 0)
                fail_msg("markdown \"%s\"\n  got  \"%s\"\n  want \"%s\"", md, got, want);
        assert_true(strlen(got) <= strlen(md) + 1);
        free(got);
}

static void test_markdown(void **state) {
        expect_md("", "");
        expect_md("plain words", "plain words");
        expect_md("[Acme](https://acme.example) is down", "Acme https://acme.example is down");
        expect_md("see [the wiki](https://en.wikipedia.org/wiki/Acme_(company) \"Acme\") now",
                  "see the wiki https://en.wikipedia.org/wiki/Acme_(company) now");
        expect_md("![a broken router](https://img.example/r.png) ![](x.png)", "a broken router");
        expect_md("[![badge](b.svg)](https://ci.example)", "badge https://ci.example");
        expect_md("[text][ref] and [other]", "text and other");
        expect_md("<https://acme.example/status> and <b>", "https://acme.example/status and <b>");
        expect_md("**bold**, *it*, ***both***, __under__, _it_, ~~gone~~",
                  "bold, it, both, under, it, gone");
        expect_md("snake_case and __init__ and file_name_ and 2*3", "snake_case and init and "
                                                                    "file_name and 23");
        expect_md("`code` and ``more``", "code and more");
        expect_md("# H1\n## H2 ##\n###### H6\n####### seven\n#hashtag",
                  "H1\nH2 ##\nH6\n####### seven\n#hashtag");
        expect_md("Title\n=====\nSub\n---\ntext", "Title\nSub\ntext");
        expect_md("> quoted\n> > nested\n&gt; escaped", "quoted\nnested\nescaped");
        expect_md("- a\n* b\n+ c\n1. d\n10) e\n- [ ] f\n- [X] g\n-not a list",
                  "a\nb\nc\nd\ne\nf\ng\n-not a list");
        expect_md("```python\nx = a_b * 2  # [not](a link)\n```\nafter",
                  "x = a_b * 2  # [not](a link)\nafter");
        expect_md("~~~\n  indented code\n~~~~\n", "  indented code");
        expect_md("```\nunclosed fence\n", "unclosed fence");
        expect_md("::: spoiler Acme's answer\nthey said no\n:::", "Acme's answer\nthey said no");
        expect_md("| a | b |\n|:--|--:|\n| 1 | 2 |", "a b\n1 2");
        expect_md("a\n\n\n\nb\n\n", "a\n\nb");
        expect_md("\n\n  lead\r\ncrlf  \r\n", "lead\ncrlf");
        expect_md("\\*not emphasis\\* \\[x\\] \\_ \\\\ \\a", "*not emphasis* [x] _ \\ \\a");
        expect_md("&amp; &lt;b&gt; &quot;q&quot; &apos;a&#39; &nbsp;x &#x41;&#66; &bogus; & ;",
                  "& <b> \"q\" 'a' x AB &bogus; & ;");
        expect_md("&#0; &#xD800; &#x110000; &#1; &#99999999999;",
                  "\xef\xbf\xbd \xef\xbf\xbd \xef\xbf\xbd &#99999999999;");
        expect_md("caf\xc3\xa9_cr\xc3\xa8me \xf0\x9f\x98\xa1",
                  "caf\xc3\xa9_cr\xc3\xa8me \xf0\x9f\x98\xa1");
        expect_md("tab\there \x01 bell", "tab here bell");
        expect_md("[unclosed link](https://x.example", "unclosed link https://x.example");
        expect_md("]]]] [[[[ ](( [a](", "(");
}

static void test_markdown_linear(void **state) {
        /* inputs that make a backtracking parser quadratic take one pass here */
        static const char *const units[] = {"[",  "![", "](", "[a][", "<http://", "&#",
                                            "\\", "`",  "_a", "> ",   "# ",       "- "};
        size_t len = 1u << 20;
        char *md = malloc(len + 1);
        assert_non_null(md);
        for (size_t u = 0; u < sizeof(units) / sizeof(units[0]); u++) {
                size_t ul = strlen(units[u]);
                for (size_t i = 0; i < len; i++)
                        md[i] = units[u][i % ul];
                md[len] = 0;
                clock_t start = clock();
                char *text = lemmy_markdown_to_text(md, len);
                double secs = (double)(clock() - start) / CLOCKS_PER_SEC;
                assert_non_null(text);
                assert_true(strlen(text) <= len + 1);
                free(text);
                if (secs > 2.0)
                        fail_msg("unit \"%s\": %.2fs for 1 MiB", units[u], secs);
        }
        free(md);
}

/* ---- failure modes --------------------------------------------------------------------------- */

static void expect_bad(T *t, uint32_t feed, const char *body, size_t len) {
        expect_bad_feed(t, feed, "1", body, len);
}

static void test_garbage(void **state) {
        T *t = *state;
        size_t len;
        char *body = mock_read_fixture("lemmy/search-comments.json", &len);

        create_ok(t, WORLD);
        mock_host_clear_logs(&t->mh);
        for (size_t cut = 0; cut < len - 2; cut += len / 37 + 1)
                expect_bad(t, SEARCH_COMMENTS, body, cut);
        assert_true(mock_host_count_logs(&t->mh, EARSHOT_LOG_ERR, "not valid JSON") > 30);
        free(body);

        /* Lemmy's error object, should one come with a 200 */
        mock_host_clear_logs(&t->mh);
        body = mock_read_fixture("lemmy/error.json", &len);
        expect_bad(t, COMMUNITY_POSTS, body, len);
        free(body);
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_ERR,
                                              "https://lemmy.world#!acme/posts: expected an object "
                                              "with a \"posts\" array, got an object (error: "
                                              "\"couldnt_get_posts\")"),
                         1);

#define BAD(feed, s) expect_bad(t, feed, s, sizeof(s) - 1)
        BAD(SEARCH_POSTS, "");
        BAD(SEARCH_POSTS, "<html>429 Too Many Requests</html>");
        BAD(SEARCH_POSTS, "[]");
        BAD(SEARCH_POSTS, "{}");
        BAD(SEARCH_POSTS, "{\"posts\":{}}");
        BAD(SEARCH_POSTS, "{\"posts\":null,\"comments\":[]}");
        BAD(SEARCH_COMMENTS, "{\"posts\":[],\"comments\":\"\"}");
        BAD(SEARCH_POSTS, "{\"posts\":[]}{\"posts\":[]}");
        BAD(SEARCH_POSTS, "{\"posts\":[]\0}");
#undef BAD

        char deep[256];
        int n = snprintf(deep, sizeof(deep), "{\"posts\":");
        for (int k = 0; k < 64; k++)
                deep[n++] = '[';
        for (int k = 0; k < 64; k++)
                deep[n++] = ']';
        deep[n++] = '}';
        deep[n] = 0;
        expect_bad(t, SEARCH_POSTS, deep, (size_t)n);
        /* 64 levels in all are fine */
        char ok[1024];
        n = snprintf(ok, sizeof(ok), "{\"posts\":[],\"x\":");
        for (int k = 0; k < 62; k++)
                n += snprintf(ok + n, sizeof(ok) - (size_t)n, "{\"a\":");
        n += snprintf(ok + n, sizeof(ok) - (size_t)n, "[1]");
        for (int k = 0; k < 63; k++)
                ok[n++] = '}';
        ok[n] = 0;
        assert_true((size_t)n < sizeof(ok));
        assert_int_equal(parse_feed(t, SEARCH_POSTS, "1", NULL, ok), 0);
}

static void test_wrong_types(void **state) {
        T *t = *state;
        static const char posts[] =
                "{\"posts\":[1, \"x\", null, {}, {\"post\":[]}, {\"post\":{\"id\":\"5\"}},"
                "{\"post\":{\"id\":-1}}, {\"post\":{\"id\":1.5}}, {\"post\":{\"id\":1e300}},"
                "{\"post\":{\"id\":7,\"name\":7,\"body\":7,\"url\":\"ftp://x\"}},"
                "{\"post\":{\"id\":8,\"name\":\"N\",\"ap_id\":\"not a url\",\"published\":\"junk\","
                " \"updated\":5,\"deleted\":\"yes\"},"
                " \"creator\":{\"name\":\"x\",\"actor_id\":\"https://user@evil.example:8443/u/x\","
                " \"display_name\":7}, \"counts\":{\"comments\":\"3\",\"upvotes\":-1}},"
                "{\"post\":{\"id\":9,\"name\":\"M\",\"body\":\"\",\"url\":\"https://l.example\"},"
                " \"creator\":{\"name\":\"y\",\"local\":true}, \"counts\":[]},"
                "{\"post\":{\"id\":10,\"name\":\"O\",\"removed\":true},\"creator\":{\"name\":\"z\"}"
                "},"
                "{\"post\":{\"id\":11,\"body\":\"only a "
                "body\",\"published\":\"2026-02-29T00:00:00Z\"},"
                " \"creator\":{\"name\":\"z\",\"actor_id\":\"https:///u/z\"}}"
                "]}";

        create_ok(t, WORLD);
        mock_host_clear_logs(&t->mh);
        assert_int_equal(parse_feed(t, SEARCH_POSTS, "1", NULL, posts), 0);
        expect_ids(t, 3, "https://lemmy.world/post/11", "https://lemmy.world/post/9",
                   "https://lemmy.world/post/8");

        const struct earshot_post *p = find_post(t, "https://lemmy.world/post/8");
        assert_string_equal(p->url, "https://lemmy.world/post/8");
        assert_string_equal(p->title, "N");
        assert_string_equal(p->text, "");
        assert_string_equal(p->author_handle, "x@evil.example:8443");
        assert_null(p->author_name);
        assert_int_equal(p->created_usec, 0);
        assert_int_equal(p->edited_usec, 0);
        assert_int_equal(p->replies, -1);
        assert_int_equal(p->likes, -1);

        p = find_post(t, "https://lemmy.world/post/9");
        assert_string_equal(p->text, "https://l.example");
        assert_string_equal(p->author_handle, "y@lemmy.world"); /* local, no actor URL */

        p = find_post(t, "https://lemmy.world/post/11");
        assert_null(p->title);
        assert_string_equal(p->text, "only a body");
        assert_string_equal(p->author_handle, "z"); /* remote, unknown host */
        assert_int_equal(p->created_usec, 0);       /* 2026 is no leap year */

        /* removed (10) is not malformed: 10 bad elements of 14 */
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_WARNING,
                                              "skipped 10 of 14 elements that are not valid posts"),
                         1);
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_ERR, ""), 0);
        assert_string_equal(t->sink.cursor, "11");

        static const char comments[] =
                "{\"comments\":[{\"comment\":{\"id\":5,\"content\":\"a\",\"path\":\"0.x.5\","
                "\"post_id\":3}},"
                "{\"comment\":{\"id\":6,\"content\":\"b\",\"path\":\"0..6\",\"post_id\":\"3\"},"
                " \"post\":{\"ap_id\":\"https://lemmy.ml/post/3\"}},"
                "{\"comment\":{\"id\":7,\"content\":\"c\",\"path\":\"7\"}},"
                "{\"comment\":{\"id\":8,\"content\":\"d\",\"path\":\"0.0.8\",\"post_id\":3}},"
                "{\"comment\":{\"id\":9,\"content\":\"e\",\"path\":\"0.1.2.3.9\",\"ap_id\":"
                " \"https://lemmy.ml/comment/77\"},\"counts\":{\"child_count\":2,\"upvotes\":4}},"
                "{\"comment\":{\"id\":10,\"content\":7}},"
                "{\"comment\":{\"id\":11,\"content\":\"\"}},"
                "{\"comment\":{\"id\":12,\"content\":\"f\",\"deleted\":true}},"
                "{\"post\":{\"id\":13,\"name\":\"a post\"}}"
                "]}";
        mock_host_clear_logs(&t->mh);
        assert_int_equal(parse_feed(t, SEARCH_COMMENTS, "1", NULL, comments), 0);
        expect_ids(t, 5, "https://lemmy.ml/comment/77", "https://lemmy.world/comment/8",
                   "https://lemmy.world/comment/7", "https://lemmy.world/comment/6",
                   "https://lemmy.world/comment/5");
        assert_string_equal(find_post(t, "https://lemmy.world/comment/5")->reply_to,
                            "https://lemmy.world/post/3");
        assert_string_equal(find_post(t, "https://lemmy.world/comment/6")->reply_to,
                            "https://lemmy.ml/post/3");
        assert_null(find_post(t, "https://lemmy.world/comment/7")->reply_to);
        assert_string_equal(find_post(t, "https://lemmy.world/comment/8")->reply_to,
                            "https://lemmy.world/post/3");
        p = find_post(t, "https://lemmy.ml/comment/77");
        assert_string_equal(p->reply_to, "https://lemmy.world/comment/3");
        assert_int_equal(p->replies, 2);
        assert_int_equal(p->likes, 4);
        assert_null(p->author_handle);
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_WARNING,
                                              "skipped 3 of 9 elements that are not valid "
                                              "comments"),
                         1);
        assert_string_equal(t->sink.cursor, "12");
}

/* parse_error(): Lemmy's error codes, and an instance without API v3. */
static void test_parse_error(void **state) {
        T *t = *state;
        int r;

        create_ok(t, WORLD);
        mock_host_clear_logs(&t->mh);
        /* feed 2: the community's posts */
        assert_string_equal(P->source->feed(t->state, 2), "https://lemmy.world#!acme/posts");
        r = error_response_fixture(t, 2, "88000:1785592000", NULL, 400,
                                   "lemmy/error-community.json");
        expect_explained(t, r, EARSHOT_BLOCKED,
                         "lemmy.world answered couldnt_find_community (HTTP 400) for acme: no "
                         "such community there: check `communities`");
        expect_failure(t, 0, NULL, NULL, 400, "{\"error\":\"instance_is_private\"}",
                       EARSHOT_BLOCKED, "private instance answers its users only");
        expect_failure(t, 0, NULL, NULL, 401, "{\"error\":\"not_logged_in\"}", EARSHOT_BLOCKED,
                       "answered not_logged_in (HTTP 401) for acme");
        expect_failure(t, 0, NULL, NULL, 400, "{\"error\":\"too_many_items\"}", EARSHOT_BLOCKED,
                       "lower `limit`");
        /* the rate limit, whatever the status: retried */
        r = error_response_fixture(t, 0, NULL, "2:5:-:9:-", 400, "lemmy/error-rate-limit.json");
        expect_explained(t, r, EARSHOT_RETRY, "lemmy.world's rate limit (rate_limit_error)");
        expect_failure(t, 1, NULL, NULL, 429, "{\"error\":\"rate_limit_error\"}", EARSHOT_RETRY,
                       "rate limit");
        /* no API v3 there (Lemmy 1.0 serves /api/v4), or no Lemmy at all */
        expect_failure(t, 0, NULL, NULL, 404, "", EARSHOT_BLOCKED,
                       "lemmy.world does not serve Lemmy's API v3 (HTTP 404): Lemmy 1.0 and "
                       "later serve /api/v4 only");
        expect_failure(t, 0, NULL, NULL, 404, "{\"error\":\"not_found\"}", EARSHOT_BLOCKED,
                       "(HTTP 404, \"not_found\")");
        expect_failure(t, 3, NULL, NULL, 404, "{\"error\":\"couldnt_find_community\"}",
                       EARSHOT_BLOCKED, "couldnt_find_community (HTTP 404)");

        /* codes that are no configuration problem, and other statuses: the core's */
        expect_generic(t, 0, NULL, NULL, 400, "{\"error\":\"couldnt_get_posts\"}");
        expect_generic(t, 0, NULL, NULL, 400, "{\"error\":7}");
        expect_generic(t, 0, NULL, NULL, 500, "{\"error\":\"unknown\"}");
        expect_generic(t, 0, NULL, NULL, 502, "<html>Bad Gateway</html>");
        expect_generic(t, 0, NULL, NULL, 429, "");
        assert_int_equal(mock_host_count_logs(&t->mh, -1, ""), 0);
        assert_int_equal(P->source->parse_error(t->state, 99, NULL, NULL,
                                                &(struct earshot_response){.size = 1}, &t->sink),
                         -EINVAL);
        /* control characters in a code stay out of the line */
        expect_failure(t, 0, NULL, NULL, 404, "{\"error\":\"a\\nb\"}", EARSHOT_BLOCKED, "\"a b\"");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_descriptor, setup, teardown),
                cmocka_unit_test_setup_teardown(test_feeds, setup, teardown),
                cmocka_unit_test_setup_teardown(test_create_rejects, setup, teardown),
                cmocka_unit_test_setup_teardown(test_requests, setup, teardown),
                cmocka_unit_test_setup_teardown(test_parse_post_list, setup, teardown),
                cmocka_unit_test_setup_teardown(test_parse_comments, setup, teardown),
                cmocka_unit_test_setup_teardown(test_cursor, setup, teardown),
                cmocka_unit_test_setup_teardown(test_paging, setup, teardown),
                cmocka_unit_test_setup_teardown(test_markdown, setup, teardown),
                cmocka_unit_test_setup_teardown(test_markdown_linear, setup, teardown),
                cmocka_unit_test_setup_teardown(test_garbage, setup, teardown),
                cmocka_unit_test_setup_teardown(test_wrong_types, setup, teardown),
                cmocka_unit_test_setup_teardown(test_parse_error, setup, teardown),
        };
        return cmocka_run_group_tests_name("source-lemmy", tests, NULL, NULL);
}
