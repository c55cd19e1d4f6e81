/* SPDX-License-Identifier: MIT */
/*
 * conf-parse.c - typed access to libyaml document nodes for the configuration (see
 * conf-parse.h). Every error names FILE:LINE:COL (1-based) of the node at fault and is counted,
 * so loading can go on and one run shows every error.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf-parse.h"
#include "util/cleanup.h"
#include "util/strv.h"

unsigned node_line(Node n) {
        return n.n ? (unsigned)n.n->start_mark.line + 1 : 0;
}

unsigned node_col(Node n) {
        return n.n ? (unsigned)n.n->start_mark.column + 1 : 0;
}

ConfigPos node_pos(Node n) {
        return (ConfigPos){.file = n.file, .line = node_line(n), .column = node_col(n)};
}

void error_at(Parser *p, Node n, const char *fmt, ...) {
        char msg[1024], line[1400];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        snprintf(line, sizeof(line), "%s:%u:%u: %s", n.file, node_line(n), node_col(n), msg);
        p->n_errors++;
        if (p->on_error)
                p->on_error(line, p->userdata);
}

const char *node_kind(Node n) {
        if (!n.n)
                return "nothing";
        switch (n.n->type) {
        case YAML_SCALAR_NODE:
                return "a scalar";
        case YAML_SEQUENCE_NODE:
                return "a list";
        case YAML_MAPPING_NODE:
                return "a mapping";
        default:
                return "nothing";
        }
}

Node node_child(Node parent, int index) {
        return (Node){.doc = parent.doc, .n = yaml_document_get_node(parent.doc, index),
                      .file = parent.file};
}

bool is_scalar(Node n) {
        return n.n && n.n->type == YAML_SCALAR_NODE;
}

const char *scalar_raw(Node n) {
        return (const char *)n.n->data.scalar.value;
}

/* An empty plain scalar ("key:" with nothing after it) or "~"/"null" means no value. */
bool is_null(Node n) {
        if (!n.n)
                return true;
        if (n.n->type != YAML_SCALAR_NODE || n.n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
                return false;
        const char *s = scalar_raw(n);
        return *s == 0 || strcmp(s, "~") == 0 || strcmp(s, "null") == 0;
}

/* Expand ${VAR}; "$$" is a literal '$'. */
static int expand_env(Parser *p, Node n, const char *in, char **ret) {
        size_t cap = strlen(in) + 1, len = 0;
        _cleanup_free_ char *out = malloc(cap);
        if (!out)
                return -ENOMEM;

        for (const char *s = in; *s;) {
                const char *add = s;
                size_t addlen = 1;
                char name[256];

                if (s[0] == '$' && s[1] == '$') {
                        s += 2;
                } else if (s[0] == '$' && s[1] == '{') {
                        const char *end = strchr(s + 2, '}');
                        size_t nl = end ? (size_t)(end - s - 2) : 0;
                        if (!end || nl == 0 || nl >= sizeof(name)) {
                                error_at(p, n, "unterminated or empty ${...} in value");
                                return -EINVAL;
                        }
                        memcpy(name, s + 2, nl);
                        name[nl] = 0;
                        for (size_t i = 0; i < nl; i++)
                                if (!(isalnum((unsigned char)name[i]) || name[i] == '_')) {
                                        error_at(p, n, "invalid environment variable name '%s'",
                                                 name);
                                        return -EINVAL;
                                }
                        add = getenv(name);
                        if (!add) {
                                error_at(p, n, "environment variable '%s' is not set", name);
                                return -EINVAL;
                        }
                        addlen = strlen(add);
                        s = end + 1;
                } else
                        s++;
                if (len + addlen + 1 > cap) {
                        cap = (len + addlen + 1) * 2;
                        char *o = realloc(out, cap);
                        if (!o)
                                return -ENOMEM;
                        out = o;
                }
                memcpy(out + len, add, addlen);
                len += addlen;
        }
        out[len] = 0;
        *ret = TAKE_PTR(out);
        return 0;
}

int get_string(Parser *p, Node n, const char *what, char **ret) {
        if (!is_scalar(n)) {
                error_at(p, n, "%s must be a string, not %s", what, node_kind(n));
                return -EINVAL;
        }
        return expand_env(p, n, scalar_raw(n), ret);
}

int get_duration(Parser *p, Node n, const char *what, usec_t *ret) {
        _cleanup_free_ char *s = NULL;
        int r = get_string(p, n, what, &s);
        if (r < 0)
                return r;
        r = parse_duration(s, ret);
        if (r < 0) {
                error_at(p, n, "invalid duration '%s' for %s (use e.g. 90s, 15m, 1h, 2d)", s,
                         what);
                return -EINVAL;
        }
        return 0;
}

int parse_bool_str(const char *s) {
        static const char *const yes[] = {"true", "yes", "on", "1"};
        static const char *const no[] = {"false", "no", "off", "0"};
        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                if (strcasecmp(s, yes[i]) == 0)
                        return 1;
                if (strcasecmp(s, no[i]) == 0)
                        return 0;
        }
        return -EINVAL;
}

int get_bool(Parser *p, Node n, const char *what, bool *ret) {
        _cleanup_free_ char *s = NULL;
        int r = get_string(p, n, what, &s);
        if (r < 0)
                return r;
        r = parse_bool_str(s);
        if (r < 0) {
                error_at(p, n, "%s must be true or false, not '%s'", what, s);
                return -EINVAL;
        }
        *ret = r;
        return 0;
}

int parse_int_str(const char *s, int64_t *ret) {
        char *end;
        errno = 0;
        long long v = strtoll(s, &end, 10);
        if (errno || end == s || *end)
                return -EINVAL;
        *ret = v;
        return 0;
}

int get_int(Parser *p, Node n, const char *what, int64_t min, int64_t max, int64_t *ret) {
        _cleanup_free_ char *s = NULL;
        int64_t v;
        int r = get_string(p, n, what, &s);
        if (r < 0)
                return r;
        if (parse_int_str(s, &v) < 0) {
                error_at(p, n, "%s must be a whole number, not '%s'", what, s);
                return -EINVAL;
        }
        if (v < min || v > max) {
                error_at(p, n, "%s must be between %" PRId64 " and %" PRId64 ", not %" PRId64,
                         what, min, max, v);
                return -ERANGE;
        }
        *ret = v;
        return 0;
}

int parse_number_str(const char *s, double *ret) {
        char *end;
        errno = 0;
        double v = strtod(s, &end);
        /* decimal only: no hex floats, no inf or nan */
        if (errno || end == s || *end || strpbrk(s, "xXnN"))
                return -EINVAL;
        *ret = v;
        return 0;
}

int get_number(Parser *p, Node n, const char *what, double min, double max, double *ret) {
        _cleanup_free_ char *s = NULL;
        double v;
        int r = get_string(p, n, what, &s);
        if (r < 0)
                return r;
        if (parse_number_str(s, &v) < 0) {
                error_at(p, n, "%s must be a number, not '%s'", what, s);
                return -EINVAL;
        }
        if (v < min || v > max) {
                error_at(p, n, "%s must be between %g and %g, not %s", what, min, max, s);
                return -ERANGE;
        }
        *ret = v;
        return 0;
}

/* A list of strings, or a single string standing for a list of one. */
int get_strlist(Parser *p, Node n, const char *what, char ***ret) {
        _cleanup_strv_free_ char **l = calloc(1, sizeof(char *));
        int r = 0;
        if (!l)
                return -ENOMEM;
        if (is_scalar(n)) {
                char *s;
                r = get_string(p, n, what, &s);
                if (r < 0)
                        return r;
                if (strv_consume(&l, s) < 0)
                        return -ENOMEM;
        } else if (n.n && n.n->type == YAML_SEQUENCE_NODE) {
                for (yaml_node_item_t *it = n.n->data.sequence.items.start;
                     it < n.n->data.sequence.items.top; it++) {
                        Node c = node_child(n, *it);
                        char *s;
                        int k = get_string(p, c, what, &s);
                        if (k < 0) {
                                r = k;
                                continue;
                        }
                        if (strv_consume(&l, s) < 0)
                                return -ENOMEM;
                }
        } else {
                error_at(p, n, "%s must be a list of strings, not %s", what, node_kind(n));
                return -EINVAL;
        }
        if (r < 0)
                return r;
        *ret = TAKE_PTR(l);
        return 0;
}

/*
 * Check a mapping's keys against a table: vals[i] receives the value of keys[i] (n == NULL when
 * absent). Unknown keys are reported with the nearest known key; duplicates are reported too.
 * Returns 0 when the mapping is well-formed, -EINVAL otherwise (after reporting).
 */
int map_keys(Parser *p, Node map, const char *section, const KeyDef *keys, size_t n_keys,
                    Node *vals) {
        int r = 0;

        for (size_t i = 0; i < n_keys; i++)
                vals[i] = (Node){.doc = map.doc, .n = NULL, .file = map.file};
        if (!map.n || map.n->type != YAML_MAPPING_NODE) {
                error_at(p, map, "%s must be a mapping of keys to values, not %s", section,
                         node_kind(map));
                return -EINVAL;
        }
        for (yaml_node_pair_t *pair = map.n->data.mapping.pairs.start;
             pair < map.n->data.mapping.pairs.top; pair++) {
                Node k = node_child(map, pair->key), v = node_child(map, pair->value);
                if (!is_scalar(k)) {
                        error_at(p, k, "keys in %s must be plain strings", section);
                        r = -EINVAL;
                        continue;
                }
                const char *key = scalar_raw(k);
                size_t i;
                for (i = 0; i < n_keys; i++)
                        if (strcmp(keys[i].key, key) == 0)
                                break;
                if (i == n_keys) {
                        const char *best = NULL;
                        unsigned best_d = 255;
                        for (size_t j = 0; j < n_keys; j++) {
                                unsigned d = edit_distance(key, keys[j].key);
                                if (d < best_d) {
                                        best_d = d;
                                        best = keys[j].key;
                                }
                        }
                        size_t kl = strlen(key);
                        if (best && best_d <= (kl <= 4 ? 1u : kl <= 8 ? 2u : 3u))
                                error_at(p, k, "unknown key '%s' in %s (did you mean '%s'?)",
                                         key, section, best);
                        else {
                                char list[1024];
                                size_t used = 0;
                                list[0] = 0;
                                for (size_t j = 0; j < n_keys && used < sizeof(list); j++) {
                                        int w = snprintf(list + used, sizeof(list) - used,
                                                         "%s%s", j ? ", " : "", keys[j].key);
                                        if (w < 0)
                                                break;
                                        used += (size_t)w;
                                }
                                error_at(p, k, "unknown key '%s' in %s (valid keys: %s)", key,
                                         section, list);
                        }
                        r = -EINVAL;
                        continue;
                }
                if (vals[i].n) {
                        error_at(p, k, "duplicate key '%s' in %s (first at line %u)", key,
                                 section, (unsigned)vals[i].key->start_mark.line + 1);
                        r = -EINVAL;
                        continue;
                }
                v.key = k.n;
                vals[i] = v;
        }
        return r;
}

/* Iterate over a list section; a null value is an empty list. */
int sequence_items(Parser *p, Node n, const char *what, yaml_node_item_t **ret_start,
                          yaml_node_item_t **ret_end) {
        *ret_start = *ret_end = NULL;
        if (is_null(n))
                return 0;
        if (n.n->type != YAML_SEQUENCE_NODE) {
                error_at(p, n, "%s must be a list (items starting with '- '), not %s", what,
                         node_kind(n));
                return -EINVAL;
        }
        *ret_start = n.n->data.sequence.items.start;
        *ret_end = n.n->data.sequence.items.top;
        return 0;
}

void warn_at(Parser *p, Node n, const char *fmt, ...) {
        char msg[1024];
        char *line;
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        if (asprintf(&line, "%s:%u:%u: warning: %s", n.file, node_line(n), node_col(n), msg) < 0)
                return; /* a lost warning is no reason to fail */
        (void)strv_consume(&p->warnings, line);
}

bool is_mapping(Node n) {
        return n.n && n.n->type == YAML_MAPPING_NODE;
}

bool is_sequence(Node n) {
        return n.n && n.n->type == YAML_SEQUENCE_NODE;
}

size_t sequence_length(Node n) {
        if (!is_sequence(n))
                return 0;
        return (size_t)(n.n->data.sequence.items.top - n.n->data.sequence.items.start);
}

Node sequence_item(Node n, size_t i) {
        return node_child(n, n.n->data.sequence.items.start[i]);
}

const char *closest_word(const char *word, const char *const *candidates, size_t n) {
        const char *best = NULL;
        unsigned best_d = 255;
        size_t len = strlen(word);

        for (size_t j = 0; j < n; j++) {
                unsigned d = edit_distance(word, candidates[j]);
                if (d < best_d) {
                        best_d = d;
                        best = candidates[j];
                }
        }
        if (best && best_d <= (len <= 4 ? 1u : len <= 8 ? 2u : 3u))
                return best;
        return NULL;
}

bool name_valid(const char *s) {
        if (isempty(s) || strlen(s) > 100)
                return false;
        for (const char *c = s; *c; c++)
                if (!(isalnum((unsigned char)*c) || strchr("-_.", *c)))
                        return false;
        return true;
}

/* The item of a list node that says s (case aside), for pointing at it; else the list. */
Node list_item_named(Node list, const char *s) {
        for (size_t i = 0; i < sequence_length(list); i++) {
                Node item = sequence_item(list, i);
                if (is_scalar(item) && strcasecmp(scalar_raw(item), s) == 0)
                        return item;
        }
        return list;
}
