#include "services/ledger/event_view.h"

#include <string>
#include <vector>

#include "chemledger/v1/ledger.pb.h"
#include "crypto/merkle.h"
#include "gtest/gtest.h"
#include "services/ledger/lifecycle_testing.h"
#include "services/registry/registry_state.h"

namespace chemledger::ledger {
namespace {

using namespace lifecycle_testing;  // NOLINT: the fixture's parties and helpers

class EventViewTest : public LifecycleFixture {
 protected:
  v1::Actor ActorOf(const crypto::SigningKey& key) {
    absl::StatusOr<std::optional<state::ActorRecord>> r =
        registry::FindActor(*t_->snapshot(), key.key_id());
    EXPECT_TRUE(r.ok() && r->has_value());
    return r.ok() && r->has_value() ? (*r)->actor() : v1::Actor();
  }
  v1::EventRecord View(const crypto::SigningKey& reader, uint64_t index) {
    absl::StatusOr<v1::EventRecord> r = ViewEvent(*t_->snapshot(), ActorOf(reader), index);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : v1::EventRecord();
  }
  // Whole: the exact entry bytes, which hash to the leaf hash and parse to
  // the entry given.
  void ExpectWhole(const v1::EventRecord& r) {
    EXPECT_FALSE(r.redacted());
    absl::StatusOr<std::string> logged = t_->snapshot()->Entry(r.log_index());
    ASSERT_TRUE(logged.ok());
    EXPECT_EQ(r.entry_bytes(), *logged);
    EXPECT_EQ(crypto::HashLeaf(r.entry_bytes()).ToBytes(), r.event_hash());
    EXPECT_EQ(r.entry().SerializeAsString(), *logged);
  }
  static std::vector<std::string> CodesOf(const v1::EventRecord& r) {
    v1::Event e;
    EXPECT_TRUE(e.ParseFromString(r.entry().envelope().payload()));
    return {e.codes().begin(), e.codes().end()};
  }
};

TEST_F(EventViewTest, APastCustodianSeesOnlyTheCodesOfAnEventItMayRead) {
  // One commissioning names two drums; only the first goes to the warehouse.
  Commission({1, 2});
  Move(producer_, kProducer, warehouse_, kWarehouse, {Code(1)});
  const std::vector<uint64_t> history = HistoryOf(Code(1));
  ASSERT_EQ(history.size(), 3u);  // commissioned, shipped, received
  const uint64_t commissioned = history[0];

  const v1::EventRecord seen = View(warehouse_, commissioned);
  EXPECT_TRUE(seen.redacted());
  EXPECT_EQ(CodesOf(seen), std::vector<std::string>{Code(1)});
  v1::EventLinks links;
  ASSERT_TRUE(links.ParseFromString(seen.entry().assignment()));
  ASSERT_EQ(links.links_size(), 1);
  EXPECT_EQ(links.links(0).code(), Code(1));
  EXPECT_EQ(seen.entry().envelope().signatures_size(), 0);
  EXPECT_TRUE(seen.entry_bytes().empty());
  // The real leaf hash: provable into a checkpoint all the same.
  absl::StatusOr<std::string> logged = t_->snapshot()->Entry(commissioned);
  ASSERT_TRUE(logged.ok());
  EXPECT_EQ(seen.event_hash(), crypto::HashLeaf(*logged).ToBytes());
  EXPECT_EQ(std::string(seen.SerializeAsString()).find(Code(2)), std::string::npos)
      << "the other drum's code leaked";

  // The enterprise that recorded it, and the regulator, see it whole; so does
  // the warehouse for the shipment and receipt of its drum alone.
  ExpectWhole(View(producer_, commissioned));
  ExpectWhole(View(regulator_, commissioned));
  EXPECT_EQ(CodesOf(View(regulator_, commissioned)), (std::vector<std::string>{Code(1), Code(2)}));
  ExpectWhole(View(warehouse_, history[1]));
  ExpectWhole(View(warehouse_, history[2]));
}

// An observation carries the label of each code it scanned: a reader shown
// some of its codes is shown their labels only, never another package's
// (with which it could resolve that package, or claim to have scanned it).
TEST_F(EventViewTest, AnObservationShowsOnlyTheLabelsOfTheCodesShown) {
  Commission({1, 2});
  Move(producer_, kProducer, warehouse_, kWarehouse, {Code(1)});
  // The user scans both drums, one at the warehouse's, one at the
  // producer's: with their labels, as chemscan sends them.
  const v1::Event observation = Event(v1::OBSERVING, kUser, {Code(1), Code(2)});
  ASSERT_EQ(observation.label_urls_size(), 2);
  ASSERT_FALSE(observation.label_urls(1).empty());
  const uint64_t index = Ok(user_, observation).log_index;

  const v1::EventRecord seen = View(warehouse_, index);
  EXPECT_TRUE(seen.redacted());
  v1::Event shown;
  ASSERT_TRUE(shown.ParseFromString(seen.entry().envelope().payload()));
  EXPECT_EQ(std::vector<std::string>(shown.codes().begin(), shown.codes().end()),
            std::vector<std::string>{Code(1)});
  EXPECT_EQ(std::vector<std::string>(shown.label_urls().begin(), shown.label_urls().end()),
            std::vector<std::string>{observation.label_urls(0)});
  EXPECT_EQ(seen.entry().envelope().payload().find(observation.label_urls(1)), std::string::npos)
      << "the other package's label was shown";
  // The observer sees its own event whole, labels and all.
  ExpectWhole(View(user_, index));
}

TEST_F(EventViewTest, AnEventOfManyCodesCarriesItsLoggedLeafHash) {
  // Entries this large take the leaf hash from the store's tree instead of
  // hashing their bytes: it must be the same hash, whole or redacted.
  ASSERT_TRUE(t_->IssueBatch(producer_, kProducer, "M01", "B2", 200, "25", "KGM").ok());
  std::vector<std::string> codes;
  for (int s = 1; s <= 200; ++s) codes.push_back(absl::StrCat(kProducer, ".M01.B2.", s));
  Ok(producer_, Event(v1::COMMISSIONING, kProducer, codes));
  Move(producer_, kProducer, warehouse_, kWarehouse, {codes[0]});
  const uint64_t commissioned = HistoryOf(codes[0])[0];
  absl::StatusOr<std::string> logged = t_->snapshot()->Entry(commissioned);
  ASSERT_TRUE(logged.ok());
  ASSERT_GT(logged->size(), 8000u);

  ExpectWhole(View(producer_, commissioned));
  ExpectWhole(View(regulator_, commissioned));
  const v1::EventRecord seen = View(warehouse_, commissioned);
  EXPECT_TRUE(seen.redacted());
  EXPECT_EQ(CodesOf(seen), std::vector<std::string>{codes[0]});
  EXPECT_EQ(seen.event_hash(), crypto::HashLeaf(*logged).ToBytes());
}

TEST_F(EventViewTest, WhereAnEventWasRecordedIsReadAsTheParserReadsIt) {
  // Whole or not is decided from the event's location without parsing its
  // codes; a location given twice merges, the later enterprise winning, as
  // the rules of epoch 17 and before read it (from 18 they refuse it:
  // services/common/known_fields.h). Here the rules saw the producer (its
  // own event).
  Commission({3});
  v1::Event first = Event(v1::STORING, kWarehouse, {Code(3)});
  v1::Event second;
  second.mutable_location()->set_enterprise_uscc(kProducer);
  const std::string payload = first.SerializeAsString() + second.SerializeAsString();
  absl::StatusOr<v1::SignedEnvelope> env = envelope::Sign(api::kEventContext, payload, producer_);
  ASSERT_TRUE(env.ok()) << env.status();
  absl::StatusOr<EventReceipt> refused = t_->ledger().Append(*env);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument) << refused.status();
  testing::TestLedgerOptions epoch17;
  epoch17.rules_epoch = 17;
  t_->Reopen(epoch17);
  absl::StatusOr<EventReceipt> stored = t_->ledger().Append(*env);
  ASSERT_TRUE(stored.ok()) << stored.status();

  ExpectWhole(View(producer_, stored->log_index));
  absl::StatusOr<v1::EventRecord> warehouse =
      ViewEvent(*t_->snapshot(), ActorOf(warehouse_), stored->log_index);
  ASSERT_TRUE(warehouse.ok()) << warehouse.status();
  EXPECT_TRUE(warehouse->redacted()) << "the warehouse named first is not where it was recorded";
  EXPECT_TRUE(CodesOf(*warehouse).empty());
}

}  // namespace
}  // namespace chemledger::ledger
