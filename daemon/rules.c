/* SPDX-License-Identifier: MIT */
/*
 * rules.c - evaluates the compiled rules of a Config against one post. The text is folded and
 * split once (match.h); each term is then matched in time linear in the number of words. Brand
 * presence is computed once per brand, not once per rule.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "rules.h"
#include "util/cleanup.h"

static bool any_term(const TermList *l, const Text *t) {
        for (size_t i = 0; i < l->n; i++)
                if (term_match(l->terms[i], t))
                        return true;
        return false;
}

int rules_match(const Config *c, const char *text, RuleMatches *ret) {
        _cleanup_(text_freep) Text *t = NULL;
        _cleanup_free_ signed char *brand_ok = NULL;
        RuleMatches m = {};
        int r;

        r = text_new(text, strlen(text), &t);
        if (r < 0)
                return r;
        brand_ok = calloc(c->n_brands + 1, 1);
        m.rules = calloc(c->n_rules + 1, sizeof(size_t));
        if (!brand_ok || !m.rules) {
                free(m.rules);
                return -ENOMEM;
        }
        /* 1 = mentioned and not excluded; 0 = not; computed lazily (-1 = unknown) */
        memset(brand_ok, -1, c->n_brands);

        for (size_t i = 0; i < c->n_rules; i++) {
                const RuleConfig *rule = &c->rules[i];
                const BrandConfig *hit = NULL;
                bool brand_match = c->n_brands == 0 && !rule->brands;

                size_t nb = rule->brands ? rule->n_brands : c->n_brands;
                for (size_t k = 0; k < nb && !hit; k++) {
                        size_t b = rule->brands ? rule->brands[k] : k;
                        if (brand_ok[b] < 0)
                                brand_ok[b] = any_term(&c->brands[b].terms, t) &&
                                              !any_term(&c->brands[b].exclude, t);
                        if (brand_ok[b]) {
                                hit = &c->brands[b];
                                brand_match = true;
                        }
                }
                if (!brand_match)
                        continue;
                if (rule->any.n > 0 && !any_term(&rule->any, t))
                        continue;
                if (any_term(&rule->none, t))
                        continue;
                if (m.n == 0)
                        m.brand = hit;
                m.rules[m.n++] = i;
        }
        *ret = m;
        return 0;
}

void rule_matches_done(RuleMatches *m) {
        free(m->rules);
        *m = (RuleMatches){};
}
