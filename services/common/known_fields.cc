#include "services/common/known_fields.h"

#include <cstdint>
#include <string>
#include <utility>

#include "absl/container/inlined_vector.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/wire_format_lite.h"

namespace chemledger {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::io::CodedInputStream;
using google::protobuf::internal::WireFormatLite;

// Protobuf's own default recursion limit: a message nested deeper does not
// parse.
constexpr int kMaxDepth = 100;

constexpr char kTakenWhole[] =
    "a request is taken whole or not at all, never with a field left unread; leave the field "
    "out, or send the request to a server of a version that knows it";

// Where the walk is: each message's field name (and index, for a repeated
// one) from the root, built into a path only when something is refused.
struct Frame {
  const Frame* parent;
  absl::string_view name;
  int index;  // -1 for a singular field or the root
};

std::string PathOf(const Frame& frame) {
  std::string path = frame.parent == nullptr ? "" : PathOf(*frame.parent) + ".";
  absl::StrAppend(&path, frame.name);
  if (frame.index >= 0) absl::StrAppend(&path, "[", frame.index, "]");
  return path;
}

absl::string_view WireTypeName(WireFormatLite::WireType type) {
  switch (type) {
    case WireFormatLite::WIRETYPE_VARINT:
      return "a varint";
    case WireFormatLite::WIRETYPE_FIXED64:
      return "64 fixed bits";
    case WireFormatLite::WIRETYPE_LENGTH_DELIMITED:
      return "length-delimited bytes";
    case WireFormatLite::WIRETYPE_START_GROUP:
    case WireFormatLite::WIRETYPE_END_GROUP:
      return "a group";
    case WireFormatLite::WIRETYPE_FIXED32:
      return "32 fixed bits";
  }
  return "an unknown wire type";
}

WireFormatLite::WireType WireTypeOf(const FieldDescriptor& field) {
  return WireFormatLite::WireTypeForFieldType(
      static_cast<WireFormatLite::FieldType>(field.type()));
}

// Whether the parser reads a value sent as `type` into `field` (rather than
// keeping it aside as an unknown field).
bool ReadAsField(const FieldDescriptor& field, WireFormatLite::WireType type) {
  if (type == WireTypeOf(field)) return true;
  // A repeated scalar may come packed, or not, whichever its declaration.
  return field.is_packable() && type == WireFormatLite::WIRETYPE_LENGTH_DELIMITED;
}

absl::Status Malformed(const Frame& at, const Descriptor& type) {
  return absl::InvalidArgumentError(
      absl::StrCat(PathOf(at), ": not a well-formed ", type.full_name()));
}

constexpr char kMeansOneThing[] =
    "a signed request must mean one thing to every reader, and a parser keeps the last of such "
    "fields (merging messages) where another reader may take the first; send it once";

// Refused when `field` holds one value and was sent before in this message,
// or is of a oneof another member of which was; else noted as sent.
absl::Status CheckSentOnce(const FieldDescriptor& field, const Frame& at,
                           absl::InlinedVector<const FieldDescriptor*, 16>& sent) {
  if (field.is_repeated()) return absl::OkStatus();
  const google::protobuf::OneofDescriptor* oneof = field.real_containing_oneof();
  for (const FieldDescriptor* before : sent) {
    if (before == &field) {
      const Frame here{&at, field.name(), -1};
      return absl::InvalidArgumentError(absl::StrCat(PathOf(here),
                                                     ": sent twice; it holds one value (a ",
                                                     field.type_name(), "): ", kMeansOneThing));
    }
    if (oneof != nullptr && before->real_containing_oneof() == oneof) {
      const Frame here{&at, field.name(), -1};
      return absl::InvalidArgumentError(
          absl::StrCat(PathOf(here), ": sent with ", before->name(), ", another member of oneof ",
                       oneof->name(), ", which holds one of them: ", kMeansOneThing));
    }
  }
  sent.push_back(&field);
  return absl::OkStatus();
}

// Walks the fields up to the stream's current limit.
absl::Status Walk(CodedInputStream& in, const Descriptor& type, const Frame& at, int depth,
                  SingularFields singular) {
  if (depth > kMaxDepth) {
    return absl::InvalidArgumentError(
        absl::StrCat(PathOf(at), ": nests more than ", kMaxDepth, " messages deep"));
  }
  // Occurrences so far of each repeated message field, for the path's index.
  absl::InlinedVector<std::pair<int, int>, 4> occurrences;
  // The singular fields sent so far (kOnce).
  absl::InlinedVector<const FieldDescriptor*, 16> sent;
  while (in.BytesUntilLimit() > 0) {
    const uint32_t tag = in.ReadTag();
    if (tag == 0) return Malformed(at, type);
    const int number = WireFormatLite::GetTagFieldNumber(tag);
    const WireFormatLite::WireType wire_type = WireFormatLite::GetTagWireType(tag);
    const FieldDescriptor* field = type.FindFieldByNumber(number);
    if (field == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          PathOf(at), ": field number ", number, " (sent as ", WireTypeName(wire_type),
          ") is not a field of ", type.full_name(), " in this server's schema: ", kTakenWhole));
    }
    if (!ReadAsField(*field, wire_type)) {
      const Frame here{&at, field->name(), -1};
      return absl::InvalidArgumentError(absl::StrCat(
          PathOf(here), ": sent as ", WireTypeName(wire_type), ", which this server's parser does not "
          "read as this field (a ", field->type_name(), ", sent as ", WireTypeName(WireTypeOf(*field)),
          "): ", kTakenWhole));
    }
    if (singular == SingularFields::kOnce) {
      if (absl::Status s = CheckSentOnce(*field, at, sent); !s.ok()) return s;
    }
    if (field->type() != FieldDescriptor::TYPE_MESSAGE) {
      if (!WireFormatLite::SkipField(&in, tag)) return Malformed(at, type);
      continue;
    }
    int index = -1;
    if (field->is_repeated()) {
      auto counted = occurrences.begin();
      while (counted != occurrences.end() && counted->first != number) ++counted;
      if (counted == occurrences.end()) {
        occurrences.emplace_back(number, 0);
        counted = occurrences.end() - 1;
      }
      index = counted->second++;
    }
    const Frame inside{&at, field->name(), index};
    uint32_t length = 0;
    if (!in.ReadVarint32(&length) || length > static_cast<uint32_t>(in.BytesUntilLimit())) {
      return Malformed(inside, *field->message_type());
    }
    const CodedInputStream::Limit limit = in.PushLimit(static_cast<int>(length));
    if (absl::Status s = Walk(in, *field->message_type(), inside, depth + 1, singular); !s.ok()) {
      return s;
    }
    in.PopLimit(limit);
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckEveryFieldKnown(absl::string_view wire, const Descriptor& type,
                                  absl::string_view root, SingularFields singular) {
  const Frame top{nullptr, root, -1};
  if (wire.size() > static_cast<size_t>(INT32_MAX)) return Malformed(top, type);
  CodedInputStream in(reinterpret_cast<const uint8_t*>(wire.data()), static_cast<int>(wire.size()));
  in.PushLimit(static_cast<int>(wire.size()));
  return Walk(in, type, top, 0, singular);
}

absl::Status CheckEveryFieldKnown(const google::protobuf::Message& parsed, absl::string_view root) {
  // Nothing to find in a message whose parser kept nothing aside.
  return CheckEveryFieldKnown(parsed.SerializeAsString(), *parsed.GetDescriptor(), root);
}

}  // namespace chemledger
