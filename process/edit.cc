// The processors that edit or drop spans by field: filter (drop spans by
// condition, drop fields), truncate (cut big input/output/expected with a
// marker) and set (set, rename, delete fields and attribute keys).
//
// Paths: a top-level span field ("environment", "input") or an attribute key
// ("attributes.KEY"; "metadata.KEY" is the same: the decoder merged them).
// The fields that make a span a span (ids, times, type, status, usage, cost,
// source, received_at) cannot be edited: backends need them whole.
#include <algorithm>
#include <optional>

#include "process/condition.h"
#include "process/processor.h"
#include "span/json_writer.h"

namespace spanvault::process {
namespace {

constexpr std::string_view kProtected[] = {"name",   "trace_id",   "span_id",  "parent_span_id", "span_parents",
                                           "type",   "start_time", "end_time", "duration_ms",    "received_at",
                                           "source", "status",     "usage",    "cost",           "attributes"};

struct Path {
  bool attribute = false;
  std::string key;
};

// `path` as a Path, or an error.
std::string ParsePath(std::string_view path, Path* out) {
  for (std::string_view prefix : {"attributes.", "metadata."}) {
    if (path.starts_with(prefix) && path.size() > prefix.size()) {
      *out = {true, std::string(path.substr(prefix.size()))};
      return {};
    }
  }
  if (path.empty() || path.find('.') != std::string_view::npos) {
    return "\"" + std::string(path) + "\" is not a top-level field or attributes.KEY";
  }
  if (std::find(std::begin(kProtected), std::end(kProtected), path) != std::end(kProtected)) {
    return "\"" + std::string(path) + "\" cannot be changed (backends need it)";
  }
  *out = {false, std::string(path)};
  return {};
}

struct Edits {
  std::vector<Path> remove;
  std::vector<std::pair<Path, std::string>> set;  // raw JSON values
};

bool Matches(const Path& p, bool attribute, std::string_view raw_key) {
  return p.attribute == attribute && p.key == raw_key;
}

bool Removed(const Edits& e, bool attribute, std::string_view key) {
  for (const Path& p : e.remove) {
    if (Matches(p, attribute, key)) return true;
  }
  for (const auto& [p, v] : e.set) {
    if (Matches(p, attribute, key)) return true;  // written again at the end
  }
  return false;
}

void AppendSets(std::string& out, const Edits& e, bool attribute, bool* first) {
  for (const auto& [p, v] : e.set) {
    if (p.attribute != attribute) continue;
    if (!*first) out.push_back(',');
    *first = false;
    span::AppendJsonString(p.key, out);
    out.push_back(':');
    out.append(v);
  }
}

// Applies `e` to `span` into `out`. False when nothing changed.
bool ApplyEdits(const SpanView& span, const Edits& e, std::string& out, Counters& c) {
  bool changed = false;
  bool any_attr_edit = std::any_of(e.remove.begin(), e.remove.end(), [](const Path& p) { return p.attribute; }) ||
                       std::any_of(e.set.begin(), e.set.end(), [](const auto& s) { return s.first.attribute; });
  std::string result = "{";
  bool first = true;
  bool saw_attributes = false;
  for (const SpanView::Member& m : span.members()) {
    if (m.key == "attributes" && any_attr_edit && json::KindOf(m.value) == json::Kind::kObject) {
      saw_attributes = true;
      std::string attrs = "{";
      bool afirst = true;
      json::ForEachMember(m.value, [&](std::string_view k, std::string_view v) {
        if (Removed(e, true, k)) {
          changed = true;
          if (std::none_of(e.set.begin(), e.set.end(), [&](const auto& s) { return Matches(s.first, true, k); })) {
            c.fields_dropped.Add();
          }
          return true;
        }
        AppendMember(attrs, k, v, &afirst);
        return true;
      });
      size_t before = attrs.size();
      AppendSets(attrs, e, true, &afirst);
      changed |= attrs.size() != before;
      attrs.push_back('}');
      AppendMember(result, m.key, attrs, &first);
      continue;
    }
    if (Removed(e, false, m.key)) {
      changed = true;
      if (std::none_of(e.set.begin(), e.set.end(), [&](const auto& s) { return Matches(s.first, false, m.key); })) {
        c.fields_dropped.Add();
      }
      continue;
    }
    AppendMember(result, m.key, m.value, &first);
  }
  if (!saw_attributes && std::any_of(e.set.begin(), e.set.end(), [](const auto& s) { return s.first.attribute; })) {
    if (!first) result.push_back(',');
    first = false;
    result += "\"attributes\":{";
    bool afirst = true;
    AppendSets(result, e, true, &afirst);
    result.push_back('}');
    changed = true;
  }
  size_t before = result.size();
  AppendSets(result, e, false, &first);
  changed |= result.size() != before;
  if (!changed) return false;
  result.push_back('}');
  out = std::move(result);
  return true;
}

std::string_view Lookup(const SpanView& span, const Path& p) {
  if (!p.attribute) return span.Top(p.key);
  std::string_view attrs = span.Top("attributes");
  std::string_view found;
  json::ForEachMember(attrs, [&](std::string_view k, std::string_view v) {
    if (k == p.key) {
      found = v;
      return false;
    }
    return true;
  });
  return found;
}

// ------------------------------------------------------------------ filter

class Filter final : public Processor {
 public:
  Filter(std::optional<Condition> condition, Edits edits)
      : condition_(std::move(condition)), edits_(std::move(edits)) {}

  Verdict Apply(const SpanView& span, std::string& out, Counters& c) const override {
    if (condition_ && condition_->Eval(span)) {
      c.dropped_filter.Add();
      return Verdict::kDrop;
    }
    if (edits_.remove.empty()) return Verdict::kUnchanged;
    return ApplyEdits(span, edits_, out, c) ? Verdict::kChanged : Verdict::kUnchanged;
  }

 private:
  std::optional<Condition> condition_;
  Edits edits_;
};

// ------------------------------------------------------------------ truncate

class Truncate final : public Processor {
 public:
  Truncate(std::vector<std::string> fields, uint64_t max) : fields_(std::move(fields)), max_(max) {}

  Verdict Apply(const SpanView& span, std::string& out, Counters& c) const override {
    std::string result = "{";
    bool first = true;
    bool changed = false;
    std::string scratch, cut;
    for (const SpanView::Member& m : span.members()) {
      bool selected = m.value.size() > max_ && std::find(fields_.begin(), fields_.end(), m.key) != fields_.end();
      json::Kind kind = json::KindOf(m.value);
      if (!selected || (kind != json::Kind::kString && kind != json::Kind::kObject && kind != json::Kind::kArray)) {
        AppendMember(result, m.key, m.value, &first);
        continue;
      }
      std::string_view text = m.value;
      if (kind == json::Kind::kString && !json::Text(m.value.substr(1, m.value.size() - 2), scratch, &text)) {
        text = m.value;
      }
      size_t keep = json::Utf8Cut(text, max_);
      if (keep == text.size()) {
        AppendMember(result, m.key, m.value, &first);
        continue;
      }
      cut.assign(text.substr(0, keep));
      cut += "\xE2\x80\xA6[truncated " + std::to_string(text.size() - keep) + " bytes]";
      std::string value;
      span::AppendJsonString(cut, value);
      AppendMember(result, m.key, value, &first);
      c.truncated.Add();
      changed = true;
    }
    if (!changed) return Verdict::kUnchanged;
    result.push_back('}');
    out = std::move(result);
    return Verdict::kChanged;
  }

 private:
  std::vector<std::string> fields_;
  uint64_t max_;
};

// ------------------------------------------------------------------ set

class Set final : public Processor {
 public:
  Set(std::vector<std::pair<Path, Path>> rename, Edits fixed) : rename_(std::move(rename)), fixed_(std::move(fixed)) {}

  Verdict Apply(const SpanView& span, std::string& out, Counters& c) const override {
    if (rename_.empty()) return ApplyEdits(span, fixed_, out, c) ? Verdict::kChanged : Verdict::kUnchanged;
    // Renames first (the value moves), then sets, then deletes.
    Edits e;
    for (const auto& [from, to] : rename_) {
      std::string_view v = Lookup(span, from);
      if (v.empty()) continue;
      e.remove.push_back(from);
      e.set.emplace_back(to, std::string(v));
    }
    for (const auto& s : fixed_.set) {
      std::erase_if(
          e.set, [&](const auto& x) { return x.first.attribute == s.first.attribute && x.first.key == s.first.key; });
      e.set.push_back(s);
    }
    for (const Path& p : fixed_.remove) {
      std::erase_if(e.set, [&](const auto& x) { return x.first.attribute == p.attribute && x.first.key == p.key; });
      e.remove.push_back(p);
    }
    return ApplyEdits(span, e, out, c) ? Verdict::kChanged : Verdict::kUnchanged;
  }

 private:
  std::vector<std::pair<Path, Path>> rename_;
  Edits fixed_;
};

bool ParsePaths(const std::vector<std::string>& paths, std::string_view what, std::vector<Path>* out,
                std::vector<std::string>* problems) {
  bool ok = true;
  for (const std::string& f : paths) {
    Path p;
    if (std::string err = ParsePath(f, &p); !err.empty()) {
      problems->push_back(std::string(what) + ": " + err);
      ok = false;
      continue;
    }
    out->push_back(std::move(p));
  }
  return ok;
}

}  // namespace

std::unique_ptr<Processor> MakeFilter(const ProcessorConfig& config, std::vector<std::string>* problems) {
  const size_t before = problems->size();
  std::optional<Condition> condition;
  if (!config.condition.empty()) {
    auto c = Condition::Parse(config.condition);
    if (!c) {
      problems->push_back(c.error().message);
    } else {
      condition.emplace(std::move(*c));
    }
  }
  Edits edits;
  ParsePaths(config.fields, "fields", &edits.remove, problems);
  if (config.condition.empty() && config.fields.empty()) problems->push_back("needs a condition or fields");
  if (problems->size() != before) return nullptr;
  return std::make_unique<Filter>(std::move(condition), std::move(edits));
}

std::unique_ptr<Processor> MakeTruncate(const ProcessorConfig& config, std::vector<std::string>* problems) {
  const size_t before = problems->size();
  std::vector<std::string> fields = config.fields;
  if (fields.empty()) fields = {"input", "output", "expected"};
  for (const std::string& f : fields) {
    // Not attributes: it must stay an object (truncate makes a string).
    if (f != "input" && f != "output" && f != "expected" && f != "error") {
      problems->push_back("fields: \"" + f + "\" is not one of input, output, expected, error");
    }
  }
  if (config.max_bytes < 64) problems->push_back("max_bytes must be at least 64");
  if (problems->size() != before) return nullptr;
  return std::make_unique<Truncate>(std::move(fields), config.max_bytes);
}

std::unique_ptr<Processor> MakeSet(const ProcessorConfig& config, std::vector<std::string>* problems) {
  const size_t before = problems->size();
  Edits fixed;
  for (const auto& [path, value] : config.set) {
    Path p;
    if (std::string err = ParsePath(path, &p); !err.empty()) {
      problems->push_back("set: " + err);
      continue;
    }
    // Canonical string fields stay strings: the upstream formats read them so.
    constexpr std::string_view kStrings[] = {"session_id", "user_id", "environment", "release",
                                             "service",    "model",   "provider",    "error"};
    if (!p.attribute && std::find(std::begin(kStrings), std::end(kStrings), p.key) != std::end(kStrings) &&
        (value.empty() || value[0] != '"')) {
      problems->push_back("set: " + p.key + " must be a string");
      continue;
    }
    fixed.set.emplace_back(std::move(p), value);
  }
  std::vector<std::pair<Path, Path>> rename;
  for (const auto& [from, to] : config.rename) {
    Path a, b;
    std::string ea = ParsePath(from, &a), eb = ParsePath(to, &b);
    if (!ea.empty()) problems->push_back("rename: " + ea);
    if (!eb.empty()) problems->push_back("rename: " + eb);
    if (ea.empty() && eb.empty()) rename.emplace_back(std::move(a), std::move(b));
  }
  ParsePaths(config.remove, "delete", &fixed.remove, problems);
  if (config.set.empty() && config.rename.empty() && config.remove.empty()) {
    problems->push_back("needs set, rename or delete");
  }
  if (problems->size() != before) return nullptr;
  return std::make_unique<Set>(std::move(rename), std::move(fixed));
}

}  // namespace spanvault::process
