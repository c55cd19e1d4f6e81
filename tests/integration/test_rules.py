#!/usr/bin/env python3
"""rules: the rule language end to end, watch_config, and the rule tools of earshotctl.

  1. end to end: brands and rules live in an included `rules.d/` folder (brand with
     `hashtags:` and `exclude:`; a Russian rule with `accents: ignore`, a prefix phrase
     "не работа*" and `languages: [ru]`; a Russian rule that keeps accents; an English
     rule with `near: 3`; a scored rule with a negative weight).  Mastodon statuses (HTML
     content, hashtag markup) go through the real earshotd; the webhook receiver and the
     `alerts` table show exactly which posts alert and with which rules and severity:
     "ACME опять НЕ РАБОТАЕТ" alerts, "все" = "всё" only under accents: ignore, a post
     naming the brand's excluded term does not alert, `near:` too far does not, the
     language filter holds, a score below the threshold (or pulled under it by a
     negative weight) does not; a phrase across <br> and across &nbsp; matches; the
     webhook's severity is the highest and respond_within the strictest (rule's, else
     brand's); `earshotd --check-config` on that config prints no warnings;
  2. watch_config: true: rewriting the included rules file (no SIGHUP) reloads (log,
     RELOADING=1/READY=1, same pid) and a post only the new rule matches alerts; a
     version with bad YAML and then one with an unknown key are logged as
     rules.d/FILE:LINE:COL while the daemon keeps running with the previous rules (they
     still alert, the broken file's new rule does not); a fixed version, renamed over
     the file as editors do, is picked up again (the watches survive failed reloads);
     every reload comes >= ~300 ms after its write, one reload per change;
  3. backtest on the store of (1), daemon stopped: --rules with a file named like an
     included one (drops `en-down`, lowers the threshold of `en-score`) and one that no
     include matches (adds `promises`): --json appear/disappear/change/unchanged and each
     changed post exactly; the human summary line and the per-rule table ((gone), (new));
     without --rules nothing changes; a broken --rules file: exit 1 and its
     FILE:LINE:COL; explain on that config names the included file and line of each rule;
  4. test-rules and explain on a second config (top-level `matching: {accents: ignore}`,
     brand list, handles per network, domains, inside_hashtags, nested groups, brand:
     none, networks, min_followers): a JSONL file with EN/RU posts, a comment, a blank
     line and one bad line: --json output exactly, the same through stdin, the human
     summary and per-rule table, `FILE:N:` on stderr for the bad line, exit 0, colour only
     with --color=always; explain: MATCHES for the right rule with FILE:LINE and
     severity, and "blocked by" / "missing" /
     language / min_followers / near "too far" reasons for the others; an any: group that
     holds through a nested group says so;
  5. --check-config lints: stop word, 2-letter term, a term in all: and none:, an
     unreachable threshold: exit 0 and each warning as FILE:LINE:COL on stderr; an
     unknown language code ("english") and an unknown brand ("did you mean"): exit 1 with
     FILE:LINE:COL.
"""

import json
import os
import re
import subprocess
import time

import harness as H

TAG_HTML = ('<a href="{base}/tags/acme" class="mention hashtag" rel="tag">'
            '#<span>acme</span></a>')

# ---- (1) end to end: the main config includes rules.d/*.yaml -----------------------------

E2E_BRANDS = """\
brands:
  - name: acme
    terms: [acme, "acme corp"]
    hashtags: [acme]
    exclude: [acmejobs, "acme careers"]
    respond_within: 2h
"""

E2E_RU = """\
rules:
  - name: ru-broken
    brand: acme
    accents: ignore
    any: ["не работа*", "всё сломалось"]
    languages: [ru]
    severity: critical
  - name: ru-exact
    brand: acme
    any: ["всё пропало"]
    severity: high
"""

E2E_EN = """\
rules:
  - name: en-down
    brand: acme
    near: 3
    any: [down, outage, "not working"]
    languages: [en]
    severity: high
    respond_within: 30m
  - name: en-score
    brand: acme
    terms: {refund: 3, "money back": 3, scam: 4, love: -5}
    threshold: 5
"""

# backtest: stands in for rules.d/30-en.yaml (en-down dropped, en-score widened) ...
NEW_EN = """\
rules:
  - name: en-score
    brand: acme
    terms: {refund: 3, "money back": 3, scam: 4, love: -5}
    threshold: 3
"""
# ... and a file no include matches, read in addition
NEW_EXTRA = """\
rules:
  - name: promises
    brand: acme
    any: ["never go down"]
    severity: low
"""

# ---- (2) watch_config ------------------------------------------------------------------------

WATCH_V1 = """\
brands:
  - name: acme
    terms: [acme]
rules:
  - name: w-broken
    brand: acme
    any: [broken]
    severity: high
"""
WATCH_V2 = WATCH_V1 + """\
  - name: w-sluggish
    brand: acme
    any: [sluggish]
    severity: low
"""
WATCH_V3 = WATCH_V2 + """\
  - name: w-laggy
    brand: acme
    any: [laggy]
    severity: normal
"""

# ---- (4) test-rules / explain ----------------------------------------------------------------

TUNE = """\
matching:
  accents: ignore
sources:
  - name: mastodon-acme
    type: mastodon
    instances: [http://127.0.0.1:9]
    tags: [acme]
notifiers:
  - name: console
    type: log
brands:
  - name: acme
    terms: [acme, "acme corp"]
    handles:
      mastodon: [acmesupport]
    domains: [acmestore.example]
    exclude: [acmejobs]
  - name: globex
    terms: [globex]
    inside_hashtags: true
rules:
  - name: billing
    brand: [acme, globex]
    any: [refund*, {all: [charged, twice]}]
    none: [giveaway]
    severity: high
    tags: [billing]
  - name: ru-slow
    brand: acme
    any: ["всё медленно", "тормоз*"]
    languages: [ru]
  - name: vip
    brand: any
    near: 4
    any: [broken, down]
    min_followers: 1000
    networks: [mastodon]
    severity: critical
  - name: security
    brand: none
    all: [{any: [leak, breach]}, {any: [password*, "credit card"]}]
    severity: critical
"""

# (id, post fields, expected rules, expected terms); None = no match
TUNE_POSTS = [
    ("t1", {"text": "ACME charged me twice!!", "lang": "en"},
     ["billing"], ["acme", "charged", "twice"]),
    ("t2", {"text": "#globexfail where is my refund?", "lang": "en"},
     ["billing"], ["globex", "refund*"]),
    ("t3", {"text": "#acmefail where is my refund?", "lang": "en"}, None, None),
    ("t4", {"text": "@acmesupport refund please", "network": "mastodon"},
     ["billing"], ["@acmesupport", "refund*"]),
    ("t5", {"text": "@acmesupport refund please", "network": "bluesky"}, None, None),
    ("t6", {"text": "ACME: все медленно", "lang": "ru"},
     ["ru-slow"], ["acme", "всё медленно"]),
    ("t7", {"text": "acme refund giveaway, retweet to win", "lang": "en"}, None, None),
    ("t8", {"text": "acme site is down again", "network": "mastodon", "followers": 5000},
     ["vip"], ["acme", "down"]),
    ("t9", {"text": "acme site is down again", "network": "mastodon", "followers": 10},
     None, None),
    ("t10", {"text": "Massive breach: passwords of millions out", "lang": "en"},
     ["security"], ["breach", "password*"]),
    (11, {"text": "Тормозит ACME, опять", "lang": "ru"},
     ["ru-slow"], ["acme", "тормоз*"]),
    ("t12", {"text": "ordered on acmestore.example, still no refund", "lang": "en"},
     ["billing"], ["acmestore.example", "refund*"]),
    ("t13", {"text": "acme is down and charged me twice", "network": "mastodon",
             "followers": 2000, "lang": "en"},
     ["billing", "vip"], ["acme", "charged", "twice", "down"]),
]

# ---- (5) lints -------------------------------------------------------------------------------

LINT = """\
log_level: info
sources:
  - name: mastodon-acme
    type: mastodon
    instances: [http://127.0.0.1:9]
    tags: [acme]
notifiers:
  - name: console
    type: log
brands:
  - name: acme
    terms: [acme]
rules:
  - name: stopword
    brand: acme
    any: [the, refund]
  - name: short
    brand: acme
    any: [ok, "money back"]
  - name: contradiction
    brand: acme
    all: [refund, urgent]
    none: [urgent]
  - name: unreachable
    brand: acme
    terms: {refund: 2, scam: 1}
    threshold: 5
"""

BAD_LANG = """\
sources:
  - name: mastodon-acme
    type: mastodon
    instances: [http://127.0.0.1:9]
    tags: [acme]
notifiers:
  - name: console
    type: log
brands:
  - name: acme
    terms: [acme]
rules:
  - name: english-only
    brand: acme
    any: [refund]
    languages: [english]
  - name: typo
    brand: acmee
    any: [refund]
"""


# ---- helpers ---------------------------------------------------------------------------------


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path


def pos_in(text, needle, offset=0, nth=1):
    """(line, col) of needle in text, moved `offset` characters to the right."""
    line, col = H.pos_of(text, needle, nth)
    return line, col + offset


def run(case, label, argv, stdin=None, timeout=30):
    """Run a tool with the plugin dir set; (exit status, stdout, stderr), saved in the case dir."""
    env = {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "TERM")}
    env["EARSHOT_PLUGIN_DIR"] = H.plugin_dir()
    env.setdefault("ASAN_OPTIONS", "abort_on_error=0:detect_leaks=1")
    r = subprocess.run(argv, capture_output=True, timeout=H.scaled(timeout), env=env,
                       input=stdin.encode() if isinstance(stdin, str) else stdin,
                       stdin=None if stdin is not None else subprocess.DEVNULL)
    out = r.stdout.decode("utf-8", "replace")
    err = r.stderr.decode("utf-8", "replace")
    case.save(f"run-{label}.txt", f"$ {' '.join(argv)}\nexit {r.returncode}\n"
                                  f"--- stdout\n{out}\n--- stderr\n{err}")
    for pat in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"):
        case.expect(pat not in err, f"{label}: sanitizer report: "
                                    f"{err[err.find(pat):err.find(pat) + 200]}")
    return r.returncode, out, err


def ctl(case, label, config, *args, state_dir=None, stdin=None):
    argv = [H.earshotctl_path(), "--config", config]
    if state_dir:
        argv += ["--state-dir", state_dir]
    return run(case, label, argv + list(args), stdin=stdin)


def check_config(case, label, config):
    return run(case, label, [H.earshotd_path(), "--check-config", "--config", config])


def expect_pos(case, label, text, filename, line, col, words, alt=None):
    """A `filename:line:col:` line in text (or at `alt` = (line, col)) with every word."""
    hits = H.find_pos(text, filename, line, col)
    where = f"{filename}:{line}:{col}:"
    if not hits and alt:
        hits = H.find_pos(text, filename, *alt)
        where += f" (or :{alt[0]}:{alt[1]}:)"
    if not case.expect(hits, f"{label}: no '{where}' line in:\n{text}"):
        return
    for w in words:
        case.expect(any(re.search(w, h, re.I) for h in hits),
                    f"{label}: the '{where}' line lacks /{w}/: {hits}")


def delivered_rules(hook):
    """post uri -> sorted rules of its (first) delivery."""
    return {uri: sorted((ds[0]["json"] or {}).get("rules") or [])
            for uri, ds in hook.by_post(ok_only=False).items()}


# ---- (1) -------------------------------------------------------------------------------------


def part_end_to_end(case):
    srv = case.server("mock-e2e")
    masto = H.MastodonInstance(srv)
    hook = H.WebhookReceiver(srv, "/hook")
    cfg = H.make_config(
        sources=[H.mastodon_source("mastodon-acme", masto.url, interval="1s")],
        notifiers=[H.webhook_notifier("hook", hook.url)],
        include=["rules.d/*.yaml"])
    del cfg["brands"], cfg["rules"]
    d = case.daemon(cfg, name="e2e", files={"rules.d/10-brands.yaml": E2E_BRANDS,
                                            "rules.d/20-ru.yaml": E2E_RU,
                                            "rules.d/30-en.yaml": E2E_EN})

    rc, out, err = check_config(case, "check-config-e2e", d.config_path)
    case.expect(rc == 0, f"--check-config of the end-to-end config: exit {rc}\n{out}{err}")
    case.expect("warning" not in (out + err).lower(),
                f"the end-to-end config should have no lint warnings:\n{err}")
    case.expect(re.search(r"\b4 files read\b", out),
                f"--check-config should count the main file and 3 included files:\n{out}")

    tag = TAG_HTML.format(base=masto.url)
    # label -> (HTML content, lang, expected rules or None, expected severity)
    posts = {
        "ru-caps": ("<p>ACME опять НЕ РАБОТАЕТ</p>", "ru", ["ru-broken"], "critical"),
        "ru-accents-ignored": ("<p>acme: все сломалось 😡</p>", "ru", ["ru-broken"], "critical"),
        "ru-accents-kept-miss": ("<p>acme, все пропало</p>", "ru", None, None),
        "ru-accents-kept-hit": ("<p>ACME — всё пропало!</p>", "ru", ["ru-exact"], "high"),
        "ru-wrong-lang": ("<p>acme не работает</p>", "uk", None, None),
        "ru-line-break": ("<p>ACME опять не<br>работает</p>", "ru", ["ru-broken"], "critical"),
        "en-near": ("<p>ACME is down again</p>", "en", ["en-down"], "high"),
        "en-entities": ("<p>acme&#39;s app: NOT&nbsp;WORKING</p>", "en", ["en-down"], "high"),
        "en-near-too-far": ("<p>acme support said the site would never go down</p>", "en",
                            None, None),
        "en-excluded": ("<p>acmejobs: ACME is down for maintenance, apply by mail</p>", "en",
                        None, None),
        "en-excluded-phrase": ("<p>Join Acme Careers! acme is down? not for long</p>", "en",
                               None, None),
        "en-wrong-lang": ("<p>ACME is down</p>", "de", None, None),
        "score-hit": ("<p>acme took my money, I want a refund, this is a scam</p>", "en",
                      ["en-score"], "normal"),
        "score-negative": ("<p>acme: not a scam after all, refund arrived, love it</p>", "en",
                           None, None),
        "score-low": ("<p>acme refund please</p>", "en", None, None),
        "multi": (f"<p>{tag} is down &amp; I want my money back. Refund now!</p>", "en",
                  ["en-down", "en-score"], "high"),
    }
    d.start()
    statuses = masto.add_statuses([dict(text=html, lang=lang) for html, lang, _, _ in
                                   posts.values()])
    by_label = dict(zip(posts, statuses))
    expected = {by_label[k]["uri"]: v[2] for k, v in posts.items() if v[2]}
    hook.wait_posts(expected)
    # all statuses went in one page and one store transaction: every one of them is seen
    H.wait_until(lambda: len(d.db_try("SELECT post_key FROM seen")) >= len(posts), 10,
                 "every status in the seen table")

    got = delivered_rules(hook)
    for label, (html, lang, rules, sev) in posts.items():
        uri = by_label[label]["uri"]
        if rules is None:
            case.expect(uri not in got, f"e2e {label}: {html!r} ({lang}) must not alert, but "
                                        f"reached the webhook with rules {got.get(uri)}")
            continue
        ds = hook.by_post(ok_only=False).get(uri, [])
        if not case.expect(len(ds) == 1, f"e2e {label}: {len(ds)} deliveries, want 1"):
            continue
        j = ds[0]["json"] or {}
        case.expect(sorted(j.get("rules") or []) == sorted(rules),
                    f"e2e {label}: {html!r}: rules {j.get('rules')}, want {rules}")
        case.expect(j.get("severity") == sev,
                    f"e2e {label}: severity {j.get('severity')!r}, want {sev!r} "
                    "(the highest of the matched rules)")
        case.expect(j.get("brand") == "acme", f"e2e {label}: brand {j.get('brand')!r}")
        case.expect((j.get("post") or {}).get("lang") == lang,
                    f"e2e {label}: post.lang {(j.get('post') or {}).get('lang')!r}")
    # respond_within: rule (30m) beats brand (2h); brand beats defaults (1h)
    for label, want in (("en-near", 1800), ("multi", 1800), ("ru-caps", 7200),
                        ("score-hit", 7200)):
        ds = hook.by_post(ok_only=False).get(by_label[label]["uri"], [])
        if ds:
            rw = (ds[0]["json"] or {}).get("respond_within")
            case.expect(rw == want, f"e2e {label}: respond_within {rw}, want {want} "
                                    "(rule's, else brand's)")
    rows = d.alerts_by_post()
    case.expect(set(rows) == set(expected),
                f"alerts table: extra {sorted(set(rows) - set(expected))}, "
                f"missing {sorted(set(expected) - set(rows))}")
    for uri, rules in expected.items():
        if rows.get(uri):
            try:
                stored = sorted(json.loads(rows[uri][0]["rules"]))
            except ValueError:
                stored = rows[uri][0]["rules"]
            case.expect(stored == sorted(rules), f"alerts row of {uri}: rules {stored}, "
                                                 f"want {rules}")
    d.stop()
    return d, posts, by_label


# ---- (2) -------------------------------------------------------------------------------------


def part_watch(case):
    srv = case.server("mock-watch")
    masto = H.MastodonInstance(srv)
    hook = H.WebhookReceiver(srv, "/hook")
    cfg = H.make_config(
        sources=[H.mastodon_source("mastodon-acme", masto.url, interval="1s")],
        notifiers=[H.webhook_notifier("hook", hook.url)],
        include=["rules.d/*.yaml"], watch_config=True)
    del cfg["brands"], cfg["rules"]
    rel = "rules.d/50-watch.yaml"
    d = case.daemon(cfg, name="watch", files={rel: WATCH_V1})
    d.start()
    pid = d.pid
    H.wait_until(lambda: "watch_config: watching" in d.log_text(), 10,
                 "'watch_config: watching N folders' in the log")
    expected = {}

    def post(*items):
        """Publish (text, rules or None) statuses at once: one poll sees all or none."""
        out = masto.add_statuses([dict(text=f"<p>{text}</p>") for text, _ in items])
        for s, (_, rules) in zip(out, items):
            if rules:
                expected[s["uri"]] = rules
        return out

    def change(text, label, ok, atomic=False):
        """Write the rules file (in place, or as editors do: a temporary file renamed over
        it); wait for the reload it triggers (no signal is sent)."""
        log_mark, notify_mark = d.log_size(), d.notify.mark()
        t_write = time.monotonic()
        if atomic:
            tmp = d.write_file(rel + ".new", text)
            os.replace(tmp, os.path.join(d.cfg_dir, rel))
        else:
            d.write_file(rel, text)
        i = d.notify.wait_for("RELOADING=1", 15, since=notify_mark, proc=d.proc)
        with d.notify.lock:
            t_reload = d.notify.messages[i][0]
        case.expect(t_reload - t_write >= 0.25,
                    f"{label}: reloaded {t_reload - t_write:.3f}s after the write; the daemon "
                    "should let the files settle for ~300 ms first")
        d.notify.wait_for("READY=1", 15, since=i, proc=d.proc)
        want = "reloaded:" if ok else "reload failed"
        log = H.wait_until(lambda: (lambda t: want in t and t)(d.log_text(since=log_mark)), 10,
                           f"'{want}' in the log after writing {label}")
        H.check(d.alive() and d.pid == pid,
                f"earshotd died or was replaced after writing {label}")
        case.expect("a configuration file changed" in log,
                    f"{label}: the log does not say that a configuration file changed:\n{log}")
        return log

    s1, = post(("acme is broken", ["w-broken"]))
    hook.wait_posts([s1["uri"]])

    # a valid change: a new rule
    log = change(WATCH_V2, "a new rule", True)
    case.expect(re.search(r"reloaded: .*\b2 rules\b", log), f"reload should count 2 rules:\n{log}")
    s2, = post(("acme feels sluggish today", ["w-sluggish"]))
    hook.wait_posts([s2["uri"]])

    # bad YAML: the error at the included file's line and column; old rules stay in force
    bad_yaml = WATCH_V3.replace("severity: normal", "severity: normal: x", 1)
    line, col = pos_in(bad_yaml, "normal: x", len("normal"))
    log = change(bad_yaml, "bad YAML", False)
    expect_pos(case, "watch bad YAML", log, rel, line, col, [])
    s3, s4 = post(("acme is laggy, and broken", ["w-broken"]), ("acme is laggy", None))
    hook.wait_posts([s3["uri"]])

    # an unknown key
    bad_key = WATCH_V3.replace("severity: normal", "severty: normal", 1)
    line, col = H.pos_of(bad_key, "severty")
    log = change(bad_key, "an unknown key", False)
    expect_pos(case, "watch unknown key", log, rel, line, col,
               [r"unknown key 'severty'", r"did you mean 'severity'"])
    s5, s6 = post(("acme so laggy and sluggish", ["w-sluggish"]), ("acme laggy laggy", None))
    hook.wait_posts([s5["uri"]])

    # fixed, written as editors do (rename over the file): the watch survived the failures
    log = change(WATCH_V3, "the fixed file", True, atomic=True)
    case.expect(re.search(r"reloaded: .*\b3 rules\b", log), f"reload should count 3 rules:\n{log}")
    s7, = post(("acme is laggy once more", ["w-laggy"]))
    hook.wait_posts([s7["uri"]])
    st = d.notify.last_value("STATUS") or ""
    case.expect(re.search(r"\b3 rules\b", st), f"STATUS should count 3 rules: {st!r}")
    n_reloads = len([ln for ln in d.notify.lines() if ln == "RELOADING=1"])
    case.expect(n_reloads == 4, f"{n_reloads} reloads for 4 changes of the rules file, want 4 "
                                "(one per change)")

    d.stop()
    got = delivered_rules(hook)
    for s in (s4, s6):
        case.expect(s["uri"] not in got,
                    f"watch: {s['content']!r} alerted (rules {got.get(s['uri'])}) although "
                    "only a rule of a file that failed to load matches it")
    for uri, rules in expected.items():
        n = len(hook.by_post(ok_only=False).get(uri, []))
        case.expect(n == 1, f"watch: {uri}: {n} deliveries, want 1")
        case.expect(got.get(uri) == sorted(rules), f"watch: {uri}: rules {got.get(uri)}, "
                                                   f"want {rules}")
    errors = [ln for ln in d.log_text().splitlines()
              if re.search(r"(error|err):", ln) and "50-watch.yaml" not in ln
              and "reload failed" not in ln]
    case.expect(not errors, f"watch: unexpected errors in the log: {errors[:3]}")


# ---- (3) -------------------------------------------------------------------------------------


def part_backtest(case, d, posts, by_label):
    newdir = os.path.join(case.dir, "new-rules")
    new_en = write(os.path.join(newdir, "30-en.yaml"), NEW_EN)
    new_extra = write(os.path.join(newdir, "60-extra.yaml"), NEW_EXTRA)

    # what the new rules would say about each post seen in (1)
    changes = {
        "en-near": ("disappear", ["en-down"], []),
        "en-entities": ("disappear", ["en-down"], []),
        "score-low": ("appear", [], ["en-score"]),
        "en-near-too-far": ("appear", [], ["promises"]),
        "multi": ("change", ["en-down", "en-score"], ["en-score"]),
    }
    unchanged = [k for k, v in posts.items() if v[2] and k not in changes]

    rc, out, err = ctl(case, "backtest-json", d.config_path, "--state-dir", d.state_dir,
                       "backtest", "--since", "1h", "--rules", new_en, "--rules", new_extra,
                       "--json")
    case.expect(rc == 0, f"backtest --json: exit {rc}\n{err}")
    try:
        j = json.loads(out)
    except ValueError as e:
        case.expect(False, f"backtest --json: not JSON ({e}):\n{out}")
        j = None
    if j is not None:
        want = {"posts": len(posts), "appear": 2, "disappear": 2, "change": 1,
                "unchanged_alerts": len(unchanged)}
        got = {k: j.get(k) for k in want}
        case.expect(got == want, f"backtest --json counts {got}, want {want} "
                                 f"(unchanged alerts: {unchanged})")
        pc = j.get("posts_changed") or []
        by_post = {}
        for o in pc:
            by_post.setdefault(o.get("post"), []).append(o)
        case.expect(len(pc) == len(changes), f"backtest: {len(pc)} posts_changed, want "
                                             f"{len(changes)}: {pc}")
        for label, (kind, old, new) in changes.items():
            s = by_label[label]
            key = "mastodon:" + s["uri"]
            os_ = by_post.get(key) or []
            if not case.expect(len(os_) == 1, f"backtest: {label} ({key}) not once in "
                                              f"posts_changed: {[o.get('post') for o in pc]}"):
                continue
            o = os_[0]
            case.expect(o.get("change") == kind, f"backtest {label}: change {o.get('change')!r}, "
                                                 f"want {kind!r}")
            case.expect(o.get("old_rules") == old, f"backtest {label}: old_rules "
                                                   f"{o.get('old_rules')}, want {old}")
            case.expect(o.get("new_rules") == new, f"backtest {label}: new_rules "
                                                   f"{o.get('new_rules')}, want {new}")
            case.expect(o.get("url") == s["url"], f"backtest {label}: url {o.get('url')!r}, "
                                                  f"want {s['url']!r}")
            text = " ".join((o.get("text") or "").split())
            plain = re.sub(r"<br>", " ", posts[label][0])
            plain = re.sub(r"<[^>]+>", "", plain).replace("&amp;", "&").replace("&#39;", "'")
            plain = " ".join(plain.replace("&nbsp;", " ").split())
            case.expect(text == plain,
                        f"backtest {label}: text {text!r}, want {plain!r}")

    rc, out, err = ctl(case, "backtest-human", d.config_path, "--state-dir", d.state_dir,
                       "backtest", "--rules", new_en, "--rules", new_extra)
    case.expect(rc == 0, f"backtest: exit {rc}\n{err}")
    summary = (f"{len(posts)} posts: 2 alerts would appear, 2 would disappear, "
               f"1 would change rules, {len(unchanged)} unchanged")
    case.expect(summary in out.splitlines(), f"backtest: no summary line {summary!r} in:\n{out}")
    uri = by_label["multi"]["uri"]
    case.expect(f"~ mastodon:{uri}  [en-down, en-score] -> [en-score]" in out.splitlines(),
                f"backtest: no '~' line for the post whose rules change:\n{out}")
    case.expect(f"- mastodon:{by_label['en-near']['uri']}  [en-down]" in out.splitlines(),
                f"backtest: no '-' line for the post that would not alert:\n{out}")
    case.expect(f"+ mastodon:{by_label['score-low']['uri']}  [en-score]" in out.splitlines(),
                f"backtest: no '+' line for the post that would alert:\n{out}")
    table = {m.group(1): (m.group(2), m.group(3)) for m in
             re.finditer(r"^(\S+)\s+(\d+|\(new\))\s+(\d+|\(gone\))\s*$", out, re.M)}
    want_table = {"ru-broken": ("3", "3"), "ru-exact": ("1", "1"), "en-down": ("3", "(gone)"),
                  "en-score": ("2", "3"), "promises": ("(new)", "1")}
    case.expect(table == want_table, f"backtest per-rule table {table}, want {want_table}:\n{out}")

    # no --rules: the same rules on both sides
    rc, out, err = ctl(case, "backtest-same", d.config_path, "--state-dir", d.state_dir,
                       "backtest", "--json")
    j = None
    try:
        j = json.loads(out)
    except ValueError:
        pass
    case.expect(rc == 0 and j is not None and
                (j.get("appear"), j.get("disappear"), j.get("change"),
                 j.get("unchanged_alerts"), j.get("posts_changed")) ==
                (0, 0, 0, len([v for v in posts.values() if v[2]]), []),
                f"backtest without --rules should change nothing: exit {rc}, {out}")


    # a broken --rules file: exit 1 and its FILE:LINE:COL, nothing compared
    bad = NEW_EN.replace("    threshold: 3", "    threshold: 3\n    severty: low")
    bad_path = write(os.path.join(case.dir, "new-rules-bad", "30-en.yaml"), bad)
    rc, out, err = ctl(case, "backtest-bad-rules", d.config_path, "--state-dir", d.state_dir,
                       "backtest", "--rules", bad_path, "--json")
    case.expect(rc == 1, f"backtest with a broken --rules file: exit {rc}, want 1")
    expect_pos(case, "backtest --rules broken", err, "new-rules-bad/30-en.yaml",
               *H.pos_of(bad, "severty"), [r"unknown key 'severty'"])


def part_explain_included(case, d):
    """explain names each rule's own (included) file and line."""
    rc, out, err = ctl(case, "explain-e2e", d.config_path, "explain", "--lang", "ru",
                       "ACME опять НЕ РАБОТАЕТ")
    heads = re.findall(r"^rule (\S+) \((.+):(\d+), (\w+)\): (MATCHES|no match)$", out, re.M)
    want = [("ru-broken", "rules.d/20-ru.yaml", H.pos_of(E2E_RU, "- name: ru-broken")[0],
             "critical", "MATCHES"),
            ("ru-exact", "rules.d/20-ru.yaml", H.pos_of(E2E_RU, "- name: ru-exact")[0], "high",
             "no match"),
            ("en-down", "rules.d/30-en.yaml", H.pos_of(E2E_EN, "- name: en-down")[0], "high",
             "no match"),
            ("en-score", "rules.d/30-en.yaml", H.pos_of(E2E_EN, "- name: en-score")[0],
             "normal", "no match")]
    got = [(n, f if not f.endswith(w[1]) else w[1], int(ln), sev, res)
           for (n, f, ln, sev, res), w in zip(heads, want)]
    case.expect(rc == 0 and got == want, f"explain on the e2e config: exit {rc}, heads {got}, "
                                         f"want {want}:\n{out}")
    case.expect(re.search(r"any: holds; present: 'не работа\*' \(\"НЕ РАБОТАЕТ\", word 3\)", out),
                f"explain: the prefix phrase hit should be quoted as written:\n{out}")


# ---- (4) -------------------------------------------------------------------------------------


def part_tools(case):
    tdir = os.path.join(case.dir, "tune")
    cfg = write(os.path.join(tdir, "tune.yaml"), TUNE)
    lines = ["# posts for test-rules: one JSON object a line"]
    for i, (pid, fields, _, _) in enumerate(TUNE_POSTS):
        lines.append(json.dumps(dict(id=pid, **fields), ensure_ascii=False))
        if i == 2:
            lines.append("")
        if i == 5:
            lines.append('{"id": "broken", "text": "acme refund')   # bad line
            bad_line = len(lines)
    jsonl_text = "\n".join(lines) + "\n"
    jsonl = write(os.path.join(tdir, "posts.jsonl"), jsonl_text)

    want = [{"id": pid, "rules": rules, "terms": sorted(terms)}
            for pid, _, rules, terms in TUNE_POSTS if rules]

    def parse_json_lines(out, label):
        res = []
        for ln in out.splitlines():
            try:
                o = json.loads(ln)
            except ValueError:
                case.expect(False, f"{label}: not a JSON line: {ln!r}")
                continue
            if isinstance(o.get("terms"), list):
                o["terms"] = sorted(o["terms"])
            res.append(o)
        return res

    rc, out, err = ctl(case, "test-rules-json", cfg, "test-rules", "--json", jsonl)
    case.expect(rc == 0, f"test-rules --json: exit {rc}, want 0\n{err}")
    got = parse_json_lines(out, "test-rules --json")
    if got != want:
        gm = {json.dumps(o.get("id")): o for o in got}
        for w in want:
            g = gm.pop(json.dumps(w["id"]), None)
            case.expect(g == w, f"test-rules --json: post {w['id']!r}: got {g}, want {w}")
        case.expect(not gm, f"test-rules --json: posts that should not match: {list(gm.values())}")
        case.expect([o.get("id") for o in got] == [w["id"] for w in want],
                    f"test-rules --json: order {[o.get('id') for o in got]}, want file order")
    bad = [ln for ln in err.splitlines() if ln.strip()]
    case.expect(len(bad) == 1 and re.match(rf"^(.*/)?posts\.jsonl:{bad_line}: ", bad[0]),
                f"test-rules: stderr should be one 'posts.jsonl:{bad_line}: ...' line: {bad}")

    rc2, out2, err2 = ctl(case, "test-rules-stdin", cfg, "test-rules", "--json", "-",
                          stdin=jsonl_text)
    case.expect(rc2 == 0 and out2 == out,
                f"test-rules --json - (stdin): exit {rc2}, output differs from the file's:\n"
                f"{out2}")
    case.expect(re.search(rf"^(-|<stdin>|stdin):{bad_line}: ", err2, re.M),
                f"test-rules on stdin: the bad line should be reported as -:{bad_line}: {err2!r}")

    n_posts = len(TUNE_POSTS)
    n_match = len(want)
    rc, out, err = ctl(case, "test-rules", cfg, "test-rules", jsonl)
    case.expect(rc == 0, f"test-rules: exit {rc}, want 0\n{err}")
    summary = (f"{n_posts} posts read, {n_match} matched "
               f"({100.0 * n_match / n_posts:.1f}%), 1 line skipped")
    case.expect(summary in out.splitlines(), f"test-rules: no summary line {summary!r} in:\n{out}")
    case.expect("\033[" not in out, "test-rules: colour escapes although stdout is no terminal")
    case.expect("t13  billing [high], vip [critical]" in out.splitlines(),
                f"test-rules: no 't13  billing [high], vip [critical]' line:\n{out}")
    case.expect("    acme is down and charged me twice" in out.splitlines(),
                f"test-rules: the text of t13 is not printed:\n{out}")
    counts = {}
    for pid, _, rules, _ in TUNE_POSTS:
        for r in rules or []:
            counts[r] = counts.get(r, 0) + 1
    for rule in ("billing", "ru-slow", "vip", "security"):
        n = counts.get(rule, 0)
        pat = rf"^{re.escape(rule)}\s+{n}\s+{100.0 * n / n_posts:.1f}%\s*$"
        case.expect(re.search(pat, out, re.M), f"test-rules: per-rule line /{pat}/ missing:\n{out}")

    rc, out, err = ctl(case, "test-rules-color", cfg, "--color=always", "test-rules", jsonl)
    case.expect(rc == 0 and "\033[1;31m" in out,
                f"test-rules --color=always: exit {rc}, no highlight escapes in output")

    # explain
    vip_line = H.pos_of(TUNE, "- name: vip")[0]
    text = "ACME is down, they charged me twice; giveaway inside"
    rc, out, err = ctl(case, "explain", cfg, "explain", "--lang", "en", "--network", "mastodon",
                       "--followers", "5000", text)
    case.expect(rc == 0, f"explain: exit {rc}\n{err}")
    paras = {}
    for para in out.strip().split("\n\n"):
        m = re.match(r"rule (\S+) \((.+):(\d+), (\w+)\): (MATCHES|no match)\n", para + "\n")
        if case.expect(m, f"explain: paragraph without a 'rule NAME (FILE:LINE, severity):' "
                          f"head:\n{para}"):
            paras[m.group(1)] = (m, para)
    case.expect(sorted(paras) == ["billing", "ru-slow", "security", "vip"],
                f"explain: rules explained {sorted(paras)}")
    if "vip" in paras:
        m, para = paras["vip"]
        case.expect(m.group(5) == "MATCHES" and m.group(2).endswith("tune/tune.yaml")
                    and int(m.group(3)) == vip_line and m.group(4) == "critical",
                    f"explain: want 'rule vip (…tune/tune.yaml:{vip_line}, critical): MATCHES', "
                    f"got {para.splitlines()[0]!r}")
        case.expect(re.search(r"brand acme: named by 'acme'.*near 4: closest complaint term "
                              r"2 words away", para),
                    f"explain vip: the brand and the near distance are not explained:\n{para}")
    for name, reason in (("billing", r"none: fails; blocked by 'giveaway'"),
                         ("ru-slow", r"languages?: the post is in 'en', the rule wants \[?ru\]?"),
                         ("security", r"all: fails; 2 nested groups fail \(below\)\n"
                                      r"    any: fails: none of its 2 terms holds: 'leak', 'breach'")):
        if name in paras:
            m, para = paras[name]
            case.expect(m.group(5) == "no match", f"explain: {name} should not match:\n{para}")
            case.expect(re.search(reason, para), f"explain {name}: no /{reason}/ in:\n{para}")
    if "billing" in paras:
        para = paras["billing"][1]
        case.expect(re.search(r"^    all: holds; all present$", para, re.M),
                    f"explain billing: the nested all: [charged, twice] group should be shown "
                    f"as all present:\n{para}")
        case.expect(re.search(r"^  any: holds through a nested group \(below\)$", para, re.M),
                    "explain: an any: group satisfied by a nested group should say so:\n"
                    f"{para}")

    # explain: near too far, and too few followers
    text = "acme is fine, the website of the other shop is down"
    rc, out, err = ctl(case, "explain-far", cfg, "explain", "--network", "mastodon",
                       "--followers", "10", text)
    m = re.search(r"^rule vip \(.*\): (MATCHES|no match)$((?:\n.+)*)", out, re.M)
    if case.expect(rc == 0 and m, f"explain (far): exit {rc}, no vip paragraph:\n{out}"):
        case.expect(m.group(1) == "no match", f"explain (far): vip should not match:\n{out}")
        case.expect(re.search(r"near 4: closest complaint term 10 words away, too far", m.group(2)),
                    f"explain (far): vip should say the complaint term is 10 words away, too "
                    f"far:\n{m.group(0)}")
        case.expect(re.search(r"min_followers: the author has 10 followers, the rule wants at "
                              r"least 1000", m.group(2)),
                    f"explain (far): vip should name the min_followers filter:\n{m.group(0)}")
    rc, out, err = ctl(case, "explain-none", cfg, "explain", "nothing to see here")
    case.expect(rc == 0 and out.count("): no match") == 4 and "MATCHES" not in out,
                f"explain on an unrelated text: exit {rc}, want 4 'no match':\n{out}")


# ---- (5) -------------------------------------------------------------------------------------


def part_lints(case):
    ldir = os.path.join(case.dir, "lint")
    p = write(os.path.join(ldir, "lint.yaml"), LINT)
    rc, out, err = check_config(case, "check-config-lint", p)
    case.expect(rc == 0, f"--check-config with lint warnings: exit {rc}, want 0\n{out}{err}")
    case.expect("warning" not in out, f"--check-config: warnings on stdout:\n{out}")
    checks = [
        ("stop word", pos_in(LINT, "[the, ", 1), None, [r"warning:", r"'the'", r"common English"]),
        ("2 letters", pos_in(LINT, "[ok, ", 1), None, [r"warning:", r"'ok'", r"shorter than 3"]),
        ("all and none", pos_in(LINT, "none: [urgent]", 7), pos_in(LINT, "urgent]"),
         [r"warning:", r"contradiction", r"'urgent'", r"never match"]),
        ("threshold", pos_in(LINT, "threshold: 5", len("threshold: ")),
         pos_in(LINT, "threshold: 5"), [r"warning:", r"unreachable", r"never match", r"\b5\b"]),
    ]
    for label, (line, col), alt, words in checks:
        expect_pos(case, f"lint {label}", err, "lint/lint.yaml", line, col, words, alt)
    warnings = [ln for ln in err.splitlines() if "warning:" in ln]
    case.expect(len(warnings) == len(checks),
                f"--check-config: {len(warnings)} warnings, want {len(checks)}:\n{err}")

    p = write(os.path.join(ldir, "bad-lang.yaml"), BAD_LANG)
    rc, out, err = check_config(case, "check-config-bad-lang", p)
    case.expect(rc == 1, f"--check-config with languages: [english]: exit {rc}, want 1\n{err}")
    # the item 'english' (preferred) or the list holding it
    expect_pos(case, "unknown language", out + err, "lint/bad-lang.yaml",
               *pos_in(BAD_LANG, "[english]", 1), [r"unknown language code 'english'"],
               alt=pos_in(BAD_LANG, "[english]"))
    expect_pos(case, "unknown brand", out + err, "lint/bad-lang.yaml",
               *pos_in(BAD_LANG, "acmee"), [r"unknown brand 'acmee'", r"did you mean 'acme'"])


def test(case):
    d, posts, by_label = part_end_to_end(case)
    case.note("part 1 (end to end) done")
    part_backtest(case, d, posts, by_label)
    part_explain_included(case, d)
    case.note("part 3 (backtest) done")
    part_watch(case)
    case.note("part 2 (watch_config) done")
    part_tools(case)
    case.note("part 4 (test-rules, explain) done")
    part_lints(case)
    case.note("part 5 (lints) done")


if __name__ == "__main__":
    H.main("rules", test)
