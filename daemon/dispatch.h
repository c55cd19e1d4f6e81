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

int dispatcher_new(Manager *m, Dispatcher **ret);
Dispatcher *dispatcher_free(Dispatcher *d);
/* Look at the outbox now (new rows were committed). */
void dispatcher_kick(Dispatcher *d);
/* Forget in-flight deliveries (their notifiers are going away); rows stay pending. */
void dispatcher_cancel_all(Dispatcher *d);
/* Nothing in flight and nothing due now. */
bool dispatcher_idle(Dispatcher *d);
