/* SPDX-License-Identifier: MIT */
/*
 * ctl-sources.c - earshotctl's tools for the person configuring sources: `poll NAME` (poll a
 * source once, now, and print what its plugin parsed, touching neither the store nor any
 * cursor) and `sources` (every configured source and feed with its last poll, status, next
 * poll, backoff, rate-limit state, posts seen and coverage gaps, from the daemon's store).
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "manager.h"
#include "util/cleanup.h"
#include "util/strv.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(cJSON *, cJSON_Delete);

/* ---- poll --------------------------------------------------------------------------------- */

typedef struct PollPrint {
        size_t n;
} PollPrint;

static void add_str(cJSON *o, const char *key, const char *v) {
        if (v)
                cJSON_AddStringToObject(o, key, v);
        else
                cJSON_AddNullToObject(o, key);
}

static void add_count(cJSON *o, const char *key, int64_t v) {
        if (v >= 0)
                cJSON_AddNumberToObject(o, key, (double)v);
        else
                cJSON_AddNullToObject(o, key);
}

static void print_post(const struct earshot_post *p, void *userdata) {
        PollPrint *pp = userdata;
        char t[32];

        pp->n++;
        if (arg_json) {
                _cleanup_(cJSON_Deletep) cJSON *o = cJSON_CreateObject();
                if (!o)
                        return;
                add_str(o, "id", p->id);
                add_str(o, "network", p->network);
                add_str(o, "url", p->url);
                add_str(o, "title", p->size >= sizeof(*p) ? p->title : NULL);
                add_str(o, "text", p->text);
                add_str(o, "author_handle", p->author_handle);
                add_str(o, "author_name", p->author_name);
                add_count(o, "author_followers", p->author_followers);
                add_str(o, "lang", p->lang);
                add_str(o, "created_at",
                        p->created_usec > 0 ? format_timestamp(t, sizeof(t), p->created_usec)
                                            : NULL);
                add_str(o, "reply_to", p->size >= sizeof(*p) ? p->reply_to : NULL);
                add_count(o, "replies", p->replies);
                add_count(o, "reposts", p->reposts);
                add_count(o, "likes", p->likes);
                if (p->size >= sizeof(*p) && p->rating > 0)
                        cJSON_AddNumberToObject(o, "rating", (double)p->rating);
                if (p->size >= sizeof(*p) && p->edited_usec > 0)
                        add_str(o, "edited_at", format_timestamp(t, sizeof(t), p->edited_usec));
                _cleanup_free_ char *s = cJSON_PrintUnformatted(o);
                if (s)
                        puts(s);
                return;
        }
        printf("%s\n", p->id);
        if (p->url)
                printf("  url:     %s\n", p->url);
        printf("  author:  %s%s%s%s", p->author_handle ? p->author_handle : "?",
               p->author_name ? " (" : "", p->author_name ? p->author_name : "",
               p->author_name ? ")" : "");
        if (p->author_followers >= 0)
                printf(", %" PRId64 " followers", p->author_followers);
        printf("\n  created: %s%s%s\n",
               p->created_usec > 0 ? format_timestamp(t, sizeof(t), p->created_usec) : "unknown",
               p->lang ? ", lang " : "", p->lang ? p->lang : "");
        if (p->size >= sizeof(*p) && p->title)
                printf("  title:   %s\n", p->title);
        if (p->size >= sizeof(*p) && p->rating > 0)
                printf("  rating:  %" PRId64 " of 5\n", p->rating);
        printf("  text:    ");
        for (const char *c = p->text; *c; c++)
                fputc(*c == '\n' ? ' ' : *c, stdout);
        fputs("\n\n", stdout);
}

int ctl_poll(const char *name, unsigned max_pages) {
        _cleanup_(manager_freep) Manager *m = NULL;
        ManagerOptions o = {.config_path = arg_config, .log_level_forced = true};
        unsigned n_errors = 0;
        int r;

        /* quiet: the tool prints posts; problems come back as errors */
        log_set_max_level(LOG_WARNING);
        r = manager_new(&o, &m);
        if (r < 0) {
                fprintf(stderr, "earshotctl: cannot set up: %s\n", strerror(-r));
                return EXIT_FAILURE;
        }
        r = instances_load(m, arg_config, ctl_print_config_error, &n_errors, &m->inst);
        if (r < 0) {
                fprintf(stderr, "earshotctl: %s: configuration is invalid\n", arg_config);
                return EXIT_FAILURE;
        }
        Source *s = NULL;
        for (size_t i = 0; i < m->inst.n_sources && !s; i++)
                if (strcmp(m->inst.sources[i].cfg->name, name) == 0)
                        s = &m->inst.sources[i];
        if (!s) {
                _cleanup_strv_free_ char **names = NULL;
                for (size_t i = 0; i < m->inst.n_sources; i++)
                        (void)strv_extend(&names, m->inst.sources[i].cfg->name);
                _cleanup_free_ char *list = names ? strv_join(names, ", ") : NULL;
                fprintf(stderr, "earshotctl: no source named '%s' in %s (sources: %s)\n", name,
                        arg_config, list ? list : "none");
                return EXIT_FAILURE;
        }

        int status = EXIT_SUCCESS;
        for (size_t i = 0; i < s->n_feeds; i++) {
                PollPrint pp = {};
                char err[1024] = "";
                if (!arg_json)
                        printf("== %s (feed %zu of %zu)\n\n", s->feeds[i].key, i + 1, s->n_feeds);
                r = manager_poll_once(m, s, i, max_pages, print_post, &pp, err, sizeof(err));
                if (r < 0) {
                        fprintf(stderr, "earshotctl: %s: %s\n", s->feeds[i].key, err);
                        status = EXIT_FAILURE;
                        continue;
                }
                if (!arg_json)
                        printf("%zu post%s parsed from %s\n\n", pp.n, pp.n == 1 ? "" : "s",
                               s->feeds[i].key);
        }
        return status;
}

/* ---- sources ------------------------------------------------------------------------------ */

static void ago(char *buf, size_t len, int64_t t, int64_t now) {
        char d[32];
        if (t <= 0)
                snprintf(buf, len, "never");
        else if (t <= now)
                snprintf(buf, len, "%s ago", format_duration(d, sizeof(d), (usec_t)(now - t)));
        else
                snprintf(buf, len, "in %s", format_duration(d, sizeof(d), (usec_t)(t - now)));
}

int ctl_sources(Store *st, const Config *cfg) {
        FeedRow *rows = NULL;
        size_t n = 0;
        int64_t now = (int64_t)now_usec(CLOCK_REALTIME);
        char a[48], b[48], c[48];
        int r;

        r = store_list_feeds(st, &rows, &n);
        if (r < 0) {
                fprintf(stderr, "earshotctl: cannot read the feeds: %s\n", strerror(-r));
                return EXIT_FAILURE;
        }
        _cleanup_(cJSON_Deletep) cJSON *json = arg_json ? cJSON_CreateArray() : NULL;
        for (size_t i = 0; cfg && i < cfg->n_sources; i++) {
                const SourceConfig *sc = &cfg->sources[i];
                size_t shown = 0;
                if (!arg_json)
                        printf("%s (%s)%s, every %s\n", sc->name, sc->type,
                               sc->enabled ? "" : " [disabled]",
                               format_duration(a, sizeof(a), sc->interval));
                for (size_t k = 0; k < n; k++) {
                        const FeedRow *f = &rows[k];
                        if (!f->source || strcmp(f->source, sc->name) != 0)
                                continue;
                        shown++;
                        /* a blocked feed's last error starts with the core's marker */
                        bool blocked = f->failures > 0 && f->last_error &&
                                       strncmp(f->last_error, "needs attention: ", 17) == 0;
                        const char *state = blocked                  ? "NEEDS ATTENTION"
                                            : f->silent_since_usec > 0 ? "SILENT"
                                            : f->failures > 0        ? "failing"
                                            : f->polls > 0           ? "ok"
                                                                     : "not polled yet";
                        if (arg_json) {
                                cJSON *o = cJSON_CreateObject();
                                add_str(o, "source", sc->name);
                                add_str(o, "feed", f->feed);
                                add_str(o, "state", state);
                                add_count(o, "polls", f->polls);
                                add_count(o, "failures", f->failures);
                                add_str(o, "last_error", f->last_error);
                                add_str(o, "cursor", f->cursor);
                                add_str(o, "last_success",
                                        f->last_success_usec > 0
                                                ? format_timestamp(a, sizeof(a), f->last_success_usec)
                                                : NULL);
                                add_str(o, "last_failure",
                                        f->last_failure_usec > 0
                                                ? format_timestamp(b, sizeof(b), f->last_failure_usec)
                                                : NULL);
                                add_str(o, "next_poll",
                                        f->next_poll_usec > 0
                                                ? format_timestamp(c, sizeof(c), f->next_poll_usec)
                                                : NULL);
                                add_str(o, "ratelimit", f->ratelimit);
                                add_count(o, "posts_seen", f->posts_seen);
                                add_count(o, "not_modified", f->not_modified);
                                cJSON_AddBoolToObject(o, "conditional", f->conditional);
                                add_count(o, "gaps", f->gaps);
                                if (f->silent_since_usec > 0)
                                        add_str(o, "silent_since",
                                                format_timestamp(a, sizeof(a), f->silent_since_usec));
                                cJSON_AddItemToArray(json, o);
                                continue;
                        }
                        const char *fname = strchr(f->feed, '/') ? strchr(f->feed, '/') + 1
                                                                 : f->feed;
                        printf("  %s\n", fname);
                        ago(a, sizeof(a), f->last_success_usec, now);
                        ago(b, sizeof(b), f->next_poll_usec, now);
                        printf("    %s; last success %s; next poll %s\n", state, a, b);
                        if (f->failures > 0) {
                                ago(c, sizeof(c), f->last_failure_usec, now);
                                printf("    %" PRId64 " failure%s in a row (%s), last %s: %s\n",
                                       f->failures, f->failures == 1 ? "" : "s",
                                       blocked ? "checked again every 15 min or so"
                                               : "backing off",
                                       c, f->last_error ? f->last_error : "?");
                        }
                        if (f->silent_since_usec > 0) {
                                ago(c, sizeof(c), f->silent_since_usec, now);
                                printf("    silent since %s (an operator alert was raised)\n", c);
                        }
                        ago(c, sizeof(c), f->last_post_usec, now);
                        printf("    %" PRId64 " poll%s, %" PRId64 " posts seen (last %s)", f->polls,
                               f->polls == 1 ? "" : "s", f->posts_seen, c);
                        if (f->conditional || f->not_modified > 0)
                                printf(", %" PRId64 " not modified", f->not_modified);
                        printf("; rate limit: %s\n", f->ratelimit ? f->ratelimit : "-");
                        if (f->gaps > 0) {
                                ago(c, sizeof(c), f->last_gap_usec, now);
                                printf("    %" PRId64 " coverage gap%s (last recorded %s): some "
                                       "posts may have been missed\n",
                                       f->gaps, f->gaps == 1 ? "" : "s", c);
                        }
                }
                if (!arg_json && shown == 0)
                        printf("  (no feed polled yet)\n");
                if (!arg_json)
                        putchar('\n');
        }
        if (json) {
                _cleanup_free_ char *s = cJSON_Print(json);
                if (s)
                        puts(s);
        }
        for (size_t i = 0; i < n; i++)
                feed_row_done(&rows[i]);
        free(rows);
        return EXIT_SUCCESS;
}
