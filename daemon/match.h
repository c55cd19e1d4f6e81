/* SPDX-License-Identifier: MIT */
/*
 * match.h - every term of every rule, compiled into one automaton that finds all of them in a
 * post in a single pass over its words, in time linear in the text, without regular
 * expressions and without backtracking.
 *
 * Text and terms are folded the same way (normalize.h: NFKC casefold, so "ВЕРНИТЕ" =
 * "верните", "Straße" = "strasse", "ＡＣＭＥ" = "acme", final sigma = sigma; İ (U+0130) folds to
 * plain i, while dotless ı stays a letter of its own) and split into words at Unicode word
 * boundaries: a word is a maximal run of letters, marks, digits and connector punctuation
 * ('_'), so "acme2" and "acme_support" are single words that the term acme does not match,
 * while "acme's" is the words "acme" "s" and does match. A word directly preceded by '#' is a
 * hashtag word, by '@' a mention word. Emoji and other symbols are one-character words of their
 * own, so "😡" can be a term; Chinese and Japanese ideographs likewise.
 *
 * A term is written as in config and compiled by term_new():
 *   refund          the word "refund", also as "#refund" or "@refund"; not "refunds"
 *   "money back"    a phrase: consecutive words, across any run of spaces, punctuation and
 *                   line breaks ("money - back", "money\nback")
 *   refund*         prefix: any word starting with "refund"; any word of a phrase may be a
 *                   prefix: "не работа*", "money ba*"
 *   #acme / @acme   only the hashtag word #acme / the mention @acme
 *   acme.com        the words "acme" "com" in sequence, so also inside https://shop.acme.com/x
 *   😡              the emoji (skin tones and variation selectors are ignored)
 * One pair of double quotes around the whole term is dropped, and the term is trimmed.
 *
 * Term flags change how one term matches:
 *   TERM_IGNORE_ACCENTS   marks are stripped from both sides before comparing: é = e,
 *                         ё = е (Cyrillic), ö = o; only for this term.
 *   TERM_INSIDE_HASHTAGS  the term's words, joined without spaces, also match anywhere inside
 *                         a hashtag word: acme hits #acmefail, #FixAcmeNow, #ihateacme.
 *                         Opt-in, because "acme" is also inside #macmeal.
 *
 * Usage: parse terms with term_new(), add them to a MatcherBuilder (identical terms share an
 * id), build an immutable Matcher, and scan texts with a reusable Scan, one per thread. A
 * Matcher may be used from several threads at once.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct Term Term;
typedef struct Matcher Matcher;
typedef struct MatcherBuilder MatcherBuilder;
typedef struct Scan Scan;

enum {
        TERM_IGNORE_ACCENTS = 1u << 0,
        TERM_INSIDE_HASHTAGS = 1u << 1,
};

/*
 * Parse and fold one term. Returns 0 and *ret; -EINVAL with *ret_error set to a static,
 * human-readable message ("empty term", "a term may not be only punctuation", "'*' must end
 * a word, as in refund*", ...); or -ENOMEM.
 */
int term_new(const char *term, unsigned flags, Term **ret, const char **ret_error);
Term *term_free(Term *t);
/* The term as written (for messages). */
const char *term_source(const Term *t);
unsigned term_flags(const Term *t);
/* Number of words; a phrase has more than one. */
size_t term_n_words(const Term *t);
/* Length in code points of the shortest word of the term without its '*' (for lints). */
size_t term_min_word_length(const Term *t);
/* Folded word i (NUL-terminated, without '#', '@' or '*'), for lints such as stop words. */
const char *term_word(const Term *t, size_t i);
/*
 * A canonical form: two terms with the same key (and flags) match exactly the same words,
 * e.g. "Refund", refund and " REFUND " all have the key "refund". Used to find duplicates.
 */
const char *term_key(const Term *t);

int matcher_builder_new(MatcherBuilder **ret);
MatcherBuilder *matcher_builder_free(MatcherBuilder *b);
/*
 * Add a term (borrowed only for the call). *ret_id is a dense id from 0; a term whose key and
 * flags equal those of an earlier one gets that one's id. 0, or -ENOMEM.
 */
int matcher_builder_add(MatcherBuilder *b, const Term *t, uint32_t *ret_id);
/* Compile everything added so far; the builder may then be freed. 0, or -ENOMEM. */
int matcher_build(const MatcherBuilder *b, Matcher **ret);
Matcher *matcher_free(Matcher *m);
size_t matcher_n_terms(const Matcher *m);
/* Bytes allocated by the compiled matcher. */
size_t matcher_memory(const Matcher *m);

/* One occurrence of a term in a scanned text. */
typedef struct MatchHit {
        uint32_t term;       /* id from matcher_builder_add() */
        uint32_t first_word; /* index of the text word where the occurrence starts */
        uint32_t n_words;    /* words it covers (1 for a word, prefix or inside-hashtag hit) */
} MatchHit;

/*
 * Scratch space and results of one scan, reused between scans so that scanning allocates
 * nothing once warm. With spans, each word's byte range in the original text is recorded too
 * (for highlighting), at some cost.
 */
int scan_new(bool spans, Scan **ret);
Scan *scan_free(Scan *s);

/*
 * Find every occurrence of every term in text[0..len) (any bytes; invalid UTF-8 and NULs are
 * treated as separators). Hits come ordered by where they end, then by term id; each (term,
 * first_word) pair at most once. The results stay valid until the next scan with s.
 * 0, or -ENOMEM.
 */
int matcher_scan(const Matcher *m, const char *text, size_t len, Scan *s);
size_t scan_n_hits(const Scan *s);
const MatchHit *scan_hits(const Scan *s);
/* Number of words in the scanned text. */
size_t scan_n_words(const Scan *s);
/* Byte range [start, end) in the original text of word i; only for a Scan made with spans. */
void scan_word_span(const Scan *s, size_t i, size_t *ret_start, size_t *ret_end);

static inline void term_freep(Term **t) {
        if (*t)
                term_free(*t);
}
static inline void matcher_builder_freep(MatcherBuilder **b) {
        if (*b)
                matcher_builder_free(*b);
}
static inline void matcher_freep(Matcher **m) {
        if (*m)
                matcher_free(*m);
}
static inline void scan_freep(Scan **s) {
        if (*s)
                scan_free(*s);
}
