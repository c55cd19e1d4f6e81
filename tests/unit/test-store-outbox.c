/* SPDX-License-Identifier: MIT */
/*
 * test-store-outbox.c - the outbox as delivery sees it (rows per route and notifier, most
 * urgent first, digest batches, giving up after the maximum age, listing, redelivery, test
 * rows that name no alert), what sources keep (state), and posts deleted at their source.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "store.h"
#include "store-fixture.h"
#include "util/cleanup.h"

#define SEC INT64_C(1000000)
#define NOW (INT64_C(1785592555) * SEC) /* 2026-08-01T13:55:55Z */

static void add_alert(Store *s, const char *id, int64_t due) {
        char key[64];
        snprintf(key, sizeof(key), "mastodon:%s", id);
        Alert a = {
                .id = (char *)id,
                .post_key = key,
                .source = (char *)"src",
                .feed = (char *)"src/feed",
                .network = (char *)"mastodon",
                .brand = (char *)"acme",
                .rules_json = (char *)"[\"refund\"]",
                .severity = (char *)"low",
                .post_id = key,
                .text = (char *)"acme refund now",
                .author_followers = -1,
                .replies = -1,
                .reposts = -1,
                .likes = -1,
                .created_usec = NOW - 60 * SEC,
                .detected_usec = NOW,
                .due_usec = due,
                .respond_within_usec = due - NOW,
        };
        assert_int_equal(store_begin(s), 0);
        assert_int_equal(store_alert_insert(s, &a), 0);
        assert_int_equal(store_commit(s), 0);
}

static int64_t queue(Store *s, const char *alert, const char *notifier, const char *route,
                     const char *event, int64_t next, int64_t digest) {
        OutboxNew o = {.alert_id = alert, .notifier = notifier, .route = route, .event = event,
                       .next_attempt = next, .digest_usec = digest};
        assert_int_equal(store_outbox_queue(s, &o, NOW), 1);
        return store_last_insert_id(s);
}

static void test_queue_once_per_event(void **state) {
        Fixture *f = *state;
        Store *s = f->store;
        add_alert(s, "a1", NOW + 3600 * SEC);

        OutboxNew o = {.alert_id = "a1", .notifier = "chat", .route = "r", .event = "new",
                       .next_attempt = NOW};
        assert_int_equal(store_outbox_queue(s, &o, NOW), 1);
        assert_int_equal(store_outbox_queue(s, &o, NOW), 0); /* the same event: once */
        o.event = "escalation-1";
        assert_int_equal(store_outbox_queue(s, &o, NOW), 1);
        o.notifier = NULL;
        assert_int_equal(store_outbox_queue(s, &o, NOW), -EINVAL);
}

static void test_due_per_notifier_most_urgent_first(void **state) {
        Fixture *f = *state;
        Store *s = f->store;
        OutboxItem *items = NULL;
        size_t n = 0;

        add_alert(s, "late", NOW + 7200 * SEC);
        add_alert(s, "soon", NOW + 60 * SEC);
        add_alert(s, "mid", NOW + 600 * SEC);
        queue(s, "late", "chat", "r", "new", NOW, 0);
        queue(s, "soon", "chat", "r", "new", NOW, 0);
        queue(s, "mid", "chat", NULL, "new", NOW, 0);
        queue(s, "mid", "pager", "urgent", "new", NOW, 0);
        queue(s, "soon", "pager", "urgent", "new", NOW + 10 * SEC, 0); /* not due yet */

        assert_int_equal(store_outbox_due_for(s, "chat", NULL, NOW, 10, &items, &n), 0);
        assert_int_equal(n, 3);
        assert_string_equal(items[0].alert.id, "soon");
        assert_string_equal(items[1].alert.id, "mid");
        assert_null(items[1].route);
        assert_string_equal(items[2].alert.id, "late");
        assert_string_equal(items[0].route, "r");
        assert_string_equal(items[0].alert_id, "soon");
        outbox_items_free(items, n);

        assert_int_equal(store_outbox_due_for(s, "chat", NULL, NOW, 1, &items, &n), 0);
        assert_int_equal(n, 1);
        assert_string_equal(items[0].alert.id, "soon");
        outbox_items_free(items, n);

        /* every notifier but chat */
        char *except[] = {(char *)"chat", NULL};
        assert_int_equal(store_outbox_due_for(s, NULL, except, NOW, 10, &items, &n), 0);
        assert_int_equal(n, 1);
        assert_string_equal(items[0].notifier, "pager");
        assert_string_equal(items[0].alert.id, "mid");
        outbox_items_free(items, n);

        /* many exclusions build a valid statement */
        char *many[40];
        char names[39][16];
        for (int i = 0; i < 39; i++) {
                snprintf(names[i], sizeof(names[i]), "n%d", i);
                many[i] = names[i];
        }
        many[39] = NULL;
        assert_int_equal(store_outbox_due_for(s, NULL, many, NOW + 60 * SEC, 10, &items, &n), 0);
        assert_int_equal(n, 5);
        outbox_items_free(items, n);
}

static void test_digest_batch(void **state) {
        Fixture *f = *state;
        Store *s = f->store;
        OutboxItem *items = NULL;
        size_t n = 0;
        int64_t window = NOW + 300 * SEC;

        add_alert(s, "d1", NOW + 900 * SEC);
        add_alert(s, "d2", NOW + 100 * SEC);
        add_alert(s, "d3", NOW + 500 * SEC);
        queue(s, "d1", "chat", "quiet", "new", window, window);
        queue(s, "d2", "chat", "quiet", "new", window, window);
        queue(s, "d3", "chat", "quiet", "new", window + 300 * SEC, window + 300 * SEC);
        queue(s, "d3", "chat2", "other", "new", window, window);

        assert_int_equal(store_outbox_due_for(s, "chat", NULL, NOW, 10, &items, &n), 0);
        assert_int_equal(n, 0); /* held until the window ends */
        outbox_items_free(items, n);

        assert_int_equal(store_outbox_batch(s, "chat", "quiet", window, 100, &items, &n), 0);
        assert_int_equal(n, 2);
        assert_string_equal(items[0].alert.id, "d2"); /* most urgent first */
        assert_string_equal(items[1].alert.id, "d1");
        assert_int_equal(items[0].digest_usec, window);
        outbox_items_free(items, n);
}

static void test_expire_list_redeliver(void **state) {
        Fixture *f = *state;
        Store *s = f->store;
        DeliveryRow *rows = NULL, d;
        size_t n = 0;
        int64_t counts[5];

        add_alert(s, "x1", NOW + 60 * SEC);
        add_alert(s, "x2", NOW + 60 * SEC);
        int64_t r1 = queue(s, "x1", "hook", NULL, "new", NOW, 0);
        int64_t r2 = queue(s, "x2", "hook", NULL, "new", NOW, 0);
        assert_int_equal(store_outbox_retry(s, r1, NOW + SEC, "HTTP 503 from x: busy"), 0);
        assert_int_equal(store_outbox_delivered(s, r2, NOW), 0);

        /* nothing older than the limit yet */
        assert_int_equal(store_outbox_expire(s, NOW - SEC, NOW, &rows, &n), 0);
        assert_int_equal(n, 0);
        delivery_rows_free(rows, n);
        assert_int_equal(store_outbox_expire(s, NOW + SEC, NOW + 2 * SEC, &rows, &n), 0);
        assert_int_equal(n, 1);
        assert_int_equal(rows[0].id, r1);
        assert_string_equal(rows[0].state, "failed");
        assert_string_equal(rows[0].last_error, "HTTP 503 from x: busy");
        delivery_rows_free(rows, n);

        assert_int_equal(store_outbox_counts(s, counts), 0);
        assert_int_equal(counts[0], 0); /* pending */
        assert_int_equal(counts[1], 1); /* delivered */
        assert_int_equal(counts[2], 1); /* failed */

        assert_int_equal(store_outbox_list(s, DELIVERIES_FAILED, 0, &rows, &n), 0);
        assert_int_equal(n, 1);
        delivery_rows_free(rows, n);
        assert_int_equal(store_outbox_list(s, DELIVERIES_ALL, 1, &rows, &n), 0);
        assert_int_equal(n, 1);
        assert_int_equal(rows[0].id, r2); /* newest first, limited */
        delivery_rows_free(rows, n);

        assert_int_equal(store_outbox_redeliver(s, r1, NOW + 10 * SEC), 0);
        assert_int_equal(store_outbox_get(s, r1, &d), 0);
        assert_string_equal(d.state, "pending");
        assert_int_equal(d.attempts, 0);
        assert_int_equal(d.created_usec, NOW + 10 * SEC); /* max_age counts from now */
        delivery_row_done(&d);
        assert_int_equal(store_outbox_redeliver(s, r1, NOW), -EALREADY);
        assert_int_equal(store_outbox_redeliver(s, 424242, NOW), -ENOENT);
        assert_int_equal(store_outbox_get(s, 424242, &d), -ENOENT);
}

static void test_test_rows_name_no_alert(void **state) {
        Fixture *f = *state;
        Store *s = f->store;
        OutboxItem *items = NULL;
        size_t n = 0;
        int64_t ids[2];
        OutboxNew rows[2] = {
                {.alert_id = "test-1", .notifier = "chat", .route = "r", .event = "test",
                 .next_attempt = NOW},
                {.alert_id = "test-1", .notifier = "pager", .event = "test",
                 .next_attempt = NOW},
        };

        /* a plain row for a missing alert breaks the foreign key */
        assert_true(store_outbox_queue(s, &rows[0], NOW) < 0);
        assert_int_equal(store_outbox_queue_tests(s, rows, 2, NOW, ids), 0);
        assert_true(ids[0] > 0 && ids[1] > ids[0]);
        assert_int_equal(store_outbox_due(s, NOW, 10, &items, &n), 0);
        assert_int_equal(n, 2);
        assert_null(items[0].alert.id); /* the dispatcher makes up the sample */
        assert_string_equal(items[0].alert_id, "test-1");
        assert_string_equal(items[0].event, "test");
        outbox_items_free(items, n);
        /* and it can be finished as any row */
        assert_int_equal(store_outbox_delivered(s, ids[0], NOW), 0);
        assert_int_equal(store_outbox_rejected(s, ids[1], "HTTP 403", NOW), 0);
}

static void test_source_state(void **state) {
        Fixture *f = *state;
        Store *s = f->store;
        StateEntry *e = NULL;
        size_t n = 0;

        assert_int_equal(store_state_set(s, "sky", "session", "jwt-1", 0, NOW), 0);
        assert_int_equal(store_state_set(s, "sky", "profiles", "{}", NOW + 10 * SEC, NOW), 0);
        assert_int_equal(store_state_set(s, "other", "session", "x", 0, NOW), 0);
        assert_int_equal(store_state_set(s, "sky", "session", "jwt-2", 0, NOW), 0); /* replaced */

        assert_int_equal(store_state_load(s, "sky", NOW, &e, &n), 0);
        assert_int_equal(n, 2);
        for (size_t i = 0; i < n; i++)
                if (strcmp(e[i].key, "session") == 0)
                        assert_string_equal(e[i].value, "jwt-2");
        state_entries_free(e, n);

        /* expired values are not loaded; forgotten ones are gone */
        assert_int_equal(store_state_load(s, "sky", NOW + 11 * SEC, &e, &n), 0);
        assert_int_equal(n, 1);
        assert_string_equal(e[0].key, "session");
        state_entries_free(e, n);
        assert_int_equal(store_state_set(s, "sky", "session", NULL, 0, NOW), 0);
        assert_int_equal(store_state_load(s, "sky", NOW, &e, &n), 0);
        assert_int_equal(n, 1);
        assert_string_equal(e[0].key, "profiles");
        state_entries_free(e, n);

        /* kept across a reopen (a restart) */
        store_free(s);
        assert_int_equal(store_open(f->path, false, &f->store), 0);
        assert_int_equal(store_state_load(f->store, "other", NOW, &e, &n), 0);
        assert_int_equal(n, 1);
        assert_string_equal(e[0].value, "x");
        state_entries_free(e, n);
}

static void test_post_deleted(void **state) {
        Fixture *f = *state;
        Store *s = f->store;
        _cleanup_free_ char *id = NULL;
        Alert a = {};

        add_alert(s, "p1", NOW + 60 * SEC);
        assert_int_equal(store_post_deleted(s, "mastodon:p1", NOW, &id), 1);
        assert_string_equal(id, "p1");
        assert_int_equal(store_alert_get(s, "p1", &a), 0);
        assert_string_equal(a.text, "[deleted at the source]");
        alert_done(&a);
        free(id);
        id = NULL;
        /* once: a second delete of the same post changes nothing */
        assert_int_equal(store_post_deleted(s, "mastodon:p1", NOW, &id), 0);
        assert_null(id);
        /* a post that has no alert */
        assert_int_equal(store_post_deleted(s, "mastodon:nope", NOW, &id), 0);
        assert_null(id);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                TEST("store-outbox/queue-once-per-event", test_queue_once_per_event),
                TEST("store-outbox/due-per-notifier-most-urgent-first",
                     test_due_per_notifier_most_urgent_first),
                TEST("store-outbox/digest-batch", test_digest_batch),
                TEST("store-outbox/expire-list-redeliver", test_expire_list_redeliver),
                TEST("store-outbox/test-rows-name-no-alert", test_test_rows_name_no_alert),
                TEST("store-outbox/source-state", test_source_state),
                TEST("store-outbox/post-deleted", test_post_deleted),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
