#!/usr/bin/env bash
# Runs the README walk (tools/demo/server-walk.sh --walk-only) against the
# built binaries and checks what it must show; with --cluster, against the
# services as processes of their own (the same walk, the same checks).
set -euo pipefail
SHAPE="${1:-}"
BIN="$TEST_TMPDIR/bin"
mkdir -p "$BIN"
cp services/chemledgerd/chemledgerd tools/chemctl/chemctl tools/chemscan/chemscan \
  tools/chemaudit/chemaudit "$BIN/"
if [[ "$SHAPE" == --cluster ]]; then
  cp services/cluster/ledgerd services/cluster/labeld services/cluster/waybilld \
    services/cluster/verifyd services/cluster/auditd "$BIN/"
fi
OUT="$TEST_TMPDIR/walk"
bash tools/demo/server-walk.sh "$BIN" "$OUT" --walk-only $SHAPE >"$TEST_TMPDIR/stdout" 2>"$TEST_TMPDIR/stderr" || {
  cat "$TEST_TMPDIR/stdout" "$TEST_TMPDIR/stderr"; echo "FAIL: the walk failed"; exit 1; }
fail() { cat "$TEST_TMPDIR/stdout" "$TEST_TMPDIR/stderr"; echo "FAIL: $*"; exit 1; }
grep -q '"require_named_requests": true' "$TEST_TMPDIR/stdout" \
  || fail "the deployment does not require requests to name it"
grep -q '1000 authentic' "$TEST_TMPDIR/stdout" || fail "not all 1000 labels verified offline"
[[ "$(wc -l <"$OUT/labels/urls.txt")" == 1000 ]] || fail "urls.txt does not hold 1000 URLs"
[[ "$(ls "$OUT"/labels/*.png | wc -l)" == 5 ]] || fail "expected 5 label PNGs"
[[ "$(ls "$OUT"/labels/printable/*.png | wc -l)" == 5 ]] || fail "expected 5 printable label PNGs"
[[ "$(ls "$OUT"/labels/printable/*.svg | wc -l)" == 5 ]] || fail "expected 5 printable label SVGs"
[[ "$(grep -c "^authentic.*printable/" "$TEST_TMPDIR/stdout")" == 5 ]] || fail "printable labels did not verify offline"
grep -q '^bad-signature' "$TEST_TMPDIR/stdout" || fail "the forged label was not caught"
grep -q 'product.un_number: 1203 does not match' "$TEST_TMPDIR/stderr" || fail "the bad product was not refused"
grep -q '"verdict": "authentic"' "$TEST_TMPDIR/stdout" || fail "online resolution failed"
[[ "$(grep -c '^recorded [A-Z]' "$TEST_TMPDIR/stdout")" == 10 ]] || fail "expected 10 recorded events"
grep -q 'event.quantity_milli: 20000 is more than' "$TEST_TMPDIR/stderr" || fail "overconsumption was not refused"
[[ "$(grep -c '^verified: ' "$TEST_TMPDIR/stdout")" == 5 ]] || fail "histories did not verify"
grep -q '^verified: .*B20261123.7, [0-9]* events by [0-9]* signers' "$TEST_TMPDIR/stdout" \
  || fail "package 7's bundle did not verify offline"
grep -q '"type": "EPCISDocument"' "$OUT/package7.epcis.jsonld" || fail "no EPCIS document"
# The regulator's books balance; the refused attempts are on the anomaly list.
grep -q '^TOTAL .* ok$' "$TEST_TMPDIR/stdout" || fail "the reconciliation does not balance"
grep -q 'checked against every package.s state now' "$TEST_TMPDIR/stdout" \
  || fail "the reconciliation was not checked against the packages' states"
grep -q 'REFUSED_REQUEST .*OVER_CONSUMPTION' "$TEST_TMPDIR/stdout" || fail "the over-consumption is not an anomaly"
grep -q "^verified: a query's [0-9]* events" "$TEST_TMPDIR/stdout" || fail "the producer's export did not verify"
grep -q '^reconciliation re-added: .*every balance is zero' "$TEST_TMPDIR/stdout" \
  || fail "the export's reconciliation was not re-added"
grep -q 'shipments in transit; read at log size' "$TEST_TMPDIR/stdout" || fail "no in-transit list"
grep -q 'REFUSED_REQUEST .*REFUSAL_KIND_UNSPECIFIED\|REFUSED_REQUEST .*WRONG_CONSIGNEE' "$TEST_TMPDIR/stdout" \
  || fail "the receipt by the wrong enterprise is not an anomaly"
# The shipment on an e-waybill.
grep -q '^submitted YD110105-[0-9]*-0001 at log index' "$TEST_TMPDIR/stdout" || fail "the waybill was not submitted"
grep -q '^authentic	waybill:YD110105-.*vehicle 京A12345 (yellow) + 京A1234挂.*UN1230 class 3 PG II 50 KGM (2 codes)' \
  "$TEST_TMPDIR/stdout" || fail "the waybill QR did not verify offline with its summary"
grep -q '^bad-signature	waybill:' "$TEST_TMPDIR/stdout" || fail "the altered waybill code was not caught"
grep -q 'cannot be listed: .*on no other open waybill' "$TEST_TMPDIR/stderr" || fail "a second open waybill was not refused"
grep -q 'is consigned to 91330200M000100Y40, not to 91350100M000100Y43' "$TEST_TMPDIR/stderr" \
  || fail "receipt by the wrong enterprise was not refused"
grep -q '"status": "CLOSED"' "$TEST_TMPDIR/stdout" || fail "the waybill did not close on receipt"
grep -q 'SHIPPING .*waybill YD110105-.* to 91330200M000100Y40  chained, proven' "$TEST_TMPDIR/stdout" \
  || fail "the history does not prove the shipment under the waybill"
grep -q 'B20261123.7: active, custodian 91330200M000100Y40' "$TEST_TMPDIR/stdout" \
  || fail "package 7 is not in the consignee's custody"
grep -q 'B20261123.3: disposed' "$TEST_TMPDIR/stdout" || fail "package 3 is not disposed"
echo PASS
