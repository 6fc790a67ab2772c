// Keeps on disk, beside the ledger's store, what the server remembers for
// minutes: the nonces of used read credentials (read_auth::NonceMemory) and
// the regulator console's sign-in records (EphemeralRecords). The process
// that keeps them (chemledgerd; in a cluster ledgerd, for every instance of
// every service) can restart without forgetting them: a credential used
// before the restart is still refused after it, and console sessions hold.
// They are not ledger entries: nothing here is in the log, in `check`, or in
// a backup.
//
//   <data>/ephemeral/   a LevelDB of its own
//
// Durability: a nonce goes to LevelDB's log without an fsync (one is written
// on every authenticated read): it survives the process being killed
// (kill -9), not the machine losing power. So when the store was not closed
// cleanly and the machine booted since (another boot id), or the store is
// new, what may have been lost is treated as lost: the nonce memory then
// refuses credentials signed before the store opened, as a memory that
// starts empty must (nonces_not_before()), and later opens go on refusing
// them while one could still be in its time window. Ending a record (a
// ticket taken, a session ended or displaced) is synced: it never comes
// back.
//
// Thread-safety: thread-safe. The memories it hands out share the database
// with it and may outlive it; the database closes with the last of them.

#ifndef CHEMLEDGER_SERVICES_COMMON_EPHEMERAL_STORE_H_
#define CHEMLEDGER_SERVICES_COMMON_EPHEMERAL_STORE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "services/common/ephemeral_records.h"
#include "services/common/read_auth.h"

namespace leveldb {
class Env;
}  // namespace leveldb

namespace chemledger {

struct EphemeralStoreOptions {
  // The nonce memory's bounds (read_auth::NonceMemoryOptions).
  size_t max_remembered = size_t{1} << 21;
  size_t max_remembered_per_key = 100000;
  // Where the machine's boot id is read; tests point it at a file of their own.
  std::string boot_id_file = "/proc/sys/kernel/random/boot_id";
  // Where the store's files are written (not owned). It must outlive the
  // store and every memory it handed out (nonces(), records()): the
  // database uses it until the last of them is gone. null: LevelDB's
  // default. Tests pass a fault-injecting one (storage/fault_injection_env.h)
  // to cut the power.
  leveldb::Env* env = nullptr;
};

class EphemeralStore {
 public:
  // Opens (or creates) the store in `directory` and loads what has not
  // expired as of `now`.
  static absl::StatusOr<std::unique_ptr<EphemeralStore>> Open(const std::string& directory,
                                                              EphemeralStoreOptions options,
                                                              absl::Time now);
  // Marks the store closed cleanly once the memories it handed out are gone
  // too.
  ~EphemeralStore();
  EphemeralStore(const EphemeralStore&) = delete;
  EphemeralStore& operator=(const EphemeralStore&) = delete;

  std::shared_ptr<read_auth::NonceMemory> nonces() const { return nonces_; }
  std::shared_ptr<EphemeralRecords> records() const { return records_; }

  // Credentials signed before this are refused (InfinitePast when nothing
  // can have been lost since the store was last open).
  absl::Time nonces_not_before() const { return nonces_not_before_; }
  // How many unexpired nonces were loaded at open.
  size_t nonces_loaded() const { return nonces_loaded_; }

  // Internal.
  class Database;

 private:
  EphemeralStore() = default;
  std::shared_ptr<Database> db_;
  std::shared_ptr<read_auth::NonceMemory> nonces_;
  std::shared_ptr<EphemeralRecords> records_;
  absl::Time nonces_not_before_;
  size_t nonces_loaded_ = 0;
};

}  // namespace chemledger

#endif  // CHEMLEDGER_SERVICES_COMMON_EPHEMERAL_STORE_H_
