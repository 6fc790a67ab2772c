// Test-only: a whole ledger in this process, on a real LevelDB store in a
// fresh temporary directory: the store, the journal with the deployment's
// state machines, the in-process ledger client and the personalities (label
// issuance, the lifecycle ledger, the waybill book), plus helpers that sign
// and submit the requests tests need (genesis, registry changes, a label key,
// an issued batch). Tests of the rules use it instead of wiring their own.
//
// Not thread-safe to Reopen while other threads use it; everything else is
// as thread-safe as the objects it returns.

#ifndef CHEMLEDGER_TESTING_TEST_LEDGER_H_
#define CHEMLEDGER_TESTING_TEST_LEDGER_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "chemledger/v1/label.pb.h"
#include "chemledger/v1/registry.pb.h"
#include "crypto/keys.h"
#include "journal/journal.h"
#include "journal/ledger_client.h"
#include "services/chemledgerd/deployment.h"
#include "services/label/issuance.h"
#include "services/label/label_keyring.h"
#include "services/ledger/ledger.h"
#include "services/registry/catalogue.h"
#include "services/waybill/waybills.h"
#include "storage/store.h"

namespace leveldb {
class Env;
}  // namespace leveldb

namespace chemledger::testing {

// A deterministic key for tests: 32 bytes of `seed`.
crypto::SigningKey TestKey(int seed);

struct TestLedgerOptions {
  // The catalogue product registrations are checked against (default: the
  // shipped one).
  std::shared_ptr<const registry::Catalogue> catalogue;
  // The file system LevelDB uses (a fault-injecting Env in some tests).
  leveldb::Env* env = nullptr;
  // Rules epoch and clock of new entries (JournalOptions).
  uint32_t rules_epoch = journal::kCurrentRulesEpoch;
  std::function<absl::Time()> clock;
};

class TestLedger {
 public:
  // A new ledger in a fresh directory named after `name`, its genesis entry
  // written for the platform administrator `admin` (resolver CL.EXAMPLE.CN).
  static std::unique_ptr<TestLedger> Create(const std::string& name,
                                            const crypto::SigningKey& admin,
                                            TestLedgerOptions options = {});
  ~TestLedger();

  // Closes everything and opens the same directory again (with `options`).
  void Reopen(TestLedgerOptions options);
  void Reopen() { Reopen(options_); }
  // Closes everything (for tests that open the store themselves).
  void Close();

  // Rebuilds the state from the log into a scratch store and compares.
  absl::StatusOr<journal::CheckReport> Check();

  const std::string& dir() const { return dir_; }
  std::string store_dir() const { return dir_ + "/log"; }
  std::string key_dir() const { return dir_ + "/keys"; }
  storage::Store& store() { return *store_; }
  journal::LedgerClient& client() { return *client_; }
  std::shared_ptr<const storage::Snapshot> snapshot() { return client_->Latest(); }
  label::LabelKeyring& keyring() { return *keyring_; }
  label::LabelIssuer& issuer() { return *issuer_; }
  ledger::Ledger& ledger() { return *ledger_; }
  waybill::WaybillBook& waybills() { return *waybills_; }

  // Signs `request` (a fresh request_id unless it has one) with `signer` and
  // submits it, as RegistryService.Submit does.
  absl::StatusOr<journal::Receipt> Registry(const crypto::SigningKey& signer,
                                            v1::RegistryRequest request);
  absl::Status RegisterEnterprise(const crypto::SigningKey& admin, const v1::Enterprise& e);
  absl::Status RegisterProduct(const crypto::SigningKey& signer, const v1::Product& p);
  // An actor of `role`; `uscc` empty for platform administrators and regulators.
  absl::Status AddActor(const crypto::SigningKey& signer, const std::string& uscc,
                        v1::ActorRole role, const crypto::SigningKey& key,
                        const std::string& name = "actor");
  // Makes a label key in key_dir() and registers it, valid from yesterday
  // (China time) for a year. Returns its key id.
  absl::StatusOr<crypto::KeyId> AddLabelKey(const crypto::SigningKey& admin);

  // `consignor_key` (an admin or operator of a consignor) authorises carrier
  // `carrier_uscc` to submit its waybills for a year: they open at once.
  absl::Status AuthorizeCarrier(const crypto::SigningKey& consignor_key,
                                const std::string& carrier_uscc);

  // Issues `count` packages of `net_quantity` `unit` each, batch `batch` of
  // product `product` of `uscc`, produced yesterday; signed by `key`.
  absl::StatusOr<label::Issuance> IssueBatch(const crypto::SigningKey& key,
                                             const std::string& uscc, const std::string& product,
                                             const std::string& batch, uint32_t count,
                                             const std::string& net_quantity = "25",
                                             const std::string& unit = "KGM");

 private:
  TestLedger() = default;
  void Open();

  std::string dir_;
  TestLedgerOptions options_;
  int next_request_ = 0;
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<server::StateMachines> machines_;
  std::unique_ptr<journal::Journal> journal_;
  std::unique_ptr<journal::LedgerClient> client_;
  std::unique_ptr<label::LabelKeyring> keyring_;
  std::unique_ptr<label::LabelIssuer> issuer_;
  std::unique_ptr<ledger::Ledger> ledger_;
  std::unique_ptr<waybill::WaybillBook> waybills_;
};

}  // namespace chemledger::testing

#endif  // CHEMLEDGER_TESTING_TEST_LEDGER_H_
