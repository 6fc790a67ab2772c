#!/usr/bin/env bash
# The README's main job: a fresh ChemLedger deployment served by chemledgerd
# (embedded LevelDB), walked through one product's labels with chemctl over
# gRPC, the labels verified offline with chemscan, packages through their
# life, and a shipment to another enterprise on an e-waybill.
#
# Usage: tools/demo/server-walk.sh BIN_DIR OUT_DIR [--walk-only] [--cluster]
#   BIN_DIR holds chemledgerd, chemctl, chemscan and chemaudit (and, with
#   --cluster, ledgerd, labeld, waybilld, verifyd and auditd); OUT_DIR
#   (recreated) gets the deployment's data directory, keys and label images.
#   Without --walk-only the server keeps serving after the walk until Ctrl-C.
#   With --cluster the same walk runs against the services as processes of
#   their own (tools/cluster/cluster.sh, docs/cluster.md), over TLS, each
#   command sent to the service it calls.
set -euo pipefail
USAGE="usage: server-walk.sh BIN_DIR OUT_DIR [--walk-only] [--cluster]"
BIN="${1:?$USAGE}"
OUT="${2:?$USAGE}"
WALK_ONLY=""
CLUSTER=""
for arg in "${@:3}"; do
  case "$arg" in
    --walk-only) WALK_ONLY="--walk-only" ;;
    --cluster) CLUSTER="--cluster" ;;
    *) echo "$USAGE" >&2; exit 2 ;;
  esac
done
HERE="$(cd "$(dirname "$0")" && pwd)"
USCC=91350100M000100Y43
step() { printf '\n== %s\n' "$*"; }
run() { printf '$ %s\n' "$(basename "$1") ${*:2}" >&2; "$@"; }

rm -rf "$OUT"
mkdir -p "$OUT/keys" "$OUT/labels"
SERVER_PID=""
stop_server() {
  if [[ -n "$CLUSTER" && -d "$OUT/cluster" ]]; then bash "$HERE/../cluster/cluster.sh" stop "$OUT/cluster"; fi
  if [[ -n "$SERVER_PID" ]]; then kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true; fi
}
trap stop_server EXIT

step "1. Keys: the first platform administrator, and the producer's administrator (demo keys are unsealed; real ones are sealed with --passphrase-file)"
run "$BIN/chemctl" keygen --unsealed --out "$OUT/keys/admin.key"
run "$BIN/chemctl" keygen --unsealed --out "$OUT/keys/producer-admin.key"

step "2. A new deployment: genesis entry signed by the administrator, note key, first label key"
run "$BIN/chemledgerd" init --data "$OUT/data" --deployment chemledger.demo \
  --resolver CL.EXAMPLE.CN --admin-key "$OUT/keys/admin.key" --admin-name "demo administrator"
TRUST_ROOT="$(cat "$OUT/data/note.vkey")"

if [[ -z "$CLUSTER" ]]; then
step "3. chemledgerd serves the gRPC services on one port and the phone's scan pages over HTTP on another"
"$BIN/chemledgerd" serve --data "$OUT/data" --listen 127.0.0.1:0 --plaintext --port-file "$OUT/port" \
  --http-listen 127.0.0.1:0 --http-port-file "$OUT/http-port" &
SERVER_PID=$!
for _ in $(seq 1 100); do [[ -s "$OUT/port" ]] && break; sleep 0.1; done
[[ -s "$OUT/port" ]] || { echo "chemledgerd did not start" >&2; exit 1; }
SERVER="127.0.0.1:$(cat "$OUT/port")"
SCAN_PAGES="http://127.0.0.1:$(cat "$OUT/http-port")"
CONSOLE="$SCAN_PAGES"
TLS_CA=""
# Every service at one address.
REGISTRY=(--server "$SERVER"); LEDGER=("${REGISTRY[@]}"); LABELS=("${REGISTRY[@]}")
WAYBILLS=("${REGISTRY[@]}"); AUDIT=("${REGISTRY[@]}")
else
step "3. The services as processes of their own: ledgerd owns the store; labeld, waybilld, verifyd (scan pages) and auditd (console) reach it over mutual TLS"
run bash "$HERE/../cluster/cluster.sh" start "$BIN" "$OUT/data" "$OUT/cluster"
# shellcheck disable=SC1091
source "$OUT/cluster/cluster.env"
SERVER="$LEDGERD"
CONSOLE="${CONSOLE%/console/}"
# Each command goes to the service it calls, over TLS.
REGISTRY=(--server "$LEDGERD" --tls-ca "$TLS_CA"); LEDGER=("${REGISTRY[@]}")
LABELS=(--server "$LABELD" --tls-ca "$TLS_CA"); WAYBILLS=(--server "$WAYBILLD" --tls-ca "$TLS_CA")
AUDIT=(--server "$AUDITD" --tls-ca "$TLS_CA")
fi
# What a phone shows when its camera opens label URL $1 (served here, on
# loopback, instead of at https://CL.EXAMPLE.CN): the verdict word, the
# warnings, the product and the pictograms. The whole page: $OUT/page-$2.html.
scan_page() {
  local path="/${1#HTTPS://*/}"
  printf '$ open %s%s (as a phone would)\n' "$SCAN_PAGES" "${path:0:48}..." >&2
  python3 - "$SCAN_PAGES$path" "$OUT/page-$2.html" "$TLS_CA" <<'PY'
import re, ssl, sys, urllib.request, urllib.error
context = ssl.create_default_context(cafile=sys.argv[3]) if sys.argv[3] else None
try:
    page = urllib.request.urlopen(sys.argv[1], context=context).read().decode()
except urllib.error.HTTPError as e:
    page = e.read().decode()
open(sys.argv[2], "w").write(page)
text = lambda h: re.sub(r"<[^>]+>", " ", h).split()
word = re.search(r'<div class="word">(.*?)</div><div class="what">(.*?)</div>', page)
print("  verdict:", word.group(1), "-", word.group(2))
for w in re.findall(r"<section class=\"alert\">.*?</section>", page, re.S):
    print("  warnings:", " ".join(text(w))[:300])
h2 = re.findall(r"<h2>(.*?)</h2>", page)
print("  sections:", " | ".join(" ".join(text(x)) for x in h2)[:300])
print("  pictograms:", " ".join(re.findall(r'src="(/static/[^"]+)"', page)) or "none")
print("  %d bytes of HTML: %s" % (len(page.encode()), sys.argv[2]))
PY
}
# Every client here names the deployment on its writes, so the deployment
# can require it: a request signed without the name (replayable from
# another deployment where its key is registered) is refused from now on.
run "$BIN/chemctl" registry require-named-requests "${REGISTRY[@]}" --key "$OUT/keys/admin.key"
run "$BIN/chemctl" registry deployment "${REGISTRY[@]}"

step "4. Register the producer (一企), its administrator, and its product (一品)"
# Licences valid from last year to two years ahead, whenever the walk runs.
YEAR="$(date +%Y)"
sed "s/@FROM_YEAR@/$((YEAR - 1))/g; s/@UNTIL_YEAR@/$((YEAR + 2))/g" \
  "$HERE/enterprise.template.json" >"$OUT/enterprise.json"
run "$BIN/chemctl" registry enterprise add "${REGISTRY[@]}" --key "$OUT/keys/admin.key" \
  --json "$OUT/enterprise.json"
run "$BIN/chemctl" registry actor add "${REGISTRY[@]}" --key "$OUT/keys/admin.key" \
  --name "producer administrator" --role enterprise_admin --enterprise "$USCC" \
  --public-key-file "$OUT/keys/producer-admin.key.pub"
run "$BIN/chemctl" registry product add "${REGISTRY[@]}" --key "$OUT/keys/producer-admin.key" \
  --json "$HERE/product.json"

step "5. A refused registration: UN number 1203 does not match methanol's CAS in the catalogue"
sed 's/"1230"/"1203"/; s/"M01"/"M02"/' "$HERE/product.json" >"$OUT/bad-product.json"
run "$BIN/chemctl" registry product add "${REGISTRY[@]}" --key "$OUT/keys/producer-admin.key" \
  --json "$OUT/bad-product.json" || true

step "6. Issue 1000 signed labels (一码) for batch B20261123; the issuance is one log entry"
TODAY="$(TZ=Asia/Shanghai date +%F)"
run "$BIN/chemctl" label issue "${LABELS[@]}" --key "$OUT/keys/producer-admin.key" \
  --enterprise "$USCC" --product M01 --batch B20261123 --production-date "$TODAY" \
  --count 1000 --quantity 25 --unit KGM --out "$OUT/labels/urls.txt" \
  --png-dir "$OUT/labels" --print-dir "$OUT/labels/printable" --render-limit 5
head -3 "$OUT/labels/urls.txt"
printf 'QR codes: %s/labels/*.png; printable GB 15258-style labels (A6, PNG and SVG): %s/labels/printable/\n' "$OUT" "$OUT"

step "7. The signed trust list, checked against the note key pinned at init"
run "$BIN/chemctl" label fetch-trust-list "${LABELS[@]}" --trust-root "$TRUST_ROOT" \
  --out "$OUT/trust-list.txt"
cat "$OUT/trust-list.txt"

step "8. Offline: read the label images and verify every code (no server involved)"
run "$BIN/chemscan" verify --trust-list "$OUT/trust-list.txt" --trust-root "$TRUST_ROOT" \
  "$OUT"/labels/*.png "$OUT"/labels/printable/*.png
printf '%s\n' "all 1000 URLs:" >&2
"$BIN/chemscan" verify --trust-list "$OUT/trust-list.txt" --trust-root "$TRUST_ROOT" - \
  <"$OUT/labels/urls.txt" | cut -f1 | sort | uniq -c
if command -v zbarimg >/dev/null; then
  FIRST="$(ls "$OUT"/labels/*.png | head -1)"
  printf '$ zbarimg --raw %s   (an independent reader)\n' "$FIRST" >&2
  zbarimg --quiet --raw "$FIRST" 2>/dev/null
fi

step "9. A forged label: the first URL with one signature character changed"
FIRST_URL="$(head -1 "$OUT/labels/urls.txt")"
LAST="${FIRST_URL: -1}"; [[ "$LAST" == "A" ]] && SWAP=B || SWAP=A
run "$BIN/chemscan" verify --trust-list "$OUT/trust-list.txt" --trust-root "$TRUST_ROOT" \
  "${FIRST_URL:0:${#FIRST_URL}-1}$SWAP" || true

step "10. Online: the server resolves a label to its issuance and product"
run "$BIN/chemctl" label resolve "${LABELS[@]}" "$FIRST_URL" | sed -n 1,12p

step "10b. The phone's view: the label's scan page (Chinese; ?lang=en for English)"
scan_page "$FIRST_URL" genuine
scan_page "${FIRST_URL:0:${#FIRST_URL}-1}$SWAP" forged

step "11. A package's life in the ledger: each step a signed event, chained per code"
C="$USCC.M01.B20261123"
EV=("$BIN/chemctl" event record "${LEDGER[@]}" --key "$OUT/keys/producer-admin.key" --enterprise "$USCC")
T0=$(( $(date +%s) - 600 )); t() { TZ=Asia/Shanghai date -d "@$(( T0 + $1 ))" +%Y-%m-%dT%H:%M:%S+08:00; }
run "${EV[@]}" --step commissioning --time "$(t 1)" "$C.1" "$C.2" "$C.3" "$C.4"
run "${EV[@]}" --step storing --site "tank farm, bay 2" --time "$(t 2)" "$C.1" "$C.2" "$C.3" "$C.4"
run "${EV[@]}" --step consuming --quantity 10 --time "$(t 3)" "$C.1"
run "${EV[@]}" --step repackaging --quantity 25 --outputs "$C.5=12,$C.6=12.5" --loss 0.5 --time "$(t 4)" "$C.2"
run "${EV[@]}" --step packing --parent "$USCC.LU.PALLET7" --time "$(t 5)" "$C.3" "$C.5"
run "${EV[@]}" --step unpacking --parent "$USCC.LU.PALLET7" --time "$(t 6)" "$C.3" "$C.5"
run "${EV[@]}" --step destroying --manifest 3501002026000042 --time "$(t 7)" "$C.3"
printf 'Package %s.3 was destroyed: a label scanned now may be a copy on a refilled drum:\n' "$C" >&2
scan_page "$(sed -n 3p "$OUT/labels/urls.txt")" destroyed
printf 'A refused step (consuming more than is left in %s.1):\n' "$C" >&2
run "${EV[@]}" --step consuming --quantity 20 --time "$(t 8)" "$C.1" || true

step "12. Transport on an e-waybill (电子运单): from the producer in Fuzhou to a user in Ningbo"
CARRIER=91110105M000100Y4D
CONSIGNEE=91330200M000100Y40
run "$BIN/chemctl" keygen --unsealed --out "$OUT/keys/carrier-dispatcher.key"
run "$BIN/chemctl" keygen --unsealed --out "$OUT/keys/consignee-admin.key"
for who in carrier consignee; do
  sed "s/@FROM_YEAR@/$((YEAR - 1))/g; s/@UNTIL_YEAR@/$((YEAR + 2))/g" \
    "$HERE/$who.template.json" >"$OUT/$who.json"
  run "$BIN/chemctl" registry enterprise add "${REGISTRY[@]}" --key "$OUT/keys/admin.key" \
    --json "$OUT/$who.json"
done
# The carrier's 道路运输经营许可证 renewed under its number (rules epoch 19):
# a licence is changed by a signed entry, as the registration was.
run "$BIN/chemctl" registry licence "${REGISTRY[@]}" --key "$OUT/keys/admin.key" \
  --enterprise "$CARRIER" --type ROAD_TRANSPORT --number "京交运管许可京字110105000001号" \
  --valid-from "$YEAR-01-01" --valid-until "$((YEAR + 5))-12-31" --reason "换证（续期）"
run "$BIN/chemctl" registry actor add "${REGISTRY[@]}" --key "$OUT/keys/admin.key" \
  --name "carrier dispatcher" --role enterprise_admin --enterprise "$CARRIER" \
  --public-key-file "$OUT/keys/carrier-dispatcher.key.pub"
run "$BIN/chemctl" registry actor add "${REGISTRY[@]}" --key "$OUT/keys/admin.key" \
  --name "consignee administrator" --role enterprise_admin --enterprise "$CONSIGNEE" \
  --public-key-file "$OUT/keys/consignee-admin.key.pub"
run "${EV[@]}" --step commissioning --time "$(t 10)" "$C.7" "$C.8"
DAY="$(TZ=Asia/Shanghai date +%Y%m%d)"
WAYBILL="YD110105-$DAY-0001"
sed "s/@DAY@/$DAY/; s/@DEPARTURE@/$(date -u +%Y-%m-%dT%H:%M:%SZ)/;
     s/@ARRIVAL@/$(date -u -d '+8 hours' +%Y-%m-%dT%H:%M:%SZ)/; s/@CODES@/\"$C.7\", \"$C.8\"/" \
  "$HERE/waybill.template.json" >"$OUT/waybill.json"
printf 'The producer (the consignor) authorises its carrier: its waybills open at once:\n' >&2
run "$BIN/chemctl" waybill authorize-carrier "${WAYBILLS[@]}" \
  --key "$OUT/keys/producer-admin.key" --carrier "$CARRIER" \
  --until "$(TZ=Asia/Shanghai date -d '+30 days' +%F)"
printf 'The carrier submits the waybill; the answer carries its signed code (电子运单二维码):\n' >&2
run "$BIN/chemctl" waybill submit "${WAYBILLS[@]}" --key "$OUT/keys/carrier-dispatcher.key" \
  --json "$OUT/waybill.json" --qr "$OUT/waybill-qr.png" | tee "$OUT/waybill-submit.txt"
WAYBILL_CODE="$(sed -n 's/^waybill code: //p' "$OUT/waybill-submit.txt")"
printf 'At the roadside, offline: the inspector scans the QR on the paper copy:\n' >&2
run "$BIN/chemscan" verify --trust-list "$OUT/trust-list.txt" --trust-root "$TRUST_ROOT" \
  "$OUT/waybill-qr.png"
printf 'At the roadside, online: the inspector'"'"'s phone opens the code (crew numbers masked):\n' >&2
scan_page "$WAYBILL_CODE" waybill
printf 'A waybill code with one signature character changed fails:\n' >&2
LAST="${WAYBILL_CODE: -1}"; [[ "$LAST" == "A" ]] && SWAP=B || SWAP=A
run "$BIN/chemscan" verify --trust-list "$OUT/trust-list.txt" --trust-root "$TRUST_ROOT" \
  "${WAYBILL_CODE:0:${#WAYBILL_CODE}-1}$SWAP" || true
printf 'A second open waybill for the same packages is refused:\n' >&2
sed 's/-0001"/-0002"/' "$OUT/waybill.json" >"$OUT/waybill-2.json"
run "$BIN/chemctl" waybill submit "${WAYBILLS[@]}" --key "$OUT/keys/carrier-dispatcher.key" \
  --json "$OUT/waybill-2.json" || true
run "${EV[@]}" --step shipping --waybill "$WAYBILL" --consignee "$CONSIGNEE" --time "$(t 11)" "$C.7" "$C.8"
run "$BIN/chemctl" waybill depart "${WAYBILLS[@]}" --key "$OUT/keys/carrier-dispatcher.key" "$WAYBILL"
printf 'Receipt by an enterprise the goods were not consigned to is refused:\n' >&2
run "${EV[@]}" --step receiving --time "$(t 12)" "$C.7" || true
run "$BIN/chemctl" waybill arrive "${WAYBILLS[@]}" --key "$OUT/keys/carrier-dispatcher.key" "$WAYBILL"
run "$BIN/chemctl" event record "${LEDGER[@]}" --key "$OUT/keys/consignee-admin.key" \
  --enterprise "$CONSIGNEE" --site "warehouse 1" --step receiving --time "$(t 13)" "$C.7" "$C.8"
run "$BIN/chemctl" waybill show "${WAYBILLS[@]}" --key "$OUT/keys/consignee-admin.key" "$WAYBILL" \
  | grep -E '"(status|shipped|received)"|"[0-9A-Z]{18}\.M01' || true

step "13. The regulator's check: histories, hash chains, and inclusion proofs against the signed checkpoint"
run "$BIN/chemctl" event history "${LEDGER[@]}" --key "$OUT/keys/admin.key" --verify \
  --trust-root "$TRUST_ROOT" "$C.1"
run "$BIN/chemctl" event history "${LEDGER[@]}" --key "$OUT/keys/admin.key" --verify \
  --trust-root "$TRUST_ROOT" "$C.3"
run "$BIN/chemctl" event history "${LEDGER[@]}" --key "$OUT/keys/admin.key" --verify \
  --trust-root "$TRUST_ROOT" "$C.7"

step "14. Evidence to hand over: package 7's history as a bundle, verified offline, and as GS1 EPCIS 2.0"
run "$BIN/chemaudit" history "$C.7" "${AUDIT[@]}" --key "$OUT/keys/admin.key" \
  --out "$OUT/package7.bundle"
run "$BIN/chemaudit" verify "$OUT/package7.bundle" --note-key "$OUT/data/note.vkey" --code "$C.7"
run "$BIN/chemaudit" epcis "$OUT/package7.bundle" --note-key "$OUT/data/note.vkey" \
  --out "$OUT/package7.epcis.jsonld"

step "15. The regulator's books: 流向登记与统计 (every kilogram accounted for) and the anomaly list"
run "$BIN/chemaudit" reconcile "${AUDIT[@]}" --key "$OUT/keys/admin.key"
# The refused attempts above were recorded in the log by the server, after
# it answered them.
sleep 1
run "$BIN/chemaudit" anomalies "${AUDIT[@]}" --key "$OUT/keys/admin.key"
printf 'The producer'"'"'s events with their proofs and its books, as one file checked offline:\n' >&2
run "$BIN/chemaudit" export "${AUDIT[@]}" --key "$OUT/keys/admin.key" --enterprise "$USCC" \
  --reconcile --out "$OUT/producer.bundle"
run "$BIN/chemaudit" verify "$OUT/producer.bundle" --note-key "$OUT/data/note.vkey"
run "$BIN/chemaudit" transit "${AUDIT[@]}" --key "$OUT/keys/admin.key"

printf '\nLabel images and URLs: %s (printable labels in %s/printable)\nDeployment data: %s/data\n' \
  "$OUT/labels" "$OUT/labels" "$OUT"
if [[ "$WALK_ONLY" == "--walk-only" ]]; then
  exit 0
fi
if [[ -n "$CLUSTER" ]]; then
  printf '\nThe cluster keeps serving (Ctrl-C stops it): %s/cluster/cluster.env says where;\n' "$OUT"
  printf 'its logs are in %s/cluster. The scan pages: %s (the development CA: %s)\n' "$OUT" "$SCAN_PAGES" "$TLS_CA"
  trap - EXIT
  trap 'bash "$HERE/../cluster/cluster.sh" stop "$OUT/cluster"; exit 0' INT TERM
  while true; do sleep 3600; done
fi
printf '\nchemledgerd keeps serving on %s, scan pages on %s (Ctrl-C stops it). Try:\n' "$SERVER" "$SCAN_PAGES"
printf '  open %s/blacklist, or a label: %s/%s\n' "$SCAN_PAGES" "$SCAN_PAGES" "$(head -1 "$OUT/labels/urls.txt" | cut -d/ -f4-)"
printf '  %s/chemctl registry product show %s --key %s/keys/admin.key --server %s\n' "$BIN" "$USCC" "$OUT" "$SERVER"
printf '  the regulator console: %s/chemaudit login --console %s --key %s/keys/admin.key --note-key %s/data/note.vkey\n' \
  "$BIN" "$SCAN_PAGES" "$OUT" "$OUT"
printf '    and open the address it prints in a browser on this machine (docs/console.md)\n'
trap - EXIT
trap 'kill "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null; exit 0' INT TERM
wait "$SERVER_PID"
