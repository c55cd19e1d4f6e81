/* SPDX-License-Identifier: MIT */
/*
 * rules.c - the rule language (see rules.h): parses `brands:` and `rules:` into a Ruleset,
 * lints them, and evaluates them on posts.
 *
 * Guarantees: every term of every brand and rule is compiled into one Matcher, so a post is
 * scanned once, in time linear in its length, whatever the number of rules. Evaluation then
 * touches only the rules a hit can concern (a rule that needs a brand is looked at only when a
 * term of one of its brands is present), and each rule costs time linear in its own size plus
 * the hits: proximity is a single merge over the hits in text order, never a product. Nothing
 * allocates per post once the RuleScratch is warm, except the result list.
 *
 * Lints (warnings, in Config::warnings) never stop a configuration from loading; mistakes that
 * make a rule meaningless (unknown brand, source or language code, bad values) are errors.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

#include <utf8proc.h>

#include "conf-parse.h"
#include "rules.h"
#include "util/cleanup.h"
#include "util/strv.h"

#define MAX_GROUP_DEPTH 8
#define MAX_NEAR 1000

/* ISO 639-1, plus "und" for undetermined, as Mastodon and Bluesky report languages. */
static const char *const language_codes[] = {
        "aa", "ab", "ae", "af", "ak", "am", "an", "ar", "as", "av", "ay", "az", "ba", "be", "bg",
        "bh", "bi", "bm", "bn", "bo", "br", "bs", "ca", "ce", "ch", "co", "cr", "cs", "cu", "cv",
        "cy", "da", "de", "dv", "dz", "ee", "el", "en", "eo", "es", "et", "eu", "fa", "ff", "fi",
        "fj", "fo", "fr", "fy", "ga", "gd", "gl", "gn", "gu", "gv", "ha", "he", "hi", "ho", "hr",
        "ht", "hu", "hy", "hz", "ia", "id", "ie", "ig", "ii", "ik", "io", "is", "it", "iu", "ja",
        "jv", "ka", "kg", "ki", "kj", "kk", "kl", "km", "kn", "ko", "kr", "ks", "ku", "kv", "kw",
        "ky", "la", "lb", "lg", "li", "ln", "lo", "lt", "lu", "lv", "mg", "mh", "mi", "mk", "ml",
        "mn", "mr", "ms", "mt", "my", "na", "nb", "nd", "ne", "ng", "nl", "nn", "no", "nr", "nv",
        "ny", "oc", "oj", "om", "or", "os", "pa", "pi", "pl", "ps", "pt", "qu", "rm", "rn", "ro",
        "ru", "rw", "sa", "sc", "sd", "se", "sg", "si", "sk", "sl", "sm", "sn", "so", "sq", "sr",
        "ss", "st", "su", "sv", "sw", "ta", "te", "tg", "th", "ti", "tk", "tl", "tn", "to", "tr",
        "ts", "tt", "tw", "ty", "ug", "uk", "ur", "uz", "ve", "vi", "vo", "wa", "wo", "xh", "yi",
        "yo", "za", "zh", "zu", "und",
};

/* The networks earshot's sources report; another name is a warning, not an error. */
static const char *const known_networks[] = {
        "mastodon", "bluesky", "reddit",        "hackernews", "lemmy", "discourse",
        "rss",      "atom",    "stackexchange", "appstore",   "youtube", "replay",
};

/*
 * Words too common to be a complaint or brand term on their own, by language. A single-word
 * term that is one of these gets a warning: it would match nearly every post.
 */
static const struct {
        const char *language;
        const char *const *words;
} stopwords[] = {
        { "English", (const char *const[]){ "a", "about", "after", "all", "also", "an", "and",
                "any", "are", "as", "at", "be", "because", "been", "but", "by", "can", "could",
                "do", "for", "from", "get", "got", "had", "has", "have", "he", "her", "him",
                "his", "how", "i", "if", "in", "into", "is", "it", "its", "just", "like", "me",
                "my", "no", "not", "now", "of", "on", "one", "or", "our", "out", "she", "so",
                "some", "than", "that", "the", "their", "them", "then", "there", "they", "this",
                "to", "up", "us", "was", "we", "were", "what", "when", "which", "who", "will",
                "with", "would", "you", "your", NULL } },
        { "Russian", (const char *const[]){ "а", "без", "был", "была", "были", "было", "в",
                "вам", "вас", "весь", "во", "вот", "все", "всё", "вы", "где", "да", "для", "до",
                "его", "ее", "её", "если", "есть", "еще", "ещё", "же", "за", "и", "из", "или",
                "им", "их", "к", "как", "когда", "кто", "ли", "мне", "мой", "мы", "на", "над",
                "не", "нет", "ни", "но", "ну", "о", "об", "он", "она", "они", "оно", "от", "по",
                "под", "при", "с", "со", "так", "там", "то", "тоже", "только", "ты", "у", "уже",
                "что", "это", "я", NULL } },
        { "German", (const char *const[]){ "aber", "als", "auch", "auf", "aus", "bei", "bin",
                "das", "dass", "dem", "den", "der", "die", "ein", "eine", "er", "es", "für",
                "hat", "ich", "im", "in", "ist", "mit", "nicht", "noch", "sie", "sind", "und",
                "von", "was", "wie", "wir", "zu", NULL } },
        { "French", (const char *const[]){ "au", "avec", "ce", "dans", "de", "des", "du", "elle",
                "en", "est", "et", "il", "je", "la", "le", "les", "mais", "ne", "nous", "on",
                "ou", "par", "pas", "pour", "que", "qui", "sur", "un", "une", "vous", NULL } },
        { "Spanish", (const char *const[]){ "con", "de", "del", "el", "en", "es", "la", "las",
                "lo", "los", "no", "para", "pero", "por", "que", "se", "su", "un", "una", "y",
                NULL } },
};

/* ---- parsing ------------------------------------------------------------------------------ */

typedef struct Ctx {
        Parser *p;
        Ruleset *rs;
        MatcherBuilder *builder;
        size_t allocated_terms;
        unsigned default_flags;
        RuleRefs refs;
} Ctx;

static const char *stopword_language(const char *word) {
        for (size_t i = 0; i < ELEMENTSOF(stopwords); i++)
                for (const char *const *w = stopwords[i].words; *w; w++)
                        if (strcmp(*w, word) == 0)
                                return stopwords[i].language;
        return NULL;
}

/* Whether a folded word holds a letter or digit (emoji and symbols are fine one long). */
static bool word_has_alnum(const char *w) {
        utf8proc_int32_t cp;
        for (const utf8proc_uint8_t *s = (const utf8proc_uint8_t *)w; *s;) {
                utf8proc_ssize_t n = utf8proc_iterate(s, -1, &cp);
                if (n <= 0)
                        return false;
                utf8proc_category_t c = utf8proc_category(cp);
                if ((c >= UTF8PROC_CATEGORY_LU && c <= UTF8PROC_CATEGORY_LO) ||
                    (c >= UTF8PROC_CATEGORY_ND && c <= UTF8PROC_CATEGORY_NO))
                        return true;
                s += n;
        }
        return false;
}

/* Lints of one term on its own: too short, or a stop word. */
static void lint_term(Ctx *x, Node n, const Term *t) {
        const char *src = term_source(t);

        if (term_n_words(t) != 1)
                return; /* a phrase is specific enough */
        const char *w = term_word(t, 0);
        if (!word_has_alnum(w))
                return;
        bool prefix = strchr(src, '*') != NULL;
        bool tagged = strchr(src, '#') || strchr(src, '@'); /* #ad is specific enough */
        if (term_min_word_length(t) < 3 && !tagged)
                warn_at(x->p, n,
                        "term '%s' is shorter than 3 characters%s: it will match more than you "
                        "mean; use a phrase",
                        src, prefix ? " before its '*'" : "");
        else if (!prefix && src[0] != '#' && src[0] != '@') {
                const char *lang = stopword_language(w);
                if (lang)
                        warn_at(x->p, n,
                                "term '%s' is a common %s word: it matches nearly every post in "
                                "that language; use a phrase",
                                src, lang);
        }
}

/* Parse, compile and register one term; *ret_id is its matcher id. */
static int add_term(Ctx *x, Node n, const char *what, unsigned flags, uint32_t *ret_id) {
        _cleanup_free_ char *s = NULL;
        _cleanup_(term_freep) Term *t = NULL;
        const char *err = NULL;
        uint32_t id;
        int r;

        if (!is_scalar(n)) {
                error_at(x->p, n, "%s: a term must be a string, not %s", what, node_kind(n));
                return -EINVAL;
        }
        r = get_string(x->p, n, what, &s);
        if (r < 0)
                return r;
        r = term_new(s, flags, &t, &err);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                error_at(x->p, n, "invalid term '%s' in %s: %s", s, what,
                         err ? err : "not understood");
                return -EINVAL;
        }
        lint_term(x, n, t);
        r = matcher_builder_add(x->builder, t, &id);
        if (r < 0)
                return r;
        if (id == x->rs->n_terms) {
                if (x->rs->n_terms == x->allocated_terms) {
                        size_t na = x->allocated_terms ? x->allocated_terms * 2 : 64;
                        Term **nt = realloc(x->rs->terms, na * sizeof(Term *));
                        if (!nt)
                                return -ENOMEM;
                        x->rs->terms = nt;
                        ConfigPos *np = realloc(x->rs->term_pos, na * sizeof(ConfigPos));
                        if (!np)
                                return -ENOMEM;
                        x->rs->term_pos = np;
                        x->allocated_terms = na;
                }
                x->rs->terms[id] = TAKE_PTR(t);
                x->rs->term_pos[id] = node_pos(n);
                x->rs->n_terms++;
        }
        *ret_id = id;
        return 0;
}

/* accents: ignore|match and inside_hashtags: bool, on top of the inherited flags. */
static int get_flags(Ctx *x, Node accents, Node inside, unsigned inherited, unsigned *ret) {
        unsigned f = inherited;
        int r = 0;

        if (accents.n) {
                _cleanup_free_ char *s = NULL;
                if (get_string(x->p, accents, "accents", &s) < 0)
                        r = -EINVAL;
                else if (strcmp(s, "ignore") == 0)
                        f |= TERM_IGNORE_ACCENTS;
                else if (strcmp(s, "match") == 0)
                        f &= ~TERM_IGNORE_ACCENTS;
                else {
                        error_at(x->p, accents,
                                 "accents must be 'ignore' (é = e, ё = е) or 'match', not '%s'",
                                 s);
                        r = -EINVAL;
                }
        }
        if (inside.n) {
                bool b;
                if (get_bool(x->p, inside, "inside_hashtags", &b) < 0)
                        r = -EINVAL;
                else if (b)
                        f |= TERM_INSIDE_HASHTAGS;
                else
                        f &= ~TERM_INSIDE_HASHTAGS;
        }
        *ret = f;
        return r;
}

static void rule_node_done(RuleNode *n) {
        for (size_t i = 0; i < n->n_children; i++)
                rule_node_done(&n->children[i]);
        free(n->children);
        *n = (RuleNode){};
}

static const char *group_name(RuleNodeKind k) {
        return k == RULE_NODE_ANY ? "any" : k == RULE_NODE_ALL ? "all" : "none";
}

/*
 * A list of terms and nested groups ({any: [...]}, {all: [...]}, {none: [...]}) into a group
 * node of the given kind. A single scalar stands for a list of one.
 */
static int parse_group(Ctx *x, Node n, RuleNodeKind kind, unsigned flags, unsigned depth,
                       RuleNode *ret) {
        size_t count;
        int r = 0;

        *ret = (RuleNode){.kind = kind, .pos = node_pos(n)};
        if (is_null(n))
                return 0;
        if (depth > MAX_GROUP_DEPTH) {
                error_at(x->p, n, "groups nest deeper than %d levels", MAX_GROUP_DEPTH);
                return -EINVAL;
        }
        if (!is_scalar(n) && !is_sequence(n)) {
                error_at(x->p, n, "%s must be a list of terms and groups, not %s",
                         group_name(kind), node_kind(n));
                return -EINVAL;
        }
        count = is_scalar(n) ? 1 : sequence_length(n);
        ret->children = calloc(count ? count : 1, sizeof(RuleNode));
        if (!ret->children)
                return -ENOMEM;
        for (size_t i = 0; i < count; i++) {
                Node item = is_scalar(n) ? n : sequence_item(n, i);
                RuleNode *c = &ret->children[ret->n_children];
                int k;

                if (is_mapping(item)) {
                        /* exactly one of any / all / none */
                        size_t pairs = (size_t)(item.n->data.mapping.pairs.top -
                                                item.n->data.mapping.pairs.start);
                        yaml_node_pair_t *pair = item.n->data.mapping.pairs.start;
                        Node key = pairs ? node_child(item, pair->key) : item;
                        const char *kn = pairs == 1 && is_scalar(key) ? scalar_raw(key) : "";
                        RuleNodeKind ck;
                        if (strcmp(kn, "any") == 0)
                                ck = RULE_NODE_ANY;
                        else if (strcmp(kn, "all") == 0)
                                ck = RULE_NODE_ALL;
                        else if (strcmp(kn, "none") == 0)
                                ck = RULE_NODE_NONE;
                        else {
                                error_at(x->p, item,
                                         "a group in %s must have exactly one key: any, all or "
                                         "none (e.g. {all: [refund, \"still waiting\"]})",
                                         group_name(kind));
                                r = -EINVAL;
                                continue;
                        }
                        Node v = node_child(item, pair->value);
                        k = parse_group(x, v, ck, flags, depth + 1, c);
                        if (k == -ENOMEM)
                                return k;
                        if (k < 0) {
                                rule_node_done(c);
                                r = k;
                                continue;
                        }
                        c->pos = node_pos(item);
                        if (c->n_children == 0) {
                                warn_at(x->p, item, "empty {%s: []} group", kn);
                        }
                } else {
                        *c = (RuleNode){.kind = RULE_NODE_TERM, .pos = node_pos(item)};
                        k = add_term(x, item, group_name(kind), flags, &c->term);
                        if (k == -ENOMEM)
                                return k;
                        if (k < 0) {
                                r = k;
                                continue;
                        }
                }
                ret->n_children++;
        }
        return r;
}

static void brand_done(Brand *b) {
        free(b->name);
        for (size_t i = 0; i < b->n_terms; i++)
                free(b->terms[i].network);
        free(b->terms);
        free(b->exclude);
}

static int brand_add_term(Brand *b, uint32_t id, const char *network) {
        BrandTerm *nt = realloc(b->terms, (b->n_terms + 1) * sizeof(BrandTerm));
        if (!nt)
                return -ENOMEM;
        b->terms = nt;
        nt[b->n_terms] = (BrandTerm){.term = id};
        if (network) {
                nt[b->n_terms].network = strdup(network);
                if (!nt[b->n_terms].network)
                        return -ENOMEM;
        }
        b->n_terms++;
        return 0;
}

/*
 * A term given in a brand's hashtags: / handles: / domains: list; the marker is added when
 * missing, so both "acme" and "#acme" work under hashtags:.
 */
static int brand_list(Ctx *x, Brand *b, Node list, const char *what, char marker,
                      const char *network, unsigned flags) {
        int r = 0;

        if (is_null(list))
                return 0;
        if (!is_scalar(list) && !is_sequence(list)) {
                error_at(x->p, list, "%s must be a list, not %s", what, node_kind(list));
                return -EINVAL;
        }
        size_t count = is_scalar(list) ? 1 : sequence_length(list);
        for (size_t i = 0; i < count; i++) {
                Node item = is_scalar(list) ? list : sequence_item(list, i);
                uint32_t id;
                int k;

                if (marker && is_scalar(item) && scalar_raw(item)[0] != marker) {
                        /* "acme" under hashtags: means "#acme" */
                        _cleanup_free_ char *s = NULL;
                        if (asprintf(&s, "%c%s", marker, scalar_raw(item)) < 0)
                                return -ENOMEM;
                        yaml_char_t *old = item.n->data.scalar.value;
                        size_t old_len = item.n->data.scalar.length;
                        item.n->data.scalar.value = (yaml_char_t *)s;
                        item.n->data.scalar.length = strlen(s);
                        k = add_term(x, item, what, flags, &id);
                        item.n->data.scalar.value = old;
                        item.n->data.scalar.length = old_len;
                } else
                        k = add_term(x, item, what, flags, &id);
                if (k == -ENOMEM)
                        return k;
                if (k < 0) {
                        r = k;
                        continue;
                }
                if (marker == 0 && network == NULL && strcmp(what, "domains") == 0 &&
                    !strchr(scalar_raw(item), '.'))
                        warn_at(x->p, item, "domain '%s' has no dot; did you mean a term?",
                                scalar_raw(item));
                k = brand_add_term(b, id, network);
                if (k < 0)
                        return k;
        }
        return r;
}

static const KeyDef brand_keys[] = {
        {"name"}, {"terms"}, {"hashtags"}, {"handles"}, {"domains"}, {"exclude"}, {"accents"},
        {"inside_hashtags"}, {"respond_within"},
};
enum {
        BK_NAME, BK_TERMS, BK_HASHTAGS, BK_HANDLES, BK_DOMAINS, BK_EXCLUDE, BK_ACCENTS,
        BK_INSIDE, BK_RESPOND, _BK_MAX
};

static int parse_brand(Ctx *x, Node map, Brand *b) {
        Parser *p = x->p;
        Node v[_BK_MAX];
        unsigned flags;
        int r = map_keys(p, map, "brand", brand_keys, _BK_MAX, v);

        b->pos = node_pos(map);
        if (!is_mapping(map))
                return -EINVAL;
        if (!v[BK_NAME].n) {
                error_at(p, map, "brand needs a 'name'");
                r = -EINVAL;
        } else if (get_string(p, v[BK_NAME], "name", &b->name) < 0)
                r = -EINVAL;
        if (get_flags(x, v[BK_ACCENTS], v[BK_INSIDE], x->default_flags, &flags) < 0)
                r = -EINVAL;
        if (v[BK_RESPOND].n &&
            get_duration(p, v[BK_RESPOND], "respond_within", &b->respond_within) < 0)
                r = -EINVAL;

        int k = brand_list(x, b, v[BK_TERMS], "terms", 0, NULL, flags);
        if (k == -ENOMEM)
                return k;
        if (k < 0)
                r = k;
        k = brand_list(x, b, v[BK_HASHTAGS], "hashtags", '#', NULL, flags);
        if (k == -ENOMEM)
                return k;
        if (k < 0)
                r = k;
        k = brand_list(x, b, v[BK_DOMAINS], "domains", 0, NULL, flags);
        if (k == -ENOMEM)
                return k;
        if (k < 0)
                r = k;

        /* handles: a list (every network), or a mapping network -> list */
        Node h = v[BK_HANDLES];
        if (is_mapping(h)) {
                for (yaml_node_pair_t *pair = h.n->data.mapping.pairs.start;
                     pair < h.n->data.mapping.pairs.top; pair++) {
                        Node kn = node_child(h, pair->key), vn = node_child(h, pair->value);
                        if (!is_scalar(kn)) {
                                error_at(p, kn, "handles: keys must be network names");
                                r = -EINVAL;
                                continue;
                        }
                        const char *net = scalar_raw(kn);
                        bool found = strcmp(net, "any") == 0;
                        for (size_t i = 0; i < ELEMENTSOF(known_networks); i++)
                                found = found || strcmp(known_networks[i], net) == 0;
                        if (!found)
                                warn_at(p, kn, "'%s' is not a network earshot knows (%s)", net,
                                        "mastodon, bluesky, reddit, hackernews, ...");
                        k = brand_list(x, b, vn, "handles", '@',
                                       strcmp(net, "any") == 0 ? NULL : net, flags);
                        if (k == -ENOMEM)
                                return k;
                        if (k < 0)
                                r = k;
                }
        } else {
                k = brand_list(x, b, h, "handles", '@', NULL, flags);
                if (k == -ENOMEM)
                        return k;
                if (k < 0)
                        r = k;
        }

        if (b->n_terms == 0 && r == 0) {
                error_at(p, map,
                         "brand '%s' needs at least one of terms, hashtags, handles or domains",
                         b->name ? b->name : "?");
                r = -EINVAL;
        }

        /* exclude: plain terms */
        Node ex = v[BK_EXCLUDE];
        if (!is_null(ex)) {
                if (!is_scalar(ex) && !is_sequence(ex)) {
                        error_at(p, ex, "exclude must be a list of terms, not %s", node_kind(ex));
                        return -EINVAL;
                }
                size_t count = is_scalar(ex) ? 1 : sequence_length(ex);
                b->exclude = calloc(count ? count : 1, sizeof(uint32_t));
                if (!b->exclude)
                        return -ENOMEM;
                for (size_t i = 0; i < count; i++) {
                        Node item = is_scalar(ex) ? ex : sequence_item(ex, i);
                        uint32_t id;
                        k = add_term(x, item, "exclude", flags, &id);
                        if (k == -ENOMEM)
                                return k;
                        if (k < 0) {
                                r = k;
                                continue;
                        }
                        for (size_t j = 0; j < b->n_terms; j++)
                                if (b->terms[j].term == id)
                                        warn_at(p, item,
                                                "brand '%s' excludes its own term '%s': every "
                                                "post naming it that way is ignored",
                                                b->name ? b->name : "?",
                                                term_source(x->rs->terms[id]));
                        b->exclude[b->n_exclude++] = id;
                }
        }
        return r;
}

static const KeyDef rule_keys[] = {
        {"name"},      {"description"},   {"enabled"},   {"brand"},     {"any"},
        {"all"},       {"none"},          {"near"},      {"languages"}, {"networks"},
        {"sources"},   {"min_followers"}, {"terms"},     {"threshold"}, {"severity"},
        {"respond_within"}, {"tags"},     {"accents"},   {"inside_hashtags"},
        {"max_rating"}, {"escalation"},
};
enum {
        RK_NAME, RK_DESCRIPTION, RK_ENABLED, RK_BRAND, RK_ANY, RK_ALL, RK_NONE, RK_NEAR,
        RK_LANGUAGES, RK_NETWORKS, RK_SOURCES, RK_MIN_FOLLOWERS, RK_TERMS, RK_THRESHOLD,
        RK_SEVERITY, RK_RESPOND, RK_TAGS, RK_ACCENTS, RK_INSIDE, RK_MAX_RATING, RK_ESCALATION,
        _RK_MAX
};

static void rule_done(Rule *rule) {
        free(rule->name);
        free(rule->description);
        free(rule->brands);
        rule_node_done(&rule->body);
        strv_free(rule->languages);
        strv_free(rule->networks);
        strv_free(rule->sources);
        free(rule->weights);
        strv_free(rule->tags);
        free(rule->positive);
}

static int cmp_u32(const void *a, const void *b) {
        uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
        return x < y ? -1 : x > y;
}

static int cmp_size(const void *a, const void *b) {
        size_t x = *(const size_t *)a, y = *(const size_t *)b;
        return x < y ? -1 : x > y;
}

/* Collect the terms that count as positive (not under a `none`), with duplicates. */
static int collect_positive(const RuleNode *n, uint32_t **list, size_t *len, size_t *cap) {
        if (n->kind == RULE_NODE_NONE)
                return 0;
        if (n->kind == RULE_NODE_TERM) {
                if (*len == *cap) {
                        size_t nc = *cap ? *cap * 2 : 16;
                        uint32_t *nl = realloc(*list, nc * sizeof(uint32_t));
                        if (!nl)
                                return -ENOMEM;
                        *list = nl;
                        *cap = nc;
                }
                (*list)[(*len)++] = n->term;
                return 0;
        }
        for (size_t i = 0; i < n->n_children; i++) {
                int r = collect_positive(&n->children[i], list, len, cap);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Lint: the same term twice in one group, or a required term that is also forbidden. */
static void lint_rule_body(Ctx *x, const Rule *rule) {
        const RuleNode *any = &rule->body.children[0], *all = &rule->body.children[1],
                       *none = &rule->body.children[2];
        const RuleNode *groups[] = {any, all, none};

        for (size_t g = 0; g < ELEMENTSOF(groups); g++)
                for (size_t i = 0; i < groups[g]->n_children; i++)
                        for (size_t j = 0; j < i; j++) {
                                const RuleNode *a = &groups[g]->children[i],
                                               *b = &groups[g]->children[j];
                                if (a->kind == RULE_NODE_TERM && b->kind == RULE_NODE_TERM &&
                                    a->term == b->term) {
                                        Node at = {.file = a->pos.file};
                                        char msg[512];
                                        snprintf(msg, sizeof(msg),
                                                 "rule '%s': a term in %s repeats '%s' (line "
                                                 "%u)",
                                                 rule->name, group_name(groups[g]->kind),
                                                 term_source(x->rs->terms[a->term]),
                                                 b->pos.line);
                                        char *line;
                                        if (asprintf(&line, "%s:%u:%u: warning: %s", at.file,
                                                     a->pos.line, a->pos.column, msg) >= 0)
                                                (void)strv_consume(&x->p->warnings, line);
                                        break;
                                }
                        }
        /* a term required by all: (directly) and also listed in none: can never match */
        for (size_t i = 0; i < all->n_children; i++) {
                const RuleNode *a = &all->children[i];
                if (a->kind != RULE_NODE_TERM)
                        continue;
                for (size_t j = 0; j < none->n_children; j++) {
                        const RuleNode *b = &none->children[j];
                        if (b->kind == RULE_NODE_TERM && b->term == a->term) {
                                char *line;
                                if (asprintf(&line,
                                             "%s:%u:%u: warning: rule '%s' can never match: '%s' "
                                             "is both required (all:) and forbidden (none:)",
                                             b->pos.file, b->pos.line, b->pos.column, rule->name,
                                             term_source(x->rs->terms[b->term])) >= 0)
                                        (void)strv_consume(&x->p->warnings, line);
                        }
                }
        }
}

static int find_brand(const Ruleset *rs, const char *name) {
        for (size_t i = 0; i < rs->n_brands; i++)
                if (rs->brands[i].name && strcmp(rs->brands[i].name, name) == 0)
                        return (int)i;
        return -1;
}

static int parse_rule_brand(Ctx *x, Node n, Rule *rule) {
        _cleanup_strv_free_ char **names = NULL;
        int r = 0;

        rule->any_brand = true;
        if (!n.n || is_null(n))
                return 0;
        if (get_strlist(x->p, n, "brand", &names) < 0)
                return -EINVAL;
        if (names[0] && !names[1] && strcmp(names[0], "any") == 0)
                return 0;
        rule->any_brand = false;
        if (names[0] && !names[1] && strcmp(names[0], "none") == 0) {
                rule->no_brand = true;
                return 0;
        }
        size_t count = strv_length(names);
        rule->brands = calloc(count ? count : 1, sizeof(size_t));
        if (!rule->brands)
                return -ENOMEM;
        for (size_t i = 0; i < count; i++) {
                int b = find_brand(x->rs, names[i]);
                if (b < 0) {
                        const char **cands = calloc(x->rs->n_brands + 1, sizeof(char *));
                        if (!cands)
                                return -ENOMEM;
                        for (size_t j = 0; j < x->rs->n_brands; j++)
                                cands[j] = x->rs->brands[j].name ? x->rs->brands[j].name : "";
                        const char *best = closest_word(names[i], cands, x->rs->n_brands);
                        free(cands);
                        if (best)
                                error_at(x->p, n, "unknown brand '%s' (did you mean '%s'?)",
                                         names[i], best);
                        else
                                error_at(x->p, n,
                                         "unknown brand '%s' (define it under brands:, or use "
                                         "'any' or 'none')",
                                         names[i]);
                        r = -EINVAL;
                        continue;
                }
                rule->brands[rule->n_brands++] = (size_t)b;
        }
        if (rule->n_brands == 0 && r == 0)
                rule->any_brand = true;
        return r;
}

/* A list of names checked against a vocabulary: errors (strict) or warnings. */
static int parse_vocabulary(Parser *p, Node n, const char *what, const char *const *vocab,
                            size_t n_vocab, bool strict, bool lower, char ***ret) {
        _cleanup_strv_free_ char **l = NULL;
        int r = 0;

        if (get_strlist(p, n, what, &l) < 0)
                return -EINVAL;
        STRV_FOREACH(s, l) {
                if (lower)
                        for (char *c = *s; *c; c++)
                                if (*c >= 'A' && *c <= 'Z')
                                        *c = (char)(*c - 'A' + 'a');
                bool found = false;
                for (size_t i = 0; i < n_vocab && !found; i++)
                        found = strcmp(vocab[i], *s) == 0;
                if (found)
                        continue;
                const char *best = closest_word(*s, vocab, n_vocab);
                Node at = n; /* point at the item itself when the list is a YAML list */
                for (size_t i = 0; i < sequence_length(n); i++) {
                        Node item = sequence_item(n, i);
                        if (is_scalar(item) && strcasecmp(scalar_raw(item), *s) == 0) {
                                at = item;
                                break;
                        }
                }
                if (strict) {
                        if (best)
                                error_at(p, at, "unknown %s '%s' (did you mean '%s'?)", what,
                                         *s, best);
                        else
                                error_at(p, at, "unknown %s '%s'", what, *s);
                        r = -EINVAL;
                } else
                        warn_at(p, at, "'%s' is not one of the %s earshot knows%s%s%s", *s, what,
                                best ? " (did you mean '" : "", best ? best : "",
                                best ? "'?)" : "");
        }
        if (r < 0)
                return r;
        *ret = TAKE_PTR(l);
        return 0;
}

/* A rule's filter list: an empty one is a warning, as the rule can never match. */
static int rule_filter(Ctx *x, Node n, const char *what, const char *const *vocab,
                       size_t n_vocab, bool strict, bool lower, char ***ret) {
        int r = parse_vocabulary(x->p, n, what, vocab, n_vocab, strict, lower, ret);
        if (r >= 0 && !(*ret)[0])
                warn_at(x->p, n, "an empty %s list: this rule can never match", what);
        return r;
}

int network_list_parse(Parser *p, Node n, char ***ret) {
        return parse_vocabulary(p, n, "networks", known_networks, ELEMENTSOF(known_networks),
                                false, true, ret);
}

int escalation_ref_parse(Parser *p, Node n, const char *const *policies, size_t n_policies,
                         ssize_t *ret) {
        _cleanup_free_ char *s = NULL;
        int r = get_string(p, n, "an escalation policy", &s);
        if (r < 0)
                return r;
        if (strcmp(s, "none") == 0) {
                *ret = RULE_ESCALATION_NONE;
                return 0;
        }
        for (size_t i = 0; i < n_policies; i++)
                if (strcmp(policies[i], s) == 0) {
                        *ret = (ssize_t)i;
                        return 0;
                }
        const char *best = closest_word(s, policies, n_policies);
        if (best)
                error_at(p, n, "unknown escalation policy '%s' (did you mean '%s'?)", s, best);
        else if (n_policies == 0)
                error_at(p, n,
                         "unknown escalation policy '%s' (escalation: policies: defines none; "
                         "'none' turns escalation off)",
                         s);
        else
                error_at(p, n, "unknown escalation policy '%s' (a name from escalation: "
                               "policies:, or none)",
                         s);
        return -EINVAL;
}

static int parse_rule(Ctx *x, Node map, Rule *rule) {
        Parser *p = x->p;
        Node v[_RK_MAX];
        unsigned flags;
        int r = map_keys(p, map, "rule", rule_keys, _RK_MAX, v), k;

        rule->pos = node_pos(map);
        rule->severity = SEVERITY_NORMAL;
        rule->escalation = RULE_ESCALATION_UNSET;
        rule->enabled = true;
        rule->body = (RuleNode){.kind = RULE_NODE_ALL, .pos = node_pos(map)};
        rule->body.children = calloc(3, sizeof(RuleNode));
        if (!rule->body.children)
                return -ENOMEM;
        rule->body.n_children = 3;
        rule->body.children[0] = (RuleNode){.kind = RULE_NODE_ANY};
        rule->body.children[1] = (RuleNode){.kind = RULE_NODE_ALL};
        rule->body.children[2] = (RuleNode){.kind = RULE_NODE_NONE};
        if (!is_mapping(map))
                return -EINVAL;

        if (!v[RK_NAME].n) {
                error_at(p, map, "rule needs a 'name'");
                r = -EINVAL;
        } else if (get_string(p, v[RK_NAME], "name", &rule->name) < 0)
                r = -EINVAL;
        if (v[RK_DESCRIPTION].n && get_string(p, v[RK_DESCRIPTION], "description",
                                              &rule->description) < 0)
                r = -EINVAL;
        if (v[RK_ENABLED].n && get_bool(p, v[RK_ENABLED], "enabled", &rule->enabled) < 0)
                r = -EINVAL;
        if (get_flags(x, v[RK_ACCENTS], v[RK_INSIDE], x->default_flags, &flags) < 0)
                r = -EINVAL;
        k = parse_rule_brand(x, v[RK_BRAND], rule);
        if (k == -ENOMEM)
                return k;
        if (k < 0)
                r = k;

        static const RuleNodeKind kinds[3] = {RULE_NODE_ANY, RULE_NODE_ALL, RULE_NODE_NONE};
        static const int keys[3] = {RK_ANY, RK_ALL, RK_NONE};
        for (int g = 0; g < 3; g++) {
                Node gn = v[keys[g]];
                RuleNode *child = &rule->body.children[g];
                if (!gn.n)
                        continue;
                k = parse_group(x, gn, kinds[g], flags, 1, child);
                if (k == -ENOMEM)
                        return k;
                if (k < 0)
                        r = k;
                if (g == 0 && is_sequence(gn) && sequence_length(gn) == 0) {
                        rule->empty_any = true;
                        warn_at(p, gn, "rule '%s': an empty any: list can never match",
                                rule->name ? rule->name : "?");
                }
        }
        rule->has_body = rule->body.children[0].n_children + rule->body.children[1].n_children +
                                 rule->body.children[2].n_children > 0;

        if (v[RK_NEAR].n) {
                int64_t near;
                if (get_int(p, v[RK_NEAR], "near", 1, MAX_NEAR, &near) < 0)
                        r = -EINVAL;
                else
                        rule->near = (unsigned)near;
        }
        if (v[RK_LANGUAGES].n &&
            rule_filter(x, v[RK_LANGUAGES], "language code", language_codes,
                        ELEMENTSOF(language_codes), true, true, &rule->languages) < 0)
                r = -EINVAL;
        if (v[RK_NETWORKS].n &&
            rule_filter(x, v[RK_NETWORKS], "networks", known_networks,
                        ELEMENTSOF(known_networks), false, true, &rule->networks) < 0)
                r = -EINVAL;
        if (v[RK_SOURCES].n &&
            rule_filter(x, v[RK_SOURCES], "source", x->refs.sources, x->refs.n_sources, true,
                        false, &rule->sources) < 0)
                r = -EINVAL;
        if (v[RK_MAX_RATING].n &&
            get_int(p, v[RK_MAX_RATING], "max_rating", 1, 5, &rule->max_rating) < 0)
                r = -EINVAL;
        if (v[RK_MIN_FOLLOWERS].n &&
            get_int(p, v[RK_MIN_FOLLOWERS], "min_followers", 0, INT64_C(1) << 40,
                    &rule->min_followers) < 0)
                r = -EINVAL;

        /* scoring: terms: {term: weight}, threshold: N */
        Node tw = v[RK_TERMS];
        if (tw.n && !is_null(tw)) {
                if (!is_mapping(tw)) {
                        error_at(p, tw,
                                 "terms must map each term to a weight, e.g. {refund: 3, "
                                 "\"never again\": 5}, not %s",
                                 node_kind(tw));
                        r = -EINVAL;
                } else {
                        size_t n = (size_t)(tw.n->data.mapping.pairs.top -
                                            tw.n->data.mapping.pairs.start);
                        rule->weights = calloc(n ? n : 1, sizeof(WeightedTerm));
                        if (!rule->weights)
                                return -ENOMEM;
                        for (yaml_node_pair_t *pair = tw.n->data.mapping.pairs.start;
                             pair < tw.n->data.mapping.pairs.top; pair++) {
                                Node kn = node_child(tw, pair->key), vn = node_child(tw, pair->value);
                                WeightedTerm *w = &rule->weights[rule->n_weights];
                                k = add_term(x, kn, "terms", flags, &w->term);
                                if (k == -ENOMEM)
                                        return k;
                                if (k < 0 || get_int(p, vn, "a term's weight", -1000000,
                                                     1000000, &w->weight) < 0) {
                                        r = -EINVAL;
                                        continue;
                                }
                                bool dup = false;
                                for (size_t j = 0; j < rule->n_weights && !dup; j++)
                                        dup = rule->weights[j].term == w->term;
                                if (dup) {
                                        warn_at(p, kn, "rule '%s': term '%s' is weighted twice; "
                                                       "the first weight counts",
                                                rule->name ? rule->name : "?", scalar_raw(kn));
                                        continue;
                                }
                                rule->n_weights++;
                        }
                }
        }
        if (v[RK_THRESHOLD].n) {
                if (!tw.n) {
                        error_at(p, v[RK_THRESHOLD], "threshold needs terms: with weights");
                        r = -EINVAL;
                } else if (get_int(p, v[RK_THRESHOLD], "threshold", -1000000000, 1000000000,
                                   &rule->threshold) < 0)
                        r = -EINVAL;
        } else if (tw.n && !is_null(tw)) {
                error_at(p, tw, "weighted terms need a threshold: (the score to reach)");
                r = -EINVAL;
        }
        if (rule->n_weights > 0 && r == 0) {
                int64_t reachable = 0;
                for (size_t i = 0; i < rule->n_weights; i++)
                        if (rule->weights[i].weight > 0)
                                reachable += rule->weights[i].weight;
                if (reachable < rule->threshold)
                        warn_at(p, v[RK_THRESHOLD],
                                "rule '%s' can never match: its positive weights add up to "
                                "%" PRId64 ", below the threshold %" PRId64,
                                rule->name, reachable, rule->threshold);
        }

        if (v[RK_SEVERITY].n) {
                _cleanup_free_ char *s = NULL;
                if (get_string(p, v[RK_SEVERITY], "severity", &s) < 0)
                        r = -EINVAL;
                else if ((rule->severity = severity_from_string(s)) < 0) {
                        error_at(p, v[RK_SEVERITY],
                                 "invalid severity '%s' (low, normal, high, critical)", s);
                        rule->severity = SEVERITY_NORMAL;
                        r = -EINVAL;
                }
        }
        if (v[RK_RESPOND].n &&
            get_duration(p, v[RK_RESPOND], "respond_within", &rule->respond_within) < 0)
                r = -EINVAL;
        if (v[RK_ESCALATION].n &&
            escalation_ref_parse(p, v[RK_ESCALATION], x->refs.policies, x->refs.n_policies,
                                 &rule->escalation) < 0)
                r = -EINVAL;
        if (v[RK_TAGS].n) {
                if (get_strlist(p, v[RK_TAGS], "tags", &rule->tags) < 0)
                        r = -EINVAL;
                else
                        STRV_FOREACH(t, rule->tags)
                                for (const char *c = *t; *c; c++)
                                        if (!(*c >= 'a' && *c <= 'z') && !(*c >= '0' && *c <= '9') &&
                                            !strchr("-_.:/", *c) && !(*c >= 'A' && *c <= 'Z')) {
                                                error_at(p, v[RK_TAGS],
                                                         "invalid tag '%s' (letters, digits, "
                                                         "'-', '_', '.', ':', '/')",
                                                         *t);
                                                r = -EINVAL;
                                                break;
                                        }
        }
        if (r < 0)
                return r;

        if (rule->no_brand && !rule->has_body && rule->n_weights == 0 && rule->max_rating == 0) {
                error_at(p, map, "rule '%s' has brand: none and no terms: it would match every "
                                 "post",
                         rule->name);
                return -EINVAL;
        }
        if (rule->near && rule->no_brand) {
                error_at(p, v[RK_NEAR], "near: needs a brand (it measures the distance between "
                                        "a brand term and a complaint term)");
                return -EINVAL;
        }

        /* the positive terms, for near: and for reporting */
        size_t cap = 0;
        k = collect_positive(&rule->body, &rule->positive, &rule->n_positive, &cap);
        if (k < 0)
                return k;
        for (size_t i = 0; i < rule->n_weights; i++) {
                if (rule->weights[i].weight <= 0)
                        continue;
                RuleNode t = {.kind = RULE_NODE_TERM, .term = rule->weights[i].term};
                k = collect_positive(&t, &rule->positive, &rule->n_positive, &cap);
                if (k < 0)
                        return k;
        }
        if (rule->n_positive > 1) {
                qsort(rule->positive, rule->n_positive, sizeof(uint32_t), cmp_u32);
                size_t w = 1;
                for (size_t i = 1; i < rule->n_positive; i++)
                        if (rule->positive[i] != rule->positive[w - 1])
                                rule->positive[w++] = rule->positive[i];
                rule->n_positive = w;
        }
        if (rule->near && rule->n_positive == 0) {
                error_at(p, v[RK_NEAR], "near: needs complaint terms (any:, all: or terms:)");
                return -EINVAL;
        }
        lint_rule_body(x, rule);
        return 0;
}

static int index_add(Ruleset *rs, uint32_t term, size_t rule) {
        size_t n = rs->n_term_rules[term];
        if (n > 0 && rs->term_rules[term][n - 1] == rule)
                return 0;
        size_t *nl = realloc(rs->term_rules[term], (n + 1) * sizeof(size_t));
        if (!nl)
                return -ENOMEM;
        rs->term_rules[term] = nl;
        nl[n] = rule;
        rs->n_term_rules[term] = n + 1;
        return 0;
}

/*
 * Which rules a hit can make true: a rule needing a brand is triggered by its brands' terms
 * (it cannot match without one); a brand-less rule by its positive terms; a brand-less rule
 * without positive terms is evaluated always.
 */
static int build_index(Ruleset *rs) {
        rs->term_rules = calloc(rs->n_terms + 1, sizeof(size_t *));
        rs->n_term_rules = calloc(rs->n_terms + 1, sizeof(size_t));
        rs->always = calloc(rs->n_rules + 1, sizeof(size_t));
        if (!rs->term_rules || !rs->n_term_rules || !rs->always)
                return -ENOMEM;
        for (size_t i = 0; i < rs->n_rules; i++) {
                const Rule *rule = &rs->rules[i];
                int r;
                if (!rule->enabled)
                        continue;
                if (rule->no_brand) {
                        if (rule->n_positive == 0) {
                                rs->always[rs->n_always++] = i;
                                continue;
                        }
                        for (size_t k = 0; k < rule->n_positive; k++) {
                                r = index_add(rs, rule->positive[k], i);
                                if (r < 0)
                                        return r;
                        }
                        continue;
                }
                size_t nb = rule->any_brand ? rs->n_brands : rule->n_brands;
                for (size_t k = 0; k < nb; k++) {
                        const Brand *b = &rs->brands[rule->any_brand ? k : rule->brands[k]];
                        for (size_t t = 0; t < b->n_terms; t++) {
                                r = index_add(rs, b->terms[t].term, i);
                                if (r < 0)
                                        return r;
                        }
                }
        }
        /* index_add only drops a repeat of the last rule; sort and unique each list */
        for (size_t t = 0; t < rs->n_terms; t++) {
                size_t n = rs->n_term_rules[t], w = 0;
                if (n < 2)
                        continue;
                qsort(rs->term_rules[t], n, sizeof(size_t), cmp_size);
                for (size_t i = 0; i < n; i++)
                        if (w == 0 || rs->term_rules[t][i] != rs->term_rules[t][w - 1])
                                rs->term_rules[t][w++] = rs->term_rules[t][i];
                rs->n_term_rules[t] = w;
        }
        return 0;
}

static const KeyDef matching_keys[] = {{"accents"}, {"inside_hashtags"}};

int ruleset_parse(Parser *p, const Node *matching, const Node *brands, size_t n_brands,
                  const Node *rules, size_t n_rules, const RuleRefs *refs, Ruleset **ret) {
        _cleanup_(ruleset_freep) Ruleset *rs = calloc(1, sizeof(Ruleset));
        _cleanup_(matcher_builder_freep) MatcherBuilder *builder = NULL;
        int r = 0, k;

        if (!rs)
                return -ENOMEM;
        k = matcher_builder_new(&builder);
        if (k < 0)
                return k;
        Ctx x = {.p = p, .rs = rs, .builder = builder, .refs = refs ? *refs : (RuleRefs){}};

        if (matching && matching->n && !is_null(*matching)) {
                Node v[2];
                if (map_keys(p, *matching, "matching", matching_keys, 2, v) < 0)
                        r = -EINVAL;
                if (get_flags(&x, v[0], v[1], 0, &x.default_flags) < 0)
                        r = -EINVAL;
        }

        rs->brands = calloc(n_brands + 1, sizeof(Brand));
        rs->rules = calloc(n_rules + 1, sizeof(Rule));
        if (!rs->brands || !rs->rules)
                return -ENOMEM;
        for (size_t i = 0; i < n_brands; i++) {
                Brand *b = &rs->brands[rs->n_brands++];
                k = parse_brand(&x, brands[i], b);
                if (k == -ENOMEM)
                        return k;
                if (k < 0)
                        r = k;
                for (size_t j = 0; j + 1 < rs->n_brands && b->name; j++)
                        if (rs->brands[j].name && strcmp(rs->brands[j].name, b->name) == 0) {
                                error_at(p, brands[i],
                                         "duplicate brand name '%s' (first defined at %s:%u:%u)",
                                         b->name, rs->brands[j].pos.file, rs->brands[j].pos.line,
                                         rs->brands[j].pos.column);
                                r = -EINVAL;
                        }
        }
        for (size_t i = 0; i < n_rules; i++) {
                Rule *rule = &rs->rules[rs->n_rules++];
                k = parse_rule(&x, rules[i], rule);
                if (k == -ENOMEM)
                        return k;
                if (k < 0)
                        r = k;
                for (size_t j = 0; j + 1 < rs->n_rules && rule->name; j++)
                        if (rs->rules[j].name && strcmp(rs->rules[j].name, rule->name) == 0) {
                                error_at(p, rules[i],
                                         "duplicate rule name '%s' (first defined at %s:%u:%u)",
                                         rule->name, rs->rules[j].pos.file, rs->rules[j].pos.line,
                                         rs->rules[j].pos.column);
                                r = -EINVAL;
                        }
        }
        if (r < 0)
                return r;
        if (rs->n_brands == 0) {
                /* without brands, a rule stands on its own terms */
                for (size_t i = 0; i < rs->n_rules; i++) {
                        Rule *rule = &rs->rules[i];
                        if (!rule->any_brand)
                                continue;
                        rule->any_brand = false;
                        rule->no_brand = true;
                        if (!rule->has_body && rule->n_weights == 0 && rule->max_rating == 0) {
                                error_at(p, rules[i],
                                         "rule '%s' has no terms and there are no brands: it "
                                         "would match every post",
                                         rule->name);
                                r = -EINVAL;
                        } else if (rule->near) {
                                error_at(p, rules[i],
                                         "rule '%s' uses near:, which needs a brand, but no "
                                         "brands are defined",
                                         rule->name);
                                r = -EINVAL;
                        }
                }
                if (r < 0)
                        return r;
        }

        k = matcher_build(builder, &rs->matcher);
        if (k < 0)
                return k;
        k = build_index(rs);
        if (k < 0)
                return k;
        *ret = TAKE_PTR(rs);
        return 0;
}

Ruleset *ruleset_free(Ruleset *rs) {
        if (!rs)
                return NULL;
        for (size_t i = 0; i < rs->n_brands; i++)
                brand_done(&rs->brands[i]);
        for (size_t i = 0; i < rs->n_rules; i++)
                rule_done(&rs->rules[i]);
        free(rs->brands);
        free(rs->rules);
        for (size_t i = 0; i < rs->n_terms; i++)
                term_free(rs->terms[i]);
        free(rs->terms);
        free(rs->term_pos);
        matcher_free(rs->matcher);
        if (rs->term_rules)
                for (size_t i = 0; i < rs->n_terms; i++)
                        free(rs->term_rules[i]);
        free(rs->term_rules);
        free(rs->n_term_rules);
        free(rs->always);
        free(rs);
        return NULL;
}

/* ---- evaluation --------------------------------------------------------------------------- */

struct RuleScratch {
        Scan *scan;
        /* per term id: index of its first hit + 1 (0 = absent), reset through `touched` */
        uint32_t *first_hit;
        uint32_t *touched;
        size_t n_touched, n_terms;
        /* per brand: 0 unknown, 1 mentioned and not excluded, 2 not */
        uint8_t *brand_state;
        size_t n_brands;
        /* per rule: evaluated for this post already */
        uint8_t *rule_seen;
        size_t *candidates;
        size_t n_rules, n_candidates;
};

int rule_scratch_new(bool spans, RuleScratch **ret) {
        RuleScratch *s = calloc(1, sizeof(RuleScratch));
        if (!s)
                return -ENOMEM;
        int r = scan_new(spans, &s->scan);
        if (r < 0) {
                free(s);
                return r;
        }
        *ret = s;
        return 0;
}

RuleScratch *rule_scratch_free(RuleScratch *s) {
        if (!s)
                return NULL;
        scan_free(s->scan);
        free(s->first_hit);
        free(s->touched);
        free(s->brand_state);
        free(s->rule_seen);
        free(s->candidates);
        free(s);
        return NULL;
}

const Scan *rule_scratch_scan(const RuleScratch *s) {
        return s->scan;
}

/* Size the per-term, per-brand and per-rule arrays for this ruleset (they only grow). */
static int scratch_fit(RuleScratch *s, const Ruleset *rs) {
        if (s->n_terms < rs->n_terms || !s->first_hit) {
                size_t n = rs->n_terms + 1;
                uint32_t *fh = calloc(n, sizeof(uint32_t)), *t = calloc(n, sizeof(uint32_t));
                if (!fh || !t) {
                        free(fh);
                        free(t);
                        return -ENOMEM;
                }
                free(s->first_hit);
                free(s->touched);
                s->first_hit = fh;
                s->touched = t;
                s->n_terms = n;
                s->n_touched = 0;
        }
        if (s->n_brands < rs->n_brands || !s->brand_state) {
                uint8_t *b = calloc(rs->n_brands + 1, 1);
                if (!b)
                        return -ENOMEM;
                free(s->brand_state);
                s->brand_state = b;
                s->n_brands = rs->n_brands + 1;
        }
        if (s->n_rules < rs->n_rules || !s->rule_seen) {
                uint8_t *rs_seen = calloc(rs->n_rules + 1, 1);
                size_t *c = calloc(rs->n_rules + 1, sizeof(size_t));
                if (!rs_seen || !c) {
                        free(rs_seen);
                        free(c);
                        return -ENOMEM;
                }
                free(s->rule_seen);
                free(s->candidates);
                s->rule_seen = rs_seen;
                s->candidates = c;
                s->n_rules = rs->n_rules + 1;
        }
        return 0;
}

/* Scan the text and index the hits by term. */
static int scratch_scan(RuleScratch *s, const Ruleset *rs, const char *text) {
        int r = scratch_fit(s, rs);
        if (r < 0)
                return r;
        for (size_t i = 0; i < s->n_touched; i++)
                s->first_hit[s->touched[i]] = 0;
        s->n_touched = 0;
        memset(s->brand_state, 0, rs->n_brands);
        r = matcher_scan(rs->matcher, text ? text : "", text ? strlen(text) : 0, s->scan);
        if (r < 0)
                return r;
        const MatchHit *h = scan_hits(s->scan);
        size_t n = scan_n_hits(s->scan);
        for (size_t i = 0; i < n; i++) {
                uint32_t t = h[i].term;
                if (t < rs->n_terms && s->first_hit[t] == 0) {
                        s->first_hit[t] = (uint32_t)i + 1;
                        s->touched[s->n_touched++] = t;
                }
        }
        return 0;
}

static bool hit(const RuleScratch *s, uint32_t term) {
        return s->first_hit[term] != 0;
}

static bool brand_term_applies(const BrandTerm *bt, const RulePost *post) {
        return !bt->network || (post->network && strcmp(bt->network, post->network) == 0);
}

static bool brand_mentioned(RuleScratch *s, const Ruleset *rs, size_t b, const RulePost *post) {
        if (s->brand_state[b] == 0) {
                const Brand *br = &rs->brands[b];
                bool named = false, excluded = false;
                for (size_t i = 0; i < br->n_terms && !named; i++)
                        named = hit(s, br->terms[i].term) && brand_term_applies(&br->terms[i], post);
                for (size_t i = 0; i < br->n_exclude && named && !excluded; i++)
                        excluded = hit(s, br->exclude[i]);
                s->brand_state[b] = named && !excluded ? 1 : 2;
        }
        return s->brand_state[b] == 1;
}

static bool node_eval(const RuleScratch *s, const RuleNode *n) {
        switch (n->kind) {
        case RULE_NODE_TERM:
                return hit(s, n->term);
        case RULE_NODE_ANY:
                for (size_t i = 0; i < n->n_children; i++)
                        if (node_eval(s, &n->children[i]))
                                return true;
                return false;
        case RULE_NODE_ALL:
                for (size_t i = 0; i < n->n_children; i++)
                        if (!node_eval(s, &n->children[i]))
                                return false;
                return true;
        case RULE_NODE_NONE:
                for (size_t i = 0; i < n->n_children; i++)
                        if (node_eval(s, &n->children[i]))
                                return false;
                return true;
        }
        return false;
}

/* The rule body: any-group (when it has items), all-group, none-group. */
static bool body_eval(const RuleScratch *s, const Rule *rule) {
        const RuleNode *any = &rule->body.children[0];
        if (rule->empty_any)
                return false;
        if (any->n_children > 0 && !node_eval(s, any))
                return false;
        if (!node_eval(s, &rule->body.children[1]))
                return false;
        return node_eval(s, &rule->body.children[2]);
}

static bool sorted_contains(const uint32_t *l, size_t n, uint32_t v) {
        size_t lo = 0, hi = n;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (l[mid] == v)
                        return true;
                if (l[mid] < v)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return false;
}

static bool is_brand_term(const Brand *b, uint32_t term, const RulePost *post) {
        for (size_t i = 0; i < b->n_terms; i++)
                if (b->terms[i].term == term && brand_term_applies(&b->terms[i], post))
                        return true;
        return false;
}

/*
 * The smallest distance in words between a hit of the brand and a positive hit of the rule
 * (adjacent words: 1; overlapping: 0); UINT32_MAX when either is missing. One pass over the
 * hits, which come ordered by their last word: for each hit, the nearest earlier hit of the
 * other kind is the one that ended last.
 */
static uint32_t near_distance(const RuleScratch *s, const Brand *b, const Rule *rule,
                              const RulePost *post) {
        const MatchHit *h = scan_hits(s->scan);
        size_t n = scan_n_hits(s->scan);
        int64_t last_brand_end = -1, last_pos_end = -1; /* exclusive end word, -1 = none */
        uint32_t best = UINT32_MAX;

        for (size_t i = 0; i < n && best > 0; i++) {
                bool is_b = is_brand_term(b, h[i].term, post);
                bool is_p = sorted_contains(rule->positive, rule->n_positive, h[i].term);
                int64_t start = h[i].first_word, end = start + h[i].n_words;
                if (!is_b && !is_p)
                        continue;
                if (is_p && last_brand_end >= 0) {
                        int64_t d = start >= last_brand_end ? start - last_brand_end + 1 : 0;
                        if (d < best)
                                best = (uint32_t)d;
                }
                if (is_b && last_pos_end >= 0) {
                        int64_t d = start >= last_pos_end ? start - last_pos_end + 1 : 0;
                        if (d < best)
                                best = (uint32_t)d;
                }
                if (is_b && end > last_brand_end)
                        last_brand_end = end;
                if (is_p && end > last_pos_end)
                        last_pos_end = end;
        }
        return best;
}

static int64_t score_of(const RuleScratch *s, const Rule *rule) {
        int64_t score = 0;
        for (size_t i = 0; i < rule->n_weights; i++)
                if (hit(s, rule->weights[i].term))
                        score += rule->weights[i].weight;
        return score;
}

static bool filters_pass(const Rule *rule, const RulePost *post, const char **ret_why) {
        /* an empty list admits nothing; otherwise what a post does not say passes */
        if (rule->networks && (!rule->networks[0] ||
                               (post->network && !strv_contains(rule->networks, post->network)))) {
                *ret_why = "network";
                return false;
        }
        if (rule->sources && (!rule->sources[0] ||
                              (post->source && !strv_contains(rule->sources, post->source)))) {
                *ret_why = "source";
                return false;
        }
        if (rule->languages && !rule->languages[0]) {
                *ret_why = "language";
                return false;
        }
        /* "und" (undetermined) says no more than no language at all */
        if (rule->languages && post->lang && *post->lang && strcmp(post->lang, "und") != 0 &&
            !strv_contains(rule->languages, "und")) {
                /* "en-US" counts as "en" */
                char lang[8];
                size_t k = 0;
                for (; post->lang[k] && post->lang[k] != '-' && post->lang[k] != '_' && k < 7; k++)
                        lang[k] = (char)(post->lang[k] >= 'A' && post->lang[k] <= 'Z'
                                                 ? post->lang[k] - 'A' + 'a'
                                                 : post->lang[k]);
                lang[k] = 0;
                if (!strv_contains(rule->languages, lang)) {
                        *ret_why = "language";
                        return false;
                }
        }
        if (rule->min_followers > 0 && post->followers >= 0 &&
            post->followers < rule->min_followers) {
                *ret_why = "followers";
                return false;
        }
        /* a rating filter is about reviews: a post that is no review does not pass */
        if (rule->max_rating > 0 && (post->rating < 1 || post->rating > rule->max_rating)) {
                *ret_why = "rating";
                return false;
        }
        return true;
}

/*
 * Evaluate one rule; returns whether it matched, with *ret_brand the brand that made it (-1
 * for brand: none) and *ret_score its score.
 */
static bool rule_eval(RuleScratch *s, const Ruleset *rs, const Rule *rule, const RulePost *post,
                      ssize_t *ret_brand, int64_t *ret_score) {
        const char *why;

        *ret_brand = -1;
        *ret_score = 0;
        if (!rule->enabled || !filters_pass(rule, post, &why))
                return false;
        if (!body_eval(s, rule))
                return false;
        if (rule->n_weights > 0) {
                *ret_score = score_of(s, rule);
                if (*ret_score < rule->threshold)
                        return false;
        }
        if (rule->no_brand)
                return true;
        size_t nb = rule->any_brand ? rs->n_brands : rule->n_brands;
        for (size_t k = 0; k < nb; k++) {
                size_t b = rule->any_brand ? k : rule->brands[k];
                if (!brand_mentioned(s, rs, b, post))
                        continue;
                if (rule->near && near_distance(s, &rs->brands[b], rule, post) > rule->near)
                        continue;
                *ret_brand = (ssize_t)b;
                return true;
        }
        return false;
}

/* The terms behind a match: the brand's terms present, then the rule's positive terms. */
static int match_terms(const RuleScratch *s, const Ruleset *rs, const Rule *rule, ssize_t brand,
                       const RulePost *post, RuleMatch *m) {
        size_t cap = rule->n_positive + (brand >= 0 ? rs->brands[brand].n_terms : 0) + 1;
        m->terms = calloc(cap, sizeof(uint32_t));
        if (!m->terms)
                return -ENOMEM;
        if (brand >= 0) {
                const Brand *b = &rs->brands[brand];
                for (size_t i = 0; i < b->n_terms; i++)
                        if (hit(s, b->terms[i].term) && brand_term_applies(&b->terms[i], post))
                                m->terms[m->n_terms++] = b->terms[i].term;
        }
        for (size_t i = 0; i < rule->n_positive; i++)
                if (hit(s, rule->positive[i]))
                        m->terms[m->n_terms++] = rule->positive[i];
        if (m->n_terms > 1) {
                qsort(m->terms, m->n_terms, sizeof(uint32_t), cmp_u32);
                size_t w = 1;
                for (size_t i = 1; i < m->n_terms; i++)
                        if (m->terms[i] != m->terms[w - 1])
                                m->terms[w++] = m->terms[i];
                m->n_terms = w;
        }
        return 0;
}

int ruleset_match(const Ruleset *rs, const RulePost *post, RuleScratch *s, RuleMatches *ret) {
        RuleMatches out = {};
        int r;

        *ret = (RuleMatches){};
        if (!rs || rs->n_rules == 0)
                return 0;
        r = scratch_scan(s, rs, post->text);
        if (r < 0)
                return r;

        /* candidate rules: those a present term can concern, plus the always-rules */
        s->n_candidates = 0;
        for (size_t i = 0; i < s->n_touched; i++) {
                uint32_t t = s->touched[i];
                for (size_t k = 0; k < rs->n_term_rules[t]; k++) {
                        size_t rule = rs->term_rules[t][k];
                        if (!s->rule_seen[rule]) {
                                s->rule_seen[rule] = 1;
                                s->candidates[s->n_candidates++] = rule;
                        }
                }
        }
        for (size_t i = 0; i < rs->n_always; i++)
                if (!s->rule_seen[rs->always[i]]) {
                        s->rule_seen[rs->always[i]] = 1;
                        s->candidates[s->n_candidates++] = rs->always[i];
                }
        for (size_t i = 0; i < s->n_candidates; i++)
                s->rule_seen[s->candidates[i]] = 0;
        if (s->n_candidates == 0)
                return 0;
        qsort(s->candidates, s->n_candidates, sizeof(size_t), cmp_size);

        for (size_t i = 0; i < s->n_candidates; i++) {
                const Rule *rule = &rs->rules[s->candidates[i]];
                ssize_t brand;
                int64_t score;
                if (!rule_eval(s, rs, rule, post, &brand, &score))
                        continue;
                if (!out.m) {
                        out.m = calloc(s->n_candidates, sizeof(RuleMatch));
                        if (!out.m)
                                return -ENOMEM;
                }
                RuleMatch *m = &out.m[out.n++];
                *m = (RuleMatch){.rule = s->candidates[i], .brand = brand, .score = score};
                r = match_terms(s, rs, rule, brand, post, m);
                if (r < 0) {
                        rule_matches_done(&out);
                        return r;
                }
        }
        *ret = out;
        return 0;
}

void rule_matches_done(RuleMatches *m) {
        for (size_t i = 0; i < m->n; i++)
                free(m->m[i].terms);
        free(m->m);
        *m = (RuleMatches){};
}

usec_t rule_respond_within(const Ruleset *rs, const RuleMatch *m) {
        const Rule *rule = &rs->rules[m->rule];
        if (rule->respond_within > 0)
                return rule->respond_within;
        return rule_brand_respond_within(rs, m);
}

usec_t rule_brand_respond_within(const Ruleset *rs, const RuleMatch *m) {
        return m->brand >= 0 ? rs->brands[m->brand].respond_within : 0;
}

/* ---- explain ------------------------------------------------------------------------------ */

typedef struct Explain {
        const Ruleset *rs;
        const RuleScratch *s;
        const RulePost *post;
        bool color;
        FILE *f;
} Explain;

#define GREEN "\033[32m"
#define RED "\033[31m"
#define BOLD "\033[1m"
#define RESET "\033[0m"

/* The text a hit covers, as written in the post. */
static void print_hit_text(const Explain *e, uint32_t term) {
        const MatchHit *h = &scan_hits(e->s->scan)[e->s->first_hit[term] - 1];
        size_t a, b, c, d;
        scan_word_span(e->s->scan, h->first_word, &a, &b);
        scan_word_span(e->s->scan, h->first_word + h->n_words - 1, &c, &d);
        /* show a hashtag or mention as written, with its sign */
        if (a > 0 && e->post->text && (e->post->text[a - 1] == '#' || e->post->text[a - 1] == '@'))
                a--;
        if (d > a && e->post->text && d <= strlen(e->post->text))
                fprintf(e->f, " (\"%.*s\", word %u)", (int)(d - a), e->post->text + a,
                        h->first_word + 1);
}

static void print_term(const Explain *e, uint32_t term) {
        bool present = hit(e->s, term);
        fprintf(e->f, "%s'%s'%s", e->color ? (present ? GREEN : "") : "",
                term_source(e->rs->terms[term]), e->color && present ? RESET : "");
        if (present)
                print_hit_text(e, term);
}

/* A list of the child terms that are present (want true) or absent (want false). */
static void print_children(const Explain *e, const RuleNode *n, bool want, size_t max) {
        size_t shown = 0, more = 0;
        for (size_t i = 0; i < n->n_children; i++) {
                const RuleNode *c = &n->children[i];
                if (c->kind != RULE_NODE_TERM || hit(e->s, c->term) != want)
                        continue;
                if (shown == max) {
                        more++;
                        continue;
                }
                fputs(shown ? ", " : " ", e->f);
                print_term(e, c->term);
                shown++;
        }
        if (more)
                fprintf(e->f, " and %zu more", more);
}

/*
 * One group, then its nested groups indented below it. Says what decides: for any, the terms
 * present (or that none is); for all, the terms missing; for none, the terms that block.
 */
static void explain_node(const Explain *e, const RuleNode *n, unsigned indent, const char *label) {
        bool ok = node_eval(e->s, n);
        size_t present = 0, terms = 0, groups = 0, groups_ok = 0;

        for (size_t i = 0; i < n->n_children; i++) {
                const RuleNode *c = &n->children[i];
                if (c->kind == RULE_NODE_TERM) {
                        terms++;
                        present += hit(e->s, c->term);
                } else {
                        groups++;
                        groups_ok += node_eval(e->s, c);
                }
        }
        fprintf(e->f, "%*s%s%s%s: ", indent, "", e->color ? (ok ? GREEN : RED) : "", label,
                e->color ? RESET : "");
        switch (n->kind) {
        case RULE_NODE_ANY:
                if (present > 0) {
                        fputs("holds; present:", e->f);
                        print_children(e, n, true, 8);
                } else if (groups_ok > 0)
                        fputs("holds through a nested group (below)", e->f);
                else {
                        fprintf(e->f, "fails: none of its %zu term%s", terms,
                                terms == 1 ? "" : "s");
                        if (groups)
                                fprintf(e->f, " and %zu group%s", groups, groups == 1 ? "" : "s");
                        fputs(" holds", e->f);
                        if (terms > 0) {
                                fputs(":", e->f);
                                print_children(e, n, false, 6);
                        }
                }
                break;
        case RULE_NODE_ALL:
                if (ok)
                        fputs("holds; all present", e->f);
                else {
                        fputs("fails;", e->f);
                        if (present < terms) {
                                fputs(" missing:", e->f);
                                print_children(e, n, false, 8);
                        }
                        if (groups_ok < groups)
                                fprintf(e->f, "%s%zu nested group%s fail%s (below)",
                                        present < terms ? "; " : " ", groups - groups_ok,
                                        groups - groups_ok == 1 ? "" : "s",
                                        groups - groups_ok == 1 ? "s" : "");
                }
                break;
        case RULE_NODE_NONE:
                if (ok)
                        fputs("holds; none present (nothing blocks it)", e->f);
                else {
                        fputs("fails; blocked by", e->f);
                        if (present > 0)
                                print_children(e, n, true, 8);
                        else
                                fputs(" a nested group (below)", e->f);
                }
                break;
        case RULE_NODE_TERM:
                break;
        }
        fputc('\n', e->f);
        for (size_t i = 0; i < n->n_children; i++) {
                const RuleNode *c = &n->children[i];
                if (c->kind != RULE_NODE_TERM)
                        explain_node(e, c, indent + 2, group_name(c->kind));
        }
}

static void explain_rule(const Explain *e, RuleScratch *s, const Rule *rule) {
        const Ruleset *rs = e->rs;
        const RulePost *post = e->post;
        FILE *f = e->f;
        ssize_t brand;
        int64_t score;
        bool ok = rule_eval(s, rs, rule, post, &brand, &score);
        const char *why = NULL;

        fprintf(f, "rule %s%s%s (%s:%u, %s): %s%s%s\n", e->color ? BOLD : "", rule->name,
                e->color ? RESET : "", rule->pos.file, rule->pos.line,
                severity_to_string(rule->severity), e->color ? (ok ? GREEN : RED) : "",
                ok ? "MATCHES" : "no match", e->color ? RESET : "");
        if (!rule->enabled)
                fputs("  disabled (enabled: false)\n", f);
        if (!filters_pass(rule, post, &why)) {
                if (strcmp(why, "network") == 0) {
                        _cleanup_free_ char *l = strv_join(rule->networks, ", ");
                        fprintf(f, "  networks: the post is from %s, the rule wants [%s]\n",
                                post->network ? post->network : "(not given)", l ? l : "");
                } else if (strcmp(why, "source") == 0) {
                        _cleanup_free_ char *l = strv_join(rule->sources, ", ");
                        fprintf(f, "  sources: the post came from %s, the rule wants [%s]\n",
                                post->source ? post->source : "(not given)", l ? l : "");
                } else if (strcmp(why, "language") == 0) {
                        _cleanup_free_ char *l = strv_join(rule->languages, ", ");
                        fprintf(f, "  languages: the post is in '%s', the rule wants [%s]\n",
                                post->lang ? post->lang : "(not given)", l ? l : "");
                } else if (strcmp(why, "rating") == 0) {
                        if (post->rating < 1)
                                fprintf(f, "  max_rating: the post is not a review\n");
                        else
                                fprintf(f, "  max_rating: the review has %" PRId64
                                           " stars, the rule wants at most %" PRId64 "\n",
                                        post->rating, rule->max_rating);
                } else
                        fprintf(f, "  min_followers: the author has %" PRId64
                                   " followers, the rule wants at least %" PRId64 "\n",
                                post->followers, rule->min_followers);
        }
        if (rule->no_brand)
                fputs("  brand: none needed\n", f);
        else {
                size_t nb = rule->any_brand ? rs->n_brands : rule->n_brands;
                for (size_t k = 0; k < nb; k++) {
                        size_t b = rule->any_brand ? k : rule->brands[k];
                        const Brand *br = &rs->brands[b];
                        bool named = false;
                        fprintf(f, "  brand %s: ", br->name);
                        for (size_t i = 0; i < br->n_terms; i++)
                                if (hit(s, br->terms[i].term) &&
                                    brand_term_applies(&br->terms[i], post)) {
                                        fputs(named ? ", " : "named by ", f);
                                        print_term(e, br->terms[i].term);
                                        named = true;
                                }
                        if (!named)
                                fputs("not named in the post", f);
                        for (size_t i = 0; i < br->n_exclude && named; i++)
                                if (hit(s, br->exclude[i])) {
                                        fputs("; but excluded by ", f);
                                        print_term(e, br->exclude[i]);
                                        break;
                                }
                        if (named && rule->near) {
                                uint32_t d = near_distance(s, br, rule, post);
                                if (d == UINT32_MAX)
                                        fprintf(f, "; near %u: no complaint term present",
                                                rule->near);
                                else
                                        fprintf(f, "; near %u: closest complaint term %u word%s "
                                                   "away%s",
                                                rule->near, d, d == 1 ? "" : "s",
                                                d > rule->near ? ", too far" : "");
                        }
                        fputc('\n', f);
                }
        }
        if (rule->empty_any)
                fputs("  any: an empty list, which nothing satisfies\n", f);
        static const char *const labels[3] = {"any", "all", "none"};
        for (int g = 0; g < 3; g++) {
                const RuleNode *n = &rule->body.children[g];
                if (n->n_children > 0)
                        explain_node(e, n, 2, labels[g]);
        }
        if (rule->n_weights > 0) {
                fprintf(f, "  score: %" PRId64 " of threshold %" PRId64 " (", score_of(s, rule),
                        rule->threshold);
                bool first = true;
                for (size_t i = 0; i < rule->n_weights; i++)
                        if (hit(s, rule->weights[i].term)) {
                                fprintf(f, "%s'%s' %+" PRId64, first ? "" : ", ",
                                        term_source(rs->terms[rule->weights[i].term]),
                                        rule->weights[i].weight);
                                first = false;
                        }
                fprintf(f, "%s)\n", first ? "no weighted term present" : "");
        }
        if (!rule->has_body && rule->n_weights == 0 && !rule->no_brand)
                fputs("  (no terms of its own: every mention of the brand matches)\n", f);
}

int ruleset_explain(const Ruleset *rs, const RulePost *post, bool color, FILE *f) {
        _cleanup_(rule_scratch_freep) RuleScratch *s = NULL;
        int r;

        r = rule_scratch_new(true, &s);
        if (r < 0)
                return r;
        r = scratch_scan(s, rs, post->text);
        if (r < 0)
                return r;
        Explain e = {.rs = rs, .s = s, .post = post, .color = color, .f = f};
        if (rs->n_rules == 0)
                fputs("no rules are configured\n", f);
        for (size_t i = 0; i < rs->n_rules; i++) {
                explain_rule(&e, s, &rs->rules[i]);
                if (i + 1 < rs->n_rules)
                        fputc('\n', f);
        }
        return 0;
}
