#!/bin/bash
# Every man page given renders cleanly (meson suite 'packaging'; also runs by hand):
#   groff -man -ww -z reports no warning or error, and man -l formats it without a word on
#   standard error. Exits 77 (skip) when groff is not installed.
set -euo pipefail

if ! command -v groff >/dev/null; then
    echo "SKIP: groff is not installed (bash packaging/dev/install-deps.sh)"
    exit 77
fi
[ $# -gt 0 ] || { echo "usage: $0 PAGE..."; exit 2; }

failed=0
for page in "$@"; do
    out=$(groff -man -ww -z "$page" 2>&1) || true
    if [ -n "$out" ]; then
        echo "FAIL: groff warns on $page:"; echo "$out"; failed=1; continue
    fi
    if command -v man >/dev/null; then
        out=$(MANWIDTH=80 man -l "$page" 2>&1 >/dev/null) || { echo "FAIL: man -l $page"; failed=1; }
        if [ -n "$out" ]; then
            echo "FAIL: man -l warns on $page:"; echo "$out"; failed=1; continue
        fi
    fi
    echo "ok: $(basename "$page")"
done
exit $failed
