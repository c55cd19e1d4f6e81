/* SPDX-License-Identifier: MIT */
/*
 * markdown.c - a small, linear Markdown stripper for Lemmy bodies (see markdown.h for the
 * list of what it removes). It is not a Markdown renderer: it only has to keep the words a
 * keyword rule looks for and drop the markup between them, on any bytes, in one pass. Every
 * branch consumes at least one input byte and writes at most as many bytes as it consumes
 * (plus one newline at the very end), so the output buffer of len + 2 bytes cannot overflow;
 * the writer checks anyway.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "markdown.h"
#include "plugin-util.h"

typedef struct Out {
        char *buf;
        size_t len, cap;
        size_t line_start; /* where the current output line begins */
        bool blank_line;   /* the last finished output line was empty */
} Out;

static void out_put(Out *o, char c) {
        if (o->len + 1 < o->cap)
                o->buf[o->len++] = c;
}

/* A blank: written only between two words of a line. */
static void out_space(Out *o) {
        if (o->len > o->line_start && o->buf[o->len - 1] != ' ')
                out_put(o, ' ');
}

static void out_utf8(Out *o, uint32_t cp) {
        char buf[4];
        size_t n = utf8_encode(cp, buf);

        for (size_t i = 0; i < n; i++)
                out_put(o, buf[i]);
}

/* Ends the current output line: trailing blanks dropped, empty lines collapsed. */
static void out_end_line(Out *o) {
        while (o->len > o->line_start && o->buf[o->len - 1] == ' ')
                o->len--;
        bool empty = o->len == o->line_start;
        if (empty && (o->blank_line || o->len == 0))
                return; /* no empty line at the start, nor two in a row */
        out_put(o, '\n');
        o->line_start = o->len;
        o->blank_line = empty;
}

static bool is_alnum_byte(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               (unsigned char)c >= 0x80; /* letters of other scripts */
}

static bool is_punct(char c) {
        return c > ' ' && c < 0x7f && !is_alnum_byte(c);
}

static bool starts(const char *p, const char *e, const char *lit) {
        size_t n = strlen(lit);
        return (size_t)(e - p) >= n && memcmp(p, lit, n) == 0;
}

/*
 * A character reference at p ('&'). Writes its character and returns the bytes consumed, or 0
 * when it is not one (then '&' is copied as it is). References longer than 12 bytes are not
 * recognised, which bounds the look-ahead.
 */
static size_t entity(Out *o, const char *p, const char *e) {
        static const struct {
                const char *name;
                char c;
        } named[] = {{"&amp;", '&'},  {"&lt;", '<'},    {"&gt;", '>'},
                     {"&quot;", '"'}, {"&apos;", '\''}, {"&nbsp;", ' '}};
        uint32_t cp = 0;
        size_t i = 2;
        bool hex;

        for (size_t k = 0; k < sizeof(named) / sizeof(named[0]); k++)
                if (starts(p, e, named[k].name)) {
                        if (named[k].c == ' ')
                                out_space(o);
                        else
                                out_put(o, named[k].c);
                        return strlen(named[k].name);
                }
        if (e - p < 4 || p[1] != '#')
                return 0;
        hex = p[2] == 'x' || p[2] == 'X';
        if (hex)
                i = 3;
        size_t first = i;
        for (; p + i < e && i < 12; i++) {
                char c = p[i];
                uint32_t d;
                if (c >= '0' && c <= '9')
                        d = (uint32_t)(c - '0');
                else if (hex && c >= 'a' && c <= 'f')
                        d = (uint32_t)(c - 'a' + 10);
                else if (hex && c >= 'A' && c <= 'F')
                        d = (uint32_t)(c - 'A' + 10);
                else
                        break;
                cp = cp * (hex ? 16 : 10) + d;
                if (cp > 0x10ffff)
                        cp = 0x110000; /* stays invalid, cannot overflow */
        }
        if (i == first || p + i >= e || p[i] != ';')
                return 0;
        if (cp == 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                out_utf8(o, 0xfffd);
        else if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0))
                out_space(o);
        else
                out_utf8(o, cp);
        return i + 1;
}

/* Whether the line is only blanks and `c`, with at least `min` of `c`. */
static bool line_only(const char *p, const char *e, char c, size_t min) {
        size_t n = 0;
        for (; p < e; p++)
                if (*p == c)
                        n++;
                else if (*p != ' ' && *p != '\t')
                        return false;
        return n >= min;
}

/* A table separator row: only '|', '-', ':' and blanks, with at least one '|' and one '-'. */
static bool table_separator(const char *p, const char *e) {
        bool pipe = false, dash = false;
        for (; p < e; p++)
                if (*p == '|')
                        pipe = true;
                else if (*p == '-')
                        dash = true;
                else if (*p != ':' && *p != ' ' && *p != '\t')
                        return false;
        return pipe && dash;
}

static const char *skip_blanks(const char *p, const char *e) {
        while (p < e && (*p == ' ' || *p == '\t'))
                p++;
        return p;
}

/* Skips the block markers at the start of a line; returns where its text begins. */
static const char *line_markers(const char *p, const char *e) {
        /* blockquotes, possibly nested: "> > text", or HTML-escaped "&gt; text" */
        for (;;) {
                p = skip_blanks(p, e);
                if (p < e && *p == '>')
                        p++;
                else if (starts(p, e, "&gt;"))
                        p += 4;
                else
                        break;
        }
        /* Lemmy's spoiler blocks: "::: spoiler Title" ... ":::" */
        if (starts(p, e, ":::")) {
                p += 3;
                while (p < e && *p == ':')
                        p++;
                p = skip_blanks(p, e);
                if (starts(p, e, "spoiler") && (p + 7 == e || p[7] == ' ' || p[7] == '\t'))
                        p += 7;
                return skip_blanks(p, e);
        }
        /* ATX headings: 1-6 '#' and a blank (or nothing) */
        if (p < e && *p == '#') {
                const char *q = p;
                while (q < e && *q == '#' && q - p < 7)
                        q++;
                if (q - p <= 6 && (q == e || *q == ' ' || *q == '\t'))
                        return skip_blanks(q, e);
        }
        /* list items: "- ", "* ", "+ ", "12. ", "3) " */
        const char *q = p;
        if (q < e && (*q == '-' || *q == '*' || *q == '+') && q + 1 < e &&
            (q[1] == ' ' || q[1] == '\t'))
                q += 2;
        else {
                while (q < e && *q >= '0' && *q <= '9' && q - p < 9)
                        q++;
                if (q > p && q + 1 < e && (*q == '.' || *q == ')') && (q[1] == ' ' || q[1] == '\t'))
                        q += 2;
                else
                        q = p;
        }
        if (q != p) {
                q = skip_blanks(q, e);
                /* task list boxes */
                if (e - q >= 3 && q[0] == '[' && (q[1] == ' ' || q[1] == 'x' || q[1] == 'X') &&
                    q[2] == ']' && (e - q == 3 || q[3] == ' ' || q[3] == '\t'))
                        q += 3;
                return skip_blanks(q, e);
        }
        return p;
}

/* The inline content of one line, from p to e. */
static void line_inline(Out *o, const char *p, const char *e, bool table) {
        unsigned brackets = 0; /* '[' not yet closed */
        bool image = false;    /* inside the alt text of an image */
        bool autolink = false; /* inside <http...>: the '>' is dropped */
        char prev = 0;         /* the previous input byte */

        while (p < e) {
                char c = *p;

                if (c == '\\' && p + 1 < e && is_punct(p[1])) {
                        out_put(o, p[1]);
                        prev = p[1];
                        p += 2;
                        continue;
                }
                if (c == ' ' || c == '\t' || (table && c == '|')) {
                        out_space(o);
                } else if (c == '*' || c == '`') {
                        /* emphasis and code markers */
                } else if (c == '_') {
                        if (!(is_alnum_byte(prev) && p + 1 < e && is_alnum_byte(p[1])))
                                ; /* a marker, not part of snake_case */
                        else
                                out_put(o, c);
                } else if (c == '~' && p + 1 < e && p[1] == '~') {
                        p++; /* strikethrough */
                } else if (c == '!' && p + 1 < e && p[1] == '[') {
                        image = true;
                        if (brackets < 64)
                                brackets++;
                        p++;
                } else if (c == '[') {
                        if (brackets < 64)
                                brackets++;
                } else if (c == ']' && brackets > 0 && p + 1 < e && p[1] == '(') {
                        /* a link destination: kept for links, dropped for images */
                        unsigned depth = 0;
                        bool title = false;
                        brackets--;
                        if (!image)
                                out_space(o);
                        for (p += 2; p < e; p++) {
                                if (*p == '(' && !title)
                                        depth++;
                                else if (*p == ')' && (title || depth == 0))
                                        break;
                                else if (*p == ')')
                                        depth--;
                                else if (*p == ' ' || *p == '\t')
                                        title = true; /* [t](url "title"): drop the title */
                                if (!image && !title)
                                        out_put(o, *p);
                        }
                        image = false;
                        if (p == e)
                                break;
                } else if (c == ']' && brackets > 0 && p + 1 < e && p[1] == '[') {
                        /* [text][ref]: drop the label */
                        brackets--;
                        image = false;
                        for (p += 2; p < e && *p != ']'; p++)
                                ;
                        if (p == e)
                                break;
                } else if (c == ']') {
                        if (brackets > 0)
                                brackets--;
                        image = false;
                } else if (c == '<' &&
                           (starts(p + 1, e, "http://") || starts(p + 1, e, "https://") ||
                            starts(p + 1, e, "mailto:"))) {
                        autolink = true;
                } else if (c == '>' && autolink) {
                        autolink = false;
                } else if (c == '&') {
                        size_t n = entity(o, p, e);
                        if (n > 0) {
                                prev = p[n - 1];
                                p += n;
                                continue;
                        }
                        out_put(o, c);
                } else if ((unsigned char)c < 0x20 || c == 0x7f) {
                        out_space(o);
                } else
                        out_put(o, c);
                prev = c;
                p++;
        }
}

char *lemmy_markdown_to_text(const char *md, size_t len) {
        Out o = {.cap = len + 2};
        const char *p = md, *end = md + len;
        char fence = 0; /* '`' or '~' inside a code fence */
        size_t fence_n = 0;

        o.buf = malloc(o.cap);
        if (!o.buf)
                return NULL;

        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t)(end - p));
                const char *e = nl ? nl : end, *next = nl ? nl + 1 : end;
                if (e > p && e[-1] == '\r')
                        e--;

                const char *s = skip_blanks(p, e);
                size_t run = 0;
                while (s + run < e && (s[run] == '`' || s[run] == '~') && s[run] == s[0])
                        run++;

                if (fence) {
                        if (run >= fence_n && s[0] == fence && skip_blanks(s + run, e) == e) {
                                fence = 0; /* the closing fence, dropped like the opening one */
                                p = next;
                                continue;
                        }
                        /* code: verbatim, but no control characters */
                        for (const char *c = p; c < e; c++)
                                out_put(&o, (unsigned char)*c < 0x20 || *c == 0x7f ? ' ' : *c);
                        out_end_line(&o);
                        p = next;
                        continue;
                }
                if (run >= 3) {
                        /* an opening fence; its info string ("c", "python") is not text */
                        fence = s[0];
                        fence_n = run;
                        p = next;
                        continue;
                }
                if (line_only(s, e, '-', 3) || line_only(s, e, '*', 3) || line_only(s, e, '_', 3) ||
                    line_only(s, e, '=', 1) || table_separator(s, e)) {
                        p = next; /* dropped without a trace: no empty line either */
                        continue;
                }
                bool table = s < e && *s == '|';
                line_inline(&o, line_markers(s, e), e, table);
                out_end_line(&o);
                p = next;
        }

        /* no trailing empty lines or newline */
        while (o.len > 0 && (o.buf[o.len - 1] == '\n' || o.buf[o.len - 1] == ' '))
                o.len--;
        o.buf[o.len] = 0;
        return o.buf;
}
