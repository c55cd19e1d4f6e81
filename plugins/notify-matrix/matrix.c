/* SPDX-License-Identifier: MIT */
/*
 * matrix.c - every alert as a message in a Matrix room, through the client-server API.
 *
 * THE REQUEST (Matrix client-server API v3, "PUT /rooms/{roomId}/send/{eventType}/{txnId}")
 *
 *   PUT {homeserver}/_matrix/client/v3/rooms/{room}/send/m.room.message/{txnId}
 *   Authorization: Bearer {access_token}
 *   Content-Type: application/json
 *
 *   {
 *     "msgtype": "m.text",                   or m.notice (option msgtype)
 *     "body": "🟠 HIGH · acme · refunds\nNew alert on mastodon, due in 42m\n…",  plain text
 *     "format": "org.matrix.custom.html",
 *     "formatted_body": "<b>🟠 HIGH · acme · refunds</b><br>…<blockquote>post</blockquote>…",
 *     "m.mentions": {}                       this message mentions no one
 *   }
 *
 * {room} is the room id ("!abc:example.org"), percent-encoded. The txnId is
 * "earshot-{alert id}-{event}" (percent-encoded where needed): the homeserver keeps a
 * transaction id per access token and answers a repeated one with the event it already made,
 * so a retry of one event (the same alert and event) posts once, while an escalation, with a
 * new event name, is a new message.
 *
 * Nothing from a post can ping or inject markup. Every piece of text in formatted_body is
 * HTML-escaped (& < > " '), so only the plugin's own tags appear (b, i, br, blockquote, and
 * an a href to the post when its URL is http(s)). An empty "m.mentions" says the message
 * mentions no user and not the room (Matrix 1.7 intentional mentions: "@room" or a user id
 * in the text is then no mention); for servers from before 1.7, "@room" in the plain body
 * gets a WORD JOINER (U+2060) after its "@", which reads the same and matches no push rule.
 * The post text is cut at 8000 bytes (plain) and 24000 bytes (HTML, escaped), on a character
 * boundary with "…", which keeps the event far below Matrix's 64 KiB.
 *
 * Answers: 2xx delivered; 429 (M_LIMIT_EXCEEDED) retried, after Retry-After when the server
 * sends one (retry_after_ms is logged); 401 (M_UNKNOWN_TOKEN: access_token is wrong or
 * expired) and 403 (M_FORBIDDEN: the account is not in the room or may not post) rejected
 * with the server's errcode; other 4xx rejected; 5xx and no answer retried.
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

#define TEXT_PLAIN_MAX 8000  /* bytes of post text in body */
#define TEXT_HTML_MAX 24000  /* bytes of escaped post text in formatted_body */
#define LINE_MAX_UNITS 500   /* any other line */

typedef struct Matrix {
        const struct earshot_host *host; /* borrowed, valid until destroy */
        char *base;                      /* owned: {homeserver}/_matrix/client/v3/rooms/{room}/send/m.room.message/ */
        char *authorization;             /* owned, secret: "Bearer TOKEN" */
        char *room;                      /* owned: the room id as configured, for messages */
        const char *msgtype;             /* static: "m.text" or "m.notice" */
} Matrix;

static void matrix_destroy(void *state) {
        Matrix *m = state;

        if (!m)
                return;
        free(m->base);
        notify_secret_free(m->authorization);
        free(m->room);
        free(m);
}

NOTIFY_DEFINE_DESTROYP(Matrix, matrix_destroy)

/* "!opaque:server.name": a '!', a non-empty local part, ':', a server name; printable ASCII. */
static bool room_id_is_valid(const char *r) {
        const char *colon;

        if (r[0] != '!' || strlen(r) > 255)
                return false;
        for (const char *c = r; *c; c++)
                if ((unsigned char)*c <= ' ' || (unsigned char)*c >= 0x7f)
                        return false;
        colon = strchr(r, ':');
        return colon && colon > r + 1 && colon[1] != 0;
}

static int matrix_create(const struct earshot_host *host, const struct earshot_values *vals,
                         char *err, size_t err_len, void **ret_state) {
        _cleanup_(matrix_destroyp) Matrix *m = NULL;
        _cleanup_free_ char *hs = NULL, *room_enc = NULL;
        const char *homeserver, *room, *token, *msgtype;
        int r;

        homeserver = earshot_value_str(vals, "homeserver");
        if (!homeserver || !*homeserver)
                return set_error(err, err_len, "homeserver: the homeserver's URL is needed");
        r = option_base_url("homeserver", homeserver, &hs, NULL, err, err_len);
        if (r < 0)
                return r;
        room = earshot_value_str(vals, "room");
        if (!room || !room_id_is_valid(room))
                return set_error(err, err_len,
                                 "room: '%.100s' is not a room id like !abc123:example.org (an "
                                 "alias #name:server will not do: look the id up in the room's "
                                 "settings)",
                                 room ? room : "");
        token = earshot_value_str(vals, "access_token");
        if (!token || !*token)
                return set_error(err, err_len, "access_token: the bot account's token is needed");
        if (notify_has_control(token) || strchr(token, ' '))
                return set_error(err, err_len,
                                 "access_token: contains blanks or control characters");
        msgtype = earshot_value_str(vals, "msgtype");
        if (msgtype && strcmp(msgtype, "m.text") != 0 && strcmp(msgtype, "m.notice") != 0)
                return set_error(err, err_len, "msgtype: '%.40s' is neither m.text nor m.notice",
                                 msgtype);

        m = calloc(1, sizeof(*m));
        if (!m)
                return -ENOMEM;
        m->host = host;
        m->msgtype = msgtype && strcmp(msgtype, "m.notice") == 0 ? "m.notice" : "m.text";
        room_enc = url_encode(room);
        m->room = strdup(room);
        if (!room_enc || !m->room)
                return -ENOMEM;
        m->base = strjoin(hs, "/_matrix/client/v3/rooms/", room_enc, "/send/m.room.message/");
        m->authorization = strjoin("Bearer ", token);
        if (!m->base || !m->authorization)
                return -ENOMEM;

        *ret_state = NOTIFY_TAKE(m);
        return 0;
}

/* HTML: & < > " ' as entities; line breaks as <br>. */
static const char *html_esc(const char *c, size_t n, uint32_t prev) {
        if (n == 1 && c[0] == '\n')
                return "<br>";
        return notify_esc_html(c, n, prev);
}

/* A copy of s with a WORD JOINER after the '@' of every "@room" (any case). */
static char *defuse_room(const char *s) {
        size_t n = 0;
        char *out, *o;

        for (const char *p = s; (p = strchr(p, '@')); p++)
                n++;
        out = o = malloc(strlen(s) + 3 * n + 1);
        if (!out)
                return NULL;
        for (const char *p = s; *p; p++) {
                *o++ = *p;
                if (*p == '@' && strncasecmp(p + 1, "room", 4) == 0)
                        o = stpcpy(o, "\xe2\x81\xa0");
        }
        *o = 0;
        return out;
}

/* The second line is notify_summary(): "New alert on mastodon, due in 42m". */
static char *body_plain(const NotifyView *v, const char *post_text) {
        _cleanup_free_ char *summary = notify_summary(v, true), *text = NULL, *raw = NULL,
                            *line1 = NULL, *line2 = NULL, *line3 = NULL, *line4 = NULL;
        bool oom = false;
        _cleanup_free_ char *reach = notify_reach(v, &oom);

        if (!summary || oom)
                return NULL;
        line1 = strjoin(notify_severity_emoji(v->rank), " ", v->title);
        line2 = notify_truncate(summary, LINE_MAX_UNITS, NOTIFY_NO_LIMIT);
        line3 = v->message ? notify_truncate(v->message, LINE_MAX_UNITS, NOTIFY_NO_LIMIT) : NULL;
        line4 = reach ? notify_truncate(reach, LINE_MAX_UNITS, NOTIFY_NO_LIMIT) : NULL;
        text = strdup(post_text);
        if (!line1 || !line2 || (v->message && !line3) || (reach && !line4) || !text)
                return NULL;
        raw = strjoin(line1, "\n", line2, line3 ? "\n" : "", line3 ? line3 : "",
                      line4 ? "\n" : "", line4 ? line4 : "", text[0] ? "\n\n" : "", text,
                      v->url ? "\n\n" : "", v->url ? v->url : "");
        return raw ? defuse_room(raw) : NULL;
}

static char *body_html(const NotifyView *v, const char *post_text) {
        _cleanup_free_ char *title = NULL, *label = NULL, *rest = NULL, *message = NULL,
                            *reach_html = NULL, *text = NULL, *href = NULL, *tail = NULL;
        bool oom = false;
        _cleanup_free_ char *reach = notify_reach(v, &oom);

        if (oom)
                return NULL;
        _cleanup_free_ char *head = strjoin(notify_severity_emoji(v->rank), " ", v->title);
        _cleanup_free_ char *after = notify_summary(v, false);
        if (!head || !after)
                return NULL;
        title = notify_escape(head, html_esc, LINE_MAX_UNITS, NOTIFY_NO_LIMIT, NULL);
        label = notify_escape(v->label, html_esc, LINE_MAX_UNITS, NOTIFY_NO_LIMIT, NULL);
        rest = notify_escape(after, html_esc, LINE_MAX_UNITS, NOTIFY_NO_LIMIT, NULL);
        message = v->message ? notify_escape(v->message, html_esc, LINE_MAX_UNITS,
                                             NOTIFY_NO_LIMIT, NULL)
                             : NULL;
        reach_html = reach ? notify_escape(reach, html_esc, LINE_MAX_UNITS, NOTIFY_NO_LIMIT, NULL)
                           : NULL;
        text = notify_escape(post_text, html_esc, NOTIFY_NO_LIMIT, TEXT_HTML_MAX, NULL);
        href = v->url ? notify_escape(v->url, html_esc, NOTIFY_NO_LIMIT, NOTIFY_NO_LIMIT, NULL)
                      : NULL;
        if (!title || !label || !rest || (v->message && !message) || (reach && !reach_html) ||
            !text || (v->url && !href))
                return NULL;
        tail = href ? strjoin("<a href=\"", href, "\">Open post</a>") : strdup("");
        if (!tail)
                return NULL;
        return strjoin("<b>", title, "</b><br><i>", label, "</i>", rest, "<br>",
                       message ? message : "", message ? "<br>" : "",
                       reach_html ? reach_html : "", reach_html ? "<br>" : "",
                       text[0] ? "<blockquote>" : "", text, text[0] ? "</blockquote>" : "",
                       tail);
}

static int payload_build(void *state, const NotifyView *v, const struct earshot_alert *a,
                         char **ret) {
        Matrix *m = state;
        _cleanup_(cJSON_Deletep) cJSON *root = cJSON_CreateObject();
        /* one cut for both bodies, so they say the same; the HTML may be cut further */
        _cleanup_free_ char *text = notify_truncate(v->text, NOTIFY_NO_LIMIT, TEXT_PLAIN_MAX);

        if (!root || !text || !notify_json_add(root, "msgtype", cJSON_CreateString(m->msgtype)) ||
            !notify_json_take(root, "body", body_plain(v, text)) ||
            !notify_json_add(root, "format", cJSON_CreateString("org.matrix.custom.html")) ||
            !notify_json_take(root, "formatted_body", body_html(v, text)) ||
            !notify_json_add(root, "m.mentions", cJSON_CreateObject()))
                return -ENOMEM;
        *ret = cJSON_PrintUnformatted(root);
        return *ret ? 0 : -ENOMEM;
}

/* "earshot-{id}-{event}", percent-encoded: the same for a retry, new for each event. */
static char *txn_id(const struct earshot_alert *a) {
        const char *event = a->event && *a->event ? a->event : "new";
        _cleanup_free_ char *raw = strjoin("earshot-", a->id, "-", event);

        return raw ? url_encode(raw) : NULL;
}

static int matrix_deliver(void *state, const struct earshot_alert *alert,
                          struct earshot_request *req) {
        Matrix *m = state;
        const struct earshot_host *h = m->host;
        _cleanup_free_ char *body = NULL, *txn = NULL, *url = NULL;
        int r;

        if (!alert || !alert->id || !*alert->id)
                return -EINVAL;
        r = notify_body_build(h, alert, payload_build, m, &body);
        if (r < 0)
                return r;
        txn = txn_id(alert);
        if (!txn)
                return -ENOMEM;
        url = strjoin(m->base, txn);
        if (!url)
                return -ENOMEM;

        /* Authorization goes first, as the header comment shows it */
        r = h->request_header(req, "Authorization", m->authorization);
        if (r < 0)
                return r;
        r = notify_request_json(h, req, "PUT", url, NULL, NULL);
        if (r < 0)
                return r;
        return notify_request_send(h, req, body);
}

static int matrix_response(void *state, const struct earshot_alert *alert,
                           const struct earshot_response *resp) {
        Matrix *m = state;
        const struct earshot_host *h = m->host;
        _cleanup_(cJSON_Deletep) cJSON *j = notify_error_json(resp);
        const char *errcode = json_str(j, "errcode");
        char code[64] = "", msg[256] = "", line[256];

        (void)text_oneline(code, sizeof(code), errcode ? errcode : "no errcode", NULL);
        /* the error's text; the body when there is no errcode either */
        if (json_str(j, "error") || !errcode)
                (void)notify_error_line(resp, j, "error", msg, sizeof(msg));

        if (resp->status == 429) {
                const cJSON *ms = json_get(j, "retry_after_ms");
                h->log(h, EARSHOT_LOG_WARNING,
                       "homeserver rate limit (HTTP 429 %s, retry_after_ms %.0f), will retry", code,
                       cJSON_IsNumber(ms) ? ms->valuedouble : 0.0);
                return EARSHOT_RETRY;
        }
        if (resp->status == 401) {
                h->log(h, EARSHOT_LOG_ERR,
                       "homeserver refused the access_token (HTTP 401 %s: %s); set a valid "
                       "access_token",
                       code, msg);
                return EARSHOT_REJECTED;
        }
        if (resp->status == 403) {
                h->log(h, EARSHOT_LOG_ERR,
                       "homeserver forbids posting to room %s (HTTP 403 %s: %s); invite the "
                       "access_token's account and let it join, or check its power level",
                       m->room, code, msg);
                return EARSHOT_REJECTED;
        }
        int outcome = earshot_http_outcome(resp->status);
        if (outcome == EARSHOT_REJECTED)
                h->log(h, EARSHOT_LOG_ERR, "homeserver refused the message (HTTP %d %s: %s)",
                       resp->status, code, msg[0] ? msg : notify_body_line(resp, line, sizeof(line)));
        return outcome;
}

static const struct earshot_option matrix_options[] = {
        {"homeserver", EARSHOT_OPT_URL, EARSHOT_OPT_REQUIRED, NULL,
         "the homeserver's client API base URL, e.g. https://matrix.example.org"},
        {"room", EARSHOT_OPT_STRING, EARSHOT_OPT_REQUIRED, NULL,
         "the room id, e.g. !abc123:example.org (the bot account must have joined it)"},
        {"access_token", EARSHOT_OPT_STRING, EARSHOT_OPT_REQUIRED | EARSHOT_OPT_SECRET, NULL,
         "the bot account's access token"},
        {"msgtype", EARSHOT_OPT_STRING, 0, "m.text", "m.text, or m.notice for a bot's notices"},
        {.name = NULL},
};

NOTIFY_PLUGIN_DEFINE(matrix, "matrix", "post each alert to a Matrix room",
                     .response = matrix_response);
