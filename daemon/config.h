/* SPDX-License-Identifier: MIT */
/*
 * config.h - the YAML configuration, validated into a Config. Every error names
 * FILE:LINE:COL; loading goes on after an error so one run shows every error. A Config is
 * immutable once loaded: a reload builds a new one and swaps only on success.
 */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "earshot-plugin.h"
#include "queue.h"
#include "util/time-util.h"

typedef struct Plugin Plugin;
typedef struct PluginRegistry PluginRegistry;

typedef struct ConfigPos {
        const char *file; /* borrowed from Config::files */
        unsigned line, column;
} ConfigPos;

/* Validated plugin option values, in the plugin's table order. */
typedef struct PluginValues {
        struct earshot_value *v; /* owned, n entries; strings owned too */
        size_t n;
} PluginValues;

typedef struct SourceConfig {
        char *name;
        char *type;
        const Plugin *plugin; /* borrowed from the registry */
        usec_t interval;
        usec_t respond_within; /* 0 = not set here */
        NetworkClass network_class; /* _NETWORK_CLASS_INVALID = by each post's network */
        usec_t backfill;
        usec_t silent_after; /* a feed failing or empty this long raises an operator alert */
        bool enabled;
        PluginValues values;
        ConfigPos pos;
} SourceConfig;

typedef struct NotifierConfig {
        char *name;
        char *type;
        const Plugin *plugin; /* borrowed from the registry */
        bool enabled;
        usec_t min_interval; /* least time between two delivery starts; 0 = no limit */
        PluginValues values;
        ConfigPos pos;
} NotifierConfig;

/*
 * A route (`routes:`): which alerts go to which notifiers. Routes are tried in order; an alert
 * takes the first route that matches and stops there unless the route says `continue: true`.
 * Every match key present must match (a list matches any of its values); a route with no
 * match keys matches every alert. An alert no route takes goes to every enabled notifier (the
 * implicit default route), so no alert goes unheard.
 */
typedef struct RouteConfig {
        char *name;
        char **brands, **rules, **networks, **sources, **tags; /* owned; NULL = any */
        unsigned severities; /* bit (1 << Severity) per severity; 0 = any */
        size_t *notifiers;   /* owned: indexes into Config::notifiers */
        size_t n_notifiers;
        bool cont;           /* `continue: true`: later routes are tried too */
        usec_t digest;       /* batch into one message per this interval; 0 = one each */
        int digest_severity; /* only alerts up to this Severity are batched (default low) */
        ConfigPos pos;
} RouteConfig;

typedef enum Severity {
        SEVERITY_LOW,
        SEVERITY_NORMAL,
        SEVERITY_HIGH,
        SEVERITY_CRITICAL,
        _SEVERITY_MAX,
        _SEVERITY_INVALID = -EINVAL,
} Severity;

const char *severity_to_string(Severity s);
Severity severity_from_string(const char *s);

typedef struct Ruleset Ruleset;
typedef struct RuleMatch RuleMatch;

/* A network class's part in response targets (`network_classes:`). */
typedef struct NetworkClassConfig {
        usec_t respond_within; /* 0 = not set: defaults.respond_within applies */
        char **networks;       /* owned: network names moved into this class; may be NULL */
} NetworkClassConfig;

typedef struct Config {
        char *path; /* the main file as given */
        char *dir;  /* its folder, for relative paths */
        char **files; /* every file read (main + includes), owned; ConfigPos points here */
        char **include_dirs; /* owned: folders include: patterns look in (for watch_config) */

        char *state_dir;  /* NULL = not set */
        char *plugin_dir; /* NULL = not set */
        int log_level;    /* -1 = not set */

        usec_t default_respond_within;
        usec_t default_backfill;
        usec_t default_interval;
        usec_t default_silent_after; /* 0 = never */

        usec_t http_timeout;
        usec_t http_connect_timeout;
        uint64_t max_response_size;
        unsigned max_per_host; /* requests in flight to one server; 0 = no limit */
        usec_t host_spacing;   /* minimum time between request starts to one server */
        char *ca_file;         /* NULL = the system's CA bundle */
        char *user_agent;

        usec_t retry_initial;
        usec_t retry_max;
        usec_t delivery_max_age; /* a row still undelivered this long after it was queued
                                  * fails; 0 = never */

        /* the alert queue */
        NetworkClassConfig network_classes[_NETWORK_CLASS_MAX];
        PriorityWeights priority;
        EscalationPolicy *escalation_policies; /* owned, n_escalation_policies */
        size_t n_escalation_policies;
        ssize_t escalation_by_severity[_SEVERITY_MAX]; /* policy index; -1 = no escalation */
        bool group_threads;         /* an author's further posts join their open alert */
        usec_t group_copies_window; /* the same text from other accounts; 0 = off */
        usec_t alert_retention;     /* closed alerts, after their last change; 0 = forever */
        usec_t outbox_retention;    /* delivered or rejected outbox rows; 0 = forever */
        usec_t seen_retention;      /* retention.seen (formerly store.seen_retention) */

        SourceConfig *sources;
        size_t n_sources;
        NotifierConfig *notifiers;
        size_t n_notifiers;
        RouteConfig *routes; /* owned, n_routes; none = every alert to every enabled notifier */
        size_t n_routes;
        Ruleset *rules; /* owned: brands and rules, compiled */
        bool watch_config; /* reload by itself when a config file changes */

        char **warnings; /* owned: lint findings, "FILE:LINE:COL: warning: ..." */
} Config;

/* Called once per error, already formatted as "FILE:LINE:COL: message". */
typedef void (*ConfigErrorFunc)(const char *msg, void *userdata);

/*
 * Load and validate. plugin_dir_override (from --plugin-dir or $EARSHOT_PLUGIN_DIR) wins over
 * the config's plugin_dir; the registry loads the plugins the config names. Returns 0 and
 * *ret; or -EINVAL after reporting every error through on_error; or another negative errno.
 */
int config_load(const char *path, const char *plugin_dir_override, PluginRegistry *registry,
                ConfigErrorFunc on_error, void *userdata, Config **ret);
/*
 * The same, with rule files standing in for the included files of the same name (a file whose
 * name no include matches is read in addition): how `earshotctl backtest --rules` tries a
 * changed rule set against the running configuration.
 */
int config_load_with_rules(const char *path, const char *plugin_dir_override,
                           char *const *rule_files, PluginRegistry *registry,
                           ConfigErrorFunc on_error, void *userdata, Config **ret);
Config *config_free(Config *c);

/* Print a summary (sources, feeds, rules, notifiers; secrets as ***) to f. */
void config_dump_summary(const Config *c, FILE *f);

/*
 * The target without network classes: rule_target (the matched rule's own, or its brand's; see
 * rule_respond_within()), else the source's, else defaults.respond_within. rule_target 0 =
 * none. Superseded by config_target(), which also knows the post's network class.
 */
usec_t config_respond_within(const Config *c, usec_t rule_target, const SourceConfig *src);

/*
 * The class of a post from src (may be NULL) on network (may be NULL): the source's
 * network_class, else the class whose `networks:` names the network, else network_class_of().
 */
NetworkClass config_network_class(const Config *c, const SourceConfig *src, const char *network);

/*
 * The response target of a new alert, in the order rule > brand > source > network class >
 * defaults.respond_within (target_resolve()), for each of the n_matches matched rules (m may be
 * NULL when n_matches is 0, as for operator alerts); several rules: the shortest target wins.
 * *ret_from (when not NULL) names where the winning target was set: "rule", "brand",
 * "source", "network class" or "default".
 */
usec_t config_target(const Config *c, const RuleMatch *m, size_t n_matches,
                     const SourceConfig *src, const char *network, const char **ret_from);

/*
 * The escalation policy of an alert that matched these rules with severity sev: a matched
 * rule's own `escalation:` (several: the one of the highest-severity rule, ties the first;
 * `escalation: none` counts as a choice), else escalation.by_severity. NULL = no escalation.
 */
const EscalationPolicy *config_escalation_for(const Config *c, const RuleMatch *m,
                                              size_t n_matches, Severity sev);
/* A policy by name (an alert stored with its policy's name, after a reload); NULL if gone. */
const EscalationPolicy *config_escalation_policy(const Config *c, const char *name);
/*
 * When a step stops for an alert with this target: its `stop_on`, or when the configuration
 * set none, escalation_default_stop(). Steps given as a share of the target have theirs set at
 * load time; steps given as a duration (`at: 45m`) keep _ALERT_STATE_INVALID, since before or
 * after the due time depends on each alert's target.
 */
AlertState config_step_stop_on(const EscalationStep *s, usec_t target);

/* Levenshtein distance capped at 255; used for "did you mean". */
unsigned edit_distance(const char *a, const char *b);

static inline void config_freep(Config **c) {
        if (*c)
                config_free(*c);
}
