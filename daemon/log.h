/* SPDX-License-Identifier: MIT */
/*
 * log.h - the daemon's log. Under systemd (stderr is the journal, as JOURNAL_STREAM says) each
 * line carries an sd-daemon "<N>" priority prefix; on a terminal or in a file, a readable
 * local timestamp and the level name. Helpers that fail return errors; their callers log once.
 */
#pragma once

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>

#define LOG_ERR 3
#define LOG_WARNING 4
#define LOG_NOTICE 5
#define LOG_INFO 6
#define LOG_DEBUG 7

void log_setup(void);
void log_set_max_level(int level);
int log_get_max_level(void);
/* "debug", "info", "notice", "warning", "err"/"error"; -EINVAL otherwise. */
int log_level_from_string(const char *s);
const char *log_level_to_string(int level);

/* Returns -abs(error) when error != 0, so callers can `return log_error_errno(r, ...)`. */
int log_internal(int level, int error, const char *format, ...) __attribute__((format(printf, 3, 4)));
int log_internalv(int level, int error, const char *format, va_list ap)
        __attribute__((format(printf, 3, 0)));

/*
 * A structured record: "PREFIX MESSAGE" plus fields "KEY=value" (keys already checked). Under
 * the journal the fields go in as journal fields (sd_journal_sendv); elsewhere one line
 * "PREFIX MESSAGE KEY=value ...". Returns 0 or negative errno.
 */
int log_fields(int level, const char *prefix, const char *message, const char *const *fields);

#define log_full_errno(level, error, ...) log_internal(level, error, __VA_ARGS__)
#define log_error(...) (void)log_internal(LOG_ERR, 0, __VA_ARGS__)
#define log_warning(...) (void)log_internal(LOG_WARNING, 0, __VA_ARGS__)
#define log_notice(...) (void)log_internal(LOG_NOTICE, 0, __VA_ARGS__)
#define log_info(...) (void)log_internal(LOG_INFO, 0, __VA_ARGS__)
#define log_debug(...) (void)log_internal(LOG_DEBUG, 0, __VA_ARGS__)
#define log_error_errno(e, ...) log_internal(LOG_ERR, e, __VA_ARGS__)
#define log_warning_errno(e, ...) log_internal(LOG_WARNING, e, __VA_ARGS__)
#define log_debug_errno(e, ...) log_internal(LOG_DEBUG, e, __VA_ARGS__)

/*
 * Rate-limited complaints for something that stays broken (collectd's c_complain): the first
 * failure logs at WARNING, repeats are logged with growing gaps (1 min, doubling to 1 h),
 * the first success after failures logs one NOTICE "recovered".
 */
typedef struct Complaint {
        unsigned long long last_usec; /* monotonic time of the last logged complaint */
        unsigned long long interval;  /* gap before the next one is logged */
        unsigned failures;            /* failures since the last success */
        unsigned long what;           /* hash of the last logged kind of failure */
} Complaint;

/*
 * Returns true when this failure should be logged (and counts it). `what` names the kind of
 * failure ("HTTP 500", "timeout"): a new kind is always logged, a repeat only after the gap.
 */
bool complaint_fail(Complaint *c, const char *what);
/* Returns true when a "recovered" notice is due (there were failures). Resets. */
bool complaint_release(Complaint *c);
