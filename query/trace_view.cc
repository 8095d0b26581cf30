// GET /api/traces/{id} (docs/api.md): every stored span of the trace,
// parents before children (siblings by start time), with depth, children,
// extra_parents (a DAG's parents beyond the first) and rollups that count
// each descendant once, also in a DAG. The spans are embedded as stored (no
// re-encoding); the tree is built from ParseSpanFacts.
#include <algorithm>
#include <unordered_map>

#include "query/service_impl.h"

namespace spanvault::query {
namespace {

struct Node {
  buffer::SpanFacts f;
  std::string_view json;
  int parent = -1;                 // the first stored parent
  std::vector<std::string> extra;  // declared parents beyond the first
  std::vector<int> up;             // every stored parent (DAG edges)
  std::vector<int> children;       // spans whose first parent is this one
  std::vector<int> down;           // every span with this one among its parents
  int depth = 0;
};

struct Rollup {
  uint64_t spans = 0, errors = 0, input_tokens = 0, output_tokens = 0, total_tokens = 0;
  double cost = 0;
  void Add(const buffer::SpanFacts& f) {
    ++spans;
    errors += f.status == "error" ? 1 : 0;
    input_tokens += f.input_tokens;
    output_tokens += f.output_tokens;
    total_tokens += f.total_tokens;
    cost += f.cost;
  }
};

void Link(std::vector<Node>& nodes) {
  std::unordered_map<std::string_view, int> by_id;
  for (size_t i = 0; i < nodes.size(); ++i) by_id.emplace(nodes[i].f.span_id, static_cast<int>(i));
  for (size_t i = 0; i < nodes.size(); ++i) {
    Node& n = nodes[i];
    std::vector<std::string> declared;
    if (!n.f.parent_span_id.empty()) declared.push_back(n.f.parent_span_id);
    for (const auto& p : n.f.span_parents) {
      if (std::find(declared.begin(), declared.end(), p) == declared.end()) declared.push_back(p);
    }
    for (size_t k = 0; k < declared.size(); ++k) {
      if (k > 0) n.extra.push_back(declared[k]);
      auto it = by_id.find(declared[k]);
      if (it == by_id.end() || it->second == static_cast<int>(i)) continue;
      if (n.parent < 0 && k == 0) n.parent = it->second;
      n.up.push_back(it->second);
      nodes[it->second].down.push_back(static_cast<int>(i));
    }
    if (n.parent >= 0) nodes[n.parent].children.push_back(static_cast<int>(i));
  }
  auto by_start = [&](int a, int b) { return buffer::TimeBefore(nodes[a].f.start_time, nodes[b].f.start_time); };
  for (auto& n : nodes) std::sort(n.children.begin(), n.children.end(), by_start);
}

// Pre-order from the roots: parents first, siblings by start time. Spans in
// a parent cycle (never reached) come last, as roots.
std::vector<int> Order(std::vector<Node>& nodes, std::vector<int>& roots) {
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (nodes[i].parent < 0) roots.push_back(static_cast<int>(i));
  }
  std::sort(roots.begin(), roots.end(),
            [&](int a, int b) { return buffer::TimeBefore(nodes[a].f.start_time, nodes[b].f.start_time); });
  std::vector<int> order;
  std::vector<bool> seen(nodes.size(), false);
  std::vector<std::pair<int, int>> stack;
  auto walk = [&](int root) {
    stack.emplace_back(root, 0);
    while (!stack.empty()) {
      auto [i, depth] = stack.back();
      stack.pop_back();
      if (seen[i]) continue;
      seen[i] = true;
      nodes[i].depth = depth;
      order.push_back(i);
      for (auto it = nodes[i].children.rbegin(); it != nodes[i].children.rend(); ++it)
        stack.emplace_back(*it, depth + 1);
    }
  };
  for (int r : roots) walk(r);
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (!seen[i]) {
      roots.push_back(static_cast<int>(i));
      nodes[i].parent = -1;
      walk(static_cast<int>(i));
    }
  }
  return order;
}

// Each node's descendants over every edge, each counted once.
std::vector<Rollup> Rollups(const std::vector<Node>& nodes, const std::vector<int>& order) {
  std::vector<Rollup> out(nodes.size());
  const bool dag = std::any_of(nodes.begin(), nodes.end(), [](const Node& n) { return n.up.size() > 1; });
  if (!dag) {  // a tree (or forest): children before parents, in linear time
    for (size_t i = 0; i < nodes.size(); ++i) out[i].Add(nodes[i].f);
    for (auto it = order.rbegin(); it != order.rend(); ++it) {
      const int p = nodes[*it].parent;
      if (p < 0) continue;
      Rollup& to = out[p];
      const Rollup& from = out[*it];
      to.spans += from.spans;
      to.errors += from.errors;
      to.input_tokens += from.input_tokens;
      to.output_tokens += from.output_tokens;
      to.total_tokens += from.total_tokens;
      to.cost += from.cost;
    }
    return out;
  }
  std::vector<uint32_t> mark(nodes.size(), 0);
  std::vector<int> stack;
  for (size_t i = 0; i < nodes.size(); ++i) {
    const uint32_t stamp = static_cast<uint32_t>(i + 1);
    stack.assign(1, static_cast<int>(i));
    mark[i] = stamp;
    while (!stack.empty()) {
      int n = stack.back();
      stack.pop_back();
      out[i].Add(nodes[n].f);
      for (int d : nodes[n].down) {
        if (mark[d] != stamp) {
          mark[d] = stamp;
          stack.push_back(d);
        }
      }
    }
  }
  return out;
}

void AppendNode(std::string& out, const Node& n, const Rollup& r, const std::vector<Node>& nodes) {
  out += "{\"span\":";
  out += n.json;
  nlohmann::json children = nlohmann::json::array();
  for (int c : n.children) children.push_back(nodes[c].f.span_id);
  nlohmann::json rest = {{"depth", n.depth},
                         {"children", std::move(children)},
                         {"extra_parents", n.extra},
                         {"rollup",
                          {{"spans", r.spans},
                           {"errors", r.errors},
                           {"input_tokens", r.input_tokens},
                           {"output_tokens", r.output_tokens},
                           {"total_tokens", r.total_tokens},
                           {"cost", r.cost}}}};
  std::string tail = rest.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  out += ',';
  out.append(tail, 1, std::string::npos);  // the object's fields, and its '}'
}

}  // namespace

Response Service::Impl::Trace(std::string_view trace_id) const {
  auto summary = index()->Summary(trace_id);
  if (!summary) return ErrorResponse(503, summary.error().message);
  auto seqs = index()->Seqs(trace_id, kMaxTraceSpans);
  if (!seqs) return ErrorResponse(503, seqs.error().message);
  auto spans = queue.ReadSeqs(*seqs);
  if (!spans) return ErrorResponse(503, spans.error().message);
  if (!*summary || spans->empty()) return ErrorResponse(404, "no stored span of trace " + std::string(trace_id));
  std::vector<Node> nodes;
  nodes.reserve(spans->size());
  for (const auto& r : *spans) {
    Node n;
    if (!buffer::ParseSpanFacts(r.json, n.f)) continue;
    n.json = r.json;
    nodes.push_back(std::move(n));
  }
  // Rollups would be quadratic on a huge DAG: past this, tree edges only.
  if (nodes.size() > 3000) {
    for (auto& n : nodes) n.f.span_parents.clear();
  }
  Link(nodes);
  std::vector<int> roots;
  std::vector<int> order = Order(nodes, roots);
  std::vector<Rollup> rollups = Rollups(nodes, order);
  Response resp;
  std::string& out = resp.body;
  out.reserve(spans->data.size() + nodes.size() * 200 + 1024);
  out += "{\"trace\":";
  out += (*summary)->ToJson().dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  nlohmann::json root_ids = nlohmann::json::array();
  for (int r : roots) root_ids.push_back(nodes[r].f.span_id);
  out += ",\"roots\":" + root_ids.dump() + ",\"spans\":[";
  for (size_t k = 0; k < order.size(); ++k) {
    if (k > 0) out += ',';
    AppendNode(out, nodes[order[k]], rollups[order[k]], nodes);
  }
  out += "]}";
  return resp;
}

}  // namespace spanvault::query
