#!/usr/bin/env bash
# The demo, and the way to run Pairgate locally: installs what is missing, builds, starts an
# embedded PostgreSQL cluster in .pairgate/ (kept between runs), migrates, starts `pairgate sim`
# (a simulated WhatsApp and phone, state in .pairgate/sim/), creates the demo tenant for
# demo.localhost once, and serves the gateway on 127.0.0.1:8080 with its devices connecting to
# the simulator. Ctrl-C stops the gateway, the simulator and the cluster.
#   ops/run.sh              # against the simulator
#   ops/run.sh --whatsapp   # against the real WhatsApp (pair with your own phone)
set -euo pipefail
cd "$(dirname "$0")/.."
source ops/lib.sh

UPSTREAM=sim
[ "${1:-}" = "--whatsapp" ] && UPSTREAM=whatsapp
CONFIGURATION=${PAIRGATE_BUILD:-debug}
HTTP_PORT=${PAIRGATE_HTTP_PORT:-8080}
SIM_PORT=${PAIRGATE_SIM_PORT:-5280}
SIM_CONTROL_PORT=${PAIRGATE_SIM_CONTROL_PORT:-5281}

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
    for pid in ${GATEWAY_PID:-} ${SIM_PID:-}; do
        if kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
        fi
    done
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

# Secrets of this local installation, made once, readable only by you.
secret() {
    [ -f "$STATE/$1" ] || (umask 077 && eval "$2" >"$STATE/$1")
    cat "$STATE/$1"
}
export PAIRGATE_CREDENTIALS_MASTER_KEY="$(secret master-key '"$BIN" keys generate')"
export PAIRGATE_HTTP_LINK_KEY="$(secret link-key 'head -c 32 /dev/urandom | base64')"
export PAIRGATE_ADMIN_TOKEN="$(secret admin-token 'head -c 24 /dev/urandom | base64 | tr "+/" "-_"')"
# A demo on one machine: webhook receivers on 127.0.0.1 (ops/webhook-receiver.py) are allowed.
export PAIRGATE_WEBHOOKS_ALLOW_PRIVATE=${PAIRGATE_WEBHOOKS_ALLOW_PRIVATE:-true}

if [ "$UPSTREAM" = sim ]; then
    say "starting the simulator on 127.0.0.1:$SIM_PORT (phone and control on 127.0.0.1:$SIM_CONTROL_PORT)"
    mkdir -p "$STATE/sim"
    "$BIN" sim --port "$SIM_PORT" --control-port "$SIM_CONTROL_PORT" --root-key "$STATE/sim/root.key" \
        --state "$STATE/sim/state.json" --log-level warning >"$STATE/sim.out" 2>&1 &
    SIM_PID=$!
    for _ in $(seq 1 100); do
        grep -q "root public key" "$STATE/sim.out" && break
        kill -0 "$SIM_PID" 2>/dev/null || { cat "$STATE/sim.out"; die "the simulator did not start"; }
        sleep 0.1
    done
    export PAIRGATE_UPSTREAM_URL="ws://127.0.0.1:$SIM_PORT/ws/chat"
    export PAIRGATE_UPSTREAM_ROOT_KEY="$(sed -n 's/.*root public key: *//p' "$STATE/sim.out")"
    PHONE="the simulated phone: http://127.0.0.1:$SIM_CONTROL_PORT (paste the \"qr\" value, Scan)"
else
    PHONE="your phone: WhatsApp › Settings › Linked devices › Link a device, scan the page's QR"
fi

API="http://127.0.0.1:$HTTP_PORT"
cat <<MSG

  Pairgate is starting on $API (devices connect to $([ "$UPSTREAM" = sim ] && echo "the simulator" || echo "WhatsApp"))
    demo tenant  host demo.localhost, API token in .pairgate/demo-token
    admin token  in .pairgate/admin-token
    database     $PAIRGATE_DATABASE_URL

  Pair a device:
    1. curl -s -H 'Host: demo.localhost:$HTTP_PORT' -H "Authorization: Bearer \$(cat .pairgate/demo-token)" \\
            -H 'Content-Type: application/json' -d '{"method":"qr"}' $API/pair
    2. open its "page_url" (http://demo.localhost:$HTTP_PORT/?pairing=…) in a browser: the live QR
    3. $PHONE
       → the page turns to "Linked"; curl -s -H 'Host: demo.localhost' -H "Authorization: Bearer \$(cat .pairgate/demo-token)" $API/status
  Ctrl-C stops everything.

MSG
"$BIN" serve --port "$HTTP_PORT" &
GATEWAY_PID=$!
wait "$GATEWAY_PID" || true
