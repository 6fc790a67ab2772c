#!/usr/bin/env bash
# A walk through ChemLedger with chemctl and chemscan: record a package's life
# as log entries, sign a checkpoint, prove an entry is in the log, prove the log
# only grew, re-derive every hash; then sign the package's QR label, render it
# and verify it offline. Usage: tools/demo/demo-log.sh CHEMCTL CHEMSCAN [OUTPUT_DIR] (tested by
# tools/demo:demo_log_test)
set -euo pipefail
CHEMCTL="${1:?usage: demo-log.sh CHEMCTL CHEMSCAN [OUTPUT_DIR]}"
CHEMSCAN="${2:?usage: demo-log.sh CHEMCTL CHEMSCAN [OUTPUT_DIR]}"
OUT="${3:-}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/chemledger-demo.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
ORIGIN="chemledger.demo/log"
step() { printf '\n== %s\n' "$*"; }
run() { printf '$ chemctl %s\n' "$*" >&2; "$CHEMCTL" "$@"; }

step "1. The log's signing key (Ed25519; private file mode 0600)"
run keygen --unsealed --out "$WORK/log.key" --note-name "$ORIGIN" | tee "$WORK/keygen.txt"
VKEY="$(sed -n 's/^note-verifier-key //p' "$WORK/keygen.txt")"

step "2. A package of ammonium nitrate (UN 1942), from production to storage"
run log append --db "$WORK/db" \
  'commissioning code=91320500MA1X2Y3K5A.AN01.B2026112301.000001 product="ammonium nitrate" UN=1942 qty=25KGM' \
  'storing code=...000001 site=warehouse-3 custodian=91320500MA1X2Y3K5A'
run log root --db "$WORK/db"

step "3. A signed checkpoint (C2SP tlog-checkpoint) a regulator keeps"
run log checkpoint --db "$WORK/db" --key "$WORK/log.key" --origin "$ORIGIN" | tee "$WORK/cp2.txt"

step "4. Later events: shipped on an e-waybill, received by the consignee"
run log append --db "$WORK/db" \
  'shipping code=...000001 waybill=WB-2026-000123 consignee=91110108MA00ABCD45' \
  'receiving code=...000001 site=plant-7 custodian=91110108MA00ABCD45'
run log checkpoint --db "$WORK/db" --key "$WORK/log.key" --origin "$ORIGIN" | tee "$WORK/cp4.txt"

step "5. The regulator checks the new checkpoint's signature"
run checkpoint verify --origin "$ORIGIN" --verifier-key "$VKEY" "$WORK/cp4.txt"

step "6. Proof that the shipping event (entry 2) is in the log at size 4"
run log proof --db "$WORK/db" --index 2 --size 4

step "7. Proof that the log at size 4 extends the one checkpointed at size 2 (nothing rewritten)"
run log consistency --db "$WORK/db" --from 2 --to 4

step "8. Integrity check: re-hash every entry, re-derive every tree node, match the signed checkpoint"
run log verify --db "$WORK/db" --checkpoint "$WORK/cp4.txt" --origin "$ORIGIN" --verifier-key "$VKEY"

step "9. The package's signed QR label (一码), its trust list, and an offline check"
run keygen --unsealed --out "$WORK/label.key" >/dev/null
run keygen --unsealed --out "$WORK/trust-root.key" >/dev/null
run label trust-list --root-key "$WORK/trust-root.key" --resolver CL.EXAMPLE.CN \
  "$WORK/label.key.pub:2026-01-01:2027-12-31" >"$WORK/trust-list.txt" 2>"$WORK/root.txt"
cat "$WORK/trust-list.txt"
ROOT="$(sed -n 's/^trust root (give this to verifiers): //p' "$WORK/root.txt")"
LABEL="$(run label make --key "$WORK/label.key" --resolver CL.EXAMPLE.CN \
  --enterprise 91320500MA1X2Y3K5A --product AN01 --batch B2026112301 --serial 1 \
  --date 2026-11-23 --quantity 25 --unit KGM --un 1942 --cas 6484-52-2 --flags 易制爆,重点监管,高危)"
echo "$LABEL"
LABELS="${OUT:-$WORK}"
mkdir -p "$LABELS"
run label render "$LABEL" --png "$LABELS/label-000001.png" --svg "$LABELS/label-000001.svg"
printf '$ chemscan verify --trust-list trust-list.txt --trust-root %s %s\n' "$ROOT" "$LABELS/label-000001.png" >&2
"$CHEMSCAN" verify --trust-list "$WORK/trust-list.txt" --trust-root "$ROOT" "$LABELS/label-000001.png"
printf '$ chemscan verify ... (the same label with one character changed)\n' >&2
"$CHEMSCAN" verify --trust-list "$WORK/trust-list.txt" --trust-root "$ROOT" "${LABEL:0:${#LABEL}-1}Q" || true
[[ -n "$OUT" ]] && printf '\nLabel images written to %s\n' "$OUT"

printf '\nDone: every step above was checked with the client-side verifiers.\n'
