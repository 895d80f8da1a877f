#!/usr/bin/env bash
# Checks the running API against docs/openapi.yaml with schemathesis: starts a throwaway
# PostgreSQL, a simulator and a gateway, creates a tenant for contract.localhost, and runs every
# check (no server errors, no undocumented status, no schema violation, auth enforced, 405 with
# Allow…) twice: on that tenant, whose pairings end within seconds, then, without the admin
# operations, on a new tenant (pairing.localhost) with a pairing running (a second simulator with
# the usual refs, a second gateway), as a new user meets it — the page, the event stream (each
# event against its schema) and the QR image are live then. Installs schemathesis with pip when
# it is missing. Exits non-zero if either run fails.
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

# ops/test.sh passes the binary its `swift build --build-tests` made: building the product alone
# compiles with other flags (no testability) and took most of a minute again.
if [ -n "${PAIRGATE_CONTRACT_BINARY:-}" ]; then
    BIN=$PAIRGATE_CONTRACT_BINARY
else
    say "building pairgate"
    swift build --product pairgate >/dev/null
    BIN="$(swift build --show-bin-path)/pairgate"
fi

PGBIN=$(pg_bindir)
WORK=$(mktemp -d /tmp/pairgate-contract.XXXXXX)
chmod 755 "$WORK"
PGDATA="$WORK/pg"
mkdir "$PGDATA"
[ "$(id -u)" -eq 0 ] && chown postgres: "$PGDATA"

teardown() {
    for pid in "${GATEWAY_PID:-}" "${GATEWAY2_PID:-}" "${SIM_PID:-}" "${SIM2_PID:-}"; do
        [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
    done
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

# start_sim NAME ARGS…: a simulator whose root key and port land in SIM_KEY and SIM_URL.
start_sim() {
    local name=$1 port control
    shift
    port=$(free_port "$PG_PORT" ${USED_PORTS:-})
    control=$(free_port "$PG_PORT" "$port" ${USED_PORTS:-})
    USED_PORTS="${USED_PORTS:-} $port $control"
    "$BIN" sim --in-memory --port "$port" --control-port "$control" --log-level warning "$@" >"$WORK/$name.out" 2>&1 &
    STARTED_PID=$!
    for _ in $(seq 1 100); do
        grep -q "root public key" "$WORK/$name.out" && break
        kill -0 "$STARTED_PID" 2>/dev/null || { cat "$WORK/$name.out"; die "the simulator exited"; }
        sleep 0.1
    done
    SIM_URL="ws://127.0.0.1:$port/ws/chat"
    SIM_KEY="$(sed -n 's/.*root public key: *//p' "$WORK/$name.out")"
}

# start_gateway NAME: `pairgate serve` on a free port (HTTP_PORT) against SIM_URL.
start_gateway() {
    local name=$1
    HTTP_PORT=$(free_port "$PG_PORT" ${USED_PORTS:-})
    USED_PORTS="${USED_PORTS:-} $HTTP_PORT"
    PAIRGATE_UPSTREAM_URL="$SIM_URL" PAIRGATE_UPSTREAM_ROOT_KEY="$SIM_KEY" \
        "$BIN" serve --port "$HTTP_PORT" >"$WORK/$name.log" 2>&1 &
    STARTED_PID=$!
    for _ in $(seq 1 100); do
        curl -fsS "http://127.0.0.1:$HTTP_PORT/healthz" >/dev/null 2>&1 && break
        kill -0 "$STARTED_PID" 2>/dev/null || { cat "$WORK/$name.log"; die "the gateway exited"; }
        sleep 0.1
    done
}

# write_config NAME HOST: schemathesis's settings for the run NAME, as the tenant of HOST (whose
# token is TENANT_TOKEN when schemathesis starts) and the admin.
write_config() {
    cat >"$WORK/$1.toml" <<TOML
headers = { Host = "$2" }

[auth.openapi.tenantToken]
bearer = "\${TENANT_TOKEN}"

[auth.openapi.adminToken]
bearer = "\${PAIRGATE_ADMIN_TOKEN}"

# A replay after an event id that names no event is 404 event_not_found while its endpoint exists;
# the stateful phase replays a just-created endpoint with a random event id and reads any 404 as
# "created resource not found" (seen once in five runs). Every other check still runs on it.
# (Checked with schemathesis 4.32: this holds only without `--checks` on the command line.)
[[operations]]
include-path = "/webhooks/{id}/replay"
checks.ensure_resource_availability.enabled = false
TOML
}

# run_schemathesis NAME [OPTIONS…]: every check against the gateway on HTTP_PORT, with NAME's settings.
run_schemathesis() {
    local name=$1 status=0
    shift
    say "schemathesis ($name) against http://127.0.0.1:$HTTP_PORT"
    # No `--checks all`: every check is on by default, and naming them on the command line
    # overrides the per-operation settings of the config file (the replay exception above was
    # ignored, and its 404 failed a CI run).
    schemathesis --config-file "$WORK/$name.toml" run docs/openapi.yaml \
        --url "http://127.0.0.1:$HTTP_PORT" --max-examples "$MAX_EXAMPLES" \
        --no-color "$@" || status=$?
    if [ $status -ne 0 ]; then
        say "gateway log of the $name run (last 40 lines)"
        tail -n 40 "$WORK/$name.log" >&2
    fi
    return $status
}

# The first upstream is a simulator whose QR codes expire within a second or two, so pairings
# (and their event streams) end while schemathesis is still looking.
start_sim sim --ref-count 2 --first-ref-seconds 1 --later-ref-seconds 1
SIM_PID=$STARTED_PID

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

start_gateway gateway
GATEWAY_PID=$STARTED_PID

write_config gateway contract.localhost
status=0
run_schemathesis gateway --request-timeout 20 || status=$?
kill -TERM "$GATEWAY_PID" "$SIM_PID" 2>/dev/null && wait "$GATEWAY_PID" "$SIM_PID" 2>/dev/null || true
GATEWAY_PID="" SIM_PID=""

# Again with a pairing running: refs as WhatsApp's (60 s, then 20 s, six of them), and a
# pairing started before schemathesis begins. Its own POST /pair and POST /reset start and end
# others meanwhile. An event stream of a running pairing stays open: schemathesis reads it for
# its request timeout and checks the events that came. The tenant is a new one, and the admin
# operations are left out: the first run's may have disabled its tenant or removed its host, and
# this run's would do the same to the pairing under test.
export TENANT_TOKEN="$("$BIN" tenant create --name Pairing --host pairing.localhost --json \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])')"
write_config gateway-pairing pairing.localhost
start_sim sim-pairing
SIM2_PID=$STARTED_PID
start_gateway gateway-pairing
GATEWAY2_PID=$STARTED_PID
curl -fsS -o /dev/null -X POST "http://127.0.0.1:$HTTP_PORT/pair" -H "Host: pairing.localhost" \
    -H "Authorization: Bearer $TENANT_TOKEN" -H "Content-Type: application/json" -d '{"method":"qr"}' \
    || die "could not start a pairing for the second run"
showing=""
for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$HTTP_PORT/status" -H "Host: pairing.localhost" -H "Authorization: Bearer $TENANT_TOKEN" \
        | python3 -c 'import json, sys; sys.exit(json.load(sys.stdin).get("active_pairing", {}).get("status") != "showing")' \
        && { showing=1; break; }
    sleep 0.1
done
[ -n "$showing" ] || { tail -n 40 "$WORK/gateway-pairing.log" >&2; die "the pairing for the second run shows no QR after 10 s"; }
run_schemathesis gateway-pairing --request-timeout 5 --exclude-tag admin || status=$?
exit $status
