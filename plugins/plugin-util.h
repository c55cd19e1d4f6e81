/* SPDX-License-Identifier: MIT */
/*
 * plugin-util.h - small helpers the in-tree plugins share: cleanup attributes, string joining
 * and percent-encoding, create()'s error text, option lists and ranges, and the validation of
 * a configured base URL (https://, or http:// to loopback only), and the explanation of a failed
 * response that parse_error() hands the core.
 *
 * Header-only on purpose: a plugin may not link against the daemon's core (it reaches the
 * core only through struct earshot_host), so what plugins share is compiled into each of
 * them. Everything here is static inline, which keeps every .so's only exported symbol the
 * descriptor. Not installed and not part of the ABI: outside plugins build against
 * earshot-plugin.h alone. JSON helpers are in plugin-json.h, for the plugins that use cJSON.
 */
#pragma once

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "earshot-plugin.h"

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _cleanup_free_ _cleanup_(freep)

static inline void freep(void *p) {
        free(*(void **)p);
}

/* ---- strings ------------------------------------------------------------------------------- */

/*
 * Concatenate the strings up to the terminating NULL into a new malloc()ed string; NULL on
 * OOM. Call it through strjoin(), which adds the NULL.
 */
static inline char *strjoin_internal(const char *first, ...) __attribute__((sentinel));
static inline char *strjoin_internal(const char *first, ...) {
        size_t len = 0;
        char *out, *o;
        va_list ap;

        va_start(ap, first);
        for (const char *s = first; s; s = va_arg(ap, const char *))
                len += strlen(s);
        va_end(ap);
        out = o = malloc(len + 1);
        if (!out)
                return NULL;
        va_start(ap, first);
        for (const char *s = first; s; s = va_arg(ap, const char *))
                o = stpcpy(o, s);
        va_end(ap);
        return out;
}
#define strjoin(...) strjoin_internal(__VA_ARGS__, (const char *)NULL)

/* Whether c is a blank as JSON and HTTP know it: space, tab, CR or LF. */
static inline bool char_is_blank(char c) {
        return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Whether c is an ASCII letter or digit. */
static inline bool char_is_alnum(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* Whether c is an RFC 3986 unreserved character: ALPHA / DIGIT / "-" / "." / "_" / "~". */
static inline bool char_is_unreserved(char c) {
        return char_is_alnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

/* s with everything but RFC 3986 unreserved characters percent-encoded; NULL on OOM. */
static inline char *url_encode(const char *s) {
        static const char hex[] = "0123456789ABCDEF";
        char *out = malloc(3 * strlen(s) + 1), *o = out;

        if (!out)
                return NULL;
        for (const unsigned char *p = (const unsigned char *)s; *p; p++)
                if (char_is_unreserved((char)*p))
                        *o++ = (char)*p;
                else {
                        *o++ = '%';
                        *o++ = hex[*p >> 4];
                        *o++ = hex[*p & 15];
                }
        *o = 0;
        return out;
}

/* Whether the n bytes at s are ASCII digits, and there is at least one. */
static inline bool is_digits(const char *s, size_t n) {
        if (n == 0)
                return false;
        for (size_t i = 0; i < n; i++)
                if (s[i] < '0' || s[i] > '9')
                        return false;
        return true;
}

/*
 * A decimal number 0..max from *p, which is advanced past it. -EINVAL, with *p and *ret
 * untouched, when *p does not start with a digit or the number exceeds max.
 */
static inline int parse_num(const char **p, int64_t max, int64_t *ret) {
        const char *s = *p;
        int64_t n = 0;

        if (*s < '0' || *s > '9')
                return -EINVAL;
        while (*s >= '0' && *s <= '9') {
                n = n * 10 + (*s++ - '0');
                if (n > max)
                        return -EINVAL;
        }
        *p = s;
        *ret = n;
        return 0;
}

/*
 * The n bytes at s as a decimal number: all digits, at least one and at most max_digits (18 at
 * most, so nothing overflows). -EINVAL, with *ret untouched, for anything else.
 */
static inline int parse_digits(const char *s, size_t n, size_t max_digits, int64_t *ret) {
        int64_t v = 0;

        if (!is_digits(s, n) || n > max_digits || n > 18)
                return -EINVAL;
        for (size_t i = 0; i < n; i++)
                v = v * 10 + (s[i] - '0');
        *ret = v;
        return 0;
}

/* Code point cp (at most 0x10FFFF) as UTF-8 into out; returns the number of bytes, 1 to 4. */
static inline size_t utf8_encode(uint32_t cp, char out[static 4]) {
        if (cp < 0x80) {
                out[0] = (char)cp;
                return 1;
        }
        if (cp < 0x800) {
                out[0] = (char)(0xC0 | (cp >> 6));
                out[1] = (char)(0x80 | (cp & 0x3F));
                return 2;
        }
        if (cp < 0x10000) {
                out[0] = (char)(0xE0 | (cp >> 12));
                out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
                out[2] = (char)(0x80 | (cp & 0x3F));
                return 3;
        }
        out[0] = (char)(0xF0 | (cp >> 18));
        out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[3] = (char)(0x80 | (cp & 0x3F));
        return 4;
}

/* ASCII letters of s lowercased in place (other bytes untouched); returns s, which may be NULL. */
static inline char *ascii_lower(char *s) {
        for (char *c = s; c && *c; c++)
                if (*c >= 'A' && *c <= 'Z')
                        *c = (char)(*c - 'A' + 'a');
        return s;
}

/* A search query with blanks collapsed: "  Acme   Corp " -> "Acme Corp"; NULL on OOM. */
static inline char *query_normalize(const char *s) {
        char *out = malloc(strlen(s) + 1), *o = out;

        if (!out)
                return NULL;
        for (; *s; s++) {
                if (char_is_blank(*s)) {
                        if (o > out && o[-1] != ' ')
                                *o++ = ' ';
                        continue;
                }
                *o++ = *s;
        }
        if (o > out && o[-1] == ' ')
                o--;
        *o = 0;
        return out;
}

/*
 * A free-text query as written, leading and trailing blanks and tabs trimmed, into *ret
 * (malloc()ed). -EINVAL with the reason in *ret_error when it is empty, longer than max bytes
 * or holds control characters; -ENOMEM.
 */
static inline int query_trim(const char *s, size_t max, char **ret, const char **ret_error) {
        while (*s == ' ' || *s == '\t')
                s++;
        size_t n = strlen(s);
        while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
                n--;
        if (n == 0) {
                *ret_error = "is empty";
                return -EINVAL;
        }
        if (n > max) {
                *ret_error = "is too long";
                return -EINVAL;
        }
        for (size_t i = 0; i < n; i++)
                if ((unsigned char)s[i] < ' ' || s[i] == 0x7f) {
                        *ret_error = "contains control characters";
                        return -EINVAL;
                }
        *ret = strndup(s, n);
        return *ret ? 0 : -ENOMEM;
}

/* Free the n strings of v, then v itself; v may be NULL. */
static inline void strv_free_n(char **v, size_t n) {
        for (size_t i = 0; v && i < n; i++)
                free(v[i]);
        free(v);
}

/* Append s to the list of *n strings unless it is there already; takes ownership of s. */
static inline void list_add_unique(char **list, size_t *n, char *s) {
        for (size_t j = 0; j < *n; j++)
                if (strcmp(list[j], s) == 0) {
                        free(s);
                        return;
                }
        list[(*n)++] = s;
}

/* ---- create() ------------------------------------------------------------------------------ */

/*
 * Format create()'s error message into err (which may be NULL) and return -EINVAL, so that
 * `return set_error(err, err_len, "queries: ...");` both explains and fails.
 */
static inline int set_error(char *err, size_t err_len, const char *format, ...)
        __attribute__((format(printf, 3, 4)));
static inline int set_error(char *err, size_t err_len, const char *format, ...) {
        va_list ap;

        if (err && err_len > 0) {
                va_start(ap, format);
                (void)vsnprintf(err, err_len, format, ap);
                va_end(ap);
        }
        return -EINVAL;
}

/*
 * One search query of the list option `what` ("queries"), blanks collapsed: 0 and *ret
 * (malloc()ed); -EINVAL with the reason in err when it is empty (`empty` says why that makes
 * no sense, or NULL for "a query may not be empty"), longer than max bytes or holds control
 * characters; -ENOMEM.
 */
static inline int query_option(const char *what, const char *s, size_t max, const char *empty,
                               char **ret, char *err, size_t err_len) {
        char *q = query_normalize(s);

        if (!q)
                return -ENOMEM;
        int r = 0;
        if (!*q)
                r = set_error(err, err_len, "%s: %s", what,
                              empty ? empty : "a query may not be empty");
        else if (strlen(q) > max)
                r = set_error(err, err_len, "%s: '%.40s...' is longer than %zu bytes", what, q,
                              max);
        else
                for (const char *c = q; *c && r == 0; c++)
                        if ((unsigned char)*c < ' ' || *c == 0x7f)
                                r = set_error(err, err_len, "%s: '%s' contains control characters",
                                              what, q);
        if (r < 0) {
                free(q);
                return r;
        }
        *ret = q;
        return 0;
}

/* A STRLIST option that was given and has at least one element, or NULL. */
static inline const struct earshot_value *list_value(const struct earshot_values *vals,
                                                     const char *name) {
        const struct earshot_value *v = earshot_value_get(vals, name);
        return v && v->set && v->list && v->n_list > 0 ? v : NULL;
}

/*
 * An INT option (def when not set) into *ret; -EINVAL with "NAME: N is out of range MIN..MAX"
 * in err when it is outside min..max.
 */
static inline int option_int(const struct earshot_values *vals, const char *name, int64_t def,
                             int64_t min, int64_t max, int64_t *ret, char *err, size_t err_len) {
        int64_t v = earshot_value_num(vals, name, def);

        if (v < min || v > max)
                return set_error(err, err_len,
                                 "%s: %" PRId64 " is out of range %" PRId64 "..%" PRId64, name, v,
                                 min, max);
        *ret = v;
        return 0;
}

/* ---- base URLs ----------------------------------------------------------------------------- */

/* What follows "http://" or "https://" (in any case) at the start of url, or NULL. */
static inline const char *url_skip_http(const char *url) {
        if (strncasecmp(url, "https://", 8) == 0)
                return url + 8;
        if (strncasecmp(url, "http://", 7) == 0)
                return url + 7;
        return NULL;
}

/* Whether c may stand in a host name: ASCII letters, digits, '-', '.' and '_' (no IDNs). */
static inline bool char_is_host(char c) {
        return char_is_alnum(c) || c == '-' || c == '.' || c == '_';
}

/* Whether the n bytes at port are a port number 1..65535 ("443"), with at most 5 digits. */
static inline bool port_is_valid(const char *port, size_t n) {
        unsigned long v = 0;

        if (n > 5 || !is_digits(port, n))
                return false;
        for (size_t i = 0; i < n; i++)
                v = v * 10 + (unsigned long)(port[i] - '0');
        return v >= 1 && v <= 65535;
}

/*
 * Whether the n bytes at host name this machine: localhost, *.localhost, [::1] or a dotted
 * quad in 127.0.0.0/8 (case-insensitive). http:// is tolerated for these only: what a plugin
 * asks for, and any token it sends, never crosses a network in clear.
 */
static inline bool host_is_loopback(const char *host, size_t n) {
        static const char suffix[] = ".localhost";
        const size_t ls = sizeof(suffix) - 1;
        unsigned dots = 0;

        if ((n == 9 && strncasecmp(host, "localhost", 9) == 0) ||
            (n > ls && strncasecmp(host + n - ls, suffix, ls) == 0) ||
            (n == 5 && strncmp(host, "[::1]", 5) == 0))
                return true;
        /* 127.0.0.0/8 as a dotted quad */
        if (n < 9 || strncmp(host, "127.", 4) != 0)
                return false;
        for (size_t i = 0; i < n; i++) {
                if (host[i] == '.') {
                        if (i + 1 == n || host[i + 1] == '.')
                                return false;
                        dots++;
                } else if (host[i] < '0' || host[i] > '9')
                        return false;
        }
        return dots == 3;
}

/*
 * Validate the base URL of a service (an API, a forum, an instance) and normalise it: scheme
 * and host lowercased, trailing '/' dropped, a path prefix kept (a service may live below
 * one, e.g. https://example.com/forum). Refused with -EINVAL and the reason in *ret_error
 * (to follow the URL in a message: "base_url: 'URL' has no host"): other schemes, user
 * credentials, a query or fragment, blanks or control characters, bad hosts (IDNs must be in
 * punycode), bad ports, and http:// to anything but loopback.
 *
 * On success *ret_base is the normalised URL ("https://lemmy.world") and, unless
 * ret_authority is NULL, *ret_authority the lowercased host and port ("lemmy.world",
 * "127.0.0.1:8536"), both malloc()ed. -ENOMEM; nothing is returned on failure.
 */
static inline int base_url_parse(const char *url, char **ret_base, char **ret_authority,
                                 const char **ret_error) {
        const char *scheme, *p;
        size_t alen, hlen, plen;
        bool https;

        if (strncasecmp(url, "https://", 8) == 0) {
                https = true;
                scheme = "https://";
                p = url + 8;
        } else if (strncasecmp(url, "http://", 7) == 0) {
                https = false;
                scheme = "http://";
                p = url + 7;
        } else {
                *ret_error = "is not an http:// or https:// URL";
                return -EINVAL;
        }
        for (const char *c = p; *c; c++) {
                if ((unsigned char)*c <= ' ' || *c == 0x7f) {
                        *ret_error = "contains blanks or control characters";
                        return -EINVAL;
                }
                if (*c == '?' || *c == '#') {
                        *ret_error = "may not have a query or a fragment";
                        return -EINVAL;
                }
        }
        alen = strcspn(p, "/");
        plen = strlen(p + alen);
        while (plen > 0 && p[alen + plen - 1] == '/')
                plen--;
        if (alen == 0) {
                *ret_error = "has no host";
                return -EINVAL;
        }
        if (memchr(p, '@', alen)) {
                *ret_error = "may not contain user credentials";
                return -EINVAL;
        }
        if (p[0] == '[') {
                const char *close = memchr(p, ']', alen);
                if (!close || close == p + 1) {
                        *ret_error = "has a bad IPv6 address";
                        return -EINVAL;
                }
                hlen = (size_t)(close - p) + 1;
                for (size_t i = 1; i + 1 < hlen; i++)
                        if (!strchr("0123456789abcdefABCDEF:.", p[i])) {
                                *ret_error = "has a bad IPv6 address";
                                return -EINVAL;
                        }
        } else {
                const char *colon = memchr(p, ':', alen);
                hlen = colon ? (size_t)(colon - p) : alen;
                if (hlen == 0 || p[0] == '.' || p[0] == '-') {
                        *ret_error = "has no host";
                        return -EINVAL;
                }
                for (size_t i = 0; i < hlen; i++)
                        if (!char_is_host(p[i])) {
                                *ret_error = "has a bad host name (IDNs must be in punycode)";
                                return -EINVAL;
                        }
        }
        if (hlen < alen && (p[hlen] != ':' || !port_is_valid(p + hlen + 1, alen - hlen - 1))) {
                *ret_error = "has a bad port";
                return -EINVAL;
        }
        if (!https && !host_is_loopback(p, hlen)) {
                *ret_error = "must use https:// (http:// is allowed for loopback hosts only)";
                return -EINVAL;
        }

        _cleanup_free_ char *authority = ascii_lower(strndup(p, alen));
        _cleanup_free_ char *path = strndup(p + alen, plen);
        if (!authority || !path)
                return -ENOMEM;
        char *base = strjoin(scheme, authority, path);
        if (!base)
                return -ENOMEM;
        *ret_base = base;
        if (ret_authority) {
                *ret_authority = authority;
                authority = NULL;
        }
        return 0;
}

/*
 * base_url_parse() of a URL given in option `name`; -EINVAL comes with create()'s error
 * message in err ("forums: 'URL' has no host").
 */
static inline int option_base_url(const char *name, const char *url, char **ret_base,
                                  char **ret_authority, char *err, size_t err_len) {
        const char *error = NULL;
        int r;

        r = base_url_parse(url, ret_base, ret_authority, &error);
        if (r == -EINVAL)
                return set_error(err, err_len, "%s: '%s' %s", name, url, error);
        return r;
}

/* ---- build_request() and parse_response() -------------------------------------------------- */

/* Make req a GET of url, with an Accept header unless accept is NULL. */
static inline int request_get(const struct earshot_host *h, struct earshot_request *req,
                              const char *url, const char *accept) {
        int r;

        r = h->request_method(req, "GET");
        if (r < 0)
                return r;
        r = h->request_url(req, url);
        if (r < 0)
                return r;
        return accept ? h->request_header(req, "Accept", accept) : 0;
}

/*
 * The elements of one response that were skipped as unusable, counted so that a page gets one
 * warning naming the first of them, not one warning per element.
 */
typedef struct Skipped {
        size_t n;        /* how many */
        size_t first;    /* the index of the first in the response */
        const char *why; /* the first one's reason, a static string */
} Skipped;

/* One more element skipped: the one at index, for the reason why. */
static inline void skipped_add(Skipped *s, size_t index, const char *why) {
        if (s->n++ > 0)
                return;
        s->first = index;
        s->why = why;
}

/*
 * If any were skipped, one warning "FEED: skipped N of TOTAL WHAT (ONE I: WHY)", e.g. WHAT
 * "hits that are not valid items" and ONE "hit".
 */
static inline void skipped_log(const Skipped *s, const struct earshot_host *h, const char *feed,
                               size_t total, const char *what, const char *one) {
        if (s->n > 0)
                h->log(h, EARSHOT_LOG_WARNING, "%s: skipped %zu of %zu %s (%s %zu: %s)", feed, s->n,
                       total, what, one, s->first, s->why ? s->why : "malformed");
}

/* ---- parse_error() ------------------------------------------------------------------------- */

/*
 * What parse_error() returns for an answer it has nothing to say about (a 429 or a 5xx without
 * a body the plugin understands, an unexpected status): the core then applies its own reading,
 * the status and the start of the body in the log, Retry-After and the failure backoff.
 */
#define SOURCE_ERROR_GENERIC (-EOPNOTSUPP)

/*
 * s as one line of at most len - 1 bytes into buf: control characters become blanks, and each
 * occurrence of secret "***" (when it is at least 4 bytes long: a secret the server echoes,
 * e.g. a key it names in an error message, must not reach a log line). Returns buf. For server
 * strings that go into set_error() or a log line.
 */
static inline char *text_oneline(char *buf, size_t len, const char *s, const char *secret) {
        size_t n = 0, sl = secret ? strlen(secret) : 0;

        if (len == 0)
                return buf;
        for (; s && s[n] && n + 1 < len; n++)
                buf[n] = (unsigned char)s[n] < 0x20 || s[n] == 0x7f ? ' ' : s[n];
        buf[n] = 0;
        if (sl >= 4)
                for (char *p = strstr(buf, secret); p; p = strstr(p + 3, secret)) {
                        memcpy(p, "***", 3);
                        memmove(p + 3, p + sl, strlen(p + sl) + 1);
                }
        return buf;
}

/*
 * Explain a failed response to the operator in one line (what went wrong, what to change) and
 * return `outcome`, EARSHOT_RETRY or EARSHOT_BLOCKED. The line goes to set_error(): the core
 * logs it with the feed's name (an error for BLOCKED) and shows it in `earshotctl sources`, so
 * it need not name the feed. A host from before set_error() knows EARSHOT_BLOCKED no more than
 * set_error(): it gets the line as a log line naming the feed (an error for BLOCKED, a warning
 * for RETRY) and EARSHOT_RETRY. Control characters in the result become blanks. -ENOMEM.
 */
static inline int source_fail(const struct earshot_host *h, struct earshot_sink *sink,
                              const char *feed, int outcome, const char *format, ...)
        __attribute__((format(printf, 5, 6)));
static inline int source_fail(const struct earshot_host *h, struct earshot_sink *sink,
                              const char *feed, int outcome, const char *format, ...) {
        char msg[600], line[600];
        va_list ap;
        int r;

        va_start(ap, format);
        (void)vsnprintf(msg, sizeof(msg), format, ap);
        va_end(ap);
        (void)text_oneline(line, sizeof(line), msg, NULL);
        if (EARSHOT_HOST_HAS(h, set_error)) {
                r = h->set_error(sink, line);
                return r < 0 ? r : outcome;
        }
        h->log(h, outcome == EARSHOT_BLOCKED ? EARSHOT_LOG_ERR : EARSHOT_LOG_WARNING, "%s: %s",
               feed, line);
        return EARSHOT_RETRY;
}
