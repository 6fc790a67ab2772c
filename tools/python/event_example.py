"""Prints the worked example of docs/events.md: one event, signed, byte by byte.

Run: /usr/bin/python3 tools/python/event_example.py STUBS_DIR
"""

import base64
import sys

sys.path.insert(0, sys.argv[1])
sys.path.insert(0, __file__.rsplit("/", 1)[0])

import nacl.signing  # noqa: E402

import chemledger_client as cl  # noqa: E402
from chemledger.v1 import ledger_pb2, log_pb2  # noqa: E402

key = nacl.signing.SigningKey(bytes([1]) * 32)
event = ledger_pb2.Event(
    event_id="ev-2026-11-23-0001",
    step=ledger_pb2.STORING,
    codes=["91350100M000100Y43.M01.B20261123.1"],
    event_time={"seconds": 1795395600},  # 2026-11-23T09:00:00+08:00
    event_time_offset_minutes=480,
    location=ledger_pb2.Location(enterprise_uscc="91350100M000100Y43", site="tank farm, bay 2"),
    deployment="chemledger.example",  # Deployment.checkpoint_origin, from GetDeployment
)
payload = event.SerializeToString()
envelope = cl.sign_envelope(log_pb2, cl.EVENT_CONTEXT, payload, key)
print("public key (base64):", base64.b64encode(bytes(key.verify_key)).decode())
print("key id:", cl.key_id(bytes(key.verify_key)))
print("payload (hex):", payload.hex())
print("PAE (as text, payload shown as <payload>):",
      cl.pae(cl.EVENT_CONTEXT, b"<payload>").decode().replace("9 <payload>", f"{len(payload)} <payload>"))
print("signature (base64):", base64.b64encode(envelope.signatures[0].sig).decode())
