"""Integration-test harness for earshotd: loopback mock servers, a systemd notify
socket, and a controller for the real daemon binary.

Everything here binds and connects to 127.0.0.1 only.  Python 3 standard library
only.  Each test script calls ``harness.main(name, fn)``; fn receives a ``Case``
that owns a case directory (kept on failure), mock servers and daemons, and
cleans all of them up.

Environment (set by tests/integration/meson.build):
  EARSHOTD            path of the earshotd binary (test skips with 77 if unset)
  EARSHOTCTL          path of earshotctl
  EARSHOT_PLUGIN_DIR  directory holding source-mastodon.so, notify-webhook.so, ...
  EARSHOT_TEST_LOGDIR where case directories go (default tests/integration/logs)
  EARSHOT_TEST_KEEP   keep the case directory even when the case passes
  EARSHOT_TEST_SEED   seed for the random choices of a case (printed on start)
  EARSHOT_TEST_TIMEOUT_SCALE  multiply every bounded wait (e.g. 3 under valgrind)

Waits are bounded polling loops on a condition (POLL seconds apart), never fixed
sleeps, with generous limits so that they also pass under ASan.
"""

import copy
import ctypes
import datetime
import http.server
import json
import os
import random
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
TEMPLATE_PATH = os.path.join(HERE, "mastodon-status-template.json")
POLL = 0.05
TIMEOUT_SCALE = float(os.environ.get("EARSHOT_TEST_TIMEOUT_SCALE", "1") or "1")
DEFAULT_TIMEOUT = 20.0
EXIT_SKIP = 77


class Skip(Exception):
    """Raise to end a case with exit status 77."""


# --------------------------------------------------------------------------------------
# small utilities


def scaled(timeout):
    return timeout * TIMEOUT_SCALE


def wait_until(pred, timeout=DEFAULT_TIMEOUT, what="condition", interval=POLL):
    """Poll pred() until it returns a truthy value; return that value.

    Raises AssertionError naming `what` (and the last falsy value) on timeout.
    """
    deadline = time.monotonic() + scaled(timeout)
    last = None
    while True:
        last = pred()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {scaled(timeout):.1f}s waiting for {what}"
                                 + (f" (last: {last!r})" if last not in (None, False) else ""))
        time.sleep(interval)


def check(cond, msg):
    """A hard assertion that survives python -O."""
    if not cond:
        raise AssertionError(msg)


def iso_ms(epoch):
    """2026-11-23T19:20:43.123Z, the form Mastodon uses for created_at."""
    ms = int(round(epoch * 1000))
    dt = datetime.datetime.fromtimestamp(ms // 1000, tz=datetime.timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + f".{ms % 1000:03d}Z"


_RFC3339 = re.compile(r"^(\d{4})-(\d\d)-(\d\d)[Tt ](\d\d):(\d\d):(\d\d)(?:\.(\d+))?"
                      r"(Z|z|[+-]\d\d:?\d\d)$")


def parse_rfc3339(s):
    """Parse an RFC 3339 timestamp into epoch seconds (float). Raises ValueError."""
    m = _RFC3339.match(s or "")
    if not m:
        raise ValueError(f"not an RFC 3339 timestamp: {s!r}")
    y, mo, d, h, mi, sec, frac, tz = m.groups()
    dt = datetime.datetime(int(y), int(mo), int(d), int(h), int(mi), int(sec),
                           tzinfo=datetime.timezone.utc)
    t = dt.timestamp()
    if frac:
        t += int(frac) / (10 ** len(frac))
    if tz not in ("Z", "z"):
        sign = 1 if tz[0] == "+" else -1
        hh, mm = int(tz[1:3]), int(tz[-2:])
        t -= sign * (hh * 3600 + mm * 60)
    return t


def id_key(i):
    """Mastodon ids are opaque numeric strings: compare by length, then lexically."""
    return (len(i), i)


def pos_of(text, needle, nth=1):
    """1-based (line, col) of the nth occurrence of needle in text."""
    idx = -1
    for _ in range(nth):
        idx = text.index(needle, idx + 1)
    line = text.count("\n", 0, idx) + 1
    col = idx - (text.rfind("\n", 0, idx) + 1) + 1
    return line, col


def find_pos(text, filename, line, col):
    """Lines of `text` reporting `filename:line:col:` (filename may be given as a
    path suffix such as 'rules.d/bad.yaml'; it may be printed absolute or relative)."""
    pat = re.compile(r"(?:^|[\s/'\"(\[])" + re.escape(filename) + rf":{line}:{col}:")
    return [ln for ln in text.splitlines() if pat.search(ln)]


_LEVEL_NAMES = {"0": "emerg", "1": "alert", "2": "crit", "3": "err", "4": "warning",
                "5": "notice", "6": "info", "7": "debug"}


def log_level_of(line):
    """Level name of a daemon log line: '<4>...' (JOURNAL_STREAM) or
    'YYYY-MM-DD HH:MM:SS.mmm LEVEL: ...' (plain stderr); None if neither."""
    m = re.match(r"^<([0-7])>", line)
    if m:
        return _LEVEL_NAMES[m.group(1)]
    m = re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)? (\w+): ", line)
    if m:
        return {"error": "err", "warn": "warning", "crit": "crit"}.get(m.group(1), m.group(1))
    return None


def is_problem_line(line):
    """A line logged at warning or more severe."""
    return log_level_of(line) in ("emerg", "alert", "crit", "err", "warning")


# --------------------------------------------------------------------------------------
# YAML writer (block style; just enough for earshot configs)

_PLAIN = re.compile(r"[A-Za-z0-9_./$\u0080-\uffff][A-Za-z0-9_./:@${}*+~\u0080-\uffff-]*")
_YAML_WORDS = {"true", "false", "null", "yes", "no", "on", "off", "y", "n", "~"}


def yaml_scalar(v):
    if v is True:
        return "true"
    if v is False:
        return "false"
    if v is None:
        return "null"
    if isinstance(v, (int, float)):
        return repr(v)
    s = str(v)
    if (_PLAIN.fullmatch(s) and s.lower() not in _YAML_WORDS
            and not re.fullmatch(r"[-+0-9.eE_:]+", s) and not s.endswith(":")):
        return s
    return json.dumps(s, ensure_ascii=False)


def _yaml_lines(obj, indent):
    pad = " " * indent
    out = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            if isinstance(v, (dict, list)) and v:
                out.append(f"{pad}{yaml_scalar(k)}:")
                out.extend(_yaml_lines(v, indent + 2))
            elif isinstance(v, dict):
                out.append(f"{pad}{yaml_scalar(k)}: {{}}")
            elif isinstance(v, list):
                out.append(f"{pad}{yaml_scalar(k)}: []")
            else:
                out.append(f"{pad}{yaml_scalar(k)}: {yaml_scalar(v)}")
    elif isinstance(obj, list):
        for item in obj:
            if isinstance(item, (dict, list)) and item:
                sub = _yaml_lines(item, indent + 2)
                sub[0] = pad + "- " + sub[0][indent + 2:]
                out.extend(sub)
            elif isinstance(item, dict):
                out.append(f"{pad}- {{}}")
            elif isinstance(item, list):
                out.append(f"{pad}- []")
            else:
                out.append(f"{pad}- {yaml_scalar(item)}")
    else:
        out.append(pad + yaml_scalar(obj))
    return out


def yaml_dump(obj):
    return "\n".join(_yaml_lines(obj, 0)) + "\n"


# --------------------------------------------------------------------------------------
# config builders

ACME_BRAND = {"name": "acme", "terms": ["acme", "#acme", "acme corp"], "exclude": ["acmejobs"]}
REFUND_RULE = {"name": "refunds", "brand": "acme", "any": ["refund*", "money back"],
               "none": ["hiring", "giveaway"], "severity": "high", "respond_within": "30m"}
RU_RULE = {"name": "ru-complaints", "brand": "acme",
           "any": ["верните деньги", "ужасный сервис"], "severity": "critical"}


def mastodon_source(name, instance_url, tags=("acme",), interval="1s", **opts):
    src = {"name": name, "type": "mastodon", "interval": interval,
           "instances": [instance_url], "tags": list(tags)}
    src.update(opts)
    return src


def webhook_notifier(name, url, **opts):
    n = {"name": name, "type": "webhook", "url": url}
    n.update(opts)
    return n


def make_config(sources, notifiers, brands=(ACME_BRAND,), rules=(REFUND_RULE,),
                log_level="debug", defaults=None, http=None, delivery=None, include=None,
                **extra):
    cfg = {"log_level": log_level,
           "defaults": defaults or {"respond_within": "1h", "backfill": "1h",
                                    "interval": "60s"}}
    if http:
        cfg["http"] = http
    cfg["delivery"] = delivery or {"retry_initial": "500ms", "retry_max": "5s"}
    # Most tests post many complaints from one account or with one text: grouping them into
    # threads and copies is test_queue's subject, not theirs.
    cfg["grouping"] = extra.pop("grouping", None) or {"threads": False, "copies_window": "0s"}
    if include:
        cfg["include"] = list(include)
    cfg.update(extra)
    cfg["sources"] = list(sources)
    cfg["notifiers"] = list(notifiers)
    cfg["brands"] = list(brands)
    cfg["rules"] = list(rules)
    return cfg


# --------------------------------------------------------------------------------------
# mock HTTP server


class Response:
    def __init__(self, status=200, body=b"", headers=None, content_type="application/json"):
        self.status = status
        if isinstance(body, str):
            body = body.encode()
        elif not isinstance(body, (bytes, bytearray)):
            body = json.dumps(body, ensure_ascii=False).encode()
        self.body = bytes(body)
        self.headers = dict(headers or {})
        if content_type and not any(k.lower() == "content-type" for k in self.headers):
            self.headers["Content-Type"] = content_type


class MockServer:
    """A threaded HTTP/1.1 server on 127.0.0.1:<random port>.

    Routes are path prefixes mapped to handler(entry) -> Response.  Faults are
    scripted per path prefix; each request to a matching path consumes one fault.
    A fault is a dict with any of:
      {"status": 500, "headers": {...}, "body": b"..."}  answer this instead
      {"body": b"[{\\"id\\": \\"1\\", trunc"}             200 with this body
      {"body_size": 50 << 20, "content_length": False}  stream that many bytes
      {"hang": True}            accept, read the request, never answer
      {"close": True}           close the connection without an answer
      {"delay": 1.5}            wait, then answer normally (or as the other keys say)
      {"pass": True}            answer normally (placeholder in a sequence)
      {"transform": fn}         answer normally, body replaced by fn(body)
      {"name": "..."}           label recorded in the request log
    Every request is logged (self.requests) with monotonic time, method, path,
    query, headers, body, answer status, fault and whatever the route adds.
    """

    def __init__(self, name="mock"):
        self.name = name
        self.lock = threading.RLock()
        self.routes = []          # (prefix, handler)
        self.faults = {}          # prefix -> [fault]
        self.requests = []
        self.stopping = threading.Event()
        self.probe = None         # optional callable, its value is stored per request
        self.on_arrival = []      # callables(entry) when a request has been read
        self.on_request = []      # callables(entry) after it was answered
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            server_version = "earshot-mock/1"

            def log_message(self, fmt, *args):   # keep test output clean
                pass

            def _any(self):
                outer._handle(self)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _any

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True
            allow_reuse_address = True

            def handle_error(self, request, client_address):
                exc = sys.exc_info()[1]
                if isinstance(exc, (ConnectionError, BrokenPipeError, TimeoutError)):
                    return
                super().handle_error(request, client_address)

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       kwargs={"poll_interval": 0.1},
                                       name=f"mock-{name}", daemon=True)
        self.thread.start()

    # ---- configuration

    def route(self, prefix, handler):
        with self.lock:
            self.routes.append((prefix, handler))
            self.routes.sort(key=lambda r: -len(r[0]))

    def add_faults(self, prefix, faults):
        with self.lock:
            self.faults.setdefault(prefix, []).extend(faults)

    def pending_faults(self, prefix=None):
        with self.lock:
            if prefix is None:
                return sum(len(v) for v in self.faults.values())
            return len(self.faults.get(prefix, []))

    def clear_faults(self):
        with self.lock:
            self.faults.clear()

    # ---- inspection

    def log(self, prefix=None, since=0):
        with self.lock:
            reqs = self.requests[since:]
        if prefix is not None:
            reqs = [r for r in reqs if r["path"].startswith(prefix)]
        return reqs

    def mark(self):
        with self.lock:
            return len(self.requests)

    def dump(self, path):
        with self.lock:
            reqs = list(self.requests)
        with open(path, "w", encoding="utf-8") as f:
            for r in reqs:
                d = {k: v for k, v in r.items() if k not in ("body", "delivery")}
                d["body"] = r["body"][:2000].decode("utf-8", "replace")
                if "fault" in d and d["fault"] is not None:
                    d["fault"] = {k: (v if isinstance(v, (int, float, str, bool)) else repr(v)[:80])
                                  for k, v in d["fault"].items()}
                f.write(json.dumps(d, ensure_ascii=False, default=repr) + "\n")

    def close(self):
        self.stopping.set()
        try:
            self.httpd.shutdown()
        finally:
            self.httpd.server_close()

    # ---- request handling

    def _pop_fault(self, path):
        with self.lock:
            best = None
            for prefix, queue in self.faults.items():
                if queue and path.startswith(prefix) and (best is None or len(prefix) > len(best)):
                    best = prefix
            return self.faults[best].pop(0) if best is not None else None

    def _read_body(self, h):
        te = (h.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            chunks = []
            while True:
                line = h.rfile.readline(1024)
                if not line:
                    break
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while h.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(h.rfile.read(size))
                h.rfile.readline(1024)
            return b"".join(chunks)
        n = int(h.headers.get("Content-Length") or 0)
        return h.rfile.read(n) if n else b""

    def _handle(self, h):
        parsed = urllib.parse.urlsplit(h.path)
        body = self._read_body(h)
        entry = {
            "server": self.name,
            "t": time.monotonic(),
            "wall": time.time(),
            "method": h.command,
            "raw_path": h.path,
            "path": parsed.path,
            "query": {k: v[-1] for k, v in urllib.parse.parse_qs(parsed.query,
                                                                 keep_blank_values=True).items()},
            "headers": {k.lower(): v for k, v in h.headers.items()},
            "body": body,
            "status": None,
            "fault": None,
        }
        if self.probe is not None:
            try:
                entry["probe"] = self.probe()
            except Exception as e:   # noqa: BLE001 - diagnostic only
                entry["probe"] = repr(e)
        with self.lock:
            self.requests.append(entry)
        for cb in list(self.on_arrival):
            cb(entry)
        fault = self._pop_fault(parsed.path)
        entry["fault"] = fault
        try:
            self._answer(h, entry, fault)
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError):
            entry["error"] = "client went away"
            h.close_connection = True
        entry["t_done"] = time.monotonic()
        for cb in list(self.on_request):
            cb(entry)

    def _route_response(self, entry):
        with self.lock:
            routes = list(self.routes)
        for prefix, handler in routes:
            if entry["path"].startswith(prefix):
                return handler(entry)
        return Response(404, {"error": "Record not found"})

    def _answer(self, h, entry, fault):
        if fault and fault.get("delay"):
            self.stopping.wait(fault["delay"])
        if fault and fault.get("hang"):
            entry["status"] = "hang"
            # Hold the connection open without a byte of answer until the test ends.
            self.stopping.wait(600)
            h.close_connection = True
            return
        if fault and fault.get("close"):
            entry["status"] = "closed"
            h.close_connection = True
            return
        if fault and fault.get("body_size"):
            self._stream(h, entry, fault)
            return
        if fault and ("status" in fault or "body" in fault):
            resp = Response(fault.get("status", 200), fault.get("body", b""),
                            fault.get("headers"))
        else:
            resp = self._route_response(entry)
            if fault and fault.get("transform"):
                resp.body = fault["transform"](resp.body)
        entry["status"] = resp.status
        h.send_response(resp.status)
        for k, v in resp.headers.items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(resp.body)))
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(resp.body)
        h.wfile.flush()

    def _stream(self, h, entry, fault):
        total = int(fault["body_size"])
        entry["status"] = fault.get("status", 200)
        entry["bytes_sent"] = 0
        h.close_connection = True
        h.send_response(entry["status"])
        h.send_header("Content-Type", "application/json; charset=utf-8")
        if fault.get("content_length"):
            h.send_header("Content-Length", str(total))
        else:
            h.send_header("Connection", "close")
        h.end_headers()
        unit = b'{"id":"1","content":"' + b"x" * 4000 + b'"},'
        chunk = b"[" + unit * 16
        chunk = chunk[: 64 * 1024]
        sent = 0
        try:
            while sent < total and not self.stopping.is_set():
                piece = chunk[: total - sent]
                h.wfile.write(piece)
                sent += len(piece)
                entry["bytes_sent"] = sent
                chunk = unit * 16
        finally:
            entry["bytes_sent"] = sent


# --------------------------------------------------------------------------------------
# Mastodon instance


_TEMPLATE = None


def status_template():
    """The status object recorded by Mastodon.py's test suite (halcy/Mastodon.py, MIT),
    tests/cassettes test_hashtag_tl, GET /api/v1/timelines/tag/hoot."""
    global _TEMPLATE
    if _TEMPLATE is None:
        with open(TEMPLATE_PATH, encoding="utf-8") as f:
            _TEMPLATE = json.load(f)[0]
    return copy.deepcopy(_TEMPLATE)


class MastodonInstance:
    """Hashtag timelines of one Mastodon instance, served from a MockServer.

    GET /api/v1/timelines/tag/<tag>?limit=&max_id=&since_id=&min_id= behaves as
    Mastodon does: without min_id the newest `limit` statuses, with min_id the
    `limit` statuses immediately newer than min_id; always ordered newest first,
    with a Link header (rel=next by max_id, rel=prev by min_id).  Ids are numeric
    strings compared by length then lexically.
    """

    TIMELINE = "/api/v1/timelines/tag/"

    def __init__(self, server, tags=("acme",), first_id=117020593741189701, id_step=1):
        self.server = server
        self.url = server.url
        self.lock = threading.RLock()
        self.timelines = {t: [] for t in tags}
        self._next_id = int(first_id)
        self.id_step = id_step
        self.by_id = {}
        server.route(self.TIMELINE, self._timeline)
        server.route("/api/v2/instance", self._instance)
        server.route("/api/v1/instance", self._instance)

    def timeline_path(self, tag="acme"):
        return self.TIMELINE + tag

    def new_id(self):
        with self.lock:
            i = str(self._next_id)
            self._next_id += self.id_step
            return i

    def build_status(self, text, created_at=None, age=None, id=None, acct="alice@example.social",
                     name=None, followers=10, lang="en", tag="acme", replies=0, reblogs=0,
                     likes=0):
        """A status dict shaped like the recorded fixture.

        created_at: epoch seconds (default: now - age, age default 0).  text: HTML
        content.  acct: "user" (local) or "user@domain" (remote).
        """
        if id is None:
            id = self.new_id()
        if created_at is None:
            created_at = time.time() - (age or 0)
        s = status_template()
        user, _, domain = acct.partition("@")
        if domain:
            base = f"https://{domain}"
        else:
            base = self.url
        acc_id = str(100000000000000000 + zlib.crc32(acct.encode()))
        s.update({
            "id": id,
            "created_at": iso_ms(created_at),
            "language": lang,
            "uri": f"{base}/users/{user}/statuses/{id}",
            "url": f"{base}/@{user}/{id}",
            "content": text,
            "replies_count": replies,
            "reblogs_count": reblogs,
            "favourites_count": likes,
            "tags": [{"name": tag, "url": f"{self.url}/tags/{tag}"}],
        })
        acc = s["account"]
        acc.update({
            "id": acc_id,
            "username": user,
            "acct": acct,
            "display_name": name if name is not None else user.capitalize(),
            "followers_count": followers,
            "url": f"{base}/@{user}",
            "uri": f"{base}/users/{user}",
        })
        return s

    def add_status(self, text, **kw):
        """Build a status (see build_status) and publish it on its tag timeline."""
        return self.add_statuses([dict(text=text, **kw)])[0]

    def add_statuses(self, specs):
        """Publish several statuses atomically (one lock hold: a poll sees all or none)."""
        with self.lock:
            out = []
            for spec in specs:
                spec = dict(spec)
                s = self.build_status(**spec)
                tag = spec.get("tag", "acme")
                self.timelines.setdefault(tag, []).append(s)
                self.timelines[tag].sort(key=lambda x: id_key(x["id"]))
                self.by_id[s["id"]] = s
                out.append(copy.deepcopy(s))
            return out

    def statuses(self, tag="acme"):
        with self.lock:
            return copy.deepcopy(self.timelines.get(tag, []))

    def render(self, statuses):
        return json.dumps(statuses, ensure_ascii=False).encode()

    # ---- routes

    def _instance(self, entry):
        return Response(200, {
            "domain": f"127.0.0.1:{self.server.port}", "title": "earshot mock",
            "version": "4.5.0", "source_url": "https://github.com/mastodon/mastodon",
            "configuration": {"timelines_access": {
                "live_feeds": {"local": "disabled", "remote": "disabled"},
                "hashtag_feeds": {"local": "public", "remote": "public"},
                "trending_link_feeds": {"local": "public", "remote": "public"}}},
        })

    def _timeline(self, entry):
        tag = urllib.parse.unquote(entry["path"][len(self.TIMELINE):]).lower()
        q = entry["query"]
        with self.lock:
            if tag not in self.timelines:
                return Response(404, {"error": "Record not found"})
            items = list(self.timelines[tag])
        try:
            limit = int(q.get("limit", "20"))
        except ValueError:
            limit = 20
        limit = max(1, min(40, limit))
        max_id, since_id, min_id = q.get("max_id"), q.get("since_id"), q.get("min_id")
        if max_id:
            items = [s for s in items if id_key(s["id"]) < id_key(max_id)]
        if since_id:
            items = [s for s in items if id_key(s["id"]) > id_key(since_id)]
        if min_id:
            items = [s for s in items if id_key(s["id"]) > id_key(min_id)]
            page = items[:limit]
        else:
            page = items[-limit:]
        page = list(reversed(page))
        entry["served_ids"] = [s["id"] for s in page]
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Cache-Control": "private, no-store",
            "Vary": "Authorization, Origin",
            "X-RateLimit-Limit": "300",
            "X-RateLimit-Remaining": "299",
            "X-RateLimit-Reset": iso_ms(time.time() + 300)[:-1] + "000Z",
        }
        if page:
            base = f"{self.url}{self.TIMELINE}{tag}"
            extra = f"&limit={q['limit']}" if "limit" in q else ""
            headers["Link"] = (f'<{base}?max_id={page[-1]["id"]}{extra}>; rel="next", '
                               f'<{base}?min_id={page[0]["id"]}{extra}>; rel="prev"')
        return Response(200, json.dumps(page, ensure_ascii=False).encode(), headers,
                        content_type=None)

    # ---- helpers for tests

    def fault_with_content(self, raw_content, name=None, **status_kw):
        """A one-shot fault answering a page of one status (fresh id, not published)
        whose `content` is the raw bytes given, e.g. invalid UTF-8 or an HTML bomb."""
        marker = "@@RAW-CONTENT@@"
        s = self.build_status(marker, **status_kw)
        body = json.dumps([s], ensure_ascii=False).encode().replace(marker.encode(), raw_content)
        return {"name": name or "raw-content", "body": body,
                "headers": {"Content-Type": "application/json; charset=utf-8"}}

    def fault_invalid_utf8(self, name="bad-utf8", **status_kw):
        return self.fault_with_content(b"<p>acme refund \xff\xfe\xc3\x28 \xed\xa0\x80 now</p>",
                                       name, **status_kw)

    def fault_html_bomb(self, depth=150000, name="html-bomb", **status_kw):
        return self.fault_with_content(b"<b>" * depth + b"<p>acme refund please</p>" + b"</b>" * depth,
                                       name, **status_kw)

    def timeline_requests(self, tag="acme", since=0):
        return self.server.log(self.timeline_path(tag), since)

    def served_ids(self, tag="acme", since=0):
        ids = set()
        for r in self.timeline_requests(tag, since):
            ids.update(r.get("served_ids", []))
        return ids


# --------------------------------------------------------------------------------------
# webhook receiver


class WebhookReceiver:
    """Records every request to `path` on a MockServer and answers 200 by default.

    responder(n, entry) -> fault dict or None lets a test script answers for the
    n-th request (0-based), e.g. every 5th one 500.  Scripted faults on the server
    for the same path take precedence (consumed first).
    """

    def __init__(self, server, path="/hook", responder=None):
        self.server = server
        self.path = path
        self.url = server.url + path
        self.responder = responder
        self.lock = threading.RLock()
        self.n = 0
        self.deliveries = []   # every request: dict(t, status, headers, key, json, raw, error)
        server.route(path, self._hook)
        server.on_arrival.append(self._arrived)
        server.on_request.append(self._answered)

    def script(self, faults):
        self.server.add_faults(self.path, faults)

    def _hook(self, entry):
        with self.lock:
            n = self.n
            self.n += 1
        f = self.responder(n, entry) if self.responder else None
        if f:
            if f.get("delay"):
                self.server.stopping.wait(f["delay"])
            if "status" in f or "body" in f:
                return Response(f.get("status", 200), f.get("body", b""), f.get("headers"))
        return Response(200, {"ok": True})

    def _arrived(self, entry):
        if entry["path"] != self.path:
            return
        d = {"t": entry["t"], "wall": entry["wall"], "status": None,
             "method": entry["method"], "headers": entry["headers"],
             "key": entry["headers"].get("idempotency-key"), "raw": entry["body"],
             "json": None, "error": None}
        try:
            d["json"] = json.loads(entry["body"].decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            d["error"] = f"body is not UTF-8 JSON: {e}"
        entry["delivery"] = d
        with self.lock:
            self.deliveries.append(d)

    def _answered(self, entry):
        d = entry.get("delivery")
        if d is not None and entry["path"] == self.path:
            d["status"] = entry["status"]

    def all(self):
        with self.lock:
            return list(self.deliveries)

    def ok(self):
        """Requests answered 2xx (status None: not answered yet, "hang": never)."""
        return [d for d in self.all() if isinstance(d["status"], int) and 200 <= d["status"] < 300]

    def ok_ids(self):
        return [d["key"] for d in self.ok()]

    def by_post(self, ok_only=True):
        """post.id (status uri) -> [delivery]."""
        out = {}
        for d in (self.ok() if ok_only else self.all()):
            pid = ((d["json"] or {}).get("post") or {}).get("id")
            out.setdefault(pid, []).append(d)
        return out

    def wait_posts(self, uris, timeout=DEFAULT_TIMEOUT, ok_only=True):
        uris = set(uris)
        wait_until(lambda: uris <= set(self.by_post(ok_only)), timeout,
                   f"webhook deliveries for {len(uris)} posts "
                   f"(missing: {sorted(uris - set(self.by_post(ok_only)))[:5]})")


# --------------------------------------------------------------------------------------
# systemd notify socket


class NotifySocket:
    """An AF_UNIX SOCK_DGRAM socket for NOTIFY_SOCKET, collecting messages in a thread.

    messages: list of (monotonic time, [lines]).  Bound in a short /tmp directory
    because sun_path is limited to 108 bytes.
    """

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="es-notify-", dir="/tmp")
        self.path = os.path.join(self.dir, "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.1)
        self.lock = threading.Lock()
        self.messages = []
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="notify", daemon=True)
        self.thread.start()

    def _run(self):
        while not self._stop.is_set():
            try:
                data, anc, _, _ = self.sock.recvmsg(65536, socket.CMSG_SPACE(64 * 4))
            except socket.timeout:
                continue
            except OSError:
                break
            for level, typ, cdata in anc:   # close fds passed for BARRIER=1
                if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
                    for i in range(len(cdata) // 4):
                        try:
                            os.close(int.from_bytes(cdata[4 * i:4 * i + 4], sys.byteorder))
                        except OSError:
                            pass
            lines = [ln for ln in data.decode("utf-8", "replace").split("\n") if ln]
            with self.lock:
                self.messages.append((time.monotonic(), lines))

    def mark(self):
        with self.lock:
            return len(self.messages)

    def lines(self, since=0):
        with self.lock:
            return [ln for _, lines in self.messages[since:] for ln in lines]

    def find(self, want, since=0):
        """Index of the first message at/after `since` with a line equal to `want`
        (or starting with it if it ends with '='), or with pred(line) if callable."""
        with self.lock:
            msgs = list(enumerate(self.messages))[since:]
        for i, (_, lines) in msgs:
            for ln in lines:
                if callable(want):
                    if want(ln):
                        return i
                elif (ln.startswith(want) if want.endswith("=") else ln == want):
                    return i
        return None

    def last_value(self, key, since=0):
        """Value of the last KEY=... line at/after `since` (None if none)."""
        val = None
        for ln in self.lines(since):
            if ln.startswith(key + "="):
                val = ln[len(key) + 1:]
        return val

    def wait_for(self, want, timeout=DEFAULT_TIMEOUT, since=0, proc=None):
        """Wait for a message (see find); returns its index.  Fails early if proc exits."""
        def pred():
            i = self.find(want, since)
            if i is not None:
                return ("found", i)
            if proc is not None and proc.poll() is not None:
                return ("exited", proc.returncode)
            return None
        kind, val = wait_until(pred, timeout, f"notify message {want!r}")
        if kind == "exited":
            raise AssertionError(f"earshotd exited with status {val} before sending {want!r}")
        return val

    def dump(self, path):
        with self.lock:
            msgs = list(self.messages)
        t0 = msgs[0][0] if msgs else 0
        with open(path, "w", encoding="utf-8") as f:
            for t, lines in msgs:
                f.write(f"+{t - t0:9.3f} " + " | ".join(lines) + "\n")

    def close(self):
        self._stop.set()
        try:
            self.sock.close()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


# --------------------------------------------------------------------------------------
# the daemon


_libc = ctypes.CDLL(None, use_errno=True)
_prctl = _libc.prctl
_PR_SET_PDEATHSIG = 1


def _child_setup(parent_pid):
    """Runs in the forked child before exec: die with the test (PR_SET_PDEATHSIG)."""
    def fn():
        _prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        if os.getppid() != parent_pid:   # the test died before prctl took effect
            os._exit(1)
    return fn


def _binary(env_name, fallback_names):
    p = os.environ.get(env_name)
    if p:
        return p
    for name in fallback_names:
        for d in (os.path.join(HERE, "..", "..", "build"),):
            cand = os.path.join(d, name)
            if os.access(cand, os.X_OK):
                return os.path.abspath(cand)
    return None


def earshotd_path():
    return _binary("EARSHOTD", ["daemon/earshotd"])


def earshotctl_path():
    return _binary("EARSHOTCTL", ["daemon/earshotctl"])


def plugin_dir():
    p = os.environ.get("EARSHOT_PLUGIN_DIR")
    if p:
        return p
    d = earshotd_path()
    if d:
        cand = os.path.join(os.path.dirname(os.path.dirname(d)), "plugins")
        if os.path.isdir(cand):
            return cand
    return None


class Daemon:
    """One earshotd configuration + state dir, started and stopped as often as needed.

    Config files are written into <case>/<name>/cfg/, the store is in
    <case>/<name>/state/, and every start's stderr goes to <case>/<name>-<n>.log.
    Call start() from the main thread (PR_SET_PDEATHSIG follows the parent thread).
    """

    def __init__(self, case, config, name="earshotd", files=None, env=None):
        self.case = case
        self.name = name
        self.base = os.path.join(case.dir, name)
        self.cfg_dir = os.path.join(self.base, "cfg")
        self.state_dir = os.path.join(self.base, "state")
        os.makedirs(self.cfg_dir, exist_ok=True)
        os.makedirs(self.state_dir, exist_ok=True)
        self.config_path = os.path.join(self.cfg_dir, "earshot.yaml")
        self.env = dict(env or {})
        self.notify = NotifySocket()
        case.cleanups.append(self._cleanup)
        self.proc = None
        self.runs = 0
        self.log_paths = []
        self._logf = None
        self.start_mark = 0
        self.write_config(config)
        for rel, content in (files or {}).items():
            self.write_file(rel, content)

    # ---- files

    def write_config(self, config):
        text = config if isinstance(config, str) else yaml_dump(config)
        self.write_file("earshot.yaml", text)
        return text

    def write_file(self, rel, content):
        path = os.path.join(self.cfg_dir, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        mode = "wb" if isinstance(content, bytes) else "w"
        with open(path, mode, **({} if mode == "wb" else {"encoding": "utf-8"})) as f:
            f.write(content if isinstance(content, (bytes, str)) else yaml_dump(content))
        return path

    # ---- process control

    def argv(self, extra=()):
        exe = earshotd_path()
        return [exe, "--config", self.config_path, "--state-dir", self.state_dir,
                "--plugin-dir", plugin_dir(), "--log-level", "debug", *extra]

    def start(self, extra_args=(), env=None, wait=True, journal=False, watchdog_usec=None):
        check(self.proc is None or self.proc.poll() is not None,
              "start() while the daemon is still running")
        self.runs += 1
        log_path = os.path.join(self.case.dir, f"{self.name}-{self.runs}.log")
        self.log_paths.append(log_path)
        if self._logf:
            self._logf.close()
        self._logf = open(log_path, "wb")
        e = {k: v for k, v in os.environ.items()
             if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "JOURNAL_STREAM",
                          "CREDENTIALS_DIRECTORY", "LISTEN_FDS", "LISTEN_PID", "INVOCATION_ID")}
        e["NOTIFY_SOCKET"] = self.notify.path
        e.setdefault("ASAN_OPTIONS", "abort_on_error=0:detect_leaks=1")
        e.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
        e.update(self.env)
        e.update(env or {})
        if watchdog_usec:
            e["WATCHDOG_USEC"] = str(int(watchdog_usec))
        if journal:
            st = os.fstat(self._logf.fileno())
            e["JOURNAL_STREAM"] = f"{st.st_dev}:{st.st_ino}"
        self.start_mark = self.notify.mark()
        argv = self.argv(extra_args)
        self.case.note(f"start #{self.runs}" + (f": {' '.join(argv)}" if self.runs == 1 else ""))
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self._logf,
                                     stderr=self._logf, env=e, cwd=self.base,
                                     preexec_fn=_child_setup(os.getpid()))
        if wait:
            self.wait_ready()
        return self.proc

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def wait_ready(self, timeout=DEFAULT_TIMEOUT):
        self.notify.wait_for("READY=1", timeout, since=self.start_mark, proc=self.proc)

    def reload(self, timeout=DEFAULT_TIMEOUT):
        """SIGHUP; wait for RELOADING=1 (with MONOTONIC_USEC=) and then READY=1."""
        check(self.alive(), "reload() but the daemon is not running")
        m = self.notify.mark()
        log_mark = self.log_size()
        self.proc.send_signal(signal.SIGHUP)
        i = self.notify.wait_for("RELOADING=1", timeout, since=m, proc=self.proc)
        with self.notify.lock:
            lines = self.notify.messages[i][1]
        check(any(ln.startswith("MONOTONIC_USEC=") for ln in lines),
              f"RELOADING=1 came without MONOTONIC_USEC= in the same message: {lines}")
        self.notify.wait_for("READY=1", timeout, since=i, proc=self.proc)
        return log_mark

    def stop(self, timeout=5.0, sig=signal.SIGTERM):
        """SIGTERM (or sig); assert exit status 0 within `timeout` s and STOPPING=1."""
        check(self.alive(), f"stop(): earshotd already exited with {self.proc and self.proc.returncode}")
        m = self.notify.mark()
        t0 = time.monotonic()
        name = signal.Signals(sig).name
        self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            self.check_sanitizers()
            raise AssertionError(f"earshotd did not exit within {timeout}s of {name}")
        dt = time.monotonic() - t0
        self.check_sanitizers()
        check(rc == 0, f"earshotd exited with status {rc} after {name} (want 0)")
        # STOPPING=1 must have been sent before exit; allow the reader thread a moment.
        self.notify.wait_for("STOPPING=1", 2.0, since=m)
        self.case.note(f"stopped run #{self.runs} in {dt:.2f}s")
        return rc

    def kill9(self):
        if self.alive():
            self.proc.kill()
        if self.proc:
            self.proc.wait()
            self.case.note(f"killed run #{self.runs} (SIGKILL)")
            self.check_sanitizers()

    def check_sanitizers(self):
        """Record a failure for every ASan/UBSan/LSan report in the latest run's log."""
        if not self.log_paths or getattr(self, "_scanned", None) == self.runs:
            return
        self._scanned = self.runs
        text = self.log_text()
        for pat in (r"ERROR: AddressSanitizer", r"ERROR: LeakSanitizer", r"runtime error:",
                    r"WARNING: ThreadSanitizer", r"ERROR: UndefinedBehaviorSanitizer"):
            m = re.search(pat, text)
            if m:
                line = text[m.start():text.find("\n", m.start())]
                self.case.expect(False, f"sanitizer report in {self.log_paths[-1]}: {line[:200]}")

    def _cleanup(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        try:
            self.check_sanitizers()
        except Exception:   # noqa: BLE001
            traceback.print_exc()
        if self._logf:
            self._logf.close()
            self._logf = None
        try:
            self.notify.dump(os.path.join(self.case.dir, f"{self.name}-notify.log"))
        finally:
            self.notify.close()

    # ---- logs

    def log_size(self):
        p = self.log_paths[-1] if self.log_paths else None
        return os.path.getsize(p) if p and os.path.exists(p) else 0

    def log_text(self, run=None, since=0):
        """Text of one run's log (default: the latest run) from byte offset `since`."""
        if not self.log_paths:
            return ""
        p = self.log_paths[(run - 1) if run else -1]
        with open(p, "rb") as f:
            f.seek(since)
            return f.read().decode("utf-8", "replace")

    def all_logs(self):
        return "".join(self.log_text(run=i + 1) for i in range(len(self.log_paths)))

    # ---- store

    def db_path(self):
        return os.path.join(self.state_dir, "earshot.db")

    def db(self, sql, params=()):
        """Rows of a read-only query on the store, as dicts."""
        path = self.db_path()
        check(os.path.exists(path), f"store {path} does not exist")
        uri = "file:" + urllib.parse.quote(path) + "?mode=ro"
        for attempt in range(50):
            con = sqlite3.connect(uri, uri=True, timeout=10)
            try:
                con.row_factory = sqlite3.Row
                return [dict(r) for r in con.execute(sql, params).fetchall()]
            except sqlite3.OperationalError as e:
                if "locked" in str(e) or "busy" in str(e):
                    time.sleep(POLL)
                    continue
                raise
            finally:
                con.close()
        raise AssertionError(f"store stayed locked for query {sql!r}")

    def db_try(self, sql, params=()):
        """db(), but [] if the store or table does not exist yet."""
        try:
            return self.db(sql, params)
        except (AssertionError, sqlite3.OperationalError, sqlite3.DatabaseError):
            return []

    def alerts(self):
        return self.db_try("SELECT * FROM alerts")

    def alerts_by_post(self):
        out = {}
        for a in self.alerts():
            out.setdefault(a.get("post_id"), []).append(a)
        return out

    def ctl(self, *args, timeout=20):
        ctl = earshotctl_path()
        check(ctl, "EARSHOTCTL is not set")
        argv = [ctl, "--state-dir", self.state_dir, *args]
        r = subprocess.run(argv, capture_output=True, timeout=scaled(timeout),
                           env={k: v for k, v in os.environ.items() if k != "NOTIFY_SOCKET"})
        out = r.stdout.decode("utf-8", "replace")
        err = r.stderr.decode("utf-8", "replace")
        name = "-".join(a.strip("-") for a in args).replace("/", "_")[:120]
        self.case.save(f"ctl-{name}.txt",
                       f"$ {' '.join(argv)}\nexit {r.returncode}\n--- stdout\n{out}\n--- stderr\n{err}")
        return r.returncode, out, err


def run_check_config(case, config_path, env=None, extra=(), timeout=20):
    """earshotd --check-config --config F; returns (exit status, stdout+stderr)."""
    exe = earshotd_path()
    e = {k: v for k, v in os.environ.items() if k != "NOTIFY_SOCKET"}
    e["EARSHOT_PLUGIN_DIR"] = plugin_dir()
    e.update(env or {})
    argv = [exe, "--check-config", "--config", config_path, *extra]
    r = subprocess.run(argv, capture_output=True, timeout=scaled(timeout), env=e,
                       stdin=subprocess.DEVNULL)
    out = r.stdout.decode("utf-8", "replace") + r.stderr.decode("utf-8", "replace")
    case.save(f"check-config-{os.path.basename(config_path)}.txt",
              f"$ {' '.join(argv)}\nexit {r.returncode}\n{out}")
    return r.returncode, out


# --------------------------------------------------------------------------------------
# cases


class Case:
    def __init__(self, name):
        self.name = name
        root = os.environ.get("EARSHOT_TEST_LOGDIR") or os.path.join(HERE, "logs")
        self.dir = os.path.abspath(os.path.join(root, name))
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        self.cleanups = []
        self.servers = []
        self.daemons = []
        self.failures = []
        self.t0 = time.monotonic()
        seed = os.environ.get("EARSHOT_TEST_SEED")
        self.seed = int(seed) if seed else random.randrange(1 << 30)
        self.random = random.Random(self.seed)
        self._notes = open(os.path.join(self.dir, "case.log"), "w", encoding="utf-8")
        self.note(f"case {name}, seed {self.seed} (EARSHOT_TEST_SEED={self.seed} to repeat)")

    def note(self, msg):
        line = f"[{time.monotonic() - self.t0:8.3f}] {msg}"
        print(line, flush=True)
        self._notes.write(line + "\n")
        self._notes.flush()

    def save(self, rel, text):
        with open(os.path.join(self.dir, rel), "w", encoding="utf-8") as f:
            f.write(text)

    def server(self, name="mock"):
        s = MockServer(name)
        self.servers.append(s)
        return s

    def daemon(self, config, **kw):
        d = Daemon(self, config, **kw)
        self.daemons.append(d)
        return d

    def expect(self, cond, msg):
        """A soft assertion: recorded, the case goes on, and fails at the end."""
        if not cond:
            self.failures.append(msg)
            self.note("EXPECTATION FAILED: " + msg)
        return bool(cond)

    def finish(self, ok):
        for fn in reversed(self.cleanups):
            try:
                fn()
            except Exception:   # noqa: BLE001
                traceback.print_exc()
        for s in self.servers:
            try:
                s.close()
                s.dump(os.path.join(self.dir, f"requests-{s.name}.jsonl"))
            except Exception:   # noqa: BLE001
                traceback.print_exc()
        self._notes.close()
        if ok and not os.environ.get("EARSHOT_TEST_KEEP"):
            shutil.rmtree(self.dir, ignore_errors=True)
        else:
            print(f"case directory kept: {self.dir}", flush=True)


def _tail(path, n=40):
    try:
        with open(path, "rb") as f:
            lines = f.read().decode("utf-8", "replace").splitlines()
        return "\n".join(lines[-n:])
    except OSError:
        return ""


def main(name, fn):
    """Run fn(case); exit 0 (pass), 1 (fail) or 77 (skip)."""
    if not earshotd_path() or not os.access(earshotd_path(), os.X_OK):
        print("SKIP: EARSHOTD is not set (or not executable)")
        sys.exit(EXIT_SKIP)
    if not plugin_dir():
        print("SKIP: EARSHOT_PLUGIN_DIR is not set")
        sys.exit(EXIT_SKIP)
    case = Case(name)
    ok = False
    code = 1
    try:
        fn(case)
        for d in case.daemons:
            d.check_sanitizers()
        if case.failures:
            raise AssertionError(f"{len(case.failures)} expectation(s) failed:\n  - "
                                 + "\n  - ".join(case.failures))
        ok = True
        code = 0
    except Skip as e:
        print(f"SKIP: {e}")
        ok = True
        code = EXIT_SKIP
    except BaseException as e:   # noqa: BLE001 - report everything, incl. KeyboardInterrupt
        print(f"FAIL: {name}: {e}", flush=True)
        traceback.print_exc()
        for d in case.daemons:
            if d.log_paths:
                print(f"--- last lines of {d.log_paths[-1]}:")
                print(_tail(d.log_paths[-1]))
    finally:
        case.finish(ok)
    if code == 0:
        print(f"PASS: {name} ({time.monotonic() - case.t0:.1f}s)")
    sys.exit(code)
