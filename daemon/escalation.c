/* SPDX-License-Identifier: MIT */
/*
 * escalation.c - walks unanswered alerts through their escalation steps (see escalation.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dispatch.h"
#include "escalation.h"
#include "log.h"
#include "manager.h"
#include "queue.h"
#include "store.h"
#include "util/cleanup.h"
#include "util/strv.h"

#define BATCH 64
#define WATCH_INTERVAL USEC_PER_SEC /* how often other writers are looked for */

struct Escalator {
        Manager *m;                 /* borrowed: the owner */
        sd_event_source *timer;     /* owned: the next step */
        sd_event_source *watch;     /* owned: PRAGMA data_version, every second */
        int64_t data_version;
};

int escalation_plan_for(const EscalationPolicy *p, size_t level, AlertState state,
                        int64_t created, usec_t target, int64_t now, EscalationPlan *ret) {
        if (!p || p->n_steps == 0)
                return escalation_plan(NULL, level, state, created, target, now, ret);
        EscalationStep *steps = calloc(p->n_steps, sizeof(EscalationStep));
        if (!steps)
                return -ENOMEM;
        for (size_t i = 0; i < p->n_steps; i++) {
                steps[i] = p->steps[i];
                steps[i].stop_on = config_step_stop_on(&p->steps[i], target);
        }
        EscalationPolicy resolved = {.name = p->name, .steps = steps, .n_steps = p->n_steps};
        int r = escalation_plan(&resolved, level, state, created, target, now, ret);
        free(steps);
        return r;
}

static void arm(Escalator *e, usec_t delay) {
        if (sd_event_source_set_time(e->timer, now_usec(CLOCK_MONOTONIC) + delay) < 0 ||
            sd_event_source_set_enabled(e->timer, SD_EVENT_ONESHOT) < 0)
                log_error("cannot arm the escalation timer");
}

/* Re-arm for the earliest planned step. */
static void rearm(Escalator *e) {
        Manager *m = e->m;
        int64_t next, now = (int64_t)now_usec(CLOCK_REALTIME);

        if (m->stopping)
                return;
        int r = store_escalation_next(m->store, &next);
        if (r == -ENOENT) {
                (void)sd_event_source_set_enabled(e->timer, SD_EVENT_OFF);
                return;
        }
        if (r < 0) {
                log_warning("cannot read the escalation plan: %s; looking again in 10s",
                            store_errmsg(m->store));
                arm(e, 10 * USEC_PER_SEC);
                return;
        }
        arm(e, next > now ? (usec_t)(next - now) : 0);
}

/*
 * Queue one step's rows, record it, plan the next: one transaction, planned with the alert as
 * it is inside that transaction (an earshotctl ack a moment ago counts).
 */
static int step_alert(Escalator *e, const char *id, int64_t now, bool *ret_fired) {
        Manager *m = e->m;
        const Config *c = m->inst.config;
        _cleanup_(alert_done) Alert a_ = {};
        const Alert *a = &a_;
        EscalationPlan plan;
        char event[32], message[96], note[256];
        int r;

        *ret_fired = false;
        r = store_begin(m->store);
        if (r < 0)
                return r;
        r = store_alert_get(m->store, id, &a_);
        if (r == -ENOENT) {
                store_rollback(m->store); /* pruned meanwhile */
                return 0;
        }
        if (r < 0)
                goto fail;
        const EscalationPolicy *p = a->escalation ? config_escalation_policy(c, a->escalation)
                                                  : NULL;
        AlertState state = alert_state_from_string(a->state);
        if (!p || state < 0) {
                /* the policy left the config, or a state this earshot does not know: stop */
                if (a->escalation && !p)
                        log_notice("alert %s: escalation policy '%s' is no longer configured; "
                                   "no further steps",
                                   a->id, a->escalation);
                r = store_alert_set_escalation(m->store, a->id, a->escalation_level, 0);
                if (r >= 0)
                        r = store_commit(m->store);
                if (r < 0)
                        goto fail;
                return 0;
        }
        r = escalation_plan_for(p, (size_t)a->escalation_level, state, a->created_usec,
                                (usec_t)a->respond_within_usec, now, &plan);
        if (r < 0)
                goto fail;
        if (plan.fire != SIZE_MAX) {
                const EscalationStep *step = &p->steps[plan.fire];
                snprintf(event, sizeof(event), "escalation-%zu", plan.level);
                escalation_message(message, sizeof(message), a->due_usec, now);
                size_t sent = 0;
                _cleanup_strv_free_ char **rules = NULL;
                AlertFacts f;
                AlertState stop = config_step_stop_on(step, (usec_t)a->respond_within_usec);
                r = alert_facts_init(&f, a, &rules);
                if (r >= 0)
                        r = manager_queue_event(m, &f, step->notify, a->id, event,
                                                alert_state_to_string(stop), message, now);
                if (r > 0)
                        sent = (size_t)r;
                snprintf(note, sizeof(note), "%s: %s (%zu notifier%s)", event, message, sent,
                         sent == 1 ? "" : "s");
                if (r >= 0)
                        r = store_event_add(m->store, a->id, now, "escalated", NULL, NULL,
                                            "earshotd", note);
        }
        if (r >= 0)
                r = store_alert_set_escalation(m->store, a->id, (int64_t)plan.level,
                                               plan.next_usec);
        if (r >= 0)
                r = store_commit(m->store);
        if (r < 0)
                goto fail;
        if (plan.fire != SIZE_MAX) {
                *ret_fired = true;
                log_info("alert %s: %s", a->id, note);
        }
        return 0;
fail:
        store_rollback(m->store);
        return r;
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Escalator *e = userdata;
        Manager *m = e->m;
        Alert *list = NULL;
        size_t n = 0;
        bool fired = false;

        if (m->stopping || !m->inst.config)
                return 0;
        int64_t now = (int64_t)now_usec(CLOCK_REALTIME);
        int r = store_escalations_due(m->store, now, BATCH, &list, &n);
        if (r < 0) {
                log_warning("cannot read the escalation plan: %s; looking again in 10s",
                            store_errmsg(m->store));
                arm(e, 10 * USEC_PER_SEC);
                return 0;
        }
        for (size_t i = 0; i < n; i++) {
                bool f = false;
                r = step_alert(e, list[i].id, now, &f);
                if (r < 0) {
                        log_warning("alert %s: cannot record its escalation step: %s; trying "
                                    "again in 10s",
                                    list[i].id, store_errmsg(m->store));
                        alerts_free(list, n);
                        arm(e, 10 * USEC_PER_SEC);
                        return 0;
                }
                fired = fired || f;
        }
        alerts_free(list, n);
        if (fired)
                dispatcher_kick(m->dispatcher);
        if (n == BATCH)
                arm(e, 0);
        else
                rearm(e);
        return 0;
}

/* Another connection committed (earshotctl ack, reopen...): plan again, send again. */
static int on_watch(sd_event_source *s, uint64_t usec, void *userdata) {
        Escalator *e = userdata;
        Manager *m = e->m;
        int64_t v;

        if (!m->stopping && store_data_version(m->store, &v) >= 0 && v != e->data_version) {
                e->data_version = v;
                rearm(e);
                dispatcher_kick(m->dispatcher);
        }
        (void)sd_event_source_set_time(s, now_usec(CLOCK_MONOTONIC) + WATCH_INTERVAL);
        return 0;
}

void escalator_kick(Escalator *e) {
        if (e)
                rearm(e);
}

int escalator_new(Manager *m, Escalator **ret) {
        Escalator *e = calloc(1, sizeof(*e));
        int r;

        if (!e)
                return -ENOMEM;
        e->m = m;
        r = sd_event_add_time(m->event, &e->timer, CLOCK_MONOTONIC, USEC_INFINITY, 1, on_timer,
                              e);
        if (r >= 0) {
                (void)sd_event_source_set_enabled(e->timer, SD_EVENT_OFF);
                (void)sd_event_source_set_description(e->timer, "escalation");
                r = sd_event_add_time_relative(m->event, &e->watch, CLOCK_MONOTONIC,
                                               WATCH_INTERVAL, USEC_PER_SEC / 10, on_watch, e);
        }
        if (r < 0) {
                escalator_free(e);
                return r;
        }
        (void)sd_event_source_set_enabled(e->watch, SD_EVENT_ON);
        (void)sd_event_source_set_description(e->watch, "store-watch");
        (void)store_data_version(m->store, &e->data_version);
        *ret = e;
        return 0;
}

Escalator *escalator_free(Escalator *e) {
        if (!e)
                return NULL;
        sd_event_source_disable_unref(e->timer);
        sd_event_source_disable_unref(e->watch);
        free(e);
        return NULL;
}
