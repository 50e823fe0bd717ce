#!/usr/bin/env bash
# `make dev`: install what is missing, start a local PostgreSQL under .data/ (unless DATABASE_URL is
# set), migrate, load the demo data, and serve the backend with its built-in relay.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

ensure_apt build-essential pkg-config libssl-dev curl ca-certificates python3 postgresql
ensure_rust

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
log "serving on http://127.0.0.1:${PORT:-3001} (Ctrl-C stops)"
exec "$SERVER" serve
