// The redact processor: walks the selected fields of a span (any depth:
// message lists, content parts, nested attributes), runs the detectors and
// the user's patterns over every string value (object keys are left as they
// are), and writes the span back with each match masked, hashed, or its
// field dropped. Strings without a match are copied through byte for byte.
//
// When it cannot check a field (the span's scan budget is spent, or the
// field is unreadable) it masks the whole field: nothing unchecked passes.
#include <openssl/hmac.h>
#include <re2/re2.h>

#include <algorithm>
#include <cstring>

#include "process/processor.h"
#include "span/json_writer.h"

namespace spanvault::process {
namespace {

enum class Action { kMask, kHash, kDropField };

constexpr std::string_view kDefaultFields[] = {"input", "output", "expected", "attributes", "error"};
constexpr std::string_view kFieldNames[] = {"input", "output", "expected", "attributes",      "metadata",
                                            "error", "name",   "tags",     "model_parameters"};
// Fields the span cannot be without: masked instead of dropped.
bool Required(std::string_view key) { return key == "name"; }

enum class Outcome { kNone, kChanged, kDrop, kGaveUp };

class Redact final : public Processor {
 public:
  Redact(DetectorSet detectors, std::vector<std::unique_ptr<RE2>> patterns, std::vector<std::string> fields,
         Action action, std::string key, uint64_t budget)
      : detectors_(detectors),
        patterns_(std::move(patterns)),
        fields_(std::move(fields)),
        action_(action),
        key_(std::move(key)),
        budget_(budget) {}

  // Reads the span text itself (no member index from the chain): each
  // selected field is walked once, finding its end and its matches together.
  bool NeedsIndex() const override { return false; }

  Verdict Apply(const SpanView& span, std::string& out, Counters& c) const override {
    // First the members, the selected fields walked as they come; the span is
    // rebuilt only when one of them changed (most spans hold nothing to
    // redact and are not copied).
    struct Change {
      size_t member;
      bool drop;
      std::string value;
    };
    std::vector<Change> changes;
    thread_local std::vector<SpanView::Member> members;
    members.clear();
    uint64_t budget = budget_;
    Scratch s;
    const std::string_view t = span.text();
    auto unreadable = [&c] {
      c.unreadable.Add();
      return Verdict::kDrop;
    };
    size_t p = json::SkipWs(t, 0);
    if (p >= t.size() || t[p] != '{') return unreadable();
    p = json::SkipWs(t, p + 1);
    bool more = p < t.size() && t[p] != '}';
    while (more) {
      if (p >= t.size() || t[p] != '"') return unreadable();
      const size_t key_end = json::SkipString(t, p);
      if (key_end == json::npos) return unreadable();
      const std::string_view key = t.substr(p + 1, key_end - p - 2);
      p = json::SkipWs(t, key_end);
      if (p >= t.size() || t[p] != ':') return unreadable();
      p = json::SkipWs(t, p + 1);
      const size_t k = members.size();
      size_t end = json::npos;
      if (Selected(key) &&
          !(action_ == Action::kDropField && key == "attributes" && json::KindOf(t.substr(p)) == json::Kind::kObject)) {
        std::string val;
        Outcome o = Value(t, p, &end, val, budget, s, c, key == "attributes");
        if (end == json::npos) return unreadable();
        if (o == Outcome::kDrop && Required(key)) {
          changes.push_back({k, false, "\"[REDACTED]\""});
        } else if (o == Outcome::kDrop) {
          c.fields_dropped.Add();
          changes.push_back({k, true, {}});
        } else if (o != Outcome::kNone) {
          changes.push_back({k, false, std::move(val)});
        }
      } else {
        end = json::SkipValue(t, p);
        if (end == json::npos) return unreadable();
        if (Selected(key)) {
          // drop_field on attributes: per attribute, the key whose value
          // holds a match goes.
          std::string attrs = "{";
          bool afirst = true, achanged = false;
          json::ForEachMember(t.substr(p, end - p), [&](std::string_view akey, std::string_view v) {
            std::string val;
            size_t vend = 0;
            Outcome o = Value(v, 0, &vend, val, budget, s, c);
            if (o == Outcome::kNone) {
              AppendMember(attrs, akey, v, &afirst);
            } else if (o == Outcome::kDrop) {
              c.fields_dropped.Add();
              achanged = true;
            } else {
              AppendMember(attrs, akey, val, &afirst);
              achanged = true;
            }
            return true;
          });
          attrs.push_back('}');
          if (achanged) changes.push_back({k, false, std::move(attrs)});
        }
      }
      members.push_back({key, t.substr(p, end - p)});
      p = json::SkipWs(t, end);
      if (p >= t.size()) return unreadable();
      if (t[p] == '}') break;
      if (t[p] != ',') return unreadable();
      p = json::SkipWs(t, p + 1);
    }
    if (changes.empty()) return Verdict::kUnchanged;
    std::string result;
    result.reserve(span.text().size() + 64);
    result.push_back('{');
    bool first = true;
    size_t next = 0;
    for (size_t k = 0; k < members.size(); ++k) {
      if (next < changes.size() && changes[next].member == k) {
        const Change& ch = changes[next++];
        if (!ch.drop) AppendMember(result, members[k].key, ch.value, &first);
        continue;
      }
      AppendMember(result, members[k].key, members[k].value, &first);
    }
    result.push_back('}');
    out = std::move(result);
    return Verdict::kChanged;
  }

 private:
  struct Scratch {
    std::string unescaped, text;
    std::vector<Match> matches;
  };

  bool Selected(std::string_view key) const {
    for (std::string_view f : fields_) {
      if (f.size() == key.size() && !f.empty() && f[0] == key[0] && f == key) return true;
    }
    return false;
  }

  // Redacts the value starting at text[start] into `out`; `*end`: one past
  // it (npos when the text is malformed there). kGaveUp: `out` is the whole
  // field masked: "[REDACTED]", or {} for `attributes` (it must stay an
  // object).
  Outcome Value(std::string_view text, size_t start, size_t* end, std::string& out, uint64_t& budget, Scratch& s,
                Counters& c, bool keep_object = false) const {
    out.clear();
    Outcome o = Walk(text, start, end, out, budget, s, c);
    if (o == Outcome::kGaveUp) {
      // Where the walk stopped short, the value's end is found without it.
      if (*end == json::npos) *end = json::SkipValue(text, start);
      c.gave_up.Add();
      out = keep_object ? "{}" : "\"[REDACTED]\"";
    }
    return o;
  }

  // One value from text[start]: its strings decoded and searched, object keys
  // left alone. Stops at the value's end (`*end`; npos on kGaveUp).
  Outcome Walk(std::string_view text, size_t start, size_t* end, std::string& out, uint64_t& budget, Scratch& s,
               Counters& c) const {
    *end = json::npos;
    const std::string_view raw = text.substr(start);
    char stack[json::kMaxDepth];
    int depth = 0;
    bool expect_key = false;
    size_t copied = 0;
    bool any = false;
    size_t i = 0;
    bool done = false;
    while (i < raw.size() && !done) {
      const char ch = raw[i];
      if (ch == '"') {
        bool escaped = false;
        const size_t str_end = json::SkipString(raw, i, &escaped);
        if (str_end == json::npos) return Outcome::kGaveUp;
        if (expect_key) {
          expect_key = false;
          i = str_end;
          continue;
        }
        std::string_view contents = raw.substr(i + 1, str_end - i - 2);
        if (contents.size() > budget) return Outcome::kGaveUp;
        budget -= contents.size();
        std::string_view decoded = contents;
        if (escaped) {
          s.unescaped.clear();
          if (!json::Unescape(contents, s.unescaped)) return Outcome::kGaveUp;
          decoded = s.unescaped;
        }
        s.matches.clear();
        Find(decoded, s.matches, c);
        if (!s.matches.empty()) {
          if (action_ == Action::kDropField) {
            *end = json::SkipValue(text, start);
            return Outcome::kDrop;
          }
          out.append(raw.substr(copied, i - copied));
          Replace(decoded, s.matches, s.text);
          span::AppendJsonString(s.text, out);
          copied = str_end;
          any = true;
        }
        i = str_end;
        done = depth == 0;
        continue;
      }
      if (ch == '{' || ch == '[') {
        if (depth == json::kMaxDepth) return Outcome::kGaveUp;
        stack[depth++] = ch;
        expect_key = ch == '{';
      } else if (ch == '}' || ch == ']') {
        if (depth == 0 || (ch == '}') != (stack[depth - 1] == '{')) return Outcome::kGaveUp;
        --depth;
        expect_key = false;
        done = depth == 0;
      } else if (ch == ',') {
        if (depth == 0) return Outcome::kGaveUp;
        expect_key = stack[depth - 1] == '{';
      } else if (depth == 0) {
        // A scalar at the top: up to its delimiter.
        size_t e = json::SkipValue(raw, i);
        if (e == json::npos) return Outcome::kGaveUp;
        i = e;
        break;
      }
      ++i;
    }
    if (depth != 0 || (!done && i == 0)) return Outcome::kGaveUp;
    *end = start + i;
    if (!any) return Outcome::kNone;
    out.append(raw.substr(copied, i - copied));
    return Outcome::kChanged;
  }

  // Every match in `text`, sorted, overlapping ones merged (the first one's
  // kind names the merged range). Counted per detector.
  void Find(std::string_view text, std::vector<Match>& matches, Counters& c) const {
    if (detectors_ != 0) Detect(text, detectors_, matches);
    const size_t builtin = matches.size();
    for (const auto& re : patterns_) {
      re2::StringPiece input(text.data(), text.size());
      re2::StringPiece m;
      size_t pos = 0;
      while (pos <= text.size() && re->Match(input, pos, text.size(), RE2::UNANCHORED, &m, 1)) {
        size_t b = static_cast<size_t>(m.data() - text.data());
        size_t e = b + m.size();
        if (e > b) matches.push_back({static_cast<uint32_t>(b), static_cast<uint32_t>(e), Detector::kPattern});
        pos = e > b ? e : e + 1;
      }
    }
    for (const Match& m : matches) c.redactions[static_cast<int>(m.kind)].Add();
    if (matches.size() > builtin) {
      std::sort(matches.begin(), matches.end(), [](const Match& a, const Match& b) { return a.begin < b.begin; });
      size_t w = 0;
      for (size_t r = 1; r < matches.size(); ++r) {
        if (matches[r].begin < matches[w].end) {
          matches[w].end = std::max(matches[w].end, matches[r].end);
        } else {
          matches[++w] = matches[r];
        }
      }
      matches.resize(w + 1);
    }
  }

  void Replace(std::string_view text, const std::vector<Match>& matches, std::string& out) const {
    out.clear();
    size_t at = 0;
    for (const Match& m : matches) {
      out.append(text.substr(at, m.begin - at));
      std::string_view tag = DetectorTag(m.kind);
      if (action_ == Action::kHash) {
        out.append(tag.substr(0, tag.size() - 1));
        out.push_back(':');
        Pseudonym(text.substr(m.begin, m.end - m.begin), out);
        out.push_back(']');
      } else {
        out.append(tag);
      }
      at = m.end;
    }
    out.append(text.substr(at));
  }

  // The first 4 bytes of HMAC-SHA256(hash_key, value) as 8 hex digits: the
  // same value gives the same pseudonym on every span and host with the key.
  void Pseudonym(std::string_view value, std::string& out) const {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()), reinterpret_cast<const unsigned char*>(value.data()),
         value.size(), md, &len);
    static constexpr char kHex[] = "0123456789abcdef";
    for (unsigned k = 0; k < 4 && k < len; ++k) {
      out.push_back(kHex[md[k] >> 4]);
      out.push_back(kHex[md[k] & 15]);
    }
  }

  DetectorSet detectors_;
  std::vector<std::unique_ptr<RE2>> patterns_;
  std::vector<std::string> fields_;
  Action action_;
  std::string key_;
  uint64_t budget_;
};

}  // namespace

std::unique_ptr<Processor> MakeRedact(const ProcessorConfig& config, std::vector<std::string>* problems) {
  const size_t before = problems->size();
  DetectorSet set = 0;
  for (const std::string& d : config.detectors) {
    Detector det;
    if (!ParseDetector(d, &det)) {
      problems->push_back("detector \"" + d + "\" is not one of email, phone, credit_card, api_key, ip_address");
      continue;
    }
    set |= Bit(det);
  }
  std::vector<std::unique_ptr<RE2>> patterns;
  for (const std::string& p : config.patterns) {
    RE2::Options o;
    o.set_log_errors(false);
    o.set_max_mem(8 << 20);
    auto re = std::make_unique<RE2>(p, o);
    if (!re->ok()) {
      problems->push_back("pattern '" + p + "': " + re->error());
      continue;
    }
    patterns.push_back(std::move(re));
  }
  std::vector<std::string> fields;
  for (const std::string& f : config.fields) {
    if (std::find(std::begin(kFieldNames), std::end(kFieldNames), f) == std::end(kFieldNames)) {
      problems->push_back("field \"" + f +
                          "\" is not one of input, output, expected, attributes, metadata, error, name, tags, "
                          "model_parameters");
      continue;
    }
    fields.push_back(f);
  }
  if (config.fields.empty()) fields.assign(std::begin(kDefaultFields), std::end(kDefaultFields));
  for (std::string& f : fields) {
    if (f == "metadata") f = "attributes";  // the decoder merged them
  }
  Action action = Action::kMask;
  if (config.action == "hash") {
    action = Action::kHash;
    if (config.hash_key.empty()) problems->push_back("action \"hash\" needs a hash_key");
  } else if (config.action == "drop_field") {
    action = Action::kDropField;
  } else if (config.action != "mask") {
    problems->push_back("action \"" + config.action + "\" is not one of mask, hash, drop_field");
  }
  if (set == 0 && patterns.empty() && problems->size() == before) {
    problems->push_back("no detector and no pattern: nothing to redact");
  }
  if (config.max_scan_bytes < 1024) problems->push_back("max_scan_bytes must be at least 1 KiB");
  if (problems->size() != before) return nullptr;
  return std::make_unique<Redact>(set, std::move(patterns), std::move(fields), action, config.hash_key,
                                  config.max_scan_bytes);
}

}  // namespace spanvault::process
