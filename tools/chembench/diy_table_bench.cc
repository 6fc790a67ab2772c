#include "tools/chembench/diy_table_bench.h"

#include <grpcpp/grpcpp.h>
#include <postgresql/libpq-fe.h>

#include <atomic>
#include <memory>
#include <thread>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "api/wire.h"
#include "crypto/sha256.h"
#include "chemledger/v1/ledger.pb.h"
#include "chemledger/v1/ledger_service.grpc.pb.h"

namespace chemledger::chembench {
namespace {

struct ConnDeleter {
  void operator()(PGconn* c) const { PQfinish(c); }
};
using Connection = std::unique_ptr<PGconn, ConnDeleter>;
struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using Result = std::unique_ptr<PGresult, ResultDeleter>;

absl::Status Failed(PGconn* c, absl::string_view what) {
  return absl::InternalError(absl::StrCat("diy table: ", what, ": ", PQerrorMessage(c)));
}

absl::Status Exec(PGconn* c, const char* sql) {
  Result r(PQexec(c, sql));
  const ExecStatusType s = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
  if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) return Failed(c, sql);
  return absl::OkStatus();
}

constexpr char kSchema[] =
    "DROP SCHEMA IF EXISTS diy_bench CASCADE;"
    "CREATE SCHEMA diy_bench;"
    // The newest event of each code: the chain's head, locked while a new
    // event is linked to it.
    "CREATE TABLE diy_bench.code_heads (code text PRIMARY KEY, seq bigint NOT NULL, "
    "  hash bytea NOT NULL);"
    // Every event, each linked to its code's previous one.
    "CREATE TABLE diy_bench.events (code text NOT NULL, seq bigint NOT NULL, "
    "  event_id text NOT NULL UNIQUE, prev_hash bytea NOT NULL, hash bytea NOT NULL, "
    "  envelope bytea NOT NULL, recorded timestamptz NOT NULL DEFAULT now(), "
    "  PRIMARY KEY (code, seq));";

// Prepared once per connection, as a driver would.
constexpr char kLockHead[] =
    "INSERT INTO diy_bench.code_heads (code, seq, hash) VALUES ($1, 0, '') "
    "ON CONFLICT (code) DO UPDATE SET code = excluded.code RETURNING seq, hash";
constexpr char kInsertEvent[] =
    "INSERT INTO diy_bench.events (code, seq, event_id, prev_hash, hash, envelope) "
    "VALUES ($1, $2::bigint, $3, $4, $5, $6)";
constexpr char kUpdateHead[] =
    "UPDATE diy_bench.code_heads SET seq = $2::bigint, hash = $3 WHERE code = $1";

absl::StatusOr<Connection> Connect(const std::string& connection, bool prepare = true) {
  Connection c(PQconnectdb(connection.c_str()));
  if (c == nullptr || PQstatus(c.get()) != CONNECTION_OK) {
    return absl::UnavailableError(
        absl::StrCat("diy table: cannot connect: ", c ? PQerrorMessage(c.get()) : "no memory"));
  }
  PQsetNoticeProcessor(c.get(), [](void*, const char*) {}, nullptr);
  if (!prepare) return c;
  for (const auto& [name, sql] : {std::pair{"lock_head", kLockHead},
                                  std::pair{"insert_event", kInsertEvent},
                                  std::pair{"update_head", kUpdateHead}}) {
    Result r(PQprepare(c.get(), name, sql, 0, nullptr));
    if (!r || PQresultStatus(r.get()) != PGRES_COMMAND_OK) return Failed(c.get(), sql);
  }
  return c;
}

// Runs a prepared statement with text parameters (bytea ones in binary).
Result Run(PGconn* c, const char* name, const std::vector<std::string>& values,
           const std::vector<int>& binary) {
  std::vector<const char*> v;
  std::vector<int> lengths;
  for (const std::string& s : values) {
    v.push_back(s.c_str());
    lengths.push_back(static_cast<int>(s.size()));
  }
  return Result(PQexecPrepared(c, name, static_cast<int>(v.size()), v.data(), lengths.data(),
                               binary.data(), /*resultFormat=*/1));
}

class DiyLedger final : public v1::LedgerService::Service {
 public:
  DiyLedger(std::vector<Connection> connections, crypto::VerifyingKey signer)
      : idle_(std::move(connections)), signer_(std::move(signer)) {}

  grpc::Status Append(grpc::ServerContext*, const v1::SignedEnvelope* request,
                      v1::AppendResponse*) override {
    absl::Status s = Take(*request);
    if (!s.ok()) return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, std::string(s.message()));
    return grpc::Status::OK;
  }

 private:
  absl::Status Take(const v1::SignedEnvelope& envelope) {
    // The signature, checked by the application.
    if (envelope.payload_type() != api::kEventContext.payload_type() ||
        envelope.signatures_size() != 1 ||
        envelope.signatures(0).key_id() != signer_.key_id().ToString()) {
      return absl::InvalidArgumentError("not an event signed by the known key");
    }
    absl::StatusOr<crypto::Signature> sig = crypto::Signature::FromBytes(envelope.signatures(0).sig());
    if (!sig.ok()) return sig.status();
    if (absl::Status s = signer_.Verify(api::kEventContext, envelope.payload(), *sig); !s.ok()) {
      return s;
    }
    v1::Event event;
    if (!event.ParseFromString(envelope.payload()) || event.codes_size() != 1) {
      return absl::InvalidArgumentError("an event of one code");
    }
    const std::string& code = event.codes(0);
    const std::string bytes = envelope.SerializeAsString();

    Connection c = Acquire();
    absl::Status outcome = [&]() -> absl::Status {
      if (absl::Status s = Exec(c.get(), "BEGIN"); !s.ok()) return s;
      Result head = Run(c.get(), "lock_head", {code}, {0});
      if (!head || PQresultStatus(head.get()) != PGRES_TUPLES_OK || PQntuples(head.get()) != 1) {
        return Failed(c.get(), "lock the code's head");
      }
      uint64_t be = 0;
      std::memcpy(&be, PQgetvalue(head.get(), 0, 0), sizeof(be));
      const int64_t seq = static_cast<int64_t>(be64toh(be)) + 1;
      const std::string prev(PQgetvalue(head.get(), 0, 1), PQgetlength(head.get(), 0, 1));
      const std::string hash = crypto::Sha256(absl::StrCat(prev, bytes)).ToBytes();
      const std::string seq_text = absl::StrCat(seq);
      Result ins = Run(c.get(), "insert_event", {code, seq_text, event.event_id(), prev, hash, bytes},
                       {0, 0, 0, 1, 1, 1});
      if (!ins || PQresultStatus(ins.get()) != PGRES_COMMAND_OK) return Failed(c.get(), "insert");
      Result up = Run(c.get(), "update_head", {code, seq_text, hash}, {0, 0, 1});
      if (!up || PQresultStatus(up.get()) != PGRES_COMMAND_OK) return Failed(c.get(), "update");
      return Exec(c.get(), "COMMIT");
    }();
    if (!outcome.ok()) Exec(c.get(), "ROLLBACK").IgnoreError();
    Release(std::move(c));
    return outcome;
  }

  Connection Acquire() {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(+[](std::vector<Connection>* idle) { return !idle->empty(); }, &idle_));
    Connection c = std::move(idle_.back());
    idle_.pop_back();
    return c;
  }
  void Release(Connection c) {
    absl::MutexLock lock(&mu_);
    idle_.push_back(std::move(c));
  }

  absl::Mutex mu_;
  std::vector<Connection> idle_ ABSL_GUARDED_BY(mu_);
  const crypto::VerifyingKey signer_;
};

}  // namespace

absl::StatusOr<RateFigures> RunDiyTable(const std::string& connection,
                                        const crypto::VerifyingKey& signer,
                                        const std::vector<v1::SignedEnvelope>& events,
                                        int clients) {
  {
    absl::StatusOr<Connection> setup = Connect(connection, /*prepare=*/false);
    if (!setup.ok()) return setup.status();
    if (absl::Status s = Exec(setup->get(), kSchema); !s.ok()) return s;
  }
  std::vector<Connection> connections;
  for (int i = 0; i < clients; ++i) {
    absl::StatusOr<Connection> c = Connect(connection);
    if (!c.ok()) return c.status();
    connections.push_back(*std::move(c));
  }
  DiyLedger service(std::move(connections), signer);
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) return absl::InternalError("diy table: no gRPC server");
  auto stub = v1::LedgerService::NewStub(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));

  std::vector<std::vector<double>> latency(clients);
  std::atomic<int> errors{0};
  std::string first_error;
  absl::Mutex error_mu;
  const absl::Time start = absl::Now();
  {
    std::vector<std::thread> threads;
    for (int t = 0; t < clients; ++t) {
      threads.emplace_back([&, t] {
        for (size_t i = t; i < events.size(); i += clients) {
          grpc::ClientContext context;
          v1::AppendResponse response;
          const absl::Time sent = absl::Now();
          grpc::Status s = stub->Append(&context, events[i], &response);
          latency[t].push_back(absl::ToDoubleMilliseconds(absl::Now() - sent));
          if (!s.ok() && errors++ == 0) {
            absl::MutexLock lock(&error_mu);
            first_error = s.error_message();
          }
        }
      });
    }
    for (auto& th : threads) th.join();
  }
  const RateFigures figures = Summarise(events.size(), absl::Now() - start, latency);
  server->Shutdown();
  if (errors > 0) {
    return absl::InternalError(
        absl::StrCat("diy table: ", errors.load(), " events refused, the first: ", first_error));
  }
  return figures;
}

}  // namespace chemledger::chembench
