/* SPDX-License-Identifier: MIT */
/*
 * test-notify-log.c - the log notifier: the one NOTICE line per alert, due/overdue times,
 * flattening and cutting of the text, and the parts left out when unknown.
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

extern const struct earshot_plugin earshot_plugin_descriptor;
#define P (&earshot_plugin_descriptor)

#define MINUTE INT64_C(60000000)

typedef struct T {
        MockHost mh;
        struct earshot_request req;
        void *state;
} T;

static const char *const rules[] = {"refund", "angry", NULL};

static const struct earshot_post post = {
        .size = sizeof(struct earshot_post),
        .id = "https://mastodon.social/users/alice/statuses/1",
        .network = "mastodon",
        .url = "https://mastodon.social/@alice/1",
        .text = "My order never arrived.\n\nRefund please!",
        .author_handle = "alice@mastodon.social",
        .author_name = "Alice",
        .author_followers = 1200,
        .lang = "en",
        .created_usec = INT64_C(1785592555867000),
        .replies = -1,
        .reposts = -1,
        .likes = -1,
};

static struct earshot_alert make_alert(const T *t, const struct earshot_post *p, int64_t due_in) {
        return (struct earshot_alert){
                .size = sizeof(struct earshot_alert),
                .id = "al-0001",
                .rules = rules,
                .brand = "acme",
                .severity = "high",
                .source = "mastodon-acme",
                .post = p,
                .detected_usec = t->mh.now,
                .due_usec = t->mh.now + due_in,
                .respond_within_usec = 60 * MINUTE,
                .event = "new",
        };
}

static int setup(void **state) {
        T *t = calloc(1, sizeof(T));
        struct earshot_values none = {0};
        char err[128];

        assert_non_null(t);
        mock_host_init(&t->mh);
        mock_request_init(&t->req);
        assert_int_equal(P->notifier->create(&t->mh.host, &none, err, sizeof(err), &t->state), 0);
        *state = t;
        return 0;
}

static int teardown(void **state) {
        T *t = *state;
        P->notifier->destroy(t->state);
        mock_request_done(&t->req);
        mock_host_done(&t->mh);
        free(t);
        return 0;
}

/* deliver() and return the one line it logged */
static const char *deliver(T *t, const struct earshot_alert *a) {
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
        assert_int_equal(P->abi, EARSHOT_PLUGIN_ABI);
        assert_int_equal(P->size, sizeof(struct earshot_plugin));
        assert_int_equal(P->kind, EARSHOT_PLUGIN_NOTIFIER);
        assert_string_equal(P->name, "log");
        assert_non_null(P->options);
        assert_null(P->options[0].name);
        assert_null(P->source);
        assert_non_null(P->notifier->deliver);
}

static void test_line(void **state) {
        T *t = *state;
        struct earshot_alert a = make_alert(t, &post, 59 * MINUTE + 59000000);

        assert_string_equal(deliver(t, &a),
                            "ALERT al-0001 [high] refund,angry mastodon @alice@mastodon.social "
                            "(1200 followers): \"My order never arrived. Refund please!\" due in "
                            "59m https://mastodon.social/@alice/1");
}

static void test_due_and_overdue(void **state) {
        T *t = *state;
        struct earshot_alert a = make_alert(t, &post, -5 * MINUTE);

        assert_non_null(strstr(deliver(t, &a), "\" overdue by 5m https://"));
        a = make_alert(t, &post, 0);
        assert_non_null(strstr(deliver(t, &a), "\" due in 0s https://"));
        a = make_alert(t, &post, 45000000);
        assert_non_null(strstr(deliver(t, &a), " due in 45s "));
        a = make_alert(t, &post, 65 * MINUTE);
        assert_non_null(strstr(deliver(t, &a), " due in 1h05m "));
        a = make_alert(t, &post, -(27 * 60 * MINUTE));
        assert_non_null(strstr(deliver(t, &a), " overdue by 1d3h "));
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
        line = deliver(t, &a);
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
        line = deliver(t, &a);
        assert_non_null(strstr(line, "\"bbbb"));
        assert_null(strstr(line, "\xe2\x80\xa6"));

        /* 4-byte characters: the cut never splits one */
        text[0] = 0;
        for (int i = 0; i < 60; i++)
                strcat(text, "\xf0\x9f\x98\xa1");
        line = deliver(t, &a);
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

        const char *line = deliver(t, &a);
        assert_string_equal(line, "ALERT al-0001 [high] - mastodon: \"line one line two line "
                                  "three [31m red\" due in 30m");
        assert_null(strchr(line, '\n'));

        /* nothing from the network can start a new line */
        p.author_handle = "eve\nALERT forged";
        p.url = "https://x.example/\r\nALERT forged";
        line = deliver(t, &a);
        assert_null(strchr(line, '\n'));
        assert_null(strchr(line, '\r'));
        assert_non_null(strstr(line, " @eve ALERT forged: "));

        /* no post: a bug in the caller */
        a.post = NULL;
        assert_int_equal(P->notifier->deliver(t->state, &a, &t->req), -EINVAL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_descriptor, setup, teardown),
                cmocka_unit_test_setup_teardown(test_line, setup, teardown),
                cmocka_unit_test_setup_teardown(test_due_and_overdue, setup, teardown),
                cmocka_unit_test_setup_teardown(test_text_cut, setup, teardown),
                cmocka_unit_test_setup_teardown(test_flatten_and_unknowns, setup, teardown),
        };
        return cmocka_run_group_tests_name("notify-log", tests, NULL, NULL);
}
