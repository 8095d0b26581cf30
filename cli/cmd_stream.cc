// spanvault tail and export: the answers that stream, a line at a time,
// written as they arrive (an export is never held whole in memory). Ctrl-C
// (or SIGTERM) ends either cleanly.
#include <signal.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "cli/render_json.h"
#include "cli/trace_view.h"

namespace spanvault::cli {
using nlohmann::json;
namespace {

volatile std::sig_atomic_t g_stop = 0;

void OnStopSignal(int) { g_stop = 1; }

// SIGINT and SIGTERM set g_stop and interrupt the wait for the daemon (no
// SA_RESTART), so the loops below see it at once.
void CatchStopSignals() {
  struct sigaction sa {};
  sa.sa_handler = OnStopSignal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

// Where the rows go: stdout, or FILE, created (or truncated) when the first
// row arrives or the export ends well, so that a refused export leaves an
// existing file alone.
class Output {
 public:
  explicit Output(std::string path) : path_(path == "-" ? "" : std::move(path)) {}
  ~Output() {
    if (f_ != nullptr && f_ != stdout) std::fclose(f_);
  }
  // Empty for stdout.
  const std::string& path() const { return path_; }
  // Opens the file when not yet; the reason when it cannot.
  std::string Open() {
    if (f_ != nullptr) return "";
    f_ = path_.empty() ? stdout : std::fopen(path_.c_str(), "we");
    return f_ != nullptr ? "" : "cannot create " + path_ + ": " + std::strerror(errno);
  }
  std::string Write(std::string_view line) {
    if (std::string why = Open(); !why.empty()) return why;
    std::fwrite(line.data(), 1, line.size(), f_);
    std::fputc('\n', f_);
    return std::ferror(f_) ? "cannot write " + Name() : "";
  }
  std::string Flush() {
    if (std::string why = Open(); !why.empty()) return why;
    return std::fflush(f_) != 0 || std::ferror(f_) ? "cannot write " + Name() : "";
  }

 private:
  std::string Name() const { return path_.empty() ? "stdout" : path_; }
  std::string path_;
  FILE* f_ = nullptr;
};

std::string RowsText(uint64_t rows, const std::string& to) {
  return std::to_string(rows) + (rows == 1 ? " row" : " rows") + (to.empty() ? "" : " to " + to);
}

std::string After(uint64_t rows, const Output& out) {
  return rows ? " (after " + RowsText(rows, out.path()) + ")" : "";
}

// Checks the export's last line ({"$end": "export", "rows": N} or an error).
int Finish(const json& end, uint64_t rows, Output& out) {
  if (auto f = FailureOf(end)) return Die(f->message + After(rows, out), f->code);
  if (std::string why = out.Flush(); !why.empty()) return Die(why);
  if (U64(end, "rows") != rows) {
    std::fprintf(stderr, "spanvault: the daemon counted %llu rows, %llu arrived\n",
                 static_cast<unsigned long long>(U64(end, "rows")), static_cast<unsigned long long>(rows));
    return 2;
  }
  std::fprintf(stderr, "exported %s\n", RowsText(rows, out.path()).c_str());
  return 0;
}

}  // namespace

int CmdExport(const Globals& g, const TraceArgs& a) {
  json params = ParamsOf(a, false);
  if (!a.span_type.empty()) params["span_type"] = a.span_type;
  Output out(a.output);
  auto stream = LineStream::Open(g, json{{"$export", a.shape}, {"params", params}});
  if (!stream) return Report(stream.error());
  CatchStopSignals();
  uint64_t rows = 0;
  for (;;) {
    // Rows may be minutes apart when the filters match little of a big store.
    auto line = stream->Next(std::chrono::minutes(10), &g_stop);
    if (!line) return Die(line.error().message + After(rows, out), line.error().code);
    if (!*line) {
      out.Flush();
      if (g_stop) return Die("interrupted" + After(rows, out), 130);
      return Die("timed out waiting for the export's next row" + After(rows, out));
    }
    const std::string& l = **line;
    if (l.starts_with(R"({"$end")") || l.starts_with(R"({"$export")")) {
      return Finish(json::parse(l, nullptr, false), rows, out);
    }
    if (std::string why = out.Write(l); !why.empty()) return Die(why + After(rows, out));
    ++rows;
  }
}

int CmdTail(const Globals& g, const TraceArgs& a) {
  auto stream = LineStream::Open(g, json{{"$tail", a.traces ? "traces" : "spans"}});
  if (!stream) return Report(stream.error());
  CatchStopSignals();
  RenderOptions view = ViewOf(a);
  for (;;) {
    auto line = stream->Next(std::chrono::hours(1), &g_stop);
    if (!line) return Report(line.error());
    if (!*line) {
      if (g_stop) return 0;
      continue;
    }
    json event = json::parse(**line, nullptr, false);
    if (event.is_object() && event.contains("data")) {
      Print(a.as_json ? event["data"].dump(-1, ' ', false, json::error_handler_t::replace) + "\n"
                      : RenderTailEvent(Str(event, "$tail"), event["data"], view));
      std::fflush(stdout);
      continue;
    }
    if (auto f = FailureOf(event)) return Report(*f);
    if (event.is_object() && event.contains("$end")) return 0;  // the daemon ended the tail (stopping)
  }
}

}  // namespace spanvault::cli
