/* SPDX-License-Identifier: MIT */
/*
 * routes.c - `routes:` parsed and checked, and alerts routed to notifiers (see routes.h).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "routes.h"
#include "rules.h"
#include "util/strv.h"

#define MAX_ROUTES 1000

static const KeyDef route_keys[] = {{"name"},    {"match"},  {"notify"},
                                    {"continue"}, {"digest"}, {"digest_severity"}};
enum { RK_NAME, RK_MATCH, RK_NOTIFY, RK_CONTINUE, RK_DIGEST, RK_DIGEST_SEVERITY, _RK_MAX };

static const KeyDef match_keys[] = {{"brand"},  {"rule"},   {"severity"},
                                    {"network"}, {"source"}, {"tag"}};
enum { MK_BRAND, MK_RULE, MK_SEVERITY, MK_NETWORK, MK_SOURCE, MK_TAG, _MK_MAX };

void route_config_done(RouteConfig *r) {
        free(r->name);
        strv_free(r->brands);
        strv_free(r->rules);
        strv_free(r->networks);
        strv_free(r->sources);
        strv_free(r->tags);
        free(r->notifiers);
        *r = (RouteConfig){};
}

const RouteConfig *config_route(const Config *c, const char *name) {
        for (size_t i = 0; name && i < c->n_routes; i++)
                if (c->routes[i].name && strcmp(c->routes[i].name, name) == 0)
                        return &c->routes[i];
        return NULL;
}

static int parse_severity_list(Parser *p, Node n, const char *what, unsigned *ret) {
        _cleanup_strv_free_ char **l = NULL;
        int r = 0;
        if (get_strlist(p, n, what, &l) < 0)
                return -EINVAL;
        *ret = 0;
        STRV_FOREACH(s, l) {
                Severity sev = severity_from_string(*s);
                if (sev < 0) {
                        error_at(p, list_item_named(n, *s),
                                 "invalid severity '%s' (low, normal, high, critical)", *s);
                        r = -EINVAL;
                } else
                        *ret |= 1u << sev;
        }
        if (r == 0 && *ret == 0) {
                error_at(p, n, "%s: names no severity (leave it out to match every severity)",
                         what);
                r = -EINVAL;
        }
        return r;
}

static int parse_match(Parser *p, Node n, RouteConfig *rt) {
        Node v[_MK_MAX];
        char ***lists[_MK_MAX] = {[MK_BRAND] = &rt->brands, [MK_RULE] = &rt->rules,
                                  [MK_NETWORK] = &rt->networks, [MK_SOURCE] = &rt->sources,
                                  [MK_TAG] = &rt->tags};
        int r = 0;

        if (is_null(n))
                return 0; /* `match:` with nothing under it: every alert */
        if (map_keys(p, n, "a route's match", match_keys, _MK_MAX, v) < 0)
                r = -EINVAL;
        for (int k = 0; k < _MK_MAX; k++) {
                if (!v[k].n)
                        continue;
                if (k == MK_SEVERITY) {
                        if (parse_severity_list(p, v[k], "severity", &rt->severities) < 0)
                                r = -EINVAL;
                        continue;
                }
                if (get_strlist(p, v[k], match_keys[k].key, lists[k]) < 0) {
                        r = -EINVAL;
                        continue;
                }
                if (!(*lists[k])[0]) {
                        error_at(p, v[k], "%s: names nothing (leave it out to match any)",
                                 match_keys[k].key);
                        r = -EINVAL;
                }
        }
        return r;
}

static int parse_notify(Parser *p, Node n, RouteConfig *rt) {
        const Config *c = p->cfg;
        _cleanup_strv_free_ char **l = NULL;
        _cleanup_free_ const char **names = calloc(c->n_notifiers + 1, sizeof(char *));
        int r = 0;

        if (!names)
                return -ENOMEM;
        for (size_t i = 0; i < c->n_notifiers; i++)
                names[i] = c->notifiers[i].name ? c->notifiers[i].name : "";
        if (get_strlist(p, n, "notify", &l) < 0)
                return -EINVAL;
        if (!l[0]) {
                error_at(p, n, "route '%s': notify: names no notifier",
                         rt->name ? rt->name : "?");
                return -EINVAL;
        }
        rt->notifiers = calloc(strv_length(l), sizeof(size_t));
        if (!rt->notifiers)
                return -ENOMEM;
        STRV_FOREACH(name, l) {
                Node at = list_item_named(n, *name);
                size_t i;
                for (i = 0; i < c->n_notifiers; i++)
                        if (strcmp(names[i], *name) == 0)
                                break;
                if (i == c->n_notifiers) {
                        const char *best = closest_word(*name, names, c->n_notifiers);
                        if (best)
                                error_at(p, at, "unknown notifier '%s' (did you mean '%s'?)",
                                         *name, best);
                        else
                                error_at(p, at, "unknown notifier '%s' (not in notifiers:)",
                                         *name);
                        r = -EINVAL;
                        continue;
                }
                if (!c->notifiers[i].enabled)
                        warn_at(p, at, "notifier '%s' is disabled: route '%s' does not reach it",
                                *name, rt->name ? rt->name : "?");
                bool dup = false;
                for (size_t j = 0; j < rt->n_notifiers; j++)
                        dup = dup || rt->notifiers[j] == i;
                if (!dup)
                        rt->notifiers[rt->n_notifiers++] = i;
        }
        return r;
}

static int parse_route(Parser *p, Node map, RouteConfig *rt) {
        Node v[_RK_MAX];
        int r = 0, k;

        rt->digest_severity = SEVERITY_LOW;
        rt->pos = node_pos(map);
        if (!is_mapping(map)) {
                error_at(p, map, "a route must be a mapping (name:, match:, notify:), not %s",
                         node_kind(map));
                return -EINVAL;
        }
        if (map_keys(p, map, "a route", route_keys, _RK_MAX, v) < 0)
                r = -EINVAL;
        if (!v[RK_NAME].n) {
                error_at(p, map, "a route needs a 'name'");
                r = -EINVAL;
        } else if (get_string(p, v[RK_NAME], "name", &rt->name) < 0)
                r = -EINVAL;
        else if (!name_valid(rt->name)) {
                error_at(p, v[RK_NAME], "invalid route name '%s' (letters, digits, '-', '_', '.')",
                         rt->name);
                r = -EINVAL;
        }
        if (v[RK_MATCH].n && parse_match(p, v[RK_MATCH], rt) < 0)
                r = -EINVAL;
        if (!v[RK_NOTIFY].n) {
                error_at(p, map, "route '%s' needs notify: (the notifiers it delivers to)",
                         rt->name ? rt->name : "?");
                r = -EINVAL;
        } else if ((k = parse_notify(p, v[RK_NOTIFY], rt)) < 0) {
                if (k == -ENOMEM)
                        return k;
                r = k;
        }
        if (v[RK_CONTINUE].n && get_bool(p, v[RK_CONTINUE], "continue", &rt->cont) < 0)
                r = -EINVAL;
        if (v[RK_DIGEST].n) {
                if (get_duration(p, v[RK_DIGEST], "digest", &rt->digest) < 0)
                        r = -EINVAL;
                else if (rt->digest != 0 &&
                         (rt->digest < 10 * USEC_PER_SEC || rt->digest > USEC_PER_DAY)) {
                        error_at(p, v[RK_DIGEST], "digest: from 10s to 24h (or 0 for none)");
                        r = -EINVAL;
                }
        }
        if (v[RK_DIGEST_SEVERITY].n) {
                _cleanup_free_ char *t = NULL;
                if (get_string(p, v[RK_DIGEST_SEVERITY], "digest_severity", &t) < 0)
                        r = -EINVAL;
                else if ((rt->digest_severity = severity_from_string(t)) < 0) {
                        error_at(p, v[RK_DIGEST_SEVERITY],
                                 "invalid digest_severity '%s' (low, normal, high, critical)", t);
                        r = -EINVAL;
                } else if (!v[RK_DIGEST].n)
                        warn_at(p, v[RK_DIGEST_SEVERITY],
                                "digest_severity does nothing without digest:");
        }
        return r;
}

int routes_parse(Parser *p, Node n) {
        Config *c = p->cfg;
        yaml_node_item_t *a, *b;
        int r = 0;

        if (is_null(n))
                return 0;
        if (sequence_items(p, n, "routes", &a, &b) < 0)
                return -EINVAL;
        if (b - a > MAX_ROUTES) {
                error_at(p, n, "%zu routes, more than %d", (size_t)(b - a), MAX_ROUTES);
                return -EINVAL;
        }
        c->routes = calloc((size_t)(b - a) + 1, sizeof(RouteConfig));
        if (!c->routes)
                return -ENOMEM;
        for (; a < b; a++) {
                RouteConfig *rt = &c->routes[c->n_routes++];
                int k = parse_route(p, node_child(n, *a), rt);
                if (k == -ENOMEM)
                        return k;
                if (k < 0)
                        r = k;
                for (size_t j = 0; rt->name && j + 1 < c->n_routes; j++)
                        if (c->routes[j].name && strcmp(c->routes[j].name, rt->name) == 0) {
                                error_at(p, node_child(n, *a),
                                         "duplicate route name '%s' (first defined at line %u)",
                                         rt->name, c->routes[j].pos.line);
                                r = -EINVAL;
                        }
                /* a catch-all route that stops hides every route after it */
                if (c->n_routes < (size_t)(b - a) && a + 1 < b && !rt->cont && !rt->brands &&
                    !rt->rules && !rt->networks && !rt->sources && !rt->tags &&
                    rt->severities == 0 && rt->name)
                        warn_at(p, node_child(n, *(a + 1)),
                                "route '%s' takes every alert and has no continue: true, so "
                                "no route after it is ever used",
                                rt->name);
        }
        return r;
}

static bool rule_has_tag(const Ruleset *rs, const char *tag) {
        for (size_t i = 0; rs && i < rs->n_rules; i++)
                if (strv_contains(rs->rules[i].tags, tag))
                        return true;
        return false;
}

int routes_check(Parser *p, Node n) {
        const Config *c = p->cfg;
        const Ruleset *rs = c->rules;
        int r = 0;

        if (!rs || c->n_routes == 0)
                return 0;
        _cleanup_free_ const char **brands = calloc(rs->n_brands + 1, sizeof(char *));
        _cleanup_free_ const char **rules = calloc(rs->n_rules + 3, sizeof(char *));
        if (!brands || !rules)
                return -ENOMEM;
        for (size_t i = 0; i < rs->n_brands; i++)
                brands[i] = rs->brands[i].name;
        for (size_t i = 0; i < rs->n_rules; i++)
                rules[i] = rs->rules[i].name;
        /* the rules of earshotd's own operator alerts */
        rules[rs->n_rules] = "source-blocked";
        rules[rs->n_rules + 1] = "source-silent";
        size_t n_rules = rs->n_rules + 2;

        for (size_t i = 0; i < c->n_routes; i++) {
                const RouteConfig *rt = &c->routes[i];
                Node item = sequence_item(n, i);
                if (!rt->name)
                        continue; /* already reported */
                STRV_FOREACH(b, rt->brands) {
                        size_t k;
                        for (k = 0; k < rs->n_brands && strcmp(brands[k], *b) != 0; k++)
                                ;
                        if (k < rs->n_brands)
                                continue;
                        const char *best = closest_word(*b, brands, rs->n_brands);
                        error_at(p, item, "route '%s' matches unknown brand '%s'%s%s%s",
                                 rt->name, *b, best ? " (did you mean '" : "", best ? best : "",
                                 best ? "'?)" : "");
                        r = -EINVAL;
                }
                STRV_FOREACH(b, rt->rules) {
                        size_t k;
                        for (k = 0; k < n_rules && strcmp(rules[k], *b) != 0; k++)
                                ;
                        if (k < n_rules)
                                continue;
                        const char *best = closest_word(*b, rules, n_rules);
                        error_at(p, item, "route '%s' matches unknown rule '%s'%s%s%s",
                                 rt->name, *b, best ? " (did you mean '" : "", best ? best : "",
                                 best ? "'?)" : "");
                        r = -EINVAL;
                }
                STRV_FOREACH(t, rt->tags)
                        if (!rule_has_tag(rs, *t))
                                warn_at(p, item, "route '%s' matches tag '%s', which no rule has",
                                        rt->name, *t);
        }
        return r;
}

static bool any_in(char *const *want, const char *const *have) {
        for (const char *const *h = have; h && *h; h++)
                if (strv_contains(want, *h))
                        return true;
        return false;
}

static bool has_tag(const Config *c, char *const *tags, const AlertFacts *f) {
        const Ruleset *rs = c->rules;
        for (const char *const *name = f->rules; name && *name; name++)
                for (size_t i = 0; rs && i < rs->n_rules; i++)
                        if (strcmp(rs->rules[i].name, *name) == 0 &&
                            any_in(tags, (const char *const *)rs->rules[i].tags))
                                return true;
        return false;
}

static bool in_list(char *const *list, const char *value) {
        return value && strv_contains(list, value);
}

bool route_matches(const Config *c, const RouteConfig *r, const AlertFacts *f) {
        if (r->brands && !in_list(r->brands, f->brand))
                return false;
        if (r->rules && !any_in(r->rules, f->rules))
                return false;
        if (r->severities && !(f->severity >= 0 && (r->severities & (1u << f->severity))))
                return false;
        if (r->networks && !in_list(r->networks, f->network))
                return false;
        if (r->sources && !in_list(r->sources, f->source))
                return false;
        if (r->tags && !has_tag(c, r->tags, f))
                return false;
        return true;
}

typedef struct Targets {
        RouteTarget *t;
        size_t n;
        bool *taken; /* per notifier */
} Targets;

static int add_target(const Config *c, Targets *ts, const RouteConfig *route, size_t notifier) {
        if (ts->taken[notifier] || !c->notifiers[notifier].enabled)
                return 0;
        ts->taken[notifier] = true;
        ts->t[ts->n++] = (RouteTarget){.route = route, .notifier = notifier};
        return 0;
}

static int targets_init(const Config *c, Targets *ts) {
        *ts = (Targets){};
        ts->t = calloc(c->n_notifiers + 1, sizeof(RouteTarget));
        ts->taken = calloc(c->n_notifiers + 1, sizeof(bool));
        if (!ts->t || !ts->taken) {
                free(ts->t);
                free(ts->taken);
                return -ENOMEM;
        }
        return 0;
}

static void targets_finish(Targets *ts, RouteTarget **ret, size_t *ret_n) {
        free(ts->taken);
        if (ts->n == 0) {
                free(ts->t);
                ts->t = NULL;
        }
        *ret = ts->t;
        *ret_n = ts->n;
}

static void take_route(const Config *c, Targets *ts, const RouteConfig *r) {
        for (size_t k = 0; k < r->n_notifiers; k++)
                (void)add_target(c, ts, r, r->notifiers[k]);
}

int route_alert(const Config *c, const AlertFacts *f, RouteTarget **ret, size_t *ret_n) {
        Targets ts;
        bool routed = false;

        if (targets_init(c, &ts) < 0)
                return -ENOMEM;
        for (size_t i = 0; i < c->n_routes; i++) {
                const RouteConfig *r = &c->routes[i];
                if (!route_matches(c, r, f))
                        continue;
                routed = true;
                take_route(c, &ts, r);
                if (!r->cont)
                        break;
        }
        if (!routed)
                for (size_t k = 0; k < c->n_notifiers; k++)
                        (void)add_target(c, &ts, NULL, k);
        targets_finish(&ts, ret, ret_n);
        return 0;
}

int route_names(const Config *c, char *const *names, const AlertFacts *f, RouteTarget **ret,
                size_t *ret_n) {
        Targets ts;

        if (!names)
                return route_alert(c, f, ret, ret_n);
        if (targets_init(c, &ts) < 0)
                return -ENOMEM;
        for (char *const *name = names; *name; name++) {
                const RouteConfig *r = config_route(c, *name);
                if (r) {
                        take_route(c, &ts, r);
                        continue;
                }
                for (size_t k = 0; k < c->n_notifiers; k++)
                        if (strcmp(c->notifiers[k].name, *name) == 0)
                                (void)add_target(c, &ts, NULL, k);
        }
        targets_finish(&ts, ret, ret_n);
        return 0;
}

int64_t route_when(const RouteTarget *t, Severity severity, const char *event, int64_t now,
                   int64_t *ret_window) {
        *ret_window = 0;
        if (!t->route || t->route->digest == 0 || (int)severity > t->route->digest_severity)
                return now;
        /* reminders and tests are never held back; a new alert and a thread's news are */
        if (!event || (strcmp(event, "new") != 0 && strcmp(event, "thread") != 0))
                return now;
        int64_t d = (int64_t)t->route->digest;
        *ret_window = (now / d + 1) * d;
        return *ret_window;
}
