/* SPDX-License-Identifier: MIT */
/*
 * replay.c - a JSON-lines file of posts, released a few at a time on the source's schedule,
 * for the demo and for trying rules on known posts.
 *
 * Plugins do no I/O, so the file is fetched by the core like any feed: the one request is
 * GET file://PATH (percent-encoded), and every poll sees the whole file. The cursor is the
 * number of lines already consumed, so a restart goes on where the last committed poll ended,
 * and each line is released at most once per cursor. A poll consumes lines until it has
 * released `batch` posts or reaches the end; blank lines, lines starting with '#' and invalid
 * lines are consumed too (an invalid line is logged once, as "PATH:LINE: reason", when it is
 * consumed). A line is a JSON object:
 *
 *   {"id": "42" | 42, "text": "...",                  required
 *    "author": "alice@example.social", "author_name": "Alice", "followers": 120,
 *    "url": "https://...", "created_at": "2026-08-01T13:55:55Z", "network": "mastodon",
 *    "lang": "en", "replies": 0, "reposts": 0, "likes": 3}
 *
 * A present field of the wrong type makes the line invalid (null counts as absent), so a typo
 * in a test file is reported, not silently ignored. With `retime` (the default) a post's
 * creation time is the moment it is released, so due times in a demo start now. When the end
 * of the file is reached, "all N posts replayed" is logged once per instance.
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

#define BATCH_MAX 100000

typedef struct Replay {
        const struct earshot_host *host; /* borrowed, valid until destroy */
        char *path;                      /* owned: absolute; also the feed's name */
        char *url;                       /* owned: file://PATH, percent-encoded */
        char *network;                   /* owned: for lines without "network" */
        int64_t batch;
        bool retime;
        bool done_logged; /* "all N posts replayed" was said */
} Replay;

static void replay_destroy(void *state) {
        Replay *r = state;

        if (!r)
                return;
        free(r->path);
        free(r->url);
        free(r->network);
        free(r);
}

static inline void replay_destroyp(Replay **r) {
        replay_destroy(*r);
}

/* file:// + the path with everything but unreserved characters and '/' percent-encoded. */
static char *file_url(const char *path) {
        static const char hex[] = "0123456789ABCDEF";
        char *url = malloc(strlen("file://") + 3 * strlen(path) + 1), *o;

        if (!url)
                return NULL;
        o = stpcpy(url, "file://");
        for (const unsigned char *p = (const unsigned char *)path; *p; p++)
                if (char_is_unreserved((char)*p) || *p == '/')
                        *o++ = (char)*p;
                else {
                        *o++ = '%';
                        *o++ = hex[*p >> 4];
                        *o++ = hex[*p & 15];
                }
        *o = 0;
        return url;
}

static int replay_create(const struct earshot_host *host, const struct earshot_values *vals,
                         char *err, size_t err_len, void **ret_state) {
        _cleanup_(replay_destroyp) Replay *r = NULL;
        const char *path, *network;

        path = earshot_value_str(vals, "path");
        if (!path || !*path)
                return set_error(err, err_len, "path: a JSON-lines file is needed");
        if (path[0] != '/')
                return set_error(err, err_len, "path: '%s' is not absolute", path);
        network = earshot_value_str(vals, "network");
        if (!network || !*network)
                network = "replay";

        r = calloc(1, sizeof(*r));
        if (!r)
                return -ENOMEM;
        r->host = host;
        r->batch = earshot_value_num(vals, "batch", 1);
        if (r->batch < 1 || r->batch > BATCH_MAX)
                return set_error(err, err_len, "batch: %" PRId64 " is out of range 1..%d", r->batch,
                                 BATCH_MAX);
        r->retime = earshot_value_num(vals, "retime", 1) != 0;
        r->path = strdup(path);
        r->network = strdup(network);
        if (!r->path || !r->network)
                return -ENOMEM;
        r->url = file_url(r->path);
        if (!r->url)
                return -ENOMEM;

        *ret_state = r;
        r = NULL;
        return 0;
}

static const char *replay_feed(void *state, uint32_t i) {
        Replay *r = state;
        return i == 0 ? r->path : NULL;
}

static int replay_build_request(void *state, uint32_t i, const char *cursor, const char *page,
                                struct earshot_request *req) {
        Replay *r = state;

        if (i != 0)
                return -EINVAL;
        return request_get(r->host, req, r->url, NULL);
}

/* A field that must be a string when present; null counts as absent. */
static int field_str(const cJSON *obj, const char *key, const char **ret, char *why,
                     size_t why_len) {
        const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, key);

        *ret = NULL;
        if (!j || cJSON_IsNull(j))
                return 0;
        if (!cJSON_IsString(j) || !j->valuestring) {
                (void)snprintf(why, why_len, "\"%s\" must be a string", key);
                return -EINVAL;
        }
        *ret = *j->valuestring ? j->valuestring : NULL;
        return 0;
}

/* A field that must be a whole number when present; -1 when absent or negative. */
static int field_int(const cJSON *obj, const char *key, int64_t *ret, char *why, size_t why_len) {
        const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, key);
        double d;

        *ret = -1;
        if (!j || cJSON_IsNull(j))
                return 0;
        d = cJSON_IsNumber(j) ? j->valuedouble : 0.5;
        if (!(d > -9.0e15 && d < 9.0e15) || d != (double)(int64_t)d) {
                (void)snprintf(why, why_len, "\"%s\" must be a whole number", key);
                return -EINVAL;
        }
        *ret = d < 0 ? -1 : (int64_t)d;
        return 0;
}

typedef enum LineKind {
        LINE_SKIP,    /* blank or comment */
        LINE_INVALID, /* why says why */
        LINE_POST,    /* *ret_post is filled, its strings borrowed from *ret_json */
} LineKind;

static LineKind line_invalid(char *why, size_t why_len, const char *reason) {
        (void)snprintf(why, why_len, "%s", reason);
        return LINE_INVALID;
}

/*
 * Classify one line (without its newline) and, for a post, fill *ret_post from it. The post's
 * strings point into *ret_json (and id_buf), which the caller frees after emitting.
 */
static LineKind line_parse(Replay *r, const char *line, size_t len, cJSON **ret_json, char *id_buf,
                           size_t id_len, struct earshot_post *ret_post, char *why,
                           size_t why_len) {
        const char *end = NULL, *p = line, *created_at;
        cJSON *j, *id;
        size_t n = len;

        while (n > 0 && (*p == ' ' || *p == '\t')) {
                p++;
                n--;
        }
        while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t' || p[n - 1] == '\r'))
                n--;
        if (n == 0 || *p == '#')
                return LINE_SKIP;

        if (memchr(p, 0, n))
                return line_invalid(why, why_len, "contains a NUL byte");
        j = cJSON_ParseWithLengthOpts(p, n, &end, false);
        if (!j || end != p + n) {
                cJSON_Delete(j);
                return line_invalid(why, why_len, "not valid JSON");
        }
        *ret_json = j;
        if (!cJSON_IsObject(j))
                return line_invalid(why, why_len, "not a JSON object");

        *ret_post = (struct earshot_post){
                .size = sizeof(struct earshot_post),
                .network = r->network,
        };

        id = cJSON_GetObjectItemCaseSensitive(j, "id");
        if (cJSON_IsString(id) && id->valuestring && *id->valuestring)
                ret_post->id = id->valuestring;
        else if (cJSON_IsNumber(id) && id->valuedouble >= -9.0e15 && id->valuedouble <= 9.0e15 &&
                 id->valuedouble == (double)(int64_t)id->valuedouble) {
                (void)snprintf(id_buf, id_len, "%" PRId64, (int64_t)id->valuedouble);
                ret_post->id = id_buf;
        } else
                return line_invalid(why, why_len,
                                    "\"id\" must be a non-empty string or a whole number");

        const cJSON *text = cJSON_GetObjectItemCaseSensitive(j, "text");
        if (!cJSON_IsString(text) || !text->valuestring)
                return line_invalid(why, why_len, "\"text\" must be a string");
        ret_post->text = text->valuestring;

        const char *network = NULL;
        if (field_str(j, "author", &ret_post->author_handle, why, why_len) < 0 ||
            field_str(j, "author_name", &ret_post->author_name, why, why_len) < 0 ||
            field_str(j, "url", &ret_post->url, why, why_len) < 0 ||
            field_str(j, "lang", &ret_post->lang, why, why_len) < 0 ||
            field_str(j, "network", &network, why, why_len) < 0 ||
            field_str(j, "created_at", &created_at, why, why_len) < 0)
                return LINE_INVALID;
        if (network)
                ret_post->network = network;
        if (field_int(j, "followers", &ret_post->author_followers, why, why_len) < 0 ||
            field_int(j, "replies", &ret_post->replies, why, why_len) < 0 ||
            field_int(j, "reposts", &ret_post->reposts, why, why_len) < 0 ||
            field_int(j, "likes", &ret_post->likes, why, why_len) < 0)
                return LINE_INVALID;
        if (created_at && r->host->parse_time(created_at, &ret_post->created_usec) < 0)
                return line_invalid(why, why_len, "\"created_at\" is not an RFC 3339 time");
        return LINE_POST;
}

/* The cursor is a decimal line count; anything else starts over, with a warning. */
static uint64_t cursor_parse(Replay *r, const char *cursor) {
        uint64_t n = 0;

        if (!cursor || !*cursor)
                return 0;
        for (const char *c = cursor; *c; c++) {
                if (*c < '0' || *c > '9' || n > UINT64_MAX / 10 - 1) {
                        r->host->log(r->host, EARSHOT_LOG_WARNING,
                                     "%s: cursor '%s' is not a line count, starting over", r->path,
                                     cursor);
                        return 0;
                }
                n = n * 10 + (uint64_t)(*c - '0');
        }
        return n;
}

/* Lines are separated by '\n'; a last line without one still counts. */
static bool next_line(const char *body, size_t len, size_t *pos, const char **ret_line,
                      size_t *ret_len) {
        const char *nl;

        if (*pos >= len)
                return false;
        *ret_line = body + *pos;
        nl = memchr(*ret_line, '\n', len - *pos);
        *ret_len = nl ? (size_t)(nl - *ret_line) : len - *pos;
        *pos += *ret_len + (nl ? 1 : 0);
        return true;
}

static int replay_parse_response(void *state, uint32_t i, const char *cursor, const char *page,
                                 const struct earshot_response *resp, struct earshot_sink *sink) {
        Replay *r = state;
        const struct earshot_host *h = r->host;
        const char *body = resp->body ? resp->body : "", *line;
        size_t len = resp->body ? resp->body_len : 0, pos = 0, line_len;
        uint64_t start = cursor_parse(r, cursor), line_no = 0;
        int64_t released = 0;
        char id_buf[32], why[96];
        int k;

        if (i != 0)
                return -EINVAL;

        while (line_no < start && next_line(body, len, &pos, &line, &line_len))
                line_no++;

        while (released < r->batch && next_line(body, len, &pos, &line, &line_len)) {
                _cleanup_(cJSON_Deletep) cJSON *json = NULL;
                struct earshot_post post;

                line_no++;
                switch (line_parse(r, line, line_len, &json, id_buf, sizeof(id_buf), &post, why,
                                   sizeof(why))) {
                case LINE_SKIP:
                        break;
                case LINE_INVALID:
                        h->log(h, EARSHOT_LOG_WARNING, "%s:%" PRIu64 ": %s, skipping", r->path,
                               line_no, why);
                        break;
                case LINE_POST:
                        if (r->retime)
                                post.created_usec = h->now_usec(h);
                        k = h->emit_post(sink, &post);
                        if (k < 0)
                                return k;
                        released++;
                        break;
                }
        }

        if (line_no > start) {
                char buf[32];
                (void)snprintf(buf, sizeof(buf), "%" PRIu64, line_no);
                k = h->set_cursor(sink, buf);
                if (k < 0)
                        return k;
        }

        if (pos >= len && !r->done_logged) {
                uint64_t n = 0;
                size_t p = 0;

                /* count once, quietly: the invalid lines were reported when consumed */
                while (next_line(body, len, &p, &line, &line_len)) {
                        _cleanup_(cJSON_Deletep) cJSON *json = NULL;
                        struct earshot_post post;
                        if (line_parse(r, line, line_len, &json, id_buf, sizeof(id_buf), &post, why,
                                       sizeof(why)) == LINE_POST)
                                n++;
                }
                h->log(h, EARSHOT_LOG_INFO, "%s: all %" PRIu64 " posts replayed", r->path, n);
                r->done_logged = true;
        }
        return 0;
}

static const struct earshot_option replay_options[] = {
        {"path", EARSHOT_OPT_PATH, EARSHOT_OPT_REQUIRED, NULL,
         "JSON-lines file of posts, one object per line"},
        {"batch", EARSHOT_OPT_INT, 0, "1", "posts released per poll"},
        {"retime", EARSHOT_OPT_BOOL, 0, "true",
         "stamp each post with the time it is released, not its created_at"},
        {"network", EARSHOT_OPT_STRING, 0, "replay", "network of lines that do not name one"},
        {.name = NULL},
};

static const struct earshot_source_ops replay_ops = {
        .size = sizeof(struct earshot_source_ops),
        .create = replay_create,
        .destroy = replay_destroy,
        .feed = replay_feed,
        .build_request = replay_build_request,
        .parse_response = replay_parse_response,
};

EARSHOT_PLUGIN_DEFINE(.kind = EARSHOT_PLUGIN_SOURCE, .name = "replay",
                      .description = "posts from a JSON-lines file, a few per poll (demo, rule "
                                     "testing)",
                      .options = replay_options, .source = &replay_ops);
