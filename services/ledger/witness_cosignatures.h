// The witnesses' co-signatures of the log's checkpoints (docs/audit.md, "A
// witness"): per witness key, the newest kKeptPerWitness checkpoints it
// co-signed and its signature lines, which LedgerService.GetCheckpoint
// serves with those checkpoints (so that witnesses polling at different
// moments still meet at a size, and one witness co-signing every new size
// does not hide the others'). Kept in a file beside the store (DATA/witness-cosignatures),
// replaced durably before Add returns, so an acknowledged co-signature
// survives a restart or a crash.
//
// The file is not part of the log: a co-signature is a witness's statement
// about the log, checked against the log when it arrives and by every client
// that requires it (each line verifies against its witness's key over the
// checkpoint the server signs again at that size).
//
// One line per co-signature kept: "<key id> <size> <root, hex> <signature
// line>". Several objects may keep one file (a ledgerd read replica taking
// over as the writer opens it again while the replica still answers): each
// Add reads the file again under a lock on "<file>.lock" and keeps what
// another wrote since, so that none drops another's acknowledged line.
//
// Thread-safety: thread-safe.

#ifndef CHEMLEDGER_SERVICES_LEDGER_WITNESS_COSIGNATURES_H_
#define CHEMLEDGER_SERVICES_LEDGER_WITNESS_COSIGNATURES_H_

#include <map>
#include <memory>
#include <optional>
#include <set>
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

  // How many of its newest co-signatures each witness keeps.
  static constexpr size_t kKeptPerWitness = 8;

  // Keeps `line` ("— witness/<key id> <base64>\n") as witness `key_id`'s
  // co-signature of the checkpoint of `size` and `root`, among its
  // kKeptPerWitness newest (one older than all of them is not kept);
  // durable when OK, and the file rewritten only when something changed.
  // Returns how many witnesses co-signed the checkpoint of `size`.
  // Adds one at a time; Newest does not wait for an Add's write to disk.
  absl::StatusOr<int> Add(const std::string& key_id, uint64_t size,
                          const crypto::Sha256Digest& root, const std::string& line)
      ABSL_LOCKS_EXCLUDED(adding_, mu_);

  // The newest checkpoint that at least `min_witnesses` (at least 1)
  // witnesses co-signed, with every witness's line for it; nullopt when
  // there is none. `only` (when not empty) names the witnesses that count:
  // the others' co-signatures are neither counted nor served.
  struct Cosigned {
    uint64_t size = 0;
    crypto::Sha256Digest root;
    std::string lines;
    int witnesses = 0;
  };
  std::optional<Cosigned> Newest(int min_witnesses = 1,
                                 const std::set<std::string>& only = {}) const;

 private:
  struct Cosignature {
    crypto::Sha256Digest root;
    std::string line;
  };
  using ByWitness = std::map<std::string, std::map<uint64_t, Cosignature>>;
  explicit WitnessCosignatures(std::string file) : file_(std::move(file)) {}
  // How many witnesses co-signed the checkpoint of `size`.
  static int WitnessesOf(const ByWitness& by_witness, uint64_t size);
  // The co-signatures `text` (the file's form) holds, into `out`, each
  // witness's newest kKeptPerWitness; InvalidArgument naming the line.
  static absl::Status Parse(absl::string_view text, const std::string& file, ByWitness* out);

  const std::string file_;
  // Held by the Add in progress, before mu_: Adds change by_witness_ one at
  // a time, writing the file without mu_.
  absl::Mutex adding_;
  mutable absl::Mutex mu_;
  // By witness key id, then size.
  ByWitness by_witness_ ABSL_GUARDED_BY(mu_);
};

}  // namespace chemledger::ledger

#endif  // CHEMLEDGER_SERVICES_LEDGER_WITNESS_COSIGNATURES_H_
