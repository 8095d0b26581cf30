// spanvault-bench — a load generator for spanvaultd.
//
// Sends realistic ~1 KB LLM spans over one transport and reports how fast the
// daemon made them durable:
//
//   stream  NDJSON over the Unix stream socket, C parallel connections; each
//           connection writes its share in big writes of whole lines, then
//           sends {"$sync":1} and waits for the answer. Rate = accepted spans
//           / (first byte .. last barrier answer).
//   dgram   one span per datagram on the Unix datagram socket (blocking: the
//           kernel applies back-pressure). The daemon's counters are polled
//           with {"$status":true} over the stream socket until every span is
//           accepted or the count stops growing. Rate = accepted spans /
//           (first datagram .. last accepted span seen).
//   udp     one span per datagram over UDP, paced at --rate (or as fast as
//           possible); polled like dgram; reports loss and kernel drops.
//
// With --drain live|backlog it measures forwarding instead: it runs a fast
// HTTP sink (bench/sink.h) on the port the daemon's upstream points at, sends
// over the stream and reads the upstream's counters from $status (see the
// "Drain" section below). --sink runs only the sink.
//
// The spans are generated before timing: a pool of distinct spans whose
// span_id field (16 hex digits) is patched in place before each send, so every
// span sent has a unique span_id.
//
// Exit status: 0 done; 1 error (bad option, daemon unreachable, timeout);
// 2 done but the daemon accepted fewer spans than were sent on a transport
// that must not lose any (stream, dgram), or (drain) not every span was
// delivered or the sink saw a bad request.

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <latch>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/sink.h"
#include "common/util.h"

namespace {

using nlohmann::json;
using spanvault::bench::Sink;
using spanvault::bench::SinkOptions;
using spanvault::bench::SinkStats;

constexpr size_t kStreamWriteBytes = 256u << 10;  // one write(2) of whole lines
constexpr size_t kDatagramBatch = 64;             // datagrams per sendmmsg(2)
constexpr size_t kMaxPoolSpans = 4096;
constexpr size_t kMaxPoolBytes = 16u << 20;  // per sender (each has its own copy)
constexpr size_t kMinSpanBytes = 256;
constexpr size_t kMaxSpanBytes = 1u << 20;         // the daemon's default line limit
constexpr size_t kMaxUdpSpanBytes = 65507;         // largest UDP payload over IPv4
constexpr size_t kMaxDgramSpanBytes = 256u << 10;  // the daemon's default datagram limit

// ---------------------------------------------------------------------------
// Small helpers

int64_t MonoNs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

void SleepUntilMono(int64_t ns) {
  timespec ts{};
  ts.tv_sec = ns / 1'000'000'000;
  ts.tv_nsec = ns % 1'000'000'000;
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
  }
}

double Seconds(int64_t ns) { return static_cast<double>(ns) / 1e9; }

std::string Errno(int e) { return std::strerror(e); }

// 1234567 -> "1,234,567"
std::string Commas(uint64_t v) {
  const std::string digits = std::to_string(v);
  std::string s;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) s.push_back(',');
    s.push_back(digits[i]);
  }
  return s;
}

std::string Fixed(double v, int decimals) {
  char b[64];
  std::snprintf(b, sizeof b, "%.*f", decimals, v);
  return b;
}

constexpr char kHex[] = "0123456789abcdef";

void WriteHex64(uint64_t v, char* out) {
  for (int i = 15; i >= 0; --i) {
    out[i] = kHex[v & 0xf];
    v >>= 4;
  }
}

std::string Hex(std::mt19937_64& rng, size_t chars) {
  std::string s;
  while (s.size() < chars) {
    char b[16];
    WriteHex64(rng(), b);
    s.append(b, std::min<size_t>(16, chars - s.size()));
  }
  return s;
}

// Reads a whole small file (procfs); empty on failure.
std::string ReadSmallFile(const std::string& path) {
  std::ifstream f(path);
  if (!f) return {};
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// ---------------------------------------------------------------------------
// Options

struct Options {
  std::string transport = "stream";
  std::string runtime_dir;
  std::string socket_path;
  std::string dgram_path;
  std::string udp = "127.0.0.1:4319";
  uint64_t spans = 100'000;
  int connections = 0;  // 0: 2 for stream, 1 otherwise
  double rate = 0;
  size_t span_bytes = 1024;
  int pid = 0;
  bool json = false;
  bool markdown_row = false;
  bool sample = false;
  double timeout_s = 120;
  double drain_timeout_s = 30;
  double settle_s = 2;
  uint64_t seed = 0;

  // Drain benchmark (forwarding to a local sink).
  std::string drain;            // "" | "live" | "backlog"
  double backlog_settle_s = 3;  // backlog: wait this long after the last span is durable
  bool sink_only = false;       // --sink: run the sink alone until SIGINT/SIGTERM
  int sink_port = -1;
  std::string upstream;  // "" = the daemon's first upstream
  int poll_interval_ms = 100;
  uint64_t verify_every = 50;
  std::string expect_gzip;  // "" | "on" | "off"
  uint64_t expect_batch = 0;
};

// The daemon's default runtime dir (config/config.h DefaultRuntimeDir).
std::string DefaultRuntimeDir() {
  if (geteuid() == 0) return "/run/spanvault";
  const char* xdg = std::getenv("XDG_RUNTIME_DIR");
  if (xdg != nullptr && *xdg != '\0') return std::string(xdg) + "/spanvault";
  return "./spanvault-data/run";
}

// ---------------------------------------------------------------------------
// Span generation

constexpr const char* kWords[] = {
    "the",      "customer",  "order",     "refund",    "invoice",  "shipping",  "account",      "password", "reset",
    "please",   "summarize", "following", "document",  "answer",   "question",  "context",      "policy",   "within",
    "days",     "support",   "ticket",    "priority",  "escalate", "billing",   "subscription", "renewal",  "plan",
    "upgrade",  "error",     "timeout",   "database",  "query",    "latency",   "region",       "deploy",   "release",
    "feature",  "request",   "user",      "reported",  "issue",    "after",     "update",       "version",  "mobile",
    "app",      "crash",     "login",     "screen",    "payment",  "declined",  "card",         "address",  "change",
    "delivery", "tracking",  "number",    "warehouse", "stock",    "available", "product",      "review",   "rating",
    "and",      "of",        "to",        "in",        "for",      "with",      "on",           "is",       "was",
    "a",        "we",        "you",       "they",      "can",      "will",      "should",       "not",      "has",
};
constexpr size_t kWordCount = sizeof kWords / sizeof kWords[0];

constexpr const char* kSystemPrompts[] = {
    "You are a helpful customer support assistant. Answer briefly and cite the relevant policy.",
    "You are an expert summarizer. Produce a concise summary in three bullet points.",
    "Classify the ticket into one of: billing, shipping, account, technical, other.",
    "You answer questions using only the provided context. Say you do not know otherwise.",
    "Extract the order number, the customer name and the requested action as JSON.",
};

constexpr const char* kNames[] = {"chat.completions", "support.answer",     "ticket.classify",
                                  "rag.generate",     "summarize.document", "extract.entities"};

struct ModelInfo {
  const char* model;
  const char* provider;
};
constexpr ModelInfo kModels[] = {{"gpt-4o-mini", "openai"},
                                 {"gpt-4o", "openai"},
                                 {"gpt-4.1-mini", "openai"},
                                 {"claude-3-5-haiku-latest", "anthropic"},
                                 {"gemini-1.5-flash", "google"}};

constexpr const char* kServices[] = {"support-bot", "search-api", "billing-worker", "docs-assistant"};
constexpr const char* kRegions[] = {"eu-west-1", "us-east-1", "us-west-2", "ap-southeast-1"};

// Random words, exactly `len` bytes, JSON-safe (letters, spaces, '.', ',').
std::string Text(std::mt19937_64& rng, size_t len) {
  std::string s;
  s.reserve(len + 16);
  bool capital = true;
  while (s.size() < len) {
    std::string w = kWords[rng() % kWordCount];
    if (capital) {
      w[0] = static_cast<char>(w[0] - 'a' + 'A');
      capital = false;
    }
    s += w;
    uint64_t r = rng() % 12;
    if (r == 0) {
      s += ". ";
      capital = true;
    } else if (r == 1) {
      s += ", ";
    } else {
      s += ' ';
    }
  }
  s.resize(len);
  if (!s.empty() && s.back() == ' ') s.back() = '.';
  return s;
}

struct SpanTemplate {
  std::string json;  // no trailing newline
  size_t id_offset;  // where the 16 hex digits of span_id start
};

// One generation span of about `target` bytes (never less than its fixed part).
SpanTemplate MakeSpan(std::mt19937_64& rng, size_t target) {
  const std::string trace_id = Hex(rng, 32);
  const std::string parent_id = Hex(rng, 16);
  const char* name = kNames[rng() % std::size(kNames)];
  const ModelInfo& m = kModels[rng() % std::size(kModels)];
  const char* system = kSystemPrompts[rng() % std::size(kSystemPrompts)];
  const char* service = kServices[rng() % std::size(kServices)];
  const char* region = kRegions[rng() % std::size(kRegions)];
  const int64_t now = spanvault::NowNanos();
  const int64_t start = now - static_cast<int64_t>(rng() % 3'600'000'000'000ull);  // within the last hour
  const int64_t end = start + 150'000'000 + static_cast<int64_t>(rng() % 8'000'000'000ull);
  const uint64_t input_tokens = 50 + rng() % 4000;
  const uint64_t output_tokens = 10 + rng() % 800;
  const uint64_t cache_read = (rng() % 3 == 0) ? 0 : input_tokens / (2 + rng() % 4);
  const double temperature = static_cast<double>(rng() % 11) / 10.0;
  const std::string request_id = "req_" + Hex(rng, 20);
  const std::string session = "sess_" + Hex(rng, 12);
  const std::string user = "user_" + std::to_string(1000 + rng() % 90000);

  auto build = [&](const std::string& user_text, const std::string& out_text, size_t* id_offset) {
    std::string s;
    s.reserve(target + 64);
    s += R"({"trace_id":")";
    s += trace_id;
    s += R"(","span_id":")";
    *id_offset = s.size();
    s += "0000000000000000";
    s += R"(","parent_span_id":")";
    s += parent_id;
    s += R"(","name":")";
    s += name;
    s += R"(","type":"generation","model":")";
    s += m.model;
    s += R"(","provider":")";
    s += m.provider;
    s += R"(","start_time":")";
    s += spanvault::FormatRfc3339(start);
    s += R"(","end_time":")";
    s += spanvault::FormatRfc3339(end);
    s += R"(","status":"ok","model_parameters":{"temperature":)";
    s += Fixed(temperature, 1);
    s += R"(,"max_tokens":1024},"usage":{"input_tokens":)";
    s += std::to_string(input_tokens);
    s += R"(,"output_tokens":)";
    s += std::to_string(output_tokens);
    s += R"(,"cache_read_tokens":)";
    s += std::to_string(cache_read);
    s += R"(},"input":[{"role":"system","content":")";
    s += system;
    s += R"("},{"role":"user","content":")";
    s += user_text;
    s += R"("}],"output":[{"role":"assistant","content":")";
    s += out_text;
    s += R"("}],"attributes":{"service.name":")";
    s += service;
    s += R"(","cloud.region":")";
    s += region;
    s += R"(","request_id":")";
    s += request_id;
    s += R"(","http.status_code":200,"retry_count":)";
    s += std::to_string(rng() % 3);
    s += R"(},"session_id":")";
    s += session;
    s += R"(","user_id":")";
    s += user;
    s += R"(","environment":"production","tags":["bench","spanvault-bench"]})";
    return s;
  };

  SpanTemplate t;
  std::string fixed = build("", "", &t.id_offset);
  size_t room = target > fixed.size() ? target - fixed.size() : 0;
  size_t user_len = room * 55 / 100;
  t.json = build(Text(rng, user_len), Text(rng, room - user_len), &t.id_offset);
  return t;
}

// The spans one sender sends, laid out as NDJSON lines in one buffer so that a
// run of consecutive spans is one contiguous write. Each sender has its own
// copy: it patches span_id fields in place.
struct Pool {
  std::string data;               // span i is data[begin[i], begin[i+1]) including its '\n'
  std::vector<size_t> begin;      // size() == count + 1
  std::vector<size_t> id_offset;  // absolute offset of span i's span_id digits
  size_t count() const { return id_offset.size(); }
  size_t line_bytes(size_t i) const { return begin[i + 1] - begin[i]; }
};

Pool MakePool(size_t count, size_t target, uint64_t seed) {
  std::mt19937_64 rng(seed);
  Pool p;
  p.data.reserve(count * (target + 1));
  p.begin.reserve(count + 1);
  p.id_offset.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    SpanTemplate t = MakeSpan(rng, target);
    p.begin.push_back(p.data.size());
    p.id_offset.push_back(p.data.size() + t.id_offset);
    p.data += t.json;
    p.data += '\n';
  }
  p.begin.push_back(p.data.size());
  return p;
}

// ---------------------------------------------------------------------------
// Sockets

// Connects a Unix socket of `type`; -1 and a readable message on failure.
int ConnectUnix(const std::string& path, int type, const char* what, std::string* err) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) {
    *err = std::string(what) + " path " + path + " is too long for a Unix socket (max " +
           std::to_string(sizeof addr.sun_path - 1) + " bytes)";
    return -1;
  }
  std::memcpy(addr.sun_path, path.data(), path.size());
  int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *err = "socket(): " + Errno(errno);
    return -1;
  }
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    int e = errno;
    close(fd);
    std::string hint;
    if (e == ENOENT) {
      hint = " (no socket there: is spanvaultd running? use --runtime-dir, --socket or --dgram)";
    } else if (e == ECONNREFUSED) {
      hint = " (nothing is listening: stale socket, or spanvaultd is not running)";
    } else if (e == EACCES || e == EPERM) {
      hint = " (permission denied: run as a user in the socket's group)";
    } else if (e == EPROTOTYPE) {
      hint = " (wrong socket type: is this the right path?)";
    }
    *err = "cannot connect to " + std::string(what) + " " + path + ": " + Errno(e) + hint;
    return -1;
  }
  return fd;
}

// Parses "HOST:PORT" or "[V6]:PORT" and connects a UDP socket to it.
int ConnectUdp(const std::string& hostport, std::string* err) {
  std::string host, port;
  if (!hostport.empty() && hostport[0] == '[') {
    size_t close_br = hostport.find(']');
    if (close_br == std::string::npos || close_br + 1 >= hostport.size() || hostport[close_br + 1] != ':') {
      *err = "--udp " + hostport + ": expected HOST:PORT";
      return -1;
    }
    host = hostport.substr(1, close_br - 1);
    port = hostport.substr(close_br + 2);
  } else {
    size_t colon = hostport.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 >= hostport.size()) {
      *err = "--udp " + hostport + ": expected HOST:PORT";
      return -1;
    }
    host = hostport.substr(0, colon);
    port = hostport.substr(colon + 1);
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* res = nullptr;
  int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &res);
  if (rc != 0) {
    *err = "--udp " + hostport + ": " + gai_strerror(rc);
    return -1;
  }
  int fd = -1;
  std::string last;
  for (addrinfo* a = res; a != nullptr; a = a->ai_next) {
    fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) {
      last = Errno(errno);
      continue;
    }
    if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) break;
    last = Errno(errno);
    close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  if (fd < 0) *err = "cannot reach UDP " + hostport + ": " + last;
  return fd;
}

void SetSendTimeout(int fd, double seconds) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(seconds);
  tv.tv_usec = static_cast<suseconds_t>((seconds - static_cast<double>(tv.tv_sec)) * 1e6);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

// Writes everything; false with a message on error or timeout (SO_SNDTIMEO).
bool WriteAll(int fd, const char* p, size_t n, double timeout_s, std::string* err) {
  while (n > 0) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w > 0) {
      p += w;
      n -= static_cast<size_t>(w);
      continue;
    }
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      *err = "the daemon read nothing for " + Fixed(timeout_s, 0) + " s (see --timeout)";
    } else if (w < 0 && (errno == EPIPE || errno == ECONNRESET)) {
      *err = "the daemon closed the connection";
    } else {
      *err = "write failed: " + Errno(errno);
    }
    return false;
  }
  return true;
}

// Reads one '\n'-terminated line (without it) within `timeout_s`.
bool ReadLine(int fd, std::string& buf, std::string* line, double timeout_s, std::string* err) {
  const int64_t deadline = MonoNs() + static_cast<int64_t>(timeout_s * 1e9);
  for (;;) {
    size_t nl = buf.find('\n');
    if (nl != std::string::npos) {
      line->assign(buf, 0, nl);
      buf.erase(0, nl + 1);
      return true;
    }
    int64_t left = deadline - MonoNs();
    if (left <= 0) {
      *err = "no answer from the daemon within " + Fixed(timeout_s, 0) + " s";
      return false;
    }
    pollfd p{fd, POLLIN, 0};
    int r = poll(&p, 1, static_cast<int>(std::min<int64_t>(left / 1'000'000 + 1, 1000)));
    if (r < 0 && errno != EINTR) {
      *err = "poll failed: " + Errno(errno);
      return false;
    }
    if (r <= 0) continue;
    char tmp[16384];
    ssize_t n = recv(fd, tmp, sizeof tmp, MSG_DONTWAIT);
    if (n > 0) {
      buf.append(tmp, static_cast<size_t>(n));
    } else if (n == 0) {
      *err = "the daemon closed the connection before answering";
      return false;
    } else if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) {
      *err = "read failed: " + Errno(errno);
      return false;
    }
  }
}

// ---------------------------------------------------------------------------
// The daemon's {"$status": true}

struct Counts {
  uint64_t received = 0;
  uint64_t received_bytes = 0;
  uint64_t accepted = 0;
  uint64_t rejected = 0;
  uint64_t kernel_drops = 0;
};

uint64_t U64(const json& o, const char* key) {
  if (!o.is_object()) return 0;
  auto it = o.find(key);
  if (it == o.end() || !it->is_number()) return 0;
  if (it->is_number_unsigned()) return it->get<uint64_t>();
  if (it->is_number_integer()) return static_cast<uint64_t>(std::max<int64_t>(0, it->get<int64_t>()));
  return static_cast<uint64_t>(std::max(0.0, it->get<double>()));
}

class StatusClient {
 public:
  ~StatusClient() {
    if (fd_ >= 0) close(fd_);
  }
  bool Open(const std::string& path, std::string* err) {
    fd_ = ConnectUnix(path, SOCK_STREAM, "stream socket", err);
    return fd_ >= 0;
  }
  bool ok() const { return fd_ >= 0; }

  // One status query; nullopt with a message on failure.
  std::optional<json> Query(double timeout_s, std::string* err) {
    if (fd_ < 0) {
      *err = "no status connection";
      return std::nullopt;
    }
    static const std::string kQuery = "{\"$status\":true}\n";
    if (!WriteAll(fd_, kQuery.data(), kQuery.size(), timeout_s, err)) return std::nullopt;
    std::string line;
    if (!ReadLine(fd_, buf_, &line, timeout_s, err)) return std::nullopt;
    json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object() || !j.contains("transports")) {
      *err = "unexpected status answer: " + line.substr(0, 200);
      return std::nullopt;
    }
    return j;
  }

  static Counts Extract(const json& status, const std::string& transport) {
    Counts c;
    auto t = status.find("transports");
    if (t == status.end() || !t->is_object()) return c;
    auto x = t->find(transport);
    if (x == t->end()) return c;
    c.received = U64(*x, "received");
    c.received_bytes = U64(*x, "received_bytes");
    c.accepted = U64(*x, "accepted_spans");
    c.rejected = U64(*x, "rejected");
    c.kernel_drops = U64(*x, "kernel_drops");
    return c;
  }

  static std::string Durability(const json& status) {
    auto b = status.find("buffer");
    if (b == status.end() || !b->is_object()) return {};
    auto d = b->find("durability");
    return d != b->end() && d->is_string() ? d->get<std::string>() : std::string();
  }

 private:
  int fd_ = -1;
  std::string buf_;
};

// ---------------------------------------------------------------------------
// /proc sampling of the daemon and of ourselves

// utime + stime of `pid` in seconds; nullopt when unreadable.
std::optional<double> ProcessCpuSeconds(int pid) {
  if (pid <= 0) return std::nullopt;
  std::string s = ReadSmallFile("/proc/" + std::to_string(pid) + "/stat");
  size_t paren = s.rfind(')');
  if (paren == std::string::npos) return std::nullopt;
  std::istringstream in(s.substr(paren + 1));
  std::string field;
  // Fields after the command: state(3) ppid pgrp session tty_nr tpgid flags
  // minflt cminflt majflt cmajflt utime(14) stime(15).
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && (in >> field); ++i) {
    if (i == 14) utime = std::strtoull(field.c_str(), nullptr, 10);
    if (i == 15) stime = std::strtoull(field.c_str(), nullptr, 10);
  }
  if (!in) return std::nullopt;
  long tck = sysconf(_SC_CLK_TCK);
  return static_cast<double>(utime + stime) / static_cast<double>(tck > 0 ? tck : 100);
}

// VmHWM (peak resident set) of `pid` in bytes.
std::optional<uint64_t> PeakRssBytes(int pid) {
  if (pid <= 0) return std::nullopt;
  std::string s = ReadSmallFile("/proc/" + std::to_string(pid) + "/status");
  size_t at = s.find("VmHWM:");
  if (at == std::string::npos) return std::nullopt;
  return std::strtoull(s.c_str() + at + 6, nullptr, 10) * 1024;
}

// VmRSS (current resident set) of `pid` in bytes.
std::optional<uint64_t> CurrentRssBytes(int pid) {
  if (pid <= 0) return std::nullopt;
  std::string s = ReadSmallFile("/proc/" + std::to_string(pid) + "/status");
  size_t at = s.find("VmRSS:");
  if (at == std::string::npos) return std::nullopt;
  return std::strtoull(s.c_str() + at + 6, nullptr, 10) * 1024;
}

// Resets the peak RSS of `pid` to its current RSS (Linux >= 4.0), so VmHWM
// after the run is the peak during the run.
bool ResetPeakRss(int pid) {
  if (pid <= 0) return false;
  int fd = open(("/proc/" + std::to_string(pid) + "/clear_refs").c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = write(fd, "5", 1) == 1;
  close(fd);
  return ok;
}

double SelfCpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// ---------------------------------------------------------------------------
// Results

struct Result {
  std::string transport;
  std::string durability;  // from the daemon's status; "" when unknown
  uint64_t requested = 0;
  int connections = 0;
  double rate_target = 0;
  double avg_span_bytes = 0;

  uint64_t sent = 0;
  uint64_t bytes_sent = 0;
  bool accepted_known = false;
  uint64_t accepted = 0;
  uint64_t rejected = 0;
  uint64_t daemon_received = 0;
  std::optional<uint64_t> kernel_drops;

  int64_t t_start = 0;                     // CLOCK_MONOTONIC of the first byte sent
  std::optional<double> daemon_cpu_start;  // the daemon's CPU seconds then
  double send_seconds = 0;                 // first byte .. last byte sent
  double wall_seconds = 0;                 // first byte .. last span accepted (barrier answer / last count change)

  std::optional<double> daemon_cpu_pct;
  std::optional<uint64_t> daemon_peak_rss;
  bool peak_rss_reset = false;
  double bench_cpu_pct = 0;

  std::vector<std::string> errors;  // rejections reported by the daemon
  std::vector<std::string> warnings;

  double spans_per_s() const { return wall_seconds > 0 ? static_cast<double>(accepted) / wall_seconds : 0; }
  double mib_per_s() const {
    return wall_seconds > 0 ? static_cast<double>(accepted) * avg_span_bytes / wall_seconds / (1024.0 * 1024.0) : 0;
  }
  double send_per_s() const { return send_seconds > 0 ? static_cast<double>(sent) / send_seconds : 0; }
  uint64_t lost() const { return accepted_known && sent > accepted ? sent - accepted : 0; }
  double loss_pct() const { return sent > 0 ? 100.0 * static_cast<double>(lost()) / static_cast<double>(sent) : 0; }
};

// Measurement bookkeeping shared by the transports.
struct Meter {
  int pid = 0;
  std::optional<double> cpu0;
  double self_cpu0 = 0;
  int64_t t0 = 0;
  bool rss_reset = false;
  double self_cpu_senders = 0;  // our CPU seconds when the last sender finished
  int64_t t_senders = 0;        // when the last sender finished

  void Start(int daemon_pid) {
    pid = daemon_pid;
    rss_reset = ResetPeakRss(pid);
    self_cpu0 = SelfCpuSeconds();
    cpu0 = ProcessCpuSeconds(pid);
    t0 = MonoNs();
  }
  // `cpu_end`: the daemon's CPU seconds sampled at the end of the window.
  void Finish(Result& r, std::optional<double> cpu_end, int64_t t_end) {
    double wall = Seconds(t_end - t0);
    if (cpu0 && cpu_end && wall > 0) r.daemon_cpu_pct = 100.0 * (*cpu_end - *cpu0) / wall;
    r.daemon_peak_rss = PeakRssBytes(pid);
    r.peak_rss_reset = rss_reset;
    double self_wall = Seconds(t_senders - t0);
    if (self_wall > 0) r.bench_cpu_pct = 100.0 * (self_cpu_senders - self_cpu0) / self_wall;
  }
  void SendersDone() {
    t_senders = MonoNs();
    self_cpu_senders = SelfCpuSeconds();
  }
};

// ---------------------------------------------------------------------------
// Senders

struct SenderPlan {
  uint64_t count = 0;      // spans to send
  uint64_t first_seq = 0;  // span_id = id_base + seq
  size_t first_span = 0;   // where in the pool to start
};

struct SenderResult {
  uint64_t sent = 0;
  uint64_t bytes = 0;
  int64_t t_sent = 0;    // when the last byte was handed to the kernel
  int64_t t_answer = 0;  // stream: when the barrier answer arrived
  bool answered = false;
  uint64_t accepted = 0;
  uint64_t rejected = 0;
  std::vector<std::string> errors;
  std::string error;  // fatal
};

std::vector<SenderPlan> Plan(uint64_t total, int connections, size_t pool_count) {
  std::vector<SenderPlan> plans(static_cast<size_t>(connections));
  uint64_t seq = 0;
  for (size_t i = 0; i < plans.size(); ++i) {
    plans[i].count = total / plans.size() + (i < total % plans.size() ? 1 : 0);
    plans[i].first_seq = seq;
    plans[i].first_span = i * pool_count / plans.size();
    seq += plans[i].count;
  }
  return plans;
}

// rate > 0: paced like the datagram sender, a write of at most ~0.5 ms worth
// of spans at a time.
void StreamSender(int fd, Pool& pool, SenderPlan plan, uint64_t id_base, double rate, const Options& opt,
                  SenderResult& res) {
  try {
    const size_t n = pool.count();
    size_t i = plan.first_span % n;
    uint64_t seq = plan.first_seq;
    uint64_t left = plan.count;
    const uint64_t burst = rate > 0 ? std::max<uint64_t>(static_cast<uint64_t>(rate / 2000.0), 1) : UINT64_MAX;
    const int64_t t0 = MonoNs();
    while (left > 0) {
      if (i == n) i = 0;
      if (rate > 0) {
        int64_t due = t0 + static_cast<int64_t>(static_cast<double>(plan.count - left) * 1e9 / rate);
        if (due > MonoNs()) SleepUntilMono(due);
      }
      size_t j = i;
      while (j < n && j - i < left && j - i < burst &&
             (j == i || pool.begin[j + 1] - pool.begin[i] <= kStreamWriteBytes)) {
        WriteHex64(id_base + seq++, &pool.data[pool.id_offset[j]]);
        ++j;
      }
      size_t bytes = pool.begin[j] - pool.begin[i];
      if (!WriteAll(fd, pool.data.data() + pool.begin[i], bytes, opt.timeout_s, &res.error)) return;
      res.sent += j - i;
      res.bytes += bytes;
      left -= j - i;
      i = j;
    }
    res.t_sent = MonoNs();
    static const std::string kSync = "{\"$sync\":1}\n";
    if (!WriteAll(fd, kSync.data(), kSync.size(), opt.timeout_s, &res.error)) return;
    std::string buf, line;
    for (;;) {
      if (!ReadLine(fd, buf, &line, opt.timeout_s, &res.error)) return;
      json a = json::parse(line, nullptr, false);
      if (!a.is_object() || !a.contains("$sync")) continue;  // not our answer
      res.t_answer = MonoNs();
      res.answered = true;
      res.accepted = U64(a, "accepted");
      res.rejected = U64(a, "rejected");
      if (auto e = a.find("error"); e != a.end() && e->is_string()) res.error = "barrier: " + e->get<std::string>();
      if (auto es = a.find("errors"); es != a.end() && es->is_array()) {
        for (const auto& e : *es) {
          if (res.errors.size() >= 5) break;
          std::string reason = e.is_object() && e.contains("reason") && e["reason"].is_string()
                                   ? e["reason"].get<std::string>()
                                   : e.dump();
          res.errors.push_back("line " + std::to_string(U64(e, "line")) + ": " + reason);
        }
      }
      return;
    }
  } catch (const std::exception& e) {
    res.error = std::string("internal error: ") + e.what();
  }
}

void DatagramSender(int fd, Pool& pool, SenderPlan plan, uint64_t id_base, double rate, const Options& opt, bool udp,
                    SenderResult& res) {
  try {
    const size_t n = pool.count();
    std::vector<mmsghdr> msgs(kDatagramBatch);
    std::vector<iovec> iov(kDatagramBatch);
    // Pace in bursts of about 0.5 ms worth of spans (1..kDatagramBatch).
    const uint64_t burst =
        rate > 0 ? std::clamp<uint64_t>(static_cast<uint64_t>(rate / 2000.0), 1, kDatagramBatch) : kDatagramBatch;
    const int64_t t0 = MonoNs();
    size_t next = plan.first_span % n;
    uint64_t seq = plan.first_seq;
    uint64_t done = 0;
    while (done < plan.count) {
      if (rate > 0) {
        int64_t due = t0 + static_cast<int64_t>(static_cast<double>(done) * 1e9 / rate);
        if (due > MonoNs()) SleepUntilMono(due);
      }
      size_t k = static_cast<size_t>(std::min<uint64_t>(burst, plan.count - done));
      for (size_t m = 0; m < k; ++m) {
        size_t s = (next + m) % n;
        WriteHex64(id_base + seq + m, &pool.data[pool.id_offset[s]]);
        iov[m].iov_base = &pool.data[pool.begin[s]];
        iov[m].iov_len = pool.line_bytes(s) - 1;  // without the '\n'
        std::memset(&msgs[m], 0, sizeof(mmsghdr));
        msgs[m].msg_hdr.msg_iov = &iov[m];
        msgs[m].msg_hdr.msg_iovlen = 1;
      }
      size_t off = 0;
      int busy_retries = 0;
      while (off < k) {
        int r = sendmmsg(fd, msgs.data() + off, static_cast<unsigned>(k - off), MSG_NOSIGNAL);
        if (r > 0) {
          for (size_t m = off; m < off + static_cast<size_t>(r); ++m) res.bytes += iov[m].iov_len;
          off += static_cast<size_t>(r);
          busy_retries = 0;
          continue;
        }
        int e = errno;
        if (r < 0 && e == EINTR) continue;
        if (r < 0 && (e == ENOBUFS || ((e == EAGAIN || e == EWOULDBLOCK) && udp))) {
          // Transient shortage of kernel buffers: back off briefly.
          if (++busy_retries > 100000) {
            res.error = "send keeps failing: " + Errno(e);
            return;
          }
          std::this_thread::sleep_for(std::chrono::microseconds(50));
          continue;
        }
        if (r < 0 && (e == EAGAIN || e == EWOULDBLOCK)) {
          res.error = "the daemon read no datagram for " + Fixed(opt.timeout_s, 0) + " s (see --timeout)";
        } else if (r < 0 && e == ECONNREFUSED) {
          res.error = udp ? "nothing is listening on UDP " + opt.udp + " (is spanvaultd running with this --udp?)"
                          : "the daemon's datagram socket went away (connection refused)";
        } else if (r < 0 && e == EMSGSIZE) {
          res.error = "a span of " + std::to_string(iov[off].iov_len) +
                      " bytes is too large for one datagram; lower --span-bytes";
        } else {
          res.error = "send failed: " + Errno(e);
        }
        res.sent += off;
        res.t_sent = MonoNs();
        return;
      }
      res.sent += k;
      done += k;
      seq += k;
      next = (next + k) % n;
    }
    res.t_sent = MonoNs();
  } catch (const std::exception& e) {
    res.error = std::string("internal error: ") + e.what();
  }
}

// ---------------------------------------------------------------------------
// Runs

struct Context {
  Options opt;
  std::string stream_path;
  std::string dgram_path;
  Pool pool;
  uint64_t id_base = 0;
};

// Runs one sender thread per fd. Every sender first makes its own copy of the
// pool (it patches span_ids in place), then all start together at meter.t0.
template <typename Fn>
std::vector<SenderResult> RunSenders(size_t senders, const Pool& shared_pool, Meter& meter, int daemon_pid, Fn sender) {
  std::latch ready(static_cast<std::ptrdiff_t>(senders));
  std::atomic<bool> go{false};
  std::vector<SenderResult> results(senders);
  std::vector<std::thread> threads;
  threads.reserve(senders);
  for (size_t i = 0; i < senders; ++i) {
    threads.emplace_back([&, i] {
      std::optional<Pool> pool;
      try {
        pool.emplace(shared_pool);
      } catch (const std::exception& e) {
        results[i].error = std::string("cannot copy the span pool: ") + e.what();
      }
      ready.count_down();
      go.wait(false);
      if (pool) sender(i, *pool, results[i]);
    });
  }
  ready.wait();
  meter.Start(daemon_pid);
  go.store(true);
  go.notify_all();
  for (auto& t : threads) t.join();
  meter.SendersDone();
  return results;
}

int RunStream(Context& ctx, StatusClient& status, Result& r) {
  const Options& opt = ctx.opt;
  std::vector<int> fds;
  for (int i = 0; i < opt.connections; ++i) {
    std::string err;
    int fd = ConnectUnix(ctx.stream_path, SOCK_STREAM, "stream socket", &err);
    if (fd < 0) {
      for (int f : fds) close(f);
      std::fprintf(stderr, "spanvault-bench: %s\n", err.c_str());
      return 1;
    }
    SetSendTimeout(fd, opt.timeout_s);
    fds.push_back(fd);
  }
  auto plans = Plan(opt.spans, opt.connections, ctx.pool.count());
  const double per_sender_rate = opt.rate > 0 ? opt.rate / opt.connections : 0;
  Meter meter;
  auto results = RunSenders(fds.size(), ctx.pool, meter, opt.pid, [&](size_t i, Pool& pool, SenderResult& res) {
    StreamSender(fds[i], pool, plans[i], ctx.id_base, per_sender_rate, opt, res);
  });
  std::optional<double> cpu_end = ProcessCpuSeconds(opt.pid);
  for (int f : fds) close(f);

  int64_t t_end = meter.t0, t_sent = meter.t0;
  int failed = 0;
  for (size_t i = 0; i < results.size(); ++i) {
    const SenderResult& s = results[i];
    r.sent += s.sent;
    r.bytes_sent += s.bytes;
    r.accepted += s.accepted;
    r.rejected += s.rejected;
    t_sent = std::max(t_sent, s.t_sent);
    t_end = std::max(t_end, s.t_answer);
    for (const auto& e : s.errors) {
      if (r.errors.size() < 10) r.errors.push_back(e);
    }
    if (!s.error.empty()) {
      ++failed;
      std::fprintf(stderr, "spanvault-bench: stream connection %zu: %s\n", i + 1, s.error.c_str());
    }
  }
  r.accepted_known = failed == 0;
  r.t_start = meter.t0;
  r.daemon_cpu_start = meter.cpu0;
  r.send_seconds = Seconds(t_sent - meter.t0);
  r.wall_seconds = Seconds(t_end - meter.t0);
  meter.Finish(r, cpu_end, t_end);
  if (status.ok()) {
    std::string err;
    if (auto j = status.Query(opt.timeout_s, &err)) {
      if (r.durability.empty()) r.durability = StatusClient::Durability(*j);
    }
  }
  return failed > 0 ? 1 : 0;
}

int RunDatagram(Context& ctx, StatusClient& status, Result& r) {
  const Options& opt = ctx.opt;
  const bool udp = opt.transport == "udp";
  const std::string counter_name = udp ? "udp" : "unix_dgram";

  std::optional<Counts> base;
  std::string err;
  if (status.ok()) {
    if (auto j = status.Query(opt.timeout_s, &err)) {
      base = StatusClient::Extract(*j, counter_name);
      r.durability = StatusClient::Durability(*j);
    } else {
      r.warnings.push_back("status query failed: " + err);
    }
  }
  if (!base) {
    r.warnings.push_back(
        "the daemon's counters ($status over the stream socket) are unavailable: only send rates "
        "are reported");
  }

  std::vector<int> fds;
  for (int i = 0; i < opt.connections; ++i) {
    int fd = udp ? ConnectUdp(opt.udp, &err) : ConnectUnix(ctx.dgram_path, SOCK_DGRAM, "datagram socket", &err);
    if (fd < 0) {
      for (int f : fds) close(f);
      std::fprintf(stderr, "spanvault-bench: %s\n", err.c_str());
      return 1;
    }
    SetSendTimeout(fd, opt.timeout_s);
    if (udp) {
      int sndbuf = 4 << 20;
      setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    }
    fds.push_back(fd);
  }
  auto plans = Plan(opt.spans, opt.connections, ctx.pool.count());
  const double per_sender_rate = opt.rate > 0 ? opt.rate / opt.connections : 0;
  Meter meter;
  auto results = RunSenders(fds.size(), ctx.pool, meter, opt.pid, [&](size_t i, Pool& pool, SenderResult& res) {
    DatagramSender(fds[i], pool, plans[i], ctx.id_base, per_sender_rate, opt, udp, res);
  });

  int64_t t_sent = meter.t0;
  int failed = 0;
  for (size_t i = 0; i < results.size(); ++i) {
    const SenderResult& s = results[i];
    r.sent += s.sent;
    r.bytes_sent += s.bytes;
    t_sent = std::max(t_sent, s.t_sent);
    if (!s.error.empty()) {
      ++failed;
      std::fprintf(stderr, "spanvault-bench: %s sender %zu: %s\n", opt.transport.c_str(), i + 1, s.error.c_str());
    }
  }
  r.send_seconds = Seconds(t_sent - meter.t0);
  for (int f : fds) close(f);

  // Poll the daemon until it has accepted (or rejected) everything sent, or
  // its count stops growing for --settle seconds, or --drain-timeout passes.
  int64_t t_last = t_sent;
  std::optional<double> cpu_last = ProcessCpuSeconds(opt.pid);
  if (base) {
    const int64_t deadline = t_sent + static_cast<int64_t>(opt.drain_timeout_s * 1e9);
    const int64_t settle = static_cast<int64_t>(opt.settle_s * 1e9);
    uint64_t last_seen = UINT64_MAX;
    int64_t t_change = MonoNs();
    bool timed_out = false;
    for (;;) {
      auto j = status.Query(opt.timeout_s, &err);
      int64_t now = MonoNs();
      std::optional<double> cpu_now = ProcessCpuSeconds(opt.pid);
      if (!j) {
        r.warnings.push_back("status query failed while draining: " + err);
        break;
      }
      Counts c = StatusClient::Extract(*j, counter_name);
      r.accepted_known = true;
      r.accepted = c.accepted - std::min(c.accepted, base->accepted);
      r.rejected = c.rejected - std::min(c.rejected, base->rejected);
      r.daemon_received = c.received - std::min(c.received, base->received);
      if (udp) r.kernel_drops = c.kernel_drops - std::min(c.kernel_drops, base->kernel_drops);
      uint64_t progress = r.accepted + r.rejected;
      if (progress != last_seen) {
        // The count last changed at or before this poll: the window ends here.
        t_last = now;
        cpu_last = cpu_now;
        last_seen = progress;
        t_change = now;
      }
      if (progress >= r.sent) break;
      if (now - t_change >= settle) break;
      if (now >= deadline) {
        timed_out = true;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (timed_out) {
      r.warnings.push_back("the daemon was still accepting spans after --drain-timeout " +
                           Fixed(opt.drain_timeout_s, 0) + " s");
    }
    r.wall_seconds = Seconds(t_last - meter.t0);
  } else {
    r.wall_seconds = r.send_seconds;
    r.accepted = 0;
  }
  meter.Finish(r, cpu_last, t_last);
  return failed > 0 ? 1 : 0;
}

// ---------------------------------------------------------------------------
// Drain: forwarding to a local sink
//
//   live     the sink runs from the start; spans are sent over the stream as
//            for --transport stream while $status is polled every
//            --poll-interval ms. Delivered rate = spans / (first byte sent ..
//            the first poll that sees delivered_spans grown by every span
//            sent and pending_spans 0).
//   backlog  nothing listens on --sink-port while the spans are sent (the
//            upstream's attempts are refused; the stream's $sync barrier
//            makes them durable). Then the sink starts; catch-up = sink start
//            .. the first poll that sees pending_spans 0 and every backlogged
//            span delivered. The daemon's CPU and peak RSS cover that window.

struct UpstreamCounts {
  bool found = false;
  std::string name;
  uint64_t delivered_spans = 0;
  uint64_t delivered_batches = 0;
  uint64_t pending_spans = 0;
  uint64_t sent_bytes = 0;
  uint64_t failed_attempts = 0;
  uint64_t retries = 0;
  uint64_t splits = 0;
  uint64_t dead_lettered = 0;
  std::string last_error;
};

// The upstream called `name` ("" = the first) in a $status answer.
UpstreamCounts ExtractUpstream(const json& status, const std::string& name) {
  UpstreamCounts c;
  auto ups = status.find("upstreams");
  if (ups == status.end() || !ups->is_array()) return c;
  for (const auto& u : *ups) {
    if (!u.is_object()) continue;
    auto n = u.find("name");
    std::string un = n != u.end() && n->is_string() ? n->get<std::string>() : std::string();
    if (!name.empty() && un != name) continue;
    c.found = true;
    c.name = un;
    c.delivered_spans = U64(u, "delivered_spans");
    c.delivered_batches = U64(u, "delivered_batches");
    c.pending_spans = U64(u, "pending_spans");
    c.sent_bytes = U64(u, "sent_bytes");
    c.failed_attempts = U64(u, "failed_attempts");
    c.retries = U64(u, "retries");
    c.splits = U64(u, "splits");
    c.dead_lettered = U64(u, "dead_lettered");
    if (auto e = u.find("last_error"); e != u.end() && e->is_string()) c.last_error = e->get<std::string>();
    return c;
  }
  return c;
}

struct DrainPoll {
  bool done = false;
  int64_t t_done = 0;  // the poll that saw everything delivered
  std::optional<double> cpu_done;
  std::optional<uint64_t> peak_rss_done;  // VmHWM then
  uint64_t max_rss = 0;                   // largest VmRSS seen by the polls
  UpstreamCounts last;
  std::string error;  // why polling stopped early ("" when done or stopped)
};

// Polls $status on its own connection until the upstream has delivered
// `target` spans more than `base_delivered` and has nothing pending, or
// `stop` is set, or nothing was delivered for --timeout seconds, or
// --drain-timeout seconds have passed.
DrainPoll PollDelivery(const std::string& socket_path, const Options& opt, uint64_t base_delivered, uint64_t target,
                       const std::atomic<bool>& stop) {
  DrainPoll p;
  StatusClient status;
  if (!status.Open(socket_path, &p.error)) return p;
  const int64_t t0 = MonoNs();
  const int64_t deadline = t0 + static_cast<int64_t>(opt.drain_timeout_s * 1e9);
  const int64_t stall = static_cast<int64_t>(opt.timeout_s * 1e9);
  uint64_t last_delivered = base_delivered;
  int64_t t_change = t0;
  int64_t next_poll = t0;
  while (!stop.load()) {
    std::string err;
    auto j = status.Query(opt.timeout_s, &err);
    const int64_t now = MonoNs();
    const std::optional<double> cpu = ProcessCpuSeconds(opt.pid);
    if (auto rss = CurrentRssBytes(opt.pid)) p.max_rss = std::max(p.max_rss, *rss);
    if (!j) {
      p.error = "status query failed: " + err;
      return p;
    }
    p.last = ExtractUpstream(*j, opt.upstream);
    const uint64_t delivered = p.last.delivered_spans - std::min(p.last.delivered_spans, base_delivered);
    if (delivered >= target && p.last.pending_spans == 0) {
      p.done = true;
      p.t_done = now;
      p.cpu_done = cpu;
      p.peak_rss_done = PeakRssBytes(opt.pid);
      return p;
    }
    if (p.last.delivered_spans != last_delivered) {
      last_delivered = p.last.delivered_spans;
      t_change = now;
    }
    if (now - t_change >= stall) {
      p.error = "no span delivered for " + Fixed(opt.timeout_s, 0) + " s (see --timeout)";
      return p;
    }
    if (now >= deadline) {
      p.error = "not everything delivered within --drain-timeout " + Fixed(opt.drain_timeout_s, 0) + " s";
      return p;
    }
    next_poll += static_cast<int64_t>(opt.poll_interval_ms) * 1'000'000;
    if (next_poll < now) next_poll = now;
    SleepUntilMono(next_poll);
  }
  return p;
}

struct DrainResult {
  std::string scenario;  // live | backlog
  Result ingest;         // the stream run that sent the spans
  uint64_t target = 0;   // spans that had to be delivered: sent (live) or pending when the sink started (backlog)
  uint64_t delivered = 0;
  bool delivered_all = false;
  double deliver_seconds = 0;  // live: first byte .. all delivered; backlog: sink start .. all delivered
  double lag_seconds = 0;      // live: last span durable .. all delivered
  std::optional<double> daemon_cpu_pct;
  std::optional<uint64_t> daemon_peak_rss;
  bool peak_rss_reset = false;
  uint64_t max_rss_sampled = 0;
  UpstreamCounts before;  // when the measured window started
  UpstreamCounts after;
  SinkStats sink;
  std::vector<std::string> problems;  // each makes the run fail (exit 2)
  std::vector<std::string> warnings;

  double delivered_per_s() const { return deliver_seconds > 0 ? static_cast<double>(delivered) / deliver_seconds : 0; }
};

// Checks what the sink saw against what the run expects.
void CheckDrain(const Options& opt, DrainResult& d) {
  const SinkStats& k = d.sink;
  const Result& r = d.ingest;
  if (!r.accepted_known || r.accepted != r.sent || r.rejected > 0) {
    d.problems.push_back("ingest: the daemon accepted " + Commas(r.accepted) + " of " + Commas(r.sent) +
                         " spans sent (" + Commas(r.rejected) + " rejected)");
  }
  if (!d.delivered_all) {
    d.problems.push_back("delivered " + Commas(d.delivered) + " of " + Commas(d.target) + " spans (pending " +
                         Commas(d.after.pending_spans) + ", last_error \"" + d.after.last_error + "\")");
  }
  if (d.delivered > d.target) {
    d.warnings.push_back("delivered_spans grew by " + Commas(d.delivered) + ", more than the " + Commas(d.target) +
                         " expected");
  }
  if (k.errors > 0) d.problems.push_back("sink: " + Commas(k.errors) + " bad requests; first: " + k.first_error);
  if (k.verified_requests == 0) d.problems.push_back("sink: no request was verified (none received?)");
  if (opt.expect_gzip == "on" && k.plain_requests > 0) {
    d.problems.push_back("sink: " + Commas(k.plain_requests) + " requests without gzip, expected gzip");
  }
  if (opt.expect_gzip == "off" && k.gzip_requests > 0) {
    d.problems.push_back("sink: " + Commas(k.gzip_requests) + " gzip'd requests, expected none");
  }
  if (opt.expect_batch > 0 && k.max_batch_spans > opt.expect_batch) {
    d.problems.push_back("sink: a request held " + Commas(k.max_batch_spans) + " spans, more than --expect-batch " +
                         Commas(opt.expect_batch));
  }
  const uint64_t batches = d.after.delivered_batches - std::min(d.after.delivered_batches, d.before.delivered_batches);
  if (k.requests != batches) {
    d.warnings.push_back("the sink answered " + Commas(k.requests) + " requests but delivered_batches grew by " +
                         Commas(batches));
  }
  const uint64_t failed = d.after.failed_attempts - std::min(d.after.failed_attempts, d.before.failed_attempts);
  if (failed > 0) {
    d.warnings.push_back(Commas(failed) + " failed attempts while the sink was up (last_error \"" + d.after.last_error +
                         "\")");
  }
  if (d.after.dead_lettered > d.before.dead_lettered || d.after.splits > d.before.splits) {
    d.problems.push_back("the upstream split or dead-lettered batches (splits " + Commas(d.after.splits) +
                         ", dead_lettered " + Commas(d.after.dead_lettered) + ")");
  }
}

int RunDrain(Context& ctx, StatusClient& status, DrainResult& d) {
  const Options& opt = ctx.opt;
  d.scenario = opt.drain;
  Result& r = d.ingest;
  std::string err;
  auto j0 = status.Query(opt.timeout_s, &err);
  if (!j0) {
    std::fprintf(stderr, "spanvault-bench: %s\n", err.c_str());
    return 1;
  }
  r.durability = StatusClient::Durability(*j0);
  UpstreamCounts base = ExtractUpstream(*j0, opt.upstream);
  if (!base.found) {
    std::fprintf(stderr, "spanvault-bench: the daemon has %s\n",
                 opt.upstream.empty() ? "no upstream configured" : ("no upstream named " + opt.upstream).c_str());
    return 1;
  }
  if (base.pending_spans > 0) {
    d.warnings.push_back("the upstream had " + Commas(base.pending_spans) + " spans pending before the run");
  }

  SinkOptions so;
  so.port = static_cast<uint16_t>(opt.sink_port);
  so.verify_every = opt.verify_every;
  Sink sink(so);
  auto start_sink = [&]() -> bool {
    auto port = sink.Start();
    if (!port) std::fprintf(stderr, "spanvault-bench: sink: %s\n", port.error().c_str());
    return port.has_value();
  };

  DrainPoll poll;
  int64_t t0 = 0;
  std::optional<double> cpu0;
  if (opt.drain == "live") {
    if (!start_sink()) return 1;
    d.before = base;
    std::atomic<bool> stop{false};
    std::thread poller([&] { poll = PollDelivery(ctx.stream_path, opt, base.delivered_spans, opt.spans, stop); });
    int rc = RunStream(ctx, status, r);
    if (rc != 0 || r.accepted != r.sent) stop.store(true);
    poller.join();
    if (rc != 0) return rc;
    t0 = r.t_start;
    cpu0 = r.daemon_cpu_start;
    d.target = r.sent;
    d.peak_rss_reset = r.peak_rss_reset;
    if (poll.done) d.lag_seconds = std::max(0.0, Seconds(poll.t_done - r.t_start) - r.wall_seconds);
  } else {
    int rc = RunStream(ctx, status, r);
    if (rc != 0) return rc;
    auto j1 = status.Query(opt.timeout_s, &err);
    if (!j1) {
      std::fprintf(stderr, "spanvault-bench: %s\n", err.c_str());
      return 1;
    }
    d.before = ExtractUpstream(*j1, opt.upstream);
    if (d.before.delivered_spans > base.delivered_spans) {
      d.warnings.push_back(Commas(d.before.delivered_spans - base.delivered_spans) +
                           " spans were delivered before the sink started: is something listening on port " +
                           std::to_string(opt.sink_port) + "?");
    }
    d.target = d.before.pending_spans;
    if (d.target < r.accepted) {
      d.warnings.push_back("only " + Commas(d.target) + " of the " + Commas(r.accepted) +
                           " spans accepted were pending when the sink started");
    }
    std::fprintf(stderr,
                 "spanvault-bench: backlog of %s spans (ingest %s spans/s, peak rss %s MiB); starting the sink\n",
                 Commas(d.target).c_str(), Commas(static_cast<uint64_t>(std::llround(r.spans_per_s()))).c_str(),
                 r.daemon_peak_rss ? Fixed(static_cast<double>(*r.daemon_peak_rss) / 1048576.0, 0).c_str() : "n/a");
    // The daemon flushes its memtables and returns freed memory once intake
    // has been idle for a second: the drain is measured from a settled daemon,
    // as a backlog found after an outage would be.
    std::this_thread::sleep_for(std::chrono::milliseconds(static_cast<int64_t>(opt.backlog_settle_s * 1000)));
    d.peak_rss_reset = ResetPeakRss(opt.pid);
    cpu0 = ProcessCpuSeconds(opt.pid);
    t0 = MonoNs();
    if (!start_sink()) return 1;
    std::atomic<bool> stop{false};
    poll = PollDelivery(ctx.stream_path, opt, d.before.delivered_spans, d.target, stop);
  }
  d.sink = sink.Stats();
  sink.Stop();

  if (!poll.error.empty()) d.warnings.push_back(poll.error);
  d.after = poll.last;
  d.delivered = d.after.delivered_spans - std::min(d.after.delivered_spans, d.before.delivered_spans);
  d.delivered_all = poll.done;
  d.max_rss_sampled = poll.max_rss;
  if (poll.done) {
    d.deliver_seconds = Seconds(poll.t_done - t0);
    if (cpu0 && poll.cpu_done && d.deliver_seconds > 0) {
      d.daemon_cpu_pct = 100.0 * (*poll.cpu_done - *cpu0) / d.deliver_seconds;
    }
    d.daemon_peak_rss = poll.peak_rss_done;
  }
  CheckDrain(opt, d);
  return 0;
}

std::string DrainGzip(const Options& opt, const SinkStats& k) {
  if (!opt.expect_gzip.empty()) return opt.expect_gzip;
  if (k.gzip_requests > 0 && k.plain_requests > 0) return "mixed";
  return k.gzip_requests > 0 ? "on" : "off";
}

std::string MiB(std::optional<uint64_t> bytes) {
  return bytes ? Fixed(static_cast<double>(*bytes) / 1048576.0, 0) : std::string("n/a");
}

std::string DrainHumanLine(const Options& opt, const DrainResult& d) {
  const SinkStats& k = d.sink;
  const Result& r = d.ingest;
  std::string s = "drain " + d.scenario + "  gzip=" + DrainGzip(opt, k) +
                  (opt.expect_batch ? " batch=" + std::to_string(opt.expect_batch) : std::string()) +
                  "  spans=" + std::to_string(r.sent);
  s += "  ingest " + Commas(static_cast<uint64_t>(std::llround(r.spans_per_s()))) + " spans/s";
  if (d.delivered_all) {
    s += "  delivered " + Commas(static_cast<uint64_t>(std::llround(d.delivered_per_s()))) + " spans/s over " +
         Fixed(d.deliver_seconds, 2) + " s";
    if (d.scenario == "live") s += " (lag after ingest " + Fixed(d.lag_seconds, 2) + " s)";
  } else {
    s += "  delivered " + Commas(d.delivered) + " of " + Commas(d.target) + " (INCOMPLETE)";
  }
  s += "  daemon cpu " + (d.daemon_cpu_pct ? Fixed(*d.daemon_cpu_pct, 0) + "%" : std::string("n/a"));
  s += "  peak rss " + MiB(d.daemon_peak_rss) + " MiB";
  if (d.scenario == "backlog") s += " (ingest phase " + MiB(r.daemon_peak_rss) + " MiB)";
  const uint64_t batches = d.after.delivered_batches - std::min(d.after.delivered_batches, d.before.delivered_batches);
  s += "  sink: " + Commas(k.requests) + " requests (" + Commas(batches) + " batches, " +
       (batches ? Fixed(static_cast<double>(d.delivered) / static_cast<double>(batches), 0) : std::string("n/a")) +
       " spans each), " + Fixed(static_cast<double>(k.body_bytes) / 1048576.0, 1) + " MiB, " + Commas(k.connections) +
       " connections";
  if (k.verified_gzip_bytes > 0) {
    s += ", gzip ratio " +
         Fixed(static_cast<double>(k.verified_gzip_raw_bytes) / static_cast<double>(k.verified_gzip_bytes), 1);
  }
  s += ", verified " + Commas(k.verified_requests) + " requests / " + Commas(k.verified_spans) + " spans (max " +
       Commas(k.max_batch_spans) + ")";
  return s;
}

std::string DrainMarkdownRow(const Options& opt, const DrainResult& d) {
  const Result& r = d.ingest;
  std::string delivered = d.delivered_all ? Commas(static_cast<uint64_t>(std::llround(d.delivered_per_s())))
                                          : "incomplete (" + Commas(d.delivered) + ")";
  return "| " + d.scenario + " | " + DrainGzip(opt, d.sink) + " | " +
         (opt.expect_batch ? std::to_string(opt.expect_batch) : std::string("?")) + " | " + Commas(r.sent) + " | " +
         Commas(static_cast<uint64_t>(std::llround(r.spans_per_s()))) + " | " + delivered + " | " +
         (d.scenario == "backlog" && d.delivered_all ? Fixed(d.deliver_seconds, 2) : std::string("–")) + " | " +
         (d.daemon_cpu_pct ? Fixed(*d.daemon_cpu_pct, 0) : std::string("n/a")) + " | " + MiB(d.daemon_peak_rss) + " |";
}

json DrainToJson(const Options& opt, const DrainResult& d) {
  auto opt_d = [](const std::optional<double>& v) { return v ? json(*v) : json(nullptr); };
  auto opt_u = [](const std::optional<uint64_t>& v) { return v ? json(*v) : json(nullptr); };
  const Result& r = d.ingest;
  const SinkStats& k = d.sink;
  json j;
  j["scenario"] = d.scenario;
  j["gzip"] = DrainGzip(opt, k);
  j["batch_max_spans"] = opt.expect_batch ? json(opt.expect_batch) : json(nullptr);
  j["spans"] = r.sent;
  j["ingest_spans_per_second"] = r.spans_per_s();
  j["ingest_seconds"] = r.wall_seconds;
  j["ingest_peak_rss_bytes"] = opt_u(r.daemon_peak_rss);
  j["target"] = d.target;
  j["delivered"] = d.delivered;
  j["delivered_all"] = d.delivered_all;
  j["delivered_spans_per_second"] = d.delivered_all ? json(d.delivered_per_s()) : json(nullptr);
  j["deliver_seconds"] = d.delivered_all ? json(d.deliver_seconds) : json(nullptr);
  j["catch_up_seconds"] = d.scenario == "backlog" && d.delivered_all ? json(d.deliver_seconds) : json(nullptr);
  j["lag_seconds"] = d.scenario == "live" && d.delivered_all ? json(d.lag_seconds) : json(nullptr);
  j["daemon_cpu_percent"] = opt_d(d.daemon_cpu_pct);
  j["daemon_peak_rss_bytes"] = opt_u(d.daemon_peak_rss);
  j["daemon_peak_rss_scope"] = d.peak_rss_reset ? "run" : "process";
  j["daemon_max_rss_sampled_bytes"] = d.max_rss_sampled;
  j["delivered_batches"] = d.after.delivered_batches - std::min(d.after.delivered_batches, d.before.delivered_batches);
  j["failed_attempts"] = d.after.failed_attempts - std::min(d.after.failed_attempts, d.before.failed_attempts);
  j["sink"] = {{"connections", k.connections},         {"requests", k.requests},
               {"body_bytes", k.body_bytes},           {"gzip_requests", k.gzip_requests},
               {"plain_requests", k.plain_requests},   {"verified_requests", k.verified_requests},
               {"verified_spans", k.verified_spans},   {"verified_raw_bytes", k.verified_raw_bytes},
               {"max_batch_spans", k.max_batch_spans}, {"errors", k.errors},
               {"first_error", k.first_error}};
  j["problems"] = d.problems;
  j["warnings"] = d.warnings;
  return j;
}

// --sink: serve until SIGINT or SIGTERM; prints the port, then the counts.
int RunSinkOnly(const Options& opt) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);  // before the sink's thread starts: it inherits the mask
  SinkOptions so;
  so.port = static_cast<uint16_t>(std::max(opt.sink_port, 0));
  so.verify_every = opt.verify_every;
  Sink sink(so);
  auto port = sink.Start();
  if (!port) {
    std::fprintf(stderr, "spanvault-bench: sink: %s\n", port.error().c_str());
    return 1;
  }
  std::printf("%u\n", static_cast<unsigned>(*port));
  std::fflush(stdout);
  std::fprintf(stderr, "spanvault-bench: sink listening on 127.0.0.1:%u (SIGINT/SIGTERM to stop)\n",
               static_cast<unsigned>(*port));
  int sig = 0;
  sigwait(&set, &sig);
  SinkStats k = sink.Stats();
  sink.Stop();
  std::fprintf(stderr,
               "spanvault-bench: sink: %s connections, %s requests (%s gzip), %s body bytes, verified %s requests "
               "/ %s spans, %s errors%s%s\n",
               Commas(k.connections).c_str(), Commas(k.requests).c_str(), Commas(k.gzip_requests).c_str(),
               Commas(k.body_bytes).c_str(), Commas(k.verified_requests).c_str(), Commas(k.verified_spans).c_str(),
               Commas(k.errors).c_str(), k.first_error.empty() ? "" : "; first: ", k.first_error.c_str());
  return k.errors > 0 ? 2 : 0;
}

// ---------------------------------------------------------------------------
// Output

std::string HumanSize(uint64_t bytes) { return Fixed(static_cast<double>(bytes) / (1024.0 * 1024.0), 0) + " MiB"; }

std::string HumanLine(const Result& r) {
  std::string s = r.transport;
  s.append(r.transport.size() < 6 ? 6 - r.transport.size() : 0, ' ');
  s += "  spans=" + std::to_string(r.sent) + " conns=" + std::to_string(r.connections);
  if (r.rate_target > 0) s += " rate=" + Commas(static_cast<uint64_t>(r.rate_target)) + "/s";
  if (!r.durability.empty()) s += " durability=" + r.durability;
  if (r.transport != "stream") s += "  sent " + Commas(static_cast<uint64_t>(r.send_per_s())) + " spans/s";
  if (r.accepted_known) {
    s += std::string(r.transport != "stream" ? "  accepted " : "  ") +
         Commas(static_cast<uint64_t>(std::llround(r.spans_per_s()))) + " spans/s  " + Fixed(r.mib_per_s(), 1) +
         " MiB/s";
  }
  if (r.transport == "udp" && r.accepted_known) {
    s += "  loss " + Fixed(r.loss_pct(), 2) + "%";
    if (r.kernel_drops) s += " (kernel_drops=" + Commas(*r.kernel_drops) + ")";
  }
  s += "  daemon cpu " + (r.daemon_cpu_pct ? Fixed(*r.daemon_cpu_pct, 0) + "%" : std::string("n/a"));
  s += "  peak rss " + (r.daemon_peak_rss ? HumanSize(*r.daemon_peak_rss) : std::string("n/a"));
  s += "  bench cpu " + Fixed(r.bench_cpu_pct, 0) + "%";
  if (r.accepted_known) {
    s += "  accepted=" + std::to_string(r.accepted) + " rejected=" + std::to_string(r.rejected);
    if (r.transport != "stream") s += " lost=" + std::to_string(r.lost());
  } else {
    s += "  accepted=unknown";
  }
  return s;
}

std::string MarkdownRow(const Result& r) {
  std::string t = r.transport;
  if (r.rate_target > 0) {
    t += " @ " + Commas(static_cast<uint64_t>(r.rate_target)) + "/s (sent " +
         Commas(static_cast<uint64_t>(std::llround(r.send_per_s()))) + "/s)";
  }
  std::string loss;
  if (!r.accepted_known) {
    loss = "unknown";
  } else {
    loss = Commas(r.lost()) + " (" + Fixed(r.loss_pct(), 2) + "%)";
    if (r.kernel_drops && *r.kernel_drops > 0) loss += ", kernel drops " + Commas(*r.kernel_drops);
    if (r.rejected > 0) loss += ", rejected " + Commas(r.rejected);
  }
  std::string row = "| " + t + " | " + (r.durability.empty() ? "?" : r.durability) + " | " + Commas(r.sent) + " | " +
                    std::to_string(r.connections) + " | " +
                    (r.accepted_known ? Commas(static_cast<uint64_t>(std::llround(r.spans_per_s()))) : "n/a") + " | " +
                    (r.accepted_known ? Fixed(r.mib_per_s(), 1) : "n/a") + " | " +
                    (r.daemon_cpu_pct ? Fixed(*r.daemon_cpu_pct, 0) : "n/a") + " | " +
                    (r.daemon_peak_rss ? Fixed(static_cast<double>(*r.daemon_peak_rss) / 1048576.0, 0) : "n/a") +
                    " | " + loss + " |";
  return row;
}

json ToJson(const Result& r) {
  auto opt_d = [](const std::optional<double>& v) { return v ? json(*v) : json(nullptr); };
  auto opt_u = [](const std::optional<uint64_t>& v) { return v ? json(*v) : json(nullptr); };
  json j;
  j["transport"] = r.transport;
  j["durability"] = r.durability.empty() ? json(nullptr) : json(r.durability);
  j["spans"] = r.requested;
  j["connections"] = r.connections;
  j["rate_target"] = r.rate_target;
  j["span_bytes_avg"] = r.avg_span_bytes;
  j["sent"] = r.sent;
  j["bytes_sent"] = r.bytes_sent;
  j["accepted"] = r.accepted_known ? json(r.accepted) : json(nullptr);
  j["rejected"] = r.accepted_known ? json(r.rejected) : json(nullptr);
  j["lost"] = r.accepted_known ? json(r.lost()) : json(nullptr);
  j["loss_percent"] = r.accepted_known ? json(r.loss_pct()) : json(nullptr);
  if (r.transport != "stream") j["daemon_received"] = r.accepted_known ? json(r.daemon_received) : json(nullptr);
  if (r.transport == "udp") j["kernel_drops"] = opt_u(r.kernel_drops);
  j["send_seconds"] = r.send_seconds;
  j["wall_seconds"] = r.wall_seconds;
  j["send_spans_per_second"] = r.send_per_s();
  j["spans_per_second"] = r.accepted_known ? json(r.spans_per_s()) : json(nullptr);
  j["mib_per_second"] = r.accepted_known ? json(r.mib_per_s()) : json(nullptr);
  j["daemon_cpu_percent"] = opt_d(r.daemon_cpu_pct);
  j["daemon_peak_rss_bytes"] = opt_u(r.daemon_peak_rss);
  j["daemon_peak_rss_scope"] = !r.daemon_peak_rss ? json(nullptr) : json(r.peak_rss_reset ? "run" : "process");
  j["bench_cpu_percent"] = r.bench_cpu_pct;
  j["errors"] = r.errors;
  j["warnings"] = r.warnings;
  return j;
}

// ---------------------------------------------------------------------------

int Run(int argc, char** argv) {
  Options opt;
  CLI::App app{
      "spanvault-bench: sends realistic LLM spans to spanvaultd and reports how fast it makes them durable.\n"};
  app.add_option("-t,--transport", opt.transport, "stream | dgram | udp")
      ->check(CLI::IsMember({"stream", "dgram", "udp"}))
      ->capture_default_str();
  app.add_option("--runtime-dir", opt.runtime_dir,
                 "the daemon's runtime dir: derives --socket (spans.sock) and --dgram (spans.dgram)");
  app.add_option("--socket", opt.socket_path, "the NDJSON stream socket (also used for $status)");
  app.add_option("--dgram", opt.dgram_path, "the Unix datagram socket");
  app.add_option("--udp", opt.udp, "UDP target HOST:PORT")->capture_default_str();
  app.add_option("-n,--spans", opt.spans, "spans to send in total")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 40))
      ->capture_default_str();
  app.add_option("-c,--connections", opt.connections,
                 "parallel senders (connections / sockets); default 2 for stream, 1 for dgram and udp")
      ->check(CLI::Range(1, 256));
  app.add_option("--rate", opt.rate,
                 "target spans/s, paced in small bursts (0 = as fast as possible); with --drain live: "
                 "the ingest rate while delivering")
      ->check(CLI::Range(0.0, 1e9))
      ->capture_default_str();
  app.add_option("--span-bytes", opt.span_bytes, "approximate size of each span in bytes")
      ->check(CLI::Range(kMinSpanBytes, kMaxSpanBytes))
      ->capture_default_str();
  app.add_option("--pid", opt.pid, "the daemon's pid: sample its CPU% and peak RSS over the run")
      ->check(CLI::PositiveNumber);
  app.add_flag("--json", opt.json, "print one JSON object instead of the summary line");
  app.add_flag(
      "--markdown-row", opt.markdown_row,
      "print one Markdown table row (transport | durability | spans | conns | spans/s | MiB/s | daemon CPU % | "
      "peak RSS MiB | loss)");
  app.add_option("--timeout", opt.timeout_s, "seconds without progress before giving up on a write or an answer")
      ->check(CLI::Range(1.0, 86400.0))
      ->capture_default_str();
  app.add_option("--drain-timeout", opt.drain_timeout_s,
                 "dgram/udp: longest wait, after sending, for the daemon to accept everything")
      ->check(CLI::Range(0.0, 3600.0))
      ->capture_default_str();
  app.add_option("--settle", opt.settle_s,
                 "dgram/udp: stop waiting once the accepted count has not grown for this long")
      ->check(CLI::Range(0.05, 3600.0))
      ->capture_default_str();
  app.add_option("--seed", opt.seed, "seed for the span contents (0 = random)");
  app.add_flag("--sample", opt.sample, "print one generated span (as sent) and exit");
  app.add_option("--drain", opt.drain,
                 "drain benchmark over the stream: live (sink up while sending) | backlog (sink started once every "
                 "span is durable); needs --sink-port, the port the daemon's upstream points at")
      ->check(CLI::IsMember({"live", "backlog"}));
  app.add_option("--backlog-settle", opt.backlog_settle_s,
                 "backlog: seconds to wait after the last span is durable before the sink starts (default 3)");
  app.add_flag("--sink", opt.sink_only,
               "run only the HTTP sink on 127.0.0.1:--sink-port (0 = any; the port is printed) until SIGINT/SIGTERM");
  app.add_option("--sink-port", opt.sink_port, "the sink's TCP port on 127.0.0.1")->check(CLI::Range(0, 65535));
  app.add_option("--upstream", opt.upstream, "drain: the upstream to watch in $status (default: the first)");
  app.add_option("--poll-interval", opt.poll_interval_ms, "drain: $status poll interval in ms")
      ->check(CLI::Range(5, 10000))
      ->capture_default_str();
  app.add_option("--verify-every", opt.verify_every,
                 "sink: gunzip and parse the first request and every Nth after it (0 = only the first)")
      ->capture_default_str();
  app.add_option("--expect-gzip", opt.expect_gzip, "drain: fail unless every request is (on) / is not (off) gzip'd")
      ->check(CLI::IsMember({"on", "off"}));
  app.add_option("--expect-batch", opt.expect_batch,
                 "drain: the upstream's batch_max_spans: fail if a verified request holds more spans");
  CLI11_PARSE(app, argc, argv);

  if (opt.sink_only) return RunSinkOnly(opt);
  if (!opt.drain.empty()) {
    if (opt.sink_port <= 0) {
      std::fprintf(stderr, "spanvault-bench: --drain needs --sink-port (the port in the upstream's endpoint)\n");
      return 1;
    }
    if (opt.transport != "stream") {
      std::fprintf(stderr, "spanvault-bench: --drain sends over the stream transport only\n");
      return 1;
    }
  }

  if (opt.connections == 0) opt.connections = opt.transport == "stream" ? 2 : 1;
  if (opt.json && opt.markdown_row) {
    std::fprintf(stderr, "spanvault-bench: --json and --markdown-row are exclusive\n");
    return 1;
  }
  if (opt.transport == "udp" && opt.span_bytes > kMaxUdpSpanBytes - 1024) {
    std::fprintf(stderr, "spanvault-bench: --span-bytes %zu is too large for UDP (at most %zu)\n", opt.span_bytes,
                 kMaxUdpSpanBytes - 1024);
    return 1;
  }
  if (opt.transport == "dgram" && opt.span_bytes > kMaxDgramSpanBytes - 1024) {
    std::fprintf(stderr, "spanvault-bench: --span-bytes %zu is too large for the datagram socket (at most %zu)\n",
                 opt.span_bytes, kMaxDgramSpanBytes - 1024);
    return 1;
  }
  if (opt.pid > 0 && !ProcessCpuSeconds(opt.pid)) {
    std::fprintf(stderr, "spanvault-bench: warning: cannot read /proc/%d/stat; daemon CPU and RSS not reported\n",
                 opt.pid);
    opt.pid = 0;
  }

  Context ctx;
  ctx.opt = opt;
  std::string runtime = opt.runtime_dir.empty() ? DefaultRuntimeDir() : opt.runtime_dir;
  ctx.stream_path = !opt.socket_path.empty() ? opt.socket_path : runtime + "/spans.sock";
  ctx.dgram_path = !opt.dgram_path.empty() ? opt.dgram_path : runtime + "/spans.dgram";

  std::random_device rd;
  uint64_t seed =
      opt.seed != 0 ? opt.seed : (static_cast<uint64_t>(rd()) << 32) ^ rd() ^ static_cast<uint64_t>(MonoNs());
  {
    // Ids are random per run (so reruns against the same daemon do not repeat
    // span_ids), whatever the content seed.
    std::mt19937_64 idrng((static_cast<uint64_t>(rd()) << 32) ^ rd() ^ static_cast<uint64_t>(MonoNs()));
    ctx.id_base = idrng();
  }
  size_t pool_count = std::min<size_t>({kMaxPoolSpans, std::max<size_t>(kDatagramBatch, kMaxPoolBytes / opt.span_bytes),
                                        static_cast<size_t>(std::min<uint64_t>(opt.spans, kMaxPoolSpans))});
  pool_count = std::max<size_t>(pool_count, 1);
  if (opt.sample) pool_count = 1;
  ctx.pool = MakePool(pool_count, opt.span_bytes, seed);
  if (opt.sample) {
    WriteHex64(ctx.id_base, &ctx.pool.data[ctx.pool.id_offset[0]]);
    std::fwrite(ctx.pool.data.data(), 1, ctx.pool.data.size(), stdout);
    return 0;
  }

  Result r;
  r.transport = opt.transport;
  r.requested = opt.spans;
  r.connections = opt.connections;
  r.rate_target = opt.rate;
  // Datagrams carry the span without its newline.
  r.avg_span_bytes = static_cast<double>(ctx.pool.data.size()) / static_cast<double>(ctx.pool.count()) -
                     (opt.transport == "stream" ? 0.0 : 1.0);

  StatusClient status;
  {
    std::string err;
    if (!status.Open(ctx.stream_path, &err)) {
      if (opt.transport == "stream") {
        std::fprintf(stderr, "spanvault-bench: %s\n", err.c_str());
        return 1;
      }
      std::fprintf(stderr, "spanvault-bench: warning: %s\n", err.c_str());
    }
  }

  if (!opt.drain.empty()) {
    DrainResult d;
    d.ingest = r;
    int drc = RunDrain(ctx, status, d);
    if (drc != 0) return drc;
    Result& in = d.ingest;
    if (in.sent > 0) in.avg_span_bytes = static_cast<double>(in.bytes_sent) / static_cast<double>(in.sent);
    for (const auto& w : d.warnings) std::fprintf(stderr, "spanvault-bench: warning: %s\n", w.c_str());
    for (const auto& e : in.errors) std::fprintf(stderr, "spanvault-bench: rejected: %s\n", e.c_str());
    for (const auto& p : d.problems) std::fprintf(stderr, "\n*** PROBLEM: %s ***\n", p.c_str());
    std::string human = DrainHumanLine(opt, d);
    if (opt.json) {
      std::printf("%s\n", DrainToJson(opt, d).dump().c_str());
    } else if (opt.markdown_row) {
      std::fprintf(stderr, "%s\n", human.c_str());
      std::printf("%s\n", DrainMarkdownRow(opt, d).c_str());
    } else {
      std::printf("%s\n", human.c_str());
    }
    std::fflush(stdout);
    return d.problems.empty() ? 0 : 2;
  }

  int rc = opt.transport == "stream" ? RunStream(ctx, status, r) : RunDatagram(ctx, status, r);
  if (r.sent > 0) r.avg_span_bytes = static_cast<double>(r.bytes_sent) / static_cast<double>(r.sent);
  if (rc != 0) {
    if (r.sent > 0) {
      std::fprintf(stderr, "spanvault-bench: %s run failed after sending %s spans\n", opt.transport.c_str(),
                   Commas(r.sent).c_str());
    }
    return rc;
  }

  // Transports that must not lose anything.
  bool mismatch = false;
  if (r.accepted_known && opt.transport != "udp" && (r.accepted != r.sent || r.rejected > 0)) {
    mismatch = true;
    std::fprintf(stderr, "\n*** WARNING: %s: the daemon accepted %s of %s spans sent (%s missing, %s rejected) ***\n",
                 opt.transport.c_str(), Commas(r.accepted).c_str(), Commas(r.sent).c_str(),
                 Commas(r.sent > r.accepted ? r.sent - r.accepted : 0).c_str(), Commas(r.rejected).c_str());
    for (const auto& e : r.errors) std::fprintf(stderr, "***   %s\n", e.c_str());
    std::fprintf(stderr, "\n");
    r.warnings.push_back("accepted != sent");
  }
  if (r.accepted_known && opt.transport == "udp" && r.lost() > 0) {
    std::fprintf(stderr, "spanvault-bench: note: udp lost %s of %s spans (%.2f%%)\n", Commas(r.lost()).c_str(),
                 Commas(r.sent).c_str(), r.loss_pct());
  }
  for (const auto& w : r.warnings) {
    if (w != "accepted != sent") std::fprintf(stderr, "spanvault-bench: warning: %s\n", w.c_str());
  }

  std::string human = HumanLine(r);
  if (opt.json) {
    std::printf("%s\n", ToJson(r).dump().c_str());
  } else if (opt.markdown_row) {
    std::fprintf(stderr, "%s\n", human.c_str());
    std::printf("%s\n", MarkdownRow(r).c_str());
  } else {
    std::printf("%s\n", human.c_str());
  }
  std::fflush(stdout);
  return mismatch ? 2 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  try {
    return Run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "spanvault-bench: error: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "spanvault-bench: unknown error\n");
  }
  return 1;
}
