// ipc/ — the live connections of a listener, so that Stop() can tell each
// one to stop reading. Shared by the stream and HTTP listeners.
//
// Sessions are held weakly (a finished session frees itself); expired
// entries are pruned when the list grows past twice the live count.
//
// Threading: every method is thread-safe.
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

namespace spanvault::ipc {

template <typename Session>
class SessionRegistry {
 public:
  // False once Close() ran (the listener is stopping).
  bool open() const {
    std::lock_guard lock(mu_);
    return !closed_;
  }

  // `live`: the connections counted as open now (for pruning).
  void Add(const std::shared_ptr<Session>& s, size_t live) {
    std::lock_guard lock(mu_);
    sessions_.push_back(s);
    if (sessions_.size() > 2 * live + 64) {
      std::erase_if(sessions_, [](auto& w) { return w.expired(); });
    }
  }

  // Calls `fn` with every live session (under the registry's lock: `fn`
  // must only post work, not call back into the registry).
  template <typename Fn>
  void ForEach(Fn&& fn) {
    std::lock_guard lock(mu_);
    for (auto& w : sessions_) {
      if (auto s = w.lock()) fn(s);
    }
  }

  // Closes the registry; returns the sessions still alive, or nullopt when
  // it was already closed.
  std::optional<std::vector<std::shared_ptr<Session>>> Close() {
    std::vector<std::shared_ptr<Session>> live;
    std::lock_guard lock(mu_);
    if (closed_) return std::nullopt;
    closed_ = true;
    for (auto& w : sessions_) {
      if (auto s = w.lock()) live.push_back(std::move(s));
    }
    return live;
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::weak_ptr<Session>> sessions_;
  bool closed_ = false;
};

}  // namespace spanvault::ipc
