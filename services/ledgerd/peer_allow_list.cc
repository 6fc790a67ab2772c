#include "services/ledgerd/peer_allow_list.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "api/wire.h"

namespace chemledger::ledgerd {
namespace {

const char* AccessName(LedgerStoreAccess access) {
  switch (access) {
    case LedgerStoreAccess::kRead:
      return "read the ledger";
    case LedgerStoreAccess::kSubmit:
      return "submit requests";
    case LedgerStoreAccess::kSignCheckpoint:
      return "have checkpoints signed";
    case LedgerStoreAccess::kSignTrustList:
      return "have trust lists signed";
    case LedgerStoreAccess::kRecords:
      return "keep the console's sign-in records";
  }
  return "?";
}

}  // namespace

PeerAllowList PeerAllowList::ClusterDefault() {
  PeerAllowList list;
  const std::string refusal(api::kRefusalPayloadType);
  // Anonymous scans of lost or ended packages (ledger/public_scans.h), by
  // every service that answers label scans: labeld (ResolveLabel), verifyd
  // (Verify, the pages) and auditd (the pages); not waybilld, whose scans
  // are of waybill codes.
  const std::string public_scan(api::kPublicScanPayloadType);
  Grant labeld;
  labeld.read = true;
  labeld.submit = {std::string(api::kIssueLabelsContext.payload_type()), refusal, public_scan};
  labeld.sign_trust_list = true;
  list.Allow("labeld", labeld);
  Grant waybilld;
  waybilld.read = true;
  waybilld.submit = {std::string(api::kWaybillContext.payload_type()), refusal};
  list.Allow("waybilld", waybilld);
  Grant verifyd;
  verifyd.read = true;
  verifyd.submit = {public_scan};
  list.Allow("verifyd", verifyd);
  Grant auditd;
  auditd.read = true;
  auditd.submit = {public_scan};
  auditd.sign_checkpoint = true;
  auditd.sign_trust_list = true;
  auditd.records = true;
  list.Allow("auditd", auditd);
  return list;
}

PeerAllowList PeerAllowList::Anyone() {
  PeerAllowList list;
  list.anyone_ = true;
  return list;
}

std::string PeerAllowList::PeerName(const grpc::AuthContext* auth) {
  if (auth == nullptr || !auth->IsPeerAuthenticated()) return "";
  std::vector<grpc::string_ref> names = auth->FindPropertyValues("x509_common_name");
  if (names.size() != 1) return "";
  return std::string(names[0].data(), names[0].size());
}

absl::Status PeerAllowList::Check(const grpc::AuthContext* auth, LedgerStoreAccess access) const {
  if (anyone_) return absl::OkStatus();
  const std::string peer = PeerName(auth);
  if (peer.empty()) {
    return absl::PermissionDeniedError(
        "ledgerd's internal service answers only callers with a client certificate of the "
        "cluster's CA");
  }
  auto it = grants_.find(peer);
  bool allowed = false;
  if (it != grants_.end()) {
    const Grant& g = it->second;
    switch (access) {
      case LedgerStoreAccess::kRead:
        allowed = g.read;
        break;
      case LedgerStoreAccess::kSubmit:
        allowed = !g.submit.empty();
        break;
      case LedgerStoreAccess::kSignCheckpoint:
        allowed = g.sign_checkpoint;
        break;
      case LedgerStoreAccess::kSignTrustList:
        allowed = g.sign_trust_list;
        break;
      case LedgerStoreAccess::kRecords:
        allowed = g.records;
        break;
    }
  }
  if (allowed) return absl::OkStatus();
  return absl::PermissionDeniedError(absl::StrCat("'", peer.substr(0, 64), "' may not ",
                                                  AccessName(access),
                                                  " (ledgerd's allow-list, docs/cluster.md)"));
}

absl::Status PeerAllowList::CheckSubmit(const grpc::AuthContext* auth,
                                        absl::string_view payload_type) const {
  if (anyone_) return absl::OkStatus();
  const std::string peer = PeerName(auth);
  auto it = grants_.find(peer);
  if (it != grants_.end() && it->second.submit.count(std::string(payload_type))) {
    return absl::OkStatus();
  }
  return absl::PermissionDeniedError(
      absl::StrCat("'", peer.substr(0, 64), "' may not submit requests of payload type '",
                   payload_type.substr(0, 100), "' (ledgerd's allow-list, docs/cluster.md)"));
}

}  // namespace chemledger::ledgerd
