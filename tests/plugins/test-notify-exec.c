/* SPDX-License-Identifier: MIT */
/*
 * test-notify-exec.c - the exec notifier: options (command as an absolute argv, timeout), the
 * run it asks for (argv, timeout, no URL), the alert on standard input (the webhook's
 * earshot.alert.v1 document, one line), and the exit code convention: 0 delivered, 75 and
 * anything unknown retried, the other sysexits codes 64-78 rejected.
 */
#define NOTIFY_TEST_RULE "refund"
#define NOTIFY_TEST_TEXT "My order never arrived \xf0\x9f\x98\xa1\nRefund! \xff"
#include "notify-test.h"

static void test_descriptor(void **state) {
        expect_notifier("exec");
        assert_non_null(P->notifier->response);
        assert_string_equal(P->options[0].name, "command");
        assert_int_equal(P->options[0].type, EARSHOT_OPT_STRLIST);
        assert_true(P->options[0].flags & EARSHOT_OPT_REQUIRED);
        assert_string_equal(P->options[1].name, "timeout");
        assert_int_equal(P->options[1].type, EARSHOT_OPT_DURATION);
        assert_string_equal(P->options[1].def, "30s");
        assert_null(P->options[2].name);
}

static void test_create_rejects(void **state) {
        T *t = *state;

        assert_int_equal(create(t, SETTINGS("command=notify-team")), -EINVAL);
        assert_non_null(strstr(t->err, "'notify-team' is not an absolute path"));
        assert_int_equal(create(t, SETTINGS("command=./bin/x", "command=--flag")), -EINVAL);
        assert_non_null(strstr(t->err, "absolute path"));
        assert_int_equal(create(t, SETTINGS("command=")), -EINVAL);
        assert_non_null(strstr(t->err, "command:"));
        assert_int_equal(create(t, SETTINGS("command=/bin/true", "timeout=0s")), -EINVAL);
        assert_non_null(strstr(t->err, "timeout:"));
        assert_int_equal(create(t, SETTINGS("command=/bin/true", "timeout=2h")), -EINVAL);
        assert_null(t->state);

        /* a host without request_exec (an older earshotd) */
        t->mh.host.request_exec = NULL;
        assert_int_equal(create(t, SETTINGS("command=/bin/true")), -EINVAL);
        assert_non_null(strstr(t->err, "cannot run programs"));
}

static void test_request(void **state) {
        T *t = *state;

        create_ok(t, SETTINGS("command=/usr/local/bin/page-team", "command=--queue",
                              "command=social media", "timeout=90s"));
        assert_int_equal(P->notifier->deliver(t->state, &alert, &t->req), EARSHOT_SEND);
        assert_non_null(t->req.exec_argv);
        assert_string_equal(t->req.exec_argv[0], "/usr/local/bin/page-team");
        assert_string_equal(t->req.exec_argv[1], "--queue");
        assert_string_equal(t->req.exec_argv[2], "social media"); /* one argument, no splitting */
        assert_null(t->req.exec_argv[3]);
        assert_int_equal(t->req.exec_timeout, INT64_C(90000000));
        assert_null(t->req.url);
        assert_int_equal(t->req.n_headers, 0);
}

static void test_default_timeout(void **state) {
        T *t = *state;

        create_ok(t, SETTINGS("command=/bin/cat"));
        assert_int_equal(P->notifier->deliver(t->state, &alert, &t->req), EARSHOT_SEND);
        assert_int_equal(t->req.exec_timeout, INT64_C(30000000));
        assert_string_equal(t->req.exec_argv[0], "/bin/cat");
        assert_null(t->req.exec_argv[1]);
}

/* The same document as the webhook's body: earshot.alert.v1, one line plus a newline. */
static void test_stdin_json(void **state) {
        T *t = *state;
        struct earshot_post post1 = post;
        struct earshot_alert a = alert;

        /* a first reminder, about a post with an unknown count */
        post1.reposts = -1;
        a.post = &post1;
        a.event = "escalation-1";
        a.message = "overdue by 5m";
        a.priority = 42.5;
        create_ok(t, SETTINGS("command=/bin/cat"));
        assert_int_equal(P->notifier->deliver(t->state, &a, &t->req), EARSHOT_SEND);
        assert_non_null(t->req.body);
        assert_int_equal(strlen(t->req.body), t->req.body_len);
        assert_true(t->req.body_len > 2);
        assert_int_equal(t->req.body[t->req.body_len - 1], '\n');
        assert_null(memchr(t->req.body, '\n', t->req.body_len - 1));

        cJSON *j = cJSON_Parse(t->req.body);
        assert_non_null(j);
        assert_string_equal(cJSON_GetObjectItem(j, "schema")->valuestring, "earshot.alert.v1");
        assert_string_equal(cJSON_GetObjectItem(j, "id")->valuestring, "al-0001");
        assert_string_equal(cJSON_GetObjectItem(j, "event")->valuestring, "escalation-1");
        assert_string_equal(cJSON_GetObjectItem(j, "message")->valuestring, "overdue by 5m");
        assert_string_equal(cJSON_GetObjectItem(j, "severity")->valuestring, "high");
        assert_string_equal(cJSON_GetObjectItem(j, "due_at")->valuestring,
                            "2026-08-01T14:56:02.114Z");
        cJSON *r = cJSON_GetObjectItem(j, "rules");
        assert_int_equal(cJSON_GetArraySize(r), 2);
        assert_string_equal(cJSON_GetArrayItem(r, 1)->valuestring, "angry");
        cJSON *p = cJSON_GetObjectItem(j, "post");
        /* invalid UTF-8 became U+FFFD, the rest is kept byte for byte */
        assert_string_equal(cJSON_GetObjectItem(p, "text")->valuestring,
                            "My order never arrived \xf0\x9f\x98\xa1\nRefund! \xef\xbf\xbd");
        assert_true(cJSON_IsNull(cJSON_GetObjectItem(p, "reposts")));
        assert_int_equal(
                cJSON_GetObjectItem(cJSON_GetObjectItem(p, "author"), "followers")->valueint, 1200);

        /* the schema's keys, in the schema's order */
        static const char *const keys[] = {"schema",   "event",          "id",      "message",
                                           "state",    "late",           "late_by", "posts",
                                           "copies",   "priority",       "rules",   "brand",
                                           "severity", "network",        "source",  "detected_at",
                                           "due_at",   "respond_within", "post",    NULL};
        const cJSON *k = j->child;
        for (size_t i = 0; keys[i]; i++, k = k->next) {
                assert_non_null(k);
                assert_string_equal(k->string, keys[i]);
        }
        assert_null(k);
        cJSON_Delete(j);
}

static void test_deliver_rejects_bad_alerts(void **state) {
        T *t = *state;
        struct earshot_alert a = alert;

        create_ok(t, SETTINGS("command=/bin/cat"));
        a.id = NULL;
        assert_int_equal(P->notifier->deliver(t->state, &a, &t->req), -EINVAL);
        a = alert;
        a.post = NULL;
        assert_int_equal(P->notifier->deliver(t->state, &a, &t->req), -EINVAL);
}

static int outcome(T *t, int32_t status, int32_t exit_code) {
        struct earshot_response resp = mock_response(status, "", 0);
        resp.exit_code = exit_code;
        return P->notifier->response(t->state, &alert, &resp);
}

static void test_exit_codes(void **state) {
        T *t = *state;

        create_ok(t, SETTINGS("command=/bin/cat"));
        assert_int_equal(outcome(t, 200, 0), EARSHOT_DELIVERED);
        assert_int_equal(outcome(t, 500, 75), EARSHOT_RETRY); /* EX_TEMPFAIL */
        for (int32_t c = 64; c <= 78; c++)
                if (c != 75)
                        assert_int_equal(outcome(t, 500, c), EARSHOT_REJECTED);
        assert_int_equal(outcome(t, 500, 1), EARSHOT_RETRY);
        assert_int_equal(outcome(t, 500, 2), EARSHOT_RETRY);
        assert_int_equal(outcome(t, 500, 63), EARSHOT_RETRY);
        assert_int_equal(outcome(t, 500, 79), EARSHOT_RETRY);
        assert_int_equal(outcome(t, 500, 126), EARSHOT_RETRY);
        assert_int_equal(outcome(t, 500, 255), EARSHOT_RETRY);
        /* timed out, killed by a signal, could not start: no exit code */
        assert_int_equal(outcome(t, 0, -1), EARSHOT_RETRY);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_descriptor, setup, teardown),
                cmocka_unit_test_setup_teardown(test_create_rejects, setup, teardown),
                cmocka_unit_test_setup_teardown(test_request, setup, teardown),
                cmocka_unit_test_setup_teardown(test_default_timeout, setup, teardown),
                cmocka_unit_test_setup_teardown(test_stdin_json, setup, teardown),
                cmocka_unit_test_setup_teardown(test_deliver_rejects_bad_alerts, setup, teardown),
                cmocka_unit_test_setup_teardown(test_exit_codes, setup, teardown),
        };
        return cmocka_run_group_tests_name("notify-exec", tests, NULL, NULL);
}
