// A ChemLedger deployment on one machine: its data directory and everything
// the all-in-one server (chemledgerd) runs on it: the log (embedded LevelDB),
// the registry, label issuance and the platform's keys.
//
//   <data>/log/                 the LevelDB log
//   <data>/keys/note.key        the platform note key (signs the label trust
//                               list and log checkpoints); mode 0600
//   <data>/keys/label-<id>.key  label signing keys; mode 0600
//   <data>/note.vkey            the note key's verifier key string, public:
//                               what offline verifiers pin
//
// InitDeployment creates it once, from the first platform administrator's key
// (which signs the genesis entry and registers the first label key; it is
// read, never stored). There is no default account: whoever can write the
// data directory before the server first starts decides the first
// administrator, and the genesis entry proves who that was.
//
// Thread-safety: Deployment's accessors may be used from any thread; the
// objects they return are thread-safe.

#ifndef CHEMLEDGER_SERVICES_CHEMLEDGERD_DEPLOYMENT_H_
#define CHEMLEDGER_SERVICES_CHEMLEDGERD_DEPLOYMENT_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "crypto/checkpoint.h"
#include "crypto/keys.h"
#include "services/label/issuance.h"
#include "services/ledger/ledger.h"
#include "services/waybill/waybills.h"
#include "services/registry/catalogue.h"
#include "services/registry/registry.h"
#include "storage/log.h"

namespace chemledger::server {

struct InitOptions {
  std::string deployment;  // a name, e.g. "chemledger.example.cn"; names the note key too
  std::string resolver;    // label resolver host, e.g. "CL.EXAMPLE.CN" (at most 24 characters)
  std::string admin_name;  // the first administrator's name
  int label_key_valid_days = 730;  // validity of the first label key, from today
};

struct InitResult {
  std::string note_verifier_key;  // what offline verifiers pin
  crypto::KeyId label_key_id;
  uint64_t log_size = 0;
};

// Creates a deployment in `data_dir` (which must not exist or be empty):
// the directories, the note key, a first label key, and the log's genesis and
// label key entries, signed by `admin_key`. FailedPrecondition if the
// directory already holds something.
absl::StatusOr<InitResult> InitDeployment(const std::string& data_dir, const InitOptions& options,
                                          const crypto::SigningKey& admin_key);

// Makes a new label key file in the deployment's key directory and returns
// its public half, to be registered (RegistryRequest.add_label_key) by a
// platform administrator. The server picks it up on its next issuance.
absl::StatusOr<crypto::VerifyingKey> CreateLabelKey(const std::string& data_dir);

class Deployment {
 public:
  // Opens an initialised data directory: replays the log into the registry
  // and the issuer.
  static absl::StatusOr<std::unique_ptr<Deployment>> Open(const std::string& data_dir);

  storage::Log* log() const { return log_.get(); }
  registry::Registry* registry() const { return registry_.get(); }
  label::LabelIssuer* issuer() const { return issuer_.get(); }
  ledger::Ledger* ledger() const { return ledger_.get(); }
  waybill::WaybillBook* waybills() const { return waybills_.get(); }
  const crypto::NoteSigner& note_signer() const { return *note_signer_; }

 private:
  Deployment() = default;

  std::unique_ptr<storage::Log> log_;
  std::unique_ptr<registry::Catalogue> catalogue_;
  std::unique_ptr<registry::Registry> registry_;
  std::unique_ptr<label::LabelKeyring> keyring_;
  std::unique_ptr<label::LabelIssuer> issuer_;
  std::unique_ptr<waybill::WaybillBook> waybills_;  // before the ledger, which asks it
  std::unique_ptr<ledger::Ledger> ledger_;
  std::unique_ptr<crypto::NoteSigner> note_signer_;
};

}  // namespace chemledger::server

#endif  // CHEMLEDGER_SERVICES_CHEMLEDGERD_DEPLOYMENT_H_
