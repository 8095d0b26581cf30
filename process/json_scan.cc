#include "process/json_scan.h"

#include <charconv>
#include <cstring>

namespace spanvault::process::json {
namespace {

bool IsWs(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

int Hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool Hex4(std::string_view s, size_t i, unsigned* v) {
  if (i + 4 > s.size()) return false;
  unsigned x = 0;
  for (size_t k = 0; k < 4; ++k) {
    int h = Hex(s[i + k]);
    if (h < 0) return false;
    x = x * 16 + static_cast<unsigned>(h);
  }
  *v = x;
  return true;
}

void AppendUtf8(unsigned cp, std::string& out) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

}  // namespace

Kind KindOf(std::string_view v) {
  if (v.empty()) return Kind::kInvalid;
  switch (v[0]) {
    case '"':
      return Kind::kString;
    case '{':
      return Kind::kObject;
    case '[':
      return Kind::kArray;
    case 't':
    case 'f':
      return Kind::kBool;
    case 'n':
      return Kind::kNull;
    default:
      return (v[0] == '-' || (v[0] >= '0' && v[0] <= '9')) ? Kind::kNumber : Kind::kInvalid;
  }
}

size_t SkipWs(std::string_view s, size_t pos) {
  while (pos < s.size() && IsWs(s[pos])) ++pos;
  return pos;
}

size_t SkipValue(std::string_view s, size_t pos) {
  char stack[kMaxDepth];
  int depth = 0;
  size_t i = pos;
  while (i < s.size()) {
    char c = s[i];
    if (c == '"') {
      i = SkipString(s, i);
      if (i == npos) return npos;
    } else if (c == '{' || c == '[') {
      if (depth == kMaxDepth) return npos;
      stack[depth++] = c == '{' ? '}' : ']';
      ++i;
    } else if (c == '}' || c == ']') {
      if (depth == 0 || stack[depth - 1] != c) return npos;
      --depth;
      ++i;
    } else if (depth > 0 && (c == ',' || c == ':' || IsWs(c))) {
      ++i;
    } else {
      // A scalar token: up to a delimiter.
      size_t start = i;
      while (i < s.size() && s[i] != ',' && s[i] != '}' && s[i] != ']' && s[i] != ':' && !IsWs(s[i]) && s[i] != '"' &&
             s[i] != '{' && s[i] != '[') {
        ++i;
      }
      if (i == start) return npos;
    }
    if (depth == 0) return i;
  }
  return npos;
}

bool Unescape(std::string_view raw, std::string& out) {
  size_t i = 0;
  while (i < raw.size()) {
    const void* q = std::memchr(raw.data() + i, '\\', raw.size() - i);
    size_t bs = q == nullptr ? raw.size() : static_cast<const char*>(q) - raw.data();
    out.append(raw.data() + i, bs - i);
    if (bs == raw.size()) return true;
    if (bs + 1 >= raw.size()) return false;
    char e = raw[bs + 1];
    i = bs + 2;
    switch (e) {
      case '"':
      case '\\':
      case '/':
        out.push_back(e);
        break;
      case 'b':
        out.push_back('\b');
        break;
      case 'f':
        out.push_back('\f');
        break;
      case 'n':
        out.push_back('\n');
        break;
      case 'r':
        out.push_back('\r');
        break;
      case 't':
        out.push_back('\t');
        break;
      case 'u': {
        unsigned cp = 0;
        if (!Hex4(raw, i, &cp)) return false;
        i += 4;
        if (cp >= 0xD800 && cp < 0xDC00) {
          unsigned lo = 0;
          if (i + 6 <= raw.size() && raw[i] == '\\' && raw[i + 1] == 'u' && Hex4(raw, i + 2, &lo) && lo >= 0xDC00 &&
              lo < 0xE000) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            i += 6;
          } else {
            cp = 0xFFFD;
          }
        } else if (cp >= 0xDC00 && cp < 0xE000) {
          cp = 0xFFFD;
        }
        AppendUtf8(cp, out);
        break;
      }
      default:
        return false;
    }
  }
  return true;
}

bool Text(std::string_view raw, std::string& scratch, std::string_view* text) {
  if (std::memchr(raw.data(), '\\', raw.size()) == nullptr) {
    *text = raw;
    return true;
  }
  scratch.clear();
  if (!Unescape(raw, scratch)) return false;
  *text = scratch;
  return true;
}

Scalar ReadScalar(std::string_view v, std::string& scratch) {
  Scalar s;
  s.kind = KindOf(v);
  switch (s.kind) {
    case Kind::kString:
      if (v.size() < 2 || !Text(v.substr(1, v.size() - 2), scratch, &s.text)) s.kind = Kind::kInvalid;
      break;
    case Kind::kBool:
      s.boolean = v == "true";
      if (!s.boolean && v != "false") s.kind = Kind::kInvalid;
      break;
    case Kind::kNull:
      if (v != "null") s.kind = Kind::kInvalid;
      break;
    case Kind::kNumber: {
      auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), s.number);
      if (ec != std::errc() || p != v.data() + v.size()) s.kind = Kind::kInvalid;
      break;
    }
    default:
      break;
  }
  return s;
}

size_t Utf8Cut(std::string_view s, size_t max) {
  if (s.size() <= max) return s.size();
  size_t n = max;
  // Back off continuation bytes (10xxxxxx) so the cut is before a lead byte.
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return n;
}

}  // namespace spanvault::process::json
