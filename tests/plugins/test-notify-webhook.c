/* SPDX-License-Identifier: MIT */
/*
 * test-notify-webhook.c - the webhook notifier: options, the request (method, URL, headers)
 * and the earshot.alert.v1 payload field by field, including nulls and hostile strings; the
 * HMAC-SHA256 signature header, checked against a hard-coded vector and against libcrypto's
 * one-shot HMAC() over the exact body bytes (another API than the plugin's EVP_MAC).
 */
#include <openssl/evp.h>
#include <openssl/hmac.h>

#define NOTIFY_TEST_RULE "refund"
#define NOTIFY_TEST_TEXT                                                                           \
        "My order never arrived, \"support\" won't answer \xf0\x9f\x98\xa1\nRefund!"
#include "notify-test.h"

static void test_descriptor(void **state) {
        expect_notifier("webhook");
        assert_null(P->notifier->response); /* the core applies earshot_http_outcome() */
        assert_string_equal(P->options[0].name, "url");
        assert_int_equal(P->options[0].type, EARSHOT_OPT_URL);
        assert_true(P->options[0].flags & EARSHOT_OPT_REQUIRED);
        assert_string_equal(P->options[1].name, "bearer_token");
        assert_true(P->options[1].flags & EARSHOT_OPT_SECRET);
        /* secrets: SECRET, so that secret_file and systemd credentials work and dumps hide them */
        assert_string_equal(P->options[2].name, "secret");
        assert_int_equal(P->options[2].type, EARSHOT_OPT_STRING);
        assert_int_equal(P->options[2].flags, EARSHOT_OPT_SECRET);
        assert_null(P->options[2].def);
        assert_string_equal(P->options[3].name, "previous_secret");
        assert_int_equal(P->options[3].type, EARSHOT_OPT_STRING);
        assert_int_equal(P->options[3].flags, EARSHOT_OPT_SECRET);
        assert_string_equal(P->options[4].name, "signature_header");
        assert_int_equal(P->options[4].type, EARSHOT_OPT_STRING);
        assert_int_equal(P->options[4].flags, 0);
        assert_string_equal(P->options[4].def, "Earshot-Signature");
        assert_null(P->options[5].name);
}

static void test_create_rejects(void **state) {
        T *t = *state;

        assert_int_equal(create(t, SETTINGS("bearer_token=x")), -EINVAL);
        assert_non_null(strstr(t->err, "url"));
        assert_int_equal(create(t, SETTINGS("url=ftp://hooks.example/x")), -EINVAL);
        assert_non_null(strstr(t->err, "not an http:// or https:// URL"));
        assert_int_equal(
                create(t, SETTINGS("url=https://hooks.example/x", "bearer_token=abc\r\nX-Evil: 1")),
                -EINVAL);
        assert_null(strstr(t->err, "abc"));
        assert_null(t->state);
}

static void test_request(void **state) {
        T *t = *state;

        create_ok(t,
                  SETTINGS("url=https://hooks.example/earshot?team=care", "bearer_token=s3cr3t"));
        deliver(t, &alert);
        assert_string_equal(t->req.method, "POST");
        assert_string_equal(t->req.url, "https://hooks.example/earshot?team=care");
        assert_string_equal(mock_request_header(&t->req, "Content-Type"), "application/json");
        assert_string_equal(mock_request_header(&t->req, "Idempotency-Key"), "al-0001");
        assert_string_equal(mock_request_header(&t->req, "Authorization"), "Bearer s3cr3t");
        assert_null(strstr(t->req.body, "s3cr3t"));
        assert_int_equal(t->mh.n_logs, 0);

        /* a retry is the same request: receivers de-duplicate on the key */
        char *first = strdup(t->req.body);
        assert_non_null(first);
        deliver(t, &alert);
        assert_string_equal(t->req.body, first);
        assert_string_equal(mock_request_header(&t->req, "Idempotency-Key"), "al-0001");
        free(first);

        /* no token, no Authorization */
        create_ok(t, SETTINGS("url=http://127.0.0.1:8080/hook"));
        deliver(t, &alert);
        assert_null(mock_request_header(&t->req, "Authorization"));
        assert_int_equal(t->req.n_headers, 2);
}

static void test_payload(void **state) {
        T *t = *state;

        create_ok(t, SETTINGS("url=https://hooks.example/x"));
        deliver(t, &alert);

        expect_str(t, "schema", "earshot.alert.v1");
        expect_str(t, "event", "new");
        expect_str(t, "id", "al-0001");
        const cJSON *r = jget(t, "rules");
        assert_true(cJSON_IsArray(r));
        assert_int_equal(cJSON_GetArraySize(r), 2);
        assert_string_equal(cJSON_GetArrayItem(r, 0)->valuestring, "refund");
        assert_string_equal(cJSON_GetArrayItem(r, 1)->valuestring, "angry");
        expect_str(t, "brand", "acme");
        expect_str(t, "severity", "high");
        expect_str(t, "network", "mastodon");
        expect_str(t, "source", "mastodon-acme");
        expect_str(t, "detected_at", "2026-08-01T13:56:02.114Z");
        expect_str(t, "due_at", "2026-08-01T14:56:02.114Z");
        expect_num(t, "respond_within", 3600);

        expect_str(t, "post.id", post.id);
        expect_str(t, "post.url", post.url);
        expect_str(t, "post.text", post.text);
        expect_str(t, "post.lang", "en");
        expect_str(t, "post.created_at", "2026-08-01T13:55:55.867Z");
        expect_str(t, "post.author.handle", "alice@mastodon.social");
        expect_str(t, "post.author.name", "Alice");
        expect_num(t, "post.author.followers", 1200);
        expect_num(t, "post.replies", 0);
        expect_num(t, "post.reposts", 2);
        expect_num(t, "post.likes", 5);
        expect_null(t, "message");
        expect_str(t, "state", "open");
        assert_true(cJSON_IsFalse(jget(t, "late")));
        expect_num(t, "late_by", 0);
        expect_num(t, "posts", 1);
        expect_num(t, "copies", 1);
        assert_string_equal(mock_request_header(&t->req, "Idempotency-Key"), "al-0001");

        /* exactly these keys, in this order: the documented schema */
        static const char *const keys[] = {
                "schema",  "event",    "id",          "message", "state",   "late",
                "late_by", "posts",    "copies",      "priority", "rules",  "brand",
                "severity", "network", "source",      "detected_at", "due_at",
                "respond_within", "post", NULL};
        const cJSON *k = t->body->child;
        for (size_t i = 0; keys[i]; i++, k = k->next) {
                assert_non_null(k);
                assert_string_equal(k->string, keys[i]);
        }
        assert_null(k);
}

static void test_payload_escalation(void **state) {
        T *t = *state;
        struct earshot_alert a = alert;

        a.event = "escalation-2";
        a.message = "overdue by 5m";
        a.state = "acknowledged";
        a.late_usec = INT64_C(3599999999); /* whole seconds, rounded down */
        a.posts = 3;
        a.copies = 2;
        a.priority = 42.5;
        create_ok(t, SETTINGS("url=https://hooks.example/x"));
        deliver(t, &a);
        expect_str(t, "event", "escalation-2");
        expect_str(t, "message", "overdue by 5m");
        expect_str(t, "state", "acknowledged");
        assert_true(cJSON_IsTrue(jget(t, "late")));
        expect_num(t, "late_by", 3599);
        expect_num(t, "posts", 3);
        expect_num(t, "copies", 2);
        assert_float_equal(jget(t, "priority")->valuedouble, 42.5, 1e-9);
        /* a reminder is a new event for the receiver, not a retry of the first alert */
        assert_string_equal(mock_request_header(&t->req, "Idempotency-Key"),
                            "al-0001/escalation-2");
        /* an event name with a line break never reaches a header */
        a.event = "thread\r\nX-Evil: 1";
        assert_int_equal(P->notifier->deliver(t->state, &a, &t->req), -EINVAL);
        /* a core from before these fields: none of them */
        a = alert;
        a.size = offsetof(struct earshot_alert, message);
        deliver(t, &a);
        assert_null(cJSON_GetObjectItemCaseSensitive(t->body, "late"));
        assert_null(cJSON_GetObjectItemCaseSensitive(t->body, "state"));
}

static void test_payload_unknowns(void **state) {
        T *t = *state;
        static const char *const no_rules[] = {NULL};
        struct earshot_post p = post;
        struct earshot_alert a = alert;

        p.url = NULL;
        p.lang = NULL;
        p.author_handle = NULL;
        p.author_name = NULL;
        p.author_followers = -1;
        p.created_usec = 0;
        p.replies = p.reposts = p.likes = -1;
        a.post = &p;
        a.brand = NULL;
        a.rules = no_rules;
        a.respond_within_usec = INT64_C(5400999999); /* whole seconds, rounded down */

        create_ok(t, SETTINGS("url=https://hooks.example/x"));
        deliver(t, &a);
        expect_null(t, "brand");
        expect_null(t, "post.url");
        expect_null(t, "post.lang");
        expect_null(t, "post.created_at");
        expect_null(t, "post.author.handle");
        expect_null(t, "post.author.name");
        expect_null(t, "post.author.followers");
        expect_null(t, "post.replies");
        expect_null(t, "post.reposts");
        expect_null(t, "post.likes");
        assert_int_equal(cJSON_GetArraySize(jget(t, "rules")), 0);
        expect_num(t, "respond_within", 5400);

        /* an alert from a core that knows no `event` yet */
        a.size = offsetof(struct earshot_alert, event);
        a.event = "garbage beyond the struct";
        deliver(t, &a);
        expect_str(t, "event", "new");

        /* no post: a bug in the caller, not a request */
        a = alert;
        a.post = NULL;
        assert_int_equal(P->notifier->deliver(t->state, &a, &t->req), -EINVAL);
}

static void test_payload_hostile_strings(void **state) {
        T *t = *state;
        struct earshot_post p = post;
        struct earshot_alert a = alert;

        p.text = "quote \" backslash \\ newline \n tab \t nul-free \x01 </script>";
        p.author_name = "Bad\xff\xfeUTF-8 \xc3\x28 \xed\xa0\x80 \xf0\x9f\x98"; /* invalid */
        p.author_followers = INT64_C(9007199254740993);                        /* 2^53 + 1 */
        a.post = &p;

        create_ok(t, SETTINGS("url=https://hooks.example/x"));
        deliver(t, &a);
        expect_str(t, "post.text", p.text);
        expect_str(t, "post.author.name",
                   "Bad\xef\xbf\xbd\xef\xbf\xbdUTF-8 \xef\xbf\xbd( "
                   "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd "
                   "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
        /* integers are written exactly, not through a double */
        assert_non_null(strstr(t->req.body, "\"followers\":9007199254740993"));
}

/* ---- signatures -------------------------------------------------------------------------- */

#define SECRET "whsec_5Jq!unit-test key"
#define OLD_SECRET "whsec_previous"

/* Lowercase hex HMAC-SHA256(key, "<t>.<body>"), by libcrypto's one-shot HMAC(). */
static void hmac_hex(const char *key, const char *t, const char *body, size_t len,
                            char out[static 65]) {
        unsigned char mac[EVP_MAX_MD_SIZE];
        unsigned n = 0;
        size_t tl = strlen(t);
        char *msg = malloc(tl + 1 + len);

        assert_non_null(msg);
        memcpy(msg, t, tl);
        msg[tl] = '.';
        memcpy(msg + tl + 1, body, len);
        assert_non_null(HMAC(EVP_sha256(), key, (int)strlen(key), (const unsigned char *)msg,
                             tl + 1 + len, mac, &n));
        free(msg);
        assert_int_equal(n, 32);
        for (unsigned i = 0; i < n; i++)
                (void)snprintf(out + 2 * i, 3, "%02x", mac[i]);
}

/* Split "t=T,v1=A[,v1=B]" into t and up to two v1 values (copied into fixed buffers). */
typedef struct Sig {
        char t[32];
        char v1[2][65];
        size_t n_v1;
} Sig;

static Sig sig_parse(const char *value) {
        Sig s = {};
        const char *p = value;

        assert_non_null(value);
        while (*p) {
                size_t n = strcspn(p, ",");
                if (n > 2 && strncmp(p, "t=", 2) == 0) {
                        assert_true(n - 2 < sizeof(s.t));
                        memcpy(s.t, p + 2, n - 2);
                } else if (n == 3 + 64 && strncmp(p, "v1=", 3) == 0) {
                        assert_true(s.n_v1 < 2);
                        memcpy(s.v1[s.n_v1++], p + 3, 64);
                } else
                        fail_msg("unexpected part in signature header: %s", value);
                p += n;
                if (*p == ',')
                        p++;
        }
        assert_true(s.t[0]);
        assert_true(s.n_v1 > 0);
        return s;
}

static void test_hmac_helper(void **state) {
        char hex[65];

        /* the test's own helper against a vector computed elsewhere, by python3 -c
         * 'import hmac,hashlib;print(hmac.new(b"k",b"t.body",hashlib.sha256).hexdigest())' */
        hmac_hex("k", "t", "body", 4, hex);
        assert_string_equal(hex,
                            "002eea923baba2980aab67edf2386beb1f2002d9acfbdf825e77c97d948b93a0");
}

static void test_signature_absent(void **state) {
        T *t = *state;

        /* no secret, no signature, whatever signature_header says */
        create_ok(t, SETTINGS("url=https://hooks.example/x", "signature_header=X-Sig"));
        deliver(t, &alert);
        assert_null(mock_request_header(&t->req, "Earshot-Signature"));
        assert_null(mock_request_header(&t->req, "X-Sig"));
        assert_int_equal(t->req.n_headers, 2);
}

static void test_signature_vector(void **state) {
        T *t = *state;
        char want[65];

        create_ok(t, SETTINGS("url=https://hooks.example/x", "secret=" SECRET));
        t->mh.now = INT64_C(1785592800) * 1000000 + 999999; /* whole seconds, rounded down */
        deliver(t, &alert);
        const char *v = mock_request_header(&t->req, "Earshot-Signature");
        assert_non_null(v);
        /* a fixed vector: HMAC-SHA256(SECRET, "1785592800." + the JSON of `alert`), computed
         * by Python's hmac module over the body this plugin builds (724 bytes). A deliberate
         * change of the payload changes it: recompute it over the new body. */
        assert_int_equal(t->req.body_len, 724);
        assert_string_equal(v, "t=1785592800,v1=5cb35a1e334ad8aaece0fabdab2df653"
                               "79b965ace7d397791be71e85d9919017");
        /* the same by libcrypto's HMAC() over the exact bytes the plugin sends */
        hmac_hex(SECRET, "1785592800", t->req.body, t->req.body_len, want);
        Sig s = sig_parse(v);
        assert_string_equal(s.t, "1785592800");
        assert_int_equal(s.n_v1, 1);
        assert_string_equal(s.v1[0], want);
        /* the signature is a header beside the others; the body is unchanged */
        assert_int_equal(t->req.n_headers, 3);
        assert_string_equal(mock_request_header(&t->req, "Idempotency-Key"), "al-0001");
        assert_null(strstr(t->req.body, SECRET));
        assert_null(strstr(v, SECRET));
        assert_int_equal(t->mh.n_logs, 0);
        assert_int_equal(t->mh.n_records, 0);
}

static void test_signature_fresh(void **state) {
        T *t = *state;
        char want[65];

        create_ok(t, SETTINGS("url=https://hooks.example/x", "secret=" SECRET,
                              "bearer_token=tok"));
        deliver(t, &alert);
        char *body1 = strdup(t->req.body);
        char *sig1 = strdup(mock_request_header(&t->req, "Earshot-Signature"));
        assert_non_null(body1);
        assert_non_null(sig1);

        /* a retry 90 s later: the same body and key, signed again with the new time */
        t->mh.now += INT64_C(90) * 1000000;
        deliver(t, &alert);
        assert_string_equal(t->req.body, body1);
        assert_string_equal(mock_request_header(&t->req, "Idempotency-Key"), "al-0001");
        const char *sig2 = mock_request_header(&t->req, "Earshot-Signature");
        Sig a = sig_parse(sig1), b = sig_parse(sig2);
        assert_string_equal(a.t, "1785592800");
        assert_string_equal(b.t, "1785592890");
        assert_string_not_equal(a.v1[0], b.v1[0]);
        hmac_hex(SECRET, b.t, t->req.body, t->req.body_len, want);
        assert_string_equal(b.v1[0], want);
        /* the first signature does not cover the second t */
        assert_string_not_equal(a.v1[0], want);
        free(body1);
        free(sig1);

        /* another event of the alert: its own body, its own signature */
        struct earshot_alert e = alert;
        e.event = "escalation-1";
        e.message = "still unanswered";
        deliver(t, &e);
        Sig c = sig_parse(mock_request_header(&t->req, "Earshot-Signature"));
        hmac_hex(SECRET, c.t, t->req.body, t->req.body_len, want);
        assert_string_equal(c.v1[0], want);
        assert_string_not_equal(c.v1[0], b.v1[0]);
        assert_int_equal(t->mh.n_logs, 0);
}

static void test_signature_rotation(void **state) {
        T *t = *state;
        char want_new[65], want_old[65];

        create_ok(t, SETTINGS("url=https://hooks.example/x", "secret=" SECRET,
                              "previous_secret=" OLD_SECRET, "signature_header=X-Hub-Signature"));
        t->mh.now = INT64_C(1800000000) * 1000000;
        deliver(t, &alert);
        assert_null(mock_request_header(&t->req, "Earshot-Signature"));
        Sig s = sig_parse(mock_request_header(&t->req, "X-Hub-Signature"));
        assert_string_equal(s.t, "1800000000");
        assert_int_equal(s.n_v1, 2);
        hmac_hex(SECRET, s.t, t->req.body, t->req.body_len, want_new);
        hmac_hex(OLD_SECRET, s.t, t->req.body, t->req.body_len, want_old);
        /* the current secret's first */
        assert_string_equal(s.v1[0], want_new);
        assert_string_equal(s.v1[1], want_old);

        /* the same key twice: one v1 */
        create_ok(t, SETTINGS("url=https://hooks.example/x", "secret=" SECRET,
                              "previous_secret=" SECRET));
        deliver(t, &alert);
        s = sig_parse(mock_request_header(&t->req, "Earshot-Signature"));
        assert_int_equal(s.n_v1, 1);

        /* secrets are bytes: a key with a control character signs as well */
        create_ok(t, SETTINGS("url=https://hooks.example/x", "secret=a\tb\x01" "c"));
        deliver(t, &alert);
        s = sig_parse(mock_request_header(&t->req, "Earshot-Signature"));
        hmac_hex("a\tb\x01" "c", s.t, t->req.body, t->req.body_len, want_new);
        assert_string_equal(s.v1[0], want_new);
        assert_int_equal(t->mh.n_logs, 0);
}

static void test_signature_rejects(void **state) {
        T *t = *state;

        assert_int_equal(create(t, SETTINGS("url=https://h.example/x", "secret=")), -EINVAL);
        assert_non_null(strstr(t->err, "secret: must not be empty"));
        assert_int_equal(create(t, SETTINGS("url=https://h.example/x", "previous_secret=" SECRET)),
                         -EINVAL);
        assert_non_null(strstr(t->err, "previous_secret"));
        assert_null(strstr(t->err, SECRET));
        assert_int_equal(create(t, SETTINGS("url=https://h.example/x", "secret=" SECRET,
                                            "previous_secret=")),
                         -EINVAL);
        assert_non_null(strstr(t->err, "previous_secret: must not be empty"));

        static const char *const bad[] = {"signature_header=Earshot Signature",
                                          "signature_header=X-Sig\r\nX-Evil: 1",
                                          "signature_header=X-Sig:", "signature_header=",
                                          "signature_header=authorization",
                                          "signature_header=Idempotency-Key",
                                          "signature_header=Content-Type", NULL};
        for (const char *const *b = bad; *b; b++) {
                assert_int_equal(
                        create(t, SETTINGS("url=https://h.example/x", "secret=" SECRET, *b)),
                        -EINVAL);
                assert_non_null(strstr(t->err, "signature_header"));
                assert_null(strstr(t->err, SECRET));
                assert_null(strchr(t->err, '\r'));
                assert_null(strchr(t->err, '\n'));
        }
        assert_null(t->state);
        assert_int_equal(t->mh.n_logs, 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_descriptor, setup, teardown),
                cmocka_unit_test_setup_teardown(test_create_rejects, setup, teardown),
                cmocka_unit_test_setup_teardown(test_request, setup, teardown),
                cmocka_unit_test_setup_teardown(test_payload, setup, teardown),
                cmocka_unit_test_setup_teardown(test_payload_escalation, setup, teardown),
                cmocka_unit_test_setup_teardown(test_payload_unknowns, setup, teardown),
                cmocka_unit_test_setup_teardown(test_payload_hostile_strings, setup, teardown),
                cmocka_unit_test(test_hmac_helper),
                cmocka_unit_test_setup_teardown(test_signature_absent, setup, teardown),
                cmocka_unit_test_setup_teardown(test_signature_vector, setup, teardown),
                cmocka_unit_test_setup_teardown(test_signature_fresh, setup, teardown),
                cmocka_unit_test_setup_teardown(test_signature_rotation, setup, teardown),
                cmocka_unit_test_setup_teardown(test_signature_rejects, setup, teardown),
        };
        return cmocka_run_group_tests_name("notify-webhook", tests, NULL, NULL);
}
