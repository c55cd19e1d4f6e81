/* SPDX-License-Identifier: MIT */
/*
 * normalize.h - text as the matcher sees it. Feeds send HTML, broken UTF-8 and every Unicode
 * form of a letter; rules are written by people. Both sides go through the same folding so
 * that "ВЕРНИТЕ", "верните" and full-width forms compare equal.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * HTML fragment -> plain text: tags dropped, <p>/<br>/<li>/headings become line breaks,
 * entities decoded (&#39; &quot; &amp; &nbsp; ...), runs of blanks collapsed, leading and
 * trailing white space trimmed, invalid UTF-8 replaced by U+FFFD. Mastodon's
 * <span class="invisible"> link parts are kept (the URL stays whole). Never fails on hostile
 * input; returns a malloc()ed string, or NULL on OOM.
 */
char *html_to_text(const char *html, size_t len);

/* Copy of s[0..len) with every invalid UTF-8 sequence and NUL replaced by U+FFFD. */
char *utf8_sanitize(const char *s, size_t len);

/*
 * Length of the well-formed UTF-8 sequence at s[0..n) (n >= 1), as 1..4; or, for an ill-formed
 * one (including NUL), minus the length of its maximal subpart, which utf8_sanitize() replaces by
 * one U+FFFD.
 */
int utf8_sequence(const uint8_t *s, size_t n);

/*
 * Unicode NFKC casefold (utf8proc: NFKC + casefold + strip default-ignorables): "Straße" ->
 * "strasse", "ＡＣＭＥ" -> "acme", "ВЕРНИТЕ" -> "верните". Two exceptions: ™ and ℠ become a
 * blank (not "tm"/"sm", which would glue onto the brand before them), and İ (U+0130) becomes a
 * plain "i" rather than the full folding "i" + U+0307, so "İSTANBUL" = "istanbul"; dotless ı
 * (U+0131) stays a letter of its own. Invalid UTF-8 is sanitized first.
 * Returns 0 and a malloc()ed string, or -ENOMEM.
 */
int text_fold(const char *s, size_t len, char **ret);

/*
 * The same folding as text_fold(), of valid, NUL-free UTF-8 s[0..len), into code points in the
 * caller's buf[0..n_buf), without allocating. Returns the number of code points; if that is more
 * than n_buf, buf holds nothing useful and the caller retries with a larger one. -EINVAL for
 * invalid UTF-8, -ENOMEM for sizes that overflow.
 */
ssize_t text_fold_utf32(const char *s, size_t len, int32_t *buf, size_t n_buf);
