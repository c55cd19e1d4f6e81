#!/usr/bin/env python3
"""webhook_hmac: signed webhook deliveries, checked by a receiver written here from the
documented rules (webhook.c's SIGNATURES comment), not from earshot's code.

Three webhook notifiers get every alert of a loopback Mastodon:
  * "signed": `secret_file` (a file in the config folder, with a trailing line break); its
    first request is answered 500 (after 1.1 s), the retry 200;
  * "rotating": `secret_file` + `previous_secret_file` and `signature_header: X-Earshot-Sig`;
  * "plain": no secret.
Checks: every signed delivery verifies (HMAC-SHA256 over "<t>.<raw body>", constant-time
compare, |now - t| <= 300 s); one changed body byte, a wrong secret and a request replayed
more than 5 minutes after its t are all rejected; the retry after the 500 carries a fresh t,
a new valid signature, the same body and the same Idempotency-Key; the rotating notifier
sends one v1 per secret, each verifying alone, under its own header name; the plain one sends
no signature; no secret appears in the daemon's logs, its store or anything the receivers got.
"""

import hashlib
import hmac
import os

import harness as H

TOLERANCE = 300  # seconds, as documented


def parse_signature(value):
    """(t, [v1, ...]) from 't=T,v1=HEX,...', or (None, []) when malformed."""
    t, sigs = None, []
    for part in (value or "").split(","):
        key, sep, val = part.strip().partition("=")
        if not sep:
            return None, []
        if key == "t":
            t = val
        elif key == "v1":
            sigs.append(val)
    if t is None or not t.isdigit():
        return None, []
    return t, sigs


def verify(value, raw, secret, now, tolerance=TOLERANCE):
    """The receiver's check: True, or a string saying why the request is rejected."""
    if not value:
        return "no signature header"
    t, sigs = parse_signature(value)
    if t is None or not sigs:
        return f"malformed signature header {value!r}"
    if abs(now - int(t)) > tolerance:
        return f"stale: t={t}, now={int(now)}"
    want = hmac.new(secret, t.encode() + b"." + raw, hashlib.sha256).hexdigest()
    if not any(hmac.compare_digest(want.encode(), s.encode()) for s in sigs):
        return "no v1 matches"
    return True


def test(case):
    rnd = case.random
    secret = f"whsec_{rnd.getrandbits(128):032x}"
    old_secret = f"whsec_old_{rnd.getrandbits(128):032x}"
    new_secret = f"whsec_new_{rnd.getrandbits(128):032x}"
    secrets = (secret, old_secret, new_secret)

    srv = case.server("mock")
    masto = H.MastodonInstance(srv, first_id=190000000000000001)
    hooks = case.server("hook")
    signed = H.WebhookReceiver(hooks, "/signed")
    rotating = H.WebhookReceiver(hooks, "/rotating")
    plain = H.WebhookReceiver(hooks, "/plain")
    # the first request to /signed fails, late enough that its retry is signed a second later
    signed.script([{"status": 500, "delay": 1.1, "name": "500 then retry"}])

    cfg = H.make_config(
        sources=[H.mastodon_source("masto", masto.url)],
        notifiers=[
            H.webhook_notifier("signed", signed.url, secret_file="webhook-secret"),
            H.webhook_notifier("rotating", rotating.url, secret_file="rotate-new",
                               previous_secret_file="rotate-old",
                               signature_header="X-Earshot-Sig"),
            H.webhook_notifier("plain", plain.url),
        ])
    d = case.daemon(cfg, files={"webhook-secret": secret + "\n", "rotate-new": new_secret + "\n",
                                "rotate-old": old_secret})
    posts = [masto.add_status(f"<p>acme I want a refund for order {i} \u2014 now</p>",
                              acct=f"u{i}@h.example") for i in range(3)]
    uris = [p["uri"] for p in posts]
    d.start()
    signed.wait_posts(uris, timeout=30)
    rotating.wait_posts(uris, timeout=30)
    plain.wait_posts(uris, timeout=30)

    key = secret.encode()

    # ---- every signed delivery verifies ---------------------------------------------------
    dl = signed.all()
    case.note(f"signed: {len(dl)} requests, statuses {[x['status'] for x in dl]}")
    for x in dl:
        sig = x["headers"].get("earshot-signature")
        res = verify(sig, x["raw"], key, x["wall"])
        case.expect(res is True, f"signed delivery {x['key']}: {res} (header {sig!r})")
        t, sigs = parse_signature(sig)
        case.expect(len(sigs) == 1, f"signed delivery {x['key']}: {len(sigs)} v1 entries, want 1")
        case.expect(t is not None and abs(int(t) - x["wall"]) <= 60,
                    f"signed delivery {x['key']}: t={t} is not the time of sending "
                    f"({int(x['wall'])})")
        case.expect(all(len(s) == 64 and s == s.lower() and int(s, 16) >= 0 for s in sigs),
                    f"signed delivery {x['key']}: v1 is not 64 lowercase hex digits: {sigs}")

    # ---- what the verifier must reject ---------------------------------------------------
    x = signed.ok()[0]
    sig = x["headers"]["earshot-signature"]
    t, _ = parse_signature(sig)
    raw = x["raw"]
    for i in (0, len(raw) // 2, len(raw) - 1):
        tampered = raw[:i] + bytes([raw[i] ^ 0x01]) + raw[i + 1:]
        res = verify(sig, tampered, key, x["wall"])
        case.expect(res == "no v1 matches", f"body with byte {i} changed: verifier said {res!r}")
    res = verify(sig, raw, b"whsec_not-the-secret", x["wall"])
    case.expect(res == "no v1 matches", f"wrong secret: verifier said {res!r}")
    res = verify(sig, raw, key + b"\n", x["wall"])
    case.expect(res == "no v1 matches", f"secret with the file's line break: verifier said {res!r}")
    res = verify(sig, raw, key, int(t) + TOLERANCE + 1)
    case.expect(isinstance(res, str) and res.startswith("stale"),
                f"replayed 5 min + 1 s after t: verifier said {res!r}")
    res = verify(sig, raw, key, int(t) - TOLERANCE - 1)
    case.expect(isinstance(res, str) and res.startswith("stale"),
                f"t 5 min + 1 s in the future: verifier said {res!r}")
    res = verify(sig, raw, key, int(t) + TOLERANCE - 1)
    case.expect(res is True, f"4:59 after t: verifier said {res!r}, want accepted")
    # t is covered by the MAC: moving it to pass the time check breaks the signature
    _, sigs = parse_signature(sig)
    moved = f"t={int(t) + 600},v1={sigs[0]}"
    res = verify(moved, raw, key, int(t) + 600)
    case.expect(res == "no v1 matches", f"t rewritten by a replayer: verifier said {res!r}")

    # ---- the retry: same body and key, fresh t and signature ------------------------------
    failed = [x for x in dl if x["status"] == 500]
    case.expect(len(failed) == 1, f"{len(failed)} requests answered 500, want 1")
    if failed:
        f = failed[0]
        later = [x for x in dl if x["key"] == f["key"] and x["t"] > f["t"]]
        case.expect(later and later[0]["status"] == 200,
                    f"no 200 retry of {f['key']}: {[x['status'] for x in later]}")
        if later:
            r = later[0]
            t1, s1 = parse_signature(f["headers"].get("earshot-signature"))
            t2, s2 = parse_signature(r["headers"].get("earshot-signature"))
            case.note(f"retry of {f['key']}: t {t1} -> {t2}")
            case.expect(r["raw"] == f["raw"], "the retry's body differs from the first attempt's")
            case.expect(r["key"] == f["key"], "the retry's Idempotency-Key differs")
            case.expect(t1 and t2 and int(t2) > int(t1),
                        f"the retry was not signed afresh: t {t1} then {t2}")
            case.expect(s1 != s2, "the retry repeats the first attempt's v1")
            case.expect(verify(r["headers"].get("earshot-signature"), r["raw"], key,
                               r["wall"]) is True, "the retry's signature does not verify")
            # the first attempt's signature replayed with the retry's body and a later clock
            res = verify(f["headers"].get("earshot-signature"), r["raw"], key,
                         int(t1) + TOLERANCE + 5)
            case.expect(res is not True, f"the first attempt replayed 5 min later: {res!r}")

    # ---- rotation: one v1 per secret, under the configured header --------------------------
    for x in rotating.all():
        case.expect("earshot-signature" not in x["headers"],
                    "rotating: an Earshot-Signature header although signature_header is set")
        sig = x["headers"].get("x-earshot-sig")
        t, sigs = parse_signature(sig)
        case.expect(len(sigs) == 2, f"rotating {x['key']}: {len(sigs)} v1 entries, want 2")
        for name, k in (("new", new_secret), ("old", old_secret)):
            res = verify(sig, x["raw"], k.encode(), x["wall"])
            case.expect(res is True, f"rotating {x['key']}: a receiver on the {name} secret "
                                     f"rejects it: {res}")
        res = verify(sig, x["raw"], key, x["wall"])
        case.expect(res == "no v1 matches", f"rotating {x['key']}: another notifier's secret "
                                            f"verifies it: {res!r}")
        if len(sigs) == 2:
            want_new = hmac.new(new_secret.encode(), t.encode() + b"." + x["raw"],
                                hashlib.sha256).hexdigest()
            case.expect(sigs[0] == want_new, f"rotating {x['key']}: the first v1 is not the "
                                             "current secret's")

    # ---- unsigned ---------------------------------------------------------------------------
    for x in plain.all():
        bad = [h for h in x["headers"] if "signature" in h or h == "x-earshot-sig"]
        case.expect(not bad, f"plain {x['key']}: signature headers without a secret: {bad}")

    # the same alert, signed or not, has the same body
    by_key = {x["key"]: x["raw"] for x in plain.ok()}
    for x in signed.ok():
        case.expect(by_key.get(x["key"]) == x["raw"],
                    f"{x['key']}: the signed body differs from the unsigned one")

    d.stop()

    # ---- no secret anywhere it should not be ----------------------------------------------
    logs = d.all_logs()
    case.expect(logs.strip() != "", "the daemon wrote no log at all")
    for s in secrets:
        case.expect(s not in logs, "a secret appears in the daemon's log")
    for name in os.listdir(d.state_dir):
        with open(os.path.join(d.state_dir, name), "rb") as fh:
            data = fh.read()
        for s in secrets:
            case.expect(s.encode() not in data, f"a secret appears in the store file {name}")
    for r in (signed, rotating, plain):
        for x in r.all():
            blob = x["raw"] + repr(x["headers"]).encode()
            for s in secrets:
                case.expect(s.encode() not in blob, f"a secret was sent to {r.path}")


if __name__ == "__main__":
    H.main("webhook_hmac", test)
