# The same commands CI runs (.ci/run): `make check` = formatting, lints, tests.
CARGO ?= cargo
SHELL := bash
# Flags for `make run`, e.g. make run ARGS='--interval 1s --log-level debug'
ARGS ?=

.PHONY: run build test check fmt fmt-check clippy coverage release bench

## run: the daemon on 127.0.0.1:9310, sampling /proc/net/dev every 10 s, with Swagger UI at /docs
run:
	$(CARGO) run --release --features swagger-ui -- $(ARGS)

build:
	$(CARGO) build

## test: unit, pipeline, HTTP, CLI and end-to-end tests, the OpenAPI contract (schemathesis;
## openapi-spec-validator, redocly and a generated client), browsers, and the attack suite against the release binary
test:
	@# rstest's #[files] sweep sees new fixtures only when its test file recompiles.
	touch tests/parse_proc_net_dev.rs
	$(CARGO) build
	$(CARGO) test 2>&1 | tee target/test-output.txt; test $${PIPESTATUS[0]} -eq 0
	IFSTATSD_BIN=target/debug/ifstatsd bash tests/schemathesis.sh
	@# The contract read strictly: spec validator, redocly lint, a generated Python client (issue 14).
	IFSTATSD_BIN=target/debug/ifstatsd bash tests/contract.sh
	IFSTATSD_BIN=target/debug/ifstatsd bash tests/prometheus.sh
	IFSTATSD_BIN=target/debug/ifstatsd bash tests/prometheus_live.sh
	bash tests/docs_browser.sh
	IFSTATSD_BIN=target/debug/ifstatsd bash tests/dashboard_browser.sh
	IFSTATSD_BIN=target/debug/ifstatsd bash contrib/test-contrib.sh
	@# The README's firewall cap on connections bounds a flood's threads (nftables, a namespace).
	IFSTATSD_BIN=target/debug/ifstatsd python3 tests/connection_cap.py
	$(CARGO) build --release
	IFSTATSD_BIN=target/release/ifstatsd python3 tests/attacks.py
	@# The router builds under qemu-user: armv7, mipsel and aarch64 (cross-small) musl, each
	@# through the end-to-end smoke test (tests/smoke_e2e.py); then the armv7 build (already
	@# built: cargo finds it fresh) under qemu-arm through every Content-Length and the restart.
	bash tests/qemu_cross.sh
	bash tests/qemu_arm.sh
	@# The release binary with std's backtrace symbolizer left out does not grow (SIZE_LIMIT), on
	@# x86_64 and on aarch64 (cross-small, already built by tests/qemu_cross.sh: cargo finds it fresh).
	$(MAKE) --no-print-directory size-check
	$(MAKE) --no-print-directory size-check-cross
	@# That x86_64 binary itself through the smoke test (its frame pointers and unwind tables: a
	@# panic inside tiny_http caught).
	SMOKE_NAME=release-small python3 tests/smoke_e2e.py $(SMALL_DIR)/$(SMALL_TARGET)/release/ifstatsd
	@awk '/^test result:/ { p += $$4; f += $$6 } END { print "cargo test: " p " passed, " f " failed" }' target/test-output.txt

fmt:
	$(CARGO) fmt --all

fmt-check:
	$(CARGO) fmt --all -- --check

clippy:
	$(CARGO) clippy --all-targets -- -D warnings
	$(CARGO) clippy --all-targets --features swagger-ui --target-dir target/swagger -- -D warnings

check: fmt-check clippy test

## coverage: line coverage of the library (installs cargo-llvm-cov on first use)
coverage:
	@command -v cargo-llvm-cov >/dev/null || { rustup component add llvm-tools-preview && $(CARGO) install cargo-llvm-cov --locked; }
	$(CARGO) llvm-cov --lib --tests --summary-only --ignore-filename-regex 'main\.rs'

## release: the size-tuned stripped binary, and its size
release:
	$(CARGO) build --release
	@ls -l target/release/ifstatsd | awk '{print "target/release/ifstatsd: " $$5 " bytes"}'

## release-small: the release binary with a standard library built without its backtrace
## symbolizer (nightly, -Zbuild-std; std's `backtrace` feature off, `optimize_for_size` on) and
## unwind tables only where a panic can pass (-C force-unwind-tables=no): the same daemon,
## panics still caught (panic = "unwind"), about 250 KB smaller. Stable Rust cannot drop the
## symbolizer (BENCHMARKS.md, "Binary size, by hand"). Linked (rust-lld, nightly's default here)
## with identical-code folding and packed relative relocations (DT_RELR: glibc 2.36, musl 1.2.4),
## and with the build machine's source paths cut from panic locations (SMALL_REMAP:
## `chunked_transfer-1.5.0/src/decoder.rs`, not its path under ~/.cargo). SMALL_TARGET: the host.
SMALL_TARGET ?= $(shell rustc -vV | sed -n 's/^host: //p')
SMALL_DIR = $${CARGO_TARGET_DIR:-target}/small
SMALL_STD = -Zbuild-std=std,panic_unwind -Zbuild-std-features=panic-unwind,optimize_for_size
SMALL_LINK = -C link-arg=--icf=all -C link-arg=-z -C link-arg=pack-relative-relocs
# The same through the C compiler driver (the host build links with cc -fuse-ld=lld).
SMALL_LINK_CC = -C link-arg=-Wl,--icf=all -C link-arg=-Wl,-z,pack-relative-relocs
SMALL_REMAP = --remap-path-prefix=$${CARGO_HOME:-$$HOME/.cargo}/registry/src/= \
	--remap-path-prefix=$${CARGO_HOME:-$$HOME/.cargo}/registry/src/index.crates.io-1949cf8c6b5b557f/= \
	--remap-path-prefix=$$(rustc +nightly --print sysroot)/lib/rustlib/src/rust/=
.PHONY: release-small cross-small size-check size-check-cross nightly-src
nightly-src:
	@rustup run nightly rustc --version >/dev/null 2>&1 || rustup toolchain install nightly --profile minimal --component rust-src
	@[ -d "$$(rustup run nightly rustc --print sysroot)/lib/rustlib/src/rust/library" ] || rustup component add rust-src --toolchain nightly
# On x86_64, frame pointers: each function's unwind table entry then says "the frame is at
# rbp" once, instead of tracking the stack pointer through every push and pop: 25.7 KB less
# .eh_frame for 5.7 KB more code (and a profiler can walk the stack). Not on aarch64, whose
# unwind entries are already short: 10.7 KB more there.
SMALL_CODEGEN = $(if $(findstring x86_64,$(SMALL_TARGET)),-C force-frame-pointers=yes)
release-small: nightly-src
	RUSTFLAGS="-C force-unwind-tables=no $(SMALL_CODEGEN) $(SMALL_LINK_CC) $(SMALL_REMAP)" \
		$(CARGO) +nightly build --release $(SMALL_STD) \
		--target $(SMALL_TARGET) --target-dir $(SMALL_DIR)
	@bin=$(SMALL_DIR)/$(SMALL_TARGET)/release/ifstatsd; echo "$$bin: $$(stat -c %s $$bin) bytes, stripped"

## cross-small: `make cross`'s aarch64 musl binary the release-small way, linked by rust-lld
## with identical-code folding and packed relative relocations (musl 1.2.5 applies them at
## start). The C runtime is the one rustup ships for the stable toolchain (nightly has none
## for this target here), but the unwinder is Debian's LLVM libunwind (a release build:
## contrib/aarch64-link.sh fetches it into target/small/aarch64-link; rustup's has its API
## tracing compiled in, 38 KB more). Two aarch64 code generation settings: LLVM's machine
## outliner off (at opt-level "z" it makes about 1,560 small functions, each with its own unwind
## table entry: 10 KB more than it saves), and atomics inline (ARMv8.0 LL/SC, what the
## Cortex-A53 of most aarch64 routers runs anyway) instead of calls that choose LSE at run time.
CROSS_SMALL_CODEGEN = -C llvm-args=-enable-machine-outliner=never -C target-feature=-outline-atomics
cross-small: nightly-src
	rustup target add $(CROSS_TARGET)
	bash contrib/aarch64-link.sh $(SMALL_DIR)/aarch64-link
	link=$$(realpath $(SMALL_DIR)/aarch64-link); \
	env -u RUSTFLAGS CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_LINKER=rust-lld \
		CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_RUSTFLAGS="-L native=$$link -C force-unwind-tables=no $(CROSS_SMALL_CODEGEN) $(SMALL_LINK) $(SMALL_REMAP)" \
		$(CARGO) +nightly build --release $(SMALL_STD) --target $(CROSS_TARGET) --target-dir $(SMALL_DIR)
	@bin=$(SMALL_DIR)/$(CROSS_TARGET)/release/ifstatsd; echo "$$bin: $$(stat -c %s $$bin) bytes, stripped"

## size-check: fails when the stripped release-small binary passes SIZE_LIMIT bytes. The goal,
## 700 KB (flash is the scarcest thing on a router), is met on x86_64: 660,888 bytes on
## 2026-12-06 (evening), with openapi.yaml and the dashboard embedded deflated, the link folding identical
## code and packing relocations, no build paths in panic locations, and frame pointers. size-check-cross, the
## same for cross-small (aarch64 musl) against SIZE_LIMIT_CROSS: 673,648 bytes, with Debian's
## libunwind, no machine outliner and inline atomics. Both are in `make test`. `make release`
## and `make cross` (stable) are over both: BENCHMARKS.md, "Binary size, by hand".
SIZE_LIMIT ?= 700000
SIZE_LIMIT_CROSS ?= 700000
define size_check
	@size=$$(stat -c %s $(1)); \
	if [ $$size -le $(2) ]; then echo "size-check: $(1): $$size bytes <= $(2)"; \
	else echo "size-check: $(1) is $$size bytes, over $(2)"; exit 1; fi
endef
size-check: release-small
	$(call size_check,$(SMALL_DIR)/$(SMALL_TARGET)/release/ifstatsd,$(SIZE_LIMIT))
size-check-cross: cross-small
	$(call size_check,$(SMALL_DIR)/$(CROSS_TARGET)/release/ifstatsd,$(SIZE_LIMIT_CROSS))

## bench: measures and rewrites BENCHMARKS.md (root; installs wrk, vnstat, node_exporter when
## missing; about 20 min, or about 3 with BENCH_QUICK=1)
bench:
	python3 tests/bench/run.py

## cross: the size-tuned release binary for 64-bit ARM routers (aarch64, static musl, linked by
## rust-lld: no C toolchain needed), and its size. Other targets: contrib/CROSS.md
CROSS_TARGET := aarch64-unknown-linux-musl
.PHONY: cross cross-check
cross:
	rustup target add $(CROSS_TARGET)
	CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_LINKER=rust-lld $(CARGO) build --release --target $(CROSS_TARGET)
	@bin=$${CARGO_TARGET_DIR:-target}/$(CROSS_TARGET)/release/ifstatsd; \
	echo "$$bin: $$(stat -c %s $$bin) bytes, stripped"

## cross-check: `cargo check` for the 32-bit router targets rustup serves no standard library for
## (MIPS is tier 3): mipsel (ramips), mips big-endian (ath79) and armv7 hard-float, with nightly
## building std from rust-src (-Zbuild-std). Catches what only fails there: 64-bit atomics, a
## 32-bit usize, a libc struct built by hand. With musl's 64-bit time_t, as the router builds
## (contrib/CROSS.md, "Time past 2038"). std is cached in target/cross-check (one per target).
CROSS_CHECK_TARGETS := mipsel-unknown-linux-musl mips-unknown-linux-musl armv7-unknown-linux-musleabihf
cross-check:
	@rustup run nightly rustc --version >/dev/null 2>&1 || rustup toolchain install nightly --profile minimal --component rust-src
	@[ -d "$$(rustup run nightly rustc --print sysroot)/lib/rustlib/src/rust/library" ] || rustup component add rust-src --toolchain nightly
	@set -e; for t in $(CROSS_CHECK_TARGETS); do \
		echo "cargo +nightly check --target $$t -Zbuild-std=std,panic_unwind"; \
		env -u RUSTFLAGS RUST_LIBC_UNSTABLE_MUSL_V1_2_3=1 $(CARGO) +nightly check --quiet --release --bins --lib -Zbuild-std=std,panic_unwind \
			--target $$t --target-dir $${CARGO_TARGET_DIR:-target}/cross-check; \
	done
	@echo "cross-check: $(words $(CROSS_CHECK_TARGETS)) targets compile"
