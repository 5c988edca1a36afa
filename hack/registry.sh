#!/usr/bin/env bash
# A throw-away local OCI registry for tests: Debian's `docker-registry` (distribution 2.8) on
# 127.0.0.1, its storage, configuration, htpasswd file and log all inside one fresh temp dir.
#
#   hack/registry.sh start [--htpasswd USER:PASS] [--port N]
#       Prints eval-able lines on stdout (and nothing else):
#         REGISTRY_ADDR=127.0.0.1:PORT
#         REGISTRY_DIR=/tmp/boxer-registry.XXXXXX
#         REGISTRY_PID=N
#       Returns once `GET /v2/` answers (200, or 401 with --htpasswd). The registry is detached
#       (own session, stdin/stdout/stderr not inherited) and logs to $REGISTRY_DIR/registry.log;
#       its pid is also in $REGISTRY_DIR/pid.
#   hack/registry.sh stop DIR
#       Stops the registry whose pid is in DIR/pid (TERM, then KILL after 5 s), but only if that
#       pid really is the docker-registry serving DIR/config.yml; then removes DIR. Idempotent.
#
# Example:
#   eval "$(hack/registry.sh start --htpasswd boxer:s3cret)"
#   trap 'hack/registry.sh stop "$REGISTRY_DIR"' EXIT
set -euo pipefail

readonly MARKER=.boxer-registry
readonly START_TIMEOUT_S=10
readonly STOP_TIMEOUT_S=5
FAIL_REASON=""

die() {
    printf 'registry.sh: %s\n' "$*" >&2
    exit 1
}

usage() {
    cat >&2 <<'EOF'
usage: hack/registry.sh start [--htpasswd USER:PASS] [--port N]
       hack/registry.sh stop DIR
EOF
    exit 2
}

free_port() {
    python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

# is_our_registry PID DIR: PID is alive (not a zombie) and is docker-registry serving DIR/config.yml.
is_our_registry() {
    local pid=$1 dir=$2 comm state cmdline
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    comm=$(cat "/proc/$pid/comm" 2>/dev/null) || return 1
    [[ $comm == docker-registry ]] || return 1
    state=$(awk '/^State:/ {print $2}' "/proc/$pid/status" 2>/dev/null) || return 1
    [[ $state != Z ]] || return 1
    cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
    [[ $cmdline == *"$dir/config.yml"* ]]
}

alive() {
    local state
    state=$(awk '/^State:/ {print $2}' "/proc/$1/status" 2>/dev/null) || return 1
    [[ -n $state && $state != Z ]]
}

# listens_on PID PORT: PID holds the socket listening on 127.0.0.1:PORT (/proc/net/tcp inode
# matched against PID's fds).
listens_on() {
    local pid=$1 hex inodes fd link
    hex=$(printf '%04X' "$2")
    inodes=$(awk -v p=":$hex" '$4 == "0A" && ($2 == "0100007F" p || $2 == "00000000" p) {
        print "socket:[" $10 "]" }' /proc/net/tcp)
    [[ -n $inodes ]] || return 1
    for fd in /proc/"$pid"/fd/*; do
        link=$(readlink "$fd" 2>/dev/null) || continue
        if grep -qxF -- "$link" <<<"$inodes"; then
            return 0
        fi
    done
    return 1
}

write_config() {
    local dir=$1 port=$2 auth=$3 secret
    secret=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
    cat >"$dir/config.yml" <<EOF
version: 0.1
log:
  level: info
  formatter: text
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: $dir/storage
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:$port
  secret: $secret
  headers:
    X-Content-Type-Options: [nosniff]
EOF
    if [[ -n $auth ]]; then
        cat >>"$dir/config.yml" <<EOF
auth:
  htpasswd:
    realm: boxer-test-registry
    path: $dir/htpasswd
EOF
    fi
}

# try_start DIR PORT AUTH: 0 = up, 1 = failed (log says why), 3 = port already taken.
try_start() {
    local dir=$1 port=$2 auth=$3 pid code deadline
    write_config "$dir" "$port" "$auth"
    : >"$dir/registry.log"
    # setsid: own session and process group, so the caller's Ctrl-C or terminal do not reach it.
    # A background child of a non-interactive shell is not a group leader, so setsid execs in
    # place and $! is the registry's own pid (checked below through /proc/PID/comm).
    setsid docker-registry serve "$dir/config.yml" </dev/null >>"$dir/registry.log" 2>&1 &
    pid=$!
    disown "$pid" 2>/dev/null || true
    printf '%s\n' "$pid" >"$dir/pid"
    deadline=$((SECONDS + START_TIMEOUT_S))
    while ((SECONDS < deadline)); do
        if ! alive "$pid"; then
            wait "$pid" 2>/dev/null || true
            FAIL_REASON="docker-registry exited"
            if grep -q 'address already in use' "$dir/registry.log"; then
                return 3
            fi
            return 1
        fi
        code=$(curl -s -o /dev/null -m 2 -w '%{http_code}' "http://127.0.0.1:$port/v2/" || true)
        # The answer must come from our process, not from something else already on the port.
        if [[ $code == 200 || ($code == 401 && -n $auth) ]] && listens_on "$pid" "$port"; then
            if ! is_our_registry "$pid" "$dir"; then
                FAIL_REASON="pid $pid is not the docker-registry process"
                kill -KILL "$pid" 2>/dev/null || true
                return 1
            fi
            return 0
        fi
        sleep 0.05
    done
    kill -KILL "$pid" 2>/dev/null || true
    FAIL_REASON="GET /v2/ did not answer within ${START_TIMEOUT_S}s"
    return 1
}

# A start that did not succeed (error, Ctrl-C) leaves no process and no directory behind.
START_DIR=""
cleanup_failed_start() {
    local pid
    [[ -n $START_DIR ]] || return 0
    pid=$(cat "$START_DIR/pid" 2>/dev/null || true)
    if [[ -n $pid ]] && is_our_registry "$pid" "$START_DIR"; then
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -rf "$START_DIR"
    START_DIR=""
}

cmd_start() {
    local auth="" port="" fixed_port=0 dir rc attempt
    while (($#)); do
        case $1 in
        --htpasswd)
            (($# >= 2)) || usage
            auth=$2
            shift 2
            ;;
        --htpasswd=*)
            auth=${1#*=}
            shift
            ;;
        --port)
            (($# >= 2)) || usage
            port=$2
            shift 2
            ;;
        --port=*)
            port=${1#*=}
            shift
            ;;
        *) usage ;;
        esac
    done
    if [[ -n $auth && $auth != ?*:?* ]]; then
        die "--htpasswd wants USER:PASS"
    fi
    if [[ -n $port ]]; then
        if ! [[ $port =~ ^[0-9]+$ ]] || ((port < 1 || port > 65535)); then
            die "bad --port: $port"
        fi
        fixed_port=1
    fi
    command -v docker-registry >/dev/null || die "docker-registry not found (apt-get install docker-registry)"
    command -v curl >/dev/null || die "curl not found"
    if [[ -n $auth ]]; then
        command -v htpasswd >/dev/null || die "htpasswd not found (apt-get install apache2-utils)"
    fi

    dir=$(mktemp -d "${TMPDIR:-/tmp}/boxer-registry.XXXXXX")
    # The physical path: `stop` resolves its argument the same way to match the command line.
    dir=$(cd "$dir" && pwd -P)
    START_DIR=$dir
    trap cleanup_failed_start EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    : >"$dir/$MARKER"
    mkdir "$dir/storage"
    if [[ -n $auth ]]; then
        # bcrypt: the only hash distribution's htpasswd backend accepts.
        htpasswd -Bbn "${auth%%:*}" "${auth#*:}" >"$dir/htpasswd" 2>/dev/null ||
            die "htpasswd failed"
    fi

    for attempt in 1 2 3; do
        [[ $fixed_port == 1 ]] || port=$(free_port)
        rc=0
        try_start "$dir" "$port" "$auth" || rc=$?
        if ((rc == 0)); then
            START_DIR=""
            printf 'REGISTRY_ADDR=127.0.0.1:%s\n' "$port"
            printf 'REGISTRY_DIR=%s\n' "$dir"
            printf 'REGISTRY_PID=%s\n' "$(cat "$dir/pid")"
            return 0
        fi
        # A port picked by binding port 0 can be taken again before the registry binds it.
        if ((rc == 3 && fixed_port == 0 && attempt < 3)); then
            continue
        fi
        break
    done
    local tail_text
    tail_text=$(tail -n 20 "$dir/registry.log" | sed 's/^/  | /')
    cleanup_failed_start
    printf 'registry.sh: docker-registry did not come up on 127.0.0.1:%s (%s); log tail:\n%s\n' \
        "$port" "$FAIL_REASON" "$tail_text" >&2
    exit 1
}

cmd_stop() {
    (($# == 1)) || usage
    local dir=$1 pid="" i
    [[ -e $dir ]] || return 0
    dir=$(cd "$dir" && pwd -P)
    [[ -f $dir/$MARKER ]] || die "$dir was not made by registry.sh start (no $MARKER); not touching it"
    if [[ -f $dir/pid ]]; then
        pid=$(cat "$dir/pid")
    fi
    if [[ -n $pid ]] && is_our_registry "$pid" "$dir"; then
        kill -TERM "$pid" 2>/dev/null || true
        for ((i = 0; i < STOP_TIMEOUT_S * 20; i++)); do
            alive "$pid" || break
            sleep 0.05
        done
        if alive "$pid" && is_our_registry "$pid" "$dir"; then
            printf 'registry.sh: pid %s ignored TERM for %ss, sending KILL\n' "$pid" "$STOP_TIMEOUT_S" >&2
            kill -KILL "$pid" 2>/dev/null || true
            for ((i = 0; i < 40; i++)); do
                alive "$pid" || break
                sleep 0.05
            done
            alive "$pid" && die "pid $pid survived KILL"
        fi
    fi
    rm -rf "$dir"
}

(($# >= 1)) || usage
sub=$1
shift
case $sub in
start) cmd_start "$@" ;;
stop) cmd_stop "$@" ;;
-h | --help | help) usage ;;
*) usage ;;
esac
