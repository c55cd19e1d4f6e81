#!/bin/bash
# Keyword matcher benchmark (tests/bench/README.md): installs what it needs, configures a
# release build in build-bench, builds bench-match and runs it. Arguments go to bench-match:
#   bash packaging/dev/bench.sh                       # 1,000,000 posts, 100/1000/10000 terms
#   bash packaging/dev/bench.sh --posts 100000 --sets 10000 --no-tools
set -euo pipefail
cd "$(dirname "$0")/../.."

bash packaging/dev/install-deps.sh

# rg and grep run next to earshot; without them the benchmark prints "not installed".
if ! command -v rg >/dev/null 2>&1; then
    if [ "$(id -u)" -eq 0 ]; then
        echo "earshot: installing ripgrep" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends ripgrep >/dev/null
    else
        echo "earshot: ripgrep is missing (apt-get install ripgrep as root); going on without it" >&2
    fi
fi

# Build output goes to stderr, so stdout is only the benchmark's table.
if [ ! -f build-bench/build.ninja ]; then
    meson setup build-bench --buildtype=release -Dtests=true >&2
elif ! meson introspect build-bench --buildoptions | python3 -c '
import json, sys
o = {x["name"]: x["value"] for x in json.load(sys.stdin)}
sys.exit(0 if o.get("buildtype") == "release" and o.get("tests") is True else 1)'; then
    meson configure build-bench --buildtype=release -Dtests=true >&2
fi
ninja -C build-bench tests/bench/bench-match >&2

exec build-bench/tests/bench/bench-match "$@"
