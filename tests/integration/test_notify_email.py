#!/usr/bin/env python3
"""notify_email: alerts as e-mail through the real earshotd, a loopback Mastodon and a real
SMTP server (aiosmtpd, in smtp_server.py, run by Debian's /usr/bin/python3) on 127.0.0.1,
with AUTH and without TLS (`starttls: false`, allowed for loopback only).

  * an English and a Cyrillic complaint: one message each, read back with Python's `email`
    package: From, To (two recipients, one with a Cyrillic display name), the Subject decoded
    equal to the expected UTF-8 text, Date parses, Message-ID present, Auto-Submitted,
    multipart/alternative with text/plain and text/html in UTF-8, the post text in both;
    CRLF only, every line at most 998 characters and every header line at most 78; the
    envelope names the bare addresses and the login is the configured user (the password
    comes from `password_file`); the password is in no log;
  * a post with CR/LF + "Bcc: evil@x.example" in its text and its author's name: the message
    has exactly the usual headers and the envelope only the configured recipients;
  * a 451 to DATA, then success: delivered once, and the retry carried the same Message-ID;
  * a 550 to RCPT: rejected, not retried; the outbox row says so, and so do the log and
    `earshotctl deliveries`;
  * a wrong password (a second daemon): nothing delivered, the login failure is logged and
    the delivery is retried.
"""

import datetime
import email
import email.policy
import email.utils
import glob
import json
import os
import re
import select
import subprocess
import sys
import time

import harness as H

HERE = os.path.dirname(os.path.abspath(__file__))
USER = "earshot-bot"
PASSWORD = "pa55-w0rd-for-the-test"
FROM = "earshot alerts <alerts@example.com>"
TO = ["oncall@example.com", "Дежурный <duty@example.com>"]
EXPECTED_HEADERS = ["From", "To", "Subject", "Date", "Message-ID", "MIME-Version",
                    "Content-Type", "Auto-Submitted", "X-Earshot-Alert-Id", "X-Earshot-Event"]


def smtp_python():
    """A Python that has aiosmtpd: Debian's, or the one running this test."""
    for exe in ("/usr/bin/python3", sys.executable):
        if exe and os.access(exe, os.X_OK) and subprocess.run(
                [exe, "-c", "import aiosmtpd"], capture_output=True).returncode == 0:
            return exe
    return None


class SmtpServer:
    """smtp_server.py as a child process; messages and events land in `folder`."""

    def __init__(self, case, name, user=USER, password=PASSWORD):
        exe = smtp_python()
        if not exe:
            raise H.Skip("python3-aiosmtpd is not installed for /usr/bin/python3 or "
                         f"{sys.executable} (apt install python3-aiosmtpd)")
        self.folder = os.path.join(case.dir, name)
        os.makedirs(self.folder, exist_ok=True)
        self.stderr = open(os.path.join(case.dir, f"{name}.log"), "wb")
        self.proc = subprocess.Popen(
            [exe, os.path.join(HERE, "smtp_server.py"), self.folder, user, password],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self.stderr,
            preexec_fn=H._child_setup(os.getpid()))
        case.cleanups.append(self.close)
        ready, _, _ = select.select([self.proc.stdout], [], [], H.scaled(20))
        H.check(ready, "the SMTP server did not start within 20s")
        line = self.proc.stdout.readline().decode()
        m = re.fullmatch(r"PORT (\d+)\n", line)
        H.check(m, f"the SMTP server said {line!r} instead of its port")
        self.port = int(m.group(1))
        self.url = f"smtp://127.0.0.1:{self.port}"
        case.note(f"SMTP server {name} on {self.url}")

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.stderr.close()

    def fault(self, stage, reply):
        path = os.path.join(self.folder, "faults.json")
        faults = []
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                faults = json.load(f)
        faults.append({"stage": stage, "reply": reply})
        with open(path + ".tmp", "w", encoding="utf-8") as f:
            json.dump(faults, f)
        os.replace(path + ".tmp", path)

    def events(self, stage=None):
        try:
            with open(os.path.join(self.folder, "events.jsonl"), encoding="utf-8") as f:
                evs = [json.loads(line) for line in f if line.strip()]
        except OSError:
            return []
        return [e for e in evs if stage is None or e["stage"] == stage]

    def messages(self):
        """[(raw bytes, parsed message, envelope dict)] in arrival order."""
        out = []
        for path in sorted(glob.glob(os.path.join(self.folder, "msg-*.eml"))):
            with open(path, "rb") as f:
                raw = f.read()
            with open(path[:-4] + ".json", encoding="utf-8") as f:
                env = json.load(f)
            out.append((raw, email.message_from_bytes(raw, policy=email.policy.default), env))
        return out

    def wait_message(self, needle, timeout=30):
        def find():
            return [m for m in self.messages() if needle in body_text(m[1])]
        return H.wait_until(find, timeout, f"a message containing {needle!r}")


def email_notifier(name, url, **opts):
    n = {"name": name, "type": "email", "url": url, "from": FROM, "to": list(TO),
         "user": USER, "password_file": "smtp-password", "starttls": False}
    n.update(opts)
    return n


def body_text(msg):
    part = msg.get_body(preferencelist=("plain",))
    return part.get_content() if part else ""


def check_message(case, raw, msg, env, what, post_text, subject=None):
    """Everything a correct alert message has; soft assertions named after `what`."""
    exp = case.expect
    # CRLF only; lines at most 998; header lines at most 78
    exp(raw.count(b"\n") == raw.count(b"\r\n") and raw.count(b"\r") == raw.count(b"\r\n"),
        f"{what}: bare CR or LF in the message")
    head, _, _ = raw.partition(b"\r\n\r\n")
    for line in raw.split(b"\r\n"):
        exp(len(line) <= 998, f"{what}: a line of {len(line)} bytes")
    for line in head.split(b"\r\n"):
        exp(len(line) <= 78, f"{what}: header line of {len(line)} characters: {line[:90]!r}")
    exp(all(b < 0x80 for b in head), f"{what}: 8-bit bytes in the header")
    names = [k for k in msg.keys()]
    exp(names == EXPECTED_HEADERS, f"{what}: headers {names}, want {EXPECTED_HEADERS}")

    exp(str(msg["From"]) == FROM, f"{what}: From {str(msg['From'])!r}")
    to = [(a.display_name, a.addr_spec) for a in msg["To"].addresses]
    exp(to == [("", "oncall@example.com"), ("Дежурный", "duty@example.com")],
        f"{what}: To {to}")
    if subject is not None:
        exp(str(msg["Subject"]) == subject,
            f"{what}: Subject {str(msg['Subject'])!r}, want {subject!r}")
    try:
        date = email.utils.parsedate_to_datetime(str(msg["Date"]))
        now = datetime.datetime.now(datetime.timezone.utc)
        exp(abs((now - date).total_seconds()) < 3600, f"{what}: Date {msg['Date']} is off")
        exp(str(msg["Date"]).endswith("+0000"), f"{what}: Date {msg['Date']} is not UTC")
    except (TypeError, ValueError) as e:
        exp(False, f"{what}: Date {msg['Date']!r} does not parse: {e}")
    exp(re.fullmatch(r"<earshot\.[^@<>\s]+@example\.com>", str(msg["Message-ID"] or "")),
        f"{what}: Message-ID {msg['Message-ID']!r}")
    exp(str(msg["MIME-Version"]) == "1.0", f"{what}: MIME-Version {msg['MIME-Version']!r}")
    exp(str(msg["Auto-Submitted"]) == "auto-generated", f"{what}: Auto-Submitted")
    exp(msg.get_content_type() == "multipart/alternative",
        f"{what}: Content-Type {msg.get_content_type()}")
    parts = list(msg.iter_parts()) if msg.is_multipart() else []
    types = [p.get_content_type() for p in parts]
    exp(types == ["text/plain", "text/html"], f"{what}: parts {types}")
    for p in parts:
        exp(p.get_content_charset() == "utf-8", f"{what}: {p.get_content_type()} charset "
            f"{p.get_content_charset()}")
        exp(str(p["Content-Transfer-Encoding"]) == "quoted-printable",
            f"{what}: {p.get_content_type()} encoding {p['Content-Transfer-Encoding']}")
    if len(parts) == 2:
        exp(post_text in parts[0].get_content(), f"{what}: the text part lacks the post text")
        html_text = (post_text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
                     .replace('"', "&quot;").replace("'", "&#39;"))
        exp(html_text in parts[1].get_content(), f"{what}: the HTML part lacks the post text")
    # the envelope: bare addresses, the configured login
    exp(env["mail_from"] == "alerts@example.com", f"{what}: MAIL FROM {env['mail_from']!r}")
    exp(env["rcpt_tos"] == ["oncall@example.com", "duty@example.com"],
        f"{what}: RCPT TO {env['rcpt_tos']}")
    exp(env["login"] == USER, f"{what}: logged in as {env['login']!r}")


def outbox(d, alert_id):
    return d.db_try("SELECT * FROM outbox WHERE alert_id = ? AND notifier = 'mail'", (alert_id,))


def alert_of(msg):
    return str(msg["X-Earshot-Alert-Id"])


def test(case):
    smtp = SmtpServer(case, "smtp")
    masto = H.MastodonInstance(case.server("mock"), first_id=190000000000000001)
    cfg = H.make_config(
        sources=[H.mastodon_source("masto", masto.url)],
        notifiers=[email_notifier("mail", smtp.url)],
        rules=[H.REFUND_RULE, H.RU_RULE],
        defaults={"respond_within": "1h", "backfill": "1h", "interval": "60s",
                  "silent_after": "0"})
    d = case.daemon(cfg, files={"smtp-password": PASSWORD + "\n"})
    d.start()

    def alive():
        H.check(d.alive(), f"earshotd exited with status {d.proc.returncode}")

    # ---- an English and a Cyrillic complaint ----------------------------------------------
    masto.add_status("<p>acme I want a refund for order 1001</p>", acct="dana@a.example",
                     name="Dana K.")
    masto.add_status("<p>acme верните деньги за заказ 1002</p>", acct="oleg@b.example",
                     name="Олег")
    (raw, msg, env), = smtp.wait_message("refund for order 1001")
    check_message(case, raw, msg, env, "english", "acme I want a refund for order 1001",
                  "[earshot] HIGH acme (refunds): acme I want a refund for order 1001")
    text = body_text(msg)
    case.expect("Dana K. (@dana@a.example)" in text, "english: the author is not in the text")
    case.expect("https://a.example/@dana/" in text, "english: no link to the post")
    (raw, msg, env), = smtp.wait_message("верните деньги за заказ 1002")
    check_message(case, raw, msg, env, "cyrillic", "acme верните деньги за заказ 1002",
                  "[earshot] CRITICAL acme (ru-complaints): acme верните деньги за заказ 1002")
    case.expect("=?utf-8?" in raw.partition(b"\r\n\r\n")[0].decode("ascii", "replace"),
                "cyrillic: the subject is not RFC 2047 encoded")

    # ---- injection through the text and the author's name ---------------------------------
    masto.add_status("<p>acme refund for order 1003\r\nBcc: evil@x.example\r\n"
                     "X-Injected: yes<br>Bcc: evil@x.example</p>",
                     acct="mallory@c.example",
                     name="Mallory\r\nBcc: evil@x.example\r\nX-Injected: yes")
    (raw, msg, env), = smtp.wait_message("refund for order 1003")
    names = list(msg.keys())
    case.expect(names == EXPECTED_HEADERS, f"injection: headers {names}")
    case.expect(b"\r\nBcc:" not in raw.partition(b"\r\n\r\n")[0] + b"\r\n",
                "injection: a Bcc header line")
    case.expect(env["rcpt_tos"] == ["oncall@example.com", "duty@example.com"],
                f"injection: RCPT TO {env['rcpt_tos']}")
    case.expect("Bcc: evil@x.example" in body_text(msg),
                "injection: the hostile text is not in the body where it belongs")
    case.expect(not [e for e in smtp.events("RCPT") if "evil" in e["rcpt"]],
                "injection: a RCPT TO evil@x.example")

    # ---- 451 to DATA, then success: one delivery, the same Message-ID ----------------------
    smtp.fault("DATA", "451 4.3.0 try again later")
    masto.add_status("<p>acme refund for order 1004, please</p>", acct="tempfail@d.example")
    found = smtp.wait_message("refund for order 1004")
    case.expect(len(found) == 1, f"451: delivered {len(found)} times")
    raw, msg, env = found[0]
    mid = str(msg["Message-ID"])
    tries = [e for e in smtp.events("DATA") if e["message_id"] == mid]
    case.note(f"451: DATA attempts {[(e['reply'][:3], e['message_id']) for e in tries]}")
    case.expect([e["reply"][:3] for e in tries] == ["451", "250"],
                f"451: attempts with Message-ID {mid}: {[e['reply'] for e in tries]}")
    rows = outbox(d, alert_of(msg))
    case.expect(len(rows) == 1 and rows[0]["state"] == "delivered" and rows[0]["attempts"] == 2,
                f"451: outbox {rows}")

    # ---- 550 to RCPT: rejected, not retried -------------------------------------------------
    smtp.fault("RCPT", "550 5.1.1 <oncall@example.com>: no such user")
    before = len(smtp.events("MAIL"))
    masto.add_status("<p>acme refund for order 1005 or else</p>", acct="reject@e.example")

    def rejected():
        alive()
        alerts = [a for a in d.alerts() if "1005" in (a.get("text") or "")]
        if not alerts:
            return None
        rows = outbox(d, alerts[0]["id"])
        return rows if rows and rows[0]["state"] == "rejected" else None
    rows = H.wait_until(rejected, 30, "the 550 delivery to be rejected")
    case.note(f"550: outbox {rows}")
    case.expect("550" in (rows[0]["last_error"] or ""), f"550: last_error {rows[0]['last_error']}")
    time.sleep(2.5)   # a retry (retry_initial 500ms) would have come by now
    rows = outbox(d, rows[0]["alert_id"])
    case.expect(rows[0]["state"] == "rejected" and rows[0]["attempts"] == 1,
                f"550: outbox after a while {rows}")
    mails = smtp.events("MAIL")[before:]
    case.expect(len(mails) == 1, f"550: {len(mails)} transactions, want 1 (no retry)")
    case.expect(not [m for m in smtp.messages() if "1005" in body_text(m[1])],
                "550: the message was stored anyway")
    log = d.log_text()
    case.expect(re.search(r"rejected, not retrying: .*550", log),
                "550: the log does not say that the alert was rejected with 550")
    rc, out, err = d.ctl("deliveries", "--all")
    case.expect(rc == 0 and "rejected" in out and "550" in out,
                f"550: earshotctl deliveries --all: exit {rc}: {out.strip()} {err.strip()}")

    # ---- the password never reaches a log ---------------------------------------------------
    case.expect(PASSWORD not in d.all_logs(), "the SMTP password is in the daemon's log")
    d.stop()

    # ---- a wrong password: nothing delivered, logged, retried -------------------------------
    bad = SmtpServer(case, "smtp-badauth")
    cfg2 = H.make_config(
        sources=[H.mastodon_source("masto", masto.url)],
        notifiers=[email_notifier("mail", bad.url)],
        rules=[H.REFUND_RULE],
        defaults={"respond_within": "1h", "backfill": "1h", "interval": "60s",
                  "silent_after": "0"})
    d2 = case.daemon(cfg2, name="earshotd-badauth", files={"smtp-password": "wrong-password\n"})
    d2.start()
    def retried():
        H.check(d2.alive(), f"earshotd exited with status {d2.proc.returncode}")
        rows = d2.db_try("SELECT * FROM outbox WHERE notifier = 'mail'")
        return rows if any(r["attempts"] >= 2 for r in rows) else None
    H.wait_until(retried, 30, "a delivery refused for its login, and retried")
    fails = [e for e in bad.events("AUTH") if not e["ok"]]
    case.expect(len(fails) >= 2 and not [e for e in bad.events("AUTH") if e["ok"]],
                f"wrong password: AUTH events {bad.events('AUTH')}")
    case.expect(not bad.messages(), "wrong password: a message was delivered")
    case.expect(not bad.events("MAIL"), "wrong password: MAIL FROM without a login")
    rows = d2.db_try("SELECT * FROM outbox WHERE notifier = 'mail'")
    case.expect(rows and all(r["state"] == "pending" for r in rows),
                f"wrong password: outbox rows not all pending: {rows}")
    case.expect(any(r["attempts"] >= 1 and "535" in (r["last_error"] or "") for r in rows),
                f"wrong password: no row with a 535 error: {rows}")
    log2 = d2.log_text()
    case.expect("refused the login (SMTP 535)" in log2,
                "wrong password: the log does not explain the failed login")
    case.expect(re.search(r"not delivered \(.*535.*\); will retry", log2),
                "wrong password: the log does not say the delivery will be retried")
    case.expect("wrong-password" not in d2.all_logs(), "the wrong password is in the log")
    d2.stop()


if __name__ == "__main__":
    H.main("notify_email", test)
