#!/usr/bin/env bash
# Test images for Boxer's integration tests, built offline from Debian packages (no Docker Hub).
#
#   hack/test-images.sh build
#       Builds (once) and prints the cache directory on stdout; progress goes to stderr.
#   hack/test-images.sh push REGISTRY_ADDR [--creds USER:PASS] [--format oci|v2s2] [IMAGE...]
#       Builds if needed, then copies every tag of the named images (default: all) to
#       docker://REGISTRY_ADDR/library/NAME:TAG over plain HTTP. Prints one pushed reference per
#       line on stdout.
#   hack/test-images.sh list
#       Prints every reference the cache holds, `library/NAME:TAG`, one per line.
#
# Images (linux/amd64, OCI, one gzip layer each, every file owned by 0:0):
#   library/busybox  1.35 latest                         /bin/busybox from busybox-static + applet symlinks
#   library/python   3.11 3.11-bookworm 3.12-slim latest debootstrap minbase + python3 (3.11)
#   library/node     18 18-bookworm 20-slim latest       debootstrap minbase + nodejs (18)
#   library/perl     5.36 5.36-bookworm 5.38-slim latest debootstrap minbase (perl 5.36)
# `python:3.12-slim`, `node:20-slim` and `perl:5.38-slim` are the references Boxer's
# documentation uses in its examples. Debian bookworm has no Python 3.12, Node 20 or Perl 5.38:
# these tags are LOCAL STAND-INS holding the bookworm versions (3.11, 18, 5.36), so the examples
# can run offline. See docs/test-images.md.
#
# Cache: ${BOXER_TEST_IMAGE_CACHE:-/var/cache/boxer/test-images}/<key>/<image>/ (one OCI image
# layout per image, all its tags in index.json), complete when <key>/complete exists (written
# last; the directory is built under .build.* and renamed into place). <key> = first 16 hex of
# sha256 over this script, the busybox-static binary and the Debian mirror URL. Older keys are
# removed after a successful build. Debian packages downloaded by debootstrap are kept in
# <cache>/debs/ across keys. Building needs root (debootstrap, chroot) and the Debian mirror.
set -euo pipefail
shopt -s inherit_errexit

SELF=$(readlink -f "${BASH_SOURCE[0]}")
readonly SELF
readonly CACHE_ROOT=${BOXER_TEST_IMAGE_CACHE:-/var/cache/boxer/test-images}
readonly SUITE=bookworm
readonly IMAGES=(busybox python node perl)
readonly ENV_PATH=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# The tags of each image; the first one names what is inside, `latest` is always there.
tags_of() {
    case $1 in
    busybox) echo "1.35 latest" ;;
    python) echo "3.11 3.11-bookworm 3.12-slim latest" ;;
    node) echo "18 18-bookworm 20-slim latest" ;;
    perl) echo "5.36 5.36-bookworm 5.38-slim latest" ;;
    *) return 1 ;;
    esac
}

BUILD_T0=""
log() {
    if [[ -n $BUILD_T0 ]]; then
        printf 'test-images: [%3ss] %s\n' "$((SECONDS - BUILD_T0))" "$*" >&2
    else
        printf 'test-images: %s\n' "$*" >&2
    fi
}
die() {
    printf 'test-images: error: %s\n' "$*" >&2
    exit 1
}
usage() {
    cat >&2 <<'EOF'
usage: hack/test-images.sh build
       hack/test-images.sh push REGISTRY_ADDR [--creds USER:PASS] [--format oci|v2s2] [IMAGE...]
       hack/test-images.sh list
EOF
    exit 2
}

# The Debian mirror this machine uses (deb822 .sources first, then one-line .list files).
# awk, not python3: python3 starts in about 0.3 s here and this runs on the cached path.
debian_mirror() {
    local found="" f
    if [[ -n ${BOXER_DEBIAN_MIRROR:-} ]]; then
        printf '%s\n' "$BOXER_DEBIAN_MIRROR"
        return
    fi
    for f in /etc/apt/sources.list.d/*.sources; do
        [[ -r $f && -z $found ]] || continue
        found=$(awk -v suite="$SUITE" '
            BEGIN { RS = ""; FS = "\n" }
            {
                types = ""; suites = ""; uris = ""; enabled = "yes"
                for (i = 1; i <= NF; i++) {
                    line = $i
                    if (line ~ /^[ \t]*#/ || line ~ /^[ \t]/ || index(line, ":") == 0) continue
                    key = tolower(substr(line, 1, index(line, ":") - 1))
                    val = substr(line, index(line, ":") + 1)
                    if (key == "types") types = val
                    else if (key == "suites") suites = val
                    else if (key == "uris") uris = val
                    else if (key == "enabled") enabled = tolower(val)
                }
                gsub(/[ \t]+/, " ", types); gsub(/[ \t]+/, " ", suites); gsub(/ /, "", enabled)
                if (enabled == "no" || index(" " types " ", " deb ") == 0 || index(" " suites " ", " " suite " ") == 0) next
                n = split(uris, u, /[ \t]+/)
                for (j = 1; j <= n; j++) if (u[j] ~ /^https?:\/\//) { print u[j]; exit }
            }' "$f")
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [[ -r $f && -z $found ]] || continue
        found=$(awk -v suite="$SUITE" '
            { sub(/#.*/, ""); gsub(/\[[^]]*\]/, " ") }
            $1 == "deb" && $3 == suite && $2 ~ /^https?:\/\// { print $2; exit }' "$f")
    done
    printf '%s\n' "${found:-http://deb.debian.org/debian}"
}

# Path of the installed busybox-static binary, or empty when the package is not installed.
installed_busybox() {
    local status
    status=$(dpkg-query -W -f='${Status}' busybox-static 2>/dev/null || true)
    [[ $status == *" installed" ]] || return 0
    dpkg-query -L busybox-static | grep -E '^(/usr)?/bin/busybox$' | head -n 1 || true
}

compute_key() {
    local bb bbid
    MIRROR=$(debian_mirror)
    bb=$(installed_busybox)
    if [[ -n $bb ]]; then
        bbid="sha256:$(sha256sum <"$bb" | cut -d' ' -f1)"
    else
        bbid="apt:$(apt-cache show --no-all-versions busybox-static 2>/dev/null | awk '/^Version:/ {print $2; exit}')"
    fi
    KEY_INPUTS=$(printf 'script sha256:%s\nbusybox-static %s\nmirror %s\nsuite %s\n' \
        "$(sha256sum <"$SELF" | cut -d' ' -f1)" "$bbid" "$MIRROR" "$SUITE")
    KEY=$(printf '%s' "$KEY_INPUTS" | sha256sum | cut -c1-16)
}

# ---------------------------------------------------------------------------------------------
# Build

WORK=""
BG_PIDS=()

unmount_under() {
    local dir=$1 m
    [[ -n $dir && -d $dir ]] || return 0
    awk -v d="$dir/" 'index($5, d) == 1 {print $5}' /proc/self/mountinfo | sort -r |
        while read -r m; do umount -l "$m" 2>/dev/null || true; done
}

remove_tree() {
    unmount_under "$1"
    rm -rf --one-file-system "$1"
}

# descendants PID: PID and every process below it (children first).
descendants() {
    local child
    for child in $(ps -o pid= --ppid "$1" 2>/dev/null || true); do
        descendants "$child"
    done
    printf '%s\n' "$1"
}

any_alive() {
    local pid state
    for pid in "$@"; do
        state=$(awk '/^State:/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
        if [[ -n $state && $state != Z ]]; then
            return 0
        fi
    done
    return 1
}

# Stop the background steps this script started (apt, dpkg, umoci under them) before their
# work tree is removed.
stop_background() {
    local pid pids=() i
    for pid in "${BG_PIDS[@]}"; do
        mapfile -t -O "${#pids[@]}" pids < <(descendants "$pid")
    done
    ((${#pids[@]})) || return 0
    kill -TERM "${pids[@]}" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        any_alive "${pids[@]}" || break
        sleep 0.1
    done
    kill -KILL "${pids[@]}" 2>/dev/null || true
    for pid in "${BG_PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    BG_PIDS=()
}

on_exit() {
    stop_background
    if [[ -n $WORK ]]; then
        remove_tree "$WORK"
    fi
}

# run_logged NAME CMD...: run CMD with its output in $WORK/logs/NAME.log; on failure show the tail.
# CMD runs in a subshell with errexit on: written as `CMD || rc=$?`, bash would ignore set -e in
# every function CMD calls.
run_logged() {
    local name=$1 rc
    shift
    set +e
    (
        set -e
        "$@"
    ) >"$WORK/logs/$name.log" 2>&1
    rc=$?
    set -e
    if ((rc != 0)); then
        log "step '$name' failed (exit $rc): $*"
        tail -n 25 "$WORK/logs/$name.log" | sed 's/^/  | /' >&2
    fi
    return "$rc"
}

# Start a step in the background; wait_all collects them and fails if any failed.
bg() {
    run_logged "$@" &
    BG_PIDS+=("$!")
}
wait_all() {
    local pid rc=0
    for pid in "${BG_PIDS[@]}"; do
        wait "$pid" || rc=1
    done
    BG_PIDS=()
    return "$rc"
}

in_root() {
    local root=$1
    shift
    env -i "$ENV_PATH" LC_ALL=C HOME=/root DEBIAN_FRONTEND=noninteractive chroot "$root" "$@"
}

# /bin/busybox (static) and one symlink to it per applet (`busybox --list-full`), plus the few
# files a busybox image needs (passwd, group, /tmp).
make_busybox_rootfs() {
    local root=$1 bb d ver
    bb=$(installed_busybox)
    if [[ -z $bb ]]; then
        (cd "$WORK" && apt-get download busybox-static) >&2
        dpkg-deb -x "$WORK"/busybox-static_*.deb "$WORK/bbpkg"
        bb=$WORK/bbpkg/bin/busybox
        [[ -x $bb ]] || bb=$WORK/bbpkg/usr/bin/busybox
    fi
    ver=$("$bb" --help 2>&1 || true)
    ver=${ver%%$'\n'*}
    [[ $ver == "BusyBox v1.35."* ]] || die "$bb is not busybox 1.35: $ver"
    mkdir -p "$root"
    for d in bin sbin usr/bin usr/sbin etc root home dev proc sys tmp var/tmp; do
        mkdir -p "$root/$d"
    done
    chmod 0700 "$root/root"
    chmod 1777 "$root/tmp" "$root/var/tmp"
    install -m 0755 "$bb" "$root/bin/busybox"
    # One process for the ~270 links (a fork per link costs seconds on a loaded machine).
    "$bb" --list-full | python3 -c '
import os, sys
root = sys.argv[1]
for applet in sys.stdin.read().split():
    if applet == "bin/busybox":
        continue
    path = os.path.join(root, applet)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if os.path.lexists(path):
        os.unlink(path)
    os.symlink("/bin/busybox", path)
' "$root"
    printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' 'nobody:x:65534:65534:nobody:/nonexistent:/bin/false' \
        >"$root/etc/passwd"
    printf '%s\n' 'root:x:0:' 'nogroup:x:65534:' >"$root/etc/group"
    chmod 0644 "$root/etc/passwd" "$root/etc/group"
}

debootstrap_base() {
    local root=$1
    mkdir -p "$CACHE_ROOT/debs"
    debootstrap --variant=minbase --cache-dir="$CACHE_ROOT/debs" "$SUITE" "$root" "$MIRROR"
    # debootstrap leaves no package lists; one update here serves every copy made from it.
    in_root "$root" apt-get update -q
}

apt_install() {
    local root=$1
    shift
    in_root "$root" apt-get install -y -q --no-install-recommends \
        -o Dpkg::Options::=--force-unsafe-io "$@"
}

# Make a debootstrap tree image-shaped: no apt caches or lists, docs, man pages, locales, logs,
# device nodes (runtimes provide /dev), or the build host's resolv.conf and hostname.
slim_rootfs() {
    local root=$1 d
    for d in var/cache/apt var/lib/apt/lists usr/share/doc usr/share/man usr/share/locale \
        usr/share/info var/log dev; do
        if [[ -d $root/$d ]]; then
            find "$root/$d" -mindepth 1 -delete
        fi
    done
    find "$root/var/cache/debconf" "$root/var/lib/dpkg" -maxdepth 1 -name '*-old' -delete
    rm -f "$root/etc/resolv.conf"
    printf 'localhost\n' >"$root/etc/hostname"
}

# check_version ROOT EXPECTED CMD...: CMD run inside ROOT must print a line starting EXPECTED.
check_version() {
    local root=$1 want=$2 got
    shift 2
    got=$(in_root "$root" "$@" 2>&1) || die "version check failed in $root: $* -> $got"
    [[ $got == "$want"* ]] || die "$root: '$*' printed '$got', want '$want*' (tags would lie)"
    log "$(basename "$root"): $* -> $got"
}

# pack NAME ROOTFS CMD-WORD... : one OCI image layout $OUT/NAME holding every tag of NAME.
pack() {
    local name=$1 root=$2 layout=$OUT/$1 layer=$WORK/$1.layer.tar tag bad desc
    shift 2
    local cmdargs=() envargs=(--config.env "$ENV_PATH") word
    for word in "$@"; do cmdargs+=(--config.cmd "$word"); done
    if [[ $name == python ]]; then
        envargs+=(--config.env LANG=C.UTF-8)
    fi
    case $name in
    busybox) desc="busybox 1.35 (Debian busybox-static)" ;;
    python) desc="Debian bookworm minbase + python3 3.11" ;;
    node) desc="Debian bookworm minbase + nodejs 18" ;;
    perl) desc="Debian bookworm minbase (perl 5.36)" ;;
    esac

    # Plain relative member names (bin/..., etc/...), no "./" or "/" entry, owner 0:0,
    # hard links kept, no pax records for atime/ctime/sub-second mtime.
    (cd "$root" && find . -mindepth 1 -maxdepth 1 -printf '%P\0' | LC_ALL=C sort -z |
        tar --create --file="$layer" --null --files-from=- --sort=name \
            --numeric-owner --owner=0 --group=0 --format=pax \
            --pax-option=delete=atime,delete=ctime,delete=mtime)
    bad=$(tar --list --file="$layer" | grep -E '^/|(^|/)\.\.(/|$)' | head -n 3 || true)
    [[ -z $bad ]] || die "$name layer has unsafe member names: $bad"
    bad=$(tar --list --verbose --numeric-owner --file="$layer" | awk '$2 != "0/0"' | head -n 3 || true)
    [[ -z $bad ]] || die "$name layer has files not owned by 0:0: $bad"

    umoci init --layout "$layout"
    umoci new --image "$layout:latest"
    umoci raw add-layer --image "$layout:latest" \
        --history.created_by "hack/test-images.sh: $desc" "$layer"
    umoci config --image "$layout:latest" --os linux --architecture amd64 \
        "${envargs[@]}" "${cmdargs[@]}" --config.workingdir / \
        --config.label "org.opencontainers.image.description=Boxer test image: $desc" \
        --config.label "org.opencontainers.image.version=$(tags_of "$name" | cut -d' ' -f1)" \
        --no-history
    for tag in $(tags_of "$name"); do
        [[ $tag == latest ]] || umoci tag --image "$layout:latest" "$tag"
    done
    umoci gc --layout "$layout"
    rm -f "$layer"
}

do_build() {
    local base python node perl bbroot final old
    [[ $(id -u) == 0 ]] || die "building the test images needs root (debootstrap, chroot); run as root once, later runs use the cache"
    local tool
    for tool in debootstrap umoci tar chroot flock python3; do
        command -v "$tool" >/dev/null || die "$tool not found"
    done
    mkdir -p "$CACHE_ROOT"
    exec 9>"$CACHE_ROOT/.lock"
    flock -w 1800 9 || die "timed out waiting for $CACHE_ROOT/.lock"
    final=$CACHE_ROOT/$KEY
    if [[ -f $final/complete ]]; then # someone else built it while we waited
        printf '%s\n' "$final"
        return 0
    fi
    # Under the lock nobody else is building: leftovers of interrupted builds can go.
    for old in "$CACHE_ROOT"/.build.*; do
        if [[ -e $old ]]; then
            remove_tree "$old"
        fi
    done
    if [[ -e $final ]]; then
        remove_tree "$final"
    fi

    # Only the final path goes to stdout; everything else to stderr.
    exec 3>&1 1>&2
    BUILD_T0=$SECONDS
    WORK=$(mktemp -d "$CACHE_ROOT/.build.XXXXXX")
    OUT=$WORK/out
    mkdir -p "$WORK/logs" "$OUT"
    log "building key $KEY in $WORK (mirror $MIRROR); logs in $WORK/logs"

    bbroot=$WORK/rootfs/busybox
    base=$WORK/rootfs/base
    python=$WORK/rootfs/python
    node=$WORK/rootfs/node
    perl=$WORK/rootfs/perl

    make_busybox_rootfs "$bbroot"
    bg pack-busybox pack busybox "$bbroot" sh

    log "debootstrap --variant=minbase $SUITE (about 45 s on an idle machine)"
    # In the background like every long step, so that INT/TERM are handled at once (bash runs a
    # trap only after its foreground command ends) and stop_background can end the whole tree.
    bg debootstrap debootstrap_base "$base"
    wait_all || die "a build step failed (see above)"
    cp -a "$base" "$python"
    cp -a "$base" "$node"
    mv "$base" "$perl"

    log "installing python3 and nodejs (in parallel), packing perl"
    bg apt-python apt_install "$python" python3 ca-certificates
    bg apt-node apt_install "$node" nodejs ca-certificates
    check_version "$perl" 5.36. perl -e 'printf "%vd\n", $^V'
    slim_rootfs "$perl"
    bg pack-perl pack perl "$perl" perl
    wait_all || die "a build step failed (see above)"

    check_version "$python" 3.11. python3 -c 'import json, sys; print("%d.%d.%d" % sys.version_info[:3])'
    check_version "$node" v18. node -e 'console.log(process.version)'
    slim_rootfs "$python"
    slim_rootfs "$node"
    log "packing python and node"
    bg pack-python pack python "$python" python3
    bg pack-node pack node "$node" node
    wait_all || die "a build step failed (see above)"

    local img tag
    for img in "${IMAGES[@]}"; do
        for tag in $(tags_of "$img"); do
            umoci stat --image "$OUT/$img:$tag" >/dev/null || die "$img:$tag missing from the layout"
            printf 'library/%s:%s\n' "$img" "$tag" >>"$OUT/images"
        done
    done
    printf '%s\n' "$KEY_INPUTS" >"$OUT/key-inputs"
    chmod -R a+rX "$OUT"
    sync "$OUT"/*/blobs/sha256/* "$OUT"/*/index.json "$OUT/images"
    printf 'key %s\nbuilt %s\n' "$KEY" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$OUT/complete"
    sync "$OUT/complete"
    mv -T "$OUT" "$final"

    for old in "$CACHE_ROOT"/*; do
        if ! [[ -d $old && $old != "$final" && $(basename "$old") =~ ^[0-9a-f]{16}$ ]]; then
            continue
        fi
        log "removing old cache $old"
        remove_tree "$old"
    done
    log "built $final ($(du -sh "$final" | cut -f1))"
    printf '%s\n' "$final" >&3
    exec 1>&3 3>&-
}

# Prints the cache directory, building first when needed.
ensure_built() {
    compute_key
    if [[ -f $CACHE_ROOT/$KEY/complete ]]; then
        printf '%s\n' "$CACHE_ROOT/$KEY"
        return 0
    fi
    trap on_exit EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    do_build
}

cmd_build() {
    (($# == 0)) || usage
    ensure_built
}

cmd_list() {
    (($# == 0)) || usage
    local img tag
    for img in "${IMAGES[@]}"; do
        for tag in $(tags_of "$img"); do
            printf 'library/%s:%s\n' "$img" "$tag"
        done
    done
}

cmd_push() {
    (($# >= 1)) || usage
    local addr=$1 creds="" format="" img tag cache
    shift
    local selected=()
    while (($#)); do
        case $1 in
        --creds)
            (($# >= 2)) || usage
            creds=$2
            shift 2
            ;;
        --creds=*)
            creds=${1#*=}
            shift
            ;;
        --format)
            (($# >= 2)) || usage
            format=$2
            shift 2
            ;;
        --format=*)
            format=${1#*=}
            shift
            ;;
        -*) usage ;;
        *)
            img=${1#library/}
            tags_of "$img" >/dev/null || die "unknown image '$1' (known: ${IMAGES[*]})"
            selected+=("$img")
            shift
            ;;
        esac
    done
    [[ $addr == *[!/]* && $addr != */* ]] || die "REGISTRY_ADDR is host:port, got '$addr'"
    [[ -z $format || $format == oci || $format == v2s2 ]] || die "--format is oci or v2s2"
    ((${#selected[@]})) || selected=("${IMAGES[@]}")
    command -v skopeo >/dev/null || die "skopeo not found"

    cache=$(ensure_built)
    local args=(--insecure-policy copy --quiet --dest-tls-verify=false)
    if [[ -n $creds ]]; then
        args+=(--dest-creds "$creds")
    fi
    if [[ -n $format ]]; then
        args+=(--format "$format")
    fi
    for img in "${selected[@]}"; do
        for tag in $(tags_of "$img"); do
            # The first tag uploads the blobs; later tags find them in the registry and only
            # put the manifest.
            skopeo "${args[@]}" "oci:$cache/$img:$tag" "docker://$addr/library/$img:$tag" >&2 ||
                die "skopeo copy to $addr/library/$img:$tag failed"
            printf '%s/library/%s:%s\n' "$addr" "$img" "$tag"
        done
    done
}

(($# >= 1)) || usage
sub=$1
shift
case $sub in
build) cmd_build "$@" ;;
push) cmd_push "$@" ;;
list) cmd_list "$@" ;;
*) usage ;;
esac
