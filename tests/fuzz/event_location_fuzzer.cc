// Where an event was recorded, read without parsing it
// (services/ledger/event_location.h): for every payload the Protobuf parser
// accepts as a chemledger.v1.Event, the scan gives the parser's
// location.enterprise_uscc (repeated fields, merged locations, unknown
// fields, groups and wrong wire types included).

#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "chemledger/v1/ledger.pb.h"
#include "services/ledger/event_location.h"
#include "tests/fuzz/fuzz_target.h"

namespace chemledger::fuzz {
std::vector<std::string> FuzzSeeds() {
  v1::Event e;
  e.set_event_id("ev-1");
  e.set_step(v1::STORING);
  for (int i = 0; i < 3; ++i) e.add_codes("91350100M000100Y43.M01.B1." + std::to_string(i));
  e.mutable_location()->set_enterprise_uscc("91350100M000100Y43");
  e.mutable_location()->set_site("tank farm");
  v1::Event second;
  second.mutable_location()->set_enterprise_uscc("91110105771583283D");
  v1::Event site_only;
  site_only.mutable_location()->set_site("bay 2");
  return {e.SerializeAsString(), e.SerializeAsString() + second.SerializeAsString(),
          e.SerializeAsString() + site_only.SerializeAsString(), ""};
}
}  // namespace chemledger::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  const std::optional<std::string> scanned = chemledger::ledger::EventLocationEnterprise(bytes);
  chemledger::v1::Event parsed;
  if (parsed.ParseFromString(bytes) &&
      (!scanned.has_value() || *scanned != parsed.location().enterprise_uscc())) {
    std::abort();
  }
  return 0;
}
