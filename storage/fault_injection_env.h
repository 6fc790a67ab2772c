// Test-only: a LevelDB Env that remembers how much of each file was synced, so
// a test can simulate a power cut (everything not fsync'd is lost) and make
// writes fail on demand. This is what proves that an acknowledged append was
// really on disk, which a SIGKILL (the page cache survives it) cannot.
//
// Thread-safe: LevelDB calls it from its own threads.

#ifndef CHEMLEDGER_STORAGE_FAULT_INJECTION_ENV_H_
#define CHEMLEDGER_STORAGE_FAULT_INJECTION_ENV_H_

#include <map>
#include <string>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "leveldb/env.h"

namespace chemledger::storage {

class FaultInjectionEnv : public leveldb::EnvWrapper {
 public:
  FaultInjectionEnv() : EnvWrapper(leveldb::Env::Default()) {}

  // From now on every write and sync fails with an I/O error, as if the
  // machine had lost power: nothing more reaches the disk.
  void CutPower();
  // After CutPower and closing the database: truncates every file written
  // through this Env to the length it had at its last successful sync (files
  // never synced become empty), then restores normal operation.
  void DropUnsyncedData();
  // Makes the next `n` Sync calls fail (without cutting power).
  void FailNextSyncs(int n);
  // From HoldSyncs until ReleaseSyncs, every Sync waits before it syncs: a
  // stalled disk. WaitForHeldSync returns once a Sync is waiting (false if
  // none came within `timeout`).
  void HoldSyncs();
  void ReleaseSyncs();
  bool WaitForHeldSync(absl::Duration timeout);

  leveldb::Status NewWritableFile(const std::string& fname,
                                  leveldb::WritableFile** result) override;
  leveldb::Status NewAppendableFile(const std::string& fname,
                                    leveldb::WritableFile** result) override;
  leveldb::Status RemoveFile(const std::string& fname) override;
  leveldb::Status RenameFile(const std::string& src, const std::string& target) override;

 private:
  class File;
  struct State {
    uint64_t written = 0;
    uint64_t synced = 0;
  };
  friend class File;

  bool Failing() const;           // takes mu_
  bool ConsumeSyncFailure();      // takes mu_
  void WaitBeforeSync();          // takes mu_
  void Appended(const std::string& fname, size_t n);
  void Synced(const std::string& fname);

  mutable absl::Mutex mu_;
  bool power_cut_ ABSL_GUARDED_BY(mu_) = false;
  int failing_syncs_ ABSL_GUARDED_BY(mu_) = 0;
  bool syncs_held_ ABSL_GUARDED_BY(mu_) = false;
  int syncs_waiting_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, State> files_ ABSL_GUARDED_BY(mu_);
};

}  // namespace chemledger::storage

#endif  // CHEMLEDGER_STORAGE_FAULT_INJECTION_ENV_H_
