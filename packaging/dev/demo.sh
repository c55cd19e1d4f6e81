#!/bin/bash
# Quick start, part one: install the dependencies, build, and run earshotd on the shipped
# demo config (config/demo.yaml): a replay of sample public posts, English and Russian,
# matched by the shipped rules in config/rules.d/, with alerts printed as they are found.
# Stop it with Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/../.."

bash packaging/dev/install-deps.sh
if [ ! -f build/build.ninja ]; then
    meson setup build >/dev/null
fi
ninja -C build >/dev/null

state=$(mktemp -d /tmp/earshot-demo.XXXXXX)
echo "earshot demo: state in $state; Ctrl-C stops. Afterwards:"
echo "    build/daemon/earshotctl --state-dir $state list"
echo
exec build/daemon/earshotd --config config/demo.yaml --plugin-dir build/plugins \
    --state-dir "$state" "$@"
