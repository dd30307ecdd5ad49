#!/usr/bin/env bash
# Issue 12 on a 32-bit build: any Content-Length gets a 4xx answer and the process goes on, and
# the seamless restart (exec of /proc/self/exe) works. The daemon is built for
# armv7-unknown-linux-musleabihf (usize is 32 bits there, as on most routers) and run under
# qemu-user on loopback (qemu-user shares the host's network stack).
#
#   IFSTATSD_ARM_BIN   an armv7 musl build to test instead of building one
#   QEMU_ARM_PLAIN=1   skip the private binfmt_misc, as where the kernel has none (section 3)
#   QEMU_ARM_BUILD_ONLY=1  build, print the binary's path as the last line, run nothing
#                      (tests/qemu_cross.sh builds the armv7 binary this way)
#
# Why 32-bit matters: tiny_http parses Content-Length as a usize and, when a request is answered
# without its body being read, allocates the rest of the body whole (`vec![0; n]`) to discard it.
# On 32 bits 2^32 and up do not parse (tiny_http sees no body), 2^31 .. 2^32-1 overflow the
# allocation (a panic the request loop catches), and 2^31-1 (isize::MAX) is a block that
# qemu-arm's 32-bit address space cannot map (the request is answered by hand and parked; where
# it can be mapped, it is drained like a shorter one). The cases below cover each range.
#
# Under CI=true as root it installs what it needs (see `install`); elsewhere it says what is
# missing. The nightly standard library it builds is cached in target/qemu-arm, so a second run
# only rebuilds the daemon. Prints `qemu_arm: N passed, N failed`; exits 1 on any failure.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

TARGET=armv7-unknown-linux-musleabihf
TRIPLE_VAR=ARMV7_UNKNOWN_LINUX_MUSLEABIHF
ARM_DIR=${CARGO_TARGET_DIR:-$root/target}/qemu-arm
case $ARM_DIR in /*) ;; *) ARM_DIR=$root/$ARM_DIR ;; esac
# Debian's names for what the build links against (multiarch armhf packages) and runs with.
APT_BUILD=(musl-dev:armhf gcc-arm-linux-gnueabihf binutils-arm-linux-gnueabihf)
APT_RUN=(qemu-user)

say() { echo "qemu_arm: $*"; }
die() { say "$*" >&2; exit 1; }

passed=0 failed=0
check() { # check DESCRIPTION COMMAND...: one assertion
    local what=$1
    shift
    if "$@"; then
        passed=$((passed + 1))
        echo "  ok    $what"
    else
        failed=$((failed + 1))
        echo "  FAIL  $what"
    fi
}

work=$(mktemp -d)
pids=()
cleanup() {
    local pid i
    # The daemons first (each was added after the process that started it), then the rest.
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill "${pids[i]}" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

# --- 1. what it needs ---------------------------------------------------------------------------

# LLVM's libunwind for armhf: the package is named after the LLVM version (libunwind-14-dev on
# Debian 12), so take the newest one apt knows.
libunwind_package() {
    apt-cache pkgnames libunwind- 2>/dev/null | grep -E '^libunwind-[0-9]+-dev$' | sort -V | tail -1
}

# Installing is for CI (a root shell that CI=true says may be changed); elsewhere it is asked for.
may_install() { [ "${CI:-}" = true ] && [ "$(id -u)" = 0 ]; }

install() {
    local need_build=$1 missing=()
    command -v qemu-arm >/dev/null || missing+=("${APT_RUN[@]}")
    if [ "$need_build" = yes ]; then
        # No prebuilt standard library is served for this target: nightly builds it from
        # rust-src (-Zbuild-std).
        if ! rustup run nightly rustc --version >/dev/null 2>&1; then
            may_install ||
                die "no nightly toolchain: rustup toolchain install nightly --profile minimal --component rust-src"
            say "installing the nightly toolchain"
            rustup toolchain install nightly --profile minimal --component rust-src
        fi
        # `component add`, not `toolchain install`: the latter would update an installed
        # nightly, and a new nightly rebuilds the cached standard library.
        if [ ! -d "$(rustup run nightly rustc --print sysroot)/lib/rustlib/src/rust/library" ]; then
            may_install || die "no rust-src: rustup component add rust-src --toolchain nightly"
            rustup component add rust-src --toolchain nightly
        fi
        # The link needs what rustup would ship in the target's self-contained directory:
        # musl's crt objects and libc.a, gcc's crtbegin.o/crtend.o, and libunwind.a.
        [ -f /usr/lib/arm-linux-musleabihf/libc.a ] || missing+=("${APT_BUILD[@]}")
        command -v arm-linux-gnueabihf-gcc >/dev/null || missing+=("${APT_BUILD[@]}")
        [ -e /usr/lib/arm-linux-gnueabihf/libunwind.a ] || missing+=(LIBUNWIND)
    fi
    [ ${#missing[@]} -eq 0 ] && return 0
    if ! may_install; then
        die "missing ${missing[*]}: as root, dpkg --add-architecture armhf && apt-get update &&" \
            "apt-get install --no-install-recommends ${APT_RUN[*]} ${APT_BUILD[*]}" \
            "libunwind-14-dev:armhf (or run this under CI=true as root)"
    fi
    say "installing ${missing[*]}"
    dpkg --print-foreign-architectures | grep -qx armhf || dpkg --add-architecture armhf
    apt-get update -qq
    local packages=("${APT_RUN[@]}")
    if [ "$need_build" = yes ]; then
        local libunwind
        libunwind=$(libunwind_package)
        [ -n "$libunwind" ] || die "apt knows no libunwind-N-dev package"
        packages+=("${APT_BUILD[@]}" "$libunwind:armhf")
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
}

# --- 2. the armv7 binary ------------------------------------------------------------------------

# The link directory standing in for rustup's self-contained one (rustc finds crt objects and
# libraries in -L native= directories). Debian's libunwind.a is built with _FORTIFY_SOURCE and
# calls glibc's __fprintf_chk (only on its "not implemented" abort paths), which musl lacks: a
# small shim, added to a copy of the archive, forwards it to vfprintf.
link_dir() {
    local dir=$ARM_DIR/link f
    mkdir -p "$dir"
    for f in crt1.o crti.o crtn.o libc.a libdl.a libpthread.a libm.a librt.a; do
        ln -sf "/usr/lib/arm-linux-musleabihf/$f" "$dir/$f"
    done
    for f in crtbegin.o crtend.o; do
        ln -sf "$(arm-linux-gnueabihf-gcc -print-file-name=$f)" "$dir/$f"
    done
    if [ ! -f "$dir/libunwind.a" ] || [ /usr/lib/arm-linux-gnueabihf/libunwind.a -nt "$dir/libunwind.a" ]; then
        cat > "$dir/fortify.c" <<'EOF'
typedef __builtin_va_list va_list;
struct _IO_FILE;
int vfprintf(struct _IO_FILE *, const char *, va_list);
int __fprintf_chk(struct _IO_FILE *f, int flag, const char *fmt, ...)
{
    (void)flag;
    va_list ap;
    __builtin_va_start(ap, fmt);
    int n = vfprintf(f, fmt, ap);
    __builtin_va_end(ap);
    return n;
}
EOF
        arm-linux-gnueabihf-gcc -O2 -ffreestanding -fno-stack-protector -c "$dir/fortify.c" -o "$dir/fortify.o"
        cp "$(readlink -f /usr/lib/arm-linux-gnueabihf/libunwind.a)" "$dir/libunwind.a.new"
        arm-linux-gnueabihf-ar rs "$dir/libunwind.a.new" "$dir/fortify.o" 2>/dev/null
        mv "$dir/libunwind.a.new" "$dir/libunwind.a"
    fi
    echo "$dir"
}

build() {
    local dir
    dir=$(link_dir)
    say "building for $TARGET (nightly, -Zbuild-std; the standard library is cached in $ARM_DIR)"
    # The flags must stay the same from run to run, or cargo rebuilds the standard library.
    # std without its backtrace symbolizer and unwind tables only where a panic can pass, as
    # `make release-small`: the router binary (about 200 KB less), panics still caught.
    # RUST_LIBC_UNSTABLE_MUSL_V1_2_3: the libc crate (std's and ours) with musl 1.2's 64-bit
    # time_t, so that the clock works past 2038 (contrib/CROSS.md, "Time past 2038").
    env -u RUSTFLAGS -u CARGO_ENCODED_RUSTFLAGS RUST_LIBC_UNSTABLE_MUSL_V1_2_3=1 \
        "CARGO_TARGET_${TRIPLE_VAR}_LINKER=rust-lld" \
        "CARGO_TARGET_${TRIPLE_VAR}_RUSTFLAGS=-L native=$dir -C force-unwind-tables=no" \
        nice cargo +nightly build --quiet --release -Zbuild-std=std,panic_unwind \
        -Zbuild-std-features=panic-unwind,optimize_for_size \
        --target "$TARGET" --target-dir "$ARM_DIR"
    BIN=$ARM_DIR/$TARGET/release/ifstatsd
}

if [ -n "${IFSTATSD_ARM_BIN:-}" ]; then
    install no
    BIN=$IFSTATSD_ARM_BIN
else
    install yes
    build
fi
[ -x "$BIN" ] || die "no executable at $BIN"
if [ "${QEMU_ARM_BUILD_ONLY:-}" = 1 ]; then
    echo "$BIN"
    exit 0
fi
# An ELF executable, 32-bit (class 1), little-endian, for ARM (machine 0x28).
[ "$(od -An -tx1 -N20 "$BIN" | tr -d ' \n')" = 7f454c4601010100000000000000000002002800 ] ||
    die "$BIN is not a 32-bit little-endian ARM executable"
say "$BIN: $(stat -c %s "$BIN") bytes"

# --- 3. running it --------------------------------------------------------------------------------

# Under plain qemu-user the restart cannot work: qemu turns the guest's execve of /proc/self/exe
# into an execve of the guest binary's path by the host kernel, which refuses an ARM ELF
# ("Exec format error") unless binfmt_misc sends ARM binaries to qemu. So, where the kernel
# allows it (Linux 6.7 and later), the daemon runs in a user and mount namespace of its own with
# a binfmt_misc instance of its own that does: nothing changes for the rest of the machine.
# The registration is qemu's own for 32-bit little-endian ARM ELF executables.
QEMU_ARM=$(command -v qemu-arm)
BINFMT=":qemu-arm:M::\\x7fELF\\x01\\x01\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x02\\x00\\x28\\x00:\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\x00\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xfe\\xff\\xff\\xff:$QEMU_ARM:"
cat > "$work/with_binfmt.sh" <<EOF
#!/usr/bin/env bash
# Inside the namespaces: our own binfmt_misc, qemu-arm registered, then the command.
set -e
mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
printf '%s' '$BINFMT' > /proc/sys/fs/binfmt_misc/register
echo \$\$ > "\$PID_FILE"
exec "\$@"
EOF
chmod +x "$work/with_binfmt.sh"

binfmt_works() {
    PID_FILE=$work/probe.pid timeout 60 unshare --user --map-root-user --mount --fork \
        "$work/with_binfmt.sh" "$BIN" --version >/dev/null 2>&1
}

# start MODE NAME ARGS...: starts the daemon (MODE binfmt: run directly in the namespaces above;
# qemu: under qemu-arm), waits for it to serve, and sets $pid, $port and $log.
start() {
    local mode=$1 name=$2
    shift 2
    log=$work/$name.log
    rm -f "$work/$name.pid"
    if [ "$mode" = binfmt ]; then
        PID_FILE=$work/$name.pid unshare --user --map-root-user --mount --fork \
            "$work/with_binfmt.sh" "$BIN" --listen 127.0.0.1:0 "$@" >"$log" 2>&1 &
        pids+=($!)
    else
        "$QEMU_ARM" "$BIN" --listen 127.0.0.1:0 "$@" >"$log" 2>&1 &
        pids+=($!)
        echo $! > "$work/$name.pid"
    fi
    local deadline=$((SECONDS + 30))
    until grep -q 'serving http://' "$log" 2>/dev/null; do
        [ $SECONDS -lt $deadline ] || { cat "$log" >&2; die "$name: the daemon did not start"; }
        sleep 0.1
    done
    pid=$(cat "$work/$name.pid")
    pids+=("$pid")
    port=$(sed -nE 's|.*serving http://127\.0\.0\.1:([0-9]+)/.*|\1|p' "$log" | head -1)
}

# status REQUEST: sends REQUEST (printf %b escapes) on a connection of its own and prints the
# status code of the answer, or "none".
status() {
    local fd line=
    exec {fd}<>"/dev/tcp/127.0.0.1/$port" || { echo none; return; }
    printf '%b' "$1" 1>&"$fd" 2>/dev/null || true
    IFS= read -r -t 10 line <&"$fd" || true
    exec {fd}>&-
    [[ $line =~ ^HTTP/1\.[01]\ ([0-9]{3}) ]] && echo "${BASH_REMATCH[1]}" || echo none
}

health() { curl -s -m 10 "http://127.0.0.1:$port/health" || true; }
restarts_total() { health | sed -nE 's/.*"restarts_total":([0-9]+).*/\1/p'; }
alive() { kill -0 "$pid" 2>/dev/null; }
is() { [ "$1" = "$2" ]; }

# wait_for PATTERN SECONDS: until the log has a line matching PATTERN.
wait_for() {
    local deadline=$((SECONDS + $2))
    until grep -qE "$1" "$log"; do
        [ $SECONDS -lt $deadline ] || return 1
        sleep 0.2
    done
}

# hold_http2 N: N connections that each sent an HTTP/2.0 preface, which deadlocks a tiny_http
# thread for good; they stay open (fds in $held) until release_http2.
held=()
hold_http2() {
    local i fd
    for ((i = 0; i < $1; i++)); do
        exec {fd}<>"/dev/tcp/127.0.0.1/$port"
        printf 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n' >&"$fd"
        held+=("$fd")
    done
}
release_http2() {
    local fd
    for fd in "${held[@]}"; do exec {fd}>&-; done
    held=()
}

if [ "${QEMU_ARM_PLAIN:-}" != 1 ] && binfmt_works; then
    mode=binfmt
    say "running under qemu-arm through a private binfmt_misc (user namespace)"
else
    mode=qemu
    say "running under plain qemu-arm: no private binfmt_misc here (needs Linux 6.7+ and" \
        "unprivileged user namespaces), so the restart cannot be checked (see section 5)"
fi

# --- 4. any Content-Length: a 4xx, and the process goes on -----------------------------------------
echo "Content-Length cases ($mode, port from the log):"
start "$mode" lengths --idle-timeout 1s
for method in GET POST; do
    # The API allows GET on /health, so a body is refused (413, or 400 for a length that is not
    # one number); POST is refused as a method first (405, with Allow).
    if [ $method = GET ]; then long=413 bad=400; else long=405 bad=405; fi
    for length in 1048577 2147483647 2147483648 3000000000 4294967295 4294967296 \
        1000000000000 9223372036854775807 18446744073709551615; do
        got=$(status "$method /health HTTP/1.1\r\nHost: x\r\nContent-Length: $length\r\n\r\n")
        check "$method Content-Length: $length -> $got (want $long)" is "$got" "$long"
    done
    got=$(status "$method /health HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n")
    check "$method Content-Length: abc -> $got (want $bad)" is "$got" "$bad"
    got=$(status "$method /health HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello")
    check "$method Content-Length: 5 and 6, 5-byte body -> $got (want $bad)" is "$got" "$bad"
done
check "the process is alive" alive
check "GET /health answers 200" is "$(status 'GET /health HTTP/1.1\r\nHost: x\r\n\r\n')" 200
check "restarts_total is 0" is "$(restarts_total)" 0
check "no abort or double panic in the log" \
    bash -c "! grep -qiE 'abort|panicked while processing|memory allocation of' '$log'"

# --- 5. the seamless restart: 40 connections held for good by HTTP/2.0 prefaces -------------------
if [ "$mode" = binfmt ]; then
    echo "restart after 40 HTTP/2.0 prefaces (binfmt):"
    hold_http2 40
    check "logs 'restarted in a new process image'" \
        wait_for 'restarted in a new process image' 30
    check "same PID $pid, still alive" alive
    check "restarts_total is 1" is "$(restarts_total)" 1
    check "GET /health answers 200 after the restart" \
        is "$(status 'GET /health HTTP/1.1\r\nHost: x\r\n\r\n')" 200
    got=$(status 'GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: 2147483647\r\n\r\n')
    check "the new image answers Content-Length: 2147483647 -> $got (want 413)" is "$got" 413
    release_http2
fi

# --- 6. a restart under plain qemu-arm ---------------------------------------------------------------
# Without binfmt_misc the exec fails (ENOEXEC, outside the daemon): what can still be asserted
# is that a failed restart leaves the daemon serving. Checked in both modes. (Where the
# machine's own binfmt_misc has qemu-arm registered, the exec succeeds instead.)
echo "a restart under plain qemu-arm:"
start qemu plain --idle-timeout 1s
hold_http2 40
check "the daemon restarts, or logs why it cannot" \
    wait_for 'cannot restart|restarted in a new process image' 30
if grep -q 'cannot restart' "$log"; then
    grep -h 'cannot restart' "$log" | sed 's/^/        /'
    check "the process is alive after the failed exec" alive
    check "GET /health answers 200" is "$(status 'GET /health HTTP/1.1\r\nHost: x\r\n\r\n')" 200
    check "restarts_total is 0" is "$(restarts_total)" 0
    [ "$mode" = qemu ] && say "skipped: the restart itself. qemu-user makes the host kernel exec the" \
        "ARM binary, which it refuses without a binfmt_misc entry for qemu-arm:" \
        "$(grep -oh 'cannot restart.*' "$log" | sed 's/.*: //' | head -1)"
else
    check "same PID $pid, still alive" alive
    check "restarts_total is 1" is "$(restarts_total)" 1
fi
release_http2

echo "qemu_arm: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
