#!/bin/bash
# check-units.sh EARSHOTD UNIT... - offline checks of the generated systemd units:
#   * `systemd-analyze verify` prints nothing (it exits 0 on unknown keys and bad values,
#     so any output is a failure);
#   * `systemd-analyze security --offline=yes` scores each unit at 1.5 or lower.
# verify wants ExecStart= to exist on this machine, so each unit is checked as a copy whose
# ExecStart= points at the built earshotd; a template is checked as an instance
# (earshot@check.service). Exit 77 (skip) when systemd-analyze is missing.
set -uo pipefail
MAX_EXPOSURE=15            # --threshold= is ten times the printed score: 15 = "1.5"

earshotd=$1; shift
if ! command -v systemd-analyze >/dev/null; then
        echo "SKIP: systemd-analyze not found (apt-get install systemd)"
        exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

failed=0
for unit in "$@"; do
        name=$(basename "$unit")
        [[ $name == *@.service ]] && name=${name%@.service}@check.service
        sed "s|^ExecStart=[^ ]*|ExecStart=$earshotd|" "$unit" > "$tmp/$name"

        out=$(cd "$tmp" && systemd-analyze verify --man=no "./$name" 2>&1)
        if [ -n "$out" ]; then
                echo "FAIL - $name: systemd-analyze verify printed:"
                sed 's/^/    /' <<<"$out"
                failed=1
        else
                echo "ok   - $name: systemd-analyze verify prints nothing"
        fi

        report=$(cd "$tmp" && systemd-analyze security --offline=yes --no-pager "./$name" 2>&1)
        score=$(sed -n 's/.*Overall exposure level for .*: \([0-9.]*\).*/\1/p' <<<"$report")
        if [ -z "$score" ]; then
                echo "FAIL - $name: no exposure score from systemd-analyze security:"
                sed 's/^/    /' <<<"$report"
                failed=1
        elif (cd "$tmp" && systemd-analyze security --offline=yes --no-pager \
                        --threshold="$MAX_EXPOSURE" "./$name" >/dev/null 2>&1); then
                echo "ok   - $name: exposure $score (at most 1.5)"
                grep '✗' <<<"$report" | sed 's/  */ /g; s/^/    /'
        else
                echo "FAIL - $name: exposure $score, above 1.5:"
                grep '✗' <<<"$report" | sed 's/^/    /'
                failed=1
        fi
done
exit $failed
