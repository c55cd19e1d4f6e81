/* SPDX-License-Identifier: MIT */
/*
 * bluesky-parse.c - pure helpers of the Bluesky source (see bluesky-parse.h): JWT expiry, link
 * facets over UTF-8 byte offsets, AT URIs and DIDs, and the follower-count cache's text form.
 * Everything here distrusts its input: offsets are checked against the text and its UTF-8
 * sequences, lengths are bounded, nothing is assumed about order.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "bluesky-parse.h"
#include "plugin-json.h"
#include "plugin-util.h"

#define JWT_MAX 8192       /* a session JWT is a few hundred bytes */
#define FACETS_MAX 64      /* facets looked at per post */
#define FACET_URI_MAX 2048 /* longer link URIs are left shortened */

/* ---- JWT ------------------------------------------------------------------------------------- */

static int b64url_value(char c) {
        if (c >= 'A' && c <= 'Z')
                return c - 'A';
        if (c >= 'a' && c <= 'z')
                return c - 'a' + 26;
        if (c >= '0' && c <= '9')
                return c - '0' + 52;
        if (c == '-' || c == '+')
                return 62;
        if (c == '_' || c == '/')
                return 63;
        return -1;
}

/* RFC 4648 §5 base64url of n bytes at s (padding tolerated) into a NUL-terminated buffer. */
static int b64url_decode(const char *s, size_t n, char **ret, size_t *ret_len) {
        uint32_t acc = 0;
        unsigned bits = 0;
        size_t o = 0;

        while (n > 0 && s[n - 1] == '=')
                n--;
        char *out = malloc(n * 3 / 4 + 2);
        if (!out)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                int v = b64url_value(s[i]);
                if (v < 0) {
                        free(out);
                        return -EINVAL;
                }
                acc = (acc << 6) | (uint32_t)v;
                bits += 6;
                if (bits >= 8) {
                        bits -= 8;
                        out[o++] = (char)((acc >> bits) & 0xFF);
                }
        }
        out[o] = 0;
        *ret = out;
        *ret_len = o;
        return 0;
}

int bsky_jwt_exp(const char *jwt, int64_t *ret_sec) {
        const char *dot1, *dot2;
        size_t len;
        int r;

        if (!jwt || strnlen(jwt, JWT_MAX + 1) > JWT_MAX)
                return -EINVAL;
        dot1 = strchr(jwt, '.');
        if (!dot1)
                return -EINVAL;
        dot2 = strchr(dot1 + 1, '.');
        if (!dot2 || dot2 == dot1 + 1)
                return -EINVAL;

        _cleanup_free_ char *payload = NULL;
        r = b64url_decode(dot1 + 1, (size_t)(dot2 - dot1 - 1), &payload, &len);
        if (r < 0)
                return r;
        if (memchr(payload, 0, len) || !json_depth_ok(payload, len, 8))
                return -EINVAL;
        _cleanup_(cJSON_Deletep) cJSON *claims = cJSON_ParseWithLength(payload, len);
        int64_t exp = json_int(claims, "exp", INT64_C(253402300799));
        if (exp <= 0)
                return -EINVAL;
        *ret_sec = exp;
        return 0;
}

/* ---- text and facets ------------------------------------------------------------------------- */

typedef struct Span {
        size_t start, end;
        const char *uri;
} Span;

static bool utf8_boundary(const char *text, size_t len, size_t at) {
        return at == len || ((unsigned char)text[at] & 0xC0) != 0x80;
}

static bool link_uri_ok(const char *uri) {
        size_t n;

        if (!uri || !url_skip_http(uri))
                return false;
        n = strnlen(uri, FACET_URI_MAX + 1);
        if (n > FACET_URI_MAX)
                return false;
        for (size_t i = 0; i < n; i++)
                if ((unsigned char)uri[i] <= ' ' || uri[i] == 0x7f)
                        return false;
        return true;
}

static int span_cmp(const void *a, const void *b) {
        const Span *x = a, *y = b;
        return x->start < y->start ? -1 : x->start > y->start ? 1 : 0;
}

char *bsky_text_expand(const char *text, const cJSON *facets) {
        size_t len = strlen(text), n = 0, out_len;
        Span spans[FACETS_MAX];
        const cJSON *facet, *list = cJSON_IsArray(facets) ? facets : NULL;

        cJSON_ArrayForEach(facet, list) {
                const cJSON *index = json_obj(facet, "index"), *feature;
                int64_t start = json_int(index, "byteStart", JSON_INT_MAX);
                int64_t end = json_int(index, "byteEnd", JSON_INT_MAX);
                const char *uri = NULL;

                if (n == FACETS_MAX)
                        break;
                if (start < 0 || end <= start || (uint64_t)end > len)
                        continue;
                if (!utf8_boundary(text, len, (size_t)start) ||
                    !utf8_boundary(text, len, (size_t)end))
                        continue;
                cJSON_ArrayForEach(feature, json_get(facet, "features")) {
                        const char *type = json_str(feature, "$type");
                        if (type && strcmp(type, "app.bsky.richtext.facet#link") == 0) {
                                uri = json_str(feature, "uri");
                                break;
                        }
                }
                if (!link_uri_ok(uri))
                        continue;
                /* already the whole link: nothing to do */
                if (strlen(uri) == (size_t)(end - start) &&
                    memcmp(text + start, uri, (size_t)(end - start)) == 0)
                        continue;
                spans[n++] = (Span){(size_t)start, (size_t)end, uri};
        }
        if (n == 0)
                return strdup(text);

        qsort(spans, n, sizeof(Span), span_cmp);
        out_len = len;
        size_t kept = 0;
        for (size_t i = 0; i < n; i++) {
                /* an overlap with the span kept before makes no sense: skip it */
                if (kept > 0 && spans[i].start < spans[kept - 1].end)
                        continue;
                spans[kept++] = spans[i];
                out_len += strlen(spans[i].uri);
        }

        char *out = malloc(out_len + 1), *o = out;
        if (!out)
                return NULL;
        size_t at = 0;
        for (size_t i = 0; i < kept; i++) {
                memcpy(o, text + at, spans[i].start - at);
                o += spans[i].start - at;
                o = stpcpy(o, spans[i].uri);
                at = spans[i].end;
        }
        memcpy(o, text + at, len - at);
        o[len - at] = 0;
        return out;
}

/* ---- identifiers ----------------------------------------------------------------------------- */

bool bsky_post_uri(const char *s, const char **ret_rkey) {
        static const char nsid[] = "/app.bsky.feed.post/";
        const char *auth, *slash, *rkey;

        if (!s || strncmp(s, "at://", 5) != 0 || strnlen(s, 1025) > 1024)
                return false;
        for (const char *c = s; *c; c++)
                if ((unsigned char)*c <= ' ' || *c == 0x7f)
                        return false;
        auth = s + 5;
        slash = strchr(auth, '/');
        if (!slash || slash == auth || strncmp(slash, nsid, sizeof(nsid) - 1) != 0)
                return false;
        rkey = slash + sizeof(nsid) - 1;
        if (!*rkey || strchr(rkey, '/') || strchr(rkey, '?') || strchr(rkey, '#'))
                return false;
        if (ret_rkey)
                *ret_rkey = rkey;
        return true;
}

bool bsky_did_valid(const char *s) {
        size_t n;
        const char *m;

        if (!s || strncmp(s, "did:", 4) != 0)
                return false;
        n = strnlen(s, 257);
        if (n > 256)
                return false;
        m = strchr(s + 4, ':');
        if (!m || m == s + 4 || !m[1])
                return false;
        for (size_t i = 0; i < n; i++)
                if (!char_is_alnum(s[i]) && !strchr("._:%-", s[i]))
                        return false;
        return true;
}

/* ---- the follower-count cache ---------------------------------------------------------------- */

void profiles_done(Profiles *p) {
        for (size_t i = 0; i < p->n; i++)
                free(p->e[i].did);
        free(p->e);
        *p = (Profiles){0};
}

static ProfileEntry *profiles_find(const Profiles *p, const char *did) {
        for (size_t i = 0; i < p->n; i++)
                if (strcmp(p->e[i].did, did) == 0)
                        return &p->e[i];
        return NULL;
}

int profiles_put(Profiles *p, const char *did, int64_t count, int64_t t) {
        ProfileEntry *e = profiles_find(p, did);

        if (e) {
                e->count = count;
                e->t = t;
                return 0;
        }
        if (p->n == p->cap) {
                size_t cap = p->cap ? p->cap * 2 : 64;
                ProfileEntry *ne = realloc(p->e, cap * sizeof(ProfileEntry));
                if (!ne)
                        return -ENOMEM;
                p->e = ne;
                p->cap = cap;
        }
        char *d = strdup(did);
        if (!d)
                return -ENOMEM;
        p->e[p->n++] = (ProfileEntry){.did = d, .count = count, .t = t};
        return 0;
}

int profiles_load(Profiles *p, const char *text, int64_t expired_before) {
        const char *line = text;

        while (line && *line) {
                const char *nl = strchr(line, '\n');
                size_t n = nl ? (size_t)(nl - line) : strlen(line);
                char buf[320], did[260];
                int64_t count = -1, t = 0;

                if (n < sizeof(buf)) {
                        memcpy(buf, line, n);
                        buf[n] = 0;
                        const char *sp1 = strchr(buf, ' ');
                        const char *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
                        if (sp1 && sp2 && (size_t)(sp1 - buf) < sizeof(did)) {
                                const char *c = sp1 + 1, *tt = sp2 + 1;
                                memcpy(did, buf, (size_t)(sp1 - buf));
                                did[sp1 - buf] = 0;
                                bool ok = bsky_did_valid(did);
                                if (*c == '-' && c[1] == '1' && c + 2 == sp2)
                                        count = -1;
                                else
                                        ok = ok && parse_num(&c, JSON_INT_MAX, &count) == 0 &&
                                             c == sp2;
                                ok = ok && parse_num(&tt, INT64_C(253402300799), &t) == 0 && !*tt;
                                if (ok && t > expired_before && !profiles_find(p, did)) {
                                        int r = profiles_put(p, did, count, t);
                                        if (r < 0)
                                                return r;
                                }
                        }
                }
                line = nl ? nl + 1 : NULL;
        }
        return 0;
}

int64_t profiles_lookup(const Profiles *p, const char *did) {
        const ProfileEntry *e = profiles_find(p, did);
        return e ? e->count : -2;
}

static int entry_newer_first(const void *a, const void *b) {
        const ProfileEntry *const *x = a, *const *y = b;
        return (*x)->t > (*y)->t ? -1 : (*x)->t < (*y)->t ? 1 : 0;
}

char *profiles_format(const Profiles *p) {
        size_t n = p->n, len = 0, used = 0;

        _cleanup_free_ const ProfileEntry **order = calloc(n ? n : 1, sizeof(*order));
        if (!order)
                return NULL;
        for (size_t i = 0; i < n; i++)
                order[i] = &p->e[i];
        qsort(order, n, sizeof(*order), entry_newer_first);

        char *out = malloc(PROFILES_BYTES_MAX + 1);
        if (!out)
                return NULL;
        for (size_t i = 0; i < n && used < PROFILES_MAX; i++) {
                char line[320];
                int k = snprintf(line, sizeof(line), "%s %" PRId64 " %" PRId64 "\n", order[i]->did,
                                 order[i]->count, order[i]->t);
                if (k < 0 || (size_t)k >= sizeof(line))
                        continue;
                if (len + (size_t)k > PROFILES_BYTES_MAX)
                        break;
                memcpy(out + len, line, (size_t)k);
                len += (size_t)k;
                used++;
        }
        out[len] = 0;
        return out;
}
