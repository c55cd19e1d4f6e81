/* SPDX-License-Identifier: MIT */
/*
 * source-test.h - the fixture every source plugin test shares, around mock-host.h: the
 * instance under test with the mock host, a request and a sink, made fresh for each test by
 * setup() and freed by teardown(); create() builds the instance from "name=value" settings as
 * the core would, build() asks it for a request, the parse*() helpers hand it a response (a
 * string, a fixture file or a cJSON document) with a clean sink, as one poll would, and the
 * error_response*() and expect_failure() helpers hand parse_error() a non-2xx answer.
 *
 * A test binary links exactly one plugin, whose descriptor is P. The helpers are static
 * inline so that each test file takes what it uses; feed 0 unless a _feed variant says which.
 *
 *     cmocka_unit_test_setup_teardown(test_x, setup, teardown)
 *     ...
 *     SourceTest *t = *state;
 *     create_ok(t, SETTINGS("queries=acme"));
 *     assert_int_equal(parse_fixture(t, NULL, NULL, "hackernews/by-date-2026-shape.json"), 0);
 */
#pragma once

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "earshot-plugin.h"
#include "mock-host.h"

extern const struct earshot_plugin earshot_plugin_descriptor;
#define P (&earshot_plugin_descriptor)

/* A NULL-terminated settings list: SETTINGS("queries=acme", "max_pages=2"). */
#define SETTINGS(...) ((const char *const[]){__VA_ARGS__, NULL})

typedef struct SourceTest {
        MockHost mh;
        struct earshot_request req; /* what the last build() made */
        struct earshot_sink sink;   /* what the last parse made */
        void *state;                /* owned: the instance under test, or NULL */
        char err[256];              /* create()'s error message */
} SourceTest;

/*
 * Settings every create() of this test file starts with, or NULL; a test's own settings come
 * after them and win. Set it in main(), before the tests run.
 */
static const char *const *source_test_defaults;

static inline int setup(void **state) {
        SourceTest *t = calloc(1, sizeof(SourceTest));
        assert_non_null(t);
        mock_host_init(&t->mh);
        mock_request_init(&t->req);
        mock_sink_init(&t->sink);
        *state = t;
        return 0;
}

static inline int teardown(void **state) {
        SourceTest *t = *state;
        mock_plugin_destroy(P, &t->state);
        mock_request_done(&t->req);
        mock_sink_done(&t->sink);
        mock_host_done(&t->mh);
        free(t);
        return 0;
}

/*
 * P is a source plugin called `name` of this ABI: the sizes this build expects, a description,
 * source ops and no notifier ops.
 */
static inline void expect_source_descriptor(const char *name) {
        assert_int_equal(P->abi, EARSHOT_PLUGIN_ABI);
        assert_int_equal(P->size, sizeof(struct earshot_plugin));
        assert_int_equal(P->kind, EARSHOT_PLUGIN_SOURCE);
        assert_string_equal(P->name, name);
        assert_non_null(P->description);
        assert_non_null(P->source);
        assert_null(P->notifier);
        assert_int_equal(P->source->size, sizeof(struct earshot_source_ops));
}

/* ---- create() ------------------------------------------------------------------------------- */

/* Replace the instance with one made from defaults, then settings; create()'s result. */
static inline int create_with(SourceTest *t, const char *const *defaults,
                              const char *const *settings) {
        const char *all[MOCK_VALUES_MAX * MOCK_LIST_MAX + 1];
        size_t n = 0;

        for (const char *const *s = defaults; s && *s; s++) {
                assert_true(n + 1 < sizeof(all) / sizeof(all[0]));
                all[n++] = *s;
        }
        for (const char *const *s = settings; s && *s; s++) {
                assert_true(n + 1 < sizeof(all) / sizeof(all[0]));
                all[n++] = *s;
        }
        all[n] = NULL;
        return mock_plugin_create(&t->mh, P, all, &t->state, t->err, sizeof(t->err));
}

static inline int create(SourceTest *t, const char *const *settings) {
        return create_with(t, source_test_defaults, settings);
}

static inline void create_ok(SourceTest *t, const char *const *settings) {
        int r = create(t, settings);
        if (r != 0)
                fail_msg("create: %d (%s)", r, t->err);
        assert_non_null(t->state);
}

/* create() must fail with -EINVAL and an error message that contains in_err. */
static inline void expect_rejected(SourceTest *t, const char *const *settings, const char *in_err) {
        int r = create(t, settings);
        if (r != -EINVAL)
                fail_msg("expected -EINVAL, got %d", r);
        assert_null(t->state);
        if (!strstr(t->err, in_err))
                fail_msg("error \"%s\" does not mention \"%s\"", t->err, in_err);
}

/* ---- build_request() ------------------------------------------------------------------------ */

/* The request for (feed, cursor, page) into t->req; it must be built, with a URL. */
static inline void build(SourceTest *t, uint32_t feed, const char *cursor, const char *page) {
        mock_request_done(&t->req);
        mock_request_init(&t->req);
        int r = P->source->build_request(t->state, feed, cursor, page, &t->req);
        if (r != 0)
                fail_msg("build_request: %d", r);
        assert_non_null(t->req.url);
}

/* ---- parse_response() ----------------------------------------------------------------------- */

/* parse_response() of resp as feed's, into a fresh t->sink; its result. */
static inline int parse_response_as(SourceTest *t, uint32_t feed, const char *cursor,
                                    const char *page, const struct earshot_response *resp) {
        mock_sink_done(&t->sink);
        mock_sink_init(&t->sink);
        return P->source->parse_response(t->state, feed, cursor, page, resp, &t->sink);
}

/* A 200 response with body (len bytes, which may hold NULs) and no headers. */
static inline int parse_feed_len(SourceTest *t, uint32_t feed, const char *cursor, const char *page,
                                 const char *body, size_t len) {
        struct earshot_response resp = mock_response(200, body, len);
        return parse_response_as(t, feed, cursor, page, &resp);
}

static inline int parse_feed(SourceTest *t, uint32_t feed, const char *cursor, const char *page,
                             const char *body) {
        return parse_feed_len(t, feed, cursor, page, body, strlen(body));
}

/* The body is tests/fixtures/<name>. */
static inline int parse_feed_fixture(SourceTest *t, uint32_t feed, const char *cursor,
                                     const char *page, const char *name) {
        size_t len;
        char *body = mock_read_fixture(name, &len);
        int r = parse_feed_len(t, feed, cursor, page, body, len);
        free(body);
        return r;
}

/* The body is doc, printed; doc stays the caller's. */
static inline int parse_feed_json(SourceTest *t, uint32_t feed, const char *cursor,
                                  const char *page, const cJSON *doc) {
        char *body = cJSON_PrintUnformatted(doc);
        assert_non_null(body);
        int r = parse_feed(t, feed, cursor, page, body);
        free(body);
        return r;
}

static inline int parse_len(SourceTest *t, const char *cursor, const char *page, const char *body,
                            size_t len) {
        return parse_feed_len(t, 0, cursor, page, body, len);
}

static inline int parse(SourceTest *t, const char *cursor, const char *page, const char *body) {
        return parse_feed(t, 0, cursor, page, body);
}

static inline int parse_fixture(SourceTest *t, const char *cursor, const char *page,
                                const char *name) {
        return parse_feed_fixture(t, 0, cursor, page, name);
}

static inline int parse_json(SourceTest *t, const char *cursor, const char *page,
                             const cJSON *doc) {
        return parse_feed_json(t, 0, cursor, page, doc);
}

/*
 * A body the plugin must refuse: -EBADMSG, and nothing emitted, no cursor, no next page and no
 * gap reported.
 */
static inline void expect_bad_feed(SourceTest *t, uint32_t feed, const char *cursor,
                                   const char *body, size_t len) {
        int r = parse_feed_len(t, feed, cursor, NULL, body, len);
        if (r != -EBADMSG)
                fail_msg("expected -EBADMSG, got %d for \"%.40s\"", r, body);
        assert_int_equal(t->sink.n_posts, 0);
        assert_int_equal(t->sink.n_cursor, 0);
        assert_int_equal(t->sink.n_page, 0);
        assert_int_equal(t->sink.n_gaps, 0);
}

/* ---- parse_error() -------------------------------------------------------------------------- */

/* parse_error() of a response with this status and body (len bytes) as feed's, into a fresh
 * t->sink; its result. P must have parse_error. */
static inline int error_response_len(SourceTest *t, uint32_t feed, const char *cursor,
                                     const char *page, int32_t status, const char *body,
                                     size_t len) {
        struct earshot_response resp = mock_response(status, body, len);

        assert_true(EARSHOT_SOURCE_HAS(P->source, parse_error));
        mock_sink_done(&t->sink);
        mock_sink_init(&t->sink);
        return P->source->parse_error(t->state, feed, cursor, page, &resp, &t->sink);
}

static inline int error_response_feed(SourceTest *t, uint32_t feed, const char *cursor,
                                      const char *page, int32_t status, const char *body) {
        return error_response_len(t, feed, cursor, page, status, body, strlen(body));
}

static inline int error_response(SourceTest *t, const char *cursor, const char *page,
                                 int32_t status, const char *body) {
        return error_response_feed(t, 0, cursor, page, status, body);
}

/* The body is tests/fixtures/<name>. */
static inline int error_response_fixture(SourceTest *t, uint32_t feed, const char *cursor,
                                         const char *page, int32_t status, const char *name) {
        size_t len;
        char *body = mock_read_fixture(name, &len);
        int r = error_response_len(t, feed, cursor, page, status, body, len);
        free(body);
        return r;
}

/* What a failure must not carry: posts, a cursor, a next page or a gap (the core drops them). */
static inline void expect_nothing_kept(const SourceTest *t) {
        assert_int_equal(t->sink.n_posts, 0);
        assert_int_equal(t->sink.n_cursor, 0);
        assert_int_equal(t->sink.n_page, 0);
        assert_int_equal(t->sink.n_gaps, 0);
}

/*
 * The last parse failed with `outcome` (EARSHOT_RETRY or EARSHOT_BLOCKED, got r) and one
 * explanation through set_error() that contains in_error; nothing else was handed over.
 */
static inline void expect_explained(const SourceTest *t, int r, int outcome, const char *in_error) {
        if (r != outcome)
                fail_msg("expected outcome %d, got %d (error \"%s\")", outcome, r,
                         t->sink.error ? t->sink.error : "");
        assert_int_equal(t->sink.n_error, 1);
        if (!strstr(t->sink.error, in_error))
                fail_msg("error \"%s\" does not mention \"%s\"", t->sink.error, in_error);
        expect_nothing_kept(t);
}

/* parse_error() of (status, body) as feed's must fail with outcome and explain in_error. */
static inline void expect_failure(SourceTest *t, uint32_t feed, const char *cursor,
                                  const char *page, int32_t status, const char *body, int outcome,
                                  const char *in_error) {
        int r = error_response_feed(t, feed, cursor, page, status, body);
        expect_explained(t, r, outcome, in_error);
}

/*
 * parse_error() of (status, body) as feed's has nothing to say: -EOPNOTSUPP, so the core's own
 * reading applies (status, body, Retry-After, backoff), and nothing handed over.
 */
static inline void expect_generic(SourceTest *t, uint32_t feed, const char *cursor,
                                  const char *page, int32_t status, const char *body) {
        int r = error_response_feed(t, feed, cursor, page, status, body);
        if (r != -EOPNOTSUPP)
                fail_msg("status %d, body \"%.60s\": expected -EOPNOTSUPP, got %d (error \"%s\")",
                         status, body, r, t->sink.error ? t->sink.error : "");
        assert_int_equal(t->sink.n_error, 0);
        assert_int_equal(t->sink.backoff_usec, 0);
        expect_nothing_kept(t);
}

/* ---- results -------------------------------------------------------------------------------- */

/* tests/fixtures/<name> parsed; fails the test unless it is JSON. */
static inline cJSON *load_json(const char *name) {
        char *body = mock_read_fixture(name, NULL);
        cJSON *j = cJSON_Parse(body);
        free(body);
        assert_non_null(j);
        return j;
}

/* The post of the last parse with this id; fails the test when there is none. */
static inline const struct earshot_post *find_post(const SourceTest *t, const char *id) {
        for (size_t i = 0; i < t->sink.n_posts; i++)
                if (strcmp(t->sink.posts[i].id, id) == 0)
                        return &t->sink.posts[i];
        fail_msg("no post %s", id);
        return NULL;
}

/* The last parse emitted exactly n posts, with these ids in this order. */
static inline void expect_ids(const SourceTest *t, size_t n, ...) {
        va_list ap;

        if (t->sink.n_posts != n)
                fail_msg("%zu posts, expected %zu", t->sink.n_posts, n);
        va_start(ap, n);
        for (size_t i = 0; i < n; i++)
                assert_string_equal(t->sink.posts[i].id, va_arg(ap, const char *));
        va_end(ap);
}
