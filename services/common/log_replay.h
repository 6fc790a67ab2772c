// Reading the log back when a server starts: the registry, label issuance and
// the ledger each rebuild their state from the entries of their kind.
//
// Thread-safety: as the Log.

#ifndef CHEMLEDGER_SERVICES_COMMON_LOG_REPLAY_H_
#define CHEMLEDGER_SERVICES_COMMON_LOG_REPLAY_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "chemledger/v1/log.pb.h"
#include "storage/log.h"

namespace chemledger {

// Calls `visit(index, entry, bytes)` for every entry of `log` in order, each
// parsed as a LogEntry (`bytes` as stored); stops at the first error visit
// returns. DataLoss for an entry that is not a LogEntry.
inline absl::Status ReplayLog(
    const storage::Log& log,
    const std::function<absl::Status(uint64_t index, const v1::LogEntry& entry,
                                     const std::string& bytes)>& visit) {
  const uint64_t size = log.Size();
  for (uint64_t i = 0; i < size; ++i) {
    absl::StatusOr<std::string> bytes = log.Entry(i);
    if (!bytes.ok()) return bytes.status();
    v1::LogEntry entry;
    if (!entry.ParseFromString(*bytes)) {
      return absl::DataLossError(absl::StrCat("log entry ", i, " is not a LogEntry"));
    }
    if (absl::Status s = visit(i, entry, *bytes); !s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace chemledger

#endif  // CHEMLEDGER_SERVICES_COMMON_LOG_REPLAY_H_
