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
};

static void delivery_free(Delivery *dl);

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
        free(dl->item.notifier);
        free(dl->item.event);
        free(dl->item.stop_on);
        free(dl->item.message);
        alert_done(&dl->item.alert);
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
                (void)sd_event_source_set_enabled(d->timer, SD_EVENT_OFF);
                return;
        }
        if (r < 0) {
                log_warning("cannot read the outbox: %s; looking again in 10s",
                            store_errmsg(m->store));
                arm(d, 10 * USEC_PER_SEC);
                return;
        }
        /* rows in flight are pending too: never spin on them, look again a little later */
        arm(d, next > now ? (usec_t)(next - now) : (d->n_in_flight ? USEC_PER_SEC : 0));
}

static void finish(Delivery *dl, int outcome, const char *error, usec_t server) {
        Dispatcher *d = dl->d;
        Manager *m = d->m;
        Notifier *n = dl->notifier;
        int64_t now = (int64_t)now_usec(CLOCK_REALTIME);
        char when[32];
        int r;

        if (outcome == EARSHOT_DELIVERED) {
                r = store_outbox_delivered(m->store, dl->item.id, now);
                if (complaint_release(&n->complaint))
                        log_notice("%s delivering again", n->prefix);
                log_info("%s delivered alert %s", n->prefix, dl->item.alert.id);
        } else if (outcome == EARSHOT_REJECTED) {
                r = store_outbox_rejected(m->store, dl->item.id, error, now);
                log_error("%s alert %s rejected, not retrying: %s", n->prefix, dl->item.alert.id,
                          error ? error : "rejected");
        } else {
                const Config *c = m->inst.config;
                usec_t delay = retry_delay(c->retry_initial, c->retry_max,
                                           (unsigned)dl->item.attempts + 1, server);
                r = store_outbox_retry(m->store, dl->item.id, now + (int64_t)delay, error);
                if (complaint_fail(&n->complaint, error ? error : "failed"))
                        log_warning("%s alert %s not delivered (%s); will retry in %s", n->prefix,
                                    dl->item.alert.id, error ? error : "failed",
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
        finish(dl, outcome, outcome == EARSHOT_DELIVERED ? NULL : err,
               server_delay(&view, (int64_t)now_usec(CLOCK_REALTIME)));
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
        for (Delivery *dl = d->deliveries; dl; dl = dl->next)
                if (dl->item.id == id)
                        return true;
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

static void start(Dispatcher *d, OutboxItem *item) {
        Manager *m = d->m;
        Notifier *n = find_notifier(m, item->notifier);
        int r;

        if (step_obsolete(item)) {
                int64_t now = (int64_t)now_usec(CLOCK_REALTIME);
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
        Delivery *dl = calloc(1, sizeof(*dl));
        if (!dl) {
                log_error("out of memory, delivery postponed");
                return;
        }
        dl->d = d;
        dl->notifier = n;
        dl->item = *item;
        *item = (OutboxItem){}; /* ownership moved */
        dl->next = d->deliveries;
        if (d->deliveries)
                d->deliveries->prev = dl;
        d->deliveries = dl;
        d->n_in_flight++;
        build_alert(dl);

        r = n->cfg->plugin->desc->notifier->deliver(n->state, &dl->alert, &dl->req);
        if (r == EARSHOT_SEND && dl->req.exec_argv) {
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
                        dl->call = NULL;
                        finish(dl, EARSHOT_RETRY, "cannot start the request", 0);
                }
                return;
        }
        if (r == EARSHOT_DELIVERED || r == EARSHOT_REJECTED || r == EARSHOT_RETRY)
                finish(dl, r, r == EARSHOT_DELIVERED ? NULL : "the plugin declined", 0);
        else
                finish(dl, EARSHOT_RETRY, strerror(r < 0 ? -r : EINVAL), 0);
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Dispatcher *d = userdata;
        Manager *m = d->m;
        OutboxItem *items = NULL;
        size_t n = 0;

        if (m->stopping)
                return 0;
        d->due_now = false;
        int r = store_outbox_due(m->store, (int64_t)now_usec(CLOCK_REALTIME), BATCH, &items, &n);
        if (r < 0) {
                log_warning("cannot read the outbox: %s; looking again in 10s",
                            store_errmsg(m->store));
                arm(d, 10 * USEC_PER_SEC);
                return 0;
        }
        size_t taken = 0;
        for (size_t i = 0; i < n; i++) {
                if (in_flight(d, items[i].id))
                        continue;
                if (d->n_in_flight >= MAX_IN_FLIGHT) {
                        d->due_now = true;
                        break;
                }
                start(d, &items[i]);
                taken++;
        }
        if (n == BATCH && taken > 0)
                d->due_now = true;
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
