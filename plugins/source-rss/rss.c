/* SPDX-License-Identifier: MIT */
/*
 * rss.c - RSS 0.9x/2.0, RSS 1.0 (RDF) and Atom 0.3/1.0 feeds as an earshot source: blogs,
 * review sites, forums, YouTube channel feeds, Google Alerts, Mastodon's per-tag and
 * per-account RSS, Reddit's .rss listings.
 *
 * One feed per URL in `urls`, named by the URL itself (scheme and host lower-cased). A poll is
 * one GET of that URL; feeds have no paging. Every item of the document (the first
 * `max_items`, in document order) is emitted on every poll, oldest first, and the core's
 * seen-set drops the ones it already has: feeds have no reliable order and no ids to resume
 * from, so a cursor cannot say "after this one". Two things protect against the seen-set
 * forgetting (store.seen_retention): items dated more than `max_age` before now are not
 * emitted, and the first poll's `backfill` rule of the core keeps history from alerting. The
 * cursor is the newest item date the feed has shown (RFC 3339), only ever moving forward; it
 * selects nothing, but when a poll finds every item newer than it, the feed's window slid
 * past items between the two polls and the gap is reported (report_gap). A channel's <ttl>
 * or sy:updatePeriod/sy:updateFrequency is passed on as a pause (set_backoff), at most an
 * hour, so that a feed asking to be polled less often is, without silencing it for a day.
 *
 * Parsing. The body is first made valid UTF-8 (rss-charset.c: BOM, HTTP charset, XML
 * declaration, then a Latin-1/Cyrillic heuristic for undeclared bytes). HTML entities XML does
 * not know (&hellip; &eacute;, as feeds write them without a DTD) become character references
 * and a bare '&' becomes "&amp;", outside CDATA sections, comments and the DOCTYPE. libxml2
 * then reads the result with XML_PARSE_RECOVER (real feeds are often not well-formed),
 * XML_PARSE_NONET (nothing is ever fetched), without XML_PARSE_NOENT (entities are never
 * substituted by the parser, so external entities are never loaded: libxml2 2.9.14 has no
 * XML_PARSE_NO_XXE, it is added when built against 2.13 or later), without DTD loading and
 * without XML_PARSE_HUGE, so its own limits on depth, name length and entity amplification
 * stay on. Internal entities a document declares are expanded by this file, within a budget
 * per document; attributes are read the same way (never with xmlGetProp, which expands
 * without a limit). Elements are told apart by namespace URI, never by prefix. A body that is
 * not XML, or whose root is not <rss>, <rdf:RDF> or <feed>, is -EBADMSG with one error line.
 *
 * Fields. id: RSS <guid> / Atom <id> / rdf:about / dc:identifier; an absolute URI ("https:",
 * "tag:", "yt:video:") is used as is, a relative permalink is resolved against the base, and
 * any other id is made unique as "FEED-URL#id". Without an id: the item's link; without a
 * link: "FEED-URL#sha:" and a 64-bit FNV-1a hash of title, date and (untitled) text. url:
 * feedburner:origLink / RSS <link> / Atom <link rel="alternate"> / atom:link / a permalink
 * guid, resolved against xml:base, Content-Location and the feed URL, http(s) only; Google's
 * redirect links are unwrapped. text: content:encoded, Atom <content>, xhtml:body,
 * <description>/<summary>, dc:description, media:description, itunes:summary, the first that
 * is not empty, as plain text: escaped HTML and CDATA go through the core's html_to_text
 * (twice when the HTML was escaped twice), Atom type="text" stays as written, type="xhtml"
 * is serialised and converted, base64 is decoded; double-encoded UTF-8 and Windows-1252 C1
 * characters are repaired. title: <title> (or dc:title, media:title) the same way, when
 * `include_title`. author: Atom <author> (inherited from <source> and the feed), RSS
 * <author> ("mail (Name)"), dc:creator, itunes:author; the handle is "user@host" for
 * Mastodon status links (and the name is the channel title of an account's own feed), the
 * user name for Reddit's "/u/NAME", else the e-mail address (not noreply@), else the name.
 * created: published / pubDate / issued / dc:date / dcterms:issued|created; edited: updated /
 * modified when later (rss-date.c reads them all). lang: `language`, else xml:lang in scope,
 * dc:language, the channel's <language>, HTTP Content-Language. reply_to: thr:in-reply-to.
 * replies: slash:comments / thr:total. likes: media:starRating count (YouTube). Feeds carry
 * no follower counts, reposts or review ratings.
 *
 * Limits: documents up to INT_MAX bytes (the core caps them far lower), `max_items` items
 * (1..2000), 1 MiB of text per field before conversion, 100,000 nodes visited and 1 MiB of
 * text produced by entity expansions per document (then references are left empty), URLs
 * up to 2,000 bytes, ids up to 1,000 (a longer one, or one that would make "FEED-URL#id"
 * longer than 2,000, is hashed), xml:base chains up to 64 deep.
 *
 * Error answers (parse_error). 410 Gone (the feed was removed for good), 401 (it needs a login,
 * which this source cannot give) and 404 (nothing at that URL) block the feed until `urls` is
 * fixed; 403 is retried, explained as a site that refuses automated readers (a bot filter, a
 * blocked address range), which may pass. Anything else (429, 5xx, ...) is left to the core.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/HTMLparser.h>
#include <libxml/entities.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/uri.h>
#include <libxml/xmlerror.h>
#include <libxml/xmlversion.h>

#include "earshot-plugin.h"
#include "plugin-util.h"
#include "rss-internal.h"

#define MAX_ITEMS_MAX 2000     /* the core takes at most 2000 posts from one response */
#define FIELD_MAX (1u << 20)   /* bytes of one field taken from the document */
#define ENTITY_BUDGET 100000   /* nodes visited inside entity expansions, per document */
#define ENTITY_BYTES (1u << 20) /* bytes of text entity expansions yield, per document */
#define DEPTH_MAX 512          /* element and entity nesting followed when reading text */
#define URL_MAX 2000
#define ID_MAX 1000
#define BASE_CHAIN_MAX 64
#define LANG_MAX 35
#define PAUSE_MAX (INT64_C(3600) * 1000000) /* the most of a feed's <ttl> that is honoured */

#define NS_ATOM10 "http://www.w3.org/2005/Atom"
#define NS_ATOM03 "http://purl.org/atom/ns#"
#define NS_RDF "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
#define NS_CONTENT "http://purl.org/rss/1.0/modules/content/"
#define NS_DC "http://purl.org/dc/elements/1.1/"
#define NS_DCTERMS "http://purl.org/dc/terms/"
#define NS_MEDIA "http://search.yahoo.com/mrss/"
#define NS_MEDIA_ALT "http://search.yahoo.com/mrss"
#define NS_YT "http://www.youtube.com/xml/schemas/2015"
#define NS_XHTML "http://www.w3.org/1999/xhtml"
#define NS_THR "http://purl.org/syndication/thread/1.0"
#define NS_SLASH "http://purl.org/rss/1.0/modules/slash/"
#define NS_ITUNES "http://www.itunes.com/dtds/podcast-1.0.dtd"
#define NS_XML "http://www.w3.org/XML/1998/namespace"
#define NS_FEEDBURNER "http://rssnamespace.org/feedburner/ext/1.0"
#define NS_SY "http://purl.org/rss/1.0/modules/syndication/"

/* Namespaces the versions of RSS itself have been given; no namespace at all is the norm. */
static const char *const rss_namespaces[] = {
        "http://purl.org/rss/1.0/",
        "http://my.netscape.com/rdf/simple/0.9/",
        "http://backend.userland.com/rss2",
        "http://backend.userland.com/rss",
        "http://blogs.law.harvard.edu/tech/rss",
        "http://purl.org/net/rss1.1#",
        NULL,
};

static inline void xmlFreeDocp(xmlDoc **d) {
        if (*d)
                xmlFreeDoc(*d);
}

/* ---- state ---------------------------------------------------------------------------------- */

typedef struct Rss {
        const struct earshot_host *host; /* borrowed, valid until destroy */
        char **urls;                     /* owned: normalised feed URLs = feed names */
        size_t n_urls;
        char *network;  /* owned */
        char *language; /* owned, or NULL */
        int64_t max_items;
        int64_t max_age; /* µs; 0 = no limit */
        bool include_title;
} Rss;

static void rss_destroy(void *state) {
        Rss *r = state;

        if (!r)
                return;
        strv_free_n(r->urls, r->n_urls);
        free(r->network);
        free(r->language);
        free(r);
}

static inline void rss_destroyp(Rss **r) {
        rss_destroy(*r);
}

/*
 * Validate a feed URL and normalise it: scheme and host lower-cased, everything after the host
 * kept as written (feeds live behind queries: YouTube's ?channel_id=). No credentials (the URL
 * is the feed's name, and names are logged), no fragment, no blanks.
 */
static int url_normalise(const char *url, char **ret, const char **ret_error) {
        const char *scheme, *p;

        if (strncasecmp(url, "https://", 8) == 0) {
                scheme = "https://";
                p = url + 8;
        } else if (strncasecmp(url, "http://", 7) == 0) {
                scheme = "http://";
                p = url + 7;
        } else {
                *ret_error = "is not an http:// or https:// URL";
                return -EINVAL;
        }
        if (strlen(url) > URL_MAX) {
                *ret_error = "is too long";
                return -EINVAL;
        }
        for (const char *c = p; *c; c++)
                if ((unsigned char)*c <= ' ' || *c == 0x7f) {
                        *ret_error = "contains blanks or control characters";
                        return -EINVAL;
                } else if (*c == '#') {
                        *ret_error = "may not have a fragment";
                        return -EINVAL;
                }
        size_t alen = strcspn(p, "/?");
        if (alen == 0) {
                *ret_error = "has no host";
                return -EINVAL;
        }
        if (memchr(p, '@', alen)) {
                *ret_error = "may not contain user credentials";
                return -EINVAL;
        }
        for (size_t i = 0; i < alen; i++) {
                char c = p[i];
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '.' || c == '_' || c == ':' || c == '[' || c == ']')) {
                        *ret_error = "has a bad host name (IDNs must be in punycode)";
                        return -EINVAL;
                }
        }
        if (p[0] == ':' || p[0] == '.' || p[0] == '-') {
                *ret_error = "has no host";
                return -EINVAL;
        }

        _cleanup_free_ char *host = ascii_lower(strndup(p, alen));
        if (!host)
                return -ENOMEM;
        /* "https://example.com" and "https://example.com/" are one feed */
        const char *rest = p[alen] ? p + alen : "/";
        *ret = strjoin(scheme, host, rest[0] == '?' ? "/" : "", rest);
        return *ret ? 0 : -ENOMEM;
}

/* A language tag as given: letters, digits and '-' ('_' read as '-'); NULL if not one. */
static char *lang_clean(const char *s) {
        size_t n;
        char *out;

        if (!s)
                return NULL;
        while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
                s++;
        n = strcspn(s, " \t\r\n");
        if (n == 0 || n > LANG_MAX || s[n + strspn(s + n, " \t\r\n")] != 0)
                return NULL;
        out = strndup(s, n);
        if (!out)
                return NULL;
        for (char *c = out; *c; c++) {
                if (*c == '_')
                        *c = '-';
                if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                      (*c >= '0' && *c <= '9') || *c == '-')) {
                        free(out);
                        return NULL;
                }
        }
        if (out[0] == '-') {
                free(out);
                return NULL;
        }
        return out;
}

static int rss_create(const struct earshot_host *host, const struct earshot_values *vals,
                      char *err, size_t err_len, void **ret_state) {
        _cleanup_(rss_destroyp) Rss *r = NULL;
        const struct earshot_value *urls;
        const char *error = NULL, *network, *language;
        int k;

        urls = earshot_value_get(vals, "urls");
        if (!urls || !urls->set || !urls->list || urls->n_list == 0)
                return set_error(err, err_len, "urls: at least one feed URL is needed");

        r = calloc(1, sizeof(*r));
        if (!r)
                return -ENOMEM;
        r->host = host;
        r->urls = calloc(urls->n_list, sizeof(char *));
        if (!r->urls)
                return -ENOMEM;
        for (size_t i = 0; i < urls->n_list && urls->list[i]; i++) {
                char *u = NULL;
                bool dup = false;

                k = url_normalise(urls->list[i], &u, &error);
                if (k == -EINVAL)
                        return set_error(err, err_len, "urls: '%s' %s", urls->list[i], error);
                if (k < 0)
                        return k;
                /* the same URL twice would be two feeds with one name */
                for (size_t j = 0; j < r->n_urls && !dup; j++)
                        dup = strcmp(r->urls[j], u) == 0;
                if (dup) {
                        free(u);
                        continue;
                }
                r->urls[r->n_urls++] = u;
        }
        if (r->n_urls == 0)
                return set_error(err, err_len, "urls: the list is empty");

        network = earshot_value_str(vals, "network");
        if (!network || !*network)
                network = "rss";
        if (strlen(network) > 32)
                return set_error(err, err_len, "network: '%s' is longer than 32 characters",
                                 network);
        for (const char *c = network; *c; c++)
                if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-' ||
                      *c == '_' || *c == '.'))
                        return set_error(err, err_len,
                                         "network: '%s' may only have lower-case letters, "
                                         "digits, '-', '_' and '.'",
                                         network);
        r->network = strdup(network);
        if (!r->network)
                return -ENOMEM;

        language = earshot_value_str(vals, "language");
        if (language && *language) {
                r->language = lang_clean(language);
                if (!r->language)
                        return set_error(err, err_len,
                                         "language: '%s' is not a language tag such as \"en\" or "
                                         "\"pt-BR\"",
                                         language);
        }

        r->max_items = earshot_value_num(vals, "max_items", 200);
        if (r->max_items < 1 || r->max_items > MAX_ITEMS_MAX)
                return set_error(err, err_len, "max_items: %" PRId64 " is not in 1..%d",
                                 r->max_items, MAX_ITEMS_MAX);
        r->max_age = earshot_value_num(vals, "max_age", INT64_C(14) * 86400 * 1000000);
        if (r->max_age < 0)
                return set_error(err, err_len, "max_age: may not be negative");
        r->include_title = earshot_value_num(vals, "include_title", 1) != 0;

        /* libxml2 must be initialised once, from the thread that loads us; this is idempotent */
        xmlInitParser();

        *ret_state = r;
        r = NULL;
        return 0;
}

static const char *rss_feed(void *state, uint32_t i) {
        Rss *r = state;
        return i < r->n_urls ? r->urls[i] : NULL;
}

static int rss_build_request(void *state, uint32_t i, const char *cursor, const char *page,
                             struct earshot_request *req) {
        Rss *r = state;

        if (i >= r->n_urls)
                return -EINVAL;
        return request_get(r->host, req, r->urls[i],
                           "application/atom+xml, application/rss+xml, "
                           "application/rdf+xml;q=0.9, application/xml;q=0.8, "
                           "text/xml;q=0.8, */*;q=0.5");
}

/* ---- growing buffers -------------------------------------------------------------------------- */

typedef struct Buf {
        char *s;
        size_t len, cap;
        size_t limit; /* bytes at most; 0: FIELD_MAX */
        bool oom, full;
} Buf;

static void buf_put(Buf *b, const char *s, size_t n) {
        if (b->oom || b->full)
                return;
        size_t limit = b->limit ? b->limit : FIELD_MAX;
        if (b->len + n > limit) {
                n = limit - b->len;
                /* cut at a character boundary */
                while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
                        n--;
                b->full = true;
        }
        if (b->len + n + 1 > b->cap) {
                size_t cap = b->cap ? b->cap : b->limit > FIELD_MAX ? 4096 : 128;
                while (cap < b->len + n + 1)
                        cap *= 2;
                char *ns = realloc(b->s, cap);
                if (!ns) {
                        b->oom = true;
                        return;
                }
                b->s = ns;
                b->cap = cap;
        }
        memcpy(b->s + b->len, s, n);
        b->len += n;
        b->s[b->len] = 0;
}

static void buf_puts(Buf *b, const char *s) {
        buf_put(b, s, strlen(s));
}

/* The buffer's string (never NULL unless OOM); the caller owns it. */
static char *buf_take(Buf *b) {
        if (b->oom) {
                free(b->s);
                *b = (Buf){0};
                return NULL;
        }
        char *s = b->s ? b->s : strdup("");
        *b = (Buf){0};
        return s;
}

/* ---- HTML entities before XML ----------------------------------------------------------------- */

/* Names a document declares in its internal DTD subset (bounded). */
typedef struct Declared {
        char names[64][33];
        size_t n;
} Declared;

static bool declared_has(const Declared *d, const char *name, size_t n) {
        for (size_t i = 0; i < d->n; i++)
                if (strlen(d->names[i]) == n && memcmp(d->names[i], name, n) == 0)
                        return true;
        return false;
}

static bool is_name_start(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_name_char(char c) {
        return is_name_start(c) || (c >= '0' && c <= '9') || c == '-' || c == '.';
}

/*
 * Length of a well-formed reference at s ("&name;", "&#123;", "&#x1F;"), or 0. Names longer
 * than 32 bytes are not taken for references.
 */
static size_t reference_at(const char *s, const char *end, size_t *ret_name_len) {
        const char *p = s + 1;

        *ret_name_len = 0;
        if (p < end && *p == '#') {
                p++;
                bool hex = p < end && (*p == 'x' || *p == 'X');
                const char *digits = p += hex;
                while (p < end && ((*p >= '0' && *p <= '9') ||
                                   (hex && ((*p >= 'a' && *p <= 'f') || (*p >= 'A' && *p <= 'F')))))
                        p++;
                if (p == digits || p - digits > 8 || p >= end || *p != ';')
                        return 0;
                return (size_t)(p - s) + 1;
        }
        if (p >= end || !is_name_start(*p))
                return 0;
        while (p < end && is_name_char(*p) && p - s <= 33)
                p++;
        if (p >= end || *p != ';' || p - s > 33)
                return 0;
        *ret_name_len = (size_t)(p - s) - 1;
        return (size_t)(p - s) + 1;
}

/*
 * Copy s[0..n) with what XML parsers drop from feeds restored: a known HTML entity that the
 * document does not declare becomes a character reference, an unknown one and a bare '&'
 * become literal text ("&amp;"). CDATA sections, comments, processing instructions and the
 * DOCTYPE are copied untouched; entity names declared in the DOCTYPE are left to libxml2.
 */
static char *fix_entities(const char *s, size_t n, size_t *ret_len) {
        Declared decl = {0};
        Buf b = {.limit = INT_MAX}; /* what libxml2 can take */
        const char *p = s, *end = s + n, *run = s;

        /* fast path: nothing to do without '&' */
        if (!memchr(s, '&', n)) {
                char *c = malloc(n + 1);
                if (!c)
                        return NULL;
                memcpy(c, s, n);
                c[n] = 0;
                *ret_len = n;
                return c;
        }

        while (p < end) {
                const char *skip_to = NULL;
                size_t skip_len = 0;

                if (*p == '<' && end - p >= 9 && memcmp(p, "<![CDATA[", 9) == 0) {
                        skip_to = memmem(p + 9, (size_t)(end - p - 9), "]]>", 3);
                        skip_len = 3;
                } else if (*p == '<' && end - p >= 4 && memcmp(p, "<!--", 4) == 0) {
                        skip_to = memmem(p + 4, (size_t)(end - p - 4), "-->", 3);
                        skip_len = 3;
                } else if (*p == '<' && end - p >= 2 && p[1] == '?') {
                        skip_to = memmem(p + 2, (size_t)(end - p - 2), "?>", 2);
                        skip_len = 2;
                } else if (*p == '<' && end - p >= 9 && strncasecmp(p, "<!DOCTYPE", 9) == 0) {
                        /* to the '>' that ends it, past an internal subset in [...] */
                        const char *q = p + 9, *open = NULL;
                        while (q < end && *q != '>' && *q != '[')
                                q++;
                        if (q < end && *q == '[') {
                                open = q;
                                q = memmem(q, (size_t)(end - q), "]", 1);
                                /* collect the names of <!ENTITY name ...> declarations */
                                for (const char *e = open; q && e < q && decl.n < 64; e++) {
                                        if (q - e < 9 || memcmp(e, "<!ENTITY", 8) != 0)
                                                continue;
                                        const char *nm = e + 8;
                                        while (nm < q && (*nm == ' ' || *nm == '\t' ||
                                                          *nm == '\n' || *nm == '\r'))
                                                nm++;
                                        if (nm < q && *nm == '%')
                                                continue; /* parameter entities */
                                        size_t k = 0;
                                        while (nm + k < q && is_name_char(nm[k]) && k < 32)
                                                k++;
                                        memcpy(decl.names[decl.n], nm, k);
                                        decl.names[decl.n++][k] = 0;
                                }
                                if (q)
                                        q = memchr(q, '>', (size_t)(end - q));
                        }
                        skip_to = q;
                        skip_len = 1;
                }
                if (skip_to || skip_len) {
                        p = skip_to ? skip_to + skip_len : end;
                        continue;
                }
                if (*p != '&') {
                        p++;
                        continue;
                }

                size_t name_len, ref = reference_at(p, end, &name_len);
                const char *name = p + 1;
                char repl[24];
                const char *with = NULL;

                if (ref == 0)
                        with = "&amp;";
                else if (name_len == 0 && p[2] == 'X') {
                        /* "&#X41;" is HTML, not XML: XML wants a lower-case x */
                        (void)snprintf(repl, sizeof(repl), "&#x%.*s", (int)(ref - 3), p + 3);
                        with = repl;
                } else if (name_len > 0 &&
                         !((name_len == 3 && memcmp(name, "amp", 3) == 0) ||
                           (name_len == 2 && (memcmp(name, "lt", 2) == 0 ||
                                              memcmp(name, "gt", 2) == 0)) ||
                           (name_len == 4 && (memcmp(name, "quot", 4) == 0 ||
                                              memcmp(name, "apos", 4) == 0))) &&
                         !declared_has(&decl, name, name_len)) {
                        char nm[33];
                        memcpy(nm, name, name_len);
                        nm[name_len] = 0;
                        const htmlEntityDesc *e = htmlEntityLookup((const xmlChar *)nm);
                        if (e) {
                                (void)snprintf(repl, sizeof(repl), "&#%u;", e->value);
                                with = repl;
                        } else
                                with = "&amp;";
                }
                if (!with) {
                        p += ref;
                        continue;
                }
                buf_put(&b, run, (size_t)(p - run));
                buf_puts(&b, with);
                /* "&amp;" replaces only the '&'; a character reference the whole entity */
                p += with == repl ? ref : 1;
                run = p;
        }
        buf_put(&b, run, (size_t)(end - run));
        if (b.full) {
                free(b.s);
                b = (Buf){0};
                /* more than libxml2 takes: leave the document as it was (and too large) */
                char *c = malloc(n + 1);
                if (!c)
                        return NULL;
                memcpy(c, s, n);
                c[n] = 0;
                *ret_len = n;
                return c;
        }
        size_t len = b.len;
        char *out = buf_take(&b);
        if (out)
                *ret_len = len;
        return out;
}

/* ---- reading the tree ------------------------------------------------------------------------- */

enum {
        KIND_RSS,
        KIND_RDF,
        KIND_ATOM,
};

typedef struct Doc {
        Rss *rss;
        const char *feed;  /* borrowed: the feed's name, its URL */
        xmlDoc *xml;       /* borrowed */
        int kind;
        const char *atom_ns; /* an Atom document in another namespace (or none): the root's */
        char *base;        /* owned: the document's base URL */
        char *lang;        /* owned: the feed's language, or NULL */
        char *feed_title;  /* owned, plain text, or NULL */
        char *feed_link;   /* owned, or NULL */
        const xmlNode *feed_author; /* Atom <author> of the feed, or NULL */
        int64_t pause;     /* µs the feed asks to be left alone (<ttl>, sy:update*), or 0 */
        size_t entity_budget; /* nodes left to visit inside entity expansions */
        size_t entity_bytes;  /* bytes left that entity expansions may yield */
} Doc;

static bool ns_is(const xmlNode *n, const char *uri) {
        return n->ns && n->ns->href && strcmp((const char *)n->ns->href, uri) == 0;
}

static bool has_no_ns(const xmlNode *n) {
        return !n->ns || !n->ns->href || !n->ns->href[0];
}

static bool named(const xmlNode *n, const char *name) {
        return n->type == XML_ELEMENT_NODE && n->name && strcmp((const char *)n->name, name) == 0;
}

static bool is_el(const xmlNode *n, const char *uri, const char *name) {
        return named(n, name) && ns_is(n, uri);
}

/* n is in namespace uri (NULL: in no namespace). */
static bool same_ns(const xmlNode *n, const char *uri) {
        return uri ? ns_is(n, uri) : has_no_ns(n);
}

static bool is_rss_ns(const xmlNode *n) {
        if (has_no_ns(n))
                return true;
        for (const char *const *u = rss_namespaces; *u; u++)
                if (ns_is(n, *u))
                        return true;
        return false;
}

static bool is_atom_ns(const xmlNode *n) {
        return ns_is(n, NS_ATOM10) || ns_is(n, NS_ATOM03);
}

/* Apple's namespace, which feeds also write as ".../DTDs/Podcast-1.0.dtd" */
static bool is_itunes(const xmlNode *n, const char *name) {
        return named(n, name) && n->ns && n->ns->href &&
               strcasecmp((const char *)n->ns->href, NS_ITUNES) == 0;
}

static bool is_media(const xmlNode *n, const char *name) {
        return named(n, name) && (ns_is(n, NS_MEDIA) || ns_is(n, NS_MEDIA_ALT));
}

/* An element of the document's own format (RSS, RDF's RSS 1.0, or Atom). */
static bool is_core(const Doc *d, const xmlNode *n, const char *name) {
        if (!named(n, name))
                return false;
        if (d->kind == KIND_ATOM)
                return is_atom_ns(n) || same_ns(n, d->atom_ns);
        return is_rss_ns(n);
}

/* An Atom element, in an Atom document or as an extension (atom:link in RSS). */
static bool is_atom(const Doc *d, const xmlNode *n, const char *name) {
        return named(n, name) && (is_atom_ns(n) || (d->kind == KIND_ATOM && same_ns(n, d->atom_ns)));
}

static void put_codepoint(Buf *b, unsigned cp) {
        char u[4];
        size_t n;

        if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
                cp = 0xFFFD;
        if (cp < 0x80) {
                u[0] = (char)cp;
                n = 1;
        } else if (cp < 0x800) {
                u[0] = (char)(0xC0 | (cp >> 6));
                u[1] = (char)(0x80 | (cp & 0x3F));
                n = 2;
        } else if (cp < 0x10000) {
                u[0] = (char)(0xE0 | (cp >> 12));
                u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
                u[2] = (char)(0x80 | (cp & 0x3F));
                n = 3;
        } else {
                u[0] = (char)(0xF0 | (cp >> 18));
                u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
                u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
                u[3] = (char)(0x80 | (cp & 0x3F));
                n = 4;
        }
        buf_put(b, u, n);
}

/* How collect() writes what it finds. */
enum {
        MODE_TEXT,   /* text only, as it is */
        MODE_SOURCE, /* text is HTML source (escaped HTML, CDATA); elements become tags too */
        MODE_XHTML,  /* elements become tags, text is escaped: markup for html_to_text() */
};

/* Text that comes out of an entity expansion: charged to the document's byte budget. */
static void put_entity_text(Doc *d, Buf *b, const char *s, int mode);

static void put_text(Buf *b, const char *s, int mode) {
        if (mode != MODE_XHTML) {
                buf_puts(b, s);
                return;
        }
        for (const char *run = s, *p = s;; p++) {
                if (*p && *p != '&' && *p != '<' && *p != '>')
                        continue;
                buf_put(b, run, (size_t)(p - run));
                if (!*p)
                        break;
                buf_puts(b, *p == '&' ? "&amp;" : *p == '<' ? "&lt;" : "&gt;");
                run = p + 1;
        }
}

/* An element's name as a tag for html_to_text(): the local name if it is a plain word. */
static bool tag_name_ok(const xmlChar *name) {
        size_t n = 0;
        if (!name)
                return false;
        for (const xmlChar *c = name; *c; c++, n++)
                if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                      (*c >= '0' && *c <= '9')) ||
                    n > 32)
                        return false;
        return n > 0;
}

static void collect(Doc *d, const xmlNode *n, Buf *b, int mode, unsigned depth, bool in_entity);

/* An entity reference: declared internal entities are expanded within the budget. */
static void collect_entity(Doc *d, const xmlNode *n, Buf *b, int mode, unsigned depth) {
        xmlEntity *ent = xmlGetDocEntity(d->xml, n->name);

        if (!ent) {
                /* undeclared (fix_entities() left it alone): an HTML name, or the text itself */
                const htmlEntityDesc *e = n->name ? htmlEntityLookup(n->name) : NULL;
                if (e)
                        put_codepoint(b, e->value);
                else if (n->name) {
                        buf_puts(b, mode == MODE_XHTML ? "&amp;" : "&");
                        put_text(b, (const char *)n->name, mode);
                        buf_puts(b, ";");
                }
                return;
        }
        /* external entities are never loaded */
        if (ent->etype != XML_INTERNAL_GENERAL_ENTITY &&
            ent->etype != XML_INTERNAL_PREDEFINED_ENTITY)
                return;
        if (d->entity_budget == 0)
                return;
        d->entity_budget--;
        if (ent->children) {
                for (const xmlNode *c = ent->children; c; c = c->next)
                        collect(d, c, b, mode, depth + 1, true);
        } else if (ent->content)
                put_entity_text(d, b, (const char *)ent->content, mode);
}

static void put_entity_text(Doc *d, Buf *b, const char *s, int mode) {
        size_t n = strlen(s);
        if (n > d->entity_bytes) {
                d->entity_bytes = 0;
                d->entity_budget = 0; /* spent: no more expansions in this document */
                return;
        }
        d->entity_bytes -= n;
        put_text(b, s, mode);
}

static void collect(Doc *d, const xmlNode *n, Buf *b, int mode, unsigned depth, bool in_entity) {
        if (depth > DEPTH_MAX || b->oom || b->full)
                return;
        if (in_entity) {
                if (d->entity_budget == 0)
                        return;
                d->entity_budget--;
        }
        switch (n->type) {
        case XML_TEXT_NODE:
        case XML_CDATA_SECTION_NODE:
                if (n->content && in_entity)
                        put_entity_text(d, b, (const char *)n->content, mode);
                else if (n->content)
                        put_text(b, (const char *)n->content, mode);
                break;
        case XML_ENTITY_REF_NODE:
                collect_entity(d, n, b, mode, depth);
                break;
        case XML_ELEMENT_NODE: {
                bool tag = mode != MODE_TEXT && tag_name_ok(n->name);
                bool br = tag && strcasecmp((const char *)n->name, "br") == 0;
                if (br) {
                        buf_puts(b, "<br>");
                        break;
                }
                if (tag) {
                        buf_puts(b, "<");
                        buf_puts(b, (const char *)n->name);
                        buf_puts(b, ">");
                }
                for (const xmlNode *c = n->children; c; c = c->next)
                        collect(d, c, b, mode, depth + 1, in_entity);
                if (tag) {
                        buf_puts(b, "</");
                        buf_puts(b, (const char *)n->name);
                        buf_puts(b, ">");
                }
                break;
        }
        default: /* comments, processing instructions */
                break;
        }
}

/* The text below n (its children), collected in `mode`; NULL on OOM. */
static char *node_collect(Doc *d, const xmlNode *n, int mode) {
        Buf b = {0};

        for (const xmlNode *c = n->children; c; c = c->next)
                collect(d, c, &b, mode, 0, false);
        return buf_take(&b);
}

static char *trim_dup(const char *s) {
        while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
                s++;
        size_t n = strlen(s);
        while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' ||
                         s[n - 1] == '\n'))
                n--;
        return strndup(s, n);
}

/* The text of n, trimmed; NULL on OOM. */
static char *node_string(Doc *d, const xmlNode *n) {
        _cleanup_free_ char *s = node_collect(d, n, MODE_TEXT);
        return s ? trim_dup(s) : NULL;
}

/*
 * Attribute `name` of n in namespace `uri` (NULL: no namespace), trimmed; NULL when absent.
 * *ret_oom tells OOM apart. Read like text, so entity references cost budget, never more.
 */
static char *attr_get(Doc *d, const xmlNode *n, const char *uri, const char *name, bool *ret_oom) {
        for (const xmlAttr *a = n->properties; a; a = a->next) {
                if (!a->name || strcmp((const char *)a->name, name) != 0)
                        continue;
                if (uri ? !(a->ns && a->ns->href && strcmp((const char *)a->ns->href, uri) == 0)
                        : (a->ns != NULL))
                        continue;
                Buf b = {0};
                for (const xmlNode *c = a->children; c; c = c->next)
                        collect(d, c, &b, MODE_TEXT, 0, false);
                char *s = buf_take(&b), *t;
                if (!s) {
                        *ret_oom = true;
                        return NULL;
                }
                t = trim_dup(s);
                free(s);
                if (!t)
                        *ret_oom = true;
                return t;
        }
        return NULL;
}

/* The xml:lang in scope at n; NULL when none, or when the nearest one is empty. */
static char *node_lang(Doc *d, const xmlNode *n, bool *ret_oom) {
        for (unsigned depth = 0; n && n->type == XML_ELEMENT_NODE && depth < 1024;
             n = n->parent, depth++) {
                _cleanup_free_ char *l = attr_get(d, n, NS_XML, "lang", ret_oom);
                if (l)
                        return *l ? lang_clean(l) : NULL;
                if (*ret_oom)
                        return NULL;
        }
        return NULL;
}

/*
 * href resolved against the xml:base attributes in scope at n and the document's base. Only
 * http(s) URLs come back; NULL for anything else (and on OOM, with *ret_oom set).
 */
static char *resolve_url(Doc *d, const xmlNode *n, const char *href, bool *ret_oom) {
        const xmlNode *chain[BASE_CHAIN_MAX];
        size_t n_chain = 0;
        char *base = NULL, *out = NULL;

        if (!href || !*href || strlen(href) > URL_MAX)
                return NULL;
        if (rss_is_http_url(href) || !d->base)
                return rss_is_http_url(href) ? strdup(href) : NULL;

        for (const xmlNode *p = n; p && p->type == XML_ELEMENT_NODE; p = p->parent) {
                if (n_chain == BASE_CHAIN_MAX) {
                        n_chain = 0; /* absurdly deep: the document's base alone */
                        break;
                }
                chain[n_chain++] = p;
        }
        base = strdup(d->base);
        if (!base) {
                *ret_oom = true;
                return NULL;
        }
        while (n_chain > 0) {
                const xmlNode *p = chain[--n_chain];
                _cleanup_free_ char *xb = attr_get(d, p, NS_XML, "base", ret_oom);
                if (*ret_oom) {
                        free(base);
                        return NULL;
                }
                if (!xb || !*xb || strlen(xb) > URL_MAX)
                        continue;
                xmlChar *nb = xmlBuildURI((const xmlChar *)xb, (const xmlChar *)base);
                if (nb) {
                        char *c = strdup((const char *)nb);
                        xmlFree(nb);
                        if (!c) {
                                free(base);
                                *ret_oom = true;
                                return NULL;
                        }
                        free(base);
                        base = c;
                }
        }
        xmlChar *u = xmlBuildURI((const xmlChar *)href, (const xmlChar *)base);
        free(base);
        if (u) {
                if (rss_is_http_url((const char *)u) && strlen((const char *)u) <= URL_MAX)
                        out = strdup((const char *)u);
                xmlFree(u);
                if (!out && rss_is_http_url((const char *)href))
                        *ret_oom = true;
        }
        return out;
}

static bool utf8_is_valid(const char *s) {
        const unsigned char *p = (const unsigned char *)s;
        while (*p) {
                size_t n = *p < 0x80 ? 1 : (*p & 0xE0) == 0xC0 ? 2 : (*p & 0xF0) == 0xE0 ? 3
                                       : (*p & 0xF8) == 0xF0 ? 4 : 0;
                if (n == 0 || (n == 2 && *p < 0xC2) || (n == 4 && *p > 0xF4))
                        return false;
                for (size_t k = 1; k < n; k++)
                        if ((p[k] & 0xC0) != 0x80)
                                return false;
                p += n;
        }
        return true;
}

/* ---- text constructs -------------------------------------------------------------------------- */

enum {
        TEXT_PLAIN,
        TEXT_HTML,
        TEXT_XHTML,
        TEXT_AUTO,   /* RSS titles: HTML if it has markup or references, else plain */
        TEXT_SOURCE, /* RSS description: HTML source, with any child elements as markup */
        TEXT_NONE,   /* binary or out-of-line content: no text */
};

/*
 * Whether HTML source was escaped twice: it holds an escaped closing tag of an element that
 * carries text in feeds ("&lt;/p&gt;", "&lt;/div&gt;", ...), which after one conversion
 * would be left as markup in the text. A post quoting "</p>" is rarer than such a feed.
 */
static bool double_escaped(const char *s) {
        static const char *const names[] = {"p", "div", "a", "b", "i", "em", "strong", "span",
                                            "li", "ul", "ol", "blockquote", "table", "td", NULL};
        for (const char *p = strstr(s, "&lt;/"); p; p = strstr(p + 1, "&lt;/"))
                for (const char *const *n = names; *n; n++) {
                        size_t l = strlen(*n);
                        if (strncasecmp(p + 5, *n, l) == 0 && strncmp(p + 5 + l, "&gt;", 4) == 0)
                                return true;
                }
        return false;
}

/* html_to_text() of s, or plain collapsing; then the final clean-up. NULL on OOM. */
static char *convert(Doc *d, const char *s, int type) {
        _cleanup_free_ char *t = NULL;

        if (type == TEXT_AUTO)
                type = strpbrk(s, "<&") ? TEXT_HTML : TEXT_PLAIN;
        if (type == TEXT_PLAIN)
                t = rss_text_collapse(s);
        else {
                t = d->rss->host->html_to_text(s, strlen(s));
                /*
                 * HTML escaped twice ("&amp;lt;p&amp;gt;", as Reddit's and other generators'
                 * feeds have it) leaves markup in the text: one more round removes it.
                 */
                if (t && double_escaped(s)) {
                        char *again = d->rss->host->html_to_text(t, strlen(t));
                        free(t);
                        t = again;
                }
        }
        if (!t)
                return NULL;
        return rss_text_fix(t);
}

/* The type of an Atom text construct (1.0 type=, 0.3 type= and mode=). *ret_base64 for 0.3. */
static int atom_type(Doc *d, const xmlNode *n, bool *ret_base64, bool *ret_oom) {
        _cleanup_free_ char *type = attr_get(d, n, NULL, "type", ret_oom);
        _cleanup_free_ char *mode = attr_get(d, n, NULL, "mode", ret_oom);
        _cleanup_free_ char *src = attr_get(d, n, NULL, "src", ret_oom);
        bool html, xhtml, text, typed = type && *type;

        *ret_base64 = false;
        if (src)
                return TEXT_NONE; /* out-of-line content */
        if (mode && strcasecmp(mode, "base64") == 0)
                *ret_base64 = true;

        if (!type || !*type || strcasecmp(type, "text") == 0 ||
            strcasecmp(type, "text/plain") == 0) {
                text = true;
                html = xhtml = false;
        } else {
                text = false;
                html = strcasecmp(type, "html") == 0 || strcasecmp(type, "text/html") == 0;
                xhtml = strcasecmp(type, "xhtml") == 0 ||
                        strcasecmp(type, "application/xhtml+xml") == 0;
        }
        if (mode && strcasecmp(mode, "escaped") == 0)
                /* escaped with no type is escaped HTML in practice; escaped text/plain is text */
                return (text && !typed) || html || xhtml ? TEXT_HTML : TEXT_PLAIN;
        if (*ret_base64)
                return html || xhtml ? TEXT_HTML : text ? TEXT_PLAIN :
                       strncasecmp(type, "text/", 5) == 0 ? TEXT_PLAIN : TEXT_AUTO;
        if (text)
                /* Atom 0.3 inline markup is mode="xml" (its default) with child elements */
                return n->children && xmlFirstElementChild((xmlNode *)n) ? TEXT_XHTML
                                                                           : TEXT_PLAIN;
        if (html)
                return TEXT_HTML;
        if (xhtml)
                return TEXT_XHTML;
        size_t tl = strlen(type);
        if ((tl > 4 && (strcasecmp(type + tl - 4, "+xml") == 0 ||
                        strcasecmp(type + tl - 4, "/xml") == 0)))
                return TEXT_XHTML;
        if (strncasecmp(type, "text/", 5) == 0)
                return TEXT_PLAIN;
        /* other media types are base64 (RFC 4287 4.1.3.3): text if it decodes to text */
        *ret_base64 = true;
        return TEXT_AUTO;
}

/*
 * The plain text of a text-bearing element of the given type (TEXT_*; for Atom constructs
 * pass -1 to read type= and mode=). "" when there is none; NULL on OOM.
 */
static char *element_text(Doc *d, const xmlNode *n, int type) {
        bool base64 = false, oom = false;
        _cleanup_free_ char *raw = NULL;

        if (type < 0) {
                type = atom_type(d, n, &base64, &oom);
                if (oom)
                        return NULL;
        }
        if (type == TEXT_NONE)
                return strdup("");
        if (base64) {
                _cleanup_free_ char *enc = node_collect(d, n, MODE_TEXT);
                if (!enc)
                        return NULL;
                size_t dl;
                raw = rss_base64_decode(enc, &dl);
                if (!raw)
                        return NULL;
                /* binary after all (an image): no text */
                if (strlen(raw) != dl || !utf8_is_valid(raw))
                        raw[0] = 0;
        } else if (type == TEXT_XHTML) {
                /* Atom xhtml content is wrapped in one xhtml:div, which is not content */
                const xmlNode *first = xmlFirstElementChild((xmlNode *)n), *only = first;
                for (const xmlNode *c = n->children; c && only; c = c->next)
                        if (c != first && (c->type == XML_ELEMENT_NODE ||
                                           (c->type == XML_TEXT_NODE && c->content &&
                                            strspn((const char *)c->content, " \t\r\n") !=
                                                    strlen((const char *)c->content))))
                                only = NULL;
                if (only && named(only, "div") && ns_is(only, NS_XHTML))
                        n = only;
                raw = node_collect(d, n, MODE_XHTML);
        } else
                raw = node_collect(d, n, type == TEXT_PLAIN ? MODE_TEXT : MODE_SOURCE);
        if (!raw)
                return NULL;
        return convert(d, raw, type == TEXT_XHTML ? TEXT_HTML : type == TEXT_SOURCE ? TEXT_HTML
                                                                                    : type);
}

/* ---- entries ---------------------------------------------------------------------------------- */

/* Text candidates of an item, best first. */
enum {
        CAND_CONTENT_ENCODED,
        CAND_ATOM_CONTENT,
        CAND_XHTML_BODY,
        CAND_DESCRIPTION,
        CAND_DC_DESCRIPTION,
        CAND_MEDIA_DESCRIPTION,
        CAND_ITUNES_SUMMARY,
        _CAND_MAX,
};

/* Date candidates, best first. */
enum {
        PUB_PUBLISHED,
        PUB_PUBDATE,
        PUB_ISSUED,
        PUB_DC_DATE,
        PUB_DCTERMS_ISSUED,
        PUB_DCTERMS_CREATED,
        PUB_CREATED,
        _PUB_MAX,
};

typedef struct Item {
        const xmlNode *node;
        const xmlNode *id, *dc_identifier;
        const xmlNode *rss_link, *atom_link; /* RSS <link> text; Atom alternate link */
        const xmlNode *orig_link;            /* feedburner:origLink, behind a feedproxy link */
        int atom_link_rank;
        const xmlNode *title, *dc_title, *media_title;
        const xmlNode *text[_CAND_MAX];
        int text_type[_CAND_MAX];
        const xmlNode *rss_author, *dc_creator, *atom_author, *itunes_author, *source;
        const xmlNode *published[_PUB_MAX];
        const xmlNode *updated, *dcterms_modified;
        const xmlNode *dc_language;
        const xmlNode *in_reply_to;
        const xmlNode *comments_count, *thr_total;
        const xmlNode *star_rating;
} Item;

/* An Atom <link>'s href; broken feeds write the URL as the content instead. */
static char *atom_link_href(Doc *d, const xmlNode *n, bool *ret_oom) {
        char *href = attr_get(d, n, NULL, "href", ret_oom);
        if (href || *ret_oom)
                return href;
        href = node_string(d, n);
        if (!href)
                *ret_oom = true;
        else if (!*href) {
                free(href);
                href = NULL;
        }
        return href;
}

/* Preference of an Atom <link>: alternate HTML 3, alternate 2, no rel 2, other 0 (unused). */
static int atom_link_rank(Doc *d, const xmlNode *n, bool *ret_oom) {
        _cleanup_free_ char *rel = attr_get(d, n, NULL, "rel", ret_oom);
        _cleanup_free_ char *type = attr_get(d, n, NULL, "type", ret_oom);
        _cleanup_free_ char *href = atom_link_href(d, n, ret_oom);

        if (!href || !*href)
                return 0;
        if (rel && *rel && strcasecmp(rel, "alternate") != 0 &&
            strcasecmp(rel, "http://www.iana.org/assignments/relation/alternate") != 0)
                return 0;
        if (!type || strcasecmp(type, "text/html") == 0 ||
            strcasecmp(type, "application/xhtml+xml") == 0)
                return 3;
        return 2;
}

static void scan_media(Item *it, const xmlNode *group, unsigned depth) {
        if (depth > 2)
                return;
        for (const xmlNode *c = group->children; c; c = c->next) {
                if (c->type != XML_ELEMENT_NODE)
                        continue;
                if (is_media(c, "title") && !it->media_title)
                        it->media_title = c;
                else if (is_media(c, "description") && !it->text[CAND_MEDIA_DESCRIPTION])
                        it->text[CAND_MEDIA_DESCRIPTION] = c;
                else if (is_media(c, "starRating") && !it->star_rating)
                        it->star_rating = c;
                else if (is_media(c, "community") || is_media(c, "group") ||
                         is_media(c, "content"))
                        scan_media(it, c, depth + 1);
        }
}

static int scan_item(Doc *d, const xmlNode *node, Item *it) {
        bool oom = false;

        *it = (Item){.node = node};
        for (const xmlNode *c = node->children; c; c = c->next) {
                if (c->type != XML_ELEMENT_NODE)
                        continue;
                if (is_core(d, c, "guid") || is_core(d, c, "id") || is_atom(d, c, "id")) {
                        if (!it->id)
                                it->id = c;
                } else if (is_core(d, c, "link") && d->kind != KIND_ATOM) {
                        if (!it->rss_link && xmlFirstElementChild((xmlNode *)c) == NULL)
                                it->rss_link = c;
                } else if (is_atom(d, c, "link")) {
                        int rank = atom_link_rank(d, c, &oom);
                        if (rank > it->atom_link_rank) {
                                it->atom_link = c;
                                it->atom_link_rank = rank;
                        }
                } else if (is_core(d, c, "title") || is_atom(d, c, "title")) {
                        if (!it->title)
                                it->title = c;
                } else if (is_el(c, NS_CONTENT, "encoded")) {
                        if (!it->text[CAND_CONTENT_ENCODED]) {
                                it->text[CAND_CONTENT_ENCODED] = c;
                                it->text_type[CAND_CONTENT_ENCODED] = TEXT_SOURCE;
                        }
                } else if (is_atom(d, c, "content") ||
                           (d->kind == KIND_ATOM && is_core(d, c, "content"))) {
                        if (!it->text[CAND_ATOM_CONTENT]) {
                                it->text[CAND_ATOM_CONTENT] = c;
                                it->text_type[CAND_ATOM_CONTENT] = -1;
                        }
                } else if (is_el(c, NS_XHTML, "body") ||
                           (d->kind != KIND_ATOM && is_core(d, c, "body"))) {
                        if (!it->text[CAND_XHTML_BODY]) {
                                it->text[CAND_XHTML_BODY] = c;
                                it->text_type[CAND_XHTML_BODY] = TEXT_XHTML;
                        }
                } else if (is_core(d, c, "fullitem") && d->kind != KIND_ATOM) {
                        /* an old spelling of content:encoded */
                        if (!it->text[CAND_CONTENT_ENCODED]) {
                                it->text[CAND_CONTENT_ENCODED] = c;
                                it->text_type[CAND_CONTENT_ENCODED] = TEXT_SOURCE;
                        }
                } else if (is_core(d, c, "description") && d->kind != KIND_ATOM) {
                        if (!it->text[CAND_DESCRIPTION]) {
                                it->text[CAND_DESCRIPTION] = c;
                                it->text_type[CAND_DESCRIPTION] = TEXT_SOURCE;
                        }
                } else if (is_atom(d, c, "summary")) {
                        if (!it->text[CAND_DESCRIPTION]) {
                                it->text[CAND_DESCRIPTION] = c;
                                it->text_type[CAND_DESCRIPTION] = -1;
                        }
                } else if (is_el(c, NS_DC, "description")) {
                        if (!it->text[CAND_DC_DESCRIPTION]) {
                                it->text[CAND_DC_DESCRIPTION] = c;
                                it->text_type[CAND_DC_DESCRIPTION] = TEXT_AUTO;
                        }
                } else if (is_itunes(c, "summary") || is_itunes(c, "subtitle")) {
                        if (!it->text[CAND_ITUNES_SUMMARY]) {
                                it->text[CAND_ITUNES_SUMMARY] = c;
                                it->text_type[CAND_ITUNES_SUMMARY] = TEXT_PLAIN;
                        }
                } else if (is_media(c, "group") || is_media(c, "content") ||
                           is_media(c, "community")) {
                        scan_media(it, c, 1);
                } else if (is_media(c, "title")) {
                        if (!it->media_title)
                                it->media_title = c;
                } else if (is_media(c, "description")) {
                        if (!it->text[CAND_MEDIA_DESCRIPTION])
                                it->text[CAND_MEDIA_DESCRIPTION] = c;
                } else if (is_core(d, c, "author") && d->kind != KIND_ATOM &&
                           !xmlFirstElementChild((xmlNode *)c)) {
                        if (!it->rss_author)
                                it->rss_author = c;
                } else if (is_atom(d, c, "author") ||
                           (is_core(d, c, "author") && xmlFirstElementChild((xmlNode *)c))) {
                        if (!it->atom_author)
                                it->atom_author = c;
                } else if (is_el(c, NS_DC, "creator") || is_el(c, NS_DC, "author")) {
                        if (!it->dc_creator)
                                it->dc_creator = c;
                } else if (is_itunes(c, "author")) {
                        if (!it->itunes_author)
                                it->itunes_author = c;
                } else if (is_atom(d, c, "source") && d->kind == KIND_ATOM) {
                        if (!it->source)
                                it->source = c;
                } else if (is_el(c, NS_DC, "title")) {
                        if (!it->dc_title)
                                it->dc_title = c;
                } else if (is_el(c, NS_DC, "identifier")) {
                        if (!it->dc_identifier)
                                it->dc_identifier = c;
                } else if (is_el(c, NS_DC, "language")) {
                        if (!it->dc_language)
                                it->dc_language = c;
                } else if (is_atom(d, c, "published")) {
                        it->published[PUB_PUBLISHED] = c; /* the last one, as feedparser */
                } else if (is_core(d, c, "pubDate")) {
                        it->published[PUB_PUBDATE] = c;
                } else if (is_atom(d, c, "issued")) {
                        it->published[PUB_ISSUED] = c;
                } else if (is_atom(d, c, "created")) {
                        it->published[PUB_CREATED] = c;
                } else if (is_el(c, NS_DC, "date")) {
                        it->published[PUB_DC_DATE] = c;
                } else if (is_el(c, NS_DCTERMS, "issued")) {
                        it->published[PUB_DCTERMS_ISSUED] = c;
                } else if (is_el(c, NS_DCTERMS, "created")) {
                        it->published[PUB_DCTERMS_CREATED] = c;
                } else if (is_atom(d, c, "updated") || is_atom(d, c, "modified")) {
                        it->updated = c;
                } else if (is_el(c, NS_DCTERMS, "modified")) {
                        it->dcterms_modified = c;
                } else if (is_el(c, NS_THR, "in-reply-to")) {
                        if (!it->in_reply_to)
                                it->in_reply_to = c;
                } else if (is_el(c, NS_SLASH, "comments")) {
                        it->comments_count = c;
                } else if (is_el(c, NS_THR, "total")) {
                        it->thr_total = c;
                } else if (is_el(c, NS_FEEDBURNER, "origLink")) {
                        if (!it->orig_link)
                                it->orig_link = c;
                }
                if (oom)
                        return -ENOMEM;
        }
        return 0;
}

/* A count (digits only, optional blanks); -1 when it is not one. */
static int64_t parse_count(const char *s) {
        int64_t v = 0;
        size_t n = 0;

        if (!s)
                return -1;
        while (*s == ' ')
                s++;
        for (; *s >= '0' && *s <= '9'; s++, n++) {
                if (n >= 15)
                        return -1;
                v = v * 10 + (*s - '0');
        }
        while (*s == ' ')
                s++;
        return n > 0 && *s == 0 ? v : -1;
}

/* The post being built; every string owned. */
typedef struct Entry {
        char *id, *url, *title, *text, *handle, *name, *lang, *reply_to;
        int64_t created, edited, replies, likes;
} Entry;

static void entry_done(Entry *e) {
        free(e->id);
        free(e->url);
        free(e->title);
        free(e->text);
        free(e->handle);
        free(e->name);
        free(e->lang);
        free(e->reply_to);
        *e = (Entry){0};
}

/* "user@host" for a Mastodon status URL https://HOST/@USER/DIGITS; NULL otherwise. */
static char *mastodon_acct(const char *url, char **ret_profile) {
        const char *p;

        if (!(p = url_skip_http(url)))
                return NULL;
        size_t hl = strcspn(p, "/?#");
        if (hl == 0 || p[hl] != '/' || p[hl + 1] != '@')
                return NULL;
        const char *user = p + hl + 2;
        size_t ul = strcspn(user, "/?#@");
        if (ul == 0 || ul > 64 || user[ul] != '/')
                return NULL;
        for (size_t i = 0; i < ul; i++)
                if (!((user[i] >= 'a' && user[i] <= 'z') || (user[i] >= 'A' && user[i] <= 'Z') ||
                      (user[i] >= '0' && user[i] <= '9') || user[i] == '_' || user[i] == '.' ||
                      user[i] == '-'))
                        return NULL;
        const char *id = user + ul + 1;
        size_t il = strspn(id, "0123456789");
        if (il == 0 || (id[il] != 0 && id[il] != '?' && id[il] != '#'))
                return NULL;

        char *acct = malloc(ul + hl + 2);
        if (!acct)
                return NULL;
        memcpy(acct, user, ul);
        acct[ul] = '@';
        for (size_t i = 0; i < hl; i++)
                acct[ul + 1 + i] = (char)(p[i] >= 'A' && p[i] <= 'Z' ? p[i] - 'A' + 'a' : p[i]);
        acct[ul + 1 + hl] = 0;
        if (ret_profile)
                *ret_profile = strndup(url, (size_t)(user + ul - url));
        return acct;
}

static bool is_noreply(const char *mail) {
        return strncasecmp(mail, "noreply@", 8) == 0 || strncasecmp(mail, "no-reply@", 9) == 0 ||
               strncasecmp(mail, "nobody@", 7) == 0;
}

/*
 * RSS <author>, dc:creator text: "mail (Name)", "Name (mail)", "Name <mail>", "mail" or
 * "Name". Sets *ret_mail and *ret_name (each may stay NULL). -ENOMEM or 0.
 */
static int split_author(const char *s, char **ret_mail, char **ret_name) {
        const char *open, *close;

        if (((open = strchr(s, '(')) && (close = strrchr(s, ')')) && close > open) ||
            ((open = strchr(s, '<')) && (close = strchr(open, '>')))) {
                _cleanup_free_ char *in = strndup(open + 1, (size_t)(close - open - 1));
                _cleanup_free_ char *out = strndup(s, (size_t)(open - s));
                if (!in || !out)
                        return -ENOMEM;
                /* the part with an '@' is the address, whichever side it is on */
                bool in_is_mail = strchr(in, '@') && !strchr(out, '@');
                if (*open == '<' && strchr(in, '@'))
                        in_is_mail = true;
                *ret_mail = trim_dup(in_is_mail ? in : out);
                *ret_name = trim_dup(in_is_mail ? out : in);
                return *ret_mail && *ret_name ? 0 : -ENOMEM;
        }
        if (strchr(s, '@') && !strpbrk(s, " \t")) {
                *ret_mail = strdup(s);
                return *ret_mail ? 0 : -ENOMEM;
        }
        *ret_name = strdup(s);
        return *ret_name ? 0 : -ENOMEM;
}

/* Name, e-mail and URI of an Atom person construct. */
static int atom_person(Doc *d, const xmlNode *p, char **ret_name, char **ret_mail) {
        for (const xmlNode *c = p->children; c; c = c->next) {
                if (is_atom(d, c, "name") && !*ret_name) {
                        *ret_name = node_string(d, c);
                        if (!*ret_name)
                                return -ENOMEM;
                } else if (is_atom(d, c, "email") && !*ret_mail) {
                        *ret_mail = node_string(d, c);
                        if (!*ret_mail)
                                return -ENOMEM;
                }
        }
        return 0;
}

/* The first Atom <author> child of n, or NULL. */
static const xmlNode *atom_author_of(Doc *d, const xmlNode *n) {
        for (const xmlNode *c = n ? n->children : NULL; c; c = c->next)
                if (is_atom(d, c, "author"))
                        return c;
        return NULL;
}

static void empty_to_null(char **s) {
        if (*s && !**s) {
                free(*s);
                *s = NULL;
        }
}

/* Replace *s by rss_text_fix(*s), dropping it when empty; -ENOMEM or 0. */
static int fix_field(char **s) {
        if (!*s)
                return 0;
        char *t = rss_text_fix(*s);
        if (!t)
                return -ENOMEM;
        free(*s);
        *s = t;
        char *c = rss_text_collapse(*s);
        if (!c)
                return -ENOMEM;
        free(*s);
        *s = c;
        empty_to_null(s);
        return 0;
}

static int entry_author(Doc *d, const Item *it, Entry *e) {
        _cleanup_free_ char *name = NULL, *mail = NULL, *acct = NULL, *profile = NULL;
        int r;

        if (it->atom_author) {
                r = atom_person(d, it->atom_author, &name, &mail);
                if (r < 0)
                        return r;
        }
        if (!name && !mail && it->rss_author) {
                _cleanup_free_ char *s = node_string(d, it->rss_author);
                if (!s)
                        return -ENOMEM;
                if (*s) {
                        r = split_author(s, &mail, &name);
                        if (r < 0)
                                return r;
                }
        }
        if (!name && it->dc_creator) {
                _cleanup_free_ char *s = node_string(d, it->dc_creator);
                if (!s)
                        return -ENOMEM;
                if (*s) {
                        _cleanup_free_ char *m = NULL;
                        r = split_author(s, &m, &name);
                        if (r < 0)
                                return r;
                        if (!mail) {
                                mail = m;
                                m = NULL;
                        }
                }
        }
        if (!name && it->itunes_author) {
                name = node_string(d, it->itunes_author);
                if (!name)
                        return -ENOMEM;
        }
        /* Atom: an entry without an author has its source's, then the feed's (RFC 4287 4.2.1) */
        if (!name && !mail && d->kind == KIND_ATOM) {
                const xmlNode *a = it->source ? atom_author_of(d, it->source) : NULL;
                if (!a)
                        a = d->feed_author;
                if (a) {
                        r = atom_person(d, a, &name, &mail);
                        if (r < 0)
                                return r;
                }
        }
        if ((r = fix_field(&name)) < 0 || (r = fix_field(&mail)) < 0)
                return r;
        /* a "name" that is an address ("<itunes:author>me@example.com") */
        if (name && strchr(name, '@') && !strpbrk(name, " \t\n")) {
                if (!mail) {
                        mail = name;
                        name = NULL;
                } else {
                        free(name);
                        name = NULL;
                }
        }
        if (mail && (!strchr(mail, '@') || strpbrk(mail, " \t\n") || is_noreply(mail))) {
                free(mail);
                mail = NULL;
        }

        /* Mastodon: the status URL names the account */
        if (e->url) {
                acct = mastodon_acct(e->url, &profile);
                /* an account's own feed is titled with its display name */
                if (acct && !name && profile && d->feed_link && d->feed_title &&
                    strcasecmp(profile, d->feed_link) == 0)
                        name = strdup(d->feed_title);
        }
        /* Reddit: "/u/NAME" */
        const char *user = NULL;
        if (name && (strncmp(name, "/u/", 3) == 0 || strncmp(name, "u/", 2) == 0))
                user = name + (name[0] == '/' ? 3 : 2);

        const char *handle = acct ? acct : user && *user ? user : mail ? mail : name;
        if (handle) {
                e->handle = strdup(handle);
                if (!e->handle)
                        return -ENOMEM;
        }
        e->name = name;
        name = NULL;
        return 0;
}

static int64_t node_date(Doc *d, const xmlNode *n, char **ret_raw) {
        int64_t t = 0;
        char *s = node_string(d, n);

        if (!s)
                return -ENOMEM;
        if (rss_parse_date(s, &t) < 0)
                t = 0;
        if (ret_raw && !*ret_raw)
                *ret_raw = s;
        else
                free(s);
        return t;
}

/* The id, made unique within the network (see the top of this file). */
static int entry_id(Doc *d, const Item *it, Entry *e, const char *date_raw) {
        _cleanup_free_ char *raw = NULL;
        bool permalink = true, oom = false;
        const xmlNode *idn = it->id;

        if (idn) {
                raw = node_string(d, idn);
                if (!raw)
                        return -ENOMEM;
                _cleanup_free_ char *pl = attr_get(d, idn, NULL, "isPermaLink", &oom);
                if (oom)
                        return -ENOMEM;
                if (pl && strcasecmp(pl, "false") == 0)
                        permalink = false;
        }
        /* RSS 1.0 names an item by rdf:about; dc:identifier is the last resort */
        if ((!raw || !*raw) && d->kind == KIND_RDF) {
                free(raw);
                raw = attr_get(d, it->node, NS_RDF, "about", &oom);
                if (oom)
                        return -ENOMEM;
        }
        if ((!raw || !*raw) && it->dc_identifier) {
                free(raw);
                idn = it->dc_identifier;
                raw = node_string(d, idn);
                if (!raw)
                        return -ENOMEM;
        }
        if (raw && *raw && strlen(raw) <= ID_MAX && !strpbrk(raw, "\r\n\t")) {
                if (rss_has_scheme(raw)) {
                        e->id = raw;
                        raw = NULL;
                        return 0;
                }
                /* a relative permalink ("/2024/05/post") is a URL below the feed */
                if (permalink && (raw[0] == '/' || strchr(raw, '/'))) {
                        e->id = resolve_url(d, idn ? idn : it->node, raw, &oom);
                        if (oom)
                                return -ENOMEM;
                        if (e->id)
                                return 0;
                }
                if (strlen(d->feed) + 1 + strlen(raw) <= URL_MAX) {
                        e->id = strjoin(d->feed, "#", raw);
                        return e->id ? 0 : -ENOMEM;
                }
        }
        if (raw && *raw) {
                /* an id, but too long to keep as it is: its hash is as unique */
                char hex[24];
                (void)snprintf(hex, sizeof(hex), "%016" PRIx64,
                               rss_fnv1a(RSS_FNV_INIT, raw, strlen(raw)));
                e->id = strjoin(d->feed, "#sha:", hex);
                return e->id ? 0 : -ENOMEM;
        }
        if (e->url) {
                e->id = strdup(e->url);
                return e->id ? 0 : -ENOMEM;
        }

        /* no id and no link: a hash of what the item says */
        uint64_t h = RSS_FNV_INIT;
        if (e->title)
                h = rss_fnv1a(h, e->title, strlen(e->title));
        h = rss_fnv1a(h, "\n", 1);
        if (date_raw)
                h = rss_fnv1a(h, date_raw, strlen(date_raw));
        if (!e->title && e->text) {
                h = rss_fnv1a(h, "\n", 1);
                h = rss_fnv1a(h, e->text, strlen(e->text));
        }
        char hex[24];
        (void)snprintf(hex, sizeof(hex), "%016" PRIx64, h);
        e->id = strjoin(d->feed, "#sha:", hex);
        return e->id ? 0 : -ENOMEM;
}

static int entry_url(Doc *d, const Item *it, Entry *e) {
        bool oom = false;
        _cleanup_free_ char *href = NULL;
        const xmlNode *at = NULL;

        if (it->orig_link) {
                href = node_string(d, it->orig_link);
                if (!href)
                        return -ENOMEM;
                at = it->orig_link;
                empty_to_null(&href);
        }
        if (!href && it->rss_link) {
                href = node_string(d, it->rss_link);
                if (!href)
                        return -ENOMEM;
                at = it->rss_link;
                empty_to_null(&href);
        }
        if (!href && it->atom_link) {
                href = atom_link_href(d, it->atom_link, &oom);
                if (oom)
                        return -ENOMEM;
                at = it->atom_link;
        }
        if (!href && d->kind == KIND_RDF) {
                href = attr_get(d, it->node, NS_RDF, "about", &oom);
                if (oom)
                        return -ENOMEM;
                at = it->node;
        }
        if (!href && it->id) {
                /* a guid that is a permalink, or an Atom id that is a web page */
                _cleanup_free_ char *pl = attr_get(d, it->id, NULL, "isPermaLink", &oom);
                if (oom)
                        return -ENOMEM;
                if (!pl || strcasecmp(pl, "false") != 0) {
                        href = node_string(d, it->id);
                        if (!href)
                                return -ENOMEM;
                        /* "/2024/05/post" is a link below the site; "1234" is not */
                        if (!rss_is_http_url(href) && href[0] != '/') {
                                free(href);
                                href = NULL;
                        }
                        at = it->id;
                }
        }
        if (!href)
                return 0;
        e->url = resolve_url(d, at, href, &oom);
        if (oom)
                return -ENOMEM;
        if (e->url) {
                char *target = rss_unwrap_google_redirect(e->url);
                if (target) {
                        free(e->url);
                        e->url = target;
                }
        }
        return 0;
}

static int entry_build(Doc *d, const Item *it, Entry *e, const char *fallback_lang) {
        _cleanup_free_ char *date_raw = NULL;
        const xmlNode *text_node = NULL;
        bool oom = false;
        int r;

        *e = (Entry){.replies = -1, .likes = -1};

        /* dates */
        for (int k = 0; k < _PUB_MAX && e->created == 0; k++)
                if (it->published[k]) {
                        int64_t t = node_date(d, it->published[k], &date_raw);
                        if (t < 0)
                                return (int)t;
                        e->created = t;
                }
        const xmlNode *upd = it->updated ? it->updated : it->dcterms_modified;
        if (upd) {
                int64_t t = node_date(d, upd, &date_raw);
                if (t < 0)
                        return (int)t;
                if (e->created == 0)
                        e->created = t;
                else if (t > e->created)
                        e->edited = t;
        }

        /* title */
        const xmlNode *tn = it->title ? it->title : it->dc_title ? it->dc_title : it->media_title;
        if (tn) {
                /* an Atom text construct; MRSS says plain unless type="html"; RSS: look */
                int type = is_atom(d, tn, "title") ? -1 : is_media(tn, "title") ? TEXT_PLAIN
                                                                                 : TEXT_AUTO;
                e->title = element_text(d, tn, type);
                if (!e->title)
                        return -ENOMEM;
                empty_to_null(&e->title);
        }

        /* text: the first candidate that says something */
        for (int k = 0; k < _CAND_MAX && !e->text; k++) {
                const xmlNode *n = it->text[k];
                int type = it->text_type[k];
                if (!n)
                        continue;
                if (k == CAND_MEDIA_DESCRIPTION) {
                        _cleanup_free_ char *ty = attr_get(d, n, NULL, "type", &oom);
                        if (oom)
                                return -ENOMEM;
                        type = ty && strcasecmp(ty, "html") == 0 ? TEXT_HTML : TEXT_PLAIN;
                }
                e->text = element_text(d, n, type);
                if (!e->text)
                        return -ENOMEM;
                empty_to_null(&e->text);
                if (e->text)
                        text_node = n;
        }

        r = entry_url(d, it, e);
        if (r < 0)
                return r;
        r = entry_id(d, it, e, date_raw);
        if (r < 0)
                return r;
        r = entry_author(d, it, e);
        if (r < 0)
                return r;

        /* language */
        if (d->rss->language) {
                e->lang = strdup(d->rss->language);
                if (!e->lang)
                        return -ENOMEM;
        } else {
                e->lang = node_lang(d, text_node ? text_node : tn ? tn : it->node, &oom);
                if (oom)
                        return -ENOMEM;
                if (!e->lang && it->dc_language) {
                        _cleanup_free_ char *l = node_string(d, it->dc_language);
                        if (!l)
                                return -ENOMEM;
                        e->lang = lang_clean(l);
                }
                const char *l = d->lang ? d->lang : fallback_lang;
                if (!e->lang && l && !(e->lang = strdup(l)))
                        return -ENOMEM;
        }

        /* threads and counts */
        if (it->in_reply_to) {
                e->reply_to = attr_get(d, it->in_reply_to, NULL, "ref", &oom);
                if (!e->reply_to && !oom)
                        e->reply_to = attr_get(d, it->in_reply_to, NULL, "href", &oom);
                if (oom)
                        return -ENOMEM;
                empty_to_null(&e->reply_to);
        }
        const xmlNode *cnt = it->comments_count ? it->comments_count : it->thr_total;
        if (cnt) {
                _cleanup_free_ char *s = node_string(d, cnt);
                if (!s)
                        return -ENOMEM;
                e->replies = parse_count(s);
        }
        if (it->star_rating) {
                _cleanup_free_ char *s = attr_get(d, it->star_rating, NULL, "count", &oom);
                if (oom)
                        return -ENOMEM;
                e->likes = parse_count(s);
        }
        return 0;
}

/* ---- the document ----------------------------------------------------------------------------- */

/* Feed-level facts: title, link, language, Atom author. */
static int doc_scan_feed(Doc *d, const xmlNode *channel) {
        bool oom = false;
        int best_link = 0;
        int64_t sy_period = 0, sy_frequency = 1;

        for (const xmlNode *c = channel->children; c; c = c->next) {
                if (c->type != XML_ELEMENT_NODE)
                        continue;
                if ((is_core(d, c, "title") || is_atom(d, c, "title")) && !d->feed_title) {
                        d->feed_title = element_text(d, c, d->kind == KIND_ATOM ? -1 : TEXT_AUTO);
                        if (!d->feed_title)
                                return -ENOMEM;
                        empty_to_null(&d->feed_title);
                } else if (is_core(d, c, "link") && d->kind != KIND_ATOM && !d->feed_link) {
                        _cleanup_free_ char *s = node_string(d, c);
                        if (!s)
                                return -ENOMEM;
                        d->feed_link = resolve_url(d, c, s, &oom);
                } else if (is_atom(d, c, "link")) {
                        int rank = atom_link_rank(d, c, &oom);
                        if (rank > best_link) {
                                _cleanup_free_ char *s = atom_link_href(d, c, &oom);
                                free(d->feed_link);
                                d->feed_link = s ? resolve_url(d, c, s, &oom) : NULL;
                                best_link = rank;
                        }
                } else if ((is_core(d, c, "language") || is_el(c, NS_DC, "language")) &&
                           !d->lang) {
                        _cleanup_free_ char *s = node_string(d, c);
                        if (!s)
                                return -ENOMEM;
                        d->lang = lang_clean(s);
                } else if (is_atom(d, c, "author") && !d->feed_author) {
                        d->feed_author = c;
                } else if (is_core(d, c, "ttl") && d->kind == KIND_RSS) {
                        /* RSS 2.0: "minutes that indicates how long a channel can be cached" */
                        _cleanup_free_ char *s = node_string(d, c);
                        if (!s)
                                return -ENOMEM;
                        int64_t m = parse_count(s);
                        if (m > 0)
                                d->pause = m * 60 * 1000000;
                } else if (is_el(c, NS_SY, "updatePeriod") && d->pause == 0) {
                        _cleanup_free_ char *s = node_string(d, c);
                        if (!s)
                                return -ENOMEM;
                        static const struct {
                                const char *name;
                                int64_t sec;
                        } periods[] = {{"hourly", 3600}, {"daily", 86400}, {"weekly", 604800},
                                       {"monthly", 2592000}, {"yearly", 31536000}};
                        for (size_t k = 0; k < sizeof(periods) / sizeof(periods[0]); k++)
                                if (strcasecmp(s, periods[k].name) == 0)
                                        sy_period = periods[k].sec;
                } else if (is_el(c, NS_SY, "updateFrequency")) {
                        _cleanup_free_ char *s = node_string(d, c);
                        if (!s)
                                return -ENOMEM;
                        sy_frequency = parse_count(s);
                }
                if (oom)
                        return -ENOMEM;
        }
        if (!d->lang) {
                d->lang = node_lang(d, channel, &oom);
                if (oom)
                        return -ENOMEM;
        }
        /* RSS 1.0 syndication module: updateFrequency times per updatePeriod */
        if (d->pause == 0 && sy_period > 0 && sy_frequency > 0)
                d->pause = sy_period * 1000000 / sy_frequency;
        return 0;
}

/* The libxml2 error that ended or spoiled a parse, for one log line. */
static void xml_error_text(xmlParserCtxt *ctxt, char *buf, size_t len) {
        const xmlError *e = xmlCtxtGetLastError(ctxt);
        if (!e || !e->message) {
                (void)snprintf(buf, len, "no document element");
                return;
        }
        (void)snprintf(buf, len, "line %d: %s", e->line, e->message);
        size_t n = strlen(buf);
        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
                buf[--n] = 0;
}

static int rss_parse_response(void *state, uint32_t i, const char *cursor, const char *page,
                              const struct earshot_response *resp, struct earshot_sink *sink) {
        Rss *rss = state;
        const struct earshot_host *h = rss->host;
        _cleanup_free_ char *utf8 = NULL, *fixed = NULL, *fallback_lang = NULL;
        _cleanup_(xmlFreeDocp) xmlDoc *xml = NULL;
        _cleanup_free_ const xmlNode **items = NULL;
        Entry *entries = NULL;
        size_t n_built = 0;
        char label[96] = "", why[256];
        size_t len = 0, flen = 0;
        int r;

        if (i >= rss->n_urls)
                return -EINVAL;
        const char *feed = rss->urls[i];
        const char *body = resp->body ? resp->body : "";
        size_t body_len = resp->body ? resp->body_len : 0;

        /* blanks only: no document at all */
        size_t lead = 0;
        while (lead < body_len && (body[lead] == ' ' || body[lead] == '\t' || body[lead] == '\r' ||
                                   body[lead] == '\n'))
                lead++;
        if (lead == body_len) {
                h->log(h, EARSHOT_LOG_ERR, "%s: empty response, not a feed", feed);
                return -EBADMSG;
        }

        r = rss_body_to_utf8(body, body_len, earshot_response_header(resp, "Content-Type"), &utf8,
                             &len, label, sizeof(label));
        if (r < 0)
                return r;
        h->log(h, EARSHOT_LOG_DEBUG, "%s: %zu bytes read as %s", feed, body_len, label);

        fixed = fix_entities(utf8, len, &flen);
        if (!fixed)
                return -ENOMEM;
        free(utf8);
        utf8 = NULL;
        if (flen > INT_MAX) {
                h->log(h, EARSHOT_LOG_ERR, "%s: document of %zu bytes is too large", feed, flen);
                return -EBADMSG;
        }

        xmlParserCtxt *ctxt = xmlNewParserCtxt();
        if (!ctxt)
                return -ENOMEM;
        int opts = XML_PARSE_RECOVER | XML_PARSE_NONET | XML_PARSE_NOERROR |
                   XML_PARSE_NOWARNING | XML_PARSE_IGNORE_ENC | XML_PARSE_NOCDATA;
#if LIBXML_VERSION >= 21300
        opts |= XML_PARSE_NO_XXE;
#endif
        xml = xmlCtxtReadMemory(ctxt, fixed, (int)flen, NULL, "UTF-8", opts);
        bool well_formed = ctxt->wellFormed != 0;
        xml_error_text(ctxt, why, sizeof(why));
        xmlFreeParserCtxt(ctxt);

        const xmlNode *root = xml ? xmlDocGetRootElement(xml) : NULL;
        if (!root) {
                h->log(h, EARSHOT_LOG_ERR, "%s: response is not XML (%s)", feed, why);
                return -EBADMSG;
        }
        if (!well_formed)
                h->log(h, EARSHOT_LOG_INFO,
                       "%s: the document is not well-formed XML (%s); reading what could be "
                       "recovered",
                       feed, why);

        Doc d = {
                .rss = rss,
                .feed = feed,
                .xml = xml,
                .entity_budget = ENTITY_BUDGET,
                .entity_bytes = ENTITY_BYTES,
        };
        const xmlNode *channel = NULL;
        const char *rname = (const char *)root->name;
        if (strcmp(rname, "rss") == 0 || (strcmp(rname, "channel") == 0 && is_rss_ns(root))) {
                d.kind = KIND_RSS;
                for (const xmlNode *c = root->children; c && !channel; c = c->next)
                        if (is_core(&d, c, "channel"))
                                channel = c;
                if (!channel)
                        channel = root;
        } else if (strcmp(rname, "RDF") == 0) {
                d.kind = KIND_RDF;
                for (const xmlNode *c = root->children; c && !channel; c = c->next)
                        if (is_core(&d, c, "channel"))
                                channel = c;
                if (!channel)
                        channel = root;
        } else if (strcmp(rname, "feed") == 0) {
                /* Atom 1.0, 0.3, or an Atom-shaped document in a namespace of its own */
                d.kind = KIND_ATOM;
                d.atom_ns = has_no_ns(root) ? NULL : (const char *)root->ns->href;
                channel = root;
        } else {
                if (strcasecmp(rname, "html") == 0)
                        h->log(h, EARSHOT_LOG_ERR, "%s: got an HTML page, not a feed", feed);
                else
                        h->log(h, EARSHOT_LOG_ERR,
                               "%s: not an RSS, RDF or Atom feed (root element <%.64s>)", feed,
                               rname);
                return -EBADMSG;
        }

        /* the base: Content-Location, else the URL that answered, else the feed's */
        const char *answered = resp->url && rss_is_http_url(resp->url) ? resp->url : feed;
        const char *location = earshot_response_header(resp, "Content-Location");
        if (location && *location) {
                xmlChar *u = xmlBuildURI((const xmlChar *)location, (const xmlChar *)answered);
                if (u && rss_is_http_url((const char *)u))
                        d.base = strdup((const char *)u);
                if (u)
                        xmlFree(u);
        }
        if (!d.base)
                d.base = strdup(answered);
        if (!d.base)
                return -ENOMEM;

        const char *cl = earshot_response_header(resp, "Content-Language");
        if (cl) {
                _cleanup_free_ char *first = strndup(cl, strcspn(cl, ","));
                if (!first)
                        goto oom;
                fallback_lang = lang_clean(first);
        }

        r = doc_scan_feed(&d, channel);
        if (r < 0)
                goto fail;

        /* the items: <item> in the channel (and beside it: RSS 0.90, RDF), Atom <entry> */
        size_t n_items = 0, n_seen = 0, cap = (size_t)rss->max_items;
        items = calloc(cap, sizeof(xmlNode *));
        if (!items)
                goto oom;
        const xmlNode *parents[2] = {channel, channel != root ? root : NULL};
        for (size_t p = 0; p < 2 && parents[p]; p++)
                for (const xmlNode *c = parents[p]->children; c; c = c->next) {
                        if (!(d.kind == KIND_ATOM ? is_core(&d, c, "entry")
                                                  : is_core(&d, c, "item")))
                                continue;
                        n_seen++;
                        if (n_items < cap)
                                items[n_items++] = c;
                }
        if (n_seen > n_items)
                h->log(h, EARSHOT_LOG_INFO, "%s: the feed has %zu items, taking the first %zu",
                       feed, n_seen, n_items);

        int64_t now = h->now_usec(h), newest = 0, oldest = 0;
        bool all_dated = true;
        size_t too_old = 0, emitted = 0;
        /*
         * Build in document order, so that the newest items (feeds list them first) get the
         * entity budget; emit in reverse, the oldest first.
         */
        entries = calloc(n_items ? n_items : 1, sizeof(Entry));
        if (!entries)
                goto oom;
        for (size_t k = 0; k < n_items; k++) {
                Item it;

                r = scan_item(&d, items[k], &it);
                if (r < 0)
                        goto fail;
                r = entry_build(&d, &it, &entries[k], fallback_lang);
                n_built = k + 1;
                if (r < 0)
                        goto fail;
        }
        for (size_t k = n_items; k > 0; k--) {
                const Entry *e = &entries[k - 1];

                if (e->created > newest)
                        newest = e->created;
                if (e->created > 0 && (oldest == 0 || e->created < oldest))
                        oldest = e->created;
                if (e->created <= 0)
                        all_dated = false;
                if (rss->max_age > 0 && e->created > 0 && e->created < now - rss->max_age) {
                        too_old++;
                        continue;
                }
                struct earshot_post post = {
                        .size = sizeof(post),
                        .id = e->id,
                        .network = rss->network,
                        .url = e->url,
                        .text = e->text ? e->text : "",
                        .author_handle = e->handle,
                        .author_name = e->name,
                        .author_followers = -1,
                        .lang = e->lang,
                        .created_usec = e->created,
                        .replies = e->replies,
                        .reposts = -1,
                        .likes = e->likes,
                        .title = rss->include_title ? e->title : NULL,
                        .reply_to = e->reply_to,
                        .rating = 0,
                        .edited_usec = e->edited,
                };
                r = h->emit_post(sink, &post);
                if (r < 0)
                        goto fail;
                emitted++;
        }
        if (too_old > 0)
                h->log(h, EARSHOT_LOG_DEBUG, "%s: skipped %zu items older than max_age", feed,
                       too_old);
        h->log(h, EARSHOT_LOG_DEBUG, "%s: %zu items, %zu emitted", feed, n_items, emitted);

        /* the cursor: the newest item date ever shown, only forward */
        int64_t old = 0;
        if (!cursor || h->parse_time(cursor, &old) < 0)
                old = 0;
        if (newest > 0 && newest > old) {
                char buf[64];
                r = h->set_cursor(sink, h->format_time(newest, buf, sizeof(buf)));
                if (r < 0)
                        goto fail;
        }

        /*
         * A feed is a window on the newest items. When every item in it is newer than the
         * newest one the last poll saw, the window slid past items nobody saw: those created
         * between the two may be lost (a busy tag, a poll interval too long for the feed).
         */
        if (old > 0 && n_items > 0 && oldest > old && all_dated &&
            EARSHOT_HOST_HAS(h, report_gap)) {
                r = h->report_gap(sink, old, oldest, "every item in the feed is newer than the "
                                                     "last poll's newest");
                if (r < 0)
                        goto fail;
        }

        /* RSS <ttl> and sy:updatePeriod ask for a pause between polls; an hour at most */
        if (d.pause > 0 && EARSHOT_HOST_HAS(h, set_backoff)) {
                r = h->set_backoff(sink, d.pause < PAUSE_MAX ? d.pause : PAUSE_MAX);
                if (r < 0)
                        goto fail;
        }
        r = 0;
        goto done;

oom:
        r = -ENOMEM;
fail:
done:
        for (size_t k = 0; k < n_built; k++)
                entry_done(&entries[k]);
        free(entries);
        free(d.base);
        free(d.lang);
        free(d.feed_title);
        free(d.feed_link);
        return r;
}

static int rss_parse_error(void *state, uint32_t i, const char *cursor, const char *page,
                           const struct earshot_response *resp, struct earshot_sink *sink) {
        Rss *r = state;
        const struct earshot_host *h = r->host;

        if (i >= r->n_urls)
                return -EINVAL;
        const char *feed = r->urls[i];
        switch (resp->status) {
        case 410:
                return source_fail(h, sink, feed, EARSHOT_BLOCKED,
                                   "the feed is gone (HTTP 410): remove it from `urls`, or put "
                                   "its new address there");
        case 401:
                return source_fail(h, sink, feed, EARSHOT_BLOCKED,
                                   "the feed needs a login (HTTP 401), which this source cannot "
                                   "send: use a public feed URL in `urls`");
        case 404:
                return source_fail(h, sink, feed, EARSHOT_BLOCKED,
                                   "no feed at this address (HTTP 404): check the URL in `urls`");
        case 403:
                return source_fail(h, sink, feed, EARSHOT_RETRY,
                                   "the site refuses automated readers (HTTP 403: a bot filter, "
                                   "or this address range is blocked); if it lasts, ask the "
                                   "site, or use another feed URL");
        }
        return SOURCE_ERROR_GENERIC;
}

static const struct earshot_option rss_options[] = {
        {"urls", EARSHOT_OPT_STRLIST, EARSHOT_OPT_REQUIRED, NULL,
         "feed URLs (RSS 0.9x/2.0, RSS 1.0, Atom); one feed each, named by its URL"},
        {"network", EARSHOT_OPT_STRING, 0, "rss",
         "network the posts are reported under, e.g. \"youtube\", \"reviews\", \"reddit\""},
        {"max_items", EARSHOT_OPT_INT, 0, "200",
         "items taken from one document, in document order, 1..2000"},
        {"include_title", EARSHOT_OPT_BOOL, 0, "true",
         "report item titles as post titles (matched together with the text)"},
        {"language", EARSHOT_OPT_STRING, 0, NULL,
         "language tag for every post (default: the feed's xml:lang, <language>, dc:language)"},
        {"max_age", EARSHOT_OPT_DURATION, 0, "14d",
         "skip items dated longer ago (0: never); keep below store.seen_retention"},
        {.name = NULL},
};

static const struct earshot_source_ops rss_ops = {
        .size = sizeof(struct earshot_source_ops),
        .create = rss_create,
        .destroy = rss_destroy,
        .feed = rss_feed,
        .build_request = rss_build_request,
        .parse_response = rss_parse_response,
        .parse_error = rss_parse_error,
};

EARSHOT_PLUGIN_DEFINE(.kind = EARSHOT_PLUGIN_SOURCE, .name = "rss",
                      .description = "RSS and Atom feeds: blogs, review sites, forums, YouTube, "
                                     "Google Alerts, Mastodon and Reddit .rss",
                      .options = rss_options, .source = &rss_ops);
