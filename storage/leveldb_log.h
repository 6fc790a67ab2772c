// The embedded store backend: a Store (storage/store.h), and so a Log
// (storage/log.h), in a LevelDB directory.
//
// Layout (integers big-endian, so keys sort by index):
//   "#format"      -> "chemledger-log-v1" (sorts before every entry key)
//   "e" index(8)   -> record of entry `index`:
//                       count(1) || count 32-byte hashes || entry bytes
//   "f#state-applied" -> size(8): the log size the state reflects, rewritten
//                     by every Commit; absent until the first one
//   "s" key        -> the state value of `key`
// The hashes stored with entry i are its RFC 6962 leaf hash and then the hash
// of every perfect subtree that entry i completes: node (L, i >> L) for
// L = 1 .. number of trailing one bits of i (so count = 1 + that number, two on
// average). Node (L, j) therefore lives in the record of the last leaf under
// it, entry ((j+1) << L) - 1. Keeping the tree inside the entry records means
// one LevelDB record per entry.
//
// The size is one past the last entry's index; there is no size record, which
// every append would rewrite. Entries are written in key order, so their
// LevelDB files do not overlap and compaction moves them down without
// rewriting them; everything a commit rewrites or writes at random (the
// applied size, the state) sorts after the entries, so the files holding
// new writes overlap only the newest entries, never the old ones.
//
// One append (or commit) is one synced WriteBatch holding all its records and
// state writes, so after a crash the store is at the old size and state or
// the new ones, never in between. Opening
// seeks to the last entry and reads the O(log n) nodes of the tree's right
// edge; it never rescans the entries.
//
// Only one process may open a directory at a time (LevelDB's LOCK file).

#ifndef CHEMLEDGER_STORAGE_LEVELDB_LOG_H_
#define CHEMLEDGER_STORAGE_LEVELDB_LOG_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "storage/log.h"
#include "storage/store.h"

namespace leveldb {
class Env;
}  // namespace leveldb

namespace chemledger::storage {

struct LevelDbLogOptions {
  // Create an empty log when `directory` holds none. Without it, opening a
  // directory that holds no log is NotFound.
  bool create_if_missing = true;
  // Upper bound on the bytes of entries one group commit writes at once.
  size_t max_group_bytes = 8 << 20;
  // How long a group's leader waits for callers that are inside Append but
  // not yet queued, so that they share its sync. Never waited for when only
  // one caller is appending.
  absl::Duration max_group_wait = absl::Microseconds(500);
  // The file system LevelDB uses; nullptr for the real one. Not owned; must
  // outlive the log. Tests pass a fault-injecting Env here.
  leveldb::Env* env = nullptr;
  // LevelDB block cache, bytes.
  size_t block_cache_bytes = 64 << 20;
  // Whether opening recovers from a damaged write-ahead log (see
  // OpenLevelDbStore). `chemledgerd check` opens without: it reports the
  // damage (DataLoss) and changes nothing.
  bool recover_torn_tail = true;
};

// Opens (or creates) the store in `directory`. Errors as OpenLevelDbLog's;
// also DataLoss when the state claims more entries than the log holds.
// A write torn by a crash (junk at the tail of LevelDB's write-ahead log,
// never synced, so never acknowledged) is dropped: the store recovers
// without it, checks the whole log against the tree before opening, and
// says on stderr what LevelDB dropped. LevelDB cannot tell a torn tail from
// damage to earlier, synced records of the same file, which it drops too;
// so the damaged files are first copied to `<directory>.damaged-<UTC time>`
// (named on stderr), and a client's receipt for an index at or beyond the
// recovered size means an acknowledged write was lost. Corruption that the
// check finds is DataLoss naming what to do (restore from a backup). With
// `recover_torn_tail` false, any damage is DataLoss and nothing is changed.
absl::StatusOr<std::unique_ptr<Store>> OpenLevelDbStore(
    const std::string& directory, const LevelDbLogOptions& options = {});

// Opens (or creates) the log in `directory`. FailedPrecondition when the
// directory holds a LevelDB database that is not a ChemLedger log, or another
// process has it open; DataLoss when the stored tree does not cover the
// stored size.
absl::StatusOr<std::unique_ptr<Log>> OpenLevelDbLog(
    const std::string& directory, const LevelDbLogOptions& options = {});

}  // namespace chemledger::storage

#endif  // CHEMLEDGER_STORAGE_LEVELDB_LOG_H_
