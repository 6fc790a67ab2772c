// chembench: ChemLedger's benchmark programs. Benchmarks are programs, never
// timed tests; their figures go into BENCHMARKS.md with the command line.
//
//   chembench log [--dir DIR] [--seconds S] [--proof-entries N] [--keep]
//   chembench labels [--seconds S] [--threads N]
//   chembench issuance [--dir DIR] [--rounds N]
//   chembench events --chemledgerd PATH [--dir DIR] [--clients N] [--streams N]
//                    [--postgres CONNINFO [--ledgerd PATH]] [--read-seconds N]
//                    [--unary-events N] [--stream-events N] [--codes N] [--window N]
//   chembench waybills --chemledgerd PATH [--dir DIR] [--waybills N]
//                      [--codes-per-waybill N] [--rounds N] [--streams N] [--window N]
//   chembench reads --chemledgerd PATH [--dir DIR] [--write-rate N] [--read-rate N]
//                   [--seconds N] [--sync-delay-ms N] [--codes N] [--rounds N]
//   chembench scale --chemledgerd PATH [--dir DIR] [--codes N] [--events N]
//                   [--streams N] [--window N] [--restarts N]
//   chembench verify --chemledgerd PATH [--dir DIR] [--clients N] [--seconds N] [--codes N]
//   chembench pages --chemledgerd PATH [--dir DIR] [--page-rate N] [--write-rate N]
//                   [--seconds N] [--codes N] [--rounds N]
//   chembench load --chemledgerd PATH [--cluster BIN_DIR [--cluster-script F]] [--dir DIR]
//                  [--clients N] [--seconds N] [--rate N]

#include <csignal>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "api/wire.h"
#include "tools/chembench/bench_server.h"
#include "tools/chembench/event_bench.h"
#include "tools/chembench/issuance_bench.h"
#include "tools/chembench/label_bench.h"
#include "tools/chembench/load_bench.h"
#include "tools/chembench/log_bench.h"
#include "tools/chembench/pages_bench.h"
#include "tools/chembench/reads_bench.h"
#include "tools/chembench/audit_bench.h"
#include "tools/chembench/scale_bench.h"
#include "tools/chembench/verify_bench.h"
#include "tools/chembench/waybill_bench.h"
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
    "  [--unary-events N] [--stream-events N] [--codes N] [--window N]\n"
    "  [--major-hazard-sites | --registered-sites]\n"
    "  [--observe-every N [--labels-per-observation N]]: starts\n"
    "chemledgerd (a\n"
    "separate process) on a scratch deployment and pushes signed events over gRPC,\n"
    "unary and streaming: durable events/s and p50/p99 latency, next to one core's\n"
    "Ed25519 verify rate; then GetHistory reads/s for --read-seconds (default 5).\n"
    "--postgres CONNINFO: then all of it again with the deployment's store on\n"
    "PostgreSQL (an existing, empty database; docs/postgres.md), and after it, in the\n"
    "same database, the do-it-yourself table a team would write instead\n"
    "(tools/chembench/diy_table_bench.h): a per-code hash chain, one event per\n"
    "transaction, from the same clients. With --ledgerd PATH too: GetHistory reads/s\n"
    "at a read replica of the PostgreSQL store (ledgerd --read-replica), alone and\n"
    "beside the writer. --observe-every N: every Nth streamed event is an observation\n"
    "of --labels-per-observation packages (default 100, at most 100) carrying their\n"
    "labels, each label's signature checked too; the Ed25519 checks per second are\n"
    "then printed as well.\n\n"
    "chembench waybills --chemledgerd PATH [--dir DIR] [--waybills N]\n"
    "  [--codes-per-waybill N] [--rounds N] [--streams N] [--window N] [--batch N]:\n"
    "starts chemledgerd (a separate process) on a scratch deployment, registers a\n"
    "carrier, commissions packages and pushes signed e-waybills over SubmitStream, N\n"
    "per round (default 20000, each listing packages of its own; --window, default\n"
    "1024, in flight on each of --streams, default 4), or with --batch N over\n"
    "SubmitBatches, N a message: durable waybills/s and p50/p99 latency per round\n"
    "(per message with --batch), next to one core's Ed25519 verify rate.\n"
    "chembench reads --chemledgerd PATH [--dir DIR] [--write-rate N] [--read-rate N]\n"
    "  [--seconds N] [--sync-delay-ms N] [--codes N] [--rounds N]: GetHistory latency\n"
    "at a fixed read rate (default 500/s), idle and while events stream in at a fixed\n"
    "rate (default 5000/s), with every fsync slowed (default 5 ms), in --rounds\n"
    "(default 3) of the two phases alternated; beside them, what the machine alone\n"
    "gives a 0.25 ms task.\n"
    "chembench audit --chemledgerd PATH [--dir DIR] [--codes N] [--events N] [--queries N]\n"
    "                [--bundles N] [--streams N] [--window N]\n"
    "    a ledger of N events over the past year (default 250,000 codes, 1,000,000\n"
    "    events); QueryEvents first pages p50/p99, a year's Reconcile of the\n"
    "    chemical, GetHistoryBundle events/s with proofs cold and warm\n"
    "chembench scale --chemledgerd PATH [--dir DIR] [--codes N] [--events N]\n"
    "  [--streams N] [--window N] [--restarts N]: start-up time of chemledgerd fresh\n"
    "and after N codes (default 1000000) and N events (default 2000000), and its\n"
    "resident memory at that size.\n"
    "chembench pages --chemledgerd PATH [--dir DIR] [--page-rate N] [--write-rate N]\n"
    "  [--seconds N] [--codes N] [--rounds N]: latency of the public scan pages (random\n"
    "label pages over HTTP, default 500/s), idle and while events stream in at a fixed\n"
    "rate (default 5000/s), in --rounds (default 3) of the two phases alternated, each\n"
    "--seconds long (default 10); beside them, what the machine alone gives a 0.25 ms task.\n"
    "chembench verify --chemledgerd PATH [--dir DIR] [--clients N] [--seconds N]\n"
    "  [--codes N]: VerifyService codes verified per second, label URLs 1000 a call\n"
    "and PNG photos 16 a call, next to the machine's bare Ed25519 verify rate.\n\n"
    "chembench load --chemledgerd PATH [--cluster BIN_DIR [--cluster-script F]] [--dir DIR]\n"
    "  [--clients N] [--seconds N] [--rate N]: a mixed workload (label issuances,\n"
    "events, waybills, signed scans, history reads, audit queries) from N client\n"
    "threads (default 8), at N operations a second or flat out (--rate 0, the\n"
    "default), against chemledgerd, or with --cluster against ledgerd, labeld,\n"
    "waybilld, verifyd and auditd from BIN_DIR (started by tools/cluster/cluster.sh,\n"
    "run from the repository's root); progress each second, then throughput and\n"
    "p50/p99/p999 latency per operation (a label issuance the server turns away as\n"
    "busy is sent again 5 ms later, as a client does, and counted).\n";

using chemledger::cli::Args;

// Sets each of `counts` to its flag's value where one is given, which must
// be 1 to 10000000; if one is not, says so (for `benchmark`) and returns
// false.
bool ReadCounts(const Args& flags, const char* benchmark,
                const std::vector<std::pair<const char*, int*>>& counts) {
  for (auto [flag, field] : counts) {
    auto v = flags.Uint(flag, static_cast<uint64_t>(*field));
    if (!v.ok() || *v == 0 || *v > 10000000) {
      std::cerr << "chembench " << benchmark << ": --" << flag << " must be 1 to 10000000\n";
      return false;
    }
    *field = static_cast<int>(*v);
  }
  return true;
}

// --chemledgerd (required): the server binary the benchmark starts, and
// --dir (default /var/tmp): where its scratch directory goes. If
// --chemledgerd is missing, says so (for `benchmark`) and returns false.
bool ReadServerFlags(const Args& flags, const char* benchmark, std::string* chemledgerd,
                     std::string* directory) {
  auto path = flags.Required("chemledgerd");
  if (!path.ok()) {
    std::cerr << "chembench " << benchmark << ": " << path.status().message() << "\n";
    return false;
  }
  *chemledgerd = *path;
  *directory = flags.Get("dir", "/var/tmp");
  return true;
}

int Labels(const Args& flags) {
  auto seconds = flags.Uint("seconds", 3);
  auto threads = flags.Uint("threads", 0);
  if (!seconds.ok() || !threads.ok() || *seconds == 0) {
    std::cerr << "chembench labels: --seconds must be >= 1, --threads a number\n";
    return 2;
  }
  chemledger::chembench::LabelBenchOptions options;
  options.seconds = static_cast<double>(*seconds);
  options.threads = static_cast<int>(*threads);
  return chemledger::chembench::RunLabelBench(options);
}

int Events(const Args& flags) {
  chemledger::chembench::EventBenchOptions options;
  if (flags.Has("postgres")) options.postgres = flags.Get("postgres");
  if (flags.Has("ledgerd")) options.ledgerd = flags.Get("ledgerd");
  options.major_hazard_sites = flags.Bool("major-hazard-sites");
  options.registered_sites = flags.Bool("registered-sites");
  if (!ReadServerFlags(flags, "events", &options.chemledgerd, &options.directory) ||
      !ReadCounts(flags, "events",
                  {{"clients", &options.clients}, {"streams", &options.streams},
                   {"unary-events", &options.unary_events},
                   {"stream-events", &options.stream_events}, {"codes", &options.codes},
                   {"window", &options.window}, {"batch", &options.batch},
                   {"read-seconds", &options.read_seconds}})) {
    return 2;
  }
  if (options.batch > 1000) {
    std::cerr << "chembench events: --batch must be at most 1000\n";
    return 2;
  }
  if ((flags.Has("observe-every") &&
       !ReadCounts(flags, "events", {{"observe-every", &options.observe_every}})) ||
      (flags.Has("labels-per-observation") &&
       !ReadCounts(flags, "events",
                   {{"labels-per-observation", &options.labels_per_observation}}))) {
    return 2;
  }
  if (flags.Has("labels-per-observation") && !flags.Has("observe-every")) {
    std::cerr << "chembench events: --labels-per-observation needs --observe-every\n";
    return 2;
  }
  if (options.labels_per_observation > 100) {
    std::cerr << "chembench events: --labels-per-observation must be at most 100 (an "
                 "observation's labels, rules epoch 14)\n";
    return 2;
  }
  if (options.codes > 100000) {
    std::cerr << "chembench events: --codes must be at most 100000\n";
    return 2;
  }
  return chemledger::chembench::RunEventBench(options);
}

int Waybills(const Args& flags) {
  chemledger::chembench::WaybillBenchOptions options;
  if (!ReadServerFlags(flags, "waybills", &options.chemledgerd, &options.directory) ||
      !ReadCounts(flags, "waybills",
                  {{"waybills", &options.waybills},
                   {"codes-per-waybill", &options.codes_per_waybill},
                   {"rounds", &options.rounds}, {"streams", &options.streams},
                   {"window", &options.window}})) {
    return 2;
  }
  if (flags.Has("batch")) {
    int64_t batch = 0;
    if (!absl::SimpleAtoi(flags.Get("batch"), &batch) || batch < 1 ||
        batch > chemledger::api::kMaxWaybillsPerBatchMessage) {
      std::cerr << "chembench waybills: --batch must be 1 to "
                << chemledger::api::kMaxWaybillsPerBatchMessage << "\n";
      return 2;
    }
    options.batch = static_cast<int>(batch);
  }
  // Every package is issued and commissioned before the first round.
  if (static_cast<uint64_t>(options.waybills) * options.codes_per_waybill * options.rounds >
      10000000) {
    std::cerr << "chembench waybills: --waybills × --codes-per-waybill × --rounds must be at "
                 "most 10000000\n";
    return 2;
  }
  if (options.codes_per_waybill > 1000 || options.streams > 4) {
    std::cerr << "chembench waybills: --codes-per-waybill must be at most 1000, --streams at "
                 "most 4 (the server's limit per enterprise: every stream is the carrier's)\n";
    return 2;
  }
  return chemledger::chembench::RunWaybillBench(options);
}

int Reads(const Args& flags) {
  chemledger::chembench::ReadsBenchOptions options;
  if (!ReadServerFlags(flags, "reads", &options.chemledgerd, &options.directory) ||
      !ReadCounts(flags, "reads",
                  {{"write-rate", &options.write_rate},
                   {"read-rate", &options.read_rate},
                   {"seconds", &options.seconds},
                   {"sync-delay-ms", &options.sync_delay_ms},
                   {"codes", &options.codes},
                   {"rounds", &options.rounds}})) {
    return 2;
  }
  if (options.codes > 100000) {
    std::cerr << "chembench reads: --codes must be at most 100000\n";
    return 2;
  }
  return chemledger::chembench::RunReadsBench(options);
}

int Pages(const Args& flags) {
  chemledger::chembench::PagesBenchOptions options;
  if (!ReadServerFlags(flags, "pages", &options.chemledgerd, &options.directory) ||
      !ReadCounts(flags, "pages",
                  {{"page-rate", &options.page_rate},
                   {"write-rate", &options.write_rate},
                   {"seconds", &options.seconds},
                   {"codes", &options.codes},
                   {"rounds", &options.rounds}})) {
    return 2;
  }
  if (options.codes > 100000) {
    std::cerr << "chembench pages: --codes must be at most 100000\n";
    return 2;
  }
  return chemledger::chembench::RunPagesBench(options);
}

int Verify(const Args& flags) {
  chemledger::chembench::VerifyBenchOptions options;
  if (!ReadServerFlags(flags, "verify", &options.chemledgerd, &options.directory) ||
      !ReadCounts(flags, "verify",
                  {{"clients", &options.clients}, {"seconds", &options.seconds},
                   {"codes", &options.codes}})) {
    return 2;
  }
  if (options.clients > 64 || options.codes > 100000) {
    std::cerr << "chembench verify: --clients must be at most 64, --codes at most 100000\n";
    return 2;
  }
  return chemledger::chembench::RunVerifyBench(options);
}

int Load(const Args& flags) {
  chemledger::chembench::LoadBenchOptions options;
  if (!ReadServerFlags(flags, "load", &options.chemledgerd, &options.directory) ||
      !ReadCounts(flags, "load",
                  {{"clients", &options.clients}, {"seconds", &options.seconds}})) {
    return 2;
  }
  // --rate 0 (the default): flat out.
  absl::StatusOr<uint64_t> rate = flags.Uint("rate", 0);
  if (!rate.ok() || *rate > 10000000) {
    std::cerr << "chembench load: --rate must be 0 (flat out) to 10000000\n";
    return 2;
  }
  options.rate = static_cast<int>(*rate);
  options.cluster_bin = flags.Get("cluster");
  options.cluster_script = flags.Get("cluster-script", options.cluster_script);
  if (options.clients < 1 || options.clients > 256) {
    std::cerr << "chembench load: --clients must be 1 to 256\n";
    return 2;
  }
  return chemledger::chembench::RunLoadBench(options);
}

int Scale(const Args& flags) {
  chemledger::chembench::ScaleBenchOptions options;
  if (!ReadServerFlags(flags, "scale", &options.chemledgerd, &options.directory) ||
      !ReadCounts(flags, "scale",
                  {{"codes", &options.codes}, {"events", &options.events},
                   {"streams", &options.streams}, {"window", &options.window},
                   {"restarts", &options.restarts}})) {
    return 2;
  }
  if (options.events < options.codes || options.streams > 8) {
    std::cerr << "chembench scale: --events must be at least --codes, --streams at most 8\n";
    return 2;
  }
  return chemledger::chembench::RunScaleBench(options);
}

int Audit(const Args& flags) {
  chemledger::chembench::AuditBenchOptions options;
  if (!ReadServerFlags(flags, "audit", &options.chemledgerd, &options.directory) ||
      !ReadCounts(flags, "audit",
                  {{"codes", &options.codes}, {"events", &options.events},
                   {"queries", &options.queries}, {"bundles", &options.bundles},
                   {"streams", &options.streams}, {"window", &options.window}})) {
    return 2;
  }
  if (options.streams > 8) {
    std::cerr << "chembench audit: --streams at most 8\n";
    return 2;
  }
  return chemledger::chembench::RunAuditBench(options);
}

int Issuance(const Args& flags) {
  auto rounds = flags.Uint("rounds", 5);
  if (!rounds.ok() || *rounds == 0 || *rounds > 100) {
    std::cerr << "chembench issuance: --rounds must be 1 to 100\n";
    return 2;
  }
  chemledger::chembench::IssuanceBenchOptions options;
  options.directory = flags.Get("dir", "/var/tmp");
  options.rounds = static_cast<int>(*rounds);
  return chemledger::chembench::RunIssuanceBench(options);
}

int Log(const Args& flags) {
  chemledger::chembench::LogBenchOptions options;
  options.directory = flags.Get("dir", "/var/tmp");
  options.keep = flags.Bool("keep");
  if (options.directory.empty()) {
    std::cerr << "chembench log: --dir must not be empty\n";
    return 2;
  }
  auto seconds = flags.Uint("seconds", 3);
  auto entries = flags.Uint("proof-entries", options.proof_entries);
  if (!seconds.ok() || !entries.ok() || *seconds == 0 || *entries < 2) {
    std::cerr << "chembench log: --seconds must be >= 1 and --proof-entries >= 2\n";
    return 2;
  }
  options.seconds = static_cast<double>(*seconds);
  options.proof_entries = *entries;
  return chemledger::chembench::RunLogBench(options);
}

struct Benchmark {
  const char* name;
  chemledger::cli::FlagSpec flags;
  int (*run)(const Args& flags);
};

const Benchmark kBenchmarks[] = {
    {"labels", {{"seconds", "threads"}, {}}, Labels},
    {"events",
     {{"chemledgerd", "dir", "clients", "streams", "unary-events", "stream-events", "codes",
       "window", "batch", "postgres", "read-seconds", "ledgerd", "observe-every",
       "labels-per-observation"},
      {"major-hazard-sites", "registered-sites"}},
     Events},
    {"waybills",
     {{"chemledgerd", "dir", "waybills", "codes-per-waybill", "rounds", "streams", "window",
       "batch"},
      {}},
     Waybills},
    {"issuance", {{"dir", "rounds"}, {}}, Issuance},
    {"reads",
     {{"chemledgerd", "dir", "write-rate", "read-rate", "seconds", "sync-delay-ms", "codes",
       "rounds"},
      {}},
     Reads},
    {"scale",
     {{"chemledgerd", "dir", "codes", "events", "streams", "window", "restarts"}, {}},
     Scale},
    {"log", {{"dir", "seconds", "proof-entries"}, {"keep"}}, Log},
    {"audit",
     {{"chemledgerd", "dir", "codes", "events", "queries", "bundles", "streams", "window"}, {}},
     Audit},
    {"verify", {{"chemledgerd", "dir", "clients", "seconds", "codes"}, {}}, Verify},
    {"load",
     {{"chemledgerd", "dir", "cluster", "cluster-script", "clients", "seconds", "rate"}, {}},
     Load},
    {"pages",
     {{"chemledgerd", "dir", "page-rate", "write-rate", "seconds", "codes", "rounds"}, {}},
     Pages},
};

}  // namespace

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);  // a closed HTTP connection is an error, not the end

  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    std::cout << kUsage;
    return args.empty() ? 2 : 0;
  }
  for (const Benchmark& benchmark : kBenchmarks) {
    if (args[0] != benchmark.name) continue;
    auto flags =
        Args::Parse(std::vector<std::string>(args.begin() + 1, args.end()), benchmark.flags);
    if (!flags.ok()) {
      std::cerr << "chembench " << benchmark.name << ": " << flags.status().message() << "\n";
      return 2;
    }
    if (flags->help()) {
      std::cout << kUsage;
      return 0;
    }
    return benchmark.run(*flags);
  }
  std::cerr << "chembench: unknown benchmark '" << args[0] << "' (see --help)\n";
  return 2;
}
