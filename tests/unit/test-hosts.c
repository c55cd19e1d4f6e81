/* SPDX-License-Identifier: MIT */
/*
 * test-hosts.c - per-host budgets: host keys (scheme, host, default port, user info, IPv6),
 * waiting for the spacing and for a free slot, and pacing from rate-limit headers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hosts.h"

#define TEST(n, f)                                                                                 \
        { .name = (n), .test_func = (f) }

#define NOW_REAL INT64_C(1785592555000000)

static void assert_key(const char *url, const char *want) {
        char *k = host_key(url);
        assert_non_null(k);
        assert_string_equal(k, want);
        free(k);
}

static void test_keys(void **state) {
        assert_key("https://mastodon.social/api/v1/timelines/tag/acme", "https://mastodon.social:443");
        assert_key("http://127.0.0.1:8080/x?y=1", "http://127.0.0.1:8080");
        assert_key("http://Example.COM", "http://example.com:80");
        assert_key("https://user:pw@host.example:8443/p", "https://host.example:8443");
        assert_key("https://[::1]:8443/p", "https://[::1]:8443");
        assert_key("https://[::1]/p", "https://[::1]:443");
        assert_key("not a url", "not a url");
}

static void test_table(void **state) {
        HostTable t = {};
        HostState *a = host_table_get(&t, "https://a.example/1");
        HostState *b = host_table_get(&t, "https://b.example/1");
        assert_non_null(a);
        assert_non_null(b);
        assert_ptr_not_equal(a, b);
        /* the same server by another path, and pointers that survive growth */
        for (int i = 0; i < 100; i++) {
                char url[64];
                snprintf(url, sizeof(url), "https://h%d.example/", i);
                assert_non_null(host_table_get(&t, url));
        }
        assert_ptr_equal(host_table_get(&t, "https://a.example:443/other"), a);
        assert_int_equal(t.n, 102);
        host_table_done(&t);
}

static void test_spacing_and_slots(void **state) {
        HostPolicy p = {.max_in_flight = 2, .spacing = 250 * USEC_PER_MSEC};
        HostState h = {};
        usec_t now = 1000 * USEC_PER_SEC;

        assert_int_equal(host_wait(&h, &p, now), 0);
        host_start(&h, &p, now);
        /* the next start waits for the spacing */
        assert_int_equal(host_wait(&h, &p, now), 250 * USEC_PER_MSEC);
        assert_int_equal(host_wait(&h, &p, now + 100 * USEC_PER_MSEC), 150 * USEC_PER_MSEC);
        now += 250 * USEC_PER_MSEC;
        assert_int_equal(host_wait(&h, &p, now), 0);
        host_start(&h, &p, now);
        now += 300 * USEC_PER_MSEC;
        /* two in flight: full, look again after the spacing */
        assert_int_equal(host_wait(&h, &p, now), 250 * USEC_PER_MSEC);
        host_finish(&h, &p, NULL, now, NOW_REAL);
        assert_int_equal(h.in_flight, 1);
        assert_int_equal(host_wait(&h, &p, now), 0);
        /* no limits at all */
        HostPolicy none = {};
        HostState g = {.in_flight = 50};
        assert_int_equal(host_wait(&g, &none, now), 0);
}

static void test_pacing(void **state) {
        HostPolicy p = {.max_in_flight = 4, .spacing = 0};
        HostState h = {};
        usec_t now = 1000 * USEC_PER_SEC;
        RateLimit plenty = {.known = true, .remaining = 250, .limit = 300,
                            .reset_usec = NOW_REAL + 300 * (int64_t)USEC_PER_SEC};
        RateLimit low = plenty;
        low.remaining = 11; /* 10 calls spread over 300 s */

        host_start(&h, &p, now);
        host_finish(&h, &p, &plenty, now, NOW_REAL);
        assert_int_equal(host_wait(&h, &p, now), 0);
        host_start(&h, &p, now);
        host_finish(&h, &p, &low, now, NOW_REAL);
        assert_int_equal(host_wait(&h, &p, now), 30 * USEC_PER_SEC);
        /* a response without headers keeps the last known state */
        host_start(&h, &p, now + 30 * USEC_PER_SEC);
        host_finish(&h, &p, NULL, now + 30 * USEC_PER_SEC, NOW_REAL + 30 * (int64_t)USEC_PER_SEC);
        assert_true(host_wait(&h, &p, now + 30 * USEC_PER_SEC) > 0);
        /* after the reset, full speed again */
        host_finish(&h, &p, NULL, now + 400 * USEC_PER_SEC,
                    NOW_REAL + 400 * (int64_t)USEC_PER_SEC);
        assert_int_equal(h.in_flight, 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                TEST("hosts/keys", test_keys),
                TEST("hosts/table", test_table),
                TEST("hosts/spacing-and-slots", test_spacing_and_slots),
                TEST("hosts/pacing", test_pacing),
        };
        return cmocka_run_group_tests_name("hosts", tests, NULL, NULL);
}
