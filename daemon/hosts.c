/* SPDX-License-Identifier: MIT */
/*
 * hosts.c - per-host request budgets (see hosts.h). Pure bookkeeping: the manager asks
 * host_wait() before it starts a request and re-arms the feed's timer when the answer is not
 * zero; nothing here touches the loop or the clock itself, so the decisions are testable.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hosts.h"
#include "util/cleanup.h"

char *host_key(const char *url) {
        const char *scheme_end = strstr(url, "://");
        if (!scheme_end)
                return strdup(url);
        const char *host = scheme_end + 3;
        /* user info is not part of the host */
        const char *at = strpbrk(host, "@/?#");
        if (at && *at == '@')
                host = at + 1;
        size_t len = strcspn(host, "/?#");
        const char *colon = memchr(host, ':', len);
        const char *bracket = memchr(host, ']', len); /* IPv6 literal */
        if (colon && bracket && colon < bracket)
                colon = memchr(bracket, ':', len - (size_t)(bracket - host));
        char *key;
        size_t sl = (size_t)(scheme_end - url);
        int r;
        if (colon)
                r = asprintf(&key, "%.*s://%.*s", (int)sl, url, (int)len, host);
        else
                r = asprintf(&key, "%.*s://%.*s:%s", (int)sl, url, (int)len, host,
                             sl == 5 && strncasecmp(url, "https", 5) == 0 ? "443" : "80");
        if (r < 0)
                return NULL;
        for (char *c = key; *c; c++)
                if (*c >= 'A' && *c <= 'Z')
                        *c = (char)(*c - 'A' + 'a');
        return key;
}

HostState *host_table_get(HostTable *t, const char *url) {
        _cleanup_free_ char *key = host_key(url);
        if (!key)
                return NULL;
        for (size_t i = 0; i < t->n; i++)
                if (strcmp(t->hosts[i]->key, key) == 0)
                        return t->hosts[i];
        if (t->n == t->cap) {
                size_t cap = t->cap ? t->cap * 2 : 16;
                HostState **nh = realloc(t->hosts, cap * sizeof(HostState *));
                if (!nh)
                        return NULL;
                t->hosts = nh;
                t->cap = cap;
        }
        HostState *h = calloc(1, sizeof(HostState));
        if (!h)
                return NULL;
        h->key = TAKE_PTR(key);
        t->hosts[t->n++] = h;
        return h;
}

void host_table_done(HostTable *t) {
        for (size_t i = 0; i < t->n; i++) {
                free(t->hosts[i]->key);
                free(t->hosts[i]);
        }
        free(t->hosts);
        *t = (HostTable){};
}

usec_t host_wait(const HostState *h, const HostPolicy *p, usec_t now) {
        usec_t wait = h->next_start > now ? h->next_start - now : 0;
        if (p->max_in_flight > 0 && h->in_flight >= p->max_in_flight && wait == 0)
                /* busy: look again after the spacing, or soon */
                wait = p->spacing > 0 ? p->spacing : 100 * USEC_PER_MSEC;
        return wait;
}

void host_start(HostState *h, const HostPolicy *p, usec_t now) {
        h->in_flight++;
        usec_t next = now + p->spacing;
        if (next > h->next_start)
                h->next_start = next;
}

void host_finish(HostState *h, const HostPolicy *p, const RateLimit *rl, usec_t now,
                 int64_t now_realtime) {
        if (h->in_flight > 0)
                h->in_flight--;
        if (rl && rl->known)
                h->rl = *rl;
        usec_t pace = ratelimit_pace(&h->rl, now_realtime);
        if (pace > 0 && now + pace > h->next_start)
                h->next_start = now + pace;
}
