/* SPDX-License-Identifier: MIT */
/* strv.c - NULL-terminated string vectors (see strv.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "strv.h"

char **strv_free(char **l) {
        for (char **s = l; s && *s; s++)
                free(*s);
        free(l);
        return NULL;
}

size_t strv_length(char *const *l) {
        size_t n = 0;
        while (l && l[n])
                n++;
        return n;
}

int strv_consume(char ***l, char *s) {
        if (!s)
                return -ENOMEM;
        size_t n = strv_length(*l);
        char **nl = realloc(*l, sizeof(char *) * (n + 2));
        if (!nl) {
                free(s);
                return -ENOMEM;
        }
        nl[n] = s;
        nl[n + 1] = NULL;
        *l = nl;
        return 0;
}

int strv_extend(char ***l, const char *s) {
        return strv_consume(l, strdup(s));
}

bool strv_contains(char *const *l, const char *s) {
        for (size_t i = 0; l && l[i]; i++)
                if (strcmp(l[i], s) == 0)
                        return true;
        return false;
}

char **strv_copy(char *const *l) {
        char **r = calloc(1, sizeof(char *));
        if (!r)
                return NULL;
        for (size_t i = 0; l && l[i]; i++)
                if (strv_extend(&r, l[i]) < 0)
                        return strv_free(r);
        return r;
}

char *strv_join(char *const *l, const char *sep) {
        size_t len = 1, seplen = strlen(sep);
        for (size_t i = 0; l && l[i]; i++)
                len += strlen(l[i]) + seplen;
        char *r = malloc(len), *p = r;
        if (!r)
                return NULL;
        for (size_t i = 0; l && l[i]; i++) {
                if (i > 0)
                        p = stpcpy(p, sep);
                p = stpcpy(p, l[i]);
        }
        *p = 0;
        return r;
}
