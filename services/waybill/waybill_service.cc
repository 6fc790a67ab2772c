#include "services/waybill/waybill_service.h"

#include "absl/strings/str_cat.h"
#include "services/registry/registry_state.h"
#include "services/registry/oversight.h"
#include "services/common/grpc_status.h"
#include "services/common/incoming_call.h"
#include "services/common/page_cursor.h"
#include "services/common/page_size.h"
#include "services/common/raw_unary.h"
#include "services/common/stream_batches.h"
#include "absl/strings/numbers.h"
#include "services/common/snapshot_metadata.h"
#include "services/registry/read_access.h"
#include "services/waybill/waybill_code_resolution.h"
#include "api/china_time.h"

namespace chemledger::waybill {
namespace {

bool IsParty(const v1::Actor& reader, const v1::Waybill& w) {
  return !reader.enterprise_uscc().empty() &&
         (reader.enterprise_uscc() == w.carrier_uscc() ||
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
    case registry::Reads::kNone: return false;
    case registry::Reads::kAll: break;
    case registry::Reads::kControlledGoods:
      if (!registry::CarriesControlledGoods(w)) return false;
      break;
    case registry::Reads::kWaste:
      if (!registry::CarriesWaste(w)) return false;
      break;
  }
  // ...with a party in its jurisdiction.
  for (const std::string* uscc : {&w.carrier_uscc(), &w.consignor().uscc(), &w.consignee().uscc()}) {
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

v1::WaybillResult ResultOf(const absl::StatusOr<WaybillReceipt>& receipt) {
  v1::WaybillResult result;
  if (receipt.ok()) {
    result.set_log_index(receipt->log_index);
    result.set_replayed(receipt->replayed);
    result.set_waybill_code(receipt->waybill_code);
  } else {
    const absl::Status reported = PublicStatus(receipt.status());
    result.set_code(static_cast<int>(reported.code()));
    result.set_message(std::string(reported.message()));
  }
  return result;
}

}  // namespace

grpc::Status WaybillServiceImpl::Submit(grpc::ServerContext* context,
                                        const v1::SignedEnvelope* request,
                                        v1::WaybillResult* response) {
  IncomingCall serving(context);  // what this asks of ledgerd ends with the call
  absl::StatusOr<WaybillReceipt> receipt = book_->Apply(*request);
  if (!receipt.ok()) return ToGrpcStatus(receipt.status());
  *response = ResultOf(receipt);
  return grpc::Status::OK;
}

grpc::Status WaybillServiceImpl::SubmitStream(
    grpc::ServerContext* context,
    grpc::ServerReaderWriter<v1::WaybillResult, v1::SignedEnvelope>* stream) {
  IncomingCall serving(context);  // what this asks of ledgerd ends with the call
  registry::StreamGate::Ticket ticket =
      streams_.Enter(*ledger_->Latest(), *context, kSubmitStreamMethod);
  if (!ticket.ok()) return ToGrpcStatus(ticket.status());
  StreamBatchLimits limits{kMaxBatchWaybills, kMaxQueuedWaybills, kMaxQueuedBytes};
  limits.timeouts = stream_options_.timeouts;
  return registry::AnswerSignedStream<v1::WaybillResult>(
      context, stream, limits, ticket, *ledger_,
      [&](std::shared_ptr<const storage::Snapshot> at,
          absl::Span<const v1::SignedEnvelope* const> admitted) {
        return book_->VerifyBatch(std::move(at), admitted);
      },
      [&](const registry::VerifiedBatch& admitted) {
        std::vector<v1::WaybillResult> results;
        results.reserve(admitted.envelopes.size());
        for (const auto& receipt : book_->ApplyVerified(admitted)) {
          results.push_back(ResultOf(receipt));
        }
        return results;
      },
      [](const absl::Status& refused) { return ResultOf(refused); });
}

grpc::Status WaybillServiceImpl::ResolveWaybillCode(grpc::ServerContext* context,
                                                    const v1::ResolveWaybillCodeRequest* request,
                                                    v1::ResolveWaybillCodeResponse* response) {
  IncomingCall serving(context);  // what this asks of ledgerd ends with the call
  // Open to anyone, as a label scan is, and limited alike.
  if (!anonymous_.Take(ClientAddress(context->peer()), 1, absl::Now())) {
    return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                        "waybill code resolutions are limited per client address: retry in a few "
                        "seconds");
  }
  std::shared_ptr<const storage::Snapshot> snapshot = ledger_->Latest();
  TellServedAt(context, *snapshot);
  absl::StatusOr<v1::ResolveWaybillCodeResponse> resolved =
      waybill::ResolveWaybillCode(*snapshot, request->url(), api::TodayInChina());
  if (!resolved.ok()) return ToGrpcStatus(resolved.status());
  *response = *std::move(resolved);
  return grpc::Status::OK;
}

grpc::ServerUnaryReactor* WaybillServiceImpl::GetWaybill(grpc::CallbackServerContext* context,
                                                  const grpc::ByteBuffer* request,
                                                  grpc::ByteBuffer* response) {
  return ServeRawUnary<v1::GetWaybillRequest, v1::WaybillRecord>(
      context, request, response, read_executor_,
      [this, context](const v1::GetWaybillRequest* r, absl::string_view bytes, v1::WaybillRecord* out) {
        return ServeGetWaybill(context, r, bytes, out);
      });
}

grpc::Status WaybillServiceImpl::ServeGetWaybill(grpc::ServerContextBase* context,
                                            const v1::GetWaybillRequest* request,
                                            absl::string_view request_bytes,
                                            v1::WaybillRecord* response) {
  std::shared_ptr<const storage::Snapshot> snapshot = ledger_->Latest();
  absl::StatusOr<v1::Actor> reader =
      reads_->Authenticate(*snapshot, *context, kGetWaybillMethod, request_bytes);
  if (!reader.ok()) return ToGrpcStatus(reader.status());
  TellServedAt(context, *snapshot);
  // Numbers are unique per carrier: the one named, or else the one waybill
  // of that number this reader may read.
  absl::StatusOr<std::optional<WaybillState>> state = std::optional<WaybillState>();
  if (!request->carrier_uscc().empty()) {
    state = FindWaybill(*snapshot, request->carrier_uscc(), request->waybill_number());
  } else {
    absl::StatusOr<std::vector<WaybillState>> numbered =
        WaybillsNumbered(*snapshot, request->waybill_number());
    if (!numbered.ok()) return ToGrpcStatus(numbered.status());
    int readable = 0;
    registry::OversightMemo memo(*snapshot, *reader);
    for (WaybillState& w : *numbered) {
      absl::StatusOr<bool> may_read = MayRead(memo, *reader, w.waybill);
      if (!may_read.ok()) return ToGrpcStatus(may_read.status());
      if (!*may_read) continue;
      if (++readable > 1) {
        return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                            absl::StrCat("carrier_uscc: several waybills numbered '",
                                         request->waybill_number(),
                                         "' are yours to read (numbers are unique per "
                                         "carrier): name the carrier"));
      }
      *state = std::move(w);
    }
  }
  if (!state.ok()) return ToGrpcStatus(state.status());
  // An emergency responder reads what is on a vehicle after breaking glass
  // for its waybill (RegistryRequest.break_glass, recorded first).
  absl::StatusOr<bool> responder =
      request->carrier_uscc().empty()
          ? false
          : registry::HasBreakGlassForWaybill(*snapshot, *reader, request->carrier_uscc(),
                                              request->waybill_number(), absl::Now());
  if (!responder.ok()) return ToGrpcStatus(responder.status());
  // Whether a waybill exists is told to those who may read it, and to
  // regulators who oversee everything.
  bool may = false;
  if (*state) {
    registry::OversightMemo memo(*snapshot, *reader);
    absl::StatusOr<bool> may_read = MayRead(memo, *reader, (*state)->waybill);
    if (!may_read.ok()) return ToGrpcStatus(may_read.status());
    may = *may_read;
  } else {
    may = registry::OverseesEverything(*reader);
  }
  if (!*responder && !may) {
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                        "read credentials: only the waybill's carrier, consignor, consignee or a "
                        "regulator whose jurisdiction holds one of them may read it");
  }
  if (!*state) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND,
                        absl::StrCat("waybill_number: no waybill '", request->waybill_number(), "'"));
  }
  FillRecord(*snapshot, book_->CodeKey(*snapshot), **state, response);
  // Its signed changes, each with its entry's exact bytes (one waybill's
  // read only: a listing does not carry them).
  absl::StatusOr<std::vector<uint64_t>> changes = WaybillChanges(
      *snapshot, WaybillRef((*state)->waybill.carrier_uscc(), request->waybill_number()));
  if (!changes.ok()) return ToGrpcStatus(changes.status());
  for (uint64_t index : *changes) {
    absl::StatusOr<std::string> entry = snapshot->Entry(index);
    if (!entry.ok()) return ToGrpcStatus(entry.status());
    v1::WaybillChange* change = response->add_changes();
    change->set_log_index(index);
    change->set_entry(*std::move(entry));
  }
  return grpc::Status::OK;
}

grpc::ServerUnaryReactor* WaybillServiceImpl::ListWaybills(grpc::CallbackServerContext* context,
                                                  const grpc::ByteBuffer* request,
                                                  grpc::ByteBuffer* response) {
  return ServeRawUnary<v1::ListWaybillsRequest, v1::ListWaybillsResponse>(
      context, request, response, read_executor_,
      [this, context](const v1::ListWaybillsRequest* r, absl::string_view bytes, v1::ListWaybillsResponse* out) {
        return ServeListWaybills(context, r, bytes, out);
      });
}

grpc::Status WaybillServiceImpl::ServeListWaybills(grpc::ServerContextBase* context,
                                            const v1::ListWaybillsRequest* request,
                                            absl::string_view request_bytes,
                                            v1::ListWaybillsResponse* response) {
  absl::StatusOr<size_t> limit = PageSizeOf(request->page_size(), 100);
  if (!limit.ok()) return ToGrpcStatus(limit.status());
  // Who reads is checked against the latest registry (a key revoked since
  // the first page reads no more), whatever snapshot the pages come from.
  absl::StatusOr<v1::Actor> reader =
      reads_->Authenticate(*ledger_->Latest(), *context, kListWaybillsMethod,
                             request_bytes);
  if (!reader.ok()) return ToGrpcStatus(reader.status());
  // A page token is "<log size>:<last waybill ref examined>": later pages are read
  // at the first page's snapshot.
  std::shared_ptr<const storage::Snapshot> snapshot;
  std::string after;
  if (request->page_token().empty()) {
    snapshot = ledger_->Latest();
  } else {
    // Sealed (page_cursor.h): the last waybill examined may be one the
    // reader does not see.
    absl::StatusOr<std::string> token = OpenPageCursor(request->page_token());
    if (!token.ok()) return ToGrpcStatus(token.status());
    const size_t colon = token->find(':');
    uint64_t size = 0;
    if (colon == std::string::npos || !absl::SimpleAtoi(token->substr(0, colon), &size)) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "page_token: not a token this server gave (start the listing again)");
    }
    absl::StatusOr<std::shared_ptr<const storage::Snapshot>> at = ledger_->At(size);
    if (!at.ok()) {
      return ToGrpcStatus(absl::Status(at.status().code(),
                                       absl::StrCat("page_token: ", at.status().message())));
    }
    snapshot = *std::move(at);
    after = token->substr(colon + 1);
  }
  TellServedAt(context, *snapshot);
  const v1::ListWaybillsRequest& f = *request;
  const v1::Actor actor = *reader;
  registry::OversightMemo memo(*snapshot, actor);
  absl::Status failure;  // the registry could not be read
  const auto reads = [&](const v1::Waybill& w) {
    absl::StatusOr<bool> may_read = MayRead(memo, actor, w);
    if (!may_read.ok()) failure.Update(may_read.status());
    return may_read.ok() && *may_read;
  };
  const auto keep = [&](const WaybillState& s) {
    const v1::Waybill& w = s.waybill;
    const int64_t departure = w.planned_departure().seconds();
    return reads(w) &&
           (f.carrier_uscc().empty() || w.carrier_uscc() == f.carrier_uscc()) &&
           (f.consignor_uscc().empty() || w.consignor().uscc() == f.consignor_uscc()) &&
           (f.consignee_uscc().empty() || w.consignee().uscc() == f.consignee_uscc()) &&
           (f.vehicle_plate().empty() || w.vehicle().plate() == f.vehicle_plate()) &&
           (f.departure_from() == 0 || departure >= f.departure_from()) &&
           (f.departure_to() == 0 || departure < f.departure_to());
  };
  // Through the index of one party when there is one to read: the caller's
  // own enterprise (an enterprise lists only waybills it is party to), or
  // for a regulator the party the request names. A regulator's listing by
  // plate or time alone reads all waybills, kMaxWaybillsExamined a page.
  std::string party;
  if (!registry::HasOversightRole(actor)) {
    party = actor.enterprise_uscc();
    if (party.empty()) return grpc::Status::OK;  // party to no waybill
  } else if (!f.carrier_uscc().empty()) {
    party = f.carrier_uscc();
  } else if (!f.consignor_uscc().empty()) {
    party = f.consignor_uscc();
  } else {
    party = f.consignee_uscc();
  }
  absl::StatusOr<WaybillPage> page =
      party.empty() ? waybill::ListWaybills(*snapshot, after, *limit, keep)
                    : waybill::ListWaybillsOf(*snapshot, party, after, *limit, keep);
  if (!page.ok()) return ToGrpcStatus(page.status());
  if (!failure.ok()) return ToGrpcStatus(failure);
  const absl::StatusOr<const crypto::SigningKey*> code_key = book_->CodeKey(*snapshot);
  for (const WaybillState& s : page->waybills) {
    FillRecord(*snapshot, code_key, s, response->add_waybills());
  }
  response->set_log_size(snapshot->size());
  if (!page->resume_after.empty()) {
    ledger_->Keep(snapshot);
    response->set_next_page_token(
        SealPageCursor(absl::StrCat(snapshot->size(), ":", page->resume_after)));
  }
  return grpc::Status::OK;
}

grpc::ServerUnaryReactor* WaybillServiceImpl::ListVehiclesInPark(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return ServeRawUnary<v1::ListVehiclesInParkRequest, v1::VehiclesInPark>(
      context, request, response, read_executor_,
      [this, context](const v1::ListVehiclesInParkRequest* r, absl::string_view bytes,
                      v1::VehiclesInPark* out) {
        return ServeListVehiclesInPark(context, r, bytes, out);
      });
}

grpc::Status WaybillServiceImpl::ServeListVehiclesInPark(
    grpc::ServerContextBase* context, const v1::ListVehiclesInParkRequest* request,
    absl::string_view request_bytes, v1::VehiclesInPark* response) {
  std::shared_ptr<const storage::Snapshot> snapshot = ledger_->Latest();
  absl::StatusOr<v1::Actor> reader =
      reads_->Authenticate(*snapshot, *context, kListVehiclesInParkMethod, request_bytes);
  if (!reader.ok()) return ToGrpcStatus(reader.status());
  TellServedAt(context, *snapshot);
  absl::StatusOr<bool> oversees =
      registry::DepartmentReads(*reader, registry::RecordKind::kVehicles) == registry::Reads::kAll
          ? registry::OverseesPark(*snapshot, *reader, request->park_id())
          : absl::StatusOr<bool>(false);
  if (!oversees.ok()) return ToGrpcStatus(oversees.status());
  const bool allowed = *oversees || (reader->role() == v1::PARK_GATE &&
                                     reader->park_id() == request->park_id());
  if (!allowed) {
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                        "park_id: the vehicles inside a park are read by the park's gates and "
                        "regulators whose jurisdiction holds the park");
  }
  absl::StatusOr<std::vector<VehicleInPark>> inside = VehiclesInPark(*snapshot, request->park_id());
  if (!inside.ok()) return ToGrpcStatus(inside.status());
  for (const VehicleInPark& v : *inside) {
    absl::StatusOr<std::optional<WaybillState>> w = FindWaybillByRef(*snapshot, v.waybill_ref);
    if (!w.ok()) return ToGrpcStatus(w.status());
    v1::VehiclesInPark::Vehicle* out = response->add_vehicles();
    out->set_waybill_number(NumberOfRef(v.waybill_ref));
    out->set_carrier_uscc(CarrierOfRef(v.waybill_ref));
    out->set_gate_id(v.gate_id);
    out->set_entered_unix_seconds(absl::ToUnixSeconds(v.entered));
    out->set_log_index(v.log_index);
    // The vehicle that entered (an amendment since may have changed the
    // waybill's); before rules epoch 9 only the waybill's is known.
    out->set_vehicle_plate(v.plate);
    if (*w) {
      if (v.plate.empty()) out->set_vehicle_plate((*w)->waybill.vehicle().plate());
      for (const v1::GoodsLine& g : (*w)->waybill.goods()) out->add_un_numbers(g.un_number());
    }
  }
  response->set_log_size(snapshot->size());
  return grpc::Status::OK;
}

}  // namespace chemledger::waybill
