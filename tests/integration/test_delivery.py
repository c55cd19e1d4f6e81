#!/usr/bin/env python3
"""delivery: at least once, in due order, whatever the receiver does -- through the real
earshotd, a loopback Mastodon and loopback webhook receivers.

  * a receiver down (503) for a stretch, then back: every alert arrives, repeats carry the
    same Idempotency-Key, and after the outage the backlog goes out most urgent first (the
    alerts with the shorter target, though posted later, come first);
  * 429 with Retry-After: 3: that receiver hears nothing more for 3 s;
  * 400: rejected for good, not retried; `earshotctl deliveries --failed` shows the
    receiver's answer; `earshotctl redeliver ID` sends it again once the receiver is fixed;
  * delivery.max_age: a row that cannot be delivered in time fails, is logged and listed;
  * kill -9 during deliveries, many times: every alert delivered at least once, repeats only
    with the same key.
"""

import json
import threading
import time

import harness as H


def test(case):
    rnd = case.random
    srv = case.server("mock")
    masto = H.MastodonInstance(srv, first_id=191000000000000001)
    hooks = case.server("hooks")

    state = {"down_until": 0.0, "mode": {}}
    lock = threading.Lock()

    def outage(n, entry):
        if time.time() < state["down_until"]:
            return {"status": 503, "body": b"maintenance"}
        return None

    def picky(n, entry):
        with lock:
            mode = state["mode"].get("picky")
        if mode == "429":
            with lock:
                state["mode"]["picky"] = None
            return {"status": 429, "body": b"slow down", "headers": {"Retry-After": "3"}}
        if mode == "400":
            return {"status": 400, "body": b"{\"error\": \"unknown channel #alerts\"}"}
        return None

    main = H.WebhookReceiver(hooks, "/main", responder=outage)
    picky_r = H.WebhookReceiver(hooks, "/picky", responder=picky)
    dead = H.WebhookReceiver(hooks, "/dead",
                             responder=lambda n, e: {"status": 503, "body": b"gone fishing"})

    rules = [
        {"name": "slow-target", "brand": "acme", "any": ["sometime"], "severity": "normal",
         "respond_within": "2h"},
        {"name": "fast-target", "brand": "acme", "any": ["urgently"], "severity": "normal",
         "respond_within": "10m"},
        {"name": "picky", "brand": "acme", "any": ["picky"], "severity": "normal"},
        {"name": "deadend", "brand": "acme", "any": ["deadend"], "severity": "normal"},
    ]
    cfg = H.make_config(
        sources=[H.mastodon_source("masto", masto.url)],
        notifiers=[H.webhook_notifier("main", main.url, min_interval="200ms"),
                   H.webhook_notifier("picky", picky_r.url),
                   H.webhook_notifier("dead", dead.url)],
        rules=rules,
        delivery={"retry_initial": "500ms", "retry_max": "2s", "max_age": "1h"},
        routes=[{"name": "main", "match": {"rule": ["slow-target", "fast-target"]},
                 "notify": "main"},
                {"name": "picky", "match": {"rule": "picky"}, "notify": "picky"},
                {"name": "dead", "match": {"rule": "deadend"}, "notify": "dead"}])
    d = case.daemon(cfg)
    d.start()

    def alive():
        H.check(d.alive(), f"earshotd exited with status {d.proc.returncode}")

    def ok_uris(recv):
        return [((x["json"] or {}).get("post") or {}).get("id") for x in recv.ok()]

    # ---- an outage, then the backlog in due order -------------------------------------------
    state["down_until"] = time.time() + 6
    slow = [masto.add_status(f"<p>acme answer me sometime, case {i}</p>", acct=f"s{i}@d.example")
            for i in range(3)]
    H.wait_until(lambda: alive() or {s["id"] for s in slow} <= masto.served_ids(), 10,
                 "the slow-target posts polled")
    fast = [masto.add_status(f"<p>acme I need this urgently, case {i}</p>", acct=f"f{i}@d.example")
            for i in range(3)]
    H.wait_until(lambda: alive() or {s["id"] for s in fast} <= masto.served_ids(), 10,
                 "the fast-target posts polled")
    H.wait_until(lambda: alive() or all(s["uri"] in ok_uris(main) for s in slow + fast), 30,
                 "every alert after the outage")
    failed = [x for x in main.all() if x["status"] == 503]
    case.note(f"outage: {len(failed)} requests answered 503")
    case.expect(len(failed) >= 1, "the receiver was never tried during the outage")
    order = [u for u in ok_uris(main) if u in {s["uri"] for s in slow + fast}]
    case.note("delivered order: " + ", ".join("fast" if u in {f["uri"] for f in fast} else "slow"
                                               for u in order))
    case.expect(set(order[:3]) == {f["uri"] for f in fast},
                "after the outage the backlog did not go out most urgent first")
    by_post = {}
    for x in main.all():
        pid = ((x["json"] or {}).get("post") or {}).get("id")
        by_post.setdefault(pid, set()).add(x["key"])
    for s in slow + fast:
        keys = by_post.get(s["uri"], set())
        case.expect(len(keys) == 1, f"{s['uri']}: keys {keys}, want one for every attempt")
    # while it was down, it was not hammered: a probe per backoff, not one per alert and retry
    case.expect(len(failed) <= 12, f"{len(failed)} requests to a receiver that was down")

    # ---- 429 with Retry-After ---------------------------------------------------------------
    state["mode"]["picky"] = "429"
    p1 = masto.add_status("<p>acme picky one</p>", acct="p1@d.example")
    H.wait_until(lambda: alive() or p1["uri"] in ok_uris(picky_r), 15, "picky after its 429")
    tries = [x for x in picky_r.all()
             if ((x["json"] or {}).get("post") or {}).get("id") == p1["uri"]]
    case.expect(len(tries) == 2 and tries[0]["status"] == 429,
                f"picky: statuses {[t['status'] for t in tries]}, want 429 then 200")
    if len(tries) == 2:
        gap = tries[1]["t"] - tries[0]["t"]
        case.note(f"429 Retry-After: 3 -> next try after {gap:.2f}s")
        case.expect(gap >= 2.8, f"retried {gap:.2f}s after a 429 with Retry-After: 3")

    # ---- 400: rejected, listed, redelivered --------------------------------------------------
    with lock:
        state["mode"]["picky"] = "400"
    p2 = masto.add_status("<p>acme picky two</p>", acct="p2@d.example")
    H.wait_until(lambda: alive() or any(((x["json"] or {}).get("post") or {}).get("id") == p2["uri"]
                                        for x in picky_r.all()), 15, "picky two tried")
    time.sleep(2.5)   # retries, if any, would come within retry_max
    tries = [x for x in picky_r.all()
             if ((x["json"] or {}).get("post") or {}).get("id") == p2["uri"]]
    case.expect(len(tries) == 1, f"a 400 was tried {len(tries)} times, want once")
    log = d.log_text()
    case.expect("rejected, not retrying: HTTP 400 from" in log and "unknown channel #alerts" in log,
                "the log does not name the 400 and the receiver's answer")
    rc, out, err = d.ctl("deliveries", "--failed", "--json")
    rows = json.loads(out) if rc == 0 else []
    rej = [r for r in rows if r["notifier"] == "picky" and r["state"] == "rejected"]
    case.expect(len(rej) == 1 and "unknown channel #alerts" in (rej[0]["last_error"] or ""),
                f"deliveries --failed: {rows}")
    with lock:
        state["mode"]["picky"] = None
    if rej:
        rc, out, err = d.ctl("redeliver", str(rej[0]["id"]))
        case.expect(rc == 0 and "queued again" in out, f"redeliver: exit {rc}: {out} {err}")
        H.wait_until(lambda: alive() or p2["uri"] in ok_uris(picky_r), 15, "picky two redelivered")
        keys = {x["key"] for x in picky_r.all()
                if ((x["json"] or {}).get("post") or {}).get("id") == p2["uri"]}
        case.expect(len(keys) == 1, f"redelivery changed the Idempotency-Key: {keys}")
    rc, out, err = d.ctl("redeliver", "999999")
    case.expect(rc == 1 and "no outbox row 999999" in err, f"redeliver 999999: exit {rc}: {err}")

    # ---- max_age ------------------------------------------------------------------------------
    alive()
    d.stop()
    cfg["delivery"]["max_age"] = "4s"
    d.write_config(cfg)
    d.start()
    gone = masto.add_status("<p>acme deadend complaint</p>", acct="g@d.example")
    H.wait_until(lambda: alive() or "given up, undelivered after 4s" in d.log_text(), 20,
                 "the dead receiver's row to give up")
    rc, out, err = d.ctl("deliveries", "--failed")
    case.note("deliveries --failed:\n" + out)
    case.expect(rc == 0 and "failed" in out and "dead" in out and "gone fishing" in out,
                f"deliveries --failed does not list the given-up row: {out}")
    n_dead = len(dead.all())
    time.sleep(2.5)
    case.expect(len(dead.all()) == n_dead, "a failed row was still retried")
    case.expect(gone["uri"] in d.alerts_by_post(), "the alert itself is gone from the queue")
    alive()
    d.stop()

    # ---- kill -9 during deliveries ---------------------------------------------------------------
    slowpoke = H.WebhookReceiver(hooks, "/slowpoke",
                                 responder=lambda n, e: {"delay": rnd.uniform(0.5, 1.5)})
    cfg["notifiers"] = [H.webhook_notifier("main", slowpoke.url)]
    cfg["routes"] = [{"name": "all", "notify": "main"}]
    cfg["delivery"] = {"retry_initial": "300ms", "retry_max": "1s"}
    d.write_config(cfg)
    posted = []
    for rnd_i in range(6):
        d.start()
        for k in range(3):
            posted.append(masto.add_status(f"<p>acme I need this urgently, round {rnd_i} case {k}</p>",
                                           acct=f"k{rnd_i}{k}@d.example"))
        time.sleep(rnd.uniform(0.8, 2.2))
        d.kill9()
    d.start()
    H.wait_until(lambda: alive() or all(p["uri"] in ok_uris(slowpoke) for p in posted), 40,
                 "every alert after six kills")
    keys = {}
    for x in slowpoke.all():
        pid = ((x["json"] or {}).get("post") or {}).get("id")
        keys.setdefault(pid, set()).add(x["key"])
    repeats = len(slowpoke.all()) - len({p["uri"] for p in posted})
    case.note(f"kill -9 x6: {len(posted)} alerts, {repeats} requests repeated after a kill")
    for p in posted:
        case.expect(p["uri"] in ok_uris(slowpoke), f"{p['uri']} never delivered")
        case.expect(len(keys.get(p["uri"], ())) == 1,
                    f"{p['uri']}: delivered with keys {keys.get(p['uri'])}")
    alive()
    d.stop()


if __name__ == "__main__":
    H.main("delivery", test)
