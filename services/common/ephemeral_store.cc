#include "services/common/ephemeral_store.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <map>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "leveldb/db.h"
#include "leveldb/write_batch.h"
#include "services/common/big_endian.h"

namespace chemledger {
namespace {

// Keys:
//   m/boot                          the boot id the store was last opened under
//   m/clean                         present when the store was closed cleanly
//   m/not_before                    when a power loss may have lost nonces: the
//                                   second the store reopened after it (unix
//                                   seconds, decimal), kept while it matters
//   n/<expires:8 BE><key id><nonce> a used read credential's nonce
//   r/<kind>/<key>                  an ephemeral record
constexpr char kBootKey[] = "m/boot";
constexpr char kCleanKey[] = "m/clean";
constexpr char kNotBeforeKey[] = "m/not_before";
constexpr char kNoncePrefix[] = "n/";
constexpr char kRecordPrefix[] = "r/";

// Expiry seconds as a key part that sorts in time order (none is negative in
// practice; a negative one sorts first and is dropped as expired).
std::string ExpiresKey(int64_t expires) {
  return BigEndian64(static_cast<uint64_t>(std::max<int64_t>(expires, 0)));
}

absl::Status FromLevelDb(const leveldb::Status& s, absl::string_view what) {
  if (s.ok()) return absl::OkStatus();
  return absl::UnavailableError(absl::StrCat(what, ": ", s.ToString()));
}

leveldb::WriteOptions Synced() {
  leveldb::WriteOptions synced;
  synced.sync = true;
  return synced;
}

std::string ReadBootId(const std::string& path) {
  std::ifstream in(path);
  std::string id;
  std::getline(in, id);
  return std::string(absl::StripAsciiWhitespace(id));
}

// A record's value: expires (unix microseconds) and sequence, 8 bytes each,
// the owner's length (4 bytes) and the owner, then the value.
struct StoredRecord {
  int64_t expires_micros = 0;
  uint64_t sequence = 0;
  std::string owner;
  std::string value;
};

std::string Encode(const StoredRecord& r) {
  std::string owner_length = BigEndian64(r.owner.size()).substr(4);
  return absl::StrCat(BigEndian64(static_cast<uint64_t>(r.expires_micros)),
                      BigEndian64(r.sequence), owner_length, r.owner, r.value);
}

bool Decode(absl::string_view bytes, StoredRecord* r) {
  if (bytes.size() < 20) return false;
  r->expires_micros = static_cast<int64_t>(FromBigEndian64(bytes.substr(0, 8)));
  r->sequence = FromBigEndian64(bytes.substr(8, 8));
  const uint64_t owner_length = FromBigEndian64(absl::StrCat(std::string(4, '\0'),
                                                             bytes.substr(16, 4)));
  if (bytes.size() < 20 + owner_length) return false;
  r->owner = std::string(bytes.substr(20, owner_length));
  r->value = std::string(bytes.substr(20 + owner_length));
  return true;
}

}  // namespace

// The LevelDB both memories write to; marks a clean close when the last of
// them lets go.
class EphemeralStore::Database {
 public:
  explicit Database(std::unique_ptr<leveldb::DB> db) : db_(std::move(db)) {}
  ~Database() {
    if (!armed_) return;  // an open that failed: nothing says it is whole
    leveldb::WriteOptions synced;
    synced.sync = true;
    db_->Put(synced, kCleanKey, "");
  }
  leveldb::DB* db() const { return db_.get(); }
  // Once the open has recorded this boot: a close from then on is clean.
  void Arm() { armed_ = true; }

 private:
  const std::unique_ptr<leveldb::DB> db_;
  bool armed_ = false;
};

namespace {

// The in-memory nonce memory, written through to the database.
class StoredNonceMemory final : public read_auth::NonceMemory {
 public:
  StoredNonceMemory(std::shared_ptr<EphemeralStore::Database> db,
                    std::unique_ptr<read_auth::NonceMemory> memory)
      : db_(std::move(db)), memory_(std::move(memory)) {}

  absl::Status Remember(absl::string_view key_id, absl::string_view nonce, absl::Time signed_at,
                        int64_t expires, absl::Time now) override {
    if (absl::Status s = memory_->Remember(key_id, nonce, signed_at, expires, now); !s.ok()) {
      return s;
    }
    const leveldb::Status written = db_->db()->Put(
        leveldb::WriteOptions(), absl::StrCat(kNoncePrefix, ExpiresKey(expires), key_id, nonce),
        "");
    if (!written.ok()) {
      return absl::UnavailableError(absl::StrCat(
          "the memory of used read credentials could not be written (", written.ToString(),
          "); this credential now counts as used: sign a new one and retry shortly"));
    }
    DropExpired(now);
    return absl::OkStatus();
  }

  // Loads a nonce kept by an earlier process.
  absl::Status Load(absl::string_view key_id, absl::string_view nonce, int64_t expires,
                    absl::Time now) {
    return memory_->Remember(key_id, nonce, now, expires, now);
  }

 private:
  // Every ten seconds, deletes the nonces that expired (the memory in front
  // has forgotten them).
  void DropExpired(absl::Time now) {
    const int64_t seconds = absl::ToUnixSeconds(now);
    {
      absl::MutexLock lock(&mu_);
      if (seconds < next_drop_) return;
      next_drop_ = seconds + 10;
    }
    leveldb::WriteBatch batch;
    const std::string end = absl::StrCat(kNoncePrefix, ExpiresKey(seconds - 1));
    std::unique_ptr<leveldb::Iterator> it(db_->db()->NewIterator(leveldb::ReadOptions()));
    for (it->Seek(kNoncePrefix); it->Valid() && it->key().ToString() < end; it->Next()) {
      batch.Delete(it->key());
    }
    db_->db()->Write(leveldb::WriteOptions(), &batch);  // a failure is retried next time
  }

  const std::shared_ptr<EphemeralStore::Database> db_;
  const std::unique_ptr<read_auth::NonceMemory> memory_;
  absl::Mutex mu_;
  int64_t next_drop_ ABSL_GUARDED_BY(mu_) = 0;
};

// Ephemeral records kept in the database alone (they are few: console
// sign-ins), with the semantics of the in-memory ones.
class StoredRecords final : public EphemeralRecords {
 public:
  StoredRecords(std::shared_ptr<EphemeralStore::Database> db, uint64_t sequence)
      : db_(std::move(db)), sequence_(sequence) {}

  absl::Status Put(absl::string_view kind, absl::string_view key, absl::string_view value,
                   absl::string_view owner, absl::Time expires, const Limits& limits,
                   absl::Time now) override {
    if (kind.empty() || kind.find('/') != absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat("record kind '", kind, "': not a kind"));
    }
    const std::string prefix = absl::StrCat(kRecordPrefix, kind, "/");
    const std::string record_key = absl::StrCat(prefix, key);
    absl::MutexLock lock(&mu_);
    leveldb::WriteBatch batch;
    size_t held = 0;
    bool present = false;
    std::map<uint64_t, std::string> of_owner;  // sequence -> key
    std::unique_ptr<leveldb::Iterator> it(db_->db()->NewIterator(leveldb::ReadOptions()));
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      StoredRecord r;
      if (!Decode(it->value().ToString(), &r) || absl::FromUnixMicros(r.expires_micros) <= now) {
        batch.Delete(it->key());
        continue;
      }
      if (it->key().ToString() == record_key) {
        present = true;
        continue;  // replaced below
      }
      ++held;
      if (!owner.empty() && r.owner == owner) of_owner[r.sequence] = it->key().ToString();
    }
    if (present && limits.only_if_absent) {
      db_->db()->Write(leveldb::WriteOptions(), &batch);
      return absl::AlreadyExistsError(absl::StrCat("a record of kind ", kind, " is held"));
    }
    if (held >= limits.max_of_kind && !present) {
      db_->db()->Write(leveldb::WriteOptions(), &batch);
      return absl::ResourceExhaustedError(
          absl::StrCat(limits.max_of_kind, " records of kind ", kind, " are held"));
    }
    if (limits.refuse_beyond_per_owner > 0 && !owner.empty() &&
        of_owner.size() >= limits.refuse_beyond_per_owner) {
      db_->db()->Write(leveldb::WriteOptions(), &batch);
      return OwnerHoldsTooManyRecords(kind, limits.refuse_beyond_per_owner);
    }
    bool evicts = present;  // replacing a live record ends the old one
    if (limits.max_per_owner > 0 && !owner.empty()) {
      while (of_owner.size() >= limits.max_per_owner) {  // the oldest go
        batch.Delete(of_owner.begin()->second);
        of_owner.erase(of_owner.begin());
        evicts = true;
      }
    }
    StoredRecord record{absl::ToUnixMicros(expires), ++sequence_, std::string(owner),
                        std::string(value)};
    batch.Put(record_key, Encode(record));
    // A batch that ends a live record (the owner's oldest session) is
    // synced, as every deletion is: an ended session must not come back
    // after a power loss; so is an only-if-absent record (a used console
    // challenge), which must stay used.
    return FromLevelDb(
        db_->db()->Write(evicts || limits.only_if_absent ? Synced() : leveldb::WriteOptions(),
                         &batch),
        "the console's records could not be written");
  }

  absl::StatusOr<std::optional<std::string>> Get(absl::string_view kind, absl::string_view key,
                                                 bool take, absl::Time now) override {
    const std::string record_key = absl::StrCat(kRecordPrefix, kind, "/", key);
    absl::MutexLock lock(&mu_);  // of two takers, one gets it
    std::string bytes;
    const leveldb::Status read = db_->db()->Get(leveldb::ReadOptions(), record_key, &bytes);
    if (read.IsNotFound()) return std::nullopt;
    if (!read.ok()) return FromLevelDb(read, "the console's records could not be read");
    StoredRecord r;
    const bool expired = !Decode(bytes, &r) || absl::FromUnixMicros(r.expires_micros) <= now;
    if (expired || take) {
      // A taken ticket or challenge must stay taken, even after a power loss.
      if (absl::Status s = FromLevelDb(db_->db()->Delete(Synced(), record_key),
                                       "the console's records could not be written");
          !s.ok()) {
        return s;
      }
    }
    if (expired) return std::nullopt;
    return std::optional<std::string>(std::move(r.value));
  }

  absl::Status Delete(absl::string_view kind, absl::string_view key) override {
    const std::string record_key = absl::StrCat(kRecordPrefix, kind, "/", key);
    absl::MutexLock lock(&mu_);
    // A key that holds nothing costs a read, not a synced write: anyone can
    // ask to sign out a session that does not exist.
    std::string bytes;
    const leveldb::Status read = db_->db()->Get(leveldb::ReadOptions(), record_key, &bytes);
    if (read.IsNotFound()) return absl::OkStatus();
    if (!read.ok()) return FromLevelDb(read, "the console's records could not be read");
    return FromLevelDb(db_->db()->Delete(Synced(), record_key),
                       "the console's records could not be written");
  }

 private:
  const std::shared_ptr<EphemeralStore::Database> db_;
  absl::Mutex mu_;
  uint64_t sequence_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

absl::StatusOr<std::unique_ptr<EphemeralStore>> EphemeralStore::Open(
    const std::string& directory, EphemeralStoreOptions options, absl::Time now) {
  if (mkdir(directory.c_str(), 0700) != 0 && errno != EEXIST) {
    return absl::UnavailableError(absl::StrCat(directory, ": cannot create the directory"));
  }
  leveldb::Options db_options;
  db_options.create_if_missing = true;
  if (options.env != nullptr) db_options.env = options.env;
  leveldb::DB* raw = nullptr;
  if (absl::Status s = FromLevelDb(leveldb::DB::Open(db_options, directory, &raw),
                                   absl::StrCat(directory, ": cannot open"));
      !s.ok()) {
    return s;
  }
  auto db = std::make_shared<Database>(std::unique_ptr<leveldb::DB>(raw));
  leveldb::DB& d = *db->db();

  // Could anything written without an fsync have been lost since the store
  // was last open? Not if it was closed cleanly, nor if the machine has not
  // booted since (the kernel still held what a killed process wrote).
  std::string stored_boot;
  std::string clean;
  const bool known = d.Get(leveldb::ReadOptions(), kBootKey, &stored_boot).ok();
  const bool closed_cleanly = d.Get(leveldb::ReadOptions(), kCleanKey, &clean).ok();
  const std::string boot = ReadBootId(options.boot_id_file);
  const bool nothing_lost = known && (closed_cleanly || (!boot.empty() && boot == stored_boot));
  // After a loss, credentials signed before this open are refused, and go
  // on being refused by later opens (even clean ones) for as long as one
  // signed before it could still be accepted: a later restart must not
  // bring the lost nonces' credentials back.
  absl::Time not_before = absl::InfinitePast();
  std::string stored_not_before;
  int64_t stored_seconds = 0;
  if (d.Get(leveldb::ReadOptions(), kNotBeforeKey, &stored_not_before).ok() &&
      absl::SimpleAtoi(stored_not_before, &stored_seconds)) {
    not_before = absl::FromUnixSeconds(stored_seconds);
  }
  if (!nothing_lost) not_before = now;
  const bool keep_not_before =
      not_before != absl::InfinitePast() &&
      now - not_before <= read_auth::kReadWindow + read_auth::kReadLead + absl::Seconds(1);
  if (!keep_not_before) not_before = absl::InfinitePast();
  {
    leveldb::WriteBatch batch;
    batch.Delete(kCleanKey);
    batch.Put(kBootKey, boot);
    if (keep_not_before) {
      batch.Put(kNotBeforeKey, absl::StrCat(absl::ToUnixSeconds(not_before)));
    } else {
      batch.Delete(kNotBeforeKey);
    }
    leveldb::WriteOptions synced;
    synced.sync = true;
    if (absl::Status s = FromLevelDb(d.Write(synced, &batch), absl::StrCat(directory, ": cannot write"));
        !s.ok()) {
      return s;
    }
  }

  std::unique_ptr<EphemeralStore> store(new EphemeralStore());
  store->db_ = db;
  db->Arm();
  store->nonces_not_before_ = not_before;
  auto nonces = std::make_shared<StoredNonceMemory>(
      db, read_auth::NewLocalNonceMemory({options.max_remembered, options.max_remembered_per_key,
                                          store->nonces_not_before_}));
  const int64_t seconds = absl::ToUnixSeconds(now);
  leveldb::WriteBatch expired;
  uint64_t sequence = 0;
  std::unique_ptr<leveldb::Iterator> it(d.NewIterator(leveldb::ReadOptions()));
  // The prefix, the expiry, a key id (16 hex digits) and a nonce (32; the
  // memory takes no other).
  constexpr size_t kNonceKeyBytes = 2 + 8 + 16 + 32;
  for (it->Seek(kNoncePrefix); it->Valid() && it->key().starts_with(kNoncePrefix); it->Next()) {
    const std::string key = it->key().ToString();
    const int64_t expires = key.size() == kNonceKeyBytes
                                ? static_cast<int64_t>(FromBigEndian64(key.substr(2, 8)))
                                : -1;
    if (expires < seconds ||
        !nonces->Load(key.substr(10, 16), key.substr(26), expires, now).ok()) {
      expired.Delete(key);
      continue;
    }
    ++store->nonces_loaded_;
  }
  for (it->Seek(kRecordPrefix); it->Valid() && it->key().starts_with(kRecordPrefix); it->Next()) {
    StoredRecord r;
    if (Decode(it->value().ToString(), &r)) sequence = std::max(sequence, r.sequence);
  }
  d.Write(leveldb::WriteOptions(), &expired);  // what is not deleted now is later
  store->nonces_ = std::move(nonces);
  store->records_ = std::make_shared<StoredRecords>(db, sequence);
  return store;
}

EphemeralStore::~EphemeralStore() = default;

}  // namespace chemledger
