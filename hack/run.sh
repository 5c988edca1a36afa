#!/usr/bin/env bash
# Runs boxerd on :8080 from the build directory (make run).
#   LOCAL_IMAGES=1     start a local registry with the test images and use it as the docker.io
#                      mirror (for machines without the internet); it is stopped on exit. The
#                      default when neither BOXER_MIRROR nor BOXER_CONFIG is given, so that the
#                      quick start works offline; LOCAL_IMAGES=0 pulls from docker.io itself
#   BOXER_MIRROR=URL   use URL as the docker.io mirror
#   BOXER_CONFIG=FILE  a configuration file of your own (the mirror settings are then yours)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build}
boxerd=$build/httpd/boxerd

if [[ ! -x $boxerd ]]; then
    echo "run: everything is built in $build/, but boxerd (httpd/) is not written yet:" \
        "there is no service to start." >&2
    exit 0
fi

registry_dir=""
config_dir=""
cleanup() {
    [[ -n $registry_dir ]] && hack/registry.sh stop "$registry_dir" || true
    [[ -n $config_dir ]] && rm -rf "$config_dir"
}
trap cleanup EXIT

mirror=${BOXER_MIRROR:-}
local_images=${LOCAL_IMAGES:-}
if [[ -z $local_images && -z $mirror && -z ${BOXER_CONFIG:-} ]]; then
    local_images=1
fi
if [[ $local_images == 1 ]]; then
    eval "$(hack/registry.sh start)"
    registry_dir=$REGISTRY_DIR
    echo "run: building (or reusing) the local images and pushing them to $REGISTRY_ADDR" >&2
    hack/test-images.sh push "$REGISTRY_ADDR" >&2
    mirror="http://$REGISTRY_ADDR"
fi

args=()
if [[ -n $mirror && -z ${BOXER_CONFIG:-} ]]; then
    config_dir=$(mktemp -d "${TMPDIR:-/tmp}/boxer-run.XXXXXX")
    host=${mirror#*://}
    host=${host%%/*}
    printf '{"registry_mirrors": {"docker.io": ["%s"]}, "insecure_registries": ["%s"]}\n' \
        "$mirror" "$host" >"$config_dir/config.json"
    args+=(--config "$config_dir/config.json")
    echo "run: docker.io mirror $mirror" >&2
fi
# boxerd runs in the foreground; Ctrl-C stops it and the trap cleans up.
"$boxerd" "${args[@]}" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null || true' INT TERM
wait $pid || true
