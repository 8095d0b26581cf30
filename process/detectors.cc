// The built-in detectors: one pass over the text. Rare anchor characters
// start the checks ('@' for e-mail, a letter at a word start for key
// prefixes, a digit, '+' or '(' at a word start for numbers), and a word that
// matches nothing is skipped whole, so most bytes cost one table lookup. What
// each detector accepts, and why each look-alike is left alone, is in
// docs/processors.md ("Detectors").
#include "process/detectors.h"

#include <array>
#include <cstring>

namespace spanvault::process {
namespace {

enum : uint8_t { kDigit = 1, kUpper = 2, kLower = 4, kHexLetter = 8, kLocal = 16, kB64 = 32, kTok = 64 };

constexpr std::array<uint8_t, 256> MakeClasses() {
  std::array<uint8_t, 256> t{};
  for (int c = '0'; c <= '9'; ++c) t[c] |= kDigit | kLocal | kB64 | kTok;
  for (int c = 'A'; c <= 'Z'; ++c) t[c] |= kUpper | kLocal | kB64 | kTok;
  for (int c = 'a'; c <= 'z'; ++c) t[c] |= kLower | kLocal | kB64 | kTok;
  for (int c = 'a'; c <= 'f'; ++c) t[c] |= kHexLetter;
  for (int c = 'A'; c <= 'F'; ++c) t[c] |= kHexLetter;
  for (char c : {'.', '_', '%', '+', '-'}) t[static_cast<unsigned char>(c)] |= kLocal;
  for (char c : {'_', '-'}) t[static_cast<unsigned char>(c)] |= kB64;
  for (char c : {'.', '_', '~', '+', '/', '=', '-'}) t[static_cast<unsigned char>(c)] |= kTok;
  return t;
}
constexpr std::array<uint8_t, 256> kClass = MakeClasses();

inline uint8_t Cls(char c) { return kClass[static_cast<unsigned char>(c)]; }
inline bool IsDigit(char c) { return Cls(c) & kDigit; }
inline bool IsAlpha(char c) { return Cls(c) & (kUpper | kLower); }
inline bool IsAlnum(char c) { return Cls(c) & (kDigit | kUpper | kLower); }
inline bool IsHex(char c) { return Cls(c) & (kDigit | kHexLetter); }
inline bool IsUpperDigit(char c) { return Cls(c) & (kDigit | kUpper); }
inline bool IsB64(char c) { return Cls(c) & kB64; }  // base64url and key bodies: [A-Za-z0-9_-]
inline bool IsWordish(char c) { return IsAlnum(c) || c == '_'; }

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool StartsWith(std::string_view t, size_t i, std::string_view p) { return t.substr(i, p.size()) == p; }

// The end of a run of characters satisfying `pred` from `i`.
template <typename Pred>
size_t Run(std::string_view t, size_t i, Pred pred) {
  while (i < t.size() && pred(t[i])) ++i;
  return i;
}

// ------------------------------------------------------------------ e-mail

bool TryEmail(std::string_view t, size_t at, size_t floor, Match* m) {
  size_t j = at;
  while (j > floor && (Cls(t[j - 1]) & kLocal) && at - j < 64) --j;
  while (j < at && t[j] == '.') ++j;
  if (j == at) return false;
  size_t k = at + 1;
  int labels = 0;
  size_t end = 0;
  while (k < t.size() && labels < 127) {
    size_t label_end = Run(t, k, [](char c) { return IsAlnum(c) || c == '-'; });
    if (label_end == k || label_end - k > 63) break;
    ++labels;
    bool alpha_tld = label_end - k >= 2;
    for (size_t x = k; x < label_end && alpha_tld; ++x) alpha_tld = IsAlpha(t[x]);
    if (labels >= 2 && alpha_tld) end = label_end;
    if (label_end + 1 < t.size() && t[label_end] == '.' && IsAlnum(t[label_end + 1])) {
      k = label_end + 1;
      continue;
    }
    break;
  }
  if (end == 0 || end - at > 254) return false;
  *m = {static_cast<uint32_t>(j), static_cast<uint32_t>(end), Detector::kEmail};
  return true;
}

// ------------------------------------------------------------------ keys

// A key body of at least `min` characters of `pred` from `from`, ending at a
// word boundary: its end, or 0.
template <typename Pred>
size_t Body(std::string_view t, size_t from, size_t min, Pred pred) {
  size_t e = Run(t, from, pred);
  if (e - from < min) return 0;
  if (e < t.size() && (IsWordish(t[e]) || t[e] == '-')) return 0;
  return e;
}

bool TryKey(std::string_view t, size_t i, Match* m) {
  size_t end = 0;
  size_t begin = i;
  const char c = t[i];
  if (c == 's' && StartsWith(t, i, "sk-")) {
    // OpenAI sk-..., sk-proj-...; Anthropic sk-ant-...
    end = Body(t, i + 3, 20, IsB64);
  } else if (c == 'A' && (StartsWith(t, i, "AKIA") || StartsWith(t, i, "ASIA"))) {
    size_t e = Run(t, i + 4, IsUpperDigit);
    if (e - (i + 4) == 16 && (e == t.size() || !IsWordish(t[e]))) end = e;
  } else if (c == 'g' && t.size() > i + 4 && t[i + 1] == 'h' && t[i + 3] == '_' &&
             std::strchr("pousr", t[i + 2]) != nullptr && t[i + 2] != '\0') {
    end = Body(t, i + 4, 30, IsAlnum);
  } else if (c == 'g' && StartsWith(t, i, "github_pat_")) {
    end = Body(t, i + 11, 22, IsWordish);
  } else if (c == 'x' && t.size() > i + 4 && t[i + 1] == 'o' && t[i + 2] == 'x' &&
             std::strchr("abpr", t[i + 3]) != nullptr && t[i + 3] != '\0' && t[i + 4] == '-') {
    end = Body(t, i + 5, 10, [](char x) { return IsAlnum(x) || x == '-'; });
  } else if (c == 'e' && StartsWith(t, i, "eyJ")) {
    // A JWT: header.payload.signature, both JSON parts base64url of "{\"".
    size_t a = Run(t, i, IsB64);
    if (a - i >= 10 && a + 4 < t.size() && t[a] == '.' && StartsWith(t, a + 1, "eyJ")) {
      size_t b = Run(t, a + 1, IsB64);
      if (b - a > 8 && b < t.size() && t[b] == '.') {
        size_t s = Run(t, b + 1, IsB64);
        if (s == t.size() || !IsWordish(t[s])) end = s;
      }
    }
  } else if ((c == 'B' || c == 'b') && t.size() > i + 7 && Lower(t[i + 1]) == 'e' && Lower(t[i + 2]) == 'a' &&
             Lower(t[i + 3]) == 'r' && Lower(t[i + 4]) == 'e' && Lower(t[i + 5]) == 'r' && t[i + 6] == ' ') {
    // "Bearer <token>": the token is masked, the scheme stays.
    size_t s = Run(t, i + 6, [](char x) { return x == ' '; });
    size_t e = Run(t, s, [](char x) { return (Cls(x) & kTok) != 0; });
    if (e - s >= 16 && (e == t.size() || !IsWordish(t[e]))) {
      begin = s;
      end = e;
    }
  }
  if (end == 0) return false;
  *m = {static_cast<uint32_t>(begin), static_cast<uint32_t>(end), Detector::kApiKey};
  return true;
}

// ------------------------------------------------------------------ numbers

struct Groups {
  struct G {
    uint32_t b = 0, e = 0;
    bool paren = false;
  };
  G g[8];
  char sep[8] = {};  // sep[k]: the character before group k (0 for none)
  int n = 0;
  int digits = 0;
  bool plus = false;
  size_t begin = 0, end = 0;
  int len(int k) const { return static_cast<int>(g[k].e - g[k].b); }
  bool seps_are(char c) const {
    for (int k = 1; k < n; ++k) {
      if (sep[k] != c) return false;
    }
    return true;
  }
};

// Digit groups from `i`: an optional '+', then groups of digits (a group may
// be in parentheses) separated by one ' ', '-' or '.'. False when nothing
// that could be a number starts there.
bool ScanGroups(std::string_view t, size_t i, Groups* gr) {
  size_t k = i;
  gr->begin = i;
  if (t[k] == '+') {
    gr->plus = true;
    ++k;
  }
  char sep = 0;
  while (k < t.size() && gr->n < 8) {
    bool paren = false;
    if (t[k] == '(') {
      paren = true;
      ++k;
    }
    size_t e = Run(t, k, IsDigit);
    if (e == k || e - k > 19) return false;
    Groups::G& g = gr->g[gr->n];
    g = {static_cast<uint32_t>(k), static_cast<uint32_t>(e), paren};
    gr->sep[gr->n] = sep;
    gr->digits += static_cast<int>(e - k);
    ++gr->n;
    k = e;
    if (paren) {
      if (k >= t.size() || t[k] != ')') return false;
      ++k;
    }
    gr->end = k;
    if (k + 1 < t.size() && (t[k] == ' ' || t[k] == '-' || t[k] == '.') && (IsDigit(t[k + 1]) || t[k + 1] == '(')) {
      sep = t[k];
      ++k;
      continue;
    }
    if (paren && k < t.size() && IsDigit(t[k])) {
      sep = 0;
      continue;
    }
    break;
  }
  return gr->n > 0;
}

// A dotted quad right after one of these words is a version, not an address.
bool PrecededByVersion(std::string_view t, size_t i) {
  size_t j = i;
  while (j > 0 && (t[j - 1] == ' ' || t[j - 1] == ':' || t[j - 1] == '=')) --j;
  for (std::string_view w : {"version", "ver", "v", "build", "release", "firmware"}) {
    if (j < w.size()) continue;
    bool same = true;
    for (size_t x = 0; x < w.size() && same; ++x) same = Lower(t[j - w.size() + x]) == w[x];
    if (same && (j == w.size() || !IsAlpha(t[j - w.size() - 1]))) return true;
  }
  return false;
}

bool IsIpv4(std::string_view t, const Groups& gr) {
  if (gr.plus || gr.n != 4 || !gr.seps_are('.')) return false;
  for (int k = 0; k < 4; ++k) {
    if (gr.g[k].paren || gr.len(k) > 3) return false;
    int v = 0;
    for (uint32_t x = gr.g[k].b; x < gr.g[k].e; ++x) v = v * 10 + (t[x] - '0');
    if (v > 255) return false;
  }
  if (gr.end < t.size() && t[gr.end] == '.') return false;  // 1.2.3.4. ...: a longer dotted number
  return !PrecededByVersion(t, gr.begin);
}

bool IsCard(std::string_view t, const Groups& gr) {
  if (gr.plus || gr.digits < 13 || gr.digits > 19) return false;
  if (gr.n > 1 && !gr.seps_are(' ') && !gr.seps_are('-')) return false;
  for (int k = 0; k < gr.n; ++k) {
    if (gr.g[k].paren) return false;
    if (gr.n > 1 && k < gr.n - 1 && (gr.len(k) < 4 || gr.len(k) > 6)) return false;
  }
  char first = t[gr.g[0].b];
  if (first < '2' || first > '6') return false;
  return LuhnValid(t.substr(gr.begin, gr.end - gr.begin));
}

bool IsPhone(std::string_view t, const Groups& gr) {
  if (gr.end < t.size() && t[gr.end] == ':') return false;  // a time
  if (gr.plus) return gr.digits >= 8 && gr.digits <= 15;
  auto first_digit = [&](int k) { return t[gr.g[k].b]; };
  // Ten digits as 3-3-4 (or (3) 3-4), optionally after a country code 1.
  int k0 = 0;
  if (gr.n == 4 && gr.len(0) == 1 && first_digit(0) == '1') k0 = 1;
  if (gr.n - k0 == 3 && gr.len(k0) == 3 && gr.len(k0 + 1) == 3 && gr.len(k0 + 2) == 4) {
    if (gr.g[k0 + 1].paren || gr.g[k0 + 2].paren) return false;
    if (!gr.g[k0].paren && !(gr.sep[k0 + 1] == gr.sep[k0 + 2] || gr.sep[k0 + 2] == '-')) return false;
    return first_digit(k0) >= '2';
  }
  // National numbers with a trunk 0 (UK, EU): 10-11 digits in 2-4 groups of 3+.
  if (first_digit(0) == '0' && gr.n >= 2 && gr.n <= 4 && gr.digits >= 10 && gr.digits <= 11 && !gr.seps_are('.')) {
    for (int k = 0; k < gr.n; ++k) {
      if (gr.len(k) < 3 && !(k == 0 && gr.g[0].paren)) return false;
    }
    return true;
  }
  return false;
}

// The first k groups of `gr`.
Groups Prefix(const Groups& gr, int k) {
  Groups p = gr;
  p.n = k;
  p.digits = 0;
  for (int x = 0; x < k; ++x) p.digits += p.len(x);
  p.end = p.g[k - 1].e + (p.g[k - 1].paren ? 1 : 0);
  return p;
}

// The longest run of the groups that is an IP address, a card or a phone
// number: all of them, or fewer when the rest follows after a space ("call
// 415-555-2671 10 times"). Glued to a letter or underscore, the whole is part
// of an identifier (UUID, hex id) and nothing matches.
bool Classify(std::string_view t, const Groups& gr, DetectorSet enabled, bool phone_only, Match* m) {
  if (gr.end < t.size() && IsWordish(t[gr.end])) return false;
  for (int k = gr.n; k >= 1; --k) {
    if (k < gr.n && gr.sep[k] != ' ') continue;  // "-" or "." goes on with the same token
    Groups p = Prefix(gr, k);
    Detector kind;
    if (!phone_only && (enabled & Bit(Detector::kIpAddress)) && IsIpv4(t, p)) {
      kind = Detector::kIpAddress;
    } else if (!phone_only && (enabled & Bit(Detector::kCreditCard)) && IsCard(t, p)) {
      kind = Detector::kCreditCard;
    } else if ((enabled & Bit(Detector::kPhone)) && IsPhone(t, p)) {
      kind = Detector::kPhone;
    } else {
      continue;
    }
    *m = {static_cast<uint32_t>(p.begin), static_cast<uint32_t>(p.end), kind};
    return true;
  }
  return false;
}

bool TryNumber(std::string_view t, size_t i, DetectorSet enabled, Match* m) {
  Groups gr;
  if (!ScanGroups(t, i, &gr)) return false;
  return Classify(t, gr, enabled, false, m);
}

// ------------------------------------------------------------------ IPv6

bool TryIpv6(std::string_view t, size_t i, Match* m) {
  size_t k = i;
  int groups = 0, doubles = 0;
  bool digit = false;
  for (;;) {
    size_t e = Run(t, k, IsHex);
    if (e - k > 4) return false;
    for (size_t x = k; x < e; ++x) digit |= IsDigit(t[x]);
    if (e > k) ++groups;
    k = e;
    if (k + 1 < t.size() && t[k] == ':' && t[k + 1] == ':') {
      if (++doubles > 1) return false;
      k += 2;
      continue;
    }
    if (k + 1 < t.size() && t[k] == ':' && IsHex(t[k + 1]) && groups > 0) {
      ++k;
      continue;
    }
    break;
  }
  if (k < t.size() && (IsWordish(t[k]) || (t[k] == '.' && k + 1 < t.size() && IsDigit(t[k + 1])))) return false;
  bool ok = doubles == 0 ? groups == 8 : (groups >= 2 && groups <= 7 && digit);
  if (!ok && doubles == 1 && groups == 1 && k - i == 3 && StartsWith(t, i, "::1")) ok = true;
  if (!ok) return false;
  *m = {static_cast<uint32_t>(i), static_cast<uint32_t>(k), Detector::kIpAddress};
  return true;
}

void Push(std::vector<Match>& out, size_t base, const Match& m) {
  while (out.size() > base && out.back().end > m.begin) out.pop_back();
  out.push_back(m);
}

}  // namespace

std::string_view DetectorName(Detector d) {
  static constexpr std::string_view kNames[] = {"email", "phone", "credit_card", "api_key", "ip_address", "pattern"};
  return kNames[static_cast<int>(d)];
}

std::string_view DetectorTag(Detector d) {
  static constexpr std::string_view kTags[] = {"[EMAIL]",   "[PHONE]",      "[CREDIT_CARD]",
                                               "[API_KEY]", "[IP_ADDRESS]", "[REDACTED]"};
  return kTags[static_cast<int>(d)];
}

bool ParseDetector(std::string_view name, Detector* d) {
  for (int k = 0; k < kDetectorCount - 1; ++k) {
    if (DetectorName(static_cast<Detector>(k)) == name) {
      *d = static_cast<Detector>(k);
      return true;
    }
  }
  return false;
}

bool LuhnValid(std::string_view s) {
  int sum = 0, n = 0;
  for (size_t i = s.size(); i-- > 0;) {
    if (!IsDigit(s[i])) continue;
    int d = s[i] - '0';
    if (n++ % 2 == 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return n > 0 && sum % 10 == 0;
}

void Detect(std::string_view t, DetectorSet enabled, std::vector<Match>& out) {
  const size_t base = out.size();
  const size_t n = t.size();
  const bool keys = enabled & Bit(Detector::kApiKey);
  const bool email = enabled & Bit(Detector::kEmail);
  const bool numbers = enabled & (Bit(Detector::kPhone) | Bit(Detector::kCreditCard) | Bit(Detector::kIpAddress));
  const bool phone = enabled & Bit(Detector::kPhone);
  const bool ip = enabled & Bit(Detector::kIpAddress);
  size_t floor = 0;  // end of the last match: no match starts before it
  size_t i = 0;
  Match m;
  while (i < n) {
    const char c = t[i];
    const uint8_t cls = Cls(c);
    if (cls & (kDigit | kUpper | kLower)) {
      const char prev = i > 0 ? t[i - 1] : ' ';
      if (!IsAlnum(prev)) {
        bool found = false;
        if (cls & kDigit) {
          // After '.', '-' or '_' a number continues something else (a
          // version, a UUID, an id).
          if (numbers && prev != '.' && prev != '-' && prev != '_') found = TryNumber(t, i, enabled, &m);
        } else if (keys && prev != '_' && prev != '-') {
          found = TryKey(t, i, &m);
        }
        if (!found && ip && (cls & (kDigit | kHexLetter)) && prev != '.' && prev != '-' && prev != '_') {
          found = TryIpv6(t, i, &m);
        }
        if (found) {
          Push(out, base, m);
          i = floor = m.end;
          continue;
        }
      }
      i = Run(t, i + 1, IsAlnum);
      continue;
    }
    if (c == '@') {
      if (email && TryEmail(t, i, floor, &m)) {
        Push(out, base, m);
        i = floor = m.end;
        continue;
      }
    } else if ((c == '+' || c == '(') && phone && (i == 0 || !IsWordish(t[i - 1]))) {
      Groups gr;
      if (i + 1 < n && ScanGroups(t, i, &gr) && (gr.plus || gr.g[0].paren) && Classify(t, gr, enabled, true, &m)) {
        Push(out, base, m);
        i = floor = m.end;
        continue;
      }
    } else if (c == ':' && ip && i + 1 < n && t[i + 1] == ':' && (i == 0 || !IsWordish(t[i - 1]))) {
      if (TryIpv6(t, i, &m)) {
        Push(out, base, m);
        i = floor = m.end;
        continue;
      }
    }
    ++i;
  }
}

}  // namespace spanvault::process
