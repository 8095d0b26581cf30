#include "cost/exact_json.h"

#include <toml++/toml.h>

#include <cstdio>
#include <string>
#include <vector>

// nlohmann's SAX interface passes the source text of every float, which is
// the hook used here. toml++ only keeps doubles, but every node records where
// it came from, so the float's token is read back from the document text.

namespace spanvault::cost {
namespace {

using nlohmann::json;

class ExactSax {
 public:
  explicit ExactSax(json& root) : root_(root) {}

  bool null() { return Put(json(nullptr)); }
  bool boolean(bool v) { return Put(json(v)); }
  bool number_integer(json::number_integer_t v) { return Put(json(v)); }
  bool number_unsigned(json::number_unsigned_t v) { return Put(json(v)); }
  bool number_float(json::number_float_t, const json::string_t& text) { return Put(json(text)); }
  bool string(json::string_t& v) { return Put(json(std::move(v))); }
  bool binary(json::binary_t&) { return false; }
  bool start_object(std::size_t) {
    json* j = Put(json::object());
    stack_.push_back(j);
    return true;
  }
  bool key(json::string_t& k) {
    key_ = std::move(k);
    return true;
  }
  bool end_object() {
    stack_.pop_back();
    return true;
  }
  bool start_array(std::size_t) {
    json* j = Put(json::array());
    stack_.push_back(j);
    return true;
  }
  bool end_array() {
    stack_.pop_back();
    return true;
  }
  bool parse_error(std::size_t position, const std::string&, const nlohmann::detail::exception& e) {
    error_ = "invalid JSON at byte " + std::to_string(position) + ": " + e.what();
    return false;
  }

  const std::string& error() const { return error_; }

 private:
  // Inserts `v` where the parser is and returns its address (stable: the
  // containers on the stack are only appended to through this pointer).
  json* Put(json v) {
    if (stack_.empty()) {
      root_ = std::move(v);
      return &root_;
    }
    json& top = *stack_.back();
    if (top.is_array()) {
      top.push_back(std::move(v));
      return &top.back();
    }
    json& slot = top[key_];
    slot = std::move(v);
    return &slot;
  }

  json& root_;
  std::vector<json*> stack_;
  std::string key_;
  std::string error_;
};

// Byte offset of (line, column), both 1-based, column counted in code points.
size_t OffsetOf(std::string_view text, uint32_t line, uint32_t column) {
  size_t pos = 0;
  for (uint32_t l = 1; l < line && pos < text.size(); ++l) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) return text.size();
    pos = nl + 1;
  }
  for (uint32_t c = 1; c < column && pos < text.size(); ++c) {
    ++pos;
    while (pos < text.size() && (static_cast<unsigned char>(text[pos]) & 0xC0) == 0x80) ++pos;
  }
  return pos;
}

Result<json> Convert(const toml::node& node, std::string_view text);

Result<json> ConvertFloat(const toml::node& node, std::string_view text) {
  const auto& where = node.source().begin;
  size_t pos = OffsetOf(text, where.line, where.column);
  std::string token;
  while (pos < text.size()) {
    char c = text[pos];
    if ((c >= '0' && c <= '9') || c == '.' || c == '-' || c == '+' || c == 'e' || c == 'E' || c == '_' || c == 'i' ||
        c == 'n' || c == 'f' || c == 'a') {
      if (c != '_') token.push_back(c);
      ++pos;
    } else {
      break;
    }
  }
  if (token.find_first_of("inf") != std::string::npos || token.find('a') != std::string::npos) {
    return Fail(Error::Invalid("line " + std::to_string(where.line) + ": inf/nan is not a price"));
  }
  if (token.empty()) {
    return Fail(Error::Invalid("line " + std::to_string(where.line) + ": cannot read number"));
  }
  return json(token);
}

Result<json> Convert(const toml::node& node, std::string_view text) {
  switch (node.type()) {
    case toml::node_type::table: {
      json out = json::object();
      for (const auto& [k, v] : *node.as_table()) {
        auto c = Convert(v, text);
        if (!c) return c;
        out[std::string(k.str())] = std::move(*c);
      }
      return out;
    }
    case toml::node_type::array: {
      json out = json::array();
      for (const auto& v : *node.as_array()) {
        auto c = Convert(v, text);
        if (!c) return c;
        out.push_back(std::move(*c));
      }
      return out;
    }
    case toml::node_type::string:
      return json(node.as_string()->get());
    case toml::node_type::integer:
      return json(node.as_integer()->get());
    case toml::node_type::floating_point:
      return ConvertFloat(node, text);
    case toml::node_type::boolean:
      return json(node.as_boolean()->get());
    case toml::node_type::date: {
      const auto& d = node.as_date()->get();
      char buf[16];
      std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", d.year % 10000, d.month % 100, d.day % 100);
      return json(std::string(buf));
    }
    case toml::node_type::time: {
      const auto& t = node.as_time()->get();
      char buf[16];
      std::snprintf(buf, sizeof buf, "%02d:%02d:%02d", t.hour % 100, t.minute % 100, t.second % 100);
      return json(std::string(buf));
    }
    default:
      return Fail(
          Error::Invalid("line " + std::to_string(node.source().begin.line) + ": date-times are not supported here"));
  }
}

}  // namespace

Result<json> ParseExactJson(std::string_view text) {
  json root;
  ExactSax sax(root);
  bool ok = false;
  try {
    ok = json::sax_parse(text.begin(), text.end(), &sax, json::input_format_t::json, true, false);
  } catch (const std::exception& e) {
    return Fail(Error::Invalid(std::string("invalid JSON: ") + e.what()));
  }
  if (!ok) return Fail(Error::Invalid(sax.error().empty() ? "invalid JSON" : sax.error()));
  return root;
}

Result<json> ParseExactToml(std::string_view text) {
  try {
    toml::table table = toml::parse(text);
    return Convert(table, text);
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    return Fail(Error::Invalid("invalid TOML at line " + std::to_string(where.line) + ", column " +
                               std::to_string(where.column) + ": " + std::string(e.description())));
  } catch (const std::exception& e) {
    return Fail(Error::Invalid(std::string("invalid TOML: ") + e.what()));
  }
}

}  // namespace spanvault::cost
