#!/usr/bin/env bash
# The Python SDK (sdk/python, import name boxer) against a real boxerd: the SDK's own pytest
# suite, sync and async, with BOXER_URL set, so that none of it is skipped.
#
#   1. a local registry with the test images (busybox, python, node, perl) as the docker.io mirror
#   2. boxerd on a free loopback port, output_limit_bytes 65536 (507 is cheap to reach)
#   3. `pip install --no-index -e sdk/python[dev]` into a throw-away venv
#      made by Debian's /usr/bin/python3 with --system-site-packages: Debian's httpx, pytest and
#      pytest-asyncio, nothing from an index (the install command of sdk/python/README.md)
#   4. `python -m pytest sdk/python/tests`: every test passes and none is skipped; without
#      BOXER_URL the same suite skips every test, saying why
#   5. SIGTERM stops boxerd, leaving no boxer-shim or runsc process, nothing in home/run, no mount
#
# A missing Python package that hack/deps.sh installs (python3-httpx, python3-pytest,
# python3-pytest-asyncio, python3-venv, python3-pip, python3-setuptools) is a FAIL: `make test`
# installs them. Until httpd/ builds boxerd, or without root/runsc, the test SKIPs like
# boxerd_test.sh.
# shellcheck disable=SC2317 # functions that run through trap are reachable
# shellcheck disable=SC2016 # '$1' in bash -c expands later, on purpose
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SRC=${BOXER_SOURCE_DIR:-$ROOT}
SDK=$SRC/sdk/python
BOXERD=$BUILD/httpd/boxerd
SHIM=$BUILD/shim/boxer-shim
PY=/usr/bin/python3 # Debian's: a pyenv python3 may come first in PATH
OUTPUT_LIMIT=65536

[[ -x $BOXERD ]] || skip "boxerd is not built"
[[ -x $SHIM ]] || { echo "FAIL: boxer-shim is not built ($SHIM)"; exit 1; }
[[ $(id -u) -eq 0 ]] || skip "needs root (runsc, cgroups, overlay mounts)"
for t in runsc docker-registry skopeo curl; do
    command -v "$t" >/dev/null || skip "$t is not installed"
done
[[ -x $PY ]] || { echo "FAIL: $PY is not installed (python3; hack/deps.sh test)"; exit 1; }
missing=$("$PY" - <<'EOF'
import importlib.util
mods = {"httpx": "python3-httpx", "pytest": "python3-pytest", "pytest_asyncio": "python3-pytest-asyncio",
        "ensurepip": "python3-venv", "venv": "python3-venv", "setuptools": "python3-setuptools",
        "wheel": "python3-wheel"}
print(" ".join(sorted({pkg for mod, pkg in mods.items() if importlib.util.find_spec(mod) is None})))
EOF
)
if [[ -n $missing ]]; then
    echo "FAIL: $PY lacks Debian packages the SDK's tests need: $missing (hack/deps.sh test installs them)"
    exit 1
fi
export BOXER_SHIM=$SHIM

# runsc opens paths under home after dropping privileges: the directories above must be
# traversable (mktemp makes them 0700). Unix socket paths under home/run/<exec_id>/ must stay
# under 107 bytes: when $WORK is deep, home goes in a short directory of its own.
chmod 0711 "$WORK"
if ((${#WORK} <= 30)); then
    HOMES=$WORK
else
    HOMES=$(mktemp -d /tmp/bxs.XXXXXX) && chmod 0711 "$HOMES"
fi
HOME_DIR=$HOMES/home
MARK=sdk-test.$$.$RANDOM # in boxerd's environment, and so in what it starts
sanitizer_logs_to "$WORK/san" # boxerd's and its shims' reports (lib.sh)
BOXERD_PID=""

procs_of_boxerd() { boxer_procs "$HOME_DIR" "$MARK"; }
no_procs_left() { no_boxer_procs "$HOME_DIR" "$MARK"; }
run_dir_empty() { dir_empty "$HOME_DIR/run" 5; }
no_mounts_left() { no_mounts_under "$HOME_DIR"; }
healthy() {
    [[ $(curl -s -m 5 "$1/healthz" 2>/dev/null) =~ \"ok\":[[:space:]]*true ]]
}

EGG_INFO=$SDK/boxer_sdk.egg-info
[[ -e $EGG_INFO ]] && EGG_INFO_WAS_THERE=1 || EGG_INFO_WAS_THERE=0
_sdk_cleanup() {
    local pid
    if [[ -n $BOXERD_PID ]] && alive "$BOXERD_PID"; then
        kill -TERM "$BOXERD_PID" 2>/dev/null
        exited_within "$BOXERD_PID" 30 || kill -KILL "$BOXERD_PID" 2>/dev/null
        wait "$BOXERD_PID" 2>/dev/null
    fi
    for pid in $(procs_of_boxerd | cut -d' ' -f1); do kill -TERM "$pid" 2>/dev/null; done
    if ((FAILS > 0)) && [[ -s $WORK/boxerd.log ]]; then
        echo "--- the last lines of boxerd's log"
        tail -40 "$WORK/boxerd.log"
    fi
    grep -F " $HOMES/" /proc/mounts | cut -d' ' -f2 | sort -r | while read -r m; do
        umount -l "$m" 2>/dev/null
    done
    [[ $HOMES != "$WORK" ]] && rm -rf "$HOMES"
    # pip's editable build leaves its metadata in the source tree
    ((EGG_INFO_WAS_THERE)) || rm -rf "$EGG_INFO"
}
trap '_sdk_cleanup; _cleanup' EXIT

# --- a registry, boxerd -------------------------------------------------------------------------
start_registry REG || { echo "FAIL: cannot start a registry"; exit 1; }
"$ROOT/hack/test-images.sh" push "$REG_ADDR" busybox python node perl >/dev/null ||
    { echo "FAIL: cannot push the test images"; exit 1; }

mkdir -p "$HOME_DIR" && chmod 0711 "$HOME_DIR"
for _ in 1 2 3; do
    port=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    "$PY" - "$WORK/boxerd.json" "$HOME_DIR" "127.0.0.1:$port" "http://$REG_ADDR" "$OUTPUT_LIMIT" <<'EOF' || exit 1
import json, sys
path, home, addr, mirror, limit = sys.argv[1:]
with open(path, "w") as f:
    json.dump({"home": home, "listen_addr": addr, "registry_mirrors": {"docker.io": [mirror]},
               "output_limit_bytes": int(limit)}, f, indent=2)
EOF
    BOXERD_TEST_MARK=$MARK "$BOXERD" --config "$WORK/boxerd.json" >>"$WORK/boxerd.log" 2>&1 &
    BOXERD_PID=$!
    URL=http://127.0.0.1:$port
    deadline=$((SECONDS + 30))
    while ((SECONDS < deadline)) && alive "$BOXERD_PID" && ! healthy "$URL"; do
        sleep 0.1
    done
    healthy "$URL" && break
    if alive "$BOXERD_PID"; then
        fail "boxerd is running but GET /healthz does not answer {\"ok\": true} within 30 s"
        finish
    fi
    wait "$BOXERD_PID"
    BOXERD_PID=""
    grep -qi 'in use' "$WORK/boxerd.log" || break
done
if [[ -z $BOXERD_PID ]]; then
    fail "boxerd starts (log below)"
    finish
fi
pass "boxerd answers GET /healthz on $URL (output_limit_bytes $OUTPUT_LIMIT)"

# --- the SDK, installed offline ------------------------------------------------------------------
VENV=$WORK/venv
check "a venv with Debian's packages: $PY -m venv --system-site-packages" \
    "$PY" -m venv --system-site-packages "$VENV"
# No index, no cache, no user configuration: what is not installed from Debian is an error.
export PIP_CONFIG_FILE=/dev/null PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 PIP_NO_CACHE_DIR=1
if "$VENV/bin/python" -m pip install -q --no-index -e "${SDK}[dev]" >"$WORK/pip.log" 2>&1; then
    pass "pip install --no-index -e sdk/python[dev] (offline)"
else
    fail "pip install --no-index -e sdk/python[dev] (offline):"
    sed 's/^/    /' "$WORK/pip.log"
    finish
fi
# Outside the source tree, so that the import comes from the installation.
where=$(cd "$WORK" && "$VENV/bin/python" -c 'import boxer, httpx; print(boxer.__file__, boxer.__version__, httpx.__file__)')
check "the venv imports boxer from sdk/python (editable) and Debian's httpx: $where" \
    bash -c '[[ $1 == "$2/boxer/__init__.py "*" /usr/lib/python3/dist-packages/httpx/"* ]]' _ "$where" "$SDK"
cat >"$WORK/metadata.py" <<'EOF'
from importlib.metadata import metadata
m = metadata("boxer-sdk")
requires = m.get_all("Requires-Dist") or []
assert m["Requires-Python"] == ">=3.9", m["Requires-Python"]
assert "httpx>=0.23" in [r.replace(" ", "").replace("(", "").replace(")", "") for r in requires], requires
print(m["Name"], m["Version"], "requires", ", ".join(requires))
EOF
meta=$(cd "$WORK" && "$VENV/bin/python" metadata.py 2>&1)
check "... its metadata: $meta" bash -c '[[ $1 == "boxer-sdk "* ]]' _ "$meta"

# --- the suite -----------------------------------------------------------------------------------
# pytest's temporary directories stay under $WORK, no cache or bytecode in the source tree, and
# loopback never goes through a proxy.
export PYTHONDONTWRITEBYTECODE=1 NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost
pytest_args=(-p no:cacheprovider --basetemp "$WORK/pytest" "$SDK/tests")

# all_skipped OUTPUT: pytest -q -rs skipped every test, for want of BOXER_URL, and did nothing else.
all_skipped() {
    local last=${1##*$'\n'}
    [[ $1 == *"SKIPPED "*"BOXER_URL is not set"* && $last =~ ^[0-9]+\ skipped\ in\  ]]
}
out=$(cd "$WORK" && env -u BOXER_URL "$VENV/bin/python" -m pytest -q -rs "${pytest_args[@]}" 2>&1)
check "without BOXER_URL every test is skipped, saying why: ${out##*$'\n'}" all_skipped "$out"

start=$SECONDS
(cd "$SRC" && BOXER_URL=$URL "$VENV/bin/python" -m pytest -q -rfEs --junitxml "$WORK/junit.xml" "${pytest_args[@]}") \
    >"$WORK/pytest.log" 2>&1
rc=$?
if ((rc == 0)); then
    tail -n 3 "$WORK/pytest.log" | sed 's/^/    /'
else
    head -n 600 "$WORK/pytest.log" | sed 's/^/    /'
fi
counts=$("$PY" - "$WORK/junit.xml" <<'EOF'
import sys, xml.etree.ElementTree as ET
try:
    root = ET.parse(sys.argv[1]).getroot()
except Exception as e:
    print(f"no junit report ({e})")
    sys.exit(0)
suite = root if root.tag == "testsuite" else root.find("testsuite")
print(" ".join(f"{k}={suite.get(k)}" for k in ("tests", "failures", "errors", "skipped")))
EOF
)
check "the SDK's pytest suite passes against boxerd ($counts, $((SECONDS - start)) s)" [ "$rc" -eq 0 ]
check "... it ran tests, and skipped none" bash -c '[[ $1 =~ tests=([0-9]+) && ${BASH_REMATCH[1]} -gt 0 && $1 == *" skipped=0"* ]]' _ "$counts"
check "boxerd is still healthy after the suite" healthy "$URL"

# --- stop, nothing left --------------------------------------------------------------------------
kill -TERM "$BOXERD_PID"
exited_within "$BOXERD_PID" 60 || kill -KILL "$BOXERD_PID"
wait "$BOXERD_PID"
stop_rc=$?
BOXERD_PID=""
check "SIGTERM stops boxerd: exit status 0 ($stop_rc)" [ "$stop_rc" -eq 0 ]
check "no boxer-shim or runsc process of it is left" no_procs_left
check "its home/run is empty" run_dir_empty
check "no mount under its home is left" no_mounts_left
check "no sanitizer report from boxerd or its shims" no_sanitizer_reports "$WORK/san" "$WORK/boxerd.log"
finish
