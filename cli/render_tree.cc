// RenderTraceTree (cli/render.h): one trace as a tree of spans with a
// timeline, like Brokle's span page:
//
//   [agent] rag-answer          ▕████████████████████████▏   2.31s  Σ1,730  $0.00594
//   ├─ [retrieval] embed        ▕██                      ▏    45ms       -        -
//   └─ [generation] answer      ▕      ██████████████████▏   1.80s   1,523  $0.00590
//
// The tree is rebuilt from each span's first parent (parent_span_id, else
// span_parents[0]); a DAG's further parents (extra_parents) are named at the
// end of the line instead of drawing the span twice. Spans in a cycle, or
// whose parent chain never reaches a root, are drawn as roots.
#include <algorithm>
#include <unordered_map>
#include <vector>

#include "cli/render.h"
#include "cli/render_json.h"
#include "common/util.h"

namespace spanvault::cli {
using nlohmann::json;
namespace {

struct Node {
  const json* entry = nullptr;  // {"span", "depth", "children", "extra_parents", "rollup"}
  const json* span = nullptr;
  std::string id;
  int64_t start_ns = 0;
  std::vector<size_t> kids;
  bool is_root = true;
};

constexpr size_t kMaxIndent = 24;

struct Row {
  size_t node;
  std::string prefix;  // tree connectors, e.g. "│  └─ "
};

// duration_ms as stored, else from the span's end and start times.
double DurationMs(const json& span) {
  if (const json& d = Field(span, "duration_ms"); d.is_number()) return d.get<double>();
  auto start = ParseRfc3339(Str(span, "start_time")), end = ParseRfc3339(Str(span, "end_time"));
  return start && end && *end >= *start ? static_cast<double>(*end - *start) / 1e6 : 0;
}

std::string PrimaryParent(const json& span) {
  std::string p = Str(span, "parent_span_id");
  if (p.empty()) {
    const json& parents = Field(span, "span_parents");
    if (parents.is_array() && !parents.empty() && parents[0].is_string()) p = parents[0].get<std::string>();
  }
  return p;
}

// The nodes, each span's children (by start time, then answer order) and
// whether it is a root.
std::vector<Node> BuildNodes(const json& spans) {
  std::vector<Node> nodes;
  std::unordered_map<std::string, size_t> by_id;
  for (const json& e : spans) {
    const json& s = Field(e, "span");
    if (!s.is_object()) continue;
    Node n{&e, &s, Str(s, "span_id"), ParseRfc3339(Str(s, "start_time")).value_or(0), {}, true};
    if (by_id.emplace(n.id, nodes.size()).second) nodes.push_back(std::move(n));
  }
  for (size_t i = 0; i < nodes.size(); ++i) {
    auto it = by_id.find(PrimaryParent(*nodes[i].span));
    if (it == by_id.end() || it->second == i) continue;
    nodes[it->second].kids.push_back(i);
    nodes[i].is_root = false;
  }
  for (Node& n : nodes) {
    std::stable_sort(n.kids.begin(), n.kids.end(),
                     [&](size_t a, size_t b) { return nodes[a].start_ns < nodes[b].start_ns; });
  }
  return nodes;
}

// Depth first from the roots (then from anything a cycle kept unreached),
// with the connectors of each line; iterative, so a deep trace cannot
// exhaust the stack.
std::vector<Row> Walk(const std::vector<Node>& nodes) {
  std::vector<Row> rows;
  std::vector<bool> seen(nodes.size(), false);
  struct Item {
    size_t node;
    std::string prefix, child_prefix;
  };
  auto walk_from = [&](size_t root) {
    std::vector<Item> stack{{root, "", ""}};
    while (!stack.empty()) {
      Item it = std::move(stack.back());
      stack.pop_back();
      if (seen[it.node]) continue;
      seen[it.node] = true;
      rows.push_back({it.node, it.prefix});
      const auto& kids = nodes[it.node].kids;
      // Past kMaxIndent levels the connectors stop growing (the text stays
      // linear in the spans however deep the trace).
      bool deep = it.child_prefix.size() >= kMaxIndent * 3;
      for (size_t k = kids.size(); k-- > 0;) {
        bool last = k + 1 == kids.size();
        std::string grown = it.child_prefix + (last ? "   " : "│  ");
        stack.push_back({kids[k], it.child_prefix + (last ? "└─ " : "├─ "), deep ? it.child_prefix : grown});
      }
    }
  };
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (nodes[i].is_root) walk_from(i);
  }
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (!seen[i]) walk_from(i);
  }
  return rows;
}

const char* TypeColour(const std::string& type) {
  if (type == "generation") return "35";
  if (type == "retrieval" || type == "embedding") return "34";
  if (type == "tool") return "33";
  if (type == "agent" || type == "chain") return "36";
  return "2";
}

// Own tokens and cost, or (dimmed, with Σ) the subtree's when the span has
// none of its own but its descendants do.
std::pair<std::string, std::string> TokensAndCost(const Node& n) {
  const json& usage = Field(*n.span, "usage");
  uint64_t tokens = U64(usage, "total_tokens");
  if (tokens == 0) tokens = U64(usage, "input_tokens") + U64(usage, "output_tokens");
  double cost = Cost(*n.span, "cost");
  const json& rollup = Field(*n.entry, "rollup");
  std::string t = tokens > 0 ? FormatTokens(tokens) : "-";
  std::string c = cost > 0 ? FormatCost(cost) : "-";
  if (!n.kids.empty() && tokens == 0 && U64(rollup, "total_tokens") > 0)
    t = "Σ" + FormatTokens(U64(rollup, "total_tokens"));
  if (!n.kids.empty() && cost == 0 && Num(rollup, "cost") > 0) c = "Σ" + FormatCost(Num(rollup, "cost"));
  return {t, c};
}

struct Layout {
  int64_t start_ns = 0;
  double total_ms = 0;
  size_t label_w = 0, bar = 24, dur_w = 8, tok_w = 6, cost_w = 9;
};

std::string Label(const Node& n, const Row& r) {
  return r.prefix + "[" + Str(*n.span, "type", "span") + "] " + Str(*n.span, "name");
}

// "✗ message" for a span with status error, and the DAG's other parents.
std::string Suffix(const Node& n, const std::unordered_map<std::string, const Node*>& by_id, const RenderOptions& o) {
  std::string out;
  if (Str(*n.span, "status") == "error") {
    std::string why = OneLine(Field(*n.span, "error"));
    out += "  " + Colour(Truncate("✗ " + (why.empty() ? std::string("error") : why), 60), "31", o.color);
  }
  const json& extra = Field(*n.entry, "extra_parents");
  if (extra.is_array() && !extra.empty()) {
    std::string names;
    for (const json& p : extra) {
      std::string id = p.is_string() ? p.get<std::string>() : "";
      auto it = by_id.find(id);
      std::string name = it != by_id.end() ? Str(*it->second->span, "name") : ShortId(id, false);
      names += (names.empty() ? "" : ", ") + Truncate(name, 24);
    }
    out += "  " + Colour("⇠ also under " + names, "2", o.color);
  }
  return out;
}

std::string SpanLine(const Node& n, const Row& r, const Layout& l,
                     const std::unordered_map<std::string, const Node*>& by_id, const RenderOptions& o) {
  std::string type = Str(*n.span, "type", "span");
  std::string label = Truncate(Label(n, r), l.label_w);
  size_t pad = l.label_w - DisplayWidth(label);
  // Colour the parts of the (already truncated) label: connectors, type, name.
  std::string head = Sanitize(r.prefix);
  std::string typed = "[" + type + "]";
  std::string coloured = label;
  if (o.color && label.starts_with(head + typed)) {
    coloured =
        Colour(head, "2", true) + Colour(typed, TypeColour(type), true) + label.substr(head.size() + typed.size());
  }
  bool error = Str(*n.span, "status") == "error";
  double dur = DurationMs(*n.span);
  double offset = static_cast<double>(n.start_ns - l.start_ns) / 1e6;
  auto [tokens, cost] = TokensAndCost(n);
  std::string line = coloured + std::string(pad, ' ') + "  " +
                     Colour(TimelineBar(offset, dur, l.total_ms, l.bar), error ? "31" : "36", o.color) + "  " +
                     PadLeft(FormatMillis(dur), l.dur_w) + "  " + PadLeft(tokens, l.tok_w) + "  " +
                     PadLeft(cost, l.cost_w) + Suffix(n, by_id, o);
  return line + "\n";
}

std::string Header(const json& t, const RenderOptions& o) {
  std::string out = Colour("trace " + Sanitize(Str(t, "trace_id")), "33", o.color) + "  " +
                    Colour(Truncate(Str(t, "name", "(no root span yet)"), o.name_width * 2), "1", o.color) + "\n";
  std::string where;
  for (auto [key, label] :
       {std::pair{"service", "service"}, {"environment", "env"}, {"session_id", "session"}, {"user_id", "user"}}) {
    if (std::string v = Str(t, key); !v.empty())
      where += (where.empty() ? "" : " · ") + std::string(label) + " " + Truncate(v, 40);
  }
  if (!where.empty()) out += "  " + where + "\n";
  uint64_t errors = U64(t, "errors");
  out += "  " + FormatTime(Str(t, "start_time"), o.utc) + "  " + FormatMillis(Num(t, "duration_ms", -1)) + "  " +
         std::to_string(U64(t, "spans")) + " spans  " +
         Colour(std::to_string(errors) + (errors == 1 ? " error" : " errors"), "31", o.color && errors) + "  " +
         FormatTokens(U64(t, "total_tokens")) + " tokens (" + FormatTokens(U64(t, "input_tokens")) + " in, " +
         FormatTokens(U64(t, "output_tokens")) + " out)  " + FormatCost(Cost(t, "cost")) + "\n";
  return out;
}

// The time the bars are scaled to: from the earliest start to the latest end
// of the summary and of every span, so that no bar falls outside it even
// when the summary and the spans disagree.
void TimeSpan(const json& t, const std::vector<Node>& nodes, Layout& l) {
  int64_t first = INT64_MAX, last = INT64_MIN;
  for (const Node& n : nodes) {
    first = std::min(first, n.start_ns);
    last = std::max(last, n.start_ns + static_cast<int64_t>(DurationMs(*n.span) * 1e6));
  }
  if (std::optional<int64_t> start = ParseRfc3339(Str(t, "start_time"))) {
    first = std::min(first, *start);
    if (double d = Num(t, "duration_ms", -1); d > 0) last = std::max(last, *start + static_cast<int64_t>(d * 1e6));
  }
  l.start_ns = first == INT64_MAX ? 0 : first;
  l.total_ms = last > first ? static_cast<double>(last - first) / 1e6 : 0;
}

}  // namespace

std::string RenderTraceTree(const json& answer, const RenderOptions& o) {
  const json& t = Field(answer, "trace");
  std::vector<Node> nodes = BuildNodes(Field(answer, "spans"));
  std::vector<Row> rows = Walk(nodes);
  std::unordered_map<std::string, const Node*> by_id;
  for (const Node& n : nodes) by_id.emplace(n.id, &n);
  Layout l;
  TimeSpan(t, nodes, l);
  for (const Row& r : rows) {
    auto [tokens, cost] = TokensAndCost(nodes[r.node]);
    l.tok_w = std::max(l.tok_w, DisplayWidth(tokens));
    l.cost_w = std::max(l.cost_w, DisplayWidth(cost));
  }
  // The label column: as wide as the widest label, within name_width + room
  // for connectors and types; on a terminal of known width, label and bar
  // share what the numbers leave (a third for the bar).
  size_t cap = o.name_width + 24;
  l.bar = o.bar_width;
  if (o.columns > 0) {
    size_t numbers = l.dur_w + l.tok_w + l.cost_w + 6, room = o.columns > numbers + 6 ? o.columns - numbers - 6 : 0;
    if (room < cap + l.bar) {
      l.bar = std::min(l.bar, std::max<size_t>(8, room / 3));
      cap = std::max<size_t>(16, room > l.bar ? room - l.bar : 0);
    }
  }
  for (const Row& r : rows) l.label_w = std::max(l.label_w, std::min(cap, DisplayWidth(Label(nodes[r.node], r))));
  std::string out = Header(t, o) + "\n";
  // The time axis: 0 under ▕, the trace's duration ending under ▏.
  std::string total = FormatMillis(l.total_ms);
  size_t bar = l.bar + 2;
  std::string axis = "0" + std::string(bar > total.size() + 1 ? bar - total.size() - 1 : 1, ' ') + total;
  out += Colour(std::string(l.label_w + 2, ' ') + axis, "2", o.color) + "\n";
  for (const Row& r : rows) out += SpanLine(nodes[r.node], r, l, by_id, o);
  return out;
}

}  // namespace spanvault::cli
