/* SPDX-License-Identifier: MIT */
/*
 * test-notify-slack.c - the Slack notifier: options (the webhook URL is a secret, mentions
 * are checked), the request, the Block Kit message block by block, every event, hostile post
 * text (Slack's &amp; &lt; &gt;, nothing formats or pings), Block Kit's limits, and how each
 * answer of Slack is judged.
 */
#include "notify-test.h"

#define HOOK "https://hooks.slack.com/services/T000/B000/XXXXSECRET"
#define ORANGE "\xf0\x9f\x9f\xa0"

/* Fail when any string in the payload holds needle, except the string at path `except`. */
static void strings_lack(const cJSON *j, const char *needle, const cJSON *except) {
        for (const cJSON *c = j ? j->child : NULL; c; c = c->next) {
                if (cJSON_IsString(c) && c != except && strstr(c->valuestring, needle))
                        fail_msg("'%s' has '%s'", c->valuestring, needle);
                strings_lack(c, needle, except);
        }
}

static void test_descriptor(void **state) {
        expect_notifier("slack");
        assert_non_null(P->notifier->response);
        assert_true(EARSHOT_NOTIFIER_HAS(P->notifier, min_interval_usec));
        assert_int_equal(P->notifier->min_interval_usec, 1000000);
        assert_string_equal(P->options[0].name, "url");
        assert_int_equal(P->options[0].type, EARSHOT_OPT_URL);
        assert_true(P->options[0].flags & EARSHOT_OPT_REQUIRED);
        assert_true(P->options[0].flags & EARSHOT_OPT_SECRET);
        assert_string_equal(P->options[1].name, "mention");
}

static void test_create(void **state) {
        T *t = *state;
        static const char *const good[] = {"<!here>", "<!channel>", "<@U024BE7LH>", "<@W0123ABC>",
                                           "<!subteam^SAZ94GDB8>", NULL};
        static const char *const bad[] = {"@here", "<!everyone>", "<@u123>", "<@U12 3>",
                                          "<!subteam^>", "<!here> <!channel>", "<#C123>",
                                          "<http://x|y>", NULL};
        char setting[128];

        assert_int_equal(create(t, SETTINGS("mention=<!here>")), -EINVAL);
        assert_non_null(strstr(t->err, "url"));
        assert_int_equal(create(t, SETTINGS("url=ftp://hooks.slack.com/x")), -EINVAL);
        /* the URL is a credential: never in clear over a network, never in a message */
        assert_int_equal(create(t, SETTINGS("url=http://hooks.slack.com/services/T/B/SECRET")),
                         -EINVAL);
        assert_non_null(strstr(t->err, "https"));
        assert_null(strstr(t->err, "SECRET"));
        create_ok(t, SETTINGS("url=http://127.0.0.1:8080/slack"));

        for (size_t i = 0; good[i]; i++) {
                snprintf(setting, sizeof(setting), "mention=%s", good[i]);
                create_ok(t, SETTINGS("url=" HOOK, setting));
        }
        for (size_t i = 0; bad[i]; i++) {
                snprintf(setting, sizeof(setting), "mention=%s", bad[i]);
                if (create(t, SETTINGS("url=" HOOK, setting)) != -EINVAL)
                        fail_msg("mention %s accepted", bad[i]);
                assert_non_null(strstr(t->err, "mention"));
        }
        assert_int_equal(create(t, SETTINGS("url=" HOOK, "icon_emoji=mega")), -EINVAL);
        assert_int_equal(create(t, SETTINGS("url=" HOOK, "icon_emoji=:a b:")), -EINVAL);
        create_ok(t, SETTINGS("url=" HOOK, "icon_emoji=:mega:", "username=earshot"));
}

static void test_request(void **state) {
        T *t = *state;

        create_ok(t, SETTINGS("url=" HOOK));
        deliver(t, &alert);
        assert_string_equal(t->req.method, "POST");
        assert_string_equal(t->req.url, HOOK);
        assert_string_equal(mock_request_header(&t->req, "Content-Type"),
                            "application/json; charset=utf-8");
        assert_null(mock_request_header(&t->req, "Authorization"));
        assert_int_equal(t->req.n_headers, 1);
        assert_null(strstr(t->req.body, "SECRET"));

        expect_str(t, "text",
                   ORANGE " HIGH \xc2\xb7 acme \xc2\xb7 refunds, angry: New alert on mastodon, due "
                          "in 56m");
        assert_true(cJSON_IsFalse(jget(t, "mrkdwn")));
        assert_int_equal(cJSON_GetArraySize(jget(t, "blocks")), 5);

        expect_str(t, "blocks.0.type", "header");
        expect_str(t, "blocks.0.text.type", "plain_text");
        expect_str(t, "blocks.0.text.text", ORANGE " HIGH \xc2\xb7 acme \xc2\xb7 refunds, angry");

        expect_str(t, "blocks.1.type", "section");
        expect_str(t, "blocks.1.text.type", "mrkdwn");
        expect_str(t, "blocks.1.text.text", "*New alert*");

        expect_str(t, "blocks.2.type", "section");
        expect_str(t, "blocks.2.text.type", "plain_text");
        expect_str(t, "blocks.2.text.text", post.text);

        expect_str(t, "blocks.3.type", "context");
        assert_int_equal(cJSON_GetArraySize(jget(t, "blocks.3.elements")), 4);
        expect_str(t, "blocks.3.elements.0.type", "plain_text");
        expect_str(t, "blocks.3.elements.0.text",
                   "Alice (@alice@mastodon.social) \xc2\xb7 1200 followers");
        expect_str(t, "blocks.3.elements.1.text", "mastodon");
        expect_str(t, "blocks.3.elements.2.text", "due in 56m");
        expect_str(t, "blocks.3.elements.3.text", "source: mastodon-acme");

        expect_str(t, "blocks.4.type", "actions");
        expect_str(t, "blocks.4.elements.0.type", "button");
        expect_str(t, "blocks.4.elements.0.text.type", "plain_text");
        expect_str(t, "blocks.4.elements.0.text.text", "Open post");
        expect_str(t, "blocks.4.elements.0.url", post.url);

        assert_true(cJSON_IsFalse(jget(t, "unfurl_links")));
        assert_true(cJSON_IsFalse(jget(t, "unfurl_media")));
        assert_null(jfind(t->body, "username"));
        assert_null(jfind(t->body, "icon_emoji"));

        /* a retry is the same message */
        char *first = strdup(t->req.body);
        deliver(t, &alert);
        assert_string_equal(t->req.body, first);
        free(first);
}

static void test_mention(void **state) {
        T *t = *state;

        create_ok(t, SETTINGS("url=" HOOK, "mention=<!subteam^SAZ94GDB8>", "username=earshot",
                              "icon_emoji=:mega:"));
        deliver(t, &alert);
        expect_str(t, "blocks.1.text.type", "mrkdwn");
        expect_str(t, "blocks.1.text.text", "<!subteam^SAZ94GDB8> *New alert*");
        assert_true(strncmp(jstr(t, "text"), "<!subteam^SAZ94GDB8> " ORANGE, 25) == 0);
        expect_str(t, "username", "earshot");
        expect_str(t, "icon_emoji", ":mega:");
        /* the configured mention is the only '<' in the message: in the fallback and block 1 */
        size_t n = 0;
        for (const char *c = t->req.body; (c = strchr(c, '<')); c++)
                n++;
        assert_int_equal(n, 2);
}

static void test_injection(void **state) {
        T *t = *state;
        struct earshot_post p;
        struct earshot_alert a;

        create_ok(t, SETTINGS("url=" HOOK));
        with_text(&p, &a, INJECTION);
        p.author_name = "<!channel> *Boss*";
        p.author_handle = "x@<http://evil|bank.com>";
        deliver(t, &a);
        expect_str(t, "blocks.2.text.type", "plain_text");
        expect_str(t, "blocks.2.text.text",
                   "&lt;!channel&gt; &lt;!here&gt; &lt;@U123&gt; &lt;http://evil|bank.com&gt; "
                   "&amp; &lt; &gt; @everyone @here @room &lt;script&gt;alert(1)&lt;/script&gt; "
                   "*bold* _it_ ~s~ `code` &gt; quote # h [x](http://e) 1. list \"q\" 'a' \\ "
                   "line1\nline2\nline3  bad\xef\xbf\xbd\xef\xbf\xbd end");
        expect_str(t, "blocks.3.elements.0.type", "plain_text");
        expect_str(t, "blocks.3.elements.0.text",
                   "&lt;!channel&gt; *Boss* (@x@&lt;http://evil|bank.com&gt;) \xc2\xb7 1200 "
                   "followers");
        /* nothing anywhere can open a control sequence; only the plugin's own mrkdwn */
        strings_lack(t->body, "<", NULL);
        strings_lack(t->body, ">", NULL);
        expect_str(t, "blocks.1.text.text", "*New alert*");
        /* no post text in mrkdwn */
        expect_lacks(t, "blocks.1.text.text", "bold");
        assert_true(cJSON_IsFalse(jget(t, "mrkdwn")));

        /* a javascript: or relative link gets no button */
        p.url = "javascript:alert(1)";
        deliver(t, &a);
        assert_int_equal(cJSON_GetArraySize(jget(t, "blocks")), 4);
        strings_lack(t->body, "javascript", NULL);
        p.url = "https://x.example/a b";
        deliver(t, &a);
        assert_int_equal(cJSON_GetArraySize(jget(t, "blocks")), 4);
}

static void test_limits(void **state) {
        T *t = *state;
        struct earshot_post p;
        struct earshot_alert a;
        char *text = long_text(10000);
        char amp[1001], brand[301];

        create_ok(t, SETTINGS("url=" HOOK));
        deliver(t, with_text(&p, &a, text));
        const char *s = jstr(t, "blocks.2.text.text");
        assert_true(utf16_units(s) <= 3000);
        assert_true(utf16_units(s) >= 2990);
        assert_true(ends_with(s, "\xe2\x80\xa6"));
        assert_true(utf8_valid(s));
        /* what is kept is the text's start, cut between two characters */
        size_t kept = strlen(s) - 3;
        assert_memory_equal(s, text, kept);

        /* the limit counts escapes, and never cuts one */
        memset(amp, '&', 1000);
        amp[1000] = 0;
        deliver(t, with_text(&p, &a, amp));
        s = jstr(t, "blocks.2.text.text");
        assert_int_equal(strlen(s), 599 * 5 + 3);
        for (size_t i = 0; i < 599; i++)
                assert_memory_equal(s + 5 * i, "&amp;", 5);
        assert_true(ends_with(s, "\xe2\x80\xa6"));

        /* header: 150 */
        memset(brand, 'b', 300);
        brand[300] = 0;
        a.brand = brand;
        deliver(t, &a);
        assert_true(utf16_units(jstr(t, "blocks.0.text.text")) <= 150);
        assert_true(ends_with(jstr(t, "blocks.0.text.text"), "\xe2\x80\xa6"));
        assert_true(cJSON_GetArraySize(jget(t, "blocks")) <= 50);
        assert_true(utf16_units(jstr(t, "text")) <= 3000);

        /* empty text: no empty section (Slack refuses one) */
        deliver(t, with_text(&p, &a, ""));
        assert_int_equal(cJSON_GetArraySize(jget(t, "blocks")), 4);
        free(text);
}

static void test_events(void **state) {
        T *t = *state;
        struct earshot_post p;
        struct earshot_alert a = alert;

        create_ok(t, SETTINGS("url=" HOOK));

        a.event = "escalation-2";
        a.message = "still unanswered, overdue by 5m";
        t->mh.now = a.due_usec + INT64_C(5) * 60 * 1000000 + 30000000;
        deliver(t, &a);
        expect_str(t, "blocks.1.text.text", "*Still unanswered (reminder 2)*");
        expect_str(t, "blocks.3.elements.2.text", "overdue by 5m");
        expect_str(t, "blocks.3.elements.3.text", "still unanswered, overdue by 5m");
        expect_contains(t, "text", "Still unanswered (reminder 2)");
        expect_contains(t, "text", "overdue by 5m");

        a.event = "escalation-1";
        deliver(t, &a);
        expect_str(t, "blocks.1.text.text", "*Still unanswered*");

        a = alert;
        a.event = "thread";
        deliver(t, &a);
        expect_str(t, "blocks.1.text.text", "*The author posted again*");

        a.event = "test";
        deliver(t, &a);
        expect_str(t, "blocks.0.text.text",
                   ORANGE " TEST \xc2\xb7 HIGH \xc2\xb7 acme \xc2\xb7 refunds, angry");
        expect_contains(t, "blocks.1.text.text", "TEST notification");
        expect_contains(t, "text", "TEST");

        deliver(t, digest_alert(&p, &a));
        expect_str(t, "blocks.1.text.text", "*Digest of alerts*");
        expect_str(t, "blocks.2.text.text", p.text);
        /* no author, no network, no due time, no button */
        assert_int_equal(cJSON_GetArraySize(jget(t, "blocks")), 4);
        assert_int_equal(cJSON_GetArraySize(jget(t, "blocks.3.elements")), 1);
        expect_str(t, "blocks.3.elements.0.text", "source: mastodon-acme");

        /* unknowns: no brand, no author, no URL, no severity, no rules */
        static const char *const none[] = {NULL};
        p = post;
        p.url = NULL;
        p.author_name = p.author_handle = NULL;
        p.author_followers = -1;
        a = alert;
        a.post = &p;
        a.brand = NULL;
        a.severity = NULL;
        a.rules = none;
        a.due_usec = 0;
        deliver(t, &a);
        expect_str(t, "blocks.0.text.text", "\xf0\x9f\x9f\xa1 NORMAL");
        assert_int_equal(cJSON_GetArraySize(jget(t, "blocks")), 4);
        assert_int_equal(cJSON_GetArraySize(jget(t, "blocks.3.elements")), 2);
        expect_str(t, "blocks.3.elements.0.text", "mastodon");

        a.post = NULL;
        assert_int_equal(P->notifier->deliver(t->state, &a, &t->req), -EINVAL);
}

static void test_response(void **state) {
        T *t = *state;

        create_ok(t, SETTINGS("url=" HOOK));
        assert_int_equal(respond(t, 200, "ok"), EARSHOT_DELIVERED);
        assert_int_equal(t->mh.n_logs, 0);
        expect_answers(t, {429, "rate_limited", EARSHOT_RETRY}, {500, "oops", EARSHOT_RETRY},
                       {503, "", EARSHOT_RETRY}, {0, NULL, EARSHOT_RETRY});
        mock_host_clear_logs(&t->mh);

        assert_int_equal(respond(t, 400, "invalid_payload"), EARSHOT_REJECTED);
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_ERR, "invalid_payload"), 1);
        expect_answers(t, {403, "invalid_token", EARSHOT_REJECTED},
                       {404, "no_service", EARSHOT_REJECTED});
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_ERR, "no_service"), 1);
        assert_int_equal(respond(t, 410, "channel_is_archived"), EARSHOT_REJECTED);
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_ERR, "channel_is_archived"), 1);
        /* the body is logged on one line, the URL never */
        assert_int_equal(respond(t, 400, "bad\r\nX-Forged: 1"), EARSHOT_REJECTED);
        assert_int_equal(mock_host_count_logs(&t->mh, -1, "\n"), 0);
        assert_int_equal(mock_host_count_logs(&t->mh, -1, "SECRET"), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_descriptor, setup, teardown),
                cmocka_unit_test_setup_teardown(test_create, setup, teardown),
                cmocka_unit_test_setup_teardown(test_request, setup, teardown),
                cmocka_unit_test_setup_teardown(test_mention, setup, teardown),
                cmocka_unit_test_setup_teardown(test_injection, setup, teardown),
                cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
                cmocka_unit_test_setup_teardown(test_events, setup, teardown),
                cmocka_unit_test_setup_teardown(test_response, setup, teardown),
        };
        return cmocka_run_group_tests_name("notify-slack", tests, NULL, NULL);
}
