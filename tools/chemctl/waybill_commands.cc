// chemctl waybill submit|depart|arrive|cancel|show|list: a transport firm's
// e-waybills (电子运单) from a shell. Changes are signed here with the
// carrier actor's key (--key); reads carry read credentials signed with it.
// `submit` prints the waybill's code and can write it as a QR image for the
// paper copy.

#include <iostream>
#include <string>
#include <utility>

#include "api/china_time.h"
#include "api/net_quantity.h"
#include "api/wire.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "chemledger/v1/waybill_service.grpc.pb.h"
#include "render/qr.h"
#include "services/common/envelope.h"
#include "tools/chemctl/command.h"
#include "tools/chemctl/common.h"

namespace chemledger::chemctl {
namespace {

absl::StatusOr<std::unique_ptr<v1::WaybillService::Stub>> WaybillStub(const cli::Args& args) {
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = ServerChannel(args);
  if (!channel.ok()) return channel.status();
  return v1::WaybillService::NewStub(*channel);
}

absl::Status WriteQr(const std::string& path, const std::string& url) {
  absl::StatusOr<render::QrSymbol> qr = render::EncodeQr(url);
  if (!qr.ok()) return qr.status();
  absl::StatusOr<std::string> png = render::QrToPng(*qr, 4);
  if (!png.ok()) return png.status();
  return WriteFile(path, *png);
}

// Signs `request` (its request_id set here), submits it and prints the result.
absl::Status Send(const cli::Args& args, v1::WaybillRequest request, absl::string_view what) {
  absl::StatusOr<crypto::SigningKey> key = cli::SigningKeyArg(args, "key");
  if (!key.ok()) return key.status();
  request.set_request_id(RequestId(args));
  absl::StatusOr<std::string> deployment = ServedDeployment(args);
  if (!deployment.ok()) return deployment.status();
  request.set_deployment(*deployment);
  absl::StatusOr<v1::SignedEnvelope> envelope =
      envelope::Sign(api::kWaybillContext, request.SerializeAsString(), *key);
  if (!envelope.ok()) return envelope.status();
  absl::StatusOr<std::unique_ptr<v1::WaybillService::Stub>> stub = WaybillStub(args);
  if (!stub.ok()) return stub.status();
  v1::WaybillResult result;
  grpc::Status status = (*stub)->Submit(Context().get(), *envelope, &result);
  if (!status.ok()) {
    // A departure's or arrival's time is signed with it: the same one again.
    const v1::WaybillMovement* movement = request.has_depart()   ? &request.depart()
                                          : request.has_arrive() ? &request.arrive()
                                                                 : nullptr;
    return WriteError(
        status,
        absl::StrCat(
            "--request-id ", request.request_id(),
            movement == nullptr
                ? ""
                : absl::StrCat(" --time ",
                               absl::FormatTime(absl::RFC3339_sec,
                                                absl::FromUnixSeconds(movement->time().seconds()),
                                                absl::UTCTimeZone()))));
  }
  std::cout << (result.replayed() ? "already " : "") << what << " at log index "
            << result.log_index() << " (request " << request.request_id() << ")\n";
  if (args.Has("qr") && result.waybill_code().empty()) {
    return absl::FailedPreconditionError("--qr: the server sent no waybill code (no label key?)");
  }
  if (!result.waybill_code().empty()) {
    std::cout << "waybill code: " << result.waybill_code() << "\n";
    if (args.Has("qr")) {
      if (absl::Status s = WriteQr(args.Get("qr"), result.waybill_code()); !s.ok()) return s;
      std::cout << "QR image: " << args.Get("qr") << "\n";
    }
  }
  return absl::OkStatus();
}

absl::Status SubmitWaybill(const cli::Args& args) {
  absl::StatusOr<std::string> path = args.Required("json");
  if (!path.ok()) return path.status();
  absl::StatusOr<v1::Waybill> w = ReadJson<v1::Waybill>(*path, "chemledger.v1.Waybill");
  if (!w.ok()) return w.status();
  v1::WaybillRequest r;
  const bool amend = args.Bool("amend");
  const std::string number = w->waybill_number();
  *(amend ? r.mutable_amend() : r.mutable_submit()) = *std::move(w);
  return Send(args, std::move(r), absl::StrCat(amend ? "amended " : "submitted ", number));
}

absl::StatusOr<std::string> OneNumber(const cli::Args& args) {
  if (args.positional().size() != 1) return absl::InvalidArgumentError("give one waybill number");
  return args.positional()[0];
}

absl::Status Movement(const cli::Args& args, bool depart) {
  absl::StatusOr<std::string> number = OneNumber(args);
  if (!number.ok()) return number.status();
  v1::WaybillRequest r;
  v1::WaybillMovement* m = depart ? r.mutable_depart() : r.mutable_arrive();
  m->set_waybill_number(*number);
  // The time is part of the signed request: to resend one with --request-id,
  // give the same --time.
  absl::Time when = absl::Now();
  if (args.Has("time")) {
    std::string error;
    if (!absl::ParseTime(absl::RFC3339_full, args.Get("time"), &when, &error)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--time '", args.Get("time"), "' must be RFC 3339, e.g. 2026-11-23T08:00:00+08:00"));
    }
  }
  m->mutable_time()->set_seconds(absl::ToUnixSeconds(when));
  // A regulator recording a blacklisted carrier's arrival names the carrier.
  if (!depart && args.Has("carrier")) m->set_carrier_uscc(args.Get("carrier"));
  return Send(args, std::move(r), absl::StrCat(depart ? "departed " : "arrived ", *number));
}

absl::Status Cancel(const cli::Args& args) {
  absl::StatusOr<std::string> number = OneNumber(args);
  if (!number.ok()) return number.status();
  absl::StatusOr<std::string> reason = args.Required("reason");
  if (!reason.ok()) return reason.status();
  v1::WaybillRequest r;
  r.mutable_cancel()->set_waybill_number(*number);
  r.mutable_cancel()->set_reason(*reason);
  r.mutable_cancel()->set_carrier_uscc(args.Get("carrier"));
  return Send(args, std::move(r), absl::StrCat("cancelled ", *number));
}

absl::Status Consent(const cli::Args& args) {
  absl::StatusOr<std::string> number = OneNumber(args);
  if (!number.ok()) return number.status();
  absl::StatusOr<std::string> carrier = args.Required("carrier");
  if (!carrier.ok()) return carrier.status();
  absl::StatusOr<uint64_t> revision = args.Uint("revision", 0);
  if (!revision.ok()) return revision.status();
  if (*revision == 0) return absl::InvalidArgumentError("--revision: is required (see waybill show)");
  v1::WaybillRequest r;
  r.mutable_consent()->set_waybill_number(*number);
  r.mutable_consent()->set_carrier_uscc(*carrier);
  r.mutable_consent()->set_revision(*revision);
  return Send(args, std::move(r), absl::StrCat("consented to ", *number));
}

absl::Status AuthorizeCarrier(const cli::Args& args) {
  absl::StatusOr<std::string> carrier = args.Required("carrier");
  if (!carrier.ok()) return carrier.status();
  v1::WaybillRequest r;
  r.mutable_authorize_carrier()->set_carrier_uscc(*carrier);
  if (args.Bool("withdraw")) {
    r.mutable_authorize_carrier()->set_withdraw(true);
    return Send(args, std::move(r), absl::StrCat("withdrew the authorization of ", *carrier));
  }
  absl::StatusOr<std::string> until = args.Required("until");
  if (!until.ok()) return until.status();
  absl::StatusOr<absl::CivilDay> day = DayArg("--until", *until);
  if (!day.ok()) return day.status();
  *r.mutable_authorize_carrier()->mutable_valid_until() = api::ToProtoDate(*day);
  return Send(args, std::move(r), absl::StrCat("authorised ", *carrier, " until ", *until));
}

absl::Status Show(const cli::Args& args) {
  absl::StatusOr<std::string> number = OneNumber(args);
  if (!number.ok()) return number.status();
  absl::StatusOr<ReadSession> reads = ReadSession::Open(args);
  if (!reads.ok()) return reads.status();
  v1::GetWaybillRequest request;
  request.set_waybill_number(*number);
  request.set_carrier_uscc(args.Get("carrier"));
  v1::WaybillRecord record;
  if (absl::Status s = reads->Call(api::kGetWaybillMethod, request, &record); !s.ok()) return s;
  std::cout << PrintJson(record);
  if (!args.Has("qr")) return absl::OkStatus();
  if (record.waybill_code().empty()) {
    return absl::FailedPreconditionError("--qr: the server sent no waybill code (no label key?)");
  }
  return WriteQr(args.Get("qr"), record.waybill_code());
}

absl::Status List(const cli::Args& args) {
  absl::StatusOr<ReadSession> reads = ReadSession::Open(args);
  if (!reads.ok()) return reads.status();
  v1::ListWaybillsRequest request;
  request.set_carrier_uscc(args.Get("carrier"));
  request.set_consignor_uscc(args.Get("consignor"));
  request.set_consignee_uscc(args.Get("consignee"));
  request.set_vehicle_plate(args.Get("plate"));
  request.set_page_size(1000);
  do {
    v1::ListWaybillsResponse page;
    if (absl::Status s = reads->Call(api::kListWaybillsMethod, request, &page); !s.ok()) {
      return s;
    }
    for (const v1::WaybillRecord& r : page.waybills()) {
      const v1::Waybill& w = r.waybill();
      std::cout << w.waybill_number() << "\t" << v1::WaybillStatus_Name(r.status()) << "\t"
                << w.vehicle().plate() << "\t" << w.consignor().uscc() << " -> "
                << w.consignee().uscc() << "\t" << r.received_size() << "/" << r.shipped_size()
                << " received\n";
    }
    request.set_page_token(page.next_page_token());
  } while (!request.page_token().empty());
  return absl::OkStatus();
}

}  // namespace

std::vector<Command> WaybillCommands() {
  return {
      {"waybill submit", "submit (or --amend) an e-waybill from JSON, as the carrier",
       absl::StrCat("usage: chemctl waybill submit --json FILE --key KEY [--amend] [--qr PNG]\n\n"
                    "Submits a chemledger.v1.Waybill (JSON, .proto field names; - for stdin),\n"
                    "signed with the carrier actor's key. Prints the log index and the\n"
                    "waybill's signed code (电子运单二维码); --qr writes it as a QR image.\n"
                    "--amend replaces an open waybill that has not shipped.\n\n",
                    kWriteHelp, kServerHelp),
       WriteFlags({"json", "qr"}, {"amend"}), SubmitWaybill},
      {"waybill depart", "the vehicle has left with the goods",
       absl::StrCat("usage: chemctl waybill depart NUMBER --key KEY [--time RFC3339]\n\n"
                    "  --time T               when (default now); give the same T with\n"
                    "                         --request-id to resend the same request\n",
                    kWriteHelp, kServerHelp),
       WriteFlags({"time"}), [](const cli::Args& a) { return Movement(a, true); }},
      {"waybill arrive", "the vehicle has arrived at the destination",
       absl::StrCat("usage: chemctl waybill arrive NUMBER --key KEY [--time RFC3339] "
                    "[--carrier USCC]\n\n"
                    "  --time T               when (default now); give the same T with\n"
                    "                         --request-id to resend the same request\n"
                    "  --carrier USCC         the waybill's carrier, when a regulator of\n"
                    "                         交通运输 records the arrival of a blacklisted\n"
                    "                         carrier's waybill, departed or with goods\n"
                    "                         shipped (docs/waybills.md)\n",
                    kWriteHelp, kServerHelp),
       WriteFlags({"time", "carrier"}), [](const cli::Args& a) { return Movement(a, false); }},
      {"waybill cancel", "cancel a waybill (nothing received under it yet)",
       absl::StrCat(
           "usage: chemctl waybill cancel NUMBER --reason TEXT --key KEY [--carrier USCC]\n\n"
           "  --carrier USCC         the waybill's carrier, when a consignor cancels\n"
           "                         (waybill numbers are unique per carrier)\n",
           kWriteHelp, kServerHelp),
       WriteFlags({"reason", "carrier"}), Cancel},
      {"waybill consent", "the consignor consents to a pending waybill its goods are on",
       absl::StrCat(
           "usage: chemctl waybill consent NUMBER --carrier USCC --revision N --key KEY\n\n"
           "Signed by an actor of the consignor. --revision is the waybill's content\n"
           "revision as read (waybill show): consent is to what was read.\n\n",
           kWriteHelp, kServerHelp),
       WriteFlags({"carrier", "revision"}), Consent},
      {"waybill authorize-carrier", "the consignor lets a carrier's waybills open at once",
       absl::StrCat(
           "usage: chemctl waybill authorize-carrier --carrier USCC --until YYYY-MM-DD --key KEY\n"
           "       chemctl waybill authorize-carrier --carrier USCC --withdraw --key KEY\n\n"
           "Signed by an actor of the consignor: waybills of that carrier for the\n"
           "consignor's goods open at once, without consent to each, until the day\n"
           "given (China time, at most three years ahead).\n\n",
           kWriteHelp, kServerHelp),
       WriteFlags({"carrier", "until"}, {"withdraw"}), AuthorizeCarrier},
      {"waybill show", "one waybill: status, shipped and received codes, its code",
       absl::StrCat("usage: chemctl waybill show NUMBER --key KEY [--carrier USCC] [--qr PNG]\n\n"
                    "  --key FILE             an actor key of the carrier, consignor, consignee\n"
                    "                         or a regulator (signs the read)\n"
                    "  --carrier USCC         the waybill's carrier, when several carriers'\n"
                    "                         waybills you may read have that number\n",
                    kServerHelp),
       ReadFlags({"qr", "carrier"}), Show},
      {"waybill list", "waybills by carrier, consignor, consignee or plate",
       absl::StrCat("usage: chemctl waybill list --key KEY [--carrier USCC] [--consignor USCC]\n"
                    "                            [--consignee USCC] [--plate PLATE]\n\n"
                    "One line per waybill: number, status, plate, consignor -> consignee,\n"
                    "codes received of shipped.\n\n",
                    kServerHelp),
       ReadFlags({"carrier", "consignor", "consignee", "plate"}), List},
  };
}

}  // namespace chemledger::chemctl
