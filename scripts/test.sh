#!/usr/bin/env bash
# `make test`: install what is missing, start the services the tests need (an ephemeral PostgreSQL
# cluster and sockudo, both on loopback), then check formatting and lints and run every test.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

ensure_apt build-essential pkg-config libssl-dev curl ca-certificates python3 protobuf-compiler postgresql "${TAURI_PACKAGES[@]}"
{ command -v node && command -v npm; } >/dev/null || ensure_apt nodejs npm
ensure_rust
if command -v rustup >/dev/null; then rustup component add rustfmt clippy >/dev/null 2>&1 || true; fi
# sockudo: the Pusher-compatible server we test interoperability against (~15 min to build, once).
SOCKUDO_VERSION=5.2.0
if ! command -v sockudo >/dev/null || ! sockudo --version 2>/dev/null | grep -q "$SOCKUDO_VERSION"; then
  log "installing sockudo $SOCKUDO_VERSION (cargo install, once per machine)"
  env -u CARGO_TARGET_DIR cargo install sockudo --version "$SOCKUDO_VERSION" --locked
fi

WORK="$(mktemp -d /tmp/chatstudy-test.XXXXXX)"
chmod 755 "$WORK"
SOCKUDO_PID=""
cleanup() {
  [ -n "$SOCKUDO_PID" ] && kill "$SOCKUDO_PID" 2>/dev/null || true
  pg_stop "$WORK/pg"
  rm -rf "$WORK"
}
trap cleanup EXIT

log "starting PostgreSQL"
PG_PORT="$(free_port)"
PG_FSYNC=off pg_start "$WORK/pg" "$PG_PORT"
export TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres"

log "starting sockudo"
export SOCKUDO_PORT="$(free_port)" SOCKUDO_APP_ID=chatstudy-test SOCKUDO_KEY=chatstudy-test-key
SOCKUDO_SECRET="$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
export SOCKUDO_SECRET
SOCKUDO_DEFAULT_APP_ID="$SOCKUDO_APP_ID" SOCKUDO_DEFAULT_APP_KEY="$SOCKUDO_KEY" SOCKUDO_DEFAULT_APP_SECRET="$SOCKUDO_SECRET" \
  ADAPTER_DRIVER=local CACHE_DRIVER=memory QUEUE_DRIVER=memory METRICS_ENABLED=false \
  HOST=127.0.0.1 PORT="$SOCKUDO_PORT" setsid sockudo >"$WORK/sockudo.log" 2>&1 &
SOCKUDO_PID=$!
wait_port "$SOCKUDO_PORT" 60 || { cat "$WORK/sockudo.log" >&2; exit 1; }

log "installing the official Pusher clients (npm)"
(cd tests/interop && npm ci --no-audit --no-fund --loglevel=error)

# Every test must find its services: a missing one is a failure, not a skip.
export CHATSTUDY_REQUIRE_SERVICES=1
log "cargo fmt --check"
cargo fmt --all --check
log "cargo clippy"
cargo clippy --workspace --all-targets --all-features --quiet -- -D warnings
log "cargo test"
cargo test --workspace --all-features 2>&1 | tee "$WORK/cargo-test.log"
# One closing line for the whole run (cargo prints one per test binary, the last often doc-tests with 0).
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed;?$/) p += $(i-1); if ($i ~ /^failed;?$/) f += $(i-1) } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$WORK/cargo-test.log"
