#!/usr/bin/env bash
# Runs the README's log walk (tools/demo/demo-log.sh) against the built
# chemctl and chemscan, so that CI keeps it working: it must end with every
# step checked.
set -euo pipefail
bash tools/demo/demo-log.sh tools/chemctl/chemctl tools/chemscan/chemscan \
  >"$TEST_TMPDIR/out" 2>&1 || { cat "$TEST_TMPDIR/out"; echo "FAIL: the walk failed"; exit 1; }
grep -q '^Done: every step above was checked' "$TEST_TMPDIR/out" || {
  cat "$TEST_TMPDIR/out"; echo "FAIL: the walk did not finish"; exit 1; }
grep -q '^authentic' "$TEST_TMPDIR/out" || { cat "$TEST_TMPDIR/out"; echo "FAIL: no label verified"; exit 1; }
grep -q '^bad-signature' "$TEST_TMPDIR/out" || {
  cat "$TEST_TMPDIR/out"; echo "FAIL: the changed label was not refused"; exit 1; }
echo PASS
