/* SPDX-License-Identifier: MIT */
/*
 * earshot-plugin.h - the one header an earshot plugin includes.
 *
 * A plugin is a shared module in the plugin directory that exports exactly one
 * symbol, `earshot_plugin_descriptor`, of type `const struct earshot_plugin`.
 * earshotd dlopen()s the module, checks `abi` and `size` before touching anything
 * else, and refuses a module built for another ABI with a message naming the file,
 * the ABI found and the ABI expected.
 *
 * Plugins are pure: they do no I/O, start no threads, keep no globals and never
 * sleep. A source plugin turns (options, cursor) into a request description and a
 * response into posts plus the next cursor. A notifier plugin turns an alert into a
 * request description (or handles it locally, e.g. by logging), and a response into
 * an outcome. The core owns every socket, timer, retry, rate limit and byte of storage.
 *
 * Return values follow one rule everywhere: 0 is success, a positive value is a
 * documented outcome (EARSHOT_*), a negative value is a negative errno and means a
 * bug or a resource failure; the core logs it with the plugin name.
 *
 * Ownership: whatever the core passes in is borrowed for the duration of the call.
 * Whatever the plugin hands to the core (posts, cursors, request parts) is copied by
 * the core before the call returns. A plugin creates and frees its own state.
 *
 * Only fixed-size integer types cross this boundary (no bare enums, no bool), so the
 * ABI does not depend on compiler flags. Every struct that may grow starts with, or
 * carries, a `size` field.
 */
#pragma once

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <strings.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bump on any incompatible change of the structs or callbacks below. */
#define EARSHOT_PLUGIN_ABI 1

/* struct earshot_plugin.kind */
#define EARSHOT_PLUGIN_SOURCE   UINT32_C(1)
#define EARSHOT_PLUGIN_NOTIFIER UINT32_C(2)

/* Outcomes (positive return values). */
#define EARSHOT_DELIVERED 1 /* notifier: the alert reached its destination */
#define EARSHOT_RETRY     2 /* notifier/source: transient failure, try again later */
#define EARSHOT_REJECTED  3 /* notifier: permanent failure, do not retry */
#define EARSHOT_SEND      4 /* notifier: the request was filled in, the core must send it */
#define EARSHOT_MORE      5 /* source: the poll continues with another request at once */
#define EARSHOT_BLOCKED   6 /* source: the feed cannot work until a person acts (a token, a
                             * URL, a server setting); say why with set_error() */

/* Log priorities, as syslog(3) / sd-daemon. */
#define EARSHOT_LOG_ERR     3
#define EARSHOT_LOG_WARNING 4
#define EARSHOT_LOG_NOTICE  5
#define EARSHOT_LOG_INFO    6
#define EARSHOT_LOG_DEBUG   7

/* ---------------------------------------------------------------------------------------------
 * Options: a plugin declares its configuration as data. The core validates the YAML against
 * this table (unknown keys, wrong types, missing required options are reported with
 * file:line:col), resolves secrets and hands the plugin typed values.
 */

#define EARSHOT_OPT_STRING   UINT32_C(1) /* a scalar string */
#define EARSHOT_OPT_INT      UINT32_C(2) /* a decimal integer (int64) */
#define EARSHOT_OPT_BOOL     UINT32_C(3) /* true/false/yes/no */
#define EARSHOT_OPT_DURATION UINT32_C(4) /* "90s", "15m", "1h", "2d"; value in microseconds */
#define EARSHOT_OPT_STRLIST  UINT32_C(5) /* a sequence of strings, or a single string */
#define EARSHOT_OPT_URL      UINT32_C(6) /* an http:// or https:// URL */
#define EARSHOT_OPT_PATH     UINT32_C(7) /* a file path; relative to the config file's folder */

#define EARSHOT_OPT_REQUIRED UINT32_C(1) /* flag: the option must be given */
/*
 * flag: the value is a secret. It is never logged or printed (dumps show "***"). Instead of
 * `NAME: value` the config may say `NAME_file: PATH`; a relative PATH is looked up under
 * $CREDENTIALS_DIRECTORY when systemd provides one. `${ENV_VAR}` works in any string value.
 */
#define EARSHOT_OPT_SECRET UINT32_C(2)

struct earshot_option {
        const char *name;        /* YAML key; NULL ends the table */
        uint32_t type;           /* EARSHOT_OPT_STRING ... */
        uint32_t flags;          /* EARSHOT_OPT_REQUIRED | EARSHOT_OPT_SECRET */
        const char *def;         /* default, written as it would be in YAML; NULL = none */
        const char *description; /* one line, for --describe-plugin */
};

/* One validated option value, as handed to create(). */
struct earshot_value {
        const char *name; /* the option's name */
        uint32_t type;    /* the option's type */
        uint32_t set;     /* 1 when given in the config or by a default */
        const char *str;  /* STRING, URL, and the text of every other type */
        int64_t num;      /* INT, BOOL (0/1), DURATION (microseconds) */
        const char *const *list; /* STRLIST: NULL-terminated */
        size_t n_list;
};

struct earshot_values {
        size_t n;
        const struct earshot_value *v;
};

/* Look up a value by name; NULL if the plugin's table has no such option. */
static inline const struct earshot_value *earshot_value_get(const struct earshot_values *vals,
                                                            const char *name) {
        for (size_t i = 0; i < vals->n; i++)
                if (vals->v[i].name && strcasecmp(vals->v[i].name, name) == 0)
                        return &vals->v[i];
        return NULL;
}

static inline const char *earshot_value_str(const struct earshot_values *vals,
                                            const char *name) {
        const struct earshot_value *v = earshot_value_get(vals, name);
        return v && v->set ? v->str : NULL;
}

static inline int64_t earshot_value_num(const struct earshot_values *vals, const char *name,
                                        int64_t def) {
        const struct earshot_value *v = earshot_value_get(vals, name);
        return v && v->set ? v->num : def;
}

/* ---------------------------------------------------------------------------------------------
 * Requests and responses. A request is built through the host (the core owns it); a response
 * is plain data borrowed for the duration of the parse call.
 */

struct earshot_request; /* opaque, owned by the core */

struct earshot_response {
        uint32_t size;
        int32_t status;            /* HTTP status code */
        const char *url;           /* effective URL */
        const char *body;          /* NUL-terminated for convenience; may contain NULs */
        size_t body_len;
        const char *const *headers; /* "Name: value" lines, NULL-terminated, as received */
        /* Since earshot 0.3 (check size: EARSHOT_RESPONSE_HAS()): */
        int32_t exit_code;         /* request_exec(): the program's exit code; -1 otherwise */
};

/* Whether a response carries a member (cores from before it was added do not). */
#define EARSHOT_RESPONSE_HAS(resp, member)                                                         \
        ((resp)->size >= offsetof(struct earshot_response, member) + sizeof((resp)->member))

/* Case-insensitive header lookup; returns the value with leading blanks skipped. */
static inline const char *earshot_response_header(const struct earshot_response *resp,
                                                  const char *name) {
        size_t n = 0;
        while (name[n])
                n++;
        for (const char *const *h = resp->headers; h && *h; h++)
                if (strncasecmp(*h, name, n) == 0 && (*h)[n] == ':') {
                        const char *v = *h + n + 1;
                        while (*v == ' ' || *v == '\t')
                                v++;
                        return v;
                }
        return NULL;
}

/*
 * The usual reading of an HTTP status for a delivery: 2xx delivered; 408, 425, 429 and 5xx
 * retry; any other status rejected; status 0 (no response: network error, timeout) retry.
 */
static inline int earshot_http_outcome(int32_t status) {
        if (status >= 200 && status < 300)
                return EARSHOT_DELIVERED;
        if (status == 0 || status == 408 || status == 425 || status == 429 || status >= 500)
                return EARSHOT_RETRY;
        return EARSHOT_REJECTED;
}

/* ---------------------------------------------------------------------------------------------
 * Posts (source -> core) and alerts (core -> notifier).
 */

struct earshot_post {
        uint32_t size;             /* sizeof(struct earshot_post) */
        const char *id;            /* required: stable, unique within the network */
        const char *network;       /* required: "mastodon", "bluesky", ... */
        const char *url;           /* link to the post; may be NULL */
        const char *text;          /* required: plain UTF-8 text (HTML already converted) */
        const char *author_handle; /* e.g. "alice@mastodon.social"; may be NULL */
        const char *author_name;   /* display name; may be NULL */
        int64_t author_followers;  /* -1 when unknown */
        const char *lang;          /* BCP 47 / ISO 639-1 as the network says; may be NULL */
        int64_t created_usec;      /* creation time, µs since the epoch; 0 when unknown */
        int64_t replies, reposts, likes; /* engagement; -1 when unknown */
        /* Since earshot 0.2 (the core accepts posts that end before these fields): */
        const char *title;         /* a headline (RSS item, story, review title); may be NULL */
        const char *reply_to;      /* id or URL of the post this one answers; may be NULL */
        int64_t rating;            /* a review's stars (1-5); 0 when not a review */
        int64_t edited_usec;       /* when last edited, µs since the epoch; 0 when never */
};

/* The size of struct earshot_post as first published; the core accepts any size from here. */
#define EARSHOT_POST_SIZE_V1 (offsetof(struct earshot_post, likes) + sizeof(int64_t))

struct earshot_alert {
        uint32_t size;
        const char *id;            /* stable alert id; equal across retries */
        const char *const *rules;  /* names of the rules that matched, NULL-terminated */
        const char *brand;         /* may be NULL */
        const char *severity;      /* "low", "normal", "high", "critical" */
        const char *source;        /* name of the source in the config */
        const struct earshot_post *post; /* never NULL */
        int64_t detected_usec;     /* when earshot detected the post */
        int64_t due_usec;          /* when an answer is due */
        int64_t respond_within_usec;
        const char *event;         /* "new" for a first alert; "escalation-N" for the Nth
                                    * reminder of an unanswered one; "thread" when the author
                                    * posted again about it; "digest" for several alerts in
                                    * one message (a route with `digest:`): post->text lists
                                    * them one per line, post->url and the author are NULL,
                                    * id is the digest's own, stable across retries; "test"
                                    * for a sample from `earshotctl notify-test`; "deleted"
                                    * when the post was deleted at its source */
        /* Since earshot 0.2 (check size: EARSHOT_ALERT_HAS()): */
        const char *message;       /* what this event says, e.g. "overdue by 5m"; may be NULL */
        const char *state;         /* "open", "acknowledged", ... at the time of sending */
        int64_t late_usec;         /* how late the post already was when detected; 0 = in time */
        int64_t posts;             /* posts in the alert's thread (1 = just this one) */
        int64_t copies;            /* accounts that posted the same text (1 = just this one) */
        double priority;           /* higher is more urgent (severity, reach, engagement) */
};

/* Whether an alert carries a member (cores from before it was added do not). */
#define EARSHOT_ALERT_HAS(alert, member)                                                           \
        ((alert)->size >= offsetof(struct earshot_alert, member) + sizeof((alert)->member))

/* ---------------------------------------------------------------------------------------------
 * The host: everything a plugin may ask of the core. Passed to create(), valid until destroy().
 */

struct earshot_sink; /* opaque: collects what a source parse emits */

struct earshot_host {
        uint32_t size; /* sizeof(struct earshot_host) as the core knows it */

        /* Log a message, prefixed by the core with "[source:mastodon:NAME]". */
        void (*log)(const struct earshot_host *host, int priority, const char *format, ...)
                __attribute__((format(printf, 3, 4)));

        /* Current wall-clock time in microseconds since the epoch. */
        int64_t (*now_usec)(const struct earshot_host *host);

        /* Request building. Each call copies its arguments. Return 0 or -ENOMEM. */
        int (*request_url)(struct earshot_request *req, const char *url);
        int (*request_method)(struct earshot_request *req, const char *method);
        int (*request_header)(struct earshot_request *req, const char *name, const char *value);
        int (*request_body)(struct earshot_request *req, const void *body, size_t len);

        /*
         * Source output. emit_post() copies the post; set_cursor() sets the cursor to commit
         * with the posts of this response (NULL keeps the old one); next_page() asks for one
         * more request in the same poll, with the given opaque page token.
         */
        int (*emit_post)(struct earshot_sink *sink, const struct earshot_post *post);
        int (*set_cursor)(struct earshot_sink *sink, const char *cursor);
        int (*next_page)(struct earshot_sink *sink, const char *page);

        /*
         * Turn an HTML fragment into clean plain text: tags dropped, block elements become
         * line breaks, entities decoded, white space collapsed, invalid UTF-8 replaced.
         * Returns a malloc()ed string the caller frees with free(), or NULL on OOM.
         */
        char *(*html_to_text)(const char *html, size_t len);

        /*
         * Parse an RFC 3339 / ISO 8601 timestamp ("2026-08-01T13:55:55.867Z"); returns 0 and
         * the time in µs since the epoch, or -EINVAL.
         */
        int (*parse_time)(const char *s, int64_t *ret_usec);

        /* Format µs since the epoch as RFC 3339 UTC ("2026-08-01T13:55:55.867Z"); len >= 32. */
        const char *(*format_time)(int64_t usec, char *buf, size_t len);

        void *userdata; /* the core's, do not touch */

        /* Since earshot 0.2; check host->size before calling (EARSHOT_HOST_HAS()). */

        /*
         * set_backoff - the server asked, in the body, for a pause (Stack Exchange's
         * "backoff": seconds). The next request of every feed of this source waits at least
         * `usec` from now, whatever its schedule (the feeds of a source ask the same API).
         * 0, or -EINVAL for a negative value.
         */
        int (*set_backoff)(struct earshot_sink *sink, int64_t usec);

        /*
         * report_gap - this poll could not reach back to the cursor (a result window of
         * 1,000 hits, a page cap): posts created between from_usec and to_usec may have been
         * missed. The core records the gap with the feed and time range, logs it and shows it
         * in `earshotctl sources`. `reason` is a short phrase ("1,000-hit window"). 0 or
         * negative errno.
         */
        int (*report_gap)(struct earshot_sink *sink, int64_t from_usec, int64_t to_usec,
                          const char *reason);

        /*
         * set_error - say in one line, for the operator, why this response is a failure and
         * what would fix it ("the hashtag timeline needs an access token: set `token`"). The
         * core logs it and shows it in `earshotctl sources` instead of a generic message.
         * Only meaningful with EARSHOT_RETRY or EARSHOT_BLOCKED. 0 or -ENOMEM.
         */
        int (*set_error)(struct earshot_sink *sink, const char *message);

        /* Since earshot 0.3, for notifiers; check with EARSHOT_HOST_HAS() before calling. */

        /*
         * request_mail - make the request an SMTP submission. The URL is smtp://HOST[:PORT] or
         * smtps://HOST[:PORT]; from is the envelope sender, rcpt the envelope recipients
         * (NULL-terminated, at least one); the body (request_body) is the whole RFC 5322
         * message with CRLF line ends. smtp:// requires STARTTLS unless the request carries
         * EARSHOT_REQ_PLAINTEXT, which the core honours only for a loopback address. 0,
         * -EINVAL or -ENOMEM.
         */
        int (*request_mail)(struct earshot_request *req, const char *from,
                            const char *const *rcpt);

        /* request_login - a user name and password: HTTP Basic authentication, or SMTP AUTH.
         * The password is a secret: the core never logs it. 0 or -ENOMEM. */
        int (*request_login)(struct earshot_request *req, const char *user, const char *password);

        /* request_flags - EARSHOT_REQ_* flags for this request. 0 or -EINVAL. */
        int (*request_flags)(struct earshot_request *req, uint32_t flags);

        /*
         * request_exec - make the request a run of a program instead of a transfer. argv[0]
         * is an absolute path (no shell, no $PATH search); argv is NULL-terminated. The body
         * is written to the program's standard input; its environment holds only PATH, LANG
         * and EARSHOT_ALERT_ID (the alert's id). It is killed (SIGTERM, then SIGKILL 5 s
         * later) when it runs longer than timeout_usec. The response: status 200 when it
         * exits 0, 500 when it exits with another code, 0 when it could not be started, was
         * killed or timed out; exit_code says which code (-1 for none); body holds the first
         * 64 KiB of its standard output and error. 0, -EINVAL or -ENOMEM.
         */
        int (*request_exec)(struct earshot_request *req, const char *const *argv,
                            int64_t timeout_usec);

        /*
         * log_fields - one structured log record: message plus fields as "KEY=value" strings
         * (NULL-terminated; KEY is upper-case letters, digits and '_', not starting with
         * '_'). To the journal with every field when the journal is there, else as a log
         * line "message KEY=value ...". 0, -EINVAL (a bad KEY) or negative errno.
         */
        int (*log_fields)(const struct earshot_host *host, int priority, const char *message,
                          const char *const *fields);

        /* Since earshot 0.3, for sources; check with EARSHOT_HOST_HAS() before calling. */

        /*
         * state_get - a value this source saved with state_set() (a session, a refreshed
         * token, a cache), kept in the store across restarts and reloads; NULL when there is
         * none or it expired. The string stays valid until the next state_set() of the same
         * key, or the end of the plugin's state (destroy()).
         */
        const char *(*state_get)(const struct earshot_host *host, const char *key);

        /*
         * state_set - save a value for this source under key (at most 64 bytes of [A-Za-z0-9_.-]),
         * durably, at once; value NULL forgets it. expires_usec: wall-clock time after which
         * state_get() no longer returns it (0 = never). Values are never logged, so a session
         * token may be kept here (the state directory is private to the daemon). At most
         * 64 KiB per value. 0, -EINVAL or negative errno.
         */
        int (*state_set)(const struct earshot_host *host, const char *key, const char *value,
                         int64_t expires_usec);

        /*
         * post_deleted - the network says a post is gone (Mastodon's `delete` event, Reddit's
         * "[deleted]"/"[removed]"): network and id as the post was emitted. Committed with the
         * response. An alert for it is marked deleted, the team is told (event "deleted"),
         * and its text is dropped from the store (Reddit's terms require it). 0 or -ENOMEM.
         */
        int (*post_deleted)(struct earshot_sink *sink, const char *network, const char *id);
};

/* request_flags() */
#define EARSHOT_REQ_PLAINTEXT UINT32_C(1) /* smtp:// without STARTTLS (loopback servers only) */

/* Whether the host provides a member (hosts from before it was added do not). */
#define EARSHOT_HOST_HAS(host, member)                                                             \
        ((host)->size >= offsetof(struct earshot_host, member) + sizeof((host)->member) &&        \
         (host)->member != NULL)

/*
 * The core follows at most this many requests in one poll (EARSHOT_MORE); a plugin whose
 * max_pages may exceed it must cap it, or its walk is cut short without notice.
 */
#define EARSHOT_MAX_PAGES_PER_POLL 50

/* ---------------------------------------------------------------------------------------------
 * Source plugins.
 *
 * Cursors and walks. Each response is committed on its own, with the cursor set while parsing
 * it. That suits APIs read forward in time (Mastodon's min_id). For APIs that list newest
 * first (Algolia, Lemmy, Discourse, app reviews), a poll walks backwards until it reaches the
 * old cursor: carry the new cursor in the page token and set it only on the walk's last page,
 * so that a walk broken off by a failure restarts from the old cursor instead of leaving a
 * hole; when the walk has to stop early, report_gap() the range it could not reach.
 * The core remembers seen posts for store.seen_retention (30 days by default) after it first
 * saw them: re-emitting a post older than that alerts again, so emit only what is newer than
 * the cursor (plus a short overlap for servers that index late).
 *
 * A source instance serves one or more feeds (e.g. one hashtag on one instance). The core
 * keeps a cursor, a schedule and a failure count per feed, and polls feeds independently, so
 * one dead server does not hold up the others.
 */
struct earshot_source_ops {
        uint32_t size; /* sizeof(struct earshot_source_ops) */

        /*
         * create - validate options and build the plugin's state.
         * ARGUMENTS: host (valid until destroy), vals (borrowed for the call), err/err_len: a
         *   buffer for a one-line error message when the options make no sense together.
         * RETURN VALUE: 0 and *ret_state; -EINVAL with err filled; other negative errno.
         * OWNERSHIP: the plugin owns *ret_state and frees it in destroy().
         */
        int (*create)(const struct earshot_host *host, const struct earshot_values *vals,
                      char *err, size_t err_len, void **ret_state);
        void (*destroy)(void *state);

        /*
         * feed - name of feed number i, or NULL when i is past the last feed. The name is the
         * feed's identity in the store (its cursor is kept under it), so it must be stable
         * across restarts, e.g. "https://mastodon.social#acme".
         * OWNERSHIP: the string is owned by the state.
         */
        const char *(*feed)(void *state, uint32_t i);

        /*
         * build_request - describe the next request for feed i.
         * ARGUMENTS: cursor: the last committed cursor of the feed, NULL before the first
         *   successful poll (every response is committed on its own, so on page N of a poll
         *   this is the cursor set while parsing page N-1, if any); page: NULL for the first
         *   request of a poll, else the token the previous parse passed to next_page().
         *   The method is GET unless request_method() or request_body() (POST) says otherwise.
         * RETURN VALUE: 0 (the request is filled through host->request_*), or negative errno.
         */
        int (*build_request)(void *state, uint32_t i, const char *cursor, const char *page,
                             struct earshot_request *req);

        /*
         * parse_response - turn a response into posts and the next cursor.
         * RETURN VALUE: 0 done; EARSHOT_MORE when next_page() was called; EARSHOT_RETRY when
         *   the response says "try later" (the core honours Retry-After); EARSHOT_BLOCKED when
         *   it says the feed cannot work as configured (see parse_error); -EBADMSG when the
         *   body is malformed (nothing emitted is kept); other negative errno. With
         *   EARSHOT_RETRY and EARSHOT_BLOCKED, nothing emitted is kept either.
         * Everything emitted and the cursor are committed in one transaction, or not at all.
         */
        int (*parse_response)(void *state, uint32_t i, const char *cursor, const char *page,
                              const struct earshot_response *resp, struct earshot_sink *sink);

        /* Since earshot 0.2; the core checks the size (EARSHOT_SOURCE_HAS()). */

        /*
         * parse_error - optional: read a response whose final status is not 2xx (never a 304
         * to a conditional request) before the core counts it as a failed poll. Without it,
         * or when it returns a negative errno, the core reports the status and the start of
         * the body. With it the plugin can
         *   - explain the failure in the network's terms (set_error()) and return
         *     EARSHOT_RETRY (a transient failure: retried with backoff) or EARSHOT_BLOCKED
         *     (nothing changes until a person acts: logged as an error, one operator alert,
         *     retried rarely);
         *   - take a pause the body asks for (set_backoff(): Stack Exchange's throttle
         *     message, Discourse's wait_seconds);
         *   - treat the status as an answer (a 404 from an optional capability check): set
         *     the cursor, emit posts, call next_page() and return 0 or EARSHOT_MORE exactly
         *     as parse_response() would.
         */
        int (*parse_error)(void *state, uint32_t i, const char *cursor, const char *page,
                           const struct earshot_response *resp, struct earshot_sink *sink);

        /* Since earshot 0.3 (streams); the core checks the size (EARSHOT_SOURCE_HAS()). */

        /*
         * stream_request - optional: describe a long-lived request for feed i that answers with
         * server-sent events (text/event-stream), such as Mastodon's streaming API. Return 0
         * when req is filled, -EOPNOTSUPP when this feed has no stream (it is only polled).
         * The core keeps the connection open in its event loop, hands every event to
         * parse_event(), and after any drop reconnects with backoff. A refused connect (not
         * 200 with text/event-stream) goes to parse_error() with page EARSHOT_STREAM_PAGE, so
         * the plugin can explain it (EARSHOT_BLOCKED for a token the stream refuses: one
         * operator alert; the feed is still polled). The feed is still polled
         * with build_request() on its schedule, and at once after every (re)connect, from the
         * committed cursor: what was posted while the stream was down comes in over REST, and
         * the seen posts keep it from alerting twice.
         */
        int (*stream_request)(void *state, uint32_t i, const char *cursor,
                              struct earshot_request *req);

        /*
         * parse_event - one event of the stream: `event` is its event: field (NULL when it had
         * none), data its data: lines joined by "\n" (NUL-terminated; len without the NUL).
         * Heartbeats (comment lines) never reach the plugin. Emit posts, post_deleted() and
         * set_cursor() as parse_response() does; the core commits events as they come (a burst
         * may be committed together). Return 0; -EBADMSG for an event that makes no sense (it
         * is logged and skipped); EARSHOT_RETRY or EARSHOT_BLOCKED (with set_error()) to drop
         * the connection.
         */
        int (*parse_event)(void *state, uint32_t i, const char *event, const char *data,
                           size_t len, struct earshot_sink *sink);
};

/* The page token parse_error() gets for a refused stream connect (see stream_request). */
#define EARSHOT_STREAM_PAGE "stream"

/* The size of struct earshot_source_ops as first published; the core accepts any size from
 * here. */
#define EARSHOT_SOURCE_OPS_SIZE_V1                                                                 \
        (offsetof(struct earshot_source_ops, parse_response) +                                     \
         sizeof(((struct earshot_source_ops *)0)->parse_response))

/* Whether source ops provide a member (plugins from before it was added do not). */
#define EARSHOT_SOURCE_HAS(ops, member)                                                            \
        ((ops)->size >= offsetof(struct earshot_source_ops, member) + sizeof((ops)->member) &&    \
         (ops)->member != NULL)

/* ---------------------------------------------------------------------------------------------
 * Notifier plugins.
 */
struct earshot_notifier_ops {
        uint32_t size; /* sizeof(struct earshot_notifier_ops) */

        /* As for sources. */
        int (*create)(const struct earshot_host *host, const struct earshot_values *vals,
                      char *err, size_t err_len, void **ret_state);
        void (*destroy)(void *state);

        /*
         * deliver - handle one alert.
         * RETURN VALUE: EARSHOT_SEND when req was filled in and the core must send it (the
         *   outcome then comes from response()); EARSHOT_DELIVERED when the plugin handled the
         *   alert itself (e.g. by logging); EARSHOT_REJECTED when it can never be delivered;
         *   negative errno on failure.
         */
        int (*deliver)(void *state, const struct earshot_alert *alert,
                       struct earshot_request *req);

        /*
         * response - judge the response to the request built by deliver(). May be NULL, in
         *   which case the core applies earshot_http_outcome(). status 0 means no response.
         * RETURN VALUE: EARSHOT_DELIVERED, EARSHOT_RETRY or EARSHOT_REJECTED.
         */
        int (*response)(void *state, const struct earshot_alert *alert,
                        const struct earshot_response *resp);

        /* Since earshot 0.3; the core checks the size (EARSHOT_NOTIFIER_HAS()). */

        /*
         * The least time between the starts of two deliveries of one instance of this
         * notifier: the receiver's documented rate limit (Slack: one message a second per
         * webhook). Deliveries wait for their turn; none is dropped. 0 = no limit. The
         * config's `min_interval:` on the notifier overrides it.
         */
        int64_t min_interval_usec;
};

/* Whether notifier ops provide a member (plugins from before it was added do not). */
#define EARSHOT_NOTIFIER_HAS(ops, member)                                                          \
        ((ops)->size >= offsetof(struct earshot_notifier_ops, member) + sizeof((ops)->member))

/* ---------------------------------------------------------------------------------------------
 * The descriptor.
 */
struct earshot_plugin {
        uint32_t abi;  /* EARSHOT_PLUGIN_ABI */
        uint32_t size; /* sizeof(struct earshot_plugin) */
        uint32_t kind; /* EARSHOT_PLUGIN_SOURCE or EARSHOT_PLUGIN_NOTIFIER */
        uint32_t reserved;
        const char *name;        /* "mastodon"; the file is source-mastodon.so */
        const char *description; /* one line */
        const struct earshot_option *options; /* ends with { .name = NULL } */
        const struct earshot_source_ops *source;     /* set for sources */
        const struct earshot_notifier_ops *notifier; /* set for notifiers */
};

#define EARSHOT_PLUGIN_SYMBOL "earshot_plugin_descriptor"

/*
 * Defines the descriptor with default visibility (build plugins with -fvisibility=hidden).
 * Usage: EARSHOT_PLUGIN_DEFINE(.kind = EARSHOT_PLUGIN_SOURCE, .name = "x", ...);
 */
#define EARSHOT_PLUGIN_DEFINE(...)                                                             \
        __attribute__((visibility("default"))) const struct earshot_plugin                    \
                earshot_plugin_descriptor = {                                                  \
                        .abi = EARSHOT_PLUGIN_ABI,                                             \
                        .size = sizeof(struct earshot_plugin),                                 \
                        __VA_ARGS__}

#ifdef __cplusplus
}
#endif
