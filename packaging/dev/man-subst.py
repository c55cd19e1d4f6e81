#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Render a man page from scdoc source that has a generated section.

    man-subst.py SCDOC TEMPLATE GENERATED OUTPUT [PLACEHOLDER]

TEMPLATE (scdoc) must hold PLACEHOLDER (default @PLUGIN_OPTIONS@) alone on exactly one line;
that line is replaced by the text of GENERATED (scdoc too), the result is rendered with the
scdoc(1) program SCDOC, and the man page is written to OUTPUT. Characters outside ASCII (in
a plugin's description, say) are written as groff \\[uXXXX] escapes, so the page reads the
same whatever encoding man(1) guesses. packaging/man/meson.build makes earshot.yaml.5 this
way from earshot.yaml.5.scd.in and `earshotd --describe-plugins=scdoc`.
"""
import subprocess
import sys


def main(argv):
    if len(argv) not in (5, 6):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    scdoc, template, generated, output = argv[1:5]
    placeholder = argv[5] if len(argv) == 6 else "@PLUGIN_OPTIONS@"
    with open(template, encoding="utf-8") as f:
        lines = f.read().split("\n")
    with open(generated, encoding="utf-8") as f:
        text = f.read().rstrip("\n")
    at = [i for i, line in enumerate(lines) if line.strip() == placeholder]
    if len(at) != 1:
        print(f"{template}: {placeholder} must stand alone on exactly one line, "
              f"found {len(at)}", file=sys.stderr)
        return 1
    if not text.strip():
        print(f"{generated}: empty; nothing to put in place of {placeholder}", file=sys.stderr)
        return 1
    lines[at[0]] = text
    source = "\n".join(lines)

    run = subprocess.run([scdoc], input=source.encode("utf-8"), capture_output=True)
    if run.returncode != 0:
        # scdoc names a line of the combined source: show it
        err = run.stderr.decode("utf-8", "replace").strip()
        print(f"{scdoc} failed on {template} with {generated} in it: {err}", file=sys.stderr)
        try:
            n = int(err.split("Error at ")[1].split(":")[0])
            print(f"  line {n}: {source.split(chr(10))[n - 1]}", file=sys.stderr)
        except (IndexError, ValueError):
            pass
        return 1
    roff = run.stdout.decode("utf-8")
    roff = "".join(c if ord(c) < 128 else f"\\[u{ord(c):04X}]" for c in roff)
    with open(output, "w", encoding="ascii") as f:
        f.write(roff)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
