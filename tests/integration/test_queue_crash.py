#!/usr/bin/env python3
"""queue_crash: SIGKILL during escalations and during earshotctl writes loses nothing,
sends nothing twice under another id, and never damages the store.

Complaints arrive every ~150 ms on a loopback Mastodon; the rule's target is 3 s and its
escalation policy has steps at 25 %, 50 %, 100 % and 150 % (the first two stop at
acknowledged). A second thread runs `earshotctl ack` / `respond` on random alerts all the
time. earshotd is killed with SIGKILL 0.1-1.2 s after each READY=1 and restarted, at least
15 times; the webhook answers every 7th request with 500. Then the feeding stops and the last
daemon runs until every step is planned out and every outbox row is finished. Checks:
  * PRAGMA integrity_check says ok after every kill and at the end;
  * every outbox row (first alerts and escalation steps) ended delivered or cancelled, and
    every delivered one reached the webhook with a 2xx; a step's Idempotency-Key is always
    ID/escalation-N with the body's id and event, and one key always carries the same body
    event (repeats are retries, never a different step under the same key);
  * every step recorded in an alert's history has its outbox rows, and vice versa;
  * no step that stops at acknowledged was queued after the alert was acknowledged, and no
    step at all after it was answered (in commit order: the history's row ids);
  * each complaint has exactly one alert.
"""

import random
import sqlite3
import subprocess
import threading
import time

import harness as H

ROUNDS = 15
BUDGET = 60.0


def integrity(d):
    con = sqlite3.connect(d.db_path(), timeout=10)
    try:
        return con.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        con.close()


def test(case):
    rnd = case.random
    srv = case.server("mock")
    masto = H.MastodonInstance(srv, first_id=190000000000000001)

    def responder(n, entry):
        return {"status": 500, "body": b"{}"} if n % 7 == 6 else None
    hook = H.WebhookReceiver(case.server("hook"), "/hook", responder=responder)

    rule = dict(H.REFUND_RULE, respond_within="3s", escalation="fast")
    cfg = H.make_config(
        sources=[H.mastodon_source("masto", masto.url, interval="300ms")],
        notifiers=[H.webhook_notifier("hook", hook.url)],
        rules=[rule],
        defaults={"respond_within": "1h", "backfill": "1h", "interval": "60s",
                  "silent_after": "0"},
        delivery={"retry_initial": "200ms", "retry_max": "1s"},
        escalation={"policies": {"fast": [{"at": "25%"}, {"at": "50%"}, {"at": "100%"},
                                          {"at": "150%"}]}},
        grouping={"threads": False, "copies_window": "0s"},
        http={"timeout": "3s", "connect_timeout": "1s"})
    d = case.daemon(cfg)

    stop = threading.Event()
    complaints = {}

    def feeder():
        n = 0
        while not stop.is_set():
            n += 1
            s = masto.add_status(f"<p>acme I want a refund for order {n}</p>",
                                 acct=f"u{n}@crash.example")
            complaints[s["uri"]] = s
            stop.wait(rnd.uniform(0.1, 0.2))

    ctl_runs = {"ok": 0, "other": 0}

    def actor():
        r2 = random.Random(rnd.random())
        while not stop.is_set():
            rows = d.db_try("SELECT id FROM alerts WHERE state IN ('open', 'acknowledged')")
            if rows:
                verb = r2.choice(["ack", "ack", "respond"])
                argv = [H.earshotctl_path(), "--state-dir", d.state_dir, verb,
                        r2.choice(rows)["id"], "--by", "crash-test"]
                try:
                    r = subprocess.run(argv, capture_output=True, timeout=H.scaled(20))
                    ctl_runs["ok" if r.returncode == 0 else "other"] += 1
                except subprocess.TimeoutExpired:
                    ctl_runs["other"] += 1
            stop.wait(r2.uniform(0.05, 0.3))

    threads = [threading.Thread(target=feeder, daemon=True),
               threading.Thread(target=actor, daemon=True)]
    for t in threads:
        t.start()
    case.cleanups.append(stop.set)

    t0 = time.monotonic()
    rounds = 0
    while rounds < ROUNDS or (time.monotonic() - t0 < BUDGET * 0.6 and rounds < 30):
        d.start()
        time.sleep(rnd.uniform(0.1, 1.2))   # the random kill moment is the point
        H.check(d.alive(), f"earshotd exited by itself in round {rounds}")
        d.kill9()
        rounds += 1
        res = integrity(d)
        case.expect(res == "ok", f"integrity_check after kill {rounds}: {res}")
        if time.monotonic() - t0 > BUDGET:
            break
    case.note(f"{rounds} kills in {time.monotonic() - t0:.1f}s; {len(complaints)} complaints; "
              f"earshotctl runs {ctl_runs}")
    H.check(rounds >= ROUNDS, f"only {rounds} rounds fitted in the time budget")
    stop.set()
    for t in threads:
        t.join()

    d.start()

    def settled():
        pending = d.db_try("SELECT COUNT(*) AS n FROM outbox WHERE state = 'pending'")
        planned = d.db_try("SELECT COUNT(*) AS n FROM alerts WHERE next_escalation_usec "
                           "IS NOT NULL AND state IN ('open', 'acknowledged')")
        missing = set(complaints) - set(d.alerts_by_post())
        return (pending and planned and pending[0]["n"] == 0 and planned[0]["n"] == 0
                and not missing)
    try:
        H.wait_until(settled, 60, "every step planned out and every row finished")
    except AssertionError as e:
        case.expect(False, str(e))
    d.stop()
    res = integrity(d)
    case.expect(res == "ok", f"integrity_check at the end: {res}")

    alerts = d.alerts_by_post()
    bad = [uri for uri in complaints if len(alerts.get(uri, [])) != 1]
    case.expect(not bad, f"{len(bad)} complaints without exactly one alert: {bad[:3]}")

    outbox = d.db("SELECT alert_id, notifier, event, state, stop_on, created_usec FROM outbox")
    unfinished = [o for o in outbox if o["state"] not in ("delivered", "cancelled")]
    case.expect(not unfinished, f"{len(unfinished)} outbox rows not finished: {unfinished[:3]}")

    ok_keys = {}
    for dl in hook.ok():
        j = dl["json"] or {}
        ev = j.get("event")
        want = j.get("id") if ev == "new" else f"{j.get('id')}/{ev}"
        case.expect(dl["key"] == want, f"Idempotency-Key {dl['key']!r} for event {ev!r} of "
                                       f"{j.get('id')!r}, want {want!r}")
        prev = ok_keys.setdefault(dl["key"], ev)
        case.expect(prev == ev, f"key {dl['key']!r} carried {prev!r} and {ev!r}")
    delivered = {(o["alert_id"] if o["event"] == "new" else f"{o['alert_id']}/{o['event']}")
                 for o in outbox if o["state"] == "delivered"}
    missing = delivered - set(ok_keys)
    case.expect(not missing, f"{len(missing)} delivered rows never reached the webhook with a "
                             f"2xx: {sorted(missing)[:3]}")

    events = d.db("SELECT id, alert_id, kind, at_usec, note FROM alert_events ORDER BY id")
    stops = {(o["alert_id"], o["event"]): o["stop_on"] for o in outbox}
    steps_hist = {(e["alert_id"], e["note"].split(":")[0]) for e in events
                  if e["kind"] == "escalated"}
    steps_out = {(o["alert_id"], o["event"]) for o in outbox if o["event"] != "new"}
    case.expect(steps_hist == steps_out,
                f"history and outbox disagree: only in history {sorted(steps_hist - steps_out)[:3]}, "
                f"only in outbox {sorted(steps_out - steps_hist)[:3]}")
    # commit order, not clocks: each side reads its clock before its write transaction, so
    # only the history's row ids say which change came first
    acked, answered, late = {}, {}, []
    for e in events:
        a = e["alert_id"]
        if e["kind"] == "ack":
            acked.setdefault(a, e["id"])
        elif e["kind"] in ("respond", "resolve"):
            answered.setdefault(a, e["id"])
            acked.setdefault(a, e["id"])
        elif e["kind"] == "escalated":
            step = e["note"].split(":")[0]
            stop = stops.get((a, step))
            if (a in answered) or (stop == "acknowledged" and a in acked):
                late.append((a, step, stop))
    case.expect(not late, f"{len(late)} steps queued after the alert was acknowledged or "
                          f"answered: {late[:3]}")
    n_steps = len(steps_out)
    n_cancel = sum(o["state"] == "cancelled" for o in outbox)
    case.note(f"{len(alerts)} alerts, {n_steps} escalation steps, {n_cancel} cancelled rows, "
              f"{len(hook.ok())} 2xx deliveries")
    case.expect(n_steps > 0, "no escalation step at all: the test proves nothing")


if __name__ == "__main__":
    H.main("queue_crash", test)
