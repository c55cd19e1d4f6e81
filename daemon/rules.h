/* SPDX-License-Identifier: MIT */
/*
 * rules.h - the rule language: brands and rules from YAML, compiled into a Ruleset, and
 * evaluated against posts.
 *
 * Every term of every brand and rule goes into one Matcher (match.h), so a post is scanned
 * once however many rules there are; the Boolean, proximity, score and filter logic then runs
 * on the hits, only for the rules that a hit can concern. A Ruleset is immutable once built and
 * is swapped whole on reload.
 *
 * A rule matches a post when, in this order:
 *   1. the filters pass: `networks`, `sources`, `languages` (a post whose network gives no
 *      language passes), `min_followers` (a post without a follower count passes),
 *      `max_rating` (only reviews with at most that many stars pass);
 *   2. a brand is mentioned: one of the rule's brands (all brands for `brand: any`, the
 *      default) has a term in the post (a handle term only on its network) and none of its
 *      `exclude` terms; a rule with `brand: none` needs no brand;
 *   3. its body holds: one of `any` (when given), all of `all`, none of `none`; items of these
 *      lists are terms or nested groups {any: [...]}, {all: [...]}, {none: [...]};
 *   4. with `near: N`, a positive term of the rule occurs within N words of a term of the
 *      brand that was mentioned;
 *   5. with `terms: {term: weight}` and `threshold`, the weights of the distinct terms present
 *      add up to at least the threshold.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "config.h"
#include "match.h"

typedef struct Parser Parser;
typedef struct Node Node;

typedef enum RuleNodeKind {
        RULE_NODE_TERM,
        RULE_NODE_ANY,
        RULE_NODE_ALL,
        RULE_NODE_NONE,
} RuleNodeKind;

typedef struct RuleNode {
        RuleNodeKind kind;
        uint32_t term;             /* RULE_NODE_TERM: matcher term id */
        struct RuleNode *children; /* owned; groups only */
        size_t n_children;
        ConfigPos pos;
} RuleNode;

typedef struct BrandTerm {
        uint32_t term;  /* matcher term id */
        char *network;  /* owned; NULL = any network (only handles are per network) */
} BrandTerm;

typedef struct Brand {
        char *name;
        BrandTerm *terms; /* owned */
        size_t n_terms;
        uint32_t *exclude; /* owned, matcher term ids */
        size_t n_exclude;
        usec_t respond_within; /* 0 = not set */
        ConfigPos pos;
} Brand;

/* Rule::escalation when it names no policy. */
#define RULE_ESCALATION_UNSET ((ssize_t)-1) /* not set: escalation.by_severity decides */
#define RULE_ESCALATION_NONE ((ssize_t)-2)  /* `escalation: none` */

typedef struct WeightedTerm {
        uint32_t term;
        int64_t weight;
} WeightedTerm;

typedef struct Rule {
        char *name;
        char *description;
        bool enabled;
        /* brands: indexes into Ruleset::brands; any_brand = all of them; no_brand = none needed */
        size_t *brands;
        size_t n_brands;
        bool any_brand, no_brand;
        RuleNode body; /* RULE_NODE_ALL of: the any-group, the all items, the none-group */
        bool has_body;
        bool empty_any; /* `any: []` was written: nothing can satisfy it */
        unsigned near; /* 0 = no proximity condition */
        char **languages, **networks, **sources; /* owned strv; NULL = no filter */
        int64_t min_followers;                   /* 0 = no filter */
        int64_t max_rating;                      /* 0 = no filter; else reviews of <= stars */
        WeightedTerm *weights;                   /* owned; scoring form */
        size_t n_weights;
        int64_t threshold;
        Severity severity;
        usec_t respond_within; /* 0 = not set */
        ssize_t escalation;    /* index into Config::escalation_policies, or RULE_ESCALATION_* */
        char **tags;           /* owned strv, may be NULL */
        uint32_t *positive;    /* owned: sorted term ids that count for `near` */
        size_t n_positive;
        ConfigPos pos;
} Rule;

typedef struct Ruleset {
        Brand *brands;
        size_t n_brands;
        Rule *rules;
        size_t n_rules;
        Term **terms; /* owned, indexed by matcher term id: the first spelling of each */
        ConfigPos *term_pos;
        size_t n_terms;
        Matcher *matcher; /* owned */
        /* term id -> rules whose outcome that term can make true (sorted, no duplicates) */
        size_t **term_rules;
        size_t *n_term_rules;
        size_t *always; /* rules to evaluate on every post (no positive term of their own) */
        size_t n_always;
} Ruleset;

/* What the rules are asked about: a post as the sources give it. */
typedef struct RulePost {
        const char *text;
        const char *lang;    /* may be NULL */
        const char *network; /* may be NULL */
        const char *source;  /* may be NULL */
        int64_t followers;   /* -1 = unknown */
        int64_t rating;      /* a review's stars 1-5; 0 = not a review */
} RulePost;

typedef struct RuleMatch {
        size_t rule;      /* index into Ruleset::rules */
        ssize_t brand;    /* index into Ruleset::brands, -1 when the rule needs none */
        uint32_t *terms;  /* owned: the terms that made the match (brand term first), sorted */
        size_t n_terms;
        int64_t score;    /* scoring rules: the score reached */
} RuleMatch;

typedef struct RuleMatches {
        RuleMatch *m; /* owned, in rule order */
        size_t n;
} RuleMatches;

/* The scratch space of evaluation, reused between posts; one per thread. */
typedef struct RuleScratch RuleScratch;
int rule_scratch_new(bool spans, RuleScratch **ret);
RuleScratch *rule_scratch_free(RuleScratch *s);
/* The scan of the last evaluated post (hits and word spans, for highlighting). */
const Scan *rule_scratch_scan(const RuleScratch *s);

/* The names a rule may refer to, from the rest of the configuration (borrowed). */
typedef struct RuleRefs {
        const char *const *sources; /* a rule's `sources:` */
        size_t n_sources;
        const char *const *policies; /* a rule's `escalation:`, in Config order */
        size_t n_policies;
} RuleRefs;

/*
 * Parse the `brands:` and `rules:` items collected from every file, with the `matching:`
 * defaults (NULL = none), into a Ruleset (used by config.c); `sources:` and `escalation:` may
 * name only what refs lists (refs NULL = nothing).
 * Errors go through the parser; 0, -EINVAL after reporting, or -ENOMEM.
 */
int ruleset_parse(Parser *p, const Node *matching, const Node *brands, size_t n_brands,
                  const Node *rules, size_t n_rules, const RuleRefs *refs, Ruleset **ret);

/*
 * A list of network names (a single name is a list of one), lower-cased; a name earshot does
 * not know is a warning (plugins may bring their own networks). For `networks:` lists outside
 * rules (config.c). 0, -EINVAL after reporting, or -ENOMEM.
 */
int network_list_parse(Parser *p, Node n, char ***ret);

/*
 * A reference to an escalation policy (a rule's `escalation:`, config.c's by_severity): *ret is
 * its index in policies, or RULE_ESCALATION_NONE for `none`. 0, or -EINVAL after reporting
 * (with the nearest name).
 */
int escalation_ref_parse(Parser *p, Node n, const char *const *policies, size_t n_policies,
                         ssize_t *ret);
Ruleset *ruleset_free(Ruleset *rs);

/* Evaluate every rule on one post. 0 (possibly with ret->n == 0), or -ENOMEM. */
int ruleset_match(const Ruleset *rs, const RulePost *post, RuleScratch *s, RuleMatches *ret);
void rule_matches_done(RuleMatches *m);

/*
 * For every rule, whether it matches the post and why or why not, in plain words, one rule
 * a paragraph (earshotctl explain). With color, hits are highlighted with ANSI escapes.
 */
int ruleset_explain(const Ruleset *rs, const RulePost *post, bool color, FILE *f);

/* The rule's target, falling back to its brand's; 0 when neither sets one. */
usec_t rule_respond_within(const Ruleset *rs, const RuleMatch *m);
/* The target of the brand the post named (0 when it sets none, or the rule needs no brand);
 * the rule's own is rs->rules[m->rule].respond_within. See config_target(). */
usec_t rule_brand_respond_within(const Ruleset *rs, const RuleMatch *m);

static inline void ruleset_freep(Ruleset **rs) {
        if (*rs)
                ruleset_free(*rs);
}
static inline void rule_scratch_freep(RuleScratch **s) {
        if (*s)
                rule_scratch_free(*s);
}
