/* SPDX-License-Identifier: MIT */
/*
 * normalize.c - turns what feeds send into the text the matcher sees (see normalize.h).
 *
 * Guarantees: every function here accepts any byte string (NULs, invalid UTF-8, hostile or
 * truncated HTML, megabytes of garbage) and either returns valid, NUL-free UTF-8 or fails with
 * ENOMEM; nothing else fails. Invalid UTF-8 is replaced before libxml2 sees it, so libxml2 never
 * falls back to guessing an encoding. The functions keep no state of their own and are safe to
 * call from any thread: libxml2 is initialized once (pthread_once) and never cleaned up, since
 * xmlCleanupParser() would pull the rug from under other threads. The HTML tree is walked
 * iteratively, so nesting depth costs no stack.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/HTMLparser.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <utf8proc.h>

#include "util/cleanup.h"
#include "normalize.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(xmlDoc *, xmlFreeDoc);

/* U+FFFD REPLACEMENT CHARACTER */
static const char replacement[] = "\xEF\xBF\xBD";

/*
 * Length of the well-formed UTF-8 sequence at s[0..n), as 1..4; or, for an ill-formed one, minus
 * the length of its maximal subpart, which the Unicode standard (ch. 3, "U+FFFD Substitution of
 * Maximal Subparts") recommends replacing by one U+FFFD. Follows RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF. NUL counts as ill-formed, because C strings end there.
 */
int utf8_sequence(const uint8_t *s, size_t n) {
        uint8_t c = s[0], lo = 0x80, hi = 0xBF;
        int need;

        if (c == 0)
                return -1;
        if (c < 0x80)
                return 1;
        if (c >= 0xC2 && c <= 0xDF)
                need = 1;
        else if (c == 0xE0) {
                need = 2;
                lo = 0xA0;
        } else if (c == 0xED) {
                need = 2;
                hi = 0x9F;
        } else if (c >= 0xE1 && c <= 0xEF)
                need = 2;
        else if (c == 0xF0) {
                need = 3;
                lo = 0x90;
        } else if (c == 0xF4) {
                need = 3;
                hi = 0x8F;
        } else if (c >= 0xF1 && c <= 0xF3)
                need = 3;
        else
                return -1;

        for (int i = 1; i <= need; i++) {
                if ((size_t)i >= n || s[i] < lo || s[i] > hi)
                        return -i;
                lo = 0x80;
                hi = 0xBF;
        }
        return need + 1;
}

/* Sanitizes s[0..len) into out (if not NULL); returns the output length either way. */
static size_t sanitize_into(const uint8_t *s, size_t len, char *out) {
        size_t o = 0;

        for (size_t i = 0; i < len;) {
                int r = utf8_sequence(s + i, len - i);

                if (r > 0) {
                        if (out)
                                memcpy(out + o, s + i, r);
                        o += r;
                        i += r;
                } else {
                        if (out)
                                memcpy(out + o, replacement, 3);
                        o += 3;
                        i += -r;
                }
        }
        return o;
}

char *utf8_sanitize(const char *s, size_t len) {
        size_t n;
        char *out;

        if (!s)
                len = 0;

        /* The output is at most 3 bytes per input byte; refuse sizes where that could wrap. */
        if (len > (SIZE_MAX - 1) / 3)
                return NULL;

        n = sanitize_into((const uint8_t *)s, len, NULL);
        out = malloc(n + 1);
        if (!out)
                return NULL;
        (void)sanitize_into((const uint8_t *)s, len, out);
        out[n] = '\0';
        return out;
}

/*
 * NFKC would turn "Acme™" into "acmetm" and "Acme℠" into "acmesm", gluing the mark onto the
 * brand name it follows, which is exactly where brands put it. Read them as blanks instead.
 *
 * Full case folding turns İ (U+0130, capital I with dot above) into "i̇", i + U+0307, which then
 * no longer equals the "i" that Turkish brand names are written with in lower case ("İSTANBUL"
 * vs "istanbul"). Fold it to a plain i. Dotless ı (U+0131) is left alone: it is a letter of its
 * own. The map runs before decomposition, so only the precomposed U+0130 is affected.
 */
static utf8proc_int32_t fold_custom(utf8proc_int32_t cp, _unused_ void *data) {
        if (cp == 0x2122 /* ™ */ || cp == 0x2120 /* ℠ */)
                return ' ';
        if (cp == 0x0130 /* İ */)
                return 'i';
        return cp;
}

/* Shared by text_fold() and text_fold_utf32(), so that the two can never disagree. */
static const utf8proc_option_t fold_options = UTF8PROC_STABLE | UTF8PROC_COMPAT |
                                              UTF8PROC_COMPOSE | UTF8PROC_CASEFOLD |
                                              UTF8PROC_IGNORE;

ssize_t text_fold_utf32(const char *s, size_t len, int32_t *buf, size_t n_buf) {
        utf8proc_ssize_t n;

        if (len > (size_t)SSIZE_MAX || n_buf > (size_t)SSIZE_MAX / sizeof(int32_t))
                return -ENOMEM;

        n = utf8proc_decompose_custom((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)len,
                                      (utf8proc_int32_t *)buf, (utf8proc_ssize_t)n_buf,
                                      fold_options, fold_custom, NULL);
        if (n < 0)
                return n == UTF8PROC_ERROR_NOMEM || n == UTF8PROC_ERROR_OVERFLOW ? -ENOMEM
                                                                                  : -EINVAL;
        if ((size_t)n > n_buf)
                return n; /* too small: the caller grows buf and calls again */

        n = utf8proc_normalize_utf32((utf8proc_int32_t *)buf, n, fold_options);
        if (n < 0)
                return -EINVAL;
        return n;
}

int text_fold(const char *s, size_t len, char **ret) {
        _cleanup_free_ char *clean = NULL;
        utf8proc_uint8_t *folded = NULL;
        utf8proc_ssize_t r;

        clean = utf8_sanitize(s, len);
        if (!clean)
                return -ENOMEM;

        len = strlen(clean); /* sanitized text has no NULs */
        if (len > (size_t)SSIZE_MAX)
                return -ENOMEM;

        /* Length-based (no UTF8PROC_NULLTERM): the sanitized copy is exactly len bytes. */
        r = utf8proc_map_custom((const utf8proc_uint8_t *)clean, (utf8proc_ssize_t)len, &folded,
                                fold_options, fold_custom, NULL);
        if (r < 0)
                /* Sanitized input cannot be invalid; what is left is NOMEM or OVERFLOW. */
                return -ENOMEM;

        *ret = (char *)folded;
        return 0;
}

/*
 * The text being built, with white space held back: a blank or line break is written only once
 * the next visible character arrives, which collapses runs and trims both ends for free.
 */
typedef struct TextBuf {
        char *data; /* owned */
        size_t len, cap;
        unsigned pending_nl; /* line breaks owed before the next character, at most 2 */
        bool pending_space;
        bool oom;
} TextBuf;

static bool textbuf_reserve(TextBuf *b, size_t n) {
        size_t cap;
        char *p;

        if (b->oom)
                return false;
        if (b->len + n + 1 <= b->cap)
                return true;

        cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1) {
                if (cap > SIZE_MAX / 2) {
                        b->oom = true;
                        return false;
                }
                cap *= 2;
        }
        p = realloc(b->data, cap);
        if (!p) {
                b->oom = true;
                return false;
        }
        b->data = p;
        b->cap = cap;
        return true;
}

/* Writes n visible bytes, after whatever white space is owed (none at the very start). */
static void textbuf_put(TextBuf *b, const char *s, size_t n) {
        if (!textbuf_reserve(b, n + 2))
                return;
        if (b->len > 0) {
                if (b->pending_nl > 0)
                        for (unsigned i = 0; i < b->pending_nl; i++)
                                b->data[b->len++] = '\n';
                else if (b->pending_space)
                        b->data[b->len++] = ' ';
        }
        b->pending_nl = 0;
        b->pending_space = false;
        memcpy(b->data + b->len, s, n);
        b->len += n;
}

/* A block boundary: at least one line break. Adjacent boundaries (</p><p>) do not add up. */
static void textbuf_soft_break(TextBuf *b) {
        if (b->pending_nl == 0)
                b->pending_nl = 1;
}

/* <br>: one more line break, but never more than one blank line. */
static void textbuf_hard_break(TextBuf *b) {
        if (b->pending_nl < 2)
                b->pending_nl++;
}

static void textbuf_text(TextBuf *b, const char *s) {
        const char *run = s;

        for (const char *p = s;; p++) {
                size_t blank = 0;

                if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == '\f')
                        blank = 1;
                else if ((uint8_t)p[0] == 0xC2 && (uint8_t)p[1] == 0xA0) /* U+00A0 &nbsp; */
                        blank = 2;
                else if (*p != '\0')
                        continue;

                if (p > run)
                        textbuf_put(b, run, p - run);
                if (*p == '\0')
                        return;
                b->pending_space = true;
                p += blank - 1;
                run = p + 1;
        }
}

static bool name_in(const xmlChar *name, const char *const *list) {
        for (; *list; list++)
                if (xmlStrEqual(name, (const xmlChar *)*list))
                        return true;
        return false;
}

/* Whose content is not text a person wrote. */
static const char *const dropped_elements[] = {
        "script", "style", "template", NULL,
};

/* Elements that start and end a line of their own (libxml2 lower-cases HTML names). */
static const char *const block_elements[] = {
        "address", "article", "aside", "blockquote", "caption", "dd", "details", "dialog",
        "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form",
        "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr",
        "li", "main", "nav", "ol", "p", "pre", "section", "summary",
        "table", "tbody", "tfoot", "thead", "tr", "ul", NULL,
};

static const char *const cell_elements[] = { "td", "th", NULL };

/* Called on entering and on leaving an element (except <br>, which has no content). */
static void element_edge(TextBuf *b, const xmlNode *n) {
        if (name_in(n->name, block_elements))
                textbuf_soft_break(b);
        else if (name_in(n->name, cell_elements))
                b->pending_space = true;
}

static void walk(TextBuf *b, xmlNode *root) {
        xmlNode *n = root;

        while (n && !b->oom) {
                bool descend = false;

                switch (n->type) {
                case XML_ELEMENT_NODE:
                        if (xmlStrEqual(n->name, (const xmlChar *)"br"))
                                textbuf_hard_break(b);
                        else if (!name_in(n->name, dropped_elements)) {
                                element_edge(b, n);
                                descend = true;
                        }
                        break;
                case XML_TEXT_NODE:
                case XML_CDATA_SECTION_NODE:
                        if (n->content)
                                textbuf_text(b, (const char *)n->content);
                        break;
                case XML_DOCUMENT_NODE:
                case XML_HTML_DOCUMENT_NODE:
                case XML_DOCUMENT_FRAG_NODE:
                        descend = true;
                        break;
                default: /* comments, processing instructions, DTDs, ... */
                        break;
                }

                if (descend && n->children) {
                        n = n->children;
                        continue;
                }

                /* Done with n's subtree: close elements on the way up to the next sibling. */
                for (;;) {
                        if (descend && n->type == XML_ELEMENT_NODE)
                                element_edge(b, n);
                        if (n == root)
                                return;
                        if (n->next) {
                                n = n->next;
                                break;
                        }
                        n = n->parent;
                        if (!n) /* not below root: cannot happen, but never walk off */
                                return;
                        descend = true; /* every ancestor was descended into */
                }
        }
}

static pthread_once_t xml_once = PTHREAD_ONCE_INIT;

static void xml_init(void) {
        xmlInitParser();
}

/*
 * Parses sanitized UTF-8 HTML. Returns the document, or NULL on OOM or when nothing parsed;
 * *halted tells whether libxml2 gave up part way (e.g. nesting deeper than its limit), in
 * which case the document holds only what came before that point.
 */
static xmlDoc *html_parse(const char *html, int len, bool *halted) {
        htmlParserCtxt *ctxt;
        xmlDoc *doc;

        *halted = false;
        ctxt = htmlNewParserCtxt();
        if (!ctxt)
                return NULL;
        /*
         * "UTF-8" plus HTML_PARSE_IGNORE_ENC: the input was just sanitized, so no <meta charset>
         * may reinterpret it. NONET: never fetch anything. NOERROR/NOWARNING: feeds are full of
         * broken markup, which is not ours to report.
         */
        doc = htmlCtxtReadMemory(ctxt, html, len, NULL, "UTF-8",
                                 HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING |
                                         HTML_PARSE_NONET | HTML_PARSE_IGNORE_ENC);
        /* a halted parser stops calling back: the rest of the input was dropped */
        *halted = ctxt->disableSAX != 0 || ctxt->instate == XML_PARSER_EOF;
        htmlFreeParserCtxt(ctxt);
        return doc;
}

/*
 * The fallback for markup libxml2 refuses to parse in full (thousands of nested elements, as a
 * hostile server may send): drops every tag, comment and declaration in one linear pass,
 * leaving text and character references for a second, flat parse to decode. A tag that
 * usually breaks a line becomes a <br>, any other a nothing, so words inside <b>…</b> stay
 * whole. A '<' that cannot start a tag is text, as in HTML itself.
 */
static char *strip_tags(const char *s, size_t len) {
        /* "<br>" for "<p>" is the most any tag grows */
        char *out = malloc(len / 3 * 4 + 4), *o = out;
        size_t i = 0;

        if (!out)
                return NULL;
        while (i < len) {
                unsigned char next = i + 1 < len ? (unsigned char)s[i + 1] : 0;
                bool opens = s[i] == '<' && (((next | 0x20) >= 'a' && (next | 0x20) <= 'z') ||
                                             next == '/' || next == '!' || next == '?');
                if (!opens) {
                        *o++ = s[i++];
                        continue;
                }
                const char *end;
                size_t skip;
                if (len - i >= 4 && memcmp(s + i, "<!--", 4) == 0) {
                        end = memmem(s + i + 4, len - i - 4, "-->", 3);
                        skip = end ? (size_t)(end - (s + i)) + 3 : len - i;
                } else {
                        end = memchr(s + i, '>', len - i);
                        skip = end ? (size_t)(end - (s + i)) + 1 : len - i;
                }
                /* <p>, </p>, <br>, <div>, <li>: a line break; anything else: nothing */
                const char *name = s + i + 1 + (next == '/');
                size_t n = 0;
                while (name + n < s + i + skip &&
                       (((name[n] | 0x20) >= 'a' && (name[n] | 0x20) <= 'z') ||
                        (name[n] >= '0' && name[n] <= '9')))
                        n++;
                static const char *const breaking[] = { "p", "br", "div", "li", "tr",
                                                        "h1", "h2", "h3", "h4", "h5",
                                                        "h6", "blockquote", "pre", NULL };
                for (const char *const *b = breaking; *b; b++)
                        if (strlen(*b) == n && strncasecmp(name, *b, n) == 0) {
                                o = stpcpy(o, "<br>");
                                break;
                        }
                i += skip;
        }
        *o = 0;
        return out;
}

char *html_to_text(const char *html, size_t len) {
        _cleanup_(xmlFreeDocp) xmlDoc *doc = NULL;
        _cleanup_free_ char *clean = NULL;
        TextBuf b = {};
        bool halted;
        char *text;

        clean = utf8_sanitize(html, len);
        if (!clean)
                return NULL;
        len = strlen(clean);

        /* libxml2 takes an int; cut oversized input at a character boundary. */
        if (len > INT_MAX) {
                len = INT_MAX;
                while (len > 0 && ((uint8_t)clean[len] & 0xC0) == 0x80)
                        len--;
        }
        if (len == 0)
                return strdup("");

        (void)pthread_once(&xml_once, xml_init);

        doc = html_parse(clean, (int)len, &halted);
        if (halted) {
                /* Part of the text would be lost: flatten the markup and parse what is left. */
                _cleanup_free_ char *flat = strip_tags(clean, len);
                if (!flat)
                        return NULL;
                xmlFreeDoc(doc);
                doc = html_parse(flat, (int)strlen(flat), &halted);
        }
        if (!doc)
                /* Either OOM or nothing parseable; nothing tells the two apart, so: no text. */
                return strdup("");

        walk(&b, (xmlNode *)doc);
        if (b.oom) {
                free(b.data);
                return NULL;
        }
        if (!b.data)
                return strdup("");

        /* libxml2 emits UTF-8, but make the contract independent of what it does with &#0; */
        text = utf8_sanitize(b.data, b.len);
        free(b.data);
        return text;
}
