// query::Service (contract: service.h, docs/api.md): routing, the trace list,
// sessions and the tail. The tree of one trace is in trace_view.cc, stats
// and export in stats_export.cc.
#include "query/service.h"

#include <algorithm>

#include "common/util.h"
#include "query/service_impl.h"

namespace spanvault::query {
namespace {

constexpr std::string_view kTracesPrefix = "/api/traces/";
constexpr std::string_view kSessionsPrefix = "/api/sessions/";
constexpr size_t kMaxSessionTraces = 1000;

// The root span's input and output, from the trace's stored spans.
std::pair<nlohmann::json, nlohmann::json> RootIo(const buffer::SpanQueue& queue, const buffer::TraceIndex& index,
                                                 const buffer::TraceSummary& t) {
  if (t.root_span_id.empty()) return {nullptr, nullptr};
  auto seqs = index.Seqs(t.trace_id, 10000);
  if (!seqs) return {nullptr, nullptr};
  auto spans = queue.ReadSeqs(*seqs);
  if (!spans) return {nullptr, nullptr};
  for (const auto& r : *spans) {
    auto j = nlohmann::json::parse(r.json, nullptr, false);
    if (j.is_object() && j.value("span_id", "") == t.root_span_id) {
      return {j.value("input", nlohmann::json()), j.value("output", nlohmann::json())};
    }
  }
  return {nullptr, nullptr};
}

}  // namespace

Response JsonResponse(int status, const nlohmann::json& body) {
  Response r;
  r.status = status;
  r.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return r;
}

Response ErrorResponse(int status, std::string_view reason) {
  return JsonResponse(status, {{"error", std::string(reason)}});
}

Service::Service(buffer::SpanQueue& queue) : impl_(new Impl{queue}) {}
Service::~Service() = default;

Response Service::Handle(const Request& req) const {
  if (impl_->index() == nullptr) return ErrorResponse(404, "local retention is off (local.retention = 0)");
  try {
    if (req.path == "/api/traces") return impl_->Traces(req);
    if (req.path == "/api/stats") return impl_->Stats(req);
    auto only_path = [&]() -> std::optional<Response> {
      if (!req.params.empty()) return ErrorResponse(400, "unknown parameter: " + req.params.front().first);
      return std::nullopt;
    };
    if (req.path.starts_with(kTracesPrefix) && req.path.size() > kTracesPrefix.size()) {
      if (auto bad = only_path()) return *bad;
      return impl_->Trace(std::string_view(req.path).substr(kTracesPrefix.size()));
    }
    if (req.path.starts_with(kSessionsPrefix) && req.path.size() > kSessionsPrefix.size()) {
      if (auto bad = only_path()) return *bad;
      return impl_->Session(std::string_view(req.path).substr(kSessionsPrefix.size()));
    }
    return ErrorResponse(404, "no such path: " + req.path);
  } catch (const std::exception& e) {
    return ErrorResponse(503, std::string("query failed: ") + e.what());
  }
}

Response Service::Impl::Traces(const Request& req) const {
  auto f = internal::ParseFilter(req, {}, 1000, NowNanos());
  if (!f) return ErrorResponse(400, f.error().message);
  nlohmann::json traces = nlohmann::json::array();
  std::optional<uint64_t> last_seq;
  bool more = false;
  size_t scanned = 0;
  Status inner;
  Status st = index()->ScanNewest(internal::DriverKey(*f), f->cursor, [&](uint64_t seq, std::string_view id) {
    if (++scanned > kScanBudget) {
      more = true;  // answer with what was found; the cursor goes on from here
      return false;
    }
    auto t = index()->Summary(id);
    if (!t) {
      inner = Fail(t.error());
      return false;
    }
    if (!*t || (*t)->first_seq != seq || !internal::Matches(**t, *f)) {
      last_seq = seq;
      return true;
    }
    if (traces.size() == f->limit) {
      more = true;
      return false;
    }
    traces.push_back((*t)->ToJson());
    last_seq = seq;
    return true;
  });
  if (!st) return ErrorResponse(503, st.error().message);
  if (!inner) return ErrorResponse(503, inner.error().message);
  nlohmann::json next = more && last_seq ? nlohmann::json(internal::EncodeCursor(*last_seq)) : nlohmann::json();
  return JsonResponse(200, {{"traces", std::move(traces)}, {"next_cursor", std::move(next)}});
}

Response Service::Impl::Session(std::string_view session_id) const {
  nlohmann::json traces = nlohmann::json::array();
  uint64_t spans = 0, errors = 0, tokens = 0;
  double cost = 0;
  Status inner;
  buffer::TraceIndex::Key key{buffer::TraceIndex::Field::kSession, std::string(session_id)};
  Status st = index()->ScanOldest(key, 0, [&](uint64_t seq, std::string_view id) {
    auto t = index()->Summary(id);
    if (!t) {
      inner = Fail(t.error());
      return false;
    }
    if (!*t || (*t)->first_seq != seq) return true;
    auto j = (*t)->ToJson();
    auto [in, out] = RootIo(queue, *index(), **t);
    j["input"] = std::move(in);
    j["output"] = std::move(out);
    traces.push_back(std::move(j));
    spans += (*t)->spans;
    errors += (*t)->errors;
    tokens += (*t)->total_tokens;
    cost += (*t)->cost;
    return traces.size() < kMaxSessionTraces;
  });
  if (!st) return ErrorResponse(503, st.error().message);
  if (!inner) return ErrorResponse(503, inner.error().message);
  if (traces.empty()) return ErrorResponse(404, "no stored trace of session " + std::string(session_id));
  const size_t n = traces.size();
  return JsonResponse(
      200,
      {{"session_id", std::string(session_id)},
       {"traces", std::move(traces)},
       {"totals", {{"traces", n}, {"spans", spans}, {"errors", errors}, {"total_tokens", tokens}, {"cost", cost}}}});
}

uint64_t Service::Subscribe(TailFn fn) {
  auto* index = impl_->queue.traces();
  return index == nullptr ? 0 : index->Subscribe(std::move(fn));
}

void Service::Unsubscribe(uint64_t id) {
  if (auto* index = impl_->queue.traces(); index != nullptr && id != 0) index->Unsubscribe(id);
}

}  // namespace spanvault::query
