/* SPDX-License-Identifier: MIT */
/*
 * stream.c - a feed's event stream: one long-lived HTTP request answered with server-sent
 * events (Mastodon's streaming API), kept open in the event loop.
 *
 * The parser follows the event stream format of WHATWG HTML ("Server-sent events"): lines end
 * in LF, CRLF or CR, also when a chunk ends between the CR and the LF; "field: value" with one
 * leading space of the value dropped; event, data, id and retry are the fields, any other is
 * ignored; a line starting with ':' is a comment (servers send them as heartbeats); a blank
 * line ends an event, whose data lines are joined by LF. A leading UTF-8 BOM is skipped. An
 * event that grows past SSE_MAX_EVENT is discarded as it comes (nothing of it is kept) and
 * reported once, when it ends.
 *
 * A stream's life. Connect: the request is the plugin's (stream_request), on an HttpGlue of
 * the stream's own, so a connection that never ends takes nothing from the polls' per-host
 * connection limit. The answer must be 200 with Content-Type text/event-stream; anything else
 * is a failed connect, which the plugin's parse_error() may explain (a refused token blocks the
 * feed: one operator alert, as a poll would raise, and a new try every 15 minutes). Once
 * connected, every event goes to parse_event() and what it yields is committed in one
 * transaction with the code a poll's response goes through. No byte for IDLE_TIMEOUT (heartbeats
 * count) drops the connection. After any drop or failed connect the stream reconnects after a
 * delay drawn from [0, 1 s * 2^n] (full jitter), n counting the failures since a connection
 * that lasted STABLE_AFTER, capped at 5 minutes.
 *
 * Nothing is lost while the stream is down: after every (re)connect the feed is polled at once
 * from its cursor (and it keeps its schedule all along). To keep that true, an event's cursor
 * is committed only once such a catch-up poll, started after the connect, has ended well:
 * until then the stream's posts are committed (and alert) but the cursor stays where REST
 * left it, so that the catch-up still reads everything from there.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http.h"
#include "log.h"
#include "manager.h"
#include "stream.h"
#include "util/cleanup.h"
#include "util/time-util.h"

#define IDLE_TIMEOUT (60 * USEC_PER_SEC)
#define STABLE_AFTER (60 * USEC_PER_SEC)
#define BACKOFF_FIRST USEC_PER_SEC
#define BACKOFF_MAX (5 * USEC_PER_MINUTE)
#define BACKOFF_MIN (100 * USEC_PER_MSEC)
/* a stream the plugin says cannot work until someone acts is tried again this rarely */
#define BLOCKED_RETRY (15 * USEC_PER_MINUTE)
/* a connection that stays up this long is well: its drop is news again */
#define CALM_AFTER (10 * USEC_PER_MINUTE)
/* what is kept of a refused connect's body, for parse_error() */
#define ERROR_BODY_MAX (64u << 10)

/* ---- the event stream parser ----------------------------------------------------------------- */

static const unsigned char BOM[3] = {0xEF, 0xBB, 0xBF};
#define BOM_DONE 4u

void sse_parser_init(SseParser *p, size_t max_event) {
        *p = (SseParser){.max_event = max_event ? max_event : SSE_MAX_EVENT, .retry_ms = -1};
}

void sse_parser_done(SseParser *p) {
        free(p->line);
        free(p->data);
        free(p->event);
        free(p->id);
        *p = (SseParser){.retry_ms = -1};
}

static void event_reset(SseParser *p) {
        p->data_len = 0;
        free(p->event);
        p->event = NULL;
        p->oversize = false;
}

void sse_parser_reset(SseParser *p) {
        event_reset(p);
        p->line_len = p->line_seen = 0;
        p->cr = false;
        p->bom = 0;
}

static int grow(char **buf, size_t *cap, size_t need) {
        if (need <= *cap)
                return 0;
        size_t n = *cap ? *cap : 256;
        while (n < need)
                n *= 2;
        char *b = realloc(*buf, n);
        if (!b)
                return -ENOMEM;
        *buf = b;
        *cap = n;
        return 0;
}

/* What the event holds so far, the line being read included. */
static size_t event_size(const SseParser *p) {
        return p->data_len + p->line_len;
}

/* Append bytes of the line being read, or discard them once the event is too large. */
static int line_append(SseParser *p, const char *s, size_t n) {
        p->line_seen += n;
        if (p->oversize)
                return 0;
        if (event_size(p) + n > p->max_event) {
                p->oversize = true;
                p->data_len = p->line_len = 0; /* nothing of it is kept */
                return 0;
        }
        int r = grow(&p->line, &p->line_cap, p->line_len + n + 1);
        if (r < 0)
                return r;
        memcpy(p->line + p->line_len, s, n);
        p->line_len += n;
        return 0;
}

static int dispatch(SseParser *p, SseEventFunc cb, void *userdata) {
        int r = 0;

        if (p->oversize) {
                SseEvent ev = {.event = p->event, .id = p->id, .dropped = true};
                r = cb(&ev, userdata);
        } else if (p->data_len > 0) {
                /* every data line added a LF: the last one goes */
                p->data[--p->data_len] = 0;
                SseEvent ev = {.event = p->event, .data = p->data, .len = p->data_len,
                               .id = p->id};
                r = cb(&ev, userdata);
        }
        event_reset(p);
        return r < 0 ? r : 0;
}

static int set_string(char **dst, const char *v, size_t n) {
        char *s = strndup(v, n);
        if (!s)
                return -ENOMEM;
        free(*dst);
        *dst = s;
        return 0;
}

/* One complete line (without its end), in p->line. */
static int line_done(SseParser *p, SseEventFunc cb, void *userdata) {
        const char *line = p->line, *value;
        size_t len = p->line_len, name_len, value_len;
        int r = 0;

        bool blank = p->line_seen == 0;
        p->line_len = p->line_seen = 0;
        if (blank)
                return dispatch(p, cb, userdata);
        if (p->oversize)
                return 0;
        if (line[0] == ':') {
                p->comments++;
                return 0;
        }
        const char *colon = memchr(line, ':', len);
        if (colon) {
                name_len = (size_t)(colon - line);
                value = colon + 1;
                value_len = len - name_len - 1;
                if (value_len > 0 && value[0] == ' ') {
                        value++;
                        value_len--;
                }
        } else {
                name_len = len;
                value = "";
                value_len = 0;
        }

        if (name_len == 4 && memcmp(line, "data", 4) == 0) {
                /* the line buffer held these bytes, so they fit the event's budget */
                r = grow(&p->data, &p->data_cap, p->data_len + value_len + 2);
                if (r < 0)
                        return r;
                memmove(p->data + p->data_len, value, value_len);
                p->data_len += value_len;
                p->data[p->data_len++] = '\n';
                p->data[p->data_len] = 0;
        } else if (name_len == 5 && memcmp(line, "event", 5) == 0)
                r = set_string(&p->event, value, value_len);
        else if (name_len == 2 && memcmp(line, "id", 2) == 0) {
                if (!memchr(value, 0, value_len)) /* an id with NUL is ignored */
                        r = set_string(&p->id, value, value_len);
        } else if (name_len == 5 && memcmp(line, "retry", 5) == 0) {
                int64_t v = 0;
                size_t i = 0;
                for (; i < value_len && i < 12 && value[i] >= '0' && value[i] <= '9'; i++)
                        v = v * 10 + (value[i] - '0');
                if (value_len > 0 && i == value_len)
                        p->retry_ms = v;
        }
        /* any other field is ignored */
        return r;
}

int sse_parser_feed(SseParser *p, const char *buf, size_t len, SseEventFunc cb, void *userdata) {
        size_t i = 0;
        int r;

        /* a BOM at the very start, possibly split over chunks */
        while (p->bom < BOM_DONE && i < len) {
                if (p->bom < sizeof(BOM) && (unsigned char)buf[i] == BOM[p->bom]) {
                        i++;
                        if (++p->bom == sizeof(BOM))
                                p->bom = BOM_DONE;
                        continue;
                }
                /* not a BOM after all: what matched of it is text */
                unsigned matched = p->bom;
                p->bom = BOM_DONE;
                if (matched > 0) {
                        r = line_append(p, (const char *)BOM, matched);
                        if (r < 0)
                                return r;
                }
        }

        while (i < len) {
                if (p->cr && buf[i] == '\n') {
                        /* the LF of a CRLF whose CR ended the line */
                        p->cr = false;
                        i++;
                        continue;
                }
                p->cr = false;
                size_t start = i;
                while (i < len && buf[i] != '\n' && buf[i] != '\r')
                        i++;
                r = line_append(p, buf + start, i - start);
                if (r < 0)
                        return r;
                if (i == len)
                        break; /* the line goes on in the next chunk */
                p->cr = buf[i] == '\r';
                i++;
                if (p->line)
                        p->line[p->line_len] = 0;
                r = line_done(p, cb, userdata);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* ---- streams --------------------------------------------------------------------------------- */

typedef enum StreamPhase {
        STREAM_WAITING,    /* for the time to (re)connect */
        STREAM_CONNECTING, /* the request is out, no answer yet */
        STREAM_LIVE,       /* 200 text/event-stream: events flow */
        STREAM_REFUSED,    /* answered otherwise: reading the body for parse_error() */
} StreamPhase;

typedef enum CatchUp {
        CATCHUP_NONE,    /* not connected: events' cursors are not committed */
        CATCHUP_BEHIND,  /* connected while a poll was under way: poll again when it ends */
        CATCHUP_POLLING, /* the poll after the connect is due or running */
        CATCHUP_DONE,    /* it ended well: events' cursors are committed */
} CatchUp;

struct Stream {
        Feed *feed;                 /* borrowed: the owner (Feed::stream) */
        HttpGlue *glue;             /* owned */
        HttpCall *call;             /* the connection, or NULL */
        struct earshot_request req; /* owned: the request of the connection */
        sd_event_source *timer;     /* owned: reconnect when waiting, idle check when open */
        SseParser sse;
        StreamPhase phase;
        CatchUp catchup;
        char *body;                 /* owned: the body of a refused connect (bounded) */
        size_t body_len;
        int status;                 /* of the answer */
        char ctype[96];             /* its Content-Type, for the log */
        char reason[512];           /* why the connection ended, when we ended it */
        bool blocked;               /* the plugin said the stream cannot work (parse_event) */
        bool blocked_reported;      /* the operator alert for this episode is out */
        bool told;                  /* the last drop was logged: so is the next connect */
        usec_t connected_at;        /* CLOCK_MONOTONIC */
        usec_t last_byte;           /* CLOCK_MONOTONIC */
        unsigned failures;          /* drops and failed connects since a stable connection */
        Complaint complaint;
        uint64_t events;            /* events of this connection */
};

static const char *prefix_of(const Stream *s) {
        return s->feed->source->prefix;
}

static void stream_arm(Stream *s, usec_t delay);

/* The delay before the next connect: [0, 1 s * 2^(failures-1)], capped, at least a little. */
static usec_t reconnect_delay(unsigned failures, int64_t retry_ms) {
        usec_t cap = BACKOFF_FIRST;
        for (unsigned i = 1; i < failures && cap < BACKOFF_MAX; i++)
                cap *= 2;
        if (cap > BACKOFF_MAX)
                cap = BACKOFF_MAX;
        usec_t d = (usec_t)(((double)rand() / ((double)RAND_MAX + 1.0)) * (double)(cap + 1));
        /* the server's retry: field is a floor, within reason */
        usec_t least = retry_ms > 0 ? (usec_t)retry_ms * USEC_PER_MSEC : 0;
        if (least > BACKOFF_MAX)
                least = BACKOFF_MAX;
        if (least > d)
                d = least;
        return d < BACKOFF_MIN ? BACKOFF_MIN : d;
}

/* The connection is over (already freed or never made): log why, wait, connect again. */
static void stream_dropped(Stream *s, const char *why, bool blocked) {
        usec_t now = now_usec(CLOCK_MONOTONIC);
        bool was_live = s->phase == STREAM_LIVE;
        char d[32];

        if (was_live && now - s->connected_at >= STABLE_AFTER)
                s->failures = 0;
        if (was_live && now - s->connected_at >= CALM_AFTER)
                (void)complaint_release(&s->complaint);
        s->failures++;
        s->phase = STREAM_WAITING;
        s->catchup = CATCHUP_NONE;
        s->call = NULL;
        http_request_done(&s->req);
        free(s->body);
        s->body = NULL;
        s->body_len = 0;

        usec_t delay = reconnect_delay(s->failures, s->sse.retry_ms);
        if (blocked && delay < BLOCKED_RETRY)
                delay = BLOCKED_RETRY;
        s->told = complaint_fail(&s->complaint, why);
        if (s->told)
                (void)log_full_errno(blocked ? LOG_ERR : LOG_WARNING, 0,
                                     "%s feed %s: stream %s (%s), reconnecting in %s",
                                     prefix_of(s), s->feed->key,
                                     was_live ? "dropped" : "failed to connect", why,
                                     format_duration(d, sizeof(d), delay));
        else
                log_debug("%s feed %s: stream %s (%s), reconnecting in %s (failure %u)",
                          prefix_of(s), s->feed->key, was_live ? "dropped" : "failed to connect",
                          why, format_duration(d, sizeof(d), delay), s->failures);
        if (blocked && !s->blocked_reported) {
                s->blocked_reported = true;
                feed_stream_blocked(s->feed, why);
        }
        stream_arm(s, delay);
}

/* The answer, once its headers are complete: a stream, or a refusal to read to its end. */
static void stream_answered(Stream *s, int status, char *const *headers) {
        const char *ctype = NULL;
        size_t n = strlen("Content-Type");

        for (char *const *h = headers; h && *h; h++)
                if (strncasecmp(*h, "Content-Type", n) == 0 && (*h)[n] == ':') {
                        ctype = *h + n + 1;
                        ctype += strspn(ctype, " \t");
                }
        s->status = status;
        snprintf(s->ctype, sizeof(s->ctype), "%s", ctype ? ctype : "");
        for (char *c = s->ctype; *c; c++)
                if ((unsigned char)*c < 0x20 || *c == 0x7f)
                        *c = ' ';
        size_t tl = strlen("text/event-stream");
        bool sse = ctype && strncasecmp(ctype, "text/event-stream", tl) == 0 &&
                   (ctype[tl] == 0 || ctype[tl] == ';' || ctype[tl] == ' ');
        if (status != 200 || !sse) {
                s->phase = STREAM_REFUSED;
                return;
        }

        s->phase = STREAM_LIVE;
        s->connected_at = now_usec(CLOCK_MONOTONIC);
        s->events = 0;
        s->blocked = false;
        s->blocked_reported = false;
        sse_parser_reset(&s->sse);
        if (s->complaint.failures == 0 || s->told)
                log_info("%s feed %s: stream connected%s", prefix_of(s), s->feed->key,
                         s->told ? " again" : "");
        else
                log_debug("%s feed %s: stream connected (after %u failures)", prefix_of(s),
                          s->feed->key, s->failures);
        s->told = false;
        /* what came while it was down comes over REST, from the committed cursor */
        s->catchup = feed_poll_now(s->feed) < 0 ? CATCHUP_BEHIND : CATCHUP_POLLING;
}

void stream_poll_done(Stream *s) {
        if (!s)
                return;
        switch (s->catchup) {
        case CATCHUP_BEHIND:
                /* that poll began before the connect: one more, from now */
                s->catchup = feed_poll_now(s->feed) < 0 ? CATCHUP_BEHIND : CATCHUP_POLLING;
                break;
        case CATCHUP_POLLING:
                s->catchup = CATCHUP_DONE;
                log_debug("%s feed %s: caught up over REST; the stream carries the cursor",
                          prefix_of(s), s->feed->key);
                break;
        default:
                break;
        }
}

static int on_event(const SseEvent *ev, void *userdata) {
        Stream *s = userdata;
        char err[480] = "";

        if (ev->dropped) {
                log_warning("%s feed %s: dropped a stream event of more than %zu bytes%s%s",
                            prefix_of(s), s->feed->key, s->sse.max_event,
                            ev->event ? " of type " : "", ev->event ? ev->event : "");
                return 0;
        }
        s->events++;
        int r = feed_stream_event(s->feed, ev->event, ev->data, ev->len,
                                  s->catchup == CATCHUP_DONE, err, sizeof(err));
        if (r == EARSHOT_RETRY || r == EARSHOT_BLOCKED) {
                s->blocked = r == EARSHOT_BLOCKED;
                snprintf(s->reason, sizeof(s->reason), "%s",
                         *err ? err : "the plugin ended the stream");
                return -ECONNABORTED;
        }
        if (r == -EIO) {
                /* not committed: drop, and the catch-up poll after the reconnect brings it */
                snprintf(s->reason, sizeof(s->reason), "cannot write to the store: %s", err);
                return -ECONNABORTED;
        }
        if (r < 0)
                log_debug("%s feed %s: skipped a stream event%s%s: %s", prefix_of(s),
                          s->feed->key, ev->event ? " of type " : "",
                          ev->event ? ev->event : "",
                          r == -EBADMSG ? "malformed" : strerror(-r));
        return 0;
}

static int on_data(int status, char *const *headers, const char *data, size_t len,
                   void *userdata) {
        Stream *s = userdata;

        s->last_byte = now_usec(CLOCK_MONOTONIC);
        if (!data) {
                /* a header block ended: a redirect's or an interim one goes by */
                if (status / 100 == 1 || (status / 100 == 3 && s->phase == STREAM_CONNECTING))
                        return 0;
                if (s->phase == STREAM_CONNECTING)
                        stream_answered(s, status, headers);
                return 0;
        }
        if (s->phase == STREAM_CONNECTING)
                stream_answered(s, status, headers);
        if (s->phase == STREAM_REFUSED) {
                /* keep the start of the body for parse_error(); a refusal that goes on and
                 * on is cut */
                size_t room = ERROR_BODY_MAX - s->body_len;
                size_t n = len < room ? len : room;
                char *b = realloc(s->body, s->body_len + n + 1);
                if (!b)
                        return -ENOMEM;
                s->body = b;
                memcpy(s->body + s->body_len, data, n);
                s->body_len += n;
                s->body[s->body_len] = 0;
                return n < len ? -EFBIG : 0;
        }
        if (s->phase != STREAM_LIVE)
                return 0;
        return sse_parser_feed(&s->sse, data, len, on_event, s);
}

/* A refused connect: the plugin's words for it when it has some, else the status and body. */
static void stream_refused(Stream *s, const HttpResponse *resp) {
        char why[700], err[480] = "", body[121];
        size_t bl = 0;
        int r;

        struct earshot_response view;
        http_response_view(resp, &view);
        view.status = s->status;
        view.body = s->body ? s->body : "";
        view.body_len = s->body_len;

        if (s->status == 200) {
                snprintf(why, sizeof(why), "%s answered 200 with Content-Type '%s', not "
                         "text/event-stream", s->req.url, s->ctype);
                stream_dropped(s, why, false);
                return;
        }
        r = feed_stream_refused(s->feed, &view, err, sizeof(err));
        if ((r == EARSHOT_RETRY || r == EARSHOT_BLOCKED) && *err) {
                snprintf(why, sizeof(why), "%s (HTTP %d)", err, s->status);
                stream_dropped(s, why, r == EARSHOT_BLOCKED);
                return;
        }
        for (size_t i = 0; i < s->body_len && bl + 1 < sizeof(body); i++)
                body[bl++] = s->body[i] >= 0x20 && s->body[i] < 0x7f ? s->body[i] : ' ';
        body[bl] = 0;
        snprintf(why, sizeof(why), "HTTP %d%s%s%s", s->status, bl ? ": \"" : "", body,
                 bl ? "\"" : "");
        stream_dropped(s, why, r == EARSHOT_BLOCKED);
}

static void on_done(HttpCall *call, const HttpResponse *resp, void *userdata) {
        Stream *s = userdata;
        char why[700];

        s->call = NULL;
        if (s->phase == STREAM_REFUSED && (resp->result == CURLE_OK || !*s->reason)) {
                stream_refused(s, resp);
                return;
        }
        if (*s->reason)
                snprintf(why, sizeof(why), "%s", s->reason);
        else if (resp->result != CURLE_OK)
                snprintf(why, sizeof(why), "%s", resp->error ? resp->error : "transfer failed");
        else if (s->phase == STREAM_LIVE)
                snprintf(why, sizeof(why), "the server closed the connection");
        else
                snprintf(why, sizeof(why), "HTTP %d without a stream", resp->status);
        stream_dropped(s, why, s->blocked);
}

static void stream_connect(Stream *s) {
        Feed *f = s->feed;
        Source *src = f->source;
        Manager *m = src->manager;
        const struct earshot_source_ops *ops = src->cfg->plugin->desc->source;
        _cleanup_free_ char *cursor = NULL;
        bool known;
        int r;

        http_request_done(&s->req);
        *s->reason = 0;
        s->blocked = false;
        s->status = 0;
        r = store_feed_get(m->store, f->key, &cursor, &known);
        if (r >= 0)
                r = ops->stream_request(src->state, f->index, cursor, &s->req);
        if (r >= 0 && !s->req.url)
                r = -EINVAL;
        if (r >= 0 && !http_request_has_header(&s->req, "Accept"))
                r = http_request_add_header(&s->req, "Accept", "text/event-stream");
        if (r < 0) {
                s->phase = STREAM_WAITING;
                stream_dropped(s, r == -EOPNOTSUPP ? "the plugin no longer offers a stream"
                                                   : "the plugin could not build the request",
                               false);
                return;
        }
        HttpOptions o = {
                .connect_timeout = m->inst.config->http_connect_timeout,
                .user_agent = m->inst.config->user_agent,
                .ca_file = m->inst.config->ca_file,
                .on_data = on_data,
                .data_userdata = s,
                .stream = true,
        };
        s->phase = STREAM_CONNECTING;
        s->last_byte = now_usec(CLOCK_MONOTONIC);
        log_debug("%s feed %s: stream GET %s", prefix_of(s), f->key, s->req.url);
        r = http_start(s->glue, &s->req, &o, on_done, s, &s->call);
        if (r < 0) {
                s->call = NULL;
                snprintf(s->reason, sizeof(s->reason), "cannot start the request: %s",
                         strerror(-r));
                stream_dropped(s, s->reason, false);
                return;
        }
        stream_arm(s, IDLE_TIMEOUT);
}

static int on_timer(sd_event_source *es, uint64_t usec, void *userdata) {
        Stream *s = userdata;
        usec_t now = now_usec(CLOCK_MONOTONIC);

        if (s->feed->source->manager->stopping)
                return 0;
        if (s->phase == STREAM_WAITING) {
                stream_connect(s);
                return 0;
        }
        if (now - s->last_byte < IDLE_TIMEOUT) {
                stream_arm(s, s->last_byte + IDLE_TIMEOUT - now);
                return 0;
        }
        /* silence: the server or the path to it is gone without a word */
        http_cancel(s->call);
        s->call = NULL;
        stream_dropped(s, "no data for 60 s", false);
        return 0;
}

static void stream_arm(Stream *s, usec_t delay) {
        usec_t when = now_usec(CLOCK_MONOTONIC) + delay;
        int r;

        if (s->timer) {
                r = sd_event_source_set_time(s->timer, when);
                if (r >= 0)
                        r = sd_event_source_set_enabled(s->timer, SD_EVENT_ONESHOT);
        } else {
                r = sd_event_add_time(s->feed->source->manager->event, &s->timer,
                                      CLOCK_MONOTONIC, when, USEC_PER_SEC / 20, on_timer, s);
                if (r >= 0)
                        (void)sd_event_source_set_description(s->timer, "feed-stream");
        }
        if (r < 0)
                log_error_errno(r, "%s feed %s: cannot arm the stream timer: %s", prefix_of(s),
                                s->feed->key, strerror(-r));
}

int stream_start(Feed *f, Stream **ret) {
        Source *src = f->source;
        Manager *m = src->manager;
        const struct earshot_source_ops *ops = src->cfg->plugin->desc->source;
        struct earshot_request probe = {};
        _cleanup_free_ char *cursor = NULL;
        bool known;
        int r;

        if (!EARSHOT_SOURCE_HAS(ops, stream_request) || !EARSHOT_SOURCE_HAS(ops, parse_event) ||
            !src->state || m->opts.once)
                return -EOPNOTSUPP;
        /* ask once whether this feed has a stream at all */
        r = store_feed_get(m->store, f->key, &cursor, &known);
        if (r < 0)
                return log_error_errno(r, "%s feed %s: cannot read the cursor: %s", src->prefix,
                                       f->key, store_errmsg(m->store));
        r = ops->stream_request(src->state, f->index, cursor, &probe);
        http_request_done(&probe);
        if (r == -EOPNOTSUPP)
                return r;

        Stream *s = calloc(1, sizeof(*s));
        if (!s)
                return log_error_errno(-ENOMEM, "out of memory");
        s->feed = f;
        sse_parser_init(&s->sse, SSE_MAX_EVENT);
        r = http_glue_new(m->event, &s->glue);
        if (r < 0) {
                stream_free(s);
                return log_error_errno(r, "%s feed %s: cannot set up the stream: %s",
                                       src->prefix, f->key, strerror(-r));
        }
        s->phase = STREAM_WAITING;
        stream_connect(s);
        *ret = s;
        return 0;
}

Stream *stream_free(Stream *s) {
        if (!s)
                return NULL;
        http_cancel(s->call);
        http_glue_free(s->glue);
        sd_event_source_disable_unref(s->timer);
        http_request_done(&s->req);
        sse_parser_done(&s->sse);
        free(s->body);
        free(s);
        return NULL;
}
