/* SPDX-License-Identifier: MIT */
/*
 * reference-match.c - the reference matcher (see reference-match.h): match.h's semantics done
 * the naive way, so that the automaton in match.c has something simple to be compared with.
 *
 * Text and term are folded with text_fold(), then split into words by the rules of match.h (the
 * same rules the old word-by-word matcher used):
 *   - letters, marks, numbers and connector punctuation ('_') form runs, which are words;
 *   - other symbols (emoji), unassigned code points in the emoji planes, and Han / Hiragana
 *     ideographs are one-code-point words; marks directly after such a word are skipped;
 *   - everything else separates, including skin tones (Sk) and U+FFFD (invalid bytes, NULs);
 *   - a word right after a '#' byte is a hashtag word, after a '@' a mention word.
 * A term is trimmed of ASCII blanks, one pair of double quotes around it is dropped, and it is
 * folded and split like a text; each '*' must come right at the end of a word and be followed
 * by a separator or the end, and makes that word a prefix. Matching compares every term with
 * every position of the text, word by word; TERM_IGNORE_ACCENTS compares words with their
 * nonspacing marks removed (й excepted), TERM_INSIDE_HASHTAGS also looks for the term's words,
 * joined, with strstr() inside every hashtag word.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "util/cleanup.h"
#include "match.h"
#include "normalize.h"
#include "reference-match.h"

typedef struct RefWord {
        char *word;     /* owned, folded */
        char *stripped; /* owned, folded with nonspacing marks removed */
        unsigned flags; /* REF_WORD_* */
        bool prefix;    /* term words only: ends with '*' */
} RefWord;

struct RefTerm {
        unsigned flags; /* TERM_* */
        RefWord *words; /* owned */
        size_t n_words;
        char *joined;          /* owned: the words without separators */
        char *joined_stripped; /* owned */
};

struct RefText {
        RefWord *words; /* owned */
        size_t n_words;
};

/* A word as a byte range of a folded string, before it is copied out. */
typedef struct Range {
        size_t start, end;
} Range;

static bool is_ideograph(utf8proc_int32_t cp) {
        return (cp >= 0x3040 && cp <= 0x309F) || (cp >= 0x3400 && cp <= 0x4DBF) ||
               (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0xF900 && cp <= 0xFAFF) ||
               (cp >= 0x20000 && cp <= 0x3FFFF);
}

typedef enum Kind {
        KIND_SEPARATOR,
        KIND_RUN,
        KIND_MARK,
        KIND_SINGLE,
} Kind;

static Kind kind_of(utf8proc_int32_t cp) {
        switch (utf8proc_category(cp)) {
        case UTF8PROC_CATEGORY_LU:
        case UTF8PROC_CATEGORY_LL:
        case UTF8PROC_CATEGORY_LT:
        case UTF8PROC_CATEGORY_LM:
        case UTF8PROC_CATEGORY_LO:
                return is_ideograph(cp) ? KIND_SINGLE : KIND_RUN;
        case UTF8PROC_CATEGORY_ND:
        case UTF8PROC_CATEGORY_NL:
        case UTF8PROC_CATEGORY_NO:
        case UTF8PROC_CATEGORY_PC:
                return KIND_RUN;
        case UTF8PROC_CATEGORY_MN:
        case UTF8PROC_CATEGORY_MC:
        case UTF8PROC_CATEGORY_ME:
                return KIND_MARK;
        case UTF8PROC_CATEGORY_SO:
                return cp == 0xFFFD ? KIND_SEPARATOR : KIND_SINGLE;
        case UTF8PROC_CATEGORY_CN:
                return cp >= 0x1F000 && cp <= 0x1FFFD ? KIND_SINGLE : KIND_SEPARATOR;
        default:
                return KIND_SEPARATOR;
        }
}

/* Decode one code point of valid UTF-8 at s[i..len); returns its length (>= 1). */
static size_t next_cp(const char *s, size_t i, size_t len, utf8proc_int32_t *ret) {
        utf8proc_ssize_t n;

        n = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(len - i), ret);
        if (n <= 0) {
                *ret = 0xFFFD;
                return 1;
        }
        return (size_t)n;
}

/* Word ranges of the folded string s, in order. */
static int split(const char *s, size_t len, Range **ret, size_t *ret_n) {
        _cleanup_free_ Range *r = NULL;
        size_t n = 0, start = 0;
        bool in_run = false, after_single = false;

        /* At most one word per byte. */
        r = calloc(len + 1, sizeof(Range));
        if (!r)
                return -ENOMEM;

        for (size_t i = 0; i < len;) {
                utf8proc_int32_t cp;
                size_t l = next_cp(s, i, len, &cp);
                Kind k = kind_of(cp);

                if (k == KIND_MARK && after_single) {
                        i += l;
                        continue;
                }
                if (k == KIND_MARK || k == KIND_RUN) {
                        if (!in_run)
                                start = i;
                        in_run = true;
                        after_single = false;
                } else {
                        if (in_run)
                                r[n++] = (Range){ start, i };
                        in_run = false;
                        after_single = k == KIND_SINGLE;
                        if (after_single)
                                r[n++] = (Range){ i, i + l };
                }
                i += l;
        }
        if (in_run)
                r[n++] = (Range){ start, len };

        *ret = TAKE_PTR(r);
        *ret_n = n;
        return 0;
}

/* s with every nonspacing mark removed after canonical decomposition, except that й stays. */
static char *strip_marks(const char *s) {
        size_t len = strlen(s);
        _cleanup_free_ char *buf = NULL;
        size_t n = 0;

        /* A code point decomposes into at most 4 here; each is at most 4 bytes. */
        buf = malloc(len * 16 + 1);
        if (!buf)
                return NULL;

        for (size_t i = 0; i < len;) {
                utf8proc_int32_t cp, parts[16];
                utf8proc_ssize_t k;
                size_t l = next_cp(s, i, len, &cp);

                i += l;
                if (cp == 0x0439 || cp == 0x0419) { /* й, Й: a letter, not и with a breve */
                        n += (size_t)utf8proc_encode_char(cp, (utf8proc_uint8_t *)buf + n);
                        continue;
                }
                k = utf8proc_decompose_char(cp, parts, (utf8proc_ssize_t)ELEMENTSOF(parts),
                                            UTF8PROC_DECOMPOSE, NULL);
                if (k < 0 || k > (utf8proc_ssize_t)ELEMENTSOF(parts))
                        return NULL;
                for (utf8proc_ssize_t j = 0; j < k; j++)
                        if (utf8proc_category(parts[j]) != UTF8PROC_CATEGORY_MN)
                                n += (size_t)utf8proc_encode_char(parts[j],
                                                                  (utf8proc_uint8_t *)buf + n);
        }
        buf[n] = 0;

        return (char *)utf8proc_NFC((const utf8proc_uint8_t *)buf);
}

static void ref_words_free(RefWord *w, size_t n) {
        for (size_t i = 0; w && i < n; i++) {
                free(w[i].word);
                free(w[i].stripped);
        }
        free(w);
}

/* Copy the ranges out of the folded string s as words with their '#'/'@' flags. */
static int make_words(const char *s, const Range *r, size_t n, RefWord **ret) {
        RefWord *w;

        w = calloc(n + 1, sizeof(RefWord));
        if (!w)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                w[i].word = strndup(s + r[i].start, r[i].end - r[i].start);
                if (!w[i].word) {
                        ref_words_free(w, n);
                        return -ENOMEM;
                }
                w[i].stripped = strip_marks(w[i].word);
                if (!w[i].stripped) {
                        ref_words_free(w, n);
                        return -ENOMEM;
                }
                if (r[i].start > 0 && s[r[i].start - 1] == '#')
                        w[i].flags = REF_WORD_HASHTAG;
                else if (r[i].start > 0 && s[r[i].start - 1] == '@')
                        w[i].flags = REF_WORD_MENTION;
        }
        *ret = w;
        return 0;
}

static bool is_blank(char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static int fail(const char *message, const char **ret_error) {
        if (ret_error)
                *ret_error = message;
        return -EINVAL;
}

int ref_term_new(const char *src, unsigned flags, RefTerm **ret, const char **ret_error) {
        _cleanup_(ref_term_freep) RefTerm *t = NULL;
        _cleanup_free_ char *folded = NULL;
        _cleanup_free_ Range *r = NULL;
        const char *b, *e;
        size_t len, n, jl = 0, sl = 0;
        int k;

        if (!src)
                return fail("empty term", ret_error);

        b = src;
        e = src + strlen(src);
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
                return fail("empty term", ret_error);

        k = text_fold(b, (size_t)(e - b), &folded);
        if (k < 0)
                return k;
        len = strlen(folded);
        k = split(folded, len, &r, &n);
        if (k < 0)
                return k;

        /* Every '*' must end a word and be followed by a separator or the end. */
        for (size_t i = 0; i < len; i++) {
                bool ends = false, starts = false;

                if (folded[i] != '*')
                        continue;
                for (size_t j = 0; j < n; j++) {
                        ends = ends || r[j].end == i;
                        starts = starts || r[j].start == i + 1;
                }
                if (!ends || starts)
                        return fail("'*' must end a word, as in refund*", ret_error);
        }
        if (n == 0)
                return fail("a term may not be only punctuation", ret_error);

        t = calloc(1, sizeof(RefTerm));
        if (!t)
                return -ENOMEM;
        t->flags = flags;
        k = make_words(folded, r, n, &t->words);
        if (k < 0)
                return k;
        t->n_words = n;

        for (size_t i = 0; i < n; i++) {
                t->words[i].prefix = folded[r[i].end] == '*';
                jl += strlen(t->words[i].word);
                sl += strlen(t->words[i].stripped);
        }
        t->joined = calloc(jl + 1, 1);
        t->joined_stripped = calloc(sl + 1, 1);
        if (!t->joined || !t->joined_stripped)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                strcat(t->joined, t->words[i].word);
                strcat(t->joined_stripped, t->words[i].stripped);
        }

        *ret = TAKE_PTR(t);
        return 0;
}

RefTerm *ref_term_free(RefTerm *t) {
        if (!t)
                return NULL;
        ref_words_free(t->words, t->n_words);
        free(t->joined);
        free(t->joined_stripped);
        free(t);
        return NULL;
}

unsigned ref_term_flags(const RefTerm *t) {
        return t->flags;
}

size_t ref_term_n_words(const RefTerm *t) {
        return t->n_words;
}

const char *ref_term_word(const RefTerm *t, size_t i) {
        return i < t->n_words ? t->words[i].word : NULL;
}

bool ref_term_word_prefix(const RefTerm *t, size_t i) {
        return i < t->n_words && t->words[i].prefix;
}

unsigned ref_term_word_flags(const RefTerm *t, size_t i) {
        return i < t->n_words ? t->words[i].flags : 0;
}

size_t ref_term_min_word_length(const RefTerm *t) {
        size_t min = SIZE_MAX;

        for (size_t i = 0; i < t->n_words; i++) {
                const char *w = t->words[i].word;
                size_t cps = 0;

                for (size_t j = 0; w[j]; j++)
                        if (((unsigned char)w[j] & 0xC0) != 0x80)
                                cps++;
                if (cps < min)
                        min = cps;
        }
        return min;
}

int ref_text_new(const char *text, size_t len, RefText **ret) {
        _cleanup_(ref_text_freep) RefText *t = NULL;
        _cleanup_free_ char *folded = NULL;
        _cleanup_free_ Range *r = NULL;
        size_t n;
        int k;

        k = text_fold(text, len, &folded);
        if (k < 0)
                return k;
        k = split(folded, strlen(folded), &r, &n);
        if (k < 0)
                return k;

        t = calloc(1, sizeof(RefText));
        if (!t)
                return -ENOMEM;
        k = make_words(folded, r, n, &t->words);
        if (k < 0)
                return k;
        t->n_words = n;

        *ret = TAKE_PTR(t);
        return 0;
}

RefText *ref_text_free(RefText *t) {
        if (!t)
                return NULL;
        ref_words_free(t->words, t->n_words);
        free(t);
        return NULL;
}

size_t ref_text_n_words(const RefText *t) {
        return t->n_words;
}

const char *ref_text_word(const RefText *t, size_t i) {
        return i < t->n_words ? t->words[i].word : NULL;
}

unsigned ref_text_word_flags(const RefText *t, size_t i) {
        return i < t->n_words ? t->words[i].flags : 0;
}

static bool word_matches(const RefTerm *t, size_t j, const RefWord *w) {
        const RefWord *tw = &t->words[j];
        bool accents = t->flags & TERM_IGNORE_ACCENTS;
        const char *want = accents ? tw->stripped : tw->word;
        const char *got = accents ? w->stripped : w->word;

        if ((w->flags & tw->flags) != tw->flags)
                return false;
        if (tw->prefix)
                return strncmp(got, want, strlen(want)) == 0;
        return strcmp(got, want) == 0;
}

static int hit_compare(const void *a, const void *b) {
        const RefHit *x = a, *y = b;
        uint64_t ex = (uint64_t)x->first_word + x->n_words, ey = (uint64_t)y->first_word + y->n_words;

        if (ex != ey)
                return ex < ey ? -1 : 1;
        if (x->term != y->term)
                return x->term < y->term ? -1 : 1;
        if (x->first_word != y->first_word)
                return x->first_word < y->first_word ? -1 : 1;
        return 0;
}

int ref_match(const RefTerm *const *terms, const uint32_t *ids, size_t n_terms,
              const RefText *text, RefHit **ret_hits, size_t *ret_n_hits) {
        _cleanup_free_ RefHit *hits = NULL;
        size_t n = 0, allocated = 0, kept = 0;

        for (size_t k = 0; k < n_terms; k++) {
                const RefTerm *t = terms[k];

                if (!t)
                        continue;
                for (size_t i = 0; i < text->n_words; i++) {
                        bool whole = i + t->n_words <= text->n_words, inside = false;

                        for (size_t j = 0; whole && j < t->n_words; j++)
                                whole = word_matches(t, j, &text->words[i + j]);

                        /* A term of marks only has nothing left to look for with accents
                         * ignored: an empty needle would be "inside" every hashtag. */
                        if ((t->flags & TERM_INSIDE_HASHTAGS) &&
                            (text->words[i].flags & REF_WORD_HASHTAG) &&
                            *(t->flags & TERM_IGNORE_ACCENTS ? t->joined_stripped : t->joined)) {
                                if (t->flags & TERM_IGNORE_ACCENTS)
                                        inside = strstr(text->words[i].stripped,
                                                        t->joined_stripped);
                                else
                                        inside = strstr(text->words[i].word, t->joined);
                        }

                        for (int pass = 0; pass < 2; pass++) {
                                if (!(pass == 0 ? whole : inside))
                                        continue;
                                if (n == allocated) {
                                        size_t a = allocated ? allocated * 2 : 16;
                                        RefHit *p = realloc(hits, a * sizeof(RefHit));

                                        if (!p)
                                                return -ENOMEM;
                                        hits = p;
                                        allocated = a;
                                }
                                hits[n++] = (RefHit){
                                        .term = ids ? ids[k] : (uint32_t)k,
                                        .first_word = (uint32_t)i,
                                        .n_words = pass == 0 ? (uint32_t)t->n_words : 1,
                                };
                        }
                }
        }

        if (n > 0)
                qsort(hits, n, sizeof(RefHit), hit_compare);

        /* Keep the first (earliest-ending) hit of every (term, first_word). */
        for (size_t i = 0; i < n; i++) {
                bool seen = false;

                for (size_t j = 0; j < kept && !seen; j++)
                        seen = hits[j].term == hits[i].term &&
                               hits[j].first_word == hits[i].first_word;
                if (!seen)
                        hits[kept++] = hits[i];
        }

        *ret_hits = kept > 0 ? TAKE_PTR(hits) : NULL;
        *ret_n_hits = kept;
        return 0;
}
