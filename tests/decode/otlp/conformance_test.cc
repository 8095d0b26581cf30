// Ingest conformance: each file in tests/decode/otlp/conformance/ holds the
// cases of one convention (its attributes as an SDK of that convention sends
// them → the canonical span spanvault must make of them), written from the
// convention's own documents (named in the file's "source"). Each case runs
// through protobuf and OTLP/JSON (which must agree) and span::Decoder.
//
// A case: {"name", "finding" (issue 21's number, when it is a regression),
// "span_name", "scope_name", "attributes": {key: value}, "resource": {...}, "status_code",
// "expect": {JSON pointer: value, or "<absent>"}}. Attribute values: JSON
// strings, integers, floats, booleans, arrays and objects become OTLP string,
// int, double, bool, array and kvlist values.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "otlp_test_util.h"

namespace spanvault::otlp::testing {
namespace {

V ToValue(const json& j) {
  if (j.is_string()) return V(j.get<std::string>());
  if (j.is_boolean()) return V::Bool(j.get<bool>());
  if (j.is_number_integer()) return V::Int(j.get<int64_t>());
  if (j.is_number()) return V::Double(j.get<double>());
  if (j.is_array()) {
    std::vector<V> items;
    for (const auto& e : j) items.push_back(ToValue(e));
    return V::Array(std::move(items));
  }
  std::vector<std::pair<std::string, V>> kv;
  for (auto it = j.begin(); it != j.end(); ++it) kv.emplace_back(it.key(), ToValue(*it));
  return V::Kvlist(std::move(kv));
}

Attrs ToAttrs(const json& j) {
  Attrs a;
  if (!j.is_object()) return a;
  for (auto it = j.begin(); it != j.end(); ++it) a.emplace_back(it.key(), ToValue(*it));
  return a;
}

std::vector<std::filesystem::path> Fixtures() {
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(std::filesystem::path(SPANVAULT_SOURCE_DIR) /
                                                           "tests/decode/otlp/conformance")) {
    if (e.path().extension() == ".json") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

TEST(OtlpConformanceTest, EveryConventionsFixturesMapAsTheirDocumentsSay) {
  auto files = Fixtures();
  ASSERT_GE(files.size(), 6u) << "one file per convention";
  size_t cases = 0;
  for (const auto& file : files) {
    SCOPED_TRACE(file.filename().string());
    std::ifstream in(file);
    std::stringstream text;
    text << in.rdbuf();
    json doc = json::parse(text.str(), nullptr, false);
    ASSERT_FALSE(doc.is_discarded()) << "not JSON";
    ASSERT_TRUE(doc.contains("source")) << "each fixture file names the document it follows";
    for (const auto& c : doc["cases"]) {
      SCOPED_TRACE(c.value("name", "?"));
      ++cases;
      TestSpan s;
      s.name = c.value("span_name", "op");
      s.attrs = ToAttrs(c.value("attributes", json::object()));
      s.status_code = c.value("status_code", 0u);
      TestRequest r;
      r.resource = ToAttrs(c.value("resource", json::object()));
      r.scope_name = c.value("scope_name", r.scope_name);
      r.spans = {s};
      auto spans = MapProto(r);
      auto from_json = MapJson(ToJson(r).dump());
      ASSERT_EQ(spans.size(), 1u);
      ASSERT_EQ(from_json.size(), 1u);
      EXPECT_EQ(spans[0], from_json[0]) << "protobuf and OTLP/JSON map alike";
      json j = spans[0];
      ASSERT_TRUE(j.is_object());
      for (auto it = c["expect"].begin(); it != c["expect"].end(); ++it) {
        json::json_pointer p(it.key());
        if (*it == "<absent>") {
          EXPECT_FALSE(j.contains(p)) << it.key() << " in " << j.dump();
        } else {
          ASSERT_TRUE(j.contains(p)) << it.key() << " missing in " << j.dump();
          EXPECT_EQ(j[p], *it) << it.key() << " in " << j.dump();
        }
      }
    }
  }
  EXPECT_GE(cases, 20u);
}

// A message built from numbered attributes whose value nests as deep as
// protobuf allows still makes a span span::Decoder accepts (MapProto checks).
TEST(OtlpConformanceTest, DeepValuesInNumberedMessagesStayWithinTheDepthLimit) {
  V deep("x");
  for (int i = 0; i < 55; ++i) deep = V::Kvlist({{"k", deep}});
  TestRequest r;
  TestSpan s;
  s.attrs = {{"gen_ai.prompt.0.role", "user"}, {"gen_ai.prompt.0.a.b.c.d.e.f.g", deep}};
  r.spans = {s};
  auto spans = MapProto(r);
  ASSERT_EQ(spans.size(), 1u);
  EXPECT_EQ(spans[0]["input"][0]["role"], "user");
}

}  // namespace
}  // namespace spanvault::otlp::testing
