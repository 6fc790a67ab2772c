// The one interface through which the personalities (label issuance, the
// lifecycle ledger, waybills, the registry's service, and later verification
// and audit) reach the ledger: submit signed requests, read at a snapshot.
//
// In-process (NewInProcessLedgerClient) it sits directly on a Journal; the
// gRPC implementation of the same interface (services/ledgerd/
// remote_ledger.h) lets the personalities run as separate processes
// (docs/cluster.md). So the interface passes values only: no callbacks into
// the caller, no objects shared for writing.
//
// Snapshots are named by the log size they reflect. A paged read that hands
// out a page token asks the ledger to Keep its snapshot and puts the size in
// the token; the next page asks At(size). The ledger keeps such snapshots for
// a bounded time (in-process: at most `max_kept`, each for `keep` after its
// last use and never longer than `max_age` in all), so that every page reads
// the same state, and lets an expired one go within a second of the next
// read or write of any kind (a kept snapshot holds back LevelDB's
// compaction).
//
// Thread-safety: implementations are thread-safe.

#ifndef CHEMLEDGER_JOURNAL_LEDGER_CLIENT_H_
#define CHEMLEDGER_JOURNAL_LEDGER_CLIENT_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "journal/journal.h"
#include "storage/store.h"

namespace chemledger::journal {

class LedgerClient {
 public:
  virtual ~LedgerClient() = default;

  // As Journal::Submit: the requests' signatures are verified by the caller
  // (services/registry/signers.h does it); one result per request, in order.
  virtual std::vector<absl::StatusOr<Receipt>> Submit(std::vector<Request> requests) = 0;

  // The latest committed log and state. Never waits for a write.
  virtual std::shared_ptr<const storage::Snapshot> Latest() = 0;

  // OK while the ledger accepts writes; the reason (Unavailable) once it is
  // read-only after a failed write, until the store is reopened. Health
  // checks report this.
  virtual absl::Status Writable() = 0;

  // Whether this ledger serves reads only (a read replica, docs/postgres.md):
  // every request submitted is refused (FailedPrecondition: send it to the
  // writer) and Writable says so.
  virtual bool ReadsOnly() { return false; }

  // OK while this ledger serves what it is for, which health checks report:
  // a writer while it accepts writes (Writable); a read replica while it
  // follows the writer's commits (Unavailable, saying why, once it has not
  // read the writer's head for a while).
  virtual absl::Status Healthy() { return Writable(); }

  // Keeps `snapshot` (from Latest or At) for later At calls.
  virtual void Keep(std::shared_ptr<const storage::Snapshot> snapshot) = 0;

  // The snapshot of log size `size`, if it is the latest or still kept (see
  // above); FailedPrecondition saying to start the read again otherwise,
  // OutOfRange beyond the latest size.
  virtual absl::StatusOr<std::shared_ptr<const storage::Snapshot>> At(uint64_t size) = 0;
};

struct SnapshotRetention {
  absl::Duration keep = absl::Minutes(2);      // after its last use
  absl::Duration max_age = absl::Minutes(10);  // after it was first kept
  size_t max_kept = 64;
};

// A client over `journal` in this process. The journal must outlive it.
std::unique_ptr<LedgerClient> NewInProcessLedgerClient(Journal* journal,
                                                       SnapshotRetention retention = {});

// A read replica's client (ReadsOnly) over `store`, a store another server
// writes to and this one follows (a read-only PostgreSQL store following
// the head): reads as above; Submit refuses every request, saying
// `writes_go_to` (where the writer is); Healthy is `healthy`. The store must
// outlive it.
std::unique_ptr<LedgerClient> NewReadReplicaLedgerClient(storage::Store* store,
                                                         SnapshotRetention retention,
                                                         std::string writes_go_to,
                                                         std::function<absl::Status()> healthy);

}  // namespace chemledger::journal

#endif  // CHEMLEDGER_JOURNAL_LEDGER_CLIENT_H_
