#!/bin/bash
# Quick start, part two: install the dependencies, then build and run the whole test suite
# twice: a plain build and an AddressSanitizer + UndefinedBehaviorSanitizer build, both with
# warnings as errors. Ends with the line "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/../.."

bash packaging/dev/install-deps.sh || exit 1

export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
status=0
builds=(build-test build-asan)
for b in "${builds[@]}"; do
    rm -rf "$b"
    opts=(-Dwerror=true -Dtests=true)
    mult=1
    if [ "$b" = build-asan ]; then
        opts+=(-Db_sanitize=address,undefined -Db_lundef=false)
        mult=3
    fi
    echo "== $b: meson setup ${opts[*]}"
    if ! meson setup "$b" "${opts[@]}" >"$b.setup.log" 2>&1; then
        cat "$b.setup.log"; status=1; continue
    fi
    rm -f "$b.setup.log"
    if ! ninja -C "$b"; then
        status=1; continue
    fi
    meson test -C "$b" --print-errorlogs --timeout-multiplier "$mult" || status=1
done

python3 packaging/dev/test-summary.py "${builds[@]}" || status=1
exit $status
