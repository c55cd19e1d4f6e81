/* SPDX-License-Identifier: MIT */
/*
 * test-notify-journal.c - the journal notifier: one log_fields() record per alert, its MESSAGE,
 * priority from the severity, every field (RULE once per rule, the fixed MESSAGE_ID, unknown
 * values left out), and values from the network kept on one line and within 4 KiB on a UTF-8
 * character boundary.
 */
#define NOTIFY_TEST_RULE "refund"
#define NOTIFY_TEST_TEXT "My order never arrived.\nRefund!"
#include "notify-test.h"

#define MESSAGE_ID "a145322d21c54029ba1a428709bbcd42"

/* Deliver a and return the record it made. */
static const MockRecord *deliver_record(T *t, const struct earshot_alert *a) {
        size_t before = t->mh.n_records;

        assert_int_equal(P->notifier->deliver(t->state, a, &t->req), EARSHOT_DELIVERED);
        assert_int_equal(t->mh.n_records, before + 1);
        /* nothing for the core to send */
        assert_null(t->req.url);
        assert_null(t->req.exec_argv);
        return &t->mh.records[t->mh.n_records - 1];
}

static size_t count_field(const MockRecord *r, const char *key) {
        size_t n = 0, len = strlen(key);
        for (char **f = r->fields; f && *f; f++)
                if (strncmp(*f, key, len) == 0 && (*f)[len] == '=')
                        n++;
        return n;
}

static void test_descriptor(void **state) {
        expect_notifier("journal");
        assert_null(P->options[0].name);
}

static void test_needs_log_fields(void **state) {
        MockHost mh;
        void *s = NULL;
        char err[256] = "";

        mock_host_init(&mh);
        mh.host.log_fields = NULL;
        assert_int_equal(
                mock_plugin_create(&mh, P, (const char *const[]){NULL}, &s, err, sizeof(err)),
                -EINVAL);
        assert_null(s);
        assert_non_null(strstr(err, "structured"));
        mock_host_done(&mh);
}

static void test_record(void **state) {
        T *t = *state;
        const MockRecord *r = deliver_record(t, &alert);

        assert_string_equal(r->message, "alert al-0001: high complaint on mastodon by "
                                        "@alice@mastodon.social (rules refund, angry): My order "
                                        "never arrived. Refund!");
        assert_int_equal(r->priority, EARSHOT_LOG_WARNING);
        assert_string_equal(mock_record_field(r, "MESSAGE_ID"), MESSAGE_ID);
        assert_string_equal(mock_record_field(r, "ALERT_ID"), "al-0001");
        assert_string_equal(mock_record_field(r, "EVENT"), "new");
        assert_string_equal(mock_record_field(r, "BRAND"), "acme");
        assert_string_equal(mock_record_field(r, "NETWORK"), "mastodon");
        assert_string_equal(mock_record_field(r, "SEVERITY"), "high");
        assert_string_equal(mock_record_field(r, "DUE_AT"), "2026-08-01T14:56:02.114Z");
        assert_string_equal(mock_record_field(r, "SOURCE"), "mastodon-acme");
        assert_string_equal(mock_record_field(r, "POST_URL"), post.url);
        assert_string_equal(mock_record_field(r, "AUTHOR"), "alice@mastodon.social");
        assert_string_equal(mock_record_field(r, "STATE"), "open");

        /* RULE once per rule, in order */
        assert_int_equal(count_field(r, "RULE"), 2);
        size_t i = 0;
        for (char **f = r->fields; *f; f++)
                if (strncmp(*f, "RULE=", 5) == 0)
                        assert_string_equal(*f + 5, rules[i++]);
        /* no field twice, PRIORITY and MESSAGE are the core's */
        assert_int_equal(count_field(r, "ALERT_ID"), 1);
        assert_int_equal(count_field(r, "PRIORITY"), 0);
        assert_int_equal(count_field(r, "MESSAGE"), 0);
}

static void test_priorities(void **state) {
        T *t = *state;
        struct earshot_alert a = alert;
        static const struct {
                const char *severity;
                int priority;
        } map[] = {
                {"critical", EARSHOT_LOG_ERR},
                {"high", EARSHOT_LOG_WARNING},
                {"normal", EARSHOT_LOG_NOTICE},
                {"low", EARSHOT_LOG_INFO},
        };

        for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
                a.severity = map[i].severity;
                const MockRecord *r = deliver_record(t, &a);
                assert_int_equal(r->priority, map[i].priority);
                assert_string_equal(mock_record_field(r, "SEVERITY"), map[i].severity);
        }
}

/* One rule, a later event, no brand, author or URL: those fields are left out. */
static void test_unknowns_and_events(void **state) {
        T *t = *state;
        static const char *const one[] = {"refund", NULL};
        struct earshot_post p = post;
        struct earshot_alert a = alert;

        p.author_handle = NULL;
        p.url = NULL;
        a.post = &p;
        a.rules = one;
        a.brand = NULL;
        a.event = "escalation-2";
        a.due_usec = 0;
        const MockRecord *r = deliver_record(t, &a);
        assert_string_equal(r->message, "alert al-0001 escalation-2: high complaint on mastodon "
                                        "(rule refund): My order never arrived. Refund!");
        assert_string_equal(mock_record_field(r, "EVENT"), "escalation-2");
        assert_null(mock_record_field(r, "BRAND"));
        assert_null(mock_record_field(r, "AUTHOR"));
        assert_null(mock_record_field(r, "POST_URL"));
        assert_null(mock_record_field(r, "DUE_AT"));
        assert_int_equal(count_field(r, "RULE"), 1);
}

/* Hostile values: line breaks become blanks, every value at most 4 KiB, cut between
 * characters; the text in MESSAGE is its first 200 characters. */
static void test_values_flattened_and_capped(void **state) {
        T *t = *state;
        struct earshot_post p = post;
        struct earshot_alert a = alert;
        size_t n = 3 * 5000;
        char *big = malloc(n + 1);

        assert_non_null(big);
        for (size_t i = 0; i < n; i += 3)
                memcpy(big + i, "\xe2\x82\xac", 3); /* € */
        big[n] = 0;
        p.url = big;
        p.author_handle = "mallory\nFAKE_FIELD=1\r\n";
        p.text = big;
        a.post = &p;
        a.id = "al-0002";
        const MockRecord *r = deliver_record(t, &a);

        for (char **f = r->fields; *f; f++) {
                assert_null(strchr(*f, '\n'));
                assert_null(strchr(*f, '\r'));
                assert_true(strlen(strchr(*f, '=') + 1) <= 4096);
                assert_true(utf8_valid(*f));
        }
        assert_null(strchr(r->message, '\n'));
        assert_true(utf8_valid(r->message));
        assert_string_equal(mock_record_field(r, "AUTHOR"), "mallory FAKE_FIELD=1 ");
        assert_null(mock_record_field(r, "FAKE_FIELD"));
        assert_int_equal(strlen(mock_record_field(r, "POST_URL")), 4095); /* 1365 whole € */

        /* 200 € and an ellipsis end the message */
        const char *colon = strstr(r->message, "angry): ");
        assert_non_null(colon);
        const char *text = colon + strlen("angry): ");
        assert_int_equal(strlen(text), 200 * 3 + 3);
        assert_string_equal(text + 600, "\xe2\x80\xa6");
        free(big);
}

static void test_short_text_not_cut(void **state) {
        T *t = *state;
        struct earshot_post p = post;
        struct earshot_alert a = alert;
        char text[201];

        memset(text, 'a', 200);
        text[200] = 0;
        p.text = text;
        a.post = &p;
        const MockRecord *r = deliver_record(t, &a);
        const char *tail = strstr(r->message, "angry): ");
        assert_non_null(tail);
        assert_string_equal(tail + 8, text); /* exactly 200: no ellipsis */
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_descriptor),
                cmocka_unit_test(test_needs_log_fields),
                cmocka_unit_test_setup_teardown(test_record, setup_created, teardown),
                cmocka_unit_test_setup_teardown(test_priorities, setup_created, teardown),
                cmocka_unit_test_setup_teardown(test_unknowns_and_events, setup_created, teardown),
                cmocka_unit_test_setup_teardown(test_values_flattened_and_capped, setup_created,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_short_text_not_cut, setup_created, teardown),
        };
        return cmocka_run_group_tests_name("notify-journal", tests, NULL, NULL);
}
