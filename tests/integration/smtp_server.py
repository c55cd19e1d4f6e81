#!/usr/bin/python3
"""A loopback SMTP server for the e-mail notifier's integration test (aiosmtpd).

Run with Debian's /usr/bin/python3, which has python3-aiosmtpd:

    /usr/bin/python3 smtp_server.py DIR USER PASSWORD

It listens on 127.0.0.1 on a free port and prints "PORT <n>" on stdout once it accepts
connections. AUTH PLAIN and LOGIN are offered without TLS (loopback only) and required
before MAIL; the credentials are USER and PASSWORD.

DIR/faults.json, when present, is a list of scripted answers, read at every transaction:
{"stage": "MAIL" | "RCPT" | "DATA", "reply": "451 4.3.0 try later"}. The first entry whose
stage comes up is answered with its reply and removed from the file.

Every accepted message is stored as DIR/msg-NNNN.eml (the bytes as received, CRLF line
ends, dot-stuffing undone) with DIR/msg-NNNN.json (envelope sender, recipients, login).
Every transaction step is appended to DIR/events.jsonl: {"stage", "reply", "login",
"message_id" (DATA only), "rcpt"}; AUTH outcomes too ({"stage": "AUTH", "ok": bool}).
"""

import asyncio
import email.parser
import email.policy
import json
import os
import sys

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class Handler:
    def __init__(self, folder):
        self.folder = folder
        self.n = 0

    def _event(self, ev):
        with open(os.path.join(self.folder, "events.jsonl"), "a", encoding="utf-8") as f:
            f.write(json.dumps(ev, ensure_ascii=False) + "\n")

    def _fault(self, stage):
        path = os.path.join(self.folder, "faults.json")
        try:
            with open(path, encoding="utf-8") as f:
                faults = json.load(f)
        except (OSError, ValueError):
            return None
        for i, fault in enumerate(faults):
            if fault.get("stage") == stage:
                del faults[i]
                tmp = path + ".tmp"
                with open(tmp, "w", encoding="utf-8") as f:
                    json.dump(faults, f)
                os.replace(tmp, path)
                return fault["reply"]
        return None

    @staticmethod
    def _login(session):
        data = getattr(session, "auth_data", None)
        login = getattr(data, "login", None)
        return login.decode("utf-8", "replace") if isinstance(login, bytes) else login

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        reply = self._fault("MAIL") or "250 OK"
        self._event({"stage": "MAIL", "reply": reply, "from": address,
                     "login": self._login(session)})
        if reply.startswith("250"):
            envelope.mail_from = address
            envelope.mail_options.extend(mail_options)
        return reply

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        reply = self._fault("RCPT") or "250 OK"
        self._event({"stage": "RCPT", "reply": reply, "rcpt": address})
        if reply.startswith("250"):
            envelope.rcpt_tos.append(address)
        return reply

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or b""
        msg = email.parser.BytesParser(policy=email.policy.compat32).parsebytes(raw,
                                                                               headersonly=True)
        reply = self._fault("DATA") or "250 OK queued"
        self._event({"stage": "DATA", "reply": reply, "message_id": msg.get("Message-ID"),
                     "alert_id": msg.get("X-Earshot-Alert-Id"), "login": self._login(session),
                     "rcpt": list(envelope.rcpt_tos)})
        if not reply.startswith("250"):
            return reply
        self.n += 1
        base = os.path.join(self.folder, f"msg-{self.n:04d}")
        with open(base + ".json.tmp", "w", encoding="utf-8") as f:
            json.dump({"mail_from": envelope.mail_from, "rcpt_tos": list(envelope.rcpt_tos),
                       "login": self._login(session)}, f)
        with open(base + ".eml.tmp", "wb") as f:
            f.write(raw)
        os.replace(base + ".json.tmp", base + ".json")
        os.replace(base + ".eml.tmp", base + ".eml")   # the .eml last: it marks the pair done
        return reply


def main():
    folder, user, password = sys.argv[1], sys.argv[2].encode(), sys.argv[3].encode()
    handler = Handler(folder)

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword) and auth_data.login == user
              and auth_data.password == password)
        handler._event({"stage": "AUTH", "mechanism": mechanism, "ok": ok})
        # handled=False: aiosmtpd answers 535 itself
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    def factory():
        return SMTP(handler, hostname="earshot-test.localhost", auth_require_tls=False,
                    auth_required=True, authenticator=authenticator)

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    server = loop.run_until_complete(loop.create_server(factory, "127.0.0.1", 0))
    port = server.sockets[0].getsockname()[1]
    print(f"PORT {port}", flush=True)
    try:
        loop.run_forever()
    finally:
        server.close()


if __name__ == "__main__":
    main()
