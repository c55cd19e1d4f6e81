/* SPDX-License-Identifier: MIT */
/*
 * notify-util.h - what the notifiers share: secrets wiped when freed, control-character and
 * URL checks for options, the request of a JSON delivery, and the reading of a receiver's
 * error answer. For the chat notifiers (slack, discord, matrix, ntfy) above all: text made safe
 * to send (invalid UTF-8 replaced by U+FFFD, control characters dropped), escaping and
 * truncation to a receiver's limit in one pass (cut between characters, never inside one or
 * inside an escape, and marked with "…"), "due in 42m" / "overdue by 5m", severity ranks,
 * http(s) URL checks, and NotifyView: one alert read once into the cleaned strings every
 * notifier formats from.
 *
 * Header-only and static inline, like plugin-util.h (see there why). Needs cJSON, which every
 * JSON notifier uses to write its body and read a receiver's errors.
 *
 * Lengths. A receiver's limit in "characters" is counted here in UTF-16 code units, as the
 * JavaScript behind Slack and Discord counts string length: a character outside the BMP (most
 * emoji) counts 2. That never undercounts a limit stated in code points, so a text cut to N
 * units is within N characters however the receiver counts.
 */
#pragma once

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "earshot-plugin.h"
#include "plugin-json.h"
#include "plugin-util.h"

#define NOTIFY_ELLIPSIS "\xe2\x80\xa6" /* U+2026 "…": 3 bytes, 1 unit */
#define NOTIFY_REPLACEMENT "\xef\xbf\xbd" /* U+FFFD */
#define NOTIFY_NO_LIMIT SIZE_MAX

/* ---- state and options --------------------------------------------------------------------- */

/* Wipe and free a secret (a token, a password, a URL that is a credential); NULL is fine. */
static inline void notify_secret_free(char *s) {
        if (s) {
                explicit_bzero(s, strlen(s));
                free(s);
        }
}

/* Whether s holds a control character (C0 or DEL). */
static inline bool notify_has_control(const char *s) {
        for (; *s; s++)
                if ((unsigned char)*s < ' ' || *s == 0x7f)
                        return true;
        return false;
}

/*
 * Define NAME_destroyp(), which runs NAME_destroy() on *p, for the _cleanup_ of the state that
 * create() builds: on any failure the state so far goes, on success create() hands it over
 * with NOTIFY_TAKE().
 */
#define NOTIFY_DEFINE_DESTROYP(type, destroy)                                                      \
        static inline void destroy##p(type **p) {                                                  \
                destroy(*p);                                                                       \
        }

/*
 * The descriptor of the notifier `name_` whose parts are PREFIX_create, PREFIX_destroy,
 * PREFIX_deliver and PREFIX_options; the other fields of its earshot_notifier_ops (.response,
 * .min_interval_usec) follow the description, and are 0 when left out.
 */
#define NOTIFY_PLUGIN_DEFINE(prefix, name_, description_, ...)                                     \
        static const struct earshot_notifier_ops prefix##_ops = {                                  \
                .size = sizeof(struct earshot_notifier_ops),                                       \
                .create = prefix##_create,                                                         \
                .destroy = prefix##_destroy,                                                       \
                .deliver = prefix##_deliver,                                                       \
                __VA_ARGS__};                                                                      \
        EARSHOT_PLUGIN_DEFINE(.kind = EARSHOT_PLUGIN_NOTIFIER, .name = name_,                      \
                              .description = description_, .options = prefix##_options,            \
                              .notifier = &prefix##_ops)

/* The pointer p, which becomes NULL: hand over what a _cleanup_ variable holds. */
#define NOTIFY_TAKE(p)                                                                             \
        ({                                                                                         \
                __typeof__(p) _taken = (p);                                                        \
                (p) = NULL;                                                                        \
                _taken;                                                                            \
        })

/* The `username` option of a chat webhook: at most 80 characters on one line. */
static inline int notify_username_check(const char *username, char *err, size_t err_len) {
        if (username && (strlen(username) > 80 || strpbrk(username, "\r\n\t")))
                return set_error(err, err_len, "username: at most 80 characters on one line");
        return 0;
}

/* ---- UTF-8 --------------------------------------------------------------------------------- */

/*
 * Length of the valid UTF-8 sequence at s (RFC 3629: no overlongs, no surrogates, nothing
 * above U+10FFFF), or 0 if the byte at s does not start one. Reads no further than a NUL.
 */
static inline size_t notify_utf8_len(const unsigned char *s) {
        if (s[0] < 0x80)
                return 1;
        if (s[0] >= 0xc2 && s[0] <= 0xdf)
                return (s[1] & 0xc0) == 0x80 ? 2 : 0;
        if (s[0] >= 0xe0 && s[0] <= 0xef) {
                unsigned char lo = s[0] == 0xe0 ? 0xa0 : 0x80, hi = s[0] == 0xed ? 0x9f : 0xbf;
                return s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 ? 3 : 0;
        }
        if (s[0] >= 0xf0 && s[0] <= 0xf4) {
                unsigned char lo = s[0] == 0xf0 ? 0x90 : 0x80, hi = s[0] == 0xf4 ? 0x8f : 0xbf;
                return s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 && (s[3] & 0xc0) == 0x80
                               ? 4
                               : 0;
        }
        return 0;
}

/* Whether s is valid UTF-8 throughout. */
static inline bool notify_utf8_valid(const char *s) {
        for (const unsigned char *p = (const unsigned char *)s; *p;) {
                size_t n = notify_utf8_len(p);
                if (n == 0)
                        return false;
                p += n;
        }
        return true;
}

/* UTF-16 code units of valid UTF-8 s (a 4-byte sequence counts 2). */
static inline size_t notify_utf16_units(const char *s) {
        size_t n = 0;

        for (const unsigned char *p = (const unsigned char *)s; *p; p++)
                if ((*p & 0xc0) != 0x80)
                        n += *p >= 0xf0 ? 2 : 1;
        return n;
}

/* Flags of notify_clean(). */
#define NOTIFY_ONELINE UINT32_C(1) /* line breaks become blanks too */

/*
 * A malloc()ed copy of s (NULL reads as "") that is valid UTF-8 and holds no control
 * characters: each byte that does not start a valid sequence becomes U+FFFD; CR LF and a lone
 * CR become LF (or a blank with NOTIFY_ONELINE); a tab becomes a blank; other C0 controls and
 * DEL are dropped. NULL on OOM.
 */
static inline char *notify_clean(const char *s, uint32_t flags) {
        const unsigned char *p = (const unsigned char *)(s ? s : "");
        char *out = malloc(3 * strlen((const char *)p) + 1), *o = out;

        if (!out)
                return NULL;
        while (*p) {
                size_t n = notify_utf8_len(p);
                if (n == 0) {
                        o = stpcpy(o, NOTIFY_REPLACEMENT);
                        p++;
                } else if (*p == '\r' || *p == '\n') {
                        *o++ = flags & NOTIFY_ONELINE ? ' ' : '\n';
                        p += *p == '\r' && p[1] == '\n' ? 2 : 1;
                } else if (*p == '\t') {
                        *o++ = ' ';
                        p++;
                } else if (*p < 0x20 || *p == 0x7f) {
                        p++;
                } else {
                        memcpy(o, p, n);
                        o += n;
                        p += n;
                }
        }
        *o = 0;
        return out;
}

/* ---- escaping and truncation --------------------------------------------------------------- */

/*
 * An escaper: the replacement for the character of n bytes at c (c[0..n) is one valid UTF-8
 * character, line breaks included), or NULL to keep it as it is. `prev` is the character
 * before it (0 at the start). The result must be ASCII or valid UTF-8.
 */
typedef const char *(*notify_escape_fn)(const char *c, size_t n, uint32_t prev);

/*
 * s (valid UTF-8, e.g. from notify_clean()) with every character passed through esc (which
 * may be NULL), cut so that the result has at most max_units UTF-16 code units and max_bytes
 * bytes (NOTIFY_NO_LIMIT for none). Limits count the escaped text, as the receiver sees it. A
 * cut falls between two characters, never inside an escape; blanks and line breaks before it
 * are dropped, and "…" marks it (counted in the limit). max_units must be at least 1 and
 * max_bytes at least 3. A malloc()ed string, or NULL on OOM; *ret_cut (if not NULL) says
 * whether it was cut.
 */
static inline char *notify_escape(const char *s, notify_escape_fn esc, size_t max_units,
                                  size_t max_bytes, bool *ret_cut) {
        size_t cap = 8 * strlen(s) + 4, o = 0, units = 0, mark = 0;
        const unsigned char *p = (const unsigned char *)s;
        uint32_t prev = 0;
        bool cut = false;
        char *out;

        if (max_bytes != NOTIFY_NO_LIMIT && cap > max_bytes + 1)
                cap = max_bytes + 1;
        out = malloc(cap);
        if (!out)
                return NULL;
        while (*p) {
                size_t n = notify_utf8_len(p), pl, pu;
                const char *piece;

                if (n == 0)
                        n = 1; /* not UTF-8: the caller broke the contract; keep going */
                piece = esc ? esc((const char *)p, n, prev) : NULL;
                if (piece) {
                        pl = strlen(piece);
                        pu = notify_utf16_units(piece);
                } else {
                        piece = (const char *)p;
                        pl = n;
                        pu = n == 4 ? 2 : 1;
                }
                /* the last place where "…" still fits */
                if (units + 1 <= max_units && o + 3 <= max_bytes)
                        mark = o;
                if (units + pu > max_units || o + pl > max_bytes || o + pl + 1 > cap) {
                        cut = true;
                        break;
                }
                memcpy(out + o, piece, pl);
                o += pl;
                units += pu;
                prev = n == 1 ? p[0] : 0x80; /* only ASCII predecessors matter to escapers */
                p += n;
        }
        if (cut) {
                o = mark;
                while (o > 0 && (out[o - 1] == ' ' || out[o - 1] == '\n'))
                        o--;
                memcpy(out + o, NOTIFY_ELLIPSIS, 3);
                o += 3;
        }
        out[o] = 0;
        if (ret_cut)
                *ret_cut = cut;
        return out;
}

/* s cut to max_units UTF-16 units and max_bytes bytes with "…", nothing escaped. */
static inline char *notify_truncate(const char *s, size_t max_units, size_t max_bytes) {
        return notify_escape(s, NULL, max_units, max_bytes, NULL);
}

/* An escaper for markup that reads &, < and > (HTML, Slack): &amp;, &lt; and &gt;. */
static inline const char *notify_esc_markup(const char *c, size_t n, uint32_t prev) {
        if (n != 1)
                return NULL;
        switch (c[0]) {
        case '&':
                return "&amp;";
        case '<':
                return "&lt;";
        case '>':
                return "&gt;";
        }
        return NULL;
}

/* An escaper for HTML text and attribute values: & < > " ' as entities. */
static inline const char *notify_esc_html(const char *c, size_t n, uint32_t prev) {
        if (n == 1 && c[0] == '"')
                return "&quot;";
        if (n == 1 && c[0] == '\'')
                return "&#39;";
        return notify_esc_markup(c, n, prev);
}

/* ---- alerts -------------------------------------------------------------------------------- */

/* The severity as a rank: low 0, normal 1, high 2, critical 3; anything else is normal. */
static inline int notify_severity_rank(const char *severity) {
        static const char *const names[] = {"low", "normal", "high", "critical"};

        for (int i = 0; severity && i < 4; i++)
                if (strcasecmp(severity, names[i]) == 0)
                        return i;
        return 1;
}

/* A coloured circle for a severity rank (blue, yellow, orange, red), for chat titles. */
static inline const char *notify_severity_emoji(int rank) {
        static const char *const emoji[] = {
                "\xf0\x9f\x94\xb5", /* U+1F535 blue circle */
                "\xf0\x9f\x9f\xa1", /* U+1F7E1 yellow circle */
                "\xf0\x9f\x9f\xa0", /* U+1F7E0 orange circle */
                "\xf0\x9f\x94\xb4", /* U+1F534 red circle */
        };
        return emoji[rank < 0 || rank > 3 ? 1 : rank];
}

/* A span of seconds, coarsely: "45s", "42m", "3h", "3h 5m", "2d", "2d 4h". */
static inline void notify_span(int64_t sec, char *buf, size_t len) {
        if (sec < 60)
                (void)snprintf(buf, len, "%" PRId64 "s", sec);
        else if (sec < 3600)
                (void)snprintf(buf, len, "%" PRId64 "m", sec / 60);
        else if (sec < 86400) {
                if ((sec % 3600) / 60)
                        (void)snprintf(buf, len, "%" PRId64 "h %" PRId64 "m", sec / 3600,
                                       (sec % 3600) / 60);
                else
                        (void)snprintf(buf, len, "%" PRId64 "h", sec / 3600);
        } else if ((sec % 86400) / 3600)
                (void)snprintf(buf, len, "%" PRId64 "d %" PRId64 "h", sec / 86400,
                               (sec % 86400) / 3600);
        else
                (void)snprintf(buf, len, "%" PRId64 "d", sec / 86400);
}

/*
 * When an answer is due, seen from now (both µs since the epoch): "due in 42m", "overdue by
 * 5m", or "due now" within the same second; "" when due is unknown (0 or less). Whole units,
 * rounded down. Returns buf.
 */
static inline const char *notify_due(int64_t due_usec, int64_t now_usec, char *buf, size_t len) {
        char span[32];
        int64_t d;

        if (len == 0)
                return buf;
        buf[0] = 0;
        if (due_usec <= 0)
                return buf;
        d = due_usec - now_usec;
        if (d >= 1000000 || d <= -1000000) {
                notify_span((d < 0 ? -d : d) / 1000000, span, sizeof(span));
                (void)snprintf(buf, len, "%s %s", d > 0 ? "due in" : "overdue by", span);
        } else
                (void)snprintf(buf, len, "due now");
        return buf;
}

/* Whether url is an absolute http:// or https:// URL with a host and no blanks or controls. */
static inline bool notify_url_is_http(const char *url) {
        const char *rest = url ? url_skip_http(url) : NULL;

        if (!rest || !*rest || *rest == '/' || *rest == '?' || *rest == '#')
                return false;
        for (const unsigned char *c = (const unsigned char *)url; *c; c++)
                if (*c <= ' ' || *c == 0x7f)
                        return false;
        return true;
}

/*
 * Validate the URL of a receiver that is itself a credential (a Slack or Discord webhook):
 * http(s), a host, no blanks or control characters, no user info, and https:// unless the
 * host is loopback, so the secret never crosses a network in clear. -EINVAL with the reason
 * in err ("url: must use https://"; the URL itself is not repeated: it is a secret).
 */
static inline int notify_secret_url_check(const char *name, const char *url, char *err,
                                          size_t err_len) {
        const char *rest;
        size_t alen, hlen;

        if (!url || !*url)
                return set_error(err, err_len, "%s: the receiver's URL is needed", name);
        if (!notify_url_is_http(url))
                return set_error(err, err_len, "%s: is not an http:// or https:// URL", name);
        rest = url_skip_http(url);
        alen = strcspn(rest, "/?#");
        if (memchr(rest, '@', alen))
                return set_error(err, err_len, "%s: may not contain user credentials", name);
        hlen = rest[0] == '[' ? strcspn(rest, "]") + 1 : strcspn(rest, ":/?#");
        if (hlen > alen)
                hlen = alen;
        if (strncasecmp(url, "http://", 7) == 0 && !host_is_loopback(rest, hlen))
                return set_error(err, err_len,
                                 "%s: must use https:// (http:// is allowed for loopback hosts "
                                 "only)",
                                 name);
        return 0;
}

enum {
        NOTIFY_EVENT_NEW,
        NOTIFY_EVENT_ESCALATION,
        NOTIFY_EVENT_THREAD,
        NOTIFY_EVENT_DIGEST,
        NOTIFY_EVENT_TEST,
        NOTIFY_EVENT_OTHER,
};

/*
 * One alert, read once: every string owned, valid UTF-8 without control characters (text
 * keeps its line breaks), unescaped; each notifier escapes and cuts for its receiver.
 */
typedef struct NotifyView {
        int event;           /* NOTIFY_EVENT_* */
        unsigned escalation; /* N of "escalation-N", else 0 */
        int rank;            /* notify_severity_rank() */
        char *event_name;    /* "new", "escalation-2", ... */
        char *id;            /* the alert id */
        char *severity;      /* "high"; "normal" when the alert has none */
        char *brand;         /* NULL when none */
        char *rules;         /* "refunds, angry"; NULL when none */
        char *network;
        char *source;
        char *text;          /* the post text, line breaks kept; "" when empty */
        char *author;        /* "Alice (@alice@mastodon.social)", a name or a handle; or NULL */
        int64_t followers;   /* -1 when unknown */
        char *url;           /* the post's link when it is http(s); else NULL */
        char *message;       /* what this event says ("overdue by 5m"); NULL when nothing */
        char *title;         /* "HIGH · acme · refunds" (with "TEST · " for a test) */
        char *label;         /* "New alert", "Still unanswered (reminder 2)", ... */
        char due[48];        /* notify_due(); "" when unknown */
} NotifyView;

static inline void notify_view_done(NotifyView *v) {
        free(v->event_name);
        free(v->id);
        free(v->severity);
        free(v->brand);
        free(v->rules);
        free(v->network);
        free(v->source);
        free(v->text);
        free(v->author);
        free(v->url);
        free(v->message);
        free(v->title);
        free(v->label);
        *v = (NotifyView){.followers = -1};
}

/* A cleaned one-line copy of s, or NULL for NULL or ""; *oom set when malloc() failed. */
static inline char *notify_clean_opt(const char *s, bool *oom) {
        char *c;

        if (!s || !*s)
                return NULL;
        c = notify_clean(s, NOTIFY_ONELINE);
        if (!c)
                *oom = true;
        return c;
}

/*
 * Read alert a into *v (which the caller releases with notify_view_done(), also on failure),
 * judging the time left against host->now_usec(). 0, -EINVAL (no alert, no post) or -ENOMEM.
 */
static inline int notify_view_init(NotifyView *v, const struct earshot_host *h,
                                   const struct earshot_alert *a) {
        const struct earshot_post *p;
        const char *event;
        bool oom = false;
        size_t len = 0;

        *v = (NotifyView){.followers = -1};
        if (!a || !a->post)
                return -EINVAL;
        p = a->post;
        event = a->event && *a->event ? a->event : "new";

        v->event = NOTIFY_EVENT_OTHER;
        if (strcmp(event, "new") == 0)
                v->event = NOTIFY_EVENT_NEW;
        else if (strncmp(event, "escalation", 10) == 0) {
                v->event = NOTIFY_EVENT_ESCALATION;
                if (event[10] == '-') {
                        int64_t n = 0;
                        const char *q = event + 11;
                        if (parse_num(&q, 1000000, &n) == 0 && *q == 0)
                                v->escalation = (unsigned)n;
                }
        } else if (strcmp(event, "thread") == 0)
                v->event = NOTIFY_EVENT_THREAD;
        else if (strcmp(event, "digest") == 0)
                v->event = NOTIFY_EVENT_DIGEST;
        else if (strcmp(event, "test") == 0)
                v->event = NOTIFY_EVENT_TEST;

        v->rank = notify_severity_rank(a->severity);
        v->event_name = notify_clean(event, NOTIFY_ONELINE);
        v->id = notify_clean(a->id, NOTIFY_ONELINE);
        v->severity = notify_clean(a->severity && *a->severity ? a->severity : "normal",
                                   NOTIFY_ONELINE);
        v->brand = notify_clean_opt(a->brand, &oom);
        v->network = notify_clean(p->network, NOTIFY_ONELINE);
        v->source = notify_clean(a->source, NOTIFY_ONELINE);
        v->text = notify_clean(p->text, 0);
        if (!v->event_name || !v->id || !v->severity || !v->network || !v->source || !v->text ||
            oom)
                return -ENOMEM;

        for (const char *const *rule = a->rules; rule && *rule; rule++)
                len += strlen(*rule) + 2;
        if (len > 0) {
                _cleanup_free_ char *joined = malloc(len + 1);
                char *o = joined;
                if (!joined)
                        return -ENOMEM;
                for (const char *const *rule = a->rules; *rule; rule++)
                        o = stpcpy(o == joined ? o : stpcpy(o, ", "), *rule);
                v->rules = notify_clean(joined, NOTIFY_ONELINE);
                if (!v->rules)
                        return -ENOMEM;
        }

        if (v->event != NOTIFY_EVENT_DIGEST) {
                _cleanup_free_ char *name = notify_clean_opt(p->author_name, &oom);
                _cleanup_free_ char *handle = notify_clean_opt(p->author_handle, &oom);
                if (oom)
                        return -ENOMEM;
                if (name && handle)
                        v->author = strjoin(name, " (@", handle, ")");
                else if (handle)
                        v->author = strjoin("@", handle);
                else if (name)
                        v->author = strdup(name);
                if ((name || handle) && !v->author)
                        return -ENOMEM;
                v->followers = p->author_followers >= 0 ? p->author_followers : -1;
                if (notify_url_is_http(p->url)) {
                        v->url = strdup(p->url);
                        if (!v->url)
                                return -ENOMEM;
                }
        }
        if (EARSHOT_ALERT_HAS(a, message)) {
                v->message = notify_clean_opt(a->message, &oom);
                if (oom)
                        return -ENOMEM;
        }
        (void)notify_due(a->due_usec, h->now_usec(h), v->due, sizeof(v->due));

        /* "HIGH · acme · refunds, angry" */
        char sev[32];
        (void)snprintf(sev, sizeof(sev), "%s", v->severity);
        for (char *c = sev; *c; c++)
                if (*c >= 'a' && *c <= 'z')
                        *c = (char)(*c - 'a' + 'A');
        v->title = strjoin(v->event == NOTIFY_EVENT_TEST ? "TEST \xc2\xb7 " : "", sev,
                           v->brand ? " \xc2\xb7 " : "", v->brand ? v->brand : "",
                           v->rules ? " \xc2\xb7 " : "", v->rules ? v->rules : "");
        if (!v->title)
                return -ENOMEM;

        char label[96] = "Alert";
        switch (v->event) {
        case NOTIFY_EVENT_NEW:
                (void)snprintf(label, sizeof(label), "New alert");
                break;
        case NOTIFY_EVENT_ESCALATION:
                if (v->escalation > 1)
                        (void)snprintf(label, sizeof(label), "Still unanswered (reminder %u)",
                                       v->escalation);
                else
                        (void)snprintf(label, sizeof(label), "Still unanswered");
                break;
        case NOTIFY_EVENT_THREAD:
                (void)snprintf(label, sizeof(label), "The author posted again");
                break;
        case NOTIFY_EVENT_DIGEST:
                (void)snprintf(label, sizeof(label), "Digest of alerts");
                break;
        case NOTIFY_EVENT_TEST:
                (void)snprintf(label, sizeof(label),
                               "TEST notification (a sample from earshotctl notify-test)");
                break;
        }
        v->label = strdup(label);
        return v->label ? 0 : -ENOMEM;
}

/* ---- JSON ---------------------------------------------------------------------------------- */

/*
 * Add item to obj under key (or to an array when key is NULL), taking ownership of item;
 * false when item is NULL (a failed create) or cannot be added (freed then).
 */
static inline bool notify_json_add(cJSON *obj, const char *key, cJSON *item) {
        bool ok;

        if (!item)
                return false;
        ok = key ? cJSON_AddItemToObject(obj, key, item) : cJSON_AddItemToArray(obj, item);
        if (!ok)
                cJSON_Delete(item);
        return ok;
}

/* Add a string that the caller owns (malloc()ed), freeing it; false on NULL or failure. */
static inline bool notify_json_take(cJSON *obj, const char *key, char *s) {
        bool ok = s && notify_json_add(obj, key, cJSON_CreateString(s));
        free(s);
        return ok;
}

/* A response body as one log-safe line of at most 200 bytes, into buf. */
static inline const char *notify_body_line(const struct earshot_response *resp, char *buf,
                                           size_t len) {
        char tmp[201];
        size_t n = resp->body ? resp->body_len : 0;

        if (n > sizeof(tmp) - 1)
                n = sizeof(tmp) - 1;
        if (n)
                memcpy(tmp, resp->body, n);
        tmp[n] = 0;
        for (size_t i = 0; i < n; i++)
                if (tmp[i] == 0)
                        tmp[i] = ' ';
        _cleanup_free_ char *clean = notify_clean(tmp, NOTIFY_ONELINE);
        (void)text_oneline(buf, len, clean ? clean : "", NULL);
        return buf;
}

/* ---- lines every chat notifier writes ------------------------------------------------------ */

/*
 * "New alert on mastodon, due in 42m" (with_label) or " on mastodon, due in 42m"; a digest
 * names no network. NULL on OOM.
 */
static inline char *notify_summary(const NotifyView *v, bool with_label) {
        bool digest = v->event == NOTIFY_EVENT_DIGEST;

        return strjoin(with_label ? v->label : "", digest ? "" : " on ", digest ? "" : v->network,
                       v->due[0] ? ", " : "", v->due);
}

/* "Alice (@alice@host) · 1200 followers", or NULL when nothing is known; *oom on failure. */
static inline char *notify_reach(const NotifyView *v, bool *oom) {
        char buf[64];
        char *s;

        if (!v->author && v->followers < 0)
                return NULL;
        (void)snprintf(buf, sizeof(buf), "%s%" PRId64 " followers", v->author ? " \xc2\xb7 " : "",
                       v->followers);
        s = strjoin(v->author ? v->author : "", v->followers >= 0 ? buf : "");
        if (!s)
                *oom = true;
        return s;
}

/* ---- deliver() and response() -------------------------------------------------------------- */

/*
 * Make req a `method` of url with a JSON body: Content-Type content_type ("application/json"
 * when NULL), and "Authorization: <authorization>" unless that is NULL. The body follows with
 * notify_request_send().
 */
static inline int notify_request_json(const struct earshot_host *h, struct earshot_request *req,
                                      const char *method, const char *url, const char *content_type,
                                      const char *authorization) {
        int r;

        r = h->request_method(req, method);
        if (r < 0)
                return r;
        r = h->request_url(req, url);
        if (r < 0)
                return r;
        r = h->request_header(req, "Content-Type",
                              content_type ? content_type : "application/json");
        if (r < 0)
                return r;
        return authorization ? h->request_header(req, "Authorization", authorization) : 0;
}

/* Attach the string body to req: EARSHOT_SEND, or a negative errno. */
static inline int notify_request_send(const struct earshot_host *h, struct earshot_request *req,
                                      const char *body) {
        int r = h->request_body(req, body, strlen(body));
        return r < 0 ? r : EARSHOT_SEND;
}

/* A chat notifier's body builder: the JSON for view v of alert a into *ret (malloc()ed). */
typedef int (*notify_build_fn)(void *state, const NotifyView *v, const struct earshot_alert *a,
                               char **ret);

/* The body for alert a: a read into a NotifyView (against h's clock), then build(state, ...). */
static inline int notify_body_build(const struct earshot_host *h, const struct earshot_alert *a,
                                    notify_build_fn build, void *state, char **ret) {
        _cleanup_(notify_view_done) NotifyView v = {0};
        int r;

        r = notify_view_init(&v, h, a);
        if (r < 0)
                return r;
        return build(state, &v, a, ret);
}

/*
 * deliver() of a chat notifier that POSTs its body to one URL: notify_body_build(), then
 * notify_request_json() with content_type and authorization (both may be NULL).
 */
static inline int notify_deliver_post(const struct earshot_host *h, struct earshot_request *req,
                                      const struct earshot_alert *a, notify_build_fn build,
                                      void *state, const char *url, const char *content_type,
                                      const char *authorization) {
        _cleanup_free_ char *body = NULL;
        int r;

        r = notify_body_build(h, a, build, state, &body);
        if (r < 0)
                return r;
        r = notify_request_json(h, req, "POST", url, content_type, authorization);
        if (r < 0)
                return r;
        return notify_request_send(h, req, body);
}

/* The body of a failed answer (status 400 or more) as JSON, or NULL; cJSON_Delete() it. */
static inline cJSON *notify_error_json(const struct earshot_response *resp) {
        const char *why = NULL;
        cJSON *j = NULL;

        if (resp->status >= 400 && json_load(resp, &j, &why) == 0)
                return j;
        return NULL;
}

/*
 * The receiver's reason for a failed answer as one log-safe line into buf: the string under key
 * in j (its body as JSON, from notify_error_json(); may be NULL), else the body itself, as
 * notify_body_line() gives it. Returns buf.
 */
static inline const char *notify_error_line(const struct earshot_response *resp, const cJSON *j,
                                            const char *key, char *buf, size_t len) {
        const char *s = j ? json_str(j, key) : NULL;

        if (s)
                return text_oneline(buf, len, s, NULL);
        return notify_body_line(resp, buf, len);
}
