/* SPDX-License-Identifier: MIT */
/*
 * normalize.h - text as the matcher sees it. Feeds send HTML, broken UTF-8 and every Unicode
 * form of a letter; rules are written by people. Both sides go through the same folding so
 * that "ВЕРНИТЕ", "верните" and full-width forms compare equal.
 */
#pragma once

#include <stddef.h>

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
 * Unicode NFKC casefold (utf8proc: NFKC + casefold + strip default-ignorables): "Straße" ->
 * "strasse", "ＡＣＭＥ" -> "acme", "ВЕРНИТЕ" -> "верните". Invalid UTF-8 is sanitized first.
 * Returns 0 and a malloc()ed string, or -ENOMEM.
 */
int text_fold(const char *s, size_t len, char **ret);
