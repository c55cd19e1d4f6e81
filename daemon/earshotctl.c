/* SPDX-License-Identifier: MIT */
/*
 * earshotctl.c - the command-line tool for the team and the sysadmin. It opens the daemon's
 * store read-only (SQLite WAL lets it read while earshotd writes) and prints what is there.
 */
#include <cjson/cJSON.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "earshot-build.h"
#include "log.h"
#include "manager.h"
#include "store.h"
#include "util/cleanup.h"

static const char *arg_config;
static const char *arg_state_dir;
static bool arg_json;

static void help(void) {
        printf("Usage: earshotctl [OPTIONS] COMMAND\n"
               "\n"
               "Commands:\n"
               "  list                 the alerts in the store, by due time\n"
               "\n"
               "Options:\n"
               "  -s, --state-dir DIR  the daemon's state directory (default: from --config,\n"
               "                       $STATE_DIRECTORY, or %s)\n"
               "  -c, --config PATH    read state_dir from this configuration\n"
               "      --json           machine-readable output\n"
               "  -V, --version        print the version and exit\n"
               "  -h, --help           show this help and exit\n",
               DEFAULT_STATE_DIR);
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

int main(int argc, char **argv) {
        enum { ARG_JSON = 0x100 };
        static const struct option options[] = {
                {"state-dir", required_argument, NULL, 's'},
                {"config", required_argument, NULL, 'c'},
                {"json", no_argument, NULL, ARG_JSON},
                {"version", no_argument, NULL, 'V'},
                {"help", no_argument, NULL, 'h'},
                {},
        };
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
        if (strcmp(cmd, "list") != 0) {
                fprintf(stderr, "earshotctl: unknown command '%s'. Try 'earshotctl --help'.\n",
                        cmd);
                return EXIT_FAILURE;
        }

        /* The state directory: --state-dir, else the config's state_dir, else the default. */
        _cleanup_free_ char *state_dir = NULL, *db = NULL;
        ManagerOptions o = {.state_dir = arg_state_dir};
        Config *cfg = NULL;
        if (!arg_state_dir && arg_config) {
                PluginRegistry *reg = NULL;
                const char *pd = getenv("EARSHOT_PLUGIN_DIR");
                if (plugin_registry_new(&reg) >= 0 &&
                    config_load(arg_config, isempty(pd) ? NULL : pd, reg, NULL, NULL, &cfg) < 0)
                        cfg = NULL;
                if (!cfg)
                        fprintf(stderr, "earshotctl: note: %s could not be fully read; "
                                        "use --state-dir if the default is wrong\n",
                                arg_config);
                plugin_registry_free(reg);
        }
        state_dir = manager_state_dir(&o, cfg);
        config_free(cfg);
        if (!state_dir || asprintf(&db, "%s/%s", state_dir, STORE_FILE) < 0) {
                fprintf(stderr, "earshotctl: out of memory\n");
                return EXIT_FAILURE;
        }
        if (access(db, F_OK) < 0) {
                fprintf(stderr, "earshotctl: no store at %s (has earshotd run with this state "
                                "directory?)\n",
                        db);
                return EXIT_FAILURE;
        }
        Store *s = NULL;
        int r = store_open(db, true, &s);
        if (r < 0) {
                fprintf(stderr, "earshotctl: cannot open %s: %s\n", db, strerror(-r));
                return EXIT_FAILURE;
        }
        r = cmd_list(s);
        store_free(s);
        return r;
}
