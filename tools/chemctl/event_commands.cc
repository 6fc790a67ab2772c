// chemctl event record|history: a package's life from a shell. Events are
// signed here with the actor's key (--key); `history --verify` checks the
// code's hash chain and proves every event into a checkpoint signed by the
// key pinned with --trust-root.

#include <iostream>
#include <string>
#include <utility>
#include <vector>

#include <optional>

#include "api/china_time.h"
#include "api/net_quantity.h"
#include "api/wire.h"
#include "chemledger/v1/ledger.pb.h"
#include "crypto/checkpoint.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "chemledger/v1/ledger_service.grpc.pb.h"
#include "crypto/checkpoint.h"
#include "crypto/merkle.h"
#include "grpcpp/client_context.h"
#include "services/common/envelope.h"
#include "services/common/grpc_read_auth.h"
#include "services/common/grpc_status.h"
#include "tools/chemctl/command.h"
#include "tools/chemctl/common.h"

namespace chemledger::chemctl {
namespace {

cli::FlagSpec EventFlags(std::set<std::string> with_value) {
  for (const char* f : {"server", "tls-ca", "key", "passphrase-file"}) with_value.insert(f);
  return {with_value, {"verify"}};
}

absl::StatusOr<std::unique_ptr<v1::LedgerService::Stub>> LedgerStub(const cli::Args& args) {
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = ServerChannel(args);
  if (!channel.ok()) return channel.status();
  return v1::LedgerService::NewStub(*channel);
}

// "25", "0.5": thousandths, as label quantities.
absl::StatusOr<uint64_t> Milli(absl::string_view flag, absl::string_view text) {
  absl::StatusOr<uint32_t> milli = api::ParseNetQuantity(flag, text);
  if (!milli.ok()) return milli.status();
  return *milli;
}

absl::Status Record(const cli::Args& args) {
  absl::StatusOr<crypto::SigningKey> key = cli::SigningKeyArg(args, "key");
  if (!key.ok()) return key.status();
  v1::Event e;
  absl::StatusOr<std::string> step = args.Required("step");
  if (!step.ok()) return step.status();
  v1::BusinessStep parsed_step;
  if (!v1::BusinessStep_Parse(absl::AsciiStrToUpper(*step), &parsed_step) ||
      parsed_step == v1::BUSINESS_STEP_UNSPECIFIED) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--step '", *step, "' must be one of commissioning, storing, shipping, receiving, "
        "consuming, repackaging, packing, unpacking, destroying, loss_report, found, voiding, "
        "error_declaration, holding, releasing, recalling"));
  }
  e.set_step(parsed_step);
  e.set_event_id(args.Has("event-id") ? args.Get("event-id") : RequestId(args));
  for (const std::string& code : args.positional()) e.add_codes(code);
  absl::StatusOr<std::string> enterprise = args.Required("enterprise");
  if (!enterprise.ok()) return enterprise.status();
  e.mutable_location()->set_enterprise_uscc(*enterprise);
  e.mutable_location()->set_site(args.Get("site", "main"));
  absl::Time when = absl::Now();
  int offset_minutes = 480;  // China Standard Time unless --time says otherwise
  if (args.Has("time")) {
    const std::string text = args.Get("time");
    std::string error;
    if (!absl::ParseTime(absl::RFC3339_full, text, &when, &error)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--time '", text, "' must be RFC 3339, e.g. 2026-11-23T08:00:00+08:00"));
    }
    // The offset the time was written with: "Z" or "+hh:mm" / "-hh:mm".
    if (text.back() == 'Z' || text.back() == 'z') {
      offset_minutes = 0;
    } else if (text.size() >= 6 && (text[text.size() - 6] == '+' || text[text.size() - 6] == '-')) {
      int hours = 0, minutes = 0;
      if (absl::SimpleAtoi(text.substr(text.size() - 5, 2), &hours) &&
          absl::SimpleAtoi(text.substr(text.size() - 2, 2), &minutes)) {
        offset_minutes = (hours * 60 + minutes) * (text[text.size() - 6] == '-' ? -1 : 1);
      }
    }
  }
  e.mutable_event_time()->set_seconds(absl::ToUnixSeconds(when));
  e.set_event_time_offset_minutes(offset_minutes);
  if (args.Has("quantity")) {
    absl::StatusOr<uint64_t> q = Milli("--quantity", args.Get("quantity"));
    if (!q.ok()) return q.status();
    e.set_quantity_milli(*q);
  }
  if (args.Has("loss")) {
    absl::StatusOr<uint64_t> q = Milli("--loss", args.Get("loss"));
    if (!q.ok()) return q.status();
    e.set_declared_loss_milli(*q);
  }
  if (args.Has("outputs")) {
    for (absl::string_view item : absl::StrSplit(args.Get("outputs"), ',')) {
      std::vector<std::string> parts = absl::StrSplit(item, '=');
      if (parts.size() != 2) {
        return absl::InvalidArgumentError("--outputs must be CODE=QUANTITY,CODE=QUANTITY,...");
      }
      absl::StatusOr<uint64_t> q = Milli("--outputs", parts[1]);
      if (!q.ok()) return q.status();
      v1::RepackagingOutput* out = e.add_outputs();
      out->set_code(parts[0]);
      out->set_quantity_milli(*q);
    }
  }
  e.set_parent_code(args.Get("parent"));
  e.set_consignee_uscc(args.Get("consignee"));
  e.set_waybill_id(args.Get("waybill"));
  e.set_manifest_id(args.Get("manifest"));
  e.set_corrects_event_id(args.Get("corrects"));
  e.set_reason(args.Get("reason"));
  e.set_waste_code(args.Get("waste-code"));
  absl::StatusOr<std::string> deployment = ServedDeployment(args);
  if (!deployment.ok()) return deployment.status();
  e.set_deployment(*deployment);

  absl::StatusOr<v1::SignedEnvelope> envelope =
      envelope::Sign(api::kEventContext, e.SerializeAsString(), *key);
  if (!envelope.ok()) return envelope.status();
  absl::StatusOr<std::unique_ptr<v1::LedgerService::Stub>> stub = LedgerStub(args);
  if (!stub.ok()) return stub.status();
  v1::AppendResponse response;
  grpc::Status status = (*stub)->Append(Context().get(), *envelope, &response);
  if (!status.ok()) {
    return WriteError(status,
                      absl::StrCat("--event-id ", e.event_id(), " --time ",
                                   absl::FormatTime(absl::RFC3339_sec, when,
                                                    absl::FixedTimeZone(offset_minutes * 60))));
  }
  std::cout << (response.replayed() ? "already recorded" : "recorded") << " "
            << v1::BusinessStep_Name(e.step()) << " " << e.event_id() << " at log index "
            << response.log_index() << "\n";
  return absl::OkStatus();
}

absl::Status History(const cli::Args& args) {
  if (args.positional().size() != 1) return absl::InvalidArgumentError("give one code");
  absl::StatusOr<ReadSession> reads = ReadSession::Open(args);
  if (!reads.ok()) return reads.status();
  absl::StatusOr<std::unique_ptr<v1::LedgerService::Stub>> stub = LedgerStub(args);
  if (!stub.ok()) return stub.status();
  // Page by page, into one history (the first page's state and log size).
  v1::History history;
  std::string token;
  do {
    v1::GetHistoryRequest request;
    request.set_code(args.positional()[0]);
    request.set_page_token(token);
    v1::History page;
    if (absl::Status s = reads->Call(api::kGetHistoryMethod, request, &page); !s.ok()) return s;
    token = page.next_page_token();
    if (history.code().empty()) {
      history = std::move(page);
    } else {
      for (v1::EventRecord& e : *page.mutable_events()) *history.add_events() = std::move(e);
    }
  } while (!token.empty());
  grpc::Status status;
  std::cout << history.code() << ": " << history.status() << ", custodian "
            << history.custodian() << ", remaining "
            << api::FormatNetQuantity(history.remaining_milli()) << " "
            << history.unit() << (history.parent().empty() ? "" : ", packed on " + history.parent())
            << "\n";

  std::optional<crypto::Checkpoint> checkpoint;
  if (args.Bool("verify")) {
    absl::StatusOr<std::string> root_text = args.Required("trust-root");
    if (!root_text.ok()) return root_text.status();
    absl::StatusOr<crypto::NoteVerifier> root = crypto::NoteVerifier::FromVerifierKey(*root_text);
    if (!root.ok()) return absl::InvalidArgumentError(absl::StrCat("--trust-root: ", root.status().message()));
    v1::Checkpoint signed_checkpoint;
    status = (*stub)->GetCheckpoint(Context().get(), {}, &signed_checkpoint);
    if (!status.ok()) return FromGrpcStatus(status);
    absl::StatusOr<crypto::Checkpoint> opened =
        crypto::OpenCheckpoint(signed_checkpoint.signed_note(), root->name(), *root);
    if (!opened.ok()) return opened.status();
    checkpoint = *opened;
  }
  std::string previous;
  for (const v1::EventRecord& record : history.events()) {
    // What is shown and chained: with --verify, of a whole record the entry
    // its proven bytes hold, never the server's parsed copy beside them
    // (which could say anything); a redacted record's content is the
    // server's word, and is said to be.
    v1::LogEntry entry = record.entry();
    if (args.Bool("verify") && !record.redacted() && !entry.ParseFromString(record.entry_bytes())) {
      return absl::DataLossError(absl::StrCat("event at log index ", record.log_index(),
                                              ": its entry_bytes are not a LogEntry"));
    }
    v1::Event event;
    event.ParseFromString(entry.envelope().payload());
    std::cout << "  #" << record.log_index() << "  "
              << absl::FormatTime("%Y-%m-%d %H:%M:%S%Ez",
                                  absl::FromUnixSeconds(event.event_time().seconds()),
                                  absl::FixedTimeZone(event.event_time_offset_minutes() * 60))
              << "  " << v1::BusinessStep_Name(event.step()) << "  at "
              << event.location().enterprise_uscc() << " (" << event.location().site() << ")";
    if (!event.waybill_id().empty()) {
      // A shipment names its consignee; a receipt (rules epoch 16) only the
      // waybill its goods came on.
      std::cout << "  waybill " << event.waybill_id();
      if (!event.consignee_uscc().empty()) std::cout << " to " << event.consignee_uscc();
    }
    if (!args.Bool("verify")) {
      std::cout << "\n";
      continue;
    }
    // The leaf hash: of the entry's exact bytes for a whole record; for a
    // redacted one (it named codes this reader may not read), the server's,
    // which the inclusion proof below checks all the same.
    crypto::Sha256Digest hash;
    if (record.redacted()) {
      absl::StatusOr<crypto::Sha256Digest> given =
          crypto::Sha256Digest::FromBytes(record.event_hash());
      if (!given.ok()) return given.status();
      hash = *given;
    } else {
      hash = crypto::HashLeaf(record.entry_bytes());
      if (hash.ToBytes() != record.event_hash()) {
        return absl::DataLossError(absl::StrCat("event at log index ", record.log_index(),
                                                ": its bytes do not hash to its event_hash"));
      }
    }
    // The chain: this event names the previous event's leaf hash.
    v1::EventLinks links;
    links.ParseFromString(entry.assignment());
    bool linked = false;
    for (const auto& link : links.links()) {
      linked |= link.code() == history.code() && link.previous_event_hash() == previous;
    }
    if (!linked) {
      return absl::DataLossError(absl::StrCat("event at log index ", record.log_index(),
                                              " does not link to the previous one"));
    }
    previous = hash.ToBytes();
    // Inclusion in the signed checkpoint.
    v1::GetInclusionProofRequest proof_request;
    proof_request.set_leaf_index(record.log_index());
    proof_request.set_tree_size(checkpoint->size);
    v1::InclusionProof proof;
    status = (*stub)->GetInclusionProof(Context().get(), proof_request, &proof);
    if (!status.ok()) return FromGrpcStatus(status);
    std::vector<crypto::Sha256Digest> path;
    for (const std::string& h : proof.hashes()) {
      absl::StatusOr<crypto::Sha256Digest> d = crypto::Sha256Digest::FromBytes(h);
      if (!d.ok()) return d.status();
      path.push_back(*d);
    }
    if (absl::Status s = crypto::VerifyInclusion(record.log_index(), checkpoint->size, hash, path,
                                                 checkpoint->root_hash);
        !s.ok()) {
      return absl::DataLossError(absl::StrCat("event at log index ", record.log_index(),
                                              " does not prove into the checkpoint: ", s.message()));
    }
    std::cout << (record.redacted()
                      ? "  proven in the log; its content and links withheld (other codes), "
                        "not proved\n"
                      : "  chained, proven\n");
  }
  if (checkpoint) {
    std::cout << "verified: " << history.events_size() << " events, each in the log of size "
              << checkpoint->size << " signed by " << args.Get("trust-root")
              << "; each whole one names the one before it. Not checked here: the events' "
                 "signatures and signers (chemaudit history does)\n";
  }
  return absl::OkStatus();
}

}  // namespace

std::vector<Command> EventCommands() {
  const std::string common =
      "  --key FILE             your actor key (signs the event or the read)\n"
      "  --passphrase-file F    passphrase of a sealed --key\n"
      "  --server HOST:PORT     chemledgerd to talk to (default 127.0.0.1:7443)\n"
      "  --tls-ca FILE          use TLS, trusting this CA certificate (PEM)\n";
  return {
      {"event record", "sign and record one lifecycle event",
       "usage: chemctl event record --step STEP --enterprise USCC [--site SITE] CODE... --key FILE\n"
       "         [--event-id ID] [--time RFC3339] [--quantity Q] [--outputs CODE=Q,...]\n"
       "         [--loss Q] [--parent CODE] [--consignee USCC] [--waybill ID]\n"
       "         [--manifest ID] [--corrects EVENT_ID] [--reason TEXT] [--waste-code CODE]\n\n"
       "STEP: commissioning, storing, shipping, receiving, consuming, repackaging,\n"
       "packing, unpacking, destroying, loss_report, found, voiding, error_declaration,\n"
       "holding, releasing, recalling (a regulator's --key records these three for any\n"
       "enterprise: --enterprise names the custodian, or for a recall the issuer),\n"
       "observing, waste_declaring (with --waste-code NNN-NNN-NN, 国家危险废物名录).\n"
       "Quantities are decimals in the package's unit (e.g. 25 or 0.5).\n\n" + common,
       EventFlags({"step", "enterprise", "site", "event-id", "time", "quantity", "outputs",
                   "loss", "parent", "consignee", "waybill", "manifest", "corrects", "reason",
                   "waste-code", "request-id"}),
       Record},
      {"event history", "a code's events; --verify checks its chain and proofs",
       "usage: chemctl event history CODE --key FILE [--verify --trust-root VKEY]\n\n"
       "With --verify, checks that each event links to the previous one's leaf hash\n"
       "and proves each into the log's checkpoint, signed by the pinned key.\n\n" + common,
       EventFlags({"trust-root"}), History},
  };
}

}  // namespace chemledger::chemctl
