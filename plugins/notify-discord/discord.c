/* SPDX-License-Identifier: MIT */
/*
 * discord.c - every alert as a message to a Discord webhook.
 *
 * The webhook URL carries its token, so it is a secret option (`url_file:` works) and must be
 * https:// unless it points at loopback. The plugin adds `wait=true` to the query, so Discord
 * answers only once the message exists (200 with the message, not a bare 204).
 *
 * THE MESSAGE (https://discord.com/developers/docs/resources/webhook#execute-webhook)
 *
 *   POST <url>?wait=true
 *   Content-Type: application/json
 *
 *   {
 *     "content": "🟠 **HIGH · acme · refunds** New alert on mastodon, due in 42m",
 *                                         ≤ 2000 characters
 *     "embeds": [{
 *       "title": "New alert",             ≤ 256; the event ("Still unanswered (reminder 2)",
 *                                         "TEST notification ...")
 *       "description": "<post text>",     ≤ 4096, Markdown-escaped
 *       "url": "https://…",               the post, http(s) only; absent otherwise
 *       "color": 16744448,                by severity: low blue … critical red
 *       "fields": [{"name": "Author", "value": "…", "inline": true}, Followers, Network,
 *                  Due, Note (the event's message)]          each value ≤ 1024
 *       "footer": {"text": "earshot · source mastodon-acme · alert ID"}
 *     }],                                 all embed text together ≤ 6000
 *     "allowed_mentions": {"parse": []},  always: nothing in the message pings anyone
 *     "username": "…"                     when configured
 *   }
 *
 * Nothing from a post can ping or format. `allowed_mentions` with an empty `parse` list
 * makes Discord ignore @everyone, @here, <@id> and <@&role> in the text; and every character
 * Discord's Markdown reads (\ * _ ~ ` | > < # - [ ] ( ) @, and '.' after a digit: "1. " lists)
 * gets a backslash, which Discord drops when it renders, so a post's `[bank](http://evil)`
 * is no masked link and `**x**` no bold. Limits count the escaped text (characters as UTF-16
 * code units, which is what Discord counts), cut between characters, never inside an escape,
 * with "…".
 *
 * Answers: 2xx delivered; 429 retried (Discord sends Retry-After, which the core honours, and
 * retry_after in the body, which is logged); 400 (a malformed message), 401, 403 and 404 (a
 * wrong or deleted webhook) rejected with Discord's message; 5xx and no answer retried.
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

#define CONTENT_MAX 2000
#define TITLE_MAX 256
#define DESCRIPTION_MAX 4096
#define FIELD_NAME_MAX 256
#define FIELD_VALUE_MAX 1024
#define FOOTER_MAX 2048
#define EMBED_TOTAL_MAX 6000
/* what the plugin allows itself for one field value or the footer: short lines */
#define FIELD_SHORT 256

typedef struct Discord {
        const struct earshot_host *host; /* borrowed, valid until destroy */
        char *url;                       /* owned, secret: the webhook URL with wait=true */
        char *username;                  /* owned, or NULL */
} Discord;

static void discord_destroy(void *state) {
        Discord *d = state;

        if (!d)
                return;
        notify_secret_free(d->url);
        free(d->username);
        free(d);
}

NOTIFY_DEFINE_DESTROYP(Discord, discord_destroy)

static int discord_create(const struct earshot_host *host, const struct earshot_values *vals,
                          char *err, size_t err_len, void **ret_state) {
        _cleanup_(discord_destroyp) Discord *d = NULL;
        const char *url, *username;
        int r;

        url = earshot_value_str(vals, "url");
        r = notify_secret_url_check("url", url, err, err_len);
        if (r < 0)
                return r;
        if (strchr(url, '#'))
                return set_error(err, err_len, "url: may not have a fragment");
        username = earshot_value_str(vals, "username");
        r = notify_username_check(username, err, err_len);
        if (r < 0)
                return r;

        d = calloc(1, sizeof(*d));
        if (!d)
                return -ENOMEM;
        d->host = host;
        d->url = strjoin(url, strchr(url, '?') ? "&" : "?", "wait=true");
        if (!d->url)
                return -ENOMEM;
        if (username && *username && !(d->username = notify_clean(username, NOTIFY_ONELINE)))
                return -ENOMEM;

        *ret_state = NOTIFY_TAKE(d);
        return 0;
}

/* Discord Markdown's special characters, backslash-escaped. */
static const char *discord_esc(const char *c, size_t n, uint32_t prev) {
        if (n != 1)
                return NULL;
        switch (c[0]) {
        case '\\': return "\\\\";
        case '*': return "\\*";
        case '_': return "\\_";
        case '~': return "\\~";
        case '`': return "\\`";
        case '|': return "\\|";
        case '>': return "\\>";
        case '<': return "\\<";
        case '#': return "\\#";
        case '-': return "\\-";
        case '[': return "\\[";
        case ']': return "\\]";
        case '(': return "\\(";
        case ')': return "\\)";
        case '@': return "\\@";
        case '.': /* "1. " starts a list */
                return prev >= '0' && prev <= '9' ? "\\." : NULL;
        }
        return NULL;
}

/* s escaped and cut to max units; NULL on OOM. */
static char *esc(const char *s, size_t max) {
        return notify_escape(s, discord_esc, max, NOTIFY_NO_LIMIT, NULL);
}

/* Add {"name", "value", "inline"} to fields, value escaped and cut; *units grows by what the
 * embed total counts. */
static bool add_field(cJSON *fields, const char *name, const char *value, bool inline_,
                      size_t *units) {
        _cleanup_free_ char *v = esc(value, FIELD_SHORT);
        cJSON *f;

        if (!v)
                return false;
        f = cJSON_CreateObject();
        if (!notify_json_add(fields, NULL, f) ||
            !notify_json_add(f, "name", cJSON_CreateString(name)) ||
            !notify_json_add(f, "value", cJSON_CreateString(v)) ||
            !notify_json_add(f, "inline", cJSON_CreateBool(inline_)))
                return false;
        *units += notify_utf16_units(name) + notify_utf16_units(v);
        return true;
}

static uint32_t severity_color(int rank) {
        static const uint32_t colors[] = {0x3b88c3, 0xfdcb58, 0xff8c00, 0xdd2e44};
        return colors[rank < 0 || rank > 3 ? 1 : rank];
}

static int payload_build(void *state, const NotifyView *v, const struct earshot_alert *a,
                         char **ret) {
        Discord *d = state;
        _cleanup_(cJSON_Deletep) cJSON *root = NULL;
        _cleanup_free_ char *title = NULL, *label = NULL, *rest = NULL, *footer = NULL,
                            *footer_raw = NULL;
        cJSON *embeds, *embed, *fields, *allowed;
        size_t units = 0;
        char buf[32];

        root = cJSON_CreateObject();
        if (!root)
                return -ENOMEM;

        /* content: the plugin's markup around escaped words; far below 2000 */
        title = esc(v->title, 300);
        label = esc(v->label, 100);
        _cleanup_free_ char *raw = notify_summary(v, false);
        if (!title || !label || !raw)
                return -ENOMEM;
        rest = esc(raw, 300);
        if (!rest ||
            !notify_json_take(root, "content",
                              strjoin(notify_severity_emoji(v->rank), " **", title, "** ", label,
                                      rest)))
                return -ENOMEM;

        embeds = cJSON_CreateArray();
        embed = cJSON_CreateObject();
        if (!notify_json_add(root, "embeds", embeds) || !notify_json_add(embeds, NULL, embed))
                return -ENOMEM;
        free(title);
        title = esc(v->label, TITLE_MAX);
        if (!title || !notify_json_add(embed, "title", cJSON_CreateString(title)))
                return -ENOMEM;
        units += notify_utf16_units(title);
        if (v->url && !notify_json_add(embed, "url", cJSON_CreateString(v->url)))
                return -ENOMEM;
        if (!notify_json_add(embed, "color", cJSON_CreateNumber(severity_color(v->rank))))
                return -ENOMEM;

        fields = cJSON_CreateArray();
        if (!notify_json_add(embed, "fields", fields))
                return -ENOMEM;
        if (v->author && !add_field(fields, "Author", v->author, true, &units))
                return -ENOMEM;
        if (v->followers >= 0) {
                (void)snprintf(buf, sizeof(buf), "%" PRId64, v->followers);
                if (!add_field(fields, "Followers", buf, true, &units))
                        return -ENOMEM;
        }
        if (v->event != NOTIFY_EVENT_DIGEST && !add_field(fields, "Network", v->network, true, &units))
                return -ENOMEM;
        if (v->due[0] && !add_field(fields, "Due", v->due, true, &units))
                return -ENOMEM;
        if (v->message && !add_field(fields, "Note", v->message, false, &units))
                return -ENOMEM;

        footer_raw = strjoin("earshot \xc2\xb7 source ", v->source, " \xc2\xb7 alert ", v->id);
        if (!footer_raw)
                return -ENOMEM;
        footer = esc(footer_raw, FIELD_SHORT);
        cJSON *f = cJSON_CreateObject();
        if (!footer || !notify_json_add(embed, "footer", f) ||
            !notify_json_add(f, "text", cJSON_CreateString(footer)))
                return -ENOMEM;
        units += notify_utf16_units(footer);

        /* the description gets what the rest of the embed leaves of 6000 */
        if (v->text[0]) {
                size_t room = EMBED_TOTAL_MAX - units;
                if (room > DESCRIPTION_MAX)
                        room = DESCRIPTION_MAX;
                if (!notify_json_take(embed, "description", esc(v->text, room)))
                        return -ENOMEM;
        }

        allowed = cJSON_CreateObject();
        if (!notify_json_add(root, "allowed_mentions", allowed) ||
            !notify_json_add(allowed, "parse", cJSON_CreateArray()))
                return -ENOMEM;
        if (d->username && !notify_json_add(root, "username", cJSON_CreateString(d->username)))
                return -ENOMEM;

        *ret = cJSON_PrintUnformatted(root);
        return *ret ? 0 : -ENOMEM;
}

static int discord_deliver(void *state, const struct earshot_alert *alert,
                           struct earshot_request *req) {
        Discord *d = state;

        return notify_deliver_post(d->host, req, alert, payload_build, d, d->url, NULL, NULL);
}

static int discord_response(void *state, const struct earshot_alert *alert,
                            const struct earshot_response *resp) {
        Discord *d = state;
        const struct earshot_host *h = d->host;
        _cleanup_(cJSON_Deletep) cJSON *j = notify_error_json(resp);
        const cJSON *c = json_get(j, "code");
        double code = cJSON_IsNumber(c) ? c->valuedouble : 0;
        char line[256];

        switch (resp->status) {
        case 400:
        case 401:
        case 403:
        case 404:
                h->log(h, EARSHOT_LOG_ERR, "Discord refused the message (HTTP %d: %s, code %.0f)%s",
                       resp->status, notify_error_line(resp, j, "message", line, sizeof(line)),
                       code, resp->status == 400 ? "" : "; check the webhook url");
                return EARSHOT_REJECTED;
        case 429: {
                const cJSON *ra = json_get(j, "retry_after");
                h->log(h, EARSHOT_LOG_WARNING,
                       "Discord rate limit (HTTP 429, retry_after %.3gs), will retry",
                       cJSON_IsNumber(ra) ? ra->valuedouble : 0.0);
                return EARSHOT_RETRY;
        }
        }
        return earshot_http_outcome(resp->status);
}

static const struct earshot_option discord_options[] = {
        {"url", EARSHOT_OPT_URL, EARSHOT_OPT_REQUIRED | EARSHOT_OPT_SECRET, NULL,
         "the webhook URL (a credential: prefer url_file)"},
        {"username", EARSHOT_OPT_STRING, 0, NULL, "the sender name shown instead of the webhook's"},
        {.name = NULL},
};

/* min_interval_usec 0: Discord says how long to wait, per request, with 429s */
NOTIFY_PLUGIN_DEFINE(discord, "discord", "post each alert to a Discord webhook",
                     .response = discord_response, .min_interval_usec = 0);
