/* SPDX-License-Identifier: MIT */
/*
 * hosts.h - politeness per server: how many requests may be in flight to one host at once,
 * how far apart they must start, and what the host's rate-limit headers say. Sources that
 * share a server (ten hashtags on mastodon.social) share its budget, whatever source they
 * belong to. The table lives as long as the daemon, across reloads, so a reload does not
 * forget that a server asked for a pause.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "scheduler.h"
#include "util/time-util.h"

typedef struct HostState {
        char *key;          /* owned: "scheme://host:port" */
        unsigned in_flight; /* requests started and not finished */
        usec_t next_start;  /* CLOCK_MONOTONIC: no request starts before this */
        RateLimit rl;       /* the last rate-limit headers seen from this host */
} HostState;

typedef struct HostTable {
        HostState **hosts; /* owned, each owned: pointers stay valid as the table grows */
        size_t n, cap;
} HostTable;

typedef struct HostPolicy {
        unsigned max_in_flight; /* per host; 0 = no limit */
        usec_t spacing;         /* minimum time between request starts to one host */
} HostPolicy;

/* The host key of a URL ("https://mastodon.social:443"); NULL on OOM. Unparseable: the URL. */
char *host_key(const char *url);
/* Find or add the state of the host of `url`; NULL on OOM. */
HostState *host_table_get(HostTable *t, const char *url);
void host_table_done(HostTable *t);

/* How long a request to h must wait (0 = it may start now). */
usec_t host_wait(const HostState *h, const HostPolicy *p, usec_t now);
/* A request to h starts now. */
void host_start(HostState *h, const HostPolicy *p, usec_t now);
/*
 * A request to h finished (rl: its rate-limit headers, or NULL): the next start waits for the
 * spacing and, when the quota runs low, for the pace that makes it last until the reset.
 */
void host_finish(HostState *h, const HostPolicy *p, const RateLimit *rl, usec_t now,
                 int64_t now_realtime);
