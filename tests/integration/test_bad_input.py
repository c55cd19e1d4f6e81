#!/usr/bin/env python3
"""bad_input: a misbehaving instance neither stops the daemon nor delays the others.

Two Mastodon sources on two loopback instances.  The bad instance answers its
timeline, in turn: truncated JSON, HTTP 500, 429 + Retry-After: 3, 503 +
Retry-After: 2, a 50 MiB body
streamed without Content-Length, a 50 MiB body announced by Content-Length, a
hang (no answer; http.timeout is 2s), a status with invalid UTF-8 in content, a
status whose content is an HTML bomb of nested tags, and an array of wrongly
typed values; between faults it answers normally (so failure backoff resets).
The good instance gets a complaint every ~1.5 s throughout.  The webhook answers
its first request 429 + Retry-After: 2, never answers its second, and answers
400 to one alert.  Checks:
  * earshotd never exits; SIGTERM at the end exits 0;
  * every good complaint reaches the webhook within 10 s of being posted;
  * one clear log line per fault, at warning level or above, that names the bad
    source (or its URL):
    JSON/malformed, HTTP 500, 429/Retry-After, too large/size, timeout, ...;
  * no request to the bad instance within Retry-After after its 429 (3 s) and
    its 503 (2 s);
  * the daemon stopped reading the 50 MiB bodies early (max_response_size 4 MiB);
  * valid complaints on the bad instance (before and after the faults) alert;
  * the complaints inside the invalid-UTF-8 and HTML-bomb statuses either alert
    or are reported at warning level (never lost silently);
  * every webhook body is valid UTF-8 JSON;
  * webhook: the 429'd alert is redelivered no earlier than 2 s later; an
    alert whose delivery hangs (second request) is retried after the timeout;
    a 400 is final (outbox 'rejected', no retry); every other alert is
    delivered (2xx) exactly once.
"""

import json
import re
import threading
import time

import harness as H

TIMELINE = "/api/v1/timelines/tag/acme"


def test(case):
    good_srv = case.server("good")
    good = H.MastodonInstance(good_srv, first_id=117020593741189701)
    bad_srv = case.server("bad")
    bad = H.MastodonInstance(bad_srv, first_id=217020593741189701)
    hook_srv = case.server("hook")

    def responder(n, entry):
        if b"reject-me" in entry["body"]:
            return {"status": 400, "body": b'{"error":"unknown channel"}'}
        return None
    hook = H.WebhookReceiver(hook_srv, "/hook", responder=responder)
    hook.script([{"status": 429, "headers": {"Retry-After": "2"},
                  "body": b'{"error":"Too many requests"}', "name": "webhook-429"},
                 {"hang": True, "name": "webhook-hang"}])

    # Statuses carried only by fault bodies get fresh ids from the bad instance, so
    # whatever the daemon does with its cursor, later real statuses are newer.
    bad_utf8 = bad.fault_invalid_utf8(acct="mallory@bad.example")
    bomb = bad.fault_html_bomb(acct="mallory@bad.example")
    wrong = json.dumps([
        {"id": 12345, "uri": None, "content": 5, "created_at": "yesterday", "account": [],
         "language": {"x": 1}},
        "a string", 42, None, True, [],
        {"id": bad.new_id(), "uri": ["x"], "url": 7, "content": {"html": "acme refund"},
         "created_at": None, "account": {"acct": 5, "followers_count": "many"}},
    ]).encode()
    faults = [
        {"name": "truncated", "body": b'[{"id": "1", trunc'},
        {"pass": True},
        {"name": "http500", "status": 500, "body": b"<html>oops</html>",
         "headers": {"Content-Type": "text/html"}},
        {"pass": True},
        {"name": "429", "status": 429, "headers": {"Retry-After": "3"},
         "body": b'{"error":"Too many requests"}'},
        {"pass": True},
        {"name": "503", "status": 503, "body": b"Service Unavailable",
         "headers": {"Retry-After": "2", "Content-Type": "text/plain"}},
        {"pass": True},
        {"name": "huge", "body_size": 50 << 20},
        {"pass": True},
        {"name": "huge-cl", "body_size": 50 << 20, "content_length": True},
        {"pass": True},
        {"name": "hang", "hang": True},
        {"pass": True},
        bad_utf8,
        {"pass": True},
        bomb,
        {"pass": True},
        {"name": "wrong-types", "body": wrong},
        {"pass": True},
    ]
    log_patterns = {
        "truncated": r"malformed|json|parse|syntax|invalid|truncat",
        "http500": r"\b500\b",
        "429": r"\b429\b|retry-after|rate.?limit|too many",
        "503": r"\b503\b|retry-after|unavailable",
        "huge": r"too large|too big|exceed|size|max_response",
        "huge-cl": r"too large|too big|exceed|size|max_response",
        "hang": r"timed? ?out|timeout",
        "wrong-types": r"malformed|json|invalid|unexpected|type|expected|skip",
    }
    bad_srv.add_faults(TIMELINE, faults)

    p0 = bad.add_status("<p>acme refund please (bad instance, before the faults)</p>",
                        acct="first@bad.example")
    g0 = good.add_status("<p>acme refund please (good instance, at start)</p>")

    cfg = H.make_config(
        sources=[H.mastodon_source("mastodon-good", good.url, interval="1s"),
                 H.mastodon_source("mastodon-bad", bad.url, interval="1s")],
        notifiers=[H.webhook_notifier("hook", hook.url)],
        http={"timeout": "2s", "connect_timeout": "1s", "max_response_size": 4 << 20},
        delivery={"retry_initial": "500ms", "retry_max": "5s"})
    d = case.daemon(cfg)
    bad_srv.probe = d.log_size
    d.start()

    posted = {g0["uri"]: time.monotonic()}
    stop = threading.Event()

    def feeder():
        i = 0
        while not stop.wait(1.5):
            i += 1
            s = good.add_status(f"<p>acme refund please, good #{i}</p>", acct=f"g{i}@good.example")
            posted[s["uri"]] = time.monotonic()
    t = threading.Thread(target=feeder, name="feeder", daemon=True)
    t.start()
    case.cleanups.append(stop.set)

    def faults_done():
        H.check(d.alive(), f"earshotd exited with status {d.proc.returncode}")
        return bad_srv.pending_faults() == 0
    H.wait_until(faults_done, 120, "the bad instance's scripted faults to be consumed")
    case.note("all faults served")
    stop.set()
    t.join()

    p_last = bad.add_status("<p>acme refund please (bad instance, after the faults)</p>",
                            acct="last@bad.example")
    rej = good.add_status("<p>acme refund please, reject-me</p>", acct="rej@good.example")
    g_last = good.add_status("<p>acme refund please (good instance, at the end)</p>")
    posted[g_last["uri"]] = time.monotonic()
    hook.wait_posts([p0["uri"], p_last["uri"], g_last["uri"], *posted], 30)
    H.check(d.alive(), f"earshotd exited with status {d.proc.returncode}")
    rej_row = H.wait_until(lambda: [r for r in d.db_try(
        "SELECT o.* FROM outbox o JOIN alerts a ON a.id = o.alert_id WHERE a.post_id = ?",
        (rej["uri"],)) if r["state"] != "pending"], 20, "the 400'd alert's outbox row to settle")
    case.expect(rej_row[0]["state"] == "rejected",
                f"webhook 400: outbox state {rej_row[0]['state']!r}, want 'rejected'")
    rej_reqs = hook.by_post(ok_only=False).get(rej["uri"], [])
    case.expect(len(rej_reqs) == 1, f"webhook 400: {len(rej_reqs)} requests, want 1 (no retry)")

    # Promptness of the good source.
    first_seen = {}
    for dl in hook.all():
        pid = ((dl["json"] or {}).get("post") or {}).get("id")
        first_seen.setdefault(pid, dl["t"])
    for uri, t_post in posted.items():
        lat = first_seen[uri] - t_post
        case.expect(lat < 10, f"good complaint {uri} first reached the webhook {lat:.1f}s after "
                              "it was posted (want < 10 s)")
    case.note(f"good source: worst latency "
              f"{max(first_seen[u] - t for u, t in posted.items()):.1f}s over {len(posted)} posts")

    # Per-fault log lines and timing.
    reqs = bad.timeline_requests()
    log = d.log_text()
    size = len(log.encode())
    ident = re.compile(r"mastodon-bad|127\.0\.0\.1:%d" % bad_srv.port)
    fault_windows = {}
    for i, r in enumerate(reqs):
        f = r.get("fault") or {}
        name = f.get("name")
        if not name:
            continue
        start = r.get("probe", 0)
        end = reqs[i + 2].get("probe", size) if i + 2 < len(reqs) else size
        window = log.encode()[start:end].decode("utf-8", "replace")
        fault_windows[name] = window
        pat = log_patterns.get(name)
        if pat:
            lines = [ln for ln in window.splitlines() if ident.search(ln) and re.search(pat, ln, re.I)]
            hits = [ln for ln in lines if H.is_problem_line(ln)]
            case.expect(hits, f"fault {name}: no warning/error line naming the bad source and "
                              f"matching /{pat}/ (log bytes {start}-{end})"
                              + (f"; only: {lines[0].strip()[:200]}" if lines else ""))
            if hits:
                case.note(f"fault {name}: {hits[0].strip()[:200]}")
        if name in ("429", "503") and i + 1 < len(reqs):
            ra = float(f["headers"]["Retry-After"])
            gap = reqs[i + 1]["t"] - r["t_done"]
            case.expect(gap >= ra - 0.1, f"the bad instance was polled {gap:.2f}s after its {name} "
                                         f"with Retry-After: {ra:g}")
            case.note(f"next poll {gap:.2f}s after the {name} (Retry-After: {ra:g})")
        if name in ("huge", "huge-cl"):
            sent = r.get("bytes_sent", 0)
            case.expect(sent < (50 << 20), f"fault {name}: the daemon read the whole 50 MiB body "
                                           "(max_response_size is 4 MiB)")
            case.note(f"fault {name}: {sent} bytes sent before the daemon closed")
        if name == "hang" and i + 1 < len(reqs):
            case.note(f"next poll {reqs[i + 1]['t'] - r['t']:.2f}s after the hang began")

    # Webhook: bodies, 429 + Retry-After: 2, exactly-once delivery.
    alld = hook.all()
    for dl in alld:
        case.expect(dl["error"] is None, f"webhook body: {dl['error']}: {dl['raw'][:200]!r}")
    first = next((dl for dl in alld if dl["status"] == 429), None)
    H.check(first, "test bug: no webhook request got the scripted 429")
    again = [dl for dl in alld if dl["key"] == first["key"] and dl["t"] > first["t"]]
    if case.expect(again, f"alert {first['key']} was never retried after the 429"):
        gap = again[0]["t"] - first["t"]
        case.expect(gap >= 1.9, f"alert {first['key']} retried {gap:.2f}s after 429 with "
                                "Retry-After: 2")
        case.note(f"webhook retry {gap:.2f}s after its 429")
    keys = hook.ok_ids()
    for k in set(keys):
        case.expect(keys.count(k) == 1, f"alert {k} delivered {keys.count(k)} times (want 1)")
    rows = d.alerts_by_post()
    delivered = set(hook.by_post()) | {rej["uri"]}
    case.expect(delivered == set(rows), f"webhook and store disagree: {delivered ^ set(rows)}")
    hung = [dl for dl in alld if dl["status"] is None or dl["status"] == "hang"]
    if case.expect(len(hung) == 1, f"{len(hung)} webhook requests left hanging, want the 1 scripted"):
        later = [dl for dl in alld if dl["key"] == hung[0]["key"] and dl["t"] > hung[0]["t"]]
        case.expect(later, f"alert {hung[0]['key']} was not retried after its delivery timed out")

    # A status with invalid UTF-8, or buried in an HTML bomb, still holds a complaint:
    # it must either alert (text made valid UTF-8) or be reported at warning level.
    for f in (bad_utf8, bomb):
        uri = re.search(rb'"uri":\s*"([^"]+)"', f["body"]).group(1).decode()
        dl = hook.by_post().get(uri)
        text = ((dl[0]["json"].get("post") or {}).get("text") if dl else None) or ""
        warned = [ln for ln in fault_windows.get(f["name"], "").splitlines()
                  if ident.search(ln) and H.is_problem_line(ln)]
        case.note(f"fault {f['name']}: " + (f"alerted, post.text {text[:60]!r} ({len(text)} chars)"
                                            if dl else "not alerted")
                  + (f"; warned: {warned[0].strip()[:160]}" if warned else "; no warning"))
        case.expect(dl or warned, f"fault {f['name']}: the complaint in it neither alerted nor "
                                  "was a warning logged (a silently lost post)")

    H.check(d.alive(), f"earshotd exited with status {d.proc.returncode}")
    d.stop()


if __name__ == "__main__":
    H.main("bad_input", test)
