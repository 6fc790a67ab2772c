#include "services/audit/epcis.h"

#include <cstdio>
#include <cstdlib>
#include <map>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "chemledger/v1/ledger.pb.h"
#include "chemledger/v1/log.pb.h"
#include "crypto/merkle.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"

namespace chemledger::audit {
namespace {

using google::protobuf::Struct;
using google::protobuf::Value;

constexpr char kEpcisContext[] = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld";
constexpr char kChemLedgerPrefix[] = "urn:chemledger:epcis:";

// Characters a URI may carry as they are (RFC 3986 unreserved); the rest
// percent-encoded.
std::string PercentEncoded(absl::string_view text) {
  std::string out;
  for (unsigned char c : text) {
    if (absl::ascii_isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      absl::StrAppendFormat(&out, "%%%02X", c);
    }
  }
  return out;
}

std::string CodeUri(absl::string_view code) {
  return absl::StrCat("urn:chemledger:code:", PercentEncoded(code));
}
std::string EnterpriseUri(absl::string_view uscc) {
  return absl::StrCat("urn:chemledger:enterprise:", PercentEncoded(uscc));
}

std::string Rfc3339(int64_t seconds, int32_t nanos) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ",
                          absl::FromUnixSeconds(seconds) + absl::Nanoseconds(nanos),
                          absl::UTCTimeZone());
}

std::string Offset(int minutes) {
  return absl::StrFormat("%c%02d:%02d", minutes < 0 ? '-' : '+', std::abs(minutes) / 60,
                         std::abs(minutes) % 60);
}

std::string Decimal(uint64_t milli) {
  return absl::StrFormat("%d.%03d", milli / 1000, milli % 1000);
}

Value Str(absl::string_view s) {
  Value v;
  v.set_string_value(std::string(s));
  return v;
}

Value List(std::initializer_list<std::string> items) {
  Value v;
  for (const std::string& i : items) *v.mutable_list_value()->add_values() = Str(i);
  return v;
}

Value Object(std::initializer_list<std::pair<std::string, Value>> fields) {
  Value v;
  for (const auto& [k, f] : fields) (*v.mutable_struct_value()->mutable_fields())[k] = f;
  return v;
}

struct Mapping {
  const char* type;
  const char* action;  // "" for a TransformationEvent
  const char* biz_step;
  const char* disposition;  // "" for none
};

Mapping MappingOf(v1::BusinessStep step) {
  switch (step) {
    case v1::COMMISSIONING: return {"ObjectEvent", "ADD", "commissioning", "active"};
    case v1::STORING: return {"ObjectEvent", "OBSERVE", "storing", "in_progress"};
    case v1::SHIPPING: return {"ObjectEvent", "OBSERVE", "shipping", "in_transit"};
    case v1::RECEIVING: return {"ObjectEvent", "OBSERVE", "receiving", "in_progress"};
    case v1::CONSUMING: return {"ObjectEvent", "OBSERVE", "dispensing", "partially_dispensed"};
    case v1::REPACKAGING: return {"TransformationEvent", "", "repackaging", "active"};
    case v1::PACKING: return {"AggregationEvent", "ADD", "packing", "container_closed"};
    case v1::UNPACKING: return {"AggregationEvent", "DELETE", "unpacking", "container_open"};
    case v1::DESTROYING: return {"ObjectEvent", "DELETE", "destroying", "destroyed"};
    case v1::LOSS_REPORT: return {"ObjectEvent", "OBSERVE", "other", "unknown"};
    case v1::FOUND: return {"ObjectEvent", "OBSERVE", "other", "active"};
    case v1::VOIDING: return {"ObjectEvent", "DELETE", "decommissioning", "inactive"};
    case v1::HOLDING: return {"ObjectEvent", "OBSERVE", "holding", "non_sellable_other"};
    case v1::RELEASING: return {"ObjectEvent", "OBSERVE", "other", "active"};
    case v1::RECALLING: return {"ObjectEvent", "OBSERVE", "other", "recalled"};
    case v1::OBSERVING: return {"ObjectEvent", "OBSERVE", "inspecting", ""};
    // CBV has no step for declaring waste: "other", and the goods are no
    // longer for use.
    case v1::WASTE_DECLARING: return {"ObjectEvent", "OBSERVE", "other", "non_sellable_other"};
    default: return {"ObjectEvent", "OBSERVE", "other", ""};
  }
}

// An event's key among the bundle's: event ids are unique per enterprise.
std::string EventKey(const v1::Event& e, absl::string_view event_id) {
  return absl::StrCat(e.location().enterprise_uscc(), "/", event_id);
}

// An entry's EPCIS eventID: its RFC 6962 leaf hash as an RFC 6920 URI.
std::string EventIdOf(const v1::ProvenEntry& proven) {
  return absl::StrCat("ni:///sha-256;",
                      absl::WebSafeBase64Escape(crypto::HashLeaf(proven.entry_bytes()).ToBytes()));
}

// What the bundle says of its events, by EventKey: their codes (an error
// declaration that names none is about the codes of the event it
// corrects) and, for an event a later one declared an error, EPCIS's
// errorDeclaration for it.
struct BundleIndex {
  std::map<std::string, std::vector<std::string>> codes_of;
  std::map<std::string, Value> error_declaration_of;
};

absl::StatusOr<Value> EventOf(const v1::ProvenEntry& proven, const BundleIndex& index) {
  v1::LogEntry entry;
  v1::Event e;
  if (!entry.ParseFromString(proven.entry_bytes()) || !e.ParseFromString(entry.envelope().payload())) {
    return absl::InvalidArgumentError(absl::StrCat("entry ", proven.log_index(), " is not an event"));
  }
  const Mapping m = MappingOf(e.step());
  Struct out;
  auto& f = *out.mutable_fields();
  f["type"] = Str(m.type);
  f["eventTime"] = Str(Rfc3339(e.event_time().seconds(), e.event_time().nanos()));
  f["eventTimeZoneOffset"] = Str(Offset(e.event_time_offset_minutes()));
  f["recordTime"] = Str(Rfc3339(entry.record_time().seconds(), entry.record_time().nanos()));
  f["eventID"] = Str(EventIdOf(proven));
  if (auto it = index.error_declaration_of.find(EventKey(e, e.event_id()));
      it != index.error_declaration_of.end()) {
    f["errorDeclaration"] = it->second;
  }
  f["bizStep"] = Str(m.biz_step);
  if (*m.disposition != '\0') f["disposition"] = Str(m.disposition);
  const v1::Location& where = e.location();
  const std::string site_uri = absl::StrCat("urn:chemledger:site:", PercentEncoded(where.enterprise_uscc()),
                                            ":", PercentEncoded(where.site().empty() ? "-" : where.site()));
  f["bizLocation"] = Object({{"id", Str(site_uri)}});
  f["readPoint"] = Object({{"id", Str(site_uri)}});
  Value codes;
  codes.mutable_list_value();  // an empty list is still a list
  for (const std::string& c : e.codes()) *codes.mutable_list_value()->add_values() = Str(CodeUri(c));
  if (e.step() == v1::ERROR_DECLARATION && e.codes().empty()) {
    // Event ids are unique per enterprise: the corrected event is this one's.
    auto it = index.codes_of.find(EventKey(e, e.corrects_event_id()));
    if (it != index.codes_of.end()) {
      for (const std::string& c : it->second) {
        *codes.mutable_list_value()->add_values() = Str(CodeUri(c));
      }
    }
  }
  if (e.step() == v1::REPACKAGING) {
    f["inputEPCList"] = codes;
    Value outputs;
    outputs.mutable_list_value();
    for (const v1::RepackagingOutput& o : e.outputs()) {
      *outputs.mutable_list_value()->add_values() = Str(CodeUri(o.code()));
    }
    f["outputEPCList"] = outputs;
  } else if (e.step() == v1::PACKING || e.step() == v1::UNPACKING) {
    f["action"] = Str(m.action);
    f["parentID"] = Str(CodeUri(e.parent_code()));
    f["childEPCs"] = codes;
  } else {
    f["action"] = Str(m.action);
    f["epcList"] = codes;
  }
  Value transactions;
  if (!e.waybill_id().empty()) {
    *transactions.mutable_list_value()->add_values() =
        Object({{"type", Str("bol")},
                {"bizTransaction", Str(absl::StrCat("urn:chemledger:waybill:",
                                                    PercentEncoded(e.waybill_id())))}});
  }
  if (!e.manifest_id().empty()) {
    *transactions.mutable_list_value()->add_values() =
        Object({{"type", Str("urn:chemledger:btt:transfer-manifest")},
                {"bizTransaction", Str(absl::StrCat("urn:chemledger:manifest:",
                                                    PercentEncoded(e.manifest_id())))}});
  }
  if (transactions.has_list_value()) f["bizTransactionList"] = transactions;
  if (e.step() == v1::SHIPPING && !e.consignee_uscc().empty()) {
    f["sourceList"] = Value();
    *f["sourceList"].mutable_list_value()->add_values() =
        Object({{"type", Str("owning_party")}, {"source", Str(EnterpriseUri(where.enterprise_uscc()))}});
    *f["destinationList"].mutable_list_value()->add_values() =
        Object({{"type", Str("owning_party")},
                {"destination", Str(EnterpriseUri(e.consignee_uscc()))}});
  }
  // What EPCIS has no field for.
  f["cl:step"] = Str(v1::BusinessStep_Name(e.step()));
  f["cl:logIndex"] = Str(absl::StrCat(proven.log_index()));
  if (entry.envelope().signatures_size() > 0) {
    f["cl:signerKeyId"] = Str(entry.envelope().signatures(0).key_id());
  }
  f["cl:eventId"] = Str(e.event_id());
  if (e.quantity_milli() > 0) f["cl:quantity"] = Str(Decimal(e.quantity_milli()));
  if (!e.reason().empty()) f["cl:reason"] = Str(e.reason());
  if (!e.corrects_event_id().empty()) f["cl:correctsEventId"] = Str(e.corrects_event_id());
  if (!e.waste_code().empty()) f["cl:wasteCode"] = Str(e.waste_code());
  Value v;
  *v.mutable_struct_value() = std::move(out);
  return v;
}

}  // namespace

absl::StatusOr<std::string> EpcisDocumentOf(const v1::HistoryBundle& bundle, absl::Time now) {
  Struct doc;
  auto& f = *doc.mutable_fields();
  f["@context"] = List({kEpcisContext});
  *f["@context"].mutable_list_value()->add_values() = Object({{"cl", Str(kChemLedgerPrefix)}});
  f["type"] = Str("EPCISDocument");
  f["schemaVersion"] = Str("2.0");
  f["creationDate"] = Str(absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", now, absl::UTCTimeZone()));
  f["cl:checkpointOrigin"] = Str(bundle.checkpoint().origin());
  f["cl:checkpointSize"] = Str(absl::StrCat(bundle.checkpoint().tree_size()));
  BundleIndex index;
  // Each error declaration's key, and the key of the event it undid.
  std::map<std::string, std::string> declaration_undid;
  for (const v1::ProvenEntry& e : bundle.events()) {
    v1::LogEntry entry;
    v1::Event event;
    if (!entry.ParseFromString(e.entry_bytes()) ||
        !event.ParseFromString(entry.envelope().payload())) {
      continue;  // EventOf says which
    }
    index.codes_of[EventKey(event, event.event_id())].assign(event.codes().begin(),
                                                             event.codes().end());
    if (event.step() == v1::ERROR_DECLARATION) {
      const std::string corrected = EventKey(event, event.corrects_event_id());
      // A declaration declared an error (before rules epoch 10) put back
      // what it had undone: that event occurred after all.
      if (auto undid = declaration_undid.find(corrected); undid != declaration_undid.end()) {
        index.error_declaration_of.erase(undid->second);
      }
      declaration_undid[EventKey(event, event.event_id())] = corrected;
      // The declaration undid the event (its codes went back to their state
      // from before it): in EPCIS's words it did not occur. The declaration
      // is exported too; cl:declaredBy names it.
      index.error_declaration_of[corrected] =
          Object({{"declarationTime",
                   Str(Rfc3339(entry.record_time().seconds(), entry.record_time().nanos()))},
                  {"reason", Str("did_not_occur")},
                  {"cl:declaredBy", Str(EventIdOf(e))},
                  {"cl:reason", Str(event.reason())}});
    }
  }
  Value events;
  for (const v1::ProvenEntry& e : bundle.events()) {
    absl::StatusOr<Value> event = EventOf(e, index);
    if (!event.ok()) return event.status();
    *events.mutable_list_value()->add_values() = *std::move(event);
  }
  if (!events.has_list_value()) events.mutable_list_value();
  f["epcisBody"] = Object({{"eventList", events}});
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  if (auto s = google::protobuf::util::MessageToJsonString(doc, &json, options); !s.ok()) {
    return absl::InternalError("the EPCIS document cannot be written as JSON");
  }
  return json;
}

}  // namespace chemledger::audit
