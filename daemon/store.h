/* SPDX-License-Identifier: MIT */
/*
 * store.h - the durable state: feed cursors, seen posts, alerts and the delivery outbox, in one
 * SQLite database (WAL). A poll's results are written between store_begin() and
 * store_commit(), so a crash keeps or drops the whole poll. earshotctl opens the same database
 * while the daemon runs; both sides wait on a busy database instead of failing.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STORE_SCHEMA_VERSION 5
#define STORE_FILE "earshot.db"

typedef struct Store Store;

typedef struct Alert {
        char *id;
        char *post_key;
        char *source;
        char *feed;
        char *network;
        char *brand;      /* may be NULL */
        char *rules_json; /* JSON array of rule names */
        char *severity;
        char *post_id;
        char *url;
        char *text;
        char *author_handle;
        char *author_name;
        char *lang;
        char *state;
        int64_t author_followers; /* -1 unknown */
        int64_t replies, reposts, likes;
        int64_t created_usec, detected_usec, due_usec, respond_within_usec;
        /* the queue (schema 4) */
        double priority;
        int64_t late_usec;   /* how late the post already was when detected; 0 = in time */
        char *author_key;    /* "network:handle" for threads; may be NULL */
        char *text_key;      /* a hash of the folded text, for copy-paste pile-ons; may be NULL */
        char *escalation;    /* the escalation policy's name; NULL = none */
        int64_t posts;       /* 1 + posts attached as a thread */
        int64_t copies;      /* 1 + copies by other accounts */
        int64_t escalation_level;     /* escalation steps handled */
        int64_t next_escalation_usec; /* 0 = none planned */
        int64_t state_usec;  /* when the state last changed */
        int64_t acked_usec, responded_usec, resolved_usec; /* first time reached; 0 = never */
} Alert;

void alert_done(Alert *a);

typedef struct OutboxItem {
        int64_t id;
        char *alert_id;
        char *notifier;
        char *event;
        char *stop_on; /* escalation steps: the state name that cancels the row; else NULL */
        char *message; /* escalation steps: what it says; else NULL */
        char *route;   /* the route that queued it; NULL = the implicit default route */
        int64_t digest_usec; /* a digest row: the end of its window; else 0 */
        int64_t created_usec;
        int64_t attempts;
        Alert alert;   /* alert.id is NULL when the alert is gone (or for a "test" row) */
} OutboxItem;

void outbox_items_free(OutboxItem *items, size_t n);

/* Open (creating and migrating as needed). read_only for tools that only look. */
int store_open(const char *path, bool read_only, Store **ret);
Store *store_free(Store *s);
/* SQLite's message for the last error, for logs. */
const char *store_errmsg(Store *s);

int store_begin(Store *s);
int store_commit(Store *s);
void store_rollback(Store *s);

/* A feed's cursor: 0 and *ret_cursor (malloc()ed, NULL when none), *ret_known whether a poll
 * of the feed has ever run to its end (a poll cut short after a preliminary request, such as a
 * capability check, still leaves the next poll a first one). */
int store_feed_get(Store *s, const char *feed, char **ret_cursor, bool *ret_known);
/* Record a successful response (cursor NULL keeps the old one); poll_done when it was the
 * last of its poll, which then counts as one more poll. */
int store_feed_success(Store *s, const char *feed, const char *source, const char *cursor,
                       bool poll_done, int64_t now);
/* Record a failed poll. */
int store_feed_failure(Store *s, const char *feed, const char *source, const char *error,
                       int64_t now);

/* Conditional GET validators of a feed's last full response (all NULL when none). */
int store_feed_validators(Store *s, const char *feed, char **ret_url, char **ret_etag,
                          char **ret_last_modified);
int store_feed_set_validators(Store *s, const char *feed, const char *url, const char *etag,
                              const char *last_modified);
/* Count a successful poll's posts (and a 304). */
int store_feed_note(Store *s, const char *feed, int64_t n_posts, bool not_modified, int64_t now);
/* When the feed polls next (wall clock) and its rate-limit state, for `earshotctl sources`. */
int store_feed_schedule(Store *s, const char *feed, const char *source, int64_t next_poll,
                        const char *ratelimit);
/* When the feed was declared silent (0 = it is not). */
int store_feed_silent_since(Store *s, const char *feed, int64_t *ret);
/* When the feed's last successful response was recorded (0 = never). */
int store_feed_last_success(Store *s, const char *feed, int64_t *ret);
/* Mark (since > 0) or clear (0) a feed as silent. */
int store_feed_set_silent(Store *s, const char *feed, int64_t since);

typedef struct FeedRow {
        char *feed, *source, *cursor, *last_error, *ratelimit;
        int64_t polls, failures, posts_seen, not_modified, gaps;
        int64_t last_success_usec, last_failure_usec, last_post_usec, next_poll_usec;
        int64_t silent_since_usec, last_gap_usec; /* 0 = none */
        bool conditional; /* the server gave ETag/Last-Modified */
} FeedRow;
void feed_row_done(FeedRow *f);
int store_list_feeds(Store *s, FeedRow **ret, size_t *ret_n);

/* Mark a post as seen; *ret_new tells whether it was new. */
int store_seen_add(Store *s, const char *post_key, const char *feed, int64_t now, bool alerted,
                   bool *ret_new);
/*
 * A post seen again: move its seen time to now when it is older than `older_than`, so that a
 * post a feed keeps showing is never pruned and then taken for new (a cheap no-op otherwise).
 */
int store_seen_touch(Store *s, const char *post_key, int64_t now, int64_t older_than);

/* What a seen post said, kept so that rules can be re-run over it (earshotctl backtest). */
typedef struct SeenPost {
        const char *post_key;
        int64_t seen_usec;
        const char *source, *network, *text, *lang, *url;
        int64_t followers; /* -1 unknown */
        const char *rules_json; /* the rules it matched when seen (JSON array), or NULL */
} SeenPost;

/* Record the content of a post just added with store_seen_add(). */
int store_seen_set_post(Store *s, const char *post_key, const SeenPost *p);
/* Call fn for every seen post with content since `since`, oldest first; stops at fn != 0. */
int store_seen_foreach(Store *s, int64_t since, int (*fn)(const SeenPost *p, void *userdata),
                       void *userdata);
/* Record a coverage gap: posts of `feed` created in [from, to] may have been missed. */
int store_gap_add(Store *s, const char *feed, const char *source, int64_t from_usec,
                  int64_t to_usec, const char *reason, int64_t now);
/* Forget seen posts older than `before` (never those with an open alert). Returns count. */
int store_seen_prune(Store *s, int64_t before);

/* Insert an alert (0), or -EEXIST when the post already has one. */
int store_alert_insert(Store *s, const Alert *a);
int store_outbox_add(Store *s, const char *alert_id, const char *notifier, const char *event,
                     int64_t next_attempt, int64_t now);

/* Up to max pending outbox rows due at `now`, the most urgent alert (soonest due) first, with
 * their alerts. */
int store_outbox_due(Store *s, int64_t now, size_t max, OutboxItem **ret, size_t *ret_n);

/* ---- delivery (store-outbox.c) ---- */

/* A row to queue. */
typedef struct OutboxNew {
        const char *alert_id, *notifier, *event; /* required */
        const char *route;   /* NULL = the implicit default route */
        const char *stop_on; /* escalation steps: the state name that cancels the row */
        const char *message; /* escalation steps: what it says */
        int64_t next_attempt;
        int64_t digest_usec; /* a digest row: the end of its window; 0 = not batched */
} OutboxNew;

/* Queue a row: 1 when queued, 0 when that alert's event was already queued for that notifier
 * (once per event), or negative errno. */
int store_outbox_queue(Store *s, const OutboxNew *o, int64_t now);
/*
 * Up to max pending rows due at `now` of one notifier (notifier != NULL); or, with notifier
 * NULL, of every notifier not named in `except` (NULL-terminated; may be NULL). The most
 * urgent alert first.
 */
int store_outbox_due_for(Store *s, const char *notifier, char *const *except, int64_t now,
                         size_t max, OutboxItem **ret, size_t *ret_n);
/* The pending rows of one digest (notifier, route, window), the most urgent first. */
int store_outbox_batch(Store *s, const char *notifier, const char *route, int64_t digest_usec,
                       size_t max, OutboxItem **ret, size_t *ret_n);

/* An outbox row as `earshotctl deliveries` shows it. */
typedef struct DeliveryRow {
        int64_t id;
        char *alert_id, *notifier, *route, *event, *state, *last_error;
        int64_t attempts, next_attempt_usec, created_usec, done_usec, digest_usec;
} DeliveryRow;
void delivery_row_done(DeliveryRow *d);
void delivery_rows_free(DeliveryRow *rows, size_t n);

typedef enum DeliveryFilter {
        DELIVERIES_OPEN,    /* pending, failed and rejected: what needs looking at */
        DELIVERIES_PENDING,
        DELIVERIES_FAILED,  /* failed (gave up after max_age) and rejected (refused for good) */
        DELIVERIES_ALL,
} DeliveryFilter;

/* Rows, newest first. */
int store_outbox_list(Store *s, DeliveryFilter f, size_t limit, DeliveryRow **ret,
                      size_t *ret_n);
/* The id of the row the last successful INSERT made. */
int64_t store_last_insert_id(Store *s);
/* ---- what sources keep (source_state) and posts deleted at their source (store-outbox.c) */

typedef struct StateEntry {
        char *key, *value;
        int64_t expires_usec; /* 0 = never */
} StateEntry;
void state_entries_free(StateEntry *e, size_t n);
/* Every saved value of a source that has not expired at `now`. */
int store_state_load(Store *s, const char *source, int64_t now, StateEntry **ret,
                     size_t *ret_n);
/* Save (value NULL: forget) one value, at once (or within the open transaction). */
int store_state_set(Store *s, const char *source, const char *key, const char *value,
                    int64_t expires_usec, int64_t now);
/*
 * A post deleted at its source (post_key "network:id"): its text is dropped from the seen
 * posts and from any alert (or thread/copy post) that holds it; an alert whose own post it
 * was is marked deleted and *ret_alert_id (malloc()ed) names it: 1. 0 when no alert's own post,
 * negative errno on failure.
 */
int store_post_deleted(Store *s, const char *post_key, int64_t now, char **ret_alert_id);

/* An open or acknowledged operator alert (rule, e.g. "source-blocked") about a source: 0 and
 * *ret_id, or -ENOENT. */
int store_alert_find_operator(Store *s, const char *source, const char *rule, char **ret_id);

/* Queue `earshotctl notify-test` rows (event "test"; their alert_id names no alert), in one
 * transaction; ret_ids[i] gets each row's id. 0 or negative errno. */
int store_outbox_queue_tests(Store *s, const OutboxNew *rows, size_t n, int64_t now,
                             int64_t *ret_ids);
/* One row by id: 0, or -ENOENT. */
int store_outbox_get(Store *s, int64_t id, DeliveryRow *ret);
/* Rows per state: pending, delivered, failed, rejected, cancelled. */
int store_outbox_counts(Store *s, int64_t ret[5]);
/* Pending rows queued before `before` give up: they become 'failed', and are returned. */
int store_outbox_expire(Store *s, int64_t before, int64_t now, DeliveryRow **ret,
                        size_t *ret_n);
/* Queue a finished row again, now, as new (attempts 0, max_age counted from now): 0, -ENOENT,
 * or -EALREADY when it is still pending. */
int store_outbox_redeliver(Store *s, int64_t id, int64_t now);
/* The earliest next_attempt of any pending row; -ENOENT when none. */
int store_outbox_next(Store *s, int64_t *ret);
int store_outbox_delivered(Store *s, int64_t id, int64_t now);
int store_outbox_retry(Store *s, int64_t id, int64_t next_attempt, const char *error);
int store_outbox_rejected(Store *s, int64_t id, const char *error, int64_t now);

int store_count_open_alerts(Store *s, int64_t *ret);
/* All alerts, by due time. */
int store_list_alerts(Store *s, Alert **ret, size_t *ret_n);

/* ---- the queue (store-queue.c) ------------------------------------------------------------- */

#include "queue.h"

void alerts_free(Alert *list, size_t n);

typedef struct AlertEvent {
        int64_t id, at_usec;
        char *kind; /* "created", an action ("ack", ...), "escalated", "thread", "copy" */
        char *from_state, *to_state, *by, *note; /* each may be NULL */
} AlertEvent;
void alert_events_free(AlertEvent *e, size_t n);

/* A post attached to an alert: a thread (same author, same brand) or a copy (same text). */
typedef struct AttachedPost {
        char *post_key, *kind, *url, *author_handle, *text;
        int64_t created_usec, detected_usec;
} AttachedPost;
void attached_posts_free(AttachedPost *p, size_t n);

/* Add a line to an alert's history (inside the caller's transaction, if any). */
int store_event_add(Store *s, const char *alert_id, int64_t at, const char *kind,
                    const char *from_state, const char *to_state, const char *by,
                    const char *note);
int store_alert_events(Store *s, const char *id, AlertEvent **ret, size_t *ret_n);
int store_alert_posts(Store *s, const char *id, AttachedPost **ret, size_t *ret_n);

/* The full id of an alert named by its id or a unique prefix of it: 0 and *ret_id (malloc()ed);
 * -ENOENT; -ENOTUNIQ when the prefix names several. */
int store_alert_find(Store *s, const char *id_or_prefix, char **ret_id);
/* One alert by full id: 0, or -ENOENT. */
int store_alert_get(Store *s, const char *id, Alert *ret);

/*
 * Apply an action to an alert in its own transaction: check the move against the current state
 * (alert_transition()), change the state, keep the first time it was acknowledged, answered
 * and resolved, and record the event with who and why. Reopening asks the daemon to plan the
 * remaining escalation steps again. Returns 0 with *ret_from and *ret_to; -ENOENT; -EALREADY or
 * -EPERM with *ret_from; -EBUSY when the store stayed locked; other negative errno.
 */
int store_alert_act(Store *s, const char *id, AlertAction action, const char *by,
                    const char *note, int64_t now, AlertState *ret_from, AlertState *ret_to);

typedef struct AlertFilter {
        unsigned states;    /* bit (1 << AlertState) per state wanted; 0 = all */
        const char *brand;  /* NULL = any */
        const char *rule;   /* NULL = any: alerts whose rules include this one */
        const char *network;
        bool overdue;       /* only open/acknowledged alerts past their due time at `now` */
        int64_t now;
        int64_t since;      /* posts created at or after this; 0 = all */
        size_t limit;       /* 0 = no limit */
} AlertFilter;

/* Alerts by due time, then priority (highest first). */
int store_alerts_query(Store *s, const AlertFilter *f, Alert **ret, size_t *ret_n);

/* What the team's figures need of an alert; strings valid during the callback only. */
typedef struct AlertTimes {
        const char *id, *brand, *network, *rules_json;
        AlertState state;
        int64_t created_usec, detected_usec, due_usec;
        int64_t acked_usec, responded_usec, resolved_usec, late_usec; /* 0 = never / in time */
} AlertTimes;

/* Every complaint alert (operator alerts left out) of posts created since `since`, in no
 * particular order (the figures do not depend on it, and a year of alerts reads twice as
 * fast without a sort); stops when fn returns non-zero and returns that. */
int store_alert_times_foreach(Store *s, int64_t since,
                              int (*fn)(const AlertTimes *t, void *userdata), void *userdata);

/* Alerts whose next escalation is due by `now` (any state: the caller plans with the current
 * one), soonest first, at most max. */
int store_escalations_due(Store *s, int64_t now, size_t max, Alert **ret, size_t *ret_n);
/* The earliest planned escalation; -ENOENT when none. */
int store_escalation_next(Store *s, int64_t *ret);
/* Record the steps handled and when the next is due (0 = none). */
int store_alert_set_escalation(Store *s, const char *id, int64_t level, int64_t next_usec);
/* An outbox row for an escalation step: stop_on is the state name that cancels it if reached
 * before delivery, message what it says ("overdue by 5m"). */
int store_outbox_add_step(Store *s, const char *alert_id, const char *notifier, const char *event,
                          const char *stop_on, const char *message, int64_t next_attempt,
                          int64_t now);
/* A pending row that must not go out any more (the alert was answered meanwhile). */
int store_outbox_cancel(Store *s, int64_t id, const char *why, int64_t now);

/* The open or acknowledged alert of this author about this brand (brand NULL matches NULL),
 * newest first: 0 and *ret_id, or -ENOENT. */
int store_alert_find_thread(Store *s, const char *author_key, const char *brand, char **ret_id);
/* An open or acknowledged alert with the same text detected since `since` by another author:
 * 0 and *ret_id, or -ENOENT. */
int store_alert_find_copy(Store *s, const char *text_key, int64_t since, const char *author_key,
                          char **ret_id);
/* Attach a post to an alert as "thread" or "copy": 1 when attached now, 0 when it already was. */
int store_alert_attach(Store *s, const char *alert_id, const char *kind, const AttachedPost *p,
                       int64_t now);

/* Delete closed alerts (resolved, muted, false positive) whose state changed before the time,
 * with their history and outbox rows; returns how many. */
int store_prune_alerts(Store *s, int64_t closed_before);
/* Delete finished outbox rows (delivered, rejected, cancelled, failed) created before the
 * time. */
int store_prune_outbox(Store *s, int64_t before);
/* Run SQL as it is: for benchmarks and tools that shape a store directly, never with input. */
int store_exec(Store *s, const char *sql);
/* Changes when another connection commits (PRAGMA data_version): earshotctl's writes. */
int store_data_version(Store *s, int64_t *ret);

/* The stable alert id of a post key (a hash: the same post always gets the same id). */
void alert_id_for(const char *post_key, char buf[static 24]);
