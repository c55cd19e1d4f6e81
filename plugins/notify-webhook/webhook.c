/* SPDX-License-Identifier: MIT */
/*
 * webhook.c - every alert as a JSON POST to one URL.
 *
 * The plugin only builds the request; the core sends it, and reads the answer with
 * earshot_http_outcome(): 2xx delivered; 408, 425, 429, 5xx and no answer retried later; any
 * other status rejected for good. Delivery is at least once: a retried alert carries the same
 * `id`, and the `Idempotency-Key` header names the event ("ID" for the first alert,
 * "ID/escalation-1", "ID/thread" for later events of the same alert), so a receiver drops what
 * it has already seen and still gets every reminder. The body is always valid JSON in valid
 * UTF-8 (bytes that are not UTF-8 become U+FFFD); the bearer token only ever goes into the
 * Authorization header. With a `secret`, every request is signed (HMAC-SHA256 by libcrypto, see
 * SIGNATURES below), so a receiver can tell that it came from earshot and was not replayed. A
 * secret is never logged and never sent; it only keys the MAC.
 *
 * THE PAYLOAD (schema "earshot.alert.v1"; this comment is the receiver's reference)
 *
 *   POST <url>
 *   Content-Type: application/json
 *   Idempotency-Key: <id>   (or <id>/<event> for events other than "new")
 *   Authorization: Bearer <bearer_token>          (only when configured)
 *   Earshot-Signature: t=<unix seconds>,v1=<hex>  (only with a secret; see SIGNATURES)
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
 *
 * SIGNATURES (when `secret` is set; the header's name is the `signature_header` option)
 *
 *   Earshot-Signature: t=1785592800,v1=3f9c…64 hex digits…[,v1=…]
 *
 * `t` is the Unix time in whole seconds at which earshot signed the request. Each `v1` is the
 * lowercase hex HMAC-SHA256, keyed with the secret's bytes (as configured; a `secret_file`
 * loses its trailing line break), of the signed string
 *
 *   <t as written in the header> "." <the raw body bytes, exactly as received>
 *
 * Every attempt is signed afresh: a retry carries a new `t` and a new `v1` over the same body,
 * with the same Idempotency-Key. With `previous_secret` set as well, a second `v1` is made with
 * it, so a secret can be changed without a gap: give earshot the new `secret` and the old one
 * as `previous_secret`, switch the receiver to the new one, then drop `previous_secret`.
 * There is no separate timestamp header: `t` sits where the signature covers it.
 *
 * How a receiver verifies (the receiver's part; earshot cannot do it for them):
 *   1. Split the header value at "," into key=value pairs; take `t` and every `v1`; ignore
 *      other keys (a later scheme adds `v2=` beside `v1=`). No `t` or no `v1`: reject.
 *   2. Reject when |now - t| > 300 seconds (5 minutes): a replayed or long-held request. The
 *      receiver's clock must be in sync (NTP); retries are re-signed, so they pass.
 *   3. Compute HMAC-SHA256(secret, t + "." + raw body) over the bytes read from the wire,
 *      before any JSON parsing or re-encoding, as lowercase hex. Accept when it equals ANY
 *      `v1`, compared in constant time (Python hmac.compare_digest, Go hmac.Equal, Node
 *      crypto.timingSafeEqual, Ruby Rack::Utils.secure_compare), never with == or strcmp.
 *   4. Then drop repeats by Idempotency-Key, as without a signature: a retry after a lost
 *      answer is a new, valid signature over an event already handled.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "alert-json.h"
#include "earshot-plugin.h"
#include "notify-util.h"
#include "plugin-json.h"
#include "plugin-util.h"

#define SIGNATURE_HEADER "Earshot-Signature"
#define SHA256_LEN 32

typedef struct Webhook {
        const struct earshot_host *host; /* borrowed, valid until destroy */
        char *url;                       /* owned */
        char *authorization;             /* owned, secret: "Bearer TOKEN", or NULL */
        char *secret;                    /* owned, secret: the HMAC key, or NULL: no signature */
        char *previous_secret;           /* owned, secret: a second key while rotating, or NULL */
        char *signature_header;          /* owned; set when secret is */
        EVP_MAC *hmac;                   /* owned: libcrypto's HMAC, fetched once; with secret */
} Webhook;

static void webhook_destroy(void *state) {
        Webhook *w = state;

        if (!w)
                return;
        free(w->url);
        notify_secret_free(w->authorization);
        notify_secret_free(w->secret);
        notify_secret_free(w->previous_secret);
        free(w->signature_header);
        EVP_MAC_free(w->hmac);
        free(w);
}

NOTIFY_DEFINE_DESTROYP(Webhook, webhook_destroy)

/* An HTTP field name (RFC 9110 5.1: a token, 5.6.2 tchar). */
static bool is_field_name(const char *s) {
        if (!*s)
                return false;
        for (; *s; s++)
                if (!char_is_alnum(*s) && !strchr("!#$%&'*+-.^_`|~", *s))
                        return false;
        return true;
}

/* Header names the plugin or HTTP itself sets: a signature under one of them would clash. */
static bool is_reserved_header(const char *s) {
        static const char *const names[] = {"Authorization", "Content-Length", "Content-Type",
                                            "Host",          "Idempotency-Key", "Transfer-Encoding",
                                            NULL};
        for (const char *const *n = names; *n; n++)
                if (strcasecmp(s, *n) == 0)
                        return true;
        return false;
}

static int signing_create(Webhook *w, const struct earshot_values *vals, char *err,
                          size_t err_len) {
        const char *secret, *previous, *header;

        secret = earshot_value_str(vals, "secret");
        previous = earshot_value_str(vals, "previous_secret");
        if (!secret) {
                if (previous)
                        return set_error(err, err_len,
                                         "previous_secret: only meaningful beside `secret`");
                return 0;
        }
        /* an empty secret (say, an unset ${VAR}) must not quietly turn signing off */
        if (!*secret)
                return set_error(err, err_len,
                                 "secret: must not be empty (leave it out to send unsigned "
                                 "requests)");
        if (previous && !*previous)
                return set_error(err, err_len, "previous_secret: must not be empty");
        header = earshot_value_str(vals, "signature_header");
        if (!header)
                header = SIGNATURE_HEADER;
        if (notify_has_control(header))
                return set_error(err, err_len, "signature_header: contains control characters");
        if (!is_field_name(header))
                return set_error(err, err_len, "signature_header: '%s' is not an HTTP header name",
                                 header);
        if (is_reserved_header(header))
                return set_error(err, err_len,
                                 "signature_header: '%s' is a header earshot sets otherwise",
                                 header);

        w->secret = strdup(secret);
        if (!w->secret)
                return -ENOMEM;
        /* the same key twice would only repeat the same v1 */
        if (previous && strcmp(previous, secret) != 0) {
                w->previous_secret = strdup(previous);
                if (!w->previous_secret)
                        return -ENOMEM;
        }
        w->signature_header = strdup(header);
        if (!w->signature_header)
                return -ENOMEM;
        w->hmac = EVP_MAC_fetch(NULL, OSSL_MAC_NAME_HMAC, NULL);
        if (!w->hmac) {
                (void)set_error(err, err_len, "secret: libcrypto offers no HMAC here");
                return -EOPNOTSUPP;
        }
        return 0;
}

static int webhook_create(const struct earshot_host *host, const struct earshot_values *vals,
                          char *err, size_t err_len, void **ret_state) {
        _cleanup_(webhook_destroyp) Webhook *w = NULL;
        const char *url, *token;
        int r;

        url = earshot_value_str(vals, "url");
        if (!url || !*url)
                return set_error(err, err_len, "url: the receiver's URL is needed");
        if ((strncasecmp(url, "https://", 8) != 0 && strncasecmp(url, "http://", 7) != 0) ||
            notify_has_control(url) || strchr(url, ' '))
                return set_error(err, err_len, "url: '%s' is not an http:// or https:// URL", url);
        token = earshot_value_str(vals, "bearer_token");
        if (token && notify_has_control(token))
                return set_error(err, err_len, "bearer_token: contains control characters");

        w = calloc(1, sizeof(*w));
        if (!w)
                return -ENOMEM;
        w->host = host;
        w->url = strdup(url);
        if (!w->url)
                return -ENOMEM;
        if (token && *token && !(w->authorization = strjoin("Bearer ", token)))
                return -ENOMEM;
        r = signing_create(w, vals, err, err_len);
        if (r < 0)
                return r;

        *ret_state = NOTIFY_TAKE(w);
        return 0;
}

/* The body: the alert in schema earshot.alert.v1, built by alert-json.h (shared with the exec
 * notifier, which hands a program the same document). */
static int payload_build(Webhook *w, const struct earshot_alert *a, char **ret) {
        return alert_json_build(w->host, a, ret);
}

static inline void EVP_MAC_CTX_freep(EVP_MAC_CTX **ctx) {
        EVP_MAC_CTX_free(*ctx);
}

/*
 * Append ",v1=" and the lowercase hex HMAC-SHA256 under key of "<t>.<body>" to *o, which has
 * room for it, and advance *o. 0, or -ENOMEM / -EIO when libcrypto fails.
 */
static int sign_v1(EVP_MAC *hmac, const char *key, const char *t, const char *body,
                   size_t body_len, char **o) {
        static const char hex[] = "0123456789abcdef";
        OSSL_PARAM params[] = {
                OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
                OSSL_PARAM_construct_end(),
        };
        _cleanup_(EVP_MAC_CTX_freep) EVP_MAC_CTX *ctx = NULL;
        unsigned char mac[EVP_MAX_MD_SIZE];
        size_t n = 0;

        ctx = EVP_MAC_CTX_new(hmac);
        if (!ctx)
                return -ENOMEM;
        if (!EVP_MAC_init(ctx, (const unsigned char *)key, strlen(key), params) ||
            !EVP_MAC_update(ctx, (const unsigned char *)t, strlen(t)) ||
            !EVP_MAC_update(ctx, (const unsigned char *)".", 1) ||
            !EVP_MAC_update(ctx, (const unsigned char *)body, body_len) ||
            !EVP_MAC_final(ctx, mac, &n, sizeof(mac)) || n != SHA256_LEN)
                return -EIO;
        *o = stpcpy(*o, ",v1=");
        for (size_t i = 0; i < n; i++) {
                *(*o)++ = hex[mac[i] >> 4];
                *(*o)++ = hex[mac[i] & 0xf];
        }
        **o = 0;
        return 0;
}

/* The signature header's value for body, signed now: "t=T,v1=HEX[,v1=HEX]". */
static int signature_build(Webhook *w, const char *body, size_t body_len, char *buf,
                           size_t len) {
        char t[32], *o = buf;
        int r;

        /* t, then one v1 (4 + 64) for each of the two keys */
        if (len < sizeof(t) + 2 * (4 + 2 * SHA256_LEN) + 1)
                return -ENOBUFS;
        (void)snprintf(t, sizeof(t), "%" PRId64, w->host->now_usec(w->host) / 1000000);
        o = stpcpy(stpcpy(o, "t="), t);
        r = sign_v1(w->hmac, w->secret, t, body, body_len, &o);
        if (r >= 0 && w->previous_secret)
                r = sign_v1(w->hmac, w->previous_secret, t, body, body_len, &o);
        return r;
}

static int webhook_deliver(void *state, const struct earshot_alert *alert,
                           struct earshot_request *req) {
        Webhook *w = state;
        const struct earshot_host *h = w->host;
        _cleanup_free_ char *body = NULL;
        int r;

        if (!alert || !alert->post || !alert->id || !*alert->id || notify_has_control(alert->id))
                return -EINVAL;

        r = payload_build(w, alert, &body);
        if (r < 0)
                return r;

        r = notify_request_json(h, req, "POST", w->url, NULL, NULL);
        if (r < 0)
                return r;
        /* one key per event of the alert: a retry repeats it, a reminder does not */
        const char *event = EARSHOT_ALERT_HAS(alert, event) ? alert->event : NULL;
        _cleanup_free_ char *key = event && *event && strcmp(event, "new") != 0
                                           ? strjoin(alert->id, "/", event)
                                           : strdup(alert->id);
        if (!key)
                return -ENOMEM;
        if (notify_has_control(key))
                return -EINVAL;
        r = h->request_header(req, "Idempotency-Key", key);
        if (r < 0)
                return r;
        if (w->authorization) {
                r = h->request_header(req, "Authorization", w->authorization);
                if (r < 0)
                        return r;
        }
        /* signed at each attempt, so a retry carries a fresh t */
        if (w->secret) {
                char sig[256];
                r = signature_build(w, body, strlen(body), sig, sizeof(sig));
                if (r < 0)
                        return r;
                r = h->request_header(req, w->signature_header, sig);
                if (r < 0)
                        return r;
        }
        return notify_request_send(h, req, body);
}

static const struct earshot_option webhook_options[] = {
        {"url", EARSHOT_OPT_URL, EARSHOT_OPT_REQUIRED, NULL,
         "where to POST each alert as JSON (schema earshot.alert.v1)"},
        {"bearer_token", EARSHOT_OPT_STRING, EARSHOT_OPT_SECRET, NULL,
         "sent as 'Authorization: Bearer TOKEN'"},
        {"secret", EARSHOT_OPT_STRING, EARSHOT_OPT_SECRET, NULL,
         "sign each request: HMAC-SHA256 of '<t>.<body>' in the signature header"},
        {"previous_secret", EARSHOT_OPT_STRING, EARSHOT_OPT_SECRET, NULL,
         "while rotating: also sign with the old secret (a second v1=)"},
        {"signature_header", EARSHOT_OPT_STRING, 0, SIGNATURE_HEADER,
         "the header that carries 't=<unix seconds>,v1=<hex>' when a secret is set"},
        {.name = NULL},
};

NOTIFY_PLUGIN_DEFINE(webhook, "webhook", "POST each alert as JSON to a URL",
                     .response = NULL /* the core applies earshot_http_outcome() */);
