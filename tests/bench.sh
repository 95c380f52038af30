#!/usr/bin/env bash
# tests/bench.sh — `make bench`: numbers, not pass/fail.
#
# 1. The classifier (tests/bench_classifier.sh): BANKING77 accuracy,
#    training time, classifications/s, memory, and the 5-fold
#    cross-validated accuracy of the default taxonomy model. Without its
#    data it says so and the rest goes on.
# 2. Closed loop, twice: BENCH_SMALL (20000) and BENCH_LARGE (200000)
#    tickets, texts from deploy/taxonomy/train.csv, submitted by
#    bin/ticketflow-loadgen from BENCH_CLIENTS (8) clients as fast as intake
#    takes them. Throughput = tickets assigned / (last assigned − first
#    received), from the tickets' history. During the large run the RSS of
#    every service is sampled (start, every BENCH_RSS_SECONDS, end).
# 3. Open loop, at each rate of BENCH_RATES ("1000 2000") tickets/s for
#    BENCH_SECONDS (15): loadgen sends on a fixed schedule and writes each
#    ticket's scheduled send time; latency = the time its history says it
#    became assigned − that scheduled time, so queueing delay is not hidden;
#    also the p99 of each second's tickets, which shows when it was slow.
# 4. Raw PostgreSQL: the statements a ticket costs on its way to assigned,
#    and its two deadlines with their warnings (which sla makes meanwhile),
#    run by pgbench (BENCH_CLIENTS clients, -j 2, BENCH_PGBENCH_SECONDS (15)
#    each), one ticket per transaction (unbatched) and 100 tickets per
#    transaction in multi-row statements (batched, what a set-based service
#    would send).
# Every run gets a fresh embedded cluster (fsync on) in var/bench and the
# services on private ipc:// endpoints, so the bench can run beside
# `make start`. A closed-loop run that has not finished after BENCH_LIMIT
# (420) s (the small one: at most 120 s), or an open-loop run whose tickets
# are not all assigned BENCH_DRAIN (60) s after the last send, is measured
# as far as it got, and says so.
# 5. sla with a million live clocks (sla_bench below).
# 6. The notifier (notifier_bench below): BENCH_NOTIFY (100000) customer
#    messages, and a tenth of that, queued at once and drained to the file
#    sink (rate = messages / (last sent − release)); raw PostgreSQL doing
#    the same drain (batches of 500, each claimed and marked sent in one
#    statement, no lease; the payloads written to a file by psql); the
#    digest for BENCH_DIGEST
#    (100000) customers with an open ticket each, and a tenth, from
#    `ticketctl digest` until the last one is in the file.
# Last three lines:
#   notifier: <N> messages/s, digest <N> customers in <s> s
#   sla: <N> timers, p99 lateness <ms> ms, reload <s> s
#   bench: <N> tickets/s receive→assigned, p99 <ms> ms at 1000/s, p99 <ms> ms at 2000/s, raw postgres batched <N> tickets/s, ratio <r>
# with N the large closed-loop run's rate and ratio = N / raw batched.
set -euo pipefail
cd "$(dirname "$0")/.."
export TICKETFLOW_HOME="$PWD"
small=${BENCH_SMALL:-20000}
large=${BENCH_LARGE:-200000}
clients=${BENCH_CLIENTS:-8}
rates=${BENCH_RATES:-1000 2000}
open_seconds=${BENCH_SECONDS:-15}
limit=${BENCH_LIMIT:-420}
drain=${BENCH_DRAIN:-60}
pgbench_seconds=${BENCH_PGBENCH_SECONDS:-15}
rss_every=${BENCH_RSS_SECONDS:-10}
small_limit=$((limit < 120 ? limit : 120))

dir=var/bench
work=$(mktemp -d /tmp/ticketflow-bench.XXXXXX)
export TICKETFLOW_PG_DIR=$dir/pg TICKETFLOW_RUN_DIR=$dir/run TICKETFLOW_LOG_DIR=$dir/log
for name in intake intake-events intake-feedback classifier classifier-events classifier-publish dispatcher \
            dispatcher-publish dispatcher-events sla sla-events sla-publish notifier \
            notifier-events notifier-reopen reporting; do
    var=TICKETFLOW_$(tr 'a-z-' 'A-Z_' <<<"$name")_ENDPOINT
    export "$var=ipc://$work/$name"
done
export TICKETFLOW_INTAKE_HTTP_PORT=0 TICKETFLOW_REPORTING_HTTP_PORT=0 TICKETFLOW_LOG_LEVEL=warn
# fsync stays on whatever the caller's environment says: the numbers are
# for a durable commit.
unset DATABASE_URL TICKETFLOW_DATABASE_URL TICKETFLOW_PG_FAST

services=()
while read -r name _; do
    name=${name%%#*}
    if [ -n "$name" ]; then services+=("$name"); fi
done <deploy/services.list
# Services that have an ops HTTP port (/healthz, /metrics) take any free
# one, so the bench binds no fixed TCP port that `make start` may hold.
for name in "${services[@]}"; do
    export "TICKETFLOW_$(tr 'a-z-' 'A-Z_' <<<"$name")_OPS_PORT=0"
done

sampler= child=
stack_down () {
    deploy/services.sh stop >/dev/null 2>&1 || true
    deploy/pg.sh destroy --dir "$dir/pg" >/dev/null 2>&1 || true
}
cleanup () {
    rm -f "$work/sampling"
    [ -z "$sampler" ] || kill "$sampler" 2>/dev/null || true
    [ -z "$child" ] || kill "$child" 2>/dev/null || true
    stack_down
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A fresh cluster for every run, so no run inherits another's rows or backlog.
stack_up () {
    stack_down
    if ! deploy/services.sh start >"$work/start.log" 2>&1; then
        cat "$work/start.log" >&2
        return 1
    fi
    db=$(deploy/pg.sh url --dir "$dir/pg")
}

# Runs a command in the background and waits for it, so that a signal
# reaches the trap at once instead of after the command, and the trap can
# stop it.
run () {
    local rc=0
    "$@" &
    child=$!
    wait "$child" || rc=$?
    child=
    return "$rc"
}

q () { psql -X -Atq -v ON_ERROR_STOP=1 -F ' ' "$db" "$@"; }

# Waits until no ticket is left before assignment, or until the deadline
# (a $SECONDS value); prints how many still wait. Each run has its own
# database, so every ticket in it is the run's, and the status index
# answers cheaply while the pipeline works.
wait_assigned () {
    local deadline=$1 waiting
    while :; do
        waiting=$(q -c "SELECT count(*) FROM tickets WHERE status IN ('received', 'classified')")
        if [ "$waiting" -eq 0 ] || [ "$SECONDS" -ge "$deadline" ]; then break; fi
        sleep 2
    done
    echo "$waiting"
}

# One line per service: "<seconds> <service> <VmRSS kB>".
rss_sample () {
    local s pid kb
    for s in "${services[@]}"; do
        pid=$(cat "$TICKETFLOW_RUN_DIR/$s.pid" 2>/dev/null) || continue
        kb=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null) || continue
        [ -z "$kb" ] || echo "$SECONDS $s $kb"
    done
}
rss_start () {
    rss_sample >"$work/rss"
    touch "$work/sampling"
    (
        while [ -e "$work/sampling" ]; do
            for ((i = 0; i < rss_every; i++)); do
                [ -e "$work/sampling" ] || exit 0
                sleep 1
            done
            rss_sample
        done
    ) >>"$work/rss" &
    sampler=$!
}
rss_stop () {
    rm -f "$work/sampling"
    wait "$sampler" 2>/dev/null || true
    sampler=
    rss_sample >>"$work/rss"
}

# closed_loop NAME TICKETS LIMIT [memory]: sets rate[NAME] and note[NAME].
declare -A rate note p99
closed_loop () {
    local name=$1 n=$2 run_limit=$3 memory=${4:-} run_id loadgen_rc waiting start assigned total seconds p50 p99c triage
    echo "== closed loop, $name run: $n tickets from $clients clients"
    stack_up
    run_id="bench-$name-$(date +%s)r"   # a letter ends the digits: the ids must not read as a phone number (intake would hash them)
    [ -z "$memory" ] || rss_start
    start=$SECONDS
    loadgen_rc=0
    run timeout -k 5 "$run_limit" bin/ticketflow-loadgen --tickets "$n" --clients "$clients" --run-id "$run_id" \
        || loadgen_rc=$?
    waiting=$(wait_assigned $((start + run_limit)))
    [ -z "$memory" ] || rss_stop
    read -r assigned total seconds p50 p99c < <(q -c "
        WITH r AS (
            SELECT t.id,
                   min (e.at) FILTER (WHERE e.kind = 'received') AS received,
                   min (e.at) FILTER (WHERE e.to_status = 'assigned') AS assigned
            FROM tickets t JOIN ticket_events e ON e.ticket_id = t.id
            WHERE t.external_id LIKE '$run_id-%' GROUP BY t.id)
        SELECT count (assigned), count (*),
               coalesce (round (extract (epoch FROM max (assigned) - min (received))::numeric, 3), 0),
               coalesce (round ((percentile_cont (0.5) WITHIN GROUP (ORDER BY extract (epoch FROM assigned - received)) * 1000)::numeric, 1), 0),
               coalesce (round ((percentile_cont (0.99) WITHIN GROUP (ORDER BY extract (epoch FROM assigned - received)) * 1000)::numeric, 1), 0)
        FROM r")
    triage=$(q -c "SELECT count(*) FROM tickets WHERE external_id LIKE '$run_id-%' AND status = 'triage'")
    rate[$name]=$(awk -v n="$assigned" -v s="$seconds" 'BEGIN { printf "%.0f", (s > 0 ? n / s : 0) }')
    note[$name]=
    if [ "$loadgen_rc" -ne 0 ] && [ "$loadgen_rc" -ne 124 ]; then
        note[$name]=" (loadgen failed, exit status $loadgen_rc: $((n - assigned - triage)) of $n not assigned)"
    elif [ "$waiting" -gt 0 ] || [ "$total" -lt "$n" ]; then
        note[$name]=" (cut off after $run_limit s: $((n - assigned - triage)) of $n not assigned)"
    fi
    echo "closed loop, $name: $assigned of $n assigned ($triage in triage) in $seconds s: ${rate[$name]} tickets/s${note[$name]};" \
         "receive→assigned p50 $p50 ms, p99 $p99c ms"
    # the rate in each fifth of the run: does the pipeline slow down as the tables grow?
    echo "closed loop, $name: tickets/s assigned in each fifth of the run: $(q -c "
        WITH r AS (
            SELECT e.at, e.to_status, e.kind FROM tickets t JOIN ticket_events e ON e.ticket_id = t.id
            WHERE t.external_id LIKE '$run_id-%' AND (e.kind = 'received' OR e.to_status = 'assigned')),
        s AS (SELECT min (at) FILTER (WHERE kind = 'received') AS lo,
                     greatest (extract (epoch FROM max (at) FILTER (WHERE to_status = 'assigned')
                                                 - min (at) FILTER (WHERE kind = 'received')), 0.001) AS span
              FROM r),
        b AS (SELECT least (floor (extract (epoch FROM r.at - s.lo) / s.span * 5), 4) AS k, count (*) AS n
              FROM r, s WHERE r.to_status = 'assigned' GROUP BY 1)
        SELECT string_agg (round (coalesce (b.n, 0) / (s.span / 5))::text, ' ' ORDER BY k.k)
        FROM generate_series (0, 4) k (k) CROSS JOIN s LEFT JOIN b ON b.k = k.k")"
    if [ -n "$memory" ]; then
        echo "memory of each service during the $name run (VmRSS, $(awk '{ print $1 }' "$work/rss" | sort -u | wc -l) samples over $((SECONDS - start)) s):"
        awk '{ kb = $3; s = $2
               if (!(s in first)) { first[s] = kb; order[++n] = s }
               if (kb > peak[s]) peak[s] = kb
               last[s] = kb }
             END { for (i = 1; i <= n; i++) { s = order[i]
                       printf "  %-11s start %6.1f MB, peak %6.1f MB, end %6.1f MB\n",
                              s, first[s] / 1024, peak[s] / 1024, last[s] / 1024 } }' "$work/rss"
    fi
}

# open_loop RATE: sets p99[RATE].
open_loop () {
    local r=$1 run_id waiting sent assigned triage unassigned p50 p99o max lag
    echo "== open loop: $r tickets/s for $open_seconds s"
    stack_up
    run_id="bench-open$r-$(date +%s)r"
    run timeout -k 5 $((open_seconds + 60)) bin/ticketflow-loadgen --rate "$r" --seconds "$open_seconds" \
        --run-id "$run_id" --schedule "$work/schedule.csv" || echo "loadgen: exit status $?"
    waiting=$(wait_assigned $((SECONDS + drain)))
    # A ticket not assigned yet counts with its wait so far: its latency is
    # at least that. Triage waits for a person and is counted apart.
    read -r sent assigned triage unassigned p50 p99o max lag by_second < <(q <<SQL
CREATE TEMP TABLE schedule (external_id text PRIMARY KEY, scheduled_at timestamptz, sent_at timestamptz);
\copy schedule FROM '$work/schedule.csv' WITH (FORMAT csv, HEADER true)
WITH x AS (
    SELECT s.scheduled_at, s.sent_at, t.status,
           (SELECT min (e.at) FROM ticket_events e WHERE e.ticket_id = t.id AND e.to_status = 'assigned') AS assigned
    FROM schedule s LEFT JOIN tickets t ON t.channel = 'app' AND t.external_id = s.external_id),
l AS (
    SELECT scheduled_at, extract (epoch FROM coalesce (assigned, clock_timestamp ()) - scheduled_at) * 1000 AS ms
    FROM x WHERE status IS DISTINCT FROM 'triage')
SELECT (SELECT count (*) FROM x), (SELECT count (assigned) FROM x),
       (SELECT count (*) FROM x WHERE status = 'triage'),
       (SELECT count (*) FROM x WHERE assigned IS NULL AND status IS DISTINCT FROM 'triage'),
       coalesce (round (percentile_cont (0.5) WITHIN GROUP (ORDER BY ms)::numeric, 1), 0),
       coalesce (round (percentile_cont (0.99) WITHIN GROUP (ORDER BY ms)::numeric, 1), 0),
       coalesce (round (max (ms)::numeric, 1), 0),
       (SELECT coalesce (round ((extract (epoch FROM max (sent_at - scheduled_at)) * 1000)::numeric, 1), 0) FROM x),
       (SELECT coalesce (string_agg (p::text, ',' ORDER BY k), '-')
        FROM (SELECT floor (extract (epoch FROM scheduled_at - (SELECT min (scheduled_at) FROM l))) AS k,
                     round (percentile_cont (0.99) WITHIN GROUP (ORDER BY ms)::numeric) AS p
              FROM l GROUP BY 1) b)
FROM l;
SQL
)
    p99[$r]=$p99o
    echo "open loop, $r/s: $assigned of $sent sent assigned ($triage in triage); scheduled send→assigned" \
         "p50 $p50 ms, p99 $p99o ms, max $max ms; sender at most $lag ms behind schedule"
    echo "open loop, $r/s: p99 of the tickets sent in each second, ms: ${by_second//,/ }"
    if [ "$unassigned" -gt 0 ]; then
        echo "open loop, $r/s: $unassigned tickets not assigned ${drain} s after the last send:" \
             "counted with their wait so far, so p50/p99/max are lower bounds"
    fi
}

# The SQL a ticket costs from receipt to assignment (intake: serial, ticket,
# contact, history; classifier: lock, classification, status + history;
# dispatcher: lock, taxonomy, status + history) and the clocks sla makes
# for it while the others work (lock, the two deadlines on the service
# hours with their warnings, the ticket's copy), one ticket per transaction. Not in it: the mass-incident links and
# notes, which the pipeline adds to tickets whose texts repeat.
cat >"$work/unbatched.sql" <<'SQL'
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
BEGIN;
SELECT id FROM tickets WHERE id = :id FOR UPDATE SKIP LOCKED;
INSERT INTO sla_timers (ticket_id, kind, due_at, warn_at, calendar)
    VALUES (:id, 'response', tf_business_add (now (), 900, 'default'), tf_business_add (now (), 720, 'default'),
            'default'),
           (:id, 'resolution', now () + interval '48 hours', now () + interval '38.4 hours', NULL);
UPDATE tickets SET response_due_at = tf_business_add (now (), 900, 'default'), resolve_due_at = now () + interval '48 hours'
    WHERE id = :id;
COMMIT;
SQL

# The same statements for 100 tickets per transaction, as multi-row
# statements. The ids travel from one stage to the next as an array
# literal: pgbench pastes a variable's text into the SQL, so :ids holds
# '{1,2,...}' quotes and all. Each client bumps its own serial row, as
# the one intake does, rather than queue behind the other clients' commits.
cat >"$work/batched.sql" <<'SQL'
BEGIN;
INSERT INTO ticket_serials AS s (day, last_serial) VALUES (current_date + 36500 + :client_id, 100)
    ON CONFLICT (day) DO UPDATE SET last_serial = s.last_serial + 100 RETURNING last_serial \gset
WITH t AS (
    INSERT INTO tickets (ticket_no, channel, external_id, source, customer_ref, body)
    SELECT 'PB' || :client_id || '-' || (:last_serial - 100 + g), 'app',
           'pgbatch-' || :client_id || '-' || (:last_serial - 100 + g), 'customer', 'load-' || g,
           '快递三天了还没有更新物流信息，订单号2023102712345678，麻烦帮我查一下到哪了'
    FROM generate_series (1, 100) g
    RETURNING id, customer_ref),
 c AS (INSERT INTO ticket_contacts (ticket_id, customer_ref) SELECT id, customer_ref FROM t),
 e AS (INSERT INTO ticket_events (ticket_id, kind, to_status, actor, data)
       SELECT id, 'received', 'received', 'intake', '{"channel": "app"}' FROM t)
SELECT quote_literal (array_agg (id)::text) AS ids FROM t \gset
COMMIT;
BEGIN;
SELECT id FROM tickets WHERE id = ANY (:ids::int8[]) AND status = 'received' ORDER BY id FOR UPDATE SKIP LOCKED;
UPDATE tickets t SET category = '订单物流', subcategory = '物流信息更新延迟', priority = 'P2',
    confidence = v.confidence, priority_reasons = '{}'
    FROM (SELECT id, 0.5 + random () / 2 AS confidence FROM unnest (:ids::int8[]) id) v
    WHERE t.id = v.id;
WITH u AS (UPDATE tickets SET status = 'classified', status_changed_at = now (), updated_at = now ()
           WHERE id = ANY (:ids::int8[]) AND status = 'received' RETURNING id)
INSERT INTO ticket_events (ticket_id, kind, from_status, to_status, actor)
    SELECT id, 'classified', 'received', 'classified', 'classifier' FROM u;
COMMIT;
BEGIN;
SELECT id FROM tickets WHERE id = ANY (:ids::int8[]) AND status = 'classified' ORDER BY id FOR UPDATE SKIP LOCKED;
SELECT department, solution_steps FROM taxonomy WHERE subcategory = '物流信息更新延迟';
WITH u AS (UPDATE tickets SET department = 'logistics', status = 'assigned', status_changed_at = now (), updated_at = now ()
           WHERE id = ANY (:ids::int8[]) AND status = 'classified' RETURNING id)
INSERT INTO ticket_events (ticket_id, kind, from_status, to_status, actor)
    SELECT id, 'assigned', 'classified', 'assigned', 'dispatcher' FROM u;
COMMIT;
BEGIN;
SELECT id FROM tickets WHERE id = ANY (:ids::int8[]) ORDER BY id FOR UPDATE SKIP LOCKED;
INSERT INTO sla_timers (ticket_id, kind, due_at, warn_at, calendar)
    SELECT id, k, CASE k WHEN 'response' THEN tf_business_add (now (), 900, 'default')
                         ELSE now () + interval '48 hours' END,
           CASE k WHEN 'response' THEN tf_business_add (now (), 720, 'default')
                  ELSE now () + interval '38.4 hours' END,
           CASE k WHEN 'response' THEN 'default' END
    FROM unnest (:ids::int8[]) id, (VALUES ('response'), ('resolution')) v (k);
UPDATE tickets SET response_due_at = tf_business_add (now (), 900, 'default'), resolve_due_at = now () + interval '48 hours'
    WHERE id = ANY (:ids::int8[]);
COMMIT;
SQL

# raw_rate SCRIPT PREFIX TICKETS_PER_RUN: sets raw_rate to the tickets/s of
# pgbench running SCRIPT and raw_check to how many of the tickets it made
# (external ids PREFIX-...) got to assigned, so a script that stopped
# halfway cannot pass for fast.
raw_rate () {
    local tps assigned timed made
    run pgbench -n -f "$1" -c "$clients" -j 2 -T "$pgbench_seconds" "$db" \
        >"$work/pgbench.out" 2>"$work/pgbench.err" || true
    tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$work/pgbench.out" | head -1)
    if [ -z "$tps" ]; then
        echo "pgbench failed:" >&2
        tail -n 5 "$work/pgbench.err" >&2
    fi
    read -r assigned timed made < <(q -c "SELECT count(*) FILTER (WHERE status = 'assigned'),
                                                 count(*) FILTER (WHERE response_due_at IS NOT NULL), count(*)
                                          FROM tickets WHERE external_id LIKE '$2-%'")
    raw_rate=$(awk -v t="${tps:-0}" -v k="$3" 'BEGIN { printf "%.0f", t * k }')
    raw_check="($assigned of $made tickets assigned, $timed with deadlines)"
}

echo "== classifier"
classifier_rc=0
tests/bench_classifier.sh || classifier_rc=$?
case $classifier_rc in
    0) ;;
    2) echo "classifier: not measured — its data or programs are missing (see above); the rest of the bench goes on" ;;
    *) echo "classifier: targets missed (see above)" ;;
esac

closed_loop small "$small" "$small_limit"
closed_loop large "$large" "$limit" memory

for r in $rates; do
    open_loop "$r"
done

# sla with BENCH_SLA_TIMERS (1,000,000) live clocks (ten resolution rounds
# for each of a tenth as many tickets in hand, due in 1-30 days): first
# kill -9 and a restart with BENCH_SLA_RELOAD (1,000) clocks already due —
# "reload" is the time from the restart until the last of them went off;
# then BENCH_SLA_DUE (20,000) clocks due over 20 s, 1,000 a second —
# "p99 lateness" is when they went off (breached_at) minus when they were
# due. Each one is a breach with its history row and first escalation step.
sla_bench () {
    local n=${BENCH_SLA_TIMERS:-1000000} reload_n=${BENCH_SLA_RELOAD:-1000} due_n=${BENCH_SLA_DUE:-20000}
    local tickets=$((n / 10)) started fired reload p99 p50 late rss pid
    ((due_n <= tickets)) || due_n=$tickets
    echo "== sla: $n live clocks; kill -9 and restart with $reload_n due; then $due_n due over 20 s"
    stack_up
    q -c "INSERT INTO tickets (ticket_no, channel, source, customer_ref, body, status, priority, department,
                               response_due_at, resolve_due_at)
          SELECT 'SB' || g, 'app', 'customer', 'sla-bench', 'sla bench', 'in_progress', 'P2', 'frontline',
                 now () + interval '30 days', now () + interval '30 days' FROM generate_series (1, $tickets) g" >/dev/null
    q -c "INSERT INTO sla_timers (ticket_id, kind, round, due_at)
          SELECT t.id, 'resolution', r, now () + interval '1 day' + random () * interval '29 days'
          FROM tickets t CROSS JOIN generate_series (0, 9) r WHERE t.customer_ref = 'sla-bench'" >/dev/null
    q -c "ANALYZE sla_timers" >/dev/null
    live=$(q -c "SELECT count(*) FROM sla_timers WHERE met_at IS NULL AND breached_at IS NULL")
    pid=$(cat "$TICKETFLOW_RUN_DIR/sla.pid")
    kill -9 "$pid"
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
    q -c "UPDATE sla_timers SET due_at = now () - interval '1 second' WHERE round = 1
          AND ticket_id IN (SELECT id FROM tickets WHERE customer_ref = 'sla-bench' ORDER BY id LIMIT $reload_n)" >/dev/null
    started=$(q -c "SELECT extract (epoch FROM clock_timestamp ())")
    deploy/services.sh start sla >/dev/null
    for _ in $(seq 1 300); do
        fired=$(q -c "SELECT count(*) FROM sla_timers WHERE kind = 'resolution' AND round = 1 AND breached_at IS NOT NULL")
        [ "$fired" -ge "$reload_n" ] && break
        sleep 0.1
    done
    reload=$(q -c "SELECT round ((extract (epoch FROM max (breached_at)) - $started)::numeric, 2)
                   FROM sla_timers WHERE kind = 'resolution' AND round = 1 AND breached_at IS NOT NULL")
    echo "sla: killed (-9) and restarted with $live live clocks: $fired of $reload_n overdue went off, the last ${reload} s after the start"
    q -c "UPDATE sla_timers s SET due_at = now () + interval '10 seconds' + (x.k * 20.0 / $due_n) * interval '1 second'
          FROM (SELECT t.id, row_number () OVER (ORDER BY t.id) AS k FROM sla_timers t
                WHERE t.kind = 'resolution' AND t.round = 0 AND t.breached_at IS NULL ORDER BY t.id LIMIT $due_n) x
          WHERE s.id = x.id" >/dev/null
    for _ in $(seq 1 60); do
        sleep 1
        fired=$(q -c "SELECT count(*) FROM sla_timers WHERE kind = 'resolution' AND round = 0 AND breached_at IS NOT NULL")
        [ "$fired" -ge "$due_n" ] && break
    done
    read -r p50 p99 late < <(q -c "SELECT round (percentile_cont (0.5) WITHIN GROUP (ORDER BY ms)::numeric, 1),
                                         round (percentile_cont (0.99) WITHIN GROUP (ORDER BY ms)::numeric, 1),
                                         round (max (ms)::numeric, 1)
                                  FROM (SELECT extract (epoch FROM breached_at - due_at) * 1000 AS ms
                                        FROM sla_timers WHERE kind = 'resolution' AND round = 0
                                        AND breached_at IS NOT NULL) x")
    rss=$(awk '/^VmRSS:/ { printf "%.0f", $2 / 1024 }' "/proc/$(cat "$TICKETFLOW_RUN_DIR/sla.pid")/status" 2>/dev/null || echo "?")
    echo "sla: $fired of $due_n clocks due over 20 s went off: lateness p50 $p50 ms, p99 $p99 ms, max $late ms; sla RSS $rss MB"
    sla_line="sla: $live timers, p99 lateness ${p99:-n/a} ms, reload ${reload:-n/a} s"
    echo "$sla_line"
    stack_down
}

# notifier_bench: sets notifier_line
notifier_bench () {
    local notify=${BENCH_NOTIFY:-100000} digest_n=${BENCH_DIGEST:-100000} n start rate raw_s raw_rate secs
    local -A drain digest
    export TICKETFLOW_NOTIFIER_FILE=$work/notifications.jsonl
    echo "== notifier: $((notify / 10)) and $notify messages drained to the file sink; the digest for" \
         "$((digest_n / 10)) and $digest_n customers"
    for n in $((notify / 10)) $notify; do
        stack_up
        q -c "INSERT INTO tickets (ticket_no, channel, source, customer_ref, body, status, priority, department)
              SELECT 'NB' || g, 'app', 'customer', 'nb-' || g, 'notifier bench', 'in_progress', 'P3', 'frontline'
              FROM generate_series (1, $n) g" >/dev/null
        #  held back until all are in, then released at once
        q -c "INSERT INTO outbox (ticket_id, kind, sink, audience, channel, customer_ref, priority, next_attempt_at, payload)
              SELECT id, 'reply', 'customer', 'customer', 'app', customer_ref, 'P3', now () + interval '1 day',
                     jsonb_build_object ('ticket_no', ticket_no, 'channel', 'app', 'customer_id', customer_ref,
                       'subject', '回复:工单 ' || ticket_no,
                       'message', '您好,关于工单 ' || ticket_no || ':已为您重新发货,快递单号 SF1234567890,请留意查收。(王芳)')
              FROM tickets" >/dev/null
        start=$(q -c "UPDATE outbox SET next_attempt_at = now (); SELECT extract (epoch FROM clock_timestamp ())" | tail -1)
        for _ in $(seq 1 600); do
            [ "$(q -c "SELECT count(*) FROM outbox WHERE status <> 'sent'")" = 0 ] && break
            sleep 0.2
        done
        rate=$(q -c "SELECT round (count(*) / greatest (extract (epoch FROM max (sent_at)) - $start, 0.001))
                     FROM outbox WHERE status = 'sent'")
        [ "$(wc -l < "$TICKETFLOW_NOTIFIER_FILE")" = "$n" ] || echo "notifier: the file has $(wc -l < "$TICKETFLOW_NOTIFIER_FILE") lines for $n messages"
        drain[$n]=$rate
        #  the same drain by SQL alone, on the same rows made due again
        deploy/services.sh stop notifier >/dev/null
        q -c "UPDATE outbox SET status = 'queued', sent_at = NULL, next_attempt_at = now ()" >/dev/null
        for _ in $(seq 1 $(( (n + 499) / 500 ))); do
            echo "WITH c AS (UPDATE outbox o SET status = 'sent', sent_at = now (), attempts = attempts + 1
                  FROM (SELECT id FROM outbox WHERE status = 'queued' AND next_attempt_at <= now ()
                        ORDER BY next_attempt_at, id LIMIT 500 FOR UPDATE SKIP LOCKED) d WHERE o.id = d.id
                  RETURNING o.id, o.kind, o.payload)
             SELECT payload || jsonb_build_object ('message_id', id, 'kind', kind) FROM c;"
        done >"$work/raw_drain.sql"
        start=$(date +%s.%N)
        q -f "$work/raw_drain.sql" -o "$work/raw_drain.jsonl"
        raw_s=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.3f", b - a }')
        raw_rate=$(awk -v n="$n" -v s="$raw_s" 'BEGIN { printf "%.0f", n / s }')
        echo "notifier: $n messages: $rate messages/s; raw postgres batched $raw_rate messages/s," \
             "ratio $(awk -v a="$rate" -v b="$raw_rate" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')"
        rm -f "$TICKETFLOW_NOTIFIER_FILE"
    done
    for n in $((digest_n / 10)) $digest_n; do
        stack_up
        q -c "INSERT INTO tickets (ticket_no, channel, source, customer_ref, body, subject, status, priority,
                                   department, subcategory, category, assignee, resolve_due_at)
              SELECT 'DG' || g, 'app', 'customer', 'dg-' || g, '优惠券用不了', '优惠券', 'in_progress', 'P3',
                     'frontline', '功能操作', '产品使用', '王芳', now () + interval '1 day'
              FROM generate_series (1, $n) g" >/dev/null
        q -c "ANALYZE tickets" >/dev/null
        start=$(q -c "SELECT extract (epoch FROM clock_timestamp ())")
        bin/ticketctl digest --request-timeout-ms=120000 >/dev/null
        for _ in $(seq 1 1200); do
            [ "$(q -c "SELECT count(*) FROM outbox WHERE kind = 'digest' AND status <> 'sent'")" = 0 ] && break
            sleep 0.1
        done
        read -r made secs < <(q -c "SELECT count(*), round ((extract (epoch FROM max (sent_at)) - $start)::numeric, 2)
                                    FROM outbox WHERE kind = 'digest' AND status = 'sent'")
        digest[$n]=$secs
        echo "notifier: digest for $made of $n customers out in $secs s"
        rm -f "$TICKETFLOW_NOTIFIER_FILE"
    done
    unset TICKETFLOW_NOTIFIER_FILE
    stack_down
    echo "notifier: drain $((notify / 10)) → $notify messages: ${drain[$((notify / 10))]} → ${drain[$notify]} messages/s;" \
         "digest $((digest_n / 10)) → $digest_n customers: ${digest[$((digest_n / 10))]} → ${digest[$digest_n]} s"
    notifier_line="notifier: ${drain[$notify]} messages/s, digest $digest_n customers in ${digest[$digest_n]} s"
}

sla_bench
notifier_bench

echo "== raw postgres: the same statements through pgbench, $clients clients, $pgbench_seconds s each"
stack_down
deploy/pg.sh start --dir "$dir/pg" >/dev/null 2>"$work/pg.err" || { cat "$work/pg.err" >&2; exit 1; }
db=$(deploy/pg.sh url --dir "$dir/pg")
DATABASE_URL=$db bin/ticketflow-migrate >/dev/null
raw_rate "$work/unbatched.sql" pgbench 1
echo "raw postgres unbatched (one ticket per transaction): $raw_rate tickets/s $raw_check"
raw_rate "$work/batched.sql" pgbatch 100
raw_batched=$raw_rate
echo "raw postgres batched (100 tickets per transaction): $raw_batched tickets/s $raw_check"

change=$(awk -v a="${rate[small]}" -v b="${rate[large]}" \
    'BEGIN { if (a > 0) printf "%.2f (%+.0f %%)", b / a, (b / a - 1) * 100; else print "n/a" }')
echo "closed loop: ${rate[small]} tickets/s at $small tickets${note[small]}," \
     "${rate[large]} tickets/s at $large tickets${note[large]}; large/small $change;" \
     "the rate below is the $large-ticket run's"
ratio=$(awk -v a="${rate[large]}" -v b="$raw_batched" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
line="bench: ${rate[large]} tickets/s receive→assigned"
for r in $rates; do
    line+=", p99 ${p99[$r]} ms at $r/s"
done
echo "$notifier_line"
echo "$sla_line"
echo "$line, raw postgres batched $raw_batched tickets/s, ratio $ratio"
