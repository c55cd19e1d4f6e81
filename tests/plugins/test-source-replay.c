/* SPDX-License-Identifier: MIT */
/*
 * test-source-replay.c - the replay source: the file:// request, batches, the line-count
 * cursor, blank/comment/invalid lines, retiming, and the one "all N posts replayed".
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "earshot-plugin.h"
#include "mock-host.h"
#include "source-test.h"

typedef SourceTest T;

/* 7 lines, 4 valid posts (lines 2, 4, 6, 7); line 5 is broken */
static const char demo[] =
        "# demo posts\n"
        "{\"id\": \"p1\", \"text\": \"My order never arrived @acme\", \"author\": "
        "\"alice@example.social\", \"author_name\": \"Alice\", \"followers\": 1200, \"url\": "
        "\"https://example.social/@alice/1\", \"created_at\": \"2026-08-01T13:55:55.867Z\", "
        "\"network\": \"mastodon\", \"lang\": \"en\", \"replies\": 2, \"reposts\": 1, \"likes\": "
        "7}\n"
        "\n"
        "{\"id\": 42, \"text\": \"acme support is a joke\"}\n"
        "{\"id\": \"p3\", \"text\": \"unterminated\n"
        "  {\"id\": \"p4\", \"text\": \"refund please\", \"network\": null, \"followers\": "
        "null}\r\n"
        "{\"id\": \"p5\", \"text\": \"last line, no newline\"}";

static int poll_body(T *t, const char *cursor, const char *body, size_t len) {
        return parse_len(t, cursor, NULL, body, len);
}

static int poll(T *t, const char *cursor) {
        return poll_body(t, cursor, demo, sizeof(demo) - 1);
}

static void test_descriptor(void **state) {
        expect_source_descriptor("replay");
        assert_string_equal(P->options[0].name, "path");
        assert_int_equal(P->options[0].type, EARSHOT_OPT_PATH);
        assert_true(P->options[0].flags & EARSHOT_OPT_REQUIRED);
}

static void test_create_and_request(void **state) {
        T *t = *state;

        assert_int_equal(create(t, SETTINGS("path=posts.jsonl")), -EINVAL);
        assert_non_null(strstr(t->err, "not absolute"));
        assert_int_equal(create(t, SETTINGS("path=/p.jsonl", "batch=0")), -EINVAL);
        assert_non_null(strstr(t->err, "batch"));
        assert_int_equal(create(t, SETTINGS("batch=2")), -EINVAL);
        assert_non_null(strstr(t->err, "path"));

        create_ok(t, SETTINGS("path=/srv/demo/my posts#1%.jsonl"));
        assert_string_equal(P->source->feed(t->state, 0), "/srv/demo/my posts#1%.jsonl");
        assert_null(P->source->feed(t->state, 1));
        assert_int_equal(P->source->build_request(t->state, 0, "3", NULL, &t->req), 0);
        assert_string_equal(t->req.url, "file:///srv/demo/my%20posts%231%25.jsonl");
        assert_string_equal(t->req.method, "GET");
        assert_int_equal(t->req.n_headers, 0);
}

static void test_batches_and_cursor(void **state) {
        T *t = *state;

        create_ok(t, SETTINGS("path=/demo/posts.jsonl", "batch=2", "retime=false"));

        /* first poll: lines 1-4, posts p1 and 42 */
        assert_int_equal(poll(t, NULL), 0);
        assert_int_equal(t->sink.n_posts, 2);
        assert_string_equal(t->sink.posts[0].id, "p1");
        assert_string_equal(t->sink.posts[1].id, "42");
        assert_string_equal(t->sink.cursor, "4");
        assert_int_equal(t->sink.n_page, 0);

        /* second: line 5 is broken (reported with its number), p4 on line 6, p5 on line 7 */
        assert_int_equal(poll(t, "4"), 0);
        assert_int_equal(t->sink.n_posts, 2);
        assert_string_equal(t->sink.posts[0].id, "p4");
        assert_string_equal(t->sink.posts[1].id, "p5");
        assert_string_equal(t->sink.cursor, "7");
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_WARNING,
                                              "/demo/posts.jsonl:5: not valid JSON, skipping"),
                         1);
        /* the end was reached in this poll */
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_INFO, "all 4 posts replayed"), 1);

        /* exhausted: nothing, cursor kept, said only once */
        assert_int_equal(poll(t, "7"), 0);
        assert_int_equal(t->sink.n_posts, 0);
        assert_int_equal(t->sink.n_cursor, 0);
        assert_int_equal(poll(t, "7"), 0);
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_INFO, "replayed"), 1);
        /* the broken line was reported when consumed, not again */
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_WARNING, ":5:"), 1);
}

static void test_batch_of_one(void **state) {
        T *t = *state;
        const char *expect[] = {"p1", "42", "p4", "p5"};
        const char *cursor_after[] = {"2", "4", "6", "7"};
        char cursor[16] = "";

        create_ok(t, SETTINGS("path=/demo/posts.jsonl"));
        for (size_t i = 0; i < 4; i++) {
                assert_int_equal(poll(t, i == 0 ? NULL : cursor), 0);
                assert_int_equal(t->sink.n_posts, 1);
                assert_string_equal(t->sink.posts[0].id, expect[i]);
                assert_string_equal(t->sink.cursor, cursor_after[i]);
                strcpy(cursor, t->sink.cursor);
                assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_INFO, "replayed"),
                                 i == 3 ? 1 : 0);
        }
}

static void test_fields(void **state) {
        T *t = *state;

        create_ok(t,
                  SETTINGS("path=/demo/posts.jsonl", "batch=10", "retime=false", "network=demo"));
        assert_int_equal(poll(t, NULL), 0);
        assert_int_equal(t->sink.n_posts, 4);

        const struct earshot_post *p = &t->sink.posts[0];
        assert_string_equal(p->id, "p1");
        assert_string_equal(p->network, "mastodon");
        assert_string_equal(p->text, "My order never arrived @acme");
        assert_string_equal(p->author_handle, "alice@example.social");
        assert_string_equal(p->author_name, "Alice");
        assert_int_equal(p->author_followers, 1200);
        assert_string_equal(p->url, "https://example.social/@alice/1");
        assert_string_equal(p->lang, "en");
        assert_int_equal(p->created_usec, INT64_C(1785592555867000));
        assert_int_equal(p->replies, 2);
        assert_int_equal(p->reposts, 1);
        assert_int_equal(p->likes, 7);

        p = &t->sink.posts[1];
        assert_string_equal(p->id, "42");
        assert_string_equal(p->network, "demo"); /* the option's */
        assert_null(p->author_handle);
        assert_null(p->url);
        assert_null(p->lang);
        assert_int_equal(p->author_followers, -1);
        assert_int_equal(p->created_usec, 0);
        assert_int_equal(p->replies, -1);
        assert_int_equal(p->likes, -1);

        p = &t->sink.posts[2]; /* indented, CRLF, nulls */
        assert_string_equal(p->id, "p4");
        assert_string_equal(p->text, "refund please");
        assert_string_equal(p->network, "demo");
        assert_int_equal(p->author_followers, -1);
}

static void test_retime(void **state) {
        T *t = *state;

        create_ok(t, SETTINGS("path=/demo/posts.jsonl", "batch=10"));
        t->mh.now = INT64_C(1800000000000000);
        assert_int_equal(poll(t, NULL), 0);
        assert_int_equal(t->sink.n_posts, 4);
        for (size_t i = 0; i < t->sink.n_posts; i++)
                assert_int_equal(t->sink.posts[i].created_usec, INT64_C(1800000000000000));
}

static void test_invalid_lines(void **state) {
        T *t = *state;
        static const char body[] =
                "[1, 2]\n"                                                                /* 1 */
                "{\"text\": \"no id\"}\n"                                                 /* 2 */
                "{\"id\": \"\", \"text\": \"empty id\"}\n"                                /* 3 */
                "{\"id\": 1.5, \"text\": \"fractional id\"}\n"                            /* 4 */
                "{\"id\": \"a\"}\n"                                                       /* 5 */
                "{\"id\": \"b\", \"text\": 5}\n"                                          /* 6 */
                "{\"id\": \"c\", \"text\": \"x\", \"followers\": \"many\"}\n"             /* 7 */
                "{\"id\": \"d\", \"text\": \"x\", \"author\": 7}\n"                       /* 8 */
                "{\"id\": \"e\", \"text\": \"x\", \"created_at\": \"yesterday\"}\n"       /* 9 */
                "{\"id\": \"f\", \"text\": \"x\"} trailing\n"                             /* 10 */
                "{\"id\": \"g\", \"text\": \"x\", \"likes\": 2.5}\n"                      /* 11 */
                "   \t \r\n"                                                              /* 12 */
                "   # indented comment\n"                                                 /* 13 */
                "{\"id\": \"ok\", \"text\": \"fine\", \"extra\": {\"ignored\": true}}\n"; /* 14 */

        create_ok(t, SETTINGS("path=/demo/bad.jsonl", "batch=5"));
        assert_int_equal(poll_body(t, NULL, body, sizeof(body) - 1), 0);
        assert_int_equal(t->sink.n_posts, 1);
        assert_string_equal(t->sink.posts[0].id, "ok");
        assert_string_equal(t->sink.cursor, "14");
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_WARNING, "skipping"), 11);
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_WARNING,
                                              "/demo/bad.jsonl:1: not a JSON object"),
                         1);
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_WARNING, ":2: \"id\" must be"),
                         1);
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_WARNING, ":6: \"text\" must be"),
                         1);
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_WARNING,
                                              ":7: \"followers\" must be a whole number"),
                         1);
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_WARNING,
                                              ":8: \"author\" must be a string"),
                         1);
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_WARNING, ":9: \"created_at\""),
                         1);
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_WARNING, ":10: not valid JSON"),
                         1);
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_INFO, "all 1 posts replayed"), 1);

        /* a NUL inside a line spoils that line only */
        create_ok(t, SETTINGS("path=/demo/nul.jsonl", "batch=5"));
        static const char nul[] =
                "{\"id\":\"x\",\"text\":\"a\"}\0\n{\"id\":\"y\",\"text\":\"b\"}\n";
        assert_int_equal(poll_body(t, NULL, nul, sizeof(nul) - 1), 0);
        assert_int_equal(t->sink.n_posts, 1);
        assert_string_equal(t->sink.posts[0].id, "y");
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_WARNING, ":1: contains a NUL"),
                         1);
}

static void test_odd_cursors_and_files(void **state) {
        T *t = *state;

        create_ok(t, SETTINGS("path=/demo/posts.jsonl"));
        /* not a line count: start over, say so */
        assert_int_equal(poll(t, "abc"), 0);
        assert_int_equal(t->sink.n_posts, 1);
        assert_string_equal(t->sink.posts[0].id, "p1");
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_WARNING, "not a line count"), 1);
        assert_int_equal(poll(t, "99999999999999999999999"), 0);
        assert_int_equal(t->sink.posts[0].id[0], 'p');

        /* the file shrank below the cursor: exhausted */
        create_ok(t, SETTINGS("path=/demo/posts.jsonl"));
        assert_int_equal(poll(t, "100"), 0);
        assert_int_equal(t->sink.n_posts, 0);
        assert_int_equal(t->sink.n_cursor, 0);

        /* an empty file */
        create_ok(t, SETTINGS("path=/demo/empty.jsonl"));
        mock_host_clear_logs(&t->mh);
        assert_int_equal(poll_body(t, NULL, "", 0), 0);
        assert_int_equal(t->sink.n_posts, 0);
        assert_int_equal(t->sink.n_cursor, 0);
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_INFO, "all 0 posts replayed"), 1);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_descriptor, setup, teardown),
                cmocka_unit_test_setup_teardown(test_create_and_request, setup, teardown),
                cmocka_unit_test_setup_teardown(test_batches_and_cursor, setup, teardown),
                cmocka_unit_test_setup_teardown(test_batch_of_one, setup, teardown),
                cmocka_unit_test_setup_teardown(test_fields, setup, teardown),
                cmocka_unit_test_setup_teardown(test_retime, setup, teardown),
                cmocka_unit_test_setup_teardown(test_invalid_lines, setup, teardown),
                cmocka_unit_test_setup_teardown(test_odd_cursors_and_files, setup, teardown),
        };
        return cmocka_run_group_tests_name("source-replay", tests, NULL, NULL);
}
