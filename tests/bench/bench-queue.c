/* SPDX-License-Identifier: MIT */
/*
 * bench-queue.c - the alert queue's figures: how many alerts per second the store takes with
 * the durability earshotd ships (WAL, synchronous=FULL, one transaction per poll response), and
 * a store of many alerts for timing earshotctl list/stats (packaging/dev/bench-queue.sh).
 *
 *   bench-queue enqueue DIR [N]          N alerts (default 2000) into a fresh store in DIR:
 *                                        one transaction per alert, then per 40 alerts
 *   bench-queue fill DIR [N]             a store of N alerts (default 1,000,000) over a year:
 *                                        99% closed, the rest open or acknowledged
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "queue.h"
#include "store.h"
#include "util/time-util.h"

static double seconds(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rng = 0x9e3779b97f4a7c15;
static uint64_t next_rand(void) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        return rng;
}

static const char *const networks[] = {"mastodon", "lemmy", "hackernews", "appstore", "rss"};
static const char *const rules[] = {"[\"refunds\"]", "[\"outages\"]", "[\"delivery\"]",
                                    "[\"rudeness\",\"refunds\"]", "[\"cancellation\"]"};
static const char *const brands[] = {"acme", "acme", "acme", "globex"};

/* One alert as earshotd writes it for a new complaint: seen row, alert, created event, outbox. */
static int write_alert(Store *s, uint64_t n, int64_t created, int64_t now) {
        char key[64], id[24], handle[32];
        snprintf(key, sizeof(key), "mastodon:https://bench.example/statuses/%" PRIu64, n);
        snprintf(handle, sizeof(handle), "user%" PRIu64 "@bench.example", n % 50000);
        alert_id_for(key, id);
        const char *network = networks[n % 5];
        int64_t within = network_class_default_target(network_class_of(network));
        bool is_new = false;
        int r = store_seen_add(s, key, "bench/feed", now, true, &is_new);
        if (r < 0)
                return r;
        Alert a = {
                .id = id,
                .post_key = key,
                .source = (char *)"bench",
                .feed = (char *)"bench/feed",
                .network = (char *)network,
                .brand = (char *)brands[n % 4],
                .rules_json = (char *)rules[n % 5],
                .severity = (char *)"normal",
                .post_id = key,
                .url = key,
                .text = (char *)"acme took my money and never sent the order, I want a refund",
                .author_handle = handle,
                .author_followers = (int64_t)(next_rand() % 10000),
                .replies = 1,
                .reposts = 0,
                .likes = 2,
                .created_usec = created,
                .detected_usec = created + 30 * (int64_t)USEC_PER_SEC,
                .due_usec = created + within,
                .respond_within_usec = within,
                .priority = 20.5,
        };
        r = store_alert_insert(s, &a);
        if (r < 0)
                return r;
        return store_outbox_add(s, id, "team", "new", now, now);
}

static int enqueue(const char *dir, uint64_t n) {
        char path[4096];
        Store *s = NULL;
        snprintf(path, sizeof(path), "%s/%s", dir, STORE_FILE);
        int r = store_open(path, false, &s);
        if (r < 0) {
                fprintf(stderr, "cannot open %s: %s\n", path, strerror(-r));
                return 1;
        }
        int64_t now = (int64_t)now_usec(CLOCK_REALTIME);
        for (unsigned batch = 1; batch <= 40; batch += 39) {
                double t0 = seconds();
                for (uint64_t i = 0; i < n; i += batch) {
                        if (store_begin(s) < 0)
                                return 1;
                        for (uint64_t k = i; k < i + batch && k < n; k++)
                                if (write_alert(s, k + (batch == 1 ? 0 : n), now, now) < 0) {
                                        fprintf(stderr, "write failed: %s\n", store_errmsg(s));
                                        return 1;
                                }
                        if (store_commit(s) < 0)
                                return 1;
                }
                double dt = seconds() - t0;
                printf("enqueue: %" PRIu64 " alerts, %2u per transaction: %8.0f alerts/s "
                       "(%.2f ms per transaction)\n",
                       n, batch, (double)n / dt, dt * 1000.0 / (double)((n + batch - 1) / batch));
        }
        store_free(s);
        return 0;
}

static int fill(const char *dir, uint64_t n) {
        char path[4096];
        Store *s = NULL;
        snprintf(path, sizeof(path), "%s/%s", dir, STORE_FILE);
        int r = store_open(path, false, &s);
        if (r < 0) {
                fprintf(stderr, "cannot open %s: %s\n", path, strerror(-r));
                return 1;
        }
        int64_t now = (int64_t)now_usec(CLOCK_REALTIME);
        int64_t year = 365 * (int64_t)USEC_PER_DAY;
        double t0 = seconds();
        for (uint64_t i = 0; i < n; i += 50000) {
                if (store_begin(s) < 0)
                        return 1;
                for (uint64_t k = i; k < i + 50000 && k < n; k++) {
                        /* spread over the year, the newest last */
                        int64_t created = now - year + (int64_t)((double)year * (double)k / (double)n);
                        if (write_alert(s, k, created, created) < 0) {
                                fprintf(stderr, "write failed: %s\n", store_errmsg(s));
                                return 1;
                        }
                }
                if (store_commit(s) < 0)
                        return 1;
        }
        /* the team answered almost everything: 99% resolved (most in time), the rest open or
         * acknowledged; states, first times and events as earshotctl writes them */
        static const char *const sql[] = {
                "UPDATE alerts SET state = 'resolved', acked_usec = created_usec + 600000000, "
                "responded_usec = created_usec + 1800000000 + (abs(random()) % 7200000000), "
                "resolved_usec = created_usec + 9000000000, state_usec = created_usec + "
                "9000000000 WHERE abs(random()) % 100 != 0",
                "UPDATE alerts SET state = 'acknowledged', acked_usec = created_usec + 300000000 "
                "WHERE state = 'open' AND abs(random()) % 2 = 0",
                "UPDATE outbox SET state = 'delivered', delivered_usec = created_usec",
        };
        for (size_t i = 0; i < sizeof(sql) / sizeof(sql[0]); i++)
                if (store_exec(s, sql[i]) < 0) {
                        fprintf(stderr, "update failed: %s\n", store_errmsg(s));
                        return 1;
                }
        printf("fill: %" PRIu64 " alerts in %.1f s\n", n, seconds() - t0);
        store_free(s);
        return 0;
}

int main(int argc, char **argv) {
        if (argc < 3) {
                fprintf(stderr, "usage: bench-queue enqueue|fill DIR [N]\n");
                return 2;
        }
        if (strcmp(argv[1], "enqueue") == 0)
                return enqueue(argv[2], argc > 3 ? strtoull(argv[3], NULL, 10) : 2000);
        if (strcmp(argv[1], "fill") == 0)
                return fill(argv[2], argc > 3 ? strtoull(argv[3], NULL, 10) : 1000000);
        fprintf(stderr, "usage: bench-queue enqueue|fill DIR [N]\n");
        return 2;
}
