#!/usr/bin/env bash
# The Boxer REST API end to end: a real boxerd (started here, on a free loopback port), the real
# boxer-shim and runsc, images from a local registry through the docker.io mirror; requests made
# with curl (the seeds' commands verbatim, base URL substituted) and answers judged with Debian's
# /usr/bin/python3 (json.loads; integers must be ints).
#
#   1. every example of the seeds (quick start, file workflow, persist, the SDK's languages,
#      files and limits), config defaults and per-request overrides, and CONTRACT's run fields
#   2. each status code with its real trigger: 400, 404, 408, 413, 500, 503, 507
#   3. hostile requests: bodies too big, too deep, not UTF-8, with NUL; path traversal; symlinks
#      and a FIFO in /output; non-UTF-8 output; many headers; stalled clients; a client that
#      goes away
#   4. containment: memory, an infinite loop, an output flood, a fork bomb
#   5. DELETE /files, /swagger, /openapi.json
#   6. 8 concurrent runs
#   7. SIGTERM with a run in flight, then nothing left behind (processes, run dirs, mounts)
#
# Until httpd/ builds boxerd the test SKIPs (exit 77).
# shellcheck disable=SC2317 # functions that run through trap and check() are reachable
# shellcheck disable=SC2016 # '$1' in bash -c and '$FOO' in requests expand later, on purpose
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BOXERD=$BUILD/httpd/boxerd
SHIM=$BUILD/shim/boxer-shim
PY=/usr/bin/python3 # Debian's: a pyenv python3 may come first in PATH
[[ -x $BOXERD ]] || skip "boxerd is not built"
[[ -x $SHIM ]] || { echo "FAIL: boxer-shim is not built ($SHIM)"; exit 1; }
[[ $(id -u) -eq 0 ]] || skip "needs root (runsc, cgroups, overlay mounts)"
for t in runsc docker-registry skopeo curl; do
    command -v "$t" >/dev/null || skip "$t is not installed"
done
[[ -x $PY ]] || skip "/usr/bin/python3 is not installed"
export BOXER_SHIM=$SHIM

# Limits of the main instance: small, so that 413 and 507 are cheap to reach.
OUTPUT_LIMIT=65536
UPLOAD_LIMIT=262144
MIB=1048576

R=$WORK/replies # one reply per name: NAME.status, NAME.hdr, NAME.body
CLIENT=$WORK/client
mkdir -p "$R" "$CLIENT"
# runsc opens paths under home after dropping privileges: the directories above must be
# traversable (mktemp makes them 0700).
chmod 0711 "$WORK"
# Unix socket paths under home/run/<exec_id>/ must stay under 107 bytes, and an exec_id alone is
# 42: when $WORK is deep (hack/test.sh nests it), homes go in a short directory of their own.
if ((${#WORK} <= 30)); then
    HOMES=$WORK
else
    HOMES=$(mktemp -d /tmp/bxd.XXXXXX) && chmod 0711 "$HOMES"
fi
MARK=boxerd-test.$$.$RANDOM # in the environment of each boxerd, and so of what it starts
sanitizer_logs_to "$WORK/san" # boxerd's and its shims' reports (lib.sh)

# --- the reply checker ---------------------------------------------------------------------------
# expect NAME EXPR: the Python expression EXPR holds for reply NAME. In scope: s (the status, an
# int, None for a verbatim seed command whose status was not recorded), raw (the body's bytes),
# b (json.loads of the body; None if it is not JSON), h (the last response's headers, lower-case
# names), ct (its media type), msg (b["error"] or ""), and:
#   result(stdout, exit_code, stderr)  a 200 run reply of the CONTRACT's shape, with these values
#                                      (None: any)
#   error(status)                      a JSON {"error": "<non-empty>"} with that status
#   exec_id_ok()                       b["exec_id"] is boxer-<uuid4>
#   is_int(x)                          a JSON integer (not 312.0, not true)
# Prints the reply when EXPR does not hold.
cat >"$WORK/expect.py" <<'EOF'
import json, re, sys

d, name, expr = sys.argv[1:4]


def read(ext):
    try:
        with open(f"{d}/{name}.{ext}", "rb") as f:
            return f.read()
    except FileNotFoundError:
        return b""


def no_constants(c):
    raise ValueError(f"{c} is not JSON")


raw = read("body")
st = read("status").decode().strip()
s = int(st) if st.isdigit() else None
h = {}
for line in read("hdr").decode("latin-1").splitlines():
    if line.startswith("HTTP/"):
        h = {}  # after "100 Continue" or a redirect, keep the final response's headers
    elif ":" in line:
        k, v = line.split(":", 1)
        h[k.strip().lower()] = v.strip()
ct = h.get("content-type", "").split(";")[0].strip().lower()
try:
    b = json.loads(raw, parse_constant=no_constants)
except (ValueError, UnicodeDecodeError):
    b = None
msg = b.get("error", "") if isinstance(b, dict) and isinstance(b.get("error"), str) else ""
EXEC_ID = re.compile(r"boxer-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


def is_int(x):
    return type(x) is int


def exec_id_ok():
    return isinstance(b, dict) and isinstance(b.get("exec_id"), str) and bool(EXEC_ID.fullmatch(b["exec_id"]))


def json_reply():
    return not h or ct == "application/json"


def error(status=None):
    return (status is None or s == status) and msg.strip() != "" and json_reply()


def result(stdout=None, exit_code=None, stderr=None):
    if s not in (None, 200) or not isinstance(b, dict) or not json_reply():
        return False
    if not (exec_id_ok() and is_int(b.get("exit_code")) and is_int(b.get("wall_ms"))
            and b["wall_ms"] >= 0 and isinstance(b.get("stdout"), str) and isinstance(b.get("stderr"), str)):
        return False
    return ((stdout is None or b["stdout"] == stdout) and (exit_code is None or b["exit_code"] == exit_code)
            and (stderr is None or b["stderr"] == stderr))


try:
    ok = eval(expr)
except Exception as e:
    ok = False
    print(f"    ({type(e).__name__}: {e})")
if not ok:
    print(f"    got HTTP {s} {ct or '-'}: {raw[:400]!r}{' ...' if len(raw) > 400 else ''}")
sys.exit(0 if ok else 1)
EOF
expect() { "$PY" "$WORK/expect.py" "$R" "$1" "$2"; }
# field NAME KEY: b[KEY] of reply NAME (empty when absent).
field() {
    "$PY" -c 'import json,sys
try: print(json.load(open(sys.argv[1], "rb")).get(sys.argv[2], ""))
except Exception: pass' "$R/$1.body" "$2"
}

# call NAME CURL_ARGS...: one request, its reply kept as NAME (status 000: no HTTP answer).
call() {
    local name=$1
    shift
    curl -sS -m 120 -o "$R/$name.body" -D "$R/$name.hdr" -w '%{http_code}' "$@" \
        >"$R/$name.status" 2>"$R/$name.err"
}
# run_json NAME URL JSON [CURL_ARGS...]: POST URL/run with that body.
run_json() {
    local name=$1 url=$2 body=$3
    shift 3
    call "$name" "$@" "$url/run" -H 'Content-Type: application/json' --data-binary "$body"
}
# keep NAME: stdin (the output of a verbatim seed command) becomes reply NAME, status unknown.
keep() {
    cat >"$R/$1.body"
    : >"$R/$1.status"
    : >"$R/$1.hdr"
}
now_ms() { echo $(($(date +%s%N) / 1000000)); }
status_of() { cat "$R/$1.status"; }

# healthy URL: GET /healthz answers 200 {"ok": true} within 5 s.
healthy() {
    call health -m 5 "$1/healthz" && expect health 's == 200 and isinstance(b, dict) and b.get("ok") is True' >/dev/null
}
# procs_of INSTANCE: what an instance started that is still there (lib.sh boxer_procs).
procs_of() { boxer_procs "$HOMES/$1" "$MARK.$1"; }
# no_procs_of INSTANCE: none, within 10 s; else what boxerd logged about those runs.
no_procs_of() {
    local left
    no_boxer_procs "$HOMES/$1" "$MARK.$1" && return 0
    left=$(procs_of "$1")
    grep -oE 'boxer-[0-9a-f-]{36}' <<<"$left" | sort -u | while read -r id; do
        grep -F "$id" "$WORK/$1.log" | tail -5 | sed 's/^/    log: /'
    done
    return 1
}
# run_dir_empty INSTANCE [SECS]: home/run holds nothing (waiting up to SECS for it).
run_dir_empty() { dir_empty "$HOMES/$1/run" "${2:-0}"; }
# run_alive INSTANCE: a run of its is still going: a shim listening on a socket under its home
# (a spare has none) and a runsc started with a --root there (given 10 s: the shim's socket
# can come before runsc's exec).
run_alive() {
    local home=$HOMES/$1
    for _ in $(seq 100); do
        ss -xlH 2>/dev/null | grep -qF "$home/run/" &&
            ps -eo args= | grep -v grep | grep -q -- "^runsc --root=$home/run/" && return 0
        sleep 0.1
    done
    ss -xlH 2>/dev/null | grep -F "$home/run/" | sed 's/^/    socket: /'
    ps -eo pid=,args= | grep -F -- "$home/" | grep -v grep | cut -c1-150 | sed 's/^/    proc: /'
    return 1
}
no_mounts_of() { no_mounts_under "$HOMES/$1"; }

# --- starting and stopping boxerd ----------------------------------------------------------------
_BOXERDS=()
# _forget ARRAY PID: a reaped PID leaves the list the cleanup signals (its number may be reused).
_forget() {
    local -n list=$1
    local kept=() p
    for p in "${list[@]}"; do [[ $p == "$2" ]] || kept+=("$p"); done
    list=("${kept[@]}")
}
free_port() {
    "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# start_boxerd NAME EXTRA_JSON: boxerd with home $HOMES/NAME and a config of its own (listen
# address, the docker.io mirror, and EXTRA_JSON's keys); sets NAME_PID, NAME_URL, NAME_PORT once
# GET /healthz answers {"ok": true} (at most 30 s). A port taken meanwhile: another port.
start_boxerd() {
    local name=$1 extra=$2 home=$HOMES/$1 cfg=$WORK/$1.json port pid url deadline
    mkdir -p "$home" && chmod 0711 "$home"
    for _ in 1 2 3; do
        port=$(free_port)
        "$PY" - "$cfg" "$home" "127.0.0.1:$port" "http://$REG_ADDR" "$extra" <<'EOF' || return 1
import json, sys
path, home, addr, mirror, extra = sys.argv[1:]
c = {"home": home, "listen_addr": addr, "registry_mirrors": {"docker.io": [mirror]}}
c.update(json.loads(extra))
with open(path, "w") as f:
    json.dump(c, f, indent=2)
EOF
        BOXERD_TEST_MARK=$MARK.$name "$BOXERD" --config "$cfg" >>"$WORK/$name.log" 2>&1 &
        pid=$!
        _BOXERDS+=("$pid")
        url=http://127.0.0.1:$port
        deadline=$((SECONDS + 30))
        while ((SECONDS < deadline)) && alive "$pid" && ! healthy "$url"; do
            sleep 0.1
        done
        if healthy "$url"; then
            printf -v "${name}_PID" '%s' "$pid"
            printf -v "${name}_URL" '%s' "$url"
            printf -v "${name}_PORT" '%s' "$port"
            return 0
        fi
        if alive "$pid"; then
            echo "    boxerd is running but not ready after 30 s; log:"
            tail -20 "$WORK/$name.log" | sed 's/^/    /'
            return 1
        fi
        wait "$pid"
        _forget _BOXERDS "$pid"
        grep -qi 'in use' "$WORK/$name.log" || break
    done
    echo "    boxerd exited; log:"
    tail -20 "$WORK/$name.log" | sed 's/^/    /'
    return 1
}
# stop_boxerd NAME SECS: SIGTERM; sets stop_rc (boxerd's exit status) and stop_ms; SIGKILL
# (stop_rc 137) when it is still there after SECS.
stop_boxerd() {
    local pid_var=${1}_PID start
    local pid=${!pid_var}
    start=$(now_ms)
    kill -TERM "$pid"
    exited_within "$pid" "$2" || kill -KILL "$pid"
    wait "$pid"
    stop_rc=$?
    stop_ms=$(($(now_ms) - start))
    _forget _BOXERDS "$pid"
}
# On any exit: boxerds still running get TERM (KILL after 30 s), then what they left gets TERM,
# and mounts under our homes are detached, so that lib.sh can remove the work directory.
_boxerd_cleanup() {
    local pid inst left
    for pid in "${_BOXERDS[@]}"; do
        if alive "$pid"; then
            kill -TERM "$pid" 2>/dev/null
            exited_within "$pid" 30 || kill -KILL "$pid" 2>/dev/null
            wait "$pid" 2>/dev/null
        fi
    done
    for inst in A B; do
        left=$(procs_of "$inst" | cut -d' ' -f1)
        for pid in $left; do kill -TERM "$pid" 2>/dev/null; done
    done
    if ((FAILS > 0)); then
        for inst in A B; do
            [[ -s $WORK/$inst.log ]] || continue
            echo "--- the last lines of boxerd $inst's log"
            tail -40 "$WORK/$inst.log"
        done
    fi
    grep -F " $HOMES/" /proc/mounts | cut -d' ' -f2 | sort -r | while read -r m; do
        umount -l "$m" 2>/dev/null
    done
    [[ $HOMES != "$WORK" ]] && rm -rf "$HOMES"
}
trap '_boxerd_cleanup; _cleanup' EXIT

# --- start-up errors: a bad configuration stops boxerd with a message naming it ----------------
mkdir -p "$HOMES/bad" && chmod 0711 "$HOMES/bad"
printf '{"home": "%s",\n "listen_addr": "127.0.0.1:1",\n "output_limit_bytes": ten}\n' "$HOMES/bad" >"$WORK/bad.json"
timeout 30 "$BOXERD" --config "$WORK/bad.json" >"$WORK/bad.out" 2>&1
rc=$?
check "an invalid configuration stops boxerd at start-up (exit $rc) naming the file and the line ($(tail -1 "$WORK/bad.out"))" \
    bash -c '[[ $1 -eq 1 ]] && grep -qF -- "$2" "$3" && grep -q "line 3" "$3"' _ "$rc" "$WORK/bad.json" "$WORK/bad.out"
printf '{"home": "%s", "listen_addr": "nowhere"}\n' "$HOMES/bad" >"$WORK/bad2.json"
timeout 30 "$BOXERD" --config "$WORK/bad2.json" >"$WORK/bad2.out" 2>&1
rc=$?
check "an invalid listen_addr stops boxerd (exit $rc): $(tail -1 "$WORK/bad2.out")" \
    bash -c '[[ $1 -eq 1 ]] && grep -q "listen_addr" "$2"' _ "$rc" "$WORK/bad2.out"
printf '{"home": "%s", "output_limit_bytes": "ten"}\n' "$HOMES/bad" >"$WORK/bad3.json"
timeout 30 "$BOXERD" --config "$WORK/bad3.json" >"$WORK/bad3.out" 2>&1
rc=$?
check "a field of the wrong type stops boxerd (exit $rc), naming the file and the field" \
    bash -c '[[ $1 -eq 1 ]] && grep -qF -- "$2" "$3" && grep -q "output_limit_bytes" "$3"' _ "$rc" "$WORK/bad3.json" "$WORK/bad3.out"

# --- set-up --------------------------------------------------------------------------------------
start_registry REG || { echo "FAIL: cannot start a registry"; exit 1; }
"$ROOT/hack/test-images.sh" push "$REG_ADDR" busybox python node perl >/dev/null ||
    { echo "FAIL: cannot push the test images"; exit 1; }

# Instance A serves everything but the queue: its defaults and maximum limits are checked below.
A_CONFIG=$(printf '{"output_limit_bytes": %d, "upload_limit_bytes": %d,
  "defaults": {"nofile": 300, "wall_clock_secs": 60},
  "max_limits": {"memory_mb": 512, "wall_clock_secs": 120, "pids_limit": 256, "nofile": 1024}}' \
    "$OUTPUT_LIMIT" "$UPLOAD_LIMIT")
if ! start_boxerd A "$A_CONFIG"; then
    echo "FAIL: boxerd does not become ready (GET /healthz answering {\"ok\": true}) within 30 s"
    exit 1
fi
BASE=$A_URL
pass "boxerd starts with --config and GET /healthz answers {\"ok\": true}"
check "GET /healthz is application/json" expect health 'ct == "application/json"'

# =================================================================================================
# 1. The seeds' examples
# =================================================================================================
# Seed 000's quick start, verbatim. The first run pulls python through the mirror.
(cd "$CLIENT" && timeout 300 curl -s "$BASE/run" \
-H 'Content-Type: application/json' \
-d '{
"image": "python:3.12-slim",
"cmd": ["python3", "-c", "print(42)"]
}') | keep qs
check "quick start: python:3.12-slim print(42) answers stdout \"42\\n\", stderr \"\", exit_code 0" \
    expect qs 'result("42\n", 0, "")'
check "... its exec_id is boxer-<uuid4> ($(field qs exec_id))" expect qs 'exec_id_ok()'
check "... exit_code and wall_ms are JSON integers (wall_ms $(field qs wall_ms))" \
    expect qs 'is_int(b["exit_code"]) and is_int(b["wall_ms"])'
# boxerd keeps one `boxer-shim spare` started ahead of the next run (shim/spare.c); the runs
# above took one each and a new one was started after each.
spare_pids() { ps --ppid "$1" -o pid=,args= | awk '$NF == "spare" && $(NF-1) ~ /boxer-shim$/ {print $1}'; }
one_spare() {
    for _ in $(seq 50); do
        [[ $(spare_pids "$1" | wc -l) == 1 ]] && return 0
        sleep 0.1
    done
    return 1
}
check "boxerd keeps one spare shim for the next run" one_spare "$A_PID"
# A spare that died before it was needed (killed here) is not used: the run starts its own
# shim, and a new spare is started after it.
dead_spare=$(spare_pids "$A_PID" | head -1)
[[ -n $dead_spare ]] && kill -KILL "$dead_spare"
run_json spare_dead "$BASE" '{"image":"busybox","cmd":["echo","after"]}'
check "a run after its spare was killed works" expect spare_dead 'result("after\n", 0)'
check "... boxerd says it started a shim instead of that spare" grep -qE "the spare shim could not be used.* pid=$dead_spare( |$)" "$WORK/A.log"
# new_spare BOXERD_PID OLD: one spare, OLD reaped (not even a zombie child left).
new_spare() { one_spare "$1" && ! ps --ppid "$1" -o pid= | grep -qw "$2"; }
check "... and keeps a new spare, the dead one reaped (pid $dead_spare)" new_spare "$A_PID" "$dead_spare"
# The spare a run takes is that run's shim, with no fork of its own: boxerd's child, in a
# session of its own (a restart of boxerd does not end it), shown by `ps` as `start`; boxerd
# reaps it once it has cleaned up after its Delete.
run_json inflight "$BASE" '{"image":"busybox","cmd":["sh","-c","sleep 3; echo done"]}' -m 60 &
inflight_pid=$!
run_shim_child() {
    for _ in $(seq 50); do
        ps --ppid "$1" -o pid=,sid=,args= |
            awk '$1 == $2 && $NF == "start" && $(NF-1) ~ /boxer-shim$/ {f = 1} END {exit !f}' &&
            return 0
        sleep 0.1
    done
    return 1
}
check "a run's shim is boxerd's child (the spare it took), leading a session of its own" \
    run_shim_child "$A_PID"
wait "$inflight_pid"
check "... its run answers" expect inflight 'result("done\n", 0)'
no_zombie_child() {
    for _ in $(seq 50); do
        ps --ppid "$1" -o stat= | grep -q Z || return 0
        sleep 0.1
    done
    ps --ppid "$1" -o pid=,stat=,args=
    return 1
}
check "... and once it is done, boxerd has reaped it (no zombie child)" no_zombie_child "$A_PID"
# Seed 001's quick test, verbatim.
(cd "$CLIENT" && timeout 120 curl -s "$BASE/run" \
-H 'Content-Type: application/json' \
-d '{"image":"python:3.12-slim","cmd":["python3","-c","print(42)"]}') | keep qt
check "quick test (getting started): the one-line form answers the same" expect qt 'result("42\n", 0)'
run_json qs2 "$BASE" '{"image":"python:3.12-slim","cmd":["python3","-c","print(42)"]}'
check "... with HTTP 200 and Content-Type application/json" expect qs2 's == 200 and ct == "application/json"'
check "... and a new exec_id for each run" \
    bash -c '[[ -n $1 && $1 != "$2" ]]' _ "$(field qs exec_id)" "$(field qs2 exec_id)"

# Seed 000's file workflow, verbatim (curl runs where script.py is).
printf 'import os\nprint("hello from", os.path.abspath(__file__))\n' >"$CLIENT/script.py"
(cd "$CLIENT" && curl -s "$BASE/files" \
-F 'file=@script.py' \
-F 'path=workspace/script.py') | keep up
check "file workflow: the upload answers {\"path\": \"workspace/script.py\"}" \
    expect up 'isinstance(b, dict) and b.get("path") == "workspace/script.py"'
(cd "$CLIENT" && timeout 120 curl -s "$BASE/run" \
-H 'Content-Type: application/json' \
-d '{
"image": "python:3.12-slim",
"cmd": ["python3", "/workspace/script.py"],
"files": ["workspace/script.py"]
}') | keep wf
check "... the uploaded script runs at /workspace/script.py" \
    expect wf 'result("hello from /workspace/script.py\n", 0)'
run_json ro "$BASE" '{"image":"python:3.12-slim","files":["workspace/script.py"],
  "cmd":["python3","-c","open(\"/workspace/script.py\", \"a\").write(\"tampered\")"]}'
check "... mounted read-only: the run cannot write to it" \
    expect ro 'result() and b["exit_code"] != 0 and ("Read-only" in b["stderr"] or "Permission denied" in b["stderr"])'
call ro-get "$BASE/files?path=workspace/script.py"
check "... and GET /files gives back the uploaded bytes, unchanged" cmp -s "$R/ro-get.body" "$CLIENT/script.py"

# The Python SDK's form (seed 004): upload_file("script.py") stores at script.py, mounted at
# /script.py.
call up2 "$BASE/files" -F "file=@$CLIENT/script.py" -F 'path=script.py'
run_json sdk1 "$BASE" '{"image":"python:3.12-slim","cmd":["python3","/script.py"],"files":["script.py"]}'
check "SDK example: a file uploaded at script.py runs at /script.py" \
    expect sdk1 'result("hello from /script.py\n", 0)'

# persist: /output/result.txt comes back at output/<exec_id>/result.txt.
run_json p1 "$BASE" '{"image":"python:3.12-slim","cmd":["sh","-c","echo result 42 > /output/result.txt"],"persist":true}'
check "persist: true: the run writing /output/result.txt answers 200, exit_code 0" expect p1 'result("", 0)'
id=$(field p1 exec_id)
call p1-get "$BASE/files?path=output/$id/result.txt"
check "... GET /files?path=output/<exec_id>/result.txt gives its bytes" expect p1-get 's == 200 and raw == b"result 42\n"'
check "... as application/octet-stream" expect p1-get 'ct == "application/octet-stream"'
run_json p2 "$BASE" '{"image":"busybox","persist":true,
  "cmd":["sh","-c","mkdir -p /output/a/b && echo deep > /output/a/b/c.txt && echo top > /output/top.txt"]}'
check "persist with subdirectories: the run answers 200, exit_code 0" expect p2 'result("", 0)'
id=$(field p2 exec_id)
call p2-get "$BASE/files?path=output/$id/a/b/c.txt"
check "persist keeps subdirectories: output/<exec_id>/a/b/c.txt" expect p2-get 's == 200 and raw == b"deep\n"'
call p2-top "$BASE/files?path=output/$id/top.txt"
check "... and the top-level file beside them" expect p2-top 's == 200 and raw == b"top\n"'
run_json p3 "$BASE" '{"image":"busybox","cmd":["sh","-c","echo result 42 > /output/result.txt"]}'
id=$(field p3 exec_id)
check "without persist the same run answers 200" expect p3 'result("", 0)'
call p3-get "$BASE/files?path=output/$id/result.txt"
check "... and nothing of /output is stored (404 file not found)" expect p3-get 'error(404) and msg == "file not found"'
run_json p4 "$BASE" '{"image":"busybox","cmd":["sh","-c","test -d /output && test -w /output && echo writable"]}'
check "/output exists and is writable by the sandboxed user before the command starts" \
    expect p4 'result("writable\n", 0)'

# The SDK's "Download Output Files" example.
cat >"$CLIENT/compute.py" <<'EOF'
import os, json
os.makedirs('/output', exist_ok=True)
with open('/output/result.json', 'w') as f:
    json.dump({'message': 'hello world', 'value': 42}, f)
EOF
call up3 "$BASE/files" -F "file=@$CLIENT/compute.py" -F 'path=compute.py'
run_json sdk2 "$BASE" '{"image":"python:3.12-slim","cmd":["python3","/compute.py"],"files":["compute.py"],"persist":true}'
id=$(field sdk2 exec_id)
call sdk2-get "$BASE/files?path=output/$id/result.json"
check "SDK example: compute.py with persist gives output/<exec_id>/result.json" \
    expect sdk2-get 's == 200 and raw == b"{\"message\": \"hello world\", \"value\": 42}"'

# The SDK's languages (seed 004). The first node and perl runs pull their images.
run_json lang-py "$BASE" '{"image":"python:3.12-slim","cmd":["python3","-c","print('"'hello world'"')"]}'
check "python:3.12-slim python3 -c prints hello world" expect lang-py 'result("hello world\n", 0)'
run_json lang-node "$BASE" '{"image":"node:20-slim","cmd":["node","-e","console.log('"'hello world'"')"]}' -m 300
check "node:20-slim node -e prints hello world" expect lang-node 'result("hello world\n", 0)'
run_json lang-perl "$BASE" '{"image":"perl:5.38-slim","cmd":["perl","-e","print '"'hello world\n'"'"]}' -m 300
check "perl:5.38-slim perl -e prints hello world" expect lang-perl 'result("hello world\n", 0)'
run_json sdk-limits "$BASE" '{"image":"python:3.12-slim","cmd":["python3","-c","print('"'done'"')"],
  "limits":{"cpu_cores":0.5,"memory_mb":128,"wall_clock_secs":10}}'
check "SDK example: limits cpu_cores 0.5, memory_mb 128, wall_clock_secs 10 run print('done')" \
    expect sdk-limits 'result("done\n", 0)'

# The configuration's defaults, and per-request limits over them (nofile is visible inside).
run_json nf1 "$BASE" '{"image":"busybox","cmd":["sh","-c","ulimit -n"]}'
check "config defaults.nofile 300 applies to a run without limits (ulimit -n: 300)" expect nf1 'result("300\n", 0)'
run_json nf2 "$BASE" '{"image":"busybox","cmd":["sh","-c","ulimit -n"],"limits":{"nofile":150}}'
check "limits.nofile 150 overrides it (ulimit -n: 150)" expect nf2 'result("150\n", 0)'
run_json nf3 "$BASE" '{"image":"busybox","cmd":["sh","-c","ulimit -n"],
  "limits":{"nofile":0,"memory_mb":0,"wall_clock_secs":0,"pids_limit":0,"cpu_cores":0}}'
check "limits of 0 mean the configured defaults (ulimit -n: 300)" expect nf3 'result("300\n", 0)'
run_json max-ok "$BASE" '{"image":"busybox","cmd":["echo","ok"],"limits":{"memory_mb":512,"wall_clock_secs":120}}'
check "limits exactly at max_limits are accepted" expect max-ok 'result("ok\n", 0)'

# The other fields of POST /run (CONTRACT).
run_json ex3 "$BASE" '{"image":"busybox","cmd":["sh","-c","echo out; echo err >&2; exit 3"]}'
check "a failing command is a 200 with its exit_code (3), stdout and stderr apart" \
    expect ex3 'result("out\n", 3, "err\n")'
run_json sig "$BASE" '{"image":"busybox","cmd":["sh","-c","kill -TERM $$"]}'
check "a command ended by SIGTERM has exit_code 143 (128 + signal)" expect sig 'result(exit_code=143)'
run_json nocmd "$BASE" '{"image":"busybox","cmd":["/no/such/program"]}'
check "a program missing from the image: 200 with a non-zero exit_code, or an error" \
    expect nocmd 'result(exit_code=127) and b["stderr"] != ""'
run_json env "$BASE" '{"image":"busybox","cmd":["sh","-c","echo $FOO:$PATH"],"env":["FOO=bar"]}'
check "env FOO=bar is set, and PATH stays /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    expect env 'result("bar:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n", 0)'
run_json cwd0 "$BASE" '{"image":"busybox","cmd":["pwd"]}'
check "the working directory defaults to the image's WorkingDir (/)" expect cwd0 'result("/\n", 0)'
run_json cwd1 "$BASE" '{"image":"busybox","cmd":["pwd"],"cwd":"/tmp"}'
check "cwd /tmp is the working directory" expect cwd1 'result("/tmp\n", 0)'
run_json net0 "$BASE" '{"image":"busybox","cmd":["echo","ok"],"network":"none"}'
check "network \"none\" is accepted" expect net0 'result("ok\n", 0)'
run_json unk "$BASE" '{"image":"busybox","cmd":["echo","ok"],"no_such_field":{"x":[1,2]}}'
check "unknown fields are ignored" expect unk 'result("ok\n", 0)'

# =================================================================================================
# 2. Each status code
# =================================================================================================
# refused WHAT BODY: POST /run with BODY answers 400 with an error message.
refused() {
    printf '%s' "$2" >"$R/req.json"
    refused_file "$1" "$R/req.json"
}
refused_file() {
    call bad "$BASE/run" -H 'Content-Type: application/json' --data-binary "@$2"
    check "$1: 400 with an error message" expect bad 'error(400)'
}
refused "a body that is not JSON" 'image=busybox&cmd=echo'
refused "malformed JSON (truncated)" '{"image": "busybox", "cmd": ["echo"'
refused "an empty body" ''
refused "a JSON array instead of an object" '["busybox", "echo"]'
refused "a JSON null" 'null'
refused "a missing cmd" '{"image":"busybox"}'
refused "a missing image" '{"cmd":["echo","hi"]}'
refused "an empty image" '{"image":"","cmd":["echo","hi"]}'
refused "an empty cmd array" '{"image":"busybox","cmd":[]}'
refused "cmd as a string" '{"image":"busybox","cmd":"echo hi"}'
refused "cmd with a number" '{"image":"busybox","cmd":["echo",1]}'
refused "cmd with null" '{"image":"busybox","cmd":[null]}'
refused "image as a number" '{"image":42,"cmd":["echo","hi"]}'
refused "env as a string" '{"image":"busybox","cmd":["echo"],"env":"A=B"}'
refused "env as an object" '{"image":"busybox","cmd":["echo"],"env":{"A":"B"}}'
refused "env with a number" '{"image":"busybox","cmd":["echo"],"env":[1]}'
refused "cwd as a number" '{"image":"busybox","cmd":["echo"],"cwd":5}'
refused "a relative cwd" '{"image":"busybox","cmd":["echo"],"cwd":"tmp"}'
refused "limits as a string" '{"image":"busybox","cmd":["echo"],"limits":"big"}'
refused "limits as an array" '{"image":"busybox","cmd":["echo"],"limits":[64]}'
refused "limits.memory_mb as a string" '{"image":"busybox","cmd":["echo"],"limits":{"memory_mb":"64"}}'
refused "limits.memory_mb not an integer (1.5)" '{"image":"busybox","cmd":["echo"],"limits":{"memory_mb":1.5}}'
refused "limits.wall_clock_secs as a boolean" '{"image":"busybox","cmd":["echo"],"limits":{"wall_clock_secs":true}}'
refused "limits.pids_limit not an integer (2.5)" '{"image":"busybox","cmd":["echo"],"limits":{"pids_limit":2.5}}'
refused "limits.nofile as a string" '{"image":"busybox","cmd":["echo"],"limits":{"nofile":"256"}}'
refused "limits.cpu_cores as a string" '{"image":"busybox","cmd":["echo"],"limits":{"cpu_cores":"1"}}'
refused "files as a string" '{"image":"busybox","cmd":["echo"],"files":"workspace/script.py"}'
refused "files with a number" '{"image":"busybox","cmd":["echo"],"files":[1]}'
refused "persist as a string" '{"image":"busybox","cmd":["echo"],"persist":"true"}'
refused "persist as a number" '{"image":"busybox","cmd":["echo"],"persist":1}'
refused "network as a number" '{"image":"busybox","cmd":["echo"],"network":1}'
refused "network \"bridge\" (only none is supported)" '{"image":"busybox","cmd":["echo"],"network":"bridge"}'
refused "network \"host\"" '{"image":"busybox","cmd":["echo"],"network":"host"}'
for l in memory_mb wall_clock_secs pids_limit nofile; do
    refused "a negative limits.$l (-1)" "{\"image\":\"busybox\",\"cmd\":[\"echo\"],\"limits\":{\"$l\":-1}}"
done
refused "a negative limits.cpu_cores (-0.5)" '{"image":"busybox","cmd":["echo"],"limits":{"cpu_cores":-0.5}}'
# over max_limits: the message names the maximum
for lm in memory_mb:512 wall_clock_secs:120 pids_limit:256 nofile:1024; do
    l=${lm%:*} m=${lm#*:}
    run_json over "$BASE" "{\"image\":\"busybox\",\"cmd\":[\"echo\"],\"limits\":{\"$l\":$((m + 1))}}"
    check "limits.$l $((m + 1)), over max_limits.$l $m: 400 naming the maximum" \
        expect over "error(400) and \"$m\" in msg"
done
for ref in 'busybox:' 'busy box' 'library//busybox' 'busybox@sha256:1234' 'busybox:bad/tag'; do
    refused "the invalid image reference '$ref'" "{\"image\":\"$ref\",\"cmd\":[\"echo\"]}"
done
run_json nofile "$BASE" '{"image":"busybox","cmd":["echo"],"files":["workspace/nope.py"]}'
check "files naming an absent store path: 400 \"file not found: workspace/nope.py\"" \
    expect nofile 'error(400) and msg == "file not found: workspace/nope.py"'

# 404
call g404 "$BASE/files?path=nope/absent.txt"
check "GET /files of an absent path: 404 {\"error\": \"file not found\"}" \
    expect g404 'error(404) and msg == "file not found"'

# 408: the exec_id and the partial output come with it.
start=$(now_ms)
run_json t408 "$BASE" '{"image":"busybox","cmd":["sh","-c","echo partial; sleep 10"],"limits":{"wall_clock_secs":1}}'
ms=$(($(now_ms) - start))
check "wall_clock_secs 1 with sleep 10: 408 \"execution timed out after <N>ms\" ($(field t408 error), $ms ms)" \
    expect t408 'error(408) and msg == "execution timed out after 1000ms"'
check "... with the exec_id, and stdout and stderr as strings" \
    expect t408 'exec_id_ok() and isinstance(b.get("stdout"), str) and isinstance(b.get("stderr"), str)'
check "... answered before the command's own 10 s were up" [ "$ms" -lt 9500 ]
# A clock of 1 s can run out before a busy machine has started the sandbox: the partial output
# is checked with 3 s.
run_json t408b "$BASE" '{"image":"busybox","cmd":["sh","-c","echo partial; echo partial-err >&2; sleep 30"],"limits":{"wall_clock_secs":3}}'
check "wall_clock_secs 3 with sleep 30: 408 keeping the partial stdout \"partial\\n\" and stderr \"partial-err\\n\"" \
    expect t408b 'error(408) and exec_id_ok() and b.get("stdout") == "partial\n" and b.get("stderr") == "partial-err\n"'

# 413: uploads over upload_limit_bytes, JSON bodies over 1 MiB (exactly 1 MiB is fine).
head -c 100000 /dev/urandom >"$CLIENT/random.bin"
call upbin "$BASE/files" -F "file=@$CLIENT/random.bin" -F 'path=bin/random.bin'
call getbin "$BASE/files?path=bin/random.bin"
check "an upload under upload_limit_bytes (100000 random bytes) comes back byte for byte" \
    bash -c '[[ $(cat "$1") == 200 ]] && cmp -s "$2" "$3"' _ "$R/getbin.status" "$R/getbin.body" "$CLIENT/random.bin"
head -c $((UPLOAD_LIMIT + 1)) /dev/urandom >"$CLIENT/over.bin"
call up413 "$BASE/files" -F "file=@$CLIENT/over.bin" -F 'path=bin/over.bin'
check "an upload one byte over upload_limit_bytes ($UPLOAD_LIMIT): 413" expect up413 'error(413)'
call up413-get "$BASE/files?path=bin/over.bin"
check "... and nothing is stored" expect up413-get 'error(404)'
"$PY" -c 'import sys; sys.stdout.buffer.write(b"\x00" * 10_000_000)' >"$CLIENT/10mb.bin"
call up10 "$BASE/files" -F "file=@$CLIENT/10mb.bin" -F 'path=bin/10mb.bin'
check "a 10 MB upload: 413" expect up10 'error(413)'
check "... and the server is still healthy" healthy "$BASE"
# pad_body SIZE FILE: a valid run request of exactly SIZE bytes (an ignored field holds padding).
pad_body() {
    "$PY" - "$1" "$2" <<'EOF'
import sys
size, path = int(sys.argv[1]), sys.argv[2]
head, tail = b'{"image":"busybox","cmd":["echo","big"],"pad":"', b'"}'
with open(path, "wb") as f:
    f.write(head + b"a" * (size - len(head) - len(tail)) + tail)
EOF
}
pad_body $MIB "$CLIENT/1mib.json"
call b1m "$BASE/run" -H 'Content-Type: application/json' --data-binary "@$CLIENT/1mib.json"
check "a JSON body of exactly 1 MiB is accepted" expect b1m 'result("big\n", 0)'
pad_body $((MIB + 1)) "$CLIENT/1mib1.json"
call b1m1 "$BASE/run" -H 'Content-Type: application/json' --data-binary "@$CLIENT/1mib1.json"
check "a JSON body of 1 MiB + 1 byte: 413" expect b1m1 'error(413)'
pad_body $((2 * MIB)) "$CLIENT/2mib.json"
call bchunk "$BASE/run" -H 'Content-Type: application/json' -H 'Transfer-Encoding: chunked' \
    --data-binary "@$CLIENT/2mib.json"
check "a 2 MiB body sent chunked (no Content-Length): 413" expect bchunk 'error(413)'
pad_body 10000000 "$CLIENT/10mb.json"
call b10 "$BASE/run" -H 'Content-Type: application/json' --data-binary "@$CLIENT/10mb.json"
check "a 10 MB JSON body: 413" expect b10 'error(413)'
check "... and the server is still healthy" healthy "$BASE"

# 500: an image the registry does not have (named on the registry itself: a docker.io name
# missing from the mirror would fall through to Docker Hub).
run_json i500 "$BASE" "{\"image\":\"$REG_ADDR/library/no-such-image:1.0\",\"cmd\":[\"true\"]}"
check "an image missing from the registry: 500 \"image pull failed: ...\" ($(field i500 error))" \
    expect i500 'error(500) and msg.startswith("image pull failed: ") and len(msg) > len("image pull failed: ")'

# 507: the output limit, exactly and one byte over; stdout and stderr.
run_json o-exact "$BASE" "{\"image\":\"busybox\",\"cmd\":[\"sh\",\"-c\",\"yes | head -c $OUTPUT_LIMIT\"]}"
check "stdout of exactly output_limit_bytes ($OUTPUT_LIMIT): 200 with all of it" \
    expect o-exact "result(exit_code=0) and b['stdout'] == 'y\n' * ($OUTPUT_LIMIT // 2)"
run_json o-over "$BASE" "{\"image\":\"busybox\",\"cmd\":[\"sh\",\"-c\",\"yes | head -c $((OUTPUT_LIMIT + 1))\"]}"
check "one byte more: 507 \"output limit exceeded: limit=$OUTPUT_LIMIT bytes\"" \
    expect o-over "error(507) and msg == 'output limit exceeded: limit=$OUTPUT_LIMIT bytes'"
check "... with the exec_id and the first $OUTPUT_LIMIT bytes of stdout" \
    expect o-over "exec_id_ok() and b.get('stdout') == 'y\n' * ($OUTPUT_LIMIT // 2)"
run_json o-err "$BASE" '{"image":"busybox","cmd":["sh","-c","yes >&2"]}'
check "stderr over the limit: 507 too, with the first $OUTPUT_LIMIT bytes of stderr" \
    expect o-err "error(507) and exec_id_ok() and b.get('stderr') == 'y\n' * ($OUTPUT_LIMIT // 2)"

# =================================================================================================
# 3. Hostile requests
# =================================================================================================
"$PY" -c 'import sys; sys.stdout.write("[" * 100000)' >"$CLIENT/deep.json"
refused_file "100000 nested [ (unterminated)" "$CLIENT/deep.json"
"$PY" -c 'import sys; sys.stdout.write("[" * 100000 + "]" * 100000)' >"$CLIENT/deep2.json"
refused_file "100000 nested arrays (well formed, not a request)" "$CLIENT/deep2.json"
"$PY" -c 'import sys; sys.stdout.write("{\"image\":\"busybox\",\"cmd\":[\"echo\",\"deep\"],\"x\":" + "[" * 100000 + "]" * 100000 + "}")' >"$CLIENT/deep3.json"
call deep3 "$BASE/run" -H 'Content-Type: application/json' --data-binary "@$CLIENT/deep3.json"
check "100000 nested arrays in an ignored field: answered (200 or 400, $(status_of deep3))" \
    expect deep3 'result("deep\n", 0) or error(400)'
check "... and the server is still healthy" healthy "$BASE"
printf '{"image":"busybox","cmd":["echo","\xff\xfe"]}' >"$CLIENT/badutf8.json"
refused_file "invalid UTF-8 in cmd" "$CLIENT/badutf8.json"
printf '{"image":"busy\xc0\xafbox","cmd":["echo"]}' >"$CLIENT/badutf8-2.json"
refused_file "an overlong UTF-8 sequence in image" "$CLIENT/badutf8-2.json"
refused "a NUL byte in cmd (\\u0000)" '{"image":"busybox","cmd":["echo","a\u0000b"]}'
refused "a NUL byte as cmd[0]" '{"image":"busybox","cmd":["\u0000"]}'

# Traversal in files: refused before anything runs.
for p in '../etc/passwd' '/etc/passwd' 'workspace/../../x' '..' 'workspace/../../../etc/shadow'; do
    refused "files [\"$p\"] (outside the store)" "{\"image\":\"busybox\",\"cmd\":[\"cat\",\"/etc/passwd\"],\"files\":[\"$p\"]}"
done
# Traversal in POST /files: 400, and nothing lands outside the store.
echo "do not serve" >"$HOMES/sentinel"
for p in ../bx-escape a/../../bx-escape workspace/../../bx-escape ../../bx-escape.txt '..' '' \
    'a/../../../tmp/bx-escape'; do
    call upt "$BASE/files" -F "file=@$CLIENT/script.py" -F "path=$p"
    check "POST /files path '$p': 400" expect upt 'error(400)'
done
check "... and no file appeared outside the store" \
    bash -c '[[ -z $(find "$1" /tmp -maxdepth 3 -name "bx-escape*" -not -path "$1/A/files/*") ]]' _ "$HOMES"
call upabs "$BASE/files" -F "file=@$CLIENT/script.py" -F "path=$WORK/abs-escape.txt"
check "POST /files with an absolute host path: 400, or stored in the store ($(status_of upabs)), never at that host path" \
    bash -c '[[ ! -e $1 ]] && [[ $2 == 400 || $2 == 200 ]]' _ "$WORK/abs-escape.txt" "$(status_of upabs)"
call upnopath "$BASE/files" -F "file=@$CLIENT/script.py"
check "POST /files without a path field: 400" expect upnopath 'error(400)'
call upnofile "$BASE/files" -F 'path=workspace/nofile.txt'
check "POST /files without a file field: 400" expect upnofile 'error(400)'
call upjson "$BASE/files" -H 'Content-Type: application/json' --data-binary '{"path":"x","file":"y"}'
check "POST /files with a JSON body instead of multipart: 400" expect upjson 'error(400)'
printf 'v1' >"$CLIENT/v1.txt"
printf 'v2' >"$CLIENT/v2.txt"
call rep1 "$BASE/files" -F "file=@$CLIENT/v1.txt" -F 'path=rep/file.txt'
call rep2 "$BASE/files" -F "file=@$CLIENT/v2.txt" -F 'path=rep/file.txt'
call rep-get "$BASE/files?path=rep/file.txt"
check "uploading to an existing path replaces it" expect rep-get 's == 200 and raw == b"v2"'
# Traversal in GET /files: 400, never a host file.
for q in '../../sentinel' '../config.json' 'a/../../../sentinel' '%2e%2e/%2e%2e/sentinel' '..' \
    '../../../../../../etc/passwd' 'workspace/%2e%2e/%2e%2e/%2e%2e/sentinel'; do
    call gt "$BASE/files?path=$q"
    check "GET /files?path=$q: 400" expect gt 'error(400)'
done
call gabs "$BASE/files?path=/etc/passwd"
check "GET /files?path=/etc/passwd: 400 or 404 ($(status_of gabs)), never the host's /etc/passwd" \
    bash -c '[[ $1 == 400 || $1 == 404 ]] && ! cmp -s "$2" /etc/passwd' _ "$(status_of gabs)" "$R/gabs.body"
call gempty "$BASE/files?path="
check "GET /files?path= (empty): 400" expect gempty 'error(400)'
call gnone "$BASE/files"
check "GET /files without path: 400" expect gnone 'error(400)'
# A run's output is the run's: no upload under output/.
id=$(field p1 exec_id)
call upout "$BASE/files" -F "file=@$CLIENT/v1.txt" -F "path=output/$id/result.txt"
check "POST /files to output/<exec_id>/result.txt: 400" expect upout 'error(400)'
call upout-get "$BASE/files?path=output/$id/result.txt"
check "... and the persisted file is unchanged" expect upout-get 's == 200 and raw == b"result 42\n"'
call upout2 "$BASE/files" -F "file=@$CLIENT/v1.txt" -F 'path=output/new.txt'
check "POST /files to output/new.txt: 400" expect upout2 'error(400)'

# Symlinks in /output pointing at host files are not followed; a FIFO does not hang the copy.
echo "host secret $RANDOM$RANDOM" >"$WORK/host-secret.txt"
run_json sym "$BASE" "{\"image\":\"busybox\",\"persist\":true,\"cmd\":[\"sh\",\"-c\",
  \"echo kept > /output/regular.txt; ln -s /etc/passwd /output/leak; ln -s $WORK/host-secret.txt /output/secret; ln -s / /output/root; mkdir /output/d; ln -s /etc /output/d/etc\"]}"
check "a run leaving symlinks in /output with persist: 200" expect sym 'result(exit_code=0)'
id=$(field sym exec_id)
call sym-reg "$BASE/files?path=output/$id/regular.txt"
check "... its regular file is stored" expect sym-reg 's == 200 and raw == b"kept\n"'
for l in leak:/etc/passwd secret:$WORK/host-secret.txt root/etc/passwd:/etc/passwd d/etc/passwd:/etc/passwd; do
    call sym-get "$BASE/files?path=output/$id/${l%%:*}"
    check "... GET output/<exec_id>/${l%%:*} does not give the host's ${l#*:} ($(status_of sym-get))" \
        bash -c '[[ $1 == 404 || $1 == 400 ]] || ! cmp -s "$2" "$3"' _ "$(status_of sym-get)" "$R/sym-get.body" "${l#*:}"
done
check "... and the file store holds no symlink" bash -c '[[ -z $(find "$1" -type l 2>/dev/null) ]]' _ "$HOMES/A/files"
run_json fifo "$BASE" '{"image":"busybox","persist":true,"cmd":["sh","-c","mkfifo /output/fifo; echo ok > /output/ok.txt"]}' -m 60
check "a FIFO in /output with persist does not hang the run (200 within 60 s, $(status_of fifo))" expect fifo 'result(exit_code=0)'
call fifo-get "$BASE/files?path=output/$(field fifo exec_id)/ok.txt"
check "... and the regular file beside it is stored" expect fifo-get 's == 200 and raw == b"ok\n"'

# Output that is not UTF-8, or holds NUL, still gives valid JSON.
run_json nonutf "$BASE" '{"image":"busybox","cmd":["sh","-c","printf \"\\377\\376abc\\n\"; printf \"\\300err\\n\" >&2"]}'
check "non-UTF-8 stdout/stderr: valid JSON, bad bytes replaced by U+FFFD" \
    expect nonutf 'result(exit_code=0) and "\ufffd" in b["stdout"] and b["stdout"].endswith("abc\n") and "\ufffd" in b["stderr"] and b["stderr"].endswith("err\n") and not any(0xD800 <= ord(c) <= 0xDFFF for c in b["stdout"] + b["stderr"])'
run_json nul "$BASE" '{"image":"busybox","cmd":["sh","-c","printf \"a\\000b\\n\""]}'
check "NUL bytes in stdout come back as \\u0000, nothing cut" expect nul 'result("a\x00b\n", 0)'

# Many headers, and one huge header: answered (any status), and the server stays healthy.
filler=$(printf 'v%.0s' {1..40})
for i in $(seq 2000); do printf 'X-Filler-%d: %s\n' "$i" "$filler"; done >"$CLIENT/headers.txt"
call manyh -H "@$CLIENT/headers.txt" "$BASE/healthz"
check "a request with 2000 headers gets an HTTP answer ($(status_of manyh))" bash -c '[[ $1 != 000 ]]' _ "$(status_of manyh)"
{ printf 'X-Big: '; head -c 200000 /dev/zero | tr '\0' a; echo; } >"$CLIENT/bigheader.txt"
call bigh -H "@$CLIENT/bigheader.txt" "$BASE/healthz"
check "a 200 kB header gets an HTTP answer ($(status_of bigh))" bash -c '[[ $1 != 000 ]]' _ "$(status_of bigh)"
check "... and the server is still healthy" healthy "$BASE"

# Stalled clients (slowloris): 16 connections hold partial headers or partial bodies open while
# other clients are served.
"$PY" - "$A_PORT" "$WORK/stall.ready" <<'EOF' &
import socket, sys, time
port, ready = int(sys.argv[1]), sys.argv[2]
conns = []
for i in range(8):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b'POST /run HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n'
              b'Content-Length: 1000\r\n\r\n{"image": "busybox", ')
    conns.append(s)
for i in range(8):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
    conns.append(s)
open(ready, "w").write("ok")
time.sleep(120)
EOF
stall=$!
_PIDS+=("$stall")
for _ in $(seq 100); do
    [[ -s $WORK/stall.ready ]] && break
    sleep 0.1
done
check "16 stalled connections are open" test -s "$WORK/stall.ready"
start=$(now_ms)
check "... while they stall, GET /healthz answers within 5 s" healthy "$BASE"
run_json stall-run "$BASE" '{"image":"busybox","cmd":["echo","served"]}' -m 60
ms=$(($(now_ms) - start))
check "... and a run is served ($ms ms)" expect stall-run 'result("served\n", 0)'
kill -TERM "$stall" 2>/dev/null
wait "$stall" 2>/dev/null
_forget _PIDS "$stall"

# Unknown routes and methods: JSON errors.
call r404 "$BASE/no/such/route"
check "an unknown route: 404 with a JSON error" expect r404 'error(404)'
call m405 "$BASE/run"
check "GET /run: 404 or 405 with a JSON error ($(status_of m405))" expect m405 's in (404, 405) and error()'

# A client that goes away mid-run: the run is still cleaned up, the server stays healthy.
run_json gone "$BASE" '{"image":"busybox","cmd":["sh","-c","sleep 4; echo late"]}' -m 2
check "a client that hangs up mid-run does not hurt the server" healthy "$BASE"
check "... and its run directory is removed (within 30 s)" run_dir_empty A 30

# =================================================================================================
# 4. Containment through the API
# =================================================================================================
run_json oom "$BASE" '{"image":"python:3.12-slim","cmd":["python3","-c","x = bytearray(1 << 30); print(len(x))"],
  "limits":{"memory_mb":64}}'
check "bytearray(1 GiB) with memory_mb 64 is stopped (status $(status_of oom), exit_code $(field oom exit_code), $(field oom error))" \
    expect oom '(result() and b["exit_code"] != 0 and (b["exit_code"] == 137 or "MemoryError" in b["stderr"])) or (error() and "memory" in msg.lower())'
check "... the server stays healthy" healthy "$BASE"
start=$(now_ms)
run_json loop "$BASE" '{"image":"python:3.12-slim","cmd":["python3","-c","while True: pass"],"limits":{"wall_clock_secs":2}}'
ms=$(($(now_ms) - start))
check "an infinite loop with wall_clock_secs 2: 408" expect loop 'error(408) and exec_id_ok()'
check "... answered within 10 s ($ms ms)" [ "$ms" -lt 10000 ]
start=$(now_ms)
run_json flood "$BASE" '{"image":"busybox","cmd":["yes"]}'
ms=$(($(now_ms) - start))
check "an output flood (yes): 507" expect flood "error(507) and msg == 'output limit exceeded: limit=$OUTPUT_LIMIT bytes'"
check "... answered within 10 s ($ms ms)" [ "$ms" -lt 10000 ]
start=$(now_ms)
run_json bomb "$BASE" '{"image":"busybox","cmd":["sh","-c","f() { f | f & }; f; sleep 30"],"limits":{"pids_limit":32,"wall_clock_secs":20}}' -m 120 &
bomb=$!
sleep 3
run_json during "$BASE" '{"image":"busybox","cmd":["echo","alive"]}' -m 60
check "during a fork bomb (pids_limit 32) another run works" expect during 'result("alive\n", 0)'
wait "$bomb"
ms=$(($(now_ms) - start))
check "the fork bomb's run ends (status $(status_of bomb), exit_code $(field bomb exit_code)) in $ms ms" \
    expect bomb '(s != 200 and s is not None and s > 0) or (result() and b["exit_code"] != 0)'
check "... within 60 s" [ "$ms" -lt 60000 ]
check "... and the server stays healthy" healthy "$BASE"

# =================================================================================================
# 5. DELETE /files, Swagger UI, the OpenAPI document
# =================================================================================================
call del-up "$BASE/files" -F "file=@$CLIENT/v1.txt" -F 'path=del/me.txt'
call del "$BASE/files?path=del/me.txt" -X DELETE
check "DELETE /files?path=del/me.txt: 200 naming it ($(status_of del))" expect del 's == 200 and b == {"path": "del/me.txt"}'
call del-get "$BASE/files?path=del/me.txt"
check "... then GET answers 404 file not found" expect del-get 'error(404) and msg == "file not found"'
call delt "$BASE/files?path=../../sentinel" -X DELETE
check "DELETE /files?path=../../sentinel: 400, and the file outside the store is still there" \
    bash -c '[[ $1 == 400 ]] && [[ -f $2 ]]' _ "$(status_of delt)" "$HOMES/sentinel"
call sw -L "$BASE/swagger"
if expect sw 's == 200 and ct == "text/html"' >/dev/null; then
    pass "GET /swagger serves the Swagger UI (200 text/html)"
else
    check "GET /swagger: 200 text/html, or 503 with a JSON error that the UI assets are not installed" \
        expect sw 'error(503)'
    echo "    (GET /swagger answered 503: $(field sw error))"
fi
call oa "$BASE/openapi.json"
check "GET /openapi.json is a JSON document with an \"openapi\" key" \
    expect oa 's == 200 and isinstance(b, dict) and isinstance(b.get("openapi"), str)'
check "... describing /run, /files and /healthz" \
    expect oa 'all(p in b.get("paths", {}) for p in ("/run", "/files", "/healthz"))'

# =================================================================================================
# 6. Concurrency
# =================================================================================================
start=$(now_ms)
pids=()
for i in $(seq 20); do
    run_json "c$i" "$BASE" "{\"image\":\"python:3.12-slim\",\"cmd\":[\"python3\",\"-c\",\"print($i * 111)\"]}" &
    pids+=($!)
done
wait "${pids[@]}"
ms=$(($(now_ms) - start))
ok=0
ids=()
for i in $(seq 20); do
    expect "c$i" "result('$((i * 111))\n', 0)" >/dev/null && ok=$((ok + 1))
    ids+=("$(field "c$i" exec_id)")
done
check "20 concurrent runs all answer 200 with their own output ($ok of 20, $ms ms)" [ "$ok" -eq 20 ]
check "... with 20 distinct exec_ids" [ "$(printf '%s\n' "${ids[@]}" | sort -u | grep -c .)" -eq 20 ]

# The network: a sandbox has loopback only. Neither the host's registry on 127.0.0.1 (that is
# the sandbox's own loopback) nor an outside address (TEST-NET-1, never routed) is reachable.
# nc says why it cannot connect (busybox's wget crashes under gVisor, so it proves nothing).
run_json net1 "$BASE" "{\"image\":\"busybox\",\"cmd\":[\"sh\",\"-c\",\"nc -w 3 ${REG_ADDR%:*} ${REG_ADDR#*:} </dev/null; echo rc=\$?\"]}"
check "the host's registry on 127.0.0.1 is not reachable from a sandbox: $(field net1 stderr | head -1)" \
    expect net1 's == 200 and "rc=1" in b["stdout"] and "Connection refused" in b["stderr"]'
run_json net2 "$BASE" '{"image":"busybox","cmd":["sh","-c","nc -w 3 192.0.2.1 80 </dev/null; echo rc=$?; grep -c : /proc/net/dev"]}'
check "an outside address is not reachable: $(field net2 stderr | head -1)" \
    expect net2 's == 200 and "rc=1" in b["stdout"] and "No route to host" in b["stderr"]'
check "... the sandbox has loopback only (interfaces counted: $(field net2 stdout | awk NF | tail -1), lo included)" \
    expect net2 'b["stdout"].strip().splitlines()[-1] == "1"'
check "... and the daemon is healthy after" healthy "$BASE"

# =================================================================================================
# Instance B: the run queue (max_concurrent_runs 1, max_queued_runs 1) and a short default clock
# =================================================================================================
if start_boxerd B '{"max_concurrent_runs": 1, "max_queued_runs": 1, "defaults": {"wall_clock_secs": 3}}'; then
    run_json b-warm "$B_URL" '{"image":"busybox","cmd":["echo","warm"]}' -m 300
    check "a second boxerd (queue of 1, one run at a time) runs busybox" expect b-warm 'result("warm\n", 0)'
    pids=()
    for i in 1 2 3; do
        run_json "q$i" "$B_URL" "{\"image\":\"busybox\",\"cmd\":[\"sh\",\"-c\",\"sleep 5; echo slow-$i\"],\"limits\":{\"wall_clock_secs\":20}}" &
        pids+=($!)
    done
    wait "${pids[@]}"
    n503=0 n200=0
    for i in 1 2 3; do
        if expect "q$i" 'error(503)' >/dev/null; then
            n503=$((n503 + 1))
            echo "    run $i: 503 $(field "q$i" error)"
        elif expect "q$i" "result('slow-$i\n', 0)" >/dev/null; then
            n200=$((n200 + 1))
        else
            expect "q$i" 'False'
        fi
    done
    check "3 concurrent slow runs: exactly one is refused with 503 and an error message ($n503)" [ "$n503" -eq 1 ]
    check "... the other two (one running, one queued) complete with their output, their wall_clock_secs 20 overriding the configured default of 3 s ($n200)" \
        [ "$n200" -eq 2 ]
    start=$(now_ms)
    run_json b-def "$B_URL" '{"image":"busybox","cmd":["sleep","30"]}'
    ms=$(($(now_ms) - start))
    check "config defaults.wall_clock_secs 3 applies: sleep 30 ends in 408 ($(field b-def error), $ms ms)" \
        expect b-def 'error(408) and msg == "execution timed out after 3000ms"'
    # boxerd killed with SIGKILL with a run in flight: the next start ends it and cleans up.
    run_json killed "$B_URL" '{"image":"busybox","cmd":["sleep","25"],"limits":{"wall_clock_secs":60}}' -m 120 &
    client=$!
    for _ in $(seq 300); do
        [[ -S $(ls -d "$HOMES/B/run"/*/shim.sock 2>/dev/null | head -1) ]] && break
        sleep 0.1
    done
    check "a run is in flight on the second boxerd (its shim's socket exists)" bash -c 'ls "$1"/*/shim.sock >/dev/null 2>&1' _ "$HOMES/B/run"
    kill -KILL "$B_PID"
    wait "$B_PID" 2>/dev/null
    _forget _BOXERDS "$B_PID"
    wait "$client"
    check "... boxerd is killed with SIGKILL: its shim and sandbox live on" run_alive B
    if start_boxerd B '{"max_concurrent_runs": 1, "max_queued_runs": 1, "defaults": {"wall_clock_secs": 3}}'; then
        check "the next start of boxerd ends the orphaned run: no shim or runsc left" no_procs_of B
        check "... and removes its run directory" run_dir_empty B 10
        check "... no mount of it is left" no_mounts_of B
    else
        fail "boxerd starts again on the home of a killed one"
    fi
    stop_boxerd B 30
    check "SIGTERM stops the idle second boxerd: exit status 0 ($stop_rc) in $stop_ms ms" [ "$stop_rc" -eq 0 ]
    check "... leaving no process" no_procs_of B
    check "... and an empty home/run" run_dir_empty B
else
    fail "a second boxerd (queue of 1) starts"
fi

# =================================================================================================
# 7. SIGTERM with a run in flight, and nothing left behind
# =================================================================================================
run_json term "$BASE" '{"image":"busybox","cmd":["sh","-c","sleep 4; echo done"]}' -m 120 &
client=$!
for _ in $(seq 300); do
    [[ -n $(ls -A "$HOMES/A/run" 2>/dev/null) ]] && break
    sleep 0.1
done
check "a run is in flight (its run directory exists)" bash -c '[[ -n $(ls -A "$1") ]]' _ "$HOMES/A/run"
sleep 1 # let the sandbox start
stop_boxerd A 60
wait "$client"
# The grace period (30 s by default) is longer than the run: it finishes and is answered.
check "SIGTERM with a run in flight: the run finishes within the grace period and its client gets 200 with the output (HTTP $(status_of term))" \
    expect term 'result("done\n", 0)'
check "... boxerd exits 0 ($stop_rc) within 60 s ($stop_ms ms)" [ "$stop_rc" -eq 0 ]
check "no boxer-shim or runsc process of this run is left" no_procs_of A
check "home/run is empty" run_dir_empty A
check "no mount under home is left" no_mounts_of A
check "no sanitizer report from boxerd or its shims" no_sanitizer_reports "$WORK/san" "$WORK"/[AB].log
finish
