// What of deployment.h is not covered by the end-to-end tests (tests/,
// which start chemledgerd itself).

#include "services/chemledgerd/deployment.h"

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "journal/journal.h"

namespace chemledger::server {
namespace {

// The order the journal applies the state machines in is part of what a
// store means: each reads what the machines before it wrote for the same
// entry (the waybill rules what the lifecycle rules made of an event, the
// refusal rules what the others refused), and `chemledgerd check` rebuilds
// a store in this order. Changing it changes the state a log implies: it
// comes with a new state format (journal.h, kStateFormat), and then this
// pin is updated.
TEST(StateMachinesTest, TheOrderTheJournalAppliesThemInIsPinned) {
  absl::StatusOr<std::unique_ptr<registry::Catalogue>> catalogue = ShippedCatalogue();
  ASSERT_TRUE(catalogue.ok()) << catalogue.status();
  const StateMachines machines(catalogue->get());
  std::vector<std::string> names;
  for (const journal::StateMachine* m : machines.all()) names.emplace_back(m->name());
  EXPECT_EQ(names, (std::vector<std::string>{"registry", "issuance", "lifecycle", "waybills",
                                             "refusals", "major-hazard-alerts", "public-scans"}));
  EXPECT_EQ(journal::Journal::kStateFormat, 14)
      << "a new state format: check the order above against the one it was written in";
}

TEST(StateMachinesTest, EachPayloadTypeHasOneOwner) {
  absl::StatusOr<std::unique_ptr<registry::Catalogue>> catalogue = ShippedCatalogue();
  ASSERT_TRUE(catalogue.ok()) << catalogue.status();
  const StateMachines machines(catalogue->get());
  std::vector<std::string> seen;
  for (const journal::StateMachine* m : machines.all()) {
    for (const std::string& type : m->OwnedPayloadTypes()) {
      EXPECT_EQ(std::count(seen.begin(), seen.end(), type), 0) << type << " owned twice";
      seen.push_back(type);
      EXPECT_EQ(machines.OwnerOf(type), m) << type;
    }
  }
  EXPECT_EQ(machines.OwnerOf("application/vnd.example.unknown+protobuf"), nullptr);
}

}  // namespace
}  // namespace chemledger::server
