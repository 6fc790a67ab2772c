// Reading QR codes from photos that anyone may send (VerifyService.Verify's
// images, the staff app's /app/api/decode) without letting a photo hold a
// core for long. ZXing's search for finder patterns is cubic in the shapes
// that look like one: a 4.8 KB PNG tiled with them keeps ReadQrCodes busy
// for minutes, and there is no way to stop a decode in progress from
// outside. So a server reads such photos in a worker process of its own:
// its own executable started again with kQrPhotoWorkerArgument, killed when
// the call's time is up. At most kMaxQrPhotoWorkers such processes run at
// once per server process, kept for the next call; a registered actor's call
// waits for one at most as long as its photos may take, anyone's call not
// at all (waiting, it would hold a thread of the service it came through).
// A caller has one call read at a time, anyone's calls one per network as
// well, and anyone's calls together leave kQrPhotoWorkersForActors to
// registered actors' calls: the addresses of two networks cannot keep every
// worker busy for everyone.
//
// A worker is confined before it reads anything (QrPhotoWorkersConfined):
// a seccomp filter lets through only the system calls reading a photo needs
// (no file, socket or process can be opened, no other process signalled),
// with no new privileges, no environment, and at most 2 GiB of address
// space; so a photo made to exploit a flaw in a decoder cannot read the
// server's keys. A worker that cannot confine itself (a kernel without
// seccomp filters, a sandbox that forbids installing one) says so on
// standard error and ends: photos are then not read at all.
//
// A binary that serves such photos calls ServeQrPhotoWorkerIfAsked first in
// main(); that also marks the process as able to start workers. A binary
// that reads photos in the calling thread on purpose, without a time limit
// or confinement (a test, a fuzzer), says so: ReadQrPhotosInCallingThread.
// In one that did neither, ReadQrPhotos reads nothing (Internal): a server
// that forgot to start workers fails closed, never reading anyone's photos
// on its own threads.
//
// Thread-safety: ReadQrPhotos may be called from any thread.

#ifndef CHEMLEDGER_RENDER_QR_PHOTOS_H_
#define CHEMLEDGER_RENDER_QR_PHOTOS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace chemledger::render {

// The argument that makes a server's executable a photo worker.
inline constexpr char kQrPhotoWorkerArgument[] = "--chemledger-qr-photo-worker";

// In the message of ReadQrPhotos' ResourceExhausted when the caller, or
// its network, has a call being read (not when no worker came free).
inline constexpr char kQrPhotoCallerBusy[] = "a call of this caller's is being read";

// Worker processes reading photos at once, per server process, and how
// many of them anyone's calls leave to registered actors' calls.
inline constexpr int kMaxQrPhotoWorkers = 3;
inline constexpr int kQrPhotoWorkersForActors = 1;

// Who a call's photos are read for.
struct QrPhotoCaller {
  // One call's photos are read at a time per name: a client address as
  // ClientAddress gives it, or "key " and an actor's key id. Empty: not
  // counted.
  std::string name;
  // For anyone's calls, one at a time per network as well (ClientNetwork:
  // an IPv4 /24, an IPv6 /48). Empty: not counted.
  std::string network;
  // A registered actor's call: it may take the workers anyone's calls
  // leave.
  bool registered = false;
};

// The time a call's photos get: this much for the call and as much again
// for each photo (a sharp 16-megapixel photo of a pallet takes a few hundred
// milliseconds).
inline constexpr absl::Duration kQrPhotoTimePerCall = absl::Seconds(1);
inline constexpr absl::Duration kQrPhotoTimePerPhoto = absl::Seconds(1);

// Whether workers are confined: on x86-64 and arm64, except in sanitizer
// builds (whose runtimes open files and map memory as they need).
bool QrPhotoWorkersConfined();

// When argv[1] is kQrPhotoWorkerArgument, serves as a worker (reads photos
// on standard input, writes their codes on standard output) and exits the
// process; otherwise marks the process as able to start workers and
// returns. Call it first in main(), before any thread is started.
void ServeQrPhotoWorkerIfAsked(int argc, char** argv);

// Marks the process as reading photos in the thread that asks, without a
// time limit or confinement: for tests and fuzzers, never for a server.
void ReadQrPhotosInCallingThread();

// For each of `photos`, the codes ReadQrCodes reads in it, or why it could
// not be read (as ReadQrCodes says), for `caller` (one call read at a time
// whichever entry point it comes through: QrPhotoCaller).
// The time a call may take is kQrPhotoTimePerCall plus kQrPhotoTimePerPhoto
// each (`time_allowed`, when given, instead; for tests): a registered
// actor's call waits for a worker at most that long, anyone's call not at
// all, then has that long to be read. For the call as a whole:
// DeadlineExceeded when the photos were not read in their time,
// ResourceExhausted when the caller (or, for anyone's calls, its network)
// has a call being read, or no worker it may take is free (anyone's) or came
// free in its time (a registered actor's), Internal when a worker could not
// be started or broke off, or the process reads no photos (above). No
// photos: nothing is started.
absl::StatusOr<std::vector<absl::StatusOr<std::vector<std::string>>>> ReadQrPhotos(
    const std::vector<absl::string_view>& photos, const QrPhotoCaller& caller = {},
    absl::Duration time_allowed = absl::ZeroDuration());

}  // namespace chemledger::render

#endif  // CHEMLEDGER_RENDER_QR_PHOTOS_H_
