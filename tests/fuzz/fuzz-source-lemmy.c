/* SPDX-License-Identifier: MIT */
/*
 * fuzz-source-lemmy.c - libFuzzer target for the Lemmy source's response parser and its
 * Markdown stripper: the input is a response body, parsed for each of the four feed kinds
 * (search posts, search comments, community posts, community comments) as a first poll, as a
 * poll after a cursor, and as the last page max_pages allows, once with the default limit and
 * once with two items a page so that small inputs reach the paging code, and as the body of
 * error answers to each feed's requests (parse_error, see fuzz_parse_errors()). The plugin must
 * return 0, EARSHOT_MORE (with a next page) or -EBADMSG, never crash or leak, and hand the host
 * only well-formed posts and explanations (fuzz-host.c checks them). The input is also run through
 * lemmy_markdown_to_text() directly, whose output may never be longer than its input + 1.
 * Shaped like fuzz-source-mastodon.c.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-host.h"
#include "source-lemmy/markdown.h"

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
                static const char *const settings[] = {"instances=https://lemmy.example",
                                                       "queries=acme", "communities=acme", NULL};
                static const char *const settings_small[] = {"instances=https://lemmy.example",
                                                             "queries=acme",
                                                             "communities=acme",
                                                             "limit=2",
                                                             "max_pages=3",
                                                             NULL};

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

        char *text = lemmy_markdown_to_text((const char *)body, size);
        if (text && strlen(text) > size + 1)
                abort();
        free(text);

        for (int k = 0; k < 2; k++) {
                void *s = k == 0 ? state : small;
                for (uint32_t feed = 0; P->source->feed(s, feed); feed++) {
                        parse(s, feed, NULL, NULL, body, size);
                        parse(s, feed, "12:1700000000", NULL, body, size);
                        parse(s, feed, "x", NULL, body, size);
                        parse(s, feed, "12:1700000000", "2:12:1700000000:40:1700000500", body,
                              size);
                        parse(s, feed, "12", "3:12:-:40:-", body, size);
                        if (k == 0 && feed % 2 == 0) /* posts; comments read errors alike */
                                fuzz_parse_errors(P->source, s, feed, "12:1700000000", NULL, body,
                                                  size);
                }
        }
        free(body);
        return 0;
}
