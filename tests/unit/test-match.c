/* SPDX-License-Identifier: MIT */
/*
 * test-match.c - term_new() and term_match(): whole words across scripts and Unicode forms,
 * phrases, prefixes, hashtags and mentions, emoji, and the terms that must be refused.
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

static bool matches(const char *term, const char *text) {
        _cleanup_(term_freep) Term *t = NULL;
        _cleanup_(text_freep) Text *x = NULL;
        const char *error = NULL;

        assert_int_equal(term_new(term, &t, &error), 0);
        assert_null(error);
        assert_non_null(t);
        assert_int_equal(text_new(text, strlen(text), &x), 0);
        assert_non_null(x);
        return term_match(t, x);
}

#define assert_match(term, text) assert_true(matches((term), (text)))
#define assert_no_match(term, text) assert_false(matches((term), (text)))

static void assert_term_error(const char *term, const char *want) {
        Term *t = (Term *)0x1; /* must stay untouched */
        const char *error = NULL;

        assert_int_equal(term_new(term, &t, &error), -EINVAL);
        assert_ptr_equal(t, (Term *)0x1);
        assert_non_null(error);
        if (want)
                assert_string_equal(error, want);
}

static void test_words_ascii(void **state) {
        assert_match("refund", "I want a refund.");
        assert_match("refund", "REFUND!!!");
        assert_match("Refund", "where is my refund");
        assert_match("refund", "refund");
        assert_no_match("refund", "refunds please");
        assert_no_match("refund", "nonrefundable");
        assert_match("acme", "Acme's support is down");
        assert_match("acme_corp", "ping acme_corp now"); /* '_' joins words */
        assert_no_match("acme", "ping acme_corp now");
        assert_match("404", "error 404, again");
}

static void test_no_partial_words(void **state) {
        assert_no_match("acme", "acmecorp is great");
        assert_no_match("acme", "megaacme");
        assert_no_match("acme", "");
        assert_match("acme", "acmecorp, acme and acmeish");
}

static void test_cyrillic(void **state) {
        assert_match("деньги", "ВЕРНИТЕ ДЕНЬГИ!!!");
        assert_match("ДЕНЬГИ", "верните деньги");
        assert_no_match("день", "ВЕРНИТЕ ДЕНЬГИ!!!");
        assert_match("верните деньги", "ВЕРНИТЕ ДЕНЬГИ!!!");
        assert_match("день*", "ВЕРНИТЕ ДЕНЬГИ!!!");
}

static void test_greek(void **state) {
        assert_match("σίσυφος", "Ο ΣΊΣΥΦΟΣ ξανά");
        assert_match("ΣΊΣΥΦΟΣ", "ο σίσυφος ξανά");
        assert_match("σίσυφοσ", "ο σίσυφος.");
        assert_no_match("σίσυφος", "ο σισυφος"); /* an accent is not ignored */
}

static void test_accented_latin(void **state) {
        assert_match("café", "BEST CAFÉ IN TOWN");
        assert_match("CAFÉ", "best café in town");
        assert_match("café", "best cafe\xCC\x81 in town"); /* decomposed é */
        assert_no_match("cafe", "best café in town");
        assert_no_match("café", "best cafe in town");
        assert_match("müller", "Herr MÜLLER schreibt");
}

static void test_eszett(void **state) {
        assert_match("straße", "STRASSE gesperrt");
        assert_match("strasse", "die Straße ist gesperrt");
        assert_match("STRASSE", "die straße");
}

static void test_fullwidth(void **state) {
        assert_match("acme", "ＡＣＭＥ is down");
        assert_match("ＡＣＭＥ", "acme is down");
        assert_match("#acme", "＃ＡＣＭＥ"); /* full-width number sign too */
}

static void test_phrases(void **state) {
        assert_match("money back", "I want my money back");
        assert_match("money back", "money... back!");
        assert_match("money back", "MONEY\n\n  —  BACK");
        assert_match("\"money back\"", "money back now");
        assert_no_match("money back", "back money");
        assert_no_match("money back", "money, not back"); /* words must be consecutive */
        assert_no_match("money back", "moneyback");
        assert_match("don't", "I don’t care"); /* either apostrophe separates */
        assert_match("never again acme", "never, again; ACME.");
        /* A failed partial match must not hide a later full one. */
        assert_match("a a b", "a a a a b");
}

static void test_prefix(void **state) {
        assert_match("refund*", "refund");
        assert_match("refund*", "refunds");
        assert_match("refund*", "REFUNDED yet?");
        assert_no_match("refund*", "nonrefundable");
        assert_no_match("refund*", "refun");
        assert_match("money ba*", "give my money back");
        assert_match("\"money ba*\"", "give my money back");
        assert_no_match("money ba*", "money is bad"); /* "is" breaks the phrase */
        assert_no_match("money ba*", "mo bank");
        assert_match("straß*", "STRASSENBAHN");
}

static void test_hashtags(void **state) {
        assert_match("#acme", "down again #acme");
        assert_match("#acme", "#ACME fail");
        assert_no_match("#acme", "acme fail");
        assert_no_match("#acme", "@acme fail");
        assert_match("acme", "#acme fail");
        assert_match("#acme*", "#AcmeFail");
        assert_no_match("#acme*", "acmefail");
        assert_match("#acme #fail", "#acme #fail");
        assert_no_match("#acme #fail", "#acme fail");
        assert_match("#не_работает", "опять #НЕ_РАБОТАЕТ");
}

static void test_mentions(void **state) {
        assert_match("@acme", "hey @acme where is it");
        assert_match("@acme", "hey @acme@mastodon.social");
        assert_no_match("@acme", "hey acme");
        assert_no_match("@acme", "hey #acme");
        assert_match("acme", "hey @acme");
        assert_match("@acme_support", "@Acme_Support help");
}

static void test_emoji(void **state) {
        assert_match("😡", "so angry😡😡");
        assert_match("😡", "😡");
        assert_match("😡😡", "so angry😡😡");
        assert_no_match("😡😡😡", "so angry😡😡");
        assert_match("angry", "so angry😡😡");
        assert_no_match("😡", "so angry 😠");
        assert_match("😡", "mad\xEF\xB8\x8F😡\xEF\xB8\x8F!"); /* variation selectors */
        assert_match("👍", "ok 👍\xF0\x9F\x8F\xBD");       /* skin tone modifier */
        assert_match("👍\xF0\x9F\x8F\xBF", "ok 👍");
        assert_match("👩", "👩\xE2\x80\x8D💻 fixed it"); /* ZWJ sequence */
        assert_match("👩\xE2\x80\x8D💻", "👩\xE2\x80\x8D💻 fixed it");
        assert_match("💩 acme", "what a 💩 #acme");
        assert_match("🇺🇸", "made in 🇺🇸!");                /* regional indicator pair */
        /* A mark after an emoji is skipped, not glued onto the next word. */
        assert_match("😡", "😡\xE2\x83\xA3" "fail");
        assert_match("fail", "😡\xE2\x83\xA3" "fail");
        /* U+1FAE9, an emoji newer than utf8proc's Unicode tables: still a word of its own. */
        assert_match("\xF0\x9F\xAB\xA9", "so tired\xF0\x9F\xAB\xA9\xF0\x9F\xAB\xA9");
}

static void test_domains(void **state) {
        assert_match("acme.com", "see https://acme.com/help");
        assert_match("acme.com", "mail support@ACME.COM");
        assert_match("acme.com", "acme com");
        assert_no_match("acme.com", "see https://acme.co/help");
        assert_no_match("acme.com", "see https://notacme.com/help");
        assert_match("https://acme.com/help", "see https://acme.com/help");
}

static void test_cjk(void **state) {
        assert_match("退款", "我要退款！");
        assert_match("返金", "返金してください");
        assert_no_match("退款", "我要退货");
}

static void test_trademark(void **state) {
        assert_match("acme", "Acme™ broke again");
        assert_match("acme™", "acme broke again");
}

static void test_invalid_utf8_text(void **state) {
        _cleanup_(term_freep) Term *t = NULL;
        _cleanup_(text_freep) Text *x = NULL;
        static const char text[] = "\xFF" "acme\0\xC3refund\xE2\x82";

        assert_int_equal(term_new("refund", &t, NULL), 0);
        assert_int_equal(text_new(text, sizeof(text) - 1, &x), 0);
        assert_int_equal(text_n_words(x), 2);
        assert_true(term_match(t, x));
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
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(text_freep) Text *x = NULL;

                assert_int_equal(text_new(cases[i].text, strlen(cases[i].text), &x), 0);
                assert_int_equal(text_n_words(x), cases[i].n_words);
        }
}

static void test_source(void **state) {
        _cleanup_(term_freep) Term *t = NULL;

        assert_int_equal(term_new("  Money BA* ", &t, NULL), 0);
        assert_string_equal(term_source(t), "  Money BA* ");
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
        assert_term_error("re*fund", "'*' may only end a term, as in refund*");
        assert_term_error("*refund", "'*' may only end a term, as in refund*");
        assert_term_error("refund**", "'*' may only end a term, as in refund*");
        assert_term_error("money* back", "'*' may only end a term, as in refund*");
        assert_term_error("refund *", "'*' must directly follow a word, as in refund*");
        assert_term_error("refund!*", "'*' must directly follow a word, as in refund*");

        /* ret_error may be NULL. */
        Term *t = NULL;
        assert_int_equal(term_new("", &t, NULL), -EINVAL);
        assert_null(t);
}

static void test_linear(void **state) {
        /* 200k words; a single-word term and a phrase that almost matches everywhere. */
        const size_t n = 200000;
        _cleanup_free_ char *buf = malloc(n * 2 + 16);
        _cleanup_(text_freep) Text *x = NULL;
        _cleanup_(term_freep) Term *word = NULL, *phrase = NULL, *tail = NULL;
        size_t len = 0;

        assert_non_null(buf);
        for (size_t i = 0; i < n; i++) {
                buf[len++] = 'a';
                buf[len++] = ' ';
        }
        memcpy(buf + len, "b", 2);
        len++;

        assert_int_equal(text_new(buf, len, &x), 0);
        assert_int_equal(text_n_words(x), n + 1);
        assert_int_equal(term_new("b", &word, NULL), 0);
        assert_int_equal(term_new("a a a a a a a a c", &phrase, NULL), 0);
        assert_int_equal(term_new("a a b", &tail, NULL), 0);
        assert_true(term_match(word, x));
        assert_false(term_match(phrase, x));
        assert_true(term_match(tail, x));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                TEST("match/words-ascii", test_words_ascii),
                TEST("match/no-partial-words", test_no_partial_words),
                TEST("match/cyrillic", test_cyrillic),
                TEST("match/greek", test_greek),
                TEST("match/accented-latin", test_accented_latin),
                TEST("match/eszett", test_eszett),
                TEST("match/fullwidth", test_fullwidth),
                TEST("match/phrases", test_phrases),
                TEST("match/prefix", test_prefix),
                TEST("match/hashtags", test_hashtags),
                TEST("match/mentions", test_mentions),
                TEST("match/emoji", test_emoji),
                TEST("match/domains", test_domains),
                TEST("match/cjk", test_cjk),
                TEST("match/trademark", test_trademark),
                TEST("match/invalid-utf8-text", test_invalid_utf8_text),
                TEST("match/word-count", test_word_count),
                TEST("match/term-source", test_source),
                TEST("match/term-errors", test_errors),
                TEST("match/long-text", test_linear),
        };

        return cmocka_run_group_tests_name("match", tests, NULL, NULL);
}
