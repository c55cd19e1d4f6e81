/* SPDX-License-Identifier: MIT */
/*
 * plugin.c - dlopen()s plugin modules and checks their ABI before trusting a single byte of
 * the descriptor: `abi` must equal EARSHOT_PLUGIN_ABI and `size` must cover the struct this
 * daemon was built with. A module is opened with RTLD_LOCAL|RTLD_NOW so a missing symbol fails
 * at load time, not in the middle of a poll.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <stdbool.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "plugin.h"
#include "util/cleanup.h"

struct PluginRegistry {
        Plugin **plugins; /* owned */
        size_t n;
};

int plugin_registry_new(PluginRegistry **ret) {
        PluginRegistry *r = calloc(1, sizeof(*r));
        if (!r)
                return -ENOMEM;
        *ret = r;
        return 0;
}

static Plugin *plugin_free(Plugin *p) {
        if (!p)
                return NULL;
        if (p->handle)
                dlclose(p->handle);
        free(p->path);
        free(p->type);
        free(p);
        return NULL;
}

PluginRegistry *plugin_registry_free(PluginRegistry *r) {
        if (!r)
                return NULL;
        for (size_t i = 0; i < r->n; i++)
                plugin_free(r->plugins[i]);
        free(r->plugins);
        free(r);
        return NULL;
}

const char *plugin_kind_prefix(uint32_t kind) {
        return kind == EARSHOT_PLUGIN_SOURCE ? "source" : "notify";
}

size_t plugin_n_options(const Plugin *p) {
        size_t n = 0;
        while (p->desc->options && p->desc->options[n].name)
                n++;
        return n;
}

static bool type_name_valid(const char *t) {
        if (isempty(t) || strlen(t) > 64)
                return false;
        for (const char *c = t; *c; c++)
                if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-' ||
                      *c == '_'))
                        return false;
        return true;
}

/* "mastodon, replay" - the plugins of this kind found in dir */
static void list_available(const char *dir, uint32_t kind, char *buf, size_t len) {
        DIR *d = opendir(dir);
        const char *prefix = plugin_kind_prefix(kind);
        size_t plen = strlen(prefix), used = 0;

        buf[0] = 0;
        if (!d)
                return;
        struct dirent *de;
        while ((de = readdir(d))) {
                size_t l = strlen(de->d_name);
                if (strncmp(de->d_name, prefix, plen) != 0 || de->d_name[plen] != '-' || l < 4 ||
                    strcmp(de->d_name + l - 3, ".so") != 0)
                        continue;
                int n = snprintf(buf + used, len - used, "%s%.*s", used ? ", " : "",
                                 (int)(l - plen - 4), de->d_name + plen + 1);
                if (n < 0 || (size_t)n >= len - used)
                        break;
                used += (size_t)n;
        }
        closedir(d);
}

int plugin_registry_get(PluginRegistry *r, const char *dir, uint32_t kind, const char *type,
                        const Plugin **ret, char *err, size_t err_len) {
        _cleanup_free_ char *path = NULL;

        if (!type_name_valid(type)) {
                snprintf(err, err_len, "invalid %s type '%s' (letters, digits, '-', '_')",
                         kind == EARSHOT_PLUGIN_SOURCE ? "source" : "notifier", type);
                return -EINVAL;
        }
        if (asprintf(&path, "%s/%s-%s.so", dir, plugin_kind_prefix(kind), type) < 0)
                return -ENOMEM;

        for (size_t i = 0; i < r->n; i++)
                if (r->plugins[i]->kind == kind && strcmp(r->plugins[i]->path, path) == 0) {
                        *ret = r->plugins[i];
                        return 0;
                }

        void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
        if (!h) {
                char avail[512];
                if (access(path, F_OK) < 0) {
                        list_available(dir, kind, avail, sizeof(avail));
                        snprintf(err, err_len, "unknown %s type '%s': no %s in %s%s%s",
                                 kind == EARSHOT_PLUGIN_SOURCE ? "source" : "notifier", type,
                                 strrchr(path, '/') + 1, dir, *avail ? "; available: " : "",
                                 avail);
                        return -ENOENT;
                }
                snprintf(err, err_len, "cannot load plugin %s: %s", path, dlerror());
                return -ELIBBAD;
        }
        const struct earshot_plugin *d = dlsym(h, EARSHOT_PLUGIN_SYMBOL);
        if (!d) {
                snprintf(err, err_len, "plugin '%s' exports no %s, refusing", path,
                         EARSHOT_PLUGIN_SYMBOL);
                dlclose(h);
                return -EPROTO;
        }
        if (d->abi != EARSHOT_PLUGIN_ABI) {
                snprintf(err, err_len, "plugin '%s' has ABI %u, this earshotd speaks %u, refusing",
                         path, (unsigned)d->abi, (unsigned)EARSHOT_PLUGIN_ABI);
                dlclose(h);
                return -EPROTO;
        }
        if (d->size < sizeof(struct earshot_plugin) || d->kind != kind || !d->name ||
            strcmp(d->name, type) != 0 ||
            (kind == EARSHOT_PLUGIN_SOURCE &&
             (!d->source || d->source->size < EARSHOT_SOURCE_OPS_SIZE_V1 ||
              !d->source->create || !d->source->feed || !d->source->build_request ||
              !d->source->parse_response)) ||
            (kind == EARSHOT_PLUGIN_NOTIFIER &&
             (!d->notifier || d->notifier->size < sizeof(struct earshot_notifier_ops) ||
              !d->notifier->create || !d->notifier->deliver))) {
                snprintf(err, err_len,
                         "plugin '%s' has a malformed descriptor (kind, name or callbacks), "
                         "refusing",
                         path);
                dlclose(h);
                return -EPROTO;
        }

        Plugin *p = calloc(1, sizeof(*p));
        Plugin **np = realloc(r->plugins, sizeof(Plugin *) * (r->n + 1));
        if (!p || !np) {
                free(p);
                if (np)
                        r->plugins = np;
                dlclose(h);
                return -ENOMEM;
        }
        r->plugins = np;
        p->path = TAKE_PTR(path);
        p->type = strdup(type);
        p->kind = kind;
        p->handle = h;
        p->desc = d;
        if (!p->type) {
                plugin_free(p);
                return -ENOMEM;
        }
        r->plugins[r->n++] = p;
        *ret = p;
        return 0;
}
