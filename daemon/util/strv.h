/* SPDX-License-Identifier: MIT */
/* strv.h - NULL-terminated string vectors. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

char **strv_free(char **l);
size_t strv_length(char *const *l);
/* Append a copy of s; 0 or -ENOMEM. */
int strv_extend(char ***l, const char *s);
/* Append s, taking ownership (freed on failure); 0 or -ENOMEM. */
int strv_consume(char ***l, char *s);
bool strv_contains(char *const *l, const char *s);
char **strv_copy(char *const *l);
/* Join with sep; malloc()ed. */
char *strv_join(char *const *l, const char *sep);

static inline void strv_freep(char ***l) {
        strv_free(*l);
}
#define _cleanup_strv_free_ __attribute__((cleanup(strv_freep)))

#define STRV_FOREACH(s, l) for (char **s = (l); s && *s; s++)
