#!/usr/bin/env bash
# The link directory of `make cross-small` (aarch64 musl): the C runtime of rustup's stable
# aarch64-unknown-linux-musl target (crt objects, musl's libc.a), but with Debian bookworm's LLVM
# 14 libunwind (libunwind-14-dev:arm64, built without its tracing) instead of rustup's, which has
# its API tracing compiled in (an fprintf in every entry point): 44 KB of code against 19 KB,
# 38 KB off the binary. Not the newest libunwind-N-dev apt knows: bookworm-security's
# libunwind-22-dev has the tracing too (18 KB more). LIBUNWIND_PACKAGE overrides the name.
# Unwinding works the same: tiny_http's panics are caught (the smoke test provokes one under
# qemu-aarch64, tests/qemu_cross.sh).
#
#   bash contrib/aarch64-link.sh DIR     prepares DIR (once; the download is cached there)
#
# DIR is a directory of cargo's target directory (make: target/small/aarch64-link): when its
# libunwind.a changes, the daemon's aarch64 build there is cleaned, as cargo would not relink
# it for a changed native library.
# The Debian package is fetched with apt-get into DIR/apt, from this machine's apt sources with
# arm64 as the only architecture: nothing is installed, no dpkg architecture is added (its
# libunwind-N-dev cannot be installed beside the armhf one tests/qemu_arm.sh installs: both own
# /usr/lib/llvm-N/lib/libunwind.a). SMALL_LIBUNWIND=/path/to/libunwind.a (an aarch64 LLVM
# libunwind) is used instead when set, e.g. where apt is not at hand.
#
# Debian builds it for glibc: it names libdl and libpthread (empty archives here: musl has both
# in libc.a), and calls glibc's __fprintf_chk (_FORTIFY_SOURCE) on its abort paths, which musl
# lacks: fortify.o below is fprintf with the arguments moved down one register (AArch64 passes
# variadic arguments as named ones; libunwind's messages take at most five).
set -euo pipefail
dir=${1:?usage: aarch64-link.sh DIR}
target=aarch64-unknown-linux-musl
say() { echo "aarch64-link: $*" >&2; }
die() { say "$*"; exit 1; }

runtime=$(rustc --print sysroot)/lib/rustlib/$target/lib/self-contained
[ -f "$runtime/libc.a" ] || die "no $runtime/libc.a: rustup target add $target"
mkdir -p "$dir"
for f in "$runtime"/*; do
    [ "${f##*/}" = libunwind.a ] || ln -sf "$f" "$dir/${f##*/}"
done
for f in libdl.a libpthread.a; do
    [ -f "$dir/$f" ] || printf '!<arch>\n' >"$dir/$f"
done

if [ -f "$dir/libunwind.a" ] && [ -z "${SMALL_LIBUNWIND:-}" ]; then
    exit 0
fi

if [ -n "${SMALL_LIBUNWIND:-}" ]; then
    cp "$SMALL_LIBUNWIND" "$dir/libunwind.a.new"
else
    if ! command -v apt-get >/dev/null || ! command -v dpkg-deb >/dev/null; then
        die "needs apt-get and dpkg-deb (Debian) to fetch libunwind-14-dev:arm64; or set SMALL_LIBUNWIND"
    fi
    apt=$dir/apt
    mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial"
    : >"$apt/status"
    opts=(-o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache" -o "Dir::State::status=$apt/status"
        -o APT::Architecture=arm64 -o APT::Architectures::=arm64 -o Debug::NoLocking=1
        -o APT::Sandbox::User=root)
    say "fetching the arm64 package lists into $apt"
    apt-get "${opts[@]}" update -qq
    package=${LIBUNWIND_PACKAGE:-libunwind-14-dev}
    apt-cache "${opts[@]}" show "$package:arm64" >/dev/null 2>&1 ||
        die "apt knows no $package for arm64 (set LIBUNWIND_PACKAGE or SMALL_LIBUNWIND)"
    say "downloading $package:arm64"
    (cd "$apt" && rm -f ./*.deb && apt-get "${opts[@]}" download "$package:arm64")
    rm -rf "$apt/x"
    dpkg-deb -x "$apt"/*.deb "$apt/x"
    cp "$apt/x/usr/lib/aarch64-linux-gnu/libunwind.a" "$dir/libunwind.a.new"
fi

cat >"$dir/fortify.rs" <<'EOF'
//! glibc's __fprintf_chk(stream, flag, format, ...) as fprintf(stream, format, ...).
#![no_std]
core::arch::global_asm!(
    ".globl __fprintf_chk",
    ".type __fprintf_chk, %function",
    "__fprintf_chk:",
    "mov x1, x2",
    "mov x2, x3",
    "mov x3, x4",
    "mov x4, x5",
    "mov x5, x6",
    "mov x6, x7",
    "b fprintf",
    ".size __fprintf_chk, . - __fprintf_chk",
);
EOF
rustc --target "$target" --crate-type=lib --emit=obj -C panic=abort -o "$dir/fortify.o" "$dir/fortify.rs"
ar rs "$dir/libunwind.a.new" "$dir/fortify.o" 2>/dev/null
if cmp -s "$dir/libunwind.a.new" "$dir/libunwind.a"; then
    rm "$dir/libunwind.a.new"
    exit 0
fi
mv "$dir/libunwind.a.new" "$dir/libunwind.a"
cargo clean --quiet -p ifstatsd --release --target "$target" --target-dir "$(dirname "$dir")"
say "$dir/libunwind.a: $(stat -c %s "$dir/libunwind.a") bytes"
