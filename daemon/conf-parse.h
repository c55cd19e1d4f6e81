/* SPDX-License-Identifier: MIT */
/*
 * conf-parse.h - the helpers every part of the configuration is read with: YAML nodes that
 * know their file, line and column; typed getters that report "FILE:LINE:COL: message" and
 * count the error; key tables with "did you mean". Used by config.c (the file, sources,
 * notifiers) and rules.c (brands and rules).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <yaml.h>

#include "config.h"
#include "util/cleanup.h"
#include "util/time-util.h"

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
        char **warnings; /* owned: "FILE:LINE:COL: warning: ..." lines, in order */
        char *const *overrides; /* borrowed: files standing in for included files of the same
                                 * name (earshotctl backtest --rules) */
        bool *overrides_used;   /* borrowed, one per override */
} Parser;

typedef struct KeyDef {
        const char *key;
} KeyDef;


unsigned node_line(Node n);
unsigned node_col(Node n);
ConfigPos node_pos(Node n);
/* Report an error at n and count it. */
_printf_(3, 4) void error_at(Parser *p, Node n, const char *fmt, ...);
/* Keep a warning at n (not an error: loading goes on and succeeds). */
_printf_(3, 4) void warn_at(Parser *p, Node n, const char *fmt, ...);
/* "a scalar", "a list", "a mapping" or "nothing", for messages. */
const char *node_kind(Node n);
Node node_child(Node parent, int index);
bool is_scalar(Node n);
bool is_mapping(Node n);
bool is_sequence(Node n);
const char *scalar_raw(Node n);
/* An empty plain scalar, "~" or "null": no value. */
bool is_null(Node n);
/* Number of items of a list node (0 for anything else). */
size_t sequence_length(Node n);
/* Item i of a list node. */
Node sequence_item(Node n, size_t i);

/* 1 for true/yes/on/1, 0 for false/no/off/0, -EINVAL otherwise. */
int parse_bool_str(const char *s);
/* A decimal integer with nothing after it: 0, or -EINVAL. */
int parse_int_str(const char *s, int64_t *ret);
/* A decimal number (12, 2.5; no hex, inf or nan) with nothing after it: 0, or -EINVAL. */
int parse_number_str(const char *s, double *ret);

/* Typed getters: 0, or a negative errno after reporting the error at n. */
int get_string(Parser *p, Node n, const char *what, char **ret);
int get_duration(Parser *p, Node n, const char *what, usec_t *ret);
int get_bool(Parser *p, Node n, const char *what, bool *ret);
int get_int(Parser *p, Node n, const char *what, int64_t min, int64_t max, int64_t *ret);
/* A decimal number (12, 2.5) within [min, max]. */
int get_number(Parser *p, Node n, const char *what, double min, double max, double *ret);
/* A list of strings, or a single string standing for a list of one. */
int get_strlist(Parser *p, Node n, const char *what, char ***ret);

/*
 * Check a mapping's keys against a table: vals[i] receives the value of keys[i] (n == NULL when
 * absent). Unknown keys are reported with the nearest known key; duplicates are reported too.
 * Returns 0 when the mapping is well-formed, -EINVAL otherwise (after reporting).
 */
int map_keys(Parser *p, Node map, const char *section, const KeyDef *keys, size_t n_keys,
             Node *vals);
/* Iterate over a list section; a null value is an empty list. */
int sequence_items(Parser *p, Node n, const char *what, yaml_node_item_t **ret_start,
                   yaml_node_item_t **ret_end);
/* A name of a source, notifier, route or policy: letters, digits, '-', '_', '.'. */
bool name_valid(const char *s);
/* The item of a list node that says s (case aside), for pointing at it; else the list. */
Node list_item_named(Node list, const char *s);
/* The nearest of `candidates` to `word` when it is a plausible typo, else NULL. */
const char *closest_word(const char *word, const char *const *candidates, size_t n);
