// chembench labels: signed labels per second and PNG label renders per
// second, each next to its limit measured in the same run on the same cores:
//  - signing limit: bare Ed25519 signatures (libsodium) of a message the size
//    of a label's signed bytes;
//  - rendering limit: bare ZXing-cpp QR encoding of the same URLs.
// Every figure uses all cores (one thread per core unless told otherwise); each
// pair (limit, ours) is measured in alternating short rounds.
// Decoding (our reader, ZXing-cpp via stb_image) is reported too.

#include "tools/chembench/label_bench.h"

#include <atomic>
#include <utility>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include <ZXing/BarcodeFormat.h>
#include <ZXing/BitMatrix.h>
#include <ZXing/MultiFormatWriter.h>
#include <sodium.h>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "crypto/keys.h"
#include "crypto/label.h"
#include "render/qr.h"

namespace chemledger::chembench {
namespace {

crypto::LabelClaims Claims(uint64_t serial) {
  crypto::LabelClaims c;
  c.resolver = "CL.EXAMPLE.CN";
  c.enterprise = "91350100M000100Y43";
  c.product = "AN01";
  c.batch = "B2026112301";
  c.serial = serial;
  c.production_date = absl::CivilDay(2026, 11, 23);
  c.quantity_milli = 25000;
  c.unit = "KGM";
  c.un_number = "1942";
  c.cas = "6484-52-2";
  return c;
}

// Operations per second of `threads` threads running `op(thread, i)`.
template <typename Op>
double Rate(int threads, double seconds, Op op) {
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> total{0};
  std::vector<std::thread> workers;
  const absl::Time start = absl::Now();
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      uint64_t n = 0;
      while (!stop.load(std::memory_order_relaxed)) op(t, n++);
      total += n;
    });
  }
  absl::SleepFor(absl::Seconds(seconds));
  stop = true;
  for (auto& w : workers) w.join();
  return static_cast<double>(total) / absl::ToDoubleSeconds(absl::Now() - start);
}

// Runs `limit` and `ours` alternately in short rounds and returns their mean
// rates, so that load from elsewhere on the machine falls on both alike.
template <typename Limit, typename Ours>
std::pair<double, double> Interleaved(int threads, double seconds, Limit limit, Ours ours) {
  constexpr int kRounds = 5;
  double limit_sum = 0, ours_sum = 0;
  for (int r = 0; r < kRounds; ++r) {
    limit_sum += Rate(threads, seconds / kRounds, limit);
    ours_sum += Rate(threads, seconds / kRounds, ours);
  }
  return {limit_sum / kRounds, ours_sum / kRounds};
}

}  // namespace

int RunLabelBench(const LabelBenchOptions& options) {
  const int threads = options.threads > 0
                          ? options.threads
                          : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (sodium_init() < 0) return 1;
  const crypto::SigningKey key = crypto::SigningKey::Generate();
  const std::string sample_url = *crypto::MakeLabelUrl(Claims(1), key);
  const size_t signed_bytes = (*crypto::ParseLabelUrl(sample_url)).signed_message.size();
  std::cout << "# chembench labels\n\n" << threads << " threads; " << options.seconds
            << " s per figure; label URL " << sample_url.size() << " characters, QR version "
            << render::EncodeQr(sample_url)->version() << "-M\n\n";

  // Signing: the limit is bare Ed25519 over a message of the same size.
  unsigned char sk[crypto_sign_SECRETKEYBYTES], pk[crypto_sign_PUBLICKEYBYTES];
  crypto_sign_keypair(pk, sk);
  const std::string message(signed_bytes + 45, 'm');  // + the PAE header
  std::atomic<uint64_t> bad{0};
  const auto [bare_sign, labels] = Interleaved(
      threads, options.seconds,
      [&](int, uint64_t) {
        unsigned char sig[crypto_sign_BYTES];
        crypto_sign_detached(sig, nullptr, reinterpret_cast<const unsigned char*>(message.data()),
                             message.size(), sk);
      },
      [&](int t, uint64_t i) {
        bad += !crypto::MakeLabelUrl(Claims(1 + (i * 64 + t) % 999999999), key).ok();
      });

  // Rendering: the limit is bare ZXing QR encoding of the same URLs.
  std::vector<std::string> urls;
  for (int i = 0; i < 256; ++i) urls.push_back(*crypto::MakeLabelUrl(Claims(1 + i), key));
  const auto [bare_encode, renders] = Interleaved(
      threads, options.seconds,
      [&](int, uint64_t i) {
        ZXing::MultiFormatWriter writer(ZXing::BarcodeFormat::QRCode);
        writer.setMargin(0).setEccLevel(4);
        const ZXing::BitMatrix m = writer.encode(urls[i % urls.size()], 0, 0);
        if (m.width() == 0) ++bad;
      },
      [&](int, uint64_t i) {
        absl::StatusOr<render::QrSymbol> qr = render::EncodeQr(urls[i % urls.size()]);
        bad += !qr.ok() || !render::QrToPng(*qr, 4, 4).ok();
      });
  std::vector<std::string> pngs;
  for (const std::string& u : urls) pngs.push_back(*render::QrToPng(*render::EncodeQr(u), 4, 4));
  const double decodes = Rate(threads, options.seconds, [&](int, uint64_t i) {
    absl::StatusOr<std::vector<std::string>> read = render::ReadQrCodes(pngs[i % pngs.size()]);
    bad += !read.ok() || read->size() != 1 || (*read)[0] != urls[i % urls.size()];
  });

  std::cout << "| operation | per second | limit (per second) | ratio |\n|---|---:|---:|---:|\n"
            << absl::StrFormat("| signed label URLs | %.0f | %.0f (bare Ed25519, %d-byte message) | %.2f |\n",
                               labels, bare_sign, static_cast<int>(message.size()),
                               labels / bare_sign)
            << absl::StrFormat("| PNG renders (QR, 4 px/module) | %.0f | %.0f (bare ZXing QR encode) | %.2f |\n",
                               renders, bare_encode, renders / bare_encode)
            << absl::StrFormat("| PNG decodes (stb_image + ZXing) | %.0f | | |\n", decodes)
            << "\n" << (bad == 0 ? "all results checked: ok" : "FAILURES") << "\n";
  return bad == 0 ? 0 : 1;
}

}  // namespace chemledger::chembench
