// A ChemLedger deployment on one machine: its data directory and everything
// the all-in-one server (chemledgerd) runs on it: the store (embedded
// LevelDB), the journal with the ledger's state machines, the in-process
// ledger client the personalities use, and the platform's keys.
//
//   <data>/log/                 the LevelDB store (log, Merkle tree, state)
//   <data>/ephemeral/           used read-credential nonces and console
//                               sign-ins (services/common/ephemeral_store.h;
//                               opened by the server, not by Deployment)
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

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "chemledger/v1/registry.pb.h"
#include "crypto/checkpoint.h"
#include "crypto/keys.h"
#include "journal/journal.h"
#include "journal/ledger_client.h"
#include "journal/state_machine.h"
#include "services/audit/refusal_recorder.h"
#include "services/chemledgerd/state_machines.h"
#include "services/label/issuance.h"
#include "services/label/label_keyring.h"
#include "services/ledger/ledger.h"
#include "services/ledger/major_hazard_recorder.h"
#include "services/ledger/public_scan_recorder.h"
#include "services/ledger/witness_cosignatures.h"
#include "services/notary/notary.h"
#include "services/registry/catalogue.h"
#include "services/waybill/waybills.h"
#include "storage/postgres_store.h"
#include "storage/store.h"

namespace leveldb {
class Env;
}  // namespace leveldb

namespace chemledger::server {

struct InitOptions {
  std::string deployment;  // a name, e.g. "chemledger.example.cn"; names the note key too
  std::string resolver;    // label resolver host, e.g. "CL.EXAMPLE.CN" (at most 24 characters)
  std::string admin_name;  // the first administrator's name
  int label_key_valid_days = 730;  // validity of the first label key, from today
  // A deployment for tests and drills (Genesis.test_deployment): only such
  // a deployment's server may run on a test clock.
  bool test_deployment = false;
  // Where "now" comes from (record times, "today"); empty: the real clock.
  // Only with test_deployment.
  std::function<absl::Time()> clock;
  // The store on PostgreSQL (storage/postgres_store.h): a libpq connection
  // string to an existing, empty database, kept in DATA/store.postgres.
  // Empty: LevelDB in DATA/log.
  std::string postgres;
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
// The same in `key_dir` itself, a cluster's label key directory (labeld's
// and waybilld's --label-keys), which must exist and be private (0700).
absl::StatusOr<crypto::VerifyingKey> CreateLabelKeyIn(const std::string& key_dir);

// Whether the deployment in `data_dir` keeps its store on PostgreSQL
// (DATA/store.postgres) rather than in LevelDB.
bool StoreIsOnPostgres(const std::string& data_dir);

struct OpenOptions {
  // The file system LevelDB uses; nullptr for the real one (tests pass a
  // fault-injecting Env). Not owned; must outlive the deployment.
  leveldb::Env* env = nullptr;
  // LevelDB's block cache, bytes.
  size_t block_cache_bytes = 64 << 20;
  // Reports the progress of a one-time migration of a store written before
  // stores kept state (entries done, entries in all).
  std::function<void(uint64_t, uint64_t)> migration_progress;
  // The rules new entries are checked under (journal/state_machine.h). An
  // earlier epoch only for a documented deprecation window (CHANGELOG.md):
  // epoch 2 opens waybills without their consignor's consent.
  uint32_t rules_epoch = journal::kCurrentRulesEpoch;
  // Where "now" comes from: entries' record times and the day label and
  // waybill-code keys are chosen for. Empty: the real clock. A test clock
  // (test_clock.h) is refused unless the deployment is a test deployment
  // (Genesis.test_deployment).
  std::function<absl::Time()> clock;
  // Told of each batch the journal commits (journal::JournalOptions::on_commit).
  std::function<void(const journal::CommittedBatch&)> on_commit;
  // How long and how many snapshots the ledger client keeps for paged
  // reads (ledgerd keeps more: every personality's request opens one).
  journal::SnapshotRetention snapshot_retention;
  // For a store on PostgreSQL (DATA/store.postgres, whose connection string
  // replaces `connection`): the writer's lease, how long Open waits for it
  // and what happens when another server takes it
  // (storage/postgres_store.h; postgres_flags.h reads them from flags).
  storage::PostgresStoreOptions postgres;
  // A read replica (ledgerd --read-replica; docs/postgres.md): the store
  // must be on PostgreSQL; it is opened read-only, beside the writer or on a
  // standby, and follows the head every `follow_head_every`. There is no
  // journal: the ledger client refuses every write (ReadsOnly) and is
  // healthy while the head was read within `replica_lag_limit`.
  bool read_replica = false;
  absl::Duration follow_head_every = absl::Milliseconds(100);
  absl::Duration replica_lag_limit = absl::Seconds(5);
};

// What an online backup (Deployment::Backup) wrote.
struct BackupResult {
  std::string directory;
  uint64_t size = 0;
  crypto::Sha256Digest root;
  std::string checkpoint_note;  // the copy's signed checkpoint
  uint64_t records = 0;
  absl::Duration took;
};

class Deployment {
 public:
  // Opens an initialised data directory. Replays nothing: the store's state
  // is current (a store written before stores kept state has it built once,
  // here).
  static absl::StatusOr<std::unique_ptr<Deployment>> Open(const std::string& data_dir,
                                                          const OpenOptions& options = {});
  ~Deployment();

  storage::Store* store() const { return store_.get(); }
  journal::LedgerClient* ledger_client() const { return client_.get(); }
  // The journal itself, for what only the store's owner can tell (its
  // state cache's counts, for the metrics); null for a read replica.
  const journal::Journal* journal() const { return journal_.get(); }
  label::LabelKeyring* keyring() const { return keyring_.get(); }
  label::LabelIssuer* issuer() const { return issuer_.get(); }
  ledger::Ledger* ledger() const { return ledger_.get(); }
  waybill::WaybillBook* waybills() const { return waybills_.get(); }
  const crypto::NoteSigner& note_signer() const { return *note_signer_; }
  // The note key's signatures on checkpoints and trust lists.
  const notary::LedgerNotary* notary() const { return notary_.get(); }
  // The witnesses' co-signatures, kept in DATA/witness-cosignatures.
  ledger::WitnessCosignatures* cosignatures() const { return cosignatures_.get(); }
  // Records refused requests in the log (for the services that submit
  // writes outside the personalities above: the registry's).
  audit::RefusalRecorder* refusals() const { return refusals_.get(); }
  // Records the alerts of sites crossing GB 18218's Σ q/Q = 1 or changing
  // grade as entries (ledger/major_hazard_recorder.h).
  ledger::MajorHazardAlertRecorder* major_hazard_alerts() const {
    return major_hazard_alerts_.get();
  }
  // Records the anonymous scans of lost, ended or voided packages
  // (ledger/public_scan_recorder.h): the scan services' PublicScanSink.
  ledger::PublicScanRecorder* public_scans() const { return public_scans_.get(); }
  // The data directory it was opened from.
  const std::string& data_dir() const { return data_dir_; }
  // The rules epoch its journal writes entries under (OpenOptions).
  uint32_t rules_epoch() const { return rules_epoch_; }

  // An online backup (AdminService.Backup; docs/deployment.md, "Backup and
  // restore"): the store as one commit left it, copied while the deployment
  // serves, into DATA/backups/<UTC time>/ with the note verifier key, the
  // copy's checkpoint signed by the note key, and the witnesses' co-signatures.
  // The directory appears whole or not at all (written as .partial-<name>,
  // then renamed and synced; what a crash left of one is removed by the next
  // backup). Keys are not copied. For platform administrators only (`caller`,
  // authenticated by the caller of this; else PermissionDenied), one at a time
  // per deployment (a second asked for while one runs: ResourceExhausted).
  absl::StatusOr<BackupResult> Backup(const v1::Actor& caller) const;

 private:
  Deployment() = default;

  // Set while a backup runs (Backup): one at a time, so that none removes
  // what another is writing as left over from a crash.
  mutable std::atomic<bool> backing_up_{false};
  std::string data_dir_;
  uint32_t rules_epoch_ = journal::kCurrentRulesEpoch;
  // Destruction runs bottom-up: the personalities, the refusal recorder
  // (which records what they queued), the client, the journal (which
  // finishes its batches in flight), then the store.
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<registry::Catalogue> catalogue_;
  std::unique_ptr<StateMachines> machines_;
  std::unique_ptr<journal::Journal> journal_;
  std::unique_ptr<journal::LedgerClient> client_;
  std::unique_ptr<audit::RefusalRecorder> refusals_;
  std::unique_ptr<ledger::MajorHazardAlertRecorder> major_hazard_alerts_;
  std::unique_ptr<ledger::PublicScanRecorder> public_scans_;
  std::unique_ptr<label::LabelKeyring> keyring_;
  std::unique_ptr<label::LabelIssuer> issuer_;
  std::unique_ptr<waybill::WaybillBook> waybills_;
  std::unique_ptr<ledger::Ledger> ledger_;
  std::unique_ptr<crypto::NoteSigner> note_signer_;
  std::unique_ptr<notary::LedgerNotary> notary_;
  std::unique_ptr<ledger::WitnessCosignatures> cosignatures_;
};

// Makes a data directory `data_dir` (which must not exist) of the backup in
// `backup_dir` and the key directory `keys_dir` (the deployment's
// DATA/keys, backed up apart: the note key, and in chemledgerd's shape the
// label keys), and checks it: the store opens and is at exactly the
// backup's checkpoint, which verifies under the note key's verifier, and
// the note key is that verifier's. Returns the checkpoint. Then `chemledgerd
// check` rebuilds the state from the log, and the server can serve it.
struct RestoreResult {
  uint64_t size = 0;
  crypto::Sha256Digest root;
};
absl::StatusOr<RestoreResult> RestoreDeployment(const std::string& backup_dir,
                                                const std::string& keys_dir,
                                                const std::string& data_dir);

// What `chemledgerd check` found.
struct CheckResult {
  uint64_t entries = 0;
  uint64_t state_keys = 0;
};

// Rebuilds the state of the deployment in `data_dir` from its log, entry by
// entry under the rules of each entry's time, into a scratch store (under
// `scratch_dir`, removed afterwards), and compares it with the stored state.
// DataLoss naming the first difference. The server must not be running (the
// store's lock says so: FailedPrecondition).
absl::StatusOr<CheckResult> CheckDeployment(
    const std::string& data_dir, const std::string& scratch_dir,
    const std::function<void(uint64_t, uint64_t)>& progress = nullptr);

}  // namespace chemledger::server

#endif  // CHEMLEDGER_SERVICES_CHEMLEDGERD_DEPLOYMENT_H_
