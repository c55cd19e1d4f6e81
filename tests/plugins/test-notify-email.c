/* SPDX-License-Identifier: MIT */
/*
 * test-notify-email.c - the e-mail notifier: options (URL, addresses, credentials, the
 * STARTTLS rule), the request (URL, envelope, login, flags), and the message, parsed back here
 * as a mail reader would: CRLF everywhere, every header once, folded at 78 columns, encoded-
 * words decoded (B and Q) and at most 75 characters, the multipart/alternative structure, the
 * quoted-printable parts decoded with lines of at most 76, the Message-ID stable across
 * retries, and hostile text (CR/LF, "Bcc:", markup, invalid UTF-8, huge posts) kept in its
 * place. Also the reading of SMTP answers.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include "earshot-plugin.h"
#include "mock-host.h"
#define BASIC                                                                                      \
        "url=smtp://mail.example.com:587", "from=earshot <alerts@example.com>",                    \
                "to=oncall@example.com"

/* ---- a small mail reader ------------------------------------------------------------------- */

#define MAX_HEADERS 32

typedef struct Header {
        char *name;
        char *value; /* unfolded, raw */
} Header;

typedef struct Part {
        Header headers[MAX_HEADERS];
        size_t n_headers;
        char *body; /* decoded */
} Part;

typedef struct Message {
        Header headers[MAX_HEADERS];
        size_t n_headers;
        Part parts[2];
        size_t n_parts;
} Message;

static void headers_free(Header *h, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(h[i].name);
                free(h[i].value);
        }
}

static void message_free(Message *m) {
        headers_free(m->headers, m->n_headers);
        for (size_t i = 0; i < m->n_parts; i++) {
                headers_free(m->parts[i].headers, m->parts[i].n_headers);
                free(m->parts[i].body);
        }
        *m = (Message){};
}

static const char *header_get(const Header *h, size_t n, const char *name) {
        const char *found = NULL;
        for (size_t i = 0; i < n; i++)
                if (strcasecmp(h[i].name, name) == 0) {
                        if (found)
                                fail_msg("header %s appears twice", name);
                        found = h[i].value;
                }
        return found;
}

/*
 * Parse the header section s[0..len) (CRLF lines, no empty line) into h: every line at most
 * 78 characters, continuation lines start with a blank, names are printable ASCII.
 */
static void parse_headers(const char *s, size_t len, Header *h, size_t *n) {
        const char *end = s + len;

        *n = 0;
        while (s < end) {
                const char *eol = strstr(s, "\r\n");
                assert_non_null(eol);
                if ((size_t)(eol - s) > 78)
                        fail_msg("header line of %zu characters: %.*s", (size_t)(eol - s),
                                 (int)(eol - s), s);
                if (*s == ' ' || *s == '\t') {
                        /* unfold: drop the CRLF, keep the blank */
                        assert_true(*n > 0);
                        Header *last = &h[*n - 1];
                        size_t ol = strlen(last->value), al = (size_t)(eol - s);
                        last->value = realloc(last->value, ol + al + 1);
                        assert_non_null(last->value);
                        memcpy(last->value + ol, s, al);
                        last->value[ol + al] = 0;
                } else {
                        const char *colon = memchr(s, ':', (size_t)(eol - s));
                        if (!colon)
                                fail_msg("not a header line: %.*s", (int)(eol - s), s);
                        for (const char *c = s; c < colon; c++)
                                assert_true(*c > ' ' && *c < 0x7f);
                        assert_true(*n < MAX_HEADERS);
                        h[*n].name = strndup(s, (size_t)(colon - s));
                        const char *v = colon + 1;
                        while (v < eol && *v == ' ')
                                v++;
                        h[*n].value = strndup(v, (size_t)(eol - v));
                        (*n)++;
                }
                s = eol + 2;
        }
}

static int hexval(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1; /* RFC 2045: uppercase only */
}

/* Decode quoted-printable; every encoded line must be at most 76 characters. */
static char *qp_decode(const char *s, size_t len) {
        char *out = malloc(len + 1), *o = out;
        const char *end = s + len, *line = s;

        assert_non_null(out);
        while (s < end) {
                if (s[0] == '\r' && s + 1 < end && s[1] == '\n') {
                        if (s - line > 76)
                                fail_msg("QP line of %zu characters", (size_t)(s - line));
                        *o++ = '\n';
                        s += 2;
                        line = s;
                } else if (s[0] == '=') {
                        if (s + 2 < end && s[1] == '\r' && s[2] == '\n') {
                                if (s + 1 - line > 76)
                                        fail_msg("QP line of %zu characters",
                                                 (size_t)(s + 1 - line));
                                s += 3; /* soft break */
                                line = s;
                                continue;
                        }
                        assert_true(s + 2 < end);
                        int hi = hexval(s[1]), lo = hexval(s[2]);
                        if (hi < 0 || lo < 0)
                                fail_msg("bad QP escape =%c%c", s[1], s[2]);
                        *o++ = (char)(hi << 4 | lo);
                        s += 3;
                } else {
                        unsigned char c = (unsigned char)*s;
                        /* RFC 2045 6.7: only printable ASCII and blanks may stand literally */
                        if (!(c == ' ' || (c > ' ' && c < 0x7f)))
                                fail_msg("literal byte 0x%02x in QP", c);
                        *o++ = *s++;
                }
        }
        if (s - line > 76)
                fail_msg("QP line of %zu characters", (size_t)(s - line));
        *o = 0;
        return out;
}

static int b64val(char c) {
        if (c >= 'A' && c <= 'Z')
                return c - 'A';
        if (c >= 'a' && c <= 'z')
                return c - 'a' + 26;
        if (c >= '0' && c <= '9')
                return c - '0' + 52;
        if (c == '+')
                return 62;
        if (c == '/')
                return 63;
        return -1;
}

static size_t b64_decode(const char *s, size_t n, char *out) {
        size_t o = 0;
        uint32_t acc = 0;
        int bits = 0;

        assert_int_equal(n % 4, 0);
        for (size_t i = 0; i < n && s[i] != '='; i++) {
                int v = b64val(s[i]);
                if (v < 0)
                        fail_msg("bad base64 character '%c'", s[i]);
                acc = acc << 6 | (uint32_t)v;
                bits += 6;
                if (bits >= 8) {
                        bits -= 8;
                        out[o++] = (char)(acc >> bits);
                }
        }
        return o;
}

/*
 * RFC 2047 decoding of an unstructured value: encoded-words (B or Q, charset utf-8), each at
 * most 75 characters; blanks between two adjacent encoded-words are dropped.
 */
static char *rfc2047_decode(const char *s) {
        char *out = malloc(strlen(s) + 1), *o = out;
        bool prev_encoded = false;

        assert_non_null(out);
        while (*s) {
                size_t blanks = strspn(s, " \t");
                const char *w = s + blanks;
                if (strncmp(w, "=?", 2) == 0) {
                        const char *q1 = strchr(w + 2, '?');
                        assert_non_null(q1);
                        const char *q2 = strchr(q1 + 1, '?');
                        assert_non_null(q2);
                        const char *e = strstr(q2 + 1, "?=");
                        assert_non_null(e);
                        size_t wl = (size_t)(e + 2 - w);
                        if (wl > 75)
                                fail_msg("encoded-word of %zu characters", wl);
                        assert_true(strncasecmp(w + 2, "utf-8?", 6) == 0);
                        if (!prev_encoded) {
                                memcpy(o, s, blanks);
                                o += blanks;
                        }
                        char enc = q1[1];
                        const char *t = q2 + 1;
                        size_t tl = (size_t)(e - t);
                        if (enc == 'B' || enc == 'b')
                                o += b64_decode(t, tl, o);
                        else if (enc == 'Q' || enc == 'q') {
                                for (size_t i = 0; i < tl; i++)
                                        if (t[i] == '_')
                                                *o++ = ' ';
                                        else if (t[i] == '=') {
                                                *o++ = (char)(hexval(t[i + 1]) << 4 |
                                                              hexval(t[i + 2]));
                                                i += 2;
                                        } else
                                                *o++ = t[i];
                        } else
                                fail_msg("unknown encoding %c", enc);
                        s = e + 2;
                        prev_encoded = true;
                } else {
                        size_t n = blanks + strcspn(w, " \t");
                        memcpy(o, s, n);
                        o += n;
                        s += n;
                        prev_encoded = false;
                }
        }
        *o = 0;
        return out;
}

/* A parameter of a Content-Type value ("boundary"), quotes removed; malloc()ed. */
static char *ct_param(const char *value, const char *name) {
        const char *p = strstr(value, name);
        assert_non_null(p);
        p += strlen(name);
        assert_true(*p == '=');
        p++;
        if (*p == '"') {
                const char *e = strchr(p + 1, '"');
                assert_non_null(e);
                return strndup(p + 1, (size_t)(e - p - 1));
        }
        return strndup(p, strcspn(p, "; "));
}

/* Parse a whole message as built by the plugin. */
static void message_parse(const char *msg, size_t len, Message *m) {
        *m = (Message){};
        assert_int_equal(strlen(msg), len);
        /* CRLF everywhere: no bare CR or LF, no NUL, lines at most 998 */
        const char *line = msg;
        for (size_t i = 0; i < len; i++) {
                if (msg[i] == '\n') {
                        assert_true(i > 0 && msg[i - 1] == '\r');
                        assert_true(msg + i - 1 - line <= 998);
                        line = msg + i + 1;
                }
                if (msg[i] == '\r')
                        assert_true(i + 1 < len && msg[i + 1] == '\n');
        }
        assert_true(len >= 2 && msg[len - 2] == '\r' && msg[len - 1] == '\n');

        const char *sep = strstr(msg, "\r\n\r\n");
        assert_non_null(sep);
        parse_headers(msg, (size_t)(sep - msg) + 2, m->headers, &m->n_headers);
        const char *body = sep + 4;

        const char *ct = header_get(m->headers, m->n_headers, "Content-Type");
        assert_non_null(ct);
        assert_true(strncmp(ct, "multipart/alternative;", 22) == 0);
        char *boundary = ct_param(ct, "boundary");
        char delim[128], close[128];
        snprintf(delim, sizeof(delim), "\r\n--%s\r\n", boundary);
        snprintf(close, sizeof(close), "\r\n--%s--\r\n", boundary);

        /* the preamble, then exactly two parts, then the close delimiter and nothing after */
        const char *p = strstr(body - 2, delim);
        assert_non_null(p);
        for (;;) {
                const char *start = p + strlen(delim);
                const char *next = strstr(start, delim);
                const char *last = strstr(start, close);
                assert_non_null(last);
                const char *end = next && next < last ? next : last;
                assert_true(m->n_parts < 2);
                Part *part = &m->parts[m->n_parts++];
                const char *psep = strstr(start, "\r\n\r\n");
                assert_true(psep && psep < end);
                parse_headers(start, (size_t)(psep - start) + 2, part->headers, &part->n_headers);
                const char *cte =
                        header_get(part->headers, part->n_headers, "Content-Transfer-Encoding");
                assert_non_null(cte);
                assert_string_equal(cte, "quoted-printable");
                part->body = qp_decode(psep + 4, (size_t)(end - psep - 4));
                if (end == last) {
                        assert_true(last + strlen(close) == msg + len);
                        break;
                }
                p = end;
        }
        assert_int_equal(m->n_parts, 2);
        /* the boundary occurs nowhere else */
        size_t count = 0;
        for (const char *q = strstr(msg, boundary); q; q = strstr(q + 1, boundary))
                count++;
        assert_int_equal(count, 4); /* Content-Type, two delimiters, the close */
        free(boundary);
}

/* ---- fixtures ------------------------------------------------------------------------------ */

/* the shared fixture (notify-test.h), with the message parsed back in T */
#define NOTIFY_TEST_RULE "refund"
#define NOTIFY_TEST_TEXT                                                                           \
        "My order never arrived, \"support\" won't answer \xf0\x9f\x98\xa1\nRefund!"
#define NOTIFY_TEST_DUE INT64_C(1785592500000000) /* 13:55:00Z: 5m before the mock's now */
#define NOTIFY_TEST_T_EXTRA Message msg;
#define NOTIFY_TEST_T_DONE(t) message_free(&(t)->msg)
#include "notify-test.h"

/* deliver() and parse the message it built */
static void deliver_mail(T *t, const struct earshot_alert *a) {
        request_reset(t);
        message_free(&t->msg);
        assert_int_equal(P->notifier->deliver(t->state, a, &t->req), EARSHOT_SEND);
        assert_non_null(t->req.body);
        if (getenv("EMAIL_TEST_DUMP"))
                fprintf(stderr, "%s\n", t->req.body);
        message_parse(t->req.body, t->req.body_len, &t->msg);
}

static const char *hdr(const T *t, const char *name) {
        const char *v = header_get(t->msg.headers, t->msg.n_headers, name);
        if (!v)
                fail_msg("no %s header", name);
        return v;
}

static char *hdr_decoded(const T *t, const char *name) {
        return rfc2047_decode(hdr(t, name));
}

static void expect_decoded(const T *t, const char *name, const char *want) {
        char *got = hdr_decoded(t, name);
        assert_string_equal(got, want);
        free(got);
}

static const Part *part(const T *t, const char *type) {
        for (size_t i = 0; i < t->msg.n_parts; i++) {
                const char *ct = header_get(t->msg.parts[i].headers, t->msg.parts[i].n_headers,
                                            "Content-Type");
                assert_non_null(ct);
                if (strncmp(ct, type, strlen(type)) == 0) {
                        assert_string_equal(ct + strlen(type), "; charset=utf-8");
                        return &t->msg.parts[i];
                }
        }
        fail_msg("no %s part", type);
        return NULL;
}

static void expect_subject_prefix(const T *t, const char *want) {
        char *got = hdr_decoded(t, "Subject");
        if (strncmp(got, want, strlen(want)) != 0)
                fail_msg("subject '%s' does not start with '%s'", got, want);
        free(got);
}

static void expect_in(const char *hay, const char *needle) {
        if (!hay) {
                fail_msg("no text to look for '%s' in", needle);
                return;
        }
        if (!strstr(hay, needle))
                fail_msg("'%s' not found in:\n%s", needle, hay);
}

static void expect_not_in(const char *hay, const char *needle) {
        if (!hay) {
                fail_msg("no text to look for '%s' in", needle);
                return;
        }
        if (strstr(hay, needle))
                fail_msg("'%s' found in:\n%s", needle, hay);
}

/* The names of the message's headers, in order, joined by ','. */
static void expect_header_names(const T *t, const char *want) {
        char got[512] = "";
        for (size_t i = 0; i < t->msg.n_headers; i++) {
                if (i)
                        strcat(got, ",");
                strcat(got, t->msg.headers[i].name);
        }
        assert_string_equal(got, want);
}

#define HEADER_NAMES                                                                               \
        "From,To,Subject,Date,Message-ID,MIME-Version,Content-Type,Auto-Submitted,"                \
        "X-Earshot-Alert-Id,X-Earshot-Event"

/* ---- tests --------------------------------------------------------------------------------- */

static void test_descriptor(void **state) {
        expect_notifier("email");
        assert_non_null(P->notifier->response);
        bool password_secret = false;
        for (const struct earshot_option *o = P->options; o->name; o++)
                if (strcmp(o->name, "password") == 0)
                        password_secret = o->flags & EARSHOT_OPT_SECRET;
        assert_true(password_secret);
}

static void test_create_rejects(void **state) {
        T *t = *state;

        create_fails(t, SETTINGS("from=a@example.com", "to=b@example.com"), "url:");
        create_fails(
                t,
                SETTINGS("url=https://mail.example.com", "from=a@example.com", "to=b@example.com"),
                "is not an smtp:// or smtps:// URL");
        create_fails(
                t,
                SETTINGS("url=smtp://mail.example.com/x", "from=a@example.com", "to=b@example.com"),
                "no user, path or query");
        create_fails(t,
                     SETTINGS("url=smtp://u:p@mail.example.com", "from=a@example.com",
                              "to=b@example.com"),
                     "no user, path or query");
        create_fails(t,
                     SETTINGS("url=smtp://mail.example.com:99999", "from=a@example.com",
                              "to=b@example.com"),
                     "bad port");
        create_fails(
                t,
                SETTINGS("url=smtp://mail.exa mple.com", "from=a@example.com", "to=b@example.com"),
                "url:");
        create_fails(t, SETTINGS("url=smtp://", "from=a@example.com", "to=b@example.com"),
                     "has no host");
        create_fails(t, SETTINGS("url=smtp://mail.example.com", "to=b@example.com"), "from:");
        create_fails(
                t,
                SETTINGS("url=smtp://mail.example.com", "from=not-an-address", "to=b@example.com"),
                "from: 'not-an-address' is not an address");
        create_fails(t, SETTINGS("url=smtp://mail.example.com", "from=a@example.com"), "to:");
        create_fails(t,
                     SETTINGS("url=smtp://mail.example.com", "from=a@example.com",
                              "to=b@example.com", "to=c@exa..mple.com"),
                     "to: 'c@exa..mple.com' is not an address");
        create_fails(t,
                     SETTINGS("url=smtp://mail.example.com", "from=a@example.com",
                              "to=Bob <b@example.com"),
                     "without a closing '>'");
        create_fails(t,
                     SETTINGS("url=smtp://mail.example.com", "from=a@example.com",
                              "to=x@example.com\r\nBcc: evil@x.example"),
                     "control characters");
        create_fails(t,
                     SETTINGS("url=smtp://mail.example.com", "from=\"Ev\"il\" <a@example.com>",
                              "to=b@example.com"),
                     "quotes");
        create_fails(t, SETTINGS(BASIC, "password=secret"), "password: is set but user is not");
        create_fails(t, SETTINGS(BASIC, "user=bob"), "user: is set but password is not");
        create_fails(t, SETTINGS(BASIC, "subject_prefix=[x]\nBcc: evil@x.example"),
                     "subject_prefix: contains control characters");

        /* STARTTLS can be turned off for a loopback relay only */
        create_fails(t, SETTINGS(BASIC, "starttls=false"),
                     "starttls: false is allowed only for a loopback server");
        create_fails(t,
                     SETTINGS("url=smtp://10.0.0.1:25", "from=a@example.com", "to=b@example.com",
                              "starttls=false"),
                     "starttls: false is allowed only for a loopback server");
        create_fails(t,
                     SETTINGS("url=smtp://127.0.0.1.example.com:25", "from=a@example.com",
                              "to=b@example.com", "starttls=false"),
                     "starttls: false is allowed only for a loopback server");
        create_fails(t,
                     SETTINGS("url=smtps://127.0.0.1:465", "from=a@example.com", "to=b@example.com",
                              "starttls=false"),
                     "makes no sense with smtps://");
        const char *const loopbacks[] = {"smtp://127.0.0.1:2525", "smtp://127.8.9.10",
                                         "smtp://[::1]:25", "smtp://localhost:25",
                                         "smtp://LOCALHOST"};
        for (size_t i = 0; i < sizeof(loopbacks) / sizeof(*loopbacks); i++) {
                char url[64];
                snprintf(url, sizeof(url), "url=%s", loopbacks[i]);
                create_ok(t, SETTINGS(url, "from=a@example.com", "to=b@example.com",
                                      "starttls=false"));
        }

        /* a core without the mail functions: refused at create, not at the first alert */
        t->mh.host.size = offsetof(struct earshot_host, request_mail);
        create_fails(t, SETTINGS(BASIC), "cannot send mail");
        t->mh.host.size = sizeof(struct earshot_host);
        t->mh.host.request_flags = NULL;
        create_fails(t, SETTINGS(BASIC), "cannot send mail");
}

static void test_request(void **state) {
        T *t = *state;

        create_ok(t,
                  SETTINGS("url=SMTP://Mail.Example.COM:587/", "from=earshot <alerts@Example.com>",
                           "to=oncall@example.com", "to=Team Lead <Lead@Example.com>",
                           "user=alerts@example.com", "password=s3cret"));
        deliver_mail(t, &alert);
        assert_string_equal(t->req.url, "smtp://mail.example.com:587");
        assert_string_equal(t->req.mail_from, "alerts@example.com");
        assert_non_null(t->req.mail_rcpt);
        assert_string_equal(t->req.mail_rcpt[0], "oncall@example.com");
        assert_string_equal(t->req.mail_rcpt[1], "Lead@example.com");
        assert_null(t->req.mail_rcpt[2]);
        assert_string_equal(t->req.user, "alerts@example.com");
        assert_string_equal(t->req.password, "s3cret");
        assert_int_equal(t->req.flags, 0); /* STARTTLS required */
        assert_null(t->req.method);
        assert_int_equal(t->req.n_headers, 0);
        /* the password is nowhere in the message */
        expect_not_in(t->req.body, "s3cret");
        expect_decoded(t, "To", "oncall@example.com, Team Lead <Lead@example.com>");

        /* no login without a user; plaintext only when asked for, on loopback */
        create_ok(t, SETTINGS("url=smtp://127.0.0.1:2525", "from=a@example.com", "to=b@example.com",
                              "starttls=false"));
        deliver_mail(t, &alert);
        assert_string_equal(t->req.url, "smtp://127.0.0.1:2525");
        assert_null(t->req.user);
        assert_int_equal(t->req.flags, EARSHOT_REQ_PLAINTEXT);

        create_ok(t, SETTINGS("url=smtps://[::1]:465", "from=a@example.com", "to=b@example.com"));
        deliver_mail(t, &alert);
        assert_string_equal(t->req.url, "smtps://[::1]:465");
        assert_int_equal(t->req.flags, 0);

        /* a host that lost the mail functions after create: a clean failure, no request */
        t->mh.host.request_mail = NULL;
        mock_request_done(&t->req);
        mock_request_init(&t->req);
        assert_int_equal(P->notifier->deliver(t->state, &alert, &t->req), -EOPNOTSUPP);
        assert_null(t->req.mail_from);
}

static void test_message(void **state) {
        T *t = *state;

        create_ok(t, SETTINGS(BASIC));
        deliver_mail(t, &alert);
        expect_header_names(t, HEADER_NAMES);
        assert_string_equal(hdr(t, "From"), "earshot <alerts@example.com>");
        assert_string_equal(hdr(t, "To"), "oncall@example.com");
        expect_decoded(t, "Subject",
                       "[earshot] HIGH acme (refund, angry): My order never arrived, "
                       "\"support\" won't answer \xf0\x9f\x98\xa1 Refund!");
        /* mock now: 2026-08-01T14:00:00Z, a Saturday */
        assert_string_equal(hdr(t, "Date"), "Sat, 01 Aug 2026 14:00:00 +0000");
        assert_string_equal(hdr(t, "Message-ID"), "<earshot.al-0001.new@example.com>");
        assert_string_equal(hdr(t, "MIME-Version"), "1.0");
        assert_string_equal(hdr(t, "Auto-Submitted"), "auto-generated");
        assert_string_equal(hdr(t, "X-Earshot-Alert-Id"), "al-0001");
        assert_string_equal(hdr(t, "X-Earshot-Event"), "new");

        const Part *text = part(t, "text/plain");
        const Part *html = part(t, "text/html");
        assert_ptr_equal(text, &t->msg.parts[0]); /* plainest first (RFC 2046 5.1.4) */
        expect_in(text->body, "New alert: HIGH complaint about acme on mastodon\n");
        expect_in(text->body, "Severity: high\n");
        expect_in(text->body, "Brand:    acme\n");
        expect_in(text->body, "Rules:    refund, angry\n");
        expect_in(text->body, "Network:  mastodon (source mastodon-acme)\n");
        expect_in(text->body, "Author:   Alice (@alice@mastodon.social), 1200 followers\n");
        expect_in(text->body, "Reach:    0 replies, 2 reposts, 5 likes\n");
        expect_in(text->body, "Due:      2026-08-01T13:55:00.000Z (overdue by 5m)\n");
        expect_in(text->body, "Alert:    al-0001\n");
        expect_in(text->body, post.text);
        expect_in(text->body, "Open the post: https://mastodon.social/@alice/117020593741189701");
        expect_not_in(text->body, "Event:");

        expect_in(html->body, "<h2>New alert: HIGH complaint about acme on mastodon</h2>");
        expect_in(html->body, "My order never arrived, &quot;support&quot; won&#39;t answer "
                              "\xf0\x9f\x98\xa1<br>\nRefund!");
        expect_in(
                html->body,
                "<a href=\"https://mastodon.social/@alice/117020593741189701\">Open the post</a>");
        expect_in(html->body, "<td>Alice (@alice@mastodon.social), 1200 followers</td>");
}

static void test_message_id_stable(void **state) {
        T *t = *state;
        char first[128], date[64];
        struct earshot_alert a = alert;

        create_ok(t, SETTINGS(BASIC));
        deliver_mail(t, &alert);
        snprintf(first, sizeof(first), "%s", hdr(t, "Message-ID"));
        snprintf(date, sizeof(date), "%s", hdr(t, "Date"));

        /* a retry ten minutes later: a new Date, the same Message-ID */
        t->mh.now += INT64_C(600) * 1000000;
        deliver_mail(t, &alert);
        assert_string_equal(hdr(t, "Message-ID"), first);
        assert_string_not_equal(hdr(t, "Date"), date);
        assert_string_equal(hdr(t, "Date"), "Sat, 01 Aug 2026 14:10:00 +0000");

        /* another event of the same alert: its own Message-ID */
        a.event = "escalation-1";
        deliver_mail(t, &a);
        assert_string_equal(hdr(t, "Message-ID"), "<earshot.al-0001.escalation-1@example.com>");

        /* ids with other characters are escaped into the atext, and stay stable */
        a.id = "id with spaces/and.dots";
        deliver_mail(t, &a);
        assert_string_equal(hdr(t, "Message-ID"),
                            "<earshot.id=20with=20spaces=2Fand=2Edots.escalation-1@example.com>");

        /* a very long id: hashed, stable, still a short line */
        char longid[300];
        memset(longid, 'x', sizeof(longid) - 1);
        longid[sizeof(longid) - 1] = 0;
        a.id = longid;
        deliver_mail(t, &a);
        snprintf(first, sizeof(first), "%s", hdr(t, "Message-ID"));
        assert_true(strncmp(first, "<earshot.h", 10) == 0);
        assert_true(strlen(first) < 78);
        deliver_mail(t, &a);
        assert_string_equal(hdr(t, "Message-ID"), first);
        longid[5] = 'y';
        deliver_mail(t, &a);
        assert_string_not_equal(hdr(t, "Message-ID"), first);
}

static void test_events(void **state) {
        T *t = *state;
        struct earshot_alert a = alert;
        struct earshot_post p = post;

        create_ok(t, SETTINGS(BASIC, "subject_prefix=ALERT"));

        a.event = "escalation-2";
        a.message = "overdue by 5m";
        deliver_mail(t, &a);
        expect_subject_prefix(t, "ALERT Still unanswered: HIGH acme (refund, angry): My order");
        expect_in(part(t, "text/plain")->body,
                  "Still unanswered (reminder 2): HIGH complaint about acme on mastodon\n");
        expect_in(part(t, "text/plain")->body, "Event:    overdue by 5m\n");
        assert_string_equal(hdr(t, "X-Earshot-Event"), "escalation-2");

        a.event = "thread";
        a.message = NULL;
        deliver_mail(t, &a);
        expect_subject_prefix(t, "ALERT Posted again: HIGH acme (refund, angry): My order");
        expect_not_in(part(t, "text/plain")->body, "Thread:");
        a.posts = 3;
        a.copies = 2;
        a.late_usec = INT64_C(3900) * 1000000;
        deliver_mail(t, &a);
        expect_in(part(t, "text/plain")->body, "Thread:   3 posts by this author\n");
        expect_in(part(t, "text/plain")->body, "Copies:   2 accounts posted this text\n");
        expect_in(part(t, "text/plain")->body,
                  "Late:     past its target by 1h 5m when detected\n");
        a.posts = a.copies = 1;
        a.late_usec = 0;

        a.event = "test";
        deliver_mail(t, &a);
        expect_subject_prefix(t, "ALERT TEST: HIGH acme (refund, angry): My order");
        expect_in(part(t, "text/plain")->body, "TEST notification");

        /* a digest: the text lists the alerts; no author, no link */
        p.text = "HIGH acme refund: \"where is my money\" (alice)\n"
                 "NORMAL acme refund: \"still waiting\" (bob)\n"
                 "CRITICAL acme refund: \"lawyer time\" (carol)";
        p.url = NULL;
        p.author_name = p.author_handle = NULL;
        p.author_followers = p.replies = p.reposts = p.likes = -1;
        a.post = &p;
        a.event = "digest";
        a.id = "dg-7";
        deliver_mail(t, &a);
        expect_decoded(t, "Subject", "ALERT Digest of 3 alerts (acme)");
        const char *text = part(t, "text/plain")->body;
        expect_in(text, "Digest of 3 alerts (acme)\n");
        expect_in(text, p.text);
        expect_not_in(text, "Open the post");
        expect_not_in(text, "Author:");
        expect_not_in(text, "Reach:");
        assert_string_equal(hdr(t, "Message-ID"), "<earshot.dg-7.digest@example.com>");

        /* an empty prefix leaves no leading blank */
        create_ok(t, SETTINGS(BASIC, "subject_prefix="));
        deliver_mail(t, &a);
        expect_decoded(t, "Subject", "Digest of 3 alerts (acme)");
}

static void test_encoded_words(void **state) {
        T *t = *state;
        struct earshot_alert a = alert;
        struct earshot_post p = post;
        const char *const ru_rules[] = {"жалобы", NULL};

        create_ok(t, SETTINGS("url=smtp://mail.example.com",
                              "from=Эршот Оповещения <alerts@example.com>",
                              "to=Дежурный <duty@example.com>", "to=ops@example.com",
                              "subject_prefix=[эршот]"));
        p.text = "Верните деньги! Ужасный сервис, третий день жду ответа от поддержки "
                 "и никто не отвечает. Это уже слишком, я напишу везде.";
        a.post = &p;
        a.brand = "Акме";
        a.rules = ru_rules;
        deliver_mail(t, &a);
        expect_decoded(t, "Subject",
                       "[эршот] HIGH Акме (жалобы): Верните деньги! Ужасный сервис, третий день "
                       "жду ответа от поддержки и\xe2\x80\xa6"); /* 70 characters */
        expect_decoded(t, "From", "Эршот Оповещения <alerts@example.com>");
        expect_decoded(t, "To", "Дежурный <duty@example.com>, ops@example.com");
        /* encoded, so the raw header is ASCII */
        for (const char *c = hdr(t, "Subject"); *c; c++)
                assert_true((unsigned char)*c < 0x80);
        expect_in(hdr(t, "Subject"), "=?utf-8?B?");
        expect_in(part(t, "text/plain")->body, p.text);

        /* a plain ASCII subject stays readable; "=?" in the text forces encoding */
        create_ok(t, SETTINGS(BASIC));
        p.text = "acme refund please";
        a.brand = "acme";
        a.rules = rules;
        deliver_mail(t, &a);
        assert_string_equal(hdr(t, "Subject"),
                            "[earshot] HIGH acme (refund, angry): acme refund please");
        p.text = "acme =?utf-8?B?SGk=?= refund";
        deliver_mail(t, &a);
        expect_in(hdr(t, "Subject"), "=?utf-8?B?");
        expect_decoded(t, "Subject",
                       "[earshot] HIGH acme (refund, angry): acme =?utf-8?B?SGk=?= refund");

        /* long ASCII display names and many recipients fold under 78 (checked by the parser) */
        create_ok(t, SETTINGS("url=smtp://mail.example.com",
                              "from=The Earshot Complaint Monitoring Service Of Acme Corporation, "
                              "Europe <alerts@example.com>",
                              "to=first.recipient.with.a.long.name@example.com",
                              "to=second.recipient.with.a.long.name@example.com",
                              "to=Third Recipient <third.recipient.with.a.long.name@example.com>"));
        deliver_mail(t, &a);
        expect_decoded(t, "From",
                       "\"The Earshot Complaint Monitoring Service Of Acme Corporation, Europe\" "
                       "<alerts@example.com>");
        expect_decoded(t, "To",
                       "first.recipient.with.a.long.name@example.com, "
                       "second.recipient.with.a.long.name@example.com, Third Recipient "
                       "<third.recipient.with.a.long.name@example.com>");
}

static void test_injection(void **state) {
        T *t = *state;
        struct earshot_alert a = alert;
        struct earshot_post p = post;
        const char *const evil_rules[] = {"refund\r\nBcc: evil@x.example", NULL};

        create_ok(t, SETTINGS(BASIC));
        p.text = "refund\r\nBcc: evil@x.example\r\n\r\n<script>alert(1)</script> & more\n.\n";
        p.author_name = "Mallory\r\nBcc: evil@x.example";
        p.author_handle = "mallory@x.example\nX-Evil: 1";
        p.url = "javascript:alert(1)";
        a.post = &p;
        a.brand = "acme\nBcc: evil@x.example";
        a.rules = evil_rules;
        a.severity = "high\r\nBcc: evil@x.example";
        a.event = "new\r\nBcc: evil@x.example";
        deliver_mail(t, &a);
        /* exactly the usual headers: nothing was added */
        expect_header_names(t, HEADER_NAMES);
        char *subject = hdr_decoded(t, "Subject");
        assert_null(strpbrk(subject, "\r\n"));
        expect_in(subject, "Bcc: evil@x.example");
        free(subject);
        char *event = hdr_decoded(t, "X-Earshot-Event");
        assert_null(strpbrk(event, "\r\n"));
        free(event);

        const char *text = part(t, "text/plain")->body;
        /* in the body the post keeps its lines, other fields are one line each */
        expect_in(text, "Author:   Mallory Bcc: evil@x.example (@mallory@x.example X-Evil: 1)");
        expect_in(text, "Brand:    acme Bcc: evil@x.example\n");
        expect_not_in(text, "Open the post"); /* not an http(s) link */
        const char *html = part(t, "text/html")->body;
        expect_in(html, "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more");
        expect_not_in(html, "<script>");
        expect_not_in(html, "javascript:");

        /* a link with quotes cannot leave its attribute */
        p.url = "https://example.com/\"><script>x</script>";
        a.event = "new";
        deliver_mail(t, &a);
        html = part(t, "text/html")->body;
        expect_in(html,
                  "<a href=\"https://example.com/&quot;&gt;&lt;script&gt;x&lt;/script&gt;\">");
        expect_not_in(html, "<script>");

        /* an id with control characters is refused, not sent */
        a.id = "al\r\nBcc: x";
        assert_int_equal(P->notifier->deliver(t->state, &a, &t->req), -EINVAL);
}

static void test_invalid_utf8(void **state) {
        T *t = *state;
        struct earshot_alert a = alert;
        struct earshot_post p = post;

        create_ok(t, SETTINGS(BASIC));
        p.text = "Bad\xff\xfe UTF-8 \xc3\x28 refund";
        p.author_name = "Eve \xed\xa0\x80";
        a.post = &p;
        a.brand = "ac\xc0\xafme";
        deliver_mail(t, &a);
        expect_decoded(t, "Subject",
                       "[earshot] HIGH ac\xef\xbf\xbd\xef\xbf\xbdme (refund, angry): "
                       "Bad\xef\xbf\xbd\xef\xbf\xbd UTF-8 \xef\xbf\xbd( refund");
        const char *text = part(t, "text/plain")->body;
        expect_in(text, "Bad\xef\xbf\xbd\xef\xbf\xbd UTF-8 \xef\xbf\xbd( refund");
        expect_in(text, "Eve \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd (@alice@mastodon.social)");
}

static void test_long_text(void **state) {
        T *t = *state;
        struct earshot_alert a = alert;
        struct earshot_post p = post;
        size_t n = 200000;
        char *big = malloc(n + 1);

        assert_non_null(big);
        /* no blanks at all, multi-byte characters, '=' and trailing blanks on lines */
        for (size_t i = 0; i < n;) {
                const char *piece = i % 7 == 0 ? "щ" : i % 11 == 0 ? "=" : "x";
                if (i % 997 == 0 && i + 2 < n) {
                        piece = " \n";
                }
                size_t l = strlen(piece);
                if (i + l > n)
                        break;
                memcpy(big + i, piece, l);
                i += l;
                big[i] = 0;
        }
        create_ok(t, SETTINGS(BASIC));
        p.text = big;
        a.post = &p;
        deliver_mail(t, &a); /* the parser checks every line length */
        const char *text = part(t, "text/plain")->body;
        /* cut to 64 KiB with "…" */
        assert_true(strlen(text) < 70000);
        expect_in(text, "\xe2\x80\xa6\n");
        char *subject = hdr_decoded(t, "Subject");
        expect_in(subject, "\xe2\x80\xa6");
        free(subject);

        /* a word longer than a line in an ASCII subject is encoded so that it can fold */
        memset(big, 'y', 60);
        big[60] = 0;
        deliver_mail(t, &a);
        expect_in(hdr(t, "Subject"), "=?utf-8?B?");
        free(big);
}

static void test_response(void **state) {
        T *t = *state;
        const int32_t delivered[] = {250, 221, 200};
        const int32_t retried[] = {0, 421, 450, 451, 452, 454, 530, 534, 535, 538, 552};
        const int32_t rejected[] = {500, 501, 550, 551, 553, 554, 555};
        struct earshot_response r;

        create_ok(t, SETTINGS(BASIC));
        for (size_t i = 0; i < sizeof(delivered) / sizeof(*delivered); i++) {
                r = mock_response(delivered[i], "", 0);
                assert_int_equal(P->notifier->response(t->state, &alert, &r), EARSHOT_DELIVERED);
        }
        for (size_t i = 0; i < sizeof(retried) / sizeof(*retried); i++) {
                r = mock_response(retried[i], "", 0);
                if (P->notifier->response(t->state, &alert, &r) != EARSHOT_RETRY)
                        fail_msg("SMTP %d is not retried", retried[i]);
        }
        for (size_t i = 0; i < sizeof(rejected) / sizeof(*rejected); i++) {
                r = mock_response(rejected[i], "", 0);
                if (P->notifier->response(t->state, &alert, &r) != EARSHOT_REJECTED)
                        fail_msg("SMTP %d is not rejected", rejected[i]);
        }
        /* a failed login says so, once for a run of them, and its end is noted */
        r = mock_response(250, "", 0);
        assert_int_equal(P->notifier->response(t->state, &alert, &r), EARSHOT_DELIVERED);
        mock_host_clear_logs(&t->mh);
        r = mock_response(535, "", 0);
        for (int i = 0; i < 3; i++)
                assert_int_equal(P->notifier->response(t->state, &alert, &r), EARSHOT_RETRY);
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_ERR, "check user and password"),
                         1);
        assert_int_equal(mock_host_count_logs(&t->mh, -1, ""), 1);
        r = mock_response(250, "", 0);
        assert_int_equal(P->notifier->response(t->state, &alert, &r), EARSHOT_DELIVERED);
        assert_int_equal(
                mock_host_count_logs(&t->mh, EARSHOT_LOG_NOTICE, "accepts the login again"), 1);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_descriptor, setup, teardown),
                cmocka_unit_test_setup_teardown(test_create_rejects, setup, teardown),
                cmocka_unit_test_setup_teardown(test_request, setup, teardown),
                cmocka_unit_test_setup_teardown(test_message, setup, teardown),
                cmocka_unit_test_setup_teardown(test_message_id_stable, setup, teardown),
                cmocka_unit_test_setup_teardown(test_events, setup, teardown),
                cmocka_unit_test_setup_teardown(test_encoded_words, setup, teardown),
                cmocka_unit_test_setup_teardown(test_injection, setup, teardown),
                cmocka_unit_test_setup_teardown(test_invalid_utf8, setup, teardown),
                cmocka_unit_test_setup_teardown(test_long_text, setup, teardown),
                cmocka_unit_test_setup_teardown(test_response, setup, teardown),
        };
        return cmocka_run_group_tests_name("notify-email", tests, NULL, NULL);
}
