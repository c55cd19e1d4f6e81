/* SPDX-License-Identifier: MIT */
/*
 * email.c - every alert as an e-mail, submitted over SMTP.
 *
 * The plugin builds the whole message (RFC 5322, MIME) and hands it to the core with
 * request_mail(); the core talks SMTP through libcurl: smtp:// with STARTTLS required, or
 * smtps:// (TLS from the first byte), certificates always checked, AUTH when `user` is set.
 * Plain SMTP (`starttls: false`) is accepted for a loopback relay only (a local MTA that
 * forwards), here at create() and again by the core.
 *
 * THE MESSAGE (CRLF line ends; headers folded at 78 columns, body lines at most 76)
 *
 *   From: earshot <alerts@example.com>          the `from` option, display name encoded
 *   To: oncall@example.com, "Team" <t@example.com>
 *   Subject: [earshot] HIGH acme (refunds): My order never arrived…
 *                                               RFC 2047 B encoded-words when not plain ASCII
 *   Date: Sat, 01 Aug 2026 13:56:02 +0000       when the message was built (UTC)
 *   Message-ID: <earshot.ID.EVENT@from-domain>  the same for every retry of one event
 *   MIME-Version: 1.0
 *   Content-Type: multipart/alternative; boundary="=_earshot_…"
 *   Auto-Submitted: auto-generated              RFC 3834: no vacation replies, please
 *   X-Earshot-Alert-Id: ID
 *   X-Earshot-Event: new
 *
 *   text/plain; charset=utf-8 and text/html; charset=utf-8, both quoted-printable: the event
 *   ("New alert", "Still unanswered" with its message, "The author posted again", a digest,
 *   a test sample), severity, brand, rules, network and source, author and reach, the due
 *   time ("overdue by 5m"), the post text and a link to the post (http and https only).
 *
 * Subjects by event: "PREFIX SEVERITY BRAND (RULES): TEXT" for a new alert, with "Still
 * unanswered: " (an escalation), "Posted again: " (a thread) or "TEST: " (earshotctl
 * notify-test) before SEVERITY; "PREFIX Digest of N alerts (BRAND)" for a digest. TEXT is the
 * post's start on one line, at most 70 characters with "…".
 *
 * Nothing from a post can add a header or markup: every text is cleaned first (invalid UTF-8
 * becomes U+FFFD, line breaks and other control characters blanks, except the post text's
 * line breaks in the body), headers carry it only as encoded-words or folded plain ASCII, the
 * body only quoted-printable, the HTML part only escaped. The boundary starts with "=_", which
 * quoted-printable never produces, and is checked against both parts anyway.
 *
 * Delivery is at least once. A retry sends the same Message-ID, so receivers and mail stores
 * that de-duplicate show the alert once; each event of an alert (a reminder, a thread) has
 * its own.
 *
 * Answers (RFC 5321 4.2.1): 2yz delivered; 4yz retried (the server said "later"); no answer
 * (no connection, no STARTTLS, a TLS failure, a timeout) retried; 530, 534, 535 and 538 (AUTH
 * failed or is needed: RFC 4954) retried with an error in the log, since the alert is fine
 * and the credentials are not; 552 retried (RFC 5321 4.5.3.1.10: clients should treat it as
 * temporary); any other 5yz rejected for good.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "earshot-plugin.h"
#include "notify-util.h"
#include "plugin-util.h"

#define HEADER_WIDTH 78      /* RFC 5322 2.1.1: lines SHOULD be at most 78 characters */
#define ENCODED_WORD_MAX 75  /* RFC 2047 2: an encoded-word is at most 75 characters */
#define QP_WIDTH 76          /* RFC 2045 6.7 (5): encoded lines at most 76 characters */
#define SUBJECT_TEXT_MAX 70  /* characters of post text in the subject */
#define BODY_TEXT_MAX 65536  /* bytes of post text in each part */
#define ADDRESS_LOCAL_MAX 64 /* RFC 5321 4.5.3.1.1 */
#define ADDRESS_DOMAIN_MAX 253
#define MESSAGE_ID_LEFT_MAX 60

/* One configured address: "Name <local@domain>" or "local@domain". */
typedef struct Mailbox {
        char *name;    /* owned, display name (valid UTF-8, no controls), or NULL */
        char *address; /* owned, the bare address */
} Mailbox;

typedef struct Email {
        const struct earshot_host *host; /* borrowed, valid until destroy */
        char *url;                       /* owned: smtp://host[:port] or smtps://... */
        Mailbox from;
        Mailbox *to; /* owned array */
        size_t n_to;
        char **rcpt;        /* owned, NULL-terminated: the bare addresses of `to` */
        char *domain;       /* owned: the domain of `from`, for Message-IDs */
        char *user;         /* owned, or NULL */
        char *password;     /* owned, secret, or NULL */
        bool plaintext;     /* smtp:// without STARTTLS (loopback only) */
        char *prefix;       /* owned: subject prefix, cleaned; may be "" */
        bool login_failing; /* the last answer was a refused login: said once, not per alert */
} Email;

static void mailbox_done(Mailbox *m) {
        free(m->name);
        free(m->address);
        *m = (Mailbox){};
}

static void email_destroy(void *state) {
        Email *e = state;

        if (!e)
                return;
        free(e->url);
        mailbox_done(&e->from);
        for (size_t i = 0; i < e->n_to; i++)
                mailbox_done(&e->to[i]);
        free(e->to);
        free(e->rcpt); /* the strings belong to e->to */
        free(e->domain);
        free(e->user);
        notify_secret_free(e->password);
        free(e->prefix);
        free(e);
}

NOTIFY_DEFINE_DESTROYP(Email, email_destroy)

/* ---- options ------------------------------------------------------------------------------- */

/* RFC 5322 3.2.3 atext: letters, digits and !#$%&'*+-/=?^_`{|}~ */
static bool char_is_atext(char c) {
        return char_is_alnum(c) || (c && strchr("!#$%&'*+-/=?^_`{|}~", c));
}

/*
 * Whether the n bytes at s are an address we can send to: a dot-atom local part (RFC 5322
 * 3.4.1, ASCII: no quoted local parts, no SMTPUTF8) "@" a host name (IDNs in punycode).
 */
static bool address_is_valid(const char *s, size_t n) {
        const char *at = memchr(s, '@', n);
        size_t ln, dn;

        if (!at)
                return false;
        ln = (size_t)(at - s);
        dn = n - ln - 1;
        if (ln == 0 || ln > ADDRESS_LOCAL_MAX || dn == 0 || dn > ADDRESS_DOMAIN_MAX)
                return false;
        for (size_t i = 0; i < ln; i++)
                if (!(char_is_atext(s[i]) ||
                      (s[i] == '.' && i > 0 && i + 1 < ln && s[i + 1] != '.')))
                        return false;
        for (size_t i = 0; i < dn; i++) {
                char c = at[1 + i];
                if (!char_is_host(c) || (c == '.' && (i == 0 || i + 1 == dn || at[2 + i] == '.')))
                        return false;
        }
        return at[1] != '-';
}

/*
 * Parse "local@domain", "Name <local@domain>" or "\"Name\" <local@domain>" into *ret.
 * -EINVAL with the reason in *ret_error; -ENOMEM.
 */
static int mailbox_parse(const char *s, Mailbox *ret, const char **ret_error) {
        const char *lt = strrchr(s, '<');
        const char *addr = s, *name = NULL;
        size_t alen, nlen = 0;

        if (notify_has_control(s) || !notify_utf8_valid(s)) {
                *ret_error = "contains control characters or invalid UTF-8";
                return -EINVAL;
        }
        while (*addr == ' ')
                addr++;
        alen = strlen(addr);
        while (alen > 0 && addr[alen - 1] == ' ')
                alen--;
        if (lt) {
                if (alen == 0 || addr[alen - 1] != '>') {
                        *ret_error = "has a '<' without a closing '>' at the end";
                        return -EINVAL;
                }
                name = addr;
                nlen = (size_t)(lt - addr);
                addr = lt + 1;
                alen = strlen(addr);
                while (alen > 0 && addr[alen - 1] == ' ')
                        alen--;
                alen--; /* the '>' */
                while (nlen > 0 && name[nlen - 1] == ' ')
                        nlen--;
                if (nlen >= 2 && name[0] == '"' && name[nlen - 1] == '"') {
                        name++;
                        nlen -= 2;
                }
                if (strcspn(name, "\"\\<>") < nlen) {
                        *ret_error = "has quotes, backslashes or angle brackets inside the "
                                     "display name";
                        return -EINVAL;
                }
        }
        if (!address_is_valid(addr, alen)) {
                *ret_error = "is not an address (local@domain; ASCII only, IDNs in punycode)";
                return -EINVAL;
        }
        ret->address = ascii_lower(strndup(addr, alen));
        /* the local part is the server's business: only the domain is case-insensitive */
        if (ret->address) {
                const char *at = memchr(addr, '@', alen);
                memcpy(ret->address, addr, (size_t)(at - addr));
        }
        ret->name = nlen > 0 ? strndup(name, nlen) : NULL;
        if (!ret->address || (nlen > 0 && !ret->name)) {
                mailbox_done(ret);
                return -ENOMEM;
        }
        return 0;
}

/*
 * Validate url (smtp://HOST[:PORT] or smtps://HOST[:PORT], an optional trailing '/') into
 * e->url, lowercased; *ret_loopback says whether HOST is this machine.
 */
static int url_parse(Email *e, const char *url, bool *ret_loopback, char *err, size_t err_len) {
        const char *p, *scheme;
        size_t alen, hlen;

        if (strncasecmp(url, "smtps://", 8) == 0) {
                scheme = "smtps://";
                p = url + 8;
        } else if (strncasecmp(url, "smtp://", 7) == 0) {
                scheme = "smtp://";
                p = url + 7;
        } else
                return set_error(err, err_len, "url: '%s' is not an smtp:// or smtps:// URL", url);
        alen = strcspn(p, "/");
        if (notify_has_control(url) || strchr(url, ' ') || memchr(p, '@', alen) ||
            (p[alen] && strcmp(p + alen, "/") != 0))
                return set_error(err, err_len,
                                 "url: '%s' must be smtp://HOST[:PORT] or smtps://HOST[:PORT] "
                                 "(no user, path or query: the login goes in user/password)",
                                 url);
        if (alen == 0)
                return set_error(err, err_len, "url: '%s' has no host", url);
        if (p[0] == '[') {
                const char *close = memchr(p, ']', alen);
                if (!close || close == p + 1)
                        return set_error(err, err_len, "url: '%s' has a bad IPv6 address", url);
                hlen = (size_t)(close - p) + 1;
                for (size_t i = 1; i + 1 < hlen; i++)
                        if (!strchr("0123456789abcdefABCDEF:.", p[i]))
                                return set_error(err, err_len, "url: '%s' has a bad IPv6 address",
                                                 url);
        } else {
                const char *colon = memchr(p, ':', alen);
                hlen = colon ? (size_t)(colon - p) : alen;
                if (hlen == 0 || p[0] == '.' || p[0] == '-')
                        return set_error(err, err_len, "url: '%s' has no host", url);
                for (size_t i = 0; i < hlen; i++)
                        if (!char_is_host(p[i]))
                                return set_error(err, err_len,
                                                 "url: '%s' has a bad host name (IDNs must be in "
                                                 "punycode)",
                                                 url);
        }
        if (hlen < alen && (p[hlen] != ':' || !port_is_valid(p + hlen + 1, alen - hlen - 1)))
                return set_error(err, err_len, "url: '%s' has a bad port", url);
        *ret_loopback = host_is_loopback(p, hlen);
        _cleanup_free_ char *authority = ascii_lower(strndup(p, alen));
        if (!authority)
                return -ENOMEM;
        e->url = strjoin(scheme, authority);
        return e->url ? 0 : -ENOMEM;
}

/* The cleaned, one-line text of an option that may not hold control characters. */
static int option_text(const struct earshot_values *vals, const char *name, char **ret, char *err,
                       size_t err_len) {
        const char *s = earshot_value_str(vals, name);

        *ret = NULL;
        if (!s)
                return 0;
        if (notify_has_control(s) || !notify_utf8_valid(s))
                return set_error(err, err_len, "%s: contains control characters or invalid UTF-8",
                                 name);
        *ret = strdup(s);
        return *ret ? 0 : -ENOMEM;
}

static int email_create(const struct earshot_host *host, const struct earshot_values *vals,
                        char *err, size_t err_len, void **ret_state) {
        _cleanup_(email_destroyp) Email *e = NULL;
        const struct earshot_value *to;
        const char *url, *from, *error = NULL;
        bool loopback = false;
        int r;

        if (!EARSHOT_HOST_HAS(host, request_mail) || !EARSHOT_HOST_HAS(host, request_login) ||
            !EARSHOT_HOST_HAS(host, request_flags))
                return set_error(err, err_len,
                                 "this earshotd cannot send mail (it predates request_mail); "
                                 "upgrade earshot to use the email notifier");

        e = calloc(1, sizeof(*e));
        if (!e)
                return -ENOMEM;
        e->host = host;

        url = earshot_value_str(vals, "url");
        if (!url || !*url)
                return set_error(err, err_len,
                                 "url: the mail server is needed (smtp://HOST:587 or "
                                 "smtps://HOST:465)");
        r = url_parse(e, url, &loopback, err, err_len);
        if (r < 0)
                return r;

        from = earshot_value_str(vals, "from");
        if (!from || !*from)
                return set_error(err, err_len, "from: the sender's address is needed");
        r = mailbox_parse(from, &e->from, &error);
        if (r == -EINVAL)
                return set_error(err, err_len, "from: '%s' %s", from, error);
        if (r < 0)
                return r;
        e->domain = strdup(strchr(e->from.address, '@') + 1);
        if (!e->domain)
                return -ENOMEM;

        to = list_value(vals, "to");
        if (!to)
                return set_error(err, err_len, "to: at least one recipient is needed");
        e->to = calloc(to->n_list, sizeof(Mailbox));
        e->rcpt = calloc(to->n_list + 1, sizeof(char *));
        if (!e->to || !e->rcpt)
                return -ENOMEM;
        for (size_t i = 0; i < to->n_list; i++) {
                r = mailbox_parse(to->list[i], &e->to[i], &error);
                if (r == -EINVAL)
                        return set_error(err, err_len, "to: '%s' %s", to->list[i], error);
                if (r < 0)
                        return r;
                e->rcpt[i] = e->to[i].address;
                e->n_to++;
        }

        r = option_text(vals, "user", &e->user, err, err_len);
        if (r < 0)
                return r;
        const char *password = earshot_value_str(vals, "password");
        if (password && notify_has_control(password))
                return set_error(err, err_len, "password: contains control characters");
        if (password && !e->user)
                return set_error(err, err_len, "password: is set but user is not");
        if (e->user && !password)
                return set_error(err, err_len,
                                 "user: is set but password is not (password or password_file)");
        if (password) {
                e->password = strdup(password);
                if (!e->password)
                        return -ENOMEM;
        }

        if (earshot_value_num(vals, "starttls", 1) == 0) {
                if (strncmp(e->url, "smtps://", 8) == 0)
                        return set_error(err, err_len,
                                         "starttls: false makes no sense with smtps:// (TLS from "
                                         "the start); use smtp:// for a plain loopback relay");
                if (!loopback)
                        return set_error(err, err_len,
                                         "starttls: false is allowed only for a loopback server "
                                         "(127.0.0.1, ::1, localhost), not for '%s': mail and "
                                         "passwords must not cross a network in clear",
                                         url);
                e->plaintext = true;
        }

        r = option_text(vals, "subject_prefix", &e->prefix, err, err_len);
        if (r < 0)
                return r;
        if (!e->prefix && !(e->prefix = strdup("")))
                return -ENOMEM;

        *ret_state = NOTIFY_TAKE(e);
        return 0;
}

/* ---- a growing buffer ---------------------------------------------------------------------- */

typedef struct Buf {
        char *s;
        size_t n, cap;
        size_t col; /* bytes since the last '\n' */
        bool oom;
} Buf;

static void buf_add(Buf *b, const char *s, size_t n) {
        if (b->oom)
                return;
        if (b->n + n + 1 > b->cap) {
                size_t cap = b->cap ? b->cap : 4096;
                while (cap < b->n + n + 1)
                        cap *= 2;
                char *p = realloc(b->s, cap);
                if (!p) {
                        b->oom = true;
                        return;
                }
                b->s = p;
                b->cap = cap;
        }
        memcpy(b->s + b->n, s, n);
        b->n += n;
        b->s[b->n] = 0;
        for (size_t i = n; i > 0; i--)
                if (s[i - 1] == '\n') {
                        b->col = n - i;
                        return;
                }
        b->col += n;
}

static void buf_str(Buf *b, const char *s) {
        buf_add(b, s, strlen(s));
}

static void buf_printf(Buf *b, const char *format, ...) __attribute__((format(printf, 2, 3)));
static void buf_printf(Buf *b, const char *format, ...) {
        char *s = NULL;
        va_list ap;
        int n;

        va_start(ap, format);
        n = vasprintf(&s, format, ap);
        va_end(ap);
        if (n < 0) {
                b->oom = true;
                return;
        }
        buf_add(b, s, (size_t)n);
        free(s);
}

static void buf_done(Buf *b) {
        free(b->s);
        *b = (Buf){};
}

/* ---- headers ------------------------------------------------------------------------------- */

/*
 * A header is written as tokens with one blank between them: a token that would pass column
 * 78 goes on a new line (RFC 5322 2.2.3 folding: CRLF before the blank). Tokens hold no
 * blanks or control characters, so folding never changes what a header says.
 */
static void header_token(Buf *b, const char *tok, size_t n) {
        if (b->col + 1 + n > HEADER_WIDTH && b->col > 0)
                buf_str(b, "\r\n");
        buf_add(b, " ", 1);
        buf_add(b, tok, n);
}

static void header_tokens(Buf *b, const char *s) {
        while (*s) {
                size_t n = strcspn(s, " ");
                if (n > 0)
                        header_token(b, s, n);
                s += n;
                s += strspn(s, " ");
        }
}

static void base64_encode(Buf *b, const unsigned char *s, size_t n) {
        static const char tab[] =
                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        char out[4];

        for (size_t i = 0; i < n; i += 3) {
                uint32_t v = (uint32_t)s[i] << 16 | (i + 1 < n ? (uint32_t)s[i + 1] << 8 : 0) |
                             (i + 2 < n ? s[i + 2] : 0);
                out[0] = tab[v >> 18];
                out[1] = tab[(v >> 12) & 63];
                out[2] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
                out[3] = i + 2 < n ? tab[v & 63] : '=';
                buf_add(b, out, 4);
        }
}

/*
 * s (valid UTF-8) as RFC 2047 B encoded-words "=?utf-8?B?...?=", each at most 75 characters,
 * each holding whole characters (2047 section 5), sized to what is left of the line: one that
 * would not fit even with a single character starts a new line. Blanks inside s are encoded
 * with it, since the blanks between encoded-words are not part of the text.
 */
static void header_encoded(Buf *b, const char *s) {
        const char *p = s;
        size_t left = strlen(s);

        while (left > 0) {
                size_t room = HEADER_WIDTH - b->col - 1, n = 0;
                if (b->col + 1 + 12 + 8 > HEADER_WIDTH) {
                        buf_str(b, "\r\n");
                        room = HEADER_WIDTH - 1;
                }
                if (room > ENCODED_WORD_MAX)
                        room = ENCODED_WORD_MAX;
                /* the most bytes, in whole characters, whose base64 fits: 12 + 4 * ceil(n / 3) */
                while (n < left) {
                        size_t c = notify_utf8_len((const unsigned char *)p + n);
                        if (c == 0 || n + c > left)
                                c = 1;
                        if (12 + 4 * ((n + c + 2) / 3) > room)
                                break;
                        n += c;
                }
                buf_str(b, " =?utf-8?B?");
                base64_encode(b, (const unsigned char *)p, n);
                buf_str(b, "?=");
                p += n;
                left -= n;
        }
}

/* Whether text (cleaned: no control characters) can stand in a header as it is. */
static bool header_text_is_plain(const char *s) {
        size_t word = 0;

        if (strstr(s, "=?"))
                return false; /* would read as an encoded-word */
        for (; *s; s++) {
                if ((unsigned char)*s >= 0x80)
                        return false;
                word = *s == ' ' ? 0 : word + 1;
                if (word > HEADER_WIDTH - 20)
                        return false; /* would not fold */
        }
        return true;
}

/* An unstructured header (Subject): plain when it can be, else encoded-words. */
static void header_unstructured(Buf *b, const char *name, const char *text) {
        buf_str(b, name);
        buf_str(b, ":");
        if (header_text_is_plain(text))
                header_tokens(b, text);
        else
                header_encoded(b, text);
        buf_str(b, "\r\n");
}

/*
 * A display name as an RFC 5322 phrase: atoms when it is all atext, a quoted-string when it
 * is other printable ASCII (no '"' or '\\': create() refuses those), else encoded-words.
 */
static void header_phrase(Buf *b, const char *name) {
        bool atoms = true, ascii = true;

        for (const char *c = name; *c; c++) {
                if ((unsigned char)*c >= 0x80)
                        ascii = false;
                else if (*c != ' ' && !char_is_atext(*c))
                        atoms = false;
        }
        if (!ascii || !header_text_is_plain(name))
                header_encoded(b, name);
        else if (atoms)
                header_tokens(b, name);
        else {
                _cleanup_free_ char *q = strjoin("\"", name, "\"");
                if (!q) {
                        b->oom = true;
                        return;
                }
                /* blanks inside a quoted-string may fold (RFC 5322 3.2.4: FWS) */
                header_tokens(b, q);
        }
}

static void header_mailbox(Buf *b, const Mailbox *m, bool comma) {
        _cleanup_free_ char *addr =
                strjoin(m->name ? "<" : "", m->address, m->name ? ">" : "", comma ? "," : "");
        if (!addr) {
                b->oom = true;
                return;
        }
        if (m->name)
                header_phrase(b, m->name);
        header_token(b, addr, strlen(addr));
}

/* RFC 5322 3.3: "Sat, 01 Aug 2026 13:56:02 +0000". */
static void format_date(int64_t usec, char *buf, size_t len) {
        static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
        static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                             "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
        int64_t secs = usec >= 0 ? usec / 1000000 : 0;
        int64_t z = secs / 86400, rem = secs % 86400;
        int wday = (int)((z + 4) % 7);

        /* civil date from days since 1970-01-01 (H. Hinnant's days_from_civil, inverted) */
        z += 719468;
        int64_t era = z / 146097;
        int64_t doe = z - era * 146097;
        int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        int64_t mp = (5 * doy + 2) / 153;
        int64_t day = doy - (153 * mp + 2) / 5 + 1;
        int64_t month = mp < 10 ? mp + 3 : mp - 9;
        int64_t year = yoe + era * 400 + (month <= 2);

        (void)snprintf(buf, len,
                       "%s, %02" PRId64 " %s %04" PRId64 " %02" PRId64 ":%02" PRId64 ":%02" PRId64
                       " +0000",
                       days[wday], day, months[month - 1], year, rem / 3600, rem % 3600 / 60,
                       rem % 60);
}

/* s with everything but letters, digits and '-' as "=XX", for a Message-ID's left part. */
static void msgid_part(Buf *b, const char *s) {
        static const char hex[] = "0123456789ABCDEF";

        for (const unsigned char *p = (const unsigned char *)s; *p; p++)
                if (char_is_alnum((char)*p) || *p == '-')
                        buf_add(b, (const char *)p, 1);
                else {
                        char esc[3] = {'=', hex[*p >> 4], hex[*p & 15]};
                        buf_add(b, esc, 3);
                }
}

static uint64_t fnv1a(const char *s, uint64_t h) {
        for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
                h ^= *p;
                h *= UINT64_C(1099511628211);
        }
        return h;
}

/*
 * "<earshot.ID.EVENT@domain>": the same for every retry of one event of one alert (receivers
 * drop the repeats), another for each event. A long id is replaced by two 64-bit hashes.
 */
static char *message_id(const Email *e, const char *id, const char *event) {
        Buf left = {};
        char *ret;

        buf_str(&left, "earshot.");
        msgid_part(&left, id);
        buf_str(&left, ".");
        msgid_part(&left, event);
        if (left.oom)
                return NULL;
        if (left.n > MESSAGE_ID_LEFT_MAX) {
                uint64_t h1 = fnv1a(event, fnv1a("\n", fnv1a(id, UINT64_C(14695981039346656037))));
                uint64_t h2 = fnv1a(event, fnv1a("\n", fnv1a(id, UINT64_C(0x9e3779b97f4a7c15))));
                char hashed[64];
                (void)snprintf(hashed, sizeof(hashed), "earshot.h%016" PRIx64 "%016" PRIx64, h1,
                               h2);
                ret = strjoin("<", hashed, "@", e->domain, ">");
        } else
                ret = strjoin("<", left.s, "@", e->domain, ">");
        buf_done(&left);
        return ret;
}

/* ---- the body ------------------------------------------------------------------------------ */

/*
 * RFC 2045 6.7 quoted-printable of s (valid UTF-8 with '\n' line ends): CRLF line ends, lines
 * of at most 76 characters with soft breaks ("=" at the end), '=', bytes above 0x7E and
 * blanks at a line's end encoded.
 */
static void qp_encode(Buf *b, const char *s) {
        static const char hex[] = "0123456789ABCDEF";
        size_t col = 0;

        for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
                char tok[3];
                size_t n;

                if (*p == '\n') {
                        buf_str(b, "\r\n");
                        col = 0;
                        continue;
                }
                bool eol = p[1] == '\n' || p[1] == 0;
                if ((*p > ' ' && *p < 0x7f && *p != '=') || (*p == ' ' && !eol)) {
                        tok[0] = (char)*p;
                        n = 1;
                } else {
                        tok[0] = '=';
                        tok[1] = hex[*p >> 4];
                        tok[2] = hex[*p & 15];
                        n = 3;
                }
                /* room for the soft break's '=' unless this ends the line */
                if (col + n > (eol ? QP_WIDTH : QP_WIDTH - 1)) {
                        buf_str(b, "=\r\n");
                        col = 0;
                }
                buf_add(b, tok, n);
                col += n;
        }
}

static void html_escape(Buf *b, const char *s, bool breaks) {
        for (; *s; s++) {
                const char *entity = notify_esc_html(s, 1, 0);
                if (*s == '\n')
                        buf_str(b, breaks ? "<br>\n" : " ");
                else if (entity)
                        buf_str(b, entity);
                else
                        buf_add(b, s, 1);
        }
}

/* The facts of an alert as (label, value) rows, the same in both parts. */
typedef struct Row {
        const char *label;
        char *value; /* owned */
} Row;

#define ROWS_MAX 16

typedef struct Content {
        NotifyView v;
        char *subject;  /* owned, one line */
        char *heading;  /* owned, one line: "New alert: HIGH complaint about acme" */
        char *text;     /* owned: the post text (or the digest's list), cut to BODY_TEXT_MAX */
        size_t n_lines; /* non-empty lines of text (a digest's alerts) */
        Row rows[ROWS_MAX];
        size_t n_rows;
} Content;

static void content_done(Content *c) {
        notify_view_done(&c->v);
        free(c->subject);
        free(c->heading);
        free(c->text);
        for (size_t i = 0; i < c->n_rows; i++)
                free(c->rows[i].value);
        *c = (Content){};
}

static int row_add(Content *c, const char *label, char *value) {
        if (!value)
                return -ENOMEM;
        c->rows[c->n_rows++] = (Row){label, value};
        return 0;
}

static char *str_printf(const char *format, ...) __attribute__((format(printf, 1, 2)));
static char *str_printf(const char *format, ...) {
        char *s = NULL;
        va_list ap;
        int n;

        va_start(ap, format);
        n = vasprintf(&s, format, ap);
        va_end(ap);
        return n < 0 ? NULL : s;
}

static int content_init(Content *c, const Email *e, const struct earshot_alert *a) {
        const struct earshot_host *h = e->host;
        const struct earshot_post *p = a->post;
        NotifyView *v = &c->v;
        char sev[32];
        int r;

        r = notify_view_init(v, h, a);
        if (r < 0)
                return r;
        c->text = notify_truncate(v->text, NOTIFY_NO_LIMIT, BODY_TEXT_MAX);
        if (!c->text)
                return -ENOMEM;
        for (const char *l = c->text; *l;) {
                size_t n = strcspn(l, "\n");
                for (size_t i = 0; i < n; i++)
                        if (l[i] != ' ') {
                                c->n_lines++;
                                break;
                        }
                l += n + (l[n] == '\n');
        }

        (void)snprintf(sev, sizeof(sev), "%s", v->severity);
        for (char *s = sev; *s; s++)
                if (*s >= 'a' && *s <= 'z')
                        *s = (char)(*s - 'a' + 'A');

        /* the subject: one line, cleaned, the post's start */
        _cleanup_free_ char *oneline = notify_clean(c->text, NOTIFY_ONELINE);
        if (!oneline)
                return -ENOMEM;
        _cleanup_free_ char *snippet = notify_truncate(oneline, SUBJECT_TEXT_MAX, NOTIFY_NO_LIMIT);
        if (!snippet)
                return -ENOMEM;
        const char *sp = *e->prefix ? " " : "";
        if (v->event == NOTIFY_EVENT_DIGEST) {
                c->heading = str_printf("Digest of %zu alert%s%s%s%s", c->n_lines,
                                        c->n_lines == 1 ? "" : "s", v->brand ? " (" : "",
                                        v->brand ? v->brand : "", v->brand ? ")" : "");
                c->subject = c->heading ? strjoin(e->prefix, sp, c->heading) : NULL;
        } else {
                c->subject = str_printf("%s%s%s%s%s%s%s%s%s: %s", e->prefix, sp,
                                        v->event == NOTIFY_EVENT_ESCALATION ? "Still unanswered: "
                                        : v->event == NOTIFY_EVENT_THREAD   ? "Posted again: "
                                        : v->event == NOTIFY_EVENT_TEST     ? "TEST: "
                                                                            : "",
                                        sev, v->brand ? " " : "", v->brand ? v->brand : "",
                                        v->rules ? " (" : "", v->rules ? v->rules : "",
                                        v->rules ? ")" : "", snippet);
                c->heading =
                        str_printf("%s: %s complaint%s%s on %s", v->label, sev,
                                   v->brand ? " about " : "", v->brand ? v->brand : "", v->network);
        }
        if (!c->subject || !c->heading)
                return -ENOMEM;

        /* the facts */
        if (v->message && row_add(c, "Event", strdup(v->message)) < 0)
                return -ENOMEM;
        if (row_add(c, "Severity", strdup(v->severity)) < 0)
                return -ENOMEM;
        if (v->brand && row_add(c, "Brand", strdup(v->brand)) < 0)
                return -ENOMEM;
        if (v->rules && row_add(c, "Rules", strdup(v->rules)) < 0)
                return -ENOMEM;
        if (row_add(c, "Network", str_printf("%s (source %s)", v->network, v->source)) < 0)
                return -ENOMEM;
        if (v->author) {
                char followers[48] = "";
                if (v->followers >= 0)
                        (void)snprintf(followers, sizeof(followers), ", %" PRId64 " follower%s",
                                       v->followers, v->followers == 1 ? "" : "s");
                if (row_add(c, "Author", strjoin(v->author, followers)) < 0)
                        return -ENOMEM;
        }
        if (v->event != NOTIFY_EVENT_DIGEST &&
            (p->replies >= 0 || p->reposts >= 0 || p->likes >= 0)) {
                Buf reach = {};
                const struct {
                        int64_t n;
                        const char *one, *many;
                } parts[] = {{p->replies, "reply", "replies"},
                             {p->reposts, "repost", "reposts"},
                             {p->likes, "like", "likes"}};
                for (size_t i = 0; i < 3; i++)
                        if (parts[i].n >= 0)
                                buf_printf(&reach, "%s%" PRId64 " %s", reach.n ? ", " : "",
                                           parts[i].n,
                                           parts[i].n == 1 ? parts[i].one : parts[i].many);
                if (reach.oom) {
                        buf_done(&reach);
                        return -ENOMEM;
                }
                r = row_add(c, "Reach", reach.s);
                if (r < 0)
                        return r;
        }
        /* the thread, copies and lateness, from cores that know them */
        if (EARSHOT_ALERT_HAS(a, copies) && v->event != NOTIFY_EVENT_DIGEST) {
                char span[32];
                notify_span(a->late_usec / 1000000, span, sizeof(span));
                r = 0;
                if (a->posts > 1)
                        r = row_add(c, "Thread",
                                    str_printf("%" PRId64 " posts by this author", a->posts));
                if (r >= 0 && a->copies > 1)
                        r = row_add(c, "Copies",
                                    str_printf("%" PRId64 " accounts posted this text", a->copies));
                if (r >= 0 && a->late_usec > 0)
                        r = row_add(c, "Late",
                                    str_printf("past its target by %s when detected", span));
                if (r < 0)
                        return r;
        }
        if (a->due_usec > 0) {
                char when[64];
                h->format_time(a->due_usec, when, sizeof(when));
                if (row_add(c, "Due", str_printf("%s (%s)", when, v->due)) < 0)
                        return -ENOMEM;
        }
        if (row_add(c, "Alert", strdup(v->id)) < 0)
                return -ENOMEM;
        return 0;
}

static void part_text(Buf *b, const Content *c) {
        const NotifyView *v = &c->v;
        size_t width = 0;

        buf_printf(b, "%s\n\n", c->heading);
        for (size_t i = 0; i < c->n_rows; i++)
                if (strlen(c->rows[i].label) > width)
                        width = strlen(c->rows[i].label);
        for (size_t i = 0; i < c->n_rows; i++)
                buf_printf(b, "%s:%*s %s\n", c->rows[i].label,
                           (int)(width - strlen(c->rows[i].label)), "", c->rows[i].value);
        buf_str(b, v->event == NOTIFY_EVENT_DIGEST ? "\nAlerts:\n\n" : "\nThe post:\n\n");
        buf_str(b, c->text);
        buf_str(b, "\n");
        if (v->url)
                buf_printf(b, "\nOpen the post: %s\n", v->url);
        buf_str(b, "\n-- \nSent by earshot.\n");
}

static void part_html(Buf *b, const Content *c) {
        const NotifyView *v = &c->v;

        buf_str(b, "<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n<title>");
        html_escape(b, c->subject, false);
        buf_str(b, "</title>\n</head>\n<body>\n<h2>");
        html_escape(b, c->heading, false);
        buf_str(b, "</h2>\n<table>\n");
        for (size_t i = 0; i < c->n_rows; i++) {
                buf_printf(b, "<tr><th align=\"left\">%s</th><td>", c->rows[i].label);
                html_escape(b, c->rows[i].value, false);
                buf_str(b, "</td></tr>\n");
        }
        buf_str(b, "</table>\n<blockquote>\n<p>");
        html_escape(b, c->text, true);
        buf_str(b, "</p>\n</blockquote>\n");
        if (v->url) {
                buf_str(b, "<p><a href=\"");
                html_escape(b, v->url, false);
                buf_str(b, "\">Open the post</a></p>\n");
        }
        buf_str(b, "<p><small>Sent by earshot.</small></p>\n</body>\n</html>\n");
}

/* The whole message into *ret (malloc()ed, CRLF line ends). */
static int message_build(const Email *e, const struct earshot_alert *a, char **ret,
                         size_t *ret_len) {
        const struct earshot_host *h = e->host;
        _cleanup_(content_done) Content c = {};
        _cleanup_(buf_done) Buf text = {}, html = {}, qtext = {}, qhtml = {}, m = {};
        _cleanup_free_ char *msgid = NULL;
        char date[64], boundary[64];
        int r;

        r = content_init(&c, e, a);
        if (r < 0)
                return r;
        part_text(&text, &c);
        part_html(&html, &c);
        if (text.oom || html.oom)
                return -ENOMEM;
        qp_encode(&qtext, text.s);
        qp_encode(&qhtml, html.s);
        if (qtext.oom || qhtml.oom)
                return -ENOMEM;

        /* "=_" never occurs in quoted-printable; look anyway */
        uint64_t seed = fnv1a(c.v.event_name, fnv1a(c.v.id, UINT64_C(14695981039346656037)));
        for (unsigned i = 0;; i++) {
                (void)snprintf(boundary, sizeof(boundary), "=_earshot_%016" PRIx64 "_%u", seed, i);
                if (!strstr(qtext.s, boundary) && !strstr(qhtml.s, boundary))
                        break;
        }

        msgid = message_id(e, c.v.id, c.v.event_name);
        if (!msgid)
                return -ENOMEM;
        format_date(h->now_usec(h), date, sizeof(date));

        buf_str(&m, "From:");
        header_mailbox(&m, &e->from, false);
        buf_str(&m, "\r\nTo:");
        for (size_t i = 0; i < e->n_to; i++)
                header_mailbox(&m, &e->to[i], i + 1 < e->n_to);
        buf_str(&m, "\r\n");
        header_unstructured(&m, "Subject", c.subject);
        buf_printf(&m, "Date: %s\r\n", date);
        buf_str(&m, "Message-ID:");
        header_token(&m, msgid, strlen(msgid));
        buf_str(&m, "\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative;");
        buf_printf(&m, "\r\n boundary=\"%s\"\r\n", boundary);
        buf_str(&m, "Auto-Submitted: auto-generated\r\n");
        header_unstructured(&m, "X-Earshot-Alert-Id", c.v.id);
        header_unstructured(&m, "X-Earshot-Event", c.v.event_name);
        buf_str(&m, "\r\nThis is a message in MIME format: an alert from earshot.\r\n");
        buf_printf(&m, "\r\n--%s\r\n", boundary);
        buf_str(&m, "Content-Type: text/plain; charset=utf-8\r\n"
                    "Content-Transfer-Encoding: quoted-printable\r\n\r\n");
        buf_add(&m, qtext.s, qtext.n);
        buf_printf(&m, "\r\n--%s\r\n", boundary);
        buf_str(&m, "Content-Type: text/html; charset=utf-8\r\n"
                    "Content-Transfer-Encoding: quoted-printable\r\n\r\n");
        buf_add(&m, qhtml.s, qhtml.n);
        buf_printf(&m, "\r\n--%s--\r\n", boundary);
        if (m.oom)
                return -ENOMEM;
        *ret_len = m.n;
        *ret = m.s;
        m = (Buf){};
        return 0;
}

/* ---- the notifier -------------------------------------------------------------------------- */

static int email_deliver(void *state, const struct earshot_alert *alert,
                         struct earshot_request *req) {
        Email *e = state;
        const struct earshot_host *h = e->host;
        _cleanup_free_ char *msg = NULL;
        size_t len = 0;
        int r;

        if (!alert || !alert->post || !alert->id || !*alert->id || notify_has_control(alert->id))
                return -EINVAL;
        if (!EARSHOT_HOST_HAS(h, request_mail) || !EARSHOT_HOST_HAS(h, request_login) ||
            !EARSHOT_HOST_HAS(h, request_flags))
                return -EOPNOTSUPP;

        r = message_build(e, alert, &msg, &len);
        if (r < 0)
                return r;
        r = h->request_url(req, e->url);
        if (r < 0)
                return r;
        r = h->request_mail(req, e->from.address, (const char *const *)e->rcpt);
        if (r < 0)
                return r;
        if (e->user) {
                r = h->request_login(req, e->user, e->password);
                if (r < 0)
                        return r;
        }
        if (e->plaintext) {
                r = h->request_flags(req, EARSHOT_REQ_PLAINTEXT);
                if (r < 0)
                        return r;
        }
        r = h->request_body(req, msg, len);
        return r < 0 ? r : EARSHOT_SEND;
}

static int email_response(void *state, const struct earshot_alert *alert,
                          const struct earshot_response *resp) {
        Email *e = state;
        const struct earshot_host *h = e->host;
        int32_t s = resp->status;

        if (s >= 200 && s < 300) {
                if (e->login_failing)
                        h->log(h, EARSHOT_LOG_NOTICE, "the mail server accepts the login again");
                e->login_failing = false;
                return EARSHOT_DELIVERED;
        }
        switch (s) {
        case 530: /* authentication required */
        case 534: /* mechanism too weak */
        case 535: /* credentials invalid */
        case 538: /* encryption required for the mechanism */
                if (!e->login_failing)
                        h->log(h, EARSHOT_LOG_ERR,
                               "the mail server refused the login (SMTP %d): %s; alerts are kept "
                               "and retried",
                               s,
                               s == 530 ? "it wants AUTH: set user and password"
                                        : "check user and password");
                e->login_failing = true;
                return EARSHOT_RETRY;
        case 552: /* RFC 5321 4.5.3.1.10: treat as temporary */
                return EARSHOT_RETRY;
        }
        if (s >= 500 && s < 600)
                return EARSHOT_REJECTED;
        return EARSHOT_RETRY; /* 4yz, and 0: no answer */
}

static const struct earshot_option email_options[] = {
        {"url", EARSHOT_OPT_STRING, EARSHOT_OPT_REQUIRED, NULL,
         "the mail server: smtp://HOST:587 (STARTTLS) or smtps://HOST:465"},
        {"from", EARSHOT_OPT_STRING, EARSHOT_OPT_REQUIRED, NULL,
         "the sender: 'alerts@example.com' or 'earshot <alerts@example.com>'"},
        {"to", EARSHOT_OPT_STRLIST, EARSHOT_OPT_REQUIRED, NULL,
         "recipients: addresses, optionally 'Name <address>'"},
        {"user", EARSHOT_OPT_STRING, 0, NULL, "SMTP AUTH user name"},
        {"password", EARSHOT_OPT_STRING, EARSHOT_OPT_SECRET, NULL, "SMTP AUTH password"},
        {"starttls", EARSHOT_OPT_BOOL, 0, "true",
         "require STARTTLS on smtp://; false only for a loopback relay"},
        {"subject_prefix", EARSHOT_OPT_STRING, 0, "[earshot]", "put before every subject"},
        {.name = NULL},
};

NOTIFY_PLUGIN_DEFINE(email, "email", "send each alert as an e-mail over SMTP (STARTTLS or TLS)",
                     .response = email_response);
