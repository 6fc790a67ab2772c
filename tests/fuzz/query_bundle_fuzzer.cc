// Query bundle files (services/audit/query_bundle.h): framing, every part's
// parsing and the offline verifier, whatever bytes a file holds.

#include <sstream>

#include "crypto/label_testing.h"
#include "crypto/sha256.h"
#include "crypto/trust_list.h"
#include "services/audit/query_bundle.h"
#include "tests/fuzz/fuzz_keys.h"
#include "tests/fuzz/fuzz_target.h"

namespace chemledger::fuzz {
std::vector<std::string> FuzzSeeds() {
  // A bundle of no events: a header and a trailer, both well formed.
  v1::QueryBundlePart header;
  v1::QueryBundleHeader* h = header.mutable_header();
  h->set_format(audit::kQueryBundleFormat);
  crypto::Checkpoint c;
  c.origin = FuzzNoteSigner().name();
  c.size = 3;
  c.root_hash = crypto::Sha256("root");
  h->mutable_checkpoint()->set_origin(c.origin);
  h->mutable_checkpoint()->set_tree_size(c.size);
  h->mutable_checkpoint()->set_root_hash(c.root_hash.ToBytes());
  h->mutable_checkpoint()->set_signed_note(*FuzzNoteSigner().SignCheckpoint(c));
  h->mutable_query()->set_enterprise_uscc("91350100M000100Y43");
  crypto::TrustList t;
  t.resolver = "CL.EXAMPLE.CN";
  t.issued = absl::CivilDay(2026, 11, 23);
  t.expires = absl::CivilDay(2026, 11, 30);
  h->set_trust_list(*crypto::SignTrustList(t, FuzzNoteSigner()));
  const std::string framed = audit::FramedPart(header.SerializeAsString());
  v1::QueryBundlePart trailer;
  trailer.mutable_trailer()->set_parts_digest(crypto::Sha256(framed).ToBytes());
  return {framed + audit::FramedPart(trailer.SerializeAsString())};
}

}  // namespace chemledger::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
  chemledger::audit::QueryBundleVerifier verifier(chemledger::fuzz::FuzzNoteSigner().verifier(),
                                                  std::nullopt);
  for (int parts = 0; parts < 1000; ++parts) {
    absl::StatusOr<std::optional<std::string>> part = chemledger::audit::ReadFramedPart(in);
    if (!part.ok() || !*part) break;
    if (!verifier.Add(**part).ok()) return 0;
  }
  (void)verifier.Finish();
  return 0;
}
