/* SPDX-License-Identifier: MIT */
/*
 * test-match.c - terms, the matcher and scans: semantics tables across scripts and Unicode forms
 * (each row: term, flags, text, match or not), hit positions, shared ids, word spans, hostile
 * input, and the terms that must be refused.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/cleanup.h"
#include "match.h"

#define TEST(n, f)                                                                             \
        { .name = (n), .test_func = (f) }

enum { NO, YES };
#define IA TERM_IGNORE_ACCENTS
#define IH TERM_INSIDE_HASHTAGS

typedef struct Row {
        const char *term;
        unsigned flags;
        const char *text;
        int want;
} Row;

/* Compiles term alone, scans text, and says whether it was found. */
static bool matches(const char *term, unsigned flags, const char *text) {
        _cleanup_(term_freep) Term *t = NULL;
        _cleanup_(matcher_builder_freep) MatcherBuilder *b = NULL;
        _cleanup_(matcher_freep) Matcher *m = NULL;
        _cleanup_(scan_freep) Scan *s = NULL;
        const char *error = NULL;
        uint32_t id = 99;

        assert_int_equal(term_new(term, flags, &t, &error), 0);
        assert_null(error);
        assert_int_equal(matcher_builder_new(&b), 0);
        assert_int_equal(matcher_builder_add(b, t, &id), 0);
        assert_int_equal(id, 0);
        assert_int_equal(matcher_build(b, &m), 0);
        assert_int_equal(scan_new(false, &s), 0);
        assert_int_equal(matcher_scan(m, text, strlen(text), s), 0);
        for (size_t i = 0; i < scan_n_hits(s); i++)
                assert_int_equal(scan_hits(s)[i].term, 0);
        return scan_n_hits(s) > 0;
}

static void check_rows(const Row *rows, size_t n) {
        for (size_t i = 0; i < n; i++) {
                bool got = matches(rows[i].term, rows[i].flags, rows[i].text);

                if (got != (bool)rows[i].want)
                        fail_msg("term '%s' (flags %u) on '%s': got %s, want %s", rows[i].term,
                                 rows[i].flags, rows[i].text, got ? "match" : "no match",
                                 rows[i].want ? "match" : "no match");
        }
}

#define CHECK_ROWS(rows) check_rows((rows), ELEMENTSOF(rows))

static void test_english(void **state) {
        static const Row rows[] = {
                { "refund", 0, "I want a refund.", YES },
                { "refund", 0, "REFUND!!!", YES },
                { "Refund", 0, "where is my refund", YES },
                { "refund", 0, "refund", YES },
                { "refund", 0, "refunds please", NO },
                { "refund", 0, "nonrefundable", NO },
                { "refund", 0, "", NO },
                { "acme", 0, "acmecorp is great", NO },
                { "acme", 0, "megaacme", NO },
                { "acme", 0, "acmecorp, acme and acmeish", YES },
                { "404", 0, "error 404, again", YES },
                { "never again acme", 0, "never, again; ACME.", YES },
        };
        CHECK_ROWS(rows);
}

static void test_boundaries(void **state) {
        static const Row rows[] = {
                { "acme", 0, "acme2 is out", NO },   /* digits belong to the word */
                { "acme", 0, "2acme", NO },
                { "acme2", 0, "get ACME2 now", YES },
                { "acme", 0, "Acme's support is down", YES }, /* apostrophe separates */
                { "acme", 0, "Acme’s support", YES },
                { "don't", 0, "I don't care", YES },
                { "don't", 0, "I don’t care", YES },
                { "don't", 0, "I dont care", NO },
                { "acme", 0, "ping acme_support now", NO }, /* '_' joins words */
                { "acme_support", 0, "ping @Acme_Support now", YES },
                { "acme.com", 0, "see https://shop.acme.com/x?y", YES },
                { "acme.com", 0, "mail support@ACME.COM", YES },
                { "acme.com", 0, "acme com", YES },
                { "acme.com", 0, "see https://acme.co/help", NO },
                { "acme.com", 0, "see https://notacme.com/help", NO },
                { "https://acme.com/help", 0, "see https://acme.com/help", YES },
                { "acme", 0, "Acme™ broke again", YES },
                { "acme™", 0, "acme broke again", YES },
        };
        CHECK_ROWS(rows);
}

static void test_russian(void **state) {
        static const Row rows[] = {
                { "деньги", 0, "ВЕРНИТЕ ДЕНЬГИ!!!", YES },
                { "ДЕНЬГИ", 0, "верните деньги", YES },
                { "день", 0, "ВЕРНИТЕ ДЕНЬГИ!!!", NO },
                { "верните деньги", 0, "ВЕРНИТЕ ДЕНЬГИ!!!", YES },
                { "день*", 0, "ВЕРНИТЕ ДЕНЬГИ!!!", YES },
                { "не работа*", 0, "опять НЕ РАБОТАЕТ", YES },
                /* ё and е: different letters unless accents are ignored */
                { "ёлка", 0, "ЁЛКА горит", YES },
                { "ёлка", 0, "елка горит", NO },
                { "елка", 0, "ёлка горит", NO },
                { "елка", IA, "ёлка горит", YES },
                { "ёлка", IA, "елка горит", YES },
                { "ЁЛКА", IA, "Елка горит", YES },
                /* й is a letter of its own, even when accents are ignored */
                { "мой", 0, "мои деньги", NO },
                { "мой", IA, "мои деньги", NO },
                { "мои", IA, "мой счет", NO },
                { "мой", IA, "МОЙ счет", YES },
                { "мой", 0, "мои\xCC\x86 счет", YES }, /* и + combining breve = й */
        };
        CHECK_ROWS(rows);
}

static void test_latin_accents(void **state) {
        static const Row rows[] = {
                { "café", 0, "BEST CAFÉ IN TOWN", YES },
                { "CAFÉ", 0, "best café in town", YES },
                { "café", 0, "best cafe\xCC\x81 in town", YES }, /* decomposed é */
                { "cafe\xCC\x81", 0, "best café", YES },
                { "cafe", 0, "best café in town", NO },
                { "café", 0, "best cafe in town", NO },
                { "cafe", IA, "best café in town", YES },
                { "café", IA, "best cafe in town", YES },
                { "cafe", IA, "best CAFE\xCC\x81 in town", YES },
                { "müller", 0, "Herr MÜLLER schreibt", YES },
                { "muller", IA, "Herr MÜLLER schreibt", YES },
                { "muller", 0, "Herr MÜLLER schreibt", NO },
                { "über*", IA, "ueber UBERALL", YES },
        };
        CHECK_ROWS(rows);
}

static void test_german(void **state) {
        static const Row rows[] = {
                { "straße", 0, "STRASSE gesperrt", YES },
                { "strasse", 0, "die Straße ist gesperrt", YES },
                { "STRASSE", 0, "die straße", YES },
                { "straß*", 0, "STRASSENBAHN", YES },
                { "straße", 0, "STRAẞE", YES }, /* capital sharp s */
        };
        CHECK_ROWS(rows);
}

/* İ folds to a plain i (not i + U+0307); dotless ı stays a letter of its own. */
static void test_turkish(void **state) {
        static const Row rows[] = {
                { "istanbul", 0, "İSTANBUL'da", YES },
                { "İstanbul", 0, "istanbul", YES },
                { "İSTANBUL", 0, "Istanbul", YES },
                { "ırmak", 0, "IRMAK", NO },   /* I folds to i, not ı */
                { "ırmak", 0, "ırmak", YES },
                { "irmak", 0, "ırmak", NO },
                { "ırmak", IA, "irmak", NO },  /* ı has no accent to strip */
        };
        CHECK_ROWS(rows);
}

static void test_greek(void **state) {
        static const Row rows[] = {
                { "σίσυφος", 0, "Ο ΣΊΣΥΦΟΣ ξανά", YES },
                { "ΣΊΣΥΦΟΣ", 0, "ο σίσυφος ξανά", YES },
                { "σίσυφοσ", 0, "ο σίσυφος.", YES }, /* final sigma = sigma */
                { "σίσυφος", 0, "ο σισυφος", NO },
                { "σίσυφος", IA, "ο σισυφος", YES },
        };
        CHECK_ROWS(rows);
}

static void test_fullwidth(void **state) {
        static const Row rows[] = {
                { "acme", 0, "ＡＣＭＥ is down", YES },
                { "ＡＣＭＥ", 0, "acme is down", YES },
                { "#acme", 0, "＃ＡＣＭＥ", YES },
                { "acme", 0, "ＡＣＭＥ２", NO },
                { "fix", 0, "ﬁx it", YES }, /* ligature */
        };
        CHECK_ROWS(rows);
}

static void test_emoji(void **state) {
        static const Row rows[] = {
                { "😡", 0, "so angry😡😡", YES },
                { "😡", 0, "😡", YES },
                { "😡😡", 0, "so angry😡😡", YES },
                { "😡😡😡", 0, "so angry😡😡", NO },
                { "angry", 0, "so angry😡😡", YES },
                { "😡", 0, "so angry 😠", NO },
                { "😡", 0, "mad\xEF\xB8\x8F😡\xEF\xB8\x8F!", YES }, /* variation selectors */
                { "😡\xEF\xB8\x8F", 0, "mad 😡", YES },
                { "👍", 0, "ok 👍\xF0\x9F\x8F\xBD", YES }, /* skin tone */
                { "👍\xF0\x9F\x8F\xBF", 0, "ok 👍", YES },
                { "👍", 0, "ok 👍\xF0\x9F\x8F\xBD\xEF\xB8\x8F", YES },
                { "👩", 0, "👩\xE2\x80\x8D💻 fixed it", YES }, /* ZWJ sequence */
                { "💩 acme", 0, "what a 💩 #acme", YES },
                { "🇺🇸", 0, "made in 🇺🇸!", YES },
                { "😡", 0, "😡\xE2\x83\xA3" "fail", YES }, /* a mark after an emoji is skipped */
                { "fail", 0, "😡\xE2\x83\xA3" "fail", YES },
                { "\xF0\x9F\xAB\xA9", 0, "so tired\xF0\x9F\xAB\xA9", YES }, /* newer than tables */
                { "😡", TERM_IGNORE_ACCENTS, "so angry😡😡", YES },
                { "angry 😡", TERM_IGNORE_ACCENTS, "so ángry😡\xF0\x9F\x8F\xBB", YES },
                { "👍 ok", 0, "👍\xF0\x9F\x8F\xBD\xE2\x80\x8D ok", YES }, /* tone, then ZWJ */
                { "退款", 0, "我要退款！", YES },
                { "返金", 0, "返金してください", YES },
                { "退款", 0, "我要退货", NO },
        };
        CHECK_ROWS(rows);
}

static void test_hashtags(void **state) {
        static const Row rows[] = {
                { "#acme", 0, "down again #acme", YES },
                { "#acme", 0, "#ACME fail", YES },
                { "#acme", 0, "acme fail", NO },
                { "#acme", 0, "@acme fail", NO },
                { "acme", 0, "#acme fail", YES },
                { "acme", 0, "hey @acme", YES },
                { "#acme*", 0, "#AcmeFail", YES },
                { "#acme*", 0, "acmefail", NO },
                { "#acme #fail", 0, "#acme #fail", YES },
                { "#acme #fail", 0, "#acme fail", NO },
                { "#не_работает", 0, "опять #НЕ_РАБОТАЕТ", YES },
                { "@acme", 0, "hey @acme where is it", YES },
                { "@acme", 0, "hey @acme@mastodon.social", YES },
                { "@acme", 0, "hey acme", NO },
                { "@acme", 0, "hey #acme", NO },
                { "@acme_support", 0, "@Acme_Support help", YES },
                /* inside hashtags: only when asked */
                { "acme", 0, "#acmefail", NO },
                { "acme", IH, "#acmefail", YES },
                { "acme", IH, "#FixAcmeNow", YES },
                { "acme", IH, "#ihateacme", YES },
                { "acme", IH, "#macmeal", YES }, /* the reason it is opt-in */
                { "acme", 0, "#macmeal", NO },
                { "acme", IH, "acmefail", NO }, /* not a hashtag */
                { "acme", IH, "@acmefail", NO },
                { "acme", IH, "plain acme", YES },
                { "fix acme", IH, "#FixAcmeNow", YES },
                { "fix acme", IH, "#fix_acme", NO }, /* '_' is a byte of the word */
                { "café", IH | IA, "#CafeFail", YES },
                { "cafe", IH | IA, "#caféfail", YES },
                { "café", IH, "#cafefail", NO },
                { "ёлка", IH, "#МояЁлка", YES },
        };
        CHECK_ROWS(rows);
}

static void test_phrases(void **state) {
        static const Row rows[] = {
                { "money back", 0, "I want my money back", YES },
                { "money back", 0, "money... back!", YES },
                { "money back", 0, "MONEY\n\n  —  BACK", YES },
                { "money back", 0, "money\r\nback", YES },
                { "money back", 0, "money - back", YES },
                { "\"money back\"", 0, "money back now", YES },
                { "money back", 0, "back money", NO },
                { "money back", 0, "money, not back", NO },
                { "money back", 0, "moneyback", NO },
                { "a a b", 0, "a a a a b", YES },
                { "a b a b c", 0, "a b a b a b c", YES },
                /* prefixes on any word */
                { "money ba*", 0, "give my money back", YES },
                { "\"money ba*\"", 0, "give my money back", YES },
                { "money ba*", 0, "money is bad", NO },
                { "money ba*", 0, "mo bank", NO },
                { "mon* back", 0, "MONEYS BACK", YES },
                { "mon* ba*", 0, "monies backwards", YES },
                { "mon* ba*", 0, "monies, not backwards", NO },
                { "refund*", 0, "refund", YES },
                { "refund*", 0, "REFUNDED yet?", YES },
                { "refund*", 0, "nonrefundable", NO },
                { "refund*", 0, "refun", NO },
                { "a* a*", 0, "ab", NO },
                { "a* a*", 0, "ab ac", YES },
        };
        CHECK_ROWS(rows);
}

/* Compiles terms[] (ids in order, may repeat) into one matcher. */
static Matcher *compile(const char *const *terms, const unsigned *flags, size_t n, uint32_t *ids) {
        _cleanup_(matcher_builder_freep) MatcherBuilder *b = NULL;
        Matcher *m = NULL;

        assert_int_equal(matcher_builder_new(&b), 0);
        for (size_t i = 0; i < n; i++) {
                _cleanup_(term_freep) Term *t = NULL;

                assert_int_equal(term_new(terms[i], flags ? flags[i] : 0, &t, NULL), 0);
                assert_int_equal(matcher_builder_add(b, t, &ids[i]), 0);
        }
        assert_int_equal(matcher_build(b, &m), 0);
        return m;
}

static void assert_hit(const Scan *s, size_t i, uint32_t term, uint32_t first, uint32_t n) {
        assert_true(i < scan_n_hits(s));
        assert_int_equal(scan_hits(s)[i].term, term);
        assert_int_equal(scan_hits(s)[i].first_word, first);
        assert_int_equal(scan_hits(s)[i].n_words, n);
}

static void test_hits(void **state) {
        static const char *const terms[] = { "back", "money back", "refund*", "#acme", "acme",
                                             "my money ba*" };
        static const char text[] = "#acme: my money back, refunds"; /* 0..5 */
        _cleanup_(matcher_freep) Matcher *m = NULL;
        _cleanup_(scan_freep) Scan *s = NULL;
        uint32_t ids[ELEMENTSOF(terms)];

        m = compile(terms, NULL, ELEMENTSOF(terms), ids);
        for (size_t i = 0; i < ELEMENTSOF(terms); i++)
                assert_int_equal(ids[i], i);
        assert_int_equal(matcher_n_terms(m), ELEMENTSOF(terms));
        assert_true(matcher_memory(m) > 0);

        assert_int_equal(scan_new(false, &s), 0);
        assert_int_equal(matcher_scan(m, text, strlen(text), s), 0);
        assert_int_equal(scan_n_words(s), 5);
        assert_int_equal(scan_n_hits(s), 6);
        /* by end word, then by term id */
        assert_hit(s, 0, 3, 0, 1); /* #acme */
        assert_hit(s, 1, 4, 0, 1); /* acme */
        assert_hit(s, 2, 0, 3, 1); /* back */
        assert_hit(s, 3, 1, 2, 2); /* money back */
        assert_hit(s, 4, 5, 1, 3); /* my money ba* */
        assert_hit(s, 5, 2, 4, 1); /* refund* */

        /* The Scan is reusable; results are replaced. */
        assert_int_equal(matcher_scan(m, "nothing here", 12, s), 0);
        assert_int_equal(scan_n_hits(s), 0);
        assert_int_equal(scan_n_words(s), 2);
        assert_int_equal(matcher_scan(m, "", 0, s), 0);
        assert_int_equal(scan_n_words(s), 0);
}

static void test_overlaps(void **state) {
        static const char *const terms[] = { "a a", "a a a", "a*" };
        _cleanup_(matcher_freep) Matcher *m = NULL;
        _cleanup_(scan_freep) Scan *s = NULL;
        uint32_t ids[ELEMENTSOF(terms)];

        m = compile(terms, NULL, ELEMENTSOF(terms), ids);
        assert_int_equal(scan_new(false, &s), 0);
        assert_int_equal(matcher_scan(m, "a a a", 5, s), 0);
        assert_int_equal(scan_n_hits(s), 6);
        assert_hit(s, 0, 2, 0, 1);
        assert_hit(s, 1, 0, 0, 2);
        assert_hit(s, 2, 2, 1, 1);
        assert_hit(s, 3, 0, 1, 2);
        assert_hit(s, 4, 1, 0, 3);
        assert_hit(s, 5, 2, 2, 1);
}

static void test_inside_hits(void **state) {
        static const char *const terms[] = { "acme", "fix* acme", "acme" };
        static const unsigned flags[] = { IH, IH, 0 };
        _cleanup_(matcher_freep) Matcher *m = NULL;
        _cleanup_(scan_freep) Scan *s = NULL;
        uint32_t ids[ELEMENTSOF(terms)];

        m = compile(terms, flags, ELEMENTSOF(terms), ids);
        assert_int_equal(ids[2], 2); /* same key, other flags: another term */
        assert_int_equal(scan_new(false, &s), 0);

        /* A hashtag that is the term, and contains it twice: one hit per (term, word). */
        assert_int_equal(matcher_scan(m, "#acme #acmeacme", 15, s), 0);
        assert_int_equal(scan_n_hits(s), 3);
        assert_hit(s, 0, 0, 0, 1);
        assert_hit(s, 1, 2, 0, 1);
        assert_hit(s, 2, 0, 1, 1);

        /* #fixacme contains "fixacme" and starts the phrase fix* acme: reported once. */
        assert_int_equal(matcher_scan(m, "#fixacme acme", 13, s), 0);
        assert_int_equal(scan_n_hits(s), 4);
        assert_hit(s, 0, 0, 0, 1);
        assert_hit(s, 1, 1, 0, 1);
        assert_hit(s, 2, 0, 1, 1);
        assert_hit(s, 3, 2, 1, 1);
}

static void test_duplicates(void **state) {
        static const char *const terms[] = { "Refund", "refund", " REFUND ", "\"refund\"",
                                             "refund*", "#refund", "money  back",
                                             "money, back", "ＲＥＦＵＮＤ" };
        _cleanup_(matcher_freep) Matcher *m = NULL;
        _cleanup_(scan_freep) Scan *s = NULL;
        uint32_t ids[ELEMENTSOF(terms)];

        m = compile(terms, NULL, ELEMENTSOF(terms), ids);
        assert_int_equal(ids[0], 0);
        assert_int_equal(ids[1], 0);
        assert_int_equal(ids[2], 0);
        assert_int_equal(ids[3], 0);
        assert_int_equal(ids[4], 1);
        assert_int_equal(ids[5], 2);
        assert_int_equal(ids[6], 3);
        assert_int_equal(ids[7], 3);
        assert_int_equal(ids[8], 0);
        assert_int_equal(matcher_n_terms(m), 4);

        assert_int_equal(scan_new(false, &s), 0);
        assert_int_equal(matcher_scan(m, "#refund", 7, s), 0);
        assert_int_equal(scan_n_hits(s), 3);
        assert_hit(s, 0, 0, 0, 1);
        assert_hit(s, 1, 1, 0, 1);
        assert_hit(s, 2, 2, 0, 1);
}

static void test_term_accessors(void **state) {
        _cleanup_(term_freep) Term *t = NULL, *u = NULL, *v = NULL;

        assert_int_equal(term_new("  \"Money BA* #Acme @Ёлка\" ", IA, &t, NULL), 0);
        assert_string_equal(term_source(t), "  \"Money BA* #Acme @Ёлка\" ");
        assert_int_equal(term_flags(t), IA);
        assert_int_equal(term_n_words(t), 4);
        assert_string_equal(term_word(t, 0), "money");
        assert_string_equal(term_word(t, 1), "ba");
        assert_string_equal(term_word(t, 2), "acme");
        assert_string_equal(term_word(t, 3), "ёлка");
        assert_null(term_word(t, 4));
        assert_int_equal(term_min_word_length(t), 2);
        assert_string_equal(term_key(t), "money ba* #acme @елка");

        assert_int_equal(term_new("Straße", 0, &u, NULL), 0);
        assert_string_equal(term_key(u), "strasse");
        assert_int_equal(term_min_word_length(u), 7);
        assert_int_equal(term_new("😡 ok", 0, &v, NULL), 0);
        assert_int_equal(term_min_word_length(v), 1);
}

static void assert_term_error(const char *term, const char *want) {
        Term *t = (Term *)0x1; /* must stay untouched */
        const char *error = NULL;

        assert_int_equal(term_new(term, 0, &t, &error), -EINVAL);
        assert_ptr_equal(t, (Term *)0x1);
        assert_non_null(error);
        if (want)
                assert_string_equal(error, want);
}

static void test_errors(void **state) {
        assert_term_error("", "empty term");
        assert_term_error("   ", "empty term");
        assert_term_error("\"\"", "empty term");
        assert_term_error(NULL, "empty term");
        assert_term_error("!!!", "a term may not be only punctuation");
        assert_term_error("#", "a term may not be only punctuation");
        assert_term_error("@ .", "a term may not be only punctuation");
        assert_term_error("*", NULL);
        assert_term_error("re*fund", "'*' must end a word, as in refund*");
        assert_term_error("*refund", "'*' must directly follow a word, as in refund*");
        assert_term_error("refund**", "'*' must directly follow a word, as in refund*");
        assert_term_error("refund *", "'*' must directly follow a word, as in refund*");
        assert_term_error("refund!*", "'*' must directly follow a word, as in refund*");

        /* ret_error may be NULL. */
        Term *t = NULL;
        assert_int_equal(term_new("", 0, &t, NULL), -EINVAL);
        assert_null(t);
}

static void test_spans(void **state) {
        static const char *const terms[] = { "acme" };
        static const char text[] = "Héllo, #ÁCME\xCC\x81 e\xCC\x81t 😡 acme";
        _cleanup_(matcher_freep) Matcher *m = NULL;
        _cleanup_(scan_freep) Scan *s = NULL, *no = NULL;
        uint32_t ids[1];
        size_t a, e;

        m = compile(terms, NULL, 1, ids);
        assert_int_equal(scan_new(true, &s), 0);
        assert_int_equal(matcher_scan(m, "  money   back", 14, s), 0);
        assert_int_equal(scan_n_words(s), 2);
        scan_word_span(s, 0, &a, &e);
        assert_int_equal(a, 2);
        assert_int_equal(e, 7);
        scan_word_span(s, 1, &a, &e);
        assert_int_equal(a, 10);
        assert_int_equal(e, 14);

        assert_int_equal(matcher_scan(m, text, strlen(text), s), 0);
        assert_int_equal(scan_n_words(s), 5);
        scan_word_span(s, 0, &a, &e); /* Héllo */
        assert_int_equal(a, 0);
        assert_int_equal(e, 6);
        scan_word_span(s, 1, &a, &e); /* ÁCMÉ, decomposed at the end */
        assert_int_equal(a, 9);
        assert_int_equal(e, 16);
        scan_word_span(s, 2, &a, &e); /* ét */
        assert_int_equal(a, 17);
        assert_int_equal(e, 21);
        scan_word_span(s, 3, &a, &e); /* 😡 */
        assert_int_equal(a, 22);
        assert_int_equal(e, 26);
        scan_word_span(s, 4, &a, &e);
        assert_int_equal(a, 27);
        assert_int_equal(e, 31);
        assert_int_equal(scan_n_hits(s), 1);
        assert_hit(s, 0, 0, 4, 1);

        /* Without spans: zeros. */
        assert_int_equal(scan_new(false, &no), 0);
        assert_int_equal(matcher_scan(m, text, strlen(text), no), 0);
        scan_word_span(no, 1, &a, &e);
        assert_int_equal(a, 0);
        assert_int_equal(e, 0);
}

static void test_invalid_utf8(void **state) {
        static const char *const terms[] = { "refund", "acme refund", "a\xCC\x81" };
        static const char text[] = "\xFF" "acme\0\xC3refund\xE2\x82 a\0\xCC\x81";
        _cleanup_(matcher_freep) Matcher *m = NULL;
        _cleanup_(scan_freep) Scan *s = NULL;
        uint32_t ids[ELEMENTSOF(terms)];

        m = compile(terms, NULL, ELEMENTSOF(terms), ids);
        assert_int_equal(scan_new(true, &s), 0);
        assert_int_equal(matcher_scan(m, text, sizeof(text) - 1, s), 0);
        /*
         * acme, refund, a, and the mark after the NUL as a word of its own: the NUL keeps it
         * from composing with the a. Garbage separates like punctuation, so the phrase matches.
         */
        assert_int_equal(scan_n_words(s), 4);
        assert_int_equal(scan_n_hits(s), 2);
        assert_hit(s, 0, 0, 1, 1);
        assert_hit(s, 1, 1, 0, 2);
        assert_int_equal(matcher_scan(m, "a\xCC\x81", 3, s), 0);
        assert_int_equal(scan_n_hits(s), 1);
        assert_hit(s, 0, 2, 0, 1);
}

static void test_word_count(void **state) {
        static const struct {
                const char *text;
                size_t n_words;
        } cases[] = {
                { "", 0 },
                { "   !!! ... ", 0 },
                { "one", 1 },
                { "one two, three!", 3 },
                { "so angry😡😡", 4 },
                { "see https://acme.com/help", 5 },
                { "#acme @acme acme", 3 },
                { "ВЕРНИТЕ ДЕНЬГИ!!!", 2 },
                { "我要退款", 4 },
                { "Acme™Corp", 2 },
                /* malformed three- and four-byte sequences separate, well-formed ones do not */
                { "a\xE0\x80\x80" "b\xED\xA0\x80" "c\xF0\x80\x80\x80" "d\xF4\x90\x80\x80" "e", 5 },
                { "a\xE0\xA0\x80" "b", 1 },
                { "\xF4\x8F\xBF\xBF" "a\xF0\x90\x80\x80" "b", 1 },
                { "😡\xF0\x9F\x8F\xBB😡\xF0\x9F\x98", 2 },
        };
        _cleanup_(matcher_freep) Matcher *m = NULL;
        _cleanup_(scan_freep) Scan *s = NULL;
        static const char *const terms[] = { "x" };
        uint32_t ids[1];

        m = compile(terms, NULL, 1, ids);
        assert_int_equal(scan_new(false, &s), 0);
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                assert_int_equal(matcher_scan(m, cases[i].text, strlen(cases[i].text), s), 0);
                assert_int_equal(scan_n_words(s), cases[i].n_words);
        }
}

static void test_empty_matcher(void **state) {
        _cleanup_(matcher_builder_freep) MatcherBuilder *b = NULL;
        _cleanup_(matcher_freep) Matcher *m = NULL;
        _cleanup_(scan_freep) Scan *s = NULL;

        assert_int_equal(matcher_builder_new(&b), 0);
        assert_int_equal(matcher_build(b, &m), 0);
        assert_int_equal(matcher_n_terms(m), 0);
        assert_int_equal(scan_new(false, &s), 0);
        assert_int_equal(matcher_scan(m, "a b c", 5, s), 0);
        assert_int_equal(scan_n_words(s), 3);
        assert_int_equal(scan_n_hits(s), 0);
}

static void test_large_input(void **state) {
        /* 4 MiB: 2M one-letter words; a phrase that almost matches everywhere. */
        static const char *const terms[] = { "b", "a a a a a a a a c", "a a b", "a a a a a*",
                                             "a", "#a*" };
        static const unsigned flags[] = { 0, 0, 0, 0, IA, IH };
        const size_t n = 2 * 1024 * 1024;
        _cleanup_free_ char *buf = malloc(n * 2 + 16);
        _cleanup_(matcher_freep) Matcher *m = NULL;
        _cleanup_(scan_freep) Scan *s = NULL;
        uint32_t ids[ELEMENTSOF(terms)];
        size_t len = 0, count[ELEMENTSOF(terms)] = {};

        assert_non_null(buf);
        for (size_t i = 0; i < n; i++) {
                buf[len++] = 'a';
                buf[len++] = ' ';
        }
        memcpy(buf + len, "b", 2);
        len++;

        m = compile(terms, flags, ELEMENTSOF(terms), ids);
        assert_int_equal(scan_new(true, &s), 0);
        assert_int_equal(matcher_scan(m, buf, len, s), 0);
        assert_int_equal(scan_n_words(s), n + 1);
        for (size_t i = 0; i < scan_n_hits(s); i++)
                count[scan_hits(s)[i].term]++;
        assert_int_equal(count[0], 1);
        assert_int_equal(count[1], 0);
        assert_int_equal(count[2], 1);
        assert_int_equal(count[3], n - 4);
        assert_int_equal(count[4], n);
        assert_int_equal(count[5], 0);

        /* One word of 4 MiB, then one hashtag of 4 MiB. */
        memset(buf, 'a', len);
        assert_int_equal(matcher_scan(m, buf, len, s), 0);
        assert_int_equal(scan_n_words(s), 1);
        assert_int_equal(scan_n_hits(s), 0);
        buf[0] = '#'; /* #a* and, inside the hashtag, a: one hit for (term, word) */
        assert_int_equal(matcher_scan(m, buf, len, s), 0);
        assert_int_equal(scan_n_words(s), 1);
        assert_int_equal(scan_n_hits(s), 1);
        assert_hit(s, 0, ids[5], 0, 1);
}

/*
 * The scanner's fast paths (ASCII eight bytes at a time, two-byte letters by table, short words
 * checked in a register) against the cases that must leave them: a letter that composes with the
 * mark after it, at every position of an 8-byte block; words straddling ASCII and two-byte
 * letters; two-byte separators; words longer than any buffer; texts that end inside a block.
 */
static void test_fast_paths(void **state) {
        static const Row rows[] = {
                /* e + U+0301 = é, wherever the e falls in a block of eight */
                { "é", 0, "e\xCC\x81", YES },
                { "ét", 0, "e\xCC\x81t", YES },
                { "abcdefé", 0, "abcdefe\xCC\x81 x", YES },
                { "abcdefgé", 0, "ABCDEFGE\xCC\x81 z", YES },
                { "abcdefghé", 0, "abcdefghe\xCC\x81", YES },
                { "abcdefghijklmnoé", 0, "abcdefghijklmnoe\xCC\x81!", YES },
                { "abcdefg", 0, "ABCDEFGE\xCC\x81 z", NO },
                { "cafe", 0, "x cafe\xCC\x81 x", NO },
                { "café", 0, "CAFE\xCC\x81!", YES },
                { "cafe", IA, "CAFE\xCC\x81!", YES },
                /* и + U+0306 = й, a two-byte letter composing */
                { "йод", 0, "и\xCC\x86од", YES },
                { "иод", 0, "и\xCC\x86од", NO },
                { "бой", 0, "БОИ\xCC\x86.", YES },
                /* words straddling ASCII and two-byte letters */
                { "abcдеф", 0, "ABCДЕФ", YES },
                { "abc", 0, "abcдеф", NO },
                { "деф", 0, "abcдеф", NO },
                { "x1ж2y3з", 0, "X1Ж2Y3З", YES },
                { "straße", 0, "STRASSE", YES },
                { "ªb", 0, "ab", YES },
                /* two-byte separators, and a separator composing with a mark (< + U+0338) */
                { "money back", 0, "money\xC2\xA0" "back", YES },
                { "refund", 0, "«refund»", YES },
                { "a b", 0, "a<\xCC\xB8" "b", YES },
                /* ASCII runs ending where the text ends, mid-block */
                { "ab", 0, "ab", YES },
                { "ab", 0, "x ab", YES },
                { "refund", 0, "where is my refund", YES },
                { "refund", 0, "where is my refun", NO },
                { "ref", 0, "ref\0und", YES },
                /* long words: past the first buffer, past every 8-byte chunk */
                { "supercalifragilisticexpialidocious", 0,
                  "Supercalifragilisticexpialidocious!", YES },
                { "supercalifragilisticexpialidocious", 0,
                  "supercalifragilisticexpialidociouz", NO },
                { "превысокомногорассмотрительствующий", 0,
                  "ПРЕВЫСОКОМНОГОРАССМОТРИТЕЛЬСТВУЮЩИЙ", YES },
                { "превысокомногорассмотрительствующий", 0,
                  "превысокомногорассмотрительствующи", NO },
                /* prefixes of every filter length: 3, 5, 9 and 13 bytes */
                { "abc*", 0, "ABCDEFGHIJKLMNOP", YES },
                { "abc*", 0, "abd", NO },
                { "abcde*", 0, "abcdefghijklmnop", YES },
                { "abcde*", 0, "abcdf", NO },
                { "abcdefghi*", 0, "abcdefghijklmnop", YES },
                { "abcdefghi*", 0, "abcdefghj", NO },
                { "abcdefghijklm*", 0, "abcdefghijklmnop", YES },
                { "abcdefghijklm*", 0, "abcdefghijklnop", NO },
                { "жу*", 0, "Жук", YES },
                { "жу*", 0, "жж", NO },
                /* ё and accent stripping */
                { "всё", IA, "все", YES },
                { "все", IA, "ВСЁ", YES },
                { "всё", 0, "все", NO },
                { "всё сломалось", IA, "Все сломалось!", YES },
                { "ёлк*", IA, "елки", YES },
                /* a lone mark strips to nothing, and a prefix of nothing starts every word */
                { "\xCC\x81*", IA, "hello", YES },
                { "\xCC\x81", IA, "\xCC\x81", YES },
                { "\xCC\x81", IA, "hello", NO },
                /* a short word that is no term word ends every partial phrase */
                { "waste money", 0, "waste of money", NO },
                { "waste of money", 0, "what a waste of money", YES },
                { "money back", 0, "money, money back", YES },
                { "acme", IH, "#xacmey", YES },
                { "acme", IH, "xacmey", NO },
                { "#acme", 0, "#ok #acme", YES },
                { "@acme", 0, "#acme", NO },
        };
        CHECK_ROWS(rows);
}

/* More than eight prefix words under one trie node: every one is found. */
static void test_many_prefixes(void **state) {
        static const char *const terms[] = { "a*", "b*", "c*", "d*", "e*", "f*", "g*", "h*",
                                             "i*", "j*", "k*", "l*", "m*" };
        static const char text[] = "apple banana cherry date egg fig grape hop ice jam kiwi "
                                   "lemon mango";
        _cleanup_(matcher_freep) Matcher *m = NULL;
        _cleanup_(scan_freep) Scan *s = NULL;
        uint32_t ids[ELEMENTSOF(terms)];

        m = compile(terms, NULL, ELEMENTSOF(terms), ids);
        assert_int_equal(scan_new(false, &s), 0);
        assert_int_equal(matcher_scan(m, text, strlen(text), s), 0);
        assert_int_equal(scan_n_hits(s), ELEMENTSOF(terms));
        for (size_t i = 0; i < ELEMENTSOF(terms); i++)
                assert_hit(s, i, ids[i], i, 1);
}

/* Word spans and counts are the same whichever path a word took. */
static void test_fast_path_spans(void **state) {
        static const char *const terms[] = { "zz" };
        /* ab | жук | ét | abcdefghij | x1ж | ﬁ | end */
        static const char text[] = "ab \xD0\x96\xD0\xA3\xD0\x9A e\xCC\x81t, abcdefghij "
                                   "x1\xD0\xB6 \xEF\xAC\x81 end";
        static const size_t want[][2] = { { 0, 2 }, { 3, 9 }, { 10, 14 }, { 16, 26 },
                                          { 27, 31 }, { 32, 35 }, { 36, 39 } };
        _cleanup_(matcher_freep) Matcher *m = NULL;
        _cleanup_(scan_freep) Scan *s = NULL, *no = NULL;
        uint32_t ids[1];
        size_t a, e;

        m = compile(terms, NULL, 1, ids);
        assert_int_equal(scan_new(true, &s), 0);
        assert_int_equal(scan_new(false, &no), 0);
        assert_int_equal(matcher_scan(m, text, strlen(text), s), 0);
        assert_int_equal(matcher_scan(m, text, strlen(text), no), 0);
        assert_int_equal(scan_n_words(s), ELEMENTSOF(want));
        assert_int_equal(scan_n_words(no), ELEMENTSOF(want));
        for (size_t i = 0; i < ELEMENTSOF(want); i++) {
                scan_word_span(s, i, &a, &e);
                assert_int_equal(a, want[i][0]);
                assert_int_equal(e, want[i][1]);
        }
}

/*
 * The scanner's 16-byte fast path against its general loop (which a Scan with spans takes): words
 * and separator runs across window edges, every Cyrillic letter of U+0400..U+047F in both cases,
 * marks and emoji next to words, '#' and '@', text ending anywhere. Same words, same hits.
 */
static void test_fast_path_windows(void **state) {
        static const char *const pieces[] = {
                "a", "Acme", "refund", "abcdefg", "abcdefgh", "ABCDEFGHIJKLMNO",
                "abcdefghijklmnop", "abcdefghijklmnopq", "x1_y2_z3_w4_v5_u6_t7", " ", "  ", ", ",
                "                    ", "#", "@", ".", "\n", "😡", "\xF0\x9F\x8F\xBC", "\xCC\x81",
                "\xCC\x86", "é", "ΣΟΦΙΑ", "ß", "ﬁ", "™", "\xC3", "\xE2\x82", "деньги", "ДЕНЬГИ",
                "Ёлка", "ёлка", "елка", "Йод", "мошенники", "МОШЕННИКИ",
                "ЀЁЂЃЄЅІЇЈЉЊЋЌЍЎЏ", "ѐёђѓєѕіїјљњћќѝўџ", "АБВГДЕЖЗИЙКЛМНОП", "РСТУФХЦЧШЩЪЫЬЭЮЯ",
                "абвгдежзийклмноп", "рстуфхцчшщъыьэюя", "ѠѡѢѣѤѥѦѧѨѩѪѫѬѭѮѯ", "ѰѱѲѳѴѵѶѷѸѹѺѻѼѽѾѿ",
                "acmeАкме", "Акмеacme", "Ж\xCC\x86", "и\xCC\x86", "ӁӂӐӑ",
        };
        static const char *const terms[] = {
                "acme", "refund", "деньги", "елка", "ёлка", "мошенн*", "abcdefghijklmnop",
                "abcdefghijklmnopq*", "ѐёђѓєѕіїјљњћќѝўџ", "абвгдежзийклмноп рстуфхцчшщъыьэюя",
                "ѡѡ*", "acmeакме", "й", "sofia", "σοφια", "deньги", "😡", "a refund", "#acme",
                "@refund", "ж\xCC\x86", "x1*", "ss",
        };
        static const unsigned flags[] = { IH, 0, 0, IA, 0, 0, 0, 0, 0, 0, 0, 0, IA, IA, 0,
                                          0, 0, 0, 0, 0, 0, 0, 0 };
        _cleanup_(matcher_freep) Matcher *m = NULL;
        _cleanup_(scan_freep) Scan *fast = NULL, *general = NULL;
        uint32_t ids[ELEMENTSOF(terms)], x = 12345;
        char text[512];

        assert_int_equal(ELEMENTSOF(terms), ELEMENTSOF(flags));
        m = compile(terms, flags, ELEMENTSOF(terms), ids);
        assert_int_equal(scan_new(false, &fast), 0);
        assert_int_equal(scan_new(true, &general), 0);
        for (unsigned iteration = 0; iteration < 20000; iteration++) {
                size_t len = 0;

                for (unsigned k = 0; k < 1 + iteration % 12; k++) {
                        const char *p;

                        x = x * 1103515245 + 12345;
                        p = pieces[(x >> 8) % ELEMENTSOF(pieces)];
                        if (len + strlen(p) >= sizeof(text))
                                break;
                        memcpy(text + len, p, strlen(p));
                        len += strlen(p);
                }
                assert_int_equal(matcher_scan(m, text, len, fast), 0);
                assert_int_equal(matcher_scan(m, text, len, general), 0);
                assert_int_equal(scan_n_words(fast), scan_n_words(general));
                assert_int_equal(scan_n_hits(fast), scan_n_hits(general));
                assert_memory_equal(scan_hits(fast), scan_hits(general),
                                    scan_n_hits(fast) * sizeof(MatchHit));
        }

        /* The case pairs of the Cyrillic block, folded without utf8proc. */
        assert_int_equal(matcher_scan(m, "ЀЁЂЃЄЅІЇЈЉЊЋЌЍЎЏ", strlen("ЀЁЂЃЄЅІЇЈЉЊЋЌЍЎЏ"), fast), 0);
        assert_int_equal(scan_n_hits(fast), 1);
        assert_hit(fast, 0, ids[8], 0, 1);
        assert_int_equal(matcher_scan(m, "АБВГДЕЖЗИЙКЛМНОП, РСТУФХЦЧШЩЪЫЬЭЮЯ!",
                                      strlen("АБВГДЕЖЗИЙКЛМНОП, РСТУФХЦЧШЩЪЫЬЭЮЯ!"), fast),
                         0);
        assert_int_equal(scan_n_hits(fast), 1);
        assert_hit(fast, 0, ids[9], 0, 2);
        assert_int_equal(matcher_scan(m, "ЁЛКА", strlen("ЁЛКА"), fast), 0); /* елка, ёлка */
        assert_int_equal(scan_n_hits(fast), 2);
}

/* Words far longer than the scanner's buffers, in both scripts, as terms and in texts. */
static void test_long_words(void **state) {
        const size_t n = 5000;
        _cleanup_free_ char *word = malloc(2 * n + 1), *text = malloc(2 * n + 16);
        _cleanup_free_ char *prefix = malloc(n + 2);
        _cleanup_(matcher_freep) Matcher *m = NULL;
        _cleanup_(scan_freep) Scan *s = NULL;
        const char *terms[3];
        uint32_t ids[3];

        assert_non_null(word);
        assert_non_null(text);
        assert_non_null(prefix);
        for (size_t i = 0; i < n; i++) /* жжж...: 2 bytes a letter */
                memcpy(word + 2 * i, "\xD0\xB6", 2);
        word[2 * n] = 0;
        memset(prefix, 'q', n - 1);
        prefix[n - 1] = '*';
        prefix[n] = 0;
        terms[0] = word;
        terms[1] = prefix;
        terms[2] = "q";
        m = compile(terms, NULL, 3, ids);
        assert_int_equal(scan_new(false, &s), 0);

        /* ЖЖЖ...: upper case folds to the term */
        for (size_t i = 0; i < n; i++)
                memcpy(text + 2 * i, "\xD0\x96", 2);
        assert_int_equal(matcher_scan(m, text, 2 * n, s), 0);
        assert_int_equal(scan_n_hits(s), 1);
        assert_hit(s, 0, ids[0], 0, 1);
        assert_int_equal(matcher_scan(m, text, 2 * n - 2, s), 0); /* one letter short */
        assert_int_equal(scan_n_hits(s), 0);

        /* QQQ...Qx: the prefix of n - 1 q's, then one more letter */
        memset(text, 'Q', n - 1);
        memcpy(text + n - 1, "x q", 3);
        assert_int_equal(matcher_scan(m, text, n + 2, s), 0);
        assert_int_equal(scan_n_words(s), 2);
        assert_int_equal(scan_n_hits(s), 2);
        assert_hit(s, 0, ids[1], 0, 1);
        assert_hit(s, 1, ids[2], 1, 1);
        text[n / 2] = 'r';
        assert_int_equal(matcher_scan(m, text, n + 2, s), 0);
        assert_int_equal(scan_n_hits(s), 1);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                TEST("match/english", test_english),
                TEST("match/boundaries", test_boundaries),
                TEST("match/russian", test_russian),
                TEST("match/latin-accents", test_latin_accents),
                TEST("match/german", test_german),
                TEST("match/turkish", test_turkish),
                TEST("match/greek", test_greek),
                TEST("match/fullwidth", test_fullwidth),
                TEST("match/emoji-cjk", test_emoji),
                TEST("match/hashtags-mentions", test_hashtags),
                TEST("match/phrases-prefixes", test_phrases),
                TEST("match/hits", test_hits),
                TEST("match/overlaps", test_overlaps),
                TEST("match/inside-hashtag-hits", test_inside_hits),
                TEST("match/duplicates", test_duplicates),
                TEST("match/term-accessors", test_term_accessors),
                TEST("match/term-errors", test_errors),
                TEST("match/word-spans", test_spans),
                TEST("match/invalid-utf8", test_invalid_utf8),
                TEST("match/word-count", test_word_count),
                TEST("match/empty-matcher", test_empty_matcher),
                TEST("match/large-input", test_large_input),
                TEST("match/fast-paths", test_fast_paths),
                TEST("match/many-prefixes", test_many_prefixes),
                TEST("match/fast-path-spans", test_fast_path_spans),
                TEST("match/long-words", test_long_words),
                TEST("match/fast-path-windows", test_fast_path_windows),
        };

        return cmocka_run_group_tests_name("match", tests, NULL, NULL);
}
