#include "services/ledger/code_state.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "services/ledger/key_part.h"
#include "services/registry/oversight.h"
#include "services/registry/registry_state.h"

namespace chemledger::ledger {
namespace internal {

//   l/code/<code>               state::CodeRecord (with the state before its latest event)
//   l/hist/<code>/<index, 16 hex digits>   ""   one per event of the code
//   l/held/<code>/<uscc>        ""   every enterprise that has held it
//   l/event/<uscc>/<event id>   state::EventRecord
//   l/signal/<index, 16 hex digits>/<code>   state::ScanSignalRecord
//   l/at/<custodian>/<site>/<code>   ""   active codes at a site (the site escaped: EscapedKeyPart)
std::string CodeKey(absl::string_view code) { return absl::StrCat("l/code/", code); }
std::string HistoryKey(absl::string_view code, uint64_t index) {
  return absl::StrFormat("l/hist/%s/%016x", code, index);
}
std::string HeldKey(absl::string_view code, absl::string_view uscc) {
  return absl::StrCat("l/held/", code, "/", uscc);
}
std::string EventKey(absl::string_view enterprise, absl::string_view event_id) {
  return absl::StrCat("l/event/", enterprise, "/", event_id);
}
std::string StockKey(const CodeState& c) {
  if (c.status != CodeStatus::kActive || c.site.empty() || c.custodian.empty()) return "";
  return absl::StrCat("l/at/", c.custodian, "/", EscapedKeyPart(c.site), "/", c.code);
}
std::string ScanSignalKey(uint64_t index, absl::string_view code) {
  return absl::StrFormat("l/signal/%016x/%s", index, code);
}

std::string LastSeenKey(absl::string_view code) { return absl::StrCat("l/lastseen/", code); }

state::CodeRecord ToRecord(const CodeState& s) {
  state::CodeRecord r;
  r.set_aggregate(s.aggregate);
  r.set_enterprise(s.enterprise);
  r.set_product(s.product);
  r.set_unit(s.unit);
  r.set_remaining_milli(s.remaining_milli);
  r.set_custodian(s.custodian);
  r.set_status(static_cast<state::CodeStatus>(s.status));
  r.set_consignee(s.consignee);
  r.set_parent(s.parent);
  for (const std::string& c : s.children) r.add_children(c);
  r.set_site(s.site);
  r.set_on_hold(s.on_hold);
  r.set_hold_by_regulator(s.hold_by_regulator);
  if (s.last_change_index) {
    r.set_has_last_change(true);
    r.set_last_change_index(*s.last_change_index);
  }
  r.set_recalled(s.recalled);
  r.set_waste(s.waste);
  r.set_waste_code(s.waste_code);
  if (s.last_event_index) {
    r.set_has_last_event(true);
    r.set_last_event_index(*s.last_event_index);
    r.set_last_event_unix_nanos(absl::ToUnixNanos(s.last_event_time));
  }
  return r;
}

CodeState FromRecord(absl::string_view code, const state::CodeRecord& r) {
  CodeState s;
  s.code = std::string(code);
  s.aggregate = r.aggregate();
  s.enterprise = r.enterprise();
  s.product = r.product();
  s.unit = r.unit();
  s.remaining_milli = r.remaining_milli();
  s.custodian = r.custodian();
  s.status = static_cast<CodeStatus>(r.status());
  s.consignee = r.consignee();
  s.parent = r.parent();
  s.children.insert(r.children().begin(), r.children().end());
  s.site = r.site();
  s.on_hold = r.on_hold();
  s.hold_by_regulator = r.hold_by_regulator();
  if (r.has_last_change()) s.last_change_index = r.last_change_index();
  s.recalled = r.recalled();
  s.waste = r.waste();
  s.waste_code = r.waste_code();
  if (r.has_last_event()) {
    s.last_event_index = r.last_event_index();
    s.last_event_time = absl::FromUnixNanos(r.last_event_unix_nanos());
  }
  return s;
}

}  // namespace internal

namespace {

absl::StatusOr<std::optional<state::CodeRecord>> ReadCodeRecord(const storage::StateReader& state,
                                                                absl::string_view code) {
  absl::StatusOr<std::optional<std::string>> bytes = state.Get(internal::CodeKey(code));
  if (!bytes.ok()) return bytes.status();
  if (!*bytes) return std::nullopt;
  state::CodeRecord r;
  if (!r.ParseFromString(**bytes)) {
    return absl::DataLossError(absl::StrCat("the state record of code ", code, " is malformed"));
  }
  return r;
}

}  // namespace

absl::string_view CodeStatusName(CodeStatus status) {
  switch (status) {
    case CodeStatus::kActive: return "active";
    case CodeStatus::kInTransit: return "in-transit";
    case CodeStatus::kConsumed: return "consumed";
    case CodeStatus::kDisposed: return "disposed";
    case CodeStatus::kVoided: return "voided";
    case CodeStatus::kLost: return "lost";
  }
  return "unknown";
}

bool IsTerminal(CodeStatus s) {
  return s == CodeStatus::kConsumed || s == CodeStatus::kDisposed || s == CodeStatus::kVoided;
}

absl::StatusOr<std::optional<CodeState>> FindCode(const storage::StateReader& state,
                                                  absl::string_view code) {
  if (code.empty()) return std::nullopt;
  absl::StatusOr<std::optional<state::CodeRecord>> r = ReadCodeRecord(state, code);
  if (!r.ok()) return r.status();
  if (!*r) return std::nullopt;
  return internal::FromRecord(code, **r);
}

absl::StatusOr<std::optional<CodeState>> FindCodeBeforeLatest(const storage::StateReader& state,
                                                              absl::string_view code) {
  if (code.empty()) return std::nullopt;
  absl::StatusOr<std::optional<state::CodeRecord>> r = ReadCodeRecord(state, code);
  if (!r.ok()) return r.status();
  if (!*r || !(*r)->has_before()) return std::nullopt;
  return internal::FromRecord(code, (*r)->before());
}

absl::StatusOr<std::vector<uint64_t>> History(const storage::StateReader& state,
                                              absl::string_view code) {
  std::vector<uint64_t> history;
  if (code.empty()) return history;
  const std::string prefix = absl::StrCat("l/hist/", code, "/");
  bool malformed = false;
  absl::Status s = state.Scan(prefix, storage::PrefixEnd(prefix),
                              [&](absl::string_view key, absl::string_view) {
                                uint64_t index = 0;
                                if (!absl::SimpleHexAtoi(key.substr(prefix.size()), &index)) {
                                  malformed = true;
                                  return false;
                                }
                                history.push_back(index);
                                return true;
                              });
  if (!s.ok()) return s;
  if (malformed) return absl::DataLossError(absl::StrCat("a history key of ", code, " is malformed"));
  return history;
}

absl::StatusOr<bool> HasHeld(const storage::StateReader& state, absl::string_view code,
                             absl::string_view uscc) {
  if (code.empty() || uscc.empty()) return false;
  absl::StatusOr<std::optional<std::string>> v = state.Get(internal::HeldKey(code, uscc));
  if (!v.ok()) return v.status();
  return v->has_value();
}

absl::StatusOr<std::optional<EventInfo>> FindEvent(const storage::StateReader& state,
                                                   absl::string_view enterprise,
                                                   absl::string_view event_id) {
  if (enterprise.empty() || event_id.empty()) return std::nullopt;
  absl::StatusOr<std::optional<std::string>> bytes =
      state.Get(internal::EventKey(enterprise, event_id));
  if (!bytes.ok()) return bytes.status();
  if (!*bytes) return std::nullopt;
  state::EventRecord r;
  if (!r.ParseFromString(**bytes)) return absl::DataLossError("an event record is malformed");
  return EventInfo{r.log_index(), r.enterprise()};
}

absl::Status ScanStockCodes(const storage::StateReader& state, absl::string_view custodian,
                            absl::string_view site,
                            const std::function<bool(absl::string_view code)>& visit) {
  if (custodian.empty()) return absl::OkStatus();
  CodeState probe;  // the index key of a code "" at `site`: the site's prefix
  probe.status = CodeStatus::kActive;
  probe.custodian = std::string(custodian);
  probe.site = std::string(site);
  const std::string prefix =
      site.empty() ? absl::StrCat("l/at/", custodian, "/") : internal::StockKey(probe);
  return state.Scan(prefix, storage::PrefixEnd(prefix),
                    [&](absl::string_view key, absl::string_view) {
                      // "<site, '/' escaped>/<code>": the code is after the last '/'.
                      return visit(key.substr(key.rfind('/') + 1));
                    });
}

absl::StatusOr<std::vector<CodeState>> ListStock(const storage::StateReader& state,
                                                 absl::string_view custodian,
                                                 absl::string_view site, absl::string_view after,
                                                 size_t limit, bool* more) {
  std::vector<CodeState> out;
  *more = false;
  CodeState probe;
  probe.status = CodeStatus::kActive;
  probe.custodian = std::string(custodian);
  probe.site = std::string(site);
  probe.code = "";
  const std::string prefix = internal::StockKey(probe);
  if (prefix.empty()) return out;
  const std::string begin = after.empty() ? prefix : absl::StrCat(prefix, after, std::string(1, '\0'));
  std::vector<std::string> codes;
  absl::Status s = state.Scan(begin, storage::PrefixEnd(prefix),
                              [&](absl::string_view key, absl::string_view) {
                                if (codes.size() == limit) {
                                  *more = true;
                                  return false;
                                }
                                codes.emplace_back(key.substr(prefix.size()));
                                return true;
                              });
  if (!s.ok()) return s;
  for (const std::string& code : codes) {
    absl::StatusOr<std::optional<CodeState>> c = FindCode(state, code);
    if (!c.ok()) return c.status();
    if (!*c) return absl::DataLossError(absl::StrCat("stock index names ", code, ", unknown"));
    out.push_back(**std::move(c));
  }
  return out;
}

absl::StatusOr<std::vector<ScanSignal>> ListScanSignals(const storage::StateReader& state,
                                                        uint64_t after_index,
                                                        absl::string_view after_code,
                                                        size_t limit) {
  std::vector<ScanSignal> out;
  const std::string prefix = "l/signal/";
  const std::string begin =
      after_index == 0 && after_code.empty()
          ? prefix
          : absl::StrCat(internal::ScanSignalKey(after_index, after_code), std::string(1, '\0'));
  bool malformed = false;
  absl::Status s = state.Scan(begin, storage::PrefixEnd(prefix),
                              [&](absl::string_view key, absl::string_view value) {
                                if (out.size() == limit) return false;
                                const absl::string_view rest = key.substr(prefix.size());
                                state::ScanSignalRecord r;
                                ScanSignal& signal = out.emplace_back();
                                if (rest.size() < 18 || rest[16] != '/' ||
                                    !absl::SimpleHexAtoi(rest.substr(0, 16), &signal.log_index) ||
                                    !r.ParseFromString(std::string(value))) {
                                  malformed = true;
                                  return false;
                                }
                                signal.code = std::string(rest.substr(17));
                                signal.kind = r.kind();
                                signal.seen_by = r.seen_by();
                                signal.custodian = r.custodian();
                                signal.status = r.status();
                                signal.client_network = r.client_network();
                                signal.channel = r.channel();
                                signal.earlier_seen_by = r.earlier_seen_by();
                                return true;
                              });
  if (!s.ok()) return s;
  if (malformed) return absl::DataLossError("a scan signal record is malformed");
  return out;
}

absl::StatusOr<bool> MayRead(const storage::StateReader& state, const v1::Actor& reader,
                             absl::string_view code) {
  if (registry::HasOversightRole(reader)) {
    // A regulator reads a package its department supervises
    // (registry/oversight.h) that one of the enterprises it oversees holds
    // or has held.
    const registry::Reads reads =
        registry::DepartmentReads(reader, registry::RecordKind::kPackages);
    if (reads == registry::Reads::kNone) return false;
    if (reads != registry::Reads::kAll) {
      absl::StatusOr<std::optional<CodeState>> c = FindCode(state, code);
      if (!c.ok()) return c.status();
      if (!*c || (*c)->aggregate) return false;
      if (reads == registry::Reads::kWaste && (*c)->status != CodeStatus::kDisposed) return false;
      if (reads == registry::Reads::kControlledGoods) {
        absl::StatusOr<std::optional<v1::Product>> product =
            registry::FindProduct(state, (*c)->enterprise, (*c)->product);
        if (!product.ok()) return product.status();
        if (!*product || !registry::IsControlledGood(**product)) return false;
      }
    }
    if (registry::OverseesEverything(reader)) return true;
    const std::string prefix = internal::HeldKey(code, "");  // "l/held/<code>/"
    std::vector<std::string> holders;
    absl::Status s = state.Scan(prefix, storage::PrefixEnd(prefix),
                                [&](absl::string_view key, absl::string_view) {
                                  holders.emplace_back(key.substr(prefix.size()));
                                  return true;
                                });
    if (!s.ok()) return s;
    for (const std::string& uscc : holders) {
      absl::StatusOr<bool> oversees = registry::OverseesEnterprise(state, reader, uscc);
      if (!oversees.ok()) return oversees.status();
      if (*oversees) return true;
    }
    return false;
  }
  return HasHeld(state, code, reader.enterprise_uscc());
}

}  // namespace chemledger::ledger
