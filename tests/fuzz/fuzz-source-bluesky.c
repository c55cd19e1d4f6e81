/* SPDX-License-Identifier: MIT */
/*
 * fuzz-source-bluesky.c - libFuzzer target for the Bluesky source: the input is a response
 * body, read as each kind of answer the source asks for (a login, a refresh, a search page, an
 * author feed page and a profile lookup), each after the build_request() that leads to it, as a
 * first poll, after a cursor and on the last page max_pages allows; and as the body of error
 * answers to the login, the refresh and a search page (parse_error, see fuzz_parse_errors()).
 * The plugin must return 0, EARSHOT_MORE (with a next page) or -EBADMSG, never crash or leak,
 * and hand the host only well-formed posts and explanations (fuzz-host.c checks them; its
 * state store keeps the session across inputs as the store does). The input also goes through
 * the helpers of
 * bluesky-parse.c directly: as a JWT, as a post text with its own facets, and as the text of
 * the follower-count cache, whose formatted form must load back to no more entries.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "fuzz-host.h"
#include "source-bluesky/bluesky-parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

extern const struct earshot_plugin earshot_plugin_descriptor;
#define P (&earshot_plugin_descriptor)

static FuzzHost host;

/* ---- calls --------------------------------------------------------------------------------------
 */

static void build(void *state, uint32_t feed, const char *cursor, const char *page) {
        struct earshot_request req;

        fuzz_request_init(&req);
        int r = P->source->build_request(state, feed, cursor, page, &req);
        if (r < 0 && r != -ENOMEM)
                abort();
        fuzz_request_done(&req);
}

static void parse(void *state, uint32_t feed, const char *cursor, const char *page,
                  const uint8_t *body, size_t len) {
        struct earshot_response resp = fuzz_response(body, len, NULL);
        struct earshot_sink sink;

        build(state, feed, cursor, page);
        fuzz_sink_init(&sink);
        int r = P->source->parse_response(state, feed, cursor, page, &resp, &sink);
        if (r < 0 && r != -EBADMSG && r != -ENOMEM)
                abort();
        if (r > 0 && r != EARSHOT_MORE)
                abort();
        if (r == EARSHOT_MORE && sink.n_page != 1)
                abort();
        fuzz_sink_done(&sink);
}

static void errors(void *state, uint32_t feed, const char *cursor, const char *page,
                   const uint8_t *body, size_t len) {
        build(state, feed, cursor, page);
        fuzz_parse_errors(P->source, state, feed, cursor, page, body, len);
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

#define SESSION                                                                                    \
        "{\"pds\":\"https://pds.example\",\"id\":\"acme.bsky.social\",\"access\":\"a.b.c\","       \
        "\"access_exp\":1785596400000000,\"refresh\":\"r.s.t\",\"refresh_exp\":1790000000000000}"
#define CURSOR "1785590000000000 at://did:plc:x/app.bsky.feed.post/abc"

static void helpers(const char *text, size_t size) {
        int64_t exp;
        (void)bsky_jwt_exp(text, &exp);

        cJSON *facets = cJSON_ParseWithLength(text, size);
        char *s = bsky_text_expand(text, cJSON_GetObjectItem(facets, "facets"));
        free(s);
        s = bsky_text_expand(text, facets);
        free(s);
        cJSON_Delete(facets);

        Profiles p = {0}, q = {0};
        if (profiles_load(&p, text, 0) == 0) {
                char *f = profiles_format(&p);
                if (f) {
                        if (strlen(f) > PROFILES_BYTES_MAX)
                                abort();
                        if (profiles_load(&q, f, 0) == 0 && q.n > p.n)
                                abort();
                        free(f);
                }
        }
        profiles_done(&p);
        profiles_done(&q);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static void *state, *small;

        if (!state) {
                static const char *const settings[] = {
                        "pds=https://pds.example",          "identifier=acme.bsky.social",
                        "app_password=abcd-efgh-ijkl-mnop", "queries=acme",
                        "accounts=bob.example.com",         NULL};
                static const char *const settings_small[] = {"pds=https://pds.example",
                                                             "identifier=acme.bsky.social",
                                                             "app_password=abcd-efgh-ijkl-mnop",
                                                             "queries=acme",
                                                             "accounts=bob.example.com",
                                                             "limit=2",
                                                             "max_pages=2",
                                                             "lang=en",
                                                             NULL};

                fuzz_host_init(&host);
                state = create(settings);
                small = create(settings_small);
        }
        uint8_t *body = malloc(size + 1);
        if (!body)
                return 0;
        memcpy(body, data, size);
        body[size] = 0;

        helpers((const char *)body, size);
        for (int k = 0; k < 2; k++) {
                void *s = k == 0 ? state : small;

                /* a login and a refresh answered with the input */
                (void)host.host.state_set(&host.host, "session", NULL, 0);
                parse(s, 0, NULL, NULL, body, size);
                (void)host.host.state_set(&host.host, "session", SESSION, 0);
                parse(s, 0, NULL, "R P 1 - - - - -", body, size);
                /* pages and lookups, with a session that works */
                (void)host.host.state_set(&host.host, "session", SESSION, 0);
                for (uint32_t feed = 0; feed < 2; feed++) {
                        parse(s, feed, NULL, NULL, body, size);
                        parse(s, feed, CURSOR, NULL, body, size);
                        parse(s, feed, "garbage", NULL, body, size);
                        parse(s, feed, CURSOR,
                              "P P 2 p 1785591000000000 "
                              "at://did:plc:y/app.bsky.feed.post/d 25 -",
                              body, size);
                        parse(s, feed, CURSOR, "F F 1 l - - - did:plc:a,did:web:b.example", body,
                              size);
                }
                if (k == 0) {
                        (void)host.host.state_set(&host.host, "session", NULL, 0);
                        errors(s, 0, NULL, NULL, body, size);
                        (void)host.host.state_set(&host.host, "session", SESSION, 0);
                        errors(s, 0, NULL, "R P 1 - - - - -", body, size);
                        errors(s, 0, CURSOR, "P P 2 r - - 25 -", body, size);
                        errors(s, 1, CURSOR, "F F 1 - - - - did:plc:a", body, size);
                }
        }
        free(body);
        return 0;
}
