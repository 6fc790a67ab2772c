#!/usr/bin/env bash
# The cluster's binaries refuse what they must, with one line naming the flag
# or file: no TLS files without --plaintext, --plaintext beyond loopback, a
# configuration file's unknown field, a page flag that does not parse (before
# waiting for ledgerd), and (ledgerd) a label key left in the data directory. --help lists the flags and the configuration file's fields.
# A stop signal while a service starts (a personality waiting for ledgerd)
# ends it at once, saying so.
set -uo pipefail
BIN=services/cluster
fail() { echo "FAIL: $*"; exit 1; }
expect() {  # CODE TEXT COMMAND...: exit code CODE and TEXT in its output
  local code=$1 text=$2; shift 2
  local out; out="$("$@" 2>&1)"; local got=$?
  [[ $got == "$code" ]] || fail "$* exited $got, not $code: $out"
  [[ "$out" == *"$text"* ]] || fail "$* did not say '$text': $out"
}
for s in ledgerd labeld waybilld verifyd auditd; do
  expect 0 "listen: \"...\"    (--listen)" "$BIN/$s" --help
  expect 1 "--tls-ca: needed" "$BIN/$s" --listen 127.0.0.1:0
  expect 1 "is not a loopback address" "$BIN/$s" --plaintext --listen 0.0.0.0:7443
done
# Metrics are plain HTTP: loopback only.
expect 1 "--metrics-listen: 0.0.0.0:0 is not a loopback address" "$BIN/verifyd" --plaintext \
  --listen 127.0.0.1:0 --ledger 127.0.0.1:1 --metrics-listen 0.0.0.0:0
# The pages' flags are read before a service waits for ledgerd (here at a
# port nobody listens on): a mistake in one ends it at once.
expect 1 "--trusted-proxy: 'proxy.example' is not an IPv4 or IPv6 address" timeout 10 \
  "$BIN/verifyd" --plaintext --listen 127.0.0.1:0 --ledger 127.0.0.1:1 --trusted-proxy proxy.example
expect 1 "--console-address" timeout 10 "$BIN/auditd" --plaintext --listen 127.0.0.1:0 \
  --ledger 127.0.0.1:1 --console-address https://console.example
expect 1 "--http-plaintext: not with --http-tls-cert or --http-tls-key" timeout 10 \
  "$BIN/verifyd" --plaintext --listen 127.0.0.1:0 --ledger 127.0.0.1:1 --http-tls-cert x.pem
# With TLS on the gRPC ports (a development CA), the pages' certificate is
# read before the wait for ledgerd too: a missing one ends verifyd at once.
tools/cluster/make-dev-ca.sh "$TEST_TMPDIR/ca" verifyd >/dev/null || fail "make-dev-ca"
expect 1 "--http-tls-cert, --http-tls-key: " timeout 10 "$BIN/verifyd" --listen 127.0.0.1:0 \
  --ledger 127.0.0.1:1 --tls-ca "$TEST_TMPDIR/ca/ca.pem" --tls-cert "$TEST_TMPDIR/ca/verifyd.pem" \
  --tls-key "$TEST_TMPDIR/ca/verifyd.key" --http-tls-cert "$TEST_TMPDIR/ca/missing.pem" \
  --http-tls-key "$TEST_TMPDIR/ca/verifyd.key"
printf 'listen: "127.0.0.1:0"\nno_such_field: 1\n' >"$TEST_TMPDIR/bad.textproto"
expect 2 "line 2" "$BIN/labeld" --config "$TEST_TMPDIR/bad.textproto"
# A field another service takes is refused as an unknown flag.
printf 'data: "/tmp/x"\n' >"$TEST_TMPDIR/labeld.textproto"
expect 2 "data" "$BIN/labeld" --config "$TEST_TMPDIR/labeld.textproto"
# ledgerd will not run where a label key is.
DATA="$TEST_TMPDIR/data"
umask 077
tools/chemctl/chemctl keygen --unsealed --out "$TEST_TMPDIR/admin.key" >/dev/null || fail "keygen"
services/chemledgerd/chemledgerd init --data "$DATA" --deployment cli.test \
  --resolver CL.EXAMPLE.CN --admin-key "$TEST_TMPDIR/admin.key" >/dev/null || fail "init"
expect 1 "is a label key: in a cluster only labeld and waybilld hold label keys" \
  "$BIN/ledgerd" --plaintext --data "$DATA" --listen 127.0.0.1:0 --internal-listen 127.0.0.1:0
# A new label key goes straight into a cluster's label key directory.
mkdir -m 700 "$TEST_TMPDIR/label-keys"
expect 0 "label key " services/chemledgerd/chemledgerd label-key new --keys "$TEST_TMPDIR/label-keys"
ls "$TEST_TMPDIR/label-keys"/label-*.key >/dev/null || fail "no key file in the label key directory"
[[ "$(stat -c %a "$TEST_TMPDIR"/label-keys/label-*.key)" == 600 ]] || fail "the key file is not 0600"
chmod 755 "$TEST_TMPDIR/label-keys"
expect 1 "--keys: " services/chemledgerd/chemledgerd label-key new --keys "$TEST_TMPDIR/label-keys"
expect 1 "--data or --keys" services/chemledgerd/chemledgerd label-key new
# A personality waiting for a ledgerd that is not there (up to a minute)
# stops at once on SIGTERM, and dies of it.
"$BIN/verifyd" --plaintext --listen 127.0.0.1:0 --ledger 127.0.0.1:1 >"$TEST_TMPDIR/verifyd.out" 2>&1 &
PID=$!
# Once its signals are blocked (SigBlk has SIGTERM's bit, 1 << 14), it is
# starting: its flags read, waiting for ledgerd.
for _ in $(seq 100); do
  blocked=$(awk '/^SigBlk:/ {print $2}' "/proc/$PID/status" 2>/dev/null)
  [[ -n "$blocked" ]] && (( 16#$blocked & 0x4000 )) && break
  sleep 0.1
done
sleep 0.5
kill -0 "$PID" 2>/dev/null || fail "verifyd ended before the signal: $(cat "$TEST_TMPDIR/verifyd.out")"
kill -TERM "$PID"
for _ in $(seq 50); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$PID" 2>/dev/null && { kill -KILL "$PID"; fail "verifyd still starting 5 s after SIGTERM"; }
wait "$PID"; CODE=$?
[[ $CODE == 143 ]] || fail "verifyd exited $CODE, not by SIGTERM (143): $(cat "$TEST_TMPDIR/verifyd.out")"
grep -qx "verifyd: SIGTERM while starting, stopped" "$TEST_TMPDIR/verifyd.out" ||
  fail "verifyd did not say it stopped: $(cat "$TEST_TMPDIR/verifyd.out")"
echo PASS
