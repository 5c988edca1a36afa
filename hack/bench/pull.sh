#!/usr/bin/env bash
# The image-pull benchmark: Boxer's `boxerctl pull` against `skopeo copy` + `umoci unpack`, cold,
# from a local registry; then the cached resolve of the pulled image, in-process, with the
# registry stopped. See hack/bench/README.md.
#
#   hack/bench/pull.sh [--runs N] [--iterations K] [--build-dir DIR] [--image NAME:TAG]
#
#   --runs N        cold pulls per side, alternating the sides (default 5)
#   --iterations K  timed cached resolves (default 1000)
#   --build-dir DIR a CMake build dir of this tree (default $BOXER_BUILD_DIR, else ./build);
#                   configured when empty, and boxerctl and resolve_bench are (re)built in it
#   --image NAME:TAG library/NAME:TAG in the test registry (default python:3.12-slim)
#
# Prints a table on stdout, progress on stderr. The targets are information only: the exit
# status is 0 unless something did not work (a tool missing, a pull failing, a resolve not
# served from the cache). Everything it starts or writes is gone when it exits.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
readonly ROOT
readonly TARGET_RATIO=0.5
readonly TARGET_RSS_MB=64
readonly TARGET_RESOLVE_US=1000

RUNS=5
ITERATIONS=1000
BUILD=${BOXER_BUILD_DIR:-$ROOT/build}
IMAGE=python:3.12-slim

die() {
    printf 'pull.sh: %s\n' "$*" >&2
    exit 1
}

log() {
    printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2
}

usage() {
    sed -n '6,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

while (($#)); do
    case $1 in
    --runs) (($# >= 2)) || usage; RUNS=$2; shift 2 ;;
    --runs=*) RUNS=${1#*=}; shift ;;
    --iterations) (($# >= 2)) || usage; ITERATIONS=$2; shift 2 ;;
    --iterations=*) ITERATIONS=${1#*=}; shift ;;
    --build-dir) (($# >= 2)) || usage; BUILD=$2; shift 2 ;;
    --build-dir=*) BUILD=${1#*=}; shift ;;
    --image) (($# >= 2)) || usage; IMAGE=$2; shift 2 ;;
    --image=*) IMAGE=${1#*=}; shift ;;
    -h | --help) usage ;;
    *) usage ;;
    esac
done
if ! [[ $RUNS =~ ^[0-9]+$ ]] || ((RUNS < 1 || RUNS > 100)); then
    die "--runs wants 1..100, got '$RUNS'"
fi
if ! [[ $ITERATIONS =~ ^[0-9]+$ ]] || ((ITERATIONS < 1)); then
    die "--iterations wants a count, got '$ITERATIONS'"
fi
[[ $IMAGE =~ ^[a-z0-9._-]+:[A-Za-z0-9._-]+$ ]] || die "--image wants NAME:TAG, got '$IMAGE'"
[[ $BUILD == /* ]] || BUILD=$PWD/$BUILD

# ---- tools ----

# need CMD PACKAGE: installs Debian's PACKAGE when CMD is missing (root only).
need() {
    local cmd=$1 pkg=$2
    command -v "$cmd" >/dev/null && return 0
    [[ $(id -u) == 0 ]] || die "$cmd not found: apt-get install $pkg"
    log "installing $pkg"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$pkg" >/dev/null ||
        die "apt-get install $pkg failed"
    command -v "$cmd" >/dev/null || die "$cmd still not found after installing $pkg"
}
need skopeo skopeo
need umoci umoci
need docker-registry docker-registry
need curl curl
need cmake cmake
[[ -x /usr/bin/time ]] || need /usr/bin/time time
TIME=/usr/bin/time

# ---- scratch space and cleanup ----

WORK=$(mktemp -d "${TMPDIR:-/tmp}/boxer-bench.XXXXXX")
WORK=$(cd "$WORK" && pwd -P)
REGISTRY_DIR=""
cleanup() {
    local rc=$?
    if [[ -n $REGISTRY_DIR ]]; then
        "$ROOT/hack/registry.sh" stop "$REGISTRY_DIR" || rc=1
    fi
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
mkdir -p "$WORK/tmp" "$WORK/runs"
# Whatever the tools write to a temp dir (skopeo's layer copies, the registry) stays in WORK.
export TMPDIR=$WORK/tmp

# ---- build ----

if [[ ! -f $BUILD/CMakeCache.txt ]]; then
    log "configuring $BUILD"
    cmake -S "$ROOT" -B "$BUILD" >"$WORK/cmake.log" 2>&1 || {
        tail -n 20 "$WORK/cmake.log" >&2
        die "cmake configure failed"
    }
fi
log "building boxerctl and resolve_bench in $BUILD"
cmake --build "$BUILD" -j2 --target boxerctl resolve_bench >"$WORK/build.log" 2>&1 || {
    tail -n 30 "$WORK/build.log" >&2
    die "build failed"
}
BOXERCTL=$BUILD/ctl/boxerctl
RESOLVE_BENCH=$BUILD/hack/bench/resolve_bench
BUILD_TYPE=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$BUILD/CMakeCache.txt")
SANITIZE=$(sed -n 's/^BOXER_SANITIZE:[A-Z]*=//p' "$BUILD/CMakeCache.txt")
if [[ $BUILD_TYPE != Rel* || $SANITIZE == ON ]]; then
    log "warning: $BUILD is a ${BUILD_TYPE:-unnamed} build (sanitizers ${SANITIZE:-OFF}): Boxer's numbers are not representative"
fi

# ---- registry ----

log "starting a local registry"
REG_ENV=$("$ROOT/hack/registry.sh" start) || die "hack/registry.sh start failed"
REGISTRY_ADDR=$(sed -n 's/^REGISTRY_ADDR=//p' <<<"$REG_ENV")
REGISTRY_DIR=$(sed -n 's/^REGISTRY_DIR=//p' <<<"$REG_ENV")
[[ -n $REGISTRY_ADDR && -n $REGISTRY_DIR ]] || die "hack/registry.sh start printed no address"
NAME=${IMAGE%%:*}
log "pushing the $NAME test image to $REGISTRY_ADDR (the first build of the images takes ~2 min)"
"$ROOT/hack/test-images.sh" push "$REGISTRY_ADDR" "$NAME" >"$WORK/pushed" 2>"$WORK/push.log" || {
    tail -n 20 "$WORK/push.log" >&2
    die "pushing the test image failed"
}
REF=$REGISTRY_ADDR/library/$IMAGE
grep -qxF "$REF" "$WORK/pushed" || die "$REF was not pushed (pushed: $(tr '\n' ' ' <"$WORK/pushed"))"
MANIFEST=$(curl -sf -H 'Accept: application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json' \
    "http://$REGISTRY_ADDR/v2/library/$NAME/manifests/${IMAGE#*:}") || die "cannot read the manifest of $REF"
read -r N_LAYERS LAYER_BYTES < <(python3 -c 'import json, sys
m = json.load(sys.stdin)
print(len(m["layers"]), sum(l["size"] for l in m["layers"]))' <<<"$MANIFEST")

printf '{}\n' >"$WORK/config.json"

# Every run's output stays until the end (see settle): about 4 times the compressed layers per
# side (blobs plus the unpacked tree), with room to spare.
NEED_KB=$((RUNS * 2 * 5 * LAYER_BYTES / 1024))
FREE_KB=$(df -Pk "$WORK" | awk 'NR == 2 { print $4 }')
((FREE_KB > NEED_KB)) || die "$WORK has $((FREE_KB / 1024)) MiB free, $RUNS runs need about $((NEED_KB / 1024)) MiB"

# ---- measuring ----

# timed OUT_PREFIX CMD...: runs CMD under /usr/bin/time; sets T_WALL (s) and T_RSS (KiB). Its
# stdout goes to OUT_PREFIX.out, its stderr to OUT_PREFIX.err; a failure ends the benchmark.
timed() {
    local prefix=$1
    shift
    if ! "$TIME" -f '%e %M' -o "$prefix.time" "$@" >"$prefix.out" 2>"$prefix.err"; then
        printf 'pull.sh: failed: %s\n' "$*" >&2
        tail -n 20 "$prefix.err" | sed 's/^/  | /' >&2
        exit 1
    fi
    read -r T_WALL T_RSS < <(tail -n 1 "$prefix.time")
}

# Nothing written before a measurement is left for it to flush: each starts after a sync (not
# timed), so no side pays for the other's dirty pages. No run's output is removed before the
# last run: on ext4 without a journal, allocating inodes skips those freed in the last 60-360 s
# one by one (the kernel's recently_deleted()), so deleting a 6000-file tree slows the file
# creation of the runs after it, by seconds, whichever side they are.
settle() {
    sync
}

BOXER_WALL=() BOXER_RSS=() SKOPEO_WALL=() SKOPEO_RSS=() UMOCI_WALL=() UMOCI_RSS=() BASE_WALL=()
UNPACKED_BYTES=""
RESOLVE_HOME=""

run_boxer() {
    local i=$1 home=$WORK/runs/boxer-$1
    settle
    timed "$WORK/runs/boxer-$i" "$BOXERCTL" --config "$WORK/config.json" --home "$home" --json \
        pull "$REF"
    grep -q '"from_cache":false' "$WORK/runs/boxer-$i.out" ||
        die "boxerctl pull (run $i) did not pull from the registry: $(cat "$WORK/runs/boxer-$i.out")"
    UNPACKED_BYTES=$(sed -n 's/.*"size":\([0-9]*\).*/\1/p' "$WORK/runs/boxer-$i.out")
    BOXER_WALL+=("$T_WALL")
    BOXER_RSS+=("$T_RSS")
    log "  run $i boxer:    ${T_WALL} s, $((T_RSS / 1024)) MiB"
    RESOLVE_HOME=$home # the last run's store serves the cached resolve
}

run_baseline() {
    local i=$1 layout=$WORK/runs/oci-$1 bundle=$WORK/runs/bundle-$1 sw sr
    settle
    timed "$WORK/runs/skopeo-$i" skopeo --insecure-policy copy --quiet --src-tls-verify=false \
        "docker://$REF" "oci:$layout:x"
    sw=$T_WALL sr=$T_RSS
    timed "$WORK/runs/umoci-$i" umoci unpack --image "$layout:x" "$bundle"
    SKOPEO_WALL+=("$sw")
    SKOPEO_RSS+=("$sr")
    UMOCI_WALL+=("$T_WALL")
    UMOCI_RSS+=("$T_RSS")
    BASE_WALL+=("$(awk -v a="$sw" -v b="$T_WALL" 'BEGIN { printf "%.2f", a + b }')")
    log "  run $i baseline: ${BASE_WALL[-1]} s (skopeo $sw s, $((sr / 1024)) MiB; umoci $T_WALL s, $((T_RSS / 1024)) MiB)"
}

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
log "measuring $RUNS cold pulls per side of $REF, alternating"
for ((i = 1; i <= RUNS; i++)); do
    if ((i % 2)); then
        run_boxer "$i"
        run_baseline "$i"
    else
        run_baseline "$i"
        run_boxer "$i"
    fi
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

log "stopping the registry; resolving the cached image $ITERATIONS times in-process"
"$ROOT/hack/registry.sh" stop "$REGISTRY_DIR"
REGISTRY_DIR=""
if curl -s -o /dev/null -m 2 "http://$REGISTRY_ADDR/v2/"; then
    die "something still answers on $REGISTRY_ADDR after the registry stopped"
fi
RESOLVE=$("$RESOLVE_BENCH" --home "$RESOLVE_HOME" --iterations "$ITERATIONS" "$REF") ||
    die "the cached resolve failed"
kv() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$RESOLVE"; }

# ---- report ----

# stats V...: "median min max" of the values.
stats() {
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
        m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        printf "%.2f %.2f %.2f\n", m, v[1], v[NR] }'
}
mb() { # KiB values -> MiB values
    local v
    for v in "$@"; do awk -v k="$v" 'BEGIN { printf "%.1f\n", k / 1024 }'; done
}
row() { # LABEL UNIT VALUES...
    local label=$1 unit=$2 med min max
    shift 2
    read -r med min max < <(stats "$@")
    printf '  %-30s %8s %8s %8s   %s\n' "$label ($unit)" "$med" "$min" "$max" "$*"
}

read -r B_MED _ _ < <(stats "${BOXER_WALL[@]}")
read -r BASE_MED _ _ < <(stats "${BASE_WALL[@]}")
mapfile -t BOXER_RSS_MB < <(mb "${BOXER_RSS[@]}")
mapfile -t SKOPEO_RSS_MB < <(mb "${SKOPEO_RSS[@]}")
mapfile -t UMOCI_RSS_MB < <(mb "${UMOCI_RSS[@]}")
BOXER_RSS_MAX=$(printf '%s\n' "${BOXER_RSS_MB[@]}" | sort -g | tail -n 1)
RATIO=$(awk -v a="$B_MED" -v b="$BASE_MED" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
RES_MED=$(kv median_us)
verdict() { # VALUE OP TARGET
    awk -v v="$1" -v t="$3" -v op="$2" 'BEGIN {
        ok = op == "<=" ? v <= t : v < t; print ok ? "met" : "MISSED" }'
}

cat <<EOF

Boxer image-pull benchmark
  image      $REF ($N_LAYERS layer(s), $(mb "$((LAYER_BYTES / 1024))") MiB compressed, $(mb "$((${UNPACKED_BYTES:-0} / 1024))") MiB unpacked)
  machine    $(nproc) cores, load average $LOAD_BEFORE before, $LOAD_AFTER after; $(uname -r)
             scratch space $WORK on $(findmnt -n -o FSTYPE -T "$WORK" 2>/dev/null || echo '?')
  boxer      $BOXERCTL (${BUILD_TYPE:-no build type})
  baseline   $(skopeo --version), $(umoci --version)
  method     $RUNS cold runs per side, alternating; each into a fresh empty store / OCI dir,
             all kept until the end; a sync (untimed) before each; the page cache is not
             dropped (that needs privileges and disturbs others): the registry's blobs are
             read from memory, so this measures CPU and file-system work, not the disk.

EOF
printf '  %-30s %8s %8s %8s   %s\n' "cold pull, $RUNS runs each" median min max "each run"
row "boxerctl pull" s "${BOXER_WALL[@]}"
row "skopeo copy + umoci unpack" s "${BASE_WALL[@]}"
row "  skopeo copy" s "${SKOPEO_WALL[@]}"
row "  umoci unpack" s "${UMOCI_WALL[@]}"
row "boxerctl pull peak RSS" MiB "${BOXER_RSS_MB[@]}"
row "skopeo copy peak RSS" MiB "${SKOPEO_RSS_MB[@]}"
row "umoci unpack peak RSS" MiB "${UMOCI_RSS_MB[@]}"
cat <<EOF

  cached resolve (in-process oci_store_pull, registry stopped, $(kv iterations) calls after $(kv age_s) s of a $(kv ttl_s) s TTL)
    median $(kv median_us) us   p99 $(kv p99_us) us   min $(kv min_us) us   max $(kv max_us) us   first $(kv first_us) us   from_cache $(kv from_cache)/$(kv iterations)

  targets (information only)
    boxer / baseline cold pull, medians   $B_MED / $BASE_MED = $RATIO   (target <= $TARGET_RATIO)   $(verdict "$RATIO" "<=" "$TARGET_RATIO")
    boxer peak RSS, worst run             $BOXER_RSS_MAX MiB   (target <= $TARGET_RSS_MB MiB)   $(verdict "$BOXER_RSS_MAX" "<=" "$TARGET_RSS_MB")
    cached resolve, median                $RES_MED us   (target < $TARGET_RESOLVE_US us)   $(verdict "$RES_MED" "<" "$TARGET_RESOLVE_US")
EOF
