/* SPDX-License-Identifier: MIT */
/*
 * rss-internal.h - the pure helpers of the RSS/Atom source, shared by rss.c and its unit test:
 * a lenient date parser (rss-date.c), the body-to-UTF-8 step (rss-charset.c) and small string
 * functions (rss-text.c). Nothing here keeps state or does I/O; everything accepts any bytes.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- rss-date.c ---------------------------------------------------------------------------- */

/*
 * Parse a feed date: RFC 822/1123/2822 with or without weekday, 2-, 3- or 4-digit years, named
 * zones (GMT, UT, EST ... PDT, CEST, ...), +hhmm/+hh:mm/+hh offsets, RFC 850 and asctime();
 * RFC 3339 / W3C-DTF / ISO 8601 with or without seconds, fraction and zone, compact forms
 * (20040105T083000Z) and a blank instead of 'T'. A missing zone means UTC. Returns 0 and
 * µs since the epoch, or -EINVAL for anything it cannot read with confidence (and for times
 * before 1970 or after 9999).
 */
int rss_parse_date(const char *s, int64_t *ret_usec);

/* ---- rss-charset.c ------------------------------------------------------------------------- */

/*
 * Turn a response body into UTF-8 that an XML parser can take whole: the charset comes from
 * a byte order mark, else the HTTP Content-Type charset, else UTF-16/32 patterns of "<?", else
 * the XML declaration; undeclared bytes that are not UTF-8 are read as Windows-1252, KOI8-R or
 * Windows-1251 (see the heuristic in rss-charset.c). The result is valid UTF-8 with no NUL and
 * no character XML 1.0 forbids, and no byte order mark. `content_type` may be NULL.
 * *ret (malloc()ed, NUL-terminated) and *ret_len; ret_label gets what the body was read as
 * ("UTF-8", "WINDOWS-1252 (guessed)", ...). Returns 0, or -ENOMEM.
 */
int rss_body_to_utf8(const char *body, size_t len, const char *content_type, char **ret,
                     size_t *ret_len, char *ret_label, size_t label_len);

/* The charset= parameter of a Content-Type value, copied into buf; false when there is none. */
bool rss_content_type_charset(const char *content_type, char *buf, size_t len);

/* ---- rss-text.c ---------------------------------------------------------------------------- */

/*
 * Final clean-up of text taken from a feed (valid UTF-8 in, malloc()ed valid UTF-8 out, NULL on
 * OOM): UTF-8 that was decoded as Latin-1/Windows-1252 and encoded again ("Ã©", "â€™") is
 * repaired, C1 control characters are read as the Windows-1252 characters feeds meant by them
 * (&#146; is a right single quote), other control characters except line breaks become blanks.
 */
char *rss_text_fix(const char *s);

/*
 * Plain text as written (Atom type="text", media:description): blanks collapsed to one space,
 * runs of blank lines to one line break, leading and trailing white space trimmed. malloc()ed,
 * NULL on OOM.
 */
char *rss_text_collapse(const char *s);

/* Decode base64 (blanks ignored, stops at '=' or the first other byte); malloc()ed, NUL-ended. */
char *rss_base64_decode(const char *s, size_t *ret_len);

/* 64-bit FNV-1a of the bytes, continuing from `h` (start with RSS_FNV_INIT). */
#define RSS_FNV_INIT UINT64_C(0xcbf29ce484222325)
uint64_t rss_fnv1a(uint64_t h, const char *s, size_t n);

/* Whether s starts with an RFC 3986 scheme followed by ':' ("http:", "tag:", "urn:", "yt:"). */
bool rss_has_scheme(const char *s);

/* Whether s is an http:// or https:// URL with a host (case-insensitive scheme). */
bool rss_is_http_url(const char *s);

/*
 * Google's redirect links (https://www.google.com/url?...&url=TARGET&...), which Google Alerts
 * feeds use for every entry: the decoded TARGET when it is an http(s) URL, else NULL. malloc()ed.
 */
char *rss_unwrap_google_redirect(const char *url);
