#include "services/chemledgerd/metrics.h"

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"

namespace chemledger::server {
namespace {

// The value of the sample `series` (name and labels, as the text format
// prints them) in `text`, or -1 when it is not there.
double Sample(const std::string& text, const std::string& series) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (!absl::StartsWith(line, series + " ")) continue;
    double value = 0;
    if (absl::SimpleAtod(line.substr(series.size() + 1), &value)) return value;
  }
  return -1;
}

TEST(ServerMetricsTest, AScrapeReadsWhatTheModulesTell) {
  ServerMetrics metrics("");
  std::atomic<int> in_use{3};
  std::atomic<uint64_t> recorded{5}, hits{7};
  metrics.WatchSlots(
      "issuance", [&] { return in_use.load(); }, 4);
  metrics.WatchRefusalRecords([&] {
    return std::vector<std::pair<std::string, uint64_t>>{{"recorded", recorded.load()}};
  });
  metrics.WatchCache("sequencer_state", [&] { return std::make_pair(hits.load(), uint64_t{1}); });
  std::string text = metrics.Scrape();
  EXPECT_EQ(Sample(text, "chemledger_slots_in_use{slot=\"issuance\"}"), 3);
  EXPECT_EQ(Sample(text, "chemledger_slots{slot=\"issuance\"}"), 4);
  EXPECT_EQ(Sample(text, "chemledger_refusal_records_total{outcome=\"recorded\"}"), 5);
  EXPECT_EQ(
      Sample(text, "chemledger_cache_lookups_total{cache=\"sequencer_state\",result=\"hit\"}"), 7);
  in_use = 1;
  recorded = 9;
  text = metrics.Scrape();
  EXPECT_EQ(Sample(text, "chemledger_slots_in_use{slot=\"issuance\"}"), 1);
  EXPECT_EQ(Sample(text, "chemledger_refusal_records_total{outcome=\"recorded\"}"), 9);
}

// The metrics port of a server still running is not shared with a second
// one: refused, naming the flag.
TEST(ServerMetricsTest, APortInUseIsRefusedNotShared) {
  ServerMetrics first("");
  absl::StatusOr<int> port = first.Serve("127.0.0.1:0");
  ASSERT_TRUE(port.ok()) << port.status();
  ServerMetrics second("");
  const std::string listen = absl::StrCat("127.0.0.1:", *port);
  absl::StatusOr<int> refused = second.Serve(listen);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().message(),
            "--metrics-listen: cannot listen on " + listen +
                ": another server listens there (stop it, or choose another port)");
  first.StopServing();
}

// A module's function runs without the metrics' registration lock held:
// here one registers another cache while it is being read (with that lock
// held across the call, this would deadlock), so no module lock is ever
// ordered after the metrics'.
TEST(ServerMetricsTest, TheModulesAreReadWithoutTheMetricsLock) {
  ServerMetrics metrics("");
  bool registered = false;
  metrics.WatchSlots(
      "ledger_streams",
      [&] {
        if (!registered) {
          registered = true;
          metrics.WatchCache("late", [] { return std::make_pair(uint64_t{2}, uint64_t{0}); });
        }
        return 1;
      },
      8);
  metrics.Scrape();
  EXPECT_TRUE(registered);
  EXPECT_EQ(
      Sample(metrics.Scrape(), "chemledger_cache_lookups_total{cache=\"late\",result=\"hit\"}"), 2);
}

// Scrapes at once (two collectors) count each outcome once: the counters
// end at the count, never above it.
TEST(ServerMetricsTest, ScrapesAtOnceCountEachOutcomeOnce) {
  ServerMetrics metrics("");
  std::atomic<uint64_t> recorded{0};
  metrics.WatchPublicScanRecords([&] {
    return std::vector<std::pair<std::string, uint64_t>>{{"recorded", recorded.load()}};
  });
  std::vector<std::thread> scrapers;
  for (int t = 0; t < 4; ++t) {
    scrapers.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        recorded.fetch_add(1);
        metrics.Scrape();
      }
    });
  }
  for (std::thread& t : scrapers) t.join();
  EXPECT_EQ(Sample(metrics.Scrape(), "chemledger_public_scan_records_total{outcome=\"recorded\"}"),
            800);
}

}  // namespace
}  // namespace chemledger::server
