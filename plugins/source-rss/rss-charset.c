/* SPDX-License-Identifier: MIT */
/*
 * rss-charset.c - any feed body to UTF-8 before the XML parser sees it (see rss-internal.h).
 *
 * Which charset: a byte order mark wins (RFC 7303 section 3.3 makes it authoritative); then
 * the charset parameter of the HTTP Content-Type (RFC 7303 section 3.2: it overrides the XML
 * declaration); then "<?" written in UTF-16 or UTF-32 without a BOM (XML 1.0 appendix F); then
 * the XML declaration's encoding="..."; else nothing is declared. Labels are read the way
 * browsers read them (WHATWG Encoding Standard): "ISO-8859-1", "latin1" and "US-ASCII" mean
 * Windows-1252, "GB2312" means GB18030, "EUC-KR" means CP949, "Shift_JIS" means CP932.
 * A declaration (or an HTTP charset) of UTF-16 or UTF-32 for a body that starts as ASCII
 * markup, "<?" or "<r", is a lie and is dropped.
 *
 * Feeds lie, and the rules for a lie are: (1) a body declared as some single-byte charset that
 * is nevertheless valid UTF-8 with at least one multi-byte sequence is UTF-8 (Latin-1 text is
 * practically never valid UTF-8 by accident); (2) a body declared UTF-8, or undeclared, that
 * is not valid UTF-8: if it has more invalid bytes than valid multi-byte sequences, it is a
 * single-byte body (pairs of single-byte letters can form UTF-8 by chance) and the heuristic
 * below picks the charset; if valid UTF-8 dominates, the stray bytes are read as Windows-1252
 * one by one (a UTF-8 page template around a few Latin-1 database strings);
 * (3) an unknown label is ignored, as if nothing were declared.
 *
 * The single-byte heuristic: Cyrillic words are runs of high bytes, Western European text has
 * single accented letters between ASCII ones. If at least half of the bytes >= 0x80 stand in
 * runs of three or more, the body is Cyrillic, and it is KOI8-R if the ten most frequent
 * Russian letters (о е а и н т с р в л) are more frequent at their KOI8-R code points than at
 * their Windows-1251 ones, else Windows-1251. Anything else is Windows-1252. Other scripts
 * (Greek, Hebrew, CJK) without a declaration come out as valid but wrong letters.
 *
 * Conversion is glibc iconv; bytes a charset does not define become U+FFFD. Output is always
 * valid UTF-8 without NUL, without the control characters XML 1.0 forbids (they become blanks)
 * and without U+FFFE/U+FFFF (they become U+FFFD), so the XML parser never has a reason to stop
 * or to second-guess the encoding.
 */
#include <errno.h>
#include <iconv.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "plugin-util.h"
#include "rss-internal.h"

#define LABEL_MAX 40

typedef struct Out {
        char *s;
        size_t len, cap;
} Out;

static int out_reserve(Out *o, size_t n) {
        if (o->len + n + 1 <= o->cap)
                return 0;
        size_t cap = o->cap ? o->cap : 256;
        while (cap < o->len + n + 1) {
                if (cap > SIZE_MAX / 2)
                        return -ENOMEM;
                cap *= 2;
        }
        char *s = realloc(o->s, cap);
        if (!s)
                return -ENOMEM;
        o->s = s;
        o->cap = cap;
        return 0;
}

static int out_put(Out *o, const char *s, size_t n) {
        if (out_reserve(o, n) < 0)
                return -ENOMEM;
        memcpy(o->s + o->len, s, n);
        o->len += n;
        o->s[o->len] = 0;
        return 0;
}

static const char replacement[] = "\xEF\xBF\xBD";

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if the bytes there are not one. */
static size_t utf8_valid_at(const uint8_t *s, size_t n) {
        uint8_t c = s[0], lo = 0x80, hi = 0xBF;
        size_t need;

        if (c < 0x80)
                return 1;
        if (c >= 0xC2 && c <= 0xDF)
                need = 1;
        else if (c >= 0xE0 && c <= 0xEF) {
                need = 2;
                if (c == 0xE0)
                        lo = 0xA0;
                else if (c == 0xED)
                        hi = 0x9F;
        } else if (c >= 0xF0 && c <= 0xF4) {
                need = 3;
                if (c == 0xF0)
                        lo = 0x90;
                else if (c == 0xF4)
                        hi = 0x8F;
        } else
                return 0;
        if (n < need + 1)
                return 0;
        if (s[1] < lo || s[1] > hi)
                return 0;
        for (size_t i = 2; i <= need; i++)
                if (s[i] < 0x80 || s[i] > 0xBF)
                        return 0;
        return need + 1;
}

typedef struct Utf8Scan {
        bool valid;       /* the whole body is valid UTF-8 */
        size_t n_multi;   /* valid multi-byte sequences */
        size_t n_invalid; /* bytes that are not part of a valid sequence */
} Utf8Scan;

static Utf8Scan utf8_scan(const uint8_t *s, size_t n) {
        Utf8Scan r = {.valid = true};

        for (size_t i = 0; i < n;) {
                size_t k = utf8_valid_at(s + i, n - i);
                if (k == 0) {
                        r.valid = false;
                        r.n_invalid++;
                        i++;
                        continue;
                }
                if (k > 1)
                        r.n_multi++;
                i += k;
        }
        return r;
}

/* The Windows-1252 meaning of a byte, as a code point (0 for the five it leaves undefined). */
static uint32_t cp1252(uint8_t b) {
        static const uint16_t c1[32] = {
                0x20AC, 0,      0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
                0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0,      0x017D, 0,
                0,      0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
                0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0,      0x017E, 0x0178,
        };
        if (b >= 0x80 && b < 0xA0)
                return c1[b - 0x80];
        return b;
}

/* UTF-8 with stray bytes: valid sequences kept, each other byte read as Windows-1252. */
static int convert_mixed(const uint8_t *s, size_t n, Out *o) {
        for (size_t i = 0; i < n;) {
                size_t k = utf8_valid_at(s + i, n - i);
                if (k > 0) {
                        if (out_put(o, (const char *)s + i, k) < 0)
                                return -ENOMEM;
                        i += k;
                        continue;
                }
                char buf[4];
                uint32_t cp = cp1252(s[i++]);
                if (cp == 0) {
                        if (out_put(o, replacement, 3) < 0)
                                return -ENOMEM;
                } else if (out_put(o, buf, utf8_encode(cp, buf)) < 0)
                        return -ENOMEM;
        }
        return 0;
}

/* Convert with iconv; undefined or truncated input becomes U+FFFD. -EINVAL: unknown charset. */
static int convert_iconv(const char *charset, const char *in, size_t n, Out *o) {
        iconv_t cd = iconv_open("UTF-8", charset);
        int r = 0;

        if (cd == (iconv_t)-1)
                return errno == ENOMEM ? -ENOMEM : -EINVAL;
        char *ip = (char *)in;
        size_t il = n;
        while (il > 0) {
                if (out_reserve(o, il * 2 + 16) < 0) {
                        r = -ENOMEM;
                        break;
                }
                char *op = o->s + o->len;
                size_t ol = o->cap - o->len - 1, before = ol;
                size_t k = iconv(cd, &ip, &il, &op, &ol);
                o->len += before - ol;
                o->s[o->len] = 0;
                if (k != (size_t)-1)
                        break;
                if (errno == E2BIG)
                        continue;
                /* EILSEQ: a byte the charset does not define; EINVAL: cut off at the end */
                if (out_put(o, replacement, 3) < 0) {
                        r = -ENOMEM;
                        break;
                }
                if (errno == EINVAL) {
                        il = 0;
                        break;
                }
                ip++;
                il--;
                (void)iconv(cd, NULL, NULL, NULL, NULL); /* reset shift state */
        }
        /* flush a stateful encoding's final shift sequence */
        if (r == 0 && out_reserve(o, 16) == 0) {
                char *op = o->s + o->len;
                size_t ol = o->cap - o->len - 1, before = ol;
                (void)iconv(cd, NULL, NULL, &op, &ol);
                o->len += before - ol;
                o->s[o->len] = 0;
        }
        iconv_close(cd);
        if (r == 0 && !o->s)
                r = out_put(o, "", 0);
        return r;
}

/* The single-byte heuristic described at the top of this file. */
static const char *guess_single_byte(const uint8_t *s, size_t n) {
        /* о е а и н т с р в л in KOI8-R and in Windows-1251 */
        static const uint8_t koi8[] = {0xCF, 0xC5, 0xC1, 0xC9, 0xCE, 0xD4, 0xD3, 0xD2, 0xD7, 0xCC};
        static const uint8_t win1251[] = {0xEE, 0xE5, 0xE0, 0xE8, 0xED, 0xF2, 0xF1, 0xF0, 0xE2, 0xEB};
        size_t high = 0, in_runs = 0, score_koi = 0, score_win = 0;

        for (size_t i = 0; i < n;) {
                if (s[i] < 0x80) {
                        i++;
                        continue;
                }
                size_t run = 0;
                while (i + run < n && s[i + run] >= 0x80) {
                        uint8_t b = s[i + run];
                        for (size_t k = 0; k < sizeof(koi8); k++) {
                                score_koi += b == koi8[k];
                                score_win += b == win1251[k];
                        }
                        run++;
                }
                high += run;
                if (run >= 3)
                        in_runs += run;
                i += run;
        }
        if (high == 0 || in_runs * 2 < high)
                return "WINDOWS-1252";
        return score_koi > score_win ? "KOI8-R" : "WINDOWS-1251";
}

/* Copy a charset label, trimmed and checked (letters, digits, "-_.:()"), into buf. */
static bool label_copy(const char *s, size_t n, char *buf, size_t len) {
        while (n > 0 && (*s == ' ' || *s == '\t' || *s == '"' || *s == '\'')) {
                s++;
                n--;
        }
        while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '"' ||
                         s[n - 1] == '\''))
                n--;
        if (n == 0 || n >= len || n > LABEL_MAX)
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = s[i];
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '_' || c == '.' || c == ':' || c == '(' || c == ')'))
                        return false;
                buf[i] = c;
        }
        buf[n] = 0;
        return true;
}

bool rss_content_type_charset(const char *ct, char *buf, size_t len) {
        const char *p;

        if (!ct)
                return false;
        /* parameters follow ';': "text/xml; charset=utf-8"; "charset:x" is not a parameter */
        for (p = strchr(ct, ';'); p; p = strchr(p + 1, ';')) {
                const char *q = p + 1;
                while (*q == ' ' || *q == '\t')
                        q++;
                if (strncasecmp(q, "charset", 7) != 0)
                        continue;
                q += 7;
                while (*q == ' ' || *q == '\t')
                        q++;
                if (*q != '=')
                        continue;
                q++;
                size_t n = strcspn(q, ";");
                return label_copy(q, n, buf, len);
        }
        return false;
}

typedef struct Alias {
        const char *label, *charset;
} Alias;

/* WHATWG Encoding Standard readings of labels that iconv would take more literally. */
static const Alias aliases[] = {
        {"utf-8", "UTF-8"},           {"utf8", "UTF-8"},
        {"unicode-1-1-utf-8", "UTF-8"}, {"x-unicode20utf8", "UTF-8"},
        {"iso-8859-1", "WINDOWS-1252"}, {"iso8859-1", "WINDOWS-1252"},
        {"iso_8859-1", "WINDOWS-1252"}, {"latin1", "WINDOWS-1252"},
        {"l1", "WINDOWS-1252"},       {"us-ascii", "WINDOWS-1252"},
        {"ascii", "WINDOWS-1252"},    {"ansi_x3.4-1968", "WINDOWS-1252"},
        {"cp819", "WINDOWS-1252"},    {"ibm819", "WINDOWS-1252"},
        {"iso-ir-100", "WINDOWS-1252"}, {"windows-1252", "WINDOWS-1252"},
        {"cp1252", "WINDOWS-1252"},   {"x-cp1252", "WINDOWS-1252"},
        {"iso-8859-9", "WINDOWS-1254"}, {"latin5", "WINDOWS-1254"},
        {"iso-8859-11", "CP874"},     {"tis-620", "CP874"},
        {"windows-874", "CP874"},     {"gb2312", "GB18030"},
        {"gbk", "GB18030"},           {"x-gbk", "GB18030"},
        {"chinese", "GB18030"},       {"csgb2312", "GB18030"},
        {"euc-kr", "CP949"},          {"ks_c_5601-1987", "CP949"},
        {"korean", "CP949"},          {"shift_jis", "CP932"},
        {"shift-jis", "CP932"},       {"sjis", "CP932"},
        {"x-sjis", "CP932"},          {"ms_kanji", "CP932"},
        {"windows-31j", "CP932"},     {"big5", "BIG5-HKSCS"},
        {"x-x-big5", "BIG5-HKSCS"},   {"utf-16", "UTF-16"},
        {"utf-16le", "UTF-16LE"},     {"utf-16be", "UTF-16BE"},
        {"utf-32", "UTF-32"},         {"utf-32le", "UTF-32LE"},
        {"utf-32be", "UTF-32BE"},     {"ucs-2", "UTF-16"},
        {"iso-10646-ucs-2", "UTF-16"}, {"unicode", "UTF-16"},
};

static const char *label_to_charset(const char *label, char *buf, size_t len) {
        for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++)
                if (strcasecmp(label, aliases[i].label) == 0)
                        return aliases[i].charset;
        /* anything else goes to iconv as written, upper-cased */
        size_t n = strlen(label);
        if (n >= len)
                return NULL;
        for (size_t i = 0; i <= n; i++)
                buf[i] = (char)(label[i] >= 'a' && label[i] <= 'z' ? label[i] - 'a' + 'A' : label[i]);
        return buf;
}

static bool is_utf8_name(const char *cs) {
        return cs && strcmp(cs, "UTF-8") == 0;
}

static bool is_wide_name(const char *cs) {
        return cs && (strncmp(cs, "UTF-16", 6) == 0 || strncmp(cs, "UTF-32", 6) == 0 ||
                      strncmp(cs, "UCS-", 4) == 0);
}

/* Single-byte charsets, for which a valid UTF-8 body is a lie: rule (1) above. */
static bool is_single_byte_name(const char *cs) {
        return cs && (strncmp(cs, "WINDOWS-12", 10) == 0 || strncmp(cs, "ISO-8859-", 9) == 0 ||
                      strncmp(cs, "ISO8859-", 8) == 0 || strncmp(cs, "KOI8", 4) == 0 ||
                      strcmp(cs, "CP874") == 0 || strncmp(cs, "CP12", 4) == 0 ||
                      strncmp(cs, "MACINTOSH", 9) == 0);
}

/* The encoding="..." of an XML declaration at the very start of an ASCII-compatible body. */
static bool xml_decl_encoding(const char *s, size_t n, char *buf, size_t len) {
        size_t lim = n < 1024 ? n : 1024;
        const char *end;

        if (lim < 6 || memcmp(s, "<?xml", 5) != 0)
                return false;
        end = memmem(s, lim, "?>", 2);
        if (!end)
                return false;
        for (const char *p = s + 5; p + 8 <= end; p++) {
                if (memcmp(p, "encoding", 8) != 0)
                        continue;
                const char *q = p + 8;
                while (q < end && (*q == ' ' || *q == '\t' || *q == '\r' || *q == '\n'))
                        q++;
                if (q >= end || *q != '=')
                        return false;
                q++;
                while (q < end && (*q == ' ' || *q == '\t' || *q == '\r' || *q == '\n'))
                        q++;
                if (q >= end || (*q != '"' && *q != '\''))
                        return false;
                char quote = *q++;
                const char *close = memchr(q, quote, (size_t)(end - q));
                return close && label_copy(q, (size_t)(close - q), buf, len);
        }
        return false;
}

/* A byte order mark: its charset and length, or NULL. */
static const char *bom_charset(const uint8_t *s, size_t n, size_t *ret_skip) {
        if (n >= 3 && s[0] == 0xEF && s[1] == 0xBB && s[2] == 0xBF) {
                *ret_skip = 3;
                return "UTF-8";
        }
        if (n >= 4 && s[0] == 0xFF && s[1] == 0xFE && s[2] == 0 && s[3] == 0) {
                *ret_skip = 4;
                return "UTF-32LE";
        }
        if (n >= 4 && s[0] == 0 && s[1] == 0 && s[2] == 0xFE && s[3] == 0xFF) {
                *ret_skip = 4;
                return "UTF-32BE";
        }
        if (n >= 2 && s[0] == 0xFF && s[1] == 0xFE) {
                *ret_skip = 2;
                return "UTF-16LE";
        }
        if (n >= 2 && s[0] == 0xFE && s[1] == 0xFF) {
                *ret_skip = 2;
                return "UTF-16BE";
        }
        return NULL;
}

/* '<' followed by '?' or '!' (or any ASCII) in UTF-16/32 without BOM (XML 1.0 appendix F). */
static const char *sniff_wide(const uint8_t *s, size_t n) {
        if (n < 4)
                return NULL;
        if (s[0] == '<' && s[1] == 0 && s[2] == 0 && s[3] == 0)
                return "UTF-32LE";
        if (s[0] == 0 && s[1] == 0 && s[2] == 0 && s[3] == '<')
                return "UTF-32BE";
        if (s[0] == '<' && s[1] == 0 && s[2] != 0 && s[3] == 0)
                return "UTF-16LE";
        if (s[0] == 0 && s[1] == '<' && s[2] == 0 && s[3] != 0)
                return "UTF-16BE";
        return NULL;
}

/*
 * What XML 1.0 allows, in valid UTF-8: NUL and other C0 controls except tab, LF and CR become
 * blanks, U+FFFE and U+FFFF become U+FFFD, invalid sequences become U+FFFD. In place is not
 * possible (an invalid byte grows to three), so this copies.
 */
static int xml_clean(const char *s, size_t n, Out *o) {
        const uint8_t *u = (const uint8_t *)s;

        if (out_reserve(o, n) < 0)
                return -ENOMEM;
        for (size_t i = 0; i < n;) {
                size_t k = utf8_valid_at(u + i, n - i);
                if (k == 0) {
                        if (out_put(o, replacement, 3) < 0)
                                return -ENOMEM;
                        i++;
                        continue;
                }
                if (k == 1 && u[i] < 0x20 && u[i] != '\t' && u[i] != '\n' && u[i] != '\r') {
                        if (out_put(o, " ", 1) < 0)
                                return -ENOMEM;
                } else if (k == 3 && u[i] == 0xEF && u[i + 1] == 0xBF &&
                           (u[i + 2] == 0xBE || u[i + 2] == 0xBF)) {
                        if (out_put(o, replacement, 3) < 0)
                                return -ENOMEM;
                } else if (out_put(o, s + i, k) < 0)
                        return -ENOMEM;
                i += k;
        }
        if (!o->s)
                return out_put(o, "", 0);
        return 0;
}

int rss_body_to_utf8(const char *body, size_t len, const char *content_type, char **ret,
                     size_t *ret_len, char *ret_label, size_t label_len) {
        const uint8_t *u = (const uint8_t *)body;
        char label[LABEL_MAX + 1], upper[LABEL_MAX + 1];
        const char *cs = NULL, *how = "";
        size_t skip = 0;
        Out conv = {0}, clean = {0};
        int r;

        if (!body)
                len = 0;

        cs = bom_charset(u, len, &skip);
        if (cs)
                how = " (byte order mark)";
        else if (rss_content_type_charset(content_type, label, sizeof(label))) {
                cs = label_to_charset(label, upper, sizeof(upper));
                how = " (HTTP charset)";
                /* "charset=utf-16" without a BOM: the byte pattern tells the order */
                if (cs && (strcmp(cs, "UTF-16") == 0 || strcmp(cs, "UTF-32") == 0)) {
                        const char *w = sniff_wide(u, len);
                        cs = w ? w : strcmp(cs, "UTF-16") == 0 ? "UTF-16LE" : "UTF-32LE";
                }
                /* a wide charset for a body that starts with plain ASCII markup is a lie */
                if (cs && is_wide_name(cs) && !sniff_wide(u, len) && len >= 2 && u[0] == '<' &&
                    u[1] != 0)
                        cs = NULL;
        }
        if (!cs && (cs = sniff_wide(u, len)))
                how = " (byte pattern)";
        if (!cs && xml_decl_encoding(body, len, label, sizeof(label))) {
                cs = label_to_charset(label, upper, sizeof(upper));
                how = " (XML declaration)";
                /* the declaration was just read as ASCII, so a wide charset is a lie */
                if (is_wide_name(cs))
                        cs = NULL;
        }

        body += skip;
        u += skip;
        len -= skip;

        Utf8Scan scan = {.valid = true};
        if (!cs || is_utf8_name(cs) || is_single_byte_name(cs))
                scan = utf8_scan(u, len);

        if (cs && is_single_byte_name(cs) && scan.valid && scan.n_multi > 0) {
                cs = "UTF-8";
                how = " (valid UTF-8 despite the declaration)";
        }

        if (cs && !is_utf8_name(cs)) {
                r = convert_iconv(cs, body, len, &conv);
                if (r == -EINVAL) {
                        /* a charset iconv does not know: as if none were declared */
                        free(conv.s);
                        conv = (Out){0};
                        (void)snprintf(ret_label, label_len, "unknown charset %s, ignored", cs);
                        cs = NULL;
                        scan = utf8_scan(u, len);
                } else if (r < 0)
                        goto fail;
                else {
                        (void)snprintf(ret_label, label_len, "%s%s", cs, how);
                        goto clean;
                }
        }

        if (scan.valid) {
                if (!cs)
                        (void)snprintf(ret_label, label_len, "UTF-8");
                else
                        (void)snprintf(ret_label, label_len, "UTF-8%s", how);
                r = out_put(&conv, body, len);
        } else if (scan.n_invalid > scan.n_multi) {
                /* mostly not UTF-8: the few "valid" pairs are chance (KOI8-R "шё" is D8 A3) */
                const char *guess = guess_single_byte(u, len);
                (void)snprintf(ret_label, label_len, "%s (guessed%s)", guess,
                               cs ? ", not UTF-8 as declared" : "");
                r = convert_iconv(guess, body, len, &conv);
        } else {
                (void)snprintf(ret_label, label_len,
                               "UTF-8 with stray bytes read as WINDOWS-1252");
                r = convert_mixed(u, len, &conv);
        }
        if (r < 0)
                goto fail;

clean:
        r = xml_clean(conv.s ? conv.s : "", conv.len, &clean);
        free(conv.s);
        if (r < 0) {
                free(clean.s);
                return r;
        }
        *ret = clean.s;
        *ret_len = clean.len;
        return 0;

fail:
        free(conv.s);
        return r;
}
