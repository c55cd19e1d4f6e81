/* SPDX-License-Identifier: MIT */
/*
 * store.c - SQLite behind the daemon's durable state.
 *
 * Guarantees: the schema is versioned with PRAGMA user_version and migrated forward in one
 * transaction per step on open; a database from a newer earshot is refused rather than
 * damaged. WAL mode and synchronous=FULL make every committed poll survive a crash of the
 * process or the machine. All statements are prepared with bound parameters (post text is
 * data, never SQL). Errors come back as negative errno (-EIO, -EBUSY, -EEXIST ...); the
 * library's message is kept for the caller's log (store_errmsg()).
 */
#include <errno.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store-internal.h"
#include "store.h"
#include "util/cleanup.h"
#include "util/time-util.h"

/* Forward migrations; migrations[i] takes the schema from version i to i+1. */
static const char *const migrations[] = {
        /* 0 -> 1 */
        "CREATE TABLE feeds ("
        "  feed TEXT PRIMARY KEY,"
        "  source TEXT NOT NULL,"
        "  cursor TEXT,"
        "  polls INTEGER NOT NULL DEFAULT 0,"
        "  failures INTEGER NOT NULL DEFAULT 0,"
        "  last_error TEXT,"
        "  last_success_usec INTEGER,"
        "  last_failure_usec INTEGER"
        ");"
        "CREATE TABLE seen ("
        "  post_key TEXT PRIMARY KEY,"
        "  feed TEXT NOT NULL,"
        "  seen_usec INTEGER NOT NULL,"
        "  alerted INTEGER NOT NULL DEFAULT 0"
        ");"
        "CREATE INDEX seen_by_time ON seen(seen_usec);"
        "CREATE TABLE alerts ("
        "  id TEXT PRIMARY KEY,"
        "  post_key TEXT NOT NULL UNIQUE,"
        "  source TEXT NOT NULL,"
        "  feed TEXT NOT NULL,"
        "  network TEXT NOT NULL,"
        "  brand TEXT,"
        "  rules TEXT NOT NULL,"
        "  severity TEXT NOT NULL,"
        "  post_id TEXT NOT NULL,"
        "  url TEXT,"
        "  text TEXT NOT NULL,"
        "  author_handle TEXT,"
        "  author_name TEXT,"
        "  author_followers INTEGER NOT NULL DEFAULT -1,"
        "  lang TEXT,"
        "  replies INTEGER NOT NULL DEFAULT -1,"
        "  reposts INTEGER NOT NULL DEFAULT -1,"
        "  likes INTEGER NOT NULL DEFAULT -1,"
        "  created_usec INTEGER NOT NULL,"
        "  detected_usec INTEGER NOT NULL,"
        "  due_usec INTEGER NOT NULL,"
        "  respond_within_usec INTEGER NOT NULL,"
        "  state TEXT NOT NULL DEFAULT 'open',"
        "  escalation_level INTEGER NOT NULL DEFAULT 0"
        ");"
        "CREATE INDEX alerts_by_due ON alerts(state, due_usec);"
        "CREATE TABLE outbox ("
        "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
        "  alert_id TEXT NOT NULL REFERENCES alerts(id),"
        "  notifier TEXT NOT NULL,"
        "  event TEXT NOT NULL DEFAULT 'new',"
        "  state TEXT NOT NULL DEFAULT 'pending',"
        "  attempts INTEGER NOT NULL DEFAULT 0,"
        "  next_attempt_usec INTEGER NOT NULL,"
        "  last_error TEXT,"
        "  created_usec INTEGER NOT NULL,"
        "  delivered_usec INTEGER,"
        "  UNIQUE(alert_id, notifier, event)"
        ");"
        "CREATE INDEX outbox_pending ON outbox(state, next_attempt_usec);",
        /* 1 -> 2: what a seen post said, so that rules can be re-run over it (backtest) */
        "ALTER TABLE seen ADD COLUMN source TEXT;"
        "ALTER TABLE seen ADD COLUMN network TEXT;"
        "ALTER TABLE seen ADD COLUMN text TEXT;"
        "ALTER TABLE seen ADD COLUMN lang TEXT;"
        "ALTER TABLE seen ADD COLUMN followers INTEGER NOT NULL DEFAULT -1;"
        "ALTER TABLE seen ADD COLUMN url TEXT;"
        "ALTER TABLE seen ADD COLUMN rules TEXT;",
        /* 2 -> 3: coverage gaps, where a poll could not reach back to its cursor */
        "CREATE TABLE gaps ("
        "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
        "  feed TEXT NOT NULL,"
        "  source TEXT NOT NULL,"
        "  from_usec INTEGER NOT NULL,"
        "  to_usec INTEGER NOT NULL,"
        "  reason TEXT NOT NULL,"
        "  recorded_usec INTEGER NOT NULL"
        ");"
        "CREATE INDEX gaps_by_source ON gaps(source, recorded_usec);"
        /* ... and what `earshotctl sources` shows, and conditional GET validators */
        "ALTER TABLE feeds ADD COLUMN etag TEXT;"
        "ALTER TABLE feeds ADD COLUMN last_modified TEXT;"
        "ALTER TABLE feeds ADD COLUMN validator_url TEXT;"
        "ALTER TABLE feeds ADD COLUMN posts_seen INTEGER NOT NULL DEFAULT 0;"
        "ALTER TABLE feeds ADD COLUMN last_post_usec INTEGER;"
        "ALTER TABLE feeds ADD COLUMN next_poll_usec INTEGER;"
        "ALTER TABLE feeds ADD COLUMN ratelimit TEXT;"
        "ALTER TABLE feeds ADD COLUMN not_modified INTEGER NOT NULL DEFAULT 0;"
        "ALTER TABLE feeds ADD COLUMN silent_since_usec INTEGER;",
        /* 3 -> 4: the alert queue -- lifecycle times, priority, escalation, grouping, and the
         * history of every alert */
        "ALTER TABLE alerts ADD COLUMN priority REAL NOT NULL DEFAULT 0;"
        "ALTER TABLE alerts ADD COLUMN late_usec INTEGER NOT NULL DEFAULT 0;"
        "ALTER TABLE alerts ADD COLUMN author_key TEXT;"
        "ALTER TABLE alerts ADD COLUMN text_key TEXT;"
        "ALTER TABLE alerts ADD COLUMN posts INTEGER NOT NULL DEFAULT 1;"
        "ALTER TABLE alerts ADD COLUMN copies INTEGER NOT NULL DEFAULT 1;"
        "ALTER TABLE alerts ADD COLUMN state_usec INTEGER;"
        "ALTER TABLE alerts ADD COLUMN acked_usec INTEGER;"
        "ALTER TABLE alerts ADD COLUMN responded_usec INTEGER;"
        "ALTER TABLE alerts ADD COLUMN resolved_usec INTEGER;"
        "ALTER TABLE alerts ADD COLUMN escalation TEXT;"
        "ALTER TABLE alerts ADD COLUMN next_escalation_usec INTEGER;"
        "UPDATE alerts SET state_usec = detected_usec;"
        "DROP INDEX alerts_by_due;"
        "CREATE INDEX alerts_by_due ON alerts(state, due_usec, priority);"
        "CREATE INDEX alerts_by_time ON alerts(created_usec);"
        "CREATE INDEX alerts_by_escalation ON alerts(next_escalation_usec) "
        "  WHERE next_escalation_usec IS NOT NULL;"
        "CREATE INDEX alerts_by_author ON alerts(author_key, brand, detected_usec);"
        "CREATE INDEX alerts_by_text ON alerts(text_key, detected_usec);"
        "CREATE INDEX alerts_by_state_time ON alerts(state, state_usec);"
        "CREATE TABLE alert_events ("
        "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
        "  alert_id TEXT NOT NULL REFERENCES alerts(id) ON DELETE CASCADE,"
        "  at_usec INTEGER NOT NULL,"
        "  kind TEXT NOT NULL,"
        "  from_state TEXT,"
        "  to_state TEXT,"
        "  by TEXT,"
        "  note TEXT"
        ");"
        "CREATE INDEX alert_events_by_alert ON alert_events(alert_id, id);"
        "INSERT INTO alert_events(alert_id, at_usec, kind, to_state, by) "
        "  SELECT id, detected_usec, 'created', 'open', 'earshotd' FROM alerts;"
        "CREATE TABLE alert_posts ("
        "  post_key TEXT PRIMARY KEY,"
        "  alert_id TEXT NOT NULL REFERENCES alerts(id) ON DELETE CASCADE,"
        "  kind TEXT NOT NULL,"
        "  url TEXT,"
        "  author_handle TEXT,"
        "  text TEXT,"
        "  created_usec INTEGER NOT NULL,"
        "  detected_usec INTEGER NOT NULL"
        ");"
        "CREATE INDEX alert_posts_by_alert ON alert_posts(alert_id, detected_usec);"
        "ALTER TABLE outbox ADD COLUMN stop_on TEXT;"
        "ALTER TABLE outbox ADD COLUMN message TEXT;"
        "CREATE INDEX outbox_by_time ON outbox(state, created_usec);",
        /* 4 -> 5: routes and digests; rows that gave up are 'failed' */
        "ALTER TABLE outbox ADD COLUMN route TEXT;"
        "ALTER TABLE outbox ADD COLUMN digest_usec INTEGER;"
        "CREATE INDEX outbox_by_notifier ON outbox(notifier, state, next_attempt_usec);"
        /* ... what sources keep across restarts (sessions, tokens, caches), and posts
         * deleted at their source */
        "CREATE TABLE source_state ("
        "  source TEXT NOT NULL,"
        "  key TEXT NOT NULL,"
        "  value TEXT NOT NULL,"
        "  expires_usec INTEGER NOT NULL DEFAULT 0,"
        "  updated_usec INTEGER NOT NULL,"
        "  PRIMARY KEY(source, key)"
        ");"
        "ALTER TABLE alerts ADD COLUMN deleted_usec INTEGER;",
};

int sql_errno(int rc) {
        switch (rc & 0xff) {
        case SQLITE_OK:
        case SQLITE_DONE:
        case SQLITE_ROW:
                return 0;
        case SQLITE_NOMEM:
                return -ENOMEM;
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
                return -EBUSY;
        case SQLITE_CONSTRAINT:
                return -EEXIST;
        case SQLITE_READONLY:
        case SQLITE_PERM:
        case SQLITE_AUTH:
                return -EACCES;
        case SQLITE_CANTOPEN:
                return -ENOENT;
        case SQLITE_FULL:
                return -ENOSPC;
        case SQLITE_CORRUPT:
        case SQLITE_NOTADB:
                return -EUCLEAN;
        default:
                return -EIO;
        }
}

const char *store_errmsg(Store *s) {
        return s && s->db ? sqlite3_errmsg(s->db) : "no database";
}

int sql_exec(Store *s, const char *sql) {
        return sql_errno(sqlite3_exec(s->db, sql, NULL, NULL, NULL));
}

int sql_prepare(Store *s, const char *sql, sqlite3_stmt **ret) {
        return sql_errno(sqlite3_prepare_v2(s->db, sql, -1, ret, NULL));
}

static int get_user_version(Store *s, int *ret) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = sql_prepare(s, "PRAGMA user_version", &st);
        if (r < 0)
                return r;
        if (sqlite3_step(st) != SQLITE_ROW)
                return -EIO;
        *ret = sqlite3_column_int(st, 0);
        return 0;
}

static int migrate(Store *s) {
        int version, r;

        r = get_user_version(s, &version);
        if (r < 0)
                return r;
        if (version > STORE_SCHEMA_VERSION)
                return -EPROTONOSUPPORT; /* written by a newer earshot: do not touch */
        for (int v = version; v < STORE_SCHEMA_VERSION; v++) {
                char pragma[64];
                r = sql_exec(s, "BEGIN IMMEDIATE");
                if (r < 0)
                        return r;
                snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d", v + 1);
                r = sql_exec(s, migrations[v]);
                if (r >= 0)
                        r = sql_exec(s, pragma);
                if (r >= 0)
                        r = sql_exec(s, "COMMIT");
                if (r < 0) {
                        (void)sql_exec(s, "ROLLBACK");
                        return r;
                }
        }
        return 0;
}

int store_open(const char *path, bool read_only, Store **ret) {
        Store *s = calloc(1, sizeof(*s));
        int r;

        if (!s)
                return -ENOMEM;
        s->read_only = read_only;
        r = sql_errno(sqlite3_open_v2(
                path, &s->db,
                (read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
                        SQLITE_OPEN_NOMUTEX,
                NULL));
        if (r < 0)
                goto fail;
        sqlite3_extended_result_codes(s->db, 1);
        sqlite3_busy_timeout(s->db, 5000);
        if (!read_only) {
                int version;
                /* refuse a newer schema before changing anything in the file */
                r = get_user_version(s, &version);
                if (r >= 0 && version > STORE_SCHEMA_VERSION)
                        r = -EPROTONOSUPPORT;
                if (r >= 0)
                        r = sql_exec(s, "PRAGMA journal_mode=WAL");
                if (r >= 0)
                        r = sql_exec(s, "PRAGMA synchronous=FULL");
                if (r >= 0)
                        r = sql_exec(s, "PRAGMA foreign_keys=ON");
                if (r >= 0)
                        r = migrate(s);
        } else {
                int version;
                r = get_user_version(s, &version);
                if (r >= 0 && version != STORE_SCHEMA_VERSION)
                        r = version > STORE_SCHEMA_VERSION ? -EPROTONOSUPPORT : -ENOMEDIUM;
        }
        if (r < 0)
                goto fail;
        *ret = s;
        return 0;
fail:
        /* keep the message reachable for the caller's log through a short-lived handle */
        store_free(s);
        return r;
}

Store *store_free(Store *s) {
        if (!s)
                return NULL;
        if (s->db)
                sqlite3_close_v2(s->db);
        free(s);
        return NULL;
}

int store_begin(Store *s) {
        return sql_exec(s, "BEGIN IMMEDIATE");
}

int store_commit(Store *s) {
        return sql_exec(s, "COMMIT");
}

void store_rollback(Store *s) {
        if (!sqlite3_get_autocommit(s->db))
                (void)sql_exec(s, "ROLLBACK");
}

int sql_step_done(Store *s, sqlite3_stmt *st) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_DONE || rc == SQLITE_ROW)
                return 0;
        return sql_errno(rc);
}

void sql_bind_text(sqlite3_stmt *st, int i, const char *v) {
        if (v)
                sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
        else
                sqlite3_bind_null(st, i);
}

int sql_grow(void **list, size_t *cap, size_t n, size_t elem) {
        if (n < *cap)
                return 0;
        size_t ncap = *cap ? *cap * 2 : 16;
        void *nl = reallocarray(*list, ncap, elem);
        if (!nl)
                return -ENOMEM;
        *list = nl;
        *cap = ncap;
        return 0;
}

char *sql_column_dup(sqlite3_stmt *st, int i) {
        const unsigned char *t = sqlite3_column_text(st, i);
        return t ? strdup((const char *)t) : NULL;
}

int store_feed_get(Store *s, const char *feed, char **ret_cursor, bool *ret_known) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = sql_prepare(s, "SELECT cursor, polls FROM feeds WHERE feed = ?", &st);
        if (r < 0)
                return r;
        sql_bind_text(st, 1, feed);
        int rc = sqlite3_step(st);
        *ret_cursor = NULL;
        *ret_known = false;
        if (rc == SQLITE_ROW) {
                if (sqlite3_column_type(st, 0) != SQLITE_NULL) {
                        *ret_cursor = sql_column_dup(st, 0);
                        if (!*ret_cursor)
                                return -ENOMEM;
                }
                *ret_known = sqlite3_column_int64(st, 1) > 0;
                return 0;
        }
        return sql_errno(rc);
}

int store_feed_success(Store *s, const char *feed, const char *source, const char *cursor,
                       bool poll_done, int64_t now) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = sql_prepare(s,
                        "INSERT INTO feeds(feed, source, cursor, polls, failures, "
                        "last_success_usec) VALUES(?1, ?2, ?3, ?5, 0, ?4) "
                        "ON CONFLICT(feed) DO UPDATE SET source = ?2, "
                        "cursor = COALESCE(?3, cursor), polls = polls + ?5, failures = 0, "
                        "last_error = NULL, last_success_usec = ?4",
                        &st);
        if (r < 0)
                return r;
        sql_bind_text(st, 1, feed);
        sql_bind_text(st, 2, source);
        sql_bind_text(st, 3, cursor);
        sqlite3_bind_int64(st, 4, now);
        sqlite3_bind_int(st, 5, poll_done ? 1 : 0);
        return sql_step_done(s, st);
}

int store_feed_validators(Store *s, const char *feed, char **ret_url, char **ret_etag,
                          char **ret_last_modified) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = sql_prepare(s, "SELECT validator_url, etag, last_modified FROM feeds WHERE feed = ?",
                        &st);
        *ret_url = *ret_etag = *ret_last_modified = NULL;
        if (r < 0)
                return r;
        sql_bind_text(st, 1, feed);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_DONE)
                return 0;
        if (rc != SQLITE_ROW)
                return sql_errno(rc);
        char *u = NULL, *e = NULL, *l = NULL;
        if ((sqlite3_column_type(st, 0) != SQLITE_NULL && !(u = sql_column_dup(st, 0))) ||
            (sqlite3_column_type(st, 1) != SQLITE_NULL && !(e = sql_column_dup(st, 1))) ||
            (sqlite3_column_type(st, 2) != SQLITE_NULL && !(l = sql_column_dup(st, 2)))) {
                free(u);
                free(e);
                free(l);
                return -ENOMEM;
        }
        *ret_url = u;
        *ret_etag = e;
        *ret_last_modified = l;
        return 0;
}

int store_feed_set_validators(Store *s, const char *feed, const char *url, const char *etag,
                              const char *last_modified) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = sql_prepare(s,
                        "UPDATE feeds SET validator_url = ?2, etag = ?3, last_modified = ?4 "
                        "WHERE feed = ?1",
                        &st);
        if (r < 0)
                return r;
        sql_bind_text(st, 1, feed);
        sql_bind_text(st, 2, etag || last_modified ? url : NULL);
        sql_bind_text(st, 3, etag);
        sql_bind_text(st, 4, last_modified);
        return sql_step_done(s, st);
}

int store_feed_note(Store *s, const char *feed, int64_t n_posts, bool not_modified, int64_t now) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = sql_prepare(s,
                        "UPDATE feeds SET posts_seen = posts_seen + ?2, "
                        "last_post_usec = CASE WHEN ?2 > 0 THEN ?3 ELSE last_post_usec END, "
                        "not_modified = not_modified + ?4 WHERE feed = ?1",
                        &st);
        if (r < 0)
                return r;
        sql_bind_text(st, 1, feed);
        sqlite3_bind_int64(st, 2, n_posts);
        sqlite3_bind_int64(st, 3, now);
        sqlite3_bind_int(st, 4, not_modified);
        return sql_step_done(s, st);
}

int store_feed_schedule(Store *s, const char *feed, const char *source, int64_t next_poll,
                        const char *ratelimit) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = sql_prepare(s,
                        "INSERT INTO feeds(feed, source, next_poll_usec, ratelimit) "
                        "VALUES(?1, ?2, ?3, ?4) ON CONFLICT(feed) DO UPDATE SET "
                        "next_poll_usec = ?3, ratelimit = ?4",
                        &st);
        if (r < 0)
                return r;
        sql_bind_text(st, 1, feed);
        sql_bind_text(st, 2, source);
        sqlite3_bind_int64(st, 3, next_poll);
        sql_bind_text(st, 4, ratelimit);
        return sql_step_done(s, st);
}

int store_feed_set_silent(Store *s, const char *feed, int64_t since) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = sql_prepare(s, "UPDATE feeds SET silent_since_usec = ?2 WHERE feed = ?1", &st);
        if (r < 0)
                return r;
        sql_bind_text(st, 1, feed);
        if (since > 0)
                sqlite3_bind_int64(st, 2, since);
        else
                sqlite3_bind_null(st, 2);
        return sql_step_done(s, st);
}

/* One integer of a feed's row; 0 when the feed has no row yet or the value is NULL. */
static int feed_int64(Store *s, const char *sql, const char *feed, int64_t *ret) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = sql_prepare(s, sql, &st);
        *ret = 0;
        if (r < 0)
                return r;
        sql_bind_text(st, 1, feed);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
                *ret = sqlite3_column_int64(st, 0);
                return 0;
        }
        return rc == SQLITE_DONE ? 0 : sql_errno(rc);
}

int store_feed_silent_since(Store *s, const char *feed, int64_t *ret) {
        return feed_int64(s, "SELECT silent_since_usec FROM feeds WHERE feed = ?", feed, ret);
}

int store_feed_last_success(Store *s, const char *feed, int64_t *ret) {
        return feed_int64(s, "SELECT last_success_usec FROM feeds WHERE feed = ?", feed, ret);
}

char *sql_column_dup_or_null(sqlite3_stmt *st, int i, bool *oom) {
        if (sqlite3_column_type(st, i) == SQLITE_NULL)
                return NULL;
        char *v = sql_column_dup(st, i);
        if (!v)
                *oom = true;
        return v;
}

void feed_row_done(FeedRow *f) {
        free(f->feed);
        free(f->source);
        free(f->cursor);
        free(f->last_error);
        free(f->ratelimit);
        *f = (FeedRow){};
}

int store_list_feeds(Store *s, FeedRow **ret, size_t *ret_n) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = sql_prepare(s,
                        "SELECT feed, source, cursor, polls, failures, last_error, "
                        "last_success_usec, last_failure_usec, posts_seen, last_post_usec, "
                        "next_poll_usec, ratelimit, not_modified, silent_since_usec, "
                        "etag IS NOT NULL OR last_modified IS NOT NULL, "
                        "(SELECT COUNT(*) FROM gaps g WHERE g.feed = feeds.feed), "
                        "(SELECT MAX(recorded_usec) FROM gaps g WHERE g.feed = feeds.feed) "
                        "FROM feeds ORDER BY source, feed",
                        &st);
        FeedRow *rows = NULL;
        size_t n = 0;
        if (r < 0)
                return r;
        for (;;) {
                int rc = sqlite3_step(st);
                if (rc == SQLITE_DONE)
                        break;
                if (rc != SQLITE_ROW) {
                        r = sql_errno(rc);
                        goto fail;
                }
                FeedRow *nr = realloc(rows, (n + 1) * sizeof(FeedRow));
                if (!nr) {
                        r = -ENOMEM;
                        goto fail;
                }
                rows = nr;
                bool oom = false;
                FeedRow *f = &rows[n++];
                *f = (FeedRow){
                        .feed = sql_column_dup_or_null(st, 0, &oom),
                        .source = sql_column_dup_or_null(st, 1, &oom),
                        .cursor = sql_column_dup_or_null(st, 2, &oom),
                        .polls = sqlite3_column_int64(st, 3),
                        .failures = sqlite3_column_int64(st, 4),
                        .last_error = sql_column_dup_or_null(st, 5, &oom),
                        .last_success_usec = sqlite3_column_int64(st, 6),
                        .last_failure_usec = sqlite3_column_int64(st, 7),
                        .posts_seen = sqlite3_column_int64(st, 8),
                        .last_post_usec = sqlite3_column_int64(st, 9),
                        .next_poll_usec = sqlite3_column_int64(st, 10),
                        .ratelimit = sql_column_dup_or_null(st, 11, &oom),
                        .not_modified = sqlite3_column_int64(st, 12),
                        .silent_since_usec = sqlite3_column_int64(st, 13),
                        .conditional = sqlite3_column_int(st, 14) != 0,
                        .gaps = sqlite3_column_int64(st, 15),
                        .last_gap_usec = sqlite3_column_int64(st, 16),
                };
                if (oom) {
                        r = -ENOMEM;
                        goto fail;
                }
        }
        *ret = rows;
        *ret_n = n;
        return 0;
fail:
        for (size_t i = 0; i < n; i++)
                feed_row_done(&rows[i]);
        free(rows);
        return r;
}

int store_feed_failure(Store *s, const char *feed, const char *source, const char *error,
                       int64_t now) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = sql_prepare(s,
                        "INSERT INTO feeds(feed, source, failures, last_error, "
                        "last_failure_usec) VALUES(?1, ?2, 1, ?3, ?4) "
                        "ON CONFLICT(feed) DO UPDATE SET source = ?2, failures = failures + 1, "
                        "last_error = ?3, last_failure_usec = ?4",
                        &st);
        if (r < 0)
                return r;
        sql_bind_text(st, 1, feed);
        sql_bind_text(st, 2, source);
        sql_bind_text(st, 3, error);
        sqlite3_bind_int64(st, 4, now);
        return sql_step_done(s, st);
}

int store_seen_add(Store *s, const char *post_key, const char *feed, int64_t now, bool alerted,
                   bool *ret_new) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = sql_prepare(s,
                        "INSERT OR IGNORE INTO seen(post_key, feed, seen_usec, alerted) "
                        "VALUES(?, ?, ?, ?)",
                        &st);
        if (r < 0)
                return r;
        sql_bind_text(st, 1, post_key);
        sql_bind_text(st, 2, feed);
        sqlite3_bind_int64(st, 3, now);
        sqlite3_bind_int(st, 4, alerted);
        r = sql_step_done(s, st);
        if (r < 0)
                return r;
        *ret_new = sqlite3_changes(s->db) > 0;
        return 0;
}

int store_seen_touch(Store *s, const char *post_key, int64_t now, int64_t older_than) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = sql_prepare(s, "UPDATE seen SET seen_usec = ? WHERE post_key = ? AND seen_usec < ?",
                        &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, now);
        sql_bind_text(st, 2, post_key);
        sqlite3_bind_int64(st, 3, older_than);
        return sql_step_done(s, st);
}

int store_seen_set_post(Store *s, const char *post_key, const SeenPost *p) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = sql_prepare(s,
                        "UPDATE seen SET source = ?, network = ?, text = ?, lang = ?, "
                        "followers = ?, url = ?, rules = ? WHERE post_key = ?",
                        &st);
        if (r < 0)
                return r;
        sql_bind_text(st, 1, p->source);
        sql_bind_text(st, 2, p->network);
        sql_bind_text(st, 3, p->text);
        sql_bind_text(st, 4, p->lang);
        sqlite3_bind_int64(st, 5, p->followers);
        sql_bind_text(st, 6, p->url);
        sql_bind_text(st, 7, p->rules_json);
        sql_bind_text(st, 8, post_key);
        return sql_step_done(s, st);
}

int store_seen_foreach(Store *s, int64_t since, int (*fn)(const SeenPost *p, void *userdata),
                       void *userdata) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = sql_prepare(s,
                        "SELECT post_key, seen_usec, source, network, text, lang, followers, url, "
                        "rules FROM seen WHERE seen_usec >= ? AND text IS NOT NULL "
                        "ORDER BY seen_usec, post_key",
                        &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, since);
        for (;;) {
                int rc = sqlite3_step(st);
                if (rc == SQLITE_DONE)
                        return 0;
                if (rc != SQLITE_ROW)
                        return sql_errno(rc);
                SeenPost p = {
                        .post_key = (const char *)sqlite3_column_text(st, 0),
                        .seen_usec = sqlite3_column_int64(st, 1),
                        .source = (const char *)sqlite3_column_text(st, 2),
                        .network = (const char *)sqlite3_column_text(st, 3),
                        .text = (const char *)sqlite3_column_text(st, 4),
                        .lang = (const char *)sqlite3_column_text(st, 5),
                        .followers = sqlite3_column_int64(st, 6),
                        .url = (const char *)sqlite3_column_text(st, 7),
                        .rules_json = (const char *)sqlite3_column_text(st, 8),
                };
                r = fn(&p, userdata);
                if (r != 0)
                        return r;
        }
}

int store_gap_add(Store *s, const char *feed, const char *source, int64_t from_usec,
                  int64_t to_usec, const char *reason, int64_t now) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = sql_prepare(s,
                        "INSERT INTO gaps(feed, source, from_usec, to_usec, reason, "
                        "recorded_usec) VALUES(?, ?, ?, ?, ?, ?)",
                        &st);
        if (r < 0)
                return r;
        sql_bind_text(st, 1, feed);
        sql_bind_text(st, 2, source);
        sqlite3_bind_int64(st, 3, from_usec);
        sqlite3_bind_int64(st, 4, to_usec);
        sql_bind_text(st, 5, reason);
        sqlite3_bind_int64(st, 6, now);
        return sql_step_done(s, st);
}

int store_seen_prune(Store *s, int64_t before) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = sql_prepare(s,
                        "DELETE FROM seen WHERE seen_usec < ? AND post_key NOT IN "
                        "(SELECT post_key FROM alerts WHERE state = 'open')",
                        &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, before);
        r = sql_step_done(s, st);
        return r < 0 ? r : sqlite3_changes(s->db);
}

int store_alert_insert(Store *s, const Alert *a) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = sql_prepare(s,
                        "INSERT INTO alerts(id, post_key, source, feed, network, brand, rules, "
                        "severity, post_id, url, text, author_handle, author_name, "
                        "author_followers, lang, replies, reposts, likes, created_usec, "
                        "detected_usec, due_usec, respond_within_usec, state, priority, "
                        "late_usec, author_key, text_key, escalation, next_escalation_usec, "
                        "state_usec) "
                        "VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,'open',?,?,?,?,?,?,?20)",
                        &st);
        if (r < 0)
                return r;
        sql_bind_text(st, 1, a->id);
        sql_bind_text(st, 2, a->post_key);
        sql_bind_text(st, 3, a->source);
        sql_bind_text(st, 4, a->feed);
        sql_bind_text(st, 5, a->network);
        sql_bind_text(st, 6, a->brand);
        sql_bind_text(st, 7, a->rules_json);
        sql_bind_text(st, 8, a->severity);
        sql_bind_text(st, 9, a->post_id);
        sql_bind_text(st, 10, a->url);
        sql_bind_text(st, 11, a->text);
        sql_bind_text(st, 12, a->author_handle);
        sql_bind_text(st, 13, a->author_name);
        sqlite3_bind_int64(st, 14, a->author_followers);
        sql_bind_text(st, 15, a->lang);
        sqlite3_bind_int64(st, 16, a->replies);
        sqlite3_bind_int64(st, 17, a->reposts);
        sqlite3_bind_int64(st, 18, a->likes);
        sqlite3_bind_int64(st, 19, a->created_usec);
        sqlite3_bind_int64(st, 20, a->detected_usec);
        sqlite3_bind_int64(st, 21, a->due_usec);
        sqlite3_bind_int64(st, 22, a->respond_within_usec);
        sqlite3_bind_double(st, 23, a->priority);
        sqlite3_bind_int64(st, 24, a->late_usec > 0 ? a->late_usec : 0);
        sql_bind_text(st, 25, a->author_key);
        sql_bind_text(st, 26, a->text_key);
        sql_bind_text(st, 27, a->escalation);
        if (a->next_escalation_usec > 0)
                sqlite3_bind_int64(st, 28, a->next_escalation_usec);
        else
                sqlite3_bind_null(st, 28);
        r = sql_step_done(s, st);
        if (r < 0)
                return r;
        /* every alert's history starts with its creation (and says when it was late at once) */
        char note[64] = "";
        if (a->late_usec > 0) {
                char d[32];
                snprintf(note, sizeof(note), "late by %s when detected",
                         format_duration(d, sizeof(d), (usec_t)a->late_usec));
        }
        return store_event_add(s, a->id, a->detected_usec, "created", NULL, "open", "earshotd",
                               note[0] ? note : NULL);
}

int store_outbox_add(Store *s, const char *alert_id, const char *notifier, const char *event,
                     int64_t next_attempt, int64_t now) {
        OutboxNew o = {.alert_id = alert_id, .notifier = notifier, .event = event,
                       .next_attempt = next_attempt};
        int r = store_outbox_queue(s, &o, now);
        return r < 0 ? r : 0;
}


int store_read_alert(sqlite3_stmt *st, int off, Alert *a) {
        char **strs[] = {&a->id,          &a->post_key,  &a->source,     &a->feed,
                         &a->network,     &a->brand,     &a->rules_json, &a->severity,
                         &a->post_id,     &a->url,       &a->text,       &a->author_handle,
                         &a->author_name, &a->lang,      &a->state,      &a->author_key,
                         &a->text_key,    &a->escalation};
        int64_t *nums[] = {&a->author_followers, &a->replies,          &a->reposts,
                           &a->likes,            &a->created_usec,     &a->detected_usec,
                           &a->due_usec,         &a->respond_within_usec, &a->late_usec,
                           &a->posts,            &a->copies,           &a->escalation_level,
                           &a->next_escalation_usec, &a->state_usec,   &a->acked_usec,
                           &a->responded_usec,   &a->resolved_usec};
        int i = off;
        *a = (Alert){};
        for (size_t k = 0; k < ELEMENTSOF(strs); k++, i++) {
                if (sqlite3_column_type(st, i) != SQLITE_NULL && !(*strs[k] = sql_column_dup(st, i))) {
                        alert_done(a);
                        return -ENOMEM;
                }
        }
        for (size_t k = 0; k < ELEMENTSOF(nums); k++, i++)
                *nums[k] = sqlite3_column_int64(st, i); /* NULL reads as 0 */
        a->priority = sqlite3_column_double(st, i);
        return 0;
}

void alert_done(Alert *a) {
        char *strs[] = {a->id,          a->post_key, a->source,     a->feed,
                        a->network,     a->brand,    a->rules_json, a->severity,
                        a->post_id,     a->url,      a->text,       a->author_handle,
                        a->author_name, a->lang,     a->state,      a->author_key,
                        a->text_key,    a->escalation};
        for (size_t k = 0; k < ELEMENTSOF(strs); k++)
                free(strs[k]);
        *a = (Alert){};
}

void outbox_items_free(OutboxItem *items, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(items[i].alert_id);
                free(items[i].notifier);
                free(items[i].event);
                free(items[i].stop_on);
                free(items[i].message);
                free(items[i].route);
                alert_done(&items[i].alert);
        }
        free(items);
}

int store_outbox_next(Store *s, int64_t *ret) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = sql_prepare(s,
                        "SELECT MIN(next_attempt_usec) FROM outbox WHERE state = 'pending'",
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

int store_outbox_delivered(Store *s, int64_t id, int64_t now) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = sql_prepare(s,
                        "UPDATE outbox SET state = 'delivered', attempts = attempts + 1, "
                        "delivered_usec = ?, last_error = NULL WHERE id = ?",
                        &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, now);
        sqlite3_bind_int64(st, 2, id);
        return sql_step_done(s, st);
}

int store_outbox_retry(Store *s, int64_t id, int64_t next_attempt, const char *error) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = sql_prepare(s,
                        "UPDATE outbox SET attempts = attempts + 1, next_attempt_usec = ?, "
                        "last_error = ? WHERE id = ?",
                        &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, next_attempt);
        sql_bind_text(st, 2, error);
        sqlite3_bind_int64(st, 3, id);
        return sql_step_done(s, st);
}

/* A row that is finished without success: rejected (an attempt was made) or cancelled. */
static int outbox_close(Store *s, int64_t id, const char *state, bool attempted,
                        const char *error, int64_t now) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = sql_prepare(s,
                            "UPDATE outbox SET state = ?1, attempts = attempts + ?2, "
                            "last_error = ?3, delivered_usec = ?4 "
                            "WHERE id = ?5 AND state = 'pending'",
                            &st);
        if (r < 0)
                return r;
        sql_bind_text(st, 1, state);
        sqlite3_bind_int(st, 2, attempted ? 1 : 0);
        sql_bind_text(st, 3, error);
        sqlite3_bind_int64(st, 4, now);
        sqlite3_bind_int64(st, 5, id);
        return sql_step_done(s, st);
}

int store_outbox_rejected(Store *s, int64_t id, const char *error, int64_t now) {
        return outbox_close(s, id, "rejected", true, error, now);
}

int store_outbox_cancel(Store *s, int64_t id, const char *why, int64_t now) {
        return outbox_close(s, id, "cancelled", false, why, now);
}

int store_count_open_alerts(Store *s, int64_t *ret) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = sql_prepare(s, "SELECT COUNT(*) FROM alerts WHERE state = 'open'", &st);
        if (r < 0)
                return r;
        if (sqlite3_step(st) != SQLITE_ROW)
                return -EIO;
        *ret = sqlite3_column_int64(st, 0);
        return 0;
}

int store_list_alerts(Store *s, Alert **ret, size_t *ret_n) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        Alert *list = NULL;
        size_t n = 0, cap = 0;
        int rc, r = sql_prepare(s, "SELECT " ALERT_COLUMNS " FROM alerts a ORDER BY a.due_usec, a.id",
                            &st);
        if (r < 0)
                return r;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                if (sql_grow((void **)&list, &cap, n, sizeof(Alert)) < 0)
                        goto oom;
                if (store_read_alert(st, 0, &list[n++]) < 0)
                        goto oom;
        }
        if (rc != SQLITE_DONE) {
                for (size_t i = 0; i < n; i++)
                        alert_done(&list[i]);
                free(list);
                return sql_errno(rc);
        }
        *ret = list;
        *ret_n = n;
        return 0;
oom:
        for (size_t i = 0; i < n; i++)
                alert_done(&list[i]);
        free(list);
        return -ENOMEM;
}

void alert_id_for(const char *post_key, char buf[static 24]) {
        /* FNV-1a, 64 bit, then mixed: stable across runs and machines, so a post redetected after a crash
         * gets the id it had, and receivers can de-duplicate on it. */
        uint64_t h = UINT64_C(0xcbf29ce484222325);
        for (const unsigned char *p = (const unsigned char *)post_key; *p; p++) {
                h ^= *p;
                h *= UINT64_C(0x100000001b3);
        }
        /* splitmix64's finalizer, so that similar keys get unrelated-looking ids */
        h ^= h >> 30;
        h *= UINT64_C(0xbf58476d1ce4e5b9);
        h ^= h >> 27;
        h *= UINT64_C(0x94d049bb133111eb);
        h ^= h >> 31;
        snprintf(buf, 24, "%016" PRIx64, h);
}
