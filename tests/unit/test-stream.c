/* SPDX-License-Identifier: MIT */
/*
 * test-stream.c - the server-sent events parser: fields, comments, multi-line data, every line
 * end (LF, CRLF, CR), chunks split at every byte position (the same events whatever the split),
 * events past the size limit dropped once, a leading BOM skipped, and Mastodon's documented
 * example stream read into the events it holds.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "stream.h"

#define TEST(n, f)                                                                                 \
        { .name = (n), .test_func = (f) }

#define MAX_GOT 64

/* What the parser handed out, copied. */
typedef struct Got {
        size_t n;
        char *event[MAX_GOT];
        char *data[MAX_GOT];
        size_t len[MAX_GOT];
        char *id[MAX_GOT];
        bool dropped[MAX_GOT];
        int stop_at; /* return an error at this event (1-based); 0 = never */
} Got;

static int collect(const SseEvent *ev, void *userdata) {
        Got *g = userdata;
        assert_true(g->n < MAX_GOT);
        size_t i = g->n++;
        g->event[i] = ev->event ? strdup(ev->event) : NULL;
        g->dropped[i] = ev->dropped;
        if (!ev->dropped) {
                assert_non_null(ev->data);
                assert_int_equal(strlen(ev->data), ev->len); /* NUL-terminated, no NUL inside */
                g->data[i] = strdup(ev->data);
        }
        g->len[i] = ev->len;
        g->id[i] = ev->id ? strdup(ev->id) : NULL;
        if (g->stop_at > 0 && (size_t)g->stop_at == g->n)
                return -ECANCELED;
        return 0;
}

static void got_done(Got *g) {
        for (size_t i = 0; i < g->n; i++) {
                free(g->event[i]);
                free(g->data[i]);
                free(g->id[i]);
        }
        *g = (Got){};
}

/* Feed a whole stream in chunks cut at the given positions (ascending, < len). */
static void feed_split(const char *s, size_t len, const size_t *cuts, size_t n_cuts,
                       size_t max_event, Got *g, SseParser *keep) {
        SseParser p;
        size_t at = 0;

        sse_parser_init(&p, max_event);
        for (size_t k = 0; k <= n_cuts; k++) {
                size_t end = k < n_cuts ? cuts[k] : len;
                assert_int_equal(sse_parser_feed(&p, s + at, end - at, collect, g), 0);
                at = end;
        }
        if (keep)
                *keep = p;
        else
                sse_parser_done(&p);
}

static void feed_all(const char *s, size_t max_event, Got *g) {
        feed_split(s, strlen(s), NULL, 0, max_event, g, NULL);
}

static void assert_same(const Got *a, const Got *b) {
        assert_int_equal(a->n, b->n);
        for (size_t i = 0; i < a->n; i++) {
                assert_true(a->dropped[i] == b->dropped[i]);
                if (a->event[i] || b->event[i])
                        assert_string_equal(a->event[i], b->event[i]);
                if (a->data[i] || b->data[i])
                        assert_string_equal(a->data[i], b->data[i]);
                assert_int_equal(a->len[i], b->len[i]);
                if (a->id[i] || b->id[i])
                        assert_string_equal(a->id[i], b->id[i]);
        }
}

static void test_fields(void **state) {
        Got g = {};
        SseParser p;

        feed_split("event: update\nid: 7\nretry: 3000\nfoo: bar\ndata: {\"a\": 1}\n\n"
                   "data:no space\ndata:  two spaces\n\n",
                   strlen("event: update\nid: 7\nretry: 3000\nfoo: bar\ndata: {\"a\": 1}\n\n"
                          "data:no space\ndata:  two spaces\n\n"),
                   NULL, 0, SSE_MAX_EVENT, &g, &p);
        assert_int_equal(g.n, 2);
        assert_string_equal(g.event[0], "update");
        assert_string_equal(g.data[0], "{\"a\": 1}");
        assert_string_equal(g.id[0], "7");
        /* the event type is per event; the last event id stays */
        assert_null(g.event[1]);
        assert_string_equal(g.data[1], "no space\n two spaces");
        assert_string_equal(g.id[1], "7");
        assert_int_equal(p.retry_ms, 3000);
        sse_parser_done(&p);
        got_done(&g);
}

static void test_multiline_and_empty(void **state) {
        Got g = {};

        /* data lines joined by LF, the last LF removed; "data" alone is an empty line */
        feed_all("data: a\ndata\ndata: b\n\ndata\n\nevent: nodata\n\nevent: x\ndata: y\n\n",
                 SSE_MAX_EVENT, &g);
        assert_int_equal(g.n, 3);
        assert_string_equal(g.data[0], "a\n\nb");
        assert_string_equal(g.data[1], "");
        assert_int_equal(g.len[1], 0);
        /* an event without data is not dispatched, and its type does not leak into the next */
        assert_string_equal(g.event[2], "x");
        assert_string_equal(g.data[2], "y");
        got_done(&g);
}

static void test_comments(void **state) {
        Got g = {};
        SseParser p;
        const char *s = ":thump\n\n:)\nevent: update\n: inside an event\ndata: 1\n\n:thump\n";

        feed_split(s, strlen(s), NULL, 0, SSE_MAX_EVENT, &g, &p);
        assert_int_equal(g.n, 1);
        assert_string_equal(g.event[0], "update");
        assert_string_equal(g.data[0], "1");
        assert_int_equal(p.comments, 4);
        sse_parser_done(&p);
        got_done(&g);
}

static void test_line_ends(void **state) {
        Got lf = {}, crlf = {}, cr = {}, mixed = {};

        feed_all("event: a\ndata: 1\ndata: 2\n\ndata: 3\n\n", SSE_MAX_EVENT, &lf);
        feed_all("event: a\r\ndata: 1\r\ndata: 2\r\n\r\ndata: 3\r\n\r\n", SSE_MAX_EVENT, &crlf);
        feed_all("event: a\rdata: 1\rdata: 2\r\rdata: 3\r\r", SSE_MAX_EVENT, &cr);
        feed_all("event: a\r\ndata: 1\rdata: 2\n\r\ndata: 3\r\n\n", SSE_MAX_EVENT, &mixed);
        assert_int_equal(lf.n, 2);
        assert_string_equal(lf.data[0], "1\n2");
        assert_string_equal(lf.data[1], "3");
        assert_same(&lf, &crlf);
        assert_same(&lf, &cr);
        assert_same(&lf, &mixed);
        got_done(&lf);
        got_done(&crlf);
        got_done(&cr);
        got_done(&mixed);
}

/* Any split into two chunks, and byte by byte, gives the events of the whole. */
static void check_splits(const char *s, size_t len, size_t max_event) {
        Got whole = {};
        feed_split(s, len, NULL, 0, max_event, &whole, NULL);
        for (size_t cut = 1; cut < len; cut++) {
                Got g = {};
                feed_split(s, len, &cut, 1, max_event, &g, NULL);
                assert_same(&whole, &g);
                got_done(&g);
        }
        size_t *cuts = calloc(len, sizeof(size_t));
        assert_non_null(cuts);
        for (size_t i = 1; i < len; i++)
                cuts[i - 1] = i;
        Got bytes = {};
        feed_split(s, len, cuts, len ? len - 1 : 0, max_event, &bytes, NULL);
        assert_same(&whole, &bytes);
        got_done(&bytes);
        free(cuts);
        got_done(&whole);
}

static void test_split_everywhere(void **state) {
        const char *s = "\xEF\xBB\xBF:thump\r\nevent: update\r\ndata: {\"x\":\r\ndata: 1}\r\n\r\n"
                        "event: delete\rdata: 1234\r\revent: status.update\ndata: caf\xC3\xA9\n"
                        "id: 9\n\n:thump\n";
        Got g = {};

        feed_all(s, SSE_MAX_EVENT, &g);
        assert_int_equal(g.n, 3);
        assert_string_equal(g.event[0], "update");
        assert_string_equal(g.data[0], "{\"x\":\n1}");
        assert_string_equal(g.event[1], "delete");
        assert_string_equal(g.data[1], "1234");
        assert_string_equal(g.event[2], "status.update");
        assert_string_equal(g.data[2], "caf\xC3\xA9");
        assert_string_equal(g.id[2], "9");
        got_done(&g);
        check_splits(s, strlen(s), SSE_MAX_EVENT);
        /* and with a limit that drops the first event */
        check_splits(s, strlen(s), 40);
}

static void test_oversize(void **state) {
        Got g = {};
        char big[400];

        /* limit 64: a 200-byte data line, then a small event that must come through */
        memset(big, 'x', 200);
        big[200] = 0;
        char *s = NULL;
        assert_true(asprintf(&s, "event: update\ndata: %s\ndata: more\n\ndata: ok\n\n", big) > 0);
        feed_all(s, 64, &g);
        assert_int_equal(g.n, 2);
        assert_true(g.dropped[0]);
        assert_null(g.data[0]);
        assert_false(g.dropped[1]);
        assert_string_equal(g.data[1], "ok");
        assert_null(g.event[1]);
        got_done(&g);
        check_splits(s, strlen(s), 64);
        free(s);

        /* many small data lines that add up past the limit: dropped too, once */
        assert_true(asprintf(&s, "%s", "") >= 0);
        for (int i = 0; i < 20; i++) {
                char *t = NULL;
                assert_true(asprintf(&t, "%sdata: 0123456789\n", s) > 0);
                free(s);
                s = t;
        }
        char *t = NULL;
        assert_true(asprintf(&t, "%s\ndata: next\n\n", s) > 0);
        free(s);
        feed_all(t, 100, &g);
        assert_int_equal(g.n, 2);
        assert_true(g.dropped[0]);
        assert_string_equal(g.data[1], "next");
        got_done(&g);
        free(t);

        /* the default limit is 1 MiB: just under passes, just over is dropped */
        static char line[SSE_MAX_EVENT + 64];
        size_t n = SSE_MAX_EVENT - strlen("data: ") - 1;
        memcpy(line, "data: ", 6);
        memset(line + 6, 'y', n - 6);
        strcpy(line + n, "\n\n");
        feed_all(line, SSE_MAX_EVENT, &g);
        assert_int_equal(g.n, 1);
        assert_false(g.dropped[0]);
        assert_int_equal(g.len[0], n - 6);
        got_done(&g);
        memset(line + 6, 'y', n + 20 - 6);
        strcpy(line + n + 20, "\n\n");
        feed_all(line, SSE_MAX_EVENT, &g);
        assert_int_equal(g.n, 1);
        assert_true(g.dropped[0]);
        got_done(&g);
}

static void test_bom(void **state) {
        Got g = {};

        feed_all("\xEF\xBB\xBF" "data: x\n\n", SSE_MAX_EVENT, &g);
        assert_int_equal(g.n, 1);
        assert_string_equal(g.data[0], "x");
        got_done(&g);

        /* only at the start: a second BOM is part of the text */
        feed_all("\xEF\xBB\xBF" "data: \xEF\xBB\xBFx\n\n", SSE_MAX_EVENT, &g);
        assert_int_equal(g.n, 1);
        assert_string_equal(g.data[0], "\xEF\xBB\xBFx");
        got_done(&g);

        /* a start that only looks like a BOM is kept: "\xEF" makes "\xEF" "data" no field */
        feed_all("\xEF" "data: x\n\ndata: y\n\n", SSE_MAX_EVENT, &g);
        assert_int_equal(g.n, 1);
        assert_string_equal(g.data[0], "y");
        got_done(&g);

        /* reset (a new connection) expects a BOM again */
        SseParser p;
        sse_parser_init(&p, 0);
        assert_int_equal(sse_parser_feed(&p, "\xEF\xBB\xBF" "data: 1\n\n", 12, collect, &g), 0);
        sse_parser_reset(&p);
        assert_int_equal(sse_parser_feed(&p, "data: 2", 7, collect, &g), 0);
        sse_parser_reset(&p); /* an unfinished event is lost with its connection */
        assert_int_equal(sse_parser_feed(&p, "\xEF\xBB\xBF" "data: 3\n\n", 12, collect, &g), 0);
        sse_parser_done(&p);
        assert_int_equal(g.n, 2);
        assert_string_equal(g.data[0], "1");
        assert_string_equal(g.data[1], "3");
        got_done(&g);
}

static void test_callback_error_stops(void **state) {
        Got g = {.stop_at = 2};
        SseParser p;

        sse_parser_init(&p, 0);
        assert_int_equal(sse_parser_feed(&p, "data: 1\n\ndata: 2\n\ndata: 3\n\n", 27, collect, &g),
                         -ECANCELED);
        sse_parser_done(&p);
        assert_int_equal(g.n, 2);
        got_done(&g);
}

static char *read_fixture(const char *name, size_t *ret_len) {
        char path[1024];
        snprintf(path, sizeof(path), "%s/mastodon/%s", TEST_FIXTURES, name);
        FILE *f = fopen(path, "rb");
        assert_non_null(f);
        assert_int_equal(fseek(f, 0, SEEK_END), 0);
        long n = ftell(f);
        assert_true(n > 0);
        rewind(f);
        char *b = malloc((size_t)n + 1);
        assert_non_null(b);
        assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
        b[n] = 0;
        fclose(f);
        *ret_len = (size_t)n;
        return b;
}

static void test_mastodon_examples(void **state) {
        size_t len;
        char *s = read_fixture("streaming-examples.sse", &len);
        Got g = {};
        SseParser p;
        unsigned updates = 0, deletes = 0, edits = 0;

        feed_split(s, len, NULL, 0, SSE_MAX_EVENT, &g, &p);
        /* the file: one heartbeat, 26 events (grep -c '^event:') */
        assert_int_equal(g.n, 26);
        assert_int_equal(p.comments, 1);
        for (size_t i = 0; i < g.n; i++) {
                assert_non_null(g.event[i]);
                updates += strcmp(g.event[i], "update") == 0;
                edits += strcmp(g.event[i], "status.update") == 0;
                if (strcmp(g.event[i], "delete") == 0) {
                        deletes++;
                        assert_true(strspn(g.data[i], "0123456789") == g.len[i]);
                }
        }
        assert_int_equal(updates, 7);
        assert_int_equal(deletes, 6);
        assert_int_equal(edits, 6);
        assert_string_equal(g.event[0], "update");
        assert_memory_equal(g.data[0], "{\"id\":\"108914327388663283\"", 26);
        sse_parser_done(&p);

        /* in chunks of 1..4096 bytes, the same */
        for (size_t chunk = 1; chunk <= 4096; chunk *= 4) {
                Got c = {};
                size_t n_cuts = (len - 1) / chunk;
                size_t *cuts = calloc(n_cuts + 1, sizeof(size_t));
                assert_non_null(cuts);
                for (size_t k = 0; k < n_cuts; k++)
                        cuts[k] = (k + 1) * chunk;
                feed_split(s, len, cuts, n_cuts, SSE_MAX_EVENT, &c, NULL);
                assert_same(&g, &c);
                got_done(&c);
                free(cuts);
        }
        got_done(&g);
        free(s);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                TEST("stream/sse-fields", test_fields),
                TEST("stream/sse-multiline-and-empty", test_multiline_and_empty),
                TEST("stream/sse-comments", test_comments),
                TEST("stream/sse-line-ends", test_line_ends),
                TEST("stream/sse-split-everywhere", test_split_everywhere),
                TEST("stream/sse-oversize", test_oversize),
                TEST("stream/sse-bom", test_bom),
                TEST("stream/sse-callback-error-stops", test_callback_error_stops),
                TEST("stream/sse-mastodon-examples", test_mastodon_examples),
        };

        return cmocka_run_group_tests_name("stream", tests, NULL, NULL);
}
