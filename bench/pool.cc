// bench/pool.cc — spanvault-bench's span generation. Builds the pool of
// realistic ~1 KB LLM generation spans (random words, models, token counts)
// that the senders send, laid out as NDJSON lines in one buffer with the
// offset of each span_id recorded so that it can be patched in place before
// every send. Generation happens before timing starts.

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <random>
#include <string>

#include "bench/bench.h"
#include "common/util.h"

namespace spanvault::bench {

namespace {

std::string Hex(std::mt19937_64& rng, size_t chars) {
  std::string s;
  while (s.size() < chars) {
    char b[16];
    WriteHex64(rng(), b);
    s.append(b, std::min<size_t>(16, chars - s.size()));
  }
  return s;
}

constexpr const char* kWords[] = {
    "the",      "customer",  "order",     "refund",    "invoice",  "shipping",  "account",      "password", "reset",
    "please",   "summarize", "following", "document",  "answer",   "question",  "context",      "policy",   "within",
    "days",     "support",   "ticket",    "priority",  "escalate", "billing",   "subscription", "renewal",  "plan",
    "upgrade",  "error",     "timeout",   "database",  "query",    "latency",   "region",       "deploy",   "release",
    "feature",  "request",   "user",      "reported",  "issue",    "after",     "update",       "version",  "mobile",
    "app",      "crash",     "login",     "screen",    "payment",  "declined",  "card",         "address",  "change",
    "delivery", "tracking",  "number",    "warehouse", "stock",    "available", "product",      "review",   "rating",
    "and",      "of",        "to",        "in",        "for",      "with",      "on",           "is",       "was",
    "a",        "we",        "you",       "they",      "can",      "will",      "should",       "not",      "has",
};
constexpr size_t kWordCount = sizeof kWords / sizeof kWords[0];

constexpr const char* kSystemPrompts[] = {
    "You are a helpful customer support assistant. Answer briefly and cite the relevant policy.",
    "You are an expert summarizer. Produce a concise summary in three bullet points.",
    "Classify the ticket into one of: billing, shipping, account, technical, other.",
    "You answer questions using only the provided context. Say you do not know otherwise.",
    "Extract the order number, the customer name and the requested action as JSON.",
};

constexpr const char* kNames[] = {"chat.completions", "support.answer",     "ticket.classify",
                                  "rag.generate",     "summarize.document", "extract.entities"};

struct ModelInfo {
  const char* model;
  const char* provider;
};
constexpr ModelInfo kModels[] = {{"gpt-4o-mini", "openai"},
                                 {"gpt-4o", "openai"},
                                 {"gpt-4.1-mini", "openai"},
                                 {"claude-3-5-haiku-latest", "anthropic"},
                                 {"gemini-1.5-flash", "google"}};

constexpr const char* kServices[] = {"support-bot", "search-api", "billing-worker", "docs-assistant"};
constexpr const char* kRegions[] = {"eu-west-1", "us-east-1", "us-west-2", "ap-southeast-1"};

// Random words, exactly `len` bytes, JSON-safe (letters, spaces, '.', ',').
std::string Text(std::mt19937_64& rng, size_t len) {
  std::string s;
  s.reserve(len + 16);
  bool capital = true;
  while (s.size() < len) {
    std::string w = kWords[rng() % kWordCount];
    if (capital) {
      w[0] = static_cast<char>(w[0] - 'a' + 'A');
      capital = false;
    }
    s += w;
    uint64_t r = rng() % 12;
    if (r == 0) {
      s += ". ";
      capital = true;
    } else if (r == 1) {
      s += ", ";
    } else {
      s += ' ';
    }
  }
  s.resize(len);
  if (!s.empty() && s.back() == ' ') s.back() = '.';
  return s;
}

struct SpanTemplate {
  std::string json;  // no trailing newline
  size_t id_offset;  // where the 16 hex digits of span_id start
};

// One generation span of about `target` bytes (never less than its fixed part).
SpanTemplate MakeSpan(std::mt19937_64& rng, size_t target) {
  const std::string trace_id = Hex(rng, 32);
  const std::string parent_id = Hex(rng, 16);
  const char* name = kNames[rng() % std::size(kNames)];
  const ModelInfo& m = kModels[rng() % std::size(kModels)];
  const char* system = kSystemPrompts[rng() % std::size(kSystemPrompts)];
  const char* service = kServices[rng() % std::size(kServices)];
  const char* region = kRegions[rng() % std::size(kRegions)];
  const int64_t now = spanvault::NowNanos();
  const int64_t start = now - static_cast<int64_t>(rng() % 3'600'000'000'000ull);  // within the last hour
  const int64_t end = start + 150'000'000 + static_cast<int64_t>(rng() % 8'000'000'000ull);
  const uint64_t input_tokens = 50 + rng() % 4000;
  const uint64_t output_tokens = 10 + rng() % 800;
  const uint64_t cache_read = (rng() % 3 == 0) ? 0 : input_tokens / (2 + rng() % 4);
  const double temperature = static_cast<double>(rng() % 11) / 10.0;
  const std::string request_id = "req_" + Hex(rng, 20);
  const std::string session = "sess_" + Hex(rng, 12);
  const std::string user = "user_" + std::to_string(1000 + rng() % 90000);

  auto build = [&](const std::string& user_text, const std::string& out_text, size_t* id_offset) {
    std::string s;
    s.reserve(target + 64);
    s += R"({"trace_id":")";
    s += trace_id;
    s += R"(","span_id":")";
    *id_offset = s.size();
    s += "0000000000000000";
    s += R"(","parent_span_id":")";
    s += parent_id;
    s += R"(","name":")";
    s += name;
    s += R"(","type":"generation","model":")";
    s += m.model;
    s += R"(","provider":")";
    s += m.provider;
    s += R"(","start_time":")";
    s += spanvault::FormatRfc3339(start);
    s += R"(","end_time":")";
    s += spanvault::FormatRfc3339(end);
    s += R"(","status":"ok","model_parameters":{"temperature":)";
    s += Fixed(temperature, 1);
    s += R"(,"max_tokens":1024},"usage":{"input_tokens":)";
    s += std::to_string(input_tokens);
    s += R"(,"output_tokens":)";
    s += std::to_string(output_tokens);
    s += R"(,"cache_read_tokens":)";
    s += std::to_string(cache_read);
    s += R"(},"input":[{"role":"system","content":")";
    s += system;
    s += R"("},{"role":"user","content":")";
    s += user_text;
    s += R"("}],"output":[{"role":"assistant","content":")";
    s += out_text;
    s += R"("}],"attributes":{"service.name":")";
    s += service;
    s += R"(","cloud.region":")";
    s += region;
    s += R"(","request_id":")";
    s += request_id;
    s += R"(","http.status_code":200,"retry_count":)";
    s += std::to_string(rng() % 3);
    s += R"(},"session_id":")";
    s += session;
    s += R"(","user_id":")";
    s += user;
    s += R"(","environment":"production","tags":["bench","spanvault-bench"]})";
    return s;
  };

  SpanTemplate t;
  std::string fixed = build("", "", &t.id_offset);
  size_t room = target > fixed.size() ? target - fixed.size() : 0;
  size_t user_len = room * 55 / 100;
  t.json = build(Text(rng, user_len), Text(rng, room - user_len), &t.id_offset);
  return t;
}

}  // namespace

Pool MakePool(size_t count, size_t target, uint64_t seed) {
  std::mt19937_64 rng(seed);
  Pool p;
  p.data.reserve(count * (target + 1));
  p.begin.reserve(count + 1);
  p.id_offset.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    SpanTemplate t = MakeSpan(rng, target);
    p.begin.push_back(p.data.size());
    p.id_offset.push_back(p.data.size() + t.id_offset);
    p.data += t.json;
    p.data += '\n';
  }
  p.begin.push_back(p.data.size());
  return p;
}

}  // namespace spanvault::bench
