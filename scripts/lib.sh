# Shared helpers for the project's scripts: installing what is missing and running PostgreSQL.
# Source it; it defines functions only (plus CARGO_TARGET_DIR and PATH defaults).

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# A build cache outside the clone, so that a fresh clone (as in CI) starts warm.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/chatstudy/target}"
export PATH="$HOME/.cargo/bin:$PATH"

log() { printf '\033[1;34m==>\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31merror:\033[0m %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else die "need root for: $*"; fi
}

APT_UPDATED=""
# ensure_apt PACKAGE...: install the Debian packages that are not installed yet.
ensure_apt() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing ${missing[*]}"
  if [ -z "$APT_UPDATED" ]; then as_root apt-get update -qq; APT_UPDATED=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# What Tauri 2 needs to build and run on Debian (WebKitGTK 4.1 and friends).
TAURI_PACKAGES=(libwebkit2gtk-4.1-dev libayatana-appindicator3-dev librsvg2-dev libssl-dev pkg-config build-essential curl file)

ensure_rust() {
  command -v cargo >/dev/null || die "cargo is missing: install Rust with rustup (https://rustup.rs) and run again"
}

# ensure_cargo_tool BINARY CRATE [cargo install flags...]
ensure_cargo_tool() {
  local bin="$1" crate="$2"; shift 2
  command -v "$bin" >/dev/null && return 0
  log "installing $crate (cargo install, once per machine)"
  cargo install "$crate" --locked "$@"
}

pg_bindir() {
  local dir
  for dir in /usr/lib/postgresql/*/bin; do [ -x "$dir/initdb" ] && { echo "$dir"; return; }; done
  return 1
}

ensure_postgres() {
  pg_bindir >/dev/null 2>&1 || ensure_apt postgresql
  PG_BIN="$(pg_bindir)" || die "PostgreSQL binaries not found after installing postgresql"
}

# The cluster runs as the invoking user, or as `postgres` when that is root (PostgreSQL refuses root).
pg_run() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# pg_start DATADIR PORT: initialise DATADIR if needed and start a loopback-only cluster on PORT, with
# trust authentication (it listens on 127.0.0.1 and a socket inside DATADIR only).
pg_start() {
  local data="$1" port="$2"
  ensure_postgres
  mkdir -p "$data"
  [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$data" && chmod 700 "$data"
  if [ ! -f "$data/PG_VERSION" ]; then
    pg_run "$PG_BIN/initdb" -D "$data" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null
  fi
  if pg_run "$PG_BIN/pg_ctl" -D "$data" status >/dev/null 2>&1; then return 0; fi
  pg_run "$PG_BIN/pg_ctl" -D "$data" -l "$data/server.log" -w -t 60 start \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $data -c fsync=${PG_FSYNC:-on} -c max_connections=200" >/dev/null \
    || { cat "$data/server.log" >&2; die "PostgreSQL did not start"; }
}

pg_stop() {
  local data="$1"
  [ -n "${PG_BIN:-}" ] || PG_BIN="$(pg_bindir)"
  pg_run "$PG_BIN/pg_ctl" -D "$data" -m fast -w stop >/dev/null 2>&1 || true
}

# pg_psql PORT DB SQL...
pg_psql() {
  local port="$1" db="$2"; shift 2
  "$PG_BIN/psql" -h 127.0.0.1 -p "$port" -U postgres -d "$db" -v ON_ERROR_STOP=1 -qtA "$@"
}

# free_port: a TCP port nobody listens on now.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# wait_http URL [SECONDS]: poll until URL answers.
wait_http() {
  local url="$1" limit="${2:-60}" i
  for ((i = 0; i < limit * 5; i++)); do
    curl -fsS -o /dev/null "$url" 2>/dev/null && return 0
    sleep 0.2
  done
  die "$url did not answer within ${limit}s"
}

# wait_port PORT [SECONDS]: poll until something listens on 127.0.0.1:PORT.
wait_port() {
  local port="$1" limit="${2:-60}" i
  for ((i = 0; i < limit * 5; i++)); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
    sleep 0.2
  done
  die "nothing listens on port $port after ${limit}s"
}
