#!/usr/bin/env python3
"""check_config: `earshotd --check-config` names every error as FILE:LINE:COL, and
secrets reach the webhook without reaching the log.

  * one broken file per error kind (unknown key with did-you-mean, bad duration,
    a map where a list is expected, mastodon source without `instances`, unknown
    source type, YAML syntax error, unknown key inside an included rules file,
    unknown severity): exit status 1 and the exact `F:LINE:COL:` position
    (1-based; for a missing option, the position of the mapping that lacks it);
  * one file with several errors: all of them printed in one run;
  * the valid example config: exit 0 and a summary; `--version`, `--help` exit 0;
    the plugin directory comes from EARSHOT_PLUGIN_DIR here (no --plugin-dir);
  * secrets: `bearer_token: ${HOOK_TOKEN}`, `bearer_token_file:` relative to
    $CREDENTIALS_DIRECTORY and absolute each reach their webhook as
    `Authorization: Bearer <token>`; no token appears in the debug log, the
    --check-config output or earshotctl output.
"""

import os
import re
import secrets
import subprocess

import harness as H

VALID = """\
log_level: info
defaults:
  respond_within: 1h
  backfill: 1h
  interval: 60s
http:
  timeout: 30s
  connect_timeout: 10s
  max_response_size: 8388608
delivery:
  retry_initial: 10s
  retry_max: 1h
include:
  - rules.d/*.yaml
sources:
  - name: mastodon-acme
    type: mastodon
    interval: 2s
    respond_within: 1h
    backfill: 1h
    instances: [http://127.0.0.1:9]
    tags: [acme]
    limit: 40
    max_pages: 10
notifiers:
  - name: hook
    type: webhook
    url: http://127.0.0.1:9/hook
    bearer_token: ${HOOK_TOKEN}
  - name: console
    type: log
brands:
  - name: acme
    terms: [acme, "#acme", "acme corp"]
    exclude: [acmejobs]
rules:
  - name: refunds
    brand: acme
    any: [refund*, "money back", "верните деньги"]
    none: [hiring, giveaway]
    severity: high
    respond_within: 30m
"""

EXTRA_RULES = """\
rules:
  - name: outage
    brand: acme
    any: [outage, "is down"]
    severity: normal
"""

BAD_INCLUDED = """\
rules:
  - name: slow
    brand: acme
    any: [slow, "takes forever"]
    severty: low
"""

MULTI = """\
log_level: debug
defaults:
  respond_within: 1h
  backfill: 1h
sources:
  - name: src-typo
    type: mastodon
    intervall: 2s
    instances: [http://127.0.0.1:9]
    tags: [acme]
  - name: src-baddur
    type: mastodon
    interval: fast
    instances: [http://127.0.0.1:9]
    tags: [acme]
  - name: src-maptags
    type: mastodon
    instances: [http://127.0.0.1:9]
    tags: {acme: true}
  - name: src-noinst
    type: mastodon
    tags: [acme]
  - name: src-twitter
    type: twitter
    tags: [acme]
notifiers:
  - name: console
    type: log
brands:
  - name: acme
    terms: [acme]
rules:
  - name: refunds
    brand: acme
    any: [refund*]
    severity: urgent
"""


def value_pos(text, needle):
    """Position of the value in a 'key: value' needle."""
    line, col = H.pos_of(text, needle)
    return line, col + needle.index(": ") + 2


def mutate(text, old, new):
    assert old in text, f"test bug: {old!r} not in config"
    return text.replace(old, new, 1)


def check_errors(case, label, rc, out, filename, expects):
    """expects: [(line, col, [words that must be on that line])]."""
    case.expect(rc == 1, f"{label}: --check-config exit status {rc}, want 1; output:\n{out}")
    for line, col, words in expects:
        hits = H.find_pos(out, filename, line, col)
        if not case.expect(hits, f"{label}: no '{filename}:{line}:{col}:' in output:\n{out}"):
            continue
        for w in words:
            case.expect(any(re.search(w, h, re.I) for h in hits),
                        f"{label}: '{filename}:{line}:{col}:' line lacks /{w}/: {hits}")


def test(case):
    cdir = os.path.join(case.dir, "configs")
    os.makedirs(os.path.join(cdir, "rules.d"))
    token = "tok-env-" + secrets.token_hex(12)
    env = {"HOOK_TOKEN": token}

    def write(name, text):
        p = os.path.join(cdir, name)
        with open(p, "w", encoding="utf-8") as f:
            f.write(text)
        return p

    write("rules.d/extra.yaml", EXTRA_RULES)

    # The valid example.
    p = write("valid.yaml", VALID)
    rc, out = H.run_check_config(case, p, env)
    case.expect(rc == 0, f"valid config: exit status {rc}, want 0; output:\n{out}")
    case.expect(out.strip(), "valid config: --check-config printed no summary")
    case.expect(re.search(r"rule|source", out, re.I),
                f"valid config: the summary should mention sources/rules: {out!r}")
    case.expect(token not in out, "--check-config printed the bearer token")

    # One error per file.
    singles = [
        ("unknown-key", mutate(VALID, "    interval: 2s", "    intervall: 2s"), "intervall",
         [r"unknown key 'intervall'", r"did you mean 'interval'"]),
        ("bad-duration", mutate(VALID, "    interval: 2s", "    interval: fast"), "fast",
         [r"invalid duration 'fast'"]),
        ("map-not-list", mutate(VALID, "    tags: [acme]", "    tags: {acme: true}"), "{acme",
         [r"list|sequence|array"]),
        ("no-instances", mutate(VALID, "    instances: [http://127.0.0.1:9]\n", ""),
         "name: mastodon-acme", [r"instances"]),
        ("unknown-type", mutate(VALID, "    type: mastodon", "    type: twitter"), "type: twitter",
         [r"twitter"]),
        ("bad-severity", mutate(VALID, "    severity: high", "    severity: urgent"), "urgent",
         [r"urgent"]),
    ]
    for label, text, needle, words in singles:
        p = write(f"bad-{label}.yaml", text)
        line, col = value_pos(text, needle) if ": " in needle else H.pos_of(text, needle)
        if needle.startswith("name: "):     # a missing option: the mapping, at its first key
            line, col = H.pos_of(text, needle)
        rc, out = H.run_check_config(case, p, env)
        check_errors(case, label, rc, out, f"bad-{label}.yaml", [(line, col, words)])

    # YAML syntax error: libyaml reports it at the second ':' (1-based 1:16).
    text = mutate(VALID, "log_level: info\n", "log_level: info: debug\n")
    p = write("bad-syntax.yaml", text)
    rc, out = H.run_check_config(case, p, env)
    check_errors(case, "yaml-syntax", rc, out, "bad-syntax.yaml", [(1, 16, [])])

    # An error inside an included file is reported with that file's path.
    write("rules.d/zz-bad.yaml", BAD_INCLUDED)
    p = write("with-bad-include.yaml", VALID)
    line, col = H.pos_of(BAD_INCLUDED, "severty")
    rc, out = H.run_check_config(case, p, env)
    check_errors(case, "include", rc, out, "rules.d/zz-bad.yaml",
                 [(line, col, [r"unknown key 'severty'", r"did you mean 'severity'"])])
    os.unlink(os.path.join(cdir, "rules.d/zz-bad.yaml"))

    # Several errors in one file: all reported in one run.
    p = write("bad-multi.yaml", MULTI)
    rc, out = H.run_check_config(case, p, env)
    check_errors(case, "multi", rc, out, "bad-multi.yaml", [
        (*H.pos_of(MULTI, "intervall"), [r"unknown key 'intervall'", r"did you mean 'interval'"]),
        (*H.pos_of(MULTI, "fast"), [r"invalid duration 'fast'"]),
        (*H.pos_of(MULTI, "{acme"), [r"list|sequence|array"]),
        (*H.pos_of(MULTI, "name: src-noinst"), [r"instances"]),
        (*value_pos(MULTI, "type: twitter"), [r"twitter"]),
        (*H.pos_of(MULTI, "urgent"), [r"urgent"]),
    ])

    # --version / --help
    for flag in ("--version", "--help"):
        r = subprocess.run([H.earshotd_path(), flag], capture_output=True, timeout=20,
                           stdin=subprocess.DEVNULL)
        out = (r.stdout + r.stderr).decode("utf-8", "replace")
        case.expect(r.returncode == 0, f"earshotd {flag}: exit status {r.returncode}")
        if flag == "--version":
            case.expect(re.search(r"\d+\.\d+", out), f"earshotd --version prints no version: {out!r}")
        else:
            case.expect("--check-config" in out and "--config" in out,
                        f"earshotd --help does not list the options: {out[:300]!r}")

    # Secrets: env var, credentials directory, absolute file.
    srv = case.server("mock")
    masto = H.MastodonInstance(srv)
    hooks = {n: H.WebhookReceiver(srv, "/" + n) for n in ("hook-env", "hook-cred", "hook-abs")}
    tok_cred = "tok-cred-" + secrets.token_hex(12)
    tok_abs = "tok-abs-" + secrets.token_hex(12)
    creds = os.path.join(case.dir, "creds")
    os.makedirs(creds)
    with open(os.path.join(creds, "hook.token"), "w") as f:
        f.write(tok_cred)
    abs_path = os.path.join(case.dir, "abs.token")
    with open(abs_path, "w") as f:
        f.write(tok_abs)
    cfg = H.make_config(
        sources=[H.mastodon_source("mastodon-acme", masto.url, interval="1s")],
        notifiers=[H.webhook_notifier("hook-env", hooks["hook-env"].url, bearer_token="${HOOK_TOKEN}"),
                   H.webhook_notifier("hook-cred", hooks["hook-cred"].url,
                                      bearer_token_file="hook.token"),
                   H.webhook_notifier("hook-abs", hooks["hook-abs"].url,
                                      bearer_token_file=abs_path)],
        log_level="debug")
    d = case.daemon(cfg, env={"HOOK_TOKEN": token, "CREDENTIALS_DIRECTORY": creds})
    rc, out = H.run_check_config(case, d.config_path, {"HOOK_TOKEN": token,
                                                      "CREDENTIALS_DIRECTORY": creds})
    case.expect(rc == 0, f"secrets config: --check-config exit {rc}:\n{out}")
    leaked = [t for t in (token, tok_cred, tok_abs) if t in out]
    case.expect(not leaked, f"--check-config printed secrets: {leaked}")
    d.start()
    s = masto.add_status("<p>acme please refund my order</p>")
    for name, tok in (("hook-env", token), ("hook-cred", tok_cred), ("hook-abs", tok_abs)):
        hooks[name].wait_posts([s["uri"]])
        dl = hooks[name].by_post()[s["uri"]][0]
        auth = dl["headers"].get("authorization")
        case.expect(auth == f"Bearer {tok}", f"{name}: Authorization {auth!r}, want 'Bearer {tok}'")
    rc, out, err = d.ctl("list")
    rc2, out2, err2 = d.ctl("list", "--json")
    d.stop()
    text = d.all_logs() + out + err + out2 + err2
    case.expect("debug" in d.all_logs(), "the daemon log has no debug lines at --log-level debug")
    leaked = [t for t in (token, tok_cred, tok_abs) if t in text]
    case.expect(not leaked, f"secret values appear in the daemon log / earshotctl output: {leaked}")


if __name__ == "__main__":
    H.main("check_config", test)
