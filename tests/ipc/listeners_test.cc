// Real-socket tests of the listeners, against an in-process daemon with a
// real RocksDB store in a temp dir.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <map>
#include <set>

#include "ipc/unix_socket.h"
#include "tests/ipc/daemon_fixture.h"

namespace spanvault::testing {
namespace {

using nlohmann::json;

std::string Span(const std::string& id, const std::string& extra = "") {
  return R"({"name":"call","span_id":")" + id + R"(","type":"generation","model":"gpt-4o")" + extra + "}";
}

class StreamTest : public DaemonFixture {};

TEST_F(StreamTest, SyncCountsSpansAndLinesSinceLastBarrier) {
  auto c = Connect();
  json a = SendSync(c,
                    {Span("s1"), "[" + Span("s2") + "," + Span("s3") + "," + Span("s4") + "]",
                     R"({"name":"x","usage":{"input_tokens":100,"cache_read_tokens":120}})", "", Span("s5")},
                    7);
  EXPECT_EQ(a["$sync"], 7);
  EXPECT_EQ(a["accepted"], 5);  // a line with an array of 3 counts 3
  EXPECT_EQ(a["rejected"], 1);
  ASSERT_EQ(a["errors"].size(), 1u);
  EXPECT_EQ(a["errors"][0]["line"], 3);
  EXPECT_EQ(a["errors"][0]["reason"], "usage.cache_read_tokens (120) exceeds usage.input_tokens (100)");
  // Lines keep counting across barriers; counts restart.
  json b = SendSync(c, {"not json", Span("s6")}, 8);
  EXPECT_EQ(b["$sync"], 8);
  EXPECT_EQ(b["accepted"], 1);
  EXPECT_EQ(b["rejected"], 1);
  EXPECT_EQ(b["errors"][0]["line"], 7);  // the blank line and the barrier count as lines too
  StopDaemon();
  std::set<std::string> ids;
  for (auto& s : StoredSpans()) ids.insert(s["span_id"].get<std::string>());
  EXPECT_EQ(ids, (std::set<std::string>{"s1", "s2", "s3", "s4", "s5", "s6"}));
}

TEST_F(StreamTest, OneByteAtATime) {
  auto c = Connect();
  std::string data = Span("slow") + "\n{\"$sync\":\"x\"}\n";
  for (char ch : data) {
    ASSERT_TRUE(c.Write(std::string_view(&ch, 1)).has_value());
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  auto line = c.ReadLine();
  ASSERT_TRUE(line.has_value());
  json a = json::parse(*line);
  EXPECT_EQ(a["$sync"], "x");
  EXPECT_EQ(a["accepted"], 1);
  EXPECT_EQ(a["rejected"], 0);
}

TEST_F(StreamTest, LastLineWithoutNewlineIsStoredAtEof) {
  {
    auto c = Connect();
    ASSERT_TRUE(c.Write(Span("tail")).has_value());
    c.ShutdownWrite();
  }
  EXPECT_TRUE(WaitFor([](const json& s) { return s["transports"]["unix_stream"]["accepted_spans"] == 1; }));
}

TEST_F(StreamTest, MixOfGoodAndBadLines) {
  std::vector<std::string> lines;
  std::vector<std::string> bad = {
      "\xff\xfe{garbage",                             // invalid UTF-8
      std::string(200, '[') + std::string(200, ']'),  // deep nesting
      std::string("\x00\x01\x02binary\x7f", 10),      // binary garbage
      R"({"name": "unterminated)",                    // syntax
      R"({"type":"generation"})",                     // no name
      "12",                                           // not an object
  };
  int good = 0;
  for (int i = 0; i < 60; ++i) {
    if (static_cast<size_t>(i % 10) < bad.size()) {
      lines.push_back(bad[i % 10]);
    } else {
      lines.push_back(Span("g" + std::to_string(i)));
      ++good;
    }
  }
  auto c = Connect();
  json a = SendSync(c, lines);
  EXPECT_EQ(a["accepted"], good);
  EXPECT_EQ(a["rejected"], 60 - good);
  EXPECT_EQ(a["errors"].size(), static_cast<size_t>(60 - good));
  json st = Status()["transports"]["unix_stream"];
  EXPECT_EQ(st["rejected_by_reason"]["encoding"], 6);
  EXPECT_EQ(st["rejected_by_reason"]["depth"], 6);
  EXPECT_EQ(st["rejected_by_reason"]["schema"], 12);
  StopDaemon();
  EXPECT_EQ(StoredSpans().size(), static_cast<size_t>(good));
  auto q = Quarantine();
  ASSERT_EQ(q.size(), static_cast<size_t>(60 - good));
  // Newest first, with the reason and an excerpt.
  EXPECT_EQ(q[0]["reason"], "payload must be a span object or an array of span objects, got number");
  EXPECT_EQ(q[0]["excerpt"], "12");
  EXPECT_EQ(q[0]["transport"], "unix_stream");
  EXPECT_EQ(q[0]["pid"], getpid());
}

TEST_F(StreamTest, AtMost100ErrorsPerAnswer) {
  std::vector<std::string> lines(150, "{}");
  auto c = Connect();
  json a = SendSync(c, lines);
  EXPECT_EQ(a["rejected"], 150);
  ASSERT_EQ(a["errors"].size(), 100u);
  EXPECT_EQ(a["errors"][0]["line"], 1);
  EXPECT_EQ(a["errors"][99]["line"], 100);
}

TEST_F(StreamTest, PeerCredentialsRecorded) {
  auto c = Connect();
  SendSync(c, {Span("cred")});
  StopDaemon();
  auto spans = StoredSpans();
  ASSERT_EQ(spans.size(), 1u);
  EXPECT_EQ(spans[0]["source"]["transport"], "unix_stream");
  EXPECT_EQ(spans[0]["source"]["pid"], getpid());
  EXPECT_EQ(spans[0]["source"]["uid"], getuid());
  EXPECT_EQ(spans[0]["source"]["gid"], getgid());
}

TEST_F(StreamTest, SocketsAreMode0660) {
  struct stat st;
  ASSERT_EQ(stat(StreamPath().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0660u);
  ASSERT_EQ(stat(DgramPath().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0660u);
}

TEST_F(StreamTest, ManyConcurrentConnectionsShareGroupCommits) {
  constexpr int kConns = 16, kPer = 400;
  std::atomic<int> accepted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kConns; ++t) {
    threads.emplace_back([&, t] {
      auto c = cli::StreamClient::Connect(StreamPath());
      ASSERT_TRUE(c.has_value());
      std::vector<std::string> lines;
      for (int i = 0; i < kPer; ++i) lines.push_back(Span("c" + std::to_string(t) + "-" + std::to_string(i)));
      json a = SendSync(*c, lines, t);
      accepted += a["accepted"].get<int>();
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(accepted, kConns * kPer);
  json b = Status()["buffer"];
  EXPECT_EQ(b["spans"], kConns * kPer);
  // One WAL write per batch of spans, not per span.
  EXPECT_LT(b["write_batches"].get<int>(), kConns * kPer / 4);
}

TEST_F(StreamTest, ClientThatNeverReadsDoesNotStallOthers) {
  // A client asks for status answers forever and never reads them.
  auto stuck = Connect();
  std::string flood;
  for (int i = 0; i < 2000; ++i) flood += "{\"$status\":true}\n";
  std::atomic<bool> stop{false}, blocked{false};
  std::thread flooder([&] {
    int fd = stuck.fd();
    timeval tv{0, 200000};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    while (!stop) {
      ssize_t n = send(fd, flood.data(), flood.size(), MSG_NOSIGNAL);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) blocked = true;
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) break;
    }
  });
  // The daemon stopped reading the flooder (its answers are not read).
  ASSERT_TRUE(testing::WaitFor([&] { return blocked.load(); }));
  // Meanwhile another client gets its spans stored and answered.
  auto c = Connect();
  auto start = std::chrono::steady_clock::now();
  json a = SendSync(c, {Span("free1"), Span("free2")});
  EXPECT_EQ(a["accepted"], 2);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  stop = true;
  flooder.join();
}

class StreamLimitTest : public DaemonFixture {
  std::vector<std::string> Settings() override { return {"ingest.max_span_bytes=1KiB"}; }
};

TEST_F(StreamLimitTest, LineOverLimitIsRefusedAndSkipped) {
  auto c = Connect();
  std::string huge = R"({"name":"big","input":")" + std::string(5000, 'x') + R"("})";
  std::string exact = R"({"name":"ok","input":")";
  exact += std::string(1024 - exact.size() - 2, 'y') + R"("})";
  ASSERT_EQ(exact.size(), 1024u);
  json a = SendSync(c, {huge, Span("after"), exact});
  EXPECT_EQ(a["accepted"], 2);
  EXPECT_EQ(a["rejected"], 1);
  EXPECT_EQ(a["errors"][0]["line"], 1);
  EXPECT_EQ(a["errors"][0]["reason"], "line is longer than the limit of 1024 bytes");
  // A huge line sent in pieces, across many reads, is skipped the same way.
  std::string giant = R"({"name":"giant","input":")" + std::string(3 << 20, 'z') + R"("})";
  json b = SendSync(c, {giant, Span("after2")}, 2);
  EXPECT_EQ(b["accepted"], 1);
  EXPECT_EQ(b["rejected"], 1);
  EXPECT_EQ(b["errors"][0]["line"], 5);
  StopDaemon();
  auto q = Quarantine();
  ASSERT_EQ(q.size(), 2u);
  EXPECT_EQ(q[0]["kind"], "too_large");
  EXPECT_EQ(q[0]["excerpt"].get<std::string>().size(), 4096u);
}

class DatagramTest : public DaemonFixture {
  std::vector<std::string> Settings() override { return {"ingest.max_unix_datagram_bytes=2KiB"}; }

 protected:
  void SendDgram(int fd, const std::string& path, const std::string& payload) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    memcpy(addr.sun_path, path.data(), path.size());
    ASSERT_EQ(sendto(fd, payload.data(), payload.size(), 0, reinterpret_cast<sockaddr*>(&addr), sizeof addr),
              static_cast<ssize_t>(payload.size()))
        << strerror(errno);
  }
};

TEST_F(DatagramTest, UnixDatagramsStoredWithCredentials) {
  int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
  ASSERT_GE(fd, 0);
  for (int i = 0; i < 200; ++i) SendDgram(fd, DgramPath(), Span("d" + std::to_string(i)));
  SendDgram(fd, DgramPath(), "[" + Span("arr1") + "," + Span("arr2") + "]");
  SendDgram(fd, DgramPath(), "{bad json");
  SendDgram(fd, DgramPath(), R"({"name":"big","input":")" + std::string(3000, 'x') + R"("})");
  close(fd);
  ASSERT_TRUE(WaitFor([](const json& s) {
    auto& t = s["transports"]["unix_dgram"];
    return t["accepted_spans"] == 202 && t["rejected"] == 2;
  })) << Status().dump();
  json t = Status()["transports"]["unix_dgram"];
  EXPECT_EQ(t["rejected_by_reason"]["syntax"], 1);
  EXPECT_EQ(t["rejected_by_reason"]["too_large"], 1);
  StopDaemon();
  auto spans = StoredSpans();
  ASSERT_EQ(spans.size(), 202u);
  EXPECT_EQ(spans[0]["source"]["transport"], "unix_dgram");
  EXPECT_EQ(spans[0]["source"]["pid"], getpid());
  EXPECT_EQ(spans[0]["source"]["uid"], getuid());
  auto q = Quarantine();
  ASSERT_EQ(q.size(), 2u);
  // Two reader lanes: datagrams carry no order, so neither does the quarantine.
  std::set<std::string> reasons = {q[0]["reason"].get<std::string>(), q[1]["reason"].get<std::string>()};
  EXPECT_EQ(reasons.count("datagram is larger than the limit of 2048 bytes"), 1u);
  EXPECT_EQ(reasons.size(), 2u);
}

TEST_F(DatagramTest, UdpDatagramsStored) {
  int port = daemon_->udp_port();
  ASSERT_GT(port, 0);
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  for (int i = 0; i < 100; ++i) {
    std::string p = Span("u" + std::to_string(i));
    ASSERT_GT(sendto(fd, p.data(), p.size(), 0, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  }
  std::string bad = "\x01\x02\x03";
  sendto(fd, bad.data(), bad.size(), 0, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  close(fd);
  ASSERT_TRUE(WaitFor([](const json& s) {
    auto& t = s["transports"]["udp"];
    return t["accepted_spans"].get<int>() + t["kernel_drops"].get<int>() >= 100 && t["rejected"] == 1;
  })) << Status().dump();
  json t = Status()["transports"]["udp"];
  EXPECT_EQ(t["accepted_spans"], 100);  // 100 small datagrams fit any receive buffer
  EXPECT_EQ(t["kernel_drops"], 0);
  StopDaemon();
  auto spans = StoredSpans();
  ASSERT_EQ(spans.size(), 100u);
  EXPECT_EQ(spans[0]["source"], json::parse(R"({"transport":"udp"})"));
}

TEST(SocketSetupTest, StaleSocketReplacedLiveSocketRefused) {
  TempDir dir;
  std::string path = dir.str() + "/s.sock";
  // A stale socket: bound, then its owner went away without unlinking.
  {
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    memcpy(addr.sun_path, path.data(), path.size());
    ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    close(fd);
  }
  auto fd = ipc::BindUnixSocket(path, ipc::UnixKind::kStream, 0660);
  ASSERT_TRUE(fd.has_value()) << fd.error().message;
  // Now it is live: a second daemon must not steal it.
  auto second = ipc::BindUnixSocket(path, ipc::UnixKind::kStream, 0660);
  ASSERT_FALSE(second.has_value());
  EXPECT_NE(second.error().message.find("in use"), std::string::npos);
  close(*fd);
  // A regular file is never replaced.
  std::string file = dir.str() + "/f";
  FILE* f = fopen(file.c_str(), "w");
  fclose(f);
  auto third = ipc::BindUnixSocket(file, ipc::UnixKind::kStream, 0660);
  ASSERT_FALSE(third.has_value());
  EXPECT_NE(third.error().message.find("not a socket"), std::string::npos);
}

TEST(SocketSetupTest, NonLoopbackUdpRefusedUnlessAllowed) {
  auto refused = ipc::BindUdpSocket({"0.0.0.0", 0}, /*allow_remote=*/false, 0);
  ASSERT_FALSE(refused.has_value());
  EXPECT_NE(refused.error().message.find("allow_remote"), std::string::npos);
  auto allowed = ipc::BindUdpSocket({"0.0.0.0", 0}, /*allow_remote=*/true, 0);
  ASSERT_TRUE(allowed.has_value()) << allowed.error().message;
  close(*allowed);
  EXPECT_TRUE(ipc::IsLoopback("127.0.0.5"));
  EXPECT_TRUE(ipc::IsLoopback("::1"));
  EXPECT_FALSE(ipc::IsLoopback("10.0.0.1"));
}

class MachineDurabilityTest : public DaemonFixture {
  std::vector<std::string> Settings() override { return {"buffer.durability=machine"}; }
};

TEST_F(MachineDurabilityTest, BarrierAnsweredAfterFsync) {
  auto c = Connect();
  uint64_t before = Status()["buffer"]["fsyncs"].get<uint64_t>();
  for (int i = 0; i < 5; ++i) {
    json a = SendSync(c, {Span("m" + std::to_string(i))}, i);
    EXPECT_EQ(a["accepted"], 1);
    // Every answer comes after at least one more fsync of the WAL.
    uint64_t now = Status()["buffer"]["fsyncs"].get<uint64_t>();
    EXPECT_GT(now, before);
    before = now;
  }
  EXPECT_EQ(Status()["buffer"]["durability"], "machine");
}

TEST(DaemonStartTest, SecondDaemonOnTheSameSocketsFailsAndLeavesThemAlone) {
  TempDir dir;
  daemon::LoadOptions lo;
  lo.use_environment = false;
  lo.sets = {"state_dir=" + dir.str() + "/state", "runtime_dir=" + dir.str() + "/run", "ingest.udp=off",
             "log_level=error"};
  std::vector<std::string> problems;
  daemon::Config c = daemon::LoadConfig(lo, &problems);
  ASSERT_TRUE(problems.empty());
  auto first = daemon::Daemon::Start(c);
  ASSERT_TRUE(first.has_value()) << first.error().message;
  daemon::Config other = c;
  other.state_dir = dir.path() / "state2";
  auto second = daemon::Daemon::Start(other);
  ASSERT_FALSE(second.has_value());
  EXPECT_NE(second.error().message.find("in use"), std::string::npos) << second.error().message;
  // The first daemon still serves.
  auto client = cli::StreamClient::Connect(dir.str() + "/run/spans.sock");
  ASSERT_TRUE(client.has_value());
  ASSERT_TRUE(client->Write(Span("still") + "\n{\"$sync\":1}\n").has_value());
  auto line = client->ReadLine();
  ASSERT_TRUE(line.has_value());
  EXPECT_EQ(json::parse(*line)["accepted"], 1);
  (*first)->Stop();
}

class PricingTest : public DaemonFixture {
 protected:
  std::vector<std::string> Settings() override {
    table_ = dir_.str() + "/prices.json";
    WriteTable("1.5");
    return {"price_tables=" + table_};
  }
  void WriteTable(const std::string& input_price) {
    std::ofstream(table_) << R"({"models":[{"id":"house-model","provider":"acme","match":{"equals":"house-model"},)"
                          << R"("prices":{"input":)" << input_price << R"(,"output":2}}]})";
  }
  std::string table_;
};

TEST_F(PricingTest, SpansArePricedFromUserAndBuiltInTables) {
  auto c = Connect();
  json a = SendSync(
      c,
      {R"({"name":"a","span_id":"builtin","type":"generation","model":"gpt-4o-2024-08-06","provider":"openai","usage":{"prompt_tokens":1000,"completion_tokens":500,"prompt_tokens_details":{"cached_tokens":200}}})",
       R"({"name":"b","span_id":"user","type":"generation","model":"house-model","provider":"acme","usage":{"input_tokens":1000000,"output_tokens":1000000}})",
       R"({"name":"c","span_id":"client","type":"generation","model":"gpt-4o","usage":{"input_tokens":10},"cost":0.5})",
       R"({"name":"d","span_id":"unknown","type":"generation","model":"mystery-1","usage":{"input_tokens":10}})",
       R"({"name":"e","span_id":"nousage","type":"generation","model":"gpt-4o"})",
       R"({"name":"f","span_id":"tool","type":"tool"})"});
  EXPECT_EQ(a["accepted"], 6);
  // Unpriced models are counted by name; a tool span is not a model call.
  auto u = c.Write("{\"$prices\":\"unpriced\"}\n");
  ASSERT_TRUE(u.has_value());
  json unpriced = json::parse(*c.ReadLine());
  ASSERT_EQ(unpriced["models"].size(), 2u) << unpriced.dump();
  // The status document names them too (what `spanvault status` prints).
  ASSERT_TRUE(c.Write("{\"$status\":true}\n").has_value());
  json status = json::parse(*c.ReadLine());
  std::set<std::string> names;
  for (const auto& m : status["prices"]["unpriced_models"]) names.insert(m["model"].get<std::string>());
  // mystery-1 has no price; gpt-4o without usage cannot be priced.
  EXPECT_EQ(names, (std::set<std::string>{"gpt-4o", "mystery-1"})) << status["prices"].dump();
  StopDaemon();
  std::map<std::string, json> by_id;
  for (auto& s : StoredSpans()) by_id[s["span_id"]] = s;
  // gpt-4o: 800 x $2.50 + 200 x $1.25 + 500 x $10 per 1M tokens.
  EXPECT_EQ(by_id["builtin"]["cost"]["total"], 0.00725);
  EXPECT_EQ(by_id["builtin"]["cost"]["cache_read"], 0.00025);
  EXPECT_EQ(by_id["builtin"]["cost"]["price_id"], "openai/gpt-4o");
  EXPECT_EQ(by_id["builtin"]["cost"]["source"], "table");
  EXPECT_EQ(by_id["user"]["cost"]["total"], 3.5);
  EXPECT_EQ(by_id["client"]["cost"]["source"], "client");
  EXPECT_EQ(by_id["client"]["cost"]["total"], 0.5);
  EXPECT_FALSE(by_id["unknown"].contains("cost"));
  EXPECT_FALSE(by_id["nousage"].contains("cost"));
  EXPECT_FALSE(by_id["tool"].contains("cost"));
}

TEST_F(PricingTest, ReloadSwapsTablesAndKeepsThemOnError) {
  auto c = Connect();
  std::string span =
      R"({"name":"b","type":"generation","model":"house-model","provider":"acme","usage":{"input_tokens":1000000}})";
  SendSync(c, {span});
  WriteTable("4");
  ASSERT_TRUE(c.Write("{\"$prices\":\"reload\"}\n").has_value());
  json r = json::parse(*c.ReadLine());
  EXPECT_EQ(r["ok"], true) << r.dump();
  SendSync(c, {span}, 2);
  // A broken file: the reload fails with the reason, the old prices stay.
  std::ofstream(table_) << "{ not json";
  ASSERT_TRUE(c.Write("{\"$prices\":\"reload\"}\n").has_value());
  json bad = json::parse(*c.ReadLine());
  EXPECT_EQ(bad["ok"], false);
  EXPECT_NE(bad["error"].get<std::string>().find(table_), std::string::npos) << bad.dump();
  SendSync(c, {span}, 3);
  EXPECT_EQ(Status()["prices"]["reloads"], 2);
  EXPECT_TRUE(Status()["prices"].contains("last_reload_error"));
  StopDaemon();
  auto spans = StoredSpans();
  ASSERT_EQ(spans.size(), 3u);
  EXPECT_EQ(spans[0]["cost"]["total"], 1.5);
  EXPECT_EQ(spans[1]["cost"]["total"], 4);
  EXPECT_EQ(spans[2]["cost"]["total"], 4);
}

class DropOldestTest : public DaemonFixture {
  std::vector<std::string> Settings() override { return {"buffer.max_disk_bytes=1MiB"}; }
};

TEST_F(DropOldestTest, OldestSpansDroppedAndCounted) {
  auto c = Connect();
  std::string pad(900, 'p');
  for (int round = 0; round < 6; ++round) {
    std::vector<std::string> lines;
    for (int i = 0; i < 500; ++i) {
      lines.push_back(Span("r" + std::to_string(round) + "-" + std::to_string(i), R"(,"input":")" + pad + "\""));
    }
    json a = SendSync(c, lines, round);
    EXPECT_EQ(a["accepted"], 500);
    EXPECT_EQ(a["rejected"], 0);
  }
  json b = Status()["buffer"];
  EXPECT_LE(b["bytes"].get<uint64_t>(), 1u << 20);
  EXPECT_GT(b["dropped_spans"].get<uint64_t>(), 0u);
  EXPECT_EQ(b["spans"].get<uint64_t>() + b["dropped_spans"].get<uint64_t>(), 3000u);
  StopDaemon();
  auto spans = StoredSpans();
  ASSERT_FALSE(spans.empty());
  EXPECT_EQ(spans.back()["span_id"], "r5-499");           // the newest is kept
  for (auto& s : spans) EXPECT_NE(s["span_id"], "r0-0");  // the oldest went first
}

class RejectWhenFullTest : public DaemonFixture {
  std::vector<std::string> Settings() override { return {"buffer.max_disk_bytes=1MiB", "buffer.on_full=reject"}; }
};

TEST_F(RejectWhenFullTest, NewSpansRefusedExistingKept) {
  auto c = Connect();
  std::string pad(900, 'p');
  uint64_t accepted = 0, rejected = 0;
  std::string last_reason;
  for (int round = 0; round < 6; ++round) {
    std::vector<std::string> lines;
    for (int i = 0; i < 500; ++i) {
      lines.push_back(Span("r" + std::to_string(round) + "-" + std::to_string(i), R"(,"input":")" + pad + "\""));
    }
    json a = SendSync(c, lines, round);
    accepted += a["accepted"].get<uint64_t>();
    rejected += a["rejected"].get<uint64_t>();
    if (!a["errors"].empty()) last_reason = a["errors"][0]["reason"];
  }
  EXPECT_EQ(accepted + rejected, 3000u);
  EXPECT_GT(rejected, 0u);
  EXPECT_EQ(last_reason, "buffer full (on_full = \"reject\"); resend later");
  json b = Status()["buffer"];
  EXPECT_EQ(b["dropped_spans"], 0);
  EXPECT_EQ(b["spans"], accepted);
  StopDaemon();
  auto spans = StoredSpans();
  ASSERT_EQ(spans.size(), accepted);
  EXPECT_EQ(spans.front()["span_id"], "r0-0");  // the oldest is kept
}

}  // namespace
}  // namespace spanvault::testing
