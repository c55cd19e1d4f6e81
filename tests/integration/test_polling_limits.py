#!/usr/bin/env python3
"""polling_limits: per-host budgets, staggered first polls and coverage gaps.

One earshotd, http.host_spacing 300ms, three loopback servers:

  1. "busy": one Mastodon source with six hashtags (interval 1s, i.e. six times the
     ~3.3 requests/s that 300 ms allow).  Fast answers for ~7 s, then every answer takes
     2 s for ~7 s: request starts to the server are never closer than ~300 ms (the feeds
     share the host's budget), and at most max_per_host (default 4) are in flight at once
     (and more than one: the budget is not accidentally 1).  Then the config is reloaded
     (SIGHUP) with http.max_per_host 1 while slow requests are in flight (the reload
     cancels them; their share of the budget must be given back) and every answer takes
     1 s: never two requests in flight, the spacing still holds, and the feeds go on
     being polled (no budget leaked by the cancelled transfers);
  2. "stagger": eight hashtags with interval 8s: the first polls are spread over the
     interval (the last first request comes >= 3 s after start, all of them within
     8 s + slack), not fired all at once;
  3. "hn": a Hacker News (Algolia) source with hits_per_page 2 and max_pages 1 whose
     second poll finds a full page and more pages: the plugin reports a coverage gap; the
     core logs one warning naming the feed and "coverage gap (max_pages)", stores it, and
     `earshotctl sources` shows "1 coverage gap" (--json: gaps 1).
"""

import json
import os
import re
import subprocess
import threading
import time

import harness as H

TL = "/api/v1/timelines/tag/"
BUSY_TAGS = [f"b{i}" for i in range(1, 7)]
STAGGER_TAGS = [f"s{i}" for i in range(1, 9)]
SPACING = 0.3
TOL = 0.06   # request starts are timed at the server: connection set-up may differ


class Busy:
    """Tags of a MastodonInstance answered after `delay` s; counts requests in flight per
    generation (the generation is bumped after a reload: cancelled requests of the old
    instances are still sleeping in the mock and must not count)."""

    def __init__(self, inst, tags):
        self.inst = inst
        self.lock = threading.Lock()
        self.delay = 0.0
        self.gen = 0
        self.inflight = {}
        for t in tags:
            inst.server.route(TL + t, self.handle)

    def handle(self, entry):
        with self.lock:
            g = self.gen
            self.inflight[g] = self.inflight.get(g, 0) + 1
            entry["gen"] = g
            entry["inflight"] = self.inflight[g]
            delay = self.delay
        try:
            if delay:
                self.inst.server.stopping.wait(delay)
            return self.inst._timeline(entry)
        finally:
            with self.lock:
                self.inflight[g] -= 1


class Algolia:
    """GET /api/v1/search_by_date: empty, except the first request with a numericFilters
    window (the feed's second poll), which gets a full page of 2 hits out of 6."""

    def __init__(self, server):
        self.server = server
        self.lock = threading.Lock()
        self.served_full = False
        server.route("/api/v1/search_by_date", self.handle)

    def handle(self, entry):
        q = entry["query"]
        hits, nb = [], 0
        with self.lock:
            full = "numericFilters" in q and not self.served_full
            self.served_full = self.served_full or full
        if full:
            now = int(time.time())
            hits = [{"objectID": str(9002 - i), "created_at_i": now - 10 - i,
                     "created_at": H.iso_ms(now - 10 - i), "author": f"hn{i}",
                     "comment_text": f"acme refund please (hn {i})", "parent_id": 9000,
                     "story_id": 9000, "_tags": ["comment", f"author_hn{i}", "story_9000"]}
                    for i in range(2)]
            nb = 6
        entry["full_page"] = full
        return H.Response(200, {"hits": hits, "nbHits": nb, "page": int(q.get("page", 0)),
                                "nbPages": 3 if nb else 0, "hitsPerPage": 2,
                                "processingTimeMS": 1})


def ctl(d, *args, timeout=20):
    argv = [H.earshotctl_path(), "--state-dir", d.state_dir, "--config", d.config_path, *args]
    r = subprocess.run(argv, capture_output=True, timeout=H.scaled(timeout),
                       env={k: v for k, v in os.environ.items() if k != "NOTIFY_SOCKET"})
    out = r.stdout.decode("utf-8", "replace")
    err = r.stderr.decode("utf-8", "replace")
    n = getattr(d, "_ctl_runs", 0) + 1
    d._ctl_runs = n
    d.case.save(f"ctl-{n:03d}-{'-'.join(a.strip('-') for a in args)}.txt",
                f"$ {' '.join(argv)}\nexit {r.returncode}\n--- stdout\n{out}\n--- stderr\n{err}")
    return r.returncode, out, err


def min_gap(reqs):
    ts = sorted(r["t"] for r in reqs)
    gs = [b - a for a, b in zip(ts, ts[1:])]
    return (min(gs) if gs else None), len(ts)


def test(case):
    hook = H.WebhookReceiver(case.server("hook"), "/hook")
    busy_srv = case.server("busy")
    busy = H.MastodonInstance(busy_srv, tags=BUSY_TAGS, first_id=160000000000000001)
    bz = Busy(busy, BUSY_TAGS)
    stag = H.MastodonInstance(case.server("stagger"), tags=STAGGER_TAGS,
                              first_id=170000000000000001)
    hn_srv = case.server("hn")
    algolia = Algolia(hn_srv)

    def config(http):
        return H.make_config(
            sources=[
                H.mastodon_source("busy", busy.url, tags=BUSY_TAGS, check_instance=False),
                H.mastodon_source("stagger", stag.url, tags=STAGGER_TAGS, interval="8s",
                                  check_instance=False),
                {"name": "hn", "type": "hackernews", "interval": "1s", "queries": ["acme"],
                 "hits_per_page": 2, "max_pages": 1, "base_url": hn_srv.url},
            ],
            notifiers=[H.webhook_notifier("hook", hook.url)],
            http=http)

    http1 = {"timeout": "5s", "connect_timeout": "1s", "host_spacing": "300ms"}
    d = case.daemon(config(http1))
    for s in case.servers:
        s.probe = d.log_size
    d.start()
    t_ready = time.monotonic()

    def alive():
        H.check(d.alive(), f"earshotd exited with status {d.proc.returncode}")

    # ---- 2. staggered first polls (interval 8s) ------------------------------------------
    def firsts():
        out = {}
        for t in STAGGER_TAGS:
            r = stag.timeline_requests(t)
            if r:
                out[t] = r[0]["t"] - t_ready
        return out if len(out) == len(STAGGER_TAGS) else None

    first = H.wait_until(lambda: alive() or firsts(), 8 + 6, "a first poll of every #s* feed")
    ts = sorted(first.values())
    case.note(f"stagger: first polls at {', '.join(f'{x:.1f}' for x in ts)} s after READY")
    case.expect(ts[-1] >= 3.0, f"stagger: all eight first polls came within {ts[-1]:.1f}s of "
                               "start (interval 8s): not spread over the interval")
    case.expect(ts[-1] <= 8 + 3.0 * H.TIMEOUT_SCALE,
                f"stagger: a first poll came {ts[-1]:.1f}s after start (interval 8s)")

    # ---- 1a. fast answers: spacing ---------------------------------------------------------
    H.wait_until(lambda: alive() or time.monotonic() - t_ready >= 7, 10, "phase A")
    mark_b = busy_srv.mark()
    bz.delay = 2.0
    t_b = time.monotonic()
    reqs_a = busy_srv.log(TL)[:mark_b]
    mg, n = min_gap(reqs_a)
    case.note(f"busy, fast: {n} requests in {t_b - t_ready:.1f}s, closest starts {mg:.3f}s")
    case.expect(mg is not None and mg >= SPACING - TOL,
                f"busy, fast: two request starts {mg:.3f}s apart (host_spacing 300ms)")
    rate = n / (t_b - t_ready)
    case.expect(rate <= 1 / (SPACING - TOL) and n >= 10,
                f"busy, fast: {n} requests in {t_b - t_ready:.1f}s ({rate:.1f}/s): want <= "
                "~3.3/s (spacing) and enough to mean something")

    # ---- 1b. slow answers: at most max_per_host (4) in flight --------------------------------
    H.wait_until(lambda: alive() or time.monotonic() - t_b >= 7, 10, "phase B")
    reqs_b = busy_srv.log(TL, mark_b)
    peak_b = max((r["inflight"] for r in reqs_b if "inflight" in r), default=0)
    mg, n = min_gap(reqs_b)
    case.note(f"busy, 2 s answers: {n} requests, at most {peak_b} in flight, closest starts "
              f"{mg:.3f}s")
    case.expect(1 < peak_b <= 4, f"busy, 2 s answers: {peak_b} requests in flight at once "
                                 "(want 2..4: max_per_host defaults to 4)")
    case.expect(mg is not None and mg >= SPACING - TOL,
                f"busy, 2 s answers: two request starts {mg:.3f}s apart (host_spacing 300ms)")

    # ---- 1c. reload with max_per_host 1 while requests are in flight -------------------------
    H.wait_until(lambda: bz.inflight.get(0, 0) >= 2, 5, "slow requests in flight")
    d.write_config(config(dict(http1, max_per_host=1)))
    d.reload()
    with bz.lock:
        bz.gen = 1
        bz.delay = 1.0
    mark_c = busy_srv.mark()
    t_c = time.monotonic()
    H.wait_until(lambda: alive() or time.monotonic() - t_c >= 8, 11, "phase C")
    reqs_c = busy_srv.log(TL, mark_c)
    gen1 = [r for r in reqs_c if r.get("gen") == 1]
    peak_c = max((r["inflight"] for r in gen1), default=0)
    mg, n = min_gap(reqs_c)
    tags_c = {r["path"][len(TL):] for r in gen1}
    case.note(f"busy, max_per_host 1, 1 s answers: {len(gen1)} requests in 8 s, at most "
              f"{peak_c} in flight, closest starts {mg if mg is None else round(mg, 3)}s, "
              f"feeds polled {sorted(tags_c)}")
    case.expect(peak_c == 1, f"busy, max_per_host 1: {peak_c} requests in flight at once")
    case.expect(len(gen1) >= 5, f"busy, max_per_host 1: only {len(gen1)} requests in 8 s of "
                                "1 s answers (want >= 5: the budget was not given back by the "
                                "transfers cancelled at the reload?)")
    case.expect(len(tags_c) >= 4, f"busy, max_per_host 1: only feeds {sorted(tags_c)} polled "
                                  "in 8 s (want >= 4 of 6)")
    if mg is not None:
        case.expect(mg >= SPACING - TOL, f"busy, max_per_host 1: request starts {mg:.3f}s "
                                         "apart (host_spacing 300ms)")

    # ---- 3. coverage gap (Hacker News, max_pages 1) ----------------------------------------
    H.wait_until(lambda: alive() or algolia.served_full, 10, "the full page on the hn mock")
    key = f"hn/{hn_srv.url}#acme"
    gl = H.wait_until(lambda: [ln for ln in d.all_logs().splitlines()
                               if "coverage gap" in ln], 10, "a coverage-gap log line")
    case.note(f"gap: {gl[0].strip()[:220]}")
    case.expect(len(gl) == 1 and H.is_problem_line(gl[0]) and "max_pages" in gl[0]
                and "hn/" in gl[0],
                f"coverage gap: {len(gl)} lines, want one warning naming the hn feed and "
                f"max_pages: {gl[:2]}")
    rows = d.db_try("SELECT * FROM gaps")
    case.expect(len(rows) == 1 and rows[0].get("feed") == key,
                f"coverage gap: store rows {rows} (want one for {key})")
    rc, out, err = ctl(d, "sources")
    case.expect(rc == 0 and re.search(r"1 coverage gap \(last recorded .*\): some posts may "
                                      r"have been missed", out),
                f"earshotctl sources: no '1 coverage gap' line (exit {rc}):\n{out[-600:]}")
    rc, out, err = ctl(d, "sources", "--json")
    row = next((r for r in json.loads(out or "[]") if r.get("feed") == key), {})
    case.expect(row.get("gaps") == 1, f"earshotctl sources --json {key}: gaps "
                                      f"{row.get('gaps')!r}, want 1")

    alive()
    d.stop()


if __name__ == "__main__":
    H.main("polling_limits", test)
