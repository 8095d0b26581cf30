// The trace commands' side of the stream socket's query lines (docs/api.md,
// "On the stream socket"): $query, $export, $tail and $replay.
//
// Every line is sent with a {"$sync": ...} probe behind it: a daemon that
// does not know the line answers nothing to it but reports "unknown control
// line" in the probe's answer, so an older daemon is a clear error instead of
// a wait for the timeout. The probe's answer is otherwise skipped, wherever
// it arrives among the answer's lines.
#pragma once

#include <chrono>
#include <csignal>
#include <expected>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "cli/client.h"
#include "cli/commands.h"

namespace spanvault::cli {

// Why a trace command stops: the exit code (2 connection and usage errors,
// including a parameter the daemon refuses; 1 not found, retention off, a
// refused or failed replay) and the message for "spanvault: MESSAGE".
struct Failure {
  int code = 2;
  std::string message;
};
template <typename T>
using Outcome = std::expected<T, Failure>;

// The Failure an answer line carries: a non-200 "status" with its "error"
// (at the top or in "body"), or "ok": false with "error". nullopt when it
// carries none.
std::optional<Failure> FailureOf(const nlohmann::json& answer);

// One connection that sent one query line (and the probe).
class LineStream {
 public:
  // Connects to the daemon's stream socket and sends `line`.
  static Outcome<LineStream> Open(const Globals& g, const nlohmann::json& line);

  // The next answer line (the probe's answer skipped). nullopt after
  // `timeout` without a line, or as soon as *stop is set (checked at least
  // every 200 ms and when a signal interrupts the wait). Fails when the
  // daemon closed the connection, does not know the line, or sent a line
  // over 256 MiB.
  Outcome<std::optional<std::string>> Next(std::chrono::milliseconds timeout,
                                           const volatile std::sig_atomic_t* stop = nullptr);

 private:
  LineStream(StreamClient c, std::string key) : client_(std::move(c)), key_(std::move(key)) {}
  Outcome<bool> Fill(int wait_ms);
  std::optional<Failure> CheckProbe(std::string_view line);

  StreamClient client_;
  std::string key_;  // "$query", "$export", ...
  std::string buf_;
  size_t scanned_ = 0;  // bytes of buf_ known to hold no '\n'
};

// {"$query": path, "params": params} and its answer's body when the status
// is 200.
Outcome<nlohmann::json> Query(const Globals& g, const std::string& path, const nlohmann::json& params,
                              std::chrono::milliseconds timeout = std::chrono::seconds(60));

}  // namespace spanvault::cli
