"""C++ (and gRPC) code generation from .proto files with Debian's protoc.

Bazel 4.2.3 offline cannot fetch the protobuf and gRPC Bazel rules, so this
macro runs the system `protoc` with `grpc_cpp_plugin` in a genrule and wraps the
outputs in a cc_library.

Protos live under proto/ and import each other as "chemledger/v1/<file>.proto";
generated headers are included the same way: #include "chemledger/v1/log.pb.h".

    cc_grpc_proto(
        name = "ledger_cc_proto",
        src = "ledger.proto",
        deps = [":common_cc_proto"],   # other cc_grpc_proto targets it imports
    )

Each call also defines `<name>_srcs`, a filegroup of the .proto and everything
it imports, for the targets that depend on it.
"""

_PROTO_ROOT = "proto"

def _strip_proto(src):
    if not src.endswith(".proto"):
        fail("cc_grpc_proto: src must be a .proto file: " + src)
    return src[:-len(".proto")]

def cc_grpc_proto(name, src, deps = [], grpc = True, visibility = None):
    base = _strip_proto(src)
    outs = [base + ".pb.h", base + ".pb.cc"]
    if grpc:
        outs += [base + ".grpc.pb.h", base + ".grpc.pb.cc"]

    native.filegroup(
        name = name + "_srcs",
        srcs = [src] + [d + "_srcs" for d in deps],
        visibility = visibility,
    )

    pkg = native.package_name()
    if not pkg.startswith(_PROTO_ROOT + "/"):
        fail("cc_grpc_proto must be used in a package under proto/")

    grpc_flags = ""
    if grpc:
        grpc_flags = ("--plugin=protoc-gen-grpc=$$(command -v grpc_cpp_plugin) " +
                      "--grpc_out=$(GENDIR)/" + _PROTO_ROOT + " ")

    native.genrule(
        name = name + "_gen",
        srcs = [":" + name + "_srcs"],
        outs = outs,
        cmd = ("protoc -I" + _PROTO_ROOT + " -I/usr/include " +
               "--cpp_out=$(GENDIR)/" + _PROTO_ROOT + " " + grpc_flags +
               pkg[len(_PROTO_ROOT) + 1:] + "/" + src),
        message = "protoc " + pkg + "/" + src,
    )

    # Generated headers are included relative to proto/.
    native.cc_library(
        name = name,
        srcs = [o for o in outs if o.endswith(".cc")],
        hdrs = [o for o in outs if o.endswith(".h")],
        strip_include_prefix = "/" + _PROTO_ROOT,
        deps = deps + ["@system//:grpc"],
        visibility = visibility,
    )
