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
      queue_("public-scans", {kMaxQueued, BackgroundQueue::Limits().max_bytes, absl::Seconds(1)},
             [this](uint64_t dropped) {
               absl::MutexLock lock(&mu_);
               counters_.dropped += dropped;
             }) {}

PublicScanRecorder::~PublicScanRecorder() = default;

void PublicScanRecorder::Scanned(absl::string_view label_url,
                                 const v1::ResolveLabelResponse& answer,
                                 absl::string_view client_address, absl::string_view channel) {
  if (!CallsForPublicRecord(answer)) return;
  Pending p{std::string(label_url), answer.code(), ClientNetwork(client_address),
            std::string(channel), clock_()};
  if (!queue_.Push([this, p = std::move(p)] { Record(p); })) {
    absl::MutexLock lock(&mu_);
    ++counters_.dropped;
  }
}

bool PublicScanRecorder::Flush(absl::Duration timeout) { return queue_.Flush(timeout); }

PublicScanRecorder::Counters PublicScanRecorder::counters() const {
  absl::MutexLock lock(&mu_);
  return counters_;
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
