#!/usr/bin/env python3
"""bench-sources: what 1,000 sources cost earshotd.

Starts a loopback HTTP server that answers like a Mastodon hashtag timeline, writes a config
with N sources (one tag each) polling every INTERVAL, runs the real earshotd against it for
MINUTES, and prints the daemon's CPU share (user + system time over wall time, from
/proc/PID/stat) and its peak RSS (VmHWM from /proc/PID/status), plus how many requests the
server answered. A few statuses per minute carry a complaint, so the matcher, the store and
the log notifier do some work too.

Not a test: it prints figures. Targets (issue "Sources I"): under 5 % of one core and under
50 MiB with 1,000 sources at a 60 s interval for 10 minutes.

    python3 tests/bench/bench-sources.py --earshotd build/daemon/earshotd \\
        --plugin-dir build/plugins [--sources 1000] [--interval 60s] [--minutes 10]
"""

import argparse
import http.server
import json
import os
import random
import signal
import socketserver
import subprocess
import sys
import tempfile
import threading
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")


class Timeline:
    """Statuses per tag; a new one now and then, some of them complaints."""

    def __init__(self, n_tags, complaint_every):
        self.lock = threading.Lock()
        self.next_id = 117020593741189701
        self.statuses = {}  # tag -> list of (id, json)
        self.n_tags = n_tags
        self.complaint_every = complaint_every
        self.requests = 0
        self.posted = 0

    def post(self, tag):
        with self.lock:
            self.next_id += 1
            sid = self.next_id
            self.posted += 1
            complaint = self.posted % self.complaint_every == 0
        text = ("<p>acme, where is my refund? order %d</p>" % sid if complaint
                else "<p>lovely day at the park #%s %d</p>" % (tag, sid))
        now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
        st = {
            "id": str(sid), "uri": "https://bench.example/users/u%d/statuses/%d" % (sid % 97, sid),
            "url": "https://bench.example/@u%d/%d" % (sid % 97, sid), "created_at": now,
            "content": text, "spoiler_text": "", "language": "en", "replies_count": 0,
            "reblogs_count": 0, "favourites_count": 0, "reblog": None,
            "account": {"acct": "u%d" % (sid % 97), "display_name": "User", "followers_count": 10},
        }
        with self.lock:
            lst = self.statuses.setdefault(tag, [])
            lst.insert(0, (sid, st))
            del lst[40:]

    def page(self, tag, min_id):
        with self.lock:
            self.requests += 1
            lst = self.statuses.get(tag, [])
            out = [st for sid, st in lst if min_id is None or sid > min_id]
        return json.dumps(out[:40]).encode()


def make_handler(tl):
    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def do_GET(self):
            path, _, query = self.path.partition("?")
            params = dict(p.split("=", 1) for p in query.split("&") if "=" in p)
            if path.startswith("/api/v1/timelines/tag/"):
                tag = path.rsplit("/", 1)[1]
                mid = params.get("min_id")
                body = tl.page(tag, int(mid) if mid and mid.isdigit() else None)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
            else:
                body = b"{}"
                self.send_response(200 if path.startswith("/api/v2/instance") else 404)
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return H


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def proc_cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime


def proc_status(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])  # kB
    return 0


def parse_duration(s):
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    for u in ("ms", "s", "m", "h"):
        if s.endswith(u):
            return float(s[: -len(u)]) * units[u]
    return float(s)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--earshotd", default=os.environ.get("EARSHOTD", "build/daemon/earshotd"))
    ap.add_argument("--plugin-dir", default=os.environ.get("EARSHOT_PLUGIN_DIR", "build/plugins"))
    ap.add_argument("--sources", type=int, default=1000)
    ap.add_argument("--interval", default="60s")
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--posts-per-minute", type=float, default=60.0,
                    help="new statuses per minute across all tags (default 60)")
    ap.add_argument("--complaint-every", type=int, default=10,
                    help="every Nth status is a complaint that alerts (default 10)")
    args = ap.parse_args()

    tl = Timeline(args.sources, args.complaint_every)
    srv = Server(("127.0.0.1", 0), make_handler(tl))
    port = srv.server_address[1]
    threading.Thread(target=srv.serve_forever, daemon=True).start()

    work = tempfile.mkdtemp(prefix="earshot-bench-sources-")
    state = os.path.join(work, "state")
    cfg = os.path.join(work, "earshot.yaml")
    with open(cfg, "w") as f:
        f.write("log_level: notice\n")
        f.write("defaults:\n  backfill: 1m\n")
        # one loopback server stands for 1,000 real ones: no per-server budget
        f.write("http:\n  max_per_host: 0\n  host_spacing: 0s\n")
        f.write("brands:\n  - name: acme\n    terms: [acme]\n")
        f.write("rules:\n  - name: refunds\n    any: [refund*, \"money back\"]\n")
        f.write("notifiers:\n  - name: console\n    type: log\n")
        f.write("sources:\n")
        for i in range(args.sources):
            f.write("  - name: s%d\n    type: mastodon\n    interval: %s\n"
                    "    instances: [http://127.0.0.1:%d]\n    tags: [tag%d]\n"
                    % (i, args.interval, port, i))

    log = open(os.path.join(work, "earshotd.log"), "w")
    proc = subprocess.Popen([args.earshotd, "--config", cfg, "--state-dir", state,
                             "--plugin-dir", args.plugin_dir],
                            stdout=log, stderr=subprocess.STDOUT)
    start = time.monotonic()
    deadline = start + args.minutes * 60
    cpu0 = None
    warm = min(parse_duration(args.interval), 60)  # the staggered first polls
    gap = 60.0 / args.posts_per_minute if args.posts_per_minute > 0 else None
    next_post = time.monotonic()
    try:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                sys.exit("earshotd exited with %d; see %s" % (proc.returncode, log.name))
            if cpu0 is None and time.monotonic() - start >= warm:
                cpu0, t0, req0 = proc_cpu_seconds(proc.pid), time.monotonic(), tl.requests
            if gap and time.monotonic() >= next_post:
                tl.post("tag%d" % random.randrange(args.sources))
                next_post += gap
            time.sleep(0.05)
        cpu1, t1, req1 = proc_cpu_seconds(proc.pid), time.monotonic(), tl.requests
        hwm = proc_status(proc.pid, "VmHWM")
        rss = proc_status(proc.pid, "VmRSS")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        srv.shutdown()

    if cpu0 is None:
        sys.exit("the run was shorter than the warm-up (%ds); give more --minutes" % warm)
    share = 100.0 * (cpu1 - cpu0) / (t1 - t0)
    alerts = sum(1 for line in open(log.name) if "delivered alert" in line or "ALERT" in line)
    print("earshotd %s: %d sources, interval %s, %.1f min measured after a %.0f s warm-up"
          % (args.earshotd, args.sources, args.interval, (t1 - t0) / 60, warm))
    print("  requests answered: %d (%.1f/s); statuses posted: %d"
          % (req1 - req0, (req1 - req0) / (t1 - t0), tl.posted))
    print("  CPU: %.2f %% of one core (target < 5 %%)  %s" % (share, "PASS" if share < 5 else "MISS"))
    print("  peak RSS: %.1f MiB (target < 50 MiB)  %s; RSS at the end %.1f MiB"
          % (hwm / 1024, "PASS" if hwm / 1024 < 50 else "MISS", rss / 1024))
    print("  log: %s" % log.name)


if __name__ == "__main__":
    main()
