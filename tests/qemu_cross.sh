#!/usr/bin/env bash
# The router builds, proven under emulation: an armv7 (hard-float musl), a mipsel (musl) and an
# aarch64 (musl, `make cross-small`: the build `make size-check-cross` holds under 700 KB) build
# of the daemon each run tests/smoke_e2e.py under qemu-user: every route, a counter wrap at 2^32,
# a u64 counter, a state file saved and restored, SIGTERM, a panic inside tiny_http caught, and
# the wall clock in 2040 (libfaketime in qemu-user): both builds use musl's 64-bit time_t.
#
#   bash tests/qemu_cross.sh [armv7|mipsel|aarch64 ...]   default: all three
#   QEMU_CROSS_BUILD_ONLY=1                       build, print the binaries' paths, run nothing
#
# Each target is built once (nightly, -Zbuild-std; the standard library is cached under target/):
# armv7 by tests/qemu_arm.sh (QEMU_ARM_BUILD_ONLY=1) in target/qemu-arm, and `make test` hands
# that build back to it (IFSTATSD_ARM_BIN) for its own cases; mipsel in target/qemu-mips; aarch64
# by `make cross-small` in target/small (whose unwinder is Debian's LLVM libunwind: the caught
# panic proves it), which `make size-check-cross` then finds built.
#
# MIPS and OpenWrt's ABI: OpenWrt's mipsel_24kc is soft-float musl. Debian (bookworm, the only
# place packages come from here) has no soft-float MIPS C runtime: its mipsel port, musl-dev:mipsel
# included, is hard-float (o32, FPXX), and rust-lld refuses to link soft-float objects with it.
# So the mipsel build here is mipsel-unknown-linux-musl with `-soft-float`: the same ISA (MIPS32r2,
# little-endian, 32-bit), the same libc (musl 1.2, static), the same Rust target and std; only
# floating-point arguments travel in FPU registers. Its unwinder is Debian's libgcc_eh.a (no LLVM
# libunwind exists for mipsel), built for glibc: it calls glibc's _dl_find_object, which a small
# shim below answers with musl's dl_iterate_phdr. Unwinding through it still crashes (SIGSEGV in
# the unwinder, under qemu-mipsel), so the caught-panic case is skipped on mipsel and said so;
# OpenWrt links its own libgcc_s, built for musl. The OpenWrt SDK's toolchain (contrib/CROSS.md)
# builds the exact soft-float binary.
#
# Under CI=true as root it installs what it needs; elsewhere it says what is missing. Prints
# `qemu_cross: N passed, N failed`; exits 1 on any failure.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
TARGET_DIR=${CARGO_TARGET_DIR:-$root/target}
case $TARGET_DIR in /*) ;; *) TARGET_DIR=$root/$TARGET_DIR ;; esac

say() { echo "qemu_cross: $*"; }
die() { say "$*" >&2; exit 1; }
may_install() { [ "${CI:-}" = true ] && [ "$(id -u)" = 0 ]; }

# apt_need ARCH PACKAGE... : installs the packages (adding the dpkg architecture) under CI, or dies
# saying how.
apt_need() {
    local arch=$1
    shift
    may_install || die "missing $*: as root, dpkg --add-architecture $arch && apt-get update &&" \
        "apt-get install --no-install-recommends $* (or run this under CI=true as root)"
    say "installing $*"
    [ "$arch" = "$(dpkg --print-architecture)" ] ||
        dpkg --print-foreign-architectures | grep -qx "$arch" || dpkg --add-architecture "$arch"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

nightly() {
    if ! rustup run nightly rustc --version >/dev/null 2>&1; then
        may_install || die "no nightly toolchain: rustup toolchain install nightly --profile minimal --component rust-src"
        rustup toolchain install nightly --profile minimal --component rust-src
    fi
    if [ ! -d "$(rustup run nightly rustc --print sysroot)/lib/rustlib/src/rust/library" ]; then
        may_install || die "no rust-src: rustup component add rust-src --toolchain nightly"
        rustup component add rust-src --toolchain nightly
    fi
}

# cargo_build TARGET DIR RUSTFLAGS: the release build with std from source; sets BIN.
cargo_build() {
    local target=$1 dir=$2 flags=$3 var
    var=$(tr 'a-z-' 'A-Z_' <<<"$target")
    say "building for $target (nightly, -Zbuild-std; std cached in $dir)"
    # The flags must stay the same from run to run, or cargo rebuilds the standard library.
    # std without its backtrace symbolizer and unwind tables only where a panic can pass, as
    # `make release-small`: the router binary (about 200 KB less), panics still caught.
    # RUST_LIBC_UNSTABLE_MUSL_V1_2_3: the libc crate (std's and ours) with musl 1.2's 64-bit
    # time_t, so that the clock works past 2038 (contrib/CROSS.md, "Time past 2038").
    env -u RUSTFLAGS -u CARGO_ENCODED_RUSTFLAGS RUST_LIBC_UNSTABLE_MUSL_V1_2_3=1 \
        "CARGO_TARGET_${var}_LINKER=rust-lld" "CARGO_TARGET_${var}_RUSTFLAGS=$flags" \
        nice cargo +nightly build --quiet --release -Zbuild-std=std,panic_unwind \
        -Zbuild-std-features=panic-unwind,optimize_for_size \
        --target "$target" --target-dir "$dir"
    BIN=$dir/$target/release/ifstatsd
    say "$BIN: $(stat -c %s "$BIN") bytes, stripped"
}

# --- armv7: tests/qemu_arm.sh builds it (its installs, directory and flags: one build) -------
build_armv7() {
    BIN=$(QEMU_ARM_BUILD_ONLY=1 bash tests/qemu_arm.sh | tail -1)
    [ -x "$BIN" ] || die "tests/qemu_arm.sh built no armv7 binary"
    say "$BIN: $(stat -c %s "$BIN") bytes, stripped"
}

# --- mipsel: Debian's hard-float musl, libgcc_eh as the unwinder -------------------------------
build_mipsel() {
    local dir=$TARGET_DIR/qemu-mips link f missing=()
    command -v qemu-mipsel >/dev/null || missing+=(qemu-user)
    [ -f /usr/lib/mipsel-linux-musl/libc.a ] || missing+=(musl-dev:mipsel)
    command -v mipsel-linux-gnu-gcc >/dev/null || missing+=(gcc-mipsel-linux-gnu binutils-mipsel-linux-gnu)
    [ ${#missing[@]} -eq 0 ] || apt_need mipsel "${missing[@]}"
    link=$dir/link
    mkdir -p "$link"
    for f in crt1.o crti.o crtn.o libc.a libdl.a libpthread.a libm.a librt.a; do
        ln -sf "/usr/lib/mipsel-linux-musl/$f" "$link/$f"
    done
    # musl needs no crtbegin.o/crtend.o: empty ones stand in for what rustc asks for.
    for f in crtbegin.o crtend.o; do
        [ -f "$link/$f" ] && [ ! -L "$link/$f" ] && continue
        rm -f "$link/$f"
        : | mipsel-linux-gnu-gcc -x c -c - -o "$link/$f"
    done
    local eh
    eh=$(mipsel-linux-gnu-gcc -print-file-name=libgcc_eh.a)
    if [ ! -f "$link/libunwind.a" ] || [ "$eh" -nt "$link/libunwind.a" ]; then
        # glibc's _dl_find_object (struct layout of glibc 2.35+ on MIPS: no dlfo_eh_dbase),
        # which libgcc_eh calls to find a PC's unwind tables, done with dl_iterate_phdr.
        cat >"$link/dlfo.c" <<'EOF'
#include <link.h>
#include <stdint.h>
struct dl_find_object {
    unsigned long long dlfo_flags;
    void *dlfo_map_start, *dlfo_map_end;
    struct link_map *dlfo_link_map;
    void *dlfo_eh_frame;
    unsigned long long reserved[7];
};
struct search { uintptr_t pc; struct dl_find_object *out; int found; };
static int visit(struct dl_phdr_info *info, size_t size, void *data)
{
    struct search *s = data;
    uintptr_t lo = UINTPTR_MAX, hi = 0, eh = 0;
    int holds = 0;
    (void)size;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *p = &info->dlpi_phdr[i];
        uintptr_t start = info->dlpi_addr + p->p_vaddr;
        if (p->p_type == PT_LOAD) {
            if (start < lo) lo = start;
            if (start + p->p_memsz > hi) hi = start + p->p_memsz;
            if (s->pc >= start && s->pc < start + p->p_memsz) holds = 1;
        } else if (p->p_type == PT_GNU_EH_FRAME) {
            eh = start;
        }
    }
    if (!holds) return 0;
    s->out->dlfo_flags = 0;
    s->out->dlfo_map_start = (void *)lo;
    s->out->dlfo_map_end = (void *)hi;
    s->out->dlfo_link_map = 0;
    s->out->dlfo_eh_frame = (void *)eh;
    s->found = 1;
    return 1;
}
int _dl_find_object(void *pc, struct dl_find_object *result)
{
    struct search s = { (uintptr_t)pc, result, 0 };
    dl_iterate_phdr(visit, &s);
    return s.found ? 0 : -1;
}
EOF
        mipsel-linux-gnu-gcc -O2 -fno-stack-protector -nostdinc -isystem /usr/include/mipsel-linux-musl \
            -isystem "$(mipsel-linux-gnu-gcc -print-file-name=include)" -c "$link/dlfo.c" -o "$link/dlfo.o"
        cp "$eh" "$link/libunwind.a.new"
        mipsel-linux-gnu-ar rs "$link/libunwind.a.new" "$link/dlfo.o" 2>/dev/null
        mv "$link/libunwind.a.new" "$link/libunwind.a"
    fi
    # Static (the target links dynamically by default), hard-float to match Debian's musl.
    cargo_build mipsel-unknown-linux-musl "$dir" \
        "-L native=$link -C target-feature=+crt-static,-soft-float -C force-unwind-tables=no"
}

# --- aarch64: `make cross-small` (rustup's musl runtime, Debian's libunwind) -----------------
build_aarch64() {
    command -v qemu-aarch64 >/dev/null || apt_need "$(dpkg --print-architecture)" qemu-user
    say "building for aarch64-unknown-linux-musl (make cross-small)"
    nice make --no-print-directory cross-small >/dev/null
    BIN=$TARGET_DIR/small/aarch64-unknown-linux-musl/release/ifstatsd
    say "$BIN: $(stat -c %s "$BIN") bytes, stripped"
}

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(armv7 mipsel aarch64)
nightly
# libfaketime sets the wall clock past 2038 for the smoke test: preloaded into qemu-user (a
# dynamically linked host program), which asks the host's clock for the guest's clock_gettime.
FAKETIME_LIB=/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1
if [ ! -f "$FAKETIME_LIB" ] && [ "${QEMU_CROSS_BUILD_ONLY:-}" != 1 ]; then
    apt_need "$(dpkg --print-architecture)" faketime
fi
declare -A bins
for t in "${targets[@]}"; do
    case $t in
    armv7) build_armv7 ;;
    mipsel) build_mipsel ;;
    aarch64) build_aarch64 ;;
    *) die "unknown target $t (armv7, mipsel, aarch64)" ;;
    esac
    bins[$t]=$BIN
done
if [ "${QEMU_CROSS_BUILD_ONLY:-}" = 1 ]; then
    for t in "${targets[@]}"; do echo "${bins[$t]}"; done
    exit 0
fi

passed=0 failed=0
for t in "${targets[@]}"; do
    case $t in
    armv7) runner=qemu-arm no_unwind= ;;
    aarch64) runner=qemu-aarch64 no_unwind= ;;
    mipsel)
        runner=qemu-mipsel
        no_unwind="Debian's libgcc_eh (built for glibc) crashes unwinding on musl (see qemu_cross.sh)"
        ;;
    esac
    out=$(SMOKE_NAME=$t SMOKE_NO_UNWIND=$no_unwind SMOKE_FAKETIME='2040-02-29 12:00:00' \
        SMOKE_LIBFAKETIME=$FAKETIME_LIB python3 tests/smoke_e2e.py "${bins[$t]}" "$runner" 2>&1) || true
    echo "$out"
    counts=$(sed -nE "s/^$t: ([0-9]+) passed, ([0-9]+) failed$/\1 \2/p" <<<"$out" | tail -1)
    if [ -z "$counts" ]; then
        failed=$((failed + 1))
        say "$t: the smoke test did not finish"
    else
        passed=$((passed + ${counts% *}))
        failed=$((failed + ${counts#* }))
    fi
done
echo "qemu_cross: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
