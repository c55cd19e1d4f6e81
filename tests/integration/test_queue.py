#!/usr/bin/env python3
"""queue: complaints on a clock -- escalation steps, a late post, threads and copies, through
the real earshotd, a loopback Mastodon and a loopback webhook.

The rule "refunds" has a target of 8 s and the escalation policy "standard": steps at 50 %,
100 % and 150 % of the target (the first stops at acknowledged, the others at responded).

  * an alert nobody touches: "new", then escalation-1 ("still unanswered, due in ..."),
    escalation-2 ("overdue by ..."), escalation-3, each once, in that order, no earlier than
    its step time (creation + 4 s / 8 s / 12 s), each with its own Idempotency-Key
    (ID/escalation-N) and the alert id in the body;
  * an alert acknowledged with earshotctl right away: no escalation-1, but escalation-2 at
    100 %; then responded: no escalation-3;
  * a post created 1 h ago (backfill 2 h): one alert marked late ("late_by" about an hour,
    the history says "late by ... when detected"), and no escalation burst for the steps
    already past;
  * the same author posting again about the brand while the alert is open: no new alert, one
    "thread" notification for the alert (not one per post), `earshotctl show` lists the posts;
  * the same long text posted by three accounts: one alert with copies = 3, no new alerts;
  * the webhook body carries state, message, late, posts, copies and priority.
"""

import json
import time

import harness as H

TARGET = 8.0


def test(case):
    srv = case.server("mock")
    masto = H.MastodonInstance(srv, first_id=180000000000000001)
    hook = H.WebhookReceiver(case.server("hook"), "/hook")

    rule = dict(H.REFUND_RULE, respond_within="8s", escalation="standard")
    cfg = H.make_config(
        sources=[H.mastodon_source("masto", masto.url, backfill="2h")],
        notifiers=[H.webhook_notifier("hook", hook.url)],
        rules=[rule],
        defaults={"respond_within": "1h", "backfill": "2h", "interval": "60s",
                  "silent_after": "0"},
        escalation={"policies": {"standard": [{"at": "50%"}, {"at": "100%"},
                                              {"at": "150%"}]}},
        grouping={"threads": True, "copies_window": "1h"})
    d = case.daemon(cfg)

    # before the first poll: the late post
    late = masto.add_status("<p>acme refund please, it has been ages</p>", age=3600,
                            acct="late@q.example")
    d.start()

    def alive():
        H.check(d.alive(), f"earshotd exited with status {d.proc.returncode}")

    def deliveries(uri):
        return [x for x in hook.ok() if ((x["json"] or {}).get("post") or {}).get("id") == uri]

    def events(uri):
        return [(x["json"] or {}).get("event") for x in deliveries(uri)]

    hook.wait_posts([late["uri"]], timeout=15)
    t_quiet = masto.add_status("<p>acme I want a refund for order 1</p>", acct="quiet@q.example")
    t_ack = masto.add_status("<p>acme where is my refund for order 2</p>", acct="ack@q.example")
    hook.wait_posts([t_quiet["uri"], t_ack["uri"]], timeout=15)
    alerts = d.alerts_by_post()
    ack_id = alerts[t_ack["uri"]][0]["id"]
    rc, out, err = d.ctl("ack", ack_id, "--by", "maria", "--note", "on it")
    case.expect(rc == 0, f"earshotctl ack: exit {rc}: {err.strip()}")

    # a thread: the same author twice more; copies: the same long text by three accounts
    thread1 = masto.add_status("<p>acme refund still missing, day three</p>", acct="td@q.example")
    hook.wait_posts([thread1["uri"]], timeout=15)
    thread2 = masto.add_status("<p>acme, hello? my refund?</p>", acct="td@q.example")
    thread3 = masto.add_status("<p>acme refund, third time asking</p>", acct="td@q.example")
    copy_text = "<p>Boycott acme until they refund every customer they cheated this year</p>"
    copies = [masto.add_status(copy_text, acct=f"c{i}@q.example") for i in range(3)]
    H.wait_until(lambda: alive() or {thread3["id"], copies[-1]["id"]} <= masto.served_ids(),
                 15, "a poll that served the thread and the copies")

    # the clock runs: the acknowledged alert's 100 % step comes, then it is answered before
    # its 150 % step; the untouched alert gets every step
    H.wait_until(lambda: alive() or "escalation-2" in events(t_ack["uri"]), 30,
                 "escalation-2 of the acknowledged alert")
    rc, out, err = d.ctl("respond", ack_id, "--by", "maria")
    case.expect(rc == 0, f"earshotctl respond: exit {rc}: {err.strip()}")
    H.wait_until(lambda: alive() or "escalation-3" in events(t_quiet["uri"]), 30,
                 "escalation-3 of the untouched alert")
    time.sleep(1.5)   # a step the answer should have stopped would have arrived by now

    # ---- the untouched alert --------------------------------------------------------------
    dl = deliveries(t_quiet["uri"])
    ev = [(x["json"] or {}).get("event") for x in dl]
    case.note(f"untouched alert: {ev}")
    case.expect(ev == ["new", "escalation-1", "escalation-2", "escalation-3"],
                f"untouched alert: events {ev}, want new, escalation-1, -2, -3 once each")
    created = H.parse_rfc3339(t_quiet["created_at"])
    for x in dl:
        j = x["json"] or {}
        if not j.get("event", "").startswith("escalation-"):
            continue
        k = int(j["event"].split("-")[1])
        step = created + TARGET * 0.5 * k
        case.expect(x["wall"] >= step - 0.3,
                    f"{j['event']} arrived {step - x['wall']:.2f}s before its step time")
        case.expect(x["key"] == f"{j['id']}/{j['event']}",
                    f"{j['event']}: Idempotency-Key {x['key']!r}, want ID/{j['event']}")
        msg = j.get("message") or ""
        want = "still unanswered, due in" if k == 1 else "overdue by"
        case.expect(msg.startswith(want), f"{j['event']}: message {msg!r}, want {want!r}...")
        case.expect(j.get("state") == "open", f"{j['event']}: state {j.get('state')!r}")

    # ---- the acknowledged, then responded alert ---------------------------------------------
    ev = events(t_ack["uri"])
    case.note(f"acknowledged alert: {ev}")
    case.expect(ev == ["new", "escalation-2"],
                f"acknowledged alert: events {ev}, want new and escalation-2 only")

    # ---- the late post --------------------------------------------------------------------
    dl = deliveries(late["uri"])
    ev = [(x["json"] or {}).get("event") for x in dl]
    case.expect(ev == ["new"], f"late alert: events {ev}, want only 'new' (no burst of past steps)")
    j = (dl[0]["json"] if dl else {}) or {}
    case.expect(j.get("late") is True and 3000 <= (j.get("late_by") or 0) <= 4000,
                f"late alert: late {j.get('late')!r}, late_by {j.get('late_by')!r} (want ~3592 s)")
    rc, out, err = d.ctl("show", alerts[late["uri"]][0]["id"], "--json")
    case.expect(rc == 0 and "late by" in out, f"show of the late alert lacks 'late by': {out[:400]}")

    # ---- thread ---------------------------------------------------------------------------
    rows = d.alerts_by_post()
    case.expect(thread2["uri"] not in rows and thread3["uri"] not in rows,
                "thread posts opened alerts of their own")
    ev = events(thread1["uri"])
    case.expect(ev.count("thread") == 1, f"thread alert: events {ev}, want exactly one 'thread'")
    th = [x["json"] for x in deliveries(thread1["uri"]) if (x["json"] or {}).get("event") == "thread"]
    case.expect(th and th[0].get("posts", 0) >= 2,
                f"thread notification: posts {th[0].get('posts') if th else None}, want >= 2 "
                "(the count when it was sent)")
    tid = rows[thread1["uri"]][0]["id"]
    rc, out, err = d.ctl("show", tid, "--json")
    case.expect(rc == 0 and thread2["uri"] in out and thread3["uri"] in out,
                f"earshotctl show {tid}: the thread posts are not listed: {out[:500]}")
    db = d.db("SELECT posts, copies FROM alerts WHERE id = ?", (tid,))
    case.expect(db and db[0]["posts"] == 3, f"thread alert: posts {db}, want 3")

    # ---- copies ---------------------------------------------------------------------------
    got = [c["uri"] for c in copies if c["uri"] in rows]
    case.expect(len(got) == 1, f"copies: {len(got)} alerts for one text posted by three, want 1")
    if got:
        db = d.db("SELECT copies FROM alerts WHERE post_key LIKE ?", ("%" + copies[0]["uri"],))
        case.expect(db and db[0]["copies"] == 3, f"copies: {db}, want copies = 3")

    # ---- the body -------------------------------------------------------------------------
    j = (deliveries(t_quiet["uri"])[0]["json"] or {})
    for k in ("state", "late", "posts", "copies", "priority"):
        case.expect(k in j, f"webhook body lacks {k!r}: {json.dumps(j)[:300]}")
    alive()
    d.stop()


if __name__ == "__main__":
    H.main("queue", test)
