#!/usr/bin/env python3
"""polling: how earshotd polls -- conditional GET, rate limits, failures, silent feeds,
and `earshotctl sources` / `earshotctl poll`.

One earshotd with six Mastodon sources on five loopback servers, all polled at once
(interval 1s); the parts are checked one after the other.

  1. conditional GET (server "cond", tag #cond, check_instance: false): the mock answers
     with ETag + Last-Modified and 304 when If-None-Match matches.  A poll of a URL that
     answered 200 with validators before sends If-None-Match and If-Modified-Since with
     exactly the served values; the 304 is a success (no warning, the cursor in the store
     does not move, `sources --json` counts not_modified, state ok, conditional true); a
     500 between two 304s is followed by a "recovered" notice; a changed body (a new
     status, new ETag) is answered 200 and its complaint reaches the webhook;
  2. rate limits (server "rl", tag #rl): normal answers (~1 s apart), then three with 3 of 300
     calls left and the reset 6 s away, in the three header families (X-RateLimit-* with
     an ISO reset, the combined `RateLimit: limit=, remaining=, reset=`, RateLimit-*):
     each paces the next request to ~6 s / (3 - 1) = 3 s later; then an exhausted quota in
     Reddit's form (X-Ratelimit-Remaining: 0.0, -Used: 300, -Reset: 4 seconds) holds the
     next request until the reset; then 299 left (epoch reset): ~1 s again.  `sources`
     shows "3/300 left, resets in Ns" during the low phase.  Meanwhile the feed on server
     "steady" (another port) keeps its 1 s schedule; it serves gzip when asked to, and its
     complaint alerts;
  3. failures (server "flaky"): #flaky answers 500 three times (the gaps grow like the
     backoff: >= 1 s, >= 2 s, >= 4 s; ONE warning; "recovered after 3 failed polls" once;
     `sources` shows it failing with the HTTP 500 meanwhile); #loop redirects to itself on
     its first two polls (at most 5 redirects followed, one warning naming the redirects,
     the second retry backs off >= 2 s, then recovers); #short announces a longer
     Content-Length than it sends (a failure, then recovered);
  4. silent feeds (server "silent", source with silent_after: 2s, checked every quarter
     of it, at least every second): #dead always answers 500, #quiet and #quiet2 answer
     empty pages; within seconds of start each raises ONE operator alert (network
     "earshot", rules ["source-silent"], severity high) that the webhook receives exactly
     once, one error line each is logged, and `sources` shows SILENT; a complaint on
     #quiet afterwards (then a post every 0.7 s) alerts, "is back" is logged and #quiet is
     ok again while #dead stays SILENT; after a reload (SIGHUP) posts on #quiet2 must clear
     its SILENT state too, and #dead must not raise a second alert;
  5. earshotctl, the daemon stopped: `sources` and `sources --json` list every configured
     source and its feeds with states, posts seen (= what the mock served), failures,
     last error, not-modified count and rate-limit text; `poll pollme` (7 statuses, limit
     5) prints exactly the 5 statuses of the first page the mock served (with the default
     --pages 1, the instance check does not count as a page; also with --pages 2, human and
     --json), and leaves the store byte-for-byte unchanged; `poll` of an unknown source and
     of a source whose server answers 500: exit 1 and a clear message.

Not covered here: the 30 s low-speed limit (too slow for CI); the body cap and the total
timeout are covered by test_bad_input.py; per-host spacing/concurrency, staggered first
polls and coverage gaps by test_polling_limits.py.
"""

import email.utils
import gzip
import hashlib
import json
import os
import re
import subprocess
import threading
import time

import harness as H

TL = "/api/v1/timelines/tag/"


def gaps(reqs):
    return [b["t"] - a["t"] for a, b in zip(reqs, reqs[1:])]


def fmt(xs):
    return "[" + ", ".join(f"{x:.2f}" for x in xs) + "]"


def feed_lines(log, tag, pattern, problem_only=True):
    """Log lines about the feed of #tag matching pattern (at warning or worse)."""
    pat = re.compile(pattern, re.I)
    return [ln for ln in log.splitlines()
            if re.search(rf"#{tag}\b", ln) and pat.search(ln) and (not problem_only or H.is_problem_line(ln))]


class Conditional:
    """#tag of a MastodonInstance with validators: ETag (hash of the body) and
    Last-Modified (when that body was first served); 304 when If-None-Match matches."""

    def __init__(self, inst, tag):
        self.inst = inst
        self.tag = tag
        self.lm = {}
        inst.server.route(TL + tag, self.handle)

    def handle(self, entry):
        resp = self.inst._timeline(entry)
        if resp.status != 200:
            return resp
        etag = '"' + hashlib.sha1(resp.body).hexdigest()[:20] + '"'
        lm = self.lm.setdefault(etag, email.utils.formatdate(time.time(), usegmt=True))
        entry["etag"], entry["last_modified"] = etag, lm
        hdrs = {"ETag": etag, "Last-Modified": lm, "Cache-Control": "no-cache"}
        inm = entry["headers"].get("if-none-match")
        if inm and etag in [v.strip() for v in inm.split(",")]:
            entry["served_ids"] = []
            return H.Response(304, b"", hdrs, content_type=None)
        resp.headers.update(hdrs)
        return resp


class RateLimited:
    """#tag answering "plenty left" until armed; from then on, the n-th request gets the
    rate-limit headers of PLAN[n] (and "normal-epoch" after the plan)."""

    PLAN = ["low-x", "low-combined", "low-ietf", "exhausted"]

    def __init__(self, inst, tag):
        self.inst = inst
        self.n = 0
        self.armed = False
        inst.server.route(TL + tag, self.handle)

    def handle(self, entry):
        resp = self.inst._timeline(entry)
        with self.inst.lock:
            if self.armed:
                n = self.n
                self.n += 1
                entry["rl_idx"] = n
                phase = self.PLAN[n] if n < len(self.PLAN) else "normal-epoch"
            else:
                phase = "normal"
        for k in list(resp.headers):
            if "ratelimit" in k.lower():
                del resp.headers[k]
        now = time.time()
        h = resp.headers
        if phase == "normal":
            h.update({"X-RateLimit-Limit": "300", "X-RateLimit-Remaining": "299",
                      "X-RateLimit-Reset": H.iso_ms(now + 300)})
        elif phase == "low-x":
            h.update({"X-RateLimit-Limit": "300", "X-RateLimit-Remaining": "3",
                      "X-RateLimit-Reset": H.iso_ms(now + 6)})
        elif phase == "low-combined":
            h["RateLimit"] = "limit=300, remaining=3, reset=6"
        elif phase == "low-ietf":
            h.update({"RateLimit-Limit": "300", "RateLimit-Remaining": "3",
                      "RateLimit-Reset": "6"})
        elif phase == "exhausted":
            h.update({"X-Ratelimit-Used": "300", "X-Ratelimit-Remaining": "0.0",
                      "X-Ratelimit-Reset": "4"})
        else:
            h.update({"X-RateLimit-Limit": "300", "X-RateLimit-Remaining": "299",
                      "X-RateLimit-Reset": str(int(now) + 300)})
        entry["rl_phase"] = phase
        return resp


def gzip_route(inst, tag):
    def handle(entry):
        resp = inst._timeline(entry)
        if "gzip" in (entry["headers"].get("accept-encoding") or "") and resp.status == 200:
            resp.body = gzip.compress(resp.body)
            resp.headers["Content-Encoding"] = "gzip"
            entry["gzip"] = True
        return resp
    inst.server.route(TL + tag, handle)


def redirect_loop_route(inst, tag, looping_polls):
    """The first `looping_polls` polls of #tag redirect to themselves, hop after hop."""
    state = {"starts": 0}

    def handle(entry):
        q = entry["query"]
        if "hop" in q:
            hop = int(q["hop"]) + 1
        else:
            with inst.lock:
                n = state["starts"]
                state["starts"] += 1
            if n >= looping_polls:
                return inst._timeline(entry)
            hop = 1
        base = entry["raw_path"].split("&hop=")[0]
        entry["redirect"] = hop
        return H.Response(302, b"", {"Location": f"{base}&hop={hop}"}, content_type="text/plain")
    inst.server.route(TL + tag, handle)


def allow_short_bodies(server):
    """Fault {"short_body": N}: 200 announcing Content-Length N, sending less, closing."""
    orig = server._answer

    def answer(h, entry, fault):
        if not (fault and fault.get("short_body")):
            return orig(h, entry, fault)
        part = b'[{"id": "1", "content": "acme refund please, this status is cut of'
        entry["status"] = 200
        h.close_connection = True
        h.send_response(200)
        h.send_header("Content-Type", "application/json; charset=utf-8")
        h.send_header("Content-Length", str(fault["short_body"]))
        h.end_headers()
        h.wfile.write(part)
        h.wfile.flush()
        entry["bytes_sent"] = len(part)
    server._answer = answer


def always_500(inst, tag):
    inst.server.route(TL + tag, lambda e: H.Response(
        500, b"<html><body>Internal Server Error</body></html>",
        {"Content-Type": "text/html"}))


def ctl(d, *args, timeout=20):
    """earshotctl --state-dir STATE --config CFG ARGS; (exit status, stdout, stderr), saved
    under the case directory (Daemon.ctl would name the file after the config's path)."""
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


def sources_json(d):
    rc, out, err = ctl(d, "sources", "--json")
    H.check(rc == 0, f"earshotctl sources --json: exit {rc}: {err.strip()[:300]}")
    try:
        rows = json.loads(out)
    except ValueError as e:
        raise AssertionError(f"earshotctl sources --json: not JSON ({e}): {out[:300]!r}")
    return {r.get("feed"): r for r in rows}


def test(case):
    hook = H.WebhookReceiver(case.server("hook"), "/hook")

    cond = H.MastodonInstance(case.server("cond"), tags=("cond", "pollme"),
                              first_id=110000000000000001)
    rl = H.MastodonInstance(case.server("rl"), tags=("rl",), first_id=120000000000000001)
    steady = H.MastodonInstance(case.server("steady"), tags=("steady",),
                                first_id=130000000000000001)
    flaky = H.MastodonInstance(case.server("flaky"), tags=("flaky", "loop", "short"),
                               first_id=140000000000000001)
    silent = H.MastodonInstance(case.server("silent"), tags=("dead", "quiet", "quiet2"),
                                first_id=150000000000000001)

    condr = Conditional(cond, "cond")
    rlr = RateLimited(rl, "rl")
    gzip_route(steady, "steady")
    redirect_loop_route(flaky, "loop", 2)
    allow_short_bodies(flaky.server)
    flaky.server.add_faults(TL + "flaky", [
        {"name": f"500-{i}", "status": 500, "body": b"<html>oops</html>",
         "headers": {"Content-Type": "text/html"}} for i in range(3)])
    flaky.server.add_faults(TL + "short", [{"name": "short", "short_body": 4000}])
    always_500(silent, "dead")

    cond.add_status("<p>acme is fine today</p>", tag="cond", acct="c0@cond.example")
    poll_statuses = cond.add_statuses([
        dict(text=f"<p>acme poll status {i}</p>", tag="pollme", acct=f"p{i}@poll.example",
             age=600 - i) for i in range(7)])

    nocheck = {"check_instance": False}
    cfg = H.make_config(
        sources=[
            H.mastodon_source("cond-src", cond.url, tags=["cond"], **nocheck),
            H.mastodon_source("pollme", cond.url, tags=["pollme"], limit=5),
            H.mastodon_source("rl-src", rl.url, tags=["rl"], **nocheck),
            H.mastodon_source("steady-src", steady.url, tags=["steady"], **nocheck),
            H.mastodon_source("flaky-src", flaky.url, tags=["flaky", "loop", "short"],
                              **nocheck),
            H.mastodon_source("silent-src", silent.url, tags=["dead", "quiet", "quiet2"],
                              silent_after="2s", **nocheck),
        ],
        notifiers=[H.webhook_notifier("hook", hook.url)],
        http={"timeout": "3s", "connect_timeout": "1s"})
    d = case.daemon(cfg)
    for s in case.servers:
        s.probe = d.log_size
    d.start()
    t_start = time.monotonic()

    def alive():
        H.check(d.alive(), f"earshotd exited with status {d.proc.returncode}")

    def feed_key(src, inst, tag):
        return f"{src}/{inst.url}#{tag}"

    k_cond = feed_key("cond-src", cond, "cond")
    k_rl = feed_key("rl-src", rl, "rl")
    k_flaky = feed_key("flaky-src", flaky, "flaky")
    k_dead = feed_key("silent-src", silent, "dead")
    k_quiet = feed_key("silent-src", silent, "quiet")
    k_quiet2 = feed_key("silent-src", silent, "quiet2")

    # ---- 3. failures: a snapshot of `sources` while #flaky is failing -------------------
    H.wait_until(lambda: alive() or len(flaky.timeline_requests("flaky")) >= 2, 15,
                 "a second request to #flaky")
    snap = H.wait_until(lambda: (lambda r: r if (r.get(k_flaky) or {}).get("failures", 0) >= 1
                                 else None)(sources_json(d)), 15,
                        "sources --json to show #flaky's failures", interval=0.3)
    fr = snap[k_flaky]
    case.expect(fr.get("state") == "failing", f"sources --json while #flaky fails: state "
                                              f"{fr.get('state')!r}, want 'failing'")
    case.expect("500" in (fr.get("last_error") or ""),
                f"sources --json while #flaky fails: last_error {fr.get('last_error')!r} "
                "does not name the HTTP 500")
    case.expect(fr.get("next_poll"), "sources --json while #flaky fails: no next_poll")
    rc, human, _ = ctl(d, "sources")
    case.expect(re.search(r"failures? in a row \(backing off\).*500", human),
                "earshotctl sources while #flaky fails: no 'N failure(s) in a row (backing "
                f"off) ... 500' line:\n{human}")

    # ---- 1. conditional GET -------------------------------------------------------------
    def cond_reqs():
        return cond.timeline_requests("cond")

    H.wait_until(lambda: alive() or sum(1 for r in cond_reqs() if r["status"] == 304) >= 2,
                 20, "two 304 answers on #cond")
    cursor_before = (d.db_try("SELECT cursor FROM feeds WHERE feed = ?", (k_cond,))
                     or [{}])[0].get("cursor")
    case.note(f"#cond: {len(cond_reqs())} requests, statuses "
              f"{[r['status'] for r in cond_reqs()]}, cursor {cursor_before}")
    # a 500 between 304s, then 304 again: that is a recovery too
    m500 = cond.server.mark()
    cond.server.add_faults(TL + "cond", [{"name": "cond-500", "status": 500,
                                          "body": b"oops", "headers": {"Content-Type":
                                                                       "text/plain"}}])
    H.wait_until(lambda: alive() or [r for r in cond.timeline_requests("cond", m500)
                                     if r["status"] == 304], 20, "a 304 on #cond after its 500")
    rec304 = None
    try:
        rec304 = H.wait_until(lambda: feed_lines(d.log_text(), "cond", r"recovered", False),
                              3, "'recovered' for #cond after 500 then 304")
    except AssertionError:
        pass
    # Regression check (fixed): the 304 branch of on_feed_response() neither calls
    # complaint_release() nor resets f->failures: no "recovered" notice until the next 200,
    # and the next failure backs off as if the 500 had been the previous poll.
    case.expect(rec304, "#cond: no 'recovered' notice after a 500 followed by a 304 (a 304 "
                        "is a successful poll; expected 'recovered after 1 failed poll')")
    cursor_after = (d.db_try("SELECT cursor FROM feeds WHERE feed = ?", (k_cond,))
                    or [{}])[0].get("cursor")
    case.expect(cursor_before and cursor_after == cursor_before,
                f"#cond: the cursor moved over 304 answers: {cursor_before!r} -> "
                f"{cursor_after!r}")
    new = cond.add_status("<p>acme refund please (changed body)</p>", tag="cond",
                          acct="changed@cond.example")
    hook.wait_posts([new["uri"]], 20)
    H.wait_until(lambda: [r for r in cond_reqs() if r["status"] == 304 and
                          r["t"] > hook.by_post()[new["uri"]][0]["t"]], 20,
                 "a 304 on #cond after the changed body")
    reqs = cond_reqs()
    served = {}   # raw_path -> (etag, last_modified) of the last 200 with validators
    n304 = 0
    for r in reqs:
        inm = r["headers"].get("if-none-match")
        ims = r["headers"].get("if-modified-since")
        prev = served.get(r["raw_path"])
        if prev:
            case.expect(inm == prev[0], f"#cond {r['raw_path']}: If-None-Match {inm!r}, want "
                                        f"{prev[0]!r} (the ETag served for that URL)")
            case.expect(ims == prev[1], f"#cond {r['raw_path']}: If-Modified-Since {ims!r}, "
                                        f"want {prev[1]!r}")
        elif inm or ims:
            case.expect(False, f"#cond {r['raw_path']}: validators {inm!r}/{ims!r} sent for a "
                               "URL that never answered 200 with them")
        if r["status"] == 200 and r.get("etag"):
            served[r["raw_path"]] = (r["etag"], r["last_modified"])
        n304 += r["status"] == 304
    case.note(f"#cond: {len(reqs)} requests: " + " ".join(
        str(r["status"]) + ("c" if r["headers"].get("if-none-match") else "") for r in reqs))
    case.expect(n304 >= 2, f"#cond: {n304} answers were 304, want >= 2")
    changed = [r for r in reqs if new["id"] in r.get("served_ids", [])]
    case.expect(changed and changed[0]["headers"].get("if-none-match"),
                "#cond: the changed body was not fetched by a conditional request "
                "(If-None-Match with the old ETag)")
    log = d.log_text()
    bad = [ln for ln in log.splitlines() if "#cond" in ln and H.is_problem_line(ln)
           and "cond-500" not in ln and "HTTP 500" not in ln]
    case.expect(not bad, f"#cond: warning/error lines besides the one 500: {bad[:3]}")
    rec = feed_lines(log, "cond", r"recovered", problem_only=False)
    case.expect(len(rec) == 1, f"#cond: {len(rec)} 'recovered' lines after 500 then 304 "
                               "(want 1: a 304 is a successful poll)")
    sj = sources_json(d)
    cr = sj.get(k_cond) or {}
    case.expect(cr.get("state") == "ok" and (cr.get("not_modified") or 0) >= n304 - 1
                and (cr.get("not_modified") or 0) >= 1 and cr.get("conditional") is True,
                f"sources --json #cond: {cr} (want state ok, not_modified >= 1, conditional)")

    # ---- 2. rate limits ------------------------------------------------------------------
    phases = RateLimited.PLAN
    with rl.lock:
        rlr.armed = True
    t_arm = time.monotonic()

    def rl_text():
        t = (sources_json(d).get(k_rl) or {}).get("ratelimit") or ""
        return t if t.startswith("3/300") else None
    text = H.wait_until(lambda: alive() or rl_text(), 12,
                        "sources --json to show #rl's 3/300 quota", interval=0.3)
    case.expect(re.fullmatch(r"3/300 left, resets in [0-7]s", text),
                f"sources --json #rl during the low quota: ratelimit {text!r}, want "
                "'3/300 left, resets in Ns'")
    H.wait_until(lambda: alive() or sum("rl_idx" in r for r in rl.timeline_requests("rl"))
                 >= len(phases) + 3, 40, f"{len(phases) + 3} requests on #rl after arming")
    allr = rl.timeline_requests("rl")
    pre = [r for r in allr if "rl_idx" not in r and r["t"] < t_arm][-3:]
    rr = [r for r in allr if "rl_idx" in r]
    pg = gaps(pre)
    case.expect(pg and max(pg) <= 1.7, f"#rl before the low quota: gaps {fmt(pg)}, want ~1 s")
    g = gaps(rr)
    case.note(f"#rl gaps {fmt(g)} after phases {[r.get('rl_phase') for r in rr]}")
    for i, gap in enumerate(g[:len(phases) + 2]):
        after = rr[i].get("rl_phase")
        if after in ("low-x", "low-combined", "low-ietf"):
            case.expect(2.8 <= gap <= 4.8, f"#rl: a request came {gap:.2f}s after a "
                                           f"'{after}' answer (3/300 left, reset in 6 s): "
                                           "want ~3 s (2.8..4.8)")
        elif after == "exhausted":
            case.expect(3.85 <= gap <= 6.5, f"#rl: a request came {gap:.2f}s after an "
                                            "exhausted quota resetting in 4 s: want 3.85..6.5")
        else:
            case.expect(gap <= 1.7, f"#rl: a request came {gap:.2f}s after a "
                                    f"'{after}' answer (plenty left): want ~1 s")
    # the other host kept its schedule meanwhile
    t0, t1 = rr[0]["t"], rr[len(phases)]["t"]
    st = [r for r in steady.timeline_requests("steady") if t0 - 1.5 <= r["t"] <= t1 + 1.5]
    sg = gaps(st)
    case.note(f"#steady gaps while #rl was paced ({t1 - t0:.1f}s): max "
              f"{max(sg) if sg else 0:.2f}s over {len(st)} requests")
    case.expect(len(st) >= (t1 - t0) / 1.5 and sg and max(sg) <= 1.7,
                f"#steady (another host) did not keep its 1 s schedule while #rl was paced: "
                f"{len(st)} requests in {t1 - t0:.1f}s, gaps {fmt(sg)}")
    # gzip on the steady host
    sc = steady.add_status("<p>acme refund please (gzip)</p>", tag="steady",
                           acct="gz@steady.example")
    hook.wait_posts([sc["uri"]], 15)
    zreqs = steady.timeline_requests("steady")
    case.expect(any(r.get("gzip") for r in zreqs),
                "#steady: no request accepted gzip (Accept-Encoding: "
                f"{zreqs[-1]['headers'].get('accept-encoding')!r})")

    # ---- 3. failures: after the fact ---------------------------------------------------
    H.wait_until(lambda: alive() or re.search(r"#flaky recovered", d.log_text()), 25,
                 "#flaky to recover")
    fq = flaky.timeline_requests("flaky")
    fg = gaps(fq)
    case.note(f"#flaky statuses {[r['status'] for r in fq][:6]}, gaps {fmt(fg[:5])}")
    if case.expect(len(fg) >= 3 and [r["status"] for r in fq[:4]] == [500, 500, 500, 200],
                   f"#flaky: statuses {[r['status'] for r in fq[:4]]}, want 500 500 500 200"):
        for i, (lo, hi) in enumerate([(0.95, 2.7), (1.95, 4.7), (3.9, 8.8)]):
            case.expect(lo <= fg[i] <= hi, f"#flaky: retry {i + 1} came {fg[i]:.2f}s after "
                                           f"500 #{i + 1}, want {lo}..{hi} (backoff 2^n s, "
                                           "upper-half jitter)")
        case.expect(fg[2] > fg[0], f"#flaky: the backoff did not grow: {fmt(fg[:3])}")
    log = d.log_text()
    w = feed_lines(log, "flaky", r"\b500\b")
    case.expect(len(w) == 1, f"#flaky: {len(w)} warning lines for three 500s (want 1): {w[:4]}")
    rec = feed_lines(log, "flaky", r"recovered after 3 failed polls", problem_only=False)
    case.expect(len(rec) == 1, f"#flaky: {len(rec)} 'recovered after 3 failed polls' lines "
                               "(want 1)")

    H.wait_until(lambda: alive() or (re.search(r"#loop recovered", d.log_text()) and
                                     re.search(r"#short recovered", d.log_text())), 25,
                 "#loop and #short to recover")
    lq = flaky.timeline_requests("loop")
    starts = [r for r in lq if "hop" not in r["query"]]
    hops = []
    for s in starts:
        i = lq.index(s)
        n = 1
        while i + n < len(lq) and "hop" in lq[i + n]["query"]:
            n += 1
        hops.append(n)
    case.note(f"#loop: requests per poll {hops[:4]}, poll gaps {fmt(gaps(starts)[:3])}")
    case.expect(hops[:2] == [6, 6], f"#loop: {hops[:2]} requests in the two looping polls "
                                    "(want 6 each: the request and 5 redirects followed)")
    case.expect(len(starts) >= 3 and starts[2]["status"] == 200,
                "#loop: the third poll did not get the normal answer")
    if len(starts) >= 3:
        lg = gaps(starts)
        case.expect(lg[1] >= 1.9, f"#loop: the retry after the second redirect loop came "
                                  f"{lg[1]:.2f}s later (want >= ~2 s of backoff)")
    log = d.log_text()
    w = feed_lines(log, "loop", r"redirect")
    case.expect(len(w) == 1, f"#loop: {len(w)} warning lines naming the redirects (want 1)"
                             + (f": {w[:2]}" if w else ""))
    if w:
        case.note(f"#loop: {w[0].strip()[:220]}")
    case.expect(feed_lines(log, "loop", r"recovered after 2 failed polls", False),
                "#loop: no 'recovered after 2 failed polls'")
    w = feed_lines(log, "short", r"partial|closed|remaining|truncat|incomplete|short")
    case.expect(len(w) == 1, f"#short: {len(w)} warning lines about the truncated body "
                             "(want 1)")
    if w:
        case.note(f"#short: {w[0].strip()[:220]}")
    sq = flaky.timeline_requests("short")
    case.expect(len(sq) >= 2 and sq[1]["status"] == 200 and
                feed_lines(log, "short", r"recovered after 1 failed poll", False),
                "#short: did not recover after the truncated body")

    # ---- 4. silent feeds -----------------------------------------------------------------
    # silent_after 2s: the check runs every quarter of it (at least every second), so the
    # three alerts came a few seconds after start, long before this point.
    def silent_alerts():
        return [dl for dl in hook.ok() if (dl["json"] or {}).get("network") == "earshot"]

    def alerts_by_feed():
        out = {}
        for dl in silent_alerts():
            text = (((dl["json"] or {}).get("post") or {}).get("text") or "")
            m = re.search(r"#(dead|quiet2|quiet)\b", text)
            out.setdefault(m.group(1) if m else text[:80], []).append(dl)
        return out

    H.wait_until(lambda: alive() or len(silent_alerts()) >= 3, 15, "three source-silent alerts")
    first = min(dl["t"] for dl in silent_alerts()) - t_start
    last = max(dl["t"] for dl in silent_alerts()) - t_start
    case.note(f"silent alerts delivered {first:.1f}..{last:.1f}s after start")
    case.expect(last <= 12 * H.TIMEOUT_SCALE,
                f"silent_after 2s: the operator alerts came {first:.1f}..{last:.1f}s after "
                "start (want within ~2 s + one check of 1 s, allowing 12 s)")
    for dl in silent_alerts():
        j = dl["json"]
        case.expect(j.get("rules") == ["source-silent"] and j.get("severity") == "high"
                    and j.get("source") == "silent-src",
                    f"operator alert: rules {j.get('rules')}, severity {j.get('severity')}, "
                    f"source {j.get('source')} (want ['source-silent'], high, silent-src)")
    by_feed = alerts_by_feed()
    case.expect(sorted(by_feed) == ["dead", "quiet", "quiet2"] and
                all(len(v) == 1 for v in by_feed.values()),
                f"operator alerts by feed: { {k: len(v) for k, v in by_feed.items()} } "
                "(want exactly one each for #dead, #quiet and #quiet2)")
    log = d.log_text()
    for tag, why in (("dead", "fail"), ("quiet", "no posts"), ("quiet2", "no posts")):
        ln = [x for x in log.splitlines() if re.search(rf"#{tag}\b", x) and "silent" in x
              and H.log_level_of(x) in ("err", "crit", "alert", "emerg")]
        case.expect(len(ln) == 1 and why in ln[0], f"#{tag}: {len(ln)} error lines saying it "
                                                   f"is silent ({why}): {ln[:2]}")
    rows = d.db("SELECT network, rules, severity FROM alerts WHERE network = 'earshot'")
    case.expect(len(rows) == 3, f"{len(rows)} operator alerts in the store, want 3")
    sj = sources_json(d)
    for k in (k_dead, k_quiet, k_quiet2):
        case.expect((sj.get(k) or {}).get("state") == "SILENT" and
                    (sj.get(k) or {}).get("silent_since"),
                    f"sources --json {k}: {sj.get(k)} (want state SILENT, silent_since)")
    rc, human, _ = ctl(d, "sources")
    case.expect(re.search(r"#dead\n\s+SILENT;", human) and
                "an operator alert was raised" in human,
                "earshotctl sources: #dead is not shown 'SILENT; ...' with 'silent since ... "
                f"(an operator alert was raised)':\n{human[-800:]}")

    # #quiet speaks again, and keeps speaking (one post every 0.7 s, non-complaints after
    # the first) so that it does not fall silent again while we look
    feeding = {"quiet"}
    stop_feed = threading.Event()
    case.cleanups.append(stop_feed.set)

    def feeder():
        i = 0
        while not stop_feed.wait(0.7):
            for tag in sorted(feeding):
                i += 1
                silent.add_status(f"<p>acme is lovely, post {i}</p>", tag=tag,
                                  acct=f"f{i}@silent.example")
    back = silent.add_status("<p>acme refund please (the quiet feed speaks)</p>", tag="quiet",
                             acct="back@silent.example")
    threading.Thread(target=feeder, name="feeder", daemon=True).start()
    hook.wait_posts([back["uri"]], 15)
    H.wait_until(lambda: feed_lines(d.log_text(), "quiet", r"is back", False), 10,
                 "'is back' for #quiet")
    sj = H.wait_until(lambda: (lambda s: s if (s.get(k_quiet) or {}).get("state") == "ok"
                               else None)(sources_json(d)), 10, "#quiet to be ok again",
                      interval=0.3)
    case.expect((sj.get(k_dead) or {}).get("state") == "SILENT",
                f"#dead is no longer SILENT after #quiet came back: {sj.get(k_dead)}")
    time.sleep(2.5)   # a few more silence checks
    n = {k: len(v) for k, v in alerts_by_feed().items()}
    case.expect(n == {"dead": 1, "quiet": 1, "quiet2": 1},
                f"operator alerts by feed after #quiet came back: {n} (want still one each)")

    # A reload (or restart) while feeds are silent.
    # Regression check (fixed): the silence lives in Feed.silent_since, which a reload/restart
    # resets to 0 while the store keeps feeds.silent_since_usec: (a) a feed that is still
    # silent raises a second operator alert a silent_after after every reload; (b) when its
    # posts come back, feed_succeeded() does not clear the store (it only does so when
    # f->silent_since is set), so it stays SILENT in `earshotctl sources` for ever and no
    # "is back" is logged.
    log_mark = d.reload()
    t_reload = time.monotonic()
    back2 = silent.add_status("<p>acme refund please (quiet2 speaks after a reload)</p>",
                              tag="quiet2", acct="back2@silent.example")
    feeding.add("quiet2")
    hook.wait_posts([back2["uri"]], 15)
    H.wait_until(lambda: time.monotonic() - t_reload >= 5, 10, "5 s after the reload")
    st2 = (sources_json(d).get(k_quiet2) or {})
    case.expect(st2.get("state") == "ok",
                f"#quiet2 got posts again after a reload but sources --json still "
                f"says state {st2.get('state')!r} (silent_since {st2.get('silent_since')!r})")
    case.expect(feed_lines(d.log_text(since=log_mark), "quiet2", r"is back", False),
                "no 'is back' for #quiet2 (posts again after a reload)")
    n = {k: len(v) for k, v in alerts_by_feed().items()}
    case.expect(n.get("dead") == 1,
                f"#dead, silent since start and still failing, raised "
                f"{n.get('dead')} operator alerts by 5 s after a reload (want still 1)")
    case.expect(n.get("quiet") == 1 and n.get("quiet2") == 1,
                f"operator alerts by feed after the reload: {n}")

    # stop feeding; let the feeds take what was posted, so that posts_seen can be compared
    stop_feed.set()
    m = silent.server.mark()

    def read_up(tag):
        return any(r["path"] == TL + tag and r.get("served_ids") == []
                   for r in silent.server.log(since=m))
    H.wait_until(lambda: alive() or (read_up("quiet") and read_up("quiet2")), 10,
                 "#quiet and #quiet2 to be read up")
    alive()
    d.stop()

    # ---- 5. earshotctl, the daemon stopped -----------------------------------------------
    rc, human, err = ctl(d, "sources")
    case.expect(rc == 0, f"earshotctl sources: exit {rc}: {err.strip()[:200]}")
    sj = sources_json(d)
    want_feeds = {feed_key("cond-src", cond, "cond"), feed_key("pollme", cond, "pollme"),
                  k_rl, feed_key("steady-src", steady, "steady"), k_flaky,
                  feed_key("flaky-src", flaky, "loop"), feed_key("flaky-src", flaky, "short"),
                  k_dead, k_quiet, k_quiet2}
    case.expect(set(sj) == want_feeds, f"sources --json feeds: {sorted(sj)}, want "
                                       f"{sorted(want_feeds)}")
    for src in ("cond-src", "pollme", "rl-src", "steady-src", "flaky-src", "silent-src"):
        case.expect(re.search(rf"^{re.escape(src)} \(mastodon\), every 1s$", human, re.M),
                    f"earshotctl sources: no header line for {src}")
    for k, row in sj.items():
        case.expect(row.get("source") == k.split("/")[0], f"sources --json {k}: source "
                                                          f"{row.get('source')!r}")
        if k not in (k_dead, k_quiet2):
            case.expect(row.get("state") == "ok" and row.get("failures") == 0,
                        f"sources --json {k}: state {row.get('state')!r}, failures "
                        f"{row.get('failures')} (want ok, 0)")
        tag = k.rsplit("#", 1)[1]
        inst = {"cond": cond, "pollme": cond, "rl": rl, "steady": steady, "flaky": flaky,
                "loop": flaky, "short": flaky, "dead": silent, "quiet": silent,
                "quiet2": silent}[tag]
        served = sum(len(r.get("served_ids", [])) for r in inst.timeline_requests(tag)
                     if r["status"] == 200 and r["path"] == TL + tag)
        case.expect(row.get("posts_seen") == served, f"sources --json {k}: posts_seen "
                                                     f"{row.get('posts_seen')}, the mock "
                                                     f"served {served}")
    dr = sj.get(k_dead) or {}
    case.expect(dr.get("state") == "SILENT" and (dr.get("failures") or 0) >= 3 and
                "500" in (dr.get("last_error") or ""),
                f"sources --json #dead: {dr} (want SILENT, failures >= 3, last_error 500)")
    rlt = (sj.get(k_rl) or {}).get("ratelimit") or ""
    case.expect(re.fullmatch(r"299/300 left, resets in [45]m", rlt),
                f"sources --json #rl: ratelimit {rlt!r}, want '299/300 left, resets in 4m'")
    case.expect(re.search(r"rate limit: 299/300 left, resets in [45]m", human),
                "earshotctl sources: no 'rate limit: 299/300 left, resets in 4m'")
    case.expect(re.search(r"\d+ not modified", human),
                "earshotctl sources: no 'N not modified' for #cond")
    case.expect(re.search(r"#dead\n\s+SILENT;", human),
                "earshotctl sources: #dead is not shown SILENT")
    case.expect("an operator alert was raised" in human,
                "earshotctl sources: no 'silent since ... (an operator alert was raised)'")

    # poll: exactly the first page, and the store untouched
    def db_state():
        with open(d.db_path(), "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        wal = d.db_path() + "-wal"
        wal_size = os.path.getsize(wal) if os.path.exists(wal) else None
        return digest, wal_size, d.db("SELECT * FROM feeds ORDER BY feed")

    before = db_state()
    newest5 = {s["uri"] for s in sorted(poll_statuses, key=lambda s: H.id_key(s["id"]),
                                        reverse=True)[:5]}

    def served_since(m):
        return [cond.by_id[i]["uri"] for r in cond.timeline_requests("pollme", m)
                for i in r.get("served_ids", [])]

    # Regression check (fixed): with the default --pages 1, the first "page" of a hashtag feed
    # with check_instance (the default) is the /api/v2/instance check, so `poll` makes no
    # timeline request, prints no posts and still exits 0.
    m = cond.server.mark()
    rc, out, err = ctl(d, "poll", "pollme")
    printed = re.findall(r"^(\S+://\S+)$", out, re.M)
    case.note(f"poll pollme: exit {rc}, {len(printed)} posts, requests "
              f"{[r['path'] for r in cond.server.log(since=m)]}")
    case.expect(rc == 0 and sorted(printed) == sorted(newest5) and
                re.search(r"^5 posts parsed from pollme/", out, re.M),
                f"earshotctl poll pollme (default --pages 1): exit {rc}, printed "
                f"{len(printed)} posts; want the 5 of the first timeline page: "
                f"{out.strip()[-300:]!r}")

    # --pages 2 reaches the timeline: exactly the 5 posts of the page the mock served
    for extra in ((), ("--json",)):
        m = cond.server.mark()
        rc, out, err = ctl(d, "poll", "pollme", "--pages", "2", *extra)
        served = served_since(m)
        what = f"earshotctl poll pollme --pages 2 {' '.join(extra)}".strip()
        case.expect(rc == 0, f"{what}: exit {rc}: {err.strip()[:300]}")
        case.expect(sorted(served) == sorted(newest5),
                    f"{what}: the mock served {served}, want the 5 newest (test bug?)")
        if not extra:
            printed = re.findall(r"^(\S+://\S+)$", out, re.M)
            case.expect(len(printed) == 5 and set(printed) == set(served),
                        f"{what}: printed {printed}, want exactly the served {served}")
            case.expect(re.search(r"^== pollme/\S+#pollme \(feed 1 of 1\)$", out, re.M) and
                        re.search(r"^5 posts parsed from pollme/\S+#pollme$", out, re.M),
                        f"{what}: no '== pollme/...' header or '5 posts parsed' line:\n"
                        f"{out[-400:]}")
            continue
        objs = []
        for ln in out.splitlines():
            try:
                objs.append(json.loads(ln))
            except ValueError:
                case.expect(False, f"{what}: a line that is not JSON: {ln[:200]!r}")
        ids = [o.get("id") for o in objs]
        case.expect(len(ids) == 5 and set(ids) == set(served),
                    f"{what}: ids {ids}, want exactly the served {served}")
        for o in objs:
            s = next((x for x in poll_statuses if x["uri"] == o.get("id")), None)
            if s:
                case.expect(o.get("network") == "mastodon" and o.get("url") == s["url"] and
                            o.get("author_handle") == s["account"]["acct"] and
                            o.get("author_followers") == s["account"]["followers_count"] and
                            o.get("lang") == "en" and
                            (o.get("text") or "").startswith("acme poll status"),
                            f"{what}: {o} does not match the served status")
    after = db_state()
    case.expect(before == after, "earshotctl poll changed the store: " +
                ("feeds table differs" if before[2] != after[2] else "file bytes differ"))

    rc, out, err = ctl(d, "poll", "nope")
    case.expect(rc == 1 and "no source named 'nope'" in err and "pollme" in err,
                f"earshotctl poll nope: exit {rc}, stderr {err.strip()[:200]!r} (want 1 and "
                "'no source named 'nope'' listing the sources)")
    rc, out, err = ctl(d, "poll", "silent-src")
    case.expect(rc == 1 and "HTTP 500" in err and "#dead" in err,
                f"earshotctl poll silent-src (#dead answers 500): exit {rc}, stderr "
                f"{err.strip()[:200]!r} (want 1 and the HTTP 500 of #dead)")
    case.expect(before == db_state(), "earshotctl poll (failing/unknown) changed the store")


if __name__ == "__main__":
    H.main("polling", test)
