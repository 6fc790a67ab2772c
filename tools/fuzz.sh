#!/usr/bin/env bash
# Long, coverage-guided fuzzing runs with clang's libFuzzer (docs/fuzzing.md).
#
#   tools/fuzz.sh [SECONDS_PER_TARGET] [TARGET ...]
#
# Builds the targets of tests/fuzz with --config=fuzz (clang, libFuzzer,
# ASan and UBSan) in an output base of its own ($FUZZ_OUTPUT_BASE, default
# /var/tmp/chemledger-fuzz-output-base), then runs each for the time given
# (default 300 s) from its seeds and its corpus in tests/fuzz/corpus/TARGET
# (kept in the repository; new inputs that reach new code are added to it).
# Crashes are written to tests/fuzz/crashes/ and end the script with status 1:
# fix the bug and keep the input as a regression case in the corpus.
# Prints each target's executions.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-300}"
shift || true
targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
  targets=(base32_fuzzer label_url_fuzzer waybill_code_fuzzer signed_note_fuzzer
           read_credentials_fuzzer query_bundle_fuzzer request_rules_fuzzer
           http_request_fuzzer signed_envelope_fuzzer history_bundle_fuzzer
           read_requests_fuzzer event_location_fuzzer)
fi
command -v clang++ >/dev/null || {
  echo "fuzz: needs clang (apt-get install clang)" >&2
  exit 2
}
output_base="${FUZZ_OUTPUT_BASE:-/var/tmp/chemledger-fuzz-output-base}"
labels=()
for t in "${targets[@]}"; do labels+=("//tests/fuzz:$t"); done
bazel --output_base="$output_base" build --config=fuzz "${labels[@]}"
bin="$(bazel --output_base="$output_base" info --config=fuzz bazel-bin)"
# The seeds, written by the ordinary build's short driver.
bazel build "${labels[@]}"
mkdir -p tests/fuzz/crashes
# With the build's -fno-sanitize-recover, undefined behaviour stops the run
# as a crash does; print where it happened.
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
status=0
for t in "${targets[@]}"; do
  corpus="tests/fuzz/corpus/$t"
  seeds="$(mktemp -d)"
  mkdir -p "$corpus"
  "bazel-bin/tests/fuzz/$t" --write-seeds="$seeds" >/dev/null
  echo "fuzz: $t for ${seconds} s"
  if ! "$bin/tests/fuzz/$t" -max_total_time="$seconds" -print_final_stats=1 \
      -artifact_prefix="tests/fuzz/crashes/$t-" "$corpus" "$seeds" >"/tmp/fuzz-$t.log" 2>&1; then
    echo "fuzz: $t FOUND A CRASH (tests/fuzz/crashes/, log /tmp/fuzz-$t.log)" >&2
    status=1
  fi
  grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "/tmp/fuzz-$t.log" | sed "s/^/  $t /" || true
  rm -rf "$seeds"
done
exit "$status"
