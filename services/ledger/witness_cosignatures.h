// The witnesses' co-signatures of the log's checkpoints (docs/audit.md, "A
// witness"): per witness key, the newest checkpoint it co-signed and its
// signature line, which LedgerService.GetCheckpoint serves with that
// checkpoint. Kept in a file beside the store (DATA/witness-cosignatures),
// replaced durably before Add returns, so an acknowledged co-signature
// survives a restart or a crash.
//
// The file is not part of the log: a co-signature is a witness's statement
// about the log, checked against the log when it arrives and by every client
// that requires it (each line verifies against its witness's key over the
// checkpoint the server signs again at that size).
//
// One line per witness: "<key id> <size> <root, hex> <signature line>".
//
// Thread-safety: thread-safe.

#ifndef CHEMLEDGER_SERVICES_LEDGER_WITNESS_COSIGNATURES_H_
#define CHEMLEDGER_SERVICES_LEDGER_WITNESS_COSIGNATURES_H_

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "crypto/sha256.h"

namespace chemledger::ledger {

class WitnessCosignatures {
 public:
  // Reads `file` if it exists (InvalidArgument naming its line when it is
  // not of this form). An empty `file` keeps them in memory only (tests).
  static absl::StatusOr<std::unique_ptr<WitnessCosignatures>> Open(std::string file);

  // Keeps `line` ("— witness/<key id> <base64>\n") as witness `key_id`'s
  // co-signature of the checkpoint of `size` and `root`, unless it already
  // co-signed a larger one; durable when OK. Returns how many witnesses
  // co-signed the checkpoint of `size`.
  absl::StatusOr<int> Add(const std::string& key_id, uint64_t size,
                          const crypto::Sha256Digest& root, const std::string& line);

  // The newest checkpoint any witness co-signed, with every witness's line
  // for it; nullopt when none has.
  struct Cosigned {
    uint64_t size = 0;
    crypto::Sha256Digest root;
    std::string lines;
  };
  std::optional<Cosigned> Newest() const;

 private:
  struct Cosignature {
    uint64_t size = 0;
    crypto::Sha256Digest root;
    std::string line;
  };
  explicit WitnessCosignatures(std::string file) : file_(std::move(file)) {}

  const std::string file_;
  mutable absl::Mutex mu_;
  std::map<std::string, Cosignature> by_witness_ ABSL_GUARDED_BY(mu_);
};

}  // namespace chemledger::ledger

#endif  // CHEMLEDGER_SERVICES_LEDGER_WITNESS_COSIGNATURES_H_
