// Photos read in worker processes: the test binary is its own worker (its
// main calls ServeQrPhotoWorkerIfAsked first, as the servers' do).

#include "render/qr_photos.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "render/qr.h"
#include "render/qr_testing.h"
#include "turbojpeg.h"

namespace chemledger::render {
namespace {

std::string QrPng(const std::string& text) { return *QrToPng(*EncodeQr(text)); }

TEST(QrPhotosTest, AWorkerReadsWhatReadQrCodesReads) {
  const std::string first = QrPng("HTTPS://EXAMPLE.COM/ONE");
  const std::string second = QrPng("HTTPS://EXAMPLE.COM/TWO");
  const std::string not_a_photo = "not a photo";
  absl::StatusOr<std::vector<absl::StatusOr<std::vector<std::string>>>> read =
      ReadQrPhotos({first, not_a_photo, second});
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_EQ(read->size(), 3u);
  ASSERT_TRUE((*read)[0].ok()) << (*read)[0].status();
  EXPECT_EQ(*(*read)[0], std::vector<std::string>{"HTTPS://EXAMPLE.COM/ONE"});
  EXPECT_EQ((*read)[1].status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ((*read)[1].status().message(), ReadQrCodes(not_a_photo).status().message());
  ASSERT_TRUE((*read)[2].ok()) << (*read)[2].status();
  EXPECT_EQ(*(*read)[2], std::vector<std::string>{"HTTPS://EXAMPLE.COM/TWO"});
  // No photo at all: nothing to read.
  read = ReadQrPhotos({});
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_TRUE(read->empty());
}

TEST(QrPhotosTest, APhotoMadeToBeSlowIsCutOffAtItsTime) {
  const std::string slow = testing::PhotoSlowToRead(1024);
  ASSERT_LT(slow.size(), 100000u);
  const absl::Time start = absl::Now();
  absl::StatusOr<std::vector<absl::StatusOr<std::vector<std::string>>>> read =
      ReadQrPhotos({QrPng("HTTPS://EXAMPLE.COM/ONE"), slow}, {}, absl::Seconds(1));
  const absl::Duration took = absl::Now() - start;
  EXPECT_EQ(read.status().code(), absl::StatusCode::kDeadlineExceeded) << read.status();
  EXPECT_NE(read.status().message().find("not read within 1s"), std::string::npos)
      << read.status();
  // Cut off at its time (and the worker reaped), not when ZXing is done.
  EXPECT_LT(took, absl::Seconds(10)) << took;
  // Another call is served as before.
  read = ReadQrPhotos({QrPng("HTTPS://EXAMPLE.COM/TWO")});
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_TRUE((*read)[0].ok());
  EXPECT_EQ(*(*read)[0], std::vector<std::string>{"HTTPS://EXAMPLE.COM/TWO"});
}

// Anyone's calls hold at most kMaxQrPhotoWorkers - kQrPhotoWorkersForActors
// workers, and one more is turned away at once (it does not wait, holding a
// thread), while a registered actor's call is read by a worker anyone's
// left. Beyond kMaxQrPhotoWorkers a registered actor's call waits for a
// worker, as long as its own photos may take, and is read when one is free.
TEST(QrPhotosTest, AtMostSoManyWorkersAtOnceAndOnlyActorsWaitForOne) {
  const std::string slow = testing::PhotoSlowToRead(1024);
  std::vector<std::thread> busy;
  for (int i = 0; i < kMaxQrPhotoWorkers - kQrPhotoWorkersForActors; ++i) {
    busy.emplace_back([&] { ReadQrPhotos({slow}, {}, absl::Seconds(3)).status().IgnoreError(); });
  }
  absl::SleepFor(absl::Milliseconds(500));
  const QrPhotoCaller actor{"key:actor", "", /*registered=*/true};
  absl::StatusOr<std::vector<absl::StatusOr<std::vector<std::string>>>> actors =
      ReadQrPhotos({QrPng("HTTPS://EXAMPLE.COM/ACTOR")}, actor, absl::Seconds(1));
  ASSERT_TRUE(actors.ok()) << actors.status();
  ASSERT_TRUE((*actors)[0].ok()) << (*actors)[0].status();
  EXPECT_EQ(*(*actors)[0], std::vector<std::string>{"HTTPS://EXAMPLE.COM/ACTOR"});
  absl::Time asked = absl::Now();
  absl::StatusOr<std::vector<absl::StatusOr<std::vector<std::string>>>> refused =
      ReadQrPhotos({QrPng("HTTPS://EXAMPLE.COM/ONE")}, {}, absl::Seconds(10));
  const absl::Duration anyone_waited = absl::Now() - asked;
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted) << refused.status();
  EXPECT_NE(refused.status().message().find("sign the call as a registered actor"),
            std::string::npos)
      << refused.status();
  EXPECT_LT(anyone_waited, absl::Milliseconds(500));
  // Every worker busy: a registered actor's call waits its time for one.
  for (int i = 0; i < kQrPhotoWorkersForActors; ++i) {
    busy.emplace_back([&, i] {
      ReadQrPhotos({slow}, {absl::StrCat("key:busy", i), "", /*registered=*/true}, absl::Seconds(3))
          .status()
          .IgnoreError();
    });
  }
  absl::SleepFor(absl::Seconds(1));  // the last worker taken (the idle one kept)
  asked = absl::Now();
  absl::StatusOr<std::vector<absl::StatusOr<std::vector<std::string>>>> waited_for_one =
      ReadQrPhotos({QrPng("HTTPS://EXAMPLE.COM/TWO")}, actor, absl::Seconds(10));
  const absl::Duration actor_waited = absl::Now() - asked;
  for (std::thread& t : busy) t.join();
  ASSERT_TRUE(waited_for_one.ok()) << waited_for_one.status();
  ASSERT_TRUE((*waited_for_one)[0].ok()) << (*waited_for_one)[0].status();
  EXPECT_EQ(*(*waited_for_one)[0], std::vector<std::string>{"HTTPS://EXAMPLE.COM/TWO"});
  EXPECT_GE(actor_waited, absl::Milliseconds(900));  // anyone's calls end at 3 s, asked at ~1.6
}

// A caller (an address, an actor's key) has one call's photos read at a
// time: a second is turned away at once, another caller is served, and the
// caller is served again once its call is done.
TEST(QrPhotosTest, ACallerHasOneCallReadAtATime) {
  const std::string slow = testing::PhotoSlowToRead(1024);
  const std::string photo = QrPng("HTTPS://EXAMPLE.COM/ONE");
  std::thread reading([&] {
    ReadQrPhotos({slow}, {"ipv4:198.51.100.1"}, absl::Seconds(2)).status().IgnoreError();
  });
  absl::SleepFor(absl::Milliseconds(300));
  absl::StatusOr<std::vector<absl::StatusOr<std::vector<std::string>>>> same =
      ReadQrPhotos({photo}, {"ipv4:198.51.100.1"});
  absl::StatusOr<std::vector<absl::StatusOr<std::vector<std::string>>>> other =
      ReadQrPhotos({photo}, {"ipv4:198.51.100.2"});
  reading.join();
  EXPECT_EQ(same.status().code(), absl::StatusCode::kResourceExhausted) << same.status();
  EXPECT_NE(same.status().message().find("a call of this caller's is being read"),
            std::string::npos)
      << same.status();
  EXPECT_TRUE(other.ok()) << other.status();
  EXPECT_TRUE(ReadQrPhotos({photo}, {"ipv4:198.51.100.1"}).ok());
}

// Anyone's calls are one at a time per network as well: another address of
// the network being read is turned away, another network is served; a
// registered actor is counted by its key alone.
TEST(QrPhotosTest, AnyonesCallsAreOneAtATimePerNetwork) {
  const std::string slow = testing::PhotoSlowToRead(1024);
  const std::string photo = QrPng("HTTPS://EXAMPLE.COM/ONE");
  const std::string network = "ipv4:198.51.100.0/24";
  std::thread reading([&] {
    ReadQrPhotos({slow}, {"ipv4:198.51.100.1", network}, absl::Seconds(2)).status().IgnoreError();
  });
  absl::SleepFor(absl::Milliseconds(300));
  absl::StatusOr<std::vector<absl::StatusOr<std::vector<std::string>>>> neighbour =
      ReadQrPhotos({photo}, {"ipv4:198.51.100.2", network});
  absl::StatusOr<std::vector<absl::StatusOr<std::vector<std::string>>>> elsewhere =
      ReadQrPhotos({photo}, {"ipv4:203.0.113.9", "ipv4:203.0.113.0/24"});
  absl::StatusOr<std::vector<absl::StatusOr<std::vector<std::string>>>> actor =
      ReadQrPhotos({photo}, {"key:actor", network, /*registered=*/true});
  reading.join();
  EXPECT_EQ(neighbour.status().code(), absl::StatusCode::kResourceExhausted) << neighbour.status();
  EXPECT_NE(neighbour.status().message().find(kQrPhotoCallerBusy), std::string::npos)
      << neighbour.status();
  EXPECT_TRUE(elsewhere.ok()) << elsewhere.status();
  EXPECT_TRUE(actor.ok()) << actor.status();
  EXPECT_TRUE(ReadQrPhotos({photo}, {"ipv4:198.51.100.2", network}).ok());
}

// This process's children (its photo workers), from /proc.
std::vector<pid_t> Children() {
  std::vector<pid_t> children;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    pid_t pid = 0;
    if (!absl::SimpleAtoi(entry.path().filename().string(), &pid)) continue;
    std::ifstream stat(entry.path() / "stat");
    std::string line;
    std::getline(stat, line);
    const size_t end_of_name = line.rfind(')');
    if (end_of_name == std::string::npos) continue;
    std::istringstream rest(line.substr(end_of_name + 2));
    std::string state;
    pid_t parent = 0;
    rest >> state >> parent;
    if (parent == getpid()) children.push_back(pid);
  }
  return children;
}

// A worker is kept for the next call (no process started per call); one
// that went meanwhile (killed from outside) is replaced, and the call is
// read as if nothing happened.
TEST(QrPhotosTest, WorkersAreKeptAndOneThatWentIsReplaced) {
  const std::string photo = QrPng("HTTPS://EXAMPLE.COM/ONE");
  ASSERT_TRUE(ReadQrPhotos({photo}).ok());
  const std::vector<pid_t> kept = Children();
  ASSERT_FALSE(kept.empty());
  ASSERT_LE(kept.size(), static_cast<size_t>(kMaxQrPhotoWorkers));
  ASSERT_TRUE(ReadQrPhotos({photo}).ok());
  EXPECT_EQ(Children(), kept) << "a worker was started for the second call";
  for (pid_t pid : kept) kill(pid, SIGKILL);
  absl::SleepFor(absl::Milliseconds(100));
  absl::StatusOr<std::vector<absl::StatusOr<std::vector<std::string>>>> read =
      ReadQrPhotos({photo});
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_TRUE((*read)[0].ok()) << (*read)[0].status();
  EXPECT_EQ(*(*read)[0], std::vector<std::string>{"HTTPS://EXAMPLE.COM/ONE"});
}

// A worker holds its socket (as standard input and output) and standard
// error, nothing else of the server's: not a descriptor the server opened
// without close-on-exec (a client's connection it will close).
TEST(QrPhotosTest, AWorkerHoldsNoneOfTheServersDescriptors) {
  int leaky[2];
  ASSERT_EQ(pipe(leaky), 0);  // no O_CLOEXEC
  for (pid_t pid : Children()) kill(pid, SIGKILL);
  const std::string photo = QrPng("HTTPS://EXAMPLE.COM/ONE");
  for (int i = 0; i < kMaxQrPhotoWorkers + 1; ++i) ASSERT_TRUE(ReadQrPhotos({photo}).ok());
  const std::vector<pid_t> workers = Children();
  ASSERT_FALSE(workers.empty());
  for (pid_t pid : workers) {
    std::vector<std::string> fds;
    for (const auto& fd : std::filesystem::directory_iterator(absl::StrCat("/proc/", pid, "/fd"))) {
      fds.push_back(fd.path().filename().string());
    }
    std::sort(fds.begin(), fds.end());
    EXPECT_EQ(fds, (std::vector<std::string>{"0", "1", "2"})) << "worker " << pid;
  }
  close(leaky[0]);
  close(leaky[1]);
}

// What a file of /proc/<pid>/ holds.
std::string ProcFile(pid_t pid, const char* name) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/", name), std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// A QR code drawn into a JPEG (libjpeg-turbo), 4 pixels a module.
std::string QrJpeg(const std::string& text) {
  const QrSymbol qr = *EncodeQr(text);
  const int scale = 4, quiet = 4, side = (qr.size + 2 * quiet) * scale;
  std::vector<unsigned char> gray(static_cast<size_t>(side) * side, 255);
  for (int y = 0; y < qr.size; ++y) {
    for (int x = 0; x < qr.size; ++x) {
      if (!qr.dark(x, y)) continue;
      for (int dy = 0; dy < scale; ++dy) {
        for (int dx = 0; dx < scale; ++dx) {
          gray[static_cast<size_t>((y + quiet) * scale + dy) * side + (x + quiet) * scale + dx] = 0;
        }
      }
    }
  }
  tjhandle compressor = tjInitCompress();
  unsigned char* jpeg = nullptr;
  unsigned long size = 0;
  const int failed = tjCompress2(compressor, gray.data(), side, 0, side, TJPF_GRAY, &jpeg, &size,
                                 TJSAMP_GRAY, 90, 0);
  std::string out = failed == 0 ? std::string(reinterpret_cast<char*>(jpeg), size) : "";
  tjFree(jpeg);
  tjDestroy(compressor);
  return out;
}

// A worker reads photos under a seccomp filter, with no new privileges to
// gain and no environment: a PNG and a JPEG are read through it (the other
// tests read PNGs; the servers' allocator, tcmalloc, is linked as theirs).
TEST(QrPhotosTest, AWorkerIsConfined) {
  if (!QrPhotoWorkersConfined()) GTEST_SKIP() << "workers are not confined in this build";
  const std::string jpeg = QrJpeg("HTTPS://EXAMPLE.COM/JPEG");
  ASSERT_FALSE(jpeg.empty());
  absl::StatusOr<std::vector<absl::StatusOr<std::vector<std::string>>>> read =
      ReadQrPhotos({QrPng("HTTPS://EXAMPLE.COM/ONE"), jpeg});
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_TRUE((*read)[0].ok()) << (*read)[0].status();
  ASSERT_TRUE((*read)[1].ok()) << (*read)[1].status();
  EXPECT_EQ(*(*read)[1], std::vector<std::string>{"HTTPS://EXAMPLE.COM/JPEG"});
  const std::vector<pid_t> workers = Children();
  ASSERT_FALSE(workers.empty());
  for (pid_t pid : workers) {
    const std::string status = ProcFile(pid, "status");
    EXPECT_NE(status.find("\nSeccomp:\t2\n"), std::string::npos) << status;
    EXPECT_NE(status.find("\nNoNewPrivs:\t1\n"), std::string::npos) << status;
    EXPECT_EQ(ProcFile(pid, "environ"), "") << "worker " << pid;
  }
}

}  // namespace
}  // namespace chemledger::render

int main(int argc, char** argv) {
  chemledger::render::ServeQrPhotoWorkerIfAsked(argc, argv);
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
