/* SPDX-License-Identifier: MIT */
/*
 * reddit-atom.c - a small reader of the Atom 1.0 documents Reddit serves for its .rss
 * listings (/r/SUB/new/.rss, /r/SUB/comments/.rss, /search.rss), for the source's fallback
 * without OAuth. Reddit's feeds are machine-written and well-formed, so this is not the
 * general feed reader of source-rss: it takes exactly what Reddit puts in an <entry> (id,
 * author, link, title, content, published, updated) and refuses anything that is not an Atom
 * <feed>.
 *
 * Safety, as in source-rss: libxml2 reads the body with XML_PARSE_NONET and without
 * XML_PARSE_NOENT or DTD loading, so no entity is ever substituted by the parser and nothing
 * is fetched; text is collected from text and CDATA nodes only (entity references a document
 * declares for itself are dropped, never expanded), attributes the same way (never with
 * xmlGetProp, which expands them), and elements are told apart by namespace URI. Text per
 * field is capped at TEXT_MAX bytes and the entries at ATOM_ENTRIES_MAX.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "earshot-plugin.h"
#include "plugin-util.h"
#include "reddit.h"

#define ATOM_NS "http://www.w3.org/2005/Atom"
#define TEXT_MAX (1024 * 1024)

static void xmlFreeDocp(xmlDoc **d) {
        if (*d)
                xmlFreeDoc(*d);
}

static void xmlBufferFreep(xmlBuffer **b) {
        if (*b)
                xmlBufferFree(*b);
}

static bool is_atom(const xmlNode *n, const char *name) {
        return n && n->type == XML_ELEMENT_NODE && n->ns && n->ns->href &&
               strcmp((const char *)n->ns->href, ATOM_NS) == 0 &&
               strcmp((const char *)n->name, name) == 0;
}

static xmlNode *atom_child(const xmlNode *parent, const char *name) {
        for (xmlNode *c = parent ? parent->children : NULL; c; c = c->next)
                if (is_atom(c, name))
                        return c;
        return NULL;
}

/* Append the text and CDATA below n (entity references skipped) to buf, up to TEXT_MAX. */
static void text_collect(const xmlNode *n, char *buf, size_t *len) {
        for (const xmlNode *c = n->children; c; c = c->next) {
                if (c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) {
                        size_t l = c->content ? strlen((const char *)c->content) : 0;
                        if (l > TEXT_MAX - *len)
                                l = TEXT_MAX - *len;
                        memcpy(buf + *len, c->content, l);
                        *len += l;
                } else if (c->type == XML_ELEMENT_NODE)
                        text_collect(c, buf, len);
        }
}

/* The text content of element n as a malloc()ed string ("" when empty); NULL on OOM. */
static char *node_text(const xmlNode *n) {
        char *buf = malloc(TEXT_MAX + 1);
        size_t len = 0;

        if (!buf)
                return NULL;
        text_collect(n, buf, &len);
        buf[len] = 0;
        char *s = realloc(buf, len + 1);
        return s ? s : buf;
}

/* The value of attribute `name` (no namespace) of n, from its text children; NULL if none. */
static char *attr_text(const xmlNode *n, const char *name, bool *oom) {
        for (const xmlAttr *a = n->properties; a; a = a->next) {
                if (a->ns || strcmp((const char *)a->name, name) != 0)
                        continue;
                size_t len = 0;
                for (const xmlNode *c = a->children; c; c = c->next)
                        if (c->type == XML_TEXT_NODE && c->content)
                                len += strlen((const char *)c->content);
                if (len > TEXT_MAX)
                        return NULL;
                char *s = malloc(len + 1), *o = s;
                if (!s) {
                        *oom = true;
                        return NULL;
                }
                for (const xmlNode *c = a->children; c; c = c->next)
                        if (c->type == XML_TEXT_NODE && c->content)
                                o = stpcpy(o, (const char *)c->content);
                *o = 0;
                return s;
        }
        return NULL;
}

/* Blanks at both ends of s removed in place; returns s. */
static char *trim(char *s) {
        size_t n = strlen(s), k = 0;

        while (n > 0 && char_is_blank(s[n - 1]))
                n--;
        s[n] = 0;
        while (char_is_blank(s[k]))
                k++;
        memmove(s, s + k, n - k + 1);
        return s;
}

/*
 * The HTML of a <content> element: escaped HTML (type="html") is its text; inline XHTML
 * (type="xhtml", Reddit's format of 2016) is its children serialised. NULL on OOM.
 */
static char *content_html(const xmlNode *content, bool *oom) {
        _cleanup_free_ char *type = attr_text(content, "type", oom);
        if (*oom)
                return NULL;
        if (!type || strcmp(type, "xhtml") != 0) {
                char *s = node_text(content);
                if (!s)
                        *oom = true;
                return s;
        }
        _cleanup_(xmlBufferFreep) xmlBuffer *b = xmlBufferCreate();
        if (!b) {
                *oom = true;
                return NULL;
        }
        for (xmlNode *c = content->children; c; c = c->next) {
                if (xmlNodeDump(b, content->doc, c, 0, 0) < 0 || xmlBufferLength(b) > TEXT_MAX)
                        break;
        }
        char *s = strdup(xmlBufferContent(b) ? (const char *)xmlBufferContent(b) : "");
        if (!s)
                *oom = true;
        return s;
}

/*
 * The post's own text from Reddit's entry HTML: the Markdown block Reddit brackets with
 * <!-- SC_OFF --> ... <!-- SC_ON --> (self posts, comments); else what precedes the
 * "submitted by /u/NAME to r/SUB [link] [comments]" footer (link posts: a thumbnail, no text);
 * else all of it. Plain text, trimmed; NULL on OOM.
 */
static char *content_text(const struct earshot_host *h, const char *html) {
        const char *start = strstr(html, "<!-- SC_OFF -->"), *end = NULL;
        size_t n;

        if (start) {
                start += strlen("<!-- SC_OFF -->");
                end = strstr(start, "<!-- SC_ON -->");
        } else {
                start = html;
                end = strstr(html, "submitted by");
        }
        n = end ? (size_t)(end - start) : strlen(start);
        char *text = h->html_to_text(start, n);
        return text ? trim(text) : NULL;
}

static void entry_done(AtomEntry *e) {
        free(e->id);
        free(e->author);
        free(e->link);
        free(e->title);
        free(e->text);
}

void atom_entries_free(AtomEntry *e, size_t n) {
        for (size_t i = 0; e && i < n; i++)
                entry_done(&e[i]);
        free(e);
}

static int64_t entry_time(const struct earshot_host *h, const xmlNode *entry, const char *name) {
        const xmlNode *n = atom_child(entry, name);
        int64_t usec;

        if (!n)
                return 0;
        _cleanup_free_ char *s = node_text(n);
        if (!s || h->parse_time(trim(s), &usec) < 0 || usec <= 0)
                return 0;
        return usec;
}

static int entry_read(const struct earshot_host *h, const xmlNode *entry, AtomEntry *e) {
        const xmlNode *n;
        bool oom = false;

        if ((n = atom_child(entry, "id")) && !(e->id = node_text(n)))
                return -ENOMEM;
        if (e->id)
                trim(e->id);
        n = atom_child(atom_child(entry, "author"), "name");
        if (n) {
                _cleanup_free_ char *name = node_text(n);
                if (!name)
                        return -ENOMEM;
                const char *s = trim(name);
                if (strncmp(s, "/u/", 3) == 0)
                        s += 3;
                else if (strncmp(s, "u/", 2) == 0)
                        s += 2;
                if (*s && !(e->author = strdup(s)))
                        return -ENOMEM;
        }
        for (n = entry->children; n && !e->link; n = n->next) {
                if (!is_atom(n, "link"))
                        continue;
                _cleanup_free_ char *rel = attr_text(n, "rel", &oom);
                if (!oom && (!rel || strcmp(rel, "alternate") == 0)) {
                        e->link = attr_text(n, "href", &oom);
                        if (e->link && !url_skip_http(trim(e->link))) {
                                free(e->link);
                                e->link = NULL;
                        }
                }
                if (oom)
                        return -ENOMEM;
        }
        if ((n = atom_child(entry, "title"))) {
                _cleanup_free_ char *raw = node_text(n);
                if (!raw)
                        return -ENOMEM;
                /* type="html" titles are escaped markup; Reddit's are plain text */
                e->title = h->html_to_text(raw, strlen(raw));
                if (!e->title)
                        return -ENOMEM;
                trim(e->title);
        }
        if ((n = atom_child(entry, "content")) || (n = atom_child(entry, "summary"))) {
                _cleanup_free_ char *html = content_html(n, &oom);
                if (oom)
                        return -ENOMEM;
                e->text = content_text(h, html ? html : "");
        } else
                e->text = strdup("");
        if (!e->text)
                return -ENOMEM;
        e->created = entry_time(h, entry, "published");
        int64_t updated = entry_time(h, entry, "updated");
        if (!e->created)
                e->created = updated;
        else if (updated > e->created)
                e->edited = updated;
        return 0;
}

int reddit_atom_parse(const struct earshot_host *h, const char *body, size_t len, AtomEntry **ret,
                      size_t *ret_n, const char **ret_why) {
        _cleanup_(xmlFreeDocp) xmlDoc *doc = NULL;
        AtomEntry *entries = NULL;
        size_t n = 0;
        xmlNode *root;
        int r;

        if (!body || len == 0 || len > INT_MAX) {
                *ret_why = "is empty or too large";
                return -EBADMSG;
        }
        if (memchr(body, 0, len)) {
                *ret_why = "contains NUL bytes, not XML";
                return -EBADMSG;
        }
        doc = xmlReadMemory(body, (int)len, NULL, NULL,
                            XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
        if (!doc) {
                *ret_why = "is not well-formed XML";
                return -EBADMSG;
        }
        root = xmlDocGetRootElement(doc);
        if (!is_atom(root, "feed")) {
                *ret_why = "is not an Atom feed (no <feed> root in the Atom namespace)";
                return -EBADMSG;
        }
        entries = calloc(ATOM_ENTRIES_MAX, sizeof(AtomEntry));
        if (!entries)
                return -ENOMEM;
        for (xmlNode *c = root->children; c && n < ATOM_ENTRIES_MAX; c = c->next) {
                if (!is_atom(c, "entry"))
                        continue;
                r = entry_read(h, c, &entries[n]);
                n++;
                if (r < 0) {
                        atom_entries_free(entries, n);
                        return r;
                }
        }
        *ret = entries;
        *ret_n = n;
        return 0;
}
