/* SPDX-License-Identifier: MIT */
/*
 * notify-hello.c - the smallest notifier an outside project can write: it includes only the
 * installed <earshot-plugin.h> (found through `pkg-config --cflags earshot-plugin`), and logs
 * every alert as one NOTICE line through the host:
 *
 *   <greeting> from out of tree: alert <id> (<severity>)
 *
 * Like every plugin it does no I/O of its own; delivery cannot fail, so it always answers
 * EARSHOT_DELIVERED. Build it with the Makefile beside it; tests/out-of-tree/test-out-of-tree.py
 * builds it against a `meson install --destdir` tree and runs earshotd with it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <earshot-plugin.h>

struct hello {
        const struct earshot_host *host; /* borrowed, valid until destroy */
        char *greeting;                  /* owned */
};

static int hello_create(const struct earshot_host *host, const struct earshot_values *vals,
                        char *err, size_t err_len, void **ret_state) {
        const char *greeting = earshot_value_str(vals, "greeting");
        struct hello *h;

        h = calloc(1, sizeof(*h));
        if (!h)
                return -ENOMEM;
        h->host = host;
        h->greeting = strdup(greeting ? greeting : "hello");
        if (!h->greeting) {
                free(h);
                return -ENOMEM;
        }
        *ret_state = h;
        return 0;
}

static void hello_destroy(void *state) {
        struct hello *h = state;

        if (!h)
                return;
        free(h->greeting);
        free(h);
}

static int hello_deliver(void *state, const struct earshot_alert *alert,
                         struct earshot_request *req) {
        struct hello *h = state;

        if (!alert || !alert->id)
                return -EINVAL;
        h->host->log(h->host, EARSHOT_LOG_NOTICE, "%s from out of tree: alert %s (%s)",
                     h->greeting, alert->id, alert->severity ? alert->severity : "?");
        return EARSHOT_DELIVERED;
}

static const struct earshot_option hello_options[] = {
        {.name = "greeting", .type = EARSHOT_OPT_STRING, .def = "hello",
         .description = "the word each alert line starts with"},
        {.name = NULL},
};

static const struct earshot_notifier_ops hello_ops = {
        .size = sizeof(struct earshot_notifier_ops),
        .create = hello_create,
        .destroy = hello_destroy,
        .deliver = hello_deliver,
};

EARSHOT_PLUGIN_DEFINE(.kind = EARSHOT_PLUGIN_NOTIFIER, .name = "hello",
                      .description = "log each alert's id (an out-of-tree example)",
                      .options = hello_options, .notifier = &hello_ops);
