// Helpers shared by the tests: temp dirs that clean up after themselves, the
// one way tests wait (on a condition, never a fixed sleep), and test data
// used by more than one suite.
#pragma once

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>

#include "span/batch.h"

namespace spanvault::testing {

// A fresh directory under /tmp with a short path (Unix socket paths must stay
// under 108 bytes); removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::string str() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

// What the process writes on fd 2 while `f` runs (through a file: never
// blocks, however much is written).
template <typename F>
std::string CaptureStderr(F&& f) {
  FILE* tmp = std::tmpfile();
  int saved = dup(STDERR_FILENO);
  dup2(fileno(tmp), STDERR_FILENO);
  f();
  dup2(saved, STDERR_FILENO);
  close(saved);
  std::string out;
  std::rewind(tmp);
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, tmp)) > 0) out.append(buf, n);
  std::fclose(tmp);
  return out;
}

// Polls `cond` every `poll` until it holds or `timeout` passes; returns
// whether it held. `cond` runs on the calling thread.
template <typename F>
bool WaitFor(F&& cond, std::chrono::milliseconds timeout = std::chrono::seconds(30),
             std::chrono::milliseconds poll = std::chrono::milliseconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(poll);
  }
  return cond();
}

// Whether thread `tid` of this process (gettid()) is asleep in the kernel on
// a futex — waiting on a mutex or a condition variable — rather than
// running or returned: how a test sees that a call blocks without guessing
// a delay. Reads /proc/self/task/TID/stat (state S) and, where the kernel
// lets it, /proc/self/task/TID/syscall (the futex call).
bool ThreadWaitsOnFutex(pid_t tid);

// A quarantine entry as ingest makes one for a refused payload: a syntax
// error at element `i`, reason "bad json <i>", excerpt "{oops", from UDP,
// received at 1'700'000'000'000'000'000 + i ns. Header-only types: no
// library to link.
span::Batch::Quarantined MakeRejection(int i);

}  // namespace spanvault::testing
