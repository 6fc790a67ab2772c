#include "services/audit/stock_query.h"

#include "gtest/gtest.h"
#include "services/ledger/lifecycle_testing.h"

namespace chemledger::audit {
namespace {

using ledger::lifecycle_testing::kProducer;
using ledger::lifecycle_testing::kWarehouse;

class StockQueryTest : public ledger::lifecycle_testing::LifecycleFixture {
 protected:
};

TEST_F(StockQueryTest, WhatIsWhereNowWithTotals) {
  Commission({1, 2, 3, 4});
  v1::Event store = Event(v1::STORING, kProducer, {Code(4)});
  store.mutable_location()->set_site("tank farm");
  Ok(producer_, store);
  Move(producer_, kProducer, warehouse_, kWarehouse, {Code(1)});
  v1::Event use = Event(v1::CONSUMING, kProducer, {Code(2)});
  use.set_quantity_milli(5000);
  Ok(producer_, use);
  v1::StockQuery all;
  all.set_with_codes(true);
  absl::StatusOr<v1::StockReport> r = QueryStock(*t_->snapshot(), ActorOf(regulator_), all);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->lines_size(), 3) << r->DebugString();
  // The producer's two sites, then the warehouse's.
  EXPECT_EQ(r->lines(0).enterprise_uscc(), kProducer);
  EXPECT_EQ(r->lines(0).site(), "main");
  EXPECT_EQ(r->lines(0).packages(), 2u);
  EXPECT_EQ(r->lines(0).quantity_milli(), 45000u);
  EXPECT_EQ(r->lines(1).site(), "tank farm");
  EXPECT_EQ(r->lines(1).codes(0), Code(4));
  EXPECT_EQ(r->lines(2).enterprise_uscc(), kWarehouse);
  EXPECT_EQ(r->lines(2).packages(), 1u);
  ASSERT_EQ(r->totals_size(), 1);
  EXPECT_EQ(r->totals(0).quantity_milli(), 95000u);
  EXPECT_EQ(r->totals(0).unit(), "KGM");

  v1::StockQuery site;
  site.set_enterprise_uscc(kProducer);
  site.set_site("tank farm");
  r = QueryStock(*t_->snapshot(), ActorOf(regulator_), site);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->lines_size(), 1);
  EXPECT_EQ(r->lines(0).packages(), 1u);
  EXPECT_EQ(r->lines(0).codes_size(), 0);  // not asked for

  // An enterprise reads its own stock only.
  r = QueryStock(*t_->snapshot(), ActorOf(warehouse_), v1::StockQuery());
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->lines_size(), 1);
  EXPECT_EQ(r->lines(0).enterprise_uscc(), kWarehouse);
  v1::StockQuery other;
  other.set_enterprise_uscc(kProducer);
  EXPECT_EQ(QueryStock(*t_->snapshot(), ActorOf(warehouse_), other).status().code(),
            absl::StatusCode::kPermissionDenied);
  // What is where is read by the departments that read sites, as
  // LedgerService.ListStock is: not 公安, 市场监管, 交通运输 or 生态环境.
  for (v1::Department d :
       {v1::PUBLIC_SECURITY, v1::MARKET_REGULATION, v1::TRANSPORT, v1::ECOLOGY_ENVIRONMENT}) {
    v1::Actor regulator = ActorOf(regulator_);
    regulator.set_department(d);
    EXPECT_EQ(QueryStock(*t_->snapshot(), regulator, all).status().code(),
              absl::StatusCode::kPermissionDenied)
        << v1::Department_Name(d);
  }
  v1::StockQuery bad;
  bad.set_cas("67-56-2");
  EXPECT_EQ(QueryStock(*t_->snapshot(), ActorOf(regulator_), bad).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace chemledger::audit
