/* SPDX-License-Identifier: MIT */
/*
 * fuzz-host.h - an earshot_host for fuzz targets of source plugins: the core's real
 * html_to_text, parse_time and format_time; requests and emitted posts checked for the
 * invariants the core relies on (ids, network and text present, valid lengths) and then
 * dropped; logs discarded. A violation abort()s, which is what a fuzzer notices.
 *
 * Usage in fuzz-source-NAME.c: fuzz_host_init(&h); build option values with
 * fuzz_values_build(); create the plugin state once; for each input call parse_response()
 * with fuzz_response(input) and a fresh sink from fuzz_sink_init(), then fuzz_sink_done();
 * and fuzz_parse_errors() to read the input as the body of non-2xx answers. The host also
 * keeps what a source saves (state_get/state_set: a few slots, shared by every plugin state
 * of the process) and checks post_deleted() and request_login() arguments.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "earshot-plugin.h"

struct earshot_request {
        char *url;
        unsigned n_headers;
};

struct earshot_sink {
        size_t n_posts;
        unsigned n_cursor, n_page, n_gaps, n_error, n_backoff;
};

typedef struct FuzzHost {
        struct earshot_host host;
} FuzzHost;

void fuzz_host_init(FuzzHost *h);
/* Forget everything sources saved with state_set() (a logged-out start). */
void fuzz_state_clear(void);

void fuzz_sink_init(struct earshot_sink *s);
void fuzz_sink_done(struct earshot_sink *s);
void fuzz_request_init(struct earshot_request *r);
void fuzz_request_done(struct earshot_request *r);

/*
 * Option values from "name=value" strings (NULL-terminated), against the plugin's table;
 * defaults applied; a STRLIST value is split at commas. The FuzzValues owns everything.
 */
#define FUZZ_VALUES_MAX 32
typedef struct FuzzValues {
        struct earshot_values vals;
        struct earshot_value v[FUZZ_VALUES_MAX];
        char *strs[FUZZ_VALUES_MAX];
        const char **lists[FUZZ_VALUES_MAX];
} FuzzValues;
void fuzz_values_build(FuzzValues *fv, const struct earshot_option *options,
                       const char *const *settings);
void fuzz_values_done(FuzzValues *fv);

/*
 * A 200 response with `body` (borrowed; the core always NUL-terminates bodies, so pass a copy
 * with a NUL after `len` bytes) and the given header lines (NULL-terminated, may be NULL).
 */
struct earshot_response fuzz_response(const uint8_t *body, size_t len,
                                      const char *const *headers);

/* fuzz_response() with another status. */
struct earshot_response fuzz_response_status(int32_t status, const uint8_t *body, size_t len,
                                             const char *const *headers);

/*
 * The input (body, len, NUL-terminated as for fuzz_response()) as the body of non-2xx answers
 * to feed's request (cursor, page): parse_error() is called once with a status taken from the
 * input's first byte (one of the statuses plugins read, or any of 100..999) and once with each
 * of those statuses. Each call must return 0, EARSHOT_MORE (with one next page), EARSHOT_RETRY
 * or EARSHOT_BLOCKED (with exactly one one-line set_error(), and no posts, cursor or page),
 * -EOPNOTSUPP (nothing handed over at all), -EBADMSG or -ENOMEM; anything else abort()s. The
 * plugin must have parse_error.
 */
void fuzz_parse_errors(const struct earshot_source_ops *ops, void *state, uint32_t feed,
                       const char *cursor, const char *page, const uint8_t *body, size_t len);
