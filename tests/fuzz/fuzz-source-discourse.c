/* SPDX-License-Identifier: MIT */
/*
 * fuzz-source-discourse.c - libFuzzer target for the Discourse source's response parser: the
 * input is a response body, parsed for a latest-posts feed (/posts.json) and for a search feed
 * (/search.json), each as the first poll, as page 1 of a later poll and as a later page of a
 * walk, and as the body of error answers (parse_error, see fuzz_parse_errors()). The plugin
 * must return 0, EARSHOT_MORE or -EBADMSG (-ENOMEM allowed; RETRY or BLOCKED from parse_error),
 * never crash or leak, and hand the host only well-formed posts, cursors, explanations and
 * page tokens (fuzz-host.c checks them); EARSHOT_MORE must come with a page token that the
 * plugin's own build_request() accepts.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-host.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

extern const struct earshot_plugin earshot_plugin_descriptor;
#define P (&earshot_plugin_descriptor)

/* The last page token handed over (fuzz-host.c only counts them). */
static char last_page[4097];

static int capture_next_page(struct earshot_sink *sink, const char *page) {
        if (!page || strlen(page) >= sizeof(last_page))
                abort();
        strcpy(last_page, page);
        sink->n_page++;
        return 0;
}

static void *instance(FuzzHost *host, const char *const *settings) {
        FuzzValues fv;
        char err[256];
        void *state = NULL;

        fuzz_values_build(&fv, P->options, settings);
        if (P->source->create(&host->host, &fv.vals, err, sizeof(err), &state) < 0)
                abort();
        fuzz_values_done(&fv);
        return state;
}

static void parse(void *state, const char *cursor, const char *page, const uint8_t *body,
                  size_t len) {
        struct earshot_response resp = fuzz_response(body, len, NULL);
        struct earshot_sink sink;

        fuzz_sink_init(&sink);
        int r = P->source->parse_response(state, 0, cursor, page, &resp, &sink);
        if (r < 0 && r != -EBADMSG && r != -ENOMEM)
                abort();
        if (r >= 0 && r != 0 && r != EARSHOT_MORE)
                abort();
        if ((r == EARSHOT_MORE) != (sink.n_page == 1))
                abort();
        if (r == EARSHOT_MORE) {
                struct earshot_request req;
                fuzz_request_init(&req);
                if (P->source->build_request(state, 0, cursor, last_page, &req) != 0)
                        abort();
                fuzz_request_done(&req);
        }
        fuzz_sink_done(&sink);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static FuzzHost host;
        static void *latest, *search;

        if (!latest) {
                fuzz_host_init(&host);
                host.host.next_page = capture_next_page;
                latest = instance(&host, (const char *const[]){"forums=https://forum.example",
                                                               "max_pages=3", NULL});
                search =
                        instance(&host, (const char *const[]){"forums=https://forum.example",
                                                              "queries=acme", "max_pages=3", NULL});
        }
        /* the core hands plugins NUL-terminated bodies */
        uint8_t *body = malloc(size + 1);
        if (!body)
                return 0;
        memcpy(body, data, size);
        body[size] = 0;
        parse(latest, NULL, NULL, body, size);
        parse(latest, "3@2020-01-01T00:00:00.000Z", NULL, body, size);
        parse(latest, "3", "3:40:99:1579918207971000", body, size);
        parse(search, NULL, NULL, body, size);
        parse(search, "3@2020-01-01T00:00:00.000Z", NULL, body, size);
        parse(search, "3", "3:99:1579918207971000", body, size);
        fuzz_parse_errors(P->source, latest, 0, "3@2020-01-01T00:00:00.000Z", NULL, body, size);
        fuzz_parse_errors(P->source, search, 0, "3", "3:99:1579918207971000", body, size);
        free(body);
        return 0;
}
