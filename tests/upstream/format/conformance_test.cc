// Export conformance: each file in tests/upstream/format/conformance/ holds
// the cases of one dialect or backend format (canonical spans → what that
// backend reads), written from the backend's own documents and ingestion
// code (named in the file's "source").
//
// A case: {"name", "finding" (issue 21's number), "format": "otlp" (default:
// the file's "dialect", protobuf and OTLP/JSON both checked) |
// "langfuse-ingestion" | "braintrust-logs", "spans": [canonical span, ...],
// "expect": ...}. For OTLP, "expect" maps attribute keys of span "span"
// (an index, default the last) to the value: a string, integer, float or
// boolean of that type; {"json": X} for a string holding JSON equal to X;
// {"array": [...]} for an array of strings; null for absent. For the JSON
// formats, "expect" maps JSON pointers into the body to the value, or
// "<absent>".
//
// Then the round trips (roundtrip/*.json): for each dialect, OTLP in with
// that dialect's attributes → canonical → the same dialect out gives back
// every attribute listed in "same" with its value.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "decode/otlp/otlp_ingest.h"
#include "span/batch.h"
#include "span/decoder.h"
#include "tests/upstream/format/otlp_export_reader.h"
#include "upstream/format/otlp_export.h"
#include "upstream/format/vendor_export.h"

namespace spanvault::otlp {
namespace {

using Json = nlohmann::json;
using testing::OtlpAttrs;
using testing::OtlpSpan;
using testing::OtlpValue;

std::vector<Json> Load(const std::string& folder) {
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(std::filesystem::path(SPANVAULT_SOURCE_DIR) / folder)) {
    if (e.path().extension() == ".json") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  std::vector<Json> docs;
  for (const auto& f : files) {
    std::ifstream in(f);
    std::stringstream text;
    text << in.rdbuf();
    Json doc = Json::parse(text.str(), nullptr, false);
    EXPECT_FALSE(doc.is_discarded()) << f << " is not JSON";
    EXPECT_TRUE(doc.contains("source")) << f << " names no document it follows";
    doc["file"] = f.filename().string();
    docs.push_back(std::move(doc));
  }
  return docs;
}

// The attribute `v` as the fixture writes it.
Json AsFixture(const OtlpValue& v) {
  switch (v.kind) {
    case OtlpValue::Kind::kString:
      return v.s;
    case OtlpValue::Kind::kInt:
      return v.i;
    case OtlpValue::Kind::kDouble:
      return v.d;
    case OtlpValue::Kind::kBool:
      return v.b;
    case OtlpValue::Kind::kArray: {
      Json a = Json::array();
      for (const auto& e : v.array) a.push_back(AsFixture(e));
      return Json{{"array", a}};
    }
    default:
      return "<other>";
  }
}

void ExpectAttr(const OtlpAttrs& attrs, const std::string& key, const Json& want) {
  SCOPED_TRACE(key);
  const OtlpValue* v = attrs.get(key);
  if (want.is_null()) {
    EXPECT_EQ(v, nullptr) << "should be absent, is " << (v ? AsFixture(*v).dump() : "");
    return;
  }
  ASSERT_NE(v, nullptr) << "missing";
  if (want.is_object() && want.contains("json")) {
    ASSERT_EQ(v->kind, OtlpValue::Kind::kString);
    EXPECT_EQ(Json::parse(v->s, nullptr, false), want["json"]) << v->s;
  } else if (want.is_number_float()) {
    ASSERT_EQ(v->kind, OtlpValue::Kind::kDouble) << AsFixture(*v).dump();
    EXPECT_DOUBLE_EQ(v->d, want.get<double>());
  } else {
    EXPECT_EQ(AsFixture(*v), want);
  }
}

std::vector<OtlpSpan> ExportOtlp(const std::vector<std::string>& spans, Dialect d, bool proto) {
  std::vector<std::string_view> views(spans.begin(), spans.end());
  std::string body;
  Status st = proto ? EncodeExportProto(views, {d}, body) : EncodeExportJson(views, {d}, body);
  EXPECT_TRUE(st) << st.error().message;
  std::vector<OtlpSpan> out;
  EXPECT_EQ(proto ? testing::ReadOtlpProto(body, out) : testing::ReadOtlpJson(body, out), "");
  return out;
}

TEST(ExportConformanceTest, EveryDialectWritesWhatItsBackendReads) {
  auto docs = Load("tests/upstream/format/conformance");
  ASSERT_GE(docs.size(), 5u);
  size_t cases = 0;
  for (const Json& doc : docs) {
    SCOPED_TRACE(doc["file"].get<std::string>());
    for (const Json& c : doc["cases"]) {
      SCOPED_TRACE(c.value("name", "?"));
      ++cases;
      std::vector<std::string> spans;
      for (const Json& s : c["spans"]) spans.push_back(s.dump());
      std::vector<std::string_view> views(spans.begin(), spans.end());
      const std::string format = c.value("format", "otlp");
      if (format == "otlp") {
        auto d = ParseDialect(doc["dialect"].get<std::string>());
        ASSERT_TRUE(d);
        for (bool proto : {true, false}) {
          SCOPED_TRACE(proto ? "proto" : "json");
          auto out = ExportOtlp(spans, *d, proto);
          ASSERT_EQ(out.size(), spans.size());
          size_t index = c.value("span", spans.size() - 1);
          for (auto it = c["expect"].begin(); it != c["expect"].end(); ++it) {
            ExpectAttr(out[index].attrs, it.key(), *it);
          }
          EXPECT_EQ(out[index].attrs.duplicates, 0);
        }
        continue;
      }
      std::string body;
      Status st =
          format == "langfuse-ingestion" ? EncodeLangfuseIngestion(views, body) : EncodeBraintrustLogs(views, body);
      ASSERT_TRUE(st) << st.error().message;
      Json j = Json::parse(body);
      for (auto it = c["expect"].begin(); it != c["expect"].end(); ++it) {
        Json::json_pointer p(it.key());
        if (*it == "<absent>") {
          EXPECT_FALSE(j.contains(p)) << it.key() << " in " << j.dump();
        } else {
          ASSERT_TRUE(j.contains(p)) << it.key() << " missing in " << j.dump();
          EXPECT_EQ(j[p], *it) << it.key();
        }
      }
    }
  }
  EXPECT_GE(cases, 15u);
}

// What the store keeps of a span: span::Decoder's canonical JSON ("" when refused).
std::string Store(span::Decoder& decoder, const std::string& span_json) {
  span::Batch batch;
  auto r = decoder.Decode(span_json, span::Source{}, 1'700'000'000'000'000'000, batch);
  EXPECT_EQ(r.accepted, 1u) << span_json;
  return r.accepted == 1 ? std::string(batch.SpanAt(0)) : std::string();
}

// An OTLP/JSON request with one span and these attributes (typed as in the
// fixtures of tests/decode/otlp/conformance).
Json OtlpValueJson(const Json& v) {
  if (v.is_string()) return {{"stringValue", v}};
  if (v.is_boolean()) return {{"boolValue", v}};
  if (v.is_number_integer()) return {{"intValue", std::to_string(v.get<int64_t>())}};
  if (v.is_number()) return {{"doubleValue", v}};
  Json values = Json::array();
  for (const auto& e : v) values.push_back(OtlpValueJson(e));
  return {{"arrayValue", {{"values", values}}}};
}

std::string OtlpRequest(const Json& attributes, const std::string& name, const std::string& parent) {
  Json attrs = Json::array();
  for (auto it = attributes.begin(); it != attributes.end(); ++it) {
    attrs.push_back({{"key", it.key()}, {"value", OtlpValueJson(*it)}});
  }
  Json span = {{"traceId", "0af7651916cd43dd8448eb211c80319c"},
               {"spanId", "b7ad6b7169203331"},
               {"name", name},
               {"kind", 1},
               {"startTimeUnixNano", "1735787045000000000"},
               {"endTimeUnixNano", "1735787046000000000"},
               {"attributes", attrs}};
  if (!parent.empty()) span["parentSpanId"] = parent;
  Json req = {{"resourceSpans",
               {{{"resource", {{"attributes", {{{"key", "service.name"}, {"value", {{"stringValue", "app"}}}}}}}},
                 {"scopeSpans", {{{"scope", {{"name", "sdk"}}}, {"spans", {span}}}}}}}}};
  return req.dump();
}

TEST(ExportConformanceTest, EachDialectRoundTripsItsOwnAttributes) {
  auto docs = Load("tests/upstream/format/conformance/roundtrip");
  ASSERT_GE(docs.size(), 5u) << "one per dialect";
  size_t cases = 0, checked = 0;
  for (const Json& doc : docs) {
    SCOPED_TRACE(doc["file"].get<std::string>());
    auto d = ParseDialect(doc["dialect"].get<std::string>());
    ASSERT_TRUE(d);
    for (const Json& c : doc["cases"]) {
      SCOPED_TRACE(c.value("name", "?"));
      ++cases;
      auto in = DecodeOtlpJson(OtlpRequest(c["attributes"], c.value("span_name", "op"), c.value("parent", "")));
      ASSERT_TRUE(in) << in.error().message;
      ASSERT_EQ(in->spans.size(), 1u) << in->error_message;
      // What the store keeps: span::Decoder's canonical form.
      span::Decoder decoder;
      auto canonical = Store(decoder, in->spans[0]);
      ASSERT_FALSE(canonical.empty());
      const Json want_canonical = c.value("canonical", Json::object());
      const Json got_canonical = Json::parse(canonical);
      for (auto it = want_canonical.begin(); it != want_canonical.end(); ++it) {
        Json::json_pointer p(it.key());
        ASSERT_TRUE(got_canonical.contains(p)) << it.key() << " missing in " << canonical;
        EXPECT_EQ(got_canonical[p], *it) << it.key() << " in " << canonical;
      }
      auto out = ExportOtlp({canonical}, *d, true);
      ASSERT_EQ(out.size(), 1u);
      const Json& same = c.contains("same") ? c["same"] : Json::array();
      for (const Json& key : same) {
        ++checked;
        const Json& want = c["attributes"][key.get<std::string>()];
        const OtlpValue* got = out[0].attrs.get(key);
        ASSERT_NE(got, nullptr) << key << " lost; canonical " << canonical;
        if (want.is_string() && got->kind == OtlpValue::Kind::kString) {
          Json a = Json::parse(want.get<std::string>(), nullptr, false), b = Json::parse(got->s, nullptr, false);
          if (!a.is_discarded() && a.is_structured()) {
            EXPECT_EQ(b, a) << key;  // JSON text: the same value
            continue;
          }
        }
        if (want.is_array()) {
          EXPECT_EQ(AsFixture(*got), (Json{{"array", want}})) << key;
        } else if (want.is_number_float()) {
          ASSERT_EQ(got->kind, OtlpValue::Kind::kDouble) << key;
          EXPECT_DOUBLE_EQ(got->d, want.get<double>()) << key;
        } else {
          EXPECT_EQ(AsFixture(*got), want) << key;
        }
      }
      // ... and that dialect's output read again is the same canonical span.
      std::string body;
      std::vector<std::string_view> views = {canonical};
      ASSERT_TRUE(EncodeExportJson(views, {*d}, body));
      auto back = DecodeOtlpJson(body);
      ASSERT_TRUE(back) << back.error().message;
      ASSERT_EQ(back->spans.size(), 1u);
      auto again = Store(decoder, back->spans[0]);
      ASSERT_FALSE(again.empty());
      Json a = Json::parse(canonical), b = Json::parse(again);
      for (const char* field : {"type", "model", "provider", "usage", "cost", "input", "output", "tags", "session_id",
                                "user_id", "environment", "release", "status", "expected", "scores", "metrics"}) {
        EXPECT_EQ(a.value(field, Json()), b.value(field, Json()))
            << field << "\nfirst:  " << a.dump() << "\nsecond: " << b.dump();
      }
    }
  }
  EXPECT_GE(cases, 12u);
  EXPECT_GE(checked, 100u);
}

}  // namespace
}  // namespace spanvault::otlp

namespace spanvault::otlp {
namespace {

// canonical → each dialect → canonical: what the dialect can carry comes
// back. A full span, as the store keeps it.
TEST(ExportConformanceTest, CanonicalThroughEveryDialectAndBack) {
  const std::string full = R"({"trace_id":"0af7651916cd43dd8448eb211c80319c","span_id":"b7ad6b7169203331",
"parent_span_id":"00f067aa0ba902b7","name":"chat gpt-4o","type":"generation","start_time":"2025-01-02T03:04:05.123456789Z",
"end_time":"2025-01-02T03:04:06.987654321Z","status":"error","error":{"type":"RateLimitError","message":"slow down"},
"model":"gpt-4o","provider":"openai","model_parameters":{"temperature":0.2,"max_tokens":256},
"usage":{"input_tokens":1000,"output_tokens":300,"cache_read_tokens":600,"cache_write_tokens":100,"reasoning_tokens":50,
"total_tokens":1300},"cost":{"total":0.004125,"input":0.00075,"output":0.0025,"cache_read":0.00075,"cache_write":0.000125,
"reasoning":0.0005,"currency":"USD","source":"client"},
"input":[{"role":"user","content":"hi"}],"output":[{"role":"assistant","content":"hello"}],"expected":"hello!",
"attributes":{"team":"search"},"tags":["prod","beta"],"scores":{"helpful":0.9},"metrics":{"ttft_ms":120},
"session_id":"sess-1","user_id":"user-1","environment":"production","release":"v1.2.3","service":"chatbot"})";
  span::Decoder decoder;
  const std::string stored = Store(decoder, full);
  ASSERT_FALSE(stored.empty());
  const Json a = Json::parse(stored);
  for (Dialect d :
       {Dialect::kOtel, Dialect::kLangfuse, Dialect::kBraintrust, Dialect::kBrokle, Dialect::kOpenInference}) {
    SCOPED_TRACE(std::string(DialectName(d)));
    std::string body;
    std::vector<std::string_view> views = {stored};
    ASSERT_TRUE(EncodeExportProto(views, {d}, body));
    auto back = DecodeOtlpProto(body);
    ASSERT_TRUE(back) << back.error().message;
    ASSERT_EQ(back->spans.size(), 1u);
    const std::string again = Store(decoder, back->spans[0]);
    ASSERT_FALSE(again.empty());
    const Json b = Json::parse(again);
    for (const char* field :
         {"trace_id", "span_id",  "parent_span_id",   "name",    "type",        "start_time", "end_time", "status",
          "model",    "provider", "model_parameters", "usage",   "input",       "output",     "expected", "tags",
          "scores",   "metrics",  "session_id",       "user_id", "environment", "release",    "service"}) {
      EXPECT_EQ(a.value(field, Json()), b.value(field, Json())) << field << "\n" << again;
    }
    for (const char* part : {"total", "input", "output", "cache_read", "cache_write", "reasoning"}) {
      EXPECT_NEAR(a["cost"].value(part, -1.0), b["cost"].value(part, -1.0), 1e-15) << "cost." << part << "\n" << again;
    }
    EXPECT_EQ(b["attributes"].value("team", ""), "search") << again;
  }
}

}  // namespace
}  // namespace spanvault::otlp
