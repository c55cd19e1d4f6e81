/* SPDX-License-Identifier: MIT */
/*
 * test-notify-discord.c - the Discord notifier: options, the request (?wait=true), the
 * message and its embed field by field, allowed_mentions, Markdown escaping of hostile post
 * text, Discord's length limits (counted on the escaped text, in characters), every event,
 * and how each answer of Discord is judged.
 */
#include "notify-test.h"

#define HOOK "https://discord.com/api/webhooks/123456/SECRETTOKEN"
#define ORANGE "\xf0\x9f\x9f\xa0"

/* Fail unless every Markdown special character in s follows a backslash (which itself is
 * escaped, so a pair "\\" counts as one escaped character). */
static void all_escaped(const char *s) {
        for (const char *c = s; *c; c++) {
                if (*c == '\\') {
                        if (!c[1] || !strchr("\\*_~`|><#-[]()@.", c[1]))
                                fail_msg("stray backslash at %td in '%s'", c - s, s);
                        c++;
                        continue;
                }
                if (strchr("*_~`|><#-[]()@", *c))
                        fail_msg("unescaped '%c' at %td in '%s'", *c, c - s, s);
        }
}

static void test_descriptor(void **state) {
        expect_notifier("discord");
        assert_non_null(P->notifier->response);
        assert_string_equal(P->options[0].name, "url");
        assert_true(P->options[0].flags & EARSHOT_OPT_REQUIRED);
        assert_true(P->options[0].flags & EARSHOT_OPT_SECRET);
}

static void test_create(void **state) {
        T *t = *state;

        assert_int_equal(create(t, SETTINGS("username=x")), -EINVAL);
        assert_int_equal(create(t, SETTINGS("url=http://discord.com/api/webhooks/1/SECRET")),
                         -EINVAL);
        assert_null(strstr(t->err, "SECRET"));
        assert_int_equal(create(t, SETTINGS("url=" HOOK, "username=a\nb")), -EINVAL);
        create_ok(t, SETTINGS("url=" HOOK "?thread_id=42"));
        deliver(t, &alert);
        assert_string_equal(t->req.url, HOOK "?thread_id=42&wait=true");
}

static void test_request(void **state) {
        T *t = *state;

        create_ok(t, SETTINGS("url=" HOOK));
        deliver(t, &alert);
        assert_string_equal(t->req.method, "POST");
        assert_string_equal(t->req.url, HOOK "?wait=true");
        assert_string_equal(mock_request_header(&t->req, "Content-Type"), "application/json");
        assert_int_equal(t->req.n_headers, 1);

        expect_str(t, "content",
                   ORANGE " **HIGH \xc2\xb7 acme \xc2\xb7 refunds, angry** New alert on mastodon, "
                          "due in 56m");
        assert_int_equal(cJSON_GetArraySize(jget(t, "embeds")), 1);
        expect_str(t, "embeds.0.title", "New alert");
        expect_str(t, "embeds.0.description", post.text);
        expect_str(t, "embeds.0.url", post.url);
        expect_num(t, "embeds.0.color", 0xff8c00);
        assert_int_equal(cJSON_GetArraySize(jget(t, "embeds.0.fields")), 4);
        expect_str(t, "embeds.0.fields.0.name", "Author");
        expect_str(t, "embeds.0.fields.0.value", "Alice \\(\\@alice\\@mastodon.social\\)");
        assert_true(cJSON_IsTrue(jget(t, "embeds.0.fields.0.inline")));
        expect_str(t, "embeds.0.fields.1.name", "Followers");
        expect_str(t, "embeds.0.fields.1.value", "1200");
        expect_str(t, "embeds.0.fields.2.name", "Network");
        expect_str(t, "embeds.0.fields.2.value", "mastodon");
        expect_str(t, "embeds.0.fields.3.name", "Due");
        expect_str(t, "embeds.0.fields.3.value", "due in 56m");
        expect_str(t, "embeds.0.footer.text",
                   "earshot \xc2\xb7 source mastodon\\-acme \xc2\xb7 alert al\\-0001");

        /* nobody is ever pinged */
        const cJSON *am = jget(t, "allowed_mentions");
        assert_int_equal(cJSON_GetArraySize(am), 1);
        assert_true(cJSON_IsArray(jget(t, "allowed_mentions.parse")));
        assert_int_equal(cJSON_GetArraySize(jget(t, "allowed_mentions.parse")), 0);
        assert_null(jfind(t->body, "username"));

        create_ok(t, SETTINGS("url=" HOOK, "username=earshot"));
        deliver(t, &alert);
        expect_str(t, "username", "earshot");
}

static void test_injection(void **state) {
        T *t = *state;
        struct earshot_post p;
        struct earshot_alert a;

        create_ok(t, SETTINGS("url=" HOOK));
        with_text(&p, &a, INJECTION);
        p.author_name = "@everyone **Boss**";
        deliver(t, &a);
        expect_str(t, "embeds.0.description",
                   "\\<!channel\\> \\<!here\\> \\<\\@U123\\> \\<http://evil\\|bank.com\\> & \\< "
                   "\\> \\@everyone \\@here \\@room \\<script\\>alert\\(1\\)\\</script\\> "
                   "\\*bold\\* \\_it\\_ \\~s\\~ \\`code\\` \\> quote \\# h "
                   "\\[x\\]\\(http://e\\) 1\\. list \"q\" 'a' \\\\ line1\nline2\nline3  "
                   "bad\xef\xbf\xbd\xef\xbf\xbd end");
        all_escaped(jstr(t, "embeds.0.description"));
        expect_str(t, "embeds.0.fields.0.value",
                   "\\@everyone \\*\\*Boss\\*\\* \\(\\@alice\\@mastodon.social\\)");
        all_escaped(jstr(t, "embeds.0.fields.0.value"));
        /* the post text never reaches content, where a mention would render */
        expect_lacks(t, "content", "everyone");
        assert_int_equal(cJSON_GetArraySize(jget(t, "allowed_mentions.parse")), 0);

        /* a post link that is not http(s) is dropped, not linked */
        p.url = "javascript:alert(1)";
        deliver(t, &a);
        assert_null(jfind(t->body, "embeds.0.url"));
}

static void test_limits(void **state) {
        T *t = *state;
        struct earshot_post p;
        struct earshot_alert a;
        char *text = long_text(10000), stars[3001], big[2001];

        create_ok(t, SETTINGS("url=" HOOK));
        memset(big, 'x', 2000);
        big[2000] = 0;
        with_text(&p, &a, text);
        p.author_name = big;
        a.brand = big;
        a.message = big;
        a.id = big;
        deliver(t, &a);
        const char *d = jstr(t, "embeds.0.description");
        assert_true(utf16_units(d) <= 4096);
        assert_true(utf16_units(d) >= 4080);
        assert_true(ends_with(d, "\xe2\x80\xa6"));
        assert_memory_equal(d, text, strlen(d) - 3);
        assert_true(utf16_units(jstr(t, "content")) <= 2000);
        assert_true(utf16_units(jstr(t, "embeds.0.title")) <= 256);
        size_t total = utf16_units(jstr(t, "embeds.0.title")) + utf16_units(d) +
                       utf16_units(jstr(t, "embeds.0.footer.text"));
        assert_true(utf16_units(jstr(t, "embeds.0.footer.text")) <= 2048);
        const cJSON *f;
        cJSON_ArrayForEach(f, jget(t, "embeds.0.fields")) {
                const char *v = cJSON_GetObjectItem(f, "value")->valuestring;
                assert_true(utf16_units(v) <= 1024);
                total += utf16_units(v) + utf16_units(cJSON_GetObjectItem(f, "name")->valuestring);
        }
        assert_true(total <= 6000);

        /* an escape is never cut in half: 2047 "\*" and "…" */
        memset(stars, '*', 3000);
        stars[3000] = 0;
        deliver(t, with_text(&p, &a, stars));
        d = jstr(t, "embeds.0.description");
        assert_int_equal(strlen(d), 2047 * 2 + 3);
        for (size_t i = 0; i < 2047; i++)
                assert_memory_equal(d + 2 * i, "\\*", 2);
        assert_true(ends_with(d, "\xe2\x80\xa6"));
        free(text);
}

static void test_events(void **state) {
        T *t = *state;
        struct earshot_post p;
        struct earshot_alert a = alert;

        create_ok(t, SETTINGS("url=" HOOK));
        a.event = "escalation-3";
        a.message = "overdue by 5m";
        t->mh.now = a.due_usec + INT64_C(300) * 1000000;
        deliver(t, &a);
        /* the plugin's own words are escaped as well: they show as written */
        expect_str(t, "embeds.0.title", "Still unanswered \\(reminder 3\\)");
        expect_contains(t, "content", "Still unanswered \\(reminder 3\\)");
        expect_contains(t, "content", "overdue by 5m");
        expect_str(t, "embeds.0.fields.4.name", "Note");
        expect_str(t, "embeds.0.fields.4.value", "overdue by 5m");

        t->mh.now = INT64_C(1785592800) * 1000000;
        a = alert;
        a.event = "thread";
        deliver(t, &a);
        expect_str(t, "embeds.0.title", "The author posted again");

        a.event = "test";
        deliver(t, &a);
        expect_contains(t, "content", "**TEST \xc2\xb7 HIGH");
        expect_contains(t, "embeds.0.title", "TEST notification");

        deliver(t, digest_alert(&p, &a));
        expect_str(t, "embeds.0.title", "Digest of alerts");
        expect_str(t, "embeds.0.description", p.text);
        assert_null(jfind(t->body, "embeds.0.url"));
        assert_int_equal(cJSON_GetArraySize(jget(t, "embeds.0.fields")), 0);

        p = post;
        p.text = "";
        p.author_name = p.author_handle = p.url = NULL;
        a = alert;
        a.post = &p;
        a.brand = NULL;
        deliver(t, &a);
        assert_null(jfind(t->body, "embeds.0.description")); /* Discord refuses an empty one */
        expect_str(t, "content", ORANGE " **HIGH \xc2\xb7 refunds, angry** New alert on mastodon, "
                                        "due in 56m");
}

static void test_response(void **state) {
        T *t = *state;
        static const char *const ra[] = {"Retry-After: 1", NULL};
        struct earshot_response r;

        create_ok(t, SETTINGS("url=" HOOK));
        expect_answers(t, {200, "{\"id\":\"1\"}", EARSHOT_DELIVERED}, {204, "", EARSHOT_DELIVERED});
        r = response_h(429, "{\"message\":\"You are being rate limited.\",\"retry_after\":0.5,"
                            "\"global\":false}",
                       ra);
        assert_int_equal(P->notifier->response(t->state, &alert, &r), EARSHOT_RETRY);
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_WARNING, "retry_after 0.5"), 1);
        expect_answers(t, {500, "{}", EARSHOT_RETRY}, {502, "<html>", EARSHOT_RETRY},
                       {0, NULL, EARSHOT_RETRY});

        mock_host_clear_logs(&t->mh);
        assert_int_equal(respond(t, 400, "{\"message\":\"Invalid Form Body\",\"code\":50035}"),
                         EARSHOT_REJECTED);
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_ERR, "Invalid Form Body"), 1);
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_ERR, "50035"), 1);
        expect_answers(t, {401, "{\"message\":\"401: Unauthorized\",\"code\":0}", EARSHOT_REJECTED},
                       {403, "{\"message\":\"Missing Access\",\"code\":50001}", EARSHOT_REJECTED},
                       {404, "{\"message\":\"Unknown Webhook\",\"code\":10015}", EARSHOT_REJECTED});
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_ERR, "Unknown Webhook"), 1);
        assert_int_equal(respond(t, 404, "not json\r\nat all"), EARSHOT_REJECTED);
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_ERR, "not json at all"), 1);
        assert_int_equal(mock_host_count_logs(&t->mh, -1, "SECRETTOKEN"), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_descriptor, setup, teardown),
                cmocka_unit_test_setup_teardown(test_create, setup, teardown),
                cmocka_unit_test_setup_teardown(test_request, setup, teardown),
                cmocka_unit_test_setup_teardown(test_injection, setup, teardown),
                cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
                cmocka_unit_test_setup_teardown(test_events, setup, teardown),
                cmocka_unit_test_setup_teardown(test_response, setup, teardown),
        };
        return cmocka_run_group_tests_name("notify-discord", tests, NULL, NULL);
}
