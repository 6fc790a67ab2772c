// A whole ledger (testing/test_ledger.h) with the parties a package's life
// needs, for tests of the lifecycle rules and of what readers see of events:
// ten methanol packages issued to a producer; a warehouse, a user, a
// disposer and a carrier, each with an operator; a regulator; and helpers
// that sign, submit and check events and e-waybills.
//
// Test-only. Not thread-safe (one test at a time, as gtest runs them).

#ifndef CHEMLEDGER_SERVICES_LEDGER_LIFECYCLE_TESTING_H_
#define CHEMLEDGER_SERVICES_LEDGER_LIFECYCLE_TESTING_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "absl/types/span.h"
#include "api/china_time.h"
#include "api/wire.h"
#include "chemledger/v1/ledger.pb.h"
#include "chemledger/v1/log.pb.h"
#include "chemledger/v1/registry.pb.h"
#include "chemledger/v1/waybill.pb.h"
#include "crypto/keys.h"
#include "crypto/merkle.h"
#include "gtest/gtest.h"
#include "journal/journal.h"
#include "services/common/envelope.h"
#include "services/common/refusal.h"
#include "services/label/issuance.h"
#include "services/ledger/code_state.h"
#include "services/ledger/ledger.h"
#include "services/registry/registry_testing.h"
#include "services/waybill/waybill_state.h"
#include "services/waybill/waybill_testing.h"
#include "services/waybill/waybills.h"
#include "testing/test_ledger.h"

namespace chemledger::ledger::lifecycle_testing {

using chemledger::testing::TestKey;
using chemledger::testing::TestLedger;
using registry::testing::ExampleEnterprise;

inline const std::string kProducer = registry::testing::ExampleUscc("350100");
inline const std::string kWarehouse = registry::testing::ExampleUscc("350200");
inline const std::string kUser = registry::testing::ExampleUscc("350300");
inline const std::string kDisposer = registry::testing::ExampleUscc("350400");
inline const std::string kCarrier = registry::testing::ExampleUscc("350500");

inline absl::CivilDay Today() { return api::TodayInChina(); }

// Ten methanol packages of 25 kg, issued to the producer; a warehouse, a
// user, a disposer and a carrier (with a road transport licence, for the
// e-waybills shipments need), each with an operator; a regulator.
class LifecycleFixture : public ::testing::Test {
 protected:
  LifecycleFixture()
      : admin_(TestKey(1)), regulator_(TestKey(2)), producer_(TestKey(3)), warehouse_(TestKey(4)),
        user_(TestKey(5)), disposer_(TestKey(6)), carrier_(TestKey(7)) {}

  void SetUp() override {
    t_ = TestLedger::Create(::testing::UnitTest::GetInstance()->current_test_info()->name(),
                            admin_);
    const absl::CivilDay far = Today() + 700;
    ASSERT_TRUE(
        t_->RegisterEnterprise(admin_, registry::testing::ExampleProducer(kProducer)).ok());
    ASSERT_TRUE(t_->RegisterEnterprise(admin_, ExampleEnterprise(kWarehouse, v1::WAREHOUSE,
                                                                 v1::HAZARDOUS_CHEMICALS_TRADE, far))
                    .ok());
    ASSERT_TRUE(t_->RegisterEnterprise(
                      admin_, ExampleEnterprise(kUser, v1::USER, v1::LICENCE_TYPE_UNSPECIFIED, far))
                    .ok());
    ASSERT_TRUE(t_->RegisterEnterprise(
                      admin_, ExampleEnterprise(kDisposer, v1::DISPOSER, v1::HAZARDOUS_WASTE, far))
                    .ok());
    ASSERT_TRUE(t_->RegisterEnterprise(
                      admin_, ExampleEnterprise(kCarrier, v1::CARRIER, v1::ROAD_TRANSPORT, far))
                    .ok());
    AddOperator(kProducer, producer_);
    AddOperator(kWarehouse, warehouse_);
    AddOperator(kUser, user_);
    AddOperator(kDisposer, disposer_);
    AddOperator(kCarrier, carrier_);
    ASSERT_TRUE(t_->AddActor(admin_, "", v1::REGULATOR, regulator_, "inspector").ok());
    ASSERT_TRUE(
        t_->RegisterProduct(admin_, registry::testing::ExampleMethanol(kProducer, "M01")).ok());
    absl::StatusOr<crypto::KeyId> label_key = t_->AddLabelKey(admin_);
    ASSERT_TRUE(label_key.ok()) << label_key.status();
    absl::StatusOr<label::Issuance> issued =
        t_->IssueBatch(producer_, kProducer, "M01", "B1", 10, "25", "KGM");
    ASSERT_TRUE(issued.ok()) << issued.status();
    issued_.emplace(*std::move(issued));
    // Every consignor lets the carrier's waybills open at once.
    for (const crypto::SigningKey* consignor : {&producer_, &warehouse_, &user_, &disposer_}) {
      absl::Status s = t_->AuthorizeCarrier(*consignor, kCarrier);
      ASSERT_TRUE(s.ok()) << s;
    }
  }

  void AddOperator(const std::string& uscc, const crypto::SigningKey& key) {
    absl::Status s = t_->AddActor(admin_, uscc, v1::ENTERPRISE_OPERATOR, key,
                                  absl::StrCat("operator of ", uscc));
    ASSERT_TRUE(s.ok()) << s;
  }

  static std::string Code(int serial) { return absl::StrCat(kProducer, ".M01.B1.", serial); }

  uint64_t LogSize() { return t_->snapshot()->size(); }
  // The registered actor of `key` (a failure if there is none).
  v1::Actor ActorOf(const crypto::SigningKey& key) {
    absl::StatusOr<std::optional<state::ActorRecord>> a =
        registry::FindActor(*t_->snapshot(), key.key_id());
    EXPECT_TRUE(a.ok() && a->has_value());
    return a.ok() && a->has_value() ? (*a)->actor() : v1::Actor();
  }

  // `code`'s state at the latest snapshot; a failure (and an empty state) if
  // the ledger does not know it.
  CodeState Find(const std::string& code) {
    absl::StatusOr<std::optional<CodeState>> s = FindCode(*t_->snapshot(), code);
    EXPECT_TRUE(s.ok()) << s.status();
    if (!s.ok() || !s->has_value()) {
      ADD_FAILURE() << code << " is not in the ledger";
      return CodeState();
    }
    return **s;
  }
  std::vector<uint64_t> HistoryOf(const std::string& code) {
    absl::StatusOr<std::vector<uint64_t>> h = History(*t_->snapshot(), code);
    EXPECT_TRUE(h.ok()) << h.status();
    return h.ok() ? *h : std::vector<uint64_t>();
  }
  bool Held(const std::string& code, const std::string& uscc) {
    absl::StatusOr<bool> held = HasHeld(*t_->snapshot(), code, uscc);
    EXPECT_TRUE(held.ok()) << held.status();
    return held.ok() && *held;
  }

  // An event `step` by `uscc` at site "main" now (minus `ago`).
  v1::Event Event(v1::BusinessStep step, const std::string& uscc, std::vector<std::string> codes,
                  absl::Duration ago = absl::ZeroDuration()) {
    v1::Event e;
    e.set_event_id(absl::StrCat("ev-", ++next_id_));
    e.set_step(step);
    for (std::string& c : codes) e.add_codes(std::move(c));
    // Events go forward in time: each one a second after the previous.
    clock_ += absl::Seconds(1);
    const absl::Time when = clock_ - ago;
    e.mutable_event_time()->set_seconds(absl::ToUnixSeconds(when));
    e.set_event_time_offset_minutes(480);
    e.mutable_location()->set_enterprise_uscc(uscc);
    e.mutable_location()->set_site("main");
    // An observation carries the labels scanned, as chemscan sends them.
    if (step == v1::OBSERVING) {
      for (const std::string& code : e.codes()) e.add_label_urls(LabelUrl(code));
    }
    return e;
  }
  // The signed label URL of a code of the fixture's batch (B1); "" for any
  // other code.
  std::string LabelUrl(const std::string& code) {
    const std::string prefix = absl::StrCat(kProducer, ".M01.B1.");
    uint32_t serial = 0;
    if (!issued_ || code.rfind(prefix, 0) != 0 ||
        !absl::SimpleAtoi(code.substr(prefix.size()), &serial) || serial == 0) {
      return "";
    }
    absl::StatusOr<std::vector<label::IssuedLabel>> labels =
        t_->issuer().SignLabels(*issued_, serial - 1, 1);
    EXPECT_TRUE(labels.ok()) << labels.status();
    return labels.ok() && labels->size() == 1 ? labels->front().url : "";
  }
  static v1::SignedEnvelope Signed(const crypto::SigningKey& key, const v1::Event& e) {
    absl::StatusOr<v1::SignedEnvelope> env =
        envelope::Sign(api::kEventContext, e.SerializeAsString(), key);
    EXPECT_TRUE(env.ok()) << env.status();
    return env.ok() ? *env : v1::SignedEnvelope();
  }
  EventReceipt Ok(const crypto::SigningKey& key, const v1::Event& e) {
    absl::StatusOr<EventReceipt> r = t_->ledger().Append(Signed(key, e));
    EXPECT_TRUE(r.ok()) << v1::BusinessStep_Name(e.step()) << ": " << r.status();
    return r.ok() ? *r : EventReceipt{};
  }
  // Refused with `code` and a message containing `fragment`; the log does
  // not grow.
  void Refused(const crypto::SigningKey& key, const v1::Event& e, absl::StatusCode code,
               const std::string& fragment) {
    Refused(Signed(key, e), code, fragment);
  }
  void Refused(const v1::SignedEnvelope& env, absl::StatusCode code, const std::string& fragment) {
    const uint64_t before = LogSize();
    absl::StatusOr<EventReceipt> r = t_->ledger().Append(env);
    ASSERT_FALSE(r.ok()) << "accepted; expected: " << fragment;
    EXPECT_EQ(r.status().code(), code) << r.status();
    EXPECT_NE(r.status().message().find(fragment), std::string::npos)
        << "expected '" << fragment << "' in: " << r.status();
    EXPECT_EQ(LogSize(), before) << "a refused event wrote to the log";
  }

  // A carrier's request about a waybill, signed by its operator.
  absl::StatusOr<waybill::WaybillReceipt> ApplyWaybill(v1::WaybillRequest r) {
    r.set_request_id(absl::StrCat("wb-req-", ++next_id_));
    absl::StatusOr<v1::SignedEnvelope> env =
        envelope::Sign(api::kWaybillContext, r.SerializeAsString(), carrier_);
    if (!env.ok()) return env.status();
    return t_->waybills().Apply(*env);
  }
  // Submits e-waybill `number`, carried by kCarrier, for `codes` from
  // `consignor` to `consignee`.
  void SubmitWaybill(const std::string& number, const std::string& consignor,
                     const std::string& consignee, const std::vector<std::string>& codes) {
    v1::WaybillRequest r;
    *r.mutable_submit() = waybill::testing::ExampleWaybill(number, kCarrier, consignor, consignee,
                                                           codes, 25000, "KGM");
    // The line states what its codes hold (pallets: what is packed on them).
    uint64_t milli = 0;
    for (const std::string& code : codes) milli += ContentsMilli(code);
    r.mutable_submit()->mutable_goods(0)->set_quantity_milli(milli);
    absl::StatusOr<waybill::WaybillReceipt> receipt = ApplyWaybill(r);
    ASSERT_TRUE(receipt.ok()) << number << ": " << receipt.status();
  }
  // What `code` holds now, in thousandths: its remaining quantity, or for an
  // aggregate the sum of what is packed on it.
  uint64_t ContentsMilli(const std::string& code) {
    absl::StatusOr<std::optional<CodeState>> s = FindCode(*t_->snapshot(), code);
    if (!s.ok() || !s->has_value()) return 0;
    if (!(*s)->aggregate) return (*s)->remaining_milli;
    uint64_t milli = 0;
    for (const std::string& child : (*s)->children) milli += ContentsMilli(child);
    return milli;
  }
  // The one waybill numbered `number` (of any carrier).
  std::optional<waybill::WaybillState> FindWaybill(const std::string& number) {
    absl::StatusOr<std::vector<waybill::WaybillState>> w =
        waybill::WaybillsNumbered(*t_->snapshot(), number);
    EXPECT_TRUE(w.ok()) << w.status();
    if (!w.ok() || w->empty()) return std::nullopt;
    EXPECT_EQ(w->size(), 1u) << number;
    return w->front();
  }

  void Commission(std::vector<int> serials) {
    std::vector<std::string> codes;
    for (int s : serials) codes.push_back(Code(s));
    Ok(producer_, Event(v1::COMMISSIONING, kProducer, codes));
  }
  // Ships `codes` from `from` to `to` under a new e-waybill `number` listing
  // them (the fixture's carrier's); they stay in transit.
  void Ship(const crypto::SigningKey& from_key, const std::string& from, const std::string& to,
            const std::vector<std::string>& codes, const std::string& number) {
    SubmitWaybill(number, from, to, codes);
    v1::Event ship = Event(v1::SHIPPING, from, codes);
    ship.set_consignee_uscc(to);
    ship.set_waybill_id(number);
    Ok(from_key, ship);
  }
  // Ships `codes` from `from` to `to` under a new e-waybill listing them and
  // receives them there; the waybill closes.
  void Move(const crypto::SigningKey& from_key, const std::string& from,
            const crypto::SigningKey& to_key, const std::string& to,
            const std::vector<std::string>& codes) {
    const std::string number = absl::StrCat("WB-MOVE-", ++next_id_);
    Ship(from_key, from, to, codes, number);
    Ok(to_key, Event(v1::RECEIVING, to, codes));
    std::optional<waybill::WaybillState> w = FindWaybill(number);
    ASSERT_TRUE(w.has_value()) << number;
    EXPECT_EQ(w->status, v1::CLOSED) << number;
  }

  // Checks `code`'s chain: each of its events links to the previous one's
  // leaf hash, and the state's latest event is the chain's last.
  void ExpectChainIntact(const std::string& code) {
    const std::shared_ptr<const storage::Snapshot> snapshot = t_->snapshot();
    absl::StatusOr<std::optional<CodeState>> state = FindCode(*snapshot, code);
    ASSERT_TRUE(state.ok()) << state.status();
    ASSERT_TRUE(state->has_value()) << code;
    absl::StatusOr<std::vector<uint64_t>> history = History(*snapshot, code);
    ASSERT_TRUE(history.ok()) << history.status();
    ASSERT_FALSE(history->empty()) << code;
    std::optional<crypto::Sha256Digest> previous;
    for (uint64_t index : *history) {
      absl::StatusOr<std::string> bytes = snapshot->Entry(index);
      ASSERT_TRUE(bytes.ok()) << bytes.status();
      v1::LogEntry entry;
      ASSERT_TRUE(entry.ParseFromString(*bytes));
      EXPECT_EQ(entry.envelope().payload_type(), api::kEventContext.payload_type());
      v1::EventLinks links;
      ASSERT_TRUE(links.ParseFromString(entry.assignment()));
      bool found = false;
      for (const auto& link : links.links()) {
        if (link.code() != code) continue;
        found = true;
        EXPECT_EQ(link.previous_event_hash(), previous ? previous->ToBytes() : "")
            << code << " at log index " << index;
      }
      EXPECT_TRUE(found) << code << " not linked at " << index;
      previous = crypto::HashLeaf(*bytes);
      absl::StatusOr<crypto::Sha256Digest> leaf = snapshot->LeafHash(index);
      ASSERT_TRUE(leaf.ok()) << leaf.status();
      EXPECT_EQ(*leaf, *previous) << code << " at log index " << index;
    }
    EXPECT_EQ((*state)->last_event_index, std::optional<uint64_t>(history->back())) << code;
  }

  // The state rebuilt from the log is the state kept.
  void ExpectCheckPasses() {
    absl::StatusOr<journal::CheckReport> report = t_->Check();
    ASSERT_TRUE(report.ok()) << report.status();
    EXPECT_EQ(report->entries, LogSize());
  }

  crypto::SigningKey admin_, regulator_, producer_, warehouse_, user_, disposer_, carrier_;
  std::unique_ptr<TestLedger> t_;
  std::optional<label::Issuance> issued_;  // batch B1
  absl::Time clock_ = absl::Now() - absl::Hours(1);
  int next_id_ = 0;
};

}  // namespace chemledger::ledger::lifecycle_testing

#endif  // CHEMLEDGER_SERVICES_LEDGER_LIFECYCLE_TESTING_H_
