// process/ — the built-in detectors of the redact processor: one hand-written
// pass over a text finds e-mail addresses, phone numbers, card numbers,
// API keys and tokens, and IP addresses (docs/processors.md says exactly what
// each accepts and which look-alikes it leaves alone). No regex, no
// allocation beyond the result vector, linear in the text.
//
// Threading: pure functions.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace spanvault::process {

enum class Detector : uint8_t { kEmail, kPhone, kCreditCard, kApiKey, kIpAddress, kPattern };
inline constexpr int kDetectorCount = 6;
// "email", "phone", "credit_card", "api_key", "ip_address", "pattern".
std::string_view DetectorName(Detector d);
// The mask: "[EMAIL]", "[PHONE]", "[CREDIT_CARD]", "[API_KEY]", "[IP_ADDRESS]", "[REDACTED]".
std::string_view DetectorTag(Detector d);
// For the built-in names only (not "pattern"); false when unknown.
bool ParseDetector(std::string_view name, Detector* d);

// A bit per Detector.
using DetectorSet = uint32_t;
inline constexpr DetectorSet Bit(Detector d) { return 1u << static_cast<unsigned>(d); }
inline constexpr DetectorSet kAllBuiltIn = Bit(Detector::kEmail) | Bit(Detector::kPhone) | Bit(Detector::kCreditCard) |
                                           Bit(Detector::kApiKey) | Bit(Detector::kIpAddress);

struct Match {
  uint32_t begin = 0, end = 0;  // byte offsets in the text
  Detector kind = Detector::kEmail;
};

// Appends the matches of the detectors in `enabled` found in `text`, in
// order, not overlapping.
void Detect(std::string_view text, DetectorSet enabled, std::vector<Match>& out);

// The Luhn checksum of the digits in `s` (other characters skipped) holds.
bool LuhnValid(std::string_view s);

}  // namespace spanvault::process
