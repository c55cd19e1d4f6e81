/* SPDX-License-Identifier: MIT */
/*
 * test-match-property.c - the automaton in match.c against the naive reference matcher
 * (reference-match.c): random term sets and texts, drawn from a small alphabet chosen to collide
 * (case and ё variants, ß/ss, full-width letters, İ, combining accents, emoji with skin tones,
 * '#', '@', apostrophes, '_', digits, line breaks, NULs, invalid UTF-8, prefix stars, quotes,
 * both flags), must give exactly the same hits for every text. A mismatch is shrunk (terms and
 * text tokens dropped while it persists) and printed with the seed.
 *
 * EARSHOT_TEST_SEED picks the seed (default below); EARSHOT_PROPERTY_ITERATIONS the number of
 * term sets (each scanned with several texts) for soak runs; EARSHOT_PROPERTY_KEEP_GOING=1
 * reports every mismatch instead of stopping at the first.
 */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <utf8proc.h>

#include "util/cleanup.h"
#include "match.h"
#include "reference-match.h"

#define TEST(n, f)                                                                             \
        { .name = (n), .test_func = (f) }

#define DEFAULT_SEED UINT64_C(20240611)
#define DEFAULT_ITERATIONS 2000
#define TEXTS_PER_SET 6
#define MAX_TERMS 8
#define MAX_TOKENS 32

/* xorshift64*: small, fast and the same everywhere. */
static uint64_t rng_state;

static uint64_t rng(void) {
        rng_state ^= rng_state >> 12;
        rng_state ^= rng_state << 25;
        rng_state ^= rng_state >> 27;
        return rng_state * UINT64_C(2685821657736338717);
}

static size_t pick(size_t n) {
        return (size_t)(rng() % n);
}

static bool chance(unsigned percent) {
        return pick(100) < percent;
}

typedef struct Tok {
        const char *s;
        size_t len;
} Tok;

#define T(x) { (x), sizeof(x) - 1 }

/* Words for terms and texts: variants that fold, or do not fold, to each other. */
static const Tok words[] = {
        T("acme"), T("Acme"), T("ACME"), T("ａｃｍｅ"), T("Ａｃｍｅ"), T("acme2"),
        T("acme_support"), T("mac"), T("meal"), T("macmeal"), T("fail"), T("acmefail"),
        T("FixAcmeNow"), T("refund"), T("Refund"), T("REFUNDS"), T("refunds"), T("money"),
        T("back"), T("moneyback"), T("support"), T("it"), T("s"), T("2"), T("24"),
        T("верните"), T("ВЕРНИТЕ"), T("деньги"), T("ДЕНЬГИ"), T("не"), T("работает"),
        T("работа"), T("ёлка"), T("Ёлка"), T("елка"), T("ЕЛКА"), T("йод"), T("Йод"), T("иод"),
        T("straße"), T("STRASSE"), T("strasse"), T("ß"), T("ss"), T("SS"), T("café"), T("CAFÉ"),
        T("cafe"), T("cafe\xCC\x81"), T("CAFE\xCC\x81"), T("naïve"), T("naive"), T("öl"),
        T("ol"), T("İstanbul"), T("istanbul"), T("ıstanbul"), T("I"), T("i"), T("İ"),
        T("σίσυφος"), T("ΣΊΣΥΦΟΣ"), T("中国"), T("国"), T("😡"), T("👍"),
        T("😡\xF0\x9F\x8F\xBD"), T("👍\xF0\x9F\x8F\xBB"),
};

/* Everything else a text may hold between (or glued onto) words. */
static const Tok separators[] = {
        T(" "), T(" "), T(" "), T("  "), T("\n"), T("\r\n"), T("\t"), T("."), T(","), T("!"),
        T("?"), T("-"), T(" - "), T("'"), T("’"), T("_"), T("#"), T("#"), T("@"), T("\0"),
        T("\xFF"), T("\xC3"), T("\xE2\x82"), T("\xF0\x9F\x8F\xBD"), T("\xEF\xB8\x8F"),
        T("\xCC\x81"), T("™"), T("https://"), T(".com/"), T("…"), T("*"), T("\""), T("、"),
        T("＃"), T("＠"), T(""),
};

/* Joins between the words of a phrase term. */
static const Tok joins[] = {
        T(" "), T(" "), T(" "), T("  "), T(" - "), T("."), T("\n"), T(", "), T("'"),
};

/* Pieces of odd terms, valid or not. */
static const Tok odd[] = {
        T("*"), T("\""), T("#"), T("@"), T(" "), T("."), T("acme"), T("ref"), T("ё"), T("😡"),
        T("\xF0\x9F\x8F\xBD"), T("\xCC\x81"), T("\xFF"), T("™"), T("_"), T("2"), T("'"),
};

typedef struct Case {
        char *terms[MAX_TERMS]; /* owned */
        unsigned flags[MAX_TERMS];
        size_t n_terms;
        Tok text[MAX_TOKENS]; /* static strings */
        size_t n_tokens;
        size_t sources[MAX_TERMS * 4]; /* indexes into words[] used by the terms */
        size_t n_sources;
        size_t pool[4]; /* when set, the only words of terms and text: phrases overlap a lot */
        size_t n_pool;
} Case;

static void case_done(Case *c) {
        for (size_t i = 0; i < c->n_terms; i++)
                free(c->terms[i]);
        c->n_terms = 0;
}

static void case_copy(Case *dst, const Case *src) {
        *dst = *src;
        for (size_t i = 0; i < src->n_terms; i++) {
                dst->terms[i] = strdup(src->terms[i]);
                assert_non_null(dst->terms[i]);
        }
}

/* The first n code points of a word (at least one). */
static size_t cut_length(const Tok *w, size_t n) {
        size_t i = 0;

        for (size_t k = 0; k < n && i < w->len; k++) {
                i++;
                while (i < w->len && ((unsigned char)w->s[i] & 0xC0) == 0x80)
                        i++;
        }
        return i;
}

static char *random_term(Case *c) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        FILE *f;

        f = open_memstream(&buf, &size);
        assert_non_null(f);

        if (chance(6)) {
                /* A jumble of odd pieces: exercises rejection and the edges of '*'. */
                size_t n = 1 + pick(4);

                for (size_t i = 0; i < n; i++) {
                        const Tok *t = &odd[pick(ELEMENTSOF(odd))];
                        fwrite(t->s, 1, t->len, f);
                }
        } else {
                size_t n = 1 + pick(c->n_pool > 0 ? 4 : 3);
                bool quoted = chance(15), padded = chance(10);

                if (padded)
                        fputs("  ", f);
                if (quoted)
                        fputc('"', f);
                for (size_t i = 0; i < n; i++) {
                        size_t k = c->n_pool > 0 ? c->pool[pick(c->n_pool)]
                                                 : pick(ELEMENTSOF(words));
                        const Tok *w = &words[k];
                        size_t len = w->len;
                        bool star = chance(12);

                        if (c->n_sources < ELEMENTSOF(c->sources))
                                c->sources[c->n_sources++] = k;
                        if (i > 0) {
                                const Tok *j = &joins[pick(ELEMENTSOF(joins))];
                                fwrite(j->s, 1, j->len, f);
                        }
                        if (chance(8))
                                fputc('#', f);
                        else if (chance(5))
                                fputc('@', f);
                        if (star)
                                len = cut_length(w, 1 + pick(5));
                        fwrite(w->s, 1, len, f);
                        if (star)
                                fputc('*', f);
                }
                if (quoted)
                        fputc('"', f);
                if (padded)
                        fputs(" ", f);
        }
        assert_int_equal(fclose(f), 0);
        return TAKE_PTR(buf);
}

static void random_text(Case *c) {
        c->n_tokens = pick(MAX_TOKENS - 4);
        for (size_t i = 0; i < c->n_tokens; i++) {
                if (c->n_pool > 0 && chance(55))
                        /* words of a tiny pool, mostly separated by blanks */
                        c->text[i] = chance(80) ? words[c->pool[pick(c->n_pool)]]
                                                : words[pick(ELEMENTSOF(words))];
                else if (c->n_pool > 0 && chance(70))
                        c->text[i] = chance(75) ? separators[0]
                                                : separators[pick(ELEMENTSOF(separators))];
                else if (chance(50)) {
                        if (c->n_sources > 0 && chance(60))
                                c->text[i] = words[c->sources[pick(c->n_sources)]];
                        else
                                c->text[i] = words[pick(ELEMENTSOF(words))];
                } else
                        c->text[i] = separators[pick(ELEMENTSOF(separators))];
        }
}

static void random_terms(Case *c) {
        c->n_terms = 1 + pick(MAX_TERMS);
        c->n_sources = 0;
        c->n_pool = chance(30) ? 2 + pick(ELEMENTSOF(c->pool) - 1) : 0;
        for (size_t i = 0; i < c->n_pool; i++)
                c->pool[i] = pick(ELEMENTSOF(words));
        for (size_t i = 0; i < c->n_terms; i++) {
                c->terms[i] = random_term(c);
                c->flags[i] = (chance(35) ? TERM_IGNORE_ACCENTS : 0) |
                              (chance(35) ? TERM_INSIDE_HASHTAGS : 0);
        }
}

static char *case_text(const Case *c, size_t *ret_len) {
        size_t len = 0;
        char *s;

        for (size_t i = 0; i < c->n_tokens; i++)
                len += c->text[i].len;
        s = malloc(len + 1);
        assert_non_null(s);
        len = 0;
        for (size_t i = 0; i < c->n_tokens; i++) {
                memcpy(s + len, c->text[i].s, c->text[i].len);
                len += c->text[i].len;
        }
        s[len] = 0;
        *ret_len = len;
        return s;
}

/* Bytes as a C string literal: marks, format characters and invalid bytes escaped. */
static void print_escaped(FILE *f, const char *s, size_t len) {
        fputc('"', f);
        for (size_t i = 0; i < len;) {
                unsigned char c = (unsigned char)s[i];
                utf8proc_int32_t cp;
                utf8proc_ssize_t n;

                if (c == '"' || c == '\\') {
                        fprintf(f, "\\%c", c);
                        i++;
                        continue;
                }
                if (c == '\n' || c == '\r' || c == '\t') {
                        fputs(c == '\n' ? "\\n" : c == '\r' ? "\\r" : "\\t", f);
                        i++;
                        continue;
                }
                if (c >= 0x20 && c < 0x7F) {
                        fputc(c, f);
                        i++;
                        continue;
                }
                n = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(len - i),
                                     &cp);
                if (c < 0x80 || n <= 0) {
                        fprintf(f, "\\x%02X\"\"", c);
                        i++;
                        continue;
                }
                switch (utf8proc_category(cp)) {
                case UTF8PROC_CATEGORY_MN:
                case UTF8PROC_CATEGORY_ME:
                case UTF8PROC_CATEGORY_CF:
                case UTF8PROC_CATEGORY_SK:
                case UTF8PROC_CATEGORY_ZS:
                        if (cp > 0xFFFF)
                                fprintf(f, "\\U%08" PRIX32, (uint32_t)cp);
                        else
                                fprintf(f, "\\u%04" PRIX32, (uint32_t)cp);
                        break;
                default:
                        fwrite(s + i, 1, (size_t)n, f);
                }
                i += (size_t)n;
        }
        fputc('"', f);
}

static const char *flags_to_string(unsigned flags) {
        static const char *const names[] = { "0", "IGNORE_ACCENTS", "INSIDE_HASHTAGS",
                                             "IGNORE_ACCENTS|INSIDE_HASHTAGS" };
        return names[flags & 3];
}

static void print_hits(FILE *f, const char *what, const RefHit *h, size_t n) {
        fprintf(f, "%s (%zu):", what, n);
        for (size_t i = 0; i < n; i++)
                fprintf(f, " {term %" PRIu32 ", word %" PRIu32 ", n %" PRIu32 "}", h[i].term,
                        h[i].first_word, h[i].n_words);
        fputc('\n', f);
}

/* Both sides of one term set. */
typedef struct Compiled {
        RefTerm *ref[MAX_TERMS];
        Term *term[MAX_TERMS];
        uint32_t ids[MAX_TERMS];
        Matcher *matcher;
} Compiled;

static void compiled_done(Compiled *c) {
        for (size_t i = 0; i < MAX_TERMS; i++) {
                c->ref[i] = ref_term_free(c->ref[i]);
                c->term[i] = term_free(c->term[i]);
        }
        c->matcher = matcher_free(c->matcher);
}

static bool same_parse(const RefTerm *a, const RefTerm *b) {
        bool accents = ref_term_flags(a) & TERM_IGNORE_ACCENTS;

        if (ref_term_flags(a) != ref_term_flags(b) || ref_term_n_words(a) != ref_term_n_words(b))
                return false;
        for (size_t i = 0; i < ref_term_n_words(a); i++) {
                if (ref_term_word_prefix(a, i) != ref_term_word_prefix(b, i) ||
                    ref_term_word_flags(a, i) != ref_term_word_flags(b, i))
                        return false;
                /* with accents ignored, words differing only in accents are the same */
                if (!accents && !streq(ref_term_word(a, i), ref_term_word(b, i)))
                        return false;
        }
        return true;
}

/*
 * Compile the terms both ways. Returns NULL, or a malloc()ed description of how the two
 * disagree about the terms themselves.
 */
static char *compile(const Case *k, Compiled *c) {
        _cleanup_(matcher_builder_freep) MatcherBuilder *b = NULL;
        _cleanup_free_ char *out = NULL;
        size_t size = 0, n_ids = 0;
        bool bad = false;
        FILE *f;

        *c = (Compiled){};
        assert_int_equal(matcher_builder_new(&b), 0);
        f = open_memstream(&out, &size);
        assert_non_null(f);

        for (size_t i = 0; i < k->n_terms; i++) {
                const char *e1 = NULL, *e2 = NULL;
                int r1, r2;

                r1 = ref_term_new(k->terms[i], k->flags[i], &c->ref[i], &e1);
                r2 = term_new(k->terms[i], k->flags[i], &c->term[i], &e2);
                assert_true(r1 == 0 || r1 == -EINVAL);
                assert_true(r2 == 0 || r2 == -EINVAL);
                if ((r1 < 0) != (r2 < 0)) {
                        fprintf(f, "term %zu ", i);
                        print_escaped(f, k->terms[i], strlen(k->terms[i]));
                        fprintf(f, ": reference %s, term_new() %s\n",
                                r1 < 0 ? e1 : "accepts", r2 < 0 ? strna(e2) : "accepts");
                        bad = true;
                        continue;
                }
                if (r2 < 0) {
                        if (!e2) {
                                fprintf(f, "term %zu: rejected without a message\n", i);
                                bad = true;
                        }
                        continue;
                }

                if (term_n_words(c->term[i]) != ref_term_n_words(c->ref[i]) ||
                    term_flags(c->term[i]) != k->flags[i]) {
                        fprintf(f, "term %zu ", i);
                        print_escaped(f, k->terms[i], strlen(k->terms[i]));
                        fprintf(f, ": %zu words, flags %u; reference %zu words, flags %u\n",
                                term_n_words(c->term[i]), term_flags(c->term[i]),
                                ref_term_n_words(c->ref[i]), k->flags[i]);
                        bad = true;
                        continue;
                }
                if (k->flags[i] == 0) {
                        for (size_t w = 0; w < ref_term_n_words(c->ref[i]); w++)
                                if (!streq(strna(term_word(c->term[i], w)),
                                           ref_term_word(c->ref[i], w))) {
                                        fprintf(f, "term %zu word %zu: \"%s\", reference \"%s\"\n",
                                                i, w, strna(term_word(c->term[i], w)),
                                                ref_term_word(c->ref[i], w));
                                        bad = true;
                                }
                        if (term_min_word_length(c->term[i]) !=
                            ref_term_min_word_length(c->ref[i])) {
                                fprintf(f, "term %zu: min word length %zu, reference %zu\n", i,
                                        term_min_word_length(c->term[i]),
                                        ref_term_min_word_length(c->ref[i]));
                                bad = true;
                        }
                }

                assert_int_equal(matcher_builder_add(b, c->term[i], &c->ids[i]), 0);
                if (c->ids[i] > n_ids) {
                        fprintf(f, "term %zu: id %" PRIu32 " is not dense (%zu so far)\n", i,
                                c->ids[i], n_ids);
                        bad = true;
                } else if (c->ids[i] == n_ids)
                        n_ids++;
                /* terms sharing an id must match alike */
                for (size_t j = 0; j < i; j++)
                        if (c->term[j] && c->ids[j] == c->ids[i] &&
                            !same_parse(c->ref[i], c->ref[j])) {
                                fprintf(f, "terms %zu and %zu share id %" PRIu32
                                           " (key \"%s\") but match differently\n",
                                        j, i, c->ids[i], term_key(c->term[i]));
                                bad = true;
                        }
        }

        assert_int_equal(matcher_build(b, &c->matcher), 0);
        if (matcher_n_terms(c->matcher) != n_ids) {
                fprintf(f, "matcher_n_terms() = %zu, %zu ids handed out\n",
                        matcher_n_terms(c->matcher), n_ids);
                bad = true;
        }
        assert_int_equal(fclose(f), 0);
        return bad ? TAKE_PTR(out) : NULL;
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
        return x->n_words < y->n_words ? -1 : x->n_words > y->n_words;
}

/*
 * Scan one text both ways. Returns NULL, or a malloc()ed description of the difference. The
 * automaton's hits must be ordered by end word, then term id; within that the contract does not
 * fix an order, so both lists are compared after sorting by first word too.
 */
static char *compare_text(const Case *k, const Compiled *c, const char *text, size_t len,
                          Scan *s) {
        _cleanup_(ref_text_freep) RefText *rt = NULL;
        _cleanup_free_ RefHit *want = NULL, *got = NULL;
        _cleanup_free_ char *out = NULL;
        size_t n_want, n_got, size = 0;
        const MatchHit *h;
        bool bad = false, unordered = false;
        FILE *f;

        assert_int_equal(ref_text_new(text, len, &rt), 0);
        assert_int_equal(ref_match((const RefTerm *const *)c->ref, c->ids, k->n_terms, rt, &want,
                                   &n_want),
                         0);
        assert_int_equal(matcher_scan(c->matcher, text, len, s), 0);

        n_got = scan_n_hits(s);
        h = scan_hits(s);
        got = calloc(n_got + 1, sizeof(RefHit));
        assert_non_null(got);
        for (size_t i = 0; i < n_got; i++) {
                got[i] = (RefHit){ h[i].term, h[i].first_word, h[i].n_words };
                if (i > 0) {
                        uint64_t e0 = (uint64_t)h[i - 1].first_word + h[i - 1].n_words,
                                 e1 = (uint64_t)h[i].first_word + h[i].n_words;
                        if (e0 > e1 || (e0 == e1 && h[i - 1].term > h[i].term))
                                unordered = true;
                }
        }
        if (n_got > 1)
                qsort(got, n_got, sizeof(RefHit), hit_compare);

        bad = unordered || scan_n_words(s) != ref_text_n_words(rt) || n_got != n_want ||
              (n_got > 0 && memcmp(got, want, n_got * sizeof(RefHit)) != 0);
        if (!bad)
                return NULL;

        f = open_memstream(&out, &size);
        assert_non_null(f);
        fprintf(f, "terms:\n");
        for (size_t i = 0; i < k->n_terms; i++) {
                fprintf(f, "  [%zu] ", i);
                print_escaped(f, k->terms[i], strlen(k->terms[i]));
                if (c->term[i])
                        fprintf(f, " flags %s -> id %" PRIu32 "\n", flags_to_string(k->flags[i]),
                                c->ids[i]);
                else
                        fprintf(f, " flags %s (rejected)\n", flags_to_string(k->flags[i]));
        }
        fprintf(f, "text: ");
        print_escaped(f, text, len);
        fprintf(f, "\nreference words (%zu):", ref_text_n_words(rt));
        for (size_t i = 0; i < ref_text_n_words(rt); i++) {
                unsigned fl = ref_text_word_flags(rt, i);
                const char *w = ref_text_word(rt, i);

                fprintf(f, " %zu:%s", i, fl & REF_WORD_HASHTAG ? "#" : fl & REF_WORD_MENTION ? "@" : "");
                print_escaped(f, w, strlen(w));
        }
        fprintf(f, "\nscan_n_words() = %zu\n", scan_n_words(s));
        if (unordered)
                fprintf(f, "matcher_scan() hits are not ordered by end word, then term id\n");
        print_hits(f, "want", want, n_want);
        print_hits(f, "got ", got, n_got);
        assert_int_equal(fclose(f), 0);
        return TAKE_PTR(out);
}

/* Full check of one case (one text); NULL when both sides agree. */
static char *check_case(const Case *k, Scan *s) {
        _cleanup_(compiled_done) Compiled c = {};
        _cleanup_free_ char *text = NULL;
        char *e;
        size_t len;

        e = compile(k, &c);
        if (e)
                return e;
        text = case_text(k, &len);
        return compare_text(k, &c, text, len, s);
}

/* Drop terms and text tokens, and clear flags, while the case still fails. */
static void shrink(Case *k, Scan *s) {
        bool progress = true;

        while (progress) {
                progress = false;
                for (size_t i = 0; i < k->n_terms && k->n_terms > 1; i++) {
                        _cleanup_free_ char *e = NULL;
                        Case t;

                        case_copy(&t, k);
                        free(t.terms[i]);
                        memmove(t.terms + i, t.terms + i + 1, (t.n_terms - i - 1) * sizeof(char *));
                        memmove(t.flags + i, t.flags + i + 1, (t.n_terms - i - 1) * sizeof(unsigned));
                        t.n_terms--;
                        e = check_case(&t, s);
                        if (e) {
                                case_done(k);
                                *k = t;
                                progress = true;
                                i--;
                        } else
                                case_done(&t);
                }
                for (size_t i = 0; i < k->n_tokens; i++) {
                        _cleanup_free_ char *e = NULL;
                        Tok saved = k->text[i];

                        memmove(k->text + i, k->text + i + 1, (k->n_tokens - i - 1) * sizeof(Tok));
                        k->n_tokens--;
                        e = check_case(k, s);
                        if (e) {
                                progress = true;
                                i--;
                        } else {
                                memmove(k->text + i + 1, k->text + i,
                                        (k->n_tokens - i) * sizeof(Tok));
                                k->text[i] = saved;
                                k->n_tokens++;
                        }
                }
                for (size_t i = 0; i < k->n_terms; i++)
                        for (unsigned bit = 1; bit <= 2; bit <<= 1) {
                                _cleanup_free_ char *e = NULL;

                                if (!(k->flags[i] & bit))
                                        continue;
                                k->flags[i] &= ~bit;
                                e = check_case(k, s);
                                if (e)
                                        progress = true;
                                else
                                        k->flags[i] |= bit;
                        }
        }
}

static uint64_t env_u64(const char *name, uint64_t def) {
        const char *v = getenv(name);
        char *end;
        unsigned long long x;

        if (isempty(v))
                return def;
        errno = 0;
        x = strtoull(v, &end, 0);
        if (errno != 0 || *end != 0)
                return def;
        return x;
}

static void report(uint64_t seed, size_t iteration, Case *k, const char *first, Scan *s) {
        _cleanup_free_ char *minimal = NULL;

        fprintf(stderr, "# MISMATCH: EARSHOT_TEST_SEED=%" PRIu64 ", term set %zu\n", seed,
                iteration);
        fprintf(stderr, "# --- as generated ---\n%s", first);
        shrink(k, s);
        minimal = check_case(k, s);
        fprintf(stderr, "# --- shrunk ---\n%s", minimal ? minimal : "(no longer fails?)\n");
}

static void test_random(void **state) {
        _cleanup_(scan_freep) Scan *plain = NULL, *spans = NULL;
        uint64_t seed = env_u64("EARSHOT_TEST_SEED", DEFAULT_SEED);
        uint64_t iterations = env_u64("EARSHOT_PROPERTY_ITERATIONS", DEFAULT_ITERATIONS);
        bool keep_going = env_u64("EARSHOT_PROPERTY_KEEP_GOING", 0) != 0;
        size_t failures = 0, scans = 0, hits = 0, phrase_hits = 0;
        struct timespec t0, t1;

        fprintf(stderr, "# seed: EARSHOT_TEST_SEED=%" PRIu64 ", term sets: %" PRIu64 "\n", seed,
                iterations);
        rng_state = seed ? seed : 1;
        assert_int_equal(scan_new(false, &plain), 0);
        assert_int_equal(scan_new(true, &spans), 0);
        clock_gettime(CLOCK_MONOTONIC, &t0);

        for (uint64_t it = 0; it < iterations; it++) {
                _cleanup_(compiled_done) Compiled c = {};
                _cleanup_(case_done) Case k = {};
                _cleanup_free_ char *e = NULL;

                random_terms(&k);
                e = compile(&k, &c);
                if (e) {
                        report(seed, it, &k, e, plain);
                        failures++;
                        if (!keep_going)
                                break;
                        continue;
                }
                for (size_t x = 0; x < TEXTS_PER_SET; x++) {
                        _cleanup_free_ char *text = NULL, *d = NULL;
                        Scan *s = x % 2 ? spans : plain;
                        size_t len;

                        random_text(&k);
                        text = case_text(&k, &len);
                        d = compare_text(&k, &c, text, len, s);
                        scans++;
                        hits += scan_n_hits(s);
                        for (size_t h = 0; h < scan_n_hits(s); h++)
                                phrase_hits += scan_hits(s)[h].n_words > 1;
                        if (!d && s == spans) {
                                /* spans lie in the text, in order */
                                size_t prev = 0;

                                for (size_t w = 0; w < scan_n_words(s); w++) {
                                        size_t a, b;

                                        scan_word_span(s, w, &a, &b);
                                        assert_true(a <= b && b <= len && a >= prev);
                                        prev = a;
                                }
                        }
                        if (d) {
                                Case m;

                                case_copy(&m, &k);
                                report(seed, it, &m, d, plain);
                                case_done(&m);
                                failures++;
                                break;
                        }
                }
                if (failures > 0 && !keep_going)
                        break;
        }

        clock_gettime(CLOCK_MONOTONIC, &t1);
        fprintf(stderr, "# %zu scans, %zu hits (%zu of phrases), %zu mismatching term sets, %.2f s\n",
                scans, hits, phrase_hits, failures,
                (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
        assert_int_equal(failures, 0);
}

static void test_invalid_terms(void **state) {
        static const char *const invalid[] = {
                "", "   ", "\"\"", "\"   \"", "\t\n", "...", "!!!", "#", "@", "#@", "\"#\"",
                "*", "**", "*acme", "ac*me", "acme**", "acme *", "acme* *", "#*", "\"*\"",
                "money *back", "*money back", "mo*ney back", "\xFF", "\xFF\xFE", "\xF0\x9F\x8F\xBD",
                "™", "— –", "'", "\"acme\"*",
        };
        static const char *const valid[] = {
                "acme", "\"money back\"", "money ba*", "не работа*", "#acme", "@acme",
                "acme.com", "😡", "refund*", "  \"  refund \" ", "#acme*", "mon* back",
                "ВЕРНИТЕ ДЕНЬГИ", "acme_support", "\"\"acme\"\"",
        };

        for (unsigned flags = 0; flags < 4; flags++) {
                for (size_t i = 0; i < ELEMENTSOF(invalid); i++) {
                        _cleanup_(ref_term_freep) RefTerm *r = NULL;
                        Term *t = (Term *)0x1;
                        const char *e1 = NULL, *e2 = NULL;

                        if (ref_term_new(invalid[i], flags, &r, &e1) != -EINVAL)
                                fail_msg("reference accepts invalid term \"%s\"", invalid[i]);
                        assert_non_null(e1);
                        if (term_new(invalid[i], flags, &t, &e2) != -EINVAL)
                                fail_msg("term_new() accepts invalid term \"%s\"", invalid[i]);
                        assert_non_null(e2);
                        assert_ptr_equal(t, (Term *)0x1);
                }
                for (size_t i = 0; i < ELEMENTSOF(valid); i++) {
                        _cleanup_(ref_term_freep) RefTerm *r = NULL;
                        _cleanup_(term_freep) Term *t = NULL;
                        const char *e = NULL;

                        if (ref_term_new(valid[i], flags, &r, &e) != 0)
                                fail_msg("reference rejects \"%s\": %s", valid[i], e);
                        if (term_new(valid[i], flags, &t, &e) != 0)
                                fail_msg("term_new() rejects \"%s\": %s", valid[i], e);
                        assert_int_equal(term_n_words(t), ref_term_n_words(r));
                }
        }
        /* NULL is as empty as "" */
        {
                Term *t = (Term *)0x1;
                const char *e = NULL;

                assert_int_equal(term_new(NULL, 0, &t, &e), -EINVAL);
                assert_ptr_equal(t, (Term *)0x1);
        }
}

/*
 * The examples of match.h, checked on both sides: first that the reference reads the header
 * as intended, then that the automaton agrees.
 */
static void test_examples(void **state) {
        static const struct {
                const char *term;
                unsigned flags;
                const char *text;
                int first_word; /* -1: no hit */
                unsigned n_words;
        } cases[] = {
                { "refund", 0, "I want a refund.", 3, 1 },
                { "refund", 0, "where is my #refund", 3, 1 },
                { "refund", 0, "ping @refund", 1, 1 },
                { "refund", 0, "refunds please", -1, 0 },
                { "\"money back\"", 0, "money - back", 0, 2 },
                { "money back", 0, "my money\nback", 1, 2 },
                { "refund*", 0, "REFUNDED yet", 0, 1 },
                { "не работа*", 0, "опять НЕ РАБОТАЕТ", 1, 2 },
                { "money ba*", 0, "money back", 0, 2 },
                { "mon* back", 0, "MONEY BACK", 0, 2 },
                { "#acme", 0, "down #acme", 1, 1 },
                { "#acme", 0, "down acme", -1, 0 },
                { "@acme", 0, "hi @acme", 1, 1 },
                { "@acme", 0, "hi #acme", -1, 0 },
                { "acme.com", 0, "https://shop.acme.com/x", 2, 2 },
                { "acme", 0, "acme2 acme_support", -1, 0 },
                { "acme", 0, "acme's", 0, 1 },
                { "😡", 0, "so angry😡\xF0\x9F\x8F\xBD", 2, 1 },
                { "Refund", 0, " REFUND ", 0, 1 },
                { "ＡＣＭＥ", 0, "acme", 0, 1 },
                { "straße", 0, "STRASSE", 0, 1 },
                { "ВЕРНИТЕ", 0, "верните", 0, 1 },
                { "istanbul", 0, "İSTANBUL", 0, 1 },
                { "ıstanbul", 0, "istanbul", -1, 0 },
                { "cafe", TERM_IGNORE_ACCENTS, "CAFÉ", 0, 1 },
                { "café", TERM_IGNORE_ACCENTS, "cafe", 0, 1 },
                { "cafe", 0, "café", -1, 0 },
                { "елка", TERM_IGNORE_ACCENTS, "Ёлка", 0, 1 },
                { "елка", 0, "ёлка", -1, 0 },
                { "ol", TERM_IGNORE_ACCENTS, "Öl", 0, 1 },
                { "иод", TERM_IGNORE_ACCENTS, "йод", -1, 0 },
                { "йод", TERM_IGNORE_ACCENTS, "ЙОД", 0, 1 },
                { "acme", TERM_INSIDE_HASHTAGS, "#acmefail", 0, 1 },
                { "acme", TERM_INSIDE_HASHTAGS, "#FixAcmeNow", 0, 1 },
                { "acme", TERM_INSIDE_HASHTAGS, "x #ihateacme", 1, 1 },
                { "acme", TERM_INSIDE_HASHTAGS, "acmefail", -1, 0 },
                { "acme", 0, "#acmefail", -1, 0 },
                { "money back", TERM_INSIDE_HASHTAGS, "#GiveMoneyBack", 0, 1 },
                { "cafe", TERM_INSIDE_HASHTAGS | TERM_IGNORE_ACCENTS, "#CaféDown", 0, 1 },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(ref_term_freep) RefTerm *r = NULL;
                _cleanup_(ref_text_freep) RefText *x = NULL;
                _cleanup_free_ RefHit *hits = NULL;
                _cleanup_(compiled_done) Compiled c = {};
                _cleanup_(scan_freep) Scan *s = NULL;
                _cleanup_free_ char *d = NULL;
                const RefTerm *terms[1];
                const char *e = NULL;
                size_t n;
                Case k = { .n_terms = 1 };

                assert_int_equal(ref_term_new(cases[i].term, cases[i].flags, &r, &e), 0);
                assert_int_equal(ref_text_new(cases[i].text, strlen(cases[i].text), &x), 0);
                terms[0] = r;
                assert_int_equal(ref_match(terms, NULL, 1, x, &hits, &n), 0);
                if (cases[i].first_word < 0) {
                        if (n != 0)
                                fail_msg("reference: %s in \"%s\": %zu hits, want none",
                                         cases[i].term, cases[i].text, n);
                } else if (n != 1 || hits[0].first_word != (uint32_t)cases[i].first_word ||
                           hits[0].n_words != cases[i].n_words)
                        fail_msg("reference: %s in \"%s\": %zu hits (first at %d), want one at %d",
                                 cases[i].term, cases[i].text, n,
                                 n > 0 ? (int)hits[0].first_word : -1, cases[i].first_word);

                /* the automaton */
                k.terms[0] = (char *)cases[i].term;
                k.flags[0] = cases[i].flags;
                assert_int_equal(scan_new(false, &s), 0);
                d = compile(&k, &c);
                if (!d)
                        d = compare_text(&k, &c, cases[i].text, strlen(cases[i].text), s);
                if (d)
                        fail_msg("%s", d);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                TEST("match-property/examples", test_examples),
                TEST("match-property/invalid-terms", test_invalid_terms),
                TEST("match-property/random", test_random),
        };

        return cmocka_run_group_tests_name("match-property", tests, NULL, NULL);
}
