// A LevelDB Env whose every Sync first sleeps a fixed time: a slower disk,
// for benchmarks that measure what a slow fsync does to reads and writes
// (`chemledgerd serve --debug-sync-delay-ms`). Everything else is the real
// file system.
//
// Thread-safe: LevelDB calls it from its own threads.

#ifndef CHEMLEDGER_STORAGE_SLOW_SYNC_ENV_H_
#define CHEMLEDGER_STORAGE_SLOW_SYNC_ENV_H_

#include <memory>
#include <string>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "leveldb/env.h"

namespace chemledger::storage {

class SlowSyncEnv : public leveldb::EnvWrapper {
 public:
  explicit SlowSyncEnv(absl::Duration delay)
      : EnvWrapper(leveldb::Env::Default()), delay_(delay) {}

  leveldb::Status NewWritableFile(const std::string& fname,
                                  leveldb::WritableFile** result) override {
    leveldb::Status s = target()->NewWritableFile(fname, result);
    if (s.ok()) *result = new File(*result, delay_);
    return s;
  }
  leveldb::Status NewAppendableFile(const std::string& fname,
                                    leveldb::WritableFile** result) override {
    leveldb::Status s = target()->NewAppendableFile(fname, result);
    if (s.ok()) *result = new File(*result, delay_);
    return s;
  }

 private:
  class File : public leveldb::WritableFile {
   public:
    File(leveldb::WritableFile* base, absl::Duration delay) : base_(base), delay_(delay) {}
    leveldb::Status Append(const leveldb::Slice& data) override { return base_->Append(data); }
    leveldb::Status Close() override { return base_->Close(); }
    leveldb::Status Flush() override { return base_->Flush(); }
    leveldb::Status Sync() override {
      absl::SleepFor(delay_);
      return base_->Sync();
    }

   private:
    std::unique_ptr<leveldb::WritableFile> base_;
    const absl::Duration delay_;
  };

  const absl::Duration delay_;
};

}  // namespace chemledger::storage

#endif  // CHEMLEDGER_STORAGE_SLOW_SYNC_ENV_H_
