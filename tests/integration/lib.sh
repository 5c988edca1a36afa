# Shared helpers of the integration tests (sourced). Each test gets a work directory under
# $TMPDIR named boxer-test.*, and everything it starts is stopped by PID when it exits.
#
#   pass/fail/check       count results; `finish` prints "N passed, N failed" and exits
#   skip REASON           exit 77 (ctest's SKIP) with the reason
#   start_registry VAR [--htpasswd U:P]   a docker-registry; VAR_ADDR and VAR_DIR are set
#   start_proxy VAR ARGS...               tests/integration/registry_proxy.py; VAR_PORT is set
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
BUILD=${BOXER_BUILD_DIR:-$ROOT/build}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/boxer-test.XXXXXX")
PASSES=0
FAILS=0
_REGISTRY_DIRS=()
_PIDS=()

pass() {
    PASSES=$((PASSES + 1))
    printf 'PASS: %s\n' "$*"
}
fail() {
    FAILS=$((FAILS + 1))
    printf 'FAIL: %s\n' "$*"
}
skip() {
    printf 'SKIP: %s\n' "$*"
    exit 77
}
check() {
    local what=$1
    shift
    if "$@"; then pass "$what"; else fail "$what"; fi
}
finish() {
    printf '%d passed, %d failed\n' "$PASSES" "$FAILS"
    [[ $FAILS -eq 0 ]]
    exit $?
}

_cleanup() {
    local pid d
    for pid in "${_PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    done
    for d in "${_REGISTRY_DIRS[@]}"; do
        "$ROOT/hack/registry.sh" stop "$d" >/dev/null 2>&1
    done
    rm -rf "$WORK"
}
trap _cleanup EXIT
# A test stopped by a signal (ctest's timeout, ^C) still stops what it started.
trap 'exit 143' TERM
trap 'exit 130' INT

start_registry() {
    local var=$1 out
    shift
    out=$("$ROOT/hack/registry.sh" start "$@") || return 1
    eval "$out"
    _REGISTRY_DIRS+=("$REGISTRY_DIR")
    printf -v "${var}_ADDR" '%s' "$REGISTRY_ADDR"
    printf -v "${var}_DIR" '%s' "$REGISTRY_DIR"
}

stop_registry() {
    "$ROOT/hack/registry.sh" stop "$1" >/dev/null
}

start_proxy() {
    local var=$1 ready
    shift
    ready=$(mktemp -u "$WORK/proxy.XXXXXX")
    python3 "$ROOT/tests/integration/registry_proxy.py" --ready-file "$ready" "$@" &
    _PIDS+=($!)
    for _ in $(seq 100); do
        [[ -s $ready ]] && break
        sleep 0.05
    done
    [[ -s $ready ]] || return 1
    printf -v "${var}_PORT" '%s' "$(cat "$ready")"
    printf -v "${var}_PID" '%s' "$!"
}

stop_proxy() {
    kill -TERM "$1" 2>/dev/null
    wait "$1" 2>/dev/null
    return 0
}

# boxer_procs HOME MARK: the boxer-shim, runsc and sandbox processes still there that a boxerd
# with that home started: MARK (BOXERD_TEST_MARK=MARK) in their environment, or HOME in their
# command line. One "pid comm args" line each. Not a live boxerd's spare shim (a `boxer-shim
# spare` whose parent is boxerd): that one is part of the daemon; a spare left without its
# boxerd is listed.
boxer_procs() {
    local home=$1 mark=$2 p comm args ppid
    for p in /proc/[0-9]*; do
        # (a process may exit at any point: 2>/dev/null comes before each < so that bash's own
        # "No such process" is silenced too)
        comm=$(cat 2>/dev/null "$p/comm") || continue
        case $comm in boxer-shim | runsc* | exe) ;; *) continue ;; esac
        args=$(tr 2>/dev/null '\0' ' ' <"$p/cmdline") || continue
        if [[ $args == *"boxer-shim spare " ]]; then
            ppid=$(awk 2>/dev/null '{print $4}' "$p/stat") || continue
            [[ $(cat 2>/dev/null "/proc/$ppid/comm") == boxerd ]] && continue
        fi
        if [[ $args == *"$home/"* ]] ||
            tr 2>/dev/null '\0' '\n' <"$p/environ" | grep -qxF "BOXERD_TEST_MARK=$mark"; then
            echo "${p#/proc/} $comm ${args:0:150}"
        fi
    done
}

# no_boxer_procs HOME MARK: none, within 10 s (processes that are exiting get a moment); else
# prints them and fails.
no_boxer_procs() {
    local left line
    for _ in $(seq 20); do
        left=$(boxer_procs "$1" "$2")
        [[ -z $left ]] && return 0
        sleep 0.5
    done
    while read -r line; do echo "    left: $line"; done <<<"$left"
    return 1
}

# sanitizer_logs_to DIR: in a sanitizer build, the reports of what is started from here on
# (boxerd, boxerctl, and the detached shims, whose stderr is a log in a run directory that is
# removed before a leak report is written at their exit) go to files in DIR.
sanitizer_logs_to() {
    mkdir -p "$1"
    export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}log_path=$1/asan"
    export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}log_path=$1/ubsan"
}

# no_sanitizer_reports DIR [LOG...]: no report in DIR's files nor in the logs; else prints them.
no_sanitizer_reports() {
    local dir=$1
    shift
    if [[ -n $(ls -A "$dir" 2>/dev/null) ]]; then
        head -n 20 "$dir"/*
        return 1
    fi
    ! grep -sE "(Address|Undefined|Leak|Thread)Sanitizer|runtime error:" "$@"
}

# alive PID: the process exists and is not a zombie.
alive() {
    local st
    st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
    [[ $st != Z ]]
}

# exited_within PID SECS
exited_within() {
    local end=$((SECONDS + $2))
    while ((SECONDS < end)); do
        alive "$1" || return 0
        sleep 0.1
    done
    ! alive "$1"
}

# dir_empty DIR [SECS]: DIR holds nothing (waiting up to SECS for it); else lists what is left.
dir_empty() {
    local end=$((SECONDS + ${2:-0}))
    while :; do
        [[ -z $(ls -A "$1" 2>/dev/null) ]] && return 0
        ((SECONDS >= end)) && break
        sleep 0.2
    done
    find "$1" -mindepth 1 -maxdepth 1 -printf "    left in $1: %f\n"
    return 1
}

# no_mounts_under DIR: nothing is mounted below DIR.
no_mounts_under() { ! grep -qF -- " $1/" /proc/mounts; }
