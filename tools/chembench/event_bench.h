// chembench's event benchmark (see event_bench.cc for what it measures).

#ifndef CHEMLEDGER_TOOLS_CHEMBENCH_EVENT_BENCH_H_
#define CHEMLEDGER_TOOLS_CHEMBENCH_EVENT_BENCH_H_

#include <string>

namespace chemledger::chembench {

struct EventBenchOptions {
  std::string chemledgerd;             // path of the server binary to start
  std::string directory = "/var/tmp";  // where its scratch data directory goes
  int codes = 20000;                   // packages issued and commissioned
  int clients = 8;                     // unary client threads
  int unary_events = 20000;
  int streams = 4;
  int window = 1024;  // events in flight per stream
  int batch = 100;    // events per EventBatch message
  int stream_events = 100000;
  int read_seconds = 5;  // GetHistory of random codes from `clients` threads, closed loop
  // When set (a libpq connection string to an existing, empty database),
  // after LevelDB the same run on a store in this database, then the
  // do-it-yourself table (diy_table_bench.h) in it, with the same clients
  // and one event per call.
  std::string postgres;
  // With postgres: the ledgerd binary; GetHistory reads are then also
  // measured at a read replica of the PostgreSQL store (ledgerd
  // --read-replica), alone and beside the writer's.
  std::string ledgerd;
  // When set, the events move packages between two registered sites of the
  // producer under an imported GB 18218 thresholds table, so that every
  // event re-assesses both sites (docs/major-hazards.md); otherwise they are
  // stored at a free-text site, which is not assessed.
  bool major_hazard_sites = false;
  // The same two registered sites without the thresholds table: what the
  // registered sites cost without the identification.
  bool registered_sites = false;
  // When above 0, every observe_every-th streamed or batched event is an
  // OBSERVING event of labels_per_observation packages carrying their
  // labels (each label's signature checked beside the event's, before it
  // is sequenced: rules epoch 14), the rest STORING as before.
  int observe_every = 0;
  int labels_per_observation = 100;
};

// Prints a Markdown table to stdout; returns a process exit status.
int RunEventBench(const EventBenchOptions& options);

}  // namespace chemledger::chembench

#endif  // CHEMLEDGER_TOOLS_CHEMBENCH_EVENT_BENCH_H_
