/* SPDX-License-Identifier: MIT */
/* A source plugin that claims a future ABI: earshotd must refuse to load it. */
#include "earshot-plugin.h"

__attribute__((visibility("default"))) const struct earshot_plugin earshot_plugin_descriptor = {
        .abi = EARSHOT_PLUGIN_ABI + 1,
        .size = sizeof(struct earshot_plugin),
        .kind = EARSHOT_PLUGIN_SOURCE,
        .name = "badabi",
        .description = "a plugin from the future",
};
