/* SPDX-License-Identifier: MIT */
/*
 * test-store-queue.c - the alert queue in SQLite, in a fresh temporary folder per test: state
 * changes with their history and first times, refused moves that change nothing, ids by unique
 * prefix, listings with filters in queue order, threads and copies, escalation bookkeeping and
 * cancellable steps, retention, and the figures' rows.
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

#include "store.h"
#include "store-fixture.h"
#include "util/cleanup.h"

#define SEC INT64_C(1000000)
#define MIN (60 * SEC)
#define NOW (INT64_C(1785592555) * SEC) /* 2026-08-01T13:55:55Z */

/* An alert with the given id, network, brand, rules, author and times. */
static void add_alert(Store *s, const char *id, const char *network, const char *brand,
                      const char *rules, const char *author, int64_t created, int64_t due,
                      double priority) {
        char key[64];
        snprintf(key, sizeof(key), "%s:%s", network, id);
        Alert a = {
                .id = (char *)id,
                .post_key = key,
                .source = (char *)"src",
                .feed = (char *)"src/feed",
                .network = (char *)network,
                .brand = (char *)brand,
                .rules_json = (char *)rules,
                .severity = (char *)"normal",
                .post_id = key,
                .text = (char *)"acme refund now",
                .author_handle = (char *)author,
                .author_key = NULL,
                .author_followers = -1,
                .replies = -1,
                .reposts = -1,
                .likes = -1,
                .created_usec = created,
                .detected_usec = created + SEC,
                .due_usec = due,
                .respond_within_usec = due - created,
                .priority = priority,
        };
        char ak[128];
        if (author) {
                snprintf(ak, sizeof(ak), "%s:%s", network, author);
                a.author_key = ak;
        }
        assert_int_equal(store_begin(s), 0);
        assert_int_equal(store_alert_insert(s, &a), 0);
        assert_int_equal(store_commit(s), 0);
}

static void test_act_history(void **state) {
        Fixture *f = *state;
        Store *s = f->store;
        AlertState from, to;
        Alert a = {};

        add_alert(s, "a1b2c3d4e5f60708", "mastodon", "acme", "[\"refunds\"]", "ann", NOW,
                  NOW + 60 * MIN, 10);
        assert_int_equal(store_alert_act(s, "a1b2c3d4e5f60708", ALERT_ACK, "maria", "on it",
                                         NOW + 5 * MIN, &from, &to),
                         0);
        assert_int_equal(from, ALERT_OPEN);
        assert_int_equal(to, ALERT_ACKNOWLEDGED);
        /* the same again: refused, nothing recorded */
        assert_int_equal(store_alert_act(s, "a1b2c3d4e5f60708", ALERT_ACK, "maria", NULL,
                                         NOW + 6 * MIN, &from, &to),
                         -EALREADY);
        assert_int_equal(from, ALERT_ACKNOWLEDGED);
        assert_int_equal(store_alert_act(s, "a1b2c3d4e5f60708", ALERT_RESPOND, "tom", NULL,
                                         NOW + 20 * MIN, &from, &to),
                         0);
        /* a responded alert cannot be muted */
        assert_int_equal(store_alert_act(s, "a1b2c3d4e5f60708", ALERT_MUTE, "tom", NULL,
                                         NOW + 21 * MIN, &from, &to),
                         -EPERM);
        assert_int_equal(store_alert_act(s, "a1b2c3d4e5f60708", ALERT_REOPEN, "lead", "not done",
                                         NOW + 30 * MIN, &from, &to),
                         0);
        assert_int_equal(store_alert_act(s, "a1b2c3d4e5f60708", ALERT_RESOLVE, "tom", NULL,
                                         NOW + 40 * MIN, &from, &to),
                         0);
        assert_int_equal(store_alert_act(s, "ffffffffffffffff", ALERT_ACK, "x", NULL, NOW, &from,
                                         &to),
                         -ENOENT);

        assert_int_equal(store_alert_get(s, "a1b2c3d4e5f60708", &a), 0);
        assert_string_equal(a.state, "resolved");
        /* first times stay first, whatever happened later */
        assert_int_equal(a.acked_usec, NOW + 5 * MIN);
        assert_int_equal(a.responded_usec, NOW + 20 * MIN);
        assert_int_equal(a.resolved_usec, NOW + 40 * MIN);
        assert_int_equal(a.state_usec, NOW + 40 * MIN);
        /* reopening asked the daemon to plan again */
        assert_int_equal(a.next_escalation_usec, NOW + 30 * MIN);
        alert_done(&a);

        AlertEvent *ev = NULL;
        size_t n = 0;
        assert_int_equal(store_alert_events(s, "a1b2c3d4e5f60708", &ev, &n), 0);
        assert_int_equal(n, 5);
        const char *kinds[] = {"created", "ack", "respond", "reopen", "resolve"};
        const char *tos[] = {"open", "acknowledged", "responded", "open", "resolved"};
        for (size_t i = 0; i < n; i++) {
                assert_string_equal(ev[i].kind, kinds[i]);
                assert_string_equal(ev[i].to_state, tos[i]);
        }
        assert_string_equal(ev[1].by, "maria");
        assert_string_equal(ev[1].note, "on it");
        assert_string_equal(ev[3].from_state, "responded");
        assert_string_equal(ev[3].note, "not done");
        assert_null(ev[2].note);
        assert_int_equal(ev[0].at_usec, NOW + SEC);
        alert_events_free(ev, n);
}

static void test_find_prefix(void **state) {
        Fixture *f = *state;
        Store *s = f->store;
        char *id = NULL;

        add_alert(s, "abc1000000000000", "mastodon", "acme", "[\"r\"]", "a", NOW, NOW + MIN, 0);
        add_alert(s, "abc2000000000000", "mastodon", "acme", "[\"r\"]", "b", NOW, NOW + MIN, 0);
        add_alert(s, "abc", "mastodon", "acme", "[\"r\"]", "c", NOW, NOW + MIN, 0);
        assert_int_equal(store_alert_find(s, "abc1", &id), 0);
        assert_string_equal(id, "abc1000000000000");
        free(id);
        /* an exact id wins over the longer ids it prefixes */
        assert_int_equal(store_alert_find(s, "abc", &id), 0);
        assert_string_equal(id, "abc");
        free(id);
        assert_int_equal(store_alert_find(s, "ab", &id), -ENOTUNIQ);
        assert_int_equal(store_alert_find(s, "abd", &id), -ENOENT);
        /* not hex: names nothing (and never reaches SQL as a pattern) */
        assert_int_equal(store_alert_find(s, "ab%", &id), -ENOENT);
        assert_int_equal(store_alert_find(s, "", &id), -ENOENT);
}

static void test_query(void **state) {
        Fixture *f = *state;
        Store *s = f->store;
        Alert *list = NULL;
        size_t n = 0;
        AlertState from, to;

        /* due order: b (10m), c and d (20m; d has the higher priority), a (30m) */
        add_alert(s, "aaaa", "mastodon", "acme", "[\"refunds\"]", "u1", NOW, NOW + 30 * MIN, 5);
        add_alert(s, "bbbb", "lemmy", "acme", "[\"outages\",\"refunds\"]", "u2", NOW,
                  NOW + 10 * MIN, 5);
        add_alert(s, "cccc", "mastodon", "other", "[\"outages\"]", "u3", NOW - 60 * MIN,
                  NOW + 20 * MIN, 1);
        add_alert(s, "dddd", "mastodon", "acme", "[\"refunds\"]", "u4", NOW, NOW + 20 * MIN, 9);
        assert_int_equal(store_alert_act(s, "cccc", ALERT_RESOLVE, "x", NULL, NOW, &from, &to), 0);

        AlertFilter all = {};
        assert_int_equal(store_alerts_query(s, &all, &list, &n), 0);
        assert_int_equal(n, 4);
        assert_string_equal(list[0].id, "bbbb");
        assert_string_equal(list[1].id, "dddd");
        assert_string_equal(list[2].id, "cccc");
        assert_string_equal(list[3].id, "aaaa");
        alerts_free(list, n);

        AlertFilter active = {.states = (1u << ALERT_OPEN) | (1u << ALERT_ACKNOWLEDGED)};
        assert_int_equal(store_alerts_query(s, &active, &list, &n), 0);
        assert_int_equal(n, 3);
        alerts_free(list, n);

        AlertFilter rule = {.rule = "outages"};
        assert_int_equal(store_alerts_query(s, &rule, &list, &n), 0);
        assert_int_equal(n, 2);
        assert_string_equal(list[0].id, "bbbb");
        assert_string_equal(list[1].id, "cccc");
        alerts_free(list, n);
        /* a rule name is matched whole, not as a substring of another */
        AlertFilter part = {.rule = "refund"};
        assert_int_equal(store_alerts_query(s, &part, &list, &n), 0);
        assert_int_equal(n, 0);
        alerts_free(list, n);

        AlertFilter brand = {.brand = "acme", .network = "mastodon"};
        assert_int_equal(store_alerts_query(s, &brand, &list, &n), 0);
        assert_int_equal(n, 2);
        alerts_free(list, n);

        AlertFilter overdue = {.overdue = true, .now = NOW + 25 * MIN};
        assert_int_equal(store_alerts_query(s, &overdue, &list, &n), 0);
        assert_int_equal(n, 2); /* bbbb and dddd; cccc is resolved, aaaa not yet due */
        alerts_free(list, n);

        AlertFilter since = {.since = NOW - 30 * MIN, .limit = 2};
        assert_int_equal(store_alerts_query(s, &since, &list, &n), 0);
        assert_int_equal(n, 2);
        assert_string_equal(list[0].id, "bbbb");
        alerts_free(list, n);
}

static void test_threads_and_copies(void **state) {
        Fixture *f = *state;
        Store *s = f->store;
        char *id = NULL;
        Alert a = {};
        AlertState from, to;

        add_alert(s, "t1", "mastodon", "acme", "[\"r\"]", "ann", NOW, NOW + 60 * MIN, 0);
        assert_int_equal(store_alert_find_thread(s, "mastodon:ann", "acme", &id), 0);
        assert_string_equal(id, "t1");
        free(id);
        assert_int_equal(store_alert_find_thread(s, "mastodon:ann", "other", &id), -ENOENT);
        assert_int_equal(store_alert_find_thread(s, "mastodon:bob", "acme", &id), -ENOENT);

        AttachedPost p = {.post_key = (char *)"mastodon:p2", .url = (char *)"https://x/p2",
                          .author_handle = (char *)"ann", .text = (char *)"still waiting",
                          .created_usec = NOW + MIN};
        assert_int_equal(store_begin(s), 0);
        assert_int_equal(store_alert_attach(s, "t1", "thread", &p, NOW + 2 * MIN), 1);
        assert_int_equal(store_alert_attach(s, "t1", "thread", &p, NOW + 3 * MIN), 0);
        AttachedPost c = {.post_key = (char *)"mastodon:p3", .author_handle = (char *)"bob",
                          .text = (char *)"acme refund now", .created_usec = NOW + MIN};
        assert_int_equal(store_alert_attach(s, "t1", "copy", &c, NOW + 4 * MIN), 1);
        assert_int_equal(store_commit(s), 0);

        assert_int_equal(store_alert_get(s, "t1", &a), 0);
        assert_int_equal(a.posts, 2);
        assert_int_equal(a.copies, 2);
        alert_done(&a);
        AttachedPost *ps = NULL;
        size_t n = 0;
        assert_int_equal(store_alert_posts(s, "t1", &ps, &n), 0);
        assert_int_equal(n, 2);
        assert_string_equal(ps[0].kind, "thread");
        assert_string_equal(ps[0].text, "still waiting");
        assert_string_equal(ps[1].kind, "copy");
        attached_posts_free(ps, n);

        /* copies: by text key, another author, within the window, only while active */
        assert_int_equal(store_alert_find_copy(s, "k1", NOW - MIN, "mastodon:zed", &id), -ENOENT);
        /* closed alerts take no more threads */
        assert_int_equal(store_alert_act(s, "t1", ALERT_RESOLVE, "x", NULL, NOW + 5 * MIN, &from,
                                         &to),
                         0);
        assert_int_equal(store_alert_find_thread(s, "mastodon:ann", "acme", &id), -ENOENT);
}

static void test_escalation_rows(void **state) {
        Fixture *f = *state;
        Store *s = f->store;
        Alert *list = NULL;
        size_t n = 0;
        int64_t next = 0;

        add_alert(s, "e1", "mastodon", "acme", "[\"r\"]", "a", NOW, NOW + 60 * MIN, 0);
        add_alert(s, "e2", "mastodon", "acme", "[\"r\"]", "b", NOW, NOW + 60 * MIN, 0);
        assert_int_equal(store_escalation_next(s, &next), -ENOENT);
        assert_int_equal(store_alert_set_escalation(s, "e1", 0, NOW + 30 * MIN), 0);
        assert_int_equal(store_alert_set_escalation(s, "e2", 1, NOW + 45 * MIN), 0);
        assert_int_equal(store_escalation_next(s, &next), 0);
        assert_int_equal(next, NOW + 30 * MIN);
        assert_int_equal(store_escalations_due(s, NOW + 40 * MIN, 10, &list, &n), 0);
        assert_int_equal(n, 1);
        assert_string_equal(list[0].id, "e1");
        assert_int_equal(list[0].escalation_level, 0);
        alerts_free(list, n);
        assert_int_equal(store_alert_set_escalation(s, "e1", 1, 0), 0);
        assert_int_equal(store_escalation_next(s, &next), 0);
        assert_int_equal(next, NOW + 45 * MIN);

        /* a step row is unique per alert, notifier and step; it can be cancelled while pending */
        assert_int_equal(store_outbox_add_step(s, "e1", "hook", "escalation-1", "acknowledged",
                                               "still unanswered, due in 30m", NOW, NOW),
                         0);
        assert_int_equal(store_outbox_add_step(s, "e1", "hook", "escalation-1", "acknowledged",
                                               "again", NOW, NOW),
                         0);
        OutboxItem *items = NULL;
        assert_int_equal(store_outbox_due(s, NOW, 10, &items, &n), 0);
        assert_int_equal(n, 1);
        int64_t row = items[0].id;
        outbox_items_free(items, n);
        assert_int_equal(store_outbox_cancel(s, row, "acknowledged meanwhile", NOW), 0);
        assert_int_equal(store_outbox_due(s, NOW, 10, &items, &n), 0);
        assert_int_equal(n, 0);
        outbox_items_free(items, n);
}

static void test_prune(void **state) {
        Fixture *f = *state;
        Store *s = f->store;
        AlertState from, to;
        Alert a = {};

        add_alert(s, "p1", "mastodon", "acme", "[\"r\"]", "a", NOW, NOW + 60 * MIN, 0);
        add_alert(s, "p2", "mastodon", "acme", "[\"r\"]", "b", NOW, NOW + 60 * MIN, 0);
        add_alert(s, "p3", "mastodon", "acme", "[\"r\"]", "c", NOW, NOW + 60 * MIN, 0);
        assert_int_equal(store_begin(s), 0);
        assert_int_equal(store_outbox_add(s, "p1", "hook", "new", NOW, NOW), 0);
        assert_int_equal(store_commit(s), 0);
        assert_int_equal(store_alert_act(s, "p1", ALERT_RESOLVE, "x", NULL, NOW + MIN, &from, &to),
                         0);
        assert_int_equal(store_alert_act(s, "p2", ALERT_MARK_FALSE_POSITIVE, "x", NULL,
                                         NOW + 10 * MIN, &from, &to),
                         0);
        /* p1 closed before the cut, p2 after it, p3 still open */
        assert_int_equal(store_prune_alerts(s, NOW + 5 * MIN), 1);
        assert_int_equal(store_alert_get(s, "p1", &a), -ENOENT);
        assert_int_equal(store_alert_get(s, "p2", &a), 0);
        alert_done(&a);
        AlertEvent *ev = NULL;
        size_t n = 7;
        assert_int_equal(store_alert_events(s, "p1", &ev, &n), 0);
        assert_int_equal(n, 0);
        alert_events_free(ev, n);
        assert_int_equal(store_prune_alerts(s, NOW + 60 * MIN), 1);
        assert_int_equal(store_alert_get(s, "p3", &a), 0);
        alert_done(&a);
}

typedef struct Count {
        size_t n;
        int64_t acked;
} Count;

static int count_times(const AlertTimes *t, void *userdata) {
        Count *c = userdata;
        c->n++;
        if (t->acked_usec)
                c->acked++;
        return 0;
}

static void test_times(void **state) {
        Fixture *f = *state;
        Store *s = f->store;
        AlertState from, to;
        Count c = {};

        add_alert(s, "s1", "mastodon", "acme", "[\"r\"]", "a", NOW - 2 * 60 * MIN, NOW, 0);
        add_alert(s, "s2", "mastodon", "acme", "[\"r\"]", "b", NOW, NOW + 60 * MIN, 0);
        add_alert(s, "s3", "earshot", NULL, "[\"source-silent\"]", NULL, NOW, NOW + 60 * MIN, 0);
        assert_int_equal(store_alert_act(s, "s2", ALERT_ACK, "x", NULL, NOW + MIN, &from, &to), 0);
        assert_int_equal(store_alert_times_foreach(s, NOW - MIN, count_times, &c), 0);
        /* s1 too old, s3 is an operator alert */
        assert_int_equal(c.n, 1);
        assert_int_equal(c.acked, 1);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                TEST("store-queue/act-history", test_act_history),
                TEST("store-queue/find-prefix", test_find_prefix),
                TEST("store-queue/query", test_query),
                TEST("store-queue/threads-and-copies", test_threads_and_copies),
                TEST("store-queue/escalation-rows", test_escalation_rows),
                TEST("store-queue/prune", test_prune),
                TEST("store-queue/times", test_times),
        };

        return cmocka_run_group_tests_name("store-queue", tests, NULL, NULL);
}
