#!/usr/bin/env bash
# tests/bench.sh — `make bench`: numbers, not pass/fail.
#
# 1. The classifier: BANKING77 accuracy, training time, classifications/s,
#    memory (tests/bench_classifier.sh), and the 5-fold cross-validated
#    accuracy of the default taxonomy model.
# 2. The pipeline: a fresh embedded PostgreSQL and all services on private
#    ipc:// endpoints (so it can run beside `make start`), then
#    bin/ticketflow-loadgen submits BENCH_TICKETS (default 20000) tickets
#    from BENCH_CLIENTS (default 8) concurrent clients; throughput and
#    latency receive→assigned come from the tickets' history timestamps.
# 3. The same SQL a ticket costs on its way to assigned, run by pgbench on
#    the same cluster with the same number of clients: the raw rate.
# Last line:
#   bench: <N> tickets/s receive→assigned, p50 <ms> ms, p99 <ms> ms, raw postgres <N> tickets/s, ratio <r>
set -euo pipefail
cd "$(dirname "$0")/.."
export TICKETFLOW_HOME="$PWD"
tickets=${BENCH_TICKETS:-20000}
clients=${BENCH_CLIENTS:-8}
dir=var/bench
sock=$(mktemp -d /tmp/ticketflow-bench.XXXXXX)
export TICKETFLOW_PG_DIR=$dir/pg TICKETFLOW_RUN_DIR=$dir/run TICKETFLOW_LOG_DIR=$dir/log
for name in intake intake-events intake-feedback classifier classifier-events classifier-publish dispatcher \
            dispatcher-publish dispatcher-events sla sla-events sla-publish notifier \
            notifier-events notifier-reopen reporting; do
    var=TICKETFLOW_$(tr 'a-z-' 'A-Z_' <<<"$name")_ENDPOINT
    export "$var=ipc://$sock/$name"
done
export TICKETFLOW_INTAKE_HTTP_PORT=0 TICKETFLOW_REPORTING_HTTP_PORT=0 TICKETFLOW_LOG_LEVEL=warn
unset DATABASE_URL TICKETFLOW_DATABASE_URL

cleanup () {
    deploy/services.sh stop >/dev/null 2>&1 || true
    deploy/pg.sh destroy --dir "$dir/pg" >/dev/null 2>&1 || true
    rm -rf "$sock"
}
trap cleanup EXIT

echo "== classifier"
tests/bench_classifier.sh || echo "bench: classifier targets missed (see above)"

echo "== pipeline: $tickets tickets from $clients clients"
deploy/pg.sh destroy --dir "$dir/pg" >/dev/null 2>&1 || true
deploy/services.sh start >/dev/null
db="$(deploy/pg.sh url --dir "$dir/pg")"
run="bench$(date +%s)"
bin/ticketflow-loadgen --tickets "$tickets" --clients "$clients" --run-id "$run"

# wait until every ticket of the run has left the stages before assignment
deadline=$((SECONDS + 600))
while :; do
    waiting=$(psql -Atq "$db" -c "SELECT count(*) FROM tickets WHERE external_id LIKE '$run-%'
                                   AND status IN ('received', 'classified')")
    [ "$waiting" -eq 0 ] && break
    [ $SECONDS -gt $deadline ] && { echo "bench: $waiting tickets still waiting after 600 s"; break; }
    sleep 1
done
read -r assigned total seconds p50 p99 < <(psql -Atq -F ' ' "$db" -c "
    WITH r AS (
        SELECT t.id,
               min (e.at) FILTER (WHERE e.kind = 'received') AS received,
               min (e.at) FILTER (WHERE e.to_status = 'assigned') AS assigned
        FROM tickets t JOIN ticket_events e ON e.ticket_id = t.id
        WHERE t.external_id LIKE '$run-%' GROUP BY t.id)
    SELECT count (assigned), count (*),
           round (extract (epoch FROM max (assigned) - min (received))::numeric, 3),
           round ((percentile_cont (0.5) WITHIN GROUP (ORDER BY extract (epoch FROM assigned - received)) * 1000)::numeric, 1),
           round ((percentile_cont (0.99) WITHIN GROUP (ORDER BY extract (epoch FROM assigned - received)) * 1000)::numeric, 1)
    FROM r")
triage=$(psql -Atq "$db" -c "SELECT count(*) FROM tickets WHERE external_id LIKE '$run-%' AND status = 'triage'")
rate=$(awk -v n="$assigned" -v s="$seconds" 'BEGIN { printf "%.0f", (s > 0 ? n / s : 0) }')
echo "pipeline: $assigned of $total assigned ($triage in triage) in $seconds s: $rate tickets/s, p50 $p50 ms, p99 $p99 ms"

echo "== raw postgres: the same statements per ticket through pgbench"
script=$(mktemp /tmp/ticketflow-pgbench.XXXXXX.sql)
cat >"$script" <<'SQL'
\set n random(1, 2000000000)
BEGIN;
INSERT INTO ticket_serials AS s (day, last_serial) VALUES (current_date + 36500, 1)
    ON CONFLICT (day) DO UPDATE SET last_serial = s.last_serial + 1 RETURNING last_serial \gset
INSERT INTO tickets (ticket_no, channel, external_id, source, customer_ref, body)
    VALUES ('PB' || :last_serial, 'app', 'pgbench-' || :n || '-' || :last_serial, 'customer', 'load-1',
            '快递三天了还没有更新物流信息，订单号2023102712345678，麻烦帮我查一下到哪了') RETURNING id \gset
INSERT INTO ticket_contacts (ticket_id, customer_ref) VALUES (:id, 'load-1');
INSERT INTO ticket_events (ticket_id, kind, to_status, actor, data)
    VALUES (:id, 'received', 'received', 'intake', '{"channel": "app"}');
COMMIT;
BEGIN;
SELECT id FROM tickets WHERE id = :id AND status = 'received' FOR UPDATE SKIP LOCKED;
UPDATE tickets SET category = '订单物流', subcategory = '物流信息更新延迟', priority = 'P2', confidence = 0.9,
    priority_reasons = '{}' WHERE id = :id;
UPDATE tickets SET status = 'classified', status_changed_at = now (), updated_at = now ()
    WHERE id = :id AND status = 'received';
INSERT INTO ticket_events (ticket_id, kind, from_status, to_status, actor)
    VALUES (:id, 'classified', 'received', 'classified', 'classifier');
COMMIT;
BEGIN;
SELECT id FROM tickets WHERE id = :id AND status = 'classified' FOR UPDATE SKIP LOCKED;
SELECT department, solution_steps FROM taxonomy WHERE subcategory = '物流信息更新延迟';
UPDATE tickets SET department = 'logistics', status = 'assigned', status_changed_at = now (), updated_at = now ()
    WHERE id = :id AND status = 'classified';
INSERT INTO ticket_events (ticket_id, kind, from_status, to_status, actor)
    VALUES (:id, 'assigned', 'classified', 'assigned', 'dispatcher');
COMMIT;
SQL
per_client=$((tickets / clients))
raw=$( (pgbench -n -f "$script" -c "$clients" -j 2 -t "$per_client" "$db" 2>&1 || true) \
      | sed -n 's/^tps = \([0-9.]*\).*/\1/p' | head -1)
rm -f "$script"
raw=${raw%.*}
raw=${raw:-0}
ratio=$(awk -v a="$rate" -v b="$raw" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
echo "bench: $rate tickets/s receive→assigned, p50 $p50 ms, p99 $p99 ms, raw postgres $raw tickets/s, ratio $ratio"
