/* SPDX-License-Identifier: MIT */
/*
 * scheduler.c - pure timing decisions; the manager arms the sd-event timers. Keeping the maths
 * here, free of the loop, makes it testable and keeps every caller's backoff identical.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include "scheduler.h"

#define MAX_SERVER_DELAY (24 * USEC_PER_HOUR)

static uint64_t random_u64(void) {
        uint64_t v;
        if (getrandom(&v, sizeof(v), GRND_NONBLOCK) != (ssize_t)sizeof(v))
                v = ((uint64_t)rand() << 32) ^ (uint64_t)rand() ^ now_usec(CLOCK_MONOTONIC);
        return v;
}

static usec_t jitter_upper_half(usec_t d) {
        if (d < 2)
                return d;
        return d / 2 + random_u64() % (d / 2 + 1);
}

static usec_t backoff(usec_t base, unsigned n, usec_t cap) {
        usec_t d = base;
        for (unsigned i = 0; i < n && d < cap; i++)
                d *= 2;
        return d > cap ? cap : d;
}

usec_t schedule_delay(usec_t interval, unsigned failures, usec_t cap, usec_t server) {
        usec_t d;
        if (failures == 0) {
                usec_t spread = interval / 10;
                d = interval - spread + (spread ? random_u64() % (2 * spread + 1) : 0);
        } else
                d = jitter_upper_half(backoff(interval, failures, cap > interval ? cap : interval));
        return server > d ? server : d;
}

usec_t retry_delay(usec_t initial, usec_t cap, unsigned attempts, usec_t server) {
        usec_t d = jitter_upper_half(backoff(initial, attempts > 0 ? attempts - 1 : 0, cap));
        return server > d ? server : d;
}

int parse_http_date(const char *s, int64_t *ret) {
        static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
        char mon[4] = {0};
        int d, y, h, m, sec;
        struct tm tm = {};

        int end = 0;
        /* IMF-fixdate: the only form senders may generate (RFC 9110 §5.6.7) */
        if (sscanf(s, "%*3s, %2d %3s %4d %2d:%2d:%2d GMT%n", &d, mon, &y, &h, &m, &sec, &end) !=
                    6 ||
            end == 0 || s[end] != 0)
                return -EINVAL;
        if (d < 1 || d > 31 || h > 23 || m > 59 || sec > 60 || y < 1970)
                return -EINVAL;
        const char *p = strstr(months, mon);
        if (!p || (p - months) % 3 != 0)
                return -EINVAL;
        tm.tm_mday = d;
        tm.tm_mon = (int)((p - months) / 3);
        tm.tm_year = y - 1900;
        tm.tm_hour = h;
        tm.tm_min = m;
        tm.tm_sec = sec;
        time_t t = timegm(&tm);
        if (t == (time_t)-1)
                return -EINVAL;
        *ret = (int64_t)t * (int64_t)USEC_PER_SEC;
        return 0;
}

static usec_t until(int64_t when, int64_t now) {
        if (when <= now)
                return 0;
        usec_t d = (usec_t)(when - now);
        return d > MAX_SERVER_DELAY ? MAX_SERVER_DELAY : d;
}

usec_t server_delay(const struct earshot_response *resp, int64_t now) {
        const char *ra = earshot_response_header(resp, "Retry-After");
        if (ra) {
                char *end = (char *)ra;
                unsigned long long secs = 0;
                int64_t when;
                /* delay-seconds = 1*DIGIT: no sign, no blanks (strtoull would take "-5") */
                if (*ra >= '0' && *ra <= '9')
                        secs = strtoull(ra, &end, 10);
                if (end != ra && (*end == 0 || *end == ' '))
                        return secs > MAX_SERVER_DELAY / USEC_PER_SEC
                                       ? MAX_SERVER_DELAY
                                       : (usec_t)secs * USEC_PER_SEC;
                if (parse_http_date(ra, &when) == 0)
                        return until(when, now);
        }

        const char *rem = earshot_response_header(resp, "X-RateLimit-Remaining");
        const char *reset = earshot_response_header(resp, "X-RateLimit-Reset");
        char *rem_end = NULL;
        double remaining = rem ? strtod(rem, &rem_end) : 1.0;
        if (rem && rem_end != rem && *rem_end == 0 && reset && remaining < 1.0) {
                int64_t when;
                char *end;
                double v = strtod(reset, &end);
                if (end != reset && *end == 0) {
                        /* epoch seconds, or (Reddit style) seconds from now */
                        if (v > 1e9)
                                return until((int64_t)(v * 1e6), now);
                        return v <= 0 ? 0 : until(now + (int64_t)(v * 1e6), now);
                }
                if (parse_timestamp(reset, &when) == 0)
                        return until(when, now);
        }
        return 0;
}
