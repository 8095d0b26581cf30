// What every command shares: where the daemon is, control lines, the store.
#include <cstdio>

#include "cli/client.h"
#include "cli/commands.h"

namespace spanvault::cli {
using nlohmann::json;

daemon::Config ResolveConfig(const Globals& g) {
  daemon::LoadOptions lo;
  lo.config_file = g.config_file;
  if (!g.state_dir.empty()) lo.sets.push_back("state_dir=" + g.state_dir);
  if (!g.runtime_dir.empty()) lo.sets.push_back("runtime_dir=" + g.runtime_dir);
  std::vector<std::string> problems;  // the client only needs the paths
  return daemon::LoadConfig(lo, &problems);
}

std::string StreamSocket(const Globals& g) {
  if (!g.socket.empty()) return g.socket;
  daemon::Config c = ResolveConfig(g);
  std::string p = c.SocketPath(c.ingest.unix_stream);
  return p.empty() ? c.SocketPath("spans.sock") : p;
}

int Die(const std::string& msg, int code) {
  std::fprintf(stderr, "spanvault: %s\n", msg.c_str());
  return code;
}

// Sends one control line and returns the parsed answer.
Result<json> Control(const Globals& g, const std::string& line, std::chrono::milliseconds timeout) {
  auto client = cli::StreamClient::Connect(StreamSocket(g));
  if (!client) return Fail(client.error());
  if (auto w = client->Write(line + "\n"); !w) return Fail(w.error());
  auto answer = client->ReadLine(timeout);
  if (!answer) return Fail(answer.error());
  json j = json::parse(*answer, nullptr, false);
  if (!j.is_object()) return Fail(Error::Invalid("unexpected answer: " + *answer));
  // An admin line from a peer without admin rights (docs/security.md).
  if (j.value("ok", true) == false && j.value("error", std::string()).starts_with("permission denied")) {
    return Fail(Error::Unavailable(j.value("error", std::string()) + "; run it as root or as the daemon's user"));
  }
  return j;
}

Result<std::unique_ptr<buffer::SpanQueue>> OpenStore(const Globals& g) {
  daemon::Config c = ResolveConfig(g);
  std::filesystem::path dir = c.state_dir / "buffer";
  std::error_code ec;
  if (!std::filesystem::exists(dir / "CURRENT", ec)) {
    if (ec) return Fail(Error::Io("cannot read " + dir.string() + ": " + ec.message()));
    return Fail(Error::Unavailable("no buffer in " + dir.string() + " (use --state-dir)"));
  }
  return buffer::SpanQueue::OpenReadOnly(dir);
}

}  // namespace spanvault::cli
