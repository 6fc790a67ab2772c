#!/usr/bin/env bash
# Installs what is missing, builds, and runs the main job: today a walk through
# the tamper-evident log (the all-in-one server replaces it once the services
# land). See README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
bazel build //tools/chemctl
exec bash tools/demo-log.sh "$(pwd)/bazel-bin/tools/chemctl/chemctl"
