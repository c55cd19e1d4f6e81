/* SPDX-License-Identifier: MIT */
/*
 * ctl-stats.c - the figures a team lead reports each week, behind `earshotctl stats`: over the
 * complaint alerts of posts created in a period (operator alerts left out), how many are in
 * each state, how long the team took to acknowledge and to answer (nearest-rank median and 90th
 * percentile, queue.c's duration_stats(), so the figures are exact and the same on every run),
 * the share answered within target, how many were already late when detected, and how often
 * each rule misfired; for everything, or per rule, brand or network.
 *
 * The definitions (also in earshotctl --help, earshotctl(1) and the README):
 *  - answerable: every alert but the muted and the false positives (nobody owed them an
 *    answer); the response figures count only these.
 *  - time to acknowledge: the first acknowledgement minus the post's creation, over answerable
 *    alerts ever acknowledged (answering or resolving counts as acknowledging, store-queue.c);
 *    time to respond: the first answer minus the post's creation, over answerable alerts ever
 *    answered (resolving without an answer counts as the answer).
 *  - within target: answerable alerts whose first answer came by the due time, over the
 *    answerable alerts whose outcome is known: answered, or still unanswered past due at the
 *    time of the report. Unanswered alerts not yet due are left out: they can still make it.
 *  - late at detection and false positives: over every alert of the set.
 *
 * Pure over the store's rows (store_alert_times_foreach()) and `now`: no clock, no globals, so
 * the unit test can compute a fixture's figures by hand and compare them to the digit.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "util/cleanup.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(cJSON *, cJSON_Delete);

static const char *const by_names[_STATS_BY_MAX] = {
        [STATS_BY_NONE] = "none",
        [STATS_BY_RULE] = "rule",
        [STATS_BY_BRAND] = "brand",
        [STATS_BY_NETWORK] = "network",
};

const char *stats_by_to_string(StatsBy b) {
        return b >= 0 && b < _STATS_BY_MAX ? by_names[b] : "?";
}

StatsBy stats_by_from_string(const char *s) {
        for (int i = 0; s && i < _STATS_BY_MAX; i++)
                if (streq(s, by_names[i]))
                        return (StatsBy)i;
        return _STATS_BY_INVALID;
}

double stats_share(size_t a, size_t b) {
        return b > 0 ? (double)a / (double)b : NAN;
}

/* ---- computing ---------------------------------------------------------------------------- */

static int push_duration(int64_t **v, size_t *n, size_t *cap, int64_t d) {
        if (*n == *cap) {
                size_t ncap = *cap ? *cap * 2 : 16;
                int64_t *nv = reallocarray(*v, ncap, sizeof(int64_t));
                if (!nv)
                        return -ENOMEM;
                *v = nv;
                *cap = ncap;
        }
        (*v)[(*n)++] = d > 0 ? d : 0; /* a clock that ran behind the network's is not a gain */
        return 0;
}

static int figures_add(StatsFigures *f, const AlertTimes *t, int64_t now) {
        int r;

        f->alerts++;
        if (t->state >= 0 && t->state < _ALERT_STATE_MAX)
                f->states[t->state]++;
        if (t->late_usec > 0)
                f->late++;
        if (t->state < 0 || t->state == ALERT_MUTED || t->state == ALERT_FALSE_POSITIVE)
                return 0; /* not answerable (or a state this earshot does not know) */
        if (t->acked_usec > 0) {
                r = push_duration(&f->to_ack, &f->n_to_ack, &f->cap_to_ack,
                                  t->acked_usec - t->created_usec);
                if (r < 0)
                        return r;
        }
        if (t->responded_usec > 0) {
                r = push_duration(&f->to_respond, &f->n_to_respond, &f->cap_to_respond,
                                  t->responded_usec - t->created_usec);
                if (r < 0)
                        return r;
                f->known++;
                if (t->responded_usec <= t->due_usec)
                        f->in_time++;
        } else if (t->due_usec < now)
                f->known++; /* unanswered and past due: missed, whatever happens next */
        return 0;
}

static void figures_done(StatsFigures *f) {
        free(f->name);
        free(f->to_ack);
        free(f->to_respond);
        *f = (StatsFigures){};
}

static void figures_finish(StatsFigures *f) {
        f->ack = duration_stats(f->to_ack, f->n_to_ack);
        f->respond = duration_stats(f->to_respond, f->n_to_respond);
}

static bool name_eq(const char *a, const char *b) {
        return a && b ? streq(a, b) : a == b;
}

/* The group named `name` (NULL: alerts without one), added when new. */
static StatsFigures *group_get(StatsFigures **list, size_t *n, size_t *cap, const char *name) {
        for (size_t i = 0; i < *n; i++)
                if (name_eq((*list)[i].name, name))
                        return &(*list)[i];
        if (*n == *cap) {
                size_t ncap = *cap ? *cap * 2 : 8;
                StatsFigures *nl = reallocarray(*list, ncap, sizeof(StatsFigures));
                if (!nl)
                        return NULL;
                *list = nl;
                *cap = ncap;
        }
        StatsFigures *g = &(*list)[*n];
        *g = (StatsFigures){};
        if (name && !(g->name = strdup(name)))
                return NULL;
        (*n)++;
        return g;
}

typedef struct StatsRun {
        QueueStats *st;
        size_t cap_groups, cap_rules;
} StatsRun;

/* Count an alert in the group `name` of a list. */
static int group_add(StatsFigures **list, size_t *n, size_t *cap, const char *name,
                     const AlertTimes *t, int64_t now) {
        StatsFigures *g = group_get(list, n, cap, name);
        return g ? figures_add(g, t, now) : -ENOMEM;
}

static int stats_row(const AlertTimes *t, void *userdata) {
        StatsRun *run = userdata;
        QueueStats *st = run->st;
        int r;

        r = figures_add(&st->all, t, st->now);
        if (r < 0)
                return r;
        if (st->by == STATS_BY_BRAND || st->by == STATS_BY_NETWORK) {
                r = group_add(&st->groups, &st->n_groups, &run->cap_groups,
                              st->by == STATS_BY_BRAND ? t->brand : t->network, t, st->now);
                if (r < 0)
                        return r;
        }
        /* every rule the alert lists, once each (a malformed list counts as none) */
        _cleanup_(cJSON_Deletep) cJSON *rules = cJSON_Parse(t->rules_json ? t->rules_json : "[]");
        int n = cJSON_IsArray(rules) ? cJSON_GetArraySize(rules) : 0;
        for (int i = 0; i < n; i++) {
                const cJSON *it = cJSON_GetArrayItem(rules, i);
                bool seen = false;
                if (!cJSON_IsString(it))
                        continue;
                for (int j = 0; j < i && !seen; j++) {
                        const cJSON *p = cJSON_GetArrayItem(rules, j);
                        seen = cJSON_IsString(p) && streq(p->valuestring, it->valuestring);
                }
                if (seen)
                        continue;
                r = group_add(&st->rules, &st->n_rules, &run->cap_rules, it->valuestring, t,
                              st->now);
                if (r >= 0 && st->by == STATS_BY_RULE)
                        r = group_add(&st->groups, &st->n_groups, &run->cap_groups,
                                      it->valuestring, t, st->now);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* By name; the group without a name (no brand) last. */
static int figures_cmp(const void *a, const void *b) {
        const StatsFigures *x = a, *y = b;
        if (!x->name || !y->name)
                return !x->name - !y->name;
        return strcmp(x->name, y->name);
}

int queue_stats_compute(Store *s, int64_t since, int64_t now, StatsBy by, QueueStats *ret) {
        QueueStats st = {.since = since, .now = now, .by = by};
        StatsRun run = {.st = &st};
        int r;

        r = store_alert_times_foreach(s, since, stats_row, &run);
        if (r < 0) {
                queue_stats_done(&st);
                return r;
        }
        figures_finish(&st.all);
        for (size_t i = 0; i < st.n_groups; i++)
                figures_finish(&st.groups[i]);
        for (size_t i = 0; i < st.n_rules; i++)
                figures_finish(&st.rules[i]);
        if (st.n_groups > 1)
                qsort(st.groups, st.n_groups, sizeof(StatsFigures), figures_cmp);
        if (st.n_rules > 1)
                qsort(st.rules, st.n_rules, sizeof(StatsFigures), figures_cmp);
        *ret = st;
        return 0;
}

void queue_stats_done(QueueStats *st) {
        figures_done(&st->all);
        for (size_t i = 0; i < st->n_groups; i++)
                figures_done(&st->groups[i]);
        free(st->groups);
        for (size_t i = 0; i < st->n_rules; i++)
                figures_done(&st->rules[i]);
        free(st->rules);
        *st = (QueueStats){};
}

/* ---- JSON --------------------------------------------------------------------------------- */

static void add_share(cJSON *o, const char *key, size_t a, size_t b) {
        if (b > 0)
                cJSON_AddNumberToObject(o, key, stats_share(a, b));
        else
                cJSON_AddNullToObject(o, key);
}

/* {"n": 11, "median_seconds": 750, "p90_seconds": 3725.5}: µs as decimal seconds, exact */
static cJSON *durations_json(const DurationStats *d) {
        cJSON *o = cJSON_CreateObject();
        if (!o)
                return NULL;
        cJSON_AddNumberToObject(o, "n", (double)d->n);
        if (d->n > 0) {
                cJSON_AddNumberToObject(o, "median_seconds", (double)d->median / 1e6);
                cJSON_AddNumberToObject(o, "p90_seconds", (double)d->p90 / 1e6);
        } else {
                cJSON_AddNullToObject(o, "median_seconds");
                cJSON_AddNullToObject(o, "p90_seconds");
        }
        return o;
}

static cJSON *figures_json(const StatsFigures *f, const char *name_key) {
        cJSON *o = cJSON_CreateObject(), *states, *x;
        if (!o)
                return NULL;
        if (name_key)
                f->name ? (void)cJSON_AddStringToObject(o, name_key, f->name)
                        : (void)cJSON_AddNullToObject(o, name_key);
        cJSON_AddNumberToObject(o, "alerts", (double)f->alerts);
        states = cJSON_AddObjectToObject(o, "states");
        for (int s = 0; states && s < _ALERT_STATE_MAX; s++)
                cJSON_AddNumberToObject(states, alert_state_to_string(s), (double)f->states[s]);
        cJSON_AddItemToObject(o, "acknowledge", durations_json(&f->ack));
        cJSON_AddItemToObject(o, "respond", durations_json(&f->respond));
        x = cJSON_AddObjectToObject(o, "within_target");
        if (x) {
                cJSON_AddNumberToObject(x, "in_time", (double)f->in_time);
                cJSON_AddNumberToObject(x, "known", (double)f->known);
                add_share(x, "share", f->in_time, f->known);
        }
        x = cJSON_AddObjectToObject(o, "late_at_detection");
        if (x) {
                cJSON_AddNumberToObject(x, "n", (double)f->late);
                add_share(x, "share", f->late, f->alerts);
        }
        x = cJSON_AddObjectToObject(o, "false_positive");
        if (x) {
                cJSON_AddNumberToObject(x, "n", (double)f->states[ALERT_FALSE_POSITIVE]);
                add_share(x, "rate", f->states[ALERT_FALSE_POSITIVE], f->alerts);
        }
        return o;
}

cJSON *queue_stats_to_json(const QueueStats *st) {
        _cleanup_(cJSON_Deletep) cJSON *o = cJSON_CreateObject();
        cJSON *arr;
        char ts[32];

        if (!o)
                return NULL;
        cJSON_AddStringToObject(o, "since", format_timestamp(ts, sizeof(ts), st->since));
        cJSON_AddStringToObject(o, "now", format_timestamp(ts, sizeof(ts), st->now));
        if (st->by != STATS_BY_NONE)
                cJSON_AddStringToObject(o, "by", stats_by_to_string(st->by));
        else
                cJSON_AddNullToObject(o, "by");
        cJSON_AddItemToObject(o, "all", figures_json(&st->all, NULL));
        arr = cJSON_AddArrayToObject(o, "groups");
        for (size_t i = 0; arr && i < st->n_groups; i++)
                cJSON_AddItemToArray(arr, figures_json(&st->groups[i], "name"));
        arr = cJSON_AddArrayToObject(o, "false_positive_by_rule");
        for (size_t i = 0; arr && i < st->n_rules; i++) {
                const StatsFigures *f = &st->rules[i];
                cJSON *r = cJSON_CreateObject();
                if (!r)
                        return NULL;
                cJSON_AddItemToArray(arr, r);
                cJSON_AddStringToObject(r, "rule", f->name);
                cJSON_AddNumberToObject(r, "alerts", (double)f->alerts);
                cJSON_AddNumberToObject(r, "false_positive", (double)f->states[ALERT_FALSE_POSITIVE]);
                add_share(r, "rate", f->states[ALERT_FALSE_POSITIVE], f->alerts);
        }
        return TAKE_PTR(o);
}

/* ---- the report --------------------------------------------------------------------------- */

/* A duration to the second: "45s", "12m30s", "1h02m05s", "2d03h10m" (the JSON has the µs). */
static const char *format_span(char *buf, size_t len, usec_t d) {
        uint64_t s = d / USEC_PER_SEC;
        if (s >= 86400)
                snprintf(buf, len, "%" PRIu64 "d%02" PRIu64 "h%02" PRIu64 "m", s / 86400,
                         s % 86400 / 3600, s % 3600 / 60);
        else if (s >= 3600)
                snprintf(buf, len, "%" PRIu64 "h%02" PRIu64 "m%02" PRIu64 "s", s / 3600,
                         s % 3600 / 60, s % 60);
        else if (s >= 60)
                snprintf(buf, len, "%" PRIu64 "m%02" PRIu64 "s", s / 60, s % 60);
        else if (d % USEC_PER_SEC == 0)
                snprintf(buf, len, "%" PRIu64 "s", s);
        else
                snprintf(buf, len, "%.1fs", (double)d / 1e6);
        return buf;
}

/* "6 of 10 (60.0%)", or "0 of 0" */
static const char *format_share(char *buf, size_t len, size_t a, size_t b) {
        if (b > 0)
                snprintf(buf, len, "%zu of %zu (%.1f%%)", a, b, 100.0 * stats_share(a, b));
        else
                snprintf(buf, len, "0 of 0");
        return buf;
}

static void print_durations(FILE *f, const char *what, const DurationStats *d) {
        char a[48], b[48];
        if (d->n == 0) {
                fprintf(f, "  %-19snone yet\n", what);
                return;
        }
        fprintf(f, "  %-19smedian %s, 90th percentile %s (%zu alert%s)\n", what,
                format_span(a, sizeof(a), d->median), format_span(b, sizeof(b), d->p90), d->n,
                d->n == 1 ? "" : "s");
}

static void print_figures(FILE *f, const StatsFigures *g) {
        char buf[64];
        bool first = true;

        fputs("  by state:          ", f);
        for (int s = 0; s < _ALERT_STATE_MAX; s++) {
                if (g->states[s] == 0)
                        continue;
                fprintf(f, "%s%zu %s", first ? "" : ", ", g->states[s], alert_state_to_string(s));
                first = false;
        }
        fputs(first ? "-\n" : "\n", f);
        print_durations(f, "to acknowledge:", &g->ack);
        print_durations(f, "to respond:", &g->respond);
        fprintf(f, "  within target:     %s\n", format_share(buf, sizeof(buf), g->in_time, g->known));
        fprintf(f, "  late at detection: %s\n", format_share(buf, sizeof(buf), g->late, g->alerts));
        fprintf(f, "  false positives:   %s\n",
                format_share(buf, sizeof(buf), g->states[ALERT_FALSE_POSITIVE], g->alerts));
}

void queue_stats_print(const QueueStats *st, FILE *f) {
        char ts[32], buf[64];

        fprintf(f, "Complaint alerts of posts created since %s: %zu\n",
                format_timestamp(ts, sizeof(ts), st->since), st->all.alerts);
        if (st->all.alerts == 0)
                return;
        print_figures(f, &st->all);
        for (size_t i = 0; i < st->n_groups; i++) {
                const StatsFigures *g = &st->groups[i];
                fprintf(f, "\n%s %s: %zu alert%s\n", stats_by_to_string(st->by),
                        g->name ? g->name : "(none)", g->alerts, g->alerts == 1 ? "" : "s");
                print_figures(f, g);
        }
        if (st->by != STATS_BY_RULE && st->n_rules > 0) {
                int w = 4;
                for (size_t i = 0; i < st->n_rules; i++)
                        if (strlen(st->rules[i].name) > (size_t)w)
                                w = (int)strlen(st->rules[i].name);
                fputs("\nFalse positives by rule:\n", f);
                for (size_t i = 0; i < st->n_rules; i++)
                        fprintf(f, "  %-*s  %s\n", w, st->rules[i].name,
                                format_share(buf, sizeof(buf),
                                             st->rules[i].states[ALERT_FALSE_POSITIVE],
                                             st->rules[i].alerts));
        }
        fputs("\nWithin target: answered by the due time, over the alerts answered or still "
              "unanswered past due;\nthe response figures leave muted alerts and false positives "
              "out. Times count from the post's creation.\n",
              f);
}
