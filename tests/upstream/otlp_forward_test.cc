// OTLP as an upstream format: options, headers per dialect, answers
// (upstream/otlp_encoder.h), and forwarding end to end to the fake backend,
// which decodes what it gets with tests/upstream/format/otlp_export_reader.h.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <boost/asio/executor_work_guard.hpp>
#include <fstream>
#include <future>
#include <shared_mutex>
#include <thread>

#include "common/util.h"
#include "config/upstream_config.h"
#include "protobuf/wire.h"
#include "tests/test_util.h"
#include "tests/upstream/fake_backend.h"
#include "tests/upstream/format/otlp_export_reader.h"
#include "tests/upstream/forward_harness.h"
#include "upstream/forwarder.h"
#include "upstream/otlp_encoder.h"

namespace spanvault::upstream {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using testing::FakeBackend;
using testing::FakeBackendOptions;
using Headers = std::vector<std::pair<std::string, std::string>>;
using testing_harness::Harness;
using testing_harness::WaitFor;

UpstreamConfig Otlp(std::string format, std::string dialect) {
  UpstreamConfig c;
  c.name = "otlp";
  c.endpoint = "http://127.0.0.1:4318/v1/traces";
  c.format = std::move(format);
  c.dialect = std::move(dialect);
  return c;
}

std::string Get(const Headers& h, std::string_view name) {
  for (const auto& [k, v] : h) {
    if (k == name) return v;
  }
  return "<absent>";
}

TEST(OtlpEncoderTest, Base64FollowsRfc4648) {
  EXPECT_EQ(Base64(""), "");
  EXPECT_EQ(Base64("f"), "Zg==");
  EXPECT_EQ(Base64("fo"), "Zm8=");
  EXPECT_EQ(Base64("foo"), "Zm9v");
  EXPECT_EQ(Base64("foob"), "Zm9vYg==");
  EXPECT_EQ(Base64("fooba"), "Zm9vYmE=");
  EXPECT_EQ(Base64("foobar"), "Zm9vYmFy");
  EXPECT_EQ(Base64(std::string("\xff\xfe\x00", 3)), "//4A");
}

TEST(OtlpEncoderTest, ContentTypesAndHeadersPerDialect) {
  struct Case {
    std::string format, dialect;
    std::function<void(UpstreamConfig&)> set;
    std::string content_type;
    Headers headers;
  };
  const std::vector<Case> cases = {
      {"otlp-proto", "otel", [](UpstreamConfig&) {}, "application/x-protobuf", {}},
      {"otlp-json", "openinference", [](UpstreamConfig&) {}, "application/json", {}},
      {"otlp-proto",
       "langfuse",
       [](UpstreamConfig& c) {
         c.public_key = "pk-lf-1";
         c.secret_key = "sk-lf-2";
       },
       "application/x-protobuf",
       // echo -n pk-lf-1:sk-lf-2 | base64
       {{"Authorization", "Basic cGstbGYtMTpzay1sZi0y"}}},
      {"otlp-json",
       "braintrust",
       [](UpstreamConfig& c) {
         c.api_key = "sk-bt";
         c.parent = "project_name:demo";
       },
       "application/json",
       {{"Authorization", "Bearer sk-bt"}, {"x-bt-parent", "project_name:demo"}}},
      {"otlp-proto",
       "brokle",
       [](UpstreamConfig& c) { c.api_key = "bk_123"; },
       "application/x-protobuf",
       {{"X-API-Key", "bk_123"}}},
      // Hand-written headers instead of options: nothing added.
      {"otlp-proto",
       "langfuse",
       [](UpstreamConfig& c) {
         c.headers = {{"authorization", "Basic abc"}};
       },
       "application/x-protobuf",
       {}},
  };
  for (const Case& k : cases) {
    SCOPED_TRACE(k.format + " " + k.dialect);
    UpstreamConfig c = Otlp(k.format, k.dialect);
    k.set(c);
    EXPECT_TRUE(c.Validate().empty()) << c.Validate().front();
    auto e = MakeEncoder(c);
    ASSERT_TRUE(e) << e.error().message;
    EXPECT_EQ((*e)->content_type(), k.content_type);
    EXPECT_EQ((*e)->extra_headers(), k.headers);
  }
}

TEST(OtlpEncoderTest, SecretsResolveFromEnvironmentAndFilesAndErrorsNeverShowThem) {
  testing::TempDir dir;
  std::string file = (dir.path() / "secret").string();
  std::ofstream(file) << "sk-from-file\n";
  setenv("SV_TEST_LF_PK", "pk-from-env", 1);
  UpstreamConfig c = Otlp("otlp-proto", "langfuse");
  c.public_key = "${SV_TEST_LF_PK}";
  c.secret_key = "@" + file;
  auto e = MakeEncoder(c);
  ASSERT_TRUE(e) << e.error().message;
  EXPECT_EQ(Get((*e)->extra_headers(), "Authorization"), "Basic " + Base64("pk-from-env:sk-from-file"));

  c.public_key = "${SV_TEST_UNSET_VARIABLE}";
  c.secret_key = "@/nonexistent/secret";
  auto problems = c.Validate();
  ASSERT_EQ(problems.size(), 2u);
  EXPECT_EQ(problems[0], "upstream otlp: option public_key: environment variable SV_TEST_UNSET_VARIABLE is not set");
  EXPECT_NE(problems[1].find("option secret_key: cannot read /nonexistent/secret"), std::string::npos) << problems[1];
  EXPECT_FALSE(MakeEncoder(c));

  setenv("SV_TEST_EMPTY", "", 1);
  c = Otlp("otlp-proto", "brokle");
  c.api_key = "secret-${SV_TEST_EMPTY}";
  EXPECT_TRUE(c.Validate().empty());
  c.api_key = "${SV_TEST_EMPTY}";
  ASSERT_EQ(c.Validate().size(), 1u);
  EXPECT_EQ(c.Validate()[0], "upstream otlp: option api_key is empty");
}

TEST(OtlpEncoderTest, ValidationReportsEveryProblem) {
  struct Case {
    std::string format, dialect;
    std::function<void(UpstreamConfig&)> set;
    std::vector<std::string> problems;
  };
  const std::vector<Case> cases = {
      {"otlp-proto",
       "zipkin",
       [](UpstreamConfig&) {},
       {"dialect \"zipkin\" is not one of otel, langfuse, braintrust, brokle, openinference"}},
      {"json",
       "langfuse",
       [](UpstreamConfig& c) { c.api_key = "k"; },
       {"dialect applies only to the formats otlp-proto and otlp-json",
        "api_key applies only to the formats otlp-proto, otlp-json, langfuse-ingestion and braintrust-logs"}},
      {"otlp-proto",
       "langfuse",
       [](UpstreamConfig&) {},
       {"dialect langfuse needs public_key and secret_key (or headers.Authorization)"}},
      {"otlp-proto",
       "langfuse",
       [](UpstreamConfig& c) { c.public_key = "pk"; },
       {"dialect langfuse needs both public_key and secret_key"}},
      {"otlp-proto",
       "langfuse",
       [](UpstreamConfig& c) {
         c.public_key = "pk";
         c.secret_key = "sk";
         c.headers = {{"Authorization", "Basic x"}};
       },
       {"set public_key and secret_key or headers.Authorization, not both"}},
      {"otlp-json",
       "braintrust",
       [](UpstreamConfig&) {},
       {"dialect braintrust needs api_key (or headers.Authorization)",
        "dialect braintrust needs parent (or headers.x-bt-parent)"}},
      {"otlp-json",
       "braintrust",
       [](UpstreamConfig& c) {
         c.api_key = "k";
         c.parent = "demo";
       },
       {"parent must look like project_id:ID, project_name:NAME or experiment_id:ID"}},
      {"otlp-json",
       "braintrust",
       [](UpstreamConfig& c) {
         c.headers = {{"Authorization", "Bearer k"}, {"X-BT-Parent", "project_id:1"}};
       },
       {}},
      {"otlp-proto", "brokle", [](UpstreamConfig&) {}, {"dialect brokle needs api_key (or headers.X-API-Key)"}},
      {"otlp-proto",
       "otel",
       [](UpstreamConfig& c) {
         c.api_key = "k";
         c.secret_key = "s";
       },
       {"secret_key is not used by dialect otel", "api_key is not used by dialect otel"}},
  };
  for (const Case& k : cases) {
    SCOPED_TRACE(k.format + " " + k.dialect);
    UpstreamConfig c = Otlp(k.format, k.dialect);
    k.set(c);
    std::vector<std::string> want;
    for (const auto& p : k.problems) want.push_back("upstream otlp: " + p);
    EXPECT_EQ(c.Validate(), want);
    EXPECT_EQ(static_cast<bool>(MakeEncoder(c)), want.empty() || k.format == "json");
  }
}

TEST(OtlpEncoderTest, ConfigKeysParseFromText) {
  UpstreamConfig c = Otlp("json", "otel");
  EXPECT_EQ(SetUpstreamKey(c, "format", "otlp-json"), "");
  EXPECT_EQ(SetUpstreamKey(c, "dialect", "braintrust"), "");
  EXPECT_EQ(SetUpstreamKey(c, "api_key", "${BRAINTRUST_API_KEY}"), "");
  EXPECT_EQ(SetUpstreamKey(c, "parent", "project_id:abc"), "");
  EXPECT_EQ(SetUpstreamKey(c, "public_key", "pk"), "");
  EXPECT_EQ(SetUpstreamKey(c, "secret_key", "sk"), "");
  EXPECT_EQ(c.format, "otlp-json");
  EXPECT_EQ(c.dialect, "braintrust");
  EXPECT_EQ(c.api_key, "${BRAINTRUST_API_KEY}");
  EXPECT_EQ(c.parent, "project_id:abc");
  EXPECT_EQ(UpstreamConfig().dialect, "otel");
  std::string help = DescribeUpstreamKeys();
  for (const char* k : {"dialect = otel", "public_key = ", "secret_key = ", "api_key = ", "parent = "}) {
    EXPECT_NE(help.find(k), std::string::npos) << k;
  }
}

TEST(OtlpEncoderTest, InspectSuccessReportsPartialSuccessInTheAnswersEncoding) {
  std::string inner, proto;
  otlp::WireWriter(inner).Varint(1, 7);
  otlp::WireWriter(inner).Bytes(2, "7 spans rejected");
  otlp::WireWriter(proto).Bytes(1, inner);
  const std::string json = R"({"partialSuccess":{"rejectedSpans":"2","errorMessage":"invalid"}})";
  for (const char* format : {"otlp-proto", "otlp-json"}) {
    SCOPED_TRACE(format);
    auto e = MakeEncoder(Otlp(format, "otel"));
    ASSERT_TRUE(e);
    const Encoder& enc = **e;
    auto p = enc.InspectSuccess("application/x-protobuf", proto, {});
    ASSERT_TRUE(p);
    EXPECT_EQ(p->rejected_spans, 7);
    EXPECT_EQ(p->message, "7 spans rejected");
    auto j = enc.InspectSuccess("application/json; charset=utf-8", json, {});
    ASSERT_TRUE(j);
    EXPECT_EQ(j->rejected_spans, 2);
    // Without a Content-Type the first byte tells.
    EXPECT_EQ(enc.InspectSuccess("", proto, {})->rejected_spans, 7);
    EXPECT_EQ(enc.InspectSuccess("", json, {})->rejected_spans, 2);
    EXPECT_FALSE(enc.InspectSuccess("application/json", "{}", {}));
    EXPECT_FALSE(enc.InspectSuccess("", "", {}));
    EXPECT_FALSE(enc.InspectSuccess("text/html", "<html>ok</html>", {}));
    std::string long_message(5000, 'x');
    auto l =
        enc.InspectSuccess("", R"({"partialSuccess":{"rejectedSpans":1,"errorMessage":")" + long_message + "\"}}", {});
    ASSERT_TRUE(l);
    EXPECT_EQ(l->message.size(), 1024u);
  }
  // The json format has nothing to say about answers.
  auto e = MakeEncoder(UpstreamConfig{.name = "j", .endpoint = "http://127.0.0.1:1/"});
  ASSERT_TRUE(e);
  EXPECT_FALSE((*e)->InspectSuccess("application/json", json, {}));
}

// ------------------------------------------------------------ end to end

// n generation spans with hex ids "<16 hex of i>" in one trace.
std::vector<std::string> Generations(size_t n, std::vector<std::string>& ids) {
  std::vector<std::string> spans;
  for (size_t i = 0; i < n; ++i) {
    char id[17];
    std::snprintf(id, sizeof id, "%016zx", i + 1);
    ids.push_back(id);
    spans.push_back(std::string(R"({"trace_id":"0af7651916cd43dd8448eb211c80319c","span_id":")") + id +
                    R"(","name":"chat","type":"generation","start_time":"2025-01-02T03:04:05.000000001Z",)"
                    R"("end_time":"2025-01-02T03:04:06Z","status":"ok","model":"gpt-4o","provider":"openai",)"
                    R"("usage":{"input_tokens":100,"output_tokens":20,"cache_read_tokens":40},)"
                    R"("input":[{"role":"user","content":"hello"}],"output":"hi","service":"svc"})");
  }
  return spans;
}

UpstreamConfig ForwardConfig(const FakeBackend& backend, const std::string& format, const std::string& dialect) {
  UpstreamConfig c = Otlp(format, dialect);
  c.endpoint = backend.url("/api/public/otel/v1/traces");
  c.linger = 20ms;
  c.batch_max_spans = 64;
  c.retry.initial = 20ms;
  c.retry.max = 200ms;
  c.timeout = 2s;
  if (dialect == "langfuse") {
    c.public_key = "pk-lf-1";
    c.secret_key = "sk-lf-2";
  }
  return c;
}

FakeBackendOptions OtlpBackend() {
  FakeBackendOptions o;
  o.extract_span_ids = testing::OtlpSpanIds;
  return o;
}

TEST(OtlpForwardTest, EverySpanArrivesDecodableInBothEncodings) {
  for (const char* format : {"otlp-proto", "otlp-json"}) {
    SCOPED_TRACE(format);
    FakeBackend backend(OtlpBackend());
    backend.Start();
    Harness h;
    Forwarder& f = h.Add(ForwardConfig(backend, format, "langfuse"));
    std::vector<std::string> ids;
    h.AppendJson(Generations(300, ids));
    ASSERT_TRUE(backend.WaitForUniqueSpans(300, 20s));
    auto got = backend.received_span_ids();
    for (const auto& id : ids) EXPECT_EQ(got.count(id), 1u) << id;
    for (const auto& r : backend.requests()) {
      EXPECT_EQ(r.target, "/api/public/otel/v1/traces");
      EXPECT_EQ(r.Header("Content-Type"),
                format == std::string("otlp-proto") ? "application/x-protobuf" : "application/json");
      EXPECT_EQ(r.Header("Content-Encoding"), "gzip");
      EXPECT_EQ(r.Header("Authorization"), "Basic cGstbGYtMTpzay1sZi0y");
      EXPECT_LE(r.span_ids.size(), 64u);
    }
    // What Langfuse reads, from the wire.
    std::vector<testing::OtlpSpan> spans;
    const auto requests = backend.requests();
    const auto& first = requests.front();
    std::string err = format == std::string("otlp-proto") ? testing::ReadOtlpProto(first.body, spans)
                                                          : testing::ReadOtlpJson(first.body, spans);
    ASSERT_EQ(err, "");
    ASSERT_FALSE(spans.empty());
    const testing::OtlpValue* usage = spans[0].attrs.get("langfuse.observation.usage_details");
    ASSERT_NE(usage, nullptr);
    // Issue 21: Langfuse's own key for an OpenAI model's cache reads (was input_cache_read).
    EXPECT_EQ(usage->s, R"({"input":60,"output":20,"input_cached_tokens":40,"total":120})");
    EXPECT_EQ(spans[0].start_ns, 1735787045000000001ull);
    ASSERT_TRUE(WaitFor([&] { return h.queue().GetStats().spans == 0; }));
    EXPECT_EQ(f.GetStats().delivered_spans, 300u);
  }
}

TEST(OtlpForwardTest, PartialSuccessCountsAsDelivered) {
  FakeBackend backend(OtlpBackend());
  backend.Start();
  std::string inner, answer;
  otlp::WireWriter(inner).Varint(1, 3);
  otlp::WireWriter(answer).Bytes(1, inner);
  backend.SetDefault({.status = 200, .headers = {{"Content-Type", "application/x-protobuf"}}, .body = answer});
  Harness h;
  Forwarder& f = h.Add(ForwardConfig(backend, "otlp-proto", "otel"));
  std::vector<std::string> ids;
  h.AppendJson(Generations(100, ids));
  ASSERT_TRUE(backend.WaitForUniqueSpans(100, 20s));
  ASSERT_TRUE(WaitFor([&] { return h.queue().GetStats().spans == 0; })) << "refused for good: not retried";
  auto s = f.GetStats();
  EXPECT_EQ(s.delivered_spans, 100u);
  EXPECT_EQ(s.failed_attempts, 0u);
  EXPECT_EQ(backend.received_span_ids().size(), 100u);
  for (const auto& [id, times] : backend.received_span_ids()) EXPECT_EQ(times, 1) << id;
}

TEST(OtlpForwardTest, ASpanTheExportCannotReadIsDeadLetteredAndTheRestArrives) {
  FakeBackend backend(OtlpBackend());
  backend.Start();
  Harness h;
  Forwarder& f = h.Add(ForwardConfig(backend, "otlp-json", "openinference"));
  std::vector<std::string> ids;
  auto spans = Generations(20, ids);
  spans[7] = R"({"trace_id":"0af7651916cd43dd8448eb211c80319c","span_id":"00000000000000ff","no_name":true})";
  ids.erase(ids.begin() + 7);
  h.AppendJson(spans);
  ASSERT_TRUE(backend.WaitForUniqueSpans(19, 20s));
  ASSERT_TRUE(WaitFor([&] { return f.GetStats().dead_lettered == 1; }));
  auto got = backend.received_span_ids();
  for (const auto& id : ids) EXPECT_EQ(got.count(id), 1u) << id;
  EXPECT_EQ(got.count("00000000000000ff"), 0u);
}

}  // namespace
}  // namespace spanvault::upstream
