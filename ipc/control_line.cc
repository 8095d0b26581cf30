#include "ipc/control_line.h"

namespace spanvault::ipc {

bool JsonNestingExceeds(std::string_view text, uint32_t max_depth) {
  uint32_t depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;  // the escaped character cannot end the string
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        break;
      case '{':
      case '[':
        if (++depth > max_depth) return true;
        break;
      case '}':
      case ']':
        if (depth > 0) --depth;
        break;
      default:
        break;
    }
  }
  return false;
}

std::string ParseControlLine(std::string_view line, ControlLine* out) {
  if (JsonNestingExceeds(line, kMaxControlDepth)) {
    return "control line nests deeper than " + std::to_string(kMaxControlDepth) + " levels";
  }
  nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return "invalid JSON in a control line";
  if (!j.is_object() || j.empty()) return "a control line must be a JSON object";
  std::string key = j.begin().key();
  // nlohmann's object is ordered by key, so the '$' key sorts first among
  // keys of plain ASCII letters; a line with no '$' key is not a control line.
  if (key.empty() || key.front() != '$') return "a control line needs a \"$...\" key";
  out->key = std::move(key);
  out->obj = std::move(j);
  if (out->key == "$sync") return CheckSyncId(out->obj["$sync"]);
  return {};
}

std::string CheckSyncId(const nlohmann::json& id) {
  if (!id.is_string() && !id.is_number()) {
    return "the $sync id must be a string or a number, got " + std::string(id.type_name());
  }
  // A number's text is short; a string's may not be.
  if (id.is_string() && id.get_ref<const std::string&>().size() + 2 > kMaxSyncIdBytes) {
    return "the $sync id is longer than " + std::to_string(kMaxSyncIdBytes) + " bytes";
  }
  return {};
}

bool NeedsAdmin(const ControlLine& line) {
  if (line.key == "$reload" || line.key == "$salvage" || line.key == "$dead_letter") return true;
  // The local query API's lines read (and $replay re-sends) span contents.
  if (line.key == "$query" || line.key == "$export" || line.key == "$tail" || line.key == "$replay") return true;
  if (line.key == "$prices") {
    auto it = line.obj.find("$prices");
    return !(it != line.obj.end() && *it == "unpriced");
  }
  return false;  // $sync, $status, and unknown lines (answered as unknown)
}

}  // namespace spanvault::ipc
