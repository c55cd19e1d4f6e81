/* SPDX-License-Identifier: MIT */
/*
 * escalation.h - the clock of unanswered alerts. At each alert's next step time (planned by
 * queue.c's escalation_plan()), one transaction queues the step's outbox rows, records the
 * event in the alert's history and plans the next step; the dispatcher sends them. Because the
 * plan, the rows and the level commit together, a crash neither loses a step nor sends one
 * twice. The store is watched for other writers (earshotctl ack/reopen), so a change takes
 * effect within a second.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "queue.h"

typedef struct Manager Manager;
typedef struct Escalator Escalator;

/*
 * escalation_plan() for policy p of configuration c, with each step's stop resolved for this
 * alert's target (a step given as a duration stops at acknowledged only if it comes before the
 * due time). 0 or -ENOMEM.
 */
int escalation_plan_for(const EscalationPolicy *p, size_t level, AlertState state,
                        int64_t created, usec_t target, int64_t now, EscalationPlan *ret);

int escalator_new(Manager *m, Escalator **ret);
Escalator *escalator_free(Escalator *e);
/* Look again now: alerts were created, or someone changed one. */
void escalator_kick(Escalator *e);
