#include "upstream/retry_policy.h"

#include <time.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <string>

namespace spanvault::upstream {
using std::chrono::milliseconds;

std::string_view ActionName(Action a) {
  switch (a) {
    case Action::kDelivered:
      return "delivered";
    case Action::kRetry:
      return "retry";
    case Action::kSplit:
      return "split";
    case Action::kDeadLetter:
      return "dead_letter";
    case Action::kPause:
      return "pause";
  }
  return "?";
}

milliseconds Backoff(int attempt, const RetryOptions& options, double random01) {
  double cap = static_cast<double>(options.max.count());
  double ceiling = static_cast<double>(options.initial.count());
  // Grow step by step so that a huge attempt number cannot overflow pow().
  for (int i = 1; i < attempt && ceiling < cap; ++i) ceiling *= std::max(1.0, options.multiplier);
  ceiling = std::min(ceiling, cap);
  double r = std::clamp(random01, 0.0, 1.0);
  return milliseconds(static_cast<int64_t>(ceiling * r));
}

std::optional<milliseconds> ParseRetryAfter(std::string_view value, int64_t now_unix_ms) {
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  if (value.empty()) return std::nullopt;
  if (std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    uint64_t seconds = 0;
    auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
    if (ec == std::errc::result_out_of_range) return milliseconds(INT64_MAX / 2);
    if (ec != std::errc() || p != value.data() + value.size()) return std::nullopt;
    if (seconds > static_cast<uint64_t>(INT64_MAX / 2000)) return milliseconds(INT64_MAX / 2);
    return milliseconds(static_cast<int64_t>(seconds) * 1000);
  }
  // HTTP-date (RFC 9110 §5.6.7): IMF-fixdate, obsolete RFC 850 and asctime forms.
  std::string s(value);
  static constexpr const char* kFormats[] = {"%a, %d %b %Y %H:%M:%S GMT", "%A, %d-%b-%y %H:%M:%S GMT",
                                             "%a %b %e %H:%M:%S %Y"};
  for (const char* format : kFormats) {
    struct tm tm = {};
    const char* end = ::strptime(s.c_str(), format, &tm);
    if (end == nullptr || *end != '\0') continue;
    time_t t = ::timegm(&tm);
    if (t == static_cast<time_t>(-1)) return std::nullopt;
    int64_t delta = static_cast<int64_t>(t) * 1000 - now_unix_ms;
    return milliseconds(std::max<int64_t>(0, delta));
  }
  return std::nullopt;
}

Decision Decide(const AttemptResult& result, size_t batch_spans, int attempt, const RetryOptions& options,
                int64_t now_unix_ms, double random01) {
  const int status = result.status;
  if (status >= 200 && status < 300) return {Action::kDelivered, milliseconds(0), false};
  const bool retryable = status == 0 || status == 408 || status == 429 || status >= 500 || status < 200;
  if (retryable) {
    if (status != 0 && !result.retry_after.empty()) {
      if (auto ra = ParseRetryAfter(result.retry_after, now_unix_ms)) {
        return {Action::kRetry, std::min(*ra, options.max_retry_after), true};
      }
    }
    return {Action::kRetry, Backoff(attempt, options, random01), false};
  }
  if (status == 401 || status == 403 || (status >= 300 && status < 400)) {
    // Half fixed, half jittered: a fleet of daemons does not retry in step.
    auto half = options.auth_pause / 2;
    auto jitter =
        milliseconds(static_cast<int64_t>(static_cast<double>(half.count()) * std::clamp(random01, 0.0, 1.0)));
    return {Action::kPause, half + jitter, false};
  }
  // Any other 4xx: the request itself is refused. Isolate the span(s) to blame.
  if (batch_spans > 1) return {Action::kSplit, milliseconds(0), false};
  return {Action::kDeadLetter, milliseconds(0), false};
}

}  // namespace spanvault::upstream
