/* SPDX-License-Identifier: MIT */
/*
 * dispatch.c - the outbox, delivered.
 *
 * Guarantees: at least once. A row is claimed only in memory while its delivery is in flight;
 * it leaves the pending state in the store only on DELIVERED or REJECTED. A crash, a reload or
 * a failure leaves it pending, to be sent again with the same alert id (which the webhook
 * carries as Idempotency-Key, so receivers can de-duplicate). Failures are retried with
 * exponential backoff and jitter; a server's Retry-After wins when it asks for longer.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "dispatch.h"
#include "manager.h"
#include "queue.h"
#include "scheduler.h"
#include "util/cleanup.h"
#include "util/strv.h"

#define MAX_IN_FLIGHT 8
#define BATCH 32

typedef struct Delivery {
        Dispatcher *d;           /* borrowed */
        Notifier *notifier;      /* borrowed from Manager::inst */
        OutboxItem item;         /* owned */
        struct earshot_post post; /* borrows from item.alert */
        struct earshot_alert alert;
        char **rules;            /* owned */
        struct earshot_request req; /* owned */
        OutboxItem *batch;       /* owned: a digest's rows (item is then made up), else NULL */
        size_t n_batch;
        HttpCall *call;
        ExecCall *run;           /* instead of call, for a program (request_exec) */
        struct Delivery *prev, *next; /* Dispatcher::deliveries */
} Delivery;

struct Dispatcher {
        Manager *m;                 /* borrowed: the owner */
        sd_event_source *timer;     /* owned */
        Delivery *deliveries;       /* owned list of deliveries in flight */
        size_t n_in_flight;
        bool due_now;               /* the last look found more due rows than it could take */
        Instances **retired;        /* owned: replaced by a reload, still delivering */
        size_t n_retired;
        usec_t wake;                /* CLOCK_MONOTONIC: a notifier's rate or hold ends */
};

static void delivery_free(Delivery *dl);

static void item_done(OutboxItem *it) {
        free(it->alert_id);
        free(it->notifier);
        free(it->event);
        free(it->stop_on);
        free(it->message);
        free(it->route);
        alert_done(&it->alert);
        *it = (OutboxItem){};
}

static void arm(Dispatcher *d, usec_t delay) {
        usec_t when = now_usec(CLOCK_MONOTONIC) + delay;
        if (sd_event_source_set_time(d->timer, when) < 0 ||
            sd_event_source_set_enabled(d->timer, SD_EVENT_ONESHOT) < 0)
                log_error("cannot arm the delivery timer");
}

static bool uses(const Dispatcher *d, const Instances *in) {
        for (const Delivery *dl = d->deliveries; dl; dl = dl->next)
                if (dl->notifier >= in->notifiers && dl->notifier < in->notifiers + in->n_notifiers)
                        return true;
        return false;
}

/* Free retired instances no delivery needs any more. */
static void gc_retired(Dispatcher *d) {
        for (size_t i = 0; i < d->n_retired;)
                if (!uses(d, d->retired[i])) {
                        instances_done(d->retired[i]);
                        free(d->retired[i]);
                        d->retired[i] = d->retired[--d->n_retired];
                } else
                        i++;
}

void dispatcher_retire(Dispatcher *d, Instances *old) {
        Instances **nr = realloc(d->retired, sizeof(Instances *) * (d->n_retired + 1));
        if (!nr) {
                /* cannot keep it: its deliveries are dropped and will be retried */
                for (Delivery *dl = d->deliveries, *next; dl; dl = next) {
                        next = dl->next;
                        if (dl->notifier >= old->notifiers &&
                            dl->notifier < old->notifiers + old->n_notifiers)
                                delivery_free(dl);
                }
                instances_done(old);
                free(old);
                return;
        }
        d->retired = nr;
        d->retired[d->n_retired++] = old;
        gc_retired(d);
}

static void delivery_free(Delivery *dl) {
        Dispatcher *d = dl->d;
        http_cancel(dl->call);
        exec_cancel(dl->run);
        if (dl->prev)
                dl->prev->next = dl->next;
        else if (d->deliveries == dl)
                d->deliveries = dl->next;
        if (dl->next)
                dl->next->prev = dl->prev;
        d->n_in_flight--;
        http_request_done(&dl->req);
        strv_free(dl->rules);
        outbox_items_free(dl->batch, dl->n_batch);
        item_done(&dl->item);
        free(dl);
}

/* Re-arm for the earliest pending row (or now, when more were due than taken). */
static void rearm(Dispatcher *d) {
        Manager *m = d->m;
        int64_t next, now = (int64_t)now_usec(CLOCK_REALTIME);

        if (m->stopping)
                return;
        if (d->due_now) {
                arm(d, 0);
                return;
        }
        int r = store_outbox_next(m->store, &next);
        if (r == -ENOENT) {
                /* nothing pending: wait for a kick */
                (void)sd_event_source_set_enabled(d->timer, SD_EVENT_OFF);
                return;
        }
        if (r < 0) {
                log_warning("cannot read the outbox: %s; looking again in 10s",
                            store_errmsg(m->store));
                arm(d, 10 * USEC_PER_SEC);
                return;
        }
        /* rows due now that the last look left (in flight, or their notifier's rate or hold
         * not passed): never spin on them; look again a little later, or when the rate or
         * hold allows */
        usec_t delay = next > now ? (usec_t)(next - now) : USEC_PER_SEC;
        usec_t mono = now_usec(CLOCK_MONOTONIC);
        if (d->wake != USEC_INFINITY && d->wake < mono + delay)
                delay = d->wake > mono ? d->wake - mono : 0;
        arm(d, delay);
}

/* Record one outcome for one row. */
static int record(Manager *m, int64_t id, int outcome, const char *error, int64_t now,
                  int64_t retry_at) {
        if (outcome == EARSHOT_DELIVERED)
                return store_outbox_delivered(m->store, id, now);
        if (outcome == EARSHOT_REJECTED)
                return store_outbox_rejected(m->store, id, error, now);
        return store_outbox_retry(m->store, id, retry_at, error);
}

/*
 * `answered`: the outcome is the receiver's (a response, or none in time), not the plugin's
 * own. A receiver that failed is left alone for a while (the retry delay, at most 5 minutes,
 * or as long as it asked with Retry-After): its backlog waits rather than hammering it, and
 * goes out in due order once a probe succeeds.
 */
static void finish_ex(Delivery *dl, int outcome, const char *error, usec_t server,
                      bool answered) {
        Dispatcher *d = dl->d;
        Manager *m = d->m;
        Notifier *n = dl->notifier;
        const Config *c = m->inst.config;
        int64_t now = (int64_t)now_usec(CLOCK_REALTIME);
        usec_t delay = 0;
        char when[32];
        int r;

        if (outcome != EARSHOT_DELIVERED && outcome != EARSHOT_REJECTED)
                delay = retry_delay(c->retry_initial, c->retry_max,
                                    (unsigned)dl->item.attempts + 1, server);
        if (dl->n_batch > 0) {
                r = store_begin(m->store);
                for (size_t i = 0; r >= 0 && i < dl->n_batch; i++)
                        r = record(m, dl->batch[i].id, outcome, error, now, now + (int64_t)delay);
                r = r >= 0 ? store_commit(m->store) : r;
                if (r < 0)
                        store_rollback(m->store);
        } else
                r = record(m, dl->item.id, outcome, error, now, now + (int64_t)delay);

        if (outcome == EARSHOT_DELIVERED) {
                if (complaint_release(&n->complaint))
                        log_notice("%s delivering again", n->prefix);
                n->hold_until = 0;
                log_info("%s delivered %s %s%s%s", n->prefix,
                         dl->n_batch ? "digest" : "alert", dl->item.alert.id,
                         dl->n_batch ? " of " : "", dl->n_batch ? dl->item.message : "");
        } else if (outcome == EARSHOT_REJECTED)
                log_error("%s %s %s rejected, not retrying: %s", n->prefix,
                          dl->n_batch ? "digest" : "alert", dl->item.alert.id,
                          error ? error : "rejected");
        else {
                if (answered) {
                        usec_t hold = delay < 5 * USEC_PER_MINUTE ? delay : 5 * USEC_PER_MINUTE;
                        if (server > hold)
                                hold = server;
                        n->hold_until = now_usec(CLOCK_MONOTONIC) + hold;
                }
                if (complaint_fail(&n->complaint, error ? error : "failed"))
                        log_warning("%s %s %s not delivered (%s); will retry in %s", n->prefix,
                                    dl->n_batch ? "digest" : "alert", dl->item.alert.id,
                                    error ? error : "failed",
                                    format_duration(when, sizeof(when), delay));
        }
        if (r < 0)
                log_warning("%s cannot record the delivery outcome: %s (it will be retried)",
                            n->prefix, store_errmsg(m->store));
        delivery_free(dl);
        gc_retired(d);
        rearm(d);
        manager_check_once_done(m);
}

static void finish(Delivery *dl, int outcome, const char *error, usec_t server) {
        finish_ex(dl, outcome, error, server, false);
}

/*
 * "HTTP 400 from URL: <the receiver's answer>", "SMTP 550 from URL: ...", "/usr/bin/x exited
 * with 3: <its output>": what the operator needs to fix a permanent failure. The answer is
 * cut to one line of 200 bytes, control characters replaced.
 */
static void describe_failure(const struct earshot_request *req, const HttpResponse *resp,
                             char *buf, size_t len) {
        char answer[201];
        size_t n = 0;

        for (size_t i = 0; resp->body && i < resp->body_len && n < sizeof(answer) - 1; i++) {
                unsigned char ch = (unsigned char)resp->body[i];
                if (ch < 0x20 || ch == 0x7f) {
                        if (n > 0 && answer[n - 1] != ' ')
                                answer[n++] = ' ';
                } else
                        answer[n++] = (char)ch;
        }
        while (n > 0 && answer[n - 1] == ' ')
                n--;
        /* never end inside a UTF-8 sequence */
        while (n > 0 && ((unsigned char)answer[n - 1] & 0xC0) == 0x80)
                n--;
        if (n > 0 && ((unsigned char)answer[n - 1] & 0xC0) == 0xC0)
                n--;
        answer[n] = 0;

        if (req->exec_argv) {
                if (resp->exit_code >= 0)
                        snprintf(buf, len, "%s exited with %d%s%s", req->exec_argv[0],
                                 resp->exit_code, n ? ": " : "", answer);
                else
                        snprintf(buf, len, "%s: %s%s%s", req->exec_argv[0],
                                 resp->error ? resp->error : "failed", n ? ": " : "", answer);
        } else if (resp->result != CURLE_OK)
                snprintf(buf, len, "%s: %s", strna(req->url), resp->error);
        else
                snprintf(buf, len, "%s %d from %s%s%s", req->mail_from ? "SMTP" : "HTTP",
                         resp->status, strna(req->url), n ? ": " : "", answer);
}

static void on_done(Delivery *dl, const HttpResponse *resp) {
        const struct earshot_notifier_ops *ops = dl->notifier->cfg->plugin->desc->notifier;
        struct earshot_response view;
        char err[512];
        int outcome;

        http_response_view(resp, &view);
        outcome = ops->response ? ops->response(dl->notifier->state, &dl->alert, &view)
                                : earshot_http_outcome(resp->status);
        if (outcome != EARSHOT_DELIVERED && outcome != EARSHOT_REJECTED)
                outcome = EARSHOT_RETRY;
        describe_failure(&dl->req, resp, err, sizeof(err));
        finish_ex(dl, outcome, outcome == EARSHOT_DELIVERED ? NULL : err,
                  server_delay(&view, (int64_t)now_usec(CLOCK_REALTIME)), true);
}

static void on_response(HttpCall *call, const HttpResponse *resp, void *userdata) {
        Delivery *dl = userdata;
        dl->call = NULL;
        on_done(dl, resp);
}

static void on_run_done(ExecCall *call, const HttpResponse *resp, void *userdata) {
        Delivery *dl = userdata;
        dl->run = NULL;
        on_done(dl, resp);
}

static Notifier *find_notifier(Manager *m, const char *name) {
        for (size_t i = 0; i < m->inst.n_notifiers; i++)
                if (strcmp(m->inst.notifiers[i].cfg->name, name) == 0)
                        return &m->inst.notifiers[i];
        return NULL;
}

static bool in_flight(Dispatcher *d, int64_t id) {
        for (Delivery *dl = d->deliveries; dl; dl = dl->next) {
                if (dl->item.id == id)
                        return true;
                for (size_t i = 0; i < dl->n_batch; i++)
                        if (dl->batch[i].id == id)
                                return true;
        }
        return false;
}

static void build_alert(Delivery *dl) {
        const Alert *a = &dl->item.alert;
        cJSON *rules = cJSON_Parse(a->rules_json ? a->rules_json : "[]");
        const cJSON *it;

        dl->rules = calloc(1, sizeof(char *));
        cJSON_ArrayForEach(it, rules) if (cJSON_IsString(it) && dl->rules)
                (void)strv_extend(&dl->rules, it->valuestring);
        cJSON_Delete(rules);

        dl->post = (struct earshot_post){
                .size = sizeof(struct earshot_post),
                .id = a->post_id,
                .network = a->network,
                .url = a->url,
                .text = a->text,
                .author_handle = a->author_handle,
                .author_name = a->author_name,
                .author_followers = a->author_followers,
                .lang = a->lang,
                .created_usec = a->created_usec,
                .replies = a->replies,
                .reposts = a->reposts,
                .likes = a->likes,
        };
        static const char *const no_rules[] = {NULL};
        dl->alert = (struct earshot_alert){
                .size = sizeof(struct earshot_alert),
                .id = a->id,
                .rules = dl->rules ? (const char *const *)dl->rules : no_rules,
                .brand = a->brand,
                .severity = a->severity,
                .source = a->source,
                .post = &dl->post,
                .detected_usec = a->detected_usec,
                .due_usec = a->due_usec,
                .respond_within_usec = a->respond_within_usec,
                .event = dl->item.event,
                .message = dl->item.message,
                .state = a->state,
                .late_usec = a->late_usec,
                .posts = a->posts > 0 ? a->posts : 1,
                .copies = a->copies > 0 ? a->copies : 1,
                .priority = a->priority,
        };
}

/* An escalation step whose alert was answered (or acknowledged, for the steps that stop there)
 * after the step was queued: it must not go out. */
static bool step_obsolete(const OutboxItem *item) {
        if (!item->stop_on)
                return false;
        EscalationStep step = {.stop_on = alert_state_from_string(item->stop_on)};
        AlertState state = alert_state_from_string(item->alert.state);
        if (step.stop_on < 0 || state < 0)
                return false; /* unknown to this earshot: deliver rather than drop */
        return !escalation_step_live(&step, state);
}

#define DIGEST_MAX_ROWS 500 /* rows one digest message carries; more wait for the next */
#define DIGEST_MAX_LINES 50 /* alerts listed in it; the rest are counted */

/* One line of a digest: "• [high] mastodon @alice: the text… https://…". */
static void digest_line(FILE *f, const Alert *a) {
        char text[241];
        size_t n = 0;
        bool space = false;
        for (const char *p = a->text ? a->text : ""; *p && n < sizeof(text) - 4; p++) {
                unsigned char ch = (unsigned char)*p;
                if (ch < 0x20 || ch == ' ') {
                        space = n > 0;
                        continue;
                }
                if (space)
                        text[n++] = ' ';
                space = false;
                text[n++] = (char)ch;
        }
        /* cut on a character boundary */
        while (n > 0 && ((unsigned char)text[n - 1] & 0xC0) == 0x80)
                n--;
        if (n > 0 && (unsigned char)text[n - 1] >= 0xC0)
                n--;
        text[n] = 0;
        fprintf(f, "• [%s] %s%s%s: %s%s%s%s\n", strna(a->severity), strna(a->network),
                a->author_handle ? " @" : "", a->author_handle ? a->author_handle : "", text,
                a->text && strlen(a->text) > n ? "…" : "", a->url ? " " : "",
                a->url ? a->url : "");
}

/*
 * The digest of a batch as one made-up row: its own id (the same for every retry of this
 * batch), the highest severity, the union of the rules, one line per alert.
 */
static int make_digest(const OutboxItem *batch, size_t n, const RouteConfig *route,
                       OutboxItem *ret) {
        _cleanup_free_ char *text = NULL, *rules_json = NULL;
        size_t len = 0;
        uint64_t h = UINT64_C(0xcbf29ce484222325);
        Severity sev = SEVERITY_LOW;
        int64_t due = INT64_MAX, within = INT64_MAX;
        char key[128], d[32];
        const char *brand = batch[0].alert.brand;

        snprintf(key, sizeof(key), "%s|%s|%" PRId64, batch[0].notifier, strna(batch[0].route),
                 batch[0].digest_usec);
        for (const char *p = key; *p; p++)
                h = (h ^ (unsigned char)*p) * UINT64_C(0x100000001b3);

        cJSON *rules = cJSON_CreateArray();
        FILE *f = open_memstream(&text, &len);
        if (!rules || !f) {
                cJSON_Delete(rules);
                if (f)
                        fclose(f);
                return -ENOMEM;
        }
        for (size_t i = 0; i < n; i++) {
                const Alert *a = &batch[i].alert;
                Severity s = severity_from_string(a->severity);
                if (s > sev)
                        sev = s;
                if (a->due_usec > 0 && a->due_usec < due)
                        due = a->due_usec;
                if (a->respond_within_usec > 0 && a->respond_within_usec < within)
                        within = a->respond_within_usec;
                if (!streq_ptr(brand, a->brand))
                        brand = NULL;
                cJSON *rl = cJSON_Parse(a->rules_json ? a->rules_json : "[]"), *it;
                cJSON_ArrayForEach(it, rl) {
                        bool have = false;
                        const cJSON *x;
                        cJSON_ArrayForEach(x, rules) have = have || (cJSON_IsString(it) &&
                                                                     streq(x->valuestring,
                                                                           it->valuestring));
                        if (!have && cJSON_IsString(it))
                                cJSON_AddItemToArray(rules, cJSON_CreateString(it->valuestring));
                }
                cJSON_Delete(rl);
                if (i < DIGEST_MAX_LINES)
                        digest_line(f, a);
        }
        if (n > DIGEST_MAX_LINES)
                fprintf(f, "… and %zu more (earshotctl list)\n", n - DIGEST_MAX_LINES);
        if (fclose(f) != 0 || !(rules_json = cJSON_PrintUnformatted(rules))) {
                cJSON_Delete(rules);
                return -ENOMEM;
        }
        cJSON_Delete(rules);

        *ret = (OutboxItem){.id = batch[0].id, .created_usec = batch[0].created_usec,
                            .digest_usec = batch[0].digest_usec};
        Alert *a = &ret->alert;
        char id[32];
        snprintf(id, sizeof(id), "digest-%016" PRIx64, h);
        int64_t now = (int64_t)now_usec(CLOCK_REALTIME);
        if (asprintf(&ret->message, "%zu alert%s in the last %s", n, n == 1 ? "" : "s",
                     format_duration(d, sizeof(d), route ? route->digest : 0)) < 0)
                ret->message = NULL;
        ret->notifier = strdup(batch[0].notifier);
        ret->route = batch[0].route ? strdup(batch[0].route) : NULL;
        ret->event = strdup("digest");
        ret->alert_id = strdup(id);
        *a = (Alert){
                .id = strdup(id),
                .post_key = strdup(id),
                .post_id = strdup(id),
                .source = strdup("earshot"),
                .network = strdup("earshot"),
                .brand = brand ? strdup(brand) : NULL,
                .severity = strdup(severity_to_string(sev)),
                .state = strdup("open"),
                .text = TAKE_PTR(text),
                .rules_json = TAKE_PTR(rules_json),
                .author_followers = -1,
                .replies = -1,
                .reposts = -1,
                .likes = -1,
                .created_usec = batch[0].digest_usec ? batch[0].digest_usec : now,
                .detected_usec = now,
                .due_usec = due == INT64_MAX ? 0 : due,
                .respond_within_usec = within == INT64_MAX ? 0 : within,
                .posts = (int64_t)n,
                .copies = 1,
        };
        if (!ret->message || !ret->notifier || (batch[0].route && !ret->route) || !ret->event ||
            !ret->alert_id || !a->id || !a->post_key || !a->post_id || !a->source ||
            !a->network || (brand && !a->brand) || !a->severity || !a->state)
                return -ENOMEM;
        return 0;
}

/* The sample alert of an `earshotctl notify-test` row (its alert id names no alert). */
static int make_sample(const Config *c, OutboxItem *item) {
        Alert *a = &item->alert;
        const char *brand = c->rules && c->rules->n_brands ? c->rules->brands[0].name : NULL;
        int64_t now = (int64_t)now_usec(CLOCK_REALTIME);
        char *text = NULL, *message = NULL;

        if (asprintf(&text,
                     "This is a test from earshotctl notify-test: the route %s reaches the "
                     "notifier %s. Nobody needs to answer it.",
                     item->route ? item->route : "default", item->notifier) < 0)
                return -ENOMEM;
        if (asprintf(&message, "a test of route %s", item->route ? item->route : "default") <
            0) {
                free(text);
                return -ENOMEM;
        }
        alert_done(a);
        free(item->message);
        item->message = message;
        *a = (Alert){
                .id = strdup(item->alert_id),
                .post_key = strdup(item->alert_id),
                .post_id = strdup(item->alert_id),
                .source = strdup("earshotctl"),
                .network = strdup("earshot"),
                .brand = brand ? strdup(brand) : NULL,
                .severity = strdup("normal"),
                .state = strdup("open"),
                .text = text,
                .rules_json = strdup("[\"notify-test\"]"),
                .author_handle = strdup("earshot"),
                .author_name = strdup("earshot"),
                .author_followers = -1,
                .replies = -1,
                .reposts = -1,
                .likes = -1,
                .created_usec = item->created_usec,
                .detected_usec = now,
                .due_usec = now + (int64_t)USEC_PER_HOUR,
                .respond_within_usec = (int64_t)USEC_PER_HOUR,
                .posts = 1,
                .copies = 1,
        };
        if (!a->id || !a->post_key || !a->post_id || !a->source || !a->network ||
            (brand && !a->brand) || !a->severity || !a->state || !a->rules_json ||
            !a->author_handle || !a->author_name)
                return -ENOMEM;
        return 0;
}

static void start(Dispatcher *d, OutboxItem *item) {
        Manager *m = d->m;
        Notifier *n = find_notifier(m, item->notifier);
        OutboxItem *batch = NULL;
        size_t n_batch = 0;
        int64_t now = (int64_t)now_usec(CLOCK_REALTIME);
        int r;

        if (!item->alert.id) {
                if (!streq_ptr(item->event, "test")) {
                        /* the alert was pruned while its row waited: nothing left to say */
                        (void)store_outbox_cancel(m->store, item->id, "cancelled: the alert is gone",
                                                  now);
                        return;
                }
                if (!item->alert_id || make_sample(m->inst.config, item) < 0) {
                        log_error("out of memory, delivery postponed");
                        return;
                }
        }
        if (step_obsolete(item)) {
                char why[64];
                snprintf(why, sizeof(why), "cancelled: the alert is %s", item->alert.state);
                log_info("alert %s: %s to %s not sent, the alert is %s meanwhile",
                         item->alert.id, item->event, item->notifier, item->alert.state);
                if (store_outbox_cancel(m->store, item->id, why, now) < 0)
                        log_warning("cannot cancel outbox row %" PRId64 ": %s", item->id,
                                    store_errmsg(m->store));
                return;
        }

        if (!n || !n->cfg->enabled) {
                int64_t later = (int64_t)now_usec(CLOCK_REALTIME) + (int64_t)USEC_PER_HOUR;
                log_warning("alert %s is queued for notifier '%s', which is %s; keeping it and "
                            "looking again in 1h",
                            item->alert.id, item->notifier, n ? "disabled" : "not configured");
                (void)store_outbox_retry(m->store, item->id, later,
                                         "notifier not configured or disabled");
                return;
        }
        if (item->digest_usec > 0) {
                r = store_outbox_batch(m->store, item->notifier, item->route, item->digest_usec,
                                       DIGEST_MAX_ROWS, &batch, &n_batch);
                if (r < 0) {
                        log_warning("cannot read digest rows: %s; trying again later",
                                    store_errmsg(m->store));
                        return;
                }
                size_t kept = 0;
                for (size_t i = 0; i < n_batch; i++) {
                        if (batch[i].alert.id) {
                                batch[kept++] = batch[i];
                                continue;
                        }
                        /* pruned meanwhile: dropped from the digest */
                        (void)store_outbox_cancel(m->store, batch[i].id,
                                                  "cancelled: the alert is gone", now);
                        item_done(&batch[i]);
                }
                n_batch = kept;
                if (n_batch <= 1) {
                        /* a digest of one is that alert, sent as it is */
                        outbox_items_free(batch, n_batch);
                        batch = NULL;
                        n_batch = 0;
                }
        }
        Delivery *dl = calloc(1, sizeof(*dl));
        if (!dl) {
                outbox_items_free(batch, n_batch);
                log_error("out of memory, delivery postponed");
                return;
        }
        dl->d = d;
        dl->notifier = n;
        if (n_batch > 1) {
                if (make_digest(batch, n_batch, config_route(m->inst.config, item->route),
                                &dl->item) < 0) {
                        item_done(&dl->item);
                        outbox_items_free(batch, n_batch);
                        free(dl);
                        log_error("out of memory, delivery postponed");
                        return;
                }
                dl->batch = batch;
                dl->n_batch = n_batch;
                dl->item.attempts = batch[0].attempts;
        } else {
                dl->item = *item;
                *item = (OutboxItem){}; /* ownership moved */
        }
        n->next_start = now_usec(CLOCK_MONOTONIC) + n->cfg->min_interval;
        dl->next = d->deliveries;
        if (d->deliveries)
                d->deliveries->prev = dl;
        d->deliveries = dl;
        d->n_in_flight++;
        build_alert(dl);

        r = n->cfg->plugin->desc->notifier->deliver(n->state, &dl->alert, &dl->req);
        if (r == EARSHOT_SEND && dl->req.exec_argv) {
                dl->req.exec_alert_id = dl->alert.id; /* the program's EARSHOT_ALERT_ID */
                r = exec_start(m->exec, &dl->req, on_run_done, dl, &dl->run);
                if (r < 0) {
                        dl->run = NULL;
                        finish(dl, EARSHOT_RETRY, "cannot start the program", 0);
                }
                return;
        }
        if (r == EARSHOT_SEND) {
                if (!dl->req.url) {
                        finish(dl, EARSHOT_RETRY, "the plugin built a request without a URL", 0);
                        return;
                }
                HttpOptions o = {
                        .timeout = m->inst.config->http_timeout,
                        .connect_timeout = m->inst.config->http_connect_timeout,
                        .max_size = 1u << 20,
                        .user_agent = m->inst.config->user_agent,
                };
                r = http_start(m->http, &dl->req, &o, on_response, dl, &dl->call);
                if (r < 0) {
                        char why[160];
                        dl->call = NULL;
                        /* a request the core refuses to send (plain SMTP to a remote host, a
                         * URL of another scheme) will never go out: say so once */
                        snprintf(why, sizeof(why), "cannot start the request to %s: %s",
                                 dl->req.url,
                                 r == -EPERM ? "refused (plain SMTP to a host that is not "
                                               "loopback)"
                                             : strerror(-r));
                        finish(dl, r == -EPERM || r == -EINVAL ? EARSHOT_REJECTED : EARSHOT_RETRY,
                               why, 0);
                }
                return;
        }
        if (r == EARSHOT_DELIVERED || r == EARSHOT_REJECTED || r == EARSHOT_RETRY)
                finish(dl, r, r == EARSHOT_DELIVERED ? NULL : "the plugin declined", 0);
        else
                finish(dl, EARSHOT_RETRY, strerror(r < 0 ? -r : EINVAL), 0);
}

/* Rows queued longer ago than delivery.max_age give up: failed, logged, counted. */
static void expire_old(Dispatcher *d, int64_t now) {
        Manager *m = d->m;
        const Config *c = m->inst.config;
        DeliveryRow *rows = NULL;
        size_t n = 0;
        char age[32];

        if (c->delivery_max_age == 0)
                return;
        if (store_outbox_expire(m->store, now - (int64_t)c->delivery_max_age, now, &rows, &n) <
            0) {
                log_warning("cannot expire old outbox rows: %s", store_errmsg(m->store));
                return;
        }
        format_duration(age, sizeof(age), c->delivery_max_age);
        for (size_t i = 0; i < n; i++)
                log_error("alert %s (%s) to %s: given up, undelivered after %s; last error: %s "
                          "(earshotctl deliveries --failed; earshotctl redeliver %" PRId64 ")",
                          strna(rows[i].alert_id), strna(rows[i].event), strna(rows[i].notifier),
                          age, rows[i].last_error ? rows[i].last_error : "none", rows[i].id);
        delivery_rows_free(rows, n);
}

static void wake_at(Dispatcher *d, usec_t when) {
        if (when < d->wake)
                d->wake = when;
}

/* Start the due rows of one notifier, within its rate and the in-flight cap. */
static void take(Dispatcher *d, Notifier *n, int64_t now, usec_t mono) {
        Manager *m = d->m;
        OutboxItem *items = NULL;
        size_t busy = 0, got = 0, taken = 0;

        if (n->hold_until > mono) {
                wake_at(d, n->hold_until);
                return;
        }
        if (n->next_start > mono) {
                wake_at(d, n->next_start);
                return;
        }
        if (d->n_in_flight >= MAX_IN_FLIGHT) {
                d->due_now = true;
                return;
        }
        for (Delivery *dl = d->deliveries; dl; dl = dl->next)
                if (dl->notifier == n)
                        busy += 1 + dl->n_batch;
        size_t want = n->cfg->min_interval > 0 ? 1 : MAX_IN_FLIGHT - d->n_in_flight;
        if (want > BATCH)
                want = BATCH;
        int r = store_outbox_due_for(m->store, n->cfg->name, NULL, now, want + busy, &items,
                                     &got);
        if (r < 0) {
                log_warning("cannot read the outbox: %s; looking again in 10s",
                            store_errmsg(m->store));
                wake_at(d, mono + 10 * USEC_PER_SEC);
                return;
        }
        for (size_t i = 0; i < got && taken < want; i++) {
                if (in_flight(d, items[i].id))
                        continue;
                if (d->n_in_flight >= MAX_IN_FLIGHT) {
                        d->due_now = true;
                        break;
                }
                start(d, &items[i]);
                taken++;
        }
        if (n->cfg->min_interval > 0 && taken > 0)
                wake_at(d, n->next_start); /* its next row, at its rate */
        else if (got == want + busy && taken > 0)
                d->due_now = true;
        outbox_items_free(items, got);
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Dispatcher *d = userdata;
        Manager *m = d->m;
        OutboxItem *items = NULL;
        _cleanup_strv_free_ char **names = NULL;
        int64_t now = (int64_t)now_usec(CLOCK_REALTIME);
        usec_t mono = now_usec(CLOCK_MONOTONIC);
        size_t n = 0;

        if (m->stopping)
                return 0;
        d->due_now = false;
        d->wake = USEC_INFINITY;
        expire_old(d, now);
        names = calloc(1, sizeof(char *));
        for (size_t k = 0; names && k < m->inst.n_notifiers; k++) {
                Notifier *nf = &m->inst.notifiers[k];
                if (!nf->cfg->enabled)
                        continue;
                if (strv_extend(&names, nf->cfg->name) < 0)
                        names = strv_free(names);
                take(d, nf, now, mono);
        }
        /* rows for notifiers no longer configured or disabled: start() keeps them for later */
        int r = names ? store_outbox_due_for(m->store, NULL, names, now, BATCH, &items, &n)
                      : -ENOMEM;
        if (r < 0) {
                log_warning("cannot read the outbox: %s; looking again in 10s",
                            r == -ENOMEM ? "out of memory" : store_errmsg(m->store));
                arm(d, 10 * USEC_PER_SEC);
                return 0;
        }
        for (size_t i = 0; i < n; i++)
                if (!in_flight(d, items[i].id))
                        start(d, &items[i]);
        outbox_items_free(items, n);
        rearm(d);
        manager_check_once_done(m);
        return 0;
}

int dispatcher_new(Manager *m, Dispatcher **ret) {
        Dispatcher *d = calloc(1, sizeof(*d));
        int r;
        if (!d)
                return -ENOMEM;
        d->m = m;
        d->wake = USEC_INFINITY;
        r = sd_event_add_time(m->event, &d->timer, CLOCK_MONOTONIC, USEC_INFINITY, 1, on_timer,
                              d);
        if (r < 0) {
                free(d);
                return r;
        }
        (void)sd_event_source_set_enabled(d->timer, SD_EVENT_OFF);
        (void)sd_event_source_set_description(d->timer, "dispatch");
        *ret = d;
        return 0;
}

void dispatcher_cancel_all(Dispatcher *d) {
        while (d->deliveries)
                delivery_free(d->deliveries);
        gc_retired(d);
}

Dispatcher *dispatcher_free(Dispatcher *d) {
        if (!d)
                return NULL;
        dispatcher_cancel_all(d);
        free(d->retired);
        sd_event_source_disable_unref(d->timer);
        free(d);
        return NULL;
}

void dispatcher_kick(Dispatcher *d) {
        if (d->m->store && !d->m->stopping)
                arm(d, 0);
}

bool dispatcher_idle(Dispatcher *d) {
        int64_t next;
        if (d->n_in_flight > 0 || d->due_now)
                return false;
        int r = store_outbox_next(d->m->store, &next);
        return r == -ENOENT || (r >= 0 && next > (int64_t)now_usec(CLOCK_REALTIME));
}
