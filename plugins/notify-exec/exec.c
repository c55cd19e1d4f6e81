/* SPDX-License-Identifier: MIT */
/*
 * exec.c - every alert handed to a local program: a ticket tool's CLI, a pager script, a
 * message to a chat the core has no plugin for.
 *
 * The plugin only describes the run; the core starts the program (daemon/exec.c) and reports
 * how it ended. What the program gets:
 *
 *   argv         `command` exactly as configured: argv[0] an absolute path; no shell, no $PATH
 *                search, no word splitting (write `[/bin/sh, -c, "..."]` to have a shell)
 *   stdin        the alert as one line of JSON followed by a newline, in the same schema as
 *                the webhook's body, "earshot.alert.v1" (see notify-webhook/webhook.c)
 *   environment  PATH=/usr/local/bin:/usr/bin:/bin, LANG=C.UTF-8, EARSHOT_ALERT_ID=<id>, and
 *                nothing else: earshotd's own environment (tokens, $CREDENTIALS_DIRECTORY)
 *                does not reach it
 *   cwd, fds     "/", and only standard input, output and error; output and error go to one
 *                pipe, of which the core keeps 64 KiB: the start shows in the log when a run
 *                fails
 *   session      its own: at `timeout` (30s by default) the whole process group gets SIGTERM,
 *                5 s later SIGKILL
 *
 * THE EXIT CODE CONVENTION (sysexits.h), which decides what happens to the alert:
 *
 *   0                      delivered; done
 *   75 (EX_TEMPFAIL)       try again later, with the usual backoff
 *   64-78 except 75        rejected for good, never retried: EX_USAGE 64, EX_DATAERR 65,
 *                          EX_NOINPUT 66, EX_NOUSER 67, EX_NOHOST 68, EX_UNAVAILABLE 69,
 *                          EX_SOFTWARE 70, EX_OSERR 71, EX_OSFILE 72, EX_CANTCREAT 73,
 *                          EX_IOERR 74, EX_PROTOCOL 76, EX_NOPERM 77, EX_CONFIG 78
 *   any other non-zero     try again later (a crash, `set -e`, exit 1)
 *   killed, timed out,     try again later
 *   could not be started
 *
 * Delivery is at least once: a retried alert carries the same `id` (and EARSHOT_ALERT_ID), so
 * a program that must not act twice keeps the ids it has handled. A program that cannot take
 * an alert ever (bad input, no such user) exits 64-78 so that earshot stops trying.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alert-json.h"
#include "earshot-plugin.h"
#include "notify-util.h"
#include "plugin-util.h"

#define DEFAULT_TIMEOUT "30s"
#define TIMEOUT_MAX (INT64_C(3600) * 1000000) /* an hour: longer is a hung program */

/* sysexits.h */
#define EX__BASE 64
#define EX_TEMPFAIL 75
#define EX__MAX 78

typedef struct ExecNotifier {
        const struct earshot_host *host; /* borrowed, valid until destroy */
        char **argv;                     /* owned, NULL-terminated */
        size_t argc;
        int64_t timeout_usec;
} ExecNotifier;

static void exec_destroy(void *state) {
        ExecNotifier *x = state;

        if (!x)
                return;
        strv_free_n(x->argv, x->argc);
        free(x);
}

NOTIFY_DEFINE_DESTROYP(ExecNotifier, exec_destroy)

static int exec_create(const struct earshot_host *host, const struct earshot_values *vals,
                       char *err, size_t err_len, void **ret_state) {
        _cleanup_(exec_destroyp) ExecNotifier *x = NULL;
        const struct earshot_value *command = earshot_value_get(vals, "command");

        if (!EARSHOT_HOST_HAS(host, request_exec))
                return set_error(err, err_len,
                                 "this earshotd cannot run programs (earshot 0.3 "
                                 "or later is needed)");
        if (!command || !command->set || !command->list || command->n_list == 0 ||
            !command->list[0] || !*command->list[0])
                return set_error(err, err_len,
                                 "command: the program to run is needed, as a list: "
                                 "[/path/to/program, ARG...]");
        if (command->list[0][0] != '/')
                return set_error(err, err_len,
                                 "command: '%s' is not an absolute path (no $PATH search: write "
                                 "e.g. /usr/local/bin/%s)",
                                 command->list[0], command->list[0]);

        x = calloc(1, sizeof(*x));
        if (!x)
                return -ENOMEM;
        x->host = host;
        x->timeout_usec = earshot_value_num(vals, "timeout", 30 * INT64_C(1000000));
        if (x->timeout_usec <= 0 || x->timeout_usec > TIMEOUT_MAX)
                return set_error(err, err_len, "timeout: must be more than 0s and at most 1h");
        x->argv = calloc(command->n_list + 1, sizeof(char *));
        if (!x->argv)
                return -ENOMEM;
        for (size_t i = 0; i < command->n_list; i++) {
                x->argv[i] = strdup(command->list[i]);
                if (!x->argv[i])
                        return -ENOMEM;
                x->argc++;
        }

        *ret_state = NOTIFY_TAKE(x);
        return 0;
}

static int exec_deliver(void *state, const struct earshot_alert *alert,
                        struct earshot_request *req) {
        ExecNotifier *x = state;
        const struct earshot_host *h = x->host;
        _cleanup_free_ char *json = NULL, *body = NULL;
        int r;

        if (!alert || !alert->post || !alert->id || !*alert->id)
                return -EINVAL;

        r = alert_json_build(h, alert, &json);
        if (r < 0)
                return r;
        /* one line, so `read -r line` and line-based tools take it whole */
        body = strjoin(json, "\n");
        if (!body)
                return -ENOMEM;

        r = h->request_exec(req, (const char *const *)x->argv, x->timeout_usec);
        if (r < 0)
                return r;
        return notify_request_send(h, req, body);
}

/* The convention in the header comment. */
static int exec_response(void *state, const struct earshot_alert *alert,
                         const struct earshot_response *resp) {
        int32_t code;

        if (!EARSHOT_RESPONSE_HAS(resp, exit_code))
                return resp->status == 200 ? EARSHOT_DELIVERED : EARSHOT_RETRY;
        code = resp->exit_code;
        if (code == 0)
                return EARSHOT_DELIVERED;
        if (code >= EX__BASE && code <= EX__MAX && code != EX_TEMPFAIL)
                return EARSHOT_REJECTED;
        /* EX_TEMPFAIL, any other code, and no code at all: killed, timed out, not started */
        return EARSHOT_RETRY;
}

static const struct earshot_option exec_options[] = {
        {"command", EARSHOT_OPT_STRLIST, EARSHOT_OPT_REQUIRED, NULL,
         "the program and its arguments, [/absolute/path, ARG...]; no shell; the alert as JSON "
         "on stdin"},
        {"timeout", EARSHOT_OPT_DURATION, 0, DEFAULT_TIMEOUT,
         "longest run: then SIGTERM to its process group, SIGKILL 5s later, and a retry"},
        {.name = NULL},
};

NOTIFY_PLUGIN_DEFINE(exec, "exec", "run a program with each alert as JSON on its standard input",
                     .response = exec_response);
