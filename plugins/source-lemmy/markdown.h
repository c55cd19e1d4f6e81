/* SPDX-License-Identifier: MIT */
/*
 * markdown.h - Lemmy's Markdown bodies to plain text, for keyword rules and alerts.
 */
#pragma once

#include <stddef.h>

/*
 * lemmy_markdown_to_text - strip Markdown markup and keep the words.
 *
 * One linear pass over the input, line by line, with a few bytes of look-ahead; no
 * backtracking, so any input runs in O(len) and the output is never longer than len + 1 bytes.
 * What it does (everything else is copied as it is):
 *   - code fences (``` or ~~~ lines) are dropped, the code between them is kept verbatim;
 *   - at the start of a line: blockquote '>' markers (also "&gt;"), headings "# ", list
 *     markers ("- ", "* ", "+ ", "1. ", "1) "), task boxes "[ ] " / "[x] ", Lemmy spoiler
 *     fences ":::" / "::: spoiler"; lines that are only a rule ("---", "***", "___"), a
 *     Setext underline ("===") or a table separator ("|---|:--|") are dropped;
 *   - links [text](url "title") become "text url", images ![alt](url) become "alt",
 *     reference links [text][ref] become "text", autolinks <https://...> lose the brackets;
 *   - emphasis and code markers: every '*' and '`', "~~", and '_' where it does not join two
 *     letters or digits (snake_case stays);
 *   - backslash escapes (\* -> *), table pipes (in lines starting with '|') become blanks;
 *   - character references: &amp; &lt; &gt; &quot; &apos; &#39; &nbsp; and &#N; / &#xH;
 *     (Lemmy 0.18 HTML-escaped bodies); invalid code points become U+FFFD, control
 *     characters a blank;
 *   - blanks collapsed within a line, trailing blanks dropped, runs of empty lines kept as
 *     one, leading and trailing empty lines dropped. Line breaks stay ("\n").
 * Bytes are not validated as UTF-8 here; the core sanitises every field it copies.
 *
 * RETURN VALUE: a malloc()ed, NUL-terminated string the caller frees, or NULL on OOM.
 */
char *lemmy_markdown_to_text(const char *md, size_t len);
