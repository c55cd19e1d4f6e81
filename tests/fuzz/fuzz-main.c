/* SPDX-License-Identifier: MIT */
/*
 * fuzz-main.c - a standalone driver for libFuzzer targets, so that every fuzz target builds and
 * runs as a short test with any compiler, without libFuzzer.
 *
 * Runs LLVMFuzzerTestOneInput() on every file named on the command line (directories: every
 * regular file in them, in name order), then on EARSHOT_FUZZ_ITERATIONS (default 2000) random
 * mutations of those inputs: bit flips, byte edits, insertions and deletions, duplicated
 * ranges, splices of two inputs and tokens that tend to matter to text parsers. The mutations
 * are a fixed function of EARSHOT_FUZZ_SEED (default below), so a failure reproduces exactly.
 * When the target crashes (abort(), or a sanitizer report), the input at fault is written to
 * fuzz-crash.bin in the current directory (or $EARSHOT_FUZZ_CRASH_DIR), to be replayed with
 * `fuzz-TARGET fuzz-crash.bin`. The target is linked with this file; nothing is target-specific.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/cleanup.h"

#define DEFAULT_SEED UINT64_C(0x6561727368)
#define DEFAULT_ITERATIONS 2000
#define FUZZ_MAX_INPUT 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));
/* Present under ASan / UBSan: called before a sanitizer ends the process. */
void __sanitizer_set_death_callback(void (*callback)(void)) __attribute__((weak));

typedef struct Input {
        uint8_t *data; /* owned */
        size_t size;
        char *name; /* owned */
} Input;

typedef struct Corpus {
        Input *inputs; /* owned */
        size_t n, allocated;
} Corpus;

/* The input being run, for the crash handlers. */
static const uint8_t *current_data;
static size_t current_size;
static char crash_path[4096];

static void save_crash(void) {
        int fd;

        if (!current_data)
                return;
        fd = open(crash_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
                return;
        for (size_t done = 0; done < current_size;) {
                ssize_t k = write(fd, current_data + done, current_size - done);
                if (k <= 0)
                        break;
                done += (size_t)k;
        }
        (void)close(fd);
        (void)!write(STDERR_FILENO, "fuzz-main: input saved to ", 26);
        (void)!write(STDERR_FILENO, crash_path, strlen(crash_path));
        (void)!write(STDERR_FILENO, "\n", 1);
        current_data = NULL;
}

static void on_abort(int sig) {
        save_crash();
        signal(sig, SIG_DFL);
        raise(sig);
}

static void corpus_done(Corpus *c) {
        for (size_t i = 0; i < c->n; i++) {
                free(c->inputs[i].data);
                free(c->inputs[i].name);
        }
        free(c->inputs);
        *c = (Corpus){};
}

static int corpus_add(Corpus *c, const char *path) {
        _cleanup_fclose_ FILE *f = NULL;
        _cleanup_free_ uint8_t *data = NULL;
        _cleanup_free_ char *name = NULL;
        size_t size;

        f = fopen(path, "re");
        if (!f)
                return -errno;
        data = malloc(FUZZ_MAX_INPUT);
        name = strdup(path);
        if (!data || !name)
                return -ENOMEM;
        size = fread(data, 1, FUZZ_MAX_INPUT, f);
        if (ferror(f))
                return -EIO;

        if (c->n == c->allocated) {
                size_t a = c->allocated ? c->allocated * 2 : 16;
                Input *p = realloc(c->inputs, a * sizeof(Input));

                if (!p)
                        return -ENOMEM;
                c->inputs = p;
                c->allocated = a;
        }
        c->inputs[c->n++] = (Input){ .data = TAKE_PTR(data), .size = size, .name = TAKE_PTR(name) };
        return 0;
}

static int name_compare(const void *a, const void *b) {
        return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A file, or every regular file in a directory, sorted by name for a stable order. */
static int corpus_add_path(Corpus *c, const char *path) {
        struct stat st;
        DIR *d;
        struct dirent *de;
        char **names = NULL;
        size_t n = 0;
        int r = 0;

        if (stat(path, &st) < 0)
                return -errno;
        if (!S_ISDIR(st.st_mode))
                return corpus_add(c, path);

        d = opendir(path);
        if (!d)
                return -errno;
        while ((de = readdir(d))) {
                char **p;

                if (de->d_name[0] == '.')
                        continue;
                p = realloc(names, (n + 1) * sizeof(char *));
                if (!p) {
                        r = -ENOMEM;
                        break;
                }
                names = p;
                if (asprintf(&names[n], "%s/%s", path, de->d_name) < 0) {
                        r = -ENOMEM;
                        break;
                }
                n++;
        }
        closedir(d);

        if (r == 0 && n > 0)
                qsort(names, n, sizeof(char *), name_compare);
        for (size_t i = 0; i < n; i++) {
                if (r == 0 && stat(names[i], &st) == 0 && S_ISREG(st.st_mode))
                        r = corpus_add(c, names[i]);
                free(names[i]);
        }
        free(names);
        return r;
}

static uint64_t rng_state;

static uint64_t rng(void) {
        rng_state ^= rng_state >> 12;
        rng_state ^= rng_state << 25;
        rng_state ^= rng_state >> 27;
        return rng_state * UINT64_C(2685821657736338717);
}

static size_t pick(size_t n) {
        return n ? (size_t)(rng() % n) : 0;
}

/* Bytes that tend to matter to earshot's parsers: separators, syntax, Unicode edge cases. */
static const char *const tokens[] = {
        "\n", "\0", " ", "*", "\"", "#", "@", "'", "_", ".", ":", "-", "\r\n", "\xFF", "\xC3",
        "\xE2\x82", "\xCC\x81", "\xEF\xB8\x8F", "\xE2\x80\x8D", "\xF0\x9F\x8F\xBD", "ё", "Ё",
        "й", "İ", "ı", "ß", "ａｃｍｅ", "😡", "👍", "中", "acme", "refund", "деньги", "™",
        "＃", "https://", "{", "}", "[", "]", ",", "- ", "\\",
};

static void insert(uint8_t *buf, size_t *size, size_t at, const void *p, size_t n) {
        if (*size + n > FUZZ_MAX_INPUT)
                n = FUZZ_MAX_INPUT - *size;
        memmove(buf + at + n, buf + at, *size - at);
        memcpy(buf + at, p, n);
        *size += n;
}

static void mutate(uint8_t *buf, size_t *size, const Corpus *c) {
        size_t at = pick(*size + 1);

        switch (pick(8)) {
        case 0: /* flip a bit */
                if (*size > 0)
                        buf[pick(*size)] ^= (uint8_t)(1u << pick(8));
                break;
        case 1: /* set a byte */
                if (*size > 0)
                        buf[pick(*size)] = (uint8_t)rng();
                break;
        case 2: { /* insert a byte */
                uint8_t b = (uint8_t)rng();
                insert(buf, size, at, &b, 1);
                break;
        }
        case 3: { /* delete a range */
                size_t n = pick(*size - at + 1);
                if (n > 16)
                        n = pick(17);
                memmove(buf + at, buf + at + n, *size - at - n);
                *size -= n;
                break;
        }
        case 4: { /* duplicate a range */
                uint8_t tmp[64];
                size_t from = pick(*size + 1), n = pick(*size - from + 1);

                if (n > sizeof(tmp))
                        n = sizeof(tmp);
                memcpy(tmp, buf + from, n);
                insert(buf, size, at, tmp, n);
                break;
        }
        case 5:
        case 6: { /* insert a token (the NUL token is one byte) */
                const char *t = tokens[pick(ELEMENTSOF(tokens))];
                insert(buf, size, at, t, *t ? strlen(t) : 1);
                break;
        }
        case 7: { /* splice in part of another input */
                const Input *o;
                size_t from, n;

                if (c->n == 0)
                        break;
                o = &c->inputs[pick(c->n)];
                from = pick(o->size + 1);
                n = pick(o->size - from + 1);
                insert(buf, size, at, o->data + from, n);
                break;
        }
        }
}

static uint64_t env_u64(const char *name, uint64_t def) {
        const char *v = getenv(name);
        char *end;
        unsigned long long x;

        if (isempty(v))
                return def;
        errno = 0;
        x = strtoull(v, &end, 0);
        return errno == 0 && *end == 0 ? x : def;
}

static void run(const uint8_t *data, size_t size) {
        /* A copy of exactly the input's size, so that ASan sees any read past its end. */
        _cleanup_free_ uint8_t *copy = malloc(size ? size : 1);

        if (!copy) {
                fprintf(stderr, "fuzz-main: out of memory\n");
                exit(EXIT_FAILURE);
        }
        memcpy(copy, data, size);
        current_data = copy;
        current_size = size;
        (void)LLVMFuzzerTestOneInput(copy, size);
        current_data = NULL;
}

int main(int argc, char *argv[]) {
        _cleanup_(corpus_done) Corpus c = {};
        _cleanup_free_ uint8_t *buf = NULL;
        uint64_t seed = env_u64("EARSHOT_FUZZ_SEED", DEFAULT_SEED);
        uint64_t iterations = env_u64("EARSHOT_FUZZ_ITERATIONS", DEFAULT_ITERATIONS);
        const char *dir = getenv("EARSHOT_FUZZ_CRASH_DIR");
        struct timespec t0, t1;

        snprintf(crash_path, sizeof(crash_path), "%s/fuzz-crash.bin", isempty(dir) ? "." : dir);
        signal(SIGABRT, on_abort);
        if (__sanitizer_set_death_callback)
                __sanitizer_set_death_callback(save_crash);
        if (LLVMFuzzerInitialize)
                (void)LLVMFuzzerInitialize(&argc, &argv);

        for (int i = 1; i < argc; i++) {
                int r = corpus_add_path(&c, argv[i]);

                if (r < 0) {
                        fprintf(stderr, "fuzz-main: %s: %s\n", argv[i], strerror(-r));
                        return EXIT_FAILURE;
                }
        }

        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (size_t i = 0; i < c.n; i++)
                run(c.inputs[i].data, c.inputs[i].size);

        buf = malloc(FUZZ_MAX_INPUT);
        if (!buf)
                return EXIT_FAILURE;
        rng_state = seed ? seed : 1;
        for (uint64_t it = 0; it < iterations; it++) {
                size_t size = 0, rounds = 1 + pick(4);

                if (c.n > 0) {
                        const Input *in = &c.inputs[pick(c.n)];

                        size = in->size;
                        memcpy(buf, in->data, size);
                }
                for (size_t k = 0; k < rounds; k++)
                        mutate(buf, &size, &c);
                run(buf, size);
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);

        printf("fuzz-main: %zu inputs, %" PRIu64 " mutations (EARSHOT_FUZZ_SEED=%" PRIu64
               "), %.2f s\n",
               c.n, iterations, seed,
               (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
        return EXIT_SUCCESS;
}
