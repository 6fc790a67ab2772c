// chemaudit: the regulators' command line (docs/audit.md).
//
//   chemaudit checkpoint --server HOST:PORT [--tls-ca F] --note-key VKEY --out FILE
//                        [--witnesses FILE --require K]
//   chemaudit history CODE --server HOST:PORT [--tls-ca F] --key FILE
//                     [--passphrase-file F] [--kept CHECKPOINT] --out BUNDLE
//   chemaudit verify BUNDLE --note-key VKEY [--kept CHECKPOINT] [--code CODE]
//   chemaudit epcis BUNDLE --note-key VKEY [--kept CHECKPOINT] [--out FILE]
//   chemaudit watch --server HOST:PORT [--tls-ca F] --note-key VKEY --state DIR
//                   [--key FILE [--passphrase-file F]] [--interval SECONDS] [--once]
//   chemaudit reconcile --server HOST:PORT [--tls-ca F] --key FILE [--passphrase-file F]
//                       [goods] [place] [--from DAY] [--to DAY] [--csv | --json] [--out F]
//                       [--carriers-csv F]
//   chemaudit query --server HOST:PORT [--tls-ca F] --key FILE [goods] [place] [--site S]
//                   [--step STEP] [--waybill C/N] [--from DAY] [--to DAY] [--csv | --json]
//   chemaudit anomalies --server HOST:PORT [--tls-ca F] --key FILE [--kind K,...] [place]
//                       [--after LOG_INDEX] [--json]
//
// `verify` works entirely offline: it needs the bundle, the log's note
// verifier key (pinned: from `chemledgerd init`, DIR/note.vkey) and, to show
// that the log was only ever extended, a checkpoint kept earlier.

#include <sys/stat.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "api/china_time.h"
#include "api/wire.h"
#include "chemledger/v1/audit_service.grpc.pb.h"
#include "chemledger/v1/audit_service.pb.h"
#include "chemledger/v1/ledger_service.grpc.pb.h"
#include "chemledger/v1/registry_service.pb.h"
#include "crypto/checkpoint.h"
#include "crypto/merkle.h"
#include "google/protobuf/util/json_util.h"
#include "services/audit/epcis.h"
#include "services/audit/history_bundle.h"
#include "services/audit/query_bundle.h"
#include "services/common/grpc_read_auth.h"
#include "services/ledger/major_hazard.h"
#include "storage/durable_file.h"
#include "tools/chemaudit/anomaly_evidence.h"
#include "tools/chemaudit/console_login.h"
#include "tools/chemaudit/report_format.h"
#include "tools/chemctl/common.h"
#include "tools/cli/args.h"
#include "tools/cli/key_args.h"

namespace chemledger::chemaudit {
namespace {

constexpr char kUsage[] =
    "usage: chemaudit COMMAND ...\n\n"
    "  checkpoint --server HOST:PORT [--tls-ca F] --note-key VKEY --out FILE\n"
    "             [--witnesses FILE --require K]\n"
    "      fetch the log's signed checkpoint, check it against the pinned note\n"
    "      key, and keep it (a signed note) for later consistency checks (a\n"
    "      checkpoint already in FILE is replaced only by one of a log that\n"
    "      extends it, proved); with\n"
    "      --witnesses (one witness verifier key per line, as chemaudit watch\n"
    "      prints it), the newest checkpoint witnesses co-signed, required to\n"
    "      carry valid co-signatures of at least K of them\n"
    "  history CODE --server HOST:PORT [--tls-ca F] --key FILE [--passphrase-file F]\n"
    "          [--kept CHECKPOINT] --out BUNDLE\n"
    "      fetch a code's history as a self-contained bundle (AuditService;\n"
    "      regulators and platform administrators), proving consistency with\n"
    "      the kept checkpoint when given\n"
    "  verify BUNDLE --note-key VKEY [--kept CHECKPOINT] [--code CODE]\n"
    "      check a bundle offline (a code's history or a query's export): the\n"
    "      checkpoint's signature, every inclusion proof, every event's signature\n"
    "      (and a history's chain; a query's order and filters), and with --kept\n"
    "      that the log only grew since; exit status 1 at the first failure\n"
    "  epcis BUNDLE --note-key VKEY [--kept CHECKPOINT] [--out FILE]\n"
    "      verify a bundle as verify does, then write its events as a GS1 EPCIS\n"
    "      2.0 document (JSON-LD; docs/audit.md) to FILE or stdout\n"
    "  watch --server HOST:PORT [--tls-ca F] --note-key VKEY --state DIR\n"
    "        [--key FILE [--passphrase-file F]] [--interval SECONDS] [--once]\n"
    "      a witness: polls the signed checkpoint, checks that each is signed by the\n"
    "      pinned key and extends the one before (a consistency proof), keeps it in\n"
    "      DIR, and raises an alarm (exit status 3, DIR/ALARM) on a log that shrank\n"
    "      or forked; with --key (a regulator's), co-signs each good checkpoint as\n"
    "      witness/<key id> and hands the co-signature to the server\n"
    "  reconcile --server HOST:PORT [--tls-ca F] --key FILE [--passphrase-file F]\n"
    "            [--cas CAS | --catalogue N | --flag FLAG | --product USCC/NUMBER]\n"
    "            [--enterprise USCC | --region PREFIX | --park ID]\n"
    "            [--from DAY] [--to DAY] [--csv | --json] [--out FILE]\n"
    "            [--carriers-csv FILE]\n"
    "      流向登记与统计 (AuditService.Reconcile): per enterprise, product and unit,\n"
    "      opening stock, what came in, went out, was used, disposed of and lost,\n"
    "      closing stock and goods in transit, and the balances that must be zero,\n"
    "      with the codes behind any difference; days are China days, both\n"
    "      included (default: since the ledger began, up to now); --csv writes the\n"
    "      rows and totals, --carriers-csv what each carrier moved; regulators\n"
    "      read their jurisdiction, an enterprise's actors their own books. Exit\n"
    "      status 4 when a balance is not zero\n"
    "  query --server HOST:PORT [--tls-ca F] --key FILE [--passphrase-file F]\n"
    "        [--cas CAS | --un NNNN | --catalogue N | --flag FLAG | --product USCC/NUMBER]\n"
    "        [--enterprise USCC | --region PREFIX | --park ID] [--site SITE]\n"
    "        [--step STEP] [--waybill CARRIER/NUMBER] [--from DAY] [--to DAY]\n"
    "        [--csv | --json] [--out FILE] [--page-size N]\n"
    "      events (AuditService.QueryEvents) in time order, every page read at the\n"
    "      snapshot of the first: a table, CSV, or JSON lines (one EventRecord\n"
    "      each); regulators read their jurisdiction, an enterprise's actors the\n"
    "      events their enterprise recorded; progress on stderr with --out\n"
    "  anomalies --server HOST:PORT [--tls-ca F] --key FILE [--passphrase-file F]\n"
    "            [--kind K[,K...]] [--enterprise USCC | --region PREFIX | --park ID]\n"
    "            [--after LOG_INDEX] [--grace-minutes N] [--json] [--follow]\n"
    "            [--prove --note-key VKEY [--kept CHECKPOINT] [--ledger-server HOST:PORT]]\n"
    "      the anomaly list (AuditService.ListAnomalies): first the shipments\n"
    "      overdue now (not received N minutes, default 120, after their planned\n"
    "      arrival), then in log order refused requests recorded in the log (with\n"
    "      the rule), clone signals, losses of controlled goods and major hazard\n"
    "      alerts (a site crossing GB 18218's S = 1 or changing grade); --after the\n"
    "      last one seen lists only newer ones; --follow subscribes\n"
    "      (SubscribeAnomalies) and prints them as they are written, until stopped;\n"
    "      --prove reads each anomaly's log entry (a platform administrator's or a\n"
    "      regulator's of 应急管理 or 园区管委会) and proves it in a checkpoint\n"
    "      signed by the pinned note key, failing if any does not prove (from\n"
    "      LedgerService at --server, or at --ledger-server: ledgerd in a cluster\n"
    "      without a proxy); with --kept, in a log that extends the kept checkpoint;\n"
    "      a refused request's signature is checked with the key its registration\n"
    "      entry (GetActorKey, proved too) holds\n"
    "  stock --server HOST:PORT [--tls-ca F] --key FILE [--passphrase-file F]\n"
    "        [goods as for query] [--enterprise USCC | --region PREFIX | --park ID]\n"
    "        [--site SITE] [--codes] [--csv | --json]\n"
    "      stock on hand now (AuditService.QueryStock) by enterprise, site, product\n"
    "      and unit, with totals per unit; --codes lists the packages\n"
    "  transit --server HOST:PORT [--tls-ca F] --key FILE [--passphrase-file F]\n"
    "          [--enterprise USCC | --region PREFIX | --park ID] [--json]\n"
    "      shipments in transit now (AuditService.QueryInTransit): waybill, vehicle,\n"
    "      consignor, consignee, planned arrival, packages received of shipped,\n"
    "      overdue, controlled goods, waste; with --park the vehicles inside it\n"
    "  major-hazards --server HOST:PORT [--tls-ca F] --key FILE [--passphrase-file F]\n"
    "                [--enterprise USCC | --region PREFIX | --park ID] [--json]\n"
    "      sites that are 重大危险源 now (AuditService.ListMajorHazardSites): GB 18218\n"
    "      S = Σ q/Q, R and the grade the ledger computed from their stock at the last\n"
    "      event there; the alerts are anomalies (--kind MAJOR_HAZARD_ALERT)\n"
    "  export --server HOST:PORT [--tls-ca F] --key FILE [--passphrase-file F]\n"
    "         [query flags as for query] [--kept CHECKPOINT] [--reconcile] --out BUNDLE\n"
    "      a query's events with their proofs, the signers' registrations, the\n"
    "      checkpoint and the trust list, as one file (AuditService.ExportEvents)\n"
    "      for chemaudit verify and chemaudit epcis; --reconcile adds the\n"
    "      reconciliation of the query's goods, place and period, which verify\n"
    "      re-adds; progress on stderr\n"
    "  login --console https://HOST:PORT [--tls-ca F] --key FILE [--passphrase-file F]\n"
    "        --note-key VKEY\n"
    "      sign in to the regulator console in a browser (docs/console.md): signs\n"
    "      the console's challenge with the regulator's key and prints an address\n"
    "      to open once, within two minutes, in the browser; the session lasts 30\n"
    "      minutes, and the page checks every proof against the pinned note key\n\n"
    "VKEY: the note verifier key (\"<origin>+<hash>+<key>\") or a file holding it\n"
    "(chemledgerd init writes DIR/note.vkey).\n";

absl::StatusOr<crypto::NoteVerifier> NoteKey(const cli::Args& args) {
  absl::StatusOr<std::string> text = args.Required("note-key");
  if (!text.ok()) return text.status();
  std::string vkey = *text;
  if (vkey.find('+') == std::string::npos || std::ifstream(vkey).good()) {
    absl::StatusOr<std::string> file = cli::ReadFileOrStdin(vkey);
    if (!file.ok()) return file.status();
    vkey = std::string(absl::StripAsciiWhitespace(*file));
  }
  absl::StatusOr<crypto::NoteVerifier> verifier = crypto::NoteVerifier::FromVerifierKey(vkey);
  if (!verifier.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--note-key: ", verifier.status().message()));
  }
  return verifier;
}

// The size a kept checkpoint names (its second line), without checking it.
absl::StatusOr<uint64_t> KeptSize(const std::string& note) {
  std::vector<std::string> lines = absl::StrSplit(note, '\n');
  uint64_t size = 0;
  if (lines.size() < 2 || !absl::SimpleAtoi(lines[1], &size)) {
    return absl::InvalidArgumentError("--kept: not a checkpoint (its second line is the tree size)");
  }
  return size;
}

int Fail(absl::string_view command, const absl::Status& s) {
  std::cerr << "chemaudit " << command << ": " << s.message() << "\n";
  return 1;
}

absl::Status CheckExtends(v1::LedgerService::Stub& ledger, const crypto::Checkpoint& kept,
                          const crypto::Checkpoint& now);

int Checkpoint(const std::vector<std::string>& argv) {
  absl::StatusOr<cli::Args> args =
      cli::Args::Parse(argv, {{"server", "tls-ca", "note-key", "out", "witnesses", "require"}, {}});
  if (!args.ok()) return Fail("checkpoint", args.status());
  if (args->help()) {
    std::cout << kUsage;
    return 0;
  }
  absl::StatusOr<crypto::NoteVerifier> key = NoteKey(*args);
  if (!key.ok()) return Fail("checkpoint", key.status());
  absl::StatusOr<std::string> out = args->Required("out");
  if (!out.ok()) return Fail("checkpoint", out.status());
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = chemctl::ServerChannel(*args);
  if (!channel.ok()) return Fail("checkpoint", channel.status());
  auto ledger = v1::LedgerService::NewStub(*channel);
  // The witnesses whose co-signatures count, and how many are required.
  std::vector<crypto::NoteVerifier> witnesses;
  int required = 0;
  if (args->Has("witnesses") != args->Has("require")) {
    return Fail("checkpoint", absl::InvalidArgumentError("--witnesses and --require go together"));
  }
  if (args->Has("witnesses")) {
    absl::StatusOr<std::string> list = cli::ReadFileOrStdin(args->Get("witnesses"));
    if (!list.ok()) return Fail("checkpoint", list.status());
    for (absl::string_view line : absl::StrSplit(*list, '\n', absl::SkipWhitespace())) {
      absl::StatusOr<crypto::NoteVerifier> w =
          crypto::NoteVerifier::FromVerifierKey(absl::StripAsciiWhitespace(line));
      if (!w.ok()) {
        return Fail("checkpoint", absl::InvalidArgumentError(absl::StrCat(
                                      "--witnesses: ", line, ": ", w.status().message())));
      }
      // One witness counts once, however often it is listed or named.
      for (const crypto::NoteVerifier& listed : witnesses) {
        if (listed.key().ToBytes() == w->key().ToBytes() ||
            (listed.name() == w->name() && listed.key_hash() == w->key_hash())) {
          return Fail("checkpoint", absl::InvalidArgumentError(absl::StrCat(
                                        "--witnesses: ", w->name(), " is listed twice (as ",
                                        listed.name(), "): each witness counts once")));
        }
      }
      witnesses.push_back(*std::move(w));
    }
    if (!absl::SimpleAtoi(args->Get("require"), &required) || required < 1 ||
        required > static_cast<int>(witnesses.size())) {
      return Fail("checkpoint", absl::InvalidArgumentError(
                                    "--require: 1 to the number of --witnesses"));
    }
  }
  v1::GetCheckpointRequest ask;
  ask.set_with_cosignatures(required > 0);
  ask.set_min_cosignatures(static_cast<uint32_t>(required));
  for (const crypto::NoteVerifier& w : witnesses) {
    absl::string_view id = w.name();
    if (absl::ConsumePrefix(&id, "witness/")) ask.add_witness_key_ids(std::string(id));
  }
  v1::Checkpoint checkpoint;
  const grpc::Status got = ledger->GetCheckpoint(chemctl::Context().get(), ask, &checkpoint);
  if (!got.ok()) return Fail("checkpoint", chemctl::ServerError(got));
  absl::StatusOr<crypto::Checkpoint> opened =
      crypto::OpenCheckpoint(checkpoint.signed_note(), key->name(), *key);
  if (!opened.ok()) {
    return Fail("checkpoint", absl::Status(opened.status().code(),
                                           absl::StrCat("the server's checkpoint does not verify "
                                                        "with the pinned key: ",
                                                        opened.status().message())));
  }
  int cosigned = 0;
  for (const crypto::NoteVerifier& w : witnesses) {
    if (crypto::OpenNote(checkpoint.signed_note(), w).ok()) ++cosigned;
  }
  if (cosigned < required) {
    return Fail("checkpoint", absl::FailedPreconditionError(absl::StrCat(
                                  "the checkpoint at size ", opened->size, " carries ", cosigned,
                                  " valid co-signatures of the witnesses given; ", required,
                                  " required")));
  }
  // The checkpoint kept before is replaced only by one of a log that
  // extends it (a consistency proof), never by one of a log that shrank or
  // forked; a file that holds no checkpoint of this log is not overwritten.
  std::error_code exists_error;
  if (std::filesystem::exists(*out, exists_error)) {
    absl::StatusOr<std::string> before = cli::ReadFileOrStdin(*out);
    if (!before.ok()) return Fail("checkpoint", before.status());
    absl::StatusOr<crypto::Checkpoint> kept = crypto::OpenCheckpoint(*before, key->name(), *key);
    if (!kept.ok()) {
      return Fail("checkpoint",
                  absl::FailedPreconditionError(absl::StrCat(
                      "--out: ", *out, " holds no checkpoint the pinned key signed (",
                      kept.status().message(), "): not overwritten; name another file")));
    }
    if (opened->size < kept->size) {
      return Fail("checkpoint",
                  absl::FailedPreconditionError(absl::StrCat(
                      "the server's checkpoint (size ", opened->size,
                      ") is smaller than the one "
                      "kept in ",
                      *out, " (size ", kept->size,
                      "): not overwritten. A read replica may lag: try again; if it stays "
                      "smaller, the log shrank, which its signed checkpoint proves")));
    }
    if (absl::Status s = CheckExtends(*ledger, *kept, *opened); !s.ok()) {
      return Fail("checkpoint", absl::Status(s.code(), absl::StrCat(s.message(), ": ", *out,
                                                                    " not overwritten (it is "
                                                                    "the evidence)")));
    }
  }
  if (absl::Status s = chemctl::WriteFile(*out, checkpoint.signed_note()); !s.ok()) {
    return Fail("checkpoint", s);
  }
  if (required > 0) {
    std::cout << "co-signed by " << cosigned << " of " << witnesses.size() << " witnesses\n";
  }
  std::cout << "kept checkpoint of " << opened->origin << " at size " << opened->size << " in "
            << *out << "\n";
  return 0;
}

int History(const std::vector<std::string>& argv) {
  absl::StatusOr<cli::Args> args = cli::Args::Parse(
      argv, {{"server", "tls-ca", "key", "passphrase-file", "kept", "out"}, {}});
  if (!args.ok()) return Fail("history", args.status());
  if (args->help()) {
    std::cout << kUsage;
    return 0;
  }
  if (args->positional().size() != 1) {
    return Fail("history", absl::InvalidArgumentError("give one CODE"));
  }
  absl::StatusOr<std::string> out = args->Required("out");
  if (!out.ok()) return Fail("history", out.status());
  v1::GetHistoryBundleRequest request;
  request.set_code(args->positional()[0]);
  if (args->Has("kept")) {
    absl::StatusOr<std::string> note = cli::ReadFileOrStdin(args->Get("kept"));
    if (!note.ok()) return Fail("history", note.status());
    absl::StatusOr<uint64_t> size = KeptSize(*note);
    if (!size.ok()) return Fail("history", size.status());
    request.set_consistency_from_size(*size);
  }
  absl::StatusOr<chemctl::ReadSession> session = chemctl::ReadSession::Open(*args);
  if (!session.ok()) return Fail("history", session.status());
  v1::HistoryBundle bundle;
  if (absl::Status s = session->Call(api::kGetHistoryBundleMethod, request, &bundle); !s.ok()) {
    return Fail("history", s);
  }
  if (bundle.code() != request.code()) {
    return Fail("history", absl::DataLossError(absl::StrCat(
                               "the server answered with the history of ", bundle.code(),
                               ", not of ", request.code())));
  }
  if (absl::Status s = chemctl::WriteFile(*out, bundle.SerializeAsString()); !s.ok()) {
    return Fail("history", s);
  }
  std::cout << "bundle of " << bundle.code() << ": " << bundle.events_size() << " events, "
            << bundle.signer_registrations_size() << " signer registrations, checkpoint at size "
            << bundle.checkpoint().tree_size() << ", in " << *out
            << " (check it with chemaudit verify)\n";
  return 0;
}

// The bundle named by `args`, verified with --note-key and --kept.
struct LoadedBundle {
  v1::HistoryBundle bundle;
  audit::VerifiedHistory verified;
  std::optional<crypto::Checkpoint> kept;
  std::string note_origin;
  // A query bundle (query_bundle.h): what it shows; `bundle` then holds its
  // checkpoint and, when asked for, its events.
  std::optional<audit::VerifiedQuery> query;
};

// Whether `bytes` start as a query bundle does (a framed header part).
bool IsQueryBundle(const std::string& bytes) {
  std::istringstream in(bytes);
  absl::StatusOr<std::optional<std::string>> first = audit::ReadFramedPart(in);
  v1::QueryBundlePart part;
  return first.ok() && *first && part.ParseFromString(**first) && part.has_header() &&
         part.header().format() == audit::kQueryBundleFormat;
}

// Verifies the query bundle `bytes` into `loaded` (its events kept in
// loaded->bundle when `keep_events`).
absl::Status VerifyQueryBundleFile(const std::string& file, const std::string& bytes,
                                   const crypto::NoteVerifier& key, bool keep_events,
                                   LoadedBundle* loaded) {
  audit::QueryBundleVerifier verifier(
      key, loaded->kept, [&](uint64_t index, const std::string& entry) {
        if (!keep_events) return;
        v1::ProvenEntry* e = loaded->bundle.add_events();
        e->set_log_index(index);
        e->set_entry_bytes(entry);
      });
  std::istringstream in(bytes);
  for (int n = 0;; ++n) {
    absl::StatusOr<std::optional<std::string>> part = audit::ReadFramedPart(in);
    if (!part.ok()) return absl::InvalidArgumentError(absl::StrCat(file, ": ", part.status().message()));
    if (!*part) break;
    if (n == 0) {
      v1::QueryBundlePart header;
      if (header.ParseFromString(**part)) {
        *loaded->bundle.mutable_checkpoint() = header.header().checkpoint();
      }
    }
    if (absl::Status s = verifier.Add(**part); !s.ok()) {
      return absl::Status(s.code(), absl::StrCat(file, ": ", s.message()));
    }
  }
  absl::StatusOr<audit::VerifiedQuery> verified = verifier.Finish();
  if (!verified.ok()) {
    return absl::Status(verified.status().code(),
                        absl::StrCat(file, ": ", verified.status().message()));
  }
  loaded->query = *std::move(verified);
  return absl::OkStatus();
}

absl::StatusOr<LoadedBundle> LoadVerified(const cli::Args& args, bool keep_events = false) {
  if (args.positional().size() != 1) return absl::InvalidArgumentError("give one BUNDLE");
  absl::StatusOr<crypto::NoteVerifier> key = NoteKey(args);
  if (!key.ok()) return key.status();
  LoadedBundle loaded;
  loaded.note_origin = key->name();
  if (args.Has("kept")) {
    absl::StatusOr<std::string> note = cli::ReadFileOrStdin(args.Get("kept"));
    if (!note.ok()) return note.status();
    absl::StatusOr<crypto::Checkpoint> opened = crypto::OpenCheckpoint(*note, key->name(), *key);
    if (!opened.ok()) {
      return absl::Status(opened.status().code(),
                          absl::StrCat("--kept: ", opened.status().message()));
    }
    loaded.kept = *std::move(opened);
  }
  const std::string& file = args.positional()[0];
  absl::StatusOr<std::string> bytes = cli::ReadFileOrStdin(file);
  if (!bytes.ok()) return bytes.status();
  if (IsQueryBundle(*bytes)) {
    if (args.Has("code")) {
      return absl::InvalidArgumentError(
          absl::StrCat("--code: ", file, " is a query's bundle, not a code's history"));
    }
    if (absl::Status s = VerifyQueryBundleFile(file, *bytes, *key, keep_events, &loaded); !s.ok()) {
      return s;
    }
    return loaded;
  }
  if (!loaded.bundle.ParseFromString(*bytes)) {
    return absl::InvalidArgumentError(absl::StrCat(file, ": not a history bundle"));
  }
  if (args.Has("code") && loaded.bundle.code() != args.Get("code")) {
    return absl::InvalidArgumentError(absl::StrCat(file, ": the history of ", loaded.bundle.code(),
                                                   ", not of ", args.Get("code")));
  }
  absl::StatusOr<audit::VerifiedHistory> verified =
      audit::VerifyHistoryBundle(loaded.bundle, *key, loaded.kept);
  if (!verified.ok()) {
    return absl::Status(verified.status().code(),
                        absl::StrCat(file, ": ", verified.status().message()));
  }
  loaded.verified = *std::move(verified);
  return loaded;
}

int Verify(const std::vector<std::string>& argv) {
  absl::StatusOr<cli::Args> args = cli::Args::Parse(argv, {{"note-key", "kept", "code"}, {}});
  if (!args.ok()) return Fail("verify", args.status());
  if (args->help()) {
    std::cout << kUsage;
    return 0;
  }
  absl::StatusOr<LoadedBundle> loaded = LoadVerified(*args);
  if (!loaded.ok()) return Fail("verify", loaded.status());
  if (loaded->query) {
    const audit::VerifiedQuery& q = *loaded->query;
    std::cout << "verified: a query's " << q.events << " events by " << q.signers
              << " signers (" << q.registrations << " registrations), in the log of "
              << loaded->note_origin << " at size " << q.tree_size;
    if (q.consistent_with_kept) {
      std::cout << ", which extends the kept checkpoint at size " << loaded->kept->size;
    }
    std::cout << "\n";
    if (!q.exported_by.name().empty()) {
      // What the query was narrowed to (the exporter's word).
      const v1::Actor& by = q.exported_by;
      std::string oversees = "everything";
      if (by.role() == v1::REGULATOR) {
        oversees = absl::StrCat(v1::Department_Name(by.department()), ", ",
                                by.jurisdiction().national() ? "national"
                                : !by.jurisdiction().park_id().empty()
                                    ? "park " + by.jurisdiction().park_id()
                                : !by.jurisdiction().region_prefix().empty()
                                    ? "region " + by.jurisdiction().region_prefix()
                                    : "no jurisdiction assigned: reads everything");
      }
      std::cout << "exported by " << by.name() << " (" << v1::ActorRole_Name(by.role())
                << "): the query's events within what it oversees (" << oversees
                << ") (the exporter's word, as the query is: not signed)\n";
    }
    if (q.reconciled) {
      // Row by row, as `chemaudit reconcile` counts them: differences of
      // two rows of one unit may cancel out in their total.
      int64_t differences = 0;
      for (const v1::ReconciliationRow& row : q.reconciliation.rows()) {
        differences += row.figures().stock_difference_milli() != 0 ||
                       row.figures().transit_difference_milli() != 0 ||
                       row.figures().lost_difference_milli() != 0;
      }
      std::cout << "reconciliation re-added: " << q.reconciliation.rows_size() << " rows, "
                << q.reconciliation.totals_size() << " totals; every balance and total adds up"
                << (differences > 0 ? "; a balance is not zero (the report names the codes)"
                                    : "; every balance is zero")
                << "\n";
    }
    return 0;
  }
  const audit::VerifiedHistory& verified = loaded->verified;
  std::cout << "verified: " << verified.code << ", " << verified.events << " events by "
            << verified.signers << " signers, in the log of " << loaded->note_origin
            << " at size " << verified.tree_size;
  if (verified.consistent_with_kept) {
    std::cout << ", which extends the kept checkpoint at size " << loaded->kept->size;
  }
  std::cout << "\n";
  return 0;
}

int Epcis(const std::vector<std::string>& argv) {
  absl::StatusOr<cli::Args> args = cli::Args::Parse(argv, {{"note-key", "kept", "out", "code"}, {}});
  if (!args.ok()) return Fail("epcis", args.status());
  if (args->help()) {
    std::cout << kUsage;
    return 0;
  }
  absl::StatusOr<LoadedBundle> loaded = LoadVerified(*args, /*keep_events=*/true);
  if (!loaded.ok()) return Fail("epcis", loaded.status());
  absl::StatusOr<std::string> document = audit::EpcisDocumentOf(loaded->bundle, absl::Now());
  if (!document.ok()) return Fail("epcis", document.status());
  if (!args->Has("out")) {
    std::cout << *document;
    return 0;
  }
  if (absl::Status s = chemctl::WriteFile(args->Get("out"), *document); !s.ok()) {
    return Fail("epcis", s);
  }
  std::cerr << "EPCIS 2.0 document of "
            << (loaded->query ? loaded->query->events : loaded->verified.events) << " events in "
            << args->Get("out") << "\n";
  return 0;
}

// A proof's hashes as the server sent them; none when one is not a hash.
std::optional<std::vector<crypto::Sha256Digest>> ProofHashes(
    const google::protobuf::RepeatedPtrField<std::string>& sent) {
  std::vector<crypto::Sha256Digest> hashes;
  hashes.reserve(sent.size());
  for (const std::string& h : sent) {
    absl::StatusOr<crypto::Sha256Digest> d = crypto::Sha256Digest::FromBytes(h);
    if (!d.ok()) return std::nullopt;
    hashes.push_back(*d);
  }
  return hashes;
}

// Whether the log `now` signs extends the log `kept` signed (both verified
// with the pinned key): FailedPrecondition naming how when it does not (it
// shrank, or forked), by the server's consistency proof.
absl::Status CheckExtends(v1::LedgerService::Stub& ledger, const crypto::Checkpoint& kept,
                          const crypto::Checkpoint& now) {
  if (now.size < kept.size) {
    return absl::FailedPreconditionError(
        absl::StrCat("the log shrank: size ", now.size, " after ", kept.size, " was signed"));
  }
  if (now.size == kept.size) {
    if (now.root_hash != kept.root_hash) {
      return absl::FailedPreconditionError(
          absl::StrCat("the log forked: two roots signed for size ", now.size));
    }
    return absl::OkStatus();
  }
  v1::GetConsistencyProofRequest ask;
  ask.set_first_size(kept.size);
  ask.set_second_size(now.size);
  v1::ConsistencyProof proof;
  if (grpc::Status s = ledger.GetConsistencyProof(chemctl::Context().get(), ask, &proof); !s.ok()) {
    return chemctl::ServerError(s);
  }
  std::optional<std::vector<crypto::Sha256Digest>> hashes = ProofHashes(proof.hashes());
  if (!hashes) return absl::FailedPreconditionError("the consistency proof is malformed");
  if (absl::Status s =
          crypto::VerifyConsistency(kept.size, now.size, kept.root_hash, now.root_hash, *hashes);
      !s.ok()) {
    return absl::FailedPreconditionError(absl::StrCat("the log forked: size ", now.size,
                                                      " does not extend the kept size ", kept.size,
                                                      ": ", s.message()));
  }
  return absl::OkStatus();
}

// One round of the witness: what it found, or the alarm (FailedPrecondition)
// when the log is not an extension of the kept checkpoint.
absl::StatusOr<std::string> WatchOnce(v1::LedgerService::Stub& ledger,
                                      const crypto::NoteVerifier& key, const std::string& state,
                                      const crypto::NoteSigner* witness,
                                      chemctl::ReadSession* session) {
  v1::Checkpoint fetched;
  if (grpc::Status s = ledger.GetCheckpoint(chemctl::Context().get(), v1::GetCheckpointRequest(),
                                            &fetched);
      !s.ok()) {
    return chemctl::ServerError(s);
  }
  absl::StatusOr<crypto::Checkpoint> now =
      crypto::OpenCheckpoint(fetched.signed_note(), key.name(), key);
  if (!now.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the server's checkpoint does not verify with the pinned key: ", now.status().message()));
  }
  const std::string kept_file = state + "/latest.checkpoint";
  std::optional<crypto::Checkpoint> kept;
  // Only a file that is not there is a first round: one that cannot be read
  // stops the witness, as one that does not verify does.
  struct stat st;
  const bool first_round = stat(kept_file.c_str(), &st) != 0 && errno == ENOENT;
  if (!first_round) {
    absl::StatusOr<std::string> note = storage::ReadWholeFile(kept_file);
    if (!note.ok()) {
      return absl::FailedPreconditionError(
          absl::StrCat("the kept checkpoint ", kept_file, " cannot be read (",
                       note.status().message(), "): the witness stops; make it readable"));
    }
    absl::StatusOr<crypto::Checkpoint> opened = crypto::OpenCheckpoint(*note, key.name(), key);
    if (!opened.ok()) {
      // Without what it kept, a witness cannot tell a fork from a log that
      // grew; it must not start again from whatever the server says now.
      return absl::FailedPreconditionError(absl::StrCat(
          "the kept checkpoint ", kept_file, " does not verify (", opened.status().message(),
          "): the witness stops; put back the checkpoint it kept last (or, knowingly, "
          "remove the file to start again from the server's)"));
    }
    kept = *std::move(opened);
  }
  if (kept) {
    if (absl::Status s = CheckExtends(ledger, *kept, *now); !s.ok()) return s;
    if (now->size == kept->size) return absl::StrCat("unchanged at size ", now->size);
  }
  std::string note = fetched.signed_note();
  if (witness != nullptr) {
    absl::StatusOr<std::string> cosigned = witness->Cosign(note);
    if (!cosigned.ok()) return cosigned.status();
    note = *std::move(cosigned);
  }
  // Replaced whole and synced before the co-signature is handed in: after a
  // power cut the witness finds what it co-signed last, never an older
  // checkpoint (from which it would co-sign a fork) or a torn file.
  if (absl::Status s = storage::ReplaceFileDurably(kept_file, note, 0644); !s.ok()) return s;
  std::string handed_in;
  if (session != nullptr) {
    v1::AddCheckpointCosignatureRequest cosignature;
    cosignature.set_cosigned_note(note);
    v1::AddCheckpointCosignatureResponse answer;
    if (absl::Status s = session->Call(api::kAddCheckpointCosignatureMethod, cosignature, &answer);
        !s.ok()) {
      return s;
    }
    handed_in = absl::StrCat(", co-signed (", answer.witnesses(), " witnesses at this size)");
  }
  return kept ? absl::StrCat("size ", now->size, " extends ", kept->size, handed_in)
              : absl::StrCat("first checkpoint kept, size ", now->size, handed_in);
}

int Watch(const std::vector<std::string>& argv) {
  absl::StatusOr<cli::Args> args = cli::Args::Parse(
      argv, {{"server", "tls-ca", "note-key", "state", "key", "passphrase-file", "interval"},
             {"once"}});
  if (!args.ok()) return Fail("watch", args.status());
  if (args->help()) {
    std::cout << kUsage;
    return 0;
  }
  absl::StatusOr<crypto::NoteVerifier> key = NoteKey(*args);
  if (!key.ok()) return Fail("watch", key.status());
  absl::StatusOr<std::string> state = args->Required("state");
  if (!state.ok()) return Fail("watch", state.status());
  // A regulator's key makes it a witness: it co-signs as witness/<key id>.
  std::optional<crypto::NoteSigner> witness;
  std::optional<chemctl::ReadSession> session;
  if (args->Has("key")) {
    absl::StatusOr<crypto::SigningKey> signing = cli::SigningKeyArg(*args, "key");
    if (!signing.ok()) return Fail("watch", signing.status());
    const std::string name = absl::StrCat("witness/", signing->key_id().ToString());
    absl::StatusOr<crypto::NoteSigner> signer =
        crypto::NoteSigner::Create(name, *std::move(signing));
    if (!signer.ok()) return Fail("watch", signer.status());
    witness = *std::move(signer);
    std::cout << "witness key (for chemaudit checkpoint --witnesses): "
              << witness->verifier().VerifierKeyString() << std::endl;
    absl::StatusOr<chemctl::ReadSession> opened = chemctl::ReadSession::Open(*args);
    if (!opened.ok()) return Fail("watch", opened.status());
    session = *std::move(opened);
  }
  int interval = 60;
  if (args->Has("interval") &&
      (!absl::SimpleAtoi(args->Get("interval"), &interval) || interval < 1)) {
    return Fail("watch", absl::InvalidArgumentError("--interval: whole seconds, at least 1"));
  }
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = chemctl::ServerChannel(*args);
  if (!channel.ok()) return Fail("watch", channel.status());
  auto ledger = v1::LedgerService::NewStub(*channel);
  for (;;) {
    absl::StatusOr<std::string> round =
        WatchOnce(*ledger, *key, *state, witness ? &*witness : nullptr,
                  session ? &*session : nullptr);
    if (!round.ok() && round.status().code() == absl::StatusCode::kFailedPrecondition) {
      std::cerr << "chemaudit watch: ALARM: " << round.status().message() << "\n";
      (void)chemctl::WriteFile(*state + "/ALARM", std::string(round.status().message()) + "\n");
      return 3;
    }
    if (!round.ok()) {
      std::cerr << "chemaudit watch: " << round.status().message() << "\n";
      if (args->Bool("once")) return 1;
    } else {
      std::cout << *round << std::endl;
      if (args->Bool("once")) return 0;
    }
    absl::SleepFor(absl::Seconds(interval));
  }
}

// The goods and place flags shared by reconcile, query and stock: --cas,
// --catalogue, --flag, --product USCC/NUMBER; --enterprise, --region, --park.
template <typename Request>
absl::Status FillGoodsAndPlace(const cli::Args& args, Request* request) {
  request->set_cas(args.Get("cas"));
  if (args.Has("catalogue")) {
    int number = 0;
    if (!absl::SimpleAtoi(args.Get("catalogue"), &number) || number < 1) {
      return absl::InvalidArgumentError("--catalogue: a 危险化学品目录 entry number, 1 to 2828");
    }
    request->set_catalogue_number(number);
  }
  request->set_control_flag(args.Get("flag"));
  if (args.Has("product")) {
    std::vector<std::string> parts = absl::StrSplit(args.Get("product"), '/');
    if (parts.size() != 2 || parts[0].empty() || parts[1].empty()) {
      return absl::InvalidArgumentError(
          "--product: USCC/NUMBER, the product's enterprise and product number");
    }
    request->set_product_uscc(parts[0]);
    request->set_product_number(parts[1]);
  }
  request->set_enterprise_uscc(args.Get("enterprise"));
  request->set_region_prefix(args.Get("region"));
  request->set_park_id(args.Get("park"));
  return absl::OkStatus();
}

// --from DAY and --to DAY (China days, both included) as [from, to).
template <typename Request>
absl::Status FillPeriod(const cli::Args& args, Request* request) {
  for (const char* flag : {"from", "to"}) {
    if (!args.Has(flag)) continue;
    absl::StatusOr<absl::CivilDay> day = chemctl::DayArg(absl::StrCat("--", flag), args.Get(flag));
    if (!day.ok()) return day.status();
    const bool to = std::string(flag) == "to";
    const absl::Time t = absl::FromCivil(to ? *day + 1 : *day, api::ChinaTimeZone());
    google::protobuf::Timestamp* ts = to ? request->mutable_to() : request->mutable_from();
    ts->set_seconds(absl::ToUnixSeconds(t));
  }
  return absl::OkStatus();
}

int Reconcile(const std::vector<std::string>& argv) {
  absl::StatusOr<cli::Args> args = cli::Args::Parse(
      argv, {{"server", "tls-ca", "key", "passphrase-file", "cas", "catalogue", "flag", "product",
              "enterprise", "region", "park", "from", "to", "out", "carriers-csv"},
             {"csv", "json"}});
  if (!args.ok()) return Fail("reconcile", args.status());
  if (args->help()) {
    std::cout << kUsage;
    return 0;
  }
  if (!args->positional().empty()) {
    return Fail("reconcile", absl::InvalidArgumentError("takes no positional arguments"));
  }
  if (args->Bool("csv") && args->Bool("json")) {
    return Fail("reconcile", absl::InvalidArgumentError("--csv or --json, not both"));
  }
  v1::ReconcileRequest request;
  if (absl::Status s = FillGoodsAndPlace(*args, &request); !s.ok()) return Fail("reconcile", s);
  if (absl::Status s = FillPeriod(*args, &request); !s.ok()) return Fail("reconcile", s);
  absl::StatusOr<chemctl::ReadSession> session = chemctl::ReadSession::Open(*args);
  if (!session.ok()) return Fail("reconcile", session.status());
  v1::Reconciliation report;
  if (absl::Status s = session->Call(api::kReconcileMethod, request, &report); !s.ok()) {
    return Fail("reconcile", s);
  }
  const std::string text = args->Bool("csv")    ? ReconciliationCsv(report)
                           : args->Bool("json") ? chemctl::PrintJson(report) + "\n"
                                                : ReconciliationTable(report);
  if (args->Has("out")) {
    if (absl::Status s = chemctl::WriteFile(args->Get("out"), text); !s.ok()) {
      return Fail("reconcile", s);
    }
  } else {
    std::cout << text;
  }
  if (args->Has("carriers-csv")) {
    if (absl::Status s = chemctl::WriteFile(args->Get("carriers-csv"), CarriersCsv(report));
        !s.ok()) {
      return Fail("reconcile", s);
    }
  }
  bool balanced = true;
  for (const v1::ReconciliationRow& row : report.rows()) {
    const v1::QuantityFigures& f = row.figures();
    balanced = balanced && f.stock_difference_milli() == 0 &&
               f.transit_difference_milli() == 0 && f.lost_difference_milli() == 0;
  }
  if (!balanced) {
    std::cerr << "chemaudit reconcile: a balance is not zero (see the codes behind it)\n";
    return 4;
  }
  return 0;
}

// The query the goods, place, site, step, waybill and period flags ask.
absl::Status FillEventQuery(const cli::Args& args, v1::EventQuery* query) {
  if (absl::Status s = FillGoodsAndPlace(args, query); !s.ok()) return s;
  if (absl::Status s = FillPeriod(args, query); !s.ok()) return s;
  query->set_un_number(args.Get("un"));
  query->set_site(args.Get("site"));
  if (args.Has("step")) {
    v1::BusinessStep step;
    if (!v1::BusinessStep_Parse(absl::AsciiStrToUpper(args.Get("step")), &step) ||
        step == v1::BUSINESS_STEP_UNSPECIFIED) {
      return absl::InvalidArgumentError(
          "--step: a business step, e.g. SHIPPING or receiving (docs/events.md)");
    }
    query->set_step(step);
  }
  if (args.Has("waybill")) {
    std::vector<std::string> parts = absl::StrSplit(args.Get("waybill"), '/');
    if (parts.size() != 2 || parts[0].empty() || parts[1].empty()) {
      return absl::InvalidArgumentError(
          "--waybill: CARRIER/NUMBER, the carrier's USCC and the number");
    }
    query->set_waybill_carrier_uscc(parts[0]);
    query->set_waybill_number(parts[1]);
  }
  return absl::OkStatus();
}

// A query's events with proofs, as a bundle file (AuditService.ExportEvents).
int Export(const std::vector<std::string>& argv) {
  absl::StatusOr<cli::Args> args = cli::Args::Parse(
      argv, {{"server", "tls-ca", "key", "passphrase-file", "cas", "un", "catalogue", "flag",
              "product", "enterprise", "region", "park", "site", "step", "waybill", "from", "to",
              "out", "kept"},
             {"reconcile"}});
  if (!args.ok()) return Fail("export", args.status());
  if (args->help()) {
    std::cout << kUsage;
    return 0;
  }
  if (!args->positional().empty()) {
    return Fail("export", absl::InvalidArgumentError("takes no positional arguments"));
  }
  v1::ExportEventsRequest request;
  if (absl::Status s = FillEventQuery(*args, request.mutable_query()); !s.ok()) {
    return Fail("export", s);
  }
  request.set_with_reconciliation(args->Bool("reconcile"));
  absl::StatusOr<std::string> out_path = args->Required("out");
  if (!out_path.ok()) return Fail("export", out_path.status());
  if (args->Has("kept")) {
    absl::StatusOr<std::string> note = cli::ReadFileOrStdin(args->Get("kept"));
    if (!note.ok()) return Fail("export", note.status());
    absl::StatusOr<uint64_t> size = KeptSize(*note);
    if (!size.ok()) return Fail("export", size.status());
    request.set_consistency_from_size(*size);
  }
  absl::StatusOr<chemctl::ReadSession> session = chemctl::ReadSession::Open(*args);
  if (!session.ok()) return Fail("export", session.status());
  const std::string tmp = *out_path + ".part";
  std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
  if (!out) return Fail("export", absl::InvalidArgumentError("--out: cannot write there"));
  auto audit = v1::AuditService::NewStub(session->channel());
  grpc::ClientContext context;
  read_auth::AttachStreamCredentials(&context, api::kExportEventsMethod,
                                     read_auth::ReadSigner{session->key(), session->origin()});
  std::unique_ptr<grpc::ClientReader<v1::QueryBundlePart>> stream =
      audit->ExportEvents(&context, request);
  v1::QueryBundlePart part;
  uint64_t events = 0, parts = 0;
  while (stream->Read(&part)) {
    out << audit::FramedPart(part.SerializeAsString());
    if (part.has_events()) events += part.events().entries_size();
    // Progress on long exports.
    if (++parts % 50 == 0) std::cerr << "chemaudit export: " << events << " events so far\n";
  }
  const grpc::Status s = stream->Finish();
  out.close();
  if (!s.ok()) {
    std::remove(tmp.c_str());
    return Fail("export", chemctl::ServerError(s));
  }
  if (!out || std::rename(tmp.c_str(), out_path->c_str()) != 0) {
    return Fail("export", absl::DataLossError(absl::StrCat("cannot write ", *out_path)));
  }
  std::cout << "exported " << events << " events with proofs to " << *out_path
            << " (check it: chemaudit verify " << *out_path << " --note-key VKEY)\n";
  return 0;
}

int Query(const std::vector<std::string>& argv) {
  absl::StatusOr<cli::Args> args = cli::Args::Parse(
      argv, {{"server", "tls-ca", "key", "passphrase-file", "cas", "un", "catalogue", "flag",
              "product", "enterprise", "region", "park", "site", "step", "waybill", "from", "to",
              "out", "page-size"},
             {"csv", "json"}});
  if (!args.ok()) return Fail("query", args.status());
  if (args->help()) {
    std::cout << kUsage;
    return 0;
  }
  if (!args->positional().empty()) {
    return Fail("query", absl::InvalidArgumentError("takes no positional arguments"));
  }
  if (args->Bool("csv") && args->Bool("json")) {
    return Fail("query", absl::InvalidArgumentError("--csv or --json, not both"));
  }
  v1::EventQuery query;
  if (absl::Status s = FillEventQuery(*args, &query); !s.ok()) return Fail("query", s);
  absl::StatusOr<uint64_t> page_size = args->Uint("page-size", 500);
  if (!page_size.ok()) return Fail("query", page_size.status());
  query.set_page_size(static_cast<uint32_t>(std::min<uint64_t>(*page_size, 1u << 31)));
  absl::StatusOr<chemctl::ReadSession> session = chemctl::ReadSession::Open(*args);
  if (!session.ok()) return Fail("query", session.status());

  std::ofstream file;
  if (args->Has("out")) {
    file.open(args->Get("out"), std::ios::binary | std::ios::trunc);
    if (!file) return Fail("query", absl::InvalidArgumentError("--out: cannot write there"));
  }
  std::ostream& out = args->Has("out") ? static_cast<std::ostream&>(file) : std::cout;
  const bool csv = args->Bool("csv"), json = args->Bool("json");
  out << (csv ? EventsCsvHeader() : json ? "" : EventsTableHeader());
  uint64_t events = 0, pages = 0, log_size = 0;
  for (;;) {
    v1::EventPage page;
    if (absl::Status s = session->Call(api::kQueryEventsMethod, query, &page); !s.ok()) {
      return Fail("query", s);
    }
    ++pages;
    log_size = page.log_size();
    for (const v1::EventRecord& e : page.events()) {
      out << (csv ? EventCsvLine(e) : json ? EventJsonLine(e) : EventTableLine(e));
    }
    events += page.events_size();
    // Progress on long exports, where it does not mix with the output.
    if (args->Has("out") && pages % 10 == 0) {
      std::cerr << "chemaudit query: " << events << " events so far\n";
    }
    if (page.next_page_token().empty()) break;
    query.set_page_token(page.next_page_token());
  }
  out.flush();
  if (!out) return Fail("query", absl::DataLossError("could not write the output"));
  std::cerr << "chemaudit query: " << events << " events, read at log size " << log_size
            << (args->Has("out") ? absl::StrCat(", in ", args->Get("out")) : "") << "\n";
  return 0;
}

// Proves the entries whose leaf hashes `leaves` holds (by log index) in the
// log: a checkpoint signed by `key` at or past every one (and, given
// `kept`, a log that extends the kept checkpoint's), and an inclusion proof
// of each in it. Says what was proved; DataLoss naming the first entry that
// does not prove, FailedPrecondition when the log does not extend the kept
// one, Unavailable when the server's checkpoint is behind an entry (a read
// replica behind: try again).
absl::StatusOr<std::string> ProveEntries(v1::LedgerService::Stub& ledger,
                                         const crypto::NoteVerifier& key,
                                         const std::optional<crypto::Checkpoint>& kept,
                                         const std::map<uint64_t, crypto::Sha256Digest>& leaves) {
  v1::Checkpoint fetched;
  if (grpc::Status s =
          ledger.GetCheckpoint(chemctl::Context().get(), v1::GetCheckpointRequest(), &fetched);
      !s.ok()) {
    return chemctl::ServerError(s);
  }
  absl::StatusOr<crypto::Checkpoint> checkpoint =
      crypto::OpenCheckpoint(fetched.signed_note(), key.name(), key);
  if (!checkpoint.ok()) {
    return absl::DataLossError(
        absl::StrCat("the server's checkpoint does not verify with the pinned key: ",
                     checkpoint.status().message()));
  }
  if (kept) {
    if (checkpoint->size < kept->size) {
      return absl::UnavailableError(
          absl::StrCat("--kept: the ledger server's checkpoint (size ", checkpoint->size,
                       ") is behind the kept one (size ", kept->size,
                       "): try again (a read replica may lag); `chemaudit checkpoint --out` "
                       "over the kept file says whether the log shrank"));
    }
    if (absl::Status s = CheckExtends(ledger, *kept, *checkpoint); !s.ok()) {
      return absl::Status(s.code(), absl::StrCat("--kept: ", s.message()));
    }
  }
  for (const auto& [index, leaf] : leaves) {
    const std::string which = absl::StrCat("the entry at log index ", index);
    if (index >= checkpoint->size) {
      return absl::UnavailableError(absl::StrCat("the ledger server's checkpoint (size ",
                                                 checkpoint->size, ") is behind ", which,
                                                 ": try again"));
    }
    v1::GetInclusionProofRequest ask;
    ask.set_leaf_index(index);
    ask.set_tree_size(checkpoint->size);
    v1::InclusionProof proof;
    if (grpc::Status s = ledger.GetInclusionProof(chemctl::Context().get(), ask, &proof); !s.ok()) {
      return chemctl::ServerError(s);
    }
    std::optional<std::vector<crypto::Sha256Digest>> hashes = ProofHashes(proof.hashes());
    if (!hashes) return absl::DataLossError(absl::StrCat(which, ": a malformed proof"));
    if (absl::Status s =
            crypto::VerifyInclusion(index, checkpoint->size, leaf, *hashes, checkpoint->root_hash);
        !s.ok()) {
      return absl::DataLossError(
          absl::StrCat(which, " is not in the log the checkpoint signs: ", s.message()));
    }
  }
  return absl::StrCat("proved ", leaves.size(), " entries in the log of ", key.name(), " at size ",
                      checkpoint->size, " (its checkpoint signed by the pinned key",
                      kept ? absl::StrCat(", extending the kept one of size ", kept->size) : "",
                      ")");
}

int Anomalies(const std::vector<std::string>& argv) {
  absl::StatusOr<cli::Args> args = cli::Args::Parse(
      argv, {{"server", "tls-ca", "key", "passphrase-file", "kind", "enterprise", "region", "park",
              "after", "grace-minutes", "note-key", "ledger-server", "kept"},
             {"json", "follow", "prove"}});
  if (!args.ok()) return Fail("anomalies", args.status());
  const bool prove = args->Bool("prove");
  std::optional<crypto::NoteVerifier> note_key;
  if (prove) {
    if (args->Bool("follow")) {
      return Fail("anomalies", absl::InvalidArgumentError("--prove: not with --follow"));
    }
    absl::StatusOr<crypto::NoteVerifier> key = NoteKey(*args);
    if (!key.ok()) return Fail("anomalies", key.status());
    note_key = *std::move(key);
  }
  // A checkpoint kept earlier (chemaudit checkpoint): the log the entries
  // are proved in must extend it.
  std::optional<crypto::Checkpoint> kept;
  if (args->Has("kept")) {
    if (!prove) return Fail("anomalies", absl::InvalidArgumentError("--kept: only with --prove"));
    absl::StatusOr<std::string> note = cli::ReadFileOrStdin(args->Get("kept"));
    if (!note.ok()) return Fail("anomalies", note.status());
    absl::StatusOr<crypto::Checkpoint> opened =
        crypto::OpenCheckpoint(*note, note_key->name(), *note_key);
    if (!opened.ok()) {
      return Fail("anomalies", absl::InvalidArgumentError(absl::StrCat(
                                   "--kept: not a checkpoint signed by the pinned key: ",
                                   opened.status().message())));
    }
    kept = *std::move(opened);
  }
  if (args->help()) {
    std::cout << kUsage;
    return 0;
  }
  v1::ListAnomaliesRequest request;
  if (args->Has("kind")) {
    for (absl::string_view name : absl::StrSplit(args->Get("kind"), ',')) {
      v1::AnomalyKind kind;
      if (!v1::AnomalyKind_Parse(absl::AsciiStrToUpper(name), &kind) ||
          kind == v1::ANOMALY_KIND_UNSPECIFIED) {
        return Fail("anomalies",
                    absl::InvalidArgumentError("--kind: REFUSED_REQUEST, CLONE_SIGNAL, "
                                               "CONTROLLED_GOODS_LOST, OVERDUE_SHIPMENT or "
                                               "MAJOR_HAZARD_ALERT (several separated by commas)"));
      }
      request.add_kinds(kind);
    }
  }
  request.set_enterprise_uscc(args->Get("enterprise"));
  request.set_region_prefix(args->Get("region"));
  request.set_park_id(args->Get("park"));
  absl::StatusOr<uint64_t> after = args->Uint("after", 0);
  if (!after.ok()) return Fail("anomalies", after.status());
  request.set_after_log_index(*after);
  request.set_page_size(prove ? api::kMaxAnomalyPageSizeWithEvidence : 1000);
  request.set_with_evidence(prove);
  absl::StatusOr<uint64_t> grace = args->Uint("grace-minutes", 0);
  if (!grace.ok()) return Fail("anomalies", grace.status());
  request.set_grace_minutes(static_cast<uint32_t>(std::min<uint64_t>(*grace, 1u << 31)));
  absl::StatusOr<chemctl::ReadSession> session = chemctl::ReadSession::Open(*args);
  if (!session.ok()) return Fail("anomalies", session.status());
  const bool json = args->Bool("json");
  const auto print = [json](const v1::Anomaly& a) {
    if (json) {
      std::string line;
      google::protobuf::util::JsonPrintOptions options;
      options.preserve_proto_field_names = true;
      (void)google::protobuf::util::MessageToJsonString(a, &line, options);
      std::cout << line << std::endl;
      return;
    }
    const std::string what = a.kind() == v1::REFUSED_REQUEST
                                 ? v1::RefusalKind_Name(a.refusal_kind())
                             : a.kind() == v1::OVERDUE_SHIPMENT ? a.waybill()
                             : a.kind() == v1::MAJOR_HAZARD_ALERT
                                 ? absl::StrCat("site ", a.major_hazard_alert().site_id())
                                 : a.code();
    std::cout << absl::StrFormat("%10d %-21s %-18s %-31s %s", a.log_index(),
                                 v1::AnomalyKind_Name(a.kind()), a.enterprise_uscc(), what,
                                 a.detail())
              << std::endl;
  };
  if (args->Bool("follow")) {
    // AuditService.SubscribeAnomalies: as they are written, until stopped.
    if (!json) {
      std::cout << absl::StrFormat("%10s %-21s %-18s %-31s %s", "LOG#", "KIND", "ENTERPRISE",
                                   "CODE / RULE", "DETAIL")
                << std::endl;
    }
    auto audit = v1::AuditService::NewStub(session->channel());
    grpc::ClientContext context;
    read_auth::AttachStreamCredentials(&context, api::kSubscribeAnomaliesMethod,
                                       read_auth::ReadSigner{session->key(), session->origin()});
    std::unique_ptr<grpc::ClientReader<v1::Anomaly>> stream =
        audit->SubscribeAnomalies(&context, request);
    v1::Anomaly a;
    while (stream->Read(&a)) print(a);
    const grpc::Status s = stream->Finish();
    if (!s.ok()) return Fail("anomalies", chemctl::ServerError(s));
    return 0;
  }
  if (!json) {
    std::cout << absl::StrFormat("%10s %-21s %-18s %-31s %s\n", "LOG#", "KIND", "ENTERPRISE",
                                 "CODE / RULE", "DETAIL");
  }
  uint64_t listed = 0, last = *after, log_size = 0;
  // --prove: each anomaly's entry checked to be what it says as its page
  // comes, its leaf hash kept for the proofs (anomaly_evidence.h); the
  // refused requests' signers' keys as the log registered them
  // (GetActorKey).
  std::optional<AnomalyEvidenceChecker> evidence;
  if (prove) {
    evidence.emplace(note_key->name(), [&session](const std::string& key_id) {
      v1::GetActorRequest ask;
      ask.set_key_id(key_id);
      v1::ActorKeyRecord record;
      if (absl::Status s = session->Call(api::kGetActorKeyMethod, ask, &record); !s.ok()) {
        return absl::StatusOr<v1::ActorKeyRecord>(s);
      }
      return absl::StatusOr<v1::ActorKeyRecord>(std::move(record));
    });
  }
  for (bool first = true;; first = false) {
    v1::Anomalies page;
    if (absl::Status s = session->Call(api::kListAnomaliesMethod, request, &page); !s.ok()) {
      return Fail("anomalies", s);
    }
    log_size = page.log_size();
    if (evidence) {
      if (absl::Status s = evidence->AddPage(page); !s.ok()) return Fail("anomalies", s);
    }
    // The shipments overdue now come with every page: shown once.
    std::vector<v1::Anomaly> shown(page.anomalies().begin(), page.anomalies().end());
    if (first) shown.insert(shown.begin(), page.overdue_shipments().begin(),
                            page.overdue_shipments().end());
    for (const v1::Anomaly& a : shown) {
      ++listed;
      if (a.kind() != v1::OVERDUE_SHIPMENT) last = a.log_index();
      print(a);
    }
    if (page.next_after_log_index() == 0) break;
    request.set_after_log_index(page.next_after_log_index());
  }
  std::cerr << "chemaudit anomalies: " << listed << " listed at log size " << log_size
            << "; to see only newer ones next time: --after " << last << "\n";
  if (prove) {
    std::shared_ptr<grpc::Channel> channel = session->channel();
    if (args->Has("ledger-server")) {
      std::vector<std::string> flags = {"--server", args->Get("ledger-server")};
      if (args->Has("tls-ca")) flags.insert(flags.end(), {"--tls-ca", args->Get("tls-ca")});
      absl::StatusOr<cli::Args> ledger_args = cli::Args::Parse(flags, {{"server", "tls-ca"}, {}});
      if (!ledger_args.ok()) return Fail("anomalies", ledger_args.status());
      absl::StatusOr<std::shared_ptr<grpc::Channel>> ledger_channel =
          chemctl::ServerChannel(*ledger_args);
      if (!ledger_channel.ok()) {
        return Fail("anomalies", absl::InvalidArgumentError(absl::StrCat(
                                     "--ledger-server: ", ledger_channel.status().message())));
      }
      channel = *std::move(ledger_channel);
    }
    auto ledger = v1::LedgerService::NewStub(channel);
    absl::StatusOr<std::string> proved = ProveEntries(*ledger, *note_key, kept, evidence->leaves());
    if (!proved.ok()) return Fail("anomalies", proved.status());
    std::cerr << "chemaudit anomalies: " << *proved;
    const std::vector<uint64_t>& without_entry = evidence->without_entry();
    const std::set<std::string>& revoked_signers = evidence->revoked_signers();
    if (evidence->signatures_checked() > 0) {
      std::cerr << "; the signatures of " << evidence->signatures_checked()
                << " refused requests verify with the keys the log registered (those "
                   "registrations proved with the rest)";
    }
    if (!revoked_signers.empty()) {
      std::cerr << "; signed after the key's revocation (proved too), by key "
                << absl::StrJoin(revoked_signers, ", ");
    }
    std::cerr << "\n";
    if (!without_entry.empty()) {
      return Fail("anomalies",
                  absl::FailedPreconditionError(absl::StrCat(
                      without_entry.size(),
                      " anomalies came without their entry, so are not proved (recorded by an "
                      "enterprise outside what you oversee), at log indexes ",
                      absl::StrJoin(without_entry, ", "))));
    }
  }
  return 0;
}

int Login(const std::vector<std::string>& argv) {
  absl::StatusOr<cli::Args> args =
      cli::Args::Parse(argv, {{"console", "tls-ca", "key", "passphrase-file", "note-key"}, {}});
  if (!args.ok()) return Fail("login", args.status());
  if (args->help()) {
    std::cout << kUsage;
    return 0;
  }
  absl::StatusOr<std::string> console = args->Required("console");
  if (!console.ok()) return Fail("login", console.status());
  absl::StatusOr<crypto::NoteVerifier> note_key = NoteKey(*args);
  if (!note_key.ok()) return Fail("login", note_key.status());
  absl::StatusOr<crypto::SigningKey> key = cli::SigningKeyArg(*args, "key");
  if (!key.ok()) return Fail("login", key.status());
  absl::StatusOr<ConsoleEntry> entry =
      SignInToConsole(*console, *key, *note_key, args->Get("tls-ca", ""));
  if (!entry.ok()) return Fail("login", entry.status());
  std::cerr << "chemaudit login: open this once in the browser, before "
            << absl::FormatTime("%H:%M:%S %Z", entry->expires, api::ChinaTimeZone()) << ":\n";
  std::cout << entry->url << std::endl;
  return 0;
}

int Stock(const std::vector<std::string>& argv) {
  absl::StatusOr<cli::Args> args = cli::Args::Parse(
      argv, {{"server", "tls-ca", "key", "passphrase-file", "cas", "un", "catalogue", "flag",
              "product", "enterprise", "region", "park", "site"},
             {"codes", "csv", "json"}});
  if (!args.ok()) return Fail("stock", args.status());
  if (args->help()) {
    std::cout << kUsage;
    return 0;
  }
  v1::StockQuery query;
  if (absl::Status s = FillGoodsAndPlace(*args, &query); !s.ok()) return Fail("stock", s);
  query.set_un_number(args->Get("un"));
  query.set_site(args->Get("site"));
  query.set_with_codes(args->Bool("codes"));
  absl::StatusOr<chemctl::ReadSession> session = chemctl::ReadSession::Open(*args);
  if (!session.ok()) return Fail("stock", session.status());
  v1::StockReport report;
  if (absl::Status s = session->Call(api::kQueryStockMethod, query, &report); !s.ok()) {
    return Fail("stock", s);
  }
  if (args->Bool("json")) {
    std::cout << chemctl::PrintJson(report) << "\n";
    return 0;
  }
  const bool csv = args->Bool("csv");
  std::cout << (csv ? "enterprise_uscc,site,product_uscc,product_number,cas,unit,packages,"
                      "quantity,on_hold,waste\r\n"
                    : absl::StrFormat("%-18s %-16s %-10s %-4s %9s %14s %8s %6s\n", "ENTERPRISE",
                                      "SITE", "PRODUCT", "UNIT", "PACKAGES", "QUANTITY",
                                      "ON HOLD", "WASTE"));
  auto line = [&](const v1::StockLine& l, const std::string& who) {
    if (csv) {
      std::string site = l.site();
      if (site.find_first_of(",\"") != std::string::npos) {
        site = "\"" + absl::StrReplaceAll(site, {{"\"", "\"\""}}) + "\"";
      }
      std::cout << absl::StrCat(who, ",", site, ",", l.product_uscc(), ",", l.product_number(), ",",
                                l.cas(), ",", l.unit(), ",", l.packages(), ",",
                                Milli(static_cast<int64_t>(l.quantity_milli())), ",", l.on_hold(),
                                ",", l.waste(), "\r\n");
    } else {
      std::cout << absl::StrFormat("%-18s %-16s %-10s %-4s %9d %14s %8d %6d\n", who, l.site(),
                                   l.product_number(), l.unit(), l.packages(),
                                   Milli(static_cast<int64_t>(l.quantity_milli())), l.on_hold(),
                                   l.waste());
    }
    for (const std::string& code : l.codes()) {
      if (!csv) std::cout << "    " << code << "\n";
    }
  };
  for (const v1::StockLine& l : report.lines()) line(l, l.enterprise_uscc());
  for (const v1::StockLine& l : report.totals()) line(l, "TOTAL");
  if (!csv) std::cout << "\nread at log size " << report.log_size() << "\n";
  return 0;
}

// Shipments in transit now, and the vehicles inside a park.
int Transit(const std::vector<std::string>& argv) {
  absl::StatusOr<cli::Args> args = cli::Args::Parse(
      argv, {{"server", "tls-ca", "key", "passphrase-file", "enterprise", "region", "park"},
             {"json"}});
  if (!args.ok()) return Fail("transit", args.status());
  if (args->help()) {
    std::cout << kUsage;
    return 0;
  }
  if (!args->positional().empty()) {
    return Fail("transit", absl::InvalidArgumentError("takes no positional arguments"));
  }
  v1::InTransitQuery query;
  query.set_enterprise_uscc(args->Get("enterprise"));
  query.set_region_prefix(args->Get("region"));
  query.set_park_id(args->Get("park"));
  absl::StatusOr<chemctl::ReadSession> session = chemctl::ReadSession::Open(*args);
  if (!session.ok()) return Fail("transit", session.status());
  v1::InTransitReport report;
  if (absl::Status s = session->Call(api::kQueryInTransitMethod, query, &report); !s.ok()) {
    return Fail("transit", s);
  }
  if (args->Bool("json")) {
    std::cout << chemctl::PrintJson(report) << "\n";
    return 0;
  }
  std::cout << absl::StrFormat("%-18s %-16s %-10s %-18s %-18s %-16s %9s %s\n", "CARRIER",
                               "WAYBILL", "VEHICLE", "FROM", "TO", "PLANNED ARRIVAL",
                               "RECEIVED", "");
  for (const v1::ShipmentInTransit& s : report.shipments()) {
    std::cout << absl::StrFormat(
        "%-18s %-16s %-10s %-18s %-18s %-16s %4d/%-4d %s%s%s\n", s.carrier_uscc(),
        s.waybill_number(), s.vehicle_plate(), s.consignor_uscc(), s.consignee_uscc(),
        absl::FormatTime("%Y-%m-%d %H:%M", absl::FromUnixSeconds(s.planned_arrival().seconds()),
                         api::ChinaTimeZone()),
        s.packages_received(), s.packages_shipped(), s.overdue() ? "OVERDUE " : "",
        s.controlled_goods() ? "CONTROLLED " : "", s.waste() ? "WASTE" : "");
  }
  if (report.truncated()) std::cout << "(the first 10,000 shipments only)\n";
  if (!report.vehicles_in_park().empty()) {
    std::cout << "\nvehicles inside park " << query.park_id() << ":\n";
    for (const v1::VehiclesInPark::Vehicle& v : report.vehicles_in_park()) {
      std::cout << absl::StrFormat(
          "  %-10s %-18s %-16s gate %-10s since %s\n", v.vehicle_plate(), v.carrier_uscc(),
          v.waybill_number(), v.gate_id(),
          absl::FormatTime("%Y-%m-%d %H:%M", absl::FromUnixSeconds(v.entered_unix_seconds()),
                           api::ChinaTimeZone()));
    }
  }
  std::cout << "\n" << report.shipments_size() << " shipments in transit; read at log size "
            << report.log_size() << "\n";
  return 0;
}

// Sites that are major hazard sources now.
int MajorHazards(const std::vector<std::string>& argv) {
  absl::StatusOr<cli::Args> args = cli::Args::Parse(
      argv,
      {{"server", "tls-ca", "key", "passphrase-file", "enterprise", "region", "park"}, {"json"}});
  if (!args.ok()) return Fail("major-hazards", args.status());
  if (args->help()) {
    std::cout << kUsage;
    return 0;
  }
  if (!args->positional().empty()) {
    return Fail("major-hazards", absl::InvalidArgumentError("takes no positional arguments"));
  }
  v1::MajorHazardSitesQuery query;
  query.set_enterprise_uscc(args->Get("enterprise"));
  query.set_region_prefix(args->Get("region"));
  query.set_park_id(args->Get("park"));
  absl::StatusOr<chemctl::ReadSession> session = chemctl::ReadSession::Open(*args);
  if (!session.ok()) return Fail("major-hazards", session.status());
  v1::MajorHazardSites sites;
  if (absl::Status s = session->Call(api::kListMajorHazardSitesMethod, query, &sites); !s.ok()) {
    return Fail("major-hazards", s);
  }
  if (args->Bool("json")) {
    std::cout << chemctl::PrintJson(sites) << "\n";
    return 0;
  }
  for (const v1::MajorHazardSite& s : sites.sites()) {
    const v1::MajorHazardAssessment& a = s.assessment();
    std::cout << absl::StrFormat(
        "%-18s %-12s %-20s S = %s  %s  %s (declared %s); entry %d, alert %s\n", s.enterprise_uscc(),
        s.site_id(), s.site_name(), ledger::BillionthsText(a.sum_billionths()),
        a.exposure_correction_tenths() == 0
            ? std::string("R not computed (no α registered)")
            : absl::StrCat("R = ", ledger::BillionthsText(a.r_billionths())),
        ledger::MajorHazardGradeText(a.grade()), ledger::MajorHazardGradeText(s.declared_grade()),
        s.assessed_at_log_index(),
        s.alert_log_index() == 0 ? std::string("not yet recorded")
                                 : absl::StrCat(s.alert_log_index()));
  }
  std::cout << sites.sites_size() << " major hazard sites; read at log size " << sites.log_size()
            << "\n";
  return 0;
}

}  // namespace
}  // namespace chemledger::chemaudit

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    (args.empty() ? std::cerr : std::cout) << chemledger::chemaudit::kUsage;
    return args.empty() ? 2 : 0;
  }
  const std::string command = args[0];
  args.erase(args.begin());
  if (command == "checkpoint") return chemledger::chemaudit::Checkpoint(args);
  if (command == "history") return chemledger::chemaudit::History(args);
  if (command == "verify") return chemledger::chemaudit::Verify(args);
  if (command == "epcis") return chemledger::chemaudit::Epcis(args);
  if (command == "watch") return chemledger::chemaudit::Watch(args);
  if (command == "reconcile") return chemledger::chemaudit::Reconcile(args);
  if (command == "query") return chemledger::chemaudit::Query(args);
  if (command == "anomalies") return chemledger::chemaudit::Anomalies(args);
  if (command == "stock") return chemledger::chemaudit::Stock(args);
  if (command == "login") return chemledger::chemaudit::Login(args);
  if (command == "export") return chemledger::chemaudit::Export(args);
  if (command == "transit") return chemledger::chemaudit::Transit(args);
  if (command == "major-hazards") return chemledger::chemaudit::MajorHazards(args);
  std::cerr << "chemaudit: unknown command '" << command << "'\n" << chemledger::chemaudit::kUsage;
  return 2;
}
