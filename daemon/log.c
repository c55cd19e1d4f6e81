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
#include <sys/uio.h>
#include <unistd.h>

#include <systemd/sd-journal.h>

#include "log.h"
#include "util/cleanup.h"
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

int log_fields(int level, const char *prefix, const char *message, const char *const *fields) {
        size_t n = 0;
        int r;

        if (level > max_level)
                return 0;
        for (const char *const *f = fields; f && *f; f++)
                n++;
        if (to_journal) {
                _cleanup_free_ struct iovec *iov = calloc(n + 3, sizeof(struct iovec));
                _cleanup_free_ char *msg = NULL, *prio = NULL;
                if (!iov || asprintf(&msg, "MESSAGE=%s %s", prefix, message) < 0 ||
                    asprintf(&prio, "PRIORITY=%d", level) < 0)
                        return -ENOMEM;
                /* one line per message, as for every other record */
                for (char *p = msg; *p; p++)
                        if (*p == '\n' || *p == '\r')
                                *p = ' ';
                iov[0] = (struct iovec){msg, strlen(msg)};
                iov[1] = (struct iovec){prio, strlen(prio)};
                iov[2] = (struct iovec){(char *)"SYSLOG_IDENTIFIER=earshotd", 26};
                for (size_t i = 0; i < n; i++)
                        iov[3 + i] = (struct iovec){(char *)fields[i], strlen(fields[i])};
                r = sd_journal_sendv(iov, (int)(n + 3));
                if (r >= 0)
                        return 0;
                /* no journal socket after all: fall through to a plain line */
        }
        _cleanup_free_ char *line = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&line, &len);
        if (!f)
                return -ENOMEM;
        fputs(message, f);
        for (size_t i = 0; i < n; i++) {
                fputc(' ', f);
                fputs(fields[i], f);
        }
        if (fclose(f) != 0)
                return -ENOMEM;
        (void)log_internal(level, 0, "%s %s", prefix, line);
        return 0;
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
