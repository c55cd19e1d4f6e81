/* SPDX-License-Identifier: MIT */
/*
 * store-outbox.c - the outbox as delivery sees it: rows queued per route, taken per notifier in
 * the order of their alerts' due times, batched into digests, given up after a maximum age,
 * listed and queued again for the operator (earshotctl deliveries / redeliver).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store-internal.h"
#include "util/cleanup.h"

#define OUTBOX_COLUMNS                                                                         \
        "o.id, o.notifier, o.event, o.attempts, o.stop_on, o.message, o.route, "             \
        "o.digest_usec, o.created_usec, o.alert_id"
#define N_OUTBOX_COLUMNS 10

int store_outbox_queue(Store *s, const OutboxNew *o, int64_t now) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = sql_prepare(s,
                            "INSERT OR IGNORE INTO outbox(alert_id, notifier, event, route, "
                            "stop_on, message, next_attempt_usec, digest_usec, created_usec) "
                            "VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)",
                            &st);
        if (r < 0)
                return r;
        if (!o->alert_id || !o->notifier || !o->event)
                return -EINVAL;
        sql_bind_text(st, 1, o->alert_id);
        sql_bind_text(st, 2, o->notifier);
        sql_bind_text(st, 3, o->event);
        sql_bind_text(st, 4, o->route);
        sql_bind_text(st, 5, o->stop_on);
        sql_bind_text(st, 6, o->message);
        sqlite3_bind_int64(st, 7, o->next_attempt);
        if (o->digest_usec > 0)
                sqlite3_bind_int64(st, 8, o->digest_usec);
        else
                sqlite3_bind_null(st, 8);
        sqlite3_bind_int64(st, 9, now);
        r = sql_step_done(s, st);
        return r < 0 ? r : sqlite3_changes(s->db) > 0;
}

/* Read rows of OUTBOX_COLUMNS followed by ALERT_COLUMNS (from a LEFT JOIN). */
static int read_items(sqlite3_stmt *st, size_t max, OutboxItem **ret, size_t *ret_n) {
        OutboxItem *items = calloc(max ? max : 1, sizeof(OutboxItem));
        size_t n = 0;
        int rc;

        if (!items)
                return -ENOMEM;
        while (n < max && (rc = sqlite3_step(st)) == SQLITE_ROW) {
                OutboxItem *it = &items[n++];
                bool oom = false;
                it->id = sqlite3_column_int64(st, 0);
                it->notifier = sql_column_dup(st, 1);
                it->event = sql_column_dup(st, 2);
                it->attempts = sqlite3_column_int64(st, 3);
                it->stop_on = sql_column_dup_or_null(st, 4, &oom);
                it->message = sql_column_dup_or_null(st, 5, &oom);
                it->route = sql_column_dup_or_null(st, 6, &oom);
                it->digest_usec = sqlite3_column_int64(st, 7);
                it->created_usec = sqlite3_column_int64(st, 8);
                it->alert_id = sql_column_dup_or_null(st, 9, &oom);
                if (!it->notifier || !it->event || oom ||
                    store_read_alert(st, N_OUTBOX_COLUMNS, &it->alert) < 0) {
                        outbox_items_free(items, n);
                        return -ENOMEM;
                }
        }
        if (n < max && rc != SQLITE_DONE) {
                outbox_items_free(items, n);
                return sql_errno(rc);
        }
        *ret = items;
        *ret_n = n;
        return 0;
}

int store_outbox_due_for(Store *s, const char *notifier, char *const *except, int64_t now,
                         size_t max, OutboxItem **ret, size_t *ret_n) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        _cleanup_free_ char *sql = NULL;
        size_t n_except = 0, len = 0;

        while (!notifier && except && except[n_except])
                n_except++;
        FILE *f = open_memstream(&sql, &len);
        if (!f)
                return -ENOMEM;
        fputs("SELECT " OUTBOX_COLUMNS ", " ALERT_COLUMNS
              " FROM outbox o LEFT JOIN alerts a ON a.id = o.alert_id "
              "WHERE o.state = 'pending' AND o.next_attempt_usec <= ?1", f);
        if (notifier)
                fputs(" AND o.notifier = ?2", f);
        else if (n_except > 0) {
                fputs(" AND o.notifier NOT IN (", f);
                for (size_t i = 0; i < n_except; i++)
                        fprintf(f, "%s?%zu", i ? ", " : "", i + 3);
                fputs(")", f);
        }
        fprintf(f, " ORDER BY COALESCE(a.due_usec, o.created_usec), o.id LIMIT %zu", max);
        if (fclose(f) != 0)
                return -ENOMEM;
        int r = sql_prepare(s, sql, &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, now);
        if (notifier)
                sql_bind_text(st, 2, notifier);
        for (size_t i = 0; i < n_except; i++)
                sql_bind_text(st, (int)i + 3, except[i]);
        return read_items(st, max, ret, ret_n);
}

int store_outbox_due(Store *s, int64_t now, size_t max, OutboxItem **ret, size_t *ret_n) {
        return store_outbox_due_for(s, NULL, NULL, now, max, ret, ret_n);
}

int store_outbox_batch(Store *s, const char *notifier, const char *route, int64_t digest_usec,
                       size_t max, OutboxItem **ret, size_t *ret_n) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = sql_prepare(s,
                            "SELECT " OUTBOX_COLUMNS ", " ALERT_COLUMNS
                            " FROM outbox o LEFT JOIN alerts a ON a.id = o.alert_id "
                            "WHERE o.state = 'pending' AND o.notifier = ?1 "
                            "AND o.route IS ?2 AND o.digest_usec = ?3 "
                            "ORDER BY COALESCE(a.due_usec, o.created_usec), o.id LIMIT ?4",
                            &st);
        if (r < 0)
                return r;
        sql_bind_text(st, 1, notifier);
        sql_bind_text(st, 2, route);
        sqlite3_bind_int64(st, 3, digest_usec);
        sqlite3_bind_int64(st, 4, (int64_t)max);
        return read_items(st, max, ret, ret_n);
}

void delivery_row_done(DeliveryRow *d) {
        free(d->alert_id);
        free(d->notifier);
        free(d->route);
        free(d->event);
        free(d->state);
        free(d->last_error);
        *d = (DeliveryRow){};
}

void delivery_rows_free(DeliveryRow *rows, size_t n) {
        for (size_t i = 0; i < n; i++)
                delivery_row_done(&rows[i]);
        free(rows);
}

#define ROW_COLUMNS                                                                            \
        "id, alert_id, notifier, route, event, state, last_error, attempts, "                \
        "next_attempt_usec, created_usec, delivered_usec, digest_usec"

static int read_row(sqlite3_stmt *st, DeliveryRow *d) {
        bool oom = false;
        *d = (DeliveryRow){
                .id = sqlite3_column_int64(st, 0),
                .alert_id = sql_column_dup_or_null(st, 1, &oom),
                .notifier = sql_column_dup_or_null(st, 2, &oom),
                .route = sql_column_dup_or_null(st, 3, &oom),
                .event = sql_column_dup_or_null(st, 4, &oom),
                .state = sql_column_dup_or_null(st, 5, &oom),
                .last_error = sql_column_dup_or_null(st, 6, &oom),
                .attempts = sqlite3_column_int64(st, 7),
                .next_attempt_usec = sqlite3_column_int64(st, 8),
                .created_usec = sqlite3_column_int64(st, 9),
                .done_usec = sqlite3_column_int64(st, 10),
                .digest_usec = sqlite3_column_int64(st, 11),
        };
        if (oom) {
                delivery_row_done(d);
                return -ENOMEM;
        }
        return 0;
}

static int read_rows(sqlite3_stmt *st, DeliveryRow **ret, size_t *ret_n) {
        DeliveryRow *rows = NULL;
        size_t n = 0, cap = 0;
        int rc;

        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                if (sql_grow((void **)&rows, &cap, n, sizeof(DeliveryRow)) < 0 ||
                    read_row(st, &rows[n]) < 0) {
                        delivery_rows_free(rows, n);
                        return -ENOMEM;
                }
                n++;
        }
        if (rc != SQLITE_DONE) {
                delivery_rows_free(rows, n);
                return sql_errno(rc);
        }
        *ret = rows;
        *ret_n = n;
        return 0;
}

int store_outbox_list(Store *s, DeliveryFilter f, size_t limit, DeliveryRow **ret,
                      size_t *ret_n) {
        static const char *const where[] = {
                [DELIVERIES_OPEN] = "state IN ('pending', 'failed', 'rejected')",
                [DELIVERIES_PENDING] = "state = 'pending'",
                [DELIVERIES_FAILED] = "state IN ('failed', 'rejected')",
                [DELIVERIES_ALL] = "1",
        };
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        char sql[512];

        if ((unsigned)f > DELIVERIES_ALL)
                return -EINVAL;
        snprintf(sql, sizeof(sql), "SELECT " ROW_COLUMNS " FROM outbox WHERE %s "
                 "ORDER BY id DESC LIMIT ?", where[f]);
        int r = sql_prepare(s, sql, &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, limit ? (int64_t)limit : -1);
        return read_rows(st, ret, ret_n);
}

int store_outbox_get(Store *s, int64_t id, DeliveryRow *ret) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = sql_prepare(s, "SELECT " ROW_COLUMNS " FROM outbox WHERE id = ?", &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, id);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_DONE)
                return -ENOENT;
        if (rc != SQLITE_ROW)
                return sql_errno(rc);
        return read_row(st, ret);
}

int store_outbox_counts(Store *s, int64_t ret[5]) {
        static const char *const states[5] = {"pending", "delivered", "failed", "rejected",
                                              "cancelled"};
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = sql_prepare(s, "SELECT state, COUNT(*) FROM outbox GROUP BY state", &st);
        int rc;
        if (r < 0)
                return r;
        memset(ret, 0, sizeof(int64_t) * 5);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                const char *state = (const char *)sqlite3_column_text(st, 0);
                for (int i = 0; state && i < 5; i++)
                        if (strcmp(state, states[i]) == 0)
                                ret[i] = sqlite3_column_int64(st, 1);
        }
        return rc == SQLITE_DONE ? 0 : sql_errno(rc);
}

int store_outbox_expire(Store *s, int64_t before, int64_t now, DeliveryRow **ret,
                        size_t *ret_n) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = sql_prepare(s,
                            "UPDATE outbox SET state = 'failed', delivered_usec = ?2 "
                            "WHERE state = 'pending' AND created_usec < ?1 "
                            "RETURNING " ROW_COLUMNS,
                            &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, before);
        sqlite3_bind_int64(st, 2, now);
        return read_rows(st, ret, ret_n);
}

int store_outbox_redeliver(Store *s, int64_t id, int64_t now) {
        DeliveryRow d;
        int r = store_outbox_get(s, id, &d);
        if (r < 0)
                return r;
        bool pending = d.state && strcmp(d.state, "pending") == 0;
        delivery_row_done(&d);
        if (pending)
                return -EALREADY;
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        r = sql_prepare(s,
                        "UPDATE outbox SET state = 'pending', attempts = 0, "
                        "next_attempt_usec = ?1, created_usec = ?1, delivered_usec = NULL, "
                        "digest_usec = NULL WHERE id = ?2",
                        &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, now);
        sqlite3_bind_int64(st, 2, id);
        return sql_step_done(s, st);
}

int64_t store_last_insert_id(Store *s) {
        return sqlite3_last_insert_rowid(s->db);
}

int store_outbox_queue_tests(Store *s, const OutboxNew *rows, size_t n, int64_t now,
                             int64_t *ret_ids) {
        /* a test row names an alert that does not exist (the dispatcher makes up the sample):
         * foreign keys are off for this connection while it is written; they can only be
         * switched outside a transaction */
        int r = sql_exec(s, "PRAGMA foreign_keys=OFF");
        if (r < 0)
                return r;
        r = sql_exec(s, "BEGIN IMMEDIATE");
        for (size_t i = 0; r >= 0 && i < n; i++) {
                r = store_outbox_queue(s, &rows[i], now);
                if (r >= 0)
                        ret_ids[i] = sqlite3_last_insert_rowid(s->db);
        }
        if (r >= 0)
                r = sql_exec(s, "COMMIT");
        if (r < 0 && !sqlite3_get_autocommit(s->db))
                (void)sql_exec(s, "ROLLBACK");
        int k = sql_exec(s, "PRAGMA foreign_keys=ON");
        return r < 0 ? r : k;
}

/* ---- source state ---------------------------------------------------------------------------- */

void state_entries_free(StateEntry *e, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(e[i].key);
                if (e[i].value)
                        explicit_bzero(e[i].value, strlen(e[i].value));
                free(e[i].value);
        }
        free(e);
}

int store_state_load(Store *s, const char *source, int64_t now, StateEntry **ret,
                     size_t *ret_n) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        StateEntry *e = NULL;
        size_t n = 0, cap = 0;
        int rc, r = sql_prepare(s,
                                "SELECT key, value, expires_usec FROM source_state "
                                "WHERE source = ? AND (expires_usec = 0 OR expires_usec > ?)",
                                &st);
        if (r < 0)
                return r;
        sql_bind_text(st, 1, source);
        sqlite3_bind_int64(st, 2, now);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                if (sql_grow((void **)&e, &cap, n, sizeof(StateEntry)) < 0)
                        goto oom;
                e[n] = (StateEntry){.key = sql_column_dup(st, 0), .value = sql_column_dup(st, 1),
                                    .expires_usec = sqlite3_column_int64(st, 2)};
                n++;
                if (!e[n - 1].key || !e[n - 1].value)
                        goto oom;
        }
        if (rc != SQLITE_DONE) {
                state_entries_free(e, n);
                return sql_errno(rc);
        }
        *ret = e;
        *ret_n = n;
        return 0;
oom:
        state_entries_free(e, n);
        return -ENOMEM;
}

int store_state_set(Store *s, const char *source, const char *key, const char *value,
                    int64_t expires_usec, int64_t now) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = sql_prepare(s,
                            value ? "INSERT INTO source_state(source, key, value, expires_usec, "
                                    "updated_usec) VALUES(?1, ?2, ?3, ?4, ?5) "
                                    "ON CONFLICT(source, key) DO UPDATE SET value = ?3, "
                                    "expires_usec = ?4, updated_usec = ?5"
                                  : "DELETE FROM source_state WHERE source = ?1 AND key = ?2",
                            &st);
        if (r < 0)
                return r;
        sql_bind_text(st, 1, source);
        sql_bind_text(st, 2, key);
        if (value) {
                sql_bind_text(st, 3, value);
                sqlite3_bind_int64(st, 4, expires_usec);
                sqlite3_bind_int64(st, 5, now);
        }
        return sql_step_done(s, st);
}

/* ---- deletions at the source ------------------------------------------------------------------ */

#define DELETED_TEXT "[deleted at the source]"

int store_post_deleted(Store *s, const char *post_key, int64_t now, char **ret_alert_id) {
        static const char *const drops[] = {
                "UPDATE seen SET text = NULL WHERE post_key = ?1",
                "UPDATE alert_posts SET text = '" DELETED_TEXT "' WHERE post_key = ?1",
        };
        int r;

        *ret_alert_id = NULL;
        for (size_t i = 0; i < ELEMENTSOF(drops); i++) {
                _cleanup_stmt_ sqlite3_stmt *st = NULL;
                r = sql_prepare(s, drops[i], &st);
                if (r < 0)
                        return r;
                sql_bind_text(st, 1, post_key);
                r = sql_step_done(s, st);
                if (r < 0)
                        return r;
        }
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        r = sql_prepare(s,
                        "UPDATE alerts SET text = '" DELETED_TEXT "', deleted_usec = ?2 "
                        "WHERE post_key = ?1 AND deleted_usec IS NULL RETURNING id",
                        &st);
        if (r < 0)
                return r;
        sql_bind_text(st, 1, post_key);
        sqlite3_bind_int64(st, 2, now);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
                *ret_alert_id = sql_column_dup(st, 0);
                if (!*ret_alert_id)
                        return -ENOMEM;
                rc = sqlite3_step(st);
        }
        if (rc != SQLITE_DONE)
                return sql_errno(rc);
        return *ret_alert_id ? 1 : 0;
}

int store_alert_find_operator(Store *s, const char *source, const char *rule, char **ret_id) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        _cleanup_free_ char *rules = NULL;
        if (asprintf(&rules, "[\"%s\"]", rule) < 0)
                return -ENOMEM;
        int r = sql_prepare(s,
                            "SELECT id FROM alerts WHERE source = ? AND network = 'earshot' "
                            "AND rules = ? AND state IN ('open', 'acknowledged') LIMIT 1",
                            &st);
        if (r < 0)
                return r;
        sql_bind_text(st, 1, source);
        sql_bind_text(st, 2, rules);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_DONE)
                return -ENOENT;
        if (rc != SQLITE_ROW)
                return sql_errno(rc);
        *ret_id = sql_column_dup(st, 0);
        return *ret_id ? 0 : -ENOMEM;
}
