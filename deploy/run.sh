#!/usr/bin/env bash
# deploy/run.sh — `make run`: the whole system on this machine, for a newcomer.
# Starts PostgreSQL (embedded unless DATABASE_URL is set) and all six
# services, puts a roster on duty, feeds the demo tickets
# (deploy/demo/tickets.json), drives a few of them through the whole flow —
# accept, progress, hold and resume, resolve, the customer's feedback, a
# reopen, a request for information and the customer's answer — shows an
# unaccepted ticket going to the next agent and a P1 escalated to the
# on-duty manager, sends the digest, shows what customers were sent
# (receipts, progress, digest, survey in var/notifications.jsonl), prints
# where to look, and stops everything on Ctrl-C.
#
#   deploy/run.sh              all of the above
#   deploy/run.sh --endpoints  only print where the services listen; start nothing
#
# Endpoints and ports are those the services use: TICKETFLOW_* of this
# environment, else the defaults (make start passes no flags).
set -euo pipefail
cd "$(dirname "$0")/.."
ctl=bin/ticketctl

# setting NAME SERVICE: the value bin/ticketflow-SERVICE runs with: its
# TICKETFLOW_ variable, else the default its --help states (so no port is
# written down here a second time)
setting () {
    local var
    var=TICKETFLOW_$(printf '%s' "$1" | tr 'a-z-' 'A-Z_')
    if [ -n "${!var:-}" ]; then
        printf '%s\n' "${!var}"
    else
        "bin/ticketflow-$2" --help | sed -n "/^  --$1=VALUE\$/{n;s/.*\[default: \(.*\)\]\$/\1/p}"
    fi
}

# http_url PORT-SETTING SERVICE: its base URL, empty for port 0 (any free port) or -1 (off)
http_url () {
    local port
    port=$(setting "$1" "$2")
    [ "$port" = 0 ] || [ "$port" = -1 ] || printf 'http://%s:%s\n' "$(setting http-address "$2")" "$port"
}

endpoints () {
    local intake_http reporting_http
    intake_http=$(http_url intake-http-port intake)
    reporting_http=$(http_url reporting-http-port reporting)
    echo "Where the services listen (TICKETFLOW_* of this environment, else the defaults):"
    printf '  %-11s %s   HTTP %s\n' intake "$(setting intake-endpoint intake)" \
        "${intake_http:-on a free port (TICKETFLOW_INTAKE_HTTP_PORT=0)}"
    printf '  %-11s %s   incident.opened (PUB) %s\n' classifier "$(setting classifier-endpoint classifier)" \
        "$(setting classifier-publish-endpoint classifier)"
    printf '  %-11s %s   ticket.assigned (PUB) %s\n' dispatcher "$(setting dispatcher-endpoint dispatcher)" \
        "$(setting dispatcher-publish-endpoint dispatcher)"
    printf '  %-11s %s   sla.breached, sla.warning, sla.escalated (PUB) %s\n' sla "$(setting sla-endpoint sla)" \
        "$(setting sla-publish-endpoint sla)"
    printf '  %-11s %s\n' notifier "$(setting notifier-endpoint notifier)"
    printf '  %-11s %s   HTTP %s\n' reporting "$(setting reporting-endpoint reporting)" \
        "${reporting_http:-on a free port (TICKETFLOW_REPORTING_HTTP_PORT=0)}"
    echo "Health and Prometheus metrics of each service (/healthz, /readyz, /metrics):"
    local service ops
    for service in intake classifier dispatcher sla notifier reporting; do
        ops=$(http_url "$service-ops-port" "$service")
        printf '  %-11s %s\n' "$service" "${ops:-on a free port, or off}"
    done
    echo "Try (bin/ticketctl reads the same TICKETFLOW_* settings):"
    echo "  bin/ticketctl submit --channel app --customer C1 --body \"订单还没发货\""
    echo "  bin/ticketctl queue --department frontline"
    echo "  bin/ticketctl queue --agent 王芳"
    echo "  bin/ticketctl agent list"
    echo "  bin/ticketctl queue --status triage"
    echo "  bin/ticketctl show <ticket_no>"
    echo "  bin/ticketctl cert create --name 王芳 --role agent --department frontline --out wangfang.cert"
    echo "  bin/ticketctl --cert wangfang.cert queue        # what 王芳 may see: her department only"
    echo "HTTP takes a bearer token (bin/ticketctl token create prints one):"
    echo "  web=\$(bin/ticketctl token create --name web-form --role adapter --channel web)"
    [ -z "$intake_http" ] || echo "  curl -s -XPOST $intake_http/v1/tickets -H \"Authorization: Bearer \$web\"" \
        "-H 'Content-Type: application/json'" \
        "-d '{\"channel\":\"web\",\"customer\":{\"id\":\"c9\"},\"body\":\"退款什么时候到账\"}'"
    [ -z "$reporting_http" ] || echo "  curl -s $reporting_http/v1/report/summary -H \"Authorization: Bearer \$ops_token\"" \
        " # ops_token=\$(bin/ticketctl token create --name ops --role operator)"
    ops=$(http_url classifier-ops-port classifier)
    [ -z "$ops" ] || echo "  curl -s $ops/metrics | grep waiting"
}

if [ "${1:-}" = --endpoints ]; then
    endpoints
    exit 0
fi
[ $# -eq 0 ] || { echo "usage: deploy/run.sh [--endpoints]" >&2; exit 2; }

stop_all () {
    echo
    echo "stopping..."
    deploy/services.sh stop || true
    exit 0
}
trap stop_all INT TERM

deploy/services.sh start
# the database the services use: TICKETFLOW_DATABASE_URL wins over DATABASE_URL
DATABASE_URL=${TICKETFLOW_DATABASE_URL:-${DATABASE_URL:-}}
if [ -z "$DATABASE_URL" ]; then
    DATABASE_URL="$(deploy/pg.sh url --dir "${TICKETFLOW_PG_DIR:-var/pg}")"
fi
sql () { psql -Atq "$DATABASE_URL" -c "$1"; }

echo
echo "== the roster: agents on duty with their skills and capacity, the escalation chain"
roster () { $ctl agent add "$@" >/dev/null 2>&1 || $ctl agent duty "$1" --on yes >/dev/null 2>&1 || true; }
roster 王芳 --department frontline --role agent --capacity 4 --on-duty yes --contact im:wangfang
roster 李强 --department frontline --role agent --capacity 4 --on-duty yes --contact im:liqiang
roster 张敏 --department frontline --role agent --capacity 4 --on-duty yes --contact im:zhangmin
roster 刘组长 --department frontline --role team_lead --on-duty yes --contact 13800000001
roster 陈主管 --department frontline --role supervisor --on-duty yes --contact 13800000002
roster 赵经理 --department supervisor --role manager --on-duty yes --duty-manager yes --contact 13800000003
roster 周物流 --department logistics --role agent --skills tracking_delay --capacity 6 --on-duty yes
$ctl agent duty 赵经理 --on yes --duty-manager yes >/dev/null 2>&1 || true
$ctl agent list | sed 's/^/  /'

echo
echo "== feeding $(grep -c '"channel"' deploy/demo/tickets.json) demo tickets (deploy/demo/tickets.json)"
$ctl feed deploy/demo/tickets.json || true

echo
echo "== waiting for classification and routing"
for _ in $(seq 1 30); do
    left=$(sql "SELECT count(*) FROM tickets WHERE status IN ('received', 'classified')")
    [ "$left" -eq 0 ] && break
    sleep 1
done
sql "SELECT status, count(*) FROM tickets GROUP BY 1 ORDER BY 2 DESC" | sed 's/|/: /; s/^/  /'

incidents=$(sql "SELECT count(*) FROM incidents")
if [ "$incidents" -gt 0 ]; then
    echo
    echo "== mass incidents (批量投诉): similar tickets linked and raised to P1"
    sql "SELECT '  incident ' || id || ': ' || ticket_count || ' tickets, ' || coalesce (product, subcategory, '')
         || ' — ' || left (summary, 40) FROM incidents ORDER BY id"
fi

ticket () { sql "SELECT ticket_no FROM tickets WHERE status = '$1' ORDER BY id LIMIT 1 OFFSET ${2:-0}"; }
step () { echo "  \$ ticketctl $*"; $ctl "$@" | sed 's/^/    /'; }
wait_for () {   # ticket status
    for _ in $(seq 1 50); do
        [ "$(sql "SELECT status FROM tickets WHERE ticket_no = '$1'")" = "$2" ] && return 0
        sleep 0.2
    done
}

echo
echo "== driving three tickets through the flow"
# a P2 first: its follow-up call and survey come at once (P3's the next day)
a=$(sql "SELECT ticket_no FROM tickets WHERE status = 'assigned' ORDER BY priority = 'P2' DESC, id LIMIT 1")
b=$(sql "SELECT ticket_no FROM tickets WHERE status = 'assigned' AND ticket_no <> '$a' ORDER BY id LIMIT 1")
c=$(sql "SELECT ticket_no FROM tickets WHERE status = 'assigned' AND ticket_no NOT IN ('$a', '$b') ORDER BY id LIMIT 1")
if [ -n "$a" ] && [ -n "$b" ] && [ -n "$c" ]; then
    step accept "$a" --agent 王芳
    step progress "$a" --note "已核实问题原因，正在为您处理" --public yes
    step resolve "$a" --summary "问题已处理，请您再试一次"
    wait_for "$a" resolved
    step feedback "$a" --solved yes --csat 5 --comment "谢谢，很快"
    wait_for "$a" closed

    step accept "$b" --agent 李强
    step hold "$b" --reason "等待仓库盘点结果" --until "$(date -d '+2 hours' --iso-8601=seconds)"
    step resume "$b"
    step resolve "$b" --summary "已补发缺少的配件"
    wait_for "$b" resolved
    step feedback "$b" --solved no --csat 2 --comment "配件还是不对"
    wait_for "$b" assigned
    step accept "$b" --agent 李强
    step resolve "$b" --summary "已换发正确型号的配件并电话确认"
    wait_for "$b" resolved
    step feedback "$b" --solved yes --csat 4
    wait_for "$b" closed

    step accept "$c" --agent 张敏
    step progress "$c" --note "正在排查"
    step note "$c" --text "客户之前投诉过一次，回复注意语气"
    step reply "$c" --ask yes --text "请提供出现问题时的截图和订单号"
    step message --channel app --ticket "$c" --text "截图已上传，订单号 2026112512345678"
fi
triage=$(ticket triage 0)
if [ -n "$triage" ]; then
    echo "  (a ticket the classifier was unsure of waits in triage for a person:)"
    step queue --status triage
    step classify "$triage" --subcategory 功能操作 --actor 组长
fi

echo
echo "== an agent who does not accept within 15 minutes: the ticket goes to the next one"
late=$(sql "SELECT ticket_no FROM tickets WHERE status = 'assigned' AND assignee IS NOT NULL ORDER BY id LIMIT 1")
if [ -n "$late" ]; then
    echo "  ($late is with $(sql "SELECT assignee FROM tickets WHERE ticket_no = '$late'"); the demo moves its"
    echo "   acknowledgement clock 15 minutes on, as if they had let it wait)"
    sql "UPDATE sla_timers SET due_at = tf_now () WHERE kind = 'acknowledgement' AND met_at IS NULL
         AND breached_at IS NULL AND ticket_id = (SELECT id FROM tickets WHERE ticket_no = '$late')" >/dev/null
    for _ in $(seq 1 30); do
        [ "$(sql "SELECT count(*) FROM ticket_events e JOIN tickets t ON t.id = e.ticket_id
                  WHERE t.ticket_no = '$late' AND e.kind = 'reassigned'")" -gt 0 ] && break
        sleep 0.2
    done
    sql "SELECT '  ' || e.note FROM ticket_events e JOIN tickets t ON t.id = e.ticket_id
         WHERE t.ticket_no = '$late' AND e.kind = 'reassigned'"
fi

echo
echo "== a P1 taken down by the hotline 20 minutes after the call: nobody accepted it"
echo "   within 5 minutes (the on-duty manager is called) nor answered in 15 (a breach)"
p1=$($ctl submit --channel phone --customer C-demo-p1 --external-id "demo-p1-$(date +%s)" \
     --body "我的账号被盗了，有陌生设备登录，余额被转走了" \
     --contacted-at "$(date -u -d '-20 minutes' +%Y-%m-%dT%H:%M:%SZ)" 2>/dev/null || true)
if [ -n "$p1" ]; then
    for _ in $(seq 1 50); do
        [ "$(sql "SELECT escalation_level FROM tickets WHERE ticket_no = '$p1'")" = 3 ] && break
        sleep 0.2
    done
    $ctl show "$p1" | sed -n '1p;/^  escalated/p;/^  deadlines/,/^  [^ d]/{/^  [^ d]/!p}' | sed 's/^/  /'
fi

echo
echo "== what customers hear: the 17:00 digest (sent now), follow-up calls, the outbound messages"
step digest
step queue --followups
notifications=$(setting notifier-file notifier)
notifications=${notifications:-${TICKETFLOW_HOME:-$PWD}/var/notifications.jsonl}
for _ in $(seq 1 30); do
    [ "$(sql "SELECT count(*) FROM outbox WHERE kind IN ('digest', 'survey', 'progress')
              AND status = 'queued' AND next_attempt_at <= tf_now ()")" = 0 ] && break
    sleep 0.2
done
if [ -f "$notifications" ]; then
    echo "  $notifications: $(wc -l < "$notifications") messages; one of each kind:"
    for kind in receipt out_of_hours progress info_request confirm_request digest survey; do
        line=$(grep -m1 "\"kind\":\"$kind\"" "$notifications" || true)
        [ -n "$line" ] && echo "    $line"
    done
fi

echo
echo "== a ticket with its thread, messages and history"
[ -n "$c" ] && $ctl show "$c"
echo
echo "== a ticket with its history"
[ -n "$b" ] && $ctl show "$b"
echo
echo "== the summary report"
$ctl report
reporting_http=$(http_url reporting-http-port reporting)
if [ -n "$reporting_http" ] && command -v curl >/dev/null; then
    echo
    echo "== the same report as JSON, whole: curl -s $reporting_http/v1/report/summary -H 'Authorization: Bearer …'"
    report_token=$($ctl token create --name run-demo --role operator)
    curl -s --max-time 10 -H "Authorization: Bearer $report_token" "$reporting_http/v1/report/summary" \
        || echo "(no answer)"
    $ctl token revoke run-demo >/dev/null
    echo
fi

echo
echo "ticketflow is running."
endpoints
echo "Logs: ${TICKETFLOW_LOG_DIR:-var/log}/*.log   Outbound messages:" \
    "$notifications   Database: psql \"$DATABASE_URL\""
echo "Press Ctrl-C to stop everything."
while true; do sleep 3600 & wait $!; done
