#!/bin/bash
# The bash completion of earshotctl (meson suite 'packaging'; also runs by hand):
#   test-completion.sh COMPLETION EARSHOTD EARSHOTCTL DEMO_CONFIG
# sources the script into this bash (without the bash-completion package: the script must
# work on its own), fills a store with `earshotd --once` on the demo config, and checks what
# _earshotctl offers for a few command lines: commands, options, option values, alert ids,
# source names, and nothing (and no noise) when the store is missing.
set -euo pipefail
[ $# -eq 4 ] || { echo "usage: $0 COMPLETION EARSHOTD EARSHOTCTL DEMO_CONFIG"; exit 2; }
completion=$1 earshotd=$2 earshotctl=$3 config=$4

tmp=$(mktemp -d "${TMPDIR:-/tmp}/earshot-test-completion.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
failed=0

# shellcheck source=/dev/null
source "$completion"
complete -p earshotctl | grep -q -- '-F _earshotctl' || { echo "FAIL: no complete -F"; exit 1; }

# complete LINE: COMPREPLY for the command line LINE (words split on blanks; a trailing
# blank starts an empty word), sorted, one per line.
complete_line() {
    local line=$1
    read -ra COMP_WORDS <<<"$line"
    [[ $line == *' ' ]] && COMP_WORDS+=("")
    COMP_WORDS[0]=$earshotctl
    COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
    COMP_LINE=$line COMP_POINT=${#line}
    COMPREPLY=()
    _earshotctl earshotctl "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
    printf '%s\n' "${COMPREPLY[@]}" | sed '/^$/d' | sort
}

flat() { tr '\n' ' ' <<<"$1" | sed 's/ $//'; }

expect() {
    local line=$1 want got
    want=$(printf '%s\n' "${@:2}" | sed '/^$/d' | sort)
    got=$(complete_line "$line" 2>"$tmp/stderr")
    if [ "$got" != "$want" ]; then
        echo "FAIL: '$line': got [$(flat "$got")], want [$(flat "$want")]"; failed=1
    elif [ -s "$tmp/stderr" ]; then
        echo "FAIL: '$line' wrote to stderr: $(cat "$tmp/stderr")"; failed=1
    else
        echo "ok: '$line' -> [$(flat "$got")]"
    fi
}

expect "earshotctl li" list
expect "earshotctl re" redeliver respond resolve reopen
expect "earshotctl --col" --color
expect "earshotctl --color a" auto always
expect "earshotctl list --ov" --overdue
expect "earshotctl list --state ac" acknowledged
expect "earshotctl list --state open,re" open,responded open,resolved
expect "earshotctl stats --by " brand network rule
expect "earshotctl ack --n" --note
expect "earshotctl explain --ra" --rating
expect "earshotctl -s $tmp/missing ack " ""
expect "earshotctl -c $tmp/missing.yaml poll " ""
n=$(complete_line "earshotctl " | wc -l)
[ "$n" -eq 17 ] || { echo "FAIL: 'earshotctl ' offers $n commands, not 17"; failed=1; }
expect "earshotctl deliveries --f" --failed
expect "earshotctl notify-test --l" --list

# A real store: alert ids for the state commands, source names for poll.
state="$tmp/state"
timeout 30 "$earshotd" --once --config "$config" --state-dir "$state" --log-level err \
    || { echo "FAIL: earshotd --once on $config"; exit 1; }
ids=$("$earshotctl" --state-dir "$state" list --json | sed -n 's/^\t\t"id":\t"\(.*\)",$/\1/p')
[ -n "$ids" ] || { echo "FAIL: the demo made no alert"; exit 1; }
# shellcheck disable=SC2086
expect "earshotctl --state-dir $state ack " $ids
first=$(echo "$ids" | head -n 1)
expect "earshotctl show -s $state ${first:0:12}" "$first"
expect "earshotctl -c $config -s $state poll " demo-replay
expect "earshotctl -c $config -s $state poll demo-r" demo-replay
# shellcheck disable=SC2046
expect "earshotctl -c $config -s $state notify-test " $("$earshotctl" -c "$config" notify-test --list)
exit $failed
