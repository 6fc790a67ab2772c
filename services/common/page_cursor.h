// Page tokens that say nothing about what the reader may not see. A
// listing that leaves out what is outside a reader's scope still has to
// resume after the last item it examined, which may be one of those; so the
// position goes to the client sealed (libsodium's secretbox, XSalsa20 and
// Poly1305) under a key made when the process starts, and only this process
// can open it. A token is refused after a restart: start the listing again.
//
// Thread-safe: the key is made once and never changes.

#ifndef CHEMLEDGER_SERVICES_COMMON_PAGE_CURSOR_H_
#define CHEMLEDGER_SERVICES_COMMON_PAGE_CURSOR_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace chemledger {

// `position` sealed as a URL-safe token.
std::string SealPageCursor(absl::string_view position);

// The position a token of SealPageCursor holds; InvalidArgument naming
// page_token for anything else (another process's token included).
absl::StatusOr<std::string> OpenPageCursor(absl::string_view token);

}  // namespace chemledger

#endif  // CHEMLEDGER_SERVICES_COMMON_PAGE_CURSOR_H_
