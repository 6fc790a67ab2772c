#include "web/renewing_certificate.h"

#include <errno.h>  // program_invocation_short_name
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <chrono>
#include <iostream>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace chemledger::web {

struct RenewingCertificate::Loaded {
  X509* leaf = nullptr;
  STACK_OF(X509) * chain = nullptr;  // the certificates after the leaf
  EVP_PKEY* key = nullptr;
  std::string fingerprint;

  Loaded() = default;
  Loaded(const Loaded&) = delete;
  Loaded& operator=(const Loaded&) = delete;
  ~Loaded() {
    X509_free(leaf);
    sk_X509_pop_free(chain, X509_free);
    EVP_PKEY_free(key);
  }
};

namespace {

// OpenSSL's security level 2 (112-bit security: RSA and DH keys of 2048
// bits or more, no SHA-1 signatures), set here rather than left to how the
// library was built (Debian builds in 2; upstream's default is 1).
constexpr int kSecurityLevel = 2;

// OpenSSL's latest error, for a message; clears the queue.
std::string OpenSslError() {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "no detail";
  char text[256];
  ERR_error_string_n(code, text, sizeof(text));
  return text;
}

std::string Fingerprint(X509* cert) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (X509_digest(cert, EVP_sha256(), digest, &length) != 1) return "";
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(digest), length));
}

}  // namespace

absl::StatusOr<std::shared_ptr<const RenewingCertificate::Loaded>> RenewingCertificate::Read(
    const std::string& cert_file, const std::string& key_file) {
  auto loaded = std::make_shared<Loaded>();
  {
    BIO* in = BIO_new_file(cert_file.c_str(), "r");
    if (in == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat(cert_file, ": cannot be read (", OpenSslError(), ")"));
    }
    loaded->leaf = PEM_read_bio_X509(in, nullptr, nullptr, nullptr);
    bool damaged = false;
    if (loaded->leaf != nullptr) {
      loaded->chain = sk_X509_new_null();
      ERR_clear_error();
      for (;;) {
        X509* next = PEM_read_bio_X509(in, nullptr, nullptr, nullptr);
        if (next == nullptr) {
          // The end of the file reads as "no start line"; anything else is
          // a certificate of the chain cut short or damaged.
          const unsigned long error = ERR_peek_last_error();
          damaged = error != 0 && !(ERR_GET_LIB(error) == ERR_LIB_PEM &&
                                    ERR_GET_REASON(error) == PEM_R_NO_START_LINE);
          break;
        }
        if (loaded->chain == nullptr || sk_X509_push(loaded->chain, next) == 0) {
          X509_free(next);
          damaged = true;
          break;
        }
      }
    }
    BIO_free(in);
    ERR_clear_error();
    if (loaded->leaf == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(cert_file, ": no PEM certificate in it"));
    }
    if (damaged) {
      return absl::InvalidArgumentError(absl::StrCat(
          cert_file, ": a certificate of the chain after the first is damaged or cut short"));
    }
  }
  {
    BIO* in = BIO_new_file(key_file.c_str(), "r");
    if (in == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat(key_file, ": cannot be read (", OpenSslError(), ")"));
    }
    // Never asks for a password (an encrypted key is refused).
    pem_password_cb* no_password = [](char*, int, int, void*) { return 0; };
    loaded->key = PEM_read_bio_PrivateKey(in, nullptr, no_password, nullptr);
    BIO_free(in);
    if (loaded->key == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat(key_file, ": no PEM private key in it (", OpenSslError(), ")"));
    }
  }
  if (X509_check_private_key(loaded->leaf, loaded->key) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(absl::StrCat(
        key_file, ": not the private key of the certificate in ", cert_file,
        " (replaced one without the other? keep both in one file, replaced by one rename)"));
  }
  // What a handshake will do with them: OpenSSL's security level (a short
  // RSA key, a weak signature) and the key types it serves are checked only
  // there, so a handshake is tried on a probe first.
  SSL_CTX* probe_context = SSL_CTX_new(TLS_server_method());
  if (probe_context != nullptr) SSL_CTX_set_security_level(probe_context, kSecurityLevel);
  SSL* probe = probe_context == nullptr ? nullptr : SSL_new(probe_context);
  const bool usable = probe != nullptr &&
                      SSL_use_cert_and_key(probe, loaded->leaf, loaded->key, loaded->chain, 1) == 1;
  const std::string why = usable ? "" : OpenSslError();
  SSL_free(probe);
  SSL_CTX_free(probe_context);
  if (!usable) {
    return absl::InvalidArgumentError(
        absl::StrCat(cert_file, ": TLS cannot serve this certificate and key (", why,
                     "; at OpenSSL's default security level, RSA keys need 2048 bits or more)"));
  }
  loaded->fingerprint = Fingerprint(loaded->leaf);
  return std::shared_ptr<const Loaded>(std::move(loaded));
}

absl::StatusOr<std::unique_ptr<RenewingCertificate>> RenewingCertificate::Open(
    std::string cert_file, std::string key_file, absl::Duration reload_every) {
  absl::StatusOr<std::shared_ptr<const Loaded>> loaded = Read(cert_file, key_file);
  if (!loaded.ok()) return loaded.status();
  return std::unique_ptr<RenewingCertificate>(new RenewingCertificate(
      std::move(cert_file), std::move(key_file), reload_every, *std::move(loaded)));
}

RenewingCertificate::RenewingCertificate(std::string cert_file, std::string key_file,
                                         absl::Duration reload_every,
                                         std::shared_ptr<const Loaded> loaded)
    : cert_file_(std::move(cert_file)),
      key_file_(std::move(key_file)),
      reload_every_(reload_every),
      loaded_(std::move(loaded)),
      read_at_(std::chrono::steady_clock::now()) {}

RenewingCertificate::~RenewingCertificate() = default;

std::shared_ptr<const RenewingCertificate::Loaded> RenewingCertificate::Current() {
  {
    absl::MutexLock lock(&mu_);
    const auto now = std::chrono::steady_clock::now();
    if (now - read_at_ < absl::ToChronoNanoseconds(reload_every_)) return loaded_;
    // This handshake reads, outside the lock; the others (and this one's
    // neighbours until the read is done) serve what is there.
    read_at_ = now;
  }
  absl::StatusOr<std::shared_ptr<const Loaded>> fresh = Read(cert_file_, key_file_);
  absl::MutexLock lock(&mu_);
  if (fresh.ok()) {
    if ((*fresh)->fingerprint != loaded_->fingerprint) {
      std::cerr << program_invocation_short_name << ": the HTTP port now serves the certificate in "
                << cert_file_ << " (SHA-256 " << (*fresh)->fingerprint << ")\n";
    }
    loaded_ = *std::move(fresh);
  } else {
    // At most once per reload_every: the reads are.
    std::cerr << program_invocation_short_name
              << ": the HTTP port keeps its certificate: " << fresh.status().message() << "\n";
  }
  return loaded_;
}

int RenewingCertificate::SelectForHandshake(SSL* ssl, void* self) {
  std::shared_ptr<const Loaded> loaded = static_cast<RenewingCertificate*>(self)->Current();
  // The SSL object takes references of its own: `loaded` may go after this.
  // Checked on a probe when read, so this fails only without memory.
  if (SSL_use_cert_and_key(ssl, loaded->leaf, loaded->key, loaded->chain, 1) != 1) {
    ERR_clear_error();
    return 0;
  }
  return 1;
}

bool RenewingCertificate::Install(SSL_CTX& ctx) {
  SSL_CTX_set_options(&ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_SESSION_RESUMPTION_ON_RENEGOTIATION);
  if (SSL_CTX_set_min_proto_version(&ctx, TLS1_2_VERSION) != 1) return false;
  SSL_CTX_set_security_level(&ctx, kSecurityLevel);
  SSL_CTX_set_cert_cb(&ctx, &RenewingCertificate::SelectForHandshake, this);
  return true;
}

std::string RenewingCertificate::ServedFingerprint() const {
  absl::MutexLock lock(&mu_);
  return loaded_->fingerprint;
}

}  // namespace chemledger::web
