#include "services/chemledgerd/deployment.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <system_error>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "chemledger/v1/registry.pb.h"
#include "crypto/key_files.h"
#include "services/common/envelope.h"
#include "services/ledger/public_scan_recorder.h"
#include "services/ledger/public_scans.h"
#include "services/registry/registry_rules.h"
#include "services/registry/registry_state.h"
#include "services/registry/signers.h"
#include "storage/durable_file.h"
#include "storage/leveldb_log.h"
#include "storage/postgres_store.h"

namespace chemledger::server {
namespace {

std::string LogDir(const std::string& data) { return data + "/log"; }
// Present when the store is on PostgreSQL: its libpq connection string.
std::string PostgresConfPath(const std::string& data) { return data + "/store.postgres"; }

// Whether `data` holds a deployment: its LevelDB store, or the file that
// says where its PostgreSQL store is.
bool Initialised(const std::string& data) {
  struct stat st;
  return stat(LogDir(data).c_str(), &st) == 0 || StoreIsOnPostgres(data);
}

// The deployment's store: on PostgreSQL when DATA/store.postgres says so,
// else LevelDB in DATA/log (with `leveldb`'s options).
absl::StatusOr<std::unique_ptr<storage::Store>> OpenDeploymentStore(
    const std::string& data, const storage::LevelDbLogOptions& leveldb,
    const storage::PostgresStoreOptions& postgres = storage::PostgresStoreOptions()) {
  if (StoreIsOnPostgres(data)) {
    std::ifstream conf(PostgresConfPath(data));
    storage::PostgresStoreOptions options = postgres;
    if (!conf || !std::getline(conf, options.connection)) {
      return absl::FailedPreconditionError(
          absl::StrCat(PostgresConfPath(data), ": cannot be read"));
    }
    while (!options.connection.empty() &&
           (options.connection.back() == '\r' || options.connection.back() == ' ')) {
      options.connection.pop_back();
    }
    if (options.connection.empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat(PostgresConfPath(data), ": empty (a libpq connection string)"));
    }
    return storage::OpenPostgresStore(options);
  }
  return storage::OpenLevelDbStore(LogDir(data), leveldb);
}
std::string KeyDir(const std::string& data) { return data + "/keys"; }
std::string NoteKeyPath(const std::string& data) { return data + "/keys/note.key"; }
std::string NoteVerifierPath(const std::string& data) { return data + "/note.vkey"; }
std::string CosignaturesPath(const std::string& data) { return data + "/witness-cosignatures"; }

absl::Status MakeDir(const std::string& path) {
  if (mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot create directory ", path, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

// A data directory holds the ledger and the platform's private keys: it is
// this user's, and no one else's to read, write or enter.
absl::Status CheckPrivateDirectory(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("data directory ", path, ": ", std::strerror(errno)));
  }
  if (!S_ISDIR(st.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat("data directory ", path, " is not a directory"));
  }
  if (st.st_uid != geteuid()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "data directory ", path, " belongs to user ", st.st_uid, ", not to this user (",
        geteuid(), ")"));
  }
  if ((st.st_mode & 077) != 0) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "data directory %s has mode 0%03o: others may read, write or enter it (run: chmod 700 %s)",
        path, st.st_mode & 0777, path));
  }
  return absl::OkStatus();
}

// OK if `path` does not exist or is an empty directory of this user's that
// no one else may access.
absl::Status CheckFresh(const std::string& path) {
  DIR* d = opendir(path.c_str());
  if (d == nullptr) {
    if (errno == ENOENT) return absl::OkStatus();
    return absl::FailedPreconditionError(
        absl::StrCat("data directory ", path, ": ", std::strerror(errno)));
  }
  bool empty = true;
  while (dirent* e = readdir(d)) {
    if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) empty = false;
  }
  closedir(d);
  if (!empty) {
    return absl::FailedPreconditionError(absl::StrCat(
        "data directory ", path, " is not empty: a deployment is initialised once"));
  }
  return CheckPrivateDirectory(path);
}

// Readable by all whatever the umask (chemledgerd's is 077).
absl::Status WritePublicFile(const std::string& path, const std::string& text) {
  return storage::ReplaceFileDurably(path, text, 0644);
}

// Readable by this user only (it may hold a password).
absl::Status WritePrivateFile(const std::string& path, const std::string& text) {
  return storage::ReplaceFileDurably(path, text, 0600);
}

}  // namespace

absl::StatusOr<InitResult> InitDeployment(const std::string& data_dir, const InitOptions& options,
                                          const crypto::SigningKey& admin_key) {
  // Everything that can be checked is checked before anything is written.
  if (absl::Status s = CheckFresh(data_dir); !s.ok()) return s;
  if (options.admin_name.empty()) return absl::InvalidArgumentError("admin name: is required");
  crypto::SigningKey note_key = crypto::SigningKey::Generate();
  absl::StatusOr<crypto::NoteVerifier> note_verifier =
      crypto::NoteVerifier::Create(options.deployment, note_key.verifying_key());
  if (!note_verifier.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("deployment: ", note_verifier.status().message()));
  }
  if (options.clock && !options.test_deployment) {
    return absl::InvalidArgumentError("a test clock is for test deployments only");
  }
  const std::function<absl::Time()> clock =
      options.clock ? options.clock : std::function<absl::Time()>([] { return absl::Now(); });
  absl::StatusOr<v1::SignedEnvelope> genesis =
      registry::MakeGenesis(options.deployment, options.resolver, options.admin_name, admin_key,
                            options.test_deployment);
  if (!genesis.ok()) return genesis.status();
  if (options.label_key_valid_days < 1) {
    return absl::InvalidArgumentError("label key validity: must be at least 1 day");
  }
  // A store on PostgreSQL: reachable and empty before anything is written
  // (a failed init leaves no file pointing at someone else's database).
  std::unique_ptr<storage::Store> postgres_store;
  if (!options.postgres.empty()) {
    if (options.postgres.find_first_of("\r\n") != std::string::npos) {
      return absl::InvalidArgumentError("postgres: a connection string is one line");
    }
    storage::PostgresStoreOptions postgres;
    postgres.connection = options.postgres;
    absl::StatusOr<std::unique_ptr<storage::Store>> opened = storage::OpenPostgresStore(postgres);
    if (!opened.ok()) return opened.status();
    if ((*opened)->Size() != 0 || (*opened)->StateAppliedSize().has_value()) {
      return absl::FailedPreconditionError(
          "postgres: the database holds a log already; init needs an empty one");
    }
    postgres_store = *std::move(opened);
  }

  for (const std::string& dir : {data_dir, KeyDir(data_dir)}) {
    if (absl::Status s = MakeDir(dir); !s.ok()) return s;
  }
  // The data directory's own name durable in its parent, and the key
  // directory's in it: a power cut after "initialised" must not lose them.
  std::filesystem::path normal = std::filesystem::absolute(data_dir).lexically_normal();
  if (!normal.has_filename()) normal = normal.parent_path();  // "DATA/"
  for (const std::string& dir : {normal.parent_path().string(), data_dir}) {
    if (absl::Status s = storage::SyncDirectory(dir); !s.ok()) return s;
  }
  if (absl::Status s =
          crypto::SaveSigningKey(note_key, NoteKeyPath(data_dir), crypto::KeyFileOptions());
      !s.ok()) {
    return s;
  }
  absl::StatusOr<crypto::VerifyingKey> label_key = label::LabelKeyring::CreateKey(KeyDir(data_dir));
  if (!label_key.ok()) return label_key.status();

  absl::StatusOr<std::unique_ptr<storage::Store>> store = std::move(postgres_store);
  if (*store != nullptr) {
    if (absl::Status s = WritePrivateFile(PostgresConfPath(data_dir), options.postgres + "\n");
        !s.ok()) {
      return s;
    }
  } else {
    store = OpenDeploymentStore(data_dir, storage::LevelDbLogOptions());
    if (!store.ok()) return store.status();
  }
  absl::StatusOr<std::unique_ptr<registry::Catalogue>> catalogue = ShippedCatalogue();
  if (!catalogue.ok()) return catalogue.status();
  StateMachines machines(catalogue->get());
  journal::JournalOptions journal_options;
  journal_options.clock = clock;
  absl::StatusOr<std::unique_ptr<journal::Journal>> journal =
      journal::Journal::Open(store->get(), machines.all(), journal_options);
  if (!journal.ok()) return journal.status();
  if (absl::StatusOr<journal::Receipt> r = (*journal)->Submit(journal::Request{*genesis, ""});
      !r.ok()) {
    return r.status();
  }
  std::unique_ptr<journal::LedgerClient> client = journal::NewInProcessLedgerClient(journal->get());
  const absl::CivilDay today = registry::ChinaDay(clock());
  v1::RegistryRequest add_key;
  add_key.set_request_id("init: first label key");
  add_key.mutable_add_label_key()->set_public_key(label_key->ToBytes());
  *add_key.mutable_add_label_key()->mutable_valid_from() = registry::ToProtoDate(today);
  *add_key.mutable_add_label_key()->mutable_valid_until() =
      registry::ToProtoDate(today + options.label_key_valid_days);
  absl::StatusOr<v1::SignedEnvelope> envelope =
      envelope::Sign(registry::kRegistryContext, add_key.SerializeAsString(), admin_key);
  if (!envelope.ok()) return envelope.status();
  const v1::SignedEnvelope* one[] = {&*envelope};
  if (absl::StatusOr<journal::Receipt> r =
          std::move(registry::SubmitSigned(*client, one, registry::kRegistryContext)[0]);
      !r.ok()) {
    return r.status();
  }

  InitResult result{note_verifier->VerifierKeyString(), label_key->key_id(), (*store)->Size()};
  if (absl::Status s = WritePublicFile(NoteVerifierPath(data_dir), result.note_verifier_key + "\n");
      !s.ok()) {
    return s;
  }
  return result;
}

absl::StatusOr<crypto::VerifyingKey> CreateLabelKey(const std::string& data_dir) {
  return label::LabelKeyring::CreateKey(KeyDir(data_dir));
}

absl::StatusOr<crypto::VerifyingKey> CreateLabelKeyIn(const std::string& key_dir) {
  if (absl::Status s = CheckPrivateDirectory(key_dir); !s.ok()) return s;
  return label::LabelKeyring::CreateKey(key_dir);
}

Deployment::~Deployment() = default;

// A read replica serves a state of this build's layout only, and only once
// the writer has built it (journal/journal.h, kStateFormat).
absl::Status ReplicaReadsStateOf(const storage::Snapshot& snapshot) {
  absl::StatusOr<std::optional<std::string>> format =
      snapshot.Get(journal::Journal::kStateFormatKey);
  if (!format.ok()) return format.status();
  const std::string mine = absl::StrCat(journal::Journal::kStateFormat);
  if (*format == mine) return absl::OkStatus();
  return absl::UnavailableError(absl::StrCat(
      "the store's state is ", format->has_value() ? absl::StrCat("of format '", **format, "'")
                                                   : std::string("of no recorded format"),
      " and this read replica reads format ", mine,
      ": the writer is building it, or has recorded no acknowledged commit yet (a writer of "
      "this version records one as it takes the lease), or it runs another version (run the "
      "writer's)"));
}

bool StoreIsOnPostgres(const std::string& data_dir) {
  struct stat st;
  return stat(PostgresConfPath(data_dir).c_str(), &st) == 0;
}

absl::StatusOr<std::unique_ptr<Deployment>> Deployment::Open(const std::string& data_dir,
                                                             const OpenOptions& options) {
  std::unique_ptr<Deployment> d(new Deployment());
  d->data_dir_ = data_dir;
  d->rules_epoch_ = options.rules_epoch;
  if (!Initialised(data_dir)) {
    return absl::FailedPreconditionError(absl::StrCat(
        data_dir, " is not an initialised deployment (no log/): run chemledgerd init first"));
  }
  if (absl::Status s = CheckPrivateDirectory(data_dir); !s.ok()) return s;
  storage::LevelDbLogOptions store_options;
  store_options.create_if_missing = false;
  store_options.env = options.env;
  store_options.block_cache_bytes = options.block_cache_bytes;
  storage::PostgresStoreOptions postgres = options.postgres;
  if (options.read_replica) {
    if (!StoreIsOnPostgres(data_dir)) {
      return absl::FailedPreconditionError(
          absl::StrCat("a read replica reads a store on PostgreSQL, and ", data_dir,
                       "'s store is LevelDB, which only its own server opens (docs/postgres.md)"));
    }
    postgres.read_only = true;
    postgres.follow_head_every = options.follow_head_every;
    postgres.follow_check = ReplicaReadsStateOf;
  }
  absl::StatusOr<std::unique_ptr<storage::Store>> store =
      OpenDeploymentStore(data_dir, store_options, postgres);
  if (!store.ok()) return store.status();
  d->store_ = *std::move(store);
  absl::StatusOr<std::unique_ptr<registry::Catalogue>> catalogue = ShippedCatalogue();
  if (!catalogue.ok()) return catalogue.status();
  d->catalogue_ = *std::move(catalogue);
  d->machines_ = std::make_unique<StateMachines>(d->catalogue_.get());
  if (options.read_replica) {
    if (absl::Status s = ReplicaReadsStateOf(*d->store_->GetSnapshot()); !s.ok()) return s;
    const storage::Store* replica = d->store_.get();
    d->client_ = journal::NewReadReplicaLedgerClient(
        d->store_.get(), options.snapshot_retention,
        "the writer (the ledgerd or chemledgerd that holds the store's writer's lease)",
        [replica, limit = options.replica_lag_limit]() -> absl::Status {
          std::optional<storage::FollowStatus> follow = storage::PostgresFollowStatus(*replica);
          if (!follow) return absl::OkStatus();
          if (follow->last_read.code() == absl::StatusCode::kDataLoss) return follow->last_read;
          const absl::Duration behind = absl::Now() - follow->last_success;
          if (behind > limit) {
            return absl::UnavailableError(absl::StrCat(
                "the read replica has not read the writer's head for ",
                absl::ToInt64Seconds(behind), " s (it serves log size ", follow->size,
                "): ", follow->last_read.message()));
          }
          if (follow->lease_lapsed > limit) {
            return absl::UnavailableError(absl::StrCat(
                "no writer has renewed its lease in this replica's database for ",
                follow->lease_lapsed == absl::InfiniteDuration()
                    ? std::string("long (none holds it)")
                    : absl::StrCat(absl::ToInt64Seconds(follow->lease_lapsed), " s"),
                ": the writer is down, or the database stopped replicating from the primary "
                "(it serves log size ",
                follow->size, ")"));
          }
          return absl::OkStatus();
        });
  } else {
    journal::JournalOptions journal_options;
    journal_options.rules_epoch = options.rules_epoch;
    if (options.clock) journal_options.clock = options.clock;
    journal_options.on_commit = options.on_commit;
    absl::StatusOr<std::unique_ptr<journal::Journal>> journal = journal::Journal::Open(
        d->store_.get(), d->machines_->all(), journal_options, options.migration_progress);
    if (!journal.ok()) return journal.status();
    d->journal_ = *std::move(journal);
    d->client_ = journal::NewInProcessLedgerClient(d->journal_.get(), options.snapshot_retention);
  }
  absl::StatusOr<state::DeploymentRecord> record =
      registry::ReadDeployment(*d->client_->Latest());
  if (!record.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        data_dir, ": the log has no genesis entry: bootstrap the deployment first (chemledgerd init)"));
  }
  // Nothing was written yet: a test clock on a real deployment stops here.
  if (options.clock && !record->test_deployment()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "--test-clock: ", record->deployment(), " is not a test deployment (chemledgerd init "
        "--test-deployment): its record times come from the real clock only"));
  }
  absl::StatusOr<std::unique_ptr<label::LabelKeyring>> keyring =
      label::LabelKeyring::Open(KeyDir(data_dir));
  if (!keyring.ok()) return keyring.status();
  d->keyring_ = *std::move(keyring);
  d->refusals_ = NewRefusalRecorder(d->client_.get(), d->machines_.get(), options.clock);
  d->major_hazard_alerts_ = std::make_unique<ledger::MajorHazardAlertRecorder>(d->client_.get());
  // Public scans are entries of rules epoch 10 on: a server writing an
  // older epoch's entries records none.
  if (options.rules_epoch >= ledger::kPublicScansRulesEpoch) {
    d->public_scans_ =
        std::make_unique<ledger::PublicScanRecorder>(d->client_.get(), options.clock);
  }
  d->issuer_ = std::make_unique<label::LabelIssuer>(d->client_.get(), d->keyring_.get(),
                                                    options.clock, d->refusals_.get());
  d->waybills_ = std::make_unique<waybill::WaybillBook>(
      d->client_.get(), d->keyring_.get(), options.clock, d->refusals_.get());
  d->ledger_ = std::make_unique<ledger::Ledger>(d->client_.get(), d->refusals_.get(),
                                                /*verify_threads=*/2, options.rules_epoch);
  absl::StatusOr<crypto::SigningKey> note_key =
      crypto::LoadSigningKey(NoteKeyPath(data_dir), absl::nullopt);
  if (!note_key.ok()) return note_key.status();
  absl::StatusOr<crypto::NoteSigner> signer =
      crypto::NoteSigner::Create(record->deployment(), *std::move(note_key));
  if (!signer.ok()) return signer.status();
  d->note_signer_ = std::make_unique<crypto::NoteSigner>(*std::move(signer));
  // It signs a trust list only while it is true: of today, and of the keys'
  // standing as it is now.
  d->notary_ = notary::NewLocalNotary(
      d->note_signer_.get(), [client = d->client_.get()] { return client->Latest(); },
      options.clock ? options.clock : [] { return absl::Now(); });
  absl::StatusOr<std::unique_ptr<ledger::WitnessCosignatures>> cosignatures =
      ledger::WitnessCosignatures::Open(CosignaturesPath(data_dir));
  if (!cosignatures.ok()) return cosignatures.status();
  d->cosignatures_ = *std::move(cosignatures);
  return d;
}

absl::StatusOr<BackupResult> Deployment::Backup(const v1::Actor& caller) const {
  if (caller.role() != v1::PLATFORM_ADMIN) {
    return absl::PermissionDeniedError("backups are for platform administrators");
  }
  if (backing_up_.exchange(true)) {
    return absl::ResourceExhaustedError("a backup is running: one at a time");
  }
  const absl::Cleanup done_backing_up = [this] { backing_up_.store(false); };
  const absl::Time started = absl::Now();
  const std::string backups = data_dir() + "/backups";
  std::error_code ec;
  if (!std::filesystem::exists(backups, ec)) {
    std::filesystem::create_directory(backups, ec);
    if (ec) {
      return absl::PermissionDeniedError(
          absl::StrCat("backup: cannot make ", backups, ": ", ec.message()));
    }
    if (absl::Status s = storage::SyncDirectory(data_dir()); !s.ok()) return s;
  }
  // What a backup cut short by a crash left.
  for (const auto& entry : std::filesystem::directory_iterator(backups, ec)) {
    if (absl::StartsWith(entry.path().filename().string(), ".partial-")) {
      std::error_code ignored;
      std::filesystem::remove_all(entry.path(), ignored);
    }
  }
  std::string name = absl::FormatTime("%Y%m%dT%H%M%SZ", started, absl::UTCTimeZone());
  for (int n = 2; std::filesystem::exists(backups + "/" + name, ec); ++n) {
    name = absl::StrCat(absl::FormatTime("%Y%m%dT%H%M%SZ", started, absl::UTCTimeZone()), "-", n);
  }
  const std::string partial = backups + "/.partial-" + name;
  const std::string done = backups + "/" + name;
  std::filesystem::remove_all(partial, ec);
  if (!std::filesystem::create_directory(partial, ec)) {
    return absl::PermissionDeniedError(
        absl::StrCat("backup: cannot make ", partial, ": ", ec.message()));
  }
  const auto fail = [&](const absl::Status& s) {
    std::filesystem::remove_all(partial, ec);
    return s;
  };
  absl::StatusOr<storage::Store::BackupInfo> copied = store()->Backup(partial + "/log");
  if (!copied.ok()) return fail(copied.status());
  crypto::Checkpoint checkpoint;
  checkpoint.origin = note_signer().name();
  checkpoint.size = copied->size;
  checkpoint.root_hash = copied->root;
  absl::StatusOr<std::string> note = note_signer().SignCheckpoint(checkpoint);
  if (!note.ok()) return fail(note.status());
  // The witnesses' co-signatures, as they are now (they go with the log: a
  // restored server serves them again).
  absl::StatusOr<std::string> cosignatures = storage::ReadWholeFile(CosignaturesPath(data_dir()));
  if (cosignatures.ok()) {
    if (absl::Status s = storage::ReplaceFileDurably(partial + "/witness-cosignatures",
                                                     *cosignatures, 0600);
        !s.ok()) {
      return fail(s);
    }
  }
  const std::string vkey = note_signer().verifier().VerifierKeyString() + "\n";
  for (const auto& [file, text] : {std::pair<std::string, std::string>{"note.vkey", vkey},
                                   std::pair<std::string, std::string>{"checkpoint", *note}}) {
    if (absl::Status s = storage::ReplaceFileDurably(partial + "/" + file, text, 0644); !s.ok()) {
      return fail(s);
    }
  }
  // Everything in it (the keys copied, the store) durable before it is
  // named a backup.
  if (absl::Status s = storage::SyncTreeDurably(partial); !s.ok()) return fail(s);
  std::filesystem::rename(partial, done, ec);
  if (ec) {
    return fail(absl::InternalError(
        absl::StrCat("backup: cannot rename ", partial, ": ", ec.message())));
  }
  // The rename itself, durable; a backup that may not survive is none.
  if (absl::Status s = storage::SyncDirectory(backups); !s.ok()) {
    std::filesystem::remove_all(done, ec);
    return s;
  }
  BackupResult result;
  result.directory = done;
  result.size = copied->size;
  result.root = copied->root;
  result.checkpoint_note = *std::move(note);
  result.records = copied->records;
  result.took = absl::Now() - started;
  return result;
}

absl::StatusOr<RestoreResult> RestoreDeployment(const std::string& backup_dir,
                                                const std::string& keys_dir,
                                                const std::string& data_dir) {
  std::error_code ec;
  if (std::filesystem::exists(data_dir, ec)) {
    return absl::AlreadyExistsError(absl::StrCat(
        "--data: ", data_dir, " exists; a restore makes a new data directory"));
  }
  for (const char* part : {"/log/CURRENT", "/note.vkey", "/checkpoint"}) {
    if (!std::filesystem::exists(backup_dir + part, ec)) {
      return absl::NotFoundError(absl::StrCat("--backup: ", backup_dir, " has no ", part + 1,
                                              ": not a backup AdminService.Backup made"));
    }
  }
  // The backup's checkpoint, under the verifier it names; the keys, that
  // verifier's.
  absl::StatusOr<std::string> vkey = storage::ReadWholeFile(backup_dir + "/note.vkey");
  if (!vkey.ok()) return vkey.status();
  absl::StatusOr<crypto::NoteVerifier> verifier = crypto::NoteVerifier::FromVerifierKey(
      absl::StripTrailingAsciiWhitespace(*vkey));
  if (!verifier.ok()) {
    return absl::DataLossError(absl::StrCat("--backup: note.vkey: ", verifier.status().message()));
  }
  absl::StatusOr<std::string> note = storage::ReadWholeFile(backup_dir + "/checkpoint");
  if (!note.ok()) return note.status();
  absl::StatusOr<crypto::Checkpoint> checkpoint =
      crypto::OpenCheckpoint(*note, verifier->name(), *verifier);
  if (!checkpoint.ok()) {
    return absl::DataLossError(absl::StrCat(
        "--backup: the checkpoint does not verify under note.vkey: ",
        checkpoint.status().message()));
  }
  absl::StatusOr<crypto::SigningKey> note_key =
      crypto::LoadSigningKey(keys_dir + "/note.key", absl::nullopt);
  if (!note_key.ok()) {
    return absl::Status(note_key.status().code(),
                        absl::StrCat("--keys: ", note_key.status().message()));
  }
  if (note_key->verifying_key().ToBytes() != verifier->key().ToBytes()) {
    return absl::FailedPreconditionError(
        "--keys: its note.key is not the key the backup's note.vkey names");
  }
  // Made beside it under a name of its own, and named `data_dir` only once
  // whole and durable: a crash midway leaves no data directory a server
  // would open.
  const std::string target(absl::StripSuffix(data_dir, "/"));
  const std::string staging = absl::StrCat(target, ".restoring-", getpid());
  std::filesystem::remove_all(staging, ec);
  std::filesystem::create_directory(staging, ec);
  if (ec) return absl::PermissionDeniedError(absl::StrCat("--data: cannot make ", staging));
  std::filesystem::permissions(staging, std::filesystem::perms::owner_all, ec);
  const auto fail = [&](const absl::Status& s) {
    std::filesystem::remove_all(staging, ec);
    return s;
  };
  std::filesystem::copy(backup_dir + "/log", LogDir(staging),
                        std::filesystem::copy_options::recursive, ec);
  if (ec) return fail(absl::InternalError(absl::StrCat("cannot copy the store: ", ec.message())));
  std::filesystem::copy(keys_dir, KeyDir(staging), std::filesystem::copy_options::recursive, ec);
  if (ec) return fail(absl::InternalError(absl::StrCat("cannot copy the keys: ", ec.message())));
  std::filesystem::copy_file(backup_dir + "/note.vkey", NoteVerifierPath(staging), ec);
  if (ec) return fail(absl::InternalError(absl::StrCat("cannot copy note.vkey: ", ec.message())));
  if (std::filesystem::exists(backup_dir + "/witness-cosignatures", ec)) {
    std::filesystem::copy_file(backup_dir + "/witness-cosignatures", CosignaturesPath(staging), ec);
    if (ec) {
      return fail(absl::InternalError(
          absl::StrCat("cannot copy witness-cosignatures: ", ec.message())));
    }
  }
  storage::LevelDbLogOptions store_options;
  store_options.create_if_missing = false;
  absl::StatusOr<std::unique_ptr<storage::Store>> store =
      storage::OpenLevelDbStore(LogDir(staging), store_options);
  if (!store.ok()) return fail(store.status());
  std::shared_ptr<const storage::Snapshot> snapshot = (*store)->GetSnapshot();
  if (snapshot->size() != checkpoint->size || snapshot->root() != checkpoint->root_hash) {
    return fail(absl::DataLossError(absl::StrCat(
        "the backup's store is at size ", snapshot->size(), ", not at its checkpoint's ",
        checkpoint->size, " (or its root differs): do not use this backup")));
  }
  if ((*store)->StateAppliedSize() != checkpoint->size) {
    return fail(absl::DataLossError("the backup's state is not at its log's size"));
  }
  snapshot.reset();  // before its store
  store->reset();
  // What was copied (with no syncs) durable, then named the data directory,
  // and that name durable, before a server writes on top of it.
  if (absl::Status s = storage::SyncTreeDurably(staging); !s.ok()) return fail(s);
  if (std::filesystem::exists(target, ec)) {
    return fail(absl::AlreadyExistsError(
        absl::StrCat("--data: ", data_dir, " appeared while restoring; nothing changed")));
  }
  std::filesystem::rename(staging, target, ec);
  if (ec) {
    return fail(absl::PermissionDeniedError(
        absl::StrCat("--data: cannot rename ", staging, " to ", target, ": ", ec.message())));
  }
  const std::string parent = std::filesystem::path(target).parent_path().string();
  if (absl::Status s = storage::SyncDirectory(parent.empty() ? "." : parent); !s.ok()) {
    return s;
  }
  return RestoreResult{checkpoint->size, checkpoint->root_hash};
}

absl::StatusOr<CheckResult> CheckDeployment(
    const std::string& data_dir, const std::string& scratch_dir,
    const std::function<void(uint64_t, uint64_t)>& progress) {
  if (!Initialised(data_dir)) {
    return absl::FailedPreconditionError(
        absl::StrCat(data_dir, " is not an initialised deployment (no log/)"));
  }
  storage::LevelDbLogOptions store_options;
  store_options.create_if_missing = false;
  store_options.recover_torn_tail = false;  // the check reports damage, never repairs it
  // On PostgreSQL the check reads beside a running writer, without its lease.
  storage::PostgresStoreOptions postgres;
  postgres.read_only = true;
  absl::StatusOr<std::unique_ptr<storage::Store>> store =
      OpenDeploymentStore(data_dir, store_options, postgres);
  if (!store.ok()) return store.status();
  struct stat st;
  if (stat(scratch_dir.c_str(), &st) == 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("check: the scratch directory ", scratch_dir, " already exists"));
  }
  absl::StatusOr<std::unique_ptr<registry::Catalogue>> catalogue = ShippedCatalogue();
  if (!catalogue.ok()) return catalogue.status();
  StateMachines machines(catalogue->get());
  absl::StatusOr<journal::CheckReport> report = absl::UnknownError("not run");
  {
    absl::StatusOr<std::unique_ptr<storage::Store>> scratch = storage::OpenLevelDbStore(scratch_dir);
    if (!scratch.ok()) return scratch.status();
    report = journal::Journal::Check(**store, machines.all(), scratch->get(), progress);
  }
  std::error_code ec;
  std::filesystem::remove_all(scratch_dir, ec);
  if (!report.ok()) return report.status();
  return CheckResult{report->entries, report->state_keys};
}

}  // namespace chemledger::server
