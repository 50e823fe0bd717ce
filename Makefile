# Chatstudy. `make dev` and `make test` install what they need on a fresh Debian machine.
.PHONY: dev test bench lint fmt fuzz

dev:
	bash scripts/dev.sh

test:
	bash scripts/test.sh

bench:
	bash scripts/bench.sh

lint:
	cargo fmt --all --check
	cargo clippy --workspace --all-targets --all-features -- -D warnings

fmt:
	cargo fmt --all

# Fuzz the relay's frame handling for FUZZ_SECONDS (default 60). cargo-fuzz needs nightly features;
# RUSTC_BOOTSTRAP lets the stable toolchain provide them.
fuzz:
	command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
	cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run relay_frames -- -max_total_time=$${FUZZ_SECONDS:-60}
