/* SPDX-License-Identifier: MIT */
/*
 * match.c - whole-word term matching on folded text (see match.h).
 *
 * Guarantees: a Text and a Term are each folded once (text_fold) and split once into words,
 * stored as byte ranges of the folded string; matching only compares those bytes, so
 * term_match() costs O(words in the text x words in the term) with no allocation, no regular
 * expressions and no backtracking: a single-word term is one linear scan. Any byte string is a
 * valid text; a term is either compiled or rejected with a static message. Both objects are
 * immutable after construction, so one Term may be matched from several threads at once.
 *
 * Word boundaries, applied identically to texts and terms (on folded code points):
 *   - letters (L*), marks (M*), numbers (N*) and connector punctuation (Pc, '_') make words;
 *   - other symbols (So, e.g. emoji), emoji code points not yet assigned in utf8proc's tables,
 *     and Han ideographs and Hiragana are words of one code point each: "so angry😡😡" has the
 *     words "so" "angry" "😡" "😡", and a CJK term, written without spaces like the text, matches
 *     as a phrase of its characters. Marks right after such a word are skipped, so a keycap or
 *     enclosing mark neither becomes a word nor glues onto the next one;
 *   - everything else separates, including skin-tone modifiers (Sk) and U+FFFD, which stands for
 *     bytes that were never text. ZWJ and variation selectors never get here: folding strips
 *     default-ignorable code points.
 * Scripts written without spaces other than Chinese and Japanese (Thai, Lao, Khmer, Burmese) have
 * no word boundaries without a dictionary: there a term matches only a whole run of letters.
 *
 * Terms are trimmed of ASCII blanks, and one pair of double quotes around the whole term is
 * dropped, so "money ba*" and money ba* are the same term. A '*' may only be the last character
 * and must directly follow a word.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "util/cleanup.h"
#include "match.h"
#include "normalize.h"

enum {
        WORD_HASHTAG = 1 << 0, /* preceded by '#' */
        WORD_MENTION = 1 << 1, /* preceded by '@' */
};

typedef struct Word {
        size_t offset, length; /* byte range in the owner's folded string */
        unsigned flags;        /* WORD_* */
} Word;

typedef struct Words {
        Word *words; /* owned */
        size_t n, allocated;
} Words;

struct Text {
        char *folded; /* owned */
        Word *words;  /* owned */
        size_t n_words;
};

struct Term {
        char *source; /* owned, as written */
        char *folded; /* owned */
        Word *words;  /* owned; a word's flags are the flags the matching text word must have */
        size_t n_words;
        bool prefix; /* the last word matches any text word it begins */
};

typedef enum CodePointClass {
        CP_SEPARATOR,
        CP_WORD, /* part of a run */
        CP_MARK, /* part of a run, unless it follows a single */
        CP_SINGLE,
} CodePointClass;

static bool is_ideograph(utf8proc_int32_t cp) {
        return (cp >= 0x3040 && cp <= 0x309F) ||  /* Hiragana */
               (cp >= 0x3400 && cp <= 0x4DBF) ||  /* CJK Extension A */
               (cp >= 0x4E00 && cp <= 0x9FFF) ||  /* CJK Unified Ideographs */
               (cp >= 0xF900 && cp <= 0xFAFF) ||  /* CJK Compatibility Ideographs */
               (cp >= 0x20000 && cp <= 0x3FFFF);  /* planes 2 and 3 */
}

static CodePointClass classify(utf8proc_int32_t cp) {
        utf8proc_category_t cat = utf8proc_category(cp);

        switch (cat) {
        case UTF8PROC_CATEGORY_LU:
        case UTF8PROC_CATEGORY_LL:
        case UTF8PROC_CATEGORY_LT:
        case UTF8PROC_CATEGORY_LM:
        case UTF8PROC_CATEGORY_LO:
                return is_ideograph(cp) ? CP_SINGLE : CP_WORD;
        case UTF8PROC_CATEGORY_ND:
        case UTF8PROC_CATEGORY_NL:
        case UTF8PROC_CATEGORY_NO:
        case UTF8PROC_CATEGORY_PC:
                return CP_WORD;
        case UTF8PROC_CATEGORY_MN:
        case UTF8PROC_CATEGORY_MC:
        case UTF8PROC_CATEGORY_ME:
                return CP_MARK;
        case UTF8PROC_CATEGORY_SO:
                return cp == 0xFFFD ? CP_SEPARATOR : CP_SINGLE;
        case UTF8PROC_CATEGORY_CN:
                /* Emoji newer than utf8proc's tables live in these blocks. */
                return cp >= 0x1F000 && cp <= 0x1FFFD ? CP_SINGLE : CP_SEPARATOR;
        default:
                return CP_SEPARATOR;
        }
}

static int words_push(Words *w, const char *s, size_t start, size_t end) {
        unsigned flags = 0;

        if (w->n == w->allocated) {
                size_t n = w->allocated ? w->allocated * 2 : 16;
                Word *p;

                if (n > SIZE_MAX / sizeof(Word))
                        return -ENOMEM;
                p = realloc(w->words, n * sizeof(Word));
                if (!p)
                        return -ENOMEM;
                w->words = p;
                w->allocated = n;
        }

        if (start > 0 && s[start - 1] == '#')
                flags = WORD_HASHTAG;
        else if (start > 0 && s[start - 1] == '@')
                flags = WORD_MENTION;

        w->words[w->n++] = (Word){ .offset = start, .length = end - start, .flags = flags };
        return 0;
}

static void words_done(Words *w) {
        free(w->words);
        *w = (Words){};
}

/* Splits folded (valid UTF-8) text into words; see the top of this file. */
static int split_words(const char *s, size_t len, Words *ret) {
        _cleanup_(words_done) Words w = {};
        enum { OUTSIDE, IN_RUN, AFTER_SINGLE } state = OUTSIDE;
        size_t start = 0;
        int r;

        for (size_t i = 0; i < len; ) {
                utf8proc_int32_t cp;
                utf8proc_ssize_t n;
                CodePointClass c;

                n = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(len - i),
                                     &cp);
                if (n <= 0) { /* cannot happen on folded text; make the byte a separator */
                        cp = 0xFFFD;
                        n = 1;
                }
                c = classify(cp);

                if (c == CP_MARK) {
                        if (state == AFTER_SINGLE) { /* a keycap or similar: skip it */
                                i += n;
                                continue;
                        }
                        c = CP_WORD;
                }

                if (c == CP_WORD) {
                        if (state != IN_RUN) {
                                start = i;
                                state = IN_RUN;
                        }
                } else {
                        if (state == IN_RUN) {
                                r = words_push(&w, s, start, i);
                                if (r < 0)
                                        return r;
                        }
                        if (c == CP_SINGLE) {
                                r = words_push(&w, s, i, i + n);
                                if (r < 0)
                                        return r;
                                state = AFTER_SINGLE;
                        } else
                                state = OUTSIDE;
                }
                i += n;
        }
        if (state == IN_RUN) {
                r = words_push(&w, s, start, len);
                if (r < 0)
                        return r;
        }

        *ret = w;
        w = (Words){};
        return 0;
}

int text_new(const char *utf8, size_t len, Text **ret) {
        _cleanup_(text_freep) Text *t = NULL;
        Words w;
        int r;

        t = calloc(1, sizeof(Text));
        if (!t)
                return -ENOMEM;

        r = text_fold(utf8, len, &t->folded);
        if (r < 0)
                return r;

        r = split_words(t->folded, strlen(t->folded), &w);
        if (r < 0)
                return r;
        t->words = w.words;
        t->n_words = w.n;

        *ret = TAKE_PTR(t);
        return 0;
}

Text *text_free(Text *t) {
        if (!t)
                return NULL;
        free(t->folded);
        free(t->words);
        free(t);
        return NULL;
}

size_t text_n_words(const Text *t) {
        return t ? t->n_words : 0;
}

static bool is_blank(char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static int term_fail(const char *message, const char **ret_error) {
        if (ret_error)
                *ret_error = message;
        return -EINVAL;
}

int term_new(const char *term, Term **ret, const char **ret_error) {
        _cleanup_(term_freep) Term *t = NULL;
        const char *b, *e, *star;
        size_t folded_len;
        Words w;
        int r;

        if (!term)
                return term_fail("empty term", ret_error);

        /* Trim, and drop one pair of double quotes around the whole term: "money back". */
        b = term;
        e = term + strlen(term);
        while (b < e && is_blank(*b))
                b++;
        while (e > b && is_blank(e[-1]))
                e--;
        if (e - b >= 2 && b[0] == '"' && e[-1] == '"') {
                b++;
                e--;
                while (b < e && is_blank(*b))
                        b++;
                while (e > b && is_blank(e[-1]))
                        e--;
        }
        if (b == e)
                return term_fail("empty term", ret_error);

        t = calloc(1, sizeof(Term));
        if (!t)
                return -ENOMEM;

        star = memchr(b, '*', e - b);
        if (star) {
                if (star != e - 1)
                        return term_fail("'*' may only end a term, as in refund*", ret_error);
                t->prefix = true;
                e--;
        }

        t->source = strdup(term);
        if (!t->source)
                return -ENOMEM;

        r = text_fold(b, e - b, &t->folded);
        if (r < 0)
                return r;
        folded_len = strlen(t->folded);

        r = split_words(t->folded, folded_len, &w);
        if (r < 0)
                return r;
        t->words = w.words;
        t->n_words = w.n;

        if (t->n_words == 0)
                return term_fail("a term may not be only punctuation", ret_error);

        if (t->prefix) {
                const Word *last = &t->words[t->n_words - 1];

                if (last->offset + last->length != folded_len)
                        return term_fail("'*' must directly follow a word, as in refund*",
                                         ret_error);
        }

        *ret = TAKE_PTR(t);
        return 0;
}

Term *term_free(Term *t) {
        if (!t)
                return NULL;
        free(t->source);
        free(t->folded);
        free(t->words);
        free(t);
        return NULL;
}

const char *term_source(const Term *t) {
        return t ? t->source : NULL;
}

static bool word_matches(const Term *term, size_t j, const Text *text, size_t i) {
        const Word *tw = &term->words[j], *xw = &text->words[i];

        if ((xw->flags & tw->flags) != tw->flags)
                return false;
        if (term->prefix && j == term->n_words - 1) {
                if (xw->length < tw->length)
                        return false;
        } else if (xw->length != tw->length)
                return false;

        return memcmp(text->folded + xw->offset, term->folded + tw->offset, tw->length) == 0;
}

bool term_match(const Term *term, const Text *text) {
        size_t k;

        if (!term || !text)
                return false;
        k = term->n_words;
        if (k == 0 || text->n_words < k)
                return false;

        for (size_t i = 0; i + k <= text->n_words; i++) {
                size_t j = 0;

                while (j < k && word_matches(term, j, text, i + j))
                        j++;
                if (j == k)
                        return true;
        }
        return false;
}
