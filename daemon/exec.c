/* SPDX-License-Identifier: MIT */
/* exec.c - placeholder until the runner lands: every run fails to start. */
#include <errno.h>
#include <stdlib.h>

#include "exec.h"

struct ExecGlue {
        sd_event *event;
};

int exec_glue_new(sd_event *e, ExecGlue **ret) {
        ExecGlue *g = calloc(1, sizeof(*g));
        if (!g)
                return -ENOMEM;
        g->event = e;
        *ret = g;
        return 0;
}

ExecGlue *exec_glue_free(ExecGlue *g) {
        free(g);
        return NULL;
}

int exec_start(ExecGlue *g, const struct earshot_request *req, ExecDoneFunc cb, void *userdata,
               ExecCall **ret) {
        (void)g, (void)req, (void)cb, (void)userdata, (void)ret;
        return -EOPNOTSUPP;
}

void exec_cancel(ExecCall *c) {
        (void)c;
}
