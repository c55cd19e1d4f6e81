/* SPDX-License-Identifier: MIT */
/*
 * rules.h - decides which rules a post matches. A rule matches when the post mentions one of
 * the rule's brands (any brand when the rule names none) and none of that brand's exclusions,
 * contains one of the rule's `any` terms (when it has any), and none of its `none` terms.
 */
#pragma once

#include <stddef.h>

#include "config.h"

typedef struct RuleMatches {
        size_t *rules; /* owned: indexes into Config::rules, in config order */
        size_t n;
        const BrandConfig *brand; /* the brand of the first matched rule; NULL when none */
} RuleMatches;

/* Match a plain-text post. 0 (possibly with n == 0), or -ENOMEM. */
int rules_match(const Config *c, const char *text, RuleMatches *ret);
void rule_matches_done(RuleMatches *m);
