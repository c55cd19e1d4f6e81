/* SPDX-License-Identifier: MIT */
/*
 * journal.c - every alert as one structured record in the systemd journal, where `journalctl`
 * filters, follows and exports it and any log shipper picks it up:
 *
 *   journalctl -u earshot MESSAGE_ID=a145322d21c54029ba1a428709bbcd42   every alert
 *   journalctl -u earshot SEVERITY=critical -f                          follow the worst
 *   journalctl -u earshot ALERT_ID=7f3c…                                one alert's events
 *   journalctl -u earshot RULE=refund -o json                           as JSON, per rule
 *
 * The record, sent through the core (host->log_fields: to the journal when earshotd's standard
 * error is connected to it, else one log line "MESSAGE KEY=value ..."):
 *
 *   MESSAGE     alert 7f3c…: high complaint on mastodon by @alice@example.social (rule
 *               refund): My order never arrived…   (the post's first 200 characters; "rules
 *               a, b" for several; a later event names itself: "alert 7f3c… escalation-1: …")
 *   PRIORITY    from the severity: critical err (3), high warning (4), normal notice (5),
 *               low info (6). earshotd's log level applies: at `log_level: notice`, alerts of
 *               severity low are not recorded.
 *   MESSAGE_ID  a145322d21c54029ba1a428709bbcd42, the same for every alert record
 *   ALERT_ID, EVENT ("new", "escalation-N", "thread", "digest", "test"), RULE (once per
 *   matched rule), BRAND, NETWORK, SEVERITY, DUE_AT (RFC 3339 UTC), SOURCE (the source's name
 *   in the config), POST_URL, AUTHOR (the handle), STATE ("open", ...)
 *
 * A field whose value is unknown (no brand, no URL, no author) is left out. Values come from
 * the network, so each is put on one line (line breaks and other control characters become a
 * space) and cut to at most 4 KiB on a UTF-8 character boundary. Delivery cannot fail short of
 * running out of memory: the plugin never asks the core to send anything and answers
 * EARSHOT_DELIVERED once the record is handed over.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "earshot-plugin.h"
#include "notify-util.h"
#include "plugin-util.h"

/* `systemd-id128 new`, once: what `journalctl MESSAGE_ID=` finds alert records by. */
#define ALERT_MESSAGE_ID "a145322d21c54029ba1a428709bbcd42"

#define VALUE_MAX 4096 /* bytes of one field's value */
#define TEXT_CHARS 200 /* characters of the post's text in MESSAGE */
#define ELLIPSIS "\xe2\x80\xa6"

typedef struct JournalNotifier {
        const struct earshot_host *host; /* borrowed, valid until destroy */
} JournalNotifier;

static int journal_create(const struct earshot_host *host, const struct earshot_values *vals,
                          char *err, size_t err_len, void **ret_state) {
        JournalNotifier *j;

        if (!EARSHOT_HOST_HAS(host, log_fields))
                return set_error(err, err_len,
                                 "this earshotd cannot write structured records "
                                 "(earshot 0.3 or later is needed)");
        j = calloc(1, sizeof(*j));
        if (!j)
                return -ENOMEM;
        j->host = host;
        *ret_state = j;
        return 0;
}

static void journal_destroy(void *state) {
        free(state);
}

/* The length of s cut to at most max bytes, backed up to the start of a UTF-8 character. */
static size_t utf8_cut(const char *s, size_t len, size_t max) {
        if (len <= max)
                return len;
        while (max > 0 && ((unsigned char)s[max] & 0xc0) == 0x80)
                max--;
        return max;
}

/* "KEY=value" with the value on one line (a run of control characters is one space), cut to
 * VALUE_MAX bytes; NULL on OOM. */
static char *field(const char *key, const char *value) {
        size_t klen = strlen(key), n = 0;
        char *out = malloc(klen + 1 + strlen(value) + 1), *v;
        bool blank = false;

        if (!out)
                return NULL;
        memcpy(out, key, klen);
        out[klen] = '=';
        v = out + klen + 1;
        for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
                bool control = *p < ' ' || *p == 0x7f;
                if (control && blank)
                        continue;
                v[n++] = control ? ' ' : (char)*p;
                blank = control;
        }
        v[utf8_cut(v, n, VALUE_MAX)] = 0;
        return out;
}

/* The first `chars` characters of s, with "…" when there were more; NULL on OOM. Control
 * characters are left for field() to flatten. */
static char *text_head(const char *s, size_t chars) {
        size_t n = 0, seen = 0;

        for (; s[n]; n++)
                if (((unsigned char)s[n] & 0xc0) != 0x80 && seen++ == chars)
                        break;
        if (!s[n])
                return strdup(s);
        char *out = malloc(n + sizeof(ELLIPSIS));
        if (!out)
                return NULL;
        memcpy(out, s, n);
        memcpy(out + n, ELLIPSIS, sizeof(ELLIPSIS));
        return out;
}

/* "refund, angry"; "" when no rule is named; NULL on OOM. */
static char *rules_join(const char *const *rules) {
        size_t len = 1;
        char *out, *o;

        for (const char *const *r = rules; r && *r; r++)
                len += strlen(*r) + 2;
        out = o = malloc(len);
        if (!out)
                return NULL;
        *o = 0;
        for (const char *const *r = rules; r && *r; r++)
                o = stpcpy(o != out ? stpcpy(o, ", ") : o, *r);
        return out;
}

static int severity_priority(const char *severity) {
        if (!severity)
                return EARSHOT_LOG_NOTICE;
        if (strcmp(severity, "critical") == 0)
                return EARSHOT_LOG_ERR;
        if (strcmp(severity, "high") == 0)
                return EARSHOT_LOG_WARNING;
        if (strcmp(severity, "low") == 0)
                return EARSHOT_LOG_INFO;
        return EARSHOT_LOG_NOTICE;
}

typedef struct Fields {
        char **v; /* NULL-terminated once done */
        size_t n, cap;
        bool oom;
} Fields;

/* Add KEY=value unless value is NULL. */
static void fields_add(Fields *f, const char *key, const char *value) {
        char *s;

        if (!value || f->oom)
                return;
        s = field(key, value);
        if (!s || f->n + 2 > f->cap) {
                free(s);
                f->oom = true;
                return;
        }
        f->v[f->n++] = s;
        f->v[f->n] = NULL;
}

static int journal_deliver(void *state, const struct earshot_alert *alert,
                           struct earshot_request *req) {
        JournalNotifier *j = state;
        const struct earshot_host *h = j->host;
        const struct earshot_post *p;
        const char *event = NULL, *state_name = NULL;
        _cleanup_free_ char *rules = NULL, *head = NULL, *message = NULL, *message_line = NULL;
        char due[64];
        size_t n_rules = 0;
        bool later;
        int r;

        if (!alert || !alert->post || !alert->id || !*alert->id)
                return -EINVAL;
        p = alert->post;
        if (EARSHOT_ALERT_HAS(alert, event))
                event = alert->event;
        if (EARSHOT_ALERT_HAS(alert, state))
                state_name = alert->state;

        for (const char *const *rl = alert->rules; rl && *rl; rl++)
                n_rules++;
        rules = rules_join(alert->rules);
        head = text_head(p->text ? p->text : "", TEXT_CHARS);
        if (!rules || !head)
                return -ENOMEM;
        later = event && *event && strcmp(event, "new") != 0;
        if (asprintf(&message, "alert %s%s%s: %s complaint on %s%s%s%s%s%s: %s", alert->id,
                     later ? " " : "", later ? event : "",
                     alert->severity ? alert->severity : "unrated",
                     p->network ? p->network : "an unknown network",
                     p->author_handle ? " by @" : "", p->author_handle ? p->author_handle : "",
                     n_rules == 0   ? ""
                     : n_rules == 1 ? " (rule "
                                    : " (rules ",
                     rules, n_rules ? ")" : "", head) < 0) {
                message = NULL;
                return -ENOMEM;
        }
        /* the same flattening as the fields: one line, 4 KiB at most */
        message_line = field("M", message);
        if (!message_line)
                return -ENOMEM;

        Fields f = {.cap = 16 + n_rules};
        f.v = calloc(f.cap, sizeof(char *));
        if (!f.v)
                return -ENOMEM;
        fields_add(&f, "MESSAGE_ID", ALERT_MESSAGE_ID);
        fields_add(&f, "ALERT_ID", alert->id);
        fields_add(&f, "EVENT", event && *event ? event : "new");
        for (size_t i = 0; i < n_rules; i++)
                fields_add(&f, "RULE", alert->rules[i]);
        fields_add(&f, "BRAND", alert->brand);
        fields_add(&f, "NETWORK", p->network);
        fields_add(&f, "SEVERITY", alert->severity);
        fields_add(&f, "DUE_AT",
                   alert->due_usec > 0 ? h->format_time(alert->due_usec, due, sizeof(due)) : NULL);
        fields_add(&f, "SOURCE", alert->source);
        fields_add(&f, "POST_URL", p->url);
        fields_add(&f, "AUTHOR", p->author_handle);
        fields_add(&f, "STATE", state_name);

        r = f.oom ? -ENOMEM
                  : h->log_fields(h, severity_priority(alert->severity), message_line + 2,
                                  (const char *const *)f.v);
        strv_free_n(f.v, f.n);
        if (r < 0)
                return r;
        return EARSHOT_DELIVERED;
}

static const struct earshot_option journal_options[] = {
        {.name = NULL},
};

NOTIFY_PLUGIN_DEFINE(journal, "journal",
                     "write each alert as one structured record to the journal");
