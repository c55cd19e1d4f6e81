/* SPDX-License-Identifier: MIT */
/*
 * routes.h - `routes:` in the configuration, and the routing of an alert to notifiers.
 *
 * Routes are tried in order: an alert takes the first route whose match keys all match, and
 * stops there unless that route says `continue: true` (Alertmanager's rule). A route without
 * match keys takes every alert. An alert no route takes goes to every enabled notifier (the
 * implicit default route), so a gap in the routes never silences a complaint. A notifier
 * reached through several routes gets the alert once, through the first of them.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "conf-parse.h"
#include "config.h"

/* Parse `routes:` (after notifiers:). 0, -EINVAL after reporting, or -ENOMEM. */
int routes_parse(Parser *p, Node n);
/* Check the brand and rule names the routes match on against the rules (after they are
 * parsed): unknown names are errors, tags no rule carries are warnings. */
int routes_check(Parser *p, Node n);
void route_config_done(RouteConfig *r);
/* The route named name, or NULL. */
const RouteConfig *config_route(const Config *c, const char *name);

/* What routing looks at. */
typedef struct AlertFacts {
        const char *brand;        /* may be NULL */
        const char *const *rules; /* rule names, NULL-terminated; may be NULL */
        Severity severity;
        const char *network;      /* may be NULL */
        const char *source;       /* may be NULL */
} AlertFacts;

typedef struct RouteTarget {
        const RouteConfig *route; /* borrowed; NULL = the implicit default route */
        size_t notifier;          /* index into Config::notifiers (always an enabled one) */
} RouteTarget;

/* Whether route r takes an alert with these facts (its match keys only). */
bool route_matches(const Config *c, const RouteConfig *r, const AlertFacts *f);

/*
 * The notifiers an alert goes to, each once, in route order. *ret is malloc()ed (NULL when
 * *ret_n is 0: no enabled notifier at all). 0 or -ENOMEM.
 */
int route_alert(const Config *c, const AlertFacts *f, RouteTarget **ret, size_t *ret_n);

/*
 * The notifiers named by an escalation step's `notify:` (route or notifier names) or, when
 * names is NULL, the alert's own routes. Same contract as route_alert().
 */
int route_names(const Config *c, char *const *names, const AlertFacts *f, RouteTarget **ret,
                size_t *ret_n);

/*
 * When a row for this target and event should go out: now, or for a digest route and an
 * alert it batches, the end of the current digest window (the same for every alert in the
 * window: windows are aligned on multiples of the interval since the epoch). Sets
 * *ret_window to that end for a batched row, else 0.
 */
int64_t route_when(const RouteTarget *t, Severity severity, const char *event, int64_t now,
                   int64_t *ret_window);
