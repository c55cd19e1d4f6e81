/* SPDX-License-Identifier: MIT */
/*
 * exec.h - runs a notifier's program (request_exec) as a child watched by the sd-event loop,
 * never blocking it: the request body goes to the child's standard input, its standard output
 * and error are collected (first 64 KiB), and it is killed (SIGTERM, then SIGKILL 5 s later)
 * when it outlives its timeout. No shell, no $PATH search, a clean environment.
 */
#pragma once

#include <systemd/sd-event.h>

#include "http.h"

typedef struct ExecGlue ExecGlue;
typedef struct ExecCall ExecCall;

/*
 * Called once per run, on the loop. The response: status 200 when the program exited 0, 500
 * when it exited otherwise, 0 when it could not start, was killed or timed out (error says
 * which); exit_code is the exit code or -1; body holds its output. Borrowed for the call.
 */
typedef void (*ExecDoneFunc)(ExecCall *call, const HttpResponse *resp, void *userdata);

int exec_glue_new(sd_event *e, ExecGlue **ret);
/* Kills every child still running. */
ExecGlue *exec_glue_free(ExecGlue *g);

/* Start req->exec_argv with req->body on its standard input. *ret (may be NULL) is valid until
 * the callback runs or exec_cancel(). */
int exec_start(ExecGlue *g, const struct earshot_request *req, ExecDoneFunc cb, void *userdata,
               ExecCall **ret);
/* Kill the child (SIGKILL) and forget it; its callback will not run. NULL is fine. The loop
 * reaps it later; exec_glue_free() reaps what is left. */
void exec_cancel(ExecCall *c);
/* Number of children not yet reaped (cancelled ones included), and of runs whose callback is
 * still to come. */
size_t exec_in_flight(ExecGlue *g);
