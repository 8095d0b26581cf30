// ipc/ — request bodies of the HTTP listener: media types and bounded
// decompression. No I/O.
#pragma once

#include <string>
#include <string_view>

#include "common/error.h"

namespace spanvault::ipc {

// The media type of a Content-Type value, lowercased and without parameters:
// "Application/JSON; charset=utf-8" → "application/json".
std::string MediaType(std::string_view content_type);

enum class BodyEncoding { kIdentity, kGzip, kDeflate, kUnsupported };
// Content-Encoding: "" or "identity", "gzip" / "x-gzip", "deflate"
// (case-insensitive); anything else (or a list of codings) is unsupported.
BodyEncoding ParseContentEncoding(std::string_view content_encoding);

// Inflates a gzip (RFC 1952; concatenated members allowed) or zlib (RFC 1950,
// what HTTP calls "deflate") body. Stops as soon as the output would exceed
// `max_bytes`, so a small body that inflates to gigabytes costs at most
// `max_bytes` of memory.
// Errors: kFull when the inflated size exceeds max_bytes; kInvalidArgument
// when the data is not valid (message says why).
Result<std::string> Inflate(std::string_view in, BodyEncoding encoding, size_t max_bytes);

}  // namespace spanvault::ipc
