/* SPDX-License-Identifier: MIT */
/*
 * fuzz-source-reddit.c - libFuzzer target for the Reddit source's response parsers: the input
 * is a response body, read
 *   - without OAuth, as an Atom listing of each feed (r/acme/new, r/acme/comments, a search)
 *     on a first poll, after a cursor and after an unreadable cursor;
 *   - with OAuth (two items a page, three pages at most, so that small inputs reach the
 *     paging code), as a JSON listing on the first page, on a walk's later and last pages,
 *     and as the token endpoint's answer (a login on the poll's first request, and a second
 *     login after a 401);
 *   - as the body of error answers to each (parse_error, see fuzz_parse_errors()).
 * The plugin must return 0, EARSHOT_MORE (with a next page), EARSHOT_BLOCKED (a refused login)
 * or -EBADMSG, never crash or leak, and hand the host only well-formed posts, page tokens and
 * explanations (fuzz-host.c checks them; it also keeps the token the plugin saves).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-host.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

extern const struct earshot_plugin earshot_plugin_descriptor;
#define P (&earshot_plugin_descriptor)

static FuzzHost base;
static struct earshot_host host;

static void check(int r, const struct earshot_sink *sink) {
        if (r < 0 && r != -EBADMSG && r != -ENOMEM)
                abort();
        if (r > 0 && r != EARSHOT_MORE && r != EARSHOT_BLOCKED)
                abort();
        if (r == EARSHOT_MORE && sink->n_page == 0)
                abort();
        if (r == EARSHOT_BLOCKED && (sink->n_error != 1 || sink->n_posts || sink->n_page))
                abort();
}

static void parse(void *state, uint32_t feed, const char *cursor, const char *page,
                  const uint8_t *body, size_t len, const char *url) {
        struct earshot_response resp = fuzz_response(body, len, NULL);
        struct earshot_sink sink;

        if (url)
                resp.url = url;
        fuzz_sink_init(&sink);
        check(P->source->parse_response(state, feed, cursor, page, &resp, &sink), &sink);
        fuzz_sink_done(&sink);
}

static void *create(const char *const *settings) {
        FuzzValues fv;
        char err[256];
        void *state = NULL;

        fuzz_values_build(&fv, P->options, settings);
        if (P->source->create(&host, &fv.vals, err, sizeof(err), &state) < 0)
                abort();
        fuzz_values_done(&fv);
        return state;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static void *rss, *oauth;

        if (!rss) {
                static const char *const settings_rss[] = {"subreddits=acme",
                                                           "searches=acme refund", NULL};
                static const char *const settings_oauth[] = {
                        "subreddits=acme",
                        "searches=acme refund",
                        "client_id=abc",
                        "client_secret=secret",
                        "username=someone",
                        "password=pass",
                        "user_agent=linux:earshot:1.0 (by /u/someone)",
                        "token_url=https://www.reddit.com/api/v1/access_token",
                        "limit=2",
                        "max_pages=3",
                        NULL};

                fuzz_host_init(&base);
                host = base.host;
                rss = create(settings_rss);
                oauth = create(settings_oauth);
        }
        uint8_t *body = malloc(size + 1);
        if (!body)
                return 0;
        memcpy(body, data, size);
        body[size] = 0;

        static const char *const token_url = "https://www.reddit.com/api/v1/access_token";
        for (uint32_t feed = 0; P->source->feed(rss, feed); feed++) {
                parse(rss, feed, NULL, NULL, body, size, NULL);
                parse(rss, feed, "1785592000:3abc,1def", NULL, body, size, NULL);
                parse(rss, feed, "garbage", NULL, body, size, NULL);
                if (feed == 0)
                        fuzz_parse_errors(P->source, rss, feed, NULL, NULL, body, size);
        }
        for (uint32_t feed = 0; P->source->feed(oauth, feed); feed++) {
                parse(oauth, feed, NULL, "1|", body, size, NULL);
                parse(oauth, feed, "1785592000:3abc,1def", "0|", body, size, NULL);
                parse(oauth, feed, "1785592000:3abc", "0|2:t3_abc:1785592100:3abd", body, size,
                      NULL);
                parse(oauth, feed, "1785592000:3abc", "1|3:t3_abc:1785592100:3abd,3abe", body, size,
                      NULL);
                fuzz_state_clear();
                parse(oauth, feed, NULL, NULL, body, size, token_url);
                parse(oauth, feed, NULL, "1|login|2:t3_abc:1785592100:3abd", body, size, NULL);
                if (feed == 0) {
                        fuzz_parse_errors(P->source, oauth, feed, NULL, "0|", body, size);
                        fuzz_parse_errors(P->source, oauth, feed, NULL, "1|login|", body, size);
                }
        }
        free(body);
        return 0;
}
