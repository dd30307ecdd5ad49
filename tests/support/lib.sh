# Shell helpers for the test scripts (sourced, not run): a scratch directory and a daemon that
# are cleaned up however the script ends, a free port, a deadline-bounded wait for the daemon,
# a Python venv with one pinned package, and Chromium.

work=$(mktemp -d)
daemon=
cleanup() {
    [ -n "$daemon" ] && kill "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

# A port of 127.0.0.1 that was free a moment ago.
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_daemon BIN PORT ARGS...: starts the daemon on 127.0.0.1:PORT and waits (20 s at most)
# until /health answers; sets $daemon to its pid.
start_daemon() {
    local bin=$1 port=$2
    shift 2
    "$bin" --listen "127.0.0.1:$port" "$@" &
    daemon=$!
    local deadline=$((SECONDS + 20))
    until curl -s -o /dev/null "http://127.0.0.1:$port/health"; do
        if [ $SECONDS -ge $deadline ] || ! kill -0 "$daemon" 2>/dev/null; then
            echo "$(basename "$0"): the daemon did not come up on port $port" >&2
            exit 1
        fi
        sleep 0.05
    done
}

# stop_daemon: SIGTERM, and waits for the exit.
stop_daemon() {
    kill "$daemon"
    wait "$daemon" || true
    daemon=
}

# ensure_venv DIR MODULE PACKAGE==VERSION: a venv at DIR in which MODULE imports.
ensure_venv() {
    local dir=$1 module=$2 package=$3
    if ! "$dir/bin/python" -c "import $module" 2>/dev/null; then
        echo "$(basename "$0"): installing $package into $dir"
        python3 -m venv "$dir"
        "$dir/bin/pip" install --quiet --disable-pip-version-check "$package"
    fi
}

# find_chromium: sets $CHROMIUM, or skips the script (fails it under CI=true, where .ci/run
# installs Chromium and nothing may skip).
find_chromium() {
    CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
    if [ -z "$CHROMIUM" ]; then
        if [ "${CI:-}" = true ]; then
            echo "$(basename "$0"): chromium is missing; .ci/run installs it" >&2
            exit 1
        fi
        echo "$(basename "$0"): skipped: no chromium (apt-get install chromium)"
        exit 0
    fi
}

# browse URL ARGS...: headless Chromium, with the flags this closed network needs, on URL.
browse() {
    local url=$1
    shift
    "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync --disable-quic \
        --user-data-dir="$work/profile" "$@" "$url" 2>/dev/null
}
