/* SPDX-License-Identifier: MIT */
/*
 * earshotctl.c - the command-line tool for the team and the sysadmin: options, the commands'
 * dispatch and the way to the daemon's store. It opens the store read-only to look (SQLite WAL
 * lets it read while earshotd writes) and for writing only to change alerts, one transaction
 * each, as the daemon does. The queue commands are in ctl-queue.c, the rule tools in
 * ctl-rules.c, the source tools in ctl-sources.c.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "ctl.h"
#include "earshot-build.h"
#include "log.h"
#include "manager.h"
#include "store.h"
#include "util/cleanup.h"
#include "util/strv.h"

const char *arg_config;
const char *arg_state_dir;
bool arg_json;
int arg_color = -1;
const char *arg_lang, *arg_network, *arg_source;
int64_t arg_followers = -1;
int64_t arg_rating;
usec_t arg_since = 7 * USEC_PER_DAY;
char **arg_rules;
static unsigned arg_pages = 1;

static void help(void) {
        printf("Usage: earshotctl [OPTIONS] COMMAND [ARGS]\n"
               "\n"
               "Commands (the queue's take --help for their options):\n"
               "  list                  the alerts waiting for an answer, soonest due first;\n"
               "                        --state, --all, --brand, --rule, --network, --overdue,\n"
               "                        --since, --limit, --json\n"
               "  show ID               one alert (id or unique prefix): the post, its author,\n"
               "                        thread and copies, and its history\n"
               "  ack | respond | resolve | reopen | mute | false-positive ID... [--by NAME]\n"
               "                        [--note TEXT]   change the state of alerts\n"
               "  stats                 the team's figures: states, time to acknowledge and to\n"
               "                        respond, share within target, late, false positives;\n"
               "                        --since, --by rule|brand|network, --json\n"
               "  test-rules FILE|-     run the rules over posts given as JSON lines\n"
               "                        ({\"id\", \"text\", \"lang\", \"network\", \"source\",\n"
               "                        \"followers\"}); print matching posts, then a summary\n"
               "  explain TEXT          for every rule: does it match TEXT, and why (not)\n"
               "  backtest              re-run the rules over the posts the daemon has seen and\n"
               "                        report the alerts a rule change would add or remove\n"
               "  deliveries            the outbox: pending, failed and rejected deliveries\n"
               "                        with their last error; --pending, --failed, --all\n"
               "  redeliver ID...       queue outbox rows again (or --failed: all of those)\n"
               "  notify-test ROUTE     send a sample alert through a route (or a notifier, or\n"
               "                        default) and wait for the outcome\n"
               "  sources               every source and feed: last poll, status, next poll,\n"
               "                        backoff, rate limit, posts seen, coverage gaps\n"
               "  poll NAME             poll source NAME once, now, and print the posts it\n"
               "                        parsed (no store, no cursor is touched)\n"
               "\n"
               "Options:\n"
               "  -c, --config PATH     the configuration (default: %s)\n"
               "  -s, --state-dir DIR   the daemon's state directory (default: from the config,\n"
               "                        $STATE_DIRECTORY, or %s)\n"
               "      --json            machine-readable output\n"
               "      --color WHEN      highlight: auto (on a terminal), always or never\n"
               "  explain:\n"
               "      --lang CODE       the post's language (e.g. en, ru)\n"
               "      --network NAME    the post's network (e.g. mastodon)\n"
               "      --source NAME     the source it came from\n"
               "      --followers N     the author's follower count\n"
               "      --rating N        the post is a review with N stars (1-5)\n"
               "  backtest:\n"
               "      --since DURATION  how far back (default 7d)\n"
               "      --rules FILE      a changed rule file; it stands in for the included file\n"
               "                        of the same name (others are added). Repeatable.\n"
               "  poll:\n"
               "      --pages N         follow at most N pages per feed (default 1)\n"
               "  -V, --version         print the version and exit\n"
               "  -h, --help            show this help and exit\n"
               "\n"
               "Exit status: 0 done; 1 an alert named could not be shown or changed (unknown\n"
               "id, ambiguous prefix, a move its state does not allow, already in that state),\n"
               "or a rule or source tool failed; 2 a bad command line; 3 the store could not be\n"
               "used (missing, unreadable, read-only, locked, another schema).\n",
               DEFAULT_CONFIG, DEFAULT_STATE_DIR);
}

int ctl_usage_error(const char *name, const char *fmt, ...) {
        va_list ap;
        fprintf(stderr, "earshotctl %s: ", name);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fprintf(stderr, "\nTry 'earshotctl %s --help'.\n", name);
        return CTL_EXIT_USAGE;
}

int ctl_parse_color(const char *when) {
        if (streq(when, "auto") || streq(when, "always") || streq(when, "never"))
                return arg_color = streq(when, "auto") ? -1 : streq(when, "always");
        return -EINVAL;
}

bool ctl_use_color(void) {
        if (arg_color >= 0)
                return arg_color;
        const char *t = getenv("TERM");
        return isatty(STDOUT_FILENO) && isempty(getenv("NO_COLOR")) && !(t && streq(t, "dumb"));
}

/* The store under the state directory (cfg may be NULL), checked before it is opened: one line
 * naming the path for every way it cannot be used. */
static int open_store(const Config *cfg, bool writable, Store **ret, char **ret_path) {
        _cleanup_free_ char *state_dir = NULL, *db = NULL;
        ManagerOptions o = {.state_dir = arg_state_dir};
        Store *s = NULL;
        int r;

        state_dir = manager_state_dir(&o, cfg);
        if (!state_dir || asprintf(&db, "%s/%s", state_dir, STORE_FILE) < 0) {
                fprintf(stderr, "earshotctl: out of memory\n");
                return -ENOMEM;
        }
        if (access(db, F_OK) < 0) {
                fprintf(stderr, "earshotctl: no store at %s (has earshotd run with this state "
                                "directory?)\n",
                        db);
                return -ENOENT;
        }
        if (access(db, R_OK) < 0) {
                r = -errno;
                fprintf(stderr, "earshotctl: cannot read %s: %s\n", db, strerror(-r));
                return r;
        }
        /* read-only first: a store of another schema is refused before anything touches it
         * (opened for writing, an older one would be migrated) */
        r = store_open(db, true, &s);
        if (r >= 0 && writable && access(db, W_OK) < 0) {
                r = -errno;
                fprintf(stderr, "earshotctl: cannot change %s: %s; nothing changed\n", db,
                        strerror(-r));
                store_free(s);
                return r;
        }
        if (r >= 0 && writable) {
                s = store_free(s);
                r = store_open(db, false, &s);
        }
        switch (r) {
        case 0:
                break;
        case -EPROTONOSUPPORT:
                fprintf(stderr, "earshotctl: %s was written by a newer earshot (store schema "
                                "newer than %d); refusing to touch it\n",
                        db, STORE_SCHEMA_VERSION);
                return r;
        case -ENOMEDIUM:
                fprintf(stderr, "earshotctl: %s has an older store schema (before %d); start "
                                "earshotd once to migrate it\n",
                        db, STORE_SCHEMA_VERSION);
                return r;
        case -EBUSY:
                fprintf(stderr, "earshotctl: %s stayed locked past the busy timeout; try "
                                "again\n",
                        db);
                return r;
        case -EUCLEAN:
                fprintf(stderr, "earshotctl: %s is not an earshot store, or it is damaged\n", db);
                return r;
        case -ENOENT: /* the file is there: SQLite could not open it or its -wal/-shm files */
        case -EACCES:
                fprintf(stderr, "earshotctl: cannot open %s (or its -wal and -shm files beside "
                                "it): %s\n",
                        db, strerror(-r));
                return r;
        default:
                fprintf(stderr, "earshotctl: cannot open %s: %s\n", db, strerror(-r));
                return r;
        }
        if (ret_path)
                *ret_path = TAKE_PTR(db);
        *ret = s;
        return 0;
}

int ctl_open_store(bool writable, Store **ret, char **ret_path) {
        /* the state directory from --state-dir, else the config's, else the default; the
         * config is read only for that, so a config with errors elsewhere does not stop the
         * team from working the queue */
        bool explicit_config = arg_config != NULL;
        const char *config = arg_config ? arg_config : DEFAULT_CONFIG;
        Config *cfg = NULL;
        if (!arg_state_dir && (explicit_config || access(config, R_OK) == 0)) {
                PluginRegistry *reg = NULL;
                const char *pd = getenv("EARSHOT_PLUGIN_DIR");
                if (plugin_registry_new(&reg) >= 0 &&
                    config_load(config, isempty(pd) ? NULL : pd, reg, NULL, NULL, &cfg) < 0)
                        cfg = NULL;
                if (!cfg && explicit_config)
                        fprintf(stderr, "earshotctl: note: %s could not be fully read; "
                                        "use --state-dir if the default is wrong\n",
                                config);
                plugin_registry_free(reg);
        }
        int r = open_store(cfg, writable, ret, ret_path);
        config_free(cfg);
        return r;
}

enum {
        ARG_JSON = 0x100, ARG_COLOR, ARG_LANG, ARG_NETWORK, ARG_SOURCE, ARG_FOLLOWERS,
        ARG_SINCE, ARG_RULES, ARG_PAGES, ARG_RATING,
};

static const struct option options[] = {
        {"state-dir", required_argument, NULL, 's'},
        {"config", required_argument, NULL, 'c'},
        {"json", no_argument, NULL, ARG_JSON},
        {"color", required_argument, NULL, ARG_COLOR},
        {"lang", required_argument, NULL, ARG_LANG},
        {"network", required_argument, NULL, ARG_NETWORK},
        {"source", required_argument, NULL, ARG_SOURCE},
        {"followers", required_argument, NULL, ARG_FOLLOWERS},
        {"since", required_argument, NULL, ARG_SINCE},
        {"rules", required_argument, NULL, ARG_RULES},
        {"pages", required_argument, NULL, ARG_PAGES},
        {"rating", required_argument, NULL, ARG_RATING},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {},
};

/* One option of the global table: -1 to go on, else the exit code. */
static int parse_option(int c, char ***rules) {
        switch (c) {
        case 's':
                arg_state_dir = optarg;
                break;
        case 'c':
                arg_config = optarg;
                break;
        case ARG_JSON:
                arg_json = true;
                break;
        case ARG_COLOR:
                if (ctl_parse_color(optarg) < 0) {
                        fprintf(stderr, "earshotctl: --color takes auto, always or never\n");
                        return CTL_EXIT_USAGE;
                }
                break;
        case ARG_LANG:
                arg_lang = optarg;
                break;
        case ARG_NETWORK:
                arg_network = optarg;
                break;
        case ARG_SOURCE:
                arg_source = optarg;
                break;
        case ARG_FOLLOWERS: {
                char *end;
                errno = 0;
                long long v = strtoll(optarg, &end, 10);
                if (errno || *end || end == optarg || v < 0) {
                        fprintf(stderr, "earshotctl: --followers takes a number\n");
                        return CTL_EXIT_USAGE;
                }
                arg_followers = v;
                break;
        }
        case ARG_SINCE:
                if (parse_duration(optarg, &arg_since) < 0) {
                        fprintf(stderr, "earshotctl: --since takes a duration such as "
                                        "12h or 7d\n");
                        return CTL_EXIT_USAGE;
                }
                break;
        case ARG_RULES:
                if (access(optarg, R_OK) < 0) {
                        fprintf(stderr, "earshotctl: cannot read %s: %s\n", optarg,
                                strerror(errno));
                        return EXIT_FAILURE;
                }
                if (strv_extend(rules, optarg) < 0)
                        return EXIT_FAILURE;
                arg_rules = *rules;
                break;
        case ARG_RATING: {
                char *end;
                long v = strtol(optarg, &end, 10);
                if (*end || end == optarg || v < 1 || v > 5) {
                        fprintf(stderr, "earshotctl: --rating takes 1 to 5 stars\n");
                        return CTL_EXIT_USAGE;
                }
                arg_rating = v;
                break;
        }
        case ARG_PAGES: {
                char *end;
                long v = strtol(optarg, &end, 10);
                if (*end || end == optarg || v < 1 || v > 100) {
                        fprintf(stderr, "earshotctl: --pages takes a number from 1 to "
                                        "100\n");
                        return CTL_EXIT_USAGE;
                }
                arg_pages = (unsigned)v;
                break;
        }
        case 'V':
                printf("earshotctl %s\n", PACKAGE_VERSION);
                return EXIT_SUCCESS;
        case 'h':
                help();
                return EXIT_SUCCESS;
        default:
                fprintf(stderr, "Try 'earshotctl --help'.\n");
                return CTL_EXIT_USAGE;
        }
        return -1;
}

int main(int argc, char **argv) {
        _cleanup_strv_free_ char **rules = NULL;
        int c, r;

        /* the options before the command; each command then reads the rest (the queue
         * commands with their own options and --help) */
        while ((c = getopt_long(argc, argv, "+s:c:Vh", options, NULL)) >= 0)
                if ((r = parse_option(c, &rules)) >= 0)
                        return r;
        if (optind >= argc) {
                fprintf(stderr, "earshotctl: missing command. Try 'earshotctl --help'.\n");
                return CTL_EXIT_USAGE;
        }
        if (ctl_queue_command(argv[optind]))
                return ctl_queue_main(argc - optind, argv + optind);
        if (ctl_delivery_command(argv[optind]))
                return ctl_delivery_main(argc - optind, argv + optind);

        char **cargv = argv + optind;
        int cargc = argc - optind;
        const char *cmd = cargv[0];
        optind = 0; /* a fresh scan of the command's arguments, options anywhere */
        while ((c = getopt_long(cargc, cargv, "s:c:Vh", options, NULL)) >= 0)
                if ((r = parse_option(c, &rules)) >= 0)
                        return r;
        char **args = cargv + optind;
        int n_args = cargc - optind;
        if (!arg_config)
                arg_config = DEFAULT_CONFIG;

        if (strcmp(cmd, "test-rules") == 0 || strcmp(cmd, "explain") == 0) {
                if (n_args != 1) {
                        fprintf(stderr, "earshotctl: %s takes one argument (%s). Try "
                                        "'earshotctl --help'.\n",
                                cmd, strcmp(cmd, "explain") == 0 ? "the text" : "a file, or -");
                        return CTL_EXIT_USAGE;
                }
                return strcmp(cmd, "explain") == 0 ? ctl_explain(args[0]) : ctl_test_rules(args[0]);
        }
        if (strcmp(cmd, "poll") == 0) {
                if (n_args != 1) {
                        fprintf(stderr, "earshotctl: poll takes the name of a source\n");
                        return CTL_EXIT_USAGE;
                }
                return ctl_poll(args[0], arg_pages);
        }
        if (strcmp(cmd, "sources") == 0 || strcmp(cmd, "backtest") == 0) {
                _cleanup_(config_freep) Config *cfg = NULL;
                Store *s = NULL;
                if (n_args != 0) {
                        fprintf(stderr, "earshotctl: %s takes no arguments\n", cmd);
                        return CTL_EXIT_USAGE;
                }
                if (ctl_load_config(arg_config, NULL, &cfg) < 0)
                        return EXIT_FAILURE;
                if (open_store(cfg, false, &s, NULL) < 0)
                        return EXIT_FAILURE;
                r = strcmp(cmd, "sources") == 0 ? ctl_sources(s, cfg) : ctl_backtest(s, cfg);
                store_free(s);
                return r;
        }
        fprintf(stderr, "earshotctl: unknown command '%s'. Try 'earshotctl --help'.\n", cmd);
        return CTL_EXIT_USAGE;
}
