#!/usr/bin/env bash
# Starts and stops a ChemLedger cluster on this machine: ledgerd (the store,
# the journal, the note key) and labeld, waybilld, verifyd and auditd as
# processes of their own, on loopback, with TLS on every port and mutual TLS
# to ledgerd, certificates from a development CA (make-dev-ca.sh). For
# tests and demos; docs/cluster.md says how a production layout differs.
#
#   tools/cluster/cluster.sh start BIN_DIR DATA_DIR RUN_DIR
#   tools/cluster/cluster.sh stop RUN_DIR
#
# BIN_DIR holds ledgerd, labeld, waybilld, verifyd and auditd. DATA_DIR is a
# deployment `chemledgerd init` made; its label keys are moved to
# RUN_DIR/label-keys (only labeld and waybilld hold them). RUN_DIR gets the
# CA and certificates (ca/), each service's log (<name>.log), pid and port
# files, and cluster.env, which says where each service listens:
#   LEDGERD=127.0.0.1:P LABELD=... WAYBILLD=... VERIFYD=... AUDITD=...
#   SCAN_PAGES=https://127.0.0.1:P CONSOLE=https://127.0.0.1:P TLS_CA=RUN_DIR/ca/ca.pem
# (the HTTP pages serve TLS with the development CA's certificates too).
#
# A deployment whose store is on PostgreSQL (DATA_DIR/store.postgres;
# postgres-pair.sh makes a primary and a standby) gets two more ledgerd,
# each on a copy of DATA_DIR in RUN_DIR: a standby (--lease-wait forever,
# serving reads until it takes the writer's lease; RUN_DIR/standby-data)
# and, when STANDBY_CONNINFO is set (a connection string to the PostgreSQL
# standby, as pair.env has it), a read replica on that standby
# (--read-replica; RUN_DIR/replica-data), which auditd then reads from.
# cluster.env says where they are: LEDGERD_STANDBY=... LEDGERD_REPLICA=...
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
SERVICES=(ledgerd labeld waybilld verifyd auditd)

usage() { sed -n '2,29p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

wait_for() {  # FILE NAME: the port file a service writes once serving
  for _ in $(seq 1 600); do [[ -s "$1" ]] && return 0; sleep 0.1; done
  echo "cluster.sh: $2 did not start serving (its log: ${1%.port}.log)" >&2
  tail -5 "${1%.port}.log" >&2 || true
  exit 1
}

stop() {
  local run=$1
  # The standby before the writer (or it would take over), the writer last.
  for name in auditd verifyd waybilld labeld ledgerd-replica ledgerd-standby ledgerd; do
    local pidfile="$run/$name.pid"
    [[ -s "$pidfile" ]] || continue
    local pid; pid="$(cat "$pidfile")"
    if kill -TERM "$pid" 2>/dev/null; then
      for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
  done
}

start() {
  local bin=$1 data=$2 run=$3
  mkdir -p "$run"
  stop "$run"
  bash "$HERE/make-dev-ca.sh" "$run/ca" >/dev/null
  mkdir -p "$run/label-keys"
  chmod 700 "$run/label-keys"
  shopt -s nullglob
  for key in "$data"/keys/label-*.key; do mv "$key" "$run/label-keys/"; done
  shopt -u nullglob
  rm -f "$run"/*.port "$run"/*.http-port "$run"/*.internal-port
  local tls=(--tls-ca "$run/ca/ca.pem")
  launch() {  # NAME ARGS...: NAME is the binary, or ledgerd-standby / ledgerd-replica
    local name=$1; shift
    local binary=${name%%-*}
    "$bin/$binary" --listen 127.0.0.1:0 --port-file "$run/$name.port" "${tls[@]}" \
      --tls-cert "$run/ca/$binary.pem" --tls-key "$run/ca/$binary.key" "$@" \
      >"$run/$name.log" 2>&1 &
    echo $! >"$run/$name.pid"
  }
  local extra=()
  if [[ -f $data/store.postgres ]]; then
    # Copies of the deployment (keys, store.postgres) for the other ledgerd.
    copy() {  # NAME: RUN_DIR/NAME-data
      rm -rf "$run/$1-data"
      cp -a "$data" "$run/$1-data"
      rm -rf "$run/$1-data/ephemeral"
    }
    copy standby
    extra+=(ledgerd-standby)
    if [[ -n ${STANDBY_CONNINFO:-} ]]; then
      copy replica
      echo "$STANDBY_CONNINFO" >"$run/replica-data/store.postgres"
      extra+=(ledgerd-replica)
    fi
  fi
  launch ledgerd --data "$data" --internal-listen 127.0.0.1:0 \
    --internal-port-file "$run/ledgerd.internal-port"
  wait_for "$run/ledgerd.internal-port" ledgerd
  local ledger="127.0.0.1:$(cat "$run/ledgerd.internal-port")"
  local audit_ledger=$ledger
  for name in "${extra[@]}"; do
    if [[ $name == ledgerd-standby ]]; then
      launch ledgerd-standby --data "$run/standby-data" --lease-wait forever \
        --internal-listen 127.0.0.1:0 --internal-port-file "$run/ledgerd-standby.internal-port"
    else
      launch ledgerd-replica --data "$run/replica-data" --read-replica \
        --internal-listen 127.0.0.1:0 --internal-port-file "$run/ledgerd-replica.internal-port"
      wait_for "$run/ledgerd-replica.internal-port" ledgerd-replica
      audit_ledger="127.0.0.1:$(cat "$run/ledgerd-replica.internal-port")"
    fi
  done
  launch labeld --ledger "$ledger" --label-keys "$run/label-keys"
  launch waybilld --ledger "$ledger" --label-keys "$run/label-keys"
  launch verifyd --ledger "$ledger" --http-listen 127.0.0.1:0 \
    --http-port-file "$run/verifyd.http-port" \
    --http-tls-cert "$run/ca/verifyd.pem" --http-tls-key "$run/ca/verifyd.key"
  launch auditd --ledger "$audit_ledger" --http-listen 127.0.0.1:0 \
    --http-port-file "$run/auditd.http-port" \
    --http-tls-cert "$run/ca/auditd.pem" --http-tls-key "$run/ca/auditd.key"
  for name in "${SERVICES[@]}" "${extra[@]}"; do wait_for "$run/$name.port" "$name"; done
  for name in verifyd auditd; do wait_for "$run/$name.http-port" "$name"; done
  {
    for name in "${SERVICES[@]}" "${extra[@]}"; do
      local var=${name^^}
      echo "${var//-/_}=127.0.0.1:$(cat "$run/$name.port")"
    done
    echo "SCAN_PAGES=https://127.0.0.1:$(cat "$run/verifyd.http-port")"
    echo "CONSOLE=https://127.0.0.1:$(cat "$run/auditd.http-port")/console/"
    echo "TLS_CA=$run/ca/ca.pem"
  } >"$run/cluster.env"
  echo "cluster.sh: serving (logs and cluster.env in $run):"
  sed 's/^/  /' "$run/cluster.env"
}

case "${1:-}" in
  start) [[ $# -eq 4 ]] || usage; start "$2" "$3" "$4" ;;
  stop) [[ $# -eq 2 ]] || usage; stop "$2" ;;
  *) usage ;;
esac
