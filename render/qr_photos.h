// Reading QR codes from photos that anyone may send (VerifyService.Verify's
// images, the staff app's /app/api/decode) without letting a photo hold a
// core for long. ZXing's search for finder patterns is cubic in the shapes
// that look like one: a 4.8 KB PNG tiled with them keeps ReadQrCodes busy
// for minutes, and there is no way to stop a decode in progress from
// outside. So a server reads such photos in a worker process of its own:
// its own executable started again with kQrPhotoWorkerArgument, killed when
// the call's time is up. At most kMaxQrPhotoWorkers such processes run at
// once per server process, kept for the next call; a call waits for one at
// most as long as its photos may take, and a caller has one call read at a
// time.
//
// A binary that serves such photos calls ServeQrPhotoWorkerIfAsked first in
// main(); that also marks the process as able to start workers. In a binary
// that did not (tests, chemscan reading the user's own files), photos are
// read in the calling thread, without a time limit.
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

// In the message of ReadQrPhotos' ResourceExhausted when the caller has a
// call being read (not when no worker came free).
inline constexpr char kQrPhotoCallerBusy[] = "a call of this caller's is being read";

// Worker processes reading photos at once, per server process.
inline constexpr int kMaxQrPhotoWorkers = 2;

// The time a call's photos get: this much for the call and as much again
// for each photo (a sharp 16-megapixel photo of a pallet takes a few hundred
// milliseconds).
inline constexpr absl::Duration kQrPhotoTimePerCall = absl::Seconds(1);
inline constexpr absl::Duration kQrPhotoTimePerPhoto = absl::Seconds(1);

// When argv[1] is kQrPhotoWorkerArgument, serves as a worker (reads photos
// on standard input, writes their codes on standard output) and exits the
// process; otherwise marks the process as able to start workers and
// returns. Call it first in main(), before any thread is started.
void ServeQrPhotoWorkerIfAsked(int argc, char** argv);

// For each of `photos`, the codes ReadQrCodes reads in it, or why it could
// not be read (as ReadQrCodes says). `caller` (a client address as
// ClientAddress gives it, or an actor's key; empty: not counted) has one
// call's photos read at a time, whichever entry point it comes through.
// The time a call may take is kQrPhotoTimePerCall plus kQrPhotoTimePerPhoto
// each (`time_allowed`, when given, instead; for tests): it waits for a
// worker at most that long, then has that long to be read. For the call as
// a whole: DeadlineExceeded when the photos were not read in their time,
// ResourceExhausted when the caller has a call being read or no worker
// came free, Internal when a worker could not be started or broke off. No
// photos: nothing is started.
absl::StatusOr<std::vector<absl::StatusOr<std::vector<std::string>>>> ReadQrPhotos(
    const std::vector<absl::string_view>& photos, absl::string_view caller = "",
    absl::Duration time_allowed = absl::ZeroDuration());

}  // namespace chemledger::render

#endif  // CHEMLEDGER_RENDER_QR_PHOTOS_H_
