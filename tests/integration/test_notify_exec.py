#!/usr/bin/env python3
"""notify_exec: the exec and journal notifiers in the real earshotd, beside a webhook.

The exec notifier runs a shell script the test writes into its case directory. The script
keeps what it was given (standard input, and its environment as earshotd passed it, read from
/proc/$$/environ so that the shell adds nothing) in runs/<alert id>.<attempt>.*, and picks its
exit code from a control file by a token in the post's text, one code per attempt:

  * case-ok        0          delivered at the first run; stdin is one line of valid JSON, schema
                              earshot.alert.v1, for this alert; the environment is exactly PATH,
                              LANG and EARSHOT_ALERT_ID
  * case-tempfail  75, 0      EX_TEMPFAIL: retried, delivered at the second run, same alert id
  * case-reject    65         EX_DATAERR: rejected, never run again
  * case-hang      hang, 0    sleeps past `timeout: 2s`: the daemon kills it (its SIGTERM trap
                              notes the time), retries, delivered at the second run; meanwhile
                              the webhook notifier got the same alert and the watchdog kept
                              ticking (the loop did not wait for the program)

A journal notifier in the same daemon (stderr not the journal here) logs one line per alert
with ALERT_ID=, SEVERITY=, RULE= and the fixed MESSAGE_ID= fields.
"""

import json
import os
import stat
import time

import harness as H

MESSAGE_ID = "a145322d21c54029ba1a428709bbcd42"

SCRIPT = r"""#!/bin/sh
# the exec notifier under test: keep the input and the environment, answer from the control file
dir='@DIR@'
input=$(cat)
id=$(printf '%s' "$input" | sed -n 's/^{"schema":"[^"]*","event":"[^"]*","id":"\([^"]*\)".*/\1/p')
[ -n "$id" ] || id=unknown
n=0
while [ -e "$dir/runs/$id.$n.json" ]; do n=$((n + 1)); done
printf '%s\n' "$input" > "$dir/runs/$id.$n.json.tmp"
tr '\0' '\n' < /proc/$$/environ > "$dir/runs/$id.$n.env"
mv "$dir/runs/$id.$n.json.tmp" "$dir/runs/$id.$n.json"
code=0
while read -r token codes; do
    case "$input" in
    *"$token"*)
        i=0
        for c in $codes; do
            [ "$i" -le "$n" ] && code=$c
            i=$((i + 1))
        done
        ;;
    esac
done < "$dir/control"
if [ "$code" = hang ]; then
    trap 'date +%s.%N > "$dir/runs/$id.$n.killed"; exit 143' TERM
    date +%s.%N > "$dir/runs/$id.$n.hanging"
    sleep 30 &
    echo $! > "$dir/runs/$id.$n.pid"
    wait $!
    exit 0
fi
echo "answering $code"
exit "$code"
"""

CONTROL = """case-ok 0
case-tempfail 75 0
case-reject 65
case-hang hang 0
"""


def test(case):
    srv = case.server("mock")
    masto = H.MastodonInstance(srv, first_id=190000000000000001)
    hook = H.WebhookReceiver(case.server("hook"), "/hook")

    edir = os.path.join(case.dir, "exec")
    runs = os.path.join(edir, "runs")
    os.makedirs(runs)
    script = os.path.join(edir, "notify.sh")
    with open(script, "w", encoding="utf-8") as f:
        f.write(SCRIPT.replace("@DIR@", edir))
    os.chmod(script, stat.S_IRWXU)
    with open(os.path.join(edir, "control"), "w", encoding="utf-8") as f:
        f.write(CONTROL)

    cfg = H.make_config(
        sources=[H.mastodon_source("masto", masto.url)],
        notifiers=[{"name": "prog", "type": "exec", "command": [script, "--from", "earshot"],
                    "timeout": "2s"},
                   H.webhook_notifier("hook", hook.url),
                   {"name": "jr", "type": "journal"}])
    d = case.daemon(cfg)
    d.start(watchdog_usec=600_000)

    def alive():
        H.check(d.alive(), f"earshotd exited with status {d.proc.returncode}")

    posts = {}
    for token in ("case-ok", "case-tempfail", "case-reject", "case-hang"):
        posts[token] = masto.add_status(f"<p>acme I want a refund now, {token}</p>")

    def alert_ids():
        by_post = d.alerts_by_post()
        return {t: by_post[s["uri"]][0]["id"] for t, s in posts.items() if s["uri"] in by_post}

    ids = H.wait_until(lambda: alive() or (len(alert_ids()) == 4 and alert_ids()), 20,
                       "four alerts")
    case.note(f"alerts: {ids}")

    def row(token):
        r = d.db_try("SELECT state, attempts, last_error FROM outbox "
                     "WHERE alert_id = ? AND notifier = 'prog'", (ids[token],))
        return r[0] if r else None

    want = {"case-ok": "delivered", "case-tempfail": "delivered", "case-reject": "rejected",
            "case-hang": "delivered"}
    H.wait_until(lambda: alive() or all((row(t) or {}).get("state") == s
                                        for t, s in want.items()),
                 40, "exec deliveries settled (" + ", ".join(want) + ")")

    def attempts(token):
        """The runs of the script for this alert: [(stdin text, env dict)]."""
        out = []
        n = 0
        while os.path.exists(os.path.join(runs, f"{ids[token]}.{n}.json")):
            base = os.path.join(runs, f"{ids[token]}.{n}")
            with open(base + ".json", encoding="utf-8") as f:
                text = f.read()
            with open(base + ".env", encoding="utf-8") as f:
                env = dict(ln.split("=", 1) for ln in f.read().splitlines() if "=" in ln)
            out.append((text, env))
            n += 1
        return out

    # ---- delivered at once: the input and the environment ---------------------------------
    ok = attempts("case-ok")
    case.expect(len(ok) == 1, f"case-ok: {len(ok)} runs, want 1")
    if ok:
        text, env = ok[0]
        case.expect(text.endswith("\n") and "\n" not in text[:-1],
                    f"case-ok: stdin is not one line: {text[:200]!r}")
        try:
            j = json.loads(text)
        except ValueError as e:
            j = {}
            case.expect(False, f"case-ok: stdin is not JSON ({e}): {text[:300]!r}")
        case.expect(j.get("schema") == "earshot.alert.v1", f"case-ok: schema {j.get('schema')!r}")
        case.expect(j.get("id") == ids["case-ok"], f"case-ok: id {j.get('id')!r}")
        case.expect(j.get("event") == "new", f"case-ok: event {j.get('event')!r}")
        case.expect((j.get("post") or {}).get("id") == posts["case-ok"]["uri"],
                    f"case-ok: post.id {(j.get('post') or {}).get('id')!r}")
        case.expect(j.get("rules") == ["refunds"] and j.get("severity") == "high",
                    f"case-ok: rules {j.get('rules')!r}, severity {j.get('severity')!r}")
        case.expect("case-ok" in ((j.get("post") or {}).get("text") or ""),
                    "case-ok: post.text lacks the post's words")
        want_env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8",
                    "EARSHOT_ALERT_ID": ids["case-ok"]}
        case.expect(env == want_env, f"case-ok: environment {env!r}, want exactly {want_env!r}")
    r = row("case-ok")
    case.expect(r and r["attempts"] == 1, f"case-ok: outbox {r}")

    # ---- EX_TEMPFAIL: retried ---------------------------------------------------------------
    tf = attempts("case-tempfail")
    case.expect(len(tf) == 2, f"case-tempfail: {len(tf)} runs, want 2 (75, then 0)")
    for i, (text, env) in enumerate(tf):
        case.expect(json.loads(text).get("id") == ids["case-tempfail"]
                    and env.get("EARSHOT_ALERT_ID") == ids["case-tempfail"],
                    f"case-tempfail run {i}: another alert id")
    r = row("case-tempfail")
    case.expect(r and r["attempts"] == 2, f"case-tempfail: outbox {r}, want 2 attempts")

    # ---- the hang: killed at the timeout, retried, and the loop went on -------------------
    hang_id = ids["case-hang"]
    hg = attempts("case-hang")
    case.expect(len(hg) == 2, f"case-hang: {len(hg)} runs, want 2 (killed, then 0)")
    started_p = os.path.join(runs, f"{hang_id}.0.hanging")
    killed_p = os.path.join(runs, f"{hang_id}.0.killed")
    case.expect(os.path.exists(killed_p), "case-hang: the first run got no SIGTERM")
    if os.path.exists(started_p) and os.path.exists(killed_p):
        with open(started_p, encoding="utf-8") as f:
            started = float(f.read())
        with open(killed_p, encoding="utf-8") as f:
            killed = float(f.read())
        case.note(f"case-hang: SIGTERM {killed - started:.2f}s after the start")
        case.expect(killed - started >= 1.5, f"case-hang: killed after {killed - started:.2f}s, "
                                             f"before its 2s timeout")
        # the webhook got the same alert while the program hung
        got = [x for x in hook.ok() if (x["json"] or {}).get("id") == hang_id]
        case.expect(got and got[0]["wall"] < killed,
                    "case-hang: the webhook got the alert only after the program was killed")
        # and the loop kept pinging the watchdog (NotifySocket times are monotonic)
        offset = time.time() - time.monotonic()
        with d.notify.lock:
            pings = [t + offset for t, lines in d.notify.messages if "WATCHDOG=1" in lines]
        inside = [t for t in pings if started < t < killed]
        case.expect(len(inside) >= 2, f"case-hang: {len(inside)} WATCHDOG=1 while the program "
                                      f"hung for {killed - started:.1f}s (watchdog 0.6s)")
    pid_p = os.path.join(runs, f"{hang_id}.0.pid")
    if os.path.exists(pid_p):
        with open(pid_p, encoding="utf-8") as f:
            sleeper = int(f.read())

        def sleeper_gone():
            try:
                with open(f"/proc/{sleeper}/stat", encoding="utf-8") as f:
                    return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
            except OSError:
                return True
        H.wait_until(sleeper_gone, 10, "the hung script's child to be killed with its group")
    case.expect("timed out after 2s" in d.log_text(),
                "the log does not say that the program timed out after 2s")
    r = row("case-hang")
    case.expect(r and r["attempts"] == 2, f"case-hang: outbox {r}, want 2 attempts")

    # ---- EX_DATAERR: rejected, not retried (checked last: the others took seconds) ----------
    r = row("case-reject")
    case.expect(r and r["attempts"] == 1 and "exited with 65" in (r["last_error"] or ""),
                f"case-reject: outbox {r}, want 1 attempt and 'exited with 65'")
    rj = attempts("case-reject")
    case.expect(len(rj) == 1, f"case-reject: {len(rj)} runs, want 1")

    # ---- the webhook got every alert, the journal notifier logged each ----------------------
    hook.wait_posts([s["uri"] for s in posts.values()], timeout=10)
    log = d.log_text()
    for token, aid in ids.items():
        lines = [ln for ln in log.splitlines() if f"ALERT_ID={aid}" in ln]
        case.expect(len(lines) == 1, f"journal notifier: {len(lines)} lines with ALERT_ID={aid}")
        if lines:
            ln = lines[0]
            for field in (f"MESSAGE_ID={MESSAGE_ID}", "SEVERITY=high", "RULE=refunds",
                          "NETWORK=mastodon", "EVENT=new", f"alert {aid}: high complaint"):
                case.expect(field in ln, f"journal line for {token} lacks {field!r}: {ln[:300]}")
    rows = d.db("SELECT state FROM outbox WHERE notifier = 'jr'")
    case.expect(len(rows) == 4 and all(x["state"] == "delivered" for x in rows),
                f"journal notifier outbox: {rows}")

    alive()
    d.stop()


if __name__ == "__main__":
    H.main("notify_exec", test)
