#include "tests/test_util.h"

#include <stdlib.h>
#include <sys/syscall.h>

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <system_error>

namespace spanvault::testing {

TempDir::TempDir() {
  char tmpl[] = "/tmp/svt.XXXXXX";
  if (mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

bool ThreadWaitsOnFutex(pid_t tid) {
  const std::string task = "/proc/self/task/" + std::to_string(tid);
  std::ifstream stat(task + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return false;
  // "TID (comm) STATE ...": comm may hold spaces and parentheses.
  const size_t close = line.rfind(')');
  if (close == std::string::npos || close + 2 >= line.size() || line[close + 2] != 'S') return false;
  std::ifstream syscall_file(task + "/syscall");
  std::string first;
  if (!(syscall_file >> first)) return true;  // not readable here: asleep is what we know
  return first == std::to_string(SYS_futex);
}

span::Batch::Quarantined MakeRejection(int i) {
  span::Batch::Quarantined q;
  q.rejection.kind = span::RejectKind::kSyntax;
  q.rejection.index = i;
  q.rejection.reason = "bad json " + std::to_string(i);
  q.rejection.excerpt = "{oops";
  q.source.transport = span::Transport::kUdp;
  q.received_ns = 1'700'000'000'000'000'000 + i;
  return q;
}

}  // namespace spanvault::testing
