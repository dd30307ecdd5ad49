#!/usr/bin/env bash
# Swagger UI in a real browser: builds with --features swagger-ui, serves /docs, loads it in
# headless Chromium (Debian's package, installed by .ci/run), checks that every operation of
# openapi.yaml is rendered, and saves a screenshot to target/docs.png. Run by `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."

source tests/support/lib.sh
find_chromium

cargo build --quiet --features swagger-ui --target-dir target/swagger
port=$(free_port)
start_daemon target/swagger/debug/ifstatsd "$port" --log-level warn
url="http://127.0.0.1:$port/docs"
browse "$url" --virtual-time-budget=20000 --dump-dom > "$work/dom.html"
mkdir -p target
browse "$url" --virtual-time-budget=20000 --window-size=1280,1800 \
    --screenshot="$PWD/target/docs.png" >/dev/null

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
