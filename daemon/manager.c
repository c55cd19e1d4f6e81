/* SPDX-License-Identifier: MIT */
/*
 * manager.c - the daemon's root: one sd-event loop owning signals, timers and every socket.
 *
 * A feed is polled when its timer fires: the plugin describes a request, http.c performs it
 * without blocking, the plugin turns the response into posts and a cursor, and everything the
 * response yields (seen posts, alerts, outbox rows, the new cursor) is written in ONE store
 * transaction. A crash at any instant therefore keeps or drops a whole response, never part
 * of one; the cursor never moves past a post whose alert was not written.
 *
 * Reload (SIGHUP) builds a complete new set of instances aside and swaps only when all of it
 * is valid; a bad config leaves the running one untouched. Stop (SIGTERM/SIGINT) aborts
 * transfers in flight (their results were not committed, so nothing is half-written) and
 * leaves the loop at once.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <cjson/cJSON.h>
#include <systemd/sd-daemon.h>

#include "dispatch.h"
#include "escalation.h"
#include "earshot-build.h"
#include "manager.h"
#include "normalize.h"
#include "rules.h"
#include "scheduler.h"
#include "util/cleanup.h"
#include "util/strv.h"

#define MAX_POSTS_PER_RESPONSE 2000
#define MAX_TEXT_BYTES (64u << 10)
#define MAX_FIELD_BYTES 2048
#define MAX_PAGES_HARD 50
#define MAX_BACKOFF (60 * USEC_PER_MINUTE)
/* a blocked feed (a person must act) is checked again no sooner than this */
#define BLOCKED_RETRY (15 * USEC_PER_MINUTE)
#define PRUNE_INTERVAL (6 * USEC_PER_HOUR)

/* ---- the sink: what one response yields ---------------------------------------------------- */

typedef struct SinkPost {
        struct earshot_post p; /* strings owned */
} SinkPost;

typedef struct SinkGap {
        int64_t from_usec, to_usec;
        char *reason; /* owned */
} SinkGap;

struct earshot_sink {
        SinkPost *posts;
        size_t n, cap;
        char *cursor;
        char *page;
        bool overflow;
        int64_t backoff_usec; /* the server asked (in the body) for this pause; 0 = none */
        SinkGap *gaps;        /* owned */
        size_t n_gaps;
        char *error;          /* the plugin's words for a failure; NULL = none */
        char **deleted;       /* owned: "network:id" of posts deleted at their source */
        size_t n_deleted;
};

static void sink_done(struct earshot_sink *s) {
        for (size_t i = 0; i < s->n; i++) {
                struct earshot_post *p = &s->posts[i].p;
                free((char *)p->id);
                free((char *)p->network);
                free((char *)p->url);
                free((char *)p->text);
                free((char *)p->author_handle);
                free((char *)p->author_name);
                free((char *)p->lang);
                free((char *)p->title);
                free((char *)p->reply_to);
        }
        free(s->posts);
        free(s->cursor);
        free(s->page);
        for (size_t i = 0; i < s->n_gaps; i++)
                free(s->gaps[i].reason);
        free(s->gaps);
        free(s->error);
        for (size_t i = 0; i < s->n_deleted; i++)
                free(s->deleted[i]);
        free(s->deleted);
        *s = (struct earshot_sink){};
}

/* Copy a plugin-supplied string: valid UTF-8, bounded, NULL stays NULL. */
static int copy_field(const char *in, size_t max, const char **out) {
        *out = NULL;
        if (!in)
                return 0;
        size_t len = strnlen(in, max);
        char *s = utf8_sanitize(in, len);
        if (!s)
                return -ENOMEM;
        *out = s;
        return 0;
}

static int host_emit_post(struct earshot_sink *s, const struct earshot_post *in) {
        if (!in || in->size < EARSHOT_POST_SIZE_V1 || isempty(in->id) ||
            isempty(in->network) || !in->text)
                return -EINVAL;
        if (s->n >= MAX_POSTS_PER_RESPONSE) {
                s->overflow = true;
                return -E2BIG;
        }
        if (s->n == s->cap) {
                size_t cap = s->cap ? s->cap * 2 : 32;
                SinkPost *np = realloc(s->posts, cap * sizeof(SinkPost));
                if (!np)
                        return -ENOMEM;
                s->posts = np;
                s->cap = cap;
        }
        struct earshot_post *p = &s->posts[s->n].p;
        *p = (struct earshot_post){
                .size = sizeof(*p),
                .author_followers = in->author_followers,
                .created_usec = in->created_usec,
                .replies = in->replies,
                .reposts = in->reposts,
                .likes = in->likes,
        };
        s->n++;
        if (copy_field(in->id, MAX_FIELD_BYTES, &p->id) < 0 ||
            copy_field(in->network, 64, &p->network) < 0 ||
            copy_field(in->url, MAX_FIELD_BYTES, &p->url) < 0 ||
            copy_field(in->text, MAX_TEXT_BYTES, &p->text) < 0 ||
            copy_field(in->author_handle, MAX_FIELD_BYTES, &p->author_handle) < 0 ||
            copy_field(in->author_name, MAX_FIELD_BYTES, &p->author_name) < 0 ||
            copy_field(in->lang, 64, &p->lang) < 0)
                return -ENOMEM;
        if (in->size >= sizeof(struct earshot_post)) {
                if (copy_field(in->title, MAX_FIELD_BYTES, &p->title) < 0 ||
                    copy_field(in->reply_to, MAX_FIELD_BYTES, &p->reply_to) < 0)
                        return -ENOMEM;
                p->rating = in->rating >= 1 && in->rating <= 5 ? in->rating : 0;
                p->edited_usec = in->edited_usec > 0 ? in->edited_usec : 0;
        }
        return 0;
}

static int host_set_backoff(struct earshot_sink *s, int64_t usec) {
        if (usec < 0)
                return -EINVAL;
        if (usec > s->backoff_usec)
                s->backoff_usec = usec;
        return 0;
}

static int host_report_gap(struct earshot_sink *s, int64_t from_usec, int64_t to_usec,
                           const char *reason) {
        if (s->n_gaps >= 16)
                return 0; /* one response, a few gaps at most: keep the first */
        SinkGap *ng = realloc(s->gaps, (s->n_gaps + 1) * sizeof(SinkGap));
        if (!ng)
                return -ENOMEM;
        s->gaps = ng;
        char *r = strndup(reason ? reason : "unknown", 200);
        if (!r)
                return -ENOMEM;
        ng[s->n_gaps++] = (SinkGap){.from_usec = from_usec, .to_usec = to_usec, .reason = r};
        return 0;
}

static int host_set_error(struct earshot_sink *s, const char *message) {
        const char *e = NULL;
        int r = copy_field(message, 400, &e);
        if (r < 0)
                return r;
        /* one line: the message ends up in a log line and a table cell */
        for (char *p = (char *)e; p && *p; p++)
                if ((unsigned char)*p < 0x20)
                        *p = ' ';
        free(s->error);
        s->error = (char *)e;
        return 0;
}

static int host_post_deleted(struct earshot_sink *s, const char *network, const char *id) {
        char *key;
        if (!network || !id || !*network || !*id)
                return -EINVAL;
        if (s->n_deleted >= 1000)
                return 0; /* more come with the next response */
        if (asprintf(&key, "%s:%s", network, id) < 0)
                return -ENOMEM;
        char **nl = realloc(s->deleted, sizeof(char *) * (s->n_deleted + 1));
        if (!nl) {
                free(key);
                return -ENOMEM;
        }
        s->deleted = nl;
        s->deleted[s->n_deleted++] = key;
        return 0;
}

/* ---- what a source keeps (state_get / state_set) --------------------------------------------- */

static Source *source_of(const struct earshot_host *host) {
        return (Source *)((char *)host - offsetof(Source, host));
}

static void source_state_load(Source *s) {
        Manager *m = s->manager;
        if (s->kv_loaded)
                return;
        s->kv_loaded = true;
        if (!m->store)
                return;
        int r = store_state_load(m->store, s->cfg->name, (int64_t)now_usec(CLOCK_REALTIME),
                                 &s->kv, &s->n_kv);
        if (r < 0)
                log_warning("%s cannot read its saved state: %s", s->prefix,
                            store_errmsg(m->store));
}

static const char *host_state_get(const struct earshot_host *host, const char *key) {
        Source *s = source_of(host);
        int64_t now = (int64_t)now_usec(CLOCK_REALTIME);
        if (!key)
                return NULL;
        source_state_load(s);
        for (size_t i = 0; i < s->n_kv; i++)
                if (streq(s->kv[i].key, key))
                        return s->kv[i].expires_usec == 0 || s->kv[i].expires_usec > now
                                       ? s->kv[i].value
                                       : NULL;
        return NULL;
}

static bool state_key_valid(const char *key) {
        size_t n = 0;
        for (const char *p = key; p && *p; p++, n++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                      (*p >= '0' && *p <= '9') || *p == '_' || *p == '.' || *p == '-'))
                        return false;
        return n > 0 && n <= 64;
}

static int host_state_set(const struct earshot_host *host, const char *key, const char *value,
                          int64_t expires_usec) {
        Source *s = source_of(host);
        Manager *m = s->manager;
        int64_t now = (int64_t)now_usec(CLOCK_REALTIME);
        size_t i;

        if (!state_key_valid(key) || (value && strlen(value) > 65536) || expires_usec < 0)
                return -EINVAL;
        source_state_load(s);
        if (m->store) {
                int r = store_state_set(m->store, s->cfg->name, key, value, expires_usec, now);
                if (r < 0) {
                        log_warning("%s cannot save its state '%s': %s", s->prefix, key,
                                    store_errmsg(m->store));
                        return r;
                }
        }
        for (i = 0; i < s->n_kv && !streq(s->kv[i].key, key); i++)
                ;
        if (i == s->n_kv) {
                if (!value)
                        return 0;
                StateEntry *nk = realloc(s->kv, sizeof(StateEntry) * (s->n_kv + 1));
                if (!nk)
                        return -ENOMEM;
                s->kv = nk;
                s->kv[s->n_kv] = (StateEntry){.key = strdup(key)};
                if (!s->kv[s->n_kv].key)
                        return -ENOMEM;
                s->n_kv++;
        }
        StateEntry *e = &s->kv[i];
        if (e->value)
                explicit_bzero(e->value, strlen(e->value));
        free(e->value);
        e->value = NULL;
        if (!value) {
                free(e->key);
                *e = s->kv[--s->n_kv];
                return 0;
        }
        e->value = strdup(value);
        e->expires_usec = expires_usec;
        return e->value ? 0 : -ENOMEM;
}

static int host_set_cursor(struct earshot_sink *s, const char *cursor) {
        char *c = NULL;
        if (cursor && !(c = strndup(cursor, 4096)))
                return -ENOMEM;
        free(s->cursor);
        s->cursor = c;
        return 0;
}

static int host_next_page(struct earshot_sink *s, const char *page) {
        char *c = NULL;
        if (!page || !(c = strndup(page, 4096)))
                return page ? -ENOMEM : -EINVAL;
        free(s->page);
        s->page = c;
        return 0;
}

/* ---- the host vtable ------------------------------------------------------------------------ */

static void host_log(const struct earshot_host *host, int priority, const char *format, ...) {
        const char *prefix = host->userdata ? (const char *)host->userdata : "[plugin]";
        char msg[2048];
        va_list ap;

        if (priority > log_get_max_level())
                return;
        va_start(ap, format);
        vsnprintf(msg, sizeof(msg), format, ap);
        va_end(ap);
        log_internal(priority < LOG_ERR ? LOG_ERR : priority > LOG_DEBUG ? LOG_DEBUG : priority, 0,
                     "%s %s", prefix, msg);
}

/* Fields "KEY=value" to the journal (with MESSAGE, PRIORITY and the plugin's prefix). */
static int host_log_fields(const struct earshot_host *host, int priority, const char *message,
                           const char *const *fields) {
        const char *prefix = host->userdata ? (const char *)host->userdata : "[plugin]";
        for (const char *const *f = fields; f && *f; f++) {
                const char *eq = strchr(*f, '=');
                if (!eq || eq == *f || **f == '_')
                        return -EINVAL;
                for (const char *k = *f; k < eq; k++)
                        if (!((*k >= 'A' && *k <= 'Z') || (*k >= '0' && *k <= '9') || *k == '_'))
                                return -EINVAL;
        }
        if (priority > log_get_max_level())
                return 0;
        return log_fields(priority < LOG_ERR ? LOG_ERR : priority > LOG_DEBUG ? LOG_DEBUG : priority,
                          prefix, message ? message : "", fields);
}

static int64_t host_now(const struct earshot_host *host) {
        return (int64_t)now_usec(CLOCK_REALTIME);
}

static const char *host_format_time(int64_t usec, char *buf, size_t len) {
        return format_timestamp(buf, len, usec);
}

void manager_host_init(struct earshot_host *host, void *userdata) {
        *host = (struct earshot_host){
                .size = sizeof(struct earshot_host),
                .log = host_log,
                .now_usec = host_now,
                .request_url = http_request_set_url,
                .request_method = http_request_set_method,
                .request_header = http_request_add_header,
                .request_body = http_request_set_body,
                .emit_post = host_emit_post,
                .set_cursor = host_set_cursor,
                .next_page = host_next_page,
                .html_to_text = html_to_text,
                .parse_time = parse_timestamp,
                .format_time = host_format_time,
                .userdata = userdata,
                .set_backoff = host_set_backoff,
                .report_gap = host_report_gap,
                .set_error = host_set_error,
                .request_mail = http_request_set_mail,
                .request_login = http_request_set_login,
                .request_flags = http_request_set_flags,
                .request_exec = http_request_set_exec,
                .log_fields = host_log_fields,
                .post_deleted = host_post_deleted,
        };
}

/* ---- instances ------------------------------------------------------------------------------ */

static void source_done(Source *s) {
        for (size_t i = 0; i < s->n_feeds; i++) {
                Feed *f = &s->feeds[i];
                f->stream = stream_free(f->stream);
                http_cancel(f->call);
                f->call = NULL;
                if (f->host && f->host->in_flight > 0)
                        f->host->in_flight--; /* the cancelled transfer's share */
                f->host = NULL;
                http_request_done(&f->req);
                sd_event_source_disable_unref(f->timer);
                free(f->key);
                free(f->page);
        }
        free(s->feeds);
        if (s->state && s->cfg->plugin->desc->source->destroy)
                s->cfg->plugin->desc->source->destroy(s->state);
        state_entries_free(s->kv, s->n_kv);
        *s = (Source){};
}

void instances_stop_sources(Instances *i) {
        for (size_t k = 0; k < i->n_sources; k++)
                source_done(&i->sources[k]);
        i->n_sources = 0;
        i->n_feeds = 0;
}

void instances_done(Instances *i) {
        instances_stop_sources(i);
        for (size_t k = 0; k < i->n_notifiers; k++) {
                Notifier *n = &i->notifiers[k];
                if (n->state && n->cfg->plugin->desc->notifier->destroy)
                        n->cfg->plugin->desc->notifier->destroy(n->state);
        }
        free(i->sources);
        free(i->notifiers);
        config_free(i->config);
        *i = (Instances){};
}

static struct earshot_values values_of(const PluginValues *pv) {
        return (struct earshot_values){.n = pv->n, .v = pv->v};
}

static void log_config_error(const char *msg, void *userdata) {
        log_error("%s", msg);
}

int instances_load(Manager *m, const char *path, ConfigErrorFunc on_error, void *userdata,
                   Instances *ret) {
        Instances in = {};
        const char *plugin_dir = m->opts.plugin_dir ? m->opts.plugin_dir
                                                    : getenv("EARSHOT_PLUGIN_DIR");
        int r, failed = 0;

        if (isempty(plugin_dir))
                plugin_dir = NULL;
        r = config_load(path, plugin_dir, m->registry, on_error, userdata, &in.config);
        if (r < 0)
                return r;
        Config *c = in.config;
        /* --check-config prints the lints itself; the daemon logs them */
        if (on_error == log_config_error)
                STRV_FOREACH(w, c->warnings)
                        log_warning("%s", *w);
        in.sources = calloc(c->n_sources + 1, sizeof(Source));
        in.notifiers = calloc(c->n_notifiers + 1, sizeof(Notifier));
        if (!in.sources || !in.notifiers) {
                instances_done(&in);
                return -ENOMEM;
        }
        for (size_t i = 0; i < c->n_sources; i++) {
                const SourceConfig *sc = &c->sources[i];
                Source *s = &in.sources[in.n_sources++];
                const struct earshot_source_ops *ops = sc->plugin->desc->source;
                struct earshot_values vals = values_of(&sc->values);
                char err[512] = "";

                s->manager = m;
                s->cfg = sc;
                snprintf(s->prefix, sizeof(s->prefix), "[source:%s:%s]", sc->type, sc->name);
                manager_host_init(&s->host, s->prefix);
                s->host.state_get = host_state_get;
                s->host.state_set = host_state_set;
                r = ops->create(&s->host, &vals, err, sizeof(err), &s->state);
                if (r < 0) {
                        char msg[1024];
                        snprintf(msg, sizeof(msg), "%s:%u:%u: source '%s' (%s): %s",
                                 sc->pos.file, sc->pos.line, sc->pos.column, sc->name, sc->type,
                                 *err ? err : strerror(-r));
                        if (on_error)
                                on_error(msg, userdata);
                        s->state = NULL;
                        failed = r;
                        continue;
                }
                while (ops->feed(s->state, (uint32_t)s->n_feeds) && s->n_feeds < 10000)
                        s->n_feeds++;
                s->feeds = calloc(s->n_feeds + 1, sizeof(Feed));
                if (!s->feeds) {
                        instances_done(&in);
                        return -ENOMEM;
                }
                for (size_t k = 0; k < s->n_feeds; k++) {
                        Feed *f = &s->feeds[k];
                        f->source = s;
                        f->index = (uint32_t)k;
                        if (asprintf(&f->key, "%s/%s", sc->name,
                                     ops->feed(s->state, (uint32_t)k)) < 0) {
                                f->key = NULL;
                                instances_done(&in);
                                return -ENOMEM;
                        }
                }
                if (sc->enabled)
                        in.n_feeds += s->n_feeds;
        }
        for (size_t i = 0; i < c->n_notifiers; i++) {
                const NotifierConfig *nc = &c->notifiers[i];
                Notifier *n = &in.notifiers[in.n_notifiers++];
                struct earshot_values vals = values_of(&nc->values);
                char err[512] = "";

                n->manager = m;
                n->cfg = nc;
                snprintf(n->prefix, sizeof(n->prefix), "[notify:%s:%s]", nc->type, nc->name);
                manager_host_init(&n->host, n->prefix);
                r = nc->plugin->desc->notifier->create(&n->host, &vals, err, sizeof(err),
                                                       &n->state);
                if (r < 0) {
                        char msg[1024];
                        snprintf(msg, sizeof(msg), "%s:%u:%u: notifier '%s' (%s): %s",
                                 nc->pos.file, nc->pos.line, nc->pos.column, nc->name, nc->type,
                                 *err ? err : strerror(-r));
                        if (on_error)
                                on_error(msg, userdata);
                        n->state = NULL;
                        failed = r;
                }
        }
        if (failed) {
                instances_done(&in);
                return failed == -ENOMEM ? -ENOMEM : -EINVAL;
        }
        *ret = in;
        return 0;
}

/* ---- polling ---------------------------------------------------------------------------------- */

static void feed_schedule(Feed *f, usec_t delay);
static void feed_arm(Feed *f, usec_t delay);
static void source_pause(Source *s, usec_t pause);
static void feed_poll(Feed *f);
static void feed_succeeded(Feed *f, size_t n_posts);

static bool cursor_eq(const char *a, const char *b) {
        return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static int rules_json(const Ruleset *rs, const RuleMatches *rm, char **ret) {
        cJSON *a = cJSON_CreateArray();
        if (!a)
                return -ENOMEM;
        for (size_t i = 0; i < rm->n; i++) {
                cJSON *s = cJSON_CreateString(rs->rules[rm->m[i].rule].name);
                if (!s || !cJSON_AddItemToArray(a, s)) {
                        cJSON_Delete(s);
                        cJSON_Delete(a);
                        return -ENOMEM;
                }
        }
        *ret = cJSON_PrintUnformatted(a);
        cJSON_Delete(a);
        return *ret ? 0 : -ENOMEM;
}

/* Copies must say something: a short text ("acme refund!") is not a copy-paste pile-on. */
#define COPY_MIN_BYTES 40

/* A stable key for "the same text": a hash of the folded words, or NULL when too short. */
static char *text_key_of(const char *text) {
        _cleanup_free_ char *folded = NULL;
        char *out;
        uint64_t h = UINT64_C(0xcbf29ce484222325);
        size_t n = 0;
        bool gap = false;

        if (!text || text_fold(text, strlen(text), &folded) < 0)
                return NULL;
        /* words only: case, accents of width, punctuation and spacing do not make a new text */
        for (const unsigned char *q = (const unsigned char *)folded; *q; q++) {
                bool word = *q >= 0x80 || (*q >= '0' && *q <= '9') || (*q >= 'a' && *q <= 'z');
                if (!word) {
                        gap = n > 0;
                        continue;
                }
                if (gap) {
                        h = (h ^ ' ') * UINT64_C(0x100000001b3);
                        gap = false;
                }
                h = (h ^ *q) * UINT64_C(0x100000001b3);
                n++;
        }
        if (n < COPY_MIN_BYTES || asprintf(&out, "%016" PRIx64, h) < 0)
                return NULL;
        return out;
}

int alert_facts_init(AlertFacts *f, const Alert *a, char ***ret_rules) {
        cJSON *rules = cJSON_Parse(a->rules_json ? a->rules_json : "[]");
        const cJSON *it;
        char **l = calloc(1, sizeof(char *));

        if (!l) {
                cJSON_Delete(rules);
                return -ENOMEM;
        }
        cJSON_ArrayForEach(it, rules) if (cJSON_IsString(it) && strv_extend(&l, it->valuestring) < 0) {
                cJSON_Delete(rules);
                strv_free(l);
                return -ENOMEM;
        }
        cJSON_Delete(rules);
        *f = (AlertFacts){
                .brand = a->brand,
                .rules = (const char *const *)l,
                .severity = severity_from_string(a->severity),
                .network = a->network,
                .source = a->source,
        };
        *ret_rules = l;
        return 0;
}

int manager_queue_event(Manager *m, const AlertFacts *f, char *const *names, const char *id,
                        const char *event, const char *stop_on, const char *message,
                        int64_t now) {
        const Config *c = m->inst.config;
        _cleanup_free_ RouteTarget *t = NULL;
        size_t n = 0;
        int queued = 0;
        int r = route_names(c, names, f, &t, &n);
        if (r < 0)
                return r;
        if (n == 0 && c->n_notifiers > 0)
                log_warning("alert %s (%s): no enabled notifier to tell", id, event);
        for (size_t i = 0; i < n; i++) {
                int64_t window;
                OutboxNew o = {
                        .alert_id = id,
                        .notifier = c->notifiers[t[i].notifier].name,
                        .route = t[i].route ? t[i].route->name : NULL,
                        .event = event,
                        .stop_on = stop_on,
                        .message = message,
                };
                o.next_attempt = route_when(&t[i], f->severity, event, now, &window);
                o.digest_usec = window;
                r = store_outbox_queue(m->store, &o, now);
                if (r < 0)
                        return r;
                queued += r;
        }
        return queued;
}

/* Tell an alert's routes of an event (once per event and notifier). */
static int outbox_event(Manager *m, const Alert *a, const char *event, const char *message,
                        int64_t now) {
        _cleanup_strv_free_ char **rules = NULL;
        AlertFacts f;
        int r = alert_facts_init(&f, a, &rules);
        if (r < 0)
                return r;
        return manager_queue_event(m, &f, NULL, a->id, event, NULL, message, now);
}

/*
 * A matched post: a new alert (1), or a post attached to an open alert as a thread (the same
 * author about the same brand) or a copy (the same text by another account) (2), or nothing
 * (0: the post already has an alert, through another feed). Negative errno on failure.
 */
static int alert_or_attach(Feed *f, const struct earshot_post *p, const char *key,
                           const char *rules, const RuleMatches *rm, int64_t now) {
        Manager *m = f->source->manager;
        const Config *c = m->inst.config;
        const SourceConfig *sc = f->source->cfg;
        _cleanup_free_ char *author_key = NULL, *text_key = NULL, *target = NULL;
        const char *brand = rm->m[0].brand >= 0 ? c->rules->brands[rm->m[0].brand].name : NULL;
        int64_t created = p->created_usec > 0 ? p->created_usec : now;
        int r;

        if (p->author_handle && *p->author_handle &&
            asprintf(&author_key, "%s:%s", p->network, p->author_handle) < 0)
                return -ENOMEM;
        text_key = text_key_of(p->text);
        AttachedPost ap = {.post_key = (char *)key, .url = (char *)p->url,
                           .author_handle = (char *)p->author_handle, .text = (char *)p->text,
                           .created_usec = created};

        /* the author again, while the first alert is still open: one thread, one re-notify */
        if (c->group_threads && author_key) {
                r = store_alert_find_thread(m->store, author_key, brand, &target);
                if (r < 0 && r != -ENOENT)
                        return r;
                if (r >= 0) {
                        r = store_alert_attach(m->store, target, "thread", &ap, now);
                        if (r > 0) {
                                _cleanup_(alert_done) Alert ta = {};
                                r = store_alert_get(m->store, target, &ta);
                                if (r >= 0)
                                        r = outbox_event(m, &ta, "thread",
                                                         "the author posted again about it",
                                                         now);
                        }
                        if (r < 0)
                                return r;
                        log_info("%s post %s joins the thread of alert %s", f->source->prefix,
                                 key, target);
                        return 2;
                }
        }
        /* the same words from other accounts within the window: one alert, counted */
        if (c->group_copies_window > 0 && text_key) {
                r = store_alert_find_copy(m->store, text_key,
                                          now - (int64_t)c->group_copies_window, author_key,
                                          &target);
                if (r < 0 && r != -ENOENT)
                        return r;
                if (r >= 0) {
                        r = store_alert_attach(m->store, target, "copy", &ap, now);
                        if (r < 0)
                                return r;
                        log_info("%s post %s is a copy of alert %s", f->source->prefix, key,
                                 target);
                        return 2;
                }
        }

        Severity sev = SEVERITY_LOW;
        for (size_t k = 0; k < rm->n; k++)
                if (c->rules->rules[rm->m[k].rule].severity > sev)
                        sev = c->rules->rules[rm->m[k].rule].severity;
        usec_t within = config_target(c, rm->m, rm->n, sc, p->network, NULL);
        int64_t due = alert_due(p->created_usec, now, within);
        const EscalationPolicy *policy = config_escalation_for(c, rm->m, rm->n, sev);
        /* steps already past when the post is first seen are not sent in a burst: the alert
         * itself says it is late */
        EscalationPlan plan = {};
        if (policy) {
                r = escalation_plan_for(policy, 0, ALERT_OPEN, created, within, now, &plan);
                if (r < 0)
                        return r;
        }
        char id[24];
        alert_id_for(key, id);
        Alert a = {
                .id = id,
                .post_key = (char *)key,
                .source = sc->name,
                .feed = f->key,
                .network = (char *)p->network,
                .brand = (char *)brand,
                .rules_json = (char *)rules,
                .severity = (char *)severity_to_string(sev),
                .post_id = (char *)p->id,
                .url = (char *)p->url,
                .text = (char *)p->text,
                .author_handle = (char *)p->author_handle,
                .author_name = (char *)p->author_name,
                .lang = (char *)p->lang,
                .author_followers = p->author_followers,
                .replies = p->replies,
                .reposts = p->reposts,
                .likes = p->likes,
                .created_usec = created,
                .detected_usec = now,
                .due_usec = due,
                .respond_within_usec = (int64_t)within,
                .priority = priority_score(&c->priority, (int)sev, p->author_followers,
                                           p->replies, p->reposts, p->likes),
                .late_usec = alert_lateness(due, now),
                .author_key = author_key,
                .text_key = text_key,
                .escalation = policy ? policy->name : NULL,
                .escalation_level = (int64_t)plan.level,
                .next_escalation_usec = plan.next_usec,
        };
        r = store_alert_insert(m->store, &a);
        if (r == -EEXIST)
                return 0; /* the same post through another feed: one alert */
        if (r >= 0 && plan.level > 0)
                r = store_alert_set_escalation(m->store, id, (int64_t)plan.level, plan.next_usec);
        if (r >= 0)
                r = outbox_event(m, &a, "new", NULL, now);
        if (r < 0)
                return r;
        char d[32];
        int64_t left = due - now;
        log_info("%s new alert %s for %s (rules %s), %s %s%s", f->source->prefix, id, key, rules,
                 left >= 0 ? "due in" : "overdue by",
                 format_duration(d, sizeof(d), (usec_t)(left >= 0 ? left : -left)),
                 a.late_usec > 0 ? " (late when detected)" : "");
        return 1;
}

/* An alert whose post was deleted at its source: its history says so and its routes hear it. */
static int alert_deleted(Manager *m, const char *id, int64_t now) {
        _cleanup_(alert_done) Alert a = {};
        int r = store_alert_get(m->store, id, &a);
        if (r < 0)
                return r == -ENOENT ? 0 : r;
        r = store_event_add(m->store, id, now, "deleted", NULL, NULL, "earshotd",
                            "the post was deleted at its source");
        if (r < 0)
                return r;
        /* closed alerts are history: nobody needs telling */
        AlertState st = alert_state_from_string(a.state);
        if (st != ALERT_OPEN && st != ALERT_ACKNOWLEDGED)
                return 0;
        r = outbox_event(m, &a, "deleted", "the post was deleted at its source", now);
        return r < 0 ? r : 0;
}

/*
 * Write what one response yields, in one transaction. Returns the number of new alerts, or a
 * negative errno (nothing was written).
 */
static int feed_commit(Feed *f, struct earshot_sink *sink, bool known, bool poll_done,
                       int64_t next_poll, const char *ratelimit) {
        Manager *m = f->source->manager;
        const Config *c = m->inst.config;
        const SourceConfig *sc = f->source->cfg;
        int64_t now = (int64_t)now_usec(CLOCK_REALTIME);
        int r, n_alerts = 0, n_attached = 0;

        r = store_begin(m->store);
        if (r < 0)
                return r;
        for (size_t i = 0; i < sink->n; i++) {
                const struct earshot_post *p = &sink->posts[i].p;
                _cleanup_free_ char *key = NULL, *rules = NULL;
                RuleMatches rm = {};
                bool is_new, backfill;

                if (asprintf(&key, "%s:%s", p->network, p->id) < 0) {
                        key = NULL;
                        r = -ENOMEM;
                        goto fail;
                }
                /* the first poll of a feed does not alert on posts older than `backfill` */
                backfill = !known && p->created_usec > 0 &&
                           p->created_usec < now - (int64_t)sc->backfill;
                if (!backfill) {
                        /* a headline is part of what the post says */
                        _cleanup_free_ char *both = NULL;
                        if (p->title && *p->title &&
                            asprintf(&both, "%s\n%s", p->title, p->text) < 0) {
                                both = NULL;
                                r = -ENOMEM;
                                goto fail;
                        }
                        RulePost rp = {.text = both ? both : p->text, .lang = p->lang,
                                       .network = p->network, .source = sc->name,
                                       .followers = p->author_followers,
                                       .rating = p->rating};
                        r = ruleset_match(c->rules, &rp, m->rule_scratch, &rm);
                        if (r < 0)
                                goto fail;
                }
                r = store_seen_add(m->store, key, f->key, now, rm.n > 0, &is_new);
                if (r >= 0 && !is_new)
                        /* still in the feed: keep it from being pruned and seen as new */
                        r = store_seen_touch(m->store, key, now,
                                             now - (int64_t)c->seen_retention / 2);
                if (r >= 0 && is_new) {
                        /* keep what it said, for earshotctl backtest */
                        if (rm.n > 0)
                                r = rules_json(c->rules, &rm, &rules);
                        SeenPost sp = {.source = sc->name, .network = p->network,
                                       .text = p->text, .lang = p->lang, .url = p->url,
                                       .followers = p->author_followers, .rules_json = rules};
                        if (r >= 0)
                                r = store_seen_set_post(m->store, key, &sp);
                }
                if (r < 0 || !is_new || rm.n == 0) {
                        rule_matches_done(&rm);
                        if (r < 0)
                                goto fail;
                        continue;
                }

                int k2 = alert_or_attach(f, p, key, rules, &rm, now);
                rule_matches_done(&rm);
                if (k2 < 0) {
                        r = k2;
                        goto fail;
                }
                if (k2 == 1)
                        n_alerts++;
                else if (k2 == 2)
                        n_attached++;
        }
        for (size_t i = 0; i < sink->n_gaps; i++) {
                const SinkGap *g = &sink->gaps[i];
                char a[32], b[32];
                r = store_gap_add(m->store, f->key, sc->name, g->from_usec, g->to_usec,
                                  g->reason, now);
                if (r < 0)
                        goto fail;
                log_warning("%s feed %s: coverage gap (%s): posts from %s to %s may be missed",
                            f->source->prefix, f->key, g->reason,
                            g->from_usec > 0 ? format_timestamp(a, sizeof(a), g->from_usec)
                                             : "an unknown time",
                            g->to_usec > 0 ? format_timestamp(b, sizeof(b), g->to_usec)
                                           : "an unknown time");
        }
        for (size_t i = 0; i < sink->n_deleted; i++) {
                _cleanup_free_ char *id = NULL;
                r = store_post_deleted(m->store, sink->deleted[i], now, &id);
                if (r > 0)
                        r = alert_deleted(m, id, now);
                if (r < 0)
                        goto fail;
                if (id) {
                        n_attached++; /* something to deliver */
                        log_info("%s alert %s: its post %s was deleted at the source",
                                 f->source->prefix, id, sink->deleted[i]);
                }
        }
        r = store_feed_success(m->store, f->key, sc->name, sink->cursor, poll_done, now);
        if (r >= 0)
                r = store_feed_note(m->store, f->key, (int64_t)sink->n, false, now);
        if (r >= 0 && next_poll >= 0) /* < 0: an event of the stream, the schedule stays */
                r = store_feed_schedule(m->store, f->key, sc->name, next_poll, ratelimit);
        if (r < 0)
                goto fail;
        r = store_commit(m->store);
        if (r < 0)
                goto fail;
        if (n_alerts > 0 || n_attached > 0) {
                m->open_alerts += n_alerts;
                dispatcher_kick(m->dispatcher);
                escalator_kick(m->escalator);
                manager_update_status(m);
        }
        return n_alerts;
fail:
        store_rollback(m->store);
        return r;
}

static void feed_finish_poll(Feed *f) {
        Manager *m = f->source->manager;
        f->pages = 0;
        free(f->page);
        f->page = NULL;
        if (m->opts.once) {
                if (!f->polled_once) {
                        f->polled_once = true;
                        m->once_pending--;
                }
                manager_check_once_done(m);
        }
}

static HostPolicy host_policy(const Manager *m) {
        return (HostPolicy){.max_in_flight = m->inst.config->max_per_host,
                            .spacing = m->inst.config->host_spacing};
}

/* The request in flight to f->host is over (rl: its rate-limit headers, or NULL). */
static void feed_release_host(Feed *f, const RateLimit *rl) {
        Manager *m = f->source->manager;
        if (!f->host)
                return;
        HostPolicy pol = host_policy(m);
        host_finish(f->host, &pol, rl, now_usec(CLOCK_MONOTONIC),
                    (int64_t)now_usec(CLOCK_REALTIME));
        f->host = NULL;
}

static void feed_ratelimit_text(const Feed *f, char *buf, size_t len) {
        const HostState *h = f->host;
        if (!h) {
                snprintf(buf, len, "-");
                return;
        }
        ratelimit_format(&h->rl, (int64_t)now_usec(CLOCK_REALTIME), buf, len);
}

/* Wall-clock time of a delay from now, for the store. */
static int64_t realtime_in(usec_t delay) {
        return (int64_t)now_usec(CLOCK_REALTIME) + (int64_t)delay;
}

static void feed_blocked(Feed *f, const char *why);

/*
 * A failed poll: log it (rate-limited), record it, back off. A blocked feed (one that cannot
 * work until a person acts) is logged as an error, raises one operator alert and is checked
 * again only every BLOCKED_RETRY or so.
 */
static void feed_failed_ex(Feed *f, const char *what, const char *detail, usec_t server,
                           bool blocked) {
        Manager *m = f->source->manager;
        const SourceConfig *sc = f->source->cfg;
        char when[32], msg[1024];
        int r;

        f->failures++;
        usec_t delay = schedule_delay(sc->interval, f->failures, MAX_BACKOFF, server);
        if (blocked && delay < BLOCKED_RETRY)
                delay = BLOCKED_RETRY;
        snprintf(msg, sizeof(msg), "%s%s%s%s", blocked ? "needs attention: " : "", what,
                 detail ? ": " : "", detail ? detail : "");
        if (complaint_fail(&f->complaint, what))
                (void)log_full_errno(blocked ? LOG_ERR : LOG_WARNING, 0,
                                     "%s feed %s: %s; will retry in %s%s",
                         f->source->prefix, f->key, msg,
                         format_duration(when, sizeof(when), delay),
                         server && !blocked ? " (as the server asked)" : "");
        else
                log_debug("%s feed %s: %s (failure %u)", f->source->prefix, f->key, msg,
                          f->failures);
        char rl[96];
        feed_ratelimit_text(f, rl, sizeof(rl));
        feed_release_host(f, NULL);
        r = store_begin(m->store);
        if (r >= 0) {
                r = store_feed_failure(m->store, f->key, sc->name, msg,
                                       (int64_t)now_usec(CLOCK_REALTIME));
                if (r >= 0)
                        r = store_feed_schedule(m->store, f->key, sc->name, realtime_in(delay),
                                                rl);
                if (r >= 0)
                        r = store_commit(m->store);
                else
                        store_rollback(m->store);
        }
        if (r < 0)
                log_warning_errno(r, "cannot record a failed poll in the store: %s",
                                  store_errmsg(m->store));
        if (blocked)
                feed_blocked(f, msg);
        feed_finish_poll(f);
        feed_schedule(f, delay);
}

static void feed_failed(Feed *f, const char *what, const char *detail, usec_t server) {
        feed_failed_ex(f, what, detail, server, false);
}

/* A non-2xx answer: the status, the plugin's explanation or the start of the body, the wait
 * the server asked for. */
static void feed_failed_status(Feed *f, const HttpResponse *resp, const char *url,
                               usec_t server, const char *explanation, bool blocked) {
        char what[480], detail[512], body[160];
        size_t bl = 0;

        if (explanation)
                snprintf(what, sizeof(what), "%s", explanation);
        else
                snprintf(what, sizeof(what), "HTTP %d", resp->status);
        for (size_t i = 0; !explanation && i < resp->body_len && bl + 1 < sizeof(body); i++)
                body[bl++] = (resp->body[i] >= 0x20 && resp->body[i] < 0x7f) ? resp->body[i]
                                                                            : ' ';
        body[bl] = 0;
        if (explanation)
                snprintf(detail, sizeof(detail), "HTTP %d from %s", resp->status, url);
        else
                snprintf(detail, sizeof(detail), "%s%s%s%s", url, bl ? " answered \"" : "",
                         body, bl ? "\"" : "");
        if (server) {
                char d[32];
                size_t l = strlen(detail);
                snprintf(detail + l, sizeof(detail) - l, " (Retry-After/rate limit: %s)",
                         format_duration(d, sizeof(d), server));
        }
        feed_failed_ex(f, what, detail, server, blocked);
}

static void on_feed_response(HttpCall *call, const HttpResponse *resp, void *userdata) {
        Feed *f = userdata;
        Source *s = f->source;
        Manager *m = s->manager;
        const struct earshot_source_ops *ops = s->cfg->plugin->desc->source;
        struct earshot_response view;
        struct earshot_sink sink = {};
        _cleanup_free_ char *cursor = NULL;
        const char *url = f->req.url;
        char detail[512];
        bool known;
        int r;

        f->call = NULL;
        http_response_view(resp, &view);
        int64_t now_real = (int64_t)now_usec(CLOCK_REALTIME);
        usec_t server = server_delay(&view, now_real);
        RateLimit rl;
        bool have_rl = resp->result == CURLE_OK && ratelimit_parse(&view, now_real, &rl) == 0;
        char rl_text[96] = "-";
        if (f->host) {
                HostPolicy pol = host_policy(m);
                host_finish(f->host, &pol, have_rl ? &rl : NULL, now_usec(CLOCK_MONOTONIC),
                            now_real);
                ratelimit_format(&f->host->rl, now_real, rl_text, sizeof(rl_text));
                f->host = NULL;
        }

        if (resp->too_large) {
                snprintf(detail, sizeof(detail), "%s: more than %llu bytes", url,
                         (unsigned long long)m->inst.config->max_response_size);
                feed_failed(f, "response too large", detail, server);
                goto out;
        }
        if (resp->result != CURLE_OK) {
                snprintf(detail, sizeof(detail), "%s: %s", url, resp->error);
                feed_failed(f,
                            resp->result == CURLE_OPERATION_TIMEDOUT ? "request timed out"
                                                                     : "request failed",
                            detail, server);
                goto out;
        }
        if (resp->status == 304 && f->conditional) {
                /* RFC 9110 §15.4.5: nothing changed since the validators we sent */
                usec_t next = schedule_delay(s->cfg->interval, 0, MAX_BACKOFF, server);
                int64_t now = (int64_t)now_usec(CLOCK_REALTIME);
                r = store_begin(m->store);
                if (r >= 0) {
                        r = store_feed_success(m->store, f->key, s->cfg->name, NULL, true, now);
                        if (r >= 0)
                                r = store_feed_note(m->store, f->key, 0, true, now);
                        if (r >= 0)
                                r = store_feed_schedule(m->store, f->key, s->cfg->name,
                                                        realtime_in(next), rl_text);
                        if (r >= 0)
                                r = store_commit(m->store);
                        else
                                store_rollback(m->store);
                }
                if (r < 0) {
                        snprintf(detail, sizeof(detail), "%s", store_errmsg(m->store));
                        feed_failed(f, "cannot write to the store", detail, 0);
                        goto out;
                }
                if (complaint_release(&f->complaint))
                        log_notice("%s feed %s recovered after %u failed poll%s", s->prefix,
                                   f->key, f->failures, f->failures == 1 ? "" : "s");
                f->failures = 0;
                feed_succeeded(f, 0);
                log_debug("%s feed %s: not modified", s->prefix, f->key);
                feed_finish_poll(f);
                feed_schedule(f, next);
                if (f->stream)
                        stream_poll_done(f->stream);
                goto out;
        }
        bool ok_status = resp->status >= 200 && resp->status < 300;
        bool read_error = !ok_status && EARSHOT_SOURCE_HAS(ops, parse_error);
        if (!ok_status && !read_error) {
                feed_failed_status(f, resp, url, server, NULL, false);
                goto out;
        }

        r = store_feed_get(m->store, f->key, &cursor, &known);
        if (r < 0) {
                snprintf(detail, sizeof(detail), "%s", store_errmsg(m->store));
                feed_failed(f, "store error", detail, 0);
                goto out;
        }
        /* "first poll" is a property of the whole poll, not of each of its responses: a
         * preliminary request (a capability check, a handle lookup) is committed on its own
         * and must not make the first page of posts look like a later poll's */
        if (!f->page)
                f->poll_known = known;
        known = f->poll_known;
        r = read_error ? ops->parse_error(s->state, f->index, cursor, f->page, &view, &sink)
                       : ops->parse_response(s->state, f->index, cursor, f->page, &view, &sink);
        if (r < 0 || r == EARSHOT_RETRY || r == EARSHOT_BLOCKED) {
                bool blocked = r == EARSHOT_BLOCKED;
                /* a pause the body asked for counts like one the headers asked for */
                if (sink.backoff_usec > 0 && (usec_t)sink.backoff_usec > server)
                        server = (usec_t)sink.backoff_usec;
                if (sink.backoff_usec > 0)
                        source_pause(s, (usec_t)sink.backoff_usec);
                if (!ok_status) {
                        /* the plugin's words when it has some, else the status and body */
                        feed_failed_status(f, resp, url, server, r < 0 ? NULL : sink.error,
                                           blocked);
                        goto out;
                }
                snprintf(detail, sizeof(detail), "%s (%zu bytes)", url, resp->body_len);
                feed_failed_ex(f,
                               sink.error && r > 0 ? sink.error
                               : r > 0             ? "the source cannot go on for now (see above)"
                               : r == -EBADMSG     ? "malformed response"
                                                   : "the plugin failed to parse the response",
                               detail, server, blocked);
                goto out;
        }
        if (sink.overflow)
                log_warning("%s feed %s: more than %d posts in one response; the rest waits "
                            "for the next poll",
                            s->prefix, f->key, MAX_POSTS_PER_RESPONSE);

        usec_t next = schedule_delay(s->cfg->interval, 0, MAX_BACKOFF, server);
        if (sink.backoff_usec > 0)
                source_pause(s, (usec_t)sink.backoff_usec);
        if (sink.backoff_usec > 0 && (usec_t)sink.backoff_usec > next) {
                char d[32];
                next = (usec_t)sink.backoff_usec;
                log_debug("%s feed %s: the server asked for a pause of %s", s->prefix, f->key,
                          format_duration(d, sizeof(d), next));
        }
        /* the poll goes on with another page unless the plugin is done or the cap is reached
         * (a stop in between leaves the poll unfinished: the next one starts over) */
        bool more = r == EARSHOT_MORE && sink.page && !cursor_eq(sink.page, f->page);
        int n = feed_commit(f, &sink, known, !more || f->pages >= MAX_PAGES_HARD,
                            realtime_in(next), rl_text);
        if (n < 0) {
                snprintf(detail, sizeof(detail), "%s", store_errmsg(m->store));
                feed_failed(f, "cannot write to the store", detail, 0);
                goto out;
        }
        if (complaint_release(&f->complaint))
                log_notice("%s feed %s recovered after %u failed poll%s", s->prefix, f->key,
                           f->failures, f->failures == 1 ? "" : "s");
        f->failures = 0;
        feed_succeeded(f, sink.n);
        /* validators of a poll's first response, kept once its posts are safe */
        if (!f->page && view.status == 200) {
                const char *etag = earshot_response_header(&view, "ETag");
                const char *lm = earshot_response_header(&view, "Last-Modified");
                int k = store_feed_set_validators(m->store, f->key, url, etag, lm);
                if (k < 0)
                        log_debug("%s feed %s: cannot keep the validators: %s", s->prefix,
                                  f->key, store_errmsg(m->store));
        }
        log_debug("%s feed %s: %zu posts, %d new alerts, cursor %s", s->prefix, f->key, sink.n,
                  n, sink.cursor ? sink.cursor : cursor ? cursor : "-");

        if (more && !m->stopping && f->pages >= MAX_PAGES_HARD)
                log_warning("%s feed %s: still more pages after %d requests in one poll; "
                            "the rest waits for the next poll",
                            s->prefix, f->key, MAX_PAGES_HARD);
        if (more && !m->stopping && f->pages < MAX_PAGES_HARD) {
                free(f->page);
                f->page = TAKE_PTR(sink.page);
                feed_poll(f);
                goto out;
        }
        if (resp->elapsed > s->cfg->interval)
                log_warning("%s feed %s: a poll took longer than the interval", s->prefix,
                            f->key);
        feed_finish_poll(f);
        feed_schedule(f, next);
        if (f->stream)
                stream_poll_done(f->stream);
out:
        sink_done(&sink);
        if (!f->call) /* unless the next page's request is already in flight */
                http_request_done(&f->req);
}

static void feed_poll(Feed *f) {
        Source *s = f->source;
        Manager *m = s->manager;
        const struct earshot_source_ops *ops = s->cfg->plugin->desc->source;
        _cleanup_free_ char *cursor = NULL;
        bool known;
        int r;

        http_request_done(&f->req);
        r = store_feed_get(m->store, f->key, &cursor, &known);
        if (r < 0) {
                feed_failed(f, "store error", store_errmsg(m->store), 0);
                return;
        }
        r = ops->build_request(s->state, f->index, cursor, f->page, &f->req);
        if (r < 0 || !f->req.url) {
                feed_failed(f, "the plugin could not build a request", strerror(r < 0 ? -r : EINVAL),
                            0);
                return;
        }
        HttpOptions o = {
                .timeout = m->inst.config->http_timeout,
                .connect_timeout = m->inst.config->http_connect_timeout,
                .max_size = m->inst.config->max_response_size,
                .user_agent = m->inst.config->user_agent,
                .allow_file = strncmp(f->req.url, "file://", 7) == 0,
                .ca_file = m->inst.config->ca_file,
        };

        /* politeness: the server's budget is shared by every feed that reads from it */
        if (!o.allow_file) {
                HostPolicy pol = host_policy(m);
                HostState *h = host_table_get(&m->hosts, f->req.url);
                usec_t now = now_usec(CLOCK_MONOTONIC);
                if (!h) {
                        feed_failed(f, "out of memory", NULL, 0);
                        return;
                }
                usec_t wait = host_wait(h, &pol, now);
                if (wait > 0) {
                        http_request_done(&f->req);
                        /* a little jitter, so waiting feeds do not all come back together */
                        feed_arm(f, wait + (usec_t)rand() % (wait / 4 + USEC_PER_MSEC));
                        return;
                }
                host_start(h, &pol, now);
                f->host = h;
        }

        /* conditional GET, when the first request of a poll is the one we have validators
         * for and the plugin did not ask for its own */
        f->conditional = false;
        if (!f->page && !http_request_has_header(&f->req, "If-None-Match") &&
            !http_request_has_header(&f->req, "If-Modified-Since")) {
                _cleanup_free_ char *vurl = NULL, *etag = NULL, *lm = NULL;
                if (store_feed_validators(m->store, f->key, &vurl, &etag, &lm) >= 0 && vurl &&
                    strcmp(vurl, f->req.url) == 0) {
                        if ((etag && http_request_add_header(&f->req, "If-None-Match", etag) >=
                                             0) ||
                            (lm && http_request_add_header(&f->req, "If-Modified-Since", lm) >=
                                           0))
                                f->conditional = true;
                        if (etag && lm)
                                (void)http_request_add_header(&f->req, "If-Modified-Since", lm);
                }
        }
        f->pages++;
        log_debug("%s feed %s: GET %s", s->prefix, f->key, f->req.url);
        r = http_start(m->http, &f->req, &o, on_feed_response, f, &f->call);
        if (r < 0) {
                f->call = NULL;
                feed_failed(f, "cannot start the request", strerror(-r), 0);
        }
}

static int on_feed_timer(sd_event_source *es, uint64_t usec, void *userdata) {
        Feed *f = userdata;
        if (!f->call && !f->source->manager->stopping)
                feed_poll(f);
        return 0;
}

/* Arm the feed's timer, also in --once mode (for a poll that waits for its server). */
static void feed_arm(Feed *f, usec_t delay) {
        Manager *m = f->source->manager;
        usec_t when = now_usec(CLOCK_MONOTONIC) + delay;
        int r;

        if (f->source->paused_until > when)
                when = f->source->paused_until;

        if (f->timer) {
                r = sd_event_source_set_time(f->timer, when);
                if (r >= 0)
                        r = sd_event_source_set_enabled(f->timer, SD_EVENT_ONESHOT);
        } else {
                r = sd_event_add_time(m->event, &f->timer, CLOCK_MONOTONIC, when,
                                      USEC_PER_SEC / 20, on_feed_timer, f);
                if (r >= 0)
                        (void)sd_event_source_set_description(f->timer, "feed-poll");
        }
        if (r < 0)
                log_error_errno(r, "%s feed %s: cannot arm the poll timer: %s", f->source->prefix,
                                f->key, strerror(-r));
}

/*
 * A pause the server asked for in a body (Stack Exchange's backoff: "before hitting the same
 * method again") holds every feed of the source, not only the one that was told: the others
 * ask the same API. Idle feeds due earlier are moved; feeds in flight wait when they re-arm.
 */
static void source_pause(Source *s, usec_t pause) {
        usec_t now = now_usec(CLOCK_MONOTONIC), until = now + pause;
        uint64_t when;

        if (until <= s->paused_until)
                return;
        s->paused_until = until;
        for (size_t i = 0; i < s->n_feeds; i++) {
                Feed *g = &s->feeds[i];
                if (g->call || !g->timer || sd_event_source_get_time(g->timer, &when) < 0 ||
                    when >= until)
                        continue;
                int enabled = SD_EVENT_OFF;
                if (sd_event_source_get_enabled(g->timer, &enabled) < 0 || enabled == SD_EVENT_OFF)
                        continue;
                feed_arm(g, pause);
        }
}

static void feed_schedule(Feed *f, usec_t delay) {
        if (f->source->manager->opts.once)
                return; /* one poll each, no more */
        feed_arm(f, delay);
}

/* ---- silent feeds: a dead feed must never look like a quiet day ---------------------------- */

#define HEALTH_INTERVAL USEC_PER_MINUTE

/*
 * An operator alert about a feed, through the same store and outbox as complaints: rule
 * "source-KIND", one alert per (kind, feed, episode); the same episode again is a no-op.
 */
static int raise_operator_alert(Manager *m, Feed *f, const char *kind, int64_t episode,
                                const char *text) {
        const SourceConfig *sc = f->source->cfg;
        int64_t now = (int64_t)now_usec(CLOCK_REALTIME);
        _cleanup_free_ char *key = NULL, *rules = NULL;
        char id[24];
        int r;

        if (asprintf(&key, "earshot:%s:%s:%" PRId64, kind, f->key, episode) < 0) {
                key = NULL;
                return -ENOMEM;
        }
        if (asprintf(&rules, "[\"source-%s\"]", kind) < 0) {
                rules = NULL;
                return -ENOMEM;
        }
        alert_id_for(key, id);
        Alert a = {
                .id = id,
                .post_key = key,
                .source = sc->name,
                .feed = f->key,
                .network = (char *)"earshot",
                .rules_json = rules,
                .severity = (char *)"high",
                .post_id = key,
                .text = (char *)text,
                .author_handle = (char *)"earshotd",
                .author_followers = -1,
                .replies = -1,
                .reposts = -1,
                .likes = -1,
                .created_usec = now,
                .detected_usec = now,
                .due_usec = now + (int64_t)m->inst.config->default_respond_within,
                .respond_within_usec = (int64_t)m->inst.config->default_respond_within,
        };
        r = store_begin(m->store);
        if (r < 0)
                return r;
        r = store_alert_insert(m->store, &a);
        if (r == -EEXIST) {
                store_rollback(m->store);
                return 0;
        }
        if (r >= 0)
                r = outbox_event(m, &a, "new", NULL, now);
        if (r >= 0 && streq(kind, "silent"))
                r = store_feed_set_silent(m->store, f->key, f->silent_since);
        if (r >= 0)
                r = store_commit(m->store);
        if (r < 0) {
                store_rollback(m->store);
                return r;
        }
        m->open_alerts++;
        dispatcher_kick(m->dispatcher);
        manager_update_status(m);
        return 0;
}

/*
 * A feed the plugin says cannot work until a person acts: one operator alert per episode. An
 * episode lasts until the feed's next success (its time in the store names the episode), so
 * retries and restarts in between do not alert again.
 */
static void feed_blocked(Feed *f, const char *why) {
        Manager *m = f->source->manager;
        int64_t since = 0;
        char text[1024];

        if (store_feed_last_success(m->store, f->key, &since) < 0)
                since = 0;
        /* a login that fails blocks every feed of the source for the same reason: while the
         * team has an open alert about the source, its other feeds add no more */
        _cleanup_free_ char *open_id = NULL;
        if (store_alert_find_operator(m->store, f->source->cfg->name, "source-blocked",
                                      &open_id) >= 0) {
                log_debug("%s feed %s is blocked too; alert %s already tells the team",
                          f->source->prefix, f->key, open_id);
                return;
        }
        snprintf(text, sizeof(text),
                 "earshot: source %s, feed %s, cannot work until someone acts: %.700s. Complaints "
                 "posted there are not being heard (earshotctl sources).",
                 f->source->cfg->name, f->key, why);
        int r = raise_operator_alert(m, f, "blocked", since, text);
        if (r < 0)
                log_error_errno(r, "cannot store the operator alert for feed %s: %s", f->key,
                                store_errmsg(m->store));
}

static void feed_succeeded(Feed *f, size_t n_posts) {
        Manager *m = f->source->manager;
        int64_t now = (int64_t)now_usec(CLOCK_REALTIME);

        f->last_ok_usec = now;
        if (n_posts > 0)
                f->last_posts_usec = now;
        if (f->silent_since && n_posts > 0) {
                char d[32];
                log_notice("%s feed %s is back: posts again after %s of silence",
                           f->source->prefix, f->key,
                           format_duration(d, sizeof(d), (usec_t)(now - f->silent_since)));
                f->silent_since = 0;
                int r = store_feed_set_silent(m->store, f->key, 0);
                if (r < 0)
                        log_warning_errno(r, "cannot record that feed %s is back: %s", f->key,
                                          store_errmsg(m->store));
        }
}

/* ---- what a feed's stream (stream.c) reaches through ---------------------------------------- */

int feed_poll_now(Feed *f) {
        if (f->call || f->page || f->source->manager->stopping)
                return -EBUSY; /* a poll is under way (or waits for its server) */
        feed_arm(f, 0);
        return 0;
}

int feed_stream_event(Feed *f, const char *event, const char *data, size_t len,
                      bool keep_cursor, char *err, size_t err_len) {
        Source *s = f->source;
        const struct earshot_source_ops *ops = s->cfg->plugin->desc->source;
        struct earshot_sink sink = {};
        int r;

        r = ops->parse_event(s->state, f->index, event, data, len, &sink);
        if (r < 0 || r == EARSHOT_RETRY || r == EARSHOT_BLOCKED) {
                snprintf(err, err_len, "%s", sink.error ? sink.error : "");
                sink_done(&sink);
                return r;
        }
        if (!keep_cursor) {
                free(sink.cursor);
                sink.cursor = NULL;
        }
        r = feed_commit(f, &sink, true, false, -1, NULL);
        if (r < 0) {
                snprintf(err, err_len, "%s", store_errmsg(s->manager->store));
                r = -EIO;
        } else
                feed_succeeded(f, sink.n);
        sink_done(&sink);
        return r;
}

int feed_stream_refused(Feed *f, const struct earshot_response *resp, char *err,
                        size_t err_len) {
        Source *s = f->source;
        const struct earshot_source_ops *ops = s->cfg->plugin->desc->source;
        _cleanup_free_ char *cursor = NULL;
        struct earshot_sink sink = {};
        bool known;
        int r;

        if (!EARSHOT_SOURCE_HAS(ops, parse_error))
                return -EOPNOTSUPP;
        r = store_feed_get(s->manager->store, f->key, &cursor, &known);
        if (r < 0)
                return r;
        r = ops->parse_error(s->state, f->index, cursor, EARSHOT_STREAM_PAGE, resp, &sink);
        if (r == EARSHOT_RETRY || r == EARSHOT_BLOCKED)
                snprintf(err, err_len, "%s", sink.error ? sink.error : "");
        else if (r >= 0)
                r = -EOPNOTSUPP; /* an answer, not an explanation: nothing to say */
        sink_done(&sink);
        return r;
}

void feed_stream_blocked(Feed *f, const char *why) {
        Manager *m = f->source->manager;
        char text[1024], every[32];
        int64_t since = 0;

        if (store_feed_last_success(m->store, f->key, &since) < 0)
                since = 0;
        snprintf(text, sizeof(text),
                 "earshot: source %s, feed %s: its stream cannot work until someone acts: "
                 "%.600s. The feed is still polled every %s, so complaints come late, not in "
                 "seconds.",
                 f->source->cfg->name, f->key, why,
                 format_duration(every, sizeof(every), f->source->cfg->interval));
        int r = raise_operator_alert(m, f, "blocked", since, text);
        if (r < 0)
                log_error_errno(r, "cannot store the operator alert for feed %s: %s", f->key,
                                store_errmsg(m->store));
}

static void feed_check_silent(Manager *m, Feed *f, int64_t now) {
        const SourceConfig *sc = f->source->cfg;
        char d[32], t1[32], t2[32], text[1024];

        if (!sc->enabled || sc->silent_after == 0 || f->silent_since)
                return;
        bool failing = now - f->last_ok_usec > (int64_t)sc->silent_after;
        bool empty = now - f->last_posts_usec > (int64_t)sc->silent_after;
        if (!failing && !empty)
                return;
        f->silent_since = now;
        format_duration(d, sizeof(d), sc->silent_after);
        snprintf(text, sizeof(text),
                 "earshot: source %s, feed %s, has %s for more than %s (last successful poll "
                 "%s, last posts %s). Complaints posted there are not being heard: check the "
                 "source and the server (earshotctl sources).",
                 sc->name, f->key,
                 failing ? "been failing" : "returned no posts", d,
                 format_timestamp(t1, sizeof(t1), f->last_ok_usec),
                 format_timestamp(t2, sizeof(t2), f->last_posts_usec));
        log_error("%s feed %s is silent: %s for more than %s; raising an operator alert",
                  f->source->prefix, f->key, failing ? "failing" : "no posts", d);
        int r = raise_operator_alert(m, f, "silent", f->silent_since, text);
        if (r < 0)
                log_error_errno(r, "cannot store the operator alert for feed %s: %s", f->key,
                                store_errmsg(m->store));
}

/* Look often enough for the shortest window: a quarter of it, between 1 s and a minute. */
static usec_t health_interval(const Manager *m) {
        usec_t every = HEALTH_INTERVAL;
        for (size_t i = 0; m->inst.config && i < m->inst.config->n_sources; i++) {
                const SourceConfig *sc = &m->inst.config->sources[i];
                if (sc->enabled && sc->silent_after > 0 && sc->silent_after / 4 < every)
                        every = sc->silent_after / 4;
        }
        return every < USEC_PER_SEC ? USEC_PER_SEC : every;
}

static int on_health(sd_event_source *es, uint64_t usec, void *userdata) {
        Manager *m = userdata;
        int64_t now = (int64_t)now_usec(CLOCK_REALTIME);

        for (size_t i = 0; i < m->inst.n_sources; i++) {
                Source *s = &m->inst.sources[i];
                for (size_t k = 0; k < s->n_feeds; k++)
                        feed_check_silent(m, &s->feeds[k], now);
        }
        (void)sd_event_source_set_time(es, now_usec(CLOCK_MONOTONIC) + health_interval(m));
        return 0;
}

static void instances_start(Manager *m) {
        m->once_pending = 0;
        for (size_t i = 0; i < m->inst.n_sources; i++) {
                Source *s = &m->inst.sources[i];
                if (!s->cfg->enabled)
                        continue;
                for (size_t k = 0; k < s->n_feeds; k++) {
                        Feed *f = &s->feeds[k];
                        /* the silence window counts from start-up at the latest; a feed that was
                         * silent before a reload or restart stays so, and is not alerted twice */
                        f->last_ok_usec = f->last_posts_usec = (int64_t)now_usec(CLOCK_REALTIME);
                        if (store_feed_silent_since(m->store, f->key, &f->silent_since) < 0)
                                f->silent_since = 0;
                        if (m->opts.once) {
                                m->once_pending++;
                                feed_poll(f);
                                continue;
                        }
                        /* spread the first polls over the interval (at most 30 s), so that
                         * 500 feeds do not fire at once */
                        usec_t spread = s->cfg->interval;
                        if (spread > 30 * USEC_PER_SEC)
                                spread = 30 * USEC_PER_SEC;
                        feed_schedule(f, spread ? (usec_t)rand() % spread : 0);
                        /* and listen, where the plugin offers a stream (errors are logged) */
                        if (!f->stream)
                                (void)stream_start(f, &f->stream);
                }
        }
}

/* ---- the manager ------------------------------------------------------------------------------ */

void manager_update_status(Manager *m) {
        const Config *c = m->inst.config;
        if (!c)
                return;
        (void)sd_notifyf(false,
                         "STATUS=%zu source%s (%zu feed%s), %zu rule%s, %zu notifier%s; "
                         "%lld open alert%s",
                         c->n_sources, c->n_sources == 1 ? "" : "s", m->inst.n_feeds,
                         m->inst.n_feeds == 1 ? "" : "s", c->rules->n_rules, c->rules->n_rules == 1 ? "" : "s",
                         c->n_notifiers, c->n_notifiers == 1 ? "" : "s",
                         (long long)m->open_alerts, m->open_alerts == 1 ? "" : "s");
}

void manager_check_once_done(Manager *m) {
        if (!m->opts.once || m->once_pending > 0 || m->stopping)
                return;
        if (dispatcher_idle(m->dispatcher)) {
                log_info("--once: every feed polled and every due alert handled, exiting");
                m->stopping = true;
                (void)sd_event_exit(m->event, 0);
        }
}

char *manager_state_dir(const ManagerOptions *opts, const Config *c) {
        const char *d = opts->state_dir;
        if (!d && c && c->state_dir)
                d = c->state_dir;
        if (!d) {
                /* systemd's StateDirectory= may list several, colon-separated: take the first */
                const char *e = getenv("STATE_DIRECTORY");
                if (!isempty(e))
                        return strndup(e, strcspn(e, ":"));
        }
        return strdup(d ? d : DEFAULT_STATE_DIR);
}


static int mkdir_p(const char *path, mode_t mode) {
        _cleanup_free_ char *p = strdup(path);
        if (!p)
                return -ENOMEM;
        for (char *s = p + 1; *s; s++)
                if (*s == '/') {
                        *s = 0;
                        if (mkdir(p, mode) < 0 && errno != EEXIST)
                                return -errno;
                        *s = '/';
                }
        if (mkdir(p, mode) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

static int on_sigterm(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Manager *m = userdata;
        log_info("received %s, stopping", strsignal((int)si->ssi_signo));
        (void)sd_notify(false, "STOPPING=1\nSTATUS=stopping");
        m->stopping = true;
        return sd_event_exit(m->event, 0);
}

static int on_sighup(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        (void)manager_reload(userdata);
        return 0;
}

/* ---- watch_config: reload when a config file changes ------------------------------------- */

#define WATCH_SETTLE (300 * USEC_PER_MSEC)

static void watches_drop(Manager *m) {
        for (size_t i = 0; i < m->n_watches; i++)
                sd_event_source_disable_unref(m->watches[i]);
        free(m->watches);
        m->watches = NULL;
        m->n_watches = 0;
}

static int on_watch_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;
        log_info("a configuration file changed");
        (void)manager_reload(m);
        return 0;
}

static bool is_config_name(const Manager *m, const char *name) {
        size_t n = strlen(name);
        if ((n > 5 && strcmp(name + n - 5, ".yaml") == 0) ||
            (n > 4 && strcmp(name + n - 4, ".yml") == 0))
                return true;
        STRV_FOREACH(f, m->inst.config->files) {
                const char *base = strrchr(*f, '/');
                if (strcmp(base ? base + 1 : *f, name) == 0)
                        return true;
        }
        return false;
}

static int on_config_change(sd_event_source *s, const struct inotify_event *ev, void *userdata) {
        Manager *m = userdata;
        int r;

        if (ev->len == 0 || !is_config_name(m, ev->name))
                return 0;
        /* editors write in several steps: wait until the files settle, then reload once */
        uint64_t at = now_usec(CLOCK_MONOTONIC) + WATCH_SETTLE;
        if (m->watch_timer)
                r = sd_event_source_set_time(m->watch_timer, at);
        else
                r = sd_event_add_time(m->event, &m->watch_timer, CLOCK_MONOTONIC, at,
                                      10 * USEC_PER_MSEC, on_watch_timer, m);
        if (r >= 0)
                r = sd_event_source_set_enabled(m->watch_timer, SD_EVENT_ONESHOT);
        if (r < 0)
                log_warning_errno(r, "cannot schedule a reload after a config change: %s",
                                  strerror(-r));
        return 0;
}

/* (Re)watch the folders of every file the config was read from, when watch_config is set. */
static void manager_watch_config(Manager *m) {
        watches_drop(m);
        if (!m->inst.config->watch_config)
                return;
        _cleanup_strv_free_ char **dirs = NULL;
        STRV_FOREACH(f, m->inst.config->files) {
                const char *slash = strrchr(*f, '/');
                _cleanup_free_ char *d = slash ? strndup(*f, (size_t)(slash - *f) + (slash == *f))
                                               : strdup(".");
                if (!d || (!strv_contains(dirs, d) && strv_extend(&dirs, d) < 0)) {
                        log_warning("watch_config: out of memory");
                        return;
                }
        }
        STRV_FOREACH(d, m->inst.config->include_dirs)
                if (!strv_contains(dirs, *d) && access(*d, F_OK) == 0 &&
                    strv_extend(&dirs, *d) < 0) {
                        log_warning("watch_config: out of memory");
                        return;
                }
        m->watches = calloc(strv_length(dirs) + 1, sizeof(sd_event_source *));
        if (!m->watches)
                return;
        STRV_FOREACH(d, dirs) {
                sd_event_source *src = NULL;
                int r = sd_event_add_inotify(m->event, &src, *d,
                                             IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM |
                                                     IN_CREATE | IN_DELETE | IN_ONLYDIR,
                                             on_config_change, m);
                if (r < 0) {
                        log_warning_errno(r, "watch_config: cannot watch %s: %s", *d,
                                          strerror(-r));
                        continue;
                }
                (void)sd_event_source_set_description(src, "watch-config");
                m->watches[m->n_watches++] = src;
        }
        if (m->n_watches > 0)
                log_debug("watch_config: watching %zu folder%s", m->n_watches,
                          m->n_watches == 1 ? "" : "s");
}

static int on_prune(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;
        const Config *c = m->inst.config;
        int64_t now = (int64_t)now_usec(CLOCK_REALTIME);
        int r = store_seen_prune(m->store, now - (int64_t)c->seen_retention);
        if (r < 0)
                log_warning_errno(r, "cannot prune seen posts: %s", store_errmsg(m->store));
        else if (r > 0)
                log_debug("pruned %d seen posts older than the retention window", r);
        /* the queue stays bounded: closed alerts and finished deliveries go after a while */
        if (c->alert_retention > 0) {
                r = store_prune_alerts(m->store, now - (int64_t)c->alert_retention);
                if (r < 0)
                        log_warning_errno(r, "cannot prune closed alerts: %s",
                                          store_errmsg(m->store));
                else if (r > 0)
                        log_info("pruned %d closed alerts older than the retention window", r);
        }
        if (c->outbox_retention > 0) {
                r = store_prune_outbox(m->store, now - (int64_t)c->outbox_retention);
                if (r < 0)
                        log_warning_errno(r, "cannot prune the outbox: %s",
                                          store_errmsg(m->store));
                else if (r > 0)
                        log_debug("pruned %d finished outbox rows", r);
        }
        (void)sd_event_source_set_time(s, now_usec(CLOCK_MONOTONIC) + PRUNE_INTERVAL);
        return 0;
}

int manager_new(const ManagerOptions *opts, Manager **ret) {
        _cleanup_(manager_freep) Manager *m = calloc(1, sizeof(*m));
        int r;

        if (!m)
                return -ENOMEM;
        m->opts = *opts;
        r = sd_event_default(&m->event);
        if (r < 0)
                return r;
        r = plugin_registry_new(&m->registry);
        if (r < 0)
                return r;
        r = http_glue_new(m->event, &m->http);
        if (r < 0)
                return r;
        r = exec_glue_new(m->event, &m->exec);
        if (r < 0)
                return r;
        r = dispatcher_new(m, &m->dispatcher);
        if (r < 0)
                return r;
        r = rule_scratch_new(false, &m->rule_scratch);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(m);
        return 0;
}

Manager *manager_free(Manager *m) {
        if (!m)
                return NULL;
        escalator_free(m->escalator);
        dispatcher_free(m->dispatcher);
        instances_done(&m->inst);
        http_glue_free(m->http);
        exec_glue_free(m->exec);
        store_free(m->store);
        sd_event_source_disable_unref(m->prune_timer);
        sd_event_source_disable_unref(m->health_timer);
        watches_drop(m);
        sd_event_source_disable_unref(m->watch_timer);
        host_table_done(&m->hosts);
        sd_event_unref(m->event);
        plugin_registry_free(m->registry);
        rule_scratch_free(m->rule_scratch);
        free(m->state_dir);
        free(m);
        return NULL;
}

int manager_start(Manager *m) {
        _cleanup_free_ char *db = NULL;
        sigset_t ss;
        int r;

        r = instances_load(m, m->opts.config_path, log_config_error, NULL, &m->inst);
        if (r < 0)
                return log_error_errno(r, "%s: invalid configuration, not starting",
                                       m->opts.config_path);
        if (!m->opts.log_level_forced && m->inst.config->log_level >= 0)
                log_set_max_level(m->inst.config->log_level);

        m->state_dir = manager_state_dir(&m->opts, m->inst.config);
        if (!m->state_dir)
                return log_error_errno(-ENOMEM, "out of memory");
        r = mkdir_p(m->state_dir, 0700);
        if (r < 0)
                return log_error_errno(r, "cannot create state directory %s: %s", m->state_dir,
                                       strerror(-r));
        if (asprintf(&db, "%s/%s", m->state_dir, STORE_FILE) < 0)
                return log_error_errno(-ENOMEM, "out of memory");
        r = store_open(db, false, &m->store);
        if (r == -EPROTONOSUPPORT)
                return log_error_errno(r, "%s was written by a newer earshot (schema newer than "
                                          "%d); refusing to touch it",
                                       db, STORE_SCHEMA_VERSION);
        if (r < 0)
                return log_error_errno(r, "cannot open the store %s: %s", db, strerror(-r));
        (void)store_count_open_alerts(m->store, &m->open_alerts);
        r = escalator_new(m, &m->escalator);
        if (r < 0)
                return log_error_errno(r, "cannot start the escalation timer: %s", strerror(-r));

        sigemptyset(&ss);
        sigaddset(&ss, SIGTERM);
        sigaddset(&ss, SIGINT);
        sigaddset(&ss, SIGHUP);
        sigaddset(&ss, SIGCHLD); /* notifier programs are watched by the loop (exec.c) */
        if (sigprocmask(SIG_BLOCK, &ss, NULL) < 0)
                return log_error_errno(-errno, "cannot block signals: %m");
        if ((r = sd_event_add_signal(m->event, NULL, SIGTERM, on_sigterm, m)) < 0 ||
            (r = sd_event_add_signal(m->event, NULL, SIGINT, on_sigterm, m)) < 0 ||
            (r = sd_event_add_signal(m->event, NULL, SIGHUP, on_sighup, m)) < 0)
                return log_error_errno(r, "cannot install signal handlers: %s", strerror(-r));
        r = sd_event_set_watchdog(m->event, true);
        if (r < 0)
                log_warning_errno(r, "cannot enable the watchdog: %s", strerror(-r));
        r = sd_event_add_time_relative(m->event, &m->prune_timer, CLOCK_MONOTONIC, 0,
                                       USEC_PER_MINUTE, on_prune, m);
        if (r >= 0) {
                (void)sd_event_source_set_enabled(m->prune_timer, SD_EVENT_ON);
                (void)sd_event_source_set_description(m->prune_timer, "prune");
        }

        if (!m->opts.once) {
                r = sd_event_add_time_relative(m->event, &m->health_timer, CLOCK_MONOTONIC,
                                               health_interval(m), 100 * USEC_PER_MSEC,
                                               on_health, m);
                if (r >= 0) {
                        (void)sd_event_source_set_enabled(m->health_timer, SD_EVENT_ON);
                        (void)sd_event_source_set_description(m->health_timer, "health");
                } else
                        log_warning_errno(r, "cannot start the silent-feed check: %s",
                                          strerror(-r));
        }

        log_info("earshotd %s started: %zu sources (%zu feeds), %zu rules, %zu notifiers; "
                 "store %s",
                 PACKAGE_VERSION, m->inst.config->n_sources, m->inst.n_feeds,
                 m->inst.config->rules->n_rules, m->inst.config->n_notifiers, db);
        instances_start(m);
        dispatcher_kick(m->dispatcher);
        escalator_kick(m->escalator);
        if (!m->opts.once)
                manager_watch_config(m);
        (void)sd_notify(false, "READY=1");
        manager_update_status(m);
        if (m->opts.once)
                manager_check_once_done(m);
        return 0;
}

int manager_run(Manager *m) {
        int r = sd_event_loop(m->event);
        if (r < 0)
                return log_error_errno(r, "event loop failed: %s", strerror(-r));
        (void)sd_notify(false, "STOPPING=1");
        return r;
}

int manager_reload(Manager *m) {
        Instances in = {};
        int r;

        (void)sd_notifyf(false, "RELOADING=1\nSTATUS=reloading %s\nMONOTONIC_USEC=%llu",
                         m->opts.config_path,
                         (unsigned long long)now_usec(CLOCK_MONOTONIC));
        log_info("reloading %s", m->opts.config_path);
        r = instances_load(m, m->opts.config_path, log_config_error, NULL, &in);
        if (r < 0) {
                log_error("reload failed: %s is invalid; still running the previous "
                          "configuration",
                          m->opts.config_path);
                (void)sd_notify(false, "READY=1");
                manager_update_status(m);
                return r;
        }
        _cleanup_free_ char *sd = manager_state_dir(&m->opts, in.config);
        if (sd && strcmp(sd, m->state_dir) != 0)
                log_warning("state_dir changed to %s; it takes effect at the next restart", sd);

        /* Polls in flight are dropped (nothing of them was committed; the new instances poll
         * again). Deliveries in flight finish on the old notifiers, which live until then. */
        Instances *old = malloc(sizeof(Instances));
        if (!old) {
                instances_done(&in);
                log_error("reload failed: out of memory");
                (void)sd_notify(false, "READY=1");
                return -ENOMEM;
        }
        *old = m->inst;
        instances_stop_sources(old);
        m->inst = in;
        dispatcher_retire(m->dispatcher, old);
        if (!m->opts.log_level_forced)
                log_set_max_level(m->inst.config->log_level >= 0 ? m->inst.config->log_level
                                                                 : LOG_INFO);
        instances_start(m);
        dispatcher_kick(m->dispatcher);
        manager_watch_config(m);
        log_info("reloaded: %zu sources (%zu feeds), %zu rules, %zu notifiers",
                 m->inst.config->n_sources, m->inst.n_feeds, m->inst.config->rules->n_rules,
                 m->inst.config->n_notifiers);
        (void)sd_notify(false, "READY=1");
        manager_update_status(m);
        return 0;
}

/* ---- one poll outside the schedule (earshotctl poll) ----------------------------------------- */

typedef struct OnePoll {
        bool done;
        HttpResponse resp; /* copied fields we need */
        int status;
        CURLcode result;
        char *error, *body, *url;
        size_t body_len;
        char **headers;
} OnePoll;

static void one_poll_done(HttpCall *call, const HttpResponse *resp, void *userdata) {
        OnePoll *p = userdata;
        p->done = true;
        p->status = resp->status;
        p->result = resp->result;
        p->error = resp->error ? strdup(resp->error) : NULL;
        p->body = malloc(resp->body_len + 1);
        if (p->body) {
                memcpy(p->body, resp->body ? resp->body : "", resp->body_len);
                p->body[resp->body_len] = 0;
                p->body_len = resp->body_len;
        }
        p->url = resp->url ? strdup(resp->url) : NULL;
        p->headers = strv_copy(resp->headers);
        if (resp->too_large) {
                free(p->error);
                p->error = strdup("response too large");
                p->result = CURLE_FILESIZE_EXCEEDED;
        }
}

static void one_poll_reset(OnePoll *p) {
        free(p->error);
        free(p->body);
        free(p->url);
        strv_free(p->headers);
        *p = (OnePoll){};
}

int manager_poll_once(Manager *m, Source *s, size_t index, unsigned max_pages,
                      PollPostFunc fn, void *userdata, char *err, size_t err_len) {
        const struct earshot_source_ops *ops = s->cfg->plugin->desc->source;
        const Config *c = m->inst.config;
        _cleanup_free_ char *page = NULL;
        int r = 0;

        if (index >= s->n_feeds || !s->state)
                return -EINVAL;
        /* max_pages counts pages of posts; a few requests without posts (a capability check,
         * a handle lookup) may come first */
        for (unsigned n = 0, requests = 0; n < max_pages && requests < max_pages + 4; requests++) {
                struct earshot_request req = {};
                struct earshot_sink sink = {};
                OnePoll p = {};

                r = ops->build_request(s->state, (uint32_t)index, NULL, page, &req);
                if (r < 0 || !req.url) {
                        snprintf(err, err_len, "the plugin could not build a request: %s",
                                 strerror(r < 0 ? -r : EINVAL));
                        http_request_done(&req);
                        return r < 0 ? r : -EINVAL;
                }
                HttpOptions o = {
                        .timeout = c->http_timeout,
                        .connect_timeout = c->http_connect_timeout,
                        .max_size = c->max_response_size,
                        .user_agent = c->user_agent,
                        .allow_file = strncmp(req.url, "file://", 7) == 0,
                        .ca_file = c->ca_file,
                };
                r = http_start(m->http, &req, &o, one_poll_done, &p, NULL);
                if (r < 0) {
                        snprintf(err, err_len, "cannot start the request to %s: %s", req.url,
                                 strerror(-r));
                        http_request_done(&req);
                        return r;
                }
                while (!p.done) {
                        r = sd_event_run(m->event, UINT64_MAX);
                        if (r < 0) {
                                snprintf(err, err_len, "event loop failed: %s", strerror(-r));
                                http_request_done(&req);
                                one_poll_reset(&p);
                                return r;
                        }
                }
                bool ok_status = p.status >= 200 && p.status < 300;
                bool read_error = !ok_status && EARSHOT_SOURCE_HAS(ops, parse_error);
                if (p.result != CURLE_OK || (!ok_status && !read_error) || !p.body) {
                        if (p.result != CURLE_OK)
                                snprintf(err, err_len, "%s: %s", req.url,
                                         p.error ? p.error : "request failed");
                        else
                                snprintf(err, err_len, "%s: HTTP %d", req.url, p.status);
                        http_request_done(&req);
                        one_poll_reset(&p);
                        return -EIO;
                }
                struct earshot_response view = {
                        .size = sizeof(view),
                        .status = p.status,
                        .url = p.url ? p.url : req.url,
                        .body = p.body,
                        .body_len = p.body_len,
                        .headers = (const char *const *)p.headers,
                };
                r = read_error
                            ? ops->parse_error(s->state, (uint32_t)index, NULL, page, &view, &sink)
                            : ops->parse_response(s->state, (uint32_t)index, NULL, page, &view,
                                                  &sink);
                if (r < 0 || r == EARSHOT_RETRY || r == EARSHOT_BLOCKED) {
                        if (sink.error && r > 0)
                                snprintf(err, err_len, "%s%s (HTTP %d)",
                                         r == EARSHOT_BLOCKED ? "needs attention: " : "",
                                         sink.error, p.status);
                        else if (!ok_status)
                                snprintf(err, err_len, "%s: HTTP %d", view.url, p.status);
                        else
                                snprintf(err, err_len, "the plugin could not use the response (%s)",
                                         r == EARSHOT_RETRY ? "it asks to retry later"
                                         : r > 0 ? "the source is blocked" : strerror(-r));
                        http_request_done(&req);
                        sink_done(&sink);
                        one_poll_reset(&p);
                        return r < 0 ? r : -EAGAIN;
                }
                http_request_done(&req);
                for (size_t i = 0; i < sink.n; i++)
                        fn(&sink.posts[i].p, userdata);
                if (sink.n > 0 || r != EARSHOT_MORE)
                        n++;
                bool more = r == EARSHOT_MORE && sink.page && !cursor_eq(sink.page, page);
                free(page);
                page = more ? TAKE_PTR(sink.page) : NULL;
                sink_done(&sink);
                one_poll_reset(&p);
                if (!more)
                        break;
        }
        return 0;
}
