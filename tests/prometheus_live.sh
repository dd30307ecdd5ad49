#!/usr/bin/env bash
# ifstatsd against Debian's Prometheus 2.42 (prometheus, promtool) and node_exporter 1.5
# (prometheus-node-exporter): the alert rules' unit tests, node_exporter parity in a network
# namespace (root), `promtool check metrics`, rate() within 1% at 5, 15 and 30 s scrapes, an
# interface's deletion and re-creation, and every Grafana query (tests/prometheus_live.py says
# how). About 80 s. Run by `make test`; .ci/run installs the packages.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
for tool in prometheus promtool prometheus-node-exporter; do
    command -v "$tool" >/dev/null || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "${CI:-}" = true ]; then
        echo "prometheus_live.sh: ${missing[*]} missing; .ci/run installs them" >&2
        exit 1
    fi
    echo "prometheus_live.sh: SKIP: ${missing[*]} missing (apt-get install prometheus prometheus-node-exporter)"
    exit 0
fi

(cd contrib/prometheus && promtool test rules ifstatsd.rules.test.yml)
promtool check rules contrib/prometheus/ifstatsd.rules.yml
IFSTATSD_BIN=${IFSTATSD_BIN:-target/debug/ifstatsd} python3 tests/prometheus_live.py
