#!/usr/bin/env python3
"""sources: every non-Mastodon source plugin end to end in one real earshotd.

One earshotd, six sources (rss, hackernews, lemmy, discourse, stackexchange, appstore), all
pointed at one loopback MockServer that answers each plugin's request with a recorded
fixture from tests/fixtures/<plugin>/ (one normal page each; follow-up pages are empty).
defaults.backfill is 3650d so the old fixture posts are not skipped as backfill, and the
rules match at least one post of every fixture.  Checks: the webhook receives at least one
alert per network, every alert body is JSON with a non-empty post.text, and the daemon logs
no warning or error lines.
"""

import os
import time

import harness as H

FIX = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures")
NETWORKS = ["rss", "hackernews", "lemmy", "discourse", "stackexchange", "appstore"]
APP_ID = "1234567890"


def fixture(rel):
    with open(os.path.join(FIX, rel), "rb") as f:
        return f.read()


def serve(body, content_type="application/json"):
    return lambda entry: H.Response(200, body, content_type=content_type)


def test(case):
    hook = H.WebhookReceiver(case.server("hook"), "/hook")
    srv = case.server("sources")

    # rss: a Mastodon tag feed (2026 items), max_age 0 below
    srv.route("/feed.rss", serve(fixture("rss/written/mastodon-tag.rss"),
                                 "application/rss+xml; charset=utf-8"))
    # hackernews: Algolia search_by_date, the current response shape (2026 hits)
    srv.route("/api/v1/search_by_date", serve(fixture("hackernews/by-date-2026-shape.json")))
    # lemmy: /api/v3/search?type_=Posts
    srv.route("/api/v3/search", serve(fixture("lemmy/search-posts.json")))
    # discourse: /posts.json (latest); a backwards walk (?before=) finds nothing more
    latest = fixture("discourse/posts-latest.json")

    def discourse(entry):
        if "before" in entry["query"]:
            return H.Response(200, {"latest_posts": []})
        return H.Response(200, latest)
    srv.route("/posts.json", discourse)
    # stackexchange: /2.3/search/advanced; the first poll (order=desc) gets the recorded
    # page, later polls (fromdate=, order=asc) find nothing new, as the real API would
    se_first = fixture("stackexchange/search-first.json")

    def stackexchange(entry):
        if "fromdate" in entry["query"]:
            return H.Response(200, {"items": [], "has_more": False, "quota_max": 10000,
                                    "quota_remaining": 9990})
        return H.Response(200, se_first)
    srv.route("/2.3/search/advanced", stackexchange)
    # appstore: /us/rss/customerreviews/page=N/id=APP/sortby=mostrecent/json
    pages = {"1": fixture("appstore/page1-full.json"), "2": fixture("appstore/page2-short.json")}
    empty = fixture("appstore/empty.json")

    def appstore(entry):
        rest = entry["path"][len("/us/rss/customerreviews/page="):]
        return H.Response(200, pages.get(rest.split("/", 1)[0], empty))
    srv.route("/us/rss/customerreviews/page=", appstore)

    base = srv.url
    sources = [
        {"name": "rss", "type": "rss", "interval": "1s", "urls": [base + "/feed.rss"],
         "max_age": "0"},
        {"name": "hn", "type": "hackernews", "interval": "1s", "queries": ["acme"],
         "base_url": base},
        {"name": "lemmy", "type": "lemmy", "interval": "1s", "instances": [base],
         "queries": ["acme"], "search_type": "posts"},
        {"name": "discourse", "type": "discourse", "interval": "1s", "forums": [base]},
        {"name": "se", "type": "stackexchange", "interval": "1s", "sites": ["stackoverflow"],
         "queries": ["acme"], "base_url": base},
        {"name": "appstore", "type": "appstore", "interval": "1s", "apps": [APP_ID],
         "countries": ["us"], "base_url": base},
    ]
    brands = [H.ACME_BRAND,
              {"name": "forum", "terms": ["bullhonky", "hi there"]}]
    rules = [{"name": "mentions", "brand": ["acme", "forum"],
              "any": ["acme*", "bullhonky", "hi there"], "severity": "normal"}]
    cfg = H.make_config(sources=sources,
                        notifiers=[H.webhook_notifier("hook", hook.url)],
                        brands=brands, rules=rules,
                        defaults={"respond_within": "1h", "backfill": "3650d",
                                  "interval": "60s", "silent_after": "0"})
    d = case.daemon(cfg)
    d.start()
    t0 = time.monotonic()

    def alive():
        H.check(d.alive(), f"earshotd exited with status {d.proc.returncode}")

    def networks():
        return {((x["json"] or {}).get("network")) for x in hook.ok()}

    def all_seen():
        alive()
        return set(NETWORKS) <= networks()

    try:
        H.wait_until(all_seen, 20, "an alert from every network")
    except Exception:   # noqa: BLE001 - report which networks are missing, go on
        pass
    got = networks()
    case.note(f"alerts after {time.monotonic() - t0:.1f}s: {len(hook.all())} deliveries, "
              f"networks {sorted(n for n in got if n)}")
    for n in NETWORKS:
        by = [x for x in hook.ok() if (x["json"] or {}).get("network") == n]
        case.expect(by, f"no alert from network {n!r}")
    for x in hook.all():
        case.expect(x["error"] is None, f"webhook body not JSON: {x['error']}: {x['raw'][:200]!r}")
        post = (x["json"] or {}).get("post") or {}
        case.expect(isinstance(post.get("text"), str) and post["text"].strip(),
                    f"alert without post.text: {str(x['json'])[:300]}")
    alive()
    d.stop()
    problems = [ln for ln in d.all_logs().splitlines() if H.is_problem_line(ln)]
    case.expect(not problems, f"{len(problems)} warning/error lines in the daemon log, e.g. "
                              f"{problems[:5]}")


if __name__ == "__main__":
    H.main("sources", test)
