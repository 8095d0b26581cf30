// query_bench: the local query API at scale (issue 18). Stores N spans
// (default 1,000,000) in traces of 10 spans with mixed services and models
// into a fresh store with local retention, waits for the trace index, then
// times one trace fetch and a filtered list page (medians of repeated runs)
// through query::Service, as the HTTP listener calls it.
//
//   build/query_bench [DIR] [SPANS]    (DIR default: a fresh dir under /tmp)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "buffer/span_queue.h"
#include "buffer/trace_index.h"
#include "common/util.h"
#include "query/service.h"

namespace {

using namespace spanvault;
using Clock = std::chrono::steady_clock;

const char* kServices[] = {"rag-api", "chat", "batch", "search", "agent"};
const char* kModels[] = {"gpt-4o-mini", "gpt-4o", "claude-sonnet", "llama-3", "mistral", "gemini"};

std::string Span(uint64_t trace, int i, int64_t base_ns) {
  char tid[40], sid[24], pid[24];
  std::snprintf(tid, sizeof tid, "%032llx", static_cast<unsigned long long>(trace + 1));
  std::snprintf(sid, sizeof sid, "%016llx", static_cast<unsigned long long>(trace * 16 + i + 1));
  std::snprintf(pid, sizeof pid, "%016llx", static_cast<unsigned long long>(trace * 16 + 1));
  const int64_t start = base_ns + static_cast<int64_t>(trace) * 1'000'000 + i * 100'000;
  std::string s = R"({"trace_id":")" + std::string(tid) + R"(","span_id":")" + sid + '"';
  if (i > 0) s += R"(,"parent_span_id":")" + std::string(pid) + '"';
  s += R"(,"name":")" + std::string(i == 0 ? "request" : "step-") + std::to_string(i) + R"(","type":")" +
       (i == 0 ? "agent" : (i % 3 == 0 ? "retrieval" : "generation")) + R"(","start_time":")" + FormatRfc3339(start) +
       R"(","end_time":")" + FormatRfc3339(start + 50'000'000) + R"(","duration_ms":50.0,"status":")" +
       (trace % 50 == 0 && i == 3 ? "error" : "ok") + R"(","service":")" + kServices[trace % 5] +
       R"(","environment":"prod","session_id":"sess-)" + std::to_string(trace / 4) + '"';
  if (i > 0 && i % 3 != 0) {
    s +=
        R"(,"model":")" + std::string(kModels[(trace + i) % 6]) +
        R"(","usage":{"input_tokens":500,"output_tokens":80,"total_tokens":580},"cost":{"total":0.0012,"currency":"USD"})";
  }
  s += R"(,"input":{"messages":[{"role":"user","content":"what is the answer to question )" + std::to_string(trace) +
       R"("}]},"output":"the answer is 42, as computed by a long chain of reasoning steps"})";
  return s;
}

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

template <typename F>
double MedianMs(int runs, F&& f) {
  std::vector<double> t;
  for (int i = 0; i < runs; ++i) {
    auto a = Clock::now();
    f(i);
    t.push_back(Ms(Clock::now() - a));
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  std::filesystem::path dir = argc > 1 ? argv[1] : "/tmp/sv-query-bench";
  const uint64_t n_spans = argc > 2 ? std::stoull(argv[2]) : 1'000'000;
  std::filesystem::remove_all(dir);
  buffer::Options o;
  o.dir = dir;
  o.retention = std::chrono::hours(24 * 7);
  o.max_disk_bytes = 8ull << 30;
  o.local_max_disk_bytes = 8ull << 30;
  auto q = buffer::SpanQueue::Open(o);
  if (!q) {
    std::fprintf(stderr, "open: %s\n", q.error().message.c_str());
    return 1;
  }
  auto& queue = **q;
  const int64_t base = NowNanos() - 3600LL * 1'000'000'000;
  const uint64_t traces = n_spans / 10;
  auto t0 = Clock::now();
  std::vector<std::future<void>> pending;
  for (uint64_t t = 0; t < traces; t += 100) {
    span::Batch b;
    b.received_ns = NowNanos();
    for (uint64_t k = t; k < std::min(traces, t + 100); ++k) {
      for (int i = 0; i < 10; ++i) {
        std::string s = Span(k, i, base);
        b.spans.push_back({static_cast<uint32_t>(b.data.size()), static_cast<uint32_t>(s.size())});
        b.data += s;
      }
    }
    auto p = std::make_shared<std::promise<void>>();
    pending.push_back(p->get_future());
    queue.Append(std::move(b), false, [p](const span::StoreResult&) { p->set_value(); });
    if (pending.size() > 64) {
      pending.front().wait();
      pending.erase(pending.begin());
    }
  }
  for (auto& f : pending) f.wait();
  auto t1 = Clock::now();
  while (queue.traces()->indexed_next() < queue.next_seq()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  auto t2 = Clock::now();
  std::printf("stored %llu spans (%llu traces) in %.1f s; index caught up %.1f s later (%.0f spans/s end to end)\n",
              static_cast<unsigned long long>(queue.next_seq() - 1), static_cast<unsigned long long>(traces),
              Ms(t1 - t0) / 1000, Ms(t2 - t1) / 1000, static_cast<double>(n_spans) / (Ms(t2 - t0) / 1000));
  query::Service service(queue);
  size_t bytes = 0;
  const double fetch = MedianMs(21, [&](int i) {
    char tid[40];
    std::snprintf(tid, sizeof tid, "%032llx", static_cast<unsigned long long>((i * 7919ull) % traces + 1));
    auto r = service.Handle({"/api/traces/" + std::string(tid), {}});
    if (r.status != 200) std::fprintf(stderr, "fetch: %d %s\n", r.status, r.body.c_str());
    bytes = r.body.size();
  });
  std::printf("one trace fetch (10 spans, %zu bytes): median %.2f ms\n", bytes, fetch);
  auto page = [&](std::vector<std::pair<std::string, std::string>> p) {
    return MedianMs(11, [&](int) {
      auto r = service.Handle({"/api/traces", p});
      if (r.status != 200) std::fprintf(stderr, "list: %d %s\n", r.status, r.body.c_str());
    });
  };
  std::printf("list page, no filter, limit 50: median %.2f ms\n", page({{"limit", "50"}}));
  std::printf("list page, service=chat&model=claude-sonnet, limit 50: median %.2f ms\n",
              page({{"service", "chat"}, {"model", "claude-sonnet"}, {"limit", "50"}}));
  std::printf("list page, status=error&min_cost=0.001, limit 50: median %.2f ms\n",
              page({{"status", "error"}, {"min_cost", "0.001"}, {"limit", "50"}}));
  std::printf("stats group_by=model over all %llu traces: %.0f ms\n", static_cast<unsigned long long>(traces),
              MedianMs(3, [&](int) {
                service.Handle({"/api/stats", {{"from", "2h"}}});
              }));
  queue.Close();
  std::filesystem::remove_all(dir);
  return 0;
}
