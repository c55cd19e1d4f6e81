#!/usr/bin/env python3
"""reload: SIGHUP swaps the config only when the new one is valid.

  * SIGHUP with a YAML syntax error, then with an unknown key: earshotd sends
    RELOADING=1 (+ MONOTONIC_USEC=) then READY=1, keeps running the same process,
    logs the error as FILE:LINE:COL, and the old rules still alert while the new
    rule in the broken file does not;
  * SIGHUP with a valid config that adds a rule: the new rule is in force, the
    old one too, and STATUS= counts the rules of the new config; the new rule
    has no respond_within (nor has the source), so defaults.respond_within
    applies;
  * SIGINT stops like SIGTERM: STOPPING=1, exit 0 within 5 s.
"""

import re
import signal

import harness as H

OUTAGE_RULE = {"name": "outage", "brand": "acme", "any": ["outage", "is down"],
               "severity": "normal"}


def test(case):
    srv = case.server("mock")
    masto = H.MastodonInstance(srv)
    hook = H.WebhookReceiver(srv, "/hook")

    def config(rules):
        return H.make_config(
            sources=[H.mastodon_source("mastodon-acme", masto.url, interval="1s")],
            notifiers=[H.webhook_notifier("hook", hook.url)], rules=rules)

    text_a = H.yaml_dump(config([H.REFUND_RULE]))
    text_b = H.yaml_dump(config([H.REFUND_RULE, OUTAGE_RULE]))
    check_alerts = {}

    def complaint(label):
        s = masto.add_status(f"<p>acme, where is my refund? ({label})</p>")
        check_alerts[s["uri"]] = ["refunds"]
        return s

    d = case.daemon(text_a)
    d.start()
    pid = d.pid
    status = H.wait_until(lambda: d.notify.last_value("STATUS", d.start_mark), 10, "STATUS=")
    case.expect(re.search(r"\b1 rules?\b", status), f"STATUS should count 1 rule: {status!r}")
    c = complaint("before any reload")
    hook.wait_posts([c["uri"]])

    # 1. YAML syntax error.
    broken_yaml = text_b.replace("log_level: debug", "log_level: debug: info", 1)
    line, col = H.pos_of(broken_yaml, "debug: info")
    col += len("debug")
    d.write_config(broken_yaml)
    mark = d.reload()
    H.check(d.alive() and d.pid == pid, "earshotd died or was replaced on a broken reload")
    log = H.wait_until(lambda: H.find_pos(d.log_text(since=mark), "earshot.yaml", line, col),
                       10, f"earshot.yaml:{line}:{col}: in the log after a reload with bad YAML")
    case.note(f"logged: {log[0].strip()}")
    outage1 = masto.add_status("<p>acme is down again, total outage</p>")
    c = complaint("after bad YAML reload")
    hook.wait_posts([c["uri"]])
    case.expect(outage1["uri"] not in hook.by_post(ok_only=False),
                "a rule from a config that failed to load produced an alert")

    # 2. Unknown key.
    broken_key = text_b.replace("    interval: 1s", "    intervall: 1s", 1)
    line, col = H.pos_of(broken_key, "intervall")
    d.write_config(broken_key)
    mark = d.reload()
    H.check(d.alive() and d.pid == pid, "earshotd died or was replaced on a broken reload")
    log = H.wait_until(lambda: H.find_pos(d.log_text(since=mark), "earshot.yaml", line, col),
                       10, f"earshot.yaml:{line}:{col}: in the log after a reload with an "
                           "unknown key")
    case.note(f"logged: {log[0].strip()}")
    case.expect("intervall" in log[0], f"the error should name the key: {log[0]!r}")
    outage2 = masto.add_status("<p>acme is down, outage since noon</p>")
    c = complaint("after unknown-key reload")
    hook.wait_posts([c["uri"]])
    case.expect(outage2["uri"] not in hook.by_post(ok_only=False),
                "a rule from a config that failed to load produced an alert")
    st = d.notify.last_value("STATUS")
    case.expect(st is None or re.search(r"\b1 rules?\b", st),
                f"after failed reloads STATUS should still count 1 rule: {st!r}")

    # 3. A valid config with a new rule.
    d.write_config(text_b)
    mark = d.reload()
    H.check(d.alive() and d.pid == pid, "earshotd died or was replaced on a valid reload")
    st = H.wait_until(lambda: d.notify.last_value("STATUS"), 10, "STATUS=")
    H.wait_until(lambda: re.search(r"\b2 rules\b", d.notify.last_value("STATUS") or ""), 10,
                 f"STATUS counting 2 rules after the reload (last: {st!r})")
    outage3 = masto.add_status("<p>acme is down, outage for the third time</p>")
    check_alerts[outage3["uri"]] = ["outage"]
    rw_expect = {outage3["uri"]: 3600}     # no respond_within in rule or source: defaults 1h
    c = complaint("after valid reload")
    hook.wait_posts([outage3["uri"], c["uri"]])
    errors = [ln for ln in d.log_text(since=mark).splitlines()
              if re.search(r"earshot\.yaml:\d+:\d+:", ln)]
    case.expect(not errors, f"a valid reload logged config errors: {errors[:3]}")

    d.stop(sig=signal.SIGINT)
    by_post = hook.by_post()
    for uri, rules in check_alerts.items():
        ds = by_post.get(uri, [])
        case.expect(len(ds) == 1, f"{uri}: {len(ds)} deliveries, want 1")
        if ds:
            case.expect(sorted(ds[0]["json"].get("rules") or []) == rules,
                        f"{uri}: rules {ds[0]['json'].get('rules')}, want {rules}")
            rw = rw_expect.get(uri, 1800)
            case.expect(ds[0]["json"].get("respond_within") == rw,
                        f"{uri}: respond_within {ds[0]['json'].get('respond_within')}, want {rw}")
    rows = d.alerts_by_post()
    case.expect(set(rows) == set(check_alerts),
                f"alerts: extra {set(rows) - set(check_alerts)}, missing {set(check_alerts) - set(rows)}")


if __name__ == "__main__":
    H.main("reload", test)
