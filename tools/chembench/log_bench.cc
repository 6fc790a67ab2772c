// chembench log: append throughput of the log core against bare LevelDB, group
// commit under concurrency, and proof latency on a large log.
//
// What it measures, all in one run on the same disk:
//  1. Bare LevelDB: synced WriteBatch of N entries (key = index), the floor
//     any LevelDB-backed log pays.
//  2. Log::Append of the same entries in batches of N (entries + tree nodes +
//     size in one synced batch).
//  3. Single-entry appends from 1 thread and from 8 threads (group commit).
//  4. Inclusion and consistency proof latency at a large size (default 1M).
// Results print as Markdown tables for BENCHMARKS.md.

#include "tools/chembench/log_bench.h"

#include <algorithm>
#include <atomic>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "crypto/merkle.h"
#include "leveldb/db.h"
#include "leveldb/write_batch.h"
#include "storage/leveldb_log.h"

namespace chemledger::chembench {
namespace {

constexpr size_t kEntryBytes = 256;  // about one signed ledger event

std::string MakeEntry(std::mt19937_64& rng, uint64_t i) {
  std::string e(kEntryBytes, '\0');
  for (size_t j = 0; j < e.size(); j += 8) {
    const uint64_t r = rng();
    for (size_t k = 0; k < 8 && j + k < e.size(); ++k) e[j + k] = static_cast<char>(r >> (8 * k));
  }
  std::memcpy(e.data(), &i, sizeof(i));
  return e;
}

std::string BigEndianKey(char prefix, uint64_t i) {
  std::string k(1, prefix);
  for (int s = 56; s >= 0; s -= 8) k.push_back(static_cast<char>(i >> s));
  return k;
}

// Entries per second of `body`, which appends `per_call` entries per call,
// over about `seconds`.
template <typename Body>
double Rate(double seconds, uint64_t per_call, Body body) {
  const absl::Time start = absl::Now();
  const absl::Time end = start + absl::Seconds(seconds);
  uint64_t calls = 0;
  do {
    body();
    ++calls;
  } while (absl::Now() < end);
  return static_cast<double>(calls * per_call) / absl::ToDoubleSeconds(absl::Now() - start);
}

// A fresh LevelDB with the buffer sizes the log uses.
std::unique_ptr<leveldb::DB> FreshBareLevelDb(const std::string& dir) {
  std::filesystem::remove_all(dir);
  leveldb::Options o;
  o.create_if_missing = true;
  o.write_buffer_size = 32 << 20;
  o.max_file_size = 32 << 20;
  leveldb::DB* raw = nullptr;
  if (!leveldb::DB::Open(o, dir, &raw).ok()) std::abort();
  return std::unique_ptr<leveldb::DB>(raw);
}

// Entries per second of `threads` threads each calling `append_one(rng, n)`
// (which writes one entry) until `seconds` have passed.
template <typename AppendOne>
double ConcurrentRate(int threads, double seconds, AppendOne append_one) {
  std::atomic<uint64_t> total{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> workers;
  const absl::Time start = absl::Now();
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      std::mt19937_64 rng(t);
      uint64_t n = 0;
      while (!stop.load(std::memory_order_relaxed)) append_one(rng, (static_cast<uint64_t>(t) << 40) + n++);
      total += n;
    });
  }
  absl::SleepFor(absl::Seconds(seconds));
  stop = true;
  for (auto& w : workers) w.join();
  return static_cast<double>(total) / absl::ToDoubleSeconds(absl::Now() - start);
}

double BareLevelDb(const std::string& dir, uint64_t batch_size, double seconds) {
  std::unique_ptr<leveldb::DB> db = FreshBareLevelDb(dir);
  std::mt19937_64 rng(1);
  uint64_t next = 0;
  leveldb::WriteOptions sync;
  sync.sync = true;
  return Rate(seconds, batch_size, [&] {
    leveldb::WriteBatch batch;
    for (uint64_t i = 0; i < batch_size; ++i, ++next) {
      batch.Put(BigEndianKey('e', next), MakeEntry(rng, next));
    }
    if (!db->Write(sync, &batch).ok()) std::abort();
  });
}

std::unique_ptr<storage::Log> FreshLog(const std::string& dir) {
  std::filesystem::remove_all(dir);
  auto log = storage::OpenLevelDbLog(dir);
  if (!log.ok()) {
    std::cerr << log.status() << "\n";
    std::abort();
  }
  return *std::move(log);
}

double LogAppend(const std::string& dir, uint64_t batch_size, double seconds) {
  auto log = FreshLog(dir);
  std::mt19937_64 rng(1);
  uint64_t next = 0;
  return Rate(seconds, batch_size, [&] {
    std::vector<std::string> batch;
    batch.reserve(batch_size);
    for (uint64_t i = 0; i < batch_size; ++i) batch.push_back(MakeEntry(rng, next++));
    if (!log->Append(batch).ok()) std::abort();
  });
}

double ConcurrentSingleAppends(const std::string& dir, int threads, double seconds) {
  auto log = FreshLog(dir);
  return ConcurrentRate(threads, seconds, [&](std::mt19937_64& rng, uint64_t n) {
    const std::vector<std::string> one = {MakeEntry(rng, n)};
    if (!log->Append(one).ok()) std::abort();
  });
}

// LevelDB's own group commit of the same synced single-entry writes.
double BareConcurrentSingleWrites(const std::string& dir, int threads, double seconds) {
  std::unique_ptr<leveldb::DB> db = FreshBareLevelDb(dir);
  leveldb::WriteOptions sync;
  sync.sync = true;
  return ConcurrentRate(threads, seconds, [&](std::mt19937_64& rng, uint64_t n) {
    if (!db->Put(sync, BigEndianKey('e', n), MakeEntry(rng, n)).ok()) std::abort();
  });
}

struct Latency {
  double p50_us, p99_us, max_us;
};

template <typename Body>
Latency Measure(int samples, Body body) {
  std::vector<double> us;
  us.reserve(samples);
  for (int i = 0; i < samples; ++i) {
    const absl::Time t0 = absl::Now();
    body(i);
    us.push_back(absl::ToDoubleMicroseconds(absl::Now() - t0));
  }
  std::sort(us.begin(), us.end());
  return {us[us.size() / 2], us[us.size() * 99 / 100], us.back()};
}

// Writes dirty pages back and drops the OS page cache (Linux, root only).
bool DropPageCache() {
  ::sync();
  std::ofstream drop("/proc/sys/vm/drop_caches");
  drop << "3\n";
  drop.flush();
  return drop.good();
}

}  // namespace

int RunLogBench(const LogBenchOptions& options) {
  // Work in a fresh directory of our own under the one given, and delete only
  // that: the given directory may hold anything.
  std::error_code ec;
  std::filesystem::create_directories(options.directory, ec);
  std::string templ = options.directory + "/chembench-log.XXXXXX";
  if (ec || ::mkdtemp(templ.data()) == nullptr) {
    std::cerr << "chembench log: cannot create a scratch directory under "
              << options.directory << "\n";
    return 2;
  }
  const std::string base = templ;
  std::cout << "# chembench log\n\nentry size " << kEntryBytes << " bytes; "
            << options.seconds << " s per figure; directory " << base << "\n\n";

  std::cout << "## Append throughput (synced)\n\n"
            << "| batch size | bare LevelDB WriteBatch (entries/s) | Log::Append (entries/s) "
               "| ratio |\n|---:|---:|---:|---:|\n";
  for (uint64_t batch : {1, 100, 1000}) {
    const double bare = BareLevelDb(base + "/bare", batch, options.seconds);
    const double ours = LogAppend(base + "/log", batch, options.seconds);
    std::cout << absl::StrFormat("| %d | %.0f | %.0f | %.2f |\n", batch, bare, ours,
                                 ours / bare)
              << std::flush;
  }

  std::cout << "\n## Group commit: single-entry appends (synced)\n\n"
            << "| threads | bare LevelDB Put (entries/s) | vs 1 thread | Log::Append (entries/s) "
               "| vs 1 thread |\n|---:|---:|---:|---:|---:|\n";
  double bare_one = 0, one = 0;
  for (int threads : {1, 8, 32}) {
    const double bare = BareConcurrentSingleWrites(base + "/bare", threads, options.seconds);
    const double ours = ConcurrentSingleAppends(base + "/log", threads, options.seconds);
    if (threads == 1) {
      bare_one = bare;
      one = ours;
    }
    std::cout << absl::StrFormat("| %d | %.0f | %.2f | %.0f | %.2f |\n", threads, bare,
                                 bare / bare_one, ours, ours / one)
              << std::flush;
  }

  std::cout << "\n## Proofs at " << options.proof_entries << " entries\n\n";
  auto log = FreshLog(base + "/proofs");
  std::mt19937_64 rng(7);
  const absl::Time fill_start = absl::Now();
  for (uint64_t next = 0; next < options.proof_entries;) {
    std::vector<std::string> batch;
    for (int i = 0; i < 1000 && next < options.proof_entries; ++i) {
      batch.push_back(MakeEntry(rng, next++));
    }
    if (!log->Append(batch).ok()) std::abort();
  }
  log.reset();
  std::cout << "filled in " << absl::FormatDuration(absl::Now() - fill_start)
            << "; log closed and reopened (empty LevelDB block cache)"
            << (DropPageCache() ? ", OS page cache dropped, so the first proofs read from disk"
                                : "; the OS page cache could not be dropped (needs root), so "
                                  "reads may be served from memory")
            << "\n\n";
  log = *storage::OpenLevelDbLog(base + "/proofs");
  const uint64_t n = log->Size();
  const crypto::Sha256Digest root = *log->Root(n);
  constexpr int kSamples = 20000;
  std::vector<uint64_t> picks(kSamples);
  for (auto& p : picks) p = rng() % n;
  const Latency inclusion = Measure(kSamples, [&](int i) {
    if (!log->InclusionProof(picks[i], n).ok()) std::abort();
  });
  const Latency consistency = Measure(kSamples, [&](int i) {
    if (!log->ConsistencyProof(1 + picks[i] % (n - 1), n).ok()) std::abort();
  });
  const Latency historic_inclusion = Measure(kSamples, [&](int i) {
    const uint64_t size = 1 + picks[i];
    if (!log->InclusionProof(picks[(i + 1) % kSamples] % size, size).ok()) std::abort();
  });
  std::cout << "| operation | p50 (µs) | p99 (µs) | max (µs) |\n|---|---:|---:|---:|\n";
  for (auto [name, l] : {std::pair<const char*, Latency>{"inclusion proof, current size", inclusion},
                         {"inclusion proof, random earlier size", historic_inclusion},
                         {"consistency proof, random old size", consistency}}) {
    std::cout << absl::StrFormat("| %s | %.1f | %.1f | %.1f |\n", name, l.p50_us, l.p99_us,
                                 l.max_us);
  }
  // Untimed: a sample of the proofs, checked as a client would.
  int bad = 0;
  for (int i = 0; i < kSamples; i += 100) {
    auto proof = log->InclusionProof(picks[i], n);
    bad += !proof.ok() ||
           !crypto::VerifyInclusion(picks[i], n, *log->LeafHash(picks[i]), *proof, root).ok();
  }
  std::cout << "\n" << (kSamples / 100) << " sampled proofs checked with the client verifier: "
            << (bad == 0 ? "all verified" : absl::StrCat(bad, " FAILED")) << "\n";
  if (!options.keep) std::filesystem::remove_all(base, ec);
  return bad == 0 ? 0 : 1;
}

}  // namespace chemledger::chembench
