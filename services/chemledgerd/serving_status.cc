#include "services/chemledgerd/serving_status.h"

#include <utility>

namespace chemledger::server {

ServingStatusReporter::ServingStatusReporter(journal::LedgerClient* ledger,
                                             grpc::HealthCheckServiceInterface* health,
                                             absl::Duration interval,
                                             std::function<void(const absl::Status&)> on_change)
    : ledger_(ledger), health_(health), on_change_(std::move(on_change)) {
  Report();
  thread_ = std::thread([this, interval] {
    while (!stop_.WaitForNotificationWithTimeout(interval)) Report();
  });
}

ServingStatusReporter::~ServingStatusReporter() {
  stop_.Notify();
  thread_.join();
}

void ServingStatusReporter::Report() {
  const absl::Status writable = ledger_->Writable();
  if (last_ == writable.ok()) return;
  last_ = writable.ok();
  health_->SetServingStatus(writable.ok());
  if (on_change_) on_change_(writable);
}

}  // namespace chemledger::server
