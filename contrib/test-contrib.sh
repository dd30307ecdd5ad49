#!/usr/bin/env bash
# Checks contrib/ against the real binary, with no router, systemd or network:
#  1. every --flag the files name exists in `ifstatsd --help`; the init script
#     and the env file map every option of --help (the init script all but
#     the test-only --source, --sysfs and --boot-id-file); the UCI file holds
#     only options a router admin sets, each one the init script validates,
#     and its values are the binary's defaults;
#  2. the OpenWrt init script is POSIX sh (sh -n; shellcheck -s sh if it can
#     be had);
#  3. its start_service and service_triggers, run over a fake UCI/procd
#     (openwrt/test/), hand procd the exact instance expected: the command
#     line, an unprivileged user in a read-only jail, no capabilities (or
#     CAP_NET_BIND_SERVICE alone below port 1024), the config reload trigger,
#     the listen interface's trigger and the validation; for the shipped UCI
#     file, a disabled one, one with every option set, one listening on an
#     interface (up, then down), and invalid ones, refused with no instance;
#     the shipped one's command line starts the real daemon, which saves its
#     state and exits 0 on SIGTERM;
#  4. procd and systemd never give up restarting the daemon: procd's respawn
#     retry is 0, the service has StartLimitIntervalSec=0 and Restart=always;
#  5. the socket unit listens where the binary does by default, with the
#     binary's backlog, FreeBind= and one TCP socket the daemon takes itself;
#     systemd-analyze verify accepts both units, where systemd-analyze exists;
#  6. the OpenWrt package Makefile has the metadata a feed needs, installs
#     the files that exist here, and the capabilities file is valid JSON
#     naming CAP_NET_BIND_SERVICE alone.
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
# --log-level), commented-out examples included. UCI options that are not
# flags (enabled, interface, port: the init script makes --listen of them)
# are left out.
flags_of() {
    case $1 in
    *.config) sed -E 's/^[[:space:]]*#?[[:space:]]*//' "$1" |
                  awk '($1 == "option" || $1 == "list") && $2 !~ /^(enabled|interface|port)$/ {
                      gsub("_", "-", $2); print "--" $2 }' ;;
    *.env) grep -oE 'IFSTATSD_[A-Z][A-Z_]*' "$1" | sed 's/^IFSTATSD_//; s/_/-/g' |
               tr '[:upper:]' '[:lower:]' | sed 's/^/--/' ;;
    *) grep -v '^[[:space:]]*#' "$1" | grep -oE -- '--[a-z][a-z-]+' ;;
    esac | sort -u
}
known=$(grep -oE -- '--[a-z][a-z-]+' <<<"$help" | sort -u)
# The options --help lists, one per line starting with two spaces and --.
options=$(grep -oE '^  --[a-z][a-z-]+' <<<"$help" | tr -d ' ' | sort -u)
# Options for tests, which a router never changes: not in the init script.
test_only=$'--boot-id-file\n--source\n--sysfs'
for file in "$init" "$uci" "$unit" "$envfile"; do
    missing=$(comm -23 <(flags_of "$file") <(echo "$known") | tr '\n' ' ')
    verdict "${#missing}" "$file: every flag it names is in --help" "lacking: $missing"
done
unmapped=$(comm -13 <(flags_of "$envfile") <(echo "$options") | tr '\n' ' ')
verdict "${#unmapped}" "$envfile: maps every option of --help" "not mapped: $unmapped"
unmapped=$(comm -13 <(flags_of "$init") <(comm -23 <(echo "$options") <(echo "$test_only")) | tr '\n' ' ')
verdict "${#unmapped}" "$init: maps every option of --help but the test-only ones" "not mapped: $unmapped"
leaked=$(comm -12 <({ flags_of "$init"; flags_of "$uci"; } | sort -u) <(echo "$test_only") | tr '\n' ' ')
verdict "${#leaked}" "$init, $uci: no test-only option (--source, --sysfs, --boot-id-file)" "$leaked"
# Each option of the UCI file is one the init script validates (a typo in a
# name would otherwise be silently ignored).
validated=$(grep -oE "^[[:space:]]*'[a-z_]+:" "$init" | tr -d "\t ':" | sort -u)
shipped=$(sed -E 's/^[[:space:]]*#?[[:space:]]*//' "$uci" | awk '$1 == "option" || $1 == "list" { print $2 }' | sort -u)
unknown=$(comm -23 <(echo "$shipped") <(echo "$validated") | tr '\n' ' ')
verdict "${#unknown}" "$uci: every option is one the init script validates" "unknown: $unknown"
# Each UCI value that is set must be the binary's default, except the state
# file, which is off in the binary and under /tmp on OpenWrt; listen and port
# together make --listen.
defaults=$(awk '/^  --/ { flag = $1 } match($0, /\[default: [^]]*\]/) {
    print flag, substr($0, RSTART + 10, RLENGTH - 11) }' <<<"$help")
uci_value() { awk -v q="'" -v o="$1" '$1 == "option" && $2 == o { v = $3; gsub(q, "", v); print v }' "$uci"; }
differ=$(awk -v q="'" 'NR == FNR { d[$1] = $2; next }
    $1 == "option" && $2 !~ /^(enabled|state_file|listen|port|interface)$/ && $3 != q q {
        v = $3; gsub(q, "", v); f = "--" $2; gsub("_", "-", f)
        if (f in d && d[f] != v) print f " " v " (binary: " d[f] ")" }' \
    <(echo "$defaults") "$uci" | tr '\n' ';')
listen="$(uci_value listen):$(uci_value port)"
[ "$listen" = "$(awk '$1 == "--listen" { print $2 }' <<<"$defaults")" ] ||
    differ="$differ listen:port $listen"
verdict "${#differ}" "$uci: its values are the binary's defaults" "$differ"

# --- 2. POSIX sh
sh -n "$init"
verdict $? "sh -n $init"
if ! command -v shellcheck >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get install -y -qq shellcheck >/dev/null 2>&1 ||
        { apt-get update -qq && apt-get install -y -qq shellcheck; } >/dev/null 2>&1
fi
if command -v shellcheck >/dev/null; then
    shellcheck -s sh "$init" "$(dirname "$init")/test/fake-openwrt.sh" \
        "$(dirname "$init")/test/lib/functions/network.sh"
    verdict $? "shellcheck -s sh"
else
    echo "skipped: shellcheck is not installed and could not be"
fi

# --- 3. what procd is given
# Run in a directory holding a file eth0: a glob left unquoted would expand.
touch "$scratch/eth0"
fake=$PWD/contrib/openwrt/test/fake-openwrt.sh script=$PWD/$init
fakeroot=$PWD/contrib/openwrt/test
procd_gets() { # UCI_DIR: prints the instance, as fake-openwrt.sh does
    (cd "$scratch" && UCI_CONFIG_DIR=$1 IPKG_INSTROOT=$fakeroot sh -c \
        '. "$0" && . "$1"; start_service; service_triggers' "$fake" "$script")
}
expect() { # NAME UCI_DIR EXPECTED
    local got
    got=$(procd_gets "$2" 2>&1)
    if [ "$got" = "$3" ]; then pass "procd is given the $1"; else
        fail "procd is given the $1:"; diff <(echo "$3") <(echo "$got")
    fi
}
procd_user="user: ifstatsd
group: ifstatsd
no_new_privs: 1"
procd_tail="respawn: 3600 5 0
term_timeout: 10
limits: 'nofile=4096 4096'
env: RUST_MIN_STACK=131072
stdout: 1
stderr: 1"
triggers="reload trigger: ifstatsd
validation: validate_ifstatsd_section"
jail="jail: ifstatsd log procfs sysfs ronly"

mkdir "$scratch/shipped" && cp "$uci" "$scratch/shipped/ifstatsd"
expect "shipped config" "$scratch/shipped" "instance: instance1
$jail
mkdir -p /tmp/ifstatsd
chown ifstatsd:ifstatsd /tmp/ifstatsd
jail mount rw: /tmp/ifstatsd
command: /usr/sbin/ifstatsd --listen 127.0.0.1:9310 --interval 10s\
 --log-level info --log-target stderr --state-file /tmp/ifstatsd/state\
 --save-interval 15m --max-interfaces 128 --max-connections 64 --billing-day 1
$procd_user
$procd_tail
$triggers"

mkdir "$scratch/off" && sed "s/option enabled '1'/option enabled '0'/" "$uci" >"$scratch/off/ifstatsd"
expect "disabled config (no instance)" "$scratch/off" "$triggers"

mkdir "$scratch/full" && cat >"$scratch/full/ifstatsd" <<'EOF'
config ifstatsd 'main'
	option enabled 'yes'
	option listen '::1'
	option port '80'
	option interval '1s'
	option log_level 'debug'
	option log_target 'syslog'
	option state_file '/mnt/usb stick/ifstatsd/state'
	option save_interval '0'
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
expect "config with every option (port 80: CAP_NET_BIND_SERVICE)" "$scratch/full" "instance: instance1
$jail
mkdir -p '/mnt/usb stick/ifstatsd'
chown ifstatsd:ifstatsd '/mnt/usb stick/ifstatsd'
jail mount rw: '/mnt/usb stick/ifstatsd'
command: /usr/sbin/ifstatsd --listen '[::1]:80' --interval 1s --log-level debug\
 --log-target syslog --state-file '/mnt/usb stick/ifstatsd/state'\
 --save-interval 0 --include 'eth*' --include 'br-?an' --exclude eth0.2\
 --link-speed wan=100M --link-speed wwan0=2.5M\
 --max-interfaces 16 --max-connections 8 --idle-timeout 30s --write-timeout 2s\
 --billing-day 15 --quota wan=500G --quota wwan0=1.5GiB
$procd_user
capabilities: /etc/capabilities/ifstatsd.json
$procd_tail
$triggers"

# Listening on the LAN interface: its address when it is up, and the
# interface trigger; no instance while it is down (the trigger starts it).
mkdir "$scratch/lan" && sed "s/#option interface 'lan'/option interface 'lan'/; s/option state_file .*/option state_file ''/" \
    "$uci" >"$scratch/lan/ifstatsd"
lan_triggers="reload trigger: ifstatsd
interface trigger: 'interface.*.up' lan /etc/init.d/ifstatsd reload
validation: validate_ifstatsd_section"
export FAKE_IPADDR_lan=192.168.1.1
expect "config listening on the LAN interface, up" "$scratch/lan" "instance: instance1
$jail
command: /usr/sbin/ifstatsd --listen 192.168.1.1:9310 --interval 10s\
 --log-level info --log-target stderr --max-interfaces 128 --max-connections 64\
 --billing-day 1
$procd_user
$procd_tail
$lan_triggers"
unset FAKE_IPADDR_lan
expect "config listening on the LAN interface, down (no instance yet)" "$scratch/lan" \
    "ifstatsd: interface lan has no IPv4 address yet; starting when it is up
$lan_triggers"

# Invalid configs: refused with a line saying why, and no instance (no
# daemon exiting 2 every 5 seconds).
invalid() { # NAME SED-EXPRESSION EXPECTED-LINES
    mkdir "$scratch/bad-$1" && sed "$2" "$uci" >"$scratch/bad-$1/ifstatsd"
    expect "invalid config refused: $1" "$scratch/bad-$1" "$3
$triggers"
}
refused="ifstatsd: /etc/config/ifstatsd is invalid (see logread); not started"
invalid log_level "s/option log_level 'info'/option log_level 'verbose'/" \
    "validation: main.log_level: 'verbose' is not a or(\"error\",\"warn\",\"info\",\"debug\",\"trace\")
$refused"
invalid port "s/option port '9310'/option port '93100'/" \
    "validation: main.port: '93100' is not a port
$refused"
invalid listen "s/option listen '127.0.0.1'/option listen '127.0.0.1:9310'/" \
    "validation: main.listen: '127.0.0.1:9310' is not a ipaddr
$refused"
invalid max_connections "s/option max_connections '64'/option max_connections '0'/" \
    "validation: main.max_connections: '0' is not a range(1,10000)
$refused"
invalid enabled "s/option enabled '1'/option enabled 'maybe'/" \
    "validation: main.enabled: 'maybe' is not a bool
$refused"
invalid interval "s/option interval '10s'/option interval '10 s'/" \
    "ifstatsd: '10 s' is not a duration (500ms, 10s, 15m, 1h); not started"
invalid billing_day "s/option billing_day '1'/option billing_day '29'/" \
    "validation: main.billing_day: '29' is not a range(1,28)
$refused"

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

# --- 6. the OpenWrt package
pkg=contrib/openwrt/ifstatsd/Makefile
pkg_var() { sed -nE "s/^$1:=(.*)$/\1/p" "$pkg" | head -1; }
crate_version=$(sed -nE 's/^version = "(.*)"$/\1/p' Cargo.toml | head -1)
[ "$(pkg_var PKG_VERSION)" = "$crate_version" ]
verdict $? "$pkg: PKG_VERSION is Cargo.toml's $crate_version" "it is $(pkg_var PKG_VERSION)"
problems=
for var in PKG_NAME PKG_RELEASE PKG_MAINTAINER PKG_LICENSE PKG_LICENSE_FILES PKG_BUILD_DEPENDS; do
    [ -n "$(pkg_var "$var")" ] || problems="$problems no $var;"
done
for file in $(pkg_var PKG_LICENSE_FILES); do
    [ -s "$file" ] || problems="$problems no license file $file;"
done
[ "$(pkg_var PKG_LICENSE)" = "$(sed -nE 's/^license = "(.*)"$/\1/p' Cargo.toml)" ] ||
    problems="$problems PKG_LICENSE is not Cargo.toml's license;"
grep -q '^include $(TOPDIR)/feeds/packages/lang/rust/rust-package.mk$' "$pkg" ||
    problems="$problems no rust-package.mk;"
grep -q '^$(eval $(call RustBinPackage,ifstatsd))$' "$pkg" || problems="$problems no RustBinPackage;"
grep -q 'DEPENDS:=$(RUST_ARCH_DEPENDS)' "$pkg" || problems="$problems no RUST_ARCH_DEPENDS;"
grep -q 'USERID:=ifstatsd=[0-9]*:ifstatsd=[0-9]*' "$pkg" || problems="$problems no USERID for the user ifstatsd;"
grep -q 'define Package/ifstatsd/description' "$pkg" || problems="$problems no description;"
[ "$(sed -n '/^define Package\/ifstatsd\/conffiles/,/^endef/p' "$pkg" | sed '1d;$d')" = /etc/config/ifstatsd ] ||
    problems="$problems conffiles is not /etc/config/ifstatsd;"
# Every file the package installs from the build directory (a copy of this tree) exists.
for file in $(grep -oE '\$\(PKG_BUILD_DIR\)/[^ ]+' "$pkg" | sed 's/^$(PKG_BUILD_DIR)\///'); do
    [ -f "$file" ] || problems="$problems installs $file, which does not exist;"
done
# The init script runs the user the package creates, and names the capabilities file it installs.
grep -q 'procd_set_param user ifstatsd' "$init" || problems="$problems the init script does not run as ifstatsd;"
caps=$(sed -nE 's/^CAPABILITIES=(.*)$/\1/p' "$init")
grep -qF "\$(1)$caps" "$pkg" ||
    problems="$problems the package does not install $caps;"
verdict "${#problems}" "$pkg: a feed package (metadata, license files, RustBinPackage, installs)" "$problems"
python3 - contrib/openwrt/ifstatsd.capabilities.json <<'EOF'
import json, sys
caps = json.load(open(sys.argv[1]))
sets = {"bounding", "effective", "ambient", "permitted", "inheritable"}
assert set(caps) <= sets, f"unknown keys {set(caps) - sets}"
for key, value in caps.items():
    assert value == ["CAP_NET_BIND_SERVICE"], f"{key}: {value}"
EOF
verdict $? "contrib/openwrt/ifstatsd.capabilities.json: JSON granting CAP_NET_BIND_SERVICE alone"

echo "contrib: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
