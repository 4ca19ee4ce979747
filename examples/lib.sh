# Shared helpers for examples/*/run.sh (sourced, not run).
#
# Each run script starts the tutorial's Flask backends on free loopback ports,
# runs `balancekit-server -f haproxy.cfg` with those ports passed in through the
# environment (the configs read them as "${APP1-127.0.0.1:5001}", which HAProxy
# itself understands too), curls it a few times and stops everything on exit.
set -euo pipefail

PYTHON=${PYTHON:-python3}
BALANCEKIT_SERVER=${BALANCEKIT_SERVER:-balancekit-server}
HERE=$(cd "$(dirname "${BASH_SOURCE[1]}")" && pwd)
LOGDIR=$(mktemp -d "${TMPDIR:-/tmp}/balancekit-example.XXXXXX")
PIDS=()

cleanup() {
    local status=$?
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    if [ "$status" -ne 0 ]; then
        echo "--- failed (exit $status); logs from $LOGDIR:" >&2
        for log in "$LOGDIR"/*.log; do
            [ -e "$log" ] && { echo "=== $log" >&2; tail -n 30 "$log" >&2; }
        done
    fi
    rm -rf "$LOGDIR"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# free_port: print a loopback TCP port that is free right now.
free_port() {
    "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start NAME CMD...: run CMD in the background, logging to $LOGDIR/NAME.log.
start() {
    local name=$1
    shift
    "$@" >"$LOGDIR/$name.log" 2>&1 &
    PIDS+=($!)
}

# wait_port PORT: wait (up to 15 s) until something accepts on 127.0.0.1:PORT.
wait_port() {
    local port=$1 i
    for i in $(seq 150); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    echo "nothing is listening on 127.0.0.1:$port" >&2
    return 1
}

# start_flask NAME PORT SCRIPT [ENV=VALUE...]: one of the tutorial's Flask apps.
start_flask() {
    local name=$1 port=$2 script=$3
    shift 3
    start "$name" env HOST=127.0.0.1 PORT="$port" "$@" "$PYTHON" "$HERE/$script"
    wait_port "$port"
}

# start_balancekit CONFIG PORT: run balancekit-server and wait for its listener.
start_balancekit() {
    local config=$1 port=$2
    start balancekit "$BALANCEKIT_SERVER" -f "$HERE/$config"
    wait_port "$port"
}

# show CURL-ARGS...: print the command, then the answer's body and status on one line.
show() {
    local answer body code
    answer=$(curl -sS --max-time 10 -w '\n%{http_code}' "$@")
    code=${answer##*$'\n'}
    body=$(printf '%s' "${answer%$'\n'*}")
    printf '$ curl %s\n%s [HTTP %s]\n' "$*" "$body" "$code"
}

# start_three_apps [SCRIPT]: the tutorial's app1/app2/app3 (SCRIPT, default app.py, with
# APP_NUMBER=1..3) on free ports, exported as APP1..APP3 for the config; LISTEN gets a
# free port too.
start_three_apps() {
    local n port script=${1:-app.py}
    for n in 1 2 3; do
        port=$(free_port)
        export "APP$n=127.0.0.1:$port"
        start_flask "app$n" "$port" "$script" APP_NUMBER="$n"
    done
    LISTEN_PORT=$(free_port)
    export LISTEN="127.0.0.1:$LISTEN_PORT"
}

# stop_balancekit: stop the balancekit-server started last (to run another config).
stop_balancekit() {
    local pid=${PIDS[-1]}
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    unset 'PIDS[-1]'
}
