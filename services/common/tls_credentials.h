// gRPC credentials from PEM files: a server's TLS (optionally requiring
// client certificates of a CA: mutual TLS), and a client's, for the
// services of a cluster to reach each other (docs/cluster.md).
//
// The private key file must be the user's alone (crypto::ReadPrivateFile's
// rules); the certificate and CA files may be public.
//
// A server or client reads its files again every `TlsFiles::reload_every`
// (a minute by default) and uses what it read, certificate and key, or CA,
// for every handshake after that, without a restart. gRPC does not check that a key
// and certificate read apart match: read while only one was replaced, they
// fail every handshake until the next read. So `cert` and `key` may name the
// same file (the key and the chain in one PEM), which one rename replaces
// whole. The rules on the key file are checked when the credentials are
// made.
//
// Thread-safety: thread-safe. Each set of credentials made watches its files
// on a thread of gRPC's for as long as the credentials live.

#ifndef CHEMLEDGER_SERVICES_COMMON_TLS_CREDENTIALS_H_
#define CHEMLEDGER_SERVICES_COMMON_TLS_CREDENTIALS_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"

namespace chemledger {

struct TlsFiles {
  std::string ca;    // PEM: the CA whose certificates the peer must present
  std::string cert;  // PEM: this process's certificate (chain)
  std::string key;   // PEM: its private key, mode 0600
  // How often the files are read again (at least a second).
  absl::Duration reload_every = absl::Minutes(1);
};

// A TLS server with `files.cert` and `files.key`. With `require_client_
// certificates`, every client must present a certificate of `files.ca`
// (mutual TLS); without it, none is asked for and `files.ca` may be empty.
// NotFound / FailedPrecondition naming the file that cannot be used.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> TlsServerCredentials(
    const TlsFiles& files, bool require_client_certificates);

// A TLS client that accepts only servers with a certificate of `files.ca`
// that names the host called, and presents `files.cert` (both or neither of
// cert and key).
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> TlsChannelCredentials(
    const TlsFiles& files);

// A small public file (a certificate), whole; NotFound naming `what`.
absl::StatusOr<std::string> ReadPublicFile(const std::string& path, const std::string& what);

}  // namespace chemledger

#endif  // CHEMLEDGER_SERVICES_COMMON_TLS_CREDENTIALS_H_
