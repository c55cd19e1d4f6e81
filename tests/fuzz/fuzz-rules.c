/* SPDX-License-Identifier: MIT */
/*
 * fuzz-rules.c - libFuzzer target for the rule language: YAML brands and rules through the
 * real config loader and rule compiler, then evaluation and explanation of a post.
 *
 * Input layout: the bytes before the first line "---TEXT---" are a configuration file (brands:,
 * rules:, matching:, ...); the bytes after it are the text of a post. Without that line the
 * whole input is the configuration and a fixed post is used. The first byte of the text, when
 * present, also picks the post's language and network from small lists, so filters get
 * exercised.
 *
 * The configuration must load or fail cleanly (errors reported through the callback, never a
 * crash or a leak). When it loads, matching must return rules in config order, each at most
 * once, with a valid brand (or -1 exactly for brand: none rules) and valid term ids, and
 * ruleset_explain() must agree with ruleset_match() on which rules match. Any violation
 * abort()s.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "plugin.h"
#include "rules.h"
#include "util/cleanup.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SEPARATOR "\n---TEXT---\n"
#define MAX_INPUT (256u << 10)

_printf_(1, 2) static _Noreturn void die(const char *format, ...) {
        va_list ap;

        va_start(ap, format);
        vfprintf(stderr, format, ap);
        va_end(ap);
        fputc('\n', stderr);
        abort();
}

static void ignore_error(const char *msg, void *userdata) {
        (*(unsigned *)userdata)++;
}

/* One scratch file for the configuration, reused for every input. */
static const char *config_path(void) {
        static char path[64];
        if (!path[0]) {
                snprintf(path, sizeof(path), "/tmp/earshot-fuzz-rules-%d.yaml", (int)getpid());
        }
        return path;
}

static void cleanup_file(void) {
        (void)unlink(config_path());
}

/* Which rules explain() says match: "rule NAME (...): MATCHES". */
static bool explained_match(const char *out, const char *name) {
        char needle[512];
        snprintf(needle, sizeof(needle), "rule %s (", name);
        for (const char *p = strstr(out, needle); p; p = strstr(p + 1, needle)) {
                const char *eol = strchr(p, '\n');
                const char *m = strstr(p, "): MATCHES");
                if (m && (!eol || m < eol))
                        return true;
                const char *n = strstr(p, "): no match");
                if (n && (!eol || n < eol))
                        return false;
        }
        die("explain() says nothing about rule '%s'", name);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static bool registered;
        static const char *const langs[] = {NULL, "en", "ru", "de-AT", "und"};
        static const char *const networks[] = {NULL, "mastodon", "bluesky", "reddit"};
        const char *sep;
        size_t yaml_len;
        _cleanup_free_ char *input = NULL;
        const char *text = "Acme, where is my refund? #acme @acme acme.com 😡 верните деньги";
        FILE *f;

        if (size > MAX_INPUT)
                return 0;
        if (!registered) {
                registered = true;
                atexit(cleanup_file);
        }
        input = malloc(size + 1);
        if (!input)
                return 0;
        memcpy(input, data, size);
        input[size] = 0;
        sep = memmem(input, size, SEPARATOR, strlen(SEPARATOR));
        yaml_len = sep ? (size_t)(sep - input) : size;
        if (sep)
                text = sep + strlen(SEPARATOR);

        f = fopen(config_path(), "we");
        if (!f)
                die("cannot write %s", config_path());
        if (fwrite(input, 1, yaml_len, f) != yaml_len || fclose(f) != 0)
                die("cannot write %s", config_path());

        PluginRegistry *reg = NULL;
        Config *cfg = NULL;
        unsigned n_errors = 0;
        if (plugin_registry_new(&reg) < 0)
                die("out of memory");
        int r = config_load(config_path(), "/nonexistent", reg, ignore_error, &n_errors, &cfg);
        plugin_registry_free(reg);
        if (r == -ENOMEM)
                return 0;
        if (r < 0) {
                if (n_errors == 0)
                        die("config_load() failed (%d) without reporting an error", r);
                return 0;
        }
        if (n_errors != 0)
                die("config_load() succeeded after reporting %u errors", n_errors);

        const Ruleset *rs = cfg->rules;
        unsigned char pick = (unsigned char)text[0];
        RulePost post = {
                .text = text,
                .lang = langs[pick % 5],
                .network = networks[(pick / 5) % 4],
                .followers = (pick & 0x80) ? 10 : -1,
        };
        RuleScratch *s = NULL;
        RuleMatches m = {};
        if (rule_scratch_new(pick & 1, &s) < 0)
                die("out of memory");
        r = ruleset_match(rs, &post, s, &m);
        if (r < 0)
                die("ruleset_match() = %d", r);
        for (size_t i = 0; i < m.n; i++) {
                const RuleMatch *x = &m.m[i];
                if (x->rule >= rs->n_rules || (i > 0 && x->rule <= m.m[i - 1].rule))
                        die("match %zu: rule %zu out of order or range", i, x->rule);
                if (rs->rules[x->rule].no_brand ? x->brand != -1
                                                : (x->brand < 0 || (size_t)x->brand >= rs->n_brands))
                        die("match %zu: bad brand %zd", i, x->brand);
                for (size_t k = 0; k < x->n_terms; k++)
                        if (x->terms[k] >= rs->n_terms)
                                die("match %zu: term id %u out of range", i, x->terms[k]);
        }

        /* explain() must tell the same story */
        char *out = NULL;
        size_t out_len = 0;
        FILE *mem = open_memstream(&out, &out_len);
        if (!mem)
                die("out of memory");
        r = ruleset_explain(rs, &post, false, mem);
        if (fclose(mem) != 0 || r < 0)
                die("ruleset_explain() = %d", r);
        if (pick & 2) {
                /* the colored form only has to work */
                FILE *null = fopen("/dev/null", "we");
                if (!null || ruleset_explain(rs, &post, true, null) < 0)
                        die("colored ruleset_explain() failed");
                fclose(null);
        }
        for (size_t i = 0, k = 0; i < rs->n_rules; i++) {
                bool matched = k < m.n && m.m[k].rule == i;
                if (matched)
                        k++;
                /* names are free text: only check names explain can be searched for */
                if (!strchr(rs->rules[i].name, '\n') && strlen(rs->rules[i].name) < 400 &&
                    explained_match(out, rs->rules[i].name) != matched)
                        die("rule '%s': match says %d, explain disagrees", rs->rules[i].name,
                            matched);
        }
        free(out);
        rule_matches_done(&m);
        rule_scratch_free(s);
        config_free(cfg);
        return 0;
}
