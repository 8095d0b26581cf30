// The trace explorer's files (web/), compiled into the binary by
// web/embed_assets.cmake: the HTTP listener serves them at "/" and "/assets/...".
#pragma once

#include <string_view>

namespace spanvault::web {

struct Asset {
  std::string_view content_type;  // e.g. "text/javascript; charset=utf-8"
  std::string_view body;
  std::string_view etag;  // quoted, e.g. "\"sv-1a2b3c4d5e6f7a8b\"" (a hash of the body)
};

// The asset at a request path: "/" (and "/index.html") is the page, the rest
// live under "/assets/..."; a query string or fragment is ignored. nullptr when
// there is none (a path with ".." never matches).
const Asset* FindAsset(std::string_view path);

}  // namespace spanvault::web
