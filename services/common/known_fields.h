// Refusing a request that carries a field this server does not know, or a
// field that holds one value more than once.
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
// A field that holds one value (a singular field, scalar or message) sent
// twice, or two fields of one oneof, is no error to a parser either: it
// keeps the last value (a message's are merged; of a oneof, the last member
// sent). A request is then a different request to a reader that takes the
// first, as a hand-written decoder, a log viewer or a signer's display may;
// what was signed must mean one thing to every reader. So, in the same
// places (from rules epoch 18 for a signed write), each such field may occur
// once and each oneof have one member; a repeated field (a map's included)
// may occur any number of times, packed or not.
//
// The check reads the wire form against the message's descriptor, without
// parsing into a message: it allocates nothing for a request that passes
// (unless a message sets more than 16 singular fields).
//
// Thread-safety: stateless functions.

#ifndef CHEMLEDGER_SERVICES_COMMON_KNOWN_FIELDS_H_
#define CHEMLEDGER_SERVICES_COMMON_KNOWN_FIELDS_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"

namespace chemledger {

// How often a field that holds one value may occur in the wire form.
enum class SingularFields {
  // Once, and one member of each oneof: a repeat is refused.
  kOnce,
  // Any number of times, taken as the parser takes them: only for a signed
  // write of a rules epoch before 18, whose rules took such requests.
  kAsParsed,
};

// OK when every field in `wire` (a serialized `type`), and in each message
// nested in it, is a field of its message type's schema sent in a wire type
// the parser reads as that field, and (kOnce) when no field that holds one
// value occurs twice and no oneof has two members. Otherwise
// InvalidArgument, naming the field's path from `root` (e.g.
// "event.outputs[1]: field number 40 ...", "event.event_time: sent twice
// ..."); InvalidArgument also when `wire` is not a well-formed message or
// nests deeper than the parser allows.
absl::Status CheckEveryFieldKnown(absl::string_view wire, const google::protobuf::Descriptor& type,
                                  absl::string_view root,
                                  SingularFields singular = SingularFields::kOnce);

// The same for a request gRPC has already parsed (a server-streaming call's):
// the parser kept what it did not read as unknown fields, which serialize
// back as they came, so `parsed` is serialized and checked as above. A
// repeat is not found here: the parser has already kept one value of it.
absl::Status CheckEveryFieldKnown(const google::protobuf::Message& parsed, absl::string_view root);

}  // namespace chemledger

#endif  // CHEMLEDGER_SERVICES_COMMON_KNOWN_FIELDS_H_
