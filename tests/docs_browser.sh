#!/usr/bin/env bash
# Swagger UI in a real browser: builds with --features swagger-ui, serves /docs, loads it in
# headless Chromium (Debian's package, installed by .ci/run), checks that every operation of
# openapi.yaml is rendered, and saves a screenshot to target/docs.png. Run by `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."

CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$CHROMIUM" ]; then
    if [ "${CI:-}" = true ]; then
        echo "docs_browser: chromium is missing; .ci/run installs it" >&2
        exit 1
    fi
    echo "docs_browser: skipped: no chromium (apt-get install chromium)"
    exit 0
fi

cargo build --quiet --features swagger-ui --target-dir target/swagger
BIN=target/swagger/debug/ifstatsd
work=$(mktemp -d)
daemon=
cleanup() {
    [ -n "$daemon" ] && kill "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$BIN" --listen "127.0.0.1:$port" --log-level warn &
daemon=$!
deadline=$((SECONDS + 20))
until curl -sf -o /dev/null "http://127.0.0.1:$port/health"; do
    if [ $SECONDS -ge $deadline ] || ! kill -0 "$daemon" 2>/dev/null; then
        echo "docs_browser: the daemon did not come up" >&2
        exit 1
    fi
    sleep 0.1
done

browse() {
    "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync --disable-quic \
        --user-data-dir="$work/profile" --virtual-time-budget=20000 "$@" \
        "http://127.0.0.1:$port/docs" 2>/dev/null
}
browse --dump-dom > "$work/dom.html"
mkdir -p target
browse --window-size=1280,1800 --screenshot="$PWD/target/docs.png" >/dev/null

# Every operation of the document, rendered as an operation block with its path.
expected=$(python3 - <<'PY'
import re
paths = re.findall(r"^  (/[^:]*):$", open("openapi.yaml").read(), re.M)
print("\n".join(paths))
PY
)
missing=0
while read -r path; do
    if ! grep -qF "data-path=\"$path\"" "$work/dom.html"; then
        echo "docs_browser: $path is not rendered" >&2
        missing=1
    fi
done <<< "$expected"
operations=$(grep -o 'class="opblock opblock-[a-z]*' "$work/dom.html" | wc -l)
if [ "$missing" -ne 0 ] || [ "$operations" -lt "$(grep -c "^    operationId\|^      operationId" openapi.yaml)" ]; then
    echo "docs_browser: $operations operations rendered" >&2
    exit 1
fi
[ -s target/docs.png ] || { echo "docs_browser: no screenshot" >&2; exit 1; }
echo "docs_browser: OK: $operations operations of $(echo "$expected" | wc -l) paths rendered; screenshot in target/docs.png"
