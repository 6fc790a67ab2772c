// Refused requests recorded in the log (refusals.h, refusal_recorder.h) and
// the anomaly list over them (anomalies.h), on a real journal and store.

#include "services/audit/refusals.h"

#include <memory>
#include <set>

#include "crypto/label.h"
#include "crypto/merkle.h"
#include "gtest/gtest.h"
#include "journal/journal.h"
#include "services/audit/anomalies.h"
#include "services/audit/refusal_recorder.h"
#include "services/ledger/lifecycle_rules.h"
#include "services/ledger/lifecycle_testing.h"

namespace chemledger::audit {
namespace {

using ledger::lifecycle_testing::kCarrier;
using ledger::lifecycle_testing::kProducer;
using ledger::lifecycle_testing::kUser;
using ledger::lifecycle_testing::kWarehouse;

class RefusalsTest : public ledger::lifecycle_testing::LifecycleFixture {
 protected:
  void SetUp() override {
    LifecycleFixture::SetUp();
    recorder_ = std::make_unique<RefusalRecorder>(
        &t_->client(), nullptr,
        [this](const storage::StateReader& state,
               const v1::SignedEnvelope& request) -> absl::StatusOr<bool> {
          if (request.payload_type() != api::kEventContext.payload_type()) return false;
          return journal::AlreadyAccepted(state, lifecycle_rules_, request);
        });
    recording_ = std::make_unique<ledger::Ledger>(&t_->client(), recorder_.get());
  }
  void TearDown() override {
    recording_.reset();
    recorder_.reset();
  }
  // Appends through the recording ledger; returns the refusal.
  absl::Status Attempt(const crypto::SigningKey& key, const v1::Event& e) {
    absl::StatusOr<ledger::EventReceipt> r = recording_->Append(Signed(key, e));
    return r.ok() ? absl::OkStatus() : r.status();
  }
  // The producer tries `n` times to use more of Code(1) than it holds
  // (commissioned here), each refused: event ids "<id_prefix>-<i>".
  void AttemptOverConsumption(const std::string& id_prefix, int n) {
    Commission({1});
    v1::Event use = Event(v1::CONSUMING, kProducer, {Code(1)});
    for (int i = 0; i < n; ++i) {
      use.set_event_id(absl::StrCat(id_prefix, "-", i));
      use.set_quantity_milli(99000000 + i);
      ASSERT_FALSE(Attempt(producer_, use).ok());
    }
    recorder_->Flush();
  }
  // The platform administrator's revocation of `key`, signed.
  v1::SignedEnvelope RevocationOf(const crypto::SigningKey& key, const std::string& reason) {
    v1::RegistryRequest revoke;
    revoke.set_request_id("revoke-" + key.key_id().ToString());
    revoke.mutable_revoke_key()->set_key_id(key.key_id().ToString());
    revoke.mutable_revoke_key()->set_reason(reason);
    absl::StatusOr<v1::SignedEnvelope> env =
        envelope::Sign(api::kRegistryContext, revoke.SerializeAsString(), admin_);
    EXPECT_TRUE(env.ok()) << env.status();
    return env.ok() ? *std::move(env) : v1::SignedEnvelope();
  }
  // Ships code `n` (commissioned) to the warehouse on waybill WB-LATE;
  // `planned` is its planned arrival.
  void ShipLate(int n, absl::Time* planned) {
    SubmitWaybill("WB-LATE", kProducer, kWarehouse, {Code(n)});
    v1::Event ship = Event(v1::SHIPPING, kProducer, {Code(n)});
    ship.set_consignee_uscc(kWarehouse);
    ship.set_waybill_id("WB-LATE");
    Ok(producer_, ship);
    std::optional<waybill::WaybillState> w = FindWaybill("WB-LATE");
    ASSERT_TRUE(w.has_value());
    ASSERT_TRUE(w->waybill.has_planned_arrival());
    *planned = absl::FromUnixSeconds(w->waybill.planned_arrival().seconds());
  }
  std::vector<v1::Anomaly> Anomalies(const v1::Actor& reader, v1::ListAnomaliesRequest r = {}) {
    std::vector<v1::Anomaly> out;
    for (int pages = 0; pages < 1000; ++pages) {
      absl::StatusOr<v1::Anomalies> page = ListAnomalies(*t_->snapshot(), reader, r, absl::Now());
      EXPECT_TRUE(page.ok()) << page.status();
      if (!page.ok()) break;
      for (const v1::Anomaly& a : page->anomalies()) out.push_back(a);
      if (page->next_after_log_index() == 0) break;
      r.set_after_log_index(page->next_after_log_index());
    }
    return out;
  }

  ledger::LifecycleRules lifecycle_rules_;
  std::optional<AnomalySubscription> subscription_;
  std::unique_ptr<RefusalRecorder> recorder_;
  std::unique_ptr<ledger::Ledger> recording_;
};

TEST_F(RefusalsTest, ARefusedEventIsRecordedWithWhoWhatWhy) {
  Commission({1});
  v1::Event use = Event(v1::CONSUMING, kProducer, {Code(1)});
  use.set_quantity_milli(99000000);  // more than the 25 kg it holds
  const absl::Status refused = Attempt(producer_, use);
  ASSERT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition) << refused;
  recorder_->Flush();
  EXPECT_EQ(recorder_->counters().recorded, 1u);

  const std::vector<v1::Anomaly> listed = Anomalies(ActorOf(regulator_));
  ASSERT_EQ(listed.size(), 1u);
  const v1::Anomaly& a = listed[0];
  EXPECT_EQ(a.kind(), v1::REFUSED_REQUEST);
  EXPECT_EQ(a.refusal_kind(), v1::OVER_CONSUMPTION);
  EXPECT_EQ(a.enterprise_uscc(), kProducer);
  EXPECT_EQ(a.signer_key_id(), producer_.key_id().ToString());
  EXPECT_EQ(a.refusal_code(), static_cast<int>(absl::StatusCode::kFailedPrecondition));
  EXPECT_NE(a.detail().find("is more than the"), std::string::npos) << a.detail();
  // The entry holds the request exactly as it was signed.
  v1::LogEntry entry;
  ASSERT_TRUE(entry.ParseFromString(*t_->snapshot()->Entry(a.log_index())));
  v1::RefusedRequest recorded;
  ASSERT_TRUE(recorded.ParseFromString(entry.envelope().payload()));
  EXPECT_EQ(recorded.request().SerializeAsString(), Signed(producer_, use).SerializeAsString());

  // The same request again is the same entry; the state rebuilds from the log.
  ASSERT_FALSE(Attempt(producer_, use).ok());
  recorder_->Flush();
  EXPECT_EQ(Anomalies(ActorOf(regulator_)).size(), 1u);
  ExpectCheckPasses();
}

// A regulator that reads everything gets the entries that are the
// anomalies' evidence, each the leaf the log's tree holds; nobody else does.
TEST_F(RefusalsTest, TheEvidenceIsTheLoggedEntry) {
  ASSERT_NO_FATAL_FAILURE(AttemptOverConsumption("evidence", 3));
  v1::ListAnomaliesRequest request;
  request.set_with_evidence(true);
  absl::StatusOr<v1::Anomalies> page =
      ListAnomalies(*t_->snapshot(), ActorOf(regulator_), request, absl::Now());
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->anomalies_size(), 3);
  ASSERT_EQ(page->evidence_size(), 3);
  for (int i = 0; i < 3; ++i) {
    const v1::AnomalyEvidence& e = page->evidence(i);
    EXPECT_EQ(e.log_index(), page->anomalies(i).log_index());
    absl::StatusOr<crypto::Sha256Digest> leaf = t_->snapshot()->LeafHash(e.log_index());
    ASSERT_TRUE(leaf.ok());
    EXPECT_EQ(crypto::HashLeaf(e.entry()), *leaf);
    v1::LogEntry entry;
    ASSERT_TRUE(entry.ParseFromString(e.entry()));
    v1::RefusedRequest refused;
    ASSERT_TRUE(refused.ParseFromString(entry.envelope().payload()));
    EXPECT_EQ(refused.kind(), v1::OVER_CONSUMPTION);
  }
  // Without asking, none.
  request.set_with_evidence(false);
  page = ListAnomalies(*t_->snapshot(), ActorOf(regulator_), request, absl::Now());
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->evidence_size(), 0);
  // An enterprise reads its own anomalies, not their entries; a page of
  // evidence holds at most 100.
  request.set_with_evidence(true);
  page = ListAnomalies(*t_->snapshot(), ActorOf(producer_), request, absl::Now());
  EXPECT_EQ(page.status().code(), absl::StatusCode::kPermissionDenied) << page.status();
  EXPECT_NE(page.status().message().find("with_evidence:"), std::string::npos);
  request.set_page_size(101);
  page = ListAnomalies(*t_->snapshot(), ActorOf(regulator_), request, absl::Now());
  EXPECT_EQ(page.status().code(), absl::StatusCode::kInvalidArgument) << page.status();
}

// A page of evidence holds under kMaxAnomalyEvidenceBytes of entries: it is
// cut after a whole entry and the rest come on the next pages, every anomaly
// once and each with its entry.
TEST_F(RefusalsTest, APageOfEvidenceStaysUnderItsBudget) {
  Commission({1});
  // A field its step does not read, refused by the rules and recorded with
  // the request: each refusal's entry about 200 KiB, twelve of them over
  // 2 MiB.
  v1::Event use = Event(v1::CONSUMING, kProducer, {Code(1)});
  use.set_reason(std::string(200 * 1024, 'x'));
  constexpr int kRefusals = 12;
  for (int i = 0; i < kRefusals; ++i) {
    use.set_event_id(absl::StrCat("large-", i));
    use.set_quantity_milli(99000000 + i);
    ASSERT_EQ(Attempt(producer_, use).code(), absl::StatusCode::kInvalidArgument);
  }
  recorder_->Flush();
  ASSERT_EQ(recorder_->counters().recorded, static_cast<uint64_t>(kRefusals));

  v1::ListAnomaliesRequest request;
  request.set_with_evidence(true);
  std::set<uint64_t> seen;
  int pages = 0;
  for (; pages < 20; ++pages) {
    absl::StatusOr<v1::Anomalies> page =
        ListAnomalies(*t_->snapshot(), ActorOf(regulator_), request, absl::Now());
    ASSERT_TRUE(page.ok()) << page.status();
    ASSERT_GT(page->anomalies_size(), 0);
    ASSERT_EQ(page->evidence_size(), page->anomalies_size());
    size_t bytes = 0;
    for (int i = 0; i < page->anomalies_size(); ++i) {
      const v1::AnomalyEvidence& e = page->evidence(i);
      EXPECT_EQ(e.log_index(), page->anomalies(i).log_index());
      EXPECT_TRUE(seen.insert(e.log_index()).second) << "listed twice: " << e.log_index();
      EXPECT_GT(e.entry().size(), 200u * 1024);
      bytes += e.entry().size();
    }
    EXPECT_LE(bytes, kMaxAnomalyEvidenceBytes);
    if (page->next_after_log_index() == 0) break;
    request.set_after_log_index(page->next_after_log_index());
  }
  EXPECT_EQ(seen.size(), static_cast<size_t>(kRefusals));
  EXPECT_GE(pages + 1, 2) << "2.4 MiB of entries fit one page";
}

// An observation recorded by an enterprise outside a regional regulator's
// jurisdiction, of a package of one inside, is listed to it without its
// entry (which would show the rest of that enterprise's event); a national
// regulator gets it.
TEST_F(RefusalsTest, EvidenceOnlyOfWhatTheReaderReadsWhole) {
  Commission({1});
  const crypto::SigningKey city = chemledger::testing::TestKey(70);
  ASSERT_TRUE(t_->AddActor(admin_, "", v1::REGULATOR, city, "city inspector").ok());
  v1::RegistryRequest assign;
  assign.mutable_assign_regulator()->set_key_id(city.key_id().ToString());
  assign.mutable_assign_regulator()->set_department(v1::EMERGENCY_MANAGEMENT);
  assign.mutable_assign_regulator()->mutable_jurisdiction()->set_region_prefix("3501");
  absl::StatusOr<journal::Receipt> assigned = t_->Registry(admin_, assign);
  ASSERT_TRUE(assigned.ok()) << assigned.status();
  // The warehouse (region 350200) scans the producer's (350100) package.
  Ok(warehouse_, Event(v1::OBSERVING, kWarehouse, {Code(1)}));
  v1::ListAnomaliesRequest request;
  request.add_kinds(v1::CLONE_SIGNAL);
  request.set_with_evidence(true);
  absl::StatusOr<v1::Anomalies> page =
      ListAnomalies(*t_->snapshot(), ActorOf(city), request, absl::Now());
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->anomalies_size(), 1);
  EXPECT_EQ(page->anomalies(0).enterprise_uscc(), kProducer);
  EXPECT_EQ(page->evidence_size(), 0);
  page = ListAnomalies(*t_->snapshot(), ActorOf(regulator_), request, absl::Now());
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->evidence_size(), 1);
  EXPECT_EQ(page->evidence(0).log_index(), page->anomalies(0).log_index());
}

TEST_F(RefusalsTest, EachKindOfRuleIsNamed) {
  Commission({1, 2});
  v1::Event use = Event(v1::CONSUMING, kProducer, {Code(1)});
  use.set_quantity_milli(25000);
  Ok(producer_, use);  // used up
  v1::Event again = Event(v1::CONSUMING, kProducer, {Code(1)});
  again.set_quantity_milli(1);
  ASSERT_FALSE(Attempt(producer_, again).ok());
  SubmitWaybill("WB-R1", kProducer, kWarehouse, {Code(2)});
  v1::Event ship = Event(v1::SHIPPING, kProducer, {Code(2)});
  ship.set_consignee_uscc(kWarehouse);
  ship.set_waybill_id("WB-R1");
  Ok(producer_, ship);
  ASSERT_FALSE(Attempt(user_, Event(v1::RECEIVING, kUser, {Code(2)})).ok());
  // Forged labels in circulation: one no label key of the ledger signed
  // (refused with the event's signature, before the ledger orders it), and
  // one the log never issued, made with the ledger's own key as a leaked
  // key would be (refused as the ledger orders it).
  absl::StatusOr<crypto::ParsedLabel> genuine = crypto::ParseLabelUrl(LabelUrl(Code(1)));
  ASSERT_TRUE(genuine.ok());
  absl::StatusOr<std::string> forged =
      crypto::MakeLabelUrl(genuine->claims, chemledger::testing::TestKey(60));
  ASSERT_TRUE(forged.ok());
  v1::Event seen = Event(v1::OBSERVING, kWarehouse, {Code(1)});
  seen.set_label_urls(0, *forged);
  EXPECT_EQ(Attempt(warehouse_, seen).code(), absl::StatusCode::kPermissionDenied);
  absl::StatusOr<const crypto::SigningKey*> label_key = t_->keyring().Find(genuine->key_id);
  ASSERT_TRUE(label_key.ok()) << label_key.status();
  crypto::LabelClaims unissued = genuine->claims;
  unissued.serial = 77;
  forged = crypto::MakeLabelUrl(unissued, **label_key);
  ASSERT_TRUE(forged.ok());
  seen = Event(v1::OBSERVING, kWarehouse, {kProducer + ".M01.B1.77"});
  seen.set_label_urls(0, *forged);
  EXPECT_EQ(Attempt(warehouse_, seen).code(), absl::StatusCode::kPermissionDenied);
  recorder_->Flush();
  std::vector<v1::RefusalKind> kinds;
  for (const v1::Anomaly& a : Anomalies(ActorOf(regulator_))) kinds.push_back(a.refusal_kind());
  EXPECT_EQ(kinds, (std::vector<v1::RefusalKind>{v1::AFTER_TERMINAL_STATE, v1::WRONG_CONSIGNEE,
                                                 v1::FORGED_LABEL, v1::FORGED_LABEL}));
  // The user sees its own attempt, without the full reason, and without
  // the kind: it was told only that the package is none of its business,
  // and learns no more here. The producer sees its own.
  const std::vector<v1::Anomaly> users = Anomalies(ActorOf(user_));
  ASSERT_EQ(users.size(), 1u);
  EXPECT_EQ(users[0].refusal_kind(), v1::REFUSAL_KIND_UNSPECIFIED);
  EXPECT_TRUE(users[0].detail().empty());
  EXPECT_EQ(Anomalies(ActorOf(producer_)).size(), 1u);
  EXPECT_EQ(Anomalies(ActorOf(warehouse_)).size(), 2u);
}

TEST_F(RefusalsTest, ARevokedKeysAttemptIsRecordedButAForgeryIsNot) {
  Commission({1});
  const v1::SignedEnvelope revoke = RevocationOf(user_, "lost phone");
  const v1::SignedEnvelope* one[] = {&revoke};
  // The user's scan, accepted before its key is revoked.
  const v1::Event scanned = Event(v1::OBSERVING, kUser, {Code(1)});
  ASSERT_TRUE(Attempt(user_, scanned).ok());
  ASSERT_TRUE(registry::SubmitSigned(t_->client(), one, api::kRegistryContext)[0].ok());
  ASSERT_FALSE(Attempt(user_, Event(v1::OBSERVING, kUser, {Code(1)})).ok());
  // Someone replays the accepted scan: refused (revoked key), not recorded
  // as the user's attempt.
  ASSERT_FALSE(Attempt(user_, scanned).ok());
  // A request naming the producer's key with a signature that is not its.
  v1::SignedEnvelope forged = Signed(producer_, Event(v1::STORING, kProducer, {Code(1)}));
  forged.mutable_payload()->append("x");
  recorder_->Refused(forged, absl::FailedPreconditionError("made up"));
  recorder_->Flush();
  const RefusalRecorder::Counters c = recorder_->counters();
  EXPECT_EQ(c.recorded, 1u);
  EXPECT_EQ(c.unverified, 1u);
  EXPECT_EQ(c.replays, 1u);
  v1::ListAnomaliesRequest refusals;
  refusals.add_kinds(v1::REFUSED_REQUEST);
  const std::vector<v1::Anomaly> listed = Anomalies(ActorOf(regulator_), refusals);
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].refusal_kind(), v1::REVOKED_KEY);
  EXPECT_EQ(listed[0].signer_key_id(), user_.key_id().ToString());
}

TEST_F(RefusalsTest, OneKeyCannotFloodTheLog) {
  ASSERT_NO_FATAL_FAILURE(AttemptOverConsumption("flood", 30));
  const RefusalRecorder::Counters c = recorder_->counters();
  EXPECT_EQ(c.recorded, static_cast<uint64_t>(kRefusalBurstPerKey));
  EXPECT_EQ(c.rate_limited, 30 - static_cast<uint64_t>(kRefusalBurstPerKey));
  // Paged, a few at a time, nothing lost or repeated.
  v1::ListAnomaliesRequest small;
  small.set_page_size(3);
  EXPECT_EQ(Anomalies(ActorOf(regulator_), small).size(), static_cast<size_t>(kRefusalBurstPerKey));
}

// A subscription resumed from an old place tells its backlog a round at a
// time (here a page of 2 a round), every anomaly once and in order, over
// the rounds that follow, though the log does not grow meanwhile; then
// nothing more until it does.
TEST_F(RefusalsTest, ASubscriptionsBacklogIsToldOverTheNextRounds) {
  ASSERT_NO_FATAL_FAILURE(AttemptOverConsumption("backlog", 7));
  const std::vector<v1::Anomaly> all = Anomalies(ActorOf(regulator_));
  ASSERT_EQ(all.size(), 7u);
  v1::ListAnomaliesRequest from_start;
  from_start.add_kinds(v1::REFUSED_REQUEST);
  from_start.set_after_log_index(1);  // resumed from before the backlog
  std::shared_ptr<const storage::Snapshot> s = t_->snapshot();
  AnomalyFeed feed(from_start, s->size(), /*page_size=*/2, /*pages_per_round=*/1);
  const v1::Actor regulator = ActorOf(regulator_);
  const auto list = [&](const v1::ListAnomaliesRequest& r) {
    return ListAnomalies(*s, regulator, r, absl::Now());
  };
  std::vector<uint64_t> told;
  int rounds = 0;
  while (!feed.CaughtUp(s->size()) && rounds < 20) {
    ++rounds;
    absl::StatusOr<bool> listening = feed.Round(s->size(), list, [&](const v1::Anomaly& a) {
      told.push_back(a.log_index());
      return true;
    });
    ASSERT_TRUE(listening.ok()) << listening.status();
    ASSERT_TRUE(*listening);
  }
  EXPECT_GE(rounds, 4);  // 7 anomalies, 2 a round
  std::vector<uint64_t> expected;
  for (const v1::Anomaly& a : all) expected.push_back(a.log_index());
  EXPECT_EQ(told, expected);
  // Caught up: a round tells nothing more at the same size.
  ASSERT_TRUE(feed.Round(s->size(), list,
                         [&](const v1::Anomaly&) {
                           ADD_FAILURE() << "told twice";
                           return true;
                         })
                  .ok());
  // A listener that leaves ends the round with false.
  AnomalyFeed again(from_start, s->size(), 2, 1);
  absl::StatusOr<bool> left =
      again.Round(s->size(), list, [](const v1::Anomaly&) { return false; });
  ASSERT_TRUE(left.ok());
  EXPECT_FALSE(*left);
}

TEST_F(RefusalsTest, CloneSignalsAndControlledLosses) {
  // A 剧毒 product of the producer's, lost.
  v1::Product cyanide = registry::testing::ExampleMethanol(kProducer, "NACN");
  cyanide.set_name_zh("氰化钠");
  cyanide.clear_control_flags();
  for (const char* flag : {"剧毒", "重点监管", "高危"}) cyanide.add_control_flags(flag);
  cyanide.set_cas("143-33-9");
  cyanide.set_un_number("1689");
  cyanide.set_hazard_class("6.1");
  cyanide.set_packing_group("I");
  cyanide.set_catalogue_number(1688);
  absl::Status registered = t_->RegisterProduct(admin_, cyanide);
  ASSERT_TRUE(registered.ok()) << registered;
  absl::StatusOr<label::Issuance> issued =
      t_->IssueBatch(producer_, kProducer, "NACN", "T1", 1, "50", "KGM");
  ASSERT_TRUE(issued.ok()) << issued.status();
  const std::string toxic = absl::StrCat(kProducer, ".NACN.T1.1");
  Ok(producer_, Event(v1::COMMISSIONING, kProducer, {toxic}));
  v1::Event loss = Event(v1::LOSS_REPORT, kProducer, {toxic});
  loss.set_reason("missing at stock-take");
  Ok(producer_, loss);
  // Methanol used up, then scanned by the warehouse: a clone signal.
  Commission({1});
  v1::Event use = Event(v1::CONSUMING, kProducer, {Code(1)});
  use.set_quantity_milli(25000);
  Ok(producer_, use);
  Ok(warehouse_, Event(v1::OBSERVING, kWarehouse, {Code(1)}));

  const std::vector<v1::Anomaly> listed = Anomalies(ActorOf(regulator_));
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0].kind(), v1::CONTROLLED_GOODS_LOST);
  EXPECT_EQ(listed[0].code(), toxic);
  EXPECT_EQ(listed[1].kind(), v1::CLONE_SIGNAL);
  EXPECT_EQ(listed[1].code(), Code(1));
  v1::ListAnomaliesRequest only_losses;
  only_losses.add_kinds(v1::CONTROLLED_GOODS_LOST);
  EXPECT_EQ(Anomalies(ActorOf(regulator_), only_losses).size(), 1u);
  // The custodian of the used-up drum does not hear that it was seen again
  // (it may be the one who copied the label): the regulators do.
  for (const v1::Anomaly& a : Anomalies(ActorOf(producer_))) {
    EXPECT_NE(a.kind(), v1::CLONE_SIGNAL) << a.ShortDebugString();
  }
  ExpectCheckPasses();
}

TEST_F(RefusalsTest, AShipmentNotReceivedByItsPlannedArrivalIsOverdue) {
  Commission({1, 2});
  absl::Time planned;
  ASSERT_NO_FATAL_FAILURE(ShipLate(1, &planned));
  const v1::Actor regulator = ActorOf(regulator_);
  auto overdue_at = [&](absl::Time now, uint32_t grace_minutes = 0) {
    v1::ListAnomaliesRequest r;
    r.set_grace_minutes(grace_minutes);
    absl::StatusOr<v1::Anomalies> a = ListAnomalies(*t_->snapshot(), regulator, r, now);
    EXPECT_TRUE(a.ok()) << a.status();
    return a.ok() ? a->overdue_shipments_size() : -1;
  };
  EXPECT_EQ(overdue_at(planned + absl::Minutes(119)), 0);
  EXPECT_EQ(overdue_at(planned + absl::Minutes(121)), 1);
  EXPECT_EQ(overdue_at(planned + absl::Minutes(121), 180), 0);
  absl::StatusOr<v1::Anomalies> listed =
      ListAnomalies(*t_->snapshot(), regulator, v1::ListAnomaliesRequest(), planned + absl::Hours(3));
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->overdue_shipments_size(), 1);
  EXPECT_EQ(listed->overdue_shipments(0).waybill(), absl::StrCat(kCarrier, "/WB-LATE"));
  EXPECT_EQ(listed->overdue_shipments(0).code(), Code(1));
  // The warehouse sees it (the consignee); the user does not.
  absl::StatusOr<v1::Anomalies> user = ListAnomalies(*t_->snapshot(), ActorOf(user_),
                                                     v1::ListAnomaliesRequest(), planned + absl::Hours(3));
  ASSERT_TRUE(user.ok());
  EXPECT_EQ(user->overdue_shipments_size(), 0);
  // Received: no longer due.
  Ok(warehouse_, Event(v1::RECEIVING, kWarehouse, {Code(1)}));
  EXPECT_EQ(overdue_at(planned + absl::Hours(3)), 0);
  ExpectCheckPasses();
}

// A subscription, rounds driven by hand (the service runs one every 200 ms):
// from the moment it starts, each anomaly entry once as it is written; an
// overdue shipment once while it stays overdue, looked at every 10 s; and
// it ends when its reader's key is revoked, at the next look at the reader.
TEST_F(RefusalsTest, ASubscriptionTellsWhatIsNewOnceAndEndsWithItsReadersKey) {
  Commission({1, 2});
  absl::Time planned;
  ASSERT_NO_FATAL_FAILURE(ShipLate(2, &planned));
  const absl::Time late = planned + absl::Hours(3);  // the rules' time: overdue
  const auto list = [&](const storage::Snapshot& at, const v1::Actor& reader,
                        const v1::ListAnomaliesRequest& r) {
    return ListAnomalies(at, reader, r, late);
  };
  std::vector<std::string> told;
  const auto tell = [&](const v1::Anomaly& a) {
    told.push_back(a.kind() == v1::OVERDUE_SHIPMENT ? "overdue " + a.waybill()
                                                    : absl::StrCat("entry ", a.log_index()));
    return true;
  };
  const auto round = [&](absl::Time now) -> absl::StatusOr<bool> {
    told.clear();
    return subscription_->Round(*t_->snapshot(), now, list, tell);
  };

  // A subscription that asks for the entries' evidence is refused.
  v1::ListAnomaliesRequest with_evidence;
  with_evidence.set_with_evidence(true);
  EXPECT_EQ(AnomalySubscription::Start(ActorOf(regulator_), with_evidence, t_->snapshot()->size(),
                                       absl::UnixEpoch())
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);

  const absl::Time t0 = absl::UnixEpoch() + absl::Hours(1);  // the subscription's own clock
  absl::StatusOr<AnomalySubscription> started = AnomalySubscription::Start(
      ActorOf(regulator_), v1::ListAnomaliesRequest(), t_->snapshot()->size(), t0);
  ASSERT_TRUE(started.ok()) << started.status();
  subscription_.emplace(*std::move(started));
  // The first round: the overdue shipment; no entry yet (from now on).
  ASSERT_TRUE(*round(t0));
  EXPECT_EQ(told, std::vector<std::string>{absl::StrCat("overdue ", kCarrier, "/WB-LATE")});
  // Three refused consumptions, recorded: told in the next round, once.
  v1::Event use = Event(v1::CONSUMING, kProducer, {Code(1)});
  for (int i = 0; i < 3; ++i) {
    use.set_event_id(absl::StrCat("subscribed-", i));
    use.set_quantity_milli(99000000 + i);
    ASSERT_FALSE(Attempt(producer_, use).ok());
  }
  recorder_->Flush();
  ASSERT_TRUE(*round(t0 + absl::Seconds(1)));
  ASSERT_EQ(told.size(), 3u);
  for (const std::string& t : told) EXPECT_EQ(t.rfind("entry ", 0), 0u) << t;
  ASSERT_TRUE(*round(t0 + absl::Seconds(2)));
  EXPECT_TRUE(told.empty());
  // The next look at the overdue shipments, 10 s on: still overdue, not
  // told again.
  ASSERT_TRUE(*round(t0 + absl::Seconds(12)));
  EXPECT_TRUE(told.empty());
  // The regulator's key revoked: within the minute the subscription goes
  // on; at the next look at its reader it ends, saying why.
  const v1::SignedEnvelope revoke = RevocationOf(regulator_, "left the department");
  const v1::SignedEnvelope* one[] = {&revoke};
  ASSERT_TRUE(registry::SubmitSigned(t_->client(), one, api::kRegistryContext)[0].ok());
  ASSERT_TRUE(round(t0 + absl::Seconds(30)).ok());
  absl::StatusOr<bool> ended = round(t0 + absl::Seconds(62));
  ASSERT_FALSE(ended.ok());
  EXPECT_EQ(ended.status().code(), absl::StatusCode::kPermissionDenied) << ended.status();
  // A subscriber that leaves ends the round.
  absl::StatusOr<AnomalySubscription> again =
      AnomalySubscription::Start(ActorOf(producer_), v1::ListAnomaliesRequest(), /*size=*/1, t0);
  ASSERT_TRUE(again.ok());
  absl::StatusOr<bool> left =
      again->Round(*t_->snapshot(), t0, list, [](const v1::Anomaly&) { return false; });
  ASSERT_TRUE(left.ok()) << left.status();
  EXPECT_FALSE(*left);
}

}  // namespace
}  // namespace chemledger::audit
