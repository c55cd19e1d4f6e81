#!/usr/bin/env python3
"""source_paging: a burst of new posts is walked back to the cursor in one poll.

One earshotd, four sources, each on its own loopback mock of the real API (api_mocks.py):
hackernews (Algolia, hits_per_page 5, overlap 0s), lemmy (search, limit 4), discourse
(/posts.json, 50 a page as Discourse sends) and stackexchange (search/advanced, 100 a page,
overlap 0s).  Every mock holds a history older than backfill (1h) that is longer than one
page and made of complaints only: the first poll takes the newest page without alerting
(backfill), and whatever lies beyond it must never be emitted, so a walk that ran past its
cursor would alert on it.  Once every feed has a cursor, each mock publishes, atomically, a
burst of new posts (complaints and non-complaints) longer than two pages.  Checks, per source:

  * the burst is served within ONE poll, by exactly as many requests as the API needs to
    reach the cursor (HN: pages 0..2 of a pinned created_at_i window; Lemmy: page 1..3 with
    the cursor on page 3; Discourse: /posts.json and two ?before= steps; Stack Exchange:
    order=asc pages 1..3 from fromdate=cursor until has_more is false), and every burst post
    is in exactly one of those answers (no page skipped, none asked twice);
  * no burst post was served before that poll, and every later poll is a single request
    (no walk); HN and Stack Exchange later ask from the newest burst second on;
  * every complaint of the burst reaches the webhook exactly once and has exactly one row
    in the store's alerts table; nothing else of that source alerts (no history, no
    non-complaint);
  * the daemon logs no warning (no coverage gap) and exits 0 on SIGTERM.

A fifth source, secap (Stack Exchange with max_pages 2 and the default overlap of 2m), gets
a burst of 300 questions posted within 75 s: its first walk stops after two pages, and
stackexchange.c promises that "the rest follows on the next poll" (a walk cut short loses
nothing, the next poll resumes from the cursor).  Checked: every complaint of that burst
alerts exactly once, and no warning.
"""

import re
import time

import api_mocks as M
import harness as H

MARK = re.compile(r"\bmk-(\w+)-(h|b)(\d+)\b")
SOURCES = ["hn", "lemmy", "discourse", "se", "secap"]
WALKED = ["hn", "lemmy", "discourse", "se"]   # whose burst poll is checked request by request
# requests of the burst poll, as the API's paging dictates (see build_* below)
EXPECTED_PAGES = {"hn": 3, "lemmy": 3, "discourse": 3, "se": 3}


def complaint(i):
    return i % 3 != 2


def text_for(src, kind, i):
    mk = f"mk-{src}-{kind}{i:03d}"
    if kind == "h" or complaint(i):
        return f"Acme refund please, this is the third time I ask ({mk})"
    return f"Acme works fine for me today ({mk})"


class Network:
    """One source: its mock, its history and burst, the ids the mock knows them by."""

    def __init__(self, name, mock, id_of):
        self.name = name
        self.mock = mock
        self.id_of = id_of          # item -> id the mock logs in "served"
        self.burst = []             # items
        self.burst_ids = set()
        self.complaints = set()     # markers of burst complaints
        self.newest_second = None   # creation second of the newest burst item


def build_hn(srv, now):
    algolia = M.Algolia(srv)
    net = Network("hn", algolia, lambda h: h["objectID"])
    # 12 old complaints, 3 h old: the first poll takes the newest 5
    algolia.add([M.Algolia.comment(40000100 + i, now - 3 * 3600 + 60 * i,
                                   f"<p>{text_for('hn', 'h', i)}</p>") for i in range(12)])
    # burst: 13 new hits at distinct seconds; with the newest old hit (at the cursor's
    # second, asked again by created_at_i>=) that is 14 hits: pages of 5, 5 and 4
    net.burst = [M.Algolia.comment(40000200 + i, now - 100 + 5 * i,
                                   f"<p>{text_for('hn', 'b', i)}</p>", author=f"u{i}")
                 for i in range(13)]
    net.newest_second = int(now - 100 + 5 * 12)
    return net


def build_lemmy(srv, now):
    lemmy = M.Lemmy(srv)
    net = Network("lemmy", lemmy, lambda p: p["post"]["id"])
    lemmy.add([lemmy.post(now - 3 * 3600 + 60 * i, "Acme refunds?", text_for("lemmy", "h", i))
               for i in range(10)])
    # 11 new posts, limit 4: pages 1 and 2 are all new, page 3 holds 3 new ones and the cursor
    net.burst = [lemmy.post(now - 100 + 5 * i, "About Acme", text_for("lemmy", "b", i),
                            user=f"user{i}") for i in range(11)]
    return net


def build_discourse(srv, now):
    forum = M.Discourse(srv)
    net = Network("discourse", forum, lambda p: p["id"])
    forum.add([forum.post(now - 3 * 3600 + 10 * i, f"<p>{text_for('discourse', 'h', i)}</p>")
               for i in range(60)])
    # 110 new posts, 50 a page: ids 620-669, 570-619 (before=620), 520-569 (before=570,
    # holding the cursor 559)
    net.burst = [forum.post(now - 200 + i, f"<p>{text_for('discourse', 'b', i)}</p>",
                            username=f"user{i}") for i in range(110)]
    return net


def build_se(srv, now):
    se = M.StackExchange(srv)
    net = Network("se", se, lambda q: q["question_id"])
    se.add([se.question(now - 3 * 3600 + 10 * i, "Acme SDK refund?",
                        f"<p>{text_for('se', 'h', i)}</p>") for i in range(130)])
    # 230 new questions, 100 a page, from fromdate=cursor (the newest old question
    # included): 100 + 100 + 31
    net.burst = [se.question(now - 240 + i, "Acme SDK question",
                             f"<p>{text_for('se', 'b', i)}</p>") for i in range(230)]
    net.newest_second = int(now - 240 + 229)
    return net


def build_secap(srv, now):
    se = M.StackExchange(srv, first_id=79800000)
    net = Network("secap", se, lambda q: q["question_id"])
    se.add([se.question(now - 3 * 3600 + 10 * i, "Acme SDK refund?",
                        f"<p>{text_for('secap', 'h', i)}</p>") for i in range(5)])
    # 300 new questions within 75 s; max_pages 2 reads 200 of them in the first walk
    net.burst = [se.question(now - 100 + i / 4, "Acme SDK question",
                             f"<p>{text_for('secap', 'b', i)}</p>") for i in range(300)]
    return net


def test(case):
    hook = H.WebhookReceiver(case.server("hook"), "/hook")
    now = time.time()
    nets = {
        "hn": build_hn(case.server("hn"), now),
        "lemmy": build_lemmy(case.server("lemmy"), now),
        "discourse": build_discourse(case.server("discourse"), now),
        "se": build_se(case.server("se"), now),
        "secap": build_secap(case.server("secap"), now),
    }
    for net in nets.values():
        net.burst_ids = {net.id_of(x) for x in net.burst}
        for x in net.burst:
            m = MARK.search(repr(x))
            if complaint(int(m.group(3))):
                net.complaints.add(m.group(0))

    cfg = H.make_config(
        sources=[
            {"name": "hn", "type": "hackernews", "interval": "1s", "queries": ["acme"],
             "hits_per_page": 5, "max_pages": 10, "overlap": "0s",
             "base_url": nets["hn"].mock.url},
            {"name": "lemmy", "type": "lemmy", "interval": "1s",
             "instances": [nets["lemmy"].mock.url], "queries": ["acme"],
             "search_type": "posts", "limit": 4, "max_pages": 10},
            {"name": "discourse", "type": "discourse", "interval": "1s",
             "forums": [nets["discourse"].mock.url], "max_pages": 5},
            {"name": "se", "type": "stackexchange", "interval": "1s",
             "sites": ["stackoverflow"], "queries": ["acme"], "overlap": "0s",
             "max_pages": 5, "base_url": nets["se"].mock.url},
            {"name": "secap", "type": "stackexchange", "interval": "1s",
             "sites": ["stackoverflow"], "queries": ["acme"], "max_pages": 2,
             "base_url": nets["secap"].mock.url},
        ],
        notifiers=[H.webhook_notifier("hook", hook.url)])
    d = case.daemon(cfg)
    d.start()

    def alive():
        H.check(d.alive(), f"earshotd exited with status {d.proc.returncode}")

    def cursors():
        alive()
        rows = d.db_try("SELECT source, cursor FROM feeds WHERE cursor IS NOT NULL")
        have = {r["source"] for r in rows}
        return rows if set(SOURCES) <= have else None

    rows = H.wait_until(cursors, 20, "a cursor for every feed (first polls)")
    case.note("cursors after the first polls: "
              + ", ".join(f"{r['source']}={r['cursor']}" for r in rows))
    case.expect(not hook.all(), f"the first polls (history older than backfill) alerted: "
                                f"{[x['json']['post']['text'] for x in hook.all()][:3]}")

    marks = {}
    for name, net in nets.items():
        marks[name] = net.mock.server.mark()
        net.mock.add(net.burst)
    t_burst = time.monotonic()
    case.note("bursts published: " + ", ".join(f"{n} {len(net.burst)} posts "
                                               f"({len(net.complaints)} complaints)"
                                               for n, net in nets.items()))

    all_complaints = set().union(*(net.complaints for net in nets.values()))

    def delivered_marks():
        alive()
        got = set()
        for x in hook.ok():
            m = MARK.search(((x["json"] or {}).get("post") or {}).get("text") or "")
            if m:
                got.add(m.group(0))
        return got

    try:
        H.wait_until(lambda: all_complaints <= delivered_marks(), 25,
                     "webhook deliveries for every burst complaint")
    except AssertionError as e:
        case.expect(False, f"{e}: missing {sorted(all_complaints - delivered_marks())[:8]}")
    case.note(f"burst complaints delivered {time.monotonic() - t_burst:.1f}s after the burst")

    # three more polls of every feed after the one that took the burst
    def later_polls():
        alive()
        for name in WALKED:
            net = nets[name]
            ps = M.polls(net.mock.server.log(since=marks[name]))
            first = next((i for i, p in enumerate(ps)
                          if any(set(r.get("served", [])) & net.burst_ids for r in p)), None)
            if first is None or len(ps) - first - 1 < 3:
                return False
        return True
    try:
        H.wait_until(later_polls, 20, "three polls of every feed after its burst poll")
    except AssertionError as e:
        case.expect(False, str(e))
    alive()
    d.stop()

    # ---- per source: the walk -------------------------------------------------------------
    for name in WALKED:
        net = nets[name]
        srv = net.mock.server
        before = M.polls(srv.log()[:marks[name]])
        early = [x for p in before for r in p for x in r.get("served", [])
                 if x in net.burst_ids]
        H.check(not early, f"test bug: {name} served burst posts before they were published")
        ps = M.polls(srv.log(since=marks[name]))
        idx = next((i for i, p in enumerate(ps)
                    if any(set(r.get("served", [])) & net.burst_ids for r in p)), None)
        if not case.expect(idx is not None, f"{name}: no burst post was ever served"):
            continue
        walk = ps[idx]
        counts = {}
        for r in walk:
            for x in r.get("served", []):
                counts[x] = counts.get(x, 0) + 1
        missing = sorted(net.burst_ids - set(counts))
        twice = sorted(x for x in net.burst_ids if counts.get(x, 0) > 1)
        desc = " | ".join(r["raw_path"] for r in walk)
        case.note(f"{name}: burst poll of {len(walk)} requests: {desc}")
        case.expect(len(walk) == EXPECTED_PAGES[name],
                    f"{name}: the burst poll made {len(walk)} requests, the API needs "
                    f"{EXPECTED_PAGES[name]} to reach the cursor: {desc}")
        case.expect(not missing, f"{name}: {len(missing)} burst posts were not served in the "
                                 f"poll that walked the burst (e.g. {missing[:5]}): {desc}")
        case.expect(not twice, f"{name}: burst posts served more than once in one walk "
                               f"(e.g. {twice[:5]}): {desc}")
        later_served = [x for p in ps[idx + 1:] for r in p for x in r.get("served", [])
                        if x in net.burst_ids and x not in counts]
        case.expect(not later_served, f"{name}: burst posts first served after the burst "
                                      f"poll: {later_served[:5]}")
        for p in ps[idx + 1:]:
            case.expect(len(p) == 1, f"{name}: a poll after the burst walked {len(p)} "
                                     f"requests: {' | '.join(r['raw_path'] for r in p)}")
        if name == "hn":
            for p in ps[idx + 1:]:
                lo = [v for a, op, v in p[0].get("numeric", [])
                      if a == "created_at_i" and op in (">=", ">")]
                case.expect(lo and lo[0] >= net.newest_second,
                            f"hn: a poll after the burst asked {p[0]['raw_path']} (want "
                            f"created_at_i>={net.newest_second}, the newest burst second)")
        if name == "se":
            for p in ps[idx + 1:]:
                fd = p[0]["query"].get("fromdate")
                case.expect(fd is not None and int(fd) >= net.newest_second,
                            f"se: a poll after the burst asked fromdate={fd} (want "
                            f"{net.newest_second}, the newest burst question; overlap 0s)")

    # ---- alerts: webhook and store ---------------------------------------------------------
    by_mark = {}
    for x in hook.all():
        case.expect(x["error"] is None, f"webhook body: {x['error']}")
        m = MARK.search(((x["json"] or {}).get("post") or {}).get("text") or "")
        by_mark.setdefault(m.group(0) if m else None, []).append(x)
    rows = d.alerts()
    rows_by_mark = {}
    for r in rows:
        m = MARK.search(r.get("text") or "")
        rows_by_mark.setdefault(m.group(0) if m else None, []).append(r)
    for name, net in nets.items():
        got = {k for k in by_mark if k and k.startswith(f"mk-{name}-")}
        extra = sorted(got - net.complaints)
        case.expect(not extra, f"{name}: alerts for posts that must not alert (history older "
                               f"than the cursor, or no complaint): {extra[:6]}")
        hooked = {mk: len(by_mark.get(mk, [])) for mk in sorted(net.complaints)}
        stored = {mk: len(rows_by_mark.get(mk, [])) for mk in sorted(net.complaints)}
        for what, n_of in (("webhook deliveries", hooked), ("rows in the alerts table", stored)):
            off = {mk: n for mk, n in n_of.items() if n != 1}
            case.expect(not off, f"{name}: {len(off)} of {len(n_of)} burst complaints do not "
                                 f"have exactly one of their {what}: "
                                 f"{dict(list(off.items())[:6])}")
        srows = [r for r in rows if r.get("source") == name]
        case.expect(len(srows) == len(net.complaints),
                    f"{name}: {len(srows)} alerts in the store, want {len(net.complaints)}")
        case.note(f"{name}: {len(net.burst)} new posts, {len(net.complaints)} complaints, "
                  f"{len(got)} alerted")
    case.expect(None not in by_mark, f"webhook deliveries without a marker: "
                                     f"{[x['raw'][:200] for x in by_mark.get(None, [])][:2]}")

    problems = [ln for ln in d.all_logs().splitlines() if H.is_problem_line(ln)]
    case.expect(not problems, f"{len(problems)} warning/error lines in the daemon log, e.g. "
                              f"{problems[:4]}")


if __name__ == "__main__":
    H.main("source_paging", test)
