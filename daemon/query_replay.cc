// {"$replay": UPSTREAM, "params": {...}} (contract: ReplayLine in
// daemon/query.h; docs/api.md): the matching stored spans go once more to one
// upstream through its running forwarder (Forwarder::Replay: its format,
// gzip, retries), one batch of the engine at a time, so that at most one
// batch is held; no cursor moves and nothing is appended to the store.
#include <condition_variable>
#include <mutex>
#include <optional>

#include "common/log.h"
#include "daemon/query.h"

namespace spanvault::daemon {
namespace {

constexpr auto kStopPoll = std::chrono::milliseconds(100);

upstream::ReplayResult AllFailed(uint64_t spans, std::string why) { return {spans, 0, spans, std::move(why)}; }

bool HasForwarder(Daemon::Impl& d, const std::string& name) {
  std::shared_lock lk(d.forwarders_mu);
  for (const RunningForwarder& f : d.forwarders) {
    if (f.forwarder && f.forwarder->name() == name) return true;
  }
  return false;
}

// Hands one batch to the upstream's forwarder and waits (on this query
// thread) until it reports, or the daemon stops.
upstream::ReplayResult ReplayBatch(Daemon::Impl& d, const std::string& name, const buffer::RecordBatch& batch) {
  struct Waiter {
    std::mutex mu;
    std::condition_variable cv;
    std::optional<upstream::ReplayResult> result;
  };
  auto w = std::make_shared<Waiter>();
  {
    // Replay only posts to the forwarder's strand: the lock is not held
    // across any I/O, and not while waiting below.
    std::shared_lock lk(d.forwarders_mu);
    upstream::Forwarder* f = nullptr;
    for (const RunningForwarder& rf : d.forwarders) {
      if (rf.forwarder && rf.forwarder->name() == name) f = rf.forwarder.get();
    }
    if (f == nullptr) return AllFailed(batch.size(), "the upstream is no longer running (reloaded away)");
    f->Replay(buffer::RecordBatch(batch), [w](const upstream::ReplayResult& r) {
      std::lock_guard g(w->mu);
      w->result = r;
      w->cv.notify_all();
    });
  }
  std::unique_lock lk(w->mu);
  while (!w->result) {
    if (d.query_pool->stopping()) return AllFailed(batch.size(), "spanvaultd is stopping");
    w->cv.wait_for(lk, kStopPoll);
  }
  return *w->result;
}

}  // namespace

std::string ReplayLine(Daemon::Impl& d, const nlohmann::json& line) {
  nlohmann::json a;
  auto it = line.find("$replay");
  a["$replay"] = it != line.end() ? *it : nlohmann::json();
  auto fail = [&a](const std::string& error) {
    a["ok"] = false;
    a["error"] = error;
    return a.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  };
  if (it == line.end() || !it->is_string()) return fail("$replay needs the name of an upstream");
  const std::string name = it->get<std::string>();
  if (!d.query) return fail("local retention is off (local.retention = 0)");
  if (!HasForwarder(d, name)) return fail("no running upstream named \"" + name + "\"");
  auto req = RequestFromLine("/api/export", line);
  if (!req) return fail(req.error().message);
  upstream::ReplayResult total;
  Status st = d.query->ForEachSpan(*req, [&](const buffer::RecordBatch& batch) {
    upstream::ReplayResult r = ReplayBatch(d, name, batch);
    total.spans += r.spans;
    total.delivered += r.delivered;
    total.failed += r.failed;
    if (!r.last_error.empty()) total.last_error = r.last_error;
    return !d.query_pool->stopping();
  });
  a["ok"] = st.has_value() && total.failed == 0;
  a["spans"] = total.spans;
  a["delivered"] = total.delivered;
  a["failed"] = total.failed;
  if (!st) {
    a["error"] = st.error().message;
  } else if (!total.last_error.empty()) {
    a["error"] = total.last_error;
  }
  LOG_INFO("replay", {{"upstream", name},
                      {"spans", total.spans},
                      {"delivered", total.delivered},
                      {"failed", total.failed},
                      {"error", a.value("error", std::string())}});
  return a.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace spanvault::daemon
