/* SPDX-License-Identifier: MIT */
/*
 * ctl-rules.c - earshotctl's tools for the people who tune rules: test-rules (run the rules
 * over posts in a file), explain (why each rule did or did not match a text) and backtest
 * (what a rule change would have done to the posts the daemon has seen).
 *
 * All three use the daemon's own code: the same config loader, the same compiled Ruleset and
 * the same matcher, so what they show is what earshotd would do.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "rules.h"
#include "store.h"
#include "util/cleanup.h"
#include "util/strv.h"
#include "util/time-util.h"

#define MAX_LINE (4u << 20)

DEFINE_TRIVIAL_CLEANUP_FUNC(cJSON *, cJSON_Delete);

void ctl_print_config_error(const char *msg, void *userdata) {
        fprintf(stderr, "%s\n", msg);
        (*(unsigned *)userdata)++;
}

int ctl_load_config(const char *path, char *const *rule_files, Config **ret) {
        PluginRegistry *reg = NULL;
        const char *pd = getenv("EARSHOT_PLUGIN_DIR");
        unsigned n_errors = 0;
        int r;

        r = plugin_registry_new(&reg);
        if (r < 0)
                return r;
        r = config_load_with_rules(path, isempty(pd) ? NULL : pd, rule_files, reg,
                                   ctl_print_config_error, &n_errors, ret);
        /* the tools never call into source or notifier plugins, so they can go at once */
        plugin_registry_free(reg);
        if (r < 0) {
                fprintf(stderr, "earshotctl: %s: %u error%s, configuration is invalid\n", path,
                        n_errors, n_errors == 1 ? "" : "s");
                return r;
        }
        return 0;
}

static bool use_color(void) {
        if (arg_color >= 0)
                return arg_color;
        const char *t = getenv("TERM");
        return isatty(STDOUT_FILENO) && !getenv("NO_COLOR") && !(t && strcmp(t, "dumb") == 0);
}

/* ---- test-rules --------------------------------------------------------------------------- */

typedef struct RuleCount {
        size_t posts;
} RuleCount;

/* Print text with the byte ranges of hit words emphasized; blanks collapse to one space. */
static void print_highlighted(const char *text, const Scan *scan, const uint32_t *terms,
                              size_t n_terms, bool color) {
        size_t len = strlen(text);
        _cleanup_free_ uint8_t *mark = calloc(len + 1, 1);
        const MatchHit *h = scan_hits(scan);

        if (mark && color)
                for (size_t i = 0; i < scan_n_hits(scan); i++) {
                        bool wanted = false;
                        for (size_t k = 0; k < n_terms && !wanted; k++)
                                wanted = terms[k] == h[i].term;
                        if (!wanted)
                                continue;
                        size_t a, b, c, d;
                        scan_word_span(scan, h[i].first_word, &a, &b);
                        scan_word_span(scan, h[i].first_word + h[i].n_words - 1, &c, &d);
                        for (size_t x = a; x < d && x < len; x++)
                                mark[x] = 1;
                }
        fputs("    ", stdout);
        bool on = false;
        for (size_t i = 0; i < len; i++) {
                bool want = mark && mark[i];
                if (want != on) {
                        fputs(want ? "\033[1;31m" : "\033[0m", stdout);
                        on = want;
                }
                char ch = text[i];
                if (ch == '\n' || ch == '\r' || ch == '\t')
                        ch = ' ';
                fputc(ch, stdout);
        }
        if (on)
                fputs("\033[0m", stdout);
        fputc('\n', stdout);
}

static const char *json_string(const cJSON *o, const char *key) {
        const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);
        return cJSON_IsString(j) ? j->valuestring : NULL;
}

/* "id" may be a string or a number. */
static char *json_id(const cJSON *o, size_t line) {
        const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, "id");
        char *s = NULL;
        if (cJSON_IsString(j))
                s = strdup(j->valuestring);
        else if (cJSON_IsNumber(j)) {
                if (asprintf(&s, "%.0f", j->valuedouble) < 0)
                        s = NULL;
        } else if (asprintf(&s, "line %zu", line) < 0)
                s = NULL;
        return s;
}

int ctl_test_rules(const char *path) {
        _cleanup_(config_freep) Config *cfg = NULL;
        _cleanup_(rule_scratch_freep) RuleScratch *scratch = NULL;
        _cleanup_fclose_ FILE *owned = NULL;
        _cleanup_free_ char *line = NULL;
        _cleanup_free_ RuleCount *counts = NULL;
        size_t cap = 0, n_line = 0, n_posts = 0, n_matched = 0, n_bad = 0;
        bool color = use_color();
        FILE *in;
        int r;

        r = ctl_load_config(arg_config, NULL, &cfg);
        if (r < 0)
                return EXIT_FAILURE;
        const Ruleset *rs = cfg->rules;
        if (strcmp(path, "-") == 0)
                in = stdin;
        else {
                in = owned = fopen(path, "re");
                if (!in) {
                        fprintf(stderr, "earshotctl: cannot open %s: %s\n", path, strerror(errno));
                        return EXIT_FAILURE;
                }
        }
        if (rule_scratch_new(true, &scratch) < 0 ||
            !(counts = calloc(rs->n_rules + 1, sizeof(RuleCount)))) {
                fprintf(stderr, "earshotctl: out of memory\n");
                return EXIT_FAILURE;
        }

        ssize_t len;
        while ((len = getline(&line, &cap, in)) >= 0) {
                n_line++;
                if ((size_t)len > MAX_LINE) {
                        fprintf(stderr, "%s:%zu: line longer than %u bytes, skipped\n", path,
                                n_line, MAX_LINE);
                        n_bad++;
                        continue;
                }
                const char *s = line;
                while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
                        s++;
                if (!*s || *s == '#')
                        continue; /* blank line or comment */
                _cleanup_(cJSON_Deletep) cJSON *o = cJSON_ParseWithLength(line, (size_t)len);
                if (!cJSON_IsObject(o)) {
                        fprintf(stderr, "%s:%zu: not a JSON object, skipped\n", path, n_line);
                        n_bad++;
                        continue;
                }
                const char *text = json_string(o, "text");
                if (!text) {
                        fprintf(stderr, "%s:%zu: no \"text\" string, skipped\n", path, n_line);
                        n_bad++;
                        continue;
                }
                const cJSON *fj = cJSON_GetObjectItemCaseSensitive(o, "followers");
                RulePost post = {
                        .text = text,
                        .lang = json_string(o, "lang"),
                        .network = json_string(o, "network"),
                        .source = json_string(o, "source"),
                        .followers = cJSON_IsNumber(fj) ? (int64_t)fj->valuedouble : -1,
                        .rating = cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(o, "rating"))
                                          ? (int64_t)cJSON_GetObjectItemCaseSensitive(o, "rating")
                                                    ->valuedouble
                                          : 0,
                };
                RuleMatches m = {};
                n_posts++;
                r = ruleset_match(rs, &post, scratch, &m);
                if (r < 0) {
                        fprintf(stderr, "earshotctl: out of memory\n");
                        return EXIT_FAILURE;
                }
                if (m.n == 0)
                        continue;
                n_matched++;

                /* the union of the terms behind every matched rule */
                size_t n_terms = 0;
                for (size_t i = 0; i < m.n; i++)
                        n_terms += m.m[i].n_terms;
                _cleanup_free_ uint32_t *terms = calloc(n_terms + 1, sizeof(uint32_t));
                n_terms = 0;
                for (size_t i = 0; i < m.n && terms; i++)
                        for (size_t k = 0; k < m.m[i].n_terms; k++) {
                                /* one spelling once, whatever its flags */
                                bool dup = false;
                                for (size_t j = 0; j < n_terms && !dup; j++)
                                        dup = terms[j] == m.m[i].terms[k] ||
                                              strcmp(term_source(rs->terms[terms[j]]),
                                                     term_source(rs->terms[m.m[i].terms[k]])) ==
                                                      0;
                                if (!dup)
                                        terms[n_terms++] = m.m[i].terms[k];
                        }
                _cleanup_free_ char *id = json_id(o, n_line);
                for (size_t i = 0; i < m.n; i++)
                        counts[m.m[i].rule].posts++;

                if (arg_json) {
                        cJSON *out = cJSON_CreateObject(), *rj = cJSON_CreateArray(),
                              *tj = cJSON_CreateArray();
                        const cJSON *idj = cJSON_GetObjectItemCaseSensitive(o, "id");
                        cJSON_AddItemToObject(out, "id", idj ? cJSON_Duplicate(idj, true)
                                                             : cJSON_CreateNull());
                        for (size_t i = 0; i < m.n; i++)
                                cJSON_AddItemToArray(
                                        rj, cJSON_CreateString(rs->rules[m.m[i].rule].name));
                        for (size_t k = 0; k < n_terms; k++)
                                cJSON_AddItemToArray(
                                        tj, cJSON_CreateString(term_source(rs->terms[terms[k]])));
                        cJSON_AddItemToObject(out, "rules", rj);
                        cJSON_AddItemToObject(out, "terms", tj);
                        _cleanup_free_ char *txt = cJSON_PrintUnformatted(out);
                        cJSON_Delete(out);
                        if (txt)
                                puts(txt);
                } else {
                        printf("%s%s%s  ", color ? "\033[1m" : "", id ? id : "?",
                               color ? "\033[0m" : "");
                        for (size_t i = 0; i < m.n; i++) {
                                const Rule *rule = &rs->rules[m.m[i].rule];
                                printf("%s%s [%s]", i ? ", " : "", rule->name,
                                       severity_to_string(rule->severity));
                        }
                        fputs("\n    terms: ", stdout);
                        for (size_t k = 0; k < n_terms; k++)
                                printf("%s'%s'", k ? ", " : "", term_source(rs->terms[terms[k]]));
                        fputc('\n', stdout);
                        print_highlighted(text, rule_scratch_scan(scratch), terms, n_terms,
                                          color);
                }
                rule_matches_done(&m);
        }
        if (ferror(in)) {
                fprintf(stderr, "earshotctl: error reading %s\n", path);
                return EXIT_FAILURE;
        }

        if (!arg_json) {
                printf("\n%zu post%s read, %zu matched (%.1f%%)%s", n_posts,
                       n_posts == 1 ? "" : "s", n_matched,
                       n_posts ? 100.0 * (double)n_matched / (double)n_posts : 0.0,
                       n_bad ? "" : "\n");
                if (n_bad)
                        printf(", %zu line%s skipped\n", n_bad, n_bad == 1 ? "" : "s");
                size_t w = 4;
                for (size_t i = 0; i < rs->n_rules; i++)
                        if (strlen(rs->rules[i].name) > w)
                                w = strlen(rs->rules[i].name);
                printf("%-*s  %7s  %6s\n", (int)w, "rule", "posts", "share");
                for (size_t i = 0; i < rs->n_rules; i++)
                        printf("%-*s  %7zu  %5.1f%%%s\n", (int)w, rs->rules[i].name,
                               counts[i].posts,
                               n_posts ? 100.0 * (double)counts[i].posts / (double)n_posts : 0.0,
                               rs->rules[i].enabled ? "" : "  (disabled)");
        }
        return n_bad > 0 && n_posts == 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* ---- explain ------------------------------------------------------------------------------ */

int ctl_explain(const char *text) {
        _cleanup_(config_freep) Config *cfg = NULL;
        int r;

        r = ctl_load_config(arg_config, NULL, &cfg);
        if (r < 0)
                return EXIT_FAILURE;
        RulePost post = {
                .text = text,
                .lang = arg_lang,
                .network = arg_network,
                .source = arg_source,
                .followers = arg_followers,
                .rating = arg_rating,
        };
        r = ruleset_explain(cfg->rules, &post, use_color(), stdout);
        if (r < 0) {
                fprintf(stderr, "earshotctl: out of memory\n");
                return EXIT_FAILURE;
        }
        return EXIT_SUCCESS;
}

/* ---- backtest ----------------------------------------------------------------------------- */

typedef struct Backtest {
        const Ruleset *old, *new;
        RuleScratch *scratch;
        size_t posts, appear, disappear, change, same_alerts;
        size_t *old_counts, *new_counts;
        cJSON *json; /* with --json: the changed posts */
        int error;
} Backtest;

/* The names of the matched rules, comma-separated. */
static char *names_of(const Ruleset *rs, const RuleMatches *m) {
        _cleanup_strv_free_ char **l = calloc(1, sizeof(char *));
        if (!l)
                return NULL;
        for (size_t i = 0; i < m->n; i++)
                if (strv_extend(&l, rs->rules[m->m[i].rule].name) < 0)
                        return NULL;
        return strv_join(l, ", ");
}

static int backtest_one(const SeenPost *sp, void *userdata) {
        Backtest *b = userdata;
        RuleMatches om = {}, nm = {};
        RulePost post = {.text = sp->text, .lang = sp->lang, .network = sp->network,
                         .source = sp->source, .followers = sp->followers};
        int r;

        b->posts++;
        r = ruleset_match(b->old, &post, b->scratch, &om);
        if (r >= 0)
                r = ruleset_match(b->new, &post, b->scratch, &nm);
        if (r < 0) {
                rule_matches_done(&om);
                b->error = r;
                return r;
        }
        for (size_t i = 0; i < om.n; i++)
                b->old_counts[om.m[i].rule]++;
        for (size_t i = 0; i < nm.n; i++)
                b->new_counts[nm.m[i].rule]++;

        _cleanup_free_ char *on = names_of(b->old, &om), *nn = names_of(b->new, &nm);
        char kind = 0;
        if (om.n == 0 && nm.n > 0) {
                kind = '+';
                b->appear++;
        } else if (om.n > 0 && nm.n == 0) {
                kind = '-';
                b->disappear++;
        } else if (om.n > 0 && on && nn && strcmp(on, nn) != 0) {
                kind = '~';
                b->change++;
        } else if (om.n > 0)
                b->same_alerts++;
        if (kind) {
                if (b->json) {
                        cJSON *o = cJSON_CreateObject();
                        char k[2] = {kind, 0};
                        cJSON_AddStringToObject(o, "change",
                                                kind == '+'   ? "appear"
                                                : kind == '-' ? "disappear"
                                                              : "change");
                        (void)k;
                        cJSON_AddStringToObject(o, "post", sp->post_key);
                        if (sp->url)
                                cJSON_AddStringToObject(o, "url", sp->url);
                        cJSON *oa = cJSON_CreateArray(), *na = cJSON_CreateArray();
                        for (size_t i = 0; i < om.n; i++)
                                cJSON_AddItemToArray(
                                        oa, cJSON_CreateString(b->old->rules[om.m[i].rule].name));
                        for (size_t i = 0; i < nm.n; i++)
                                cJSON_AddItemToArray(
                                        na, cJSON_CreateString(b->new->rules[nm.m[i].rule].name));
                        cJSON_AddItemToObject(o, "old_rules", oa);
                        cJSON_AddItemToObject(o, "new_rules", na);
                        cJSON_AddStringToObject(o, "text", sp->text);
                        cJSON_AddItemToArray(b->json, o);
                } else {
                        printf("%c %s  [%s]%s%s%s\n", kind, sp->post_key,
                               kind == '+' ? (nn ? nn : "") : (on ? on : ""),
                               kind == '~' ? " -> [" : "", kind == '~' ? (nn ? nn : "") : "",
                               kind == '~' ? "]" : "");
                        printf("    %.160s%s\n", sp->text, strlen(sp->text) > 160 ? "…" : "");
                }
        }
        rule_matches_done(&om);
        rule_matches_done(&nm);
        return 0;
}

int ctl_backtest(Store *s, Config *current) {
        _cleanup_(config_freep) Config *candidate = NULL;
        _cleanup_(rule_scratch_freep) RuleScratch *scratch = NULL;
        char buf[64];
        int r;

        if (arg_rules) {
                r = ctl_load_config(arg_config, arg_rules, &candidate);
                if (r < 0)
                        return EXIT_FAILURE;
        }
        const Ruleset *old = current->rules, *new = candidate ? candidate->rules : current->rules;
        Backtest b = {.old = old, .new = new};
        b.old_counts = calloc(old->n_rules + 1, sizeof(size_t));
        b.new_counts = calloc(new->n_rules + 1, sizeof(size_t));
        if (!b.old_counts || !b.new_counts || rule_scratch_new(false, &scratch) < 0) {
                free(b.old_counts);
                free(b.new_counts);
                fprintf(stderr, "earshotctl: out of memory\n");
                return EXIT_FAILURE;
        }
        b.scratch = scratch;
        if (arg_json)
                b.json = cJSON_CreateArray();

        int64_t since = (int64_t)now_usec(CLOCK_REALTIME) - (int64_t)arg_since;
        if (!arg_json) {
                _cleanup_free_ char *files = arg_rules ? strv_join(arg_rules, ", ") : NULL;
                printf("backtest: posts seen in the last %s; rules now vs. %s\n",
                       format_duration(buf, sizeof(buf), arg_since),
                       files ? files : "the same rules (give --rules NEW.yaml to compare)");
        }
        r = store_seen_foreach(s, since, backtest_one, &b);
        if (r < 0 || b.error < 0) {
                fprintf(stderr, "earshotctl: backtest failed: %s\n",
                        strerror(-(r < 0 ? r : b.error)));
                cJSON_Delete(b.json);
                free(b.old_counts);
                free(b.new_counts);
                return EXIT_FAILURE;
        }

        if (arg_json) {
                cJSON *o = cJSON_CreateObject();
                cJSON_AddNumberToObject(o, "posts", (double)b.posts);
                cJSON_AddNumberToObject(o, "appear", (double)b.appear);
                cJSON_AddNumberToObject(o, "disappear", (double)b.disappear);
                cJSON_AddNumberToObject(o, "change", (double)b.change);
                cJSON_AddNumberToObject(o, "unchanged_alerts", (double)b.same_alerts);
                cJSON_AddItemToObject(o, "posts_changed", b.json);
                _cleanup_free_ char *txt = cJSON_Print(o);
                cJSON_Delete(o);
                if (txt)
                        puts(txt);
        } else {
                printf("\n%zu post%s: %zu alert%s would appear, %zu would disappear, %zu would "
                       "change rules, %zu unchanged\n",
                       b.posts, b.posts == 1 ? "" : "s", b.appear, b.appear == 1 ? "" : "s",
                       b.disappear, b.change, b.same_alerts);
                if (b.posts == 0)
                        printf("(nothing to compare: the store keeps the text of posts seen "
                               "since this version, for store.seen_retention)\n");
                printf("%-24s %8s %8s\n", "rule", "now", "new");
                for (size_t i = 0; i < old->n_rules; i++) {
                        size_t nc = 0;
                        bool found = false;
                        for (size_t j = 0; j < new->n_rules; j++)
                                if (strcmp(new->rules[j].name, old->rules[i].name) == 0) {
                                        nc = b.new_counts[j];
                                        found = true;
                                }
                        printf("%-24s %8zu %8s\n", old->rules[i].name, b.old_counts[i],
                               found ? (snprintf(buf, sizeof(buf), "%zu", nc), buf) : "(gone)");
                }
                for (size_t j = 0; j < new->n_rules; j++) {
                        bool found = false;
                        for (size_t i = 0; i < old->n_rules && !found; i++)
                                found = strcmp(new->rules[j].name, old->rules[i].name) == 0;
                        if (!found)
                                printf("%-24s %8s %8zu\n", new->rules[j].name, "(new)",
                                       b.new_counts[j]);
                }
        }
        free(b.old_counts);
        free(b.new_counts);
        return EXIT_SUCCESS;
}
