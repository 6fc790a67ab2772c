// chembench: ChemLedger's benchmark programs. Benchmarks are programs, never
// timed tests; their figures go into BENCHMARKS.md with the command line.
//
//   chembench log [--dir DIR] [--seconds S] [--proof-entries N] [--keep]
//   chembench labels [--seconds S] [--threads N]
//   chembench issuance [--dir DIR] [--rounds N]
//   chembench events --chemledgerd PATH [--dir DIR] [--clients N] [--streams N]
//                    [--unary-events N] [--stream-events N] [--codes N] [--window N]

#include <iostream>
#include <string>
#include <vector>

#include "tools/chembench/event_bench.h"
#include "tools/chembench/issuance_bench.h"
#include "tools/chembench/label_bench.h"
#include "tools/chembench/log_bench.h"
#include "tools/cli/args.h"

namespace {

constexpr char kUsage[] =
    "usage: chembench labels [--seconds S] [--threads N]\n"
    "       chembench log [--dir DIR] [--seconds S] [--proof-entries N] [--keep]\n\n"
    "Append throughput of the log core against bare LevelDB (batch sizes 1, 100,\n"
    "1000; synced), group commit with 1/8/32 concurrent single-entry appenders\n"
    "(next to LevelDB's own group commit),\n"
    "and inclusion/consistency proof latency at N entries (default 1000000).\n\n"
    "  --dir DIR            where to make a scratch directory, on the disk to measure\n"
    "                       (default /var/tmp; only the scratch directory is deleted)\n"
    "  --seconds S          seconds per throughput figure (default 3)\n"
    "  --proof-entries N    log size for the proof latencies (default 1000000)\n"
    "  --keep               keep the scratch directory\n\n"
    "chembench labels: signed label URLs/s and PNG renders/s next to their limits\n"
    "(bare Ed25519 signing, bare ZXing-cpp QR encoding) on all cores, and decodes/s.\n\n"
    "chembench issuance [--dir DIR] [--rounds N]: labels issued per second through\n"
    "LabelService over loopback gRPC (requests of 100,000), next to bare Ed25519\n"
    "signing on all cores.\n\n"
    "chembench events --chemledgerd PATH [--dir DIR] [--clients N] [--streams N]\n"
    "  [--unary-events N] [--stream-events N] [--codes N] [--window N]: starts\n"
    "chemledgerd (a\n"
    "separate process) on a scratch deployment and pushes signed events over gRPC,\n"
    "unary and streaming: durable events/s and p50/p99 latency, next to one core's\n"
    "Ed25519 verify rate.\n";

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    std::cout << kUsage;
    return args.empty() ? 2 : 0;
  }
  if (args[0] == "labels") {
    auto parsed = chemledger::cli::Args::Parse(
        std::vector<std::string>(args.begin() + 1, args.end()), {{"seconds", "threads"}, {}});
    if (!parsed.ok()) {
      std::cerr << "chembench labels: " << parsed.status().message() << "\n";
      return 2;
    }
    if (parsed->help()) {
      std::cout << kUsage;
      return 0;
    }
    auto seconds = parsed->Uint("seconds", 3);
    auto threads = parsed->Uint("threads", 0);
    if (!seconds.ok() || !threads.ok() || *seconds == 0) {
      std::cerr << "chembench labels: --seconds must be >= 1, --threads a number\n";
      return 2;
    }
    chemledger::chembench::LabelBenchOptions options;
    options.seconds = static_cast<double>(*seconds);
    options.threads = static_cast<int>(*threads);
    return chemledger::chembench::RunLabelBench(options);
  }
  if (args[0] == "events") {
    auto parsed = chemledger::cli::Args::Parse(
        std::vector<std::string>(args.begin() + 1, args.end()),
        {{"chemledgerd", "dir", "clients", "streams", "unary-events", "stream-events", "codes",
          "window", "batch"}, {}});
    if (!parsed.ok()) {
      std::cerr << "chembench events: " << parsed.status().message() << "\n";
      return 2;
    }
    if (parsed->help()) {
      std::cout << kUsage;
      return 0;
    }
    chemledger::chembench::EventBenchOptions options;
    auto path = parsed->Required("chemledgerd");
    if (!path.ok()) {
      std::cerr << "chembench events: " << path.status().message() << "\n";
      return 2;
    }
    options.chemledgerd = *path;
    options.directory = parsed->Get("dir", "/var/tmp");
    for (auto [flag, field] : std::vector<std::pair<const char*, int*>>{
             {"clients", &options.clients}, {"streams", &options.streams},
             {"unary-events", &options.unary_events}, {"stream-events", &options.stream_events},
             {"codes", &options.codes}, {"window", &options.window},
             {"batch", &options.batch}}) {
      auto v = parsed->Uint(flag, static_cast<uint64_t>(*field));
      if (!v.ok() || *v == 0 || *v > 10000000) {
        std::cerr << "chembench events: --" << flag << " must be 1 to 10000000\n";
        return 2;
      }
      *field = static_cast<int>(*v);
    }
    if (options.batch > 1000) {
      std::cerr << "chembench events: --batch must be at most 1000\n";
      return 2;
    }
    if (options.codes > 100000) {
      std::cerr << "chembench events: --codes must be at most 100000\n";
      return 2;
    }
    return chemledger::chembench::RunEventBench(options);
  }
  if (args[0] == "issuance") {
    auto parsed = chemledger::cli::Args::Parse(
        std::vector<std::string>(args.begin() + 1, args.end()), {{"dir", "rounds"}, {}});
    if (!parsed.ok()) {
      std::cerr << "chembench issuance: " << parsed.status().message() << "\n";
      return 2;
    }
    if (parsed->help()) {
      std::cout << kUsage;
      return 0;
    }
    auto rounds = parsed->Uint("rounds", 5);
    if (!rounds.ok() || *rounds == 0 || *rounds > 100) {
      std::cerr << "chembench issuance: --rounds must be 1 to 100\n";
      return 2;
    }
    chemledger::chembench::IssuanceBenchOptions options;
    options.directory = parsed->Get("dir", "/var/tmp");
    options.rounds = static_cast<int>(*rounds);
    return chemledger::chembench::RunIssuanceBench(options);
  }
  if (args[0] != "log") {
    std::cerr << "chembench: unknown benchmark '" << args[0] << "' (see --help)\n";
    return 2;
  }
  auto parsed = chemledger::cli::Args::Parse(
      std::vector<std::string>(args.begin() + 1, args.end()),
      {{"dir", "seconds", "proof-entries"}, {"keep"}});
  if (!parsed.ok()) {
    std::cerr << "chembench log: " << parsed.status().message() << "\n";
    return 2;
  }
  if (parsed->help()) {
    std::cout << kUsage;
    return 0;
  }
  chemledger::chembench::LogBenchOptions options;
  options.directory = parsed->Get("dir", "/var/tmp");
  options.keep = parsed->Bool("keep");
  if (options.directory.empty()) {
    std::cerr << "chembench log: --dir must not be empty\n";
    return 2;
  }
  auto seconds = parsed->Uint("seconds", 3);
  auto entries = parsed->Uint("proof-entries", options.proof_entries);
  if (!seconds.ok() || !entries.ok() || *seconds == 0 || *entries < 2) {
    std::cerr << "chembench log: --seconds must be >= 1 and --proof-entries >= 2\n";
    return 2;
  }
  options.seconds = static_cast<double>(*seconds);
  options.proof_entries = *entries;
  return chemledger::chembench::RunLogBench(options);
}
