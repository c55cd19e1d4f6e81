/* SPDX-License-Identifier: MIT */
/*
 * manager.h - the daemon's root object: owns the event loop, the HTTP glue, the store, the
 * plugin registry, the running Config and the source and notifier instances built from it.
 */
#pragma once

#include <stdbool.h>
#include <systemd/sd-event.h>

#include "config.h"
#include "hosts.h"
#include "exec.h"
#include "http.h"
#include "routes.h"
#include "log.h"
#include "plugin.h"
#include "rules.h"
#include "store.h"
#include "stream.h"

typedef struct Manager Manager;
typedef struct Source Source;
typedef struct Dispatcher Dispatcher;
typedef struct Escalator Escalator;
typedef struct Instances Instances;

typedef struct Feed {
        Source *source;          /* owner: Source::feeds */
        uint32_t index;          /* the plugin's feed number */
        char *key;               /* owned: "SOURCE/FEED", the feed's identity in the store */
        sd_event_source *timer;  /* owned */
        HttpCall *call;          /* the transfer in flight, or NULL */
        struct earshot_request req; /* owned: the request in flight */
        char *page;              /* owned: page token while a poll spans several requests */
        unsigned failures;       /* consecutive failed polls */
        unsigned pages;          /* requests in the current poll */
        HostState *host;         /* borrowed from Manager::hosts: the server of the request */
        bool conditional;        /* the request in flight carries If-None-Match/-Modified-Since */
        bool poll_known;         /* the feed had a successful poll before this poll began */
        int64_t last_ok_usec;    /* wall clock: last successful poll (or start-up) */
        int64_t last_posts_usec; /* wall clock: last poll that returned posts (or start-up) */
        int64_t silent_since;    /* wall clock: when the feed was declared silent; 0 = not */
        Complaint complaint;
        bool polled_once;        /* --once: this feed finished its poll */
        Stream *stream;          /* owned: the feed's event stream (stream.c), or NULL */
} Feed;

struct Source {
        Manager *manager;             /* borrowed */
        const SourceConfig *cfg;      /* borrowed from the Config the instance was built with */
        void *state;                  /* owned by the plugin */
        struct earshot_host host;     /* host.userdata = this */
        Feed *feeds;                  /* owned */
        size_t n_feeds;
        char prefix[160];             /* "[source:mastodon:NAME]" */
        usec_t paused_until;          /* CLOCK_MONOTONIC: a pause the server asked for in a body
                                       * (set_backoff) holds every feed of the source */
        StateEntry *kv;               /* owned: what the plugin keeps (state_get/state_set),
                                       * loaded from the store on first use */
        size_t n_kv;
        bool kv_loaded;
};

typedef struct Notifier {
        Manager *manager;             /* borrowed */
        const NotifierConfig *cfg;    /* borrowed */
        void *state;                  /* owned by the plugin */
        struct earshot_host host;
        char prefix[160];
        Complaint complaint;
        usec_t next_start; /* CLOCK_MONOTONIC: min_interval after the last start */
        usec_t hold_until; /* CLOCK_MONOTONIC: the receiver failed; its backlog waits */
} Notifier;

/* Source and notifier instances built from one Config; swapped as a whole on reload. */
struct Instances {
        Config *config;               /* owned */
        Source *sources;              /* owned */
        size_t n_sources;
        Notifier *notifiers;          /* owned */
        size_t n_notifiers;
        size_t n_feeds;
};

typedef struct ManagerOptions {
        const char *config_path;
        const char *state_dir;   /* NULL: from config, $STATE_DIRECTORY or the default */
        const char *plugin_dir;  /* NULL: $EARSHOT_PLUGIN_DIR, the config or the default */
        bool once;
        bool log_level_forced;   /* --log-level given: the config's log_level is ignored */
} ManagerOptions;

struct Manager {
        ManagerOptions opts;
        sd_event *event;              /* owned */
        HttpGlue *http;               /* owned */
        ExecGlue *exec;               /* owned: notifier programs (request_exec) */
        Store *store;                 /* owned */
        PluginRegistry *registry;     /* owned */
        Instances inst;               /* owned */
        Dispatcher *dispatcher;       /* owned */
        Escalator *escalator;         /* owned; from the store's opening on */
        RuleScratch *rule_scratch;    /* owned: reused for every post */
        sd_event_source **watches;    /* owned: inotify on the config's folders (watch_config) */
        size_t n_watches;
        sd_event_source *watch_timer; /* owned: reload shortly after the last change */
        HostTable hosts;              /* owned: per-server budgets, kept across reloads */
        sd_event_source *health_timer; /* owned: looks for silent feeds */
        sd_event_source *prune_timer; /* owned */
        char *state_dir;              /* owned */
        int64_t open_alerts;
        size_t once_pending;          /* --once: feeds whose poll has not finished */
        bool stopping;
};

/* Build the host vtable plugins get (log prefix from `prefix`). */
void manager_host_init(struct earshot_host *host, void *userdata);

/*
 * Load a config and build (but do not start) its instances. Errors are reported through
 * on_error (config errors) and the log (plugin create() errors). 0, -EINVAL or -ENOMEM.
 */
int instances_load(Manager *m, const char *path, ConfigErrorFunc on_error, void *userdata,
                   Instances *ret);
void instances_done(Instances *i);
/* Stop and free the sources only (polls in flight are dropped uncommitted). */
void instances_stop_sources(Instances *i);

/* An alert's facts for routing; *ret_rules (strv, the caller frees it) backs f->rules. */
int alert_facts_init(AlertFacts *f, const Alert *a, char ***ret_rules);
/*
 * Queue an event of an alert for delivery: to the alert's routes (names NULL), or to the routes
 * and notifiers named (an escalation step's notify:). Once per event and notifier; digest
 * routes hold new alerts until their window ends. Returns the number of rows queued, or a
 * negative errno. Call inside the store transaction that records the event.
 */
int manager_queue_event(Manager *m, const AlertFacts *f, char *const *names, const char *id,
                        const char *event, const char *stop_on, const char *message,
                        int64_t now);

int manager_new(const ManagerOptions *opts, Manager **ret);
Manager *manager_free(Manager *m);
/* Load config, open the store, start everything; then run the loop until stopped. */
int manager_start(Manager *m);
int manager_run(Manager *m);
/* Re-read the config; keep the running one when the new one is invalid. */
int manager_reload(Manager *m);
void manager_update_status(Manager *m);
void manager_check_once_done(Manager *m);

/*
 * Poll one feed of a loaded source once, outside the daemon's schedule, store and cursors (the
 * first-poll view: newest page, then at most max_pages pages as the plugin asks). Every post
 * parsed goes to fn. 0, or a negative errno with err filled (earshotctl poll).
 */
typedef void (*PollPostFunc)(const struct earshot_post *p, void *userdata);
int manager_poll_once(Manager *m, Source *s, size_t index, unsigned max_pages,
                      PollPostFunc fn, void *userdata, char *err, size_t err_len);

/* ---- for stream.c: a feed's stream goes through the same paths as its polls ---- */

/* Poll feed f at once (its timer, now), unless a poll of it is under way: -EBUSY. */
int feed_poll_now(Feed *f);
/*
 * One event of f's stream: parse_event() with a fresh sink, and what it emitted committed in
 * one transaction as a response's would be (its cursor only with keep_cursor). Returns the
 * number of new alerts; the plugin's EARSHOT_RETRY or EARSHOT_BLOCKED (its words in err); the
 * plugin's negative errno (-EBADMSG: a malformed event); or -EIO when the store failed (its
 * message in err).
 */
int feed_stream_event(Feed *f, const char *event, const char *data, size_t len,
                      bool keep_cursor, char *err, size_t err_len);
/*
 * A refused stream connect (resp: status, headers, the start of the body): what the plugin's
 * parse_error() makes of it, EARSHOT_BLOCKED or EARSHOT_RETRY with its words in err, or a
 * negative errno when it says nothing (-EOPNOTSUPP without parse_error). Nothing is committed.
 */
int feed_stream_refused(Feed *f, const struct earshot_response *resp, char *err,
                        size_t err_len);
/* The feed's stream cannot work until someone acts (a refused token): one operator alert, as
 * a blocked poll raises (rule source-blocked), saying that the feed is still polled. */
void feed_stream_blocked(Feed *f, const char *why);

/* The state directory a Config and options select. malloc()ed. */
char *manager_state_dir(const ManagerOptions *opts, const Config *c);

static inline void manager_freep(Manager **m) {
        if (*m)
                manager_free(*m);
}
