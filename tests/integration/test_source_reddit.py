#!/usr/bin/env python3
"""source_reddit: the reddit source end to end in the real earshotd, against a loopback
Reddit: a token endpoint (POST /api/v1/access_token, HTTP Basic client_id:client_secret, the
password grant) and the OAuth listings (/r/SUB/new, /r/SUB/comments with a bearer token,
newest first, limit/after paging, X-Ratelimit-* headers with a float Remaining), plus a
second server with the Atom listing (/r/SUB/new/.rss) for a source without credentials.

One earshotd, interval 1s, two sources:

  reddit-oauth  r/acme (posts and comments), script app; client_secret from the environment
                (${REDDIT_SECRET}), password from a file (password_file).
  reddit-rss    r/acme without credentials (posts only): the Atom listing.

Checks, in order:
  1. complaints alert: a submission and a comment over OAuth, an Atom entry without it; the
     listings carried the configured User-Agent and "bearer TOKEN"; exactly one token
     request so far (both feeds share the token).
  2. a restart reuses the kept token: a new complaint alerts, still one token request.
  3. the token stops working (the server forgets it): the listing answers 401, the daemon
     logs in again (two token requests in total) and the next complaint alerts.
  4. the first complaint is deleted at the source (the listing shows it as "[deleted]"): the
     webhook gets an event "deleted" for its alert, and `earshotctl show ID` no longer holds
     its text.
  5. the app is revoked (the token endpoint answers 401): exactly one operator alert (rule
     source-blocked) for reddit-oauth, naming client_id; no loop of logins.
  6. the Atom listing answers 403 "Blocked": exactly one operator alert for reddit-rss that
     says to set client_id and client_secret.
  7. no secret (client secret, password, any token) in the daemon's logs.
"""

import base64
import html
import os
import threading
import time
import urllib.parse

import harness as H

CLIENT_ID = "AbCdEf123456"
SECRET = "cl1ent-Secret-xyz"
USERNAME = "acme_support"
PASSWORD = "pa55-Word-abc"
UA = "linux:com.example.earshot:0.3 (by /u/acme_support)"


def b36(n):
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    s = ""
    while True:
        n, r = divmod(n, 36)
        s = digits[r] + s
        if n == 0:
            return s


class RedditAPI:
    """The token endpoint and the OAuth listings of one subreddit, "acme"."""

    def __init__(self, server):
        self.server = server
        self.url = server.url
        self.lock = threading.RLock()
        self.tokens = set()        # tokens the listings accept
        self.issued = []           # every token handed out
        self.token_requests = []   # (entry, status)
        self.revoked = False       # the app was revoked: the token endpoint answers 401
        self.next_id = 36 ** 5 * 7
        self.items = {"new": [], "comments": []}   # newest first: {"kind", "data"}
        server.route("/api/v1/access_token", self._token)
        server.route("/r/acme/", self._listing)

    # ---- content

    def add(self, listing, text, title=None, author="customer1", age=60):
        with self.lock:
            self.next_id += 1
            kind = "t3" if listing == "new" else "t1"
            ident = b36(self.next_id)
            name = f"{kind}_{ident}"
            d = {"name": name, "id": ident, "author": author, "created_utc": time.time() - age,
                 "score": 3, "subreddit": "acme"}
            if kind == "t3":
                d.update(title=title or "acme", selftext=text, num_comments=0,
                         permalink=f"/r/acme/comments/{ident}/post/")
            else:
                d.update(body=text, parent_id="t3_1abcd", link_id="t3_1abcd",
                         permalink=f"/r/acme/comments/1abcd/post/{ident}/")
            self.items[listing].insert(0, {"kind": kind, "data": d})
            return name

    def delete(self, name):
        with self.lock:
            for items in self.items.values():
                for it in items:
                    d = it["data"]
                    if d["name"] == name:
                        d["author"] = "[deleted]"
                        d["selftext" if it["kind"] == "t3" else "body"] = "[deleted]"

    # ---- endpoints

    def _token(self, entry):
        want = "Basic " + base64.b64encode(f"{CLIENT_ID}:{SECRET}".encode()).decode()
        form = urllib.parse.parse_qs(entry["body"].decode())
        with self.lock:
            if (self.revoked or entry["method"] != "POST"
                    or entry["headers"].get("authorization") != want):
                self.token_requests.append((entry, 401))
                return H.Response(401, {"message": "Unauthorized", "error": 401})
            if (form.get("grant_type") != ["password"] or form.get("username") != [USERNAME]
                    or form.get("password") != [PASSWORD]):
                self.token_requests.append((entry, 200))
                return H.Response(200, {"error": "invalid_grant"})
            tok = f"tok{len(self.issued)}-{os.urandom(6).hex()}"
            self.issued.append(tok)
            self.tokens.add(tok)
            self.token_requests.append((entry, 200))
        return H.Response(200, {"access_token": tok, "token_type": "bearer",
                                "expires_in": 86400, "scope": "*"})

    def _listing(self, entry):
        auth = entry["headers"].get("authorization") or ""
        with self.lock:
            ok = auth.startswith("bearer ") and auth[7:] in self.tokens
        if not ok:
            return H.Response(401, {"message": "Unauthorized", "error": 401})
        which = entry["path"][len("/r/acme/"):].strip("/")
        if which not in self.items:
            return H.Response(404, {"message": "Not Found", "error": 404})
        q = entry["query"]
        limit = max(1, min(100, int(q.get("limit", "25"))))
        with self.lock:
            items = [dict(kind=i["kind"], data=dict(i["data"])) for i in self.items[which]]
        start = 0
        if q.get("after"):
            names = [i["data"]["name"] for i in items]
            start = names.index(q["after"]) + 1 if q["after"] in names else len(items)
        page = items[start:start + limit]
        after = page[-1]["data"]["name"] if page and start + limit < len(items) else None
        body = {"kind": "Listing", "data": {"after": after, "before": None, "dist": len(page),
                                            "modhash": "", "children": page}}
        return H.Response(200, body, headers={"x-ratelimit-remaining": "598.0",
                                              "x-ratelimit-used": "2",
                                              "x-ratelimit-reset": "300"})

    def listing_requests(self, since=0):
        return [r for r in self.server.log("/r/acme/", since) if r["status"] == 200]


class RedditAtom:
    """www.reddit.com's /r/acme/new/.rss as Atom, or 403 "Blocked" when blocked."""

    def __init__(self, server):
        self.server = server
        self.url = server.url
        self.entries = []   # newest first
        self.blocked = False
        self.n = 36 ** 5 * 9
        server.route("/r/acme/new/.rss", self._feed)

    def add(self, title, text, author="anon1", age=60):
        self.n += 1
        ident = b36(self.n)
        t = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(time.time() - age))
        content = ("<!-- SC_OFF --><div class=\"md\"><p>" + html.escape(text) +
                   "</p></div><!-- SC_ON --> &#32; submitted by &#32; <a href=\"https://"
                   f"www.reddit.com/user/{author}\"> /u/{author} </a>")
        self.entries.insert(0, (
            f"<entry><author><name>/u/{author}</name></author>"
            f"<content type=\"html\">{html.escape(content)}</content><id>t3_{ident}</id>"
            f"<link href=\"https://www.reddit.com/r/acme/comments/{ident}/x/\" />"
            f"<updated>{t}</updated><published>{t}</published>"
            f"<title>{html.escape(title)}</title></entry>"))
        return f"t3_{ident}"

    def _feed(self, entry):
        if self.blocked:
            return H.Response(403, b"<!doctype html><html><body>Blocked</body></html>",
                              content_type="text/html; charset=utf-8")
        doc = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?><feed xmlns=\"http://www.w3.org/2005/"
               "Atom\"><id>/r/acme/new/.rss</id><title>newest submissions : acme</title>"
               + "".join(self.entries) + "</feed>")
        return H.Response(200, doc, content_type="application/atom+xml; charset=UTF-8")


def blocked_alerts(hook, source):
    return [x for x in hook.ok()
            if (x["json"] or {}).get("network") == "earshot"
            and (x["json"] or {}).get("source") == source
            and "source-blocked" in ((x["json"] or {}).get("rules") or [])]


def test(case):
    hook = H.WebhookReceiver(case.server("hook"), "/hook")
    api = RedditAPI(case.server("reddit"))
    www = RedditAtom(case.server("www"))

    c1 = api.add("new", "Order 4711: acme took my money and I want a refund now",
                 title="acme refund?")
    c2 = api.add("comments", "same here, acme owes me a refund for months")
    r1 = www.add("acme refund", "acme, where is my refund for order 815?")

    d = case.daemon(H.make_config(
        sources=[
            {"name": "reddit-oauth", "type": "reddit", "interval": "1s", "subreddits": ["acme"],
             "client_id": CLIENT_ID, "client_secret": "${REDDIT_SECRET}",
             "username": USERNAME, "password_file": "reddit-password", "user_agent": UA,
             "oauth_url": api.url, "token_url": api.url + "/api/v1/access_token", "limit": 5},
            {"name": "reddit-rss", "type": "reddit", "interval": "1s", "subreddits": ["acme"],
             "comments": False, "www_url": www.url},
        ],
        notifiers=[H.webhook_notifier("hook", hook.url)],
        defaults={"respond_within": "1h", "backfill": "1h", "interval": "60s",
                  "silent_after": "0"},
        http={"timeout": "3s", "connect_timeout": "1s"}),
        env={"REDDIT_SECRET": SECRET}, files={"reddit-password": PASSWORD + "\n"})
    d.start()

    def alive():
        H.check(d.alive(), f"earshotd exited with status {d.proc.returncode}")

    def wait_alerts(ids, what):
        H.wait_until(lambda: alive() or set(ids) <= set(hook.by_post()), 20, what)

    # ---- 1. complaints alert; one login serves both feeds -----------------------------------
    wait_alerts([c1, c2, r1], "alerts for the submission, the comment and the Atom entry")
    H.wait_until(lambda: alive() or len(api.listing_requests()) >= 6, 20, "six listing polls")
    reqs = api.listing_requests()
    case.expect(all(r["headers"].get("user-agent") == UA for r in reqs),
                f"listing requests without the configured User-Agent: "
                f"{sorted({r['headers'].get('user-agent') for r in reqs})}")
    case.expect({r["path"] for r in reqs} == {"/r/acme/new", "/r/acme/comments"},
                f"listing paths {sorted({r['path'] for r in reqs})}")
    case.expect(all(r["query"].get("raw_json") == "1" for r in reqs), "a listing without raw_json=1")
    logins = [e for e, _ in api.token_requests]
    case.expect(len(logins) == 1, f"{len(logins)} token requests, want 1 (shared by both feeds)")
    case.expect(logins and logins[0]["headers"].get("user-agent") == UA,
                "the token request did not carry the User-Agent")
    post = (hook.by_post()[c1][0]["json"] or {}).get("post") or {}
    case.expect(post.get("url") == f"https://www.reddit.com/r/acme/comments/{c1[3:]}/post/",
                f"post.url {post.get('url')!r}")
    case.expect("Order 4711" in (post.get("text") or ""), f"post.text {post.get('text')!r}")
    c1_alert = hook.by_post()[c1][0]["json"]["id"]
    # the core read Reddit's rate-limit headers (a fractional Remaining, Used, Reset in s)
    # (as `earshotctl sources` shows it; read from the store, which needs no config)
    rows = {r["feed"]: r for r in d.db("SELECT feed, ratelimit FROM feeds")}
    rl = (rows.get("reddit-oauth/r/acme/new") or {}).get("ratelimit") or ""
    case.expect(rl.startswith("598/600 left"),
                f"rate limit of reddit-oauth/r/acme/new: {rl!r}, want '598/600 left, ...' "
                f"(feeds: {sorted(rows)})")

    # ---- 2. a restart reuses the kept token --------------------------------------------------
    d.stop()
    mark = api.server.mark()
    d.start()
    c3 = api.add("new", "acme refund still missing after the restart", title="acme again")
    wait_alerts([c3], "the alert for a complaint posted after the restart")
    H.wait_until(lambda: alive() or len(api.listing_requests(mark)) >= 2, 20,
                 "polls after the restart")
    case.expect(len(api.token_requests) == 1,
                f"{len(api.token_requests)} token requests after a restart, want 1 (the kept "
                "token is reused)")

    # ---- 3. the token stops working: one new login, polling goes on -------------------------
    with api.lock:
        api.tokens.clear()
    c4 = api.add("new", "acme: refund me, this is the last time I ask", title="acme last")
    wait_alerts([c4], "the alert after the token was refused")
    # one login more; two if the other feed's poll met the old token before the new one
    # was kept (each feed logs in at most once a poll)
    case.expect(len(api.token_requests) in (2, 3),
                f"{len(api.token_requests)} token requests after a 401, want 2 (or 3)")
    case.expect(api.server.log("/r/acme/") and
                any(r["status"] == 401 for r in api.server.log("/r/acme/")),
                "no listing was answered 401")

    # ---- 4. a post deleted at the source -----------------------------------------------------
    api.delete(c1)

    def deleted_event():
        alive()
        return [x for x in hook.ok() if (x["json"] or {}).get("event") == "deleted"
                and (x["json"] or {}).get("id") == c1_alert]
    ev = H.wait_until(deleted_event, 20, "the webhook event 'deleted' for the first complaint")
    case.expect("4711" not in ev[0]["raw"].decode("utf-8", "replace"),
                "the 'deleted' event still carries the post's text")
    rc, out, err = d.ctl("show", c1_alert)
    case.expect(rc == 0, f"earshotctl show {c1_alert}: exit {rc}: {err}")
    case.expect("4711" not in out, f"earshotctl show still has the deleted post's text:\n{out}")
    case.expect(c1_alert in out, f"earshotctl show does not show the alert:\n{out}")

    # ---- 5. the app is revoked: one operator alert, no loop ---------------------------------
    with api.lock:
        api.revoked = True
        api.tokens.clear()
    n_tokens = len(api.token_requests)
    got = H.wait_until(lambda: alive() or blocked_alerts(hook, "reddit-oauth"), 20,
                       "the source-blocked alert for reddit-oauth")
    text = ((got[0]["json"] or {}).get("post") or {}).get("text") or ""
    case.expect("client_id" in text, f"the operator alert does not name client_id: {text!r}")

    # ---- 6. Reddit refuses anonymous access --------------------------------------------------
    www.blocked = True
    got = H.wait_until(lambda: alive() or blocked_alerts(hook, "reddit-rss"), 20,
                       "the source-blocked alert for reddit-rss")
    text = ((got[0]["json"] or {}).get("post") or {}).get("text") or ""
    case.expect("client_id and client_secret" in text,
                f"the RSS operator alert does not say to set client_id and client_secret: "
                f"{text!r}")
    time.sleep(3)   # time for more alerts and logins, if any were (wrongly) made
    for src in ("reddit-oauth", "reddit-rss"):
        n = len(blocked_alerts(hook, src))
        case.expect(n == 1, f"{n} source-blocked alerts for {src}, want exactly 1")
    extra = len(api.token_requests) - n_tokens
    case.expect(extra <= 2, f"{extra} token requests after the revocation (one per feed at "
                            "most), the blocked feeds keep logging in")
    alive()
    d.stop()

    # ---- 7. no secret in the logs -------------------------------------------------------------
    logs = d.all_logs()
    for s in [SECRET, PASSWORD] + api.issued:
        case.expect(s not in logs, f"the daemon log holds a secret ({s[:4]}...)")
    case.expect(any("without OAuth" in ln for ln in logs.splitlines()),
                "no warning that reddit-rss runs without OAuth")


if __name__ == "__main__":
    H.main("source_reddit", test)
