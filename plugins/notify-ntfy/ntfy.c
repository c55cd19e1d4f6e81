/* SPDX-License-Identifier: MIT */
/*
 * ntfy.c - every alert as a push notification through an ntfy server (ntfy.sh or your own).
 *
 * THE REQUEST (ntfy's "publish as JSON", https://docs.ntfy.sh/publish/#publish-as-json)
 *
 *   POST {server}/
 *   Content-Type: application/json
 *   Authorization: Bearer {token}     with `token`; Basic with `user` and `password`
 *
 *   {
 *     "topic": "acme-care",
 *     "title": "HIGH · acme · refunds",            "TEST · …" for `earshotctl notify-test`
 *     "message": "New alert on mastodon, due in 42m\n…\n\n<post text>",   ≤ 4000 bytes
 *     "priority": 4,                               low 2, normal 3, high 4, critical 5, or
 *                                                  the `priority` option
 *     "tags": ["high", "mastodon", "acme", "refunds"],   severity, network, brand, rules
 *                                                  (and "test" for a test)
 *     "click": "https://…"                         the post, http(s) only; absent otherwise
 *   }
 *
 * JSON rather than headers (X-Title ...) because a header cannot carry UTF-8 titles without
 * an encoding of its own. ntfy turns a message over 4096 bytes into an attachment, so the
 * message is cut at 4000 bytes on a character boundary, with "…". ntfy shows the message as
 * plain text (no "markdown": true), so nothing in a post formats; all text is valid UTF-8
 * without control characters other than line breaks.
 *
 * Answers: 2xx delivered; 429 retried (after Retry-After when sent); 401 and 403 rejected
 * (token, user or password wrong, or no write access to the topic), other 4xx rejected with
 * ntfy's error; 5xx and no answer retried.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "earshot-plugin.h"
#include "notify-util.h"
#include "plugin-json.h"
#include "plugin-util.h"

#define MESSAGE_MAX_BYTES 4000
#define TITLE_MAX 250
#define TAG_MAX 100

typedef struct Ntfy {
        const struct earshot_host *host; /* borrowed, valid until destroy */
        char *url;                       /* owned: {server}/ */
        char *topic;                     /* owned */
        char *authorization;             /* owned, secret: "Bearer TOKEN", or NULL */
        char *user;                      /* owned, or NULL */
        char *password;                  /* owned, secret, or NULL */
        int priority;                    /* 1..5, or 0: from the severity */
} Ntfy;

static void ntfy_destroy(void *state) {
        Ntfy *n = state;

        if (!n)
                return;
        free(n->url);
        free(n->topic);
        notify_secret_free(n->authorization);
        free(n->user);
        notify_secret_free(n->password);
        free(n);
}

NOTIFY_DEFINE_DESTROYP(Ntfy, ntfy_destroy)

/* ntfy's topic names: 1 to 64 of A-Z a-z 0-9 _ - */
static bool topic_is_valid(const char *t) {
        size_t n = strlen(t);

        if (n == 0 || n > 64)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!char_is_alnum(t[i]) && t[i] != '_' && t[i] != '-')
                        return false;
        return true;
}

/* "1".."5" or ntfy's names min, low, default, high, max/urgent; 0 for anything else. */
static int priority_parse(const char *s) {
        static const char *const names[] = {"min", "low", "default", "high", "max"};

        if (s[0] >= '1' && s[0] <= '5' && s[1] == 0)
                return s[0] - '0';
        for (int i = 0; i < 5; i++)
                if (strcasecmp(s, names[i]) == 0)
                        return i + 1;
        return strcasecmp(s, "urgent") == 0 ? 5 : 0;
}

static int ntfy_create(const struct earshot_host *host, const struct earshot_values *vals,
                       char *err, size_t err_len, void **ret_state) {
        _cleanup_(ntfy_destroyp) Ntfy *n = NULL;
        _cleanup_free_ char *base = NULL;
        const char *server, *topic, *token, *user, *password, *prio;
        int r;

        server = earshot_value_str(vals, "server");
        r = option_base_url("server", server && *server ? server : "https://ntfy.sh", &base, NULL,
                            err, err_len);
        if (r < 0)
                return r;
        topic = earshot_value_str(vals, "topic");
        if (!topic || !topic_is_valid(topic))
                return set_error(err, err_len,
                                 "topic: '%.80s' is not a topic name (1 to 64 letters, digits, "
                                 "'_' and '-')",
                                 topic ? topic : "");
        token = earshot_value_str(vals, "token");
        user = earshot_value_str(vals, "user");
        password = earshot_value_str(vals, "password");
        if (token && !*token)
                token = NULL;
        if (user && !*user)
                user = NULL;
        if (token && (user || password))
                return set_error(err, err_len, "token: give either token or user and password");
        if (!!user != !!(password && *password))
                return set_error(err, err_len, "user: user and password go together");
        if ((token && notify_has_control(token)) || (password && notify_has_control(password)) ||
            (user && (notify_has_control(user) || strchr(user, ':'))))
                return set_error(err, err_len,
                                 "%s: contains control characters%s", token ? "token" : "user",
                                 token ? "" : " or ':'");
        if (user && !EARSHOT_HOST_HAS(host, request_login))
                return set_error(err, err_len,
                                 "user: this earshotd cannot send a login; use token");
        prio = earshot_value_str(vals, "priority");
        int priority = 0;
        if (prio && *prio && (priority = priority_parse(prio)) == 0)
                return set_error(err, err_len,
                                 "priority: '%.20s' is not 1-5, min, low, default, high, max or "
                                 "urgent",
                                 prio);

        n = calloc(1, sizeof(*n));
        if (!n)
                return -ENOMEM;
        n->host = host;
        n->priority = priority;
        n->url = strjoin(base, "/");
        n->topic = strdup(topic);
        if (!n->url || !n->topic)
                return -ENOMEM;
        if (token && !(n->authorization = strjoin("Bearer ", token)))
                return -ENOMEM;
        if (user && (!(n->user = strdup(user)) || !(n->password = strdup(password))))
                return -ENOMEM;

        *ret_state = NOTIFY_TAKE(n);
        return 0;
}

/* Add tag s (cut to TAG_MAX) to the array unless empty or already there; false on OOM. */
static bool add_tag(cJSON *tags, const char *s) {
        _cleanup_free_ char *t = NULL;
        const cJSON *e;

        if (!s || !*s)
                return true;
        t = notify_truncate(s, TAG_MAX, NOTIFY_NO_LIMIT);
        if (!t)
                return false;
        cJSON_ArrayForEach(e, tags)
                if (strcmp(e->valuestring, t) == 0)
                        return true;
        return notify_json_add(tags, NULL, cJSON_CreateString(t));
}

static int payload_build(void *state, const NotifyView *v, const struct earshot_alert *a,
                         char **ret) {
        Ntfy *n = state;
        _cleanup_(cJSON_Deletep) cJSON *root = NULL;
        _cleanup_free_ char *raw = NULL, *reach = NULL, *summary = NULL;
        bool digest = v->event == NOTIFY_EVENT_DIGEST, oom = false;
        cJSON *tags;

        root = cJSON_CreateObject();
        if (!root)
                return -ENOMEM;
        reach = notify_reach(v, &oom);
        summary = notify_summary(v, true);
        if (oom || !summary)
                return -ENOMEM;
        raw = strjoin(summary, v->message ? "\n" : "", v->message ? v->message : "",
                      reach ? "\n" : "", reach ? reach : "", v->text[0] ? "\n\n" : "", v->text);
        if (!raw)
                return -ENOMEM;

        if (!notify_json_add(root, "topic", cJSON_CreateString(n->topic)) ||
            !notify_json_take(root, "title", notify_truncate(v->title, TITLE_MAX, NOTIFY_NO_LIMIT)) ||
            !notify_json_take(root, "message",
                              notify_truncate(raw, NOTIFY_NO_LIMIT, MESSAGE_MAX_BYTES)) ||
            !notify_json_add(root, "priority",
                             cJSON_CreateNumber(n->priority ? n->priority : v->rank + 2)))
                return -ENOMEM;

        tags = cJSON_CreateArray();
        if (!notify_json_add(root, "tags", tags))
                return -ENOMEM;
        if ((v->event == NOTIFY_EVENT_TEST && !add_tag(tags, "test")) ||
            !add_tag(tags, v->severity) || (!digest && !add_tag(tags, v->network)) ||
            !add_tag(tags, v->brand))
                return -ENOMEM;
        for (const char *const *rule = a->rules; rule && *rule; rule++) {
                _cleanup_free_ char *c = notify_clean(*rule, NOTIFY_ONELINE);
                if (!c || !add_tag(tags, c))
                        return -ENOMEM;
        }
        if (v->url && !notify_json_add(root, "click", cJSON_CreateString(v->url)))
                return -ENOMEM;

        *ret = cJSON_PrintUnformatted(root);
        return *ret ? 0 : -ENOMEM;
}

static int ntfy_deliver(void *state, const struct earshot_alert *alert,
                        struct earshot_request *req) {
        Ntfy *n = state;
        const struct earshot_host *h = n->host;
        _cleanup_free_ char *body = NULL;
        int r;

        r = notify_body_build(h, alert, payload_build, n, &body);
        if (r < 0)
                return r;

        r = notify_request_json(h, req, "POST", n->url, NULL, n->authorization);
        if (r < 0)
                return r;
        if (!n->authorization && n->user) {
                if (!EARSHOT_HOST_HAS(h, request_login))
                        return -EOPNOTSUPP;
                r = h->request_login(req, n->user, n->password);
                if (r < 0)
                        return r;
        }
        return notify_request_send(h, req, body);
}

static int ntfy_response(void *state, const struct earshot_alert *alert,
                         const struct earshot_response *resp) {
        Ntfy *n = state;
        const struct earshot_host *h = n->host;
        _cleanup_(cJSON_Deletep) cJSON *j = notify_error_json(resp);
        char msg[256];
        int outcome;

        (void)notify_error_line(resp, j, "error", msg, sizeof(msg));

        if (resp->status == 429) {
                h->log(h, EARSHOT_LOG_WARNING, "ntfy rate limit (HTTP 429: %s), will retry", msg);
                return EARSHOT_RETRY;
        }
        if (resp->status == 401 || resp->status == 403) {
                h->log(h, EARSHOT_LOG_ERR,
                       "ntfy refused to publish to topic %s (HTTP %d: %s); check %s and the "
                       "topic's access",
                       n->topic, resp->status, msg,
                       n->authorization ? "token" : n->user ? "user and password" : "whether it needs a token");
                return EARSHOT_REJECTED;
        }
        outcome = earshot_http_outcome(resp->status);
        if (outcome == EARSHOT_REJECTED)
                h->log(h, EARSHOT_LOG_ERR, "ntfy refused the message (HTTP %d: %s)", resp->status,
                       msg);
        return outcome;
}

static const struct earshot_option ntfy_options[] = {
        {"server", EARSHOT_OPT_URL, 0, "https://ntfy.sh", "the ntfy server"},
        {"topic", EARSHOT_OPT_STRING, EARSHOT_OPT_REQUIRED, NULL, "the topic to publish to"},
        {"token", EARSHOT_OPT_STRING, EARSHOT_OPT_SECRET, NULL,
         "an access token (tk_...), sent as 'Authorization: Bearer TOKEN'"},
        {"user", EARSHOT_OPT_STRING, 0, NULL, "a user name, with password (HTTP Basic)"},
        {"password", EARSHOT_OPT_STRING, EARSHOT_OPT_SECRET, NULL, "the user's password"},
        {"priority", EARSHOT_OPT_STRING, 0, NULL,
         "1-5 or min/low/default/high/max for every alert; default: from the severity"},
        {.name = NULL},
};

NOTIFY_PLUGIN_DEFINE(ntfy, "ntfy", "push each alert through an ntfy server",
                     .response = ntfy_response);
