#include "services/ledger/event_view.h"

#include <map>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "chemledger/v1/ledger.pb.h"
#include "crypto/merkle.h"
#include "services/ledger/code_state.h"
#include "services/ledger/event_location.h"
#include "services/registry/oversight.h"

namespace chemledger::ledger {
namespace {

// Entries up to this size are hashed where they are read; larger ones (an
// event of a thousand codes is about 60 KB) take the leaf hash the store
// keeps in its tree, one point read instead of hashing every byte.
constexpr size_t kHashEntriesUpTo = 4096;

absl::StatusOr<crypto::Sha256Digest> LeafHashOf(const storage::StateReader& state, uint64_t index,
                                                const std::string& bytes) {
  if (bytes.size() <= kHashEntriesUpTo) return crypto::HashLeaf(bytes);
  return state.LeafHash(index);
}

// MayRead, asked once per code.
class ReadableCodes {
 public:
  ReadableCodes(const storage::StateReader& state, const v1::Actor& reader)
      : state_(state), reader_(reader) {}
  absl::StatusOr<bool> operator()(const std::string& code) {
    if (auto it = known_.find(code); it != known_.end()) return it->second;
    absl::StatusOr<bool> may = MayRead(state_, reader_, code);
    if (!may.ok()) return may.status();
    known_.emplace(code, *may);
    return *may;
  }

 private:
  const storage::StateReader& state_;
  const v1::Actor& reader_;
  std::map<std::string, bool> known_;
};

}  // namespace

absl::StatusOr<v1::EventRecord> ViewEvent(const storage::StateReader& state,
                                          const v1::Actor& reader, uint64_t index) {
  absl::StatusOr<std::string> bytes = state.Entry(index);
  if (!bytes.ok()) return bytes.status();
  const auto not_an_event = [index] {
    return absl::DataLossError(absl::StrCat("log entry ", index, " is not an event"));
  };
  v1::EventRecord record;
  record.set_log_index(index);
  absl::StatusOr<crypto::Sha256Digest> leaf = LeafHashOf(state, index, *bytes);
  if (!leaf.ok()) return leaf.status();
  record.set_event_hash(leaf->ToBytes());
  v1::LogEntry* entry = record.mutable_entry();
  if (!entry->ParseFromString(*bytes)) return not_an_event();
  const auto whole = [&] {
    record.set_entry_bytes(*std::move(bytes));
    return record;
  };
  // Who sees it whole is decided by where it was recorded, read without
  // parsing its codes: a read of one package's history does not pay for
  // every other package its events name.
  const std::optional<std::string> enterprise =
      EventLocationEnterprise(entry->envelope().payload());
  if (!enterprise) return not_an_event();
  if (reader.enterprise_uscc() == *enterprise && !reader.enterprise_uscc().empty()) {
    return whole();
  }
  // A regulator whose department reads every package sees whole the events
  // of the enterprises it oversees (others, the codes they may read, below).
  absl::StatusOr<bool> oversees =
      registry::OverseesAllOf(state, reader, registry::RecordKind::kPackages, *enterprise);
  if (!oversees.ok()) return oversees.status();
  if (*oversees) return whole();
  v1::Event event;
  v1::EventLinks links;
  if (!event.ParseFromString(entry->envelope().payload()) ||
      !links.ParseFromString(entry->assignment())) {
    return not_an_event();
  }
  ReadableCodes readable(state, reader);
  bool all = true;
  for (const auto& link : links.links()) {
    absl::StatusOr<bool> may = readable(link.code());
    if (!may.ok()) return may.status();
    all &= *may;
  }
  if (all) return whole();

  // Take out what this reader may not read.
  v1::Event shown = event;
  shown.clear_codes();
  // An observation's labels go with their codes (one per code, in order):
  // a label is its package's whole signed claims, and with it a reader
  // could resolve, or claim to have scanned, a package it may not read.
  shown.clear_label_urls();
  const bool labels_by_code = event.label_urls_size() == event.codes_size();
  for (int i = 0; i < event.codes_size(); ++i) {
    absl::StatusOr<bool> k = readable(event.codes(i));
    if (!k.ok()) return k.status();
    if (!*k) continue;
    shown.add_codes(event.codes(i));
    if (labels_by_code) shown.add_label_urls(event.label_urls(i));
  }
  if (!event.parent_code().empty()) {
    absl::StatusOr<bool> k = readable(event.parent_code());
    if (!k.ok()) return k.status();
    if (!*k) shown.clear_parent_code();
  }
  shown.clear_outputs();
  for (const v1::RepackagingOutput& out : event.outputs()) {
    absl::StatusOr<bool> k = readable(out.code());
    if (!k.ok()) return k.status();
    if (*k) *shown.add_outputs() = out;
  }
  v1::EventLinks shown_links;
  for (const auto& link : links.links()) {
    absl::StatusOr<bool> k = readable(link.code());
    if (!k.ok()) return k.status();
    if (*k) *shown_links.add_links() = link;
  }
  entry->mutable_envelope()->set_payload(shown.SerializeAsString());
  entry->mutable_envelope()->clear_signatures();
  entry->set_assignment(shown_links.SerializeAsString());
  record.set_redacted(true);
  return record;
}

}  // namespace chemledger::ledger
