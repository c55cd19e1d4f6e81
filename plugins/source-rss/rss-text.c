/* SPDX-License-Identifier: MIT */
/*
 * rss-text.c - small string functions of the RSS/Atom source (see rss-internal.h): text
 * clean-up after extraction (double-encoded UTF-8, Windows-1252 C1 characters, control
 * characters), white space collapsing, base64, FNV-1a, URL checks and Google redirect links.
 * Every function takes valid or invalid bytes without reading past the NUL, allocates at most
 * a small multiple of its input, and keeps no state.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "plugin-util.h"
#include "rss-internal.h"

/* Decode one UTF-8 sequence at s; returns its length (1 for an invalid byte, read as U+FFFD). */
static size_t utf8_decode(const uint8_t *s, uint32_t *ret) {
        uint8_t c = s[0];

        if (c < 0x80) {
                *ret = c;
                return 1;
        }
        if (c >= 0xC2 && c <= 0xDF && (s[1] & 0xC0) == 0x80) {
                *ret = ((uint32_t)(c & 0x1F) << 6) | (s[1] & 0x3F);
                return 2;
        }
        if (c >= 0xE0 && c <= 0xEF && (s[1] & 0xC0) == 0x80 && (s[2] & 0xC0) == 0x80) {
                uint32_t cp = ((uint32_t)(c & 0x0F) << 12) | ((uint32_t)(s[1] & 0x3F) << 6) |
                              (s[2] & 0x3F);
                if (cp >= 0x800 && (cp < 0xD800 || cp > 0xDFFF)) {
                        *ret = cp;
                        return 3;
                }
        }
        if (c >= 0xF0 && c <= 0xF4 && (s[1] & 0xC0) == 0x80 && (s[2] & 0xC0) == 0x80 &&
            (s[3] & 0xC0) == 0x80) {
                uint32_t cp = ((uint32_t)(c & 0x07) << 18) | ((uint32_t)(s[1] & 0x3F) << 12) |
                              ((uint32_t)(s[2] & 0x3F) << 6) | (s[3] & 0x3F);
                if (cp >= 0x10000 && cp <= 0x10FFFF) {
                        *ret = cp;
                        return 4;
                }
        }
        *ret = 0xFFFD;
        return 1;
}

/* Windows-1252's characters for 0x80..0x9F (0: undefined there). */
static const uint16_t cp1252_c1[32] = {
        0x20AC, 0,      0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
        0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0,      0x017D, 0,
        0,      0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
        0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0,      0x017E, 0x0178,
};

/* The byte a character stood for when UTF-8 was misread as Windows-1252; -1 if none. */
static int misread_byte(uint32_t cp) {
        if (cp >= 0x80 && cp <= 0xFF)
                return (int)cp;
        for (int i = 0; i < 32; i++)
                if (cp1252_c1[i] && cp1252_c1[i] == cp)
                        return 0x80 + i;
        return -1;
}

/*
 * At s, a run of characters that were the bytes of one UTF-8 sequence misread as Latin-1 or
 * Windows-1252 ("Ã©" for "é", "â€™" for "’")? Returns the input length of the run and the
 * character it meant, or 0.
 */
static size_t mojibake_at(const uint8_t *s, uint32_t *ret) {
        uint8_t bytes[4];
        size_t in = 0, need;
        uint32_t cp;

        in += utf8_decode(s, &cp);
        if (cp < 0xC2 || cp > 0xF4)
                return 0;
        need = cp <= 0xDF ? 2 : cp <= 0xEF ? 3 : 4;
        bytes[0] = (uint8_t)cp;
        for (size_t k = 1; k < need; k++) {
                if (!s[in])
                        return 0;
                size_t l = utf8_decode(s + in, &cp);
                int b = misread_byte(cp);
                if (b < 0x80 || b > 0xBF)
                        return 0;
                bytes[k] = (uint8_t)b;
                in += l;
        }
        /* the bytes must make a valid, shortest-form sequence */
        uint8_t padded[5] = {0};
        memcpy(padded, bytes, need);
        size_t l = utf8_decode(padded, &cp);
        if (l != need || cp == 0xFFFD)
                return 0;
        *ret = cp;
        return in;
}

char *rss_text_fix(const char *s) {
        size_t n = strlen(s);
        /* a C1 character (2 bytes) becomes at most 3, a stray invalid byte U+FFFD (3) */
        char *out = malloc(n * 3 + 4), *o = out;
        const uint8_t *p = (const uint8_t *)s;

        if (!out)
                return NULL;
        while (*p) {
                uint32_t cp;
                size_t l = mojibake_at(p, &cp);
                if (l == 0)
                        l = utf8_decode(p, &cp);
                p += l;
                if (cp >= 0x80 && cp <= 0x9F) {
                        cp = cp1252_c1[cp - 0x80];
                        if (cp == 0)
                                cp = 0xFFFD;
                } else if (cp == '\r') {
                        if (*p == '\n')
                                continue;
                        cp = '\n';
                } else if ((cp < 0x20 && cp != '\n' && cp != '\t') || cp == 0x7F)
                        cp = ' ';
                o += utf8_encode(cp, o);
        }
        *o = 0;
        return out;
}

char *rss_text_collapse(const char *s) {
        char *out = malloc(strlen(s) + 1), *o = out;
        bool space = false, newline = false;

        if (!out)
                return NULL;
        for (const char *p = s; *p; p++) {
                if (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\f' || *p == '\v') {
                        space = true;
                        continue;
                }
                if (*p == '\n') {
                        newline = true;
                        continue;
                }
                if (o > out) {
                        if (newline)
                                *o++ = '\n';
                        else if (space)
                                *o++ = ' ';
                }
                space = newline = false;
                *o++ = *p;
        }
        *o = 0;
        return out;
}

char *rss_base64_decode(const char *s, size_t *ret_len) {
        char *out = malloc(strlen(s) / 4 * 3 + 4), *o = out;
        uint32_t acc = 0;
        int bits = 0;

        if (!out)
                return NULL;
        for (const char *p = s; *p && *p != '='; p++) {
                int v;
                char c = *p;
                if (c >= 'A' && c <= 'Z')
                        v = c - 'A';
                else if (c >= 'a' && c <= 'z')
                        v = c - 'a' + 26;
                else if (c >= '0' && c <= '9')
                        v = c - '0' + 52;
                else if (c == '+' || c == '-')
                        v = 62;
                else if (c == '/' || c == '_')
                        v = 63;
                else if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
                        continue;
                else
                        break;
                acc = (acc << 6) | (uint32_t)v;
                bits += 6;
                if (bits >= 8) {
                        bits -= 8;
                        *o++ = (char)((acc >> bits) & 0xFF);
                }
        }
        *o = 0;
        if (ret_len)
                *ret_len = (size_t)(o - out);
        return out;
}

uint64_t rss_fnv1a(uint64_t h, const char *s, size_t n) {
        for (size_t i = 0; i < n; i++) {
                h ^= (uint8_t)s[i];
                h *= UINT64_C(0x100000001b3);
        }
        return h;
}

bool rss_has_scheme(const char *s) {
        size_t i = 0;

        if (!s || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
                return false;
        for (i = 1; s[i] && s[i] != ':'; i++)
                if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
                      (s[i] >= '0' && s[i] <= '9') || s[i] == '+' || s[i] == '-' || s[i] == '.'))
                        return false;
        /* one letter before ':' is a drive letter ("C:\"), not a scheme */
        return s[i] == ':' && i >= 2 && s[i + 1] != 0;
}

bool rss_is_http_url(const char *s) {
        const char *h;

        if (!s || !(h = url_skip_http(s)))
                return false;
        if (*h == 0 || *h == '/' || *h == '?' || *h == '#')
                return false;
        for (const char *c = s; *c; c++)
                if ((unsigned char)*c <= ' ' || *c == 0x7f)
                        return false;
        return true;
}

static int hexval(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

char *rss_unwrap_google_redirect(const char *url) {
        const char *p, *q;

        if (!(p = url_skip_http(url)))
                return NULL;
        if (strncasecmp(p, "www.", 4) == 0)
                p += 4;
        if (strncasecmp(p, "google.", 7) != 0)
                return NULL;
        p += 7;
        /* a country domain: "com", "de", "co.uk" */
        while ((*p >= 'a' && *p <= 'z') || *p == '.')
                p++;
        if (strncmp(p, "/url?", 5) != 0)
                return NULL;
        q = p + 5;
        for (;;) {
                if (strncmp(q, "url=", 4) == 0 || strncmp(q, "q=", 2) == 0) {
                        q += *q == 'u' ? 4 : 2;
                        size_t n = strcspn(q, "&#");
                        char *out = malloc(n + 1), *o = out;
                        if (!out)
                                return NULL;
                        for (size_t i = 0; i < n; i++) {
                                int hi, lo;
                                if (q[i] == '%' && i + 2 < n &&
                                    (hi = hexval(q[i + 1])) >= 0 && (lo = hexval(q[i + 2])) >= 0) {
                                        *o++ = (char)(hi * 16 + lo);
                                        i += 2;
                                } else
                                        *o++ = q[i] == '+' ? ' ' : q[i];
                        }
                        *o = 0;
                        if (strlen(out) != (size_t)(o - out) || !rss_is_http_url(out)) {
                                free(out);
                                return NULL;
                        }
                        return out;
                }
                q = strchr(q, '&');
                if (!q)
                        return NULL;
                q++;
        }
}
