// The public scan pages that a phone opens from a label's or a waybill
// code's QR (and the public blacklist), rendered on the server from what
// the resolution cores answer (label::ResolveLabel, waybill::
// ResolveWaybillCode, registry::ListBlacklist). The verdict is in the HTML
// itself: no script runs, nothing is loaded from elsewhere (the pictograms
// come from this server's /static/), so WeChat's in-app browser and a phone
// on a poor connection show it at once.
//
// Chinese first; English on request. Every text from the log, a request or
// a table is escaped (web/html.h). A statement text a reference table lacks
// is shown as not available, never made up.
//
// Page weight (docs/scan-page.md): the HTML of a label page is at most
// kMaxPageBytes; with its pictograms (at most 9, 5-38 KB each, cached for a
// year) a typical page is under 100 KB.
//
// Pure functions; thread-safe.

#ifndef CHEMLEDGER_WEB_SCAN_PAGES_H_
#define CHEMLEDGER_WEB_SCAN_PAGES_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "chemledger/v1/label_service.pb.h"
#include "chemledger/v1/registry_service.pb.h"
#include "chemledger/v1/waybill_service.pb.h"
#include "reference/reference_tables.h"

namespace chemledger::web {

using reference::Language;

// The most bytes of HTML a scan page may have (the tests hold every page
// they render to it).
inline constexpr size_t kMaxPageBytes = 48 * 1024;

// What a page needs of its request.
struct PageRequest {
  Language language = Language::kChinese;
  // The request's path, without the query: the language switch links to it.
  std::string path;
};

// The page of a scanned label: the verdict in one word and colour (真, 可疑,
// 伪), the warnings, and for a label the log accounts for the safety
// information (一书一签): names, CAS, UN number, class, packing group, GHS
// pictograms, signal word, hazard and precautionary statements with their
// texts, first aid, fire fighting, spill response, emergency phone,
// supplier, SDS.
std::string LabelPage(const v1::ResolveLabelResponse& scan,
                      const reference::ReferenceTables& tables, const PageRequest& request);

// The page of a scanned waybill code: its verdict (a cancelled or closed
// waybill in red), carrier, vehicle, masked crew, route and times, goods
// lines with their transport danger labels and emergency information,
// permits.
// `tables` gives the general emergency information per UN number (the page
// says when it has none).
std::string WaybillPage(const v1::ResolveWaybillCodeResponse& scan,
                        const reference::ReferenceTables& tables, const PageRequest& request);

// The public blacklist (黑名单): one row per listed enterprise with the
// reason (its first 300 bytes, as the name), the date and who listed it.
// `next_page` is the path of the next page, empty on the last.
std::string BlacklistPage(const std::vector<v1::BlacklistEntry>& entries,
                          absl::string_view next_page, const PageRequest& request);

// A page with a title and a message (not found, too many requests, ...).
std::string MessagePage(absl::string_view title, absl::string_view message,
                        const PageRequest& request);

}  // namespace chemledger::web

#endif  // CHEMLEDGER_WEB_SCAN_PAGES_H_
