// protobuf/ — the protobuf wire format (https://protobuf.dev/programming-guides/encoding/),
// just what OTLP needs: varints, fixed64/fixed32, length-delimited fields.
// Hand-written instead of libprotobuf: OTLP uses a handful of messages, the
// reader never allocates (it yields views into the input) and never throws,
// and the writer appends straight into the request body. Shared by both
// directions: decode/otlp/ reads requests with it, upstream/format/ writes
// them (and reads the answers). The namespace is still spanvault::otlp.
//
//   WireReader r(bytes);
//   WireField f;
//   while (r.Next(f)) { switch (f.number) { case 1: ... f.bytes / f.varint ... } }
//   if (!r.ok()) → malformed (r.error() says where)
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace spanvault::otlp {

enum class WireType : uint8_t { kVarint = 0, kFixed64 = 1, kLen = 2, kStartGroup = 3, kEndGroup = 4, kFixed32 = 5 };

struct WireField {
  uint32_t number = 0;
  WireType type = WireType::kVarint;
  uint64_t varint = 0;     // kVarint, kFixed64, kFixed32 (raw bits)
  std::string_view bytes;  // kLen
  double AsDouble() const {
    double d;
    std::memcpy(&d, &varint, sizeof d);
    return d;
  }
  int64_t AsInt64() const { return static_cast<int64_t>(varint); }
};

// Reads the fields of one message. Unknown fields are returned like any other
// (skip them); groups are refused as malformed (OTLP has none).
class WireReader {
 public:
  explicit WireReader(std::string_view data) : p_(data.data()), end_(data.data() + data.size()) {}

  // False at the end of the message or on malformed input (then ok() is false).
  bool Next(WireField& f) {
    if (p_ == end_ || !ok_) return false;
    uint64_t key;
    if (!Varint(key)) return Fail("truncated field key");
    f.number = static_cast<uint32_t>(key >> 3);
    if (f.number == 0 || (key >> 3) > 0x1fffffff) return Fail("bad field number");
    f.type = static_cast<WireType>(key & 7);
    switch (f.type) {
      case WireType::kVarint:
        if (!Varint(f.varint)) return Fail("truncated varint");
        return true;
      case WireType::kFixed64:
        if (end_ - p_ < 8) return Fail("truncated fixed64");
        std::memcpy(&f.varint, p_, 8);  // little-endian hosts only (x86-64, arm64)
        p_ += 8;
        return true;
      case WireType::kFixed32: {
        if (end_ - p_ < 4) return Fail("truncated fixed32");
        uint32_t v;
        std::memcpy(&v, p_, 4);
        f.varint = v;
        p_ += 4;
        return true;
      }
      case WireType::kLen: {
        uint64_t n;
        if (!Varint(n)) return Fail("truncated length");
        if (n > static_cast<uint64_t>(end_ - p_)) return Fail("length beyond the end of the message");
        f.bytes = std::string_view(p_, static_cast<size_t>(n));
        p_ += n;
        return true;
      }
      default:
        return Fail("unsupported wire type");
    }
  }

  bool ok() const { return ok_; }
  const char* error() const { return error_; }

 private:
  bool Varint(uint64_t& v) {
    v = 0;
    for (int shift = 0; shift < 64 && p_ < end_; shift += 7) {
      uint8_t b = static_cast<uint8_t>(*p_++);
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) return true;
    }
    return false;
  }
  bool Fail(const char* why) {
    ok_ = false;
    error_ = why;
    return false;
  }

  const char* p_;
  const char* end_;
  bool ok_ = true;
  const char* error_ = "";
};

// Appends fields to a string. Nested messages: write them into their own
// WireWriter (or reserve with BeginLen/EndLen) and add them with Bytes().
// Appends `v` as a protobuf varint: one append per value (a push_back per
// byte showed up at ~5% of OTLP export time).
inline void AppendVarint(uint64_t v, std::string& out) {
  if (v < 0x80) {
    out.push_back(static_cast<char>(v));
    return;
  }
  char buf[10];
  size_t n = 0;
  while (v >= 0x80) {
    buf[n++] = static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  buf[n++] = static_cast<char>(v);
  out.append(buf, n);
}

class WireWriter {
 public:
  explicit WireWriter(std::string& out) : out_(out) {}

  void Varint(uint32_t field, uint64_t v) {
    Key(field, WireType::kVarint);
    PutVarint(v);
  }
  void Fixed64(uint32_t field, uint64_t v) {
    Key(field, WireType::kFixed64);
    char b[8];
    std::memcpy(b, &v, 8);
    out_.append(b, 8);
  }
  void Double(uint32_t field, double d) {
    uint64_t v;
    std::memcpy(&v, &d, 8);
    Fixed64(field, v);
  }
  void Bytes(uint32_t field, std::string_view b) {
    Key(field, WireType::kLen);
    PutVarint(b.size());
    out_.append(b);
  }
  // A nested message of unknown size: BeginLen reserves room for a 5-byte
  // length (enough for < 4 GiB, padded varint) and EndLen fills it in.
  size_t BeginLen(uint32_t field) {
    Key(field, WireType::kLen);
    size_t at = out_.size();
    out_.append(5, '\0');
    return at;
  }
  void EndLen(size_t at) {
    uint64_t n = out_.size() - at - 5;
    for (int i = 0; i < 5; ++i) {
      uint8_t b = static_cast<uint8_t>(n & 0x7f);
      n >>= 7;
      if (i < 4) b |= 0x80;
      out_[at + static_cast<size_t>(i)] = static_cast<char>(b);
    }
  }
  std::string& out() { return out_; }

 private:
  void Key(uint32_t field, WireType t) { PutVarint((static_cast<uint64_t>(field) << 3) | static_cast<uint64_t>(t)); }
  void PutVarint(uint64_t v) { AppendVarint(v, out_); }
  std::string& out_;
};

}  // namespace spanvault::otlp
