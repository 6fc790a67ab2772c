#include "render/pictograms.h"

#include <optional>
#include <utility>

#include "absl/strings/string_view.h"

namespace chemledger::render {
namespace internal {
// Generated from ghsystem's pictures/ (web/BUILD): the bytes of a file by
// its base name.
std::optional<absl::string_view> FindGhsystemPicture(absl::string_view file_name);
}  // namespace internal

namespace {

std::optional<absl::string_view> Lookup(
    std::initializer_list<std::pair<absl::string_view, absl::string_view>> table,
    absl::string_view key) {
  for (const auto& [name, file] : table) {
    if (name == key) return internal::FindGhsystemPicture(file);
  }
  return std::nullopt;
}

}  // namespace

std::optional<absl::string_view> GhsPictogramPng(absl::string_view code) {
  return Lookup({{"GHS01", "ghsystem_explos.png"},
                 {"GHS02", "ghsystem_flame.png"},
                 {"GHS03", "ghsystem_flame-O.png"},
                 {"GHS04", "ghsystem_bottle.png"},
                 {"GHS05", "ghsystem_acid.png"},
                 {"GHS06", "ghsystem_skull.png"},
                 {"GHS07", "ghsystem_exclam.png"},
                 {"GHS08", "ghsystem_health.png"},
                 {"GHS09", "ghsystem_aqpol.png"}},
                code);
}

std::optional<absl::string_view> TransportLabelPng(absl::string_view hazard_class) {
  return Lookup({{"1.1", "ghsystem_explos-1.png"},
                 {"1.2", "ghsystem_explos-2.png"},
                 {"1.3", "ghsystem_explos-3.png"},
                 {"1.4", "ghsystem_explos-4.png"},
                 {"1.5", "ghsystem_explos-5.png"},
                 {"1.6", "ghsystem_explos-6.png"},
                 {"2.1", "ghsystem_flame-2-black.png"},
                 {"2.2", "ghsystem_bottle-2-black.png"},
                 {"2.3", "ghsystem_skull-2.png"},
                 {"3", "ghsystem_flame-3-black.png"},
                 {"4.1", "ghsystem_flame-4-1.png"},
                 {"4.2", "ghsystem_flame-4-2.png"},
                 {"4.3", "ghsystem_flame-4-3-black.png"},
                 {"5.1", "ghsystem_flame-O-5-1.png"},
                 {"5.2", "ghsystem_flame-5-2-black.png"},
                 {"6.1", "ghsystem_skull-6.png"},
                 {"8", "ghsystem_acid-8.png"}},
                hazard_class);
}

}  // namespace chemledger::render
