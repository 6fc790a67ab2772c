#!/usr/bin/env bash
# The fault-injection suite's long version: tests/cluster_fault_test with
# CYCLES kills (default 100) of the cluster's processes under mixed load
# (docs/cluster.md, "Faults"). The README's test command runs 8. Prints the
# test's summary line (cycles, writes checked, retries, checkpoints); its
# figures go to BENCHMARKS.md.
#
#   tools/cluster/faults.sh [CYCLES]
set -euo pipefail
cd "$(dirname "$0")/../.."
CYCLES="${1:-100}"
bazel test --test_env=CHEMLEDGER_FAULT_CYCLES="$CYCLES" --test_timeout=7200 \
  --cache_test_results=no //tests:cluster_fault_test
grep -h "fault cycles:" bazel-testlogs/tests/cluster_fault_test/test.log
