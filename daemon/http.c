/* SPDX-License-Identifier: MIT */
/*
 * http.c - glue between libcurl's multi-socket API and sd-event.
 *
 * curl tells us which sockets to watch (CURLMOPT_SOCKETFUNCTION) and when to wake it
 * (CURLMOPT_TIMERFUNCTION); we turn those into sd-event I/O sources and one time source and
 * call curl_multi_socket_action() from them. Finished transfers are collected with
 * curl_multi_info_read() after every action. Nothing here blocks the loop: DNS goes through
 * curl's resolver thread, and every transfer has a total timeout and a size cap, so a server
 * that never answers, or answers forever, costs one timer and a bounded buffer.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http.h"
#include "log.h"
#include "util/cleanup.h"
#include "util/strv.h"

#define MAX_HEADERS 200
#define MAX_HEADER_BYTES (64u << 10)
#define MAIL_REPLY_MAX 256

struct HttpGlue {
        sd_event *event;            /* referenced */
        CURLM *multi;               /* owned */
        sd_event_source *timer;     /* owned */
        HttpCall *calls;            /* owned list: HttpGlue::calls */
        size_t n_calls;
};

struct HttpCall {
        HttpGlue *glue;             /* borrowed */
        CURL *easy;                 /* owned */
        struct curl_slist *headers; /* owned */
        HttpDoneFunc cb;
        void *userdata;
        char *body;                 /* owned: response body */
        size_t body_len, body_cap;
        uint64_t max_size;
        bool too_large;
        char **resp_headers;        /* owned strv */
        size_t header_bytes;
        char errbuf[CURL_ERROR_SIZE];
        usec_t started;
        HttpDataFunc on_data;       /* streaming: the body goes here as it comes */
        void *data_userdata;
        HttpCall *prev, *next;      /* HttpGlue::calls */
        /* SMTP (request_mail) */
        bool mail;
        struct curl_slist *rcpt;    /* owned: envelope recipients */
        char *upload;               /* owned: the message, as the plugin built it */
        size_t upload_len, upload_pos;
        char reply[MAIL_REPLY_MAX]; /* the server's last reply line, for the log */
        char mail_error[CURL_ERROR_SIZE + MAIL_REPLY_MAX + 32];
};

/* ---- requests ------------------------------------------------------------------------------ */

void http_request_done(struct earshot_request *req) {
        free(req->url);
        free(req->method);
        strv_free(req->headers);
        free(req->body);
        free(req->mail_from);
        strv_free(req->mail_rcpt);
        free(req->user);
        if (req->password)
                explicit_bzero(req->password, strlen(req->password));
        free(req->password);
        strv_free(req->exec_argv);
        *req = (struct earshot_request){};
}

static int replace(char **dst, const char *src) {
        char *s = strdup(src);
        if (!s)
                return -ENOMEM;
        free(*dst);
        *dst = s;
        return 0;
}

int http_request_set_url(struct earshot_request *req, const char *url) {
        return url ? replace(&req->url, url) : -EINVAL;
}

int http_request_set_method(struct earshot_request *req, const char *method) {
        return method ? replace(&req->method, method) : -EINVAL;
}

int http_request_add_header(struct earshot_request *req, const char *name, const char *value) {
        char *h;
        if (!name || !value || strpbrk(name, ":\r\n") || strpbrk(value, "\r\n"))
                return -EINVAL; /* no header injection through plugin-supplied text */
        if (asprintf(&h, "%s: %s", name, value) < 0)
                return -ENOMEM;
        return strv_consume(&req->headers, h);
}

bool http_request_has_header(const struct earshot_request *req, const char *name) {
        size_t n = strlen(name);
        STRV_FOREACH(h, req->headers)
                if (strncasecmp(*h, name, n) == 0 && (*h)[n] == ':')
                        return true;
        return false;
}

int http_request_set_body(struct earshot_request *req, const void *body, size_t len) {
        char *b = malloc(len + 1);
        if (!b)
                return -ENOMEM;
        memcpy(b, body, len);
        b[len] = 0;
        free(req->body);
        req->body = b;
        req->body_len = len;
        return 0;
}

static int copy_strv(char ***dst, const char *const *src) {
        char **l = NULL;
        for (const char *const *p = src; p && *p; p++)
                if (strv_extend(&l, *p) < 0) {
                        strv_free(l);
                        return -ENOMEM;
                }
        strv_free(*dst);
        *dst = l;
        return 0;
}

int http_request_set_mail(struct earshot_request *req, const char *from,
                          const char *const *rcpt) {
        if (!from || strpbrk(from, "\r\n<>") || !rcpt || !rcpt[0])
                return -EINVAL;
        for (const char *const *p = rcpt; *p; p++)
                if (!**p || strpbrk(*p, "\r\n<>"))
                        return -EINVAL; /* no SMTP command injection through an address */
        int r = copy_strv(&req->mail_rcpt, rcpt);
        return r < 0 ? r : replace(&req->mail_from, from);
}

int http_request_set_login(struct earshot_request *req, const char *user, const char *password) {
        if (!user || !password)
                return -EINVAL;
        int r = replace(&req->user, user);
        if (r < 0)
                return r;
        if (req->password)
                explicit_bzero(req->password, strlen(req->password));
        return replace(&req->password, password);
}

int http_request_set_flags(struct earshot_request *req, uint32_t flags) {
        if (flags & ~EARSHOT_REQ_PLAINTEXT)
                return -EINVAL;
        req->flags = flags;
        return 0;
}

int http_request_set_exec(struct earshot_request *req, const char *const *argv,
                          int64_t timeout_usec) {
        if (!argv || !argv[0] || argv[0][0] != '/' || timeout_usec <= 0)
                return -EINVAL;
        int r = copy_strv(&req->exec_argv, argv);
        if (r < 0)
                return r;
        req->exec_timeout = timeout_usec;
        return 0;
}

/* ---- SMTP ---------------------------------------------------------------------------------- */

/*
 * A mail submission (request_mail) goes through libcurl's SMTP: the envelope from the request,
 * the message uploaded as the plugin built it (curl dot-stuffs it and ends it with CRLF.CRLF),
 * never redirected, never sent in clear to another machine.
 */

static inline void curl_freep(char **p) {
        curl_free(*p);
}
DEFINE_TRIVIAL_CLEANUP_FUNC(CURLU *, curl_url_cleanup);

/* Whether host, as curl's URL parser returns it, is this machine: localhost, 127.0.0.0/8 or
 * [::1]. */
static bool host_is_loopback(const char *host) {
        struct in_addr a4;
        struct in6_addr a6;
        char buf[INET6_ADDRSTRLEN];
        size_t n = strlen(host);

        if (strcaseeq(host, "localhost"))
                return true;
        if (inet_pton(AF_INET, host, &a4) == 1)
                return (ntohl(a4.s_addr) >> 24) == 127;
        if (n < 3 || host[0] != '[' || host[n - 1] != ']' || n - 2 >= sizeof(buf))
                return false;
        memcpy(buf, host + 1, n - 2);
        buf[n - 2] = 0;
        return inet_pton(AF_INET6, buf, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
}

/*
 * Whether a mail submission may go out, and with which CURLOPT_USE_SSL. smtps:// is TLS from
 * the first byte. smtp:// must switch to TLS with STARTTLS before anything else is said
 * (CURLUSESSL_ALL: curl fails rather than go on in clear when the server does not offer it),
 * unless the plugin asked for plaintext (EARSHOT_REQ_PLAINTEXT) and the server is this
 * machine: a password or an alert never crosses a network in clear. -EINVAL or -EPERM, logged.
 */
static int mail_check(const struct earshot_request *req, long *ret_use_ssl) {
        _cleanup_(curl_url_cleanupp) CURLU *u = NULL;
        _cleanup_(curl_freep) char *scheme = NULL, *host = NULL;

        if (!req->mail_rcpt || !req->mail_rcpt[0] || !req->body) {
                log_error("mail to %s has no recipients or no message, not sending", req->url);
                return -EINVAL;
        }
        u = curl_url();
        if (!u)
                return -ENOMEM;
        if (curl_url_set(u, CURLUPART_URL, req->url, 0) != CURLUE_OK ||
            curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
            curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
            (!strcaseeq(scheme, "smtp") && !strcaseeq(scheme, "smtps"))) {
                log_error("mail: '%s' is not an smtp:// or smtps:// URL, not sending", req->url);
                return -EINVAL;
        }
        if (strcaseeq(scheme, "smtps") || !(req->flags & EARSHOT_REQ_PLAINTEXT)) {
                *ret_use_ssl = (long)CURLUSESSL_ALL;
                return 0;
        }
        if (!host_is_loopback(host)) {
                log_error("refusing to send mail to %s without TLS: plain SMTP (starttls: false) "
                          "is allowed to a loopback address only",
                          req->url);
                return -EPERM;
        }
        *ret_use_ssl = (long)CURLUSESSL_NONE;
        return 0;
}

static size_t on_mail_read(char *buf, size_t size, size_t nitems, void *userdata) {
        HttpCall *c = userdata;
        size_t n = size * nitems;

        if (n > c->upload_len - c->upload_pos)
                n = c->upload_len - c->upload_pos;
        memcpy(buf, c->upload + c->upload_pos, n);
        c->upload_pos += n;
        return n;
}

/* curl hands every reply line of the SMTP dialogue to the header callback: keep the last error
 * reply ("550 5.1.1 <x@example.com>: user unknown") for the log, control characters blanked. */
static size_t on_mail_reply(char *ptr, size_t size, size_t nitems, void *userdata) {
        HttpCall *c = userdata;
        size_t n = size * nitems, len = n;

        while (len > 0 && (ptr[len - 1] == '\n' || ptr[len - 1] == '\r'))
                len--;
        if (len < 3 || (ptr[0] != '4' && ptr[0] != '5') || ptr[1] < '0' || ptr[1] > '9' ||
            ptr[2] < '0' || ptr[2] > '9')
                return n;
        if (len >= sizeof(c->reply))
                len = sizeof(c->reply) - 1;
        for (size_t i = 0; i < len; i++)
                c->reply[i] = (unsigned char)ptr[i] < ' ' || ptr[i] == 0x7f ? ' ' : ptr[i];
        c->reply[len] = 0;
        return n;
}

/* The SMTP part of a transfer: envelope, message, TLS. 0, -ENOMEM or -EINVAL. */
static int mail_setopt(HttpCall *c, const struct earshot_request *req, long use_ssl) {
        CURL *e = c->easy;

        c->mail = true;
        STRV_FOREACH(r, req->mail_rcpt) {
                struct curl_slist *l = curl_slist_append(c->rcpt, *r);
                if (!l)
                        return -ENOMEM;
                c->rcpt = l;
        }
        c->upload = malloc(req->body_len + 1);
        if (!c->upload)
                return -ENOMEM;
        memcpy(c->upload, req->body, req->body_len);
        c->upload_len = req->body_len;
        bool ok = curl_easy_setopt(e, CURLOPT_MAIL_FROM, req->mail_from) == CURLE_OK &&
                  curl_easy_setopt(e, CURLOPT_MAIL_RCPT, c->rcpt) == CURLE_OK &&
                  curl_easy_setopt(e, CURLOPT_UPLOAD, 1L) == CURLE_OK &&
                  curl_easy_setopt(e, CURLOPT_READFUNCTION, on_mail_read) == CURLE_OK &&
                  curl_easy_setopt(e, CURLOPT_READDATA, c) == CURLE_OK &&
                  curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)c->upload_len) ==
                          CURLE_OK &&
                  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_mail_reply) == CURLE_OK &&
                  curl_easy_setopt(e, CURLOPT_USE_SSL, use_ssl) == CURLE_OK;
        return ok ? 0 : -EINVAL;
}

/*
 * The response to a mail submission as plugins see it: status is the server's last reply code
 * (RFC 5321 4.2: 2yz done, 4yz try again later, 5yz do not repeat), or 0 when the transfer
 * failed without an error reply (no connection, no STARTTLS, a TLS failure, a timeout), so a
 * 220 or 250 from before the failure never reads as success. No body, no headers; the error
 * names the step ("RCPT failed: 550") and what the server said.
 */
static void mail_response(HttpCall *c, CURLcode result, long status, HttpResponse *resp) {
        resp->status = result == CURLE_OK || status >= 400 ? (int)status : 0;
        resp->body = (char *)"";
        resp->body_len = 0;
        resp->headers = NULL;
        if (result == CURLE_OK || status < 400 || !*c->reply)
                return;
        if (*c->errbuf)
                (void)snprintf(c->mail_error, sizeof(c->mail_error), "%s; the server said: %s",
                               c->errbuf, c->reply);
        else
                (void)snprintf(c->mail_error, sizeof(c->mail_error), "the server said: %s",
                               c->reply);
        resp->error = c->mail_error;
}

/* ---- the glue ------------------------------------------------------------------------------ */

static void call_free(HttpCall *c) {
        HttpGlue *g = c->glue;
        if (c->easy) {
                curl_multi_remove_handle(g->multi, c->easy);
                curl_easy_cleanup(c->easy);
        }
        if (c->prev)
                c->prev->next = c->next;
        else if (g->calls == c)
                g->calls = c->next;
        if (c->next)
                c->next->prev = c->prev;
        g->n_calls--;
        curl_slist_free_all(c->headers);
        curl_slist_free_all(c->rcpt);
        free(c->upload);
        free(c->body);
        strv_free(c->resp_headers);
        free(c);
}

static void check_done(HttpGlue *g) {
        CURLMsg *msg;
        int left;

        while ((msg = curl_multi_info_read(g->multi, &left))) {
                HttpCall *c = NULL;
                long status = 0;
                char *eff = NULL;

                if (msg->msg != CURLMSG_DONE)
                        continue;
                if (curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&c) !=
                            CURLE_OK ||
                    !c)
                        continue;
                CURLcode result = msg->data.result;
                (void)curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &status);
                (void)curl_easy_getinfo(c->easy, CURLINFO_EFFECTIVE_URL, &eff);

                HttpResponse resp = {
                        .status = result == CURLE_OK ? (int)status : 0,
                        .result = result,
                        .too_large = c->too_large,
                        .body = c->body ? c->body : (char *)"",
                        .body_len = c->body_len,
                        .headers = c->resp_headers,
                        .url = eff,
                        .elapsed = now_usec(CLOCK_MONOTONIC) - c->started,
                        .exit_code = -1,
                };
                /* file:// transfers report no status; a successful read is a 200 */
                if (result == CURLE_OK && status == 0 && eff && strncmp(eff, "file:", 5) == 0)
                        resp.status = 200;
                if (c->too_large)
                        resp.error = "response too large";
                else if (result != CURLE_OK)
                        resp.error = *c->errbuf ? c->errbuf : curl_easy_strerror(result);
                if (c->mail)
                        mail_response(c, result, status, &resp);

                HttpDoneFunc cb = c->cb;
                void *ud = c->userdata;
                /* The callback may start or cancel transfers; detach this one first. */
                curl_multi_remove_handle(g->multi, c->easy);
                cb(c, &resp, ud);
                call_free(c);
        }
}

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        HttpGlue *g = userdata;
        int action = 0, running;

        if (revents & (EPOLLIN | EPOLLHUP | EPOLLERR))
                action |= CURL_CSELECT_IN;
        if (revents & EPOLLOUT)
                action |= CURL_CSELECT_OUT;
        if (revents & EPOLLERR)
                action |= CURL_CSELECT_ERR;
        (void)curl_multi_socket_action(g->multi, fd, action, &running);
        check_done(g);
        return 0;
}

static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp) {
        HttpGlue *g = userp;
        sd_event_source *io = socketp;
        uint32_t events = 0;

        if (what == CURL_POLL_REMOVE) {
                if (io) {
                        sd_event_source_disable_unref(io);
                        curl_multi_assign(g->multi, fd, NULL);
                }
                return 0;
        }
        if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
                events |= EPOLLIN;
        if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
                events |= EPOLLOUT;
        if (io) {
                if (sd_event_source_set_io_events(io, events) < 0 ||
                    sd_event_source_set_enabled(io, SD_EVENT_ON) < 0)
                        return -1;
                return 0;
        }
        if (sd_event_add_io(g->event, &io, fd, events, on_io, g) < 0)
                return -1;
        (void)sd_event_source_set_description(io, "curl-io");
        if (curl_multi_assign(g->multi, fd, io) != CURLM_OK) {
                sd_event_source_disable_unref(io);
                return -1;
        }
        return 0;
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        HttpGlue *g = userdata;
        int running;
        (void)curl_multi_socket_action(g->multi, CURL_SOCKET_TIMEOUT, 0, &running);
        check_done(g);
        return 0;
}

static int on_timer_change(CURLM *multi, long timeout_ms, void *userp) {
        HttpGlue *g = userp;

        if (timeout_ms < 0) {
                if (g->timer)
                        (void)sd_event_source_set_enabled(g->timer, SD_EVENT_OFF);
                return 0;
        }
        usec_t when = now_usec(CLOCK_MONOTONIC) + (usec_t)timeout_ms * USEC_PER_MSEC;
        if (g->timer) {
                if (sd_event_source_set_time(g->timer, when) < 0 ||
                    sd_event_source_set_enabled(g->timer, SD_EVENT_ONESHOT) < 0)
                        return -1;
                return 0;
        }
        if (sd_event_add_time(g->event, &g->timer, CLOCK_MONOTONIC, when, 1, on_timer, g) < 0)
                return -1;
        (void)sd_event_source_set_description(g->timer, "curl-timer");
        return 0;
}

int http_glue_new(sd_event *e, HttpGlue **ret) {
        HttpGlue *g = calloc(1, sizeof(*g));
        if (!g)
                return -ENOMEM;
        g->multi = curl_multi_init();
        if (!g->multi) {
                free(g);
                return -ENOMEM;
        }
        g->event = sd_event_ref(e);
        curl_multi_setopt(g->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
        curl_multi_setopt(g->multi, CURLMOPT_SOCKETDATA, g);
        curl_multi_setopt(g->multi, CURLMOPT_TIMERFUNCTION, on_timer_change);
        curl_multi_setopt(g->multi, CURLMOPT_TIMERDATA, g);
        curl_multi_setopt(g->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 4L);
        *ret = g;
        return 0;
}

HttpGlue *http_glue_free(HttpGlue *g) {
        if (!g)
                return NULL;
        while (g->calls)
                call_free(g->calls);
        if (g->multi)
                curl_multi_cleanup(g->multi);
        sd_event_source_disable_unref(g->timer);
        sd_event_unref(g->event);
        free(g);
        return NULL;
}

size_t http_in_flight(HttpGlue *g) {
        return g->n_calls;
}

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *userdata) {
        HttpCall *c = userdata;
        size_t n = size * nmemb;

        if (c->on_data) {
                long status = 0;
                (void)curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &status);
                return c->on_data((int)status, c->resp_headers, ptr, n, c->data_userdata) < 0
                               ? 0 /* abort the transfer: CURLE_WRITE_ERROR */
                               : n;
        }
        if (c->body_len + n > c->max_size) {
                c->too_large = true;
                return 0; /* abort the transfer: CURLE_WRITE_ERROR */
        }
        if (c->body_len + n + 1 > c->body_cap) {
                size_t cap = c->body_cap ? c->body_cap : 16384;
                while (cap < c->body_len + n + 1)
                        cap *= 2;
                char *b = realloc(c->body, cap);
                if (!b)
                        return 0;
                c->body = b;
                c->body_cap = cap;
        }
        memcpy(c->body + c->body_len, ptr, n);
        c->body_len += n;
        c->body[c->body_len] = 0;
        return n;
}

static size_t on_header(char *ptr, size_t size, size_t nitems, void *userdata) {
        HttpCall *c = userdata;
        size_t n = size * nitems, len = n;

        while (len > 0 && (ptr[len - 1] == '\n' || ptr[len - 1] == '\r'))
                len--;
        if (len >= 5 && strncmp(ptr, "HTTP/", 5) == 0) {
                /* a new response (after a redirect or 100 Continue): keep only the last */
                c->resp_headers = strv_free(c->resp_headers);
                c->header_bytes = 0;
                return n;
        }
        if (len == 0 && c->on_data) {
                /* the end of a header block: a stream's receiver wants to know at once */
                long status = 0;
                (void)curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &status);
                return c->on_data((int)status, c->resp_headers, NULL, 0, c->data_userdata) < 0
                               ? 0
                               : n;
        }
        if (len == 0 || !memchr(ptr, ':', len))
                return n;
        c->header_bytes += len;
        if (c->header_bytes > MAX_HEADER_BYTES || strv_length(c->resp_headers) >= MAX_HEADERS)
                return n; /* ignore the excess rather than fail the transfer */
        char *h = strndup(ptr, len);
        if (!h || strv_consume(&c->resp_headers, h) < 0)
                return 0;
        return n;
}

int http_start(HttpGlue *g, const struct earshot_request *req, const HttpOptions *o,
               HttpDoneFunc cb, void *userdata, HttpCall **ret) {
        bool mail = req->mail_from != NULL;
        long use_ssl = (long)CURLUSESSL_NONE;
        HttpCall *c;
        CURL *e;
        int r;

        if (!req->url)
                return -EINVAL;
        if (mail) {
                r = mail_check(req, &use_ssl);
                if (r < 0)
                        return r;
        }
        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->glue = g;
        c->cb = cb;
        c->userdata = userdata;
        c->max_size = o->max_size;
        c->on_data = o->on_data;
        c->data_userdata = o->data_userdata;
        c->started = now_usec(CLOCK_MONOTONIC);
        c->next = g->calls;
        if (g->calls)
                g->calls->prev = c;
        g->calls = c;
        g->n_calls++;

        e = c->easy = curl_easy_init();
        if (!e) {
                call_free(c);
                return -ENOMEM;
        }
        STRV_FOREACH(h, req->headers) {
                struct curl_slist *l = curl_slist_append(c->headers, *h);
                if (!l) {
                        call_free(c);
                        return -ENOMEM;
                }
                c->headers = l;
        }
        bool ok = curl_easy_setopt(e, CURLOPT_URL, req->url) == CURLE_OK &&
                  curl_easy_setopt(e, CURLOPT_PRIVATE, c) == CURLE_OK &&
                  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
                  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, c->errbuf) == CURLE_OK &&
                  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write) == CURLE_OK &&
                  curl_easy_setopt(e, CURLOPT_WRITEDATA, c) == CURLE_OK &&
                  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header) == CURLE_OK &&
                  curl_easy_setopt(e, CURLOPT_HEADERDATA, c) == CURLE_OK &&
                  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(o->timeout / USEC_PER_MSEC)) ==
                          CURLE_OK &&
                  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                                   (long)(o->connect_timeout / USEC_PER_MSEC)) == CURLE_OK &&
                  curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)o->max_size) ==
                          CURLE_OK &&
                  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, mail ? 0L : 1L) == CURLE_OK &&
                  curl_easy_setopt(e, CURLOPT_MAXREDIRS, 5L) == CURLE_OK &&
                  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR,
                                   mail            ? "smtp,smtps"
                                   : o->allow_file ? "http,https,file"
                                                   : "http,https") == CURLE_OK &&
                  curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https") == CURLE_OK &&
                  /* every encoding this libcurl decodes: gzip, deflate, br, zstd */
                  curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "") == CURLE_OK &&
                  /* HTTP/2 when the server offers it over TLS */
                  curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS) ==
                          CURLE_OK &&
                  /* a server that trickles: under 16 bytes/s for 30 s is a stalled transfer */
                  curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 16L) == CURLE_OK &&
                  curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, 30L) == CURLE_OK &&
                  /* never turned off: a complaint monitor must not be fed by an impostor */
                  curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L) == CURLE_OK &&
                  curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L) == CURLE_OK &&
                  (!o->ca_file || curl_easy_setopt(e, CURLOPT_CAINFO, o->ca_file) == CURLE_OK) &&
                  curl_easy_setopt(e, CURLOPT_HTTPHEADER, c->headers) == CURLE_OK &&
                  (!o->user_agent ||
                   curl_easy_setopt(e, CURLOPT_USERAGENT, o->user_agent) == CURLE_OK);
        /* a stream stays open as long as the server sends; the caller watches for silence */
        if (ok && o->stream)
                ok = curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 0L) == CURLE_OK &&
                     curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 0L) == CURLE_OK &&
                     curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, 0L) == CURLE_OK &&
                     curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)0) == CURLE_OK &&
                     curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L) == CURLE_OK &&
                     /* no compression: a compressing proxy would hold events back */
                     curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, NULL) == CURLE_OK;
        /* HTTP Basic authentication, or SMTP AUTH (curl picks the best mechanism offered) */
        if (ok && req->user)
                ok = curl_easy_setopt(e, CURLOPT_USERNAME, req->user) == CURLE_OK &&
                     curl_easy_setopt(e, CURLOPT_PASSWORD, req->password ? req->password : "") ==
                             CURLE_OK &&
                     (mail ||
                      curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC) == CURLE_OK);
        if (ok && mail) {
                r = mail_setopt(c, req, use_ssl);
                if (r < 0) {
                        call_free(c);
                        return r;
                }
        } else if (ok && req->body) {
                ok = curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
                                      (curl_off_t)req->body_len) == CURLE_OK &&
                     curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, req->body) == CURLE_OK;
        }
        if (ok && !mail && req->method && strcmp(req->method, req->body ? "POST" : "GET") != 0)
                ok = curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, req->method) == CURLE_OK;
        if (!ok || curl_multi_add_handle(g->multi, e) != CURLM_OK) {
                call_free(c);
                return -EINVAL;
        }
        if (ret)
                *ret = c;
        return 0;
}

void http_cancel(HttpCall *c) {
        if (c)
                call_free(c);
}

void http_response_view(const HttpResponse *resp, struct earshot_response *ret) {
        *ret = (struct earshot_response){
                .size = sizeof(struct earshot_response),
                .status = resp->status,
                .url = resp->url,
                .body = resp->body,
                .body_len = resp->body_len,
                .headers = (const char *const *)resp->headers,
                .exit_code = resp->exit_code,
        };
}
