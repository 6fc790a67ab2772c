// Internal to the journal: the state as it stands while an entry is checked,
// made of layers over a committed snapshot (batches not yet durable, the
// batch being checked, the entry's own changes so far).
//
// Thread-safety: a LayeredReader is used by one thread; the layers it points
// to must not change while it is in use (the journal only appends to the
// layer of the batch it is checking, from the same thread).

#ifndef CHEMLEDGER_JOURNAL_LAYERED_READER_H_
#define CHEMLEDGER_JOURNAL_LAYERED_READER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "crypto/sha256.h"
#include "storage/store.h"

namespace chemledger::journal {

// Entries [first_index, first_index + entries.size()) and the state writes
// they imply.
struct Layer {
  uint64_t first_index = 0;
  std::vector<std::string> entries;
  std::vector<crypto::Sha256Digest> leaf_hashes;
  storage::StateWrites writes;

  uint64_t end_index() const { return first_index + entries.size(); }
};

class LayeredReader final : public storage::StateReader {
 public:
  // Entries below `size` are read from the `layer_count` `layers` (newest
  // last) and then from `log_base`; state from `top` (may be null), the
  // layers newest first, then `state_base`. The pointers must outlive the
  // reader.
  LayeredReader(const storage::StateReader* log_base, const storage::StateReader* state_base,
                const Layer* const* layers, size_t layer_count, const storage::StateWrites* top,
                uint64_t size)
      : log_base_(log_base),
        state_base_(state_base),
        layers_(layers),
        layer_count_(layer_count),
        top_(top),
        size_(size) {}

  uint64_t size() const override { return size_; }
  absl::StatusOr<std::string> Entry(uint64_t index) const override;
  absl::StatusOr<crypto::Sha256Digest> LeafHash(uint64_t index) const override;
  absl::StatusOr<std::optional<std::string>> Get(absl::string_view key) const override;
  absl::Status Scan(absl::string_view begin, absl::string_view end,
                    const storage::ScanVisitor& visit) const override;

 private:
  const Layer* LayerHolding(uint64_t index) const;

  const storage::StateReader* log_base_;
  const storage::StateReader* state_base_;
  const Layer* const* layers_;
  size_t layer_count_;
  const storage::StateWrites* top_;
  uint64_t size_;
};

}  // namespace chemledger::journal

#endif  // CHEMLEDGER_JOURNAL_LAYERED_READER_H_
