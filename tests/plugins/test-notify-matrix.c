/* SPDX-License-Identifier: MIT */
/*
 * test-notify-matrix.c - the Matrix notifier: options, the PUT (encoded room id, a txnId
 * stable across retries of one event and new for each event, Bearer token), the m.room.message
 * content field by field, HTML escaping (only the plugin's tags survive), m.mentions, limits,
 * every event, and how each answer of a homeserver is judged.
 */
#include "notify-test.h"

#define HS "https://matrix.example.org"
#define ROOM "!abc123:example.org"
#define SEND HS "/_matrix/client/v3/rooms/%21abc123%3Aexample.org/send/m.room.message/"
#define TOKEN "syt_c2VjcmV0_SECRETTOKEN"
#define BASE_SETTINGS "homeserver=" HS, "room=" ROOM, "access_token=" TOKEN
#define ORANGE "\xf0\x9f\x9f\xa0"

/* Fail unless every tag in html is one the plugin writes. */
static void only_own_tags(const char *html) {
        static const char *const own[] = {"<b>", "</b>", "<i>", "</i>", "<br>", "<blockquote>",
                                          "</blockquote>", "<a href=\"", "</a>", NULL};
        for (const char *c = html; (c = strchr(c, '<')); c++) {
                bool ok = false;
                for (size_t i = 0; own[i] && !ok; i++)
                        ok = strncmp(c, own[i], strlen(own[i])) == 0;
                if (!ok)
                        fail_msg("foreign markup at '%.30s'", c);
        }
}

static void test_descriptor(void **state) {
        expect_notifier("matrix");
        assert_non_null(P->notifier->response);
        assert_string_equal(P->options[0].name, "homeserver");
        assert_true(P->options[0].flags & EARSHOT_OPT_REQUIRED);
        assert_string_equal(P->options[1].name, "room");
        assert_true(P->options[1].flags & EARSHOT_OPT_REQUIRED);
        assert_string_equal(P->options[2].name, "access_token");
        assert_true(P->options[2].flags & EARSHOT_OPT_REQUIRED);
        assert_true(P->options[2].flags & EARSHOT_OPT_SECRET);
}

static void test_create(void **state) {
        T *t = *state;

        assert_int_equal(create(t, SETTINGS("room=" ROOM, "access_token=" TOKEN)), -EINVAL);
        assert_non_null(strstr(t->err, "homeserver"));
        assert_int_equal(create(t, SETTINGS("homeserver=http://matrix.example.org", "room=" ROOM,
                                            "access_token=" TOKEN)),
                         -EINVAL);
        assert_int_equal(create(t, SETTINGS("homeserver=" HS, "room=#care:example.org",
                                            "access_token=" TOKEN)),
                         -EINVAL);
        assert_non_null(strstr(t->err, "room"));
        assert_int_equal(create(t, SETTINGS("homeserver=" HS, "room=!abc", "access_token=" TOKEN)),
                         -EINVAL);
        assert_int_equal(create(t, SETTINGS("homeserver=" HS, "room=" ROOM,
                                            "access_token=a b\r\nX: 1")),
                         -EINVAL);
        assert_null(strstr(t->err, "a b"));
        assert_int_equal(create(t, SETTINGS(BASE_SETTINGS, "msgtype=m.emote")), -EINVAL);
        create_ok(t, SETTINGS(BASE_SETTINGS, "msgtype=m.notice"));
        deliver(t, &alert);
        expect_str(t, "msgtype", "m.notice");
}

static void test_request(void **state) {
        T *t = *state;

        create_ok(t, SETTINGS(BASE_SETTINGS));
        deliver(t, &alert);
        assert_string_equal(t->req.method, "PUT");
        assert_string_equal(t->req.url, SEND "earshot-al-0001-new");
        assert_string_equal(mock_request_header(&t->req, "Authorization"), "Bearer " TOKEN);
        assert_string_equal(mock_request_header(&t->req, "Content-Type"), "application/json");
        assert_int_equal(t->req.n_headers, 2);
        assert_null(strstr(t->req.body, "SECRETTOKEN"));

        expect_str(t, "msgtype", "m.text");
        expect_str(t, "body",
                   ORANGE " HIGH \xc2\xb7 acme \xc2\xb7 refunds, angry\n"
                          "New alert on mastodon, due in 56m\n"
                          "Alice (@alice@mastodon.social) \xc2\xb7 1200 followers\n\n"
                          "My order never arrived, support won't answer \xf0\x9f\x98\xa1\n"
                          "Refund!\n\n"
                          "https://mastodon.social/@alice/117020593741189701");
        expect_str(t, "format", "org.matrix.custom.html");
        expect_str(t, "formatted_body",
                   "<b>" ORANGE " HIGH \xc2\xb7 acme \xc2\xb7 refunds, angry</b><br>"
                   "<i>New alert</i> on mastodon, due in 56m<br>"
                   "Alice (@alice@mastodon.social) \xc2\xb7 1200 followers<br>"
                   "<blockquote>My order never arrived, support won&#39;t answer "
                   "\xf0\x9f\x98\xa1<br>Refund!</blockquote>"
                   "<a href=\"https://mastodon.social/@alice/117020593741189701\">Open post</a>");
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(t->body, "m.mentions");
        assert_true(cJSON_IsObject(m));
        assert_null(m->child);
        assert_int_equal(cJSON_GetArraySize(t->body), 5);
}

static void test_txn_id(void **state) {
        T *t = *state;
        struct earshot_alert a = alert;
        char first[512];

        create_ok(t, SETTINGS("homeserver=http://127.0.0.1:8008/prefix/", "room=" ROOM,
                              "access_token=" TOKEN));
        deliver(t, &alert);
        snprintf(first, sizeof(first), "%s", t->req.url);
        assert_string_equal(first, "http://127.0.0.1:8008/prefix/_matrix/client/v3/rooms/"
                                   "%21abc123%3Aexample.org/send/m.room.message/"
                                   "earshot-al-0001-new");
        /* a retry of the same event: the same transaction, so the homeserver posts it once */
        deliver(t, &alert);
        assert_string_equal(t->req.url, first);
        /* each event is a message of its own */
        a.event = "escalation-1";
        deliver(t, &a);
        assert_true(ends_with(t->req.url, "/earshot-al-0001-escalation-1"));
        a.event = "escalation-2";
        deliver(t, &a);
        assert_true(ends_with(t->req.url, "/earshot-al-0001-escalation-2"));
        /* and so is each alert; what is not URL-safe is percent-encoded */
        a = alert;
        a.id = "a/b c?d#e";
        deliver(t, &a);
        assert_true(ends_with(t->req.url, "/earshot-a%2Fb%20c%3Fd%23e-new"));
        a.id = NULL;
        assert_int_equal(P->notifier->deliver(t->state, &a, &t->req), -EINVAL);
}

static void test_injection(void **state) {
        T *t = *state;
        struct earshot_post p;
        struct earshot_alert a;

        create_ok(t, SETTINGS(BASE_SETTINGS));
        with_text(&p, &a, INJECTION);
        p.author_name = "<img src=x onerror=alert(1)>";
        p.url = "https://e.example/\"onmouseover=\"x";
        deliver(t, &a);
        const char *html = jstr(t, "formatted_body");
        only_own_tags(html);
        expect_contains(t, "formatted_body",
                        "<blockquote>&lt;!channel&gt; &lt;!here&gt; &lt;@U123&gt; "
                        "&lt;http://evil|bank.com&gt; &amp; &lt; &gt; @everyone @here @room "
                        "&lt;script&gt;alert(1)&lt;/script&gt; *bold* _it_ ~s~ `code` &gt; quote "
                        "# h [x](http://e) 1. list &quot;q&quot; &#39;a&#39; \\ line1<br>line2<br>"
                        "line3  bad\xef\xbf\xbd\xef\xbf\xbd end</blockquote>");
        expect_contains(t, "formatted_body", "&lt;img src=x onerror=alert(1)&gt; (@alice");
        expect_contains(t, "formatted_body",
                        "<a href=\"https://e.example/&quot;onmouseover=&quot;x\">Open post</a>");
        /* the plain body keeps the text, but "@room" matches no legacy push rule */
        expect_contains(t, "body", "<script>alert(1)</script>");
        expect_contains(t, "body", "@\xe2\x81\xa0room");
        expect_lacks(t, "body", "@room");
        expect_contains(t, "body", "line1\nline2\nline3");
        assert_true(cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(t->body, "m.mentions")));
        assert_null(cJSON_GetObjectItemCaseSensitive(t->body, "m.mentions")->child);

        p.url = "javascript:alert(1)";
        deliver(t, &a);
        expect_lacks(t, "formatted_body", "href");
        expect_lacks(t, "formatted_body", "javascript");
        expect_lacks(t, "body", "javascript");
}

static void test_limits(void **state) {
        T *t = *state;
        struct earshot_post p;
        struct earshot_alert a;
        char *text = long_text(10000), *quotes = malloc(10001);

        create_ok(t, SETTINGS(BASE_SETTINGS));
        deliver(t, with_text(&p, &a, text));
        assert_true(t->req.body_len < 65536);
        expect_contains(t, "body", "\xe2\x80\xa6");
        expect_contains(t, "formatted_body", "\xe2\x80\xa6</blockquote>");

        /* 10,000 apostrophes: 8000 bytes plain, 24000 escaped; escapes never cut */
        assert_non_null(quotes);
        memset(quotes, '\'', 10000);
        quotes[10000] = 0;
        deliver(t, with_text(&p, &a, quotes));
        assert_true(t->req.body_len < 65536);
        const char *html = strstr(jstr(t, "formatted_body"), "<blockquote>") + 12;
        const char *end = strstr(html, "</blockquote>");
        assert_int_equal(end - html, 4799 * 5 + 3);
        for (size_t i = 0; i < 4799; i++)
                assert_memory_equal(html + 5 * i, "&#39;", 5);
        assert_memory_equal(html + 4799 * 5, "\xe2\x80\xa6", 3);
        const char *plain = strstr(jstr(t, "body"), "\n\n'") + 2;
        assert_int_equal(strspn(plain, "'"), 7997);
        assert_memory_equal(plain + 7997, "\xe2\x80\xa6", 3);
        free(quotes);
        free(text);
}

static void test_events(void **state) {
        T *t = *state;
        struct earshot_post p;
        struct earshot_alert a = alert;

        create_ok(t, SETTINGS(BASE_SETTINGS));
        a.event = "escalation-2";
        a.message = "overdue by 5m";
        t->mh.now = a.due_usec + INT64_C(300) * 1000000;
        deliver(t, &a);
        expect_contains(t, "body",
                        "\nStill unanswered (reminder 2) on mastodon, overdue by 5m\noverdue by 5m\n");
        expect_contains(t, "formatted_body",
                        "<i>Still unanswered (reminder 2)</i> on mastodon, overdue by 5m<br>"
                        "overdue by 5m<br>");
        t->mh.now = INT64_C(1785592800) * 1000000;

        a = alert;
        a.event = "thread";
        deliver(t, &a);
        expect_contains(t, "formatted_body", "<i>The author posted again</i>");

        a.event = "test";
        deliver(t, &a);
        assert_true(strncmp(jstr(t, "body"), ORANGE " TEST \xc2\xb7 HIGH", 13) == 0);
        expect_contains(t, "formatted_body", "<i>TEST notification");

        deliver(t, digest_alert(&p, &a));
        expect_str(t, "body",
                   ORANGE " HIGH \xc2\xb7 acme \xc2\xb7 refunds, angry\nDigest of alerts\n\n" 
                          "HIGH acme refunds: alice: refund please\nNORMAL acme: bob: where is "
                          "my order");
        expect_str(t, "formatted_body",
                   "<b>" ORANGE " HIGH \xc2\xb7 acme \xc2\xb7 refunds, angry</b><br>"
                   "<i>Digest of alerts</i><br><blockquote>HIGH acme refunds: alice: refund "
                   "please<br>NORMAL acme: bob: where is my order</blockquote>");
}

static void test_response(void **state) {
        T *t = *state;

        create_ok(t, SETTINGS(BASE_SETTINGS));
        expect_answers(t, {200, "{\"event_id\":\"$abc\"}", EARSHOT_DELIVERED},
                       {429,
                        "{\"errcode\":\"M_LIMIT_EXCEEDED\",\"error\":\"Too many requests\","
                        "\"retry_after_ms\":2000}",
                        EARSHOT_RETRY});
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_WARNING, "retry_after_ms 2000"),
                         1);
        expect_answers(t, {500, "{}", EARSHOT_RETRY}, {502, "bad gateway", EARSHOT_RETRY},
                       {0, NULL, EARSHOT_RETRY});

        mock_host_clear_logs(&t->mh);
        assert_int_equal(respond(t, 401, "{\"errcode\":\"M_UNKNOWN_TOKEN\",\"error\":\"Invalid "
                                         "access token passed.\",\"soft_logout\":false}"),
                         EARSHOT_REJECTED);
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_ERR, "M_UNKNOWN_TOKEN"), 1);
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_ERR, "access_token"), 1);
        assert_int_equal(respond(t, 403, "{\"errcode\":\"M_FORBIDDEN\",\"error\":\"User "
                                         "@bot:example.org not in room\"}"),
                         EARSHOT_REJECTED);
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_ERR, "M_FORBIDDEN"), 1);
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_ERR, ROOM), 1);
        assert_int_equal(respond(t, 400, "{\"errcode\":\"M_BAD_JSON\",\"error\":\"x\"}"),
                         EARSHOT_REJECTED);
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_ERR, "M_BAD_JSON"), 1);
        assert_int_equal(respond(t, 404, "<html>not found</html>"), EARSHOT_REJECTED);
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_ERR, "not found"), 1);
        assert_int_equal(mock_host_count_logs(&t->mh, -1, "SECRETTOKEN"), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_descriptor, setup, teardown),
                cmocka_unit_test_setup_teardown(test_create, setup, teardown),
                cmocka_unit_test_setup_teardown(test_request, setup, teardown),
                cmocka_unit_test_setup_teardown(test_txn_id, setup, teardown),
                cmocka_unit_test_setup_teardown(test_injection, setup, teardown),
                cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
                cmocka_unit_test_setup_teardown(test_events, setup, teardown),
                cmocka_unit_test_setup_teardown(test_response, setup, teardown),
        };
        return cmocka_run_group_tests_name("notify-matrix", tests, NULL, NULL);
}
