/* SPDX-License-Identifier: MIT */
/*
 * fuzz-source-mastodon.c - libFuzzer target for the Mastodon source's response parser: the
 * input is a response body, parsed as the first page, as a later page with a cursor, and as
 * a page of an account timeline. The plugin must return 0, EARSHOT_MORE, EARSHOT_RETRY or
 * -EBADMSG, never crash or leak, and hand the host only well-formed posts (fuzz-host.c checks
 * them). This file is also the model for the other source targets: copy its shape.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-host.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

extern const struct earshot_plugin earshot_plugin_descriptor;
#define P (&earshot_plugin_descriptor)

static void parse(void *state, uint32_t feed, const char *cursor, const char *page,
                  const uint8_t *body, size_t len) {
        static const char *const headers[] = {
                "Link: <https://m.example/api/v1/timelines/tag/acme?max_id=1>; rel=\"next\"",
                NULL,
        };
        struct earshot_response resp = fuzz_response(body, len, headers);
        struct earshot_sink sink;

        fuzz_sink_init(&sink);
        int r = P->source->parse_response(state, feed, cursor, page, &resp, &sink);
        if (r < 0 && r != -EBADMSG && r != -ENOMEM)
                abort();
        fuzz_sink_done(&sink);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static FuzzHost host;
        static void *state;

        if (!state) {
                static const char *const settings[] = {
                        "instances=https://m.example", "tags=acme", NULL};
                FuzzValues fv;
                char err[256];

                fuzz_host_init(&host);
                fuzz_values_build(&fv, P->options, settings);
                if (P->source->create(&host.host, &fv.vals, err, sizeof(err), &state) < 0)
                        abort();
                fuzz_values_done(&fv);
        }
        /* the core hands plugins NUL-terminated bodies */
        uint8_t *body = malloc(size + 1);
        if (!body)
                return 0;
        memcpy(body, data, size);
        body[size] = 0;
        parse(state, 0, NULL, NULL, body, size);
        parse(state, 0, "117020593741189701", NULL, body, size);
        parse(state, 0, "117020593741189701", "2:117020593741189705", body, size);
        free(body);
        return 0;
}
