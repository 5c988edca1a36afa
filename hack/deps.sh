#!/usr/bin/env bash
# Installs the Debian packages Boxer needs, quickly doing nothing when they are all there.
#   hack/deps.sh build   the compilers and -dev libraries, python3-yaml (openapi.yaml to JSON) and
#                        npm (the pinned Swagger UI assets and the OpenAPI validator, docs/api.md)
#   hack/deps.sh run     build + what boxerd needs at run time (runsc) and the local images
#   hack/deps.sh test    run + the test fixtures (registry, image tools, python for tests, the
#                        Python SDK's dependencies and test tools)
#   hack/deps.sh fuzz    build + clang's libFuzzer runtime
set -euo pipefail

build_pkgs=(
    build-essential cmake ninja-build pkg-config git
    libcurl4-openssl-dev libarchive-dev libjansson-dev libgrpc-dev libprotobuf-c-dev
    protobuf-c-compiler libmicrohttpd-dev libcmocka-dev libssl-dev python3-yaml
)
# Debian's npm only when no npm is there: a machine may have Node.js and its npm from elsewhere,
# which Debian's npm (and the nodejs it depends on) would conflict with.
command -v npm >/dev/null || build_pkgs+=(npm)
# make run serves the local images as the docker.io mirror by default (hack/run.sh).
run_pkgs=(runsc docker-registry skopeo umoci busybox-static debootstrap python3 curl zstd ca-certificates)
# The Python SDK's tests (tests/integration/sdk_test.sh) install it offline into a venv that uses
# Debian's httpx, pytest and pytest-asyncio.
test_pkgs=(
    docker-registry skopeo umoci busybox-static debootstrap apache2-utils
    python3 python3-grpcio curl zstd ca-certificates iproute2
    python3-httpx python3-pytest python3-pytest-asyncio python3-setuptools python3-wheel
    python3-pip python3-venv
)
fuzz_pkgs=(clang libclang-rt-14-dev)

case "${1:-build}" in
build) pkgs=("${build_pkgs[@]}") ;;
run) pkgs=("${build_pkgs[@]}" "${run_pkgs[@]}") ;;
test) pkgs=("${build_pkgs[@]}" "${run_pkgs[@]}" "${test_pkgs[@]}") ;;
fuzz) pkgs=("${build_pkgs[@]}" "${fuzz_pkgs[@]}") ;;
*)
    echo "usage: hack/deps.sh build|run|test|fuzz" >&2
    exit 2
    ;;
esac

missing=()
for p in "${pkgs[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    [[ $status == installed ]] || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ $(id -u) -ne 0 ]]; then
    echo "deps: missing packages: ${missing[*]}; run as root or install them with apt-get" >&2
    exit 1
fi
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
