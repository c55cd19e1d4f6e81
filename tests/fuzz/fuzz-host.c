/* SPDX-License-Identifier: MIT */
/*
 * fuzz-host.c - the host side of source-plugin fuzz targets (see fuzz-host.h). It checks
 * what a plugin hands over the way the core would reject it, and aborts on anything the core
 * could not survive: a post without id, network or text, strings that are not NUL-terminated
 * within a sane length, header values with CR/LF, a URL that is not http(s), an explanation
 * (set_error) that is empty or not one line.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-host.h"
#include "normalize.h"
#include "time-util.h"

#define MAX_FIELD (16u << 20)

static void fail(const char *what) {
        fprintf(stderr, "fuzz-host: %s\n", what);
        abort();
}

static void check_string(const char *s, const char *what, bool required) {
        if (!s) {
                if (required)
                        fail(what);
                return;
        }
        if (strnlen(s, MAX_FIELD) == MAX_FIELD)
                fail(what);
}

static void fh_log(const struct earshot_host *host, int priority, const char *format, ...) {
        char buf[4096];
        va_list ap;

        if (priority < 0 || priority > 7)
                fail("log priority out of range");
        va_start(ap, format);
        vsnprintf(buf, sizeof(buf), format, ap);
        va_end(ap);
}

static int64_t fh_now(const struct earshot_host *host) {
        return INT64_C(1785592800) * 1000000; /* 2026-08-01T14:00:00Z */
}

static int fh_request_url(struct earshot_request *req, const char *url) {
        check_string(url, "request URL missing", true);
        if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
                fail("request URL is not http(s)");
        free(req->url);
        req->url = strdup(url);
        return req->url ? 0 : -ENOMEM;
}

static int fh_request_method(struct earshot_request *req, const char *method) {
        check_string(method, "request method missing", true);
        return 0;
}

static int fh_request_header(struct earshot_request *req, const char *name, const char *value) {
        check_string(name, "header name missing", true);
        check_string(value, "header value missing", true);
        if (strpbrk(name, "\r\n:") || strpbrk(value, "\r\n"))
                fail("header injection");
        req->n_headers++;
        return 0;
}

static int fh_request_body(struct earshot_request *req, const void *body, size_t len) {
        if (len > 0 && !body)
                fail("request body NULL");
        return 0;
}

static int fh_emit_post(struct earshot_sink *sink, const struct earshot_post *p) {
        if (!p || p->size < EARSHOT_POST_SIZE_V1)
                fail("post missing or too small");
        check_string(p->id, "post without id", true);
        if (!p->id[0])
                fail("post with empty id");
        check_string(p->network, "post without network", true);
        if (!p->network[0])
                fail("post with empty network");
        check_string(p->text, "post without text", true);
        check_string(p->url, "post url", false);
        check_string(p->author_handle, "post author_handle", false);
        check_string(p->author_name, "post author_name", false);
        check_string(p->lang, "post lang", false);
        if (p->size >= sizeof(struct earshot_post)) {
                check_string(p->title, "post title", false);
                check_string(p->reply_to, "post reply_to", false);
                if (p->rating < 0 || p->rating > 5)
                        fail("post rating out of range");
        }
        sink->n_posts++;
        return 0;
}

static int fh_set_cursor(struct earshot_sink *sink, const char *cursor) {
        check_string(cursor, "cursor", false);
        sink->n_cursor++;
        return 0;
}

static int fh_next_page(struct earshot_sink *sink, const char *page) {
        check_string(page, "next page token missing", true);
        sink->n_page++;
        return 0;
}

static int fh_parse_time(const char *s, int64_t *ret_usec) {
        return parse_timestamp(s, ret_usec);
}

static const char *fh_format_time(int64_t usec, char *buf, size_t len) {
        return format_timestamp(buf, len, usec);
}

static int fh_set_backoff(struct earshot_sink *sink, int64_t usec) {
        if (usec < 0)
                return -EINVAL;
        sink->n_backoff++;
        return 0;
}

static int fh_set_error(struct earshot_sink *sink, const char *message) {
        check_string(message, "set_error without a message", true);
        if (!message[0] || strlen(message) >= 1000)
                fail("set_error: empty or longer than one line should be");
        for (const char *c = message; *c; c++)
                if ((unsigned char)*c < 0x20 || *c == 0x7f)
                        fail("set_error: a control character in the message");
        sink->n_error++;
        return 0;
}

static int fh_report_gap(struct earshot_sink *sink, int64_t from_usec, int64_t to_usec,
                         const char *reason) {
        check_string(reason, "gap without reason", true);
        sink->n_gaps++;
        return 0;
}

/* ---- what a source keeps (state_get / state_set): a few slots, checked as the core checks */

#define FH_STATE_MAX 8
static char *fh_keys[FH_STATE_MAX], *fh_values[FH_STATE_MAX];

static const char *fh_state_get(const struct earshot_host *h, const char *key) {
        for (size_t i = 0; key && i < FH_STATE_MAX; i++)
                if (fh_keys[i] && strcmp(fh_keys[i], key) == 0)
                        return fh_values[i];
        return NULL;
}

static int fh_state_set(const struct earshot_host *h, const char *key, const char *value,
                        int64_t expires_usec) {
        size_t i, free_slot = FH_STATE_MAX;

        if (!key || !*key || strlen(key) > 64 || (value && strlen(value) > 65536) ||
            expires_usec < 0)
                abort();
        for (i = 0; i < FH_STATE_MAX; i++) {
                if (fh_keys[i] && strcmp(fh_keys[i], key) == 0)
                        break;
                if (!fh_keys[i] && free_slot == FH_STATE_MAX)
                        free_slot = i;
        }
        if (i == FH_STATE_MAX) {
                if (!value)
                        return 0;
                if (free_slot == FH_STATE_MAX)
                        abort(); /* more keys than any plugin needs */
                i = free_slot;
                fh_keys[i] = strdup(key);
        }
        free(fh_values[i]);
        fh_values[i] = value ? strdup(value) : NULL;
        if (!value) {
                free(fh_keys[i]);
                fh_keys[i] = NULL;
        }
        return 0;
}

void fuzz_state_clear(void) {
        for (size_t i = 0; i < FH_STATE_MAX; i++) {
                free(fh_keys[i]);
                free(fh_values[i]);
                fh_keys[i] = fh_values[i] = NULL;
        }
}

static int fh_post_deleted(struct earshot_sink *sink, const char *network, const char *id) {
        if (!network || !*network || !id || !*id)
                abort();
        return 0;
}

static int fh_request_login(struct earshot_request *req, const char *user, const char *password) {
        return user && password ? 0 : -EINVAL;
}

void fuzz_host_init(FuzzHost *h) {
        *h = (FuzzHost){
                .host = {
                        .size = sizeof(struct earshot_host),
                        .log = fh_log,
                        .now_usec = fh_now,
                        .request_url = fh_request_url,
                        .request_method = fh_request_method,
                        .request_header = fh_request_header,
                        .request_body = fh_request_body,
                        .emit_post = fh_emit_post,
                        .set_cursor = fh_set_cursor,
                        .next_page = fh_next_page,
                        .html_to_text = html_to_text,
                        .parse_time = fh_parse_time,
                        .format_time = fh_format_time,
                        .set_backoff = fh_set_backoff,
                        .report_gap = fh_report_gap,
                        .set_error = fh_set_error,
                        .request_login = fh_request_login,
                        .state_get = fh_state_get,
                        .state_set = fh_state_set,
                        .post_deleted = fh_post_deleted,
                },
        };
}

void fuzz_sink_init(struct earshot_sink *s) {
        *s = (struct earshot_sink){0};
}

void fuzz_sink_done(struct earshot_sink *s) {
        *s = (struct earshot_sink){0};
}

void fuzz_request_init(struct earshot_request *r) {
        *r = (struct earshot_request){0};
}

void fuzz_request_done(struct earshot_request *r) {
        free(r->url);
        *r = (struct earshot_request){0};
}

static int64_t to_num(uint32_t type, const char *s) {
        if (type == EARSHOT_OPT_BOOL)
                return strcmp(s, "true") == 0 || strcmp(s, "yes") == 0 || strcmp(s, "1") == 0;
        if (type == EARSHOT_OPT_DURATION) {
                usec_t u = 0;
                return parse_duration(s, &u) == 0 ? (int64_t)u : 0;
        }
        return strtoll(s, NULL, 10);
}

void fuzz_values_build(FuzzValues *fv, const struct earshot_option *options,
                       const char *const *settings) {
        size_t n = 0;

        *fv = (FuzzValues){0};
        for (const struct earshot_option *o = options; o && o->name; o++, n++) {
                if (n == FUZZ_VALUES_MAX)
                        fail("too many options for FuzzValues");
                const char *val = o->def;
                size_t nl = strlen(o->name);
                for (const char *const *s = settings; s && *s; s++)
                        if (strncmp(*s, o->name, nl) == 0 && (*s)[nl] == '=')
                                val = *s + nl + 1;
                struct earshot_value *v = &fv->v[n];
                *v = (struct earshot_value){.name = o->name, .type = o->type};
                if (!val)
                        continue;
                fv->strs[n] = strdup(val);
                if (!fv->strs[n])
                        fail("out of memory");
                v->set = 1;
                v->str = fv->strs[n];
                v->num = to_num(o->type, val);
                if (o->type == EARSHOT_OPT_STRLIST) {
                        size_t k = 1;
                        for (const char *c = val; *c; c++)
                                k += *c == ',';
                        fv->lists[n] = calloc(k + 1, sizeof(char *));
                        char *copy = strdup(val);
                        if (!fv->lists[n] || !copy)
                                fail("out of memory");
                        free(fv->strs[n]);
                        fv->strs[n] = copy; /* the list points into it */
                        v->str = NULL;
                        k = 0;
                        for (char *save = NULL, *t = strtok_r(copy, ",", &save); t;
                             t = strtok_r(NULL, ",", &save))
                                fv->lists[n][k++] = t;
                        v->list = fv->lists[n];
                        v->n_list = k;
                }
        }
        fv->vals = (struct earshot_values){.n = n, .v = fv->v};
}

void fuzz_values_done(FuzzValues *fv) {
        for (size_t i = 0; i < FUZZ_VALUES_MAX; i++) {
                free(fv->strs[i]);
                free(fv->lists[i]);
        }
        *fv = (FuzzValues){0};
}

struct earshot_response fuzz_response(const uint8_t *body, size_t len,
                                      const char *const *headers) {
        return (struct earshot_response){
                .size = sizeof(struct earshot_response),
                .status = 200,
                .url = "https://example.invalid/",
                .body = (const char *)body,
                .body_len = len,
                .headers = headers,
        };
}

struct earshot_response fuzz_response_status(int32_t status, const uint8_t *body, size_t len,
                                             const char *const *headers) {
        struct earshot_response r = fuzz_response(body, len, headers);
        r.status = status;
        return r;
}

/* What servers answer and plugins read; the rest of 100..999 comes from the input. */
static const int32_t error_statuses[] = {400, 401, 403, 404, 405, 406, 408, 409,
                                         410, 422, 429, 451, 500, 502, 503, 504};
#define N_ERROR_STATUSES (sizeof(error_statuses) / sizeof(error_statuses[0]))

static void parse_error_once(const struct earshot_source_ops *ops, void *state, uint32_t feed,
                             const char *cursor, const char *page, int32_t status,
                             const uint8_t *body, size_t len) {
        struct earshot_response resp = fuzz_response_status(status, body, len, NULL);
        struct earshot_sink sink;

        fuzz_sink_init(&sink);
        int r = ops->parse_error(state, feed, cursor, page, &resp, &sink);
        switch (r) {
        case 0:
        case EARSHOT_MORE:
                if ((r == EARSHOT_MORE) != (sink.n_page == 1) || sink.n_error > 0)
                        fail("parse_error: an answer with a stray page or error");
                break;
        case EARSHOT_RETRY:
        case EARSHOT_BLOCKED:
                if (sink.n_error != 1 || sink.n_posts || sink.n_cursor || sink.n_page ||
                    sink.n_gaps)
                        fail("parse_error: a failure without one explanation, or with output");
                break;
        case -EOPNOTSUPP:
                if (sink.n_error || sink.n_posts || sink.n_cursor || sink.n_page || sink.n_gaps ||
                    sink.n_backoff)
                        fail("parse_error: handed to the core, but with output");
                break;
        case -EBADMSG:
        case -ENOMEM:
                break;
        default:
                fail("parse_error: an unexpected result");
        }
        fuzz_sink_done(&sink);
}

void fuzz_parse_errors(const struct earshot_source_ops *ops, void *state, uint32_t feed,
                       const char *cursor, const char *page, const uint8_t *body, size_t len) {
        if (!EARSHOT_SOURCE_HAS(ops, parse_error))
                fail("the plugin has no parse_error");
        uint8_t b = len > 0 ? body[0] : 0;
        int32_t status = b < 128 ? error_statuses[b % N_ERROR_STATUSES] : 100 + (b - 128) * 7;
        parse_error_once(ops, state, feed, cursor, page, status, body, len);
        for (size_t k = 0; k < N_ERROR_STATUSES; k++)
                parse_error_once(ops, state, feed, cursor, page, error_statuses[k], body, len);
}
