#include "services/waybill/waybill_reads.h"

#include <optional>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "services/common/page_cursor.h"
#include "services/common/page_size.h"
#include "services/registry/oversight.h"
#include "services/registry/registry_state.h"
#include "services/waybill/controlled_goods.h"
#include "services/waybill/waybill_state.h"

namespace chemledger::waybill {
namespace {

bool IsParty(const v1::Actor& reader, const v1::Waybill& w) {
  return !reader.enterprise_uscc().empty() && (reader.enterprise_uscc() == w.carrier_uscc() ||
                                               reader.enterprise_uscc() == w.consignor().uscc() ||
                                               reader.enterprise_uscc() == w.consignee().uscc());
}

// Whether `reader`, a regulator or platform administrator, reads the
// waybill: its department's kind of waybill, with a party in its
// jurisdiction (registry/oversight.h); false for anyone else.
absl::StatusOr<bool> Oversees(registry::OversightMemo& memo, const v1::Actor& reader,
                              const v1::Waybill& w) {
  // The department's waybills (registry/oversight.h)...
  switch (registry::DepartmentReads(reader, registry::RecordKind::kWaybills)) {
    case registry::Reads::kNone:
      return false;
    case registry::Reads::kAll:
      break;
    case registry::Reads::kControlledGoods: {
      absl::StatusOr<bool> controlled = CarriesControlledGoods(memo.state(), w);
      if (!controlled.ok()) return controlled.status();
      if (!*controlled) return false;
      break;
    }
    case registry::Reads::kWaste:
      if (!registry::CarriesWaste(w)) return false;
      break;
  }
  // ...with a party in its jurisdiction.
  for (const std::string* uscc :
       {&w.carrier_uscc(), &w.consignor().uscc(), &w.consignee().uscc()}) {
    absl::StatusOr<bool> oversees = memo.Enterprise(*uscc);
    if (!oversees.ok()) return oversees.status();
    if (*oversees) return true;
  }
  return false;
}

// Whether `reader` reads the waybill: a party to it, or a regulator that
// oversees it.
absl::StatusOr<bool> MayRead(registry::OversightMemo& memo, const v1::Actor& reader,
                             const v1::Waybill& w) {
  if (IsParty(reader, w)) return true;
  return Oversees(memo, reader, w);
}

// `code_key`: CodeKey(), looked up once per call; no code without one.
void FillRecord(const storage::StateReader& snapshot,
                const absl::StatusOr<const crypto::SigningKey*>& code_key,
                const WaybillState& state, v1::WaybillRecord* out) {
  if (code_key.ok()) {
    if (absl::StatusOr<std::string> code = WaybillCode(snapshot, state, **code_key); code.ok()) {
      out->set_waybill_code(*std::move(code));
    }
  }
  *out->mutable_waybill() = state.waybill;
  out->set_status(state.status);
  out->set_log_index(state.log_index);
  out->set_revision(state.content_log_index);
  for (const std::string& c : state.shipped) out->add_shipped(c);
  for (const std::string& c : state.received) out->add_received(c);
}

}  // namespace

std::string ListWaybillsToken(const WaybillListPosition& position) {
  return SealPageCursor(absl::StrCat(position.log_size, ":", position.after));
}

absl::StatusOr<WaybillListPosition> OpenListWaybillsToken(absl::string_view token) {
  absl::StatusOr<std::string> opened = OpenPageCursor(token);
  if (!opened.ok()) return opened.status();
  const size_t colon = opened->find(':');
  WaybillListPosition position;
  if (colon == std::string::npos ||
      !absl::SimpleAtoi(absl::string_view(*opened).substr(0, colon), &position.log_size)) {
    return absl::InvalidArgumentError(
        "page_token: not a token this server gave (start the listing again)");
  }
  position.after = opened->substr(colon + 1);
  return position;
}

WaybillReads::WaybillReads(const WaybillBook* book, std::function<absl::Time()> clock)
    : book_(book), clock_(clock ? std::move(clock) : [] { return absl::Now(); }) {}

absl::StatusOr<v1::WaybillRecord> WaybillReads::GetWaybill(
    const storage::Snapshot& snapshot, const v1::Actor& reader,
    const v1::GetWaybillRequest& request) const {
  if (request.waybill_number().empty()) {
    return absl::InvalidArgumentError("waybill_number: required");
  }
  // Numbers are unique per carrier: the one named, or else the one waybill
  // of that number this reader may read.
  registry::OversightMemo memo(snapshot, reader);
  std::optional<WaybillState> state;
  bool numbered_unread = false;  // by number alone: some waybill so numbered is not the reader's
  if (!request.carrier_uscc().empty()) {
    absl::StatusOr<std::optional<WaybillState>> found =
        FindWaybill(snapshot, request.carrier_uscc(), request.waybill_number());
    if (!found.ok()) return found.status();
    state = *std::move(found);
  } else {
    absl::StatusOr<std::vector<WaybillState>> numbered =
        WaybillsNumbered(snapshot, request.waybill_number());
    if (!numbered.ok()) return numbered.status();
    int readable = 0;
    for (WaybillState& w : *numbered) {
      absl::StatusOr<bool> may_read = MayRead(memo, reader, w.waybill);
      if (!may_read.ok()) return may_read.status();
      if (!*may_read) {
        numbered_unread = true;
        continue;
      }
      if (++readable > 1) {
        return absl::InvalidArgumentError(
            absl::StrCat("carrier_uscc: several waybills numbered '", request.waybill_number(),
                         "' are yours to read (numbers are unique per carrier): name the carrier"));
      }
      state = std::move(w);
    }
  }
  // An emergency responder reads what is on a vehicle after breaking glass
  // for its waybill (RegistryRequest.break_glass, recorded first).
  absl::StatusOr<bool> responder =
      request.carrier_uscc().empty()
          ? false
          : registry::HasBreakGlassForWaybill(snapshot, reader, request.carrier_uscc(),
                                              request.waybill_number(), clock_());
  if (!responder.ok()) return responder.status();
  // Whether a waybill exists is told to those who may read it, and to
  // regulators who oversee everything: NOT_FOUND when there is none,
  // PERMISSION_DENIED when their department does not read it. (One found
  // by number alone was found because the reader may read it.)
  bool may = false;
  if (state && !request.carrier_uscc().empty()) {
    absl::StatusOr<bool> may_read = MayRead(memo, reader, state->waybill);
    if (!may_read.ok()) return may_read.status();
    may = *may_read;
  } else {
    may = state.has_value() || (registry::OverseesEverything(reader) && !numbered_unread);
  }
  if (!*responder && !may) {
    return absl::PermissionDeniedError(
        "read credentials: only the waybill's carrier, consignor, consignee or a regulator whose "
        "jurisdiction holds one of them may read it");
  }
  if (!state) {
    return absl::NotFoundError(
        absl::StrCat("waybill_number: no waybill '", request.waybill_number(), "'"));
  }
  v1::WaybillRecord record;
  FillRecord(snapshot, book_->CodeKey(snapshot), *state, &record);
  // Its signed changes, each with its entry's exact bytes (one waybill's
  // read only: a listing does not carry them).
  absl::StatusOr<std::vector<uint64_t>> changes =
      WaybillChanges(snapshot, WaybillRef(state->waybill.carrier_uscc(), request.waybill_number()));
  if (!changes.ok()) return changes.status();
  for (uint64_t index : *changes) {
    absl::StatusOr<std::string> entry = snapshot.Entry(index);
    if (!entry.ok()) return entry.status();
    v1::WaybillChange* change = record.add_changes();
    change->set_log_index(index);
    change->set_entry(*std::move(entry));
  }
  return record;
}

absl::StatusOr<WaybillReads::ListWaybillsPage> WaybillReads::ListWaybills(
    const storage::Snapshot& snapshot, const v1::Actor& reader,
    const v1::ListWaybillsRequest& request, const std::string& after) const {
  absl::StatusOr<size_t> limit = PageSizeOf(request.page_size(), 100);
  if (!limit.ok()) return limit.status();
  const v1::ListWaybillsRequest& f = request;
  registry::OversightMemo memo(snapshot, reader);
  absl::Status failure;  // the registry could not be read
  const auto reads = [&](const v1::Waybill& w) {
    absl::StatusOr<bool> may_read = MayRead(memo, reader, w);
    if (!may_read.ok()) failure.Update(may_read.status());
    return may_read.ok() && *may_read;
  };
  const auto keep = [&](const WaybillState& s) {
    const v1::Waybill& w = s.waybill;
    const int64_t departure = w.planned_departure().seconds();
    return reads(w) && (f.carrier_uscc().empty() || w.carrier_uscc() == f.carrier_uscc()) &&
           (f.consignor_uscc().empty() || w.consignor().uscc() == f.consignor_uscc()) &&
           (f.consignee_uscc().empty() || w.consignee().uscc() == f.consignee_uscc()) &&
           (f.vehicle_plate().empty() || w.vehicle().plate() == f.vehicle_plate()) &&
           (f.departure_from() == 0 || departure >= f.departure_from()) &&
           (f.departure_to() == 0 || departure < f.departure_to());
  };
  ListWaybillsPage page;
  page.response.set_log_size(snapshot.size());
  // Through the index of one party when there is one to read: the caller's
  // own enterprise (an enterprise lists only waybills it is party to), or
  // for a regulator the party the request names. A regulator's listing by
  // plate or time alone reads all waybills, kMaxWaybillsExamined a page.
  std::string party;
  if (!registry::HasOversightRole(reader)) {
    party = reader.enterprise_uscc();
    if (party.empty()) return page;  // party to no waybill
  } else if (!f.carrier_uscc().empty()) {
    party = f.carrier_uscc();
  } else if (!f.consignor_uscc().empty()) {
    party = f.consignor_uscc();
  } else {
    party = f.consignee_uscc();
  }
  absl::StatusOr<WaybillPage> found =
      party.empty() ? waybill::ListWaybills(snapshot, after, *limit, keep)
                    : waybill::ListWaybillsOf(snapshot, party, after, *limit, keep);
  if (!found.ok()) return found.status();
  if (!failure.ok()) return failure;
  const absl::StatusOr<const crypto::SigningKey*> code_key = book_->CodeKey(snapshot);
  for (const WaybillState& s : found->waybills) {
    FillRecord(snapshot, code_key, s, page.response.add_waybills());
  }
  page.resume_after = std::move(found->resume_after);
  return page;
}

absl::StatusOr<v1::VehiclesInPark> WaybillReads::ListVehiclesInPark(
    const storage::Snapshot& snapshot, const v1::Actor& reader,
    const v1::ListVehiclesInParkRequest& request) const {
  if (request.park_id().empty()) return absl::InvalidArgumentError("park_id: required");
  absl::StatusOr<bool> oversees =
      registry::DepartmentReads(reader, registry::RecordKind::kVehicles) == registry::Reads::kAll
          ? registry::OverseesPark(snapshot, reader, request.park_id())
          : absl::StatusOr<bool>(false);
  if (!oversees.ok()) return oversees.status();
  const bool allowed =
      *oversees || (reader.role() == v1::PARK_GATE && reader.park_id() == request.park_id());
  if (!allowed) {
    return absl::PermissionDeniedError(
        "park_id: the vehicles inside a park are read by the park's gates and regulators whose "
        "jurisdiction holds the park");
  }
  absl::StatusOr<std::vector<VehicleInPark>> inside = VehiclesInPark(snapshot, request.park_id());
  if (!inside.ok()) return inside.status();
  v1::VehiclesInPark response;
  for (const VehicleInPark& v : *inside) {
    absl::StatusOr<std::optional<WaybillState>> w = FindWaybillByRef(snapshot, v.waybill_ref);
    if (!w.ok()) return w.status();
    DescribeVehicleInPark(v, w->has_value() ? &**w : nullptr, response.add_vehicles());
  }
  response.set_log_size(snapshot.size());
  return response;
}

}  // namespace chemledger::waybill
