// The GHS hazard pictograms and the transport danger labels, as the images
// the scan pages show and the printable label draws: the PNG files of the
// LaTeX package ghsystem (LPPL 1.3; Debian's texlive-science), taken by
// tools/install-deps.sh and compiled into the binary. 720x720 pixels, a
// few kilobytes each.
//
// Pure functions over immutable data; thread-safe.

#ifndef CHEMLEDGER_RENDER_PICTOGRAMS_H_
#define CHEMLEDGER_RENDER_PICTOGRAMS_H_

#include <optional>

#include "absl/strings/string_view.h"

namespace chemledger::render {

// The PNG of GHS pictogram `code` ("GHS01" .. "GHS09"), or nullopt for any
// other code.
std::optional<absl::string_view> GhsPictogramPng(absl::string_view code);

// The PNG of the transport danger label of `hazard_class` (GB 6944 / UN
// Model Regulations class or division: "1.1" .. "1.6", "2.1", "2.2", "2.3",
// "3", "4.1", "4.2", "4.3", "5.1", "5.2", "6.1", "8"), or nullopt for a
// class ghsystem has no label of (6.2, 7, 9) or no class at all.
std::optional<absl::string_view> TransportLabelPng(absl::string_view hazard_class);

}  // namespace chemledger::render

#endif  // CHEMLEDGER_RENDER_PICTOGRAMS_H_
