// Redaction cost per span (issue 20: <= 2 µs for the five built-in detectors
// on all text of a ~1 KB span). build/process_bench [ITERATIONS]
//
// Two spans of realistic shape (an OpenAI chat call: system and user
// messages, content parts, attributes, output): one clean (the common case:
// every string scanned, nothing found, the span not copied) and one with five
// planted values (the span rewritten). Each goes through a Chain with one
// redact processor (default fields: input, output, expected, attributes,
// error) on one thread; the figure is wall time per span.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "process/chain.h"

namespace {

using spanvault::process::Chain;
using spanvault::process::ProcessorConfig;
using spanvault::process::Verdict;

std::string MakeSpan(bool secrets) {
  std::string user = secrets ? "Hi, I am jane.doe@example.com (call +1 415-555-2671). My key is "
                               "sk-proj-Abc123def456GHI789jkl012MNO345 and card 4111 1111 1111 1111; server 10.1.2.3."
                             : "Hi, I am Jane. Can you summarise the attached report for the Q3 planning meeting? "
                               "Keep it under 200 words, and list the three main risks with their owners.";
  return R"({"name":"chat gpt-4o","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7",)"
         R"("parent_span_id":"53995c3f42cd8ad8","type":"generation","status":"ok","model":"gpt-4o","provider":"openai",)"
         R"("start_time":"2026-01-01T12:00:00.000000000Z","end_time":"2026-01-01T12:00:01.250000000Z","duration_ms":1250,)"
         R"("input":{"messages":[{"role":"system","content":"You are a concise assistant for project managers. )"
         R"(Answer in plain English, version 2.14.0 of the style guide."},{"role":"user","content":[{"type":"text","text":")" +
         user +
         R"("},{"type":"image_url","image_url":{"url":"https://files.example.com/r/550e8400-e29b-41d4-a716-446655440000.png"}}]}]},)"
         R"("output":{"role":"assistant","content":"Summary: revenue grew 12% quarter on quarter; costs rose 4%. )"
         R"(Risks: supplier delays (owner: ops), hiring (owner: HR), pricing pressure (owner: sales)."},)"
         R"("usage":{"input_tokens":412,"output_tokens":96,"total_tokens":508},)"
         R"("cost":{"total":0.00199,"currency":"USD","source":"price_table"},)"
         R"("attributes":{"http.route":"/v1/chat","session.id":"s-20260101-42","gen_ai.request.temperature":0.2,)"
         R"("deployment":"eu-west-1","app.version":"3.11.4"},)"
         R"("received_at":"2026-01-01T12:00:01.260000000Z","source":{"transport":"unix_stream","pid":4242,"uid":1000,"gid":1000}})";
}

double NsPerSpan(const Chain& chain, const std::string& span, long n) {
  std::string out;
  size_t sink = 0;
  for (long i = 0; i < n / 10; ++i) sink += chain.Apply(span, out) == Verdict::kChanged;  // warm up
  auto t0 = std::chrono::steady_clock::now();
  for (long i = 0; i < n; ++i) sink += chain.Apply(span, out) == Verdict::kChanged;
  auto t1 = std::chrono::steady_clock::now();
  if (sink == 1) std::puts("");  // keep the loop
  return std::chrono::duration<double, std::nano>(t1 - t0).count() / static_cast<double>(n);
}

}  // namespace

int main(int argc, char** argv) {
  long n = argc > 1 ? std::atol(argv[1]) : 200000;
  ProcessorConfig c;
  c.name = "pii";
  c.type = "redact";  // the five built-in detectors, default fields, mask
  auto chain = Chain::Create({c}, {"pii"});
  if (!chain) {
    std::fprintf(stderr, "%s\n", chain.error().message.c_str());
    return 1;
  }
  for (bool secrets : {false, true}) {
    std::string span = MakeSpan(secrets);
    double ns = NsPerSpan(**chain, span, n);
    std::printf("redact, 5 detectors, %s span of %zu bytes: %.0f ns/span, %.0f ns per KiB (%.1f MB/s)\n",
                secrets ? "with 5 secrets," : "clean,", span.size(), ns, ns * 1024 / span.size(),
                span.size() / ns * 1e3);
  }
  return 0;
}
