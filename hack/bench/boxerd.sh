#!/usr/bin/env bash
# The boxerd benchmark: POST /run against a raw `runsc run` of the same bundle with the same
# runsc flags, and against `podman run --runtime runsc`; throughput at a concurrency of 4; and
# boxerd's own memory, idle and over many runs. See hack/bench/README.md.
#
#   hack/bench/boxerd.sh [--runs N] [--throughput-runs N] [--throughput-rounds R]
#                        [--concurrency C] [--memory-runs N] [--phases N] [--build-dir DIR]
#                        [--max-wait SECS] [--load-below L]
#
#   --runs N             timed runs of each command and image (default 15)
#   --throughput-runs N  busybox echo runs per throughput batch (default 40)
#   --throughput-rounds R  rounds of the six throughput batches, order rotated (default 3)
#   --concurrency C      clients at once in the throughput batches (default 4)
#   --memory-runs N      sequential busybox runs while boxerd's RSS is watched (default 1000;
#                        about 0.3 s each; RSS is printed every 100)
#   --phases N           also N busybox runs per boxerd under `perf trace -a`, split into their
#                        steps (hack/bench/boxerd_phases.py): where the time goes (default 0: off)
#   --build-dir DIR      a CMake build dir of this tree (default $BOXER_BUILD_DIR, else ./build);
#                        configured when empty, and boxerd and boxer-shim are (re)built in it
#   --max-wait SECS      before the latency and the throughput measurements, wait at most SECS
#                        (default 600) for the 1-minute load average to fall below L (default 3)
#
# Root only (overlay mounts, cgroups, runsc, podman). Prints a table on stdout, progress on
# stderr. The targets are information only: the exit status is 0 unless something did not work
# (a tool missing, a run failing or answering the wrong output, something left behind).
# Everything it starts or makes (registry, boxerds, shims, sandboxes, mounts, cgroups, podman
# containers and images) is gone when it exits, also after an error or Ctrl-C.
set -euo pipefail
shopt -s inherit_errexit
export LC_ALL=C

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
readonly ROOT
readonly TARGET_RATIO=1.10
readonly TARGET_TPUT=0.9
readonly TARGET_IDLE_RSS_MB=16
# RSS counts as stable when it grew by at most this much from the sample after the first 100
# runs to the last one (the first runs start boxerd's worker threads and size its heap).
readonly STABLE_KB=1024
readonly CG_ROOT=/sys/fs/cgroup
# What the shim gives runsc (shim/runsc.c): the raw runs get the same environment.
readonly RUNSC_ENV=(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
    TMPDIR=/tmp GOTRACEBACK=single)
# boxerd's default limits (common/config.c: 1 core, 256 MB, 64 pids) as runsc's own cgroup: the
# memory limit plus the shim's 32 MiB allowance for runsc itself, a 1-core CFS quota, and the
# shim's host pids limit for 64 guest tasks (64 + 12 x 64). See docs/shim.md.
readonly RAW_RESOURCES='{"memory": {"limit": 301989888},
    "cpu": {"quota": 100000, "period": 100000}, "pids": {"limit": 832}}'
# podman as NOTES.md has it for runsc on these machines.
readonly PODMAN_FLAGS=(--runtime runsc --runtime-flag network=none --runtime-flag platform=ptrace
    --network none --ulimit nofile=1024:1024)

RUNS=15
TP_RUNS=40
TP_ROUNDS=3
CONC=4
MEM_RUNS=1000
PHASES=0
BUILD=${BOXER_BUILD_DIR:-$ROOT/build}
MAX_WAIT=600
LOAD_BELOW=3

die() {
    printf 'boxerd.sh: %s\n' "$*" >&2
    exit 1
}
log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
usage() {
    sed -n '6,22p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

while (($#)); do
    case $1 in
    --runs) (($# >= 2)) || usage; RUNS=$2; shift 2 ;;
    --runs=*) RUNS=${1#*=}; shift ;;
    --throughput-runs) (($# >= 2)) || usage; TP_RUNS=$2; shift 2 ;;
    --throughput-runs=*) TP_RUNS=${1#*=}; shift ;;
    --throughput-rounds) (($# >= 2)) || usage; TP_ROUNDS=$2; shift 2 ;;
    --throughput-rounds=*) TP_ROUNDS=${1#*=}; shift ;;
    --concurrency) (($# >= 2)) || usage; CONC=$2; shift 2 ;;
    --concurrency=*) CONC=${1#*=}; shift ;;
    --memory-runs) (($# >= 2)) || usage; MEM_RUNS=$2; shift 2 ;;
    --memory-runs=*) MEM_RUNS=${1#*=}; shift ;;
    --phases) (($# >= 2)) || usage; PHASES=$2; shift 2 ;;
    --phases=*) PHASES=${1#*=}; shift ;;
    --build-dir) (($# >= 2)) || usage; BUILD=$2; shift 2 ;;
    --build-dir=*) BUILD=${1#*=}; shift ;;
    --max-wait) (($# >= 2)) || usage; MAX_WAIT=$2; shift 2 ;;
    --max-wait=*) MAX_WAIT=${1#*=}; shift ;;
    --load-below) (($# >= 2)) || usage; LOAD_BELOW=$2; shift 2 ;;
    --load-below=*) LOAD_BELOW=${1#*=}; shift ;;
    -h | --help) usage ;;
    *) usage ;;
    esac
done
for v in RUNS TP_RUNS TP_ROUNDS CONC; do
    [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "wants a positive count: $v=${!v}"
done
[[ $MEM_RUNS =~ ^[0-9]+$ ]] || die "--memory-runs wants a count, got '$MEM_RUNS'"
[[ $PHASES =~ ^[0-9]+$ ]] || die "--phases wants a count, got '$PHASES'"
[[ $MAX_WAIT =~ ^[0-9]+$ ]] || die "--max-wait wants seconds, got '$MAX_WAIT'"
[[ $LOAD_BELOW =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "--load-below wants a number, got '$LOAD_BELOW'"
[[ $BUILD == /* ]] || BUILD=$PWD/$BUILD
((EUID == 0)) || die "run as root: the bench mounts overlays, makes cgroups and runs runsc"
[[ -n ${EPOCHREALTIME:-} ]] || die "bash 5 or newer needed (EPOCHREALTIME)"

# ---- tools ----

# need CMD PACKAGE: installs Debian's PACKAGE when CMD is missing.
need() {
    local cmd=$1 pkg=$2
    command -v "$cmd" >/dev/null && return 0
    log "installing $pkg"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$pkg" >/dev/null ||
        die "apt-get install $pkg failed"
    command -v "$cmd" >/dev/null || die "$cmd still not found after installing $pkg"
}
need runsc runsc
need docker-registry docker-registry
need skopeo skopeo
need umoci umoci
need curl curl
need jq jq
need cmake cmake
need podman podman
need python3 python3
((PHASES == 0)) || need perf linux-perf

# ---- scratch space and cleanup ----

# One private directory for everything, every ancestor traversable (runsc's sandbox opens paths
# under it unprivileged), short (a shim's socket path must fit in 107 bytes).
W=$(mktemp -d /var/tmp/bbd.XXXX)
chmod 711 "$W"
readonly W
TAG=bbd$$ # raw sandbox ids, podman container names and our cgroup parent start with it
readonly TAG
readonly CG_PARENT=boxer-bench-$TAG # raw runsc's cgroups: /$CG_PARENT/<id>, ours alone
REGISTRY_DIR="" REGISTRY_ADDR=""
URL_a="" URL_b="" PID_a="" PID_b="" # set by start_boxerd
PERF_PID=""
BOXERD_PIDS=()
PODMAN_IMAGES=()
mkdir -m 711 "$W/tmp" "$W/raw" "$W/tp" "$W/times"
mkdir -m 700 "$W/replies"
: >"$W/problems"
: >"$W/exec_ids"
export TMPDIR=$W/tmp

# alive PID: exists and is not a zombie.
alive() {
    local st
    st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
    [[ -n $st && $st != Z ]]
}

# Signals SIGNAL to every boxer-shim whose --state is under $W (its command line says so, or,
# for a shim that was boxerd's spare and so shows "boxer-shim spare", its shim.pid there). A
# spare that was never used exits with its boxerd. Prints how many there were.
signal_shims() {
    local sig=$1 f pid comm cmd n=0 ours=" "
    for f in "$W"/*/run/*/shim.pid; do
        [[ -s $f ]] && ours+="$(<"$f") "
    done
    for f in /proc/[0-9]*/comm; do
        pid=${f#/proc/}
        pid=${pid%/comm}
        read -r comm 2>/dev/null <"$f" || continue
        [[ $comm == boxer-shim ]] || continue
        cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") || continue
        [[ $cmd == *" --state $W/"* || $ours == *" $pid "* ]] || continue
        kill "-$sig" "$pid" 2>/dev/null && n=$((n + 1))
    done
    echo "$n"
}

rm_cgroup() {
    local dir=$1 i pid
    for ((i = 0; i < 100; i++)); do
        [[ -d $dir ]] || return 0
        while read -r pid; do
            [[ -n $pid ]] && kill -KILL "$pid" 2>/dev/null
        done <"$dir/cgroup.procs"
        rmdir "$dir" 2>/dev/null && return 0
        sleep 0.05
    done
    return 1
}

# The cgroups of ours still there: runsc's under our parent, and the shims' boxer/<exec_id>-*
# of the executions boxerd answered.
our_cgroups() {
    local d id
    for d in "$CG_ROOT"/*/"$CG_PARENT" "$CG_ROOT/$CG_PARENT"; do
        [[ -d $d ]] && find "$d" -mindepth 1 -type d
    done
    while read -r id _; do # lines "exec_id [wall_ms]"
        [[ -n $id ]] || continue
        for d in "$CG_ROOT"/*/boxer/"$id"-* "$CG_ROOT"/boxer/"$id"-*; do
            [[ -d $d ]] && echo "$d"
        done
    done <"$W/exec_ids"
    return 0
}

cleanup() {
    local rc=$? pid i root id mnt dir img left
    set +e
    trap - EXIT INT TERM
    [[ -n $PERF_PID ]] && kill -INT "$PERF_PID" 2>/dev/null && wait "$PERF_PID"
    if [[ -n ${KA_PID:-} ]]; then # the kept-alive client: it ends at the end of its input
        [[ -n ${KA[1]:-} ]] && eval "exec ${KA[1]}>&-"
        wait "$KA_PID" 2>/dev/null
    fi
    for pid in "${BOXERD_PIDS[@]}"; do
        alive "$pid" && kill -TERM "$pid"
    done
    for pid in "${BOXERD_PIDS[@]}"; do
        for ((i = 0; i < 300; i++)); do alive "$pid" || break; sleep 0.1; done
        alive "$pid" && kill -KILL "$pid"
        wait "$pid" 2>/dev/null
    done
    # Shims of ours (their runsc dies with them: PR_SET_PDEATHSIG).
    signal_shims TERM >/dev/null
    for ((i = 0; i < 50; i++)); do
        [[ $(signal_shims 0) == 0 ]] && break
        sleep 0.1
    done
    signal_shims KILL >/dev/null
    # Raw sandboxes an interrupted run left.
    for root in "$W"/raw/runsc "$W"/tp/*/runsc; do
        [[ -d $root ]] || continue
        for id in $(env -i "${RUNSC_ENV[@]}" runsc --root="$root" list -q 2>/dev/null); do
            env -i "${RUNSC_ENV[@]}" runsc --root="$root" delete --force "$id" >/dev/null 2>&1
        done
    done
    # podman: our containers by name, our images by reference.
    if command -v podman >/dev/null; then
        podman ps -a --format '{{.Names}}' 2>/dev/null | grep "^$TAG-" |
            xargs -r podman rm -f >/dev/null 2>&1
        for img in "${PODMAN_IMAGES[@]}"; do
            podman rmi "$img" >/dev/null 2>&1
        done
    fi
    # Mounts under our directory, deepest first.
    while read -r mnt; do
        umount "$mnt" 2>/dev/null || umount -l "$mnt"
    done < <(awk -v p="$W/" 'index($2, p) == 1 {print $2}' /proc/self/mounts | sort -r)
    # Cgroups: what is left of ours, then our parent.
    while read -r dir; do
        [[ -n $dir ]] && rm_cgroup "$dir"
    done < <(our_cgroups | sort -r)
    for dir in "$CG_ROOT"/*/"$CG_PARENT" "$CG_ROOT/$CG_PARENT"; do
        [[ -d $dir ]] && rm_cgroup "$dir"
    done
    [[ -n $REGISTRY_DIR ]] && "$ROOT/hack/registry.sh" stop "$REGISTRY_DIR"
    if awk -v p="$W/" 'index($2, p) == 1 {f = 1} END {exit !f}' /proc/self/mounts; then
        printf 'boxerd.sh: something is still mounted under %s; not removing it\n' "$W" >&2
        rc=1
    else
        rm -rf "$W"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# problem WHAT [ERRFILE]: something that did not work; reported under the table, exit status 1.
problem() {
    local last=""
    [[ -n ${2:-} && -s ${2:-} ]] && last=$(grep -v '^[[:space:]]*$' "$2" | tail -n 1 | cut -c1-300)
    log "problem: $1${last:+: $last}"
    printf '%s%s\n' "$1" "${last:+
    $last}" >>"$W/problems"
}

# ---- build ----

if [[ ! -f $BUILD/CMakeCache.txt ]]; then
    log "configuring $BUILD"
    cmake -S "$ROOT" -B "$BUILD" >"$W/cmake.log" 2>&1 || {
        tail -n 20 "$W/cmake.log" >&2
        die "cmake configure failed"
    }
fi
log "building boxerd and boxer-shim in $BUILD"
cmake --build "$BUILD" -j2 --target boxerd boxer-shim >"$W/build.log" 2>&1 || {
    tail -n 30 "$W/build.log" >&2
    die "build failed"
}
BOXERD=$BUILD/httpd/boxerd
SHIM=$BUILD/shim/boxer-shim
[[ -x $BOXERD && -x $SHIM ]] || die "no httpd/boxerd or shim/boxer-shim under $BUILD"
BUILD_TYPE=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$BUILD/CMakeCache.txt")
SANITIZE=$(sed -n 's/^BOXER_SANITIZE:[A-Z]*=//p' "$BUILD/CMakeCache.txt")
if [[ $BUILD_TYPE != Rel* || $SANITIZE == ON ]]; then
    log "warning: $BUILD is a ${BUILD_TYPE:-unnamed} build (sanitizers ${SANITIZE:-OFF}): boxerd's numbers are not representative"
fi

# ---- registry and images ----

log "work directory $W; starting a local registry"
REG_ENV=$("$ROOT/hack/registry.sh" start) || die "hack/registry.sh start failed"
REGISTRY_ADDR=$(sed -n 's/^REGISTRY_ADDR=//p' <<<"$REG_ENV")
REGISTRY_DIR=$(sed -n 's/^REGISTRY_DIR=//p' <<<"$REG_ENV")
[[ -n $REGISTRY_ADDR && -n $REGISTRY_DIR ]] || die "hack/registry.sh start printed no address"
log "pushing the busybox and python test images to $REGISTRY_ADDR (the first build of the images takes ~2 min)"
"$ROOT/hack/test-images.sh" push "$REGISTRY_ADDR" busybox python >"$W/pushed" 2>"$W/push.log" || {
    tail -n 20 "$W/push.log" >&2
    die "pushing the test images failed"
}

IMAGES=(busybox python)
declare -A REF BODY WANT SHOW ARGS WORDS ROOTFS
REF[busybox]=busybox:latest
REF[python]=python:3.12-slim
WORDS[busybox]="echo hi" # split on blanks: keep the arguments blank-free
WORDS[python]="python3 -c print(42)"
SHOW[busybox]="echo hi"
SHOW[python]="python3 -c 'print(42)'"
WANT[busybox]=hi
WANT[python]=42
for img in "${IMAGES[@]}"; do
    grep -qxF "$REGISTRY_ADDR/library/${REF[$img]}" "$W/pushed" || die "${REF[$img]} was not pushed"
    ARGS[$img]=$(jq -cn --arg w "${WORDS[$img]}" '$w | split(" ")')
    BODY[$img]=$(jq -cn --arg image "${REF[$img]}" --argjson cmd "${ARGS[$img]}" \
        '{image: $image, cmd: $cmd}')
    printf '%s' "${BODY[$img]}" >"$W/body.$img"
done

# ---- two boxerds: (a) the default limits, (b) "ignore_cgroups": true ----

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# rss PID: "VmRSS Pss" in kB (PSS from smaps_rollup: most of the RSS is shared library pages).
rss() {
    local r p
    r=$(awk '/^VmRSS:/ {print $2}' "/proc/$1/status")
    p=$(awk '/^Pss:/ {print $2}' "/proc/$1/smaps_rollup")
    echo "${r:-0} ${p:-0}"
}

# start_boxerd NAME EXTRA_JSON: home $W/NAME, its config, its log $W/NAME.log; sets URL_NAME and
# PID_NAME once GET /healthz answers.
start_boxerd() {
    local name=$1 extra=$2 home=$W/$1 port pid url i
    mkdir -m 711 "$home"
    for _ in 1 2 3; do
        port=$(free_port)
        # The tag TTL is raised so that no timed run asks the registry again (default 300 s).
        jq -n --arg home "$home" --arg addr "127.0.0.1:$port" --arg mirror "http://$REGISTRY_ADDR" \
            --argjson conc "$((CONC > 4 ? CONC : 4))" --argjson extra "$extra" \
            '{home: $home, listen_addr: $addr, registry_mirrors: {"docker.io": [$mirror]},
              image_tag_ttl_secs: 86400, max_concurrent_runs: $conc} + $extra' >"$W/$name.json"
        BOXER_SHIM=$SHIM "$BOXERD" --config "$W/$name.json" >>"$W/$name.log" 2>&1 &
        pid=$!
        BOXERD_PIDS+=("$pid")
        url=http://127.0.0.1:$port
        for ((i = 0; i < 300; i++)); do
            alive "$pid" || break
            [[ $(curl -s -m 2 "$url/healthz" 2>/dev/null) == *'"ok":true'* ]] && break
            sleep 0.1
        done
        if alive "$pid" && [[ $(curl -s -m 2 "$url/healthz") == *'"ok":true'* ]]; then
            printf -v "URL_$name" '%s' "$url"
            printf -v "PID_$name" '%s' "$pid"
            return 0
        fi
        alive "$pid" && die "boxerd $name is not ready after 30 s: $(tail -n 3 "$W/$name.log")"
        wait "$pid" || true
        BOXERD_PIDS=("${BOXERD_PIDS[@]:0:${#BOXERD_PIDS[@]}-1}") # reaped: its pid is not ours now
        grep -qi 'in use' "$W/$name.log" || break
    done
    die "boxerd $name did not start: $(tail -n 3 "$W/$name.log")"
}

log "starting boxerd (a) with the default limits and (b) with ignore_cgroups"
start_boxerd a '{}'
read -r IDLE_RSS IDLE_PSS < <(rss "$PID_a") # right after start: nothing has run yet
IDLE_THREADS=$(awk '/^Threads:/ {print $2}' "/proc/$PID_a/status")
start_boxerd b '{"ignore_cgroups": true}'
read -r IDLE_RSS_B IDLE_PSS_B < <(rss "$PID_b")

# post URL IMG NAME: POST /run of image IMG's command; the reply in replies/NAME.json; prints
# the HTTP status (000: no answer).
post() {
    curl -s -m 300 -o "$W/replies/$3.json" -w '%{http_code}' "$1/run" \
        -H 'Content-Type: application/json' --data-binary "${BODY[$2]}" 2>/dev/null || true
}
# The kept-alive client: one python3 process holding one HTTP/1.1 connection per boxerd, as a
# pipeline or the Python SDK does, so that a request costs no client process start. Reads
# "URL BODY_FILE REPLY_FILE" lines, prints each reply's HTTP status (0: no answer).
cat >"$W/client.py" <<'EOF'
import http.client, sys, urllib.parse
conns = {}
for line in sys.stdin:
    url, body_file, reply_file = line.split()
    u = urllib.parse.urlsplit(url)
    status, data = 0, b""
    try:
        c = conns.get(u.netloc) or http.client.HTTPConnection(u.hostname, u.port, timeout=300)
        conns[u.netloc] = c
        with open(body_file, "rb") as f:
            c.request("POST", "/run", f.read(), {"Content-Type": "application/json"})
        r = c.getresponse()
        status, data = r.status, r.read()
    except Exception:
        conns.pop(u.netloc, None)
    with open(reply_file, "wb") as f:
        f.write(data)
    print(status, flush=True)
EOF
coproc KA { exec /usr/bin/python3 "$W/client.py"; }
# post_ka URL IMG NAME: as post, through the kept-alive client.
post_ka() {
    local code=0
    { printf '%s %s %s\n' "$1" "$W/body.$2" "$W/replies/$3.json" >&"${KA[1]}" &&
        read -r code <&"${KA[0]}"; } 2>/dev/null || code=0 # the client died: no answer
    echo "$code"
}

# reply_ok NAME IMG: the reply is 200 with the command's output and exit code 0; its exec_id
# goes to exec_ids (the cgroup check at the end), "exec_id wall_ms" is printed.
reply_ok() {
    jq -r --arg want "${WANT[$2]}"$'\n' \
        'select(.stdout == $want and .exit_code == 0) | "\(.exec_id) \(.wall_ms)"' \
        "$W/replies/$1.json" 2>/dev/null | tee -a "$W/exec_ids" | grep . || return 1
}

# The first runs pull the images into each home (untimed).
for inst in a b; do
    url_var=URL_$inst
    for img in "${IMAGES[@]}"; do
        code=$(post "${!url_var}" "$img" "warm-$inst-$img")
        reply_ok "warm-$inst-$img" "$img" >/dev/null ||
            die "boxerd ($inst) POST /run of $img: HTTP $code $(head -c 300 "$W/replies/warm-$inst-$img.json" 2>/dev/null)"
    done
done

# ---- the bundle boxerd writes ----

# For each image, a run of `sleep 5` through boxerd (a), caught while it runs: its bundle's
# config.json (copied), the image's rootfs (the overlay's lowerdir), runsc's global flags (its
# command line) and the limits boxerd gave the shim (the shim's command line).
RUNSC_FLAGS=()
SHIM_LIMITS=""
for img in "${IMAGES[@]}"; do
    body=$(jq -cn --arg image "${REF[$img]}" '{image: $image, cmd: ["sleep", "5"]}')
    curl -s -m 60 -o "$W/replies/sleep-$img.json" "$URL_a/run" -H 'Content-Type: application/json' \
        --data-binary "$body" &
    cpid=$!
    run="" runsc_pid=""
    for ((i = 0; i < 200; i++)); do
        for d in "$W"/a/run/boxer-*; do [[ -d $d ]] && run=$d; done
        if [[ -n $run && -s $run/shim.pid ]]; then
            for p in $(pgrep -x runsc || true); do
                [[ $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null) == *"--root=$run/"* ]] &&
                    runsc_pid=$p && break
            done
            [[ -n $runsc_pid ]] && break
        fi
        sleep 0.05
    done
    [[ -n $runsc_pid ]] || die "the sleep 5 run of $img never showed its runsc"
    cp "$run/bundle/config.json" "$W/raw/$img.config.json"
    lower=$(awk -v m="$run/view/merged" '$5 == m {print $NF}' /proc/self/mountinfo |
        tr ',' '\n' | sed -n 's/^lowerdir=//p')
    [[ -d $lower && $lower == "$W/a/images/rootfs/"* ]] || die "no rootfs of $img from the run's overlay ($lower)"
    ROOTFS[$img]=$lower
    mapfile -d '' rargv <"/proc/$runsc_pid/cmdline"
    RUNSC_FLAGS=()
    for a in "${rargv[@]:1}"; do
        case $a in
        run) break ;;
        --root=* | --ignore-cgroups) ;;
        *) RUNSC_FLAGS+=("$a") ;;
        esac
    done
    # (from its log: a shim that was boxerd's spare has "boxer-shim spare" as its command line)
    SHIM_LIMITS=$(sed -n 's/.* msg=starting //p' "$run/shim.log" | tr ' ' '\n' |
        grep -E '^(memory_bytes|cpu_millicores|pids|wall_clock_ms)=' | tr '\n' ' ' || true)
    wait "$cpid" || die "the sleep 5 run of $img failed"
    [[ $(jq -r .exit_code "$W/replies/sleep-$img.json") == 0 ]] || die "the sleep 5 run of $img failed"
    jq -r .exec_id "$W/replies/sleep-$img.json" >>"$W/exec_ids"
done
[[ ${#RUNSC_FLAGS[@]} -gt 0 ]] || die "no runsc flags found on boxerd's runsc"

# Raw bundles: boxerd's config.json with the command measured, the root at our own overlay view
# of the same rootfs, /output at our own directory. cg-template.json adds boxerd's default limits
# as linux.resources (runsc enforces them; each run gets its own cgroupsPath).
for img in "${IMAGES[@]}"; do
    rb=$W/raw/$img
    mkdir -m 711 "$rb" "$rb/view" "$rb/view/merged" "$rb/bundle" "$rb/bundle-cg"
    mkdir -m 700 "$rb/output"
    chown 65534:65534 "$rb/output"
    jq --arg root "$rb/view/merged" --arg out "$rb/output" --argjson args "${ARGS[$img]}" '
        .root.path = $root | .process.args = $args
        | .mounts |= map(if .destination == "/output" then .source = $out else . end)' \
        "$W/raw/$img.config.json" >"$rb/bundle/config.json"
    jq --argjson res "$RAW_RESOURCES" '.linux.resources = $res' "$rb/bundle/config.json" \
        >"$rb/cg-template.json"
done
mkdir -m 711 "$W/raw/runsc"

# A fresh overlay view of IMG's rootfs at $W/raw/IMG/view/merged, as boxerd makes one per run
# (shim/launch.c, launch_mount).
view_mount() {
    local v=$W/raw/$1/view
    rm -rf "$v/upper" "$v/work"
    mkdir -m 711 "$v/upper" "$v/work"
    mount -t overlay overlay -o "nosuid,nodev,lowerdir=${ROOTFS[$1]},upperdir=$v/upper,workdir=$v/work" \
        "$v/merged"
}
view_umount() { umount "$W/raw/$1/view/merged"; }

# raw_cmd ROOT CG BUNDLE ID: the raw runsc run; CG 1 applies the bundle's limits (no
# --ignore-cgroups). Output to stdout, runsc's stderr to stderr.
raw_cmd() {
    local flags=("${RUNSC_FLAGS[@]}")
    [[ $2 == 1 ]] || flags+=(--ignore-cgroups)
    env -i "${RUNSC_ENV[@]}" runsc --root="$1" "${flags[@]}" run --bundle="$3" "$4"
}

# cg_of ID: the cgroup directory runsc made for a raw run (the cpu hierarchy's, or v2's).
cg_of() {
    if [[ -d $CG_ROOT/$CG_PARENT/$1 ]]; then echo "$CG_ROOT/$CG_PARENT/$1"; else echo "$CG_ROOT/cpu/$CG_PARENT/$1"; fi
}

# The raw (a) variant really is limited: runsc made its cgroup with our limits. Caught while a
# raw `sleep 1` runs.
log "checking that runsc applies the raw (a) limits"
view_mount busybox
jq --arg p "/$CG_PARENT/$TAG-check" '.linux.cgroupsPath = $p | .process.args = ["sleep", "1"]' \
    "$W/raw/busybox/cg-template.json" >"$W/raw/busybox/bundle-cg/config.json"
raw_cmd "$W/raw/runsc" 1 "$W/raw/busybox/bundle-cg" "$TAG-check" >/dev/null 2>"$W/err" &
raw_pid=$!
CG_CHECK=""
for ((i = 0; i < 100; i++)); do
    c=$(cg_of "$TAG-check")
    if [[ -n $(cat "$c/cgroup.procs" 2>/dev/null) ]]; then
        if [[ -f $c/cpu.max ]]; then
            CG_CHECK="cpu.max $(<"$c/cpu.max"), memory.max $(<"$c/memory.max"), pids.max $(<"$c/pids.max")"
        else
            CG_CHECK="cpu.cfs_quota_us $(<"$c/cpu.cfs_quota_us")/$(<"$c/cpu.cfs_period_us")"
            CG_CHECK+=", memory.limit_in_bytes $(<"$CG_ROOT/memory/$CG_PARENT/$TAG-check/memory.limit_in_bytes")"
            CG_CHECK+=", pids.max $(<"$CG_ROOT/pids/$CG_PARENT/$TAG-check/pids.max")"
        fi
        break
    fi
    sleep 0.02
done
wait "$raw_pid" || die "raw runsc run with limits failed: $(cat "$W/err")"
view_umount busybox
[[ -n $CG_CHECK ]] || die "runsc did not put the raw sandbox into /$CG_PARENT/$TAG-check"

# ---- podman ----

log "pulling the images into podman from $REGISTRY_ADDR"
declare -A PREF
for img in "${IMAGES[@]}"; do
    PREF[$img]=$REGISTRY_ADDR/library/${REF[$img]}
    podman pull -q --tls-verify=false "${PREF[$img]}" >/dev/null 2>"$W/err" || {
        cat "$W/err" >&2
        die "podman pull ${PREF[$img]} failed"
    }
    PODMAN_IMAGES+=("${PREF[$img]}")
done
# podman_cmd IMG NAME: the run a user would otherwise do.
podman_cmd() {
    local -a words
    read -r -a words <<<"${WORDS[$1]}"
    podman run --rm --name "$TAG-$2" "${PODMAN_FLAGS[@]}" "${PREF[$1]}" "${words[@]}"
}
for img in "${IMAGES[@]}"; do # warm-up, and the command works
    out=$(podman_cmd "$img" "warm-$img" 2>"$W/err") || true
    [[ $out == "${WANT[$img]}" ]] || die "podman run of $img printed '$out': $(tail -n 3 "$W/err")"
done

# ---- waiting for a quiet machine ----

declare -A LOAD_WAITED
# wait_quiet PHASE: until the 1-minute load average is below LOAD_BELOW, at most MAX_WAIT s.
wait_quiet() {
    local start=$SECONDS load
    while :; do
        load=$(cut -d' ' -f1 /proc/loadavg)
        awk -v l="$load" -v t="$LOAD_BELOW" 'BEGIN { exit !(l < t) }' && break
        if ((SECONDS - start >= MAX_WAIT)); then
            log "load average $load after $((SECONDS - start)) s; proceeding with $1"
            break
        fi
        (((SECONDS - start) % 60 < 10)) && log "load average $load (waiting for < $LOAD_BELOW before $1)"
        sleep 10
    done
    LOAD_WAITED[$1]=$((SECONDS - start))
}

# ---- 1. latency ----

# settle INSTANCE: boxerd answers before it deletes the sandbox, removes the run directory and
# starts its next spare shim; wait for that (untimed, at most 5 s), so that the next command
# measured does not share the machine with it.
settle() {
    local pid=PID_$1 i
    for ((i = 0; i < 100; i++)); do
        [[ -z $(ls -A "$W/$1/run" 2>/dev/null) ]] &&
            ps --ppid "${!pid}" -o args= | grep -q 'boxer-shim spare$' && return 0
        sleep 0.05
    done
}

# run_one IMG VARIANT ROUND: one timed run, output checked; appends "ROUND µs [exec_id wall_ms]"
# to times/IMG.VARIANT. A raw run that fails stops the bench (the baseline would be wrong).
run_one() {
    local img=$1 v=$2 n=$3 rb=$W/raw/$1 id=$TAG-$1-$2-$3 t0 t1 out rc=0 code extra=""
    case $v in
    raw_cg | raw_nocg)
        local bundle=$rb/bundle cg=0
        if [[ $v == raw_cg ]]; then
            bundle=$rb/bundle-cg cg=1
            jq --arg p "/$CG_PARENT/$id" '.linux.cgroupsPath = $p' "$rb/cg-template.json" \
                >"$bundle/config.json"
        fi
        view_mount "$img"
        t0=${EPOCHREALTIME/./}
        out=$(raw_cmd "$W/raw/runsc" "$cg" "$bundle" "$id" 2>"$W/err") || rc=$?
        t1=${EPOCHREALTIME/./}
        view_umount "$img"
        if [[ $out != "${WANT[$img]}" || $rc != 0 ]]; then
            cat "$W/err" >&2
            die "runsc run ($v, $img, round $n): exit status $rc, output '$out'; the baseline would be wrong"
        fi
        [[ ! -e $(cg_of "$id") ]] || die "runsc left its cgroup /$CG_PARENT/$id"
        ;;
    boxerd_cg | boxerd_nocg | boxerd_cg_ka | boxerd_nocg_ka)
        local url=$URL_a inst=a
        [[ $v == boxerd_nocg* ]] && url=$URL_b inst=b
        t0=${EPOCHREALTIME/./}
        if [[ $v == *_ka ]]; then
            post_ka "$url" "$img" "$id" >"$W/code"
        else
            post "$url" "$img" "$id" >"$W/code"
        fi
        t1=${EPOCHREALTIME/./}
        code=$(<"$W/code")
        if ! extra=$(reply_ok "$id" "$img"); then
            printf 'HTTP %s %s\n' "$code" "$(head -c 300 "$W/replies/$id.json" 2>/dev/null)" >"$W/err"
            problem "POST /run ($v, $img, round $n) did not answer ${WANT[$img]}" "$W/err"
            return 0
        fi
        rm -f "$W/replies/$id.json"
        settle "$inst"
        ;;
    healthz) # the client's own cost: curl's process start and one HTTP exchange
        t0=${EPOCHREALTIME/./}
        out=$(curl -s -m 30 "$URL_a/healthz" 2>"$W/err") || rc=$?
        t1=${EPOCHREALTIME/./}
        if [[ $out != *'"ok":true'* ]]; then
            problem "GET /healthz (round $n): exit status $rc, '$out'" "$W/err"
            return 0
        fi
        ;;
    podman)
        t0=${EPOCHREALTIME/./}
        out=$(podman_cmd "$img" "$img-$n" 2>"$W/err") || rc=$?
        t1=${EPOCHREALTIME/./}
        if [[ $out != "${WANT[$img]}" || $rc != 0 ]]; then
            problem "podman run ($img, round $n): exit status $rc, output '$out'" "$W/err"
            return 0
        fi
        ;;
    esac
    echo "$n $((t1 - t0)) $extra" >>"$W/times/$img.$v"
}

VARIANTS=(boxerd_cg raw_cg boxerd_nocg raw_nocg podman healthz boxerd_cg_ka boxerd_nocg_ka)
wait_quiet "latency"
LAT_LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
LAT_T0=$SECONDS
nv=${#VARIANTS[@]}
for ((r = 1; r <= RUNS; r++)); do
    log "latency round $r/$RUNS"
    for img in "${IMAGES[@]}"; do
        for ((k = 0; k < nv; k++)); do # the order rotates every round
            run_one "$img" "${VARIANTS[(k + r) % nv]}" "$r"
        done
    done
done
LAT_LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
LAT_SECS=$((SECONDS - LAT_T0))

# ---- 2. throughput ----

# The raw batches get TP_RUNS views and bundles made before the clock starts (a raw run's
# mount is set-up, as in the latency runs), each run writes DIR/I.out and DIR/I.rc.
cat >"$W/tp/raw1.sh" <<'EOF'
#!/usr/bin/env bash
# raw1.sh DIR I: one raw run of batch DIR (its flags in DIR/flags, one per line).
dir=$1 i=$2
mapfile -t flags <"$dir/flags"
env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin TMPDIR=/tmp \
    GOTRACEBACK=single runsc --root="$dir/runsc" "${flags[@]}" run --bundle="$dir/$i/bundle" \
    "$(cat "$dir/id")-$i" >"$dir/$i.out" 2>"$dir/$i.err"
echo $? >"$dir/$i.rc"
EOF
chmod 755 "$W/tp/raw1.sh"

# The kept-alive clients: one python3 process, CONC threads each holding one HTTP/1.1
# connection, as a pipeline or the Python SDK would send runs in parallel.
cat >"$W/tp/ka.py" <<'EOF'
# ka.py URL BODY_FILE N CONC DIR: N POST /run, CONC at a time; reply I in DIR/I.json
import http.client, sys, threading, urllib.parse
url, body_file, n, conc, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
u = urllib.parse.urlsplit(url)
body = open(body_file, "rb").read()
lock, taken = threading.Lock(), [0]
def take():
    with lock:
        taken[0] += 1
        return taken[0] if taken[0] <= n else 0
def worker():
    c = None
    while i := take():
        data = b""
        try:
            c = c or http.client.HTTPConnection(u.hostname, u.port, timeout=300)
            c.request("POST", "/run", body, {"Content-Type": "application/json"})
            data = c.getresponse().read()
        except Exception:
            c = None
        with open(f"{out}/{i}.json", "wb") as f:
            f.write(data)
threads = [threading.Thread(target=worker) for _ in range(conc)]
for t in threads:
    t.start()
for t in threads:
    t.join()
EOF

# busy_jiffies: the whole machine's non-idle CPU time so far (user, nice, system, irq, softirq).
busy_jiffies() { awk '$1 == "cpu" {print $2 + $3 + $4 + $7 + $8; exit}' /proc/stat; }
readonly HZ_TICKS=$(getconf CLK_TCK)
# tput VARIANT ROUND: one batch of TP_RUNS busybox echo runs, CONC at a time; appends
# "ROUND runs/s" to tp/rate.VARIANT and "ROUND CPU-ms-per-run" to tp/cpu.VARIANT.
tput() {
    local v=$1 r=$2 dir=$W/tp/$1.$2 i t0 t1 c0 c1 ok=0 cg=0 tpl=$W/raw/busybox/bundle/config.json
    mkdir -m 711 "$dir"
    case $v in
    raw_cg | raw_nocg)
        [[ $v == raw_cg ]] && cg=1 tpl=$W/raw/busybox/cg-template.json
        mkdir -m 711 "$dir/runsc"
        echo "$TAG-tp-$v-$r" >"$dir/id"
        printf '%s\n' "${RUNSC_FLAGS[@]}" >"$dir/flags"
        ((cg)) || echo --ignore-cgroups >>"$dir/flags"
        for ((i = 1; i <= TP_RUNS; i++)); do
            mkdir -m 711 "$dir/$i" "$dir/$i/upper" "$dir/$i/work" "$dir/$i/merged" "$dir/$i/bundle"
            mkdir -m 700 "$dir/$i/output"
            chown 65534:65534 "$dir/$i/output"
            jq --arg root "$dir/$i/merged" --arg out "$dir/$i/output" \
                --arg cgp "/$CG_PARENT/$TAG-tp-$v-$r-$i" --argjson cg "$cg" '
                .root.path = $root
                | .mounts |= map(if .destination == "/output" then .source = $out else . end)
                | if $cg == 1 then .linux.cgroupsPath = $cgp else . end' "$tpl" \
                >"$dir/$i/bundle/config.json"
            mount -t overlay overlay -o "nosuid,nodev,lowerdir=${ROOTFS[busybox]},upperdir=$dir/$i/upper,workdir=$dir/$i/work" \
                "$dir/$i/merged"
        done
        c0=$(busy_jiffies) t0=${EPOCHREALTIME/./}
        seq 1 "$TP_RUNS" | xargs -P "$CONC" -n 1 "$W/tp/raw1.sh" "$dir"
        t1=${EPOCHREALTIME/./} c1=$(busy_jiffies)
        for ((i = 1; i <= TP_RUNS; i++)); do
            umount "$dir/$i/merged"
            if [[ $(cat "$dir/$i.out") == hi && $(cat "$dir/$i.rc") == 0 ]]; then
                ok=$((ok + 1))
            else
                cat "$dir/$i.err" >&2
                die "raw runsc run $i of the $v throughput batch failed; the baseline would be wrong"
            fi
            [[ ! -e $(cg_of "$TAG-tp-$v-$r-$i") ]] || die "runsc left its cgroup /$CG_PARENT/$TAG-tp-$v-$r-$i"
        done
        ;;
    boxerd_*)
        local url=$URL_a
        [[ $v == boxerd_nocg* ]] && url=$URL_b
        c0=$(busy_jiffies) t0=${EPOCHREALTIME/./}
        if [[ $v == *_ka ]]; then
            /usr/bin/python3 "$W/tp/ka.py" "$url" "$W/body.busybox" "$TP_RUNS" "$CONC" "$dir" || true
        else
            seq 1 "$TP_RUNS" | xargs -P "$CONC" -I{} curl -s -m 300 -o "$dir/{}.json" "$url/run" \
                -H 'Content-Type: application/json' --data-binary "${BODY[busybox]}" || true
        fi
        t1=${EPOCHREALTIME/./} c1=$(busy_jiffies)
        for ((i = 1; i <= TP_RUNS; i++)); do
            cp "$dir/$i.json" "$W/replies/tp-$v-$r-$i.json" 2>/dev/null || : >"$W/replies/tp-$v-$r-$i.json"
            if reply_ok "tp-$v-$r-$i" busybox >/dev/null; then
                ok=$((ok + 1))
            else
                problem "throughput $v round $r run $i: $(head -c 300 "$dir/$i.json" 2>/dev/null)"
            fi
        done
        ;;
    esac
    local secs
    secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", (b - a) / 1e6 }')
    awk -v r="$r" -v n="$ok" -v a="$t0" -v b="$t1" 'BEGIN { printf "%d %.3f\n", r, n * 1e6 / (b - a) }' \
        >>"$W/tp/rate.$v"
    awk -v r="$r" -v n="$TP_RUNS" -v c="$((c1 - c0))" -v hz="$HZ_TICKS" \
        'BEGIN { printf "%d %.1f\n", r, c * 1000 / hz / n }' >>"$W/tp/cpu.$v"
    TP_OK[$v]=$((${TP_OK[$v]:-0} + ok))
    log "  $v (round $r): $ok/$TP_RUNS runs in $secs s, $(tail -n 1 "$W/tp/cpu.$v" | cut -d' ' -f2) ms CPU a run"
}
declare -A TP_OK
# The six batches of a round; each round starts one later in this order, so that none always
# follows the same one (a batch leaves work behind: boxerd's deletes, its next spare).
readonly TP_VARIANTS=(raw_cg boxerd_cg boxerd_cg_ka raw_nocg boxerd_nocg boxerd_nocg_ka)
wait_quiet "throughput"
TP_LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
log "throughput: $TP_ROUNDS rounds of $TP_RUNS busybox echo runs, $CONC at a time, per batch"
for ((round = 1; round <= TP_ROUNDS; round++)); do
    for ((k = 0; k < ${#TP_VARIANTS[@]}; k++)); do
        tput "${TP_VARIANTS[(k + round - 1) % ${#TP_VARIANTS[@]}]}" "$round"
    done
done
TP_LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- where the time goes (--phases) ----

if ((PHASES > 0)); then
    log "phases: $PHASES busybox runs per boxerd under perf trace -a"
    perf trace -a -o "$W/perf-trace.txt" \
        -e execve,clone,clone3,vfork,wait4,fsync,mkdir,mount,umount2,unlinkat,sendmsg,sendto,recvfrom \
        2>"$W/perf.err" & # (no workload: with -a it traces until SIGINT, and leaves nothing)
    PERF_PID=$!
    sleep 2 # perf trace sets up its tracepoints
    alive "$PERF_PID" || die "perf trace did not start: $(tail -n 3 "$W/perf.err")"
    for ((i = 1; i <= PHASES; i++)); do
        for inst in a b; do
            url_var=URL_$inst
            code=$(post "${!url_var}" busybox "phases")
            reply_ok phases busybox >/dev/null ||
                problem "phases run $i ($inst): HTTP $code $(head -c 300 "$W/replies/phases.json" 2>/dev/null)"
        done
    done
    sleep 0.5
    kill -INT "$PERF_PID"
    wait "$PERF_PID" || true
    PERF_PID=""
    python3 "$ROOT/hack/bench/boxerd_phases.py" "$W/perf-trace.txt" "(a) default limits=$PID_a" \
        "(b) ignore_cgroups=$PID_b" >"$W/phases.txt" 2>"$W/phases.err" ||
        problem "boxerd_phases.py failed" "$W/phases.err"
fi

# ---- 3. memory ----

MEM_SAMPLES=() # "RUNS VmRSS Pss Threads"
read -r r p < <(rss "$PID_a")
MEM_SAMPLES+=("before $r $p $(awk '/^Threads:/ {print $2}' "/proc/$PID_a/status")")
MEM_FAILED=0
if ((MEM_RUNS > 0)); then
    log "memory: $MEM_RUNS sequential busybox runs through boxerd (a); RSS every 100"
fi
for ((i = 1; i <= MEM_RUNS; i++)); do
    name=mem
    t0=${EPOCHREALTIME/./}
    code=$(post "$URL_a" busybox "$name")
    t1=${EPOCHREALTIME/./}
    if reply_ok "$name" busybox >/dev/null; then
        echo "$i $((t1 - t0))" >>"$W/times/memory-runs"
    else
        MEM_FAILED=$((MEM_FAILED + 1))
        problem "memory run $i: HTTP $code $(head -c 300 "$W/replies/$name.json" 2>/dev/null)"
    fi
    if ((i % 100 == 0 || i == MEM_RUNS)); then
        read -r r p < <(rss "$PID_a")
        MEM_SAMPLES+=("$i $r $p $(awk '/^Threads:/ {print $2}' "/proc/$PID_a/status")")
        log "  after $i runs: VmRSS $r kB, Pss $p kB"
    fi
done

# ---- left behind? ----

sleep 1
left=$(our_cgroups)
[[ -z $left ]] || problem "cgroups left behind: $(tr '\n' ' ' <<<"$left")"
for inst in a b; do
    n=$(find "$W/$inst/run" -mindepth 1 -maxdepth 1 | wc -l)
    ((n == 0)) || problem "boxerd ($inst) left $n run directories in $W/$inst/run"
done
n=$(signal_shims 0)
((n == 0)) || problem "$n boxer-shim processes still running after their runs"
n=$(podman ps -a --format '{{.Names}}' | grep -c "^$TAG-" || true)
((n == 0)) || problem "$n podman containers of ours left (podman run --rm)"

# ---- report ----

# stats FILE: "median p90 min max" in ms (p90: nearest rank) of column 2 (µs).
stats() {
    awk '{print $2}' "$1" | sort -n | awk '{v[NR] = $1} END {
        m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        r = int(0.9 * NR); if (r < 0.9 * NR) r++
        printf "%.0f %.0f %.0f %.0f\n", m / 1000, v[r] / 1000, v[1] / 1000, v[NR] / 1000 }'
}
# median [FMT]: the median of the numbers on stdin, printed with FMT (default %.0f); "-" for none.
median() {
    sort -g | awk -v f="${1:-%.0f}" '{v[NR] = $1} END {
        if (!NR) { print "-"; exit }
        printf f "\n", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
# median_col FILE COL [FMT]: the median of a column.
median_col() { awk -v c="$2" '{print $c}' "$1" | median "${3:-}"; }
# paired FILE BASE: the median over rounds of FILE[round] / BASE[round].
paired() {
    awk 'NR == FNR {base[$1] = $2; next} ($1 in base) {print $2 / base[$1]}' "$2" "$1" | median %.2f
}
div() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0 && a != "-") printf "%.2f", a / b; else printf "-" }'; }
verdict() { # VALUE OP TARGET
    awk -v v="$1" -v t="$3" -v op="$2" 'BEGIN {
        if (v == "-") { print "n/a"; exit }
        ok = op == "<=" ? v <= t : v >= t; print ok ? "met" : "MISSED" }'
}
declare -A MED
row() { # row LABEL IMG VARIANT [BASE_VARIANT]
    local f=$W/times/$2.$3 med=- p90=- mn=- mx=- r=- pr=- n=0 b
    if [[ -s $f ]]; then
        read -r med p90 mn mx < <(stats "$f")
        n=$(wc -l <"$f")
        if [[ -n ${4:-} ]]; then
            b=$W/times/$2.$4
            r=$(div "$med" "${MED[$2.$4]}")
            pr=$(paired "$f" "$b")
        fi
    fi
    MED[$2.$3]=$med
    printf '  %-40s %6s %6s %6s %6s %6s %7s %5s\n' "$1" "$med" "$p90" "$mn" "$mx" "$r" "$pr" "$n/$RUNS"
}
kb_mb() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

cat <<EOF

Boxer boxerd benchmark
  machine    $(nproc) cores, $(uname -r); runsc $(runsc --version 2>/dev/null | awk 'NR == 1 {print $3}'), $(podman --version)
  boxerd     $BOXERD (${BUILD_TYPE:-no build type}), max_concurrent_runs $((CONC > 4 ? CONC : 4))
             (a) default limits, shim options: $SHIM_LIMITS
             (b) "ignore_cgroups": true
  raw runsc  runsc ${RUNSC_FLAGS[*]} run (boxerd's bundle, own overlay view of the same rootfs)
             (a) + linux.resources and cgroupsPath: $CG_CHECK
             (b) + --ignore-cgroups
  podman     podman run --rm ${PODMAN_FLAGS[*]} IMAGE CMD
  load       (1, 5, 15 min) latency: waited ${LOAD_WAITED[latency]} s for < $LOAD_BELOW, then $LAT_LOAD_BEFORE, after $LAT_LOAD_AFTER ($LAT_SECS s)
             throughput: waited ${LOAD_WAITED[throughput]} s, then $TP_LOAD_BEFORE, after $TP_LOAD_AFTER

1. latency: $RUNS runs of each, alternating (order rotated every round); wall ms from the shell
   (process start included); ratio = median / median of the raw run, paired = median over
   rounds of run / raw run of the same round
EOF
for img in "${IMAGES[@]}"; do
    echo
    echo "  $img: ${SHOW[$img]}"
    printf '  %-40s %6s %6s %6s %6s %6s %7s %5s\n' "" median p90 min max ratio paired runs
    echo "  (a) same limits: 1 core, 256+32 MiB, 832 host pids"
    row "runsc run, limits in the bundle" "$img" raw_cg
    row "boxerd POST /run (default limits)" "$img" boxerd_cg raw_cg
    row "  the same, kept-alive client" "$img" boxerd_cg_ka raw_cg
    echo "  (b) no limits"
    row "runsc run --ignore-cgroups" "$img" raw_nocg
    row "boxerd POST /run (ignore_cgroups)" "$img" boxerd_nocg raw_nocg
    row "  the same, kept-alive client" "$img" boxerd_nocg_ka raw_nocg
    echo "  (c) the usual tool, no limits"
    row "podman run --runtime runsc" "$img" podman raw_nocg
    echo "  (d) the client alone"
    row "curl GET /healthz" "$img" healthz
    echo "  boxerd's own view, medians: duration_ms of its request log line, wall_ms of the exit record"
    for v in boxerd_cg boxerd_nocg; do
        f=$W/times/$img.$v
        [[ -s $f ]] || continue
        inst=a lbl="(a)"
        [[ $v == boxerd_nocg ]] && inst=b lbl="(b)"
        awk '{print $3}' "$f" | while read -r id; do
            sed -n "s/.*msg=request .*exec=$id duration_ms=\([0-9]*\).*/x \1/p" "$W/$inst.log"
        done >"$W/times/$img.$v.dur"
        printf '    %s client %s ms: request in boxerd %s ms, of which runsc ran %s ms\n' "$lbl" \
            "${MED[$img.$v]}" "$(median_col "$W/times/$img.$v.dur" 2)" "$(median_col "$f" 4)"
    done
done

echo
echo "2. throughput: $TP_ROUNDS rounds of $TP_RUNS busybox echo runs, $CONC at a time (batch order"
echo "   rotated every round); runs/s = runs / the batch's wall seconds, median over the rounds;"
echo "   paired = median over rounds of runs/s / the raw batch's of the same round; CPU = the whole"
echo "   machine's busy time during the batch / runs (the clients' own CPU included)"
printf '  %-42s %7s %13s %6s %7s %9s %7s\n' "" "runs/s" "min-max" ratio paired "CPU ms/run" ok
declare -A TP_RATE
tp_row() { # LABEL VARIANT [BASE]
    local f=$W/tp/rate.$2 ratio=- pr=- mm
    TP_RATE[$2]=$(median_col "$f" 2 %.2f)
    mm=$(awk 'NR == 1 || $2 < lo {lo = $2} NR == 1 || $2 > hi {hi = $2} END { printf "%.2f-%.2f", lo, hi }' "$f")
    if [[ -n ${3:-} ]]; then
        ratio=$(div "${TP_RATE[$2]}" "${TP_RATE[$3]}")
        pr=$(paired "$f" "$W/tp/rate.$3")
    fi
    printf '  %-42s %7s %13s %6s %7s %9s %7s\n' "$1" "${TP_RATE[$2]}" "$mm" "$ratio" "$pr" \
        "$(median_col "$W/tp/cpu.$2" 2)" \
        "${TP_OK[$2]}/$((TP_RUNS * TP_ROUNDS))"
}
tp_row "runsc run, limits (xargs -P$CONC)" raw_cg
tp_row "boxerd, default limits ($CONC curl processes)" boxerd_cg raw_cg
tp_row "  the same, $CONC kept-alive connections" boxerd_cg_ka raw_cg
tp_row "runsc run --ignore-cgroups (xargs -P$CONC)" raw_nocg
tp_row "boxerd, ignore_cgroups ($CONC curl processes)" boxerd_nocg raw_nocg
tp_row "  the same, $CONC kept-alive connections" boxerd_nocg_ka raw_nocg

if [[ -s $W/phases.txt ]]; then
    echo
    echo "where the time goes: $PHASES busybox echo runs per boxerd under perf trace -a (adds its own"
    echo "overhead; steps by the syscalls that mark them, hack/bench/boxerd_phases.py)"
    cat "$W/phases.txt"
fi

echo
echo "3. boxerd (a) memory, kB (PSS shares the library pages among the processes mapping them)"
printf '  %-40s %9s %9s %8s\n' "" VmRSS Pss threads
printf '  %-40s %9s %9s %8s\n' "right after start, nothing run" "$IDLE_RSS" "$IDLE_PSS" "$IDLE_THREADS"
printf '  %-40s %9s %9s %8s\n' "(b) right after start" "$IDLE_RSS_B" "$IDLE_PSS_B" "-"
for s in "${MEM_SAMPLES[@]}"; do
    read -r n r p t <<<"$s"
    if [[ $n == before ]]; then
        label="after the latency/throughput runs"
    else
        label="after $n more sequential runs"
    fi
    printf '  %-40s %9s %9s %8s\n' "$label" "$r" "$p" "$t"
done
MEM_LAT=""
if [[ -s $W/times/memory-runs ]]; then
    read -r med p90 mn mx < <(stats "$W/times/memory-runs")
    MEM_LAT="median $med ms, p90 $p90, min $mn, max $mx"
    printf '  the %s sequential runs took: %s; %s failed\n' "$MEM_RUNS" "$MEM_LAT" "$MEM_FAILED"
fi
# Stable: the growth from the sample after 100 runs (else the first sample) to the last.
STABLE=- GROWTH=-
if ((${#MEM_SAMPLES[@]} >= 3)); then
    read -r _ base_r _ _ <<<"${MEM_SAMPLES[1]}"
    read -r _ last_r _ _ <<<"${MEM_SAMPLES[-1]}"
    GROWTH=$((last_r - base_r))
    STABLE=$( ((GROWTH <= STABLE_KB)) && echo met || echo MISSED)
fi

echo
echo "targets (information only)"
tgt() { printf '  %-58s %-24s %-12s %s\n' "$1" "$2" "$3" "$4"; }
for img in "${IMAGES[@]}"; do
    for pair in "boxerd_cg raw_cg (a)" "boxerd_nocg raw_nocg (b)" "boxerd_cg_ka raw_cg (a),kept-alive" \
        "boxerd_nocg_ka raw_nocg (b),kept-alive"; do
        read -r v b lbl <<<"$pair"
        ratio=$(div "${MED[$img.$v]}" "${MED[$img.$b]}")
        tgt "latency $img ${lbl/,/ }, boxerd / raw runsc, medians" "${MED[$img.$v]} / ${MED[$img.$b]} = $ratio" \
            "<= $TARGET_RATIO" "$(verdict "$ratio" "<=" "$TARGET_RATIO")"
    done
    tgt "  (information) boxerd (a) / podman, medians" \
        "${MED[$img.boxerd_cg]} / ${MED[$img.podman]} = $(div "${MED[$img.boxerd_cg]}" "${MED[$img.podman]}")" "" ""
done
for pair in "boxerd_cg raw_cg (a)" "boxerd_nocg raw_nocg (b)" "boxerd_cg_ka raw_cg (a),kept-alive" \
    "boxerd_nocg_ka raw_nocg (b),kept-alive"; do
    read -r v b lbl <<<"$pair"
    lbl=${lbl/,/ }
    ratio=$(div "${TP_RATE[$v]}" "${TP_RATE[$b]}")
    tgt "throughput x$CONC $lbl, boxerd / raw runsc, runs/s" "${TP_RATE[$v]} / ${TP_RATE[$b]} = $ratio" \
        ">= $TARGET_TPUT" "$(verdict "$ratio" ">=" "$TARGET_TPUT")"
done
tgt "boxerd idle RSS right after start" "$(kb_mb "$IDLE_RSS") MiB (PSS $(kb_mb "$IDLE_PSS"))" \
    "<= $TARGET_IDLE_RSS_MB MiB" "$(verdict "$(kb_mb "$IDLE_RSS")" "<=" "$TARGET_IDLE_RSS_MB")"
tgt "boxerd RSS stable over $MEM_RUNS runs (growth after run 100)" "$GROWTH kB" "<= $STABLE_KB kB" "$STABLE"

if [[ -s $W/problems ]]; then
    echo
    echo "Problems (a failed run is left out of the figures above):"
    sed 's/^/  /' "$W/problems"
    exit 1
fi
