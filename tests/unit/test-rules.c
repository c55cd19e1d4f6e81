/* SPDX-License-Identifier: MIT */
/*
 * test-rules.c - the rule language on configurations loaded from YAML text: a rule needs one of
 * its brands (any brand when it names none) and its any/all/none groups (nested too), near:,
 * scores and filters; matches come back in config order with the brand that made each; text is
 * folded, so case, width and script do not get in the way. Also the lints and errors.
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

/* Write YAML text to a fresh folder and load it; returns config_load()'s result. */
static int load_with(const char *yaml, ConfigErrorFunc on_error, void *userdata, Config **ret) {
        char dir[] = "/tmp/earshot-test-rules-XXXXXX", path[PATH_MAX];
        PluginRegistry *reg = NULL;
        FILE *f;

        *ret = NULL;
        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/earshot.yaml", dir);
        assert_non_null(f = fopen(path, "we"));
        assert_int_equal(fputs(yaml, f) >= 0, 1);
        assert_int_equal(fclose(f), 0);

        assert_int_equal(plugin_registry_new(&reg), 0);
        int r = config_load(path, NULL, reg, on_error, userdata, ret);
        plugin_registry_free(reg); /* no sources or notifiers: no plugin is borrowed */
        assert_int_equal(nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS), 0);
        return r;
}

/* Load a configuration from YAML text; any error fails the test. */
static Config *load(const char *yaml) {
        Config *cfg = NULL;
        unsigned n_errors = 0;

        int r = load_with(yaml, count_error, &n_errors, &cfg);
        assert_int_equal(n_errors, 0);
        assert_int_equal(r, 0);
        assert_non_null(cfg);
        return cfg;
}

static size_t rule_index(const Config *c, const char *name) {
        for (size_t i = 0; i < c->rules->n_rules; i++)
                if (strcmp(c->rules->rules[i].name, name) == 0)
                        return i;
        fail_msg("no rule '%s'", name);
        return SIZE_MAX;
}

/* Evaluate a post; the matches are left in *ret. */
static void match_post(const Config *c, const RulePost *post, RuleMatches *ret) {
        RuleScratch *s = NULL;
        assert_int_equal(rule_scratch_new(true, &s), 0);
        assert_int_equal(ruleset_match(c->rules, post, s, ret), 0);
        rule_scratch_free(s);
}

/* The names of the matched rules, comma-separated ("" when none), and the brand ("-" if none). */
static void match_full(const Config *c, const RulePost *post, char *buf, size_t len,
                       const char **brand) {
        const Ruleset *rs = c->rules;
        RuleMatches m = {.n = 999};
        size_t used = 0;

        match_post(c, post, &m);
        buf[0] = 0;
        for (size_t i = 0; i < m.n; i++) {
                assert_true(m.m[i].rule < rs->n_rules);
                assert_true(i == 0 || m.m[i].rule > m.m[i - 1].rule); /* config order */
                used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? "," : "",
                                         rs->rules[m.m[i].rule].name);
                assert_true(used < len);
                if (rs->rules[m.m[i].rule].no_brand)
                        assert_int_equal(m.m[i].brand, -1);
                else
                        assert_true(m.m[i].brand >= 0 && (size_t)m.m[i].brand < rs->n_brands);
        }
        if (brand)
                *brand = m.n > 0 && m.m[0].brand >= 0 ? rs->brands[m.m[0].brand].name : "-";
        rule_matches_done(&m);
        assert_null(m.m);
        assert_int_equal(m.n, 0);
}

static void match(const Config *c, const char *text, char *buf, size_t len, const char **brand) {
        RulePost post = {.text = text, .followers = -1};
        match_full(c, &post, buf, len, brand);
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

        assert_int_equal(c->rules->n_rules, 1);
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

        assert_int_equal(c->rules->n_rules, 4);
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

        assert_int_equal(c->rules->n_brands, 3);
        size_t r = rule_index(c, "two-brands");
        assert_int_equal(c->rules->rules[r].n_brands, 2);
        assert_string_equal(c->rules->brands[c->rules->rules[r].brands[0]].name, "acme");
        assert_string_equal(c->rules->brands[c->rules->rules[r].brands[1]].name, "globex");

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

        assert_null(c->rules->rules[0].brands);
        assert_true(c->rules->rules[0].any_brand);
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
        RulePost post = {.text = "acme refund", .followers = -1};
        match_post(c, &post, &m);
        assert_int_equal(m.n, 1);
        assert_int_equal(m.m[0].brand, 0);
        /* the terms behind the match: the brand's, then the rule's */
        assert_int_equal(m.m[0].n_terms, 2);
        assert_string_equal(term_source(c->rules->terms[m.m[0].terms[0]]), "acme");
        assert_string_equal(term_source(c->rules->terms[m.m[0].terms[1]]), "refund");
        rule_matches_done(&m);
        post.text = "nothing here";
        match_post(c, &post, &m);
        assert_int_equal(m.n, 0);
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

        assert_int_equal(c->rules->n_brands, 0);
        assert_rules_brand(c, "the site is down", "outage", "-");
        assert_rules(c, "the site is up", "");
        config_free(c);
}


/* Load YAML that must fail; returns the errors joined by newlines (static buffer). */
static char errors_buf[8192];
static void collect_msg(const char *msg, void *userdata) {
        size_t used = strlen(errors_buf);
        snprintf(errors_buf + used, sizeof(errors_buf) - used, "%s\n", msg);
}

static const char *load_errors(const char *yaml) {
        Config *cfg = NULL;

        errors_buf[0] = 0;
        assert_int_equal(load_with(yaml, collect_msg, NULL, &cfg), -EINVAL);
        assert_null(cfg);
        return errors_buf;
}

#define assert_contains(hay, needle)                                                               \
        do {                                                                                       \
                if (!strstr((hay), (needle)))                                                      \
                        fail_msg("'%s' not in:\n%s", (needle), (hay));                             \
        } while (0)

/* The warnings of a config that loads, joined by newlines. */
static char *warnings_of(const Config *c) {
        static char buf[8192];
        buf[0] = 0;
        for (size_t i = 0; c->warnings && c->warnings[i]; i++) {
                size_t used = strlen(buf);
                snprintf(buf + used, sizeof(buf) - used, "%s\n", c->warnings[i]);
        }
        return buf;
}

static void assert_post(const Config *c, RulePost post, const char *want) {
        char buf[512];
        if (post.followers == 0)
                post.followers = -1;
        match_full(c, &post, buf, sizeof(buf), NULL);
        if (strcmp(buf, want) != 0)
                fail_msg("post '%s': got rules '%s', want '%s'", post.text, buf, want);
}


static void test_all_and_groups(void **state) {
        Config *c = load("brands:\n"
                         "  - name: acme\n"
                         "    terms: [acme]\n"
                         "rules:\n"
                         "  - name: double-charge\n"
                         "    all: [charged, twice]\n"
                         "  - name: nested\n"
                         "    any:\n"
                         "      - {all: [refund*, {any: [still, \"not yet\"]}]}\n"
                         "      - \"never again\"\n"
                         "    none: [{all: [\"just\", kidding]}]\n");

        assert_rules(c, "acme charged me twice", "double-charge");
        assert_rules(c, "acme charged me", "");
        assert_rules(c, "acme twice", "");
        assert_rules(c, "acme refund still missing", "nested");
        assert_rules(c, "acme refunded? not yet", "nested");
        assert_rules(c, "acme refund please", "");
        assert_rules(c, "acme never again", "nested");
        /* the nested none: blocks only when both words are there */
        assert_rules(c, "acme never again, just kidding", "");
        assert_rules(c, "acme never again, kidding", "nested");
        config_free(c);
}

static void test_near(void **state) {
        Config *c = load("brands:\n"
                         "  - name: acme\n"
                         "    terms: [acme, \"acme corp\"]\n"
                         "rules:\n"
                         "  - name: near-refund\n"
                         "    any: [refund, \"money back\"]\n"
                         "    near: 3\n");

        assert_rules(c, "acme refund", "near-refund");              /* 1 word away */
        assert_rules(c, "refund acme", "near-refund");              /* either order */
        assert_rules(c, "acme gave no refund", "near-refund");      /* 3 */
        assert_rules(c, "acme never gave any refund", "");          /* 4 */
        assert_rules(c, "acme is fine. Unrelated: I got a refund from my bank", "");
        assert_rules(c, "acme corp, money back now", "near-refund"); /* phrase to phrase */
        /* any pair counts, not just the first hits */
        assert_rules(c, "acme is fine, refunds elsewhere. refund acme", "near-refund");
        config_free(c);
}

static void test_scoring(void **state) {
        Config *c = load("brands:\n"
                         "  - name: acme\n"
                         "    terms: [acme]\n"
                         "rules:\n"
                         "  - name: scored\n"
                         "    terms: {refund: 3, \"never again\": 5, angry: 2, giveaway: -10}\n"
                         "    threshold: 5\n");
        RuleMatches m = {};
        RulePost post = {.text = "acme refund, never again", .followers = -1};

        assert_rules(c, "acme refund", "");                 /* 3 */
        assert_rules(c, "acme refund angry", "scored");     /* 5 */
        assert_rules(c, "acme refund refund refund", "");   /* a term counts once */
        assert_rules(c, "acme never again", "scored");
        assert_rules(c, "acme never again giveaway", "");   /* -5 */
        match_post(c, &post, &m);
        assert_int_equal(m.n, 1);
        assert_int_equal(m.m[0].score, 8);
        rule_matches_done(&m);
        config_free(c);
}

static void test_filters(void **state) {
        Config *c = load("brands:\n"
                         "  - name: acme\n"
                         "    terms: [acme]\n"
                         "rules:\n"
                         "  - name: ru\n"
                         "    any: [refund]\n"
                         "    languages: [ru, UK]\n"
                         "  - name: masto\n"
                         "    any: [refund]\n"
                         "    networks: [mastodon]\n"
                         "  - name: big\n"
                         "    any: [refund]\n"
                         "    min_followers: 1000\n");

        assert_post(c, (RulePost){.text = "acme refund"}, "ru,masto,big"); /* nothing known */
        assert_post(c, (RulePost){.text = "acme refund", .lang = "ru"}, "ru,masto,big");
        assert_post(c, (RulePost){.text = "acme refund", .lang = "uk-UA"}, "ru,masto,big");
        assert_post(c, (RulePost){.text = "acme refund", .lang = "en"}, "masto,big");
        assert_post(c, (RulePost){.text = "acme refund", .network = "bluesky"}, "ru,big");
        assert_post(c, (RulePost){.text = "acme refund", .network = "mastodon", .followers = 999},
                    "ru,masto");
        assert_post(c, (RulePost){.text = "acme refund", .followers = 1000}, "ru,masto,big");
        /* a rating filter is about reviews */
        {
                Config *r = load("brands:\n"
                                 "  - name: acme\n"
                                 "    terms: [acme]\n"
                                 "rules:\n"
                                 "  - name: bad-review\n"
                                 "    brand: none\n"
                                 "    networks: [appstore]\n"
                                 "    max_rating: 2\n");
                assert_post(r, (RulePost){.text = "meh", .network = "appstore", .rating = 1},
                            "bad-review");
                assert_post(r, (RulePost){.text = "meh", .network = "appstore", .rating = 2},
                            "bad-review");
                assert_post(r, (RulePost){.text = "meh", .network = "appstore", .rating = 3}, "");
                assert_post(r, (RulePost){.text = "meh", .network = "appstore"}, "");
                assert_post(r, (RulePost){.text = "meh", .network = "mastodon", .rating = 1}, "");
                config_free(r);
        }
        /* "und" says no more than no language */
        assert_post(c, (RulePost){.text = "acme refund", .lang = "und"}, "ru,masto,big");
        config_free(c);

        /* an empty list admits nothing (and says so at load time); so does any: [] */
        c = load("brands:\n"
                 "  - name: acme\n"
                 "    terms: [acme]\n"
                 "rules:\n"
                 "  - name: nolang\n"
                 "    languages: []\n"
                 "  - name: nonet\n"
                 "    networks: []\n"
                 "  - name: noany\n"
                 "    any: []\n"
                 "  - name: plain\n");
        assert_post(c, (RulePost){.text = "acme refund"}, "plain");
        assert_post(c, (RulePost){.text = "acme", .lang = "en", .network = "mastodon"}, "plain");
        assert_contains(warnings_of(c), "an empty language code list: this rule can never match");
        assert_contains(warnings_of(c), "rule 'noany': an empty any: list can never match");
        config_free(c);
}

static void test_sources_filter(void **state) {
        /* sources: must name configured sources: an unknown one is an error */
        const char *e = load_errors("brands:\n"
                                    "  - name: acme\n"
                                    "    terms: [acme]\n"
                                    "rules:\n"
                                    "  - name: r\n"
                                    "    any: [refund]\n"
                                    "    sources: [mastodon-acme]\n");
        assert_contains(e, "earshot.yaml:7:");
        assert_contains(e, "unknown source 'mastodon-acme'");
}

static void test_brand_forms(void **state) {
        Config *c = load("brands:\n"
                         "  - name: acme\n"
                         "    hashtags: [acme, \"#acmesupport\"]\n"
                         "    handles:\n"
                         "      mastodon: [acme]\n"
                         "      bluesky: [\"@acme.bsky.social\"]\n"
                         "    domains: [acme.com]\n"
                         "    respond_within: 2h\n"
                         "rules:\n"
                         "  - name: refund\n"
                         "    any: [refund]\n");

        assert_rules(c, "#acme refund", "refund");
        assert_rules(c, "acme refund", ""); /* only the hashtag was given */
        assert_rules(c, "#AcmeSupport refund", "refund");
        assert_rules(c, "refund https://shop.acme.com/orders/1", "refund");
        /* a handle counts only on its network */
        assert_post(c, (RulePost){.text = "@acme refund", .network = "mastodon"}, "refund");
        assert_post(c, (RulePost){.text = "@acme refund", .network = "bluesky"}, "");
        assert_post(c, (RulePost){.text = "@acme.bsky.social refund", .network = "bluesky"},
                    "refund");
        /* the brand's target applies when the rule has none */
        RuleMatches m = {};
        RulePost post = {.text = "#acme refund", .followers = -1};
        match_post(c, &post, &m);
        assert_int_equal(m.n, 1);
        assert_int_equal(rule_respond_within(c->rules, &m.m[0]), 2 * USEC_PER_HOUR);
        rule_matches_done(&m);
        config_free(c);
}

static void test_brand_none_and_disabled(void **state) {
        Config *c = load("brands:\n"
                         "  - name: acme\n"
                         "    terms: [acme]\n"
                         "rules:\n"
                         "  - name: industry\n"
                         "    brand: none\n"
                         "    any: [\"#boycott\"]\n"
                         "  - name: off\n"
                         "    enabled: false\n"
                         "    any: [refund]\n");

        assert_rules_brand(c, "#boycott everything", "industry", "-");
        assert_rules(c, "acme refund", "");
        config_free(c);
}

static void test_flags(void **state) {
        Config *c = load("matching:\n"
                         "  accents: ignore\n"
                         "brands:\n"
                         "  - name: acme\n"
                         "    terms: [acme]\n"
                         "    inside_hashtags: true\n"
                         "rules:\n"
                         "  - name: ru\n"
                         "    any: [\"всё плохо\"]\n"
                         "  - name: strict\n"
                         "    accents: match\n"
                         "    any: [café]\n");

        assert_rules(c, "acme, все плохо", "ru");
        assert_rules(c, "#ihateacme всё плохо", "ru");
        assert_rules(c, "acme cafe", "");
        assert_rules(c, "acme café", "strict");
        config_free(c);
}

static void test_lints(void **state) {
        Config *c = load("brands:\n"
                         "  - name: acme\n"
                         "    terms: [acme]\n"
                         "    exclude: [acme]\n"
                         "rules:\n"
                         "  - name: lint\n"
                         "    all: [refund, \"money back\"]\n"
                         "    any: [the, ok, \"Refund\", refund]\n"
                         "    none: [refund]\n"
                         "  - name: unreachable\n"
                         "    terms: {refund: 2, late: 1}\n"
                         "    threshold: 5\n"
                         "    networks: [mastodn]\n");
        const char *w = warnings_of(c);

        assert_contains(w, "earshot.yaml:4:15: warning: brand 'acme' excludes its own term");
        assert_contains(w, "term 'the' is a common English word");
        assert_contains(w, "term 'ok' is shorter than 3 characters");
        assert_contains(w, "earshot.yaml:8:30: warning: rule 'lint': a term in any repeats "
                           "'Refund' (line 8)");
        assert_contains(w, "earshot.yaml:9:12: warning: rule 'lint' can never match: 'Refund' "
                           "is both required");
        assert_contains(w, "rule 'unreachable' can never match: its positive weights add up to 3");
        assert_contains(w, "'mastodn' is not one of the networks earshot knows (did you mean "
                           "'mastodon'?)");
        config_free(c);
}

static void test_errors(void **state) {
        const char *e;

        e = load_errors("brands:\n"
                        "  - name: acme\n"
                        "    terms: [acme]\n"
                        "rules:\n"
                        "  - name: r\n"
                        "    brand: acmee\n"
                        "    any: [refund]\n"
                        "    languages: [english]\n"
                        "  - name: s\n"
                        "    any: [{all: [a1], any: [b1]}]\n"
                        "    near: 0\n"
                        "  - name: t\n"
                        "    threshold: 3\n"
                        "    severity: urgent\n"
                        "    any: [\"refund**\"]\n");
        assert_contains(e, "earshot.yaml:6:12: unknown brand 'acmee' (did you mean 'acme'?)");
        assert_contains(e, "earshot.yaml:8:17: unknown language code 'english'");
        assert_contains(e, "earshot.yaml:10:11: a group in any must have exactly one key");
        assert_contains(e, "earshot.yaml:11:11: near must be between 1 and 1000");
        assert_contains(e, "earshot.yaml:13:16: threshold needs terms: with weights");
        assert_contains(e, "earshot.yaml:14:15: invalid severity 'urgent'");
        assert_contains(e, "earshot.yaml:15:11: invalid term 'refund**'");
}

static void test_explain(void **state) {
        Config *c = load("brands:\n"
                         "  - name: acme\n"
                         "    terms: [acme]\n"
                         "    exclude: [giveaway]\n"
                         "rules:\n"
                         "  - name: refund\n"
                         "    any: [refund*, \"money back\"]\n"
                         "    all: [still]\n"
                         "    none: [kidding]\n"
                         "  - name: scored\n"
                         "    terms: {refund: 3, angry: 2}\n"
                         "    threshold: 5\n");
        char *out = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&out, &len);
        RulePost post = {.text = "Acme: still no REFUNDS", .followers = -1};

        assert_non_null(f);
        assert_int_equal(ruleset_explain(c->rules, &post, false, f), 0);
        assert_int_equal(fclose(f), 0);
        assert_contains(out, "rule refund (");
        assert_contains(out, "MATCHES");
        assert_contains(out, "brand acme: named by 'acme' (\"Acme\", word 1)");
        assert_contains(out, "any: holds; present: 'refund*' (\"REFUNDS\", word 4)");
        assert_contains(out, "none: holds; none present");
        assert_contains(out, "rule scored (");
        assert_contains(out, "no match");
        assert_contains(out, "score: 0 of threshold 5");
        free(out);
        config_free(c);

        /* a group that holds only through a nested group says so */
        c = load("brands:\n"
                 "  - name: acme\n"
                 "    hashtags: [acme]\n"
                 "rules:\n"
                 "  - name: billing\n"
                 "    any: [refund*, {all: [charged, twice]}]\n"
                 "    none: [giveaway, {all: [just, kidding]}]\n");
        post.text = "#acme charged me twice, just kidding";
        f = open_memstream(&out, &len);
        assert_non_null(f);
        assert_int_equal(ruleset_explain(c->rules, &post, false, f), 0);
        assert_int_equal(fclose(f), 0);
        assert_contains(out, "brand acme: named by '#acme' (\"#acme\", word 1)");
        assert_contains(out, "  any: holds through a nested group (below)\n"
                             "    all: holds; all present\n");
        assert_contains(out, "  none: fails; blocked by a nested group (below)\n"
                             "    all: holds; all present\n");
        assert_contains(out, "no match");
        free(out);
        config_free(c);
}

static void test_escalation_and_targets(void **state) {
        Config *c = load("escalation:\n"
                         "  policies:\n"
                         "    standard: [{at: 50%}, {at: 100%}]\n"
                         "    urgent: [{at: 15m}]\n"
                         "  by_severity: {normal: standard}\n"
                         "brands:\n"
                         "  - name: acme\n"
                         "    terms: [acme]\n"
                         "    respond_within: 2h\n"
                         "rules:\n"
                         "  - name: outage\n"
                         "    any: [down]\n"
                         "    severity: critical\n"
                         "    escalation: urgent\n"
                         "    respond_within: 15m\n"
                         "  - name: praise\n"
                         "    any: [thanks]\n"
                         "    escalation: none\n"
                         "  - name: refund\n"
                         "    any: [refund]\n"
                         "  - name: review\n"
                         "    brand: none\n"
                         "    any: [stars]\n");
        const Ruleset *rs = c->rules;
        size_t outage = rule_index(c, "outage"), praise = rule_index(c, "praise"),
               refund = rule_index(c, "refund"), review = rule_index(c, "review");

        assert_int_equal(rs->rules[outage].escalation, 1);
        assert_int_equal(rs->rules[praise].escalation, RULE_ESCALATION_NONE);
        assert_int_equal(rs->rules[refund].escalation, RULE_ESCALATION_UNSET);
        assert_int_equal(rs->rules[review].escalation, RULE_ESCALATION_UNSET);

        /* the rule's own target and its brand's, apart; rule_respond_within() merges them */
        RuleMatch m = {.rule = outage, .brand = 0};
        assert_int_equal(rs->rules[outage].respond_within, 15 * USEC_PER_MINUTE);
        assert_int_equal(rule_brand_respond_within(rs, &m), 2 * USEC_PER_HOUR);
        assert_int_equal(rule_respond_within(rs, &m), 15 * USEC_PER_MINUTE);
        m.rule = refund;
        assert_int_equal(rs->rules[refund].respond_within, 0);
        assert_int_equal(rule_brand_respond_within(rs, &m), 2 * USEC_PER_HOUR);
        assert_int_equal(rule_respond_within(rs, &m), 2 * USEC_PER_HOUR);
        m = (RuleMatch){.rule = review, .brand = -1};
        assert_int_equal(rule_brand_respond_within(rs, &m), 0);
        assert_int_equal(rule_respond_within(rs, &m), 0);
        config_free(c);
}

static void test_escalation_errors(void **state) {
        const char *e;

        e = load_errors("escalation:\n"
                        "  policies:\n"
                        "    urgent: [{at: 15m}]\n"
                        "brands:\n"
                        "  - name: acme\n"
                        "    terms: [acme]\n"
                        "rules:\n"
                        "  - name: outage\n"
                        "    any: [down]\n"
                        "    escalation: urgnt\n"
                        "  - name: other\n"
                        "    any: [x1]\n"
                        "    escalation: [urgent]\n"
                        "  - name: third\n"
                        "    any: [y1]\n"
                        "    escalation: standard\n"
                        "  - name: fourth\n"
                        "    any: [z1]\n"
                        "    escalaton: urgent\n");
        assert_contains(e, "earshot.yaml:10:17: unknown escalation policy 'urgnt' (did you "
                           "mean 'urgent'?)");
        assert_contains(e, "earshot.yaml:13:17: an escalation policy must be a string, not a "
                           "list");
        assert_contains(e, "earshot.yaml:16:17: unknown escalation policy 'standard' (a name "
                           "from escalation: policies:, or none)");
        assert_contains(e, "earshot.yaml:19:5: unknown key 'escalaton' in rule (did you mean "
                           "'escalation'?)");

        /* no policies at all */
        e = load_errors("brands:\n"
                        "  - name: acme\n"
                        "    terms: [acme]\n"
                        "rules:\n"
                        "  - name: outage\n"
                        "    any: [down]\n"
                        "    escalation: urgent\n");
        assert_contains(e, "earshot.yaml:7:17: unknown escalation policy 'urgent' (escalation: "
                           "policies: defines none; 'none' turns escalation off)");
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
                TEST("rules/all-and-groups", test_all_and_groups),
                TEST("rules/near", test_near),
                TEST("rules/scoring", test_scoring),
                TEST("rules/filters", test_filters),
                TEST("rules/sources-filter", test_sources_filter),
                TEST("rules/brand-forms", test_brand_forms),
                TEST("rules/brand-none-and-disabled", test_brand_none_and_disabled),
                TEST("rules/flags", test_flags),
                TEST("rules/lints", test_lints),
                TEST("rules/errors", test_errors),
                TEST("rules/explain", test_explain),
                TEST("rules/escalation-and-targets", test_escalation_and_targets),
                TEST("rules/escalation-errors", test_escalation_errors),
        };

        return cmocka_run_group_tests_name("rules", tests, NULL, NULL);
}
