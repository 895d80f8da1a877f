#!/usr/bin/env bash
# Runs the whole test suite against a throwaway PostgreSQL: installs what is missing, checks the
# shipped artifacts (ops/check-artifacts.sh), starts a cluster on a free port in a temporary
# folder, runs `swift test`, always tears the cluster down, and exits with the tests' exit code.
# Works as root (CI) or as a normal user.
set -euo pipefail
cd "$(dirname "$0")/.."
source ops/lib.sh

require_swift
# zbar-tools: QR decoding; prometheus: promtool checks /metrics; chromium and its driver (with
# selenium from PyPI): the pairing page's browser test; standardwebhooks (PyPI): the independent
# verifier of our webhook signatures.
ensure_packages "${BASE_PACKAGES[@]}" zbar-tools prometheus chromium chromium-driver
for module in selenium standardwebhooks; do
    python3 -c "import $module" 2>/dev/null || python3 -m pip install --quiet "$module" \
        || python3 -m pip install --quiet --break-system-packages "$module"
done

# The Dockerfile, the systemd unit, the Kubernetes manifests, the alerts and the dashboard, each
# through the tool that reads it: seconds, so a broken artifact fails before the long build.
ops/check-artifacts.sh

PGBIN=$(pg_bindir)
WORK=$(mktemp -d /tmp/pairgate-test.XXXXXX)
chmod 755 "$WORK"
PGDATA="$WORK/pg"
mkdir "$PGDATA"
[ "$(id -u)" -eq 0 ] && chown postgres: "$PGDATA"

teardown() {
    # Gateways a chaos run left behind (it stops them itself unless it was killed outright).
    for pidfile in "$WORK"/chaos/*.pid; do
        [ -f "$pidfile" ] && kill -KILL "$(cat "$pidfile")" 2>/dev/null || true
    done
    # Clusters that tests started for themselves (TemporaryCluster), the chaos run's, the shared one.
    for data in "$WORK"/cluster-* "$WORK"/chaos/cluster-* "$PGDATA"; do
        [ -f "$data/postmaster.pid" ] && as_pg "$PGBIN/pg_ctl" -D "$data" -m immediate stop >/dev/null 2>&1 || true
    done
    rm -rf "$WORK"
}
trap teardown EXIT
# Ctrl-C or a CI cancellation: the EXIT trap still runs, after the children got the signal too.
trap 'exit 130' INT
trap 'exit 143' TERM

# Tests run in parallel, each with pools of its own (a gateway test holds two, plus listeners):
# 300 connections ran out, and tests waiting for a LISTEN connection held their pools' idle ones.
say "starting a throwaway PostgreSQL in $PGDATA"
as_pg "$PGBIN/initdb" --no-sync -D "$PGDATA" -U postgres -A trust -E UTF8 >"$WORK/initdb.log" 2>&1 \
    || { cat "$WORK/initdb.log"; die "initdb failed"; }
PORT=$(free_port)
as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -l "$PGDATA/server.log" -w -t 30 \
    -o "-p $PORT -k $PGDATA -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c max_connections=1000" \
    start >/dev/null || { cat "$PGDATA/server.log"; die "PostgreSQL did not start"; }
as_pg "$PGBIN/createdb" -h 127.0.0.1 -p "$PORT" -U postgres pairgate_test

export PAIRGATE_TEST_DATABASE_URL="postgresql://postgres@127.0.0.1:$PORT/pairgate_test"
export PAIRGATE_TEST_PGBIN="$PGBIN"
export PAIRGATE_TEST_PG_OSUSER="$(pg_os_user)"
export PAIRGATE_TEST_TMP="$WORK"
# Tests that need PostgreSQL or external tools fail instead of skipping when these are set.
export PAIRGATE_REQUIRE_DB=1
export PAIRGATE_REQUIRE_TOOLS=1

say "building"
swift build --build-tests
# Swift Testing starts every test at once unless told otherwise: 1,000+ tests opening pools,
# sockets, child processes and databases together on two cores made PostgreSQL connections time
# out and timers fire late by tens of seconds. At most this many run at a time (README, "Running
# the tests"); PAIRGATE_TEST_WIDTH overrides it. Measured side by side on two cores (2026-12-07,
# everything but the fuzz suites): all at once 109 s with 7 tests failing, 32 at a time 99 s with
# 1, 16 at a time 108 and 118 s with 1 each, 8 at a time 104 s with none. The run's length is
# its longest tests', not its width.
export SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH=${PAIRGATE_TEST_WIDTH:-8}

# test_names PATTERN LOG: the function names of the tests whose line in LOG matches PATTERN (a
# sed expression capturing what follows "Test "), without their parameter lists.
test_names() {
    sed -n "$1" "$2" | sed -n 's/^\([A-Za-z_][A-Za-z0-9_]*\)(.*/\1/p' | sort -u
}

# run_tests LOG ARGS…: `swift test` with ARGS, its output also in LOG; a test that failed is run
# once more on its own: 1,000+ tests share two cores, and some check real-time bounds (sockets,
# timers, deadlines). One that fails again fails the run; one that passes is reported as flaky,
# by name, at the end (README, "Running the tests"). A run that does not finish within
# $SUITE_MINUTES minutes is stopped and the tests still running are named (a hung test must not
# eat CI's whole time budget); they are run again on their own like the failed ones, and fail
# the run if they hang or fail again. Returns the tests' status.
SUITE_MINUTES=${PAIRGATE_SUITE_MINUTES:-8}
run_tests() {
    local log=$1 result=0 failed unfinished
    shift
    timeout --kill-after=30 "${SUITE_MINUTES}m" swift test --skip-build "$@" 2>&1 | tee "$log" || result=$?
    failed=$(test_names 's/^✘ Test \(.*\) failed after .*/\1/p' "$log")
    if [ $result -eq 124 ] || [ $result -eq 137 ]; then
        unfinished=$(comm -23 <(test_names 's/^◇ Test \(.*\) started\.$/\1/p' "$log") \
            <(test_names 's/^[✔✘] Test \(.*\) \(passed\|failed\) after .*/\1/p' "$log"))
        say "the tests did not finish within $SUITE_MINUTES minutes; still running: $(echo $unfinished)"
        # timeout stops `swift test`, not the test process it started.
        pkill -KILL -f "$(swift build --show-bin-path)/pairgatePackageTests.xctest" || true
        failed=$(printf '%s\n%s\n' "$failed" "$unfinished" | sed '/^$/d' | sort -u)
        result=1
    fi
    if [ $result -eq 1 ]; then
        if [ -n "$failed" ] && [ "$(echo "$failed" | wc -l)" -le 25 ]; then
            say "running the failed tests again on their own: $(echo $failed)"
            if timeout --kill-after=30 5m swift test --skip-build --filter "$(echo "$failed" | paste -sd '|')"; then
                say "FLAKY (failed in the parallel run, passed alone): $(echo $failed)"
                result=0
            fi
        fi
    fi
    return $result
}

status=0
if [ $# -gt 0 ]; then
    say "testing: swift test $*"
    run_tests "$WORK/tests.log" "$@" || status=$?
else
    # The fuzz suites (100,000 hostile inputs per decoder, minutes of CPU in a debug build) run on
    # their own after the rest: in the same run they held both threads of the cooperative pool
    # for a minute at a time, and the socket, timer and database tests waiting behind them
    # timed out by the dozen.
    say "testing: everything but the fuzz suites"
    run_tests "$WORK/tests.log" --skip 'FuzzTests' || status=$?
    if [ $status -eq 0 ]; then
        say "testing: the fuzz suites"
        run_tests "$WORK/fuzz.log" --filter 'FuzzTests' || status=$?
    fi
fi
[ $status -eq 0 ] && say "all tests passed" || say "tests failed (exit $status)"
if [ $status -eq 0 ] && [ $# -eq 0 ]; then
    say "checking the API against docs/openapi.yaml (schemathesis)"
    PAIRGATE_CONTRACT_BINARY="$(swift build --show-bin-path)/pairgate" ops/api-contract.sh || status=$?
fi
if [ $status -eq 0 ] && [ $# -eq 0 ]; then
    # The 2-minute soak (docs/chaos.md): a fleet of 200 through kills, a second instance, a database
    # partition of one instance, a PostgreSQL restart and an unauthenticated flood, with contacts
    # sending 4 messages a second throughout (every delivered one must be in the inbox exactly
    # once) and the tenants sending 3 a second through POST /messages (every accepted one must
    # reach its contact exactly once, sent under the device's lease), on a cluster of its own under
    # $WORK/chaos (the teardown stops it).
    say "soak: pairgate chaos --minutes 2 --devices 200"
    mkdir -p "$WORK/chaos"
    chaos=0
    "$(swift build --show-bin-path)/pairgate" chaos --minutes 2 --devices 200 --work-dir "$WORK/chaos" \
        --pgbin "$PGBIN" || chaos=$?
    if [ $chaos -ne 0 ]; then
        # The teardown deletes $WORK: show the gateways' last words first.
        for log in "$WORK"/chaos/*.log; do [ -f "$log" ] && { echo "--- $log"; tail -n 40 "$log"; }; done
        status=$chaos
    fi
fi
exit $status
