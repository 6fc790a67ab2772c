// Internal to services/registry: one record of the registry's state, read
// and parsed. Thread-safe as the reader is.

#ifndef CHEMLEDGER_SERVICES_REGISTRY_STATE_RECORD_H_
#define CHEMLEDGER_SERVICES_REGISTRY_STATE_RECORD_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "storage/store.h"

namespace chemledger::registry {

// The record of type `Record` at `key`; nullopt when the key is absent;
// DataLoss when its bytes do not parse.
template <typename Record>
absl::StatusOr<std::optional<Record>> ReadStateRecord(const storage::StateReader& state,
                                                      const std::string& key) {
  absl::StatusOr<std::optional<std::string>> bytes = state.Get(key);
  if (!bytes.ok()) return bytes.status();
  if (!*bytes) return std::nullopt;
  Record record;
  if (!record.ParseFromString(**bytes)) {
    return absl::DataLossError(absl::StrCat("state record '", key, "' is malformed"));
  }
  return record;
}

}  // namespace chemledger::registry

#endif  // CHEMLEDGER_SERVICES_REGISTRY_STATE_RECORD_H_
