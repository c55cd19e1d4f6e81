/* SPDX-License-Identifier: MIT */
/*
 * log.c - writes log lines to stderr. One write(2) per line, so lines from the daemon never
 * interleave. Under the journal (JOURNAL_STREAM matches stderr), lines carry "<N>" priority
 * prefixes and no timestamp (the journal adds its own); elsewhere "YYYY-MM-DD HH:MM:SS.mmm
 * level: message". Messages never contain secrets: callers pass names, never values.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "util/time-util.h"

static int max_level = LOG_INFO;
static bool to_journal;

void log_setup(void) {
        const char *e = getenv("JOURNAL_STREAM");
        struct stat st;
        unsigned long long dev, ino;

        to_journal = false;
        if (e && sscanf(e, "%llu:%llu", &dev, &ino) == 2 && fstat(STDERR_FILENO, &st) == 0 &&
            (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino)
                to_journal = true;
}

void log_set_max_level(int level) {
        max_level = level;
}

int log_get_max_level(void) {
        return max_level;
}

static const char *const level_names[8] = {
        [0] = "emerg", [1] = "alert", [2] = "crit", [LOG_ERR] = "error",
        [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice", [LOG_INFO] = "info",
        [LOG_DEBUG] = "debug",
};

int log_level_from_string(const char *s) {
        if (!s)
                return -EINVAL;
        if (strcmp(s, "err") == 0)
                return LOG_ERR;
        for (int i = 0; i < 8; i++)
                if (strcmp(s, level_names[i]) == 0)
                        return i;
        return -EINVAL;
}

const char *log_level_to_string(int level) {
        return level >= 0 && level < 8 ? level_names[level] : "?";
}

int log_internalv(int level, int error, const char *format, va_list ap) {
        int saved = errno;
        char msg[4096], line[4200];
        int n;

        if (error < 0)
                error = -error;
        if (level > max_level)
                return -error;

        vsnprintf(msg, sizeof(msg), format, ap);
        /* one line per message: a newline inside would forge a second log entry */
        for (char *p = msg; *p; p++)
                if (*p == '\n' || *p == '\r')
                        *p = ' ';

        if (to_journal)
                n = snprintf(line, sizeof(line), "<%d>%s\n", level, msg);
        else {
                struct timespec ts;
                struct tm tm;
                clock_gettime(CLOCK_REALTIME, &ts);
                localtime_r(&ts.tv_sec, &tm);
                n = snprintf(line, sizeof(line), "%04d-%02d-%02d %02d:%02d:%02d.%03ld %s: %s\n",
                             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                             tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
                             log_level_to_string(level), msg);
        }
        if (n > (int)sizeof(line) - 1) {
                n = (int)sizeof(line) - 1;
                line[n - 1] = '\n';
        }
        (void)!write(STDERR_FILENO, line, (size_t)n);
        errno = saved;
        return -error;
}

int log_internal(int level, int error, const char *format, ...) {
        va_list ap;
        va_start(ap, format);
        int r = log_internalv(level, error, format, ap);
        va_end(ap);
        return r;
}

bool complaint_fail(Complaint *c, const char *what) {
        usec_t now = now_usec(CLOCK_MONOTONIC);
        unsigned long h = 5381;
        for (const char *p = what; p && *p; p++)
                h = h * 33 + (unsigned char)*p;
        c->failures++;
        if (c->failures == 1 || h != c->what) {
                c->what = h;
                c->last_usec = now;
                c->interval = USEC_PER_MINUTE;
                return true;
        }
        if (now - c->last_usec < c->interval)
                return false;
        c->last_usec = now;
        c->interval *= 2;
        if (c->interval > USEC_PER_HOUR)
                c->interval = USEC_PER_HOUR;
        return true;
}

bool complaint_release(Complaint *c) {
        bool had = c->failures > 0;
        c->failures = 0;
        c->interval = 0;
        return had;
}
