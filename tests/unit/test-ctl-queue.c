/* SPDX-License-Identifier: MIT */
/*
 * test-ctl-queue.c - the team's figures behind `earshotctl stats` (ctl-stats.c) on a store built
 * with the daemon's own calls (store_alert_insert(), store_alert_act() at chosen times), every
 * expected number worked out by hand in the comments: counts by state, nearest-rank median and
 * 90th percentile of the times to acknowledge and to respond, the share within target, late at
 * detection and false positives, for everything and per rule, brand and network; then the JSON
 * a team lead's script reads, an alert without a brand, and an empty period.
 */
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <math.h>
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

#include "ctl.h"
#include "store.h"
#include "util/cleanup.h"

#define TEST(n, f)                                                                                 \
        { .name = (n), .test_func = (f), .setup_func = setup, .teardown_func = teardown }

#define SEC INT64_C(1000000)
#define MIN (60 * SEC)
#define HOUR (60 * MIN)
#define DAY (24 * HOUR)
#define NOW (INT64_C(1794139200) * SEC) /* 2026-11-08T12:00:00Z */
#define T0 (NOW - 2 * DAY)              /* the fixture's minute 0 */
#define SINCE (NOW - 7 * DAY)           /* the default period */

typedef struct Fixture {
        char dir[PATH_MAX];
        char path[PATH_MAX + 32];
        Store *store;
} Fixture;

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof(*f));
        char tmpl[] = "/tmp/earshot-test-ctl-queue-XXXXXX";

        if (!f || !mkdtemp(tmpl))
                return -1;
        snprintf(f->dir, sizeof(f->dir), "%s", tmpl);
        snprintf(f->path, sizeof(f->path), "%s/" STORE_FILE, f->dir);
        if (store_open(f->path, false, &f->store) < 0)
                return -1;
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

/* An alert created at `created`, due at `due`; late > 0: detected that long after the due
 * time (the daemon's late_usec), else a minute after creation. */
static void add(Store *s, const char *id, const char *network, const char *brand,
                const char *rules, int64_t created, int64_t due, int64_t late) {
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
                .author_handle = (char *)"ann",
                .author_followers = -1,
                .replies = -1,
                .reposts = -1,
                .likes = -1,
                .created_usec = created,
                .detected_usec = late > 0 ? due + late : created + MIN,
                .due_usec = due,
                .respond_within_usec = due - created,
                .late_usec = late,
        };
        assert_int_equal(store_begin(s), 0);
        assert_int_equal(store_alert_insert(s, &a), 0);
        assert_int_equal(store_commit(s), 0);
}

static void act(Store *s, const char *id, AlertAction action, int64_t at) {
        AlertState from, to;
        assert_int_equal(store_alert_act(s, id, action, "tester", NULL, at, &from, &to), 0);
}

/* fixture minutes */
#define M(x) (T0 + (x) * MIN)

/*
 * Sixteen complaint alerts (A1..A16) in the period, two rules (refunds, outage), two brands
 * (acme, globex), two networks (mastodon, reddit); plus an operator alert and an alert of a post
 * older than the period, which count nowhere. Times in minutes from T0 (NOW - 2 days);
 * "ack 5" = acknowledged 5 minutes after the post was created.
 *
 *  id   network  brand   rules            created due  what happened                 state
 *  A1   mastodon acme    refunds          0       60   ack 5, respond 20             responded
 *  A2   mastodon acme    refunds          10      70   ack 15, respond 40, resolve   resolved
 *  A3   mastodon acme    refunds,outage   20      80   ack 30, respond 90 (late)     responded
 *  A4   reddit   acme    outage,outage    30      150  respond 30 (= ack 30)         responded
 *  A5   reddit   globex  outage           40      160  resolve 240 (= ack, respond)  resolved
 *  A6   mastodon globex  refunds          50      110  nothing: overdue              open
 *  A7   mastodon globex  refunds          60      120  ack 10, no answer: overdue    acknowledged
 *  A8   mastodon acme    refunds          70      130  late 30 at detection (160);
 *                                                      ack 100, respond 105          responded
 *  A9   reddit   acme    refunds          80      200  false positive at 90          false-positive
 *  A10  mastodon globex  outage           90      150  ack 5, false positive at 100  false-positive
 *  A11  mastodon acme    outage           100     160  muted at 105                  muted
 *  A12  reddit   globex  refunds          NOW-30m NOW+90m  nothing, not due yet      open
 *  A13  mastodon acme    refunds          110     170  ack 5, respond 15, reopen,
 *                                                      respond again (first counts)  responded
 *  A14  reddit   globex  outage,refunds   120     240  late 60 at detection (300);
 *                                                      respond 190                   responded
 *  A15  mastodon globex  outage           130     190  ack 1, respond 2              responded
 *  A16  reddit   acme    refunds          140     200  ack 10, respond 60 (= due),
 *                                                      resolve                       resolved
 */
static void build_fixture(Store *s) {
        add(s, "00000000000000a1", "mastodon", "acme", "[\"refunds\"]", M(0), M(60), 0);
        act(s, "00000000000000a1", ALERT_ACK, M(5));
        act(s, "00000000000000a1", ALERT_RESPOND, M(20));

        add(s, "00000000000000a2", "mastodon", "acme", "[\"refunds\"]", M(10), M(70), 0);
        act(s, "00000000000000a2", ALERT_ACK, M(25));
        act(s, "00000000000000a2", ALERT_RESPOND, M(50));
        act(s, "00000000000000a2", ALERT_RESOLVE, M(90));

        add(s, "00000000000000a3", "mastodon", "acme", "[\"refunds\",\"outage\"]", M(20), M(80), 0);
        act(s, "00000000000000a3", ALERT_ACK, M(50));
        act(s, "00000000000000a3", ALERT_RESPOND, M(110));

        /* a rule listed twice counts once */
        add(s, "00000000000000a4", "reddit", "acme", "[\"outage\",\"outage\"]", M(30), M(150), 0);
        act(s, "00000000000000a4", ALERT_RESPOND, M(60));

        add(s, "00000000000000a5", "reddit", "globex", "[\"outage\"]", M(40), M(160), 0);
        act(s, "00000000000000a5", ALERT_RESOLVE, M(280));

        add(s, "00000000000000a6", "mastodon", "globex", "[\"refunds\"]", M(50), M(110), 0);

        add(s, "00000000000000a7", "mastodon", "globex", "[\"refunds\"]", M(60), M(120), 0);
        act(s, "00000000000000a7", ALERT_ACK, M(70));

        add(s, "00000000000000a8", "mastodon", "acme", "[\"refunds\"]", M(70), M(130), 30 * MIN);
        act(s, "00000000000000a8", ALERT_ACK, M(170));
        act(s, "00000000000000a8", ALERT_RESPOND, M(175));

        add(s, "00000000000000a9", "reddit", "acme", "[\"refunds\"]", M(80), M(200), 0);
        act(s, "00000000000000a9", ALERT_MARK_FALSE_POSITIVE, M(90));

        add(s, "0000000000000a10", "mastodon", "globex", "[\"outage\"]", M(90), M(150), 0);
        act(s, "0000000000000a10", ALERT_ACK, M(95));
        act(s, "0000000000000a10", ALERT_MARK_FALSE_POSITIVE, M(100));

        add(s, "0000000000000a11", "mastodon", "acme", "[\"outage\"]", M(100), M(160), 0);
        act(s, "0000000000000a11", ALERT_MUTE, M(105));

        add(s, "0000000000000a12", "reddit", "globex", "[\"refunds\"]", NOW - 30 * MIN,
            NOW + 90 * MIN, 0);

        add(s, "0000000000000a13", "mastodon", "acme", "[\"refunds\"]", M(110), M(170), 0);
        act(s, "0000000000000a13", ALERT_ACK, M(115));
        act(s, "0000000000000a13", ALERT_RESPOND, M(125));
        act(s, "0000000000000a13", ALERT_REOPEN, M(130));
        act(s, "0000000000000a13", ALERT_RESPOND, M(140));

        add(s, "0000000000000a14", "reddit", "globex", "[\"outage\",\"refunds\"]", M(120), M(240),
            60 * MIN);
        act(s, "0000000000000a14", ALERT_RESPOND, M(310));

        add(s, "0000000000000a15", "mastodon", "globex", "[\"outage\"]", M(130), M(190), 0);
        act(s, "0000000000000a15", ALERT_ACK, M(131));
        act(s, "0000000000000a15", ALERT_RESPOND, M(132));

        add(s, "0000000000000a16", "reddit", "acme", "[\"refunds\"]", M(140), M(200), 0);
        act(s, "0000000000000a16", ALERT_ACK, M(150));
        act(s, "0000000000000a16", ALERT_RESPOND, M(200));
        act(s, "0000000000000a16", ALERT_RESOLVE, M(210));

        /* not complaints of the period: an operator alert, and a post from 8 days ago */
        add(s, "00000000000000e1", "earshot", NULL, "[\"silent-feed\"]", M(10), M(70), 0);
        add(s, "00000000000000b1", "mastodon", "acme", "[\"refunds\"]", NOW - 8 * DAY,
            NOW - 8 * DAY + HOUR, 0);
}

static void assert_states(const StatsFigures *f, size_t open, size_t acked, size_t responded,
                          size_t resolved, size_t muted, size_t fp) {
        assert_int_equal(f->states[ALERT_OPEN], open);
        assert_int_equal(f->states[ALERT_ACKNOWLEDGED], acked);
        assert_int_equal(f->states[ALERT_RESPONDED], responded);
        assert_int_equal(f->states[ALERT_RESOLVED], resolved);
        assert_int_equal(f->states[ALERT_MUTED], muted);
        assert_int_equal(f->states[ALERT_FALSE_POSITIVE], fp);
        assert_int_equal(f->alerts, open + acked + responded + resolved + muted + fp);
}

static void assert_durations(const DurationStats *d, size_t n, int64_t median, int64_t p90) {
        assert_int_equal(d->n, n);
        assert_int_equal(d->median, median);
        assert_int_equal(d->p90, p90);
}

static const StatsFigures *group(const StatsFigures *list, size_t n, const char *name) {
        for (size_t i = 0; i < n; i++)
                if (list[i].name && name ? streq(list[i].name, name) : list[i].name == name)
                        return &list[i];
        fail_msg("no group '%s'", name ? name : "(null)");
        return NULL;
}

static void test_overall(void **state) {
        Fixture *f = *state;
        QueueStats st = {};

        build_fixture(f->store);
        assert_int_equal(queue_stats_compute(f->store, SINCE, NOW, STATS_BY_NONE, &st), 0);
        assert_int_equal(st.n_groups, 0);

        /* 16 alerts: open A6 A12; acknowledged A7; responded A1 A3 A4 A8 A13 A14 A15;
         * resolved A2 A5 A16; muted A11; false positive A9 A10 */
        assert_states(&st.all, 2, 1, 7, 3, 1, 2);

        /* answerable: all but A9, A10 (false positives) and A11 (muted); A10 was acknowledged
         * before it was marked, and still does not count.
         * to acknowledge, minutes: A1 5, A2 15, A3 30, A4 30, A5 240, A7 10, A8 100, A13 5,
         * A14 190, A15 1, A16 10; sorted 1 5 5 10 10 15 30 30 100 190 240 (n 11)
         * median: rank ceil(0.5 * 11) = 6 -> 15; p90: rank ceil(0.9 * 11) = 10 -> 190 */
        assert_durations(&st.all.ack, 11, 15 * MIN, 190 * MIN);
        /* to respond (the first answer: A13's second does not count): A1 20, A2 40, A3 90,
         * A4 30, A5 240, A8 105, A13 15, A14 190, A15 2, A16 60;
         * sorted 2 15 20 30 40 60 90 105 190 240 (n 10)
         * median: rank 5 -> 40; p90: rank 9 -> 190 */
        assert_durations(&st.all.respond, 10, 40 * MIN, 190 * MIN);
        int64_t sorted[] = {2, 15, 20, 30, 40, 60, 90, 105, 190, 240};
        for (size_t i = 0; i < ELEMENTSOF(sorted); i++)
                assert_int_equal(st.all.to_respond[i], sorted[i] * MIN);

        /* outcome known: the 10 answered + A6 and A7 (unanswered, past due) = 12; A12 is not
         * due yet. In time (first answer <= due): A1 (20 <= 60), A2 (50 <= 70), A4 (60 <= 150),
         * A13 (125 <= 170), A15 (132 <= 190), A16 (200 = 200) = 6; late: A3, A5, A8, A14 */
        assert_int_equal(st.all.known, 12);
        assert_int_equal(st.all.in_time, 6);
        assert_true(stats_share(st.all.in_time, st.all.known) == 0.5);
        /* late at detection: A8, A14 = 2 of 16; false positives 2 of 16 */
        assert_int_equal(st.all.late, 2);
        assert_true(stats_share(st.all.late, st.all.alerts) == 0.125);

        /* per rule, by name: outage A3 A4 A5 A10 A11 A14 A15 (7, false positive A10);
         * refunds A1 A2 A3 A6 A7 A8 A9 A12 A13 A14 A16 (11, false positive A9) */
        assert_int_equal(st.n_rules, 2);
        assert_string_equal(st.rules[0].name, "outage");
        assert_int_equal(st.rules[0].alerts, 7);
        assert_int_equal(st.rules[0].states[ALERT_FALSE_POSITIVE], 1);
        assert_string_equal(st.rules[1].name, "refunds");
        assert_int_equal(st.rules[1].alerts, 11);
        assert_int_equal(st.rules[1].states[ALERT_FALSE_POSITIVE], 1);
        queue_stats_done(&st);
}

static void test_by_rule(void **state) {
        Fixture *f = *state;
        QueueStats st = {};
        const StatsFigures *g;

        build_fixture(f->store);
        assert_int_equal(queue_stats_compute(f->store, SINCE, NOW, STATS_BY_RULE, &st), 0);
        assert_int_equal(st.n_groups, 2);
        /* the whole is the same whatever the grouping */
        assert_int_equal(st.all.alerts, 16);
        assert_durations(&st.all.ack, 11, 15 * MIN, 190 * MIN);

        /* refunds: 11 alerts; open A6 A12, acknowledged A7, responded A1 A3 A8 A13 A14,
         * resolved A2 A16, false positive A9 */
        g = group(st.groups, st.n_groups, "refunds");
        assert_states(g, 2, 1, 5, 2, 0, 1);
        /* to acknowledge: A1 5, A2 15, A3 30, A7 10, A8 100, A13 5, A14 190, A16 10;
         * sorted 5 5 10 10 15 30 100 190: median rank 4 -> 10, p90 rank ceil(7.2) = 8 -> 190 */
        assert_durations(&g->ack, 8, 10 * MIN, 190 * MIN);
        /* to respond: A1 20, A2 40, A3 90, A8 105, A13 15, A14 190, A16 60;
         * sorted 15 20 40 60 90 105 190: median rank ceil(3.5) = 4 -> 60, p90 rank 7 -> 190 */
        assert_durations(&g->respond, 7, 60 * MIN, 190 * MIN);
        /* known: 7 answered + A6 + A7 = 9; in time: A1 A2 A13 A16 = 4 */
        assert_int_equal(g->known, 9);
        assert_int_equal(g->in_time, 4);
        assert_int_equal(g->late, 2); /* A8, A14 */

        /* outage: 7 alerts; responded A3 A4 A14 A15, resolved A5, muted A11, false positive A10 */
        g = group(st.groups, st.n_groups, "outage");
        assert_states(g, 0, 0, 4, 1, 1, 1);
        /* to acknowledge: A3 30, A4 30, A5 240, A14 190, A15 1; sorted 1 30 30 190 240:
         * median rank 3 -> 30, p90 rank ceil(4.5) = 5 -> 240 */
        assert_durations(&g->ack, 5, 30 * MIN, 240 * MIN);
        /* to respond: A3 90, A4 30, A5 240, A14 190, A15 2; sorted 2 30 90 190 240 */
        assert_durations(&g->respond, 5, 90 * MIN, 240 * MIN);
        /* all 5 answerable are answered; in time A4, A15 */
        assert_int_equal(g->known, 5);
        assert_int_equal(g->in_time, 2);
        assert_int_equal(g->late, 1); /* A14 */
        queue_stats_done(&st);
}

static void test_by_brand_and_network(void **state) {
        Fixture *f = *state;
        QueueStats st = {};
        const StatsFigures *g;

        build_fixture(f->store);
        assert_int_equal(queue_stats_compute(f->store, SINCE, NOW, STATS_BY_BRAND, &st), 0);
        assert_int_equal(st.n_groups, 2);
        assert_string_equal(st.groups[0].name, "acme");
        assert_string_equal(st.groups[1].name, "globex");

        /* acme: A1 A2 A3 A4 A8 A9 A11 A13 A16 (9; the 8-day-old post is outside the period) */
        g = &st.groups[0];
        assert_states(g, 0, 0, 5, 2, 1, 1);
        /* answerable A1 A2 A3 A4 A8 A13 A16. To acknowledge: 5 15 30 30 100 5 10, sorted
         * 5 5 10 15 30 30 100: median rank 4 -> 15, p90 rank ceil(6.3) = 7 -> 100 */
        assert_durations(&g->ack, 7, 15 * MIN, 100 * MIN);
        /* to respond: 20 40 90 30 105 15 60, sorted 15 20 30 40 60 90 105: 40 and 105 */
        assert_durations(&g->respond, 7, 40 * MIN, 105 * MIN);
        /* all 7 answered; in time A1 A2 A4 A13 A16 */
        assert_int_equal(g->known, 7);
        assert_int_equal(g->in_time, 5);
        assert_int_equal(g->late, 1); /* A8 */

        /* globex: A5 A6 A7 A10 A12 A14 A15 (7) */
        g = &st.groups[1];
        assert_states(g, 2, 1, 2, 1, 0, 1);
        /* answerable A5 A6 A7 A12 A14 A15. To acknowledge: A5 240, A7 10, A14 190, A15 1,
         * sorted 1 10 190 240: median rank 2 -> 10, p90 rank ceil(3.6) = 4 -> 240 */
        assert_durations(&g->ack, 4, 10 * MIN, 240 * MIN);
        /* to respond: A5 240, A14 190, A15 2, sorted 2 190 240: median rank 2 -> 190, p90 rank
         * ceil(2.7) = 3 -> 240 */
        assert_durations(&g->respond, 3, 190 * MIN, 240 * MIN);
        /* known: 3 answered + A6 + A7 (A12 not due) = 5; in time: A15 */
        assert_int_equal(g->known, 5);
        assert_int_equal(g->in_time, 1);
        queue_stats_done(&st);

        assert_int_equal(queue_stats_compute(f->store, SINCE, NOW, STATS_BY_NETWORK, &st), 0);
        assert_int_equal(st.n_groups, 2);
        /* mastodon: A1 A2 A3 A6 A7 A8 A10 A11 A13 A15 (10); reddit: A4 A5 A9 A12 A14 A16 (6) */
        g = group(st.groups, st.n_groups, "mastodon");
        assert_int_equal(g->alerts, 10);
        g = group(st.groups, st.n_groups, "reddit");
        assert_states(g, 1, 0, 2, 2, 0, 1);
        /* answerable A4 A5 A12 A14 A16; to respond: 30 240 190 60, sorted 30 60 190 240:
         * median rank 2 -> 60, p90 rank ceil(3.6) = 4 -> 240; known 4 (A12 not due), in time
         * A4 and A16 */
        assert_durations(&g->respond, 4, 60 * MIN, 240 * MIN);
        assert_int_equal(g->known, 4);
        assert_int_equal(g->in_time, 2);
        assert_int_equal(g->late, 1); /* A14 */
        queue_stats_done(&st);
}

static void test_since(void **state) {
        Fixture *f = *state;
        QueueStats st = {};

        build_fixture(f->store);
        /* since minute 100: A11 (100) A12 A13 A14 A15 A16; the bound is inclusive */
        assert_int_equal(queue_stats_compute(f->store, M(100), NOW, STATS_BY_NONE, &st), 0);
        assert_states(&st.all, 1, 0, 3, 1, 1, 0);
        /* to respond: A13 15, A14 190, A15 2, A16 60; sorted 2 15 60 190: median 15, p90 190 */
        assert_durations(&st.all.respond, 4, 15 * MIN, 190 * MIN);
        queue_stats_done(&st);

        /* at NOW + 2h, A12 (due NOW + 90m) is past due unanswered: one more known, none more
         * in time */
        assert_int_equal(queue_stats_compute(f->store, SINCE, NOW + 2 * HOUR, STATS_BY_NONE, &st),
                         0);
        assert_int_equal(st.all.known, 13);
        assert_int_equal(st.all.in_time, 6);
        queue_stats_done(&st);
}

static const cJSON *path(const cJSON *o, const char *a, const char *b) {
        const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, a);
        return b ? cJSON_GetObjectItemCaseSensitive(x, b) : x;
}

static void test_json(void **state) {
        Fixture *f = *state;
        QueueStats st = {};

        build_fixture(f->store);
        assert_int_equal(queue_stats_compute(f->store, SINCE, NOW, STATS_BY_BRAND, &st), 0);
        cJSON *j = queue_stats_to_json(&st);
        assert_non_null(j);
        assert_string_equal(path(j, "since", NULL)->valuestring, "2026-11-01T12:00:00.000Z");
        assert_string_equal(path(j, "by", NULL)->valuestring, "brand");
        const cJSON *all = path(j, "all", NULL);
        assert_true(path(all, "alerts", NULL)->valuedouble == 16);
        assert_true(path(all, "states", "false-positive")->valuedouble == 2);
        assert_true(path(all, "states", "responded")->valuedouble == 7);
        assert_true(path(all, "acknowledge", "n")->valuedouble == 11);
        assert_true(path(all, "acknowledge", "median_seconds")->valuedouble == 15 * 60);
        assert_true(path(all, "acknowledge", "p90_seconds")->valuedouble == 190 * 60);
        assert_true(path(all, "respond", "median_seconds")->valuedouble == 40 * 60);
        assert_true(path(all, "within_target", "in_time")->valuedouble == 6);
        assert_true(path(all, "within_target", "known")->valuedouble == 12);
        assert_true(path(all, "within_target", "share")->valuedouble == 0.5);
        assert_true(path(all, "late_at_detection", "share")->valuedouble == 0.125);
        assert_true(path(all, "false_positive", "rate")->valuedouble == 0.125);

        const cJSON *groups = path(j, "groups", NULL);
        assert_int_equal(cJSON_GetArraySize(groups), 2);
        const cJSON *globex = cJSON_GetArrayItem(groups, 1);
        assert_string_equal(path(globex, "name", NULL)->valuestring, "globex");
        assert_true(path(globex, "within_target", "share")->valuedouble == 0.2); /* 1 of 5 */

        const cJSON *fp = path(j, "false_positive_by_rule", NULL);
        assert_int_equal(cJSON_GetArraySize(fp), 2);
        const cJSON *outage = cJSON_GetArrayItem(fp, 0);
        assert_string_equal(path(outage, "rule", NULL)->valuestring, "outage");
        assert_true(path(outage, "alerts", NULL)->valuedouble == 7);
        assert_true(path(outage, "false_positive", NULL)->valuedouble == 1);
        assert_true(path(outage, "rate", NULL)->valuedouble == 1.0 / 7);

        /* the report prints without trouble (its words are for people, the JSON for tests) */
        FILE *out = fopen("/dev/null", "w");
        assert_non_null(out);
        queue_stats_print(&st, out);
        fclose(out);
        cJSON_Delete(j);
        queue_stats_done(&st);
}

static void test_no_brand_and_empty(void **state) {
        Fixture *f = *state;
        QueueStats st = {};

        /* nothing in the period: zero counts, no durations, shares undefined (null in JSON) */
        assert_int_equal(queue_stats_compute(f->store, SINCE, NOW, STATS_BY_BRAND, &st), 0);
        assert_int_equal(st.all.alerts, 0);
        assert_int_equal(st.all.ack.n, 0);
        assert_int_equal(st.all.ack.median, 0);
        assert_true(isnan(stats_share(st.all.in_time, st.all.known)));
        cJSON *j = queue_stats_to_json(&st);
        assert_true(cJSON_IsNull(path(path(j, "all", NULL), "within_target", "share")));
        assert_true(cJSON_IsNull(path(path(j, "all", NULL), "respond", "median_seconds")));
        cJSON_Delete(j);
        queue_stats_done(&st);

        /* an alert without a brand is its own group, after the named ones; a bad rule list
         * counts in no rule */
        add(f->store, "00000000000000c1", "mastodon", NULL, "not json", M(0), M(60), 0);
        add(f->store, "00000000000000c2", "mastodon", "acme", "[\"refunds\", 7]", M(0), M(60), 0);
        act(f->store, "00000000000000c2", ALERT_RESPOND, M(30) + 500 * INT64_C(1000));
        assert_int_equal(queue_stats_compute(f->store, SINCE, NOW, STATS_BY_BRAND, &st), 0);
        assert_int_equal(st.n_groups, 2);
        assert_string_equal(st.groups[0].name, "acme");
        assert_null(st.groups[1].name);
        assert_int_equal(st.groups[1].alerts, 1);
        assert_int_equal(st.groups[1].known, 1); /* unanswered, past due */
        assert_int_equal(st.n_rules, 1);
        assert_string_equal(st.rules[0].name, "refunds");
        /* a median to the microsecond: 30 min 0.5 s */
        assert_durations(&st.all.respond, 1, 30 * MIN + 500000, 30 * MIN + 500000);
        j = queue_stats_to_json(&st);
        assert_true(path(path(j, "all", NULL), "respond", "median_seconds")->valuedouble == 1800.5);
        assert_true(cJSON_IsNull(path(cJSON_GetArrayItem(path(j, "groups", NULL), 1), "name",
                                      NULL)));
        cJSON_Delete(j);
        queue_stats_done(&st);
}

static void test_by_names(void **state) {
        for (int b = 0; b < _STATS_BY_MAX; b++)
                assert_int_equal(stats_by_from_string(stats_by_to_string(b)), b);
        assert_int_equal(stats_by_from_string("author"), _STATS_BY_INVALID);
        assert_int_equal(stats_by_from_string(NULL), _STATS_BY_INVALID);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                TEST("/ctl-queue/stats-overall", test_overall),
                TEST("/ctl-queue/stats-by-rule", test_by_rule),
                TEST("/ctl-queue/stats-by-brand-network", test_by_brand_and_network),
                TEST("/ctl-queue/stats-since-now", test_since),
                TEST("/ctl-queue/stats-json", test_json),
                TEST("/ctl-queue/stats-no-brand-empty", test_no_brand_and_empty),
                TEST("/ctl-queue/stats-by-names", test_by_names),
        };
        return cmocka_run_group_tests_name("ctl-queue", tests, NULL, NULL);
}
