#!/usr/bin/env bash
# The cost of Boxer's supervision: `boxerctl run` and `boxer-shim run` against a raw `runsc run`
# of the same bundle with the same runsc flags. How to read the output: hack/bench/shim.md.
#
#   hack/bench/shim.sh [--runs N] [--build DIR] [--save DIR]
#       --runs N     timed runs of every command (default 15)
#       --build DIR  the build tree holding ctl/boxerctl and shim/boxer-shim
#                    (default: $BOXER_BUILD_DIR, else <repo>/build-bench)
#       --save DIR   also copy every measured time to DIR (one file per image and command,
#                    "ROUND MICROSECONDS" per line)
#
# Root only (overlay mounts, cgroups). Starts a throw-away registry (hack/registry.sh), pushes
# the cached busybox and python test images (hack/test-images.sh), pulls them into a private
# Boxer home, then for each image times, alternating run by run (the order rotates every round):
#   (a) same limits: `runsc run` with the limits in the bundle (linux.resources and
#       linux.cgroupsPath, enforced by runsc itself), `boxerctl run` with the configured default
#       limits, `boxer-shim run` with the limits boxerctl passes;
#   (b) no limits:   `runsc run --ignore-cgroups`, `boxerctl run` with "ignore_cgroups": true,
#       `boxer-shim run --ignore-cgroups`.
# Every run's output is checked. A raw runsc run that fails stops the bench (the baseline would
# be wrong); a failed boxerctl or boxer-shim run is left out of the times, reported under the
# table, and makes the exit status 1. Times never fail the bench.
# Also reported: the boxer-shim daemon's peak RSS while `sleep 2` runs, and how long
# `boxer-shim start` takes to return (its socket is ready) for a bundle running `sleep 1`.
# Everything it makes (registry, home, mounts, run directories, cgroups) is removed at exit.
set -euo pipefail
shopt -s inherit_errexit
export LC_ALL=C

REPO=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../.." && pwd)
readonly REPO
RUNS=15
BUILD=${BOXER_BUILD_DIR:-$REPO/build-bench}
SAVE=""
readonly CG_ROOT=/sys/fs/cgroup
# What the shim gives runsc (shim/runsc.c): the raw runs get the same environment.
readonly RUNSC_ENV=(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
    TMPDIR=/tmp GOTRACEBACK=single)
# The configured default limits (common/config.c) as runsc's own cgroup: the memory limit plus
# the shim's 32 MiB allowance for runsc itself, 1 core, the shim's host pids limit for 64.
readonly RAW_RESOURCES='{"memory": {"limit": 301989888},
    "cpu": {"quota": 100000, "period": 100000}, "pids": {"limit": 832}}'

die() {
    printf 'shim-bench: error: %s\n' "$*" >&2
    exit 1
}
log() { printf 'shim-bench: %s\n' "$*" >&2; }
usage() {
    sed -n '4,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

while (($#)); do
    case $1 in
    --runs) (($# >= 2)) || usage; RUNS=$2; shift 2 ;;
    --runs=*) RUNS=${1#*=}; shift ;;
    --build) (($# >= 2)) || usage; BUILD=$2; shift 2 ;;
    --build=*) BUILD=${1#*=}; shift ;;
    --save) (($# >= 2)) || usage; SAVE=$2; shift 2 ;;
    --save=*) SAVE=${1#*=}; shift ;;
    -h | --help) usage ;;
    *) usage ;;
    esac
done
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "--runs wants a positive integer"
((EUID == 0)) || die "run as root: the bench mounts overlays and makes cgroups"
CTL=$(readlink -f "$BUILD/ctl/boxerctl")
SHIM=$(readlink -f "$BUILD/shim/boxer-shim")
[[ -x $CTL && -x $SHIM ]] || die "no boxerctl/boxer-shim under $BUILD (cmake --build it first)"
for tool in runsc jq docker-registry curl awk; do
    command -v "$tool" >/dev/null || die "$tool not found"
done
[[ -n ${EPOCHREALTIME:-} ]] || die "bash 5 or newer needed (EPOCHREALTIME)"

# One private directory for everything; every ancestor traversable for runsc's sandbox.
W=$(mktemp -d /var/tmp/bsh.XXXX)
chmod 711 "$W"
export TMPDIR=$W
readonly W
TAG=bsh$$ # every id, run directory and cgroup of ours starts with it
readonly TAG
H=$W/h # Boxer's home: short, the shim's socket path must fit in 107 bytes
REGISTRY_DIR="" REGISTRY_ADDR=""
CG_PARENTS_BEFORE=$(ls -d "$CG_ROOT"/*/boxer "$CG_ROOT"/*/boxer-bench "$CG_ROOT"/boxer \
    "$CG_ROOT"/boxer-bench 2>/dev/null || true)

# --- clean-up -------------------------------------------------------------------------------

# PID is a process whose command line names our directory.
ours() {
    local pid=$1
    [[ $pid =~ ^[0-9]+$ && -r /proc/$pid/cmdline ]] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$W/"
}

# Sends SIGNAL to the boxer-shim daemons of ours (their --state is under $W), or only to the one
# of execution ID; prints how many there were. A boxerctl run whose Delete failed leaves its shim
# lingering (300 s): on TERM the shim cleans up and exits.
signal_shims() {
    local sig=$1 id=${2:-} f pid comm cmd n=0
    for f in /proc/[0-9]*/comm; do
        pid=${f#/proc/}
        pid=${pid%/comm}
        read -r comm 2>/dev/null <"$f" || continue
        [[ $comm == boxer-shim ]] || continue
        cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") || continue
        [[ $cmd == *" --state $W/"* ]] || continue
        [[ -z $id || $cmd == *" --id $id "* ]] || continue
        kill "-$sig" "$pid" 2>/dev/null && n=$((n + 1))
    done
    echo "$n"
}

# shim_gone ID: the shim of execution ID exits within 5 s.
shim_gone() {
    local i
    for ((i = 0; i < 100; i++)); do
        [[ $(signal_shims 0 "$1") == 0 ]] && return 0
        sleep 0.05
    done
    return 1
}

rm_cgroup() {
    local dir=$1 i pid
    for ((i = 0; i < 100; i++)); do
        [[ -d $dir ]] || break
        while read -r pid; do
            [[ -n $pid ]] && kill -KILL "$pid" 2>/dev/null
        done <"$dir/cgroup.procs"
        rmdir "$dir" 2>/dev/null && break
        sleep 0.05
    done
}

cleanup() {
    local rc=$? root id mnt dir i
    set +e
    trap - EXIT INT TERM
    # Shim daemons (their runsc dies with them: PR_SET_PDEATHSIG).
    signal_shims TERM >/dev/null
    for ((i = 0; i < 50; i++)); do
        [[ $(signal_shims 0) == 0 ]] && break
        sleep 0.1
    done
    signal_shims KILL >/dev/null
    # Raw sandboxes left by an interrupted run.
    for root in "$W"/raw/*/runsc; do
        [[ -d $root ]] || continue
        for id in $(env -i "${RUNSC_ENV[@]}" runsc --root="$root" list -q 2>/dev/null); do
            env -i "${RUNSC_ENV[@]}" runsc --root="$root" delete --force "$id" >/dev/null 2>&1
        done
    done
    # Mounts under our directory, deepest first.
    while read -r mnt; do
        umount "$mnt" 2>/dev/null || umount -l "$mnt"
    done < <(awk -v p="$W/" 'index($2, p) == 1 {print $2}' /proc/self/mounts | sort -r)
    # Cgroups named after our ids; the parents only when this run made them.
    for dir in "$CG_ROOT"/*/boxer/"$TAG"-* "$CG_ROOT"/boxer/"$TAG"-* \
        "$CG_ROOT"/*/boxer-bench/"$TAG"-* "$CG_ROOT"/boxer-bench/"$TAG"-*; do
        [[ -d $dir ]] && rm_cgroup "$dir"
    done
    for dir in "$CG_ROOT"/*/boxer "$CG_ROOT"/*/boxer-bench "$CG_ROOT"/boxer "$CG_ROOT"/boxer-bench; do
        [[ -d $dir ]] || continue
        grep -qxF -- "$dir" <<<"$CG_PARENTS_BEFORE" || rmdir "$dir" 2>/dev/null
    done
    [[ -n $REGISTRY_DIR ]] && "$REPO/hack/registry.sh" stop "$REGISTRY_DIR"
    if awk -v p="$W/" 'index($2, p) == 1 {f = 1} END {exit !f}' /proc/self/mounts; then
        printf 'shim-bench: something is still mounted under %s; not removing it\n' "$W" >&2
    else
        rm -rf "$W"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- helpers --------------------------------------------------------------------------------

# Times are ${EPOCHREALTIME/./}: microseconds, read without a subshell around the command.

# A fresh overlay view of image $1's cached rootfs at $W/raw/$1/view/merged, as boxerctl makes
# one per run (cmd_run.c, run_make_dirs).
view_mount() {
    local v=$W/raw/$1/view
    rm -rf "$v/upper" "$v/work"
    mkdir -m 711 "$v/upper" "$v/work"
    mount -t overlay overlay -o "nosuid,nodev,lowerdir=${ROOTFS[$1]},upperdir=$v/upper,workdir=$v/work" \
        "$v/merged"
}
view_umount() { umount "$W/raw/$1/view/merged"; }

# check WHAT WANT GOT ERRFILE RC: a set-up step ran the program, else the bench stops.
check() {
    if [[ $3 != "$2" || $5 != 0 ]]; then
        log "$1: exit status $5, output '$3' (expected '$2'); its stderr:"
        sed 's/^/  | /' "$4" >&2
        die "$1 did not run the program; the comparison would be meaningless"
    fi
}

# problem WHAT ERRFILE: a failed boxerctl or boxer-shim run, with the last line of its stderr.
problem() {
    local last
    last=$(grep -v '^[[:space:]]*$' "$2" | tail -n 1 | cut -c1-300) || true
    log "problem: $1${last:+: $last}"
    printf '%s%s\n' "$1" "${last:+
    $last}" >>"$W/problems"
}

declare -A ROOTFS CMD SHOW WANT
IMAGES=(busybox python)
CMD[busybox]="echo hi"
WANT[busybox]=hi
CMD[python]="python3 -c print(42)" # split on blanks: keep the program blank-free
SHOW[busybox]="echo hi"
SHOW[python]="python3 -c 'print(42)'"
WANT[python]=42
short() { case $1 in busybox) echo bb ;; python) echo py ;; esac; }
argv_of() { read -r -a "$1" <<<"${CMD[$2]}"; }

# cg_name ID STATE_DIR: the name of the shim's cgroup.
cg_name() { /usr/bin/python3 "$REPO/hack/cgroup-name.py" "$1" "$2"; }

# --- set-up ---------------------------------------------------------------------------------

log "work directory $W"
REG_ENV=$("$REPO/hack/registry.sh" start) || die "hack/registry.sh start failed"
eval "$REG_ENV"
[[ -n ${REGISTRY_ADDR:-} && -n ${REGISTRY_DIR:-} ]] || die "hack/registry.sh start printed no address"
log "registry $REGISTRY_ADDR"
"$REPO/hack/test-images.sh" push "$REGISTRY_ADDR" "${IMAGES[@]}" >/dev/null

mkdir -m 711 "$H" "$W/raw" "$W/s" "$W/times"
# The tag TTL is raised so that no timed run asks the registry again (the default is 300 s).
CFG_CG=$W/config.json
CFG_NOCG=$W/config-nocg.json
jq -n --arg home "$H" --arg mirror "http://$REGISTRY_ADDR" \
    '{home: $home, registry_mirrors: {"docker.io": [$mirror]}, image_tag_ttl_secs: 86400}' >"$CFG_CG"
jq '.ignore_cgroups = true' "$CFG_CG" >"$CFG_NOCG"
export BOXER_SHIM=$SHIM

for img in "${IMAGES[@]}"; do
    ROOTFS[$img]=$("$CTL" --config "$CFG_CG" --json pull "$img" | jq -r .rootfs)
    [[ -d ${ROOTFS[$img]} ]] || die "pull $img: no rootfs"
done

# The bundle boxerctl makes, copied from a kept run; the raw runs and boxer-shim run use it with
# root.path and /output pointing at our own overlay view and output directory. This run is also
# the warm-up (boxerctl probes runsc's platforms once and caches the answer in its home).
for img in "${IMAGES[@]}"; do
    argv_of cmd "$img"
    for try in 1 2 3; do
        id=$TAG-$(short "$img")-tpl$try
        run=$H/run/$id
        out=$("$CTL" --config "$CFG_CG" run --keep --id "$id" --image "$img" -- "${cmd[@]}" \
            2>"$W/err") && rc=0 || rc=$?
        shim_gone "$id" || [[ $(signal_shims TERM "$id") == 0 ]] ||
            problem "boxerctl run --keep ($img): its shim was still running 5 s after boxerctl exited" \
                /dev/null
        mountpoint -q "$run/view/merged" && umount "$run/view/merged"
        [[ $out == "${WANT[$img]}" && $rc == 0 ]] && break
        ((try < 3)) || check "boxerctl run --keep ($img)" "${WANT[$img]}" "$out" "$W/err" "$rc"
        problem "boxerctl run --keep ($img), try $try: exit status $rc, output '$out'" "$W/err"
        rm -rf "$run"
    done
    rb=$W/raw/$img
    mkdir -m 711 "$rb" "$rb/view" "$rb/view/merged" "$rb/runsc" "$rb/bundle" "$rb/bundle-cg" \
        "$rb/bundle-shim" \
        "$rb/bundle-sleep"
    mkdir -m 700 "$rb/output"
    chown --reference="$run/output" "$rb/output"
    jq --arg root "$rb/view/merged" --arg out "$rb/output" '
        .root.path = $root
        | del(.linux.cgroupsPath)
        | .mounts |= map(if .destination == "/output" then .source = $out else . end)' \
        "$run/bundle/config.json" >"$rb/bundle/config.json"
    jq --argjson res "$RAW_RESOURCES" '.linux.resources = $res' "$rb/bundle/config.json" \
        >"$rb/cg-template.json"
    jq '.process.args = ["sleep", "1"]' "$rb/bundle/config.json" >"$rb/bundle-sleep/config.json"
    chmod 600 "$rb"/bundle*/config.json
    rm -rf "$run"
done

# boxerctl's shim, caught while `sleep 2` runs: its peak RSS, and its command line (the flags
# boxerctl gives it, reused for `boxer-shim run` and for the raw runs' runsc flags). boxerctl
# hands them to a spare shim on its stdin (shim/spare.c), so /proc shows only "boxer-shim
# start"; at debug level the shim logs them (space-separated: no path of ours has a blank).
CFG_DEBUG=$W/config-debug.json
jq '.log_level = "debug"' "$CFG_CG" >"$CFG_DEBUG"
rss_id=$TAG-rss
"$CTL" --config "$CFG_DEBUG" run --id "$rss_id" --image busybox -- sleep 2 >"$W/rss.out" 2>&1 &
ctl_pid=$!
shim_pid="" shim_args=""
for ((i = 0; i < 200; i++)); do
    shim_pid=$(cat "$H/run/$rss_id/shim.pid" 2>/dev/null || true)
    shim_args=$(sed -n 's/.* msg=arguments args="\(.*\)"$/\1/p' "$H/run/$rss_id/shim.log" 2>/dev/null || true)
    [[ -n $shim_pid && -r /proc/$shim_pid/cmdline && -n $shim_args ]] && break
    sleep 0.02
done
[[ -n $shim_pid && -n $shim_args ]] ||
    die "the shim of the sleep 2 run did not appear (or logged no arguments): $(tail -n 3 "$W/rss.out")"
read -r -a shim_argv <<<"$shim_args"
shim_argv=("$SHIM" "${shim_argv[@]}")
# boxerctl waits through its link, so gRPC is not up in its shim until a client calls it
# (docs/shim.md): sampled first so, then after one `state` call, as for boxerd's shims.
hwm="" rss="" threads="" hwm0="" threads0="" called=no
while [[ -r /proc/$shim_pid/status ]]; do
    st=$(cat "/proc/$shim_pid/status" 2>/dev/null) || break
    h=$(awk '/^VmHWM:/ {print $2}' <<<"$st")
    [[ -n $h ]] || break # a zombie has no memory lines
    hwm=$h
    rss=$(awk '/^VmRSS:/ {print $2}' <<<"$st")
    t=$(awk '/^Threads:/ {print $2}' <<<"$st")
    ((t > ${threads:-0})) && threads=$t
    if [[ $called == no ]]; then
        hwm0=$hwm threads0=$threads called=yes
        "$CTL" --config "$CFG_CG" state "$rss_id" >/dev/null 2>&1 ||
            problem "boxerctl state during the RSS sample failed" /dev/null
    fi
    sleep 0.05
done
wait "$ctl_pid" || problem "boxerctl run -- sleep 2 (the RSS sample) failed" "$W/rss.out"
shim_gone "$rss_id" || [[ $(signal_shims TERM "$rss_id") == 0 ]] ||
    problem "boxerctl run -- sleep 2 (the RSS sample): its shim was still running 5 s after boxerctl exited" /dev/null

# The shim's options minus start/--id/--bundle/--state; runsc's global flags from them.
SHIM_ARGS=()
RUNSC_FLAGS=()
for ((i = 2; i < ${#shim_argv[@]}; i++)); do
    a=${shim_argv[i]}
    case $a in
    --id | --bundle | --state | --log-level) ((i++)) ;;
    --remove-state) ;; # the foreground shim's output and record are read after it exits
    --runsc-flag=*) RUNSC_FLAGS+=("${a#--runsc-flag=}"); SHIM_ARGS+=("$a") ;;
    *) SHIM_ARGS+=("$a") ;;
    esac
done
[[ ${shim_argv[1]} == start && ${#RUNSC_FLAGS[@]} -gt 0 ]] ||
    die "unexpected shim command line: ${shim_argv[*]}"
# Without a Delete the foreground shim cleans up as soon as the program exited.
SHIM_ARGS+=(--linger-secs 0)

# The raw (a) variant really is limited: runsc made its cgroup with our limits.
cg_check=""
rb=$W/raw/busybox
view_mount busybox
jq --arg p "/boxer-bench/$TAG-check" '.linux.cgroupsPath = $p | .process.args = ["sleep", "1"]' \
    "$rb/cg-template.json" >"$rb/bundle-cg/config.json"
env -i "${RUNSC_ENV[@]}" runsc --root="$rb/runsc" "${RUNSC_FLAGS[@]}" run \
    --bundle="$rb/bundle-cg" "$TAG-check" >/dev/null 2>"$W/err" &
raw_pid=$!
for ((i = 0; i < 100; i++)); do
    c=$CG_ROOT/cpu/boxer-bench/$TAG-check
    [[ -d $CG_ROOT/boxer-bench/$TAG-check ]] && c=$CG_ROOT/boxer-bench/$TAG-check
    if [[ -n $(cat "$c/cgroup.procs" 2>/dev/null) ]]; then # cgroupfs sizes read 0
        if [[ -f $c/cpu.max ]]; then
            cg_check="cpu.max $(<"$c/cpu.max"), memory.max $(<"$c/memory.max"), pids.max $(<"$c/pids.max")"
        else
            cg_check="cpu.cfs_quota_us $(<"$c/cpu.cfs_quota_us")/$(<"$c/cpu.cfs_period_us")"
            cg_check+=", memory.limit_in_bytes $(<"$CG_ROOT/memory/boxer-bench/$TAG-check/memory.limit_in_bytes")"
            cg_check+=", pids.max $(<"$CG_ROOT/pids/boxer-bench/$TAG-check/pids.max")"
        fi
        break
    fi
    sleep 0.02
done
wait "$raw_pid" || die "raw runsc run with limits failed: $(cat "$W/err")"
view_umount busybox
[[ -n $cg_check ]] || die "runsc did not put the raw sandbox into /boxer-bench/$TAG-check"

# --- the timed runs -------------------------------------------------------------------------

VARIANTS=(raw_cg ctl_cg shim_cg raw_nocg ctl_nocg shim_nocg)

# run_one IMAGE VARIANT ROUND: one timed run, its output checked; appends "ROUND µs" to
# times/IMAGE.VARIANT
run_one() {
    local img=$1 v=$2 n=$3 rb=$W/raw/$1 id t0 t1 out rc=0 what state i
    local -a cmd
    argv_of cmd "$img"
    id=$TAG-$(short "$img")-${v/_/-}-$n
    case $v in
    raw_cg | raw_nocg)
        view_mount "$img"
        local bundle=$rb/bundle flags=("${RUNSC_FLAGS[@]}" --ignore-cgroups)
        if [[ $v == raw_cg ]]; then
            bundle=$rb/bundle-cg flags=("${RUNSC_FLAGS[@]}")
            jq --arg p "/boxer-bench/$id" '.linux.cgroupsPath = $p' "$rb/cg-template.json" \
                >"$bundle/config.json"
        fi
        what="runsc run ($v, $img)"
        t0=${EPOCHREALTIME/./}
        out=$(env -i "${RUNSC_ENV[@]}" runsc --root="$rb/runsc" "${flags[@]}" run \
            --bundle="$bundle" "$id" 2>"$W/err") || rc=$?
        t1=${EPOCHREALTIME/./}
        view_umount "$img"
        [[ ! -e $CG_ROOT/memory/boxer-bench/$id && ! -e $CG_ROOT/boxer-bench/$id ]] ||
            die "runsc left its cgroup /boxer-bench/$id"
        ;;
    ctl_cg | ctl_nocg)
        local cfg=$CFG_CG
        [[ $v == ctl_nocg ]] && cfg=$CFG_NOCG
        what="boxerctl run ($v, $img)"
        t0=${EPOCHREALTIME/./}
        out=$("$CTL" --config "$cfg" run --id "$id" --image "$img" -- "${cmd[@]}" 2>"$W/err") ||
            rc=$?
        t1=${EPOCHREALTIME/./}
        # Its shim removes the run directory once boxerctl's Delete is answered: waited for
        # here, untimed, so that the next command does not share the machine with it.
        for ((i = 0; i < 100; i++)); do [[ -e $H/run/$id ]] || break; sleep 0.05; done
        [[ ! -e $H/run/$id ]] || die "boxerctl's shim left $H/run/$id (5 s after boxerctl exited)"
        ;;
    shim_cg | shim_nocg)
        local extra=() bundle=$rb/bundle
        [[ $v == shim_nocg ]] && extra=(--ignore-cgroups)
        view_mount "$img"
        state=$W/s/$id
        mkdir -m 711 "$state"
        if [[ $v == shim_cg ]]; then
            # As boxerctl writes it: the spec names the shim's cgroup, for runsc to join.
            bundle=$rb/bundle-shim
            jq --arg p "/boxer/$(cg_name "$id" "$state")" '.linux.cgroupsPath = $p' \
                "$rb/bundle/config.json" >"$bundle/config.json"
        fi
        what="boxer-shim run ($v, $img)"
        t0=${EPOCHREALTIME/./}
        "$SHIM" run --id "$id" --bundle "$bundle" --state "$state" "${SHIM_ARGS[@]}" \
            "${extra[@]}" >/dev/null 2>"$W/err" || rc=$?
        t1=${EPOCHREALTIME/./}
        out=$(cat "$state/stdout" 2>/dev/null || true)
        [[ $rc != 0 ]] || rc=$(jq -r .exit_code "$state/exit.json" 2>/dev/null || echo missing)
        cat "$state/shim.log" >>"$W/err" 2>/dev/null || true
        view_umount "$img"
        rm -rf "$state"
        ;;
    esac
    local failed=0
    if [[ $v == raw_* ]]; then
        check "$what" "${WANT[$img]}" "$out" "$W/err" "$rc"
    elif [[ $out != "${WANT[$img]}" || $rc != 0 ]]; then
        problem "$what, round $n: exit status $rc, output '$out'" "$W/err"
        failed=1
    fi
    if [[ $v == ctl_* ]]; then
        if ((!failed)) && grep -q 'delete failed' "$W/err"; then
            problem "$what, round $n: the program ran, but Delete failed" "$W/err"
        fi
        # After Delete the shim stops its RPC server and exits on its own, often just after
        # boxerctl did: give it that time (untimed, so it does not slow the next run either).
        if ! shim_gone "$id" && [[ $(signal_shims TERM "$id") != 0 ]]; then
            problem "$what, round $n: its shim was still running 5 s after boxerctl exited" /dev/null
        fi
    fi
    ((failed)) || echo "$n $((t1 - t0))" >>"$W/times/$img.$v"
}

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
T_START=$SECONDS
nv=${#VARIANTS[@]}
for ((r = 1; r <= RUNS; r++)); do
    log "round $r/$RUNS"
    for img in "${IMAGES[@]}"; do
        for ((k = 0; k < nv; k++)); do
            run_one "$img" "${VARIANTS[(k + r) % nv]}" "$r"
        done
    done
done

# boxer-shim start returns once the socket is ready: timed for `sleep 1`, with the limits.
for ((r = 1; r <= RUNS; r++)); do
    id=$TAG-start-$r
    state=$W/s/$id
    view_mount busybox
    mkdir -m 711 "$state"
    t0=${EPOCHREALTIME/./}
    sock=$("$SHIM" start --id "$id" --bundle "$W/raw/busybox/bundle-sleep" --state "$state" \
        "${SHIM_ARGS[@]}" 2>"$W/err") || die "boxer-shim start failed: $(cat "$W/err")"
    t1=${EPOCHREALTIME/./}
    pid=$(cat "$state/shim.pid")
    [[ -S $sock ]] || die "boxer-shim start returned before $sock existed"
    echo "$r $((t1 - t0))" >>"$W/times/start.ready"
    for ((i = 0; i < 300; i++)); do ours "$pid" || break; sleep 0.02; done
    ours "$pid" && die "the shim of $id did not exit after its sleep 1"
    [[ $(jq -r .exit_code "$state/exit.json") == 0 ]] || die "sleep 1 under $id failed"
    view_umount busybox
    rm -rf "$state"
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
ELAPSED=$((SECONDS - T_START))

# --- the report -----------------------------------------------------------------------------

# stats FILE: "median p90" in ms (p90: nearest rank) of the second column
stats() {
    awk '{print $2}' "$1" | sort -n | awk '{v[NR] = $1} END {
        m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        r = int(0.9 * NR); if (r < 0.9 * NR) r++
        printf "%.0f %.0f\n", m / 1000, v[r] / 1000 }'
}
# ratio FILE BASE: the median of the per-round ratios FILE[round] / BASE[round]
ratio() {
    awk 'NR == FNR {base[$1] = $2; next} ($1 in base) {print $2 / base[$1]}' "$2" "$1" |
        sort -g | awk '{v[NR] = $1} END {
        printf "%.2f\n", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

row() { # row LABEL FILE [BASE]
    local med=- p90=- r=- n=0
    if [[ -s $2 ]]; then
        read -r med p90 < <(stats "$2")
        n=$(wc -l <"$2")
        [[ -n ${3:-} ]] && r=$(ratio "$2" "$3")
    fi
    printf '  %-42s %7s %7s %7s %5s\n' "$1" "$med" "$p90" "$r" "$n/$RUNS"
}

echo "Boxer shim bench: $RUNS runs of each command, alternating (order rotated every round)"
echo "runsc $(runsc --version 2>/dev/null | awk 'NR == 1 {print $3}'), runsc flags: ${RUNSC_FLAGS[*]}; $(nproc) cores;" \
    "load average $LOAD_BEFORE before, $LOAD_AFTER after; ${ELAPSED} s"
echo "wall time in ms; ratio = median over rounds of (command / runsc run of the same round)," \
    "target <= 1.10"
for img in "${IMAGES[@]}"; do
    t=$W/times/$img
    echo
    echo "$img: ${SHOW[$img]}"
    printf '  %-42s %7s %7s %7s %5s\n' "" median p90 ratio runs
    echo "  (a) same limits: 1 core, 256+32 MiB, 832 host pids"
    row "runsc run, limits in the bundle" "$t.raw_cg"
    row "boxerctl run (default limits)" "$t.ctl_cg" "$t.raw_cg"
    row "boxer-shim run (boxerctl's flags)" "$t.shim_cg" "$t.raw_cg"
    echo "  (b) no limits"
    row "runsc run --ignore-cgroups" "$t.raw_nocg"
    row "boxerctl run (ignore_cgroups: true)" "$t.ctl_nocg" "$t.raw_nocg"
    row "boxer-shim run --ignore-cgroups" "$t.shim_nocg" "$t.raw_nocg"
done
echo
echo "raw (a) limits as runsc applied them: $cg_check"
read -r med p90 < <(stats "$W/times/start.ready")
echo "boxer-shim start -> socket ready (busybox sleep 1, limits): median $med ms, p90 $p90 ms" \
    "($RUNS runs)"
echo "boxer-shim daemon RSS during sleep 2 (boxerctl run): VmHWM $hwm kB, VmRSS $rss kB at the" \
    "end, $threads threads; before any client called it (no gRPC yet): VmHWM $hwm0 kB, $threads0 threads"

if [[ -s $W/problems ]]; then
    echo
    echo "Problems (a failed run is left out of the times above):"
    sed 's/^/  /' "$W/problems"
fi
if [[ -n $SAVE ]]; then
    mkdir -p "$SAVE"
    cp "$W"/times/* "$SAVE"/
    log "times saved in $SAVE"
fi
[[ ! -s $W/problems ]] || exit 1
