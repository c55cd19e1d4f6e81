/* SPDX-License-Identifier: MIT */
/*
 * ctl.h - what earshotctl's command modules share: the parsed command line and the config
 * loader that prints errors the way --check-config does.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "plugin.h"
#include "store.h"
#include "util/time-util.h"

extern const char *arg_config;   /* --config, default DEFAULT_CONFIG */
extern const char *arg_state_dir;
extern bool arg_json;
extern int arg_color;            /* -1 auto, 0 never, 1 always */
extern const char *arg_lang, *arg_network, *arg_source;
extern int64_t arg_followers;    /* -1 = unknown */
extern int64_t arg_rating;       /* 0 = not a review */
extern usec_t arg_since;
extern char **arg_rules;         /* --rules, NULL when none */

/* A ConfigErrorFunc printing to stderr and counting in *(unsigned *)userdata. */
void ctl_print_config_error(const char *msg, void *userdata);
/* Load a config (with rule files standing in, for backtest), printing every error. */
int ctl_load_config(const char *path, char *const *rule_files, Config **ret);

int ctl_test_rules(const char *path);
int ctl_explain(const char *text);
int ctl_backtest(Store *s, Config *current);
int ctl_poll(const char *name, unsigned max_pages);
int ctl_sources(Store *s, const Config *cfg);
