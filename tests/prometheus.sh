#!/usr/bin/env bash
# /metrics read by a real Prometheus exposition-format parser (prometheus_client) and compared,
# figure by figure, with the JSON API, link state from a sysfs fixture included. Run by
# `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${IFSTATSD_BIN:-target/debug/ifstatsd}
VENV=${PROMETHEUS_VENV:-.venv-prometheus}
source tests/support/lib.sh
ensure_venv "$VENV" prometheus_client "prometheus_client==0.21.1"

# Interfaces with traffic, one vanishing, and a name that needs escaping in a label.
source_at() {
    local k=$1
    printf 'Inter-|   Receive |  Transmit\n face |bytes packets|bytes packets\n'
    printf '    lo: %d %d 0 0 0 0 0 0 %d %d 0 0 0 0 0 0\n' $((k * 700)) $((k * 7)) $((k * 700)) $((k * 7))
    printf '  eth0: %d %d 1 %d 0 0 0 0 %d %d 0 2 0 0 0 0\n' $((k * 150000 + 18446744073709)) $((k * 100)) "$k" $((k * 9000)) $((k * 60))
    printf ' a"b\\c: %d %d 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n' $((k * 10)) "$k"
    [ "$k" -lt 3 ] && printf '  wg0: 5 1 0 0 0 0 0 0 6 1 0 0 0 0 0 0\n'
    return 0
}
source_at 0 > "$work/net_dev"
mkdir "$work/sysfs"
# eth0 has every link attribute node_exporter's netclass reads; the others have none.
mkdir "$work/sysfs/eth0"
for kv in ifindex=2 operstate=up mtu=1500 carrier=1 address=02:00:00:00:00:0a \
          broadcast=ff:ff:ff:ff:ff:ff 'ifalias=uplink "fibre"' speed=1000 duplex=full; do
    printf '%s\n' "${kv#*=}" > "$work/sysfs/eth0/${kv%%=*}"
done
port=$(free_port)
# eth0's speed from --link-speed, lo's from a sysfs fixture (10 Mbit/s), wg0's unknown.
mkdir "$work/sysfs/lo" && echo 10 > "$work/sysfs/lo/speed"
start_daemon "$BIN" "$port" --interval 100ms --source "$work/net_dev" --sysfs "$work/sysfs" \
    --link-speed eth0=100M --log-level warn --quota eth0=1G
# Six steps of traffic, paced over several samples (pacing, not waiting: the check below reads
# whatever sample is current and compares it exactly).
for k in 1 2 3 4 5 6; do
    sleep 0.15
    source_at "$k" > "$work/net_dev.tmp" && mv "$work/net_dev.tmp" "$work/net_dev"
done
"$VENV/bin/python" tests/prometheus_check.py "http://127.0.0.1:$port"
