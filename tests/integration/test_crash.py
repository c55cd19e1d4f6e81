#!/usr/bin/env python3
"""crash: SIGKILL at random moments loses nothing and invents nothing.

A feeder thread publishes a complaint or a non-complaint every ~100 ms while
earshotd is killed with SIGKILL 0.05-1.5 s after each READY=1 and restarted, at
least 20 times; the webhook answers every 5th request with 500 and takes a
little time to answer (so kills also land mid-delivery).  Then feeding stops
and the last daemon runs until every outbox row is delivered.  Checks:
  * every complaint has exactly one alerts row;
  * every alert id reached the webhook with a 2xx at least once; duplicates are
    allowed but carry the same id (and the same post) as the first;
  * no alert for a non-complaint, none for the posts older than backfill;
  * the final SIGTERM exits 0.
"""

import threading
import time

import harness as H

ROUNDS = 20
BUDGET = 75.0          # seconds for the kill/restart rounds (more rounds if time allows)

COMPLAINTS = ["<p>acme I want a refund for order {n}</p>",
              "<p>#acme where is my money back? ({n})</p>",
              "<p>Acme Corp refunded nobody, me neither #{n}</p>"]
OTHERS = ["<p>love acme #{n}</p>",
          "<p>acme is hiring refund agents #{n}</p>",
          "<p>my landlord owes me a refund #{n}</p>",
          "<p>acmejobs: acme refund desk #{n}</p>"]


def test(case):
    rnd = case.random
    srv = case.server("mock")
    masto = H.MastodonInstance(srv)

    def responder(n, entry):
        f = {"delay": rnd.uniform(0.0, 0.08)}
        if n % 5 == 4:
            f["status"] = 500
            f["body"] = b'{"error":"injected"}'
        return f
    hook = H.WebhookReceiver(srv, "/hook", responder=responder)

    complaints, others, old = {}, {}, {}
    for i in range(3):
        s = masto.add_status(f"<p>acme refund, old post {i}</p>", age=3 * 3600 + i)
        old[s["uri"]] = s

    cfg = H.make_config(
        sources=[H.mastodon_source("mastodon-acme", masto.url, interval="300ms", limit=40,
                                   max_pages=10)],
        notifiers=[H.webhook_notifier("hook", hook.url)],
        delivery={"retry_initial": "200ms", "retry_max": "2s"},
        http={"timeout": "5s", "connect_timeout": "2s"})
    d = case.daemon(cfg)

    stop_feed = threading.Event()
    lock = threading.Lock()

    def feeder():
        n = 0
        while not stop_feed.is_set():
            n += 1
            if rnd.random() < 0.5:
                s = masto.add_status(rnd.choice(COMPLAINTS).format(n=n),
                                     acct=f"c{n}@crash.example")
                with lock:
                    complaints[s["uri"]] = s
            else:
                s = masto.add_status(rnd.choice(OTHERS).format(n=n), acct=f"o{n}@crash.example")
                with lock:
                    others[s["uri"]] = s
            stop_feed.wait(rnd.uniform(0.05, 0.15))

    t = threading.Thread(target=feeder, name="feeder", daemon=True)
    t.start()
    case.cleanups.append(stop_feed.set)

    t0 = time.monotonic()
    rounds = 0
    while rounds < ROUNDS or (time.monotonic() - t0 < BUDGET * 0.6 and rounds < 40):
        d.start()
        delay = rnd.uniform(0.05, 1.5)
        time.sleep(delay)    # the random kill moment is the point of this test
        H.check(d.alive(), f"earshotd exited by itself (status {d.proc.returncode}) in round {rounds}")
        d.kill9()
        rounds += 1
        if time.monotonic() - t0 > BUDGET:
            break
    case.note(f"{rounds} kill -9 rounds in {time.monotonic() - t0:.1f}s; "
              f"{len(complaints)} complaints, {len(others)} others so far, "
              f"{len(hook.all())} webhook requests")
    H.check(rounds >= ROUNDS, f"only {rounds} rounds fitted in the time budget")

    stop_feed.set()
    t.join()
    d.start()

    def state():
        rows = d.alerts_by_post()
        outbox = d.db_try("SELECT state FROM outbox")
        ids = {a["id"] for rs in rows.values() for a in rs}
        return {"complaints without alert": len(set(complaints) - set(rows)),
                "outbox rows not delivered": sum(r["state"] != "delivered" for r in outbox),
                "alert ids never received": len(ids - set(hook.ok_ids())),
                "outbox rows": len(outbox)}

    def quiescent():
        s = state()
        return s["outbox rows"] and not any(v for k, v in s.items() if k != "outbox rows")
    try:
        H.wait_until(quiescent, 60, "quiescence")
    except AssertionError as e:
        case.expect(False, f"{e}: {state()}")
    case.note(f"quiescent: {state()}")
    d.stop()

    rows = d.alerts_by_post()
    bad = [f"{s['id']} has {len(rows.get(uri, []))}" for uri, s in complaints.items()
           if len(rows.get(uri, [])) != 1]
    case.expect(not bad, f"{len(bad)} of {len(complaints)} complaints do not have exactly one "
                         f"alerts row: {bad[:5]}")
    bad = [f"{s['id']} {s['content']!r}" for uri, s in others.items() if uri in rows]
    case.expect(not bad, f"{len(bad)} non-complaints were alerted: {bad[:5]}")
    bad = [s["id"] for uri, s in old.items() if uri in rows]
    case.expect(not bad, f"posts older than backfill were alerted: {bad}")
    unknown = set(rows) - set(complaints) - set(others) - set(old)
    case.expect(not unknown, f"alerts for posts never published: {sorted(unknown)[:5]}")

    ids = {a["id"]: uri for uri, rs in rows.items() for a in rs}
    ok = hook.ok()
    got = {dl["key"] for dl in ok}
    missing = set(ids) - got
    case.expect(not missing, f"{len(missing)} alert ids never delivered with a 2xx: "
                             f"{sorted(missing)[:5]}")
    first_post = {}
    for dl in hook.all():
        j = dl["json"] or {}
        case.expect(dl["key"] == j.get("id"), f"Idempotency-Key {dl['key']!r} != body id {j.get('id')!r}")
        pid = (j.get("post") or {}).get("id")
        if dl["key"] in first_post:
            case.expect(first_post[dl["key"]] == pid,
                        f"alert id {dl['key']} was delivered for two posts")
        first_post.setdefault(dl["key"], pid)
        case.expect(dl["key"] in ids, f"webhook got alert id {dl['key']} that is not in the store")
        if dl["key"] in ids:
            case.expect(ids[dl["key"]] == pid,
                        f"alert id {dl['key']} delivered for {pid}, stored for {ids[dl['key']]}")
    keys = [dl["key"] for dl in ok]
    dups = len(keys) - len(set(keys))
    case.note(f"{len(ids)} alerts, {len(ok)} 2xx deliveries ({dups} duplicates), "
              f"{len(hook.all())} webhook requests")


if __name__ == "__main__":
    H.main("crash", test)
