#!/usr/bin/env bash
# deploy/deps.sh — install the Debian packages ticketflow needs to build, test
# and run. A no-op (one dpkg-query call) when everything is there already.
#
# Usage: deploy/deps.sh [--dev]
#   --dev   also valgrind and clang
# Environment: TICKETFLOW_DEPS_EXTRA="pkg ..." adds packages to the list.
#
# As root it installs what is missing with apt-get; otherwise it prints the
# command to run as root and exits 1.
set -euo pipefail

# The one list of packages.
PACKAGES=(
    build-essential pkg-config
    libzmq3-dev libczmq-dev libmsgpack-dev libpq-dev libcriterion-dev
    libmicrohttpd-dev libjansson-dev libcurl4-openssl-dev
    libssl-dev                                      # HMAC-SHA256: signed webhooks, keyed hashes (libcrypto)
    openssl                                         # the HTTPS test makes a certificate with it
    postgresql postgresql-client postgresql-contrib # server, psql, pgbench
    python3-zmq python3-msgpack                     # test clients
    python3-prometheus-client                       # tests/check_metrics.py parses /metrics
    python3-aiosmtpd                                # SMTP server that tests/test_sinks.c mails to
    procps psmisc                                   # pgrep, ps, killall/fuser
)
DEV_PACKAGES=(valgrind clang)

usage() { printf 'usage: %s [--dev]\n' "$0" >&2; exit "${1:-2}"; }

wanted=("${PACKAGES[@]}")
for arg in "$@"; do
    case $arg in
        --dev) wanted+=("${DEV_PACKAGES[@]}") ;;
        -h | --help) usage 0 ;;
        *) usage ;;
    esac
done
if [[ -n ${TICKETFLOW_DEPS_EXTRA:-} ]]; then
    read -r -a extra <<<"$TICKETFLOW_DEPS_EXTRA"
    wanted+=("${extra[@]}")
fi

command -v dpkg-query >/dev/null || {
    echo "deps.sh: dpkg-query not found: this script is for Debian (12)" >&2
    exit 1
}

# One call for all. Unknown packages go to stderr and are simply absent here.
declare -A installed=()
while read -r pkg status; do
    if [[ $status == "install ok installed" ]]; then installed[${pkg%%:*}]=1; fi
done < <(dpkg-query -W -f='${Package} ${Status}\n' "${wanted[@]}" 2>/dev/null || true)

missing=()
for pkg in "${wanted[@]}"; do
    [[ -n ${installed[$pkg]:-} ]] || missing+=("$pkg")
done
((${#missing[@]})) || exit 0

install_cmd=(apt-get install -y --no-install-recommends)
if ((EUID != 0)); then
    {
        echo "deps.sh: missing Debian packages: ${missing[*]}"
        echo "deps.sh: install them as root with:"
        echo "  apt-get update && DEBIAN_FRONTEND=noninteractive ${install_cmd[*]} ${missing[*]}"
    } >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
echo "deps.sh: installing ${missing[*]}" >&2
apt-get update

# Installing the server package normally creates (and may start) a system
# cluster "main" on port 5432. We use only throw-away clusters of our own
# (deploy/pg.sh), so turn that off first, as the official postgres image does.
if [[ " ${missing[*]} " == *" postgresql "* && ! -e /etc/postgresql-common/createcluster.conf ]]; then
    "${install_cmd[@]}" postgresql-common
    sed -ri 's/^#?\s*create_main_cluster\s*=.*/create_main_cluster = false/' \
        /etc/postgresql-common/createcluster.conf
fi

"${install_cmd[@]}" "${missing[@]}"
