#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""earshot.yaml(5) lists every option of every plugin built (meson suite 'packaging').

    test-man-plugins.py EARSHOTD PLUGIN_DIR PAGE

Asks `EARSHOTD --plugin-dir PLUGIN_DIR --describe-plugins` (the plain listing, which reads
the same option tables the daemon validates a configuration against) for every plugin in
PLUGIN_DIR and its options, renders PAGE with `man -l`, and checks that each plugin has its
subsection under SOURCE TYPES or NOTIFIER TYPES with its description, and each option its
entry: name (and NAME_file for a secret), type, required, secret, default and description.
A plugin in the page that is not in PLUGIN_DIR fails too. Exits 77 (skip) without man(1) or
groff(1).
"""
import os
import re
import shutil
import subprocess
import sys

TYPES = ("list of strings", "string", "integer", "boolean", "duration", "URL", "path")


def normalize(s):
    """Text as a terminal shows it, with the typographic forms of groff's UTF-8 output
    folded back, and every run of white space one space."""
    for a, b in (("\u2010", "-"), ("\u2011", "-"), ("\u2212", "-"), ("\u2018", "'"),
                 ("\u2019", "'"), ("`", "'"), ("\u201c", '"'), ("\u201d", '"'),
                 ("\u02c6", "^"), ("\u02dc", "~"), ("\u00b4", "'")):
        s = s.replace(a, b)
    return " ".join(s.split())


def describe(earshotd, plugin_dir):
    """{(kind, type): (description, [option dicts])} from the plain listing."""
    out = subprocess.run([earshotd, "--plugin-dir", plugin_dir, "--describe-plugins"],
                         capture_output=True, text=True, check=True).stdout
    plugins, cur = {}, None
    lines = out.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        m = re.match(r"^(source|notify)-([a-z0-9_-]+): ?(.*)$", line)
        if m:
            cur = []
            plugins[(m.group(1), m.group(2))] = (m.group(3), cur)
        elif re.match(r"^  \S", line):
            # "  NAME<pad> TYPE[, required][, secret (or NAME_file: PATH)][, default DEF]"
            # and the description on the next line
            name, rest = line.strip().split(None, 1)
            desc = lines[i + 1].strip() if i + 1 < len(lines) else ""
            typ = next((t for t in TYPES if rest.startswith(t)), None)
            if typ is None:
                sys.exit(f"cannot read the type in: {line!r}")
            rest = rest[len(typ):]
            opt = {"name": name, "type": typ, "required": False, "secret": False,
                   "default": None, "description": desc}
            if rest.startswith(", required"):
                opt["required"], rest = True, rest[len(", required"):]
            secret = f", secret (or {name}_file: PATH)"
            if rest.startswith(secret):
                opt["secret"], rest = True, rest[len(secret):]
            if rest.startswith(", default "):
                opt["default"], rest = rest[len(", default "):], ""
            if rest:
                sys.exit(f"cannot read the flags in: {line!r}")
            cur.append(opt)
            i += 1
        i += 1
    return plugins


def render(page):
    env = dict(os.environ, MANWIDTH="1000", LC_ALL="C.UTF-8", MAN_KEEP_FORMATTING="")
    env.pop("MANPAGER", None)
    env.pop("PAGER", None)
    if shutil.which("man"):
        cmd = ["man", "-l", page]
    elif shutil.which("groff"):
        cmd = ["groff", "-man", "-Tutf8", "-rLL=1000n", "-P-cbou", page]
    else:
        print("SKIP: neither man nor groff is installed")
        sys.exit(77)
    out = subprocess.run(cmd, capture_output=True, env=env, check=True).stdout
    return re.sub(r".\x08", "", out.decode("utf-8", "replace"))


def sections(text, heading):
    """The subsections ("   TYPE" lines) of a section ("HEADING" at the left margin)."""
    m = re.search(rf"^{heading}\n(.*?)(?=^\S|\Z)", text, re.M | re.S)
    if not m:
        return None
    subs = {}
    for s in re.finditer(r"^   (\S+)\n(.*?)(?=^   \S|\Z)", m.group(1), re.M | re.S):
        subs[s.group(1)] = normalize(s.group(2))
    return subs


def main(argv):
    if len(argv) != 4:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    earshotd, plugin_dir, page = argv[1:]
    plugins = describe(earshotd, plugin_dir)
    if not plugins:
        print(f"FAIL: earshotd lists no plugins in {plugin_dir}")
        return 1
    text = render(page)
    failed = 0
    n_options = 0
    for kind, heading in (("source", "SOURCE TYPES"), ("notify", "NOTIFIER TYPES")):
        subs = sections(text, heading)
        if subs is None:
            print(f"FAIL: {page} has no section {heading}")
            failed = 1
            continue
        want = sorted(t for (k, t) in plugins if k == kind)
        for extra in sorted(set(subs) - set(want)):
            print(f"FAIL: {heading} lists {extra}, which is not in {plugin_dir}")
            failed = 1
        for t in want:
            desc, options = plugins[(kind, t)]
            body = subs.get(t)
            if body is None:
                print(f"FAIL: {kind}-{t} is missing from {heading}")
                failed = 1
                continue
            d = normalize(desc)
            if d and d[1:] not in body:
                print(f"FAIL: {kind}-{t}: its description is not in the page: {desc!r}")
                failed = 1
            if f"({kind}-{t}.so)" not in body:
                print(f"FAIL: {kind}-{t}: the page does not name its module")
                failed = 1
            for o in options:
                n_options += 1
                head = o["name"] + (f", {o['name']}_file" if o["secret"] else "")
                head += f" ({o['type']}" + (", required" if o["required"] else "")
                head += ", secret" if o["secret"] else ""
                head += f", default: {o['default']}" if o["default"] else ""
                entry = normalize(head + ") " + o["description"])
                if entry not in body:
                    print(f"FAIL: {kind}-{t}: no entry '{entry}'")
                    failed = 1
                elif o["secret"] and normalize(f"as {o['name']}_file: PATH") not in body:
                    print(f"FAIL: {kind}-{t}: {o['name']}: the {o['name']}_file form is not "
                          "explained")
                    failed = 1
    if not failed:
        print(f"ok: {len(plugins)} plugins, {n_options} options, all in {os.path.basename(page)}")
    return failed


if __name__ == "__main__":
    sys.exit(main(sys.argv))
