/* SPDX-License-Identifier: MIT */
/*
 * test-notify-ntfy.c - the ntfy notifier: options (server, topic, token or user and password,
 * priority), the JSON publish request field by field, priorities and tags, the 4000-byte
 * message cut on a character boundary, hostile text, every event, and how each answer of an
 * ntfy server is judged.
 */
#include "notify-test.h"
#include "notify-util.h"

static void expect_tags(const T *t, const char *const *want) {
        const cJSON *tags = jget(t, "tags");
        size_t n = 0;

        assert_true(cJSON_IsArray(tags));
        for (; want[n]; n++) {
                const cJSON *e = cJSON_GetArrayItem(tags, (int)n);
                if (!cJSON_IsString(e) || strcmp(e->valuestring, want[n]) != 0)
                        fail_msg("tag %zu: got '%s', want '%s'", n,
                                 cJSON_IsString(e) ? e->valuestring : "(none)", want[n]);
        }
        assert_int_equal(cJSON_GetArraySize(tags), n);
}

/* The shared helpers of plugins/notify-util.h, on their own. */
static void test_util(void **state) {
        char buf[48], *s;
        bool cut;

        const int64_t now = INT64_C(1785592800) * 1000000, m = INT64_C(60000000);
        assert_string_equal(notify_due(now + 42 * m + 59000000, now, buf, sizeof(buf)),
                            "due in 42m");
        assert_string_equal(notify_due(now - 5 * m, now, buf, sizeof(buf)), "overdue by 5m");
        assert_string_equal(notify_due(now + 45000000, now, buf, sizeof(buf)), "due in 45s");
        assert_string_equal(notify_due(now + 500000, now, buf, sizeof(buf)), "due now");
        assert_string_equal(notify_due(now + 185 * m, now, buf, sizeof(buf)), "due in 3h 5m");
        assert_string_equal(notify_due(now - 180 * m, now, buf, sizeof(buf)), "overdue by 3h");
        assert_string_equal(notify_due(now - (48 + 4) * 60 * m, now, buf, sizeof(buf)),
                            "overdue by 2d 4h");
        assert_string_equal(notify_due(0, now, buf, sizeof(buf)), "");

        assert_int_equal(notify_severity_rank("low"), 0);
        assert_int_equal(notify_severity_rank("NORMAL"), 1);
        assert_int_equal(notify_severity_rank("high"), 2);
        assert_int_equal(notify_severity_rank("critical"), 3);
        assert_int_equal(notify_severity_rank(NULL), 1);

        s = notify_clean("a\r\nb\rc\td\x01\x7f\xc3\x28\xed\xa0\x80", 0);
        assert_string_equal(s, "a\nb\nc d\xef\xbf\xbd(\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
        free(s);
        s = notify_clean("a\r\nb", NOTIFY_ONELINE);
        assert_string_equal(s, "a b");
        free(s);

        /* by units: an emoji is 2; by bytes: never inside a character */
        s = notify_escape("ab\xf0\x9f\x98\x80" "cd", NULL, 4, NOTIFY_NO_LIMIT, &cut);
        assert_string_equal(s, "ab\xe2\x80\xa6");
        assert_true(cut);
        free(s);
        s = notify_escape("ab\xf0\x9f\x98\x80" "cd", NULL, 6, NOTIFY_NO_LIMIT, &cut);
        assert_string_equal(s, "ab\xf0\x9f\x98\x80" "cd");
        assert_false(cut);
        free(s);
        s = notify_truncate("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", NOTIFY_NO_LIMIT, 7);
        assert_string_equal(s, "\xc3\xa9\xc3\xa9\xe2\x80\xa6");
        free(s);
        s = notify_truncate("word and more words", 10, NOTIFY_NO_LIMIT);
        assert_string_equal(s, "word and\xe2\x80\xa6"); /* the blank before the cut goes */
        free(s);
        assert_int_equal(notify_utf16_units("a\xc3\xa9\xe2\x80\xa6\xf0\x9f\x98\x80"), 5);

        assert_true(notify_url_is_http("https://x.example/a?b#c"));
        assert_true(notify_url_is_http("HTTP://x"));
        assert_false(notify_url_is_http("javascript:alert(1)"));
        assert_false(notify_url_is_http("https://"));
        assert_false(notify_url_is_http("https:///path"));
        assert_false(notify_url_is_http("https://x.example/a b"));
        assert_false(notify_url_is_http(NULL));
}

static void test_descriptor(void **state) {
        expect_notifier("ntfy");
        assert_non_null(P->notifier->response);
        for (const struct earshot_option *o = P->options; o->name; o++) {
                if (strcmp(o->name, "server") == 0)
                        assert_string_equal(o->def, "https://ntfy.sh");
                if (strcmp(o->name, "topic") == 0)
                        assert_true(o->flags & EARSHOT_OPT_REQUIRED);
                if (strcmp(o->name, "token") == 0 || strcmp(o->name, "password") == 0)
                        assert_true(o->flags & EARSHOT_OPT_SECRET);
        }
}

static void test_create(void **state) {
        T *t = *state;

        assert_int_equal(create(t, SETTINGS("server=https://ntfy.example.org")), -EINVAL);
        assert_non_null(strstr(t->err, "topic"));
        assert_int_equal(create(t, SETTINGS("topic=a/b")), -EINVAL);
        assert_int_equal(create(t, SETTINGS("topic=a b")), -EINVAL);
        assert_int_equal(
                create(t, SETTINGS("topic=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")),
                -EINVAL);
        assert_int_equal(create(t, SETTINGS("topic=care", "token=tk_x", "user=u", "password=p")),
                         -EINVAL);
        assert_int_equal(create(t, SETTINGS("topic=care", "user=u")), -EINVAL);
        assert_int_equal(create(t, SETTINGS("topic=care", "password=p")), -EINVAL);
        assert_int_equal(create(t, SETTINGS("topic=care", "priority=7")), -EINVAL);
        assert_non_null(strstr(t->err, "priority"));
        assert_int_equal(create(t, SETTINGS("topic=care", "server=http://ntfy.example.org")),
                         -EINVAL);
        assert_int_equal(create(t, SETTINGS("topic=care", "token=tk_a\r\nX: 1")), -EINVAL);
        create_ok(t, SETTINGS("topic=acme-care_1", "server=http://127.0.0.1:2586/"));
        deliver(t, &alert);
        assert_string_equal(t->req.url, "http://127.0.0.1:2586/");
}

static void test_request(void **state) {
        T *t = *state;
        static const char *const tags[] = {"high", "mastodon", "acme", "refunds", "angry", NULL};

        create_ok(t, SETTINGS("topic=acme-care"));
        deliver(t, &alert);
        assert_string_equal(t->req.method, "POST");
        assert_string_equal(t->req.url, "https://ntfy.sh/");
        assert_string_equal(mock_request_header(&t->req, "Content-Type"), "application/json");
        assert_null(mock_request_header(&t->req, "Authorization"));
        assert_null(t->req.user);
        assert_int_equal(t->req.n_headers, 1);

        expect_str(t, "topic", "acme-care");
        expect_str(t, "title", "HIGH \xc2\xb7 acme \xc2\xb7 refunds, angry");
        expect_str(t, "message", "New alert on mastodon, due in 56m\n"
                                 "Alice (@alice@mastodon.social) \xc2\xb7 1200 followers\n\n"
                                 "My order never arrived, support won't answer \xf0\x9f\x98\xa1\n"
                                 "Refund!");
        expect_num(t, "priority", 4);
        expect_tags(t, tags);
        expect_str(t, "click", post.url);
        assert_int_equal(cJSON_GetArraySize(t->body), 6);

        create_ok(t, SETTINGS("topic=acme-care", "server=https://ntfy.example.org/push",
                              "token=tk_SECRET"));
        deliver(t, &alert);
        assert_string_equal(t->req.url, "https://ntfy.example.org/push/");
        assert_string_equal(mock_request_header(&t->req, "Authorization"), "Bearer tk_SECRET");
        assert_null(strstr(t->req.body, "tk_SECRET"));

        create_ok(t, SETTINGS("topic=acme-care", "user=phil", "password=SECRETPW"));
        deliver(t, &alert);
        assert_string_equal(t->req.user, "phil");
        assert_string_equal(t->req.password, "SECRETPW");
        assert_null(mock_request_header(&t->req, "Authorization"));
        assert_null(strstr(t->req.body, "SECRETPW"));
}

static void test_priority(void **state) {
        T *t = *state;
        static const struct {
                const char *severity;
                int want;
        } map[] = {{"low", 2}, {"normal", 3}, {"high", 4}, {"critical", 5}, {"bogus", 3}};
        struct earshot_alert a = alert;

        create_ok(t, SETTINGS("topic=acme-care"));
        for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
                a.severity = map[i].severity;
                deliver(t, &a);
                expect_num(t, "priority", map[i].want);
        }
        create_ok(t, SETTINGS("topic=acme-care", "priority=max"));
        deliver(t, &alert);
        expect_num(t, "priority", 5);
        create_ok(t, SETTINGS("topic=acme-care", "priority=1"));
        deliver(t, &alert);
        expect_num(t, "priority", 1);
}

static void test_injection(void **state) {
        T *t = *state;
        static const char *const evil_rules[] = {"a\nb", "a b", NULL};
        struct earshot_post p;
        struct earshot_alert a;

        create_ok(t, SETTINGS("topic=acme-care"));
        with_text(&p, &a, INJECTION);
        a.rules = evil_rules;
        p.network = "masto\xff";
        deliver(t, &a);
        expect_contains(t, "message",
                        "<!channel> <!here> <@U123> <http://evil|bank.com> & < > @everyone "
                        "@here @room <script>alert(1)</script> *bold* _it_ ~s~ `code` > quote # h "
                        "[x](http://e) 1. list \"q\" 'a' \\ line1\nline2\nline3  "
                        "bad\xef\xbf\xbd\xef\xbf\xbd end");
        expect_lacks(t, "message", "\r");
        /* ntfy renders Markdown only when asked to */
        assert_null(jfind(t->body, "markdown"));
        static const char *const tags[] = {"high", "masto\xef\xbf\xbd", "acme", "a b", NULL};
        expect_tags(t, tags);
        p.url = "javascript:alert(1)";
        deliver(t, &a);
        assert_null(jfind(t->body, "click"));
}

static void test_limits(void **state) {
        T *t = *state;
        struct earshot_post p;
        struct earshot_alert a;
        char *text = long_text(10000);
        char emoji[4 * 2000 + 1], brand[600];

        create_ok(t, SETTINGS("topic=acme-care"));
        deliver(t, with_text(&p, &a, text));
        const char *m = jstr(t, "message");
        assert_true(strlen(m) <= 4000);
        assert_true(strlen(m) >= 3990);
        assert_true(ends_with(m, "\xe2\x80\xa6"));
        assert_true(utf8_valid(m));

        /* 4-byte characters: cut between two of them */
        for (size_t i = 0; i < 2000; i++)
                memcpy(emoji + 4 * i, "\xf0\x9f\x98\x80", 4);
        emoji[8000] = 0;
        deliver(t, with_text(&p, &a, emoji));
        m = jstr(t, "message");
        assert_true(strlen(m) <= 4000);
        assert_true(utf8_valid(m));
        const char *start = strstr(m, "\n\n") + 2;
        assert_int_equal((strlen(start) - 3) % 4, 0);
        assert_true(strlen(m) > 4000 - 7);

        memset(brand, 'b', 599);
        brand[599] = 0;
        a.brand = brand;
        deliver(t, &a);
        assert_true(utf16_units(jstr(t, "title")) <= 250);
        free(text);
}

static void test_events(void **state) {
        T *t = *state;
        struct earshot_post p;
        struct earshot_alert a = alert;

        create_ok(t, SETTINGS("topic=acme-care"));
        a.event = "escalation-1";
        a.message = "overdue by 5m";
        t->mh.now = a.due_usec + INT64_C(330) * 1000000;
        deliver(t, &a);
        assert_true(strncmp(jstr(t, "message"),
                            "Still unanswered on mastodon, overdue by 5m\noverdue by 5m\n", 58) == 0);
        t->mh.now = INT64_C(1785592800) * 1000000;

        a = alert;
        a.event = "thread";
        deliver(t, &a);
        assert_true(strncmp(jstr(t, "message"), "The author posted again on mastodon", 35) == 0);

        a.event = "test";
        deliver(t, &a);
        expect_str(t, "title", "TEST \xc2\xb7 HIGH \xc2\xb7 acme \xc2\xb7 refunds, angry");
        expect_str(t, "tags.0", "test");
        expect_contains(t, "message", "TEST notification");

        deliver(t, digest_alert(&p, &a));
        expect_str(t, "message", "Digest of alerts\n\nHIGH acme refunds: alice: refund please\n"
                                 "NORMAL acme: bob: where is my order");
        assert_null(jfind(t->body, "click"));
        static const char *const tags[] = {"high", "acme", "refunds", "angry", NULL};
        expect_tags(t, tags);
}

static void test_response(void **state) {
        T *t = *state;

        create_ok(t, SETTINGS("topic=acme-care", "token=tk_SECRET"));
        expect_answers(t, {200, "{\"id\":\"x\",\"event\":\"message\"}", EARSHOT_DELIVERED},
                       {429,
                        "{\"code\":42901,\"http\":429,\"error\":\"limit reached: "
                        "too many requests\"}",
                        EARSHOT_RETRY});
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_WARNING, "too many requests"), 1);
        expect_answers(t, {500, "", EARSHOT_RETRY}, {0, NULL, EARSHOT_RETRY});
        mock_host_clear_logs(&t->mh);
        assert_int_equal(respond(t, 401, "{\"code\":40101,\"http\":401,\"error\":\"unauthorized\"}"),
                         EARSHOT_REJECTED);
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_ERR, "unauthorized"), 1);
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_ERR, "check token"), 1);
        expect_answers(
                t, {403, "{\"code\":40301,\"http\":403,\"error\":\"forbidden\"}", EARSHOT_REJECTED},
                {400, "{\"code\":40024,\"error\":\"invalid request\"}", EARSHOT_REJECTED});
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_ERR, "invalid request"), 1);
        assert_int_equal(respond(t, 413, "too large"), EARSHOT_REJECTED);
        assert_int_equal(mock_host_count_logs(&t->mh, -1, "tk_SECRET"), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_util),
                cmocka_unit_test_setup_teardown(test_descriptor, setup, teardown),
                cmocka_unit_test_setup_teardown(test_create, setup, teardown),
                cmocka_unit_test_setup_teardown(test_request, setup, teardown),
                cmocka_unit_test_setup_teardown(test_priority, setup, teardown),
                cmocka_unit_test_setup_teardown(test_injection, setup, teardown),
                cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
                cmocka_unit_test_setup_teardown(test_events, setup, teardown),
                cmocka_unit_test_setup_teardown(test_response, setup, teardown),
        };
        return cmocka_run_group_tests_name("notify-ntfy", tests, NULL, NULL);
}
