#!/usr/bin/env bash
# Installs what is missing, builds, and runs the main job: today a walk through
# the tamper-evident log and a signed, offline-verifiable label (the all-in-one
# server replaces it once the services land). See README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
bazel build //tools/chemctl //tools/chemscan
exec bash tools/demo-log.sh "$(pwd)/bazel-bin/tools/chemctl/chemctl" \
  "$(pwd)/bazel-bin/tools/chemscan/chemscan" "$(pwd)/demo-labels"
