#include "services/registry/signers.h"

#include <algorithm>
#include <thread>

namespace chemledger::registry {

std::vector<absl::StatusOr<envelope::ResolvedSignature>> VerifyActorSignatures(
    const Registry& registry, absl::Span<const v1::SignedEnvelope* const> envelopes,
    const crypto::SignatureContext& context, size_t threads) {
  const size_t n = envelopes.size();
  std::vector<absl::StatusOr<envelope::ResolvedSignature>> signers;
  signers.reserve(n);
  {
    const auto keys = registry.ActiveActorKeys();
    const envelope::KeyLookup lookup =
        [&keys](const crypto::KeyId& id) -> absl::StatusOr<crypto::VerifyingKey> {
      auto it = keys->find(id);
      if (it == keys->end()) return absl::NotFoundError("unknown key");
      return it->second;
    };
    for (const v1::SignedEnvelope* e : envelopes) {
      absl::StatusOr<envelope::ResolvedSignature> resolved = envelope::Resolve(*e, context, lookup);
      if (!resolved.ok() && absl::IsUnauthenticated(resolved.status())) {
        // Perhaps revoked, perhaps never registered: the registry says which.
        const absl::Status why = registry.WithView([&](const Registry::View& view) {
          return view.ResolveSigner(*e, context).status();
        });
        if (!why.ok()) resolved = why;
      }
      signers.push_back(std::move(resolved));
    }
  }
  const auto check_range = [&](size_t begin, size_t end) {
    for (size_t i = begin; i < end; ++i) {
      if (!signers[i].ok()) continue;
      if (absl::Status s = envelope::CheckSignature(*envelopes[i], context, *signers[i]); !s.ok()) {
        signers[i] = s;
      }
    }
  };
  const size_t workers_wanted = n < 16 ? 1 : std::min<size_t>(std::max<size_t>(threads, 1), n / 8);
  if (workers_wanted <= 1) {
    check_range(0, n);
    return signers;
  }
  std::vector<std::thread> workers;
  const size_t per = (n + workers_wanted - 1) / workers_wanted;
  for (size_t t = 1; t < workers_wanted; ++t) {
    workers.emplace_back(check_range, std::min(n, t * per), std::min(n, (t + 1) * per));
  }
  check_range(0, std::min(n, per));
  for (std::thread& w : workers) w.join();
  return signers;
}

}  // namespace chemledger::registry
