// upstream/ — what to do after one attempt to send a batch.
//
// A pure function of (response status or transport error, Retry-After, the
// batch's size, the attempt number, the clock reading, a random number): no
// I/O, no sleeps, so every rule is tested with a table.
//
//   2xx                               → kDelivered
//   transport error / timeout         → kRetry, exponential backoff with full jitter
//   408, 429, 5xx                     → kRetry, Retry-After honoured (seconds or HTTP-date)
//   401, 403                          → kPause: wrong credentials; long backoff, upstream unhealthy, spans kept
//   3xx                               → kPause: the endpoint redirects (not followed); fix the config
//   other 4xx (400, 404, 413, 422...) → kSplit while the batch holds more than one span, so that one
//                                       poison span cannot hold the others back (413 is the usual case);
//                                       a single span still refused → kDeadLetter
//
// Nothing here gives up on time: spans leave only through delivery, the dead
// letter store, or the buffer's own bounds (max_age, max_disk_bytes).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace spanvault::upstream {

struct RetryOptions {
  // Default: 500ms. Upper bound of the first backoff.
  std::chrono::milliseconds initial{500};
  // Default: 60s. Cap of the exponential backoff.
  std::chrono::milliseconds max{60000};
  // Default: 2.
  double multiplier = 2.0;
  // Default: 5m. Pause after 401/403/3xx (jittered between half and all of it).
  std::chrono::milliseconds auth_pause{300000};
  // Default: 1h. A longer Retry-After is cut to this (a misbehaving proxy must
  // not park an upstream for days).
  std::chrono::milliseconds max_retry_after{3600000};

  bool operator==(const RetryOptions&) const = default;
};

enum class Action {
  kDelivered,   // acknowledged: the spans may be deleted
  kRetry,       // send the same batch again after `delay`
  kSplit,       // send each half separately (no delay)
  kDeadLetter,  // the single span is refused for good: move it to the dead-letter store
  kPause,       // credentials or endpoint wrong: mark unhealthy, retry the same batch after `delay`
};
std::string_view ActionName(Action a);

struct AttemptResult {
  int status = 0;                // HTTP status; 0 when the request failed without a response
  std::string_view retry_after;  // the Retry-After header ("" when absent)
};

struct Decision {
  Action action = Action::kRetry;
  std::chrono::milliseconds delay{0};  // for kRetry / kPause
  bool from_retry_after = false;       // the delay came from Retry-After
};

// `attempt` counts the failed attempts of this batch so far, starting at 1 for
// the first failure. `random01` is uniform in [0, 1) (full jitter). `now_unix_ms`
// is only used for an HTTP-date Retry-After.
Decision Decide(const AttemptResult& result, size_t batch_spans, int attempt, const RetryOptions& options,
                int64_t now_unix_ms, double random01);

// Full jitter: uniform in [0, min(max, initial * multiplier^(attempt-1))].
std::chrono::milliseconds Backoff(int attempt, const RetryOptions& options, double random01);

// "120" → 120 s; "Wed, 21 Oct 2015 07:28:00 GMT" (IMF-fixdate, also the
// obsolete RFC 850 and asctime forms) → the time until then (0 when past).
// nullopt when unparseable.
std::optional<std::chrono::milliseconds> ParseRetryAfter(std::string_view value, int64_t now_unix_ms);

}  // namespace spanvault::upstream
