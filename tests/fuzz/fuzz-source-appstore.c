/* SPDX-License-Identifier: MIT */
/*
 * fuzz-source-appstore.c - libFuzzer target for the App Store source's response parser: the
 * input is a response body, parsed as the first poll, as page 1 of a later poll and as a later
 * page of a walk (and as page 10, the feed's last), and as the body of error answers to page 1
 * and to a later page (parse_error, see fuzz_parse_errors()). The plugin must return 0,
 * EARSHOT_MORE or -EBADMSG (-ENOMEM allowed), never crash or leak, and hand the host only
 * well-formed posts (ratings 1-5; fuzz-host.c checks them), cursors, explanations and page
 * tokens; EARSHOT_MORE must come with a page token that build_request() accepts.
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

/* fuzz-host.c's checks, and then the ones for reviews */
static int (*host_emit_post)(struct earshot_sink *sink, const struct earshot_post *p);

static int check_post(struct earshot_sink *sink, const struct earshot_post *p) {
        int r = host_emit_post(sink, p);
        /* every review keeps its stars */
        if (p->size != sizeof(*p) || p->rating < 1 || p->rating > 5 ||
            strncmp(p->id, "appstore:", 9) != 0 || !p->url)
                abort();
        return r;
}

static void parse(void *state, const char *cursor, const char *page, const uint8_t *body,
                  size_t len) {
        struct earshot_response resp = fuzz_response(body, len, NULL);
        struct earshot_sink sink;

        fuzz_sink_init(&sink);
        int r = P->source->parse_response(state, 0, cursor, page, &resp, &sink);
        if (r < 0 && r != -EBADMSG && r != -ENOMEM)
                abort();
        if (r > 0 && r != EARSHOT_MORE)
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
                static const char *const settings[] = {"apps=1234567890", "countries=us", NULL};
                FuzzValues fv;
                char err[256];

                fuzz_host_init(&host);
                host.host.next_page = capture_next_page;
                host_emit_post = host.host.emit_post;
                host.host.emit_post = check_post;
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
        parse(state, "2026-08-01T12:15:00.000Z#14600000040", NULL, body, size);
        parse(state, "#5", "2:1785592500000000:14600000050", body, size);
        parse(state, "2020-01-01T00:00:00.000Z#1", "10:1785592500000000:", body, size);
        fuzz_parse_errors(P->source, state, 0, "#5", NULL, body, size);
        fuzz_parse_errors(P->source, state, 0, "#5", "2:1785592500000000:14600000050", body, size);
        free(body);
        return 0;
}
