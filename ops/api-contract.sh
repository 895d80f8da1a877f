#!/usr/bin/env bash
# Checks the running API against docs/openapi.yaml with schemathesis: starts a throwaway
# PostgreSQL, a simulator and a gateway, creates a tenant for contract.localhost, and runs every check
# (no server errors, no undocumented status, no schema violation, auth enforced, 405 with
# Allow…). Installs schemathesis with pip when it is missing. Exits with schemathesis's status.
#   ops/api-contract.sh [--max-examples N]   (default 20 per operation)
set -euo pipefail
cd "$(dirname "$0")/.."
source ops/lib.sh

MAX_EXAMPLES=20
[ "${1:-}" = "--max-examples" ] && MAX_EXAMPLES=$2

require_swift
ensure_packages "${BASE_PACKAGES[@]}"
if ! command -v schemathesis >/dev/null 2>&1; then
    say "installing schemathesis"
    python3 -m pip install --quiet schemathesis || python3 -m pip install --quiet --break-system-packages schemathesis
fi

say "building pairgate"
swift build --product pairgate >/dev/null
BIN="$(swift build --show-bin-path)/pairgate"

PGBIN=$(pg_bindir)
WORK=$(mktemp -d /tmp/pairgate-contract.XXXXXX)
chmod 755 "$WORK"
PGDATA="$WORK/pg"
mkdir "$PGDATA"
[ "$(id -u)" -eq 0 ] && chown postgres: "$PGDATA"

teardown() {
    [ -n "${GATEWAY_PID:-}" ] && kill -TERM "$GATEWAY_PID" 2>/dev/null && wait "$GATEWAY_PID" 2>/dev/null || true
    [ -n "${SIM_PID:-}" ] && kill -TERM "$SIM_PID" 2>/dev/null && wait "$SIM_PID" 2>/dev/null || true
    [ -f "$PGDATA/postmaster.pid" ] && as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap teardown EXIT

as_pg "$PGBIN/initdb" --no-sync -D "$PGDATA" -U postgres -A trust -E UTF8 >"$WORK/initdb.log" 2>&1 \
    || { cat "$WORK/initdb.log"; die "initdb failed"; }
PG_PORT=$(free_port)
as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -l "$PGDATA/server.log" -w -t 30 \
    -o "-p $PG_PORT -k $PGDATA -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off" start >/dev/null \
    || { cat "$PGDATA/server.log"; die "PostgreSQL did not start"; }
as_pg "$PGBIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres pairgate

# The upstream is a simulator whose QR codes expire within a second or two, so pairings (and
# their event streams) end while schemathesis is still looking.
SIM_PORT=$(free_port "$PG_PORT")
SIM_CONTROL_PORT=$(free_port "$PG_PORT" "$SIM_PORT")
"$BIN" sim --in-memory --port "$SIM_PORT" --control-port "$SIM_CONTROL_PORT" --ref-count 2 \
    --first-ref-seconds 1 --later-ref-seconds 1 --log-level warning >"$WORK/sim.out" 2>&1 &
SIM_PID=$!
for _ in $(seq 1 100); do
    grep -q "root public key" "$WORK/sim.out" && break
    kill -0 "$SIM_PID" 2>/dev/null || { cat "$WORK/sim.out"; die "the simulator exited"; }
    sleep 0.1
done
export PAIRGATE_UPSTREAM_URL="ws://127.0.0.1:$SIM_PORT/ws/chat"
export PAIRGATE_UPSTREAM_ROOT_KEY="$(sed -n 's/.*root public key: *//p' "$WORK/sim.out")"

export PAIRGATE_DATABASE_URL="postgresql://postgres@127.0.0.1:$PG_PORT/pairgate"
export PAIRGATE_CREDENTIALS_MASTER_KEY="$("$BIN" keys generate)"
export PAIRGATE_ADMIN_TOKEN="contract-admin-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export PAIRGATE_HTTP_LINK_KEY="$(head -c 32 /dev/urandom | base64)"
# Let schemathesis reach the success paths instead of the rate limit.
export PAIRGATE_HTTP_PAIR_RATE_PER_MINUTE=100000 PAIRGATE_HTTP_PAIR_BURST=10000 PAIRGATE_HTTP_FIRST_CODE_WAIT_MS=200
export PAIRGATE_LOG_LEVEL=warning
"$BIN" migrate >/dev/null
export TENANT_TOKEN="$("$BIN" tenant create --name Contract --host contract.localhost --json \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])')"

HTTP_PORT=$(free_port "$PG_PORT" "$SIM_PORT" "$SIM_CONTROL_PORT")
"$BIN" serve --port "$HTTP_PORT" >"$WORK/gateway.log" 2>&1 &
GATEWAY_PID=$!
for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$HTTP_PORT/healthz" >/dev/null 2>&1 && break
    kill -0 "$GATEWAY_PID" 2>/dev/null || { cat "$WORK/gateway.log"; die "the gateway exited"; }
    sleep 0.1
done

cat >"$WORK/schemathesis.toml" <<TOML
headers = { Host = "contract.localhost" }

[auth.openapi.tenantToken]
bearer = "\${TENANT_TOKEN}"

[auth.openapi.adminToken]
bearer = "\${PAIRGATE_ADMIN_TOKEN}"
TOML

say "schemathesis against http://127.0.0.1:$HTTP_PORT (host contract.localhost)"
status=0
schemathesis --config-file "$WORK/schemathesis.toml" run docs/openapi.yaml \
    --url "http://127.0.0.1:$HTTP_PORT" --checks all --max-examples "$MAX_EXAMPLES" \
    --request-timeout 20 --no-color || status=$?
if [ $status -ne 0 ]; then
    say "gateway log (last 40 lines)"
    tail -n 40 "$WORK/gateway.log" >&2
fi
exit $status
