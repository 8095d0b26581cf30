#include "config/processor_table.h"

#include <algorithm>
#include <sstream>

#include "common/util.h"
#include "config/upstream_config.h"
#include "span/json_writer.h"

namespace spanvault::daemon {
namespace {

struct Reader {
  const std::string& where;
  const std::string& file;
  std::vector<std::string>* problems;

  std::string Origin(const toml::node& n, std::string_view key) const {
    return file + ":" + std::to_string(n.source().begin.line) + ": " + where + "." + std::string(key);
  }
  void Problem(const toml::node& n, std::string_view key, const std::string& what) const {
    problems->push_back(Origin(n, key) + ": " + what);
  }

  bool String(const toml::node& n, std::string_view key, std::string* out) const {
    if (auto s = n.as_string()) {
      *out = s->get();
      return true;
    }
    Problem(n, key, "expected a string");
    return false;
  }

  bool Strings(const toml::node& n, std::string_view key, std::vector<std::string>* out) const {
    const toml::array* a = n.as_array();
    if (a == nullptr) {
      Problem(n, key, "expected an array of strings");
      return false;
    }
    out->clear();
    for (const toml::node& item : *a) {
      auto s = item.as_string();
      if (s == nullptr) {
        Problem(n, key, "expected an array of strings");
        return false;
      }
      out->push_back(s->get());
    }
    return true;
  }

  bool Size(const toml::node& n, std::string_view key, uint64_t* out) const {
    if (auto i = n.as_integer(); i != nullptr && i->get() >= 0) {
      *out = static_cast<uint64_t>(i->get());
      return true;
    }
    if (auto s = n.as_string()) {
      if (auto v = ParseSize(s->get())) {
        *out = *v;
        return true;
      }
    }
    Problem(n, key, "expected a size like 4KiB or a byte count");
    return false;
  }

  // A table of path → value, nested tables flattened with dots (so that
  // `set = { attributes.team = "x" }` and `{ "attributes.team" = "x" }` agree).
  void Pairs(const toml::table& t, const std::string& prefix, std::string_view key, bool json_values,
             std::vector<std::pair<std::string, std::string>>* out) const {
    for (auto&& [k, node] : t) {
      std::string path = prefix.empty() ? std::string(k.str()) : prefix + "." + std::string(k.str());
      if (const toml::table* sub = node.as_table()) {
        Pairs(*sub, path, key, json_values, out);
        continue;
      }
      std::string value;
      if (auto s = node.as_string()) {
        if (json_values) {
          span::AppendJsonString(s->get(), value);
        } else {
          value = s->get();
        }
      } else if (json_values && node.is_integer()) {
        value = std::to_string(node.as_integer()->get());
      } else if (json_values && node.is_floating_point()) {
        span::AppendJsonDouble(node.as_floating_point()->get(), value);
      } else if (json_values && node.is_boolean()) {
        value = node.as_boolean()->get() ? "true" : "false";
      } else {
        Problem(node, std::string(key) + "." + path,
                json_values ? "expected a string, number or boolean" : "expected a string");
        continue;
      }
      out->emplace_back(std::move(path), std::move(value));
    }
  }
};

}  // namespace

process::ProcessorConfig ReadProcessorTable(const toml::table& t, const std::string& where, const std::string& file,
                                            std::vector<std::string>* problems) {
  process::ProcessorConfig c;
  Reader r{where, file, problems};
  if (const toml::node* type = t.get("type")) r.String(*type, "type", &c.type);
  std::vector<std::string_view> allowed = process::ProcessorKeys(c.type);
  for (auto&& [k, node] : t) {
    std::string_view key = k.str();
    if (key == "name") {
      r.String(node, key, &c.name);
      continue;
    }
    if (key == "type") continue;
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      if (!process::IsKnownProcessorType(c.type)) continue;  // Validate names the bad type
      r.Problem(node, key, "unknown key for type \"" + c.type + "\"");
      continue;
    }
    if (key == "detectors") {
      r.Strings(node, key, &c.detectors);
    } else if (key == "patterns") {
      r.Strings(node, key, &c.patterns);
    } else if (key == "fields") {
      r.Strings(node, key, &c.fields);
    } else if (key == "keep") {
      r.Strings(node, key, &c.keep);
    } else if (key == "delete") {
      r.Strings(node, key, &c.remove);
    } else if (key == "action") {
      r.String(node, key, &c.action);
    } else if (key == "condition") {
      r.String(node, key, &c.condition);
    } else if (key == "hash_key") {
      std::string raw;
      if (r.String(node, key, &raw)) {
        // Resolved like a header value: ${ENV} or @/path; never logged.
        auto resolved = upstream::ResolveHeaders({{"hash_key", raw}});
        if (!resolved) {
          r.Problem(node, key, resolved.error().message);
        } else {
          c.hash_key = resolved->front().second;
        }
      }
    } else if (key == "max_scan_bytes") {
      r.Size(node, key, &c.max_scan_bytes);
    } else if (key == "max_bytes") {
      r.Size(node, key, &c.max_bytes);
    } else if (key == "rate") {
      if (auto f = node.as_floating_point()) {
        c.rate = f->get();
      } else if (auto i = node.as_integer()) {
        c.rate = static_cast<double>(i->get());
      } else {
        r.Problem(node, key, "expected a number between 0 and 1");
      }
    } else if (key == "hash_seed") {
      auto i = node.as_integer();
      if (i == nullptr || i->get() < 0 || i->get() > 0xffffffffll) {
        r.Problem(node, key, "expected an integer between 0 and 4294967295");
      } else {
        c.hash_seed = static_cast<uint32_t>(i->get());
      }
    } else if (key == "decision_wait") {
      std::string s;
      if (r.String(node, key, &s)) {
        if (auto d = ParseDuration(s)) {
          c.decision_wait = *d;
        } else {
          r.Problem(node, key, "\"" + s + "\" is not a duration like 30s");
        }
      }
    } else if (key == "set" || key == "rename") {
      const toml::table* sub = node.as_table();
      if (sub == nullptr) {
        r.Problem(node, key, "expected a table, e.g. { \"attributes.team\" = \"search\" }");
        continue;
      }
      r.Pairs(*sub, "", key, key == "set", key == "set" ? &c.set : &c.rename);
    }
  }
  return c;
}

}  // namespace spanvault::daemon
