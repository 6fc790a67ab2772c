#include "testing/test_ledger.h"

#include <sys/stat.h>

#include <filesystem>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "api/china_time.h"
#include "api/wire.h"
#include "gtest/gtest.h"
#include "services/common/envelope.h"
#include "services/registry/catalogue_data.h"
#include "services/registry/registry_rules.h"
#include "services/registry/registry_testing.h"
#include "services/registry/signers.h"
#include "services/waybill/waybill_testing.h"
#include "storage/leveldb_log.h"
#include "tests/subprocess.h"

namespace chemledger::testing {

crypto::SigningKey TestKey(int seed) {
  return crypto::SigningKey::FromSeed(
      *crypto::SecretSeed::FromBytes(std::string(32, static_cast<char>(seed))));
}

std::unique_ptr<TestLedger> TestLedger::Create(const std::string& name,
                                               const crypto::SigningKey& admin,
                                               TestLedgerOptions options) {
  std::unique_ptr<TestLedger> t(new TestLedger());
  t->dir_ = FreshTempDir(name);
  EXPECT_EQ(mkdir(t->key_dir().c_str(), 0700), 0);
  t->options_ = std::move(options);
  t->Open();
  absl::StatusOr<v1::SignedEnvelope> genesis =
      registry::MakeGenesis("test", "CL.EXAMPLE.CN", "root", admin);
  EXPECT_TRUE(genesis.ok()) << genesis.status();
  absl::StatusOr<journal::Receipt> r = t->journal_->Submit(journal::Request{*genesis, ""});
  EXPECT_TRUE(r.ok()) << r.status();
  return t;
}

TestLedger::~TestLedger() { Close(); }

void TestLedger::Close() {
  waybills_.reset();
  ledger_.reset();
  issuer_.reset();
  keyring_.reset();
  client_.reset();
  journal_.reset();
  machines_.reset();
  store_.reset();
}

void TestLedger::Open() {
  if (options_.catalogue == nullptr) {
    options_.catalogue = std::make_shared<const registry::Catalogue>(
        *registry::Catalogue::Parse(registry::kShippedCatalogueTsv));
  }
  storage::LevelDbLogOptions store_options;
  store_options.env = options_.env;
  absl::StatusOr<std::unique_ptr<storage::Store>> store =
      storage::OpenLevelDbStore(store_dir(), store_options);
  ASSERT_TRUE(store.ok()) << store.status();
  store_ = *std::move(store);
  machines_ = std::make_unique<server::StateMachines>(options_.catalogue.get());
  journal::JournalOptions journal_options;
  journal_options.rules_epoch = options_.rules_epoch;
  journal_options.allow_older_rules_epoch = true;  // tests write "old" logs after newer entries
  if (options_.clock) journal_options.clock = options_.clock;
  absl::StatusOr<std::unique_ptr<journal::Journal>> journal =
      journal::Journal::Open(store_.get(), machines_->all(), journal_options);
  ASSERT_TRUE(journal.ok()) << journal.status();
  journal_ = *std::move(journal);
  client_ = journal::NewInProcessLedgerClient(journal_.get());
  absl::StatusOr<std::unique_ptr<label::LabelKeyring>> keyring =
      label::LabelKeyring::Open(key_dir());
  ASSERT_TRUE(keyring.ok()) << keyring.status();
  keyring_ = *std::move(keyring);
  issuer_ = std::make_unique<label::LabelIssuer>(client_.get(), keyring_.get());
  ledger_ = std::make_unique<ledger::Ledger>(client_.get(), nullptr, /*verify_threads=*/2,
                                             options_.rules_epoch);
  waybills_ = std::make_unique<waybill::WaybillBook>(client_.get(), keyring_.get());
}

void TestLedger::Reopen(TestLedgerOptions options) {
  Close();
  options_ = std::move(options);
  Open();
}

absl::StatusOr<journal::CheckReport> TestLedger::Check() {
  const std::string scratch = FreshTempDir(absl::StrCat(
      ::testing::UnitTest::GetInstance()->current_test_info()->name(), "_check"));
  std::filesystem::remove_all(scratch);
  absl::StatusOr<std::unique_ptr<storage::Store>> scratch_store = storage::OpenLevelDbStore(scratch);
  if (!scratch_store.ok()) return scratch_store.status();
  return journal::Journal::Check(*store_, machines_->all(), scratch_store->get());
}

absl::StatusOr<journal::Receipt> TestLedger::Registry(const crypto::SigningKey& signer,
                                                      v1::RegistryRequest request) {
  if (request.request_id().empty()) request.set_request_id(absl::StrCat("reg-", ++next_request_));
  absl::StatusOr<v1::SignedEnvelope> e =
      envelope::Sign(api::kRegistryContext, request.SerializeAsString(), signer);
  if (!e.ok()) return e.status();
  const v1::SignedEnvelope* one[] = {&*e};
  return std::move(registry::SubmitSigned(*client_, one, api::kRegistryContext)[0]);
}

absl::Status TestLedger::RegisterEnterprise(const crypto::SigningKey& admin,
                                            const v1::Enterprise& e) {
  v1::RegistryRequest r;
  *r.mutable_register_enterprise() = e;
  return Registry(admin, r).status();
}

absl::Status TestLedger::RegisterProduct(const crypto::SigningKey& signer, const v1::Product& p) {
  v1::RegistryRequest r;
  *r.mutable_register_product() = p;
  return Registry(signer, r).status();
}

absl::Status TestLedger::AddActor(const crypto::SigningKey& signer, const std::string& uscc,
                                  v1::ActorRole role, const crypto::SigningKey& key,
                                  const std::string& name) {
  v1::RegistryRequest r;
  *r.mutable_add_actor() =
      registry::testing::ExampleActor(name, role, uscc, key.verifying_key());
  return Registry(signer, r).status();
}

absl::StatusOr<crypto::KeyId> TestLedger::AddLabelKey(const crypto::SigningKey& admin) {
  absl::StatusOr<crypto::VerifyingKey> key = label::LabelKeyring::CreateKey(key_dir());
  if (!key.ok()) return key.status();
  const absl::CivilDay today = api::TodayInChina();
  v1::RegistryRequest r;
  r.set_request_id(absl::StrCat("add-label-key-", key->key_id().ToString()));
  r.mutable_add_label_key()->set_public_key(key->ToBytes());
  *r.mutable_add_label_key()->mutable_valid_from() = api::ToProtoDate(today - 1);
  *r.mutable_add_label_key()->mutable_valid_until() = api::ToProtoDate(today + 365);
  if (absl::Status s = Registry(admin, r).status(); !s.ok()) return s;
  return key->key_id();
}

absl::Status TestLedger::AuthorizeCarrier(const crypto::SigningKey& consignor_key,
                                          const std::string& carrier_uscc) {
  const v1::WaybillRequest r = waybill::testing::AuthorizeCarrierRequest(
      absl::StrCat("authorize-", consignor_key.key_id().ToString(), "-", carrier_uscc),
      carrier_uscc);
  absl::StatusOr<v1::SignedEnvelope> signed_request =
      envelope::Sign(api::kWaybillContext, r.SerializeAsString(), consignor_key);
  if (!signed_request.ok()) return signed_request.status();
  return waybills().Apply(*signed_request).status();
}

absl::StatusOr<label::Issuance> TestLedger::IssueBatch(const crypto::SigningKey& key,
                                                       const std::string& uscc,
                                                       const std::string& product,
                                                       const std::string& batch, uint32_t count,
                                                       const std::string& net_quantity,
                                                       const std::string& unit) {
  v1::IssueLabelsRequest issue;
  issue.set_request_id(absl::StrCat("issue-", uscc, "-", product, "-", batch, "-", count));
  issue.set_enterprise_uscc(uscc);
  issue.set_product_number(product);
  issue.set_batch(batch);
  *issue.mutable_production_date() = api::ToProtoDate(api::TodayInChina() - 1);
  issue.set_package_count(count);
  issue.set_net_quantity(net_quantity);
  issue.set_unit(unit);
  absl::StatusOr<v1::SignedEnvelope> e =
      envelope::Sign(api::kIssueLabelsContext, issue.SerializeAsString(), key);
  if (!e.ok()) return e.status();
  return issuer_->Issue(*e);
}

}  // namespace chemledger::testing
