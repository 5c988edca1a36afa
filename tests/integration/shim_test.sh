#!/usr/bin/env bash
# boxer-shim end to end through boxerctl, with the real runsc and images from a local registry:
# exit codes and signals, Kill, output caps (exact, one over, infinite), the wall clock, the
# memory limit, a fork bomb, 50 concurrent waiters, a shim killed with SIGKILL, boxerctl run
# killed with SIGKILL (its link), an unknown RPC method, and nothing left behind (processes,
# cgroups, mounts, run directories).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CTL=$BUILD/ctl/boxerctl
SHIM=$BUILD/shim/boxer-shim
[[ -x $CTL && -x $SHIM ]] || { echo "FAIL: boxerctl or boxer-shim is not built"; exit 1; }
[[ $(id -u) -eq 0 ]] || skip "needs root (runsc, cgroups, overlay mounts)"
for t in runsc docker-registry; do
    command -v "$t" >/dev/null || skip "$t is not installed"
done
grep -qw overlay /proc/filesystems || skip "no overlayfs"

start_registry REG || { echo "FAIL: cannot start a registry"; exit 1; }
"$ROOT/hack/test-images.sh" push "$REG_ADDR" busybox python >/dev/null ||
    { echo "FAIL: cannot push the test images"; exit 1; }
HOME_DIR=$WORK/h
mkdir -p "$HOME_DIR" && chmod 0711 "$HOME_DIR"
sanitizer_logs_to "$WORK/san"
printf '{"home": "%s", "registry_mirrors": {"docker.io": ["http://%s"]}}\n' "$HOME_DIR" "$REG_ADDR" >"$WORK/config.json"
export BOXER_SHIM=$SHIM
# What boxerctl starts inherits it: the end's process check finds this suite's shims by it.
export BOXERD_TEST_MARK=shim-test-$$
ctl() { "$CTL" --config "$WORK/config.json" "$@"; }
# run ID ARGS...: boxerctl run with that id; sets rc, out, err.
run() {
    local id=$1
    shift
    rc=0
    ctl run --id "$id" "$@" >"$WORK/$id.out" 2>"$WORK/$id.err" || rc=$?
    out=$(tr -d '\0' <"$WORK/$id.out")
    err=$(cat "$WORK/$id.err")
}
# wait_running ID: until the shim says running (at most 20 s).
wait_running() {
    for _ in $(seq 200); do
        ctl state "$1" 2>/dev/null | grep -qi 'running' && return 0
        sleep 0.1
    done
    return 1
}
# wait_socket ID: until the shim's status socket exists (at most 20 s), polled every 10 ms: the
# first moment a client can reach it.
wait_socket() {
    for _ in $(seq 2000); do
        [[ -S $HOME_DIR/run/$1/shim.sock ]] && return 0
        sleep 0.01
    done
    return 1
}
# wait_output ID LINE: until the execution's stdout (as the shim keeps it) has LINE (at most 20 s).
wait_output() {
    for _ in $(seq 200); do
        grep -qx -- "$2" "$HOME_DIR/run/$1/stdout" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}
# This run's cgroups only (another suite may be running): <id>-<FNV-1a of the run directory>,
# as shim/cgroup.c names them.
cg_name() { /usr/bin/python3 "$ROOT/hack/cgroup-name.py" "$1" "$HOME_DIR/run/$1"; }
# cgroups_of ID: the cgroup directories of execution ID that exist.
cgroups_of() {
    ls -d /sys/fs/cgroup/*/boxer/"$(cg_name "$1")" /sys/fs/cgroup/boxer/"$(cg_name "$1")" 2>/dev/null
}
runsc_procs_of() { ps -eo args= | grep -F -- "$1" | grep -v grep | grep -c runsc || true; }
# run_dir_gone ID [SECS]: the run directory is gone and its view unmounted (waiting up to SECS
# for the shim, which removes them after boxerctl's Delete was answered).
run_dir_gone() {
    local dir=$HOME_DIR/run/$1 end=$((SECONDS + ${2:-0}))
    while [[ -e $dir ]] || grep -qF -- " $dir/" /proc/mounts; do
        ((SECONDS >= end)) && return 1
        sleep 0.1
    done
}

# --- exit codes and signals ----------------------------------------------------------------------
run e0 --image busybox -- echo hi
check "echo hi prints hi and exits 0" [ "$rc" -eq 0 -a "$out" = hi ]
check "... and its shim then unmounts the view and removes the run directory (within 5 s)" \
    run_dir_gone e0 5
run e1 --image busybox -- sh -c 'echo to-stderr >&2; exit 1'
check "exit 1, stderr kept apart" [ "$rc" -eq 1 -a "$(head -1 "$WORK/e1.err")" = to-stderr ]
run e42 --image busybox -- sh -c 'exit 42'
check "exit 42" [ "$rc" -eq 42 ]
run esig --image busybox -- sh -c 'kill -TERM $$'
check "a process killed by SIGTERM: 143" [ "$rc" -eq 143 ]
run py --image python:3.12-slim -- python3 -c 'print(6*7)'
check "python prints 42" [ "$rc" -eq 0 -a "$out" = 42 ]
run nocmd --image busybox -- /no/such/program
check "a missing program fails with 127" [ "$rc" -eq 127 ]
check "... saying so on stderr" grep -q 'no such file or directory' "$WORK/nocmd.err"

# --- Kill mid-run --------------------------------------------------------------------------------
ctl run --id k1 --image busybox -- sh -c 'echo started; sleep 60' >"$WORK/k1.out" 2>&1 &
k1=$!
wait_output k1 started
krc=0
ctl kill k1 TERM >/dev/null 2>"$WORK/kill.err" || krc=$?
start=$(date +%s%N)
wait $k1
rc=$?
ms=$((($(date +%s%N) - start) / 1000000))
check "Kill TERM mid-run ends it with 143 ($ms ms; kill: $krc $(cat "$WORK/kill.err"))" [ "$rc" -eq 143 ]
check "... and the output before it is kept" grep -q '^started$' "$WORK/k1.out"
# A Kill as soon as the status socket is up, while runsc is still making the sandbox (runsc
# does not know the container yet), is held by the shim until the sandbox can take it.
ctl run --id k0 --image busybox -- sleep 60 >/dev/null 2>&1 &
k0=$!
wait_socket k0
krc=0
ctl kill k0 TERM >/dev/null 2>"$WORK/kill0.err" || krc=$?
wait $k0
rc=$?
check "a Kill sent as the sandbox starts is delivered once it runs (kill: $krc $(cat "$WORK/kill0.err"); run: $rc)" \
    [ "$krc" -eq 0 -a "$rc" -eq 143 ]
# A sandbox that takes longer than the shim's 10 s of retries to start (a runsc whose `run` waits
# 12 s first): the Kill fails, naming runsc's reason, and the run is not touched by it later.
printf '#!/bin/sh\nfor a; do [ "$a" = run ] && sleep 12 && break; done\nexec %s "$@"\n' \
    "$(command -v runsc)" >"$WORK/runsc-slow"
chmod 755 "$WORK/runsc-slow"
printf '{"home": "%s", "runsc_path": "%s", "registry_mirrors": {"docker.io": ["http://%s"]}}\n' \
    "$HOME_DIR" "$WORK/runsc-slow" "$REG_ADDR" >"$WORK/config-slow.json"
"$CTL" --config "$WORK/config-slow.json" run --id kslow --image busybox -- echo late \
    >"$WORK/kslow.out" 2>"$WORK/kslow.err" &
kslow=$!
wait_socket kslow
krc=0
"$CTL" --config "$WORK/config-slow.json" kill kslow TERM >/dev/null 2>"$WORK/kslow-kill.err" || krc=$?
wait $kslow
rc=$?
check "a Kill the sandbox cannot take within 10 s fails, with runsc's reason ($krc: $(cat "$WORK/kslow-kill.err"))" \
    [ "$krc" -eq 1 -a -n "$(grep -F "loading container: file does not exist" "$WORK/kslow-kill.err")" ]
check "... and the run then goes on as if no Kill had come (exit $rc, $(cat "$WORK/kslow.out"))" \
    [ "$rc" -eq 0 -a "$(cat "$WORK/kslow.out")" = late ]

# --- output caps ---------------------------------------------------------------------------------
run cap-exact --image busybox --output-limit 1000 -- sh -c 'head -c 1000 /dev/zero'
check "output of exactly the cap: kept, not flagged" [ "$rc" -eq 0 -a "$(wc -c <"$WORK/cap-exact.out")" -eq 1000 ]
run cap-over --image busybox --output-limit 1000 -- sh -c 'head -c 1001 /dev/zero'
check "one byte over: flagged, first 1000 bytes kept" \
    bash -c '[ "$1" -eq 137 ] && [ "$(wc -c <"$2")" -eq 1000 ] && grep -q "over the output limit" "$3"' _ "$rc" "$WORK/cap-over.out" "$WORK/cap-over.err"
start=$(date +%s%N)
run cap-yes --image busybox --output-limit 65536 -- yes
ms=$((($(date +%s%N) - start) / 1000000))
check "infinite output (yes): flagged and stopped, run over in $ms ms" \
    bash -c '[ "$1" -eq 137 ] && [ "$(wc -c <"$2")" -eq 65536 ] && [ "$3" -lt 5000 ]' _ "$rc" "$WORK/cap-yes.out" "$ms"
run cap-err --image busybox --output-limit 100 -- sh -c 'yes >&2'
check "stderr over its cap is flagged too" grep -q "stderr over the output limit" "$WORK/cap-err.err"

# --- the wall clock ------------------------------------------------------------------------------
start=$(date +%s%N)
run wall --image busybox --timeout 2 -- sh -c 'echo partial; sleep 30'
ms=$((($(date +%s%N) - start) / 1000000))
check "a timeout kills the sandbox ($ms ms for a 2 s clock)" [ "$rc" -eq 137 -a "$ms" -lt 15000 ]
check "... keeps the partial output" [ "$out" = partial ]
check "... and says so" grep -q "wall clock of 2 s exceeded" "$WORK/wall.err"

# --- memory and processes ------------------------------------------------------------------------
run oom --image python:3.12-slim --memory 64 -- python3 -c 'x = bytearray(400 << 20); print(len(x))'
check "a memory hog is reported as killed for memory" grep -q "killed for memory" "$WORK/oom.err"
check "... with 137" [ "$rc" -eq 137 ]
run fit --image python:3.12-slim --memory 64 -- python3 -c 'x = bytearray(16 << 20); print(len(x))'
check "16 MiB fits in a 64 MiB limit" [ "$rc" -eq 0 -a "$out" = 16777216 ]
run kids --image busybox --pids 64 -- sh -c 'i=0; while [ $i -lt 40 ]; do sleep 1 & i=$((i+1)); done; wait; echo ok'
check "40 processes under a pids limit of 64 run" [ "$rc" -eq 0 -a "$out" = ok ]
# The guest's forks fail at its pids limit (RLIMIT_NPROC in the spec) before the host cgroup's
# limit, which, reached, would end the whole sandbox; the run lasts until its wall clock.
ctl run --id bomb --image busybox --pids 64 --timeout 10 -- \
    sh -c '(f() { f | f & }; f) & exec sleep 30' >/dev/null 2>"$WORK/bomb.err" &
bomb=$!
sleep 3
check "during a fork bomb its shim still answers" bash -c '"$@" | grep -qi running' _ "$CTL" --config "$WORK/config.json" state bomb
start=$(date +%s%N)
run during --image busybox -- echo alive
ms=$((($(date +%s%N) - start) / 1000000))
check "during a fork bomb another run still works ($ms ms)" [ "$rc" -eq 0 -a "$out" = alive ]
wait $bomb
bomb_rc=$?
check "the fork bomb is contained: the sandbox lived until its clock ended the run ($bomb_rc)" \
    bash -c '[ "$1" -eq 137 ] && grep -q "wall clock of 10 s exceeded" "$2"' _ "$bomb_rc" "$WORK/bomb.err"
check "... its forks failed in the sandbox (can't fork: Resource temporarily unavailable)" \
    grep -q "can't fork: Resource temporarily unavailable" "$WORK/bomb.err"
check "... leaving no process of it" [ "$(runsc_procs_of bomb)" -eq 0 ]

# --- 50 concurrent waiters -----------------------------------------------------------------------
# The program ends only once every waiter is connected (counted on the socket), so the check
# does not depend on how fast 50 processes start on a loaded machine. boxerctl run itself waits
# through its link, not the socket; the first waiter's connection starts the shim's gRPC.
ctl run --id w50 --image busybox -- sh -c 'trap "exit 7" TERM; echo trapped; sleep 600 & wait' >/dev/null 2>&1 &
w50=$!
wait_output w50 trapped
pids=()
for i in $(seq 50); do
    ctl wait w50 >"$WORK/wait.$i" 2>&1 &
    pids+=($!)
done
connected=0
for _ in $(seq 1200); do
    connected=$(ss -xH 2>/dev/null | grep -c -- "$HOME_DIR/run/w50/shim.sock" || true)
    [[ $connected -ge 50 ]] && break
    sleep 0.1
done
check "50 waiters are connected to the shim ($connected)" [ "$connected" -ge 50 ]
krc=0
ctl kill w50 TERM >/dev/null 2>"$WORK/kill50.err" || krc=$?
codes=0
for p in "${pids[@]}"; do
    wait "$p"
    [[ $? -eq 7 ]] && codes=$((codes + 1))
done
wait $w50
check "50 concurrent waiters all get exit code 7 ($codes; kill: $krc $(cat "$WORK/kill50.err"))" [ "$codes" -eq 50 ]
[[ $codes -eq 50 ]] || grep -h . "$WORK"/wait.* | sort | uniq -c | head -5

# --- the status socket ---------------------------------------------------------------------------
ctl run --id sock --image busybox -- sleep 30 >/dev/null 2>&1 &
sock=$!
wait_running sock
check "the socket is 0600" [ "$(stat -c %a "$HOME_DIR/run/sock/shim.sock")" = 600 ]
# (so that the leftover check at the end, which looks for these names, looks for the right ones)
check "a running execution's cgroup is named as the end of this test expects" \
    bash -c '[[ -n $1 ]]' _ "$(cgroups_of sock)"
# The limits' cgroup holds the sandbox (runsc's sentry, gofer and stubs, all "exe"), put there by
# runsc as the spec asks; `runsc run` itself, the shim's child, stays outside it.
sock_cg=$(ls -d /sys/fs/cgroup/memory/boxer/"$(cg_name sock)" /sys/fs/cgroup/boxer/"$(cg_name sock)" 2>/dev/null | head -n 1)
sock_runsc=$(pgrep -P "$(cat "$HOME_DIR/run/sock/shim.pid")" -x runsc || true)
check "the sandbox is in the limits' cgroup, runsc run is not (the shim says cgroup=runsc)" \
    bash -c '[[ -n $1 && -n $2 ]] && procs=$(cat "$1/cgroup.procs") && [[ -n $procs ]] &&
        ! grep -qx "$2" <<<"$procs" && for p in $procs; do [[ $(cat /proc/$p/comm) == exe ]] || exit 1; done &&
        grep -q "runsc started.*cgroup=runsc" "$3"' _ "$sock_cg" "$sock_runsc" "$HOME_DIR/run/sock/shim.log"
if /usr/bin/python3 -c 'import grpc' 2>/dev/null; then
    out=$(timeout 20 /usr/bin/python3 - "$HOME_DIR/run/sock/shim.sock" <<'EOF'
import sys, grpc
ch = grpc.insecure_channel("unix:" + sys.argv[1])
call = ch.unary_unary("/boxer.shim.v1.Shim/Exec")
try:
    call(b"", timeout=5)
    print("OK?")
except grpc.RpcError as e:
    print(e.code().name)
EOF
)
    check "an unknown method gets UNIMPLEMENTED, not a hang ($out)" [ "$out" = UNIMPLEMENTED ]
else
    echo "SKIP: python3-grpcio missing: the unknown-method check through grpcio did not run"
fi
ctl kill sock KILL >/dev/null 2>&1
wait $sock

# --- a shim killed with SIGKILL ------------------------------------------------------------------
ctl run --id sk --image busybox -- sleep 60 >/dev/null 2>"$WORK/sk.err" &
sk=$!
wait_running sk
shim_pid=$(cat "$HOME_DIR/run/sk/shim.pid")
check "the shim runs as boxer-shim" [ "$(cat /proc/"$shim_pid"/comm)" = boxer-shim ]
# The shim reads SIGCHLD from a signalfd: a thread that does not block it (gRPC's, made while a
# spare waited for its arguments) would take runsc's exit and leave it a zombie nobody reaps.
# all_threads_block_sigchld PID: every thread's SigBlk has SIGCHLD (17: bit 16).
all_threads_block_sigchld() {
    local t blk n=0
    for t in /proc/"$1"/task/*; do
        blk=$(awk '/^SigBlk:/ {print $2}' "$t/status") || return 1
        (((16#$blk >> 16) & 1)) || { echo "thread $(cat "$t/comm") does not block SIGCHLD"; return 1; }
        n=$((n + 1))
    done
    ((n > 1))
}
check "every thread of the shim blocks SIGCHLD" all_threads_block_sigchld "$shim_pid"
kill -KILL "$shim_pid"
gone=no
for _ in $(seq 50); do
    if [[ $(runsc_procs_of sk) -eq 0 ]]; then gone=yes; break; fi
    sleep 0.1
done
check "a shim killed with SIGKILL leaves no runsc process within 5 s" [ $gone = yes ]
sk_rc=0
wait $sk || sk_rc=$?
check "... boxerctl run then fails (1), saying its shim died ($sk_rc: $(cat "$WORK/sk.err"))" \
    bash -c '[[ $1 == 1 ]] && grep -q "boxer-shim died before the execution ended" "$2"' _ "$sk_rc" "$WORK/sk.err"
check "... and removes the run directory and its view itself" run_dir_gone sk

# --- boxerctl run's link: no gRPC until called; a boxerctl killed takes its sandbox along -------
# boxerctl itself, not a subshell running the ctl function: $! is the process killed below.
"$CTL" --config "$WORK/config.json" run --id linkkill --image busybox -- sleep 60 >/dev/null 2>&1 &
lkpid=$!
for _ in $(seq 200); do
    grep -q 'runsc started' "$HOME_DIR/run/linkkill/shim.log" 2>/dev/null && break
    sleep 0.1
done
shim_pid=$(cat "$HOME_DIR/run/linkkill/shim.pid" 2>/dev/null)
threads=$(ls /proc/"$shim_pid"/task 2>/dev/null | wc -l)
check "a shim nobody called yet runs no gRPC threads (main and accept: $threads)" [ "$threads" -eq 2 ]
check "... its socket is there, and a first client is served" wait_running linkkill
threads=$(ls /proc/"$shim_pid"/task 2>/dev/null | wc -l)
check "... then gRPC's threads run ($threads)" [ "$threads" -gt 2 ]
check "... every one blocking SIGCHLD" all_threads_block_sigchld "$shim_pid"
kill -KILL $lkpid
wait $lkpid 2>/dev/null
gone=no
for _ in $(seq 100); do
    if run_dir_gone linkkill && [[ $(runsc_procs_of linkkill) -eq 0 ]] && ! kill -0 "$shim_pid" 2>/dev/null; then
        gone=yes
        break
    fi
    sleep 0.1
done
check "boxerctl run killed mid-run: its sandbox, shim and run directory are gone within 10 s" [ $gone = yes ]

# --- ignore_cgroups: no limits, and the record says so -----------------------------------------
printf '{"home": "%s", "ignore_cgroups": true, "registry_mirrors": {"docker.io": ["http://%s"]}}\n' "$HOME_DIR" "$REG_ADDR" >"$WORK/nocg.json"
"$CTL" --config "$WORK/nocg.json" run --keep --id nocg --image busybox -- true >/dev/null 2>&1
check "ignore_cgroups: the run works" [ $? -eq 0 ]
out=$(ctl --json state nocg)
check "... and its exit record says limits were not enforced" grep -q '"limits_enforced":false' <<<"$out"
check "... the shim is gone after the run, its record read from disk" grep -q '"shim":"gone"' <<<"$out"
check "delete removes a kept execution" ctl delete nocg
check "... and state then says there is none" bash -c '! "$@" 2>/dev/null' _ "$CTL" --config "$WORK/config.json" state nocg

# --- a runsc that cannot be started ------------------------------------------------------------
nr=$HOME_DIR/run/norunsc
printf '#!/bin/sh\n' >"$WORK/runsc-not-executable"
chmod 644 "$WORK/runsc-not-executable"
for bad in "$WORK/no-such-runsc:No such file or directory" no-such-runsc-$$:"No such file or directory" \
    "$WORK/runsc-not-executable:Permission denied"; do
    mkdir -p "$nr/bundle"
    rc=0
    out=$("$SHIM" start --id norunsc --bundle "$nr/bundle" --state "$nr" --runsc "${bad%%:*}" 2>&1) ||
        rc=$?
    check "start with runsc ${bad%%:*} fails (1), saying why" \
        [ "$rc" -eq 1 -a "$out" = "boxer-shim: start ${bad%%:*}: ${bad#*:}" ]
    check "... and leaves no cgroup and no shim" \
        [ -z "$(cgroups_of norunsc)" -a ! -e "$nr/shim.pid" -a ! -e "$nr/shim.sock" ]
    rm -rf "$nr"
done

# The same through boxerctl run, whose shim is a spare handed the arguments of start: the error
# comes back on the spare's ready line, and the run leaves nothing.
printf '{"home": "%s", "runsc_path": "%s", "registry_mirrors": {"docker.io": ["http://%s"]}}\n' \
    "$HOME_DIR" "$WORK/no-such-runsc" "$REG_ADDR" >"$WORK/config-norunsc.json"
rc=0
"$CTL" --config "$WORK/config-norunsc.json" run --id lnr --image busybox -- true >/dev/null \
    2>"$WORK/lnr.err" || rc=$?
check "boxerctl run with a runsc that does not exist fails (1), saying why" \
    [ "$rc" -eq 1 -a -n "$(grep -F "boxer-shim failed to start: start $WORK/no-such-runsc: No such file or directory" "$WORK/lnr.err")" ]
check "... and leaves no run directory and no cgroup" [ ! -e "$HOME_DIR/run/lnr" -a -z "$(cgroups_of lnr)" ]
# A shim that dies before its ready line (here: a wrapper that kills itself).
printf '#!/bin/sh\nkill -9 $$\n' >"$WORK/shim-dies"
chmod 755 "$WORK/shim-dies"
rc=0
BOXER_SHIM=$WORK/shim-dies ctl run --id ldie --image busybox -- true >/dev/null 2>"$WORK/ldie.err" || rc=$?
check "boxerctl run whose shim dies during start-up fails (1), saying how" \
    [ "$rc" -eq 1 -a -n "$(grep -F "boxer-shim died during start-up (killed by signal 9)" "$WORK/ldie.err")" ]
check "... and leaves no run directory and no cgroup" [ ! -e "$HOME_DIR/run/ldie" -a -z "$(cgroups_of ldie)" ]

# --- a bundle that names no cgroup (made by hand; the way on cgroup v2 too) ----------------------
# Then the shim moves `runsc run` into its cgroup before exec instead of letting runsc do it.
ctl run --keep --id fbk --image busybox -- true >/dev/null 2>&1
fbk=$HOME_DIR/run/fbk
fbs=$HOME_DIR/run/fbshim
rootfs=$(ctl --json pull busybox | /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)["rootfs"])')
/usr/bin/python3 -c 'import json, sys
spec = json.load(open(sys.argv[1]))
del spec["linux"]["cgroupsPath"]
spec["process"]["args"] = ["sleep", "30"]
json.dump(spec, open(sys.argv[1], "w"))' "$fbk/bundle/config.json"
mkdir -m 711 "$fbs"
mount -t overlay overlay -o "lowerdir=$rootfs,upperdir=$fbk/view/upper,workdir=$fbk/view/work" \
    "$fbk/view/merged"
rc=0
"$SHIM" start --id fbshim --bundle "$fbk/bundle" --state "$fbs" --runsc runsc \
    --runsc-flag=--platform=ptrace --runsc-flag=--network=none --memory-bytes=268435456 \
    --cpu-millicores=1000 --pids=64 --wall-clock-ms=20000 >/dev/null 2>&1 || rc=$?
fb_cg=$(ls -d /sys/fs/cgroup/memory/boxer/"$(cg_name fbshim)" /sys/fs/cgroup/boxer/"$(cg_name fbshim)" 2>/dev/null | head -n 1)
fb_runsc=$(pgrep -P "$(cat "$fbs/shim.pid" 2>/dev/null || echo 0)" -x runsc || true)
check "a bundle naming no cgroup: runsc run is moved into the limits' cgroup (cgroup=shim)" \
    bash -c '[[ $1 == 0 && -n $2 && -n $3 ]] && grep -qx "$3" "$2/cgroup.procs" &&
        grep -q "runsc started.*cgroup=shim" "$4"' _ "$rc" "$fb_cg" "$fb_runsc" "$fbs/shim.log"
ctl kill fbshim >/dev/null 2>&1
ctl wait fbshim >/dev/null 2>&1
ctl delete fbshim >/dev/null 2>&1
umount "$fbk/view/merged"
check "... and after its delete no cgroup of it is left" [ -z "$(cgroups_of fbshim)" ]
rm -rf "$fbk" "$fbs"

# --- the spare shim (boxerd keeps one; its runs are tested in boxerd_test) -----------------------
check "a spare shim let go (stdin closed empty) exits 0" bash -c '"$1" spare </dev/null' _ "$SHIM"
check "a spare shim takes only the arguments of start (exit 2, its ready line says why)" \
    bash -c 'out=$(printf "run\0--id\0x" | "$1" spare 2>/dev/null); [ $? -eq 2 ] &&
        [ "$out" = "error: the arguments must be those of start" ]' _ "$SHIM"
check "a spare shim given bad options of start fails the same way (exit 2, error line)" \
    bash -c 'out=$(printf "start\0--id\0x" | "$1" spare 2>/dev/null); [ $? -eq 2 ] &&
        [ "${out#error: }" != "$out" ]' _ "$SHIM"
# boxerctl run starts a spare before it resolves the image; a run that fails before its launch
# lets it go (checked at the end: no boxer-shim process of this suite is left).
run badref --image 'Bad Ref!!' -- true
check "a run with an invalid image reference fails with 1, naming it" \
    [ "$rc" -eq 1 -a -n "$(grep -F "invalid image reference 'Bad Ref!!'" <<<"$err")" ]

# --- nothing left behind -------------------------------------------------------------------------
check "no run directory is left" bash -c 'for _ in $(seq 50); do [ -z "$(ls -A "$1")" ] && exit 0; sleep 0.1; done; ls -A "$1"; exit 1' _ "$HOME_DIR/run"
left=$(for id in e0 k1 bomb w50 sk oom sock nocg; do cgroups_of "$id"; done | tr '\n' ' ')
check "no cgroup is left ($left)" [ -z "$left" ]
check "no overlay mount is left" bash -c '! grep -q -- "$1" /proc/mounts' _ "$HOME_DIR"
check "no shim, spare shim or runsc process of this suite is left" \
    no_boxer_procs "$HOME_DIR" "$BOXERD_TEST_MARK"
check "no sanitizer report from boxerctl or a shim" no_sanitizer_reports "$WORK/san"
finish
