#!/usr/bin/env python3
"""bench-latency: how soon a complaint reaches the team, streamed versus polled.

Starts one loopback server that answers like a Mastodon instance: the REST hashtag timeline
(GET /api/v1/timelines/tag/TAG with min_id) for two tags, the streaming API
(GET /api/v1/streaming/hashtag?tag=live: server-sent events, a heartbeat every 15 s as
Mastodon sends) for one of them, and a webhook receiver. The real earshotd runs with two
sources: "streamed" (#live, `stream: true`, REST interval 60 s as its safety net) and "polled"
(#polled, REST only, every INTERVAL). The bench publishes POSTS complaints to each tag, GAP
seconds apart (a streamed one goes out on the stream and the timeline at once, a polled one on
the timeline), and measures for each the time from publishing to the webhook request of its
alert. It prints the median, p99 and max per source.

Not a test: it prints figures. Target (issue "Sources II"): a streamed post alerts within 2 s
(median and p99); a polled one waits for the next poll, up to one interval.

    python3 tests/bench/bench-latency.py --earshotd build/daemon/earshotd \\
        --plugin-dir build/plugins [--posts 40] [--gap 1.5] [--interval 60s]
"""

import argparse
import http.server
import json
import os
import signal
import socketserver
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

TOKEN = "bench-token"


class Instance:
    """Two hashtag timelines, a stream of one, and the webhook's arrivals."""

    def __init__(self):
        self.cond = threading.Condition()
        self.next_id = 117020593741189701
        self.timelines = {"live": [], "polled": []}  # newest last: (id, status)
        self.events = []                               # framed SSE events for #live
        self.published = {}                            # uri -> monotonic time
        self.arrived = {}                              # uri -> monotonic time (first alert)
        self.streams = 0

    def publish(self, tag, n):
        with self.cond:
            self.next_id += 1
            sid = self.next_id
            uri = "https://bench.example/users/u%d/statuses/%d" % (n, sid)
            st = {
                "id": str(sid), "uri": uri, "url": "https://bench.example/@u%d/%d" % (n, sid),
                "created_at": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
                "content": "<p>acme, where is my refund? order %d</p>" % sid,
                "spoiler_text": "", "language": "en", "replies_count": 0, "reblogs_count": 0,
                "favourites_count": 0, "reblog": None, "edited_at": None,
                "account": {"id": str(n), "acct": "u%d@bench.example" % n,
                            "display_name": "User %d" % n, "followers_count": 10},
            }
            self.timelines[tag].append((sid, st))
            self.published[uri] = time.monotonic()
            if tag == "live":
                self.events.append(b"event: update\ndata: " + json.dumps(st).encode() + b"\n\n")
            self.cond.notify_all()

    def page(self, tag, min_id):
        with self.cond:
            items = [st for sid, st in self.timelines.get(tag, [])
                     if min_id is None or sid > min_id]
        if min_id is None:
            items = items[-40:]
        else:
            items = items[:40]
        return json.dumps(list(reversed(items))).encode()

    def hook(self, body):
        try:
            uri = ((json.loads(body) or {}).get("post") or {}).get("id")
        except ValueError:
            return
        with self.cond:
            if uri and uri not in self.arrived:
                self.arrived[uri] = time.monotonic()


def make_handler(inst, stopping):
    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def answer(self, status, body, ctype="application/json"):
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def stream(self):
            self.close_connection = True
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(b":)\n")
            self.wfile.flush()
            with inst.cond:
                at = len(inst.events)
                inst.streams += 1
            try:
                while not stopping.is_set():
                    with inst.cond:
                        if len(inst.events) == at:
                            inst.cond.wait(15)
                        new = inst.events[at:]
                        at = len(inst.events)
                    self.wfile.write(b"".join(new) if new else b":thump\n")
                    self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                pass
            finally:
                with inst.cond:
                    inst.streams -= 1

        def do_GET(self):
            u = urllib.parse.urlsplit(self.path)
            q = dict(urllib.parse.parse_qsl(u.query))
            if u.path.startswith("/api/v1/streaming/hashtag"):
                if self.headers.get("Authorization") != "Bearer " + TOKEN:
                    return self.answer(401, b'{"error":"The access token is invalid"}')
                return self.stream()
            if u.path.startswith("/api/v1/timelines/tag/"):
                mid = q.get("min_id")
                return self.answer(200, inst.page(u.path.rsplit("/", 1)[1],
                                                  int(mid) if mid and mid.isdigit() else None))
            if u.path.startswith("/api/v2/instance"):
                return self.answer(200, b"{}")
            return self.answer(404, b'{"error":"Record not found"}')

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path.startswith("/hook"):
                inst.hook(body)
            self.answer(200, b'{"ok":true}')

    return H


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def parse_duration(s):
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    for u in ("ms", "s", "m", "h"):
        if s.endswith(u):
            return float(s[: -len(u)]) * units[u]
    return float(s)


def percentile(values, p):
    """Nearest-rank percentile of a non-empty list."""
    v = sorted(values)
    k = max(0, min(len(v) - 1, int(round(p / 100.0 * len(v) + 0.5)) - 1))
    return v[k]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--earshotd", default=os.environ.get("EARSHOTD", "build/daemon/earshotd"))
    ap.add_argument("--plugin-dir", default=os.environ.get("EARSHOT_PLUGIN_DIR", "build/plugins"))
    ap.add_argument("--posts", type=int, default=40, help="complaints per source (default 40)")
    ap.add_argument("--gap", type=float, default=1.5,
                    help="seconds between two complaints of a source (default 1.5)")
    ap.add_argument("--interval", default="60s", help="the polled source's interval (60s)")
    args = ap.parse_args()

    inst = Instance()
    stopping = threading.Event()
    srv = Server(("127.0.0.1", 0), make_handler(inst, stopping))
    base = "http://127.0.0.1:%d" % srv.server_address[1]
    threading.Thread(target=srv.serve_forever, daemon=True).start()

    work = tempfile.mkdtemp(prefix="earshot-bench-latency-")
    cfg = os.path.join(work, "earshot.yaml")
    with open(cfg, "w") as f:
        f.write("log_level: info\n")
        f.write("defaults:\n  backfill: 1h\n  respond_within: 1h\n")
        f.write("grouping:\n  threads: false\n  copies_window: 0s\n")
        f.write("http:\n  max_per_host: 0\n  host_spacing: 0s\n")
        f.write("brands:\n  - name: acme\n    terms: [acme]\n")
        f.write("rules:\n  - name: refunds\n    brand: acme\n    any: [refund*]\n")
        f.write("notifiers:\n  - name: hook\n    type: webhook\n    url: %s/hook\n" % base)
        f.write("sources:\n")
        f.write("  - name: streamed\n    type: mastodon\n    interval: 60s\n"
                "    instances: [%s]\n    tags: [live]\n    stream: true\n"
                "    access_token: %s\n" % (base, TOKEN))
        f.write("  - name: polled\n    type: mastodon\n    interval: %s\n"
                "    instances: [%s]\n    tags: [polled]\n" % (args.interval, base))

    log = open(os.path.join(work, "earshotd.log"), "w")
    proc = subprocess.Popen([args.earshotd, "--config", cfg, "--state-dir",
                             os.path.join(work, "state"), "--plugin-dir", args.plugin_dir],
                            stdout=log, stderr=subprocess.STDOUT)
    interval = parse_duration(args.interval)
    try:
        # the stream is up (and its catch-up poll done: it comes at once)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (inst.streams < 1 or "stream connected" not in
                                                open(log.name).read()):
            if proc.poll() is not None:
                sys.exit("earshotd exited with %d; see %s" % (proc.returncode, log.name))
            time.sleep(0.1)
        time.sleep(min(interval, 30) + 1)  # the polled feed's staggered first poll
        for n in range(args.posts):
            inst.publish("live", 2 * n)
            inst.publish("polled", 2 * n + 1)
            time.sleep(args.gap)
        # wait for the last polled post: at most one interval (+ jitter)
        deadline = time.monotonic() + interval * 1.2 + 10
        while time.monotonic() < deadline and len(inst.arrived) < len(inst.published):
            time.sleep(0.1)
    finally:
        stopping.set()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        srv.shutdown()

    print("earshotd %s: %d complaints per source, %.1f s apart; polled interval %s"
          % (args.earshotd, args.posts, args.gap, args.interval))
    for name, tag in (("streamed", "live"), ("polled", "polled")):
        uris = [st["uri"] for sid, st in inst.timelines[tag]]
        lat = [inst.arrived[u] - inst.published[u] for u in uris if u in inst.arrived]
        missing = len(uris) - len(lat)
        if not lat:
            print("  %-8s no alert arrived (%d missing)" % (name, missing))
            continue
        med, p99 = statistics.median(lat), percentile(lat, 99)
        target = ""
        if name == "streamed":
            target = "  (target < 2 s: %s)" % ("PASS" if p99 < 2 and not missing else "MISS")
        print("  %-8s alerts %d/%d  median %.3f s  p99 %.3f s  max %.3f s%s"
              % (name, len(lat), len(uris), med, p99, max(lat), target))
    print("  log: %s" % log.name)


if __name__ == "__main__":
    main()
