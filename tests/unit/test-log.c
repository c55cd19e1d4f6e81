/* SPDX-License-Identifier: MIT */
/* Unit tests for log.c: journal priority prefixes, readable lines, levels, complaints. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"

/* Run fn with stderr redirected to a file; return what it wrote. */
static char *capture(bool as_journal, void (*fn)(void)) {
        char path[] = "/tmp/earshot-test-log.XXXXXX";
        int fd = mkstemp(path), saved = dup(STDERR_FILENO);
        struct stat st;
        char env[64], *buf = calloc(1, 4096);

        assert_true(fd >= 0);
        unlink(path);
        assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
        assert_int_equal(fstat(fd, &st), 0);
        snprintf(env, sizeof(env), "%llu:%llu", (unsigned long long)st.st_dev,
                 (unsigned long long)(as_journal ? st.st_ino : st.st_ino + 1));
        setenv("JOURNAL_STREAM", env, 1);
        log_setup();
        fn();
        dup2(saved, STDERR_FILENO);
        close(saved);
        unsetenv("JOURNAL_STREAM");
        log_setup();
        assert_true(pread(fd, buf, 4095, 0) >= 0);
        close(fd);
        return buf;
}

static void emit(void) {
        log_set_max_level(LOG_INFO);
        log_error("disk on fire");
        log_warning("feed %s slow", "x");
        log_debug("not shown at info");
        log_info("two\nlines");
}

static void test_journal_prefixes(void **state) {
        char *out = capture(true, emit);
        assert_string_equal(out, "<3>disk on fire\n<4>feed x slow\n<6>two lines\n");
        free(out);
}

static void test_readable_lines(void **state) {
        char *out = capture(false, emit);
        /* "YYYY-MM-DD HH:MM:SS.mmm error: disk on fire" */
        assert_int_equal(strlen(out) > 30, 1);
        assert_int_equal(out[4], '-');
        assert_int_equal(out[10], ' ');
        assert_int_equal(out[19], '.');
        assert_non_null(strstr(out, " error: disk on fire\n"));
        assert_non_null(strstr(out, " warning: feed x slow\n"));
        assert_null(strstr(out, "not shown"));
        assert_null(strstr(out, "<3>"));
        free(out);
}

static void test_levels(void **state) {
        assert_int_equal(log_level_from_string("debug"), LOG_DEBUG);
        assert_int_equal(log_level_from_string("err"), LOG_ERR);
        assert_int_equal(log_level_from_string("error"), LOG_ERR);
        assert_int_equal(log_level_from_string("warning"), LOG_WARNING);
        assert_int_equal(log_level_from_string("loud"), -EINVAL);
        assert_int_equal(log_error_errno(-EIO, "x"), -EIO);
        assert_int_equal(log_error_errno(EIO, "x"), -EIO);
}

static void test_complaints(void **state) {
        Complaint c = {};
        assert_true(complaint_fail(&c, "HTTP 500"));    /* first: logged */
        assert_false(complaint_fail(&c, "HTTP 500"));   /* repeat within the gap: not */
        assert_true(complaint_fail(&c, "timeout"));     /* a new kind: logged */
        assert_false(complaint_fail(&c, "timeout"));
        assert_true(complaint_release(&c));             /* recovered: say so once */
        assert_false(complaint_release(&c));
        assert_true(complaint_fail(&c, "timeout"));     /* after recovery: logged again */
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_journal_prefixes),
                cmocka_unit_test(test_readable_lines),
                cmocka_unit_test(test_levels),
                cmocka_unit_test(test_complaints),
        };
        return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}
