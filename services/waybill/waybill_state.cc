#include "services/waybill/waybill_state.h"

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "api/china_time.h"
#include "services/ledger/time_key.h"

namespace chemledger::waybill {
namespace internal {

// A waybill's ref is "<carrier>/<number>" (WaybillRef).
//   w/bill/<ref>              state::WaybillRecord
//   w/open/<code>             the ref of the open waybill listing it
//   w/recv/<code>             the ref of the waybill it was last received under
//   w/num/<number>/<carrier>  "": the carriers with a waybill of that number
//   w/party/<uscc>/<ref>      "": the enterprise is party to the waybill
//   w/auth/<consignor>/<carrier>  state::CarrierAuthorizationRecord
//   w/chg/<ref>/<log index, 20 digits>  "": a change to the waybill
//   w/inpark/<park id>/<ref>  state::InParkRecord: the vehicle is inside the park
//   w/inplate/<park id>/<plate>  the ref it entered on: that vehicle is inside
//                             (entries from rules epoch 9)
//   w/due/<planned arrival>/<ref>  "": goods shipped on it, not closed or cancelled
std::string WaybillKey(absl::string_view ref) { return absl::StrCat("w/bill/", ref); }
std::string NumberPrefix(absl::string_view number) { return absl::StrCat("w/num/", number, "/"); }
std::string NumberKey(absl::string_view number, absl::string_view carrier) {
  return absl::StrCat(NumberPrefix(number), carrier);
}
std::string OpenKey(absl::string_view code) { return absl::StrCat("w/open/", code); }
std::string ReceivedKey(absl::string_view code) { return absl::StrCat("w/recv/", code); }
std::string ReceiptValue(absl::string_view ref, uint64_t log_index) {
  return absl::StrCat(ref, "\n", log_index);
}
Receipt ParseReceiptValue(absl::string_view value) {
  Receipt r;
  const size_t newline = value.rfind('\n');
  if (newline == absl::string_view::npos ||
      !absl::SimpleAtoi(value.substr(newline + 1), &r.log_index)) {
    r.ref = std::string(value);
    r.log_index = 0;
    return r;
  }
  r.ref = std::string(value.substr(0, newline));
  return r;
}
std::string AuthorizationKey(absl::string_view consignor, absl::string_view carrier) {
  return absl::StrCat("w/auth/", consignor, "/", carrier);
}
std::string ChangePrefix(absl::string_view number) { return absl::StrCat("w/chg/", number, "/"); }
std::string ChangeKey(absl::string_view number, uint64_t log_index) {
  return absl::StrCat(ChangePrefix(number), absl::StrFormat("%020d", log_index));
}

std::string InParkPrefix(absl::string_view park_id) {
  return absl::StrCat("w/inpark/", park_id, "/");
}
std::string InParkKey(absl::string_view park_id, absl::string_view ref) {
  return absl::StrCat(InParkPrefix(park_id), ref);
}
std::string InParkPlateKey(absl::string_view park_id, absl::string_view plate) {
  return absl::StrCat("w/inplate/", park_id, "/", plate);
}

std::string DueKey(const WaybillState& s, absl::string_view ref) {
  if (s.shipped.empty() || s.status == v1::CLOSED || s.status == v1::CANCELLED ||
      !s.waybill.has_planned_arrival()) {
    return "";
  }
  // Nothing on the road: every code shipped so far was received.
  bool on_the_road = false;
  for (const std::string& code : s.shipped) on_the_road = on_the_road || !s.received.count(code);
  if (!on_the_road) return "";
  const int64_t micros = s.waybill.planned_arrival().seconds() * 1000000 +
                         s.waybill.planned_arrival().nanos() / 1000;
  return absl::StrCat("w/due/", ledger::TimeKey(micros), "/", ref);
}

std::string PartyPrefix(absl::string_view party) { return absl::StrCat("w/party/", party, "/"); }
std::string PartyKey(absl::string_view party, absl::string_view number) {
  return absl::StrCat(PartyPrefix(party), number);
}

state::WaybillRecord ToRecord(const WaybillState& s) {
  state::WaybillRecord r;
  *r.mutable_waybill() = s.waybill;
  r.set_status(s.status);
  r.set_log_index(s.log_index);
  r.set_content_log_index(s.content_log_index);
  for (const std::string& c : s.shipped) r.add_shipped(c);
  for (const std::string& c : s.received) r.add_received(c);
  r.set_status_before_close(s.status_before_close);
  return r;
}

WaybillState FromRecord(const state::WaybillRecord& r) {
  WaybillState s;
  s.waybill = r.waybill();
  s.status = r.status();
  s.log_index = r.log_index();
  s.content_log_index = r.content_log_index();
  s.shipped.insert(r.shipped().begin(), r.shipped().end());
  s.received.insert(r.received().begin(), r.received().end());
  s.status_before_close = r.status_before_close();
  return s;
}

}  // namespace internal

std::string WaybillRef(absl::string_view carrier, absl::string_view number) {
  return absl::StrCat(carrier, "/", number);
}

std::string NumberOfRef(absl::string_view ref) {
  const size_t slash = ref.find('/');
  return std::string(slash == absl::string_view::npos ? ref : ref.substr(slash + 1));
}

std::string CarrierOfRef(absl::string_view ref) {
  return std::string(ref.substr(0, ref.find('/')));
}

absl::StatusOr<std::optional<WaybillState>> FindWaybill(const storage::StateReader& state,
                                                        absl::string_view carrier,
                                                        absl::string_view number) {
  // Neither a USCC nor a number holds a '/': a ref names one pair.
  if (carrier.empty() || number.empty() || absl::StrContains(carrier, '/')) return std::nullopt;
  return FindWaybillByRef(state, WaybillRef(carrier, number));
}

absl::StatusOr<std::vector<WaybillState>> WaybillsNumbered(const storage::StateReader& state,
                                                           absl::string_view number) {
  std::vector<std::string> carriers;
  if (number.empty()) return std::vector<WaybillState>();
  const std::string prefix = internal::NumberPrefix(number);
  absl::Status s = state.Scan(prefix, storage::PrefixEnd(prefix),
                              [&](absl::string_view key, absl::string_view) {
                                carriers.emplace_back(key.substr(prefix.size()));
                                return true;
                              });
  if (!s.ok()) return s;
  std::vector<WaybillState> out;
  for (const std::string& carrier : carriers) {
    absl::StatusOr<std::optional<WaybillState>> w = FindWaybill(state, carrier, number);
    if (!w.ok()) return w.status();
    if (!*w) {
      return absl::DataLossError(
          absl::StrCat("the number index lists waybill '", number, "' of ", carrier,
                       ", which is missing"));
    }
    out.push_back(**std::move(w));
  }
  return out;
}

absl::StatusOr<std::optional<WaybillState>> OpenShipmentWaybill(
    const storage::StateReader& state, absl::string_view number, absl::string_view consignor,
    absl::string_view code) {
  absl::StatusOr<std::optional<std::string>> open = OpenWaybillOf(state, code);
  if (!open.ok()) return open.status();
  if (!*open || NumberOfRef(**open) != number) return std::nullopt;
  absl::StatusOr<std::optional<WaybillState>> w = FindWaybillByRef(state, **open);
  if (!w.ok()) return w.status();
  if (*w && (*w)->waybill.consignor().uscc() != consignor) return std::nullopt;
  return w;
}

absl::StatusOr<std::optional<WaybillState>> ShipmentWaybill(const storage::StateReader& state,
                                                            absl::string_view number,
                                                            absl::string_view consignor,
                                                            absl::string_view code) {
  // The open waybill listing the code, as the lifecycle rules checked it.
  absl::StatusOr<std::optional<WaybillState>> open =
      OpenShipmentWaybill(state, number, consignor, code);
  if (!open.ok() || *open) return open;
  // Off it since (cancelled after the shipment): the consignor's waybill of
  // that number that counts the code as shipped.
  absl::StatusOr<std::vector<WaybillState>> numbered = WaybillsNumbered(state, number);
  if (!numbered.ok()) return numbered.status();
  for (WaybillState& w : *numbered) {
    if (w.waybill.consignor().uscc() == consignor && w.shipped.count(std::string(code)) > 0) {
      return std::move(w);
    }
  }
  return std::nullopt;
}

absl::StatusOr<std::optional<WaybillState>> FindWaybillByRef(const storage::StateReader& state,
                                                             absl::string_view ref) {
  if (ref.empty()) return std::nullopt;
  absl::StatusOr<std::optional<std::string>> bytes = state.Get(internal::WaybillKey(ref));
  if (!bytes.ok()) return bytes.status();
  if (!*bytes) return std::nullopt;
  state::WaybillRecord r;
  if (!r.ParseFromString(**bytes)) return absl::DataLossError("a waybill record is malformed");
  return internal::FromRecord(r);
}

absl::StatusOr<std::optional<std::string>> OpenWaybillOf(const storage::StateReader& state,
                                                         absl::string_view code) {
  if (code.empty()) return std::nullopt;
  return state.Get(internal::OpenKey(code));
}

absl::StatusOr<std::optional<WaybillHolder>> WaybillHolderOf(const storage::StateReader& state,
                                                             absl::string_view code) {
  absl::StatusOr<std::optional<std::string>> ref = OpenWaybillOf(state, code);
  if (!ref.ok()) return ref.status();
  if (!*ref) return std::nullopt;
  absl::StatusOr<std::optional<WaybillState>> w = FindWaybillByRef(state, **ref);
  if (!w.ok()) return w.status();
  if (!*w) return absl::DataLossError(absl::StrCat("open waybill ", **ref, " is missing"));
  if ((*w)->status == v1::ARRIVED && !(*w)->shipped.count(std::string(code))) return std::nullopt;
  return WaybillHolder{**std::move(ref), (*w)->status};
}

namespace {

// Adds the waybills of `numbers` that `keep` wants to `page`, until it holds
// `limit` or `*budget` is spent; false when the page ended there.
absl::StatusOr<bool> AddToPage(const storage::StateReader& state,
                               const std::vector<std::string>& numbers, size_t limit,
                               const std::function<bool(const WaybillState&)>& keep,
                               size_t* budget, WaybillPage* page) {
  for (const std::string& number : numbers) {
    if (page->waybills.size() == limit || *budget == 0) {
      // Something unexamined follows: the next page starts after the last
      // one examined (page->resume_after).
      return false;
    }
    absl::StatusOr<std::optional<WaybillState>> w = FindWaybillByRef(state, number);
    if (!w.ok()) return w.status();
    if (!*w) {
      return absl::DataLossError(
          absl::StrCat("the waybill index lists '", number, "', which is missing"));
    }
    --*budget;
    page->resume_after = number;
    if (keep(**w)) page->waybills.push_back(**std::move(w));
  }
  return true;
}

// Lists the waybills whose numbers are the keys [prefix + after, ...) of
// `prefix` (their suffix), a chunk of keys at a time.
absl::StatusOr<WaybillPage> ListByKeys(const storage::StateReader& state,
                                       const std::string& prefix, const std::string& after,
                                       size_t limit,
                                       const std::function<bool(const WaybillState&)>& keep,
                                       size_t max_examined) {
  constexpr size_t kChunk = 1024;
  WaybillPage page;
  size_t budget = max_examined;
  std::string from = after.empty() ? prefix : absl::StrCat(prefix, after, std::string(1, '\0'));
  for (;;) {
    // A chunk's numbers first: a Scan callback does not read the state.
    std::vector<std::string> numbers;
    absl::Status s = state.Scan(from, storage::PrefixEnd(prefix),
                                [&](absl::string_view key, absl::string_view) {
                                  numbers.emplace_back(key.substr(prefix.size()));
                                  return numbers.size() < kChunk;
                                });
    if (!s.ok()) return s;
    absl::StatusOr<bool> went_on = AddToPage(state, numbers, limit, keep, &budget, &page);
    if (!went_on.ok()) return went_on.status();
    if (!*went_on) return page;
    if (numbers.size() < kChunk) {
      page.resume_after.clear();  // all examined
      return page;
    }
    from = absl::StrCat(prefix, numbers.back(), std::string(1, '\0'));
  }
}

}  // namespace

absl::StatusOr<WaybillPage> ListWaybills(const storage::StateReader& state,
                                         const std::string& after, size_t limit,
                                         const std::function<bool(const WaybillState&)>& keep,
                                         size_t max_examined) {
  return ListByKeys(state, internal::WaybillKey(""), after, limit, keep, max_examined);
}

absl::StatusOr<WaybillPage> ListWaybillsOf(const storage::StateReader& state,
                                           absl::string_view party, const std::string& after,
                                           size_t limit,
                                           const std::function<bool(const WaybillState&)>& keep,
                                           size_t max_examined) {
  return ListByKeys(state, internal::PartyPrefix(party), after, limit, keep, max_examined);
}

std::set<std::string> PartiesOf(const v1::Waybill& w) {
  std::set<std::string> parties = {w.carrier_uscc(), w.consignor().uscc(), w.consignee().uscc()};
  parties.erase("");
  return parties;
}

absl::StatusOr<std::vector<uint64_t>> WaybillChanges(const storage::StateReader& state,
                                                     absl::string_view ref) {
  std::vector<uint64_t> out;
  const std::string prefix = internal::ChangePrefix(ref);
  absl::Status s = state.Scan(prefix, storage::PrefixEnd(prefix),
                              [&](absl::string_view key, absl::string_view) {
                                uint64_t index = 0;
                                if (absl::SimpleAtoi(key.substr(prefix.size()), &index)) {
                                  out.push_back(index);
                                }
                                return true;
                              });
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<bool> CarrierAuthorized(const storage::StateReader& state,
                                       absl::string_view consignor, absl::string_view carrier,
                                       absl::CivilDay day) {
  absl::StatusOr<std::optional<std::string>> bytes =
      state.Get(internal::AuthorizationKey(consignor, carrier));
  if (!bytes.ok()) return bytes.status();
  if (!*bytes) return false;
  state::CarrierAuthorizationRecord r;
  if (!r.ParseFromString(**bytes)) {
    return absl::DataLossError("a carrier authorization record is malformed");
  }
  return day <= api::FromProtoDate(r.valid_until());
}

std::vector<std::string> CodesOf(const v1::Waybill& w) {
  std::vector<std::string> codes;
  for (const v1::GoodsLine& g : w.goods()) codes.insert(codes.end(), g.codes().begin(), g.codes().end());
  return codes;
}

void DescribeVehicleInPark(const VehicleInPark& v, const WaybillState* w,
                           v1::VehiclesInPark::Vehicle* out) {
  out->set_waybill_number(NumberOfRef(v.waybill_ref));
  out->set_carrier_uscc(CarrierOfRef(v.waybill_ref));
  out->set_gate_id(v.gate_id);
  out->set_entered_unix_seconds(absl::ToUnixSeconds(v.entered));
  out->set_log_index(v.log_index);
  out->set_vehicle_plate(v.plate);
  if (w == nullptr) return;
  if (v.plate.empty()) out->set_vehicle_plate(w->waybill.vehicle().plate());
  for (const v1::GoodsLine& g : w->waybill.goods()) out->add_un_numbers(g.un_number());
}

absl::StatusOr<std::vector<VehicleInPark>> VehiclesInPark(const storage::StateReader& state,
                                                          absl::string_view park_id,
                                                          size_t limit) {
  std::vector<VehicleInPark> out;
  if (park_id.empty()) return out;
  const std::string prefix = internal::InParkPrefix(park_id);
  bool malformed = false;
  absl::Status s = state.Scan(prefix, storage::PrefixEnd(prefix),
                              [&](absl::string_view key, absl::string_view value) {
                                if (out.size() == limit) return false;
                                state::InParkRecord r;
                                if (!r.ParseFromString(std::string(value))) {
                                  malformed = true;
                                  return false;
                                }
                                out.push_back({std::string(key.substr(prefix.size())), r.gate_id(),
                                               absl::FromUnixSeconds(r.entered_unix_seconds()),
                                               r.log_index(), r.plate()});
                                return true;
                              });
  if (!s.ok()) return s;
  if (malformed) return absl::DataLossError("a vehicle-in-park record is malformed");
  return out;
}

absl::Status VisitShipmentsDueBefore(
    const storage::StateReader& state, absl::Time before,
    const std::function<absl::StatusOr<bool>(const WaybillState&)>& visit) {
  const std::string prefix = "w/due/";
  absl::Status failed;
  absl::Status scanned = state.Scan(
      prefix, absl::StrCat(prefix, ledger::TimeKey(before)),
      [&](absl::string_view key, absl::string_view) {
        const absl::string_view rest = key.substr(prefix.size());
        if (rest.size() <= 17) return true;
        const std::string ref(rest.substr(17));
        absl::StatusOr<std::optional<WaybillState>> w = FindWaybillByRef(state, ref);
        if (!w.ok() || !*w) {
          failed = w.ok() ? absl::DataLossError(absl::StrCat("due waybill ", ref, " is missing"))
                          : w.status();
          return false;
        }
        absl::StatusOr<bool> more = visit(**w);
        if (!more.ok()) {
          failed = more.status();
          return false;
        }
        return *more;
      });
  if (!scanned.ok()) return scanned;
  return failed;
}

}  // namespace chemledger::waybill
