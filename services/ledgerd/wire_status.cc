#include "services/ledgerd/wire_status.h"

#include <string>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"

namespace chemledger::ledgerd {

internal::StatusProto ToStatusProto(const absl::Status& status) {
  internal::StatusProto proto;
  proto.set_code(static_cast<int>(status.code()));
  proto.set_message(std::string(status.message()));
  status.ForEachPayload([&](absl::string_view type, const absl::Cord& payload) {
    (*proto.mutable_payloads())[std::string(type)] = std::string(payload);
  });
  return proto;
}

absl::Status FromStatusProto(const internal::StatusProto& proto) {
  absl::StatusCode code = absl::StatusCode::kUnknown;
  if (proto.code() >= 0 && proto.code() <= 16) code = static_cast<absl::StatusCode>(proto.code());
  if (proto.code() == 0) return absl::OkStatus();
  absl::Status status(code, proto.message());
  for (const auto& [type, payload] : proto.payloads()) status.SetPayload(type, absl::Cord(payload));
  return status;
}

}  // namespace chemledger::ledgerd
