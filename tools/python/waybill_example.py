"""Pushes e-waybills to ChemLedger from Python: docs/waybills.md's worked example.

Usage: /usr/bin/python3 waybill_example.py STUBS_DIR SERVER CARRIER_KEY CARRIER CONSIGNOR CONSIGNEE CODE...

Streams three waybills for CODE... (the second has a bad plate, the third
lists a code the first already carries), prints one line per result, then
sends the same stream again: the results are the same, nothing new is written.
"""

import sys
import time

sys.path.insert(0, sys.argv[1])
sys.path.insert(0, __file__.rsplit("/", 1)[0])

import grpc  # noqa: E402

import chemledger_client as cl  # noqa: E402
from chemledger.v1 import (  # noqa: E402
    log_pb2, registry_service_pb2, registry_service_pb2_grpc, waybill_pb2, waybill_service_pb2_grpc)

WAYBILL_CONTEXT = "application/vnd.chemledger.waybill.v1+protobuf"


def waybill(number, carrier, consignor, consignee, codes):
    now = int(time.time())
    return waybill_pb2.Waybill(
        waybill_number=number,
        carrier_uscc=carrier, carrier_name="示例危险货物运输有限公司",
        carrier_licence="京交运管许可京字110105000001号",
        consignor=waybill_pb2.WaybillParty(uscc=consignor, name="福州示例化工有限公司", phone="0591-87654321"),
        consignee=waybill_pb2.WaybillParty(uscc=consignee, name="宁波示例材料有限公司", phone="0574-12345678"),
        loader=waybill_pb2.WaybillParty(uscc=consignor, name="福州示例化工有限公司", phone="0591-87654321"),
        origin=waybill_pb2.WaybillPlace(region_code=consignor[2:8], address="示例工业区1号"),
        destination=waybill_pb2.WaybillPlace(region_code=consignee[2:8], address="示例园区1号"),
        planned_departure={"seconds": now}, planned_arrival={"seconds": now + 8 * 3600},
        vehicle=waybill_pb2.Vehicle(plate="闽A12345", plate_colour=waybill_pb2.YELLOW,
                                    transport_certificate="闽交运管榕字350100123456号"),
        driver=waybill_pb2.CrewMember(name="张三", qualification_number="350102198001011233",
                                      phone="13800000001"),
        escort=waybill_pb2.CrewMember(name="李四", qualification_number="350102198502021237",
                                      phone="13800000002"),
        goods=[waybill_pb2.GoodsLine(
            un_number="1230", proper_shipping_name="甲醇 METHANOL", hazard_class="3",
            packing_group="II", packaging="25 kg drums", quantity_milli=25000 * len(codes),
            unit="KGM", codes=codes)],
        emergency_phone="0591-87654321")


def signed(key, request_id, w, origin):
    # Named for the deployment it is sent to (Deployment.checkpoint_origin):
    # no other deployment where the key is registered takes it. Not recorded
    # after ten minutes from now (rules epoch 15); a retry of one recorded in
    # time is still answered with its receipt.
    request = waybill_pb2.WaybillRequest(request_id=request_id, submit=w, deployment=origin,
                                         expires_unix_seconds=int(time.time()) + 600)
    return cl.sign_envelope(log_pb2, WAYBILL_CONTEXT, request.SerializeToString(), key)


def main():
    _, _, server, key_path, carrier, consignor, consignee, *codes = sys.argv
    key = cl.load_key(key_path)
    channel = grpc.insecure_channel(server)
    stub = waybill_service_pb2_grpc.WaybillServiceStub(channel)
    origin = cl.deployment_origin(channel, registry_service_pb2, registry_service_pb2_grpc)
    bad_plate = waybill("PY-WB-2", carrier, consignor, consignee, codes[-1:])
    bad_plate.vehicle.plate = "FJ-12345"
    requests = [
        signed(key, "py-wb-1", waybill("PY-WB-1", carrier, consignor, consignee, codes[:-1]), origin),
        signed(key, "py-wb-2", bad_plate, origin),
        signed(key, "py-wb-3", waybill("PY-WB-3", carrier, consignor, consignee, codes[:1]), origin),
    ]
    for attempt in ("first", "again"):
        # A stream opens with the carrier's credentials for SubmitStream.
        metadata = cl.read_metadata(origin, "/chemledger.v1.WaybillService/SubmitStream", b"", key)
        # Read the stream to its end (its status), so it is closed before the
        # next opens: an actor holds one waybill stream at a time.
        results = list(stub.SubmitStream(iter(requests), metadata=metadata, timeout=60))
        for request, result in zip(requests, results):
            number = waybill_pb2.WaybillRequest.FromString(request.payload).submit.waybill_number
            if result.code == 0:
                print(f"{attempt} {number} accepted at log index {result.log_index}"
                      f"{' (replayed)' if result.replayed else ''}")
            else:
                print(f"{attempt} {number} refused ({result.code}): "
                      f"{result.message}")


if __name__ == "__main__":
    main()
