// See trace_summary.h. ParseSpanFacts walks the top-level object once
// (simdjson on-demand), reading nested objects only for usage and cost.
#include "buffer/trace_summary.h"

#include <simdjson.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "common/util.h"

namespace spanvault::buffer {
namespace {

using simdjson::ondemand::value;

void Str(value v, std::string& out) {
  std::string_view s;
  if (!v.get_string().get(s)) out.assign(s);
}

uint64_t U64(value v) {
  uint64_t n = 0;
  if (v.get_uint64().get(n)) {
    double d = 0;
    if (!v.get_double().get(d) && d > 0) n = static_cast<uint64_t>(d);
  }
  return n;
}

void ReadUsage(value v, SpanFacts& f) {
  simdjson::ondemand::object o;
  if (v.get_object().get(o)) return;
  for (auto field : o) {
    std::string_view k;
    if (field.unescaped_key().get(k)) return;
    if (k == "input_tokens")
      f.input_tokens = U64(field.value());
    else if (k == "output_tokens")
      f.output_tokens = U64(field.value());
    else if (k == "total_tokens")
      f.total_tokens = U64(field.value());
  }
}

void ReadCost(value v, SpanFacts& f) {
  simdjson::ondemand::object o;
  if (v.get_object().get(o)) return;
  for (auto field : o) {
    std::string_view k;
    if (field.unescaped_key().get(k)) return;
    if (k == "total") {
      double d = 0;
      if (!field.value().get_double().get(d)) f.cost = d;
    }
  }
}

void ReadField(std::string_view k, value v, SpanFacts& f) {
  if (k == "trace_id")
    Str(v, f.trace_id);
  else if (k == "span_id")
    Str(v, f.span_id);
  else if (k == "parent_span_id") {
    Str(v, f.parent_span_id);
    if (!f.parent_span_id.empty()) f.is_root = false;
  } else if (k == "span_parents") {
    simdjson::ondemand::array a;
    if (!v.get_array().get(a)) {
      for (auto e : a) {
        std::string_view s;
        if (!e.get_string().get(s) && f.span_parents.size() < 64) {
          f.is_root = false;
          f.span_parents.emplace_back(s);
        }
      }
    }
  } else if (k == "name")
    Str(v, f.name);
  else if (k == "type")
    Str(v, f.type);
  else if (k == "status")
    Str(v, f.status);
  else if (k == "start_time")
    Str(v, f.start_time);
  else if (k == "end_time")
    Str(v, f.end_time);
  else if (k == "model")
    Str(v, f.model);
  else if (k == "service")
    Str(v, f.service);
  else if (k == "environment")
    Str(v, f.environment);
  else if (k == "session_id")
    Str(v, f.session_id);
  else if (k == "user_id")
    Str(v, f.user_id);
  else if (k == "duration_ms") {
    double d = 0;
    if (!v.get_double().get(d)) f.duration_ms = d;
  } else if (k == "usage")
    ReadUsage(v, f);
  else if (k == "cost")
    ReadCost(v, f);
  else if (k == "tags") {
    simdjson::ondemand::array a;
    if (!v.get_array().get(a)) {
      for (auto e : a) {
        std::string_view s;
        if (!e.get_string().get(s) && f.tags.size() < TraceSummary::kMaxSetValues) f.tags.emplace_back(s);
      }
    }
  }
}

// True when `v` was new (and there was room for it).
bool Insert(std::vector<std::string>& set, std::string_view v) {
  if (v.empty()) return false;
  auto it = std::lower_bound(set.begin(), set.end(), v);
  if (it != set.end() && *it == v) return false;
  if (set.size() >= TraceSummary::kMaxSetValues) return false;
  set.emplace(it, v);
  return true;
}

nlohmann::json CellJson(const StatCell& c) {
  return {c.calls, c.errors, c.input_tokens, c.output_tokens, c.total_tokens, c.cost, c.durations_ms};
}

StatCell CellFrom(const nlohmann::json& j) {
  StatCell c;
  c.calls = j.at(0);
  c.errors = j.at(1);
  c.input_tokens = j.at(2);
  c.output_tokens = j.at(3);
  c.total_tokens = j.at(4);
  c.cost = j.at(5);
  c.durations_ms = j.at(6).get<std::vector<float>>();
  return c;
}

}  // namespace

bool ParseSpanFacts(std::string_view json, SpanFacts& out) {
  thread_local simdjson::ondemand::parser parser;
  thread_local std::string buf;
  buf.assign(json);
  buf.append(simdjson::SIMDJSON_PADDING, ' ');
  out = SpanFacts{};
  simdjson::ondemand::document doc;
  if (parser.iterate(buf.data(), json.size(), buf.size()).get(doc)) return false;
  simdjson::ondemand::object obj;
  if (doc.get_object().get(obj)) return false;
  for (auto field : obj) {
    std::string_view k;
    if (field.unescaped_key().get(k)) return false;
    value v;
    if (field.value().get(v)) return false;
    ReadField(k, v, out);
  }
  if (out.type.empty()) out.type = "span";
  if (out.parent_span_id.empty() && !out.span_parents.empty()) out.parent_span_id = out.span_parents.front();
  if (out.total_tokens == 0) out.total_tokens = out.input_tokens + out.output_tokens;
  return !out.trace_id.empty();
}

void StatCell::Add(const SpanFacts& f) {
  ++calls;
  errors += f.status == "error" ? 1 : 0;
  input_tokens += f.input_tokens;
  output_tokens += f.output_tokens;
  total_tokens += f.total_tokens;
  cost += f.cost;
  if (durations_ms.size() < kMaxDurations) durations_ms.push_back(static_cast<float>(f.duration_ms));
}

void StatCell::Merge(const StatCell& o) {
  calls += o.calls;
  errors += o.errors;
  input_tokens += o.input_tokens;
  output_tokens += o.output_tokens;
  total_tokens += o.total_tokens;
  cost += o.cost;
  durations_ms.insert(durations_ms.end(), o.durations_ms.begin(), o.durations_ms.end());
}

void TraceSummary::Add(const SpanFacts& f, uint64_t seq, int64_t received_ns,
                       std::vector<std::pair<char, std::string>>* new_keys) {
  if (spans == 0) {
    trace_id = f.trace_id;
    first_seq = seq;
    first_received_ns = received_ns;
  }
  ++spans;
  const bool first_error = errors == 0 && f.status == "error";
  errors += f.status == "error" ? 1 : 0;
  input_tokens += f.input_tokens;
  output_tokens += f.output_tokens;
  total_tokens += f.total_tokens;
  cost += f.cost;
  if (!f.start_time.empty() && (start_time.empty() || TimeBefore(f.start_time, start_time))) start_time = f.start_time;
  const std::string& end = f.end_time.empty() ? f.start_time : f.end_time;
  if (!end.empty() && (end_time.empty() || TimeBefore(end_time, end))) end_time = end;
  const bool new_root = f.is_root && (root_span_id.empty() || TimeBefore(f.start_time, root_start));
  if (new_root) {
    name = f.name;
    root_span_id = f.span_id;
    root_start = f.start_time;
  }
  auto take = [&](std::string& mine, const std::string& theirs) {
    if (!theirs.empty() && (mine.empty() || new_root)) mine = theirs;
  };
  take(service, f.service);
  take(environment, f.environment);
  take(session_id, f.session_id);
  take(user_id, f.user_id);
  // The chars are TraceIndex::Field's.
  auto key = [&](char field, std::vector<std::string>& set, const std::string& v) {
    if (Insert(set, v) && new_keys != nullptr) new_keys->emplace_back(field, v);
  };
  key('m', models, f.model);
  key('t', types, f.type);
  for (const auto& t : f.tags) key('g', tags, t);
  key('v', services, f.service);
  key('e', environments, f.environment);
  key('s', sessions, f.session_id);
  key('u', users, f.user_id);
  Insert(names, f.name);
  if (first_error && new_keys != nullptr) new_keys->emplace_back('x', std::string());
  if (!f.model.empty() && (by_model.size() < kMaxSetValues || by_model.contains(f.model))) by_model[f.model].Add(f);
  if (by_type.size() < kMaxSetValues || by_type.contains(f.type)) by_type[f.type].Add(f);
}

int64_t TraceSummary::start_ns() const { return CanonicalTimeNs(start_time).value_or(0); }

double TraceSummary::duration_ms() const {
  auto s = CanonicalTimeNs(start_time), e = CanonicalTimeNs(end_time);
  if (!s || !e || *e < *s) return 0;
  return static_cast<double>(*e - *s) / 1e6;
}

std::string TraceSummary::Encode() const {
  nlohmann::json j = nlohmann::json::array();
  j.push_back(1);  // version
  for (const std::string* s : {&trace_id, &name, &root_span_id, &root_start, &service, &environment, &session_id,
                               &user_id, &start_time, &end_time})
    j.push_back(*s);
  for (uint64_t n : {first_seq, spans, errors, input_tokens, output_tokens, total_tokens}) j.push_back(n);
  j.push_back(first_received_ns);
  j.push_back(cost);
  for (const auto* v : {&models, &types, &tags, &services, &environments, &sessions, &users, &names}) j.push_back(*v);
  for (const auto* m : {&by_model, &by_type}) {
    nlohmann::json o = nlohmann::json::object();
    for (const auto& [k, c] : *m) o[k] = CellJson(c);
    j.push_back(std::move(o));
  }
  auto bytes = nlohmann::json::to_msgpack(j);
  return std::string(bytes.begin(), bytes.end());
}

std::optional<TraceSummary> TraceSummary::Decode(std::string_view bytes) {
  auto j = nlohmann::json::from_msgpack(bytes.begin(), bytes.end(), true, false);
  if (!j.is_array() || j.size() != 29 || j[0] != 1) return std::nullopt;
  try {
    TraceSummary t;
    size_t i = 1;
    for (std::string* s : {&t.trace_id, &t.name, &t.root_span_id, &t.root_start, &t.service, &t.environment,
                           &t.session_id, &t.user_id, &t.start_time, &t.end_time})
      *s = j[i++].get<std::string>();
    for (uint64_t* n : {&t.first_seq, &t.spans, &t.errors, &t.input_tokens, &t.output_tokens, &t.total_tokens})
      *n = j[i++].get<uint64_t>();
    t.first_received_ns = j[i++].get<int64_t>();
    t.cost = j[i++].get<double>();
    for (auto* v : {&t.models, &t.types, &t.tags, &t.services, &t.environments, &t.sessions, &t.users, &t.names})
      *v = j[i++].get<std::vector<std::string>>();
    for (auto* m : {&t.by_model, &t.by_type}) {
      for (const auto& [k, c] : j[i++].items()) (*m)[k] = CellFrom(c);
    }
    return t;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

nlohmann::json TraceSummary::ToJson() const {
  auto opt = [](const std::string& s) { return s.empty() ? nlohmann::json(nullptr) : nlohmann::json(s); };
  return {{"trace_id", trace_id},
          {"name", opt(name)},
          {"root_span_id", opt(root_span_id)},
          {"service", opt(service)},
          {"environment", opt(environment)},
          {"session_id", opt(session_id)},
          {"user_id", opt(user_id)},
          {"start_time", opt(start_time)},
          {"end_time", opt(end_time)},
          {"duration_ms", duration_ms()},
          {"spans", spans},
          {"errors", errors},
          {"status", errors > 0 ? "error" : "ok"},
          {"input_tokens", input_tokens},
          {"output_tokens", output_tokens},
          {"total_tokens", total_tokens},
          {"cost", cost},
          {"models", models},
          {"types", types},
          {"tags", tags}};
}

nlohmann::json SpanLineJson(const SpanFacts& f) {
  auto opt = [](const std::string& s) { return s.empty() ? nlohmann::json(nullptr) : nlohmann::json(s); };
  return {{"trace_id", f.trace_id},
          {"span_id", f.span_id},
          {"parent_span_id", opt(f.parent_span_id)},
          {"name", f.name},
          {"type", f.type},
          {"service", opt(f.service)},
          {"model", opt(f.model)},
          {"start_time", f.start_time},
          {"duration_ms", f.duration_ms},
          {"status", opt(f.status)},
          {"total_tokens", f.total_tokens},
          {"cost", f.cost}};
}

std::optional<int64_t> CanonicalTimeNs(std::string_view t) {
  if (t.empty()) return std::nullopt;
  return ParseRfc3339(t);
}

bool TimeBefore(std::string_view a, std::string_view b) {
  auto x = CanonicalTimeNs(a), y = CanonicalTimeNs(b);
  if (x && y) return *x < *y;
  return a < b;
}

}  // namespace spanvault::buffer
