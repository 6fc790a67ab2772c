#include "services/chemledgerd/serving_status.h"

#include <utility>

namespace chemledger::server {

ServingStatusReporter::ServingStatusReporter(journal::LedgerClient* ledger,
                                             grpc::HealthCheckServiceInterface* health,
                                             absl::Duration interval,
                                             std::function<void(const absl::Status&)> on_change,
                                             WriterHealth writer)
    : ledger_(ledger), health_(health), on_change_(std::move(on_change)), writer_(writer) {
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
  // A writer's health is whether it takes writes (LedgerClient::Healthy); a
  // read replica takes none. Derived, not asked again: for a remote ledger
  // that would be a second call every tick.
  const bool writes = !ledger_->ReadsOnly() && healthy.ok();
  if (last_ == healthy.ok() && last_writes_ == writes) return;
  // The server's status by its name "" (SetServingStatus(bool) would set
  // every named service's too, the writer's for a moment).
  health_->SetServingStatus("", healthy.ok());
  if (writer_ == WriterHealth::kReported) health_->SetServingStatus(kWriterHealthService, writes);
  last_writes_ = writes;
  if (last_ == healthy.ok()) return;
  last_ = healthy.ok();
  if (on_change_) on_change_(healthy);
}

}  // namespace chemledger::server
