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
  const absl::Status healthy = ledger_->Healthy();
  if (last_ == healthy.ok()) return;
  last_ = healthy.ok();
  health_->SetServingStatus(healthy.ok());
  if (on_change_) on_change_(healthy);
}

}  // namespace chemledger::server
