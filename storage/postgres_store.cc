#include "storage/postgres_store.h"

#include <endian.h>
#include <postgresql/libpq-fe.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <iostream>
#include <map>
#include <optional>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "crypto/merkle.h"
#include "storage/merkle_tree.h"

namespace chemledger::storage {
namespace {

// The schema, by migration: migration N takes a database at version N-1 to
// N. Append new ones; never change one that has shipped.
const char* const kMigrations[] = {
    // 1: the log, its tree, the versioned state and the head.
    "CREATE TABLE entries (idx bigint PRIMARY KEY, data bytea NOT NULL);"
    "CREATE TABLE tree_nodes (level smallint NOT NULL, idx bigint NOT NULL,"
    "  hash bytea NOT NULL, PRIMARY KEY (level, idx));"
    "CREATE TABLE state_versions (key bytea NOT NULL, version bigint NOT NULL,"
    "  value bytea, PRIMARY KEY (key, version));"
    "CREATE TABLE store_head (one boolean PRIMARY KEY DEFAULT true CHECK (one),"
    "  version bigint NOT NULL, size bigint NOT NULL, root bytea NOT NULL,"
    "  applied_size bigint);",
    // 2: the writer's lease. writer_epoch grows by one at each takeover, and
    // every commit names the epoch it writes under (fencing); writer,
    // writer_pid (its writing connection's backend) and lease_expires (by
    // the database's clock) say who holds it and until when.
    "ALTER TABLE store_head ADD COLUMN writer_epoch bigint NOT NULL DEFAULT 0,"
    "  ADD COLUMN writer text, ADD COLUMN writer_pid int, ADD COLUMN lease_expires timestamptz;",
    // 3: how far the writer has acknowledged: the newest commit whose state
    // is complete that PostgreSQL confirmed to the writer (with a
    // synchronous standby: that the standby has it, and so every commit
    // before it). Read replicas publish no further. NULL: none recorded.
    "ALTER TABLE store_head ADD COLUMN acknowledged_version bigint,"
    "  ADD COLUMN acknowledged_size bigint, ADD COLUMN acknowledged_root bytea;",
};
static_assert(sizeof(kMigrations) / sizeof(kMigrations[0]) == kPostgresSchemaVersion);
// The schema whose head row holds the writer's lease: a server migrates up
// to it before it takes the lease, and further only once it holds it.
constexpr int64_t kLeaseSchemaVersion = 2;

struct ConnDeleter {
  void operator()(PGconn* c) const { PQfinish(c); }
};
using Connection = std::unique_ptr<PGconn, ConnDeleter>;

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using Result = std::unique_ptr<PGresult, ResultDeleter>;

absl::Status Failed(PGconn* c, absl::string_view what) {
  std::string message = PQerrorMessage(c);
  while (!message.empty() && message.back() == '\n') message.pop_back();
  if (PQstatus(c) != CONNECTION_OK) {
    return absl::UnavailableError(absl::StrCat("postgres: ", what, ": ", message));
  }
  return absl::InternalError(absl::StrCat("postgres: ", what, ": ", message));
}

// TCP keepalives and a timeout for unacknowledged data, so that a
// partitioned database fails calls within about a minute instead of the
// kernel's many; a connection string may set its own (later keywords win).
constexpr char kConnectionDefaults[] =
    "keepalives=1 keepalives_idle=30 keepalives_interval=10 keepalives_count=3 "
    "tcp_user_timeout=60000 ";

absl::StatusOr<Connection> Connect(const std::string& connection) {
  const bool uri = absl::StartsWith(connection, "postgres://") ||
                   absl::StartsWith(connection, "postgresql://");
  const std::string with_defaults = uri ? connection : kConnectionDefaults + connection;
  Connection c(PQconnectdb(with_defaults.c_str()));
  if (c == nullptr || PQstatus(c.get()) != CONNECTION_OK) {
    return absl::UnavailableError(absl::StrCat(
        "postgres: cannot connect (", c ? PQerrorMessage(c.get()) : "out of memory", ")"));
  }
  // Notices ("relation already exists, skipping") are not errors; not on
  // stderr.
  PQsetNoticeProcessor(c.get(), [](void*, const char*) {}, nullptr);
  return c;
}

// A command without parameters or rows.
absl::Status Exec(PGconn* c, const char* sql) {
  Result r(PQexec(c, sql));
  const ExecStatusType status = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) return Failed(c, sql);
  return absl::OkStatus();
}

// Query parameters in binary form, built by value.
class Params {
 public:
  Params& Int8(int64_t v) {
    uint64_t be = htobe64(static_cast<uint64_t>(v));
    values_.emplace_back(std::string(reinterpret_cast<const char*>(&be), sizeof(be)));
    return *this;
  }
  Params& Int2(int16_t v) {
    uint16_t be = htobe16(static_cast<uint16_t>(v));
    values_.emplace_back(std::string(reinterpret_cast<const char*>(&be), sizeof(be)));
    return *this;
  }
  Params& Bytes(absl::string_view v) {
    values_.emplace_back(std::string(v));
    return *this;
  }
  Params& Null() {
    values_.emplace_back(std::nullopt);
    return *this;
  }

  // Runs `sql`, or when `prepared` is given the statement of that name
  // (prepared from `sql` first if this connection has not prepared it yet).
  Result Run(PGconn* c, const char* sql, const char* prepared) const {
    std::vector<const char*> values;
    std::vector<int> lengths, formats;
    for (const std::optional<std::string>& v : values_) {
      values.push_back(v ? v->data() : nullptr);
      lengths.push_back(v ? static_cast<int>(v->size()) : 0);
      formats.push_back(1);
    }
    const int n = static_cast<int>(values.size());
    if (prepared == nullptr) {
      return Result(PQexecParams(c, sql, n, nullptr, values.data(), lengths.data(),
                                 formats.data(), /*resultFormat=*/1));
    }
    Result r(PQexecPrepared(c, prepared, n, values.data(), lengths.data(), formats.data(), 1));
    const char* state = r ? PQresultErrorField(r.get(), PG_DIAG_SQLSTATE) : nullptr;
    // 26000: no prepared statement of that name on this connection yet.
    if (state == nullptr || std::string_view(state) != "26000") return r;
    Result made(PQprepare(c, prepared, sql, n, nullptr));
    if (!made || PQresultStatus(made.get()) != PGRES_COMMAND_OK) return made;
    return Result(PQexecPrepared(c, prepared, n, values.data(), lengths.data(), formats.data(), 1));
  }

 private:
  std::deque<std::optional<std::string>> values_;
};

// The name a statement run often is prepared under on each connection, or
// null for one run as it is (defined with the statements, below).
const char* PreparedName(const char* sql);

absl::StatusOr<Result> Query(PGconn* c, const char* sql, const Params& params) {
  // A statement is prepared outside transactions only: a first use fails
  // before it is prepared, and inside a transaction that failure would
  // abort it.
  const char* prepared =
      PQtransactionStatus(c) == PQTRANS_IDLE ? PreparedName(sql) : nullptr;
  Result r = params.Run(c, sql, prepared);
  const ExecStatusType status = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    // A statement run often is named by its name (the commit's text is long).
    const char* name = PreparedName(sql);
    return Failed(c, name != nullptr ? name : sql);
  }
  return r;
}

int64_t Int8At(const PGresult* r, int row, int column) {
  uint64_t be = 0;
  std::memcpy(&be, PQgetvalue(r, row, column), sizeof(be));
  return static_cast<int64_t>(be64toh(be));
}

absl::string_view BytesAt(const PGresult* r, int row, int column) {
  return absl::string_view(PQgetvalue(r, row, column), PQgetlength(r, row, column));
}

// Connections for reads: made as needed, at most `max`, reused.
class ConnectionPool {
 public:
  ConnectionPool(std::string connection, int max) : connection_(std::move(connection)), max_(max) {}

  class Lease {
   public:
    Lease(ConnectionPool* pool, Connection c) : pool_(pool), c_(std::move(c)) {}
    Lease(Lease&&) = default;
    ~Lease() {
      if (c_) pool_->Return(std::move(c_));
    }
    PGconn* get() const { return c_.get(); }

   private:
    ConnectionPool* pool_;
    Connection c_;
  };

  // Every Acquire fails with `why` from now on.
  void Poison(absl::Status why) {
    absl::MutexLock lock(&mu_);
    poisoned_ = std::move(why);
  }

  absl::StatusOr<Lease> Acquire() {
    {
      absl::MutexLock lock(&mu_);
      if (!poisoned_.ok()) return poisoned_;
      mu_.Await(absl::Condition(this, &ConnectionPool::Available));
      if (!idle_.empty()) {
        Connection c = std::move(idle_.back());
        idle_.pop_back();
        return Lease(this, std::move(c));
      }
      ++open_;
    }
    absl::StatusOr<Connection> c = Connect(connection_);
    if (!c.ok()) {
      absl::MutexLock lock(&mu_);
      --open_;
      return c.status();
    }
    return Lease(this, *std::move(c));
  }

 private:
  bool Available() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return !idle_.empty() || open_ < max_;
  }
  void Return(Connection c) {
    absl::MutexLock lock(&mu_);
    if (PQstatus(c.get()) != CONNECTION_OK || PQtransactionStatus(c.get()) != PQTRANS_IDLE) {
      --open_;  // broken: dropped, a new one is made when needed
      return;
    }
    idle_.push_back(std::move(c));
  }

  const std::string connection_;
  const int max_;
  absl::Mutex mu_;
  std::vector<Connection> idle_ ABSL_GUARDED_BY(mu_);
  int open_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status poisoned_ ABSL_GUARDED_BY(mu_);
};

// The advisory lock a server holds while it migrates the schema: "CHEMLEDG".
constexpr int64_t kMigrationLock = 0x4348454d4c454447;

constexpr char kReadNode[] = "SELECT hash FROM tree_nodes WHERE level = $1 AND idx = $2";
constexpr char kReadEntry[] = "SELECT data FROM entries WHERE idx = $1";
constexpr char kReadState[] =
    "SELECT version, value FROM state_versions WHERE key = $1 AND version <= $2 "
    "ORDER BY version DESC LIMIT 1";
// A page of a scan: the newest version of each key at or below the
// snapshot's, deleted ones included (the caller skips them).
constexpr char kScanFrom[] =
    "SELECT DISTINCT ON (key) key, value FROM state_versions "
    "WHERE key >= $1 AND version <= $2 ORDER BY key, version DESC LIMIT $3";
constexpr char kScanFromTo[] =
    "SELECT DISTINCT ON (key) key, value FROM state_versions "
    "WHERE key >= $1 AND key < $4 AND version <= $2 ORDER BY key, version DESC LIMIT $3";
constexpr char kScanAfter[] =
    "SELECT DISTINCT ON (key) key, value FROM state_versions "
    "WHERE key > $1 AND version <= $2 ORDER BY key, version DESC LIMIT $3";
constexpr char kScanAfterTo[] =
    "SELECT DISTINCT ON (key) key, value FROM state_versions "
    "WHERE key > $1 AND key < $4 AND version <= $2 ORDER BY key, version DESC LIMIT $3";
constexpr int64_t kScanPage = 1000;
// The newest version at or below a snapshot's of each of many keys.
constexpr char kReadStates[] =
    "SELECT DISTINCT ON (key) key, version, value FROM state_versions "
    "WHERE key = ANY($1::bytea[]) AND version <= $2::int8 ORDER BY key, version DESC";
// A commit: the head row moved from the version this store last wrote
// ($4), under the lease epoch it holds ($13), to the new one, and the entries, tree nodes and state
// versions inserted only when it was (arrays, one element per row). One statement, so one
// transaction and one round trip; its one row counts the head rows updated (0: another writer took
// the lease or moved the head, and nothing was written). It also records the newest commit
// acknowledged before it ($14 to $16; version -1: none), unless one as new is recorded.
constexpr char kCommit[] =
    "WITH head AS (UPDATE store_head SET version = $1::int8, size = $2::int8, root = $3, "
    "    applied_size = $5::int8, "
    "    acknowledged_size = CASE WHEN coalesce(acknowledged_version, -1) < $14::int8 "
    "      THEN $15::int8 ELSE acknowledged_size END, "
    "    acknowledged_root = CASE WHEN coalesce(acknowledged_version, -1) < $14::int8 "
    "      THEN $16 ELSE acknowledged_root END, "
    "    acknowledged_version = CASE WHEN coalesce(acknowledged_version, -1) < $14::int8 "
    "      THEN $14::int8 ELSE acknowledged_version END "
    "    WHERE version = $4::int8 AND writer_epoch = $13::int8 "
    "    RETURNING 1), "
    "  e AS (INSERT INTO entries (idx, data) "
    "    SELECT * FROM unnest($6::int8[], $7::bytea[]) WHERE EXISTS (SELECT FROM head)), "
    "  n AS (INSERT INTO tree_nodes (level, idx, hash) "
    "    SELECT * FROM unnest($8::int2[], $9::int8[], $10::bytea[]) "
    "    WHERE EXISTS (SELECT FROM head)), "
    "  s AS (INSERT INTO state_versions (key, version, value) "
    "    SELECT k, $1::int8, v FROM unnest($11::bytea[], $12::bytea[]) AS t(k, v) "
    "    WHERE EXISTS (SELECT FROM head)) "
    "SELECT count(*)::int8 FROM head";

// Takes the lease when no writer holds it: none ever did, or it released
// it, or its lease expired, or its writing connection is gone. Returns the
// new epoch and the head as of taking it (the row lock orders this after
// any commit in progress).
constexpr char kTakeLease[] =
    "UPDATE store_head SET writer_epoch = writer_epoch + 1, writer = $1, "
    "  writer_pid = pg_backend_pid(), "
    "  lease_expires = clock_timestamp() + $2::int8 * interval '1 millisecond' "
    "WHERE writer IS NULL OR lease_expires < clock_timestamp() "
    "  OR NOT EXISTS (SELECT FROM pg_stat_activity WHERE pid = store_head.writer_pid) "
    "RETURNING writer_epoch, version, size, root, applied_size";
// Records an acknowledged commit ($2 to $4) under the lease epoch $1,
// unless one as new is recorded, and without waiting: while another
// transaction holds the head row (a commit, a renewal, a server taking the
// lease) it records nothing. Its one row is 1 when it looked at the head
// row (so that it records this commit or a newer one now), 0 when it did
// not (held by another, or the lease is another's): try again.
constexpr char kRecordAcknowledged[] =
    "WITH free AS (SELECT one FROM store_head WHERE writer_epoch = $1::int8 "
    "    FOR UPDATE SKIP LOCKED), "
    "  recorded AS (UPDATE store_head SET acknowledged_version = $2::int8, "
    "    acknowledged_size = $3::int8, acknowledged_root = $4 FROM free "
    "    WHERE store_head.one = free.one AND coalesce(acknowledged_version, -1) < $2::int8) "
    "SELECT count(*)::int8 FROM free";
// The commit the writer acknowledged last as a head's columns (version,
// size, root, applied size), for read replicas; before any is recorded, the
// empty log ($1: its root).
constexpr char kAcknowledgedHead[] =
    "coalesce(acknowledged_version, 0), coalesce(acknowledged_size, 0), "
    "coalesce(acknowledged_root, $1), coalesce(acknowledged_size, 0)";
constexpr char kRenewLease[] =
    "UPDATE store_head SET lease_expires = clock_timestamp() + $2::int8 * interval '1 millisecond' "
    "WHERE writer_epoch = $1::int8 RETURNING 1";
constexpr char kReleaseLease[] =
    "UPDATE store_head SET writer = NULL, writer_pid = NULL, lease_expires = NULL "
    "WHERE writer_epoch = $1::int8";
constexpr char kLeaseHolder[] =
    "SELECT coalesce(writer, ''), "
    "  coalesce(extract(epoch FROM lease_expires - clock_timestamp()), 0)::float8::text "
    "FROM store_head";

const char* PreparedName(const char* sql) {
  static constexpr std::pair<const char*, const char*> kPrepared[] = {
      {kReadNode, "read_node"},
      {kReadEntry, "read_entry"},
      {kReadState, "read_state"},
      {kScanFrom, "scan_from"},
      {kScanFromTo, "scan_from_to"},
      {kScanAfter, "scan_after"},
      {kScanAfterTo, "scan_after_to"},
      {kCommit, "commit"},
      {kReadStates, "read_states"},
      {kRenewLease, "renew_lease"},
      {kRecordAcknowledged, "record_acknowledged"}};
  for (const auto& [statement, name] : kPrepared) {
    if (statement == sql) return name;
  }
  return nullptr;
}

// A one-dimensional array parameter in PostgreSQL's binary form.
class ArrayParam {
 public:
  // Element types: int2, int8, bytea.
  static constexpr uint32_t kInt2 = 21, kInt8 = 20, kBytea = 17;
  explicit ArrayParam(uint32_t element_type) : type_(element_type) {}

  ArrayParam& Int8(int64_t v) {
    Put32(8);
    uint64_t be = htobe64(static_cast<uint64_t>(v));
    elements_.append(reinterpret_cast<const char*>(&be), 8);
    ++count_;
    return *this;
  }
  ArrayParam& Int2(int16_t v) {
    Put32(2);
    uint16_t be = htobe16(static_cast<uint16_t>(v));
    elements_.append(reinterpret_cast<const char*>(&be), 2);
    ++count_;
    return *this;
  }
  ArrayParam& Bytes(const std::optional<absl::string_view>& v) {
    if (!v) {
      Put32(-1);
      has_null_ = true;
    } else {
      Put32(static_cast<int32_t>(v->size()));
      elements_.append(v->data(), v->size());
    }
    ++count_;
    return *this;
  }

  // The array: dimensions, whether it holds a NULL, element type, length
  // and lower bound, then the elements (an empty array has no dimension).
  std::string Encode() const {
    std::string out;
    const auto put = [&out](uint32_t v) {
      uint32_t be = htobe32(v);
      out.append(reinterpret_cast<const char*>(&be), 4);
    };
    put(count_ == 0 ? 0 : 1);
    put(has_null_ ? 1 : 0);
    put(type_);
    if (count_ > 0) {
      put(static_cast<uint32_t>(count_));
      put(1);
    }
    return out + elements_;
  }

 private:
  void Put32(int32_t v) {
    uint32_t be = htobe32(static_cast<uint32_t>(v));
    elements_.append(reinterpret_cast<const char*>(&be), 4);
  }
  const uint32_t type_;
  std::string elements_;
  size_t count_ = 0;
  bool has_null_ = false;
};

absl::StatusOr<Sha256Digest> ReadNode(PGconn* c, NodeId id) {
  absl::StatusOr<Result> r =
      Query(c, kReadNode, Params().Int2(static_cast<int16_t>(id.level)).Int8(id.index));
  if (!r.ok()) return r.status();
  if (PQntuples(r->get()) != 1) {
    return absl::DataLossError(absl::StrCat("postgres: tree node (level ", id.level, ", index ",
                                            id.index, ") is missing"));
  }
  absl::StatusOr<Sha256Digest> hash = Sha256Digest::FromBytes(BytesAt(r->get(), 0, 0));
  if (!hash.ok()) {
    return absl::DataLossError(absl::StrCat("postgres: tree node (level ", id.level, ", index ",
                                            id.index, ") is not a SHA-256 hash"));
  }
  return hash;
}

absl::Status OutOfSnapshot(uint64_t what, uint64_t size, absl::string_view name) {
  return absl::OutOfRangeError(
      absl::StrCat(name, " ", what, " is beyond the snapshot's log size ", size));
}

// The newest version of recently written and read state keys, so that most
// reads of the latest snapshots need no round trip to the database. Coherent
// because this store is the database's one writer: every commit puts its
// writes here (Committed) before its snapshot is published, and a value read
// from the database at a snapshot is kept (Learned) only when no later
// commit wrote the key: such a commit's entry is here, unless the cache was
// emptied since the snapshot, and then nothing is learned from it. An entry
// answers a snapshot at or after its version; an older snapshot asks the
// database. Emptied when it holds more than `max_keys`. In a following
// read-only store (another server writes) it is emptied (Cleared) before
// each newer head is read at or published, so that what it holds is the
// newest value at or below that head: true for the older snapshots too.
//
// It also keeps the live rows of small prefix scans (a scan of all keys
// starting with a prefix, of at most kMaxScanRows rows), learned only at
// the latest version (so no commit it does not know of came between), and
// dropped by the first commit that writes a key under the prefix.
//
// Thread-safety: thread-safe.
class LatestStateCache {
 public:
  explicit LatestStateCache(size_t max_keys) : max_keys_(max_keys) {}

  // The value of `key` at snapshot `version` (nullopt inside: absent), when
  // known here.
  std::optional<std::optional<std::string>> Find(absl::string_view key, int64_t version) {
    absl::MutexLock lock(&mu_);
    auto it = map_.find(key);
    if (it == map_.end() || it->second.version > version) {
      ++misses_;
      return std::nullopt;
    }
    ++hits_;
    return it->second.value;
  }

  // Whether the value of `key` at snapshot `version` is known here (not
  // counted as a lookup).
  bool Knows(absl::string_view key, int64_t version) const {
    absl::MutexLock lock(&mu_);
    auto it = map_.find(key);
    return it != map_.end() && it->second.version <= version;
  }

  // Commit `version` wrote `writes` (none: entries only).
  void Committed(int64_t version, const StateWrites* writes) {
    absl::MutexLock lock(&mu_);
    latest_ = version;
    if (writes == nullptr) return;
    if (map_.size() + writes->size() > max_keys_) Empty();
    for (const auto& [key, value] : writes->writes()) {
      map_.insert_or_assign(key, Entry{version, value});
      if (!prefix_lengths_.empty()) Wrote(key);
    }
  }

  // Every key deleted by commit `version`.
  void Cleared(int64_t version) {
    absl::MutexLock lock(&mu_);
    latest_ = version;
    Empty();
  }

  // A read at snapshot `read_version` found `value` written by commit
  // `written` (0 and nullopt: never written).
  void Learned(absl::string_view key, int64_t read_version, int64_t written,
               std::optional<std::string> value) {
    absl::MutexLock lock(&mu_);
    // A later commit that wrote the key left its entry here, unless the
    // cache was emptied after the read's snapshot.
    if (read_version < emptied_at_ || map_.contains(key)) return;
    if (map_.size() >= max_keys_) {
      Empty();
      return;
    }
    map_.emplace(std::string(key), Entry{written, std::move(value)});
  }

  static constexpr size_t kMaxScanRows = 64;
  static constexpr size_t kMaxScans = 4096;
  using Rows = std::vector<std::pair<std::string, std::string>>;

  // The live rows under `prefix` at snapshot `version`, when known here.
  std::optional<Rows> FindScan(absl::string_view prefix, int64_t version) {
    absl::MutexLock lock(&mu_);
    auto it = scans_.find(prefix);
    if (it == scans_.end() || it->second.version > version) {
      ++misses_;
      return std::nullopt;
    }
    ++hits_;
    return it->second.rows;
  }

  // A scan of `prefix` at snapshot `read_version` found `rows`.
  void LearnedScan(absl::string_view prefix, int64_t read_version, Rows rows) {
    absl::MutexLock lock(&mu_);
    if (read_version != latest_ || rows.size() > kMaxScanRows) return;
    if (scans_.size() >= kMaxScans) EmptyScans();
    if (scans_.emplace(std::string(prefix), Scan{read_version, std::move(rows)}).second) {
      ++prefix_lengths_[prefix.size()];
    }
  }

  std::pair<uint64_t, uint64_t> counts() const {
    absl::MutexLock lock(&mu_);
    return {hits_, misses_};
  }

 private:
  struct Entry {
    int64_t version;
    std::optional<std::string> value;
  };
  struct Scan {
    int64_t version;
    Rows rows;
  };
  void Empty() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    map_.clear();
    emptied_at_ = latest_;
    EmptyScans();
  }
  void EmptyScans() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    scans_.clear();
    prefix_lengths_.clear();
  }
  // Drops the scans of every prefix of `key`.
  void Wrote(absl::string_view key) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    for (auto it = prefix_lengths_.begin(); it != prefix_lengths_.end();) {
      const size_t length = it->first;
      if (length <= key.size() && scans_.erase(key.substr(0, length)) == 1 && --it->second == 0) {
        prefix_lengths_.erase(it++);
      } else {
        ++it;
      }
    }
  }
  const size_t max_keys_;
  mutable absl::Mutex mu_;
  int64_t latest_ ABSL_GUARDED_BY(mu_) = 0;
  // The latest version when the map was last emptied: what was learned at
  // an older snapshot may have been overwritten by a commit whose entry is
  // gone.
  int64_t emptied_at_ ABSL_GUARDED_BY(mu_) = 0;
  absl::flat_hash_map<std::string, Entry> map_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, Scan> scans_ ABSL_GUARDED_BY(mu_);
  // How many of scans_' prefixes have each length.
  std::map<size_t, size_t> prefix_lengths_ ABSL_GUARDED_BY(mu_);
  uint64_t hits_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t misses_ ABSL_GUARDED_BY(mu_) = 0;
};

// The leaf hashes of the most recent entries (the chain of a code links to
// its previous event's), so that reading one needs no round trip. Leaf
// hashes never change; only committed entries' are added.
//
// Thread-safety: thread-safe.
class RecentLeafHashes {
 public:
  explicit RecentLeafHashes(size_t capacity) : capacity_(capacity) {}

  // The hashes of the entries from `first` on, just committed.
  void Committed(uint64_t first, const std::vector<Sha256Digest>& hashes) {
    absl::MutexLock lock(&mu_);
    if (first != first_ + hashes_.size()) {  // not contiguous: start again
      hashes_.clear();
      first_ = first;
    }
    for (const Sha256Digest& h : hashes) hashes_.push_back(h);
    while (hashes_.size() > capacity_) {
      hashes_.pop_front();
      ++first_;
    }
  }

  std::optional<Sha256Digest> Find(uint64_t index) const {
    absl::MutexLock lock(&mu_);
    if (index < first_ || index - first_ >= hashes_.size()) return std::nullopt;
    return hashes_[index - first_];
  }

 private:
  const size_t capacity_;
  mutable absl::Mutex mu_;
  uint64_t first_ ABSL_GUARDED_BY(mu_) = 0;
  std::deque<Sha256Digest> hashes_ ABSL_GUARDED_BY(mu_);
};

class PostgresSnapshot final : public Snapshot {
 public:
  PostgresSnapshot(ConnectionPool* pool, LatestStateCache* cache, const RecentLeafHashes* leaves,
                   int64_t version, uint64_t size, const Sha256Digest& root)
      : pool_(pool), cache_(cache), leaves_(leaves), version_(version), size_(size), root_(root) {}

  uint64_t size() const override { return size_; }
  const Sha256Digest& root() const override { return root_; }

  absl::StatusOr<std::string> Entry(uint64_t index) const override {
    if (index >= size_) return OutOfSnapshot(index, size_, "entry index");
    absl::StatusOr<ConnectionPool::Lease> c = pool_->Acquire();
    if (!c.ok()) return c.status();
    absl::StatusOr<Result> r = Query(c->get(), kReadEntry, Params().Int8(index));
    if (!r.ok()) return r.status();
    if (PQntuples(r->get()) != 1) {
      return absl::DataLossError(absl::StrCat("postgres: entry ", index, " is missing"));
    }
    return std::string(BytesAt(r->get(), 0, 0));
  }
  absl::StatusOr<Sha256Digest> LeafHash(uint64_t index) const override {
    if (index >= size_) return OutOfSnapshot(index, size_, "entry index");
    if (std::optional<Sha256Digest> recent = leaves_->Find(index)) return *recent;
    return WithNodes([&](const NodeReader& read) { return read(NodeId{0, index}); });
  }
  absl::StatusOr<Sha256Digest> Root(uint64_t tree_size) const override {
    if (tree_size > size_) return OutOfSnapshot(tree_size, size_, "tree size");
    if (tree_size == size_) return root_;
    return WithNodes([&](const NodeReader& read) { return RootAt(tree_size, read); });
  }
  absl::StatusOr<std::vector<Sha256Digest>> InclusionProof(uint64_t index,
                                                           uint64_t tree_size) const override {
    if (tree_size > size_) return OutOfSnapshot(tree_size, size_, "tree size");
    return WithNodes(
        [&](const NodeReader& read) { return InclusionProofAt(index, tree_size, read); });
  }
  absl::StatusOr<std::vector<std::vector<Sha256Digest>>> InclusionProofs(
      const std::vector<uint64_t>& indexes, uint64_t tree_size) const override {
    if (tree_size > size_) return OutOfSnapshot(tree_size, size_, "tree size");
    return WithNodes(
        [&](const NodeReader& read) { return InclusionProofsAt(indexes, tree_size, read); });
  }
  absl::StatusOr<std::vector<Sha256Digest>> ConsistencyProof(uint64_t old_size,
                                                             uint64_t new_size) const override {
    if (new_size > size_) return OutOfSnapshot(new_size, size_, "tree size");
    return WithNodes(
        [&](const NodeReader& read) { return ConsistencyProofAt(old_size, new_size, read); });
  }

  absl::StatusOr<std::optional<std::string>> Get(absl::string_view key) const override {
    if (std::optional<std::optional<std::string>> cached = cache_->Find(key, version_)) {
      return *std::move(cached);
    }
    absl::StatusOr<ConnectionPool::Lease> c = pool_->Acquire();
    if (!c.ok()) return c.status();
    absl::StatusOr<Result> r = Query(c->get(), kReadState, Params().Bytes(key).Int8(version_));
    if (!r.ok()) return r.status();
    std::optional<std::string> value;
    int64_t written = 0;
    if (PQntuples(r->get()) == 1) {
      written = Int8At(r->get(), 0, 0);
      if (!PQgetisnull(r->get(), 0, 1)) value = std::string(BytesAt(r->get(), 0, 1));
    }
    cache_->Learned(key, version_, written, value);
    return value;
  }

  bool Prefetches() const override { return true; }

  // The keys not known to the cache, read in one statement and learned.
  void Prefetch(absl::Span<const std::string> keys) const override {
    ArrayParam wanted(ArrayParam::kBytea);
    std::vector<absl::string_view> asked;
    for (const std::string& key : keys) {
      if (cache_->Knows(key, version_)) continue;
      wanted.Bytes(absl::string_view(key));
      asked.push_back(key);
    }
    if (asked.empty()) return;
    absl::StatusOr<ConnectionPool::Lease> c = pool_->Acquire();
    if (!c.ok()) return;  // a hint: the reads will ask again
    absl::StatusOr<Result> r =
        Query(c->get(), kReadStates, Params().Bytes(wanted.Encode()).Int8(version_));
    if (!r.ok()) return;
    absl::flat_hash_map<absl::string_view, int> found;  // key -> row
    for (int i = 0; i < PQntuples(r->get()); ++i) found.emplace(BytesAt(r->get(), i, 0), i);
    for (absl::string_view key : asked) {
      auto it = found.find(key);
      if (it == found.end()) {
        cache_->Learned(key, version_, 0, std::nullopt);
        continue;
      }
      const int row = it->second;
      std::optional<std::string> value;
      if (!PQgetisnull(r->get(), row, 2)) value = std::string(BytesAt(r->get(), row, 2));
      cache_->Learned(key, version_, Int8At(r->get(), row, 1), std::move(value));
    }
  }

  absl::Status Scan(absl::string_view begin, absl::string_view end,
                    const ScanVisitor& visit) const override {
    // A scan of a whole prefix may be answered, or learned, by the cache.
    const bool prefix_scan = !begin.empty() && !end.empty() && end == PrefixEnd(begin);
    if (prefix_scan) {
      if (std::optional<LatestStateCache::Rows> rows = cache_->FindScan(begin, version_)) {
        for (const auto& [key, value] : *rows) {
          if (!visit(key, value)) break;
        }
        return absl::OkStatus();
      }
    }
    std::optional<LatestStateCache::Rows> learned;
    if (prefix_scan) learned.emplace();
    std::string from(begin);
    bool first = true;
    while (true) {
      Params params;
      params.Bytes(from).Int8(version_).Int8(kScanPage);
      if (!end.empty()) params.Bytes(end);
      const char* sql = first ? (end.empty() ? kScanFrom : kScanFromTo)
                              : (end.empty() ? kScanAfter : kScanAfterTo);
      absl::StatusOr<Result> r = absl::UnknownError("not read");
      {
        // The connection goes back before the visitor runs: visitors read
        // too (a Get for each key they visit), and holding it while they
        // do would let enough concurrent scans take every connection.
        absl::StatusOr<ConnectionPool::Lease> c = pool_->Acquire();
        if (!c.ok()) return c.status();
        r = Query(c->get(), sql, params);
      }
      if (!r.ok()) return r.status();
      const int rows = PQntuples(r->get());
      for (int i = 0; i < rows; ++i) {
        if (PQgetisnull(r->get(), i, 1)) continue;  // deleted at this version
        const absl::string_view key = BytesAt(r->get(), i, 0), value = BytesAt(r->get(), i, 1);
        if (learned) {
          if (learned->size() < LatestStateCache::kMaxScanRows) {
            learned->emplace_back(key, value);
          } else {
            learned.reset();
          }
        }
        if (!visit(key, value)) return absl::OkStatus();
      }
      if (rows < kScanPage) {
        // Every row under the prefix was read.
        if (learned) cache_->LearnedScan(begin, version_, *std::move(learned));
        return absl::OkStatus();
      }
      from = std::string(BytesAt(r->get(), rows - 1, 0));
      first = false;
    }
  }

 private:
  template <typename F>
  auto WithNodes(F&& f) const -> decltype(f(std::declval<const NodeReader&>())) {
    absl::StatusOr<ConnectionPool::Lease> c = pool_->Acquire();
    if (!c.ok()) return c.status();
    PGconn* const conn = c->get();
    const NodeReader read = [conn](NodeId id) { return ReadNode(conn, id); };
    return f(read);
  }

  ConnectionPool* const pool_;
  LatestStateCache* const cache_;
  const RecentLeafHashes* const leaves_;
  const int64_t version_;
  const uint64_t size_;
  const Sha256Digest root_;
};

class PostgresStore final : public Store {
 public:
  PostgresStore(const PostgresStoreOptions& options, Connection writer)
      : options_(options),
        reads_(options.connection, std::max(1, options.read_connections)),
        writer_(std::move(writer)) {}

  ~PostgresStore() override {
    {
      absl::MutexLock lock(&lease_mu_);
      stopping_ = true;
    }
    if (renewer_.joinable()) renewer_.join();
    if (follower_.joinable()) follower_.join();
    // Released, so that the next writer need not wait for it to expire.
    absl::MutexLock lock(&mu_);
    if (epoch_ > 0 && write_error_.ok()) {
      // Not held up by a synchronous standby that is down (see RenewLease).
      (void)Exec(writer_.get(), "SET synchronous_commit = local");
      // What it acknowledged last, for the read replicas (true whether or
      // not this write reaches a standby).
      if (std::optional<AcknowledgedHead> last = UnrecordedAcknowledged()) {
        (void)Query(writer_.get(), kRecordAcknowledged, RecordAcknowledgedParams(epoch_, *last));
      }
      (void)Query(writer_.get(), kReleaseLease, Params().Int8(epoch_));
    }
  }

  // Checks the server's settings, creates or migrates the schema, takes the
  // writer's lease and reads the head.
  absl::Status Start() {
    absl::MutexLock lock(&mu_);
    PGconn* c = writer_.get();
    if (options_.read_only) return StartReadOnly(c);
    if (absl::Status s = CheckSettings(c); !s.ok()) return s;
    // Up to the schema that holds the lease (migrations 1 and 2) now; the
    // rest under the lease, so that a server of a newer version waiting
    // for it (a standby) changes nothing under a live writer of an older one.
    if (absl::Status s = Migrate(c, kLeaseSchemaVersion); !s.ok()) return s;
    // A warning on this connection during a commit makes its outcome unknown
    // (Commit); other notices are ignored, as on every connection.
    PQsetNoticeReceiver(c, &CountWriterWarning, &writer_warnings_);
    // The one writer: the lease, taken when no live writer holds it.
    absl::StatusOr<Result> head = absl::UnknownError("no lease");
    writer_warnings_ = WriterWarnings();
    const std::string writer =
        options_.writer_name.empty() ? DefaultWriterName() : options_.writer_name;
    for (const absl::Time deadline = absl::Now() + options_.lease_wait;;) {
      head = Query(c, kTakeLease,
                   Params().Bytes(writer).Int8(absl::ToInt64Milliseconds(options_.lease)));
      if (!head.ok()) return head.status();
      if (PQntuples(head->get()) == 1) break;
      if (options_.give_up_waiting && options_.give_up_waiting()) {
        return absl::CancelledError("postgres: stopped waiting for the writer's lease");
      }
      if (absl::Now() >= deadline) {
        absl::StatusOr<Result> holder = Query(c, kLeaseHolder, Params());
        return absl::FailedPreconditionError(absl::StrCat(
            "postgres: another server writes to this database (",
            holder.ok() && PQntuples(holder->get()) == 1
                ? absl::StrCat("'", BytesAt(holder->get(), 0, 0), "' holds the writer's lease for ",
                               BytesAt(holder->get(), 0, 1), " s more")
                : "it holds the writer's lease",
            "); one writer per database, the others wait for its lease"));
      }
      absl::SleepFor(std::min(absl::Milliseconds(200), options_.lease / 10));
    }
    epoch_ = Int8At(head->get(), 0, 0);
    if (absl::Status s = LoadHead(c, head->get(), 1); !s.ok()) return s;
    renewer_ = std::thread([this, epoch = epoch_] { RenewLease(epoch); });
    if (absl::Status s = Migrate(c, kPostgresSchemaVersion); !s.ok()) return s;
    return AcknowledgeHeadTakenOver(c);
  }

 private:
  // Reads the head without the lease, and writes nothing from then on.
  absl::Status StartReadOnly(PGconn* c) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    absl::StatusOr<Result> schema =
        Query(c,
              "SELECT coalesce(max(version), 0)::bigint FROM chemledger_migrations WHERE "
              "to_regclass('chemledger_migrations') IS NOT NULL",
              Params());
    if (!schema.ok()) return schema.status();
    if (Int8At(schema->get(), 0, 0) != kPostgresSchemaVersion) {
      return absl::FailedPreconditionError(
          absl::StrCat("postgres: the database's schema is version ", Int8At(schema->get(), 0, 0),
                       ", this server reads version ", kPostgresSchemaVersion,
                       " (a writer of this version migrates it)"));
    }
    // A follower (a read replica) starts at what the writer acknowledged;
    // any other reader at the head.
    absl::StatusOr<Result> head =
        options_.follow_head_every > absl::ZeroDuration()
            ? Query(c, absl::StrCat("SELECT ", kAcknowledgedHead, " FROM store_head").c_str(),
                    Params().Bytes(crypto::EmptyTreeRoot().ToBytes()))
            : Query(c, "SELECT version, size, root, applied_size FROM store_head", Params());
    if (!head.ok()) return head.status();
    if (PQntuples(head->get()) != 1) return absl::DataLossError("postgres: store_head is empty");
    if (absl::Status s = LoadHead(c, head->get(), 0); !s.ok()) return s;
    write_error_ = absl::FailedPreconditionError("postgres: this store was opened read-only");
    if (options_.follow_head_every > absl::ZeroDuration()) {
      {
        absl::MutexLock follow_lock(&follow_mu_);
        follow_.emplace();
        follow_->last_success = absl::Now();
        follow_->size = range_.size();
      }
      follower_ = std::thread([this] { FollowHead(); });
    }
    return absl::OkStatus();
  }

  // A head as store_head holds it, with its tree's compact range.
  struct Head {
    int64_t version = 0;
    std::optional<uint64_t> applied;
    CompactRange range;
  };

  // The head from `row`'s columns from `column` on (version, size, root,
  // applied size), its compact range read through `c` and checked against
  // the root.
  static absl::StatusOr<Head> ParseHead(PGconn* c, const PGresult* row, int column) {
    Head head;
    head.version = Int8At(row, 0, column);
    const uint64_t size = static_cast<uint64_t>(Int8At(row, 0, column + 1));
    absl::StatusOr<Sha256Digest> root = Sha256Digest::FromBytes(BytesAt(row, 0, column + 2));
    if (!root.ok()) return absl::DataLossError("postgres: store_head's root is not a hash");
    head.applied = PQgetisnull(row, 0, column + 3)
                       ? std::nullopt
                       : std::optional<uint64_t>(Int8At(row, 0, column + 3));
    if (head.applied && *head.applied > size) {
      return absl::DataLossError(absl::StrCat("postgres: the state reflects log size ",
                                              *head.applied, ", beyond the log's ", size));
    }
    absl::StatusOr<CompactRange> range =
        CompactRange::Load(size, [c](NodeId id) { return ReadNode(c, id); });
    if (!range.ok()) return range.status();
    if (range->Root() != *root) {
      return absl::DataLossError("postgres: the stored tree's root is not the head's");
    }
    head.range = *std::move(range);
    return head;
  }

  // Makes `head` the latest: the cache forgets everything (it knows the
  // head's version, and nothing yet), and its snapshot is published.
  void Install(Head head) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    version_ = head.version;
    applied_ = head.applied;
    range_ = std::move(head.range);
    cache_.Cleared(version_);
    Publish();
  }

  absl::Status LoadHead(PGconn* c, const PGresult* row, int column)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    absl::StatusOr<Head> head = ParseHead(c, row, column);
    if (!head.ok()) return head.status();
    Install(*std::move(head));
    return absl::OkStatus();
  }

  // A read-only store following the writer: reads the head every
  // follow_head_every, on a connection of its own, until the store goes or
  // the database's log turns out not to extend the one published.
  void FollowHead() {
    Connection c;
    for (;;) {
      {
        absl::MutexLock lock(&lease_mu_);
        if (lease_mu_.AwaitWithTimeout(absl::Condition(&stopping_), options_.follow_head_every)) {
          return;
        }
      }
      FollowStatus seen;
      bool row_read = false;
      absl::Status read = FollowOnce(c, &seen, &row_read);
      const uint64_t size = GetSnapshot()->size();
      absl::MutexLock lock(&follow_mu_);
      follow_->last_read = read;
      follow_->size = size;
      if (read.ok()) {
        follow_->last_success = absl::Now();
        follow_->lease_lapsed = seen.lease_lapsed;
      }
      // Where the database stands is known whenever its head row was read,
      // also while the head cannot be published.
      if (row_read) {
        follow_->at_standby = seen.at_standby;
        follow_->replay_lag = seen.replay_lag;
      }
      if (read.code() == absl::StatusCode::kDataLoss) return;  // for good
    }
  }

  // The database's log does not extend the one published: every read of
  // the database fails from now on (what it holds is not what the
  // published heads name), and nothing more is followed.
  absl::Status Diverged(const std::string& why, uint64_t served)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    absl::Status diverged = absl::DataLossError(absl::StrCat(
        "postgres: ", why, ": this store followed a log of size ", served,
        " that the database's does not extend (a restored or a different database?); it reads "
        "nothing more from it"));
    reads_.Poison(diverged);
    return diverged;
  }

  // Publishes the head the database has now, if it moved and may be
  // published (see follow_head_every); `seen` gets how long ago the writer's
  // lease lapsed and, at a standby, how far its replay is behind, and
  // *row_read whether the head row was read. A read that fails is
  // Unavailable (tried again at the next turn); a log that does not extend
  // the published one DataLoss.
  absl::Status FollowOnce(Connection& c, FollowStatus* seen, bool* row_read) {
    if (c == nullptr || PQstatus(c.get()) != CONNECTION_OK) {
      absl::StatusOr<Connection> made = Connect(options_.connection);
      if (!made.ok()) return made.status();
      c = *std::move(made);
    }
    // The commit the writer acknowledged last (columns 0 to 3, as a head),
    // and the head's own size and applied size.
    absl::StatusOr<Result> row =
        Query(c.get(),
              absl::StrCat("SELECT ", kAcknowledgedHead,
                           ", extract(epoch FROM clock_timestamp() - lease_expires)::float8::text, "
                           "size, applied_size, root, pg_is_in_recovery()::text, "
                           "extract(epoch FROM clock_timestamp() - "
                           "pg_last_xact_replay_timestamp())::float8::text FROM store_head")
                  .c_str(),
              Params().Bytes(crypto::EmptyTreeRoot().ToBytes()));
    if (!row.ok()) return row.status();
    if (PQntuples(row->get()) != 1) return absl::DataLossError("postgres: store_head is empty");
    seen->lease_lapsed =
        PQgetisnull(row->get(), 0, 4)
            ? absl::InfiniteDuration()
            : std::max(absl::ZeroDuration(),
                       absl::Seconds(std::strtod(PQgetvalue(row->get(), 0, 4), nullptr)));
    seen->at_standby = absl::string_view(PQgetvalue(row->get(), 0, 8)) == "true";
    seen->replay_lag.reset();
    if (seen->at_standby && !PQgetisnull(row->get(), 0, 9)) {
      seen->replay_lag = std::max(
          absl::ZeroDuration(), absl::Seconds(std::strtod(PQgetvalue(row->get(), 0, 9), nullptr)));
    }
    *row_read = true;
    const uint64_t head_size = static_cast<uint64_t>(Int8At(row->get(), 0, 5));
    if (PQgetisnull(row->get(), 0, 6) ||
        static_cast<uint64_t>(Int8At(row->get(), 0, 6)) != head_size) {
      absl::MutexLock lock(&mu_);
      return absl::UnavailableError(
          absl::StrCat("postgres: the writer is building the state (it reflects ",
                       PQgetisnull(row->get(), 0, 6) ? std::string("none")
                                                     : absl::StrCat(Int8At(row->get(), 0, 6)),
                       " of ", head_size, " entries); still serving log size ", range_.size()));
    }
    absl::MutexLock lock(&mu_);
    const uint64_t served = range_.size();
    const int64_t version = Int8At(row->get(), 0, 0);
    if (version == version_) {
      if (static_cast<uint64_t>(Int8At(row->get(), 0, 1)) != served ||
          BytesAt(row->get(), 0, 2) != range_.Root().ToBytes()) {
        return Diverged(absl::StrCat("commit ", version, " holds another log"), served);
      }
      return absl::OkStatus();
    }
    if (version < version_) {
      // After a failover the record of the last acknowledged commit may not
      // have reached the promoted standby, though the commit did (it was
      // confirmed): while the database's log still extends the one served,
      // the writer records it again soon. Only a log that does not is
      // another one.
      absl::StatusOr<Sha256Digest> head_root = Sha256Digest::FromBytes(BytesAt(row->get(), 0, 7));
      if (head_root.ok() && head_size >= served) {
        absl::StatusOr<std::vector<Sha256Digest>> proof = ConsistencyProofAt(
            served, head_size, [&c](NodeId id) { return ReadNode(c.get(), id); });
        if (!proof.ok()) return proof.status();
        if (crypto::VerifyConsistency(served, head_size, range_.Root(), *head_root, *proof).ok()) {
          return absl::UnavailableError(absl::StrCat(
              "postgres: the commit the writer last recorded as acknowledged (", version,
              ") is behind the one served (", version_,
              "; after a failover?), and the log extends it: still serving log size ", served));
        }
      }
      return Diverged(absl::StrCat("the head went back from commit ", version_, " to ", version),
                      served);
    }
    absl::StatusOr<Head> next = ParseHead(c.get(), row->get(), 0);
    if (!next.ok()) return next.status();
    const uint64_t size = next->range.size();
    if (size < served) {
      return Diverged(absl::StrCat("the log shrank to ", size), served);
    }
    absl::StatusOr<std::vector<Sha256Digest>> proof =
        ConsistencyProofAt(served, size, [&c](NodeId id) { return ReadNode(c.get(), id); });
    if (!proof.ok()) return proof.status();
    if (absl::Status s =
            crypto::VerifyConsistency(served, size, range_.Root(), next->range.Root(), *proof);
        !s.ok()) {
      return Diverged(absl::StrCat("the log of size ", size, " is not an extension (",
                                   s.message(), ")"),
                      served);
    }
    if (options_.follow_check) {
      // What the cache knows may be older than the candidate: it forgets it
      // (what it learns at the candidate is true at the published head too).
      cache_.Cleared(next->version);
      PostgresSnapshot candidate(&reads_, &cache_, &leaves_, next->version, size,
                                 next->range.Root());
      if (absl::Status s = options_.follow_check(candidate); !s.ok()) {
        return absl::Status(s.code(), absl::StrCat(s.message(), "; still serving log size ",
                                                    served));
      }
    }
    Install(*std::move(next));
    return absl::OkStatus();
  }

 public:
  std::optional<FollowStatus> Following() const {
    absl::MutexLock lock(&follow_mu_);
    return follow_;
  }

 private:
  static std::string DefaultWriterName() {
    char host[256] = {};
    gethostname(host, sizeof(host) - 1);
    return absl::StrCat(host, ":", getpid());
  }

  // An acknowledged commit must be on disk (and, when asked, on a
  // synchronous standby too): refuse settings that let PostgreSQL
  // acknowledge before it is.
  // Checks them on the writer's connection and keeps synchronous_commit
  // as checked for its session: a reload that weakens the server's setting
  // later does not reach the writer.
  absl::Status CheckSettings(PGconn* c) {
    std::map<std::string, std::string> settings;
    for (const char* setting : {"fsync", "synchronous_commit", "synchronous_standby_names"}) {
      absl::StatusOr<Result> value = Query(c, absl::StrCat("SHOW ", setting).c_str(), Params());
      if (!value.ok()) return value.status();
      settings[setting] = std::string(BytesAt(value->get(), 0, 0));
    }
    for (const char* setting : {"fsync", "synchronous_commit"}) {
      if (settings[setting] == "off") {
        return absl::FailedPreconditionError(absl::StrCat(
            "postgres: ", setting, " is off, so a commit could be acknowledged and then lost; "
            "the store needs it on (docs/postgres.md)"));
      }
    }
    if (options_.require_synchronous_standby) {
      if (settings["synchronous_standby_names"].empty()) {
        return absl::FailedPreconditionError(
            "postgres: no synchronous standby is configured (synchronous_standby_names is empty), "
            "so an acknowledged commit would be lost with this server's disk; configure one or "
            "open without requiring it (docs/postgres.md)");
      }
      const std::string& commit = settings["synchronous_commit"];
      if (commit != "on" && commit != "remote_apply") {
        return absl::FailedPreconditionError(absl::StrCat(
            "postgres: synchronous_commit is ", commit,
            ", so a commit is acknowledged before the standby has it on disk; the store needs "
            "on or remote_apply (docs/postgres.md)"));
      }
    }
    const std::string& commit = settings["synchronous_commit"];
    if (commit != "on" && commit != "remote_apply" && commit != "remote_write" &&
        commit != "local") {
      return absl::FailedPreconditionError(absl::StrCat("postgres: synchronous_commit is '", commit,
                                                        "', which this store does not know"));
    }
    return Exec(c, absl::StrCat("SET synchronous_commit = ", commit).c_str());
  }

  // What the database warned of on the writer's connection since the last
  // reset (a libpq notice receiver; called inside the writer's queries,
  // under mu_).
  struct WriterWarnings {
    int count = 0;
    std::string first;  // the first warning's message
  };
  // Only the wait for a synchronous standby cancelled (raised in syncrep.c:
  // a field PostgreSQL never translates) makes a commit's outcome unknown;
  // other warnings (a database nearing transaction-id wraparound warns on
  // every write, and the write is done) go to the log.
  static void CountWriterWarning(void* arg, const PGresult* notice) {
    const char* severity = PQresultErrorField(notice, PG_DIAG_SEVERITY_NONLOCALIZED);
    if (severity == nullptr || absl::string_view(severity) != "WARNING") return;
    const char* source = PQresultErrorField(notice, PG_DIAG_SOURCE_FILE);
    if (source == nullptr || absl::string_view(source) != "syncrep.c") {
      const char* message = PQresultErrorField(notice, PG_DIAG_MESSAGE_PRIMARY);
      std::cerr << "postgres: the database warned: " << (message == nullptr ? "" : message)
                << std::endl;
      return;
    }
    auto* warnings = static_cast<WriterWarnings*>(arg);
    if (warnings->count++ == 0) {
      const char* message = PQresultErrorField(notice, PG_DIAG_MESSAGE_PRIMARY);
      warnings->first = message == nullptr ? "" : message;
    }
  }

  // Renews the lease every third of its length until the store goes; when
  // another writer has taken it, the store is read-only from then on
  // (on_lease_lost). After a failed commit it releases the lease and calls
  // on_read_only.
  void RenewLease(int64_t epoch) {
    Connection c;
    const absl::Duration every = options_.lease / 3;
    absl::Time renew_at = absl::Now() + every;
    absl::Time record_not_before = absl::InfinitePast();
    for (;;) {
      bool commit_failed = false;
      std::optional<AcknowledgedHead> to_record;
      {
        absl::MutexLock lock(&lease_mu_);
        for (;;) {
          if (stopping_) return;
          if (commit_failed_) break;
          const absl::Time now = absl::Now();
          // An acknowledged commit that no commit has recorded since it was
          // acknowledged kRecordAcknowledgedAfter ago (the writer is quiet)
          // is recorded by this thread.
          const absl::Time wake = std::min(renew_at, RecordingDue(record_not_before));
          if (now >= wake) break;
          acknowledged_moved_ = false;
          (void)lease_mu_.AwaitWithDeadline(
              absl::Condition(
                  +[](PostgresStore* s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(s->lease_mu_) {
                    return s->stopping_ || s->commit_failed_ || s->acknowledged_moved_;
                  },
                  this),
              wake);
        }
        commit_failed = commit_failed_;
        const absl::Time now = absl::Now();
        if (!commit_failed && now >= RecordingDue(record_not_before)) {
          to_record = acknowledged_;
          record_not_before = now + kRecordAcknowledgedAfter;
        }
      }
      if (c == nullptr || PQstatus(c.get()) != CONNECTION_OK) {
        absl::StatusOr<Connection> made = Connect(options_.connection);
        // The lease is renewed without waiting for a synchronous standby
        // (it says who writes, and a standby's lease expires there or
        // names a backend gone with the old primary): a standby that is
        // down holds up the writer's commits, not the renewal of its lease.
        // Nor does it wait long on the head row a commit holds while it
        // waits for the standby: the next turn tries again.
        if (made.ok() &&
            !Exec(made->get(), absl::StrCat("SET synchronous_commit = local; SET lock_timeout = ",
                                            std::max<int64_t>(1, absl::ToInt64Milliseconds(every)))
                                   .c_str())
                 .ok()) {
          made = absl::UnavailableError("postgres: cannot set the lease connection up");
        }
        if (made.ok()) {
          c = *std::move(made);
        } else if (!commit_failed) {
          renew_at = absl::Now() + every;
          record_not_before = renew_at;
          continue;  // again at the next turn; fencing keeps writes safe meanwhile
        }
      }
      if (to_record) {
        // Written without waiting for a standby, and false never: the
        // commit it names was confirmed. Not while another transaction
        // holds the head row; tried again kRecordAcknowledgedAfter later.
        if (c != nullptr) {
          absl::StatusOr<Result> recorded =
              Query(c.get(), kRecordAcknowledged, RecordAcknowledgedParams(epoch, *to_record));
          if (RecordedIt(recorded)) {
            absl::MutexLock lock(&lease_mu_);
            acknowledged_recorded_ = std::max(acknowledged_recorded_, to_record->version);
          }
        }
        if (absl::Now() < renew_at) continue;
      }
      renew_at = absl::Now() + every;
      absl::StatusOr<Result> renewed =
          c == nullptr
              ? absl::StatusOr<Result>(absl::UnavailableError("no connection"))
              : Query(c.get(), kRenewLease,
                      Params().Int8(epoch).Int8(absl::ToInt64Milliseconds(options_.lease)));
      if (renewed.ok() && PQntuples(renewed->get()) == 0) {
        // Another writer took over: nothing more is written from here.
        {
          absl::MutexLock lock(&mu_);
          if (write_error_.ok()) {
            write_error_ = absl::FailedPreconditionError(
                "postgres: another server took the writer's lease; this store is read-only");
          }
        }
        if (options_.on_lease_lost) options_.on_lease_lost();
        return;
      }
      if (!commit_failed) continue;
      // A commit failed, the lease still this store's (or the database out
      // of reach): read-only until reopened. Renewing the lease would keep
      // every standby out; released, one takes over at once (a lease that
      // cannot be released here lapses).
      if (renewed.ok()) {
        // What it acknowledged before the failure, for the read replicas.
        if (std::optional<AcknowledgedHead> last = UnrecordedAcknowledged()) {
          (void)Query(c.get(), kRecordAcknowledged, RecordAcknowledgedParams(epoch, *last));
        }
        (void)Query(c.get(), kReleaseLease, Params().Int8(epoch));
      }
      absl::Status why;
      {
        absl::MutexLock lock(&mu_);
        why = write_error_;
      }
      if (options_.on_read_only) options_.on_read_only(why);
      return;
    }
  }

  // UNAVAILABLE when the database answered the writer's last commit with
  // the warning CountWriterWarning counts (its wait for a synchronous
  // standby cancelled: committed locally, maybe not on the standby): its
  // outcome is unknown and nothing of it is acknowledged. `what` starts the
  // message.
  absl::Status OutcomeUnknownIfWarned(absl::string_view what) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (writer_warnings_.count == 0) return absl::OkStatus();
    return absl::UnavailableError(
        absl::StrCat("postgres: ", what, "the commit's outcome is unknown: the database warned \"",
                     writer_warnings_.first,
                     "\" (a synchronous standby may not have it); nothing is acknowledged"));
  }

  // Wakes the lease renewer after a failed commit (mu_ held).
  void TellRenewerCommitFailed() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    absl::MutexLock lock(&lease_mu_);
    commit_failed_ = true;
  }

  // Creates the schema or brings it up to version `up_to`, one migration
  // per transaction, under a session lock (servers starting together
  // migrate one after another).
  absl::Status Migrate(PGconn* c, int64_t up_to) {
    absl::StatusOr<Result> locked =
        Query(c, "SELECT pg_advisory_lock($1)", Params().Int8(kMigrationLock));
    if (!locked.ok()) return locked.status();
    absl::Status migrated = MigrateLocked(c, up_to);
    absl::StatusOr<Result> unlocked =
        Query(c, "SELECT pg_advisory_unlock($1)", Params().Int8(kMigrationLock));
    if (migrated.ok() && !unlocked.ok()) return unlocked.status();
    return migrated;
  }

  absl::Status MigrateLocked(PGconn* c, int64_t up_to) {
    if (absl::Status s = Exec(c,
                              "CREATE TABLE IF NOT EXISTS chemledger_migrations ("
                              "version int PRIMARY KEY, applied_at timestamptz NOT NULL "
                              "DEFAULT now())");
        !s.ok()) {
      return s;
    }
    absl::StatusOr<Result> at =
        Query(c, "SELECT coalesce(max(version), 0)::bigint FROM chemledger_migrations", Params());
    if (!at.ok()) return at.status();
    const int64_t version = Int8At(at->get(), 0, 0);
    if (version > kPostgresSchemaVersion) {
      return absl::FailedPreconditionError(absl::StrCat(
          "postgres: the database's schema is version ", version, ", newer than this server's (",
          kPostgresSchemaVersion, "): run a newer server"));
    }
    for (int64_t v = version + 1; v <= up_to; ++v) {
      // Each migration in a transaction of its own, recorded in it.
      if (absl::Status s = Exec(c, "BEGIN"); !s.ok()) return s;
      absl::Status s = Exec(c, kMigrations[v - 1]);
      if (s.ok()) {
        s = Query(c, "INSERT INTO chemledger_migrations (version) VALUES ($1::bigint::int)",
                  Params().Int8(v))
                .status();
      }
      if (s.ok() && v == 1) {
        s = Query(c,
                  "INSERT INTO store_head (version, size, root, applied_size) "
                  "VALUES (0, 0, $1, NULL)",
                  Params().Bytes(crypto::EmptyTreeRoot().ToBytes()))
                .status();
      }
      if (s.ok()) s = Exec(c, "COMMIT");
      if (!s.ok()) {
        (void)Exec(c, "ROLLBACK");
        return absl::Status(s.code(), absl::StrCat("migration ", v, ": ", s.message()));
      }
    }
    return absl::OkStatus();
  }

 public:
  absl::StatusOr<uint64_t> Append(absl::Span<const std::string> entries) override {
    if (entries.empty()) return absl::InvalidArgumentError("append: no entries");
    if (absl::Status s = CheckEntryLimits(entries, "append"); !s.ok()) return s;
    absl::MutexLock lock(&mu_);
    return Write(entries, nullptr, std::nullopt);
  }

  absl::StatusOr<uint64_t> Commit(absl::Span<const std::string> entries,
                                  const StateWrites& state) override {
    if (entries.empty() && state.empty()) {
      return absl::InvalidArgumentError("commit: no entries and no state writes");
    }
    if (absl::Status s = CheckEntryLimits(entries, "commit"); !s.ok()) return s;
    if (absl::Status s = CheckStateLimits(state, "commit"); !s.ok()) return s;
    absl::MutexLock lock(&mu_);
    return Write(entries, &state, range_.size() + entries.size());
  }

  absl::Status ApplyState(uint64_t applied_size, const StateWrites& state) override {
    if (absl::Status s = CheckStateLimits(state, "apply state"); !s.ok()) return s;
    absl::MutexLock lock(&mu_);
    if (applied_size < applied_.value_or(0) || applied_size > range_.size()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "apply state: applied size ", applied_size, " is not between the state's ",
          applied_.value_or(0), " and the log's size ", range_.size()));
    }
    return Write({}, &state, applied_size).status();
  }

  // Clears logically: a deletion (a NULL value) at the next version of every
  // key whose newest version holds a value, so that snapshots at earlier
  // versions (a read replica of an older build still serving, `chemledgerd
  // check` beside the writer) keep reading the state they were taken at.
  absl::Status ClearState() override {
    absl::MutexLock lock(&mu_);
    if (!write_error_.ok()) return write_error_;
    PGconn* c = writer_.get();
    // One transaction: the head's new version first (it holds the head row,
    // and is refused if another writer moved it), then the deletions.
    absl::Status s = Exec(c, "BEGIN");
    if (s.ok()) {
      absl::StatusOr<Result> updated =
          Query(c,
                "UPDATE store_head SET version = $1, applied_size = NULL "
                "WHERE version = $2 AND writer_epoch = $3",
                Params().Int8(version_ + 1).Int8(version_).Int8(epoch_));
      s = updated.status();
      if (s.ok() && std::string(PQcmdTuples(updated->get())) != "1") {
        s = absl::FailedPreconditionError(
            "postgres: another server took the writer's lease or moved the head");
      }
    }
    if (s.ok()) {
      s = Query(
              c,
              "INSERT INTO state_versions (key, version, value) "
              "SELECT key, $1::int8, NULL FROM (SELECT DISTINCT ON (key) key, value "
              "  FROM state_versions WHERE version <= $2::int8 ORDER BY key, version DESC) newest "
              "WHERE value IS NOT NULL",
              Params().Int8(version_ + 1).Int8(version_))
              .status();
    }
    writer_warnings_ = WriterWarnings();
    if (s.ok()) s = Exec(c, "COMMIT");
    if (s.ok()) s = OutcomeUnknownIfWarned("clearing the state: ");
    if (!s.ok()) {
      (void)Exec(c, "ROLLBACK");
      write_error_ = s;
      TellRenewerCommitFailed();
      return s;
    }
    ++version_;
    applied_ = std::nullopt;
    cache_.Cleared(version_);
    Publish();
    return absl::OkStatus();
  }

  std::optional<uint64_t> StateAppliedSize() const override {
    absl::MutexLock lock(&mu_);
    return applied_;
  }

  uint64_t Size() const override { return GetSnapshot()->size(); }
  absl::StatusOr<std::string> Entry(uint64_t index) const override {
    return GetSnapshot()->Entry(index);
  }
  absl::StatusOr<Sha256Digest> LeafHash(uint64_t index) const override {
    return GetSnapshot()->LeafHash(index);
  }
  absl::StatusOr<Sha256Digest> Root(uint64_t tree_size) const override {
    return GetSnapshot()->Root(tree_size);
  }
  absl::StatusOr<std::vector<Sha256Digest>> InclusionProof(uint64_t index,
                                                           uint64_t tree_size) const override {
    return GetSnapshot()->InclusionProof(index, tree_size);
  }
  absl::StatusOr<std::vector<Sha256Digest>> ConsistencyProof(uint64_t old_size,
                                                             uint64_t new_size) const override {
    return GetSnapshot()->ConsistencyProof(old_size, new_size);
  }

  std::shared_ptr<const Snapshot> GetSnapshot() const override {
    absl::MutexLock lock(&publish_mu_);
    return published_;
  }

  absl::StatusOr<IntegrityReport> CheckIntegrity(
      const absl::optional<TreeHead>& trusted) const override {
    std::shared_ptr<const Snapshot> snapshot = GetSnapshot();
    const uint64_t size = snapshot->size();
    if (trusted && trusted->size > size) {
      return absl::DataLossError(absl::StrCat("the log's size ", size,
                                              " is below the trusted checkpoint's ",
                                              trusted->size));
    }
    // One connection for the whole check (a second one asked for while
    // holding it could wait on a pool it alone empties).
    absl::StatusOr<ConnectionPool::Lease> lease = reads_.Acquire();
    if (!lease.ok()) return lease.status();
    PGconn* c = lease->get();
    IntegrityReport report;
    report.tree_size = size;
    // Foreign rows: entries at or beyond the size, and more (or fewer)
    // stored nodes than a tree of that size has. Read in one statement (one
    // database snapshot), and only judged when no commit came after ours.
    absl::StatusOr<Result> counts =
        Query(c,
              "SELECT (SELECT size FROM store_head), "
              "(SELECT count(*) FROM entries WHERE idx >= $1)::bigint, "
              "(SELECT count(*) FROM tree_nodes)::bigint",
              Params().Int8(size));
    if (!counts.ok()) return counts.status();
    if (static_cast<uint64_t>(Int8At(counts->get(), 0, 0)) == size) {
      if (Int8At(counts->get(), 0, 1) != 0) {
        return absl::DataLossError(absl::StrCat("postgres: entries at or beyond the log's size ",
                                                size, " (rows no commit wrote)"));
      }
      if (static_cast<uint64_t>(Int8At(counts->get(), 0, 2)) != StoredNodeCount(size)) {
        return absl::DataLossError(absl::StrCat(
            "postgres: ", Int8At(counts->get(), 0, 2), " stored tree nodes, where a tree of ",
            size, " entries has ", StoredNodeCount(size)));
      }
    }
    // Every entry below the snapshot's size, in order, re-hashed; every node
    // they make compared with the stored one, a page at a time.
    CompactRange range;
    std::map<uint8_t, std::map<uint64_t, Sha256Digest>> emitted;  // by level, index
    for (uint64_t from = 0; from < size;) {
      absl::StatusOr<Result> page =
          Query(c, "SELECT idx, data FROM entries WHERE idx >= $1 AND idx < $2 ORDER BY idx",
                Params().Int8(from).Int8(std::min<uint64_t>(size, from + 4096)));
      if (!page.ok()) return page.status();
      const int rows = PQntuples(page->get());
      for (int i = 0; i < rows; ++i) {
        const uint64_t index = static_cast<uint64_t>(Int8At(page->get(), i, 0));
        if (index != range.size()) {
          return absl::DataLossError(absl::StrCat("postgres: entry ", range.size(), " is missing"));
        }
        range.Append(crypto::HashLeaf(BytesAt(page->get(), i, 1)),
                     [&](NodeId id, const Sha256Digest& h) { emitted[id.level][id.index] = h; });
        ++report.entries_checked;
      }
      if (rows == 0) {
        return absl::DataLossError(absl::StrCat("postgres: entry ", range.size(), " is missing"));
      }
      from = range.size();
      for (const auto& [level, nodes] : emitted) {
        absl::StatusOr<Result> stored = Query(
            c, "SELECT idx, hash FROM tree_nodes WHERE level = $1 AND idx >= $2 AND idx <= $3",
            Params().Int2(level).Int8(nodes.begin()->first).Int8(nodes.rbegin()->first));
        if (!stored.ok()) return stored.status();
        std::map<uint64_t, absl::string_view> found;
        for (int i = 0; i < PQntuples(stored->get()); ++i) {
          found.emplace(Int8At(stored->get(), i, 0), BytesAt(stored->get(), i, 1));
        }
        for (const auto& [index, hash] : nodes) {
          auto it = found.find(index);
          if (it == found.end()) {
            return absl::DataLossError(absl::StrCat("postgres: tree node (level ", level,
                                                    ", index ", index, ") is missing"));
          }
          if (it->second != hash.ToBytes()) {
            return absl::DataLossError(absl::StrCat("postgres: tree node (level ", level,
                                                    ", index ", index,
                                                    ") is not the hash of its entries"));
          }
          ++report.nodes_checked;
        }
      }
      emitted.clear();
    }
    report.root = range.Root();
    if (report.root != snapshot->root()) {
      return absl::DataLossError("postgres: the root of the entries is not the head's root");
    }
    if (trusted) {
      absl::StatusOr<Sha256Digest> root =
          RootAt(trusted->size, [c](NodeId id) { return ReadNode(c, id); });
      if (!root.ok()) return root.status();
      if (*root != trusted->root) {
        return absl::DataLossError(absl::StrCat("the log's root at size ", trusted->size,
                                                " is not the trusted checkpoint's"));
      }
    }
    return report;
  }

  absl::StatusOr<BackupInfo> Backup(const std::string& directory) const override {
    return absl::UnimplementedError(
        "backup: a PostgreSQL store is backed up with PostgreSQL's own tools (pg_basebackup, or a "
        "standby), not into " +
        directory);
  }

 private:
  // Appends `entries` and, when `state` is given, writes it as the state at
  // `applied` (the new applied size), in one transaction.
  absl::StatusOr<uint64_t> Write(absl::Span<const std::string> entries, const StateWrites* state,
                                 std::optional<uint64_t> applied)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (!write_error_.ok()) return write_error_;
    const uint64_t first = range_.size();
    const int64_t version = version_ + 1;
    CompactRange range = range_;
    ArrayParam entry_index(ArrayParam::kInt8), entry_data(ArrayParam::kBytea);
    ArrayParam node_level(ArrayParam::kInt2), node_index(ArrayParam::kInt8),
        node_hash(ArrayParam::kBytea);
    ArrayParam state_key(ArrayParam::kBytea), state_value(ArrayParam::kBytea);
    std::vector<Sha256Digest> leaf_hashes;
    leaf_hashes.reserve(entries.size());
    for (size_t i = 0; i < entries.size(); ++i) {
      entry_index.Int8(first + i);
      entry_data.Bytes(entries[i]);
      leaf_hashes.push_back(crypto::HashLeaf(entries[i]));
      range.Append(leaf_hashes.back(), [&](NodeId id, const Sha256Digest& h) {
        const std::string bytes = h.ToBytes();
        node_level.Int2(id.level);
        node_index.Int8(id.index);
        node_hash.Bytes(absl::string_view(bytes));
      });
    }
    if (state != nullptr) {
      for (const auto& [key, value] : state->writes()) {
        state_key.Bytes(absl::string_view(key));
        state_value.Bytes(value ? std::optional<absl::string_view>(*value) : std::nullopt);
      }
    }
    const std::optional<uint64_t> new_applied = state != nullptr ? applied : applied_;
    PGconn* c = writer_.get();
    // From the head this store read, and no other: a second writer that
    // got past the lock fails here rather than interleave.
    Params params;
    params.Int8(version).Int8(range.size()).Bytes(range.Root().ToBytes()).Int8(version_);
    if (new_applied) {
      params.Int8(*new_applied);
    } else {
      params.Null();
    }
    params.Bytes(entry_index.Encode()).Bytes(entry_data.Encode());
    params.Bytes(node_level.Encode()).Bytes(node_index.Encode()).Bytes(node_hash.Encode());
    params.Bytes(state_key.Encode()).Bytes(state_value.Encode());
    params.Int8(epoch_);
    // The newest commit acknowledged before this one (none: version -1).
    const std::optional<AcknowledgedHead> acknowledged = LatestAcknowledged();
    params.Int8(acknowledged ? acknowledged->version : -1)
        .Int8(acknowledged ? static_cast<int64_t>(acknowledged->size) : 0)
        .Bytes(acknowledged ? acknowledged->root.ToBytes() : std::string());
    writer_warnings_ = WriterWarnings();
    absl::StatusOr<Result> committed = Query(c, kCommit, params);
    absl::Status s = committed.status();
    if (s.ok()) s = OutcomeUnknownIfWarned("");
    if (s.ok() && (PQntuples(committed->get()) != 1 || Int8At(committed->get(), 0, 0) != 1)) {
      s = absl::FailedPreconditionError(
          "postgres: nothing written: another server took the writer's lease (or moved the "
          "head)");
    }
    if (!s.ok()) {
      // Whether COMMIT reached the database is unknown: read-only until
      // reopened, as store.h says.
      write_error_ = absl::Status(s.code(), absl::StrCat("commit failed, the store is read-only "
                                                         "until reopened: ",
                                                         s.message()));
      TellRenewerCommitFailed();
      return s;
    }
    version_ = version;
    range_ = std::move(range);
    applied_ = new_applied;
    cache_.Committed(version, state);
    leaves_.Committed(first, leaf_hashes);
    Publish();
    Acknowledged(acknowledged ? acknowledged->version : -1);
    return first;
  }

  // How long an acknowledged commit may go unrecorded in the head row before
  // the renewer records it (a busy writer's next commit records it first).
  static constexpr absl::Duration kRecordAcknowledgedAfter = absl::Milliseconds(50);

  // The newest commit this writer has acknowledged whose state is complete,
  // as read replicas may publish it (store_head.acknowledged_*).
  struct AcknowledgedHead {
    int64_t version = 0;
    uint64_t size = 0;
    Sha256Digest root;
  };

  std::optional<AcknowledgedHead> LatestAcknowledged() const ABSL_LOCKS_EXCLUDED(lease_mu_) {
    absl::MutexLock lock(&lease_mu_);
    return acknowledged_;
  }

  // Whether the head row is not known to record the latest acknowledged
  // commit.
  bool AcknowledgementUnrecorded() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(lease_mu_) {
    return acknowledged_ && acknowledged_->version > acknowledged_recorded_;
  }

  // When the renewer is to record the latest acknowledged commit: once no
  // commit has recorded it kRecordAcknowledgedAfter after it was
  // acknowledged, and not before `not_before`; never when it is recorded.
  absl::Time RecordingDue(absl::Time not_before) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(lease_mu_) {
    if (!AcknowledgementUnrecorded()) return absl::InfiniteFuture();
    return std::max(acknowledged_at_ + kRecordAcknowledgedAfter, not_before);
  }

  // The latest acknowledged commit when the head row does not record it yet.
  std::optional<AcknowledgedHead> UnrecordedAcknowledged() const ABSL_LOCKS_EXCLUDED(lease_mu_) {
    absl::MutexLock lock(&lease_mu_);
    if (!AcknowledgementUnrecorded()) return std::nullopt;
    return acknowledged_;
  }

  // The head (mu_ held) as an acknowledgement may name it: when its state is
  // complete.
  std::optional<AcknowledgedHead> CompleteHead() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (applied_ != range_.size()) return std::nullopt;
    return AcknowledgedHead{version_, range_.size(), range_.Root()};
  }

  static Params RecordAcknowledgedParams(int64_t epoch, const AcknowledgedHead& head) {
    return Params()
        .Int8(epoch)
        .Int8(head.version)
        .Int8(static_cast<int64_t>(head.size))
        .Bytes(head.root.ToBytes());
  }

  // The head (mu_ held) has just been confirmed by PostgreSQL to this
  // writer, and the head row now records the acknowledged commit of version
  // `recorded` (-1: none). A head whose state is complete becomes the
  // newest acknowledged; the renewer records it when no commit does soon.
  void Acknowledged(int64_t recorded) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    absl::MutexLock lock(&lease_mu_);
    acknowledged_recorded_ = std::max(acknowledged_recorded_, recorded);
    std::optional<AcknowledgedHead> head = CompleteHead();
    if (!head) return;
    acknowledged_ = *std::move(head);
    acknowledged_at_ = absl::Now();
    acknowledged_moved_ = true;
  }

  // The head a writer found as it took the lease may not have been
  // acknowledged by the writer before it. Taking the lease is a commit of
  // this writer's own after it: once PostgreSQL has confirmed that commit
  // without a warning, a synchronous standby has it, and so the head too.
  // The head is then recorded as acknowledged (when its state is complete),
  // so that read replicas catch up with it before the next write.
  absl::Status AcknowledgeHeadTakenOver(PGconn* c) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (!OutcomeUnknownIfWarned("").ok()) return absl::OkStatus();  // not confirmed
    const std::optional<AcknowledgedHead> complete = CompleteHead();
    if (!complete) return absl::OkStatus();
    const AcknowledgedHead& head = *complete;
    // Not recorded now (a renewal or another server's try for the lease
    // holds the head row, or the query failed): the renewer records it.
    absl::StatusOr<Result> recorded =
        Query(c, kRecordAcknowledged, RecordAcknowledgedParams(epoch_, head));
    absl::MutexLock lock(&lease_mu_);
    acknowledged_ = head;
    acknowledged_at_ = absl::InfinitePast();
    acknowledged_moved_ = true;
    if (RecordedIt(recorded)) acknowledged_recorded_ = head.version;
    return absl::OkStatus();
  }

  // Whether a kRecordAcknowledged query recorded its commit (or a newer one
  // was recorded already).
  static bool RecordedIt(const absl::StatusOr<Result>& recorded) {
    return recorded.ok() && PQntuples(recorded->get()) == 1 && Int8At(recorded->get(), 0, 0) == 1;
  }

  void Publish() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto snapshot = std::make_shared<PostgresSnapshot>(&reads_, &cache_, &leaves_, version_,
                                                       range_.size(),
                                                       range_.Root());
    absl::MutexLock lock(&publish_mu_);
    published_ = std::move(snapshot);
  }

  const PostgresStoreOptions options_;
  mutable ConnectionPool reads_;
  mutable LatestStateCache cache_{1 << 18};
  RecentLeafHashes leaves_{1 << 18};
  mutable absl::Mutex mu_;
  Connection writer_ ABSL_GUARDED_BY(mu_);
  WriterWarnings writer_warnings_ ABSL_GUARDED_BY(mu_);
  int64_t version_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t epoch_ ABSL_GUARDED_BY(mu_) = 0;  // the lease's, once taken
  CompactRange range_ ABSL_GUARDED_BY(mu_);
  std::optional<uint64_t> applied_ ABSL_GUARDED_BY(mu_);
  absl::Status write_error_ ABSL_GUARDED_BY(mu_);
  mutable absl::Mutex publish_mu_ ABSL_ACQUIRED_AFTER(mu_);
  std::shared_ptr<const Snapshot> published_ ABSL_GUARDED_BY(publish_mu_);
  mutable absl::Mutex lease_mu_ ABSL_ACQUIRED_AFTER(mu_);
  bool stopping_ ABSL_GUARDED_BY(lease_mu_) = false;
  bool commit_failed_ ABSL_GUARDED_BY(lease_mu_) = false;
  // What this writer acknowledged (see Acknowledged), when, the newest
  // version the head row is known to record, and whether the renewer has
  // yet to look at it.
  std::optional<AcknowledgedHead> acknowledged_ ABSL_GUARDED_BY(lease_mu_);
  absl::Time acknowledged_at_ ABSL_GUARDED_BY(lease_mu_);
  int64_t acknowledged_recorded_ ABSL_GUARDED_BY(lease_mu_) = -1;
  bool acknowledged_moved_ ABSL_GUARDED_BY(lease_mu_) = false;
  std::thread renewer_;
  // A following read-only store's (follow_head_every).
  mutable absl::Mutex follow_mu_ ABSL_ACQUIRED_AFTER(publish_mu_);
  std::optional<FollowStatus> follow_ ABSL_GUARDED_BY(follow_mu_);
  std::thread follower_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Store>> OpenPostgresStore(const PostgresStoreOptions& options) {
  if (options.follow_head_every > absl::ZeroDuration() && !options.read_only) {
    return absl::InvalidArgumentError(
        "postgres: follow_head_every is for a read-only store (a writer's head is its own)");
  }
  absl::StatusOr<Connection> writer = Connect(options.connection);
  if (!writer.ok()) return writer.status();
  auto store = std::make_unique<PostgresStore>(options, *std::move(writer));
  if (absl::Status s = store->Start(); !s.ok()) return s;
  return store;
}

std::optional<FollowStatus> PostgresFollowStatus(const Store& store) {
  const auto* postgres = dynamic_cast<const PostgresStore*>(&store);
  if (postgres == nullptr) return std::nullopt;
  return postgres->Following();
}

}  // namespace chemledger::storage
