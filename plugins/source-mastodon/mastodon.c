/* SPDX-License-Identifier: MIT */
/*
 * mastodon.c - hashtag timelines of Mastodon instances as an earshot source.
 *
 * One feed per (instance, tag) pair, named "INSTANCE#tag". A poll asks
 * GET {instance}/api/v1/timelines/tag/{tag}?limit=N&min_id=CURSOR, which Mastodon answers with
 * the N statuses immediately after CURSOR, newest first. The cursor is the newest timeline id
 * seen; ids are opaque strings ordered by length, then bytes, so "99" < "100". The first poll
 * of a feed (no cursor) takes only the newest page: earshot starts listening "now" and does not
 * dig up history. Later polls walk forward without gaps: a full page asks for the next one
 * (min_id = the newest id of the page) until a short page or `max_pages`, and whatever is left
 * then is picked up by the next poll from the cursor. The cursor never moves backwards.
 *
 * A reblog is reported as the status it boosts (text, author, counts, and its `uri` as the
 * post id, so the same status reached through several instances or boosts is one post); the
 * cursor still follows the outer, timeline ids. Posts are emitted oldest first. A body that is
 * not a JSON array is -EBADMSG; an element of the wrong shape is skipped with a debug message;
 * no field of the wrong type can crash the parser. The access token is only ever put in the
 * Authorization header, never in a log line or a feed name.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "earshot-plugin.h"

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _cleanup_free_ _cleanup_(freep)

#define LIMIT_MAX 40 /* Mastodon's own cap for timelines */
#define MAX_PAGES_MAX 1000

static inline void freep(void *p) {
        free(*(void **)p);
}

static inline void cJSON_Deletep(cJSON **j) {
        cJSON_Delete(*j);
}

/* s with everything but RFC 3986 unreserved characters percent-encoded; NULL on OOM. */
static char *url_encode(const char *s) {
        static const char hex[] = "0123456789ABCDEF";
        char *out = malloc(3 * strlen(s) + 1), *o = out;

        if (!out)
                return NULL;
        for (const unsigned char *p = (const unsigned char *)s; *p; p++)
                if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                    (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_' || *p == '~')
                        *o++ = (char)*p;
                else {
                        *o++ = '%';
                        *o++ = hex[*p >> 4];
                        *o++ = hex[*p & 15];
                }
        *o = 0;
        return out;
}

/* Concatenate the strings up to the NULL into a new malloc()ed string; NULL on OOM. */
static char *strjoin_internal(const char *first, ...) __attribute__((sentinel));
static char *strjoin_internal(const char *first, ...) {
        size_t len = 0;
        char *out, *o;
        va_list ap;

        va_start(ap, first);
        for (const char *s = first; s; s = va_arg(ap, const char *))
                len += strlen(s);
        va_end(ap);
        out = o = malloc(len + 1);
        if (!out)
                return NULL;
        va_start(ap, first);
        for (const char *s = first; s; s = va_arg(ap, const char *))
                o = stpcpy(o, s);
        va_end(ap);
        return out;
}
#define strjoin(...) strjoin_internal(__VA_ARGS__, (const char *)NULL)

typedef struct Instance {
        char *base; /* owned: "https://mastodon.social", no trailing '/' */
        char *host; /* owned: "mastodon.social" or "localhost:3000", appended to local accts */
} Instance;

typedef struct Feed {
        size_t instance; /* index into Mastodon::instances */
        size_t tag;      /* index into Mastodon::tags */
        char *name;      /* owned: "https://mastodon.social#acme" */
} Feed;

typedef struct Mastodon {
        const struct earshot_host *host; /* borrowed, valid until destroy */
        Instance *instances;             /* owned */
        size_t n_instances;
        char **tags; /* owned: without '#', ASCII lowercased */
        size_t n_tags;
        Feed *feeds; /* owned: instances x tags */
        size_t n_feeds;
        int64_t limit;
        int64_t max_pages;
        bool local;
        char *authorization; /* owned, secret: "Bearer TOKEN", or NULL */
} Mastodon;

static void mastodon_destroy(void *state) {
        Mastodon *m = state;

        if (!m)
                return;
        for (size_t i = 0; i < m->n_instances; i++) {
                free(m->instances[i].base);
                free(m->instances[i].host);
        }
        free(m->instances);
        for (size_t i = 0; i < m->n_tags; i++)
                free(m->tags[i]);
        free(m->tags);
        for (size_t i = 0; i < m->n_feeds; i++)
                free(m->feeds[i].name);
        free(m->feeds);
        if (m->authorization) {
                explicit_bzero(m->authorization, strlen(m->authorization));
                free(m->authorization);
        }
        free(m);
}

static inline void mastodon_destroyp(Mastodon **m) {
        mastodon_destroy(*m);
}

static int set_error(char *err, size_t err_len, const char *format, ...)
        __attribute__((format(printf, 3, 4)));
static int set_error(char *err, size_t err_len, const char *format, ...) {
        va_list ap;

        if (err && err_len > 0) {
                va_start(ap, format);
                (void)vsnprintf(err, err_len, format, ap);
                va_end(ap);
        }
        return -EINVAL;
}

static char ascii_tolower(char c) {
        return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static bool is_digits(const char *s, size_t n) {
        if (n == 0)
                return false;
        for (size_t i = 0; i < n; i++)
                if (s[i] < '0' || s[i] > '9')
                        return false;
        return true;
}

/* http:// is tolerated for these only: a token or a post never crosses a network in clear. */
static bool host_is_loopback(const char *host, size_t n) {
        static const char suffix[] = ".localhost";
        const size_t ls = sizeof(suffix) - 1;

        if ((n == 9 && strncmp(host, "localhost", 9) == 0) ||
            (n > ls && strncmp(host + n - ls, suffix, ls) == 0) ||
            (n == 5 && strncmp(host, "[::1]", 5) == 0))
                return true;

        /* 127.0.0.0/8 written as a dotted quad */
        if (n < 9 || strncmp(host, "127.", 4) != 0)
                return false;
        unsigned dots = 0;
        for (size_t i = 0; i < n; i++) {
                if (host[i] == '.') {
                        if (i + 1 == n || host[i + 1] == '.')
                                return false;
                        dots++;
                } else if (host[i] < '0' || host[i] > '9')
                        return false;
        }
        return dots == 3;
}

/*
 * Validate an instance base URL and normalise it: scheme and host lowercased, trailing '/'
 * stripped. A path prefix is kept (an instance may live below one); a query, a fragment, user
 * credentials or blanks are refused.
 */
static int instance_parse(const char *url, Instance *ret, const char **ret_error) {
        const char *scheme, *p;
        bool https;

        if (strncasecmp(url, "https://", 8) == 0) {
                https = true;
                scheme = "https://";
                p = url + 8;
        } else if (strncasecmp(url, "http://", 7) == 0) {
                https = false;
                scheme = "http://";
                p = url + 7;
        } else {
                *ret_error = "is not an http:// or https:// URL";
                return -EINVAL;
        }

        for (const char *c = p; *c; c++)
                if ((unsigned char)*c <= ' ' || *c == 0x7f) {
                        *ret_error = "contains blanks or control characters";
                        return -EINVAL;
                } else if (*c == '?' || *c == '#') {
                        *ret_error = "may not have a query or a fragment";
                        return -EINVAL;
                }

        size_t alen = strcspn(p, "/");
        const char *path = p + alen;
        size_t plen = strlen(path);
        while (plen > 0 && path[plen - 1] == '/')
                plen--;

        if (alen == 0) {
                *ret_error = "has no host";
                return -EINVAL;
        }
        if (memchr(p, '@', alen)) {
                *ret_error = "may not contain user credentials";
                return -EINVAL;
        }

        /* host, then an optional :port */
        size_t hlen;
        if (p[0] == '[') {
                const char *close = memchr(p, ']', alen);
                if (!close) {
                        *ret_error = "has a bad IPv6 address";
                        return -EINVAL;
                }
                hlen = (size_t)(close - p) + 1;
                for (size_t i = 1; i + 1 < hlen; i++)
                        if (!strchr("0123456789abcdefABCDEF:.", p[i])) {
                                *ret_error = "has a bad IPv6 address";
                                return -EINVAL;
                        }
        } else {
                const char *colon = memchr(p, ':', alen);
                hlen = colon ? (size_t)(colon - p) : alen;
                for (size_t i = 0; i < hlen; i++) {
                        char c = p[i];
                        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                              (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_')) {
                                *ret_error = "has a bad host name (IDNs must be in punycode)";
                                return -EINVAL;
                        }
                }
        }
        if (hlen == 0 || (p[0] != '[' && (p[0] == '.' || p[0] == '-'))) {
                *ret_error = "has no host";
                return -EINVAL;
        }
        if (hlen < alen) {
                const char *port = p + hlen + 1;
                size_t portlen = alen - hlen - 1;
                unsigned long n = 0;
                if (p[hlen] != ':' || portlen > 5 || !is_digits(port, portlen)) {
                        *ret_error = "has a bad port";
                        return -EINVAL;
                }
                for (size_t i = 0; i < portlen; i++)
                        n = n * 10 + (unsigned long)(port[i] - '0');
                if (n == 0 || n > 65535) {
                        *ret_error = "has a bad port";
                        return -EINVAL;
                }
        }
        if (!https && !host_is_loopback(p, hlen)) {
                *ret_error = "must use https:// (http:// is allowed for loopback hosts only)";
                return -EINVAL;
        }

        _cleanup_free_ char *host = strndup(p, alen), *rest = strndup(path, plen);
        if (!host || !rest)
                return -ENOMEM;
        for (char *c = host; *c; c++)
                *c = ascii_tolower(*c);

        ret->base = strjoin(scheme, host, rest);
        if (!ret->base)
                return -ENOMEM;
        ret->host = host;
        host = NULL;
        return 0;
}

/*
 * "#Acme" -> "acme". ASCII must be letters, digits or '_' (what Mastodon accepts in a
 * hashtag); other scripts pass untouched and are percent-encoded in the URL.
 */
static int tag_parse(const char *s, char **ret, const char **ret_error) {
        while (*s == '#')
                s++;
        if (!*s) {
                *ret_error = "is empty";
                return -EINVAL;
        }
        for (const unsigned char *c = (const unsigned char *)s; *c; c++)
                if (*c < 0x80 && !((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                                   (*c >= '0' && *c <= '9') || *c == '_')) {
                        *ret_error = "is not a hashtag (ASCII letters, digits and '_' only)";
                        return -EINVAL;
                }

        char *t = strdup(s);
        if (!t)
                return -ENOMEM;
        for (char *c = t; *c; c++)
                *c = ascii_tolower(*c);
        *ret = t;
        return 0;
}

static const struct earshot_value *list_value(const struct earshot_values *vals, const char *name) {
        const struct earshot_value *v = earshot_value_get(vals, name);
        return v && v->set && v->list && v->n_list > 0 ? v : NULL;
}

static int mastodon_create(const struct earshot_host *host, const struct earshot_values *vals,
                           char *err, size_t err_len, void **ret_state) {
        _cleanup_(mastodon_destroyp) Mastodon *m = NULL;
        const struct earshot_value *instances, *tags;
        const char *error = NULL;
        int r;

        instances = list_value(vals, "instances");
        if (!instances)
                return set_error(err, err_len, "instances: at least one instance URL is needed");
        tags = list_value(vals, "tags");
        if (!tags)
                return set_error(err, err_len, "tags: at least one hashtag is needed");

        m = calloc(1, sizeof(*m));
        if (!m)
                return -ENOMEM;
        m->host = host;
        m->instances = calloc(instances->n_list, sizeof(Instance));
        m->tags = calloc(tags->n_list, sizeof(char *));
        if (!m->instances || !m->tags)
                return -ENOMEM;

        for (size_t i = 0; i < instances->n_list && instances->list[i]; i++) {
                Instance inst = {0};
                bool dup = false;

                r = instance_parse(instances->list[i], &inst, &error);
                if (r == -EINVAL)
                        return set_error(err, err_len, "instances: '%s' %s", instances->list[i],
                                         error);
                if (r < 0)
                        return r;
                /* the same instance twice would make two feeds with one name */
                for (size_t j = 0; j < m->n_instances && !dup; j++)
                        dup = strcmp(m->instances[j].base, inst.base) == 0;
                if (dup) {
                        free(inst.base);
                        free(inst.host);
                        continue;
                }
                m->instances[m->n_instances++] = inst;
        }

        for (size_t i = 0; i < tags->n_list && tags->list[i]; i++) {
                char *t = NULL;
                bool dup = false;

                r = tag_parse(tags->list[i], &t, &error);
                if (r == -EINVAL)
                        return set_error(err, err_len, "tags: '%s' %s", tags->list[i], error);
                if (r < 0)
                        return r;
                for (size_t j = 0; j < m->n_tags && !dup; j++)
                        dup = strcmp(m->tags[j], t) == 0;
                if (dup) {
                        free(t);
                        continue;
                }
                m->tags[m->n_tags++] = t;
        }

        if (m->n_instances == 0 || m->n_tags == 0)
                return set_error(err, err_len, "%s: the list is empty",
                                 m->n_instances == 0 ? "instances" : "tags");

        m->limit = earshot_value_num(vals, "limit", LIMIT_MAX);
        if (m->limit < 1 || m->limit > LIMIT_MAX)
                return set_error(err, err_len, "limit: %" PRId64 " is out of range 1..%d", m->limit,
                                 LIMIT_MAX);
        m->max_pages = earshot_value_num(vals, "max_pages", 10);
        if (m->max_pages < 1 || m->max_pages > MAX_PAGES_MAX)
                return set_error(err, err_len, "max_pages: %" PRId64 " is out of range 1..%d",
                                 m->max_pages, MAX_PAGES_MAX);
        m->local = earshot_value_num(vals, "local", 0) != 0;

        const char *token = earshot_value_str(vals, "access_token");
        if (token && *token) {
                for (const char *c = token; *c; c++)
                        if ((unsigned char)*c < ' ' || *c == 0x7f)
                                return set_error(err, err_len,
                                                 "access_token: contains control characters");
                /* A token is issued by one instance; never hand it to the others. */
                if (m->n_instances > 1)
                        return set_error(err, err_len,
                                         "access_token: a token belongs to one instance, but "
                                         "%zu instances are listed; use one source per "
                                         "instance",
                                         m->n_instances);
                m->authorization = strjoin("Bearer ", token);
                if (!m->authorization)
                        return -ENOMEM;
        }

        m->feeds = calloc(m->n_instances * m->n_tags, sizeof(Feed));
        if (!m->feeds)
                return -ENOMEM;
        for (size_t i = 0; i < m->n_instances; i++)
                for (size_t t = 0; t < m->n_tags; t++) {
                        Feed *f = &m->feeds[m->n_feeds];

                        f->name = strjoin(m->instances[i].base, "#", m->tags[t]);
                        if (!f->name)
                                return -ENOMEM;
                        f->instance = i;
                        f->tag = t;
                        m->n_feeds++;
                }

        *ret_state = m;
        m = NULL;
        return 0;
}

static const char *mastodon_feed(void *state, uint32_t i) {
        Mastodon *m = state;
        return i < m->n_feeds ? m->feeds[i].name : NULL;
}

/* Timeline ids are opaque strings that sort by length, then bytewise: "99" < "100". */
static int id_compare(const char *a, const char *b) {
        size_t la = strlen(a), lb = strlen(b);
        int c;

        if (la != lb)
                return la < lb ? -1 : 1;
        c = strcmp(a, b);
        return c < 0 ? -1 : c > 0;
}

/*
 * Page tokens are "N:ID": this is page N of the poll and it starts after timeline id ID (the
 * newest id of page N-1). Returns 0, or -EINVAL for a token this plugin did not write.
 */
static int page_parse(const char *page, unsigned *ret_n, const char **ret_id) {
        unsigned long n = 0;
        const char *p = page;

        while (*p >= '0' && *p <= '9' && n <= MAX_PAGES_MAX)
                n = n * 10 + (unsigned long)(*p++ - '0');
        if (p == page || *p != ':' || !p[1] || n < 2 || n > MAX_PAGES_MAX)
                return -EINVAL;
        *ret_n = (unsigned)n;
        *ret_id = p + 1;
        return 0;
}

static int mastodon_build_request(void *state, uint32_t i, const char *cursor, const char *page,
                                  struct earshot_request *req) {
        Mastodon *m = state;
        const struct earshot_host *h = m->host;
        const char *min_id = NULL;
        char num[32];
        int r;

        if (i >= m->n_feeds)
                return -EINVAL;
        const Feed *f = &m->feeds[i];

        if (page) {
                unsigned n;
                r = page_parse(page, &n, &min_id);
                if (r < 0)
                        return r;
        } else if (cursor && *cursor)
                min_id = cursor;

        (void)snprintf(num, sizeof(num), "%" PRId64, m->limit);
        _cleanup_free_ char *tag = url_encode(m->tags[f->tag]);
        _cleanup_free_ char *min = min_id ? url_encode(min_id) : NULL;
        if (!tag || (min_id && !min))
                return -ENOMEM;
        _cleanup_free_ char *url = strjoin(m->instances[f->instance].base, "/api/v1/timelines/tag/",
                                           tag, "?limit=", num, m->local ? "&local=true" : "",
                                           min ? "&min_id=" : "", min ? min : "");
        if (!url)
                return -ENOMEM;

        r = h->request_method(req, "GET");
        if (r < 0)
                return r;
        r = h->request_url(req, url);
        if (r < 0)
                return r;
        r = h->request_header(req, "Accept", "application/json");
        if (r < 0)
                return r;
        if (m->authorization) {
                r = h->request_header(req, "Authorization", m->authorization);
                if (r < 0)
                        return r;
        }
        return 0;
}

static const char *json_str(const cJSON *obj, const char *key) {
        const cJSON *j = cJSON_IsObject(obj) ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
        return j && cJSON_IsString(j) && j->valuestring ? j->valuestring : NULL;
}

/* A non-empty string, or NULL. */
static const char *json_nstr(const cJSON *obj, const char *key) {
        const char *s = json_str(obj, key);
        return s && *s ? s : NULL;
}

/* A non-negative count; -1 when missing, of the wrong type or out of range. */
static int64_t json_count(const cJSON *obj, const char *key) {
        const cJSON *j = cJSON_IsObject(obj) ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
        if (!j || !cJSON_IsNumber(j) || !(j->valuedouble >= 0 && j->valuedouble < 9.0e18))
                return -1;
        return (int64_t)j->valuedouble;
}

/* The timeline id of an element, used for the cursor; NULL when it has none. */
static const char *item_id(const cJSON *item) {
        return json_nstr(item, "id");
}

/* Emits one status. Returns 0 when emitted, 1 when the element is not a usable
 * status (the reason in *why), or a negative errno. */
static int status_emit(Mastodon *m, const Feed *f, size_t index, const cJSON *item,
                       struct earshot_sink *sink, const char **why) {
        const struct earshot_host *h = m->host;
        const Instance *inst = &m->instances[f->instance];
        const cJSON *s = item, *reblog, *account;
        const char *id, *content, *uri, *spoiler, *acct, *created_at;
        _cleanup_free_ char *text = NULL, *post_id = NULL, *handle = NULL;

        if (!cJSON_IsObject(item)) {
                h->log(h, EARSHOT_LOG_DEBUG, "%s: skipping element %zu: not an object", f->name,
                       index);
                *why = "not an object";
                return 1;
        }
        /* A boost: report the boosted status, which is what people wrote. */
        reblog = cJSON_GetObjectItemCaseSensitive(item, "reblog");
        if (cJSON_IsObject(reblog))
                s = reblog;

        id = json_nstr(s, "id");
        content = json_str(s, "content");
        if (!id || !content) {
                *why = !id ? "no string id" : "no string content";
                h->log(h, EARSHOT_LOG_DEBUG, "%s: skipping element %zu: %s", f->name, index, *why);
                return 1;
        }

        uri = json_nstr(s, "uri");
        if (!uri) {
                post_id = strjoin(inst->base, "/", id);
                if (!post_id)
                        return -ENOMEM;
        }

        text = h->html_to_text(content, strlen(content));
        if (!text)
                return -ENOMEM;
        spoiler = json_nstr(s, "spoiler_text");
        if (spoiler) {
                char *joined = *text ? strjoin(spoiler, "\n", text) : strdup(spoiler);
                if (!joined)
                        return -ENOMEM;
                free(text);
                text = joined;
        }

        account = cJSON_GetObjectItemCaseSensitive(s, "account");
        acct = json_nstr(account, "acct");
        if (acct && !strchr(acct, '@')) {
                /* a local account: acct is relative to the instance we asked */
                handle = strjoin(acct, "@", inst->host);
                if (!handle)
                        return -ENOMEM;
        }

        struct earshot_post post = {
                .size = sizeof(post),
                .id = uri ? uri : post_id,
                .network = "mastodon",
                .url = json_nstr(s, "url") ? json_nstr(s, "url") : uri,
                .text = text,
                .author_handle = handle ? handle : acct,
                .author_name = json_nstr(account, "display_name"),
                .author_followers = json_count(account, "followers_count"),
                .lang = json_nstr(s, "language"),
                .created_usec = 0,
                .replies = json_count(s, "replies_count"),
                .reposts = json_count(s, "reblogs_count"),
                .likes = json_count(s, "favourites_count"),
        };
        created_at = json_nstr(s, "created_at");
        if (created_at && h->parse_time(created_at, &post.created_usec) < 0)
                post.created_usec = 0;

        return h->emit_post(sink, &post);
}

static int mastodon_parse_response(void *state, uint32_t i, const char *cursor, const char *page,
                                   const struct earshot_response *resp, struct earshot_sink *sink) {
        Mastodon *m = state;
        const struct earshot_host *h = m->host;
        _cleanup_(cJSON_Deletep) cJSON *root = NULL;
        const char *end = NULL, *newest = NULL, *page_id = NULL;
        unsigned page_n = 1;
        int r;

        if (i >= m->n_feeds)
                return -EINVAL;
        const Feed *f = &m->feeds[i];
        if (page) {
                r = page_parse(page, &page_n, &page_id);
                if (r < 0)
                        return r;
        }

        const char *body = resp->body ? resp->body : "";
        size_t len = resp->body ? resp->body_len : 0;
        /* JSON has no raw NUL bytes, and cJSON would take them for blanks */
        if (memchr(body, 0, len)) {
                h->log(h, EARSHOT_LOG_ERR, "%s: response contains NUL bytes, not JSON", f->name);
                return -EBADMSG;
        }
        root = cJSON_ParseWithLengthOpts(body, len, &end, false);
        if (!root) {
                h->log(h, EARSHOT_LOG_ERR, "%s: response is not valid JSON (%zu bytes)", f->name,
                       len);
                return -EBADMSG;
        }
        /* anything but blanks after the value is garbage, e.g. two bodies glued together */
        while (end && end < body + len &&
               (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n'))
                end++;
        if (!end || end != body + len) {
                h->log(h, EARSHOT_LOG_ERR, "%s: response has garbage after the JSON value",
                       f->name);
                return -EBADMSG;
        }
        if (!cJSON_IsArray(root)) {
                const char *error = json_nstr(root, "error");
                h->log(h, EARSHOT_LOG_ERR,
                       "%s: expected a JSON array of statuses, got %s%s%.200s%s", f->name,
                       cJSON_IsObject(root) ? "an object" : "a scalar", error ? " (error: \"" : "",
                       error ? error : "", error ? "\")" : "");
                return -EBADMSG;
        }

        size_t n = 0;
        for (const cJSON *item = root->child; item; item = item->next)
                n++;
        _cleanup_free_ const cJSON **items = calloc(n ? n : 1, sizeof(cJSON *));
        if (!items)
                return -ENOMEM;
        n = 0;
        for (const cJSON *item = root->child; item; item = item->next) {
                const char *id = item_id(item);
                if (id && (!newest || id_compare(id, newest) > 0))
                        newest = id;
                items[n++] = item;
        }

        /* newest first on the wire; emit oldest first */
        size_t skipped = 0, first_skipped = 0;
        const char *first_why = NULL;
        for (size_t k = n; k > 0; k--) {
                const char *why = NULL;
                r = status_emit(m, f, k - 1, items[k - 1], sink, &why);
                if (r < 0)
                        return r;
                if (r > 0 && skipped++ == 0) {
                        first_skipped = k - 1;
                        first_why = why;
                }
        }
        /* One warning a page: a server sending malformed statuses is worth knowing
         * about, but not once per element. */
        if (skipped > 0)
                h->log(h, EARSHOT_LOG_WARNING,
                       "%s: skipped %zu of %zu elements that are not valid statuses "
                       "(element %zu: %s)",
                       f->name, skipped, n, first_skipped, first_why ? first_why : "malformed");

        /* The cursor only moves forward: max(old cursor, page start, ids on this page). */
        const char *start = cursor && *cursor ? cursor : NULL, *next;
        if (page_id && (!start || id_compare(page_id, start) > 0))
                start = page_id;
        next = start;
        if (newest && (!next || id_compare(newest, next) > 0))
                next = newest;
        if (next && (!cursor || strcmp(next, cursor) != 0)) {
                r = h->set_cursor(sink, next);
                if (r < 0)
                        return r;
        }

        /* The first poll of a feed only takes the newest page: no history digging. */
        if (!(cursor && *cursor) && !page)
                return 0;
        if (n < (size_t)m->limit || !newest)
                return 0;
        /* a server that ignores min_id sends the same page again: no progress, no paging */
        if (start && id_compare(newest, start) <= 0)
                return 0;
        if (page_n >= m->max_pages) {
                h->log(h, EARSHOT_LOG_INFO,
                       "%s: stopped after %u pages; the rest follows on the next poll", f->name,
                       page_n);
                return 0;
        }

        char num[16];
        (void)snprintf(num, sizeof(num), "%u:", page_n + 1);
        _cleanup_free_ char *token = strjoin(num, newest);
        if (!token)
                return -ENOMEM;
        r = h->next_page(sink, token);
        if (r < 0)
                return r;
        return EARSHOT_MORE;
}

static const struct earshot_option mastodon_options[] = {
        {"instances", EARSHOT_OPT_STRLIST, EARSHOT_OPT_REQUIRED, NULL,
         "base URLs of Mastodon instances (https://, or http:// on loopback)"},
        {"tags", EARSHOT_OPT_STRLIST, EARSHOT_OPT_REQUIRED, NULL,
         "hashtags to follow on every instance, with or without '#'"},
        {"limit", EARSHOT_OPT_INT, 0, "40", "statuses per request, 1..40"},
        {"max_pages", EARSHOT_OPT_INT, 0, "10", "requests per feed and poll at most"},
        {"local", EARSHOT_OPT_BOOL, 0, "false", "only statuses from the instance's own users"},
        {"access_token", EARSHOT_OPT_STRING, EARSHOT_OPT_SECRET, NULL,
         "OAuth token for instances that require one (a single instance only)"},
        {.name = NULL},
};

static const struct earshot_source_ops mastodon_ops = {
        .size = sizeof(struct earshot_source_ops),
        .create = mastodon_create,
        .destroy = mastodon_destroy,
        .feed = mastodon_feed,
        .build_request = mastodon_build_request,
        .parse_response = mastodon_parse_response,
};

EARSHOT_PLUGIN_DEFINE(.kind = EARSHOT_PLUGIN_SOURCE, .name = "mastodon",
                      .description = "hashtag timelines of Mastodon instances",
                      .options = mastodon_options, .source = &mastodon_ops);
