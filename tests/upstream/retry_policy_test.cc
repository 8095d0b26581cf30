#include "upstream/retry_policy.h"

#include <gtest/gtest.h>

namespace spanvault::upstream {
namespace {

using std::chrono::milliseconds;

// 2015-10-21T07:28:00Z in Unix milliseconds.
constexpr int64_t kOct21 = 1445412480000;

struct Case {
  const char* name;
  int status;
  const char* retry_after;
  size_t spans;
  int attempt;
  double random;
  Action action;
  int64_t delay_ms;  // -1: not checked
  bool from_retry_after;
};

TEST(RetryPolicyTest, DecisionTable) {
  RetryOptions o;  // 500ms initial, 60s max, x2, auth pause 5m, Retry-After cap 1h
  const Case cases[] = {
      {"200 delivers", 200, "", 512, 1, 0.5, Action::kDelivered, 0, false},
      {"204 delivers", 204, "", 1, 1, 0.5, Action::kDelivered, 0, false},
      {"202 delivers", 202, "", 1, 1, 0.5, Action::kDelivered, 0, false},
      {"connection error: first backoff up to 500ms", 0, "", 512, 1, 1.0, Action::kRetry, 500, false},
      {"connection error ignores Retry-After (none)", 0, "5", 512, 1, 0.5, Action::kRetry, 250, false},
      {"third failure: up to 2s", 0, "", 512, 3, 0.5, Action::kRetry, 1000, false},
      {"backoff capped at max", 0, "", 512, 40, 1.0, Action::kRetry, 60000, false},
      {"full jitter can be zero", 503, "", 512, 5, 0.0, Action::kRetry, 0, false},
      {"408 retries", 408, "", 512, 1, 1.0, Action::kRetry, 500, false},
      {"429 retries", 429, "", 512, 2, 1.0, Action::kRetry, 1000, false},
      {"429 with Retry-After seconds", 429, "7", 512, 1, 0.1, Action::kRetry, 7000, true},
      {"503 with Retry-After seconds", 503, "120", 512, 9, 0.1, Action::kRetry, 120000, true},
      {"503 with Retry-After HTTP-date", 503, "Wed, 21 Oct 2015 07:28:30 GMT", 10, 1, 0.1, Action::kRetry, 30000, true},
      {"Retry-After date in the past: at once", 503, "Wed, 21 Oct 2015 07:27:00 GMT", 10, 1, 0.1, Action::kRetry, 0,
       true},
      {"Retry-After capped at 1h", 503, "86400", 10, 1, 0.1, Action::kRetry, 3600000, true},
      {"unparseable Retry-After: backoff", 503, "soon", 10, 1, 1.0, Action::kRetry, 500, false},
      {"500 retries", 500, "", 1, 1, 1.0, Action::kRetry, 500, false},
      {"502 retries", 502, "", 1, 1, 1.0, Action::kRetry, 500, false},
      {"504 retries even for a single span", 504, "", 1, 3, 1.0, Action::kRetry, 2000, false},
      {"401 pauses", 401, "", 512, 1, 0.0, Action::kPause, 150000, false},
      {"403 pauses, jittered up to the full pause", 403, "", 1, 1, 1.0, Action::kPause, 300000, false},
      {"301 pauses (redirects are not followed)", 301, "", 5, 1, 0.0, Action::kPause, 150000, false},
      {"413 splits a batch", 413, "", 512, 1, 0.5, Action::kSplit, 0, false},
      {"413 splits a batch of two", 413, "", 2, 1, 0.5, Action::kSplit, 0, false},
      {"413 for one span: dead letter", 413, "", 1, 1, 0.5, Action::kDeadLetter, 0, false},
      {"400 splits to find the poison span", 400, "", 100, 1, 0.5, Action::kSplit, 0, false},
      {"400 for one span: dead letter", 400, "", 1, 1, 0.5, Action::kDeadLetter, 0, false},
      {"404 for one span: dead letter", 404, "", 1, 1, 0.5, Action::kDeadLetter, 0, false},
      {"422 for one span: dead letter", 422, "", 1, 1, 0.5, Action::kDeadLetter, 0, false},
      {"422 for a batch: split", 422, "", 3, 1, 0.5, Action::kSplit, 0, false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Decision d = Decide(AttemptResult{c.status, c.retry_after}, c.spans, c.attempt, o, kOct21, c.random);
    EXPECT_EQ(ActionName(d.action), ActionName(c.action));
    if (c.delay_ms >= 0) {
      EXPECT_EQ(d.delay.count(), c.delay_ms);
    }
    EXPECT_EQ(d.from_retry_after, c.from_retry_after);
  }
}

TEST(RetryPolicyTest, BackoffGrowsExponentiallyWithinJitter) {
  RetryOptions o;
  o.initial = milliseconds(100);
  o.max = milliseconds(10000);
  o.multiplier = 3;
  EXPECT_EQ(Backoff(1, o, 1.0).count(), 100);
  EXPECT_EQ(Backoff(2, o, 1.0).count(), 300);
  EXPECT_EQ(Backoff(3, o, 1.0).count(), 900);
  EXPECT_EQ(Backoff(5, o, 1.0).count(), 8100);
  EXPECT_EQ(Backoff(6, o, 1.0).count(), 10000);
  EXPECT_EQ(Backoff(1000000, o, 1.0).count(), 10000);
  EXPECT_EQ(Backoff(4, o, 0.5).count(), 1350);
  for (int attempt = 1; attempt < 20; ++attempt) {
    for (double r : {0.0, 0.25, 0.999}) {
      auto d = Backoff(attempt, o, r);
      EXPECT_GE(d.count(), 0);
      EXPECT_LE(d.count(), 10000);
    }
  }
}

TEST(RetryPolicyTest, ParsesRetryAfter) {
  EXPECT_EQ(ParseRetryAfter("0", kOct21), milliseconds(0));
  EXPECT_EQ(ParseRetryAfter(" 3 ", kOct21), milliseconds(3000));
  EXPECT_EQ(ParseRetryAfter("Wed, 21 Oct 2015 07:29:00 GMT", kOct21), milliseconds(60000));
  // The obsolete forms HTTP/1.1 recipients must still accept.
  EXPECT_EQ(ParseRetryAfter("Wednesday, 21-Oct-15 07:28:10 GMT", kOct21), milliseconds(10000));
  EXPECT_EQ(ParseRetryAfter("Wed Oct 21 07:28:05 2015", kOct21), milliseconds(5000));
  EXPECT_EQ(ParseRetryAfter("99999999999999999999999", kOct21)->count() > 0, true);
  EXPECT_FALSE(ParseRetryAfter("", kOct21));
  EXPECT_FALSE(ParseRetryAfter("-5", kOct21));
  EXPECT_FALSE(ParseRetryAfter("1.5", kOct21));
  EXPECT_FALSE(ParseRetryAfter("tomorrow", kOct21));
  EXPECT_FALSE(ParseRetryAfter("Wed, 21 Oct 2015 07:28:00 GMT trailing", kOct21));
}

}  // namespace
}  // namespace spanvault::upstream
