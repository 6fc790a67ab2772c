// HTML escaping for the server-rendered pages: every text that comes from a
// request, the log or a table goes through Escape before it is written into
// a page, in element content and in double-quoted attribute values alike.
//
// Pure functions; thread-safe.

#ifndef CHEMLEDGER_WEB_HTML_H_
#define CHEMLEDGER_WEB_HTML_H_

#include <string>

#include "absl/strings/string_view.h"

namespace chemledger::web {

// `text` with & < > " ' replaced by character references, and control
// characters other than tab and newline (and bytes that are not UTF-8)
// replaced by U+FFFD, so no input can open a tag or end an attribute.
std::string Escape(absl::string_view text);

// `text` cut to at most `max_bytes` bytes at a UTF-8 character boundary,
// with "…" appended when it was cut (so at most max_bytes + 3 bytes).
std::string Clip(absl::string_view text, size_t max_bytes);

// A percent-encoded path segment or query value (RFC 3986 unreserved
// characters kept), for links built from data.
std::string UrlEncode(absl::string_view text);

}  // namespace chemledger::web

#endif  // CHEMLEDGER_WEB_HTML_H_
