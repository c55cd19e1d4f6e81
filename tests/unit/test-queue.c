/* SPDX-License-Identifier: MIT */
/*
 * test-queue.c - the alert queue's pure rules: every state/action pair against a hand-written
 * table, target resolution order, network classes, priority ordering, escalation step
 * scheduling (fractions, offsets, stops, catching up after downtime) and the percentile
 * figures on a hand-computed fixture.
 */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "queue.h"

#define TEST(n, f)                                                                                 \
        { .name = (n), .test_func = (f) }

#define MIN ((int64_t)USEC_PER_MINUTE)
#define HOUR ((int64_t)USEC_PER_HOUR)
/* 2026-03-29T00:30:00Z, half an hour before Europe's clocks go forward: times are UTC µs, so
 * nothing here may notice (computed with date(1)) */
#define CREATED (INT64_C(1774744200) * 1000000)

/* ---- lifecycle ------------------------------------------------------------------------------ */

static void test_state_names(void **state) {
        for (int s = 0; s < _ALERT_STATE_MAX; s++)
                assert_int_equal(alert_state_from_string(alert_state_to_string(s)), s);
        for (int a = 0; a < _ALERT_ACTION_MAX; a++)
                assert_int_equal(alert_action_from_string(alert_action_to_string(a)), a);
        assert_int_equal(alert_state_from_string("closed"), _ALERT_STATE_INVALID);
        assert_int_equal(alert_state_from_string(NULL), _ALERT_STATE_INVALID);
        assert_int_equal(alert_action_from_string("acknowledge"), _ALERT_ACTION_INVALID);
        assert_string_equal(alert_state_to_string(ALERT_FALSE_POSITIVE), "false-positive");
        assert_string_equal(alert_action_to_string(ALERT_MARK_FALSE_POSITIVE), "false-positive");
        assert_true(alert_state_active(ALERT_OPEN));
        assert_true(alert_state_active(ALERT_ACKNOWLEDGED));
        assert_false(alert_state_active(ALERT_RESPONDED));
        assert_false(alert_state_active(ALERT_MUTED));
}

static void test_transitions(void **state) {
        /* O=open A=acknowledged R=responded S=resolved M=muted F=false-positive;
         * '-' = -EPERM, '=' = -EALREADY; rows: from; columns: ack respond resolve reopen mute
         * false-positive */
        static const char *const table[_ALERT_STATE_MAX] = {
                [ALERT_OPEN] = "ARS=MF",
                [ALERT_ACKNOWLEDGED] = "=RSOMF",
                [ALERT_RESPONDED] = "-=SO-F",
                [ALERT_RESOLVED] = "--=O-F",
                [ALERT_MUTED] = "---O=F",
                [ALERT_FALSE_POSITIVE] = "---O-=",
        };
        static const char letters[_ALERT_STATE_MAX + 1] = "OARSMF";

        for (int from = 0; from < _ALERT_STATE_MAX; from++)
                for (int a = 0; a < _ALERT_ACTION_MAX; a++) {
                        AlertState to = _ALERT_STATE_INVALID;
                        int r = alert_transition(from, a, &to);
                        char want = table[from][a];
                        if (want == '-')
                                assert_int_equal(r, -EPERM);
                        else if (want == '=')
                                assert_int_equal(r, -EALREADY);
                        else {
                                assert_int_equal(r, 0);
                                assert_int_equal(letters[to], want);
                        }
                }
        AlertState to;
        assert_int_equal(alert_transition(_ALERT_STATE_INVALID, ALERT_ACK, &to), -EINVAL);
        assert_int_equal(alert_transition(ALERT_OPEN, _ALERT_ACTION_INVALID, &to), -EINVAL);
}

/* ---- targets -------------------------------------------------------------------------------- */

static void test_target_order(void **state) {
        const char *from = NULL;
        TargetChain t = {.rule = 5 * USEC_PER_MINUTE, .brand = 10 * USEC_PER_MINUTE,
                         .source = 20 * USEC_PER_MINUTE, .network_class = USEC_PER_HOUR,
                         .global = 4 * USEC_PER_HOUR};

        assert_int_equal(target_resolve(&t, &from), 5 * USEC_PER_MINUTE);
        assert_string_equal(from, "rule");
        t.rule = 0;
        assert_int_equal(target_resolve(&t, &from), 10 * USEC_PER_MINUTE);
        assert_string_equal(from, "brand");
        t.brand = 0;
        assert_int_equal(target_resolve(&t, &from), 20 * USEC_PER_MINUTE);
        assert_string_equal(from, "source");
        t.source = 0;
        assert_int_equal(target_resolve(&t, &from), USEC_PER_HOUR);
        assert_string_equal(from, "network class");
        t.network_class = 0;
        assert_int_equal(target_resolve(&t, &from), 4 * USEC_PER_HOUR);
        assert_string_equal(from, "default");
        /* a longer target further up still wins: the chain is about who decides, not min */
        t = (TargetChain){.rule = 48 * USEC_PER_HOUR, .network_class = USEC_PER_HOUR,
                          .global = USEC_PER_HOUR};
        assert_int_equal(target_resolve(&t, NULL), 48 * USEC_PER_HOUR);
}

static void test_network_classes(void **state) {
        assert_int_equal(network_class_of("mastodon"), NETWORK_SOCIAL);
        assert_int_equal(network_class_of("bluesky"), NETWORK_SOCIAL);
        assert_int_equal(network_class_of("reddit"), NETWORK_FORUM);
        assert_int_equal(network_class_of("hackernews"), NETWORK_FORUM);
        assert_int_equal(network_class_of("lemmy"), NETWORK_FORUM);
        assert_int_equal(network_class_of("discourse"), NETWORK_FORUM);
        assert_int_equal(network_class_of("stackexchange"), NETWORK_FORUM);
        assert_int_equal(network_class_of("appstore"), NETWORK_REVIEW);
        assert_int_equal(network_class_of("rss"), NETWORK_REVIEW);
        /* unknown: the strictest class */
        assert_int_equal(network_class_of("newnet"), NETWORK_SOCIAL);
        assert_int_equal(network_class_of(NULL), NETWORK_SOCIAL);
        assert_int_equal(network_class_default_target(NETWORK_SOCIAL), 60 * USEC_PER_MINUTE);
        assert_int_equal(network_class_default_target(NETWORK_FORUM), 24 * USEC_PER_HOUR);
        assert_int_equal(network_class_default_target(NETWORK_REVIEW), 24 * USEC_PER_HOUR);
        for (int c = 0; c < _NETWORK_CLASS_MAX; c++)
                assert_int_equal(network_class_from_string(network_class_to_string(c)), c);
        assert_int_equal(network_class_from_string("news"), _NETWORK_CLASS_INVALID);
}

static void test_due_and_late(void **state) {
        /* the same instants under three zones and across Europe's spring-forward night: due
         * times are UTC arithmetic, whatever TZ says */
        static const char *const zones[] = {"UTC", "Europe/Berlin", "America/New_York"};
        for (size_t z = 0; z < 3; z++) {
                setenv("TZ", zones[z], 1);
                tzset();
                /* created 00:30Z on 2026-03-29; Berlin's clocks jump 02:00 -> 03:00 local at
                 * 01:00Z: still exactly 60 minutes later */
                assert_int_equal(alert_due(CREATED, CREATED + MIN, USEC_PER_HOUR), CREATED + HOUR);
                /* 24 h across the change: 24 real hours, not "the same local time tomorrow" */
                assert_int_equal(alert_due(CREATED, CREATED, 24 * USEC_PER_HOUR),
                                 CREATED + 24 * HOUR);
        }
        unsetenv("TZ");
        tzset();
        /* no creation time: the clock starts at detection */
        assert_int_equal(alert_due(0, CREATED, USEC_PER_HOUR), CREATED + HOUR);
        /* a post 3 h old with a 1 h target is 2 h late when first seen */
        int64_t due = alert_due(CREATED - 3 * HOUR, CREATED, USEC_PER_HOUR);
        assert_int_equal(alert_lateness(due, CREATED), 2 * HOUR);
        assert_int_equal(alert_lateness(due, due), 0);
        assert_int_equal(alert_lateness(CREATED + HOUR, CREATED), 0);
        /* absurd targets do not overflow */
        assert_int_equal(alert_due(CREATED, CREATED, UINT64_MAX), INT64_MAX);
}

/* ---- priority ------------------------------------------------------------------------------- */

static void test_priority(void **state) {
        const PriorityWeights w = PRIORITY_WEIGHTS_DEFAULT;

        /* hand-computed: 10*(2+1) + 2*log10(1000) + 3*log10(100) = 30 + 6 + 6 */
        assert_float_equal(priority_score(&w, 2, 999, 50, 29, 20), 42.0, 1e-9);
        /* unknown counts add nothing */
        assert_float_equal(priority_score(&w, 0, -1, -1, -1, -1), 10.0, 1e-9);
        /* severity dominates reach by default, reach breaks ties, engagement too */
        double crit_nobody = priority_score(&w, 3, 0, 0, 0, 0);
        double low_star = priority_score(&w, 0, 1000000, 0, 0, 0);
        assert_true(crit_nobody > low_star);
        assert_true(priority_score(&w, 1, 5000, 0, 0, 0) > priority_score(&w, 1, 50, 0, 0, 0));
        assert_true(priority_score(&w, 1, 50, 3, 0, 0) > priority_score(&w, 1, 50, 0, 0, 0));
        /* weights are the team's: reach first */
        const PriorityWeights reach = {.severity = 1, .reach = 10, .engagement = 0};
        assert_true(priority_score(&reach, 0, 1000000, 0, 0, 0) >
                    priority_score(&reach, 3, 0, 0, 0, 0));
        /* out-of-range severities are clamped */
        assert_float_equal(priority_score(&w, 9, 0, 0, 0, 0), 40.0, 1e-9);
}

/* ---- escalation ----------------------------------------------------------------------------- */

static EscalationStep step_fraction(double f) {
        return (EscalationStep){.fraction = f,
                                .stop_on = escalation_default_stop(f, 0, USEC_PER_HOUR)};
}

static void test_escalation_times(void **state) {
        EscalationStep half = step_fraction(0.5), due = step_fraction(1.0);
        EscalationStep at45 = {.offset = 45 * USEC_PER_MINUTE,
                               .stop_on = escalation_default_stop(0, 45 * USEC_PER_MINUTE,
                                                                  USEC_PER_HOUR)};

        assert_int_equal(escalation_step_time(&half, CREATED, USEC_PER_HOUR), CREATED + 30 * MIN);
        assert_int_equal(escalation_step_time(&due, CREATED, USEC_PER_HOUR), CREATED + HOUR);
        assert_int_equal(escalation_step_time(&at45, CREATED, 24 * USEC_PER_HOUR),
                         CREATED + 45 * MIN);
        /* default stops: before the due time, acknowledging ends the step */
        assert_int_equal(half.stop_on, ALERT_ACKNOWLEDGED);
        assert_int_equal(due.stop_on, ALERT_RESPONDED);
        assert_int_equal(at45.stop_on, ALERT_ACKNOWLEDGED);
        assert_int_equal(escalation_default_stop(0, 2 * USEC_PER_HOUR, USEC_PER_HOUR),
                         ALERT_RESPONDED);
        /* live */
        assert_true(escalation_step_live(&half, ALERT_OPEN));
        assert_false(escalation_step_live(&half, ALERT_ACKNOWLEDGED));
        assert_true(escalation_step_live(&due, ALERT_ACKNOWLEDGED));
        for (int s = ALERT_RESPONDED; s < _ALERT_STATE_MAX; s++) {
                assert_false(escalation_step_live(&half, s));
                assert_false(escalation_step_live(&due, s));
        }
}

static void test_escalation_plan(void **state) {
        /* configured out of time order on purpose: 100%, 50%, 150% */
        EscalationStep steps[] = {step_fraction(1.0), step_fraction(0.5), step_fraction(1.5)};
        EscalationPolicy p = {.name = (char *)"standard", .steps = steps, .n_steps = 3};
        EscalationPlan plan;
        const usec_t T = USEC_PER_HOUR;

        /* just created: nothing to fire, next at 50% */
        assert_int_equal(escalation_plan(&p, 0, ALERT_OPEN, CREATED, T, CREATED + MIN, &plan), 0);
        assert_int_equal(plan.fire, SIZE_MAX);
        assert_int_equal(plan.level, 0);
        assert_int_equal(plan.next_usec, CREATED + 30 * MIN);
        /* at 50%: the 50% step (index 1) fires, next at 100% */
        assert_int_equal(escalation_plan(&p, 0, ALERT_OPEN, CREATED, T, CREATED + 30 * MIN, &plan),
                         0);
        assert_int_equal(plan.fire, 1);
        assert_int_equal(plan.level, 1);
        assert_int_equal(plan.next_usec, CREATED + HOUR);
        /* the same moment again with the new level: nothing fires twice */
        assert_int_equal(escalation_plan(&p, 1, ALERT_OPEN, CREATED, T, CREATED + 30 * MIN, &plan),
                         0);
        assert_int_equal(plan.fire, SIZE_MAX);
        assert_int_equal(plan.level, 1);
        /* acknowledged at 40%: the 50% step is passed over, the 100% one still comes */
        assert_int_equal(escalation_plan(&p, 0, ALERT_ACKNOWLEDGED, CREATED, T,
                                         CREATED + 40 * MIN, &plan),
                         0);
        assert_int_equal(plan.fire, SIZE_MAX);
        assert_int_equal(plan.next_usec, CREATED + HOUR);
        assert_int_equal(escalation_plan(&p, 0, ALERT_ACKNOWLEDGED, CREATED, T, CREATED + HOUR,
                                         &plan),
                         0);
        assert_int_equal(plan.fire, 0);
        assert_int_equal(plan.level, 2);
        assert_int_equal(plan.next_usec, CREATED + 90 * MIN);
        /* responded: nothing fires, nothing is next */
        assert_int_equal(escalation_plan(&p, 1, ALERT_RESPONDED, CREATED, T, CREATED + 2 * HOUR,
                                         &plan),
                         0);
        assert_int_equal(plan.fire, SIZE_MAX);
        assert_int_equal(plan.next_usec, 0);
        /* down for two hours: only the latest due step fires, all are handled */
        assert_int_equal(escalation_plan(&p, 0, ALERT_OPEN, CREATED, T, CREATED + 2 * HOUR, &plan),
                         0);
        assert_int_equal(plan.fire, 2);
        assert_int_equal(plan.level, 3);
        assert_int_equal(plan.next_usec, 0);
        assert_int_equal(escalation_plan(&p, 3, ALERT_OPEN, CREATED, T, CREATED + 3 * HOUR, &plan),
                         0);
        assert_int_equal(plan.fire, SIZE_MAX);
        /* no policy */
        assert_int_equal(escalation_plan(NULL, 0, ALERT_OPEN, CREATED, T, CREATED, &plan), 0);
        assert_int_equal(plan.fire, SIZE_MAX);
        assert_int_equal(plan.next_usec, 0);
}

static void test_escalation_ties(void **state) {
        /* an offset and a fraction that land on the same moment: configured order */
        EscalationStep steps[] = {{.offset = 30 * USEC_PER_MINUTE, .stop_on = ALERT_RESPONDED},
                                  {.fraction = 0.5, .stop_on = ALERT_RESPONDED}};
        EscalationPolicy p = {.steps = steps, .n_steps = 2};
        EscalationPlan plan;

        assert_int_equal(escalation_plan(&p, 0, ALERT_OPEN, CREATED, USEC_PER_HOUR,
                                         CREATED + 30 * MIN, &plan),
                         0);
        assert_int_equal(plan.fire, 1); /* the later of the two in time order */
        assert_int_equal(plan.level, 2);
        /* with a longer target, the offset step comes first */
        assert_int_equal(escalation_plan(&p, 0, ALERT_OPEN, CREATED, 4 * USEC_PER_HOUR,
                                         CREATED + 30 * MIN, &plan),
                         0);
        assert_int_equal(plan.fire, 0);
        assert_int_equal(plan.level, 1);
        assert_int_equal(plan.next_usec, CREATED + 2 * HOUR);
}

static void test_escalation_message(void **state) {
        char buf[64];
        assert_string_equal(escalation_message(buf, sizeof(buf), CREATED + 12 * MIN, CREATED),
                            "still unanswered, due in 12m");
        assert_string_equal(escalation_message(buf, sizeof(buf), CREATED, CREATED + 5 * MIN),
                            "overdue by 5m");
        assert_string_equal(escalation_message(buf, sizeof(buf), CREATED, CREATED),
                            "overdue by 0s");
}

/* ---- figures -------------------------------------------------------------------------------- */

static void test_duration_stats(void **state) {
        /* minutes to respond of ten alerts, shuffled; sorted: 1 2 3 4 5 6 7 8 9 30.
         * median = 5th smallest (ceil(0.5*10)), p90 = 9th (ceil(0.9*10)). */
        int64_t v[] = {7 * MIN, 1 * MIN, 30 * MIN, 4 * MIN, 9 * MIN,
                       2 * MIN, 8 * MIN, 3 * MIN,  6 * MIN, 5 * MIN};
        DurationStats st = duration_stats(v, 10);
        assert_int_equal(st.n, 10);
        assert_int_equal(st.median, 5 * MIN);
        assert_int_equal(st.p90, 9 * MIN);
        /* one value */
        int64_t one[] = {42 * MIN};
        st = duration_stats(one, 1);
        assert_int_equal(st.median, 42 * MIN);
        assert_int_equal(st.p90, 42 * MIN);
        /* eleven values: median 6th, p90 10th */
        int64_t eleven[11];
        for (int i = 0; i < 11; i++)
                eleven[i] = (11 - i) * MIN;
        st = duration_stats(eleven, 11);
        assert_int_equal(st.median, 6 * MIN);
        assert_int_equal(st.p90, 10 * MIN);
        /* none */
        st = duration_stats(NULL, 0);
        assert_int_equal(st.n, 0);
        assert_int_equal(st.median, 0);
        assert_int_equal(st.p90, 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                TEST("queue/state-names", test_state_names),
                TEST("queue/transitions", test_transitions),
                TEST("queue/target-order", test_target_order),
                TEST("queue/network-classes", test_network_classes),
                TEST("queue/due-and-late", test_due_and_late),
                TEST("queue/priority", test_priority),
                TEST("queue/escalation-times", test_escalation_times),
                TEST("queue/escalation-plan", test_escalation_plan),
                TEST("queue/escalation-ties", test_escalation_ties),
                TEST("queue/escalation-message", test_escalation_message),
                TEST("queue/duration-stats", test_duration_stats),
        };

        return cmocka_run_group_tests_name("queue", tests, NULL, NULL);
}
