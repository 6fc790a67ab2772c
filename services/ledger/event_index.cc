#include "services/ledger/event_index.h"

#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "services/ledger/time_key.h"

namespace chemledger::ledger {
namespace {

constexpr absl::string_view kByEnterprise = "l/ev/";
constexpr absl::string_view kAll = "l/evt/";
constexpr absl::string_view kByProduct = "l/pev/";
constexpr absl::string_view kByWaybill = "l/wev/";

std::string ListPrefix(EventList list, absl::string_view key) {
  switch (list) {
    case EventList::kEnterprise: return absl::StrCat(kByEnterprise, key, "/");
    case EventList::kProduct: return absl::StrCat(kByProduct, key, "/");
    case EventList::kAll: break;
  }
  return std::string(kAll);
}

// How a list's value leads to the record: it is the record (the
// enterprise's list), or the enterprise's USCC (the others: the record is
// under "<enterprise>/<the key's time and index>"), or
// "<enterprise>/<time>/<index>" (a waybill's list).
enum class Held { kRecord, kEnterprise, kEnterpriseAndPosition };

absl::Status Scan(const storage::StateReader& state, const std::string& begin,
                  const std::string& end, Held held, const EventIndexVisitor& visit) {
  absl::Status bad = absl::OkStatus();
  absl::Status scanned =
      state.Scan(begin, end, [&](absl::string_view key, absl::string_view value) {
        std::string bytes;
        if (held == Held::kRecord) {
          bytes = std::string(value);
        } else {
          // The key ends "<time>/<index>" (33 characters) in a time list.
          const std::string where =
              held == Held::kEnterprise && key.size() >= 33
                  ? absl::StrCat(kByEnterprise, value, "/", key.substr(key.size() - 33))
                  : absl::StrCat(kByEnterprise, value);
          absl::StatusOr<std::optional<std::string>> record = state.Get(where);
          if (!record.ok()) {
            bad = record.status();
            return false;
          }
          if (!*record) {
            bad = absl::DataLossError(absl::StrCat("event index ", key, " leads nowhere"));
            return false;
          }
          bytes = **std::move(record);
        }
        state::EventIndexRecord r;
        if (!r.ParseFromString(bytes)) {
          bad = absl::DataLossError(absl::StrCat("event index ", key, " does not parse"));
          return false;
        }
        return visit(r);
      });
  return scanned.ok() ? bad : scanned;
}

}  // namespace

// The record is kept once, under its enterprise; the other lists hold the
// enterprise's USCC, to find it (an event writes less; a query of those
// lists reads a little more).
void WriteEventIndex(const state::EventIndexRecord& record, storage::StateWrites* changes) {
  const std::string at =
      absl::StrCat(TimeKey(record.event_unix_micros()), "/", IndexKey(record.log_index()));
  changes->Put(absl::StrCat(ListPrefix(EventList::kEnterprise, record.enterprise()), at),
               record.SerializeAsString());
  changes->Put(absl::StrCat(ListPrefix(EventList::kAll, ""), at), record.enterprise());
  for (const std::string& product : record.products()) {
    changes->Put(absl::StrCat(ListPrefix(EventList::kProduct, product), at), record.enterprise());
  }
  if (!record.waybill().empty()) {
    changes->Put(absl::StrCat(kByWaybill, record.waybill(), "/", IndexKey(record.log_index())),
                 absl::StrCat(record.enterprise(), "/", at));
  }
}

absl::Status ScanEventIndex(const storage::StateReader& state, EventList list,
                            absl::string_view key, absl::Time from, absl::Time to,
                            const EventPosition* after, const EventIndexVisitor& visit) {
  if (to <= from) return absl::OkStatus();
  const std::string prefix = ListPrefix(list, key);
  std::string begin = absl::StrCat(prefix, TimeKey(from));
  if (after != nullptr) {
    // Just past the last one examined ("~" sorts after the index's hex
    // digits, and before the next time's).
    std::string past = absl::StrCat(prefix, TimeKey(after->event_unix_micros), "/",
                                    IndexKey(after->log_index), "~");
    if (past > begin) begin = std::move(past);
  }
  const std::string end = to == absl::InfiniteFuture() ? storage::PrefixEnd(prefix)
                                                       : absl::StrCat(prefix, TimeKey(to));
  return Scan(state, begin, end,
              list == EventList::kEnterprise ? Held::kRecord : Held::kEnterprise, visit);
}

void WriteControlledLoss(uint64_t log_index, absl::string_view code,
                         absl::string_view custodian, storage::StateWrites* changes) {
  changes->Put(absl::StrCat("l/closs/", IndexKey(log_index), "/", code), custodian);
}

absl::Status ScanControlledLosses(const storage::StateReader& state, uint64_t after,
                                  const std::function<bool(const ControlledLoss&)>& visit) {
  const std::string prefix = "l/closs/";
  absl::Status bad = absl::OkStatus();
  absl::Status scanned = state.Scan(
      absl::StrCat(prefix, IndexKey(after + 1)), storage::PrefixEnd(prefix),
      [&](absl::string_view key, absl::string_view value) {
        const absl::string_view rest = key.substr(prefix.size());
        ControlledLoss loss;
        if (rest.size() < 18 || rest[16] != '/' ||
            !absl::SimpleHexAtoi(rest.substr(0, 16), &loss.log_index)) {
          bad = absl::DataLossError(absl::StrCat("controlled loss ", key, " is malformed"));
          return false;
        }
        loss.code = std::string(rest.substr(17));
        loss.custodian = std::string(value);
        return visit(loss);
      });
  return scanned.ok() ? bad : scanned;
}

absl::Status ScanWaybillEvents(const storage::StateReader& state, absl::string_view carrier,
                               absl::string_view number, const EventIndexVisitor& visit) {
  const std::string prefix = absl::StrCat(kByWaybill, carrier, "/", number, "/");
  return Scan(state, prefix, storage::PrefixEnd(prefix), Held::kEnterpriseAndPosition, visit);
}

}  // namespace chemledger::ledger
