/* SPDX-License-Identifier: MIT */
/*
 * test-notify-log.c - the log notifier: the one NOTICE line per alert, due/overdue times,
 * flattening and cutting of the text, and the parts left out when unknown.
 */
#define NOTIFY_TEST_RULE "refund"
#define NOTIFY_TEST_TEXT "My order never arrived.\n\nRefund please!"
#include "notify-test.h"

#define MINUTE INT64_C(60000000)

/* The shared alert about p, detected now and due in due_in µs (negative: overdue). */
static struct earshot_alert make_alert(const T *t, const struct earshot_post *p, int64_t due_in) {
        struct earshot_alert a = alert;

        a.post = p;
        a.detected_usec = t->mh.now;
        a.due_usec = t->mh.now + due_in;
        a.respond_within_usec = 60 * MINUTE;
        return a;
}

/* deliver() and return the one line it logged */
static const char *deliver_line(T *t, const struct earshot_alert *a) {
        mock_host_clear_logs(&t->mh);
        assert_int_equal(P->notifier->deliver(t->state, a, &t->req), EARSHOT_DELIVERED);
        assert_int_equal(t->mh.n_logs, 1);
        assert_int_equal(t->mh.logs[0].priority, EARSHOT_LOG_NOTICE);
        /* handled locally: nothing for the core to send */
        assert_null(t->req.url);
        assert_null(t->req.method);
        assert_null(t->req.body);
        return t->mh.logs[0].message;
}

static void test_descriptor(void **state) {
        expect_notifier("log");
        assert_null(P->options[0].name);
}

static void test_line(void **state) {
        T *t = *state;
        struct earshot_alert a = make_alert(t, &post, 59 * MINUTE + 59000000);

        assert_string_equal(deliver_line(t, &a),
                            "ALERT al-0001 [high] refund,angry mastodon @alice@mastodon.social "
                            "(1200 followers): \"My order never arrived. Refund please!\" due in "
                            "59m https://mastodon.social/@alice/117020593741189701");
}

static void test_due_and_overdue(void **state) {
        T *t = *state;
        struct earshot_alert a = make_alert(t, &post, -5 * MINUTE);

        assert_non_null(strstr(deliver_line(t, &a), "\" overdue by 5m https://"));
        a = make_alert(t, &post, 0);
        assert_non_null(strstr(deliver_line(t, &a), "\" due in 0s https://"));
        a = make_alert(t, &post, 45000000);
        assert_non_null(strstr(deliver_line(t, &a), " due in 45s "));
        a = make_alert(t, &post, 65 * MINUTE);
        assert_non_null(strstr(deliver_line(t, &a), " due in 1h05m "));
        a = make_alert(t, &post, -(27 * 60 * MINUTE));
        assert_non_null(strstr(deliver_line(t, &a), " overdue by 1d3h "));
}

static void test_text_cut(void **state) {
        T *t = *state;
        struct earshot_post p = post;
        char text[400], want[200];
        const char *line, *q, *end;

        /* 159 ASCII bytes, then "é" (2 bytes) straddling byte 160: cut before it */
        memset(text, 'a', 159);
        strcpy(text + 159, "\xc3\xa9 and much more text after the limit");
        p.text = text;
        struct earshot_alert a = make_alert(t, &p, 10 * MINUTE);
        line = deliver_line(t, &a);
        q = strchr(line, '"');
        end = strstr(line, "\" due in");
        assert_non_null(q);
        assert_non_null(end);
        memset(want, 'a', 159);
        strcpy(want + 159, "\xe2\x80\xa6");
        assert_int_equal((size_t)(end - q - 1), strlen(want));
        assert_memory_equal(q + 1, want, strlen(want));

        /* exactly 160 bytes: not cut */
        memset(text, 'b', 160);
        text[160] = 0;
        line = deliver_line(t, &a);
        assert_non_null(strstr(line, "\"bbbb"));
        assert_null(strstr(line, "\xe2\x80\xa6"));

        /* 4-byte characters: the cut never splits one */
        text[0] = 0;
        for (int i = 0; i < 60; i++)
                strcat(text, "\xf0\x9f\x98\xa1");
        line = deliver_line(t, &a);
        q = strchr(line, '"');
        end = strstr(line, "\xe2\x80\xa6\" due in");
        assert_non_null(end);
        assert_int_equal((size_t)(end - q - 1), 160); /* 40 whole emoji */
}

static void test_flatten_and_unknowns(void **state) {
        T *t = *state;
        struct earshot_post p = post;

        p.text = "line one\r\nline two\n\n\n\tline three\x1b[31m red";
        p.author_handle = NULL;
        p.author_followers = -1;
        p.url = NULL;
        struct earshot_alert a = make_alert(t, &p, 30 * MINUTE);
        static const char *const none[] = {NULL};
        a.rules = none;

        const char *line = deliver_line(t, &a);
        assert_string_equal(line, "ALERT al-0001 [high] - mastodon: \"line one line two line "
                                  "three [31m red\" due in 30m");
        assert_null(strchr(line, '\n'));

        /* nothing from the network can start a new line */
        p.author_handle = "eve\nALERT forged";
        p.url = "https://x.example/\r\nALERT forged";
        line = deliver_line(t, &a);
        assert_null(strchr(line, '\n'));
        assert_null(strchr(line, '\r'));
        assert_non_null(strstr(line, " @eve ALERT forged: "));

        /* no post: a bug in the caller */
        a.post = NULL;
        assert_int_equal(P->notifier->deliver(t->state, &a, &t->req), -EINVAL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_descriptor, setup_created, teardown),
                cmocka_unit_test_setup_teardown(test_line, setup_created, teardown),
                cmocka_unit_test_setup_teardown(test_due_and_overdue, setup_created, teardown),
                cmocka_unit_test_setup_teardown(test_text_cut, setup_created, teardown),
                cmocka_unit_test_setup_teardown(test_flatten_and_unknowns, setup_created, teardown),
        };
        return cmocka_run_group_tests_name("notify-log", tests, NULL, NULL);
}
