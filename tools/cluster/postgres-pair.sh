#!/usr/bin/env bash
# Starts and stops a PostgreSQL 15 primary with a synchronous hot standby on
# loopback, for demos and drills of a deployment whose store is on
# PostgreSQL (docs/postgres.md). Debian's postgresql-15 binaries; the
# servers run as `nobody` when this runs as root; nothing of the machine's
# own PostgreSQL is touched. Not a production layout: trust authentication,
# one machine, no archiving.
#
#   tools/cluster/postgres-pair.sh start DIR
#   tools/cluster/postgres-pair.sh promote DIR   (the primary is stopped at once, as if
#                                                 lost, and the standby becomes the primary)
#   tools/cluster/postgres-pair.sh stop DIR
#
# start makes DIR/primary (initdb) and DIR/standby (pg_basebackup through
# the physical replication slot "standby1"), starts both on free ports,
# makes the standby synchronous (synchronous_standby_names = standby1,
# synchronous_commit = on), creates the database "chemledger", and writes
# DIR/pair.env (each line an export, so that `. DIR/pair.env` passes them
# on to cluster.sh and the servers):
#   export PRIMARY_PORT=P STANDBY_PORT=Q
#   export CONNINFO='host=127.0.0.1,127.0.0.1 port=P,Q user=postgres dbname=chemledger target_session_attrs=read-write'
#   export STANDBY_CONNINFO='host=127.0.0.1 port=Q user=postgres dbname=chemledger'
# Give CONNINFO to `chemledgerd init --postgres`: after a promotion the
# servers find the new primary through it. STANDBY_CONNINFO is for a read
# replica (ledgerd --read-replica; cluster.sh starts one when it is set).
set -euo pipefail
BIN=/usr/lib/postgresql/15/bin

usage() { awk 'NR > 1 && !/^#/ { exit } NR > 1' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

as_server() {  # runs "$@" as the servers' user
  if [[ $(id -u) -eq 0 ]]; then
    (cd / && setpriv --reuid=nobody --regid=nogroup --clear-groups -- "$@")
  else
    "$@"
  fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

psql_at() {  # PORT SQL
  "$BIN/psql" -h 127.0.0.1 -p "$1" -U postgres -d postgres -XAtqc "$2"
}

launch() {  # DATA PORT LOG [SETTINGS...]
  local data=$1 port=$2 log=$3; shift 3
  local opts="-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories=$(dirname "$data")"
  for s in "$@"; do opts+=" -c $s"; done
  as_server "$BIN/pg_ctl" -D "$data" -l "$log" -o "$opts" -w start >/dev/null
}

start() {
  local dir=$1
  [[ -x $BIN/initdb ]] || { echo "postgres-pair.sh: postgresql-15 is not installed" >&2; exit 1; }
  [[ -e $dir/primary ]] && { echo "postgres-pair.sh: $dir/primary exists; stop and remove it first" >&2; exit 1; }
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  [[ $(id -u) -eq 0 ]] && chown nobody:nogroup "$dir"
  local primary_port standby_port
  primary_port=$(free_port)
  standby_port=$(free_port)
  as_server "$BIN/initdb" -D "$dir/primary" -U postgres --auth=trust -E UTF8 --locale=C >/dev/null
  launch "$dir/primary" "$primary_port" "$dir/primary.log"
  psql_at "$primary_port" "SELECT pg_create_physical_replication_slot('standby1')" >/dev/null
  as_server "$BIN/pg_basebackup" -h 127.0.0.1 -p "$primary_port" -U postgres -D "$dir/standby" \
    -X stream -S standby1 -R --checkpoint=fast
  launch "$dir/standby" "$standby_port" "$dir/standby.log" \
    "primary_conninfo='host=127.0.0.1 port=$primary_port user=postgres application_name=standby1'" \
    "primary_slot_name=standby1"
  psql_at "$primary_port" "ALTER SYSTEM SET synchronous_standby_names = 'standby1'" >/dev/null
  psql_at "$primary_port" "SELECT pg_reload_conf()" >/dev/null
  for _ in $(seq 1 600); do
    [[ $(psql_at "$primary_port" "SELECT sync_state FROM pg_stat_replication WHERE application_name = 'standby1'") == sync ]] && break
    sleep 0.1
  done
  [[ $(psql_at "$primary_port" "SELECT sync_state FROM pg_stat_replication WHERE application_name = 'standby1'") == sync ]] ||
    { echo "postgres-pair.sh: the standby did not become synchronous (logs in $dir)" >&2; exit 1; }
  psql_at "$primary_port" "CREATE DATABASE chemledger" >/dev/null
  {
    echo "export PRIMARY_PORT=$primary_port"
    echo "export STANDBY_PORT=$standby_port"
    echo "export CONNINFO='host=127.0.0.1,127.0.0.1 port=$primary_port,$standby_port user=postgres dbname=chemledger target_session_attrs=read-write'"
    echo "export STANDBY_CONNINFO='host=127.0.0.1 port=$standby_port user=postgres dbname=chemledger'"
  } >"$dir/pair.env"
  echo "postgres-pair.sh: primary on $primary_port, synchronous standby on $standby_port ($dir/pair.env):"
  sed 's/^/  /' "$dir/pair.env"
}

promote() {
  local dir
  dir=$(cd "$1" && pwd)  # as_server runs from /
  # The old primary goes first, as a lost one would: left running it would
  # stay writable beside the promoted standby, and servers whose connection
  # string names it first would go on writing to it. Already gone (killed,
  # its postmaster.pid left behind): nothing to stop.
  if as_server "$BIN/pg_ctl" -D "$dir/primary" status >/dev/null 2>&1; then
    as_server "$BIN/pg_ctl" -D "$dir/primary" -m immediate -w stop >/dev/null || true
  fi
  as_server "$BIN/pg_ctl" -D "$dir/standby" -w promote >/dev/null
  echo "postgres-pair.sh: the old primary is stopped and the standby is the primary now"
}

stop() {
  local dir
  dir=$(cd "$1" && pwd)  # as_server runs from /
  for server in standby primary; do
    [[ -f $dir/$server/postmaster.pid ]] || continue
    as_server "$BIN/pg_ctl" -D "$dir/$server" -m fast -w stop >/dev/null 2>&1 || true
  done
}

case "${1:-}" in
  start) [[ $# -eq 2 ]] || usage; start "$2" ;;
  promote) [[ $# -eq 2 ]] || usage; promote "$2" ;;
  stop) [[ $# -eq 2 ]] || usage; stop "$2" ;;
  *) usage ;;
esac
