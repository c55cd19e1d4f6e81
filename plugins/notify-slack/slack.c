/* SPDX-License-Identifier: MIT */
/*
 * slack.c - every alert as a message to a Slack incoming webhook.
 *
 * The webhook URL is the credential (whoever has it can post to the channel), so it is a
 * secret option (`url_file:` works) and must be https:// unless it points at loopback.
 *
 * THE MESSAGE (Block Kit; https://docs.slack.dev/reference/block-kit/blocks)
 *
 *   POST <url>
 *   Content-Type: application/json; charset=utf-8
 *
 *   {
 *     "text": "🟠 HIGH · acme · refunds: New alert on mastodon, due in 42m",  fallback for
 *                                notifications; starts with `mention` when one is configured
 *     "mrkdwn": false,           the fallback is not formatted
 *     "blocks": [
 *       {"type": "header", plain_text "🟠 HIGH · acme · refunds"}              ≤ 150 chars
 *       {"type": "section", mrkdwn "<!here> *New alert*"}        the plugin's own words only
 *       {"type": "section", plain_text: the post text}                          ≤ 3000 chars
 *       {"type": "context", plain_text elements: author and reach, network, due in / overdue
 *                           by, the event's message, the source}
 *       {"type": "actions", a button "Open post" linking the post}    http(s) URLs only
 *     ],
 *     "unfurl_links": false, "unfurl_media": false,
 *     "username": "…", "icon_emoji": ":…:"       when configured
 *   }
 *
 * Nothing from a post can ping or format. A ping can only come from the `mention` option,
 * checked against the forms Slack knows (<!here>, <!channel>, <@U…>, <!subteam^S…>). Slack
 * reads &, < and > as control characters in every text field and asks for them as &amp;,
 * &lt; and &gt; ("Escaping text", Slack's formatting reference), so `<!channel>` or
 * `<http://evil|bank.com>` in a post arrive as those characters, not as a mention or a
 * disguised link. Post text only goes into plain_text objects, where * _ ~ ` and > are not
 * formatting. Limits count the escaped text and are cut on a character boundary with "…".
 *
 * Answers (Slack's incoming webhook errors): 2xx ("ok") delivered; 429 retried after the
 * Retry-After the core honours; 400 (invalid_payload, no_text), 403 (invalid_token,
 * action_prohibited), 404 (no_service, channel_not_found) and 410 (channel_is_archived)
 * rejected with Slack's reason in the log; 5xx and no answer retried. Slack allows about one
 * message a second per webhook, so the core spaces deliveries by min_interval_usec.
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

#define HEADER_MAX 150   /* header block text */
#define SECTION_MAX 3000 /* section block text */
#define CONTEXT_MAX 300  /* each context element: Slack allows 2000; a line is enough */
#define FALLBACK_MAX 3000
#define BUTTON_URL_MAX 3000

typedef struct Slack {
        const struct earshot_host *host; /* borrowed, valid until destroy */
        char *url;                       /* owned, secret */
        char *mention;                   /* owned, validated, or NULL */
        char *username;                  /* owned, or NULL */
        char *icon_emoji;                /* owned, or NULL */
} Slack;

static void slack_destroy(void *state) {
        Slack *s = state;

        if (!s)
                return;
        notify_secret_free(s->url);
        free(s->mention);
        free(s->username);
        free(s->icon_emoji);
        free(s);
}

NOTIFY_DEFINE_DESTROYP(Slack, slack_destroy)

/* Whether the n bytes at s are upper-case letters and digits, at least one. */
static bool is_slack_id(const char *s, size_t n) {
        if (n == 0 || n > 32)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9')))
                        return false;
        return true;
}

/* <!here>, <!channel>, <@U…> / <@W…> (a user), <!subteam^S…> (a user group). */
static bool mention_is_valid(const char *m) {
        size_t n = strlen(m);

        if (strcmp(m, "<!here>") == 0 || strcmp(m, "<!channel>") == 0)
                return true;
        if (n < 4 || m[0] != '<' || m[n - 1] != '>')
                return false;
        if (m[1] == '@' && (m[2] == 'U' || m[2] == 'W'))
                return is_slack_id(m + 2, n - 3);
        if (strncmp(m, "<!subteam^", 10) == 0 && n > 11 && m[10] == 'S')
                return is_slack_id(m + 10, n - 11);
        return false;
}

/* :name: with lower-case letters, digits, '_', '-' and '+' */
static bool emoji_is_valid(const char *e) {
        size_t n = strlen(e);

        if (n < 3 || n > 100 || e[0] != ':' || e[n - 1] != ':')
                return false;
        for (size_t i = 1; i + 1 < n; i++)
                if (!((e[i] >= 'a' && e[i] <= 'z') || (e[i] >= '0' && e[i] <= '9') ||
                      e[i] == '_' || e[i] == '-' || e[i] == '+'))
                        return false;
        return true;
}

static int slack_create(const struct earshot_host *host, const struct earshot_values *vals,
                        char *err, size_t err_len, void **ret_state) {
        _cleanup_(slack_destroyp) Slack *s = NULL;
        const char *url, *mention, *username, *icon;
        int r;

        url = earshot_value_str(vals, "url");
        r = notify_secret_url_check("url", url, err, err_len);
        if (r < 0)
                return r;
        mention = earshot_value_str(vals, "mention");
        if (mention && *mention && !mention_is_valid(mention))
                return set_error(err, err_len,
                                 "mention: '%.80s' is not <!here>, <!channel>, <@U…> or "
                                 "<!subteam^S…>",
                                 mention);
        username = earshot_value_str(vals, "username");
        r = notify_username_check(username, err, err_len);
        if (r < 0)
                return r;
        icon = earshot_value_str(vals, "icon_emoji");
        if (icon && *icon && !emoji_is_valid(icon))
                return set_error(err, err_len, "icon_emoji: '%.80s' is not an emoji code like :mega:",
                                 icon);

        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->host = host;
        s->url = strdup(url);
        if (!s->url)
                return -ENOMEM;
        if (mention && *mention && !(s->mention = strdup(mention)))
                return -ENOMEM;
        if (username && *username && !(s->username = notify_clean(username, NOTIFY_ONELINE)))
                return -ENOMEM;
        if (icon && *icon && !(s->icon_emoji = strdup(icon)))
                return -ENOMEM;

        *ret_state = NOTIFY_TAKE(s);
        return 0;
}

/* Slack's control characters, &amp; &lt; &gt;, as its formatting reference asks for them. */
#define slack_esc notify_esc_markup

/* A text object {"type": TYPE, "text": TEXT}, taking TEXT (malloc()ed); NULL on OOM. */
static cJSON *text_object(const char *type, char *text) {
        _cleanup_free_ char *t = text;
        cJSON *o;

        if (!t)
                return NULL;
        o = cJSON_CreateObject();
        if (!o || !notify_json_add(o, "type", cJSON_CreateString(type)) ||
            !notify_json_add(o, "text", cJSON_CreateString(t)) ||
            (strcmp(type, "plain_text") == 0 &&
             !notify_json_add(o, "emoji", cJSON_CreateTrue()))) {
                cJSON_Delete(o);
                return NULL;
        }
        return o;
}

/* Append a block {"type": TYPE, KEY: item} to blocks; false on OOM (item is freed). */
static bool add_block(cJSON *blocks, const char *type, const char *key, cJSON *item) {
        cJSON *b = cJSON_CreateObject();

        if (!b || !notify_json_add(blocks, NULL, b)) {
                cJSON_Delete(item);
                return false;
        }
        return notify_json_add(b, "type", cJSON_CreateString(type)) && notify_json_add(b, key, item);
}

/* A plain_text context element from s, escaped and cut; false on OOM. */
static bool add_context(cJSON *elements, const char *s) {
        return notify_json_add(
                elements, NULL,
                text_object("plain_text", notify_escape(s, slack_esc, CONTEXT_MAX,
                                                        NOTIFY_NO_LIMIT, NULL)));
}

static int payload_build(void *state, const NotifyView *v, const struct earshot_alert *a,
                         char **ret) {
        Slack *s = state;
        _cleanup_(cJSON_Deletep) cJSON *root = NULL;
        _cleanup_free_ char *head = NULL, *reach = NULL, *summary = notify_summary(v, true);
        cJSON *blocks, *elements;
        bool oom = false;

        root = cJSON_CreateObject();
        if (!root)
                return -ENOMEM;

        /* the fallback: mention (configured, trusted), then escaped plain words */
        if (!summary)
                return -ENOMEM;
        head = strjoin(notify_severity_emoji(v->rank), " ", v->title, ": ", summary,
                       v->message ? " \xe2\x80\x94 " : "", v->message ? v->message : "");
        if (!head)
                return -ENOMEM;
        _cleanup_free_ char *escaped = notify_escape(head, slack_esc, FALLBACK_MAX, NOTIFY_NO_LIMIT,
                                                     NULL);
        if (!escaped)
                return -ENOMEM;
        if (!notify_json_take(root, "text",
                              s->mention ? strjoin(s->mention, " ", escaped) : strdup(escaped)) ||
            !notify_json_add(root, "mrkdwn", cJSON_CreateFalse()))
                return -ENOMEM;

        blocks = cJSON_CreateArray();
        if (!notify_json_add(root, "blocks", blocks))
                return -ENOMEM;

        free(head);
        head = strjoin(notify_severity_emoji(v->rank), " ", v->title);
        if (!head ||
            !add_block(blocks, "header", "text",
                       text_object("plain_text", notify_escape(head, slack_esc, HEADER_MAX,
                                                               NOTIFY_NO_LIMIT, NULL))))
                return -ENOMEM;

        /* mrkdwn, for the mention to work: nothing here comes from the post */
        if (!add_block(blocks, "section", "text",
                       text_object("mrkdwn", strjoin(s->mention ? s->mention : "",
                                                     s->mention ? " *" : "*", v->label, "*"))))
                return -ENOMEM;

        if (v->text[0] &&
            !add_block(blocks, "section", "text",
                       text_object("plain_text", notify_escape(v->text, slack_esc, SECTION_MAX,
                                                               NOTIFY_NO_LIMIT, NULL))))
                return -ENOMEM;

        elements = cJSON_CreateArray();
        if (!add_block(blocks, "context", "elements", elements))
                return -ENOMEM;
        reach = notify_reach(v, &oom);
        if (oom || (reach && !add_context(elements, reach)))
                return -ENOMEM;
        if (v->event != NOTIFY_EVENT_DIGEST && !add_context(elements, v->network))
                return -ENOMEM;
        if (v->due[0] && !add_context(elements, v->due))
                return -ENOMEM;
        if (v->message && !add_context(elements, v->message))
                return -ENOMEM;
        _cleanup_free_ char *src = strjoin("source: ", v->source);
        if (!src || !add_context(elements, src))
                return -ENOMEM;

        if (v->url && strlen(v->url) <= BUTTON_URL_MAX) {
                cJSON *actions = cJSON_CreateArray(), *button = cJSON_CreateObject();
                if (!add_block(blocks, "actions", "elements", actions) ||
                    !notify_json_add(actions, NULL, button) ||
                    !notify_json_add(button, "type", cJSON_CreateString("button")) ||
                    !notify_json_add(button, "text",
                                     text_object("plain_text", strdup("Open post"))) ||
                    !notify_json_add(button, "url", cJSON_CreateString(v->url)))
                        return -ENOMEM;
        }

        if (!notify_json_add(root, "unfurl_links", cJSON_CreateFalse()) ||
            !notify_json_add(root, "unfurl_media", cJSON_CreateFalse()))
                return -ENOMEM;
        if (s->username && !notify_json_add(root, "username", cJSON_CreateString(s->username)))
                return -ENOMEM;
        if (s->icon_emoji &&
            !notify_json_add(root, "icon_emoji", cJSON_CreateString(s->icon_emoji)))
                return -ENOMEM;

        *ret = cJSON_PrintUnformatted(root);
        return *ret ? 0 : -ENOMEM;
}

static int slack_deliver(void *state, const struct earshot_alert *alert,
                         struct earshot_request *req) {
        Slack *s = state;

        return notify_deliver_post(s->host, req, alert, payload_build, s, s->url,
                                   "application/json; charset=utf-8", NULL);
}

static int slack_response(void *state, const struct earshot_alert *alert,
                          const struct earshot_response *resp) {
        Slack *s = state;
        const struct earshot_host *h = s->host;
        char line[256];

        switch (resp->status) {
        case 400:
        case 403:
        case 404:
        case 410:
                h->log(h, EARSHOT_LOG_ERR, "Slack refused the message (HTTP %d: %s)%s",
                       resp->status, notify_body_line(resp, line, sizeof(line)),
                       resp->status == 400   ? ""
                       : resp->status == 410 ? "; the channel is archived"
                                             : "; check the webhook url");
                return EARSHOT_REJECTED;
        case 429:
                h->log(h, EARSHOT_LOG_WARNING, "Slack rate limit (HTTP 429), will retry");
                return EARSHOT_RETRY;
        }
        if (resp->status >= 200 && resp->status < 300 &&
            !(resp->body_len == 2 && memcmp(resp->body, "ok", 2) == 0))
                h->log(h, EARSHOT_LOG_NOTICE, "Slack answered %d: %s", resp->status,
                       notify_body_line(resp, line, sizeof(line)));
        return earshot_http_outcome(resp->status);
}

static const struct earshot_option slack_options[] = {
        {"url", EARSHOT_OPT_URL, EARSHOT_OPT_REQUIRED | EARSHOT_OPT_SECRET, NULL,
         "the incoming webhook URL (a credential: prefer url_file)"},
        {"mention", EARSHOT_OPT_STRING, 0, NULL,
         "who to ping: <!here>, <!channel>, <@U…> or <!subteam^S…>; nobody when unset"},
        {"username", EARSHOT_OPT_STRING, 0, NULL, "the sender name shown, if the app allows it"},
        {"icon_emoji", EARSHOT_OPT_STRING, 0, NULL, "the sender icon, e.g. :mega:"},
        {.name = NULL},
};

NOTIFY_PLUGIN_DEFINE(slack, "slack", "post each alert to a Slack incoming webhook (Block Kit)",
                     .response = slack_response,
                     .min_interval_usec = 1000000 /* Slack: one message a second per webhook */);
