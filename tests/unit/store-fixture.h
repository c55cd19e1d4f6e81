/* SPDX-License-Identifier: MIT */
/*
 * store-fixture.h - a fresh store in a temporary folder per test (cmocka setup/teardown), for
 * the unit tests of the store's parts. Include after <cmocka.h> and "store.h".
 */
#pragma once

#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#define TEST(n, f)                                                                                 \
        { .name = (n), .test_func = (f), .setup_func = setup, .teardown_func = teardown }

typedef struct Fixture {
        char dir[PATH_MAX];
        char path[PATH_MAX + 32];
        Store *store;
} Fixture;

static inline int setup(void **state) {
        Fixture *f = calloc(1, sizeof(*f));
        char tmpl[] = "/tmp/earshot-test-store-XXXXXX";

        if (!f || !mkdtemp(tmpl)) {
                free(f);
                return -1;
        }
        snprintf(f->dir, sizeof(f->dir), "%s", tmpl);
        snprintf(f->path, sizeof(f->path), "%s/" STORE_FILE, f->dir);
        if (store_open(f->path, false, &f->store) < 0)
                return -1;
        *state = f;
        return 0;
}

static inline int fixture_rm_entry(const char *path, const struct stat *st, int flag,
                                   struct FTW *ftw) {
        (void)st, (void)flag, (void)ftw;
        return remove(path);
}

static inline int teardown(void **state) {
        Fixture *f = *state;

        store_free(f->store);
        (void)nftw(f->dir, fixture_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        free(f);
        return 0;
}
