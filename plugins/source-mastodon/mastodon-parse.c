/* SPDX-License-Identifier: MIT */
/*
 * mastodon-parse.c - the Mastodon source's reading of response bodies: timelines (arrays of
 * Status), search results (their "statuses"), a stream's status events (one Status), the
 * account lookup (an Account) and the instance check (/api/v2/instance). Pure: bytes in, posts
 * and verdicts out through the host. It also remembers which post id each status it emitted
 * got (the last SEEN_MAX), for the stream's `delete` events, which name a status by its id.
 *
 * Guarantees. No byte sequence crashes it or makes it read out of bounds: bodies with NUL
 * bytes, nesting deeper than JSON_DEPTH_MAX, trailing garbage or fields of the wrong type are
 * refused or skipped. A timeline or lookup body that is not what Mastodon sends is -EBADMSG
 * after one error naming the feed; an element of a timeline that is not a usable status is
 * skipped (one warning per page). The instance check is advice, so a body it cannot read lets
 * the feed go on, with a warning; one that says the feed cannot work blocks it, with an
 * explanation for the operator (set_error). Strings from the server are cut and stripped of
 * control characters before they reach a log line.
 *
 * Field map (Status -> struct earshot_post). A boost ("reblog" set) is reported as the status
 * it boosts: text, author, counts, and its `uri` as the post id, so one status reached through
 * several instances or boosts is one post. id = `uri` (else INSTANCE/ID); url = `url` (else
 * `uri`); text = `spoiler_text` + "\n" + `content` as plain text; author = `account.acct`
 * (local accounts get "@INSTANCE-HOST"), `display_name`, `followers_count`; lang = `language`;
 * created/edited = `created_at`/`edited_at`; replies/reposts/likes = `replies_count`/
 * `reblogs_count`/`favourites_count`; reply_to = INSTANCE/api/v1/statuses/`in_reply_to_id`
 * (the parent's id is local to the instance asked, so the instance is part of it; that URL
 * answers with the parent status).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mastodon.h"

/* ---- log lines ------------------------------------------------------------------------------ */

/* A server's string, fit for a log line: at most 200 bytes, control characters as blanks. */
static const char *loggable(const char *s, char buf[static 201]) {
        size_t n = 0;

        for (; s && s[n] && n < 200; n++)
                buf[n] = (unsigned char)s[n] < 0x20 || s[n] == 0x7f ? ' ' : s[n];
        buf[n] = 0;
        return buf;
}

/* ---- statuses seen lately (for the stream's delete events) ---------------------------------- */

void seen_free(Mastodon *m) {
        for (size_t i = 0; i < m->n_seen; i++) {
                free(m->seen[i].id);
                free(m->seen[i].post_id);
        }
        free(m->seen);
        m->seen = NULL;
        m->n_seen = m->seen_next = 0;
}

/* Remember (instance, id) -> post_id in the ring; the oldest entry goes when it is full. */
static int seen_record(Mastodon *m, size_t instance, const char *id, const char *post_id) {
        if (!m->seen) {
                m->seen = calloc(SEEN_MAX, sizeof(Seen));
                if (!m->seen)
                        return -ENOMEM;
        }
        /* the newest entry for the same status (a REST poll and the stream both saw it) */
        size_t last = (m->seen_next + SEEN_MAX - 1) % SEEN_MAX;
        if (m->n_seen > 0 && m->seen[last].instance == instance &&
            strcmp(m->seen[last].id, id) == 0)
                return 0;
        char *i = strdup(id), *p = strdup(post_id);
        if (!i || !p) {
                free(i);
                free(p);
                return -ENOMEM;
        }
        Seen *e = &m->seen[m->seen_next];
        free(e->id);
        free(e->post_id);
        *e = (Seen){.instance = instance, .id = i, .post_id = p};
        m->seen_next = (m->seen_next + 1) % SEEN_MAX;
        if (m->n_seen < SEEN_MAX)
                m->n_seen++;
        return 0;
}

const char *seen_lookup(const Mastodon *m, size_t instance, const char *id) {
        /* newest first */
        for (size_t k = 0; k < m->n_seen; k++) {
                const Seen *e = &m->seen[(m->seen_next + SEEN_MAX - 1 - k) % SEEN_MAX];
                if (e->instance == instance && strcmp(e->id, id) == 0)
                        return e->post_id;
        }
        return NULL;
}

/* ---- timelines ------------------------------------------------------------------------------ */

/* Emits one status. Returns 0 when emitted, 1 when the element is not a usable
 * status (the reason in *why), or a negative errno. */
static int status_emit(Mastodon *m, const Feed *f, size_t index, const cJSON *item,
                       struct earshot_sink *sink, const char **why) {
        const struct earshot_host *h = m->host;
        const Instance *inst = &m->instances[f->instance];
        const cJSON *s = item, *reblog, *account;
        const char *id, *content, *uri, *spoiler, *acct, *created_at, *edited_at, *parent;
        _cleanup_free_ char *text = NULL, *post_id = NULL, *handle = NULL, *reply_to = NULL;

        if (!cJSON_IsObject(item)) {
                h->log(h, EARSHOT_LOG_DEBUG, "%s: skipping element %zu: not an object", f->name,
                       index);
                *why = "not an object";
                return 1;
        }
        /* A boost: report the boosted status, which is what people wrote. */
        reblog = cJSON_GetObjectItemCaseSensitive(item, "reblog");
        if (cJSON_IsObject(reblog))
                s = reblog;

        id = json_nstr(s, "id");
        content = json_str(s, "content");
        if (!id || !content) {
                *why = !id ? "no string id" : "no string content";
                h->log(h, EARSHOT_LOG_DEBUG, "%s: skipping element %zu: %s", f->name, index, *why);
                return 1;
        }

        uri = json_nstr(s, "uri");
        if (!uri) {
                post_id = strjoin(inst->base, "/", id);
                if (!post_id)
                        return -ENOMEM;
        }

        text = h->html_to_text(content, strlen(content));
        if (!text)
                return -ENOMEM;
        spoiler = json_nstr(s, "spoiler_text");
        if (spoiler) {
                char *joined = *text ? strjoin(spoiler, "\n", text) : strdup(spoiler);
                if (!joined)
                        return -ENOMEM;
                free(text);
                text = joined;
        }

        account = cJSON_GetObjectItemCaseSensitive(s, "account");
        acct = json_nstr(account, "acct");
        if (acct && !strchr(acct, '@')) {
                /* a local account: acct is relative to the instance we asked */
                handle = strjoin(acct, "@", inst->host);
                if (!handle)
                        return -ENOMEM;
        }

        /* the parent's id means something only on the instance asked: make it a URL there */
        parent = json_nstr(s, "in_reply_to_id");
        if (parent && id_is_safe(parent)) {
                reply_to = strjoin(inst->base, "/api/v1/statuses/", parent);
                if (!reply_to)
                        return -ENOMEM;
        }

        struct earshot_post post = {
                .size = sizeof(post),
                .id = uri ? uri : post_id,
                .network = "mastodon",
                .url = json_nstr(s, "url") ? json_nstr(s, "url") : uri,
                .text = text,
                .author_handle = handle ? handle : acct,
                .author_name = json_nstr(account, "display_name"),
                .author_followers = json_count(account, "followers_count"),
                .lang = json_nstr(s, "language"),
                .created_usec = 0,
                .replies = json_count(s, "replies_count"),
                .reposts = json_count(s, "reblogs_count"),
                .likes = json_count(s, "favourites_count"),
                .title = NULL,
                .reply_to = reply_to,
                .rating = 0,
                .edited_usec = 0,
        };
        created_at = json_nstr(s, "created_at");
        if (created_at && h->parse_time(created_at, &post.created_usec) < 0)
                post.created_usec = 0;
        /* an edit is noticed; whether it alerts again is the core's business */
        edited_at = json_nstr(s, "edited_at");
        if (edited_at && h->parse_time(edited_at, &post.edited_usec) < 0)
                post.edited_usec = 0;

        /* a `delete` event names the status by its id here (the boosted one's, for a boost:
         * deleting a boost deletes nothing anybody wrote) */
        if (id_is_safe(id)) {
                int r = seen_record(m, f->instance, id, post.id);
                if (r < 0)
                        return r;
        }
        return h->emit_post(sink, &post);
}

/*
 * Emits the statuses of an array (a timeline page, the statuses of a search), oldest first.
 * *ret_n: the number of elements, shown or skipped; *ret_newest and *ret_oldest (may be NULL):
 * the newest and oldest usable timeline ids (malloc()ed), or NULL.
 */
static int parse_array(Mastodon *m, const Feed *f, const cJSON *root, struct earshot_sink *sink,
                       size_t *ret_n, char **ret_newest, char **ret_oldest) {
        const struct earshot_host *h = m->host;
        const char *newest = NULL, *oldest = NULL;
        int r;

        size_t n = 0;
        for (const cJSON *item = root->child; item; item = item->next)
                n++;
        _cleanup_free_ const cJSON **items = calloc(n ? n : 1, sizeof(cJSON *));
        if (!items)
                return -ENOMEM;
        n = 0;
        for (const cJSON *item = root->child; item; item = item->next) {
                /* the timeline (outer) id, not a boosted status's own */
                const char *id = json_nstr(item, "id");
                if (id_is_safe(id) && (!newest || id_compare(id, newest) > 0))
                        newest = id;
                if (id_is_safe(id) && (!oldest || id_compare(id, oldest) < 0))
                        oldest = id;
                items[n++] = item;
        }

        /* newest first on the wire; emit oldest first */
        Skipped skipped = {0};
        for (size_t k = n; k > 0; k--) {
                const char *reason = NULL;
                r = status_emit(m, f, k - 1, items[k - 1], sink, &reason);
                if (r < 0)
                        return r;
                if (r > 0)
                        skipped_add(&skipped, k - 1, reason);
        }
        /* One warning a page: a server sending malformed statuses is worth knowing
         * about, but not once per element. */
        skipped_log(&skipped, h, f->name, n, "elements that are not valid statuses", "element");

        *ret_newest = newest ? strdup(newest) : NULL;
        if (newest && !*ret_newest)
                return -ENOMEM;
        if (ret_oldest) {
                *ret_oldest = oldest ? strdup(oldest) : NULL;
                if (oldest && !*ret_oldest) {
                        free(*ret_newest);
                        *ret_newest = NULL;
                        return -ENOMEM;
                }
        }
        *ret_n = n;
        return 0;
}

/*
 * Emits the statuses of a timeline page, oldest first. *ret_n: the number of elements, shown
 * or skipped; *ret_newest: the newest usable timeline id of the page (malloc()ed), or NULL.
 */
int parse_timeline(Mastodon *m, const Feed *f, const struct earshot_response *resp,
                   struct earshot_sink *sink, size_t *ret_n, char **ret_newest) {
        const struct earshot_host *h = m->host;
        _cleanup_(cJSON_Deletep) cJSON *root = NULL;
        const char *why = NULL;
        char buf[201];
        int r;

        r = json_load(resp, &root, &why);
        if (r < 0) {
                h->log(h, EARSHOT_LOG_ERR, "%s: response %s (%zu bytes)", f->name, why,
                       resp->body ? resp->body_len : 0);
                return r;
        }
        if (!cJSON_IsArray(root)) {
                const char *error = json_nstr(root, "error");
                h->log(h, EARSHOT_LOG_ERR, "%s: expected a JSON array of statuses, got %s%s%s%s",
                       f->name, cJSON_IsObject(root) ? "an object" : "a scalar",
                       error ? " (error: \"" : "", error ? loggable(error, buf) : "",
                       error ? "\")" : "");
                return -EBADMSG;
        }
        return parse_array(m, f, root, sink, ret_n, ret_newest, NULL);
}

/* GET /api/v2/search?type=statuses answers {"accounts": [], "statuses": [...], ...}. */
int parse_search(Mastodon *m, const Feed *f, const struct earshot_response *resp,
                 struct earshot_sink *sink, size_t *ret_n, char **ret_newest, char **ret_oldest) {
        const struct earshot_host *h = m->host;
        _cleanup_(cJSON_Deletep) cJSON *root = NULL;
        const char *why = NULL;
        char buf[201];
        int r;

        r = json_load(resp, &root, &why);
        if (r < 0) {
                h->log(h, EARSHOT_LOG_ERR, "%s: response %s (%zu bytes)", f->name, why,
                       resp->body ? resp->body_len : 0);
                return r;
        }
        const cJSON *statuses = cJSON_GetObjectItemCaseSensitive(root, "statuses");
        if (!cJSON_IsObject(root) || !cJSON_IsArray(statuses)) {
                const char *error = json_nstr(root, "error");
                h->log(h, EARSHOT_LOG_ERR,
                       "%s: expected a search result with a \"statuses\" array%s%s%s", f->name,
                       error ? " (error: \"" : "", error ? loggable(error, buf) : "",
                       error ? "\")" : "");
                return -EBADMSG;
        }
        return parse_array(m, f, statuses, sink, ret_n, ret_newest, ret_oldest);
}

/* A stream's update or status.update (edit): the data is one Status, as a timeline holds it. */
int parse_status_event(Mastodon *m, const Feed *f, const char *data, size_t len, bool edit,
                       struct earshot_sink *sink, char **ret_id) {
        const struct earshot_host *h = m->host;
        _cleanup_(cJSON_Deletep) cJSON *root = NULL;
        const char *why = NULL, *reason = NULL;
        struct earshot_response resp = {.size = sizeof(resp), .status = 200, .body = data,
                                        .body_len = len};
        int r;

        r = json_load(&resp, &root, &why);
        if (r < 0) {
                h->log(h, EARSHOT_LOG_WARNING, "%s: stream event %s (%zu bytes)", f->name, why,
                       len);
                return r;
        }
        /* an edit without edited_at (the documentation's own examples): edited by now */
        cJSON *s = cJSON_GetObjectItemCaseSensitive(root, "reblog");
        if (!cJSON_IsObject(s))
                s = root;
        if (edit && cJSON_IsObject(s) && !json_nstr(s, "edited_at")) {
                char when[40];
                cJSON *v = cJSON_CreateString(
                        h->format_time(h->now_usec(h), when, sizeof(when)));
                if (!v)
                        return -ENOMEM;
                cJSON_DeleteItemFromObjectCaseSensitive(s, "edited_at");
                cJSON_AddItemToObject(s, "edited_at", v);
        }
        r = status_emit(m, f, 0, root, sink, &reason);
        if (r < 0)
                return r;
        if (r > 0) {
                h->log(h, EARSHOT_LOG_WARNING, "%s: stream event is not a usable status (%s)",
                       f->name, reason);
                return -EBADMSG;
        }
        const char *id = json_nstr(root, "id");
        *ret_id = id_is_safe(id) ? strdup(id) : NULL;
        if (id_is_safe(id) && !*ret_id)
                return -ENOMEM;
        return 0;
}

/* ---- account lookup ------------------------------------------------------------------------- */

/* The user part of "user@domain" (or of "user") has length... */
static size_t user_len(const char *acct) {
        return strcspn(acct, "@");
}

/*
 * GET /api/v1/accounts/lookup?acct= answers with an Account. Returns 0 and the account id
 * (malloc()ed), or -EBADMSG after one error.
 */
int parse_lookup(Mastodon *m, const Feed *f, const struct earshot_response *resp, char **ret_id) {
        const struct earshot_host *h = m->host;
        _cleanup_(cJSON_Deletep) cJSON *root = NULL;
        const char *why = NULL, *id, *acct, *error;
        char buf[201], buf2[201];
        int r;

        r = json_load(resp, &root, &why);
        if (r < 0) {
                h->log(h, EARSHOT_LOG_ERR, "%s: looking up @%s: response %s (%zu bytes)", f->name,
                       f->acct, why, resp->body ? resp->body_len : 0);
                return r;
        }
        error = json_nstr(root, "error");
        if (!cJSON_IsObject(root) || error) {
                h->log(h, EARSHOT_LOG_ERR, "%s: looking up @%s: expected an account, got %s%s%s%s",
                       f->name, f->acct,
                       cJSON_IsObject(root)  ? "an object"
                       : cJSON_IsArray(root) ? "an array"
                                             : "a scalar",
                       error ? " (error: \"" : "", error ? loggable(error, buf) : "",
                       error ? "\")" : "");
                return -EBADMSG;
        }
        id = json_nstr(root, "id");
        if (!id_is_safe(id)) {
                h->log(h, EARSHOT_LOG_ERR, "%s: looking up @%s: the account has no usable id",
                       f->name, f->acct);
                return -EBADMSG;
        }
        /* A proxy or a confused server must not make us follow somebody else. The domain may
         * differ (the web domain asked, the account domain answered); the user may not. */
        acct = json_nstr(root, "acct");
        if (acct && (user_len(acct) != user_len(f->acct) ||
                     strncasecmp(acct, f->acct, user_len(acct)) != 0)) {
                h->log(h, EARSHOT_LOG_ERR,
                       "%s: looking up @%s returned another account, @%s; not following it",
                       f->name, f->acct, loggable(acct, buf));
                return -EBADMSG;
        }

        const char *moved = json_nstr(json_obj(root, "moved"), "acct");
        if (moved)
                h->log(h, EARSHOT_LOG_NOTICE,
                       "%s: @%s has moved to @%s; this feed follows the old account, add the "
                       "new one to `accounts` to follow it too",
                       f->name, f->acct, loggable(moved, buf2));
        h->log(h, EARSHOT_LOG_INFO, "%s: @%s is account %s", f->name, f->acct, id);

        *ret_id = strdup(id);
        return *ret_id ? 0 : -ENOMEM;
}

/* ---- instance check ------------------------------------------------------------------------- */

/* configuration.timelines_access.*.{local,remote} (Mastodon 4.5+) */
typedef enum Access {
        ACCESS_UNSPECIFIED, /* absent, or a value this plugin does not know: taken as public */
        ACCESS_PUBLIC,
        ACCESS_AUTHENTICATED,
        ACCESS_DISABLED,
} Access;

static Access access_from(const cJSON *feeds, const char *key) {
        const char *s = json_str(feeds, key);

        if (!s)
                return ACCESS_UNSPECIFIED;
        if (strcmp(s, "public") == 0)
                return ACCESS_PUBLIC;
        if (strcmp(s, "authenticated") == 0)
                return ACCESS_AUTHENTICATED;
        if (strcmp(s, "disabled") == 0)
                return ACCESS_DISABLED;
        return ACCESS_UNSPECIFIED;
}

static const char *access_to_string(Access a) {
        switch (a) {
        case ACCESS_PUBLIC:
                return "public";
        case ACCESS_AUTHENTICATED:
                return "authenticated";
        case ACCESS_DISABLED:
                return "disabled";
        default:
                return "unspecified";
        }
}

static bool access_open(Access a) {
        return a == ACCESS_PUBLIC || a == ACCESS_UNSPECIFIED;
}

/*
 * GET /api/v2/instance: can this hashtag feed work there? Mastodon (4.5+) serves a hashtag
 * timeline anonymously only if every part asked for is public: the local part always, the
 * remote part unless `local` (Api::V1::Timelines::TagController#require_auth?); with a user
 * token it serves the parts that are not disabled. Returns 0 to go on, EARSHOT_BLOCKED after
 * set_error() when the feed cannot work (nothing changes until a person acts: another
 * instance, a token, `local`), or -ENOMEM.
 */
int parse_probe(Mastodon *m, const Feed *f, const struct earshot_response *resp,
                struct earshot_sink *sink) {
        const struct earshot_host *h = m->host;
        const Instance *inst = &m->instances[f->instance];
        _cleanup_(cJSON_Deletep) cJSON *root = NULL;
        const char *why = NULL;
        char buf[201];

        const char *error = NULL;
        if (json_load(resp, &root, &why) == 0 && !cJSON_IsObject(root))
                why = "is not an object";
        else if (!why && (error = json_nstr(root, "error")))
                why = "is an error";
        if (why) {
                h->log(h, EARSHOT_LOG_WARNING,
                       "%s: the answer of %s/api/v2/instance %s%s%s%s; cannot tell whether its "
                       "hashtag timelines are open, going on",
                       f->name, inst->base, why, error ? " (\"" : "",
                       error ? loggable(error, buf) : "", error ? "\")" : "");
                return 0;
        }

        const cJSON *feeds = json_obj(json_obj(json_obj(root, "configuration"), "timelines_access"),
                                      "hashtag_feeds");
        if (!feeds) {
                h->log(h, EARSHOT_LOG_DEBUG,
                       "%s: %s says nothing about timeline access (before Mastodon 4.5, or "
                       "another server); going on",
                       f->name, inst->host);
                return 0;
        }

        Access local = access_from(feeds, "local"), remote = access_from(feeds, "remote");
        bool want_remote = !m->local;
        bool all_disabled = local == ACCESS_DISABLED && (!want_remote || remote == ACCESS_DISABLED);
        bool needs_user = !access_open(local) || (want_remote && !access_open(remote));
        const char *l = access_to_string(local), *rm = access_to_string(remote);

        if (all_disabled)
                return source_fail(h, sink, f->name, EARSHOT_BLOCKED,
                                   "%s has disabled its hashtag timelines "
                                   "(timelines_access.hashtag_feeds: local %s, remote %s); this "
                                   "feed cannot work there: follow #%s on another instance, or "
                                   "drop %s from `instances`",
                                   inst->host, l, rm, m->tags[f->index], inst->base);
        if (needs_user && !inst->token) {
                bool other = m->authorization != NULL; /* the token is another instance's */
                return source_fail(
                        h, sink, f->name, EARSHOT_BLOCKED,
                        "%s serves its hashtag timelines to logged-in users only "
                        "(timelines_access.hashtag_feeds: local %s, remote %s); set `access_token` "
                        "to a token of a user on %s (read scope)%s%s",
                        inst->host, l, rm, inst->host,
                        other ? "; the configured token belongs to another instance and is not "
                                "sent here"
                              : "",
                        want_remote && access_open(local)
                                ? ", or set `local: true` to follow only posts by its own users"
                                : "");
        }
        if (local == ACCESS_DISABLED || (want_remote && remote == ACCESS_DISABLED))
                h->log(h, EARSHOT_LOG_WARNING,
                       "%s: %s has disabled %s posts in its hashtag timelines; this feed sees "
                       "only posts by %s",
                       f->name, inst->host, local == ACCESS_DISABLED ? "local" : "remote",
                       local == ACCESS_DISABLED ? "users of other instances" : "its own users");
        else
                h->log(h, EARSHOT_LOG_DEBUG,
                       "%s: %s serves hashtag timelines (local %s, remote %s)%s", f->name,
                       inst->host, l, rm, needs_user ? " to logged-in users; using the token" : "");
        return 0;
}
