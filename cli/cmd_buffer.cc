// spanvault buffer dump/salvage, rejected, dead-letter: the store's contents,
// through the running daemon or directly on the store when none runs.
#include <cstdio>
#include <future>
#include <iostream>

#include "buffer/dead_letters.h"
#include "buffer/quarantine.h"
#include "buffer/salvage.h"
#include "cli/client.h"
#include "cli/commands.h"
#include "common/util.h"

namespace spanvault::cli {
using nlohmann::json;

int CmdDump(const Globals& g) {
  auto q = OpenStore(g);
  if (!q) return Die(q.error().message);
  uint64_t from = 0;
  std::string out;
  for (;;) {
    auto recs = (*q)->Read(from, 4096, 16 << 20);
    if (!recs) return Die(recs.error().message);
    if (recs->empty()) break;
    out.clear();
    for (const auto& r : *recs) {
      out += r.json;
      out.push_back('\n');
    }
    fwrite(out.data(), 1, out.size(), stdout);
    from = recs->back().seq + 1;
  }
  return 0;
}

// Re-queues what can be read from a moved-aside store: through the running
// daemon ({"$salvage": DIR}), or into the store directly when none runs.
int CmdSalvage(const Globals& g, const std::string& dir) {
  std::string abs = std::filesystem::absolute(dir).string();
  auto client = cli::StreamClient::Connect(StreamSocket(g));
  if (client) {
    if (auto w = client->Write(json({{"$salvage", abs}}).dump() + "\n"); !w) return Die(w.error().message);
    auto line = client->ReadLine(std::chrono::minutes(30));
    if (!line) return Die(line.error().message);
    json a = json::parse(*line, nullptr, false);
    if (!a.is_object() || !a.value("ok", false)) return Die("salvage failed: " + a.value("error", *line), 1);
    std::printf("salvaged %llu spans (%llu unreadable)%s\n", a.value("spans", 0ull), a.value("unreadable", 0ull),
                a.value("note", std::string()).empty() ? "" : (" — " + a.value("note", std::string())).c_str());
    return 0;
  }
  daemon::Config c = ResolveConfig(g);
  buffer::Options o = c.buffer;
  o.dir = c.state_dir / "buffer";
  auto q = buffer::SpanQueue::Open(o);
  if (!q) return Die("no daemon answers and the store cannot be opened: " + q.error().message);
  auto r = buffer::Salvage(abs, [&](span::Batch&& b) -> Status {
    std::promise<buffer::StoreResult> p;
    auto f = p.get_future();
    (*q)->Append(std::move(b), true, [&p](const buffer::StoreResult& ar) { p.set_value(ar); });
    auto ar = f.get();
    if (!ar.ok) return Fail(Error::Io(ar.error));
    if (ar.refused_full > 0)
      return Fail(Error::Io("the buffer is full (buffer.on_full = reject); salvage again later"));
    return {};
  });
  if (!r) return Die("salvage failed: " + r.error().message, 1);
  std::printf("salvaged %llu spans (%llu unreadable)%s\n", static_cast<unsigned long long>(r->spans),
              static_cast<unsigned long long>(r->unreadable),
              r->repair_note.empty() ? "" : (" — " + r->repair_note).c_str());
  return 0;
}

int CmdRejected(const Globals& g, bool as_json, size_t limit) {
  auto q = OpenStore(g);
  if (!q) return Die(q.error().message);
  auto entries = (*q)->quarantine().List(limit);
  if (!entries) return Die(entries.error().message);
  for (const auto& e : *entries) {
    if (as_json) {
      std::printf("%s\n", e.json.c_str());
      continue;
    }
    json j = json::parse(e.json, nullptr, false);
    if (!j.is_object()) continue;
    std::string where = j.value("transport", std::string());
    if (j.contains("pid")) where += " pid " + j["pid"].dump();
    std::printf("%s  %s  %s: %s\n", j.value("time", std::string()).c_str(), where.c_str(),
                j.value("kind", std::string()).c_str(), j.value("reason", std::string()).c_str());
    std::string ex = j.value("excerpt", std::string());
    if (ex.size() > 200) ex = ex.substr(0, 200) + "...";
    for (char& c : ex) {
      if (c == '\n' || c == '\r') c = ' ';
    }
    std::printf("    %s\n", ex.c_str());
  }
  return 0;
}

int CmdDeadLetterList(const Globals& g, const DeadLetterArgs& a) {
  auto q = OpenStore(g);
  if (!q) return Die(q.error().message);
  buffer::DeadLetterFilter f{a.ids, a.upstream};
  auto entries = (*q)->dead_letters().List(f, a.limit);
  if (!entries) return Die(entries.error().message);
  for (const auto& e : *entries) {
    if (a.as_json) {
      std::printf("%s\n", e.ToJson().c_str());
      continue;
    }
    json span = json::parse(e.span_json, nullptr, false);
    std::string span_id = span.is_object() ? span.value("span_id", std::string()) : std::string();
    std::string name = span.is_object() ? span.value("name", std::string()) : std::string();
    std::printf("%6llu  %s  %s  span %s (%s): %s\n", static_cast<unsigned long long>(e.id),
                FormatRfc3339(e.time_ns).c_str(), e.upstream.c_str(), span_id.c_str(), name.c_str(), e.reason.c_str());
    std::string body = e.response.size() > 200 ? e.response.substr(0, 200) + "..." : e.response;
    for (char& c : body) {
      if (c == '\n' || c == '\r') c = ' ';
    }
    if (!body.empty()) std::printf("        answer: %s\n", body.c_str());
  }
  return 0;
}

// Replay or purge: through the running daemon, or on the store directly when
// no daemon runs (it holds the store's lock while it does).
int CmdDeadLetterChange(const Globals& g, const std::string& verb, const DeadLetterArgs& a) {
  json line = {{"$dead_letter", verb}};
  if (!a.upstream.empty()) line["upstream"] = a.upstream;
  if (!a.ids.empty()) line["ids"] = a.ids;
  const char* counted = verb == "replay" ? "replayed" : "purged";
  auto answer = Control(g, line.dump());
  if (!answer && answer.error().message.starts_with("permission denied")) return Die(answer.error().message, 1);
  if (answer) {
    if (!answer->value("ok", false)) return Die(verb + " failed: " + answer->value("error", std::string()), 1);
    std::printf("%s %llu\n", counted, answer->value(counted, 0ull));
    return 0;
  }
  daemon::Config c = ResolveConfig(g);
  std::filesystem::path dir = c.state_dir / "buffer";
  if (!std::filesystem::exists(dir / "CURRENT")) {
    return Die("no daemon answers (" + answer.error().message + ") and no buffer in " + dir.string());
  }
  buffer::Options o = c.buffer;
  o.dir = dir;
  auto q = buffer::SpanQueue::Open(o);
  if (!q)
    return Die("no daemon answers (" + answer.error().message +
               ") and the store cannot be opened: " + q.error().message);
  buffer::DeadLetterFilter f{a.ids, a.upstream};
  auto n = verb == "replay" ? (*q)->dead_letters().Replay(f) : (*q)->dead_letters().Purge(f);
  if (!n) return Die(verb + " failed: " + n.error().message, 1);
  std::printf("%s %zu\n", counted, *n);
  return 0;
}

}  // namespace spanvault::cli
