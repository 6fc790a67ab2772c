// Child process for log_crash_test: appends to a log from several threads
// until it is killed, printing "ack <first_index> <count> <tag>" on stdout
// after each Append has returned OK (that is, after the entries are durable).
// Entry j of a batch of `count` holds "<tag>/<j>/<count>/<padding>", so the
// test can tell that every batch in the log is whole, acknowledged or not.
//
// Usage: log_crash_child DB_DIR ROUND THREADS

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "storage/leveldb_log.h"

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: log_crash_child DB_DIR ROUND THREADS\n");
    return 2;
  }
  const std::string round = argv[2];
  const int threads = std::atoi(argv[3]);
  auto log = chemledger::storage::OpenLevelDbLog(argv[1]);
  if (!log.ok()) {
    std::fprintf(stderr, "open: %s\n", log.status().ToString().c_str());
    return 1;
  }
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      std::mt19937 rng(std::random_device{}());
      for (uint64_t seq = 0;; ++seq) {
        const std::string tag = absl::StrCat("r", round, "-t", t, "-s", seq);
        const int count = 1 + rng() % (t == 0 ? 200 : 8);
        std::vector<std::string> batch;
        for (int j = 0; j < count; ++j) {
          batch.push_back(absl::StrCat(tag, "/", j, "/", count, "/", std::string(rng() % 300, 'p')));
        }
        auto first = (*log)->Append(batch);
        if (!first.ok()) {
          std::fprintf(stderr, "append: %s\n", first.status().ToString().c_str());
          std::_Exit(1);
        }
        // One write(2) per line: lines never interleave (shorter than PIPE_BUF).
        const std::string line = absl::StrCat("ack ", *first, " ", count, " ", tag, "\n");
        if (::write(STDOUT_FILENO, line.data(), line.size()) != (ssize_t)line.size()) {
          std::_Exit(1);
        }
      }
    });
  }
  for (auto& w : workers) w.join();
}
