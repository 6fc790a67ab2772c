#include "storage/store.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace chemledger::storage {

absl::Status CheckEntryLimits(absl::Span<const std::string> entries, absl::string_view what) {
  size_t total_bytes = 0;
  for (size_t i = 0; i < entries.size(); ++i) {
    if (entries[i].size() > Log::kMaxEntryBytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          what, ": entry ", i, " is ", entries[i].size(),
          " bytes, more than the limit of ", Log::kMaxEntryBytes));
    }
    total_bytes += entries[i].size();
  }
  if (total_bytes > Log::kMaxAppendBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, ": ", entries.size(), " entries of ", total_bytes,
        " bytes in all, more than the limit of ", Log::kMaxAppendBytes,
        " for one append; split them"));
  }
  return absl::OkStatus();
}

absl::Status CheckStateLimits(const StateWrites& state, absl::string_view what) {
  for (const auto& [key, value] : state.writes()) {
    if (key.size() > kMaxStateKeyBytes) {
      return absl::InvalidArgumentError(absl::StrCat(what, ": a state key of ", key.size(),
                                                     " bytes is over the limit of ",
                                                     kMaxStateKeyBytes));
    }
    if (value && value->size() > kMaxStateValueBytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          what, ": the state value of key '", absl::CHexEscape(key), "' is ", value->size(),
          " bytes, over the limit of ", kMaxStateValueBytes));
    }
  }
  return absl::OkStatus();
}

}  // namespace chemledger::storage
