#!/usr/bin/env bash
# A client in another language: Python (Debian's python3-grpcio, -protobuf,
# -nacl) signs and records events against a real chemledgerd, and reads them
# back with signed read credentials.
set -euo pipefail
ROOT="$TEST_SRCDIR/$TEST_WORKSPACE"
CHEMCTL="$ROOT/tools/chemctl/chemctl"
CHEMLEDGERD="$ROOT/services/chemledgerd/chemledgerd"
W="$TEST_TMPDIR/py"
rm -rf "$W" && mkdir -p "$W/stubs"
USCC=91350100M000100Y43

protoc -I"$ROOT/proto" -I/usr/include --python_out="$W/stubs" --grpc_python_out="$W/stubs" \
  --plugin=protoc-gen-grpc_python="$(command -v grpc_python_plugin)" "$ROOT"/proto/chemledger/v1/*.proto
touch "$W/stubs/chemledger/__init__.py" "$W/stubs/chemledger/v1/__init__.py"
protoc -I"$ROOT/tests/protos" --python_out="$W/stubs" --grpc_python_out="$W/stubs" \
  --plugin=protoc-gen-grpc_python="$(command -v grpc_python_plugin)" \
  "$ROOT/tests/protos/health/v1/health.proto" \
  "$ROOT/tests/protos/reflection/v1alpha/reflection.proto"

"$CHEMCTL" keygen --unsealed --out "$W/admin.key" >/dev/null
"$CHEMCTL" keygen --unsealed --out "$W/producer.key" >/dev/null
"$CHEMLEDGERD" init --data "$W/data" --deployment py.test --resolver CL.EXAMPLE.CN \
  --admin-key "$W/admin.key" >/dev/null
"$CHEMLEDGERD" serve --data "$W/data" --listen 127.0.0.1:0 --plaintext --port-file "$W/port" --http-listen none --grpc-reflection on >/dev/null &
SERVER_PID=$!
trap 'kill $SERVER_PID 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do [[ -s "$W/port" ]] && break; sleep 0.1; done
S="127.0.0.1:$(cat "$W/port")"
YEAR="$(date +%Y)"
sed "s/@FROM_YEAR@/$((YEAR - 1))/g; s/@UNTIL_YEAR@/$((YEAR + 2))/g" \
  "$ROOT/tools/demo/enterprise.template.json" >"$W/enterprise.json"
"$CHEMCTL" registry enterprise add --server "$S" --key "$W/admin.key" --json "$W/enterprise.json" >/dev/null
"$CHEMCTL" registry actor add --server "$S" --key "$W/admin.key" --name "line" \
  --role enterprise_admin --enterprise "$USCC" --public-key-file "$W/producer.key.pub" >/dev/null
"$CHEMCTL" registry product add --server "$S" --key "$W/producer.key" \
  --json "$ROOT/tools/demo/product.json" >/dev/null
"$CHEMCTL" label issue --server "$S" --key "$W/producer.key" --enterprise "$USCC" --product M01 \
  --batch PY1 --production-date "$(TZ=Asia/Shanghai date -d yesterday +%F)" --count 3 \
  --quantity 25 --unit KGM --out "$W/urls.txt" 2>/dev/null

/usr/bin/python3 -c 'import sys; sys.path.insert(0, sys.argv[1]); import chemledger_client' \
  "$ROOT/tools/python"
PYTHONPATH="$ROOT/tools/python" /usr/bin/python3 "$ROOT/tests/python_client_e2e.py" "$W/stubs" "$S" \
  "$W/producer.key" "$USCC" "$USCC.M01.PY1.1" "$USCC.M01.PY1.2" "$USCC.M01.PY1.3"

# E-waybills from Python (docs/waybills.md's worked example): a carrier and a
# consignee join; the carrier streams three waybills twice.
"$CHEMCTL" keygen --unsealed --out "$W/carrier.key" >/dev/null
CARRIER=91110105M000100Y4D
CONSIGNEE=91330200M000100Y40
cat >"$W/carrier.json" <<JSON
{"uscc": "$CARRIER", "name": "示例危险货物运输有限公司", "region_code": "110105",
 "address": "北京市朝阳区示例路2号", "roles": ["CARRIER"],
 "licences": [{"type": "ROAD_TRANSPORT", "number": "京交运管许可京字110105000001号",
   "valid_from": {"year": $((YEAR - 1)), "month": 1, "day": 1},
   "valid_until": {"year": $((YEAR + 2)), "month": 12, "day": 31}}]}
JSON
cat >"$W/consignee.json" <<JSON
{"uscc": "$CONSIGNEE", "name": "宁波示例材料有限公司", "region_code": "330200",
 "address": "宁波市示例园区1号", "roles": ["USER"]}
JSON
"$CHEMCTL" registry enterprise add --server "$S" --key "$W/admin.key" --json "$W/carrier.json" >/dev/null
"$CHEMCTL" registry enterprise add --server "$S" --key "$W/admin.key" --json "$W/consignee.json" >/dev/null
"$CHEMCTL" registry actor add --server "$S" --key "$W/admin.key" --name "dispatch" \
  --role enterprise_operator --enterprise "$CARRIER" --public-key-file "$W/carrier.key.pub" >/dev/null
"$CHEMCTL" label issue --server "$S" --key "$W/producer.key" --enterprise "$USCC" --product M01 \
  --batch PYWB --production-date "$(TZ=Asia/Shanghai date -d yesterday +%F)" --count 2 \
  --quantity 25 --unit KGM --out "$W/wb-urls.txt" 2>/dev/null
"$CHEMCTL" event record --server "$S" --key "$W/producer.key" --enterprise "$USCC" \
  --step commissioning --time "$(TZ=Asia/Shanghai date -d '-1 minute' +%Y-%m-%dT%H:%M:%S+08:00)" \
  "$USCC.M01.PYWB.1" "$USCC.M01.PYWB.2" >/dev/null
# The consignor lets this carrier's waybills open at once.
"$CHEMCTL" waybill authorize-carrier --server "$S" --key "$W/producer.key" --carrier "$CARRIER" \
  --until "$(TZ=Asia/Shanghai date -d '+30 days' +%F)" >/dev/null
/usr/bin/python3 "$ROOT/tools/python/waybill_example.py" "$W/stubs" "$S" "$W/carrier.key" \
  "$CARRIER" "$USCC" "$CONSIGNEE" "$USCC.M01.PYWB.1" "$USCC.M01.PYWB.2" >"$W/waybills.txt"
cat "$W/waybills.txt"
fail() { echo "FAIL: $*"; exit 1; }
grep -q '^first PY-WB-1 accepted at log index [0-9]*$' "$W/waybills.txt" || fail "PY-WB-1 not accepted"
grep -q '^first PY-WB-2 refused (3): waybill.vehicle.plate' "$W/waybills.txt" || fail "bad plate not refused"
grep -q '^first PY-WB-3 refused (9): .*cannot be listed: .*on no other open waybill' "$W/waybills.txt" ||
  fail "second open waybill not refused"
grep -q '^again PY-WB-1 accepted at log index [0-9]* (replayed)$' "$W/waybills.txt" || fail "retry not replayed"
[[ "$(grep -c '^again .* refused' "$W/waybills.txt")" == 2 ]] || fail "retry results differ"
echo "PASS: waybills from Python"
