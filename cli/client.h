// The client side of the stream socket protocol, for the `spanvault` command
// and the tests.
#pragma once

#include <chrono>
#include <string>

#include "common/error.h"

namespace spanvault::cli {

// A blocking connection to the daemon's Unix stream socket.
class StreamClient {
 public:
  static Result<StreamClient> Connect(const std::string& path);
  StreamClient(StreamClient&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  StreamClient& operator=(StreamClient&& o) noexcept;
  ~StreamClient();

  // Writes all of `data`.
  Status Write(std::string_view data);
  // Reads one line (without the '\n'); fails on EOF or after `timeout`.
  Result<std::string> ReadLine(std::chrono::milliseconds timeout = std::chrono::milliseconds(60000));
  // Half-closes the sending side (the daemon sees EOF).
  void ShutdownWrite();
  int fd() const { return fd_; }

 private:
  explicit StreamClient(int fd) : fd_(fd) {}
  int fd_ = -1;
  std::string pending_;
};

}  // namespace spanvault::cli
