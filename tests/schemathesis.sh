#!/usr/bin/env bash
# The OpenAPI contract, checked from outside: schemathesis generates requests from openapi.yaml
# (valid and invalid path parameters, undocumented methods, ...) against the real daemon and
# checks every response against the document (--checks all). Run by `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${IFSTATSD_BIN:-target/debug/ifstatsd}
VENV=${SCHEMATHESIS_VENV:-.venv-schemathesis}
VERSION=4.32.5

if [ ! -x "$VENV/bin/st" ] || ! "$VENV/bin/st" --version | grep -q "$VERSION"; then
    echo "schemathesis: installing $VERSION into $VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$VERSION"
fi

work=$(mktemp -d)
daemon=
cleanup() {
    [ -n "$daemon" ] && kill "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

# A source with `lo` (the spec's example name) and a few more, and an empty sysfs.
cat > "$work/net_dev" <<'DEV'
Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:  123456     789    0    0    0     0          0         0   123456     789    0    0    0     0       0          0
  eth0: 9876543   12345    1    2    0     0          0         5  1234567    6789    0    3    0     0       0          0
br-lan:    1000      10    0    0    0     0          0         0     2000      20    0    0    0     0       0          0
DEV
mkdir "$work/sysfs"

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$BIN" --listen "127.0.0.1:$port" --interval 200ms --source "$work/net_dev" --sysfs "$work/sysfs" \
    --log-level warn &
daemon=$!

deadline=$((SECONDS + 20))
until python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/health', timeout=1)" 2>/dev/null; do
    if [ $SECONDS -ge $deadline ] || ! kill -0 "$daemon" 2>/dev/null; then
        echo "schemathesis: the daemon did not come up on port $port" >&2
        exit 1
    fi
    sleep 0.1
done

echo "schemathesis: checking openapi.yaml against the daemon on 127.0.0.1:$port"
"$VENV/bin/st" run openapi.yaml --url "http://127.0.0.1:$port" --checks all \
    --max-examples 500 --workers 1 --warnings off
