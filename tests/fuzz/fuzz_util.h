// Helpers shared by the libFuzzer targets (tests/fuzz/*_fuzz.cc).
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "span/decoder.h"

// A property every input must keep: when it does not, say which and abort
// (libFuzzer then saves the input as a crash).
#define FUZZ_CHECK(cond)                                                                   \
  do {                                                                                     \
    if (!(cond)) {                                                                         \
      std::fprintf(stderr, "FUZZ_CHECK failed at %s:%d: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                        \
    }                                                                                      \
  } while (0)

namespace spanvault::fuzz {

inline std::string_view AsText(const uint8_t* data, size_t size) { return {reinterpret_cast<const char*>(data), size}; }

// Takes the text up to the next '\n' (or to the end) off the front of `in`.
inline std::string_view NextLine(std::string_view& in) {
  size_t nl = in.find('\n');
  std::string_view line = in.substr(0, nl);
  in.remove_prefix(nl == std::string_view::npos ? in.size() : nl + 1);
  return line;
}

// True when span::Decoder accepts `span` as one valid span: canonical spans
// (what the decoder and the OTLP mapping emit) must always decode again.
inline bool DecodesAsOneSpan(std::string_view span) {
  static span::Decoder decoder;
  span::Batch batch;
  span::DecodeResult r = decoder.Decode(span, span::Source{}, 1'700'000'000'000'000'000, batch);
  return r.accepted == 1 && r.rejected == 0;
}

}  // namespace spanvault::fuzz
