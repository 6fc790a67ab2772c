// The platform's private label keys (which sign package labels and waybill
// codes), and which of them to sign with today.
//
// Only the process that signs holds them (chemledgerd, or the label and
// waybill services when they run apart); the registry holds only their public
// halves (registry_state.h, LabelKeys).
//
// Thread-safety: LabelKeyring is safe for concurrent use.

#ifndef CHEMLEDGER_SERVICES_LABEL_LABEL_KEYRING_H_
#define CHEMLEDGER_SERVICES_LABEL_LABEL_KEYRING_H_

#include <sys/stat.h>

#include <map>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "crypto/keys.h"
#include "storage/store.h"

namespace chemledger::label {

// Unsealed key files (mode 0600) named "label-<key id>.key" in one directory
// of the server's data directory. A key is used only once a platform
// administrator has registered its public half (RegistryRequest.add_label_key).
class LabelKeyring {
 public:
  // Loads every label key file in `dir` (which must exist). A file that does
  // not load makes only its own key unusable (Find says why).
  static absl::StatusOr<std::unique_ptr<LabelKeyring>> Open(const std::string& dir);

  // Generates a new label key and writes its file into `dir`; returns the
  // public half, for registering it.
  static absl::StatusOr<crypto::VerifyingKey> CreateKey(const std::string& dir);

  // The private key `id`, looking in the directory again if it is not loaded
  // yet (a key made by `chemledgerd label-key new` while the server runs):
  // when the directory changed since it was last looked at (or had changed
  // within a second before it, which its clock's tick may hide), or that
  // was more than kRescanInterval ago (a key file whose mode was put right).
  // NotFound if there is no file for it. The key is the keyring's, valid
  // for as long as the keyring (a loaded key is never dropped). A key
  // already loaded is found without waiting for a look at the directory,
  // which reads files and is done by one caller at a time.
  absl::StatusOr<const crypto::SigningKey*> Find(const crypto::KeyId& id)
      ABSL_LOCKS_EXCLUDED(mu_, scan_mu_);

  static constexpr absl::Duration kRescanInterval = absl::Seconds(10);

 private:
  explicit LabelKeyring(std::string dir) : dir_(std::move(dir)) {}
  // Loads the key files not loaded yet, reading them without holding mu_.
  absl::Status Scan() ABSL_EXCLUSIVE_LOCKS_REQUIRED(scan_mu_) ABSL_LOCKS_EXCLUDED(mu_);

  const std::string dir_;
  // Held by the caller looking at the directory (before mu_, never inside).
  absl::Mutex scan_mu_;
  struct timespec scanned_mtime_ ABSL_GUARDED_BY(scan_mu_) = {};
  absl::Time scanned_at_ ABSL_GUARDED_BY(scan_mu_) = absl::InfinitePast();
  absl::Mutex mu_;
  // Never erased, so returned pointers stay valid for the keyring's life.
  std::map<crypto::KeyId, std::unique_ptr<crypto::SigningKey>> keys_ ABSL_GUARDED_BY(mu_);
  // Key files that did not load (wrong mode, sealed, corrupt), and why.
  std::map<crypto::KeyId, absl::Status> broken_ ABSL_GUARDED_BY(mu_);
};

// The key the platform signs with on `today` (labels, waybill codes): a
// registered (in `state`), unrevoked label key valid on that day whose
// private half `keyring` holds; the newest such (latest valid_from) when
// several are. FailedPrecondition when there is none.
absl::StatusOr<const crypto::SigningKey*> CurrentLabelKey(const storage::StateReader& state,
                                                          LabelKeyring& keyring,
                                                          absl::CivilDay today);

}  // namespace chemledger::label

#endif  // CHEMLEDGER_SERVICES_LABEL_LABEL_KEYRING_H_
