// spanvault traces, trace, session, replay: one question to the daemon's
// query API over the stream socket, one answer printed (cli/render.h, or the
// JSON with --json). The streaming ones, tail and export, are in
// cmd_stream.cc.
#include <sys/ioctl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <vector>

#include "cli/render.h"
#include "cli/render_json.h"
#include "cli/trace_client.h"
#include "cli/trace_commands.h"
#include "cli/trace_view.h"

namespace spanvault::cli {
using nlohmann::json;

RenderOptions ViewOf(const TraceArgs& a) {
  RenderOptions o;
  const char* no_color = std::getenv("NO_COLOR");
  bool tty = isatty(STDOUT_FILENO) == 1;
  o.color = tty && (no_color == nullptr || *no_color == '\0');
  o.utc = a.utc;
  o.full_ids = a.full_ids;
  winsize ws{};
  if (tty && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) o.columns = ws.ws_col;
  return o;
}

json ParamsOf(const TraceArgs& a, bool with_cursor) {
  json p = json::object();
  for (const auto& [k, v] : a.filters) {
    if (!v.empty() && (with_cursor || k != "cursor")) p[k] = v;
  }
  return p;
}

int Report(const Failure& f) { return Die(f.message, f.code); }

void Print(const std::string& text) { std::fwrite(text.data(), 1, text.size(), stdout); }

namespace {

// Asks `path` and prints the answer with `render` (or as JSON).
int QueryAndPrint(const Globals& g, const TraceArgs& a, const std::string& path, const json& params,
                  std::string (*render)(const json&, const RenderOptions&)) {
  auto body = Query(g, path, params);
  if (!body) return Report(body.error());
  Print(a.as_json ? body->dump(2) + "\n" : render(*body, ViewOf(a)));
  return 0;
}

}  // namespace

int CmdTraces(const Globals& g, const TraceArgs& a) {
  return QueryAndPrint(g, a, "/api/traces", ParamsOf(a, true), RenderTraceList);
}

namespace {

// The one trace among the newest 1000 whose id starts with `prefix` (the
// short ids `traces` and `tail` print); the Failure to report otherwise.
Outcome<std::string> TraceIdByPrefix(const Globals& g, const std::string& prefix, Failure not_found) {
  auto page = Query(g, "/api/traces", json{{"limit", "1000"}});
  if (!page) return std::unexpected(std::move(page.error()));
  std::vector<std::string> ids;
  for (const json& t : Field(*page, "traces")) {
    std::string id = Str(t, "trace_id");
    if (id.starts_with(prefix)) ids.push_back(std::move(id));
  }
  if (ids.empty()) return std::unexpected(std::move(not_found));
  if (ids.size() > 1) {
    std::string list;
    for (size_t i = 0; i < ids.size() && i < 5; ++i) list += (i ? ", " : "") + ids[i];
    return std::unexpected(
        Failure{2, "trace id " + prefix + "... is ambiguous: " + list + (ids.size() > 5 ? ", ..." : "")});
  }
  return ids[0];
}

}  // namespace

// The id goes into the path as it is: the socket's paths are not
// percent-decoded (the HTTP listener decodes its own before the same engine).
// An id the daemon does not know may be the start of one (as `traces`
// prints them).
int CmdTrace(const Globals& g, const TraceArgs& a) {
  auto body = Query(g, "/api/traces/" + a.id, json::object());
  if (!body && body.error().code == 1 && !a.id.empty() && a.id.size() < 32) {
    auto id = TraceIdByPrefix(g, a.id, body.error());
    if (!id) return Report(id.error());
    body = Query(g, "/api/traces/" + *id, json::object());
  }
  if (!body) return Report(body.error());
  Print(a.as_json ? body->dump(2) + "\n" : RenderTraceTree(*body, ViewOf(a)));
  return 0;
}

int CmdSession(const Globals& g, const TraceArgs& a) {
  return QueryAndPrint(g, a, "/api/sessions/" + a.id, json::object(), RenderSession);
}

// Answered once every matching span was delivered or dead-lettered, which
// takes the upstream's retries: no short timeout.
int CmdReplay(const Globals& g, const TraceArgs& a) {
  auto stream = LineStream::Open(g, json{{"$replay", a.upstream}, {"params", ParamsOf(a, false)}});
  if (!stream) return Report(stream.error());
  auto line = stream->Next(std::chrono::hours(24));
  if (!line) return Report(line.error());
  if (!*line) return Die("timed out waiting for the replay's outcome");
  json answer = json::parse(**line, nullptr, false);
  if (auto f = FailureOf(answer)) return Report(*f);
  Print(a.as_json ? answer.dump(2) + "\n" : RenderReplay(answer));
  return U64(answer, "failed") != 0 || Field(answer, "ok") == false ? 1 : 0;
}

}  // namespace spanvault::cli
