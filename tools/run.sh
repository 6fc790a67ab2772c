#!/usr/bin/env bash
# The README's run command: installs what is missing, builds, and runs the
# main job: chemledgerd (the all-in-one server, embedded LevelDB) on a fresh
# deployment in demo/, with a walk through one product's labels (register,
# issue, render, verify offline, resolve online). The server keeps serving
# afterwards until Ctrl-C; pass --walk-only to stop after the walk.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
bazel build //services/chemledgerd //tools/chemctl //tools/chemscan //tools/chemaudit
BIN="$(pwd)/demo/bin"
mkdir -p "$BIN"
cp -f bazel-bin/services/chemledgerd/chemledgerd bazel-bin/tools/chemctl/chemctl \
  bazel-bin/tools/chemscan/chemscan bazel-bin/tools/chemaudit/chemaudit "$BIN/"
exec bash tools/demo/server-walk.sh "$BIN" "$(pwd)/demo/deployment" "${1:-}"
