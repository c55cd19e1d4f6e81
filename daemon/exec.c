/* SPDX-License-Identifier: MIT */
/*
 * exec.c - a notifier's program (request_exec), run as a child of earshotd and watched by the
 * sd-event loop, which it never blocks.
 *
 * What a program gets: argv exactly as configured (argv[0] an absolute path: no shell, no
 * $PATH search); the environment PATH=/usr/local/bin:/usr/bin:/bin, LANG=C.UTF-8 and
 * EARSHOT_ALERT_ID=<id> and nothing else (no secret of the daemon's leaks into it); the request
 * body on standard input, through a pipe the loop fills without blocking (a program that does
 * not read it is fine: the rest is dropped); standard output and error on one pipe, of which
 * the first 64 KiB are kept and the rest drained and dropped; no other file descriptor; "/" as
 * its working directory; default signal dispositions and an empty signal mask; a session of its
 * own, so that the timeout reaches whatever it started.
 *
 * The timeout: at req->exec_timeout the whole process group gets SIGTERM, 5 s later SIGKILL;
 * by then the output pipe is closed even when a process outside the group still holds it.
 *
 * The callback runs exactly once per run, from the loop, when the child has exited (sd-event
 * reaps it right after) AND its output pipe reached EOF or was closed at the SIGKILL stage, or
 * when the program could not be started. Never from inside exec_start(). The response:
 *   exit 0                 status 200, CURLE_OK, exit_code 0
 *   exit N (N != 0)        status 500, CURLE_OK, exit_code N
 *   killed for the timeout status 0, CURLE_OPERATION_TIMEDOUT, "timed out after 30s"
 *   killed by a signal     status 0, CURLE_RECV_ERROR, "killed by signal 9"
 *   not started            status 0, CURLE_FAILED_INIT, "cannot start: No such file or ..."
 * exit_code is -1 unless the program exited by itself. The body is the output, NUL-terminated.
 *
 * Spawning goes through posix_spawn(): glibc clones with CLONE_VFORK, so the parent waits only
 * until the child has called execve(), and an execve() failure comes back as posix_spawn()'s
 * return value, the failed child already reaped. Everything between clone and execve (setsid,
 * chdir, dup2, closing the other descriptors, signal reset) is done by glibc's file actions
 * and attributes, async-signal-safe by construction.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exec.h"
#include "log.h"
#include "util/cleanup.h"

#define OUTPUT_MAX (64u * 1024u)      /* bytes of output kept */
#define KILL_DELAY (5 * USEC_PER_SEC) /* from SIGTERM to SIGKILL */
#define READS_PER_WAKEUP 16           /* so a chatty child cannot hog the loop */

static const char ENV_PATH[] = "PATH=/usr/local/bin:/usr/bin:/bin";
static const char ENV_LANG[] = "LANG=C.UTF-8";

struct ExecGlue {
        sd_event *event; /* ref */
        ExecCall *calls; /* owned list: running, or cancelled and waiting to be reaped */
};

typedef enum KillStage {
        STAGE_RUNNING, /* before the timeout */
        STAGE_TERM,    /* SIGTERM sent, SIGKILL armed */
        STAGE_KILL,    /* SIGKILL sent */
} KillStage;

struct ExecCall {
        ExecGlue *glue;  /* borrowed: the owner */
        ExecDoneFunc cb; /* NULL once cancelled */
        void *userdata;
        char *path; /* owned: argv[0], the response's url */
        pid_t pid;  /* 0 when not started */
        usec_t timeout;
        usec_t started; /* CLOCK_MONOTONIC */
        KillStage stage;
        bool timed_out;  /* the timeout fired while the program ran */
        bool exited;     /* the child source reported its end */
        siginfo_t si;    /* how it ended */
        int start_error; /* errno of a failed start, reported from `defer` */

        int in_fd; /* owned: write end of its stdin, -1 once done */
        char *in;  /* owned: what is left to write */
        size_t in_len, in_off;
        int out_fd; /* owned: read end of its stdout+stderr, -1 at EOF */
        char *out;  /* owned: OUTPUT_MAX + 1 bytes */
        size_t out_len;
        bool out_cut; /* more than OUTPUT_MAX came */

        sd_event_source *child;      /* owned */
        sd_event_source *in_source;  /* owned */
        sd_event_source *out_source; /* owned */
        sd_event_source *timer;      /* owned */
        sd_event_source *defer;      /* owned: reports a failed start */

        ExecCall *prev, *next; /* ExecGlue::calls */
};

static void close_in(ExecCall *c) {
        c->in_source = sd_event_source_disable_unref(c->in_source);
        if (c->in_fd >= 0)
                close(c->in_fd);
        c->in_fd = -1;
        free(c->in);
        c->in = NULL;
}

static void close_out(ExecCall *c) {
        c->out_source = sd_event_source_disable_unref(c->out_source);
        if (c->out_fd >= 0)
                close(c->out_fd);
        c->out_fd = -1;
}

static void kill_group(ExecCall *c, int sig) {
        /* the child leads its own session and process group (setsid), pgid == pid; a group
         * whose leader is gone may still hold its helpers */
        if (c->pid > 0 && kill(-c->pid, sig) < 0 && errno == ESRCH && !c->exited)
                (void)kill(c->pid, sig);
}

/* Unlink and free. A child still running is killed and reaped here, blocking for as long as
 * a SIGKILLed process takes to go: only exec_glue_free(), when the loop is over, and a start
 * that failed half-way get here with one. */
static void call_free(ExecCall *c) {
        ExecGlue *g = c->glue;

        close_in(c);
        close_out(c);
        c->timer = sd_event_source_disable_unref(c->timer);
        c->defer = sd_event_source_disable_unref(c->defer);
        c->child = sd_event_source_disable_unref(c->child);
        if (c->pid > 0 && !c->exited) {
                siginfo_t si = {};
                kill_group(c, SIGKILL);
                while (waitid(P_PID, (id_t)c->pid, &si, WEXITED) < 0 && errno == EINTR)
                        ;
        }
        if (c->prev)
                c->prev->next = c->next;
        else if (g->calls == c)
                g->calls = c->next;
        if (c->next)
                c->next->prev = c->prev;
        free(c->path);
        free(c->out);
        free(c);
}

static void format_seconds(char *buf, size_t len, usec_t usec) {
        if (usec % USEC_PER_SEC == 0)
                (void)snprintf(buf, len, "%llus", (unsigned long long)(usec / USEC_PER_SEC));
        else
                (void)snprintf(buf, len, "%.1fs", (double)usec / (double)USEC_PER_SEC);
}

/* Hand the response to the callback, then free the call. */
static void finish(ExecCall *c) {
        ExecDoneFunc cb = c->cb;
        char error[128], secs[32];
        HttpResponse resp = {
                .status = 0,
                .result = CURLE_OK,
                .body = c->out,
                .body_len = c->out_len,
                .too_large = c->out_cut,
                .url = c->path,
                .elapsed = c->started ? now_usec(CLOCK_MONOTONIC) - c->started : 0,
                .exit_code = -1,
        };

        c->out[c->out_len] = 0;
        if (c->start_error) {
                resp.result = CURLE_FAILED_INIT;
                (void)snprintf(error, sizeof(error), "cannot start: %s", strerror(c->start_error));
                resp.error = error;
        } else if (c->timed_out) {
                format_seconds(secs, sizeof(secs), c->timeout);
                resp.result = CURLE_OPERATION_TIMEDOUT;
                (void)snprintf(error, sizeof(error), "timed out after %s", secs);
                resp.error = error;
        } else if (c->si.si_code == CLD_EXITED) {
                resp.exit_code = c->si.si_status;
                resp.status = c->si.si_status == 0 ? 200 : 500;
        } else {
                resp.result = CURLE_RECV_ERROR;
                (void)snprintf(error, sizeof(error), "killed by signal %d%s", c->si.si_status,
                               c->si.si_code == CLD_DUMPED ? " (core dumped)" : "");
                resp.error = error;
        }

        /* the call ends with its callback, which may start runs of its own (they go to the
         * head of the list) but must not cancel this one: *ret is void from here on */
        c->cb = NULL;
        if (cb)
                cb(c, &resp, c->userdata);
        call_free(c);
}

/* Done when the child is gone and its output is read (or given up on). */
static void maybe_finish(ExecCall *c) {
        if (!c->exited || c->out_fd >= 0)
                return;
        if (!c->cb) {
                call_free(c); /* cancelled, now reaped */
                return;
        }
        finish(c);
}

static int on_child(sd_event_source *s, const siginfo_t *si, void *userdata) {
        ExecCall *c = userdata;

        /* sd-event reaps the child right after this returns */
        c->si = *si;
        c->exited = true;
        c->child = sd_event_source_disable_unref(c->child);
        /* nobody reads its standard input any more */
        close_in(c);
        if (c->stage == STAGE_KILL)
                close_out(c); /* past SIGKILL: no more waiting for helpers holding the pipe */
        maybe_finish(c);
        return 0;
}

static int on_output(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        ExecCall *c = userdata;
        char scratch[4096];

        for (int i = 0; i < READS_PER_WAKEUP; i++) {
                char *buf = c->out + c->out_len;
                size_t room = OUTPUT_MAX - c->out_len;
                ssize_t n;

                if (room == 0) {
                        buf = scratch;
                        room = sizeof(scratch);
                }
                n = read(fd, buf, room);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN)
                                return 0;
                        log_debug("%s: cannot read its output: %m", c->path);
                        n = 0; /* treat as EOF */
                }
                if (n == 0) {
                        close_out(c);
                        maybe_finish(c);
                        return 0;
                }
                if (buf == scratch)
                        c->out_cut = true;
                else
                        c->out_len += (size_t)n;
        }
        return 0;
}

static int on_input(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        ExecCall *c = userdata;

        while (c->in_off < c->in_len) {
                ssize_t n = write(fd, c->in + c->in_off, c->in_len - c->in_off);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN)
                                return 0;
                        /* EPIPE: the program does not read its input, its business */
                        if (errno != EPIPE)
                                log_debug("%s: cannot write its input: %m", c->path);
                        break;
                }
                c->in_off += (size_t)n;
        }
        close_in(c); /* all written, or it stopped reading: EOF for it */
        return 0;
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        ExecCall *c = userdata;
        char secs[32];
        int r;

        if (c->stage == STAGE_RUNNING) {
                c->stage = STAGE_TERM;
                if (!c->exited) {
                        c->timed_out = true;
                        format_seconds(secs, sizeof(secs), c->timeout);
                        log_debug("%s (pid %d) ran longer than %s, terminating it", c->path,
                                  (int)c->pid, secs);
                }
                kill_group(c, SIGTERM);
                r = sd_event_source_set_time_relative(s, KILL_DELAY);
                if (r >= 0)
                        r = sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
                if (r >= 0)
                        return 0;
                (void)log_warning_errno(r, "%s: cannot arm the kill timer, killing it now",
                                        c->path);
        }
        c->stage = STAGE_KILL;
        kill_group(c, SIGKILL);
        /* its helpers may keep the output open: stop waiting for them */
        if (c->exited) {
                close_out(c);
                maybe_finish(c);
        }
        return 0;
}

static int on_defer(sd_event_source *s, void *userdata) {
        ExecCall *c = userdata;

        c->defer = sd_event_source_disable_unref(c->defer);
        c->exited = true;
        maybe_finish(c);
        return 0;
}

int exec_glue_new(sd_event *e, ExecGlue **ret) {
        ExecGlue *g = calloc(1, sizeof(*g));
        if (!g)
                return -ENOMEM;
        g->event = sd_event_ref(e);
        *ret = g;
        return 0;
}

ExecGlue *exec_glue_free(ExecGlue *g) {
        if (!g)
                return NULL;
        while (g->calls)
                call_free(g->calls);
        sd_event_unref(g->event);
        free(g);
        return NULL;
}

/* A pipe whose both ends are above stdio and close-on-exec; the given end non-blocking. */
static int make_pipe(int fds[2], int nonblocking_end) {
        if (pipe2(fds, O_CLOEXEC) < 0)
                return -errno;
        for (int i = 0; i < 2; i++)
                if (fds[i] < 3) {
                        /* stdio closed in the daemon: keep dup2() in the child from clobbering */
                        int fd = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
                        if (fd < 0) {
                                int r = -errno;
                                close(fds[0]);
                                close(fds[1]);
                                return r;
                        }
                        close(fds[i]);
                        fds[i] = fd;
                }
        int fl = fcntl(fds[nonblocking_end], F_GETFL);
        if (fl < 0 || fcntl(fds[nonblocking_end], F_SETFL, fl | O_NONBLOCK) < 0) {
                int r = -errno;
                close(fds[0]);
                close(fds[1]);
                return r;
        }
        return 0;
}

/* posix_spawn() with the setup described at the top; 0 or a positive errno, as it returns. */
static int spawn(pid_t *ret_pid, char *const *argv, char *const *envp, int in_fd, int out_fd) {
        posix_spawn_file_actions_t fa;
        posix_spawnattr_t attr;
        sigset_t none, all;
        int r;

        r = posix_spawn_file_actions_init(&fa);
        if (r != 0)
                return r;
        r = posix_spawnattr_init(&attr);
        if (r != 0) {
                posix_spawn_file_actions_destroy(&fa);
                return r;
        }
        sigemptyset(&none);
        sigfillset(&all);
        if ((r = posix_spawn_file_actions_adddup2(&fa, in_fd, STDIN_FILENO)) == 0 &&
            (r = posix_spawn_file_actions_adddup2(&fa, out_fd, STDOUT_FILENO)) == 0 &&
            (r = posix_spawn_file_actions_adddup2(&fa, out_fd, STDERR_FILENO)) == 0 &&
            (r = posix_spawn_file_actions_addclosefrom_np(&fa, 3)) == 0 &&
            (r = posix_spawn_file_actions_addchdir_np(&fa, "/")) == 0 &&
            (r = posix_spawnattr_setsigmask(&attr, &none)) == 0 &&
            (r = posix_spawnattr_setsigdefault(&attr, &all)) == 0 &&
            (r = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK |
                                                         POSIX_SPAWN_SETSIGDEF)) == 0)
                r = posix_spawn(ret_pid, argv[0], &fa, &attr, argv, envp);
        posix_spawnattr_destroy(&attr);
        posix_spawn_file_actions_destroy(&fa);
        return r;
}

int exec_start(ExecGlue *g, const struct earshot_request *req, ExecDoneFunc cb, void *userdata,
               ExecCall **ret) {
        _cleanup_free_ char *env_id = NULL;
        int in[2] = {-1, -1}, out[2] = {-1, -1};
        ExecCall *c;
        int r;

        if (!g || !req || !cb || !req->exec_argv || !req->exec_argv[0] ||
            req->exec_argv[0][0] != '/' || req->exec_timeout <= 0)
                return -EINVAL;
        if (req->exec_alert_id &&
            asprintf(&env_id, "EARSHOT_ALERT_ID=%s", req->exec_alert_id) < 0) {
                env_id = NULL;
                return -ENOMEM;
        }
        char *envp[] = {(char *)ENV_PATH, (char *)ENV_LANG, env_id, NULL};

        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->glue = g;
        c->cb = cb;
        c->userdata = userdata;
        c->in_fd = c->out_fd = -1;
        c->timeout = (usec_t)req->exec_timeout;
        c->path = strdup(req->exec_argv[0]);
        c->out = malloc(OUTPUT_MAX + 1);
        if (req->body_len > 0) {
                c->in = malloc(req->body_len);
                if (c->in) {
                        memcpy(c->in, req->body, req->body_len);
                        c->in_len = req->body_len;
                }
        }
        c->next = g->calls;
        if (g->calls)
                g->calls->prev = c;
        g->calls = c;
        if (!c->path || !c->out || (req->body_len > 0 && !c->in)) {
                r = -ENOMEM;
                goto fail;
        }

        r = make_pipe(in, 1);
        if (r >= 0)
                r = make_pipe(out, 0);
        if (r < 0)
                goto fail;
        c->in_fd = in[1];
        c->out_fd = out[0];

        c->started = now_usec(CLOCK_MONOTONIC);
        r = spawn(&c->pid, req->exec_argv, envp, in[0], out[1]);
        close(in[0]);
        close(out[1]);
        if (r != 0) {
                /* reported from the loop like any other end of a run, never from in here */
                c->pid = 0;
                c->start_error = r;
                close_in(c);
                close_out(c);
                r = sd_event_add_defer(g->event, &c->defer, on_defer, c);
                if (r < 0)
                        goto fail;
                (void)sd_event_source_set_description(c->defer, "exec-failed");
                if (ret)
                        *ret = c;
                return 0;
        }

        r = sd_event_add_child(g->event, &c->child, c->pid, WEXITED, on_child, c);
        if (r < 0)
                goto fail;
        (void)sd_event_source_set_description(c->child, "exec-child");
        r = sd_event_add_io(g->event, &c->out_source, c->out_fd, EPOLLIN, on_output, c);
        if (r < 0)
                goto fail;
        (void)sd_event_source_set_description(c->out_source, "exec-output");
        if (c->in_len > 0) {
                r = sd_event_add_io(g->event, &c->in_source, c->in_fd, EPOLLOUT, on_input, c);
                if (r < 0)
                        goto fail;
                (void)sd_event_source_set_description(c->in_source, "exec-input");
        } else
                close_in(c); /* nothing to say: EOF at once */
        r = sd_event_add_time_relative(g->event, &c->timer, CLOCK_MONOTONIC, c->timeout, 0,
                                       on_timer, c);
        if (r < 0)
                goto fail;
        (void)sd_event_source_set_description(c->timer, "exec-timeout");

        log_debug("started %s (pid %d)", c->path, (int)c->pid);
        if (ret)
                *ret = c;
        return 0;

fail:
        /* call_free() kills and reaps a child already started */
        call_free(c);
        return r;
}

void exec_cancel(ExecCall *c) {
        if (!c)
                return;
        c->cb = NULL;
        if (c->pid <= 0 || c->exited) {
                call_free(c);
                return;
        }
        /* kill it now, reap it when the loop sees it go: no zombie, no wait here */
        kill_group(c, SIGKILL);
        c->stage = STAGE_KILL;
        close_in(c);
        close_out(c);
        c->timer = sd_event_source_disable_unref(c->timer);
}

size_t exec_in_flight(ExecGlue *g) {
        size_t n = 0;

        for (ExecCall *c = g ? g->calls : NULL; c; c = c->next)
                n++;
        return n;
}
