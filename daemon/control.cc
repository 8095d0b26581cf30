// The control lines the daemon answers itself (`$status`, `$reload`,
// `$dead_letter`, `$salvage`, `$prices`); the stream listener checks admin
// rights and shapes before they get here (ipc/control_line.h).
#include <filesystem>
#include <future>
#include <nlohmann/json.hpp>

#include "buffer/dead_letters.h"
#include "buffer/salvage.h"
#include "common/log.h"
#include "daemon/daemon_impl.h"

namespace spanvault::daemon {
namespace {

// Why `dir` may not be salvaged into the running daemon: a relative path,
// the live store, a directory inside it or holding it (a copy of the live
// store would duplicate its spans until drop_oldest discards real ones).
std::string SalvageRefusal(const std::string& dir, const std::filesystem::path& state_dir) {
  namespace fs = std::filesystem;
  fs::path p(dir);
  if (!p.is_absolute()) return "salvage needs an absolute path, got \"" + dir + "\"";
  std::error_code ec;
  fs::path target = fs::weakly_canonical(p, ec);
  if (ec) return "cannot resolve " + dir + ": " + ec.message();
  fs::path live = fs::weakly_canonical(state_dir / "buffer", ec);
  if (ec) live = state_dir / "buffer";
  auto within = [](const fs::path& inner, const fs::path& outer) {
    auto [a, b] = std::mismatch(outer.begin(), outer.end(), inner.begin(), inner.end());
    return a == outer.end();
  };
  if (within(target, live) || within(live, target)) {
    return dir + " is (or holds, or is inside) the live store " + live.string() +
           "; salvage only a moved-aside store (<state_dir>/buffer.corrupt-*) or one from elsewhere";
  }
  return {};
}

constexpr size_t kMaxListBytes = 8u << 20;

// Answers {"$dead_letter": "list" | "replay" | "purge", "ids": [..], "upstream": "..", "limit": N}:
//   list   → {"$dead_letter":"list","entries":[DeadLetter::ToJson()...]}  (newest first)
//   replay → {"$dead_letter":"replay","ok":true,"replayed":N} or {"ok":false,"error":".."}
//   purge  → {"$dead_letter":"purge","ok":true,"purged":N}
// nullopt for an unknown verb.
std::optional<std::string> DeadLetterControl(buffer::SpanQueue& queue, const nlohmann::json& line) {
  const nlohmann::json& verb = line["$dead_letter"];
  if (!verb.is_string()) return std::nullopt;
  buffer::DeadLetterFilter filter;
  if (auto it = line.find("upstream"); it != line.end() && it->is_string()) filter.upstream = it->get<std::string>();
  if (auto it = line.find("ids"); it != line.end() && it->is_array()) {
    for (const auto& id : *it) {
      if (id.is_number_unsigned()) filter.ids.push_back(id.get<uint64_t>());
    }
  }
  nlohmann::json answer;
  answer["$dead_letter"] = verb;
  auto fail = [&](const Error& e) {
    answer["ok"] = false;
    answer["error"] = e.message;
    return answer.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  };
  if (verb == "list") {
    size_t limit = 1000;
    if (auto it = line.find("limit"); it != line.end() && it->is_number_unsigned()) limit = it->get<size_t>();
    auto entries = queue.dead_letters().List(filter, limit);
    if (!entries) return fail(entries.error());
    // Entries carry span contents: the answer stops at kMaxListBytes (under
    // the stream listener's answer cap) and says so.
    std::string out = R"({"$dead_letter":"list","ok":true,"entries":[)";
    size_t listed = 0;
    for (; listed < entries->size(); ++listed) {
      std::string e = (*entries)[listed].ToJson();
      if (listed > 0 && out.size() + e.size() > kMaxListBytes) break;
      if (listed > 0) out.push_back(',');
      out += e;
    }
    out += "]";
    if (listed < entries->size()) {
      out += R"(,"truncated":true,"not_listed":)" + std::to_string(entries->size() - listed);
    }
    out += "}";
    return out;
  }
  if (verb == "replay" || verb == "purge") {
    auto n = verb == "replay" ? queue.dead_letters().Replay(filter) : queue.dead_letters().Purge(filter);
    if (!n) return fail(n.error());
    answer["ok"] = true;
    answer[verb == "replay" ? "replayed" : "purged"] = *n;
    return answer.dump();
  }
  return std::nullopt;
}

}  // namespace

Status Daemon::ReloadPrices() { return impl_->pricing->Reload(); }

std::optional<std::string> Daemon::Control(const std::string& key, const nlohmann::json& line) {
  if (key == "$status") return StatusJson();
  if (key == "$reload") {
    // Takes up to shutdown_grace while replaced forwarders stop: runs on
    // the stream listener's control thread (offload_controls above).
    if (line["$reload"] != true) return std::nullopt;
    nlohmann::json answer = ReloadFromSource().ToJson();
    answer["$reload"] = true;
    return answer.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  if (key == "$dead_letter") return DeadLetterControl(*impl_->queue, line);
  if (key == "$salvage") {
    // `spanvault buffer salvage DIR` while the daemon runs: the spans of a
    // moved-aside store go into the live queue.
    nlohmann::json answer;
    answer["$salvage"] = line["$salvage"];
    if (!line["$salvage"].is_string()) return std::nullopt;
    if (std::string why = SalvageRefusal(line["$salvage"].get<std::string>(), impl_->config.state_dir); !why.empty()) {
      answer["ok"] = false;
      answer["error"] = why;
      return answer.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    }
    buffer::SpanQueue* queue = impl_->queue.get();
    auto r = buffer::Salvage(line["$salvage"].get<std::string>(), [queue](span::Batch&& b) -> Status {
      std::promise<buffer::StoreResult> p;
      auto f = p.get_future();
      queue->Append(std::move(b), true, [&p](const buffer::StoreResult& ar) { p.set_value(ar); });
      auto ar = f.get();
      if (!ar.ok) return Fail(Error::Io(ar.error));
      if (ar.refused_full > 0)
        return Fail(Error::Io("the buffer is full (buffer.on_full = reject); salvage again later"));
      return {};
    });
    answer["ok"] = r.has_value();
    if (r) {
      answer.update(SalvageResultJson(*r));
      LOG_WARN("salvaged spans from a damaged store",
               {{"dir", line["$salvage"]}, {"spans", r->spans}, {"note", r->repair_note}});
    } else {
      answer["error"] = r.error().message;
    }
    return answer.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  if (key == "$prices") {
    const nlohmann::json& what = line["$prices"];
    nlohmann::json answer;
    if (what == "reload") {
      Status st = ReloadPrices();
      answer["$prices"] = "reload";
      answer["ok"] = st.has_value();
      if (!st) answer["error"] = st.error().message;
    } else if (what == "unpriced") {
      answer["$prices"] = "unpriced";
      nlohmann::json models = nlohmann::json::array();
      for (auto& [model, n] : impl_->pricing->Unpriced()) models.push_back({{"model", model}, {"spans", n}});
      answer["models"] = std::move(models);
    } else {
      return std::nullopt;
    }
    return answer.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  return std::nullopt;
}

}  // namespace spanvault::daemon
