#!/usr/bin/env bash
# Proves the offline test fixtures work end to end: a real local registry (hack/registry.sh), the
# test images pushed into it (hack/test-images.sh), every tag's manifest and blobs served and
# verified, every image's program run under gVisor (runsc), and a registry with htpasswd auth.
#
# Exit 0: all checks passed. Exit 1: a check failed. Exit 77: a prerequisite is missing (the
# reason is printed); ctest maps 77 to SKIP. Needs root (runsc run without --rootless), the tools
# below, and the image cache (built by the `fixture_images` test, or here on first use).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
readonly ROOT
readonly REGISTRY_SH=$ROOT/hack/registry.sh
readonly IMAGES_SH=$ROOT/hack/test-images.sh
readonly ACCEPT='application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json'

PASSES=0
FAILS=0
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
# check DESCRIPTION CMD...: PASS when CMD succeeds.
check() {
    local what=$1
    shift
    if "$@"; then pass "$what"; else fail "$what"; fi
}
now_ms() { date +%s%3N; }

# --- prerequisites: missing ones skip loudly, never pass silently -----------------------------
[[ $(id -u) == 0 ]] || skip "needs root: runsc run is used without --rootless"
for tool in runsc docker-registry skopeo umoci debootstrap curl python3 tar htpasswd sha256sum timeout; do
    command -v "$tool" >/dev/null || skip "$tool is not installed"
done
[[ -x $REGISTRY_SH && -x $IMAGES_SH ]] || { fail "hack/registry.sh or hack/test-images.sh missing or not executable"; exit 1; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/boxer-fixtures-test.XXXXXX")
readonly TMP
readonly STATE=$TMP/runsc-state
mkdir -p "$STATE" "$TMP/blobs" "$TMP/images"
REGISTRY_DIRS=()
REGISTRY_PIDS=()
RUNSC_IDS=()
CLEANED=0

# Stop everything this test started (idempotent): sandboxes first, then registries, then files.
cleanup() {
    local id dir ids
    ((CLEANED)) && return 0
    CLEANED=1
    ids=("${RUNSC_IDS[@]}")
    if [[ -d $STATE ]]; then
        mapfile -t -O "${#ids[@]}" ids < <(runsc --root "$STATE" list -quiet 2>/dev/null || true)
    fi
    for id in "${ids[@]}"; do
        [[ -n $id ]] || continue
        runsc --root "$STATE" delete --force "$id" >/dev/null 2>&1 || true
    done
    for dir in "${REGISTRY_DIRS[@]}"; do
        "$REGISTRY_SH" stop "$dir" || printf 'cleanup: could not stop the registry in %s\n' "$dir" >&2
    done
}
# shellcheck disable=SC2317 # called through the EXIT trap
on_exit() {
    local rc=$?
    cleanup
    rm -rf "$TMP"
    exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# start_registry PREFIX [ARGS...]: starts one registry, sets ${PREFIX}_ADDR and ${PREFIX}_PID.
start_registry() {
    local prefix=$1 out addr dir pid
    shift
    out=$("$REGISTRY_SH" start "$@") || return 1
    addr=$(sed -n 's/^REGISTRY_ADDR=//p' <<<"$out")
    dir=$(sed -n 's/^REGISTRY_DIR=//p' <<<"$out")
    pid=$(sed -n 's/^REGISTRY_PID=//p' <<<"$out")
    [[ -n $dir ]] && REGISTRY_DIRS+=("$dir")
    [[ -n $pid ]] && REGISTRY_PIDS+=("$pid")
    [[ $addr =~ ^127\.0\.0\.1:[0-9]+$ && -d $dir && $pid =~ ^[0-9]+$ ]] || return 1
    printf -v "${prefix}_ADDR" '%s' "$addr"
    printf -v "${prefix}_PID" '%s' "$pid"
}

pid_alive() {
    local state
    state=$(awk '/^State:/ {print $2}' "/proc/$1/status" 2>/dev/null || true)
    [[ -n $state && $state != Z ]]
}

# Processes whose command line mentions our runsc state dir (sandbox, gofer, runsc itself).
our_runsc_pids() {
    local f pid cmd
    for f in /proc/[0-9]*/cmdline; do
        pid=${f#/proc/}
        pid=${pid%/cmdline}
        [[ $pid == "$$" || $pid == "$BASHPID" ]] && continue
        cmd=$({ tr '\0' ' ' <"$f"; } 2>/dev/null) || continue
        if [[ $cmd == *"$STATE"* ]]; then
            printf '%s\n' "$pid"
        fi
    done
}

echo "== fixtures: image cache"
t=$(now_ms)
if CACHE=$("$IMAGES_SH" build); then
    pass "hack/test-images.sh build -> $CACHE ($(($(now_ms) - t)) ms)"
else
    fail "hack/test-images.sh build"
    exit 1
fi
mapfile -t REFS < <("$IMAGES_SH" list)
check "hack/test-images.sh list names 14 references" test "${#REFS[@]}" -eq 14

echo "== anonymous registry"
if start_registry ANON; then
    pass "registry.sh start -> $ANON_ADDR (pid $ANON_PID)"
else
    fail "registry.sh start"
    exit 1
fi
code=$(curl -s -o /dev/null -w '%{http_code}' "http://$ANON_ADDR/v2/")
check "GET /v2/ answers 200 (got $code)" test "$code" = 200

t=$(now_ms)
if "$IMAGES_SH" push "$ANON_ADDR" >"$TMP/pushed" 2>"$TMP/push.err"; then
    pass "push all images, all tags ($(($(now_ms) - t)) ms, $(wc -l <"$TMP/pushed") references)"
else
    fail "push all images: $(tail -n 5 "$TMP/push.err")"
fi
t=$(now_ms)
if "$IMAGES_SH" push "$ANON_ADDR" >/dev/null 2>"$TMP/push.err"; then
    pass "second push of everything (blobs already there): $(($(now_ms) - t)) ms"
else
    fail "second push: $(tail -n 5 "$TMP/push.err")"
fi

echo "== manifests and blobs, every image and tag"
# One python3 run does the HTTP checks (python3 starts slowly here): for every reference it GETs
# the manifest with the full Accept list, checks status, Content-Type and Docker-Content-Digest,
# follows an index to linux/amd64, then fetches config and layers once per digest, checking
# sha256 and size against the descriptor and the layer's uncompressed sha256 against the
# config's diff_ids. It writes each image's layers and config env for the runs below.
python3 - "$ANON_ADDR" "$TMP" "$CACHE" "$ACCEPT" "${REFS[@]}" <<'PY' | tee "$TMP/http-checks.out"
import gzip, hashlib, json, os, sys, urllib.error, urllib.request

addr, tmp, cache, accept, refs = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]
INDEX_TYPES = {"application/vnd.oci.image.index.v1+json",
               "application/vnd.docker.distribution.manifest.list.v2+json"}
MANIFEST_TYPES = {"application/vnd.oci.image.manifest.v1+json",
                  "application/vnd.docker.distribution.manifest.v2+json"}
fails = 0

def report(ok, what):
    global fails
    print(("PASS: " if ok else "FAIL: ") + what, flush=True)
    if not ok:
        fails += 1
    return ok

def get(path, headers=None):
    req = urllib.request.Request("http://%s%s" % (addr, path), headers=headers or {})
    try:
        resp = urllib.request.urlopen(req, timeout=60)
        return resp.status, resp.headers, resp
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e

def get_manifest(name, ref):
    status, headers, resp = get("/v2/%s/manifests/%s" % (name, ref), {"Accept": accept})
    body = resp.read()
    ctype = (headers.get("Content-Type") or "").split(";")[0].strip()
    what = "%s:%s" % (name, ref) if not ref.startswith("sha256:") else "%s@%s" % (name, ref[:19])
    if not report(status == 200, "GET manifest %s -> %s" % (what, status)):
        return None, None
    if not report(ctype in INDEX_TYPES | MANIFEST_TYPES, "%s Content-Type is a manifest type: %s" % (what, ctype)):
        return None, None
    digest = "sha256:" + hashlib.sha256(body).hexdigest()
    report(headers.get("Docker-Content-Digest") == digest,
           "%s Docker-Content-Digest %s matches the body" % (what, headers.get("Docker-Content-Digest")))
    doc = json.loads(body)
    report(doc.get("mediaType", ctype) == ctype, "%s body mediaType agrees with Content-Type" % what)
    return ctype, doc, digest

verified = {}

def fetch_blob(name, desc, diff_id=None):
    d = desc["digest"]
    if d in verified:
        return verified[d]
    status, headers, resp = get("/v2/%s/blobs/%s" % (name, d))
    if not report(status == 200, "GET blob %s@%s -> %s" % (name, d[:19], status)):
        return None
    path = os.path.join(tmp, "blobs", d.split(":", 1)[1])
    h, size = hashlib.sha256(), 0
    with open(path, "wb") as f:
        while True:
            chunk = resp.read(1 << 20)
            if not chunk:
                break
            h.update(chunk)
            size += len(chunk)
            f.write(chunk)
    ok = report("sha256:" + h.hexdigest() == d and size == desc["size"],
                "blob %s@%s: sha256 equals digest, %d bytes as the descriptor says" % (name, d[:19], size))
    if ok and diff_id is not None:
        u = hashlib.sha256()
        with gzip.open(path, "rb") as g:
            while True:
                chunk = g.read(1 << 20)
                if not chunk:
                    break
                u.update(chunk)
        ok = report("sha256:" + u.hexdigest() == diff_id,
                    "layer %s@%s: uncompressed sha256 equals config diff_id" % (name, d[:19]))
    verified[d] = path if ok else None
    return verified[d]

seen = {}
for ref in refs:
    name, tag = ref.rsplit(":", 1)
    got = get_manifest(name, tag)
    if got[0] is None:
        continue
    ctype, doc, digest = got
    try:
        index = json.load(open(os.path.join(cache, name.split("/")[-1], "index.json")))
        want = [m["digest"] for m in index["manifests"]
                if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag]
    except (OSError, ValueError, KeyError):
        want = []
    report(want == [digest], "%s in the registry is the cached layout's manifest %s (push kept digests)"
           % (ref, (want or ["<none>"])[0][:19]))
    if ctype in INDEX_TYPES:
        plats = [m for m in doc.get("manifests", [])
                 if m.get("platform", {}).get("architecture") == "amd64"
                 and m.get("platform", {}).get("os") == "linux"]
        if not report(len(plats) >= 1, "%s index has a linux/amd64 manifest" % ref):
            continue
        got = get_manifest(name, plats[0]["digest"])
        if got[0] is None:
            continue
        ctype, doc, digest = got
    seen.setdefault(name, set()).add(digest)
    cfg_path = fetch_blob(name, doc["config"])
    if cfg_path is None:
        continue
    cfg = json.load(open(cfg_path))
    report(cfg.get("architecture") == "amd64" and cfg.get("os") == "linux",
           "%s config is linux/amd64" % ref)
    diff_ids = cfg.get("rootfs", {}).get("diff_ids", [])
    if not report(len(diff_ids) == len(doc["layers"]) and len(diff_ids) > 0,
                  "%s has %d layer(s) and as many diff_ids" % (ref, len(doc["layers"]))):
        continue
    layers = [fetch_blob(name, l, diff_ids[i]) for i, l in enumerate(doc["layers"])]
    if None in layers:
        continue
    short = name.split("/")[-1]
    with open(os.path.join(tmp, "images", short + ".layers"), "w") as f:
        f.write("".join(p + "\n" for p in layers))
    with open(os.path.join(tmp, "images", short + ".env"), "w") as f:
        json.dump(cfg.get("config", {}).get("Env") or [], f)

for name, digests in sorted(seen.items()):
    report(len(digests) == 1, "all tags of %s name one manifest (%d distinct)" % (name, len(digests)))
sys.exit(1 if fails else 0)
PY
rc=${PIPESTATUS[0]}
# The python part printed its own PASS/FAIL lines: count them into the totals.
PASSES=$((PASSES + $(grep -c '^PASS: ' "$TMP/http-checks.out")))
FAILS=$((FAILS + $(grep -c '^FAIL: ' "$TMP/http-checks.out")))
if ((rc != 0)) && ! grep -q '^FAIL: ' "$TMP/http-checks.out"; then
    fail "manifest/blob checks exited $rc without a FAIL line (python error?)"
fi

echo "== run every image's program under runsc (ptrace, no network, read-only root)"
# write_bundle BUNDLE ENVFILE ARG...: a minimal OCI runtime config: uid 65534, no capabilities,
# read-only root, proc + tmpfs /dev and /tmp, fresh namespaces.
write_bundle() {
    python3 - "$@" <<'PY'
import json, sys
bundle, envfile, args = sys.argv[1], sys.argv[2], sys.argv[3:]
env = json.load(open(envfile))
spec = {
    "ociVersion": "1.0.2",
    "process": {
        "terminal": False,
        "user": {"uid": 65534, "gid": 65534},
        "args": args,
        "env": env,
        "cwd": "/",
        "capabilities": {"bounding": [], "effective": [], "inheritable": [], "permitted": [], "ambient": []},
        "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
        "noNewPrivileges": True,
    },
    "root": {"path": "rootfs", "readonly": True},
    "hostname": "boxer-fixture",
    "mounts": [
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev", "mode=1777"]},
    ],
    "linux": {"namespaces": [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount")]},
}
json.dump(spec, open(bundle + "/config.json", "w"), indent=1)
PY
}

# run_image IMAGE EXPECTED ARG...: unpack IMAGE's layers, run ARG... in runsc, compare stdout.
run_image() {
    local img=$1 want=$2 bundle=$TMP/bundle-$1 id="boxer-fixtures-$$-$1" layer out rc t
    shift 2
    if [[ ! -s $TMP/images/$img.layers ]]; then
        fail "$img: no verified layers to unpack (see the manifest checks)"
        return
    fi
    mkdir -p "$bundle/rootfs"
    while read -r layer; do
        if ! tar -xzf "$layer" -C "$bundle/rootfs" --numeric-owner 2>"$TMP/tar.err"; then
            fail "$img: tar -xzf of $(basename "$layer") failed: $(head -n 3 "$TMP/tar.err")"
            return
        fi
    done <"$TMP/images/$img.layers"
    if ! write_bundle "$bundle" "$TMP/images/$img.env" "$@"; then
        fail "$img: could not write config.json"
        return
    fi
    RUNSC_IDS+=("$id")
    t=$(now_ms)
    out=$(timeout -k 5 120 runsc --root "$STATE" --platform=ptrace --network=none \
        run --bundle "$bundle" "$id" 2>>"$TMP/$img.stderr")
    rc=$?
    t=$(($(now_ms) - t))
    if [[ $rc == 0 && $out == "$want" ]]; then
        pass "$img: runsc run $* -> '$out', exit 0 ($t ms)"
    else
        fail "$img: runsc run $* -> '$out', exit $rc, want '$want' and 0; stderr: $(tail -n 5 "$TMP/$img.stderr")"
    fi
    runsc --root "$STATE" delete --force "$id" >/dev/null 2>&1 || true
    rm -rf "$bundle"
}

run_image busybox hi echo hi
# shellcheck disable=SC2016 # single quotes are meant: these are programs for the guest
{
    run_image python 42 python3 -c 'import json; print(json.dumps(6*7))'
    run_image node 42 node -e 'console.log(6*7)'
    run_image perl 42 perl -e 'print 6*7, "\n"'
}

echo "== registry with htpasswd auth"
USER_NAME=boxer
PASSWORD=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
if start_registry AUTH --htpasswd "$USER_NAME:$PASSWORD"; then
    pass "registry.sh start --htpasswd -> $AUTH_ADDR (pid $AUTH_PID)"
    code=$(curl -s -o /dev/null -w '%{http_code}' "http://$AUTH_ADDR/v2/")
    check "anonymous GET /v2/ answers 401 (got $code)" test "$code" = 401
    if "$IMAGES_SH" push "$AUTH_ADDR" --creds "$USER_NAME:$PASSWORD" busybox >/dev/null 2>"$TMP/push.err"; then
        pass "push busybox with --creds"
    else
        fail "push busybox with --creds: $(tail -n 5 "$TMP/push.err")"
    fi
    if timeout 120 "$IMAGES_SH" push "$AUTH_ADDR" busybox >/dev/null 2>"$TMP/push.err"; then
        fail "push without credentials succeeded"
    else
        pass "push without credentials is refused"
    fi
    url="http://$AUTH_ADDR/v2/library/busybox/manifests/latest"
    code=$(curl -s -o /dev/null -D "$TMP/h401" -w '%{http_code}' -H "Accept: $ACCEPT" "$url")
    check "anonymous manifest GET answers 401 (got $code)" test "$code" = 401
    www=$(tr -d '\r' <"$TMP/h401" | sed -n 's/^[Ww][Ww][Ww]-[Aa]uthenticate: *//p')
    check "401 carries Www-Authenticate: Basic (got '$www')" grep -q '^Basic realm=' <<<"$www"
    code=$(curl -s -o /dev/null -w '%{http_code}' -u "$USER_NAME:wrong-$PASSWORD" -H "Accept: $ACCEPT" "$url")
    check "wrong password answers 401 (got $code)" test "$code" = 401
    code=$(curl -s -o /dev/null -D "$TMP/h200" -w '%{http_code}' -u "$USER_NAME:$PASSWORD" -H "Accept: $ACCEPT" "$url")
    ctype=$(tr -d '\r' <"$TMP/h200" | sed -n 's/^[Cc]ontent-[Tt]ype: *//p')
    check "authenticated manifest GET answers 200 (got $code, $ctype)" test "$code" = 200
else
    fail "registry.sh start --htpasswd"
fi

echo "== cleanup"
cleanup
for pid in "${REGISTRY_PIDS[@]}"; do
    for ((i = 0; i < 50; i++)); do pid_alive "$pid" || break; sleep 0.1; done
    if pid_alive "$pid"; then fail "registry pid $pid still running"; else pass "registry pid $pid is gone"; fi
done
for dir in "${REGISTRY_DIRS[@]}"; do
    check "registry dir $dir removed" test ! -e "$dir"
done
left=$(runsc --root "$STATE" list -quiet 2>&1)
check "runsc --root STATE list is empty (got '${left//$'\n'/ }')" test -z "$left"
for ((i = 0; i < 50; i++)); do
    [[ -z $(our_runsc_pids) ]] && break
    sleep 0.1
done
left=$(our_runsc_pids | tr '\n' ' ')
check "no runsc process of this test remains (got '$left')" test -z "$left"
rm -rf "$TMP"
check "temp dir $TMP removed" test ! -e "$TMP"

if ((FAILS)); then
    printf 'RESULT: FAIL (%d failed, %d passed)\n' "$FAILS" "$PASSES"
    exit 1
fi
printf 'RESULT: PASS (%d checks)\n' "$PASSES"
exit 0
