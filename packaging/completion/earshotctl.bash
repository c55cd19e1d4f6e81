# bash completion for earshotctl(1). Installed into bash-completion's completionsdir by meson
# (packaging/completion/meson.build); test: packaging/dev/test-completion.sh.
#
# Commands, their options and the values those take; alert ids for show and the state
# commands (from `earshotctl list --json`), source names for poll (from `earshotctl sources
# --json`), failed delivery rows for redeliver, routes for notify-test (`notify-test --list`),
# all with the -s/-c given on the line. Those queries are bounded by a timeout and
# silent: on any error there is simply nothing to offer.
#
# shellcheck disable=SC2207  # COMPREPLY=($(compgen ...)) is the completion idiom

# The top-level "key": "value" strings of cJSON's pretty-printed array of objects (each
# object's own keys sit two tabs in; nested ones deeper).
_earshotctl_json_values() {
    local key=$1 line
    while IFS= read -r line; do
        [[ $line == $'\t\t"'"$key"$'":\t"'* ]] || continue
        line=${line#*$'":\t"'}
        printf '%s\n' "${line%\",}"
    done
}

_earshotctl_query() {
    local -a cmd=("${1:-earshotctl}")
    shift
    [[ -n $_earshotctl_state_dir ]] && cmd+=(--state-dir "$_earshotctl_state_dir")
    [[ -n $_earshotctl_config ]] && cmd+=(--config "$_earshotctl_config")
    timeout 2 "${cmd[@]}" "$@" 2>/dev/null
}

_earshotctl() {
    local cur prev words cword
    if declare -F _init_completion >/dev/null; then
        _init_completion -n = || return
    else
        cur=${COMP_WORDS[COMP_CWORD]}
        prev=${COMP_WORDS[COMP_CWORD - 1]}
        words=("${COMP_WORDS[@]}")
        cword=$COMP_CWORD
    fi

    local commands="list show ack respond resolve reopen mute false-positive stats test-rules
                    explain backtest sources poll deliveries redeliver notify-test"
    local global="-s --state-dir -c --config --json --color -V --version -h --help"
    local states="open acknowledged responded resolved muted false-positive"

    # The command, and the -s/-c given so far (for the queries).
    local i w command=
    _earshotctl_state_dir='' _earshotctl_config=''
    for ((i = 1; i < cword; i++)); do
        w=${words[i]}
        case $w in
        -s | --state-dir) _earshotctl_state_dir=${words[i + 1]}; ((i++)) ;;
        -c | --config) _earshotctl_config=${words[i + 1]}; ((i++)) ;;
        --state-dir=*) _earshotctl_state_dir=${w#*=} ;;
        --config=*) _earshotctl_config=${w#*=} ;;
        --color | --state | --brand | --rule | --network | --since | --limit | --by | --note | \
            --lang | --source | --followers | --rating | --rules | --pages | --timeout) ((i++)) ;;
        -*) ;;
        *) [[ -z $command ]] && command=$w ;;
        esac
    done
    # ~ is not expanded by the shell inside completion
    _earshotctl_state_dir=${_earshotctl_state_dir/#\~/$HOME}
    _earshotctl_config=${_earshotctl_config/#\~/$HOME}

    case $prev in
    -s | --state-dir)
        COMPREPLY=($(compgen -d -- "$cur")); return ;;
    -c | --config | --rules)
        COMPREPLY=($(compgen -f -- "$cur")); return ;;
    --color)
        COMPREPLY=($(compgen -W "auto always never" -- "$cur")); return ;;
    --state)
        # a comma-separated list: complete its last element
        local head=
        [[ $cur == *,* ]] && head=${cur%,*},
        COMPREPLY=($(compgen -P "$head" -W "$states" -- "${cur##*,}")); return ;;
    --by)
        [[ $command == stats ]] && COMPREPLY=($(compgen -W "rule brand network" -- "$cur"))
        return ;;
    --rating)
        COMPREPLY=($(compgen -W "1 2 3 4 5" -- "$cur")); return ;;
    --since)
        COMPREPLY=($(compgen -W "1h 12h 1d 7d 30d" -- "$cur")); return ;;
    --brand | --rule | --network | --limit | --note | --lang | --source | --followers | --pages)
        return ;;
    --timeout)
        COMPREPLY=($(compgen -W "10s 30s 1m" -- "$cur")); return ;;
    esac

    local opts
    case $command in
    "")
        if [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W "$global" -- "$cur"))
        else
            COMPREPLY=($(compgen -W "$commands" -- "$cur"))
        fi
        return ;;
    list) opts="--state --all --brand --rule --network --overdue --since --limit --json --color" ;;
    show) opts="--json --color" ;;
    ack | respond | resolve | reopen | mute | false-positive) opts="--by --note" ;;
    stats) opts="--since --by --json" ;;
    test-rules) opts="--json --color" ;;
    explain) opts="--lang --network --source --followers --rating --json --color" ;;
    backtest) opts="--since --rules --json" ;;
    sources) opts="--json" ;;
    poll) opts="--pages --json" ;;
    deliveries) opts="--pending --failed --all --limit --json" ;;
    redeliver) opts="--failed" ;;
    notify-test) opts="--no-wait --timeout --list" ;;
    *) return ;;
    esac
    opts+=" -s --state-dir -c --config -h --help"

    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
        return
    fi

    local earshotctl=${words[0]}
    case $command in
    show | reopen)
        COMPREPLY=($(compgen -W "$(_earshotctl_query "$earshotctl" list --all --limit 500 --json \
            | _earshotctl_json_values id)" -- "$cur")) ;;
    ack | respond | resolve | mute | false-positive)
        COMPREPLY=($(compgen -W "$(_earshotctl_query "$earshotctl" list --limit 500 --json \
            | _earshotctl_json_values id)" -- "$cur")) ;;
    poll)
        COMPREPLY=($(compgen -W "$(_earshotctl_query "$earshotctl" sources --json \
            | _earshotctl_json_values source | sort -u)" -- "$cur")) ;;
    test-rules)
        COMPREPLY=($(compgen -f -- "$cur")) ;;
    redeliver)
        # the rows that need it: failed and rejected (ids are numbers in the JSON)
        COMPREPLY=($(compgen -W "$(_earshotctl_query "$earshotctl" deliveries --failed --json \
            | sed -n 's/^\t\t"id":\t\([0-9]*\),$/\1/p')" -- "$cur")) ;;
    notify-test)
        COMPREPLY=($(compgen -W "$(_earshotctl_query "$earshotctl" notify-test --list)" \
            -- "$cur")) ;;
    esac
}
complete -F _earshotctl earshotctl
