/* SPDX-License-Identifier: MIT */
/*
 * test-rules.c - rules_match() on configurations loaded from YAML text: a rule needs one of its
 * brands (any brand when it names none) and one of its `any` terms, and is vetoed by its `none`
 * terms and by the brand's exclusions; matches come back in config order with the brand of the
 * first one; text is folded, so case, width and script do not get in the way.
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
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "plugin.h"
#include "rules.h"

#define TEST(n, f)                                                                                 \
        { .name = (n), .test_func = (f) }

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        return remove(path);
}

static void count_error(const char *msg, void *userdata) {
        fprintf(stderr, "# config error: %s\n", msg);
        (*(unsigned *)userdata)++;
}

/* Load a configuration from YAML text; any error fails the test. */
static Config *load(const char *yaml) {
        char dir[] = "/tmp/earshot-test-rules-XXXXXX", path[PATH_MAX];
        PluginRegistry *reg = NULL;
        Config *cfg = NULL;
        unsigned n_errors = 0;
        FILE *f;

        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/earshot.yaml", dir);
        assert_non_null(f = fopen(path, "we"));
        assert_int_equal(fputs(yaml, f) >= 0, 1);
        assert_int_equal(fclose(f), 0);

        assert_int_equal(plugin_registry_new(&reg), 0);
        int r = config_load(path, NULL, reg, count_error, &n_errors, &cfg);
        plugin_registry_free(reg); /* no sources or notifiers: no plugin is borrowed */
        assert_int_equal(nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS), 0);
        assert_int_equal(n_errors, 0);
        assert_int_equal(r, 0);
        assert_non_null(cfg);
        return cfg;
}

static size_t rule_index(const Config *c, const char *name) {
        for (size_t i = 0; i < c->n_rules; i++)
                if (strcmp(c->rules[i].name, name) == 0)
                        return i;
        fail_msg("no rule '%s'", name);
        return SIZE_MAX;
}

/* The names of the matched rules, comma-separated ("" when none), and the brand ("-" if none). */
static void match(const Config *c, const char *text, char *buf, size_t len, const char **brand) {
        RuleMatches m = {.n = 999};
        size_t used = 0;

        assert_int_equal(rules_match(c, text, &m), 0);
        buf[0] = 0;
        for (size_t i = 0; i < m.n; i++) {
                assert_true(m.rules[i] < c->n_rules);
                used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? "," : "",
                                         c->rules[m.rules[i]].name);
                assert_true(used < len);
        }
        if (m.n == 0 || c->n_brands == 0)
                assert_null(m.brand);
        else {
                assert_non_null(m.brand);
                /* m.brand points into the config, not at a copy */
                assert_true(m.brand >= c->brands && m.brand < c->brands + c->n_brands);
        }
        if (brand)
                *brand = m.brand ? m.brand->name : "-";
        rule_matches_done(&m);
        assert_null(m.rules);
        assert_int_equal(m.n, 0);
}

#define assert_rules(cfg, text, want)                                                              \
        do {                                                                                       \
                char _buf[512];                                                                    \
                match((cfg), (text), _buf, sizeof(_buf), NULL);                                    \
                assert_string_equal(_buf, (want));                                                 \
        } while (0)

#define assert_rules_brand(cfg, text, want, want_brand)                                            \
        do {                                                                                       \
                char _buf[512];                                                                    \
                const char *_brand = NULL;                                                         \
                match((cfg), (text), _buf, sizeof(_buf), &_brand);                                 \
                assert_string_equal(_buf, (want));                                                 \
                assert_string_equal(_brand, (want_brand));                                         \
        } while (0)

static const char acme_yaml[] = "brands:\n"
                                "  - name: acme\n"
                                "    terms: [acme, \"#acme\", \"@acme\"]\n"
                                "rules:\n"
                                "  - name: refund\n"
                                "    brand: acme\n"
                                "    any: [refund, \"money back\"]\n";

static void test_brand_and_any(void **state) {
        Config *c = load(acme_yaml);

        assert_int_equal(c->n_rules, 1);
        assert_rules_brand(c, "Acme, I want a refund", "refund", "acme");
        assert_rules(c, "#acme where is my money back?", "refund");
        /* a term without the brand, the brand without a term */
        assert_rules(c, "I want a refund", "");
        assert_rules(c, "acme is great", "");
        /* whole words only */
        assert_rules(c, "acmecorp refund", "");
        assert_rules(c, "acme refunds", "");
        assert_rules(c, "", "");
        config_free(c);
}

static void test_none(void **state) {
        Config *c = load("brands:\n"
                         "  - name: acme\n"
                         "    terms: [acme]\n"
                         "rules:\n"
                         "  - name: refund\n"
                         "    brand: acme\n"
                         "    any: [refund]\n"
                         "    none: [\"just kidding\", giveaway]\n");

        assert_rules(c, "acme refund now", "refund");
        assert_rules(c, "acme refund, just kidding", "");
        assert_rules(c, "ACME REFUND GIVEAWAY", "");
        /* the words of a phrase must be consecutive to veto */
        assert_rules(c, "acme refund, just not kidding", "refund");
        config_free(c);
}

static void test_brand_exclude(void **state) {
        Config *c = load("brands:\n"
                         "  - name: acme\n"
                         "    terms: [acme]\n"
                         "    exclude: [\"wile e coyote\", \"acme thunderbolts\"]\n"
                         "rules:\n"
                         "  - name: refund\n"
                         "    brand: acme\n"
                         "    any: [refund]\n");

        assert_rules(c, "acme refund please", "refund");
        assert_rules(c, "Wile E. Coyote wants an acme refund", "");
        assert_rules(c, "go acme thunderbolts! refund the tickets", "");
        config_free(c);
}

static void test_cyrillic(void **state) {
        Config *c = load("brands:\n"
                         "  - name: acme\n"
                         "    terms: [acme, акме]\n"
                         "rules:\n"
                         "  - name: money-back-ru\n"
                         "    brand: acme\n"
                         "    any: [\"верните деньги\"]\n");

        assert_rules_brand(c, "ACME, ВЕРНИТЕ ДЕНЬГИ!", "money-back-ru", "acme");
        assert_rules(c, "Акме, верните деньги", "money-back-ru");
        assert_rules(c, "ACME, ВЕРНИТЕ ДЕНЬГИ-то", "money-back-ru");
        assert_rules(c, "ACME, ВЕРНИТЕ МНЕ ДЕНЬГИ!", "");
        assert_rules(c, "ВЕРНИТЕ ДЕНЬГИ!", "");
        config_free(c);
}

static void test_config_order(void **state) {
        /* deliberately not in alphabetical order */
        Config *c = load("brands:\n"
                         "  - name: acme\n"
                         "    terms: [acme]\n"
                         "rules:\n"
                         "  - name: zeta-refund\n"
                         "    brand: acme\n"
                         "    any: [refund]\n"
                         "  - name: alpha-scam\n"
                         "    brand: acme\n"
                         "    any: [scam, fraud]\n"
                         "  - name: mid-anything\n"
                         "    brand: acme\n"
                         "  - name: beta-refund-again\n"
                         "    brand: acme\n"
                         "    any: [refund*]\n"
                         "    severity: high\n");

        assert_int_equal(c->n_rules, 4);
        assert_int_equal(rule_index(c, "alpha-scam"), 1);
        assert_rules(c, "acme refund scam",
                     "zeta-refund,alpha-scam,mid-anything,beta-refund-again");
        assert_rules(c, "acme fraud", "alpha-scam,mid-anything");
        assert_rules(c, "acme refundable?", "mid-anything,beta-refund-again");
        assert_rules(c, "acme", "mid-anything");
        assert_rules(c, "refund scam fraud", "");
        config_free(c);
}

static const char three_brands_yaml[] = "brands:\n"
                                        "  - name: acme\n"
                                        "    terms: [acme]\n"
                                        "    exclude: [coyote]\n"
                                        "  - name: globex\n"
                                        "    terms: [globex, \"globex corp\"]\n"
                                        "  - name: initech\n"
                                        "    terms: [initech, tps]\n"
                                        "rules:\n"
                                        "  - name: two-brands\n"
                                        "    brand: [acme, globex]\n"
                                        "    any: [refund]\n"
                                        "  - name: every-brand\n"
                                        "    any: [outage]\n";

static void test_brand_list(void **state) {
        Config *c = load(three_brands_yaml);

        assert_int_equal(c->n_brands, 3);
        size_t r = rule_index(c, "two-brands");
        assert_int_equal(c->rules[r].n_brands, 2);
        assert_string_equal(c->brands[c->rules[r].brands[0]].name, "acme");
        assert_string_equal(c->brands[c->rules[r].brands[1]].name, "globex");

        assert_rules_brand(c, "acme refund", "two-brands", "acme");
        assert_rules_brand(c, "globex refund", "two-brands", "globex");
        assert_rules(c, "initech refund", "");
        /* acme excluded, globex still mentioned: the rule holds through globex */
        assert_rules_brand(c, "coyote bought acme and globex, refund", "two-brands", "globex");
        assert_rules(c, "coyote bought acme, refund", "");
        config_free(c);
}

static void test_rule_without_brand(void **state) {
        Config *c = load(three_brands_yaml);

        /* no brand named: any brand must be mentioned */
        assert_rules(c, "outage again", "");
        assert_rules_brand(c, "initech outage again", "every-brand", "initech");
        assert_rules_brand(c, "TPS reports down, outage", "every-brand", "initech");
        assert_rules_brand(c, "globex outage", "every-brand", "globex");
        /* a brand's exclusions count here too */
        assert_rules(c, "coyote acme outage", "");
        config_free(c);
}

static void test_brand_any(void **state) {
        /* `brand: any` is the same as naming no brand */
        Config *c = load("brands:\n"
                         "  - name: acme\n"
                         "    terms: [acme]\n"
                         "  - name: globex\n"
                         "    terms: [globex]\n"
                         "rules:\n"
                         "  - name: refund\n"
                         "    brand: any\n"
                         "    any: [refund]\n");

        assert_null(c->rules[0].brands);
        assert_rules_brand(c, "globex refund", "refund", "globex");
        assert_rules_brand(c, "acme refund", "refund", "acme");
        assert_rules(c, "refund", "");
        config_free(c);
}

static void test_match_brand(void **state) {
        Config *c = load("brands:\n"
                         "  - name: acme\n"
                         "    terms: [acme]\n"
                         "  - name: globex\n"
                         "    terms: [globex]\n"
                         "rules:\n"
                         "  - name: globex-refund\n"
                         "    brand: globex\n"
                         "    any: [refund]\n"
                         "  - name: acme-refund\n"
                         "    brand: acme\n"
                         "    any: [refund]\n");

        /* the brand is the first matched rule's */
        assert_rules_brand(c, "acme and globex, refund", "globex-refund,acme-refund", "globex");
        assert_rules_brand(c, "acme refund", "acme-refund", "acme");
        RuleMatches m = {};
        assert_int_equal(rules_match(c, "acme refund", &m), 0);
        assert_int_equal(m.n, 1);
        assert_ptr_equal(m.brand, &c->brands[0]);
        rule_matches_done(&m);
        assert_int_equal(rules_match(c, "nothing here", &m), 0);
        assert_int_equal(m.n, 0);
        assert_null(m.brand);
        rule_matches_done(&m);
        config_free(c);
}

static void test_folding(void **state) {
        Config *c = load(acme_yaml);

        assert_rules(c, "ＡＣＭＥ refund", "refund");
        assert_rules(c, "acme ＲＥＦＵＮＤ", "refund");
        assert_rules(c, "AcMe ReFuNd", "refund");
        assert_rules(c, "ACME MONEY BACK", "refund");
        assert_rules(c, "@acme  money\n\tback", "refund");
        config_free(c);
}

static void test_no_brands(void **state) {
        /* without brands, a rule with `any` terms stands alone */
        Config *c = load("rules:\n"
                         "  - name: outage\n"
                         "    any: [outage, down]\n");

        assert_int_equal(c->n_brands, 0);
        assert_rules_brand(c, "the site is down", "outage", "-");
        assert_rules(c, "the site is up", "");
        config_free(c);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                TEST("rules/brand-and-any", test_brand_and_any),
                TEST("rules/none", test_none),
                TEST("rules/brand-exclude", test_brand_exclude),
                TEST("rules/cyrillic", test_cyrillic),
                TEST("rules/config-order", test_config_order),
                TEST("rules/brand-list", test_brand_list),
                TEST("rules/rule-without-brand", test_rule_without_brand),
                TEST("rules/brand-any", test_brand_any),
                TEST("rules/match-brand", test_match_brand),
                TEST("rules/folding", test_folding),
                TEST("rules/no-brands", test_no_brands),
        };

        return cmocka_run_group_tests_name("rules", tests, NULL, NULL);
}
