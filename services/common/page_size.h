// Page sizes of the listing RPCs: each request names how many items a page
// may hold, 1 to kMaxPageSize, or 0 for the method's default.
//
// Pure functions; thread-safe.

#ifndef CHEMLEDGER_SERVICES_COMMON_PAGE_SIZE_H_
#define CHEMLEDGER_SERVICES_COMMON_PAGE_SIZE_H_

#include <cstddef>
#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

namespace chemledger {

inline constexpr int32_t kMaxPageSize = 1000;

// The items a page of `requested` holds (`default_size` for 0), or
// InvalidArgument naming page_size and the rule.
inline absl::StatusOr<size_t> PageSizeOf(int32_t requested, size_t default_size) {
  if (requested < 0 || requested > kMaxPageSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("page_size: must be 0 to ", kMaxPageSize, " (0: ", default_size, ")"));
  }
  return requested == 0 ? default_size : static_cast<size_t>(requested);
}

}  // namespace chemledger

#endif  // CHEMLEDGER_SERVICES_COMMON_PAGE_SIZE_H_
