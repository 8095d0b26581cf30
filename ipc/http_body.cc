#include "ipc/http_body.h"

#include <zlib.h>

#include <algorithm>
#include <cctype>

namespace spanvault::ipc {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

std::string MediaType(std::string_view content_type) {
  size_t semi = content_type.find(';');
  return Lower(Trim(content_type.substr(0, semi)));
}

BodyEncoding ParseContentEncoding(std::string_view content_encoding) {
  std::string e = Lower(Trim(content_encoding));
  if (e.empty() || e == "identity") return BodyEncoding::kIdentity;
  if (e == "gzip" || e == "x-gzip") return BodyEncoding::kGzip;
  if (e == "deflate") return BodyEncoding::kDeflate;
  return BodyEncoding::kUnsupported;
}

Result<std::string> Inflate(std::string_view in, BodyEncoding encoding, size_t max_bytes) {
  if (encoding == BodyEncoding::kIdentity) {
    if (in.size() > max_bytes) return Fail(Error::Full("body is larger than " + std::to_string(max_bytes) + " bytes"));
    return std::string(in);
  }
  if (encoding == BodyEncoding::kUnsupported) return Fail(Error::Invalid("unsupported content encoding"));
  z_stream z{};
  // 16+: gzip only; 32+: gzip or zlib by the header (lenient for "deflate"
  // senders that actually send gzip).
  int window = encoding == BodyEncoding::kGzip ? 16 + MAX_WBITS : 32 + MAX_WBITS;
  if (inflateInit2(&z, window) != Z_OK) return Fail(Error::Invalid("cannot initialise zlib"));
  std::string out;
  // Compressed bodies usually grow 3-10x; start there and grow geometrically,
  // never past max_bytes + 1 (the extra byte tells "exactly at" from "over").
  out.resize(std::min<size_t>(max_bytes + 1, std::max<size_t>(in.size() * 4, 4096)));
  size_t produced = 0;
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  Result<std::string> result;
  for (;;) {
    if (produced == out.size()) {
      if (out.size() > max_bytes) {
        result = Fail(Error::Full("inflated body is larger than " + std::to_string(max_bytes) + " bytes"));
        break;
      }
      out.resize(std::min<size_t>(max_bytes + 1, out.size() * 2));
    }
    z.next_out = reinterpret_cast<Bytef*>(out.data() + produced);
    z.avail_out = static_cast<uInt>(std::min<size_t>(out.size() - produced, 1u << 30));
    uInt before = z.avail_out;
    int rc = inflate(&z, Z_NO_FLUSH);
    produced += before - z.avail_out;
    if (rc == Z_STREAM_END) {
      if (produced > max_bytes) {
        result = Fail(Error::Full("inflated body is larger than " + std::to_string(max_bytes) + " bytes"));
        break;
      }
      if (z.avail_in == 0) {
        out.resize(produced);
        result = std::move(out);
        break;
      }
      // Another gzip member follows (RFC 1952 allows several).
      if (inflateReset(&z) != Z_OK) {
        result = Fail(Error::Invalid("invalid compressed body: cannot reset zlib"));
        break;
      }
      continue;
    }
    if (rc == Z_BUF_ERROR && z.avail_in == 0 && z.avail_out > 0) {
      result = Fail(Error::Invalid("invalid compressed body: truncated"));
      break;
    }
    if (rc != Z_OK && rc != Z_BUF_ERROR) {
      result = Fail(Error::Invalid(std::string("invalid compressed body: ") +
                                   (z.msg != nullptr ? z.msg : "error " + std::to_string(rc))));
      break;
    }
  }
  inflateEnd(&z);
  return result;
}

}  // namespace spanvault::ipc
