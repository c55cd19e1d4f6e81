/* SPDX-License-Identifier: MIT */
/*
 * fuzz-source-stackexchange.c - libFuzzer target for the Stack Exchange source's response
 * parser: the input is a response body, parsed as the first poll (newest first), as page 1 of a
 * later poll (oldest first from the cursor, after a complete walk and after one cut short), as
 * a later page, and as the body of error answers (parse_error, see fuzz_parse_errors()). The
 * plugin must return 0, EARSHOT_MORE, EARSHOT_RETRY or EARSHOT_BLOCKED (an error body) or
 * -EBADMSG (-ENOMEM allowed), never crash or leak, and hand the host only well-formed posts,
 * cursors, pauses, explanations and page tokens (fuzz-host.c checks them); EARSHOT_MORE must
 * come with a page token that build_request() accepts.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-host.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

extern const struct earshot_plugin earshot_plugin_descriptor;
#define P (&earshot_plugin_descriptor)

static char last_page[4097];

static int capture_next_page(struct earshot_sink *sink, const char *page) {
        if (!page || strlen(page) >= sizeof(last_page))
                abort();
        strcpy(last_page, page);
        sink->n_page++;
        return 0;
}

static int check_backoff(struct earshot_sink *sink, int64_t usec) {
        /* a pause is positive and at most a day and a bit */
        if (usec <= 0 || usec > INT64_C(90000) * 1000000)
                abort();
        return 0;
}

static void parse(void *state, const char *cursor, const char *page, const uint8_t *body,
                  size_t len) {
        struct earshot_response resp = fuzz_response(body, len, NULL);
        struct earshot_sink sink;

        fuzz_sink_init(&sink);
        int r = P->source->parse_response(state, 0, cursor, page, &resp, &sink);
        if (r < 0 && r != -EBADMSG && r != -ENOMEM)
                abort();
        if (r > 0 && r != EARSHOT_MORE && r != EARSHOT_RETRY && r != EARSHOT_BLOCKED)
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
        static void *state;

        if (!state) {
                static const char *const settings[] = {"sites=stackoverflow", "queries=acme",
                                                       "key=k3y", "max_pages=3", NULL};
                FuzzValues fv;
                char err[256];

                fuzz_host_init(&host);
                host.host.next_page = capture_next_page;
                host.host.set_backoff = check_backoff;
                fuzz_values_build(&fv, P->options, settings);
                if (P->source->create(&host.host, &fv.vals, err, sizeof(err), &state) < 0)
                        abort();
                fuzz_values_done(&fv);
        }
        uint8_t *body = malloc(size + 1);
        if (!body)
                return 0;
        memcpy(body, data, size);
        body[size] = 0;
        parse(state, NULL, NULL, body, size);
        parse(state, "1785592600", NULL, body, size);
        parse(state, "1785592600;resume", NULL, body, size);
        parse(state, "1785592800", "3:1785592480:1:1785592700", body, size);
        parse(state, "1785592800;resume", "25:1785592480:0:1785592700", body, size);
        fuzz_parse_errors(P->source, state, 0, "1785592600", NULL, body, size);
        fuzz_parse_errors(P->source, state, 0, "1785592800;resume", "3:1785592480:1:1785592700",
                          body, size);
        free(body);
        return 0;
}
