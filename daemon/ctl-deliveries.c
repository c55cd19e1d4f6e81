/* SPDX-License-Identifier: MIT */
/*
 * ctl-deliveries.c - earshotctl's delivery commands: `deliveries` (the outbox: what is pending,
 * what failed and why), `redeliver` (queue a row again) and `notify-test` (a sample alert
 * through a route, to check a notifier's credentials before a real complaint needs them).
 * They work on the store, as the queue commands do; the running earshotd sees the change
 * within a second and delivers.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "earshot-build.h"
#include "routes.h"
#include "util/cleanup.h"
#include "util/strv.h"

typedef enum DeliveryCmd { DCMD_LIST, DCMD_REDELIVER, DCMD_TEST } DeliveryCmd;

static const struct {
        const char *name;
        DeliveryCmd cmd;
        const char *usage;
} commands[] = {
        {"deliveries", DCMD_LIST,
         "deliveries [--pending|--failed|--all] [--limit N] [--json]\n"
         "\n"
         "The outbox: one row per alert event and notifier. By default the rows that need\n"
         "looking at: pending (with attempts, next try and last error), failed (given up\n"
         "after delivery.max_age) and rejected (refused for good by the receiver).\n"
         "\n"
         "  --pending     only pending rows\n"
         "  --failed      only failed and rejected rows\n"
         "  --all         every row, delivered and cancelled too\n"
         "  --limit N     at most N rows, newest first (default 50; 0 = all)\n"
         "  --json        one JSON array\n"},
        {"redeliver", DCMD_REDELIVER,
         "redeliver ID... | --failed\n"
         "\n"
         "Queue outbox rows again, now (their ID from 'earshotctl deliveries'), with a fresh\n"
         "delivery.max_age. A receiver de-duplicates a repeat by its alert id.\n"
         "\n"
         "  --failed      every failed and rejected row\n"},
        {"notify-test", DCMD_TEST,
         "notify-test ROUTE [--no-wait] [--timeout DURATION] | --list\n"
         "\n"
         "Send a sample alert (event \"test\") through ROUTE's notifiers: a route name, a\n"
         "notifier name, or 'default' (every enabled notifier). The running earshotd delivers\n"
         "it; this waits for the outcome (default 30s) and prints it per notifier. Exit status\n"
         "0 when every notifier took it, 1 otherwise.\n"
         "\n"
         "  --no-wait           queue it and return\n"
         "  --timeout DURATION  how long to wait (default 30s)\n"
         "  --list              print what ROUTE can be: default, the routes, the notifiers\n"},
};

bool ctl_delivery_command(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(commands); i++)
                if (streq(commands[i].name, name))
                        return true;
        return false;
}

/* "in 4m", "4m ago", or "-" for 0. */
static const char *relative(char *buf, size_t len, int64_t when, int64_t now) {
        char d[32];
        if (when <= 0)
                return "-";
        format_duration(d, sizeof(d), (usec_t)(when > now ? when - now : now - when));
        snprintf(buf, len, when > now ? "in %s" : "%s ago", d);
        return buf;
}

static cJSON *row_json(const DeliveryRow *r) {
        cJSON *o = cJSON_CreateObject();
        char t[40];
        if (!o)
                return NULL;
        cJSON_AddNumberToObject(o, "id", (double)r->id);
        cJSON_AddStringToObject(o, "alert", (r->alert_id ? r->alert_id : ""));
        cJSON_AddStringToObject(o, "notifier", (r->notifier ? r->notifier : ""));
        if (r->route)
                cJSON_AddStringToObject(o, "route", r->route);
        else
                cJSON_AddNullToObject(o, "route");
        cJSON_AddStringToObject(o, "event", (r->event ? r->event : ""));
        cJSON_AddStringToObject(o, "state", (r->state ? r->state : ""));
        cJSON_AddNumberToObject(o, "attempts", (double)r->attempts);
        cJSON_AddStringToObject(o, "queued_at", format_timestamp(t, sizeof(t), r->created_usec));
        if (r->state && streq(r->state, "pending"))
                cJSON_AddStringToObject(o, "next_attempt_at",
                                        format_timestamp(t, sizeof(t), r->next_attempt_usec));
        else
                cJSON_AddNullToObject(o, "next_attempt_at");
        if (r->done_usec > 0)
                cJSON_AddStringToObject(o, "finished_at",
                                        format_timestamp(t, sizeof(t), r->done_usec));
        else
                cJSON_AddNullToObject(o, "finished_at");
        if (r->digest_usec > 0)
                cJSON_AddStringToObject(o, "digest_at",
                                        format_timestamp(t, sizeof(t), r->digest_usec));
        if (r->last_error)
                cJSON_AddStringToObject(o, "last_error", r->last_error);
        else
                cJSON_AddNullToObject(o, "last_error");
        return o;
}

static int cmd_list(Store *s, DeliveryFilter filter, size_t limit) {
        DeliveryRow *rows = NULL;
        size_t n = 0;
        int64_t counts[5];
        int64_t now = (int64_t)now_usec(CLOCK_REALTIME);
        int r = store_outbox_list(s, filter, limit, &rows, &n);
        if (r >= 0)
                r = store_outbox_counts(s, counts);
        if (r < 0) {
                fprintf(stderr, "earshotctl: cannot read the outbox: %s\n", store_errmsg(s));
                delivery_rows_free(rows, n);
                return CTL_EXIT_STORE;
        }
        if (arg_json) {
                cJSON *a = cJSON_CreateArray();
                for (size_t i = 0; a && i < n; i++)
                        cJSON_AddItemToArray(a, row_json(&rows[i]));
                char *out = a ? cJSON_Print(a) : NULL;
                cJSON_Delete(a);
                delivery_rows_free(rows, n);
                if (!out) {
                        fprintf(stderr, "earshotctl: out of memory\n");
                        return EXIT_FAILURE;
                }
                puts(out);
                free(out);
                return CTL_EXIT_OK;
        }
        if (n > 0)
                printf("%-6s %-9s %-16s %-14s %-13s %-16s %3s  %-12s %s\n", "ID", "STATE",
                       "NOTIFIER", "ROUTE", "EVENT", "ALERT", "TRY", "WHEN", "LAST ERROR");
        for (size_t i = 0; i < n; i++) {
                const DeliveryRow *d = &rows[i];
                char when[48];
                bool pending = d->state && streq(d->state, "pending");
                relative(when, sizeof(when), pending ? d->next_attempt_usec : d->done_usec, now);
                printf("%-6" PRId64 " %-9s %-16.16s %-14.14s %-13.13s %-16.16s %3" PRId64
                       "  %-12s %s\n",
                       d->id, strna(d->state), strna(d->notifier), d->route ? d->route : "default",
                       strna(d->event), strna(d->alert_id), d->attempts, when,
                       d->last_error ? d->last_error : "");
        }
        delivery_rows_free(rows, n);
        printf("%s%" PRId64 " pending, %" PRId64 " failed, %" PRId64 " rejected; %" PRId64
               " delivered, %" PRId64 " cancelled\n",
               n > 0 ? "\n" : "", counts[0], counts[2], counts[3], counts[1], counts[4]);
        return CTL_EXIT_OK;
}

static int redeliver_one(Store *s, int64_t id, int64_t now) {
        int r = store_outbox_redeliver(s, id, now);
        switch (r) {
        case 0:
                printf("row %" PRId64 ": queued again\n", id);
                return CTL_EXIT_OK;
        case -ENOENT:
                fprintf(stderr, "earshotctl redeliver: no outbox row %" PRId64 "\n", id);
                return CTL_EXIT_ALERT;
        case -EALREADY:
                fprintf(stderr, "earshotctl redeliver: row %" PRId64 " is still pending\n", id);
                return CTL_EXIT_ALERT;
        default:
                fprintf(stderr, "earshotctl redeliver: row %" PRId64 ": %s\n", id,
                        store_errmsg(s));
                return CTL_EXIT_STORE;
        }
}

static int cmd_redeliver(Store *s, char **ids, size_t n_ids, bool failed) {
        int64_t now = (int64_t)now_usec(CLOCK_REALTIME);
        int ret = CTL_EXIT_OK;

        if (failed) {
                DeliveryRow *rows = NULL;
                size_t n = 0;
                if (store_outbox_list(s, DELIVERIES_FAILED, 0, &rows, &n) < 0) {
                        fprintf(stderr, "earshotctl: cannot read the outbox: %s\n",
                                store_errmsg(s));
                        return CTL_EXIT_STORE;
                }
                for (size_t i = 0; i < n; i++) {
                        int r = redeliver_one(s, rows[i].id, now);
                        if (r > ret)
                                ret = r;
                }
                if (n == 0)
                        printf("no failed or rejected rows\n");
                delivery_rows_free(rows, n);
                return ret;
        }
        for (size_t i = 0; i < n_ids; i++) {
                char *end;
                errno = 0;
                long long id = strtoll(ids[i], &end, 10);
                if (errno || *end || end == ids[i] || id <= 0) {
                        fprintf(stderr, "earshotctl redeliver: '%s' is not a row id (a number "
                                        "from 'earshotctl deliveries')\n",
                                ids[i]);
                        ret = ret > CTL_EXIT_ALERT ? ret : CTL_EXIT_ALERT;
                        continue;
                }
                int r = redeliver_one(s, id, now);
                if (r > ret)
                        ret = r;
        }
        return ret;
}

/* The notifiers `notify-test NAME` reaches: a route's, a notifier's own, or every enabled one. */
static int test_targets(const Config *c, const char *name, RouteTarget **ret, size_t *ret_n) {
        const char *rules[] = {"notify-test", NULL};
        AlertFacts f = {.rules = rules, .severity = SEVERITY_NORMAL, .network = "earshot"};
        if (streq(name, "default")) {
                /* what an alert no route takes gets */
                *ret = calloc(c->n_notifiers + 1, sizeof(RouteTarget));
                if (!*ret)
                        return -ENOMEM;
                *ret_n = 0;
                for (size_t k = 0; k < c->n_notifiers; k++)
                        if (c->notifiers[k].enabled)
                                (*ret)[(*ret_n)++] = (RouteTarget){.notifier = k};
                return 0;
        }
        char *names[] = {(char *)name, NULL};
        return route_names(c, names, &f, ret, ret_n);
}

static int cmd_test_list(void) {
        _cleanup_(config_freep) Config *cfg = NULL;
        if (ctl_load_config(arg_config, NULL, &cfg) < 0)
                return EXIT_FAILURE;
        printf("default\n");
        for (size_t i = 0; i < cfg->n_routes; i++)
                printf("%s\n", cfg->routes[i].name);
        for (size_t k = 0; k < cfg->n_notifiers; k++)
                if (!config_route(cfg, cfg->notifiers[k].name))
                        printf("%s\n", cfg->notifiers[k].name);
        return CTL_EXIT_OK;
}

static int cmd_test(const char *name, bool wait, usec_t timeout) {
        _cleanup_(config_freep) Config *cfg = NULL;
        _cleanup_free_ RouteTarget *t = NULL;
        _cleanup_free_ int64_t *ids = NULL;
        size_t n = 0;
        Store *s = NULL;
        char alert_id[48];
        int r;

        if (ctl_load_config(arg_config, NULL, &cfg) < 0)
                return EXIT_FAILURE;
        bool known = streq(name, "default") || config_route(cfg, name);
        for (size_t k = 0; !known && k < cfg->n_notifiers; k++)
                known = streq(cfg->notifiers[k].name, name);
        if (!known) {
                fprintf(stderr, "earshotctl notify-test: no route or notifier named '%s' in "
                                "%s (routes:",
                        name, arg_config);
                for (size_t i = 0; i < cfg->n_routes; i++)
                        fprintf(stderr, " %s", cfg->routes[i].name);
                fprintf(stderr, "%s default)\n", cfg->n_routes ? "," : "");
                return CTL_EXIT_USAGE;
        }
        if (test_targets(cfg, name, &t, &n) < 0) {
                fprintf(stderr, "earshotctl: out of memory\n");
                return EXIT_FAILURE;
        }
        if (n == 0) {
                fprintf(stderr, "earshotctl notify-test: '%s' reaches no enabled notifier\n",
                        name);
                return CTL_EXIT_ALERT;
        }
        if (ctl_open_store(true, &s, NULL) < 0)
                return CTL_EXIT_STORE;

        int64_t now = (int64_t)now_usec(CLOCK_REALTIME);
        snprintf(alert_id, sizeof(alert_id), "test-%" PRIx64 "-%x", (uint64_t)now,
                 (unsigned)getpid());
        ids = calloc(n, sizeof(int64_t));
        _cleanup_free_ OutboxNew *rows = calloc(n, sizeof(OutboxNew));
        if (!ids || !rows) {
                fprintf(stderr, "earshotctl: out of memory\n");
                store_free(s);
                return EXIT_FAILURE;
        }
        for (size_t i = 0; i < n; i++)
                rows[i] = (OutboxNew){
                        .alert_id = alert_id,
                        .notifier = cfg->notifiers[t[i].notifier].name,
                        .route = t[i].route ? t[i].route->name : NULL,
                        .event = "test",
                        .next_attempt = now,
                };
        r = store_outbox_queue_tests(s, rows, n, now, ids);
        if (r < 0) {
                fprintf(stderr, "earshotctl notify-test: cannot queue the test: %s\n",
                        r == -EBUSY ? "the store stayed locked" : store_errmsg(s));
                store_free(s);
                return CTL_EXIT_STORE;
        }
        for (size_t i = 0; i < n; i++)
                printf("queued test %s for %s (route %s) as row %" PRId64 "\n", alert_id,
                       cfg->notifiers[t[i].notifier].name,
                       t[i].route ? t[i].route->name : "default", ids[i]);
        if (!wait) {
                store_free(s);
                return CTL_EXIT_OK;
        }

        /* the daemon notices within a second; wait for every row to finish */
        usec_t deadline = now_usec(CLOCK_MONOTONIC) + timeout;
        size_t done = 0;
        int ret = CTL_EXIT_OK;
        bool *finished = calloc(n, sizeof(bool));
        while (finished && done < n && now_usec(CLOCK_MONOTONIC) < deadline) {
                for (size_t i = 0; i < n; i++) {
                        DeliveryRow d;
                        if (finished[i] || store_outbox_get(s, ids[i], &d) < 0)
                                continue;
                        const char *who = cfg->notifiers[t[i].notifier].name;
                        if (d.state && streq(d.state, "delivered")) {
                                printf("%s: delivered\n", who);
                                finished[i] = true;
                        } else if (d.state && !streq(d.state, "pending")) {
                                printf("%s: %s: %s\n", who, d.state, strna(d.last_error));
                                finished[i] = true;
                                ret = CTL_EXIT_ALERT;
                        } else if (d.attempts > 0 && d.last_error) {
                                /* one failed try is the answer a person wants now */
                                printf("%s: not delivered: %s (earshotd retries it; see "
                                       "'earshotctl deliveries')\n",
                                       who, d.last_error);
                                finished[i] = true;
                                ret = CTL_EXIT_ALERT;
                        }
                        done += finished[i];
                        delivery_row_done(&d);
                }
                if (done < n)
                        (void)usleep(200 * 1000);
        }
        for (size_t i = 0; finished && i < n; i++)
                if (!finished[i]) {
                        printf("%s: no outcome yet (is earshotd running? the test stays "
                               "queued: 'earshotctl deliveries')\n",
                               cfg->notifiers[t[i].notifier].name);
                        ret = CTL_EXIT_ALERT;
                }
        free(finished);
        store_free(s);
        return ret;
}

int ctl_delivery_main(int argc, char **argv) {
        enum { OPT_JSON = 0x100, OPT_PENDING, OPT_FAILED, OPT_ALL, OPT_LIMIT, OPT_NO_WAIT,
               OPT_TIMEOUT, OPT_LIST };
        static const struct option options[] = {
                {"state-dir", required_argument, NULL, 's'},
                {"config", required_argument, NULL, 'c'},
                {"json", no_argument, NULL, OPT_JSON},
                {"pending", no_argument, NULL, OPT_PENDING},
                {"failed", no_argument, NULL, OPT_FAILED},
                {"all", no_argument, NULL, OPT_ALL},
                {"limit", required_argument, NULL, OPT_LIMIT},
                {"no-wait", no_argument, NULL, OPT_NO_WAIT},
                {"timeout", required_argument, NULL, OPT_TIMEOUT},
                {"list", no_argument, NULL, OPT_LIST},
                {"help", no_argument, NULL, 'h'},
                {},
        };
        const char *name = argv[0];
        DeliveryCmd cmd = DCMD_LIST;
        const char *usage = "";
        DeliveryFilter filter = DELIVERIES_OPEN;
        size_t limit = 50;
        bool wait = true, failed = false, list = false;
        usec_t timeout = 30 * USEC_PER_SEC;
        int c;

        for (size_t i = 0; i < ELEMENTSOF(commands); i++)
                if (streq(commands[i].name, name)) {
                        cmd = commands[i].cmd;
                        usage = commands[i].usage;
                }
        optind = 0;
        opterr = 0;
        while ((c = getopt_long(argc, argv, ":s:c:h", options, NULL)) >= 0) {
                bool list_opt = c == OPT_JSON || c == OPT_PENDING || c == OPT_ALL || c == OPT_LIMIT;
                bool test_opt = c == OPT_NO_WAIT || c == OPT_TIMEOUT || c == OPT_LIST;
                if ((list_opt && cmd != DCMD_LIST) || (test_opt && cmd != DCMD_TEST) ||
                    (c == OPT_FAILED && cmd == DCMD_TEST))
                        return ctl_usage_error(name, "%s does not apply here", argv[optind - 1]);
                switch (c) {
                case 's':
                        arg_state_dir = optarg;
                        break;
                case 'c':
                        arg_config = optarg;
                        break;
                case 'h':
                        printf("Usage: earshotctl [-c CONFIG] [-s STATE_DIR] %s", usage);
                        return CTL_EXIT_OK;
                case OPT_JSON:
                        arg_json = true;
                        break;
                case OPT_PENDING:
                        filter = DELIVERIES_PENDING;
                        break;
                case OPT_FAILED:
                        filter = DELIVERIES_FAILED;
                        failed = true;
                        break;
                case OPT_ALL:
                        filter = DELIVERIES_ALL;
                        break;
                case OPT_LIMIT: {
                        char *end;
                        long v = strtol(optarg, &end, 10);
                        if (*end || end == optarg || v < 0)
                                return ctl_usage_error(name, "--limit takes a number, not '%s'",
                                                   optarg);
                        limit = (size_t)v;
                        break;
                }
                case OPT_NO_WAIT:
                        wait = false;
                        break;
                case OPT_LIST:
                        list = true;
                        break;
                case OPT_TIMEOUT:
                        if (parse_duration(optarg, &timeout) < 0 || timeout == 0)
                                return ctl_usage_error(name, "--timeout takes a duration such as "
                                                         "30s, not '%s'",
                                                   optarg);
                        break;
                case ':':
                        return ctl_usage_error(name, "%s needs a value", argv[optind - 1]);
                default:
                        return ctl_usage_error(name, "unknown option '%s'", argv[optind - 1]);
                }
        }
        char **args = argv + optind;
        size_t n_args = (size_t)(argc - optind);
        if (!arg_config)
                arg_config = DEFAULT_CONFIG;

        if (cmd == DCMD_TEST) {
                if (list)
                        return n_args == 0 ? cmd_test_list()
                                           : ctl_usage_error(name, "--list takes no route");
                if (n_args != 1)
                        return ctl_usage_error(name, "takes one route name (or a notifier's, or "
                                                 "default)");
                return cmd_test(args[0], wait, timeout);
        }
        if (cmd == DCMD_LIST && n_args > 0)
                return ctl_usage_error(name, "takes no arguments");
        if (cmd == DCMD_REDELIVER && (n_args > 0) == failed)
                return ctl_usage_error(name, "takes row ids, or --failed");

        Store *s = NULL;
        if (ctl_open_store(cmd == DCMD_REDELIVER, &s, NULL) < 0)
                return CTL_EXIT_STORE;
        int r = cmd == DCMD_LIST ? cmd_list(s, filter, limit)
                                 : cmd_redeliver(s, args, n_args, failed);
        store_free(s);
        return r;
}
