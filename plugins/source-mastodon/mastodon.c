/* SPDX-License-Identifier: MIT */
/*
 * mastodon.c - hashtag and account timelines of Mastodon instances as an earshot source:
 * options, feeds, cursors, page tokens and requests. The response bodies are read by
 * mastodon-parse.c.
 *
 * Feeds. One feed per (instance, tag), named "INSTANCE#tag", and one per (instance, account),
 * named "INSTANCE/@acct" ("acme" for the instance's own users, "bob@other.example" for others)
 * or "INSTANCE/accounts/ID" for an account given by id. Names are the feeds' identity in the
 * store and stay the same across restarts. With an access token, one feed per `search` query
 * on the token's instance, "INSTANCE/api/v2/search?q=QUERY" (see "full-text search" below);
 * and with `stream`, the hashtag feeds there also stream (see "streams" below).
 *
 * Requests. A hashtag feed asks GET {instance}/api/v1/timelines/tag/{tag}?limit=N&min_id=MIN,
 * an account feed GET {instance}/api/v1/accounts/{id}/statuses?limit=N&exclude_reblogs=false
 * &min_id=MIN (plus exclude_replies=true when `account_replies` is false). Mastodon answers
 * with the N statuses right after MIN, newest first. Ids are opaque strings ordered by length,
 * then bytes, so "99" < "100".
 *  - An account given by handle is resolved once with GET /api/v1/accounts/lookup?acct=HANDLE,
 *    the first request of the feed; the id is kept in the cursor and never looked up again.
 *  - Before a hashtag feed's first timeline request, GET /api/v2/instance tells whether the
 *    instance lets this client read hashtag timelines (configuration.timelines_access,
 *    Mastodon 4.5+). If the feed cannot work (disabled, or for logged-in users only and no
 *    token), the poll answers EARSHOT_BLOCKED with an explanation (set_error) that says why and
 *    what to do. An instance without the field (older, or another server) is taken as open,
 *    and so is one without the endpoint (404 or 410: before Mastodon 4.0, or other software).
 *    Once passed, the check is kept in the cursor and repeated after `recheck_after`, at the
 *    end of a poll, so a later change is noticed too.
 *
 * Error answers (parse_error). A hashtag timeline answering 404 with a JSON error ("Record not
 * found") is a hashtag nobody has used yet: an empty page. 401 and 403 on a timeline or the
 * lookup block the feed: without a token, the instance wants a login (set `access_token`);
 * with one, the token was refused (401: revoked or expired) or lacks the read scope (403). A
 * lookup answering 404 names an account the instance does not know, an account timeline
 * answering 404 or 410 one that is gone: blocked too. Everything else (429, 5xx, ...) is left
 * to the core, which honours Retry-After and backs off.
 *
 * Cursor: "id=ACCOUNT;min=STATUS;checked=SECONDS", every field optional, unknown fields
 * ignored; a cursor with only `min` is written as the bare id (what this plugin wrote before
 * the other fields existed, and still reads). `min` is the newest timeline id seen and only
 * moves forward. A malformed field is ignored, which at worst makes the feed start afresh.
 *
 * Paging. The first timeline page of a feed (no `min`) is the newest page only: earshot starts
 * listening "now" and does not dig up history. Later polls walk forward without gaps: a full
 * page asks for the next (page token "N:ID", ID = the newest id of page N-1) until a short
 * page or `max_pages`; the rest waits for the next poll. Page tokens "probe" and "timeline"
 * chain the instance check or the lookup and the first timeline request within one poll.
 *
 * The access token goes only into the Authorization header of requests to the one instance it
 * belongs to (the only instance, or `access_token_instance`), never into a log line, a URL or
 * a feed name, and not to /api/v2/instance, which needs none.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mastodon.h"

/* Timeline ids are opaque strings that sort by length, then bytewise: "99" < "100". */
int id_compare(const char *a, const char *b) {
        size_t la = strlen(a), lb = strlen(b);
        int c;

        if (la != lb)
                return la < lb ? -1 : 1;
        c = strcmp(a, b);
        return c < 0 ? -1 : c > 0;
}

/*
 * Whether an id may go into a cursor field and a URL path as it is: 1..ID_MAX RFC 3986
 * unreserved characters. Mastodon's ids are digits, Pleroma's base62, GoToSocial's ULIDs.
 */
bool id_is_safe(const char *s) {
        size_t n = 0;

        if (!s)
                return false;
        for (; s[n]; n++)
                if (n >= ID_MAX || !char_is_unreserved(s[n]))
                        return false;
        return n > 0;
}

static void mastodon_destroy(void *state) {
        Mastodon *m = state;

        if (!m)
                return;
        for (size_t i = 0; i < m->n_instances; i++) {
                free(m->instances[i].base);
                free(m->instances[i].host);
        }
        free(m->instances);
        strv_free_n(m->tags, m->n_tags);
        for (size_t i = 0; i < m->n_accounts; i++) {
                free(m->accounts[i].acct);
                free(m->accounts[i].id);
        }
        free(m->accounts);
        for (size_t i = 0; i < m->n_feeds; i++) {
                free(m->feeds[i].name);
                free(m->feeds[i].acct);
                free(m->feeds[i].known);
        }
        free(m->feeds);
        strv_free_n(m->queries, m->n_queries);
        seen_free(m);
        if (m->authorization) {
                explicit_bzero(m->authorization, strlen(m->authorization));
                free(m->authorization);
        }
        free(m);
}

static inline void mastodon_destroyp(Mastodon **m) {
        mastodon_destroy(*m);
}

/*
 * "#Acme" -> "acme". ASCII must be letters, digits or '_' (what Mastodon accepts in a
 * hashtag); other scripts pass untouched and are percent-encoded in the URL.
 */
static int tag_parse(const char *s, char **ret, const char **ret_error) {
        while (*s == '#')
                s++;
        if (!*s) {
                *ret_error = "is empty";
                return -EINVAL;
        }
        for (const unsigned char *c = (const unsigned char *)s; *c; c++)
                if (*c < 0x80 && !((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                                   (*c >= '0' && *c <= '9') || *c == '_')) {
                        *ret_error = "is not a hashtag (ASCII letters, digits and '_' only)";
                        return -EINVAL;
                }

        char *t = strdup(s);
        if (!t)
                return -ENOMEM;
        *ret = ascii_lower(t);
        return 0;
}

/*
 * An entry of `accounts`: "acme", "@acme", "acme@other.example" or "@acme@other.example" is a
 * handle (lowercased: Mastodon matches them case-insensitively); digits alone are an account
 * id, so a user whose name is all digits is written "@1234".
 */
static int account_parse(const char *s, Account *ret, const char **ret_error) {
        bool at = *s == '@';

        if (at)
                s++;
        size_t n = strlen(s);
        if (n == 0) {
                *ret_error = "is empty";
                return -EINVAL;
        }
        if (!at && is_digits(s, n)) {
                if (n > ID_MAX) {
                        *ret_error = "is too long for an account id";
                        return -EINVAL;
                }
                ret->id = strdup(s);
                return ret->id ? 0 : -ENOMEM;
        }

        *ret_error = "is not an account: write 'name', 'name@domain', '@name' or an account id";
        size_t ul = strcspn(s, "@");
        if (n > HANDLE_MAX || ul == 0)
                return -EINVAL;
        for (size_t i = 0; i < ul; i++)
                if (!char_is_host(s[i]))
                        return -EINVAL;
        if (s[ul] == '@') {
                const char *d = s + ul + 1;
                size_t dl = strlen(d), hl = strcspn(d, ":");
                if (hl == 0 || d[0] == '.' || d[0] == '-')
                        return -EINVAL;
                for (size_t i = 0; i < hl; i++)
                        if (!char_is_host(d[i]))
                                return -EINVAL;
                if (hl < dl && !port_is_valid(d + hl + 1, dl - hl - 1))
                        return -EINVAL;
        }

        ret->acct = ascii_lower(strdup(s));
        return ret->acct ? 0 : -ENOMEM;
}

/* Adds the feed unless this instance already has one of that name. Takes `name` and `acct`. */
static int feed_add(Mastodon *m, size_t instance, FeedKind kind, size_t index, char *name,
                    char *acct) {
        if (!name) {
                free(acct);
                return -ENOMEM;
        }
        for (size_t i = 0; i < m->n_feeds; i++)
                if (strcmp(m->feeds[i].name, name) == 0) {
                        /* "acme" and "acme@mastodon.social" on mastodon.social: one account */
                        free(name);
                        free(acct);
                        return 0;
                }
        m->feeds[m->n_feeds++] = (Feed){
                .instance = instance, .kind = kind, .index = index, .name = name, .acct = acct};
        return 0;
}

static int account_feed_add(Mastodon *m, size_t instance, size_t index) {
        const Instance *inst = &m->instances[instance];
        const Account *a = &m->accounts[index];

        if (a->id)
                return feed_add(m, instance, FEED_ACCOUNT, index,
                                strjoin(inst->base, "/accounts/", a->id), NULL);

        /* "acme@mastodon.social" asked of mastodon.social is its own user "acme" */
        size_t ul = strcspn(a->acct, "@");
        char *acct = a->acct[ul] == '@' && strcmp(a->acct + ul + 1, inst->host) == 0
                             ? strndup(a->acct, ul)
                             : strdup(a->acct);
        if (!acct)
                return -ENOMEM;
        return feed_add(m, instance, FEED_ACCOUNT, index, strjoin(inst->base, "/@", acct), acct);
}

static int token_setup(Mastodon *m, const struct earshot_values *vals, char *err, size_t err_len) {
        const char *token = earshot_value_str(vals, "access_token");
        const char *owner = earshot_value_str(vals, "access_token_instance");
        size_t which = 0;

        if (!token || !*token) {
                if (owner && *owner)
                        return set_error(err, err_len,
                                         "access_token_instance: given, but there is no "
                                         "access_token");
                return 0;
        }
        for (const char *c = token; *c; c++)
                if ((unsigned char)*c < ' ' || *c == 0x7f)
                        return set_error(err, err_len, "access_token: contains control characters");

        if (owner && *owner) {
                _cleanup_free_ char *base = NULL;
                int r = option_base_url("access_token_instance", owner, &base, NULL, err, err_len);
                if (r < 0)
                        return r;
                for (which = 0; which < m->n_instances; which++)
                        if (strcmp(m->instances[which].base, base) == 0)
                                break;
                if (which == m->n_instances)
                        return set_error(err, err_len,
                                         "access_token_instance: '%s' is not one of the "
                                         "instances",
                                         owner);
        } else if (m->n_instances > 1)
                /* A token is issued by one instance; never hand it to the others. */
                return set_error(err, err_len,
                                 "access_token: a token belongs to one instance, but %zu "
                                 "instances are listed; name its instance with "
                                 "access_token_instance (no other gets it), or use one source "
                                 "per instance",
                                 m->n_instances);

        m->authorization = strjoin("Bearer ", token);
        if (!m->authorization)
                return -ENOMEM;
        m->instances[which].token = true;
        return 0;
}

static int mastodon_create(const struct earshot_host *host, const struct earshot_values *vals,
                           char *err, size_t err_len, void **ret_state) {
        _cleanup_(mastodon_destroyp) Mastodon *m = NULL;
        const struct earshot_value *instances, *tags, *accounts, *search;
        const char *error = NULL;
        int r;

        instances = list_value(vals, "instances");
        if (!instances)
                return set_error(err, err_len, "instances: at least one instance URL is needed");
        tags = list_value(vals, "tags");
        accounts = list_value(vals, "accounts");
        search = list_value(vals, "search");
        if (!tags && !accounts && !search)
                return set_error(err, err_len,
                                 "tags, accounts, search: give at least one hashtag, account or "
                                 "search query to follow");

        m = calloc(1, sizeof(*m));
        if (!m)
                return -ENOMEM;
        m->host = host;
        m->instances = calloc(instances->n_list, sizeof(Instance));
        m->tags = calloc(tags ? tags->n_list : 1, sizeof(char *));
        m->accounts = calloc(accounts ? accounts->n_list : 1, sizeof(Account));
        m->queries = calloc(search ? search->n_list : 1, sizeof(char *));
        if (!m->instances || !m->tags || !m->accounts || !m->queries)
                return -ENOMEM;

        for (size_t i = 0; i < instances->n_list && instances->list[i]; i++) {
                Instance inst = {0};
                bool dup = false;

                r = option_base_url("instances", instances->list[i], &inst.base, &inst.host, err,
                                    err_len);
                if (r < 0)
                        return r;
                /* the same instance twice would make two feeds with one name */
                for (size_t j = 0; j < m->n_instances && !dup; j++)
                        dup = strcmp(m->instances[j].base, inst.base) == 0;
                if (dup) {
                        free(inst.base);
                        free(inst.host);
                        continue;
                }
                m->instances[m->n_instances++] = inst;
        }

        for (size_t i = 0; tags && i < tags->n_list && tags->list[i]; i++) {
                char *t = NULL;
                bool dup = false;

                r = tag_parse(tags->list[i], &t, &error);
                if (r == -EINVAL)
                        return set_error(err, err_len, "tags: '%s' %s", tags->list[i], error);
                if (r < 0)
                        return r;
                for (size_t j = 0; j < m->n_tags && !dup; j++)
                        dup = strcmp(m->tags[j], t) == 0;
                if (dup) {
                        free(t);
                        continue;
                }
                m->tags[m->n_tags++] = t;
        }

        for (size_t i = 0; accounts && i < accounts->n_list && accounts->list[i]; i++) {
                Account a = {0};
                bool dup = false;

                r = account_parse(accounts->list[i], &a, &error);
                if (r == -EINVAL)
                        return set_error(err, err_len, "accounts: '%s' %s", accounts->list[i],
                                         error);
                if (r < 0)
                        return r;
                for (size_t j = 0; j < m->n_accounts && !dup; j++)
                        dup = a.acct ? m->accounts[j].acct &&
                                               strcmp(m->accounts[j].acct, a.acct) == 0
                                     : m->accounts[j].id && strcmp(m->accounts[j].id, a.id) == 0;
                if (dup) {
                        free(a.acct);
                        free(a.id);
                        continue;
                }
                m->accounts[m->n_accounts++] = a;
        }

        if (m->n_instances == 0)
                return set_error(err, err_len, "instances: the list is empty");
        for (size_t i = 0; search && i < search->n_list && search->list[i]; i++) {
                char *q = NULL;
                bool dup = false;

                r = query_trim(search->list[i], QUERY_MAX, &q, &error);
                if (r == -EINVAL)
                        return set_error(err, err_len, "search: '%s' %s", search->list[i],
                                         error);
                if (r < 0)
                        return r;
                for (size_t j = 0; j < m->n_queries && !dup; j++)
                        dup = strcmp(m->queries[j], q) == 0;
                if (dup) {
                        free(q);
                        continue;
                }
                m->queries[m->n_queries++] = q;
        }
        if (m->n_tags == 0 && m->n_accounts == 0 && m->n_queries == 0)
                return set_error(err, err_len, "tags, accounts, search: the lists are empty");

        r = option_int(vals, "limit", LIMIT_MAX, 1, LIMIT_MAX, &m->limit, err, err_len);
        if (r < 0)
                return r;
        r = option_int(vals, "max_pages", 10, 1, MAX_PAGES_MAX, &m->max_pages, err, err_len);
        if (r < 0)
                return r;
        m->local = earshot_value_num(vals, "local", 0) != 0;
        m->account_replies = earshot_value_num(vals, "account_replies", 1) != 0;
        m->check_instance = earshot_value_num(vals, "check_instance", 1) != 0;
        m->recheck_usec = earshot_value_num(vals, "recheck_after", INT64_C(86400000000));
        if (m->recheck_usec < 0)
                return set_error(err, err_len, "recheck_after: must not be negative");

        r = token_setup(m, vals, err, err_len);
        if (r < 0)
                return r;
        /* since Mastodon 4.2 the streaming API serves logged-in users only, and full-text
         * search was never open to anybody else */
        m->stream = earshot_value_num(vals, "stream", 0) != 0;
        if (m->stream && !m->authorization)
                return set_error(err, err_len,
                                 "stream: Mastodon (4.2 and later) serves its streaming API to "
                                 "logged-in users only: set access_token to a user's token "
                                 "(read scope), or drop `stream`");
        if (m->stream && m->n_tags == 0)
                return set_error(err, err_len, "stream: only hashtag feeds stream; `tags` is "
                                               "empty");
        if (m->n_queries > 0 && !m->authorization)
                return set_error(err, err_len,
                                 "search: full-text status search needs a user token: set "
                                 "access_token to a token of a user on the instance (read "
                                 "scope)");

        m->feeds = calloc(m->n_instances * (m->n_tags + m->n_accounts) + m->n_queries,
                          sizeof(Feed));
        if (!m->feeds)
                return -ENOMEM;
        for (size_t i = 0; i < m->n_instances; i++) {
                for (size_t t = 0; t < m->n_tags; t++) {
                        r = feed_add(m, i, FEED_TAG, t,
                                     strjoin(m->instances[i].base, "#", m->tags[t]), NULL);
                        if (r < 0)
                                return r;
                }
                for (size_t a = 0; a < m->n_accounts; a++) {
                        r = account_feed_add(m, i, a);
                        if (r < 0)
                                return r;
                }
                /* searches and streams need the token: on its own instance only */
                if (!m->instances[i].token)
                        continue;
                for (size_t q = 0; q < m->n_queries; q++) {
                        _cleanup_free_ char *enc = url_encode(m->queries[q]);
                        if (!enc)
                                return -ENOMEM;
                        r = feed_add(m, i, FEED_SEARCH, q,
                                     strjoin(m->instances[i].base, "/api/v2/search?q=", enc),
                                     NULL);
                        if (r < 0)
                                return r;
                }
        }
        for (size_t k = 0; k < m->n_feeds; k++)
                m->feeds[k].stream = m->stream && m->feeds[k].kind == FEED_TAG &&
                                     m->instances[m->feeds[k].instance].token;

        *ret_state = m;
        m = NULL;
        return 0;
}

static const char *mastodon_feed(void *state, uint32_t i) {
        Mastodon *m = state;
        return i < m->n_feeds ? m->feeds[i].name : NULL;
}

/* ---- cursors ---------------------------------------------------------------------------- */

void cursor_done(Cursor *c) {
        free(c->id);
        free(c->min);
        *c = (Cursor){.checked = -1};
}

static inline void cursor_donep(Cursor *c) {
        cursor_done(c);
}

static int cursor_set_id(char **field, const char *v, size_t n) {
        if (n == 0 || n > ID_MAX)
                return 0; /* malformed: ignored */
        for (size_t i = 0; i < n; i++)
                if (!char_is_unreserved(v[i]))
                        return 0;
        char *s = strndup(v, n);
        if (!s)
                return -ENOMEM;
        free(*field);
        *field = s;
        return 0;
}

/*
 * Reads a cursor written by cursor_format(), or by an older version of this plugin (the bare
 * newest id). Malformed fields are ignored. Returns 0 or -ENOMEM; *ret is always initialised.
 */
int cursor_parse(const char *s, Cursor *ret) {
        *ret = (Cursor){.checked = -1};
        if (!s || !*s)
                return 0;
        if (!strchr(s, '=')) {
                /* an opaque id from before the fields; kept whatever it holds, as then */
                if (strlen(s) > 4 * ID_MAX)
                        return 0;
                ret->min = strdup(s);
                return ret->min ? 0 : -ENOMEM;
        }
        for (const char *p = s; *p;) {
                size_t n = strcspn(p, ";");
                const char *eq = memchr(p, '=', n);
                int r = 0;

                if (eq) {
                        size_t kl = (size_t)(eq - p), vl = n - kl - 1;
                        if (kl == 2 && strncmp(p, "id", 2) == 0)
                                r = cursor_set_id(&ret->id, eq + 1, vl);
                        else if (kl == 3 && strncmp(p, "min", 3) == 0)
                                r = cursor_set_id(&ret->min, eq + 1, vl);
                        else if (kl == 7 && strncmp(p, "checked", 7) == 0 && vl <= 18 &&
                                 is_digits(eq + 1, vl)) {
                                int64_t v = 0;
                                for (size_t i = 0; i < vl; i++)
                                        v = v * 10 + (eq[1 + i] - '0');
                                ret->checked = v;
                        }
                        /* anything else: a field of a later version, ignored */
                }
                if (r < 0) {
                        cursor_done(ret);
                        return r;
                }
                p += n;
                if (*p == ';')
                        p++;
        }
        return 0;
}

/* The cursor as a string ("" when empty); NULL on OOM. */
char *cursor_format(const Cursor *c) {
        bool min_ok = id_is_safe(c->min), id_ok = id_is_safe(c->id);

        if (c->min && !id_ok && c->checked < 0)
                return strdup(c->min); /* the form every version reads */

        char checked[32] = "";
        if (c->checked >= 0)
                (void)snprintf(checked, sizeof(checked), "checked=%" PRId64, c->checked);
        return strjoin(id_ok ? "id=" : "", id_ok ? c->id : "",
                       id_ok && (min_ok || *checked) ? ";" : "", min_ok ? "min=" : "",
                       min_ok ? c->min : "", min_ok && *checked ? ";" : "", checked);
}

/* Hands the cursor to the core unless it is what the feed already has. */
static int cursor_commit(Mastodon *m, const Cursor *c, const char *old, struct earshot_sink *sink) {
        _cleanup_free_ char *s = cursor_format(c);

        if (!s)
                return -ENOMEM;
        if (strcmp(s, old ? old : "") == 0)
                return 0;
        return m->host->set_cursor(sink, s);
}

/* ---- page tokens and plans ------------------------------------------------------------------ */

#define PAGE_PROBE "probe"       /* the instance check, at the start or the end of a poll */
#define PAGE_TIMELINE "timeline" /* the first timeline request, after the check or the lookup */

/*
 * Paging tokens are "N:ID": this is page N of the poll and it starts after timeline id ID (the
 * newest id of page N-1). Returns 0, or -EINVAL for a token this plugin did not write.
 */
static int page_parse(const char *page, unsigned *ret_n, const char **ret_id) {
        unsigned long n = 0;
        const char *p = page;

        while (*p >= '0' && *p <= '9' && n <= MAX_PAGES_MAX)
                n = n * 10 + (unsigned long)(*p++ - '0');
        if (p == page || *p != ':' || !p[1] || n < 2 || n > MAX_PAGES_MAX)
                return -EINVAL;
        *ret_n = (unsigned)n;
        *ret_id = p + 1;
        return 0;
}

/*
 * What a request for (feed, cursor, page) is. The same answer for build_request() and
 * parse_response(): it depends on nothing else (not on the clock). Returns 0 or -EINVAL for a
 * page token this plugin did not write.
 */
int plan_request(const Mastodon *m, const Feed *f, const Cursor *c, const char *page, Plan *ret) {
        const char *page_id = NULL;
        unsigned page_n = 1;
        bool probe = false, timeline = false;

        if (!page)
                probe = f->kind == FEED_TAG && m->check_instance && !c->min && c->checked < 0;
        else if (strcmp(page, PAGE_PROBE) == 0) {
                if (f->kind != FEED_TAG)
                        return -EINVAL;
                probe = true;
        } else if (strcmp(page, PAGE_TIMELINE) == 0)
                timeline = true;
        else if (page_parse(page, &page_n, &page_id) < 0)
                return -EINVAL;

        *ret = (Plan){.start_of_poll = !page, .page_n = page_n};
        if (probe) {
                ret->step = STEP_PROBE;
                return 0;
        }
        if (f->kind == FEED_ACCOUNT) {
                const Account *a = &m->accounts[f->index];
                ret->account_id = a->id ? a->id : c->id;
                if (!ret->account_id) {
                        /* never a timeline without an id: resolve the handle first */
                        ret->step = STEP_LOOKUP;
                        return 0;
                }
        }
        ret->step = STEP_TIMELINE;
        ret->page_id = page_id;
        ret->min = page_id ? page_id : c->min;
        ret->first = !c->min && (!page || timeline);
        return 0;
}

/*
 * Feed i, its cursor (into *c, which the caller frees with cursor_done()) and the plan for
 * (cursor, page): what every callback starts with. -EINVAL for a feed or a page token this
 * plugin does not have, -ENOMEM.
 */
static int feed_plan(const Mastodon *m, uint32_t i, const char *cursor, const char *page,
                     const Feed **ret_feed, Cursor *c, Plan *ret_plan) {
        int r;

        if (i >= m->n_feeds)
                return -EINVAL;
        r = cursor_parse(cursor, c);
        if (r < 0)
                return r;
        *ret_feed = &m->feeds[i];
        return plan_request(m, *ret_feed, c, page, ret_plan);
}

/* the search and stream parts, at the end of the file */
static int set_known(Feed *f, const char *cursor);
static int search_build(Mastodon *m, const Feed *f, const Cursor *c, const char *page,
                        struct earshot_request *req);
static int search_parse(Mastodon *m, const Feed *f, const Cursor *c, const char *cursor,
                        const char *page, const struct earshot_response *resp,
                        struct earshot_sink *sink);
static int search_error(Mastodon *m, const Feed *f, const struct earshot_response *resp,
                        struct earshot_sink *sink);
static int stream_error(Mastodon *m, const Feed *f, const struct earshot_response *resp,
                        struct earshot_sink *sink);

/* ---- requests ------------------------------------------------------------------------------- */

static int timeline_url(const Mastodon *m, const Feed *f, const Plan *plan, char **ret) {
        const char *base = m->instances[f->instance].base;
        char num[32];

        (void)snprintf(num, sizeof(num), "%" PRId64, m->limit);
        _cleanup_free_ char *min = plan->min ? url_encode(plan->min) : NULL;
        if (plan->min && !min)
                return -ENOMEM;

        if (f->kind == FEED_TAG) {
                _cleanup_free_ char *tag = url_encode(m->tags[f->index]);
                if (!tag)
                        return -ENOMEM;
                *ret = strjoin(base, "/api/v1/timelines/tag/", tag, "?limit=", num,
                               m->local ? "&local=true" : "", min ? "&min_id=" : "",
                               min ? min : "");
        } else {
                _cleanup_free_ char *id = url_encode(plan->account_id);
                if (!id)
                        return -ENOMEM;
                /* boosts are part of what an account says: ask for them explicitly */
                *ret = strjoin(base, "/api/v1/accounts/", id, "/statuses?limit=", num,
                               "&exclude_reblogs=false",
                               m->account_replies ? "" : "&exclude_replies=true",
                               min ? "&min_id=" : "", min ? min : "");
        }
        return *ret ? 0 : -ENOMEM;
}

static int mastodon_build_request(void *state, uint32_t i, const char *cursor, const char *page,
                                  struct earshot_request *req) {
        Mastodon *m = state;
        const struct earshot_host *h = m->host;
        _cleanup_(cursor_donep) Cursor c = {.checked = -1};
        _cleanup_free_ char *url = NULL;
        const Feed *f;
        Plan plan;
        int r;

        if (i < m->n_feeds && !page) {
                r = set_known(&m->feeds[i], cursor);
                if (r < 0)
                        return r;
        }
        if (i < m->n_feeds && m->feeds[i].kind == FEED_SEARCH) {
                r = cursor_parse(cursor, &c);
                return r < 0 ? r : search_build(m, &m->feeds[i], &c, page, req);
        }
        r = feed_plan(m, i, cursor, page, &f, &c, &plan);
        if (r < 0)
                return r;
        const Instance *inst = &m->instances[f->instance];

        switch (plan.step) {
        case STEP_PROBE:
                url = strjoin(inst->base, "/api/v2/instance");
                break;
        case STEP_LOOKUP: {
                _cleanup_free_ char *acct = url_encode(f->acct);
                if (!acct)
                        return -ENOMEM;
                url = strjoin(inst->base, "/api/v1/accounts/lookup?acct=", acct);
                break;
        }
        case STEP_TIMELINE:
                r = timeline_url(m, f, &plan, &url);
                if (r < 0)
                        return r;
                break;
        }
        if (!url)
                return -ENOMEM;

        r = request_get(h, req, url, "application/json");
        if (r < 0)
                return r;
        /* the token only to its own instance, and only where it can matter */
        if (m->authorization && inst->token && plan.step != STEP_PROBE) {
                r = h->request_header(req, "Authorization", m->authorization);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* ---- responses ------------------------------------------------------------------------------ */

static int64_t now_sec(const Mastodon *m) {
        return m->host->now_usec(m->host) / 1000000;
}

/* Whether a hashtag feed should check the instance again at the end of this poll. */
static bool recheck_due(const Mastodon *m, const Feed *f, const Cursor *c) {
        if (f->kind != FEED_TAG || !m->check_instance || m->recheck_usec <= 0)
                return false;
        if (c->checked < 0)
                return true; /* a feed from before the check, or from when it was off */
        int64_t now = now_sec(m);
        return now < c->checked || now - c->checked >= m->recheck_usec / 1000000;
}

/* The instance check passed: keep when, and go on to the timeline unless this was a re-check. */
static int probe_passed(Mastodon *m, const Cursor *c, const char *cursor, const Plan *plan,
                        struct earshot_sink *sink) {
        Cursor next = *c;
        int r;

        next.checked = now_sec(m);
        r = cursor_commit(m, &next, cursor, sink);
        if (r < 0)
                return r;
        if (!plan->start_of_poll)
                return 0; /* a re-check at the end of a poll: the poll is done */
        r = m->host->next_page(sink, PAGE_TIMELINE);
        return r < 0 ? r : EARSHOT_MORE;
}

static int parse_step_probe(Mastodon *m, const Feed *f, const Cursor *c, const char *cursor,
                            const Plan *plan, const struct earshot_response *resp,
                            struct earshot_sink *sink) {
        int r = parse_probe(m, f, resp, sink);
        if (r != 0)
                return r; /* EARSHOT_BLOCKED: the feed cannot work there, said why */
        return probe_passed(m, c, cursor, plan, sink);
}

static int parse_step_lookup(Mastodon *m, const Feed *f, const Cursor *c, const char *cursor,
                             const struct earshot_response *resp, struct earshot_sink *sink) {
        _cleanup_free_ char *id = NULL;
        int r = parse_lookup(m, f, resp, &id);
        if (r < 0)
                return r;

        Cursor next = *c;
        next.id = id;
        r = cursor_commit(m, &next, cursor, sink);
        if (r < 0)
                return r;
        r = m->host->next_page(sink, PAGE_TIMELINE);
        return r < 0 ? r : EARSHOT_MORE;
}

static int parse_step_timeline(Mastodon *m, const Feed *f, const Cursor *c, const char *cursor,
                               const Plan *plan, const struct earshot_response *resp,
                               struct earshot_sink *sink) {
        const struct earshot_host *h = m->host;
        _cleanup_free_ char *newest = NULL;
        size_t n = 0;
        int r;

        r = parse_timeline(m, f, resp, sink, &n, &newest);
        if (r < 0)
                return r;

        /* The cursor only moves forward: max(old cursor, page start, ids on this page). */
        const char *start = c->min;
        if (plan->page_id && (!start || id_compare(plan->page_id, start) > 0))
                start = plan->page_id;
        Cursor next = *c;
        next.min = (char *)start;
        if (newest && (!start || id_compare(newest, start) > 0))
                next.min = newest;
        r = cursor_commit(m, &next, cursor, sink);
        if (r < 0)
                return r;

        /* The first page of a feed is only the newest page: no history digging. */
        if (!plan->first && n >= (size_t)m->limit && newest &&
            /* a server that ignores min_id sends the same page again: no progress, no paging */
            !(start && id_compare(newest, start) <= 0)) {
                if (plan->page_n < m->max_pages) {
                        char num[16];
                        (void)snprintf(num, sizeof(num), "%u:", plan->page_n + 1);
                        _cleanup_free_ char *token = strjoin(num, newest);
                        if (!token)
                                return -ENOMEM;
                        r = h->next_page(sink, token);
                        return r < 0 ? r : EARSHOT_MORE;
                }
                h->log(h, EARSHOT_LOG_INFO,
                       "%s: stopped after %u page%s; the rest follows on the next poll", f->name,
                       plan->page_n, plan->page_n == 1 ? "" : "s");
        }

        if (!recheck_due(m, f, c))
                return 0;
        r = h->next_page(sink, PAGE_PROBE);
        return r < 0 ? r : EARSHOT_MORE;
}

static int mastodon_parse_response(void *state, uint32_t i, const char *cursor, const char *page,
                                   const struct earshot_response *resp, struct earshot_sink *sink) {
        Mastodon *m = state;
        _cleanup_(cursor_donep) Cursor c = {.checked = -1};
        const Feed *f;
        Plan plan;
        int r;

        if (i < m->n_feeds && m->feeds[i].kind == FEED_SEARCH) {
                r = cursor_parse(cursor, &c);
                return r < 0 ? r : search_parse(m, &m->feeds[i], &c, cursor, page, resp, sink);
        }
        r = feed_plan(m, i, cursor, page, &f, &c, &plan);
        if (r < 0)
                return r;

        switch (plan.step) {
        case STEP_PROBE:
                return parse_step_probe(m, f, &c, cursor, &plan, resp, sink);
        case STEP_LOOKUP:
                return parse_step_lookup(m, f, &c, cursor, resp, sink);
        case STEP_TIMELINE:
                return parse_step_timeline(m, f, &c, cursor, &plan, resp, sink);
        }
        return -EINVAL;
}

/* ---- error answers -------------------------------------------------------------------------- */

/*
 * The "error" of a Mastodon error body ({"error": "Record not found"}), one line and without
 * the access token (should a server quote it), into buf; NULL when the body is not one.
 */
static const char *error_of(const Mastodon *m, const struct earshot_response *resp, char *buf,
                            size_t len) {
        _cleanup_(cJSON_Deletep) cJSON *root = NULL;
        const char *why = NULL, *e;

        if (json_load(resp, &root, &why) < 0 || !(e = json_str(root, "error")))
                return NULL;
        return text_oneline(buf, len, e,
                            m->authorization ? m->authorization + strlen("Bearer ") : NULL);
}

/* 401 or 403 on a timeline or the lookup: a login the instance wants, or a token it refused. */
static int auth_refused(Mastodon *m, const Feed *f, const Plan *plan,
                        const struct earshot_response *resp, struct earshot_sink *sink) {
        const struct earshot_host *h = m->host;
        const Instance *inst = &m->instances[f->instance];
        char buf[121], said[140] = "";
        const char *error = error_of(m, resp, buf, sizeof(buf));

        if (error)
                (void)snprintf(said, sizeof(said), " (\"%s\")", error);
        if (m->authorization && inst->token) {
                if (resp->status == 401)
                        return source_fail(h, sink, f->name, EARSHOT_BLOCKED,
                                           "%s refused the access token%s (revoked or expired?): "
                                           "set a valid `access_token`",
                                           inst->host, said);
                return source_fail(h, sink, f->name, EARSHOT_BLOCKED,
                                   "%s answered 403%s: the access token lacks the read scope %s "
                                   "needs; set `access_token` to a token with the read scope",
                                   inst->host, said,
                                   plan->step == STEP_LOOKUP ? "the lookup" : "this timeline");
        }
        const char *other = m->authorization ? "; the configured token belongs to another "
                                               "instance and is not sent here"
                                             : "";
        if (plan->step == STEP_LOOKUP)
                return source_fail(h, sink, f->name, EARSHOT_BLOCKED,
                                   "%s requires a login to look up @%s%s: set `access_token` to a "
                                   "token of a user on %s (read scope), or give the account's "
                                   "numeric id in `accounts`%s",
                                   inst->host, f->acct, said, inst->host, other);
        return source_fail(h, sink, f->name, EARSHOT_BLOCKED,
                           "%s requires a login for this timeline%s: set `access_token` to a "
                           "token of a user on %s (read scope)%s",
                           inst->host, said, inst->host, other);
}

/*
 * parse_error(): what a non-2xx answer means for this feed (see the top of the file). Returns
 * what parse_response() would for an answer that is one (the instance check, an unused
 * hashtag), EARSHOT_BLOCKED after set_error(), or -EOPNOTSUPP for the core to handle.
 */
static int mastodon_parse_error(void *state, uint32_t i, const char *cursor, const char *page,
                                const struct earshot_response *resp, struct earshot_sink *sink) {
        Mastodon *m = state;
        const struct earshot_host *h = m->host;
        _cleanup_(cursor_donep) Cursor c = {.checked = -1};
        const Feed *f;
        char buf[121];
        Plan plan;
        int r;

        if (i < m->n_feeds && page && strcmp(page, EARSHOT_STREAM_PAGE) == 0)
                return stream_error(m, &m->feeds[i], resp, sink);
        if (i < m->n_feeds && m->feeds[i].kind == FEED_SEARCH)
                return search_error(m, &m->feeds[i], resp, sink);
        r = feed_plan(m, i, cursor, page, &f, &c, &plan);
        if (r < 0)
                return r;
        const Instance *inst = &m->instances[f->instance];
        bool gone = resp->status == 404 || resp->status == 410;
        bool auth = resp->status == 401 || resp->status == 403;

        switch (plan.step) {
        case STEP_PROBE:
                if (!gone)
                        break;
                /* no /api/v2/instance: Mastodon before 4.0, or another server; nothing to say
                 * about access there, so the timeline will tell */
                h->log(h, EARSHOT_LOG_INFO,
                       "%s: %s has no /api/v2/instance (HTTP %d: before Mastodon 4.0, or other "
                       "software); taking its hashtag timelines as open",
                       f->name, inst->host, (int)resp->status);
                return probe_passed(m, &c, cursor, &plan, sink);
        case STEP_LOOKUP:
                if (auth)
                        return auth_refused(m, f, &plan, resp, sink);
                if (gone)
                        return source_fail(h, sink, f->name, EARSHOT_BLOCKED,
                                           "no account @%s on %s: check `accounts` (servers "
                                           "before Mastodon 3.4 cannot look up a handle: give "
                                           "the account's numeric id)",
                                           f->acct, inst->host);
                break;
        case STEP_TIMELINE:
                if (auth)
                        return auth_refused(m, f, &plan, resp, sink);
                if (f->kind == FEED_ACCOUNT && gone)
                        return source_fail(h, sink, f->name, EARSHOT_BLOCKED,
                                           "account %s%s is gone from %s (HTTP %d: deleted or "
                                           "suspended?): check `accounts`",
                                           f->acct ? "@" : "", f->acct ? f->acct : plan.account_id,
                                           inst->host, (int)resp->status);
                if (f->kind == FEED_TAG && resp->status == 404 &&
                    error_of(m, resp, buf, sizeof(buf))) {
                        /* {"error":"Record not found"}: nobody has used the hashtag there yet,
                         * which is an empty timeline, not a failure */
                        h->log(h, EARSHOT_LOG_DEBUG,
                               "%s: #%s is unknown to %s (\"%s\"): an empty timeline", f->name,
                               m->tags[f->index], inst->host, buf);
                        struct earshot_response empty = *resp;
                        empty.status = 200;
                        empty.body = "[]";
                        empty.body_len = 2;
                        return parse_step_timeline(m, f, &c, cursor, &plan, &empty, sink);
                }
                break;
        }
        return SOURCE_ERROR_GENERIC;
}

/* ---- full-text search (`search`) ----------------------------------------------------------- */

/*
 * A search feed asks GET {instance}/api/v2/search?q=Q&type=statuses&resolve=false&limit=N
 * &min_id=MIN with the user's token, and Mastodon answers with the newest N matching statuses
 * after MIN, newest first. A full page may hide more between MIN and its oldest status: the
 * poll walks back with max_id=OLDEST (page token "N:OLDEST:NEWEST", NEWEST the cursor to set
 * when the walk ends), up to max_pages, and reports a gap if it has to stop. A feed's first
 * page is the newest only. The cursor is the newest status id seen.
 */

static int search_page_parse(const char *page, unsigned *ret_n, char **ret_max,
                             char **ret_newest) {
        unsigned long n = 0;
        const char *p = page;

        while (*p >= '0' && *p <= '9' && n <= MAX_PAGES_MAX)
                n = n * 10 + (unsigned long)(*p++ - '0');
        if (p == page || *p != ':' || n < 2 || n > MAX_PAGES_MAX)
                return -EINVAL;
        const char *max = p + 1, *colon = strchr(max, ':');
        if (!colon)
                return -EINVAL;
        *ret_max = strndup(max, (size_t)(colon - max));
        *ret_newest = strdup(colon + 1);
        if (!*ret_max || !*ret_newest) {
                free(*ret_max);
                free(*ret_newest);
                return -ENOMEM;
        }
        if (!id_is_safe(*ret_max) || (**ret_newest && !id_is_safe(*ret_newest))) {
                free(*ret_max);
                free(*ret_newest);
                return -EINVAL;
        }
        *ret_n = (unsigned)n;
        return 0;
}

static int search_build(Mastodon *m, const Feed *f, const Cursor *c, const char *page,
                        struct earshot_request *req) {
        const struct earshot_host *h = m->host;
        _cleanup_free_ char *q = url_encode(m->queries[f->index]), *max = NULL, *newest = NULL;
        _cleanup_free_ char *url = NULL;
        unsigned page_n = 1;
        char num[32];
        int r;

        if (!q)
                return -ENOMEM;
        if (page) {
                r = search_page_parse(page, &page_n, &max, &newest);
                if (r < 0)
                        return r;
        }
        (void)snprintf(num, sizeof(num), "%" PRId64, m->limit);
        url = strjoin(m->instances[f->instance].base, "/api/v2/search?q=", q,
                      "&type=statuses&resolve=false&limit=", num,
                      c->min && id_is_safe(c->min) ? "&min_id=" : "",
                      c->min && id_is_safe(c->min) ? c->min : "", max ? "&max_id=" : "",
                      max ? max : "");
        if (!url)
                return -ENOMEM;
        r = request_get(h, req, url, "application/json");
        if (r < 0)
                return r;
        return h->request_header(req, "Authorization", m->authorization);
}

static int search_parse(Mastodon *m, const Feed *f, const Cursor *c, const char *cursor,
                        const char *page, const struct earshot_response *resp,
                        struct earshot_sink *sink) {
        const struct earshot_host *h = m->host;
        _cleanup_free_ char *newest = NULL, *oldest = NULL, *max = NULL, *carry = NULL;
        unsigned page_n = 1;
        size_t n = 0;
        int r;

        if (page) {
                r = search_page_parse(page, &page_n, &max, &carry);
                if (r < 0)
                        return r;
        }
        r = parse_search(m, f, resp, sink, &n, &newest, &oldest);
        if (r < 0)
                return r;
        /* the cursor to set when the walk ends: the newest id of its first page */
        const char *target = page ? carry : newest;
        if (!c->min && n == 0 && !page)
                h->log(h, EARSHOT_LOG_NOTICE,
                       "%s: no statuses match yet; if this stays empty for words you know are "
                       "posted there, %s may not offer full-text search (it needs "
                       "Elasticsearch or OpenSearch on the server)",
                       f->name, m->instances[f->instance].host);
        if (c->min && n >= (size_t)m->limit && oldest && id_compare(oldest, c->min) > 0 &&
            (!max || id_compare(oldest, max) < 0)) {
                if (page_n < m->max_pages) {
                        char num[16];
                        (void)snprintf(num, sizeof(num), "%u:", page_n + 1);
                        _cleanup_free_ char *token =
                                strjoin(num, oldest, ":", target ? target : "");
                        if (!token)
                                return -ENOMEM;
                        r = h->next_page(sink, token);
                        return r < 0 ? r : EARSHOT_MORE;
                }
                if (EARSHOT_HOST_HAS(h, report_gap)) {
                        r = h->report_gap(sink, 0, 0, "search page cap (max_pages)");
                        if (r < 0)
                                return r;
                }
        }
        if (!target || !*target || (c->min && id_compare(target, c->min) <= 0))
                return 0;
        Cursor next = *c;
        next.min = (char *)target;
        return cursor_commit(m, &next, cursor, sink);
}

static int search_error(Mastodon *m, const Feed *f, const struct earshot_response *resp,
                        struct earshot_sink *sink) {
        const struct earshot_host *h = m->host;
        const Instance *inst = &m->instances[f->instance];
        char buf[121], said[140] = "";

        if (resp->status != 401 && resp->status != 403 && resp->status != 422)
                return SOURCE_ERROR_GENERIC;
        if (error_of(m, resp, buf, sizeof(buf)))
                (void)snprintf(said, sizeof(said), " (\"%s\")", buf);
        return source_fail(h, sink, f->name, EARSHOT_BLOCKED,
                           "%s answered %d%s to a full-text search: full-text search needs a "
                           "user token and a server with search enabled; check `access_token` "
                           "(a token of a user on %s with the read scope) and that %s offers "
                           "full-text search, or drop `search`",
                           inst->host, (int)resp->status, said, inst->host, inst->host);
}

/* ---- streams (`stream`) ---------------------------------------------------------------------- */

/*
 * A hashtag feed with `stream` also listens to GET {instance}/api/v1/streaming/hashtag?tag=TAG
 * (/hashtag/local with `local`), with the token: server-sent events. `update` is a new status,
 * emitted as the timeline would emit it, and moves the cursor when its id is newer;
 * `status.update` an edited one (edited_at set); `delete` names a status by its id on the
 * instance: reported as deleted (post_deleted) when it is one of the last SEEN_MAX statuses
 * this source emitted. Other events are not about the feed's statuses.
 */

static int set_known(Feed *f, const char *cursor) {
        char *k = cursor ? strdup(cursor) : NULL;
        if (cursor && !k)
                return -ENOMEM;
        free(f->known);
        f->known = k;
        return 0;
}

static int mastodon_stream_request(void *state, uint32_t i, const char *cursor,
                                   struct earshot_request *req) {
        Mastodon *m = state;
        const struct earshot_host *h = m->host;

        if (i >= m->n_feeds)
                return -EINVAL;
        Feed *f = &m->feeds[i];
        if (!f->stream)
                return -EOPNOTSUPP;
        int r = set_known(f, cursor);
        if (r < 0)
                return r;
        _cleanup_free_ char *tag = url_encode(m->tags[f->index]);
        if (!tag)
                return -ENOMEM;
        _cleanup_free_ char *url = strjoin(m->instances[f->instance].base,
                                           "/api/v1/streaming/hashtag", m->local ? "/local" : "",
                                           "?tag=", tag);
        if (!url)
                return -ENOMEM;
        r = request_get(h, req, url, "text/event-stream");
        if (r < 0)
                return r;
        return h->request_header(req, "Authorization", m->authorization);
}

static int mastodon_parse_event(void *state, uint32_t i, const char *event, const char *data,
                                size_t len, struct earshot_sink *sink) {
        Mastodon *m = state;
        const struct earshot_host *h = m->host;
        int r;

        if (i >= m->n_feeds)
                return -EINVAL;
        Feed *f = &m->feeds[i];
        if (!event)
                return 0;

        if (strcmp(event, "update") == 0 || strcmp(event, "status.update") == 0) {
                _cleanup_free_ char *id = NULL;
                _cleanup_(cursor_donep) Cursor c = {.checked = -1};

                r = parse_status_event(m, f, data, len, strcmp(event, "status.update") == 0,
                                       sink, &id);
                if (r < 0)
                        return r;
                /* an edit is an old status: only a new one moves the cursor */
                if (strcmp(event, "update") != 0 || !id)
                        return 0;
                r = cursor_parse(f->known, &c);
                if (r < 0)
                        return r;
                if (c.min && id_compare(id, c.min) <= 0)
                        return 0;
                Cursor next = c;
                next.min = id;
                _cleanup_free_ char *s = cursor_format(&next);
                if (!s)
                        return -ENOMEM;
                r = h->set_cursor(sink, s);
                if (r < 0)
                        return r;
                return set_known(f, s);
        }
        if (strcmp(event, "delete") == 0) {
                char id[ID_MAX + 1];
                size_t n = len;
                while (n > 0 && char_is_blank(data[n - 1]))
                        n--;
                if (n == 0 || n > ID_MAX)
                        return -EBADMSG;
                memcpy(id, data, n);
                id[n] = 0;
                if (!id_is_safe(id))
                        return -EBADMSG;
                const char *post_id = seen_lookup(m, f->instance, id);
                if (!post_id || !EARSHOT_HOST_HAS(h, post_deleted))
                        return 0; /* not one of ours, or a core that cannot take it */
                h->log(h, EARSHOT_LOG_DEBUG, "%s: status %s was deleted", f->name, id);
                return h->post_deleted(sink, "mastodon", post_id);
        }
        return 0; /* notification, conversation, announcement...: not the feed's statuses */
}

/* A refused stream connect (parse_error() with EARSHOT_STREAM_PAGE). */
static int stream_error(Mastodon *m, const Feed *f, const struct earshot_response *resp,
                        struct earshot_sink *sink) {
        const struct earshot_host *h = m->host;
        const Instance *inst = &m->instances[f->instance];
        char buf[121], said[140] = "";

        if (error_of(m, resp, buf, sizeof(buf)))
                (void)snprintf(said, sizeof(said), " (\"%s\")", buf);
        switch (resp->status) {
        case 401:
                return source_fail(h, sink, f->name, EARSHOT_BLOCKED,
                                   "%s refused the access token for its streaming API%s "
                                   "(revoked or expired?): set a valid `access_token`, or drop "
                                   "`stream`",
                                   inst->host, said);
        case 403:
                return source_fail(h, sink, f->name, EARSHOT_BLOCKED,
                                   "%s answered 403 to the stream%s: the access token lacks the "
                                   "read scope; set `access_token` to a token with it, or drop "
                                   "`stream`",
                                   inst->host, said);
        case 404:
        case 410:
                return source_fail(h, sink, f->name, EARSHOT_BLOCKED,
                                   "%s has no streaming API at /api/v1/streaming (HTTP %d)%s: "
                                   "drop `stream` (the feed is polled all the same)",
                                   inst->host, (int)resp->status, said);
        default:
                return SOURCE_ERROR_GENERIC;
        }
}

static const struct earshot_option mastodon_options[] = {
        {"instances", EARSHOT_OPT_STRLIST, EARSHOT_OPT_REQUIRED, NULL,
         "base URLs of Mastodon instances (https://, or http:// on loopback)"},
        {"tags", EARSHOT_OPT_STRLIST, 0, NULL,
         "hashtags to follow on every instance, with or without '#' (tags and/or accounts)"},
        {"accounts", EARSHOT_OPT_STRLIST, 0, NULL,
         "accounts whose statuses to follow on every instance: 'name' (a user of that "
         "instance), 'name@domain', '@name', or a numeric account id; a handle is looked up "
         "once and its id kept"},
        {"limit", EARSHOT_OPT_INT, 0, "40", "statuses per request, 1..40"},
        {"max_pages", EARSHOT_OPT_INT, 0, "10", "timeline requests per feed and poll at most"},
        {"local", EARSHOT_OPT_BOOL, 0, "false",
         "hashtag feeds: only statuses from the instance's own users"},
        {"account_replies", EARSHOT_OPT_BOOL, 0, "true",
         "account feeds: include the account's replies to others (where complaints and the "
         "brand's answers to them are); false asks for exclude_replies"},
        {"access_token", EARSHOT_OPT_STRING, EARSHOT_OPT_SECRET, NULL,
         "a user's OAuth token (read scope) for an instance that needs one; sent to that "
         "instance only"},
        {"access_token_instance", EARSHOT_OPT_URL, 0, NULL,
         "which of the instances the access_token belongs to; needed when several are listed "
         "(the others are asked anonymously)"},
        {"check_instance", EARSHOT_OPT_BOOL, 0, "true",
         "ask /api/v2/instance before a hashtag feed's first request whether its timeline is "
         "open to this client, and say clearly when not (a server without that endpoint, "
         "before Mastodon 4.0 or other software, is taken as open); false skips the check"},
        {"recheck_after", EARSHOT_OPT_DURATION, 0, "1d",
         "repeat that check this long after it last passed, at the end of a poll; 0 = never"},
        {"stream", EARSHOT_OPT_BOOL, 0, "false",
         "hashtag feeds also listen to the streaming API (server-sent events) for posts within "
         "seconds and deletions; needs access_token (Mastodon 4.2+); still polled as a safety "
         "net"},
        {"search", EARSHOT_OPT_STRLIST, 0, NULL,
         "full-text status searches, one feed each, on the access_token's instance; needs a "
         "user token and a server with full-text search"},
        {.name = NULL},
};

static const struct earshot_source_ops mastodon_ops = {
        .size = sizeof(struct earshot_source_ops),
        .create = mastodon_create,
        .destroy = mastodon_destroy,
        .feed = mastodon_feed,
        .build_request = mastodon_build_request,
        .parse_response = mastodon_parse_response,
        .parse_error = mastodon_parse_error,
        .stream_request = mastodon_stream_request,
        .parse_event = mastodon_parse_event,
};

EARSHOT_PLUGIN_DEFINE(.kind = EARSHOT_PLUGIN_SOURCE, .name = "mastodon",
                      .description = "hashtag and account timelines, streams and full-text "
                                     "searches of Mastodon instances",
                      .options = mastodon_options, .source = &mastodon_ops);
