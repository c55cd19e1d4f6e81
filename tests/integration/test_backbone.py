#!/usr/bin/env python3
"""backbone: one Mastodon hashtag feed -> rules -> store -> webhook, end to end.

A loopback Mastodon instance serves #acme; a webhook receiver records deliveries.
Checks, against the real earshotd:
  * READY=1, STATUS=, WATCHDOG=1 (WATCHDOG_USEC set), plain stderr log format;
  * backfill: a complaint created 3 h ago (backfill 1h) is seen but not alerted, even
    though the first timeline request fails (HTTP 500) after the instance check of the
    same poll succeeded: the retry is still the feed's first poll;
  * matching: complaints (English prefix/phrase rule, Russian rule, HTML entities,
    hashtag markup, phrase across punctuation) alert; praise, noise without the
    brand, a word containing the brand, the rule's `none:` terms and the brand's
    `exclude:` terms do not;
  * each alert reaches the webhook exactly once with the documented body
    (id == Idempotency-Key, rules, severity, network, source, post.id = uri,
    author handle/followers, due_at = created_at + respond_within of rule, else
    source) and is the same row in `alerts`; outbox rows end `delivered`;
  * paging: a burst of 95 posts with limit 40 is walked forward by min_id in
    full pages (ids cross from 17 to 18 digits inside the burst, so a lexical id
    comparison would fail), every post served, each complaint alerted once;
  * earshotctl list / list --json;
  * the Russian rule is loaded from an `include:` glob (rules.d/*.yaml);
  * SIGTERM -> STOPPING=1, exit 0 in 5 s; restart on the same state dir resumes
    from the stored cursor, counts its open alerts in STATUS=, delivers nothing
    twice and alerts new posts (and the JOURNAL_STREAM log format is `<N>`
    prefixed); SIGTERM while a poll hangs still exits 0 within 5 s.
"""

import json
import re
import time

import harness as H

TAG_HTML = ('<a href="{base}/tags/acme" class="mention hashtag" rel="tag">'
            '#<span>acme</span></a>')
MENTION_HTML = ('<span class="h-card" translate="no"><a href="https://example.social/@acme" '
                'class="u-url mention">@<span>acme</span></a></span>')

RW_REFUNDS = 30 * 60        # rule refunds: respond_within 30m
RW_SOURCE = 2 * 3600        # source mastodon-acme: respond_within 2h (defaults say 1h)


def check_delivery(case, d, post, exp):
    """One webhook delivery against the status it was made from."""
    uri = post["uri"]
    j = d["json"]
    what = f"webhook body for {uri}"
    if not case.expect(j is not None, f"{what}: {d['error']}"):
        return
    case.expect(d["method"] == "POST", f"{what}: method {d['method']}")
    ctype = d["headers"].get("content-type", "")
    case.expect(ctype.split(";")[0].strip() == "application/json",
                f"{what}: Content-Type {ctype!r}")
    case.expect(d["key"] and d["key"] == j.get("id"),
                f"{what}: Idempotency-Key {d['key']!r} != body id {j.get('id')!r}")
    case.expect(j.get("schema") == "earshot.alert.v1", f"{what}: schema {j.get('schema')!r}")
    case.expect(j.get("event") == "new", f"{what}: event {j.get('event')!r}")
    case.expect(j.get("network") == "mastodon", f"{what}: network {j.get('network')!r}")
    case.expect(j.get("source") == "mastodon-acme", f"{what}: source {j.get('source')!r}")
    case.expect(j.get("brand") == "acme", f"{what}: brand {j.get('brand')!r}")
    case.expect(sorted(j.get("rules") or []) == sorted(exp["rules"]),
                f"{what}: rules {j.get('rules')!r}, want {exp['rules']}")
    if "severity" in exp:
        case.expect(j.get("severity") == exp["severity"],
                    f"{what}: severity {j.get('severity')!r}, want {exp['severity']!r}")
    p = j.get("post") or {}
    case.expect(p.get("id") == uri, f"{what}: post.id {p.get('id')!r}, want the status uri")
    case.expect(p.get("url") == post["url"], f"{what}: post.url {p.get('url')!r}")
    case.expect(p.get("lang") == post["language"], f"{what}: post.lang {p.get('lang')!r}")
    try:
        pc = H.parse_rfc3339(p.get("created_at"))
        case.expect(abs(pc - H.parse_rfc3339(post["created_at"])) < 0.002,
                    f"{what}: post.created_at {p.get('created_at')!r} != {post['created_at']}")
    except ValueError as e:
        case.expect(False, f"{what}: post.created_at: {e}")
    text = p.get("text") or ""
    case.expect(exp["text"] in text, f"{what}: post.text {text!r} lacks {exp['text']!r}")
    case.expect(not re.search(r"</?(p|a|span)\b|&amp;|&#39;|&quot;", text),
                f"{what}: post.text still has HTML: {text!r}")
    a = p.get("author") or {}
    acct = post["account"]["acct"]
    if "@" in acct:
        ok_handles = {acct}
    else:   # a local account: acct@host of the instance (with or without the port)
        host = exp["instance_host"]
        ok_handles = {f"{acct}@{host}", f"{acct}@{host.split(':')[0]}"}
    case.expect(a.get("handle") in ok_handles,
                f"{what}: post.author.handle {a.get('handle')!r}, want one of {ok_handles}")
    case.expect(a.get("name") == post["account"]["display_name"],
                f"{what}: post.author.name {a.get('name')!r}")
    case.expect(a.get("followers") == post["account"]["followers_count"],
                f"{what}: post.author.followers {a.get('followers')!r}")
    for k, sk in (("replies", "replies_count"), ("reposts", "reblogs_count"),
                  ("likes", "favourites_count")):
        case.expect(p.get(k) == post[sk], f"{what}: post.{k} {p.get(k)!r}, want {post[sk]}")
    if "respond_within" in exp:
        rw = exp["respond_within"]
        case.expect(j.get("respond_within") == rw,
                    f"{what}: respond_within {j.get('respond_within')!r}, want {rw}")
        try:
            due = H.parse_rfc3339(j.get("due_at"))
            want = H.parse_rfc3339(post["created_at"]) + rw
            case.expect(abs(due - want) < 1.0,
                        f"{what}: due_at {j.get('due_at')!r}, want created_at + {rw}s = "
                        f"{H.iso_ms(want)}")
        except ValueError as e:
            case.expect(False, f"{what}: due_at: {e}")
    try:
        det = H.parse_rfc3339(j.get("detected_at"))
        case.expect(det >= H.parse_rfc3339(post["created_at"]) - 1 and det <= time.time() + 1,
                    f"{what}: detected_at {j.get('detected_at')!r} out of range")
    except ValueError as e:
        case.expect(False, f"{what}: detected_at: {e}")


def check_row(case, row, post, exp, alert_id):
    what = f"alerts row for {post['uri']}"
    case.expect(row["id"] == alert_id, f"{what}: id {row['id']!r} != delivered id {alert_id!r}")
    case.expect(row.get("post_id") == post["uri"], f"{what}: post_id {row.get('post_id')!r}")
    case.expect(row.get("brand") == "acme", f"{what}: brand {row.get('brand')!r}")
    case.expect(row.get("network") == "mastodon", f"{what}: network {row.get('network')!r}")
    case.expect(row.get("source") == "mastodon-acme", f"{what}: source {row.get('source')!r}")
    case.expect(row.get("state") == "open", f"{what}: state {row.get('state')!r}")
    case.expect(row.get("url") == post["url"], f"{what}: url {row.get('url')!r}")
    case.expect(row.get("lang") == post["language"], f"{what}: lang {row.get('lang')!r}")
    case.expect(row.get("author_followers") == post["account"]["followers_count"],
                f"{what}: author_followers {row.get('author_followers')!r}")
    try:
        rules = json.loads(row.get("rules") or "null")
    except ValueError:
        rules = None
    case.expect(isinstance(rules, list) and sorted(rules) == sorted(exp["rules"]),
                f"{what}: rules {row.get('rules')!r}, want JSON array {exp['rules']}")
    if "severity" in exp:
        case.expect(row.get("severity") == exp["severity"], f"{what}: severity {row.get('severity')!r}")
    created_usec = round(H.parse_rfc3339(post["created_at"]) * 1000) * 1000
    case.expect(row.get("created_usec") == created_usec,
                f"{what}: created_usec {row.get('created_usec')!r}, want {created_usec}")
    if "respond_within" in exp:
        rw = exp["respond_within"] * 1_000_000
        case.expect(row.get("respond_within_usec") == rw,
                    f"{what}: respond_within_usec {row.get('respond_within_usec')!r}, want {rw}")
        case.expect(row.get("due_usec") == created_usec + rw,
                    f"{what}: due_usec {row.get('due_usec')!r}, want {created_usec + rw}")


def test(case):
    srv = case.server("mock")
    # Ids start 50 below 10**17: they grow from 17 to 18 digits inside the burst.
    masto = H.MastodonInstance(srv, first_id=10 ** 17 - 50)
    hook = H.WebhookReceiver(srv, "/hook")
    base = masto.url
    host = f"127.0.0.1:{srv.port}"

    posts = {}      # name -> status
    expected = {}   # status uri -> expectation (complaints that must alert)
    negatives = {}  # status uri -> name (must not alert)

    def add(label, text, exp=None, **kw):
        s = masto.add_status(text, **kw)
        posts[label] = s
        if exp:
            e = dict(exp)
            e.setdefault("instance_host", host)
            expected[s["uri"]] = (label, s, e)
        else:
            negatives[s["uri"]] = label
        return s

    refunds = {"rules": ["refunds"], "severity": "high", "respond_within": RW_REFUNDS}
    ru = {"rules": ["ru-complaints"], "severity": "critical", "respond_within": RW_SOURCE}

    # Before the first poll: one complaint older than backfill, one fresh.
    add("old-complaint", f"<p>{MENTION_HTML} I want a refund, waited all day</p>", age=3 * 3600)
    add("old-noise", "<p>nice weather today</p>", age=2 * 3600, acct="dave")
    add("fresh", f"<p>{MENTION_HTML} I want a refund &amp; my money back</p>",
        dict(refunds, text="I want a refund & my money back"), age=120,
        acct="erin@social.example", name="Erin E.", followers=4321, replies=2, reblogs=3,
        likes=5)

    cfg = H.make_config(
        sources=[H.mastodon_source("mastodon-acme", base, interval="1s", respond_within="2h",
                                   backfill="1h", limit=40, max_pages=10)],
        notifiers=[H.webhook_notifier("hook", hook.url), {"name": "console", "type": "log"}],
        rules=[H.REFUND_RULE],
        include=["rules.d/*.yaml"],
        defaults={"respond_within": "1h", "backfill": "1h", "interval": "60s"},
        http={"timeout": "10s", "connect_timeout": "5s"})
    # The Russian rule comes from an included file (glob relative to the main file).
    d = case.daemon(cfg, files={"rules.d/ru.yaml": {"rules": [H.RU_RULE]}})
    # The instance check succeeds, then the first timeline request of that poll fails.
    srv.add_faults(masto.timeline_path(), [{"name": "first-500", "status": 500,
                                            "body": b"oops",
                                            "headers": {"Content-Type": "text/plain"}}])
    d.start(watchdog_usec=2_000_000)
    case.note("READY")

    d.notify.wait_for("WATCHDOG=1", 5, since=d.start_mark, proc=d.proc)
    status = H.wait_until(lambda: d.notify.last_value("STATUS", d.start_mark), 10, "STATUS=")
    case.note(f"STATUS={status}")
    case.expect(re.search(r"\b1 source\b", status), f"STATUS lacks '1 source': {status!r}")
    case.expect(re.search(r"\b2 rules\b", status), f"STATUS lacks '2 rules': {status!r}")
    case.expect(re.search(r"\b2 notifiers\b", status), f"STATUS lacks '2 notifiers': {status!r}")

    hook.wait_posts([posts["fresh"]["uri"]])
    first = masto.timeline_requests()[0]
    case.expect("min_id" not in first["query"] and "since_id" not in first["query"],
                f"first poll of a new feed must not pass a cursor: {first['raw_path']}")
    case.expect(first["query"].get("limit") == "40", f"first poll without limit=40: {first['raw_path']}")

    # Stage 1
    add("hashtag", f"<p>Still waiting on my {TAG_HTML.format(base=base)} refund. Two weeks!</p>",
        dict(refunds, text="refund. Two weeks!"), acct="bob@mastodon.example", followers=1234)
    add("praise", "<p>love acme, best service ever</p>")
    add("no-brand", "<p>I want a refund from my landlord</p>")
    add("money-back", "<p>money-back guarantee from acme? lol</p>",
        dict(refunds, text="guarantee from acme?"))
    hook.wait_posts([posts["money-back"]["uri"], posts["hashtag"]["uri"]])

    # Stage 2, posted over a few polls.
    stage2 = [
        ("job-ad", "<p>acme is hiring! Join our refund processing team</p>", None, {}),
        ("acmejobs", "<p>Follow acmejobs for acme refund desk openings</p>", None, {}),
        ("substring", "<p>acmeville refund policy is great</p>", None, {}),
        ("cyrillic", "<p>ACME, ВЕРНИТЕ ДЕНЬГИ!</p>", dict(ru, text="ВЕРНИТЕ ДЕНЬГИ"),
         dict(lang="ru", acct="ivan@mastodon.ru", name="Иван")),
        ("giveaway", "<p>acme refund giveaway!!! RT to win</p>", None, {}),
        ("entities", "<p>acme&#39;s &quot;support&quot; won&#39;t give my money back &amp; "
                     "I&#39;m done</p>", dict(refunds, text="won't give my money back & I'm done"),
         {}),
        ("local", "<p>Acme Corp never refunded me.</p>", dict(refunds, text="never refunded me"),
         dict(acct="carol", followers=7)),
        ("both", "<p>acme: refund now! ужасный сервис</p>",
         {"rules": ["refunds", "ru-complaints"], "text": "refund now!"}, {}),
        ("sentinel-2", "<p>#acme where is my refund</p>", dict(refunds, text="where is my refund"),
         {}),
    ]
    for i, (name, text, exp, kw) in enumerate(stage2):
        add(name, text, exp, **kw)
        if i % 3 == 2:
            H.wait_until(lambda: len(masto.served_ids()) and posts[name]["id"] in masto.served_ids(),
                         20, f"a poll that serves {name}")
    hook.wait_posts([uri for uri in expected])
    case.note(f"{len(expected)} complaints alerted before the burst")

    # Burst of 95 at once; limit 40 -> full pages fetched at once by min_id.
    burst_mark = srv.mark()
    specs, burst_complaints = [], []
    for i in range(95):
        if i in (0, 17, 34, 39, 40, 58, 79, 80, 94):
            specs.append(dict(text=f"<p>acme refund please, order #{i}</p>", acct=f"u{i}@burst.example"))
            burst_complaints.append(i)
        else:
            specs.append(dict(text=f"<p>{['love acme', 'acme is great', 'hello world'][i % 3]} #{i}</p>",
                              acct=f"u{i}@burst.example"))
    burst = masto.add_statuses(specs)
    case.expect(len(burst[0]["id"]) == 17 and len(burst[-1]["id"]) == 18,
                "test bug: burst ids should cross from 17 to 18 digits")
    for i, s in enumerate(burst):
        if i in burst_complaints:
            expected[s["uri"]] = (f"burst-{i}", s, dict(refunds, text=f"order #{i}",
                                                           instance_host=host))
        else:
            negatives[s["uri"]] = f"burst-{i}"
    burst_ids = {s["id"] for s in burst}
    hook.wait_posts([burst[i]["uri"] for i in burst_complaints])
    H.wait_until(lambda: burst_ids <= masto.served_ids(since=burst_mark), 20,
                 "every burst status served")
    reqs = [r for r in masto.timeline_requests(since=burst_mark) if r.get("served_ids")]
    newest_before = max((s["id"] for s in masto.statuses() if s["id"] not in burst_ids),
                        key=H.id_key)
    case.expect(reqs and reqs[0]["query"].get("min_id") == newest_before,
                f"burst: first page asked min_id={reqs[0]['query'].get('min_id') if reqs else None}, "
                f"want the newest id seen before ({newest_before})")
    for a, b in zip(reqs, reqs[1:]):
        if len(a["served_ids"]) == 40:
            case.expect(b["query"].get("min_id") == a["served_ids"][0],
                        f"paging: after a full page ending at {a['served_ids'][0]} the next request "
                        f"was {b['raw_path']}")
    case.expect(all(r["query"].get("limit") == "40" for r in masto.timeline_requests()),
                "every timeline request passes limit=40")
    case.note(f"burst served in {len(reqs)} pages")

    # Negatives: all processed (a later complaint was alerted). Check the store.
    H.wait_until(lambda: set(expected) <= set(d.alerts_by_post()), 20, "alerts rows")
    # Let outbox drain.
    H.wait_until(lambda: d.db_try("SELECT * FROM outbox") and
                 all(r["state"] == "delivered" for r in d.db_try("SELECT * FROM outbox")),
                 20, "all outbox rows delivered")

    by_post = hook.by_post(ok_only=False)
    for uri, (name, s, exp) in expected.items():
        ds = by_post.get(uri, [])
        case.expect(len(ds) == 1, f"{name}: {len(ds)} webhook deliveries, want exactly 1")
        if ds:
            check_delivery(case, ds[0], s, exp)
    for uri, name in negatives.items():
        case.expect(uri not in by_post, f"{name}: must not alert but reached the webhook")
    extra = set(by_post) - set(expected) - set(negatives)
    case.expect(not extra, f"webhook deliveries for unknown posts: {extra}")

    rows = d.alerts_by_post()
    for uri, (name, s, exp) in expected.items():
        rs = rows.get(uri, [])
        case.expect(len(rs) == 1, f"{name}: {len(rs)} alerts rows, want 1")
        if rs and by_post.get(uri):
            check_row(case, rs[0], s, exp, by_post[uri][0]["key"])
    for uri, name in negatives.items():
        case.expect(uri not in rows, f"{name}: must not alert but has an alerts row")

    outbox = d.db("SELECT * FROM outbox")
    alert_ids = {r["id"] for rs in rows.values() for r in rs}
    for nt in ("hook", "console"):
        got = {r["alert_id"] for r in outbox if r["notifier"] == nt}
        case.expect(got == alert_ids, f"outbox rows for notifier {nt}: {len(got)} alerts, "
                                      f"want one per alert ({len(alert_ids)})")
    case.expect(len(outbox) == 2 * len(alert_ids), f"{len(outbox)} outbox rows, want "
                                                   f"{2 * len(alert_ids)} (2 notifiers)")
    feeds = d.db_try("SELECT * FROM feeds")
    newest = max((s["id"] for s in masto.statuses()), key=H.id_key)
    def cursor_min(c):
        """The timeline position in a Mastodon cursor: a bare id, or the min= field of
        "min=ID;checked=T" (the plugin also remembers its instance check there)."""
        if not c:
            return None
        for part in c.split(";"):
            if part.startswith("min="):
                return part[4:]
        return c if "=" not in c else None

    case.expect(any(cursor_min(f.get("cursor")) == newest for f in feeds),
                f"feeds.cursor should be the newest id {newest}: {feeds}")

    # earshotctl, while the daemon runs
    rc, out, err = d.ctl("list")
    case.expect(rc == 0, f"earshotctl list exited {rc}: {err}")
    for aid in alert_ids:
        case.expect(aid[:8] in out, f"earshotctl list does not show alert {aid}")
    rc, out, err = d.ctl("list", "--json")
    case.expect(rc == 0, f"earshotctl list --json exited {rc}: {err}")
    try:
        arr = json.loads(out)
        case.expect(isinstance(arr, list), "earshotctl list --json: not an array")
        case.expect({a.get("id") for a in arr} == alert_ids,
                    f"earshotctl list --json ids differ from the store: {len(arr)} vs {len(alert_ids)}")
        for a in arr:
            case.expect(a.get("post_id") in expected and a.get("brand") == "acme",
                        f"earshotctl list --json item looks wrong: {str(a)[:200]}")
    except ValueError as e:
        case.expect(False, f"earshotctl list --json does not parse: {e}: {out[:200]!r}")

    log1 = d.log_text()
    case.expect(re.search(r"(?m)^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} "
                          r"(debug|info|notice|warning|err|error): ", log1),
                "no stderr line looks like 'YYYY-MM-DD HH:MM:SS.mmm LEVEL: ...'")

    # Stop, post while down, restart on the same store.
    last_cursor = newest
    d.stop()
    add("while-down", "<p>acme, refund me. Posted while you were down.</p>",
        dict(refunds, text="Posted while you were down."))
    add("while-down-noise", "<p>acme rocks</p>")
    mark = srv.mark()
    d.start(journal=True)
    case.note("restarted")
    n_alerts = len(d.alerts())
    st = H.wait_until(lambda: d.notify.last_value("STATUS", d.start_mark), 10, "STATUS=")
    case.expect(re.search(rf"\b{n_alerts} open alerts?\b", st),
                f"STATUS after restart should count {n_alerts} open alerts: {st!r}")
    hook.wait_posts([posts["while-down"]["uri"]])
    first = masto.timeline_requests(since=mark)[0]
    case.expect(first["query"].get("min_id") == last_cursor,
                f"after restart the first poll should resume at min_id={last_cursor}: "
                f"{first['raw_path']}")
    add("after-restart", "<p>acme, I need my money back</p>", dict(refunds, text="money back"))
    hook.wait_posts([posts["after-restart"]["uri"]])
    # SIGTERM while a poll hangs (http.timeout is 10s): still exit 0 within 5 s.
    mark = srv.mark()
    srv.add_faults(masto.timeline_path(), [{"name": "hang", "hang": True}])
    H.wait_until(lambda: any((r.get("fault") or {}).get("hang")
                             for r in masto.timeline_requests(since=mark)), 10, "a hanging poll")
    d.stop()

    keys = hook.ok_ids()
    dups = {k for k in keys if keys.count(k) > 1}
    case.expect(not dups, f"alerts delivered more than once: {sorted(dups)[:5]}")
    by_post = hook.by_post(ok_only=False)
    for uri, (name, s, exp) in expected.items():
        ds = by_post.get(uri, [])
        case.expect(len(ds) == 1, f"{name}: {len(ds)} webhook requests in total, want 1")
    for uri, name in negatives.items():
        case.expect(uri not in by_post, f"{name}: must not alert")
    rows = d.alerts_by_post()
    case.expect(set(rows) == set(expected),
                f"alerts rows after restart: extra {set(rows) - set(expected)}, "
                f"missing {set(expected) - set(rows)}")
    jlog = d.log_text()
    lines = [ln for ln in jlog.splitlines() if ln.strip()]
    bad = [ln for ln in lines if not re.match(r"^<[0-7]>", ln)]
    case.expect(lines and not bad,
                f"with JOURNAL_STREAM set, log lines should start with <N>: {bad[:3]}")


if __name__ == "__main__":
    H.main("backbone", test)
