// Small records that live for minutes (the console's challenge key, two
// days) and that every instance of a service
// must see alike: the regulator console's used sign-in challenges and the
// key its challenges are made with, one-time tickets and sessions (web/console_sessions.h). Kept by
// one process (chemledgerd, or ledgerd, which the cluster's auditd instances ask through its
// internal port: services/ledgerd/remote_ledger.h), on disk beside the store (ephemeral_store.h),
// so that its restart signs no one out; or in memory only (NewLocalEphemeralRecords, for tests).
// Never in the log.
//
// Records are named by a kind ("session") and a key, carry a value and an
// owner (whose records of a kind may be bounded), and expire.
//
// Thread-safety: implementations are thread-safe.

#ifndef CHEMLEDGER_SERVICES_COMMON_EPHEMERAL_RECORDS_H_
#define CHEMLEDGER_SERVICES_COMMON_EPHEMERAL_RECORDS_H_

#include <cstddef>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace chemledger {

class EphemeralRecords {
 public:
  struct Limits {
    size_t max_of_kind = 10000;  // unexpired records of the kind, in all
    size_t max_per_owner = 0;    // of the kind, per owner; 0: no bound
    // ALREADY_EXISTS (nothing kept) when an unexpired record is under the
    // key: of two putters of one key, one succeeds. Such a record is kept
    // durably (synced) where the records are on disk. (A mark that must
    // stay, such as a used challenge, takes no max_per_owner: an owner's
    // oldest would go, and its key be free again.)
    bool only_if_absent = false;
    // RESOURCE_EXHAUSTED (nothing kept, nothing dropped) when `owner`
    // already holds this many unexpired records of the kind: the bound for
    // marks that must stay (only_if_absent), so that one owner cannot take
    // max_of_kind from everyone. 0: no bound.
    size_t refuse_beyond_per_owner = 0;
  };

  virtual ~EphemeralRecords() = default;

  // Keeps `value` under (`kind`, `key`) until `expires`, replacing what was
  // there (or, with limits.only_if_absent, refusing to). When `owner` already has
  // limits.max_per_owner records of the kind, its oldest goes; RESOURCE_EXHAUSTED (nothing kept)
  // when limits.max_of_kind unexpired records of the kind are held, or
  // `owner` holds limits.refuse_beyond_per_owner of them.
  virtual absl::Status Put(absl::string_view kind, absl::string_view key, absl::string_view value,
                           absl::string_view owner, absl::Time expires, const Limits& limits,
                           absl::Time now) = 0;

  // The value under (`kind`, `key`), or nullopt when there is none or it
  // expired. With `take`, the record goes too: of two takers, one gets it.
  virtual absl::StatusOr<std::optional<std::string>> Get(absl::string_view kind,
                                                         absl::string_view key, bool take,
                                                         absl::Time now) = 0;

  // Removes the record, if any (durably where the records are on disk; a
  // key that holds nothing writes nothing).
  virtual absl::Status Delete(absl::string_view kind, absl::string_view key) = 0;
};

std::unique_ptr<EphemeralRecords> NewLocalEphemeralRecords();

// The refusal of a record beyond Limits::refuse_beyond_per_owner (for the
// implementations).
absl::Status OwnerHoldsTooManyRecords(absl::string_view kind, size_t bound);

}  // namespace chemledger

#endif  // CHEMLEDGER_SERVICES_COMMON_EPHEMERAL_RECORDS_H_
