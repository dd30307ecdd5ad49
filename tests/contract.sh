#!/usr/bin/env bash
# The contract as strict, independent tools read it (issue 14). schemathesis (tests/schemathesis.sh)
# is lenient where client generators and validators are not; this runs those:
#
#   1. openapi-spec-validator: openapi.yaml is valid OpenAPI 3.0.3;
#   2. @redocly/cli lint with its recommended rules (redocly.yaml says which are off, and why):
#      zero errors and zero warnings;
#   3. every `pattern` compiles as an ECMAScript regex with the `u` flag (node), as JSON Schema
#      patterns are meant to (tests/openapi.rs compiles them with Rust's regex, like Go's RE2: no
#      lookaround);
#   4. openapi-python-client generates a Python client with no warning but the one it gives for
#      the YAML body of /openapi.yaml (it has no YAML decoder);
#   5. tests/contract_client.py runs every operation, GET and HEAD, through that client against
#      the real daemon in every state (first sample, traffic, a vanished interface, degraded,
#      every error status), asserting values, and validates every response and every example of
#      the document with openapi-schema-validator's OAS30StrictValidator.
#
#   IFSTATSD_BIN    the daemon to test (default: cargo build, then target/debug/ifstatsd)
#   CONTRACT_CACHE  where the pinned tools are installed (default target/contract), reused
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

PY_TOOLS="openapi-spec-validator==0.9.0 openapi-schema-validator==0.9.0 openapi-python-client==0.29.1"
REDOCLY_VERSION=2.77.0
CACHE=${CONTRACT_CACHE:-target/contract}
case $CACHE in /*) ;; *) CACHE=$root/$CACHE ;; esac
# No telemetry, no update check: the only network this needs is the registries, at install.
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true NO_UPDATE_NOTIFIER=1

say() { echo "contract.sh: $*"; }

# --- the tools, pinned, cached under target/ -------------------------------------------------------
mkdir -p "$CACHE"
if [ "$(cat "$CACHE/venv/pinned" 2>/dev/null)" != "$PY_TOOLS" ]; then
    say "installing $PY_TOOLS into $CACHE/venv"
    rm -rf "$CACHE/venv"
    python3 -m venv "$CACHE/venv"
    # shellcheck disable=SC2086 # the list is words
    "$CACHE/venv/bin/pip" install --quiet --disable-pip-version-check $PY_TOOLS
    echo "$PY_TOOLS" > "$CACHE/venv/pinned"
fi
REDOCLY=$CACHE/npm/node_modules/.bin/redocly
if ! "$REDOCLY" --version 2>/dev/null | grep -qxF "$REDOCLY_VERSION"; then
    say "installing @redocly/cli@$REDOCLY_VERSION into $CACHE/npm"
    mkdir -p "$CACHE/npm"
    npm install --silent --no-audit --no-fund --prefix "$CACHE/npm" "@redocly/cli@$REDOCLY_VERSION"
fi
PY=$CACHE/venv/bin/python
export PATH=$CACHE/venv/bin:$PATH

work=$(mktemp -d "${TMPDIR:-/tmp}/ifstatsd-contract.XXXXXX")
trap 'rm -rf "$work"' EXIT

# --- 1. the document is OpenAPI 3.0.3 ---------------------------------------------------------------
say "openapi-spec-validator openapi.yaml"
openapi-spec-validator openapi.yaml

# --- 2. redocly, recommended rules, nothing left over -----------------------------------------------
say "redocly lint (recommended rules, redocly.yaml)"
if ! "$REDOCLY" lint --config redocly.yaml --format json openapi.yaml > "$work/redocly.json" \
        2> "$work/redocly.log"; then
    "$REDOCLY" lint --config redocly.yaml openapi.yaml >&2 || true
    say "FAILED: redocly lint found errors" >&2
    exit 1
fi
"$PY" - "$work/redocly.json" <<'PY' || { "$REDOCLY" lint --config redocly.yaml openapi.yaml >&2 || true; exit 1; }
import json, sys
report = json.load(open(sys.argv[1]))
totals = report["totals"]
print(f"    redocly: {totals['errors']} errors, {totals['warnings']} warnings, {totals['ignored']} ignored")
if totals["errors"] or totals["warnings"] or totals["ignored"]:
    for problem in report["problems"]:
        print(f"    {problem['severity']} {problem['ruleId']}: {problem['message']}", file=sys.stderr)
    sys.exit(1)
PY

# --- 3. every pattern is an ECMAScript (u) regex ----------------------------------------------------
say "every pattern compiles in ECMAScript (node, u flag)"
"$PY" -c 'import json, sys, yaml
def walk(v):
    if isinstance(v, dict):
        if isinstance(v.get("pattern"), str): yield v["pattern"]
        for x in v.values(): yield from walk(x)
    elif isinstance(v, list):
        for x in v: yield from walk(x)
json.dump(sorted(set(walk(yaml.safe_load(open("openapi.yaml"))))), sys.stdout)' > "$work/patterns.json"
node -e '
const patterns = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
if (patterns.length < 2) { console.error("no patterns found"); process.exit(1); }
for (const p of patterns) new RegExp(p, "u");
const netId = new RegExp(patterns.find(p => p.includes("x2e")), "u");
const bad = [".", "..", "a/b", ""].filter(n => netId.test(n));
const good = ["lo", "eth0.2", "...", ".a", "team0:1"].filter(n => !netId.test(n));
if (bad.length || good.length) { console.error("net_id pattern:", {bad, good}); process.exit(1); }
console.log(`    ${patterns.length} patterns compile; the net_id pattern refuses . .. a/b`);
' "$work/patterns.json"

# --- 4. a generated client --------------------------------------------------------------------------
say "openapi-python-client generate"
(cd "$work" && openapi-python-client generate --path "$root/openapi.yaml" --meta none \
    --output-path "$work/client/ifstatsd_client") > "$work/generate.log" 2>&1 || {
    cat "$work/generate.log" >&2; say "FAILED: the client could not be generated" >&2; exit 1; }
# Its only warning may be the one for /openapi.yaml's YAML body, which it cannot decode.
"$PY" - "$work/generate.log" <<'PY' || { cat "$work/generate.log" >&2; exit 1; }
import re, sys
log = open(sys.argv[1]).read()
warnings = re.findall(r"^WARNING (.*)$", log, re.M)
expected = ["parsing GET /openapi.yaml within operations."]
if warnings != expected or log.count("Unsupported content_type") != 1 \
        or "Unsupported content_type application/yaml" not in log:
    print(f"contract.sh: unexpected generator warnings: {warnings}", file=sys.stderr)
    sys.exit(1)
print("    generated; its one warning: no YAML decoder for /openapi.yaml (parsed by the test)")
PY

# --- 5. the client against the daemon ---------------------------------------------------------------
if [ -n "${IFSTATSD_BIN:-}" ]; then
    BIN=$IFSTATSD_BIN
else
    say "building the debug binary (cargo build)"
    cargo build --quiet
    BIN=${CARGO_TARGET_DIR:-target}/debug/ifstatsd
fi
case $BIN in /*) ;; *) BIN=$root/$BIN ;; esac
[ -x "$BIN" ] || { say "no executable daemon at $BIN (set IFSTATSD_BIN)" >&2; exit 1; }
say "the generated client against $BIN, in every state"
if ! "$PY" tests/contract_client.py "$root/openapi.yaml" "$work/client" "$BIN" "$work/run"; then
    for log in "$work"/run/*.log; do
        [ -s "$log" ] && { say "$(basename "$log"):" >&2; sed 's/^/    /' "$log" >&2; }
    done
    say "FAILED" >&2
    exit 1
fi
say "OK"
