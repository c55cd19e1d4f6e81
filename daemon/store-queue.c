/* SPDX-License-Identifier: MIT */
/*
 * store-queue.c - the alert queue in SQLite: state changes with their history, listings with
 * filters, the rows behind the team's figures, escalation bookkeeping, threads and copies, and
 * retention. The rules these follow (which moves are allowed, when a step fires) are queue.c's;
 * this file only keeps them durable. Every change is one transaction, so earshotctl and the
 * daemon can act on the same alert at the same time without losing either's write.
 */
#include <errno.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "queue.h"
#include "store-internal.h"
#include "store.h"

/* ---- history -------------------------------------------------------------------------------- */

int store_event_add(Store *s, const char *alert_id, int64_t at, const char *kind,
                    const char *from_state, const char *to_state, const char *by,
                    const char *note) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = sql_prepare(s,
                            "INSERT INTO alert_events(alert_id, at_usec, kind, from_state, "
                            "to_state, by, note) VALUES(?, ?, ?, ?, ?, ?, ?)",
                            &st);
        if (r < 0)
                return r;
        sql_bind_text(st, 1, alert_id);
        sqlite3_bind_int64(st, 2, at);
        sql_bind_text(st, 3, kind);
        sql_bind_text(st, 4, from_state);
        sql_bind_text(st, 5, to_state);
        sql_bind_text(st, 6, by);
        sql_bind_text(st, 7, note);
        return sql_step_done(s, st);
}

void alert_events_free(AlertEvent *e, size_t n) {
        for (size_t i = 0; e && i < n; i++) {
                free(e[i].kind);
                free(e[i].from_state);
                free(e[i].to_state);
                free(e[i].by);
                free(e[i].note);
        }
        free(e);
}

int store_alert_events(Store *s, const char *id, AlertEvent **ret, size_t *ret_n) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        AlertEvent *list = NULL;
        size_t n = 0, cap = 0;
        int rc, r = sql_prepare(s,
                                "SELECT id, at_usec, kind, from_state, to_state, by, note "
                                "FROM alert_events WHERE alert_id = ? ORDER BY id",
                                &st);
        if (r < 0)
                return r;
        sql_bind_text(st, 1, id);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                bool oom = false;
                if (sql_grow((void **)&list, &cap, n, sizeof(AlertEvent)) < 0) {
                        alert_events_free(list, n);
                        return -ENOMEM;
                }
                AlertEvent *e = &list[n++];
                *e = (AlertEvent){.id = sqlite3_column_int64(st, 0),
                                  .at_usec = sqlite3_column_int64(st, 1)};
                e->kind = sql_column_dup_or_null(st, 2, &oom);
                e->from_state = sql_column_dup_or_null(st, 3, &oom);
                e->to_state = sql_column_dup_or_null(st, 4, &oom);
                e->by = sql_column_dup_or_null(st, 5, &oom);
                e->note = sql_column_dup_or_null(st, 6, &oom);
                if (oom) {
                        alert_events_free(list, n);
                        return -ENOMEM;
                }
        }
        if (rc != SQLITE_DONE) {
                alert_events_free(list, n);
                return sql_errno(rc);
        }
        *ret = list;
        *ret_n = n;
        return 0;
}

/* ---- finding and reading alerts -------------------------------------------------------------- */

int store_alert_find(Store *s, const char *id_or_prefix, char **ret_id) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        size_t len = strlen(id_or_prefix);
        int rc, r;

        if (len == 0 || len > 64 || strspn(id_or_prefix, "0123456789abcdef") != len)
                return -ENOENT; /* ids are lower-case hex; anything else names nothing */
        r = sql_prepare(s,
                        "SELECT id FROM alerts WHERE id >= ?1 AND id < ?1 || 'g' "
                        "ORDER BY id = ?1 DESC, id LIMIT 2",
                        &st);
        if (r < 0)
                return r;
        sql_bind_text(st, 1, id_or_prefix);
        rc = sqlite3_step(st);
        if (rc == SQLITE_DONE)
                return -ENOENT;
        if (rc != SQLITE_ROW)
                return sql_errno(rc);
        char *first = sql_column_dup(st, 0);
        if (!first)
                return -ENOMEM;
        bool exact = strcmp(first, id_or_prefix) == 0;
        rc = sqlite3_step(st);
        if (!exact && rc == SQLITE_ROW) {
                free(first);
                return -ENOTUNIQ;
        }
        *ret_id = first;
        return 0;
}

int store_alert_get(Store *s, const char *id, Alert *ret) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int rc, r = sql_prepare(s, "SELECT " ALERT_COLUMNS " FROM alerts a WHERE a.id = ?", &st);
        if (r < 0)
                return r;
        sql_bind_text(st, 1, id);
        rc = sqlite3_step(st);
        if (rc == SQLITE_DONE)
                return -ENOENT;
        if (rc != SQLITE_ROW)
                return sql_errno(rc);
        return store_read_alert(st, 0, ret);
}

void attached_posts_free(AttachedPost *p, size_t n) {
        for (size_t i = 0; p && i < n; i++) {
                free(p[i].post_key);
                free(p[i].kind);
                free(p[i].url);
                free(p[i].author_handle);
                free(p[i].text);
        }
        free(p);
}

int store_alert_posts(Store *s, const char *id, AttachedPost **ret, size_t *ret_n) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        AttachedPost *list = NULL;
        size_t n = 0, cap = 0;
        int rc, r = sql_prepare(s,
                                "SELECT post_key, kind, url, author_handle, text, created_usec, "
                                "detected_usec FROM alert_posts WHERE alert_id = ? "
                                "ORDER BY detected_usec, post_key",
                                &st);
        if (r < 0)
                return r;
        sql_bind_text(st, 1, id);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                bool oom = false;
                if (sql_grow((void **)&list, &cap, n, sizeof(AttachedPost)) < 0) {
                        attached_posts_free(list, n);
                        return -ENOMEM;
                }
                AttachedPost *p = &list[n++];
                *p = (AttachedPost){.created_usec = sqlite3_column_int64(st, 5),
                                    .detected_usec = sqlite3_column_int64(st, 6)};
                p->post_key = sql_column_dup_or_null(st, 0, &oom);
                p->kind = sql_column_dup_or_null(st, 1, &oom);
                p->url = sql_column_dup_or_null(st, 2, &oom);
                p->author_handle = sql_column_dup_or_null(st, 3, &oom);
                p->text = sql_column_dup_or_null(st, 4, &oom);
                if (oom) {
                        attached_posts_free(list, n);
                        return -ENOMEM;
                }
        }
        if (rc != SQLITE_DONE) {
                attached_posts_free(list, n);
                return sql_errno(rc);
        }
        *ret = list;
        *ret_n = n;
        return 0;
}

/* ---- state changes -------------------------------------------------------------------------- */

static int alert_state_of(Store *s, const char *id, AlertState *ret) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int rc, r = sql_prepare(s, "SELECT state FROM alerts WHERE id = ?", &st);
        if (r < 0)
                return r;
        sql_bind_text(st, 1, id);
        rc = sqlite3_step(st);
        if (rc == SQLITE_DONE)
                return -ENOENT;
        if (rc != SQLITE_ROW)
                return sql_errno(rc);
        AlertState state = alert_state_from_string((const char *)sqlite3_column_text(st, 0));
        if (state < 0)
                return -EUCLEAN; /* a state this earshot does not know: touch nothing */
        *ret = state;
        return 0;
}

int store_alert_act(Store *s, const char *id, AlertAction action, const char *by,
                    const char *note, int64_t now, AlertState *ret_from, AlertState *ret_to) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        AlertState from = _ALERT_STATE_INVALID, to = _ALERT_STATE_INVALID;
        int r;

        r = store_begin(s);
        if (r < 0)
                return r;
        r = alert_state_of(s, id, &from);
        if (r >= 0)
                r = alert_transition(from, action, &to);
        if (r < 0) {
                store_rollback(s);
                if (r == -EALREADY || r == -EPERM)
                        *ret_from = from;
                return r;
        }
        /* first times, for the figures: answering implies having seen it; resolving without
         * a recorded answer counts as the answer (it was dealt with) */
        bool acked = to == ALERT_ACKNOWLEDGED || to == ALERT_RESPONDED || to == ALERT_RESOLVED;
        bool answered = to == ALERT_RESPONDED || to == ALERT_RESOLVED;
        r = sql_prepare(s,
                        "UPDATE alerts SET state = ?2, state_usec = ?3, "
                        "acked_usec = CASE WHEN ?4 THEN COALESCE(acked_usec, ?3) "
                        "  ELSE acked_usec END, "
                        "responded_usec = CASE WHEN ?5 THEN COALESCE(responded_usec, ?3) "
                        "  ELSE responded_usec END, "
                        "resolved_usec = CASE WHEN ?6 THEN COALESCE(resolved_usec, ?3) "
                        "  ELSE resolved_usec END, "
                        /* reopened: the daemon plans the remaining steps again at once */
                        "next_escalation_usec = CASE WHEN ?7 THEN ?3 "
                        "  ELSE next_escalation_usec END "
                        "WHERE id = ?1",
                        &st);
        if (r >= 0) {
                sql_bind_text(st, 1, id);
                sql_bind_text(st, 2, alert_state_to_string(to));
                sqlite3_bind_int64(st, 3, now);
                sqlite3_bind_int(st, 4, acked);
                sqlite3_bind_int(st, 5, answered);
                sqlite3_bind_int(st, 6, to == ALERT_RESOLVED);
                sqlite3_bind_int(st, 7, to == ALERT_OPEN);
                r = sql_step_done(s, st);
        }
        if (r >= 0)
                r = store_event_add(s, id, now, alert_action_to_string(action),
                                    alert_state_to_string(from), alert_state_to_string(to), by,
                                    note);
        if (r >= 0)
                r = store_commit(s);
        if (r < 0) {
                store_rollback(s);
                return r;
        }
        *ret_from = from;
        *ret_to = to;
        return 0;
}

/* ---- listings ------------------------------------------------------------------------------- */

int store_alerts_query(Store *s, const AlertFilter *f, Alert **ret, size_t *ret_n) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        char sql[2048];
        Alert *list = NULL;
        size_t n = 0, cap = 0;
        int rc, r, k = 0;

        /* placeholders are numbered: ?1 state mask, ?2 brand, ?3 rule, ?4 network, ?5 now,
         * ?6 since, ?7 limit; a clause without its filter is switched off by its bind */
        snprintf(sql, sizeof(sql),
                 "SELECT " ALERT_COLUMNS " FROM alerts a WHERE "
                 "(CASE a.state WHEN 'open' THEN 1 WHEN 'acknowledged' THEN 2 "
                 "  WHEN 'responded' THEN 4 WHEN 'resolved' THEN 8 WHEN 'muted' THEN 16 "
                 "  WHEN 'false-positive' THEN 32 ELSE 64 END) & ?1 "
                 "AND (?2 IS NULL OR a.brand = ?2) "
                 "AND (?3 IS NULL OR EXISTS (SELECT 1 FROM json_each(a.rules) j "
                 "  WHERE j.value = ?3)) "
                 "AND (?4 IS NULL OR a.network = ?4) "
                 "AND (?5 IS NULL OR (a.due_usec < ?5 AND a.state IN ('open', 'acknowledged'))) "
                 "AND a.created_usec >= ?6 "
                 "%s"
                 "ORDER BY a.due_usec, a.priority DESC, a.id LIMIT ?7",
                 /* the index on (state, due_usec) serves the usual "what is on the clock" */
                 f->states == ((1u << ALERT_OPEN) | (1u << ALERT_ACKNOWLEDGED))
                         ? "AND a.state IN ('open', 'acknowledged') "
                         : "");
        r = sql_prepare(s, sql, &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, ++k, f->states ? f->states : 0x3f);
        sql_bind_text(st, ++k, f->brand);
        sql_bind_text(st, ++k, f->rule);
        sql_bind_text(st, ++k, f->network);
        if (f->overdue)
                sqlite3_bind_int64(st, ++k, f->now);
        else
                sqlite3_bind_null(st, ++k);
        sqlite3_bind_int64(st, ++k, f->since);
        sqlite3_bind_int64(st, ++k, f->limit ? (int64_t)f->limit : INT64_MAX);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                if (sql_grow((void **)&list, &cap, n, sizeof(Alert)) < 0) {
                        alerts_free(list, n);
                        return -ENOMEM;
                }
                r = store_read_alert(st, 0, &list[n]);
                if (r < 0) {
                        alerts_free(list, n);
                        return r;
                }
                n++;
        }
        if (rc != SQLITE_DONE) {
                alerts_free(list, n);
                return sql_errno(rc);
        }
        *ret = list;
        *ret_n = n;
        return 0;
}

void alerts_free(Alert *list, size_t n) {
        for (size_t i = 0; list && i < n; i++)
                alert_done(&list[i]);
        free(list);
}

int store_alert_times_foreach(Store *s, int64_t since,
                              int (*fn)(const AlertTimes *t, void *userdata), void *userdata) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int rc, r = sql_prepare(s,
                                "SELECT id, state, brand, network, rules, created_usec, "
                                "detected_usec, due_usec, acked_usec, responded_usec, "
                                "resolved_usec, late_usec FROM alerts WHERE created_usec >= ? "
                                "AND network != 'earshot'",
                                &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, since);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                AlertTimes t = {
                        .id = (const char *)sqlite3_column_text(st, 0),
                        .state = alert_state_from_string((const char *)sqlite3_column_text(st, 1)),
                        .brand = (const char *)sqlite3_column_text(st, 2),
                        .network = (const char *)sqlite3_column_text(st, 3),
                        .rules_json = (const char *)sqlite3_column_text(st, 4),
                        .created_usec = sqlite3_column_int64(st, 5),
                        .detected_usec = sqlite3_column_int64(st, 6),
                        .due_usec = sqlite3_column_int64(st, 7),
                        .acked_usec = sqlite3_column_int64(st, 8),
                        .responded_usec = sqlite3_column_int64(st, 9),
                        .resolved_usec = sqlite3_column_int64(st, 10),
                        .late_usec = sqlite3_column_int64(st, 11),
                };
                r = fn(&t, userdata);
                if (r != 0)
                        return r;
        }
        return rc == SQLITE_DONE ? 0 : sql_errno(rc);
}

/* ---- escalation ----------------------------------------------------------------------------- */

int store_escalations_due(Store *s, int64_t now, size_t max, Alert **ret, size_t *ret_n) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        Alert *list = NULL;
        size_t n = 0;
        int rc, r = sql_prepare(s,
                                "SELECT " ALERT_COLUMNS " FROM alerts a "
                                "WHERE a.next_escalation_usec IS NOT NULL "
                                "AND a.next_escalation_usec <= ? "
                                "ORDER BY a.next_escalation_usec, a.id LIMIT ?",
                                &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, now);
        sqlite3_bind_int64(st, 2, (int64_t)max);
        list = calloc(max ? max : 1, sizeof(Alert));
        if (!list)
                return -ENOMEM;
        while (n < max && (rc = sqlite3_step(st)) == SQLITE_ROW) {
                r = store_read_alert(st, 0, &list[n]);
                if (r < 0) {
                        alerts_free(list, n);
                        return r;
                }
                n++;
        }
        if (n < max && rc != SQLITE_DONE) {
                alerts_free(list, n);
                return sql_errno(rc);
        }
        *ret = list;
        *ret_n = n;
        return 0;
}

int store_escalation_next(Store *s, int64_t *ret) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = sql_prepare(s,
                            "SELECT MIN(next_escalation_usec) FROM alerts "
                            "WHERE next_escalation_usec IS NOT NULL",
                            &st);
        if (r < 0)
                return r;
        if (sqlite3_step(st) != SQLITE_ROW)
                return -EIO;
        if (sqlite3_column_type(st, 0) == SQLITE_NULL)
                return -ENOENT;
        *ret = sqlite3_column_int64(st, 0);
        return 0;
}

int store_alert_set_escalation(Store *s, const char *id, int64_t level, int64_t next_usec) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = sql_prepare(s,
                            "UPDATE alerts SET escalation_level = ?, next_escalation_usec = ? "
                            "WHERE id = ?",
                            &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, level);
        if (next_usec > 0)
                sqlite3_bind_int64(st, 2, next_usec);
        else
                sqlite3_bind_null(st, 2);
        sql_bind_text(st, 3, id);
        return sql_step_done(s, st);
}

int store_outbox_add_step(Store *s, const char *alert_id, const char *notifier, const char *event,
                          const char *stop_on, const char *message, int64_t next_attempt,
                          int64_t now) {
        OutboxNew o = {.alert_id = alert_id, .notifier = notifier, .event = event,
                       .stop_on = stop_on, .message = message, .next_attempt = next_attempt};
        int r = store_outbox_queue(s, &o, now);
        return r < 0 ? r : 0;
}

/* ---- threads and copies --------------------------------------------------------------------- */

static int find_one_id(Store *s, sqlite3_stmt *st, char **ret_id) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_DONE)
                return -ENOENT;
        if (rc != SQLITE_ROW)
                return sql_errno(rc);
        *ret_id = sql_column_dup(st, 0);
        return *ret_id ? 0 : -ENOMEM;
}

int store_alert_find_thread(Store *s, const char *author_key, const char *brand,
                            char **ret_id) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = sql_prepare(s,
                            "SELECT id FROM alerts WHERE author_key = ?1 AND brand IS ?2 "
                            "AND state IN ('open', 'acknowledged') "
                            "ORDER BY detected_usec DESC, id LIMIT 1",
                            &st);
        if (r < 0)
                return r;
        sql_bind_text(st, 1, author_key);
        sql_bind_text(st, 2, brand);
        return find_one_id(s, st, ret_id);
}

int store_alert_find_copy(Store *s, const char *text_key, int64_t since, const char *author_key,
                          char **ret_id) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = sql_prepare(s,
                            "SELECT id FROM alerts WHERE text_key = ?1 AND detected_usec >= ?2 "
                            "AND author_key IS NOT ?3 AND state IN ('open', 'acknowledged') "
                            "ORDER BY detected_usec, id LIMIT 1",
                            &st);
        if (r < 0)
                return r;
        sql_bind_text(st, 1, text_key);
        sqlite3_bind_int64(st, 2, since);
        sql_bind_text(st, 3, author_key);
        return find_one_id(s, st, ret_id);
}

int store_alert_attach(Store *s, const char *alert_id, const char *kind, const AttachedPost *p,
                       int64_t now) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL, *up = NULL;
        bool copy = strcmp(kind, "copy") == 0;
        int r = sql_prepare(s,
                            "INSERT OR IGNORE INTO alert_posts(post_key, alert_id, kind, url, "
                            "author_handle, text, created_usec, detected_usec) "
                            "VALUES(?, ?, ?, ?, ?, ?, ?, ?)",
                            &st);
        if (r < 0)
                return r;
        sql_bind_text(st, 1, p->post_key);
        sql_bind_text(st, 2, alert_id);
        sql_bind_text(st, 3, kind);
        sql_bind_text(st, 4, p->url);
        sql_bind_text(st, 5, p->author_handle);
        sql_bind_text(st, 6, p->text);
        sqlite3_bind_int64(st, 7, p->created_usec);
        sqlite3_bind_int64(st, 8, now);
        r = sql_step_done(s, st);
        if (r < 0)
                return r;
        if (sqlite3_changes(s->db) == 0)
                return 0; /* attached before */
        r = sql_prepare(s,
                        copy ? "UPDATE alerts SET copies = copies + 1 WHERE id = ?"
                             : "UPDATE alerts SET posts = posts + 1 WHERE id = ?",
                        &up);
        if (r < 0)
                return r;
        sql_bind_text(up, 1, alert_id);
        r = sql_step_done(s, up);
        if (r < 0)
                return r;
        r = store_event_add(s, alert_id, now, kind, NULL, NULL, "earshotd", p->author_handle);
        return r < 0 ? r : 1;
}

/* ---- retention ------------------------------------------------------------------------------ */

int store_prune_alerts(Store *s, int64_t closed_before) {
        _cleanup_stmt_ sqlite3_stmt *ob = NULL, *al = NULL;
        static const char closed[] = "state IN ('resolved', 'muted', 'false-positive') "
                                     "AND state_usec < ?";
        char sql[256];
        int r;

        /* the outbox refers to alerts: its rows go first (events and posts go with the alert) */
        snprintf(sql, sizeof(sql), "DELETE FROM outbox WHERE alert_id IN (SELECT id FROM alerts "
                                   "WHERE %s)", closed);
        r = sql_prepare(s, sql, &ob);
        if (r < 0)
                return r;
        sqlite3_bind_int64(ob, 1, closed_before);
        r = sql_step_done(s, ob);
        if (r < 0)
                return r;
        snprintf(sql, sizeof(sql), "DELETE FROM alerts WHERE %s", closed);
        r = sql_prepare(s, sql, &al);
        if (r < 0)
                return r;
        sqlite3_bind_int64(al, 1, closed_before);
        r = sql_step_done(s, al);
        return r < 0 ? r : sqlite3_changes(s->db);
}

int store_prune_outbox(Store *s, int64_t before) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = sql_prepare(s,
                            "DELETE FROM outbox WHERE state IN ('delivered', 'rejected', "
                            "'cancelled', 'failed') AND created_usec < ?",
                            &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, before);
        r = sql_step_done(s, st);
        return r < 0 ? r : sqlite3_changes(s->db);
}

int store_exec(Store *s, const char *sql) {
        return sql_exec(s, sql);
}

int store_data_version(Store *s, int64_t *ret) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = sql_prepare(s, "PRAGMA data_version", &st);
        if (r < 0)
                return r;
        if (sqlite3_step(st) != SQLITE_ROW)
                return -EIO;
        *ret = sqlite3_column_int64(st, 0);
        return 0;
}
