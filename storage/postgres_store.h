// The store (storage/store.h) on PostgreSQL 15, through libpq: the backend
// for a ledger that must outlive one machine (docs/postgres.md). LevelDB
// (storage/leveldb_log.h) stays the embedded default; both pass the same
// store suite (storage/store_conformance.h).
//
// What is where, in the database the connection string names (the server
// creates and migrates the schema itself, in numbered migrations recorded in
// chemledger_migrations):
//   entries(idx, data)                  the log's entries
//   tree_nodes(level, idx, hash)        the Merkle tree's stored nodes
//                                       (storage/merkle_tree.h; leaves at 0)
//   state_versions(key, version, value) every value each state key has had,
//                                       by the commit that wrote it (value
//                                       NULL: deleted)
//   store_head                          one row: the latest commit's version,
//                                       log size, root and applied size; the
//                                       writer's lease; and the newest commit
//                                       the writer acknowledged (below)
// A Commit is one transaction: its entries, nodes, state versions and the
// head row. A Snapshot is a commit's version and log size: its reads ask for
// the newest version of a key at or below its own, so they never wait for a
// commit in progress and see nothing of one (PostgreSQL's MVCC does the
// rest). Reads of recently written or read keys at the latest snapshots are
// answered from memory (a write-through cache of each key's newest version,
// coherent because this store is the one writer; a following read-only
// store forgets it whenever it publishes a new head). The durability of a
// commit is PostgreSQL's: with synchronous
// replication configured (synchronous_commit = on or remote_apply,
// synchronous_standby_names), an acknowledged commit is on a standby too.
//
// One writer: the writer's lease, in the head row. Open takes it when no
// live writer holds it (none did, or it released it, or its lease expired
// by the database's clock, or its writing connection is gone), which adds
// one to the lease's epoch; the store renews it every third of its length.
// Every commit names its epoch and writes nothing once another server has
// taken the lease (fencing: a writer that was paused past its lease and
// resumes cannot append), and the store is then read-only.
//
// What the writer acknowledged: a commit can show in the database before
// the writer acknowledges it (on an asynchronous standby that replayed it
// before the synchronous standby confirmed it; on the primary after the
// wait for the standby was cancelled), and such a commit is lost if the
// synchronous standby is then promoted. So the writer records in the head
// row the newest commit PostgreSQL confirmed to it whose state is complete:
// each commit records the one acknowledged before it, and when no commit
// follows within 50 ms the lease renewer records it; a writer taking the
// lease records the head it found (its own confirmed lease commit follows
// it). A following read-only store (a read replica) publishes that commit,
// never one beyond it. "Confirmed" means what PostgreSQL's settings make
// it: on a synchronous standby only with one configured
// (synchronous_standby_names, synchronous_commit on or remote_apply; see
// require_synchronous_standby). Not done yet:
// the versions no snapshot can read any more are kept (nothing prunes
// them), and Backup is left to PostgreSQL's own tools.
//
// Thread-safety: as store.h says. Reads use a pool of connections (at most
// `read_connections`), commits one connection of their own.

#ifndef CHEMLEDGER_STORAGE_POSTGRES_STORE_H_
#define CHEMLEDGER_STORAGE_POSTGRES_STORE_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "storage/store.h"

namespace chemledger::storage {

struct PostgresStoreOptions {
  // A libpq connection string ("host=127.0.0.1 port=5432 dbname=chemledger
  // user=chemledger"); the database must exist.
  std::string connection;
  // Most connections reads hold at once (more readers wait for one).
  int read_connections = 8;
  // How long the writer's lease lasts unless renewed; it is renewed every
  // third of it. Another server takes over this long after this one stops
  // renewing (at once when this one's connection is gone, as after a kill).
  absl::Duration lease = absl::Seconds(10);
  // How long Open waits for the lease while another writer holds it; a
  // standby server waits as long as it takes (absl::InfiniteDuration()).
  absl::Duration lease_wait = absl::Seconds(10);
  // Asked while Open waits for the lease; true ends the wait (Open returns
  // Cancelled): a standby server that is told to stop.
  std::function<bool()> give_up_waiting;
  // Who this writer is, as store_head.writer shows it (default host:pid).
  std::string writer_name;
  // Called once, on a background thread, when another server has taken the
  // lease; the store is read-only from then on. A server exits here so that
  // its supervisor starts it again as a standby.
  std::function<void()> on_lease_lost;
  // Called once, on a background thread, when a commit (or clearing the
  // state) failed, so that the store is read-only from then on, with why;
  // by then the lease is released (best effort: the database may be out of
  // reach, and then it lapses), so that a standby may take over at once. A
  // server exits here so that its supervisor starts it again: a read-only
  // writer that kept renewing its lease would keep every standby out and
  // take no writes until restarted by hand.
  std::function<void(const absl::Status&)> on_read_only;
  // Refuse a server that would acknowledge a commit before a synchronous
  // standby has it on disk: synchronous_standby_names must name one and
  // synchronous_commit be on or remote_apply.
  bool require_synchronous_standby = false;
  // Opens without the lease, beside the writer (for `chemledgerd check` and
  // other readers): nothing is migrated (a schema other than this
  // server's is refused) and nothing written (every write is
  // FailedPrecondition); without follow_head_every the snapshot is the head
  // as of Open.
  bool read_only = false;
  // With read_only: reads the head row again this often and publishes the
  // snapshot of each newer commit the writer acknowledged (above), so that
  // reads follow the writer (a read replica, which may connect to a
  // standby: its snapshots are acknowledged commits the standby has
  // replayed); it also starts at the acknowledged commit rather than the
  // head (before the writer recorded any: the empty log). Zero: the head as
  // of Open, for good. A new commit is published only when its log extends
  // the one published (checked
  // with a consistency proof from the database's own nodes), its state
  // reflects its whole log (not while the writer rebuilds the state), and
  // `follow_check` (when set) accepts its snapshot. A database whose log
  // does not extend the one published (a restored or a different one) is
  // not followed: from then on every read of the database fails with that
  // DataLoss, and the store follows nothing more.
  absl::Duration follow_head_every = absl::ZeroDuration();
  std::function<absl::Status(const Snapshot&)> follow_check;
};

// What a following read-only store (follow_head_every) knows of the head.
struct FollowStatus {
  // OK while it reads the head; the reason otherwise: Unavailable (the
  // database cannot be reached, the writer is rebuilding the state),
  // DataLoss for a log that does not extend the one published (for good).
  absl::Status last_read;
  absl::Time last_success;  // the last time the head was read
  uint64_t size = 0;        // the size of the latest snapshot published
  // How long ago the writer's lease lapsed, by the database's clock, as the
  // head last read says (zero while a writer holds a live lease; infinite
  // when none was ever taken or it was released). At a standby that stopped
  // replicating, it grows although the writer lives.
  absl::Duration lease_lapsed = absl::ZeroDuration();
  // Whether the database read is a standby (in recovery), and there how
  // long ago the primary committed the newest transaction it has replayed
  // (pg_last_xact_replay_timestamp, against the standby's clock; nullopt
  // until it replays one after it starts). The writer commits at least a
  // lease renewal every third of its lease, so a standby that keeps up
  // shows up to that much even when no writes come.
  bool at_standby = false;
  std::optional<absl::Duration> replay_lag;
};
// The status of `store` when it is a following read-only PostgreSQL store;
// nullopt for any other store.
std::optional<FollowStatus> PostgresFollowStatus(const Store& store);

// Connects, checks the server's settings, creates the schema (up to the
// lease's), takes the writer's lease, reads the head and migrates the schema
// the rest of the way (under the lease: a server waiting for it changes
// nothing under a live writer of an older version). Unavailable when the
// database cannot be reached; FailedPrecondition for a schema newer than
// this server's, for a server that lets PostgreSQL acknowledge a commit
// before it is on disk (fsync or synchronous_commit off; with
// require_synchronous_standby, before a standby has it), and when another
// writer still holds the lease after `lease_wait`.
absl::StatusOr<std::unique_ptr<Store>> OpenPostgresStore(const PostgresStoreOptions& options);

// The schema version this server creates and reads.
inline constexpr int kPostgresSchemaVersion = 3;

}  // namespace chemledger::storage

#endif  // CHEMLEDGER_STORAGE_POSTGRES_STORE_H_
