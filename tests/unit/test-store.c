/* SPDX-License-Identifier: MIT */
/*
 * test-store.c - the SQLite store in a fresh temporary folder per test: schema creation and
 * migration (checked with sqlite3 directly, not through the store), refusal of a newer schema,
 * one transaction per poll (rollback leaves nothing, commit leaves everything), seen posts,
 * alerts and the outbox life cycle, feed cursors, pruning, and a read-only reader beside a
 * writer.
 */
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "store.h"
#include "util/cleanup.h"

#define TEST(n, f)                                                                                 \
        { .name = (n), .test_func = (f), .setup_func = setup, .teardown_func = teardown }

#define T_SEC INT64_C(1000000)
#define NOW (INT64_C(1785592555) * T_SEC) /* 2026-08-01T13:55:55Z */

typedef struct Fixture {
        char dir[PATH_MAX];
        char path[PATH_MAX + 32]; /* dir/earshot.db */
        Store *store;             /* opened read-write by setup */
} Fixture;

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof(*f));
        char tmpl[] = "/tmp/earshot-test-store-XXXXXX";

        if (!f || !mkdtemp(tmpl))
                return -1;
        snprintf(f->dir, sizeof(f->dir), "%s", tmpl);
        snprintf(f->path, sizeof(f->path), "%s/" STORE_FILE, f->dir);
        *state = f;
        return 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        return remove(path);
}

static int teardown(void **state) {
        Fixture *f = *state;

        store_free(f->store);
        (void)nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        free(f);
        return 0;
}

static Store *open_rw(Fixture *f) {
        if (!f->store) {
                int r = store_open(f->path, false, &f->store);
                if (r < 0)
                        fail_msg("store_open(%s) = %d (%s)", f->path, r, strerror(-r));
        }
        return f->store;
}

/* ---- sqlite3 directly, to check the store from outside ------------------------------------- */

static sqlite3 *db_open(const char *path, bool rw) {
        sqlite3 *db = NULL;
        int rc = sqlite3_open_v2(
                path, &db, rw ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE : SQLITE_OPEN_READONLY,
                NULL);
        if (rc != SQLITE_OK)
                fail_msg("sqlite3_open_v2(%s): %s", path, sqlite3_errstr(rc));
        sqlite3_busy_timeout(db, 5000);
        return db;
}

static void db_exec(sqlite3 *db, const char *sql) {
        char *err = NULL;
        if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
                fail_msg("%s: %s", sql, err ? err : "?");
}

static int64_t db_int(sqlite3 *db, const char *sql) {
        sqlite3_stmt *st = NULL;
        int64_t v;

        if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
                fail_msg("%s: %s", sql, sqlite3_errmsg(db));
        if (sqlite3_step(st) != SQLITE_ROW)
                fail_msg("%s: no row (%s)", sql, sqlite3_errmsg(db));
        v = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        return v;
}

/* One integer from a fresh read-only connection to path. */
static int64_t query_int(const char *path, const char *sql) {
        sqlite3 *db = db_open(path, false);
        int64_t v = db_int(db, sql);
        sqlite3_close(db);
        return v;
}

static void *read_all(const char *path, size_t *ret_len) {
        FILE *fp = fopen(path, "re");
        assert_non_null(fp);
        assert_int_equal(fseek(fp, 0, SEEK_END), 0);
        long len = ftell(fp);
        assert_true(len >= 0);
        rewind(fp);
        char *buf = malloc((size_t)len + 1);
        assert_non_null(buf);
        assert_int_equal(fread(buf, 1, (size_t)len, fp), (size_t)len);
        fclose(fp);
        *ret_len = (size_t)len;
        return buf;
}

/* ---- test data -------------------------------------------------------------------------- */

typedef struct TestAlert {
        char id[24];
        Alert a;
} TestAlert;

static void make_alert(TestAlert *t, const char *post_key, int64_t due) {
        alert_id_for(post_key, t->id);
        t->a = (Alert){
                .id = t->id,
                .post_key = (char *)post_key,
                .source = "mastodon-acme",
                .feed = "mastodon-acme:mastodon.example:#acme",
                .network = "mastodon",
                .brand = "acme",
                .rules_json = "[\"refund\",\"angry\"]",
                .severity = "high",
                .post_id = "113201",
                .url = "https://mastodon.example/@bob/113201",
                .text = "Acme, I want my money back! 😡",
                .author_handle = "@bob@mastodon.example",
                .author_name = "Bob",
                .lang = "en",
                .author_followers = 42,
                .replies = 1,
                .reposts = 2,
                .likes = 3,
                .created_usec = NOW - 60 * T_SEC,
                .detected_usec = NOW,
                .due_usec = due,
                .respond_within_usec = 3600 * T_SEC,
        };
}

static void insert_alert(Store *s, TestAlert *t, const char *post_key, int64_t due) {
        make_alert(t, post_key, due);
        assert_int_equal(store_alert_insert(s, &t->a), 0);
}

static void assert_alert_equal(const Alert *got, const Alert *want) {
        assert_string_equal(got->id, want->id);
        assert_string_equal(got->post_key, want->post_key);
        assert_string_equal(got->source, want->source);
        assert_string_equal(got->feed, want->feed);
        assert_string_equal(got->network, want->network);
        if (want->brand)
                assert_string_equal(got->brand, want->brand);
        else
                assert_null(got->brand);
        assert_string_equal(got->rules_json, want->rules_json);
        assert_string_equal(got->severity, want->severity);
        assert_string_equal(got->post_id, want->post_id);
        assert_string_equal(got->url, want->url);
        assert_string_equal(got->text, want->text);
        assert_string_equal(got->author_handle, want->author_handle);
        assert_string_equal(got->author_name, want->author_name);
        assert_string_equal(got->lang, want->lang);
        assert_string_equal(got->state, "open");
        assert_int_equal(got->author_followers, want->author_followers);
        assert_int_equal(got->replies, want->replies);
        assert_int_equal(got->reposts, want->reposts);
        assert_int_equal(got->likes, want->likes);
        assert_int_equal(got->created_usec, want->created_usec);
        assert_int_equal(got->detected_usec, want->detected_usec);
        assert_int_equal(got->due_usec, want->due_usec);
        assert_int_equal(got->respond_within_usec, want->respond_within_usec);
}

static bool seen_is_new(Store *s, const char *post_key) {
        bool is_new = false;
        assert_int_equal(store_seen_add(s, post_key, "feed", NOW, false, &is_new), 0);
        return is_new;
}

static size_t n_due(Store *s, int64_t now) {
        OutboxItem *items = NULL;
        size_t n = 999;
        assert_int_equal(store_outbox_due(s, now, 100, &items, &n), 0);
        outbox_items_free(items, n);
        return n;
}

/* ---- schema ------------------------------------------------------------------------------ */

static void test_open_creates_schema(void **state) {
        Fixture *f = *state;

        assert_int_not_equal(access(f->path, F_OK), 0);
        open_rw(f);
        assert_int_equal(access(f->path, F_OK), 0);
        assert_int_equal(query_int(f->path, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
        assert_int_equal(query_int(f->path, "SELECT COUNT(*) FROM sqlite_master WHERE type = "
                                            "'table' AND name IN ('feeds', 'seen', 'alerts', "
                                            "'outbox')"),
                         4);
        /* WAL, so earshotctl can read while the daemon writes */
        sqlite3 *db = db_open(f->path, false);
        sqlite3_stmt *st = NULL;
        assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
        sqlite3_finalize(st);
        sqlite3_close(db);
}

static void test_reopen_idempotent(void **state) {
        Fixture *f = *state;
        TestAlert t;

        Store *s = open_rw(f);
        assert_true(seen_is_new(s, "mastodon:https://mastodon.example/@bob/1"));
        insert_alert(s, &t, "mastodon:https://mastodon.example/@bob/1", NOW);
        f->store = store_free(f->store);
        assert_null(f->store);

        for (int i = 0; i < 3; i++) {
                s = open_rw(f);
                assert_int_equal(query_int(f->path, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
                assert_false(seen_is_new(s, "mastodon:https://mastodon.example/@bob/1"));
                int64_t n = -1;
                assert_int_equal(store_count_open_alerts(s, &n), 0);
                assert_int_equal(n, 1);
                f->store = store_free(f->store);
        }
}

static void test_newer_schema_refused(void **state) {
        Fixture *f = *state;
        size_t len_before, len_after;

        sqlite3 *db = db_open(f->path, true);
        db_exec(db, "CREATE TABLE future(x TEXT); INSERT INTO future VALUES('from earshot 9');"
                    "PRAGMA user_version = 99;");
        sqlite3_close(db);
        unsigned char *before = read_all(f->path, &len_before);

        Store *s = (Store *)0x1;
        int r_rw = store_open(f->path, false, &s);
        int r_ro = store_open(f->path, true, &s);
        unsigned char *after = read_all(f->path, &len_after);
        bool same = len_after == len_before && memcmp(after, before, len_before) == 0;
        /* byte 18 of the header: 1 = rollback journal, 2 = WAL */
        unsigned jb = len_before > 19 ? before[18] : 0, ja = len_after > 19 ? after[18] : 0;
        free(after);
        free(before);

        assert_int_equal(r_rw, -EPROTONOSUPPORT);
        assert_int_equal(r_ro, -EPROTONOSUPPORT);
        assert_ptr_equal(s, (Store *)0x1); /* untouched on failure */
        /* what a newer earshot wrote is as it was */
        assert_int_equal(query_int(f->path, "PRAGMA user_version"), 99);
        assert_int_equal(query_int(f->path, "SELECT COUNT(*) FROM sqlite_master WHERE name IN "
                                            "('feeds', 'seen', 'alerts', 'outbox')"),
                         0);
        assert_int_equal(query_int(f->path, "SELECT COUNT(*) FROM future"), 1);
        if (!same)
                fail_msg("store_open() modified a database it refused (%zu -> %zu bytes, "
                         "header journal version %u -> %u)",
                         len_before, len_after, jb, ja);
}

static void test_migrate_from_empty_file(void **state) {
        Fixture *f = *state;

        /* an empty file is a database at version 0 */
        FILE *fp = fopen(f->path, "we");
        assert_non_null(fp);
        fclose(fp);
        Store *s = open_rw(f);
        assert_int_equal(query_int(f->path, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
        assert_true(seen_is_new(s, "k"));
        assert_false(seen_is_new(s, "k"));
}

static void test_migrate_from_v0_database(void **state) {
        Fixture *f = *state;

        /* a database that exists (user_version 0) but has none of our tables yet */
        sqlite3 *db = db_open(f->path, true);
        db_exec(db, "CREATE TABLE notes(x TEXT); INSERT INTO notes VALUES('keep me');");
        assert_int_equal(db_int(db, "PRAGMA user_version"), 0);
        sqlite3_close(db);

        Store *s = open_rw(f);
        assert_int_equal(query_int(f->path, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
        assert_int_equal(query_int(f->path, "SELECT COUNT(*) FROM notes"), 1);
        int64_t n = -1;
        assert_int_equal(store_count_open_alerts(s, &n), 0);
        assert_int_equal(n, 0);
}

/* ---- transactions -------------------------------------------------------------------------- */

/* Everything one poll writes. */
static void write_poll(Store *s, TestAlert *t) {
        bool is_new = false;

        assert_int_equal(store_begin(s), 0);
        assert_int_equal(store_seen_add(s, "mastodon:p1", "feed-a", NOW, true, &is_new), 0);
        assert_true(is_new);
        insert_alert(s, t, "mastodon:p1", NOW + 3600 * T_SEC);
        assert_int_equal(store_outbox_add(s, t->id, "team-webhook", "new", NOW, NOW), 0);
        assert_int_equal(
                store_feed_success(s, "feed-a", "mastodon-acme", "cursor-1", true, NOW), 0);
}

static void test_rollback(void **state) {
        Fixture *f = *state;
        Store *s = open_rw(f);
        TestAlert t;
        int64_t n = -1, next = -1;
        char *cursor = (char *)"x";
        bool known = true;

        write_poll(s, &t);
        store_rollback(s);

        assert_int_equal(store_count_open_alerts(s, &n), 0);
        assert_int_equal(n, 0);
        assert_int_equal(store_outbox_next(s, &next), -ENOENT);
        assert_int_equal(n_due(s, INT64_MAX), 0);
        assert_int_equal(store_feed_get(s, "feed-a", &cursor, &known), 0);
        assert_null(cursor);
        assert_false(known);
        assert_int_equal(query_int(f->path, "SELECT COUNT(*) FROM seen"), 0);
        assert_true(seen_is_new(s, "mastodon:p1"));

        /* rolling back with no transaction open is harmless */
        store_rollback(s);
        assert_false(seen_is_new(s, "mastodon:p1"));
}

static void test_commit(void **state) {
        Fixture *f = *state;
        Store *s = open_rw(f);
        TestAlert t;
        int64_t n = -1, next = -1;
        char *cursor = NULL;
        bool known = false;

        write_poll(s, &t);
        /* not visible to another connection before the commit */
        assert_int_equal(query_int(f->path, "SELECT COUNT(*) FROM alerts"), 0);
        assert_int_equal(store_commit(s), 0);

        assert_int_equal(query_int(f->path, "SELECT COUNT(*) FROM alerts"), 1);
        assert_int_equal(query_int(f->path, "SELECT COUNT(*) FROM seen"), 1);
        assert_int_equal(store_count_open_alerts(s, &n), 0);
        assert_int_equal(n, 1);
        assert_int_equal(store_outbox_next(s, &next), 0);
        assert_int_equal(next, NOW);
        assert_int_equal(n_due(s, NOW), 1);
        assert_int_equal(store_feed_get(s, "feed-a", &cursor, &known), 0);
        assert_string_equal(cursor, "cursor-1");
        assert_true(known);
        free(cursor);
        assert_false(seen_is_new(s, "mastodon:p1"));
}

static void test_seen_twice(void **state) {
        Fixture *f = *state;
        Store *s = open_rw(f);
        bool is_new = false;

        assert_int_equal(store_seen_add(s, "mastodon:p1", "feed-a", NOW, false, &is_new), 0);
        assert_true(is_new);
        is_new = true;
        assert_int_equal(store_seen_add(s, "mastodon:p1", "feed-a", NOW + 5, true, &is_new), 0);
        assert_false(is_new);
        /* the same post seen through another feed is still the same post */
        is_new = true;
        assert_int_equal(store_seen_add(s, "mastodon:p1", "feed-b", NOW + 9, false, &is_new), 0);
        assert_false(is_new);
        assert_true(seen_is_new(s, "mastodon:p2"));
        assert_int_equal(query_int(f->path, "SELECT COUNT(*) FROM seen"), 2);
}

static void test_alert_twice(void **state) {
        Fixture *f = *state;
        Store *s = open_rw(f);
        TestAlert t, t2;
        int64_t n = -1;

        insert_alert(s, &t, "mastodon:p1", NOW);
        assert_int_equal(store_alert_insert(s, &t.a), -EEXIST);
        /* the same post under another id is still the same post */
        make_alert(&t2, "mastodon:p1", NOW + 1);
        snprintf(t2.id, sizeof(t2.id), "0123456789abcdef");
        assert_int_equal(store_alert_insert(s, &t2.a), -EEXIST);
        assert_int_equal(store_count_open_alerts(s, &n), 0);
        assert_int_equal(n, 1);
        /* and the failed inserts did not break the connection */
        insert_alert(s, &t2, "mastodon:p2", NOW);
        assert_int_equal(store_count_open_alerts(s, &n), 0);
        assert_int_equal(n, 2);
}

/* ---- the outbox ---------------------------------------------------------------------------- */

static void test_outbox_due(void **state) {
        Fixture *f = *state;
        Store *s = open_rw(f);
        TestAlert a1, a2, a3;
        OutboxItem *items = NULL;
        size_t n = 0;

        insert_alert(s, &a1, "mastodon:p1", NOW + 100);
        insert_alert(s, &a2, "mastodon:p2", NOW + 200);
        make_alert(&a3, "mastodon:p3", NOW + 300);
        a3.a.brand = NULL;
        a3.a.text = "no brand on this one";
        assert_int_equal(store_alert_insert(s, &a3.a), 0);
        /* added out of order */
        assert_int_equal(store_outbox_add(s, a2.id, "team-webhook", "new", NOW + 20, NOW), 0);
        assert_int_equal(store_outbox_add(s, a1.id, "team-webhook", "new", NOW + 10, NOW), 0);
        assert_int_equal(store_outbox_add(s, a3.id, "journal", "new", NOW + 30, NOW), 0);

        assert_int_equal(n_due(s, NOW), 0);
        assert_int_equal(n_due(s, NOW + 9), 0);

        assert_int_equal(store_outbox_due(s, NOW + 10, 100, &items, &n), 0);
        assert_int_equal(n, 1);
        assert_true(items[0].id > 0);
        assert_string_equal(items[0].notifier, "team-webhook");
        assert_string_equal(items[0].event, "new");
        assert_int_equal(items[0].attempts, 0);
        assert_alert_equal(&items[0].alert, &a1.a);
        outbox_items_free(items, n);

        /* oldest first; max respected */
        assert_int_equal(store_outbox_due(s, NOW + 25, 100, &items, &n), 0);
        assert_int_equal(n, 2);
        assert_string_equal(items[0].alert.id, a1.id);
        assert_string_equal(items[1].alert.id, a2.id);
        assert_alert_equal(&items[1].alert, &a2.a);
        outbox_items_free(items, n);
        assert_int_equal(store_outbox_due(s, NOW + 1000, 2, &items, &n), 0);
        assert_int_equal(n, 2);
        assert_string_equal(items[1].alert.id, a2.id);
        outbox_items_free(items, n);

        assert_int_equal(store_outbox_due(s, NOW + 1000, 100, &items, &n), 0);
        assert_int_equal(n, 3);
        assert_string_equal(items[2].notifier, "journal");
        assert_alert_equal(&items[2].alert, &a3.a);
        assert_null(items[2].alert.brand);
        outbox_items_free(items, n);

        int64_t next = 0;
        assert_int_equal(store_outbox_next(s, &next), 0);
        assert_int_equal(next, NOW + 10);
}

static void test_outbox_retry(void **state) {
        Fixture *f = *state;
        Store *s = open_rw(f);
        TestAlert a1, a2;
        OutboxItem *items = NULL;
        size_t n = 0;
        int64_t next = 0;

        insert_alert(s, &a1, "mastodon:p1", NOW);
        insert_alert(s, &a2, "mastodon:p2", NOW);
        assert_int_equal(store_outbox_add(s, a1.id, "team-webhook", "new", NOW, NOW), 0);
        assert_int_equal(store_outbox_add(s, a2.id, "team-webhook", "new", NOW + 50, NOW), 0);
        assert_int_equal(store_outbox_due(s, NOW, 10, &items, &n), 0);
        assert_int_equal(n, 1);
        int64_t id = items[0].id;
        outbox_items_free(items, n);

        assert_int_equal(store_outbox_retry(s, id, NOW + 100, "HTTP 503"), 0);
        assert_int_equal(n_due(s, NOW), 0);
        assert_int_equal(n_due(s, NOW + 99), 1); /* only a2 */
        assert_int_equal(store_outbox_next(s, &next), 0);
        assert_int_equal(next, NOW + 50);

        /* both due: the most urgent alert first (equal due times: the row queued first),
         * whatever the retry times */
        assert_int_equal(store_outbox_due(s, NOW + 100, 10, &items, &n), 0);
        assert_int_equal(n, 2);
        assert_int_equal(items[0].id, id);
        assert_int_equal(items[0].attempts, 1);
        assert_string_equal(items[1].alert.id, a2.id);
        assert_int_equal(items[1].attempts, 0);
        outbox_items_free(items, n);

        assert_int_equal(store_outbox_retry(s, id, NOW + 200, "HTTP 503"), 0);
        assert_int_equal(store_outbox_due(s, NOW + 200, 10, &items, &n), 0);
        assert_int_equal(n, 2);
        assert_int_equal(items[0].id, id);
        assert_int_equal(items[0].attempts, 2);
        outbox_items_free(items, n);
}

static void test_outbox_delivered_rejected(void **state) {
        Fixture *f = *state;
        Store *s = open_rw(f);
        TestAlert a1, a2;
        OutboxItem *items = NULL;
        size_t n = 0;
        int64_t next = 0;

        insert_alert(s, &a1, "mastodon:p1", NOW);
        insert_alert(s, &a2, "mastodon:p2", NOW);
        assert_int_equal(store_outbox_add(s, a1.id, "team-webhook", "new", NOW, NOW), 0);
        assert_int_equal(store_outbox_add(s, a2.id, "team-webhook", "new", NOW + 1, NOW), 0);
        assert_int_equal(store_outbox_due(s, NOW + 1, 10, &items, &n), 0);
        assert_int_equal(n, 2);
        int64_t id1 = items[0].id, id2 = items[1].id;
        outbox_items_free(items, n);

        assert_int_equal(store_outbox_delivered(s, id1, NOW + 2), 0);
        assert_int_equal(store_outbox_due(s, INT64_MAX, 10, &items, &n), 0);
        assert_int_equal(n, 1);
        assert_int_equal(items[0].id, id2);
        outbox_items_free(items, n);
        assert_int_equal(store_outbox_next(s, &next), 0);
        assert_int_equal(next, NOW + 1);

        assert_int_equal(store_outbox_rejected(s, id2, "HTTP 410", NOW + 3), 0);
        assert_int_equal(n_due(s, INT64_MAX), 0);
        next = 42;
        assert_int_equal(store_outbox_next(s, &next), -ENOENT);
        assert_int_equal(next, 42);
        assert_int_equal(query_int(f->path, "SELECT COUNT(*) FROM outbox"), 2); /* kept */
}

static void test_outbox_next_empty(void **state) {
        Fixture *f = *state;
        Store *s = open_rw(f);
        int64_t next = 42;

        assert_int_equal(store_outbox_next(s, &next), -ENOENT);
        assert_int_equal(next, 42);
        assert_int_equal(n_due(s, INT64_MAX), 0);
}

/* ---- feeds --------------------------------------------------------------------------------- */

static void assert_feed(Store *s, const char *feed, const char *want_cursor, bool want_known) {
        char *cursor = (char *)"garbage";
        bool known = !want_known;

        assert_int_equal(store_feed_get(s, feed, &cursor, &known), 0);
        if (want_cursor)
                assert_string_equal(cursor, want_cursor);
        else
                assert_null(cursor);
        assert_int_equal(known, want_known);
        free(cursor);
}

static void test_feed_cursor(void **state) {
        Fixture *f = *state;
        Store *s = open_rw(f);

        assert_feed(s, "feed-a", NULL, false);
        /* a preliminary response keeps its cursor, but its poll is not over: still unknown */
        assert_int_equal(store_feed_success(s, "feed-a", "mastodon-acme", "c0", false, NOW), 0);
        assert_feed(s, "feed-a", "c0", false);
        assert_int_equal(store_feed_success(s, "feed-a", "mastodon-acme", "c1", true, NOW), 0);
        assert_feed(s, "feed-a", "c1", true);
        /* a poll without a new cursor keeps the old one */
        assert_int_equal(store_feed_success(s, "feed-a", "mastodon-acme", NULL, true, NOW + 1), 0);
        assert_feed(s, "feed-a", "c1", true);
        assert_int_equal(store_feed_success(s, "feed-a", "mastodon-acme", "c2", true, NOW + 2), 0);
        assert_feed(s, "feed-a", "c2", true);
        /* a failure keeps both */
        assert_int_equal(store_feed_failure(s, "feed-a", "mastodon-acme", "HTTP 500", NOW + 3), 0);
        assert_feed(s, "feed-a", "c2", true);
        /* feeds are separate */
        assert_feed(s, "feed-b", NULL, false);
}

static void test_feed_failure_first(void **state) {
        Fixture *f = *state;
        Store *s = open_rw(f);

        /* failed polls only: the feed was never polled successfully */
        assert_int_equal(store_feed_failure(s, "feed-a", "mastodon-acme", "timeout", NOW), 0);
        assert_int_equal(store_feed_failure(s, "feed-a", "mastodon-acme", "timeout", NOW + 1), 0);
        assert_feed(s, "feed-a", NULL, false);
        assert_int_equal(store_feed_success(s, "feed-a", "mastodon-acme", NULL, true, NOW + 2), 0);
        assert_feed(s, "feed-a", NULL, true);
}

/* ---- pruning, counting, listing ---------------------------------------------------------- */

static void test_seen_prune(void **state) {
        Fixture *f = *state;
        Store *s = open_rw(f);
        TestAlert t;
        bool is_new;

        assert_int_equal(store_seen_add(s, "old-alerted", "feed", NOW - 100, true, &is_new), 0);
        assert_int_equal(store_seen_add(s, "old-plain", "feed", NOW - 100, false, &is_new), 0);
        assert_int_equal(store_seen_add(s, "old-plain2", "feed", NOW - 50, false, &is_new), 0);
        assert_int_equal(store_seen_add(s, "recent", "feed", NOW, false, &is_new), 0);
        insert_alert(s, &t, "old-alerted", NOW);

        assert_int_equal(store_seen_prune(s, NOW - 10), 2);
        assert_int_equal(query_int(f->path, "SELECT COUNT(*) FROM seen"), 2);
        assert_false(seen_is_new(s, "old-alerted")); /* open alert: kept */
        assert_false(seen_is_new(s, "recent"));
        assert_true(seen_is_new(s, "old-plain"));
        assert_true(seen_is_new(s, "old-plain2"));
        /* nothing older left */
        assert_int_equal(store_seen_prune(s, NOW - 10), 0);
}

static void test_count_open_alerts(void **state) {
        Fixture *f = *state;
        Store *s = open_rw(f);
        TestAlert t[3];
        int64_t n = -1;

        assert_int_equal(store_count_open_alerts(s, &n), 0);
        assert_int_equal(n, 0);
        insert_alert(s, &t[0], "p0", NOW);
        insert_alert(s, &t[1], "p1", NOW);
        insert_alert(s, &t[2], "p2", NOW);
        assert_int_equal(store_count_open_alerts(s, &n), 0);
        assert_int_equal(n, 3);
        /* only open ones count */
        sqlite3 *db = db_open(f->path, true);
        db_exec(db, "UPDATE alerts SET state = 'closed' WHERE post_key = 'p1'");
        sqlite3_close(db);
        assert_int_equal(store_count_open_alerts(s, &n), 0);
        assert_int_equal(n, 2);
}

static void test_list_alerts(void **state) {
        Fixture *f = *state;
        Store *s = open_rw(f);
        TestAlert t[3];
        Alert *list = NULL;
        size_t n = 99;

        assert_int_equal(store_list_alerts(s, &list, &n), 0);
        assert_int_equal(n, 0);
        free(list);

        insert_alert(s, &t[0], "late", NOW + 300);
        insert_alert(s, &t[1], "early", NOW + 100);
        insert_alert(s, &t[2], "middle", NOW + 200);
        assert_int_equal(store_list_alerts(s, &list, &n), 0);
        assert_int_equal(n, 3);
        assert_alert_equal(&list[0], &t[1].a);
        assert_alert_equal(&list[1], &t[2].a);
        assert_alert_equal(&list[2], &t[0].a);
        for (size_t i = 0; i < n; i++)
                alert_done(&list[i]);
        free(list);
}

static void test_alert_id(void **state) {
        char a[24], b[24], c[24];

        memset(a, 'x', sizeof(a));
        memset(b, 'y', sizeof(b));
        alert_id_for("mastodon:https://mastodon.example/@bob/113201", a);
        alert_id_for("mastodon:https://mastodon.example/@bob/113201", b);
        assert_string_equal(a, b);
        assert_int_equal(strlen(a), 16);
        for (size_t i = 0; i < 16; i++)
                assert_non_null(strchr("0123456789abcdef", a[i]));
        alert_id_for("mastodon:https://mastodon.example/@bob/113202", c);
        assert_int_equal(strlen(c), 16);
        assert_string_not_equal(a, c);
        alert_id_for("", c);
        assert_int_equal(strlen(c), 16);
        assert_string_not_equal(a, c);
}

/* ---- concurrency ------------------------------------------------------------------------- */

static void test_read_only_beside_writer(void **state) {
        Fixture *f = *state;
        Store *w = open_rw(f), *r = NULL;
        TestAlert t[2];
        int64_t n = -1;
        bool is_new;

        insert_alert(w, &t[0], "p0", NOW);
        /* the writer is in the middle of a poll */
        assert_int_equal(store_begin(w), 0);
        insert_alert(w, &t[1], "p1", NOW);

        assert_int_equal(store_open(f->path, true, &r), 0);
        assert_non_null(r);
        assert_int_equal(store_count_open_alerts(r, &n), 0);
        assert_int_equal(n, 1); /* committed data only, and no waiting */
        assert_int_equal(store_commit(w), 0);
        assert_int_equal(store_count_open_alerts(r, &n), 0);
        assert_int_equal(n, 2);

        Alert *list = NULL;
        size_t len = 0;
        assert_int_equal(store_list_alerts(r, &list, &len), 0);
        assert_int_equal(len, 2);
        for (size_t i = 0; i < len; i++)
                alert_done(&list[i]);
        free(list);

        /* a read-only store does not write */
        assert_true(store_seen_add(r, "p9", "feed", NOW, false, &is_new) < 0);
        assert_true(seen_is_new(w, "p9"));
        store_free(r);
}

static void test_read_only_missing(void **state) {
        Fixture *f = *state;
        Store *r = (Store *)0x1;

        /* a reader does not create a database */
        assert_true(store_open(f->path, true, &r) < 0);
        assert_ptr_equal(r, (Store *)0x1);
        assert_int_not_equal(access(f->path, F_OK), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                TEST("store/open-creates-schema", test_open_creates_schema),
                TEST("store/reopen-idempotent", test_reopen_idempotent),
                TEST("store/newer-schema-refused", test_newer_schema_refused),
                TEST("store/migrate-from-empty-file", test_migrate_from_empty_file),
                TEST("store/migrate-from-v0-database", test_migrate_from_v0_database),
                TEST("store/rollback", test_rollback),
                TEST("store/commit", test_commit),
                TEST("store/seen-twice", test_seen_twice),
                TEST("store/alert-twice", test_alert_twice),
                TEST("store/outbox-due", test_outbox_due),
                TEST("store/outbox-retry", test_outbox_retry),
                TEST("store/outbox-delivered-rejected", test_outbox_delivered_rejected),
                TEST("store/outbox-next-empty", test_outbox_next_empty),
                TEST("store/feed-cursor", test_feed_cursor),
                TEST("store/feed-failure-first", test_feed_failure_first),
                TEST("store/seen-prune", test_seen_prune),
                TEST("store/count-open-alerts", test_count_open_alerts),
                TEST("store/list-alerts", test_list_alerts),
                TEST("store/alert-id", test_alert_id),
                TEST("store/read-only-beside-writer", test_read_only_beside_writer),
                TEST("store/read-only-missing", test_read_only_missing),
        };

        return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
