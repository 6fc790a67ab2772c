// The embedded log backend: a Log (storage/log.h) in a LevelDB directory.
//
// Layout (all integers big-endian, so keys sort by index):
//   "m" "format"            -> "chemledger-log-v1"
//   "m" "size"              -> 8-byte tree size: entries [0, size) are in the log
//   "e" index(8)            -> entry bytes
//   "n" level(1) index(8)   -> 32-byte hash of perfect subtree (level, index)
// One append is one synced WriteBatch holding its entries, every tree node they
// complete and the new size, so after a crash the log is at the old size or
// the new one, never in between. Opening reads only the size and the O(log n)
// nodes of the tree's right edge; it never rescans the entries.
//
// Only one process may open a directory at a time (LevelDB's LOCK file).

#ifndef CHEMLEDGER_STORAGE_LEVELDB_LOG_H_
#define CHEMLEDGER_STORAGE_LEVELDB_LOG_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "storage/log.h"

namespace chemledger::storage {

struct LevelDbLogOptions {
  // Create an empty log when `directory` holds none. Without it, opening a
  // directory that holds no log is NotFound.
  bool create_if_missing = true;
  // Upper bound on the bytes of entries one group commit writes at once.
  size_t max_group_bytes = 8 << 20;
  // LevelDB block cache, bytes.
  size_t block_cache_bytes = 64 << 20;
};

// Opens (or creates) the log in `directory`. FailedPrecondition when the
// directory holds a LevelDB database that is not a ChemLedger log, or another
// process has it open; DataLoss when the stored tree does not cover the
// stored size.
absl::StatusOr<std::unique_ptr<Log>> OpenLevelDbLog(
    const std::string& directory, const LevelDbLogOptions& options = {});

}  // namespace chemledger::storage

#endif  // CHEMLEDGER_STORAGE_LEVELDB_LOG_H_
