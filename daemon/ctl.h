/* SPDX-License-Identifier: MIT */
/*
 * ctl.h - what earshotctl's command modules share: the parsed command line, the config loader
 * that prints errors the way --check-config does, the way to the store, the exit codes, and the
 * team's figures (ctl-stats.c, in a library of its own so that its unit test can link it).
 */
#pragma once

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "plugin.h"
#include "queue.h"
#include "store.h"
#include "util/cleanup.h"
#include "util/time-util.h"

extern const char *arg_config;   /* --config, default DEFAULT_CONFIG */
extern const char *arg_state_dir;
extern bool arg_json;
extern int arg_color;            /* -1 auto, 0 never, 1 always */
extern const char *arg_lang, *arg_network, *arg_source;
extern int64_t arg_followers;    /* -1 = unknown */
extern int64_t arg_rating;       /* 0 = not a review */
extern usec_t arg_since;
extern char **arg_rules;         /* --rules, NULL when none */

/* A ConfigErrorFunc printing to stderr and counting in *(unsigned *)userdata. */
void ctl_print_config_error(const char *msg, void *userdata);
/* Load a config (with rule files standing in, for backtest), printing every error. */
int ctl_load_config(const char *path, char *const *rule_files, Config **ret);

int ctl_test_rules(const char *path);
int ctl_explain(const char *text);
int ctl_backtest(Store *s, Config *current);
int ctl_poll(const char *name, unsigned max_pages);
int ctl_sources(Store *s, const Config *cfg);

/* ---- the alert queue (ctl-queue.c: list, show, ack ... false-positive, stats) --------------- */

/*
 * earshotctl's exit codes, the same for every queue command (and documented in --help,
 * earshotctl(1) and the README).
 */
enum {
        CTL_EXIT_OK = 0,
        CTL_EXIT_ALERT = 1, /* an alert named could not be shown or changed: unknown id, ambiguous
                             * prefix, a move its state does not allow, already in that state */
        CTL_EXIT_USAGE = 2, /* bad command line */
        CTL_EXIT_STORE = 3, /* the store: missing, unreadable, read-only for a change, locked
                             * past the busy timeout, another schema, or failing */
};

/* "earshotctl NAME: <message>" and a pointer to NAME's --help, on stderr; CTL_EXIT_USAGE. */
_printf_(2, 3) int ctl_usage_error(const char *name, const char *fmt, ...);

/* --color WHEN: "auto", "always" or "never" into arg_color; -EINVAL for anything else. */
int ctl_parse_color(const char *when);
/* Whether to colour stdout: --color, else a terminal with NO_COLOR unset (no-color.org). */
bool ctl_use_color(void);

/*
 * Open the daemon's store: the state directory is --state-dir, else the config's state_dir
 * (the config is read leniently: only that is needed), else $STATE_DIRECTORY or the default.
 * `writable` for the commands that change alerts: the store is first checked read-only (a
 * missing file, another schema and a read-only file are refused before anything is touched).
 * Prints one line naming the path on failure and returns a negative errno; *ret_path (when
 * not NULL) gets the path (malloc()ed) on success.
 */
int ctl_open_store(bool writable, Store **ret, char **ret_path);

/* A delivery command (ctl-deliveries.c: deliveries, redeliver, notify-test): argv[0] is its
 * name. */
bool ctl_delivery_command(const char *name);
int ctl_delivery_main(int argc, char **argv);

/* A queue command: argv[0] is its name. */
bool ctl_queue_command(const char *name);
int ctl_queue_main(int argc, char **argv);

/* ---- the team's figures (ctl-stats.c) -------------------------------------------------------- */

typedef enum StatsBy {
        STATS_BY_NONE,
        STATS_BY_RULE,
        STATS_BY_BRAND,
        STATS_BY_NETWORK,
        _STATS_BY_MAX,
        _STATS_BY_INVALID = -EINVAL,
} StatsBy;

const char *stats_by_to_string(StatsBy b); /* "none", "rule", "brand", "network" */
StatsBy stats_by_from_string(const char *s);

/*
 * The figures of one set of complaint alerts. "Answerable" alerts are all but the muted and
 * the false positives (nobody owed those an answer); the response figures count only them.
 */
typedef struct StatsFigures {
        char *name;                      /* owned: the group; NULL for everything, or for the
                                          * alerts without a brand in a brand grouping */
        size_t alerts;                   /* complaint alerts of posts created in the period */
        size_t states[_ALERT_STATE_MAX]; /* by current state */
        /* answerable alerts ever acknowledged / answered: first time minus the post's
         * creation (µs, negative clamped to 0), sorted by ctl_stats_compute() */
        int64_t *to_ack, *to_respond;    /* owned */
        size_t n_to_ack, n_to_respond, cap_to_ack, cap_to_respond;
        DurationStats ack, respond;      /* nearest-rank median and 90th percentile of those */
        /* within target: answerable alerts whose first answer came by the due time, over the
         * answerable alerts whose outcome is known: answered, or still unanswered past due */
        size_t in_time, known;
        size_t late;                     /* already past the target when detected */
} StatsFigures;

typedef struct QueueStats {
        int64_t since, now;              /* posts created at or after since; "past due" at now */
        StatsBy by;
        StatsFigures all;
        StatsFigures *groups;            /* owned: per --by group, by name (none without --by) */
        size_t n_groups;
        StatsFigures *rules;             /* owned: per rule, by name (false-positive rates); an
                                          * alert counts in every rule it lists */
        size_t n_rules;
} QueueStats;

/* Compute the figures of the complaint alerts of posts created since `since`: 0, or a negative
 * errno (-ENOMEM, or the store's). */
int queue_stats_compute(Store *s, int64_t since, int64_t now, StatsBy by, QueueStats *ret);
void queue_stats_done(QueueStats *st);

/* a / b, or NAN when b is 0 */
double stats_share(size_t a, size_t b);

/* The figures as the JSON `earshotctl stats --json` prints (NULL on OOM), and as a report. */
cJSON *queue_stats_to_json(const QueueStats *st);
void queue_stats_print(const QueueStats *st, FILE *f);
