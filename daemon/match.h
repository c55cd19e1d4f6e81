/* SPDX-License-Identifier: MIT */
/*
 * match.h - whole-word term matching on folded text, in linear time and without regular
 * expressions.
 *
 * A text is folded (normalize.h) and split into words at Unicode word boundaries: a word is a
 * maximal run of letters, marks, digits (and connector punctuation such as '_'), so Cyrillic,
 * Greek and accented Latin words are words, not separators. A word directly preceded by '#' is
 * a hashtag word, by '@' a mention word. Emoji and other symbols are single-character words of
 * their own, so "😡" can be a term.
 *
 * A term is folded and split the same way:
 *   refund          matches the word "refund" (also as "#refund"), not "refunds"
 *   "money back"    a phrase: consecutive words, across any run of spaces and punctuation
 *   refund*         prefix: any word starting with "refund"
 *   #acme           only the hashtag word #acme;  @acme only the mention @acme
 *   acme.com        the words "acme" "com" in sequence (so also inside https://acme.com/x)
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

typedef struct Text Text;
typedef struct Term Term;

/* Fold and split a UTF-8 text (invalid sequences tolerated). 0, or -ENOMEM. */
int text_new(const char *utf8, size_t len, Text **ret);
Text *text_free(Text *t);
size_t text_n_words(const Text *t);

/*
 * Compile one term. Returns 0; -EINVAL with *ret_error set to a static message such as
 * "empty term" or "a term may not be only punctuation"; or -ENOMEM.
 */
int term_new(const char *term, Term **ret, const char **ret_error);
Term *term_free(Term *t);
/* The term as written (for messages). */
const char *term_source(const Term *t);

/* Whether the term occurs in the text. */
bool term_match(const Term *term, const Text *text);

static inline void text_freep(Text **t) {
        if (*t)
                text_free(*t);
}
static inline void term_freep(Term **t) {
        if (*t)
                term_free(*t);
}
