#include "services/chemledgerd/deployment.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "chemledger/v1/registry.pb.h"
#include "services/common/envelope.h"
#include "services/registry/catalogue_data.h"
#include "storage/leveldb_log.h"

namespace chemledger::server {
namespace {

std::string LogDir(const std::string& data) { return data + "/log"; }
std::string KeyDir(const std::string& data) { return data + "/keys"; }
std::string NoteKeyPath(const std::string& data) { return data + "/keys/note.key"; }
std::string NoteVerifierPath(const std::string& data) { return data + "/note.vkey"; }

absl::Status MakeDir(const std::string& path) {
  if (mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot create directory ", path, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

// OK if `path` does not exist or is an empty directory.
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
  return absl::OkStatus();
}

absl::Status WritePublicFile(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return absl::PermissionDeniedError(absl::StrCat("cannot write ", tmp));
  const bool ok = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                  fsync(fd) == 0;
  close(fd);
  if (!ok || rename(tmp.c_str(), path.c_str()) != 0) {
    return absl::DataLossError(absl::StrCat("cannot write ", path));
  }
  return absl::OkStatus();
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
  if (absl::Status s = crypto::ValidateLabelResolver(options.resolver); !s.ok()) return s;
  if (options.resolver.size() > crypto::kMaxQrFriendlyResolverLength) {
    return absl::InvalidArgumentError(absl::StrCat(
        "resolver: '", options.resolver, "' is longer than ",
        crypto::kMaxQrFriendlyResolverLength, " characters (labels would not fit QR version 10)"));
  }
  if (options.label_key_valid_days < 1) {
    return absl::InvalidArgumentError("label key validity: must be at least 1 day");
  }

  for (const std::string& dir : {data_dir, KeyDir(data_dir)}) {
    if (absl::Status s = MakeDir(dir); !s.ok()) return s;
  }
  if (absl::Status s =
          crypto::SaveSigningKey(note_key, NoteKeyPath(data_dir), crypto::KeyFileOptions());
      !s.ok()) {
    return s;
  }

  absl::StatusOr<std::unique_ptr<storage::Log>> log = storage::OpenLevelDbLog(LogDir(data_dir));
  if (!log.ok()) return log.status();
  if (absl::Status s = registry::Registry::Bootstrap(log->get(), options.deployment,
                                                     options.resolver, options.admin_name,
                                                     admin_key);
      !s.ok()) {
    return s;
  }
  absl::StatusOr<crypto::VerifyingKey> label_key = label::LabelKeyring::CreateKey(KeyDir(data_dir));
  if (!label_key.ok()) return label_key.status();

  absl::StatusOr<registry::Catalogue> catalogue =
      registry::Catalogue::Parse(registry::kShippedCatalogueTsv);
  if (!catalogue.ok()) return catalogue.status();
  absl::StatusOr<std::unique_ptr<registry::Registry>> reg =
      registry::Registry::Open(log->get(), &*catalogue);
  if (!reg.ok()) return reg.status();
  const absl::CivilDay today = absl::ToCivilDay(absl::Now(), absl::FixedTimeZone(8 * 3600));
  v1::RegistryRequest add_key;
  add_key.set_request_id("init: first label key");
  add_key.mutable_add_label_key()->set_public_key(label_key->ToBytes());
  *add_key.mutable_add_label_key()->mutable_valid_from() = registry::ToProtoDate(today);
  *add_key.mutable_add_label_key()->mutable_valid_until() =
      registry::ToProtoDate(today + options.label_key_valid_days);
  absl::StatusOr<v1::SignedEnvelope> envelope =
      envelope::Sign(registry::kRegistryContext, add_key.SerializeAsString(), admin_key);
  if (!envelope.ok()) return envelope.status();
  if (absl::StatusOr<registry::Receipt> r = (*reg)->Apply(*envelope); !r.ok()) return r.status();

  InitResult result{note_verifier->VerifierKeyString(), label_key->key_id(), (*log)->Size()};
  if (absl::Status s = WritePublicFile(NoteVerifierPath(data_dir), result.note_verifier_key + "\n");
      !s.ok()) {
    return s;
  }
  return result;
}

absl::StatusOr<crypto::VerifyingKey> CreateLabelKey(const std::string& data_dir) {
  return label::LabelKeyring::CreateKey(KeyDir(data_dir));
}

absl::StatusOr<std::unique_ptr<Deployment>> Deployment::Open(const std::string& data_dir) {
  std::unique_ptr<Deployment> d(new Deployment());
  struct stat st;
  if (stat(LogDir(data_dir).c_str(), &st) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        data_dir, " is not an initialised deployment (no log/): run chemledgerd init first"));
  }
  absl::StatusOr<std::unique_ptr<storage::Log>> log = storage::OpenLevelDbLog(LogDir(data_dir));
  if (!log.ok()) return log.status();
  d->log_ = *std::move(log);
  absl::StatusOr<registry::Catalogue> catalogue =
      registry::Catalogue::Parse(registry::kShippedCatalogueTsv);
  if (!catalogue.ok()) return catalogue.status();
  d->catalogue_ = std::make_unique<registry::Catalogue>(*std::move(catalogue));
  absl::StatusOr<std::unique_ptr<registry::Registry>> reg =
      registry::Registry::Open(d->log_.get(), d->catalogue_.get());
  if (!reg.ok()) return reg.status();
  d->registry_ = *std::move(reg);
  absl::StatusOr<std::unique_ptr<label::LabelKeyring>> keyring =
      label::LabelKeyring::Open(KeyDir(data_dir));
  if (!keyring.ok()) return keyring.status();
  d->keyring_ = *std::move(keyring);
  absl::StatusOr<std::unique_ptr<label::LabelIssuer>> issuer =
      label::LabelIssuer::Open(d->log_.get(), d->registry_.get(), d->keyring_.get());
  if (!issuer.ok()) return issuer.status();
  d->issuer_ = *std::move(issuer);
  absl::StatusOr<std::unique_ptr<waybill::WaybillBook>> waybills =
      waybill::WaybillBook::Open(d->log_.get(), d->registry_.get(), d->keyring_.get());
  if (!waybills.ok()) return waybills.status();
  d->waybills_ = *std::move(waybills);
  ledger::LedgerOptions options;
  options.waybills = d->waybills_->ShippingCheck();
  waybill::WaybillBook* book = d->waybills_.get();
  options.on_event = [book](const v1::Event& event) { book->OnLedgerEvent(event); };
  absl::StatusOr<std::unique_ptr<ledger::Ledger>> ledger =
      ledger::Ledger::Open(d->log_.get(), d->registry_.get(), d->issuer_.get(), options);
  if (!ledger.ok()) return ledger.status();
  d->ledger_ = *std::move(ledger);
  d->waybills_->AttachLedger(d->ledger_.get());
  absl::StatusOr<crypto::SigningKey> note_key =
      crypto::LoadSigningKey(NoteKeyPath(data_dir), absl::nullopt);
  if (!note_key.ok()) return note_key.status();
  absl::StatusOr<crypto::NoteSigner> signer =
      crypto::NoteSigner::Create(d->registry_->deployment(), *std::move(note_key));
  if (!signer.ok()) return signer.status();
  d->note_signer_ = std::make_unique<crypto::NoteSigner>(*std::move(signer));
  return d;
}

}  // namespace chemledger::server
