#include "services/ledger/site_load.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "services/ledger/lifecycle_testing.h"
#include "services/registry/registry_testing.h"

namespace chemledger::ledger {
namespace {

using namespace lifecycle_testing;  // NOLINT: the fixture and its parties

class SiteLoadTest : public LifecycleFixture {
 protected:
  // Registers WH-3 for the producer, holding at most `class3_kg` of class 3.
  void RegisterSite(uint64_t class3_kg) {
    v1::Site site = registry::testing::ExampleSite(kProducer, "WH-3");
    site.mutable_capacities(0)->set_capacity_milli(class3_kg * 1000);
    v1::RegistryRequest r;
    r.set_request_id(absl::StrCat("site-", class3_kg));
    *r.mutable_register_site() = site;
    ASSERT_TRUE(t_->Registry(admin_, r).ok());
  }
  v1::Event At(v1::Event e, const std::string& site) {
    e.mutable_location()->set_site(site);
    return e;
  }
  // "class/unit=milli" for each load at `site` of `uscc`.
  std::vector<std::string> Loads(const std::string& uscc, const std::string& site) {
    absl::StatusOr<std::vector<ClassLoad>> loads = SiteLoads(*t_->snapshot(), uscc, site);
    EXPECT_TRUE(loads.ok()) << loads.status();
    std::vector<std::string> out;
    for (const ClassLoad& l : *loads) {
      out.push_back(absl::StrCat(l.hazard_class, "/", l.unit, "=", l.milli));
    }
    return out;
  }
  std::vector<state::SiteFlagRecord> Flags(const std::string& custodian) {
    bool more = false;
    absl::StatusOr<std::vector<state::SiteFlagRecord>> flags =
        ListSiteFlags(*t_->snapshot(), custodian, 0, 100, &more);
    EXPECT_TRUE(flags.ok()) << flags.status();
    return flags.ok() ? *flags : std::vector<state::SiteFlagRecord>{};
  }
};

using Strings = std::vector<std::string>;

TEST_F(SiteLoadTest, LoadsFollowTheGoodsAndAnOverfullSiteIsFlaggedNotRefused) {
  Commission({1, 2});  // at free-text "main", 25 kg each of methanol (class 3)
  EXPECT_EQ(Loads(kProducer, "main"), (Strings{"3/KGM=50000"}));
  ASSERT_NO_FATAL_FAILURE(RegisterSite(60));
  Ok(producer_, At(Event(v1::STORING, kProducer, {Code(1), Code(2)}), "WH-3"));
  EXPECT_TRUE(Loads(kProducer, "main").empty());
  EXPECT_EQ(Loads(kProducer, "WH-3"), (Strings{"3/KGM=50000"}));
  EXPECT_TRUE(Flags("").empty());

  // 75 kg in a 60 kg store: recorded, and flagged once.
  const EventReceipt over =
      Ok(producer_, At(Event(v1::COMMISSIONING, kProducer, {Code(3)}), "WH-3"));
  EXPECT_EQ(Loads(kProducer, "WH-3"), (Strings{"3/KGM=75000"}));
  std::vector<state::SiteFlagRecord> flags = Flags("");
  ASSERT_EQ(flags.size(), 1u);
  EXPECT_EQ(flags[0].kind(), "over-capacity");
  EXPECT_EQ(flags[0].custodian(), kProducer);
  EXPECT_EQ(flags[0].site(), "WH-3");
  EXPECT_EQ(flags[0].capacity_class(), "3");
  EXPECT_EQ(flags[0].capacity_milli(), 60000u);
  EXPECT_EQ(flags[0].load_milli(), 75000u);
  EXPECT_EQ(flags[0].log_index(), over.log_index);
  EXPECT_EQ(Flags(kProducer).size(), 1u);
  EXPECT_TRUE(Flags(kWarehouse).empty());
  // Still over: no second flag.
  Ok(producer_, At(Event(v1::COMMISSIONING, kProducer, {Code(4)}), "WH-3"));
  EXPECT_EQ(Flags("").size(), 1u);

  // Use, shipping away and loss take goods off the load.
  v1::Event use = Event(v1::CONSUMING, kProducer, {Code(1)});
  use.set_quantity_milli(5000);
  Ok(producer_, use);
  EXPECT_EQ(Loads(kProducer, "WH-3"), (Strings{"3/KGM=95000"}));
  Move(producer_, kProducer, warehouse_, kWarehouse, {Code(2)});
  EXPECT_EQ(Loads(kProducer, "WH-3"), (Strings{"3/KGM=70000"}));
  EXPECT_EQ(Loads(kWarehouse, "main"), (Strings{"3/KGM=25000"}));
  v1::Event lose = Event(v1::LOSS_REPORT, kProducer, {Code(3), Code(4)});
  lose.set_reason("stolen");
  Ok(producer_, lose);
  EXPECT_EQ(Loads(kProducer, "WH-3"), (Strings{"3/KGM=20000"}));
  // Back over the capacity: a second flag.
  Ok(producer_, At(Event(v1::COMMISSIONING, kProducer, {Code(5), Code(6)}), "WH-3"));
  EXPECT_EQ(Flags("").size(), 2u);
  EXPECT_EQ(Flags(kProducer).back().load_milli(), 70000u);
  // Paging by log index.
  bool more = false;
  absl::StatusOr<std::vector<state::SiteFlagRecord>> after =
      ListSiteFlags(*t_->snapshot(), "", over.log_index, 100, &more);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->size(), 1u);
  // The loads are state like any other: a rebuild from the log agrees.
  ExpectCheckPasses();
}

TEST_F(SiteLoadTest, AChemicalASiteIsNotLicensedForIsFlaggedNotRefused) {
  v1::Site site = registry::testing::ExampleSite(kProducer, "WH-3");
  site.clear_licensed_cas();
  site.add_licensed_cas("64-17-5");  // ethanol only
  v1::RegistryRequest r;
  r.set_request_id("site-ethanol");
  *r.mutable_register_site() = site;
  ASSERT_TRUE(t_->Registry(admin_, r).ok());
  const EventReceipt in = Ok(producer_, At(Event(v1::COMMISSIONING, kProducer, {Code(1)}), "WH-3"));
  std::vector<state::SiteFlagRecord> flags = Flags(kProducer);
  ASSERT_EQ(flags.size(), 1u);
  EXPECT_EQ(flags[0].kind(), "unlicensed-chemical");
  EXPECT_EQ(flags[0].cas(), "67-56-1");
  EXPECT_EQ(flags[0].log_index(), in.log_index);
  // Leaving and coming back to the site flags again only on arrival.
  v1::Event use = Event(v1::CONSUMING, kProducer, {Code(1)});
  use.set_quantity_milli(1000);
  Ok(producer_, use);
  EXPECT_EQ(Flags(kProducer).size(), 1u);
  ExpectCheckPasses();
}

// A test table: class 3 and 5.1 may not share a site; 3 and 8 may.
class TestTables : public reference::ReferenceTables {
 public:
  std::optional<std::string> StatementText(absl::string_view, reference::Language) const override {
    return std::nullopt;
  }
  std::vector<reference::TableSource> Sources() const override { return {}; }
  std::optional<reference::SegregationRule> StorageSegregation(absl::string_view a,
                                                               absl::string_view b) const override {
    if ((a == "3" && b == "5.1") || (a == "5.1" && b == "3")) {
      return reference::SegregationRule{false, "不得同库储存 (test)"};
    }
    if ((a == "3" && b == "8") || (a == "8" && b == "3")) {
      return reference::SegregationRule{true, "隔开储存 (test)"};
    }
    return std::nullopt;
  }
  bool HasSegregationTable() const override { return true; }
};

TEST(AssessSiteLoad, CapacitiesCoverDivisionsInTheirUnitAndTheTableNamesIncompatibleClasses) {
  v1::Site site = registry::testing::ExampleSite(kProducer, "WH-3");  // 3: 50 t, 6.1: 5 t (KGM)
  v1::StorageCapacity* gases = site.add_capacities();
  gases->set_hazard_class("2");
  gases->set_capacity_milli(1000000);
  gases->set_unit("KGM");
  const std::vector<ClassLoad> loads = {{"2.1", "KGM", 700000},   {"2.2", "KGM", 400000},
                                        {"3", "KGM", 1000},       {"3", "LTR", 99999999},
                                        {"5.1", "KGM", 2000},     {"8", "KGM", 10}};
  const SiteAssessment a = AssessSiteLoad(&site, loads, TestTables());
  ASSERT_EQ(a.capacities.size(), 3u);
  EXPECT_EQ(a.capacities[0].load_milli, 1000u) << "litres are not counted against kilograms";
  EXPECT_FALSE(a.capacities[0].over);
  EXPECT_EQ(a.capacities[2].load_milli, 1100000u) << "2 covers 2.1 and 2.2";
  EXPECT_TRUE(a.capacities[2].over);
  // Uncovered: class 3 in litres, 5.1 and 8 (no capacity registered).
  ASSERT_EQ(a.uncovered.size(), 3u);
  EXPECT_EQ(a.uncovered[0].unit, "LTR");
  EXPECT_TRUE(a.segregation_table_available);
  ASSERT_EQ(a.incompatible.size(), 1u);
  EXPECT_EQ(a.incompatible[0].class_a, "3");
  EXPECT_EQ(a.incompatible[0].class_b, "5.1");
  // Without a table: nothing assessed, and it says so.
  const SiteAssessment shipped =
      AssessSiteLoad(&site, loads, reference::ShippedReferenceTables());
  EXPECT_FALSE(shipped.segregation_table_available);
  EXPECT_TRUE(shipped.incompatible.empty());
  // An unregistered site: everything uncovered.
  EXPECT_EQ(AssessSiteLoad(nullptr, loads, TestTables()).uncovered.size(), loads.size());
  EXPECT_TRUE(CapacityCovers("2", "2.1"));
  EXPECT_FALSE(CapacityCovers("2", "21"));
  EXPECT_FALSE(CapacityCovers("5.1", "5"));
}

}  // namespace
}  // namespace chemledger::ledger
