/* SPDX-License-Identifier: MIT */
/*
 * rss-date.c - the dates feeds write, read leniently (see rss-internal.h).
 *
 * Two readers. Dates that start with a four-digit year take the ISO 8601 path: RFC 3339 and
 * W3C-DTF ("2003-12-31T10:14:55.123-08:00", "2003-12-31", "2003-12", "2003"), plus the forms
 * real feeds write instead: a blank for 'T', no seconds, no zone (UTC is assumed, as
 * feedparser does), "+0100" or "+01" for "+01:00", compact "20031231T101455Z", '/' between
 * the date parts. Everything else is cut into words, numbers, times and offsets and read the
 * RFC 822 way ("Thu, 01 Jan 2004 19:48:21 GMT"), tolerating what RFC 2822's obsolete syntax
 * and broken generators add: missing or full weekdays, missing commas, "01-Jan-04",
 * "Jan 1 2004", asctime's "Thu Jan  1 19:48:21 2004", years of 2 digits (00-49 are 20xx,
 * RFC 2822 section 4.3) or 3 digits (1900 + n, what JavaScript's getYear() leaves), one-digit
 * hours, AM/PM, "GMT+2", and zone names from RFC 822 and a few common ones. RFC 2822 says
 * the one-letter military zones were defined backwards and are to be read as +0000; so they
 * are. An unknown zone word is read as UTC rather than losing the whole date.
 *
 * What it refuses: numeric day/month orders that cannot be told apart ("01/02/2004"), fields
 * out of range (month 13, 31 April, 25:00), trailing words it does not understand, and times
 * outside 1970..9999. No table or buffer grows with the input; input longer than 128 bytes
 * is not a date.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "rss-internal.h"

#define DATE_MAX 128
#define USEC_PER_SEC INT64_C(1000000)

typedef struct DateParts {
        int year, month, day, hour, minute, second;
        int64_t usec;    /* fraction of the second */
        int offset;      /* zone offset east of UTC, in seconds */
} DateParts;

static bool is_digit(char c) {
        return c >= '0' && c <= '9';
}

static bool is_alpha(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_blank(char c) {
        return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool is_leap(int y) {
        return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m) {
        static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
        return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d) {
        y -= m <= 2;
        int64_t era = (y >= 0 ? y : y - 399) / 400;
        int64_t yoe = y - era * 400;
        int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
        int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        return era * 146097 + doe - 719468;
}

static int parts_to_usec(DateParts *p, int64_t *ret) {
        if (p->year < 1970 || p->year > 9999 || p->month < 1 || p->month > 12 || p->day < 1 ||
            p->day > days_in_month(p->year, p->month) || p->minute < 0 || p->minute > 59 ||
            p->second < 0 || p->second > 60 || p->hour < 0 || p->hour > 24)
                return -EINVAL;
        /* "24:00:00" is the end of the day (ISO 8601); a leap second is kept inside its minute */
        if (p->hour == 24 && (p->minute != 0 || p->second != 0 || p->usec != 0))
                return -EINVAL;
        if (p->second == 60) {
                p->second = 59;
                p->usec = USEC_PER_SEC - 1;
        }
        if (p->offset < -24 * 3600 || p->offset > 24 * 3600)
                return -EINVAL;

        int64_t t = days_from_civil(p->year, p->month, p->day) * 86400 + p->hour * 3600 +
                    p->minute * 60 + p->second - p->offset;
        if (t < 0)
                return -EINVAL;
        *ret = t * USEC_PER_SEC + p->usec;
        return 0;
}

/* Reads up to max digits at *s (at least min); returns the value or -1. */
static int read_num(const char **s, int min, int max) {
        const char *p = *s;
        int v = 0, n = 0;

        while (n < max && is_digit(*p)) {
                v = v * 10 + (*p++ - '0');
                n++;
        }
        if (n < min || is_digit(*p))
                return -1;
        *s = p;
        return v;
}

/* A fraction after '.' or ',' at *s, as µs (digits past the sixth are dropped). */
static int64_t read_fraction(const char **s) {
        const char *p = *s;
        int64_t v = 0, scale = 100000;

        while (is_digit(*p)) {
                if (scale > 0) {
                        v += (*p - '0') * scale;
                        scale /= 10;
                }
                p++;
        }
        *s = p;
        return v;
}

/*
 * A numeric zone at *s: "+hh:mm", "+hhmm", "+hh", "+h", "+hmm". Returns 0 and the offset in
 * seconds, or -EINVAL.
 */
static int read_offset(const char **s, int *ret) {
        const char *p = *s;
        int sign, h, m = 0, n = 0;

        if (*p != '+' && *p != '-' && strncmp(p, "\xe2\x88\x92", 3) != 0)
                return -EINVAL;
        sign = *p == '+' ? 1 : -1;
        p += *p == '+' || *p == '-' ? 1 : 3; /* U+2212 MINUS SIGN, as some generators write */
        while (is_digit(p[n]))
                n++;
        if (n == 4 || n == 3) {
                h = n == 4 ? (p[0] - '0') * 10 + (p[1] - '0') : p[0] - '0';
                m = (p[n - 2] - '0') * 10 + (p[n - 1] - '0');
                p += n;
        } else if (n == 1 || n == 2) {
                h = n == 2 ? (p[0] - '0') * 10 + (p[1] - '0') : p[0] - '0';
                p += n;
                if (*p == ':' && is_digit(p[1]) && is_digit(p[2]) && !is_digit(p[3])) {
                        m = (p[1] - '0') * 10 + (p[2] - '0');
                        p += 3;
                }
        } else
                return -EINVAL;
        if (h > 23 || m > 59)
                return -EINVAL;
        *ret = sign * (h * 3600 + m * 60);
        *s = p;
        return 0;
}

typedef struct ZoneName {
        const char *name;
        int minutes;
} ZoneName;

/* RFC 822 section 5 names first, then zones common in the wild (ambiguous ones like IST left out). */
static const ZoneName zones[] = {
        {"UT", 0},      {"UTC", 0},     {"GMT", 0},     {"Z", 0},       {"EST", -300},
        {"EDT", -240},  {"CST", -360},  {"CDT", -300},  {"MST", -420},  {"MDT", -360},
        {"PST", -480},  {"PDT", -420},  {"AKST", -540}, {"AKDT", -480}, {"HST", -600},
        {"AST", -240},  {"ADT", -180},  {"NST", -210},  {"NDT", -150},  {"WET", 0},
        {"WEST", 60},   {"BST", 60},    {"CET", 60},    {"CEST", 120},  {"MET", 60},
        {"MEST", 120},  {"EET", 120},   {"EEST", 180},  {"MSK", 180},   {"MSD", 240},
        {"JST", 540},   {"KST", 540},   {"HKT", 480},   {"SGT", 480},   {"AWST", 480},
        {"ACST", 570},  {"ACDT", 630},  {"AEST", 600},  {"AEDT", 660},  {"NZST", 720},
        {"NZDT", 780},  {"UCT", 0},     {"WAT", 60},    {"CAT", 120},   {"EAT", 180},
};

/* Returns 1 and the offset in seconds for a zone word, 0 if it is not one. */
static int zone_lookup(const char *w, size_t n, int *ret) {
        for (size_t i = 0; i < sizeof(zones) / sizeof(zones[0]); i++)
                if (strlen(zones[i].name) == n && strncasecmp(zones[i].name, w, n) == 0) {
                        *ret = zones[i].minutes * 60;
                        return 1;
                }
        /* RFC 2822 4.3: military zones "SHOULD all be considered equivalent to -0000" */
        if (n == 1 && is_alpha(w[0]) && (w[0] | 0x20) != 'j') {
                *ret = 0;
                return 1;
        }
        return 0;
}

static int month_lookup(const char *w, size_t n) {
        static const char *const months[] = {"january", "february", "march",     "april",
                                             "may",     "june",     "july",      "august",
                                             "september", "october", "november", "december"};
        if (n < 3)
                return 0;
        for (int i = 0; i < 12; i++) {
                size_t full = strlen(months[i]);
                /* "Jan", "January", "Sept" */
                if (n <= full && strncasecmp(w, months[i], n) == 0 && (n == 3 || n == full ||
                                                                      (i == 8 && n == 4)))
                        return i + 1;
        }
        return 0;
}

static bool weekday_word(const char *w, size_t n) {
        static const char *const days[] = {"monday", "tuesday", "wednesday", "thursday",
                                           "friday", "saturday", "sunday"};
        if (n < 3)
                return false;
        for (int i = 0; i < 7; i++) {
                size_t full = strlen(days[i]);
                if (n <= full && strncasecmp(w, days[i], n) == 0 &&
                    (n == 3 || n == full || (n == 4 && (i == 1 || i == 3)) /* Tues, Thur */ ||
                     (n == 5 && i == 3) /* Thurs */))
                        return true;
        }
        return false;
}

/* "HH:MM[:SS[.frac]]" at *s; returns 0 or -EINVAL. */
static int read_time(const char **s, DateParts *p) {
        const char *q = *s;

        p->hour = read_num(&q, 1, 2);
        if (p->hour < 0 || *q != ':')
                return -EINVAL;
        q++;
        p->minute = read_num(&q, 2, 2);
        if (p->minute < 0)
                return -EINVAL;
        p->second = 0;
        p->usec = 0;
        if (*q == ':') {
                q++;
                p->second = read_num(&q, 2, 2);
                if (p->second < 0)
                        return -EINVAL;
                if ((*q == '.' || *q == ',') && is_digit(q[1])) {
                        q++;
                        p->usec = read_fraction(&q);
                }
        }
        *s = q;
        return 0;
}

/* Zone after a time or at the end of an ISO date: "Z", "+hh:mm", " UTC", " GMT+2", "". */
static int read_iso_zone(const char *q, DateParts *p) {
        while (is_blank(*q))
                q++;
        p->offset = 0;
        if (!*q)
                return 0;
        if (*q == 'Z' || *q == 'z') {
                q++;
        } else if (*q == '+' || *q == '-' || (unsigned char)*q == 0xe2) {
                if (read_offset(&q, &p->offset) < 0)
                        return -EINVAL;
        } else if (is_alpha(*q)) {
                const char *w = q;
                while (is_alpha(*q))
                        q++;
                if (!zone_lookup(w, (size_t)(q - w), &p->offset))
                        return -EINVAL;
                if (*q == '+' || *q == '-') {
                        int extra;
                        if (read_offset(&q, &extra) < 0)
                                return -EINVAL;
                        p->offset += extra;
                }
        } else
                return -EINVAL;
        while (is_blank(*q))
                q++;
        return *q ? -EINVAL : 0;
}

static int parse_iso(const char *s, int64_t *ret) {
        DateParts p = {.month = 1, .day = 1};
        const char *q = s;

        p.year = read_num(&q, 4, 4);
        if (p.year < 0) {
                /* compact "20031231" or "20031231T101455Z" */
                const char *c = s;
                int v = read_num(&c, 8, 8);
                if (v < 0)
                        return -EINVAL;
                p.year = v / 10000;
                p.month = v / 100 % 100;
                p.day = v % 100;
                q = c;
        } else if (*q == '-' || *q == '/') {
                char sep = *q++;
                p.month = read_num(&q, 1, 2);
                if (p.month < 0)
                        return -EINVAL;
                if (*q == sep) {
                        q++;
                        p.day = read_num(&q, 1, 2);
                        if (p.day < 0)
                                return -EINVAL;
                }
        }

        if (*q == 'T' || *q == 't' || (*q == ' ' && is_digit(q[1]))) {
                q++;
                if (is_digit(q[0]) && is_digit(q[1]) && q[2] != ':') {
                        /* compact time "101455" or "1014" */
                        int v = 0, n = 0;
                        while (is_digit(q[n]) && n < 7)
                                v = v * 10 + (q[n++] - '0');
                        if (n == 6) {
                                p.hour = v / 10000;
                                p.minute = v / 100 % 100;
                                p.second = v % 100;
                        } else if (n == 4) {
                                p.hour = v / 100;
                                p.minute = v % 100;
                        } else
                                return -EINVAL;
                        q += n;
                        if ((*q == '.' || *q == ',') && is_digit(q[1])) {
                                q++;
                                p.usec = read_fraction(&q);
                        }
                } else if (read_time(&q, &p) < 0)
                        return -EINVAL;
        }
        if (read_iso_zone(q, &p) < 0)
                return -EINVAL;
        return parts_to_usec(&p, ret);
}

/* The RFC 822 family, token by token. */
static int parse_rfc822(const char *s, int64_t *ret) {
        DateParts p = {0};
        const char *q = s;
        int numbers[3], n_numbers = 0;
        bool have_time = false, have_zone = false, pm = false, am = false;

        p.month = 0;
        while (*q) {
                if (is_blank(*q) || *q == ',' || *q == '.' || *q == '/') {
                        q++;
                        continue;
                }
                if (*q == '(') {
                        /* an RFC 822 comment, e.g. "+0000 (UTC)": the rest is not needed */
                        const char *close = strchr(q, ')');
                        if (!close)
                                return -EINVAL;
                        q = close + 1;
                        continue;
                }
                if (*q == '+' || ((*q == '-' || (unsigned char)*q == 0xe2) && have_time)) {
                        /* a numeric zone; '-' means one only after the time */
                        int off;
                        if (have_zone && p.offset != 0)
                                return -EINVAL;
                        if (read_offset(&q, &off) < 0)
                                return -EINVAL;
                        p.offset += off;
                        have_zone = true;
                        continue;
                }
                if (*q == '-') {
                        q++; /* a date separator: "01-Jan-2004" */
                        continue;
                }
                if (is_digit(*q)) {
                        const char *t = q;
                        while (is_digit(*t))
                                t++;
                        if (*t == ':') {
                                if (have_time || read_time(&q, &p) < 0)
                                        return -EINVAL;
                                have_time = true;
                                continue;
                        }
                        int v = read_num(&q, 1, 4);
                        if (v < 0 || n_numbers == 3)
                                return -EINVAL;
                        numbers[n_numbers++] = v;
                        continue;
                }
                if (is_alpha(*q)) {
                        const char *w = q;
                        size_t n;
                        int m, off;
                        while (is_alpha(*q))
                                q++;
                        n = (size_t)(q - w);
                        if ((m = month_lookup(w, n)) > 0) {
                                if (p.month)
                                        return -EINVAL;
                                p.month = m;
                        } else if (weekday_word(w, n)) {
                                /* ignored: the date says which day it is */
                        } else if (n == 2 && strncasecmp(w, "pm", 2) == 0 && have_time) {
                                pm = true;
                        } else if (n == 2 && strncasecmp(w, "am", 2) == 0 && have_time) {
                                am = true;
                        } else if (zone_lookup(w, n, &off)) {
                                if (have_zone)
                                        return -EINVAL;
                                p.offset = off;
                                have_zone = true;
                        } else if (n >= 2 && n <= 5 && have_time && !have_zone) {
                                /* an unknown zone abbreviation: UTC beats no date at all */
                                have_zone = true;
                        } else
                                return -EINVAL;
                        continue;
                }
                return -EINVAL;
        }

        if (!p.month || n_numbers != 2)
                return -EINVAL;
        /* the day is the number that can be one; the year is the other */
        int day = numbers[0], year = numbers[1];
        if (numbers[0] > 31 && numbers[1] <= 31) {
                year = numbers[0];
                day = numbers[1];
        }
        if (year < 50)
                year += 2000;
        else if (year < 1000)
                year += 1900;
        p.year = year;
        p.day = day;
        if (pm || am) {
                if (p.hour < 1 || p.hour > 12)
                        return -EINVAL;
                if (pm && p.hour != 12)
                        p.hour += 12;
                else if (am && p.hour == 12)
                        p.hour = 0;
        }
        return parts_to_usec(&p, ret);
}

int rss_parse_date(const char *s, int64_t *ret_usec) {
        char buf[DATE_MAX + 1];
        size_t n;
        int64_t t;
        int r;

        if (!s)
                return -EINVAL;
        while (is_blank(*s))
                s++;
        n = strnlen(s, DATE_MAX + 1);
        if (n > DATE_MAX || n == 0)
                return -EINVAL;
        memcpy(buf, s, n);
        while (n > 0 && is_blank(buf[n - 1]))
                n--;
        buf[n] = 0;
        if (n == 0)
                return -EINVAL;

        if (is_digit(buf[0]) && is_digit(buf[1]) && is_digit(buf[2]) && is_digit(buf[3]) &&
            (buf[4] == 0 || buf[4] == '-' || buf[4] == '/' || is_digit(buf[4]) || buf[4] == 'T'))
                r = parse_iso(buf, &t);
        else
                r = parse_rfc822(buf, &t);
        if (r < 0)
                return r;
        *ret_usec = t;
        return 0;
}
