/* SPDX-License-Identifier: MIT */
/*
 * mock-host.h - an earshot_host for plugin unit tests. It plays the core's part the way
 * earshotd does (html_to_text, parse_time and format_time are the daemon's real functions),
 * and records what a plugin asks for: requests (method, URL, headers, body), emitted posts
 * (deep copies, as the core copies them), the cursor and the next page, pauses, gaps and error
 * explanations, and every log line.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "earshot-plugin.h"

/* A request as the plugin built it; every string owned. */
struct earshot_request {
        char *method; /* NULL until request_method() is called */
        char *url;
        char **headers; /* "Name: value" */
        size_t n_headers;
        char *body;
        size_t body_len;
        char *mail_from;   /* request_mail() */
        char **mail_rcpt;  /* NULL-terminated */
        char *user, *password; /* request_login() */
        uint32_t flags;    /* request_flags() */
        char **exec_argv;  /* request_exec(), NULL-terminated */
        int64_t exec_timeout;
};

/* What one parse_response() produced; every string owned. */
struct earshot_sink {
        struct earshot_post *posts;
        size_t n_posts;
        char *cursor;      /* last set_cursor() argument */
        unsigned n_cursor; /* how many times set_cursor() was called */
        char *page;        /* last next_page() argument */
        unsigned n_page;
        int64_t backoff_usec; /* last set_backoff() argument, 0 if none */
        unsigned n_backoff;   /* set_backoff() calls */
        unsigned n_gaps;      /* report_gap() calls; the last one's values below */
        int64_t gap_from_usec, gap_to_usec;
        char *gap_reason;
        char *error;      /* last set_error() argument, or NULL */
        unsigned n_error; /* set_error() calls */
        char **deleted;   /* post_deleted() calls as "network:id", NULL-terminated */
        size_t n_deleted;
};

typedef struct MockLogLine {
        int priority;
        char *message;
} MockLogLine;

/* One log_fields() record. */
typedef struct MockRecord {
        int priority;
        char *message;
        char **fields; /* "KEY=value", NULL-terminated */
} MockRecord;

typedef struct MockHost {
        struct earshot_host host;
        int64_t now; /* what now_usec() answers */
        MockLogLine *logs;
        size_t n_logs;
        MockRecord *records;
        size_t n_records;
        /* state_get()/state_set(): what the plugin keeps, as the store would */
        char *state_keys[32], *state_values[32];
        int64_t state_expires[32];
        size_t n_state;
        unsigned n_state_set; /* state_set() calls */
} MockHost;

void mock_host_init(MockHost *m);
void mock_host_done(MockHost *m);
/* Forget the recorded log lines. */
void mock_host_clear_logs(MockHost *m);
/* Number of log lines at `priority` (or any priority if < 0) containing `needle`. */
size_t mock_host_count_logs(const MockHost *m, int priority, const char *needle);

/* The value of field KEY in a log_fields() record, or NULL. */
const char *mock_record_field(const MockRecord *r, const char *key);

void mock_request_init(struct earshot_request *req);
void mock_request_done(struct earshot_request *req);
/* The value of a header the plugin set (case-insensitive name), or NULL. */
const char *mock_request_header(const struct earshot_request *req, const char *name);

void mock_sink_init(struct earshot_sink *sink);
void mock_sink_done(struct earshot_sink *sink);

/*
 * Option values as the core hands them to create(): `settings` is a NULL-terminated list of
 * "name=value" strings (a STRLIST option takes one entry per element), checked against the
 * plugin's table; defaults are applied and INT/BOOL converted. Unknown names fail the test.
 */
#define MOCK_VALUES_MAX 16
#define MOCK_LIST_MAX 16
typedef struct MockValues {
        struct earshot_values vals;
        struct earshot_value v[MOCK_VALUES_MAX];
        const char *lists[MOCK_VALUES_MAX][MOCK_LIST_MAX + 1];
} MockValues;

void mock_values_build(MockValues *mv, const struct earshot_option *options,
                       const char *const *settings);

/*
 * Replace *state, an instance of plugin p (a source or a notifier) or NULL, with one created
 * against the mock host from `settings` as mock_values_build() takes them. Returns create()'s
 * result; its error message is in err.
 */
int mock_plugin_create(MockHost *m, const struct earshot_plugin *p, const char *const *settings,
                       void **state, char *err, size_t err_len);
/* Destroy *state, an instance of plugin p, if there is one; *state becomes NULL. */
void mock_plugin_destroy(const struct earshot_plugin *p, void **state);

/* A response with the given status and body (borrowed), and no headers. */
struct earshot_response mock_response(int32_t status, const char *body, size_t len);

/*
 * Read tests/fixtures/<relpath> ($EARSHOT_TEST_FIXTURES, else the source tree's, as meson
 * passes it). Returns a malloc()ed, NUL-terminated buffer; fails the test when missing.
 */
char *mock_read_fixture(const char *relpath, size_t *ret_len);
