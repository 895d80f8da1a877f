#!/usr/bin/env bash
# Sets everything up and serves the gateway: installs what is missing, builds, starts an embedded
# PostgreSQL cluster in .pairgate/ (kept between runs), migrates, creates the demo tenant for
# demo.localhost once, and serves on 127.0.0.1:8080. Ctrl-C stops the gateway and the cluster.
set -euo pipefail
cd "$(dirname "$0")/.."
source ops/lib.sh

CONFIGURATION=${PAIRGATE_BUILD:-debug}
HTTP_PORT=${PAIRGATE_HTTP_PORT:-8080}

require_swift
ensure_packages "${BASE_PACKAGES[@]}"

say "building ($CONFIGURATION)"
swift build -c "$CONFIGURATION" --product pairgate
BIN="$(swift build -c "$CONFIGURATION" --show-bin-path)/pairgate"

STATE="$PWD/.pairgate"
mkdir -p "$STATE"
PGBIN=$(pg_bindir)
PGDATA="$STATE/pg"
if [ "$(id -u)" -eq 0 ] && ! pg_can_reach "$STATE"; then
    # The postgres user cannot enter this checkout (e.g. it lives under /root): keep the
    # cluster where it can, and leave a link so .pairgate/pg still finds it.
    outside="/var/lib/pairgate-dev/$(printf '%s' "$PWD" | sha256sum | cut -c1-12)"
    mkdir -p "$outside"
    chown postgres: "$outside"
    [ -L "$PGDATA" ] || ln -sfn "$outside" "$PGDATA"
    PGDATA="$outside"
fi

if [ ! -f "$PGDATA/PG_VERSION" ]; then
    say "creating the PostgreSQL cluster in $PGDATA"
    mkdir -p "$PGDATA"
    [ "$(id -u)" -eq 0 ] && chown postgres: "$PGDATA"
    chmod 700 "$PGDATA"
    as_pg "$PGBIN/initdb" -D "$PGDATA" -U postgres -A trust -E UTF8 >"$STATE/initdb.log" 2>&1 \
        || { cat "$STATE/initdb.log"; die "initdb failed"; }
fi
[ -f "$STATE/pg.port" ] || free_port >"$STATE/pg.port"
PG_PORT=$(cat "$STATE/pg.port")

stop_all() {
    trap - INT TERM EXIT
    if [ -n "${GATEWAY_PID:-}" ] && kill -0 "$GATEWAY_PID" 2>/dev/null; then
        kill -TERM "$GATEWAY_PID" 2>/dev/null || true
        wait "$GATEWAY_PID" 2>/dev/null || true
    fi
    if as_pg "$PGBIN/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; then
        say "stopping PostgreSQL"
        as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null || true
    fi
}
trap stop_all INT TERM EXIT

if ! as_pg "$PGBIN/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; then
    say "starting PostgreSQL on 127.0.0.1:$PG_PORT"
    as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -l "$PGDATA/server.log" -w -t 60 \
        -o "-p $PG_PORT -k $PGDATA -c listen_addresses=127.0.0.1" start >/dev/null \
        || { tail -n 20 "$PGDATA/server.log"; die "PostgreSQL did not start"; }
fi
as_pg "$PGBIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'pairgate'" | grep -q 1 \
    || as_pg "$PGBIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres pairgate

export PAIRGATE_DATABASE_URL="postgresql://postgres@127.0.0.1:$PG_PORT/pairgate"
"$BIN" migrate

if ! "$BIN" tenant list --json | grep -q '"demo.localhost"'; then
    say "creating the demo tenant for host demo.localhost"
    "$BIN" tenant create --name Demo --host demo.localhost --token-file "$STATE/demo-token" >/dev/null
fi

cat <<MSG

  Pairgate is starting on http://127.0.0.1:$HTTP_PORT
    liveness    curl -i http://127.0.0.1:$HTTP_PORT/healthz
    readiness   curl -i http://127.0.0.1:$HTTP_PORT/readyz
    demo tenant host demo.localhost, API token in .pairgate/demo-token
    database    $PAIRGATE_DATABASE_URL
  Ctrl-C stops the gateway and PostgreSQL.

MSG
"$BIN" serve --port "$HTTP_PORT" &
GATEWAY_PID=$!
wait "$GATEWAY_PID" || true
