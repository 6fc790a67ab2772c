#include "storage/fault_injection_env.h"

#include <filesystem>
#include <memory>
#include <system_error>

#include "absl/time/clock.h"

namespace chemledger::storage {

class FaultInjectionEnv::File : public leveldb::WritableFile {
 public:
  File(FaultInjectionEnv* env, std::string name, leveldb::WritableFile* base)
      : env_(env), name_(std::move(name)), base_(base) {}

  leveldb::Status Append(const leveldb::Slice& data) override {
    if (env_->Failing()) return leveldb::Status::IOError(name_, "power cut (injected)");
    leveldb::Status s = base_->Append(data);
    if (s.ok()) env_->Appended(name_, data.size());
    return s;
  }
  leveldb::Status Close() override { return base_->Close(); }
  leveldb::Status Flush() override {
    if (env_->Failing()) return leveldb::Status::IOError(name_, "power cut (injected)");
    return base_->Flush();
  }
  leveldb::Status Sync() override {
    if (env_->Failing()) return leveldb::Status::IOError(name_, "power cut (injected)");
    if (env_->ConsumeSyncFailure()) return leveldb::Status::IOError(name_, "sync failed (injected)");
    env_->WaitBeforeSync();
    leveldb::Status s = base_->Sync();
    if (s.ok()) env_->Synced(name_);
    return s;
  }

 private:
  FaultInjectionEnv* env_;
  std::string name_;
  std::unique_ptr<leveldb::WritableFile> base_;
};

bool FaultInjectionEnv::Failing() const {
  absl::MutexLock lock(&mu_);
  return power_cut_;
}

bool FaultInjectionEnv::ConsumeSyncFailure() {
  absl::MutexLock lock(&mu_);
  if (failing_syncs_ == 0) return false;
  --failing_syncs_;
  return true;
}

void FaultInjectionEnv::Appended(const std::string& fname, size_t n) {
  absl::MutexLock lock(&mu_);
  files_[fname].written += n;
}

void FaultInjectionEnv::Synced(const std::string& fname) {
  absl::MutexLock lock(&mu_);
  State& s = files_[fname];
  s.synced = s.written;
}

void FaultInjectionEnv::CutPower() {
  absl::MutexLock lock(&mu_);
  power_cut_ = true;
}

void FaultInjectionEnv::WaitBeforeSync() {
  absl::MutexLock lock(&mu_);
  ++syncs_waiting_;
  mu_.Await(absl::Condition(
      +[](bool* held) { return !*held; }, &syncs_held_));
  --syncs_waiting_;
}

void FaultInjectionEnv::HoldSyncs() {
  absl::MutexLock lock(&mu_);
  syncs_held_ = true;
}

void FaultInjectionEnv::ReleaseSyncs() {
  absl::MutexLock lock(&mu_);
  syncs_held_ = false;
}

bool FaultInjectionEnv::WaitForHeldSync(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  return mu_.AwaitWithTimeout(
      absl::Condition(+[](int* waiting) { return *waiting > 0; }, &syncs_waiting_), timeout);
}

void FaultInjectionEnv::FailNextSyncs(int n) {
  absl::MutexLock lock(&mu_);
  failing_syncs_ = n;
}

void FaultInjectionEnv::DropUnsyncedData() {
  absl::MutexLock lock(&mu_);
  for (const auto& [name, state] : files_) {
    std::error_code ec;
    if (std::filesystem::exists(name, ec)) {
      std::filesystem::resize_file(name, state.synced, ec);
    }
  }
  files_.clear();
  power_cut_ = false;
  failing_syncs_ = 0;
}

leveldb::Status FaultInjectionEnv::NewWritableFile(const std::string& fname,
                                                   leveldb::WritableFile** result) {
  if (Failing()) return leveldb::Status::IOError(fname, "power cut (injected)");
  leveldb::WritableFile* base = nullptr;
  leveldb::Status s = target()->NewWritableFile(fname, &base);
  if (!s.ok()) return s;
  {
    absl::MutexLock lock(&mu_);
    files_[fname] = State{};  // truncated: nothing of it is durable yet
  }
  *result = new File(this, fname, base);
  return s;
}

leveldb::Status FaultInjectionEnv::NewAppendableFile(const std::string& fname,
                                                     leveldb::WritableFile** result) {
  if (Failing()) return leveldb::Status::IOError(fname, "power cut (injected)");
  uint64_t size = 0;
  if (!target()->GetFileSize(fname, &size).ok()) size = 0;
  leveldb::WritableFile* base = nullptr;
  leveldb::Status s = target()->NewAppendableFile(fname, &base);
  if (!s.ok()) return s;
  {
    absl::MutexLock lock(&mu_);
    if (!files_.count(fname)) files_[fname] = State{size, size};  // existing bytes count as durable
  }
  *result = new File(this, fname, base);
  return s;
}

leveldb::Status FaultInjectionEnv::RemoveFile(const std::string& fname) {
  if (Failing()) return leveldb::Status::IOError(fname, "power cut (injected)");
  leveldb::Status s = target()->RemoveFile(fname);
  if (s.ok()) {
    absl::MutexLock lock(&mu_);
    files_.erase(fname);
  }
  return s;
}

leveldb::Status FaultInjectionEnv::RenameFile(const std::string& src,
                                              const std::string& target_name) {
  if (Failing()) return leveldb::Status::IOError(src, "power cut (injected)");
  leveldb::Status s = target()->RenameFile(src, target_name);
  if (s.ok()) {
    absl::MutexLock lock(&mu_);
    auto it = files_.find(src);
    if (it != files_.end()) {
      files_[target_name] = it->second;
      files_.erase(it);
    }
  }
  return s;
}

}  // namespace chemledger::storage
