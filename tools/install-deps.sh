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
  # Reading photos from anyone (render/qr.cc): libpng and libjpeg-turbo.
  libpng-dev libturbojpeg0-dev
  # The servers' allocator (services/common:server_malloc).
  libtcmalloc-minimal4
  # The HTTP scan pages (web/): cpp-httplib 0.11 (docs/scan-page.md says why).
  libcpp-httplib-dev
  # A CJK font for PNG label rendering (render/printable_label.h).
  fonts-wqy-microhei
  # An independent QR reader for tests, and ImageMagick for camera-like test
  # photos of labels (render/qr_camera_test.cc).
  zbar-tools imagemagick
  # Python clients and tests (run with /usr/bin/python3).
  python3-grpcio python3-protobuf python3-nacl
  # Browser tests (tests/browser): Debian's chromium, driven headless by
  # playwright-core from npm on Debian's Node.js.
  chromium nodejs
  # The regulator console's charts (web/console.h).
  libjs-chart.js
  # Metrics in Prometheus text format (services/chemledgerd/metrics.h).
  prometheus-cpp-dev
  # The development CA of the cluster (tools/cluster/make-dev-ca.sh).
  openssl
  # The PostgreSQL store (storage/postgres_store.h): libpq to build with, and
  # the server its tests start a cluster of their own with (initdb).
  libpq-dev postgresql-15
)

# The GHS pictograms and transport class labels, and the GHS statement texts,
# of the LaTeX package ghsystem (LPPL 1.3), which Debian ships in
# texlive-science. Only that package's ghsystem folder is taken, without
# installing TeX: apt-get download, dpkg-deb -x, copy. Bazel reads it from
# here (third_party/system/system_libraries.bzl).
GHSYSTEM_DIR=/usr/local/share/chemledger/ghsystem
# playwright-core, and ajv, ajv-formats and jsonld for the EPCIS test (npm),
# as tests/browser/package-lock.json pins them; the tests find them here.
BROWSER_TESTS_DIR=/usr/local/share/chemledger/browser-tests
HERE="$(cd "$(dirname "$0")/.." && pwd)"
browser_tests_ready() {
  cmp -s "$HERE/tests/browser/package-lock.json" "$BROWSER_TESTS_DIR/package-lock.json" &&
    [[ -d "$BROWSER_TESTS_DIR/node_modules/playwright-core" ]] &&
    [[ -d "$BROWSER_TESTS_DIR/node_modules/ajv-formats" ]] &&
    [[ -d "$BROWSER_TESTS_DIR/node_modules/jsonld" ]]
}

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
# npm comes with Debian's nodejs as a package of its own, and inside the
# nodejs of other sources (NodeSource): only asked for when missing.
command -v npm >/dev/null || missing+=(npm)
if [[ ${#missing[@]} -eq 0 && -f "$GHSYSTEM_DIR/language/ghsystem_english.def" ]] &&
   browser_tests_ready; then
  echo "install-deps: all ${#PACKAGES[@]} packages present, ghsystem's pictures, playwright-core"
  exit 0
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "install-deps: need root (or sudo) to install: ${missing[*]} ghsystem" >&2; exit 1; }
  SUDO=sudo
fi
# env, not export: sudo resets the environment, and a debconf prompt must never wait.
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
if [[ ${#missing[@]} -gt 0 ]]; then
  echo "install-deps: installing ${missing[*]}"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
fi
if [[ ! -f "$GHSYSTEM_DIR/language/ghsystem_english.def" ]]; then
  echo "install-deps: taking ghsystem's pictures from texlive-science into $GHSYSTEM_DIR"
  work=$(mktemp -d)
  chmod 755 "$work"  # readable by apt's sandbox user (else apt downloads as root, and says so)
  (cd "$work" && $SUDO apt-get download -qq texlive-science >/dev/null 2>&1 || \
     { echo "install-deps: apt-get download texlive-science failed" >&2; exit 1; })
  dpkg-deb -x "$work"/texlive-science_*.deb "$work/x"
  src="$work/x/usr/share/texlive/texmf-dist/tex/latex/ghsystem"
  [[ -f "$src/language/ghsystem_english.def" ]] || { echo "install-deps: no ghsystem in texlive-science" >&2; exit 1; }
  $SUDO mkdir -p "$GHSYSTEM_DIR"
  $SUDO cp -r "$src/pictures" "$src/language" "$GHSYSTEM_DIR/"
  $SUDO cp "$work/x/usr/share/doc/texlive-science/copyright" "$GHSYSTEM_DIR/copyright" 2>/dev/null || true
  $SUDO chmod -R a+rX "$GHSYSTEM_DIR"
  rm -rf "$work"
fi
if ! browser_tests_ready; then
  echo "install-deps: installing playwright-core, ajv and jsonld (npm) into $BROWSER_TESTS_DIR"
  $SUDO mkdir -p "$BROWSER_TESTS_DIR"
  $SUDO cp "$HERE/tests/browser/package.json" "$HERE/tests/browser/package-lock.json" \
    "$BROWSER_TESTS_DIR/"
  (cd "$BROWSER_TESTS_DIR" && $SUDO npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  $SUDO chmod -R a+rX "$BROWSER_TESTS_DIR"
fi
echo "install-deps: done"
