// The HTTP listener's Host/Origin policy without sockets (ipc/http_policy.h).
#include "ipc/http_policy.h"

#include <gtest/gtest.h>

#include <map>

namespace spanvault::ipc {
namespace {

using Kind = HttpVerdict::Kind;
using std::chrono::seconds;

std::map<std::string, std::string> HeaderMap(const HttpVerdict& v) {
  std::map<std::string, std::string> m;
  for (const auto& [k, val] : v.headers) m[k] = val;
  return m;
}

TEST(HttpPolicyTest, HostMustBeLoopbackWithTheListenersPort) {
  struct Case {
    std::string_view host;
    uint16_t port;
    bool ok;
  };
  const Case cases[] = {
      {"127.0.0.1:4318", 4318, true},
      {"localhost:4318", 4318, true},
      {"LOCALHOST:4318", 4318, true},
      {"spanvault.localhost:4318", 4318, true},
      {"a.b-c.LocalHost:4318", 4318, true},
      {"127.1.2.3:4318", 4318, true},
      {"[::1]:4318", 4318, true},
      {"[::ffff:127.0.0.1]:4318", 4318, true},
      {"127.0.0.1:04318", 4318, true},
      {"127.0.0.1", 80, true},  // no port: only when the port is 80
      {"localhost", 80, true},
      {"[::1]", 80, true},
      {"127.0.0.1:80", 80, true},
      {"127.0.0.1", 4318, false},
      {"localhost", 4318, false},
      {"127.0.0.1:4319", 4318, false},  // wrong port
      {"127.0.0.1:", 4318, false},
      {"127.0.0.1:x", 4318, false},
      {"127.0.0.1:99999", 4318, false},
      {"evil.example:4318", 4318, false},  // DNS rebinding
      {"localhost.evil.example:4318", 4318, false},
      {"evillocalhost:4318", 4318, false},
      {".localhost:4318", 4318, false},
      {"a..localhost:4318", 4318, false},
      {"localhost.:4318", 4318, false},
      {"128.0.0.1:4318", 4318, false},
      {"10.0.0.1:4318", 4318, false},
      {"0.0.0.0:4318", 4318, false},
      {"127.1:4318", 4318, false},       // inet_aton shorthand: not dotted-decimal
      {"2130706433:4318", 4318, false},  // 127.0.0.1 as one number
      {"0x7f.0.0.1:4318", 4318, false},
      {"[::2]:4318", 4318, false},
      {"::1:4318", 4318, false},  // IPv6 without brackets
      {"[::1:4318", 4318, false},
      {"[::1]x:4318", 4318, false},
      {"", 4318, false},
      {":4318", 4318, false},
      {"user@127.0.0.1:4318", 4318, false},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(IsLoopbackHost(c.host, c.port), c.ok) << c.host << " port " << c.port;
  }
}

TEST(HttpPolicyTest, NormalizesConfiguredOrigins) {
  const std::pair<std::string_view, std::string_view> good[] = {
      {"http://localhost:3000", "http://localhost:3000"},
      {"HTTP://LocalHost:3000", "http://localhost:3000"},
      {"http://example.com:80", "http://example.com"},
      {"https://example.com:443", "https://example.com"},
      {"https://example.com:8443", "https://example.com:8443"},
      {"http://[::1]:3000", "http://[::1]:3000"},
      {"http://[::1]", "http://[::1]"},
      {"chrome-extension://abcdefgh", "chrome-extension://abcdefgh"},
      {"*", "*"},
  };
  for (auto [in, want] : good) {
    auto o = NormalizeOrigin(in);
    ASSERT_TRUE(o.has_value()) << in << ": " << o.error().message;
    EXPECT_EQ(*o, want) << in;
  }
  for (std::string_view bad :
       {"http://localhost:3000/", "http://localhost:3000/app", "http://x?y", "http://x#y", "localhost:3000", "://x",
        "http://", "http://:3000", "http://x:0", "http://x:65536", "http://x:abc", "http://u:p@x", "1http://x",
        "ht tp://x", "http://[zz]:1", "null", "http://a b", ""}) {
    auto o = NormalizeOrigin(bad);
    EXPECT_FALSE(o.has_value()) << bad;
    if (!o) {
      EXPECT_NE(o.error().message.find("is not an origin"), std::string::npos) << o.error().message;
    }
  }
}

TEST(HttpPolicyTest, DecidesHostOriginAndSecFetchSite) {
  HttpPolicy loopback;
  loopback.port = 4318;
  loopback.allowed_origins = {"http://localhost:3000", "https://app.example"};
  HttpPolicy remote = loopback;
  remote.check_host = false;
  HttpPolicy any = loopback;
  any.allowed_origins = {"*"};
  const std::string_view kHost = "127.0.0.1:4318";

  struct Case {
    std::string name;
    const HttpPolicy* policy;
    std::optional<std::string_view> host;
    std::optional<std::string_view> origin;
    std::optional<std::string_view> sec_fetch_site;
    Kind kind;
    HttpRefusal refusal;  // kRefuse only
    unsigned status;      // kRefuse only
    bool cors;            // Access-Control-Allow-Origin on the answer
    unsigned version = 11;
  };
  const Case cases[] = {
      // Requests without Origin: curl, OTel SDKs outside browsers.
      {"curl", &loopback, kHost, {}, {}, Kind::kServe, {}, 0, false},
      {"localhost name", &loopback, "localhost:4318", {}, {}, Kind::kServe, {}, 0, false},
      {"rebinding", &loopback, "evil.example:4318", {}, {}, Kind::kRefuse, HttpRefusal::kHost, 403, false},
      {"wrong port", &loopback, "127.0.0.1:9999", {}, {}, Kind::kRefuse, HttpRefusal::kHost, 403, false},
      {"no port", &loopback, "127.0.0.1", {}, {}, Kind::kRefuse, HttpRefusal::kHost, 403, false},
      {"HTTP/1.1 without Host", &loopback, {}, {}, {}, Kind::kRefuse, HttpRefusal::kHost, 400, false},
      {"HTTP/1.0 without Host", &loopback, {}, {}, {}, Kind::kServe, {}, 0, false, 10},
      {"remote: any Host", &remote, "spanvault.internal:4318", {}, {}, Kind::kServe, {}, 0, false},
      {"remote: no Host", &remote, {}, {}, {}, Kind::kServe, {}, 0, false},
      // Origin.
      {"evil origin", &loopback, kHost, "https://evil.example", {}, Kind::kRefuse, HttpRefusal::kOrigin, 403, false},
      {"null origin", &loopback, kHost, "null", {}, Kind::kRefuse, HttpRefusal::kOrigin, 403, false},
      {"empty origin", &loopback, kHost, "", {}, Kind::kRefuse, HttpRefusal::kOrigin, 403, false},
      {"evil origin, remote",
       &remote,
       "x:1",
       "https://evil.example",
       {},
       Kind::kRefuse,
       HttpRefusal::kOrigin,
       403,
       false},
      {"allowed origin", &loopback, kHost, "http://localhost:3000", "same-site", Kind::kServe, {}, 0, true},
      {"allowed origin, cross-site", &loopback, kHost, "https://app.example", "cross-site", Kind::kServe, {}, 0, true},
      {"allowed origin, other case", &loopback, kHost, "HTTP://LOCALHOST:3000", {}, Kind::kServe, {}, 0, true},
      {"allowed origin, other port",
       &loopback,
       kHost,
       "http://localhost:3001",
       {},
       Kind::kRefuse,
       HttpRefusal::kOrigin,
       403,
       false},
      {"own origin", &loopback, kHost, "http://127.0.0.1:4318", "same-origin", Kind::kServe, {}, 0, true},
      {"own origin by name", &loopback, kHost, "http://localhost:4318", {}, Kind::kServe, {}, 0, true},
      {"own origin v6", &loopback, kHost, "http://[::1]:4318", {}, Kind::kServe, {}, 0, true},
      {"own host, https",
       &loopback,
       kHost,
       "https://127.0.0.1:4318",
       {},
       Kind::kRefuse,
       HttpRefusal::kOrigin,
       403,
       false},
      {"own host, other port",
       &loopback,
       kHost,
       "http://127.0.0.1:8080",
       {},
       Kind::kRefuse,
       HttpRefusal::kOrigin,
       403,
       false},
      {"star", &any, kHost, "https://anything.example", {}, Kind::kServe, {}, 0, true},
      {"star allows null", &any, kHost, "null", {}, Kind::kServe, {}, 0, true},
      // Under "*" the origin is echoed back: a malformed one (CR, NUL, no
      // scheme) is refused, never written into an answer header.
      {"star refuses a malformed origin",
       &any,
       kHost,
       std::string_view("KK\rK\0K", 6),
       {},
       Kind::kRefuse,
       HttpRefusal::kOrigin,
       403,
       false},
      {"star still checks Host",
       &any,
       "evil.example:4318",
       "https://x.example",
       {},
       Kind::kRefuse,
       HttpRefusal::kHost,
       403,
       false},
      // Sec-Fetch-Site without Origin (a no-cors GET from another site).
      {"cross-site", &loopback, kHost, {}, "cross-site", Kind::kRefuse, HttpRefusal::kCrossSite, 403, false},
      {"cross-site, other case",
       &loopback,
       kHost,
       {},
       "Cross-Site",
       Kind::kRefuse,
       HttpRefusal::kCrossSite,
       403,
       false},
      {"same-site", &loopback, kHost, {}, "same-site", Kind::kServe, {}, 0, false},
      {"same-origin", &loopback, kHost, {}, "same-origin", Kind::kServe, {}, 0, false},
      {"none (typed URL)", &loopback, kHost, {}, "none", Kind::kServe, {}, 0, false},
  };
  for (const Case& c : cases) {
    HttpRequestMeta m;
    m.method = "POST";
    m.target = "/v1/traces";
    m.version = c.version;
    m.host = c.host;
    m.origin = c.origin;
    m.sec_fetch_site = c.sec_fetch_site;
    HttpVerdict v = DecideRequest(m, *c.policy);
    EXPECT_EQ(v.kind, c.kind) << c.name << ": " << v.reason;
    if (c.kind == Kind::kRefuse) {
      EXPECT_EQ(v.refusal, c.refusal) << c.name;
      EXPECT_EQ(v.status, c.status) << c.name;
      EXPECT_TRUE(v.reason.starts_with("refused: ")) << c.name << ": " << v.reason;
      EXPECT_TRUE(v.headers.empty()) << c.name;
    }
    auto h = HeaderMap(v);
    if (c.cors) {
      EXPECT_EQ(h["Access-Control-Allow-Origin"], *c.origin) << c.name;
      EXPECT_EQ(h["Vary"], "Origin") << c.name;
    } else {
      EXPECT_FALSE(h.contains("Access-Control-Allow-Origin")) << c.name;
    }
  }
}

TEST(HttpPolicyTest, RefusalsSayWhyAndRepeatedFieldsAreRefused) {
  HttpPolicy p;
  p.port = 4318;
  HttpRequestMeta m;
  m.method = "GET";
  m.target = "/metrics";
  m.host = "evil.example:4318";
  HttpVerdict v = DecideRequest(m, p);
  EXPECT_NE(v.reason.find("\"evil.example:4318\""), std::string::npos) << v.reason;
  EXPECT_NE(v.reason.find("DNS rebinding"), std::string::npos) << v.reason;
  m.host = "127.0.0.1:4318";
  m.repeated_host = true;
  EXPECT_EQ(DecideRequest(m, p).status, 400u);
  m.repeated_host = false;
  m.origin = "http://localhost:4318";
  m.repeated_origin = true;
  EXPECT_EQ(DecideRequest(m, p).refusal, HttpRefusal::kOrigin);
  m.repeated_origin = false;
  m.origin = "https://evil.example";
  v = DecideRequest(m, p);
  EXPECT_NE(v.reason.find("ingest.http_allowed_origins"), std::string::npos) << v.reason;
  // A client's header is quoted printable and cut.
  std::string long_host(1000, 'a');
  m.origin.reset();
  m.host = long_host;
  v = DecideRequest(m, p);
  EXPECT_LT(v.reason.size(), 400u);
  EXPECT_EQ(HttpRefusalName(HttpRefusal::kHost), "host");
  EXPECT_EQ(HttpRefusalName(HttpRefusal::kOrigin), "origin");
  EXPECT_EQ(HttpRefusalName(HttpRefusal::kCrossSite), "cross_site");
  EXPECT_EQ(HttpRefusalName(HttpRefusal::kPreflight), "preflight");
}

TEST(HttpPolicyTest, PreflightsAreAnsweredForAllowedOriginsOnly) {
  HttpPolicy p;
  p.port = 4318;
  p.allowed_origins = {"http://localhost:3000"};
  HttpRequestMeta m;
  m.method = "OPTIONS";
  m.target = "/v1/traces";
  m.host = "127.0.0.1:4318";
  m.origin = "http://localhost:3000";
  m.request_method = "POST";
  m.request_headers = "Content-Type, X-Custom , content-encoding,traceparent,Authorization";
  HttpVerdict v = DecideRequest(m, p);
  ASSERT_EQ(v.kind, Kind::kPreflight);
  EXPECT_EQ(v.status, 204u);
  auto h = HeaderMap(v);
  EXPECT_EQ(h["Access-Control-Allow-Origin"], "http://localhost:3000");
  EXPECT_EQ(h["Access-Control-Allow-Methods"], "POST, GET, OPTIONS");
  // The safe ones among those asked for; the others are left out (the browser then refuses).
  EXPECT_EQ(h["Access-Control-Allow-Headers"], "content-type, content-encoding, traceparent");
  EXPECT_EQ(h["Access-Control-Max-Age"], "600");
  EXPECT_EQ(h["Vary"], "Origin");
  EXPECT_FALSE(h.contains("Access-Control-Allow-Private-Network"));
  // Chrome's Private Network Access asks too.
  m.private_network = true;
  EXPECT_EQ(HeaderMap(DecideRequest(m, p))["Access-Control-Allow-Private-Network"], "true");
  m.private_network = false;
  // Nothing asked: no Allow-Headers.
  m.request_headers = "";
  EXPECT_FALSE(HeaderMap(DecideRequest(m, p)).contains("Access-Control-Allow-Headers"));
  // Every known route; /v1/spans too.
  m.target = "/v1/spans?x=1";
  EXPECT_EQ(DecideRequest(m, p).kind, Kind::kPreflight);
  // The listener's own origin may preflight.
  m.origin = "http://localhost:4318";
  EXPECT_EQ(DecideRequest(m, p).kind, Kind::kPreflight);
  // Not allowed, null, or without Origin: 403 preflight.
  for (std::optional<std::string_view> origin :
       {std::optional<std::string_view>("https://evil.example"), std::optional<std::string_view>("null"),
        std::optional<std::string_view>()}) {
    m.origin = origin;
    v = DecideRequest(m, p);
    EXPECT_EQ(v.kind, Kind::kRefuse) << origin.value_or("(none)");
    EXPECT_EQ(v.refusal, HttpRefusal::kPreflight);
    EXPECT_EQ(v.status, 403u);
  }
  // The Host check comes first.
  m.origin = "http://localhost:3000";
  m.host = "evil.example:4318";
  EXPECT_EQ(DecideRequest(m, p).refusal, HttpRefusal::kHost);
  m.host = "127.0.0.1:4318";
  // OPTIONS without Access-Control-Request-Method is no preflight (405 later);
  // an unknown route neither (404 later).
  m.request_method.reset();
  EXPECT_EQ(DecideRequest(m, p).kind, Kind::kServe);
  m.request_method = "POST";
  m.target = "/nope";
  EXPECT_EQ(DecideRequest(m, p).kind, Kind::kServe);
}

TEST(HttpPolicyTest, RefusalLogSaysOncePerReasonPerInterval) {
  RefusalLog log(seconds(10));
  auto t0 = std::chrono::steady_clock::time_point{} + seconds(1000);
  EXPECT_EQ(log.Note(HttpRefusal::kHost, t0), 1u);  // the first one is logged
  EXPECT_FALSE(log.Note(HttpRefusal::kHost, t0 + seconds(1)).has_value());
  EXPECT_FALSE(log.Note(HttpRefusal::kHost, t0 + seconds(9)).has_value());
  EXPECT_EQ(log.Note(HttpRefusal::kOrigin, t0 + seconds(9)), 1u);  // reasons are independent
  // 10 s later: one line for this one and the two not logged.
  EXPECT_EQ(log.Note(HttpRefusal::kHost, t0 + seconds(10)), 3u);
  EXPECT_FALSE(log.Note(HttpRefusal::kHost, t0 + seconds(11)).has_value());
  EXPECT_EQ(log.Note(HttpRefusal::kHost, t0 + seconds(60)), 2u);
  EXPECT_FALSE(log.Note(HttpRefusal::kOrigin, t0 + seconds(10)).has_value());
}

}  // namespace
}  // namespace spanvault::ipc
