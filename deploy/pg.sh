#!/usr/bin/env bash
# deploy/pg.sh — the embedded, throw-away PostgreSQL cluster used by
# `make run` / `make start` (var/pg) and by the tests (--dir var/test-pg).
#
# Usage: deploy/pg.sh start|stop|restart|status|url|destroy [--dir DIR] [--immediate]
#
#   start    create the cluster if needed and start it, create database
#            "ticketflow"; idempotent; returns once it accepts connections
#   stop     fast shutdown, leaves no postgres process; no-op if not running
#   restart  restart a running cluster (fails when it is not running) and
#            return once it accepts connections again; --immediate: no
#            shutdown checkpoint, clients are cut off at once and the server
#            recovers from its WAL, as after a crash (the fault tests use it)
#   status   prints "running" (exit 0) or "stopped" (exit 3)
#   url      prints the libpq connection string (key=value form), for
#            DATABASE_URL: host=SOCKETDIR port=5432 dbname=ticketflow
#            user=postgres passfile=DIR/pgpass
#   destroy  stop, then delete the cluster and everything it put in /tmp
#
# DIR: --dir, else $TICKETFLOW_PG_DIR, else <repo>/var/pg. A relative DIR is
# taken relative to the repo root (not the current directory).
#
# Environment:
#   TICKETFLOW_PG_FAST=1  fsync=off (tests only: a crash of the machine may
#                         lose the cluster; synchronous_commit stays on)
#   TICKETFLOW_PG_BIN     directory of initdb/pg_ctl (default: PostgreSQL 15's)
#   TICKETFLOW_PG_USER    OS user that runs the server when we are root
#                         (default: postgres, else an unprivileged "ticketflow")
#
# Layout: DIR/data (PGDATA, 0700), DIR/socket (Unix socket dir, 0700),
# DIR/postgres.log, DIR/pgpass (0600: the superuser's password, generated at
# the first start). The server listens on its private Unix socket only
# (listen_addresses=''), so any number of clusters run side by side, each on
# "port" 5432 inside its own socket dir, and none can clash with a TCP port.
# Only the server's OS user (and root) can reach that socket (0700), and
# every connection proves a password (scram-sha-256): another local user
# gets nowhere, and nobody is trusted for being local.
#
# initdb and postgres refuse to run as root: as root, they run as the OS user
# above. If that user cannot reach DIR (say the repo is under /root, mode
# 0700) or DIR's path is unusual, the cluster lives in /tmp/ticketflow-pg-HASH
# and DIR is a symlink to it. If DIR/socket is too long for a Unix socket
# path (sun_path), the socket goes to /tmp/ticketflow-pgsock-HASH instead.
set -euo pipefail
umask 022

PORT=5432
REPO=$(cd -P -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
# Entries this script may create in DIR; anything else means DIR is not ours.
OWN_ENTRIES=" data socket postgres.log initdb.log .initialized pgpass "

die() { printf 'pg.sh: %s\n' "$*" >&2; exit 1; }
note() { printf 'pg.sh: %s\n' "$*" >&2; }
usage() {
    printf 'usage: %s start|stop|restart|status|url|destroy [--dir DIR] [--immediate]\n' "$0" >&2
    exit "${1:-2}"
}

# ---------------------------------------------------------------- arguments
cmd=${1:-}
[[ -n $cmd ]] || usage
shift
dir=${TICKETFLOW_PG_DIR:-$REPO/var/pg}
mode=fast
while (($#)); do
    case $1 in
        --dir) (($# >= 2)) || usage; dir=$2; shift 2 ;;
        --dir=*) dir=${1#--dir=}; shift ;;
        --immediate) [[ $cmd == restart ]] || usage; mode=immediate; shift ;;
        -h | --help) usage 0 ;;
        *) usage ;;
    esac
done
case $cmd in
    start | stop | restart | status | url | destroy) ;;
    -h | --help | help) usage 0 ;;
    *) usage ;;
esac
[[ -n $dir ]] || die "empty cluster directory"
[[ $dir == /* ]] || dir=$REPO/$dir
dir=$(realpath -m -s -- "$dir")   # tidy the path; DIR itself may be our symlink
[[ $dir != / ]] || die "refusing to use / as cluster directory"
HASH=$(printf '%s' "$dir" | sha1sum | cut -c1-10)

# Libpq must not be steered elsewhere by the caller's environment.
unset PGHOSTADDR PGSERVICE PGSERVICEFILE PGOPTIONS PGDATA

# ---------------------------------------------------------------- binaries
find_pg_bin() {
    local d
    if [[ -n ${TICKETFLOW_PG_BIN:-} ]]; then
        PGBIN=$TICKETFLOW_PG_BIN
    elif [[ -x /usr/lib/postgresql/15/bin/pg_ctl ]]; then
        PGBIN=/usr/lib/postgresql/15/bin
    else
        PGBIN=
        for d in $(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V); do
            [[ -x $d/pg_ctl ]] && PGBIN=$d
        done
        if [[ -z $PGBIN ]] && command -v pg_config >/dev/null; then
            PGBIN=$(pg_config --bindir)
        fi
    fi
    [[ -n $PGBIN && -x $PGBIN/initdb && -x $PGBIN/pg_ctl ]] ||
        die "PostgreSQL server binaries not found (run deploy/deps.sh, or set TICKETFLOW_PG_BIN)"
}
find_pg_bin
PG_MAJOR=$("$PGBIN/pg_ctl" --version | awk '{ split($3, v, "."); print v[1] }')

# ---------------------------------------------------------------- OS user
if ((EUID == 0)); then
    PG_OS_USER=${TICKETFLOW_PG_USER:-}
    if [[ -z $PG_OS_USER ]]; then
        if id -u postgres >/dev/null 2>&1; then PG_OS_USER=postgres; else PG_OS_USER=ticketflow; fi
    fi
    [[ $PG_OS_USER != root ]] || die "TICKETFLOW_PG_USER must not be root"
else
    PG_OS_USER=$(id -un)
fi

ensure_os_user() {
    ((EUID == 0)) || return 0
    id -u "$PG_OS_USER" >/dev/null 2>&1 && return 0
    note "creating unprivileged system user '$PG_OS_USER' to run PostgreSQL"
    useradd --system --user-group --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin "$PG_OS_USER" ||
        die "could not create user $PG_OS_USER"
}

# Run a command as the server's OS user, from / (root's current directory may
# be one that user cannot enter, which initdb and pg_ctl complain about).
as_pg() {
    if ((EUID == 0)); then
        (cd / && runuser -u "$PG_OS_USER" -- "$@")
    else
        (cd / && "$@")
    fi
}

# ---------------------------------------------------------------- paths
odd_path() { [[ $1 =~ [^A-Za-z0-9_./+@%,:=~-] ]]; }

# Can the server's OS user reach (search) the nearest existing ancestor of $1?
reachable_by_pg() {
    local p=$1
    while [[ ! -e $p ]]; do p=$(dirname -- "$p"); done
    ((EUID == 0)) || return 0
    id -u "$PG_OS_USER" >/dev/null 2>&1 || return 1
    as_pg test -x "$p"
}

# Sets REAL (the cluster home, DIR or its /tmp target), DATA, SOCK, LOG.
resolve_paths() {
    if [[ -L $dir ]]; then
        REAL=$(readlink -m -- "$dir")
    elif [[ -e $dir ]]; then
        [[ -d $dir ]] || die "$dir exists and is not a directory"
        REAL=$dir
    elif odd_path "$dir" || ! reachable_by_pg "$(dirname -- "$dir")"; then
        REAL=/tmp/ticketflow-pg-$HASH
    else
        REAL=$dir
    fi
    DATA=$REAL/data
    LOG=$REAL/postgres.log
    PASSFILE=$REAL/pgpass
    export PGPASSFILE=$PASSFILE
    SOCK=$REAL/socket
    # sun_path is 108 bytes; keep "<dir>/.s.PGSQL.5432" well under 100, and
    # keep the dir to characters that need no quoting in postgresql.conf.
    if ((${#SOCK} + 15 + ${#PORT} >= 100)) || [[ $SOCK =~ [^A-Za-z0-9_./-] ]]; then
        SOCK=/tmp/ticketflow-pgsock-$HASH
    fi
}

# Refuse to touch a directory that holds things this script did not put there
# (protects against `--dir ~` and the like before any rm -rf).
check_ours() {
    local d=$1 e name
    [[ -d $d ]] || return 0
    for e in "$d"/* "$d"/.[!.]* "$d"/..?*; do
        [[ -e $e || -L $e ]] || continue
        name=${e##*/}
        [[ $OWN_ENTRIES == *" $name "* ]] ||
            die "$d holds '$name', which pg.sh did not create: not a ticketflow cluster dir, refusing"
    done
}

safe_rm_rf() {
    local p
    for p in "$@"; do
        [[ -n $p && $p == /* && $p != / && $p != "$REPO" && $p != /tmp && $p != "${HOME:-/}" ]] ||
            die "refusing to delete '$p'"
        rm -rf -- "$p"
    done
}

# Make directory $1 (mode $2) owned by the server's OS user; refuse anything
# that is not a plain directory (a /tmp path could have been planted).
own_dir() {
    local d=$1 mode=$2
    if [[ -L $d || (-e $d && ! -d $d) ]]; then die "$d is not a plain directory"; fi
    mkdir -p -- "$d"
    if ((EUID == 0)); then
        local owner
        owner=$(stat -c %U -- "$d")
        if [[ $owner != "$PG_OS_USER" ]]; then
            [[ $owner == root || $d != /tmp/* ]] || die "$d belongs to $owner, refusing"
            chown -R -- "$PG_OS_USER": "$d"
        fi
    else
        [[ -O $d ]] || die "$d belongs to another user (started as root?): run as root, or destroy it as root"
    fi
    chmod "$mode" -- "$d"
}

# ---------------------------------------------------------------- state
# Prints the postmaster's pid if it is running on $DATA. Checks the process's
# working directory (the postmaster chdirs to PGDATA), so a stale
# postmaster.pid whose pid was reused by something else does not count.
pg_pid() {
    local pid
    [[ -r $DATA/postmaster.pid ]] || return 1
    read -r pid <"$DATA/postmaster.pid" || return 1
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    [[ $(readlink "/proc/$pid/cwd" 2>/dev/null) == "$(readlink -f -- "$DATA")" ]] || return 1
    printf '%s\n' "$pid"
}

check_access() {
    if ((EUID != 0)) && [[ -e $DATA && ! -O $DATA ]]; then
        die "$DATA belongs to $(stat -c %U -- "$DATA") (created as root?): run this as root"
    fi
}

# Serialise start/stop/destroy on one cluster (lock DIR's parent directory).
# The server must not inherit fd 9: it would keep the lock (see close_fds).
take_lock() {
    local parent
    parent=$(dirname -- "$dir")
    mkdir -p -- "$parent"
    exec 9<"$parent"
    flock -w 300 9 || die "timed out waiting for another pg.sh on $dir"
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

psql_q() {
    "$PGBIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -h "$SOCK" -p "$PORT" -U postgres -d postgres -c "$1"
}

wait_ready() {
    local i
    for ((i = 0; i < 600; i++)); do
        "$PGBIN/pg_isready" -q -h "$SOCK" -p "$PORT" -U postgres -d postgres && return 0
        pg_pid >/dev/null || break
        sleep 0.1
    done
    tail -n 30 -- "$LOG" >&2 2>/dev/null || true
    die "PostgreSQL at $dir does not accept connections on $SOCK"
}

ensure_db() {
    [[ $(psql_q "SELECT 1 FROM pg_database WHERE datname = 'ticketflow'") == 1 ]] && return 0
    "$PGBIN/createdb" -h "$SOCK" -p "$PORT" -U postgres ticketflow
}

write_config() {
    local fsync=on
    [[ ${TICKETFLOW_PG_FAST:-0} == 1 ]] && fsync=off
    # Rewritten on every start, so the socket dir and fsync follow the
    # current paths and environment.
    cat >"$DATA/ticketflow.conf" <<EOF
# Written by deploy/pg.sh on every start: edits here are lost.
# Throw-away cluster: Unix socket only, no TCP listener.
listen_addresses = ''
port = $PORT
unix_socket_directories = '$SOCK'
unix_socket_permissions = 0700
max_connections = 200
shared_buffers = 256MB
# fsync=off only with TICKETFLOW_PG_FAST=1 (tests).
fsync = $fsync
# Stays on: an intake ack must mean the ticket is durable on the server.
synchronous_commit = on
# A peak grows the ticket tables within seconds; autovacuum looks every
# 5 s (not every minute), so their statistics (which the migrations ask
# to refresh after 2 % of change) keep up and the plans stay index walks.
autovacuum_naptime = 5s
EOF
    # Passwords (scram-sha-256) once the superuser has one: the first start
    # runs with trust only until set_password gives it one.
    local method=trust
    [[ -s $PASSFILE ]] && method=scram-sha-256
    cat >"$DATA/pg_hba.conf" <<EOF
# Written by deploy/pg.sh. No TCP listener: the one way in is the Unix
# socket, which only the server's OS user (and root) can reach, and every
# role proves its password.
local all all $method
EOF
    grep -qxF "include = 'ticketflow.conf'" "$DATA/postgresql.conf" ||
        printf "\n# ticketflow: settings of deploy/pg.sh\ninclude = 'ticketflow.conf'\n" >>"$DATA/postgresql.conf"
    if ((EUID == 0)); then
        chown -- "$PG_OS_USER": "$DATA/ticketflow.conf" "$DATA/pg_hba.conf" "$DATA/postgresql.conf"
    fi
    chmod 0600 -- "$DATA/ticketflow.conf" "$DATA/pg_hba.conf"
}

# The superuser's password, made at the first start (kept in DIR/pgpass,
# which DATABASE_URL names as passfile=); then passwords only.
set_password() {
    [[ -s $PASSFILE ]] && return 0
    local password
    password=$(head -c 48 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 32)
    psql_q "ALTER ROLE postgres PASSWORD '$password'" >/dev/null
    # the host field is the socket folder (libpq matches a socket path there),
    # so the pgpass files of two clusters can be joined for a two-host URL
    (umask 077 && printf '%s:%s:*:postgres:%s\n' "$SOCK" "$PORT" "$password" >"$PASSFILE.tmp" &&
        mv -f -- "$PASSFILE.tmp" "$PASSFILE")
    write_config
    as_pg "$PGBIN/pg_ctl" reload -D "$DATA" -s >/dev/null
}

init_cluster() {
    local locale=C
    if locale -a 2>/dev/null | grep -qiE '^c\.utf-?8$'; then locale=C.UTF-8; fi
    [[ ! -e $DATA ]] || safe_rm_rf "$DATA"
    rm -f -- "$REAL/.initialized"
    note "initialising a new cluster in $dir (as $PG_OS_USER)"
    if ! as_pg "$PGBIN/initdb" -D "$DATA" -U postgres --auth=trust -E UTF8 \
        --locale="$locale" >"$REAL/initdb.log" 2>&1; then
        cat -- "$REAL/initdb.log" >&2
        die "initdb failed"
    fi
    write_config
    : >"$REAL/.initialized"
}

# ---------------------------------------------------------------- commands
do_start() {
    take_lock
    ensure_os_user
    resolve_paths
    check_ours "$REAL"
    check_access
    # A cluster dir made before the repo moved somewhere the server's user
    # cannot reach: it is throw-away, so start over in /tmp.
    if [[ $REAL == "$dir" && -d $dir ]] && ! pg_pid >/dev/null && { odd_path "$dir" || ! reachable_by_pg "$dir"; }; then
        note "$PG_OS_USER cannot reach $dir: moving the cluster to /tmp"
        safe_rm_rf "$dir"
        resolve_paths
    fi

    if ! pg_pid >/dev/null; then
        if [[ $REAL != "$dir" ]]; then
            own_dir "$REAL" 0755
            ln -sfn -- "$REAL" "$dir"
        else
            own_dir "$REAL" 0755
        fi
        own_dir "$SOCK" 0700
        local ver=
        [[ -r $DATA/PG_VERSION ]] && read -r ver <"$DATA/PG_VERSION"
        if [[ -z $ver || ! -e $REAL/.initialized ]]; then
            init_cluster
        elif [[ $ver != "$PG_MAJOR" ]]; then
            note "cluster is PostgreSQL $ver, server is $PG_MAJOR: re-initialising (throw-away data)"
            init_cluster
        else
            write_config
        fi
        # Not running, so these are leftovers of a crash (pid may be reused).
        rm -f -- "$DATA/postmaster.pid" "$SOCK/.s.PGSQL.$PORT" "$SOCK/.s.PGSQL.$PORT.lock"
        : >>"$LOG"
        ((EUID != 0)) || chown -- "$PG_OS_USER": "$LOG"
        if ! (close_fds && as_pg "$PGBIN/pg_ctl" start -D "$DATA" -l "$LOG" -w -t 120 -s); then
            tail -n 30 -- "$LOG" >&2 || true
            die "could not start PostgreSQL (log: $dir/postgres.log)"
        fi
    fi
    wait_ready
    set_password
    ensure_db
    printf 'postgres: running (pid %s) — %s, socket %s, log %s/postgres.log\n' \
        "$(pg_pid || echo '?')" "$dir" "$SOCK" "$dir"
}

do_stop() {
    local pid i
    take_lock
    resolve_paths
    check_access
    if ! pid=$(pg_pid); then
        [[ -d $DATA ]] && rm -f -- "$DATA/postmaster.pid"
        echo "stopped"
        return 0
    fi
    if ! as_pg "$PGBIN/pg_ctl" stop -D "$DATA" -m fast -w -t 60 -s; then
        note "fast shutdown failed, trying immediate"
        as_pg "$PGBIN/pg_ctl" stop -D "$DATA" -m immediate -w -t 30 -s || true
    fi
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        note "postmaster $pid still alive: killing it"
        kill -KILL "$pid" 2>/dev/null || true
        sleep 0.5
    fi
    echo "stopped"
}

do_restart() {
    take_lock
    resolve_paths
    check_access
    pg_pid >/dev/null || die "PostgreSQL at $dir is not running (start it first)"
    # pg_ctl starts the new postmaster: it must not inherit our lock (fd 9)
    if ! (close_fds && as_pg "$PGBIN/pg_ctl" restart -D "$DATA" -l "$LOG" -m "$mode" -w -t 120 -s); then
        tail -n 30 -- "$LOG" >&2 || true
        die "could not restart PostgreSQL (log: $dir/postgres.log)"
    fi
    wait_ready
    printf 'postgres: restarted (%s, pid %s) — %s\n' "$mode" "$(pg_pid || echo '?')" "$dir"
}

do_destroy() {
    do_stop >/dev/null
    # do_stop took the lock and resolved the paths.
    check_ours "$REAL"
    [[ -e $REAL ]] && safe_rm_rf "$REAL"
    if [[ -L $dir ]]; then rm -f -- "$dir"; fi
    # The short socket dir, also one left by an earlier layout of this DIR.
    [[ -d /tmp/ticketflow-pgsock-$HASH ]] && safe_rm_rf "/tmp/ticketflow-pgsock-$HASH"
    echo "destroyed $dir"
}

do_status() {
    resolve_paths
    check_access
    if pg_pid >/dev/null; then
        echo "running"
    else
        echo "stopped"
        exit 3
    fi
}

do_url() {
    ensure_os_user
    resolve_paths
    printf 'host=%s port=%s dbname=ticketflow user=postgres passfile=%s\n' "$SOCK" "$PORT" "$PASSFILE"
}

"do_$cmd"
