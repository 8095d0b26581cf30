// cli/ — the commands of `spanvault`, one file per group: send (cmd_send.cc);
// status, check, reload (cmd_status.cc); buffer dump/salvage, rejected,
// dead-letter (cmd_buffer.cc); prices (cmd_prices.cc). main.cc parses the
// command line and calls them. Each returns the process's exit code.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "buffer/span_queue.h"
#include "common/error.h"
#include "config/config.h"

namespace spanvault::cli {

// The global options, which say where the daemon and its store are.
struct Globals {
  std::string config_file, state_dir, runtime_dir, socket;
};

// The configuration the global options point to (only its paths are used).
daemon::Config ResolveConfig(const Globals& g);
// The daemon's stream socket.
std::string StreamSocket(const Globals& g);
// Prints "spanvault: MSG" to stderr and returns `code`.
int Die(const std::string& msg, int code = 2);
// Sends one control line to the daemon and returns the parsed answer.
Result<nlohmann::json> Control(const Globals& g, const std::string& line,
                               std::chrono::milliseconds timeout = std::chrono::seconds(30));
// The store, opened directly (no daemon may run on it).
Result<std::unique_ptr<buffer::SpanQueue>> OpenStore(const Globals& g);

int CmdSend(const Globals& g, const std::string& file, bool sync);

int CmdStatus(const Globals& g, bool as_json);
struct CheckArgs {
  double max_pending_age_s = 300;  // an upstream failing with spans older than this is unhealthy
  double max_fill = 0.9;           // buffer fuller than this fraction of max_disk_bytes is unhealthy
};
// For monitoring: exit 0 with "ok: ..." or 1 with one line saying what is wrong.
int CmdCheck(const Globals& g, const CheckArgs& a);
// The running daemon re-reads its configuration; exit 1 when refused.
int CmdReload(const Globals& g, bool as_json);

int CmdDump(const Globals& g);
// Re-queues what can be read from a moved-aside store.
int CmdSalvage(const Globals& g, const std::string& dir);
int CmdRejected(const Globals& g, bool as_json, size_t limit);
struct DeadLetterArgs {
  bool as_json = false;
  size_t limit = 100;
  std::string upstream;
  std::vector<uint64_t> ids;
};
int CmdDeadLetterList(const Globals& g, const DeadLetterArgs& a);
// verb: "replay" or "purge".
int CmdDeadLetterChange(const Globals& g, const std::string& verb, const DeadLetterArgs& a);

struct QuoteArgs {
  std::string model, provider, at;
  uint64_t input = 0, output = 0, cache_read = 0, cache_write = 0, reasoning = 0;
  std::vector<std::string> tables;
  bool as_json = false;
};
int CmdQuote(const QuoteArgs& a);
int CmdPricesList(const std::vector<std::string>& tables, const std::string& provider, bool as_json);

}  // namespace spanvault::cli
