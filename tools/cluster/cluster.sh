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
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
SERVICES=(ledgerd labeld waybilld verifyd auditd)

usage() { sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

wait_for() {  # FILE NAME: the port file a service writes once serving
  for _ in $(seq 1 600); do [[ -s "$1" ]] && return 0; sleep 0.1; done
  echo "cluster.sh: $2 did not start serving (its log: ${1%.port}.log)" >&2
  tail -5 "${1%.port}.log" >&2 || true
  exit 1
}

stop() {
  local run=$1
  for name in auditd verifyd waybilld labeld ledgerd; do  # ledgerd last
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
  rm -f "$run"/*.port "$run"/*.http-port "$run/ledgerd.internal-port"
  local tls=(--tls-ca "$run/ca/ca.pem")
  launch() {  # NAME ARGS...
    local name=$1; shift
    "$bin/$name" --listen 127.0.0.1:0 --port-file "$run/$name.port" "${tls[@]}" \
      --tls-cert "$run/ca/$name.pem" --tls-key "$run/ca/$name.key" "$@" \
      >"$run/$name.log" 2>&1 &
    echo $! >"$run/$name.pid"
  }
  launch ledgerd --data "$data" --internal-listen 127.0.0.1:0 \
    --internal-port-file "$run/ledgerd.internal-port"
  wait_for "$run/ledgerd.internal-port" ledgerd
  local ledger="127.0.0.1:$(cat "$run/ledgerd.internal-port")"
  launch labeld --ledger "$ledger" --label-keys "$run/label-keys"
  launch waybilld --ledger "$ledger" --label-keys "$run/label-keys"
  for name in verifyd auditd; do
    launch "$name" --ledger "$ledger" --http-listen 127.0.0.1:0 \
      --http-port-file "$run/$name.http-port" \
      --http-tls-cert "$run/ca/$name.pem" --http-tls-key "$run/ca/$name.key"
  done
  for name in "${SERVICES[@]}"; do wait_for "$run/$name.port" "$name"; done
  for name in verifyd auditd; do wait_for "$run/$name.http-port" "$name"; done
  {
    for name in "${SERVICES[@]}"; do
      echo "${name^^}=127.0.0.1:$(cat "$run/$name.port")"
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
