// Refusing a request that carries a field this server does not know.
//
// Protobuf parsers keep a field they do not know (a newer client's, or a
// known field number sent with another wire type) aside as an "unknown
// field" and go on: the message parses and the field is ignored. For a
// signed write request that would record something its signer asserted
// (a newer version's expiry, a limit, a condition) without any rule having
// read it; for a read, an answer to a question other than the one asked (a
// filter the server never applied). So a signed write request's payload, and
// an authenticated read's request, must consist of fields this server's
// schema has, each in a wire type its parser reads as that field; anything
// else is refused (InvalidArgument naming the field's path and number):
// by the rules, from rules epoch 17, for a signed write
// (services/registry/request_binding.h, CheckFieldsKnown), and before its
// handler for a read.
//
// The check reads the wire form against the message's descriptor, without
// parsing into a message: it allocates nothing for a request that passes.
//
// Thread-safety: stateless functions.

#ifndef CHEMLEDGER_SERVICES_COMMON_KNOWN_FIELDS_H_
#define CHEMLEDGER_SERVICES_COMMON_KNOWN_FIELDS_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"

namespace chemledger {

// OK when every field in `wire` (a serialized `type`), and in each message
// nested in it, is a field of its message type's schema sent in a wire type
// the parser reads as that field. Otherwise InvalidArgument, naming the
// field's path from `root` (e.g. "event.outputs[1]: field number 40 ...");
// InvalidArgument also when `wire` is not a well-formed message or nests
// deeper than the parser allows.
absl::Status CheckEveryFieldKnown(absl::string_view wire, const google::protobuf::Descriptor& type,
                                  absl::string_view root);

// The same for a request gRPC has already parsed (a server-streaming call's):
// the parser kept what it did not read as unknown fields, which serialize
// back as they came, so `parsed` is serialized and checked as above.
absl::Status CheckEveryFieldKnown(const google::protobuf::Message& parsed, absl::string_view root);

}  // namespace chemledger

#endif  // CHEMLEDGER_SERVICES_COMMON_KNOWN_FIELDS_H_
