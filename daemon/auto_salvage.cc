#include "daemon/auto_salvage.h"

#include <chrono>
#include <fstream>
#include <future>

#include "common/log.h"
#include "common/util.h"

namespace spanvault::daemon {
namespace fs = std::filesystem;

nlohmann::json SalvageResultJson(const buffer::SalvageResult& r) {
  nlohmann::json j;
  j["spans"] = r.spans;
  j["unreadable"] = r.unreadable;
  j["damaged_wal_records"] = r.damaged_wal_records;
  j["duplicates"] = r.duplicates;
  j["delivered"] = r.delivered;
  j["head"] = r.head;
  j["first_seq"] = r.first_seq;
  j["last_seq"] = r.last_seq;
  j["missing_seqs"] = r.missing_seqs;
  j["missing"] = nlohmann::json::array();
  for (const auto& [a, b] : r.missing) j["missing"].push_back({a, b});
  j["complete"] = r.complete();
  if (!r.repair_note.empty()) j["note"] = r.repair_note;
  return j;
}

AutoSalvage::AutoSalvage(buffer::SpanQueue& queue, fs::path moved_aside)
    : queue_(queue), from_(std::move(moved_aside)), started_ns_(NowNanos()), thread_([this] { Run(); }) {}

AutoSalvage::~AutoSalvage() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

nlohmann::json AutoSalvage::ToJson() const {
  std::lock_guard lk(mu_);
  nlohmann::json j;
  j["state"] = state_;
  j["from"] = from_.string();
  j["spans"] = spans_.load();
  if (!note_.empty()) j["note"] = note_;
  j["seconds"] = static_cast<double>((finished_ns_ != 0 ? finished_ns_ : NowNanos()) - started_ns_) / 1e9;
  return j;
}

void AutoSalvage::Finish(const std::string& state, const std::string& report) {
  {
    std::lock_guard lk(mu_);
    state_ = state;
    note_ = report;
    finished_ns_ = NowNanos();
  }
  finished_ = true;
}

void AutoSalvage::Run() {
  LOG_WARN("salvaging the damaged span store in the background; new spans are accepted meanwhile",
           {{"from", from_.string()}});
  auto last_log = std::chrono::steady_clock::now();
  auto r = buffer::Salvage(from_, [this, &last_log](span::Batch&& b) -> Status {
    if (stop_) return Fail(Error::Io("spanvaultd stopped"));
    if (std::chrono::steady_clock::now() - last_log >= std::chrono::seconds(10)) {
      last_log = std::chrono::steady_clock::now();
      LOG_INFO("salvaging the damaged span store", {{"from", from_.string()}, {"spans_so_far", spans_.load()}});
    }
    const size_t n = b.spans.size();
    std::promise<buffer::StoreResult> p;
    auto f = p.get_future();
    // Durable before the next batch: what counts as re-queued is on disk.
    queue_.Append(std::move(b), true, [&p](const buffer::StoreResult& ar) { p.set_value(ar); });
    buffer::StoreResult ar = f.get();
    if (!ar.ok) return Fail(Error::Io("the live store refused the salvaged spans: " + ar.error));
    spans_ += ar.stored;
    if (ar.stored < n) {
      // buffer.on_full = reject and the live store is full: the rest waits
      // in the moved-aside store (kept, with the report).
      return Fail(Error::Io("the live store is full (buffer.on_full = reject): " + std::to_string(n - ar.stored) +
                            " salvaged spans refused"));
    }
    return {};
  });
  auto write_report = [&](const std::string& text) {
    std::ofstream out(from_ / "SALVAGE-REPORT.txt");
    out << text << "\n";
  };
  if (!r) {
    const bool stopped = stop_.load();
    std::string text = (stopped ? "salvage interrupted (spanvaultd stopped) after " : "salvage failed after ") +
                       std::to_string(spans_.load()) + " spans were re-queued: " + r.error().message +
                       ". Run `spanvault buffer salvage " + from_.string() +
                       "` to take the rest; the spans already re-queued are sent again (backends deduplicate by span "
                       "id).";
    write_report(text);
    LOG_ERROR(stopped ? "salvage of the damaged span store interrupted" : "salvage of the damaged span store failed",
              {{"from", from_.string()}, {"spans", spans_.load()}, {"error", r.error().message}});
    Finish(stopped ? "interrupted" : "failed", text);
    return;
  }
  nlohmann::json summary = SalvageResultJson(*r);
  if (r->complete()) {
    std::error_code ec;
    fs::remove_all(from_, ec);
    LOG_INFO("salvaged the damaged span store completely and removed it",
             {{"from", from_.string()}, {"spans", r->spans}, {"removed", !ec}});
    Finish("done", "");
    return;
  }
  std::string text = "salvaged " + std::to_string(r->spans) +
                     " spans into the live store; not everything was readable: " + r->repair_note + "\n" +
                     summary.dump(2);
  write_report(text);
  LOG_WARN("salvaged the damaged span store; kept it, as not everything was readable",
           {{"from", from_.string()}, {"spans", r->spans}, {"note", r->repair_note}});
  Finish("kept", r->repair_note);
}

}  // namespace spanvault::daemon
