/* SPDX-License-Identifier: MIT */
/*
 * test-scheduler.c - schedule_delay() and retry_delay() stay inside their jitter windows and
 * caps (checked over many draws, since they are random), a server-given delay wins when it is
 * longer, and server_delay() reads Retry-After and rate-limit headers as servers send them.
 */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "scheduler.h"

#define TEST(n, f)                                                                                 \
        { .name = (n), .test_func = (f) }

#define DRAWS 2000

/* 2026-08-01T13:55:55Z (Saturday), computed independently with date(1) */
#define NOW_SEC INT64_C(1785592555)
#define NOW ((int64_t)NOW_SEC * (int64_t)USEC_PER_SEC)
#define MAX_DELAY (24 * USEC_PER_HOUR)

/* Draw many delays; all must lie in [lo, hi], and they must not all be the same. */
#define assert_window(expr, lo, hi)                                                                \
        do {                                                                                       \
                usec_t _min = UINT64_MAX, _max = 0;                                                \
                for (int _i = 0; _i < DRAWS; _i++) {                                               \
                        usec_t _d = (expr);                                                        \
                        assert_in_range(_d, (lo), (hi));                                           \
                        if (_d < _min)                                                             \
                                _min = _d;                                                         \
                        if (_d > _max)                                                             \
                                _max = _d;                                                         \
                }                                                                                  \
                assert_true(_max > _min); /* jittered, not constant */                             \
        } while (0)

static void test_success_jitter(void **state) {
        usec_t interval = 60 * USEC_PER_SEC;

        assert_window(schedule_delay(interval, 0, USEC_PER_HOUR, 0), 54 * USEC_PER_SEC,
                      66 * USEC_PER_SEC);
        assert_window(schedule_delay(10 * USEC_PER_MINUTE, 0, USEC_PER_HOUR, 0),
                      9 * USEC_PER_MINUTE, 11 * USEC_PER_MINUTE);
}

static void test_success_jitter_spread(void **state) {
        /* draws use the whole ±10 % window, not just one side of it */
        usec_t interval = 100 * USEC_PER_SEC;
        unsigned below = 0, above = 0;

        for (int i = 0; i < DRAWS; i++) {
                usec_t d = schedule_delay(interval, 0, USEC_PER_HOUR, 0);
                below += d < 97 * USEC_PER_SEC;
                above += d > 103 * USEC_PER_SEC;
        }
        assert_true(below > DRAWS / 10);
        assert_true(above > DRAWS / 10);
}

static void test_failure_backoff(void **state) {
        usec_t interval = 60 * USEC_PER_SEC, cap = USEC_PER_HOUR;

        /* min(cap, interval * 2^failures), from its upper half */
        assert_window(schedule_delay(interval, 1, cap, 0), 60 * USEC_PER_SEC, 120 * USEC_PER_SEC);
        assert_window(schedule_delay(interval, 2, cap, 0), 120 * USEC_PER_SEC, 240 * USEC_PER_SEC);
        assert_window(schedule_delay(interval, 3, cap, 0), 240 * USEC_PER_SEC, 480 * USEC_PER_SEC);
}

static void test_failure_backoff_capped(void **state) {
        usec_t interval = 60 * USEC_PER_SEC, cap = USEC_PER_HOUR;

        /* 60 s * 2^6 = 64 min > 1 h */
        assert_window(schedule_delay(interval, 6, cap, 0), cap / 2, cap);
        assert_window(schedule_delay(interval, 10, cap, 0), cap / 2, cap);
        /* no overflow however long the source has been down */
        assert_window(schedule_delay(interval, 64, cap, 0), cap / 2, cap);
        assert_window(schedule_delay(interval, 1000, cap, 0), cap / 2, cap);
        assert_window(schedule_delay(interval, UINT32_MAX, cap, 0), cap / 2, cap);
}

static void test_server_delay_wins(void **state) {
        usec_t interval = 60 * USEC_PER_SEC, cap = USEC_PER_HOUR;

        /* longer than anything the schedule would pick: exactly the server's */
        assert_int_equal(schedule_delay(interval, 0, cap, 10 * USEC_PER_MINUTE),
                         10 * USEC_PER_MINUTE);
        assert_int_equal(schedule_delay(interval, 3, cap, 2 * USEC_PER_HOUR), 2 * USEC_PER_HOUR);
        /* shorter: the schedule wins */
        assert_window(schedule_delay(interval, 0, cap, USEC_PER_SEC), 54 * USEC_PER_SEC,
                      66 * USEC_PER_SEC);
        assert_window(schedule_delay(interval, 1, cap, USEC_PER_SEC), 60 * USEC_PER_SEC,
                      120 * USEC_PER_SEC);
}

static void test_retry_delay(void **state) {
        usec_t initial = 10 * USEC_PER_SEC, cap = USEC_PER_HOUR;

        /* attempt n: initial * 2^(n-1), capped, jittered within its upper half */
        assert_window(retry_delay(initial, cap, 1, 0), 5 * USEC_PER_SEC, 10 * USEC_PER_SEC);
        assert_window(retry_delay(initial, cap, 2, 0), 10 * USEC_PER_SEC, 20 * USEC_PER_SEC);
        assert_window(retry_delay(initial, cap, 4, 0), 40 * USEC_PER_SEC, 80 * USEC_PER_SEC);
        /* 10 s * 2^9 = 5120 s > 1 h */
        assert_window(retry_delay(initial, cap, 10, 0), cap / 2, cap);
        assert_window(retry_delay(initial, cap, 500, 0), cap / 2, cap);
        /* a longer server delay wins */
        assert_int_equal(retry_delay(initial, cap, 1, 2 * USEC_PER_MINUTE), 2 * USEC_PER_MINUTE);
        assert_window(retry_delay(initial, cap, 2, USEC_PER_SEC), 10 * USEC_PER_SEC,
                      20 * USEC_PER_SEC);
}

static usec_t delay_for(const char *const *headers) {
        struct earshot_response resp = {
                .size = sizeof(resp),
                .status = 429,
                .url = "https://mastodon.example/api/v1/timelines/tag/acme",
                .body = "",
                .headers = headers,
        };
        return server_delay(&resp, NOW);
}

/* server_delay() for these headers must be want; on failure, say which headers. */
#define assert_delay(want, ...)                                                                    \
        do {                                                                                       \
                const char *const _h[] = {__VA_ARGS__, NULL};                                      \
                usec_t _got = delay_for(_h), _want = (want);                                       \
                if (_got != _want)                                                                 \
                        fail_msg("server_delay(%s%s%s) = %" PRIu64 " us, want %" PRIu64 " us",     \
                                 _h[0], _h[1] ? ", " : "", _h[1] ? _h[1] : "", _got, _want);       \
        } while (0)

static void test_retry_after_seconds(void **state) {
        assert_delay(3 * USEC_PER_SEC, "Retry-After: 3");
        assert_delay(120 * USEC_PER_SEC, "Content-Type: text/plain", "retry-after: 120");
        assert_delay(60 * USEC_PER_SEC, "RETRY-AFTER:60");
        assert_delay(0, "Retry-After: 0");
}

static void test_retry_after_http_date(void **state) {
        /* two minutes after NOW */
        assert_delay(120 * USEC_PER_SEC, "Retry-After: Sat, 01 Aug 2026 13:57:55 GMT");
        /* in the past: nothing to wait for */
        assert_delay(0, "Retry-After: Sat, 01 Aug 2026 13:00:00 GMT");
        assert_delay(0, "Retry-After: Sun, 06 Nov 1994 08:49:37 GMT");
}

static void test_rate_limit_iso8601(void **state) {
        /* as Mastodon sends them */
        assert_delay(245 * USEC_PER_SEC, "X-RateLimit-Limit: 300", "X-RateLimit-Remaining: 0",
                     "X-RateLimit-Reset: 2026-08-01T14:00:00.000Z");
        assert_delay(60 * USEC_PER_SEC + 250 * USEC_PER_MSEC, "x-ratelimit-remaining: 0",
                     "x-ratelimit-reset: 2026-08-01T13:56:55.250000Z");
        /* reset already passed */
        assert_delay(0, "X-RateLimit-Remaining: 0", "X-RateLimit-Reset: 2026-08-01T13:50:00.000Z");
}

static void test_rate_limit_epoch(void **state) {
        assert_delay(300 * USEC_PER_SEC, "X-RateLimit-Remaining: 0",
                     "X-RateLimit-Reset: 1785592855");
        /* seconds from now */
        assert_delay(30 * USEC_PER_SEC, "X-RateLimit-Remaining: 0", "X-RateLimit-Reset: 30");
}

static void test_rate_limit_remaining(void **state) {
        /* requests left: no reason to wait */
        assert_delay(0, "X-RateLimit-Remaining: 5", "X-RateLimit-Reset: 2026-08-01T14:00:00.000Z");
        assert_delay(0, "X-RateLimit-Remaining: 1", "X-RateLimit-Reset: 1785592855");
        /* a reset without a remaining count says nothing */
        assert_delay(0, "X-RateLimit-Reset: 2026-08-01T14:00:00.000Z");
}

static void test_nothing_asked(void **state) {
        assert_delay(0, "Content-Type: application/json");
        assert_int_equal(delay_for(NULL), 0);
        /* a header whose name only starts like Retry-After */
        assert_delay(0, "Retry-After-Ms: 5000");
}

static void test_garbage(void **state) {
        assert_delay(0, "Retry-After: soon");
        assert_delay(0, "Retry-After: ");
        assert_delay(0, "Retry-After: -5");
        assert_delay(0, "X-RateLimit-Remaining: 0", "X-RateLimit-Reset: whenever");
        assert_delay(0, "X-RateLimit-Remaining: 0", "X-RateLimit-Reset: ");
}

static void test_rate_limit_remaining_garbage(void **state) {
        /* only a count of zero means exhausted; an unreadable count is not one */
        assert_delay(0, "X-RateLimit-Remaining: unknown",
                     "X-RateLimit-Reset: 2026-08-01T14:00:00.000Z");
        assert_delay(0, "X-RateLimit-Remaining: ", "X-RateLimit-Reset: 2026-08-01T14:00:00.000Z");
}

static void test_clamped(void **state) {
        assert_delay(MAX_DELAY, "Retry-After: 999999999");
        assert_delay(MAX_DELAY, "Retry-After: 99999999999999999999999");
        assert_delay(MAX_DELAY, "Retry-After: Fri, 01 Jan 2100 00:00:00 GMT");
        assert_delay(MAX_DELAY, "X-RateLimit-Remaining: 0", "X-RateLimit-Reset: 4102444800");
        assert_delay(MAX_DELAY, "X-RateLimit-Remaining: 0",
                     "X-RateLimit-Reset: 2030-01-01T00:00:00.000Z");
        /* exactly 24 h is allowed */
        assert_delay(MAX_DELAY, "Retry-After: 86400");
        assert_delay(MAX_DELAY - USEC_PER_SEC, "Retry-After: 86399");
}

static void test_parse_http_date(void **state) {
        int64_t t = 42;

        /* RFC 9110's example */
        assert_int_equal(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT", &t), 0);
        assert_int_equal(t, INT64_C(784111777) * (int64_t)USEC_PER_SEC);
        assert_int_equal(parse_http_date("Sat, 01 Aug 2026 13:55:55 GMT", &t), 0);
        assert_int_equal(t, NOW);
        assert_int_equal(parse_http_date("Tue, 29 Feb 2028 00:00:00 GMT", &t), 0);
        assert_int_equal(t, INT64_C(1835395200) * (int64_t)USEC_PER_SEC);
        assert_int_equal(parse_http_date("Wed, 31 Dec 2025 23:59:59 GMT", &t), 0);
        assert_int_equal(t, INT64_C(1767225599) * (int64_t)USEC_PER_SEC);
}

static void test_parse_http_date_garbage(void **state) {
        static const char *const bad[] = {
                "",
                "yesterday",
                "3",
                "Sun, 06 Foo 1994 08:49:37 GMT",
                "Sun, 06 an 1994 08:49:37 GMT",
                "Sun 06 Nov 1994 08:49:37 GMT",
                "Sun, 06 Nov 1994",
                "2026-08-01T13:55:55Z",
        };

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                int64_t t = 42;
                assert_int_equal(parse_http_date(bad[i], &t), -EINVAL);
                assert_int_equal(t, 42);
        }
}

static void test_parse_http_date_not_gmt(void **state) {
        /* IMF-fixdate is always GMT (RFC 9110 §5.6.7); anything else is not one */
        int64_t t = 42;

        assert_int_equal(parse_http_date("Sun, 06 Nov 1994 08:49:37 PST", &t), -EINVAL);
        assert_int_equal(parse_http_date("Sun, 06 Nov 1994 08:49:37", &t), -EINVAL);
        assert_int_equal(t, 42);
}

static RateLimit rl_for(const char *const *headers) {
        struct earshot_response resp = {
                .size = sizeof(resp), .status = 200, .url = "https://x.example/", .body = "",
                .headers = headers,
        };
        RateLimit rl = {};
        (void)ratelimit_parse(&resp, NOW, &rl);
        return rl;
}

#define RL(...) rl_for((const char *const[]){__VA_ARGS__, NULL})

static void test_ratelimit_parse(void **state) {
        RateLimit rl;

        /* Mastodon */
        rl = RL("X-RateLimit-Limit: 300", "X-RateLimit-Remaining: 12",
                "X-RateLimit-Reset: 2026-08-01T14:00:00.000Z");
        assert_true(rl.known);
        assert_true(rl.remaining == 12 && rl.limit == 300);
        assert_int_equal(rl.reset_usec, NOW + 245 * (int64_t)USEC_PER_SEC);
        /* Reddit: float remaining, Used instead of Limit, reset in seconds from now */
        rl = RL("x-ratelimit-used: 95", "x-ratelimit-remaining: 4.0", "x-ratelimit-reset: 200");
        assert_true(rl.known && rl.remaining == 4.0 && rl.limit == 99.0);
        assert_int_equal(rl.reset_usec, NOW + 200 * (int64_t)USEC_PER_SEC);
        /* IETF draft, separate and combined */
        rl = RL("RateLimit-Limit: 100", "RateLimit-Remaining: 50", "RateLimit-Reset: 30");
        assert_true(rl.known && rl.remaining == 50 && rl.limit == 100);
        assert_int_equal(rl.reset_usec, NOW + 30 * (int64_t)USEC_PER_SEC);
        rl = RL("RateLimit: limit=10, remaining=2, reset=5");
        assert_true(rl.known && rl.remaining == 2 && rl.limit == 10);
        assert_int_equal(rl.reset_usec, NOW + 5 * (int64_t)USEC_PER_SEC);
        /* nothing, or nonsense */
        assert_false(RL("Content-Type: text/html").known);
        assert_false(RL("X-RateLimit-Remaining: lots").known);
        rl = RL("X-RateLimit-Remaining: -3");
        assert_true(rl.known && rl.remaining == 0);
}

static void test_ratelimit_pace(void **state) {
        RateLimit rl = {.known = true, .remaining = 200, .limit = 300,
                        .reset_usec = NOW + 300 * (int64_t)USEC_PER_SEC};
        char buf[64];

        /* plenty left: full speed */
        assert_int_equal(ratelimit_pace(&rl, NOW), 0);
        /* below a fifth: spread the 30 left (29 calls + 1 in reserve) over 300 s */
        rl.remaining = 30;
        assert_int_equal(ratelimit_pace(&rl, NOW), 300 * USEC_PER_SEC / 29);
        /* one left: wait for the reset */
        rl.remaining = 1;
        assert_int_equal(ratelimit_pace(&rl, NOW), 300 * USEC_PER_SEC);
        /* reset passed: nothing to pace */
        rl.reset_usec = NOW - 1;
        assert_int_equal(ratelimit_pace(&rl, NOW), 0);
        /* no limit known: low means 20 or fewer */
        rl = (RateLimit){.known = true, .remaining = 11, .reset_usec = NOW + 100 * (int64_t)USEC_PER_SEC};
        assert_int_equal(ratelimit_pace(&rl, NOW), 10 * USEC_PER_SEC);
        rl.remaining = 21;
        assert_int_equal(ratelimit_pace(&rl, NOW), 0);

        rl = (RateLimit){.known = true, .remaining = 12, .limit = 300,
                         .reset_usec = NOW + 250 * (int64_t)USEC_PER_SEC};
        ratelimit_format(&rl, NOW, buf, sizeof(buf));
        assert_string_equal(buf, "12/300 left, resets in 4m");
        rl.known = false;
        ratelimit_format(&rl, NOW, buf, sizeof(buf));
        assert_string_equal(buf, "-");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                TEST("scheduler/success-jitter", test_success_jitter),
                TEST("scheduler/success-jitter-spread", test_success_jitter_spread),
                TEST("scheduler/failure-backoff", test_failure_backoff),
                TEST("scheduler/failure-backoff-capped", test_failure_backoff_capped),
                TEST("scheduler/server-delay-wins", test_server_delay_wins),
                TEST("scheduler/retry-delay", test_retry_delay),
                TEST("scheduler/retry-after-seconds", test_retry_after_seconds),
                TEST("scheduler/retry-after-http-date", test_retry_after_http_date),
                TEST("scheduler/rate-limit-iso8601", test_rate_limit_iso8601),
                TEST("scheduler/rate-limit-epoch", test_rate_limit_epoch),
                TEST("scheduler/rate-limit-remaining", test_rate_limit_remaining),
                TEST("scheduler/nothing-asked", test_nothing_asked),
                TEST("scheduler/garbage", test_garbage),
                TEST("scheduler/rate-limit-remaining-garbage", test_rate_limit_remaining_garbage),
                TEST("scheduler/clamped", test_clamped),
                TEST("scheduler/parse-http-date", test_parse_http_date),
                TEST("scheduler/parse-http-date-garbage", test_parse_http_date_garbage),
                TEST("scheduler/parse-http-date-not-gmt", test_parse_http_date_not_gmt),
                TEST("scheduler/ratelimit-parse", test_ratelimit_parse),
                TEST("scheduler/ratelimit-pace", test_ratelimit_pace),
        };

        return cmocka_run_group_tests_name("scheduler", tests, NULL, NULL);
}
