#!/usr/bin/env bash
# Proves that the test suite leaves nothing behind.
#   leftovers.sh snapshot DIR  records the processes of interest and the temporary directory's
#                              entries that exist before the first test;
#   leftovers.sh check DIR     fails, naming them, if any such process or entry appeared since.
set -euo pipefail

mode=${1:?usage: leftovers.sh snapshot|check DIR}
dir=${2:?usage: leftovers.sh snapshot|check DIR}
tmp=${TMPDIR:-/tmp}

# Processes of the programs the tests start: ours, runsc's (its sandbox and gofer re-execute
# runsc and may show as "exe"), and the registry. Only those of this test run count: the ones
# whose environment carries this run's BOXER_TEST_RUN marker (hack/test.sh sets it) or whose
# command line names this run's temporary directory, so other users of the machine never fail it.
procs() {
    local pid args
    ps -eo pid=,comm=,args= | awk '
        $2 ~ /^(boxerd|boxer-shim|boxerctl|docker-registry)$/ || $2 ~ /^runsc/ ||
        ($2 == "exe" && $0 ~ /runsc/) { print $1, substr($0, index($0, $3), 120) }' |
        while read -r pid args; do
            if [[ -n ${BOXER_TEST_RUN:-} ]] &&
                tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -qx "BOXER_TEST_RUN=$BOXER_TEST_RUN"; then
                echo "$pid $args"
            elif [[ $tmp != /tmp && $args == *"$tmp"* ]]; then
                echo "$pid $args"
            elif [[ -z ${BOXER_TEST_RUN:-} ]]; then
                echo "$pid $args"
            fi
        done | sort
}

entries() {
    find "$tmp" -mindepth 1 -maxdepth 1 -printf '%f\n' 2>/dev/null | sort
}

case "$mode" in
snapshot)
    mkdir -p "$dir"
    procs >"$dir/procs"
    entries >"$dir/tmp"
    echo "leftovers: snapshot of $(wc -l <"$dir/procs") processes, $(wc -l <"$dir/tmp") entries in $tmp"
    ;;
check)
    [[ -f $dir/procs && -f $dir/tmp ]] || { echo "leftovers: no snapshot in $dir"; exit 1; }
    # Give processes that are exiting a moment to go.
    new_procs=""
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        new_procs=$(comm -13 <(cut -d' ' -f1 "$dir/procs") <(procs | cut -d' ' -f1) || true)
        [[ -z $new_procs ]] && break
        sleep 0.5
    done
    new_tmp=$(comm -13 "$dir/tmp" <(entries) || true)
    status=0
    if [[ -n $new_procs ]]; then
        echo "leftovers: FAIL: processes started by the tests are still running:"
        for p in $new_procs; do
            echo "  pid $p: $(tr '\0' ' ' </proc/"$p"/cmdline 2>/dev/null | cut -c1-160)"
        done
        status=1
    fi
    if [[ -n $new_tmp ]]; then
        echo "leftovers: FAIL: entries left in $tmp by the tests:"
        sed 's/^/  /' <<<"$new_tmp"
        status=1
    fi
    rm -rf "$dir"
    [[ $status -eq 0 ]] && echo "leftovers: none"
    exit $status
    ;;
*)
    echo "usage: leftovers.sh snapshot|check DIR" >&2
    exit 2
    ;;
esac
