// bench/util.cc — spanvault-bench's small helpers: the monotonic clock and
// sleeping until a point on it, errno text, and number formatting (thousands
// separators, fixed decimals) shared by the runs and the output.

#include <time.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "bench/bench.h"

namespace spanvault::bench {

int64_t MonoNs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

void SleepUntilMono(int64_t ns) {
  timespec ts{};
  ts.tv_sec = ns / 1'000'000'000;
  ts.tv_nsec = ns % 1'000'000'000;
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
  }
}

double Seconds(int64_t ns) { return static_cast<double>(ns) / 1e9; }

std::string Errno(int e) { return std::strerror(e); }

// 1234567 -> "1,234,567"
std::string Commas(uint64_t v) {
  const std::string digits = std::to_string(v);
  std::string s;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) s.push_back(',');
    s.push_back(digits[i]);
  }
  return s;
}

std::string Fixed(double v, int decimals) {
  char b[64];
  std::snprintf(b, sizeof b, "%.*f", decimals, v);
  return b;
}

}  // namespace spanvault::bench
