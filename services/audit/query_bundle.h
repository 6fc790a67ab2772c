// Query bundles: a query's events exported with their proofs, to keep or to
// hand on (proto/chemledger/v1/audit_service.proto, QueryBundlePart;
// docs/audit.md, "Exporting a query"). A bundle is a sequence of parts:
// a header (the checkpoint, the query, the label keys' trust list, and a
// consistency proof from a kept checkpoint when asked), events in chunks
// with inclusion proofs that share their nodes within a chunk, the
// registrations of the events' signers (each before the first event its key
// signed), and a trailer (counts, and a digest of every part before it).
//
// ExportQueryBundle (the server's side) reads everything at one snapshot and
// hands the parts to a callback as it goes, so an export of a million
// events never sits whole in memory.
//
// QueryBundleVerifier (the offline side; chemaudit verify) takes the parts
// in order and fails at the first thing that does not hold, naming the part
// and field:
//   - the format, and no fields the format does not define;
//   - the checkpoint's signature by the pinned key; with a kept checkpoint,
//     the consistency proof from it; the trust list's signature;
//   - every entry's inclusion proof into the checkpoint's tree;
//   - every registration as in a history bundle (history_bundle.h), each
//     signed by a key registered earlier in the log and given earlier in the
//     bundle;
//   - every event: signed by a registered key given before it, by an actor
//     that may record it; in the query's order (event time, then log index);
//     and matching what the query says where the event itself shows it (step,
//     enterprise, site, period);
//   - a reconciliation, when it carries one: of the query's goods, place and
//     period, at the checkpoint's size, every balance and total re-added
//     (reconciliation_check.h);
//   - the trailer's counts and digest, and nothing after it.
// What it cannot check: that the bundle holds every event the query matches
// (the server's indexes are not proved), and goods filters (CAS, catalogue
// entry, control flag), which the events do not carry.
//
// Thread-safety: ExportQueryBundle is a pure function of its arguments; a
// QueryBundleVerifier is used by one thread.

#ifndef CHEMLEDGER_SERVICES_AUDIT_QUERY_BUNDLE_H_
#define CHEMLEDGER_SERVICES_AUDIT_QUERY_BUNDLE_H_

#include <cstdint>
#include <functional>
#include <istream>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "chemledger/v1/audit_service.pb.h"
#include "chemledger/v1/registry.pb.h"
#include "crypto/checkpoint.h"
#include "services/notary/notary.h"
#include "storage/store.h"

namespace chemledger::audit {

inline constexpr char kQueryBundleFormat[] = "chemledger query bundle v1";
// Events per QueryBundleEvents part.
inline constexpr int kQueryBundleChunk = 1000;

// Exports the events `request.query` finds for `reader` at `snapshot`,
// handing each part to `emit` in order (false from `emit`: the receiver is
// gone, Cancelled). The checkpoint and the trust list (the one in force on
// `today`) are signed by the ledger's note key (`notary`). For regulators and platform administrators
// whose department reads events whole (PermissionDenied otherwise, or when
// an event was recorded outside the reader's jurisdiction); InvalidArgument
// naming the field for a malformed query.
absl::Status ExportQueryBundle(const storage::Snapshot& snapshot, const v1::Actor& reader,
                               const notary::LedgerNotary& notary, absl::CivilDay today,
                               const v1::ExportEventsRequest& request,
                               const std::function<bool(const v1::QueryBundlePart&)>& emit);

// A bundle file: each part's length as a varint, then the part's bytes
// (as serialized), one after another.
std::string FramedPart(const std::string& serialized_part);
// The next part's bytes from `in`; nullopt at the end of the file;
// InvalidArgument for a frame cut short or over 64 MiB.
absl::StatusOr<std::optional<std::string>> ReadFramedPart(std::istream& in);

// What a verified bundle shows.
struct VerifiedQuery {
  v1::EventQuery query;
  // Who exported it (the header's word; empty in bundles made before it was
  // written): the query is narrowed to what it oversees.
  v1::Actor exported_by;
  uint64_t tree_size = 0;
  uint64_t events = 0;
  uint64_t registrations = 0;
  size_t signers = 0;
  bool consistent_with_kept = false;
  // The bundle carried a reconciliation, and it adds up
  // (reconciliation_check.h).
  bool reconciled = false;
  v1::Reconciliation reconciliation;
};

class QueryBundleVerifier {
 public:
  // `kept`: a checkpoint the verifier kept (opened with the same key), or
  // nullopt. `on_event`, when given, sees each event once it is verified
  // (its log index and entry bytes), e.g. to write it as EPCIS.
  QueryBundleVerifier(const crypto::NoteVerifier& note_key, std::optional<crypto::Checkpoint> kept,
                      std::function<void(uint64_t, const std::string&)> on_event = nullptr);
  ~QueryBundleVerifier();

  // The next part, exactly as serialized in the bundle.
  absl::Status Add(const std::string& serialized_part);

  // Once every part is in: what the bundle shows, or why it is not whole.
  absl::StatusOr<VerifiedQuery> Finish() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace chemledger::audit

#endif  // CHEMLEDGER_SERVICES_AUDIT_QUERY_BUNDLE_H_
