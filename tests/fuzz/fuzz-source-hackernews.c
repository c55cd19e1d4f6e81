/* SPDX-License-Identifier: MIT */
/*
 * fuzz-source-hackernews.c - libFuzzer target for the Hacker News (Algolia) source's response
 * parser: the input is a response body, parsed as the first page of a feed, as the first page
 * after a cursor (with ids at the cursor's second), as a later page of a walk, and as the last
 * page max_pages allows (where gaps are reported), once with the default page size and once
 * with two hits a page so that small inputs reach the paging code, and as the body of error
 * answers (parse_error, see fuzz_parse_errors()). The plugin must return 0, EARSHOT_MORE (with
 * a next page) or -EBADMSG, never crash or leak, and hand the host only well-formed posts and
 * explanations (fuzz-host.c checks them). Shaped like fuzz-source-mastodon.c.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-host.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

extern const struct earshot_plugin earshot_plugin_descriptor;
#define P (&earshot_plugin_descriptor)

static FuzzHost host;

static void parse(void *state, uint32_t feed, const char *cursor, const char *page,
                  const uint8_t *body, size_t len) {
        struct earshot_response resp = fuzz_response(body, len, NULL);
        struct earshot_sink sink;

        fuzz_sink_init(&sink);
        int r = P->source->parse_response(state, feed, cursor, page, &resp, &sink);
        if (r < 0 && r != -EBADMSG && r != -ENOMEM)
                abort();
        if (r > 0 && r != EARSHOT_MORE)
                abort();
        if (r == EARSHOT_MORE && sink.n_page == 0)
                abort();
        fuzz_sink_done(&sink);
}

static void *create(const char *const *settings) {
        FuzzValues fv;
        char err[256];
        void *state = NULL;

        fuzz_values_build(&fv, P->options, settings);
        if (P->source->create(&host.host, &fv.vals, err, sizeof(err), &state) < 0)
                abort();
        fuzz_values_done(&fv);
        return state;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static void *state, *small;

        if (!state) {
                static const char *const settings[] = {"queries=acme", NULL};
                static const char *const settings_small[] = {"queries=acme", "hits_per_page=2",
                                                             "max_pages=3", "overlap=0s", NULL};

                fuzz_host_init(&host);
                state = create(settings);
                small = create(settings_small);
        }
        /* the core hands plugins NUL-terminated bodies */
        uint8_t *body = malloc(size + 1);
        if (!body)
                return 0;
        memcpy(body, data, size);
        body[size] = 0;
        for (int k = 0; k < 2; k++) {
                void *s = k == 0 ? state : small;
                parse(s, 0, NULL, NULL, body, size);
                parse(s, 0, "1403235346", NULL, body, size);
                parse(s, 0, "1403235346:7919424,7919431", NULL, body, size);
                parse(s, 0, "garbage", NULL, body, size);
                parse(s, 0, "1403235346", "2:1:1403235000:1403235595:1403235346:1403235595:7919431",
                      body, size);
                parse(s, 0, "1403235346", "3:0:1403235000:1403235400:1403235346:1403235595", body,
                      size);
        }
        fuzz_parse_errors(P->source, state, 0, "1403235346", NULL, body, size);
        free(body);
        return 0;
}
