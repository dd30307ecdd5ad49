#!/usr/bin/env bash
# Bytes written to flash per day by --state-file at the default settings (10 s interval, 15 min
# save interval), measured from /proc/PID/io with a full hour's worth of ring slots.
#
# A full ring at the default interval holds 361 samples per interface. To get there in half a
# minute, the daemon samples every 100 ms while a writer advances 16 interfaces' counters by what
# 10 s of traffic would add (from idle to 5 MB/s), so the saved deltas have the sizes they have at
# the default interval. Then it saves every second for 20 s, and write_bytes per save is
# multiplied by the 96 saves a day of the default 15 min.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${IFSTATSD_BIN:-target/release/ifstatsd}
work=$(mktemp -d)
daemon= writer=
cleanup() {
    [ -n "$writer" ] && kill "$writer" 2>/dev/null
    [ -n "$daemon" ] && kill "$daemon" 2>/dev/null
    wait 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

python3 - "$work/net_dev" <<'PY' &
import os, sys, time
path = sys.argv[1]
# bytes per 10 s for 16 interfaces: idle, a few KB/s, up to 5 MB/s
rates = [0, 0, 300, 3_000, 20_000, 80_000, 150_000, 400_000, 900_000, 1_500_000,
         2_500_000, 4_000_000, 8_000_000, 15_000_000, 30_000_000, 50_000_000]
counters = [[0] * 16 for _ in rates]
names = ["lo", "eth0", "eth0.1", "eth0.2", "br-lan", "wlan0", "wlan1", "pppoe-wan",
         "wg0", "tun0", "phy0-ap0", "phy1-ap0", "lan1", "lan2", "lan3", "wan"]
while True:
    lines = ["Inter-|   Receive |  Transmit", " face |bytes packets|bytes packets"]
    for i, rate in enumerate(rates):
        c = counters[i]
        c[0] += rate; c[1] += rate // 700 + (1 if rate else 0)
        c[8] += rate // 3; c[9] += rate // 2100 + (1 if rate else 0)
        lines.append("%9s: %s" % (names[i], " ".join(map(str, c))))
    with open(path + ".tmp", "w") as f:
        f.write("\n".join(lines) + "\n")
    os.rename(path + ".tmp", path)
    time.sleep(0.1)
PY
writer=$!
until [ -s "$work/net_dev" ]; do sleep 0.05; done
mkdir "$work/sysfs"

"$BIN" --listen 127.0.0.1:0 --interval 100ms --source "$work/net_dev" --sysfs "$work/sysfs" \
    --state-file "$work/state" --save-interval 1s --log-level warn &
daemon=$!
echo "filling the rings: 361 samples of 16 interfaces at 100 ms..."
sleep 38
io() { awk -v k="$1" '$1 == k":" { print $2 }' "/proc/$daemon/io"; }
before_bytes=$(io write_bytes); before_calls=$(io syscw); before_chars=$(io wchar)
sleep 20
after_bytes=$(io write_bytes); after_calls=$(io syscw); after_chars=$(io wchar)
size=$(stat -c %s "$work/state")
saves=20
per_save=$(( (after_bytes - before_bytes) / saves ))
chars_per_save=$(( (after_chars - before_chars) / saves ))
per_day=$(( per_save * 96 ))
fs=$(stat -f -c %T "$work")
cat <<REPORT
state file: $size bytes for 16 interfaces with a full ring ($(( size / 16 )) bytes per interface-hour)
per save: $chars_per_save bytes written by the process (wchar), $per_save bytes to storage (write_bytes, $fs)
per day at the default 15 min save interval (96 saves): $per_day bytes ($(( per_day / 1024 )) KiB)
REPORT
