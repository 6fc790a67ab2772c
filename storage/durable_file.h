// Small files outside the store that must be whole or absent after a crash:
// written aside in the same directory, fsynced, renamed over the old one,
// and the directory fsynced, so that once ReplaceFileDurably returns OK the
// new contents survive a power loss and a reader never sees half of them.
//
// Thread-safety: calls for different paths may run at once; callers
// serialize writes to one path.

#ifndef CHEMLEDGER_STORAGE_DURABLE_FILE_H_
#define CHEMLEDGER_STORAGE_DURABLE_FILE_H_

#include <sys/types.h>

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace chemledger::storage {

// Replaces `path` with `contents` (mode `mode`, whatever the umask).
// DataLoss or PermissionDenied naming the path when it cannot.
absl::Status ReplaceFileDurably(const std::string& path, absl::string_view contents,
                                mode_t mode = 0644);

// Makes everything under `directory` durable as it stands: fsyncs every
// regular file in it and its subdirectories, then each directory, deepest
// first (so that the files' names survive a power loss too). For a tree
// written without syncs (a copied store, a backup) before it is used.
absl::Status SyncTreeDurably(const std::string& directory);

// fsyncs `directory` itself: the names in it (not the files' contents).
absl::Status SyncDirectory(const std::string& directory);

// The whole of `path`; NotFound when there is none.
absl::StatusOr<std::string> ReadWholeFile(const std::string& path);

}  // namespace chemledger::storage

#endif  // CHEMLEDGER_STORAGE_DURABLE_FILE_H_
