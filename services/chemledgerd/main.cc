// chemledgerd: the all-in-one ChemLedger server. One process, the store
// (embedded LevelDB, or PostgreSQL: docs/postgres.md), the gRPC services
// RegistryService, LabelService, LedgerService, WaybillService,
// VerifyService, AuditService and AdminService on one port (plus gRPC
// health checking and server reflection), and the public scan pages, the
// staff app and the regulators' console over HTTP on another
// (web/scan_server.h).
//
// The commands (init, serve, label-key new, check, restore) and every flag
// are in kUsage below, which `chemledgerd --help` prints, and in
// docs/deployment.md.
//
// Errors print one line "chemledgerd <command>: <reason>" and exit 1 (2 for a
// bad command line).

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "api/china_time.h"
#include "crypto/key_files.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"
#include "render/qr_photos.h"
#include "services/audit/audit_service.h"
#include "services/chemledgerd/access_log.h"
#include "services/chemledgerd/admin_service.h"
#include "services/chemledgerd/deployment.h"
#include "services/chemledgerd/deployment_metrics.h"
#include "services/chemledgerd/http_observer.h"
#include "services/chemledgerd/metrics.h"
#include "services/chemledgerd/postgres_flags.h"
#include "services/chemledgerd/serve_config.h"
#include "services/chemledgerd/serving_status.h"
#include "services/chemledgerd/test_clock.h"
#include "services/common/ephemeral_store.h"
#include "services/common/grpc_server.h"
#include "services/common/listen_address.h"
#include "services/common/rate_limiter.h"
#include "services/common/stop_signals.h"
#include "services/common/tls_credentials.h"
#include "services/label/label_service.h"
#include "services/ledger/ledger_service.h"
#include "services/registry/registry_service.h"
#include "services/registry/registry_state.h"
#include "services/verify/verify_service.h"
#include "services/waybill/waybill_service.h"
#include "storage/slow_sync_env.h"
#include "tools/cli/args.h"
#include "tools/cli/key_args.h"
#include "web/page_flags.h"
#include "web/scan_server.h"

namespace chemledger::server {
namespace {

constexpr char kUsage[] =
    "usage: chemledgerd <command> [options]\n"
    "\n"
    "commands:\n"
    "  init            create a deployment's data directory (once)\n"
    "  serve           run the server on an initialised data directory\n"
    "  label-key new   make a new label signing key (register it with chemctl)\n"
    "  check           rebuild the state from the log and compare (server stopped)\n"
    "  restore         make a data directory of a backup (AdminService.Backup)\n"
    "\n"
    "Run 'chemledgerd <command> --help' for a command's options.\n";

constexpr char kInitUsage[] =
    "usage: chemledgerd init --data DIR --deployment NAME --resolver HOST --admin-key FILE\n"
    "                        [--admin-name NAME] [--passphrase-file FILE] [--label-key-days N]\n"
    "                        [--test-deployment [--test-clock FILE]] [--postgres CONNINFO]\n"
    "\n"
    "Creates the deployment in DIR (which must not exist or be empty): the log with\n"
    "its genesis entry naming the first platform administrator, the platform note\n"
    "key (signs trust lists and checkpoints) and a first label key, registered for\n"
    "--label-key-days days (default 730).\n"
    "\n"
    "  --admin-key FILE   the first administrator's private key file (chemctl\n"
    "                     keygen); it signs the genesis entry and is not stored.\n"
    "  --deployment NAME  the deployment's name, e.g. chemledger.example.cn\n"
    "  --resolver HOST    the label resolver host labels name, upper case, at most\n"
    "                     24 characters, e.g. CL.EXAMPLE.CN\n"
    "  --postgres CONNINFO  the store on PostgreSQL (docs/postgres.md): a libpq\n"
    "                     connection string to an existing, empty database, kept\n"
    "                     in DIR/store.postgres (mode 0600); default: LevelDB in\n"
    "                     DIR/log\n"
    "  --test-deployment  a deployment for tests and drills, marked so in its genesis\n"
    "                     entry for everyone to see: its server may run on a test\n"
    "                     clock (serve --test-clock), so its record times say nothing\n"
    "  --test-clock FILE  (test deployments) the genesis entry's time and the first\n"
    "                     label key's first day from FILE (see serve --help)\n"
    "\n"
    "Prints the note verifier key (also in DIR/note.vkey): offline verifiers pin it.\n";

constexpr char kServeUsage[] =
    "usage: chemledgerd serve [--config FILE] --data DIR [--listen HOST:PORT] [--port-file FILE]\n"
    "                         [--http-listen HOST:PORT|none] [--http-port-file FILE]\n"
    "                         [--staff-app on|off] [--console on|off]\n"
    "                         [--console-address HOST[:PORT][,...]]\n"
    "                         [--trusted-proxy ADDRESS[,...]|none]\n"
    "                         [--metrics-listen HOST:PORT [--metrics-port-file FILE]]\n"
    "                         [--access-log FILE|-]\n"
    "                         (--tls-cert FILE --tls-key FILE | --plaintext)\n"
    "                         [--max-threads N] [--grpc-reflection on|off]\n"
    "                         [--cache-mb N] [--waybill-consent=off]\n"
    "                         [--lease S] [--lease-wait S|forever]\n"
    "                         [--synchronous-standby required|optional]\n"
    "                         [--read-credentials=v1-accepted]\n"
    "                         [--debug-sync-delay-ms MS] [--test-clock FILE]\n"
    "\n"
    "Serves RegistryService, LabelService, LedgerService, WaybillService,\n"
    "VerifyService and AuditService on one port\n"
    "(default 127.0.0.1:7443;\n"
    "port 0 picks a free one), and the public scan pages (what a phone opens\n"
    "from a label's QR; docs/scan-page.md) over HTTP on --http-listen (default\n"
    "127.0.0.1:7480; none: no HTTP). Both use TLS with --tls-cert and --tls-key;\n"
    "--plaintext serves without TLS, and only on loopback addresses (tests, demos,\n"
    "a proxy on the same machine that terminates TLS).\n"
    "--staff-app off leaves out the staff app and the gRPC API over HTTP it calls\n"
    "(/app/; docs/staff-app.md), which are on the HTTP port by default;\n"
    "--console off the regulator console (/console/; docs/console.md).\n"
    "--console-address HOST[:PORT][,...] the console's addresses as regulators\n"
    "call it (the Host a browser sends): a sign-in is good only for one of them;\n"
    "without it, sign-ins only at a loopback address.\n"
    "--trusted-proxy ADDRESS[,...]|none the proxies (TLS terminators, load\n"
    "balancers) whose X-Forwarded-For names an HTTP client, for the pages'\n"
    "per-address limit, the public-scan records, the console's sign-in limit and\n"
    "the access log; by default any loopback peer (a proxy on this machine);\n"
    "none: no proxy (docs/scan-page.md).\n"
    "--metrics-listen serves metrics in Prometheus text format at /metrics on a\n"
    "port of its own (plain HTTP, so on a loopback address only;\n"
    "docs/deployment.md); none by default.\n"
    "--access-log appends one JSON object a line for each gRPC call and HTTP\n"
    "request to FILE (- for stderr): request id, key id, code, time; never a\n"
    "secret (docs/deployment.md, \"Logs\").\n"
    "--port-file and --http-port-file write the bound ports once the server\n"
    "accepts calls. SIGINT or\n"
    "SIGTERM stop it gracefully; every acknowledged write is already durable.\n"
    "--max-threads bounds the threads that serve calls (default 1024): one per\n"
    "call in progress, so that many calls may wait at once.\n"
    "--grpc-reflection on serves gRPC server reflection (grpcurl without the\n"
    "protos); off by default: each open reflection stream holds a call thread and\n"
    "needs no credentials, so turn it on only where the port is not public.\n"
    "--cache-mb bounds the store's block cache (default 64; the store also holds\n"
    "two 32 MB write buffers).\n"
    "--lease, --lease-wait, --synchronous-standby: for a store on PostgreSQL (below).\n"
    "--waybill-consent=off (deprecated; accepted until 2027-06-30, see\n"
    "CHANGELOG.md) opens a carrier's waybills at once, without their consignor's\n"
    "consent, as before rules epoch 3: new entries are written under epoch 2, so\n"
    "it starts only on a store whose entries are all of epoch 2 or earlier.\n"
    "--read-credentials=v1-accepted (deprecated; accepted until 2027-06-30, see\n"
    "CHANGELOG.md) also accepts read.v1 credentials, which are bound to the method\n"
    "and the time only and may be replayed for five minutes after they are made.\n"
    "--debug-sync-delay-ms makes every fsync of the store take MS milliseconds\n"
    "longer: a slow disk, for benchmarks (chembench reads). Never in production.\n"
    "--test-clock FILE takes \"now\" (record times, today's label key) from FILE,\n"
    "Unix seconds that a test rewrites to move time on (never backwards for the\n"
    "log); refused unless the deployment was made with init --test-deployment.\n";

constexpr char kRestoreUsage[] =
    "usage: chemledgerd restore --backup DIR --keys DIR --data NEWDIR\n"
    "\n"
    "Makes the data directory NEWDIR (which must not exist) of a backup that\n"
    "AdminService.Backup wrote (`chemctl admin backup`: DATA/backups/<time>/) and\n"
    "of the deployment's key directory (DATA/keys, backed up apart), and checks\n"
    "that the store is at exactly the backup's signed checkpoint and that the note\n"
    "key is the one that signed it. Then run `chemledgerd check --data NEWDIR` and\n"
    "serve it (docs/deployment.md, \"Backup and restore\").\n";

constexpr char kCheckUsage[] =
    "usage: chemledgerd check --data DIR\n"
    "\n"
    "Checks a deployment's store with the server stopped: re-derives every hash of\n"
    "the log, then rebuilds the state from the log into a scratch store under DIR,\n"
    "entry by entry, each checked under the rules and the state of its own time,\n"
    "and compares it with the stored state key by key. Prints the first difference\n"
    "and exits 1 when they differ.\n";

constexpr char kLabelKeyUsage[] =
    "usage: chemledgerd label-key new (--data DIR | --keys DIR)\n"
    "\n"
    "Makes a new label signing key in DIR/keys (--data: chemledgerd's data\n"
    "directory), or in DIR itself (--keys: a cluster's label key directory, the\n"
    "--label-keys of labeld and waybilld, which must exist with mode 0700), and\n"
    "prints its key id and public key.\n"
    "A platform administrator then registers it (chemctl registry add-label-key);\n"
    "the server uses the newest registered key that is valid on the day.\n";

// A flag kept only for its deprecation window, which ends with the last day
// of kDeprecationWindowEnds: whether `--name=value` was given (the only value
// it takes; `default_note` says why no other), refused after the window
// (`after` says what holds instead), with a warning (`effect`) while in it.
constexpr absl::CivilDay kDeprecationWindowEnds(2027, 6, 30);
absl::StatusOr<bool> DeprecatedFlag(const cli::Args& args, absl::string_view name,
                                    absl::string_view value, absl::string_view default_note,
                                    absl::string_view after, absl::string_view effect) {
  if (!args.Has(std::string(name))) return false;
  if (args.Get(std::string(name)) != value) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", name, ": only '", value, "' may be given (", default_note, ")"));
  }
  if (api::TodayInChina() > kDeprecationWindowEnds) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", name, "=", value, ": its deprecation window ended on ",
                     absl::FormatCivilTime(kDeprecationWindowEnds), " (CHANGELOG.md); ", after));
  }
  std::cerr << "chemledgerd: --" << name << "=" << value << " is deprecated (until "
            << absl::FormatCivilTime(kDeprecationWindowEnds) << "): " << effect << std::endl;
  return true;
}

absl::Status Init(const cli::Args& args) {
  absl::StatusOr<std::string> data = args.Required("data");
  if (!data.ok()) return data.status();
  InitOptions options;
  absl::StatusOr<std::string> deployment = args.Required("deployment");
  if (!deployment.ok()) return deployment.status();
  absl::StatusOr<std::string> resolver = args.Required("resolver");
  if (!resolver.ok()) return resolver.status();
  options.deployment = *deployment;
  options.resolver = *resolver;
  options.admin_name = args.Get("admin-name", "platform administrator");
  absl::StatusOr<uint64_t> days = args.Uint("label-key-days", 730);
  if (!days.ok()) return days.status();
  if (*days < 1 || *days > 3650) {
    return absl::InvalidArgumentError("--label-key-days: must be 1 to 3650");
  }
  options.label_key_valid_days = static_cast<int>(*days);
  options.test_deployment = args.Bool("test-deployment");
  options.postgres = args.Get("postgres", "");
  if (args.Has("test-clock")) {
    absl::StatusOr<std::function<absl::Time()>> clock = OpenTestClock(args.Get("test-clock"));
    if (!clock.ok()) return clock.status();
    if (!options.test_deployment) {
      return absl::InvalidArgumentError("--test-clock: for --test-deployment only");
    }
    options.clock = *std::move(clock);
  }
  absl::StatusOr<crypto::SigningKey> admin_key = cli::SigningKeyArg(args, "admin-key");
  if (!admin_key.ok()) return admin_key.status();
  absl::StatusOr<InitResult> result = InitDeployment(*data, options, *admin_key);
  if (!result.ok()) return result.status();
  std::cout << "initialised deployment " << options.deployment << " in " << *data << "\n"
            << "first administrator: " << options.admin_name << " (key "
            << admin_key->key_id().ToString() << ")\n"
            << "label resolver: " << options.resolver << "\n"
            << "label key: " << result->label_key_id.ToString() << "\n"
            << "note verifier key (pin this in offline verifiers; also in " << *data
            << "/note.vkey):\n"
            << result->note_verifier_key << "\n";
  return absl::OkStatus();
}

absl::Status Check(const cli::Args& args) {
  absl::StatusOr<std::string> data = args.Required("data");
  if (!data.ok()) return data.status();
  const std::string scratch = absl::StrCat(*data, "/check-scratch-", getpid());
  // What a check killed midway left (a whole copy of the state): a scratch
  // directory whose process is gone, or that names this process's id,
  // which no live check can be using.
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(*data, ec)) {
    const std::string filename = entry.path().filename().string();
    absl::string_view name = filename;
    int pid = 0;
    if (!absl::ConsumePrefix(&name, "check-scratch-") || !absl::SimpleAtoi(name, &pid) ||
        pid <= 0) {
      continue;
    }
    if (pid == getpid() || (kill(pid, 0) != 0 && errno == ESRCH)) {
      std::error_code ignored;
      std::filesystem::remove_all(entry.path(), ignored);
      std::cerr << "chemledgerd check: removed " << entry.path().string()
                << ", left by a check that did not finish\n";
    }
  }
  uint64_t shown = 0;
  absl::StatusOr<CheckResult> result =
      CheckDeployment(*data, scratch, [&](uint64_t done, uint64_t total) {
        if (done - shown >= 100000 || done == total) {
          std::cerr << "chemledgerd check: " << done << " of " << total << " entries\n";
          shown = done;
        }
      });
  if (!result.ok()) return result.status();
  std::cout << "check: " << result->entries << " entries re-hashed and applied again under "
            << "the rules of their time; " << result->state_keys
            << " state keys equal to what the log implies\n";
  return absl::OkStatus();
}

absl::Status Restore(const cli::Args& args) {
  absl::StatusOr<std::string> backup = args.Required("backup");
  if (!backup.ok()) return backup.status();
  absl::StatusOr<std::string> keys = args.Required("keys");
  if (!keys.ok()) return keys.status();
  absl::StatusOr<std::string> data = args.Required("data");
  if (!data.ok()) return data.status();
  absl::StatusOr<RestoreResult> restored = RestoreDeployment(*backup, *keys, *data);
  if (!restored.ok()) return restored.status();
  std::cout << "restored " << *data << ": log size " << restored->size << ", root "
            << absl::BytesToHexString(restored->root.ToBytes())
            << ", at the backup's signed checkpoint\n"
            << "next: chemledgerd check --data " << *data << "\n";
  return absl::OkStatus();
}

absl::Status NewLabelKey(const cli::Args& args) {
  if (args.Has("data") == args.Has("keys")) {
    return absl::InvalidArgumentError(
        "--data or --keys: one of them (chemledgerd's data directory, or a cluster's label key "
        "directory)");
  }
  absl::StatusOr<crypto::VerifyingKey> key = absl::InternalError("unset");
  if (args.Has("keys")) {
    key = CreateLabelKeyIn(args.Get("keys"));
    if (!key.ok()) {
      return absl::Status(key.status().code(), absl::StrCat("--keys: ", key.status().message()));
    }
  } else {
    key = CreateLabelKey(args.Get("data"));
  }
  if (!key.ok()) return key.status();
  std::cout << "label key " << key->key_id().ToString() << "\n"
            << "public key " << key->ToBase64() << "\n"
            << "register it: chemctl registry add-label-key --public-key " << key->ToBase64()
            << " --valid-from YYYY-MM-DD --valid-until YYYY-MM-DD ...\n";
  return absl::OkStatus();
}

// The scan pages' flags, read before anything starts, so that a mistake in
// one stops the server before it opens the store or takes a call.
struct HttpFlags {
  // The pages' address flags (web/page_flags.h); nullopt: no pages.
  std::optional<web::ScanServer::Options> pages;
  bool staff_app = true;
  bool console = true;
};

absl::StatusOr<HttpFlags> ReadHttpFlags(const cli::Args& args) {
  HttpFlags flags;
  absl::StatusOr<std::optional<web::ScanServer::Options>> pages =
      web::ReadPageFlags(args, "127.0.0.1:7480");
  if (!pages.ok()) return pages.status();
  flags.pages = *std::move(pages);
  for (const auto& [name, value] :
       {std::make_pair("staff-app", &flags.staff_app), std::make_pair("console", &flags.console)}) {
    const std::string given = args.Get(name, "on");
    if (given != "on" && given != "off") {
      return absl::InvalidArgumentError(
          absl::StrCat("--", name, ": '", given, "' must be on or off"));
    }
    *value = given == "on";
  }
  if (flags.pages && !args.Has("tls-cert") && !IsLoopback(flags.pages->listen)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--plaintext: --http-listen ", flags.pages->listen,
                     " is not a loopback address; serving "
                     "beyond this machine needs --tls-cert and --tls-key (or --http-listen none)"));
  }
  return flags;
}

absl::Status Serve(const cli::Args& args) {
  // Block the stop signals before any other thread starts (gRPC starts its
  // own as credentials are made), so that every thread has them blocked: one
  // that comes while the store opens ends the process at once, and once it
  // serves this thread waits for them (stop_signals.h).
  BlockStopSignalsWhileStarting("chemledgerd");
  absl::StatusOr<std::string> data = args.Required("data");
  if (!data.ok()) return data.status();
  const std::string listen = args.Get("listen", "127.0.0.1:7443");
  std::shared_ptr<grpc::ServerCredentials> credentials;
  const bool plaintext = args.Bool("plaintext");
  if (plaintext && (args.Has("tls-cert") || args.Has("tls-key"))) {
    return absl::InvalidArgumentError("--plaintext: not with --tls-cert or --tls-key");
  }
  if (args.Has("tls-cert") || args.Has("tls-key")) {
    absl::StatusOr<std::string> cert_path = args.Required("tls-cert");
    if (!cert_path.ok()) return cert_path.status();
    absl::StatusOr<std::string> key_path = args.Required("tls-key");
    if (!key_path.ok()) return key_path.status();
    // Read again every minute: a renewed certificate is taken without a
    // restart (services/common/tls_credentials.h).
    absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> tls =
        TlsServerCredentials(TlsFiles{"", *cert_path, *key_path}, false);
    if (!tls.ok()) return tls.status();
    credentials = *std::move(tls);
  } else {
    if (!plaintext) {
      return absl::InvalidArgumentError(
          "--tls-cert and --tls-key: needed to serve; or --plaintext to serve without TLS "
          "on loopback addresses only (tests, demos, a TLS proxy on this machine)");
    }
    if (!IsLoopback(listen)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--plaintext: --listen ", listen, " is not a loopback address; serving beyond this "
          "machine needs --tls-cert and --tls-key"));
    }
    credentials = grpc::InsecureServerCredentials();
  }
  const absl::StatusOr<HttpFlags> http_flags = ReadHttpFlags(args);
  if (!http_flags.ok()) return http_flags.status();

  // A hang-up does not stop the server (a closed terminal, `systemctl
  // reload`, a log rotation's postrotate): there is nothing to reload, and
  // the access log is rotated with copytruncate (docs/deployment.md).
  signal(SIGHUP, SIG_IGN);

  absl::StatusOr<int> max_threads = ReadMaxThreads(args);
  if (!max_threads.ok()) return max_threads.status();
  absl::StatusOr<bool> reflection = ReadGrpcReflection(args);
  if (!reflection.ok()) return reflection.status();

  absl::StatusOr<uint64_t> cache_mb = args.Uint("cache-mb", 64);
  if (!cache_mb.ok()) return cache_mb.status();
  if (*cache_mb < 1 || *cache_mb > 65536) {
    return absl::InvalidArgumentError("--cache-mb: must be 1 to 65536");
  }
  absl::StatusOr<uint64_t> sync_delay_ms = args.Uint("debug-sync-delay-ms", 0);
  if (!sync_delay_ms.ok()) return sync_delay_ms.status();
  std::unique_ptr<storage::SlowSyncEnv> slow_env;
  OpenOptions open_options;
  if (args.Has("test-clock")) {
    absl::StatusOr<std::function<absl::Time()>> clock = OpenTestClock(args.Get("test-clock"));
    if (!clock.ok()) return clock.status();
    open_options.clock = *std::move(clock);
  }
  open_options.block_cache_bytes = static_cast<size_t>(*cache_mb) << 20;
  if (*sync_delay_ms > 0) {
    slow_env = std::make_unique<storage::SlowSyncEnv>(absl::Milliseconds(*sync_delay_ms));
    open_options.env = slow_env.get();
  }
  // The old forms kept for their deprecation window (CHANGELOG.md).
  absl::StatusOr<bool> consent_off = DeprecatedFlag(
      args, "waybill-consent", "off", "consent is on by default",
      "waybills need their consignor's consent",
      "waybills open without their consignor's consent (rules epoch 2)");
  if (!consent_off.ok()) return consent_off.status();
  if (*consent_off) open_options.rules_epoch = 2;
  read_auth::ReadCredentialChecker::Options read_options;
  absl::StatusOr<bool> read_v1 = DeprecatedFlag(
      args, "read-credentials", "v1-accepted", "read.v2 is always accepted",
      "clients sign read.v2 credentials",
      "read.v1 credentials, which can be replayed for five minutes, are accepted");
  if (!read_v1.ok()) return read_v1.status();
  read_options.accept_v1 = *read_v1;
  open_options.migration_progress = [](uint64_t done, uint64_t total) {
    std::cout << "chemledgerd: building the state from the log (a store written before it kept "
                 "state, whose state layout changed, or repaired after a torn write): "
              << done << " of " << total << " entries" << std::endl;
  };
  // The access log, when asked for: one JSON object a line (access_log.h).
  std::unique_ptr<AccessLog> access_log;
  if (args.Has("access-log")) {
    absl::StatusOr<std::unique_ptr<AccessLog>> opened = AccessLog::Open(args.Get("access-log"));
    if (!opened.ok()) return opened.status();
    access_log = *std::move(opened);
  }
  // Metrics, when asked for: counted from the first commit on.
  std::unique_ptr<ServerMetrics> metrics;
  if (args.Has("metrics-listen")) {
    if (absl::Status s = ServerMetrics::CheckListenAddress(args.Get("metrics-listen")); !s.ok()) {
      return s;
    }
  }
  if (args.Has("metrics-listen")) {
    metrics = std::make_unique<ServerMetrics>(absl::StrCat(*data, "/log"));
    open_options.on_commit = [m = metrics.get()](const journal::CommittedBatch& b) {
      m->RecordCommit(b);
    };
  }
  if (absl::Status s = ReadPostgresFlags(args, "chemledgerd", &open_options.postgres); !s.ok()) {
    return s;
  }
  if (args.Get("lease-wait") == "forever") {
    std::cout << "chemledgerd: a standby: waiting for the writer's lease (if the store is on "
                 "PostgreSQL)"
              << std::endl;
  }
  absl::StatusOr<std::unique_ptr<Deployment>> deployment = Deployment::Open(*data, open_options);
  if (!deployment.ok()) return deployment.status();
  Deployment& d = **deployment;
  // One checker of read credentials for all services: a nonce used with one
  // is used for all.
  read_options.origin = d.note_signer().name();
  // The used read credentials' nonces and the console's sign-ins, on disk
  // beside the store: a restart forgets neither.
  absl::StatusOr<std::unique_ptr<EphemeralStore>> ephemera =
      EphemeralStore::Open(d.data_dir() + "/ephemeral", EphemeralStoreOptions(), absl::Now());
  if (!ephemera.ok()) return ephemera.status();
  read_options.memory = (*ephemera)->nonces();
  registry::ReadAuthenticator reads(std::move(read_options));
  // One allowance per client address for every anonymous entry point: the
  // scan pages, ResolveLabel, ResolveWaybillCode, Verify and ListBlacklist
  // together (services/common/rate_limiter.h).
  RateLimiter anonymous_scans = AnonymousScanAllowance();
  // And one per actor key for the signed scans of ResolveLabel and Verify.
  RateLimiter signed_scans(kSignedScansPerSecond, kSignedScanBurst);
  registry::RegistryServiceImpl registry_service(d.ledger_client(), &reads, d.refusals(),
                                                 registry::RegistryServiceImpl::Answers::kAll,
                                                 &anonymous_scans);
  label::LabelServiceImpl label_service(d.issuer(), d.ledger_client(), d.notary(), &reads,
                                        d.public_scans(), &anonymous_scans, &signed_scans);
  ledger::LedgerServiceImpl ledger_service(d.ledger(), d.ledger_client(), &d.note_signer(),
                                           &reads, ledger::AppendStreamOptions(),
                                           &reference::ShippedReferenceTables(), d.cosignatures());
  waybill::WaybillServiceImpl waybill_service(d.waybills(), d.ledger_client(), &reads, {},
                                              &anonymous_scans);
  verify::VerifyOptions verify_options;
  verify_options.public_scans = d.public_scans();
  verify_options.anonymous_scans = &anonymous_scans;
  verify_options.signed_scans = &signed_scans;
  verify::VerifyServiceImpl verify_service(d.ledger_client(), &reads, verify_options);
  // The audit's answers, to AuditService's callers and to the console's.
  const audit::AuditReads audit_reads(d.ledger_client(), d.notary(), open_options.clock);
  audit::AuditServiceImpl audit_service(&audit_reads, &reads);
  AdminServiceImpl admin_service(&d, &reads);

  GrpcServerOptions grpc_options;
  grpc_options.name = "chemledgerd";
  grpc_options.max_threads = *max_threads;
  grpc_options.reflection = *reflection;
  grpc_options.listen = listen;
  grpc_options.credentials = credentials;
  grpc_options.services = {&registry_service, &label_service, &ledger_service, &waybill_service,
                           &verify_service,   &audit_service, &admin_service};
  {
    if (metrics) {
      metrics->WatchLog(d.ledger_client());
      WatchDeployment(*metrics, d);
      if (d.public_scans() != nullptr) {
        metrics->WatchPublicScanRecords([&d] { return d.public_scans()->counters().ByOutcome(); });
      }
      if (access_log) {
        metrics->WatchAccessLog([log = access_log.get()] { return log->LinesByOutcome(); });
      }
      metrics->WatchSlots(
          "issuance", [&label_service] { return label_service.issuances_in_progress(); },
          label::kMaxConcurrentIssuances);
      metrics->WatchSlots(
          "ledger_streams", [&ledger_service] { return ledger_service.streams().open(); },
          ledger_service.streams().max_open());
      metrics->WatchSlots(
          "waybill_streams", [&waybill_service] { return waybill_service.streams().open(); },
          waybill_service.streams().max_open());
      metrics->WatchSlots(
          "anomaly_subscriptions", [&audit_service] { return audit_service.subscriptions_open(); },
          audit::AuditServiceImpl::kMaxSubscriptions);
      metrics->WatchSlots(
          "exports", [&audit_service] { return audit_service.exports_open(); },
          audit::AuditServiceImpl::kMaxExports);
      grpc_options.interceptors.push_back(metrics->InterceptorFactory());
    }
    if (access_log) grpc_options.interceptors.push_back(access_log->InterceptorFactory());
  }
  // From here the server takes calls: a stop signal waits for the graceful
  // stop below (stop_signals.h).
  EndStartup();
  absl::StatusOr<StartedGrpcServer> started_grpc =
      StartGrpcServer(std::move(grpc_options), "--listen");
  if (!started_grpc.ok()) return started_grpc.status();
  std::unique_ptr<grpc::Server> server = std::move(started_grpc->server);
  const int port = started_grpc->port;
  // The public scan pages, over HTTP(S).
  std::unique_ptr<web::ScanServer> scan_server;
  if (http_flags->pages) {
    web::ScanServer::Options http_options = *http_flags->pages;
    // The staff app's calls reach the services in-process, through the
    // same handlers (and checks) as calls over the network.
    if (http_flags->staff_app) {
      http_options.api_channel = server->InProcessChannel(grpc::ChannelArguments());
    }
    if (http_flags->console) http_options.audit = &audit_reads;
    http_options.console_records = (*ephemera)->records();
    http_options.observe = HttpObserver(metrics.get(), access_log.get());
    http_options.public_scans = d.public_scans();
    http_options.anonymous_scans = &anonymous_scans;
    if (args.Has("tls-cert")) {
      http_options.tls_cert_file = args.Get("tls-cert");
      http_options.tls_key_file = args.Get("tls-key");
    }
    absl::StatusOr<std::unique_ptr<web::ScanServer>> started =
        web::ScanServer::Start(d.ledger_client(), http_options);
    if (!started.ok()) {
      return absl::Status(started.status().code(),
                          absl::StrCat("--http-listen: ", started.status().message()));
    }
    scan_server = *std::move(started);
    if (args.Has("http-port-file")) {
      if (absl::Status s = WritePortFile(args.Get("http-port-file"), scan_server->port());
          !s.ok()) {
        return s;
      }
    }
  }
  // Whatever way this returns from here on, the metrics stop serving before
  // the services they read go.
  absl::Cleanup stop_metrics = [&metrics] {
    if (metrics) metrics->StopServing();
  };
  if (metrics) {
    absl::StatusOr<int> metrics_port = metrics->Serve(args.Get("metrics-listen"));
    if (!metrics_port.ok()) return metrics_port.status();
    if (args.Has("metrics-port-file")) {
      if (absl::Status s = WritePortFile(args.Get("metrics-port-file"), *metrics_port); !s.ok()) {
        return s;
      }
    }
  }
  // Written last: once it is there, both ports accept calls.
  if (args.Has("port-file")) {
    if (absl::Status s = WritePortFile(args.Get("port-file"), port); !s.ok()) return s;
  }
  // NOT_SERVING once a write has failed and the ledger is read-only.
  auto serving_status = std::make_unique<ServingStatusReporter>(
      d.ledger_client(), server->GetHealthCheckService(), absl::Milliseconds(250),
      [](const absl::Status& writable) {
        if (!writable.ok()) {
          std::cerr << "chemledgerd: NOT_SERVING (read-only until restarted): "
                    << cli::OneLine(writable.message()) << std::endl;
        }
      });
  {
    std::shared_ptr<const storage::Snapshot> snapshot = d.ledger_client()->Latest();
    absl::StatusOr<state::DeploymentRecord> record = registry::ReadDeployment(*snapshot);
    if (!record.ok()) return record.status();
    if (scan_server) {
      std::cout << "chemledgerd: scan pages on HTTP" << (args.Has("tls-cert") ? "S" : "")
                << " port " << scan_server->port() << std::endl;
    }
    std::cout << "chemledgerd: serving deployment " << record->deployment() << " (resolver "
              << record->resolver() << ", log size " << snapshot->size() << ") on port " << port
              << std::endl;
  }

  std::cout << "chemledgerd: " << StopSignalName(WaitForStopSignal()) << ", stopping" << std::endl;
  serving_status.reset();  // before the server stops, as a cluster service's
  scan_server.reset();
  // Calls in progress finish, for up to 10 s (as a cluster service's).
  StopGrpcServers({server.get()});
  return absl::OkStatus();  // (stop_metrics runs first)
}

struct Command {
  std::vector<std::string> path;
  const char* usage;
  cli::FlagSpec flags;
  absl::Status (*run)(const cli::Args&);
};

int Main(int argc, char** argv) {
  static const std::string serve_usage = absl::StrCat(kServeUsage, "\n", kPostgresFlagsUsage);
  // Debian builds Abseil without NDEBUG, which leaves Mutex deadlock
  // detection on: a lock-order graph updated on every lock, unlock and
  // mutex destruction, on every call. The lock orders are checked by the
  // tests' thread-safety annotations and sanitizer runs instead.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  // Everything chemledgerd creates (the store's files, keys) is its user's
  // alone; the public files it writes say so themselves.
  umask(077);
  const std::vector<std::string> args(argv + 1, argv + argc);
  const std::vector<Command> commands = {
      {{"init"},
       kInitUsage,
       {{"data", "deployment", "resolver", "admin-key", "admin-name", "passphrase-file", "postgres",
         "label-key-days", "test-clock"},
        {"test-deployment"}},
       Init},
      {{"serve"},
       serve_usage.c_str(),
       {{"data",
         "listen",
         "port-file",
         "http-listen",
         "http-port-file",
         "staff-app",
         "console",
         "console-address",
         "trusted-proxy",
         "metrics-listen",
         "metrics-port-file",
         "access-log",
         "tls-cert",
         "tls-key",
         "max-threads",
         "grpc-reflection",
         "cache-mb",
         "lease",
         "lease-wait",
         "synchronous-standby",
         "waybill-consent",
         "read-credentials",
         "debug-sync-delay-ms",
         "test-clock"},
        {"plaintext"}},
       Serve},
      {{"check"}, kCheckUsage, {{"data"}, {}}, Check},
      {{"restore"}, kRestoreUsage, {{"backup", "keys", "data"}, {}}, Restore},
      {{"label-key", "new"}, kLabelKeyUsage, {{"data", "keys"}, {}}, NewLabelKey},
  };
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    (args.empty() ? std::cerr : std::cout) << kUsage;
    return args.empty() ? 2 : 0;
  }
  for (const Command& c : commands) {
    if (args.size() < c.path.size() || !std::equal(c.path.begin(), c.path.end(), args.begin())) {
      continue;
    }
    const std::string name = absl::StrJoin(c.path, " ");
    std::vector<std::string> command_args(args.begin() + c.path.size(), args.end());
    const bool serve = c.path == std::vector<std::string>{"serve"};
    if (serve) {
      // The configuration file's fields, as flags the command line overrides.
      absl::StatusOr<std::vector<std::string>> configured = WithServeConfig(command_args);
      if (!configured.ok()) {
        std::cerr << "chemledgerd serve: " << cli::OneLine(configured.status().message()) << "\n";
        return 2;
      }
      command_args = *std::move(configured);
    }
    absl::StatusOr<cli::Args> parsed = cli::Args::Parse(command_args, c.flags);
    if (!parsed.ok()) {
      std::cerr << "chemledgerd " << name << ": " << cli::OneLine(parsed.status().message())
                << " (see --help)\n";
      return 2;
    }
    if (parsed->help()) {
      std::cout << c.usage << (serve ? "\n" + ServeConfigHelp() : "");
      return 0;
    }
    if (absl::Status s = c.run(*parsed); !s.ok()) {
      std::cerr << "chemledgerd " << name << ": " << cli::OneLine(s.message()) << "\n";
      return 1;
    }
    return 0;
  }
  std::cerr << "chemledgerd: unknown command '" << cli::OneLine(args[0])
            << "' (see chemledgerd --help)\n";
  return 2;
}

}  // namespace
}  // namespace chemledger::server

int main(int argc, char** argv) {
  // Photos that anyone may send are read in worker processes, this binary
  // started again (render/qr_photos.h): first, before any thread starts.
  chemledger::render::ServeQrPhotoWorkerIfAsked(argc, argv);
  // A client that goes away while the HTTP server writes to it (a phone
  // leaving a page half loaded) must cost that write only: cpp-httplib
  // writes without MSG_NOSIGNAL, and SIGPIPE would end the process.
  signal(SIGPIPE, SIG_IGN);
  return chemledger::server::Main(argc, argv);
}
