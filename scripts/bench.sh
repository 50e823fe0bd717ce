#!/usr/bin/env bash
# `make bench`: the send path against pgbench running the same statement, and the relay's fan-out
# against sockudo's, on this machine; writes docs/benchmarks.md.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

SECONDS_PER_RUN="${BENCH_SECONDS:-20}"
# BENCH_PARTS=send (or fanout, desktop) runs only those, prints the rows and leaves the docs alone.
PARTS="${BENCH_PARTS:-send fanout desktop}"
part() { [[ " $PARTS " == *" $1 "* ]]; }
CONNECTIONS="${BENCH_CONNECTIONS:-10000}"
ensure_apt build-essential pkg-config libssl-dev curl ca-certificates python3 protobuf-compiler postgresql
ensure_rust
command -v sockudo >/dev/null || env -u CARGO_TARGET_DIR cargo install sockudo --version 5.2.0 --locked
log "building (release)"
cargo build --release --quiet -p chatstudy-server -p chatstudy-bench
cargo build --release --quiet -p chatstudy-pusher --features relay --bin chatstudy-relay
BIN="$CARGO_TARGET_DIR/release"
ulimit -n "$(ulimit -Hn)"  # 10,000 connections need 10,000 descriptors on each side

WORK="$(mktemp -d /tmp/chatstudy-bench.XXXXXX)"
chmod 755 "$WORK"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  pg_stop "$WORK/pg"
  rm -rf "$WORK"
}
trap cleanup EXIT

PG_PORT="$(free_port)"
pg_start "$WORK/pg" "$PG_PORT"
pg_psql "$PG_PORT" postgres -c "CREATE DATABASE bench"
DB="postgres://postgres@127.0.0.1:$PG_PORT/bench"

if part send; then
log "send path: server with its built-in relay"
HTTP_PORT="$(free_port)"
# The server gets as many database connections as pgbench gets clients (its default is 16).
DATABASE_URL="$DB" DATABASE_MAX_CONNECTIONS=32 PORT="$HTTP_PORT" HOST=127.0.0.1 RELAY_PORT="$(free_port)" SEND_RATE_LIMIT=0 RUST_LOG=warn \
  "$BIN/chatstudy-server" serve >"$WORK/server.log" 2>&1 &
PIDS+=($!)
wait_http "http://127.0.0.1:$HTTP_PORT/health" 60
SEND_ROW="$("$BIN/chatstudy-bench" send --base "http://127.0.0.1:$HTTP_PORT" --database-url "$DB" \
  --senders 32 --conversations 100 --seconds "$SECONDS_PER_RUN" --pgbench-script "$WORK/send.sql")"
echo "$SEND_ROW"
log "send path: pgbench, same statement, same database"
PGBENCH_OUT="$(cd "$WORK" && "$PG_BIN/pgbench" -n -M prepared -c 32 -j 2 -T "$SECONDS_PER_RUN" -f "$WORK/send.sql" \
  -l --log-prefix=pgbench -h 127.0.0.1 -p "$PG_PORT" -U postgres bench 2>&1)"
TPS="$(echo "$PGBENCH_OUT" | sed -n 's/^tps = \([0-9.]*\) .*/\1/p' | head -1)"
# Per-transaction log: the third column is the latency in microseconds.
read -r P50 P99 < <(cat "$WORK"/pgbench.* | awk '{print $3}' | sort -n | awk '{a[NR]=$1} END {printf "%.2f %.2f\n", a[int(NR*0.5)]/1000, a[int(NR*0.99)]/1000}')
echo "pgbench: tps=$TPS p50=$P50 ms p99=$P99 ms"
SEND_SUMMARY="$(echo "$SEND_ROW" | awk -F'|' -v tps="$TPS" '{ gsub(/[^0-9.]/, "", $4); gsub(/[^0-9.]/, "", $6);
  printf "The API reached %.0f%% of pgbench'"'"'s throughput on the same statement (target: at least 60%%), with a p99 of %s ms (target: at most 10 ms).", 100 * $4 / tps, $6 }')"
PGBENCH_ROW="| pgbench, same statement | 32 clients, -M prepared, -j 2 | ${TPS%.*} tx/s | $P50 ms | $P99 ms | |"
kill "${PIDS[-1]}"; wait "${PIDS[-1]}" 2>/dev/null || true
fi

SECRET="$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
if part fanout; then
log "fan-out: built-in relay, $CONNECTIONS idle subscribers"
RELAY_PORT="$(free_port)"
RELAY_APP_ID=bench RELAY_KEY=bench-key RELAY_SECRET="$SECRET" RELAY_PORT="$RELAY_PORT" "$BIN/chatstudy-relay" >"$WORK/relay.log" 2>&1 &
RELAY_PID=$!; PIDS+=($RELAY_PID)
wait_port "$RELAY_PORT"
RELAY_ROW="$("$BIN/chatstudy-bench" fanout --name "chatstudy relay" --port "$RELAY_PORT" --app-id bench --key bench-key \
  --secret "$SECRET" --pid "$RELAY_PID" --connections "$CONNECTIONS")"
echo "$RELAY_ROW"
kill "$RELAY_PID"; wait "$RELAY_PID" 2>/dev/null || true

log "fan-out: sockudo, $CONNECTIONS idle subscribers"
SOCKUDO_PORT="$(free_port)"
SOCKUDO_DEFAULT_APP_ID=bench SOCKUDO_DEFAULT_APP_KEY=bench-key SOCKUDO_DEFAULT_APP_SECRET="$SECRET" \
  SOCKUDO_DEFAULT_APP_MAX_CONNECTIONS=100000 RATE_LIMITER_ENABLED=false METRICS_ENABLED=false \
  ADAPTER_DRIVER=local CACHE_DRIVER=memory QUEUE_DRIVER=memory HOST=127.0.0.1 PORT="$SOCKUDO_PORT" \
  setsid sockudo >"$WORK/sockudo.log" 2>&1 &
SOCKUDO_PID=$!; PIDS+=($SOCKUDO_PID)
wait_port "$SOCKUDO_PORT"
SOCKUDO_ROW="$("$BIN/chatstudy-bench" fanout --name "sockudo $(sockudo --version 2>/dev/null | awk '{print $2}')" --port "$SOCKUDO_PORT" \
  --app-id bench --key bench-key --secret "$SECRET" --pid "$SOCKUDO_PID" --connections "$CONNECTIONS")"
echo "$SOCKUDO_ROW"
fi

if part desktop; then
log "desktop cache: 100,000 messages"
DESKTOP_ROWS="$("$BIN/chatstudy-bench" desktop)"
echo "$DESKTOP_ROWS"
fi
[ "$PARTS" = "send fanout desktop" ] || exit 0

CPU="$(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)"
cat > docs/benchmarks.md <<DOC
# Benchmarks

Measured by \`make bench\` (\`scripts/bench.sh\`) on $(date -u +%Y-%m-%d): $(nproc) cores ($CPU),
$(free -g | awk '/^Mem:/ {print $2}') GiB, PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') with default settings
(fsync on), everything on loopback on the same machine. Release builds. Rerun \`make bench\` to
refresh this file; \`BENCH_SECONDS\` and \`BENCH_CONNECTIONS\` change the run length and the number of
subscribers.

## Send path

\`chatstudy-bench send\`: 32 concurrent senders, each a student writing to one of 100 conversations
with a fresh \`clientId\`, through \`POST /chat/mensajes\` (session check, validation, the one-statement
insert, publishing to the built-in relay) while the advisor's subscriber receives every message;
${SECONDS_PER_RUN} s after a 2 s warm-up; the server has 32 database connections. Then \`pgbench\`
runs the server's own statement (\`SEND_SQL\`, same parameters) with 32 clients against the same
database; its p50/p99 come from its per-transaction log. The load generator and PostgreSQL share the
two cores with the server in both runs.

| what | load | throughput | p50 | p99 | notes |
|------|------|-----------:|----:|----:|-------|
$SEND_ROW
$PGBENCH_ROW

$SEND_SUMMARY

## Relay fan-out

\`chatstudy-bench fanout\`: open $CONNECTIONS WebSocket connections, each subscribed to its own
channel and otherwise idle; then publish 200 events/s for 10 s through the server's HTTP events API,
each to one subscriber, and time trigger-to-receipt. Memory is the server process's resident set
before and after the connections were held.

| server | subscribers | connect time | publish rate | p50 | p99 | delivered | RSS | per connection |
|--------|------------:|-------------:|-------------:|----:|----:|----------:|-----|---------------:|
$RELAY_ROW
$SOCKUDO_ROW

Targets: the relay's p99 no worse than sockudo's, and its memory per idle connection at most a fifth
of sockudo's.

## Desktop cache

\`chatstudy-bench desktop\`: a profile's SQLite cache holding 200 conversations and 100,000 messages
in one of them, no server reachable. Cold start is \`ChatClient::open\` (open the database, run
migrations, read the session, start the background tasks) plus reading the chat list; the first page
is what \`open_conversation\` returns (the latest 50 messages).

| what | data | time | notes |
|------|------|-----:|-------|
$DESKTOP_ROWS
DOC
log "wrote docs/benchmarks.md"
