/* SPDX-License-Identifier: MIT */
/*
 * fuzz-source-rss.c - libFuzzer target for the RSS/Atom source's response parser: the input is
 * a response body, parsed three times, as the first poll of a feed with no headers, as a later
 * poll with an HTTP charset and a Content-Location, and with a UTF-16 charset and a
 * Content-Language (by a second instance with other options), and as the body of error
 * answers (parse_error, see fuzz_parse_errors()). The plugin must return 0 or -EBADMSG (or
 * -ENOMEM), never crash, leak or hang, and hand the host only well-formed posts and
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

static void parse(void *state, const char *cursor, const char *const *headers,
                  const uint8_t *body, size_t len) {
        struct earshot_response resp = fuzz_response(body, len, headers);
        struct earshot_sink sink;

        fuzz_sink_init(&sink);
        int r = P->source->parse_response(state, 0, cursor, NULL, &resp, &sink);
        if (r != 0 && r != -EBADMSG && r != -ENOMEM)
                abort();
        fuzz_sink_done(&sink);
}

static void *create(FuzzHost *host, const char *const *settings) {
        FuzzValues fv;
        char err[256];
        void *state = NULL;

        fuzz_values_build(&fv, P->options, settings);
        if (P->source->create(&host->host, &fv.vals, err, sizeof(err), &state) < 0)
                abort();
        fuzz_values_done(&fv);
        return state;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static FuzzHost host;
        static void *plain, *other;

        if (!plain) {
                static const char *const s1[] = {"urls=https://example.com/feed.xml",
                                                  "max_age=0", NULL};
                static const char *const s2[] = {"urls=http://127.0.0.1:8080/r/acme/.rss",
                                                  "network=reddit", "include_title=false",
                                                  "language=pt-BR", "max_items=5", NULL};
                fuzz_host_init(&host);
                plain = create(&host, s1);
                other = create(&host, s2);
        }
        static const char *const latin[] = {
                "Content-Type: text/xml; charset=\"koi8-r\"",
                "Content-Location: ../feeds/x.xml",
                NULL,
        };
        static const char *const wide[] = {
                "Content-Type: application/atom+xml;charset=utf-16",
                "Content-Language: de, en",
                NULL,
        };
        /* the core hands plugins NUL-terminated bodies */
        uint8_t *body = malloc(size + 1);
        if (!body)
                return 0;
        memcpy(body, data, size);
        body[size] = 0;
        parse(plain, NULL, NULL, body, size);
        parse(plain, "2026-07-31T12:00:00Z", latin, body, size);
        parse(other, "garbage cursor", wide, body, size);
        fuzz_parse_errors(P->source, plain, 0, "2026-07-31T12:00:00Z", NULL, body, size);
        free(body);
        return 0;
}
