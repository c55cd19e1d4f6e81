#!/usr/bin/env python3
"""source_faults: bodies that never end, and Stack Exchange's throttle signals in the body.

One earshotd (http.timeout 4s, max_response_size 1 MiB), five sources, each on its own
loopback server:

  slow-rss     an RSS feed whose body (chunked) never ends and trickles 8 bytes every 100 ms
               (80 B/s: above libcurl's low-speed limit, so only the total timeout can stop it)
  fast-lemmy   a Lemmy search whose body (chunked, no Content-Length) never ends and streams
               about 4 MB/s: the size cap must stop it
  good-forum   a Discourse forum that gets a new complaint every second
  se-backoff   Stack Exchange, queries "acme" and "widget" on stackoverflow (two feeds, one
               API method)
  se-quota     Stack Exchange on another server (another daily quota), the same two queries

Checks:
  * never-ending bodies: every request to slow-rss / fast-lemmy is cut off by the daemon
    (the client hangs up, within timeout + slack); fast-lemmy after more than 1 MiB and less
    than 64 MiB; the daemon logs one warning for each source, naming it, "timed out" for
    slow-rss and "too large" for fast-lemmy, and no other within a minute of it (repeats are
    rate-limited, log.h); and it
    backs off: after the k-th failure in a row the next request comes no sooner than
    interval * 2^(k-1) (the lower half of the doubled interval, scheduler.h) after the
    cut-off, which a fixed 1 s interval would break from the second failure on;
  * meanwhile good-forum keeps its schedule: no gap between its polls over 3.5 s (its
    interval is 1 s; a loop blocked by a 4 s transfer would show), and every complaint
    reaches the webhook within 4 s of being posted;
  * Stack Exchange "backoff": 6 in the answer to page 3 of the walk over a burst of 350 new
    questions (posted within 90 s: four pages): no request by that feed sooner than 6 s
    after that answer, and none by the other feed of the same method and site either (the
    API: "must wait that many seconds before hitting the same method again"; 1 s of grace
    for a request already on its way); the answer's own questions alert at once; after the
    pause the walk resumes from the cursor (stackexchange.c: "a walk cut short (max_pages, a
    backoff, a failed request) loses nothing: the next poll resumes there") and every
    complaint of the burst alerts exactly once;
  * Stack Exchange quota_remaining 3 (of 300), as stackexchange.c promises: the question in
    that answer alerts, and the source stops polling after its first answer with the low
    quota (paused until 00:00 UTC; not checked within 2 minutes of midnight): neither feed
    asks again, since a pause the body asks for holds every feed of the source (the quota is
    the IP's, for every method and site; earshot-plugin.h, set_backoff), so the other feed
    may never see a low quota itself (1 s of grace for a request already on its way); and
    exactly one warning says so ("daily API requests left", once a day for the source, not
    per feed);
  * earshotd never exits, and exits 0 on SIGTERM.
"""

import datetime
import re
import threading
import time

import api_mocks as M
import harness as H

TIMEOUT = 4.0
MAX_SIZE = 1 << 20
BACKOFF = 6
SE_PATH = M.StackExchange.PATH


def test(case):
    hook = H.WebhookReceiver(case.server("hook"), "/hook")

    # ---- never-ending bodies -------------------------------------------------------------
    slow = M.EndlessServer("slow")
    case.servers.append(slow)
    slow.stream_route("/feed.rss", b"acme ok ", 0.1, "application/rss+xml; charset=utf-8",
                      head=b'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0">'
                           b"<channel><title>endless</title><item><title>acme</title>"
                           b"<description>")
    fast = M.EndlessServer("fast")
    case.servers.append(fast)
    unit = (b'{"post":{"id":1,"name":"acme","body":"' + b"acme refund " * 300 + b'"}},')
    fast.stream_route("/api/v3/search", unit * (65536 // len(unit)), 0.016,
                      head=b'{"type_":"Posts","comments":[],"posts":[')

    # ---- the good source -------------------------------------------------------------------
    good_srv = case.server("good")
    forum = M.Discourse(good_srv)
    forum.add([forum.post(time.time() - 3 * 3600 + i, f"<p>acme refund old {i}</p>")
               for i in range(3)])

    # ---- Stack Exchange ---------------------------------------------------------------------
    now = time.time()
    se_b = M.StackExchange(case.server("se-backoff"))
    # (question ids differ: the core takes one id on one site for one question)
    se_q = M.StackExchange(case.server("se-quota"), quota_max=300, quota_remaining=290,
                           first_id=79800000)
    for se in (se_b, se_q):
        se.add([se.question(now - 3 * 3600 + 10 * i, "Acme SDK refund?",
                            f"<p>acme refund please, old {i}</p>") for i in range(5)])
        se.add([se.question(now - 3 * 3600 + 10 * i, "Widget question",
                            f"<p>how to use the widget, old {i}</p>") for i in range(3)])

    cfg = H.make_config(
        sources=[
            {"name": "slow-rss", "type": "rss", "interval": "1s",
             "urls": [slow.url + "/feed.rss"]},
            {"name": "fast-lemmy", "type": "lemmy", "interval": "1s", "instances": [fast.url],
             "queries": ["acme"], "search_type": "posts"},
            {"name": "good-forum", "type": "discourse", "interval": "1s",
             "forums": [forum.url]},
            {"name": "se-backoff", "type": "stackexchange", "interval": "1s",
             "sites": ["stackoverflow"], "queries": ["acme", "widget"], "base_url": se_b.url},
            {"name": "se-quota", "type": "stackexchange", "interval": "1s",
             "sites": ["stackoverflow"], "queries": ["acme", "widget"], "base_url": se_q.url},
        ],
        notifiers=[H.webhook_notifier("hook", hook.url)],
        http={"timeout": f"{TIMEOUT:g}s", "connect_timeout": "1s",
              "max_response_size": MAX_SIZE})
    d = case.daemon(cfg)
    d.start()
    t_start = time.monotonic()

    def alive():
        H.check(d.alive(), f"earshotd exited with status {d.proc.returncode}")

    # good-forum: a new complaint every second
    posted = {}
    stop = threading.Event()

    def feeder():
        i = 0
        while not stop.wait(1.0):
            mk = f"mk-good-{i:03d}"
            forum.add([forum.post(time.time(), f"<p>acme refund please ({mk})</p>")])
            posted[mk] = time.monotonic()
            i += 1
    th = threading.Thread(target=feeder, name="feeder", daemon=True)
    th.start()
    case.cleanups.append(stop.set)

    def cursors(source, n):
        alive()
        return len(d.db_try("SELECT feed FROM feeds WHERE source = ? AND cursor IS NOT NULL",
                            (source,))) >= n
    H.wait_until(lambda: cursors("se-backoff", 2) and cursors("se-quota", 2), 15,
                 "cursors for the four Stack Exchange feeds")

    # se-backoff: a burst of 350 new acme questions within 90 s (with the 5 old ones in the
    # overlap: pages of 100, 100, 100, 55); the answer to page 3 carries "backoff": 6
    now = time.time()
    burst = [se_b.question(now - 100 + i / 4, "Acme SDK crashes",
                           f"<p>acme refund please ({'mk-seb-%03d' % i})</p>" if i % 3 != 2 else
                           f"<p>acme sdk works ({'mk-seb-%03d' % i})</p>") for i in range(350)]
    burst_complaints = {f"mk-seb-{i:03d}" for i in range(350) if i % 3 != 2}
    with se_b.lock:
        se_b.add(burst)
        se_b.arm_backoff(BACKOFF, lambda e: e["query"].get("q") == "acme"
                         and e["query"].get("page") == "3")
    mark_b = se_b.server.mark()

    # se-quota: from now on the quota is nearly spent; one more complaint to find
    with se_q.lock:
        se_q.quota_remaining = 4      # every answer from now on says 3 or less
        qq = se_q.question(time.time() - 5, "Acme SDK refund",
                           "<p>acme refund please (mk-seq-000)</p>")
        se_q.add([qq])
    mark_q = se_q.server.mark()
    t_quota = time.monotonic()
    utc = datetime.datetime.now(datetime.timezone.utc)
    to_midnight = 86400 - (utc.hour * 3600 + utc.minute * 60 + utc.second)

    # ---- wait for everything to have happened ---------------------------------------------
    def se_backoff_done():
        reqs = se_b.server.log(SE_PATH, mark_b)
        hit = [r for r in reqs if r.get("backoff")]
        if not hit or "t_done" not in hit[0]:
            return False
        return any(r["t"] > hit[0]["t_done"] + BACKOFF + 1 for r in reqs
                   if r["query"].get("q") == "acme")

    def all_done():
        alive()
        return (len(slow.log("/feed.rss")) >= 3 and len(fast.log("/api/v3/search")) >= 4
                and se_backoff_done() and time.monotonic() - t_quota >= 8)
    try:
        H.wait_until(all_done, 40, "3 slow-rss requests, 4 fast-lemmy requests, se-backoff "
                                   "resumed after its pause, 8 s of low se quota")
    except AssertionError as e:
        case.expect(False, str(e))
    stop.set()
    th.join()
    last_mk = max(posted) if posted else None
    want = set(posted) | burst_complaints | {"mk-seq-000"}
    try:
        H.wait_until(lambda: _marks(hook) >= want, 15, "the last alerts")
    except AssertionError as e:
        case.expect(False, f"{e}: missing {sorted(want - _marks(hook))[:8]}")
    alive()
    t_stop = time.monotonic()
    d.stop()
    log = d.all_logs()
    case.note(f"ran {time.monotonic() - t_start:.1f}s; last good complaint {last_mk}")

    # ---- never-ending bodies ----------------------------------------------------------------
    for name, srv, path, what, interval in (
            ("slow-rss", slow, "/feed.rss", r"timed? ?out|timeout", 1.0),
            ("fast-lemmy", fast, "/api/v3/search", r"too large|size", 1.0)):
        reqs = srv.log(path)
        for i, r in enumerate(reqs):
            gone = r.get("t_gone")
            if i + 1 < len(reqs) or gone:
                case.expect(gone is not None, f"{name}: request {i + 1} was never cut off "
                                              f"(still streaming: {r.get('bytes_sent')} bytes)")
            if gone is None:
                continue
            held = gone - r["t"]
            case.note(f"{name}: request {i + 1} at +{r['t'] - t_start:.2f}s cut after "
                      f"{held:.2f}s, {r.get('bytes_sent', 0)} bytes")
            case.expect(held <= TIMEOUT + 2.0 * H.TIMEOUT_SCALE,
                        f"{name}: request {i + 1} was held {held:.1f}s (http.timeout {TIMEOUT}s)")
            if name == "fast-lemmy" and gone >= t_stop:
                # in flight when the daemon was stopped: cut by the shutdown, not by the cap
                case.note(f"{name}: request {i + 1} ended with the daemon")
            elif name == "fast-lemmy":
                sent = r.get("bytes_sent", 0)
                case.expect(MAX_SIZE < sent < 64 * MAX_SIZE,
                            f"{name}: request {i + 1}: {sent} bytes sent before the daemon hung "
                            f"up (max_response_size {MAX_SIZE}; want it read past the cap, "
                            "then stopped)")
            if i + 1 < len(reqs):
                # the k-th failure (k = i + 1) happened no earlier than `cut` after the start
                cut = (TIMEOUT - 0.2) if name == "slow-rss" else 0.0
                k = i + 1
                want = cut + interval * 2 ** (k - 1) - 0.1
                gap = reqs[i + 1]["t"] - r["t"]
                case.expect(gap >= want, f"{name}: request {k + 1} came {gap:.2f}s after "
                                         f"request {k} (after {k} failure(s) in a row the "
                                         f"backoff allows no less than {want:.2f}s)")
        src_lines = [ln for ln in log.splitlines() if f":{name}]" in ln or f"{name}/" in ln]
        warns = [ln for ln in src_lines if H.is_problem_line(ln)]
        case.expect(warns and re.search(what, warns[0], re.I),
                    f"{name}: no warning naming the source and matching /{what}/: "
                    f"{[w[:200] for w in warns[:3]]}")
        # repeats of the same failure are rate-limited: the next line a minute later at the
        # earliest (log.h), so a run shorter than that has exactly one
        ts = [_log_time(w) for w in warns]
        close = [w[:200] for t0, t1, w in zip(ts, ts[1:], warns[1:]) if t1 - t0 < 59]
        case.expect(not close, f"{name}: {len(warns)} warnings naming the source, some less "
                               f"than a minute after the one before: {close[:2]}")
        if warns:
            case.note(f"{name}: {warns[0].strip()[:220]}")

    # ---- the good source ---------------------------------------------------------------
    starts = [r["t"] for r in good_srv.log("/posts.json") if "before" not in r["query"]]
    gaps = [b - a for a, b in zip(starts, starts[1:])]
    worst = max(gaps) if gaps else None
    case.note(f"good-forum: {len(starts)} polls, longest gap {worst and round(worst, 2)}s")
    case.expect(len(starts) >= 10 and worst is not None and worst <= 3.5,
                f"good-forum: {len(starts)} polls, longest gap between two {worst}s "
                "(interval 1s; want <= 3.5s)")
    first = {}
    for x in hook.all():
        m = re.search(r"\(mk-good-\d+\)", ((x["json"] or {}).get("post") or {}).get("text") or "")
        if m:
            first.setdefault(m.group(0)[1:-1], x["t"])
    late = {mk: round(first[mk] - t, 2) if mk in first else None for mk, t in posted.items()
            if mk not in first or first[mk] - t > 4.0}
    case.expect(not late, f"good-forum: complaints that reached the webhook late (> 4 s) or "
                          f"never: {dict(list(late.items())[:6])}")

    # ---- Stack Exchange backoff ----------------------------------------------------------
    reqs = se_b.server.log(SE_PATH, mark_b)
    hit = [r for r in reqs if r.get("backoff")]
    if case.expect(hit, "se-backoff: the armed backoff was never served"):
        b = hit[0]
        t_b = b["t_done"]
        mine = [r for r in reqs if r["query"].get("q") == "acme" and r["t"] > b["t"]]
        other = [r for r in reqs if r["query"].get("q") == "widget" and r["t"] > t_b]
        nxt = mine[0]["t"] - t_b if mine else None
        case.note(f"se-backoff: backoff {BACKOFF} served at +{t_b - t_start:.2f}s "
                  f"({b['raw_path']}); next acme request {nxt and round(nxt, 2)}s later; widget "
                  f"requests after it at {[round(r['t'] - t_b, 2) for r in other[:8]]}")
        case.expect(mine and nxt >= BACKOFF - 0.1,
                    f"se-backoff: the feed that got \"backoff\": {BACKOFF} asked again "
                    f"{nxt}s later")
        early = [round(r["t"] - t_b, 2) for r in other if 1.0 <= r["t"] - t_b < BACKOFF - 0.1]
        case.expect(not early, f"se-backoff: the other feed of the same site and method "
                               f"(/2.3/search/advanced, q=widget) asked {len(early)} times "
                               f"within the {BACKOFF} s backoff, at {early} s after it")
        # the answer's questions were not held back by the pause
        mk_of = {q["question_id"]: f"mk-seb-{i:03d}" for i, q in enumerate(burst)}
        mk1 = {mk_of[q] for q in b.get("served", []) if q in mk_of} & burst_complaints
        d1 = {}
        for x in hook.all():
            m = re.search(r"mk-seb-\d+", ((x["json"] or {}).get("post") or {}).get("text") or "")
            if m and m.group(0) in mk1:
                d1.setdefault(m.group(0), x["t"])
        slow_ones = [mk for mk in mk1 if mk not in d1 or d1[mk] > t_b + BACKOFF - 0.5]
        case.expect(mk1 and not slow_ones,
                    f"se-backoff: {len(slow_ones)} of {len(mk1)} complaints in the answer with "
                    "the backoff were not alerted before the pause ended")
    counts = {}
    for x in hook.all():
        m = re.search(r"mk-seb-\d+", ((x["json"] or {}).get("post") or {}).get("text") or "")
        if m:
            counts[m.group(0)] = counts.get(m.group(0), 0) + 1
    bad = {mk: counts.get(mk, 0) for mk in burst_complaints if counts.get(mk, 0) != 1}
    case.expect(not bad, f"se-backoff: burst complaints not alerted exactly once: "
                         f"{dict(list(bad.items())[:6])}")
    extra = set(counts) - burst_complaints
    case.expect(not extra, f"se-backoff: alerts for non-complaints: {sorted(extra)[:5]}")

    # ---- Stack Exchange quota ----------------------------------------------------------------
    reqs = se_q.server.log(SE_PATH, mark_q)
    lows = [r for r in reqs if (r.get("answer") or {}).get("quota_remaining", 999) < 10]
    if case.expect(lows, "se-quota: no feed ever got an answer with the low quota"):
        first = lows[0]
        t_low = first.get("t_done", first["t"])
        case.note(f"se-quota: first low quota answered to q={first['query'].get('q')} at "
                  f"+{t_low - t_start:.2f}s")
        for qname in ("acme", "widget"):
            rs = [r for r in reqs if r["query"].get("q") == qname]
            after = [r for r in rs if r["t"] > t_low + 1.0]
            case.note(f"se-quota: feed {qname}: {len(rs)} requests since the quota went low, "
                      f"{len(after)} more than 1 s after the first low answer")
            if to_midnight > 120:
                case.expect(not after, f"se-quota: feed {qname} asked {len(after)} more times "
                                       f"after the source's quota_remaining "
                                       f"{first['answer']['quota_remaining']} (paused until "
                                       f"00:00 UTC is promised), first "
                                       f"{after[0]['t'] - t_low:.2f}s later" if after else "")
            else:
                case.note("se-quota: too close to midnight UTC to check the pause")
    case.expect(_marks(hook) >= {"mk-seq-000"},
                "se-quota: the question in the answer with the low quota did not alert")
    qw = [ln for ln in log.splitlines()
          if "daily API requests left" in ln and H.is_problem_line(ln)]
    case.expect(len(qw) == 1 and "se-quota" in qw[0],
                f"se-quota: {len(qw)} warnings about the quota (want exactly one, naming "
                f"se-quota): {[w[:200] for w in qw[:3]]}")
    if qw:
        case.note(f"se-quota: {qw[0].strip()[:220]}")

    for x in hook.all():
        case.expect(x["error"] is None, f"webhook body: {x['error']}")


def _log_time(line):
    """Seconds of a daemon log line's 'YYYY-MM-DD HH:MM:SS.mmm' time stamp."""
    m = re.match(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?) ", line)
    H.check(m, f"log line without a time stamp: {line[:120]}")
    return datetime.datetime.fromisoformat(m.group(1)).timestamp()


def _marks(hook):
    out = set()
    for x in hook.ok():
        m = re.search(r"mk-[a-z]+-\d+", ((x["json"] or {}).get("post") or {}).get("text") or "")
        if m:
            out.add(m.group(0))
    return out


if __name__ == "__main__":
    H.main("source_faults", test)
