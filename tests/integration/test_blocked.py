#!/usr/bin/env python3
"""blocked: error answers read by the plugins -- a feed that needs a person, a pause asked
for in a body, a status that is really an answer.

One earshotd, interval 1s, four loopback servers:

  1. "old": a Mastodon server from before 4.0 (GET /api/v2/instance answers 404 with an
     HTML page).  #acme is polled all the same and its complaint alerts; #newtag does not
     exist yet (404 {"error":"Record not found"}): that is an empty timeline, not a failure
     (no warning, `sources --json` state ok).  No warning or error line about "old".
  2. "closed": #acme answers 401 {"error":"This API requires an authenticated user"} and no
     access token is configured.  The feed is blocked: one error line that names the feed
     and says to set access_token; exactly one operator alert (network "earshot", rules
     ["source-blocked"]) reaches the webhook; `sources --json` shows state
     "NEEDS ATTENTION" with the explanation as last_error; the next poll is >= 10 min away.
     After a restart the feed is polled again, still blocked, and no second alert is
     raised (one alert per episode).
  3. "se": a Stack Exchange search whose first answer is the throttle error (HTTP 400,
     error_id 502, "more requests available in 3 seconds"): one warning that says so, no
     request for 3 s (less a little slack), then normal polling and the complaint alerts.
  4. "disc": a Discourse forum whose first answer is 429 with wait_seconds 3 in the body and
     no Retry-After header: no request for 3 s, then normal polling.
"""

import json
import os
import re
import subprocess
import time

import harness as H

TL = "/api/v1/timelines/tag/"


def ctl(d, *args, timeout=20):
    argv = [H.earshotctl_path(), "--state-dir", d.state_dir, "--config", d.config_path, *args]
    r = subprocess.run(argv, capture_output=True, timeout=H.scaled(timeout),
                       env={k: v for k, v in os.environ.items() if k != "NOTIFY_SOCKET"})
    out = r.stdout.decode("utf-8", "replace")
    n = getattr(d, "_ctl_runs", 0) + 1
    d._ctl_runs = n
    d.case.save(f"ctl-{n}-{'-'.join(a.strip('-') for a in args)}.txt",
                f"$ {' '.join(argv)}\nexit {r.returncode}\n{out}\n"
                f"{r.stderr.decode('utf-8', 'replace')}")
    return r.returncode, out


def sources_json(d):
    rc, out = ctl(d, "sources", "--json")
    H.check(rc == 0, f"earshotctl sources --json: exit {rc}")
    return {r.get("feed"): r for r in json.loads(out)}


def blocked_alerts(hook):
    return [x for x in hook.ok()
            if (x["json"] or {}).get("network") == "earshot"
            and "source-blocked" in ((x["json"] or {}).get("rules") or [])]


def gap_after(reqs, i):
    return reqs[i + 1]["t"] - reqs[i]["t"] if len(reqs) > i + 1 else None


def test(case):
    hook = H.WebhookReceiver(case.server("hook"), "/hook")

    # 1. an old Mastodon: no /api/v2/instance; #newtag unknown to the server
    old = H.MastodonInstance(case.server("old"), tags=("acme",), first_id=160000000000000001)
    with old.server.lock:
        old.server.routes = [r for r in old.server.routes
                             if not r[0].startswith("/api/v2/instance")]
    old.server.route("/api/v2/instance",
                     lambda e: H.Response(404, b"<html><body>The page you were looking for "
                                               b"doesn't exist.</body></html>",
                                          content_type="text/html; charset=utf-8"))
    old_complaint = old.add_status("<p>acme where is my refund?</p>", acct="o1@old.example")

    # 2. a server whose hashtag timeline needs a login
    closed = H.MastodonInstance(case.server("closed"), tags=("acme",),
                                first_id=170000000000000001)
    closed.server.route(TL + "acme", lambda e: H.Response(
        401, {"error": "This API requires an authenticated user"}))

    # 3. Stack Exchange: the throttle error first, then normal answers
    se = case.server("se")
    se_item = {"question_id": 79000001, "title": "acme refund never arrived",
               "body": "<p>acme took my money, I want a refund</p>",
               "link": "https://stackoverflow.com/questions/79000001/acme-refund",
               "creation_date": int(time.time()) - 60, "last_activity_date": int(time.time()),
               "score": 0, "answer_count": 0, "tags": ["acme"],
               "owner": {"display_name": "sam", "reputation": 10, "user_id": 1,
                         "link": "https://stackoverflow.com/users/1/sam"}}

    def se_search(entry):
        items = [] if "fromdate" in entry["query"] else [se_item]
        return H.Response(200, {"items": items, "has_more": False, "quota_max": 10000,
                                "quota_remaining": 9990})
    se.route("/2.3/search/advanced", se_search)
    se.add_faults("/2.3/search/advanced", [{
        "name": "throttle", "status": 400,
        "body": json.dumps({"error_id": 502, "error_name": "throttle_violation",
                            "error_message": "too many requests from this IP, more requests "
                                             "available in 3 seconds"}).encode(),
        "headers": {"Content-Type": "application/json; charset=utf-8"}}])

    # 4. Discourse: 429 with the wait in the body only
    disc = case.server("disc")
    disc.route("/posts.json", lambda e: H.Response(200, {"latest_posts": []}))
    disc.add_faults("/posts.json", [{
        "name": "rate-limit", "status": 429,
        "body": json.dumps({"errors": ["You've performed this action too many times. Please "
                                       "wait 3 seconds before trying again."],
                            "error_type": "rate_limit",
                            "extras": {"wait_seconds": 3, "time_left": "3 seconds"}}).encode(),
        "headers": {"Content-Type": "application/json; charset=utf-8"}}])

    cfg = H.make_config(
        sources=[
            H.mastodon_source("old-src", old.url, tags=["acme", "newtag"]),
            H.mastodon_source("closed-src", closed.url, tags=["acme"], check_instance=False),
            {"name": "se-src", "type": "stackexchange", "interval": "1s",
             "sites": ["stackoverflow"], "queries": ["acme"], "base_url": se.url},
            {"name": "disc-src", "type": "discourse", "interval": "1s", "forums": [disc.url]},
        ],
        notifiers=[H.webhook_notifier("hook", hook.url)],
        defaults={"respond_within": "1h", "backfill": "1h", "interval": "60s",
                  "silent_after": "0"},
        http={"timeout": "3s", "connect_timeout": "1s"})
    d = case.daemon(cfg)
    d.start()

    def alive():
        H.check(d.alive(), f"earshotd exited with status {d.proc.returncode}")

    k_old = f"old-src/{old.url}#acme"
    k_new = f"old-src/{old.url}#newtag"
    k_closed = f"closed-src/{closed.url}#acme"

    # ---- 1. the old server ---------------------------------------------------------------
    hook.wait_posts([old_complaint["uri"]], timeout=20)
    H.wait_until(lambda: alive() or len(old.timeline_requests("newtag")) >= 2, 15,
                 "two polls of #newtag")

    # ---- 2. the closed server ------------------------------------------------------------
    H.wait_until(lambda: alive() or blocked_alerts(hook), 15, "the source-blocked alert")
    rows = H.wait_until(lambda: (lambda r: r if (r.get(k_closed) or {}).get("failures")
                                 else None)(sources_json(d)), 10, "the blocked feed's row")
    row = rows[k_closed]
    case.expect(row.get("state") == "NEEDS ATTENTION",
                f"blocked feed: state {row.get('state')!r}, want 'NEEDS ATTENTION'")
    case.expect("access_token" in (row.get("last_error") or ""),
                f"blocked feed: last_error {row.get('last_error')!r} does not say to set "
                "access_token")
    nxt = H.parse_rfc3339(row.get("next_poll") or "") if row.get("next_poll") else None
    case.expect(nxt and nxt - time.time() > 600,
                f"blocked feed: next poll {row.get('next_poll')!r} is not >= 10 min away")
    for k in (k_old, k_new):
        st = (rows.get(k) or {}).get("state")
        case.expect(st == "ok", f"{k}: state {st!r}, want 'ok' (rows: {sorted(rows)})")

    # ---- 3. and 4. pauses asked for in the body -----------------------------------------
    H.wait_until(lambda: alive() or len(se.log("/2.3/")) >= 2, 15, "a second SE request")
    H.wait_until(lambda: alive() or len(disc.log("/posts.json")) >= 2, 15,
                 "a second Discourse request")
    se_reqs = se.log("/2.3/")
    gap = gap_after(se_reqs, 0)
    case.note(f"Stack Exchange: first requests {[(r['fault'] or {}).get('name') for r in se_reqs[:3]]}, "
              f"gap after the throttle {gap:.2f}s")
    case.expect(gap is not None and gap >= 2.8,
                f"Stack Exchange: the request after the throttle error came {gap:.2f}s later, "
                "want >= 3 s")
    disc_reqs = disc.log("/posts.json")
    gap = gap_after(disc_reqs, 0)
    case.note(f"Discourse: gap after the 429 {gap:.2f}s")
    case.expect(gap is not None and gap >= 2.8,
                f"Discourse: the request after the 429 (wait_seconds 3) came {gap:.2f}s "
                "later, want >= 3 s")
    # (the webhook's post.id is the plugin's id, "SITE/q/QUESTION_ID"; the link is post.url)
    hook.wait_posts([f"stackoverflow/q/{se_item['question_id']}"], timeout=15)

    # ---- restart: the blocked feed stays one episode ------------------------------------
    d.stop()
    mark = closed.server.mark()
    d.start()
    H.wait_until(lambda: alive() or closed.timeline_requests("acme", mark), 15,
                 "a poll of the closed server after the restart")
    time.sleep(1.5)   # time for a second alert to be stored and delivered, if one were raised
    n = len(blocked_alerts(hook))
    case.expect(n == 1, f"{n} source-blocked alerts reached the webhook, want exactly 1 "
                        "(one per episode, restarts included)")
    alive()
    d.stop()

    # ---- the log -------------------------------------------------------------------------
    logs = d.all_logs()
    lines = [ln for ln in logs.splitlines() if H.is_problem_line(ln)]
    closed_errs = [ln for ln in lines if "closed-src" in ln and H.log_level_of(ln) == "err"
                   and "access_token" in ln]
    case.expect(closed_errs, "no error line for the blocked feed that says to set access_token")
    old_lines = [ln for ln in lines if "old-src" in ln]
    case.expect(not old_lines, f"warning/error lines about the old server: {old_lines[:3]}")
    se_warn = [ln for ln in lines if "se-src" in ln and re.search(r"throttl", ln, re.I)]
    case.expect(se_warn, "no warning about the Stack Exchange throttle")
    other = [ln for ln in lines if not any(s in ln for s in ("closed-src", "se-src",
                                                             "disc-src"))]
    case.expect(not other, f"unexpected warning/error lines: {other[:3]}")


if __name__ == "__main__":
    H.main("blocked", test)
