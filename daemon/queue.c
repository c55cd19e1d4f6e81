/* SPDX-License-Identifier: MIT */
/*
 * queue.c - the alert queue's rules as pure functions (see queue.h).
 */
#include "queue.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- lifecycle ------------------------------------------------------------------------------ */

static const char *const state_names[_ALERT_STATE_MAX] = {
        [ALERT_OPEN] = "open",
        [ALERT_ACKNOWLEDGED] = "acknowledged",
        [ALERT_RESPONDED] = "responded",
        [ALERT_RESOLVED] = "resolved",
        [ALERT_MUTED] = "muted",
        [ALERT_FALSE_POSITIVE] = "false-positive",
};

const char *alert_state_to_string(AlertState s) {
        return s >= 0 && s < _ALERT_STATE_MAX ? state_names[s] : "?";
}

AlertState alert_state_from_string(const char *s) {
        for (int i = 0; s && i < _ALERT_STATE_MAX; i++)
                if (strcmp(s, state_names[i]) == 0)
                        return (AlertState)i;
        return _ALERT_STATE_INVALID;
}

bool alert_state_active(AlertState s) {
        return s == ALERT_OPEN || s == ALERT_ACKNOWLEDGED;
}

static const char *const action_names[_ALERT_ACTION_MAX] = {
        [ALERT_ACK] = "ack",
        [ALERT_RESPOND] = "respond",
        [ALERT_RESOLVE] = "resolve",
        [ALERT_REOPEN] = "reopen",
        [ALERT_MUTE] = "mute",
        [ALERT_MARK_FALSE_POSITIVE] = "false-positive",
};

const char *alert_action_to_string(AlertAction a) {
        return a >= 0 && a < _ALERT_ACTION_MAX ? action_names[a] : "?";
}

AlertAction alert_action_from_string(const char *s) {
        for (int i = 0; s && i < _ALERT_ACTION_MAX; i++)
                if (strcmp(s, action_names[i]) == 0)
                        return (AlertAction)i;
        return _ALERT_ACTION_INVALID;
}

int alert_transition(AlertState from, AlertAction action, AlertState *ret_state) {
        AlertState to;

        if (from < 0 || from >= _ALERT_STATE_MAX)
                return -EINVAL;
        switch (action) {
        case ALERT_ACK:
                to = ALERT_ACKNOWLEDGED;
                /* acknowledging says "we are on it": only while nobody has answered yet */
                if (from != ALERT_OPEN && from != ALERT_ACKNOWLEDGED)
                        return -EPERM;
                break;
        case ALERT_RESPOND:
                to = ALERT_RESPONDED;
                if (from != ALERT_OPEN && from != ALERT_ACKNOWLEDGED && from != ALERT_RESPONDED)
                        return -EPERM;
                break;
        case ALERT_RESOLVE:
                to = ALERT_RESOLVED;
                if (from != ALERT_OPEN && from != ALERT_ACKNOWLEDGED && from != ALERT_RESPONDED &&
                    from != ALERT_RESOLVED)
                        return -EPERM;
                break;
        case ALERT_REOPEN:
                to = ALERT_OPEN;
                break;
        case ALERT_MUTE:
                to = ALERT_MUTED;
                /* muting is for alerts nobody needs to answer: not once answered */
                if (from != ALERT_OPEN && from != ALERT_ACKNOWLEDGED && from != ALERT_MUTED)
                        return -EPERM;
                break;
        case ALERT_MARK_FALSE_POSITIVE:
                to = ALERT_FALSE_POSITIVE;
                /* a rule misfired: may be said at any time, even after an answer went out */
                break;
        default:
                return -EINVAL;
        }
        if (from == to)
                return -EALREADY;
        *ret_state = to;
        return 0;
}

/* ---- response targets ----------------------------------------------------------------------- */

static const char *const class_names[_NETWORK_CLASS_MAX] = {
        [NETWORK_SOCIAL] = "social",
        [NETWORK_FORUM] = "forum",
        [NETWORK_REVIEW] = "review",
};

const char *network_class_to_string(NetworkClass c) {
        return c >= 0 && c < _NETWORK_CLASS_MAX ? class_names[c] : "?";
}

NetworkClass network_class_from_string(const char *s) {
        for (int i = 0; s && i < _NETWORK_CLASS_MAX; i++)
                if (strcmp(s, class_names[i]) == 0)
                        return (NetworkClass)i;
        return _NETWORK_CLASS_INVALID;
}

NetworkClass network_class_of(const char *network) {
        static const char *const forums[] = {"reddit",    "hackernews",    "lemmy",
                                              "discourse", "stackexchange", NULL};
        static const char *const reviews[] = {"appstore", "googleplay", "rss", NULL};

        for (size_t i = 0; network && forums[i]; i++)
                if (strcmp(network, forums[i]) == 0)
                        return NETWORK_FORUM;
        for (size_t i = 0; network && reviews[i]; i++)
                if (strcmp(network, reviews[i]) == 0)
                        return NETWORK_REVIEW;
        return NETWORK_SOCIAL;
}

usec_t network_class_default_target(NetworkClass c) {
        return c == NETWORK_SOCIAL ? 60 * USEC_PER_MINUTE : 24 * USEC_PER_HOUR;
}

int64_t alert_due(int64_t created_usec, int64_t detected_usec, usec_t target) {
        int64_t from = created_usec > 0 ? created_usec : detected_usec;
        if (target > (usec_t)(INT64_MAX - from))
                return INT64_MAX;
        return from + (int64_t)target;
}

int64_t alert_lateness(int64_t due_usec, int64_t detected_usec) {
        return detected_usec > due_usec ? detected_usec - due_usec : 0;
}

usec_t target_resolve(const TargetChain *t, const char **ret_from) {
        const struct {
                usec_t v;
                const char *from;
        } chain[] = {
                {t->rule, "rule"},
                {t->brand, "brand"},
                {t->source, "source"},
                {t->network_class, "network class"},
                {t->global, "default"},
        };
        for (size_t i = 0; i < sizeof(chain) / sizeof(chain[0]); i++)
                if (chain[i].v > 0) {
                        if (ret_from)
                                *ret_from = chain[i].from;
                        return chain[i].v;
                }
        if (ret_from)
                *ret_from = "default";
        return t->global;
}

/* ---- priority ------------------------------------------------------------------------------- */

double priority_score(const PriorityWeights *w, int severity, int64_t followers, int64_t replies,
                      int64_t reposts, int64_t likes) {
        double engagement = 0;
        if (severity < 0)
                severity = 0;
        if (severity > 3)
                severity = 3;
        if (replies > 0)
                engagement += (double)replies;
        if (reposts > 0)
                engagement += (double)reposts;
        if (likes > 0)
                engagement += (double)likes;
        double score = w->severity * (severity + 1);
        if (followers > 0)
                score += w->reach * log10(1.0 + (double)followers);
        if (engagement > 0)
                score += w->engagement * log10(1.0 + engagement);
        /* two decimals are plenty to order by, and keep stored values stable */
        return round(score * 100.0) / 100.0;
}

/* ---- escalation ----------------------------------------------------------------------------- */

AlertState escalation_default_stop(double fraction, usec_t offset, usec_t target) {
        bool before_due = fraction > 0 ? fraction < 1.0 : offset < target;
        return before_due ? ALERT_ACKNOWLEDGED : ALERT_RESPONDED;
}

int64_t escalation_step_time(const EscalationStep *s, int64_t created, usec_t target) {
        if (s->fraction > 0)
                return created + (int64_t)llround(s->fraction * (double)target);
        return created + (int64_t)s->offset;
}

bool escalation_step_live(const EscalationStep *s, AlertState state) {
        if (!alert_state_active(state))
                return false; /* responded, resolved, muted, false positive: no more steps */
        /* acknowledged ends the steps meant to get someone on it */
        return !(state == ALERT_ACKNOWLEDGED && s->stop_on == ALERT_ACKNOWLEDGED);
}

typedef struct StepOrder {
        size_t index;
        int64_t at;
} StepOrder;

static int step_order_cmp(const void *a, const void *b) {
        const StepOrder *x = a, *y = b;
        if (x->at != y->at)
                return x->at < y->at ? -1 : 1;
        return x->index < y->index ? -1 : x->index > y->index;
}

int escalation_plan(const EscalationPolicy *p, size_t level, AlertState state, int64_t created,
                    usec_t target, int64_t now, EscalationPlan *ret) {
        *ret = (EscalationPlan){.fire = SIZE_MAX, .level = level, .next_usec = 0};
        if (!p || p->n_steps == 0 || level >= p->n_steps)
                return 0;

        StepOrder *order = calloc(p->n_steps, sizeof(StepOrder));
        if (!order)
                return -ENOMEM;
        for (size_t i = 0; i < p->n_steps; i++)
                order[i] = (StepOrder){.index = i,
                                       .at = escalation_step_time(&p->steps[i], created, target)};
        qsort(order, p->n_steps, sizeof(StepOrder), step_order_cmp);

        size_t k = level;
        /* the latest live step that is due fires; the due ones before it are passed over */
        for (size_t i = level; i < p->n_steps && order[i].at <= now; i++)
                if (escalation_step_live(&p->steps[order[i].index], state)) {
                        ret->fire = order[i].index;
                        k = i + 1;
                }
        ret->level = k;
        for (size_t i = k; i < p->n_steps; i++)
                if (order[i].at > now && escalation_step_live(&p->steps[order[i].index], state)) {
                        ret->next_usec = order[i].at;
                        break;
                }
        free(order);
        return 0;
}

const char *escalation_message(char *buf, size_t len, int64_t due, int64_t now) {
        char d[32];
        if (now < due)
                snprintf(buf, len, "still unanswered, due in %s",
                         format_duration(d, sizeof(d), (usec_t)(due - now)));
        else
                snprintf(buf, len, "overdue by %s",
                         format_duration(d, sizeof(d), (usec_t)(now - due)));
        return buf;
}

/* ---- figures -------------------------------------------------------------------------------- */

static int int64_cmp(const void *a, const void *b) {
        int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
        return x < y ? -1 : x > y;
}

/* The ceil(q * n)-th smallest (1-based), computed in integers: no rounding surprises. */
static int64_t nearest_rank(const int64_t *sorted, size_t n, unsigned percent) {
        size_t rank = (n * percent + 99) / 100;
        if (rank < 1)
                rank = 1;
        return sorted[rank - 1];
}

DurationStats duration_stats(int64_t *values, size_t n) {
        DurationStats st = {.n = n};
        if (n == 0)
                return st;
        qsort(values, n, sizeof(int64_t), int64_cmp);
        int64_t med = nearest_rank(values, n, 50), p90 = nearest_rank(values, n, 90);
        st.median = med > 0 ? (usec_t)med : 0;
        st.p90 = p90 > 0 ? (usec_t)p90 : 0;
        return st;
}
