#!/usr/bin/env python3
"""notify_chat: the chat notifiers (slack, discord, matrix, ntfy) against the real earshotd.

One loopback Mastodon instance feeds #acme; one loopback MockServer plays Slack (an incoming
webhook), Discord (a webhook), a Matrix homeserver and an ntfy server, each on its own path.
Two complaints are posted: a plain one, and one whose text and author name try every trick
(Slack control sequences, @everyone/@here/@room, HTML, Markdown, a masked link).

Checks:
  * each receiver gets exactly one accepted (2xx) request per alert, with the right method,
    path and headers (Content-Type; Bearer tokens for Matrix and ntfy; Discord's wait=true)
    and a JSON body of the documented shape;
  * injection strings arrive inert: Slack's &lt; &gt; &amp; in plain_text, no '<' anywhere
    but the configured mention; Discord's backslash escapes and allowed_mentions {"parse": []};
    Matrix's HTML only with the plugin's own tags and an empty m.mentions; ntfy plain text;
  * Matrix: the first PUT is answered 500 and retried with the same txnId (the same path),
    which is "earshot-<alert id>-new";
  * Slack: the first POST is answered 429 with Retry-After: 1, and the daemon retries, no
    sooner than the second asked for;
  * no token appears in the daemon's log.
"""

import json
import re
import urllib.parse

import harness as H

SLACK = "/slack/services/T000/B000/hook"
DISCORD = "/discord/api/webhooks/42/tok"
MATRIX = "/mx"
NTFY = "/ntfy"
ROOM = "!room1:example.org"
MX_TOKEN = "syt_matrix_SECRET_token"
NTFY_TOKEN = "tk_ntfySECRETtoken"

INJECTION_HTML = ("<p>acme refund NOW &lt;!channel&gt; &lt;!here&gt; &lt;@U123&gt; "
                  "&lt;http://evil|bank.com&gt; &amp; @everyone @here @room "
                  "&lt;script&gt;alert(1)&lt;/script&gt; *bold* _it_ ~s~ `code` "
                  "[x](http://e)</p>")
INJECTION_TEXT = ("<!channel> <!here> <@U123> <http://evil|bank.com> & @everyone @here @room "
                  "<script>alert(1)</script> *bold* _it_ ~s~ `code` [x](http://e)")


def chat_notifier(name, type_, **opts):
    """A notifiers: entry of any type (harness.webhook_notifier is the webhook's)."""
    n = {"name": name, "type": type_}
    n.update(opts)
    return n


class Receiver:
    """Records every request under a path prefix of a MockServer and answers `answer`."""

    def __init__(self, server, prefix, answer):
        self.server = server
        self.prefix = prefix
        server.route(prefix, lambda entry: answer)

    def all(self):
        out = []
        for e in self.server.log(self.prefix):
            try:
                j = json.loads(e["body"].decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                j = None
            out.append(dict(e, json=j))
        return out

    def ok(self):
        return [e for e in self.all() if isinstance(e["status"], int) and 200 <= e["status"] < 300]


def strings(j):
    """Every string value in a JSON document."""
    if isinstance(j, str):
        yield j
    elif isinstance(j, dict):
        for v in j.values():
            yield from strings(v)
    elif isinstance(j, list):
        for v in j:
            yield from strings(v)


def slack_url(e):
    for b in (e["json"] or {}).get("blocks") or []:
        if b.get("type") == "actions":
            return b["elements"][0].get("url")
    return None


def discord_url(e):
    return (((e["json"] or {}).get("embeds") or [{}])[0]).get("url")


def matrix_url(e):
    m = re.search(r'<a href="([^"]*)">', (e["json"] or {}).get("formatted_body") or "")
    return m.group(1).replace("&amp;", "&") if m else None


def ntfy_url(e):
    return (e["json"] or {}).get("click")


def check_slack(case, e, post, inject):
    j = e["json"]
    what = f"slack {post['url']}"
    case.expect(e["method"] == "POST", f"{what}: method {e['method']}")
    case.expect(e["headers"].get("content-type", "").startswith("application/json"),
                f"{what}: Content-Type {e['headers'].get('content-type')!r}")
    case.expect(isinstance(j, dict), f"{what}: body is not JSON")
    if not isinstance(j, dict):
        return
    case.expect(j.get("text", "").startswith("<!here> "), f"{what}: text {j.get('text')!r}")
    blocks = j.get("blocks") or []
    types = [b.get("type") for b in blocks]
    case.expect(types == ["header", "section", "section", "context", "actions"],
                f"{what}: block types {types}")
    if len(blocks) != 5:
        return
    case.expect(blocks[0]["text"]["type"] == "plain_text" and
                "HIGH \u00b7 acme \u00b7 refunds" in blocks[0]["text"]["text"],
                f"{what}: header {blocks[0]}")
    case.expect(blocks[1]["text"] == {"type": "mrkdwn", "text": "<!here> *New alert*"},
                f"{what}: mention section {blocks[1]}")
    case.expect(blocks[2]["text"]["type"] == "plain_text", f"{what}: post text not plain_text")
    ctx = [el.get("text") for el in blocks[3].get("elements") or []]
    case.expect("mastodon" in ctx, f"{what}: context {ctx} lacks the network")
    case.expect(any(c and c.startswith("due in ") for c in ctx), f"{what}: context {ctx} lacks due")
    case.expect(any(c and c.endswith(" followers") for c in ctx),
                f"{what}: context {ctx} lacks the reach")
    case.expect(slack_url(e) == post["url"], f"{what}: button url {slack_url(e)!r}")
    # the configured mention is the only control sequence
    for s in strings(j):
        rest = s.replace("<!here>", "")
        case.expect("<" not in rest and ">" not in rest, f"{what}: raw < or > in {s[:120]!r}")
    if inject:
        t = blocks[2]["text"]["text"]
        for want in ("&lt;!channel&gt;", "&lt;@U123&gt;", "&lt;http://evil|bank.com&gt;",
                     "&amp;", "&lt;script&gt;", "*bold*"):
            case.expect(want in t, f"{what}: post text lacks {want!r}: {t!r}")
        case.expect(any("&lt;!channel&gt; Mallory" in (c or "") for c in ctx),
                    f"{what}: author not escaped: {ctx}")


def check_discord(case, e, post, inject):
    j = e["json"]
    what = f"discord {post['url']}"
    case.expect(e["method"] == "POST", f"{what}: method {e['method']}")
    case.expect(e["path"] == DISCORD and e["query"] == {"wait": "true"},
                f"{what}: {e['raw_path']}")
    case.expect(e["headers"].get("content-type") == "application/json",
                f"{what}: Content-Type {e['headers'].get('content-type')!r}")
    if not case.expect(isinstance(j, dict), f"{what}: body is not JSON"):
        return
    case.expect(j.get("allowed_mentions") == {"parse": []},
                f"{what}: allowed_mentions {j.get('allowed_mentions')!r}")
    content = j.get("content") or ""
    case.expect("**HIGH \u00b7 acme \u00b7 refunds**" in content and len(content) <= 2000,
                f"{what}: content {content!r}")
    emb = (j.get("embeds") or [{}])[0]
    case.expect(emb.get("url") == post["url"], f"{what}: embed url {emb.get('url')!r}")
    case.expect(emb.get("title") == "New alert", f"{what}: title {emb.get('title')!r}")
    names = [f.get("name") for f in emb.get("fields") or []]
    case.expect(names[:4] == ["Author", "Followers", "Network", "Due"], f"{what}: fields {names}")
    desc = emb.get("description") or ""
    case.expect(0 < len(desc) <= 4096, f"{what}: description length {len(desc)}")
    for s in strings(j):
        case.expect(not re.search(r"(?<!\\)@(everyone|here|room)", s),
                    f"{what}: unescaped mention in {s[:120]!r}")
    if inject:
        for want in ("\\<\\@U123\\>", "\\@everyone", "\\[x\\]\\(http://e\\)", "\\*bold\\*",
                     "\\<script\\>"):
            case.expect(want in desc, f"{what}: description lacks {want!r}: {desc!r}")


def check_matrix(case, e, post, inject, alert_id):
    j = e["json"]
    what = f"matrix {post['url']}"
    room = urllib.parse.quote(ROOM, safe="")
    txn = urllib.parse.quote(f"earshot-{alert_id}-new", safe="-._~")
    want_path = f"{MATRIX}/_matrix/client/v3/rooms/{room}/send/m.room.message/{txn}"
    case.expect(e["method"] == "PUT", f"{what}: method {e['method']}")
    case.expect(e["raw_path"] == want_path, f"{what}: path {e['raw_path']!r}, want {want_path!r}")
    case.expect(e["headers"].get("authorization") == f"Bearer {MX_TOKEN}",
                f"{what}: Authorization {e['headers'].get('authorization')!r}")
    case.expect(e["headers"].get("content-type") == "application/json",
                f"{what}: Content-Type {e['headers'].get('content-type')!r}")
    if not case.expect(isinstance(j, dict), f"{what}: body is not JSON"):
        return
    case.expect(set(j) == {"msgtype", "body", "format", "formatted_body", "m.mentions"},
                f"{what}: keys {sorted(j)}")
    case.expect(j.get("msgtype") == "m.text" and j.get("format") == "org.matrix.custom.html",
                f"{what}: msgtype/format {j.get('msgtype')!r} {j.get('format')!r}")
    case.expect(j.get("m.mentions") == {}, f"{what}: m.mentions {j.get('m.mentions')!r}")
    html = j.get("formatted_body") or ""
    tags = set(re.findall(r"</?([a-zA-Z]+)", html))
    case.expect(tags <= {"b", "i", "br", "blockquote", "a"}, f"{what}: foreign tags {tags}")
    case.expect(matrix_url(e) == post["url"], f"{what}: link {matrix_url(e)!r}")
    if inject:
        for want in ("&lt;!channel&gt;", "&lt;script&gt;alert(1)&lt;/script&gt;", "&amp;",
                     "&lt;!channel&gt; Mallory"):
            case.expect(want in html, f"{what}: formatted_body lacks {want!r}")
        body = j.get("body") or ""
        case.expect("@\u2060room" in body and "@room" not in body, f"{what}: @room in body")
        case.expect("<script>alert(1)</script>" in body, f"{what}: plain body lost the text")


def check_ntfy(case, e, post, inject):
    j = e["json"]
    what = f"ntfy {post['url']}"
    case.expect(e["method"] == "POST" and e["path"] == NTFY + "/",
                f"{what}: {e['method']} {e['raw_path']}")
    case.expect(e["headers"].get("authorization") == f"Bearer {NTFY_TOKEN}",
                f"{what}: Authorization {e['headers'].get('authorization')!r}")
    case.expect(e["headers"].get("content-type") == "application/json",
                f"{what}: Content-Type {e['headers'].get('content-type')!r}")
    if not case.expect(isinstance(j, dict), f"{what}: body is not JSON"):
        return
    case.expect(j.get("topic") == "acme-care", f"{what}: topic {j.get('topic')!r}")
    case.expect(j.get("title") == "HIGH \u00b7 acme \u00b7 refunds", f"{what}: title {j.get('title')!r}")
    case.expect(j.get("priority") == 4, f"{what}: priority {j.get('priority')!r}")
    case.expect(j.get("tags") == ["high", "mastodon", "acme", "refunds"], f"{what}: tags {j.get('tags')!r}")
    case.expect(j.get("click") == post["url"], f"{what}: click {j.get('click')!r}")
    msg = j.get("message") or ""
    case.expect(len(msg.encode()) <= 4000 and msg.startswith("New alert on mastodon, due in "),
                f"{what}: message {msg[:80]!r}")
    if inject:
        case.expect(INJECTION_TEXT in msg, f"{what}: message lacks the text as written: {msg!r}")


def test(case):
    srv = case.server("mock")
    masto = H.MastodonInstance(srv)
    slack = Receiver(srv, SLACK, H.Response(200, b"ok", content_type="text/plain"))
    discord = Receiver(srv, DISCORD, H.Response(200, {"id": "1", "type": 0}))
    matrix = Receiver(srv, MATRIX, H.Response(200, {"event_id": "$ev1"}))
    ntfy = Receiver(srv, NTFY, H.Response(200, {"id": "n1", "event": "message"}))

    # the first request of each: Slack says slow down, the homeserver fails once
    srv.add_faults(SLACK, [{"name": "slack-429", "status": 429, "body": b"rate_limited",
                            "headers": {"Retry-After": "1", "Content-Type": "text/plain"}}])
    srv.add_faults(MATRIX, [{"name": "matrix-500", "status": 500,
                             "body": b'{"errcode":"M_UNKNOWN","error":"boom"}'}])

    cfg = H.make_config(
        sources=[H.mastodon_source("mastodon-acme", masto.url, interval="1s")],
        notifiers=[
            chat_notifier("team-slack", "slack", url=srv.url + SLACK, mention="<!here>"),
            chat_notifier("team-discord", "discord", url=srv.url + DISCORD),
            chat_notifier("team-matrix", "matrix", homeserver=srv.url + MATRIX, room=ROOM,
                          access_token=MX_TOKEN),
            chat_notifier("team-ntfy", "ntfy", server=srv.url + NTFY, topic="acme-care",
                          token=NTFY_TOKEN),
        ])
    d = case.daemon(cfg)
    d.start()

    def alive():
        H.check(d.alive(), f"earshotd exited with status {d.proc.returncode}")

    receivers = [(slack, slack_url), (discord, discord_url), (matrix, matrix_url),
                 (ntfy, ntfy_url)]

    def delivered(url):
        alive()
        return all(any(get(e) == url for e in r.ok()) for r, get in receivers)

    plain = masto.add_status("<p>acme I want a refund, the order never came</p>",
                             acct="erin@social.example", name="Erin", followers=4321)
    H.wait_until(lambda: delivered(plain["url"]), 30, "all four receivers got the first alert")
    inject = masto.add_status(INJECTION_HTML, acct="mallory@evil.example",
                              name="<!channel> Mallory", followers=7)
    H.wait_until(lambda: delivered(inject["url"]), 30, "all four receivers got the second alert")

    # every outbox row settled, then nothing more may arrive
    H.wait_until(lambda: alive() or not d.db("SELECT 1 FROM outbox WHERE state != 'delivered'"),
                 20, "the outbox to drain")
    rows = d.db("SELECT notifier, state, attempts FROM outbox ORDER BY notifier")
    case.note(f"outbox: {rows}")
    case.expect(len(rows) == 8, f"outbox rows: {rows}")

    alerts = d.alerts_by_post()
    ids = {}
    for p in (plain, inject):
        a = alerts.get(p["uri"]) or []
        case.expect(len(a) == 1, f"alerts for {p['uri']}: {a}")
        ids[p["url"]] = a[0]["id"] if a else None

    for (r, get), check in zip(receivers, ("slack", "discord", "matrix", "ntfy")):
        for p, inj in ((plain, False), (inject, True)):
            ok = [e for e in r.ok() if get(e) == p["url"]]
            case.expect(len(ok) == 1, f"{check}: {len(ok)} accepted requests for {p['url']}")
            if not ok:
                continue
            if check == "slack":
                check_slack(case, ok[0], p, inj)
            elif check == "discord":
                check_discord(case, ok[0], p, inj)
            elif check == "matrix":
                check_matrix(case, ok[0], p, inj, ids[p["url"]])
            else:
                check_ntfy(case, ok[0], p, inj)
        # no other request than one per alert plus the scripted failure's retry
        extra = 1 if check in ("slack", "matrix") else 0
        case.expect(len(r.all()) == 2 + extra, f"{check}: {len(r.all())} requests in all")

    # Matrix: the 500 and its retry carry the same transaction id
    mx = matrix.all()
    case.expect(mx[0]["status"] == 500, f"matrix: first answer {mx[0]['status']}")
    case.expect(mx[1]["raw_path"] == mx[0]["raw_path"] and mx[1]["status"] == 200,
                f"matrix: retry {mx[1]['raw_path']} ({mx[1]['status']}) != first {mx[0]['raw_path']}")
    case.expect(mx[0]["raw_path"].endswith("/earshot-" + urllib.parse.quote(ids[plain["url"]], safe="-._~") + "-new"),
                f"matrix: txnId of {mx[0]['raw_path']}")
    case.expect(mx[2]["raw_path"] != mx[0]["raw_path"], "matrix: two alerts share a txnId")

    # Slack: 429 with Retry-After: 1, retried no sooner
    sl = slack.all()
    case.expect(sl[0]["status"] == 429 and sl[1]["status"] == 200,
                f"slack: answers {[e['status'] for e in sl]}")
    case.expect(sl[1]["t"] - sl[0]["t"] >= 0.95,
                f"slack: retried {sl[1]['t'] - sl[0]['t']:.3f}s after a Retry-After: 1")

    log = d.log_text()
    for secret in (MX_TOKEN, NTFY_TOKEN):
        case.expect(secret not in log, f"the daemon log shows a token ({secret[:6]}...)")
    d.stop()


if __name__ == "__main__":
    H.main("notify_chat", test)
