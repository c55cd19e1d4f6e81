/* SPDX-License-Identifier: MIT */
/*
 * cleanup.h - scope-bound cleanup, as in systemd: `_cleanup_free_ char *s = NULL;` frees s when
 * it goes out of scope; TAKE_PTR() hands ownership on and leaves NULL behind.
 */
#pragma once

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _cleanup_free_ _cleanup_(freep)
#define _cleanup_fclose_ _cleanup_(fclosep)
#define _cleanup_close_ _cleanup_(closep)
#define _unused_ __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))

#define TAKE_PTR(p)                                                                            \
        ({                                                                                     \
                __typeof__(p) _p_ = (p);                                                       \
                (p) = NULL;                                                                    \
                _p_;                                                                           \
        })

static inline void freep(void *p) {
        free(*(void **)p);
}

static inline void fclosep(FILE **f) {
        if (*f)
                fclose(*f);
}

static inline void closep(int *fd) {
        if (*fd >= 0)
                close(*fd);
}

/* Defines name##p(type **p) calling func(*p) when *p is set. */
#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func)                                                \
        static inline void func##p(type *p) {                                                  \
                if (*p)                                                                        \
                        func(*p);                                                              \
        }

#define streq(a, b) (strcmp((a), (b)) == 0)
/* Equal strings, or both NULL. */
static inline bool streq_ptr(const char *a, const char *b) {
        return a && b ? strcmp(a, b) == 0 : a == b;
}
#define strcaseeq(a, b) (strcasecmp((a), (b)) == 0)
#define isempty(s) (!(s) || !*(s))

static inline const char *strna(const char *s) {
        return s ? s : "n/a";
}
