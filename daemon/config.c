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
#include <strings.h>
#include <unistd.h>
#include <yaml.h>

#include "conf-parse.h"
#include "config.h"
#include "earshot-build.h"
#include "log.h"
#include "plugin.h"
#include "routes.h"
#include "rules.h"
#include "util/cleanup.h"
#include "util/strv.h"

#define MAX_CONFIG_FILE_SIZE (4u << 20)
#define MAX_INCLUDED_FILES 256
#define MAX_SECRET_SIZE (64u << 10)
#define MAX_ESCALATION_POLICIES 64
#define MAX_ESCALATION_STEPS 16

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
        {"silent_after"}, {"network_class"},
};
enum {
        SK_NAME, SK_TYPE, SK_ENABLED, SK_INTERVAL, SK_RESPOND, SK_BACKFILL, SK_SILENT, SK_CLASS,
        _SK_MAX
};

static const KeyDef notifier_core_keys[] = {{"name"}, {"type"}, {"enabled"}, {"min_interval"}};
enum { NK_NAME, NK_TYPE, NK_ENABLED, NK_MIN_INTERVAL, _NK_MAX };

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
        s->silent_after = p->cfg->default_silent_after;
        s->network_class = _NETWORK_CLASS_INVALID;
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
        if (v[SK_SILENT].n &&
            get_duration(p, v[SK_SILENT], "silent_after", &s->silent_after) < 0)
                r = -EINVAL;
        if (v[SK_CLASS].n) {
                _cleanup_free_ char *t = NULL;
                if (get_string(p, v[SK_CLASS], "network_class", &t) < 0)
                        r = -EINVAL;
                else if ((s->network_class = network_class_from_string(t)) < 0) {
                        error_at(p, v[SK_CLASS],
                                 "invalid network_class '%s' (social, forum, review)", t);
                        r = -EINVAL;
                }
        }
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
        /* the receiver's documented rate, as the plugin knows it, unless the config says */
        if (plugin && plugin->desc->notifier &&
            EARSHOT_NOTIFIER_HAS(plugin->desc->notifier, min_interval_usec) &&
            plugin->desc->notifier->min_interval_usec > 0)
                n->min_interval = (usec_t)plugin->desc->notifier->min_interval_usec;
        if (v[NK_MIN_INTERVAL].n) {
                if (get_duration(p, v[NK_MIN_INTERVAL], "min_interval", &n->min_interval) < 0)
                        r = -EINVAL;
                else if (n->min_interval > USEC_PER_HOUR) {
                        error_at(p, v[NK_MIN_INTERVAL], "min_interval: at most 1h");
                        r = -EINVAL;
                }
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
        {"state_dir"}, {"plugin_dir"}, {"log_level"},       {"defaults"},   {"http"},
        {"delivery"},  {"store"},      {"include"},         {"sources"},    {"notifiers"},
        {"brands"},    {"rules"},      {"matching"},        {"watch_config"},
        {"priority"},  {"grouping"},   {"network_classes"}, {"escalation"}, {"retention"},
        {"routes"},
};
enum {
        TK_STATE_DIR, TK_PLUGIN_DIR, TK_LOG_LEVEL, TK_DEFAULTS, TK_HTTP, TK_DELIVERY, TK_STORE,
        TK_INCLUDE, TK_SOURCES, TK_NOTIFIERS, TK_BRANDS, TK_RULES, TK_MATCHING, TK_WATCH,
        TK_PRIORITY, TK_GROUPING, TK_CLASSES, TK_ESCALATION, TK_RETENTION, TK_ROUTES, _TK_MAX
};

static const KeyDef include_keys[] = {{"sources"}, {"notifiers"}, {"brands"}, {"rules"}};
enum { IK_SOURCES, IK_NOTIFIERS, IK_BRANDS, IK_RULES, _IK_MAX };

static const KeyDef defaults_keys[] = {{"respond_within"}, {"backfill"}, {"interval"},
                                       {"silent_after"}};
static const KeyDef http_keys[] = {{"timeout"},      {"connect_timeout"}, {"max_response_size"},
                                   {"user_agent"},   {"max_per_host"},    {"host_spacing"},
                                   {"ca_file"}};
static const KeyDef delivery_keys[] = {{"retry_initial"}, {"retry_max"}, {"max_age"}};
static const KeyDef store_keys[] = {{"seen_retention"}};
static const KeyDef class_keys[] = {{"respond_within"}, {"networks"}};
static const KeyDef priority_keys[] = {{"severity"}, {"reach"}, {"engagement"}};
static const KeyDef grouping_keys[] = {{"threads"}, {"copies_window"}};
static const KeyDef retention_keys[] = {{"alerts"}, {"outbox"}, {"seen"}};
static const KeyDef escalation_keys[] = {{"policies"}, {"by_severity"}};
static const KeyDef step_keys[] = {{"at"}, {"notify"}, {"stop_on"}};

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

/* Load one included file and collect its list sections. */
static int include_file(Parser *p, Node inc, const char *path, Lists *lists) {
        Node root;
        int r = 0;

        if (strv_contains(p->cfg->files, path))
                return 0; /* the main file itself, or included twice */
        int k = load_document(p, path, &root);
        if (k < 0)
                return k;
        if (is_null(root))
                return 0; /* an empty rules file is fine */
        Node v[_IK_MAX];
        if (map_keys(p, root, "an included file", include_keys, _IK_MAX, v) < 0)
                r = -EINVAL;
        if (lists_add(p, lists, IK_SOURCES, v[IK_SOURCES], "sources") < 0 ||
            lists_add(p, lists, IK_NOTIFIERS, v[IK_NOTIFIERS], "notifiers") < 0 ||
            lists_add(p, lists, IK_BRANDS, v[IK_BRANDS], "brands") < 0 ||
            lists_add(p, lists, IK_RULES, v[IK_RULES], "rules") < 0)
                r = -EINVAL;
        (void)inc;
        return r;
}

/* The override (earshotctl backtest --rules) standing in for an included file, if any. */
static const char *override_for(Parser *p, const char *path) {
        const char *base = strrchr(path, '/');
        base = base ? base + 1 : path;
        for (size_t i = 0; p->overrides && p->overrides[i]; i++) {
                const char *ob = strrchr(p->overrides[i], '/');
                ob = ob ? ob + 1 : p->overrides[i];
                if (strcmp(ob, base) == 0) {
                        p->overrides_used[i] = true;
                        return p->overrides[i];
                }
        }
        return NULL;
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
                /* the folder the pattern looks in, so a new file there can be noticed */
                const char *slash = strrchr(abs, '/');
                if (slash && slash > abs) {
                        _cleanup_free_ char *dir = strndup(abs, (size_t)(slash - abs));
                        if (!dir)
                                return -ENOMEM;
                        if (!strpbrk(dir, "*?[") && !strv_contains(p->cfg->include_dirs, dir) &&
                            strv_extend(&p->cfg->include_dirs, dir) < 0)
                                return -ENOMEM;
                }
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
                        if (++n_files > MAX_INCLUDED_FILES) {
                                error_at(p, inc, "more than %d included files",
                                         MAX_INCLUDED_FILES);
                                globfree(&g);
                                return -E2BIG;
                        }
                        const char *ov = override_for(p, g.gl_pathv[i]);
                        int k = include_file(p, inc, ov ? ov : g.gl_pathv[i], lists);
                        if (k == -ENOMEM) {
                                globfree(&g);
                                return k;
                        }
                        if (k < 0)
                                r = k;
                }
                globfree(&g);
        }
        return r;
}

/* ---- the alert queue: targets, priority, grouping, retention, escalation ------------------ */

/*
 * `network_classes:`. A class that sets no respond_within keeps the shipped default (1h social,
 * 24h forum and review), unless defaults.respond_within was written: then that stands for the
 * classes not set here, as it did before there were classes.
 */
static int parse_network_classes(Parser *p, Node n, bool explicit_default) {
        Config *c = p->cfg;
        KeyDef names[_NETWORK_CLASS_MAX];
        Node v[_NETWORK_CLASS_MAX];
        bool set[_NETWORK_CLASS_MAX] = {};
        int r = 0;

        for (int i = 0; i < _NETWORK_CLASS_MAX; i++) {
                names[i].key = network_class_to_string((NetworkClass)i);
                v[i] = (Node){.n = NULL};
        }
        if (!is_null(n) && map_keys(p, n, "network_classes", names, _NETWORK_CLASS_MAX, v) < 0)
                r = -EINVAL;
        for (int i = 0; i < _NETWORK_CLASS_MAX; i++) {
                NetworkClassConfig *nc = &c->network_classes[i];
                char section[64];
                Node cv[2];

                if (is_null(v[i]))
                        continue;
                snprintf(section, sizeof(section), "network_classes: %s", names[i].key);
                if (map_keys(p, v[i], section, class_keys, ELEMENTSOF(class_keys), cv) < 0)
                        r = -EINVAL;
                if (cv[0].n) {
                        if (get_duration(p, cv[0], "respond_within", &nc->respond_within) < 0)
                                r = -EINVAL;
                        set[i] = true;
                }
                if (!cv[1].n)
                        continue;
                int k = network_list_parse(p, cv[1], &nc->networks);
                if (k == -ENOMEM)
                        return k;
                if (k < 0) {
                        r = k;
                        continue;
                }
                /* a network belongs to one class */
                STRV_FOREACH(net, nc->networks)
                        for (int j = 0; j < i; j++)
                                if (strv_contains(c->network_classes[j].networks, *net)) {
                                        error_at(p, list_item_named(cv[1], *net),
                                                 "network '%s' is already in class '%s'", *net,
                                                 names[j].key);
                                        r = -EINVAL;
                                }
        }
        for (int i = 0; i < _NETWORK_CLASS_MAX; i++)
                if (!set[i])
                        c->network_classes[i].respond_within =
                                explicit_default ? 0
                                                 : network_class_default_target((NetworkClass)i);
        return r;
}

static int parse_priority(Parser *p, Node n) {
        PriorityWeights *w = &p->cfg->priority;
        double *dst[] = {&w->severity, &w->reach, &w->engagement};
        Node v[ELEMENTSOF(priority_keys)];
        int r = map_keys(p, n, "priority", priority_keys, ELEMENTSOF(priority_keys), v);

        for (size_t i = 0; i < ELEMENTSOF(priority_keys); i++)
                if (v[i].n && get_number(p, v[i], priority_keys[i].key, 0, 1000, dst[i]) < 0)
                        r = -EINVAL;
        if (r == 0 && w->severity == 0 && w->reach == 0 && w->engagement == 0)
                warn_at(p, n, "every priority weight is 0: alerts due at the same time come in "
                              "no particular order");
        return r;
}

static int parse_grouping(Parser *p, Node n) {
        Config *c = p->cfg;
        Node v[ELEMENTSOF(grouping_keys)];
        int r = map_keys(p, n, "grouping", grouping_keys, ELEMENTSOF(grouping_keys), v);

        if (v[0].n && get_bool(p, v[0], "threads", &c->group_threads) < 0)
                r = -EINVAL;
        if (v[1].n && get_duration(p, v[1], "copies_window", &c->group_copies_window) < 0)
                r = -EINVAL;
        if (r == 0 && v[1].n && c->group_copies_window > c->seen_retention) {
                char b1[32], b2[32];
                warn_at(p, v[1],
                        "copies_window %s is longer than retention: seen (%s): posts are "
                        "forgotten before the window ends",
                        format_duration(b1, sizeof(b1), c->group_copies_window),
                        format_duration(b2, sizeof(b2), c->seen_retention));
        }
        return r;
}

/* `retention:`; store_seen is store.seen_retention, the older spelling of retention.seen */
static int parse_retention(Parser *p, Node n, Node store_seen) {
        Config *c = p->cfg;
        Node v[ELEMENTSOF(retention_keys)];
        int r = map_keys(p, n, "retention", retention_keys, ELEMENTSOF(retention_keys), v);

        if (v[0].n && get_duration(p, v[0], "alerts", &c->alert_retention) < 0)
                r = -EINVAL;
        if (v[1].n && get_duration(p, v[1], "outbox", &c->outbox_retention) < 0)
                r = -EINVAL;
        if (v[2].n && store_seen.n) {
                error_at(p, v[2],
                         "retention: seen and store: seen_retention (line %u) are the same "
                         "setting: keep only retention: seen",
                         node_line(store_seen));
                r = -EINVAL;
        } else if (v[2].n && get_duration(p, v[2], "seen", &c->seen_retention) < 0)
                r = -EINVAL;
        return r;
}

static void policy_done(EscalationPolicy *pol) {
        for (size_t i = 0; i < pol->n_steps; i++)
                strv_free(pol->steps[i].notify);
        free(pol->steps);
        free(pol->name);
}

/* `at:` a share of the target (50%), or a duration after the post was written (45m). */
static int parse_step_at(Parser *p, Node n, EscalationStep *s) {
        _cleanup_free_ char *t = NULL;
        usec_t d;
        double v;
        int r = get_string(p, n, "at", &t);
        if (r < 0)
                return r;
        size_t len = strlen(t);
        if (len > 0 && t[len - 1] == '%') {
                t[len - 1] = 0;
                if (parse_number_str(t, &v) < 0 || v < 1 || v > 1000) {
                        error_at(p, n, "at: '%s%%' is not a share of the target from 1%% to "
                                       "1000%%",
                                 t);
                        return -EINVAL;
                }
                s->fraction = v / 100.0;
                return 0;
        }
        if (parse_duration(t, &d) < 0 || d == 0 || d > 365 * USEC_PER_DAY) {
                error_at(p, n,
                         "invalid at '%s': a share of the response target (1%% to 1000%%, e.g. "
                         "50%%) or a time after the post was written (e.g. 45m, up to 365d)",
                         t);
                return -EINVAL;
        }
        s->offset = d;
        return 0;
}

/* `notify:` names of configured routes or notifiers (a route wins over a notifier of the same
 * name). */
static int parse_step_notify(Parser *p, Node n, const char *const *names, EscalationStep *s) {
        const Config *c = p->cfg;
        _cleanup_strv_free_ char **l = NULL;
        int r = 0;

        if (get_strlist(p, n, "notify", &l) < 0)
                return -EINVAL;
        if (!l[0]) {
                error_at(p, n, "notify: names no notifier (leave it out to notify every enabled "
                               "notifier)");
                return -EINVAL;
        }
        STRV_FOREACH(name, l) {
                Node at = list_item_named(n, *name);
                size_t i;
                if (config_route(c, *name))
                        continue;
                for (i = 0; i < c->n_notifiers; i++)
                        if (strcmp(names[i], *name) == 0)
                                break;
                if (i < c->n_notifiers) {
                        if (!c->notifiers[i].enabled)
                                warn_at(p, at, "notifier '%s' is disabled: this step does not "
                                               "reach it",
                                        *name);
                        continue;
                }
                const char *best = closest_word(*name, names, c->n_notifiers);
                if (best)
                        error_at(p, at, "unknown notifier '%s' (did you mean '%s'?)", *name,
                                 best);
                else
                        error_at(p, at, "unknown route or notifier '%s' (not in routes: or "
                                        "notifiers:)",
                                 *name);
                r = -EINVAL;
        }
        if (r < 0)
                return r;
        s->notify = TAKE_PTR(l);
        return 0;
}

static int parse_step(Parser *p, Node map, const char *const *notifier_names,
                      EscalationStep *s) {
        Node v[ELEMENTSOF(step_keys)];
        int r = map_keys(p, map, "an escalation step", step_keys, ELEMENTSOF(step_keys), v);

        s->stop_on = _ALERT_STATE_INVALID;
        if (!is_mapping(map))
                return -EINVAL;
        if (!v[0].n) {
                error_at(p, map, "an escalation step needs 'at' (a share of the target such as "
                                 "50%%, or a time after the post such as 45m)");
                r = -EINVAL;
        } else if (parse_step_at(p, v[0], s) < 0)
                r = -EINVAL;
        if (v[1].n) {
                int k = parse_step_notify(p, v[1], notifier_names, s);
                if (k == -ENOMEM)
                        return k;
                if (k < 0)
                        r = k;
        }
        if (v[2].n) {
                _cleanup_free_ char *t = NULL;
                if (get_string(p, v[2], "stop_on", &t) < 0)
                        r = -EINVAL;
                else if (strcmp(t, "acknowledged") == 0 || strcmp(t, "responded") == 0)
                        s->stop_on = alert_state_from_string(t);
                else {
                        error_at(p, v[2], "invalid stop_on '%s' (acknowledged, responded)", t);
                        r = -EINVAL;
                }
        } else if (s->fraction > 0)
                /* a step at a share of the target is before the due time or not, whatever
                 * the target; one at a duration is decided per alert (config_step_stop_on) */
                s->stop_on = escalation_default_stop(s->fraction, 0, 0);
        return r;
}

static bool steps_same_time(const EscalationStep *a, const EscalationStep *b) {
        return a->fraction > 0 ? a->fraction == b->fraction
                               : b->fraction == 0 && a->offset == b->offset;
}

static int parse_policy(Parser *p, Node key, Node list, const char *const *notifier_names,
                        EscalationPolicy *pol) {
        yaml_node_item_t *a, *b;
        int r = 0;

        if (get_string(p, key, "an escalation policy's name", &pol->name) < 0)
                r = -EINVAL;
        else if (strcmp(pol->name, "none") == 0) {
                error_at(p, key, "'none' is not a policy name: it means no escalation");
                r = -EINVAL;
        } else if (!name_valid(pol->name)) {
                error_at(p, key, "invalid escalation policy name '%s' (letters, digits, '-', "
                                 "'_', '.')",
                         pol->name);
                r = -EINVAL;
        }
        if (sequence_items(p, list, "an escalation policy", &a, &b) < 0)
                return -EINVAL;
        size_t n = (size_t)(b - a);
        if (n == 0) {
                error_at(p, list, "escalation policy '%s' has no steps (a rule or severity that "
                                  "wants none says none)",
                         pol->name ? pol->name : "?");
                return -EINVAL;
        }
        if (n > MAX_ESCALATION_STEPS) {
                error_at(p, list, "escalation policy '%s' has %zu steps, more than %d",
                         pol->name ? pol->name : "?", n, MAX_ESCALATION_STEPS);
                return -EINVAL;
        }
        pol->steps = calloc(n, sizeof(EscalationStep));
        if (!pol->steps)
                return -ENOMEM;
        for (; a < b; a++) {
                Node sn = node_child(list, *a);
                EscalationStep *st = &pol->steps[pol->n_steps++];
                int k = parse_step(p, sn, notifier_names, st);
                if (k == -ENOMEM)
                        return k;
                if (k < 0) {
                        r = k;
                        continue;
                }
                for (size_t j = 0; j + 1 < pol->n_steps; j++)
                        if (steps_same_time(st, &pol->steps[j])) {
                                warn_at(p, sn, "escalation policy '%s': this step fires at the "
                                               "same time as step %zu",
                                        pol->name ? pol->name : "?", j + 1);
                                break;
                        }
        }
        return r;
}

/*
 * `escalation:` after the notifiers (steps name them), before the rules (they name policies).
 * *ret_keys receives each policy's key node, for the lint after the rules.
 */
static int parse_escalation(Parser *p, Node n, Node **ret_keys) {
        Config *c = p->cfg;
        Node v[ELEMENTSOF(escalation_keys)];
        int r = 0;

        if (is_null(n))
                return 0;
        if (map_keys(p, n, "escalation", escalation_keys, ELEMENTSOF(escalation_keys), v) < 0)
                r = -EINVAL;

        _cleanup_free_ const char **notifier_names =
                calloc(c->n_notifiers + 1, sizeof(char *));
        if (!notifier_names)
                return -ENOMEM;
        for (size_t i = 0; i < c->n_notifiers; i++)
                notifier_names[i] = c->notifiers[i].name ? c->notifiers[i].name : "";

        Node pols = v[0];
        if (!is_null(pols) && !is_mapping(pols)) {
                error_at(p, pols, "escalation: policies must map names to lists of steps, not %s",
                         node_kind(pols));
                r = -EINVAL;
        } else if (!is_null(pols)) {
                size_t np = (size_t)(pols.n->data.mapping.pairs.top -
                                     pols.n->data.mapping.pairs.start);
                if (np > MAX_ESCALATION_POLICIES) {
                        error_at(p, pols, "%zu escalation policies, more than %d", np,
                                 MAX_ESCALATION_POLICIES);
                        return -EINVAL;
                }
                c->escalation_policies = calloc(np + 1, sizeof(EscalationPolicy));
                *ret_keys = calloc(np + 1, sizeof(Node));
                if (!c->escalation_policies || !*ret_keys)
                        return -ENOMEM;
                for (yaml_node_pair_t *pair = pols.n->data.mapping.pairs.start;
                     pair < pols.n->data.mapping.pairs.top; pair++) {
                        Node kn = node_child(pols, pair->key);
                        size_t idx = c->n_escalation_policies++;
                        EscalationPolicy *pol = &c->escalation_policies[idx];
                        (*ret_keys)[idx] = kn;
                        int k = parse_policy(p, kn, node_child(pols, pair->value),
                                             notifier_names, pol);
                        if (k == -ENOMEM)
                                return k;
                        if (k < 0)
                                r = k;
                        for (size_t j = 0; j < idx && pol->name; j++)
                                if (c->escalation_policies[j].name &&
                                    streq(c->escalation_policies[j].name, pol->name)) {
                                        error_at(p, kn,
                                                 "duplicate escalation policy '%s' (first at "
                                                 "line %u)",
                                                 pol->name, node_line((*ret_keys)[j]));
                                        r = -EINVAL;
                                }
                }
        }

        if (!is_null(v[1])) {
                KeyDef sev_keys[_SEVERITY_MAX];
                Node sv[_SEVERITY_MAX];
                _cleanup_free_ const char **names =
                        calloc(c->n_escalation_policies + 1, sizeof(char *));
                if (!names)
                        return -ENOMEM;
                for (size_t i = 0; i < c->n_escalation_policies; i++)
                        names[i] = c->escalation_policies[i].name ? c->escalation_policies[i].name
                                                                   : "";
                for (int i = 0; i < _SEVERITY_MAX; i++)
                        sev_keys[i].key = severity_to_string((Severity)i);
                if (map_keys(p, v[1], "escalation: by_severity", sev_keys, _SEVERITY_MAX, sv) < 0)
                        r = -EINVAL;
                for (int i = 0; i < _SEVERITY_MAX; i++) {
                        ssize_t idx;
                        if (!sv[i].n)
                                continue;
                        if (escalation_ref_parse(p, sv[i], names, c->n_escalation_policies,
                                                 &idx) < 0)
                                r = -EINVAL;
                        else
                                c->escalation_by_severity[i] = idx >= 0 ? idx : -1;
                }
        }
        return r;
}

/* Lint: a policy that no rule and no severity uses never fires. */
static void lint_escalation(Parser *p, const Node *keys) {
        const Config *c = p->cfg;
        for (size_t i = 0; i < c->n_escalation_policies; i++) {
                bool used = false;
                for (int s = 0; s < _SEVERITY_MAX && !used; s++)
                        used = c->escalation_by_severity[s] == (ssize_t)i;
                for (size_t j = 0; c->rules && j < c->rules->n_rules && !used; j++)
                        used = c->rules->rules[j].escalation == (ssize_t)i;
                if (!used)
                        warn_at(p, keys[i], "escalation policy '%s' is not used: no rule and no "
                                            "severity in by_severity names it",
                                c->escalation_policies[i].name ? c->escalation_policies[i].name
                                                               : "?");
        }
}

static int parse_globals(Parser *p, Node *v) {
        Config *c = p->cfg;
        Node default_target = {.n = NULL}, store_seen = {.n = NULL};
        int r = 0, k;

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
                Node d[4];
                if (map_keys(p, v[TK_DEFAULTS], "defaults", defaults_keys, 4, d) < 0)
                        r = -EINVAL;
                if (d[0].n) {
                        if (get_duration(p, d[0], "respond_within",
                                         &c->default_respond_within) < 0)
                                r = -EINVAL;
                        else if (c->default_respond_within == 0) {
                                error_at(p, d[0], "defaults: respond_within must be greater "
                                                  "than 0");
                                r = -EINVAL;
                        }
                        default_target = d[0];
                }
                if (d[1].n && get_duration(p, d[1], "backfill", &c->default_backfill) < 0)
                        r = -EINVAL;
                if (d[2].n && get_duration(p, d[2], "interval", &c->default_interval) < 0)
                        r = -EINVAL;
                if (d[3].n &&
                    get_duration(p, d[3], "silent_after", &c->default_silent_after) < 0)
                        r = -EINVAL;
        }
        if (v[TK_HTTP].n) {
                Node h[7];
                int64_t size;
                if (map_keys(p, v[TK_HTTP], "http", http_keys, 7, h) < 0)
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
                if (h[4].n) {
                        int64_t n;
                        if (get_int(p, h[4], "max_per_host", 0, 1000, &n) < 0)
                                r = -EINVAL;
                        else
                                c->max_per_host = (unsigned)n;
                }
                if (h[5].n && get_duration(p, h[5], "host_spacing", &c->host_spacing) < 0)
                        r = -EINVAL;
                if (h[6].n) {
                        _cleanup_free_ char *ca = NULL;
                        if (get_string(p, h[6], "ca_file", &ca) < 0)
                                r = -EINVAL;
                        else if (resolve_path(c, ca, false, &c->ca_file) < 0)
                                return -ENOMEM;
                        else if (access(c->ca_file, R_OK) < 0) {
                                error_at(p, h[6], "cannot read ca_file %s: %s", c->ca_file,
                                         strerror(errno));
                                r = -EINVAL;
                        }
                }
        }
        if (v[TK_DELIVERY].n) {
                Node d[ELEMENTSOF(delivery_keys)];
                if (map_keys(p, v[TK_DELIVERY], "delivery", delivery_keys,
                             ELEMENTSOF(delivery_keys), d) < 0)
                        r = -EINVAL;
                if (d[2].n && get_duration(p, d[2], "max_age", &c->delivery_max_age) < 0)
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
                store_seen = d[0];
        }
        k = parse_network_classes(p, v[TK_CLASSES], default_target.n != NULL);
        if (k == -ENOMEM)
                return k;
        if (k < 0)
                r = k;
        if (v[TK_PRIORITY].n && parse_priority(p, v[TK_PRIORITY]) < 0)
                r = -EINVAL;
        if (v[TK_RETENTION].n && parse_retention(p, v[TK_RETENTION], store_seen) < 0)
                r = -EINVAL;
        if (v[TK_GROUPING].n && parse_grouping(p, v[TK_GROUPING]) < 0)
                r = -EINVAL;
        if (v[TK_WATCH].n && get_bool(p, v[TK_WATCH], "watch_config", &c->watch_config) < 0)
                r = -EINVAL;
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
        return config_load_with_rules(path, plugin_dir_override, NULL, registry, on_error,
                                      userdata, ret);
}

int config_load_with_rules(const char *path, const char *plugin_dir_override,
                           char *const *rule_files, PluginRegistry *registry,
                           ConfigErrorFunc on_error, void *userdata, Config **ret) {
        _cleanup_(config_freep) Config *c = calloc(1, sizeof(*c));
        _cleanup_free_ bool *used = calloc(strv_length(rule_files) + 1, sizeof(bool));
        Parser p = {.cfg = c, .on_error = on_error, .userdata = userdata, .registry = registry,
                    .overrides = rule_files, .overrides_used = used};
        Lists lists = {};
        Node root, v[_TK_MAX];
        _cleanup_free_ Node *policy_keys = NULL;
        int r;

        if (!c || !used)
                return -ENOMEM;
        c->log_level = -1;
        c->default_respond_within = USEC_PER_HOUR;
        c->default_backfill = USEC_PER_HOUR;
        c->default_interval = 60 * USEC_PER_SEC;
        c->http_timeout = 30 * USEC_PER_SEC;
        c->http_connect_timeout = 10 * USEC_PER_SEC;
        c->max_response_size = 8u << 20;
        c->max_per_host = 4;
        c->host_spacing = 250 * USEC_PER_MSEC;
        c->default_silent_after = 24 * USEC_PER_HOUR;
        c->retry_initial = 10 * USEC_PER_SEC;
        c->retry_max = USEC_PER_HOUR;
        c->delivery_max_age = 24 * USEC_PER_HOUR;
        c->seen_retention = 30 * USEC_PER_DAY;
        c->alert_retention = 180 * USEC_PER_DAY;
        c->outbox_retention = 30 * USEC_PER_DAY;
        c->priority = PRIORITY_WEIGHTS_DEFAULT;
        c->group_threads = true;
        c->group_copies_window = USEC_PER_HOUR;
        for (int i = 0; i < _SEVERITY_MAX; i++)
                c->escalation_by_severity[i] = -1;
        for (int i = 0; i < _NETWORK_CLASS_MAX; i++)
                c->network_classes[i].respond_within =
                        network_class_default_target((NetworkClass)i);
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
        /* overrides that replace no included file are read in addition */
        for (size_t i = 0; rule_files && rule_files[i]; i++)
                if (!used[i] && include_file(&p, root, rule_files[i], &lists) == -ENOMEM) {
                        r = -ENOMEM;
                        goto finish;
                }

        c->sources = calloc(lists.n[IK_SOURCES] + 1, sizeof(SourceConfig));
        c->notifiers = calloc(lists.n[IK_NOTIFIERS] + 1, sizeof(NotifierConfig));
        if (!c->sources || !c->notifiers) {
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
        if (routes_parse(&p, v[TK_ROUTES]) == -ENOMEM) {
                r = -ENOMEM;
                goto finish;
        }
        if (parse_escalation(&p, v[TK_ESCALATION], &policy_keys) == -ENOMEM) {
                r = -ENOMEM;
                goto finish;
        }
        {
                /* rules may only name sources and escalation policies that exist */
                const char **names = calloc(c->n_sources + 1, sizeof(char *));
                const char **policies = calloc(c->n_escalation_policies + 1, sizeof(char *));
                if (!names || !policies) {
                        free(names);
                        free(policies);
                        r = -ENOMEM;
                        goto finish;
                }
                for (size_t i = 0; i < c->n_sources; i++)
                        names[i] = c->sources[i].name ? c->sources[i].name : "";
                for (size_t i = 0; i < c->n_escalation_policies; i++)
                        policies[i] = c->escalation_policies[i].name
                                              ? c->escalation_policies[i].name
                                              : "";
                RuleRefs refs = {.sources = names, .n_sources = c->n_sources,
                                 .policies = policies,
                                 .n_policies = c->n_escalation_policies};
                int k = ruleset_parse(&p, v[TK_MATCHING].n ? &v[TK_MATCHING] : NULL,
                                      lists.items[IK_BRANDS], lists.n[IK_BRANDS],
                                      lists.items[IK_RULES], lists.n[IK_RULES], &refs,
                                      &c->rules);
                free(names);
                free(policies);
                if (k == -ENOMEM) {
                        r = -ENOMEM;
                        goto finish;
                }
        }
        if (c->rules && routes_check(&p, v[TK_ROUTES]) == -ENOMEM) {
                r = -ENOMEM;
                goto finish;
        }
        if (p.n_errors == 0)
                lint_escalation(&p, policy_keys);
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
        if (r < 0) {
                strv_free(p.warnings);
                return r;
        }
        c->warnings = p.warnings;
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
        ruleset_free(c->rules);
        for (int i = 0; i < _NETWORK_CLASS_MAX; i++)
                strv_free(c->network_classes[i].networks);
        for (size_t i = 0; i < c->n_escalation_policies; i++)
                policy_done(&c->escalation_policies[i]);
        for (size_t i = 0; i < c->n_routes; i++)
                route_config_done(&c->routes[i]);
        free(c->routes);
        free(c->escalation_policies);
        strv_free(c->warnings);
        free(c->sources);
        free(c->notifiers);
        free(c->path);
        free(c->dir);
        strv_free(c->files);
        strv_free(c->include_dirs);
        free(c->state_dir);
        free(c->plugin_dir);
        free(c->user_agent);
        free(c->ca_file);
        free(c);
        return NULL;
}

usec_t config_respond_within(const Config *c, usec_t rule_target, const SourceConfig *src) {
        if (rule_target > 0)
                return rule_target;
        if (src && src->respond_within > 0)
                return src->respond_within;
        return c->default_respond_within;
}

NetworkClass config_network_class(const Config *c, const SourceConfig *src, const char *network) {
        if (src && src->network_class >= 0 && src->network_class < _NETWORK_CLASS_MAX)
                return src->network_class;
        for (int i = 0; network && i < _NETWORK_CLASS_MAX; i++)
                if (strv_contains(c->network_classes[i].networks, network))
                        return (NetworkClass)i;
        return network_class_of(network);
}

usec_t config_target(const Config *c, const RuleMatch *m, size_t n_matches,
                     const SourceConfig *src, const char *network, const char **ret_from) {
        NetworkClass nc = config_network_class(c, src, network);
        TargetChain chain = {
                .source = src ? src->respond_within : 0,
                .network_class = c->network_classes[nc].respond_within,
                .global = c->default_respond_within,
        };
        if (n_matches == 0)
                return target_resolve(&chain, ret_from);

        usec_t best = 0;
        const char *best_from = NULL;
        for (size_t i = 0; i < n_matches; i++) {
                const char *from;
                chain.rule = c->rules->rules[m[i].rule].respond_within;
                chain.brand = rule_brand_respond_within(c->rules, &m[i]);
                usec_t t = target_resolve(&chain, &from);
                if (i == 0 || t < best) {
                        best = t; /* several rules: the strictest target wins */
                        best_from = from;
                }
        }
        if (ret_from)
                *ret_from = best_from;
        return best;
}

const EscalationPolicy *config_escalation_for(const Config *c, const RuleMatch *m,
                                              size_t n_matches, Severity sev) {
        const Rule *chosen = NULL;
        ssize_t idx = -1;

        for (size_t i = 0; i < n_matches; i++) {
                const Rule *r = &c->rules->rules[m[i].rule];
                if (r->escalation != RULE_ESCALATION_UNSET &&
                    (!chosen || r->severity > chosen->severity))
                        chosen = r;
        }
        if (chosen)
                idx = chosen->escalation;
        else if (sev >= 0 && sev < _SEVERITY_MAX)
                idx = c->escalation_by_severity[sev];
        return idx >= 0 && (size_t)idx < c->n_escalation_policies ? &c->escalation_policies[idx]
                                                                   : NULL;
}

const EscalationPolicy *config_escalation_policy(const Config *c, const char *name) {
        for (size_t i = 0; name && i < c->n_escalation_policies; i++)
                if (streq(c->escalation_policies[i].name, name))
                        return &c->escalation_policies[i];
        return NULL;
}

AlertState config_step_stop_on(const EscalationStep *s, usec_t target) {
        if (s->stop_on == ALERT_ACKNOWLEDGED || s->stop_on == ALERT_RESPONDED)
                return s->stop_on;
        return escalation_default_stop(s->fraction, s->offset, target);
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

/* "1h" or "by network class", for a target that may be left to the class */
static const char *target_text(char *buf, size_t len, const Config *c, usec_t own,
                               NetworkClass nc) {
        if (own > 0)
                return format_duration(buf, len, own);
        if (nc >= 0 && nc < _NETWORK_CLASS_MAX) {
                TargetChain t = {.network_class = c->network_classes[nc].respond_within,
                                 .global = c->default_respond_within};
                char d[32];
                snprintf(buf, len, "%s (%s)", format_duration(d, sizeof(d), target_resolve(&t, NULL)),
                         network_class_to_string(nc));
                return buf;
        }
        snprintf(buf, len, "by network class");
        return buf;
}

static void dump_queue(const Config *c, FILE *f) {
        char b1[32], b2[32], b3[32];

        fputs("  response targets:", f);
        for (int i = 0; i < _NETWORK_CLASS_MAX; i++) {
                TargetChain t = {.network_class = c->network_classes[i].respond_within,
                                 .global = c->default_respond_within};
                fprintf(f, "%s %s %s%s", i ? "," : "", network_class_to_string((NetworkClass)i),
                        format_duration(b1, sizeof(b1), target_resolve(&t, NULL)),
                        t.network_class ? "" : " (defaults.respond_within)");
                STRV_FOREACH(net, c->network_classes[i].networks)
                        fprintf(f, " +%s", *net);
        }
        fputc('\n', f);
        fprintf(f, "  priority weights: severity %g, reach %g, engagement %g\n",
                c->priority.severity, c->priority.reach, c->priority.engagement);
        fprintf(f, "  escalation policies: %zu\n", c->n_escalation_policies);
        for (size_t i = 0; i < c->n_escalation_policies; i++) {
                const EscalationPolicy *pol = &c->escalation_policies[i];
                fprintf(f, "    %s:", pol->name);
                for (size_t j = 0; j < pol->n_steps; j++) {
                        const EscalationStep *st = &pol->steps[j];
                        if (st->fraction > 0)
                                fprintf(f, "%s %g%%", j ? "," : "", st->fraction * 100);
                        else
                                fprintf(f, "%s %s", j ? "," : "",
                                        format_duration(b1, sizeof(b1), st->offset));
                        if (st->notify) {
                                _cleanup_free_ char *names = strv_join(st->notify, " ");
                                fprintf(f, " -> %s", strna(names));
                        }
                        if (st->stop_on >= 0)
                                fprintf(f, " (until %s)", alert_state_to_string(st->stop_on));
                }
                fputc('\n', f);
        }
        fputs("  escalation by severity:", f);
        for (int i = 0; i < _SEVERITY_MAX; i++) {
                ssize_t idx = c->escalation_by_severity[i];
                fprintf(f, "%s %s %s", i ? "," : "", severity_to_string((Severity)i),
                        idx >= 0 ? c->escalation_policies[idx].name : "none");
        }
        fputc('\n', f);
        fprintf(f, "  grouping: threads %s, copies %s%s\n", c->group_threads ? "on" : "off",
                c->group_copies_window ? "within " : "off",
                c->group_copies_window ? format_duration(b1, sizeof(b1), c->group_copies_window)
                                       : "");
        fprintf(f, "  retention: alerts %s, outbox %s, seen %s\n",
                c->alert_retention ? format_duration(b1, sizeof(b1), c->alert_retention)
                                   : "forever",
                c->outbox_retention ? format_duration(b2, sizeof(b2), c->outbox_retention)
                                    : "forever",
                format_duration(b3, sizeof(b3), c->seen_retention));
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
                char b4[64];
                fprintf(f, "    %s (%s)%s every %s, respond within %s\n", s->name, s->type,
                        s->enabled ? "" : " [disabled]",
                        format_duration(b1, sizeof(b1), s->interval),
                        target_text(b4, sizeof(b4), c, s->respond_within, s->network_class));
                dump_values(&s->values, s->plugin, f);
        }
        fprintf(f, "  notifiers: %zu\n", c->n_notifiers);
        for (size_t i = 0; i < c->n_notifiers; i++) {
                const NotifierConfig *n = &c->notifiers[i];
                char gap[48] = "";
                if (n->min_interval > 0) {
                        char d[32];
                        snprintf(gap, sizeof(gap), ", at most one per %s",
                                 format_duration(d, sizeof(d), n->min_interval));
                }
                fprintf(f, "    %s (%s)%s%s\n", n->name, n->type, gap,
                        n->enabled ? "" : " [disabled]");
                dump_values(&n->values, n->plugin, f);
        }
        if (c->n_routes == 0)
                fprintf(f, "  routes: none (every alert to every enabled notifier)\n");
        else
                fprintf(f, "  routes: %zu (then every enabled notifier for alerts none takes)\n",
                        c->n_routes);
        for (size_t i = 0; i < c->n_routes; i++) {
                const RouteConfig *rt = &c->routes[i];
                char d[32];
                fprintf(f, "    %s ->", rt->name);
                for (size_t k = 0; k < rt->n_notifiers; k++)
                        fprintf(f, " %s", c->notifiers[rt->notifiers[k]].name);
                if (rt->digest)
                        fprintf(f, "; digest every %s up to %s",
                                format_duration(d, sizeof(d), rt->digest),
                                severity_to_string((Severity)rt->digest_severity));
                fprintf(f, "%s\n", rt->cont ? "; continue" : "");
        }
        const Ruleset *rs = c->rules;
        fprintf(f, "  brands: %zu\n", rs->n_brands);
        for (size_t i = 0; i < rs->n_brands; i++)
                fprintf(f, "    %s: %zu terms, %zu exclusions\n", rs->brands[i].name,
                        rs->brands[i].n_terms, rs->brands[i].n_exclude);
        fprintf(f, "  rules: %zu (%zu distinct terms, matcher %.1f KiB)\n", rs->n_rules,
                rs->n_terms, matcher_memory(rs->matcher) / 1024.0);
        for (size_t i = 0; i < rs->n_rules; i++) {
                const Rule *r = &rs->rules[i];
                RuleMatch m = {.rule = i, .brand = r->n_brands ? (ssize_t)r->brands[0] : -1};
                char b4[64], esc[160] = "";
                if (r->escalation == RULE_ESCALATION_NONE)
                        snprintf(esc, sizeof(esc), ", no escalation");
                else if (r->escalation >= 0)
                        snprintf(esc, sizeof(esc), ", escalation %s",
                                 c->escalation_policies[r->escalation].name);
                fprintf(f, "    %s [%s]%s respond within %s%s (%s:%u)\n", r->name,
                        severity_to_string(r->severity), r->enabled ? "" : " [disabled]",
                        target_text(b4, sizeof(b4), c, rule_respond_within(rs, &m),
                                    _NETWORK_CLASS_INVALID),
                        esc, r->pos.file, r->pos.line);
        }
        dump_queue(c, f);
}
