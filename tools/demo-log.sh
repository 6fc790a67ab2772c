#!/usr/bin/env bash
# A walk through ChemLedger's log core with chemctl: record a package's life as
# log entries, sign a checkpoint, prove an entry is in the log, prove the log
# only grew, and re-derive every hash. Usage: tools/demo-log.sh PATH_TO_CHEMCTL
set -euo pipefail
CHEMCTL="${1:?usage: demo-log.sh PATH_TO_CHEMCTL}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/chemledger-demo.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
ORIGIN="chemledger.demo/log"
step() { printf '\n== %s\n' "$*"; }
run() { printf '$ chemctl %s\n' "$*" >&2; "$CHEMCTL" "$@"; }

step "1. The log's signing key (Ed25519; private file mode 0600)"
run keygen --out "$WORK/log.key" --note-name "$ORIGIN" | tee "$WORK/keygen.txt"
VKEY="$(sed -n 's/^note-verifier-key //p' "$WORK/keygen.txt")"

step "2. A package of ammonium nitrate (UN 1942), from production to storage"
run log append --db "$WORK/db" \
  'commissioning code=91320500MA1X2Y3Z4A.AN01.B2026112301.000001 product="ammonium nitrate" UN=1942 qty=25KGM' \
  'storing code=...000001 site=warehouse-3 custodian=91320500MA1X2Y3Z4A'
run log root --db "$WORK/db"

step "3. A signed checkpoint (C2SP tlog-checkpoint) a regulator keeps"
run log checkpoint --db "$WORK/db" --key "$WORK/log.key" --origin "$ORIGIN" | tee "$WORK/cp2.txt"

step "4. Later events: shipped on an e-waybill, received by the consignee"
run log append --db "$WORK/db" \
  'shipping code=...000001 waybill=WB-2026-000123 consignee=91110108MA00ABCDE1' \
  'receiving code=...000001 site=plant-7 custodian=91110108MA00ABCDE1'
run log checkpoint --db "$WORK/db" --key "$WORK/log.key" --origin "$ORIGIN" | tee "$WORK/cp4.txt"

step "5. The regulator checks the new checkpoint's signature"
run checkpoint verify --origin "$ORIGIN" --verifier-key "$VKEY" "$WORK/cp4.txt"

step "6. Proof that the shipping event (entry 2) is in the log at size 4"
run log proof --db "$WORK/db" --index 2 --size 4

step "7. Proof that the log at size 4 extends the one checkpointed at size 2 (nothing rewritten)"
run log consistency --db "$WORK/db" --from 2 --to 4

step "8. Integrity check: re-hash every entry, re-derive every tree node, match the signed checkpoint"
run log verify --db "$WORK/db" --checkpoint "$WORK/cp4.txt" --origin "$ORIGIN" --verifier-key "$VKEY"

printf '\nDone: every step above was checked with the client-side verifiers.\n'
