#!/usr/bin/env bash
# The README's run command: installs what is missing, builds, and runs the
# main job: chemledgerd (the all-in-one server, embedded LevelDB) on a fresh
# deployment in demo/, with a walk through one product's labels (register,
# issue, render, verify offline, resolve online). The server keeps serving
# afterwards until Ctrl-C; pass --walk-only to stop after the walk.
#
# --cluster runs the same walk against the services as processes of their
# own (ledgerd, labeld, waybilld, verifyd, auditd over mutual TLS with a
# development CA; docs/cluster.md), in demo/cluster-deployment.
set -euo pipefail
cd "$(dirname "$0")/.."
WALK_ARGS=()
OUT_NAME=deployment
for arg in "$@"; do
  case "$arg" in
    --walk-only) WALK_ARGS+=(--walk-only) ;;
    --cluster) WALK_ARGS+=(--cluster); OUT_NAME=cluster-deployment ;;
    *) echo "usage: tools/run.sh [--walk-only] [--cluster]" >&2; exit 2 ;;
  esac
done
bash tools/install-deps.sh
bazel build //services/chemledgerd //tools/chemctl //tools/chemscan //tools/chemaudit \
  //services/cluster:all
BIN="$(pwd)/demo/bin"
mkdir -p "$BIN"
cp -f bazel-bin/services/chemledgerd/chemledgerd bazel-bin/tools/chemctl/chemctl \
  bazel-bin/tools/chemscan/chemscan bazel-bin/tools/chemaudit/chemaudit \
  bazel-bin/services/cluster/ledgerd bazel-bin/services/cluster/labeld \
  bazel-bin/services/cluster/waybilld bazel-bin/services/cluster/verifyd \
  bazel-bin/services/cluster/auditd "$BIN/"
exec bash tools/demo/server-walk.sh "$BIN" "$(pwd)/demo/$OUT_NAME" "${WALK_ARGS[@]}"
