#!/usr/bin/env bash
# Runs the config.json that oci_spec_write() makes with the real runsc and checks that it does
# what oci/spec.h says: identity and capabilities, read-only root, /tmp cap, files at paths
# whose parents the image lacks (through a per-run overlay view, the shared rootfs untouched),
# /output ownership, RLIMIT_NOFILE, loopback-only network, the memory limit.
#   hack/spec-check.sh [BUILD_DIR]   (default build; it must hold tests/integration/oci_spec_emit)
# Prints one line per check; exits 1 when one fails, 77 when it cannot run here (needs root,
# runsc, busybox-static and overlayfs). Everything it starts or makes is removed on exit.
# shellcheck disable=SC2317 # functions that run through trap and check() are reachable
set -euo pipefail

build=${1:-build}
emit=$build/tests/integration/oci_spec_emit
platform=${BOXER_PLATFORM:-ptrace}
skip() {
    echo "spec-check: skipped: $*"
    exit 77
}
[[ $(id -u) -eq 0 ]] || skip "needs root (runsc and mounts)"
command -v runsc >/dev/null || skip "runsc not installed"
[[ -x /bin/busybox ]] || skip "busybox-static not installed"
grep -qw overlay /proc/filesystems || skip "no overlayfs"
[[ -x $emit ]] || skip "$emit not built"

work=$(mktemp -d "${TMPDIR:-/tmp}/boxer-spec-check.XXXXXX")
ids=()
mounts=()
cleanup() {
    for id in "${ids[@]}"; do
        runsc --root "$work/state" delete --force "$id" >/dev/null 2>&1 || true
    done
    local i
    for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
        umount "${mounts[i]}" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 143' TERM INT # through the EXIT trap

# The shared image: busybox and its applets, nothing else (no /tmp, /proc, /workspace...). It
# is made a read-only mount, as boxerd's cache should be, so a run cannot change it.
rootfs=$work/rootfs
mkdir -p "$rootfs/bin" "$work/state" "$work/host"
cp /bin/busybox "$rootfs/bin/"
for applet in $(/bin/busybox --list); do
    [[ -e $rootfs/bin/$applet ]] || ln -s busybox "$rootfs/bin/$applet"
done
mount --bind "$rootfs" "$rootfs" && mounts+=("$rootfs")
mount -o remount,bind,ro "$rootfs"
listing() { (cd "$rootfs" && find . | sort); }
listing >"$work/rootfs.before"
# shellcheck disable=SC2016 # expanded by the sandbox's shell
printf '#!/bin/sh\necho script ran as $(id -u)\n' >"$work/host/script.sh"
chmod 755 "$work/host/script.sh"

# view NAME: mounts a per-run overlay over the shared rootfs at $work/views/NAME/merged, as
# boxerd must for every run (runsc's gofer creates missing mount points inside the root).
view() {
    local v=$work/views/$1
    mkdir -p "$v/upper" "$v/work" "$v/merged"
    mount -t overlay overlay -o "lowerdir=$rootfs,upperdir=$v/upper,workdir=$v/work" "$v/merged"
    mounts+=("$v/merged")
}

# run NAME view|shared [oci_spec_emit options] -- COMMAND...: runs COMMAND on a fresh view or on
# the shared rootfs itself; sets rc, out and err.
run() {
    local name=$1 root=$rootfs id="bx-spec-check-$$-$1"
    if [[ $2 == view ]]; then
        view "$name"
        root=$work/views/$name/merged
    fi
    shift 2
    local bundle=$work/bundles/$name
    mkdir -p "$bundle"
    "$emit" --bundle "$bundle" --rootfs "$root" --hostname "$id" "$@"
    ids+=("$id")
    : >"$bundle/out" && : >"$bundle/err" # appended to: runsc writes a plain file from offset 0
    rc=0
    timeout 120 runsc --root "$work/state" --platform="$platform" --network=none \
        run --bundle "$bundle" "$id" </dev/null >>"$bundle/out" 2>>"$bundle/err" || rc=$?
    out=$(cat "$bundle/out")
    err=$(cat "$bundle/err")
}

failed=0
# shellcheck disable=SC2001 # sed indents multi-line output
check() { # check NAME CONDITION... : PASS when the condition holds
    local name=$1
    shift
    if "$@"; then
        echo "PASS $name"
    else
        echo "FAIL $name"
        echo "  rc=$rc"
        sed 's/^/  out: /' <<<"$out"
        sed 's/^/  err: /' <<<"$err"
        failed=1
    fi
}
has() { grep -qE -- "$1" <<<"$2"; }
no_caps() { # every Cap* line of /proc/self/status in $out is zero, and there are at least 4
    local all zero
    all=$(grep -c '^Cap' <<<"$out" || true)
    zero=$(grep -cE '^Cap[A-Za-z]+:[[:space:]]+0+$' <<<"$out" || true)
    [[ $all -ge 4 && $all -eq $zero ]]
}

run identity view --tmp 1048576 -- sh -c \
    'id -u; id -g; grep Cap /proc/self/status; touch /x; echo hi >/tmp/a && echo tmp-ok;
     dd if=/dev/zero of=/tmp/big bs=64k count=32 2>&1; echo dd=$?'
check "1 uid/gid 65534" [ "$(sed -n 1,2p <<<"$out")" = $'65534\n65534' ]
check "1 no capabilities" no_caps
check "2 /tmp writable" has '^tmp-ok$' "$out"
check "2 /tmp capped at 1 MiB" has 'No space left on device' "$out"

run readonly view --uid 0 --gid 0 -- sh -c 'touch /x; mkdir /bin/y'
check "2 root read-only even for uid 0" [ "$(grep -c 'Read-only file system' <<<"$err")" -eq 2 ]

files=(--file "$work/host/script.sh:/workspace/sub/script.sh" --cwd /workspace/sub)
run files view --uid 0 --gid 0 "${files[@]}" -- sh -c \
    'pwd; ./script.sh; echo x >script.sh; touch /workspace/new'
check "3 file under missing parents, cwd created" has '^/workspace/sub$' "$out"
check "3 file runs" has '^script ran as 0$' "$out"
check "3 file and its parents read-only" [ "$(grep -c 'Read-only file system' <<<"$err")" -eq 2 ]
check "3 mount points land in the view's upper dir" \
    [ -f "$work/views/files/upper/workspace/sub/script.sh" ]
run files-shared shared "${files[@]}" -- true
check "3 without a view runsc fails (gofer: mkdir on a read-only mount)" [ "$rc" -ne 0 ]
check "3 the shared rootfs is unchanged" cmp -s "$work/rootfs.before" <(listing)

mkdir -m 0700 "$work/output" "$work/output-root"
chown 65534:65534 "$work/output"
run output view --output "$work/output" -- sh -c \
    'echo data >/output/r.txt && mkdir /output/d && ln -s /etc/passwd /output/l && echo ok'
check "4 /output writable when owned by 65534 (0700)" has '^ok$' "$out"
check "4 host files owned by 65534:65534" \
    [ "$(stat -c %u:%g "$work/output/r.txt" "$work/output/d")" = $'65534:65534\n65534:65534' ]
check "4 a symlink made inside is a host symlink" [ -L "$work/output/l" ]
run output-root view --output "$work/output-root" -- sh -c 'echo x >/output/r'
check "4 /output owned by root 0700 is not writable" has 'Permission denied' "$err"

run nofile view --nofile 4096 -- sh -c 'ulimit -n; ulimit -Hn; ulimit -c'
check "5 RLIMIT_NOFILE soft=hard=4096, core 0" [ "$out" = $'4096\n4096\n0' ]
run nofile-default view -- sh -c 'ulimit -n'
check "5 RLIMIT_NOFILE default 1024" [ "$out" = 1024 ]

run network view -- sh -c 'cat /proc/net/dev; hostname'
check "6 only lo" [ "$(tail -n +3 <<<"$out" | grep -c ':')" -eq 1 ]
check "6 only lo (named)" has '^ *lo:' "$out"
check "6 hostname is the exec id" has "^bx-spec-check-$$-network$" "$out"

cg=boxer-spec-check-$$
run memory view --memory $((64 << 20)) --cgroup "$cg" -- sh -c \
    'echo start; dd if=/dev/zero of=/dev/null bs=200M count=1; echo survived'
check "7 memory hog under 64 MiB: sandbox killed, exit 137" [ "$rc" -eq 137 ]
check "7 nothing after the hog ran" [ "$out" = start ]
check "7 runsc removed its cgroup" [ -z "$(find /sys/fs/cgroup -name "$cg" 2>/dev/null)" ]
run memory-ok view --memory $((64 << 20)) --cgroup "$cg" -- sh -c \
    'dd if=/dev/zero of=/dev/null bs=16M count=1 2>/dev/null && echo ok'
check "7 16 MiB fits under 64 MiB" [ "$rc:$out" = 0:ok ]

exit $failed
