#include "services/chemledgerd/http_observer.h"

namespace chemledger::server {

std::function<void(const web::HttpObservation&)> HttpObserver(ServerMetrics* metrics,
                                                               AccessLog* log) {
  if (metrics == nullptr && log == nullptr) return nullptr;
  return [metrics, log](const web::HttpObservation& seen) {
    if (metrics != nullptr) metrics->RecordHttp(seen.route, seen.status, seen.latency);
    if (log != nullptr) {
      log->Write({{"kind", AccessLog::String("http")},
                  {"route", AccessLog::String(seen.route)},
                  {"method", AccessLog::String(seen.method)},
                  {"path", AccessLog::String(seen.path.substr(0, 512))},
                  {"status", AccessLog::Integer(seen.status)},
                  {"ms", AccessLog::Number(absl::ToDoubleMilliseconds(seen.latency))},
                  {"client", AccessLog::String(seen.client)},
                  {"request_id", AccessLog::String(seen.request_id)}});
    }
  };
}

}  // namespace chemledger::server
