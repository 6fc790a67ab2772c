// The HTTP port's TLS certificate, read again while the server runs, as the
// gRPC port's is (services/common/tls_credentials.h): a certificate renewed
// on disk is served to every handshake made after the next read, without a
// restart.
//
// The files are read at most once per `reload_every`, by the first handshake
// after that time has passed (outside the lock, so the other handshakes go
// on meanwhile). What was read is served only when a handshake could serve
// it: a key that does not match its certificate (read while only one of two
// files had been replaced), one OpenSSL refuses (an RSA key under 2048
// bits), a chain cut short, an encrypted key, a file missing or not PEM, and
// the server goes on serving what it served before, says why on stderr, and
// tries again at the next read. Keeping key and chain in one file, replaced by one rename,
// avoids the mismatch altogether (docs/deployment.md).
//
// Thread-safety: Install's callback runs on every serving thread at once;
// the certificate it serves is swapped under a lock. The object must outlive
// every SSL_CTX it was installed in.

#ifndef CHEMLEDGER_WEB_RENEWING_CERTIFICATE_H_
#define CHEMLEDGER_WEB_RENEWING_CERTIFICATE_H_

#include <openssl/ssl.h>

#include <chrono>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace chemledger::web {

class RenewingCertificate {
 public:
  // Reads `cert_file` (PEM: the certificate, then its chain) and `key_file`
  // (PEM: its private key, not encrypted; may be the same file).
  // InvalidArgument naming the file when either cannot be read, the key is
  // not the certificate's, or a handshake could not serve them.
  static absl::StatusOr<std::unique_ptr<RenewingCertificate>> Open(std::string cert_file,
                                                                   std::string key_file,
                                                                   absl::Duration reload_every);
  ~RenewingCertificate();

  RenewingCertificate(const RenewingCertificate&) = delete;
  RenewingCertificate& operator=(const RenewingCertificate&) = delete;

  // Makes `ctx` serve this certificate to every handshake (TLS 1.2 and
  // later, no compression). False if OpenSSL refuses.
  bool Install(SSL_CTX& ctx);

  // The SHA-256 of the certificate served now, hex (for tests and logs).
  std::string ServedFingerprint() const;

 private:
  struct Loaded;
  RenewingCertificate(std::string cert_file, std::string key_file, absl::Duration reload_every,
                      std::shared_ptr<const Loaded> loaded);
  static absl::StatusOr<std::shared_ptr<const Loaded>> Read(const std::string& cert_file,
                                                            const std::string& key_file);
  // What a handshake serves: read again first when it is time.
  std::shared_ptr<const Loaded> Current();
  static int SelectForHandshake(SSL* ssl, void* self);

  const std::string cert_file_;
  const std::string key_file_;
  const absl::Duration reload_every_;
  mutable absl::Mutex mu_;
  std::shared_ptr<const Loaded> loaded_ ABSL_GUARDED_BY(mu_);
  std::chrono::steady_clock::time_point read_at_ ABSL_GUARDED_BY(mu_);
};

}  // namespace chemledger::web

#endif  // CHEMLEDGER_WEB_RENEWING_CERTIFICATE_H_
