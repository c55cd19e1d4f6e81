/* SPDX-License-Identifier: MIT */
/*
 * time-util.c - durations and timestamps. Durations are what marketers and sysadmins write in
 * YAML ("15m", "1h30m"); timestamps are what networks send (RFC 3339, as Mastodon's
 * "2026-08-01T13:55:55.867Z"). Both parsers reject anything they do not fully understand.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "time-util.h"

usec_t now_usec(int clock_id) {
        struct timespec ts;
        clock_gettime(clock_id, &ts);
        return (usec_t)ts.tv_sec * USEC_PER_SEC + (usec_t)ts.tv_nsec / 1000;
}

int parse_duration(const char *s, usec_t *ret) {
        static const struct {
                const char *suffix;
                usec_t mult;
        } units[] = {
                /* longest suffixes first so "ms" is not read as "m" */
                {"ms", USEC_PER_MSEC}, {"us", 1},          {"s", USEC_PER_SEC},
                {"m", USEC_PER_MINUTE}, {"h", USEC_PER_HOUR}, {"d", USEC_PER_DAY},
                {"w", 7 * USEC_PER_DAY},
        };
        usec_t total = 0;
        const char *p = s;
        bool any = false;

        if (!s)
                return -EINVAL;
        while (isspace((unsigned char)*p))
                p++;
        if (!*p)
                return -EINVAL;
        while (*p) {
                if (!isdigit((unsigned char)*p))
                        return -EINVAL;
                uint64_t n = 0;
                while (isdigit((unsigned char)*p)) {
                        if (n > (UINT64_MAX - 9) / 10)
                                return -ERANGE;
                        n = n * 10 + (uint64_t)(*p - '0');
                        p++;
                }
                while (*p == ' ')
                        p++;
                usec_t mult = 0;
                if (!*p) {
                        if (any) /* "1h30" is ambiguous */
                                return -EINVAL;
                        mult = USEC_PER_SEC;
                } else {
                        for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
                                size_t l = strlen(units[i].suffix);
                                if (strncmp(p, units[i].suffix, l) == 0 &&
                                    !isalpha((unsigned char)p[l])) {
                                        mult = units[i].mult;
                                        p += l;
                                        break;
                                }
                        }
                        if (mult == 0)
                                return -EINVAL;
                }
                if (n > 0 && mult > UINT64_MAX / n)
                        return -ERANGE;
                if (total > UINT64_MAX - n * mult)
                        return -ERANGE;
                total += n * mult;
                any = true;
                while (*p == ' ')
                        p++;
        }
        *ret = total;
        return 0;
}

const char *format_duration(char *buf, size_t len, usec_t d) {
        uint64_t s = d / USEC_PER_SEC;
        if (d == USEC_INFINITY)
                snprintf(buf, len, "never");
        else if (s >= 86400)
                snprintf(buf, len, "%" PRIu64 "d%" PRIu64 "h", s / 86400, (s % 86400) / 3600);
        else if (s >= 3600)
                snprintf(buf, len, "%" PRIu64 "h%02" PRIu64 "m", s / 3600, (s % 3600) / 60);
        else if (s >= 60)
                snprintf(buf, len, "%" PRIu64 "m", s / 60);
        else if (s >= 1 || d == 0)
                snprintf(buf, len, "%" PRIu64 "s", s);
        else
                snprintf(buf, len, "%" PRIu64 "ms", d / USEC_PER_MSEC);
        return buf;
}

static int parse_digits(const char **p, int n, int *ret) {
        int v = 0;
        for (int i = 0; i < n; i++) {
                if (!isdigit((unsigned char)(*p)[i]))
                        return -EINVAL;
                v = v * 10 + ((*p)[i] - '0');
        }
        *p += n;
        *ret = v;
        return 0;
}

/* days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm) */
static int64_t days_from_civil(int64_t y, int m, int d) {
        y -= m <= 2;
        int64_t era = (y >= 0 ? y : y - 399) / 400;
        int64_t yoe = y - era * 400;
        int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
        int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        return era * 146097 + doe - 719468;
}

int parse_timestamp(const char *s, int64_t *ret_usec) {
        int Y, M, D, h = 0, m = 0, sec = 0;
        int64_t frac = 0;
        const char *p = s;

        if (!s)
                return -EINVAL;
        if (parse_digits(&p, 4, &Y) < 0 || *p++ != '-' || parse_digits(&p, 2, &M) < 0 ||
            *p++ != '-' || parse_digits(&p, 2, &D) < 0)
                return -EINVAL;
        if (*p == 'T' || *p == 't' || *p == ' ') {
                p++;
                if (parse_digits(&p, 2, &h) < 0 || *p++ != ':' || parse_digits(&p, 2, &m) < 0)
                        return -EINVAL;
                if (*p == ':') {
                        p++;
                        if (parse_digits(&p, 2, &sec) < 0)
                                return -EINVAL;
                        if (*p == '.' || *p == ',') {
                                p++;
                                int digits = 0;
                                if (!isdigit((unsigned char)*p))
                                        return -EINVAL;
                                while (isdigit((unsigned char)*p)) {
                                        if (digits < 6) {
                                                frac = frac * 10 + (*p - '0');
                                                digits++;
                                        }
                                        p++;
                                }
                                while (digits++ < 6)
                                        frac *= 10;
                        }
                }
        }
        static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
        if (M < 1 || M > 12 || D < 1 || D > mdays[M - 1] || h > 23 || m > 59 || sec > 60)
                return -EINVAL;
        if (M == 2 && D == 29 && !((Y % 4 == 0 && Y % 100 != 0) || Y % 400 == 0))
                return -EINVAL; /* RFC 3339 §5.7: a real date */

        int64_t offset = 0;
        if (*p == 'Z' || *p == 'z')
                p++;
        else if (*p == '+' || *p == '-') {
                int sign = *p == '-' ? -1 : 1, oh, om = 0;
                p++;
                if (parse_digits(&p, 2, &oh) < 0)
                        return -EINVAL;
                if (*p == ':')
                        p++;
                if (isdigit((unsigned char)*p) && parse_digits(&p, 2, &om) < 0)
                        return -EINVAL;
                if (oh > 23 || om > 59)
                        return -EINVAL;
                offset = sign * (oh * 3600 + om * 60);
        }
        if (*p != 0)
                return -EINVAL;

        int64_t t = days_from_civil(Y, M, D) * 86400 + h * 3600 + m * 60 + sec - offset;
        *ret_usec = t * (int64_t)USEC_PER_SEC + frac;
        return 0;
}

const char *format_timestamp(char *buf, size_t len, int64_t usec) {
        time_t t = (time_t)(usec / (int64_t)USEC_PER_SEC);
        struct tm tm;
        if (usec <= 0 || !gmtime_r(&t, &tm)) {
                snprintf(buf, len, "-");
                return buf;
        }
        snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                 (int)((usec % (int64_t)USEC_PER_SEC) / 1000));
        return buf;
}
