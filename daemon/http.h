/* SPDX-License-Identifier: MIT */
/*
 * http.h - non-blocking HTTP on the sd-event loop, through libcurl's multi-socket API. Every
 * transfer is bounded: a total timeout, a connect timeout, a response size cap, a redirect
 * limit and a protocol allow-list.
 */
#pragma once

#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "earshot-plugin.h"
#include "util/time-util.h"

/* The request a plugin fills in through the host's request_* functions. */
struct earshot_request {
        char *url;        /* owned */
        char *method;     /* owned; NULL = GET, or POST when a body is set */
        char **headers;   /* owned strv of "Name: value" */
        char *body;       /* owned */
        size_t body_len;
        /* SMTP (request_mail): the envelope */
        char *mail_from;  /* owned; NULL = not a mail submission */
        char **mail_rcpt; /* owned strv */
        /* request_login: HTTP Basic or SMTP AUTH */
        char *user;       /* owned */
        char *password;   /* owned; a secret, never logged */
        uint32_t flags;   /* EARSHOT_REQ_* */
        /* request_exec: a program run instead of a transfer (see exec.h) */
        char **exec_argv; /* owned strv; NULL = not a program run */
        int64_t exec_timeout; /* µs */
        const char *exec_alert_id; /* borrowed: the alert's id, for the program's
                                    * EARSHOT_ALERT_ID (set by the dispatcher); NULL = none */
};

void http_request_done(struct earshot_request *req);
int http_request_set_url(struct earshot_request *req, const char *url);
int http_request_set_method(struct earshot_request *req, const char *method);
int http_request_add_header(struct earshot_request *req, const char *name, const char *value);
int http_request_set_body(struct earshot_request *req, const void *body, size_t len);
int http_request_set_mail(struct earshot_request *req, const char *from,
                          const char *const *rcpt);
int http_request_set_login(struct earshot_request *req, const char *user, const char *password);
int http_request_set_flags(struct earshot_request *req, uint32_t flags);
int http_request_set_exec(struct earshot_request *req, const char *const *argv,
                          int64_t timeout_usec);
/* Whether the request already carries a header of that name (case-insensitive). */
bool http_request_has_header(const struct earshot_request *req, const char *name);

typedef struct HttpCall HttpCall;

/*
 * Streaming mode (HttpOptions.on_data): each chunk of the response body as it arrives, with
 * the status and headers of the response (final after redirects); data NULL and len 0 at the
 * end of every header block (a redirect's and a 100 Continue's too: look at the status).
 * Return 0 to go on, a negative errno to abort the transfer (its HttpDoneFunc still runs, with
 * CURLE_WRITE_ERROR). Runs inside libcurl: start or cancel no transfer of the same HttpGlue.
 */
typedef int (*HttpDataFunc)(int status, char *const *headers, const char *data, size_t len,
                            void *userdata);

typedef struct HttpOptions {
        usec_t timeout;
        usec_t connect_timeout;
        uint64_t max_size;
        const char *user_agent;
        bool allow_file; /* file:// URLs (replay source); never reachable by redirect */
        const char *ca_file; /* extra CA bundle; NULL = the system's (verification is always on) */
        /* A long-lived response (server-sent events): the body goes to on_data as it comes
         * instead of into HttpResponse.body; with `stream`, no total timeout, no low-speed
         * limit and no size cap on the whole transfer (the receiver bounds what it keeps). */
        HttpDataFunc on_data;
        void *data_userdata;
        bool stream;
} HttpOptions;

typedef struct HttpResponse {
        int status;           /* HTTP status, 0 when the transfer failed; for a mail
                               * submission the last SMTP reply code (2yz on success, 4yz/5yz
                               * when the server refused), 0 without an error reply */
        CURLcode result;      /* CURLE_OK or why it failed */
        const char *error;    /* readable reason when result != CURLE_OK */
        bool too_large;       /* the body passed max_size and was cut off */
        char *body;           /* NUL-terminated */
        size_t body_len;
        char **headers;       /* strv, of the last response only (after redirects) */
        const char *url;      /* effective URL */
        usec_t elapsed;
        int exit_code;        /* a program run (exec.h): its exit code; -1 otherwise */
} HttpResponse;

typedef struct HttpGlue HttpGlue;

/* Called once per transfer, on the loop. The response is borrowed for the call. */
typedef void (*HttpDoneFunc)(HttpCall *call, const HttpResponse *resp, void *userdata);

int http_glue_new(sd_event *e, HttpGlue **ret);
HttpGlue *http_glue_free(HttpGlue *g);

/*
 * Start a transfer. *ret (may be NULL) is valid until the callback runs or http_cancel().
 * A request with mail_from set is an SMTP submission (smtp:// with STARTTLS required, or
 * smtps://); -EPERM (logged) when it asks for plain SMTP to a host that is not loopback.
 */
int http_start(HttpGlue *g, const struct earshot_request *req, const HttpOptions *o,
               HttpDoneFunc cb, void *userdata, HttpCall **ret);
/* Abort a transfer; its callback will not run. NULL is fine. */
void http_cancel(HttpCall *c);
/* Number of transfers in flight. */
size_t http_in_flight(HttpGlue *g);

/* The response as plugins see it (borrowing from resp). */
void http_response_view(const HttpResponse *resp, struct earshot_response *ret);
