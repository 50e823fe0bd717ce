#!/usr/bin/env bash
# `make dev`: install what is missing, start a local PostgreSQL under .data/ (unless DATABASE_URL is
# set), migrate, load the demo data, serve the backend with its built-in relay, and run the desktop
# app (`cargo tauri dev`). Ctrl-C (or closing the app) stops both.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

ensure_apt build-essential pkg-config libssl-dev curl ca-certificates python3 postgresql "${TAURI_PACKAGES[@]}"
ensure_rust
ensure_cargo_tool cargo-tauri tauri-cli --version "^2"

if [ -z "${DATABASE_URL:-}" ]; then
  PG_PORT="${CHATSTUDY_PG_PORT:-54329}"
  log "starting PostgreSQL in .data/postgres on 127.0.0.1:$PG_PORT"
  pg_start "$ROOT/.data/postgres" "$PG_PORT"
  if [ "$(pg_psql "$PG_PORT" postgres -c "SELECT 1 FROM pg_database WHERE datname = 'chatstudy'")" != "1" ]; then
    pg_psql "$PG_PORT" postgres -c "CREATE DATABASE chatstudy"
  fi
  export DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/chatstudy"
fi

log "building chatstudy-server"
cargo build -p chatstudy-server --quiet
SERVER="$CARGO_TARGET_DIR/debug/chatstudy-server"
"$SERVER" migrate
"$SERVER" demo
export PORT="${PORT:-3001}"
"$SERVER" serve >"$ROOT/.data/server.log" 2>&1 &
SERVER_PID=$!
trap 'kill "$SERVER_PID" 2>/dev/null || true' EXIT
wait_http "http://127.0.0.1:$PORT/health" 60
log "backend on http://127.0.0.1:$PORT (log: .data/server.log); demo password: chatstudy"

if [ -z "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  log "no display (DISPLAY is empty): only the backend runs; Ctrl-C stops it"
  wait "$SERVER_PID"
  exit
fi
log "starting the desktop app; Archivo → Nueva ventana (Ctrl+Shift+N) opens a window for a second user"
export CHATSTUDY_SERVER="http://127.0.0.1:$PORT"
cd src-tauri && cargo tauri dev
