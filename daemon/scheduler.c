/* SPDX-License-Identifier: MIT */
/*
 * scheduler.c - pure timing decisions; the manager arms the sd-event timers. Keeping the maths
 * here, free of the loop, makes it testable and keeps every caller's backoff identical.
 */
#include <errno.h>
#include <stdbool.h>
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

        RateLimit rl;
        if (ratelimit_parse(resp, now, &rl) == 0 && rl.remaining < 1.0 && rl.reset_usec > 0)
                return until(rl.reset_usec, now);
        return 0;
}

/* A number with nothing after it (blanks allowed around). */
static bool parse_number(const char *s, double *ret) {
        char *end;
        if (!s)
                return false;
        errno = 0;
        double v = strtod(s, &end);
        if (end == s || errno != 0 || v != v)
                return false;
        while (*end == ' ' || *end == '\t')
                end++;
        if (*end != 0 && *end != ';' && *end != ',')
                return false;
        *ret = v;
        return true;
}

/* A reset value: epoch seconds, seconds from now (small numbers), or an ISO 8601 time. */
static int64_t parse_reset(const char *s, int64_t now) {
        double v;
        int64_t when;
        if (parse_number(s, &v)) {
                if (v > 1e9)
                        return (int64_t)(v * 1e6);
                return v <= 0 ? now : now + (int64_t)(v * 1e6);
        }
        if (s && parse_timestamp(s, &when) == 0)
                return when;
        return 0;
}

/* "limit=100, remaining=50, reset=30" (the IETF draft's combined RateLimit header). */
static const char *param(const char *h, const char *name) {
        size_t n = strlen(name);
        for (const char *p = h; p && *p;) {
                while (*p == ' ' || *p == ',' || *p == ';')
                        p++;
                if (strncasecmp(p, name, n) == 0 && p[n] == '=')
                        return p + n + 1;
                p = strpbrk(p, ",;");
        }
        return NULL;
}

int ratelimit_parse(const struct earshot_response *resp, int64_t now, RateLimit *ret) {
        /* X-RateLimit-* (Mastodon: ISO reset; GitHub-style: epoch; Reddit: float remaining,
         * seconds-from-now reset), then the IETF RateLimit-* headers (reset in seconds). */
        static const char *const prefixes[] = {"X-RateLimit-", "RateLimit-"};
        char name[64];
        RateLimit rl = {};

        for (size_t i = 0; i < 2 && !rl.known; i++) {
                double v;
                snprintf(name, sizeof(name), "%sRemaining", prefixes[i]);
                if (!parse_number(earshot_response_header(resp, name), &v))
                        continue;
                rl.known = true;
                rl.remaining = v < 0 ? 0 : v;
                snprintf(name, sizeof(name), "%sLimit", prefixes[i]);
                if (parse_number(earshot_response_header(resp, name), &v) && v > 0)
                        rl.limit = v;
                else {
                        /* Reddit sends Used instead of Limit */
                        snprintf(name, sizeof(name), "%sUsed", prefixes[i]);
                        if (parse_number(earshot_response_header(resp, name), &v) && v >= 0)
                                rl.limit = v + rl.remaining;
                }
                snprintf(name, sizeof(name), "%sReset", prefixes[i]);
                rl.reset_usec = parse_reset(earshot_response_header(resp, name), now);
        }
        if (!rl.known) {
                const char *h = earshot_response_header(resp, "RateLimit");
                double v;
                if (h && parse_number(param(h, "remaining"), &v)) {
                        rl.known = true;
                        rl.remaining = v < 0 ? 0 : v;
                        if (parse_number(param(h, "limit"), &v) && v > 0)
                                rl.limit = v;
                        if (parse_number(param(h, "reset"), &v))
                                rl.reset_usec = now + (int64_t)(v > 0 ? v * 1e6 : 0);
                }
        }
        if (!rl.known)
                return -ENOENT;
        *ret = rl;
        return 0;
}

usec_t ratelimit_pace(const RateLimit *rl, int64_t now) {
        if (!rl->known || rl->reset_usec <= now)
                return 0;
        /* plenty left: no pacing. "Plenty" = more than a fifth of the window, or 20 calls. */
        double low = rl->limit > 0 ? rl->limit / 5 : 20;
        if (low < 1)
                low = 1;
        if (rl->remaining > low)
                return 0;
        /* spread what is left over the time to the reset, keeping one call in reserve */
        double calls = rl->remaining - 1;
        usec_t left = until(rl->reset_usec, now);
        if (calls < 1)
                return left;
        return (usec_t)((double)left / calls);
}

void ratelimit_format(const RateLimit *rl, int64_t now, char *buf, size_t len) {
        char d[32];
        if (!rl->known) {
                snprintf(buf, len, "-");
                return;
        }
        if (rl->limit > 0)
                snprintf(buf, len, "%.0f/%.0f left", rl->remaining, rl->limit);
        else
                snprintf(buf, len, "%.0f left", rl->remaining);
        if (rl->reset_usec > now) {
                size_t l = strlen(buf);
                snprintf(buf + l, len - l, ", resets in %s",
                         format_duration(d, sizeof(d), (usec_t)(rl->reset_usec - now)));
        }
}
