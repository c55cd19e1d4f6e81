/* SPDX-License-Identifier: MIT */
/*
 * notify-test.h - what the tests of the notifiers share: the fixture T that creates the plugin
 * against the mock host, one alert (every field set) and its variants (every event, missing
 * fields, hostile text), create() with its error text, and status-outcome tables for
 * response(). For the notifiers that send JSON (webhook, slack, discord, matrix, ntfy):
 * deliver() that parses what would be sent, JSON lookups by path ("blocks.2.text.text"), and
 * UTF-8 checks. The plugin under test is the descriptor linked into the binary.
 *
 * Before including, a test may define:
 *   NOTIFY_TEST_RULE, NOTIFY_TEST_TEXT, NOTIFY_TEST_DUE   the first rule, the post's text and
 *                              the alert's due time, where its expectations were written for
 *                              others ("refunds", a text without quotes, 14:56:02.114Z)
 *   NOTIFY_TEST_T_EXTRA        more members of T (e.g. "Message msg;"), and
 *   NOTIFY_TEST_T_DONE(t)      what teardown() does with them
 */
#pragma once

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "earshot-plugin.h"
#include "mock-host.h"

extern const struct earshot_plugin earshot_plugin_descriptor;
#define P (&earshot_plugin_descriptor)

#define SETTINGS(...) ((const char *const[]){__VA_ARGS__, NULL})

/* Everything a post may say to make a chat client ping, link, format or run something. */
#define INJECTION                                                                                  \
        "<!channel> <!here> <@U123> <http://evil|bank.com> & < > @everyone @here @room "           \
        "<script>alert(1)</script> *bold* _it_ ~s~ `code` > quote # h [x](http://e) 1. list "      \
        "\"q\" 'a' \\ line1\r\nline2\rline3 \x01\x7f bad\xff\xfe end"

#ifndef NOTIFY_TEST_T_EXTRA
#define NOTIFY_TEST_T_EXTRA
#endif
#ifndef NOTIFY_TEST_T_DONE
#define NOTIFY_TEST_T_DONE(t)
#endif

typedef struct T {
        MockHost mh;
        struct earshot_request req;
        void *state;
        char err[512];
        cJSON *body; /* the last JSON payload, parsed */
        NOTIFY_TEST_T_EXTRA
} T;

#ifndef NOTIFY_TEST_RULE
#define NOTIFY_TEST_RULE "refunds"
#endif
#ifndef NOTIFY_TEST_TEXT
#define NOTIFY_TEST_TEXT "My order never arrived, support won't answer \xf0\x9f\x98\xa1\nRefund!"
#endif
#ifndef NOTIFY_TEST_DUE
#define NOTIFY_TEST_DUE INT64_C(1785596162114000) /* detected_usec + 1h */
#endif

static const char *const rules[] = {NOTIFY_TEST_RULE, "angry", NULL};

static const struct earshot_post post = {
        .size = sizeof(struct earshot_post),
        .id = "https://mastodon.social/users/alice/statuses/117020593741189701",
        .network = "mastodon",
        .url = "https://mastodon.social/@alice/117020593741189701",
        .text = NOTIFY_TEST_TEXT,
        .author_handle = "alice@mastodon.social",
        .author_name = "Alice",
        .author_followers = 1200,
        .lang = "en",
        .created_usec = INT64_C(1785592555867000), /* 2026-08-01T13:55:55.867Z */
        .replies = 0,
        .reposts = 2,
        .likes = 5,
};

/* The mock host's clock says 2026-08-01T14:00:00Z: this alert is due in 56m (by default). */
static const struct earshot_alert alert = {
        .size = sizeof(struct earshot_alert),
        .id = "al-0001",
        .rules = rules,
        .brand = "acme",
        .severity = "high",
        .source = "mastodon-acme",
        .post = &post,
        .detected_usec = INT64_C(1785592562114000), /* 2026-08-01T13:56:02.114Z */
        .due_usec = NOTIFY_TEST_DUE,
        .respond_within_usec = INT64_C(3600000000),
        .event = "new",
        .state = "open",
        .posts = 1,
        .copies = 1,
};

static inline int setup(void **state) {
        T *t = calloc(1, sizeof(T));
        assert_non_null(t);
        mock_host_init(&t->mh);
        mock_request_init(&t->req);
        *state = t;
        return 0;
}

static inline int teardown(void **state) {
        T *t = *state;
        mock_plugin_destroy(P, &t->state);
        cJSON_Delete(t->body);
        NOTIFY_TEST_T_DONE(t);
        mock_request_done(&t->req);
        mock_host_done(&t->mh);
        free(t);
        return 0;
}

static inline int create(T *t, const char *const *settings) {
        t->err[0] = 0;
        return mock_plugin_create(&t->mh, P, settings, &t->state, t->err, sizeof(t->err));
}

static inline void create_ok(T *t, const char *const *settings) {
        int r = create(t, settings);
        if (r != 0)
                fail_msg("create: %d (%s)", r, t->err);
}

/* The descriptor is that of a notifier named name, of this ABI, with the callbacks it needs. */
static inline void expect_notifier(const char *name) {
        assert_int_equal(P->abi, EARSHOT_PLUGIN_ABI);
        assert_int_equal(P->size, sizeof(struct earshot_plugin));
        assert_int_equal(P->kind, EARSHOT_PLUGIN_NOTIFIER);
        assert_string_equal(P->name, name);
        assert_non_null(P->options);
        assert_null(P->source);
        assert_non_null(P->notifier);
        assert_int_equal(P->notifier->size, sizeof(struct earshot_notifier_ops));
        assert_non_null(P->notifier->create);
        assert_non_null(P->notifier->destroy);
        assert_non_null(P->notifier->deliver);
}

/* setup() with the plugin created without options (for the notifiers that take none) */
static inline int setup_created(void **state) {
        setup(state);
        create_ok(*state, SETTINGS(NULL));
        return 0;
}

/* create() must fail with -EINVAL and an error that says want. */
static inline void create_fails(T *t, const char *const *settings, const char *want) {
        int r = create(t, settings);
        if (r != -EINVAL)
                fail_msg("create succeeded or failed otherwise (%d), want -EINVAL with '%s'", r,
                         want);
        if (!strstr(t->err, want))
                fail_msg("create error '%s' does not say '%s'", t->err, want);
}

/* Forget the last request and payload, for the next deliver(). */
static inline void request_reset(T *t) {
        mock_request_done(&t->req);
        mock_request_init(&t->req);
        cJSON_Delete(t->body);
        t->body = NULL;
}

/* Whether s is valid UTF-8 (RFC 3629). */
static inline bool utf8_valid(const char *s) {
        const unsigned char *p = (const unsigned char *)s;

        while (*p) {
                size_t n;
                if (p[0] < 0x80)
                        n = 1;
                else if (p[0] >= 0xc2 && p[0] <= 0xdf)
                        n = (p[1] & 0xc0) == 0x80 ? 2 : 0;
                else if (p[0] >= 0xe0 && p[0] <= 0xef)
                        n = (p[1] & 0xc0) == 0x80 && (p[2] & 0xc0) == 0x80 &&
                                            !(p[0] == 0xe0 && p[1] < 0xa0) &&
                                            !(p[0] == 0xed && p[1] > 0x9f)
                                    ? 3
                                    : 0;
                else if (p[0] >= 0xf0 && p[0] <= 0xf4)
                        n = (p[1] & 0xc0) == 0x80 && (p[2] & 0xc0) == 0x80 &&
                                            (p[3] & 0xc0) == 0x80 &&
                                            !(p[0] == 0xf0 && p[1] < 0x90) &&
                                            !(p[0] == 0xf4 && p[1] > 0x8f)
                                    ? 4
                                    : 0;
                else
                        n = 0;
                if (n == 0)
                        return false;
                p += n;
        }
        return true;
}

/* Code points and UTF-16 units of valid UTF-8 s. */
static inline size_t utf8_chars(const char *s) {
        size_t n = 0;
        for (; *s; s++)
                n += ((unsigned char)*s & 0xc0) != 0x80;
        return n;
}

static inline size_t utf16_units(const char *s) {
        size_t n = 0;
        for (; *s; s++)
                if (((unsigned char)*s & 0xc0) != 0x80)
                        n += (unsigned char)*s >= 0xf0 ? 2 : 1;
        return n;
}

static inline bool ends_with(const char *s, const char *suffix) {
        size_t a = strlen(s), b = strlen(suffix);
        return a >= b && memcmp(s + a - b, suffix, b) == 0;
}

/* deliver() and parse what it would send; the body must be valid UTF-8 JSON */
static inline void deliver(T *t, const struct earshot_alert *a) {
        request_reset(t);
        int r = P->notifier->deliver(t->state, a, &t->req);
        if (r != EARSHOT_SEND)
                fail_msg("deliver: %d", r);
        assert_non_null(t->req.body);
        assert_int_equal(strlen(t->req.body), t->req.body_len);
        if (!utf8_valid(t->req.body))
                fail_msg("payload is not UTF-8: %s", t->req.body);
        t->body = cJSON_Parse(t->req.body);
        if (!t->body)
                fail_msg("payload is not JSON: %s", t->req.body);
}

/* The item at a dotted path; a numeric segment indexes an array. NULL when missing. */
static inline const cJSON *jfind(const cJSON *obj, const char *path) {
        char key[64];

        while (obj && *path) {
                size_t n = strcspn(path, ".");
                assert_true(n < sizeof(key));
                memcpy(key, path, n);
                key[n] = 0;
                if (cJSON_IsArray(obj) && key[0] >= '0' && key[0] <= '9')
                        obj = cJSON_GetArrayItem(obj, atoi(key));
                else
                        obj = cJSON_GetObjectItemCaseSensitive(obj, key);
                path += n + (path[n] == '.');
        }
        return obj;
}

static inline const cJSON *jget(const T *t, const char *path) {
        const cJSON *j = jfind(t->body, path);
        if (!j)
                fail_msg("payload lacks %s: %s", path, t->req.body);
        return j;
}

static inline const char *jstr(const T *t, const char *path) {
        const cJSON *j = jget(t, path);
        if (!cJSON_IsString(j))
                fail_msg("%s is not a string", path);
        return j->valuestring;
}

static inline void expect_str(const T *t, const char *path, const char *want) {
        const char *got = jstr(t, path);
        if (strcmp(got, want) != 0)
                fail_msg("%s:\n got  '%s'\n want '%s'", path, got, want);
}

static inline void expect_contains(const T *t, const char *path, const char *needle) {
        const char *got = jstr(t, path);
        if (!strstr(got, needle))
                fail_msg("%s: '%s' lacks '%s'", path, got, needle);
}

static inline void expect_lacks(const T *t, const char *path, const char *needle) {
        const char *got = jstr(t, path);
        if (strstr(got, needle))
                fail_msg("%s: '%s' has '%s'", path, got, needle);
}

static inline void expect_num(const T *t, const char *path, double want) {
        const cJSON *j = jget(t, path);
        if (!cJSON_IsNumber(j) || j->valuedouble != want)
                fail_msg("%s is not %g", path, want);
}

static inline void expect_null(const T *t, const char *path) {
        if (!cJSON_IsNull(jget(t, path)))
                fail_msg("%s is not null", path);
}

/* A response with headers (NULL-terminated "Name: value" lines, borrowed). */
static inline struct earshot_response response_h(int32_t status, const char *body,
                                                 const char *const *headers) {
        struct earshot_response r = mock_response(status, body, body ? strlen(body) : 0);
        if (headers)
                r.headers = headers;
        return r;
}

static inline int respond(T *t, int32_t status, const char *body) {
        struct earshot_response r = response_h(status, body, NULL);
        return P->notifier->response(t->state, &alert, &r);
}

/* One row of a status-outcome table: an answer and how response() must judge it. */
typedef struct Answer {
        int32_t status;
        const char *body;
        int outcome; /* EARSHOT_DELIVERED, EARSHOT_RETRY, ... */
} Answer;

static inline void expect_answers_n(T *t, const Answer *a, size_t n) {
        for (size_t i = 0; i < n; i++) {
                int got = respond(t, a[i].status, a[i].body);
                if (got != a[i].outcome)
                        fail_msg("answer %d '%s': outcome %d, want %d", a[i].status,
                                 a[i].body ? a[i].body : "(none)", got, a[i].outcome);
        }
}

/* expect_answers(t, {200, "ok", EARSHOT_DELIVERED}, {429, "", EARSHOT_RETRY}, ...) */
#define expect_answers(t, ...)                                                                     \
        expect_answers_n(t, (const Answer[]){__VA_ARGS__},                                         \
                         sizeof((const Answer[]){__VA_ARGS__}) / sizeof(Answer))

/* A text of n characters mixing 1-, 2- and 4-byte UTF-8 ("aé😀…"); free() it. */
static inline char *long_text(size_t n) {
        static const char *const pieces[] = {"a", "\xc3\xa9", "\xf0\x9f\x98\x80", " "};
        char *s = malloc(4 * n + 1), *o = s;
        assert_non_null(s);
        for (size_t i = 0; i < n; i++)
                o = stpcpy(o, pieces[i % 4]);
        *o = 0;
        return s;
}

/* The alert with its post's text replaced; p and a are the caller's storage. */
static inline const struct earshot_alert *with_text(struct earshot_post *p, struct earshot_alert *a,
                                                    const char *text) {
        *p = post;
        p->text = text;
        *a = alert;
        a->post = p;
        return a;
}

/* A digest: text is a list, no url, no author. */
static inline const struct earshot_alert *digest_alert(struct earshot_post *p,
                                                       struct earshot_alert *a) {
        *p = post;
        p->text = "HIGH acme refunds: alice: refund please\nNORMAL acme: bob: where is my order";
        p->url = NULL;
        p->author_handle = NULL;
        p->author_name = NULL;
        p->author_followers = -1;
        *a = alert;
        a->post = p;
        a->id = "digest-7";
        a->event = "digest";
        a->due_usec = 0;
        return a;
}
