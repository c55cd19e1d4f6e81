/* SPDX-License-Identifier: MIT */
/*
 * dispatch.h - delivers outbox rows through notifier plugins. At least once: a row leaves
 * the pending state only when its notifier says DELIVERED or REJECTED; every other outcome,
 * including a crash mid-delivery, leaves it pending for a later attempt with backoff.
 */
#pragma once

#include <stdbool.h>

typedef struct Manager Manager;
typedef struct Dispatcher Dispatcher;
typedef struct Instances Instances;

int dispatcher_new(Manager *m, Dispatcher **ret);
Dispatcher *dispatcher_free(Dispatcher *d);
/* Look at the outbox now (new rows were committed). */
void dispatcher_kick(Dispatcher *d);
/* Forget in-flight deliveries; their rows stay pending. */
void dispatcher_cancel_all(Dispatcher *d);
/*
 * Take over instances replaced by a reload (heap-allocated, sources already stopped): their
 * notifiers finish the deliveries in flight, so a reload neither drops nor repeats one; the
 * instances are freed when the last of those deliveries ends.
 */
void dispatcher_retire(Dispatcher *d, Instances *old);
/* Nothing in flight and nothing due now. */
bool dispatcher_idle(Dispatcher *d);
