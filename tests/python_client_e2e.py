"""Records events from Python against a real chemledgerd (tests/python_client_test.sh).

Usage: python_client_e2e.py STUBS_DIR SERVER KEY_FILE ENTERPRISE CODE...
Exits non-zero with a message on the first failed check.
"""

import sys
import time

sys.path.insert(0, sys.argv[1])

import grpc  # noqa: E402

import chemledger_client as cl  # noqa: E402
from chemledger.v1 import (  # noqa: E402
    ledger_pb2, ledger_service_pb2, ledger_service_pb2_grpc, log_pb2, registry_service_pb2,
    registry_service_pb2_grpc)


def check(ok, what):
    if not ok:
        print("FAIL:", what)
        sys.exit(1)


def main():
    _, _, server, key_path, enterprise, *codes = sys.argv
    key = cl.load_key(key_path)
    channel = grpc.insecure_channel(server)
    stub = ledger_service_pb2_grpc.LedgerServiceStub(channel)
    origin = cl.deployment_origin(channel, registry_service_pb2, registry_service_pb2_grpc)
    now = int(time.time()) - 60

    def event(event_id, step, seconds, deployment=origin):
        # Named for this deployment (field 30): no other deployment takes it.
        return ledger_pb2.Event(
            event_id=event_id, step=step, codes=codes, event_time={"seconds": seconds},
            event_time_offset_minutes=480,
            location=ledger_pb2.Location(enterprise_uscc=enterprise, site="python line"),
            deployment=deployment)

    receipts = []
    for i, step in enumerate([ledger_pb2.COMMISSIONING, ledger_pb2.STORING]):
        e = event(f"py-{i}", step, now + i)
        envelope = cl.sign_envelope(log_pb2, cl.EVENT_CONTEXT, e.SerializeToString(), key)
        receipts.append(stub.Append(envelope))
    check(receipts[1].log_index == receipts[0].log_index + 1, "two consecutive log entries")

    # The same bytes again: the original receipt.
    e = event("py-1", ledger_pb2.STORING, now + 1)
    again = stub.Append(cl.sign_envelope(log_pb2, cl.EVENT_CONTEXT, e.SerializeToString(), key))
    check(again.replayed and again.log_index == receipts[1].log_index, "retry returns the receipt")

    # A signature over other bytes is refused.
    e = event("py-2", ledger_pb2.STORING, now + 2)
    envelope = cl.sign_envelope(log_pb2, cl.EVENT_CONTEXT, e.SerializeToString(), key)
    envelope.payload = envelope.payload.replace(b"python line", b"python lane")
    try:
        stub.Append(envelope)
        check(False, "a tampered event was accepted")
    except grpc.RpcError as err:
        check(err.code() == grpc.StatusCode.UNAUTHENTICATED, f"tampered: {err.code()}")

    # An event signed for another deployment is refused, naming both.
    e = event("py-3", ledger_pb2.STORING, now + 3, deployment="chemledger.elsewhere")
    try:
        stub.Append(cl.sign_envelope(log_pb2, cl.EVENT_CONTEXT, e.SerializeToString(), key))
        check(False, "an event for another deployment was accepted")
    except grpc.RpcError as err:
        check(err.code() == grpc.StatusCode.UNAUTHENTICATED
              and 'signed for deployment "chemledger.elsewhere"' in err.details(),
              f"another deployment's: {err.code()} {err.details()}")

    # Reads: refused without credentials, answered with them.
    request = ledger_service_pb2.GetHistoryRequest(code=codes[0])
    try:
        stub.GetHistory(request)
        check(False, "an anonymous history read was answered")
    except grpc.RpcError as err:
        check(err.code() == grpc.StatusCode.UNAUTHENTICATED, f"anonymous read: {err.code()}")
    method = "/chemledger.v1.LedgerService/GetHistory"
    history = cl.signed_read(channel, origin, method, request, ledger_service_pb2.History, key)
    # Credentials are good once, for their request only.
    request_bytes = request.SerializeToString()
    metadata = cl.read_metadata(origin, method, request_bytes, key)
    raw = channel.unary_unary(method, request_serializer=None,
                              response_deserializer=ledger_service_pb2.History.FromString)
    check(len(raw(request_bytes, metadata=metadata).events) == 2, "a raw signed read")
    # A replay; and fresh credentials for this request sent with another.
    for what, sent, with_metadata in (
            ("a replay", request_bytes, metadata),
            ("another request",
             ledger_service_pb2.GetHistoryRequest(code=codes[1]).SerializeToString(),
             cl.read_metadata(origin, method, request_bytes, key))):
        try:
            raw(sent, metadata=with_metadata)
            check(False, f"{what} was answered")
        except grpc.RpcError as err:
            check(err.code() == grpc.StatusCode.UNAUTHENTICATED, f"{what}: {err.code()}")
    check(len(history.events) == 2, f"two events in the history, got {len(history.events)}")
    check(history.events[1].entry.envelope == envelope.__class__.FromString(
        cl.sign_envelope(log_pb2, cl.EVENT_CONTEXT,
                         event("py-1", ledger_pb2.STORING, now + 1).SerializeToString(),
                         key).SerializeToString()),
          "the log holds the envelope exactly as sent")
    links = ledger_pb2.EventLinks.FromString(history.events[1].entry.assignment)
    link = [l for l in links.links if l.code == codes[0]][0]
    check(link.previous_event_hash == history.events[0].event_hash, "the chain links")
    # The leaf hash from the entry's exact bytes, without re-serializing.
    import hashlib
    for record in history.events:
        check(not record.redacted, "the enterprise's own events are whole")
        check(hashlib.sha256(b"\x00" + record.entry_bytes).digest() == record.event_hash,
              f"entry {record.log_index}: SHA-256(0x00 || entry_bytes) is its event_hash")
    # Health checking and server reflection, as grpcurl and grpc_cli use them.
    from health.v1 import health_pb2, health_pb2_grpc
    from reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
    channel = grpc.insecure_channel(server)
    health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
    check(health.status == health_pb2.HealthCheckResponse.SERVING, f"health: {health.status}")
    replies = reflection_pb2_grpc.ServerReflectionStub(channel).ServerReflectionInfo(
        iter([reflection_pb2.ServerReflectionRequest(list_services="")]))
    services = {s.name for r in replies for s in r.list_services_response.service}
    for name in ("chemledger.v1.RegistryService", "chemledger.v1.LabelService",
                 "chemledger.v1.LedgerService"):
        check(name in services, f"reflection does not list {name}: {sorted(services)}")
    print("PASS: python client recorded and read", len(codes), "codes; health and reflection answer")


if __name__ == "__main__":
    main()
