/* SPDX-License-Identifier: MIT */
/*
 * plugin.h - loading plugins. A plugin of kind source and type "mastodon" is the file
 * "source-mastodon.so" in the plugin directory; a notifier of type "webhook" is
 * "notify-webhook.so". The ABI version and struct size are checked before anything else is
 * read from the module. Loaded modules are cached in a registry that outlives reloads.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "earshot-plugin.h"

typedef struct Plugin {
        char *path;  /* owned */
        char *type;  /* owned: "mastodon" */
        uint32_t kind;
        void *handle; /* dlopen() handle, owned */
        const struct earshot_plugin *desc; /* borrowed from the module */
} Plugin;

typedef struct PluginRegistry PluginRegistry;

int plugin_registry_new(PluginRegistry **ret);
PluginRegistry *plugin_registry_free(PluginRegistry *r);

/*
 * Find or load the plugin of this kind and type from dir. Returns 0 and *ret (borrowed from
 * the registry); or a negative errno with a one-line reason in err: -ENOENT (no such plugin,
 * the message lists the available ones), -EPROTO (ABI mismatch), -EINVAL (bad type name).
 */
int plugin_registry_get(PluginRegistry *r, const char *dir, uint32_t kind, const char *type,
                        const Plugin **ret, char *err, size_t err_len);

const char *plugin_kind_prefix(uint32_t kind);

/* Number of options in a plugin's table. */
size_t plugin_n_options(const Plugin *p);

static inline void plugin_registry_freep(PluginRegistry **r) {
        if (*r)
                plugin_registry_free(*r);
}
