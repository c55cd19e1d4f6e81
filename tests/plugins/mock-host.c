/* SPDX-License-Identifier: MIT */
/*
 * mock-host.c - the core's side of the plugin ABI, for unit tests. Text conversion and time
 * parsing are the daemon's own functions, so a plugin test sees exactly what earshotd would
 * make of a response. Everything a plugin hands over is copied, as the header promises, so a
 * plugin that frees its buffers right after emit_post() is tested the way it will run.
 * A post that breaks the header's contract (missing id, network or text, wrong size) fails
 * the test on the spot.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include "mock-host.h"
#include "normalize.h"
#include "time-util.h"

#ifndef FIXTURES_DIR
#define FIXTURES_DIR "tests/fixtures"
#endif

static char *xstrdup(const char *s) {
        char *d;

        if (!s)
                return NULL;
        d = strdup(s);
        assert_non_null(d);
        return d;
}

static void mock_log(const struct earshot_host *host, int priority, const char *format, ...) {
        MockHost *m = host->userdata;
        va_list ap;
        char *msg = NULL;

        va_start(ap, format);
        assert_true(vasprintf(&msg, format, ap) >= 0);
        va_end(ap);
        if (getenv("MOCK_HOST_VERBOSE"))
                fprintf(stderr, "# log <%d> %s\n", priority, msg);

        MockLogLine *l = realloc(m->logs, (m->n_logs + 1) * sizeof(*l));
        assert_non_null(l);
        m->logs = l;
        m->logs[m->n_logs++] = (MockLogLine){.priority = priority, .message = msg};
}

static int64_t mock_now_usec(const struct earshot_host *host) {
        const MockHost *m = host->userdata;
        return m->now;
}

static int host_request_url(struct earshot_request *req, const char *url) {
        assert_non_null(url);
        free(req->url);
        req->url = xstrdup(url);
        return 0;
}

static int host_request_method(struct earshot_request *req, const char *method) {
        assert_non_null(method);
        free(req->method);
        req->method = xstrdup(method);
        return 0;
}

static int host_request_header(struct earshot_request *req, const char *name, const char *value) {
        char *line = NULL;

        assert_non_null(name);
        assert_non_null(value);
        /* a header must not smuggle in another one */
        assert_null(strpbrk(name, "\r\n:"));
        assert_null(strpbrk(value, "\r\n"));
        assert_true(asprintf(&line, "%s: %s", name, value) >= 0);
        char **h = realloc(req->headers, (req->n_headers + 1) * sizeof(char *));
        assert_non_null(h);
        req->headers = h;
        req->headers[req->n_headers++] = line;
        return 0;
}

static int host_request_body(struct earshot_request *req, const void *body, size_t len) {
        free(req->body);
        req->body = malloc(len + 1);
        assert_non_null(req->body);
        if (len > 0)
                memcpy(req->body, body, len);
        req->body[len] = 0;
        req->body_len = len;
        return 0;
}

static int mock_emit_post(struct earshot_sink *sink, const struct earshot_post *p) {
        assert_non_null(p);
        assert_int_equal(p->size, sizeof(struct earshot_post));
        assert_non_null(p->id);
        assert_true(p->id[0] != 0);
        assert_non_null(p->network);
        assert_true(p->network[0] != 0);
        assert_non_null(p->text);

        struct earshot_post *posts = realloc(sink->posts, (sink->n_posts + 1) * sizeof(*posts));
        assert_non_null(posts);
        sink->posts = posts;
        sink->posts[sink->n_posts++] = (struct earshot_post){
                .size = sizeof(struct earshot_post),
                .id = xstrdup(p->id),
                .network = xstrdup(p->network),
                .url = xstrdup(p->url),
                .text = xstrdup(p->text),
                .author_handle = xstrdup(p->author_handle),
                .author_name = xstrdup(p->author_name),
                .author_followers = p->author_followers,
                .lang = xstrdup(p->lang),
                .created_usec = p->created_usec,
                .replies = p->replies,
                .reposts = p->reposts,
                .likes = p->likes,
                .title = xstrdup(p->title),
                .reply_to = xstrdup(p->reply_to),
                .rating = p->rating,
                .edited_usec = p->edited_usec,
        };
        return 0;
}

static int mock_set_backoff(struct earshot_sink *sink, int64_t usec) {
        if (usec < 0)
                return -EINVAL;
        sink->backoff_usec = usec;
        sink->n_backoff++;
        return 0;
}

/* One line for a log and a table cell, as the header asks: no control characters. */
static int mock_set_error(struct earshot_sink *sink, const char *message) {
        assert_non_null(message);
        assert_true(message[0] != 0);
        for (const char *c = message; *c; c++)
                if ((unsigned char)*c < 0x20 || *c == 0x7f)
                        fail_msg("set_error: control character 0x%02x in \"%s\"", *c, message);
        assert_true(strlen(message) < 400);
        free(sink->error);
        sink->error = xstrdup(message);
        sink->n_error++;
        return 0;
}

static int mock_report_gap(struct earshot_sink *sink, int64_t from_usec, int64_t to_usec,
                           const char *reason) {
        assert_non_null(reason);
        sink->n_gaps++;
        sink->gap_from_usec = from_usec;
        sink->gap_to_usec = to_usec;
        free(sink->gap_reason);
        sink->gap_reason = xstrdup(reason);
        return 0;
}

static int mock_set_cursor(struct earshot_sink *sink, const char *cursor) {
        if (!cursor)
                return 0;
        free(sink->cursor);
        sink->cursor = xstrdup(cursor);
        sink->n_cursor++;
        return 0;
}

static int mock_next_page(struct earshot_sink *sink, const char *page) {
        assert_non_null(page);
        free(sink->page);
        sink->page = xstrdup(page);
        sink->n_page++;
        return 0;
}

static int mock_parse_time(const char *s, int64_t *ret_usec) {
        return parse_timestamp(s, ret_usec);
}

static const char *mock_format_time(int64_t usec, char *buf, size_t len) {
        return format_timestamp(buf, len, usec);
}

static char **strv_copy(const char *const *l) {
        size_t n = 0;
        while (l && l[n])
                n++;
        char **c = calloc(n + 1, sizeof(char *));
        assert_non_null(c);
        for (size_t i = 0; i < n; i++)
                c[i] = xstrdup(l[i]);
        return c;
}

static void strv_free_(char **l) {
        for (size_t i = 0; l && l[i]; i++)
                free(l[i]);
        free(l);
}

static void no_crlf(const char *what, const char *s) {
        if (s && strpbrk(s, "\r\n"))
                fail_msg("%s: CR or LF in \"%s\"", what, s);
}

static int host_request_mail(struct earshot_request *req, const char *from,
                             const char *const *rcpt) {
        assert_non_null(from);
        assert_non_null(rcpt);
        assert_non_null(rcpt[0]);
        no_crlf("request_mail from", from);
        for (const char *const *r = rcpt; *r; r++)
                no_crlf("request_mail rcpt", *r);
        free(req->mail_from);
        req->mail_from = xstrdup(from);
        strv_free_(req->mail_rcpt);
        req->mail_rcpt = strv_copy(rcpt);
        return 0;
}

static int host_request_login(struct earshot_request *req, const char *user,
                              const char *password) {
        assert_non_null(user);
        assert_non_null(password);
        free(req->user);
        free(req->password);
        req->user = xstrdup(user);
        req->password = xstrdup(password);
        return 0;
}

static int host_request_flags(struct earshot_request *req, uint32_t flags) {
        if (flags & ~EARSHOT_REQ_PLAINTEXT)
                return -EINVAL;
        req->flags = flags;
        return 0;
}

static int host_request_exec(struct earshot_request *req, const char *const *argv,
                             int64_t timeout_usec) {
        if (!argv || !argv[0] || argv[0][0] != '/' || timeout_usec <= 0)
                return -EINVAL;
        strv_free_(req->exec_argv);
        req->exec_argv = strv_copy(argv);
        req->exec_timeout = timeout_usec;
        return 0;
}

static int mock_log_fields(const struct earshot_host *host, int priority, const char *message,
                           const char *const *fields) {
        MockHost *m = host->userdata;
        for (const char *const *f = fields; f && *f; f++) {
                const char *eq = strchr(*f, '=');
                if (!eq || eq == *f || **f == '_')
                        return -EINVAL;
                for (const char *k = *f; k < eq; k++)
                        if (!((*k >= 'A' && *k <= 'Z') || (*k >= '0' && *k <= '9') || *k == '_'))
                                return -EINVAL;
        }
        MockRecord *r = realloc(m->records, (m->n_records + 1) * sizeof(*r));
        assert_non_null(r);
        m->records = r;
        m->records[m->n_records++] = (MockRecord){
                .priority = priority,
                .message = xstrdup(message ? message : ""),
                .fields = strv_copy(fields),
        };
        return 0;
}

static const char *mock_state_get(const struct earshot_host *host, const char *key) {
        MockHost *m = host->userdata;
        for (size_t i = 0; key && i < m->n_state; i++)
                if (strcmp(m->state_keys[i], key) == 0)
                        return m->state_expires[i] == 0 || m->state_expires[i] > m->now
                                       ? m->state_values[i]
                                       : NULL;
        return NULL;
}

static int mock_state_set(const struct earshot_host *host, const char *key, const char *value,
                          int64_t expires_usec) {
        MockHost *m = host->userdata;
        size_t i;
        assert_non_null(key);
        assert_true(strlen(key) > 0 && strlen(key) <= 64);
        m->n_state_set++;
        for (i = 0; i < m->n_state && strcmp(m->state_keys[i], key) != 0; i++)
                ;
        if (i == m->n_state) {
                if (!value)
                        return 0;
                assert_true(m->n_state < 32);
                m->state_keys[m->n_state++] = xstrdup(key);
                m->state_values[i] = NULL;
        }
        free(m->state_values[i]);
        if (!value) {
                free(m->state_keys[i]);
                m->n_state--;
                m->state_keys[i] = m->state_keys[m->n_state];
                m->state_values[i] = m->state_values[m->n_state];
                m->state_expires[i] = m->state_expires[m->n_state];
                return 0;
        }
        m->state_values[i] = xstrdup(value);
        m->state_expires[i] = expires_usec;
        return 0;
}

static int mock_post_deleted(struct earshot_sink *sink, const char *network, const char *id) {
        char *key = NULL;
        assert_non_null(network);
        assert_non_null(id);
        assert_true(asprintf(&key, "%s:%s", network, id) >= 0);
        char **l = realloc(sink->deleted, (sink->n_deleted + 2) * sizeof(char *));
        assert_non_null(l);
        sink->deleted = l;
        sink->deleted[sink->n_deleted++] = key;
        sink->deleted[sink->n_deleted] = NULL;
        return 0;
}

const char *mock_record_field(const MockRecord *r, const char *key) {
        size_t n = strlen(key);
        for (char **f = r->fields; f && *f; f++)
                if (strncmp(*f, key, n) == 0 && (*f)[n] == '=')
                        return *f + n + 1;
        return NULL;
}

void mock_host_init(MockHost *m) {
        *m = (MockHost){
                .host =
                        {
                                .size = sizeof(struct earshot_host),
                                .log = mock_log,
                                .now_usec = mock_now_usec,
                                .request_url = host_request_url,
                                .request_method = host_request_method,
                                .request_header = host_request_header,
                                .request_body = host_request_body,
                                .emit_post = mock_emit_post,
                                .set_cursor = mock_set_cursor,
                                .next_page = mock_next_page,
                                .html_to_text = html_to_text,
                                .parse_time = mock_parse_time,
                                .format_time = mock_format_time,
                                .set_backoff = mock_set_backoff,
                                .report_gap = mock_report_gap,
                                .set_error = mock_set_error,
                                .request_mail = host_request_mail,
                                .request_login = host_request_login,
                                .request_flags = host_request_flags,
                                .request_exec = host_request_exec,
                                .log_fields = mock_log_fields,
                                .state_get = mock_state_get,
                                .state_set = mock_state_set,
                                .post_deleted = mock_post_deleted,
                        },
                /* 2026-08-01T14:00:00Z: a little after the recorded fixtures */
                .now = INT64_C(1785592800) * 1000000,
        };
        m->host.userdata = m;
}

void mock_host_clear_logs(MockHost *m) {
        for (size_t i = 0; i < m->n_logs; i++)
                free(m->logs[i].message);
        free(m->logs);
        m->logs = NULL;
        m->n_logs = 0;
}

void mock_host_done(MockHost *m) {
        mock_host_clear_logs(m);
        for (size_t i = 0; i < m->n_records; i++) {
                free(m->records[i].message);
                strv_free_(m->records[i].fields);
        }
        free(m->records);
        m->records = NULL;
        m->n_records = 0;
        for (size_t i = 0; i < m->n_state; i++) {
                free(m->state_keys[i]);
                free(m->state_values[i]);
        }
        m->n_state = 0;
}

size_t mock_host_count_logs(const MockHost *m, int priority, const char *needle) {
        size_t n = 0;

        for (size_t i = 0; i < m->n_logs; i++)
                if ((priority < 0 || m->logs[i].priority == priority) &&
                    strstr(m->logs[i].message, needle))
                        n++;
        return n;
}

void mock_request_init(struct earshot_request *req) {
        *req = (struct earshot_request){0};
}

void mock_request_done(struct earshot_request *req) {
        free(req->method);
        free(req->url);
        for (size_t i = 0; i < req->n_headers; i++)
                free(req->headers[i]);
        free(req->headers);
        free(req->body);
        free(req->mail_from);
        strv_free_(req->mail_rcpt);
        free(req->user);
        free(req->password);
        strv_free_(req->exec_argv);
        *req = (struct earshot_request){0};
}

const char *mock_request_header(const struct earshot_request *req, const char *name) {
        size_t n = strlen(name);

        for (size_t i = 0; i < req->n_headers; i++)
                if (strncasecmp(req->headers[i], name, n) == 0 && req->headers[i][n] == ':')
                        return req->headers[i] + n + 2;
        return NULL;
}

void mock_sink_init(struct earshot_sink *sink) {
        *sink = (struct earshot_sink){0};
}

void mock_sink_done(struct earshot_sink *sink) {
        for (size_t i = 0; i < sink->n_posts; i++) {
                struct earshot_post *p = &sink->posts[i];
                free((char *)p->id);
                free((char *)p->network);
                free((char *)p->url);
                free((char *)p->text);
                free((char *)p->author_handle);
                free((char *)p->author_name);
                free((char *)p->lang);
                free((char *)p->title);
                free((char *)p->reply_to);
        }
        free(sink->posts);
        free(sink->cursor);
        free(sink->page);
        free(sink->gap_reason);
        free(sink->error);
        for (size_t i = 0; i < sink->n_deleted; i++)
                free(sink->deleted[i]);
        free(sink->deleted);
        *sink = (struct earshot_sink){0};
}

static int64_t parse_int(const char *s) {
        char *end = NULL;
        long long v;

        errno = 0;
        v = strtoll(s, &end, 10);
        assert_int_equal(errno, 0);
        assert_true(end && end != s && *end == 0);
        return (int64_t)v;
}

static int64_t parse_bool(const char *s) {
        if (strcasecmp(s, "true") == 0 || strcasecmp(s, "yes") == 0)
                return 1;
        if (strcasecmp(s, "false") == 0 || strcasecmp(s, "no") == 0)
                return 0;
        fail_msg("not a boolean: %s", s);
        return 0;
}

void mock_values_build(MockValues *mv, const struct earshot_option *options,
                       const char *const *settings) {
        size_t n = 0;

        *mv = (MockValues){0};

        /* every setting must name an option of the table */
        for (const char *const *s = settings; s && *s; s++) {
                const char *eq = strchr(*s, '=');
                bool known = false;
                assert_non_null(eq);
                for (const struct earshot_option *o = options; o->name && !known; o++)
                        known = strlen(o->name) == (size_t)(eq - *s) &&
                                strncmp(o->name, *s, (size_t)(eq - *s)) == 0;
                if (!known)
                        fail_msg("unknown option in test: %s", *s);
        }

        for (const struct earshot_option *o = options; o->name; o++, n++) {
                struct earshot_value *v = &mv->v[n];
                size_t nl = strlen(o->name), n_list = 0;
                const char *str = NULL;

                assert_true(n < MOCK_VALUES_MAX);
                *v = (struct earshot_value){.name = o->name, .type = o->type};
                for (const char *const *s = settings; s && *s; s++)
                        if (strncmp(*s, o->name, nl) == 0 && (*s)[nl] == '=') {
                                str = *s + nl + 1;
                                if (o->type == EARSHOT_OPT_STRLIST) {
                                        assert_true(n_list < MOCK_LIST_MAX);
                                        mv->lists[n][n_list++] = str;
                                }
                        }
                if (!str && o->def) {
                        str = o->def;
                        if (o->type == EARSHOT_OPT_STRLIST)
                                mv->lists[n][n_list++] = str;
                }
                if (!str)
                        continue;

                v->set = 1;
                v->str = str;
                switch (o->type) {
                case EARSHOT_OPT_INT:
                        v->num = parse_int(str);
                        break;
                case EARSHOT_OPT_BOOL:
                        v->num = parse_bool(str);
                        break;
                case EARSHOT_OPT_DURATION: {
                        usec_t u;
                        assert_int_equal(parse_duration(str, &u), 0);
                        v->num = (int64_t)u;
                        break;
                }
                case EARSHOT_OPT_STRLIST:
                        mv->lists[n][n_list] = NULL;
                        v->list = mv->lists[n];
                        v->n_list = n_list;
                        break;
                default:
                        break;
                }
        }
        mv->vals = (struct earshot_values){.n = n, .v = mv->v};
}

void mock_plugin_destroy(const struct earshot_plugin *p, void **state) {
        if (!*state)
                return;
        if (p->source)
                p->source->destroy(*state);
        else
                p->notifier->destroy(*state);
        *state = NULL;
}

int mock_plugin_create(MockHost *m, const struct earshot_plugin *p, const char *const *settings,
                       void **state, char *err, size_t err_len) {
        MockValues mv;

        mock_plugin_destroy(p, state);
        err[0] = 0;
        mock_values_build(&mv, p->options, settings);
        if (p->source)
                return p->source->create(&m->host, &mv.vals, err, err_len, state);
        return p->notifier->create(&m->host, &mv.vals, err, err_len, state);
}

struct earshot_response mock_response(int32_t status, const char *body, size_t len) {
        static const char *const no_headers[] = {NULL};
        return (struct earshot_response){
                .size = sizeof(struct earshot_response),
                .status = status,
                .url = "http://test.invalid/",
                .body = body,
                .body_len = len,
                .headers = no_headers,
                .exit_code = -1,
        };
}

char *mock_read_fixture(const char *relpath, size_t *ret_len) {
        const char *dir = getenv("EARSHOT_TEST_FIXTURES");
        char *path = NULL, *buf = NULL;
        FILE *f;
        long len;

        if (!dir || !*dir)
                dir = FIXTURES_DIR;
        assert_true(asprintf(&path, "%s/%s", dir, relpath) >= 0);
        f = fopen(path, "re");
        if (!f)
                fail_msg("cannot open fixture %s: %m", path);
        assert_int_equal(fseek(f, 0, SEEK_END), 0);
        len = ftell(f);
        assert_true(len >= 0);
        rewind(f);
        buf = malloc((size_t)len + 1);
        assert_non_null(buf);
        assert_int_equal(fread(buf, 1, (size_t)len, f), (size_t)len);
        buf[len] = 0;
        fclose(f);
        free(path);
        if (ret_len)
                *ret_len = (size_t)len;
        return buf;
}
