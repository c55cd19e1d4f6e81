#!/usr/bin/env python3
"""source_stream: a Mastodon hashtag feed that streams (server-sent events) as well as polls.

One earshotd, one loopback Mastodon with the REST hashtag timeline and the streaming API
(GET /api/v1/streaming/hashtag?tag=acme, a heartbeat comment every 0.5 s, events only for
what is published after the connect, as Mastodon does), `stream: true`, an access token and a
REST interval of 60 s, so that whatever alerts within 20 s came over the stream.

  1. The daemon connects with the token (Authorization: Bearer, Accept: text/event-stream)
     and logs "stream connected"; a complaint published on the stream (and the timeline)
     alerts before any REST poll has served it.
  2. The server drops the connection in the middle of an event (its status is published on
     the timeline), refuses streams for a while (503) and publishes two more complaints on
     the timeline only. The daemon logs "stream dropped (...), reconnecting in ...",
     reconnects with backoff, polls REST at once after the reconnect and then hears a fourth
     complaint on the stream: all of them alert exactly once (no loss, no duplicate).
  3. A `delete` event for the first complaint: the webhook gets event "deleted" for its
     alert. A reload (SIGHUP) closes the stream and opens the new config's (one stays
     open), which carries the next complaint.
  4. The stream endpoint answers 401 from now on and the connection drops: exactly one
     operator alert (rules ["source-blocked"]) naming the feed and access_token; REST polling
     goes on. The token never appears in the daemon's logs.
"""

import json
import threading
import time

import harness as H

TOKEN = "stream-secret-token-7f3a"
STREAM = "/api/v1/streaming/hashtag"


class StreamingServer(H.MockServer):
    """A MockServer whose /api/v1/streaming/ paths answer with a live event stream."""

    def __init__(self, name):
        super().__init__(name)
        self.cond = threading.Condition()
        self.events = []          # framed SSE events, in order
        self.generation = 0       # bumped to drop every open stream mid-event
        self.refuse = None        # (status, body) to answer instead of a stream
        self.open_streams = 0
        self.stream_requests = []

    def publish(self, event, data):
        with self.cond:
            self.events.append(f"event: {event}\ndata: {data}\n\n".encode())
            self.cond.notify_all()

    def drop_all(self, partial):
        """Cut every open stream after the first half of `partial` (an unfinished event)."""
        with self.cond:
            self.partial = partial
            self.generation += 1
            self.cond.notify_all()

    def _answer(self, h, entry, fault):
        if not entry["path"].startswith("/api/v1/streaming/"):
            return super()._answer(h, entry, fault)
        self.stream_requests.append(entry)
        with self.cond:
            refuse = self.refuse
            at = len(self.events)
            gen = self.generation
        if refuse:
            status, body = refuse
            entry["status"] = status
            h.send_response(status)
            h.send_header("Content-Type", "application/json; charset=utf-8")
            h.send_header("Content-Length", str(len(body)))
            h.end_headers()
            h.wfile.write(body)
            h.wfile.flush()
            return
        entry["status"] = 200
        h.close_connection = True
        h.send_response(200)
        h.send_header("Content-Type", "text/event-stream")
        h.send_header("Cache-Control", "no-store")
        h.send_header("Connection", "close")
        h.end_headers()
        h.wfile.write(b":)\n")
        h.wfile.flush()
        with self.cond:
            self.open_streams += 1
        try:
            while not self.stopping.is_set():
                with self.cond:
                    if len(self.events) == at and self.generation == gen:
                        self.cond.wait(0.5)
                    new = self.events[at:]
                    at = len(self.events)
                    dropped = self.generation != gen
                    partial = getattr(self, "partial", b"")
                if dropped:
                    h.wfile.write(partial[: len(partial) // 2])
                    h.wfile.flush()
                    return
                for ev in new:
                    h.wfile.write(ev)
                if not new:
                    h.wfile.write(b":thump\n")
                h.wfile.flush()
        finally:
            with self.cond:
                self.open_streams -= 1


def complaints(hook, uri):
    return [d for d in hook.ok()
            if ((d["json"] or {}).get("post") or {}).get("id") == uri
            and (d["json"] or {}).get("event", "new") == "new"]


def blocked_alerts(hook):
    return [x for x in hook.ok()
            if (x["json"] or {}).get("network") == "earshot"
            and "source-blocked" in ((x["json"] or {}).get("rules") or [])]


def test(case):
    hook = H.WebhookReceiver(case.server("hook"), "/hook")
    srv = StreamingServer("mastodon")
    case.servers.append(srv)
    inst = H.MastodonInstance(srv, tags=("acme",), first_id=180000000000000001)

    cfg = H.make_config(
        sources=[H.mastodon_source("masto", inst.url, tags=["acme"], interval="60s",
                                   stream=True, access_token=TOKEN)],
        notifiers=[H.webhook_notifier("hook", hook.url)])
    d = case.daemon(cfg)
    d.start()

    # 1. connected; a complaint on the stream alerts long before the REST interval
    H.wait_until(lambda: srv.open_streams == 1, 20, "the stream connection")
    req = srv.stream_requests[0]
    H.check(req["query"].get("tag") == "acme" and req["path"] == STREAM,
            f"stream request {req['raw_path']}")
    H.check(req["headers"].get("authorization") == f"Bearer {TOKEN}", "the token is sent")
    H.check("text/event-stream" in req["headers"].get("accept", ""), "Accept: text/event-stream")
    H.wait_until(lambda: "stream connected" in d.log_text(), 20, "'stream connected' logged")
    # the catch-up poll after the connect has run (the feed's first poll: nothing yet)
    H.wait_until(lambda: len(inst.timeline_requests()) >= 1, 20, "the poll after the connect")

    t0 = time.monotonic()
    a = inst.add_status("<p>acme I want a refund, now</p>", acct="ann@example.social")
    srv.publish("update", json.dumps(a))
    hook.wait_posts([a["uri"]], timeout=20)
    latency = time.monotonic() - t0
    H.check(a["id"] not in inst.served_ids(), "the first complaint came over the stream, "
            "not over REST")
    case.note(f"stream latency {latency:.2f}s")

    # 2. a drop mid-event, an outage with posts on REST only, a reconnect
    srv.refuse = (503, b'{"error":"streaming is restarting"}')
    b = inst.add_status("<p>acme refund please, cut off mid-event</p>", acct="bob@example.social")
    srv.drop_all(f"event: update\ndata: {json.dumps(b)}\n\n".encode())
    H.wait_until(lambda: srv.open_streams == 0, 20, "the stream dropped")
    c = inst.add_status("<p>acme refund during the outage</p>", acct="cat@example.social")
    e = inst.add_status("<p>acme money back during the outage</p>", acct="eve@example.social")
    H.wait_until(lambda: "stream dropped (" in d.log_text(), 20, "'stream dropped' logged")
    H.wait_until(lambda: len(srv.stream_requests) >= 2, 20, "a refused reconnect")
    mark = srv.mark()
    srv.refuse = None
    H.wait_until(lambda: srv.open_streams == 1, 30, "the reconnect")
    hook.wait_posts([b["uri"], c["uri"], e["uri"]], timeout=20)
    H.check(any(x["path"].startswith(inst.timeline_path()) for x in srv.log(since=mark)),
            "REST polled after the reconnect")
    f = inst.add_status("<p>acme refund after the reconnect</p>", acct="fay@example.social")
    srv.publish("update", json.dumps(f))
    hook.wait_posts([f["uri"]], timeout=20)
    # and the same statuses once more on the stream and in the next REST poll: no new alert
    srv.publish("update", json.dumps(c))
    time.sleep(H.scaled(1.0))
    for s in (a, b, c, e, f):
        n = len(complaints(hook, s["uri"]))
        H.check(n == 1, f"{s['uri']}: {n} alerts, expected exactly 1")

    # 3. a delete event for the first complaint
    srv.publish("delete", a["id"])

    def deleted():
        return [x for x in hook.ok() if (x["json"] or {}).get("event") == "deleted"
                and ((x["json"] or {}).get("post") or {}).get("id") == a["uri"]]
    H.wait_until(lambda: deleted(), 20, "event 'deleted' for the first complaint")
    first = complaints(hook, a["uri"])[0]["json"]
    H.check(deleted()[0]["json"].get("id") == first.get("id"),
            "the deleted event is about the first complaint's alert")
    # an unknown id is ignored
    srv.publish("delete", "999999999999999999")

    # a reload closes the old stream and opens the new one. (The server notices a closed
    # stream at its next write, a heartbeat at most 0.5 s later: a stream left open would
    # stay counted for good.)
    n_req = len(srv.stream_requests)
    d.reload()
    H.wait_until(lambda: len(srv.stream_requests) > n_req, 20, "the reloaded config's stream")
    H.wait_until(lambda: srv.open_streams == 1, 10, "the old stream closed")
    t_end = time.monotonic() + H.scaled(2.0)
    while time.monotonic() < t_end:
        H.check(srv.open_streams == 1, f"{srv.open_streams} streams open after the reload")
        time.sleep(0.05)
    H.check(len(srv.stream_requests) == n_req + 1, "one new stream after the reload")
    g = inst.add_status("<p>acme refund after the reload</p>", acct="gus@example.social")
    srv.publish("update", json.dumps(g))
    hook.wait_posts([g["uri"]], timeout=20)
    H.check(len(complaints(hook, g["uri"])) == 1, "one alert after the reload")

    # 4. the token is refused on the stream: one operator alert, REST goes on
    srv.refuse = (401, b'{"error":"The access token is invalid"}')
    srv.drop_all(b"")
    H.wait_until(lambda: len(blocked_alerts(hook)) >= 1, 30, "the operator alert")
    text = (blocked_alerts(hook)[0]["json"].get("post") or {}).get("text", "")
    H.check("access_token" in text and "masto" in text, f"operator alert text: {text}")
    n_stream = len(srv.stream_requests)
    time.sleep(H.scaled(3.0))
    H.check(len(blocked_alerts(hook)) == 1, f"{len(blocked_alerts(hook))} operator alerts")
    H.check(len(srv.stream_requests) == n_stream, "no new stream request within 15 min of "
            "a refused token")
    H.check(d.alive(), "the daemon runs on")

    d.stop()
    logs = d.all_logs()
    H.check(TOKEN not in logs, "the token is not in the logs")
    H.check("stream connected" in logs, "'stream connected' logged")


if __name__ == "__main__":
    H.main("source_stream", test)
