/* SPDX-License-Identifier: MIT */
/*
 * test-normalize.c - html_to_text(), utf8_sanitize() and text_fold(): feed HTML as Mastodon sends
 * it, entities, line breaks, broken UTF-8, garbage, and the Unicode forms the matcher must see
 * as equal.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/cleanup.h"
#include "normalize.h"

#define TEST(n, f)                                                                             \
        { .name = (n), .test_func = (f) }

static void assert_html(const char *html, const char *want) {
        _cleanup_free_ char *got = html_to_text(html, strlen(html));

        assert_non_null(got);
        assert_string_equal(got, want);
}

static void assert_fold(const char *s, const char *want) {
        _cleanup_free_ char *got = NULL;

        assert_int_equal(text_fold(s, strlen(s), &got), 0);
        assert_non_null(got);
        assert_string_equal(got, want);
}

/* Whether s[0..len) is well-formed UTF-8 without NUL (a plain checker, independent of the code). */
static bool valid_utf8(const char *s, size_t len) {
        const uint8_t *p = (const uint8_t *)s;

        for (size_t i = 0; i < len;) {
                uint32_t cp;
                size_t n;

                if (p[i] == 0)
                        return false;
                if (p[i] < 0x80) {
                        i++;
                        continue;
                }
                if ((p[i] & 0xE0) == 0xC0) {
                        n = 2;
                        cp = p[i] & 0x1F;
                } else if ((p[i] & 0xF0) == 0xE0) {
                        n = 3;
                        cp = p[i] & 0x0F;
                } else if ((p[i] & 0xF8) == 0xF0) {
                        n = 4;
                        cp = p[i] & 0x07;
                } else
                        return false;
                if (i + n > len)
                        return false;
                for (size_t k = 1; k < n; k++) {
                        if ((p[i + k] & 0xC0) != 0x80)
                                return false;
                        cp = cp << 6 | (p[i + k] & 0x3F);
                }
                if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
                    cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
                        return false;
                i += n;
        }
        return true;
}

static void test_mastodon_content(void **state) {
        assert_html("<p>&quot;I lost my inheritance&quot;</p>"
                    "<p><a href=\"https://www.theguardian.com/x\" rel=\"nofollow noopener\" "
                    "target=\"_blank\"><span class=\"invisible\">https://www.</span>"
                    "<span class=\"ellipsis\">theguardian.com/money</span>"
                    "<span class=\"invisible\">/x</span></a></p>",
                    "\"I lost my inheritance\"\nhttps://www.theguardian.com/money/x");
}

static void test_mastodon_mention_hashtag(void **state) {
        assert_html("<p><span class=\"h-card\"><a href=\"https://m.example/@acme\" "
                    "class=\"u-url mention\">@<span>acme</span></a></span> where is my "
                    "<a href=\"https://m.example/tags/refund\" class=\"mention hashtag\" "
                    "rel=\"tag\">#<span>refund</span></a>?</p>",
                    "@acme where is my #refund?");
}

static void test_entities(void **state) {
        assert_html("it&#39;s", "it's");
        assert_html("A &amp; B", "A & B");
        assert_html("&lt;b&gt; is not a tag", "<b> is not a tag");
        assert_html("&quot;quoted&quot; &#x27;x&#x27;", "\"quoted\" 'x'");
        assert_html("caf&eacute; &#233; &#xE9;", "café é é");
        assert_html("so angry &#x1F621;", "so angry 😡");
}

static void test_nbsp(void **state) {
        /* A no-break space is a blank like any other: collapsed with its neighbours. */
        assert_html("a&nbsp;b", "a b");
        assert_html("a&nbsp;&nbsp; &nbsp;b", "a b");
        assert_html("&nbsp;edge&nbsp;", "edge");
}

static void test_br(void **state) {
        assert_html("one<br>two", "one\ntwo");
        assert_html("one<br/>two<br />three", "one\ntwo\nthree");
        assert_html("one<br><br>two", "one\n\ntwo");
        /* At most one blank line. */
        assert_html("one<br><br><br><br>two", "one\n\ntwo");
        assert_html("<p>one<br></p><p>two</p>", "one\ntwo");
        assert_html("<p>one<br><br></p><p>two</p>", "one\n\ntwo"); /* </p> keeps the blank line */
        assert_html("<br><br>lead and trail<br><br>", "lead and trail");
}

static void test_blocks(void **state) {
        assert_html("<p>a</p><p>b</p>", "a\nb");
        assert_html("<p>a</p>\n\n  <p>b</p>", "a\nb");
        assert_html("<div>a<div>b</div>c</div>", "a\nb\nc");
        assert_html("<ul><li>one</li><li>two</li></ul>after", "one\ntwo\nafter");
        assert_html("<h1>Title</h1>body<blockquote>quoted</blockquote>end",
                    "Title\nbody\nquoted\nend");
        assert_html("<table><tr><td>a</td><td>b</td></tr><tr><td>c</td></tr></table>", "a b\nc");
        /* Inline elements join without a blank. */
        assert_html("re<b>fun</b><i>d</i>", "refund");
}

static void test_whitespace(void **state) {
        assert_html("  plain   text\twith\n\n\n  blanks  ", "plain text with blanks");
        assert_html("<p>  padded  </p>", "padded");
        assert_html("   ", "");
        assert_html("<p></p><p> </p><br>", "");
}

static void test_dropped(void **state) {
        assert_html("<script>alert('x')</script>visible<style>p { color: red }</style>",
                    "visible");
        assert_html("a<!-- a comment -->b", "ab");
}

static void test_invalid_utf8(void **state) {
        /* Each maximal ill-formed subpart becomes one U+FFFD. */
        assert_html("bad \xff byte", "bad \xEF\xBF\xBD byte");
        assert_html("cut \xE2\x82", "cut \xEF\xBF\xBD");
        assert_html("<p>caf\xE9</p>", "caf\xEF\xBF\xBD");
        /* A <meta> must not make libxml2 reread the input in another encoding. */
        assert_html("<meta charset=\"iso-8859-1\">café", "café");
}

static void test_empty(void **state) {
        _cleanup_free_ char *a = html_to_text("", 0);
        _cleanup_free_ char *b = html_to_text(NULL, 0);
        _cleanup_free_ char *c = html_to_text("<p>", 3);
        _cleanup_free_ char *d = html_to_text("<", 1);

        assert_non_null(a);
        assert_string_equal(a, "");
        assert_non_null(b);
        assert_string_equal(b, "");
        assert_non_null(c);
        assert_string_equal(c, "");
        assert_non_null(d);
}

static void test_embedded_nul(void **state) {
        static const char html[] = "before\0after";
        _cleanup_free_ char *got = html_to_text(html, sizeof(html) - 1);

        assert_non_null(got);
        assert_string_equal(got, "before\xEF\xBF\xBD" "after");
}

static void check_garbage(const char *buf, size_t len) {
        _cleanup_free_ char *got = html_to_text(buf, len);

        assert_non_null(got);
        assert_true(valid_utf8(got, strlen(got)));
}

static void test_garbage(void **state) {
        const size_t size = 1 << 20;
        _cleanup_free_ char *buf = malloc(size);
        uint32_t x = 2463534242u;

        assert_non_null(buf);

        /* 1 MiB of random bytes (xorshift32, fixed seed). */
        for (size_t i = 0; i < size; i++) {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                buf[i] = (char)x;
        }
        check_garbage(buf, size);

        /* 1 MiB of random bytes drawn from markup characters. */
        static const char markup[] = "<>/&;#x\"'=!-[]?abpdivscript \n\xC3\xA9\xF0";
        for (size_t i = 0; i < size; i++) {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                buf[i] = markup[x % (sizeof(markup) - 1)];
        }
        check_garbage(buf, size);

        /* 1 MiB of deep nesting, unclosed comments, endless attributes and entities. */
        static const char *const patterns[] = { "<div>", "<b><i>", "<!--", "<a b=\"", "&", "<p>x",
                                                "&#x1F621;", "<![CDATA[", "<br>", "<li>" };
        for (size_t p = 0; p < ELEMENTSOF(patterns); p++) {
                size_t n = strlen(patterns[p]), len = 0;

                while (len + n <= size) {
                        memcpy(buf + len, patterns[p], n);
                        len += n;
                }
                check_garbage(buf, len);
        }
}

/* Nesting beyond libxml2's depth limit: the text after the limit must survive. */
static char *nested(size_t depth, const char *open, const char *inner, const char *close) {
        size_t lo = strlen(open), li = strlen(inner), lc = strlen(close);
        char *buf = malloc(depth * (lo + lc) + li + 1), *p = buf;

        assert_non_null(buf);
        for (size_t i = 0; i < depth; i++, p += lo)
                memcpy(p, open, lo);
        memcpy(p, inner, li);
        p += li;
        for (size_t i = 0; i < depth; i++, p += lc)
                memcpy(p, close, lc);
        *p = 0;
        return buf;
}

static void test_deep_nesting(void **state) {
        static const size_t depths[] = { 10, 300, 5000, 150000 };

        for (size_t k = 0; k < ELEMENTSOF(depths); k++) {
                _cleanup_free_ char *html = nested(depths[k], "<b>",
                                                   "<p>acme re<i>fun</i>d &amp; &lt;now&gt;</p>",
                                                   "</b>");
                _cleanup_free_ char *got = html_to_text(html, strlen(html));

                assert_non_null(got);
                assert_string_equal(got, "acme refund & <now>");
        }
        /* the fallback keeps line breaks, comments and a bare '<' as HTML would */
        _cleanup_free_ char *html = nested(3000, "<div>", "one<br>two <!-- <b>x</b> --> a < b",
                                           "</div>");
        _cleanup_free_ char *got = html_to_text(html, strlen(html));
        assert_non_null(got);
        assert_string_equal(got, "one\ntwo a < b");
}

static void *thread_body(void *arg) {
        for (int i = 0; i < 200; i++) {
                static const char html[] = "<p>&quot;thread&quot;<br>safe &amp; sound</p>";
                char *got = html_to_text(html, sizeof(html) - 1);

                if (!got || strcmp(got, "\"thread\"\nsafe & sound") != 0) {
                        free(got);
                        return (void *)1;
                }
                free(got);
        }
        return NULL;
}

static void test_threads(void **state) {
        pthread_t threads[4];

        for (size_t i = 0; i < ELEMENTSOF(threads); i++)
                assert_int_equal(pthread_create(&threads[i], NULL, thread_body, NULL), 0);
        for (size_t i = 0; i < ELEMENTSOF(threads); i++) {
                void *result;

                assert_int_equal(pthread_join(threads[i], &result), 0);
                assert_null(result);
        }
}

static void test_sanitize(void **state) {
        static const struct {
                const char *in;
                size_t len;
                const char *want;
        } cases[] = {
#define IN(literal) literal, sizeof(literal) - 1
                { IN("plain"), "plain" },
                { IN(""), "" },
                { IN("caf\xC3\xA9 \xF0\x9F\x98\xA1"), "caf\xC3\xA9 \xF0\x9F\x98\xA1" },
                { IN("a\0b"), "a\xEF\xBF\xBD" "b" },
                { IN("\xFF"), "\xEF\xBF\xBD" },
                { IN("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD" },               /* overlong '/' */
                { IN("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD" }, /* surrogate */
                { IN("\xF4\x90\x80\x80"),                                     /* > U+10FFFF */
                  "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD" },
                { IN("\xE2\x82x"), "\xEF\xBF\xBDx" },   /* truncated, then ASCII: one U+FFFD */
                { IN("\xF0\x9F\x98"), "\xEF\xBF\xBD" }, /* truncated at the end: one U+FFFD */
#undef IN
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *got = utf8_sanitize(cases[i].in, cases[i].len);

                assert_non_null(got);
                assert_string_equal(got, cases[i].want);
        }
}

static void test_fold_cases(void **state) {
        assert_fold("Straße", "strasse");
        assert_fold("ＡＣＭＥ", "acme");
        assert_fold("ВЕРНИТЕ ДЕНЬГИ", "верните деньги");
        assert_fold("CAFÉ", "café");
        assert_fold("CAFE\xCC\x81", "café"); /* decomposed E + U+0301 composes */
        assert_fold("ﬁx", "fix");            /* ligature */
}

static void test_fold_greek(void **state) {
        _cleanup_free_ char *upper = NULL, *lower = NULL, *final = NULL;

        /* Every sigma, capital, small or final, folds to the same form. */
        assert_int_equal(text_fold("ΣΊΣΥΦΟΣ", strlen("ΣΊΣΥΦΟΣ"), &upper), 0);
        assert_int_equal(text_fold("σίσυφος", strlen("σίσυφος"), &lower), 0);
        assert_int_equal(text_fold("σίσυφοσ", strlen("σίσυφοσ"), &final), 0);
        assert_string_equal(upper, lower);
        assert_string_equal(upper, final);
        assert_string_equal(upper, "σίσυφοσ");
}

static void test_fold_ignorables(void **state) {
        /* Default-ignorables (variation selector, ZWJ, soft hyphen) are stripped. */
        assert_fold("😡\xEF\xB8\x8F", "😡");
        assert_fold("re\xC2\xAD" "fund", "refund");
        assert_fold("a\xE2\x80\x8D" "b", "ab");
        /* A trade mark sign stays apart from the name it follows. */
        assert_fold("Acme™", "acme ");
}

static void test_fold_invalid(void **state) {
        _cleanup_free_ char *got = NULL, *empty = NULL;

        assert_int_equal(text_fold("A\xFF" "B\0C", 5, &got), 0);
        assert_string_equal(got, "a\xEF\xBF\xBD" "b\xEF\xBF\xBD" "c");
        assert_int_equal(text_fold("", 0, &empty), 0);
        assert_string_equal(empty, "");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                TEST("normalize/html-mastodon-content", test_mastodon_content),
                TEST("normalize/html-mastodon-mention-hashtag", test_mastodon_mention_hashtag),
                TEST("normalize/html-entities", test_entities),
                TEST("normalize/html-nbsp", test_nbsp),
                TEST("normalize/html-br", test_br),
                TEST("normalize/html-blocks", test_blocks),
                TEST("normalize/html-whitespace", test_whitespace),
                TEST("normalize/html-dropped", test_dropped),
                TEST("normalize/html-invalid-utf8", test_invalid_utf8),
                TEST("normalize/html-empty", test_empty),
                TEST("normalize/html-embedded-nul", test_embedded_nul),
                TEST("normalize/html-garbage-1mib", test_garbage),
                TEST("normalize/html-deep-nesting", test_deep_nesting),
                TEST("normalize/html-threads", test_threads),
                TEST("normalize/utf8-sanitize", test_sanitize),
                TEST("normalize/fold-cases", test_fold_cases),
                TEST("normalize/fold-greek-sigma", test_fold_greek),
                TEST("normalize/fold-ignorables", test_fold_ignorables),
                TEST("normalize/fold-invalid-utf8", test_fold_invalid),
        };

        return cmocka_run_group_tests_name("normalize", tests, NULL, NULL);
}
