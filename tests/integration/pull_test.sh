#!/usr/bin/env bash
# liboci end to end through boxerctl against a real docker-registry on loopback: pulls compared
# with umoci's unpack of the same image, the docker.io mirror, the cache (TTL, registry down,
# rmi, gc), Basic auth, the Bearer token flow, redirects, and faults (corrupt, truncated, 5xx,
# cut and resumed, stalled transfers) after which the cache holds no partial rootfs.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CTL=$BUILD/ctl/boxerctl
[[ -x $CTL ]] || { echo "FAIL: $CTL is not built"; exit 1; }
for t in docker-registry skopeo umoci python3; do
    command -v "$t" >/dev/null || skip "$t is not installed"
done

# boxerctl with a config of its own: ctl HOME CONFIG_JSON ARGS...
ctl() {
    local home=$1 cfg
    cfg=$(mktemp "$WORK/config.XXXXXX")
    printf '%s\n' "$2" >"$cfg"
    shift 2
    "$CTL" --config "$cfg" --home "$WORK/$home" "$@"
}

# The tree of a rootfs: path, type, mode, owner, size of files, link target.
tree_of() {
    (cd "$1" && find . -mindepth 1 -printf '%P %y %m %U:%G %l\n' && find . -type f -printf '%P %s\n') | sort
}

# compare_with_umoci REF ROOTFS: the same tree as umoci unpack of the same image.
compare_with_umoci() {
    local ref=$1 rootfs=$2 name
    name=$(basename "$rootfs")
    skopeo copy -q --src-tls-verify=false "docker://$ref" "oci:$WORK/oci-$name:x" >/dev/null &&
        umoci unpack --image "$WORK/oci-$name:x" "$WORK/umoci-$name" >/dev/null 2>&1 || return 1
    if ! diff <(tree_of "$WORK/umoci-$name/rootfs") <(tree_of "$rootfs") >"$WORK/diff-$name"; then
        head -20 "$WORK/diff-$name"
        return 1
    fi
}

no_partial() {
    local images=$WORK/$1/images
    ! ls -A "$images/rootfs" 2>/dev/null | grep -q . && ! ls -A "$images/blobs/sha256" 2>/dev/null | grep -q '^\.tmp-'
}

start_registry REG || { echo "FAIL: cannot start a registry"; exit 1; }
"$ROOT/hack/test-images.sh" push "$REG_ADDR" busybox python >/dev/null ||
    { echo "FAIL: cannot push the test images"; exit 1; }
"$ROOT/hack/test-images.sh" push "$REG_ADDR" --format v2s2 busybox >/dev/null 2>&1 || true
MIRROR="{\"registry_mirrors\": {\"docker.io\": [\"http://$REG_ADDR\"]}}"

# --- direct pulls, compared with umoci -----------------------------------------------------
out=$(ctl h1 '{}' --json pull "$REG_ADDR/library/busybox:latest" 2>"$WORK/err")
check "pull $REG_ADDR/library/busybox:latest" test -n "$out"
rootfs=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["rootfs"])' "$out" 2>/dev/null)
check "busybox rootfs has /bin/busybox" test -x "$rootfs/bin/busybox"
check "busybox tree equals umoci's" compare_with_umoci "$REG_ADDR/library/busybox:latest" "$rootfs"

out=$(ctl h2 "$MIRROR" --json pull python:3.12-slim 2>"$WORK/err")
check "pull python:3.12-slim through the docker.io mirror" grep -q '"ref":"docker.io/library/python:3.12-slim"' <<<"$out"
rootfs=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["rootfs"])' "$out" 2>/dev/null)
check "python tree equals umoci's" compare_with_umoci "$REG_ADDR/library/python:3.12-slim" "$rootfs"
check "python3 is in the rootfs" test -e "$rootfs/usr/bin/python3"

# --- the cache ------------------------------------------------------------------------------
out=$(ctl h2 "$MIRROR" --json pull python:3.12-slim)
check "a second pull within the TTL is served from the cache" grep -q '"from_cache":true' <<<"$out"
out=$(ctl h2 "$MIRROR" --json pull "$REG_ADDR/library/busybox:1.35")
check "a second image in the same home" grep -q '"from_cache":false' <<<"$out"
out=$(ctl h2 "$MIRROR" images)
check "images lists both" bash -c '[[ $(grep -c "library/" <<<"$1") == 2 ]]' _ "$out"

stop_registry "$REG_DIR"
NOTTL="{\"registry_mirrors\": {\"docker.io\": [\"http://$REG_ADDR\"]}, \"image_tag_ttl_secs\": 0, \"registry_stall_secs\": 2}"
out=$(ctl h2 "$NOTTL" --json pull python:3.12-slim 2>"$WORK/err")
check "with the registry down, the cached image still works" grep -q '"from_cache":true' <<<"$out"
check "... and says the registry was unreachable" grep -q 'registry unreachable' "$WORK/err"
ctl h2 "$NOTTL" pull busybox:does-not-exist >/dev/null 2>"$WORK/err"
check "an uncached image with the registry down fails, naming the image" grep -q 'pull busybox:does-not-exist' "$WORK/err"

check "rmi forgets busybox" ctl h2 '{}' rmi "$REG_ADDR/library/busybox:1.35"
gc=$(ctl h2 '{}' gc)
check "gc removes its rootfs ($gc)" grep -q 'removed 1 root file systems' <<<"$gc"
check "python survives gc" test -e "$rootfs/usr/bin/python3"
ctl h2 '{}' rmi "$REG_ADDR/library/busybox:1.35" 2>/dev/null
check "rmi of an unknown image fails" test $? -ne 0

# --- invalid references ---------------------------------------------------------------------
ctl h3 '{}' pull 'Busybox:Latest' >/dev/null 2>"$WORK/err"
check "an invalid reference is refused" grep -q 'invalid image reference' "$WORK/err"

# --- Basic auth -----------------------------------------------------------------------------
start_registry AUTH --htpasswd boxer:s3cret || fail "cannot start an htpasswd registry"
"$ROOT/hack/test-images.sh" push "$AUTH_ADDR" --creds boxer:s3cret busybox >/dev/null
ctl h4 '{}' pull "$AUTH_ADDR/library/busybox:latest" >/dev/null 2>"$WORK/err"
check "Basic: without credentials the pull is refused" grep -qi 'auth' "$WORK/err"
out=$(ctl h4 "{\"registry_auth\": {\"$AUTH_ADDR\": {\"username\": \"boxer\", \"password\": \"s3cret\"}}}" pull "$AUTH_ADDR/library/busybox:latest")
check "Basic: with registry_auth the pull works" grep -q sha256: <<<"$out"
mkdir -p "$WORK/docker"
printf '{"auths": {"%s": {"auth": "%s"}}}\n' "$AUTH_ADDR" "$(printf boxer:s3cret | base64)" >"$WORK/docker/config.json"
out=$(DOCKER_CONFIG=$WORK/docker ctl h5 '{}' pull "$AUTH_ADDR/library/busybox:latest")
check "Basic: credentials from docker's config.json work" grep -q sha256: <<<"$out"
stop_registry "$AUTH_DIR"

# --- Bearer tokens and redirects ------------------------------------------------------------
start_registry REG2 || fail "cannot start a registry"
"$ROOT/hack/test-images.sh" push "$REG2_ADDR" busybox >/dev/null
start_proxy BEARER --upstream "$REG2_ADDR" --bearer alice:wonder
ctl h6 '{}' pull "127.0.0.1:$BEARER_PORT/library/busybox:latest" >/dev/null 2>"$WORK/err"
check "Bearer: without credentials the token server refuses" grep -qi 'token' "$WORK/err"
out=$(ctl h6 "{\"registry_auth\": {\"127.0.0.1:$BEARER_PORT\": {\"username\": \"alice\", \"password\": \"wonder\"}}}" pull "127.0.0.1:$BEARER_PORT/library/busybox:latest")
check "Bearer: with credentials the pull works" grep -q sha256: <<<"$out"
stats=$(curl -s "http://127.0.0.1:$BEARER_PORT/_stats")
check "Bearer: the token was fetched once and reused ($stats)" grep -q '"token_requests": 2' <<<"$stats"

start_proxy REDIR --upstream "$REG2_ADDR" --bearer-anonymous --redirect
out=$(ctl h7 '{}' pull "127.0.0.1:$REDIR_PORT/library/busybox:latest" 2>"$WORK/err")
check "redirected blobs are followed" grep -q sha256: <<<"$out"
stats=$(curl -s "http://127.0.0.1:$REDIR_PORT/_stats")
check "the token never reaches the redirect's other origin ($stats)" grep -q '"auth_leaks": 0' <<<"$stats"
check "... and blobs were redirected" grep -qv '"redirected": 0' <<<"$stats"

# --- faults ---------------------------------------------------------------------------------
fault_pull() { # MODE HOME: pull busybox through a proxy with that fault
    start_proxy FAULT --upstream "$REG2_ADDR" --fault "$1" || return 2
    ctl "$2" '{"registry_stall_secs": 2}' pull "127.0.0.1:$FAULT_PORT/library/busybox:latest" >/dev/null 2>"$WORK/err"
    local rc=$?
    FAULT_STATS=$(curl -s "http://127.0.0.1:$FAULT_PORT/_stats")
    stop_proxy "$FAULT_PID"
    return $rc
}
fault_pull corrupt f1
check "corrupt blob: the pull fails" test $? -ne 0
check "... naming the digest mismatch" grep -qi 'digest' "$WORK/err"
check "... and leaves no partial rootfs or blob" no_partial f1
out=$(ctl f1 '{}' pull "$REG2_ADDR/library/busybox:latest")
check "... and a later pull succeeds" grep -q sha256: <<<"$out"

fault_pull truncate f2
check "truncated blob: the pull fails" test $? -ne 0
check "... leaving nothing partial" no_partial f2

fault_pull error500:2 f3
check "two 500s then recovery: the pull succeeds after retries" test $? -eq 0

fault_pull cut-once f4
check "a transfer cut midway resumes and succeeds" test $? -eq 0
check "... with a Range request ($FAULT_STATS)" grep -qv '"range_requests": 0' <<<"$FAULT_STATS"

start=$(date +%s)
fault_pull stall f5
rc=$?
check "a stalled transfer fails" test $rc -ne 0
check "... within the stall timeout and retries ($(($(date +%s) - start)) s)" test $(($(date +%s) - start)) -lt 40
check "... leaving nothing partial" no_partial f5

# --- concurrent pulls of one image, two processes --------------------------------------------
pids=()
for i in 1 2 3; do
    ctl c1 '{}' pull "$REG2_ADDR/library/busybox:latest" >"$WORK/c$i.out" 2>&1 &
    pids+=($!)
done
wait "${pids[@]}" # not a bare wait: the proxies above run in the background too
check "three concurrent pulls all succeed" bash -c 'grep -q sha256: "$1/c1.out" && grep -q sha256: "$1/c2.out" && grep -q sha256: "$1/c3.out"' _ "$WORK"
check "... into one rootfs" test "$(ls "$WORK/c1/images/rootfs" | wc -l)" -eq 1

finish
