/* SPDX-License-Identifier: MIT */
/*
 * scheduler.h - when to poll a feed next and when to retry a delivery: the interval with a
 * little jitter after success; after failures an interval that doubles up to a cap, with full
 * jitter; and what the server says (Retry-After, rate-limit headers) overriding both.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "earshot-plugin.h"
#include "util/time-util.h"

/*
 * Delay before the next poll. failures == 0: interval ± 10 %. Otherwise
 * min(cap, interval * 2^failures), drawn uniformly from its upper half ("full jitter" that never
 * polls sooner than half the backoff). A server-given delay wins when it is longer.
 */
usec_t schedule_delay(usec_t interval, unsigned failures, usec_t cap, usec_t server_delay);

/* Retry delay for delivery attempt n (1-based): initial * 2^(n-1), capped, jittered. */
usec_t retry_delay(usec_t initial, usec_t cap, unsigned attempts, usec_t server_delay);

/*
 * What the server asks: Retry-After (RFC 9110 §10.2.3: delay-seconds or an HTTP-date), or an
 * exhausted rate limit (X-RateLimit-Remaining: 0 with X-RateLimit-Reset as epoch seconds,
 * seconds from now, or an ISO 8601 timestamp as Mastodon sends). Returns 0 when the response
 * asks for nothing. Clamped to 24 h.
 */
usec_t server_delay(const struct earshot_response *resp, int64_t now_realtime);

/* A server's rate-limit state, as its headers tell it. */
typedef struct RateLimit {
        bool known;
        double remaining;  /* calls left in the window (Reddit sends fractions) */
        double limit;      /* the window's size; 0 when not sent */
        int64_t reset_usec; /* wall-clock time the window resets; 0 when not sent */
} RateLimit;

/*
 * Read X-RateLimit-Remaining/-Limit/-Used/-Reset (reset as epoch seconds, seconds from now, or
 * ISO 8601 as Mastodon sends it), or the IETF draft's RateLimit-Remaining/-Limit/-Reset and
 * combined `RateLimit: limit=, remaining=, reset=`. 0, or -ENOENT when the response has none.
 */
int ratelimit_parse(const struct earshot_response *resp, int64_t now, RateLimit *ret);
/*
 * The pause to keep between calls so that the quota lasts until the reset: 0 while more than
 * a fifth of the window is left; then the time to the reset divided by the calls left.
 */
usec_t ratelimit_pace(const RateLimit *rl, int64_t now);
/* "12/300 left, resets in 4m10s", or "-". */
void ratelimit_format(const RateLimit *rl, int64_t now, char *buf, size_t len);

/* Parse an IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"); µs since the epoch. */
int parse_http_date(const char *s, int64_t *ret);
