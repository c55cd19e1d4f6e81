#!/usr/bin/env python3
"""source_bluesky: the Bluesky source against a loopback PDS that logs in, refreshes and
revokes like the real one, with the real earshotd.

The mock PDS ("pds") serves:
  POST /xrpc/com.atproto.server.createSession   {identifier, password} -> accessJwt (HS256,
       a few seconds of life), refreshJwt (an hour), did, handle; 401 AuthenticationRequired
       "Invalid identifier or password" for anything else, or once revoked
  POST /xrpc/com.atproto.server.refreshSession  Bearer refreshJwt -> a new pair; the old
       refresh token keeps working for a grace period (as the PDS's does), so two feeds
       refreshing at once both succeed; 401 InvalidToken once revoked
  GET  /xrpc/app.bsky.feed.searchPosts          Bearer accessJwt; 400 ExpiredToken when it
       ran out, 401 InvalidToken when unknown or revoked; q matched case-insensitively,
       since=, sort=latest, offset cursor
  GET  /xrpc/app.bsky.actor.getProfiles         followersCount of the test's authors
  GET  /xrpc/app.bsky.feed.getAuthorFeed        public (also the source's `appview`)

The daemon (interval 1s) runs a source with one query ("acme") and one watched account:
  1. complaints found by the search and by the account's feed alert, with the follower counts
     looked up; a non-complaint does not; one createSession
  2. the access token lives 3 s: it is refreshed (refreshSession) and searches go on with the
     new token; complaints posted later still alert
  3. restart: the kept session is reused; still exactly one createSession in total
  4. the credential is revoked (createSession and refresh answer 401): exactly one operator
     alert (rules ["source-blocked"]) at the webhook, one error line naming app_password,
     and the account feed (no login) keeps working
  5. no password, no JWT and no part of one in any log line
"""

import base64
import hashlib
import hmac
import json
import threading
import time
import urllib.parse

import harness as H

PASSWORD = "test-pass-word-abcd"
IDENT = "acme-monitor.bsky.social"
ACCESS_LIFE = 3
REFRESH_LIFE = 3600
GRACE = 30
KEY = b"earshot-test-signing-key"
SELF_DID = "did:plc:acmemonitor0000000000000"


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


class Pds:
    def __init__(self, server):
        self.server = server
        self.url = server.url
        self.lock = threading.Lock()
        self.posts = []          # postViews, any order
        self.followers = {}      # did -> count
        self.revoked = False
        self.issued = []         # every token handed out (to look for them in logs)
        self.refresh_next = {}   # refresh jti -> (successor pair, time it was rotated)
        self.logins = 0
        self.login_attempts = 0
        self.refreshes = 0
        self.n = 0
        server.route("/xrpc/com.atproto.server.createSession", self._create)
        server.route("/xrpc/com.atproto.server.refreshSession", self._refresh)
        server.route("/xrpc/app.bsky.feed.searchPosts", self._search)
        server.route("/xrpc/app.bsky.actor.getProfiles", self._profiles)
        server.route("/xrpc/app.bsky.feed.getAuthorFeed", self._author_feed)

    # ---- tokens

    def _jwt(self, scope, life):
        with self.lock:
            self.n += 1
            jti = f"t{self.n}"
        header = b64url(json.dumps({"typ": "at+jwt", "alg": "HS256"}).encode())
        payload = b64url(json.dumps({"scope": scope, "sub": SELF_DID, "jti": jti,
                                     "iat": int(time.time()),
                                     "exp": int(time.time()) + life}).encode())
        sig = b64url(hmac.new(KEY, f"{header}.{payload}".encode(), hashlib.sha256).digest())
        tok = f"{header}.{payload}.{sig}"
        with self.lock:
            self.issued.append(tok)
        return tok

    def _check(self, entry, scope):
        """(claims, None) or (None, Response)."""
        auth = entry["headers"].get("authorization", "")
        if not auth.startswith("Bearer "):
            return None, H.Response(401, {"error": "AuthenticationRequired",
                                          "message": "Authentication Required"})
        tok = auth[7:]
        try:
            header, payload, sig = tok.split(".")
            want = b64url(hmac.new(KEY, f"{header}.{payload}".encode(),
                                   hashlib.sha256).digest())
            claims = json.loads(b64url_decode(payload))
        except (ValueError, json.JSONDecodeError):
            return None, H.Response(401, {"error": "InvalidToken", "message": "Malformed token"})
        if not hmac.compare_digest(want, sig) or claims.get("scope") != scope or self.revoked:
            return None, H.Response(401, {"error": "InvalidToken", "message": "Token is invalid"})
        if claims["exp"] <= time.time():
            return None, H.Response(400, {"error": "ExpiredToken",
                                          "message": "Token has expired"})
        return claims, None

    def _pair(self):
        return {"accessJwt": self._jwt("com.atproto.appPass", ACCESS_LIFE),
                "refreshJwt": self._jwt("com.atproto.refresh", REFRESH_LIFE),
                "handle": IDENT, "did": SELF_DID, "active": True}

    def _create(self, entry):
        with self.lock:
            self.login_attempts += 1
        try:
            body = json.loads(entry["body"])
        except ValueError:
            return H.Response(400, {"error": "InvalidRequest", "message": "bad body"})
        if (entry["method"] != "POST" or self.revoked or body.get("identifier") != IDENT
                or body.get("password") != PASSWORD):
            return H.Response(401, {"error": "AuthenticationRequired",
                                    "message": "Invalid identifier or password"})
        with self.lock:
            self.logins += 1
        return H.Response(200, self._pair())

    def _refresh(self, entry):
        claims, err = self._check(entry, "com.atproto.refresh")
        if err:
            return err
        with self.lock:
            self.refreshes += 1
            prev = self.refresh_next.get(claims["jti"])
        if prev and time.time() - prev[1] > GRACE:
            return H.Response(400, {"error": "ExpiredToken", "message": "Token has been revoked"})
        pair = prev[0] if prev else self._pair()
        if not prev:
            with self.lock:
                self.refresh_next[claims["jti"]] = (pair, time.time())
        # a fresh access token either way
        pair = dict(pair, accessJwt=self._jwt("com.atproto.appPass", ACCESS_LIFE))
        return H.Response(200, pair)

    # ---- the API

    def add(self, text, did, handle, name=None, age=0.0, followers=None, lang="en"):
        with self.lock:
            self.n += 1
            rkey = f"3mock{self.n:08d}"
        t = time.time() - age
        post = {
            "uri": f"at://{did}/app.bsky.feed.post/{rkey}",
            "cid": f"bafyreimock{self.n}",
            "author": {"did": did, "handle": handle, "displayName": name or handle,
                       "labels": [], "createdAt": "2024-01-01T00:00:00.000Z"},
            "record": {"$type": "app.bsky.feed.post", "text": text,
                       "createdAt": H.iso_ms(t), "langs": [lang]},
            "replyCount": 1, "repostCount": 2, "likeCount": 3, "quoteCount": 0,
            "indexedAt": H.iso_ms(t), "labels": [],
        }
        with self.lock:
            self.posts.append(post)
            if followers is not None:
                self.followers[did] = followers
        return post

    def _page(self, entry, posts):
        q = entry["query"]
        limit = int(q.get("limit", "25"))
        off = int(q.get("cursor") or 0)
        page = posts[off:off + limit]
        out = {"posts": page}
        if off + limit < len(posts):
            out["cursor"] = str(off + limit)
        return out

    def _search(self, entry):
        _, err = self._check(entry, "com.atproto.appPass")
        if err:
            return err
        q = entry["query"]
        term = q.get("q", "").lower()
        since = H.parse_rfc3339(q["since"]) if q.get("since") else None
        with self.lock:
            posts = [p for p in self.posts if term in p["record"]["text"].lower()]
        if since is not None:
            posts = [p for p in posts if H.parse_rfc3339(p["indexedAt"]) >= since]
        posts.sort(key=lambda p: p["indexedAt"], reverse=True)
        return H.Response(200, self._page(entry, posts))

    def _author_feed(self, entry):
        actor = entry["query"].get("actor", "")
        with self.lock:
            posts = [p for p in self.posts
                     if actor in (p["author"]["handle"], p["author"]["did"])]
        posts.sort(key=lambda p: p["indexedAt"], reverse=True)
        page = self._page(entry, posts)
        out = {"feed": [{"post": p} for p in page["posts"]]}
        if "cursor" in page:
            out["cursor"] = page["cursor"]
        return H.Response(200, out)

    def _profiles(self, entry):
        qs = urllib.parse.parse_qs(urllib.parse.urlsplit(entry["raw_path"]).query)
        actors = qs.get("actors", [])
        if len(actors) > 25:
            return H.Response(400, {"error": "InvalidRequest", "message": "too many actors"})
        with self.lock:
            profiles = [{"did": a, "handle": a, "followersCount": self.followers[a]}
                        for a in actors if a in self.followers]
        return H.Response(200, {"profiles": profiles})

    def requests(self, path, since=0):
        return self.server.log(path, since)


def blocked_alerts(hook):
    return [x for x in hook.ok()
            if (x["json"] or {}).get("network") == "earshot"
            and "source-blocked" in ((x["json"] or {}).get("rules") or [])]


def test(case):
    hook = H.WebhookReceiver(case.server("hook"), "/hook")
    pds = Pds(case.server("pds"))

    c1 = pds.add("acme took my money, I want a refund", "did:plc:carol000000000000000000",
                 "carol.bsky.social", "Carol", age=30, followers=1234)
    pds.add("acme is great, no complaints", "did:plc:dave0000000000000000000",
            "dave.bsky.social", age=20, followers=5)
    w1 = pds.add("where is my refund? acme support is silent", "did:plc:watched00000000000000000",
                 "watched.example.com", "Watched", age=25, followers=77)

    src = {"name": "bsky", "type": "bluesky", "interval": "1s",
           "pds": pds.url, "appview": pds.url,
           "identifier": IDENT, "app_password": "${BSKY_APP_PASSWORD}",
           "queries": ["acme"], "accounts": ["watched.example.com"]}
    cfg = H.make_config(sources=[src], notifiers=[H.webhook_notifier("hook", hook.url)],
                        defaults={"respond_within": "1h", "backfill": "1h", "interval": "60s",
                                  "silent_after": "0"},
                        http={"timeout": "3s", "connect_timeout": "1s"})
    d = case.daemon(cfg, env={"BSKY_APP_PASSWORD": PASSWORD})
    d.start()

    def alive():
        H.check(d.alive(), f"earshotd exited with status {d.proc.returncode}")

    # ---- 1. complaints alert, with follower counts -----------------------------------------
    hook.wait_posts([c1["uri"], w1["uri"]], timeout=20)
    by = hook.by_post()
    a = by[c1["uri"]][0]["json"]
    case.expect(a["post"]["author"]["followers"] == 1234,
                f"carol's followers: {a['post']['author'].get('followers')!r}, want 1234")
    case.expect(a["post"]["url"] == "https://bsky.app/profile/carol.bsky.social/post/"
                + c1["uri"].rsplit("/", 1)[1], f"post url {a['post']['url']!r}")
    case.expect(a["network"] == "bluesky", f"network {a['network']!r}")
    case.expect(by[w1["uri"]][0]["json"]["post"]["author"]["followers"] == 77,
                "the watched account's follower count is not 77")
    case.expect(pds.logins == 1, f"{pds.logins} logins after the first polls, want 1")
    # the account feed goes without a token
    H.wait_until(lambda: alive() or pds.requests("/xrpc/app.bsky.feed.getAuthorFeed"), 20,
                 "a getAuthorFeed request")
    feeds = pds.requests("/xrpc/app.bsky.feed.getAuthorFeed")
    case.expect(feeds and all("authorization" not in r["headers"] for r in feeds),
                "getAuthorFeed was asked with an Authorization header")
    logins = pds.requests("/xrpc/com.atproto.server.createSession")
    case.expect(all(r["method"] == "POST" for r in logins), "createSession not POSTed")

    # ---- 2. the access token runs out: refreshed, searches go on ---------------------------
    H.wait_until(lambda: alive() or pds.refreshes >= 2, 20, "two refreshSession calls")
    mark = pds.server.mark()
    c2 = pds.add("acme refund please, it has been weeks", "did:plc:erin0000000000000000000",
                 "erin.bsky.social", "Erin", followers=9)
    hook.wait_posts([c2["uri"]], timeout=20)
    searches = pds.requests("/xrpc/app.bsky.feed.searchPosts", mark)
    case.expect(any(r["status"] == 200 for r in searches), "no search answered 200 after refresh")
    case.expect(any("since" in r["query"] for r in searches),
                "later searches do not ask since= the cursor")
    case.expect(pds.logins == 1, f"{pds.logins} logins after refreshes, want 1")

    # ---- 3. restart: the session is reused ------------------------------------------------
    d.stop()
    mark = pds.server.mark()
    d.start()
    c3 = pds.add("acme, refund my order now", "did:plc:fred0000000000000000000",
                 "fred.bsky.social", followers=3)
    hook.wait_posts([c3["uri"]], timeout=20)
    H.wait_until(lambda: alive() or len(pds.requests("/xrpc/app.bsky.feed.searchPosts",
                                                     mark)) >= 3, 20, "searches after restart")
    case.expect(pds.logins == 1 and pds.login_attempts == 1,
                f"{pds.login_attempts} createSession calls in total, want exactly 1 "
                "(the session is kept across the restart)")
    n_alerts = len(hook.by_post())
    case.note(f"alerts so far: {n_alerts}; refreshes {pds.refreshes}")

    # ---- 4. revoked: one operator alert, one error line -----------------------------------
    pds.revoked = True
    w2 = pds.add("acme still no refund, day 12", "did:plc:watched00000000000000000",
                 "watched.example.com", "Watched", followers=77)
    H.wait_until(lambda: alive() or blocked_alerts(hook), 20, "the source-blocked alert")
    # only the account feed can find this one now: it needs no login and goes on
    hook.wait_posts([w2["uri"]], timeout=20)
    time.sleep(2.5)   # time for a second operator alert, if one were raised
    n = len(blocked_alerts(hook))
    case.expect(n == 1, f"{n} source-blocked alerts, want exactly 1")
    case.expect(pds.login_attempts == 2,
                f"{pds.login_attempts} createSession calls, want 2 (one refused, no loop)")
    alert = blocked_alerts(hook)[0]["json"]
    text = json.dumps(alert)
    case.expect("bsky" in text, "the operator alert does not name the source")
    alive()
    d.stop()

    # ---- 5. the logs ----------------------------------------------------------------------
    logs = d.all_logs()
    errs = [ln for ln in logs.splitlines() if H.log_level_of(ln) == "err"]
    named = [ln for ln in errs if "app_password" in ln]
    case.expect(len(named) == 1, f"{len(named)} error lines naming app_password, want 1: "
                                 f"{named[:3]}")
    other = [ln for ln in logs.splitlines()
             if H.is_problem_line(ln) and "app_password" not in ln]
    case.expect(not other, f"unexpected warning/error lines: {other[:3]}")
    case.expect(PASSWORD not in logs, "the app password is in the log")
    with pds.lock:
        issued = list(pds.issued)
    leaked = [t for t in issued if t in logs or t.split(".")[1] in logs or t.split(".")[2] in logs]
    case.expect(not leaked, f"{len(leaked)} tokens (or parts) in the log")
    case.expect("eyJ" not in logs, "something like a JWT is in the log")


if __name__ == "__main__":
    H.main("source_bluesky", test)
