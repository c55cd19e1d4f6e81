#!/usr/bin/env python3
"""queue_ctl: the team works the alert queue with earshotctl while the real earshotd runs.

A loopback Mastodon instance serves #acme and #globex; six complaints by six authors alert
(one already past its 30-minute target when the daemon starts, one with an escape sequence in
its text) and reach a webhook. Then, with the daemon running:
  * `list`: the table (short ids, time left, overdue one first, no control characters, colour
    only when asked), `--json` with every field (times RFC 3339, seconds_left), the filters
    --brand, --rule, --network, --state, --all, --overdue, --since (duration and timestamp),
    --limit, and a friendly line when nothing matches;
  * `show` by prefix: post, author, rules, history; `--json` with the events;
  * ack / respond / resolve / reopen / mute / false-positive with --by and --note: one line
    per id, the events recorded (who, from -> to, note), refused moves change nothing and say
    what to do, an unknown id and an ambiguous prefix fail alone (the next id is still done),
    --by defaults to the login name;
  * exit codes: 0 done, 1 an alert failed, 2 usage, 3 the store (missing, another schema,
    read-only, locked past the busy timeout): one line naming the path, the file unchanged;
  * `stats` (--json, --by rule|brand|network, --since): every figure equal to what this test
    computes from the creation times it chose and the action times it caused (nearest rank).
"""

import collections
import hashlib
import json
import os
import pwd
import shutil
import sqlite3
import subprocess
import time

import harness as H

STATES = ["open", "acknowledged", "responded", "resolved", "muted", "false-positive"]
SANITIZER = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")

Run = collections.namedtuple("Run", "rc out err t0 t1")

GLOBEX = {"name": "globex", "terms": ["globex", "#globex"]}
OUTAGE_RULE = {"name": "outage", "brand": "acme", "any": ["outage", "down again"],
               "severity": "normal"}
GLOBEX_RULE = {"name": "globex-billing", "brand": "globex", "any": ["charged twice", "refund*"],
               "respond_within": "2h"}


def usec(epoch):
    return round(epoch * 1000) * 1000


def nearest_rank(values, percent):
    """The ceil(percent/100 * n)-th smallest, as queue.c computes it; None when empty."""
    if not values:
        return None
    v = sorted(values)
    return v[max(1, (len(v) * percent + 99) // 100) - 1]


def figures(rows, now_us):
    """The stats figures of alert rows, by the definitions of earshotctl(1)."""
    states = {s: 0 for s in STATES}
    ack, resp = [], []
    known = in_time = late = 0
    for a in rows:
        states[a["state"]] += 1
        late += a["late_usec"] > 0
        if a["state"] in ("muted", "false-positive"):
            continue
        if a["acked_usec"]:
            ack.append(max(0, a["acked_usec"] - a["created_usec"]))
        if a["responded_usec"]:
            resp.append(max(0, a["responded_usec"] - a["created_usec"]))
            known += 1
            in_time += a["responded_usec"] <= a["due_usec"]
        elif a["due_usec"] < now_us:
            known += 1

    def durations(v):
        med, p90 = nearest_rank(v, 50), nearest_rank(v, 90)
        return {"n": len(v), "median_seconds": None if med is None else med / 1e6,
                "p90_seconds": None if p90 is None else p90 / 1e6}

    n = len(rows)
    fp = states["false-positive"]
    return {"alerts": n, "states": states, "acknowledge": durations(ack),
            "respond": durations(resp),
            "within_target": {"in_time": in_time, "known": known,
                              "share": in_time / known if known else None},
            "late_at_detection": {"n": late, "share": late / n if n else None},
            "false_positive": {"n": fp, "rate": fp / n if n else None}}


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def copy_store(src, dst_dir, user_version=None, journal=None):
    """A consistent copy of a live store (SQLite's backup API) in dst_dir."""
    os.makedirs(dst_dir, exist_ok=True)
    dst = os.path.join(dst_dir, "earshot.db")
    s = sqlite3.connect("file:" + src + "?mode=ro", uri=True, timeout=10)
    t = sqlite3.connect(dst)
    s.backup(t)
    s.close()
    if user_version is not None:
        t.execute(f"PRAGMA user_version = {int(user_version)}")
    if journal:
        t.execute(f"PRAGMA journal_mode = {journal}")
    t.commit()
    t.close()
    return dst


def rows_of(path, sql, params=()):
    con = sqlite3.connect("file:" + path + "?mode=ro", uri=True, timeout=10)
    con.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in con.execute(sql, params).fetchall()]
    finally:
        con.close()


def test(case):
    srv = case.server("mock")
    masto = H.MastodonInstance(srv, tags=("acme", "globex"))
    hook = H.WebhookReceiver(srv, "/hook")
    cfg = H.make_config(
        sources=[H.mastodon_source("masto", masto.url, tags=("acme", "globex"), interval="1s")],
        notifiers=[H.webhook_notifier("hook", hook.url)],
        brands=[H.ACME_BRAND, GLOBEX],
        rules=[H.REFUND_RULE, OUTAGE_RULE, GLOBEX_RULE])
    d = case.daemon(cfg)
    n_runs = [0]

    def ctl(*args, state_dir=None, env=None, as_user=None, label=None):
        argv = [H.earshotctl_path(), "--state-dir", state_dir or d.state_dir, *args]
        e = {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "NO_COLOR")}
        e.setdefault("ASAN_OPTIONS", "abort_on_error=0:detect_leaks=1")
        e.update(env or {})
        pre = None
        if as_user is not None:
            def pre():
                os.setgroups([])
                os.setgid(as_user.pw_gid)
                os.setuid(as_user.pw_uid)
        t0 = time.time()
        r = subprocess.run(argv, capture_output=True, timeout=H.scaled(60), env=e,
                           stdin=subprocess.DEVNULL, preexec_fn=pre)
        t1 = time.time()
        out = r.stdout.decode("utf-8", "replace")
        err = r.stderr.decode("utf-8", "replace")
        name = label or "-".join(a.strip("-") for a in args).replace("/", "_")[:80]
        n_runs[0] += 1
        case.save(f"ctl-{n_runs[0]:03d}-{name}.txt", f"$ {' '.join(argv)}\nexit {r.returncode}\n--- stdout\n"
                                     f"{out}\n--- stderr\n{err}")
        for pat in SANITIZER:
            case.expect(pat not in err, f"earshotctl {' '.join(args)}: sanitizer report: "
                                        f"{err[err.find(pat):][:300]}")
        return Run(r.returncode, out, err, t0, t1)

    def expect_rc(run, rc, what):
        return case.expect(run.rc == rc, f"{what}: exit {run.rc}, want {rc}; stderr "
                                         f"{run.err.strip()[:300]!r}")

    def list_ids(*args):
        run = ctl("list", "--json", *args)
        expect_rc(run, 0, f"list --json {' '.join(args)}")
        try:
            return [a["id"] for a in json.loads(run.out)]
        except (ValueError, KeyError, TypeError) as e:
            case.expect(False, f"list --json {' '.join(args)}: not a JSON array of alerts: {e}")
            return []

    # ---- six complaints, six authors ---------------------------------------------------
    t_start = time.time()
    specs = {
        "P1": dict(text="<p>acme please refund my order</p>", acct="alice@a.example", age=300),
        "P2": dict(text="<p>acme outage, down again, and I want a refund</p>",
                   acct="bob@b.example", age=120),
        "P3": dict(text="<p>acme refund me, I waited forever</p>", acct="carol@c.example",
                   age=50 * 60),
        "P4": dict(text="<p>globex charged twice, refund now</p>", acct="dan@d.example",
                   age=600, tag="globex"),
        "P5": dict(text="<p>acme refund please \u001b[2J now</p>", acct="erin@e.example",
                   age=240),
        "P6": dict(text="<p>acme outage again today</p>", acct="frank@f.example", age=60),
    }
    posts = {}
    for name, spec in specs.items():
        spec = dict(spec)
        spec["created_at"] = t_start - spec.pop("age")
        posts[name] = masto.add_status(spec.pop("text"), **spec)
    d.start()
    hook.wait_posts([p["uri"] for p in posts.values()], timeout=30)
    by_uri = {a["post_id"]: a for a in d.alerts()}
    ids = {n: by_uri[p["uri"]]["id"] for n, p in posts.items() if p["uri"] in by_uri}
    H.check(len(ids) == 6, f"want 6 alerts, have {sorted(ids)}")
    for n, p in posts.items():
        case.expect(by_uri[p["uri"]]["created_usec"] == usec(H.parse_rfc3339(p["created_at"])),
                    f"{n}: created_usec is not the post's creation time")
    short = {n: i[:8] for n, i in ids.items()}
    rules = {n: json.loads(by_uri[p["uri"]]["rules"]) for n, p in posts.items()}
    case.note(f"alerts: {ids}; rules: {rules}")
    case.expect(sorted(rules["P2"]) == ["outage", "refunds"], f"P2 rules {rules['P2']}")
    case.expect(rules["P4"] == ["globex-billing"], f"P4 rules {rules['P4']}")

    # an old, resolved alert whose id shares 4 hex digits with P1's: "P1[:4]" is ambiguous
    twin = ids["P1"][:4] + ("0" if ids["P1"][4] != "0" else "f") * (len(ids["P1"]) - 4)
    now_us = usec(time.time())
    con = sqlite3.connect(d.db_path(), timeout=10)
    con.execute("INSERT INTO alerts(id, post_key, source, feed, network, brand, rules, severity, "
                "post_id, text, created_usec, detected_usec, due_usec, respond_within_usec, "
                "state, state_usec, acked_usec, responded_usec, resolved_usec) "
                "VALUES(?, 'twin', 'masto', 'masto/#acme', 'mastodon', 'acme', '[\"refunds\"]', "
                "'high', 'twin', 'an old complaint', ?, ?, ?, 1800000000, 'resolved', ?, ?, ?, ?)",
                (twin, now_us - 30 * 86400_000000, now_us - 30 * 86400_000000,
                 now_us - 30 * 86400_000000 + 1800_000000, now_us, now_us - 29 * 86400_000000,
                 now_us - 29 * 86400_000000, now_us - 29 * 86400_000000))
    con.commit()
    con.close()

    # ---- list: the table -----------------------------------------------------------------
    run = ctl("list")
    expect_rc(run, 0, "list")
    lines = run.out.splitlines()
    case.expect(lines and all(h in lines[0] for h in ("ID", "STATE", "TIME LEFT", "AUTHOR",
                                                       "BRAND/RULES", "TEXT")),
                f"list: no header line: {lines[:1]}")
    for n, s in short.items():
        row = [ln for ln in lines if ln.startswith(s + " ")]
        if not case.expect(len(row) == 1, f"list: no single row for {n} ({s})"):
            continue
        want = "overdue" if n == "P3" else "due in"
        case.expect(want in row[0], f"list: {n}'s row lacks '{want}': {row[0]!r}")
    case.expect(lines[1].startswith(short["P3"]), f"list: the overdue P3 is not first: {lines[1]!r}")
    case.expect("\x1b" not in run.out, "list: control characters (ESC) reach the terminal")
    case.expect("refund please" in run.out, "list: P5's text is not shown")
    case.expect("6 alerts, 1 overdue" in run.out, f"list: no '6 alerts, 1 overdue' line")
    case.expect("acme/refunds,outage" in run.out or "acme/outage,refunds" in run.out,
                "list: P2's brand/rules cell is not 'acme/refunds,outage'")
    p3 = by_uri[posts["P3"]["uri"]]
    if p3["late_usec"] > 0:
        case.expect("[late" in next(ln for ln in lines if ln.startswith(short["P3"])),
                    "list: P3 was late at detection but has no [late] mark")
    run = ctl("list", "--color=always", label="list-color")
    p3_row = next((ln for ln in run.out.splitlines() if ln.startswith(short["P3"])), "")
    case.expect("\x1b[1;31m" in p3_row, f"list --color=always: P3 is not red: {p3_row!r}")

    # ---- list --json ---------------------------------------------------------------------
    run = ctl("list", "--json")
    expect_rc(run, 0, "list --json")
    arr = json.loads(run.out)
    case.expect(sorted(a["id"] for a in arr) == sorted(ids.values()),
                "list --json: not the six open alerts")
    now = time.time()
    for a in arr:
        row = d.db("SELECT * FROM alerts WHERE id = ?", (a["id"],))[0]
        for k in ("state", "severity", "brand", "network", "source", "feed", "post_id", "url",
                  "text", "author_handle", "posts", "copies", "escalation_level"):
            case.expect(a.get(k) == row[k], f"list --json {a['id']}: {k} {a.get(k)!r} != "
                                             f"{row[k]!r}")
        case.expect(a.get("rules") == json.loads(row["rules"]), f"list --json: rules {a.get('rules')}")
        for k, col in (("created_at", "created_usec"), ("detected_at", "detected_usec"),
                       ("due_at", "due_usec")):
            case.expect(abs(H.parse_rfc3339(a[k]) - row[col] / 1e6) < 0.001,
                        f"list --json {a['id']}: {k} {a[k]} != {col}")
        case.expect(a["late"] == (row["late_usec"] > 0), "list --json: late")
        case.expect(abs(a["seconds_left"] - (row["due_usec"] / 1e6 - now)) < 30,
                    f"list --json {a['id']}: seconds_left {a['seconds_left']}")
        case.expect(a["overdue"] == (row["due_usec"] / 1e6 < now), "list --json: overdue")
        case.expect(a["acknowledged_at"] is None and a["responded_at"] is None,
                    "list --json: an open alert with acknowledged_at/responded_at")

    # ---- list filters --------------------------------------------------------------------
    case.expect(list_ids("--brand", "globex") == [ids["P4"]], "list --brand globex")
    case.expect(sorted(list_ids("--rule", "outage")) == sorted([ids["P2"], ids["P6"]]),
                "list --rule outage")
    case.expect(len(list_ids("--network", "mastodon")) == 6, "list --network mastodon")
    case.expect(list_ids("--network", "reddit") == [], "list --network reddit")
    case.expect(list_ids("--overdue") == [ids["P3"]], "list --overdue")
    by_due = sorted(arr, key=lambda a: (a["due_at"], -a["priority"], a["id"]))
    case.expect(list_ids("--limit", "2") == [a["id"] for a in by_due[:2]], "list --limit 2")
    cut = H.iso_ms(t_start - 180)
    case.expect(sorted(list_ids("--since", cut)) == sorted([ids["P2"], ids["P6"]]),
                f"list --since {cut}")
    case.expect(sorted(list_ids("--since", "20m")) == sorted(i for n, i in ids.items() if n != "P3"),
                "list --since 20m")
    case.expect(sorted(list_ids("--all")) == sorted(list(ids.values()) + [twin]), "list --all")
    case.expect(list_ids("--state", "resolved") == [twin], "list --state resolved")
    run = ctl("list", "--brand", "initech")
    case.expect(run.rc == 0 and "No alerts match" in run.out, "list with no match: friendly line")

    # ---- show ----------------------------------------------------------------------------
    run = ctl("show", short["P1"])
    expect_rc(run, 0, "show P1")
    for want in (ids["P1"], "please refund my order", posts["P1"]["url"], "alice@a.example",
                 "refunds", "acme", "high", "History:", "created"):
        case.expect(want in run.out, f"show P1: lacks {want!r}")
    run = ctl("show", short["P5"])
    case.expect(run.rc == 0 and "\x1b" not in run.out, "show P5: control characters printed")

    # ---- actions -------------------------------------------------------------------------
    def act(*args, rc=0, want_out=(), want_err=(), env=None):
        run = ctl(*args, env=env)
        expect_rc(run, rc, " ".join(args))
        for w in want_out:
            case.expect(w in run.out, f"{' '.join(args)}: stdout lacks {w!r}: {run.out!r}")
        for w in want_err:
            case.expect(w in run.err, f"{' '.join(args)}: stderr lacks {w!r}: {run.err!r}")
        return run

    s1 = short["P1"]
    r_ack = act("ack", s1, "--by", "maria", "--note", "on it",
                want_out=[f"{s1} acknowledged (was open) by maria"])
    act("ack", s1, "--by", "maria", rc=1, want_err=[f"{s1} is already acknowledged"])
    r_resp = act("respond", ids["P1"], "--by", "maria", "--note", "replied publicly",
                 want_out=[f"{s1} marked responded (was acknowledged) by maria"])
    act("ack", s1, rc=1, want_err=[f"cannot acknowledge {s1}: it is responded; reopen it first"])
    act("mute", s1, rc=1, want_err=[f"cannot mute {s1}: it is responded; muting is for alerts "
                                    "nobody has answered"])
    act("resolve", s1, "--by", "lead", want_out=[f"{s1} resolved (was responded) by lead"])
    act("reopen", s1, "--by", "lead", "--note", "customer wrote back",
        want_out=[f"{s1} reopened (was resolved) by lead"])
    act("respond", s1, "--by", "maria", want_out=[f"{s1} marked responded (was open) by maria"])
    run = act("ack", short["P2"], short["P4"], "--by", "tom",
              want_out=[f"{short['P2']} acknowledged (was open) by tom",
                        f"{short['P4']} acknowledged (was open) by tom"])
    case.expect(len(run.out.splitlines()) == 2, "ack P2 P4: want one line per id")
    # an unknown id fails alone: the next one is still acknowledged
    act("ack", "ffffffffffff", short["P3"], "--by", "tom", rc=1,
        want_out=[f"{short['P3']} acknowledged (was open) by tom"],
        want_err=["no alert 'ffffffffffff'"])
    act("ack", "not-an-id", rc=1, want_err=["no alert 'not-an-id'"])
    act("ack", ids["P1"][:4], short["P6"], rc=1, want_err=["matches several alerts"],
        want_out=[f"{short['P6']} acknowledged (was open)"])
    act("mute", short["P5"], "--by", "maria", "--note", "spam",
        want_out=[f"{short['P5']} muted (was open) by maria"])
    act("false-positive", short["P6"], "--by", "lead", "--note", "not about us",
        want_out=[f"{short['P6']} marked false-positive (was acknowledged) by lead"])
    act("respond", short["P5"], rc=1,
        want_err=[f"cannot mark {short['P5']} as responded: it is muted; reopen it first"])
    act("respond", short["P4"], "--by", "tom", want_out=[f"{short['P4']} marked responded"])
    # --by defaults to the login name
    run = act("resolve", short["P4"], env={"LOGNAME": "qa-tester", "USER": "qa-tester"})
    who = {"qa-tester", pwd.getpwuid(os.getuid()).pw_name}
    try:
        who.add(os.getlogin())
    except OSError:
        pass
    ev = d.db("SELECT * FROM alert_events WHERE alert_id = ? ORDER BY id", (ids["P4"],))
    case.expect(ev and ev[-1]["kind"] == "resolve" and ev[-1]["by"] in who,
                f"resolve without --by: by {ev[-1]['by'] if ev else None!r}, want one of {who}")

    # P1's history: every change, with who, from -> to and why; refused moves left no trace
    ev = d.db("SELECT * FROM alert_events WHERE alert_id = ? ORDER BY id", (ids["P1"],))
    got = [(e["kind"], e["from_state"], e["to_state"], e["by"], e["note"]) for e in ev]
    want = [("created", None, "open", "earshotd"),
            ("ack", "open", "acknowledged", "maria", "on it"),
            ("respond", "acknowledged", "responded", "maria", "replied publicly"),
            ("resolve", "responded", "resolved", "lead", None),
            ("reopen", "resolved", "open", "lead", "customer wrote back"),
            ("respond", "open", "responded", "maria", None)]
    case.expect([g[:4] for g in got] == [w[:4] for w in want] and
                all(len(w) == 4 or g[4] == w[4] for g, w in zip(got, want)),
                f"P1 events: {got}")
    row1 = d.db("SELECT * FROM alerts WHERE id = ?", (ids["P1"],))[0]
    case.expect(row1["state"] == "responded", f"P1 state {row1['state']}")
    case.expect(row1["acked_usec"] == ev[1]["at_usec"] and
                usec(r_ack.t0) - 1000 <= row1["acked_usec"] <= usec(r_ack.t1) + 1000,
                "P1 acked_usec is not the time of `ack`")
    case.expect(row1["responded_usec"] == ev[2]["at_usec"] and
                usec(r_resp.t0) - 1000 <= row1["responded_usec"] <= usec(r_resp.t1) + 1000,
                "P1 responded_usec is not the time of the first `respond`")

    run = ctl("show", short["P1"], "--json")
    expect_rc(run, 0, "show --json")
    try:
        j = json.loads(run.out)
        case.expect(j["id"] == ids["P1"] and j["state"] == "responded", "show --json: id/state")
        case.expect([(e["kind"], e["from"], e["to"], e["by"], e["note"]) for e in j["events"]]
                    == got, f"show --json events differ from the store: {j['events']}")
        case.expect(isinstance(j["attached"], list), "show --json: no attached list")
        case.expect(abs(H.parse_rfc3339(j["acknowledged_at"]) - row1["acked_usec"] / 1e6) < 0.001,
                    "show --json: acknowledged_at")
        case.expect(j["seconds_left"] is None, "show --json: seconds_left of a closed alert")
    except (ValueError, KeyError, TypeError) as e:
        case.expect(False, f"show --json: {e}: {run.out[:300]!r}")
    run = ctl("show", short["P1"])
    for w in ("open -> acknowledged", "maria", "\"on it\"", "customer wrote back",
              "resolved -> open"):
        case.expect(w in run.out, f"show P1 after the actions: lacks {w!r}")
    expect_rc(ctl("show", "ffffffffffff"), 1, "show unknown")
    expect_rc(ctl("show", ids["P1"][:4]), 1, "show ambiguous")

    # the queue after the actions
    case.expect(sorted(list_ids()) == sorted([ids["P2"], ids["P3"]]),
                "list after the actions: want P2 and P3 (acknowledged)")
    case.expect(sorted(list_ids("--state", "responded,resolved")) ==
                sorted([ids["P1"], ids["P4"], twin]), "list --state responded,resolved")
    case.expect(list_ids("--state", "muted") == [ids["P5"]], "list --state muted")

    # ---- stats ---------------------------------------------------------------------------
    def stats_rows(since_us):
        return d.db("SELECT * FROM alerts WHERE network != 'earshot' AND created_usec >= ?",
                    (since_us,))

    def group_rows(rows, by):
        out = collections.defaultdict(list)
        for a in rows:
            keys = {"rule": sorted(set(json.loads(a["rules"]))), "brand": [a["brand"]],
                    "network": [a["network"]]}[by]
            for k in keys:
                out[k].append(a)
        return out

    for by in (None, "rule", "brand", "network"):
        args = ["stats", "--json"] + (["--by", by] if by else [])
        run = ctl(*args)
        if not expect_rc(run, 0, " ".join(args)):
            continue
        j = json.loads(run.out)
        since_us = usec(H.parse_rfc3339(j["since"]))
        now_us = usec(H.parse_rfc3339(j["now"]))
        case.expect(abs(now_us / 1e6 - 7 * 86400 - since_us / 1e6) < 0.002,
                    f"{' '.join(args)}: since is not now - 7d")
        rows = stats_rows(since_us)
        case.expect(len(rows) == 6, f"stats: {len(rows)} alerts in 7 days, want 6 (not the twin)")
        want = figures(rows, now_us)
        case.expect(j["all"] == want, f"{' '.join(args)}: all\n got {j['all']}\nwant {want}")
        groups = group_rows(rows, by or "rule")
        if by:
            case.expect(j["by"] == by, f"stats --by {by}: by {j['by']!r}")
            got_groups = {g["name"]: {k: v for k, v in g.items() if k != "name"}
                          for g in j["groups"]}
            want_groups = {k: figures(v, now_us) for k, v in groups.items()}
            case.expect(got_groups == want_groups, f"stats --by {by}: groups\n got {got_groups}"
                                                   f"\nwant {want_groups}")
            case.expect([g["name"] for g in j["groups"]] == sorted(want_groups),
                        f"stats --by {by}: groups not by name")
        rgroups = group_rows(rows, "rule")
        want_fp = [{"rule": r, "alerts": len(v),
                    "false_positive": sum(a["state"] == "false-positive" for a in v),
                    "rate": sum(a["state"] == "false-positive" for a in v) / len(v)}
                   for r, v in sorted(rgroups.items())]
        case.expect(j["false_positive_by_rule"] == want_fp,
                    f"{' '.join(args)}: false_positive_by_rule {j['false_positive_by_rule']}")
    # the figures this test caused, spelled out: P1's first answer counts (not the second)
    run = ctl("stats", "--json")
    j = json.loads(run.out)
    case.expect(j["all"]["states"] == {"open": 0, "acknowledged": 2, "responded": 1,
                                       "resolved": 1, "muted": 1, "false-positive": 1},
                f"stats: states {j['all']['states']}")
    p1_resp = (row1["responded_usec"] - row1["created_usec"]) / 1e6
    case.expect(p1_resp in (j["all"]["respond"]["median_seconds"], j["all"]["respond"]["p90_seconds"]),
                "stats: P1's time to respond is neither the median nor the p90 of two answers")
    # P3: acknowledged, never answered, 20 minutes past due: known, not in time. P2 not due.
    case.expect(j["all"]["within_target"]["known"] == 3,
                f"stats: within_target.known {j['all']['within_target']}, want P1 P3 P4")
    run = ctl("stats")
    expect_rc(run, 0, "stats")
    w = j["all"]["within_target"]
    case.expect(f"within target:     {w['in_time']} of {w['known']}" in run.out,
                f"stats: the report lacks 'within target: {w['in_time']} of {w['known']}'")
    case.expect("False positives by rule:" in run.out, "stats: no false positives by rule")
    run = ctl("stats", "--by", "brand")
    case.expect(run.rc == 0 and "brand globex: 1 alert" in run.out, "stats --by brand report")
    run = ctl("stats", "--since", H.iso_ms(time.time() + 60), "--json")
    case.expect(run.rc == 0 and json.loads(run.out)["all"]["alerts"] == 0, "stats, empty period")
    run = ctl("stats", "--since", "31d", "--json")
    case.expect(run.rc == 0 and json.loads(run.out)["all"]["alerts"] == 7,
                "stats --since 31d: the twin counts too")

    # ---- usage errors: exit 2, nothing touched -------------------------------------------
    before = d.db("SELECT id, state, state_usec FROM alerts ORDER BY id")
    for args in (["list", "--state", "bogus"], ["list", "--limit", "0"],
                 ["list", "--since", "yesterday"], ["list", "--all", "--state", "open"],
                 ["list", "extra"], ["list", "--by", "x"], ["list", "--bogus"], ["show"],
                 ["show", "a", "b"], ["ack"], ["ack", "--note", "x"], ["stats", "--by", "author"],
                 ["stats", "--note", "x"], ["frobnicate"], ["ack", "--by", "", short["P2"]],
                 ["ack", "--by", "x\ty", short["P2"]]):
        run = ctl(*args)
        expect_rc(run, 2, " ".join(args))
        case.expect(run.err.strip() != "", f"{' '.join(args)}: no message")
    for cmd in ("list", "show", "ack", "false-positive", "stats"):
        run = ctl(cmd, "--help")
        case.expect(run.rc == 0 and f"Usage: earshotctl {cmd}" in run.out and "Exit status" in run.out,
                    f"{cmd} --help")
    run = ctl("--help")
    case.expect(run.rc == 0 and all(w in run.out for w in ("show ID", "stats", "false-positive",
                                                           "Exit status")), "--help")
    case.expect(d.db("SELECT id, state, state_usec FROM alerts ORDER BY id") == before,
                "usage errors changed the store")

    # ---- the store cannot be used: exit 3, one line naming the path, nothing changed -----
    nope = os.path.join(case.dir, "nope")
    for args in (["list"], ["show", short["P2"]], ["ack", short["P2"]], ["stats"]):
        run = ctl(*args, state_dir=nope)
        expect_rc(run, 3, f"{args[0]} on a missing store")
        case.expect(os.path.join(nope, "earshot.db") in run.err and
                    len(run.err.strip().splitlines()) == 1,
                    f"{args[0]} on a missing store: want one line naming the path: {run.err!r}")
    case.expect(not os.path.exists(nope), "earshotctl created the missing state directory")

    newer = os.path.join(case.dir, "newer")
    db_newer = copy_store(d.db_path(), newer, user_version=99)
    h = sha256(db_newer)
    for args in (["list"], ["show", short["P2"]], ["resolve", short["P2"]], ["stats"]):
        run = ctl(*args, state_dir=newer)
        expect_rc(run, 3, f"{args[0]} on a store of schema 99")
        case.expect(db_newer in run.err and "newer earshot" in run.err,
                    f"{args[0]} on schema 99: {run.err!r}")
    case.expect(sha256(db_newer) == h, "the store of schema 99 was changed")
    case.expect(rows_of(db_newer, "PRAGMA user_version")[0]["user_version"] == 99,
                "the schema-99 store's version changed")

    ro = os.path.join(case.dir, "readonly")
    db_ro = copy_store(d.db_path(), ro, journal="DELETE")
    user = None
    if os.getuid() == 0:
        # root writes anything: run earshotctl as nobody on root's file instead
        try:
            user = pwd.getpwnam("nobody")
        except KeyError:
            user = None
        for p in (ro, db_ro):
            os.chmod(p, 0o755 if os.path.isdir(p) else 0o644)
        exe_ok = user is not None and subprocess.run(
            [H.earshotctl_path(), "--version"], capture_output=True,
            preexec_fn=lambda: (os.setgroups([]), os.setgid(user.pw_gid),
                                os.setuid(user.pw_uid))).returncode == 0
        if not exe_ok:
            case.note("read-only store check skipped: running as root and 'nobody' cannot "
                      "run earshotctl here (the schema-99 check stands for it)")
            user = False
    else:
        os.chmod(db_ro, 0o444)
    if user is not False:
        h = sha256(db_ro)
        run = ctl("list", "--json", state_dir=ro, as_user=user, label="list-readonly")
        expect_rc(run, 0, "list on a read-only store")
        run = ctl("resolve", short["P2"], state_dir=ro, as_user=user, label="resolve-readonly")
        expect_rc(run, 3, "resolve on a read-only store")
        case.expect(db_ro in run.err and "nothing changed" in run.err,
                    f"resolve on a read-only store: {run.err!r}")
        case.expect(sha256(db_ro) == h, "the read-only store was changed")

    # another writer holds the store past the busy timeout (5 s)
    locked = os.path.join(case.dir, "locked")
    db_locked = copy_store(d.db_path(), locked)
    holder = sqlite3.connect(db_locked, isolation_level=None, timeout=1)
    holder.execute("BEGIN IMMEDIATE")
    try:
        run = ctl("resolve", short["P2"], short["P3"], state_dir=locked, label="resolve-locked")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    expect_rc(run, 3, "resolve on a locked store")
    case.expect(db_locked in run.err and "locked" in run.err,
                f"resolve on a locked store: {run.err!r}")
    case.expect(run.t1 - run.t0 >= 4.5, f"resolve on a locked store gave up after "
                                        f"{run.t1 - run.t0:.1f}s, before the busy timeout")
    st = {r["id"]: r["state"] for r in rows_of(db_locked, "SELECT id, state FROM alerts")}
    case.expect(st[ids["P2"]] == "acknowledged" and st[ids["P3"]] == "acknowledged",
                "resolve on a locked store changed states")

    # the daemon kept running through all of it
    case.expect(d.alive(), "earshotd died while earshotctl worked the queue")
    d.stop()


if __name__ == "__main__":
    H.main("queue_ctl", test)
