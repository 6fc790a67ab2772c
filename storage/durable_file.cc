#include "storage/durable_file.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/str_cat.h"

namespace chemledger::storage {
namespace {

absl::Status Failed(const char* what, const std::string& path) {
  const int e = errno;
  const std::string message = absl::StrCat("cannot ", what, " ", path, ": ", std::strerror(e));
  return e == EACCES || e == EPERM ? absl::PermissionDeniedError(message)
                                   : absl::DataLossError(message);
}

std::string DirectoryOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

absl::Status ReplaceFileDurably(const std::string& path, absl::string_view contents,
                                mode_t mode) {
  // A name of this call's own, made new (never a file or link someone left
  // there): calls for one path at once, in one process or several, do not
  // write into each other's.
  static std::atomic<uint64_t> calls{0};
  std::string tmp;
  int fd = -1;
  for (int tries = 0; fd < 0 && tries < 100; ++tries) {
    tmp = absl::StrCat(path, ".tmp-", getpid(), "-", calls.fetch_add(1));
    fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0 && errno != EEXIST) break;
  }
  if (fd < 0) return Failed("create", tmp);
  bool ok = fchmod(fd, mode) == 0;
  for (absl::string_view left = contents; ok && !left.empty();) {
    const ssize_t n = write(fd, left.data(), left.size());
    if (n < 0 && errno == EINTR) continue;
    ok = n > 0;
    if (ok) left.remove_prefix(static_cast<size_t>(n));
  }
  ok = ok && fsync(fd) == 0;
  absl::Status status = ok ? absl::OkStatus() : Failed("write", tmp);
  close(fd);
  if (status.ok() && rename(tmp.c_str(), path.c_str()) != 0) status = Failed("replace", path);
  if (!status.ok()) {
    unlink(tmp.c_str());
    return status;
  }
  return SyncDirectory(DirectoryOf(path));
}

absl::Status SyncTreeDurably(const std::string& directory) {
  std::error_code ec;
  std::vector<std::string> directories = {directory};
  for (auto it = std::filesystem::recursive_directory_iterator(directory, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    const std::string path = it->path().string();
    if (it->is_directory(ec)) {
      directories.push_back(path);
      continue;
    }
    if (!it->is_regular_file(ec)) continue;
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Failed("open", path);
    const bool synced = fsync(fd) == 0;
    close(fd);
    if (!synced) return Failed("sync", path);
  }
  if (ec) {
    return absl::DataLossError(absl::StrCat("cannot list ", directory, ": ", ec.message()));
  }
  // Deepest first: a directory's entries before the entry naming it.
  for (auto d = directories.rbegin(); d != directories.rend(); ++d) {
    if (absl::Status s = SyncDirectory(*d); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status SyncDirectory(const std::string& directory) {
  const int fd = open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Failed("open directory", directory);
  const bool synced = fsync(fd) == 0;
  close(fd);
  return synced ? absl::OkStatus() : Failed("sync directory", directory);
}

absl::StatusOr<std::string> ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return errno == ENOENT ? absl::NotFoundError(absl::StrCat("no file ", path))
                           : Failed("read", path);
  }
  std::stringstream s;
  s << in.rdbuf();
  if (in.bad()) return Failed("read", path);
  return s.str();
}

}  // namespace chemledger::storage
