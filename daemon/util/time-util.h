/* SPDX-License-Identifier: MIT */
/*
 * time-util.h - one time type everywhere: usec_t, microseconds. Wall-clock times (post
 * creation, due times) are CLOCK_REALTIME µs since the epoch; schedules use CLOCK_MONOTONIC.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef uint64_t usec_t;

#define USEC_INFINITY ((usec_t)UINT64_MAX)
#define USEC_PER_MSEC ((usec_t)1000ULL)
#define USEC_PER_SEC ((usec_t)1000000ULL)
#define USEC_PER_MINUTE (60ULL * USEC_PER_SEC)
#define USEC_PER_HOUR (60ULL * USEC_PER_MINUTE)
#define USEC_PER_DAY (24ULL * USEC_PER_HOUR)

usec_t now_usec(int clock_id);

/*
 * Parse a duration: "90s", "15m", "1h", "2d", "1h30m", "500ms", "1w"; a bare number is
 * seconds. Returns 0, -EINVAL (not a duration) or -ERANGE.
 */
int parse_duration(const char *s, usec_t *ret);

/* Format a duration compactly ("1h05m", "12m", "45s", "2d3h"). buf >= 32 bytes. */
const char *format_duration(char *buf, size_t len, usec_t d);

/*
 * Parse an RFC 3339 / ISO 8601 timestamp: "2026-08-01T13:55:55.867Z", "...+02:00",
 * with or without fraction; a space may stand for the T. Result in µs since the epoch.
 */
int parse_timestamp(const char *s, int64_t *ret_usec);

/* Format as RFC 3339 UTC with milliseconds: "2026-08-01T13:55:55.867Z". buf >= 32 bytes. */
const char *format_timestamp(char *buf, size_t len, int64_t usec);
