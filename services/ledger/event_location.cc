#include "services/ledger/event_location.h"

#include <cstdint>

#include "chemledger/v1/ledger.pb.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/wire_format_lite.h"

namespace chemledger::ledger {

using google::protobuf::internal::WireFormatLite;

std::optional<std::string> EventLocationEnterprise(absl::string_view event) {
  constexpr int kLocation = v1::Event::kLocationFieldNumber;
  constexpr int kEnterprise = v1::Location::kEnterpriseUsccFieldNumber;
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(event.data()),
                                            static_cast<int>(event.size()));
  std::string enterprise;
  while (const uint32_t tag = in.ReadTag()) {
    if (WireFormatLite::GetTagFieldNumber(tag) == 0) return std::nullopt;  // as the parser
    if (WireFormatLite::GetTagFieldNumber(tag) != kLocation ||
        WireFormatLite::GetTagWireType(tag) != WireFormatLite::WIRETYPE_LENGTH_DELIMITED) {
      if (!WireFormatLite::SkipField(&in, tag)) return std::nullopt;
      continue;
    }
    uint32_t length = 0;
    if (!in.ReadVarint32(&length) || length > event.size() - in.CurrentPosition()) {
      return std::nullopt;
    }
    const auto limit = in.PushLimit(static_cast<int>(length));
    while (const uint32_t inner = in.ReadTag()) {
      if (WireFormatLite::GetTagFieldNumber(inner) == 0) return std::nullopt;
      if (WireFormatLite::GetTagFieldNumber(inner) == kEnterprise &&
          WireFormatLite::GetTagWireType(inner) == WireFormatLite::WIRETYPE_LENGTH_DELIMITED) {
        if (!WireFormatLite::ReadString(&in, &enterprise)) return std::nullopt;
      } else if (!WireFormatLite::SkipField(&in, inner)) {
        return std::nullopt;
      }
    }
    if (!in.ConsumedEntireMessage()) return std::nullopt;
    in.PopLimit(limit);
  }
  if (!in.ConsumedEntireMessage()) return std::nullopt;
  return enterprise;
}

}  // namespace chemledger::ledger
