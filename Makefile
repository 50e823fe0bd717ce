# Chatstudy. `make dev` and `make test` install what they need on a fresh Debian machine.
.PHONY: dev test bench server lint fmt

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
