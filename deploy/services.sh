#!/usr/bin/env bash
# deploy/services.sh — start and stop the ticketflow services on this machine.
#
# Usage: deploy/services.sh start|stop|status|restart [SERVICE...]
#
#   start    if DATABASE_URL (and TICKETFLOW_DATABASE_URL) is unset: start
#            the embedded cluster (deploy/pg.sh, DIR $TICKETFLOW_PG_DIR or
#            var/pg) and point DATABASE_URL at it; run bin/ticketflow-migrate;
#            create the CURVE keys it lacks in var/keys (ticketctl cert init);
#            start each
#            service that is not running and wait (30 s in all) until
#            `bin/ticketctl ping --service NAME` answers. Idempotent.
#   stop     SIGTERM each running service in reverse order (SIGKILL after
#            10 s); with no SERVICE given, also stop the embedded cluster if
#            `start` started it, and check nothing from bin/ is left running.
#   status   one line per service; exit 0 if every built service runs, else 3
#   restart  stop, then start
#
# SERVICE names come from deploy/services.list (start order); by default all.
# A service whose bin/ticketflow-NAME is not built yet is skipped.
# Services run from the repo root with this script's whole environment
# (TICKETFLOW_* configure them), in their own session, output appended to
# var/log/NAME.log, pid in var/run/NAME.pid (TICKETFLOW_LOG_DIR and
# TICKETFLOW_RUN_DIR move them, so a benchmark can run beside a dev stack).
set -euo pipefail
set +m # no job control: a background child keeps the pid $! reports

REPO=$(cd -P -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"
BIN=$REPO/bin
RUN_DIR=${TICKETFLOW_RUN_DIR:-var/run}
LOG_DIR=${TICKETFLOW_LOG_DIR:-var/log}
EMBEDDED_PG=$RUN_DIR/embedded-pg # holds the pg.sh --dir we started
START_TIMEOUT=30
STOP_TIMEOUT=10

die() { printf 'services.sh: %s\n' "$*" >&2; exit 1; }
usage() {
    printf 'usage: %s start|stop|status|restart [SERVICE...]\n' "$0" >&2
    exit "${1:-2}"
}

# ---------------------------------------------------------------- arguments
all_services=()
while read -r line || [[ -n $line ]]; do
    line=${line%%#*}
    read -r name _ <<<"$line" || true
    [[ -n ${name:-} ]] || continue
    [[ $name =~ ^[a-z0-9_-]+$ ]] || die "bad service name '$name' in deploy/services.list"
    all_services+=("$name")
done <deploy/services.list

cmd=${1:-}
[[ -n $cmd ]] || usage
shift
case $cmd in
    start | stop | status | restart) ;;
    -h | --help | help) usage 0 ;;
    *) usage ;;
esac
selected=()
if (($#)); then
    for want in "$@"; do
        found=
        for name in "${all_services[@]}"; do
            if [[ $name == "$want" ]]; then found=1; fi
        done
        [[ -n $found ]] || die "unknown service '$want' (see deploy/services.list: ${all_services[*]})"
    done
    # Keep the list's order whatever order they were given in.
    for name in "${all_services[@]}"; do
        for want in "$@"; do
            if [[ $name == "$want" ]]; then selected+=("$name"); break; fi
        done
    done
else
    selected=("${all_services[@]}")
fi

mkdir -p "$RUN_DIR" "$LOG_DIR"
# One start/stop at a time. Children get 9<&- (or close_fds) so as not to
# inherit (and keep) the lock.
if [[ $cmd != status ]]; then
    exec 9<"$RUN_DIR"
    flock -w 120 9 || die "another deploy/services.sh is still running"
fi

# ---------------------------------------------------------------- helpers
# Prints the service's pid if its pid file names a live ticketflow-NAME
# process (a zombie has an empty cmdline and does not count).
svc_pid() {
    local name=$1 pid
    [[ -r $RUN_DIR/$name.pid ]] || return 1
    read -r pid <"$RUN_DIR/$name.pid" || return 1
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    [[ $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) == *"ticketflow-$name"* ]] || return 1
    printf '%s\n' "$pid"
}

alive() { # alive NAME PID
    kill -0 "$2" 2>/dev/null &&
        [[ $(tr '\0' ' ' <"/proc/$2/cmdline" 2>/dev/null) == *"ticketflow-$1"* ]]
}

# Close every fd above 2 (the caller's pipes, our lock): for a child that
# outlives this script.
close_fds() {
    local fd
    for fd in /proc/self/fd/*; do
        fd=${fd##*/}
        if ((fd > 2)); then eval "exec ${fd}>&-"; fi
    done
}

# True once PID is gone or a zombie (exited, not yet reaped by us).
exited() {
    local stat
    kill -0 "$1" 2>/dev/null || return 0
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
    stat=${stat##*) }
    [[ ${stat%% *} == Z ]]
}

running_line() {
    printf '%s: running (pid %s) — log %s/%s.log\n' "$1" "$2" "$LOG_DIR" "$1"
}

show_log() {
    echo "---- last 20 lines of $LOG_DIR/$1.log ----" >&2
    tail -n 20 -- "$LOG_DIR/$1.log" >&2 2>/dev/null || true
    echo "----" >&2
}

# Regex-escape a literal for pgrep.
re_quote() { printf '%s' "$1" | sed 's/[][\.*^$+?(){}|]/\\&/g'; }

# ---------------------------------------------------------------- start
use_embedded_pg() {
    local pgdir=${TICKETFLOW_PG_DIR:-var/pg}
    if ! deploy/pg.sh status --dir "$pgdir" >/dev/null 2>&1; then
        deploy/pg.sh start --dir "$pgdir" 9<&- || die "could not start the embedded PostgreSQL"
        printf '%s\n' "$pgdir" >"$EMBEDDED_PG"
    else
        deploy/pg.sh start --dir "$pgdir" 9<&- >/dev/null ||
            die "the embedded PostgreSQL does not answer"
        echo "postgres: running (embedded, $pgdir)"
    fi
    DATABASE_URL=$(deploy/pg.sh url --dir "$pgdir")
    export DATABASE_URL
}

run_migrations() {
    local out
    [[ -x $BIN/ticketflow-migrate ]] || die "bin/ticketflow-migrate is not built (run make)"
    if ! out=$("$BIN/ticketflow-migrate" 2>&1 9<&-); then
        printf '%s\n' "$out" >&2
        die "bin/ticketflow-migrate failed"
    fi
    [[ -z $out ]] || printf '%s\n' "$out"
}

# the CURVE keys the services and ticketctl need (ticketctl cert init makes
# only the missing ones; with TICKETFLOW_SECURITY=off there is nothing to make)
make_keys() {
    [[ ${TICKETFLOW_SECURITY:-curve} == off ]] && return 0
    local out
    out=$("$BIN/ticketctl" cert init 9<&-) || die "cannot create the CURVE keys"
    [[ $out == *": 0 certificates created" ]] || printf 'keys: %s\n' "$out"
}

launch() { # launch NAME → sets LAUNCHED_PID
    local name=$1
    printf '=== %s services.sh: starting bin/ticketflow-%s\n' "$(date '+%F %T')" "$name" >>"$LOG_DIR/$name.log"
    # setsid: own session and process group, no controlling terminal, so a
    # closing terminal sends no SIGHUP (no nohup: SIGHUP stays usable).
    (
        close_fds
        exec setsid "$BIN/ticketflow-$name"
    ) </dev/null >>"$LOG_DIR/$name.log" 2>&1 &
    LAUNCHED_PID=$!
    printf '%s\n' "$LAUNCHED_PID" >"$RUN_DIR/$name.pid"
    # Until the child has exec'd, its cmdline is still ours: wait for that,
    # so that `alive` cannot mistake a starting service for a dead one.
    local i
    for ((i = 0; i < 100; i++)); do
        alive "$name" "$LAUNCHED_PID" && return 0
        exited "$LAUNCHED_PID" && return 0
        sleep 0.05
    done
}

do_start() {
    local name pid rc
    local -a pending=() pids=()
    # The services also read TICKETFLOW_DATABASE_URL (it wins over
    # DATABASE_URL there): either one means "a real server, no embedded one".
    if [[ -z ${DATABASE_URL:-} && -n ${TICKETFLOW_DATABASE_URL:-} ]]; then
        export DATABASE_URL=$TICKETFLOW_DATABASE_URL
    fi
    if [[ -z ${DATABASE_URL:-} ]]; then use_embedded_pg; fi
    run_migrations
    make_keys

    for name in "${selected[@]}"; do
        if [[ ! -x $BIN/ticketflow-$name ]]; then
            echo "$name: skipped — bin/ticketflow-$name not built yet"
        elif pid=$(svc_pid "$name"); then
            running_line "$name" "$pid"
        else
            rm -f -- "$RUN_DIR/$name.pid"
            launch "$name"
            pending+=("$name")
            pids+=("$LAUNCHED_PID")
        fi
    done
    ((${#pending[@]})) || return 0

    local have_ctl=1 deadline=$((SECONDS + START_TIMEOUT)) i left t
    if [[ ! -x $BIN/ticketctl ]]; then
        have_ctl=
        echo "services.sh: bin/ticketctl not built: only checking that services stay up for 1 s" >&2
        deadline=$((SECONDS + 2))
    fi
    while :; do
        left=0
        for i in "${!pending[@]}"; do
            name=${pending[i]}
            [[ -n $name ]] || continue
            pid=${pids[i]}
            if ! alive "$name" "$pid"; then
                rc='?'
                if exited "$pid"; then
                    rc=0
                    wait "$pid" 2>/dev/null || rc=$?
                else # alive, but no longer ticketflow-NAME: not ours to wait on
                    kill -KILL "$pid" 2>/dev/null || true
                fi
                rm -f -- "$RUN_DIR/$name.pid"
                echo "$name: FAILED — exited (status $rc) while starting" >&2
                show_log "$name"
                exit 1
            fi
            if [[ -n $have_ctl ]]; then
                t=$((deadline - SECONDS))
                ((t >= 1)) || t=1
                ((t <= 5)) || t=5
                if timeout "$t" "$BIN/ticketctl" ping --service "$name" >/dev/null 2>&1 9<&-; then
                    running_line "$name" "$pid"
                    pending[i]=
                    continue
                fi
            elif ((SECONDS >= deadline)); then
                running_line "$name" "$pid"
                pending[i]=
                continue
            fi
            left=$((left + 1))
        done
        if ((left == 0)); then
            # every service answers; give their own PUSH/PULL connections to
            # one another (ZeroMQ reconnects every 100 ms) time to come up, so
            # the first tickets take the event path, not the reconciler's
            sleep 0.3
            return 0
        fi
        if ((SECONDS >= deadline)) && [[ -n $have_ctl ]]; then
            for i in "${!pending[@]}"; do
                name=${pending[i]}
                [[ -n $name ]] || continue
                echo "$name: FAILED — no answer to 'ticketctl ping' within ${START_TIMEOUT} s (pid ${pids[i]} left running; deploy/services.sh stop cleans up)" >&2
                show_log "$name"
            done
            exit 1
        fi
        sleep 0.2
    done
}

# ---------------------------------------------------------------- stop
stop_one() {
    local name=$1 pid i how=
    if ! pid=$(svc_pid "$name"); then
        rm -f -- "$RUN_DIR/$name.pid"
        [[ ! -x $BIN/ticketflow-$name ]] || echo "$name: stopped"
        return 0
    fi
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < STOP_TIMEOUT * 10; i++)); do
        alive "$name" "$pid" || break
        sleep 0.1
    done
    if alive "$name" "$pid"; then
        how=", killed: no exit ${STOP_TIMEOUT} s after SIGTERM"
        kill -KILL -- "-$pid" 2>/dev/null || true # its process group (setsid)
        kill -KILL "$pid" 2>/dev/null || true
        for ((i = 0; i < 50; i++)); do
            alive "$name" "$pid" || break
            sleep 0.1
        done
    fi
    rm -f -- "$RUN_DIR/$name.pid"
    echo "$name: stopped (pid $pid$how)"
}

do_stop() {
    local i rc=0 left
    for ((i = ${#selected[@]} - 1; i >= 0; i--)); do
        stop_one "${selected[i]}"
    done
    (($# == 0)) || return 0

    if [[ -s $EMBEDDED_PG ]]; then
        local pgdir
        read -r pgdir <"$EMBEDDED_PG"
        printf 'postgres (embedded, %s): ' "$pgdir"
        deploy/pg.sh stop --dir "$pgdir" 9<&- || rc=1
        rm -f -- "$EMBEDDED_PG"
    fi

    left=$(pgrep -a -f -- "$(re_quote "$BIN/")" || true)
    if [[ -n $left ]]; then
        echo "services.sh: still running from $BIN/:" >&2
        printf '%s\n' "$left" | sed 's/^/  /' >&2
        # A leftover service (pid file lost?) is an error; a ticketctl is not.
        if grep -q -- "$BIN/ticketflow-" <<<"$left"; then rc=1; fi
    fi
    return "$rc"
}

# ---------------------------------------------------------------- status
do_status() {
    local name pid built=0 down=0
    for name in "${selected[@]}"; do
        if [[ ! -x $BIN/ticketflow-$name ]]; then
            echo "$name: not built"
            continue
        fi
        built=$((built + 1))
        if pid=$(svc_pid "$name"); then
            running_line "$name" "$pid"
        else
            echo "$name: stopped"
            down=$((down + 1))
        fi
    done
    if [[ -s $EMBEDDED_PG ]]; then
        local pgdir
        read -r pgdir <"$EMBEDDED_PG"
        echo "postgres (embedded, $pgdir): $(deploy/pg.sh status --dir "$pgdir" 2>&1 || true)"
    fi
    ((built > 0 && down == 0)) || exit 3
}

case $cmd in
    start) do_start ;;
    stop) do_stop "$@" ;;
    status) do_status ;;
    restart)
        do_stop "$@"
        do_start
        ;;
esac
