/* SPDX-License-Identifier: MIT */
/*
 * test-time-util.c - parse_duration() and format_duration() as users write durations in YAML,
 * parse_timestamp() and format_timestamp() as networks send timestamps (Mastodon's
 * "2026-08-01T13:55:55.867Z", offsets, date-only), and the inputs both parsers must refuse.
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

#include "util/time-util.h"

#define TEST(n, f)                                                                                 \
        { .name = (n), .test_func = (f) }

/* 2026-08-01T13:55:55Z, computed independently (date -u -d ... +%s) */
#define T0_SEC INT64_C(1785592555)
#define SEC(s) ((int64_t)(s) * (int64_t)USEC_PER_SEC)

static void assert_duration(const char *s, usec_t want) {
        usec_t got = 12345;
        int r = parse_duration(s, &got);

        if (r != 0 || got != want)
                fail_msg("parse_duration(\"%s\") = %d, %" PRIu64 "; want 0, %" PRIu64, s, r, got,
                         want);
}

static void assert_duration_error(const char *s, int want) {
        usec_t got = 12345;
        int r = parse_duration(s, &got);

        if (r != want)
                fail_msg("parse_duration(\"%s\") = %d (%" PRIu64 "); want %d", s ? s : "(null)", r,
                         got, want);
        assert_int_equal(got, 12345); /* untouched on failure */
}

static void test_duration_units(void **state) {
        assert_duration("90s", 90 * USEC_PER_SEC);
        assert_duration("15m", 15 * USEC_PER_MINUTE);
        assert_duration("1h", USEC_PER_HOUR);
        assert_duration("2d", 2 * USEC_PER_DAY);
        assert_duration("1w", 7 * USEC_PER_DAY);
        assert_duration("500ms", 500 * USEC_PER_MSEC);
        assert_duration("1s", USEC_PER_SEC);
        assert_duration("0s", 0);
}

static void test_duration_compound(void **state) {
        assert_duration("1h30m", USEC_PER_HOUR + 30 * USEC_PER_MINUTE);
        assert_duration("2d3h", 2 * USEC_PER_DAY + 3 * USEC_PER_HOUR);
        assert_duration("1m500ms", USEC_PER_MINUTE + 500 * USEC_PER_MSEC);
        assert_duration("1w1d1h1m1s",
                        8 * USEC_PER_DAY + USEC_PER_HOUR + USEC_PER_MINUTE + USEC_PER_SEC);
}

static void test_duration_bare_seconds(void **state) {
        assert_duration("30", 30 * USEC_PER_SEC);
        assert_duration("0", 0);
        assert_duration("3600", USEC_PER_HOUR);
}

static void test_duration_errors(void **state) {
        assert_duration_error("", -EINVAL);
        assert_duration_error("   ", -EINVAL);
        assert_duration_error(NULL, -EINVAL);
        assert_duration_error("fast", -EINVAL);
        assert_duration_error("1h30", -EINVAL); /* 30 what? */
        assert_duration_error("-5m", -EINVAL);
        assert_duration_error("1x", -EINVAL);
        assert_duration_error("m", -EINVAL);
        assert_duration_error("5mm", -EINVAL);
        assert_duration_error("5min", -EINVAL);
        assert_duration_error("1.5h", -EINVAL);
        assert_duration_error("h1", -EINVAL);
}

static void test_duration_overflow(void **state) {
        /* too many digits for 64 bits */
        assert_duration_error("99999999999999999999999h", -ERANGE);
        assert_duration_error("184467440737095516160", -ERANGE);
        /* the number fits, the product does not */
        assert_duration_error("18446744073709551s", -ERANGE);
        assert_duration_error("40000000w", -ERANGE);
        /* each part fits, the sum does not */
        assert_duration_error("10000000000000000000us10000000000000000000us", -ERANGE);
        /* large values that fit are still fine */
        assert_duration("10000000000000000000us", UINT64_C(10000000000000000000));
        assert_duration("52w", 52 * 7 * USEC_PER_DAY);
}

static void test_format_duration(void **state) {
        char buf[32];

        assert_string_equal(format_duration(buf, sizeof(buf), 65 * USEC_PER_MINUTE), "1h05m");
        assert_string_equal(format_duration(buf, sizeof(buf), 12 * USEC_PER_MINUTE), "12m");
        assert_string_equal(format_duration(buf, sizeof(buf), 45 * USEC_PER_SEC), "45s");
        assert_string_equal(format_duration(buf, sizeof(buf), 2 * USEC_PER_DAY + 3 * USEC_PER_HOUR),
                            "2d3h");
        assert_string_equal(format_duration(buf, sizeof(buf), USEC_PER_HOUR), "1h00m");
        assert_string_equal(format_duration(buf, sizeof(buf), 500 * USEC_PER_MSEC), "500ms");
        assert_string_equal(format_duration(buf, sizeof(buf), 0), "0s");
        /* the function returns the buffer it was given */
        assert_ptr_equal(format_duration(buf, sizeof(buf), USEC_PER_SEC), buf);
}

static void test_format_duration_round_trip(void **state) {
        static const usec_t values[] = {
                65 * USEC_PER_MINUTE, 12 * USEC_PER_MINUTE,
                45 * USEC_PER_SEC,    2 * USEC_PER_DAY + 3 * USEC_PER_HOUR,
                500 * USEC_PER_MSEC,  USEC_PER_HOUR,
        };
        char buf[32];

        for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
                usec_t back = 0;
                assert_int_equal(
                        parse_duration(format_duration(buf, sizeof(buf), values[i]), &back), 0);
                assert_int_equal(back, values[i]);
        }
}

static void assert_timestamp(const char *s, int64_t want) {
        int64_t got = 42;
        int r = parse_timestamp(s, &got);

        if (r != 0 || got != want)
                fail_msg("parse_timestamp(\"%s\") = %d, %" PRId64 "; want 0, %" PRId64, s, r, got,
                         want);
}

static void assert_timestamp_error(const char *s) {
        int64_t got = 42;
        int r = parse_timestamp(s, &got);

        if (r != -EINVAL)
                fail_msg("parse_timestamp(\"%s\") = %d (%" PRId64 "); want -EINVAL",
                         s ? s : "(null)", r, got);
        assert_int_equal(got, 42);
}

static void test_timestamp_mastodon(void **state) {
        assert_timestamp("2026-08-01T13:55:55.867Z", SEC(T0_SEC) + 867000);
        assert_timestamp("2026-08-01T13:55:55.000Z", SEC(T0_SEC));
        assert_timestamp("1970-01-01T00:00:00.000Z", 0);
}

static void test_timestamp_offsets(void **state) {
        assert_timestamp("2026-08-01T15:55:55.867+02:00", SEC(T0_SEC) + 867000);
        assert_timestamp("2026-08-01T15:55:55+0200", SEC(T0_SEC));
        assert_timestamp("2026-08-01T08:25:55-0530", SEC(T0_SEC));
        assert_timestamp("2026-08-01T08:25:55.5-05:30", SEC(T0_SEC) + 500000);
        assert_timestamp("2026-08-01T13:55:55+00:00", SEC(T0_SEC));
        assert_timestamp("2026-08-01T13:55:55-00:00", SEC(T0_SEC));
        /* an offset can move the date */
        assert_timestamp("2026-08-02T00:55:55+11:00", SEC(T0_SEC));
}

static void test_timestamp_forms(void **state) {
        assert_timestamp("2026-08-01T13:55:55Z", SEC(T0_SEC));
        assert_timestamp("2026-08-01 13:55:55Z", SEC(T0_SEC));
        assert_timestamp("2026-08-01t13:55:55z", SEC(T0_SEC));
        assert_timestamp("2026-08-01", SEC(T0_SEC - (13 * 3600 + 55 * 60 + 55)));
}

static void test_timestamp_fraction(void **state) {
        assert_timestamp("2026-08-01T13:55:55.123456Z", SEC(T0_SEC) + 123456);
        assert_timestamp("2026-08-01T13:55:55.1Z", SEC(T0_SEC) + 100000);
        assert_timestamp("2026-08-01T13:55:55.000001Z", SEC(T0_SEC) + 1);
        /* more than µs precision is truncated, not rounded into the next second */
        assert_timestamp("2026-08-01T13:55:55.9999999Z", SEC(T0_SEC) + 999999);
}

static void test_timestamp_leap_year(void **state) {
        /* date -u -d 2028-02-29 +%s; 2024-02-29T12:00:00Z */
        assert_timestamp("2028-02-29T00:00:00Z", SEC(INT64_C(1835395200)));
        assert_timestamp("2024-02-29T12:00:00Z", SEC(INT64_C(1709208000)));
        /* the day after Feb 29 is Mar 1 */
        assert_timestamp("2028-03-01T00:00:00Z", SEC(INT64_C(1835395200) + 86400));
        /* 2000 was a leap year, 2100 will not be */
        assert_timestamp("2000-03-01T00:00:00Z", SEC(INT64_C(951868800)));
        assert_timestamp("2000-02-29T00:00:00Z", SEC(INT64_C(951868800) - 86400));
}

static void test_timestamp_garbage(void **state) {
        assert_timestamp_error(NULL);
        assert_timestamp_error("");
        assert_timestamp_error("yesterday");
        assert_timestamp_error("2026/08/01");
        assert_timestamp_error("2026-8-1");
        assert_timestamp_error("2026-13-01T00:00:00Z");
        assert_timestamp_error("2026-00-10T00:00:00Z");
        assert_timestamp_error("2026-08-32T00:00:00Z");
        assert_timestamp_error("2026-08-00T00:00:00Z");
        assert_timestamp_error("2026-08-01T24:00:00Z");
        assert_timestamp_error("2026-08-01T13:60:00Z");
        assert_timestamp_error("2026-08-01T13:55:55.Z");
        assert_timestamp_error("2026-08-01T13:55:55Zjunk");
        assert_timestamp_error("2026-08-01T13:55:55+2");
        assert_timestamp_error("2026-08-01T13:55:55+25:00");
        assert_timestamp_error("2026-08-01T13");
        assert_timestamp_error("2026-08-01T");
        assert_timestamp_error("2026-08-01X13:55:55Z");
        assert_timestamp_error(" 2026-08-01T13:55:55Z");
}

static void test_timestamp_impossible_dates(void **state) {
        /* RFC 3339 §5.7: the day must exist in that month and year */
        assert_timestamp_error("2026-02-29T00:00:00Z"); /* 2026 is not a leap year */
        assert_timestamp_error("2100-02-29T00:00:00Z");
        assert_timestamp_error("2026-02-30T00:00:00Z");
        assert_timestamp_error("2026-04-31T00:00:00Z");
}

static void test_format_timestamp(void **state) {
        char buf[32];

        assert_string_equal(format_timestamp(buf, sizeof(buf), SEC(T0_SEC) + 867000),
                            "2026-08-01T13:55:55.867Z");
        /* milliseconds: µs are truncated */
        assert_string_equal(format_timestamp(buf, sizeof(buf), SEC(T0_SEC) + 123999),
                            "2026-08-01T13:55:55.123Z");
        assert_string_equal(format_timestamp(buf, sizeof(buf), SEC(INT64_C(1835395200))),
                            "2028-02-29T00:00:00.000Z");
        assert_ptr_equal(format_timestamp(buf, sizeof(buf), SEC(T0_SEC)), buf);
}

static void test_timestamp_round_trip(void **state) {
        static const char *const stamps[] = {
                "2026-08-01T13:55:55.867Z",
                "2028-02-29T23:59:59.999Z",
                "1999-12-31T23:59:59.000Z",
                "2026-01-01T00:00:00.001Z",
        };
        char buf[32];

        for (size_t i = 0; i < sizeof(stamps) / sizeof(stamps[0]); i++) {
                int64_t t = 0, back = 0;
                assert_int_equal(parse_timestamp(stamps[i], &t), 0);
                assert_string_equal(format_timestamp(buf, sizeof(buf), t), stamps[i]);
                assert_int_equal(parse_timestamp(buf, &back), 0);
                assert_int_equal(back, t);
        }

        /* an offset form comes back as the same instant in UTC */
        int64_t t = 0;
        assert_int_equal(parse_timestamp("2026-08-01T15:55:55.867+02:00", &t), 0);
        assert_string_equal(format_timestamp(buf, sizeof(buf), t), "2026-08-01T13:55:55.867Z");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                TEST("time-util/duration-units", test_duration_units),
                TEST("time-util/duration-compound", test_duration_compound),
                TEST("time-util/duration-bare-seconds", test_duration_bare_seconds),
                TEST("time-util/duration-errors", test_duration_errors),
                TEST("time-util/duration-overflow", test_duration_overflow),
                TEST("time-util/format-duration", test_format_duration),
                TEST("time-util/format-duration-round-trip", test_format_duration_round_trip),
                TEST("time-util/timestamp-mastodon", test_timestamp_mastodon),
                TEST("time-util/timestamp-offsets", test_timestamp_offsets),
                TEST("time-util/timestamp-forms", test_timestamp_forms),
                TEST("time-util/timestamp-fraction", test_timestamp_fraction),
                TEST("time-util/timestamp-leap-year", test_timestamp_leap_year),
                TEST("time-util/timestamp-garbage", test_timestamp_garbage),
                TEST("time-util/timestamp-impossible-dates", test_timestamp_impossible_dates),
                TEST("time-util/format-timestamp", test_format_timestamp),
                TEST("time-util/timestamp-round-trip", test_timestamp_round_trip),
        };

        return cmocka_run_group_tests_name("time-util", tests, NULL, NULL);
}
