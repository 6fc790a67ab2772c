#include "services/label/label_keyring.h"

#include <dirent.h>
#include <sys/stat.h>

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/time/civil_time.h"
#include "crypto/key_files.h"
#include "services/registry/registry_state.h"

namespace chemledger::label {
namespace {

std::string LabelKeyFileName(const crypto::KeyId& id) {
  return absl::StrCat("label-", id.ToString(), ".key");
}

}  // namespace

absl::StatusOr<std::unique_ptr<LabelKeyring>> LabelKeyring::Open(const std::string& dir) {
  struct stat st;
  if (stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return absl::NotFoundError(absl::StrCat("label key directory ", dir, " does not exist"));
  }
  std::unique_ptr<LabelKeyring> keyring(new LabelKeyring(dir));
  absl::MutexLock scanning(&keyring->scan_mu_);
  if (absl::Status s = keyring->Scan(); !s.ok()) return s;
  return keyring;
}

absl::Status LabelKeyring::Scan() {
  struct stat st;
  if (stat(dir_.c_str(), &st) == 0) scanned_mtime_ = st.st_mtim;  // before listing it
  scanned_at_ = absl::Now();
  DIR* d = opendir(dir_.c_str());
  if (d == nullptr) return absl::NotFoundError(absl::StrCat("cannot read ", dir_));
  std::vector<std::string> names;
  while (dirent* e = readdir(d)) {
    absl::string_view name = e->d_name;
    if (absl::StartsWith(name, "label-") && absl::EndsWith(name, ".key")) {
      names.emplace_back(name);
    }
  }
  closedir(d);
  // Read without mu_: a caller whose key is loaded does not wait for files.
  std::map<crypto::KeyId, std::unique_ptr<crypto::SigningKey>> loaded;
  std::map<crypto::KeyId, absl::Status> broken;
  for (const std::string& name : names) {
    absl::string_view hex = absl::StripSuffix(absl::StripPrefix(name, "label-"), ".key");
    absl::StatusOr<crypto::KeyId> id = crypto::KeyId::Parse(hex);
    if (!id.ok()) continue;
    {
      absl::MutexLock lock(&mu_);
      if (keys_.count(*id)) continue;
    }
    const std::string path = absl::StrCat(dir_, "/", name);
    // One bad file must not hide the others: it is remembered, and only that
    // key is unusable.
    absl::StatusOr<crypto::SigningKey> key = crypto::LoadSigningKey(path, absl::nullopt);
    if (!key.ok()) {
      broken[*id] = key.status();
      continue;
    }
    if (key->key_id() != *id) {
      broken[*id] = absl::DataLossError(absl::StrCat(path, " holds key ", key->key_id().ToString(),
                                                     ", not the key its name says"));
      continue;
    }
    loaded.emplace(*id, std::make_unique<crypto::SigningKey>(*std::move(key)));
  }
  absl::MutexLock lock(&mu_);
  for (auto& [id, status] : broken) broken_[id] = std::move(status);
  for (auto& [id, key] : loaded) {
    broken_.erase(id);
    keys_.emplace(id, std::move(key));
  }
  return absl::OkStatus();
}

absl::StatusOr<crypto::VerifyingKey> LabelKeyring::CreateKey(const std::string& dir) {
  crypto::SigningKey key = crypto::SigningKey::Generate();
  const std::string path = absl::StrCat(dir, "/", LabelKeyFileName(key.key_id()));
  if (absl::Status s = crypto::SaveSigningKey(key, path, crypto::KeyFileOptions()); !s.ok()) {
    return s;
  }
  return key.verifying_key();
}

absl::StatusOr<const crypto::SigningKey*> LabelKeyring::Find(const crypto::KeyId& id) {
  {
    absl::MutexLock lock(&mu_);
    if (auto it = keys_.find(id); it != keys_.end()) return it->second.get();
  }
  {
    absl::MutexLock scanning(&scan_mu_);
    struct stat st;
    const bool changed = stat(dir_.c_str(), &st) != 0 ||
                         st.st_mtim.tv_sec != scanned_mtime_.tv_sec ||
                         st.st_mtim.tv_nsec != scanned_mtime_.tv_nsec;
    // A directory changed within a second of the last look may change again
    // within the same tick of its clock, its time unchanged: not trusted.
    const bool racy = absl::TimeFromTimespec(scanned_mtime_) >= scanned_at_ - absl::Seconds(1);
    if (changed || racy || absl::Now() - scanned_at_ > kRescanInterval) {
      if (absl::Status s = Scan(); !s.ok()) return s;
    }
  }
  absl::MutexLock lock(&mu_);
  auto it = keys_.find(id);
  if (it == keys_.end()) {
    if (auto broken = broken_.find(id); broken != broken_.end()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "label key ", id.ToString(), ": its file is unusable: ", broken->second.message()));
    }
    return absl::NotFoundError(absl::StrCat("label key ", id.ToString(), " has no key file ",
                                            LabelKeyFileName(id), " in ", dir_));
  }
  return it->second.get();
}

absl::StatusOr<const crypto::SigningKey*> CurrentLabelKey(const storage::StateReader& state,
                                                          LabelKeyring& keyring,
                                                          absl::CivilDay today) {
  absl::StatusOr<std::vector<registry::LabelKeyState>> keys = registry::LabelKeys(state);
  if (!keys.ok()) return keys.status();
  const registry::LabelKeyState* chosen = nullptr;
  const crypto::SigningKey* key = nullptr;
  std::vector<std::string> why_not;  // each registered key passed over, and why
  for (const registry::LabelKeyState& label_key : *keys) {
    const registry::LabelKeyState* k = &label_key;
    const std::string id = k->key.key_id().ToString();
    if (k->revoked_on) {
      why_not.push_back(absl::StrCat(id, " revoked on ", absl::FormatCivilTime(*k->revoked_on)));
      continue;
    }
    if (today < k->valid_from) {
      why_not.push_back(absl::StrCat(id, " valid from ", absl::FormatCivilTime(k->valid_from)));
      continue;
    }
    if (k->valid_until < today) {
      why_not.push_back(absl::StrCat(id, " expired after ", absl::FormatCivilTime(k->valid_until)));
      continue;
    }
    absl::StatusOr<const crypto::SigningKey*> here = keyring.Find(k->key.key_id());
    if (!here.ok()) {
      why_not.push_back(std::string(here.status().message()));  // names the key
      continue;
    }
    if (chosen == nullptr || chosen->valid_from < k->valid_from) {
      chosen = k;
      key = *here;
    }
  }
  if (chosen == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(
        "no label key is usable on ", absl::FormatCivilTime(today),
        ": the platform must make one (chemledgerd label-key new) and register it "
        "(add_label_key)",
        why_not.empty() ? std::string(" (none is registered)")
                        : absl::StrCat(" (registered: ", absl::StrJoin(why_not, "; "), ")")));
  }
  return key;
}

}  // namespace chemledger::label
