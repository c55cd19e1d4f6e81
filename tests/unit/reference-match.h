/* SPDX-License-Identifier: MIT */
/*
 * reference-match.h - a slow, obviously-correct matcher with the semantics of match.h, written
 * independently of match.c's automaton, for property tests and fuzz targets to compare against.
 *
 * It folds with text_fold() like the real matcher, splits words with its own copy of the
 * word-boundary rules, and then compares every term with every text position, word by word.
 * Quadratic and allocation-happy on purpose: only correctness matters here.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct RefTerm RefTerm;
typedef struct RefText RefText;

enum {
        REF_WORD_HASHTAG = 1u << 0, /* directly preceded by '#' */
        REF_WORD_MENTION = 1u << 1, /* directly preceded by '@' */
};

/* Same layout and meaning as MatchHit; term is an index or the id passed to ref_match(). */
typedef struct RefHit {
        uint32_t term;
        uint32_t first_word;
        uint32_t n_words;
} RefHit;

/*
 * Parse a term as term_new() should (TERM_* flags from match.h). 0 and *ret; -EINVAL with
 * *ret_error set to a static message; or -ENOMEM.
 */
int ref_term_new(const char *src, unsigned flags, RefTerm **ret, const char **ret_error);
RefTerm *ref_term_free(RefTerm *t);
unsigned ref_term_flags(const RefTerm *t);
size_t ref_term_n_words(const RefTerm *t);
/* Folded word i without '#', '@' or '*'. */
const char *ref_term_word(const RefTerm *t, size_t i);
/* Whether word i ends with '*'; REF_WORD_* the text word must carry. */
bool ref_term_word_prefix(const RefTerm *t, size_t i);
unsigned ref_term_word_flags(const RefTerm *t, size_t i);
/* Code points of the shortest word. */
size_t ref_term_min_word_length(const RefTerm *t);

/* Fold and split a text (any bytes). 0, or -ENOMEM. */
int ref_text_new(const char *text, size_t len, RefText **ret);
RefText *ref_text_free(RefText *t);
size_t ref_text_n_words(const RefText *t);
const char *ref_text_word(const RefText *t, size_t i);
unsigned ref_text_word_flags(const RefText *t, size_t i);

/*
 * Every hit of terms[0..n_terms) in text. NULL entries (rejected terms) are skipped. A hit's
 * term is ids[k] when ids is given, k otherwise. Hits are sorted by end word, then term, then
 * first word; each (term, first_word) pair appears once, the occurrence that ends first being
 * kept. Returns 0 and a malloc()ed array (possibly NULL when empty), or -ENOMEM.
 */
int ref_match(const RefTerm *const *terms, const uint32_t *ids, size_t n_terms,
              const RefText *text, RefHit **ret_hits, size_t *ret_n_hits);

static inline void ref_term_freep(RefTerm **t) {
        if (*t)
                ref_term_free(*t);
}
static inline void ref_text_freep(RefText **t) {
        if (*t)
                ref_text_free(*t);
}
