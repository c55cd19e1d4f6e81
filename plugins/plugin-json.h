/* SPDX-License-Identifier: MIT */
/*
 * plugin-json.h - what the in-tree plugins that read or write JSON share: a bounded parse of a
 * whole response body, and accessors that answer NULL or -1 instead of trusting the shape of
 * what a server sent. Header-only and not installed, like plugin-util.h (see there why).
 *
 * The accessors take any cJSON pointer, NULL included, and look a key up only in an object,
 * case-sensitively: a field of the wrong type is the same as a missing one.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "earshot-plugin.h"
#include "plugin-util.h"

/* Arrays and objects nested deeper than this are refused before cJSON sees them; no service
 * the plugins read nests more than about 10 deep. */
#define JSON_DEPTH_MAX 64
#define JSON_STRINGIFY_(x) #x
#define JSON_STRINGIFY(x) JSON_STRINGIFY_(x)

/* Integers up to 2^53 are exact in a JSON number (an IEEE double). */
#define JSON_INT_MAX (INT64_C(1) << 53)

static inline void cJSON_Deletep(cJSON **j) {
        cJSON_Delete(*j);
}

/* ---- parsing ------------------------------------------------------------------------------- */

/*
 * Whether the JSON text nests arrays and objects at most `max` deep. Counted on the bytes
 * (brackets inside strings skipped) before cJSON sees them, so a hostile body costs neither
 * stack nor memory. Linear.
 */
static inline bool json_depth_ok(const char *s, size_t len, unsigned max) {
        unsigned depth = 0;
        bool in_string = false;

        for (size_t i = 0; i < len; i++) {
                char c = s[i];
                if (in_string) {
                        if (c == '\\')
                                i++;
                        else if (c == '"')
                                in_string = false;
                } else if (c == '"')
                        in_string = true;
                else if (c == '[' || c == '{') {
                        if (++depth > max)
                                return false;
                } else if ((c == ']' || c == '}') && depth > 0)
                        depth--;
        }
        return true;
}

/*
 * Parse a response body as exactly one JSON value (blanks around it allowed) into *ret, which
 * the caller frees with cJSON_Delete(). Returns 0, or -EBADMSG with the reason in *ret_why, to
 * follow "response": it contains NUL bytes (JSON has none, and cJSON would take one for the
 * end), nests deeper than JSON_DEPTH_MAX, is not valid JSON (or cJSON ran out of memory), or
 * has garbage after the value (e.g. two bodies glued together).
 */
static inline int json_load(const struct earshot_response *resp, cJSON **ret,
                            const char **ret_why) {
        const char *body = resp->body ? resp->body : "", *end = NULL;
        size_t len = resp->body ? resp->body_len : 0;
        cJSON *root;

        if (memchr(body, 0, len)) {
                *ret_why = "contains NUL bytes, not JSON";
                return -EBADMSG;
        }
        if (!json_depth_ok(body, len, JSON_DEPTH_MAX)) {
                *ret_why = "nests deeper than " JSON_STRINGIFY(JSON_DEPTH_MAX) " levels";
                return -EBADMSG;
        }
        root = cJSON_ParseWithLengthOpts(body, len, &end, false);
        if (!root) {
                *ret_why = "is not valid JSON";
                return -EBADMSG;
        }
        while (end && end < body + len && char_is_blank(*end))
                end++;
        if (!end || end != body + len) {
                cJSON_Delete(root);
                *ret_why = "has garbage after the JSON value";
                return -EBADMSG;
        }
        *ret = root;
        return 0;
}

/*
 * json_load() that logs why it failed: returns 0 and *ret, or -EBADMSG after one error line
 * "FEED: response REASON (N bytes)" through the host.
 */
static inline int json_parse_response(const struct earshot_host *h, const char *feed,
                                      const struct earshot_response *resp, cJSON **ret) {
        const char *why = NULL;
        int r;

        r = json_load(resp, ret, &why);
        if (r < 0)
                h->log(h, EARSHOT_LOG_ERR, "%s: response %s (%zu bytes)", feed, why,
                       resp->body ? resp->body_len : 0);
        return r;
}

/* ---- accessors ----------------------------------------------------------------------------- */

/* The member `key` of obj, of any type; NULL when obj is not an object or has no such key. */
static inline const cJSON *json_get(const cJSON *obj, const char *key) {
        return cJSON_IsObject(obj) ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
}

/* The member `key` when it is an object, or NULL. */
static inline const cJSON *json_obj(const cJSON *obj, const char *key) {
        const cJSON *j = json_get(obj, key);
        return cJSON_IsObject(j) ? j : NULL;
}

/* The member `key` when it is a string, possibly empty; NULL otherwise. */
static inline const char *json_str(const cJSON *obj, const char *key) {
        const cJSON *j = json_get(obj, key);
        return cJSON_IsString(j) && j->valuestring ? j->valuestring : NULL;
}

/* The member `key` when it is a non-empty string; NULL otherwise. */
static inline const char *json_nstr(const cJSON *obj, const char *key) {
        const char *s = json_str(obj, key);
        return s && *s ? s : NULL;
}

/* The member `key` when it is an integral number in 0..max; -1 otherwise. */
static inline int64_t json_int(const cJSON *obj, const char *key, int64_t max) {
        const cJSON *j = json_get(obj, key);
        double d;

        if (!cJSON_IsNumber(j))
                return -1;
        d = j->valuedouble;
        if (!(d >= 0 && d <= (double)max) || d != (double)(int64_t)d)
                return -1;
        return (int64_t)d;
}

/*
 * A count (replies, likes, followers) as servers send them: a number in 0..9e18, a fraction cut
 * off (2.5 -> 2); -1 when missing, of the wrong type or out of range. json_int() is the strict
 * reading, for a plugin that takes a fraction for a sign of a broken record.
 */
static inline int64_t json_count(const cJSON *obj, const char *key) {
        const cJSON *j = json_get(obj, key);

        if (!cJSON_IsNumber(j) || !(j->valuedouble >= 0 && j->valuedouble < 9.0e18))
                return -1;
        return (int64_t)j->valuedouble;
}

/* A numeric id: an integral number in 1..2^53 - 1; 0 when missing or anything else. */
static inline int64_t json_id(const cJSON *obj, const char *key) {
        int64_t id = json_int(obj, key, JSON_INT_MAX - 1);
        return id > 0 ? id : 0;
}
