/* SPDX-License-Identifier: MIT */
/*
 * main.c - earshotd's command line. Runs in the foreground, as systemd expects (no forking,
 * no PID file); everything else lives in the Manager.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>

#include "earshot-build.h"
#include "log.h"
#include "manager.h"
#include "util/cleanup.h"
#include "util/strv.h"

static const char *arg_config = DEFAULT_CONFIG;
static const char *arg_state_dir;
static const char *arg_plugin_dir;
static const char *arg_describe;
static const char *arg_describe_all; /* --describe-plugins[=FORMAT]: "text" or "scdoc" */
static bool arg_check;
static bool arg_once;
static int arg_log_level = -1;

static void help(void) {
        printf("Usage: earshotd [OPTIONS]\n"
               "\n"
               "Watch public feeds for complaints about a brand and make sure each one is\n"
               "answered in time: matching posts become alerts with a due time, delivered to\n"
               "the team through notifiers.\n"
               "\n"
               "  -c, --config PATH        configuration file (default %s)\n"
               "  -n, --check-config       validate the configuration, print a summary, exit\n"
               "      --once               poll every feed once, deliver what is due, exit\n"
               "  -s, --state-dir DIR      where the store lives (default: config state_dir,\n"
               "                           $STATE_DIRECTORY, or %s)\n"
               "  -p, --plugin-dir DIR     where plugins live (default: $EARSHOT_PLUGIN_DIR,\n"
               "                           config plugin_dir, or %s)\n"
               "      --describe-plugin KIND-TYPE   list a plugin's options (e.g. source-mastodon)\n"
               "      --describe-plugins[=FORMAT]   the same for every plugin in the plugin\n"
               "                           directory; FORMAT text (default) or scdoc\n"
               "  -l, --log-level LEVEL    err, warning, notice, info (default), debug\n"
               "  -V, --version            print the version and exit\n"
               "  -h, --help               show this help and exit\n"
               "\n"
               "Signals: SIGHUP reloads the configuration (a bad one is refused and the running\n"
               "one kept); SIGTERM or SIGINT stops.\n",
               DEFAULT_CONFIG, DEFAULT_STATE_DIR, PLUGINDIR);
}

static int parse_argv(int argc, char **argv) {
        enum { ARG_ONCE = 0x100, ARG_DESCRIBE, ARG_DESCRIBE_ALL };
        static const struct option options[] = {
                {"config", required_argument, NULL, 'c'},
                {"check-config", no_argument, NULL, 'n'},
                {"once", no_argument, NULL, ARG_ONCE},
                {"state-dir", required_argument, NULL, 's'},
                {"plugin-dir", required_argument, NULL, 'p'},
                {"describe-plugin", required_argument, NULL, ARG_DESCRIBE},
                {"describe-plugins", optional_argument, NULL, ARG_DESCRIBE_ALL},
                {"log-level", required_argument, NULL, 'l'},
                {"version", no_argument, NULL, 'V'},
                {"help", no_argument, NULL, 'h'},
                {},
        };
        int c;
        while ((c = getopt_long(argc, argv, "c:ns:p:l:Vh", options, NULL)) >= 0)
                switch (c) {
                case 'c':
                        arg_config = optarg;
                        break;
                case 'n':
                        arg_check = true;
                        break;
                case ARG_ONCE:
                        arg_once = true;
                        break;
                case 's':
                        arg_state_dir = optarg;
                        break;
                case 'p':
                        arg_plugin_dir = optarg;
                        break;
                case ARG_DESCRIBE:
                        arg_describe = optarg;
                        break;
                case ARG_DESCRIBE_ALL:
                        arg_describe_all = optarg ? optarg : "text";
                        if (!streq(arg_describe_all, "text") && !streq(arg_describe_all, "scdoc")) {
                                fprintf(stderr, "earshotd: --describe-plugins takes text or "
                                                "scdoc, not '%s'\n",
                                        arg_describe_all);
                                return -EINVAL;
                        }
                        break;
                case 'l':
                        arg_log_level = log_level_from_string(optarg);
                        if (arg_log_level < 0) {
                                fprintf(stderr, "earshotd: invalid log level '%s' (err, warning, "
                                                "notice, info, debug)\n",
                                        optarg);
                                return -EINVAL;
                        }
                        break;
                case 'V':
                        printf("earshotd %s (plugin ABI %d)\n", PACKAGE_VERSION,
                               EARSHOT_PLUGIN_ABI);
                        return 0;
                case 'h':
                        help();
                        return 0;
                default:
                        fprintf(stderr, "Try 'earshotd --help'.\n");
                        return -EINVAL;
                }
        if (optind < argc) {
                fprintf(stderr, "earshotd: unexpected argument '%s'. Try 'earshotd --help'.\n",
                        argv[optind]);
                return -EINVAL;
        }
        return 1;
}

static void print_error(const char *msg, void *userdata) {
        fprintf(stderr, "%s\n", msg);
        (*(unsigned *)userdata)++;
}

static const char *type_name(uint32_t t) {
        switch (t) {
        case EARSHOT_OPT_STRING: return "string";
        case EARSHOT_OPT_INT: return "integer";
        case EARSHOT_OPT_BOOL: return "boolean";
        case EARSHOT_OPT_DURATION: return "duration";
        case EARSHOT_OPT_STRLIST: return "list of strings";
        case EARSHOT_OPT_URL: return "URL";
        case EARSHOT_OPT_PATH: return "path";
        default: return "?";
        }
}

static int describe_plugin(Manager *m, const char *what) {
        const char *dir = arg_plugin_dir ? arg_plugin_dir : getenv("EARSHOT_PLUGIN_DIR");
        uint32_t kind = strncmp(what, "source-", 7) == 0   ? EARSHOT_PLUGIN_SOURCE
                        : strncmp(what, "notify-", 7) == 0 ? EARSHOT_PLUGIN_NOTIFIER
                                                           : 0;
        const Plugin *p;
        char err[768];

        if (!kind) {
                fprintf(stderr, "earshotd: name a plugin as source-TYPE or notify-TYPE\n");
                return EXIT_FAILURE;
        }
        if (plugin_registry_get(m->registry, isempty(dir) ? PLUGINDIR : dir, kind, what + 7, &p,
                                err, sizeof(err)) < 0) {
                fprintf(stderr, "earshotd: %s\n", err);
                return EXIT_FAILURE;
        }
        printf("%s: %s\n\nOptions:\n", what, p->desc->description ? p->desc->description : "");
        int w = 16; /* the name column fits the longest name */
        for (const struct earshot_option *o = p->desc->options; o && o->name; o++)
                if ((int)strlen(o->name) > w)
                        w = (int)strlen(o->name);
        for (const struct earshot_option *o = p->desc->options; o && o->name; o++)
                printf("  %-*s %s%s%s%s%s%s%s\n  %*s %s\n", w, o->name,
                       type_name(o->type), o->flags & EARSHOT_OPT_REQUIRED ? ", required" : "",
                       o->flags & EARSHOT_OPT_SECRET ? ", secret (or " : "",
                       o->flags & EARSHOT_OPT_SECRET ? o->name : "",
                       o->flags & EARSHOT_OPT_SECRET ? "_file: PATH)" : "",
                       o->def && o->def[0] ? ", default " : "",
                       o->def && o->def[0] ? o->def : "", w, "",
                       o->description ? o->description : "");
        return EXIT_SUCCESS;
}

/* A plugin's text in scdoc: its markup (*bold*, _underline_) and escape character escaped. */
static void scdoc_puts(const char *s) {
        for (; s && *s; s++)
                printf("%s%c", strchr("\\*_", *s) ? "\\" : "", *s);
}

/*
 * --describe-plugins: every plugin module in the plugin directory, sources first, then
 * notifiers, each sorted by type. FORMAT "text" prints each as --describe-plugin does; "scdoc"
 * prints the sections of earshot.yaml(5) that list them (the build substitutes these into the
 * page, so the page lists exactly the options this daemon validates).
 */
static int describe_plugins(Manager *m, const char *format) {
        const char *dir = arg_plugin_dir ? arg_plugin_dir : getenv("EARSHOT_PLUGIN_DIR");
        bool scdoc = streq(format, "scdoc");
        struct dirent **de = NULL;
        size_t shown = 0;
        int r = EXIT_SUCCESS;

        if (isempty(dir))
                dir = PLUGINDIR;
        int n = scandir(dir, &de, NULL, alphasort);
        if (n < 0) {
                fprintf(stderr, "earshotd: cannot read the plugin directory %s: %s\n", dir,
                        strerror(errno));
                return EXIT_FAILURE;
        }
        for (int pass = 0; pass < 2; pass++) {
                uint32_t kind = pass == 0 ? EARSHOT_PLUGIN_SOURCE : EARSHOT_PLUGIN_NOTIFIER;
                const char *prefix = plugin_kind_prefix(kind);
                size_t plen = strlen(prefix), n_kind = 0;

                if (scdoc)
                        printf("# %s TYPES\n\nThe *type* of an entry of *%s*, and what else it "
                               "takes besides the keys every %s takes (see *%s*). This "
                               "list is made from the plugins built with earshot %s; "
                               "*earshotd --describe-plugin %s-*_TYPE_ shows the same for "
                               "any plugin installed.\n\n",
                               pass == 0 ? "SOURCE" : "NOTIFIER",
                               pass == 0 ? "sources" : "notifiers",
                               pass == 0 ? "source" : "notifier",
                               pass == 0 ? "SOURCES" : "NOTIFIERS", PACKAGE_VERSION, prefix);
                for (int i = 0; i < n; i++) {
                        const char *f = de[i]->d_name;
                        size_t l = strlen(f);
                        const Plugin *p;
                        char what[128], err[768];

                        if (strncmp(f, prefix, plen) != 0 || f[plen] != '-' || l <= plen + 4 ||
                            !streq(f + l - 3, ".so") || l - 3 >= sizeof(what))
                                continue;
                        snprintf(what, sizeof(what), "%.*s", (int)(l - 3), f);
                        n_kind++;
                        if (!scdoc) {
                                if (shown++ > 0)
                                        putchar('\n');
                                if (describe_plugin(m, what) != EXIT_SUCCESS)
                                        r = EXIT_FAILURE;
                                continue;
                        }
                        if (plugin_registry_get(m->registry, dir, kind, what + plen + 1, &p, err,
                                                sizeof(err)) < 0) {
                                fprintf(stderr, "earshotd: %s\n", err);
                                r = EXIT_FAILURE;
                                continue;
                        }
                        shown++;
                        printf("## ");
                        scdoc_puts(p->desc->name);
                        printf("\n\n");
                        const char *d = p->desc->description;
                        if (!isempty(d)) {
                                putchar(d[0] >= 'a' && d[0] <= 'z' ? d[0] - 'a' + 'A' : d[0]);
                                scdoc_puts(d + 1);
                                printf("%s ", d[strlen(d) - 1] == '.' ? "" : ".");
                        }
                        printf("(_%s_)\n\n", f);
                        if (!p->desc->options || !p->desc->options[0].name)
                                printf("It takes no keys besides the common ones.\n\n");
                        for (const struct earshot_option *o = p->desc->options; o && o->name;
                             o++) {
                                bool secret = o->flags & EARSHOT_OPT_SECRET;
                                putchar('*');
                                scdoc_puts(o->name);
                                if (secret) {
                                        printf("*, *");
                                        scdoc_puts(o->name);
                                        printf("\\_file");
                                }
                                printf("* (%s%s%s", type_name(o->type),
                                       o->flags & EARSHOT_OPT_REQUIRED ? ", required" : "",
                                       secret ? ", secret" : "");
                                if (!isempty(o->def)) {
                                        printf(", default: ");
                                        scdoc_puts(o->def);
                                }
                                printf(")\n\t");
                                /* not a list or a table: a line may not start with those */
                                if (!isempty(o->description) && strchr("-[|`", o->description[0]))
                                        putchar('\\');
                                scdoc_puts(o->description);
                                if (secret) {
                                        printf("%sSecret: give the value, or the file that "
                                               "holds it as *",
                                               isempty(o->description) ? "" : ". ");
                                        scdoc_puts(o->name);
                                        printf("\\_file:* _PATH_ (see *SECRETS*).");
                                }
                                printf("\n\n");
                        }
                }
                if (scdoc && n_kind == 0)
                        printf("No %s plugin was found in _%s_.\n\n", prefix, dir);
        }
        for (int i = 0; i < n; i++)
                free(de[i]);
        free(de);
        if (shown == 0) {
                fprintf(stderr, "earshotd: no plugins in %s\n", dir);
                return EXIT_FAILURE;
        }
        return r;
}

int main(int argc, char **argv) {
        _cleanup_(manager_freep) Manager *m = NULL;
        int r;

        log_setup();
        r = parse_argv(argc, argv);
        if (r <= 0)
                return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
        if (arg_log_level >= 0)
                log_set_max_level(arg_log_level);

        signal(SIGPIPE, SIG_IGN);
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
                log_error("cannot initialize libcurl");
                return EXIT_FAILURE;
        }

        ManagerOptions o = {
                .config_path = arg_config,
                .state_dir = arg_state_dir,
                .plugin_dir = arg_plugin_dir,
                .once = arg_once,
                .log_level_forced = arg_log_level >= 0,
        };
        r = manager_new(&o, &m);
        if (r < 0) {
                log_error_errno(r, "cannot set up: %s", strerror(-r));
                return EXIT_FAILURE;
        }

        if (arg_describe)
                return describe_plugin(m, arg_describe);
        if (arg_describe_all)
                return describe_plugins(m, arg_describe_all);

        if (arg_check) {
                Instances in = {};
                unsigned n_errors = 0;
                r = instances_load(m, arg_config, print_error, &n_errors, &in);
                if (r < 0) {
                        fprintf(stderr, "%s: %u error%s, configuration is invalid\n", arg_config,
                                n_errors, n_errors == 1 ? "" : "s");
                        return EXIT_FAILURE;
                }
                STRV_FOREACH(w, in.config->warnings)
                        fprintf(stderr, "%s\n", *w);
                config_dump_summary(in.config, stdout);
                _cleanup_free_ char *sd = manager_state_dir(&o, in.config);
                printf("  state directory: %s\n", strna(sd));
                instances_done(&in);
                return EXIT_SUCCESS;
        }

        r = manager_start(m);
        if (r < 0)
                return EXIT_FAILURE;
        r = manager_run(m);
        m = manager_free(m);
        curl_global_cleanup();
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
