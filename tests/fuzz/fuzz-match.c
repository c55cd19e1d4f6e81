/* SPDX-License-Identifier: MIT */
/*
 * fuzz-match.c - libFuzzer target for term compilation and matching (match.h).
 *
 * Input layout: byte 0 holds the flags of the terms, two bits per term in turn (term k gets
 * bits 2(k mod 4) and 2(k mod 4)+1: TERM_IGNORE_ACCENTS, TERM_INSIDE_HASHTAGS). The bytes up
 * to the first NUL are the terms, one a line; everything after that NUL is the text, NULs and
 * all. Without a NUL the lines are the terms and the same bytes are also the text.
 *
 * Every term must be accepted or rejected alike by term_new() and the reference matcher; the
 * accepted ones are built into a Matcher and the text is scanned three times (twice with the
 * same Scan, once with spans), which must agree. The hits must be ordered by end word, then
 * term id, with ids below matcher_n_terms(), inside the text's words and without a repeated
 * (term, first_word). For small inputs the hits must also equal the reference's exactly. Any
 * violation is printed and abort()s.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"
#include "match.h"
#include "reference-match.h"

#define MAX_TERMS 64
#define MAX_TERM_LENGTH 256
/* Beyond this the quadratic reference would slow the fuzzer down too much. */
#define REFERENCE_MAX_TEXT 1024
#define REFERENCE_MAX_TERMS 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

_Static_assert(sizeof(RefHit) == sizeof(MatchHit), "RefHit and MatchHit share a layout");

_printf_(1, 2) static _Noreturn void die(const char *format, ...) {
        va_list ap;

        va_start(ap, format);
        vfprintf(stderr, format, ap);
        va_end(ap);
        fputc('\n', stderr);
        abort();
}

static void print_hits(const char *what, const MatchHit *h, size_t n) {
        fprintf(stderr, "%s (%zu):", what, n);
        for (size_t i = 0; i < n; i++)
                fprintf(stderr, " {term %" PRIu32 ", word %" PRIu32 ", n %" PRIu32 "}", h[i].term,
                        h[i].first_word, h[i].n_words);
        fputc('\n', stderr);
}

static int hit_compare(const void *a, const void *b) {
        const MatchHit *x = a, *y = b;
        uint64_t ex = (uint64_t)x->first_word + x->n_words, ey = (uint64_t)y->first_word + y->n_words;

        if (ex != ey)
                return ex < ey ? -1 : 1;
        if (x->term != y->term)
                return x->term < y->term ? -1 : 1;
        if (x->first_word != y->first_word)
                return x->first_word < y->first_word ? -1 : 1;
        return x->n_words < y->n_words ? -1 : x->n_words > y->n_words;
}

static void check_invariants(const Matcher *m, const Scan *s) {
        const MatchHit *h = scan_hits(s);
        size_t n = scan_n_hits(s), words = scan_n_words(s);

        for (size_t i = 0; i < n; i++) {
                if (h[i].term >= matcher_n_terms(m))
                        die("hit %zu: term %" PRIu32 " of %zu", i, h[i].term, matcher_n_terms(m));
                if (h[i].n_words == 0 || (uint64_t)h[i].first_word + h[i].n_words > words)
                        die("hit %zu: words %" PRIu32 "+%" PRIu32 " of %zu", i, h[i].first_word,
                            h[i].n_words, words);
                if (i > 0) {
                        uint64_t e0 = (uint64_t)h[i - 1].first_word + h[i - 1].n_words,
                                 e1 = (uint64_t)h[i].first_word + h[i].n_words;

                        if (e0 > e1 || (e0 == e1 && h[i - 1].term > h[i].term)) {
                                print_hits("hits", h, n);
                                die("hits %zu and %zu out of order", i - 1, i);
                        }
                }
                /* Same (term, first_word) means same end only if n_words is the same: look back
                 * over every earlier hit. Quadratic, but hits are few. */
                for (size_t j = 0; j < i; j++)
                        if (h[j].term == h[i].term && h[j].first_word == h[i].first_word) {
                                print_hits("hits", h, n);
                                die("hits %zu and %zu repeat term %" PRIu32 " at word %" PRIu32,
                                    j, i, h[i].term, h[i].first_word);
                        }
        }
}

static void compare_reference(RefTerm *const *ref, const uint32_t *ids, size_t n_terms,
                              const char *text, size_t len, const Scan *s) {
        _cleanup_(ref_text_freep) RefText *rt = NULL;
        _cleanup_free_ RefHit *want = NULL;
        _cleanup_free_ MatchHit *got = NULL;
        size_t n_want, n_got = scan_n_hits(s);
        bool same;

        if (ref_text_new(text, len, &rt) < 0 ||
            ref_match((const RefTerm *const *)ref, ids, n_terms, rt, &want, &n_want) < 0)
                die("reference: out of memory");

        got = malloc((n_got + 1) * sizeof(MatchHit));
        if (!got)
                die("out of memory");
        if (n_got > 0)
                memcpy(got, scan_hits(s), n_got * sizeof(MatchHit));
        qsort(got, n_got, sizeof(MatchHit), hit_compare);

        same = n_got == n_want && scan_n_words(s) == ref_text_n_words(rt);
        for (size_t i = 0; same && i < n_got; i++)
                same = got[i].term == want[i].term && got[i].first_word == want[i].first_word &&
                       got[i].n_words == want[i].n_words;
        if (same)
                return;

        fprintf(stderr, "text words: scan %zu, reference %zu:", scan_n_words(s),
                ref_text_n_words(rt));
        for (size_t i = 0; i < ref_text_n_words(rt); i++)
                fprintf(stderr, " %zu:%s\"%s\"", i,
                        ref_text_word_flags(rt, i) & REF_WORD_HASHTAG   ? "#"
                        : ref_text_word_flags(rt, i) & REF_WORD_MENTION ? "@"
                                                                        : "",
                        ref_text_word(rt, i));
        fputc('\n', stderr);
        print_hits("want", (const MatchHit *)want, n_want);
        print_hits("got ", got, n_got);
        die("matcher and reference disagree");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(matcher_builder_freep) MatcherBuilder *b = NULL;
        _cleanup_(matcher_freep) Matcher *m = NULL;
        _cleanup_(scan_freep) Scan *s = NULL, *spans = NULL;
        _cleanup_free_ MatchHit *first = NULL;
        Term *terms[MAX_TERMS] = {};
        RefTerm *ref[MAX_TERMS] = {};
        uint32_t ids[MAX_TERMS] = {};
        const char *p, *end, *text, *nul;
        size_t n_terms = 0, text_len, n_first;
        unsigned flag_bits;

        if (size < 1)
                return 0;
        flag_bits = data[0];
        p = (const char *)data + 1;
        end = (const char *)data + size;
        nul = memchr(p, 0, (size_t)(end - p));
        if (nul) {
                text = nul + 1;
                text_len = (size_t)(end - text);
                end = nul;
        } else {
                text = p;
                text_len = (size_t)(end - p);
        }

        if (matcher_builder_new(&b) < 0)
                die("out of memory");

        while (p < end && n_terms < MAX_TERMS) {
                const char *eol = memchr(p, '\n', (size_t)(end - p));
                size_t len = (size_t)((eol ? eol : end) - p);
                unsigned flags = (flag_bits >> (2 * (n_terms % 4))) & 3;
                char src[MAX_TERM_LENGTH + 1];
                const char *e1 = NULL, *e2 = NULL;
                int r1, r2;

                if (len > MAX_TERM_LENGTH)
                        len = MAX_TERM_LENGTH;
                memcpy(src, p, len);
                src[len] = 0;
                p = eol ? eol + 1 : end;

                r1 = ref_term_new(src, flags, &ref[n_terms], &e1);
                r2 = term_new(src, flags, &terms[n_terms], &e2);
                if (r1 == -ENOMEM || r2 == -ENOMEM)
                        die("out of memory");
                if ((r1 < 0) != (r2 < 0))
                        die("term \"%s\" flags %u: reference %s, term_new() %s", src, flags,
                            r1 < 0 ? e1 : "accepts", r2 < 0 ? strna(e2) : "accepts");
                if (r2 < 0) {
                        if (r2 != -EINVAL || !e2)
                                die("term \"%s\": error %d without a message", src, r2);
                        continue;
                }
                if (term_n_words(terms[n_terms]) != ref_term_n_words(ref[n_terms]))
                        die("term \"%s\": %zu words, reference %zu", src,
                            term_n_words(terms[n_terms]), ref_term_n_words(ref[n_terms]));
                if (matcher_builder_add(b, terms[n_terms], &ids[n_terms]) < 0)
                        die("out of memory");
                n_terms++;
        }

        if (matcher_build(b, &m) < 0)
                die("out of memory");
        b = matcher_builder_free(b);
        if (scan_new(false, &s) < 0 || scan_new(true, &spans) < 0)
                die("out of memory");

        if (matcher_scan(m, text, text_len, s) < 0)
                die("out of memory");
        check_invariants(m, s);
        n_first = scan_n_hits(s);
        first = malloc((n_first + 1) * sizeof(MatchHit));
        if (!first)
                die("out of memory");
        if (n_first > 0)
                memcpy(first, scan_hits(s), n_first * sizeof(MatchHit));

        /* A reused Scan and a Scan with spans see the same. */
        if (matcher_scan(m, text, text_len, s) < 0 || matcher_scan(m, text, text_len, spans) < 0)
                die("out of memory");
        if (scan_n_hits(s) != n_first || scan_n_hits(spans) != n_first ||
            (n_first > 0 && (memcmp(scan_hits(s), first, n_first * sizeof(MatchHit)) != 0 ||
                             memcmp(scan_hits(spans), first, n_first * sizeof(MatchHit)) != 0)))
                die("rescanning gives other hits");
        if (scan_n_words(spans) != scan_n_words(s))
                die("a Scan with spans counts %zu words, without %zu", scan_n_words(spans),
                    scan_n_words(s));
        for (size_t i = 0, prev = 0; i < scan_n_words(spans); i++) {
                size_t a, z;

                scan_word_span(spans, i, &a, &z);
                if (a > z || z > text_len || a < prev)
                        die("word %zu: span [%zu, %zu) after %zu, text of %zu bytes", i, a, z,
                            prev, text_len);
                prev = a;
        }

        if (text_len <= REFERENCE_MAX_TEXT && n_terms <= REFERENCE_MAX_TERMS)
                compare_reference(ref, ids, n_terms, text, text_len, s);

        for (size_t i = 0; i < n_terms; i++) {
                term_free(terms[i]);
                ref_term_free(ref[i]);
        }
        return 0;
}
