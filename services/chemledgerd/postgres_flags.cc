#include "services/chemledgerd/postgres_flags.h"

#include <cstdlib>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"

namespace chemledger::server {

const std::set<std::string>& PostgresFlagNames() {
  static const std::set<std::string> names = {"lease", "lease-wait", "synchronous-standby"};
  return names;
}

const char kPostgresFlagsUsage[] =
    "A store on PostgreSQL (DATA/store.postgres; docs/postgres.md) has one writer at a\n"
    "time, the holder of the writer's lease:\n"
    "  --lease SECONDS       how long the lease lasts unless renewed (default 10; renewed\n"
    "                        every third of it); another server takes over this long\n"
    "                        after this one stops, or at once when this one's\n"
    "                        connection is gone\n"
    "  --lease-wait SECONDS|forever  how long to wait for the lease at start while\n"
    "                        another server holds it (default 10); forever: a standby,\n"
    "                        which takes over when the writer's lease lapses\n"
    "  --synchronous-standby required|optional  required: refuse a PostgreSQL that would\n"
    "                        acknowledge a commit before a synchronous standby has it\n"
    "                        (default optional)\n"
    "A server whose lease another server took writes nothing more and exits with\n"
    "status 75, so that its supervisor starts it again (as a standby).\n";

absl::Status ReadPostgresFlags(const cli::Args& args, const std::string& program,
                               storage::PostgresStoreOptions* options) {
  absl::StatusOr<uint64_t> lease = args.Uint("lease", 10);
  if (!lease.ok()) return lease.status();
  if (*lease < 1 || *lease > 600) {
    return absl::InvalidArgumentError("--lease: must be 1 to 600 seconds");
  }
  options->lease = absl::Seconds(*lease);
  const std::string wait = args.Get("lease-wait", "10");
  if (wait == "forever") {
    options->lease_wait = absl::InfiniteDuration();
  } else {
    absl::StatusOr<uint64_t> seconds = args.Uint("lease-wait", 10);
    if (!seconds.ok() || *seconds > 86400) {
      return absl::InvalidArgumentError(
          "--lease-wait: seconds (0 to 86400), or forever for a standby");
    }
    options->lease_wait = absl::Seconds(*seconds);
  }
  const std::string standby = args.Get("synchronous-standby", "optional");
  if (standby != "required" && standby != "optional") {
    return absl::InvalidArgumentError("--synchronous-standby: required or optional");
  }
  options->require_synchronous_standby = standby == "required";
  options->on_lease_lost = [program] {
    std::cerr << program
              << ": another server took the writer's lease of the store on PostgreSQL; this one "
                 "has written nothing since and exits (status 75) so that its supervisor starts "
                 "it again as a standby"
              << std::endl;
    std::_Exit(75);
  };
  options->on_read_only = [program](const absl::Status& why) {
    std::cerr << program << ": a commit to the store on PostgreSQL failed (" << why.message()
              << "); every write it acknowledged is in the store, and the failed one was not "
                 "acknowledged (it may or may not be there: the next writer reads the store as it "
                 "is). It lets go of the writer's lease (where it cannot, the lease lapses) and "
                 "exits (status 75) so that its supervisor starts it again, or a standby takes "
                 "over"
              << std::endl;
    std::_Exit(75);
  };
  return absl::OkStatus();
}

}  // namespace chemledger::server
