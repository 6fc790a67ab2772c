#include "services/ledger/public_scan_recorder.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "api/wire.h"
#include "chemledger/v1/public_scan.pb.h"
#include "services/ledger/public_scans.h"

namespace chemledger::ledger {

bool CallsForPublicRecord(const v1::ResolveLabelResponse& answer) {
  if (answer.code().empty() || answer.assessment() == "fake") return false;
  for (const v1::ScanWarning& w : answer.scan_warnings()) {
    if (w.kind() == v1::PACKAGE_LOST || w.kind() == v1::PACKAGE_ENDED ||
        w.kind() == v1::CODE_VOIDED) {
      return true;
    }
  }
  return false;
}

PublicScanRecorder::PublicScanRecorder(journal::LedgerClient* ledger,
                                       std::function<absl::Time()> clock, PublicScanLimits limits)
    : ledger_(ledger),
      clock_(clock ? std::move(clock) : [] { return absl::Now(); }),
      per_network_(limits.per_network_per_minute / 60, limits.burst_per_network),
      all_(limits.all_per_minute / 60, limits.burst_all),
      thread_([this] { Run(); }) {}

PublicScanRecorder::~PublicScanRecorder() {
  Flush(absl::Seconds(1));
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  thread_.join();
}

void PublicScanRecorder::Scanned(absl::string_view label_url,
                                 const v1::ResolveLabelResponse& answer,
                                 absl::string_view client_address, absl::string_view channel) {
  if (!CallsForPublicRecord(answer)) return;
  Pending p{std::string(label_url), answer.code(), ClientNetwork(client_address),
            std::string(channel), clock_()};
  absl::MutexLock lock(&mu_);
  if (stopping_ || queue_.size() >= kMaxQueued) {
    ++counters_.dropped;
    return;
  }
  queue_.push_back(std::move(p));
  ++queued_;
}

bool PublicScanRecorder::Flush(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  const uint64_t target = queued_;
  const auto done = [this, target]()
                        ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return handled_ >= target; };
  return mu_.AwaitWithTimeout(absl::Condition(&done), timeout);
}

PublicScanRecorder::Counters PublicScanRecorder::counters() const {
  absl::MutexLock lock(&mu_);
  return counters_;
}

void PublicScanRecorder::Run() {
  for (;;) {
    Pending next;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](PublicScanRecorder* r)
               ABSL_EXCLUSIVE_LOCKS_REQUIRED(r->mu_) { return r->stopping_ || !r->queue_.empty(); },
          this));
      if (stopping_) {
        counters_.dropped += queue_.size();
        handled_ += queue_.size();
        queue_.clear();
        return;
      }
      next = std::move(queue_.front());
      queue_.pop_front();
    }
    Record(next);
    absl::MutexLock lock(&mu_);
    ++handled_;
  }
}

void PublicScanRecorder::Record(const Pending& p) {
  auto count = [this](uint64_t Counters::*field) {
    absl::MutexLock lock(&mu_);
    ++(counters_.*field);
  };
  const std::string hour = PublicScanHour(p.scanned_at);
  if (hour != hour_) {
    hour_ = hour;
    recorded_this_hour_.clear();
  }
  auto known = recorded_this_hour_.find(p.code);
  if (known != recorded_this_hour_.end()) {
    const std::vector<std::string>& networks = known->second;
    if (std::find(networks.begin(), networks.end(), p.client_network) != networks.end()) {
      return count(&Counters::repeated);
    }
    if (networks.size() >= kMaxNetworksPerCode) return count(&Counters::capped);
  } else if (recorded_this_hour_.size() >= kMaxCodesPerHour) {
    return count(&Counters::rate_limited);
  }
  if (!per_network_.Take(p.client_network.empty() ? "unknown" : p.client_network, 1,
                         p.scanned_at) ||
      !all_.Take("all", 1, p.scanned_at)) {
    return count(&Counters::rate_limited);
  }
  v1::PublicScan scan;
  scan.set_label_url(p.label_url);
  scan.set_client_network(p.client_network);
  scan.set_channel(p.channel);
  scan.set_hour(hour);
  journal::Request entry;
  entry.envelope.set_payload_type(api::kPublicScanPayloadType);
  entry.envelope.set_payload(scan.SerializeAsString());
  std::vector<journal::Request> one;
  one.push_back(std::move(entry));
  std::vector<absl::StatusOr<journal::Receipt>> result = ledger_->Submit(std::move(one));
  const absl::Status& status = result[0].status();
  if (result[0].ok() || absl::IsAlreadyExists(status)) {
    // In the log now (or by another channel before): remembered, so that
    // the same scan is not sent again this hour.
    recorded_this_hour_[p.code].push_back(p.client_network);
    count(!result[0].ok() || result[0]->replayed ? &Counters::repeated : &Counters::recorded);
  } else if (absl::IsFailedPrecondition(status) || absl::IsInvalidArgument(status) ||
             absl::IsUnauthenticated(status)) {
    count(&Counters::refused);
  } else {
    // Not remembered: the next scan of it tries again.
    count(&Counters::failed);
  }
}

}  // namespace chemledger::ledger
