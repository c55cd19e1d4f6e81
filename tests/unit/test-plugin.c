/* SPDX-License-Identifier: MIT */
/* Unit tests for plugin.c: loading, the ABI check, and clear refusals. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "plugin.h"

static void test_loads_real_plugin(void **state) {
        PluginRegistry *r = NULL;
        const Plugin *p = NULL, *again = NULL;
        char err[512] = "";
        const char *dir = getenv("EARSHOT_PLUGIN_DIR");

        if (!dir)
                skip();
        assert_int_equal(plugin_registry_new(&r), 0);
        assert_int_equal(plugin_registry_get(r, dir, EARSHOT_PLUGIN_SOURCE, "mastodon", &p, err,
                                             sizeof(err)),
                         0);
        assert_non_null(p);
        assert_string_equal(p->desc->name, "mastodon");
        assert_int_equal(p->desc->abi, EARSHOT_PLUGIN_ABI);
        assert_true(plugin_n_options(p) >= 2);
        /* cached: the same object */
        assert_int_equal(plugin_registry_get(r, dir, EARSHOT_PLUGIN_SOURCE, "mastodon", &again,
                                             err, sizeof(err)),
                         0);
        assert_ptr_equal(p, again);
        /* a notifier of the same name is another file */
        assert_int_equal(plugin_registry_get(r, dir, EARSHOT_PLUGIN_NOTIFIER, "webhook", &p, err,
                                             sizeof(err)),
                         0);
        assert_int_equal(p->kind, EARSHOT_PLUGIN_NOTIFIER);
        plugin_registry_free(r);
}

static void test_refuses_other_abi(void **state) {
        PluginRegistry *r = NULL;
        const Plugin *p = NULL;
        char err[512] = "", want[128];

        assert_int_equal(plugin_registry_new(&r), 0);
        assert_int_equal(plugin_registry_get(r, BADABI_DIR, EARSHOT_PLUGIN_SOURCE, "badabi", &p,
                                             err, sizeof(err)),
                         -EPROTO);
        assert_null(p);
        snprintf(want, sizeof(want), "has ABI %d, this earshotd speaks %d, refusing",
                 EARSHOT_PLUGIN_ABI + 1, EARSHOT_PLUGIN_ABI);
        if (!strstr(err, want) || !strstr(err, "source-badabi.so"))
                fail_msg("got '%s', want it to name the file and contain '%s'", err, want);
        plugin_registry_free(r);
}

static void test_unknown_type_lists_available(void **state) {
        PluginRegistry *r = NULL;
        const Plugin *p = NULL;
        char err[512] = "";
        const char *dir = getenv("EARSHOT_PLUGIN_DIR");

        if (!dir)
                skip();
        assert_int_equal(plugin_registry_new(&r), 0);
        assert_int_equal(plugin_registry_get(r, dir, EARSHOT_PLUGIN_SOURCE, "mastadon", &p, err,
                                             sizeof(err)),
                         -ENOENT);
        if (!strstr(err, "unknown source type 'mastadon'") || !strstr(err, "mastodon") ||
            !strstr(err, "replay"))
                fail_msg("got '%s'", err);
        plugin_registry_free(r);
}

static void test_rejects_path_in_type(void **state) {
        PluginRegistry *r = NULL;
        const Plugin *p = NULL;
        char err[512] = "";

        assert_int_equal(plugin_registry_new(&r), 0);
        assert_int_equal(plugin_registry_get(r, "/tmp", EARSHOT_PLUGIN_SOURCE, "../../etc/x", &p,
                                             err, sizeof(err)),
                         -EINVAL);
        assert_non_null(strstr(err, "invalid source type"));
        plugin_registry_free(r);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_loads_real_plugin),
                cmocka_unit_test(test_refuses_other_abi),
                cmocka_unit_test(test_unknown_type_lists_available),
                cmocka_unit_test(test_rejects_path_in_type),
        };
        return cmocka_run_group_tests_name("plugin", tests, NULL, NULL);
}
