#include "services/registry/deployment_binding.h"

#include <cstdint>

#include "absl/strings/escaping.h"
#include "absl/strings/str_format.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/wire_format_lite.h"

namespace chemledger::registry {

using google::protobuf::internal::WireFormatLite;

std::string NamedDeployment(absl::string_view payload) {
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(payload.data()),
                                            static_cast<int>(payload.size()));
  std::string named;
  while (true) {
    const uint32_t tag = in.ReadTag();
    if (tag == 0) break;  // the end, or bytes that are not a message
    if (WireFormatLite::GetTagFieldNumber(tag) == kDeploymentFieldNumber &&
        WireFormatLite::GetTagWireType(tag) == WireFormatLite::WIRETYPE_LENGTH_DELIMITED) {
      uint32_t length = 0;
      std::string value;
      if (!in.ReadVarint32(&length) || !in.ReadString(&value, static_cast<int>(length))) {
        return "";
      }
      named = std::move(value);  // a field given twice: the last counts
      continue;
    }
    if (!WireFormatLite::SkipField(&in, tag)) return "";
  }
  return in.ConsumedEntireMessage() ? named : "";
}

absl::Status CheckNamedDeployment(absl::string_view payload, absl::string_view origin) {
  const std::string named = NamedDeployment(payload);
  if (named.empty() || named == origin) return absl::OkStatus();
  return absl::UnauthenticatedError(absl::StrFormat(
      "deployment: the request was signed for deployment \"%s\", not this one (\"%s\"); a "
      "request is taken only by the deployment it names",
      absl::CHexEscape(named.substr(0, 128)), absl::CHexEscape(origin)));
}

}  // namespace chemledger::registry
