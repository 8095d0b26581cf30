// GET /api/stats and /api/export, and ForEachSpan (docs/api.md). Both walk
// the matching traces through the index (stats newest first from the
// summaries alone, export oldest first with the stored spans), within
// Service::Impl::kScanBudget traces.
#include <algorithm>
#include <cmath>
#include <map>

#include "common/util.h"
#include "query/service_impl.h"
#include "upstream/format/otlp_export.h"

namespace spanvault::query {
namespace {

using buffer::StatCell;
using buffer::TraceSummary;

struct Group {
  StatCell cell;
  uint64_t traces = 0;
};

double Percentile(std::vector<float>& v, double p) {
  if (v.empty()) return 0;
  const size_t k = std::min(v.size() - 1, static_cast<size_t>(std::ceil(p * static_cast<double>(v.size())) - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

nlohmann::json GroupJson(nlohmann::json key, Group& g) {
  const StatCell& c = g.cell;
  auto& d = g.cell.durations_ms;
  nlohmann::json lat = {{"p50", Percentile(d, 0.50)}, {"p95", Percentile(d, 0.95)}, {"p99", Percentile(d, 0.99)}};
  return {{"key", std::move(key)},
          {"calls", c.calls},
          {"traces", g.traces},
          {"errors", c.errors},
          {"error_rate", c.calls ? static_cast<double>(c.errors) / static_cast<double>(c.calls) : 0.0},
          {"input_tokens", c.input_tokens},
          {"output_tokens", c.output_tokens},
          {"total_tokens", c.total_tokens},
          {"cost", c.cost},
          {"latency_ms", std::move(lat)}};
}

StatCell AllSpans(const TraceSummary& t) {
  StatCell all;
  for (const auto& [k, c] : t.by_type) all.Merge(c);
  return all;
}

std::string Bucket(int64_t start_ns, bool day) {
  const int64_t unit = (day ? 86400LL : 3600LL) * 1'000'000'000LL;
  const int64_t b = start_ns - ((start_ns % unit) + unit) % unit;
  std::string s = FormatRfc3339(b);  // ...T10:00:00.000000000Z
  return s.substr(0, 19) + "Z";
}

// Adds one trace to the groups of `by`.
void AddTrace(const TraceSummary& t, const std::string& by, std::map<std::string, Group>& groups, Group& total) {
  auto add = [&](const std::string& key, const StatCell& c) {
    Group& g = groups[key];
    g.cell.Merge(c);
    ++g.traces;
  };
  if (by == "model") {
    for (const auto& [m, c] : t.by_model) {
      add(m, c);
      total.cell.Merge(c);
    }
    if (!t.by_model.empty()) ++total.traces;
    return;
  }
  StatCell all = AllSpans(t);
  total.cell.Merge(all);
  ++total.traces;
  if (by == "type") {
    for (const auto& [k, c] : t.by_type) add(k, c);
  } else if (by == "service") {
    add(t.service, all);
  } else if (by == "environment") {
    add(t.environment, all);
  } else {
    add(Bucket(t.start_ns(), by == "day"), all);
  }
}

}  // namespace

Response Service::Impl::Stats(const Request& req) const {
  const int64_t now = NowNanos();
  auto f = internal::ParseFilter(req, {"group_by"}, 1000, now);
  if (!f) return ErrorResponse(400, f.error().message);
  if (!f->from_ns) f->from_ns = now - 24LL * 3600 * 1'000'000'000;
  const std::string by = f->Extra("group_by", "model");
  static const std::vector<std::string> kBy = {"model", "service", "environment", "type", "hour", "day"};
  if (std::find(kBy.begin(), kBy.end(), by) == kBy.end()) {
    return ErrorResponse(400, "group_by must be model, service, environment, type, hour or day, not \"" + by + "\"");
  }
  std::map<std::string, Group> groups;
  Group total;
  size_t scanned = 0;
  bool truncated = false;
  Status st = index()->ScanNewest(internal::DriverKey(*f), 0, [&](uint64_t seq, std::string_view id) {
    if (++scanned > kScanBudget) {
      truncated = true;
      return false;
    }
    auto t = index()->Summary(id);
    if (t && *t && (*t)->first_seq == seq && internal::Matches(**t, *f)) AddTrace(**t, by, groups, total);
    return true;
  });
  if (!st) return ErrorResponse(503, st.error().message);
  std::vector<std::pair<std::string, Group*>> order;
  for (auto& [k, g] : groups) order.emplace_back(k, &g);
  if (by != "hour" && by != "day") {
    std::stable_sort(order.begin(), order.end(), [](const auto& a, const auto& b) {
      if (a.second->cell.cost != b.second->cell.cost) return a.second->cell.cost > b.second->cell.cost;
      return a.second->cell.calls > b.second->cell.calls;
    });
  }
  nlohmann::json out_groups = nlohmann::json::array();
  for (auto& [k, g] : order) out_groups.push_back(GroupJson(k.empty() ? nlohmann::json() : nlohmann::json(k), *g));
  nlohmann::json body = {{"group_by", by}, {"groups", std::move(out_groups)}, {"total", GroupJson(nullptr, total)}};
  if (truncated) body["truncated"] = true;
  return JsonResponse(200, body);
}

Status Service::Impl::EachTraceSpans(
    const internal::Filter& f,
    const std::function<bool(const buffer::TraceSummary&, const buffer::RecordBatch&)>& each) const {
  Status inner;
  size_t scanned = 0;
  Status st = index()->ScanOldest(internal::DriverKey(f), 0, [&](uint64_t seq, std::string_view id) {
    if (++scanned > kScanBudget) return false;
    auto t = index()->Summary(id);
    if (!t || !*t || (*t)->first_seq != seq || !internal::Matches(**t, f)) return true;
    auto seqs = index()->Seqs(id, kMaxTraceSpans);
    if (!seqs) {
      inner = Fail(seqs.error());
      return false;
    }
    auto spans = queue.ReadSeqs(*seqs);
    if (!spans) {
      inner = Fail(spans.error());
      return false;
    }
    return spans->empty() || each(**t, *spans);
  });
  if (!st) return st;
  return inner;
}

namespace {

// One dataset row (docs/api.md, shape dataset), or null when the span is
// not one the export takes.
nlohmann::json DatasetRow(std::string_view json, const std::string& span_type) {
  auto s = nlohmann::json::parse(json, nullptr, false);
  if (!s.is_object()) return nullptr;
  const bool root =
      s.value("parent_span_id", nlohmann::json()).is_null() || s.value("parent_span_id", nlohmann::json()) == "";
  const bool dag_child = s.contains("span_parents") && s["span_parents"].is_array() && !s["span_parents"].empty();
  if (span_type.empty() && (!root || dag_child)) return nullptr;
  if (!span_type.empty() && span_type != "any" && s.value("type", "span") != span_type) return nullptr;
  nlohmann::json meta = {
      {"trace_id", s.value("trace_id", nlohmann::json())}, {"span_id", s.value("span_id", nlohmann::json())},
      {"name", s.value("name", nlohmann::json())},         {"type", s.value("type", nlohmann::json())},
      {"model", s.value("model", nlohmann::json())},       {"service", s.value("service", nlohmann::json())}};
  if (s.contains("attributes") && s["attributes"].is_object()) {
    for (const auto& [k, v] : s["attributes"].items()) {
      if (!meta.contains(k)) meta[k] = v;
    }
  }
  const bool has_expected = s.contains("expected") && !s["expected"].is_null();
  if (has_expected) meta["output"] = s.value("output", nlohmann::json());
  return {{"id", s.value("span_id", nlohmann::json())},
          {"input", s.value("input", nlohmann::json())},
          {"expected", has_expected ? s["expected"] : s.value("output", nlohmann::json())},
          {"metadata", std::move(meta)},
          {"tags", s.value("tags", nlohmann::json::array())}};
}

}  // namespace

Response Service::Export(const Request& req, const std::function<bool(std::string_view line)>& emit) const {
  if (impl_->index() == nullptr) return ErrorResponse(404, "local retention is off (local.retention = 0)");
  auto f = internal::ParseFilter(req, {"shape", "span_type"}, 0, NowNanos());
  if (!f) return ErrorResponse(400, f.error().message);
  const std::string shape = f->Extra("shape", "spans");
  const std::string span_type = f->Extra("span_type", "");
  if (shape != "spans" && shape != "dataset" && shape != "otlp") {
    return ErrorResponse(400, "shape must be spans, dataset or otlp, not \"" + shape + "\"");
  }
  const uint64_t limit = f->limit_set ? f->limit : UINT64_MAX;
  uint64_t rows = 0;
  std::string line;
  Status st;
  try {
    st = impl_->EachTraceSpans(*f, [&](const TraceSummary&, const buffer::RecordBatch& spans) {
      if (shape == "otlp") {
        std::vector<std::string_view> views;
        for (const auto& r : spans) views.push_back(r.json);
        line.clear();
        if (!otlp::EncodeExportJson(views, otlp::ExportOptions{}, line)) return true;
        ++rows;
        return emit(line) && rows < limit;
      }
      for (const auto& r : spans) {
        if (rows >= limit) return false;
        if (shape == "spans") {
          if (!emit(r.json)) return false;
          ++rows;
          continue;
        }
        nlohmann::json row = DatasetRow(r.json, span_type);
        if (row.is_null()) continue;
        if (!emit(row.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace))) return false;
        ++rows;
      }
      return rows < limit;
    });
  } catch (const std::exception& e) {
    // After rows went out the caller can only end the stream.
    return ErrorResponse(503, std::string("export failed: ") + e.what());
  }
  if (!st) return ErrorResponse(503, st.error().message);
  Response ok;
  ok.content_type = "application/x-ndjson";
  return ok;
}

Status Service::ForEachSpan(const Request& req, const std::function<bool(const buffer::RecordBatch&)>& each) const {
  if (impl_->index() == nullptr) return Fail(Error::Unavailable("local retention is off (local.retention = 0)"));
  auto f = internal::ParseFilter(req, {"shape", "span_type"}, 0, NowNanos());
  if (!f) return Fail(f.error());
  return impl_->EachTraceSpans(*f, [&](const TraceSummary&, const buffer::RecordBatch& spans) { return each(spans); });
}

}  // namespace spanvault::query
