// ipc/ (private) — the stream listener's pool of read buffers, kept per
// thread (stream_session.cc).
#pragma once

#include <cstddef>
#include <memory>
#include <utility>
#include <vector>

namespace spanvault::ipc {

// Read buffers of one size, kept per thread between reads: a busy
// connection borrows one for each read and gives it back once no line is in
// progress, so an idle connection holds no buffer, and a busy one pays no
// allocation. Memory is not zeroed (only pages written are ever touched).
class BufferPool {
 public:
  static std::unique_ptr<char[]> Take(size_t size) {
    auto& free = Free();
    for (auto it = free.begin(); it != free.end(); ++it) {
      if (it->first == size) {
        auto b = std::move(it->second);
        free.erase(it);
        return b;
      }
    }
    return std::unique_ptr<char[]>(new char[size]);
  }
  static void Give(std::unique_ptr<char[]> b, size_t size) {
    auto& free = Free();
    if (free.size() < kKeep) free.emplace_back(size, std::move(b));
  }

 private:
  static constexpr size_t kKeep = 4;
  static std::vector<std::pair<size_t, std::unique_ptr<char[]>>>& Free() {
    thread_local std::vector<std::pair<size_t, std::unique_ptr<char[]>>> free;
    return free;
  }
};

}  // namespace spanvault::ipc
