/* SPDX-License-Identifier: MIT */
/*
 * queue.h - the alert queue's rules, as pure functions: an alert's states and the moves between
 * them, which response target applies, the priority score, when escalation steps fire and what
 * they say, and the figures a team lead reports (percentiles). No I/O here: the SQL is in
 * store-queue.c, the timers in manager.c, the commands in ctl-queue.c.
 */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/time-util.h"

/* ---- lifecycle ------------------------------------------------------------------------------ */

typedef enum AlertState {
        ALERT_OPEN,
        ALERT_ACKNOWLEDGED,
        ALERT_RESPONDED,
        ALERT_RESOLVED,
        ALERT_MUTED,
        ALERT_FALSE_POSITIVE,
        _ALERT_STATE_MAX,
        _ALERT_STATE_INVALID = -EINVAL,
} AlertState;

/* "open", "acknowledged", "responded", "resolved", "muted", "false-positive" */
const char *alert_state_to_string(AlertState s);
AlertState alert_state_from_string(const char *s);

/* Still on the clock: open or acknowledged (escalations and threads apply). */
bool alert_state_active(AlertState s);

typedef enum AlertAction {
        ALERT_ACK,
        ALERT_RESPOND,
        ALERT_RESOLVE,
        ALERT_REOPEN,
        ALERT_MUTE,
        ALERT_MARK_FALSE_POSITIVE,
        _ALERT_ACTION_MAX,
        _ALERT_ACTION_INVALID = -EINVAL,
} AlertAction;

/* The earshotctl verbs: "ack", "respond", "resolve", "reopen", "mute", "false-positive" */
const char *alert_action_to_string(AlertAction a);
AlertAction alert_action_from_string(const char *s);

/*
 * The move an action makes from a state. Returns 0 and *ret_state; -EALREADY when the alert is
 * already there (acknowledging an acknowledged alert); -EPERM when the move makes no sense
 * (acknowledging a resolved alert: reopen it first).
 */
int alert_transition(AlertState from, AlertAction action, AlertState *ret_state);

/* ---- response targets ----------------------------------------------------------------------- */

typedef enum NetworkClass {
        NETWORK_SOCIAL, /* mastodon, bluesky, ...: an answer within the hour */
        NETWORK_FORUM,  /* reddit, hackernews, lemmy, discourse, stackexchange */
        NETWORK_REVIEW, /* appstore, rss (review sites, blogs) */
        _NETWORK_CLASS_MAX,
        _NETWORK_CLASS_INVALID = -EINVAL,
} NetworkClass;

const char *network_class_to_string(NetworkClass c); /* "social", "forum", "review" */
NetworkClass network_class_from_string(const char *s);
/* The class of a network name as plugins emit it; unknown networks count as social (the
 * strictest: better early than late). */
NetworkClass network_class_of(const char *network);

/* The shipped class defaults: 60 minutes for social networks, 24 hours for the others. */
usec_t network_class_default_target(NetworkClass c);

/*
 * When an answer is due: the post's creation time (µs since the epoch, UTC; the detection time
 * when the network gives none) plus the target. Wall-clock arithmetic on UTC microseconds:
 * time zones and daylight saving never move a due time.
 */
int64_t alert_due(int64_t created_usec, int64_t detected_usec, usec_t target);
/* How late a post already was when first detected: detected - due, or 0 when in time. */
int64_t alert_lateness(int64_t due_usec, int64_t detected_usec);

/* Where a target may be set, strongest first; 0 = not set there. */
typedef struct TargetChain {
        usec_t rule, brand, source, network_class, global;
} TargetChain;

/* The first target set along the chain (global must be set); *ret_from names where it came
 * from ("rule", "brand", "source", "network class", "default") when ret_from is not NULL. */
usec_t target_resolve(const TargetChain *t, const char **ret_from);

/* ---- priority ------------------------------------------------------------------------------- */

typedef struct PriorityWeights {
        double severity;   /* per severity step: low 1, normal 2, high 3, critical 4 */
        double reach;      /* per decade of followers: log10(1 + followers) */
        double engagement; /* per decade of replies + reposts + likes */
} PriorityWeights;

#define PRIORITY_WEIGHTS_DEFAULT ((PriorityWeights){.severity = 10.0, .reach = 2.0, .engagement = 3.0})

/*
 * severity: 0 (low) .. 3 (critical). Unknown counts (-1) add nothing. Higher is more urgent;
 * the queue orders by due time first, then by this score.
 */
double priority_score(const PriorityWeights *w, int severity, int64_t followers, int64_t replies,
                      int64_t reposts, int64_t likes);

/* ---- escalation ----------------------------------------------------------------------------- */

typedef struct EscalationStep {
        double fraction;    /* of the target, counted from the post's creation; 0 = use offset */
        usec_t offset;      /* from the post's creation, when fraction is 0 */
        AlertState stop_on; /* ALERT_ACKNOWLEDGED or ALERT_RESPONDED: the state that ends it */
        char **notify;      /* notifier names; NULL = every enabled notifier */
} EscalationStep;

typedef struct EscalationPolicy {
        char *name;
        EscalationStep *steps; /* as configured */
        size_t n_steps;
} EscalationPolicy;

/* A step's default stop: steps before the due time stop at acknowledged, later ones only at
 * responded. */
AlertState escalation_default_stop(double fraction, usec_t offset, usec_t target);

/* When step s fires for a post created at `created` with target `target` (µs, wall clock). */
int64_t escalation_step_time(const EscalationStep *s, int64_t created, usec_t target);

/* Whether a step still applies to an alert in state `state`. */
bool escalation_step_live(const EscalationStep *s, AlertState state);

typedef struct EscalationPlan {
        size_t fire;      /* index into policy->steps of the step to fire now; SIZE_MAX = none */
        size_t level;     /* steps handled so far, in time order, after firing */
        int64_t next_usec; /* when the next live step is due; 0 = none left */
} EscalationPlan;

/*
 * What to do at `now` for an alert that has handled `level` steps (in time order: steps are
 * ordered by their time for this alert, ties in configured order). Of the live steps due by
 * now, only the latest fires (after downtime, one "overdue by 2h" rather than a burst of old
 * reminders); steps stopped by the state are passed over without firing. Returns 0, or
 * -ENOMEM.
 */
int escalation_plan(const EscalationPolicy *p, size_t level, AlertState state, int64_t created,
                    usec_t target, int64_t now, EscalationPlan *ret);

/* "still unanswered, due in 12m" or "overdue by 5m", as the escalation's message. */
const char *escalation_message(char *buf, size_t len, int64_t due, int64_t now);

/* ---- figures -------------------------------------------------------------------------------- */

typedef struct DurationStats {
        size_t n;
        usec_t median, p90; /* nearest rank: the ceil(q * n)-th smallest; 0 when n == 0 */
} DurationStats;

/* Sorts values (µs, >= 0) in place. */
DurationStats duration_stats(int64_t *values, size_t n);
