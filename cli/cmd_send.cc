// spanvault send: NDJSON from a file or stdin to the stream socket.
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>

#include "cli/client.h"
#include "cli/commands.h"
#include "common/util.h"

namespace spanvault::cli {
using nlohmann::json;

int CmdSend(const Globals& g, const std::string& file, bool sync) {
  int in = STDIN_FILENO;
  if (!file.empty() && file != "-") {
    in = open(file.c_str(), O_RDONLY | O_CLOEXEC);
    if (in < 0) return Die("cannot open " + file + ": " + strerror(errno));
  }
  auto client = cli::StreamClient::Connect(StreamSocket(g));
  if (!client) return Die(client.error().message);
  std::string buf(1 << 20, '\0');
  char last = '\n';
  uint64_t sent = 0;
  for (;;) {
    ssize_t n = read(in, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Die(std::string("read: ") + strerror(errno));
    }
    if (n == 0) break;
    if (auto w = client->Write(std::string_view(buf.data(), static_cast<size_t>(n))); !w) {
      return Die(w.error().message);
    }
    last = buf[static_cast<size_t>(n) - 1];
    sent += static_cast<uint64_t>(n);
  }
  if (!sync) {
    if (last != '\n') (void)client->Write("\n");
    return 0;
  }
  std::string barrier = last != '\n' ? "\n" : "";
  barrier += "{\"$sync\":1}\n";
  if (auto w = client->Write(barrier); !w) return Die(w.error().message);
  auto line = client->ReadLine(std::chrono::minutes(10));
  if (!line) return Die(line.error().message);
  json a = json::parse(*line, nullptr, false);
  if (!a.is_object()) return Die("unexpected answer: " + *line);
  uint64_t accepted = a.value("accepted", 0ull), rejected = a.value("rejected", 0ull);
  std::printf("accepted %llu rejected %llu\n", static_cast<unsigned long long>(accepted),
              static_cast<unsigned long long>(rejected));
  if (a.contains("errors")) {
    for (const auto& e : a["errors"]) {
      std::printf("line %llu: %s\n", static_cast<unsigned long long>(e.value("line", 0ull)),
                  e.value("reason", std::string()).c_str());
    }
    if (rejected > a["errors"].size()) {
      std::printf("(%llu more not listed)\n", static_cast<unsigned long long>(rejected - a["errors"].size()));
    }
  }
  if (a.contains("error")) std::printf("error: %s\n", a["error"].get<std::string>().c_str());
  return (rejected > 0 || a.contains("error")) ? 1 : 0;
}

}  // namespace spanvault::cli
