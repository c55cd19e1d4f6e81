/* SPDX-License-Identifier: MIT */
/*
 * fuzz-source-mastodon.c - libFuzzer target for the Mastodon source: the input is a response
 * body, read as every kind of answer the plugin asks for (the instance check at the start and
 * at the end of a poll, an account lookup, the first page of a hashtag and of an account
 * timeline, later pages with cursors of each shape), as the body of error answers to those
 * requests (parse_error, with statuses from the first byte and the usual ones: see
 * fuzz_parse_errors()), and, up to its first NUL, as a stored cursor handed to
 * build_request(); also as the data of stream events (update, status.update, delete, others)
 * and as full-text search results, page tokens and refused stream connects. The plugin must
 * return 0, EARSHOT_MORE, EARSHOT_RETRY, EARSHOT_BLOCKED or
 * -EBADMSG, never crash or leak, and hand the host only well-formed posts, requests and
 * explanations (fuzz-host.c checks them). This file is also the model for the other source
 * targets: copy its shape.
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
        if (r > 0 && r != EARSHOT_MORE && r != EARSHOT_RETRY && r != EARSHOT_BLOCKED)
                abort();
        fuzz_sink_done(&sink);
}

static void build(void *state, uint32_t feed, const char *cursor, const char *page) {
        struct earshot_request req;

        fuzz_request_init(&req);
        int r = P->source->build_request(state, feed, cursor, page, &req);
        if (r < 0 && r != -ENOMEM && r != -EINVAL)
                abort();
        if (r == 0 && !req.url)
                abort();
        fuzz_request_done(&req);
}

static FuzzHost host;

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

/* The input as the data of a stream event of each kind the plugin reads. */
static void event(void *state, uint32_t feed, const char *type, const uint8_t *data,
                  size_t len) {
        struct earshot_sink sink;

        fuzz_sink_init(&sink);
        int r = P->source->parse_event(state, feed, type, (const char *)data, len, &sink);
        if (r < 0 && r != -EBADMSG && r != -ENOMEM)
                abort();
        if (r > 0)
                abort(); /* the plugin never ends a stream by itself */
        fuzz_sink_done(&sink);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static void *plain, *checked, *streamed;

        if (!plain) {
                /* feed 0: #acme; feed 1: @acme (looked up); feed 2: account 42 */
                static const char *const s1[] = {"instances=https://m.example", "tags=acme",
                                                 "accounts=acme,42", "check_instance=false", NULL};
                static const char *const s2[] = {"instances=https://m.example", "tags=acme",
                                                 "accounts=acme", "access_token=tok", NULL};
                fuzz_host_init(&host);
                /* feed 0: #acme, streamed; feed 1: a full-text search */
                static const char *const s3[] = {"instances=https://m.example", "tags=acme",
                                                 "search=acme refund", "access_token=tok",
                                                 "stream=true", "limit=2", NULL};
                plain = create(s1);
                checked = create(s2);
                streamed = create(s3);
        }
        /* the core hands plugins NUL-terminated bodies */
        uint8_t *body = malloc(size + 1);
        if (!body)
                return 0;
        memcpy(body, data, size);
        body[size] = 0;

        /* hashtag timelines: first poll, later poll, later page */
        parse(plain, 0, NULL, NULL, body, size);
        parse(plain, 0, "117020593741189701", NULL, body, size);
        parse(plain, 0, "117020593741189701", "2:117020593741189705", body, size);
        /* account timelines: the lookup, the first page after it, a later page, by id */
        parse(plain, 1, NULL, NULL, body, size);
        parse(plain, 1, "id=5", "timeline", body, size);
        parse(plain, 1, "id=5;min=117020593741189701", "3:117020593741189702", body, size);
        parse(plain, 2, "117020593741189701", NULL, body, size);
        /* the instance check: before the first timeline page, and as a re-check */
        parse(checked, 0, NULL, NULL, body, size);
        parse(checked, 0, "min=1;checked=1", "probe", body, size);
        parse(checked, 0, "min=1;checked=1", NULL, body, size); /* a page, then maybe the check */
        parse(checked, 1, NULL, NULL, body, size);

        /* the input as the body of error answers to each kind of request */
        fuzz_parse_errors(P->source, plain, 0, NULL, NULL, body, size);
        fuzz_parse_errors(P->source, plain, 0, "117020593741189701", "2:117020593741189705", body,
                          size);
        fuzz_parse_errors(P->source, plain, 1, NULL, NULL, body, size);
        fuzz_parse_errors(P->source, plain, 1, "id=5", "timeline", body, size);
        fuzz_parse_errors(P->source, plain, 2, "117020593741189701", NULL, body, size);
        fuzz_parse_errors(P->source, checked, 0, NULL, NULL, body, size);
        fuzz_parse_errors(P->source, checked, 0, "min=1;checked=1", "probe", body, size);
        fuzz_parse_errors(P->source, checked, 0, "min=1;checked=1", NULL, body, size);
        fuzz_parse_errors(P->source, checked, 1, NULL, NULL, body, size);

        /* stream events (a status seen first, so that a delete may find it), searches */
        event(streamed, 0, "update", body, size);
        event(streamed, 0, "status.update", body, size);
        event(streamed, 0, "delete", body, size);
        event(streamed, 0, "notification", body, size);
        event(streamed, 0, NULL, body, size);
        parse(streamed, 1, NULL, NULL, body, size);
        parse(streamed, 1, "117020593741189701", NULL, body, size);
        parse(streamed, 1, "1", "2:117020593741189705:117020593741189709", body, size);
        fuzz_parse_errors(P->source, streamed, 0, NULL, "stream", body, size);
        fuzz_parse_errors(P->source, streamed, 1, "1", NULL, body, size);

        /* the input as a stored cursor (up to its first NUL) */
        const char *cursor = (const char *)body;
        for (uint32_t feed = 0; feed < 3; feed++) {
                build(plain, feed, cursor, NULL);
                build(plain, feed, cursor, "timeline");
        }
        build(checked, 0, cursor, NULL);
        build(checked, 0, cursor, "probe");
        build(streamed, 1, cursor, NULL);
        build(streamed, 1, "1", cursor); /* and as a search page token */
        {
                struct earshot_request req;
                fuzz_request_init(&req);
                int r = P->source->stream_request(streamed, 0, cursor, &req);
                if (r != 0 && r != -ENOMEM)
                        abort();
                fuzz_request_done(&req);
        }
        parse(plain, 1, cursor, NULL, (const uint8_t *)"{\"id\":\"5\",\"acct\":\"acme\"}", 25);
        parse(checked, 0, cursor, "timeline", (const uint8_t *)"[{\"id\":\"7\",\"content\":\"x\"}]",
              27);
        free(body);
        return 0;
}
