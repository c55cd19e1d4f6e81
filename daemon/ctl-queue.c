/* SPDX-License-Identifier: MIT */
/*
 * ctl-queue.c - the commands a social-media team works the alert queue with, on the daemon's
 * own store while it runs:
 *
 *   list                 what is on the clock, soonest due first (filters, --json)
 *   show ID              one alert: the post, its author, thread and copies, its history
 *   ack | respond | resolve | reopen | mute | false-positive ID...
 *                        change states, one transaction per alert, with who and why
 *   stats                the team's figures (computed in ctl-stats.c)
 *
 * An alert is named by its id or any unique prefix of it (the lists show the first 8 hex
 * digits). The moves allowed are queue.c's (alert_transition()); this file only says what went
 * wrong in words a person can act on ("reopen it first"). Every command exits with the same
 * codes (CTL_EXIT_*): 0 done, 1 an alert named could not be shown or changed, 2 a bad command
 * line, 3 the store could not be used; a store that cannot be used is named by its path, and
 * nothing is changed in it.
 *
 * Text from the networks is data, never terminal commands: control characters (escape
 * sequences included) and bidirectional overrides are dropped from everything printed.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "earshot-build.h"
#include "util/cleanup.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(cJSON *, cJSON_Delete);

#define SHORT_ID 8      /* hex digits the lists show */
#define TEXT_CELLS 60   /* of the post in `list` */
#define MAX_BY 100      /* bytes of --by */
#define MAX_NOTE 2000   /* bytes of --note */

/* ---- text that is safe to print ------------------------------------------------------------ */

/* One code point from s (at least one byte): its length in bytes, and *ret_cp; -1 in *ret_cp
 * for an invalid sequence (the bytes up to where it broke). */
static size_t utf8_next(const unsigned char *s, int32_t *ret_cp) {
        size_t len = *s < 0x80 ? 1 : (*s & 0xe0) == 0xc0 ? 2 : (*s & 0xf0) == 0xe0 ? 3
                                                     : (*s & 0xf8) == 0xf0 ? 4 : 0;
        int32_t cp;
        if (len == 0) {
                *ret_cp = -1;
                return 1;
        }
        cp = len == 1 ? *s : len == 2 ? *s & 0x1f : len == 3 ? *s & 0x0f : *s & 0x07;
        for (size_t i = 1; i < len; i++) {
                if ((s[i] & 0xc0) != 0x80) {
                        *ret_cp = -1;
                        return i; /* stops at a NUL too */
                }
                cp = cp << 6 | (s[i] & 0x3f);
        }
        *ret_cp = cp;
        return len;
}

static bool is_blank(int32_t cp) {
        return cp == ' ' || (cp >= '\t' && cp <= '\r') || cp == 0x2028 || cp == 0x2029;
}

/* C0 and C1 controls, DEL, and the bidirectional embeddings, overrides and isolates that could
 * make a line read other than it is */
static bool is_control(int32_t cp) {
        return (cp >= 0 && cp < 0x20) || (cp >= 0x7f && cp <= 0x9f) || (cp >= 0x202a && cp <= 0x202e) ||
               (cp >= 0x2066 && cp <= 0x2069);
}

/*
 * s made safe for a terminal (malloc()ed; NULL on OOM): controls dropped; one_line turns every
 * blank run into one space and trims, otherwise line breaks stay and tabs become spaces. At
 * most max code points (0: no limit), the last one "…" where the text was cut; an invalid
 * UTF-8 sequence shows as U+FFFD. *ret_cells: code points written (a cell each, near enough for
 * alignment).
 */
static char *clean_text(const char *s, size_t max, bool one_line, size_t *ret_cells) {
        const unsigned char *p = (const unsigned char *)(s ? s : "");
        size_t len = strlen((const char *)p), cells = 0, mark_cells = 0;
        char *out = malloc(len * 3 + 4), *o = out; /* an invalid byte becomes 3 */
        char *mark = out;  /* where "…" goes if the text does not fit: after max - 1 cells */
        bool space = true; /* a blank is pending (dropped at the start) */

        if (!out)
                return NULL;
        while (*p) {
                int32_t cp;
                size_t n = utf8_next(p, &cp);
                if (one_line && is_blank(cp)) {
                        p += n;
                        space = true;
                        continue;
                }
                if (!one_line && (cp == '\n' || cp == 0x2028 || cp == 0x2029)) {
                        *o++ = '\n';
                        p += n;
                        continue;
                }
                if (!one_line && is_blank(cp) && cp != '\r')
                        cp = ' ';
                else if (is_control(cp)) {
                        p += n;
                        continue;
                }
                bool blank_first = space && cells > 0 && one_line;
                if (max > 0 && cells + blank_first + 1 > max) {
                        o = mark;
                        memcpy(o, "…", strlen("…"));
                        o += strlen("…");
                        cells = mark_cells + 1;
                        break;
                }
                if (blank_first) {
                        *o++ = ' ';
                        cells++;
                }
                space = false;
                if (cp < 0) {
                        memcpy(o, "\xef\xbf\xbd", 3);
                        o += 3;
                } else if (cp == ' ') {
                        *o++ = ' ';
                } else {
                        memcpy(o, p, n);
                        o += n;
                }
                cells++;
                p += n;
                if (max > 0 && cells < max) {
                        mark = o;
                        mark_cells = cells;
                }
        }
        *o = 0;
        if (ret_cells)
                *ret_cells = cells;
        return out;
}

/* A table cell: the clean text padded (or cut) to width cells. */
static void print_cell(FILE *f, const char *s, size_t width) {
        size_t cells = 0;
        _cleanup_free_ char *c = clean_text(s, width, true, &cells);
        fputs(c ? c : "", f);
        for (; cells < width; cells++)
                fputc(' ', f);
}

static size_t cell_width(const char *s, size_t max) {
        size_t cells = 0;
        _cleanup_free_ char *c = clean_text(s, max, true, &cells);
        return cells;
}

static size_t max_size(size_t a, size_t b) {
        return a > b ? a : b;
}

/* ---- alerts as the team sees them ---------------------------------------------------------- */

static AlertState alert_state(const Alert *a) {
        return alert_state_from_string(a->state);
}

static bool alert_overdue(const Alert *a, int64_t now) {
        return alert_state_active(alert_state(a)) && a->due_usec < now;
}

/* On the clock and due within a quarter of its target */
static bool alert_due_soon(const Alert *a, int64_t now) {
        return alert_state_active(alert_state(a)) && a->due_usec >= now &&
               a->due_usec - now <= a->respond_within_usec / 4;
}

/* "due in 12m", "overdue 1h05m"; "-" once nobody is on the clock any more */
static const char *time_left(char *buf, size_t len, const Alert *a, int64_t now) {
        char d[32];
        if (!alert_state_active(alert_state(a)))
                snprintf(buf, len, "-");
        else if (a->due_usec >= now)
                snprintf(buf, len, "due in %s", format_duration(d, sizeof(d), (usec_t)(a->due_usec - now)));
        else
                snprintf(buf, len, "overdue %s", format_duration(d, sizeof(d), (usec_t)(now - a->due_usec)));
        return buf;
}

/* "acme/refunds,billing": the brand (may be NULL) and the rules of a JSON list; "-" for
 * neither. An unescaped JSON string is never longer than its escaped form, so the list's
 * length bounds the result. */
static char *brand_rules(const char *brand, const char *rules_json) {
        _cleanup_(cJSON_Deletep) cJSON *rules = cJSON_Parse(rules_json ? rules_json : "[]");
        size_t len = (brand ? strlen(brand) : 0) + 2 + (rules_json ? strlen(rules_json) : 0);
        char *out = malloc(len + 2), *o = out;
        const cJSON *it;
        bool first = true;

        if (!out)
                return NULL;
        o += sprintf(o, "%s", brand ? brand : "");
        cJSON_ArrayForEach(it, rules) {
                if (!cJSON_IsString(it))
                        continue;
                o += sprintf(o, "%s%s", first ? (brand ? "/" : "") : ",", it->valuestring);
                first = false;
        }
        if (o == out)
                strcpy(out, "-");
        return out;
}

static void add_str(cJSON *o, const char *key, const char *v) {
        if (v)
                cJSON_AddStringToObject(o, key, v);
        else
                cJSON_AddNullToObject(o, key);
}

static void add_time(cJSON *o, const char *key, int64_t usec) {
        char ts[32];
        add_str(o, key, usec > 0 ? format_timestamp(ts, sizeof(ts), usec) : NULL);
}

static void add_count(cJSON *o, const char *key, int64_t v) {
        if (v >= 0)
                cJSON_AddNumberToObject(o, key, (double)v);
        else
                cJSON_AddNullToObject(o, key);
}

/* floor((a - b) / 1 s): negative exactly when a < b */
static int64_t seconds_between(int64_t a, int64_t b) {
        int64_t d = a - b, s = d / (int64_t)USEC_PER_SEC;
        return d < 0 && d % (int64_t)USEC_PER_SEC ? s - 1 : s;
}

/* Every field of an alert; times RFC 3339 UTC (null when not reached), durations in seconds. */
static cJSON *alert_json(const Alert *a, int64_t now) {
        cJSON *o = cJSON_CreateObject();
        bool active = alert_state_active(alert_state(a));

        if (!o)
                return NULL;
        add_str(o, "id", a->id);
        add_str(o, "state", a->state);
        add_str(o, "severity", a->severity);
        cJSON_AddNumberToObject(o, "priority", a->priority);
        cJSON *rules = cJSON_Parse(a->rules_json ? a->rules_json : "[]");
        cJSON_AddItemToObject(o, "rules", rules ? rules : cJSON_CreateArray());
        add_str(o, "brand", a->brand);
        add_str(o, "network", a->network);
        add_str(o, "source", a->source);
        add_str(o, "feed", a->feed);
        add_str(o, "post_id", a->post_id);
        add_str(o, "post_key", a->post_key);
        add_str(o, "url", a->url);
        add_str(o, "text", a->text);
        add_str(o, "lang", a->lang);
        add_str(o, "author_handle", a->author_handle);
        add_str(o, "author_name", a->author_name);
        add_count(o, "author_followers", a->author_followers);
        add_count(o, "replies", a->replies);
        add_count(o, "reposts", a->reposts);
        add_count(o, "likes", a->likes);
        add_time(o, "created_at", a->created_usec);
        add_time(o, "detected_at", a->detected_usec);
        add_time(o, "due_at", a->due_usec);
        cJSON_AddNumberToObject(o, "respond_within",
                                (double)(a->respond_within_usec / (int64_t)USEC_PER_SEC));
        if (active)
                cJSON_AddNumberToObject(o, "seconds_left", (double)seconds_between(a->due_usec, now));
        else
                cJSON_AddNullToObject(o, "seconds_left");
        cJSON_AddBoolToObject(o, "overdue", alert_overdue(a, now));
        cJSON_AddBoolToObject(o, "late", a->late_usec > 0);
        cJSON_AddNumberToObject(o, "late_by", (double)(a->late_usec / (int64_t)USEC_PER_SEC));
        cJSON_AddNumberToObject(o, "posts", (double)a->posts);
        cJSON_AddNumberToObject(o, "copies", (double)a->copies);
        add_str(o, "escalation", a->escalation);
        cJSON_AddNumberToObject(o, "escalation_level", (double)a->escalation_level);
        add_time(o, "next_escalation_at", a->next_escalation_usec);
        add_time(o, "state_changed_at", a->state_usec);
        add_time(o, "acknowledged_at", a->acked_usec);
        add_time(o, "responded_at", a->responded_usec);
        add_time(o, "resolved_at", a->resolved_usec);
        return o;
}

static int print_json(cJSON *j) {
        _cleanup_free_ char *s = j ? cJSON_Print(j) : NULL;
        if (!s) {
                fprintf(stderr, "earshotctl: out of memory\n");
                return CTL_EXIT_STORE;
        }
        puts(s);
        return CTL_EXIT_OK;
}

/* ---- the store ---------------------------------------------------------------------------- */

/* A store error met after the store opened: one line naming the path; the exit code. */
static int store_failed(const char *path, int r, const char *what) {
        if (r == -EBUSY)
                fprintf(stderr, "earshotctl: %s stayed locked by another writer past the busy "
                                "timeout; %s\n",
                        path, what);
        else if (r == -EACCES || r == -EPERM || r == -EROFS)
                fprintf(stderr, "earshotctl: cannot write %s: it is read-only; %s\n", path, what);
        else if (r == -ENOMEM)
                fprintf(stderr, "earshotctl: out of memory; %s\n", what);
        else
                fprintf(stderr, "earshotctl: %s: %s; %s\n", path, strerror(-r), what);
        return CTL_EXIT_STORE;
}

/* The full id of what the user named: 0; CTL_EXIT_ALERT, said why; or the store's negative
 * errno, not said. */
static int find_alert(Store *s, const char *name, char **ret_id) {
        int r = store_alert_find(s, name, ret_id);
        if (r == -ENOENT) {
                fprintf(stderr, "earshotctl: no alert '%s'\n", name);
                return CTL_EXIT_ALERT;
        }
        if (r == -ENOTUNIQ) {
                fprintf(stderr, "earshotctl: '%s' matches several alerts; give more of the id\n",
                        name);
                return CTL_EXIT_ALERT;
        }
        return r;
}

/* ---- list --------------------------------------------------------------------------------- */

typedef struct QueueArgs {
        unsigned states; /* AlertFilter.states; 0 = every state */
        const char *brand, *rule, *network;
        bool overdue;
        int64_t since;   /* 0 = not given */
        size_t limit;
        StatsBy stats_by;
        const char *by, *note;
} QueueArgs;

#define DEFAULT_STATES ((1u << ALERT_OPEN) | (1u << ALERT_ACKNOWLEDGED))

typedef struct IdRef {
        const char *id;
        size_t i;
} IdRef;

static int idref_cmp(const void *a, const void *b) {
        return strcmp(((const IdRef *)a)->id, ((const IdRef *)b)->id);
}

/* How many hex digits to show of each listed id: 8, or more where two listed ids share 8. */
static size_t *short_id_lengths(const Alert *list, size_t n) {
        size_t *len = calloc(n ? n : 1, sizeof(size_t));
        _cleanup_free_ IdRef *refs = calloc(n ? n : 1, sizeof(IdRef));
        if (!len || !refs) {
                free(len);
                return NULL;
        }
        for (size_t i = 0; i < n; i++) {
                refs[i] = (IdRef){.id = list[i].id, .i = i};
                len[i] = SHORT_ID;
        }
        qsort(refs, n, sizeof(IdRef), idref_cmp);
        for (size_t k = 1; k < n; k++) {
                const char *a = refs[k - 1].id, *b = refs[k].id;
                size_t common = 0;
                while (a[common] && a[common] == b[common])
                        common++;
                if (common + 1 > len[refs[k].i])
                        len[refs[k].i] = common + 1;
                if (common + 1 > len[refs[k - 1].i])
                        len[refs[k - 1].i] = common + 1;
        }
        return len;
}

static void print_marks(const Alert *a) {
        char d[32];
        bool any = false;
        if (a->late_usec > 0) {
                printf("[late %s", format_duration(d, sizeof(d), (usec_t)a->late_usec));
                any = true;
        }
        if (a->posts > 1) {
                printf("%s%" PRId64 " posts", any ? ", " : "[", a->posts);
                any = true;
        }
        if (a->copies > 1) {
                printf("%s%" PRId64 " copies", any ? ", " : "[", a->copies);
                any = true;
        }
        if (any)
                fputs("] ", stdout);
}

static int list_table(const Alert *list, size_t n, int64_t now) {
        _cleanup_free_ size_t *idlen = short_id_lengths(list, n);
        size_t w_id = SHORT_ID, w_net = strlen("NETWORK"), w_author = strlen("AUTHOR"),
               w_br = strlen("BRAND/RULES"), overdue = 0;
        bool color = ctl_use_color();
        char left[48];

        if (!idlen) {
                fprintf(stderr, "earshotctl: out of memory\n");
                return CTL_EXIT_STORE;
        }
        for (size_t i = 0; i < n; i++) {
                const Alert *a = &list[i];
                _cleanup_free_ char *br = brand_rules(a->brand, a->rules_json);
                w_id = max_size(w_id, idlen[i]);
                w_net = max_size(w_net, cell_width(a->network, 14));
                w_author = max_size(w_author,
                                    cell_width(a->author_handle ? a->author_handle : "-", 28));
                w_br = max_size(w_br, cell_width(br, 28));
        }
        printf("%-*s  %-14s  %-8s  %-15s  ", (int)w_id, "ID", "STATE", "SEVERITY", "TIME LEFT");
        print_cell(stdout, "NETWORK", w_net);
        fputs("  ", stdout);
        print_cell(stdout, "AUTHOR", w_author);
        fputs("  ", stdout);
        print_cell(stdout, "BRAND/RULES", w_br);
        fputs("  TEXT\n", stdout);
        for (size_t i = 0; i < n; i++) {
                const Alert *a = &list[i];
                _cleanup_free_ char *br = brand_rules(a->brand, a->rules_json);
                bool over = alert_overdue(a, now), soon = !over && alert_due_soon(a, now);
                overdue += over;
                printf("%-*.*s  ", (int)w_id, (int)idlen[i], a->id);
                print_cell(stdout, a->state, 14);
                fputs("  ", stdout);
                print_cell(stdout, a->severity, 8);
                fputs("  ", stdout);
                time_left(left, sizeof(left), a, now);
                if (color && (over || soon))
                        printf("%s%s\033[0m%*s", over ? "\033[1;31m" : "\033[33m", left,
                               strlen(left) < 15 ? (int)(15 - strlen(left)) : 0, "");
                else
                        printf("%-15s", left);
                fputs("  ", stdout);
                print_cell(stdout, a->network, w_net);
                fputs("  ", stdout);
                print_cell(stdout, a->author_handle ? a->author_handle : "-", w_author);
                fputs("  ", stdout);
                print_cell(stdout, br ? br : "?", w_br);
                fputs("  ", stdout);
                print_marks(a);
                _cleanup_free_ char *text = clean_text(a->text, TEXT_CELLS, true, NULL);
                printf("%s\n", text ? text : "");
        }
        printf("\n%zu alert%s", n, n == 1 ? "" : "s");
        if (overdue > 0)
                printf(", %zu overdue", overdue);
        putchar('\n');
        return CTL_EXIT_OK;
}

static int cmd_list(Store *s, const char *path, const QueueArgs *q) {
        int64_t now = (int64_t)now_usec(CLOCK_REALTIME);
        AlertFilter f = {
                .states = q->states,
                .brand = q->brand,
                .rule = q->rule,
                .network = q->network,
                .overdue = q->overdue,
                .now = now,
                .since = q->since,
                .limit = q->limit,
        };
        Alert *list = NULL;
        size_t n = 0;
        int r;

        r = store_alerts_query(s, &f, &list, &n);
        if (r < 0)
                return store_failed(path, r, "cannot list the alerts");
        if (arg_json) {
                cJSON *arr = cJSON_CreateArray();
                for (size_t i = 0; arr && i < n; i++) {
                        cJSON *o = alert_json(&list[i], now);
                        if (!o) {
                                cJSON_Delete(arr);
                                arr = NULL;
                                break;
                        }
                        cJSON_AddItemToArray(arr, o);
                }
                r = print_json(arr);
                cJSON_Delete(arr);
        } else if (n == 0) {
                bool plain = q->states == DEFAULT_STATES && !q->brand && !q->rule &&
                             !q->network && !q->overdue && !q->since;
                printf(plain ? "No open or acknowledged alerts: nothing is waiting for an "
                               "answer. (--all lists closed ones too.)\n"
                             : "No alerts match.\n");
                r = CTL_EXIT_OK;
        } else
                r = list_table(list, n, now);
        alerts_free(list, n);
        return r;
}

/* ---- show --------------------------------------------------------------------------------- */

/* "2026-08-01T13:55:55.867Z (3h ago)" */
static const char *when(char *buf, size_t len, int64_t t, int64_t now) {
        char ts[32], d[32];
        if (t <= 0)
                snprintf(buf, len, "-");
        else if (t <= now)
                snprintf(buf, len, "%s (%s ago)", format_timestamp(ts, sizeof(ts), t),
                         format_duration(d, sizeof(d), (usec_t)(now - t)));
        else
                snprintf(buf, len, "%s (in %s)", format_timestamp(ts, sizeof(ts), t),
                         format_duration(d, sizeof(d), (usec_t)(t - now)));
        return buf;
}

/* A field's value, made safe, continuation lines indented under the first. */
static void print_field(const char *label, const char *value) {
        _cleanup_free_ char *c = clean_text(value, 0, false, NULL);
        printf("  %-13s", label);
        for (const char *p = c ? c : ""; *p; p++) {
                putchar(*p);
                if (*p == '\n')
                        printf("  %-13s", "");
        }
        putchar('\n');
}

/* "acknowledged since 2026-... (12m ago), escalation level 1" */
static const char *state_line(char *buf, size_t len, const Alert *a, int64_t now) {
        char since[64];
        snprintf(buf, len, "%s since %s, escalation level %" PRId64, a->state,
                 when(since, sizeof(since), a->state_usec, now), a->escalation_level);
        return buf;
}

/* "acknowledged 2026-..., answered 2026-..., resolved -": the first times, as the figures use */
static const char *first_times(char *buf, size_t len, const Alert *a) {
        char ack[32], resp[32], res[32];
        snprintf(buf, len, "acknowledged %s, answered %s, resolved %s",
                 format_timestamp(ack, sizeof(ack), a->acked_usec),
                 format_timestamp(resp, sizeof(resp), a->responded_usec),
                 format_timestamp(res, sizeof(res), a->resolved_usec));
        return buf;
}

static void show_text(const Alert *a, int64_t now, const AttachedPost *posts, size_t n_posts,
                      const AlertEvent *ev, size_t n_ev) {
        char buf[512], b1[64], d[32];
        _cleanup_free_ char *br = NULL;
        bool color = ctl_use_color(), over = alert_overdue(a, now), soon = alert_due_soon(a, now);

        printf("Alert %s: %s, %s", a->id, a->state, a->severity);
        if (alert_state_active(alert_state(a))) {
                time_left(buf, sizeof(buf), a, now);
                if (color && (over || soon))
                        printf(", %s%s\033[0m", over ? "\033[1;31m" : "\033[33m", buf);
                else
                        printf(", %s", buf);
        }
        putchar('\n');
        print_field("text:", a->text);
        print_field("url:", a->url ? a->url : "-");
        print_field("created:", when(buf, sizeof(buf), a->created_usec, now));
        if (a->late_usec > 0) {
                snprintf(buf, sizeof(buf), "%s, already %s past its target",
                         when(b1, sizeof(b1), a->detected_usec, now),
                         format_duration(d, sizeof(d), (usec_t)a->late_usec));
                print_field("detected:", buf);
        } else
                print_field("detected:", when(buf, sizeof(buf), a->detected_usec, now));
        snprintf(buf, sizeof(buf), "%s, target %s", when(b1, sizeof(b1), a->due_usec, now),
                 format_duration(d, sizeof(d), (usec_t)a->respond_within_usec));
        print_field("due:", buf);
        snprintf(buf, sizeof(buf), "%s%s%s%s", a->author_handle ? a->author_handle : "?",
                 a->author_name ? " (" : "", a->author_name ? a->author_name : "",
                 a->author_name ? ")" : "");
        if (a->author_followers >= 0)
                snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), ", %" PRId64 " followers",
                         a->author_followers);
        print_field("author:", buf);
        snprintf(buf, sizeof(buf), "%s, source %s, feed %s", a->network, a->source, a->feed);
        print_field("network:", buf);
        print_field("brand:", a->brand ? a->brand : "-");
        br = brand_rules(NULL, a->rules_json);
        print_field("rules:", br ? br : "?");
        snprintf(buf, sizeof(buf), "%s, priority %.1f", a->severity, a->priority);
        print_field("severity:", buf);
        print_field("state:", state_line(buf, sizeof(buf), a, now));
        if (a->acked_usec > 0 || a->responded_usec > 0 || a->resolved_usec > 0)
                print_field("first times:", first_times(buf, sizeof(buf), a));
        if (a->escalation) {
                snprintf(buf, sizeof(buf), "policy %s, next step %s", a->escalation,
                         a->next_escalation_usec > 0
                                 ? when(b1, sizeof(b1), a->next_escalation_usec, now)
                                 : "none");
                print_field("escalation:", buf);
        }
        if (a->replies >= 0 || a->reposts >= 0 || a->likes >= 0) {
                snprintf(buf, sizeof(buf), "%" PRId64 " replies, %" PRId64 " reposts, %" PRId64
                         " likes", a->replies, a->reposts, a->likes);
                print_field("engagement:", buf);
        }
        if (a->posts > 1 || a->copies > 1) {
                snprintf(buf, sizeof(buf), "%" PRId64 " in the thread, %" PRId64 " copies",
                         a->posts, a->copies);
                print_field("posts:", buf);
        }

        if (n_posts > 0) {
                printf("\nThread and copies (%zu):\n", n_posts);
                for (size_t i = 0; i < n_posts; i++) {
                        const AttachedPost *p = &posts[i];
                        _cleanup_free_ char *t = clean_text(p->text, TEXT_CELLS, true, NULL);
                        printf("  %-6s  %s  ", p->kind, format_timestamp(b1, sizeof(b1),
                                                                          p->created_usec));
                        print_cell(stdout, p->author_handle ? p->author_handle : "?",
                                   cell_width(p->author_handle ? p->author_handle : "?", 40));
                        printf("  %s\n", t ? t : "");
                        if (p->url) {
                                _cleanup_free_ char *u = clean_text(p->url, 0, true, NULL);
                                printf("          %s\n", u ? u : "");
                        }
                }
        }
        printf("\nHistory:\n");
        if (n_ev == 0)
                printf("  (none recorded)\n");
        for (size_t i = 0; i < n_ev; i++) {
                const AlertEvent *e = &ev[i];
                char move[64] = "";
                if (e->from_state || e->to_state)
                        snprintf(move, sizeof(move), "%s -> %s",
                                 e->from_state ? e->from_state : "", e->to_state ? e->to_state : "");
                printf("  %s  %-14s  %-30s  by ", format_timestamp(b1, sizeof(b1), e->at_usec),
                       e->kind, move);
                print_cell(stdout, e->by ? e->by : "?", cell_width(e->by ? e->by : "?", 40));
                if (e->note) {
                        _cleanup_free_ char *note = clean_text(e->note, 0, true, NULL);
                        printf("  \"%s\"", note ? note : "");
                }
                putchar('\n');
        }
}

static int cmd_show(Store *s, const char *path, const char *name) {
        int64_t now = (int64_t)now_usec(CLOCK_REALTIME);
        _cleanup_free_ char *id = NULL;
        AttachedPost *posts = NULL;
        AlertEvent *ev = NULL;
        size_t n_posts = 0, n_ev = 0;
        Alert a = {};
        int r;

        r = find_alert(s, name, &id);
        if (r > 0)
                return r;
        if (r >= 0)
                r = store_alert_get(s, id, &a);
        if (r == -ENOENT) {
                fprintf(stderr, "earshotctl: no alert '%s'\n", name); /* pruned meanwhile */
                return CTL_EXIT_ALERT;
        }
        if (r >= 0)
                r = store_alert_posts(s, id, &posts, &n_posts);
        if (r >= 0)
                r = store_alert_events(s, id, &ev, &n_ev);
        if (r < 0) {
                alert_done(&a);
                attached_posts_free(posts, n_posts);
                return store_failed(path, r, "cannot read the alert");
        }
        if (arg_json) {
                cJSON *o = alert_json(&a, now), *arr;
                char ts[32];
                arr = o ? cJSON_AddArrayToObject(o, "attached") : NULL;
                for (size_t i = 0; arr && i < n_posts; i++) {
                        cJSON *p = cJSON_CreateObject();
                        if (!p)
                                break;
                        cJSON_AddItemToArray(arr, p);
                        add_str(p, "kind", posts[i].kind);
                        add_str(p, "post_key", posts[i].post_key);
                        add_str(p, "url", posts[i].url);
                        add_str(p, "author_handle", posts[i].author_handle);
                        add_str(p, "text", posts[i].text);
                        add_time(p, "created_at", posts[i].created_usec);
                        add_time(p, "detected_at", posts[i].detected_usec);
                }
                arr = o ? cJSON_AddArrayToObject(o, "events") : NULL;
                for (size_t i = 0; arr && i < n_ev; i++) {
                        cJSON *e = cJSON_CreateObject();
                        if (!e)
                                break;
                        cJSON_AddItemToArray(arr, e);
                        add_str(e, "at", format_timestamp(ts, sizeof(ts), ev[i].at_usec));
                        add_str(e, "kind", ev[i].kind);
                        add_str(e, "from", ev[i].from_state);
                        add_str(e, "to", ev[i].to_state);
                        add_str(e, "by", ev[i].by);
                        add_str(e, "note", ev[i].note);
                }
                r = print_json(o);
                cJSON_Delete(o);
        } else {
                show_text(&a, now, posts, n_posts, ev, n_ev);
                r = CTL_EXIT_OK;
        }
        alert_done(&a);
        attached_posts_free(posts, n_posts);
        alert_events_free(ev, n_ev);
        return r;
}

/* ---- ack, respond, resolve, reopen, mute, false-positive --------------------------------- */

/* "cannot <verb> ID<tail>", and the line printed when done */
static const struct {
        const char *verb, *tail, *done;
} action_words[_ALERT_ACTION_MAX] = {
        [ALERT_ACK] = {"acknowledge", "", "acknowledged"},
        [ALERT_RESPOND] = {"mark", " as responded", "marked responded"},
        [ALERT_RESOLVE] = {"resolve", "", "resolved"},
        [ALERT_REOPEN] = {"reopen", "", "reopened"},
        [ALERT_MUTE] = {"mute", "", "muted"},
        [ALERT_MARK_FALSE_POSITIVE] = {"mark", " as a false positive", "marked false-positive"},
};

/* Who acts: the login name (getlogin_r, $LOGNAME, $USER, the passwd entry), else "uid N". */
static char *login_name(void) {
        char buf[256], *ret = NULL;
        const char *e;

        if (getlogin_r(buf, sizeof(buf)) == 0 && buf[0])
                return strdup(buf);
        if (!isempty(e = getenv("LOGNAME")) || !isempty(e = getenv("USER")))
                return strdup(e);
        struct passwd *pw = getpwuid(getuid());
        if (pw && !isempty(pw->pw_name))
                return strdup(pw->pw_name);
        return asprintf(&ret, "uid %u", (unsigned)getuid()) < 0 ? NULL : ret;
}

/* One alert: CTL_EXIT_OK or _ALERT, or a negative errno when the store failed (stop there). */
static int act_one(Store *s, AlertAction action, const char *name,
                   const char *by, const char *note) {
        _cleanup_free_ char *id = NULL;
        AlertState from = _ALERT_STATE_INVALID, to = _ALERT_STATE_INVALID;
        int r;

        r = find_alert(s, name, &id);
        if (r != 0)
                return r;
        r = store_alert_act(s, id, action, by, note, (int64_t)now_usec(CLOCK_REALTIME), &from, &to);
        switch (r) {
        case 0:
                printf("%.*s %s (was %s) by %s\n", SHORT_ID, id, action_words[action].done,
                       alert_state_to_string(from), by);
                return CTL_EXIT_OK;
        case -ENOENT:
                fprintf(stderr, "earshotctl: no alert '%s'\n", name); /* pruned meanwhile */
                return CTL_EXIT_ALERT;
        case -EALREADY:
                fprintf(stderr, "earshotctl: %.*s is already %s; nothing changed\n", SHORT_ID, id,
                        alert_state_to_string(from));
                return CTL_EXIT_ALERT;
        case -EPERM: {
                bool answered = from == ALERT_RESPONDED || from == ALERT_RESOLVED;
                fprintf(stderr, "earshotctl: cannot %s %.*s%s: it is %s; %s\n",
                        action_words[action].verb, SHORT_ID, id, action_words[action].tail,
                        alert_state_to_string(from),
                        action == ALERT_MUTE && answered
                                ? "muting is for alerts nobody has answered"
                                : "reopen it first");
                return CTL_EXIT_ALERT;
        }
        case -EUCLEAN:
                fprintf(stderr, "earshotctl: %.*s is in a state this earshotctl does not know; "
                                "nothing changed\n",
                        SHORT_ID, id);
                return CTL_EXIT_ALERT;
        default:
                return r;
        }
}

static int cmd_act(Store *s, const char *path, AlertAction action, char **names, size_t n,
                   const QueueArgs *q) {
        _cleanup_free_ char *by = q->by ? strdup(q->by) : login_name();
        int ret = CTL_EXIT_OK;

        if (!by) {
                fprintf(stderr, "earshotctl: out of memory\n");
                return CTL_EXIT_STORE;
        }
        for (size_t i = 0; i < n; i++) {
                int r = act_one(s, action, names[i], by, q->note);
                if (r < 0) {
                        char what[96];
                        snprintf(what, sizeof(what), "%s not changed%s", names[i],
                                 i + 1 < n ? ", the rest not tried" : "");
                        return store_failed(path, r, what);
                }
                if (r > ret)
                        ret = r;
        }
        return ret;
}

/* ---- stats -------------------------------------------------------------------------------- */

static int cmd_stats(Store *s, const char *path, const QueueArgs *q) {
        int64_t now = (int64_t)now_usec(CLOCK_REALTIME);
        QueueStats st = {};
        int r;

        r = queue_stats_compute(s, q->since ? q->since : now - (int64_t)(7 * USEC_PER_DAY), now,
                                q->stats_by, &st);
        if (r < 0)
                return store_failed(path, r, "cannot compute the figures");
        if (arg_json) {
                cJSON *j = queue_stats_to_json(&st);
                r = print_json(j);
                cJSON_Delete(j);
        } else {
                queue_stats_print(&st, stdout);
                r = CTL_EXIT_OK;
        }
        queue_stats_done(&st);
        return r;
}

/* ---- the command line --------------------------------------------------------------------- */

enum {
        OPT_JSON = 0x100,
        OPT_COLOR,
        OPT_STATE,
        OPT_ALL,
        OPT_BRAND,
        OPT_RULE,
        OPT_NETWORK,
        OPT_OVERDUE,
        OPT_SINCE,
        OPT_LIMIT,
        OPT_BY,
        OPT_NOTE,
};

#define BIT(o) (1u << ((o) - OPT_JSON))

typedef enum QueueCmd { CMD_LIST, CMD_SHOW, CMD_ACT, CMD_STATS } QueueCmd;

static const struct {
        const char *name;
        QueueCmd cmd;
        unsigned options; /* BIT()s of the options it takes besides -s, -c, -h */
} commands[] = {
        {"list", CMD_LIST,
         BIT(OPT_JSON) | BIT(OPT_COLOR) | BIT(OPT_STATE) | BIT(OPT_ALL) | BIT(OPT_BRAND) |
                 BIT(OPT_RULE) | BIT(OPT_NETWORK) | BIT(OPT_OVERDUE) | BIT(OPT_SINCE) |
                 BIT(OPT_LIMIT)},
        {"show", CMD_SHOW, BIT(OPT_JSON) | BIT(OPT_COLOR)},
        {"ack", CMD_ACT, BIT(OPT_BY) | BIT(OPT_NOTE)},
        {"respond", CMD_ACT, BIT(OPT_BY) | BIT(OPT_NOTE)},
        {"resolve", CMD_ACT, BIT(OPT_BY) | BIT(OPT_NOTE)},
        {"reopen", CMD_ACT, BIT(OPT_BY) | BIT(OPT_NOTE)},
        {"mute", CMD_ACT, BIT(OPT_BY) | BIT(OPT_NOTE)},
        {"false-positive", CMD_ACT, BIT(OPT_BY) | BIT(OPT_NOTE)},
        {"stats", CMD_STATS, BIT(OPT_JSON) | BIT(OPT_SINCE) | BIT(OPT_BY)},
};

static const struct option options[] = {
        {"state-dir", required_argument, NULL, 's'},
        {"config", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {"json", no_argument, NULL, OPT_JSON},
        {"color", required_argument, NULL, OPT_COLOR},
        {"state", required_argument, NULL, OPT_STATE},
        {"all", no_argument, NULL, OPT_ALL},
        {"brand", required_argument, NULL, OPT_BRAND},
        {"rule", required_argument, NULL, OPT_RULE},
        {"network", required_argument, NULL, OPT_NETWORK},
        {"overdue", no_argument, NULL, OPT_OVERDUE},
        {"since", required_argument, NULL, OPT_SINCE},
        {"limit", required_argument, NULL, OPT_LIMIT},
        {"by", required_argument, NULL, OPT_BY},
        {"note", required_argument, NULL, OPT_NOTE},
        {},
};

static const char common_help[] =
        "  -s, --state-dir DIR   the daemon's state directory (default: the config's state_dir,\n"
        "                        $STATE_DIRECTORY, or " DEFAULT_STATE_DIR ")\n"
        "  -c, --config PATH     the configuration, read for state_dir (default: " DEFAULT_CONFIG
        ")\n"
        "  -h, --help            show this help and exit\n";

static const char exit_help[] =
        "Exit status: 0 done; 1 an alert named could not be shown or changed (unknown id,\n"
        "ambiguous prefix, a move its state does not allow, already in that state); 2 a bad\n"
        "command line; 3 the store could not be used (missing, unreadable, read-only, locked,\n"
        "another schema).\n";

static void help(QueueCmd cmd, const char *name) {
        switch (cmd) {
        case CMD_LIST:
                printf("Usage: earshotctl list [OPTIONS]\n"
                       "\n"
                       "The alerts waiting for an answer, soonest due first, then by priority:\n"
                       "short id, state, severity, time left (red overdue, yellow in the last\n"
                       "quarter of the target, on a terminal without NO_COLOR), network, author,\n"
                       "brand/rules and the start of the text, marked [late ...] when the post\n"
                       "was already past its target when detected and with its thread and copy\n"
                       "counts when more than one.\n"
                       "\n"
                       "Options:\n"
                       "      --state STATE[,STATE...]  open, acknowledged, responded, resolved,\n"
                       "                        muted, false-positive (default: open,acknowledged)\n"
                       "      --all             every state\n"
                       "      --brand NAME      alerts about this brand\n"
                       "      --rule NAME       alerts this rule matched\n"
                       "      --network NAME    alerts from this network (e.g. mastodon)\n"
                       "      --overdue         only open or acknowledged alerts past their due time\n"
                       "      --since WHEN      posts created since: a duration back (7d, 12h) or a\n"
                       "                        timestamp (2026-11-01T00:00:00Z, 2026-11-01)\n"
                       "      --limit N         at most N alerts\n"
                       "      --json            a JSON array of objects with every field (times\n"
                       "                        RFC 3339 UTC; seconds_left, null once closed)\n"
                       "      --color WHEN      auto (default), always or never\n"
                       "%s\n%s",
                       common_help, exit_help);
                break;
        case CMD_SHOW:
                printf("Usage: earshotctl show [OPTIONS] ID\n"
                       "\n"
                       "One alert, named by its id or a unique prefix of it: the post (text, url,\n"
                       "created, detected and due times, lateness), its author, network, source\n"
                       "and feed, rules, brand, severity, priority, state, escalation, the posts\n"
                       "attached as its thread or copies, and its whole history.\n"
                       "\n"
                       "Options:\n"
                       "      --json            one JSON object: the fields of `list --json`, plus\n"
                       "                        \"attached\" and \"events\"\n"
                       "      --color WHEN      auto (default), always or never\n"
                       "%s\n%s",
                       common_help, exit_help);
                break;
        case CMD_ACT:
                printf("Usage: earshotctl %s [OPTIONS] ID...\n"
                       "\n"
                       "Change the state of each alert named (id or unique prefix), each in its\n"
                       "own transaction, and record who and why in its history:\n"
                       "  ack             open -> acknowledged: someone is on it\n"
                       "  respond         -> responded: the complainer got an answer\n"
                       "  resolve         -> resolved: dealt with (counts as the answer if none)\n"
                       "  reopen          any state -> open: back on the clock\n"
                       "  mute            open/acknowledged -> muted: needs no answer\n"
                       "  false-positive  any state -> false-positive: the rule misfired\n"
                       "An id that fails (unknown, ambiguous, a move its state does not allow,\n"
                       "already there) is reported and the next one is tried.\n"
                       "\n"
                       "Options:\n"
                       "      --by NAME         who acts (default: the login name)\n"
                       "      --note TEXT       why, kept in the alert's history\n"
                       "%s\n%s",
                       name, common_help, exit_help);
                break;
        case CMD_STATS:
                printf("Usage: earshotctl stats [OPTIONS]\n"
                       "\n"
                       "The team's figures over the complaint alerts of posts created in a period\n"
                       "(operator alerts left out):\n"
                       "  - alerts in each state;\n"
                       "  - time to acknowledge: first acknowledgement minus the post's creation;\n"
                       "    time to respond: first answer minus the post's creation (resolving\n"
                       "    counts as answering, answering as acknowledging); median and 90th\n"
                       "    percentile by nearest rank (the ceil(q*n)-th smallest), exact;\n"
                       "  - within target: the alerts answered by their due time, over the alerts\n"
                       "    whose outcome is known (answered, or unanswered and past due now);\n"
                       "  - late at detection: alerts already past their target when detected;\n"
                       "  - false positives: alerts marked so, over all; and per rule.\n"
                       "Muted alerts and false positives count in the states, late at detection\n"
                       "and false-positive figures, not in the response times or within target.\n"
                       "\n"
                       "Options:\n"
                       "      --since WHEN      posts created since: a duration back (default 7d)\n"
                       "                        or a timestamp (2026-11-01T00:00:00Z)\n"
                       "      --by rule|brand|network  the same figures per group as well (an\n"
                       "                        alert counts in every rule it lists)\n"
                       "      --json            one JSON object (durations in seconds, shares 0-1)\n"
                       "%s\n%s",
                       common_help, exit_help);
                break;
        }
}

/* A duration back from now ("7d") or a timestamp ("2026-11-01T00:00:00Z"). */
static int parse_since(const char *s, int64_t now, int64_t *ret) {
        usec_t d;
        int64_t t;
        if (parse_duration(s, &d) >= 0) {
                if (d > (usec_t)now)
                        return -ERANGE;
                *ret = now - (int64_t)d;
                return 0;
        }
        if (parse_timestamp(s, &t) >= 0 && t > 0) {
                *ret = t;
                return 0;
        }
        return -EINVAL;
}

static int parse_states(const char *s, unsigned *ret) {
        _cleanup_free_ char *copy = strdup(s);
        unsigned states = 0;
        char *save = NULL;

        if (!copy)
                return -ENOMEM;
        for (char *w = strtok_r(copy, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
                AlertState st = alert_state_from_string(w);
                if (st < 0)
                        return -EINVAL;
                states |= 1u << st;
        }
        if (states == 0)
                return -EINVAL;
        *ret = states;
        return 0;
}

bool ctl_queue_command(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(commands); i++)
                if (streq(commands[i].name, name))
                        return true;
        return false;
}

int ctl_queue_main(int argc, char **argv) {
        const char *name = argv[0];
        /* --network before the command (the global table has it, for explain) counts too */
        QueueArgs q = {.states = DEFAULT_STATES, .stats_by = STATS_BY_NONE, .network = arg_network};
        int64_t now = (int64_t)now_usec(CLOCK_REALTIME);
        unsigned given = 0, allowed = 0;
        bool all = false, state = false;
        QueueCmd cmd = CMD_LIST;
        int c, r;

        for (size_t i = 0; i < ELEMENTSOF(commands); i++)
                if (streq(commands[i].name, name)) {
                        cmd = commands[i].cmd;
                        allowed = commands[i].options;
                }
        optind = 0; /* a fresh scan (GNU: resets the permutation state too) */
        opterr = 0;
        while ((c = getopt_long(argc, argv, ":s:c:h", options, NULL)) >= 0) {
                if (c >= OPT_JSON)
                        given |= BIT(c);
                switch (c) {
                case 's':
                        arg_state_dir = optarg;
                        break;
                case 'c':
                        arg_config = optarg;
                        break;
                case 'h':
                        help(cmd, name);
                        return CTL_EXIT_OK;
                case OPT_JSON:
                        arg_json = true;
                        break;
                case OPT_COLOR:
                        if (ctl_parse_color(optarg) < 0)
                                return ctl_usage_error(name, "--color takes auto, always or never, "
                                                         "not '%s'", optarg);
                        break;
                case OPT_STATE:
                        if (parse_states(optarg, &q.states) < 0)
                                return ctl_usage_error(name, "--state takes states separated by "
                                                         "commas (open, acknowledged, responded, "
                                                         "resolved, muted, false-positive), not "
                                                         "'%s'", optarg);
                        state = true;
                        break;
                case OPT_ALL:
                        all = true;
                        break;
                case OPT_BRAND:
                        q.brand = optarg;
                        break;
                case OPT_RULE:
                        q.rule = optarg;
                        break;
                case OPT_NETWORK:
                        q.network = optarg;
                        break;
                case OPT_OVERDUE:
                        q.overdue = true;
                        break;
                case OPT_SINCE:
                        if (parse_since(optarg, now, &q.since) < 0)
                                return ctl_usage_error(name, "--since takes a duration (7d, 12h) or "
                                                         "a timestamp (2026-11-01T00:00:00Z), "
                                                         "not '%s'", optarg);
                        break;
                case OPT_LIMIT: {
                        char *end;
                        errno = 0;
                        long long v = strtoll(optarg, &end, 10);
                        if (errno || end == optarg || *end || v < 1 || v > 1000000)
                                return ctl_usage_error(name, "--limit takes a number from 1 to "
                                                         "1000000, not '%s'", optarg);
                        q.limit = (size_t)v;
                        break;
                }
                case OPT_BY:
                        q.by = optarg;
                        break;
                case OPT_NOTE:
                        q.note = optarg;
                        break;
                case ':':
                        return ctl_usage_error(name, "%s needs a value", argv[optind - 1]);
                default:
                        if (optopt > 0 && optopt < OPT_JSON)
                                return ctl_usage_error(name, "unknown option '-%c'", optopt);
                        return ctl_usage_error(name, "unknown option '%s'", argv[optind - 1]);
                }
        }
        for (const struct option *o = options; o->name; o++)
                if (o->val >= OPT_JSON && (given & BIT(o->val)) && !(allowed & BIT(o->val)))
                        return ctl_usage_error(name, "--%s does not apply here", o->name);
        if (all && state)
                return ctl_usage_error(name, "%s", "--all and --state exclude each other");
        if (all)
                q.states = 0;
        if (cmd == CMD_STATS && q.by) {
                q.stats_by = stats_by_from_string(q.by);
                if (q.stats_by <= STATS_BY_NONE)
                        return ctl_usage_error(name, "--by takes rule, brand or network, not '%s'",
                                           q.by);
        }
        if (cmd == CMD_ACT && q.by) {
                size_t cells = 0;
                _cleanup_free_ char *clean = clean_text(q.by, 0, true, &cells);
                if (!clean || strlen(q.by) > MAX_BY || !streq(clean, q.by) || cells == 0)
                        return ctl_usage_error(name, "--by takes a name (up to 100 bytes, printable, "
                                                 "no leading or doubled blanks), not '%s'",
                                           q.by);
        }
        if (q.note && strlen(q.note) > MAX_NOTE)
                return ctl_usage_error(name, "%s", "--note is longer than 2000 bytes");

        int n_args = argc - optind;
        char **args = argv + optind;
        if ((cmd == CMD_LIST || cmd == CMD_STATS) && n_args > 0)
                return ctl_usage_error(name, "unexpected argument '%s'", args[0]);
        if (cmd == CMD_SHOW && n_args != 1)
                return ctl_usage_error(name, "%s", "takes one alert id (or a unique prefix)");
        if (cmd == CMD_ACT && n_args < 1)
                return ctl_usage_error(name, "%s", "takes one or more alert ids (or unique prefixes)");

        _cleanup_free_ char *path = NULL;
        Store *s = NULL;
        r = ctl_open_store(cmd == CMD_ACT, &s, &path);
        if (r < 0)
                return CTL_EXIT_STORE;
        switch (cmd) {
        case CMD_LIST:
                r = cmd_list(s, path, &q);
                break;
        case CMD_SHOW:
                r = cmd_show(s, path, args[0]);
                break;
        case CMD_ACT:
                r = cmd_act(s, path, alert_action_from_string(name), args, (size_t)n_args, &q);
                break;
        case CMD_STATS:
                r = cmd_stats(s, path, &q);
                break;
        }
        store_free(s);
        return r;
}
