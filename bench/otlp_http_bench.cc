// spanvault-otlp-bench: OTLP/HTTP ingest rate against a running spanvaultd
// (bench/run.sh runs it for TRANSPORTS otlp-proto and otlp-json). Each
// connection sends ExportTraceServiceRequests of `batch` GenAI spans (~1 KB
// each on the wire) back to back on one keep-alive connection and waits for
// each answer (which spanvaultd sends once the spans are durable).
//
//   spanvault-otlp-bench PORT [proto|json] [SECONDS=10] [CONNECTIONS=4] [BATCH=512]
//
// Prints one line: "protobuf: 2 connections, batches of 512 spans (N bytes,
// N B/span): N spans/s, N MB/s, N failed"; exits 1 when a request failed.
#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "protobuf/wire.h"

namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using spanvault::otlp::WireWriter;

constexpr const char* kPrompt =
    R"([{"role":"system","parts":[{"type":"text","content":"You are a helpful assistant that answers briefly."}]},)"
    R"({"role":"user","parts":[{"type":"text","content":"Summarise the quarterly report in three bullet points, )"
    R"(keeping the numbers exact and naming the regions that grew fastest. The report follows: revenue rose )"
    R"(twelve percent, costs fell three percent, EMEA grew nineteen percent, APAC eleven percent."}]}])";
constexpr const char* kAnswer =
    R"([{"role":"assistant","parts":[{"type":"text","content":"- Revenue +12%\n- Costs -3%\n- EMEA +19%, APAC +11%"}],)"
    R"("finish_reason":"stop"}])";

std::string Hex(uint64_t v, int digits) {
  static const char* d = "0123456789abcdef";
  std::string s(static_cast<size_t>(digits), '0');
  for (int i = digits - 1; i >= 0 && v; --i, v >>= 4) s[static_cast<size_t>(i)] = d[v & 15];
  return s;
}
std::string Bytes(const std::string& hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2)
    out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return out;
}

void StringAttr(WireWriter& w, uint32_t field, const std::string& k, const std::string& v) {
  std::string kv, any;
  WireWriter a(any);
  a.Bytes(1, v);
  WireWriter x(kv);
  x.Bytes(1, k);
  x.Bytes(2, any);
  w.Bytes(field, kv);
}
void IntAttr(WireWriter& w, const std::string& k, int64_t v) {
  std::string kv, any;
  WireWriter a(any);
  a.Varint(3, static_cast<uint64_t>(v));
  WireWriter x(kv);
  x.Bytes(1, k);
  x.Bytes(2, any);
  w.Bytes(9, kv);
}

std::string ProtoRequest(int batch, int conn) {
  std::string scope_spans;
  WireWriter ss(scope_spans);
  std::string scope;
  WireWriter sc(scope);
  sc.Bytes(1, "bench");
  ss.Bytes(1, scope);
  uint64_t t0 = 1'700'000'000'000'000'000ull;
  for (int i = 0; i < batch; ++i) {
    std::string span;
    WireWriter s(span);
    s.Bytes(1, Bytes(Hex(static_cast<uint64_t>(conn) + 1, 16) + Hex(static_cast<uint64_t>(i / 8) + 1, 16)));
    s.Bytes(2, Bytes(Hex(static_cast<uint64_t>(conn) << 32 | static_cast<uint64_t>(i + 1), 16)));
    s.Bytes(5, "chat gpt-4o-mini");
    s.Varint(6, 3);
    s.Fixed64(7, t0 + static_cast<uint64_t>(i) * 1000);
    s.Fixed64(8, t0 + static_cast<uint64_t>(i) * 1000 + 800'000'000);
    StringAttr(s, 9, "gen_ai.operation.name", "chat");
    StringAttr(s, 9, "gen_ai.provider.name", "openai");
    StringAttr(s, 9, "gen_ai.request.model", "gpt-4o-mini");
    IntAttr(s, "gen_ai.usage.input_tokens", 1200 + i);
    IntAttr(s, "gen_ai.usage.output_tokens", 300);
    StringAttr(s, 9, "gen_ai.input.messages", kPrompt);
    StringAttr(s, 9, "gen_ai.output.messages", kAnswer);
    ss.Bytes(2, span);
  }
  std::string resource, rs, body;
  WireWriter r(resource);
  StringAttr(r, 1, "service.name", "bench");
  WireWriter rw(rs);
  rw.Bytes(1, resource);
  rw.Bytes(2, scope_spans);
  WireWriter b(body);
  b.Bytes(1, rs);
  return body;
}

std::string JsonEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out.push_back(c);
  }
  return out;
}

std::string JsonRequest(int batch, int conn) {
  std::string spans;
  uint64_t t0 = 1'700'000'000'000'000'000ull;
  auto str = [](const char* k, const std::string& v) {
    return std::string(R"({"key":")") + k + R"(","value":{"stringValue":")" + JsonEscape(v) + "\"}}";
  };
  auto num = [](const char* k, int64_t v) {
    return std::string(R"({"key":")") + k + R"(","value":{"intValue":")" + std::to_string(v) + "\"}}";
  };
  for (int i = 0; i < batch; ++i) {
    if (i) spans += ",";
    spans += R"({"traceId":")" + Hex(static_cast<uint64_t>(conn) + 1, 16) + Hex(static_cast<uint64_t>(i / 8) + 1, 16) +
             R"(","spanId":")" + Hex(static_cast<uint64_t>(conn) << 32 | static_cast<uint64_t>(i + 1), 16) +
             R"(","name":"chat gpt-4o-mini","kind":3,"startTimeUnixNano":")" + std::to_string(t0 + i * 1000ull) +
             R"(","endTimeUnixNano":")" + std::to_string(t0 + i * 1000ull + 800'000'000) + R"(","attributes":[)" +
             str("gen_ai.operation.name", "chat") + "," + str("gen_ai.provider.name", "openai") + "," +
             str("gen_ai.request.model", "gpt-4o-mini") + "," + num("gen_ai.usage.input_tokens", 1200 + i) + "," +
             num("gen_ai.usage.output_tokens", 300) + "," + str("gen_ai.input.messages", kPrompt) + "," +
             str("gen_ai.output.messages", kAnswer) + "]}";
  }
  return R"({"resourceSpans":[{"resource":{"attributes":[)" + str("service.name", "bench") +
         R"(]},"scopeSpans":[{"scope":{"name":"bench"},"spans":[)" + spans + "]}]}]}";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s PORT [proto|json] [SECONDS] [CONNECTIONS] [BATCH]\n", argv[0]);
    return 2;
  }
  int port = std::atoi(argv[1]);
  bool proto = argc < 3 || std::string(argv[2]) != "json";
  int seconds = argc > 3 ? std::atoi(argv[3]) : 10;
  int conns = argc > 4 ? std::atoi(argv[4]) : 4;
  int batch = argc > 5 ? std::atoi(argv[5]) : 512;
  std::atomic<uint64_t> spans{0}, bytes{0}, failures{0};
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  std::vector<std::thread> threads;
  size_t body_size = 0;
  for (int c = 0; c < conns; ++c) {
    std::string body = proto ? ProtoRequest(batch, c) : JsonRequest(batch, c);
    body_size = body.size();
    threads.emplace_back([&, body = std::move(body)] {
      asio::io_context ioc;
      asio::ip::tcp::socket sock(ioc);
      sock.connect({asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(port)});
      boost::beast::flat_buffer buf;
      http::request<http::string_body> req{http::verb::post, "/v1/traces", 11};
      // The daemon refuses a Host that is not loopback with its port (DNS rebinding).
      req.set(http::field::host, "127.0.0.1:" + std::to_string(port));
      req.set(http::field::content_type, proto ? "application/x-protobuf" : "application/json");
      req.body() = body;
      req.prepare_payload();
      while (std::chrono::steady_clock::now() < deadline) {
        http::write(sock, req);
        http::response<http::string_body> res;
        http::read(sock, buf, res);
        if (res.result_int() == 200) {
          spans += static_cast<uint64_t>(batch);
          bytes += body.size();
        } else {
          ++failures;
        }
        if (!res.keep_alive()) {
          // ingest.http_max_requests_per_connection: the daemon closes; a new connection goes on.
          sock.close();
          buf.clear();
          sock = asio::ip::tcp::socket(ioc);
          sock.connect({asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(port)});
        }
      }
    });
  }
  auto start = std::chrono::steady_clock::now();
  for (auto& t : threads) t.join();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf(
      "%s: %d connections, batches of %d spans (%zu bytes, %.0f B/span): %.0f spans/s, %.1f MB/s, %llu failed\n",
      proto ? "protobuf" : "json", conns, batch, body_size, static_cast<double>(body_size) / batch,
      static_cast<double>(spans.load()) / secs, static_cast<double>(bytes.load()) / secs / 1e6,
      static_cast<unsigned long long>(failures.load()));
  return failures.load() == 0 ? 0 : 1;
}
