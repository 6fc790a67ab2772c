#!/usr/bin/env bash
# The end-to-end tests against the cluster shape: every tests/*_e2e_test
# with CHEMLEDGER_E2E_SHAPE=cluster, so that each test starts ledgerd and
# the four personalities (over TLS, a development CA) instead of chemledgerd
# (tests/e2e_server.h). The README's test command runs them against
# chemledgerd; this script is run before an issue that touches the services
# is resolved (docs/cluster.md). Extra arguments go to `bazel test`.
set -euo pipefail
cd "$(dirname "$0")/../.."
bazel test --test_env=CHEMLEDGER_E2E_SHAPE=cluster \
  $(bazel query 'filter("_e2e_test$", kind(cc_test, //tests:all))') "$@"
