/* SPDX-License-Identifier: MIT */
/*
 * bluesky-parse.h - the pure helpers of the Bluesky source that read what a server sent: the
 * expiry of a session token (a JWT's exp claim), a post's text with its link facets expanded
 * (byte offsets, checked), AT URIs and DIDs, and the cache of follower counts kept as one
 * state value. No host calls; each returns 0/negative errno or a documented value, so the unit
 * and fuzz tests reach them directly.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

/*
 * The exp claim of a JWT ("HEADER.PAYLOAD.SIGNATURE", the payload base64url-encoded JSON), in
 * seconds since the epoch, into *ret_sec. The signature is not checked: the server that issued
 * the token checks it, this only tells when to refresh. -EINVAL when it is not a JWT or has no
 * usable exp; -ENOMEM.
 */
int bsky_jwt_exp(const char *jwt, int64_t *ret_sec);

/*
 * record.text with each link facet's bytes replaced by the facet's full URI when they differ
 * (clients shorten long links to "example.com/some-pa..."), so that rules on domains and paths
 * see the real link. Facets index the text by UTF-8 bytes (index.byteStart, index.byteEnd);
 * one that is out of bounds, empty, splits a UTF-8 sequence, overlaps an earlier one or whose
 * URI is no http(s) URL without blanks and control characters is left alone. At most 64
 * facets are looked at. Returns a malloc()ed string (a copy of text when nothing changed), or
 * NULL on OOM.
 */
char *bsky_text_expand(const char *text, const cJSON *facets);

/* Whether s is an AT URI of a post, "at://AUTHORITY/app.bsky.feed.post/RKEY", with no blanks
 * or control characters; *ret_rkey then points at RKEY inside s. */
bool bsky_post_uri(const char *s, const char **ret_rkey);

/* Whether s is a DID as the network writes them: "did:METHOD:ID", [A-Za-z0-9._:%-], at most
 * 256 bytes. */
bool bsky_did_valid(const char *s);

/* ---- the follower-count cache ---------------------------------------------------------------- */

/* One author: a DID, its follower count (-1: the network did not say) and when it was read. */
typedef struct ProfileEntry {
        char *did;     /* owned */
        int64_t count; /* -1: unknown (a profile that was not returned) */
        int64_t t;     /* when it was read, seconds since the epoch */
} ProfileEntry;

typedef struct Profiles {
        ProfileEntry *e; /* owned */
        size_t n, cap;
} Profiles;

/* At most this many entries are kept, and at most PROFILES_BYTES_MAX bytes of text: a state
 * value holds 64 KiB at most. */
#define PROFILES_MAX 1000
#define PROFILES_BYTES_MAX 60000

void profiles_done(Profiles *p);

/*
 * Read the text form ("DID COUNT TIME\n" per line) into *p (which must be empty), dropping
 * entries read at or before expired_before (seconds) and lines that make no sense. -ENOMEM.
 */
int profiles_load(Profiles *p, const char *text, int64_t expired_before);

/* The count of did, -1 when it is cached as unknown, or -2 when it is not cached. */
int64_t profiles_lookup(const Profiles *p, const char *did);

/* Add or replace did's entry. -ENOMEM. */
int profiles_put(Profiles *p, const char *did, int64_t count, int64_t t);

/* The text form, newest entries first, cut to PROFILES_MAX entries and PROFILES_BYTES_MAX
 * bytes (the oldest go first); malloc()ed, NULL on OOM. */
char *profiles_format(const Profiles *p);
