#include "services/audit/event_query.h"

#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "services/ledger/lifecycle_testing.h"

namespace chemledger::audit {
namespace {

using ledger::lifecycle_testing::kCarrier;
using ledger::lifecycle_testing::kDisposer;
using ledger::lifecycle_testing::kProducer;
using ledger::lifecycle_testing::kUser;
using ledger::lifecycle_testing::kWarehouse;

class EventQueryTest : public ledger::lifecycle_testing::LifecycleFixture {
 protected:

  // Every page of `query`, `page_size` at a time: the events' log indexes.
  std::vector<uint64_t> All(const v1::Actor& reader, const v1::EventQuery& query,
                            uint32_t page_size = kMaxEventPageSize) {
    std::vector<uint64_t> out;
    std::optional<ledger::EventPosition> after;
    const std::shared_ptr<const storage::Snapshot> snapshot = t_->snapshot();
    for (int pages = 0; pages < 10000; ++pages) {
      absl::StatusOr<EventQueryPage> page =
          QueryEvents(*snapshot, reader, query, after, page_size);
      EXPECT_TRUE(page.ok()) << page.status();
      if (!page.ok()) break;
      EXPECT_LE(page->events.size(), page_size);
      for (const ledger::EventPosition& e : page->events) out.push_back(e.log_index);
      if (!page->next) break;
      after = page->next;
    }
    return out;
  }

  // The lifecycle events in the log that `keep` accepts, in event time order.
  template <typename Keep>
  std::vector<uint64_t> FromTheLog(Keep keep) {
    const std::shared_ptr<const storage::Snapshot> snapshot = t_->snapshot();
    std::vector<std::pair<int64_t, uint64_t>> events;
    for (uint64_t i = 0; i < snapshot->size(); ++i) {
      v1::LogEntry entry;
      EXPECT_TRUE(entry.ParseFromString(*snapshot->Entry(i)));
      if (entry.envelope().payload_type() != api::kEventContext.payload_type()) continue;
      v1::Event e;
      EXPECT_TRUE(e.ParseFromString(entry.envelope().payload()));
      if (keep(e)) events.emplace_back(e.event_time().seconds(), i);
    }
    std::sort(events.begin(), events.end());
    std::vector<uint64_t> out;
    for (const auto& [t, i] : events) out.push_back(i);
    return out;
  }

  void Life() {
    Commission({1, 2, 3, 4});
    Move(producer_, kProducer, warehouse_, kWarehouse, {Code(1), Code(2)});
    Move(warehouse_, kWarehouse, user_, kUser, {Code(1)});
    v1::Event use = Event(v1::CONSUMING, kUser, {Code(1)});
    use.set_quantity_milli(5000);
    Ok(user_, use);
    Ok(warehouse_, Event(v1::OBSERVING, kWarehouse, {Code(2)}));
    v1::Event store = Event(v1::STORING, kProducer, {Code(3)});
    store.mutable_location()->set_site("tank farm");
    Ok(producer_, store);
  }
};

TEST_F(EventQueryTest, EverythingInTimeOrderAndAPageAtATime) {
  Life();
  const v1::Actor regulator = ActorOf(regulator_);
  const std::vector<uint64_t> expected = FromTheLog([](const v1::Event&) { return true; });
  ASSERT_EQ(expected.size(), 8u);  // commissioning, 2 moves of 2, use, scan, store
  EXPECT_EQ(All(regulator, v1::EventQuery()), expected);
  EXPECT_EQ(All(regulator, v1::EventQuery(), 1), expected);
  EXPECT_EQ(All(regulator, v1::EventQuery(), 3), expected);
  // A region's enterprises are read list by list and merged.
  v1::EventQuery fujian;
  fujian.set_region_prefix("35");
  EXPECT_EQ(All(regulator, fujian, 1), expected);
  EXPECT_EQ(All(regulator, fujian, 4), expected);
}

TEST_F(EventQueryTest, EachFilter) {
  Life();
  const v1::Actor regulator = ActorOf(regulator_);
  v1::EventQuery q;
  q.set_enterprise_uscc(kWarehouse);
  EXPECT_EQ(All(regulator, q), FromTheLog([](const v1::Event& e) {
              return e.location().enterprise_uscc() == kWarehouse;
            }));
  q = v1::EventQuery();
  q.set_step(v1::SHIPPING);
  EXPECT_EQ(All(regulator, q, 1),
            FromTheLog([](const v1::Event& e) { return e.step() == v1::SHIPPING; }));
  q = v1::EventQuery();
  q.set_site("tank farm");
  EXPECT_EQ(All(regulator, q).size(), 1u);
  q = v1::EventQuery();
  q.set_cas("67-56-1");
  EXPECT_EQ(All(regulator, q), FromTheLog([](const v1::Event&) { return true; }));
  q.set_cas("7664-93-9");
  EXPECT_TRUE(All(regulator, q).empty());
  q = v1::EventQuery();
  q.set_un_number("1230");
  EXPECT_EQ(All(regulator, q).size(), 8u);
  // A waybill: its shipment and its receipt.
  std::vector<std::string> numbers;
  for (const auto& e : FromTheLog([](const v1::Event& e) { return e.step() == v1::SHIPPING; })) {
    v1::LogEntry entry;
    ASSERT_TRUE(entry.ParseFromString(*t_->snapshot()->Entry(e)));
    v1::Event ev;
    ASSERT_TRUE(ev.ParseFromString(entry.envelope().payload()));
    numbers.push_back(ev.waybill_id());
  }
  ASSERT_EQ(numbers.size(), 2u);
  q = v1::EventQuery();
  q.set_waybill_carrier_uscc(kCarrier);
  q.set_waybill_number(numbers[0]);
  const std::vector<uint64_t> moved = All(regulator, q);
  ASSERT_EQ(moved.size(), 2u);
  // Time: nothing before the first event, everything from it.
  q = v1::EventQuery();
  q.mutable_to()->set_seconds(1);
  EXPECT_TRUE(All(regulator, q).empty());
  q = v1::EventQuery();
  q.mutable_from()->set_seconds(absl::ToUnixSeconds(absl::Now() - absl::Hours(2)));
  EXPECT_EQ(All(regulator, q).size(), 8u);
}

TEST_F(EventQueryTest, AnEnterpriseQueriesItsOwnEvents) {
  Life();
  const v1::Actor user = ActorOf(user_);
  EXPECT_EQ(All(user, v1::EventQuery()), FromTheLog([](const v1::Event& e) {
              return e.location().enterprise_uscc() == kUser;
            }));
  v1::EventQuery other;
  other.set_enterprise_uscc(kProducer);
  EXPECT_EQ(QueryEvents(*t_->snapshot(), user, other, std::nullopt, 10).status().code(),
            absl::StatusCode::kPermissionDenied);
}

TEST_F(EventQueryTest, BadQueriesNameTheField) {
  const v1::Actor regulator = ActorOf(regulator_);
  auto field_of = [&](const v1::EventQuery& q) {
    absl::StatusOr<EventQueryPage> page = QueryEvents(*t_->snapshot(), regulator, q, std::nullopt, 10);
    EXPECT_EQ(page.status().code(), absl::StatusCode::kInvalidArgument) << page.status();
    return std::string(page.status().message().substr(0, page.status().message().find(':')));
  };
  v1::EventQuery q;
  q.set_waybill_number("WB-1");
  EXPECT_EQ(field_of(q), "waybill_carrier_uscc");
  q = v1::EventQuery();
  q.set_un_number("12345");
  EXPECT_EQ(field_of(q), "un_number");
  q = v1::EventQuery();
  q.set_step(static_cast<v1::BusinessStep>(99));
  EXPECT_EQ(field_of(q), "step");
  q = v1::EventQuery();
  q.set_cas("67-56-1");
  q.set_un_number("1230");
  EXPECT_EQ(field_of(q), "cas, un_number, catalogue_number, control_flag, product_number");
  EXPECT_EQ(QueryEvents(*t_->snapshot(), regulator, v1::EventQuery(), std::nullopt, 0)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace chemledger::audit
