#!/usr/bin/env bash
# Installs what is missing, builds everything and runs every test.
# This is the README's test command, and what CI (.ci/run) runs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
bazel build //...
bazel test //...
