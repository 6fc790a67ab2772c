"""A minimal ChemLedger client in Python: signs what it sends, as any client must.

Shows that nothing in the protocol needs ChemLedger's C++ code: a client
serializes its message with any Protobuf library, signs the DSSE
pre-authentication encoding of exactly those bytes with its Ed25519 key
(PyNaCl), and sends bytes, key id and signature in a SignedEnvelope
(docs/signatures.md, docs/events.md). Reads carry, in gRPC metadata, a
signature over the deployment's origin, the method, the time, a fresh nonce
and the SHA-256 of the request's bytes exactly as sent (read.v2): so the
request is serialized once, and those bytes are both signed and sent.

Needs Debian's python3-grpcio, python3-protobuf and python3-nacl (run it with
/usr/bin/python3) and stubs generated with
  protoc -Iproto --python_out=OUT --grpc_python_out=OUT \
      --plugin=protoc-gen-grpc_python=$(command -v grpc_python_plugin) proto/chemledger/v1/*.proto
on PYTHONPATH.
"""

import base64
import hashlib
import os
import time

import nacl.signing

EVENT_CONTEXT = "application/vnd.chemledger.event.v1+protobuf"
READ_CONTEXT = "application/vnd.chemledger.read.v2"


def pae(payload_type: str, body: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding."""
    t = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(body), body)


def key_id(public_key: bytes) -> str:
    """ChemLedger key id: SHA-256("chemledger key id v1" 0x00 0x01 key)[:8], hex."""
    return hashlib.sha256(b"chemledger key id v1\x00\x01" + public_key).digest()[:8].hex()


def load_key(path: str) -> nacl.signing.SigningKey:
    """Reads an unsealed private key file written by `chemctl keygen`."""
    fields = {}
    with open(path) as f:
        lines = f.read().splitlines()
    if not lines or lines[0] != "chemledger-ed25519-private-key v1":
        raise ValueError(f"{path}: not a ChemLedger private key file")
    for line in lines[1:]:
        name, _, value = line.partition(" ")
        fields[name] = value
    if "seed" not in fields:
        raise ValueError(f"{path}: sealed key files need the passphrase (use chemctl)")
    key = nacl.signing.SigningKey(base64.b64decode(fields["seed"]))
    if key_id(bytes(key.verify_key)) != fields.get("key-id"):
        raise ValueError(f"{path}: key id does not match the seed")
    return key


def sign_envelope(log_pb2, payload_type: str, payload: bytes, key: nacl.signing.SigningKey):
    """A chemledger.v1.SignedEnvelope of `payload`, signed by `key`."""
    envelope = log_pb2.SignedEnvelope(payload_type=payload_type, payload=payload)
    signature = key.sign(pae(payload_type, payload)).signature
    envelope.signatures.add(key_id=key_id(bytes(key.verify_key)), sig=signature)
    return envelope


def read_metadata(origin: str, method: str, request_bytes: bytes, key: nacl.signing.SigningKey,
                  now=None, nonce=None):
    """gRPC metadata proving which actor sends `request_bytes` to `method` (a
    full method name) of the deployment `origin` (Deployment.checkpoint_origin).
    Good for one call: the server refuses the same nonce twice. A stream is
    opened with the metadata of empty request bytes."""
    seconds = str(int(now if now is not None else time.time()))
    nonce = nonce if nonce is not None else os.urandom(16).hex()
    body = "\n".join([origin, method, seconds, nonce,
                      hashlib.sha256(request_bytes).hexdigest()]).encode()
    signature = key.sign(pae(READ_CONTEXT, body)).signature
    return (("chemledger-key-id", key_id(bytes(key.verify_key))),
            ("chemledger-time", seconds),
            ("chemledger-nonce", nonce),
            ("chemledger-signature-bin", signature))


def deployment_origin(channel, registry_service_pb2, registry_service_pb2_grpc) -> str:
    """The origin read credentials are bound to, as the server names it."""
    stub = registry_service_pb2_grpc.RegistryServiceStub(channel)
    # Every call has a deadline: a server that does not answer fails it.
    return stub.GetDeployment(registry_service_pb2.GetDeploymentRequest(),
                              timeout=10).checkpoint_origin


def signed_read(channel, origin: str, method: str, request, response_class,
                key: nacl.signing.SigningKey):
    """Calls the read `method` with `request`: serializes it once, signs those
    bytes and sends exactly them (a call without a request serializer)."""
    request_bytes = request.SerializeToString()
    call = channel.unary_unary(method, request_serializer=None,
                               response_deserializer=response_class.FromString)
    return call(request_bytes, metadata=read_metadata(origin, method, request_bytes, key),
                timeout=10)
