#include "services/chemledgerd/test_clock.h"

#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"

namespace chemledger::server {
namespace {

class FileClock {
 public:
  FileClock(std::string path, absl::Time first) : path_(std::move(path)), last_(first) {}

  absl::Time Now() {
    absl::MutexLock lock(&mu_);
    const absl::Time real = absl::Now();
    if (real - read_at_ >= absl::Milliseconds(1)) {
      read_at_ = real;
      std::ifstream in(path_);
      std::stringstream text;
      text << in.rdbuf();
      if (absl::StatusOr<absl::Time> t = ParseTestClock(text.str()); in && t.ok()) last_ = *t;
    }
    return last_;
  }

 private:
  const std::string path_;
  absl::Mutex mu_;
  absl::Time last_ ABSL_GUARDED_BY(mu_);
  absl::Time read_at_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

}  // namespace

absl::StatusOr<absl::Time> ParseTestClock(const std::string& text) {
  const absl::string_view t = absl::StripAsciiWhitespace(text);
  double seconds = 0;
  if (t.empty() || !absl::SimpleAtod(t, &seconds) || !(seconds >= 0) || seconds > 253402300799) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", t, "' is not a time in Unix seconds (e.g. 1767225600)"));
  }
  return absl::FromUnixMicros(static_cast<int64_t>(seconds * 1e6));
}

absl::StatusOr<std::function<absl::Time()>> OpenTestClock(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  if (!in) return absl::InvalidArgumentError(absl::StrCat("--test-clock: cannot read ", path));
  absl::StatusOr<absl::Time> first = ParseTestClock(text.str());
  if (!first.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--test-clock: ", path, ": ", first.status().message()));
  }
  auto clock = std::make_shared<FileClock>(path, *first);
  return std::function<absl::Time()>([clock] { return clock->Now(); });
}

}  // namespace chemledger::server
