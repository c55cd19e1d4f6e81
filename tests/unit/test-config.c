/* SPDX-License-Identifier: MIT */
/*
 * test-config.c - config_load() on configurations written from string literals into a fresh
 * temporary folder: every error must come through the callback as "FILE:LINE:COL: message" at
 * the exact position of the node at fault, loading must go on so that one run reports every
 * error, included files must be read (and name themselves in their errors), defaults must hold,
 * secrets must be resolved from the environment and from $CREDENTIALS_DIRECTORY and never be
 * printed. Cases with sources or notifiers need the plugin modules: they run when
 * $EARSHOT_PLUGIN_DIR names the build's plugin folder and are skipped otherwise.
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

#include "config.h"
#include "plugin.h"
#include "routes.h"
#include "rules.h"
#include "util/strv.h"

#define TEST(n, f)                                                                                 \
        { .name = (n), .test_func = (f), .setup_func = setup, .teardown_func = teardown }

#define MAX_ERRORS 64

typedef struct Fixture {
        char dir[PATH_MAX];       /* the temporary folder, canonical */
        char path[PATH_MAX + 32]; /* dir/earshot.yaml */
        char *errors[MAX_ERRORS];
        size_t n_errors; /* every call counted, even past MAX_ERRORS */
        PluginRegistry *registry;
        Config *cfg;
} Fixture;

static const char *const env_vars[] = {"TEST_TOKEN", "EARSHOT_TEST_UNSET", "CREDENTIALS_DIRECTORY"};

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof(*f));
        char tmpl[] = "/tmp/earshot-test-config-XXXXXX";

        if (!f || !mkdtemp(tmpl) || !realpath(tmpl, f->dir))
                return -1;
        snprintf(f->path, sizeof(f->path), "%s/earshot.yaml", f->dir);
        if (plugin_registry_new(&f->registry) < 0)
                return -1;
        for (size_t i = 0; i < sizeof(env_vars) / sizeof(env_vars[0]); i++)
                unsetenv(env_vars[i]);
        *state = f;
        return 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        return remove(path);
}

static int teardown(void **state) {
        Fixture *f = *state;

        config_free(f->cfg); /* before the registry: the config borrows its plugins */
        plugin_registry_free(f->registry);
        for (size_t i = 0; i < f->n_errors && i < MAX_ERRORS; i++)
                free(f->errors[i]);
        (void)nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        for (size_t i = 0; i < sizeof(env_vars) / sizeof(env_vars[0]); i++)
                unsetenv(env_vars[i]);
        free(f);
        return 0;
}

static void collect_error(const char *msg, void *userdata) {
        Fixture *f = userdata;

        assert_non_null(msg);
        if (f->n_errors < MAX_ERRORS)
                f->errors[f->n_errors] = strdup(msg);
        f->n_errors++;
}

/* Write text to dir/rel, creating one level of sub-folder as needed. */
static void write_file(Fixture *f, const char *rel, const char *text) {
        char path[PATH_MAX * 2];
        FILE *fp;

        snprintf(path, sizeof(path), "%s/%s", f->dir, rel);
        char *slash = strrchr(path, '/');
        if (slash > path + strlen(f->dir)) {
                *slash = 0;
                assert_true(mkdir(path, 0700) == 0 || errno == EEXIST);
                *slash = '/';
        }
        fp = fopen(path, "we");
        assert_non_null(fp);
        assert_true(fputs(text, fp) >= 0);
        assert_int_equal(fclose(fp), 0);
}

/* The plugin folder of the build, or skip the test. */
static const char *plugin_dir(void) {
        const char *d = getenv("EARSHOT_PLUGIN_DIR");

        if (!d || !*d) {
                print_message("# EARSHOT_PLUGIN_DIR not set, skipping\n");
                skip();
        }
        return d;
}

/* Write earshot.yaml and load it; returns config_load()'s result. */
static int load_with(Fixture *f, const char *yaml, const char *plugins) {
        write_file(f, "earshot.yaml", yaml);
        config_free(f->cfg);
        f->cfg = NULL;
        for (size_t i = 0; i < f->n_errors && i < MAX_ERRORS; i++)
                free(f->errors[i]);
        f->n_errors = 0; /* a test may load several configurations */
        int r = config_load(f->path, plugins, f->registry, collect_error, f, &f->cfg);
        if (r < 0)
                assert_null(f->cfg); /* *ret untouched on failure */
        return r;
}

static void dump_errors(const Fixture *f) {
        for (size_t i = 0; i < f->n_errors && i < MAX_ERRORS; i++)
                print_message("#   error %zu: %s\n", i, f->errors[i] ? f->errors[i] : "(oom)");
}

/* Load a configuration that must be valid. */
static Config *load_ok(Fixture *f, const char *yaml, const char *plugins) {
        int r = load_with(f, yaml, plugins);
        if (r != 0 || f->n_errors != 0) {
                dump_errors(f);
                fail_msg("config_load() = %d with %zu errors, want a valid config", r, f->n_errors);
        }
        assert_non_null(f->cfg);
        return f->cfg;
}

/* Load a configuration that must fail with exactly n_errors errors. */
static void load_bad(Fixture *f, const char *yaml, const char *plugins, size_t n_errors) {
        int r = load_with(f, yaml, plugins);
        if (r != -EINVAL || f->n_errors != n_errors) {
                dump_errors(f);
                fail_msg("config_load() = %d with %zu errors, want -EINVAL with %zu", r,
                         f->n_errors, n_errors);
        }
}

/* One error must start with "DIR/FILE:LINE:COL: " and contain every needle. */
static const char *assert_error_at(const Fixture *f, const char *file, unsigned line, unsigned col,
                                   const char *needle, const char *needle2) {
        char prefix[PATH_MAX * 2];

        snprintf(prefix, sizeof(prefix), "%s/%s:%u:%u: ", f->dir, file, line, col);
        for (size_t i = 0; i < f->n_errors && i < MAX_ERRORS; i++) {
                const char *e = f->errors[i];
                if (e && strncmp(e, prefix, strlen(prefix)) == 0 && strstr(e, needle) &&
                    (!needle2 || strstr(e, needle2)))
                        return e;
        }
        dump_errors(f);
        fail_msg("no error \"%s...%s...%s\"", prefix, needle, needle2 ? needle2 : "");
        return NULL;
}

#define assert_error(f, line, col, needle)                                                         \
        assert_error_at(f, "earshot.yaml", line, col, needle, NULL)

static const struct earshot_value *value_of(const PluginValues *pv, const char *name) {
        for (size_t i = 0; i < pv->n; i++)
                if (strcmp(pv->v[i].name, name) == 0)
                        return &pv->v[i];
        fail_msg("no option '%s'", name);
        return NULL;
}

/* ---- errors without plugins -------------------------------------------------------------- */

static void test_unknown_key_did_you_mean(void **state) {
        Fixture *f = *state;

        load_bad(f,
                 "# earshot\n"
                 "log_level: info\n"
                 "sorces: []\n"
                 "brands:\n"
                 "  - name: acme\n"
                 "    terms: [acme]\n",
                 NULL, 1);
        assert_error(f, 3, 1,
                     "unknown key 'sorces' in the configuration (did you mean 'sources'?)");
}

static void test_unknown_key_valid_keys(void **state) {
        Fixture *f = *state;

        /* nothing close: list every valid key instead of guessing */
        load_bad(f,
                 "brands:\n"
                 "  - name: acme\n"
                 "    terms: [acme]\n"
                 "colour_scheme: blue\n",
                 NULL, 1);
        const char *e = assert_error(f, 4, 1, "unknown key 'colour_scheme' in the configuration");
        assert_null(strstr(e, "did you mean"));
        assert_non_null(strstr(e, "valid keys: "));
        assert_non_null(strstr(e, "sources"));
        assert_non_null(strstr(e, "rules"));
        assert_non_null(strstr(e, "defaults"));
}

static void test_unknown_key_in_rule(void **state) {
        Fixture *f = *state;

        load_bad(f,
                 "brands:\n"
                 "  - name: acme\n"
                 "    terms: [acme]\n"
                 "rules:\n"
                 "  - name: refund\n"
                 "    brand: acme\n"
                 "    anyy: [refund]\n",
                 NULL, 1);
        assert_error(f, 7, 5, "unknown key 'anyy' in rule (did you mean 'any'?)");
}

static void test_unknown_key_in_brand(void **state) {
        Fixture *f = *state;

        load_bad(f,
                 "brands:\n"
                 "  - name: acme\n"
                 "    terms: [acme]\n"
                 "    excludes: [coyote]\n",
                 NULL, 1);
        assert_error(f, 4, 5, "unknown key 'excludes' in brand (did you mean 'exclude'?)");
}

static void test_duplicate_key(void **state) {
        Fixture *f = *state;

        load_bad(f,
                 "brands:\n"
                 "  - name: acme\n"
                 "    terms: [acme]\n"
                 "log_level: info\n"
                 "brands:\n"
                 "  - name: globex\n"
                 "    terms: [globex]\n",
                 NULL, 1);
        assert_error(f, 5, 1, "duplicate key 'brands' in the configuration (first at line 1)");
}

static void test_bad_duration(void **state) {
        Fixture *f = *state;

        load_bad(f,
                 "brands:\n"
                 "  - name: acme\n"
                 "    terms: [acme]\n"
                 "rules:\n"
                 "  - name: refund\n"
                 "    brand: acme\n"
                 "    any: [refund]\n"
                 "    respond_within: fast\n",
                 NULL, 1);
        assert_error(f, 8, 21,
                     "invalid duration 'fast' for respond_within (use e.g. 90s, 15m, 1h, 2d)");
}

static void test_bad_duration_defaults(void **state) {
        Fixture *f = *state;

        load_bad(f,
                 "defaults:\n"
                 "  respond_within: 1h30\n"
                 "  interval: -5m\n"
                 "delivery:\n"
                 "  retry_max: \"1x\"\n",
                 NULL, 3);
        assert_error(f, 2, 19, "invalid duration '1h30' for respond_within");
        assert_error(f, 3, 13, "invalid duration '-5m' for interval");
        assert_error(f, 5, 14, "invalid duration '1x' for retry_max");
}

static void test_wrong_type(void **state) {
        Fixture *f = *state;

        load_bad(f, "rules: {a: 1}\n", NULL, 1);
        assert_error(f, 1, 8, "rules must be a list (items starting with '- '), not a mapping");
}

static void test_wrong_type_scalar(void **state) {
        Fixture *f = *state;

        load_bad(f,
                 "brands: acme\n"
                 "rules:\n"
                 "  name: refund\n",
                 NULL, 2);
        assert_error(f, 1, 9, "brands must be a list (items starting with '- '), not a scalar");
        assert_error(f, 3, 3, "rules must be a list (items starting with '- '), not a mapping");
}

static void test_unknown_severity(void **state) {
        Fixture *f = *state;

        load_bad(f,
                 "brands:\n"
                 "  - name: acme\n"
                 "    terms: [acme]\n"
                 "rules:\n"
                 "  - name: refund\n"
                 "    brand: acme\n"
                 "    any: [refund]\n"
                 "    severity: urgent\n",
                 NULL, 1);
        assert_error(f, 8, 15, "invalid severity 'urgent' (low, normal, high, critical)");
}

static void test_unknown_brand(void **state) {
        Fixture *f = *state;

        load_bad(f,
                 "brands:\n"
                 "  - name: acme\n"
                 "    terms: [acme]\n"
                 "rules:\n"
                 "  - name: refund\n"
                 "    brand: acme2\n"
                 "    any: [refund]\n",
                 NULL, 1);
        assert_error(f, 6, 12, "unknown brand 'acme2' (did you mean 'acme'?)");
}

static void test_unknown_brand_in_list(void **state) {
        Fixture *f = *state;

        load_bad(f,
                 "brands:\n"
                 "  - name: acme\n"
                 "    terms: [acme]\n"
                 "rules:\n"
                 "  - name: refund\n"
                 "    brand: [acme, globex]\n"
                 "    any: [refund]\n",
                 NULL, 1);
        const char *e = f->errors[0];
        char prefix[PATH_MAX * 2];
        snprintf(prefix, sizeof(prefix), "%s:6:", f->path);
        assert_true(strncmp(e, prefix, strlen(prefix)) == 0);
        assert_non_null(strstr(e, "unknown brand 'globex'"));
}

static void test_duplicate_rule(void **state) {
        Fixture *f = *state;
        char first[PATH_MAX * 2];

        load_bad(f,
                 "brands:\n"
                 "  - name: acme\n"
                 "    terms: [acme]\n"
                 "rules:\n"
                 "  - name: refund\n"
                 "    brand: acme\n"
                 "    any: [refund]\n"
                 "  - name: refund\n"
                 "    any: [money]\n",
                 NULL, 1);
        snprintf(first, sizeof(first), "(first defined at %s:5:5)", f->path);
        assert_error_at(f, "earshot.yaml", 8, 5, "duplicate rule name 'refund'", first);
}

static void test_duplicate_brand(void **state) {
        Fixture *f = *state;
        char first[PATH_MAX * 2];

        load_bad(f,
                 "brands:\n"
                 "  - name: acme\n"
                 "    terms: [acme]\n"
                 "  - terms: [acme inc]\n"
                 "    name: acme\n",
                 NULL, 1);
        snprintf(first, sizeof(first), "(first defined at %s:2:5)", f->path);
        assert_error_at(f, "earshot.yaml", 4, 5, "duplicate brand name 'acme'", first);
}

static void test_invalid_term(void **state) {
        Fixture *f = *state;

        load_bad(f,
                 "brands:\n"
                 "  - name: acme\n"
                 "    terms: [acme, \"\"]\n"
                 "rules:\n"
                 "  - name: refund\n"
                 "    brand: acme\n"
                 "    any: [\"*\"]\n"
                 "    none: [ok, \"re*fund\"]\n",
                 NULL, 3);
        assert_error(f, 3, 19, "invalid term '' in terms: empty term");
        assert_error(f, 7, 11, "invalid term '*' in any: '*' must directly follow a word");
        assert_error(f, 8, 16, "invalid term 're*fund' in none: '*' must end a word");
}

static void test_invalid_term_block_list(void **state) {
        Fixture *f = *state;

        load_bad(f,
                 "brands:\n"
                 "  - name: acme\n"
                 "    terms:\n"
                 "      - acme\n"
                 "      - \"!!!\"\n"
                 "      - acme*corp\n",
                 NULL, 2);
        assert_error(f, 5, 9, "invalid term '!!!' in terms: a term may not be only punctuation");
        assert_error(f, 6, 9, "invalid term 'acme*corp' in terms");
}

static void test_yaml_syntax_error(void **state) {
        Fixture *f = *state;

        load_bad(f,
                 "brands:\n"
                 "  - name: acme\n"
                 "     terms: [acme]\n",
                 NULL, 1);
        assert_error(f, 3, 11, "YAML syntax error: mapping values are not allowed");
}

static void test_yaml_syntax_error_unclosed(void **state) {
        Fixture *f = *state;

        load_bad(f,
                 "log_level: info\n"
                 "brands:\n"
                 "  - name: \"acme\n"
                 "    terms: [acme]\n",
                 NULL, 1);
        /* libyaml reports where the scanner gave up: the end of the input */
        const char *e = f->errors[0];
        char prefix[PATH_MAX * 2];
        snprintf(prefix, sizeof(prefix), "%s:5:1: YAML syntax error: ", f->path);
        if (strncmp(e, prefix, strlen(prefix)) != 0)
                fail_msg("got \"%s\", want it to start with \"%s\"", e, prefix);
        assert_non_null(strstr(e, "quoted scalar"));
}

static void test_multiple_errors(void **state) {
        Fixture *f = *state;
        char first[PATH_MAX * 2];

        load_bad(f,
                 "sorces: []\n"
                 "defaults:\n"
                 "  respond_within: soon\n"
                 "brands:\n"
                 "  - name: acme\n"
                 "    terms: [acme]\n"
                 "rules:\n"
                 "  - name: refund\n"
                 "    brand: acme\n"
                 "    any: [refund]\n"
                 "    severity: urgent\n"
                 "  - name: other\n"
                 "    brand: globex\n"
                 "    any: [\"x*y\"]\n"
                 "  - name: refund\n"
                 "    brand: acme\n",
                 NULL, 6);
        snprintf(first, sizeof(first), "(first defined at %s:8:5)", f->path);
        assert_error(f, 1, 1, "unknown key 'sorces'");
        assert_error(f, 3, 19, "invalid duration 'soon' for respond_within");
        assert_error(f, 11, 15, "invalid severity 'urgent'");
        assert_error(f, 13, 12, "unknown brand 'globex'");
        assert_error(f, 14, 11, "invalid term 'x*y' in any");
        assert_error_at(f, "earshot.yaml", 15, 5, "duplicate rule name 'refund'", first);
}

static void test_rule_matching_everything(void **state) {
        Fixture *f = *state;

        load_bad(f,
                 "rules:\n"
                 "  - name: all\n"
                 "    severity: low\n",
                 NULL, 1);
        assert_error(f, 2, 5, "rule 'all' has no terms and there are no brands");
}

static void test_empty_config(void **state) {
        Fixture *f = *state;

        load_bad(f, "# nothing here yet\n", NULL, 1);
        assert_non_null(strstr(f->errors[0], "the configuration is empty"));
        assert_true(strncmp(f->errors[0], f->path, strlen(f->path)) == 0);
}

static void test_missing_file(void **state) {
        Fixture *f = *state;
        char path[PATH_MAX * 2];

        snprintf(path, sizeof(path), "%s/nope.yaml", f->dir);
        assert_true(config_load(path, NULL, f->registry, collect_error, f, &f->cfg) < 0);
        assert_null(f->cfg);
        assert_int_equal(f->n_errors, 1);
        assert_true(strncmp(f->errors[0], path, strlen(path)) == 0);
        assert_non_null(strstr(f->errors[0], "cannot read"));
}

/* ---- includes ------------------------------------------------------------------------------ */

static void test_include(void **state) {
        Fixture *f = *state;
        char want[PATH_MAX * 2];

        write_file(f, "rules.d/10-refunds.yaml",
                   "rules:\n"
                   "  - name: refund\n"
                   "    brand: acme\n"
                   "    any: [refund]\n");
        write_file(f, "rules.d/20-globex.yaml",
                   "brands:\n"
                   "  - name: globex\n"
                   "    terms: [globex]\n"
                   "rules:\n"
                   "  - name: globex-scam\n"
                   "    brand: globex\n"
                   "    any: [scam]\n");
        write_file(f, "rules.d/15-empty.yaml", "# nothing yet\n");
        write_file(f, "rules.d/README", "not: [yaml\n");
        Config *c = load_ok(f,
                            "include: rules.d/*.yaml\n"
                            "brands:\n"
                            "  - name: acme\n"
                            "    terms: [acme]\n",
                            NULL);

        assert_int_equal(c->rules->n_brands, 2);
        assert_string_equal(c->rules->brands[0].name, "acme");
        assert_string_equal(c->rules->brands[1].name, "globex");
        assert_int_equal(c->rules->n_rules, 2);
        assert_string_equal(c->rules->rules[0].name, "refund");
        assert_string_equal(c->rules->rules[1].name, "globex-scam");
        assert_int_equal(c->rules->rules[0].n_brands, 1);
        assert_int_equal(c->rules->rules[0].brands[0], 0);
        assert_int_equal(c->rules->rules[1].brands[0], 1);

        /* positions name the included file */
        snprintf(want, sizeof(want), "%s/rules.d/10-refunds.yaml", f->dir);
        assert_string_equal(c->rules->rules[0].pos.file, want);
        assert_int_equal(c->rules->rules[0].pos.line, 2);
        assert_int_equal(c->rules->rules[0].pos.column, 5);
        snprintf(want, sizeof(want), "%s/rules.d/20-globex.yaml", f->dir);
        assert_string_equal(c->rules->brands[1].pos.file, want);
        assert_int_equal(c->rules->brands[1].pos.line, 2);
        assert_string_equal(c->rules->brands[0].pos.file, f->path);

        /* main + three .yaml files */
        size_t n_files = 0;
        while (c->files[n_files])
                n_files++;
        assert_int_equal(n_files, 4);
}

static void test_include_error(void **state) {
        Fixture *f = *state;

        write_file(f, "rules.d/10-bad.yaml",
                   "rules:\n"
                   "  - name: refund\n"
                   "    brand: acme\n"
                   "    any: [refund]\n"
                   "    severity: urgent\n");
        write_file(f, "rules.d/20-typo.yaml",
                   "\n"
                   "brnads:\n"
                   "  - name: globex\n"
                   "    terms: [globex]\n");
        write_file(f, "rules.d/30-syntax.yaml",
                   "rules:\n"
                   "  - name: x\n"
                   "   any: [y]\n");
        load_bad(f,
                 "include:\n"
                 "  - rules.d/*.yaml\n"
                 "brands:\n"
                 "  - name: acme\n"
                 "    terms: [acme]\n",
                 NULL, 3);
        assert_error_at(f, "rules.d/10-bad.yaml", 5, 15, "invalid severity 'urgent'", NULL);
        assert_error_at(f, "rules.d/20-typo.yaml", 2, 1,
                        "unknown key 'brnads' in an included file (did you mean 'brands'?)", NULL);
        assert_error_at(f, "rules.d/30-syntax.yaml", 3, 4, "YAML syntax error", NULL);
}

static void test_include_missing_file(void **state) {
        Fixture *f = *state;
        char want[PATH_MAX * 2];

        /* a pattern may match nothing; a plain file name must exist */
        write_file(f, "conf.d/README", "no yaml here\n");
        load_bad(f,
                 "include: [conf.d/*.yaml, extra.yaml]\n"
                 "brands:\n"
                 "  - name: acme\n"
                 "    terms: [acme]\n",
                 NULL, 1);
        snprintf(want, sizeof(want), "included file %s/extra.yaml does not exist", f->dir);
        assert_error(f, 1, 10, want);
}

static void test_include_pattern_missing_dir(void **state) {
        Fixture *f = *state;

        /* no rules.d at all: the pattern matches nothing, as with an empty rules.d */
        Config *c = load_ok(f,
                            "include: rules.d/*.yaml\n"
                            "brands:\n"
                            "  - name: acme\n"
                            "    terms: [acme]\n",
                            NULL);
        assert_int_equal(c->rules->n_brands, 1);
}

/* ---- defaults and values ------------------------------------------------------------------ */

static void test_defaults(void **state) {
        Fixture *f = *state;
        Config *c = load_ok(f,
                            "brands:\n"
                            "  - name: acme\n"
                            "    terms: [acme]\n"
                            "rules:\n"
                            "  - name: refund\n"
                            "    brand: acme\n"
                            "    any: [refund]\n",
                            NULL);

        assert_int_equal(c->default_respond_within, USEC_PER_HOUR);
        assert_int_equal(c->default_backfill, USEC_PER_HOUR);
        assert_int_equal(c->default_interval, 60 * USEC_PER_SEC);
        assert_int_equal(c->retry_initial, 10 * USEC_PER_SEC);
        assert_int_equal(c->retry_max, USEC_PER_HOUR);
        assert_int_equal(c->http_timeout, 30 * USEC_PER_SEC);
        assert_int_equal(c->http_connect_timeout, 10 * USEC_PER_SEC);
        assert_int_equal(c->seen_retention, 30 * USEC_PER_DAY);
        assert_int_equal(c->log_level, -1);
        assert_null(c->state_dir);
        assert_non_null(c->user_agent);
        assert_int_equal(c->rules->rules[0].severity, SEVERITY_NORMAL);
        assert_int_equal(c->rules->rules[0].respond_within, 0);
        assert_int_equal(config_respond_within(c, c->rules->rules[0].respond_within, NULL), USEC_PER_HOUR);
        assert_int_equal(c->n_sources, 0);
        assert_int_equal(c->n_notifiers, 0);
}

static void test_defaults_set(void **state) {
        Fixture *f = *state;
        Config *c = load_ok(f,
                            "defaults:\n"
                            "  respond_within: 2h\n"
                            "  backfill: 30m\n"
                            "  interval: 5m\n"
                            "delivery: {retry_initial: 30s, retry_max: 1h30m}\n"
                            "store:\n"
                            "  seen_retention: 1w\n"
                            "http:\n"
                            "  timeout: 15s\n"
                            "brands:\n"
                            "  - name: acme\n"
                            "    terms: [acme]\n"
                            "rules:\n"
                            "  - name: slow\n"
                            "    brand: acme\n"
                            "    any: [refund]\n"
                            "  - name: urgent\n"
                            "    brand: acme\n"
                            "    any: [lawsuit]\n"
                            "    severity: critical\n"
                            "    respond_within: 15m\n",
                            NULL);

        assert_int_equal(c->default_respond_within, 2 * USEC_PER_HOUR);
        assert_int_equal(c->default_backfill, 30 * USEC_PER_MINUTE);
        assert_int_equal(c->default_interval, 5 * USEC_PER_MINUTE);
        assert_int_equal(c->retry_initial, 30 * USEC_PER_SEC);
        assert_int_equal(c->retry_max, 90 * USEC_PER_MINUTE);
        assert_int_equal(c->seen_retention, 7 * USEC_PER_DAY);
        assert_int_equal(c->http_timeout, 15 * USEC_PER_SEC);
        assert_int_equal(c->http_connect_timeout, 10 * USEC_PER_SEC); /* untouched */
        assert_int_equal(config_respond_within(c, c->rules->rules[0].respond_within, NULL),
                         2 * USEC_PER_HOUR);
        assert_int_equal(config_respond_within(c, c->rules->rules[1].respond_within, NULL), 15 * USEC_PER_MINUTE);
        assert_int_equal(c->rules->rules[1].severity, SEVERITY_CRITICAL);
        assert_int_equal(config_respond_within(c, 0, NULL), 2 * USEC_PER_HOUR);
}

static void test_env_expansion(void **state) {
        Fixture *f = *state;

        assert_int_equal(setenv("TEST_TOKEN", "tok-from-env-123", 1), 0);
        Config *c = load_ok(f,
                            "http:\n"
                            "  user_agent: \"bot ${TEST_TOKEN} costs $$5\"\n"
                            "brands:\n"
                            "  - name: acme\n"
                            "    terms: [acme]\n",
                            NULL);
        assert_string_equal(c->user_agent, "bot tok-from-env-123 costs $5");
}

static void test_env_unset(void **state) {
        Fixture *f = *state;

        load_bad(f,
                 "http:\n"
                 "  user_agent: ${EARSHOT_TEST_UNSET}\n"
                 "brands:\n"
                 "  - name: acme\n"
                 "    terms: [acme]\n",
                 NULL, 1);
        assert_error(f, 2, 15, "environment variable 'EARSHOT_TEST_UNSET' is not set");
}

/* ---- plugins: sources, notifiers, secrets --------------------------------------------------- */

static void test_source_options(void **state) {
        Fixture *f = *state;
        const char *dir = plugin_dir();
        Config *c = load_ok(f,
                            "defaults:\n"
                            "  respond_within: 2h\n"
                            "sources:\n"
                            "  - name: masto\n"
                            "    type: mastodon\n"
                            "    interval: 2m\n"
                            "    respond_within: 30m\n"
                            "    instances: [https://mastodon.example, https://fosstodon.example]\n"
                            "    tags: acme\n"
                            "    limit: 20\n",
                            dir);

        assert_int_equal(c->n_sources, 1);
        const SourceConfig *s = &c->sources[0];
        assert_string_equal(s->name, "masto");
        assert_string_equal(s->type, "mastodon");
        assert_non_null(s->plugin);
        assert_true(s->enabled);
        assert_int_equal(s->interval, 2 * USEC_PER_MINUTE);
        assert_int_equal(s->backfill, USEC_PER_HOUR);
        assert_int_equal(config_respond_within(c, 0, s), 30 * USEC_PER_MINUTE);
        assert_int_equal(s->pos.line, 4);
        assert_int_equal(s->pos.column, 5);

        const struct earshot_value *v = value_of(&s->values, "instances");
        assert_true(v->set);
        assert_int_equal(v->n_list, 2);
        assert_string_equal(v->list[0], "https://mastodon.example");
        assert_string_equal(v->list[1], "https://fosstodon.example");
        v = value_of(&s->values, "tags"); /* a single string is a list of one */
        assert_int_equal(v->n_list, 1);
        assert_string_equal(v->list[0], "acme");
        v = value_of(&s->values, "limit");
        assert_true(v->set);
        assert_int_equal(v->num, 20);
        v = value_of(&s->values, "max_pages"); /* from the table's default */
        assert_true(v->set);
        assert_int_equal(v->num, 10);
        v = value_of(&s->values, "local");
        assert_true(v->set);
        assert_int_equal(v->num, 0);
        v = value_of(&s->values, "access_token");
        assert_false(v->set);
}

static void test_unknown_source_type(void **state) {
        Fixture *f = *state;
        const char *dir = plugin_dir();

        load_bad(f,
                 "sources:\n"
                 "  - name: birdsite\n"
                 "    type: twitter\n"
                 "    tags: [acme]\n",
                 dir, 1);
        const char *e = assert_error(f, 3, 11, "unknown source type 'twitter'");
        const char *avail = strstr(e, "available: ");
        assert_non_null(avail);
        assert_non_null(strstr(avail, "mastodon"));
        assert_non_null(strstr(avail, "replay"));
        assert_null(strstr(avail, "webhook")); /* a notifier, not a source */
}

static void test_unknown_notifier_type(void **state) {
        Fixture *f = *state;
        const char *dir = plugin_dir();

        load_bad(f,
                 "notifiers:\n"
                 "  - name: pager\n"
                 "    type: pagerduty\n",
                 dir, 1);
        const char *e = assert_error(f, 3, 11, "unknown notifier type 'pagerduty'");
        const char *avail = strstr(e, "available: ");
        assert_non_null(avail);
        assert_non_null(strstr(avail, "webhook"));
        assert_non_null(strstr(avail, "log"));
        assert_null(strstr(avail, "mastodon"));
}

static void test_missing_required_option(void **state) {
        Fixture *f = *state;
        const char *dir = plugin_dir();

        load_bad(f,
                 "sources:\n"
                 "  - name: masto\n"
                 "    type: mastodon\n"
                 "    tags: [acme]\n"
                 "notifiers:\n"
                 "  - name: hook\n"
                 "    type: webhook\n",
                 dir, 2);
        assert_error(f, 2, 5, "missing required option 'instances'");
        assert_error(f, 6, 5, "missing required option 'url'");
}

static void test_plugin_option_errors(void **state) {
        Fixture *f = *state;
        const char *dir = plugin_dir();

        load_bad(f,
                 "sources:\n"
                 "  - name: masto\n"
                 "    type: mastodon\n"
                 "    instances: [https://mastodon.example]\n"
                 "    tag: [acme]\n"
                 "    limit: many\n"
                 "notifiers:\n"
                 "  - name: hook\n"
                 "    type: webhook\n"
                 "    url: ftp://hooks.example/x\n",
                 dir, 3);
        /* (tags are optional now that accounts can be followed instead) */
        assert_error(f, 5, 5, "unknown key 'tag' in source (mastodon) (did you mean 'tags'?)");
        assert_error(f, 6, 12, "option 'limit' must be a whole number, not 'many'");
        assert_error(f, 10, 10, "option 'url' must be an http:// or https:// URL");
}

static void test_secret_from_env(void **state) {
        Fixture *f = *state;
        const char *dir = plugin_dir();

        assert_int_equal(setenv("TEST_TOKEN", "tok-from-env-123", 1), 0);
        Config *c = load_ok(f,
                            "notifiers:\n"
                            "  - name: hook\n"
                            "    type: webhook\n"
                            "    url: https://hooks.example/earshot\n"
                            "    bearer_token: ${TEST_TOKEN}\n",
                            dir);

        assert_int_equal(c->n_notifiers, 1);
        const struct earshot_value *v = value_of(&c->notifiers[0].values, "bearer_token");
        assert_true(v->set);
        assert_string_equal(v->str, "tok-from-env-123");
        v = value_of(&c->notifiers[0].values, "url");
        assert_string_equal(v->str, "https://hooks.example/earshot");
}

static void test_secret_from_credentials_dir(void **state) {
        Fixture *f = *state;
        const char *dir = plugin_dir();
        char creds[PATH_MAX * 2];

        write_file(f, "creds/tok", "file-secret-456\n");
        write_file(f, "creds/crlf", "crlf-secret\r\n");
        write_file(f, "tok", "wrong: the config folder, not the credentials\n");
        snprintf(creds, sizeof(creds), "%s/creds", f->dir);
        assert_int_equal(setenv("CREDENTIALS_DIRECTORY", creds, 1), 0);
        Config *c = load_ok(f,
                            "notifiers:\n"
                            "  - name: hook\n"
                            "    type: webhook\n"
                            "    url: https://hooks.example/earshot\n"
                            "    bearer_token_file: tok\n"
                            "  - name: hook2\n"
                            "    type: webhook\n"
                            "    url: https://hooks.example/two\n"
                            "    bearer_token_file: crlf\n",
                            dir);

        const struct earshot_value *v = value_of(&c->notifiers[0].values, "bearer_token");
        assert_true(v->set);
        assert_string_equal(v->str, "file-secret-456");
        v = value_of(&c->notifiers[1].values, "bearer_token");
        assert_string_equal(v->str, "crlf-secret");
}

static void test_secret_file_without_credentials_dir(void **state) {
        Fixture *f = *state;
        const char *dir = plugin_dir();

        /* no $CREDENTIALS_DIRECTORY: relative to the config's folder */
        write_file(f, "secrets/hook-token", "relative-secret\n\n");
        Config *c = load_ok(f,
                            "notifiers:\n"
                            "  - name: hook\n"
                            "    type: webhook\n"
                            "    url: https://hooks.example/earshot\n"
                            "    bearer_token_file: secrets/hook-token\n",
                            dir);

        const struct earshot_value *v = value_of(&c->notifiers[0].values, "bearer_token");
        assert_string_equal(v->str, "relative-secret");
}

static void test_secret_file_missing(void **state) {
        Fixture *f = *state;
        const char *dir = plugin_dir();
        char creds[PATH_MAX * 2];

        snprintf(creds, sizeof(creds), "%s/creds", f->dir);
        assert_int_equal(mkdir(creds, 0700), 0);
        assert_int_equal(setenv("CREDENTIALS_DIRECTORY", creds, 1), 0);
        load_bad(f,
                 "notifiers:\n"
                 "  - name: hook\n"
                 "    type: webhook\n"
                 "    url: https://hooks.example/earshot\n"
                 "    bearer_token_file: nope\n",
                 dir, 1);
        const char *e = assert_error(f, 5, 24, "cannot read secret file ");
        assert_non_null(strstr(e, "/creds/nope"));
}

static void test_secret_env_unset(void **state) {
        Fixture *f = *state;
        const char *dir = plugin_dir();

        load_bad(f,
                 "notifiers:\n"
                 "  - name: hook\n"
                 "    type: webhook\n"
                 "    url: https://hooks.example/earshot\n"
                 "    bearer_token: ${EARSHOT_TEST_UNSET}\n",
                 dir, 1);
        assert_error(f, 5, 19, "environment variable 'EARSHOT_TEST_UNSET' is not set");
}

static void test_secret_both_forms(void **state) {
        Fixture *f = *state;
        const char *dir = plugin_dir();

        write_file(f, "tok", "file-secret\n");
        load_bad(f,
                 "notifiers:\n"
                 "  - name: hook\n"
                 "    type: webhook\n"
                 "    url: https://hooks.example/earshot\n"
                 "    bearer_token: literal-secret\n"
                 "    bearer_token_file: tok\n",
                 dir, 1);
        const char *e = assert_error(f, 6, 24,
                                     "give either 'bearer_token' or 'bearer_token_file', not both");
        assert_null(strstr(e, "literal-secret"));
        assert_null(strstr(e, "file-secret"));
}

static void test_secret_never_in_errors(void **state) {
        Fixture *f = *state;
        const char *dir = plugin_dir();

        /* an error elsewhere in a section holding a secret must not print the secret */
        assert_int_equal(setenv("TEST_TOKEN", "tok-from-env-123", 1), 0);
        load_bad(f,
                 "notifiers:\n"
                 "  - name: hook\n"
                 "    type: webhook\n"
                 "    url: https://hooks.example/earshot\n"
                 "    bearer_token: ${TEST_TOKEN}\n"
                 "    bearer_tokn: literal-secret\n",
                 dir, 1);
        const char *e = assert_error(f, 6, 5, "unknown key 'bearer_tokn'");
        assert_null(strstr(e, "literal-secret"));
        assert_null(strstr(e, "tok-from-env-123"));
}

static void test_dump_summary(void **state) {
        Fixture *f = *state;
        const char *dir = plugin_dir();
        char *buf = NULL;
        size_t len = 0;

        write_file(f, "tok", "file-secret-456\n");
        assert_int_equal(setenv("TEST_TOKEN", "tok-from-env-123", 1), 0);
        Config *c = load_ok(f,
                            "sources:\n"
                            "  - name: masto\n"
                            "    type: mastodon\n"
                            "    instances: [https://mastodon.example]\n"
                            "    tags: [acme, acmesupport]\n"
                            "    access_token: literal-secret-789\n"
                            "notifiers:\n"
                            "  - name: hook\n"
                            "    type: webhook\n"
                            "    url: https://hooks.example/earshot\n"
                            "    bearer_token: ${TEST_TOKEN}\n"
                            "  - name: hook2\n"
                            "    type: webhook\n"
                            "    url: https://hooks.example/two\n"
                            "    bearer_token_file: tok\n"
                            "brands:\n"
                            "  - name: acme\n"
                            "    terms: [acme]\n"
                            "rules:\n"
                            "  - name: refund\n"
                            "    brand: acme\n"
                            "    any: [refund]\n",
                            dir);

        FILE *out = open_memstream(&buf, &len);
        assert_non_null(out);
        config_dump_summary(c, out);
        assert_int_equal(fclose(out), 0);
        assert_non_null(buf);

        assert_null(strstr(buf, "tok-from-env-123"));
        assert_null(strstr(buf, "literal-secret-789"));
        assert_null(strstr(buf, "file-secret-456"));
        assert_non_null(strstr(buf, "access_token: ***"));
        assert_non_null(strstr(buf, "bearer_token: ***"));
        /* the second webhook's secret came from a file: still masked */
        const char *second = strstr(buf, "hook2");
        assert_non_null(second);
        assert_non_null(strstr(second, "bearer_token: ***"));
        /* what is not secret is shown */
        assert_non_null(strstr(buf, "url: https://hooks.example/earshot"));
        assert_non_null(strstr(buf, "instances: https://mastodon.example"));
        assert_non_null(strstr(buf, "tags: acme, acmesupport"));
        assert_non_null(strstr(buf, "masto (mastodon)"));
        assert_non_null(strstr(buf, "refund"));
        free(buf);
}

/* ---- the alert queue: targets, priority, escalation, grouping, retention -------------------- */

#define ACME "brands:\n  - name: acme\n    terms: [acme]\n"

/* The warnings of the loaded config, joined by newlines ("" when none). */
static const char *warnings_text(const Config *c) {
        static char buf[8192];
        buf[0] = 0;
        for (size_t i = 0; c->warnings && c->warnings[i]; i++) {
                size_t used = strlen(buf);
                snprintf(buf + used, sizeof(buf) - used, "%s\n", c->warnings[i]);
        }
        return buf;
}

/* A warning must start with "DIR/earshot.yaml:LINE:COL: warning: " and contain needle. */
static void assert_warning(const Fixture *f, unsigned line, unsigned col, const char *needle) {
        char prefix[PATH_MAX * 2];

        snprintf(prefix, sizeof(prefix), "%s:%u:%u: warning: ", f->path, line, col);
        for (size_t i = 0; f->cfg->warnings && f->cfg->warnings[i]; i++) {
                const char *w = f->cfg->warnings[i];
                if (strncmp(w, prefix, strlen(prefix)) == 0 && strstr(w, needle))
                        return;
        }
        fail_msg("no warning \"%s...%s\" in:\n%s", prefix, needle, warnings_text(f->cfg));
}

static char *dump_of(const Config *c) {
        char *buf = NULL;
        size_t len = 0;
        FILE *out = open_memstream(&buf, &len);

        assert_non_null(out);
        config_dump_summary(c, out);
        assert_int_equal(fclose(out), 0);
        assert_non_null(buf);
        return buf;
}

#define assert_contains(hay, needle)                                                               \
        do {                                                                                       \
                if (!strstr((hay), (needle)))                                                      \
                        fail_msg("'%s' not in:\n%s", (needle), (hay));                             \
        } while (0)

static void test_queue_defaults(void **state) {
        Fixture *f = *state;
        const char *from = NULL;
        Config *c = load_ok(f, ACME, NULL);

        /* the shipped class targets: an hour on social networks, a day on forums and reviews */
        assert_int_equal(c->network_classes[NETWORK_SOCIAL].respond_within, 60 * USEC_PER_MINUTE);
        assert_int_equal(c->network_classes[NETWORK_FORUM].respond_within, 24 * USEC_PER_HOUR);
        assert_int_equal(c->network_classes[NETWORK_REVIEW].respond_within, 24 * USEC_PER_HOUR);
        for (int i = 0; i < _NETWORK_CLASS_MAX; i++)
                assert_null(c->network_classes[i].networks);
        assert_int_equal(config_network_class(c, NULL, "reddit"), NETWORK_FORUM);
        assert_int_equal(config_network_class(c, NULL, "appstore"), NETWORK_REVIEW);
        assert_int_equal(config_network_class(c, NULL, "mastodon"), NETWORK_SOCIAL);
        assert_int_equal(config_network_class(c, NULL, NULL), NETWORK_SOCIAL);
        assert_int_equal(config_target(c, NULL, 0, NULL, "mastodon", &from), USEC_PER_HOUR);
        assert_string_equal(from, "network class");
        assert_int_equal(config_target(c, NULL, 0, NULL, "reddit", NULL), 24 * USEC_PER_HOUR);
        assert_int_equal(config_target(c, NULL, 0, NULL, "appstore", NULL), 24 * USEC_PER_HOUR);

        assert_true(c->priority.severity == 10.0);
        assert_true(c->priority.reach == 2.0);
        assert_true(c->priority.engagement == 3.0);

        assert_int_equal(c->n_escalation_policies, 0);
        assert_null(c->escalation_policies);
        for (int i = 0; i < _SEVERITY_MAX; i++) {
                assert_int_equal(c->escalation_by_severity[i], -1);
                assert_null(config_escalation_for(c, NULL, 0, (Severity)i));
        }
        assert_true(c->group_threads);
        assert_int_equal(c->group_copies_window, USEC_PER_HOUR);
        assert_int_equal(c->alert_retention, 180 * USEC_PER_DAY);
        assert_int_equal(c->outbox_retention, 30 * USEC_PER_DAY);
        assert_int_equal(c->seen_retention, 30 * USEC_PER_DAY);
        assert_null(c->warnings);
}

static void test_target_explicit_default(void **state) {
        Fixture *f = *state;
        const char *from = NULL;

        /* a written defaults.respond_within stands for every class network_classes: leaves
         * out, as it did before there were classes */
        Config *c = load_ok(f,
                            "defaults:\n"
                            "  respond_within: 2h\n"
                            "network_classes:\n"
                            "  social: {respond_within: 45m}\n" ACME,
                            NULL);
        assert_int_equal(c->network_classes[NETWORK_SOCIAL].respond_within, 45 * USEC_PER_MINUTE);
        assert_int_equal(c->network_classes[NETWORK_FORUM].respond_within, 0);
        assert_int_equal(c->network_classes[NETWORK_REVIEW].respond_within, 0);
        assert_int_equal(config_target(c, NULL, 0, NULL, "reddit", &from), 2 * USEC_PER_HOUR);
        assert_string_equal(from, "default");
        assert_int_equal(config_target(c, NULL, 0, NULL, "mastodon", &from), 45 * USEC_PER_MINUTE);
        assert_string_equal(from, "network class");
        assert_int_equal(config_respond_within(c, 0, NULL), 2 * USEC_PER_HOUR);

        char *dump = dump_of(c);
        assert_contains(dump, "  response targets: social 45m, forum 2h00m "
                              "(defaults.respond_within), review 2h00m "
                              "(defaults.respond_within)\n");
        free(dump);
}

static void test_network_classes(void **state) {
        Fixture *f = *state;
        Config *c = load_ok(f,
                            "network_classes:\n"
                            "  forum: {respond_within: 12h, networks: [RSS, atom]}\n"
                            "  review:\n"
                            "    respond_within: 2d\n" ACME,
                            NULL);

        assert_int_equal(c->network_classes[NETWORK_SOCIAL].respond_within, USEC_PER_HOUR);
        assert_int_equal(c->network_classes[NETWORK_FORUM].respond_within, 12 * USEC_PER_HOUR);
        assert_int_equal(c->network_classes[NETWORK_REVIEW].respond_within, 2 * USEC_PER_DAY);
        assert_string_equal(c->network_classes[NETWORK_FORUM].networks[0], "rss");
        assert_string_equal(c->network_classes[NETWORK_FORUM].networks[1], "atom");
        assert_null(c->network_classes[NETWORK_FORUM].networks[2]);
        /* rss moved from review to forum; reddit stays a forum, appstore a review site */
        assert_int_equal(config_network_class(c, NULL, "rss"), NETWORK_FORUM);
        assert_int_equal(config_target(c, NULL, 0, NULL, "rss", NULL), 12 * USEC_PER_HOUR);
        assert_int_equal(config_target(c, NULL, 0, NULL, "reddit", NULL), 12 * USEC_PER_HOUR);
        assert_int_equal(config_target(c, NULL, 0, NULL, "appstore", NULL), 2 * USEC_PER_DAY);
        assert_int_equal(config_target(c, NULL, 0, NULL, "bluesky", NULL), USEC_PER_HOUR);

        char *dump = dump_of(c);
        assert_contains(dump, "  response targets: social 1h00m, forum 12h00m +rss +atom, "
                              "review 2d0h\n");
        free(dump);
}

static void test_network_class_errors(void **state) {
        Fixture *f = *state;

        load_bad(f,
                 "network_classes:\n"
                 "  socail: {respond_within: 45m}\n"
                 "  forum:\n"
                 "    respond_within: soon\n"
                 "    networks: [reddit, lemmy]\n"
                 "    network: [hackernews]\n"
                 "  review: {networks: [reddit, appstore]}\n"
                 "defaults:\n"
                 "  respond_within: 0\n" ACME,
                 NULL, 5);
        assert_error(f, 2, 3,
                     "unknown key 'socail' in network_classes (did you mean 'social'?)");
        assert_error(f, 4, 21, "invalid duration 'soon' for respond_within");
        assert_error(f, 6, 5,
                     "unknown key 'network' in network_classes: forum (did you mean "
                     "'networks'?)");
        assert_error(f, 7, 23, "network 'reddit' is already in class 'forum'");
        assert_error(f, 9, 19, "defaults: respond_within must be greater than 0");

        load_bad(f, "network_classes: [social]\n" ACME, NULL, 1);
        assert_error(f, 1, 18, "network_classes must be a mapping of keys to values, not a list");
}

static void test_target_order(void **state) {
        Fixture *f = *state;
        const char *dir = plugin_dir();
        const char *from = NULL;
        Config *c = load_ok(f,
                            "defaults:\n"
                            "  respond_within: 3h\n"
                            "network_classes:\n"
                            "  forum: {respond_within: 12h}\n"
                            "sources:\n"
                            "  - name: masto\n"
                            "    type: mastodon\n"
                            "    instances: [https://mastodon.example]\n"
                            "  - name: slow\n"
                            "    type: mastodon\n"
                            "    instances: [https://mastodon.example]\n"
                            "    respond_within: 4h\n"
                            "  - name: forum-feed\n"
                            "    type: mastodon\n"
                            "    instances: [https://mastodon.example]\n"
                            "    network_class: forum\n"
                            "brands:\n"
                            "  - name: acme\n"
                            "    terms: [acme]\n"
                            "    respond_within: 2h\n"
                            "  - name: globex\n"
                            "    terms: [globex]\n"
                            "rules:\n"
                            "  - name: outage\n"
                            "    any: [down]\n"
                            "    respond_within: 15m\n"
                            "  - name: refund\n"
                            "    any: [refund]\n"
                            "  - name: review\n"
                            "    brand: none\n"
                            "    any: [stars]\n",
                            dir);
        const SourceConfig *masto = &c->sources[0], *slow = &c->sources[1],
                           *forum = &c->sources[2];
        RuleMatch outage_acme = {.rule = 0, .brand = 0}, refund_acme = {.rule = 1, .brand = 0},
                  refund_globex = {.rule = 1, .brand = 1}, review = {.rule = 2, .brand = -1};

        assert_int_equal(masto->network_class, _NETWORK_CLASS_INVALID);
        assert_int_equal(forum->network_class, NETWORK_FORUM);
        assert_int_equal(config_network_class(c, forum, "mastodon"), NETWORK_FORUM);
        assert_int_equal(config_network_class(c, masto, "mastodon"), NETWORK_SOCIAL);

        /* rule > brand > source > network class > defaults.respond_within */
        assert_int_equal(config_target(c, &outage_acme, 1, slow, "reddit", &from),
                         15 * USEC_PER_MINUTE);
        assert_string_equal(from, "rule");
        assert_int_equal(config_target(c, &refund_acme, 1, slow, "reddit", &from),
                         2 * USEC_PER_HOUR);
        assert_string_equal(from, "brand");
        assert_int_equal(config_target(c, &refund_globex, 1, slow, "reddit", &from),
                         4 * USEC_PER_HOUR);
        assert_string_equal(from, "source");
        assert_int_equal(config_target(c, &refund_globex, 1, masto, "reddit", &from),
                         12 * USEC_PER_HOUR);
        assert_string_equal(from, "network class");
        assert_int_equal(config_target(c, &refund_globex, 1, forum, "mastodon", &from),
                         12 * USEC_PER_HOUR);
        assert_string_equal(from, "network class");
        /* social sets none here, and defaults.respond_within was written */
        assert_int_equal(config_target(c, &refund_globex, 1, masto, "mastodon", &from),
                         3 * USEC_PER_HOUR);
        assert_string_equal(from, "default");

        /* several rules: the strictest target wins, and says where it came from */
        RuleMatch two[] = {refund_acme, outage_acme};
        assert_int_equal(config_target(c, two, 2, masto, "mastodon", &from),
                         15 * USEC_PER_MINUTE);
        assert_string_equal(from, "rule");
        RuleMatch brandless[] = {review, refund_globex};
        assert_int_equal(config_target(c, brandless, 2, slow, "mastodon", &from),
                         4 * USEC_PER_HOUR);
        assert_string_equal(from, "source");
        /* no rule (operator alerts) */
        assert_int_equal(config_target(c, NULL, 0, slow, NULL, &from), 4 * USEC_PER_HOUR);
        assert_string_equal(from, "source");
        assert_int_equal(config_target(c, NULL, 0, NULL, NULL, &from), 3 * USEC_PER_HOUR);
        assert_string_equal(from, "default");

        /* the old function keeps its answers */
        assert_int_equal(config_respond_within(c, 0, slow), 4 * USEC_PER_HOUR);
        assert_int_equal(config_respond_within(c, 0, masto), 3 * USEC_PER_HOUR);
        assert_int_equal(config_respond_within(c, rule_respond_within(c->rules, &refund_acme),
                                               masto),
                         2 * USEC_PER_HOUR);

        char *dump = dump_of(c);
        assert_contains(dump, "    masto (mastodon) every 1m, respond within by network class\n");
        assert_contains(dump, "    slow (mastodon) every 1m, respond within 4h00m\n");
        assert_contains(dump, "    forum-feed (mastodon) every 1m, respond within 12h00m (forum)\n");
        assert_contains(dump, "    outage [normal] respond within 15m (");
        assert_contains(dump, "    review [normal] respond within by network class (");
        free(dump);
}

static void test_source_network_class_error(void **state) {
        Fixture *f = *state;
        const char *dir = plugin_dir();

        load_bad(f,
                 "sources:\n"
                 "  - name: masto\n"
                 "    type: mastodon\n"
                 "    instances: [https://mastodon.example]\n"
                 "    network_class: forums\n"
                 "    network_clas: forum\n",
                 dir, 2);
        assert_error(f, 5, 20, "invalid network_class 'forums' (social, forum, review)");
        assert_error(f, 6, 5,
                     "unknown key 'network_clas' in source (mastodon) (did you mean "
                     "'network_class'?)");
}

static void test_priority(void **state) {
        Fixture *f = *state;
        Config *c = load_ok(f, "priority: {severity: 5, reach: 0.5, engagement: 0}\n" ACME, NULL);

        assert_true(c->priority.severity == 5.0);
        assert_true(c->priority.reach == 0.5);
        assert_true(c->priority.engagement == 0.0);
        assert_null(c->warnings);
        char *dump = dump_of(c);
        assert_contains(dump, "  priority weights: severity 5, reach 0.5, engagement 0\n");
        free(dump);

        /* one weight set: the others keep their defaults */
        c = load_ok(f, "priority:\n  reach: 4\n" ACME, NULL);
        assert_true(c->priority.severity == 10.0);
        assert_true(c->priority.reach == 4.0);
        assert_true(c->priority.engagement == 3.0);

        c = load_ok(f, "priority: {severity: 0, reach: 0, engagement: 0}\n" ACME, NULL);
        assert_warning(f, 1, 11, "every priority weight is 0");

        load_bad(f,
                 "priority:\n"
                 "  severity: -1\n"
                 "  reach: lots\n"
                 "  engagment: 2\n" ACME,
                 NULL, 3);
        assert_error(f, 2, 13, "severity must be between 0 and 1000, not -1");
        assert_error(f, 3, 10, "reach must be a number, not 'lots'");
        assert_error(f, 4, 3, "unknown key 'engagment' in priority (did you mean 'engagement'?)");

        load_bad(f, "priority: {reach: inf, severity: 0x10, engagement: 1001}\n" ACME, NULL, 3);
        assert_error(f, 1, 19, "reach must be a number, not 'inf'");
        assert_error(f, 1, 34, "severity must be a number, not '0x10'");
        assert_error(f, 1, 52, "engagement must be between 0 and 1000, not 1001");

        load_bad(f, "priority: [1, 2]\n" ACME, NULL, 1);
        assert_error(f, 1, 11, "priority must be a mapping of keys to values, not a list");
}

static void test_grouping_retention(void **state) {
        Fixture *f = *state;
        Config *c = load_ok(f,
                            "grouping: {threads: false, copies_window: 0}\n"
                            "retention: {alerts: 90d, outbox: 0, seen: 14d}\n" ACME,
                            NULL);

        assert_false(c->group_threads);
        assert_int_equal(c->group_copies_window, 0);
        assert_int_equal(c->alert_retention, 90 * USEC_PER_DAY);
        assert_int_equal(c->outbox_retention, 0);
        assert_int_equal(c->seen_retention, 14 * USEC_PER_DAY);
        assert_null(c->warnings);
        char *dump = dump_of(c);
        assert_contains(dump, "  grouping: threads off, copies off\n");
        assert_contains(dump, "  retention: alerts 90d0h, outbox forever, seen 14d0h\n");
        free(dump);

        /* the older spelling of retention.seen still works */
        c = load_ok(f, "store: {seen_retention: 7d}\ngrouping: {copies_window: 2h}\n" ACME, NULL);
        assert_int_equal(c->seen_retention, 7 * USEC_PER_DAY);
        assert_int_equal(c->group_copies_window, 2 * USEC_PER_HOUR);
        assert_true(c->group_threads);
        assert_int_equal(c->alert_retention, 180 * USEC_PER_DAY);

        /* copies are looked for among the posts still remembered */
        c = load_ok(f, "grouping: {copies_window: 2d}\nretention: {seen: 1d}\n" ACME, NULL);
        assert_warning(f, 1, 27, "copies_window 2d0h is longer than retention: seen (1d0h)");

        load_bad(f,
                 "grouping:\n"
                 "  threads: sometimes\n"
                 "  copies_window: soon\n"
                 "  copies: 1h\n"
                 "store:\n"
                 "  seen_retention: 7d\n"
                 "retention:\n"
                 "  alerts: forever\n"
                 "  seen: 14d\n"
                 "  outbx: 1d\n" ACME,
                 NULL, 6);
        assert_error(f, 2, 12, "threads must be true or false, not 'sometimes'");
        assert_error(f, 3, 18, "invalid duration 'soon' for copies_window");
        assert_error(f, 4, 3,
                     "unknown key 'copies' in grouping (valid keys: threads, copies_window)");
        assert_error(f, 8, 11, "invalid duration 'forever' for alerts");
        assert_error(f, 9, 9,
                     "retention: seen and store: seen_retention (line 6) are the same setting: "
                     "keep only retention: seen");
        assert_error(f, 10, 3, "unknown key 'outbx' in retention (did you mean 'outbox'?)");
}

static const char escalation_yaml[] =
        "escalation:\n"
        "  policies:\n"
        "    standard:\n"
        "      - at: 50%\n"
        "      - at: 100%\n"
        "    urgent:\n"
        "      - at: 15m\n"
        "      - at: 25%\n"
        "        stop_on: responded\n"
        "      - at: 2h\n"
        "      - at: 150%\n"
        "        stop_on: acknowledged\n"
        "  by_severity: {critical: urgent, high: standard, normal: standard, low: none}\n"
        ACME
        "rules:\n"
        "  - name: outage\n"
        "    any: [down]\n"
        "    severity: high\n"
        "    escalation: urgent\n"
        "  - name: refund\n"
        "    any: [refund]\n"
        "    severity: critical\n"
        "  - name: praise\n"
        "    any: [thanks]\n"
        "    severity: low\n"
        "    escalation: none\n"
        "  - name: billing\n"
        "    any: [charged]\n"
        "    severity: critical\n"
        "    escalation: standard\n"
        "  - name: slow\n"
        "    any: [slow]\n"
        "    severity: high\n"
        "    escalation: standard\n";

static void test_escalation(void **state) {
        Fixture *f = *state;
        Config *c = load_ok(f, escalation_yaml, NULL);

        assert_int_equal(c->n_escalation_policies, 2);
        const EscalationPolicy *standard = &c->escalation_policies[0],
                               *urgent = &c->escalation_policies[1];
        assert_string_equal(standard->name, "standard");
        assert_int_equal(standard->n_steps, 2);
        assert_true(standard->steps[0].fraction == 0.5);
        assert_int_equal(standard->steps[0].offset, 0);
        assert_int_equal(standard->steps[0].stop_on, ALERT_ACKNOWLEDGED); /* before the due time */
        assert_null(standard->steps[0].notify);                          /* every notifier */
        assert_true(standard->steps[1].fraction == 1.0);
        assert_int_equal(standard->steps[1].stop_on, ALERT_RESPONDED); /* at the due time */

        assert_string_equal(urgent->name, "urgent");
        assert_int_equal(urgent->n_steps, 4);
        assert_true(urgent->steps[0].fraction == 0);
        assert_int_equal(urgent->steps[0].offset, 15 * USEC_PER_MINUTE);
        assert_int_equal(urgent->steps[0].stop_on, _ALERT_STATE_INVALID); /* per alert */
        assert_true(urgent->steps[1].fraction == 0.25);
        assert_int_equal(urgent->steps[1].stop_on, ALERT_RESPONDED); /* as written */
        assert_int_equal(urgent->steps[2].offset, 2 * USEC_PER_HOUR);
        assert_true(urgent->steps[3].fraction == 1.5);
        assert_int_equal(urgent->steps[3].stop_on, ALERT_ACKNOWLEDGED);

        /* a step at a duration stops at acknowledged when it comes before the alert's due time */
        assert_int_equal(config_step_stop_on(&urgent->steps[0], USEC_PER_HOUR), ALERT_ACKNOWLEDGED);
        assert_int_equal(config_step_stop_on(&urgent->steps[2], USEC_PER_HOUR), ALERT_RESPONDED);
        assert_int_equal(config_step_stop_on(&urgent->steps[2], 3 * USEC_PER_HOUR),
                         ALERT_ACKNOWLEDGED);
        assert_int_equal(config_step_stop_on(&urgent->steps[1], USEC_PER_DAY), ALERT_RESPONDED);
        assert_int_equal(config_step_stop_on(&standard->steps[0], USEC_PER_DAY),
                         ALERT_ACKNOWLEDGED);

        assert_int_equal(c->escalation_by_severity[SEVERITY_CRITICAL], 1);
        assert_int_equal(c->escalation_by_severity[SEVERITY_HIGH], 0);
        assert_int_equal(c->escalation_by_severity[SEVERITY_NORMAL], 0);
        assert_int_equal(c->escalation_by_severity[SEVERITY_LOW], -1);

        RuleMatch outage = {.rule = 0, .brand = 0}, refund = {.rule = 1, .brand = 0},
                  praise = {.rule = 2, .brand = 0}, billing = {.rule = 3, .brand = 0},
                  slow = {.rule = 4, .brand = 0};
        assert_int_equal(c->rules->rules[0].escalation, 1);
        assert_int_equal(c->rules->rules[1].escalation, RULE_ESCALATION_UNSET);
        assert_int_equal(c->rules->rules[2].escalation, RULE_ESCALATION_NONE);
        assert_int_equal(c->rules->rules[3].escalation, 0);

        /* by severity when no matched rule has its own */
        assert_ptr_equal(config_escalation_for(c, NULL, 0, SEVERITY_CRITICAL), urgent);
        assert_ptr_equal(config_escalation_for(c, NULL, 0, SEVERITY_NORMAL), standard);
        assert_null(config_escalation_for(c, NULL, 0, SEVERITY_LOW));
        assert_ptr_equal(config_escalation_for(c, &refund, 1, SEVERITY_CRITICAL), urgent);
        /* the rule's own wins over by_severity */
        assert_ptr_equal(config_escalation_for(c, &outage, 1, SEVERITY_HIGH), urgent);
        assert_null(config_escalation_for(c, &praise, 1, SEVERITY_LOW));
        RuleMatch praise_refund[] = {praise, refund};
        assert_null(config_escalation_for(c, praise_refund, 2, SEVERITY_CRITICAL));
        /* several own policies: the highest-severity rule's; ties: the first */
        RuleMatch praise_billing[] = {praise, billing};
        assert_ptr_equal(config_escalation_for(c, praise_billing, 2, SEVERITY_CRITICAL), standard);
        RuleMatch outage_billing[] = {outage, billing};
        assert_ptr_equal(config_escalation_for(c, outage_billing, 2, SEVERITY_CRITICAL), standard);
        RuleMatch outage_slow[] = {outage, slow}, slow_outage[] = {slow, outage};
        assert_ptr_equal(config_escalation_for(c, outage_slow, 2, SEVERITY_HIGH), urgent);
        assert_ptr_equal(config_escalation_for(c, slow_outage, 2, SEVERITY_HIGH), standard);

        assert_ptr_equal(config_escalation_policy(c, "urgent"), urgent);
        assert_null(config_escalation_policy(c, "nope"));
        assert_null(config_escalation_policy(c, NULL));
        assert_null(c->warnings);

        char *dump = dump_of(c);
        assert_contains(dump, "  escalation policies: 2\n"
                              "    standard: 50% (until acknowledged), 100% (until responded)\n"
                              "    urgent: 15m, 25% (until responded), 2h00m, 150% (until "
                              "acknowledged)\n"
                              "  escalation by severity: low none, normal standard, high "
                              "standard, critical urgent\n");
        assert_contains(dump, "    outage [high] respond within by network class, escalation "
                              "urgent (");
        assert_contains(dump, "    praise [low] respond within by network class, no escalation (");
        free(dump);
}

static void test_escalation_notify(void **state) {
        Fixture *f = *state;
        const char *dir = plugin_dir();
        Config *c = load_ok(f,
                            "notifiers:\n"
                            "  - name: journal\n"
                            "    type: log\n"
                            "  - name: hook\n"
                            "    type: webhook\n"
                            "    url: https://hooks.example/x\n"
                            "    enabled: false\n"
                            "escalation:\n"
                            "  policies:\n"
                            "    standard:\n"
                            "      - at: 50%\n"
                            "        notify: [journal]\n"
                            "      - at: 100%\n"
                            "        notify: [journal, hook]\n"
                            "  by_severity: {high: standard}\n" ACME,
                            dir);
        const EscalationPolicy *pol = &c->escalation_policies[0];

        assert_string_equal(pol->steps[0].notify[0], "journal");
        assert_null(pol->steps[0].notify[1]);
        assert_string_equal(pol->steps[1].notify[0], "journal");
        assert_string_equal(pol->steps[1].notify[1], "hook");
        assert_warning(f, 14, 27, "notifier 'hook' is disabled: this step does not reach it");
        char *dump = dump_of(c);
        assert_contains(dump, "    standard: 50% -> journal (until acknowledged), 100% -> journal "
                              "hook (until responded)\n");
        free(dump);

        load_bad(f,
                 "notifiers:\n"
                 "  - name: journal\n"
                 "    type: log\n"
                 "escalation:\n"
                 "  policies:\n"
                 "    standard:\n"
                 "      - at: 50%\n"
                 "        notify: [jurnal, pager]\n"
                 "      - at: 100%\n"
                 "        notify: []\n" ACME,
                 dir, 3);
        assert_error(f, 8, 18, "unknown notifier 'jurnal' (did you mean 'journal'?)");
        assert_error(f, 8, 26, "unknown route or notifier 'pager' (not in routes: or notifiers:)");
        assert_error(f, 10, 17, "notify: names no notifier (leave it out to notify every "
                                "enabled notifier)");
}

static void test_escalation_errors(void **state) {
        Fixture *f = *state;

        load_bad(f,
                 "escalation:\n"
                 "  policies:\n"
                 "    standard:\n"
                 "      - at: 0%\n"
                 "      - at: 1500%\n"
                 "      - at: soon\n"
                 "      - at: 0s\n"
                 "      - stop_on: responded\n"
                 "      - at: 50%\n"
                 "        stop_on: answered\n"
                 "        stopon: responded\n"
                 "    empty: []\n"
                 "    none: [{at: 50%}]\n"
                 "    standard: [{at: 10%}]\n"
                 "    \"bad name\": [{at: 10%}]\n"
                 "    steps: {at: 50%}\n"
                 "  by_severity:\n"
                 "    critical: urgent\n"
                 "    severe: standard\n"
                 "    high: standrd\n"
                 "  polices: {}\n" ACME,
                 NULL, 16);
        assert_error(f, 4, 13, "at: '0%' is not a share of the target from 1% to 1000%");
        assert_error(f, 5, 13, "at: '1500%' is not a share of the target from 1% to 1000%");
        assert_error(f, 6, 13, "invalid at 'soon': a share of the response target (1% to 1000%, "
                               "e.g. 50%) or a time after the post was written (e.g. 45m, up to "
                               "365d)");
        assert_error(f, 7, 13, "invalid at '0s'");
        assert_error(f, 8, 9, "an escalation step needs 'at'");
        assert_error(f, 10, 18, "invalid stop_on 'answered' (acknowledged, responded)");
        assert_error(f, 11, 9,
                     "unknown key 'stopon' in an escalation step (did you mean 'stop_on'?)");
        assert_error(f, 12, 12, "escalation policy 'empty' has no steps");
        assert_error(f, 13, 5, "'none' is not a policy name: it means no escalation");
        assert_error(f, 14, 5, "duplicate escalation policy 'standard' (first at line 3)");
        assert_error(f, 15, 5, "invalid escalation policy name 'bad name'");
        assert_error(f, 16, 12,
                     "an escalation policy must be a list (items starting with '- '), not a "
                     "mapping");
        assert_error(f, 18, 15,
                     "unknown escalation policy 'urgent' (a name from escalation: policies:, or "
                     "none)");
        assert_error(f, 19, 5,
                     "unknown key 'severe' in escalation: by_severity (valid keys: low, normal, "
                     "high, critical)");
        assert_error(f, 20, 11, "unknown escalation policy 'standrd' (did you mean 'standard'?)");
        assert_error(f, 21, 3, "unknown key 'polices' in escalation (did you mean 'policies'?)");

        load_bad(f, "escalation:\n  policies: [standard]\n" ACME, NULL, 1);
        assert_error(f, 2, 13, "escalation: policies must map names to lists of steps, not a list");
}

static void test_escalation_lints(void **state) {
        Fixture *f = *state;

        load_ok(f,
                "escalation:\n"
                "  policies:\n"
                "    spare: [{at: 50%}]\n"
                "    twice:\n"
                "      - at: 50%\n"
                "      - at: 50%\n"
                "      - at: 30m\n"
                "      - at: 30m\n"
                "  by_severity: {high: twice}\n" ACME,
                NULL);
        assert_warning(f, 3, 5,
                       "escalation policy 'spare' is not used: no rule and no severity in "
                       "by_severity names it");
        assert_warning(f, 6, 9,
                       "escalation policy 'twice': this step fires at the same time as step 1");
        assert_warning(f, 8, 9,
                       "escalation policy 'twice': this step fires at the same time as step 3");
        assert_int_equal(strv_length(f->cfg->warnings), 3);
}

static void test_shipped_config(void **state) {
        Fixture *f = *state;
        const char *dir = plugin_dir();
        char path[PATH_MAX];

        /* the configuration installed to /etc must load as it is */
        snprintf(path, sizeof(path), "%s/../../config/earshot.yaml", TEST_FIXTURES);
        if (access(path, R_OK) < 0)
                skip();
        int r = config_load(path, dir, f->registry, collect_error, f, &f->cfg);
        if (r != 0)
                dump_errors(f);
        assert_int_equal(r, 0);
        assert_int_equal(f->n_errors, 0);
        assert_true(f->cfg->n_sources > 0);
        assert_true(f->cfg->rules->n_rules > 0);
        /* and teach nothing wrong: --check-config prints no warning for it */
        if (f->cfg->warnings)
                fail_msg("warnings in the shipped config:\n%s", warnings_text(f->cfg));
        /* it shows an escalation policy at half and all of the target */
        const EscalationPolicy *pol = config_escalation_for(f->cfg, NULL, 0, SEVERITY_NORMAL);
        assert_non_null(pol);
        assert_true(pol->n_steps >= 2);
        assert_true(pol->steps[0].fraction == 0.5);
        assert_true(pol->steps[1].fraction == 1.0);
}

/* ---- routes ------------------------------------------------------------------------------ */

#define ROUTE_NOTIFIERS                                                                           \
        "notifiers:\n"                                                                           \
        "  - {name: chat, type: log}\n"                                                          \
        "  - {name: pager, type: log}\n"                                                         \
        "  - {name: mail, type: log}\n"                                                          \
        "  - {name: off, type: log, enabled: false}\n"
#define ROUTE_RULES                                                                               \
        "brands:\n  - name: acme\n    terms: [acme]\n  - name: zeta\n    terms: [zeta]\n"          \
        "rules:\n"                                                                               \
        "  - {name: refund, brand: any, any: [refund], tags: [billing]}\n"                       \
        "  - {name: outage, brand: any, any: [down], severity: critical, tags: [ops]}\n"

/* The notifier names an alert goes to, space-separated, with "@route" after each. */
static char *routed(const Config *c, const char *brand, const char *rule, Severity sev,
                    const char *network) {
        const char *rules[] = {rule, NULL};
        AlertFacts fa = {.brand = brand, .rules = rules, .severity = sev, .network = network,
                         .source = "src"};
        RouteTarget *t = NULL;
        size_t n = 0;
        char *out = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&out, &len);

        assert_int_equal(route_alert(c, &fa, &t, &n), 0);
        for (size_t i = 0; i < n; i++)
                fprintf(f, "%s%s@%s", i ? " " : "", c->notifiers[t[i].notifier].name,
                        t[i].route ? t[i].route->name : "default");
        fclose(f);
        free(t);
        return out;
}

static void assert_routed(const Config *c, const char *brand, const char *rule, Severity sev,
                          const char *network, const char *want) {
        char *got = routed(c, brand, rule, sev, network);
        if (strcmp(got, want) != 0)
                fail_msg("%s/%s/%s/%s: routed to \"%s\", want \"%s\"", brand, rule,
                         severity_to_string(sev), network, got, want);
        free(got);
}

static void test_routes(void **state) {
        Fixture *f = *state;
        const char *dir = plugin_dir();
        Config *c = load_ok(f,
                            ROUTE_NOTIFIERS
                            "routes:\n"
                            "  - name: urgent\n"
                            "    match: {severity: [high, critical]}\n"
                            "    notify: [pager, chat]\n"
                            "    continue: true\n"
                            "  - name: billing\n"
                            "    match: {tag: billing, brand: acme}\n"
                            "    notify: mail\n"
                            "  - name: zeta-social\n"
                            "    match: {brand: zeta, network: [mastodon, bluesky]}\n"
                            "    notify: [chat, off]\n"
                            "    digest: 15m\n"
                            "  - name: quiet\n"
                            "    match: {rule: refund}\n"
                            "    notify: chat\n"
                            "    digest: 1h\n"
                            "    digest_severity: normal\n" ROUTE_RULES,
                            dir);
        assert_int_equal(c->n_routes, 4);
        assert_true(c->routes[0].cont);
        assert_int_equal(c->routes[0].severities,
                         (1u << SEVERITY_HIGH) | (1u << SEVERITY_CRITICAL));
        assert_int_equal(c->routes[2].digest, 15 * USEC_PER_MINUTE);
        assert_int_equal(c->routes[2].digest_severity, SEVERITY_LOW);
        assert_int_equal(c->routes[3].digest_severity, SEVERITY_NORMAL);
        assert_warning(f, 16, 20, "notifier 'off' is disabled: route 'zeta-social' does not reach it");

        /* continue: the urgent route, then the first of the others that matches */
        assert_routed(c, "acme", "outage", SEVERITY_CRITICAL, "mastodon", "pager@urgent chat@urgent");
        assert_routed(c, "acme", "refund", SEVERITY_HIGH, "mastodon",
                      "pager@urgent chat@urgent mail@billing");
        /* first match wins without continue */
        assert_routed(c, "acme", "refund", SEVERITY_NORMAL, "reddit", "mail@billing");
        assert_routed(c, "zeta", "refund", SEVERITY_NORMAL, "mastodon", "chat@zeta-social");
        assert_routed(c, "zeta", "refund", SEVERITY_NORMAL, "reddit", "chat@quiet");
        /* no route takes it: every enabled notifier */
        assert_routed(c, "zeta", "outage", SEVERITY_NORMAL, "reddit",
                      "chat@default pager@default mail@default");
        assert_routed(c, NULL, "source-blocked", SEVERITY_LOW, "earshot",
                      "chat@default pager@default mail@default");

        /* digests: new alerts up to the digest severity wait for the window's end */
        RouteTarget t = {.route = &c->routes[2], .notifier = 0};
        int64_t window, now = INT64_C(1785592800) * 1000000 + 7 * USEC_PER_MINUTE;
        int64_t end = INT64_C(1785592800) * 1000000 + 15 * USEC_PER_MINUTE;
        assert_int_equal(route_when(&t, SEVERITY_LOW, "new", now, &window), end);
        assert_int_equal(window, end);
        assert_int_equal(route_when(&t, SEVERITY_LOW, "thread", now + 60, &window), end);
        assert_int_equal(route_when(&t, SEVERITY_NORMAL, "new", now, &window), now);
        assert_int_equal(window, 0);
        assert_int_equal(route_when(&t, SEVERITY_LOW, "escalation-1", now, &window), now);
        assert_int_equal(route_when(&t, SEVERITY_LOW, "test", now, &window), now);
        t.route = NULL;
        assert_int_equal(route_when(&t, SEVERITY_LOW, "new", now, &window), now);

        /* an escalation step names routes or notifiers */
        const char *names[] = {"billing", "pager", NULL};
        const char *rules[] = {"refund", NULL};
        AlertFacts fa = {.brand = "acme", .rules = rules, .severity = SEVERITY_LOW};
        RouteTarget *ts = NULL;
        size_t n = 0;
        assert_int_equal(route_names(c, (char *const *)names, &fa, &ts, &n), 0);
        assert_int_equal(n, 2);
        assert_string_equal(c->notifiers[ts[0].notifier].name, "mail");
        assert_string_equal(ts[0].route->name, "billing");
        assert_string_equal(c->notifiers[ts[1].notifier].name, "pager");
        assert_null(ts[1].route);
        free(ts);

        char *dump = dump_of(c);
        assert_contains(dump, "  routes: 4 (then every enabled notifier for alerts none takes)\n");
        assert_contains(dump, "    urgent -> pager chat; continue\n");
        assert_contains(dump, "    zeta-social -> chat off; digest every 15m up to low\n");
        free(dump);
}

static void test_route_errors(void **state) {
        Fixture *f = *state;
        const char *dir = plugin_dir();

        load_bad(f,
                 ROUTE_NOTIFIERS
                 "routes:\n"
                 "  - name: a\n"
                 "    match: {severity: urgent, brnd: acme}\n"
                 "    notify: [chatt]\n"
                 "  - name: a\n"
                 "    notify: []\n"
                 "    digest: 5s\n"
                 "  - match: {rule: refnd, brand: acmee}\n"
                 "    notify: chat\n" ROUTE_RULES,
                 dir, 7);
        assert_error(f, 8, 23, "invalid severity 'urgent'");
        assert_error(f, 8, 31, "unknown key 'brnd' in a route's match (did you mean 'brand'?)");
        assert_error(f, 9, 14, "unknown notifier 'chatt' (did you mean 'chat'?)");
        assert_error(f, 10, 5, "duplicate route name 'a'");
        assert_error(f, 11, 13, "route 'a': notify: names no notifier");
        assert_error(f, 12, 13, "digest: from 10s to 24h");
        assert_error(f, 13, 5, "a route needs a 'name'");

        /* names checked against the rules once they are known */
        load_bad(f,
                 ROUTE_NOTIFIERS
                 "routes:\n"
                 "  - name: b\n"
                 "    match: {rule: refnd, brand: acmee, tag: nothing}\n"
                 "    notify: chat\n" ROUTE_RULES,
                 dir, 2);
        assert_error(f, 7, 5, "route 'b' matches unknown rule 'refnd' (did you mean 'refund'?)");
        assert_error(f, 7, 5, "route 'b' matches unknown brand 'acmee' (did you mean 'acme'?)");

        /* a catch-all that stops hides what follows */
        Config *c = load_ok(f,
                            ROUTE_NOTIFIERS
                            "routes:\n"
                            "  - {name: all, notify: chat}\n"
                            "  - {name: never, match: {tag: ops}, notify: pager}\n" ROUTE_RULES,
                            dir);
        assert_warning(f, 8, 5, "route 'all' takes every alert and has no continue: true");
        (void)c;
}

int main(void) {
        const struct CMUnitTest tests[] = {
                TEST("config/unknown-key-did-you-mean", test_unknown_key_did_you_mean),
                TEST("config/routes", test_routes),
                TEST("config/route-errors", test_route_errors),
                TEST("config/unknown-key-valid-keys", test_unknown_key_valid_keys),
                TEST("config/unknown-key-in-rule", test_unknown_key_in_rule),
                TEST("config/unknown-key-in-brand", test_unknown_key_in_brand),
                TEST("config/duplicate-key", test_duplicate_key),
                TEST("config/bad-duration", test_bad_duration),
                TEST("config/bad-duration-defaults", test_bad_duration_defaults),
                TEST("config/wrong-type", test_wrong_type),
                TEST("config/wrong-type-scalar", test_wrong_type_scalar),
                TEST("config/unknown-severity", test_unknown_severity),
                TEST("config/unknown-brand", test_unknown_brand),
                TEST("config/unknown-brand-in-list", test_unknown_brand_in_list),
                TEST("config/duplicate-rule", test_duplicate_rule),
                TEST("config/duplicate-brand", test_duplicate_brand),
                TEST("config/invalid-term", test_invalid_term),
                TEST("config/invalid-term-block-list", test_invalid_term_block_list),
                TEST("config/yaml-syntax-error", test_yaml_syntax_error),
                TEST("config/yaml-syntax-error-unclosed", test_yaml_syntax_error_unclosed),
                TEST("config/multiple-errors", test_multiple_errors),
                TEST("config/rule-matching-everything", test_rule_matching_everything),
                TEST("config/empty", test_empty_config),
                TEST("config/missing-file", test_missing_file),
                TEST("config/include", test_include),
                TEST("config/include-error", test_include_error),
                TEST("config/include-missing-file", test_include_missing_file),
                TEST("config/include-pattern-missing-dir", test_include_pattern_missing_dir),
                TEST("config/defaults", test_defaults),
                TEST("config/defaults-set", test_defaults_set),
                TEST("config/env-expansion", test_env_expansion),
                TEST("config/env-unset", test_env_unset),
                TEST("config/source-options", test_source_options),
                TEST("config/unknown-source-type", test_unknown_source_type),
                TEST("config/unknown-notifier-type", test_unknown_notifier_type),
                TEST("config/missing-required-option", test_missing_required_option),
                TEST("config/plugin-option-errors", test_plugin_option_errors),
                TEST("config/secret-from-env", test_secret_from_env),
                TEST("config/secret-from-credentials-dir", test_secret_from_credentials_dir),
                TEST("config/secret-file-relative", test_secret_file_without_credentials_dir),
                TEST("config/secret-file-missing", test_secret_file_missing),
                TEST("config/secret-env-unset", test_secret_env_unset),
                TEST("config/secret-both-forms", test_secret_both_forms),
                TEST("config/secret-never-in-errors", test_secret_never_in_errors),
                TEST("config/dump-summary", test_dump_summary),
                TEST("config/queue-defaults", test_queue_defaults),
                TEST("config/target-explicit-default", test_target_explicit_default),
                TEST("config/network-classes", test_network_classes),
                TEST("config/network-class-errors", test_network_class_errors),
                TEST("config/target-order", test_target_order),
                TEST("config/source-network-class-error", test_source_network_class_error),
                TEST("config/priority", test_priority),
                TEST("config/grouping-retention", test_grouping_retention),
                TEST("config/escalation", test_escalation),
                TEST("config/escalation-notify", test_escalation_notify),
                TEST("config/escalation-errors", test_escalation_errors),
                TEST("config/escalation-lints", test_escalation_lints),
                TEST("config/shipped-config", test_shipped_config),
        };

        return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
