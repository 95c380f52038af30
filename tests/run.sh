#!/usr/bin/env bash
# tests/run.sh — runs every test binary given against a throw-away
# PostgreSQL cluster (var/test-pg) and a fresh database, then stops the
# cluster. Prints each binary's Criterion synthesis and, last, one line:
#   tests: <passed> passed, <failed> failed
set -uo pipefail
cd "$(dirname "$0")/.."
# The tests, the migrations and the services test_flow starts see the
# defaults, not the settings of a stack the caller runs from this shell
# (TICKETFLOW_DATABASE_URL would even point them at its database). Kept:
# the harness's own TICKETFLOW_TEST_*, where PostgreSQL is and who runs it,
# and the log level (how much the test logs say).
for var in $(compgen -e); do
    case "$var" in
        TICKETFLOW_TEST_* | TICKETFLOW_PG_BIN | TICKETFLOW_PG_USER | TICKETFLOW_LOG_LEVEL) ;;
        TICKETFLOW_*) unset "$var" ;;
    esac
done
export TICKETFLOW_PG_FAST=1
export TICKETFLOW_HOME="$PWD"
pgdir="${TICKETFLOW_TEST_PG_DIR:-var/test-pg}"

# The fault tests run clusters of their own (var/test-pg-faults-*) and
# destroy them; one killed at its timeout cannot, so what is left goes here.
destroy_fault_clusters () {
    local d
    for d in var/test-pg-faults-*; do
        if [ -e "$d" ] || [ -L "$d" ]; then deploy/pg.sh destroy --dir "$d" >/dev/null 2>&1 || true; fi
    done
}
stop_cluster () { deploy/pg.sh stop --dir "$pgdir" >/dev/null 2>&1 || true; destroy_fault_clusters; }
trap stop_cluster EXIT

if [ -z "${TICKETFLOW_TEST_DATABASE_URL:-}" ]; then
    deploy/pg.sh start --dir "$pgdir" >/dev/null || { echo "tests: cannot start PostgreSQL"; exit 1; }
    base="$(deploy/pg.sh url --dir "$pgdir")"
    # a fresh database per run: later keys of a conninfo string win
    psql -q "$base" -c "DROP DATABASE IF EXISTS ticketflow_test" -c "CREATE DATABASE ticketflow_test" \
        >/dev/null || { echo "tests: cannot create the test database"; exit 1; }
    export DATABASE_URL="$base dbname=ticketflow_test"
else
    export DATABASE_URL="$TICKETFLOW_TEST_DATABASE_URL"
fi
bin/ticketflow-migrate --keys-dir var/test-keys >/dev/null || { echo "tests: migrations failed"; exit 1; }

passed=0; failed=0; broken=()
for t in "$@"; do
    log="build/tests/$(basename "$t").log"
    # the flow and fault tests run whole services as processes and
    # restart PostgreSQL under them: one test at a time
    jobs=2
    case "$t" in *test_flow | *test_faults) jobs=1 ;; esac
    "$t" --jobs "$jobs" >"$log" 2>&1
    rc=$?
    destroy_fault_clusters
    synthesis=$(grep -a 'Synthesis:' "$log" | tail -1)
    p=$(sed -n 's/.*Passing: \([0-9]*\).*/\1/p' <<<"$synthesis")
    f=$(sed -n 's/.*Failing: \([0-9]*\).*/\1/p' <<<"$synthesis")
    c=$(sed -n 's/.*Crashing: \([0-9]*\).*/\1/p' <<<"$synthesis")
    p=${p:-0}; f=${f:-0}; c=${c:-0}
    if [ "$rc" -ne 0 ] || [ -z "$synthesis" ]; then
        [ "$((f + c))" -eq 0 ] && f=1      # died before it could report
        broken+=("$t")
        grep -a -E '\[FAIL\]|\[----\]|Assertion|CRASH|signal' "$log" | head -40
    fi
    passed=$((passed + p)); failed=$((failed + f + c))
    printf '%-40s %s\n' "$(basename "$t")" "${synthesis:-no synthesis (exit $rc)}"
done
[ ${#broken[@]} -gt 0 ] && echo "failing binaries: ${broken[*]} (logs in build/tests/*.log)"
echo "tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
