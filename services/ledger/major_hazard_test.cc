#include "services/ledger/major_hazard.h"

#include <string>
#include <vector>

#include "api/wire.h"
#include "crypto/sha256.h"
#include "gtest/gtest.h"
#include "services/ledger/lifecycle_testing.h"
#include "services/ledger/major_hazard_recorder.h"
#include "services/registry/registry_testing.h"

namespace chemledger::ledger {
namespace {

using namespace lifecycle_testing;  // NOLINT: the fixture and its parties

constexpr uint64_t kBillion = 1000000000;

// GB 18218's formulas, written out for the hand computations below:
// S = Σ q/Q; R = α Σ β q/Q; grade 一级 R ≥ 100, 二级 ≥ 50, 三级 ≥ 10, 四级 below.
double S(const std::vector<std::pair<double, double>>& q_and_Q) {
  double s = 0;
  for (const auto& [q, Q] : q_and_Q) s += q / Q;
  return s;
}

class MajorHazardTest : public LifecycleFixture {
 protected:
  // The thresholds of this test (its own values, not the standard's):
  // methanol by CAS number, 50 kg, β 2; category W5.2, 200 kg, β 1.5;
  // category W5.1, 1000 kg (higher: not chosen for a product in both).
  void ImportThresholds(const std::string& version, const std::string& methanol_t) {
    const std::string csv =
        absl::StrCat("kind,key,name_zh,threshold_t,beta\n", "cas,67-56-1,甲醇,", methanol_t, ",2\n",
                     "category,W5.2,测试类别二,0.2,1.5\n", "category,W5.1,测试类别一,1,1\n");
    v1::RegistryRequest r;
    r.set_request_id(absl::StrCat("thresholds-", version));
    v1::ReferenceTableImport* import = r.mutable_import_reference_table();
    import->set_table(v1::MAJOR_HAZARD_THRESHOLDS);
    import->set_version(version);
    import->mutable_source()->set_title("测试临界量表 (a table of this test's own)");
    import->mutable_source()->set_issuer("ChemLedger tests");
    *import->mutable_source()->mutable_issued_on() = api::ToProtoDate(absl::CivilDay(2026, 11, 1));
    import->mutable_source()->set_document_number("TEST-GB18218");
    import->set_content(csv);
    const crypto::Sha256Digest digest = crypto::Sha256(csv);
    import->set_content_sha256(
        std::string(reinterpret_cast<const char*>(digest.bytes().data()), digest.kSize));
    absl::StatusOr<journal::Receipt> s = t_->Registry(admin_, r);
    ASSERT_TRUE(s.ok()) << s.status();
  }
  // Registers `site_id` for the producer with α `alpha_tenths`.
  void RegisterSite(const std::string& site_id, uint32_t alpha_tenths) {
    v1::Site site = registry::testing::ExampleSite(kProducer, site_id);
    site.set_exposure_correction_tenths(alpha_tenths);
    v1::RegistryRequest r;
    r.set_request_id(absl::StrCat("site-", site_id, "-", alpha_tenths));
    *r.mutable_register_site() = site;
    absl::StatusOr<journal::Receipt> s = t_->Registry(admin_, r);
    ASSERT_TRUE(s.ok()) << s.status();
  }
  // A second product: a mixture (no CAS number) of categories W5.2 and
  // W5.1, labelled in litres at 800 g/L; `count` packages of 250 L.
  void IssueMixture(int count) {
    v1::Product p = registry::testing::ExampleMethanol(kProducer, "X01");
    p.set_name_zh("测试混合物");
    p.clear_cas();
    p.set_catalogue_number(0);
    p.add_major_hazard_categories("W5.2");
    p.add_major_hazard_categories("W5.1");
    p.set_density_grams_per_litre(800);
    absl::Status s = t_->RegisterProduct(admin_, p);
    ASSERT_TRUE(s.ok()) << s;
    absl::StatusOr<label::Issuance> issued =
        t_->IssueBatch(producer_, kProducer, "X01", "B1", count, "250", "LTR");
    ASSERT_TRUE(issued.ok()) << issued.status();
  }
  static std::string Mixture(int serial) { return absl::StrCat(kProducer, ".X01.B1.", serial); }
  v1::Event At(v1::Event e, const std::string& site) {
    e.mutable_location()->set_site(site);
    return e;
  }
  std::optional<state::MajorHazardStatus> Status(const std::string& site) {
    absl::StatusOr<std::optional<state::MajorHazardStatus>> s =
        FindMajorHazardStatus(*t_->snapshot(), kProducer, site);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? *s : std::nullopt;
  }
  std::vector<v1::MajorHazardAlert> Pending() {
    std::vector<v1::MajorHazardAlert> out;
    absl::Status s = ScanPendingMajorHazardAlerts(*t_->snapshot(), [&](const auto& a) {
      out.push_back(a);
      return true;
    });
    EXPECT_TRUE(s.ok()) << s;
    return out;
  }
  std::vector<v1::RecordedMajorHazardAlert> Recorded(const std::string& custodian = "") {
    std::vector<v1::RecordedMajorHazardAlert> out;
    absl::Status s = ScanMajorHazardAlerts(*t_->snapshot(), custodian, 0, [&](const auto& a) {
      out.push_back(a);
      return true;
    });
    EXPECT_TRUE(s.ok()) << s;
    return out;
  }
  v1::MajorHazardAssessment Assess(const std::string& site, uint32_t alpha_tenths) {
    absl::StatusOr<std::vector<ProductLoad>> loads =
        SiteProductLoads(*t_->snapshot(), kProducer, site);
    EXPECT_TRUE(loads.ok()) << loads.status();
    absl::StatusOr<v1::MajorHazardAssessment> a = AssessMajorHazard(
        *t_->snapshot(), loads.ok() ? *loads : std::vector<ProductLoad>{}, alpha_tenths);
    EXPECT_TRUE(a.ok()) << a.status();
    return a.ok() ? *a : v1::MajorHazardAssessment();
  }
  // Records what is waiting, with a recorder of the test's own; how many.
  int RecordAlerts() {
    MajorHazardAlertRecorder recorder(&t_->client(), absl::Hours(1));
    absl::StatusOr<int> n = recorder.RecordWaiting();
    EXPECT_TRUE(n.ok()) << n.status();
    return n.ok() ? *n : -1;
  }
};

TEST(MajorHazardGrade, FollowsTheStandardsBoundsOfR) {
  EXPECT_EQ(GradeForR(100 * kBillion), v1::GRADE_1);
  EXPECT_EQ(GradeForR(100 * kBillion - 1), v1::GRADE_2);
  EXPECT_EQ(GradeForR(50 * kBillion), v1::GRADE_2);
  EXPECT_EQ(GradeForR(50 * kBillion - 1), v1::GRADE_3);
  EXPECT_EQ(GradeForR(10 * kBillion), v1::GRADE_3);
  EXPECT_EQ(GradeForR(10 * kBillion - 1), v1::GRADE_4);
  EXPECT_EQ(GradeForR(0), v1::GRADE_4);
}

// Goods stored at a site until Σ q/Q crosses 1: the alert is recorded once,
// the grade is the standard's formula by hand; a grade change and moving
// goods out are alerts of their own; the state rebuilt from the log agrees.
TEST_F(MajorHazardTest, ASiteCrossingOneIsAlertedOnceAndGradedByTheFormula) {
  ASSERT_NO_FATAL_FAILURE(RegisterSite("WH-3", 20));  // α = 2.0
  ASSERT_NO_FATAL_FAILURE(RegisterSite("WH-4", 0));   // no α
  // Before any thresholds table, nothing is assessed.
  Ok(producer_, At(Event(v1::COMMISSIONING, kProducer, {Code(1)}), "WH-3"));
  EXPECT_TRUE(Assess("WH-3", 20).thresholds_version().empty());
  EXPECT_FALSE(Status("WH-3"));
  ASSERT_NO_FATAL_FAILURE(ImportThresholds("t1", "0.05"));

  // 25 kg + 25 kg of methanol against Q = 50 kg: S reaches exactly 1 with
  // the second drum.
  Ok(producer_, At(Event(v1::COMMISSIONING, kProducer, {Code(2)}), "WH-4"));
  EXPECT_FALSE(Status("WH-4"));  // 0.5
  EXPECT_TRUE(Pending().empty());
  const EventReceipt crossing =
      Ok(producer_, At(Event(v1::COMMISSIONING, kProducer, {Code(3)}), "WH-3"));
  const double s1 = S({{25 + 25, 50}});
  ASSERT_EQ(s1, 1.0);
  const double r1 = 2.0 * (2 * s1);  // α 2.0, β 2
  std::optional<state::MajorHazardStatus> wh3 = Status("WH-3");
  ASSERT_TRUE(wh3);
  EXPECT_TRUE(wh3->assessment().major_hazard());
  EXPECT_EQ(wh3->assessment().sum_billionths(), static_cast<uint64_t>(s1 * kBillion));
  EXPECT_EQ(wh3->assessment().r_billionths(), static_cast<uint64_t>(r1 * kBillion));
  EXPECT_EQ(wh3->assessment().grade(), v1::GRADE_4);  // R = 4 < 10
  EXPECT_EQ(wh3->assessment().thresholds_version(), "t1");
  // The status keeps the figures; each product's share is computed live.
  EXPECT_EQ(wh3->assessment().contributions_size(), 0);
  v1::MajorHazardAssessment live = Assess("WH-3", 20);
  EXPECT_EQ(live.sum_billionths(), wh3->assessment().sum_billionths());
  ASSERT_EQ(live.contributions_size(), 1);
  EXPECT_EQ(live.contributions(0).quantity_grams(), 50000u);
  EXPECT_EQ(live.contributions(0).threshold_key(), "67-56-1");
  EXPECT_FALSE(live.contributions(0).by_category());
  EXPECT_EQ(live.contributions(0).ratio_billionths(), kBillion);
  EXPECT_EQ(wh3->changed_at_log_index(), crossing.log_index);
  EXPECT_EQ(wh3->alert_log_index(), 0u);
  std::vector<v1::MajorHazardAlert> pending = Pending();
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending[0].event_log_index(), crossing.log_index);
  EXPECT_FALSE(pending[0].was_major_hazard());
  EXPECT_TRUE(pending[0].major_hazard());
  EXPECT_EQ(pending[0].grade(), v1::GRADE_4);

  // The alert entry: recorded once, whoever records it and however often.
  const uint64_t alert_index = LogSize();
  EXPECT_EQ(RecordAlerts(), 1);
  EXPECT_EQ(RecordAlerts(), 0);
  EXPECT_TRUE(Pending().empty());
  std::vector<v1::RecordedMajorHazardAlert> recorded = Recorded();
  ASSERT_EQ(recorded.size(), 1u);
  EXPECT_EQ(recorded[0].log_index(), alert_index);
  EXPECT_EQ(recorded[0].alert().site_id(), "WH-3");
  EXPECT_EQ(Recorded(kProducer).size(), 1u);
  EXPECT_TRUE(Recorded(kWarehouse).empty());
  EXPECT_EQ(Status("WH-3")->alert_log_index(), alert_index);
  // The same alert submitted again is the same entry, not a second one; an
  // alert no event left is refused.
  journal::Request again;
  again.envelope.set_payload_type(api::kMajorHazardAlertPayloadType);
  again.envelope.set_payload(recorded[0].alert().SerializeAsString());
  std::vector<journal::Request> one;
  one.push_back(again);
  std::vector<absl::StatusOr<journal::Receipt>> replay = t_->client().Submit(std::move(one));
  ASSERT_TRUE(replay[0].ok()) << replay[0].status();
  EXPECT_TRUE(replay[0]->replayed);
  v1::MajorHazardAlert forged = recorded[0].alert();
  forged.set_event_log_index(crossing.log_index + 1);
  journal::Request made_up;
  made_up.envelope.set_payload_type(api::kMajorHazardAlertPayloadType);
  made_up.envelope.set_payload(forged.SerializeAsString());
  one.clear();
  one.push_back(made_up);
  std::vector<absl::StatusOr<journal::Receipt>> refused = t_->client().Submit(std::move(one));
  EXPECT_EQ(refused[0].status().code(), absl::StatusCode::kFailedPrecondition)
      << refused[0].status();
  EXPECT_EQ(Recorded().size(), 1u);

  // Another drum: still 四级, no alert.
  Ok(producer_, At(Event(v1::COMMISSIONING, kProducer, {Code(4)}), "WH-3"));
  EXPECT_TRUE(Pending().empty());
  EXPECT_EQ(Status("WH-3")->assessment().sum_billionths(), 3 * kBillion / 2);

  // A mixture by category (the lower Q of W5.2 and W5.1), weighed from
  // litres by its density: 2 × 250 L × 0.8 kg/L = 400 kg against 200 kg.
  ASSERT_NO_FATAL_FAILURE(IssueMixture(2));
  const EventReceipt regrade =
      Ok(producer_, At(Event(v1::COMMISSIONING, kProducer, {Mixture(1), Mixture(2)}), "WH-3"));
  const double s2 = S({{75, 50}, {2 * 250 * 0.8, 200}});
  const double r2 = 2.0 * (2 * (75.0 / 50) + 1.5 * (400.0 / 200));
  ASSERT_EQ(r2, 12.0);
  wh3 = Status("WH-3");
  ASSERT_TRUE(wh3);
  EXPECT_EQ(wh3->assessment().sum_billionths(), static_cast<uint64_t>(s2 * kBillion));
  EXPECT_EQ(wh3->assessment().r_billionths(), static_cast<uint64_t>(r2 * kBillion));
  EXPECT_EQ(wh3->assessment().grade(), v1::GRADE_3);  // 10 ≤ R < 50
  live = Assess("WH-3", 20);
  EXPECT_EQ(live.r_billionths(), wh3->assessment().r_billionths());
  ASSERT_EQ(live.contributions_size(), 2);
  const v1::MajorHazardContribution& mixture = live.contributions(1);
  EXPECT_EQ(mixture.product_number(), "X01");
  EXPECT_TRUE(mixture.by_category());
  EXPECT_EQ(mixture.threshold_key(), "W5.2");
  EXPECT_EQ(mixture.quantity_grams(), 400000u);
  pending = Pending();
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending[0].event_log_index(), regrade.log_index);
  EXPECT_TRUE(pending[0].was_major_hazard());
  EXPECT_EQ(pending[0].previous_grade(), v1::GRADE_4);
  EXPECT_EQ(pending[0].grade(), v1::GRADE_3);
  EXPECT_EQ(RecordAlerts(), 1);

  // Moving goods out (stored at WH-4) brings WH-3 back under 1: an alert,
  // and no status; WH-4 crosses without α: no grade.
  const EventReceipt out =
      Ok(producer_,
         At(Event(v1::STORING, kProducer, {Code(3), Code(4), Mixture(1), Mixture(2)}), "WH-4"));
  EXPECT_FALSE(Status("WH-3"));
  EXPECT_EQ(Assess("WH-3", 20).sum_billionths(), kBillion / 2);
  std::optional<state::MajorHazardStatus> wh4 = Status("WH-4");
  ASSERT_TRUE(wh4);
  EXPECT_EQ(wh4->assessment().grade(), v1::MAJOR_HAZARD_GRADE_UNSPECIFIED);
  EXPECT_EQ(wh4->assessment().r_billionths(), 0u);
  pending = Pending();
  ASSERT_EQ(pending.size(), 2u);
  for (const v1::MajorHazardAlert& a : pending) EXPECT_EQ(a.event_log_index(), out.log_index);
  EXPECT_EQ(RecordAlerts(), 2);
  recorded = Recorded();
  ASSERT_EQ(recorded.size(), 4u);
  EXPECT_EQ(recorded[2].alert().site_id(), "WH-3");
  EXPECT_FALSE(recorded[2].alert().major_hazard());
  EXPECT_TRUE(recorded[2].alert().was_major_hazard());
  EXPECT_EQ(recorded[3].alert().site_id(), "WH-4");
  EXPECT_NE(MajorHazardAlertText(recorded[2].alert()).find("不再构成重大危险源"),
            std::string::npos);

  // A new thresholds version governs from the next event on.
  ASSERT_NO_FATAL_FAILURE(ImportThresholds("t2", "0.025"));
  Ok(producer_, At(Event(v1::COMMISSIONING, kProducer, {Code(5)}), "WH-3"));
  wh3 = Status("WH-3");
  ASSERT_TRUE(wh3);  // 50 kg against 25 kg
  EXPECT_EQ(wh3->assessment().thresholds_version(), "t2");
  EXPECT_EQ(wh3->assessment().sum_billionths(), 2 * kBillion);

  // The state is state like any other: a rebuild from the log agrees.
  ExpectCheckPasses();
  t_->Reopen();
  ExpectCheckPasses();
  EXPECT_EQ(Status("WH-3")->assessment().sum_billionths(), 2 * kBillion);
}

// The deployment's ledger, except that the first `failures` submissions
// fail as a commit that could not be written would.
class FailingFirstSubmissions : public journal::LedgerClient {
 public:
  FailingFirstSubmissions(journal::LedgerClient* ledger, int failures)
      : ledger_(ledger), failures_(failures) {}
  std::vector<absl::StatusOr<journal::Receipt>> Submit(
      std::vector<journal::Request> requests) override {
    {
      absl::MutexLock lock(&mu_);
      if (failures_ > 0) {
        --failures_;
        return std::vector<absl::StatusOr<journal::Receipt>>(
            requests.size(), absl::UnavailableError("test: the commit could not be written"));
      }
    }
    return ledger_->Submit(std::move(requests));
  }
  std::shared_ptr<const storage::Snapshot> Latest() override { return ledger_->Latest(); }
  absl::Status Writable() override { return ledger_->Writable(); }
  void Keep(std::shared_ptr<const storage::Snapshot> snapshot) override {
    ledger_->Keep(std::move(snapshot));
  }
  absl::StatusOr<std::shared_ptr<const storage::Snapshot>> At(uint64_t size) override {
    return ledger_->At(size);
  }

 private:
  journal::LedgerClient* const ledger_;
  absl::Mutex mu_;
  int failures_ ABSL_GUARDED_BY(mu_);
};

TEST_F(MajorHazardTest, AnAlertWhoseEntryFailedIsTriedAgainWhileTheLogStaysQuiet) {
  ASSERT_NO_FATAL_FAILURE(RegisterSite("WH-3", 20));
  ASSERT_NO_FATAL_FAILURE(ImportThresholds("t1", "0.05"));
  Ok(producer_, At(Event(v1::COMMISSIONING, kProducer, {Code(1)}), "WH-3"));
  Ok(producer_, At(Event(v1::COMMISSIONING, kProducer, {Code(2)}), "WH-3"));  // S = 1
  ASSERT_EQ(Pending().size(), 1u);
  // The recorder's first try fails; nothing else is written after it, so
  // the try a second later must come from the recorder alone.
  FailingFirstSubmissions ledger(&t_->client(), 1);
  MajorHazardAlertRecorder recorder(&ledger, absl::Milliseconds(20));
  // The failed alert waits (its next try is a second away).
  const absl::Time failed_by = absl::Now() + absl::Seconds(10);
  while (recorder.counters().failed == 0 && absl::Now() < failed_by) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  ASSERT_EQ(recorder.counters().failed, 1u);
  // Waiting, unless this thread was held up past the retry (which sets the
  // count to 0 as it counts the alert recorded, under one lock).
  const size_t waiting = recorder.waiting();
  if (recorder.counters().recorded == 0) {
    EXPECT_EQ(waiting, 1u);
  }
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (!Pending().empty() && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(50));
  EXPECT_TRUE(Pending().empty()) << "the alert was not tried again";
  EXPECT_EQ(Recorded().size(), 1u);
  EXPECT_EQ(recorder.counters().failed, 1u);
  EXPECT_EQ(recorder.counters().recorded, 1u);
  // The try came a second after the failure; polling every 20 ms, a
  // recorder that looked at the state every round while the alert waited
  // would have scanned it about 50 times. It looks when the log grows (its
  // own entries) and when the retry is due.
  absl::SleepFor(absl::Milliseconds(100));  // its look after its own entry
  const uint64_t scans = recorder.scans();
  EXPECT_LE(scans, 8u);
  // Settled: nothing waits and the log is quiet.
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_EQ(recorder.scans(), scans);
  EXPECT_EQ(recorder.waiting(), 0u);
}

// Entries of an epoch before identification (a deployment pinned to an
// older --rules-epoch) keep the stock per product but identify nothing.
TEST_F(MajorHazardTest, EntriesOfAnEarlierRulesEpochIdentifyNothing) {
  ASSERT_NO_FATAL_FAILURE(RegisterSite("WH-3", 20));
  ASSERT_NO_FATAL_FAILURE(ImportThresholds("t1", "0.05"));
  chemledger::testing::TestLedgerOptions epoch6;
  epoch6.rules_epoch = 6;
  t_->Reopen(epoch6);
  Ok(producer_, At(Event(v1::COMMISSIONING, kProducer, {Code(1), Code(2), Code(3)}), "WH-3"));
  EXPECT_FALSE(Status("WH-3"));
  EXPECT_TRUE(Pending().empty());
  EXPECT_EQ(Assess("WH-3", 20).sum_billionths(), 3 * kBillion / 2);  // the stock is kept
  ExpectCheckPasses();
  // From epoch 7 the next event there identifies it.
  t_->Reopen(chemledger::testing::TestLedgerOptions());
  Ok(producer_, At(Event(v1::COMMISSIONING, kProducer, {Code(4)}), "WH-3"));
  ASSERT_TRUE(Status("WH-3"));
  EXPECT_EQ(Status("WH-3")->assessment().sum_billionths(), 2 * kBillion);
  EXPECT_EQ(Pending().size(), 1u);
  ExpectCheckPasses();
}

TEST_F(MajorHazardTest, StockThatCannotBeWeighedOrHasNoThresholdIsListedNotCounted) {
  ASSERT_NO_FATAL_FAILURE(RegisterSite("WH-3", 10));
  ASSERT_NO_FATAL_FAILURE(ImportThresholds("t1", "0.05"));
  v1::Product p = registry::testing::ExampleMethanol(kProducer, "X02");
  p.clear_cas();
  p.set_catalogue_number(0);
  p.add_major_hazard_categories("W9");  // not in the table
  absl::Status s = t_->RegisterProduct(admin_, p);
  ASSERT_TRUE(s.ok()) << s;
  v1::Product v = registry::testing::ExampleMethanol(kProducer, "X03");  // litres, no density
  s = t_->RegisterProduct(admin_, v);
  ASSERT_TRUE(s.ok()) << s;
  ASSERT_TRUE(t_->IssueBatch(producer_, kProducer, "X02", "B1", 1, "10", "KGM").ok());
  ASSERT_TRUE(t_->IssueBatch(producer_, kProducer, "X03", "B1", 1, "10", "LTR").ok());
  Ok(producer_,
     At(Event(v1::COMMISSIONING, kProducer,
              {absl::StrCat(kProducer, ".X02.B1.1"), absl::StrCat(kProducer, ".X03.B1.1")}),
        "WH-3"));
  const v1::MajorHazardAssessment a = Assess("WH-3", 10);
  EXPECT_EQ(a.thresholds_version(), "t1");
  EXPECT_EQ(a.sum_billionths(), 0u);
  EXPECT_EQ(a.grade(), v1::NOT_A_MAJOR_HAZARD);
  ASSERT_EQ(a.uncounted_size(), 2);
  EXPECT_EQ(a.uncounted(0).product_number(), "X03");
  EXPECT_EQ(a.uncounted(0).reason(), "no-density");
  EXPECT_EQ(a.uncounted(1).product_number(), "X02");
  EXPECT_EQ(a.uncounted(1).reason(), "no-threshold");
  EXPECT_EQ(a.uncounted(1).quantity_milli(), 10000000u);  // 10 kg as thousandths of a gram
}

}  // namespace
}  // namespace chemledger::ledger
