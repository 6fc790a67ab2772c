#include "services/ledger/ledger.h"

#include <sys/stat.h>

#include <atomic>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "crypto/merkle.h"
#include "gtest/gtest.h"
#include "services/common/envelope.h"
#include "services/label/issuance_testing.h"
#include "services/common/identifiers.h"
#include "services/registry/registry_testing.h"
#include "storage/leveldb_log.h"
#include "tests/subprocess.h"

namespace chemledger::ledger {
namespace {

using registry::Registry;
using registry::testing::Date;
using registry::testing::ExampleEnterprise;

crypto::SigningKey TestKey(int seed) {
  return crypto::SigningKey::FromSeed(
      *crypto::SecretSeed::FromBytes(std::string(32, static_cast<char>(seed))));
}

const std::string kProducer = registry::testing::ExampleUscc("350100");
const std::string kWarehouse = registry::testing::ExampleUscc("350200");
const std::string kUser = registry::testing::ExampleUscc("350300");
const std::string kDisposer = registry::testing::ExampleUscc("350400");
const std::string kCarrier = registry::testing::ExampleUscc("350500");

absl::CivilDay Today() { return registry::testing::TodayInChina(); }
v1::Date ToDate(absl::CivilDay d) { return registry::ToProtoDate(d); }

// Ten methanol packages of 25 kg, issued to the producer; a warehouse, a
// user, a disposer and a carrier, each with an operator.
class LedgerTest : public ::testing::Test {
 protected:
  LedgerTest()
      : admin_(TestKey(1)), regulator_(TestKey(2)), producer_(TestKey(3)), warehouse_(TestKey(4)),
        user_(TestKey(5)), disposer_(TestKey(6)), carrier_(TestKey(7)) {}

  void SetUp() override {
    dir_ = chemledger::testing::FreshTempDir("ledger");
    ASSERT_EQ(mkdir((dir_ + "/keys").c_str(), 0700), 0);
    log_ = *storage::OpenLevelDbLog(dir_ + "/log");
    ASSERT_TRUE(Registry::Bootstrap(log_.get(), "test", "CL.EXAMPLE.CN", "root", admin_).ok());
    keyring_ = *label::LabelKeyring::Open(dir_ + "/keys");
    registry_ = *Registry::Open(log_.get(), &registry::testing::ShippedCatalogue());
    issuer_ = *label::LabelIssuer::Open(log_.get(), registry_.get(), keyring_.get());
    const absl::CivilDay far = Today() + 700;
    Register(admin_, [&](v1::RegistryRequest* r) {
      *r->mutable_register_enterprise() = registry::testing::ExampleProducer(kProducer);
    });
    Register(admin_, [&](v1::RegistryRequest* r) {
      *r->mutable_register_enterprise() =
          ExampleEnterprise(kWarehouse, v1::WAREHOUSE, v1::HAZARDOUS_CHEMICALS_TRADE, far);
    });
    Register(admin_, [&](v1::RegistryRequest* r) {
      *r->mutable_register_enterprise() =
          ExampleEnterprise(kUser, v1::USER, v1::LICENCE_TYPE_UNSPECIFIED, far);
    });
    Register(admin_, [&](v1::RegistryRequest* r) {
      *r->mutable_register_enterprise() =
          ExampleEnterprise(kDisposer, v1::DISPOSER, v1::HAZARDOUS_WASTE, far);
    });
    Register(admin_, [&](v1::RegistryRequest* r) {
      *r->mutable_register_enterprise() =
          ExampleEnterprise(kCarrier, v1::CARRIER, v1::ROAD_TRANSPORT, far);
    });
    AddActor(kProducer, producer_);
    AddActor(kWarehouse, warehouse_);
    AddActor(kUser, user_);
    AddActor(kDisposer, disposer_);
    AddActor(kCarrier, carrier_);
    Register(admin_, [&](v1::RegistryRequest* r) {
      v1::Actor* a = r->mutable_add_actor();
      a->set_name("inspector");
      a->set_role(v1::REGULATOR);
      a->set_public_key(regulator_.verifying_key().ToBytes());
    });
    Register(admin_, [&](v1::RegistryRequest* r) {
      *r->mutable_register_product() = registry::testing::ExampleMethanol(kProducer, "M01");
    });
    ASSERT_TRUE(label::testing::AddLabelKey(*registry_, dir_ + "/keys", admin_).ok());
    ASSERT_TRUE(label::testing::IssueBatch(*issuer_, producer_, kProducer, "M01", "B1", 10, "25", "KGM")
                    .ok());
    OpenLedger();
  }

  void OpenLedger() {
    LedgerOptions options;
    // Until the e-waybill service lands: waybills "WB-OPEN-*" are open.
    options.waybills = [](const std::string& waybill, const std::string&, const std::string&,
                          const std::string&) {
      return waybill.rfind("WB-OPEN-", 0) == 0
                 ? absl::OkStatus()
                 : absl::FailedPreconditionError("event.waybill_id: not open");
    };
    absl::StatusOr<std::unique_ptr<Ledger>> ledger =
        Ledger::Open(log_.get(), registry_.get(), issuer_.get(), options);
    ASSERT_TRUE(ledger.ok()) << ledger.status();
    ledger_ = *std::move(ledger);
  }

  template <typename F>
  void Register(const crypto::SigningKey& key, F fill) {
    v1::RegistryRequest r;
    r.set_request_id(absl::StrCat("reg-", ++next_id_));
    fill(&r);
    absl::StatusOr<registry::Receipt> receipt =
        registry_->Apply(*envelope::Sign(registry::kRegistryContext, r.SerializeAsString(), key));
    ASSERT_TRUE(receipt.ok()) << receipt.status();
  }
  void AddActor(const std::string& uscc, const crypto::SigningKey& key) {
    Register(admin_, [&](v1::RegistryRequest* r) {
      v1::Actor* a = r->mutable_add_actor();
      a->set_name(absl::StrCat("operator of ", uscc));
      a->set_role(v1::ENTERPRISE_OPERATOR);
      a->set_enterprise_uscc(uscc);
      a->set_public_key(key.verifying_key().ToBytes());
    });
  }

  static std::string Code(int serial) { return absl::StrCat(kProducer, ".M01.B1.", serial); }

  // An event `step` by `uscc` at site "main" now (minus `ago`).
  v1::Event Event(v1::BusinessStep step, const std::string& uscc,
                  std::vector<std::string> codes, absl::Duration ago = absl::ZeroDuration()) {
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
    return e;
  }
  v1::SignedEnvelope Signed(const crypto::SigningKey& key, const v1::Event& e) {
    return *envelope::Sign(kEventContext, e.SerializeAsString(), key);
  }
  EventReceipt Ok(const crypto::SigningKey& key, const v1::Event& e) {
    absl::StatusOr<EventReceipt> r = ledger_->Append(Signed(key, e));
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
    const uint64_t before = log_->Size();
    absl::StatusOr<EventReceipt> r = ledger_->Append(env);
    ASSERT_FALSE(r.ok()) << "accepted; expected: " << fragment;
    EXPECT_EQ(r.status().code(), code) << r.status();
    EXPECT_NE(r.status().message().find(fragment), std::string::npos) << r.status();
    EXPECT_EQ(log_->Size(), before) << "a refused event wrote to the log";
  }

  void Commission(std::vector<int> serials) {
    std::vector<std::string> codes;
    for (int s : serials) codes.push_back(Code(s));
    Ok(producer_, Event(v1::COMMISSIONING, kProducer, codes));
  }
  // Ships `codes` from `from` to `to` and receives them there.
  void Move(const crypto::SigningKey& from_key, const std::string& from,
            const crypto::SigningKey& to_key, const std::string& to,
            const std::vector<std::string>& codes) {
    v1::Event ship = Event(v1::SHIPPING, from, codes);
    ship.set_consignee_uscc(to);
    ship.set_waybill_id("WB-OPEN-1");
    Ok(from_key, ship);
    Ok(to_key, Event(v1::RECEIVING, to, codes));
  }

  // Checks `code`'s chain: each of its events links to the previous one's
  // leaf hash.
  void ExpectChainIntact(const std::string& code) {
    std::optional<CodeState> state = ledger_->Find(code);
    ASSERT_TRUE(state.has_value()) << code;
    std::optional<crypto::Sha256Digest> previous;
    for (uint64_t index : state->history) {
      const std::string bytes = *log_->Entry(index);
      v1::LogEntry entry;
      ASSERT_TRUE(entry.ParseFromString(bytes));
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
      previous = crypto::HashLeaf(bytes);
    }
    EXPECT_EQ(previous, state->last_event_hash);
  }

  crypto::SigningKey admin_, regulator_, producer_, warehouse_, user_, disposer_, carrier_;
  std::string dir_;
  std::unique_ptr<storage::Log> log_;
  std::unique_ptr<label::LabelKeyring> keyring_;
  std::unique_ptr<Registry> registry_;
  std::unique_ptr<label::LabelIssuer> issuer_;
  std::unique_ptr<Ledger> ledger_;
  absl::Time clock_ = absl::Now() - absl::Hours(1);
  int next_id_ = 0;
};

TEST_F(LedgerTest, APackageLivesItsWholeLife) {
  Commission({1, 2, 3, 4, 5, 6});
  Ok(producer_, Event(v1::STORING, kProducer, {Code(1), Code(2), Code(3), Code(4), Code(5), Code(6)}));
  Move(producer_, kProducer, warehouse_, kWarehouse, {Code(1), Code(2), Code(3), Code(4)});
  EXPECT_EQ(ledger_->Find(Code(1))->custodian, kWarehouse);
  Ok(warehouse_, Event(v1::STORING, kWarehouse, {Code(1)}));

  // Pack three onto a pallet, move the pallet, unpack at the user.
  const std::string pallet = kWarehouse + ".LU.P1";
  v1::Event pack = Event(v1::PACKING, kWarehouse, {Code(1), Code(2), Code(3)});
  pack.set_parent_code(pallet);
  Ok(warehouse_, pack);
  Move(warehouse_, kWarehouse, user_, kUser, {pallet});
  EXPECT_EQ(ledger_->Find(Code(2))->custodian, kUser) << "children move with their pallet";
  v1::Event unpack = Event(v1::UNPACKING, kUser, {Code(1), Code(2), Code(3)});
  unpack.set_parent_code(pallet);
  Ok(user_, unpack);
  EXPECT_TRUE(ledger_->Find(Code(1))->parent.empty());

  // Use part of one, all of another.
  v1::Event use = Event(v1::CONSUMING, kUser, {Code(1)});
  use.set_quantity_milli(10000);
  Ok(user_, use);
  EXPECT_EQ(ledger_->Find(Code(1))->remaining_milli, 15000u);
  use = Event(v1::CONSUMING, kUser, {Code(2)});
  use.set_quantity_milli(25000);
  Ok(user_, use);
  EXPECT_EQ(ledger_->Find(Code(2))->status, CodeStatus::kConsumed);

  // The producer splits package 5 into packages 7 and 8, declaring a loss.
  v1::Event split = Event(v1::REPACKAGING, kProducer, {Code(5)});
  split.set_quantity_milli(25000);
  v1::RepackagingOutput* out = split.add_outputs();
  out->set_code(Code(7));
  out->set_quantity_milli(12000);
  out = split.add_outputs();
  out->set_code(Code(8));
  out->set_quantity_milli(12500);
  split.set_declared_loss_milli(500);
  Ok(producer_, split);
  EXPECT_EQ(ledger_->Find(Code(5))->status, CodeStatus::kConsumed);
  EXPECT_EQ(ledger_->Find(Code(8))->remaining_milli, 12500u);
  EXPECT_EQ(ledger_->Find(Code(8))->custodian, kProducer);

  // The rest of package 1 goes to the disposer and is destroyed.
  Move(user_, kUser, disposer_, kDisposer, {Code(1)});
  v1::Event destroy = Event(v1::DESTROYING, kDisposer, {Code(1)});
  destroy.set_manifest_id("3501002026000123");
  Ok(disposer_, destroy);
  EXPECT_EQ(ledger_->Find(Code(1))->status, CodeStatus::kDisposed);

  // Lost and found; a misprinted label voided.
  v1::Event lost = Event(v1::LOSS_REPORT, kProducer, {Code(6)});
  lost.set_reason("missing at stocktake");
  Ok(producer_, lost);
  v1::Event found = Event(v1::FOUND, kProducer, {Code(6)});
  found.set_reason("found in bay 4");
  Ok(producer_, found);
  v1::Event void_label = Event(v1::VOIDING, kProducer, {Code(9)});
  void_label.set_reason("misprinted");
  Ok(producer_, void_label);
  EXPECT_EQ(ledger_->Find(Code(9))->status, CodeStatus::kVoided);

  // An error declaration corrects an earlier event without editing it.
  v1::Event lost_again = Event(v1::LOSS_REPORT, kProducer, {Code(6)});
  lost_again.set_reason("missing again");
  Ok(producer_, lost_again);
  v1::Event error = Event(v1::ERROR_DECLARATION, kProducer, {});
  error.set_corrects_event_id(lost_again.event_id());
  error.set_reason("it was never lost: miscounted");
  Ok(producer_, error);
  EXPECT_EQ(ledger_->Find(Code(6))->status, CodeStatus::kActive);

  for (int serial : {1, 2, 3, 5, 6, 7, 8, 9}) ExpectChainIntact(Code(serial));
  EXPECT_EQ(ledger_->Find(Code(1))->history.size(), 13u);

  // The same state after a restart (replayed from the log).
  const CodeState before = *ledger_->Find(Code(1));
  OpenLedger();
  const CodeState after = *ledger_->Find(Code(1));
  EXPECT_EQ(after.history, before.history);
  EXPECT_EQ(after.status, before.status);
  EXPECT_EQ(after.last_event_hash, before.last_event_hash);
  for (int serial : {1, 2, 3, 5, 6, 7, 8, 9}) ExpectChainIntact(Code(serial));
}

TEST_F(LedgerTest, OnlyTheCustodianActsAndReceiptChangesCustody) {
  Commission({1});
  Refused(warehouse_, Event(v1::STORING, kWarehouse, {Code(1)}), absl::StatusCode::kPermissionDenied,
          "event.codes[0]: " + Code(1) + " is in the custody of " + kProducer);
  v1::Event ship = Event(v1::SHIPPING, kProducer, {Code(1)});
  ship.set_consignee_uscc(kWarehouse);
  ship.set_waybill_id("WB-OPEN-2");
  Ok(producer_, ship);
  // Someone else than the consignee cannot receive it.
  Refused(user_, Event(v1::RECEIVING, kUser, {Code(1)}), absl::StatusCode::kPermissionDenied,
          "consigned to " + kWarehouse);
  // In transit, the shipper cannot use it either.
  v1::Event use = Event(v1::CONSUMING, kProducer, {Code(1)});
  use.set_quantity_milli(1000);
  Refused(producer_, use, absl::StatusCode::kFailedPrecondition, "in transit");
  Ok(warehouse_, Event(v1::RECEIVING, kWarehouse, {Code(1)}));
  Refused(producer_, Event(v1::STORING, kProducer, {Code(1)}), absl::StatusCode::kPermissionDenied,
          "in the custody of " + kWarehouse);
  // An actor records only for its own enterprise.
  Refused(producer_, Event(v1::STORING, kWarehouse, {Code(1)}), absl::StatusCode::kPermissionDenied,
          "event.location.enterprise_uscc");
}

TEST_F(LedgerTest, ShippingNeedsAnOpenWaybill) {
  Commission({1});
  v1::Event ship = Event(v1::SHIPPING, kProducer, {Code(1)});
  ship.set_consignee_uscc(kWarehouse);
  ship.set_waybill_id("WB-CLOSED-1");
  Refused(producer_, ship, absl::StatusCode::kFailedPrecondition, "event.waybill_id");
  ship.clear_waybill_id();
  Refused(producer_, ship, absl::StatusCode::kInvalidArgument, "event.waybill_id");

  // Without the e-waybill service, the default refuses every shipment.
  LedgerOptions defaults;
  ledger_ = *Ledger::Open(log_.get(), registry_.get(), issuer_.get(), defaults);
  ship.set_waybill_id("WB-OPEN-1");
  Refused(producer_, ship, absl::StatusCode::kFailedPrecondition,
          "event.waybill_id: no open e-waybill 'WB-OPEN-1'");
}

TEST_F(LedgerTest, QuantitiesNeverGoBelowZeroAndSplitsAreConserved) {
  Commission({1, 2});
  Move(producer_, kProducer, user_, kUser, {Code(1)});
  v1::Event use = Event(v1::CONSUMING, kUser, {Code(1)});
  use.set_quantity_milli(25001);
  Refused(user_, use, absl::StatusCode::kFailedPrecondition, "event.quantity_milli: 25001 is more than");
  use.set_quantity_milli(0);
  Refused(user_, use, absl::StatusCode::kInvalidArgument, "event.quantity_milli");

  v1::Event split = Event(v1::REPACKAGING, kProducer, {Code(2)});
  split.set_quantity_milli(20000);
  v1::RepackagingOutput* out = split.add_outputs();
  out->set_code(Code(7));
  out->set_quantity_milli(10000);
  out = split.add_outputs();
  out->set_code(Code(8));
  out->set_quantity_milli(9000);  // 19000 + loss 0 != 20000
  Refused(producer_, split, absl::StatusCode::kFailedPrecondition, "event.outputs: the outputs and declared loss add up to 19000");
  split.set_declared_loss_milli(1000);
  split.mutable_outputs(1)->set_code(kProducer + ".M01.B1.11");  // never issued
  Refused(producer_, split, absl::StatusCode::kNotFound, "event.outputs[1].code");
  split.mutable_outputs(1)->set_code(Code(2));  // the input itself
  Refused(producer_, split, absl::StatusCode::kFailedPrecondition, "event.outputs[1].code");
  split.mutable_outputs(1)->set_code(Code(8));
  Ok(producer_, split);
  EXPECT_EQ(ledger_->Find(Code(2))->remaining_milli, 5000u);
}

TEST_F(LedgerTest, NothingHappensAfterATerminalState) {
  Commission({1, 2});
  Move(producer_, kProducer, user_, kUser, {Code(1)});
  v1::Event use = Event(v1::CONSUMING, kUser, {Code(1)});
  use.set_quantity_milli(25000);
  Ok(user_, use);
  use = Event(v1::CONSUMING, kUser, {Code(1)});
  use.set_quantity_milli(1);
  Refused(user_, use, absl::StatusCode::kFailedPrecondition, "is consumed");
  Refused(user_, Event(v1::STORING, kUser, {Code(1)}), absl::StatusCode::kFailedPrecondition,
          "is consumed");
  v1::Event void_label = Event(v1::VOIDING, kProducer, {Code(2)});
  void_label.set_reason("misprinted");
  Ok(producer_, void_label);
  Refused(producer_, Event(v1::STORING, kProducer, {Code(2)}), absl::StatusCode::kFailedPrecondition,
          "is voided");
  Refused(producer_, Event(v1::COMMISSIONING, kProducer, {Code(2)}),
          absl::StatusCode::kFailedPrecondition, "already commissioned");
}

TEST_F(LedgerTest, AggregatesMoveWholeAndNeverContainThemselves) {
  Commission({1, 2, 3});
  const std::string pallet = kProducer + ".LU.P1";
  const std::string container = kProducer + ".LU.C1";
  v1::Event pack = Event(v1::PACKING, kProducer, {Code(1), Code(2)});
  pack.set_parent_code(pallet);
  Ok(producer_, pack);
  // A packed child does not move alone.
  Refused(producer_, Event(v1::STORING, kProducer, {Code(1)}), absl::StatusCode::kFailedPrecondition,
          "event.codes[0]: " + Code(1) + " is packed on " + pallet);
  // Nor goes on a second parent.
  pack = Event(v1::PACKING, kProducer, {Code(2)});
  pack.set_parent_code(container);
  Refused(producer_, pack, absl::StatusCode::kFailedPrecondition, "is packed on " + pallet);
  // The pallet on a container; then the container on the pallet: a cycle.
  pack = Event(v1::PACKING, kProducer, {pallet});
  pack.set_parent_code(container);
  Ok(producer_, pack);
  pack = Event(v1::PACKING, kProducer, {container});
  pack.set_parent_code(pallet);
  Refused(producer_, pack, absl::StatusCode::kFailedPrecondition, "an aggregate cannot contain itself");
  pack = Event(v1::PACKING, kProducer, {pallet});
  pack.set_parent_code(pallet);
  Refused(producer_, pack, absl::StatusCode::kFailedPrecondition, "an aggregate cannot contain itself");
  // Moving the container moves everything on it.
  Move(producer_, kProducer, warehouse_, kWarehouse, {container});
  EXPECT_EQ(ledger_->Find(Code(1))->custodian, kWarehouse);
  EXPECT_EQ(ledger_->Find(pallet)->custodian, kWarehouse);
  EXPECT_EQ(ledger_->Find(Code(3))->custodian, kProducer);
  ExpectChainIntact(Code(1));
  ExpectChainIntact(container);
  // A bad aggregate code.
  pack = Event(v1::PACKING, kProducer, {Code(3)});
  pack.set_parent_code("PALLET-1");
  Refused(producer_, pack, absl::StatusCode::kInvalidArgument, "event.parent_code");
}

TEST_F(LedgerTest, EventTimesAreNotInTheFutureNorBeforeThePreviousEvent) {
  Commission({1});
  v1::Event future = Event(v1::STORING, kProducer, {Code(1)});
  future.mutable_event_time()->set_seconds(absl::ToUnixSeconds(absl::Now() + absl::Minutes(10)));
  Refused(producer_, future, absl::StatusCode::kFailedPrecondition, "event.event_time");
  v1::Event early = Event(v1::STORING, kProducer, {Code(1)}, absl::Hours(2));
  Refused(producer_, early, absl::StatusCode::kFailedPrecondition, "is before " + Code(1));
  v1::Event no_time = Event(v1::STORING, kProducer, {Code(1)});
  no_time.clear_event_time();
  Refused(producer_, no_time, absl::StatusCode::kInvalidArgument, "event.event_time");
}

TEST_F(LedgerTest, BlacklistedEnterprisesAndRevokedKeysWriteNothing) {
  Commission({1, 2});
  Register(regulator_, [&](v1::RegistryRequest* r) {
    r->mutable_blacklist()->set_enterprise_uscc(kProducer);
    r->mutable_blacklist()->set_blacklisted(true);
    r->mutable_blacklist()->set_reason("inspection failed");
    *r->mutable_blacklist()->mutable_date() = ToDate(Today());
  });
  Refused(producer_, Event(v1::STORING, kProducer, {Code(1)}), absl::StatusCode::kPermissionDenied,
          "blacklisted");
  Register(regulator_, [&](v1::RegistryRequest* r) {
    r->mutable_blacklist()->set_enterprise_uscc(kProducer);
    r->mutable_blacklist()->set_blacklisted(false);
    r->mutable_blacklist()->set_reason("fixed");
    *r->mutable_blacklist()->mutable_date() = ToDate(Today());
  });
  Ok(producer_, Event(v1::STORING, kProducer, {Code(1)}));
  Register(admin_, [&](v1::RegistryRequest* r) {
    r->mutable_revoke_key()->set_key_id(producer_.key_id().ToString());
    r->mutable_revoke_key()->set_reason("left");
  });
  Refused(producer_, Event(v1::STORING, kProducer, {Code(2)}), absl::StatusCode::kPermissionDenied,
          "was revoked");
  v1::SignedEnvelope unsigned_event = Signed(producer_, Event(v1::STORING, kProducer, {Code(2)}));
  unsigned_event.clear_signatures();
  Refused(unsigned_event, absl::StatusCode::kInvalidArgument, "envelope.signatures");
}

TEST_F(LedgerTest, RolesBoundTheSteps) {
  Refused(carrier_, Event(v1::COMMISSIONING, kCarrier, {Code(1)}), absl::StatusCode::kPermissionDenied,
          "a carrier");
  Commission({1});
  Move(producer_, kProducer, warehouse_, kWarehouse, {Code(1)});
  v1::Event destroy = Event(v1::DESTROYING, kWarehouse, {Code(1)});
  destroy.set_manifest_id("M-1");
  Refused(warehouse_, destroy, absl::StatusCode::kPermissionDenied, "only licensed disposers");
  v1::Event use = Event(v1::CONSUMING, kWarehouse, {Code(1)});
  use.set_quantity_milli(1);
  Refused(warehouse_, use, absl::StatusCode::kPermissionDenied, "only users and producers consume");
  Refused(warehouse_, Event(v1::COMMISSIONING, kWarehouse, {Code(2)}),
          absl::StatusCode::kPermissionDenied, "only producers and importers");
  // Commissioning only issued codes, and only one's own.
  Refused(producer_, Event(v1::COMMISSIONING, kProducer, {kProducer + ".M01.B1.11"}),
          absl::StatusCode::kNotFound, "was never issued");
  Refused(producer_, Event(v1::COMMISSIONING, kProducer, {"not-a-code"}),
          absl::StatusCode::kInvalidArgument, "event.codes[0]");
}

TEST_F(LedgerTest, DisposalNeedsAHazardousWasteLicenceValidOnTheEventDate) {
  Commission({1});
  Move(producer_, kProducer, disposer_, kDisposer, {Code(1)});
  // A second disposer whose licence expired three days ago.
  const std::string expired = registry::testing::ExampleUscc("350600");
  const crypto::SigningKey expired_key = TestKey(40);
  Register(admin_, [&](v1::RegistryRequest* r) {
    *r->mutable_register_enterprise() =
        ExampleEnterprise(expired, v1::DISPOSER, v1::HAZARDOUS_WASTE, Today() - 3);
  });
  AddActor(expired, expired_key);
  v1::Event ship = Event(v1::SHIPPING, kDisposer, {Code(1)});
  ship.set_consignee_uscc(expired);
  ship.set_waybill_id("WB-OPEN-9");
  Ok(disposer_, ship);
  Ok(expired_key, Event(v1::RECEIVING, expired, {Code(1)}));
  v1::Event destroy = Event(v1::DESTROYING, expired, {Code(1)});
  destroy.set_manifest_id("M-2");
  Refused(expired_key, destroy, absl::StatusCode::kPermissionDenied, "HAZARDOUS_WASTE");
  // The licence day is China's, whatever offset the event claims: an event
  // "now" written at UTC-14 still falls after the expiry.
  destroy.set_event_time_offset_minutes(-840);
  Refused(expired_key, destroy, absl::StatusCode::kPermissionDenied, "HAZARDOUS_WASTE");
}

TEST_F(LedgerTest, DisposalNeedsAManifest) {
  Commission({1});
  Move(producer_, kProducer, disposer_, kDisposer, {Code(1)});
  Refused(disposer_, Event(v1::DESTROYING, kDisposer, {Code(1)}), absl::StatusCode::kInvalidArgument,
          "event.manifest_id");
}

TEST_F(LedgerTest, SplitsCannotMakeQuantityOutOfNothing) {
  Commission({1});
  v1::Event split = Event(v1::REPACKAGING, kProducer, {Code(1)});
  split.set_quantity_milli(1000);
  split.add_outputs()->set_code(Code(7));
  split.mutable_outputs(0)->set_quantity_milli(5000000000ULL);
  split.set_declared_loss_milli(UINT64_MAX - 5000000000ULL + 1001);  // wraps to 1000
  Refused(producer_, split, absl::StatusCode::kFailedPrecondition, "event.declared_loss_milli");
  split.set_declared_loss_milli(0);
  Refused(producer_, split, absl::StatusCode::kFailedPrecondition, "its label states");
  split.mutable_outputs(0)->set_quantity_milli(800);
  split.add_outputs()->set_code(Code(8));
  split.mutable_outputs(1)->set_quantity_milli(300);  // 1100 > 1000
  Refused(producer_, split, absl::StatusCode::kFailedPrecondition, "event.outputs: the outputs");
}

TEST_F(LedgerTest, AggregatesNestAtMostEightDeep) {
  Commission({1});
  std::string inner = Code(1);
  for (int level = 1; level <= kMaxNesting; ++level) {
    const std::string outer = absl::StrCat(kProducer, ".LU.N", level);
    v1::Event pack = Event(v1::PACKING, kProducer, {inner});
    pack.set_parent_code(outer);
    Ok(producer_, pack);
    inner = outer;
  }
  v1::Event pack = Event(v1::PACKING, kProducer, {inner});
  pack.set_parent_code(kProducer + ".LU.TOP");
  Refused(producer_, pack, absl::StatusCode::kFailedPrecondition, "more than 8 deep");
  // The whole stack still moves as one.
  Move(producer_, kProducer, warehouse_, kWarehouse, {inner});
  EXPECT_EQ(ledger_->Find(Code(1))->custodian, kWarehouse);
}

TEST_F(LedgerTest, AnErrorDeclarationJoinsExactlyTheCorrectedEventsChains) {
  Commission({1, 2});
  v1::Event store = Event(v1::STORING, kProducer, {Code(1)});
  Ok(producer_, store);
  v1::Event error = Event(v1::ERROR_DECLARATION, kProducer, {Code(2)});
  error.set_corrects_event_id(store.event_id());
  error.set_reason("wrong bay");
  Refused(producer_, error, absl::StatusCode::kInvalidArgument, "event.codes");
  error.clear_codes();
  // Only the enterprise that recorded it may declare it wrong.
  Move(producer_, kProducer, warehouse_, kWarehouse, {Code(2)});
  v1::Event foreign = Event(v1::ERROR_DECLARATION, kWarehouse, {});
  foreign.set_corrects_event_id(store.event_id());
  foreign.set_reason("not mine");
  Refused(warehouse_, foreign, absl::StatusCode::kPermissionDenied, "event.corrects_event_id");
  Ok(producer_, error);
  EXPECT_EQ(ledger_->Find(Code(1))->history.size(), 3u);  // commission, store, declaration
  EXPECT_EQ(ledger_->Find(Code(2))->history.size(), 3u);  // commission, ship, receive
  ExpectChainIntact(Code(1));
}

TEST_F(LedgerTest, AnErrorDeclarationUndoesTheWrongEvent) {
  Commission({1, 2});
  Move(producer_, kProducer, user_, kUser, {Code(1)});
  // A wrong consumption, declared wrong: the quantity comes back.
  v1::Event use = Event(v1::CONSUMING, kUser, {Code(1)});
  use.set_quantity_milli(10000);
  Ok(user_, use);
  EXPECT_EQ(ledger_->Find(Code(1))->remaining_milli, 15000u);
  v1::Event error = Event(v1::ERROR_DECLARATION, kUser, {});
  error.set_corrects_event_id(use.event_id());
  error.set_reason("scanned the wrong drum");
  Ok(user_, error);
  EXPECT_EQ(ledger_->Find(Code(1))->remaining_milli, 25000u);
  ExpectChainIntact(Code(1));

  // A consumption to zero (terminal), declared wrong: active again.
  use = Event(v1::CONSUMING, kUser, {Code(1)});
  use.set_quantity_milli(25000);
  Ok(user_, use);
  EXPECT_EQ(ledger_->Find(Code(1))->status, CodeStatus::kConsumed);
  error = Event(v1::ERROR_DECLARATION, kUser, {});
  error.set_corrects_event_id(use.event_id());
  error.set_reason("wrong code");
  Ok(user_, error);
  EXPECT_EQ(ledger_->Find(Code(1))->status, CodeStatus::kActive);

  // Only a code's latest event can be undone.
  v1::Event first = Event(v1::STORING, kUser, {Code(1)});
  Ok(user_, first);
  Ok(user_, Event(v1::STORING, kUser, {Code(1)}));
  error = Event(v1::ERROR_DECLARATION, kUser, {});
  error.set_corrects_event_id(first.event_id());
  error.set_reason("late");
  Refused(user_, error, absl::StatusCode::kFailedPrecondition, "has had events since");

  // A commissioning is not undone: the code is voided instead.
  v1::Event commission = Event(v1::COMMISSIONING, kProducer, {Code(3)});
  Ok(producer_, commission);
  error = Event(v1::ERROR_DECLARATION, kProducer, {});
  error.set_corrects_event_id(commission.event_id());
  error.set_reason("wrong label");
  Refused(producer_, error, absl::StatusCode::kFailedPrecondition, "void the code instead");

  // The same after a restart.
  OpenLedger();
  EXPECT_EQ(ledger_->Find(Code(1))->status, CodeStatus::kActive);
  EXPECT_EQ(ledger_->Find(Code(1))->remaining_milli, 25000u);
  ExpectChainIntact(Code(1));
}

TEST_F(LedgerTest, SameEventIdSameBytesIsTheOriginalReceipt) {
  Commission({1});
  const v1::Event store = Event(v1::STORING, kProducer, {Code(1)});
  const EventReceipt first = Ok(producer_, store);
  const uint64_t size = log_->Size();
  const EventReceipt again = Ok(producer_, store);
  EXPECT_TRUE(again.replayed);
  EXPECT_EQ(again.log_index, first.log_index);
  EXPECT_EQ(again.event_hash, first.event_hash);
  EXPECT_EQ(log_->Size(), size);
  v1::Event changed = store;
  changed.mutable_location()->set_site("elsewhere");
  Refused(producer_, changed, absl::StatusCode::kAlreadyExists, "event.event_id");
  OpenLedger();
  EXPECT_TRUE(Ok(producer_, store).replayed);
}

TEST_F(LedgerTest, ConcurrentWritersLoseAndDuplicateNothing) {
  Commission({1, 2, 3, 4, 5, 6, 7, 8});
  constexpr int kThreads = 8, kPerThread = 25;
  std::atomic<int> failures{0};
  std::vector<v1::SignedEnvelope> envelopes[kThreads];
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kPerThread; ++i) {
      // Every thread stores its own package and, every fifth event, package 1.
      const std::string code = (i % 5 == 4) ? Code(1) : Code(t + 1);
      v1::Event e = Event(v1::STORING, kProducer, {code});
      e.mutable_event_time()->set_seconds(absl::ToUnixSeconds(absl::Now() - absl::Minutes(1)));
      envelopes[t].push_back(Signed(producer_, e));
    }
  }
  const uint64_t before = log_->Size();
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (const v1::SignedEnvelope& env : envelopes[t]) {
        if (!ledger_->Append(env).ok()) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(log_->Size(), before + kThreads * kPerThread);
  size_t events = 0;
  for (int serial = 1; serial <= 8; ++serial) {
    ExpectChainIntact(Code(serial));
    events += ledger_->Find(Code(serial))->history.size() - 1;  // minus commissioning
  }
  EXPECT_EQ(events, static_cast<size_t>(kThreads * kPerThread));
  OpenLedger();
  for (int serial = 1; serial <= 8; ++serial) ExpectChainIntact(Code(serial));
}

TEST_F(LedgerTest, ABatchIsCheckedInOrderAndWrittenAtOnce) {
  Commission({1, 2});
  std::vector<v1::SignedEnvelope> batch;
  batch.push_back(Signed(producer_, Event(v1::STORING, kProducer, {Code(1)})));
  v1::Event use = Event(v1::CONSUMING, kProducer, {Code(1)});
  use.set_quantity_milli(20000);
  batch.push_back(Signed(producer_, use));
  v1::Event too_much = Event(v1::CONSUMING, kProducer, {Code(1)});
  too_much.set_quantity_milli(6000);  // 5000 left after the one before
  batch.push_back(Signed(producer_, too_much));
  v1::SignedEnvelope forged = Signed(producer_, Event(v1::STORING, kProducer, {Code(2)}));
  forged.mutable_signatures(0)->set_sig(std::string(64, '\1'));
  batch.push_back(forged);
  batch.push_back(batch[0]);  // the same event twice in one batch
  v1::Event rest = Event(v1::CONSUMING, kProducer, {Code(1)});
  rest.set_quantity_milli(5000);
  batch.push_back(Signed(producer_, rest));
  const uint64_t before = log_->Size();
  std::vector<absl::StatusOr<EventReceipt>> results = ledger_->AppendBatch(batch);
  ASSERT_EQ(results.size(), batch.size());
  ASSERT_TRUE(results[0].ok()) << results[0].status();
  ASSERT_TRUE(results[1].ok()) << results[1].status();
  EXPECT_EQ(results[2].status().code(), absl::StatusCode::kFailedPrecondition) << results[2].status();
  EXPECT_EQ(results[3].status().code(), absl::StatusCode::kUnauthenticated) << results[3].status();
  ASSERT_TRUE(results[4].ok()) << results[4].status();
  EXPECT_TRUE(results[4]->replayed);
  EXPECT_EQ(results[4]->log_index, results[0]->log_index);
  ASSERT_TRUE(results[5].ok()) << results[5].status();
  EXPECT_EQ(results[1]->log_index, results[0]->log_index + 1);
  EXPECT_EQ(results[5]->log_index, results[0]->log_index + 2);
  EXPECT_EQ(log_->Size(), before + 3);
  EXPECT_EQ(ledger_->Find(Code(1))->status, CodeStatus::kConsumed);
  ExpectChainIntact(Code(1));
  OpenLedger();
  ExpectChainIntact(Code(1));
  EXPECT_EQ(ledger_->Find(Code(1))->history.size(), 4u);
}

// docs/events.md's worked example, computed with ChemLedger's own code.
TEST(EventSigningTest, WorkedExampleFromTheDocs) {
  const crypto::SigningKey key = TestKey(1);
  v1::Event e;
  e.set_event_id("ev-2026-11-23-0001");
  e.set_step(v1::STORING);
  e.add_codes("91350100M000100Y43.M01.B20261123.1");
  e.mutable_event_time()->set_seconds(1795395600);
  e.set_event_time_offset_minutes(480);
  e.mutable_location()->set_enterprise_uscc("91350100M000100Y43");
  e.mutable_location()->set_site("tank farm, bay 2");
  const std::string payload = e.SerializeAsString();
  EXPECT_EQ(absl::BytesToHexString(payload),
            "0a1265762d323032362d31312d32332d3030303110021a2239313335303130304d303030313030593433"
            "2e4d30312e4232303236313132332e3122060890a08ed80628e00332260a1239313335303130304d3030"
            "30313030593433121074616e6b206661726d2c206261792032");
  EXPECT_EQ(key.verifying_key().ToBase64(), "iojj3XQJ8ZX9UtstPLpdcspnCb8dlBIb83SIAbQPb1w=");
  EXPECT_EQ(key.key_id().ToString(), "beca62982f5d94c3");
  v1::SignedEnvelope envelope = *envelope::Sign(kEventContext, payload, key);
  EXPECT_EQ(absl::Base64Escape(envelope.signatures(0).sig()),
            "VZfkE70yyVIi282FShSTKW2EvePEybTFkUaSu752PbBlPqBIpGxJadp9ou0c3nRlNz7XlSG4EzvVSKuFqyBCAg==");
  EXPECT_EQ(envelope.signatures(0).key_id(), "beca62982f5d94c3");
}

}  // namespace
}  // namespace chemledger::ledger
