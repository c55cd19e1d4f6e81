/* SPDX-License-Identifier: MIT */
/*
 * webhook.c - every alert as a JSON POST to one URL.
 *
 * The plugin only builds the request; the core sends it, and reads the answer with
 * earshot_http_outcome(): 2xx delivered; 408, 425, 429, 5xx and no answer retried later; any
 * other status rejected for good. Delivery is at least once: a retried alert carries the same
 * `id`, and the `Idempotency-Key` header names the event ("ID" for the first alert,
 * "ID/escalation-1", "ID/thread" for later events of the same alert), so a receiver drops what
 * it has already seen and still gets every reminder. The body is always valid JSON in valid UTF-8 (bytes that are not UTF-8 become U+FFFD);
 * the bearer token only ever goes into the Authorization header.
 *
 * THE PAYLOAD (schema "earshot.alert.v1"; this comment is the receiver's reference)
 *
 *   POST <url>
 *   Content-Type: application/json
 *   Idempotency-Key: <id>   (or <id>/<event> for events other than "new")
 *   Authorization: Bearer <bearer_token>          (only when configured)
 *
 *   {
 *     "schema": "earshot.alert.v1",   string; a new version string means an incompatible
 *                                     change; fields may be added within a version
 *     "event": "new",                 string; "new" is the first alert for a post;
 *                                     "escalation-N" the Nth reminder that it is still
 *                                     unanswered; "thread" when its author posted again
 *     "message": "overdue by 5m",     string or null; what this event says
 *     "id": "…",                      string; the alert id, stable across retries and events
 *     "state": "open",                string; "open", "acknowledged", ... when sent
 *     "late": false,                  boolean; the post was already past its target when
 *     "late_by": 0,                   earshot first saw it, by this many seconds
 *     "posts": 1,                     integer; posts in the thread (the author posted again)
 *     "copies": 1,                    integer; accounts that posted the same text
 *     "priority": 42.5,               number; higher is more urgent
 *     "rules": ["refund", "angry"],   array of strings; the rules that matched
 *     "brand": "acme",                string or null
 *     "severity": "high",             string: "low", "normal", "high" or "critical"
 *     "network": "mastodon",          string; where the post was made
 *     "source": "mastodon-acme",      string; the source's name in earshot's config
 *     "detected_at": "2026-08-01T13:56:02.114Z",  RFC 3339 UTC; when earshot heard the post
 *     "due_at": "2026-08-01T14:56:02.114Z",       RFC 3339 UTC; when an answer is due
 *     "respond_within": 3600,         integer seconds; the target; due_at = post.created_at + this
 *     "post": {
 *       "id": "https://…/statuses/1", string; unique within the network
 *       "url": "https://…/@alice/1",  string or null; a link for people
 *       "text": "…",                  string; plain text (HTML already converted)
 *       "lang": "en",                 string or null; as the network reports it
 *       "created_at": "…Z",           RFC 3339 UTC, or null when unknown
 *       "author": {
 *         "handle": "alice@mastodon.social",   string or null
 *         "name": "Alice",                     string or null; display name
 *         "followers": 1200                    integer, or null when unknown
 *       },
 *       "replies": 0, "reposts": 2, "likes": 5 integers, or null when unknown
 *     }
 *   }
 *
 * The times of "detected_at" and "due_at" are null only if earshot did not know them.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "earshot-plugin.h"
#include "plugin-json.h"
#include "plugin-util.h"

#define SCHEMA "earshot.alert.v1"

typedef struct Webhook {
        const struct earshot_host *host; /* borrowed, valid until destroy */
        char *url;                       /* owned */
        char *authorization;             /* owned, secret: "Bearer TOKEN", or NULL */
} Webhook;

static void webhook_destroy(void *state) {
        Webhook *w = state;

        if (!w)
                return;
        free(w->url);
        if (w->authorization) {
                explicit_bzero(w->authorization, strlen(w->authorization));
                free(w->authorization);
        }
        free(w);
}

static inline void webhook_destroyp(Webhook **w) {
        webhook_destroy(*w);
}

static bool has_control(const char *s) {
        for (; *s; s++)
                if ((unsigned char)*s < ' ' || *s == 0x7f)
                        return true;
        return false;
}

static int webhook_create(const struct earshot_host *host, const struct earshot_values *vals,
                          char *err, size_t err_len, void **ret_state) {
        _cleanup_(webhook_destroyp) Webhook *w = NULL;
        const char *url, *token;

        url = earshot_value_str(vals, "url");
        if (!url || !*url)
                return set_error(err, err_len, "url: the receiver's URL is needed");
        if ((strncasecmp(url, "https://", 8) != 0 && strncasecmp(url, "http://", 7) != 0) ||
            has_control(url) || strchr(url, ' '))
                return set_error(err, err_len, "url: '%s' is not an http:// or https:// URL", url);
        token = earshot_value_str(vals, "bearer_token");
        if (token && has_control(token))
                return set_error(err, err_len, "bearer_token: contains control characters");

        w = calloc(1, sizeof(*w));
        if (!w)
                return -ENOMEM;
        w->host = host;
        w->url = strdup(url);
        if (!w->url)
                return -ENOMEM;
        if (token && *token) {
                w->authorization = malloc(strlen("Bearer ") + strlen(token) + 1);
                if (!w->authorization)
                        return -ENOMEM;
                strcpy(stpcpy(w->authorization, "Bearer "), token);
        }

        *ret_state = w;
        w = NULL;
        return 0;
}

/*
 * Length of the valid UTF-8 sequence at s (RFC 3629: no overlongs, no surrogates, nothing
 * above U+10FFFF), or 0 if the byte at s does not start one.
 */
static size_t utf8_valid_len(const unsigned char *s) {
        if (s[0] < 0x80)
                return 1;
        if (s[0] >= 0xc2 && s[0] <= 0xdf)
                return (s[1] & 0xc0) == 0x80 ? 2 : 0;
        if (s[0] >= 0xe0 && s[0] <= 0xef) {
                unsigned char lo = s[0] == 0xe0 ? 0xa0 : 0x80, hi = s[0] == 0xed ? 0x9f : 0xbf;
                return s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 ? 3 : 0;
        }
        if (s[0] >= 0xf0 && s[0] <= 0xf4) {
                unsigned char lo = s[0] == 0xf0 ? 0x90 : 0x80, hi = s[0] == 0xf4 ? 0x8f : 0xbf;
                return s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 && (s[3] & 0xc0) == 0x80
                               ? 4
                               : 0;
        }
        return 0;
}

/* A JSON string with invalid UTF-8 replaced by U+FFFD, or JSON null for NULL. */
static cJSON *json_string(const char *s) {
        const unsigned char *p;
        size_t n, bad = 0;

        if (!s)
                return cJSON_CreateNull();
        for (p = (const unsigned char *)s; *p; p += n ? n : 1)
                if ((n = utf8_valid_len(p)) == 0)
                        bad++;
        if (bad == 0)
                return cJSON_CreateString(s);

        _cleanup_free_ char *copy = malloc(strlen(s) + 2 * bad + 1);
        char *o = copy;
        if (!copy)
                return NULL;
        for (p = (const unsigned char *)s; *p;) {
                n = utf8_valid_len(p);
                if (n == 0) {
                        o = stpcpy(o, "\xef\xbf\xbd");
                        p++;
                } else {
                        memcpy(o, p, n);
                        o += n;
                        p += n;
                }
        }
        *o = 0;
        return cJSON_CreateString(copy);
}

/* An exact integer (cJSON's doubles lose digits past 2^53 and print 1e+15), or null. */
static cJSON *json_integer(int64_t v, bool null_if_negative) {
        char buf[32];

        if (null_if_negative && v < 0)
                return cJSON_CreateNull();
        (void)snprintf(buf, sizeof(buf), "%" PRId64, v);
        return cJSON_CreateRaw(buf);
}

static cJSON *json_time(const struct earshot_host *h, int64_t usec) {
        char buf[64];

        if (usec <= 0)
                return cJSON_CreateNull();
        return cJSON_CreateString(h->format_time(usec, buf, sizeof(buf)));
}

/* Add item to obj under key (or to an array when key is NULL), taking ownership of item. */
static bool add(cJSON *obj, const char *key, cJSON *item) {
        bool ok;

        if (!item)
                return false;
        ok = key ? cJSON_AddItemToObject(obj, key, item) : cJSON_AddItemToArray(obj, item);
        if (!ok)
                cJSON_Delete(item);
        return ok;
}

/*
 * Each container is attached to its parent before it is filled, so on any failure `root`
 * owns everything built so far and its cleanup frees it.
 */
static int payload_build(Webhook *w, const struct earshot_alert *a, char **ret) {
        const struct earshot_host *h = w->host;
        const struct earshot_post *p = a->post;
        _cleanup_(cJSON_Deletep) cJSON *root = NULL;
        cJSON *rules, *post, *author;
        const char *event = NULL;

        /* an alert from a core that predates `event` ends before it */
        if (a->size >= offsetof(struct earshot_alert, event) + sizeof(a->event))
                event = a->event;

        root = cJSON_CreateObject();
        if (!root)
                return -ENOMEM;
        if (!add(root, "schema", cJSON_CreateString(SCHEMA)) ||
            !add(root, "event", json_string(event ? event : "new")) ||
            !add(root, "id", json_string(a->id)))
                return -ENOMEM;
        if (EARSHOT_ALERT_HAS(a, priority)) {
                bool late = a->late_usec > 0;
                if (!add(root, "message", json_string(a->message)) ||
                    !add(root, "state", json_string(a->state ? a->state : "open")) ||
                    !add(root, "late", cJSON_CreateBool(late)) ||
                    !add(root, "late_by", json_integer(late ? a->late_usec / 1000000 : 0, false)) ||
                    !add(root, "posts", json_integer(a->posts > 0 ? a->posts : 1, false)) ||
                    !add(root, "copies", json_integer(a->copies > 0 ? a->copies : 1, false)) ||
                    !add(root, "priority", cJSON_CreateNumber(a->priority)))
                        return -ENOMEM;
        }
        rules = cJSON_CreateArray();
        if (!add(root, "rules", rules))
                return -ENOMEM;
        for (const char *const *r = a->rules; r && *r; r++)
                if (!add(rules, NULL, json_string(*r)))
                        return -ENOMEM;
        if (!add(root, "brand", json_string(a->brand)) ||
            !add(root, "severity", json_string(a->severity)) ||
            !add(root, "network", json_string(p->network)) ||
            !add(root, "source", json_string(a->source)) ||
            !add(root, "detected_at", json_time(h, a->detected_usec)) ||
            !add(root, "due_at", json_time(h, a->due_usec)) ||
            !add(root, "respond_within", json_integer(a->respond_within_usec / 1000000, false)))
                return -ENOMEM;

        post = cJSON_CreateObject();
        if (!add(root, "post", post))
                return -ENOMEM;
        if (!add(post, "id", json_string(p->id)) || !add(post, "url", json_string(p->url)) ||
            !add(post, "text", json_string(p->text ? p->text : "")) ||
            !add(post, "lang", json_string(p->lang)) ||
            !add(post, "created_at", json_time(h, p->created_usec)))
                return -ENOMEM;
        author = cJSON_CreateObject();
        if (!add(post, "author", author))
                return -ENOMEM;
        if (!add(author, "handle", json_string(p->author_handle)) ||
            !add(author, "name", json_string(p->author_name)) ||
            !add(author, "followers", json_integer(p->author_followers, true)) ||
            !add(post, "replies", json_integer(p->replies, true)) ||
            !add(post, "reposts", json_integer(p->reposts, true)) ||
            !add(post, "likes", json_integer(p->likes, true)))
                return -ENOMEM;

        *ret = cJSON_PrintUnformatted(root);
        return *ret ? 0 : -ENOMEM;
}

static int webhook_deliver(void *state, const struct earshot_alert *alert,
                           struct earshot_request *req) {
        Webhook *w = state;
        const struct earshot_host *h = w->host;
        _cleanup_free_ char *body = NULL;
        int r;

        if (!alert || !alert->post || !alert->id || !*alert->id || has_control(alert->id))
                return -EINVAL;

        r = payload_build(w, alert, &body);
        if (r < 0)
                return r;

        r = h->request_method(req, "POST");
        if (r < 0)
                return r;
        r = h->request_url(req, w->url);
        if (r < 0)
                return r;
        r = h->request_header(req, "Content-Type", "application/json");
        if (r < 0)
                return r;
        /* one key per event of the alert: a retry repeats it, a reminder does not */
        const char *event = EARSHOT_ALERT_HAS(alert, event) ? alert->event : NULL;
        _cleanup_free_ char *key = event && *event && strcmp(event, "new") != 0
                                           ? strjoin(alert->id, "/", event)
                                           : strdup(alert->id);
        if (!key)
                return -ENOMEM;
        if (has_control(key))
                return -EINVAL;
        r = h->request_header(req, "Idempotency-Key", key);
        if (r < 0)
                return r;
        if (w->authorization) {
                r = h->request_header(req, "Authorization", w->authorization);
                if (r < 0)
                        return r;
        }
        r = h->request_body(req, body, strlen(body));
        if (r < 0)
                return r;
        return EARSHOT_SEND;
}

static const struct earshot_option webhook_options[] = {
        {"url", EARSHOT_OPT_URL, EARSHOT_OPT_REQUIRED, NULL,
         "where to POST each alert as JSON (schema earshot.alert.v1)"},
        {"bearer_token", EARSHOT_OPT_STRING, EARSHOT_OPT_SECRET, NULL,
         "sent as 'Authorization: Bearer TOKEN'"},
        {.name = NULL},
};

static const struct earshot_notifier_ops webhook_ops = {
        .size = sizeof(struct earshot_notifier_ops),
        .create = webhook_create,
        .destroy = webhook_destroy,
        .deliver = webhook_deliver,
        .response = NULL, /* the core applies earshot_http_outcome() */
};

EARSHOT_PLUGIN_DEFINE(.kind = EARSHOT_PLUGIN_NOTIFIER, .name = "webhook",
                      .description = "POST each alert as JSON to a URL", .options = webhook_options,
                      .notifier = &webhook_ops);
