#!/usr/bin/env python3
"""routes: who hears what -- routes, continue, the implicit default, digests, a notifier's rate,
an escalation step naming a route, and `earshotctl notify-test`, through the real earshotd, a
loopback Mastodon and four loopback webhook receivers.

  routes:
    urgent   severity high/critical  -> pager          continue: true
    billing  tag billing, brand acme -> billing
    quiet    severity low            -> chat           digest: 10s
  (no route takes it)                -> every enabled notifier (pager, billing, chat, slow)

  * a critical outage: pager (urgent) only, since no later route matches it;
  * a high refund (tag billing): pager (urgent) and billing (continue);
  * a normal refund: billing only (first match, no continue);
  * three low "meh" posts: one digest to chat after the 10 s window, listing all three, with
    the digest's own id as Idempotency-Key, and nothing else to chat;
  * a normal "broken" post no route takes: every enabled notifier, once each;
  * the notifier "slow" has min_interval 1s: its deliveries start at least ~1 s apart;
  * an escalation step `notify: [urgent]` reaches pager only;
  * `earshotctl notify-test billing` sends one "test" event to billing and reports
    "delivered"; to a route whose receiver answers 403, exit 1 and the receiver's answer.
"""

import json
import time

import harness as H


def test(case):
    srv = case.server("mock")
    masto = H.MastodonInstance(srv, first_id=190000000000000001)
    hooks = case.server("hooks")
    pager = H.WebhookReceiver(hooks, "/pager")
    billing = H.WebhookReceiver(hooks, "/billing")
    chat = H.WebhookReceiver(hooks, "/chat")
    slow = H.WebhookReceiver(hooks, "/slow")
    denied = H.WebhookReceiver(hooks, "/denied",
                               responder=lambda n, e: {"status": 403,
                                                       "body": b"token revoked by admin"})

    rules = [
        {"name": "outage", "brand": "acme", "any": ["down", "outage"], "severity": "critical",
         "tags": ["ops"], "respond_within": "1h"},
        {"name": "refund-high", "brand": "acme", "any": ["refund now"], "severity": "high",
         "tags": ["billing"], "respond_within": "6s", "escalation": "remind"},
        {"name": "refund", "brand": "acme", "any": ["refund"], "none": ["refund now"],
         "severity": "normal", "tags": ["billing"]},
        {"name": "meh", "brand": "acme", "any": ["meh"], "severity": "low"},
        {"name": "broken", "brand": "acme", "any": ["broken"], "severity": "normal"},
    ]
    cfg = H.make_config(
        sources=[H.mastodon_source("masto", masto.url)],
        notifiers=[H.webhook_notifier("pager", pager.url),
                   H.webhook_notifier("billing", billing.url),
                   H.webhook_notifier("chat", chat.url),
                   H.webhook_notifier("slow", slow.url, min_interval="1s"),
                   H.webhook_notifier("denied", denied.url, enabled=False)],
        rules=rules,
        routes=[
            {"name": "urgent", "match": {"severity": ["high", "critical"]},
             "notify": ["pager"], "continue": True},
            {"name": "billing", "match": {"tag": "billing", "brand": "acme"},
             "notify": "billing"},
            {"name": "quiet", "match": {"severity": "low"}, "notify": "chat", "digest": "10s"},
            {"name": "locked", "match": {"rule": "outage", "network": "nowhere"},
             "notify": "denied"},
        ],
        escalation={"policies": {"remind": [{"at": "50%", "notify": ["urgent"]}]},
                    "by_severity": {"critical": "none", "high": "none", "normal": "none",
                                    "low": "none"}})
    d = case.daemon(cfg)
    d.start()

    def alive():
        H.check(d.alive(), f"earshotd exited with status {d.proc.returncode}")

    def uris(recv, event=None):
        return [((x["json"] or {}).get("post") or {}).get("id") for x in recv.ok()
                if event is None or (x["json"] or {}).get("event") == event]

    outage = masto.add_status("<p>acme is down again, total outage</p>", acct="o@r.example")
    high = masto.add_status("<p>acme refund now or I call my bank</p>", acct="h@r.example")
    normal = masto.add_status("<p>acme I would like a refund please</p>", acct="n@r.example")
    broken = masto.add_status("<p>acme app is broken on my phone</p>", acct="b@r.example")
    mehs = [masto.add_status(f"<p>acme is meh today #{i}</p>", acct=f"m{i}@r.example")
            for i in range(3)]

    H.wait_until(lambda: alive() or (outage["uri"] in uris(pager) and
                                     high["uri"] in uris(billing) and
                                     normal["uri"] in uris(billing) and
                                     broken["uri"] in uris(slow)),
                 20, "the routed alerts")
    # the digest window is 10 s: wait for it to close, and the escalation at 50 % of 6 s
    H.wait_until(lambda: alive() or any((x["json"] or {}).get("event") == "digest"
                                        for x in chat.ok()), 25, "the digest")
    H.wait_until(lambda: alive() or high["uri"] in uris(pager, "escalation-1"), 15,
                 "the escalation of the high refund")
    time.sleep(1.5)   # anything routed wrongly would have arrived by now

    # ---- first match, continue, default ------------------------------------------------
    new = {name: uris(r, "new") for name, r in
           (("pager", pager), ("billing", billing), ("chat", chat), ("slow", slow))}
    case.note("new events: " + json.dumps(new))
    expect_at = {
        "outage": (outage, {"pager"}),
        "high refund": (high, {"pager", "billing"}),
        "normal refund": (normal, {"billing"}),
        "broken (no route)": (broken, {"pager", "billing", "chat", "slow"}),
    }
    for what, (st, want) in expect_at.items():
        got = {name for name, lst in new.items() if st["uri"] in lst}
        case.expect(got == want, f"{what}: delivered to {sorted(got)}, want {sorted(want)}")
        for name, lst in new.items():
            case.expect(lst.count(st["uri"]) <= 1, f"{what}: {name} got it {lst.count(st['uri'])} times")
    case.expect(not denied.all(), "the disabled notifier got a request")

    # ---- the digest ---------------------------------------------------------------------
    digests = [x for x in chat.ok() if (x["json"] or {}).get("event") == "digest"]
    case.expect(len(digests) == 1, f"chat: {len(digests)} digests, want 1")
    for m in mehs:
        case.expect(m["uri"] not in uris(chat, "new"), f"low alert {m['uri']} sent on its own "
                    "to the digest route")
    if digests:
        j = digests[0]["json"]
        text = (j.get("post") or {}).get("text") or ""
        case.note(f"digest: {j.get('message')!r}\n{text}")
        for i in range(3):
            case.expect(f"meh today #{i}" in text, f"the digest does not list post #{i}: {text!r}")
        case.expect(j.get("severity") == "low", f"digest severity {j.get('severity')!r}")
        case.expect(str(j.get("id", "")).startswith("digest-") and
                    digests[0]["key"] == f"{j['id']}/digest",
                    f"digest id {j.get('id')!r}, Idempotency-Key {digests[0]['key']!r}")
        case.expect("3 alerts" in (j.get("message") or ""), f"digest message {j.get('message')!r}")
        case.expect((j.get("posts") or 0) == 3, f"digest posts {j.get('posts')!r}, want 3")
    all_alerts = d.alerts_by_post()
    for m in mehs:
        case.expect(m["uri"] in all_alerts, f"low alert {m['uri']} is not in the queue")

    # ---- escalation through a route ------------------------------------------------------
    case.expect(high["uri"] in uris(pager, "escalation-1"), "the escalation did not reach pager")
    case.expect(high["uri"] not in uris(billing, "escalation-1"),
                "the escalation reached billing, which its step does not name")

    # ---- the rate of "slow": a burst of alerts no route takes --------------------------------
    burst = [masto.add_status(f"<p>acme checkout broken, attempt {i}</p>", acct=f"s{i}@r.example")
             for i in range(4)]
    H.wait_until(lambda: alive() or all(b["uri"] in uris(slow) for b in burst), 20,
                 "the burst at slow")
    times = sorted(x["wall"] for x in slow.ok() if ((x["json"] or {}).get("post") or {}).get("id")
                   in {b["uri"] for b in burst})
    gaps = [round(b - a, 2) for a, b in zip(times, times[1:])]
    case.note(f"slow: gaps {gaps}")
    case.expect(all(g >= 0.85 for g in gaps), f"slow (min_interval 1s): deliveries {gaps} s apart")
    fast = sorted(x["wall"] for x in pager.ok() if ((x["json"] or {}).get("post") or {}).get("id")
                  in {b["uri"] for b in burst})
    case.expect(len(fast) == 4, f"pager got {len(fast)} of the burst, want 4")

    # ---- earshotctl deliveries, notify-test ------------------------------------------------
    rc, out, err = d.ctl("deliveries", "--all", "--json")
    case.expect(rc == 0, f"earshotctl deliveries: exit {rc}: {err.strip()}")
    rows = json.loads(out) if rc == 0 else []
    routes = {r["route"] for r in rows}
    case.expect({"urgent", "billing", "quiet", None} <= routes,
                f"deliveries: routes {routes}, want urgent, billing, quiet and the default")
    case.expect(all(r["state"] in ("delivered", "pending") for r in rows),
                f"deliveries: states {sorted({r['state'] for r in rows})}")

    mark = len(billing.all())
    rc, out, err = d.ctl("--config", d.config_path, "notify-test", "billing", timeout=40)
    case.note(f"notify-test billing: {out.strip()}")
    case.expect(rc == 0 and "billing: delivered" in out,
                f"notify-test billing: exit {rc}: {out.strip()} {err.strip()}")
    got = billing.all()[mark:]
    case.expect(len(got) == 1 and (got[0]["json"] or {}).get("event") == "test",
                f"notify-test: billing got {[(x['json'] or {}).get('event') for x in got]}")
    if got:
        j = got[0]["json"] or {}
        case.expect("notify-test" in ((j.get("post") or {}).get("text") or ""),
                    f"test alert text: {(j.get('post') or {}).get('text')!r}")
        case.expect(j.get("rules") == ["notify-test"], f"test alert rules {j.get('rules')!r}")
    rc, out, err = d.ctl("--config", d.config_path, "notify-test", "nosuchroute")
    case.expect(rc == 2 and "no route or notifier named 'nosuchroute'" in err,
                f"notify-test nosuchroute: exit {rc}: {err.strip()}")
    rc, out, err = d.ctl("list", "--json")
    case.expect(rc == 0 and "notify-test" not in out, "the test alert shows in earshotctl list")
    alive()
    d.stop()

    # a receiver that refuses: enable "denied" and test it
    cfg["notifiers"][4]["enabled"] = True
    d.write_config(cfg)
    d.start()
    rc, out, err = d.ctl("--config", d.config_path, "notify-test", "locked", timeout=40)
    case.note(f"notify-test locked: {out.strip()}")
    case.expect(rc == 1 and "denied: rejected" in out and "token revoked by admin" in out,
                f"notify-test locked: exit {rc}: {out.strip()} {err.strip()}")
    rc, out, err = d.ctl("deliveries", "--failed")
    case.expect(rc == 0 and "denied" in out and "HTTP 403" in out and "token revoked" in out,
                f"deliveries --failed: exit {rc}: {out}")
    alive()
    d.stop()


if __name__ == "__main__":
    H.main("routes", test)
