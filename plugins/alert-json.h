/* SPDX-License-Identifier: MIT */
/*
 * alert-json.h - an alert as the JSON document of schema "earshot.alert.v1", shared by the
 * notifiers that hand receivers the whole alert: the webhook (as its POST body) and exec (on
 * the program's standard input). The schema, field by field, is documented in
 * notify-webhook/webhook.c, the receiver's reference; one builder keeps both the same.
 *
 * The text is always valid JSON in valid UTF-8: bytes that are not UTF-8 become U+FFFD.
 * Integers are written exactly (cJSON's doubles would lose digits past 2^53). Header-only and
 * static inline, like plugin-util.h (see there why); UTF-8 and cJSON helpers from notify-util.h.
 */
#pragma once

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "earshot-plugin.h"
#include "notify-util.h"
#include "plugin-json.h"
#include "plugin-util.h"

#define ALERT_JSON_SCHEMA "earshot.alert.v1"

/* A JSON string with invalid UTF-8 replaced by U+FFFD, or JSON null for NULL. */
static inline cJSON *alert_json_string(const char *s) {
        const unsigned char *p;
        size_t n, bad = 0;

        if (!s)
                return cJSON_CreateNull();
        for (p = (const unsigned char *)s; *p; p += n ? n : 1)
                if ((n = notify_utf8_len(p)) == 0)
                        bad++;
        if (bad == 0)
                return cJSON_CreateString(s);

        _cleanup_free_ char *copy = malloc(strlen(s) + 2 * bad + 1);
        char *o = copy;
        if (!copy)
                return NULL;
        for (p = (const unsigned char *)s; *p;) {
                n = notify_utf8_len(p);
                if (n == 0) {
                        o = stpcpy(o, NOTIFY_REPLACEMENT);
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
static inline cJSON *alert_json_integer(int64_t v, bool null_if_negative) {
        char buf[32];

        if (null_if_negative && v < 0)
                return cJSON_CreateNull();
        (void)snprintf(buf, sizeof(buf), "%" PRId64, v);
        return cJSON_CreateRaw(buf);
}

/* An RFC 3339 UTC time, or null when unknown (0). */
static inline cJSON *alert_json_time(const struct earshot_host *h, int64_t usec) {
        char buf[64];

        if (usec <= 0)
                return cJSON_CreateNull();
        return cJSON_CreateString(h->format_time(usec, buf, sizeof(buf)));
}

/*
 * The alert as one line of JSON (schema "earshot.alert.v1") into *ret, which the caller frees
 * with free(). 0 or -ENOMEM. Fields an older core's alert does not carry (EARSHOT_ALERT_HAS)
 * are left out, as the schema allows.
 *
 * Each container is attached to its parent before it is filled, so on any failure `root`
 * owns everything built so far and its cleanup frees it.
 */
static inline int alert_json_build(const struct earshot_host *h, const struct earshot_alert *a,
                                   char **ret) {
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
        if (!notify_json_add(root, "schema", cJSON_CreateString(ALERT_JSON_SCHEMA)) ||
            !notify_json_add(root, "event", alert_json_string(event ? event : "new")) ||
            !notify_json_add(root, "id", alert_json_string(a->id)))
                return -ENOMEM;
        if (EARSHOT_ALERT_HAS(a, priority)) {
                bool late = a->late_usec > 0;
                if (!notify_json_add(root, "message", alert_json_string(a->message)) ||
                    !notify_json_add(root, "state",
                                     alert_json_string(a->state ? a->state : "open")) ||
                    !notify_json_add(root, "late", cJSON_CreateBool(late)) ||
                    !notify_json_add(
                            root, "late_by",
                            alert_json_integer(late ? a->late_usec / 1000000 : 0, false)) ||
                    !notify_json_add(root, "posts",
                                     alert_json_integer(a->posts > 0 ? a->posts : 1, false)) ||
                    !notify_json_add(root, "copies",
                                     alert_json_integer(a->copies > 0 ? a->copies : 1, false)) ||
                    !notify_json_add(root, "priority", cJSON_CreateNumber(a->priority)))
                        return -ENOMEM;
        }
        rules = cJSON_CreateArray();
        if (!notify_json_add(root, "rules", rules))
                return -ENOMEM;
        for (const char *const *r = a->rules; r && *r; r++)
                if (!notify_json_add(rules, NULL, alert_json_string(*r)))
                        return -ENOMEM;
        if (!notify_json_add(root, "brand", alert_json_string(a->brand)) ||
            !notify_json_add(root, "severity", alert_json_string(a->severity)) ||
            !notify_json_add(root, "network", alert_json_string(p->network)) ||
            !notify_json_add(root, "source", alert_json_string(a->source)) ||
            !notify_json_add(root, "detected_at", alert_json_time(h, a->detected_usec)) ||
            !notify_json_add(root, "due_at", alert_json_time(h, a->due_usec)) ||
            !notify_json_add(root, "respond_within",
                             alert_json_integer(a->respond_within_usec / 1000000, false)))
                return -ENOMEM;

        post = cJSON_CreateObject();
        if (!notify_json_add(root, "post", post))
                return -ENOMEM;
        if (!notify_json_add(post, "id", alert_json_string(p->id)) ||
            !notify_json_add(post, "url", alert_json_string(p->url)) ||
            !notify_json_add(post, "text", alert_json_string(p->text ? p->text : "")) ||
            !notify_json_add(post, "lang", alert_json_string(p->lang)) ||
            !notify_json_add(post, "created_at", alert_json_time(h, p->created_usec)))
                return -ENOMEM;
        author = cJSON_CreateObject();
        if (!notify_json_add(post, "author", author))
                return -ENOMEM;
        if (!notify_json_add(author, "handle", alert_json_string(p->author_handle)) ||
            !notify_json_add(author, "name", alert_json_string(p->author_name)) ||
            !notify_json_add(author, "followers", alert_json_integer(p->author_followers, true)) ||
            !notify_json_add(post, "replies", alert_json_integer(p->replies, true)) ||
            !notify_json_add(post, "reposts", alert_json_integer(p->reposts, true)) ||
            !notify_json_add(post, "likes", alert_json_integer(p->likes, true)))
                return -ENOMEM;

        *ret = cJSON_PrintUnformatted(root);
        return *ret ? 0 : -ENOMEM;
}
