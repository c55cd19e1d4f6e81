/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for exec.c: real programs on a private sd_event loop. Input and output pipes,
 * exit codes, the 64 KiB output cap, the timeout (SIGTERM, then SIGKILL for a child that ignores
 * it, its whole process group included), programs that cannot start, the clean environment,
 * cancelling, and no zombie or file descriptor left behind.
 */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "exec.h"
#include "util/time-util.h"

#define GUARD (60 * USEC_PER_SEC) /* a run that takes longer than this has hung */

typedef struct Result {
        bool done;
        unsigned calls;
        int status;
        CURLcode result;
        char *error;
        char *body;
        size_t body_len;
        bool too_large;
        int exit_code;
} Result;

static void result_done(Result *r) {
        free(r->error);
        free(r->body);
}

static size_t count_fds(void) {
        DIR *d = opendir("/proc/self/fd");
        struct dirent *de;
        size_t n = 0;

        assert_non_null(d);
        while ((de = readdir(d)))
                if (de->d_name[0] != '.')
                        n++;
        closedir(d);
        return n - 1; /* the directory's own */
}

/* No child of ours is left, reaped or not. */
static void assert_no_children(void) {
        siginfo_t si = {};
        assert_int_equal(waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT), -1);
        assert_int_equal(errno, ECHILD);
}

static void on_done(ExecCall *call, const HttpResponse *resp, void *userdata) {
        Result *r = userdata;

        r->calls++;
        r->done = true;
        r->status = resp->status;
        r->result = resp->result;
        r->error = resp->error ? strdup(resp->error) : NULL;
        assert_non_null(resp->body);
        assert_int_equal(resp->body[resp->body_len], 0);
        r->body = malloc(resp->body_len + 1);
        assert_non_null(r->body);
        memcpy(r->body, resp->body, resp->body_len + 1);
        r->body_len = resp->body_len;
        r->too_large = resp->too_large;
        r->exit_code = resp->exit_code;
}

static int on_guard(sd_event_source *s, uint64_t usec, void *userdata) {
        fail_msg("the run did not end within %llus", (unsigned long long)(GUARD / USEC_PER_SEC));
        return 0;
}

/* Run the loop until *flag is set (or, with glue, until nothing is in flight). */
static void loop_until(sd_event *e, const bool *flag, ExecGlue *glue) {
        sd_event_source *guard = NULL;

        assert_true(sd_event_add_time_relative(e, &guard, CLOCK_MONOTONIC, GUARD, 0, on_guard,
                                               NULL) >= 0);
        while (flag ? !*flag : exec_in_flight(glue) > 0)
                assert_true(sd_event_run(e, UINT64_MAX) >= 0);
        sd_event_source_disable_unref(guard);
}

/* Run argv with body on its input and the given timeout; fills *res. */
static void run(const char *const *argv, const char *body, size_t body_len, usec_t timeout,
                const char *alert_id, Result *res) {
        sd_event *e = NULL;
        ExecGlue *g = NULL;
        ExecCall *call = NULL;
        struct earshot_request req = {
                .exec_argv = (char **)argv,
                .exec_timeout = (int64_t)timeout,
                .body = (char *)body,
                .body_len = body_len,
                .exec_alert_id = alert_id,
        };
        size_t fds = count_fds();

        *res = (Result){};
        assert_true(sd_event_new(&e) >= 0);
        assert_int_equal(exec_glue_new(e, &g), 0);
        assert_int_equal(exec_start(g, &req, on_done, res, &call), 0);
        assert_non_null(call);
        assert_false(res->done); /* never from inside exec_start() */
        loop_until(e, &res->done, NULL);
        assert_int_equal(res->calls, 1);
        assert_int_equal(exec_in_flight(g), 0);
        exec_glue_free(g);
        sd_event_unref(e);
        assert_no_children();
        assert_int_equal(count_fds(), fds);
}

static void test_cat_echoes_input(void **state) {
        const char *argv[] = {"/bin/cat", NULL};
        Result r;

        run(argv, "hello\nworld", 11, 10 * USEC_PER_SEC, NULL, &r);
        assert_int_equal(r.status, 200);
        assert_int_equal(r.result, CURLE_OK);
        assert_int_equal(r.exit_code, 0);
        assert_null(r.error);
        assert_string_equal(r.body, "hello\nworld");
        assert_false(r.too_large);
        result_done(&r);
}

/* More input than a pipe holds, read back while it is still being written: no deadlock. */
static void test_cat_large_input(void **state) {
        const char *argv[] = {"/bin/cat", NULL};
        size_t len = 1024 * 1024;
        char *big = malloc(len);
        Result r;

        assert_non_null(big);
        for (size_t i = 0; i < len; i++)
                big[i] = (char)('a' + i % 26);
        run(argv, big, len, 20 * USEC_PER_SEC, NULL, &r);
        assert_int_equal(r.status, 200);
        assert_int_equal(r.body_len, 64 * 1024);
        assert_true(r.too_large);
        assert_memory_equal(r.body, big, r.body_len);
        free(big);
        result_done(&r);
}

static void test_exit_code(void **state) {
        const char *argv[] = {"/bin/sh", "-c", "echo failing >&2; exit 3", NULL};
        Result r;

        run(argv, "", 0, 10 * USEC_PER_SEC, NULL, &r);
        assert_int_equal(r.status, 500);
        assert_int_equal(r.result, CURLE_OK);
        assert_int_equal(r.exit_code, 3);
        assert_string_equal(r.body, "failing\n"); /* standard error is collected too */
        result_done(&r);
}

/* 200 KiB of output from a program that never reads its (large) input. */
static void test_output_capped(void **state) {
        const char *argv[] = {"/bin/sh", "-c", "head -c 204800 /dev/zero | tr '\\000' x", NULL};
        size_t len = 512 * 1024;
        char *big = calloc(1, len);
        Result r;

        assert_non_null(big);
        run(argv, big, len, 20 * USEC_PER_SEC, NULL, &r);
        assert_int_equal(r.status, 200);
        assert_int_equal(r.exit_code, 0);
        assert_int_equal(r.body_len, 64 * 1024);
        assert_true(r.too_large);
        for (size_t i = 0; i < r.body_len; i++)
                if (r.body[i] != 'x')
                        fail_msg("byte %zu is %d", i, r.body[i]);
        free(big);
        result_done(&r);
}

static void test_timeout(void **state) {
        const char *argv[] = {"/bin/sleep", "30", NULL};
        usec_t t0 = now_usec(CLOCK_MONOTONIC);
        Result r;

        run(argv, "", 0, 300 * USEC_PER_MSEC, NULL, &r);
        assert_int_equal(r.status, 0);
        assert_int_equal(r.result, CURLE_OPERATION_TIMEDOUT);
        assert_int_equal(r.exit_code, -1);
        assert_string_equal(r.error, "timed out after 0.3s");
        /* SIGTERM was enough: well before the SIGKILL stage */
        assert_true(now_usec(CLOCK_MONOTONIC) - t0 < 5 * USEC_PER_SEC);
        result_done(&r);
}

/* Whether pid is gone (or a zombie about to be reaped by its new parent). */
static bool process_gone(pid_t pid) {
        char path[64], buf[512];
        FILE *f;

        snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
        f = fopen(path, "re");
        if (!f)
                return true;
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = 0;
        char *paren = strrchr(buf, ')');
        return paren && (paren[2] == 'Z' || paren[2] == 'X');
}

/* A shell that ignores SIGTERM, and its child that does too: both get SIGKILL 5 s later. */
static void test_timeout_sigkill_group(void **state) {
        const char *argv[] = {"/bin/sh", "-c", "trap '' TERM; sleep 30 & echo $!; wait; wait",
                              NULL};
        usec_t t0 = now_usec(CLOCK_MONOTONIC);
        Result r;

        run(argv, "", 0, 200 * USEC_PER_MSEC, NULL, &r);
        assert_int_equal(r.status, 0);
        assert_int_equal(r.result, CURLE_OPERATION_TIMEDOUT);
        assert_string_equal(r.error, "timed out after 0.2s");
        assert_true(now_usec(CLOCK_MONOTONIC) - t0 >= 5 * USEC_PER_SEC);

        pid_t helper = (pid_t)atoi(r.body);
        assert_true(helper > 1);
        for (int i = 0; i < 100 && !process_gone(helper); i++)
                usleep(50000);
        assert_true(process_gone(helper));
        result_done(&r);
}

/* The program exits at once, a helper keeps the output open: the run ends at its EOF. */
static void test_waits_for_output_eof(void **state) {
        const char *argv[] = {"/bin/sh", "-c", "echo a; (sleep 1; echo b) & exit 0", NULL};
        Result r;

        run(argv, "", 0, 10 * USEC_PER_SEC, NULL, &r);
        assert_int_equal(r.status, 200);
        assert_string_equal(r.body, "a\nb\n");
        result_done(&r);
}

/* A helper that ignores SIGTERM holds the output past the timeout: closed at the SIGKILL
 * stage, and the program's own exit status stands. */
static void test_output_held_past_timeout(void **state) {
        const char *argv[] = {"/bin/sh", "-c", "(trap '' TERM; sleep 30) & echo started; exit 4",
                              NULL};
        Result r;

        run(argv, "", 0, 200 * USEC_PER_MSEC, NULL, &r);
        assert_int_equal(r.status, 500);
        assert_int_equal(r.exit_code, 4);
        assert_string_equal(r.body, "started\n");
        result_done(&r);
}

static void test_killed_by_signal(void **state) {
        const char *argv[] = {"/bin/sh", "-c", "kill -9 $$", NULL};
        Result r;

        run(argv, "", 0, 10 * USEC_PER_SEC, NULL, &r);
        assert_int_equal(r.status, 0);
        assert_int_not_equal(r.result, CURLE_OK);
        assert_int_equal(r.exit_code, -1);
        assert_string_equal(r.error, "killed by signal 9");
        result_done(&r);
}

static void test_missing_program(void **state) {
        const char *argv[] = {"/nonexistent/earshot-notify", "x", NULL};
        Result r;

        run(argv, "{}", 2, 10 * USEC_PER_SEC, NULL, &r);
        assert_int_equal(r.status, 0);
        assert_int_equal(r.result, CURLE_FAILED_INIT);
        assert_int_equal(r.exit_code, -1);
        assert_string_equal(r.error, "cannot start: No such file or directory");
        assert_string_equal(r.body, "");
        result_done(&r);
}

/* A file without execute permission (EACCES, for root too). */
static void test_not_executable(void **state) {
        char path[] = "/tmp/earshot-test-exec.XXXXXX";
        int fd = mkstemp(path);
        const char *argv[] = {path, NULL};
        Result r;

        assert_true(fd >= 0);
        assert_int_equal(write(fd, "#!/bin/sh\n", 10), 10);
        close(fd);
        assert_int_equal(chmod(path, 0644), 0);
        run(argv, "", 0, 10 * USEC_PER_SEC, NULL, &r);
        unlink(path);
        assert_int_equal(r.result, CURLE_FAILED_INIT);
        assert_string_equal(r.error, "cannot start: Permission denied");
        result_done(&r);
}

static void test_clean_environment(void **state) {
        const char *argv[] = {"/usr/bin/env", NULL};
        Result r;

        setenv("EARSHOT_TEST_SECRET", "must-not-leak", 1);
        run(argv, "", 0, 10 * USEC_PER_SEC, "7f3c0a", &r);
        assert_string_equal(r.body, "PATH=/usr/local/bin:/usr/bin:/bin\n"
                                    "LANG=C.UTF-8\n"
                                    "EARSHOT_ALERT_ID=7f3c0a\n");
        result_done(&r);

        run(argv, "", 0, 10 * USEC_PER_SEC, NULL, &r);
        assert_string_equal(r.body, "PATH=/usr/local/bin:/usr/bin:/bin\nLANG=C.UTF-8\n");
        result_done(&r);
        unsetenv("EARSHOT_TEST_SECRET");
}

/* Working directory "/", only the three standard descriptors, an empty signal mask, default
 * dispositions (the test ignores SIGPIPE, as earshotd does), a session of its own. */
static void test_process_setup(void **state) {
        const char *pwd[] = {"/bin/pwd", NULL};
        const char *ls[] = {"/bin/ls", "/proc/self/fd", NULL};
        const char *grep[] = {"/bin/grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status", NULL};
        const char *sid[] = {"/bin/sh", "-c", "echo $$ $(cut -d' ' -f6 /proc/$$/stat)", NULL};
        /* a descriptor without O_CLOEXEC in the daemon must not reach the program */
        int leak = dup(STDERR_FILENO);
        Result r;

        assert_true(leak >= 0);
        run(pwd, "", 0, 10 * USEC_PER_SEC, NULL, &r);
        assert_string_equal(r.body, "/\n");
        result_done(&r);

        run(ls, "", 0, 10 * USEC_PER_SEC, NULL, &r);
        assert_string_equal(r.body, "0\n1\n2\n3\n"); /* 3: ls's own look at the directory */
        result_done(&r);
        close(leak);

        run(grep, "", 0, 10 * USEC_PER_SEC, NULL, &r);
        /* signals 1-31; glibc keeps its own (32, 33) out of posix_spawn()'s hands */
        assert_true(strncmp(r.body, "SigBlk:\t0000000000000000\nSigIgn:\t", 33) == 0);
        assert_int_equal(strtoull(r.body + 33, NULL, 16) & 0x7fffffffu, 0);
        result_done(&r);

        run(sid, "", 0, 10 * USEC_PER_SEC, NULL, &r);
        char *space = strchr(r.body, ' ');
        assert_non_null(space);
        assert_int_equal(atoi(r.body), atoi(space + 1));
        result_done(&r);
}

static int on_tick(sd_event_source *s, uint64_t usec, void *userdata) {
        *(bool *)userdata = true;
        return 0;
}

static void test_cancel(void **state) {
        const char *argv[] = {"/bin/sh", "-c", "sleep 30 & wait", NULL};
        struct earshot_request req = {.exec_argv = (char **)argv,
                                      .exec_timeout = (int64_t)(30 * USEC_PER_SEC)};
        sd_event *e = NULL;
        sd_event_source *tick = NULL;
        ExecGlue *g = NULL;
        ExecCall *call = NULL;
        Result r = {};
        bool ticked = false;
        size_t fds = count_fds();

        assert_true(sd_event_new(&e) >= 0);
        assert_int_equal(exec_glue_new(e, &g), 0);
        assert_int_equal(exec_start(g, &req, on_done, &r, &call), 0);
        assert_true(sd_event_add_time_relative(e, &tick, CLOCK_MONOTONIC, 200 * USEC_PER_MSEC, 0,
                                               on_tick, &ticked) >= 0);
        loop_until(e, &ticked, NULL);
        sd_event_source_unref(tick);
        assert_int_equal(exec_in_flight(g), 1);

        exec_cancel(call);
        /* reaped by the loop, no callback */
        loop_until(e, NULL, g);
        assert_int_equal(r.calls, 0);
        assert_no_children();

        /* and exec_glue_free() with one still running */
        assert_int_equal(exec_start(g, &req, on_done, &r, &call), 0);
        exec_glue_free(g);
        sd_event_unref(e);
        assert_int_equal(r.calls, 0);
        assert_no_children();
        assert_int_equal(count_fds(), fds);
}

static void test_bad_requests(void **state) {
        const char *relative[] = {"sh", "-c", "true", NULL};
        struct earshot_request req = {.exec_argv = (char **)relative, .exec_timeout = 1000000};
        sd_event *e = NULL;
        ExecGlue *g = NULL;
        Result r = {};

        assert_true(sd_event_new(&e) >= 0);
        assert_int_equal(exec_glue_new(e, &g), 0);
        assert_int_equal(exec_start(g, &req, on_done, &r, NULL), -EINVAL);
        req.exec_argv = NULL;
        assert_int_equal(exec_start(g, &req, on_done, &r, NULL), -EINVAL);
        const char *ok[] = {"/bin/true", NULL};
        req.exec_argv = (char **)ok;
        req.exec_timeout = 0;
        assert_int_equal(exec_start(g, &req, on_done, &r, NULL), -EINVAL);
        assert_int_equal(exec_in_flight(g), 0);
        exec_glue_free(g);
        sd_event_unref(e);
}

static int setup(void **state) {
        sigset_t ss;

        /* as earshotd does: SIGCHLD is the loop's, a reader that goes away is no signal */
        sigemptyset(&ss);
        sigaddset(&ss, SIGCHLD);
        if (sigprocmask(SIG_BLOCK, &ss, NULL) < 0)
                return -1;
        signal(SIGPIPE, SIG_IGN);
        return 0;
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_cat_echoes_input),
                cmocka_unit_test(test_cat_large_input),
                cmocka_unit_test(test_exit_code),
                cmocka_unit_test(test_output_capped),
                cmocka_unit_test(test_timeout),
                cmocka_unit_test(test_timeout_sigkill_group),
                cmocka_unit_test(test_waits_for_output_eof),
                cmocka_unit_test(test_output_held_past_timeout),
                cmocka_unit_test(test_killed_by_signal),
                cmocka_unit_test(test_missing_program),
                cmocka_unit_test(test_not_executable),
                cmocka_unit_test(test_clean_environment),
                cmocka_unit_test(test_process_setup),
                cmocka_unit_test(test_cancel),
                cmocka_unit_test(test_bad_requests),
        };
        return cmocka_run_group_tests_name("exec", tests, setup, NULL);
}
