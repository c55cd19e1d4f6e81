/* SPDX-License-Identifier: MIT */
/*
 * log.c - every alert as one NOTICE line in earshot's own log, for the demo, for trying rules,
 * and as a last resort beside a real notifier:
 *
 *   ALERT 7f3c… [high] refund,angry mastodon @alice@mastodon.social (1200 followers):
 *   "My order never arrived…" due in 59m https://mastodon.social/@alice/1
 *
 * (one line; "overdue by 5m" once the due time has passed). The post's text, handle and URL
 * are put on one line (runs of line breaks and other control characters become one space, so a
 * post cannot forge log lines), and the text is cut to at most 160 bytes on a UTF-8 character
 * boundary, with "…" when cut. Unknown parts are left out: no "@handle" without a handle, no
 * follower count when it is unknown, no URL without one. Delivery cannot fail: the plugin never
 * asks the core to send anything and always answers EARSHOT_DELIVERED.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "earshot-plugin.h"
#include "notify-util.h"
#include "plugin-util.h"

#define TEXT_MAX 160 /* bytes of post text in the line */
#define ELLIPSIS "\xe2\x80\xa6"

typedef struct LogNotifier {
        const struct earshot_host *host; /* borrowed, valid until destroy */
} LogNotifier;

static int log_create(const struct earshot_host *host, const struct earshot_values *vals, char *err,
                      size_t err_len, void **ret_state) {
        LogNotifier *l = calloc(1, sizeof(*l));

        if (!l)
                return -ENOMEM;
        l->host = host;
        *ret_state = l;
        return 0;
}

static void log_destroy(void *state) {
        free(state);
}

/* s on one line, at most max bytes plus "…" when cut. */
static char *flatten(const char *s, size_t max) {
        size_t n = 0;
        char *out = malloc(strlen(s) + sizeof(ELLIPSIS));
        bool blank = false;

        if (!out)
                return NULL;
        for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
                bool control = *p < ' ' || *p == 0x7f;
                if (control && blank)
                        continue; /* one space for a run of them */
                out[n++] = control ? ' ' : (char)*p;
                blank = control;
        }
        if (n > max) {
                /* back to the start of the character that would not fit whole */
                n = max;
                while (n > 0 && ((unsigned char)out[n] & 0xc0) == 0x80)
                        n--;
                while (n > 0 && out[n - 1] == ' ')
                        n--;
                memcpy(out + n, ELLIPSIS, sizeof(ELLIPSIS) - 1);
                n += sizeof(ELLIPSIS) - 1;
        }
        out[n] = 0;
        return out;
}

/* "2d3h", "1h05m", "59m", "45s", as earshot prints durations elsewhere. */
static void format_span(char *buf, size_t len, int64_t usec) {
        int64_t s = usec / 1000000;

        if (s >= 86400)
                (void)snprintf(buf, len, "%" PRId64 "d%" PRId64 "h", s / 86400, s % 86400 / 3600);
        else if (s >= 3600)
                (void)snprintf(buf, len, "%" PRId64 "h%02" PRId64 "m", s / 3600, s % 3600 / 60);
        else if (s >= 60)
                (void)snprintf(buf, len, "%" PRId64 "m", s / 60);
        else
                (void)snprintf(buf, len, "%" PRId64 "s", s);
}

/* "a,b,c", or "-" when no rule is named. */
static char *rules_join(const char *const *rules) {
        size_t len = 1;
        char *out, *o;

        for (const char *const *r = rules; r && *r; r++)
                len += strlen(*r) + 1;
        out = o = malloc(len + 1);
        if (!out)
                return NULL;
        *o = 0;
        for (const char *const *r = rules; r && *r; r++) {
                if (o != out)
                        *o++ = ',';
                o = stpcpy(o, *r);
        }
        if (o == out)
                strcpy(out, "-");
        return out;
}

static int log_deliver(void *state, const struct earshot_alert *alert,
                       struct earshot_request *req) {
        LogNotifier *l = state;
        const struct earshot_host *h = l->host;
        const struct earshot_post *p;
        _cleanup_free_ char *text = NULL, *rules = NULL, *handle = NULL, *url = NULL;
        char followers[48] = "", due[48], span[32];
        int64_t now;

        if (!alert || !alert->post)
                return -EINVAL;
        p = alert->post;

        /* what came from the network cannot break the line */
        text = flatten(p->text ? p->text : "", TEXT_MAX);
        handle = p->author_handle ? flatten(p->author_handle, SIZE_MAX) : NULL;
        url = p->url ? flatten(p->url, SIZE_MAX) : NULL;
        rules = rules_join(alert->rules);
        if (!text || !rules || (p->author_handle && !handle) || (p->url && !url))
                return -ENOMEM;

        if (p->author_followers >= 0)
                (void)snprintf(followers, sizeof(followers), " (%" PRId64 " followers)",
                               p->author_followers);

        now = h->now_usec(h);
        if (alert->due_usec < now) {
                format_span(span, sizeof(span), now - alert->due_usec);
                (void)snprintf(due, sizeof(due), "overdue by %s", span);
        } else {
                format_span(span, sizeof(span), alert->due_usec - now);
                (void)snprintf(due, sizeof(due), "due in %s", span);
        }

        h->log(h, EARSHOT_LOG_NOTICE, "ALERT %s [%s] %s %s%s%s%s: \"%s\" %s%s%s",
               alert->id ? alert->id : "?", alert->severity ? alert->severity : "?", rules,
               p->network ? p->network : "?", handle ? " @" : "", handle ? handle : "", followers,
               text, due, url ? " " : "", url ? url : "");
        return EARSHOT_DELIVERED;
}

static const struct earshot_option log_options[] = {
        {.name = NULL},
};

NOTIFY_PLUGIN_DEFINE(log, "log", "write each alert as one line to earshot's log");
