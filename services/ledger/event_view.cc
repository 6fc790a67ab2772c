#include "services/ledger/event_view.h"

#include <map>
#include <string>
#include <utility>

#include "services/registry/oversight.h"
#include "absl/strings/str_cat.h"
#include "chemledger/v1/ledger.pb.h"
#include "crypto/merkle.h"
#include "services/ledger/code_state.h"

namespace chemledger::ledger {
namespace {

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
  v1::EventRecord record;
  record.set_log_index(index);
  record.set_event_hash(crypto::HashLeaf(*bytes).ToBytes());
  v1::LogEntry* entry = record.mutable_entry();
  v1::Event event;
  v1::EventLinks links;
  if (!entry->ParseFromString(*bytes) || !event.ParseFromString(entry->envelope().payload()) ||
      !links.ParseFromString(entry->assignment())) {
    return absl::DataLossError(absl::StrCat("log entry ", index, " is not an event"));
  }
  const auto whole = [&] {
    record.set_entry_bytes(*std::move(bytes));
    return record;
  };
  if (reader.enterprise_uscc() == event.location().enterprise_uscc() &&
      !reader.enterprise_uscc().empty()) {
    return whole();
  }
  // A regulator whose department reads every package sees whole the events
  // of the enterprises it oversees (others, the codes they may read, below).
  absl::StatusOr<bool> oversees = registry::OverseesAllOf(
      state, reader, registry::RecordKind::kPackages, event.location().enterprise_uscc());
  if (!oversees.ok()) return oversees.status();
  if (*oversees) return whole();
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
  for (const std::string& code : event.codes()) {
    absl::StatusOr<bool> k = readable(code);
    if (!k.ok()) return k.status();
    if (*k) shown.add_codes(code);
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
