// fuzz-flags: -max_len=131072
// libFuzzer target for what an upstream answers: the raw HTTP response is
// parsed as upstream/http_exchange.cc parses it (Beast's response parser with
// the same header and body limits), its status and Retry-After go through
// the retry policy (upstream/retry_policy.h), and its body through every
// encoder's InspectSuccess (OTLP partial_success in protobuf or JSON,
// Langfuse's 207 per-event errors). The first line of the input is also
// given to ParseRetryAfter on its own.
//
// Properties checked on every input:
//   - a parsed response has a status of 3 digits and a body within the limit;
//   - ParseRetryAfter gives a non-negative delay; a number of seconds gives
//     exactly that many (capped at INT64_MAX / 2 ms);
//   - Decide follows its table: 2xx delivered; 408/429/5xx/1xx retried after
//     at most max_retry_after (Retry-After) or max (backoff); 401/403/3xx
//     paused between half and all of auth_pause; other 4xx split, or a
//     single span dead-lettered;
//   - InspectSuccess names each failed span at most once, by a valid index,
//     with messages of at most 1 KiB.
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <set>
#include <string>
#include <vector>

#include "config/upstream_config.h"
#include "fuzz_util.h"
#include "upstream/encoder.h"
#include "upstream/retry_policy.h"

using namespace spanvault;
using namespace spanvault::upstream;
namespace http = boost::beast::http;
using std::chrono::milliseconds;

namespace {

constexpr size_t kHeaderLimit = 64 * 1024;  // http_exchange.cc
constexpr size_t kBodyLimit = 64 * 1024;
constexpr int64_t kNowMs = 1'700'000'000'000;

struct Spans {
  std::vector<std::string> json;
  std::vector<std::string_view> views;
};

// Three canonical spans, as the buffer holds them (a root and two children).
const Spans& BatchSpans() {
  static const Spans spans = [] {
    Spans s;
    span::Decoder decoder;
    span::Batch batch;
    decoder.Decode(
        R"([{"trace_id":"0af7651916cd43dd8448eb211c80319c","span_id":"b7ad6b7169203331","name":"agent",)"
        R"("type":"agent","start_time":"2024-05-01T10:00:00Z","end_time":"2024-05-01T10:00:02Z"},)"
        R"({"trace_id":"0af7651916cd43dd8448eb211c80319c","span_id":"00f067aa0ba902b7",)"
        R"("parent_span_id":"b7ad6b7169203331","name":"chat","type":"generation","model":"gpt-4o",)"
        R"("provider":"openai","usage":{"input_tokens":10,"output_tokens":5},)"
        R"("start_time":"2024-05-01T10:00:00Z","end_time":"2024-05-01T10:00:01Z"},)"
        R"({"trace_id":"0af7651916cd43dd8448eb211c80319c","span_id":"53995c3f42cd8ad8",)"
        R"("parent_span_id":"b7ad6b7169203331","name":"search","type":"tool","start_time":"2024-05-01T10:00:01Z"}])",
        span::Source{}, kNowMs * 1'000'000, batch);
    FUZZ_CHECK(batch.spans.size() == 3);
    for (size_t i = 0; i < batch.spans.size(); ++i) s.json.emplace_back(batch.SpanAt(i));
    for (const auto& j : s.json) s.views.emplace_back(j);
    return s;
  }();
  return spans;
}

const std::vector<std::unique_ptr<Encoder>>& Encoders() {
  static const std::vector<std::unique_ptr<Encoder>> encoders = [] {
    std::vector<std::unique_ptr<Encoder>> e;
    for (const char* format : {"json", "otlp-proto", "otlp-json", "langfuse-ingestion"}) {
      UpstreamConfig c;
      c.name = "fuzz";
      c.endpoint = "http://127.0.0.1:4318/v1/traces";
      c.format = format;
      if (c.format == "langfuse-ingestion") {  // needs credentials
        c.public_key = "pk-lf-fuzz";
        c.secret_key = "sk-lf-fuzz";
      }
      auto encoder = MakeEncoder(c);
      if (!encoder) std::fprintf(stderr, "%s: %s\n", format, encoder.error().message.c_str());
      FUZZ_CHECK(encoder.has_value());
      e.push_back(std::move(*encoder));
    }
    return e;
  }();
  return encoders;
}

void CheckRetryAfter(std::string_view value) {
  auto ra = ParseRetryAfter(value, kNowMs);
  if (!ra) return;
  FUZZ_CHECK(ra->count() >= 0);
  std::string_view v = value;
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  if (!v.empty() && v.size() <= 12 && v.find_first_not_of("0123456789") == std::string_view::npos) {
    FUZZ_CHECK(ra->count() == std::stoll(std::string(v)) * 1000);
  }
}

void CheckDecision(int status, std::string_view retry_after, size_t spans, int attempt, const RetryOptions& o,
                   double random01) {
  Decision d = Decide({status, retry_after}, spans, attempt, o, kNowMs, random01);
  FUZZ_CHECK(d.delay.count() >= 0);
  if (status >= 200 && status < 300) {
    FUZZ_CHECK(d.action == Action::kDelivered);
  } else if (status == 408 || status == 429 || status >= 500 || status < 200) {
    FUZZ_CHECK(d.action == Action::kRetry);
    FUZZ_CHECK(d.delay <= (d.from_retry_after ? o.max_retry_after : o.max));
    FUZZ_CHECK(!d.from_retry_after || !retry_after.empty());
  } else if (status == 401 || status == 403 || status < 400) {
    FUZZ_CHECK(d.action == Action::kPause);
    FUZZ_CHECK(d.delay >= o.auth_pause / 2 && d.delay <= o.auth_pause);
  } else {
    FUZZ_CHECK(d.action == (spans > 1 ? Action::kSplit : Action::kDeadLetter));
    FUZZ_CHECK(d.delay.count() == 0);
  }
}

void CheckInspect(std::string_view content_type, std::string_view body) {
  const Spans& spans = BatchSpans();
  for (const auto& encoder : Encoders()) {
    auto note = encoder->InspectSuccess(content_type, body, spans.views);
    if (!note) continue;
    FUZZ_CHECK(note->message.size() <= 1024);
    std::set<size_t> seen;
    for (const FailedSpan& f : note->failed) {
      FUZZ_CHECK(f.index < spans.views.size());
      FUZZ_CHECK(seen.insert(f.index).second);
      FUZZ_CHECK(f.message.size() <= 1024);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in = fuzz::AsText(data, size);
  std::string_view first = in.substr(0, in.find('\n'));
  CheckRetryAfter(first);

  // The response, parsed as the client parses it (header, then body).
  http::response_parser<http::string_body> parser;
  parser.header_limit(kHeaderLimit);
  parser.body_limit(kBodyLimit);
  boost::beast::error_code ec;
  size_t used = 0;
  while (!ec && !parser.is_done() && used < size) {
    size_t n = parser.put(boost::asio::buffer(data + used, size - used), ec);
    used += n;
    if (ec == http::error::need_more) {
      ec = {};
      if (n == 0) break;
    }
  }
  if (!ec && !parser.is_done() && parser.is_header_done()) parser.put_eof(ec);
  if (ec || !parser.is_done()) return 0;
  auto res = parser.release();
  const int status = static_cast<int>(res.result_int());
  FUZZ_CHECK(status >= 0 && status <= 999);  // Beast takes any 3 digits, "000" too
  FUZZ_CHECK(res.body().size() <= kBodyLimit);
  std::string retry_after(res[http::field::retry_after]);
  std::string content_type(res[http::field::content_type]);
  CheckRetryAfter(retry_after);

  RetryOptions defaults;
  RetryOptions tight;
  tight.initial = milliseconds(10);
  tight.max = milliseconds(1000);
  tight.multiplier = 1.5;
  tight.auth_pause = milliseconds(3000);
  tight.max_retry_after = milliseconds(2000);
  for (const RetryOptions* o : {&defaults, &tight}) {
    for (size_t spans : {1, 3}) {
      CheckDecision(status, retry_after, spans, 1, *o, 0.0);
      CheckDecision(status, retry_after, spans, 7, *o, 0.999);
      CheckDecision(status, retry_after, spans, 100000, *o, 0.5);
    }
  }
  if (status >= 200 && status < 300) CheckInspect(content_type, res.body());
  return 0;
}
