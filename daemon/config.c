/* SPDX-License-Identifier: MIT */
/*
 * config.c - reads the YAML configuration with libyaml's document API and validates it into
 * a Config.
 *
 * Guarantees: every error is reported as "FILE:LINE:COL: message" (1-based, of the node at
 * fault), parsing continues after an error so that one run shows all of them, and nothing is
 * returned unless the whole configuration is valid. Keys are checked against tables (the core's
 * own, and each plugin's option table), so an unknown key is an error with a "did you mean"
 * suggestion. Secret option values are never written anywhere: not in errors, not in dumps.
 */
#include <ctype.h>
#include <errno.h>
#include <glob.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "config.h"
#include "earshot-build.h"
#include "log.h"
#include "plugin.h"
#include "util/cleanup.h"
#include "util/strv.h"

#define MAX_CONFIG_FILE_SIZE (4u << 20)
#define MAX_INCLUDED_FILES 256
#define MAX_SECRET_SIZE (64u << 10)

typedef struct Node {
        yaml_document_t *doc;
        yaml_node_t *key; /* for mapping values: the key node (for messages) */
        yaml_node_t *n; /* NULL = absent */
        const char *file;
} Node;

typedef struct Parser {
        Config *cfg;
        ConfigErrorFunc on_error;
        void *userdata;
        unsigned n_errors;
        yaml_document_t **docs; /* owned */
        size_t n_docs;
        PluginRegistry *registry;
        const char *plugin_dir;
} Parser;

typedef struct KeyDef {
        const char *key;
} KeyDef;

static const char *const severity_names[_SEVERITY_MAX] = {
        [SEVERITY_LOW] = "low",
        [SEVERITY_NORMAL] = "normal",
        [SEVERITY_HIGH] = "high",
        [SEVERITY_CRITICAL] = "critical",
};

const char *severity_to_string(Severity s) {
        return s >= 0 && s < _SEVERITY_MAX ? severity_names[s] : "?";
}

Severity severity_from_string(const char *s) {
        for (int i = 0; s && i < _SEVERITY_MAX; i++)
                if (strcmp(s, severity_names[i]) == 0)
                        return (Severity)i;
        return _SEVERITY_INVALID;
}

unsigned edit_distance(const char *a, const char *b) {
        size_t la = strlen(a), lb = strlen(b);
        unsigned row[65];

        if (la > 64 || lb > 64)
                return 255;
        for (size_t j = 0; j <= lb; j++)
                row[j] = (unsigned)j;
        for (size_t i = 1; i <= la; i++) {
                unsigned diag = row[0];
                row[0] = (unsigned)i;
                for (size_t j = 1; j <= lb; j++) {
                        unsigned up = row[j];
                        unsigned cost = tolower((unsigned char)a[i - 1]) ==
                                                        tolower((unsigned char)b[j - 1])
                                                ? 0
                                                : 1;
                        unsigned v = diag + cost;
                        if (row[j] + 1 < v)
                                v = row[j] + 1;
                        if (row[j - 1] + 1 < v)
                                v = row[j - 1] + 1;
                        row[j] = v;
                        diag = up;
                }
        }
        return row[lb] > 255 ? 255 : row[lb];
}

static unsigned node_line(Node n) {
        return n.n ? (unsigned)n.n->start_mark.line + 1 : 0;
}

static unsigned node_col(Node n) {
        return n.n ? (unsigned)n.n->start_mark.column + 1 : 0;
}

static ConfigPos node_pos(Node n) {
        return (ConfigPos){.file = n.file, .line = node_line(n), .column = node_col(n)};
}

_printf_(3, 4) static void error_at(Parser *p, Node n, const char *fmt, ...) {
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

static const char *node_kind(Node n) {
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

static Node node_child(Node parent, int index) {
        return (Node){.doc = parent.doc, .n = yaml_document_get_node(parent.doc, index),
                      .file = parent.file};
}

static bool is_scalar(Node n) {
        return n.n && n.n->type == YAML_SCALAR_NODE;
}

static const char *scalar_raw(Node n) {
        return (const char *)n.n->data.scalar.value;
}

/* An empty plain scalar ("key:" with nothing after it) or "~"/"null" means no value. */
static bool is_null(Node n) {
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

static int get_string(Parser *p, Node n, const char *what, char **ret) {
        if (!is_scalar(n)) {
                error_at(p, n, "%s must be a string, not %s", what, node_kind(n));
                return -EINVAL;
        }
        return expand_env(p, n, scalar_raw(n), ret);
}

static int get_duration(Parser *p, Node n, const char *what, usec_t *ret) {
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

static int parse_bool_str(const char *s) {
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

static int get_bool(Parser *p, Node n, const char *what, bool *ret) {
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

static int parse_int_str(const char *s, int64_t *ret) {
        char *end;
        errno = 0;
        long long v = strtoll(s, &end, 10);
        if (errno || end == s || *end)
                return -EINVAL;
        *ret = v;
        return 0;
}

static int get_int(Parser *p, Node n, const char *what, int64_t min, int64_t max, int64_t *ret) {
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

/* A list of strings, or a single string standing for a list of one. */
static int get_strlist(Parser *p, Node n, const char *what, char ***ret) {
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

static void termlist_done(TermList *t) {
        for (size_t i = 0; i < t->n; i++)
                term_free(t->terms[i]);
        free(t->terms);
        *t = (TermList){};
}

static int get_termlist(Parser *p, Node n, const char *what, TermList *ret) {
        TermList t = {};
        int r = 0;

        if (is_null(n)) {
                *ret = t;
                return 0;
        }
        if (!n.n || (n.n->type != YAML_SEQUENCE_NODE && n.n->type != YAML_SCALAR_NODE)) {
                error_at(p, n, "%s must be a list of terms, not %s", what, node_kind(n));
                return -EINVAL;
        }
        size_t count = n.n->type == YAML_SCALAR_NODE
                               ? 1
                               : (size_t)(n.n->data.sequence.items.top -
                                          n.n->data.sequence.items.start);
        t.terms = calloc(count ? count : 1, sizeof(Term *));
        if (!t.terms)
                return -ENOMEM;
        for (size_t i = 0; i < count; i++) {
                Node c = n.n->type == YAML_SCALAR_NODE
                                 ? n
                                 : node_child(n, n.n->data.sequence.items.start[i]);
                _cleanup_free_ char *s = NULL;
                const char *err = NULL;
                int k = get_string(p, c, what, &s);
                if (k < 0) {
                        r = k;
                        continue;
                }
                k = term_new(s, &t.terms[t.n], &err);
                if (k == -ENOMEM) {
                        termlist_done(&t);
                        return k;
                }
                if (k < 0) {
                        error_at(p, c, "invalid term '%s' in %s: %s", s, what,
                                 err ? err : "not understood");
                        r = k;
                        continue;
                }
                t.n++;
        }
        if (r < 0) {
                termlist_done(&t);
                return r;
        }
        *ret = t;
        return 0;
}

/*
 * Check a mapping's keys against a table: vals[i] receives the value of keys[i] (n == NULL when
 * absent). Unknown keys are reported with the nearest known key; duplicates are reported too.
 * Returns 0 when the mapping is well-formed, -EINVAL otherwise (after reporting).
 */
static int map_keys(Parser *p, Node map, const char *section, const KeyDef *keys, size_t n_keys,
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
static int sequence_items(Parser *p, Node n, const char *what, yaml_node_item_t **ret_start,
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

static int read_file_limited(const char *path, size_t max, char **ret, size_t *ret_len) {
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        if (!f)
                return -errno;
        _cleanup_free_ char *buf = malloc(max + 1);
        if (!buf)
                return -ENOMEM;
        size_t n = fread(buf, 1, max + 1, f);
        if (ferror(f))
                return -EIO;
        if (n > max)
                return -EFBIG;
        buf[n] = 0;
        *ret_len = n;
        *ret = TAKE_PTR(buf);
        return 0;
}

static int resolve_path(const Config *c, const char *path, bool credential, char **ret) {
        const char *cred = getenv("CREDENTIALS_DIRECTORY");
        char *r;
        if (path[0] == '/')
                r = strdup(path);
        else if (credential && !isempty(cred) && !strchr(path, '/')) {
                if (asprintf(&r, "%s/%s", cred, path) < 0)
                        r = NULL;
        } else if (asprintf(&r, "%s/%s", c->dir, path) < 0)
                r = NULL;
        if (!r)
                return -ENOMEM;
        *ret = r;
        return 0;
}

static void values_done(PluginValues *v) {
        for (size_t i = 0; i < v->n; i++) {
                if (v->v[i].str) {
                        /* secrets: wipe before freeing */
                        explicit_bzero((char *)v->v[i].str, strlen(v->v[i].str));
                        free((char *)v->v[i].str);
                }
                strv_free((char **)v->v[i].list);
        }
        free(v->v);
        *v = (PluginValues){};
}

/* Parse one option value given as text (from YAML or from the table's default). */
static int option_value(Parser *p, Node at, const struct earshot_option *o, char *text,
                        struct earshot_value *v) {
        int r;
        v->str = text;
        switch (o->type) {
        case EARSHOT_OPT_STRING:
                break;
        case EARSHOT_OPT_INT:
                if (parse_int_str(text, &v->num) < 0) {
                        error_at(p, at, "option '%s' must be a whole number, not '%s'", o->name,
                                 text);
                        return -EINVAL;
                }
                break;
        case EARSHOT_OPT_BOOL:
                r = parse_bool_str(text);
                if (r < 0) {
                        error_at(p, at, "option '%s' must be true or false, not '%s'", o->name,
                                 text);
                        return -EINVAL;
                }
                v->num = r;
                break;
        case EARSHOT_OPT_DURATION: {
                usec_t u;
                if (parse_duration(text, &u) < 0 || u > INT64_MAX) {
                        error_at(p, at, "invalid duration '%s' for option '%s'", text, o->name);
                        return -EINVAL;
                }
                v->num = (int64_t)u;
                break;
        }
        case EARSHOT_OPT_URL:
                if (strncmp(text, "http://", 7) != 0 && strncmp(text, "https://", 8) != 0) {
                        error_at(p, at, "option '%s' must be an http:// or https:// URL",
                                 o->name);
                        return -EINVAL;
                }
                break;
        case EARSHOT_OPT_PATH: {
                char *abs;
                r = resolve_path(p->cfg, text, false, &abs);
                if (r < 0)
                        return r;
                free(text);
                v->str = abs;
                break;
        }
        default:
                break;
        }
        return 0;
}

/*
 * Validate a source's or notifier's mapping: the core's keys plus the plugin's option table
 * (and NAME_file for each secret). core_vals receives the core keys' values.
 */
static int plugin_section(Parser *p, Node map, const char *section, const Plugin *plugin,
                          const KeyDef *core_keys, size_t n_core, Node *core_vals,
                          PluginValues *ret) {
        const struct earshot_option *opts = plugin ? plugin->desc->options : NULL;
        size_t n_opts = plugin ? plugin_n_options(plugin) : 0, n_keys = n_core + n_opts;
        int r = 0;

        for (size_t i = 0; i < n_opts; i++)
                if (opts[i].flags & EARSHOT_OPT_SECRET)
                        n_keys++;
        _cleanup_free_ KeyDef *keys = calloc(n_keys, sizeof(KeyDef));
        _cleanup_free_ Node *vals = calloc(n_keys, sizeof(Node));
        _cleanup_strv_free_ char **file_keys = calloc(1, sizeof(char *));
        if (!keys || !vals || !file_keys)
                return -ENOMEM;
        memcpy(keys, core_keys, n_core * sizeof(KeyDef));
        size_t k = n_core;
        for (size_t i = 0; i < n_opts; i++)
                keys[k++].key = opts[i].name;
        for (size_t i = 0; i < n_opts; i++)
                if (opts[i].flags & EARSHOT_OPT_SECRET) {
                        char *fk;
                        if (asprintf(&fk, "%s_file", opts[i].name) < 0 ||
                            strv_consume(&file_keys, fk) < 0)
                                return -ENOMEM;
                        keys[k++].key = fk;
                }

        if (!plugin) {
                /* Unknown plugin: check only the core keys we know, the rest was reported. */
                Node *cv = core_vals;
                for (size_t i = 0; i < n_core; i++)
                        cv[i] = (Node){.doc = map.doc, .file = map.file};
                if (map.n && map.n->type == YAML_MAPPING_NODE)
                        for (yaml_node_pair_t *pair = map.n->data.mapping.pairs.start;
                             pair < map.n->data.mapping.pairs.top; pair++) {
                                Node kn = node_child(map, pair->key);
                                for (size_t i = 0; is_scalar(kn) && i < n_core; i++)
                                        if (strcmp(core_keys[i].key, scalar_raw(kn)) == 0)
                                                cv[i] = node_child(map, pair->value);
                        }
                return -EINVAL;
        }

        r = map_keys(p, map, section, keys, n_keys, vals);
        memcpy(core_vals, vals, n_core * sizeof(Node));

        PluginValues pv = {.v = calloc(n_opts ? n_opts : 1, sizeof(struct earshot_value)),
                           .n = n_opts};
        if (!pv.v)
                return -ENOMEM;
        size_t fidx = n_core + n_opts;
        for (size_t i = 0; i < n_opts; i++) {
                const struct earshot_option *o = &opts[i];
                struct earshot_value *v = &pv.v[i];
                Node val = vals[n_core + i], fval = {.n = NULL};
                int q = 0;

                v->name = o->name;
                v->type = o->type;
                if (o->flags & EARSHOT_OPT_SECRET)
                        fval = vals[fidx++];
                if (val.n && fval.n) {
                        error_at(p, fval, "give either '%s' or '%s_file', not both", o->name,
                                 o->name);
                        r = -EINVAL;
                        continue;
                }
                if (fval.n) {
                        _cleanup_free_ char *path = NULL, *abs = NULL;
                        char *data = NULL;
                        size_t len;
                        q = get_string(p, fval, "a secret file", &path);
                        if (q >= 0)
                                q = resolve_path(p->cfg, path, true, &abs);
                        if (q >= 0) {
                                q = read_file_limited(abs, MAX_SECRET_SIZE, &data, &len);
                                if (q < 0)
                                        error_at(p, fval, "cannot read secret file %s: %s",
                                                 abs, strerror(-q));
                        }
                        if (q >= 0) {
                                while (len > 0 &&
                                       (data[len - 1] == '\n' || data[len - 1] == '\r'))
                                        data[--len] = 0;
                                if (strlen(data) != len) {
                                        error_at(p, fval, "secret file %s contains a NUL byte",
                                                 abs);
                                        free(data);
                                        q = -EINVAL;
                                } else {
                                        v->str = data;
                                        v->set = 1;
                                }
                        }
                        if (q < 0)
                                r = q;
                        continue;
                }
                if (val.n && !is_null(val)) {
                        if (o->type == EARSHOT_OPT_STRLIST) {
                                char **l;
                                q = get_strlist(p, val, o->name, &l);
                                if (q >= 0) {
                                        if (!l[0]) {
                                                error_at(p, val, "option '%s' must not be empty",
                                                         o->name);
                                                strv_free(l);
                                                q = -EINVAL;
                                        } else {
                                                v->list = (const char *const *)l;
                                                v->n_list = strv_length(l);
                                                v->set = 1;
                                        }
                                }
                        } else {
                                char *s;
                                q = get_string(p, val, o->name, &s);
                                if (q >= 0) {
                                        q = option_value(p, val, o, s, v);
                                        if (q < 0 && v->str == s) {
                                                free(s);
                                                v->str = NULL;
                                        }
                                        v->set = q >= 0;
                                }
                        }
                        if (q < 0)
                                r = q;
                        continue;
                }
                if (o->flags & EARSHOT_OPT_REQUIRED) {
                        error_at(p, map, "%s: missing required option '%s'%s", section, o->name,
                                 o->flags & EARSHOT_OPT_SECRET ? " (or its _file form)" : "");
                        r = -EINVAL;
                        continue;
                }
                if (o->def) {
                        if (o->type == EARSHOT_OPT_STRLIST) {
                                char **l = NULL;
                                if (strv_extend(&l, o->def) < 0)
                                        return -ENOMEM;
                                v->list = (const char *const *)l;
                                v->n_list = 1;
                                v->set = 1;
                        } else {
                                char *s = strdup(o->def);
                                if (!s)
                                        return -ENOMEM;
                                q = option_value(p, map, o, s, v);
                                if (q < 0) {
                                        if (v->str == s)
                                                free(s);
                                        v->str = NULL;
                                        r = q;
                                } else
                                        v->set = 1;
                        }
                }
        }
        if (r < 0) {
                values_done(&pv);
                return r;
        }
        *ret = pv;
        return 0;
}

/* ---- sections ---------------------------------------------------------------------------- */

static bool name_valid(const char *s) {
        if (isempty(s) || strlen(s) > 100)
                return false;
        for (const char *c = s; *c; c++)
                if (!(isalnum((unsigned char)*c) || strchr("-_.", *c)))
                        return false;
        return true;
}

static int get_name(Parser *p, Node map, Node n, const char *what, char **ret) {
        _cleanup_free_ char *s = NULL;
        if (!n.n) {
                error_at(p, map, "%s needs a 'name'", what);
                return -EINVAL;
        }
        int r = get_string(p, n, "name", &s);
        if (r < 0)
                return r;
        if (!name_valid(s)) {
                error_at(p, n, "invalid %s name '%s' (letters, digits, '-', '_', '.')", what, s);
                return -EINVAL;
        }
        *ret = TAKE_PTR(s);
        return 0;
}

static const KeyDef source_core_keys[] = {
        {"name"}, {"type"}, {"enabled"}, {"interval"}, {"respond_within"}, {"backfill"},
};
enum { SK_NAME, SK_TYPE, SK_ENABLED, SK_INTERVAL, SK_RESPOND, SK_BACKFILL, _SK_MAX };

static const KeyDef notifier_core_keys[] = {{"name"}, {"type"}, {"enabled"}};
enum { NK_NAME, NK_TYPE, NK_ENABLED, _NK_MAX };

static const Plugin *section_plugin(Parser *p, Node map, uint32_t kind, char **ret_type) {
        Node tn = {.n = NULL};
        const Plugin *plugin = NULL;
        char err[768];

        *ret_type = NULL;
        if (map.n && map.n->type == YAML_MAPPING_NODE)
                for (yaml_node_pair_t *pair = map.n->data.mapping.pairs.start;
                     pair < map.n->data.mapping.pairs.top; pair++) {
                        Node k = node_child(map, pair->key);
                        if (is_scalar(k) && strcmp(scalar_raw(k), "type") == 0)
                                tn = node_child(map, pair->value);
                }
        if (!map.n || map.n->type != YAML_MAPPING_NODE)
                return NULL;
        if (!tn.n) {
                error_at(p, map, "%s needs a 'type' (e.g. %s)",
                         kind == EARSHOT_PLUGIN_SOURCE ? "a source" : "a notifier",
                         kind == EARSHOT_PLUGIN_SOURCE ? "mastodon" : "webhook");
                return NULL;
        }
        if (get_string(p, tn, "type", ret_type) < 0)
                return NULL;
        int r = plugin_registry_get(p->registry, p->plugin_dir, kind, *ret_type, &plugin, err,
                                    sizeof(err));
        if (r < 0) {
                error_at(p, tn, "%s", err);
                return NULL;
        }
        return plugin;
}

static void source_done(SourceConfig *s) {
        free(s->name);
        free(s->type);
        values_done(&s->values);
}

static void notifier_done(NotifierConfig *n) {
        free(n->name);
        free(n->type);
        values_done(&n->values);
}

static int parse_source(Parser *p, Node map, SourceConfig *s) {
        Node v[_SK_MAX];
        char section[160];
        int r = 0;
        const Plugin *plugin = section_plugin(p, map, EARSHOT_PLUGIN_SOURCE, &s->type);

        s->interval = p->cfg->default_interval;
        s->backfill = p->cfg->default_backfill;
        s->enabled = true;
        s->pos = node_pos(map);
        if (!map.n || map.n->type != YAML_MAPPING_NODE) {
                error_at(p, map, "a source must be a mapping (name:, type:, ...), not %s",
                         node_kind(map));
                return -EINVAL;
        }
        snprintf(section, sizeof(section), "source (%s)", s->type ? s->type : "?");
        r = plugin_section(p, map, section, plugin, source_core_keys, _SK_MAX, v, &s->values);
        s->plugin = plugin;
        if (get_name(p, map, v[SK_NAME], "source", &s->name) < 0)
                r = -EINVAL;
        if (v[SK_ENABLED].n && get_bool(p, v[SK_ENABLED], "enabled", &s->enabled) < 0)
                r = -EINVAL;
        if (v[SK_INTERVAL].n) {
                if (get_duration(p, v[SK_INTERVAL], "interval", &s->interval) < 0)
                        r = -EINVAL;
                else if (s->interval < 100 * USEC_PER_MSEC) {
                        error_at(p, v[SK_INTERVAL], "interval must be at least 100ms");
                        r = -EINVAL;
                }
        }
        if (v[SK_RESPOND].n &&
            get_duration(p, v[SK_RESPOND], "respond_within", &s->respond_within) < 0)
                r = -EINVAL;
        if (v[SK_BACKFILL].n && get_duration(p, v[SK_BACKFILL], "backfill", &s->backfill) < 0)
                r = -EINVAL;
        return r;
}

static int parse_notifier(Parser *p, Node map, NotifierConfig *n) {
        Node v[_NK_MAX];
        char section[160];
        int r;
        const Plugin *plugin = section_plugin(p, map, EARSHOT_PLUGIN_NOTIFIER, &n->type);

        n->enabled = true;
        n->pos = node_pos(map);
        if (!map.n || map.n->type != YAML_MAPPING_NODE) {
                error_at(p, map, "a notifier must be a mapping (name:, type:, ...), not %s",
                         node_kind(map));
                return -EINVAL;
        }
        snprintf(section, sizeof(section), "notifier (%s)", n->type ? n->type : "?");
        r = plugin_section(p, map, section, plugin, notifier_core_keys, _NK_MAX, v, &n->values);
        n->plugin = plugin;
        if (get_name(p, map, v[NK_NAME], "notifier", &n->name) < 0)
                r = -EINVAL;
        if (v[NK_ENABLED].n && get_bool(p, v[NK_ENABLED], "enabled", &n->enabled) < 0)
                r = -EINVAL;
        return r;
}

static const KeyDef brand_keys[] = {{"name"}, {"terms"}, {"exclude"}};
enum { BK_NAME, BK_TERMS, BK_EXCLUDE, _BK_MAX };

static int parse_brand(Parser *p, Node map, BrandConfig *b) {
        Node v[_BK_MAX];
        int r = map_keys(p, map, "brand", brand_keys, _BK_MAX, v);
        b->pos = node_pos(map);
        if (r < 0 && (!map.n || map.n->type != YAML_MAPPING_NODE))
                return r;
        if (get_name(p, map, v[BK_NAME], "brand", &b->name) < 0)
                r = -EINVAL;
        if (!v[BK_TERMS].n || is_null(v[BK_TERMS])) {
                error_at(p, map, "brand needs 'terms' (its names, products, #hashtags, ...)");
                r = -EINVAL;
        } else if (get_termlist(p, v[BK_TERMS], "terms", &b->terms) < 0)
                r = -EINVAL;
        else if (b->terms.n == 0) {
                error_at(p, v[BK_TERMS], "brand 'terms' must not be empty");
                r = -EINVAL;
        }
        if (get_termlist(p, v[BK_EXCLUDE], "exclude", &b->exclude) < 0)
                r = -EINVAL;
        return r;
}

static const KeyDef rule_keys[] = {{"name"}, {"description"}, {"brand"}, {"any"}, {"none"},
                                   {"severity"}, {"respond_within"}};
enum { RK_NAME, RK_DESCRIPTION, RK_BRAND, RK_ANY, RK_NONE, RK_SEVERITY, RK_RESPOND, _RK_MAX };

static int parse_rule(Parser *p, Node map, RuleConfig *rule) {
        Node v[_RK_MAX];
        int r = map_keys(p, map, "rule", rule_keys, _RK_MAX, v);
        rule->pos = node_pos(map);
        rule->severity = SEVERITY_NORMAL;
        if (r < 0 && (!map.n || map.n->type != YAML_MAPPING_NODE))
                return r;
        if (get_name(p, map, v[RK_NAME], "rule", &rule->name) < 0)
                r = -EINVAL;
        if (v[RK_DESCRIPTION].n && !is_scalar(v[RK_DESCRIPTION])) {
                error_at(p, v[RK_DESCRIPTION], "description must be a string");
                r = -EINVAL;
        }
        if (v[RK_BRAND].n && !is_null(v[RK_BRAND])) {
                _cleanup_strv_free_ char **names = NULL;
                if (get_strlist(p, v[RK_BRAND], "brand", &names) < 0)
                        r = -EINVAL;
                else if (!(names[0] && !names[1] && strcmp(names[0], "any") == 0)) {
                        size_t n = strv_length(names);
                        rule->brands = calloc(n ? n : 1, sizeof(size_t));
                        if (!rule->brands)
                                return -ENOMEM;
                        for (size_t i = 0; i < n; i++) {
                                size_t j;
                                for (j = 0; j < p->cfg->n_brands; j++)
                                        if (p->cfg->brands[j].name &&
                                            strcmp(p->cfg->brands[j].name, names[i]) == 0)
                                                break;
                                if (j == p->cfg->n_brands) {
                                        error_at(p, v[RK_BRAND],
                                                 "rule refers to unknown brand '%s'", names[i]);
                                        r = -EINVAL;
                                        continue;
                                }
                                rule->brands[rule->n_brands++] = j;
                        }
                }
        }
        if (get_termlist(p, v[RK_ANY], "any", &rule->any) < 0)
                r = -EINVAL;
        if (get_termlist(p, v[RK_NONE], "none", &rule->none) < 0)
                r = -EINVAL;
        if (v[RK_SEVERITY].n) {
                _cleanup_free_ char *s = NULL;
                if (get_string(p, v[RK_SEVERITY], "severity", &s) < 0)
                        r = -EINVAL;
                else if ((rule->severity = severity_from_string(s)) < 0) {
                        error_at(p, v[RK_SEVERITY],
                                 "invalid severity '%s' (low, normal, high, critical)", s);
                        rule->severity = SEVERITY_NORMAL;
                        r = -EINVAL;
                }
        }
        if (v[RK_RESPOND].n &&
            get_duration(p, v[RK_RESPOND], "respond_within", &rule->respond_within) < 0)
                r = -EINVAL;
        if (rule->n_brands == 0 && !rule->brands && rule->any.n == 0 && p->cfg->n_brands == 0) {
                error_at(p, map, "rule '%s' has neither a brand nor 'any' terms: it would match "
                                 "every post",
                         strna(rule->name));
                r = -EINVAL;
        }
        return r;
}

/* ---- files and the top level --------------------------------------------------------------- */

static int load_document(Parser *p, const char *path, Node *ret) {
        _cleanup_free_ char *data = NULL;
        size_t len;
        yaml_parser_t parser;
        int r;

        r = read_file_limited(path, MAX_CONFIG_FILE_SIZE, &data, &len);
        if (r < 0) {
                char msg[PATH_MAX + 128];
                snprintf(msg, sizeof(msg), "%s: cannot read: %s", path,
                         r == -EFBIG ? "file too large" : strerror(-r));
                p->n_errors++;
                if (p->on_error)
                        p->on_error(msg, p->userdata);
                return r;
        }
        if (strv_extend(&p->cfg->files, path) < 0)
                return -ENOMEM;
        const char *file = p->cfg->files[strv_length(p->cfg->files) - 1];

        yaml_document_t *doc = calloc(1, sizeof(*doc));
        yaml_document_t **docs = realloc(p->docs, sizeof(*docs) * (p->n_docs + 1));
        if (!doc || !docs) {
                free(doc);
                if (docs)
                        p->docs = docs;
                return -ENOMEM;
        }
        p->docs = docs;
        if (!yaml_parser_initialize(&parser)) {
                free(doc);
                return -ENOMEM;
        }
        yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
        if (!yaml_parser_load(&parser, doc)) {
                char msg[PATH_MAX + 512];
                snprintf(msg, sizeof(msg), "%s:%zu:%zu: YAML syntax error: %s%s%s", file,
                         parser.problem_mark.line + 1, parser.problem_mark.column + 1,
                         parser.problem ? parser.problem : "unknown problem",
                         parser.context ? " " : "", parser.context ? parser.context : "");
                p->n_errors++;
                if (p->on_error)
                        p->on_error(msg, p->userdata);
                yaml_parser_delete(&parser);
                free(doc);
                return -EINVAL;
        }
        yaml_parser_delete(&parser);
        p->docs[p->n_docs++] = doc;
        *ret = (Node){.doc = doc, .n = yaml_document_get_root_node(doc), .file = file};
        return 0;
}

static const KeyDef top_keys[] = {
        {"state_dir"}, {"plugin_dir"}, {"log_level"}, {"defaults"}, {"http"},
        {"delivery"},  {"store"},      {"include"},   {"sources"},  {"notifiers"},
        {"brands"},    {"rules"},
};
enum {
        TK_STATE_DIR, TK_PLUGIN_DIR, TK_LOG_LEVEL, TK_DEFAULTS, TK_HTTP, TK_DELIVERY, TK_STORE,
        TK_INCLUDE, TK_SOURCES, TK_NOTIFIERS, TK_BRANDS, TK_RULES, _TK_MAX
};

static const KeyDef include_keys[] = {{"sources"}, {"notifiers"}, {"brands"}, {"rules"}};
enum { IK_SOURCES, IK_NOTIFIERS, IK_BRANDS, IK_RULES, _IK_MAX };

static const KeyDef defaults_keys[] = {{"respond_within"}, {"backfill"}, {"interval"}};
static const KeyDef http_keys[] = {{"timeout"}, {"connect_timeout"}, {"max_response_size"},
                                   {"user_agent"}};
static const KeyDef delivery_keys[] = {{"retry_initial"}, {"retry_max"}};
static const KeyDef store_keys[] = {{"seen_retention"}};

/* The list sections of every file, in file order. */
typedef struct Lists {
        Node *items[_IK_MAX];
        size_t n[_IK_MAX];
} Lists;

static int lists_add(Parser *p, Lists *l, int which, Node section, const char *what) {
        yaml_node_item_t *a, *b;
        if (!section.n)
                return 0;
        if (sequence_items(p, section, what, &a, &b) < 0)
                return -EINVAL;
        for (; a < b; a++) {
                Node *nl = realloc(l->items[which], sizeof(Node) * (l->n[which] + 1));
                if (!nl)
                        return -ENOMEM;
                l->items[which] = nl;
                nl[l->n[which]++] = node_child(section, *a);
        }
        return 0;
}

static int process_includes(Parser *p, Node inc, Lists *lists) {
        _cleanup_strv_free_ char **patterns = NULL;
        size_t n_files = 0;
        int r = 0;

        if (is_null(inc))
                return 0;
        if (get_strlist(p, inc, "include", &patterns) < 0)
                return -EINVAL;
        STRV_FOREACH(pat, patterns) {
                _cleanup_free_ char *abs = NULL;
                glob_t g = {};
                if (resolve_path(p->cfg, *pat, false, &abs) < 0)
                        return -ENOMEM;
                int gr = glob(abs, 0, NULL, &g);
                if (gr == GLOB_NOMATCH || (gr == GLOB_ABORTED && strpbrk(*pat, "*?["))) {
                        /* a pattern with wildcards may match nothing; a plain file must exist */
                        if (!strpbrk(*pat, "*?[")) {
                                error_at(p, inc, "included file %s does not exist", abs);
                                r = -ENOENT;
                        }
                        globfree(&g);
                        continue;
                }
                if (gr != 0) {
                        error_at(p, inc, "cannot expand include pattern '%s'", *pat);
                        globfree(&g);
                        r = -EINVAL;
                        continue;
                }
                for (size_t i = 0; i < g.gl_pathc; i++) {
                        Node root;
                        if (++n_files > MAX_INCLUDED_FILES) {
                                error_at(p, inc, "more than %d included files",
                                         MAX_INCLUDED_FILES);
                                globfree(&g);
                                return -E2BIG;
                        }
                        if (strv_contains(p->cfg->files, g.gl_pathv[i]))
                                continue; /* the main file itself, or included twice */
                        int k = load_document(p, g.gl_pathv[i], &root);
                        if (k == -ENOMEM) {
                                globfree(&g);
                                return k;
                        }
                        if (k < 0) {
                                r = k;
                                continue;
                        }
                        if (is_null(root))
                                continue; /* an empty rules file is fine */
                        Node v[_IK_MAX];
                        if (map_keys(p, root, "an included file", include_keys, _IK_MAX, v) < 0)
                                r = -EINVAL;
                        if (lists_add(p, lists, IK_SOURCES, v[IK_SOURCES], "sources") < 0 ||
                            lists_add(p, lists, IK_NOTIFIERS, v[IK_NOTIFIERS], "notifiers") < 0 ||
                            lists_add(p, lists, IK_BRANDS, v[IK_BRANDS], "brands") < 0 ||
                            lists_add(p, lists, IK_RULES, v[IK_RULES], "rules") < 0)
                                r = -EINVAL;
                }
                globfree(&g);
        }
        return r;
}

static int parse_globals(Parser *p, Node *v) {
        Config *c = p->cfg;
        int r = 0;

        if (v[TK_STATE_DIR].n && get_string(p, v[TK_STATE_DIR], "state_dir", &c->state_dir) < 0)
                r = -EINVAL;
        if (v[TK_PLUGIN_DIR].n) {
                _cleanup_free_ char *s = NULL;
                if (get_string(p, v[TK_PLUGIN_DIR], "plugin_dir", &s) < 0)
                        r = -EINVAL;
                else if (resolve_path(c, s, false, &c->plugin_dir) < 0)
                        return -ENOMEM;
        }
        if (v[TK_LOG_LEVEL].n) {
                _cleanup_free_ char *s = NULL;
                if (get_string(p, v[TK_LOG_LEVEL], "log_level", &s) < 0)
                        r = -EINVAL;
                else if ((c->log_level = log_level_from_string(s)) < 0) {
                        error_at(p, v[TK_LOG_LEVEL],
                                 "invalid log_level '%s' (err, warning, notice, info, debug)", s);
                        r = -EINVAL;
                }
        }
        if (v[TK_DEFAULTS].n) {
                Node d[3];
                if (map_keys(p, v[TK_DEFAULTS], "defaults", defaults_keys, 3, d) < 0)
                        r = -EINVAL;
                if (d[0].n && get_duration(p, d[0], "respond_within",
                                           &c->default_respond_within) < 0)
                        r = -EINVAL;
                if (d[1].n && get_duration(p, d[1], "backfill", &c->default_backfill) < 0)
                        r = -EINVAL;
                if (d[2].n && get_duration(p, d[2], "interval", &c->default_interval) < 0)
                        r = -EINVAL;
        }
        if (v[TK_HTTP].n) {
                Node h[4];
                int64_t size;
                if (map_keys(p, v[TK_HTTP], "http", http_keys, 4, h) < 0)
                        r = -EINVAL;
                if (h[0].n && get_duration(p, h[0], "timeout", &c->http_timeout) < 0)
                        r = -EINVAL;
                if (h[1].n &&
                    get_duration(p, h[1], "connect_timeout", &c->http_connect_timeout) < 0)
                        r = -EINVAL;
                if (h[2].n) {
                        if (get_int(p, h[2], "max_response_size", 1024, INT64_C(1) << 32,
                                    &size) < 0)
                                r = -EINVAL;
                        else
                                c->max_response_size = (uint64_t)size;
                }
                if (h[3].n) {
                        free(c->user_agent);
                        c->user_agent = NULL;
                        if (get_string(p, h[3], "user_agent", &c->user_agent) < 0)
                                r = -EINVAL;
                }
        }
        if (v[TK_DELIVERY].n) {
                Node d[2];
                if (map_keys(p, v[TK_DELIVERY], "delivery", delivery_keys, 2, d) < 0)
                        r = -EINVAL;
                if (d[0].n && get_duration(p, d[0], "retry_initial", &c->retry_initial) < 0)
                        r = -EINVAL;
                if (d[1].n && get_duration(p, d[1], "retry_max", &c->retry_max) < 0)
                        r = -EINVAL;
        }
        if (v[TK_STORE].n) {
                Node d[1];
                if (map_keys(p, v[TK_STORE], "store", store_keys, 1, d) < 0)
                        r = -EINVAL;
                if (d[0].n && get_duration(p, d[0], "seen_retention", &c->seen_retention) < 0)
                        r = -EINVAL;
        }
        if (c->http_timeout == 0 || c->http_connect_timeout == 0 || c->retry_initial == 0) {
                error_at(p, v[TK_HTTP].n ? v[TK_HTTP] : v[TK_DELIVERY],
                         "timeouts and retry delays must be greater than zero");
                r = -EINVAL;
        }
        return r;
}

static int check_unique(Parser *p, const char *what, const char *name, ConfigPos pos,
                        const char *prev_name, ConfigPos prev) {
        if (!name || !prev_name || strcmp(name, prev_name) != 0)
                return 0;
        char msg[1024];
        snprintf(msg, sizeof(msg), "%s:%u:%u: duplicate %s name '%s' (first defined at %s:%u:%u)",
                 pos.file, pos.line, pos.column, what, name, prev.file, prev.line, prev.column);
        p->n_errors++;
        if (p->on_error)
                p->on_error(msg, p->userdata);
        return -EINVAL;
}

int config_load(const char *path, const char *plugin_dir_override, PluginRegistry *registry,
                ConfigErrorFunc on_error, void *userdata, Config **ret) {
        _cleanup_(config_freep) Config *c = calloc(1, sizeof(*c));
        Parser p = {.cfg = c, .on_error = on_error, .userdata = userdata, .registry = registry};
        Lists lists = {};
        Node root, v[_TK_MAX];
        int r;

        if (!c)
                return -ENOMEM;
        c->log_level = -1;
        c->default_respond_within = USEC_PER_HOUR;
        c->default_backfill = USEC_PER_HOUR;
        c->default_interval = 60 * USEC_PER_SEC;
        c->http_timeout = 30 * USEC_PER_SEC;
        c->http_connect_timeout = 10 * USEC_PER_SEC;
        c->max_response_size = 8u << 20;
        c->retry_initial = 10 * USEC_PER_SEC;
        c->retry_max = USEC_PER_HOUR;
        c->seen_retention = 30 * USEC_PER_DAY;
        c->path = strdup(path);
        /* relative paths in the config resolve against the folder of the main file */
        const char *slash = strrchr(path, '/');
        _cleanup_free_ char *dir = slash ? strndup(path, (size_t)(slash - path) + (slash == path))
                                         : strdup(".");
        if (dir)
                c->dir = realpath(dir, NULL);
        if (dir && !c->dir)
                c->dir = TAKE_PTR(dir); /* does not exist: reading the file will say so */
        c->files = calloc(1, sizeof(char *));
        c->user_agent = strdup("earshot/" PACKAGE_VERSION
                               " (+https://github.com/earshot; complaint monitor)");
        if (!c->path || !c->dir || !c->files || !c->user_agent)
                return -ENOMEM;

        r = load_document(&p, path, &root);
        if (r < 0)
                goto finish;
        if (is_null(root)) {
                error_at(&p, root, "the configuration is empty");
                r = -EINVAL;
                goto finish;
        }
        if (map_keys(&p, root, "the configuration", top_keys, _TK_MAX, v) < 0 &&
            root.n->type != YAML_MAPPING_NODE) {
                r = -EINVAL;
                goto finish;
        }
        r = parse_globals(&p, v);
        if (r == -ENOMEM)
                goto finish;
        p.plugin_dir = plugin_dir_override ? plugin_dir_override
                       : c->plugin_dir    ? c->plugin_dir
                                          : PLUGINDIR;

        if (lists_add(&p, &lists, IK_SOURCES, v[TK_SOURCES], "sources") == -ENOMEM ||
            lists_add(&p, &lists, IK_NOTIFIERS, v[TK_NOTIFIERS], "notifiers") == -ENOMEM ||
            lists_add(&p, &lists, IK_BRANDS, v[TK_BRANDS], "brands") == -ENOMEM ||
            lists_add(&p, &lists, IK_RULES, v[TK_RULES], "rules") == -ENOMEM ||
            process_includes(&p, v[TK_INCLUDE], &lists) == -ENOMEM) {
                r = -ENOMEM;
                goto finish;
        }

        c->sources = calloc(lists.n[IK_SOURCES] + 1, sizeof(SourceConfig));
        c->notifiers = calloc(lists.n[IK_NOTIFIERS] + 1, sizeof(NotifierConfig));
        c->brands = calloc(lists.n[IK_BRANDS] + 1, sizeof(BrandConfig));
        c->rules = calloc(lists.n[IK_RULES] + 1, sizeof(RuleConfig));
        if (!c->sources || !c->notifiers || !c->brands || !c->rules) {
                r = -ENOMEM;
                goto finish;
        }
        for (size_t i = 0; i < lists.n[IK_SOURCES]; i++) {
                SourceConfig *s = &c->sources[c->n_sources++];
                if (parse_source(&p, lists.items[IK_SOURCES][i], s) == -ENOMEM) {
                        r = -ENOMEM;
                        goto finish;
                }
                for (size_t j = 0; j + 1 < c->n_sources; j++)
                        (void)check_unique(&p, "source", s->name, s->pos, c->sources[j].name,
                                           c->sources[j].pos);
        }
        for (size_t i = 0; i < lists.n[IK_NOTIFIERS]; i++) {
                NotifierConfig *n = &c->notifiers[c->n_notifiers++];
                if (parse_notifier(&p, lists.items[IK_NOTIFIERS][i], n) == -ENOMEM) {
                        r = -ENOMEM;
                        goto finish;
                }
                for (size_t j = 0; j + 1 < c->n_notifiers; j++)
                        (void)check_unique(&p, "notifier", n->name, n->pos,
                                           c->notifiers[j].name, c->notifiers[j].pos);
        }
        for (size_t i = 0; i < lists.n[IK_BRANDS]; i++) {
                BrandConfig *b = &c->brands[c->n_brands++];
                if (parse_brand(&p, lists.items[IK_BRANDS][i], b) == -ENOMEM) {
                        r = -ENOMEM;
                        goto finish;
                }
                for (size_t j = 0; j + 1 < c->n_brands; j++)
                        (void)check_unique(&p, "brand", b->name, b->pos, c->brands[j].name,
                                           c->brands[j].pos);
        }
        for (size_t i = 0; i < lists.n[IK_RULES]; i++) {
                RuleConfig *rule = &c->rules[c->n_rules++];
                if (parse_rule(&p, lists.items[IK_RULES][i], rule) == -ENOMEM) {
                        r = -ENOMEM;
                        goto finish;
                }
                for (size_t j = 0; j + 1 < c->n_rules; j++)
                        (void)check_unique(&p, "rule", rule->name, rule->pos, c->rules[j].name,
                                           c->rules[j].pos);
        }
        r = p.n_errors > 0 ? -EINVAL : 0;

finish:
        for (int i = 0; i < _IK_MAX; i++)
                free(lists.items[i]);
        for (size_t i = 0; i < p.n_docs; i++) {
                yaml_document_delete(p.docs[i]);
                free(p.docs[i]);
        }
        free(p.docs);
        if (r == 0 && p.n_errors > 0)
                r = -EINVAL;
        if (r < 0)
                return r;
        *ret = TAKE_PTR(c);
        return 0;
}

Config *config_free(Config *c) {
        if (!c)
                return NULL;
        for (size_t i = 0; i < c->n_sources; i++)
                source_done(&c->sources[i]);
        for (size_t i = 0; i < c->n_notifiers; i++)
                notifier_done(&c->notifiers[i]);
        for (size_t i = 0; i < c->n_brands; i++) {
                free(c->brands[i].name);
                termlist_done(&c->brands[i].terms);
                termlist_done(&c->brands[i].exclude);
        }
        for (size_t i = 0; i < c->n_rules; i++) {
                free(c->rules[i].name);
                free(c->rules[i].brands);
                termlist_done(&c->rules[i].any);
                termlist_done(&c->rules[i].none);
        }
        free(c->sources);
        free(c->notifiers);
        free(c->brands);
        free(c->rules);
        free(c->path);
        free(c->dir);
        strv_free(c->files);
        free(c->state_dir);
        free(c->plugin_dir);
        free(c->user_agent);
        free(c);
        return NULL;
}

usec_t config_respond_within(const Config *c, const RuleConfig *rule, const SourceConfig *src) {
        if (rule && rule->respond_within > 0)
                return rule->respond_within;
        if (src && src->respond_within > 0)
                return src->respond_within;
        return c->default_respond_within;
}

static void dump_values(const PluginValues *pv, const Plugin *plugin, FILE *f) {
        for (size_t i = 0; i < pv->n; i++) {
                const struct earshot_value *v = &pv->v[i];
                const struct earshot_option *o = &plugin->desc->options[i];
                if (!v->set)
                        continue;
                fprintf(f, "      %s: ", v->name);
                if (o->flags & EARSHOT_OPT_SECRET)
                        fputs("***", f);
                else if (v->type == EARSHOT_OPT_STRLIST)
                        for (size_t j = 0; j < v->n_list; j++)
                                fprintf(f, "%s%s", j ? ", " : "", v->list[j]);
                else
                        fputs(v->str ? v->str : "", f);
                fputc('\n', f);
        }
}

void config_dump_summary(const Config *c, FILE *f) {
        char b1[32], b2[32], b3[32];

        fprintf(f, "%s: configuration is valid (%zu file%s read)\n", c->path,
                strv_length(c->files), strv_length(c->files) == 1 ? "" : "s");
        fprintf(f, "  defaults: respond_within %s, backfill %s, interval %s\n",
                format_duration(b1, sizeof(b1), c->default_respond_within),
                format_duration(b2, sizeof(b2), c->default_backfill),
                format_duration(b3, sizeof(b3), c->default_interval));
        fprintf(f, "  sources: %zu\n", c->n_sources);
        for (size_t i = 0; i < c->n_sources; i++) {
                const SourceConfig *s = &c->sources[i];
                fprintf(f, "    %s (%s)%s every %s, respond within %s\n", s->name, s->type,
                        s->enabled ? "" : " [disabled]",
                        format_duration(b1, sizeof(b1), s->interval),
                        format_duration(b2, sizeof(b2), config_respond_within(c, NULL, s)));
                dump_values(&s->values, s->plugin, f);
        }
        fprintf(f, "  notifiers: %zu\n", c->n_notifiers);
        for (size_t i = 0; i < c->n_notifiers; i++) {
                const NotifierConfig *n = &c->notifiers[i];
                fprintf(f, "    %s (%s)%s\n", n->name, n->type, n->enabled ? "" : " [disabled]");
                dump_values(&n->values, n->plugin, f);
        }
        fprintf(f, "  brands: %zu\n", c->n_brands);
        for (size_t i = 0; i < c->n_brands; i++)
                fprintf(f, "    %s: %zu terms, %zu exclusions\n", c->brands[i].name,
                        c->brands[i].terms.n, c->brands[i].exclude.n);
        fprintf(f, "  rules: %zu\n", c->n_rules);
        for (size_t i = 0; i < c->n_rules; i++) {
                const RuleConfig *r = &c->rules[i];
                fprintf(f, "    %s [%s] %zu any, %zu none, respond within %s (%s:%u)\n", r->name,
                        severity_to_string(r->severity), r->any.n, r->none.n,
                        format_duration(b1, sizeof(b1), config_respond_within(c, r, NULL)),
                        r->pos.file, r->pos.line);
        }
}
