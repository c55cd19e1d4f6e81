/* SPDX-License-Identifier: MIT */
/*
 * stream.h - feeds that also listen: one long-lived HTTP request per feed whose plugin offers a
 * stream (stream_request), answered with server-sent events, each handed to parse_event() and
 * committed as a poll's response is. The feed is still polled on its schedule, and at once after
 * every (re)connect, so what came while the stream was down arrives over REST.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- server-sent events (WHATWG HTML, "Server-sent events", the event stream format) -------- */

/* The largest event kept (its data and field lines); a larger one is dropped whole. */
#define SSE_MAX_EVENT (1u << 20)

typedef struct SseEvent {
        const char *event; /* the event: field, NULL when the event had none */
        const char *data;  /* data: lines joined by "\n", NUL-terminated; NULL when dropped */
        size_t len;        /* of data, without the NUL */
        const char *id;    /* the last event id: field seen so far, NULL when none */
        bool dropped;      /* the event passed the size limit and was discarded */
} SseEvent;

/* One complete event. A negative return stops sse_parser_feed(), which returns it. */
typedef int (*SseEventFunc)(const SseEvent *ev, void *userdata);

typedef struct SseParser {
        size_t max_event;
        char *line;          /* owned: the line being read */
        size_t line_len, line_cap;
        size_t line_seen;    /* bytes of that line read, kept or (oversize) not */
        char *data;          /* owned: the event's data lines, each followed by "\n" */
        size_t data_len, data_cap;
        char *event;         /* owned: the event's event: field, or NULL */
        char *id;            /* owned: the last event id: field, or NULL (kept across events) */
        int64_t retry_ms;    /* the last retry: field, -1 when none */
        unsigned bom;        /* bytes of a leading UTF-8 BOM matched; 4 = past the start */
        bool cr;             /* the last byte was CR: a LF right after it ends no line */
        bool oversize;       /* the event passed max_event: discarded at its end */
        uint64_t comments;   /* comment lines (heartbeats) seen */
} SseParser;

void sse_parser_init(SseParser *p, size_t max_event);
void sse_parser_done(SseParser *p);
/* Back to the start of a stream (a new connection): buffers emptied, last event id kept. */
void sse_parser_reset(SseParser *p);
/*
 * Read the next bytes of a stream, in chunks of any size; cb runs for every complete event
 * (a blank line ends one; events without data are not dispatched, a dropped one is, with
 * dropped set). Returns 0, -ENOMEM, or cb's negative return.
 */
int sse_parser_feed(SseParser *p, const char *buf, size_t len, SseEventFunc cb, void *userdata);

/* ---- streams of feeds ------------------------------------------------------------------------ */

typedef struct Stream Stream;
typedef struct Feed Feed;

/*
 * Start listening to feed f's stream, if its plugin offers one for it: 0 and *ret (connecting
 * now), -EOPNOTSUPP when the feed has none (*ret untouched), or a negative errno (logged).
 */
int stream_start(Feed *f, Stream **ret);
/* Close the connection (if any) and free. NULL is fine. */
Stream *stream_free(Stream *s);
/* A REST poll of the feed ended well (manager.c calls it after the feed's schedule is set). */
void stream_poll_done(Stream *s);
