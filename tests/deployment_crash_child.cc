// Child process for deployment_crash_test: writes to a deployment from three
// threads (label issuance; events commissioning and storing packages; e-waybills
// with the events that commission their packages) until it is killed, printing
// "ack <kind> <id> <log index>" on stdout after each write was acknowledged
// (that is, after it is durable).
//
// Usage: deployment_crash_child DATA_DIR ROUND
// The deployment must hold the producer (key seed 3) and carrier (key seed 7)
// of deployment_crash_test, and a label key.

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "api/china_time.h"
#include "api/wire.h"
#include "chemledger/v1/label.pb.h"
#include "chemledger/v1/ledger.pb.h"
#include "chemledger/v1/waybill.pb.h"
#include "services/chemledgerd/deployment.h"
#include "services/common/envelope.h"
#include "services/waybill/waybill_testing.h"
#include "tests/crash_parties.h"

namespace chemledger::testing {
namespace {

void Ack(const std::string& kind, const std::string& id, uint64_t index) {
  // One write(2) per line: lines never interleave (shorter than PIPE_BUF).
  const std::string line = absl::StrCat("ack ", kind, " ", id, " ", index, "\n");
  if (::write(STDOUT_FILENO, line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
    std::_Exit(1);
  }
}

[[noreturn]] void Fail(const std::string& what, const absl::Status& s) {
  std::fprintf(stderr, "deployment_crash_child: %s: %s\n", what.c_str(), s.ToString().c_str());
  std::_Exit(1);
}

// Issues `count` codes of batch `batch`; returns the first serial.
uint64_t Issue(server::Deployment& d, const std::string& id, const std::string& batch,
               uint32_t count) {
  v1::IssueLabelsRequest r;
  r.set_request_id(id);
  r.set_enterprise_uscc(Producer());
  r.set_product_number("M01");
  r.set_batch(batch);
  *r.mutable_production_date() = api::ToProtoDate(api::TodayInChina() - 1);
  r.set_package_count(count);
  r.set_net_quantity("25");
  r.set_unit("KGM");
  absl::StatusOr<label::Issuance> issuance = d.issuer()->Issue(
      *envelope::Sign(api::kIssueLabelsContext, r.SerializeAsString(), ProducerKey()));
  if (!issuance.ok()) Fail(id, issuance.status());
  Ack("issue", id, issuance->log_index);
  return issuance->claims.serial;
}

void Event(server::Deployment& d, const std::string& id, v1::BusinessStep step,
           const std::vector<std::string>& codes) {
  v1::Event e;
  e.set_event_id(id);
  e.set_step(step);
  for (const std::string& c : codes) e.add_codes(c);
  const int64_t now = absl::ToUnixSeconds(absl::Now());
  e.mutable_event_time()->set_seconds(now);
  e.set_event_time_offset_minutes(480);
  e.mutable_location()->set_enterprise_uscc(Producer());
  e.mutable_location()->set_site("warehouse 1");
  absl::StatusOr<ledger::EventReceipt> r =
      d.ledger()->Append(*envelope::Sign(api::kEventContext, e.SerializeAsString(), ProducerKey()));
  if (!r.ok()) Fail(id, r.status());
  Ack("event", id, r->log_index);
}

int Main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: deployment_crash_child DATA_DIR ROUND\n");
    return 2;
  }
  const std::string round = argv[2];
  absl::StatusOr<std::unique_ptr<server::Deployment>> opened = server::Deployment::Open(argv[1]);
  if (!opened.ok()) Fail("open", opened.status());
  server::Deployment& d = **opened;
  std::vector<std::thread> workers;
  workers.emplace_back([&] {
    for (int n = 0;; ++n) Issue(d, absl::StrCat("iss-", round, "-", n), "I" + round, 50);
  });
  workers.emplace_back([&] {
    const std::string batch = "E" + round;
    const uint64_t first = Issue(d, absl::StrCat("iss-", round, "-events"), batch, 100000);
    for (uint64_t k = 0;; ++k) {
      std::vector<std::string> codes;
      for (uint64_t j = 0; j < 5; ++j) {
        codes.push_back(absl::StrCat(Producer(), ".M01.", batch, ".", first + 5 * k + j));
      }
      Event(d, absl::StrCat("ev-", round, "-", k), v1::COMMISSIONING, codes);
      Event(d, absl::StrCat("st-", round, "-", k), v1::STORING, codes);
    }
  });
  workers.emplace_back([&] {
    const std::string batch = "W" + round;
    const uint64_t first = Issue(d, absl::StrCat("iss-", round, "-waybills"), batch, 100000);
    {
      // The producer lets the carrier's waybills open at once: they reserve
      // their packages (not pending).
      const v1::WaybillRequest a = waybill::testing::AuthorizeCarrierRequest(
          absl::StrCat("auth-", round), Carrier());
      absl::StatusOr<waybill::WaybillReceipt> r = d.waybills()->Apply(
          *envelope::Sign(api::kWaybillContext, a.SerializeAsString(), ProducerKey()));
      if (!r.ok()) Fail(a.request_id(), r.status());
      Ack("waybill", a.request_id(), r->log_index);
    }
    for (uint64_t k = 0;; ++k) {
      const std::string code = absl::StrCat(Producer(), ".M01.", batch, ".", first + k);
      Event(d, absl::StrCat("wc-", round, "-", k), v1::COMMISSIONING, {code});
      v1::WaybillRequest w;
      const std::string number = absl::StrCat("WB-", round, "-", k);
      w.set_request_id(absl::StrCat("wb-", round, "-", k));
      *w.mutable_submit() =
          waybill::testing::ExampleWaybill(number, Carrier(), Producer(), Consignee(), {code},
                                           25000, "KGM");
      absl::StatusOr<waybill::WaybillReceipt> r = d.waybills()->Apply(
          *envelope::Sign(api::kWaybillContext, w.SerializeAsString(), CarrierKey()));
      if (!r.ok()) Fail(w.request_id(), r.status());
      Ack("waybill", w.request_id(), r->log_index);
    }
  });
  for (auto& w : workers) w.join();
  return 0;
}

}  // namespace
}  // namespace chemledger::testing

int main(int argc, char** argv) { return chemledger::testing::Main(argc, argv); }
