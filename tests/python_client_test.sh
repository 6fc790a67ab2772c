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

"$CHEMCTL" keygen --out "$W/admin.key" >/dev/null
"$CHEMCTL" keygen --out "$W/producer.key" >/dev/null
"$CHEMLEDGERD" init --data "$W/data" --deployment py.test --resolver CL.EXAMPLE.CN \
  --admin-key "$W/admin.key" >/dev/null
"$CHEMLEDGERD" serve --data "$W/data" --listen 127.0.0.1:0 --port-file "$W/port" >/dev/null &
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
