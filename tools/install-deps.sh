#!/usr/bin/env bash
# Installs the Debian 12 packages ChemLedger builds and runs with, if any are
# missing. Everything comes from Debian's archive: the build is fully offline
# (no Bazel downloads), see DEVELOPERS.md.
set -euo pipefail

PACKAGES=(
  # Build: Debian's Bazel 4.2.3 and the rule sets it needs locally.
  bazel-bootstrap bazel-rules-java bazel-platforms bazel-skylib bazel-rules-proto
  g++ pkg-config
  # Libraries.
  libgrpc++-dev protobuf-compiler-grpc protobuf-compiler libprotobuf-dev libabsl-dev
  libleveldb-dev libsodium-dev libzxing-dev libstb-dev zlib1g-dev libgtest-dev libgmock-dev
  libbenchmark-dev libfreetype-dev
  # A CJK font for PNG label rendering (render/printable_label.h).
  fonts-wqy-microhei
  # An independent QR reader for tests.
  zbar-tools
  # Python clients and tests (run with /usr/bin/python3).
  python3-grpcio python3-protobuf python3-nacl
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "install-deps: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  SUDO=sudo
fi
echo "install-deps: installing ${missing[*]}"
# env, not export: sudo resets the environment, and a debconf prompt must never wait.
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
  "${missing[@]}" >/dev/null
echo "install-deps: done"
