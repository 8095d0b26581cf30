#include "config/upstream_config.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>

#include "tests/test_util.h"
#include "tests/upstream/fake_backend.h"
#include "upstream/encoder.h"

namespace spanvault::upstream {
namespace {

UpstreamConfig Valid() {
  UpstreamConfig c;
  c.name = "collector";
  c.endpoint = "http://127.0.0.1:4318/v1/spans";
  return c;
}

TEST(UpstreamConfigTest, DefaultsMatchTheDesign) {
  UpstreamConfig c;
  EXPECT_EQ(c.format, "json");
  EXPECT_EQ(c.batch_max_spans, 512u);
  EXPECT_EQ(c.batch_max_bytes, 4u << 20);
  EXPECT_EQ(c.linger.count(), 200);
  EXPECT_TRUE(c.gzip);
  EXPECT_EQ(c.concurrency, 4u);
  EXPECT_EQ(c.timeout.count(), 10000);
  EXPECT_EQ(c.retry.initial.count(), 500);
  EXPECT_EQ(c.retry.max.count(), 60000);
  EXPECT_EQ(c.retry.multiplier, 2.0);
  EXPECT_TRUE(Valid().Validate().empty());
}

TEST(UpstreamConfigTest, SetsEveryKeyFromText) {
  UpstreamConfig c = Valid();
  EXPECT_EQ(SetUpstreamKey(c, "batch_max_spans", "100"), "");
  EXPECT_EQ(SetUpstreamKey(c, "batch_max_bytes", "1MiB"), "");
  EXPECT_EQ(SetUpstreamKey(c, "linger", "50ms"), "");
  EXPECT_EQ(SetUpstreamKey(c, "gzip", "false"), "");
  EXPECT_EQ(SetUpstreamKey(c, "concurrency", "8"), "");
  EXPECT_EQ(SetUpstreamKey(c, "timeout", "3s"), "");
  EXPECT_EQ(SetUpstreamKey(c, "retry.initial", "100ms"), "");
  EXPECT_EQ(SetUpstreamKey(c, "retry.max", "5s"), "");
  EXPECT_EQ(SetUpstreamKey(c, "retry.multiplier", "1.5"), "");
  EXPECT_EQ(SetUpstreamKey(c, "retry.auth_pause", "1m"), "");
  EXPECT_EQ(SetUpstreamKey(c, "headers.Authorization", "Bearer x"), "");
  EXPECT_EQ(SetUpstreamKey(c, "headers.Authorization", "Bearer y"), "");  // replaces
  EXPECT_EQ(c.batch_max_spans, 100u);
  EXPECT_EQ(c.batch_max_bytes, 1u << 20);
  EXPECT_EQ(c.linger.count(), 50);
  EXPECT_FALSE(c.gzip);
  EXPECT_EQ(c.concurrency, 8u);
  EXPECT_EQ(c.timeout.count(), 3000);
  EXPECT_EQ(c.retry.initial.count(), 100);
  EXPECT_EQ(c.retry.max.count(), 5000);
  EXPECT_EQ(c.retry.multiplier, 1.5);
  EXPECT_EQ(c.retry.auth_pause.count(), 60000);
  ASSERT_EQ(c.headers.size(), 1u);
  EXPECT_EQ(c.headers[0].second, "Bearer y");
  EXPECT_TRUE(c.Validate().empty());

  EXPECT_NE(SetUpstreamKey(c, "linger", "soon"), "");
  EXPECT_NE(SetUpstreamKey(c, "gzip", "maybe"), "");
  EXPECT_NE(SetUpstreamKey(c, "retry.multiplier", "0.5"), "");
  EXPECT_NE(SetUpstreamKey(c, "headers.Bad Name", "x"), "");
  EXPECT_EQ(SetUpstreamKey(c, "no_such_key", "1"), "unknown key");
}

TEST(UpstreamConfigTest, ValidateReportsEveryProblem) {
  UpstreamConfig c;
  c.name = "bad name!";
  c.endpoint = "ftp://example.com/";
  c.format = "xml";
  c.batch_max_spans = 0;
  c.concurrency = 0;
  c.gzip_level = 12;
  c.headers = {{"Content-Length", "5"}};
  auto p = c.Validate();
  EXPECT_GE(p.size(), 7u);
  std::string all;
  for (auto& s : p) all += s + "\n";
  EXPECT_NE(all.find("name"), std::string::npos);
  EXPECT_NE(all.find("endpoint"), std::string::npos);
  EXPECT_NE(all.find("format \"xml\""), std::string::npos);
  EXPECT_NE(all.find("batch_max_spans"), std::string::npos);
  EXPECT_NE(all.find("concurrency"), std::string::npos);
  EXPECT_NE(all.find("gzip_level"), std::string::npos);
  EXPECT_NE(all.find("Content-Length"), std::string::npos);

  UpstreamConfig missing;
  missing.name = "x";
  EXPECT_NE(missing.Validate().at(0).find("endpoint is required"), std::string::npos);
}

TEST(UpstreamConfigTest, ResolvesEnvironmentAndFileHeadersWithoutLeakingThem) {
  testing::TempDir dir;
  std::string file = dir.str() + "/token";
  std::ofstream(file) << "s3cret-from-file\n";
  ::setenv("SV_TEST_TOKEN", "s3cret-from-env", 1);
  auto r = ResolveHeaders({{"Authorization", "Bearer ${SV_TEST_TOKEN}"}, {"X-Key", "@" + file}, {"X-Plain", "v"}});
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->size(), 3u);
  EXPECT_EQ((*r)[0].second, "Bearer s3cret-from-env");
  EXPECT_EQ((*r)[1].second, "s3cret-from-file");
  EXPECT_EQ((*r)[2].second, "v");

  ::unsetenv("SV_TEST_MISSING");
  auto missing = ResolveHeaders({{"Authorization", "Bearer ${SV_TEST_MISSING}"}});
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("SV_TEST_MISSING is not set"), std::string::npos);
  auto no_file = ResolveHeaders({{"X-Key", "@" + dir.str() + "/nope"}});
  ASSERT_FALSE(no_file);
  EXPECT_NE(no_file.error().message.find("cannot read"), std::string::npos);
  ::setenv("SV_TEST_TOKEN", "line\nbreak", 1);
  auto broken = ResolveHeaders({{"Authorization", "${SV_TEST_TOKEN}"}});
  ASSERT_FALSE(broken);
  EXPECT_NE(broken.error().message.find("line break"), std::string::npos);   // names the problem
  EXPECT_EQ(broken.error().message.find("line\nbreak"), std::string::npos);  // not the value
  ::unsetenv("SV_TEST_TOKEN");
}

TEST(UpstreamConfigTest, RedactEndpointHidesUserInfoQueryValuesAndFragments) {
  const std::pair<std::string_view, std::string_view> cases[] = {
      {"https://otel.example.com/v1/traces", "https://otel.example.com/v1/traces"},
      {"http://127.0.0.1:4318/v1/spans", "http://127.0.0.1:4318/v1/spans"},
      {"https://user:pass@host.example/v1", "https://***@host.example/v1"},
      {"https://token@host.example", "https://***@host.example"},
      {"https://h.example/v1?api_key=s3cret&region=eu", "https://h.example/v1?api_key=***&region=***"},
      {"https://h.example/v1?s3cret", "https://h.example/v1?***"},
      {"https://h.example/v1?a=1&&b", "https://h.example/v1?a=***&&***"},
      {"https://h.example/v1?", "https://h.example/v1?"},
      {"https://h.example/v1#s3cret", "https://h.example/v1#***"},
      {"https://h.example/v1?k=v#frag", "https://h.example/v1?k=***#***"},
      {"https://u:p@h.example:8443/x?k=v", "https://***@h.example:8443/x?k=***"},
      // A password with '/' or '@' in it (malformed): still hidden.
      {"https://user:pa/ss@h.example/v1", "https://***@h.example/v1"},
      {"https://user:p@ss@h.example/v1", "https://***@h.example/v1"},
      // A password where the port goes (the '@' and host forgotten).
      {"https://user:s3cret/v1", "https://user:***/v1"},
      {"https://user:s3cret", "https://user:***"},
      {"https://[::1]:4318/v1", "https://[::1]:4318/v1"},
      {"https://[::1]/v1", "https://[::1]/v1"},
      {"https://h.example:/v1", "https://h.example:/v1"},
      // An '@' in the query is not user info.
      {"https://h.example/v1?mail=a@b", "https://h.example/v1?mail=***"},
      // No scheme.
      {"user:pass@h.example/v1?k=v", "***@h.example/v1?k=***"},
      {"", ""},
  };
  for (auto [in, want] : cases) EXPECT_EQ(RedactEndpoint(in), want) << in;
  // Idempotent.
  EXPECT_EQ(RedactEndpoint(RedactEndpoint("https://u:p@h/x?k=v#f")), "https://***@h/x?k=***#***");
}

TEST(UpstreamConfigTest, EndpointErrorsNeverQuoteSecrets) {
  UpstreamConfig c = Valid();
  for (std::string endpoint : {"https://user:s3cret@h.example/v1?key=s3cret", "https://user:s3cret/x@h.example/v1",
                               "ftp://h.example/v1?key=s3cret", "https://h.example:s3cret/v1", "s3cret@h/v1"}) {
    c.endpoint = endpoint;
    auto problems = c.Validate();
    ASSERT_FALSE(problems.empty()) << endpoint;
    for (const auto& problem : problems) {
      EXPECT_EQ(problem.find("s3cret"), std::string::npos) << problem;
      EXPECT_NE(problem.find("endpoint"), std::string::npos) << problem;
    }
  }
}

TEST(UpstreamConfigTest, CleartextCredentialsOnlyForPlainHttpToAnotherHost) {
  UpstreamConfig c = Valid();
  c.endpoint = "http://collector.example:4318/v1/traces";
  EXPECT_TRUE(CleartextCredentials(c).empty());  // no credentials
  c.headers = {{"Authorization", "Bearer x"}, {"X-Api-Key", "k"}, {"X-Scope-OrgID", "tenant"},
               {"x-honeycomb-team", "t"},     {"Cookie", "c"},    {"X-Auth-Token", "t"},
               {"User-Agent", "ua"}};
  EXPECT_EQ(CleartextCredentials(c),
            (std::vector<std::string>{"Authorization", "X-Api-Key", "Cookie", "X-Auth-Token"}));
  c.headers.clear();
  c.format = "otlp-proto";
  c.dialect = "langfuse";
  c.public_key = "pk";
  c.secret_key = "sk";
  EXPECT_EQ(CleartextCredentials(c), (std::vector<std::string>{"public_key", "secret_key"}));
  c.dialect = "braintrust";
  c.public_key = c.secret_key = "";
  c.api_key = "k";
  EXPECT_EQ(CleartextCredentials(c), (std::vector<std::string>{"api_key"}));
  // https, or a loopback host (a local collector): nothing to warn about.
  for (const char* endpoint :
       {"https://collector.example/v1/traces", "http://127.0.0.1:4318/v1/traces", "http://127.8.0.1/v1/traces",
        "http://localhost:4318/v1/traces", "http://LOCALHOST:4318/v1/traces", "http://otel.localhost/v1/traces",
        "http://[::1]:4318/v1/traces"}) {
    c.endpoint = endpoint;
    EXPECT_TRUE(CleartextCredentials(c).empty()) << endpoint;
  }
  for (const char* endpoint : {"http://10.0.0.5:4318/v1/traces", "http://[2001:db8::1]/v1/traces",
                               "HTTP://collector.example/v1/traces", "http://localhost.example/v1"}) {
    c.endpoint = endpoint;
    EXPECT_EQ(CleartextCredentials(c), (std::vector<std::string>{"api_key"})) << endpoint;
  }
}

TEST(EncoderTest, JsonFormatWrapsCanonicalSpansVerbatim) {
  UpstreamConfig c = Valid();
  auto e = MakeEncoder(c);
  ASSERT_TRUE(e);
  EXPECT_EQ((*e)->content_type(), "application/json");
  std::vector<std::string_view> spans = {R"({"span_id":"a","n":1.50})", R"({"span_id":"b"})"};
  std::string out;
  ASSERT_TRUE((*e)->Encode(spans, out));
  EXPECT_EQ(out, R"({"spans":[{"span_id":"a","n":1.50},{"span_id":"b"}]})");
  c.format = "protobuf";
  EXPECT_FALSE(MakeEncoder(c));
}

TEST(EncoderTest, GzipRoundTrips) {
  std::string data;
  for (int i = 0; i < 10000; ++i) data += R"({"span_id":")" + std::to_string(i) + R"(","name":"llm.call"})";
  for (int level : {1, 6, 9}) {
    std::string z;
    ASSERT_TRUE(Gzip(data, level, z));
    EXPECT_LT(z.size(), data.size() / 4);
    std::string back;
    ASSERT_TRUE(testing::Gunzip(z, &back));
    EXPECT_EQ(back, data);
  }
  std::string empty;
  ASSERT_TRUE(Gzip("", 1, empty));
  std::string back;
  ASSERT_TRUE(testing::Gunzip(empty, &back));
  EXPECT_EQ(back, "");
}

}  // namespace
}  // namespace spanvault::upstream
