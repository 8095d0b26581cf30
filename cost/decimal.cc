#include "cost/decimal.h"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstring>

namespace spanvault::cost {
namespace {

constexpr int kMaxDigits = 38;
const Int128 kMaxUnits = Pow10(30);

}  // namespace

Int128 Pow10(int n) {
  Int128 v = 1;
  for (int i = 0; i < n; ++i) v *= 10;
  return v;
}

std::optional<Int128> ParseDecimal(std::string_view s, int scale) {
  size_t i = 0;
  bool negative = false;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) negative = s[i++] == '-';
  // Significant digits (leading zeros dropped) and the position of the point.
  std::string digits;
  int frac_digits = 0;
  bool seen_digit = false, seen_point = false;
  for (; i < s.size(); ++i) {
    char c = s[i];
    if (c >= '0' && c <= '9') {
      seen_digit = true;
      if (!digits.empty() || c != '0') digits.push_back(c);
      if (seen_point) ++frac_digits;
    } else if (c == '.' && !seen_point) {
      seen_point = true;
    } else {
      break;
    }
  }
  if (!seen_digit) return std::nullopt;
  long exponent = 0;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    bool exp_negative = false;
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) exp_negative = s[i++] == '-';
    size_t start = i;
    for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i) {
      if (exponent < 100000) exponent = exponent * 10 + (s[i] - '0');
    }
    if (i == start) return std::nullopt;
    if (exp_negative) exponent = -exponent;
  }
  if (i != s.size()) return std::nullopt;
  if (digits.empty()) return Int128{0};
  // value = digits × 10^(exponent - frac_digits); in units: × 10^scale.
  long shift = exponent - frac_digits + scale;
  long magnitude = static_cast<long>(digits.size()) + shift;  // digits left of the unit point
  if (magnitude > 31) return std::nullopt;
  Int128 units = 0;
  if (shift >= 0) {
    for (char c : digits) units = units * 10 + (c - '0');
    if (static_cast<long>(digits.size()) + shift > kMaxDigits) return std::nullopt;
    units *= Pow10(static_cast<int>(shift));
  } else {
    long keep = static_cast<long>(digits.size()) + shift;  // digits kept as integer units
    for (long k = 0; k < keep; ++k) units = units * 10 + (digits[k] - '0');
    // Round half away from zero on the first dropped digit.
    char first_dropped = keep >= 0 ? digits[keep] : '0';
    if (keep >= 0 && first_dropped >= '5') ++units;
  }
  if (units > kMaxUnits) return std::nullopt;
  return negative ? -units : units;
}

void AppendDecimal(Int128 units, int scale, std::string& out) {
  bool negative = units < 0;
  // Work on the magnitude as unsigned so the minimum value cannot overflow.
  UInt128 mag = negative ? static_cast<UInt128>(-(units + 1)) + 1 : static_cast<UInt128>(units);
  if (mag <= static_cast<UInt128>(UINT64_MAX) && scale >= 0 && scale <= 18) {
    // Every cost on the hot path (six per priced span): the integer part
    // and the fraction each with to_chars (two digits per step), the
    // fraction as 10^scale + frac so that its leading zeros come out too.
    static constexpr uint64_t kPow[19] = {1,
                                          10,
                                          100,
                                          1000,
                                          10000,
                                          100000,
                                          1000000,
                                          10000000,
                                          100000000,
                                          1000000000,
                                          10000000000,
                                          100000000000,
                                          1000000000000,
                                          10000000000000,
                                          100000000000000,
                                          1000000000000000,
                                          10000000000000000,
                                          100000000000000000,
                                          1000000000000000000};
    const uint64_t v = static_cast<uint64_t>(mag);
    const uint64_t whole = v / kPow[scale], frac = v % kPow[scale];
    char text[48];
    char* p = text;
    if (negative) *p++ = '-';
    p = std::to_chars(p, text + sizeof text, whole).ptr;
    if (frac != 0) {
      char f[24];
      char* e = std::to_chars(f, f + sizeof f, kPow[scale] + frac).ptr;  // "1" then `scale` digits
      while (e[-1] == '0') --e;
      *p++ = '.';
      std::memcpy(p, f + 1, static_cast<size_t>(e - (f + 1)));
      p += e - (f + 1);
    }
    out.append(text, static_cast<size_t>(p - text));
    return;
  }
  char digits[64];  // least significant first
  int n = 0;
  // 128-bit division is a library call; every cost on the hot path fits in
  // 64 bits, so finish in 64-bit arithmetic as soon as the value allows.
  while (mag > static_cast<UInt128>(UINT64_MAX)) {
    digits[n++] = static_cast<char>('0' + static_cast<int>(mag % 10));
    mag /= 10;
  }
  uint64_t small = static_cast<uint64_t>(mag);
  do {
    digits[n++] = static_cast<char>('0' + small % 10);
    small /= 10;
  } while (small != 0);
  while (n <= scale) digits[n++] = '0';
  // The point sits after `scale` digits; trailing fraction zeros are dropped.
  int first_kept = 0;
  while (first_kept < scale && digits[first_kept] == '0') ++first_kept;
  char text[72];
  int len = 0;
  if (negative) text[len++] = '-';
  for (int k = n - 1; k >= scale; --k) text[len++] = digits[k];
  if (first_kept < scale) {
    text[len++] = '.';
    for (int k = scale - 1; k >= first_kept; --k) text[len++] = digits[k];
  }
  out.append(text, static_cast<size_t>(len));
}

std::string FormatDecimal(Int128 units, int scale) {
  std::string out;
  AppendDecimal(units, scale, out);
  return out;
}

bool MulDivRound(Int128 a, Int128 b, Int128 d, Int128& out) {
  Int128 product;
  if (__builtin_mul_overflow(a, b, &product)) return false;
  Int128 q = product / d;
  Int128 r = product % d;
  if (r < 0) r = -r;
  if (r * 2 >= d) q += product < 0 ? -1 : 1;
  out = q;
  return true;
}

}  // namespace spanvault::cost
