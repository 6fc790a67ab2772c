#!/usr/bin/env bash
# ThreadSanitizer over the project's own concurrent code (DEVELOPERS.md,
# "Sanitizers"): the journal and its group commit, the store, the stream
# read-ahead queue and watchdog, the worker pool, the refusal recorder, and
# the rule tests that write from several threads, in tests that need no gRPC.
#
#   tools/tsan.sh [BAZEL_TEST_TARGET ...]
#
# Debian's Abseil is not built with TSan, so absl::Mutex would be invisible
# to it and every access it guards would be reported as a race. This script
# first builds Debian's own Abseil source package (the version installed,
# with Debian's patches and soname) with -fsanitize=thread, once, into
# $TSAN_ABSEIL_DIR (default /var/tmp/chemledger-tsan-abseil), and runs the
# tests against it. gRPC, Protobuf and LevelDB stay Debian's: their own
# accesses are not seen, which is why tests that serve gRPC are left out
# (rate_limiter_test calls one on loopback: the interceptors gRPC calls are
# suppressed). Suppressions, each with its reason: tools/tsan.supp.
#
# Builds in an output base of its own ($TSAN_OUTPUT_BASE, default
# /var/tmp/chemledger-tsan-output-base), so the main build is not thrown away.
set -euo pipefail
cd "$(dirname "$0")/.."
absl_dir="${TSAN_ABSEIL_DIR:-/var/tmp/chemledger-tsan-abseil}"
output_base="${TSAN_OUTPUT_BASE:-/var/tmp/chemledger-tsan-output-base}"
targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
  targets=(
    //journal:journal_test //journal:ledger_client_test
    //storage:leveldb_log_test //storage:leveldb_log_fault_test //storage:leveldb_store_test
    //storage:store_test //storage:merkle_tree_test //storage:durable_file_test
    //services/common:read_ahead_queue_test //services/common:stream_watchdog_test
    //services/common:worker_pool_test //services/common:rate_limiter_test
    //services/common:read_auth_test //services/common:bounded_slots_test
    //services/common:background_queue_test //services/common:ephemeral_store_test
    //web:http_port_test //web:call_slots_test
    //services/audit:refusals_test
    //services/ledger:witness_cosignatures_test //services/ledger:lifecycle_rules_test
    //services/ledger:log_proofs_test
    //services/label:issuance_test //services/label:label_keyring_test
    //services/waybill:waybill_rules_test //tests:backup_deployment_test
    //services/registry:registry_rules_test
  )
fi

absl_version="$(dpkg-query -W -f='${Version}' libabsl-dev)"
soname_version="${absl_version%%.*}"  # 20220623
if [[ ! -e "$absl_dir/lib/libabsl_synchronization.so.$soname_version" ||
      "$(cat "$absl_dir/VERSION" 2>/dev/null)" != "$absl_version" ]]; then
  echo "tsan: building Abseil $absl_version with -fsanitize=thread into $absl_dir"
  missing=()
  command -v cmake >/dev/null || missing+=(cmake)
  command -v dpkg-source >/dev/null || missing+=(dpkg-dev)
  if [[ ${#missing[@]} -gt 0 ]]; then
    apt-get install -y --no-install-recommends "${missing[@]}"
  fi
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  # Debian's source package, through a private apt list of deb-src lines
  # (the machine's own apt configuration is left as it is).
  . /etc/os-release
  mkdir -p "$work/lists/partial"
  cat >"$work/sources.list" <<SOURCES
deb-src http://deb.debian.org/debian $VERSION_CODENAME main
deb-src http://deb.debian.org/debian $VERSION_CODENAME-updates main
deb-src http://deb.debian.org/debian-security $VERSION_CODENAME-security main
SOURCES
  apt_opts=(-o "Dir::Etc::SourceList=$work/sources.list" -o Dir::Etc::SourceParts=/dev/null
            -o "Dir::State::Lists=$work/lists")
  apt-get "${apt_opts[@]}" update >/dev/null
  (cd "$work" && apt-get "${apt_opts[@]}" source --download-only "abseil=$absl_version" >/dev/null 2>&1 &&
     dpkg-source -x ./*.dsc src >/dev/null)
  # The flags of Debian's shared build (debian/rules), plus TSan.
  cmake -S "$work/src" -B "$work/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_STANDARD=17 \
    -DBUILD_SHARED_LIBS=ON -DCMAKE_CXX_FLAGS="-fsanitize=thread -fno-omit-frame-pointer" \
    -DCMAKE_SHARED_LINKER_FLAGS=-fsanitize=thread -DCMAKE_INSTALL_PREFIX="$absl_dir" \
    -DCMAKE_INSTALL_LIBDIR=lib >"$work/cmake.log"
  make -C "$work/build" -j"$(nproc)" >"$work/make.log"
  rm -rf "$absl_dir"
  make -C "$work/build" install >/dev/null
  echo "$absl_version" >"$absl_dir/VERSION"
fi

bazel --output_base="$output_base" test --config=tsan \
  --linkopt="-L$absl_dir/lib" --linkopt="-Wl,-rpath,$absl_dir/lib" \
  --test_env="LD_LIBRARY_PATH=$absl_dir/lib" \
  --test_env="TSAN_OPTIONS=halt_on_error=1 second_deadlock_stack=1 suppressions=$PWD/tools/tsan.supp" \
  "${targets[@]}"
