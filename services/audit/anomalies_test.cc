// The parts of anomalies.h that need no ledger (the listing itself is tested
// in refusals_test and audit_scenario_test, over a real store).

#include "services/audit/anomalies.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace chemledger::audit {
namespace {

v1::Anomalies Look(const std::vector<std::string>& overdue, bool truncated = false) {
  v1::Anomalies look;
  for (const std::string& waybill : overdue) {
    v1::Anomaly* a = look.add_overdue_shipments();
    a->set_kind(v1::OVERDUE_SHIPMENT);
    a->set_waybill(waybill);
  }
  look.set_overdue_truncated(truncated);
  return look;
}

std::vector<std::string> Told(OverdueShipmentFeed& feed, const v1::Anomalies& look) {
  std::vector<std::string> told;
  EXPECT_TRUE(feed.Look(look, [&](const v1::Anomaly& a) {
    told.push_back(a.waybill());
    return true;
  }));
  return told;
}

TEST(OverdueShipmentFeedTest, EachIsToldOnceWhileOverdueAndForgottenAfter) {
  OverdueShipmentFeed feed;
  EXPECT_EQ(Told(feed, Look({"A", "B"})), (std::vector<std::string>{"A", "B"}));
  EXPECT_EQ(Told(feed, Look({"A", "B", "C"})), std::vector<std::string>{"C"});
  // B received: forgotten, so what is kept is the list's size.
  EXPECT_EQ(Told(feed, Look({"A", "C"})), std::vector<std::string>{});
  EXPECT_EQ(feed.told(), 2u);
  // B overdue again (its arrival had been put off): told again.
  EXPECT_EQ(Told(feed, Look({"A", "C", "B"})), std::vector<std::string>{"B"});
}

TEST(OverdueShipmentFeedTest, NothingIsForgottenWhileTheListIsCutShort) {
  OverdueShipmentFeed feed;
  EXPECT_EQ(Told(feed, Look({"A", "B"})), (std::vector<std::string>{"A", "B"}));
  // B pushed beyond the cut by an older one: still overdue, not told again.
  EXPECT_EQ(Told(feed, Look({"Z", "A"}, /*truncated=*/true)), std::vector<std::string>{"Z"});
  EXPECT_EQ(Told(feed, Look({"Z", "A", "B"})), std::vector<std::string>{});
}

TEST(OverdueShipmentFeedTest, WhatItKeepsIsBoundedWhileTheListIsCutShort) {
  OverdueShipmentFeed feed;
  for (int look = 0; look < 10; ++look) {
    std::vector<std::string> list;
    for (int i = 0; i < 1000; ++i) list.push_back(absl::StrCat("W", look, "-", i));
    EXPECT_EQ(Told(feed, Look(list, /*truncated=*/true)).size(), 1000u);
    EXPECT_LE(feed.told(), OverdueShipmentFeed::kMaxToldOverdue + 1000);
  }
}

TEST(OverdueShipmentFeedTest, AListenerThatLeavesEndsTheLook) {
  OverdueShipmentFeed feed;
  int told = 0;
  EXPECT_FALSE(feed.Look(Look({"A", "B", "C"}), [&](const v1::Anomaly&) { return ++told < 2; }));
  EXPECT_EQ(told, 2);
}

}  // namespace
}  // namespace chemledger::audit
