/* SPDX-License-Identifier: MIT */
/*
 * mastodon.h - what mastodon.c (options, feeds, cursors, requests) and mastodon-parse.c
 * (response bodies) share inside the Mastodon source plugin. Not installed, not ABI.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cjson/cJSON.h>

#include "earshot-plugin.h"
#include "plugin-json.h"
#include "plugin-util.h"

#define LIMIT_MAX 40 /* Mastodon's own cap for timelines */
#define MAX_PAGES_MAX 1000
#define ID_MAX 128     /* longest status or account id put in a cursor or URL */
#define HANDLE_MAX 255 /* longest "user@domain" accepted in `accounts` */
#define QUERY_MAX 500  /* longest `search` query */
#define SEEN_MAX 10000 /* statuses remembered for the stream's delete events */

typedef struct Instance {
        char *base; /* owned: "https://mastodon.social", no trailing '/' */
        char *host; /* owned: "mastodon.social" or "localhost:3000", appended to local accts */
        bool token; /* the access token belongs to this instance */
} Instance;

/* One entry of `accounts`: either a handle to look up, or an account id. */
typedef struct Account {
        char *acct; /* owned: "acme" or "acme@other.example", lowercased; NULL for an id */
        char *id;   /* owned: an account id given as such; NULL for a handle */
} Account;

typedef enum FeedKind {
        FEED_TAG,     /* /api/v1/timelines/tag/:tag */
        FEED_ACCOUNT, /* /api/v1/accounts/:id/statuses */
        FEED_SEARCH,  /* /api/v2/search?type=statuses (full-text, user token) */
} FeedKind;

typedef struct Feed {
        size_t instance; /* index into Mastodon::instances */
        FeedKind kind;
        size_t index; /* into Mastodon::tags, Mastodon::accounts or Mastodon::queries */
        char *name;   /* owned: "https://mastodon.social#acme", ".../@acme", ".../accounts/1" */
        char *acct;   /* owned, account feeds: the handle as this instance knows it ("acme"
                       * for its own users), NULL when the account id is configured */
        bool stream;  /* hashtag feeds with `stream`: also listened to */
        char *known;  /* owned: the feed's cursor as last handed to or set by this plugin, for
                       * parse_event(), which is given none */
} Feed;

/* A status seen lately: its id on the instance asked (what a `delete` event names) and the id
 * it was emitted with. */
typedef struct Seen {
        size_t instance;
        char *id;      /* owned */
        char *post_id; /* owned */
} Seen;

typedef struct Mastodon {
        const struct earshot_host *host; /* borrowed, valid until destroy */
        Instance *instances;             /* owned */
        size_t n_instances;
        char **tags; /* owned: without '#', ASCII lowercased */
        size_t n_tags;
        Account *accounts; /* owned */
        size_t n_accounts;
        Feed *feeds; /* owned: per instance, its tag feeds, then its account feeds */
        size_t n_feeds;
        int64_t limit;
        int64_t max_pages;
        bool local;
        bool account_replies;
        bool check_instance;
        int64_t recheck_usec; /* 0: never check again once passed */
        char *authorization;  /* owned, secret: "Bearer TOKEN", or NULL */
        char **queries;       /* owned: `search`, as written */
        size_t n_queries;
        bool stream;
        Seen *seen;           /* owned: ring of SEEN_MAX */
        size_t n_seen, seen_next;
} Mastodon;

/*
 * The cursor, as stored by the core: "id=ACCOUNT;min=STATUS;checked=SECONDS", each field
 * optional (see mastodon.c). A cursor holding only `min` is written as the bare id, which is
 * also what every cursor written before these fields existed looks like.
 */
typedef struct Cursor {
        char *id;        /* owned: resolved account id, or NULL */
        char *min;       /* owned: newest timeline id seen, or NULL */
        int64_t checked; /* when /api/v2/instance last passed, seconds since the epoch; -1 never */
} Cursor;

int cursor_parse(const char *s, Cursor *ret);
char *cursor_format(const Cursor *c);
void cursor_done(Cursor *c);

/* What a (feed, cursor, page) asks for; build_request and parse_response agree through it. */
typedef enum Step {
        STEP_PROBE,    /* GET /api/v2/instance */
        STEP_LOOKUP,   /* GET /api/v1/accounts/lookup?acct= */
        STEP_TIMELINE, /* the feed's timeline, after `min` */
} Step;

typedef struct Plan {
        Step step;
        const char *min;        /* borrowed from the cursor or the page token; NULL: newest page */
        const char *page_id;    /* borrowed: the N:ID token's id, or NULL */
        const char *account_id; /* borrowed: account feeds, the id to ask for */
        unsigned page_n;        /* timeline page number within the poll, from 1 */
        bool first;             /* the feed's first timeline page ever: take it, do not page */
        bool start_of_poll;     /* page == NULL */
} Plan;

int plan_request(const Mastodon *m, const Feed *f, const Cursor *c, const char *page, Plan *ret);

/* mastodon-parse.c */
int parse_probe(Mastodon *m, const Feed *f, const struct earshot_response *resp,
                struct earshot_sink *sink);
int parse_lookup(Mastodon *m, const Feed *f, const struct earshot_response *resp, char **ret_id);
int parse_timeline(Mastodon *m, const Feed *f, const struct earshot_response *resp,
                   struct earshot_sink *sink, size_t *ret_n, char **ret_newest);
/* /api/v2/search: the "statuses" of the body, as parse_timeline(); *ret_oldest likewise. */
int parse_search(Mastodon *m, const Feed *f, const struct earshot_response *resp,
                 struct earshot_sink *sink, size_t *ret_n, char **ret_newest, char **ret_oldest);
/* A stream's `update` or `status.update` (edit) event: one Status. *ret_id: its timeline id. */
int parse_status_event(Mastodon *m, const Feed *f, const char *data, size_t len, bool edit,
                       struct earshot_sink *sink, char **ret_id);
/* The id a status of instance `instance` with local id `id` was emitted with, or NULL. */
const char *seen_lookup(const Mastodon *m, size_t instance, const char *id);
void seen_free(Mastodon *m);

/* ids (mastodon.c) */
int id_compare(const char *a, const char *b);
bool id_is_safe(const char *s);
