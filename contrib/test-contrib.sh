#!/usr/bin/env bash
# Checks contrib/ against the real binary, with no router, systemd or network:
#  1. every --flag the files name exists in `ifstatsd --help`, every option of
#     --help is mapped by the init script, the UCI file and the env file, and
#     the UCI defaults are the binary's;
#  2. the OpenWrt init script is POSIX sh (sh -n; shellcheck -s sh if it can
#     be had);
#  3. its start_service, run over a fake UCI/procd (openwrt/test/), hands procd
#     the exact command line expected, for the shipped UCI file, a disabled one
#     and one with every option set; the shipped one's command line starts
#     the real daemon, which saves its state and exits 0 on SIGTERM;
#  4. procd and systemd never give up restarting the daemon: procd's respawn
#     retry is 0, the service has StartLimitIntervalSec=0 and Restart=always;
#  5. the socket unit listens where the binary does by default, with the
#     binary's backlog, FreeBind= and one TCP socket the daemon takes itself;
#     systemd-analyze verify accepts both units, where systemd-analyze exists.
# The closing line is "contrib: N passed, N failed"; the exit status is 1 if
# any check failed.
# IFSTATSD_BIN: the binary to check; otherwise `cargo build` makes one.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

passed=0 failed=0
pass() { passed=$((passed + 1)); echo "ok: $*"; }
fail() { failed=$((failed + 1)); echo "FAILED: $*"; }
# verdict STATUS WHAT [WHY]: passes WHAT if STATUS is 0 (an exit status, or
# the length of a list of problems), else fails WHAT: WHY.
verdict() { if [ "$1" = 0 ]; then pass "$2"; else fail "$2${3:+: $3}"; fi; }

if [ -z "${IFSTATSD_BIN:-}" ]; then
    cargo build --quiet || exit 1
    IFSTATSD_BIN=${CARGO_TARGET_DIR:-target}/debug/ifstatsd
fi
help=$("$IFSTATSD_BIN" --help) || { echo "$IFSTATSD_BIN --help failed"; exit 1; }

init=contrib/openwrt/ifstatsd.init
uci=contrib/openwrt/ifstatsd.config
unit=contrib/systemd/ifstatsd.service
socket=contrib/systemd/ifstatsd.socket
envfile=contrib/systemd/ifstatsd.env
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

# --- 1. flags
# The flags each file names: --flags outside comments, UCI option names
# (log_level is --log-level) and IFSTATSD_* variables (IFSTATSD_LOG_LEVEL is
# --log-level), commented-out examples included.
flags_of() {
    case $1 in
    *.config) sed -E 's/^[[:space:]]*#?[[:space:]]*//' "$1" |
                  awk '($1 == "option" || $1 == "list") && $2 != "enabled" {
                      gsub("_", "-", $2); print "--" $2 }' ;;
    *.env) grep -oE 'IFSTATSD_[A-Z][A-Z_]*' "$1" | sed 's/^IFSTATSD_//; s/_/-/g' |
               tr '[:upper:]' '[:lower:]' | sed 's/^/--/' ;;
    *) grep -v '^[[:space:]]*#' "$1" | grep -oE -- '--[a-z][a-z-]+' ;;
    esac | sort -u
}
known=$(grep -oE -- '--[a-z][a-z-]+' <<<"$help" | sort -u)
# The options --help lists, one per line starting with two spaces and --.
options=$(grep -oE '^  --[a-z][a-z-]+' <<<"$help" | tr -d ' ' | sort -u)
for file in "$init" "$uci" "$unit" "$envfile"; do
    missing=$(comm -23 <(flags_of "$file") <(echo "$known") | tr '\n' ' ')
    verdict "${#missing}" "$file: every flag it names is in --help" "lacking: $missing"
done
for file in "$init" "$uci" "$envfile"; do
    unmapped=$(comm -13 <(flags_of "$file") <(echo "$options") | tr '\n' ' ')
    verdict "${#unmapped}" "$file: maps every option of --help" "not mapped: $unmapped"
done
# Each UCI value that is set must be the binary's default, except the state
# file, which is off in the binary and under /tmp on OpenWrt.
defaults=$(awk '/^  --/ { flag = $1 } match($0, /\[default: [^]]*\]/) {
    print flag, substr($0, RSTART + 10, RLENGTH - 11) }' <<<"$help")
differ=$(awk -v q="'" 'NR == FNR { d[$1] = $2; next }
    $1 == "option" && $2 != "enabled" && $2 != "state_file" && $3 != q q {
        v = $3; gsub(q, "", v); f = "--" $2; gsub("_", "-", f)
        if (f in d && d[f] != v) print f " " v " (binary: " d[f] ")" }' \
    <(echo "$defaults") "$uci" | tr '\n' ';')
verdict "${#differ}" "$uci: its values are the binary's defaults" "$differ"

# --- 2. POSIX sh
sh -n "$init"
verdict $? "sh -n $init"
if ! command -v shellcheck >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get install -y -qq shellcheck >/dev/null 2>&1 ||
        { apt-get update -qq && apt-get install -y -qq shellcheck; } >/dev/null 2>&1
fi
if command -v shellcheck >/dev/null; then
    shellcheck -s sh "$init" "$(dirname "$init")/test/fake-openwrt.sh"
    verdict $? "shellcheck -s sh"
else
    echo "skipped: shellcheck is not installed and could not be"
fi

# --- 3. what procd is given
# Run in a directory holding a file eth0: a glob left unquoted would expand.
touch "$scratch/eth0"
fake=$PWD/contrib/openwrt/test/fake-openwrt.sh script=$PWD/$init
procd_gets() { # UCI_DIR: prints the instance, as fake-openwrt.sh does
    (cd "$scratch" && UCI_CONFIG_DIR=$1 sh -c \
        '. "$0" && . "$1" && start_service && service_triggers' "$fake" "$script")
}
expect() { # NAME UCI_DIR EXPECTED
    local got
    got=$(procd_gets "$2" 2>&1)
    if [ "$got" = "$3" ]; then pass "procd is given the $1"; else
        fail "procd is given the $1:"; diff <(echo "$3") <(echo "$got")
    fi
}
procd_tail="respawn: 3600 5 0
term_timeout: 10
limits: 'nofile=4096 4096'
env: RUST_MIN_STACK=131072
stdout: 1
stderr: 1
reload trigger: ifstatsd"

mkdir "$scratch/shipped" && cp "$uci" "$scratch/shipped/ifstatsd"
expect "shipped config" "$scratch/shipped" "instance: instance1
mkdir -p /tmp/ifstatsd
command: /usr/sbin/ifstatsd --listen 127.0.0.1:9310 --source /proc/net/dev\
 --sysfs /sys/class/net --interval 10s --log-level info --log-target stderr\
 --state-file /tmp/ifstatsd/state --save-interval 15m\
 --boot-id-file /proc/sys/kernel/random/boot_id --max-connections 64\
 --idle-timeout 15s --write-timeout 300ms --billing-day 1
$procd_tail"

mkdir "$scratch/off" && sed "s/option enabled '1'/option enabled '0'/" "$uci" >"$scratch/off/ifstatsd"
expect "disabled config (no instance)" "$scratch/off" "reload trigger: ifstatsd"

mkdir "$scratch/full" && cat >"$scratch/full/ifstatsd" <<'EOF'
config ifstatsd 'main'
	option enabled 'yes'
	option listen '[::1]:8080'
	option source '/tmp/dev'
	option sysfs '/tmp/sys'
	option interval '1s'
	option log_level 'debug'
	option log_target 'syslog'
	option state_file '/mnt/usb stick/ifstatsd/state'
	option save_interval '0'
	option boot_id_file '/tmp/boot_id'
	list include 'eth*'
	list include 'br-?an'
	list exclude 'eth0.2'
	list link_speed 'wan=100M'
	list link_speed 'wwan0=2.5M'
	option max_interfaces '16'
	option max_connections '8'
	option idle_timeout '30s'
	option write_timeout '2s'
	option billing_day '15'
	list quota 'wan=500G'
	list quota 'wwan0=1.5GiB'
EOF
expect "config with every option" "$scratch/full" "instance: instance1
mkdir -p '/mnt/usb stick/ifstatsd'
command: /usr/sbin/ifstatsd --listen '[::1]:8080' --source /tmp/dev\
 --sysfs /tmp/sys --interval 1s --log-level debug --log-target syslog\
 --state-file '/mnt/usb stick/ifstatsd/state' --save-interval 0\
 --boot-id-file /tmp/boot_id --include 'eth*' --include 'br-?an'\
 --exclude eth0.2 --link-speed wan=100M --link-speed wwan0=2.5M\
 --max-interfaces 16 --max-connections 8 --idle-timeout 30s --write-timeout 2s\
 --billing-day 15 --quota wan=500G --quota wwan0=1.5GiB
$procd_tail"

# The shipped config's command line, run for real: its values are accepted.
# On a free port, with the state file in scratch and procd's environment;
# SIGTERM must save the state file and exit 0.
read -ra args <<<"$(procd_gets "$scratch/shipped" | sed -n 's/^command: [^ ]* //p')"
RUST_MIN_STACK=131072 "$IFSTATSD_BIN" "${args[@]}" --listen 127.0.0.1:0 \
    --state-file "$scratch/state" 2>"$scratch/log" &
pid=$!
sleep 1
kill -TERM "$pid" 2>/dev/null
wait "$pid"
rc=$?
[ -s "$scratch/state" ] || rc="$rc, no state file"
verdict "$rc" "the shipped config runs the daemon" "exit $rc, $(head -c 300 "$scratch/log")"

# --- 4. restarts for ever
# procd's `respawn THRESHOLD TIMEOUT RETRY` gives up after RETRY quick exits in
# a row, unless RETRY is 0 (service/instance.c, instance_exit()).
read -r _ threshold timeout retry rest <<<"$(procd_gets "$scratch/shipped" | grep '^respawn:')"
[ "$retry" = 0 ] && [ "${timeout:-0}" -ge 1 ] && [ -n "$threshold" ] && [ -z "$rest" ]
verdict $? "procd respawns for ever, a delay apart" "respawn $threshold $timeout $retry $rest"

# unit_value FILE SECTION KEY: the last value KEY= is given in [SECTION].
unit_value() {
    awk -v section="[$2]" -v key="$3" '/^\[/ { in_section = ($0 == section) }
        in_section && index($0, key "=") == 1 { value = substr($0, length(key) + 2) }
        END { print value }' "$1"
}
# expect_value FILE SECTION KEY VALUE [WHY]
expect_value() {
    local got
    got=$(unit_value "$1" "$2" "$3")
    [ "$got" = "$4" ]
    verdict $? "$1: $3=$4${5:+ ($5)}" "it is \"$got\""
}
expect_value "$unit" Unit StartLimitIntervalSec 0 "systemd never stops restarting it"
expect_value "$unit" Service Restart always
expect_value "$unit" Service RestartPreventExitStatus 2 "but a bad flag stops it"

# --- 5. the socket unit, and both units pointed at the binary under test
default_listen=$(awk '$1 == "--listen" { print $2 }' <<<"$defaults")
backlog=$(sed -n 's/^const BACKLOG: i32 = \([0-9]*\);/\1/p' src/serve/mod.rs)
expect_value "$socket" Socket ListenStream "$default_listen" "the binary's default"
listens=$(grep -cE '^(Listen[A-Za-z]*|Accept)=' "$socket")
verdict "$((listens - 2))" "$socket: one ListenStream= and Accept=, no other Listen*=" \
    "$(grep -E '^(Listen[A-Za-z]*|Accept)=' "$socket" | tr '\n' ' ')"
expect_value "$socket" Socket Accept no "the daemon takes the listener"
expect_value "$socket" Socket Backlog "$backlog" "src/serve/mod.rs BACKLOG"
expect_value "$socket" Socket FreeBind true
expect_value "$socket" Socket NoDelay true
expect_value "$socket" Install Also ifstatsd.service "the daemon starts at boot, not at the first request"
if command -v systemd-analyze >/dev/null; then
    sed "s#/usr/local/bin/ifstatsd#$(realpath "$IFSTATSD_BIN")#" "$unit" >"$scratch/ifstatsd.service"
    cp "$socket" "$scratch/ifstatsd.socket"
    out=$(systemd-analyze verify --man=no "$scratch/ifstatsd.socket" \
        "$scratch/ifstatsd.service" 2>&1) || out="failed $out"
    verdict "${#out}" "systemd-analyze verify $unit $socket" "$out"
else
    echo "skipped: systemd-analyze is not installed"
fi

echo "contrib: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
