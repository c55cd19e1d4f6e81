/* SPDX-License-Identifier: MIT */
/*
 * earshotctl.c - the command-line tool for the team and the sysadmin. It opens the daemon's
 * store read-only (SQLite WAL lets it read while earshotd writes) and prints what is there.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
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
               "Commands:\n"
               "  list                  the alerts in the store, by due time\n"
               "  test-rules FILE|-     run the rules over posts given as JSON lines\n"
               "                        ({\"id\", \"text\", \"lang\", \"network\", \"source\",\n"
               "                        \"followers\"}); print matching posts, then a summary\n"
               "  explain TEXT          for every rule: does it match TEXT, and why (not)\n"
               "  backtest              re-run the rules over the posts the daemon has seen and\n"
               "                        report the alerts a rule change would add or remove\n"
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
               "  -h, --help            show this help and exit\n",
               DEFAULT_CONFIG, DEFAULT_STATE_DIR);
}

/* Width of a UTF-8 string in terminal cells, roughly: one per code point. */
static void print_cell(const char *s, size_t width) {
        size_t cells = 0;
        const unsigned char *p = (const unsigned char *)(s ? s : "");
        const unsigned char *start = p;
        while (*p && cells < width) {
                size_t len = *p < 0x80 ? 1 : *p < 0xe0 ? 2 : *p < 0xf0 ? 3 : 4;
                for (size_t i = 1; i < len; i++)
                        if (!p[i])
                                len = i;
                if (*p == '\n' || *p == '\r' || *p == '\t') {
                        fwrite(start, 1, (size_t)(p - start), stdout);
                        fputc(' ', stdout);
                        p += 1;
                        start = p;
                        cells++;
                        continue;
                }
                p += len;
                cells++;
        }
        fwrite(start, 1, (size_t)(p - start), stdout);
        if (*p && width > 0) {
                /* cut: mark it */
        }
        for (; cells < width; cells++)
                fputc(' ', stdout);
}

static void time_left(const Alert *a, int64_t now, char *buf, size_t len) {
        char d[32];
        int64_t left = a->due_usec - now;
        if (strcmp(a->state, "open") != 0)
                snprintf(buf, len, "-");
        else if (left >= 0)
                snprintf(buf, len, "due in %s", format_duration(d, sizeof(d), (usec_t)left));
        else
                snprintf(buf, len, "overdue %s", format_duration(d, sizeof(d), (usec_t)-left));
}

static int list_json(Alert *list, size_t n, int64_t now) {
        cJSON *arr = cJSON_CreateArray();
        char ts[32];
        for (size_t i = 0; arr && i < n; i++) {
                Alert *a = &list[i];
                cJSON *o = cJSON_CreateObject();
                cJSON *rules = cJSON_Parse(a->rules_json ? a->rules_json : "[]");
                if (!o)
                        break;
                cJSON_AddItemToArray(arr, o);
                cJSON_AddStringToObject(o, "id", a->id);
                cJSON_AddStringToObject(o, "state", a->state);
                cJSON_AddItemToObject(o, "rules", rules ? rules : cJSON_CreateArray());
                a->brand ? (void)cJSON_AddStringToObject(o, "brand", a->brand)
                         : (void)cJSON_AddNullToObject(o, "brand");
                cJSON_AddStringToObject(o, "severity", a->severity);
                cJSON_AddStringToObject(o, "source", a->source);
                cJSON_AddStringToObject(o, "network", a->network);
                cJSON_AddStringToObject(o, "post_id", a->post_id);
                a->url ? (void)cJSON_AddStringToObject(o, "url", a->url)
                       : (void)cJSON_AddNullToObject(o, "url");
                cJSON_AddStringToObject(o, "text", a->text);
                a->author_handle ? (void)cJSON_AddStringToObject(o, "author", a->author_handle)
                                 : (void)cJSON_AddNullToObject(o, "author");
                a->author_followers >= 0
                        ? (void)cJSON_AddNumberToObject(o, "followers", (double)a->author_followers)
                        : (void)cJSON_AddNullToObject(o, "followers");
                cJSON_AddStringToObject(o, "created_at",
                                        format_timestamp(ts, sizeof(ts), a->created_usec));
                cJSON_AddStringToObject(o, "detected_at",
                                        format_timestamp(ts, sizeof(ts), a->detected_usec));
                cJSON_AddStringToObject(o, "due_at", format_timestamp(ts, sizeof(ts), a->due_usec));
                cJSON_AddNumberToObject(o, "respond_within",
                                        (double)(a->respond_within_usec / (int64_t)USEC_PER_SEC));
                cJSON_AddBoolToObject(o, "overdue",
                                      strcmp(a->state, "open") == 0 && a->due_usec < now);
        }
        char *s = arr ? cJSON_Print(arr) : NULL;
        cJSON_Delete(arr);
        if (!s) {
                fprintf(stderr, "earshotctl: out of memory\n");
                return EXIT_FAILURE;
        }
        puts(s);
        free(s);
        return EXIT_SUCCESS;
}

static int cmd_list(Store *s) {
        Alert *list = NULL;
        size_t n = 0;
        int64_t now = (int64_t)now_usec(CLOCK_REALTIME);
        bool tty = isatty(STDOUT_FILENO);
        int r = store_list_alerts(s, &list, &n);
        if (r < 0) {
                fprintf(stderr, "earshotctl: cannot read alerts: %s\n", store_errmsg(s));
                return EXIT_FAILURE;
        }
        if (arg_json) {
                r = list_json(list, n, now);
        } else if (n == 0) {
                printf("No alerts.\n");
                r = EXIT_SUCCESS;
        } else {
                printf("%-16s  %-6s  %-8s  %-14s  %-9s  %-24s  %-20s  %s\n", "ID", "STATE",
                       "SEVERITY", "DUE", "NETWORK", "AUTHOR", "RULES", "TEXT");
                for (size_t i = 0; i < n; i++) {
                        Alert *a = &list[i];
                        char left[48];
                        _cleanup_free_ char *rules = NULL;
                        cJSON *rj = cJSON_Parse(a->rules_json ? a->rules_json : "[]");
                        const cJSON *it;
                        size_t rl = 0;
                        rules = calloc(1, 256);
                        cJSON_ArrayForEach(it, rj) if (rules && cJSON_IsString(it)) {
                                int w = snprintf(rules + rl, 256 - rl, "%s%s", rl ? "," : "",
                                                 it->valuestring);
                                if (w > 0 && rl + (size_t)w < 256)
                                        rl += (size_t)w;
                        }
                        cJSON_Delete(rj);
                        time_left(a, now, left, sizeof(left));
                        bool overdue = strcmp(a->state, "open") == 0 && a->due_usec < now;
                        printf("%-16s  %-6s  %-8s  ", a->id, a->state, a->severity);
                        if (tty && overdue)
                                fputs("\033[1;31m", stdout);
                        printf("%-14s", left);
                        if (tty && overdue)
                                fputs("\033[0m", stdout);
                        printf("  %-9s  ", a->network);
                        print_cell(a->author_handle ? a->author_handle : "-", 24);
                        fputs("  ", stdout);
                        print_cell(rules ? rules : "", 20);
                        fputs("  ", stdout);
                        print_cell(a->text, 60);
                        fputc('\n', stdout);
                }
                printf("\n%zu alert%s\n", n, n == 1 ? "" : "s");
                r = EXIT_SUCCESS;
        }
        for (size_t i = 0; i < n; i++)
                alert_done(&list[i]);
        free(list);
        return r;
}

static int open_store(Config *cfg, Store **ret) {
        _cleanup_free_ char *state_dir = NULL, *db = NULL;
        ManagerOptions o = {.state_dir = arg_state_dir};

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
        int r = store_open(db, true, ret);
        if (r < 0) {
                fprintf(stderr, "earshotctl: cannot open %s: %s\n", db, strerror(-r));
                return r;
        }
        return 0;
}

int main(int argc, char **argv) {
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
        _cleanup_strv_free_ char **rules = NULL;
        int c;
        while ((c = getopt_long(argc, argv, "s:c:Vh", options, NULL)) >= 0)
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
                        if (strcmp(optarg, "auto") == 0)
                                arg_color = -1;
                        else if (strcmp(optarg, "always") == 0)
                                arg_color = 1;
                        else if (strcmp(optarg, "never") == 0)
                                arg_color = 0;
                        else {
                                fprintf(stderr, "earshotctl: --color takes auto, always or "
                                                "never\n");
                                return EXIT_FAILURE;
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
                                return EXIT_FAILURE;
                        }
                        arg_followers = v;
                        break;
                }
                case ARG_SINCE:
                        if (parse_duration(optarg, &arg_since) < 0) {
                                fprintf(stderr, "earshotctl: --since takes a duration such as "
                                                "12h or 7d\n");
                                return EXIT_FAILURE;
                        }
                        break;
                case ARG_RULES:
                        if (access(optarg, R_OK) < 0) {
                                fprintf(stderr, "earshotctl: cannot read %s: %s\n", optarg,
                                        strerror(errno));
                                return EXIT_FAILURE;
                        }
                        if (strv_extend(&rules, optarg) < 0)
                                return EXIT_FAILURE;
                        arg_rules = rules;
                        break;
                case ARG_RATING: {
                        char *end;
                        long v = strtol(optarg, &end, 10);
                        if (*end || end == optarg || v < 1 || v > 5) {
                                fprintf(stderr, "earshotctl: --rating takes 1 to 5 stars\n");
                                return EXIT_FAILURE;
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
                                return EXIT_FAILURE;
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
                        return EXIT_FAILURE;
                }
        if (optind >= argc) {
                fprintf(stderr, "earshotctl: missing command. Try 'earshotctl --help'.\n");
                return EXIT_FAILURE;
        }
        const char *cmd = argv[optind];
        int n_args = argc - optind - 1;
        bool explicit_config = arg_config != NULL;
        if (!arg_config)
                arg_config = DEFAULT_CONFIG;

        if (strcmp(cmd, "test-rules") == 0 || strcmp(cmd, "explain") == 0) {
                if (n_args != 1) {
                        fprintf(stderr, "earshotctl: %s takes one argument (%s). Try "
                                        "'earshotctl --help'.\n",
                                cmd, strcmp(cmd, "explain") == 0 ? "the text" : "a file, or -");
                        return EXIT_FAILURE;
                }
                return strcmp(cmd, "explain") == 0 ? ctl_explain(argv[optind + 1])
                                                   : ctl_test_rules(argv[optind + 1]);
        }
        if (strcmp(cmd, "poll") == 0) {
                if (n_args != 1) {
                        fprintf(stderr, "earshotctl: poll takes the name of a source\n");
                        return EXIT_FAILURE;
                }
                return ctl_poll(argv[optind + 1], arg_pages);
        }
        if (strcmp(cmd, "sources") == 0) {
                _cleanup_(config_freep) Config *cfg = NULL;
                Store *s = NULL;
                if (n_args != 0) {
                        fprintf(stderr, "earshotctl: sources takes no arguments\n");
                        return EXIT_FAILURE;
                }
                if (ctl_load_config(arg_config, NULL, &cfg) < 0)
                        return EXIT_FAILURE;
                if (open_store(cfg, &s) < 0)
                        return EXIT_FAILURE;
                int r = ctl_sources(s, cfg);
                store_free(s);
                return r;
        }
        if (strcmp(cmd, "backtest") == 0) {
                _cleanup_(config_freep) Config *cfg = NULL;
                Store *s = NULL;
                if (n_args != 0) {
                        fprintf(stderr, "earshotctl: backtest takes no arguments\n");
                        return EXIT_FAILURE;
                }
                if (ctl_load_config(arg_config, NULL, &cfg) < 0)
                        return EXIT_FAILURE;
                if (open_store(cfg, &s) < 0)
                        return EXIT_FAILURE;
                int r = ctl_backtest(s, cfg);
                store_free(s);
                return r;
        }
        if (strcmp(cmd, "list") != 0) {
                fprintf(stderr, "earshotctl: unknown command '%s'. Try 'earshotctl --help'.\n",
                        cmd);
                return EXIT_FAILURE;
        }

        /* list: the state directory from --state-dir, else the config's, else the default */
        Config *cfg = NULL;
        if (!arg_state_dir && (explicit_config || access(arg_config, R_OK) == 0)) {
                PluginRegistry *reg = NULL;
                const char *pd = getenv("EARSHOT_PLUGIN_DIR");
                if (plugin_registry_new(&reg) >= 0 &&
                    config_load(arg_config, isempty(pd) ? NULL : pd, reg, NULL, NULL, &cfg) < 0)
                        cfg = NULL;
                if (!cfg && explicit_config)
                        fprintf(stderr, "earshotctl: note: %s could not be fully read; "
                                        "use --state-dir if the default is wrong\n",
                                arg_config);
                plugin_registry_free(reg);
        }
        Store *s = NULL;
        int r = open_store(cfg, &s);
        config_free(cfg);
        if (r < 0)
                return EXIT_FAILURE;
        r = cmd_list(s);
        store_free(s);
        return r;
}
