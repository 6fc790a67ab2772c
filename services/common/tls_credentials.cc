#include "services/common/tls_credentials.h"

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "crypto/key_files.h"
#include "grpcpp/security/tls_certificate_provider.h"
#include "grpcpp/security/tls_certificate_verifier.h"
#include "grpcpp/security/tls_credentials_options.h"

namespace chemledger {

absl::StatusOr<std::string> ReadPublicFile(const std::string& path, const std::string& what) {
  if (path.empty()) return absl::InvalidArgumentError(absl::StrCat(what, ": no file given"));
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(what, ": cannot read ", path));
  std::stringstream s;
  s << in.rdbuf();
  std::string text = s.str();
  if (!absl::StrContains(text, "-----BEGIN CERTIFICATE-----")) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": ", path, " holds no PEM certificate"));
  }
  return text;
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> TlsServerCredentials(
    const TlsFiles& files, bool require_client_certificates) {
  // Checked now, with errors naming the flag; gRPC's watcher reads them.
  absl::StatusOr<std::string> cert = ReadPublicFile(files.cert, "--tls-cert");
  if (!cert.ok()) return cert.status();
  absl::StatusOr<std::string> key = crypto::ReadPrivateFile(files.key, "--tls-key");
  if (!key.ok()) return key.status();
  if (require_client_certificates) {
    absl::StatusOr<std::string> ca = ReadPublicFile(files.ca, "--tls-ca");
    if (!ca.ok()) return ca.status();
  }
  const int64_t every = absl::ToInt64Seconds(files.reload_every);
  auto provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      files.key, files.cert, require_client_certificates ? files.ca : "",
      static_cast<unsigned int>(std::clamp<int64_t>(every, 1, 86400)));
  grpc::experimental::TlsServerCredentialsOptions options(provider);
  options.watch_identity_key_cert_pairs();
  if (require_client_certificates) {
    options.watch_root_certs();
    options.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  } else {
    options.set_cert_request_type(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  }
  return grpc::experimental::TlsServerCredentials(options);
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> TlsChannelCredentials(
    const TlsFiles& files) {
  // Checked now, with errors naming the flag; gRPC's watcher reads them.
  absl::StatusOr<std::string> ca = ReadPublicFile(files.ca, "--tls-ca");
  if (!ca.ok()) return ca.status();
  const bool presents_certificate = !files.cert.empty() || !files.key.empty();
  if (presents_certificate) {
    absl::StatusOr<std::string> cert = ReadPublicFile(files.cert, "--tls-cert");
    if (!cert.ok()) return cert.status();
    absl::StatusOr<std::string> key = crypto::ReadPrivateFile(files.key, "--tls-key");
    if (!key.ok()) return key.status();
  }
  const int64_t every = absl::ToInt64Seconds(files.reload_every);
  auto provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      presents_certificate ? files.key : "", presents_certificate ? files.cert : "", files.ca,
      static_cast<unsigned int>(std::clamp<int64_t>(every, 1, 86400)));
  grpc::experimental::TlsChannelCredentialsOptions options;
  options.set_certificate_provider(provider);
  options.watch_root_certs();
  if (presents_certificate) options.watch_identity_key_cert_pairs();
  options.set_verify_server_certs(true);
  // The server's certificate must name the host called (or the channel's
  // ssl_target_name_override), as with grpc::SslCredentials.
  options.set_certificate_verifier(
      std::make_shared<grpc::experimental::HostNameCertificateVerifier>());
  return grpc::experimental::TlsCredentials(options);
}

}  // namespace chemledger
