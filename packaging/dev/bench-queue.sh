#!/bin/bash
# Alert queue benchmark: alerts enqueued per second with the shipped durability settings, then
# earshotctl list/stats on a store of 1,000,000 alerts (a year of complaints, 99% closed).
#   bash packaging/dev/bench-queue.sh            # 1,000,000 alerts
#   bash packaging/dev/bench-queue.sh 100000     # a smaller store
set -euo pipefail
cd "$(dirname "$0")/../.."
N="${1:-1000000}"

bash packaging/dev/install-deps.sh

if [ ! -f build-bench/build.ninja ]; then
    meson setup build-bench --buildtype=release -Dtests=true >&2
fi
ninja -C build-bench tests/bench/bench-queue daemon/earshotctl >&2

dir=$(mktemp -d /tmp/earshot-bench-queue.XXXXXX)
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir/enqueue" "$dir/big"

echo "# the store on $(df -h "$dir" | awk 'NR==2 {print $1}'), WAL, synchronous=FULL"
build-bench/tests/bench/bench-queue enqueue "$dir/enqueue" 2000
build-bench/tests/bench/bench-queue fill "$dir/big" "$N"
echo "store: $(du -h "$dir/big/earshot.db" | cut -f1) for $N alerts"

ctl=build-bench/daemon/earshotctl
TIMEFORMAT='%R'
run() {
    local what="$1"; shift
    # the second of two runs: the page cache is warm, as on a machine that runs earshotd
    "$ctl" --state-dir "$dir/big" "$@" >/dev/null
    local t
    t=$( { time "$ctl" --state-dir "$dir/big" "$@" >/dev/null; } 2>&1 )
    printf '%-44s %6.3f s\n' "$what" "$t"
}
run "earshotctl list (open and acknowledged)" list
run "earshotctl list --overdue" list --overdue
run "earshotctl list --all --since 1d" list --all --since 1d
run "earshotctl stats (last 7 days)" stats
run "earshotctl stats --since 30d --by rule" stats --since 30d --by rule
run "earshotctl stats --since 365d (every alert)" stats --since 365d
