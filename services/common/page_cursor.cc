#include "services/common/page_cursor.h"

#include <sodium.h>

#include <array>

#include "absl/strings/escaping.h"

namespace chemledger {
namespace {

const std::array<unsigned char, crypto_secretbox_KEYBYTES>& ProcessKey() {
  static const auto* key = [] {
    if (sodium_init() < 0) abort();
    auto* k = new std::array<unsigned char, crypto_secretbox_KEYBYTES>;
    crypto_secretbox_keygen(k->data());
    return k;
  }();
  return *key;
}

}  // namespace

std::string SealPageCursor(absl::string_view position) {
  std::string sealed(crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + position.size(), '\0');
  auto* out = reinterpret_cast<unsigned char*>(sealed.data());
  randombytes_buf(out, crypto_secretbox_NONCEBYTES);
  crypto_secretbox_easy(out + crypto_secretbox_NONCEBYTES,
                        reinterpret_cast<const unsigned char*>(position.data()), position.size(),
                        out, ProcessKey().data());
  return absl::WebSafeBase64Escape(sealed);
}

absl::StatusOr<std::string> OpenPageCursor(absl::string_view token) {
  std::string sealed;
  if (!absl::WebSafeBase64Unescape(token, &sealed) ||
      sealed.size() < crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES) {
    return absl::InvalidArgumentError(
        "page_token: not a token this server gave (start the listing again)");
  }
  const auto* in = reinterpret_cast<const unsigned char*>(sealed.data());
  std::string position(sealed.size() - crypto_secretbox_NONCEBYTES - crypto_secretbox_MACBYTES, '\0');
  if (crypto_secretbox_open_easy(reinterpret_cast<unsigned char*>(position.data()),
                                 in + crypto_secretbox_NONCEBYTES,
                                 sealed.size() - crypto_secretbox_NONCEBYTES, in,
                                 ProcessKey().data()) != 0) {
    return absl::InvalidArgumentError(
        "page_token: not a token this server process gave (it restarted, or the token was "
        "changed): start the listing again");
  }
  return position;
}

}  // namespace chemledger
