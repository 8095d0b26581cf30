// LineStream, Query and FailureOf (cli/trace_client.h).
#include "cli/trace_client.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>

#include <algorithm>

namespace spanvault::cli {
using nlohmann::json;

namespace {
constexpr size_t kMaxLine = size_t{256} << 20;
constexpr std::string_view kProbe = R"({"$sync":"spanvault-probe"})";
}  // namespace

std::optional<Failure> FailureOf(const json& a) {
  if (!a.is_object()) return Failure{2, "unexpected answer: " + a.dump()};
  auto error_of = [&]() -> std::string {
    for (const json* j : {&a, a.contains("body") ? &a["body"] : nullptr}) {
      if (j != nullptr && j->is_object() && j->contains("error") && (*j)["error"].is_string()) {
        return (*j)["error"].get<std::string>();
      }
    }
    return "";
  };
  if (a.contains("status") && a["status"].is_number_integer() && a["status"].get<int>() != 200) {
    int status = a["status"].get<int>();
    std::string why = error_of();
    if (why.empty()) why = "the daemon answered status " + std::to_string(status);
    return Failure{status == 404 ? 1 : 2, why};
  }
  if (a.contains("ok") && a["ok"] == false) {
    std::string why = error_of();
    if (why.starts_with("permission denied")) return Failure{2, why + "; run it as root or as the daemon's user"};
    return Failure{1, why.empty() ? "the daemon refused: " + a.dump() : why};
  }
  return std::nullopt;
}

Outcome<LineStream> LineStream::Open(const Globals& g, const json& line) {
  auto client = StreamClient::Connect(StreamSocket(g));
  if (!client) return std::unexpected(Failure{2, client.error().message});
  std::string key = line.is_object() && !line.empty() ? line.begin().key() : "";
  std::string out = line.dump(-1, ' ', false, json::error_handler_t::replace) + "\n" + std::string(kProbe) + "\n";
  if (auto w = client->Write(out); !w) return std::unexpected(Failure{2, w.error().message});
  return LineStream(std::move(*client), std::move(key));
}

// Reads what is there after at most `wait_ms`; false when nothing came.
Outcome<bool> LineStream::Fill(int wait_ms) {
  pollfd p{client_.fd(), POLLIN, 0};
  int r = poll(&p, 1, wait_ms);
  if (r < 0 && errno != EINTR) return std::unexpected(Failure{2, std::string("poll: ") + strerror(errno)});
  if (r <= 0) return false;
  char chunk[65536];
  ssize_t n = recv(client_.fd(), chunk, sizeof chunk, 0);
  if (n < 0) {
    if (errno == EINTR || errno == EAGAIN) return false;
    return std::unexpected(Failure{2, std::string("read: ") + strerror(errno)});
  }
  if (n == 0) return std::unexpected(Failure{2, "the daemon closed the connection before the end of its answer"});
  buf_.append(chunk, static_cast<size_t>(n));
  return true;
}

// The probe's answer: a Failure when it says the line was not understood.
std::optional<Failure> LineStream::CheckProbe(std::string_view line) {
  json a = json::parse(line, nullptr, false);
  for (const json& e : a.is_object() && a.contains("errors") ? a["errors"] : json::array()) {
    std::string why =
        e.is_object() && e.contains("reason") && e["reason"].is_string() ? e["reason"].get<std::string>() : "";
    if (why == "unknown control line") {
      return Failure{2, "spanvaultd does not answer " + key_ + " lines (a version without the query API?)"};
    }
    if (!why.empty()) return Failure{2, "spanvaultd refused the " + key_ + " line: " + why};
  }
  return std::nullopt;
}

Outcome<std::optional<std::string>> LineStream::Next(std::chrono::milliseconds timeout,
                                                     const volatile std::sig_atomic_t* stop) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    size_t nl = buf_.find('\n', scanned_);
    if (nl != std::string::npos) {
      std::string line = buf_.substr(0, nl);
      buf_.erase(0, nl + 1);
      scanned_ = 0;
      if (!line.starts_with(R"({"$sync")")) return std::optional<std::string>(std::move(line));
      if (auto f = CheckProbe(line)) return std::unexpected(std::move(*f));
      continue;
    }
    scanned_ = buf_.size();
    if (buf_.size() > kMaxLine) return std::unexpected(Failure{2, "an answer line is over 256 MiB"});
    if (stop != nullptr && *stop) return std::optional<std::string>();
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::optional<std::string>();
    auto filled = Fill(static_cast<int>(std::min<int64_t>(left.count(), 200)));
    if (!filled) return std::unexpected(std::move(filled.error()));
  }
}

Outcome<json> Query(const Globals& g, const std::string& path, const json& params, std::chrono::milliseconds timeout) {
  auto stream = LineStream::Open(g, json{{"$query", path}, {"params", params}});
  if (!stream) return std::unexpected(std::move(stream.error()));
  auto line = stream->Next(timeout);
  if (!line) return std::unexpected(std::move(line.error()));
  if (!*line) return std::unexpected(Failure{2, "timed out waiting for the daemon's answer to " + path});
  json a = json::parse(**line, nullptr, false);
  if (!a.is_object()) return std::unexpected(Failure{2, "unexpected answer: " + **line});
  if (auto f = FailureOf(a)) return std::unexpected(std::move(*f));
  if (!a.contains("body")) return std::unexpected(Failure{2, "unexpected answer (no body): " + **line});
  return std::move(a["body"]);
}

}  // namespace spanvault::cli
