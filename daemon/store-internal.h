/* SPDX-License-Identifier: MIT */
/*
 * store-internal.h - what the store's own files share: the handle and small SQLite helpers
 * (store.c: feeds, seen posts, alerts, outbox; store-queue.c: the queue's lifecycle, events,
 * listings and figures). Not for the rest of the daemon: it goes through store.h.
 */
#pragma once

#include <sqlite3.h>
#include <stdbool.h>

#include "store.h"
#include "util/cleanup.h"

struct Store {
        sqlite3 *db;
        bool read_only;
};

DEFINE_TRIVIAL_CLEANUP_FUNC(sqlite3_stmt *, sqlite3_finalize);
#define _cleanup_stmt_ _cleanup_(sqlite3_finalizep)

/* An SQLite result code as a negative errno (0 for OK, DONE and ROW). */
int sql_errno(int rc);
int sql_exec(Store *s, const char *sql);
int sql_prepare(Store *s, const char *sql, sqlite3_stmt **ret);
/* Step a statement that returns no rows we need: 0 or negative errno. */
int sql_step_done(Store *s, sqlite3_stmt *st);
/* Bind a string (copied), or NULL. */
void sql_bind_text(sqlite3_stmt *st, int i, const char *v);
/* A text column as a malloc()ed string; NULL for NULL or on OOM. */
char *sql_column_dup(sqlite3_stmt *st, int i);
/* The same, telling OOM apart from NULL through *oom. */
char *sql_column_dup_or_null(sqlite3_stmt *st, int i, bool *oom);

/* Make room for element n of a growing array (capacity doubles): 0 or -ENOMEM. */
int sql_grow(void **list, size_t *cap, size_t n, size_t elem);

/* The alert columns every listing selects (table alias a), and how to read them. */
#define ALERT_COLUMNS                                                                          \
        "a.id, a.post_key, a.source, a.feed, a.network, a.brand, a.rules, a.severity, "       \
        "a.post_id, a.url, a.text, a.author_handle, a.author_name, a.lang, a.state, "         \
        "a.author_key, a.text_key, a.escalation, "                                           \
        "a.author_followers, a.replies, a.reposts, a.likes, a.created_usec, a.detected_usec, " \
        "a.due_usec, a.respond_within_usec, a.late_usec, a.posts, a.copies, "                \
        "a.escalation_level, a.next_escalation_usec, a.state_usec, a.acked_usec, "            \
        "a.responded_usec, a.resolved_usec, a.priority"
#define N_ALERT_COLUMNS 36
int store_read_alert(sqlite3_stmt *st, int off, Alert *ret);
