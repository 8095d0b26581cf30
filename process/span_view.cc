#include "process/span_view.h"

namespace spanvault::process {
namespace {

// Path segments at most: a longer path finds nothing.
constexpr int kMaxSegments = 32;

std::string_view Member(std::string_view obj, std::string_view key) {
  std::string_view found;
  json::ForEachMember(obj, [&](std::string_view k, std::string_view v) {
    if (k == key) {
      found = v;
      return false;
    }
    return true;
  });
  return found;
}

}  // namespace

std::string_view FindIn(std::string_view obj, std::string_view path) {
  for (int seg = 0; seg < kMaxSegments; ++seg) {
    if (json::KindOf(obj) != json::Kind::kObject) return {};
    if (std::string_view whole = Member(obj, path); !whole.empty()) return whole;
    size_t dot = path.find('.');
    if (dot == std::string_view::npos) return {};
    obj = Member(obj, path.substr(0, dot));
    if (obj.empty()) return {};
    path = path.substr(dot + 1);
  }
  return {};
}

bool SpanView::Reset(std::string_view span) {
  text_ = span;
  members_.clear();
  return json::ForEachMember(span, [&](std::string_view k, std::string_view v) {
    members_.push_back({k, v});
    return true;
  });
}

std::string_view SpanView::Top(std::string_view key) const {
  if (key == "metadata") key = "attributes";
  for (const auto& m : members_) {
    if (m.key == key) return m.value;
  }
  return {};
}

std::string_view SpanView::Find(std::string_view path) const {
  size_t dot = path.find('.');
  std::string_view first = path.substr(0, dot);
  std::string_view v = Top(first);
  if (dot == std::string_view::npos || v.empty()) return v;
  return FindIn(v, path.substr(dot + 1));
}

}  // namespace spanvault::process
