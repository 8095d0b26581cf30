#include "common/util.h"

#include <charconv>
#include <cstring>
#include <random>

namespace spanvault {
namespace {

bool Digits(std::string_view s, size_t pos, size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

}  // namespace

int64_t NowNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

namespace {
inline void Put2(char* p, unsigned v) {
  p[0] = static_cast<char>('0' + v / 10);
  p[1] = static_cast<char>('0' + v % 10);
}
}  // namespace

// Hot path (every span gets two or three): no snprintf.
void AppendRfc3339(int64_t unix_nanos, std::string& out) {
  using namespace std::chrono;
  int64_t secs = unix_nanos / 1'000'000'000;
  int64_t frac = unix_nanos % 1'000'000'000;
  if (frac < 0) {
    frac += 1'000'000'000;
    --secs;
  }
  int64_t day_count = secs / 86400;
  int64_t sod = secs % 86400;
  if (sod < 0) {
    sod += 86400;
    --day_count;
  }
  year_month_day ymd{sys_days{std::chrono::days{day_count}}};
  int year = static_cast<int>(ymd.year());
  if (year < 0 || year > 9999) year = 0;  // not reachable for validated spans
  char buf[32] = "0000-00-00T00:00:00";
  buf[0] = static_cast<char>('0' + year / 1000);
  buf[1] = static_cast<char>('0' + year / 100 % 10);
  Put2(buf + 2, static_cast<unsigned>(year % 100));
  Put2(buf + 5, static_cast<unsigned>(ymd.month()));
  Put2(buf + 8, static_cast<unsigned>(ymd.day()));
  Put2(buf + 11, static_cast<unsigned>(sod / 3600));
  Put2(buf + 14, static_cast<unsigned>(sod / 60 % 60));
  Put2(buf + 17, static_cast<unsigned>(sod % 60));
  size_t len = 19;
  if (frac != 0) {
    // Nine digits by constant divisors (multiplications), then the
    // trailing zeros dropped: three per span on the hot path.
    buf[len++] = '.';
    auto f = static_cast<uint32_t>(frac);
    for (size_t i = len + 8; i >= len; --i) {
      buf[i] = static_cast<char>('0' + f % 10);
      f /= 10;
    }
    len += 9;
    while (buf[len - 1] == '0') --len;
  }
  buf[len++] = 'Z';
  out.append(buf, len);
}

std::string FormatRfc3339(int64_t unix_nanos) {
  std::string s;
  AppendRfc3339(unix_nanos, s);
  return s;
}

std::optional<int64_t> ParseRfc3339(std::string_view s) {
  using namespace std::chrono;
  int y, mo, d, h, mi, se;
  if (!Digits(s, 0, 4, &y) || s.size() < 19 || s[4] != '-' || !Digits(s, 5, 2, &mo) || s[7] != '-' ||
      !Digits(s, 8, 2, &d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || !Digits(s, 11, 2, &h) || s[13] != ':' ||
      !Digits(s, 14, 2, &mi) || s[16] != ':' || !Digits(s, 17, 2, &se)) {
    return std::nullopt;
  }
  if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || se > 60) return std::nullopt;
  year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
  if (!ymd.ok()) return std::nullopt;
  size_t pos = 19;
  int64_t frac = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    size_t start = pos;
    int64_t scale = 100'000'000;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      frac += (s[pos] - '0') * scale;  // digits beyond nanoseconds are truncated
      scale /= 10;
      ++pos;
    }
    if (pos == start) return std::nullopt;
  }
  int64_t offset = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int oh, om;
    if (!Digits(s, pos + 1, 2, &oh) || pos + 3 >= s.size() || s[pos + 3] != ':' || !Digits(s, pos + 4, 2, &om) ||
        oh > 23 || om > 59) {
      return std::nullopt;
    }
    offset = (oh * 3600 + om * 60) * (s[pos] == '+' ? 1 : -1);
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != s.size()) return std::nullopt;
  int64_t days = sys_days{ymd}.time_since_epoch().count();
  int64_t secs = days * 86400 + h * 3600 + mi * 60 + se - offset;
  // Outside ±292 years of 1970 nanoseconds overflow int64.
  if (secs > 9'000'000'000LL || secs < -9'000'000'000LL) return std::nullopt;
  return secs * 1'000'000'000 + frac;
}

std::optional<std::chrono::milliseconds> ParseDuration(std::string_view s) {
  if (s.empty()) return std::nullopt;
  double value = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  // !(value >= 0) also refuses "nan", which from_chars accepts.
  if (ec != std::errc() || !(value >= 0)) return std::nullopt;
  std::string_view unit(p, static_cast<size_t>(s.data() + s.size() - p));
  double ms;
  if (unit.empty() || unit == "s") {
    ms = value * 1000;
  } else if (unit == "ms") {
    ms = value;
  } else if (unit == "us") {
    ms = value / 1000;
  } else if (unit == "m" || unit == "min") {
    ms = value * 60'000;
  } else if (unit == "h") {
    ms = value * 3'600'000;
  } else if (unit == "d") {
    ms = value * 86'400'000;
  } else {
    return std::nullopt;
  }
  if (!(ms <= 1e15)) return std::nullopt;
  return std::chrono::milliseconds(static_cast<int64_t>(ms));
}

std::string FormatDuration(std::chrono::milliseconds d) {
  int64_t ms = d.count();
  if (ms % 86'400'000 == 0 && ms != 0) return std::to_string(ms / 86'400'000) + "d";
  if (ms % 3'600'000 == 0 && ms != 0) return std::to_string(ms / 3'600'000) + "h";
  if (ms % 60'000 == 0 && ms != 0) return std::to_string(ms / 60'000) + "m";
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

std::optional<uint64_t> ParseSize(std::string_view s) {
  if (s.empty()) return std::nullopt;
  double value = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || !(value >= 0)) return std::nullopt;
  std::string_view unit(p, static_cast<size_t>(s.data() + s.size() - p));
  while (!unit.empty() && unit.front() == ' ') unit.remove_prefix(1);
  struct U {
    std::string_view name;
    double mult;
  };
  static constexpr U kUnits[] = {{"", 1},
                                 {"B", 1},
                                 {"KiB", 1024.0},
                                 {"MiB", 1048576.0},
                                 {"GiB", 1073741824.0},
                                 {"TiB", 1099511627776.0},
                                 {"KB", 1e3},
                                 {"MB", 1e6},
                                 {"GB", 1e9},
                                 {"TB", 1e12},
                                 {"K", 1024.0},
                                 {"M", 1048576.0},
                                 {"G", 1073741824.0}};
  for (const U& u : kUnits) {
    if (unit == u.name) {
      double v = value * u.mult;
      if (!(v <= 1.8e19)) return std::nullopt;
      return static_cast<uint64_t>(v);
    }
  }
  return std::nullopt;
}

std::string RandomHexId(size_t bytes) {
  thread_local std::mt19937_64 rng{std::random_device{}() ^ static_cast<uint64_t>(NowNanos())};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(bytes * 2, '0');
  bool nonzero = false;
  while (!nonzero) {
    for (size_t i = 0; i < bytes; i += 8) {
      uint64_t r = rng();
      for (size_t j = 0; j < 8 && i + j < bytes; ++j) {
        uint8_t b = static_cast<uint8_t>(r >> (j * 8));
        nonzero |= b != 0;
        out[(i + j) * 2] = kHex[b >> 4];
        out[(i + j) * 2 + 1] = kHex[b & 15];
      }
    }
  }
  return out;
}

}  // namespace spanvault
