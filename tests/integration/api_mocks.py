"""Loopback mocks of the non-Mastodon APIs earshot's source plugins poll, for the
integration tests (test_source_paging.py, test_source_charsets.py, test_source_faults.py).

Each mock serves from a harness.MockServer and answers the way the real service does, as far
as the plugins can tell (see /work/shared/FEED-APIS.md):

  Algolia        GET /api/v1/search_by_date   Hacker News search, newest first; query, tags
                                              ("(story,comment)" = OR), numericFilters
                                              (created_at_i>=X,created_at_i<=Y, comma = AND),
                                              page (0-based), hitsPerPage; nbHits / nbPages,
                                              at most 1,000 hits reachable
  Lemmy          GET /api/v3/search           type_=Posts, sort=New (published, newest first),
                                              page (1-based, default 1), limit (default 10,
                                              more than 50 is an error)
  Discourse      GET /posts.json[?before=ID]  the latest 50 posts, newest first; before= keeps
                                              posts with an id lower than ID
  StackExchange  GET /2.3/search/advanced     site, q, sort=creation, order, fromdate/todate
                                              (inclusive), page (1-based), pagesize (max 100);
                                              wrapper {items, has_more, quota_max,
                                              quota_remaining[, backoff]}, always gzip'ed

Every request's log entry (MockServer.requests) gets "served": the ids of the items the
answer carried, and "poll_start": whether it is the first request of a poll (no paging
parameter), so a test can group requests into polls and count how often an item was sent.

EndlessServer: a MockServer whose stream routes answer with a chunked body that never ends
(slowly or fast), recording how many bytes were sent and when the client hung up.

Standard library only; everything binds to 127.0.0.1.
"""

import copy
import datetime
import email.utils
import gzip
import json
import math
import threading
import time

import harness as H


def iso_us(epoch):
    """2026-08-01T13:20:11.402913Z, as Lemmy 0.19 writes `published`."""
    us = int(round(epoch * 1e6))
    dt = datetime.datetime.fromtimestamp(us // 1000000, tz=datetime.timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + f".{us % 1000000:06d}Z"


def rfc822(epoch):
    """Sat, 01 Aug 2026 14:00:00 GMT, as RSS <pubDate> has it."""
    return email.utils.formatdate(epoch, usegmt=True)


def polls(reqs):
    """Requests (in arrival order) grouped into polls: a poll starts with a request whose
    entry has poll_start set and takes the following page requests."""
    out = []
    for r in reqs:
        if r.get("poll_start") or not out:
            out.append([])
        out[-1].append(r)
    return out


# --------------------------------------------------------------------------------------
# Hacker News (Algolia)


class Algolia:
    """GET /api/v1/search_by_date on a MockServer, as hn.algolia.com answers it."""

    PATH = "/api/v1/search_by_date"
    MAX_REACHABLE = 1000   # Algolia's paginationLimitedTo

    def __init__(self, server):
        self.server = server
        self.url = server.url
        self.lock = threading.RLock()
        self.hits = []
        server.route(self.PATH, self.handle)

    def add(self, hits):
        """Publish hits atomically (a request sees all of them or none)."""
        with self.lock:
            self.hits.extend(copy.deepcopy(h) for h in hits)

    @staticmethod
    def comment(object_id, created, text, author="hnuser", story_id=40000000):
        """A comment hit shaped like tests/fixtures/hackernews/by-date-2026-shape.json."""
        created = int(created)
        return {
            "_highlightResult": {"comment_text": {"matchLevel": "none", "matchedWords": [],
                                                  "value": "<em>stale highlight</em>"}},
            "_tags": ["comment", f"author_{author}", f"story_{story_id}"],
            "author": author,
            "children": [],
            "comment_text": text,
            "created_at": datetime.datetime.fromtimestamp(
                created, tz=datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "created_at_i": created,
            "objectID": str(object_id),
            "parent_id": story_id,
            "story_id": story_id,
            "story_title": "Ask HN: which routers do you use?",
            "story_url": "https://example.org/routers",
            "updated_at": datetime.datetime.fromtimestamp(
                created, tz=datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }

    @staticmethod
    def _numeric(filters):
        """'created_at_i>=1,created_at_i<=2' -> [(attr, op, value)]; raises ValueError."""
        out = []
        for part in filter(None, (p.strip() for p in filters.split(","))):
            for op in (">=", "<=", "!=", ">", "<", "="):
                if op in part:
                    attr, val = part.split(op, 1)
                    out.append((attr.strip(), op, float(val)))
                    break
            else:
                raise ValueError(part)
        return out

    @staticmethod
    def _tag_ok(hit, tags):
        """Algolia tag filters: top-level commas are AND, a "(a,b)" group is an OR."""
        if not tags:
            return True
        terms, depth, cur = [], 0, ""
        for ch in tags:
            if ch == "(":
                depth += 1
                cur += ch
            elif ch == ")":
                depth -= 1
                cur += ch
            elif ch == "," and depth == 0:
                terms.append(cur)
                cur = ""
            else:
                cur += ch
        terms.append(cur)
        own = set(hit.get("_tags", []))
        for t in filter(None, (x.strip() for x in terms)):
            if t.startswith("(") and t.endswith(")"):
                if not own & {x.strip() for x in t[1:-1].split(",")}:
                    return False
            elif t not in own:
                return False
        return True

    def handle(self, entry):
        q = entry["query"]
        try:
            hpp = int(q.get("hitsPerPage", "20"))
            page = int(q.get("page", "0"))
            numeric = self._numeric(q.get("numericFilters", ""))
        except ValueError:
            return H.Response(400, {"message": "invalid parameters", "status": 400})
        if not 1 <= hpp <= 1000 or page < 0:
            return H.Response(400, {"message": "hitsPerPage/page out of range", "status": 400})
        words = q.get("query", "").lower().split()
        ops = {">=": lambda a, b: a >= b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b,
               "<": lambda a, b: a < b, "=": lambda a, b: a == b, "!=": lambda a, b: a != b}
        with self.lock:
            hits = list(self.hits)
        sel = []
        for h in hits:
            text = " ".join(str(h.get(k) or "") for k in ("title", "comment_text", "story_text",
                                                        "url", "author")).lower()
            if not all(w in text for w in words) or not self._tag_ok(h, q.get("tags", "")):
                continue
            if all(attr in h and ops[op](h[attr], val) for attr, op, val in numeric):
                sel.append(h)
        sel.sort(key=lambda h: (h["created_at_i"], int(h["objectID"])), reverse=True)
        nb_hits = len(sel)
        reachable = sel[:self.MAX_REACHABLE]
        nb_pages = min(math.ceil(nb_hits / hpp), math.ceil(self.MAX_REACHABLE / hpp))
        page_hits = reachable[page * hpp:(page + 1) * hpp]
        entry["served"] = [h["objectID"] for h in page_hits]
        entry["poll_start"] = "page" not in q and "<=" not in q.get("numericFilters", "")
        entry["numeric"] = numeric
        return H.Response(200, {
            "exhaustive": {"nbHits": True, "typo": True}, "exhaustiveNbHits": True,
            "exhaustiveTypo": True, "hits": page_hits, "hitsPerPage": hpp, "nbHits": nb_hits,
            "nbPages": nb_pages, "page": page, "params": entry["raw_path"].partition("?")[2],
            "processingTimeMS": 1, "query": q.get("query", ""), "serverTimeMS": 2,
        })


# --------------------------------------------------------------------------------------
# Lemmy (API v3, 0.19)


class Lemmy:
    """GET /api/v3/search (type_=Posts, sort=New) of one Lemmy instance."""

    PATH = "/api/v3/search"

    def __init__(self, server, host="lemmy.example"):
        self.server = server
        self.url = server.url
        self.host = host
        self.lock = threading.RLock()
        self.posts = []
        self.next_id = 1000
        server.route(self.PATH, self.handle)

    def post(self, published, name, body, user="bob_k"):
        """A PostView shaped like tests/fixtures/lemmy/search-posts.json; the next local id."""
        with self.lock:
            pid = self.next_id
            self.next_id += 1
        return {
            "post": {"id": pid, "name": name, "body": body, "creator_id": 9051,
                     "community_id": 37, "removed": False, "locked": False,
                     "published": iso_us(published), "deleted": False, "nsfw": False,
                     "ap_id": f"https://{self.host}/post/{pid}", "local": True,
                     "language_id": 37, "featured_community": False, "featured_local": False},
            "creator": {"id": 9051, "name": user, "display_name": user.capitalize(),
                        "banned": False, "published": "2024-02-11T08:00:00.000000Z",
                        "actor_id": f"https://{self.host}/u/{user}", "local": True,
                        "deleted": False, "bot_account": False, "instance_id": 1},
            "community": {"id": 37, "name": "acme", "title": "Acme users",
                          "removed": False, "published": "2024-03-01T10:00:00.000000Z",
                          "deleted": False, "nsfw": False,
                          "actor_id": f"https://{self.host}/c/acme", "local": True,
                          "hidden": False, "posting_restricted_to_mods": False,
                          "instance_id": 1, "visibility": "Public"},
            "creator_banned_from_community": False, "banned_from_community": False,
            "creator_is_moderator": False, "creator_is_admin": False,
            "counts": {"post_id": pid, "comments": 0, "score": 1, "upvotes": 1,
                       "downvotes": 0, "published": iso_us(published),
                       "newest_comment_time": iso_us(published)},
            "subscribed": "NotSubscribed", "saved": False, "read": False, "hidden": False,
            "creator_blocked": False, "unread_comments": 0,
        }

    def add(self, posts):
        with self.lock:
            self.posts.extend(copy.deepcopy(p) for p in posts)

    def handle(self, entry):
        q = entry["query"]
        try:
            limit = int(q.get("limit", "10"))
            page = int(q.get("page", "1"))
        except ValueError:
            return H.Response(400, {"error": "couldnt_get_posts"})
        if limit > 50 or limit < 1 or page < 1:
            return H.Response(400, {"error": "couldnt_get_posts"})
        typ = q.get("type_", "All")
        words = q.get("q", "").lower().split()
        with self.lock:
            posts = list(self.posts)
        sel = []
        if typ in ("Posts", "All"):
            for p in posts:
                text = (p["post"]["name"] + " " + (p["post"].get("body") or "")).lower()
                if all(w in text for w in words):
                    sel.append(p)
        # sort=New: newest published first
        sel.sort(key=lambda p: (p["post"]["published"], p["post"]["id"]), reverse=True)
        page_posts = sel[(page - 1) * limit:page * limit]
        entry["served"] = [p["post"]["id"] for p in page_posts]
        entry["poll_start"] = "page" not in q
        return H.Response(200, {"type_": typ, "comments": [], "posts": page_posts,
                                "communities": [], "users": []})


# --------------------------------------------------------------------------------------
# Discourse


class Discourse:
    """GET /posts.json[?before=ID] of one public Discourse forum (50 posts a page)."""

    PATH = "/posts.json"
    PAGE = 50

    def __init__(self, server):
        self.server = server
        self.url = server.url
        self.lock = threading.RLock()
        self.posts = []
        self.next_id = 500
        server.route(self.PATH, self.handle)

    def post(self, created, cooked, username="johndoe", topic_id=11):
        """A post shaped like tests/fixtures/discourse/posts-latest.json; the next id."""
        with self.lock:
            pid = self.next_id
            self.next_id += 1
        return {
            "id": pid, "name": None, "username": username,
            "avatar_template": "/letter_avatar_proxy/v3/letter/p/df705f/{size}.png",
            "created_at": H.iso_ms(created), "cooked": cooked, "post_number": pid - 490,
            "post_type": 1, "updated_at": H.iso_ms(created), "reply_count": 0,
            "reply_to_post_number": None, "quote_count": 0, "avg_time": None,
            "incoming_link_count": 0, "reads": 1, "score": 0.2, "yours": False,
            "topic_id": topic_id, "topic_slug": "general-discussion",
            "topic_title": "General discussion", "topic_html_title": "General discussion",
            "category_id": 1, "display_username": None, "primary_group_name": None,
            "version": 1, "can_edit": False, "can_delete": False, "can_recover": False,
            "can_wiki": False, "user_title": None, "raw": cooked, "actions_summary": [],
            "moderator": False, "admin": False, "staff": False, "user_id": 2, "hidden": False,
            "trust_level": 1, "deleted_at": None, "user_deleted": False, "edit_reason": None,
            "can_view_edit_history": True, "wiki": False,
        }

    def add(self, posts):
        with self.lock:
            self.posts.extend(copy.deepcopy(p) for p in posts)

    def handle(self, entry):
        q = entry["query"]
        with self.lock:
            posts = list(self.posts)
        if "before" in q:
            try:
                before = int(q["before"])
            except ValueError:
                return H.Response(400, {"errors": ["before must be an integer"]})
            posts = [p for p in posts if p["id"] < before]
        posts.sort(key=lambda p: p["id"], reverse=True)
        page = posts[:self.PAGE]
        entry["served"] = [p["id"] for p in page]
        entry["poll_start"] = "before" not in q
        return H.Response(200, {"latest_posts": page})


# --------------------------------------------------------------------------------------
# Stack Exchange API 2.3


class StackExchange:
    """GET /2.3/search/advanced of the Stack Exchange API (every site on one server).

    quota: the server's daily quota (per IP, for every method and site), reported in every
    answer; set `quota_remaining` to make it low.  arm_backoff(n, match) adds "backoff": n
    to the next answer whose log entry satisfies match(entry).
    """

    PATH = "/2.3/search/advanced"

    def __init__(self, server, quota_max=10000, quota_remaining=9950, first_id=79700000):
        self.server = server
        self.url = server.url
        self.lock = threading.RLock()
        self.questions = {}    # site -> [question]
        self.next_id = first_id
        self.quota_max = quota_max
        self.quota_remaining = quota_remaining
        self.backoffs = []     # [(seconds, match)]
        server.route(self.PATH, self.handle)

    def question(self, created, title, body, site="stackoverflow", user="O&#39;Brien"):
        """A question of the withbody filter, as tests/fixtures/stackexchange/ has them."""
        with self.lock:
            qid = self.next_id
            self.next_id += 1
        return {
            "tags": ["acme-sdk"],
            "owner": {"account_id": 31337001, "reputation": 11, "user_id": 24680013,
                      "user_type": "registered", "display_name": user,
                      "link": "https://stackoverflow.com/users/24680013/obrien"},
            "is_answered": False, "view_count": 3, "answer_count": 0, "score": 0,
            "last_activity_date": int(created), "creation_date": int(created),
            "question_id": qid, "content_license": "CC BY-SA 4.0",
            "link": f"https://{site}.com/questions/{qid}/q{qid}",
            "title": title, "body": body, "_site": site,
        }

    def add(self, questions):
        with self.lock:
            for qu in questions:
                self.questions.setdefault(qu["_site"], []).append(copy.deepcopy(qu))

    def arm_backoff(self, seconds, match=lambda entry: True):
        with self.lock:
            self.backoffs.append((seconds, match))

    def _answer(self, entry, obj, status=200):
        body = gzip.compress(json.dumps(obj, ensure_ascii=False).encode())
        entry["answer"] = {k: v for k, v in obj.items() if k != "items"}
        return H.Response(status, body, {"Content-Type": "application/json; charset=utf-8",
                                         "Content-Encoding": "gzip"}, content_type=None)

    def handle(self, entry):
        q = entry["query"]
        entry["poll_start"] = "page" not in q
        entry["served"] = []
        with self.lock:
            self.quota_remaining = max(0, self.quota_remaining - 1)
            quota = {"quota_max": self.quota_max, "quota_remaining": self.quota_remaining}
            questions = list(self.questions.get(q.get("site", ""), []))
            backoff = None
            for i, (sec, match) in enumerate(self.backoffs):
                if match(entry):
                    backoff = sec
                    del self.backoffs[i]
                    break
        if "site" not in q:
            return self._answer(entry, {"error_id": 400, "error_message": "site is required",
                                        "error_name": "bad_parameter"}, 400)
        try:
            page = int(q.get("page", "1"))
            pagesize = int(q.get("pagesize", "30"))
            fromdate = int(q["fromdate"]) if "fromdate" in q else None
            todate = int(q["todate"]) if "todate" in q else None
        except ValueError:
            return self._answer(entry, {"error_id": 400, "error_message": "bad number",
                                        "error_name": "bad_parameter"}, 400)
        if not 0 <= pagesize <= 100 or page < 1 or q.get("sort", "activity") != "creation":
            return self._answer(entry, {"error_id": 400, "error_message": "pagesize/sort",
                                        "error_name": "bad_parameter"}, 400)
        words = q.get("q", "").lower().split()
        sel = []
        for qu in questions:
            text = (qu["title"] + " " + qu["body"]).lower()
            if not all(w in text for w in words):
                continue
            if fromdate is not None and qu["creation_date"] < fromdate:
                continue
            if todate is not None and qu["creation_date"] > todate:
                continue
            sel.append(qu)
        sel.sort(key=lambda x: (x["creation_date"], x["question_id"]),
                 reverse=q.get("order", "desc") == "desc")
        items = sel[(page - 1) * pagesize:page * pagesize]
        entry["served"] = [x["question_id"] for x in items]
        obj = {"items": [{k: v for k, v in x.items() if k != "_site"} for x in items],
               "has_more": page * pagesize < len(sel), **quota}
        if backoff:
            obj["backoff"] = backoff
        entry["backoff"] = backoff
        return self._answer(entry, obj)


# --------------------------------------------------------------------------------------
# bodies that never end


class EndlessServer(H.MockServer):
    """A MockServer with stream routes: stream_route(prefix, chunk, every) answers every
    request to prefix with 200, Transfer-Encoding: chunked, and `chunk` (bytes) every
    `every` seconds, forever (until the client goes away or the test ends).

    The request's log entry gets bytes_sent, t_gone (when a write failed: the client hung
    up) and status "stream"."""

    def __init__(self, name="endless"):
        self.streams = {}
        super().__init__(name)

    def stream_route(self, prefix, chunk, every, content_type="application/json",
                     head=b""):
        with self.lock:
            self.streams[prefix] = (head, chunk, every, content_type)

    def _answer(self, h, entry, fault):
        with self.lock:
            spec = next((v for k, v in self.streams.items() if entry["path"].startswith(k)),
                        None)
        if fault or spec is None:
            return super()._answer(h, entry, fault)
        head, chunk, every, ctype = spec
        entry["status"] = "stream"
        entry["bytes_sent"] = 0
        h.close_connection = True
        h.send_response(200)
        h.send_header("Content-Type", ctype)
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()
        piece = head
        try:
            while not self.stopping.is_set():
                data = piece or chunk
                h.wfile.write(b"%x\r\n" % len(data) + data + b"\r\n")
                h.wfile.flush()
                entry["bytes_sent"] += len(data)
                piece = b""
                if every:
                    self.stopping.wait(every)
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError):
            entry["t_gone"] = time.monotonic()
            raise
