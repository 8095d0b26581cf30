#include "common/log.h"

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "common/util.h"

namespace spanvault::log {
namespace {
std::atomic<int> g_level{static_cast<int>(Level::kInfo)};
std::atomic<bool> g_journal{false};
constexpr std::string_view kNames[] = {"debug", "info", "warn", "error"};
constexpr std::string_view kPriorities[] = {"<7>", "<6>", "<4>", "<3>"};
}  // namespace

bool ParseLevel(std::string_view s, Level* out) {
  for (int i = 0; i < 4; ++i) {
    if (s == kNames[i]) {
      *out = static_cast<Level>(i);
      return true;
    }
  }
  if (s == "warning") {
    *out = Level::kWarn;
    return true;
  }
  return false;
}

void SetLevel(Level level) { g_level.store(static_cast<int>(level), std::memory_order_relaxed); }

bool Enabled(Level level) { return static_cast<int>(level) >= g_level.load(std::memory_order_relaxed); }

bool DetectJournal() {
  const char* js = std::getenv("JOURNAL_STREAM");
  bool on = false;
  if (js != nullptr) {
    unsigned long long dev = 0, ino = 0;
    struct stat st;
    if (std::sscanf(js, "%llu:%llu", &dev, &ino) == 2 && ::fstat(STDERR_FILENO, &st) == 0) {
      on = static_cast<unsigned long long>(st.st_dev) == dev && static_cast<unsigned long long>(st.st_ino) == ino;
    }
  }
  g_journal.store(on);
  return on;
}

void SetJournalMode(bool on) { g_journal.store(on); }

void Write(Level level, std::string_view msg, const nlohmann::json& fields) {
  const bool journal = g_journal.load(std::memory_order_relaxed);
  nlohmann::ordered_json line = nlohmann::ordered_json::object();
  if (!journal) line["ts"] = FormatRfc3339(NowNanos());
  line["level"] = kNames[static_cast<int>(level)];
  line["msg"] = msg;
  if (fields.is_object()) {
    for (auto& [k, v] : fields.items()) line[k] = v;
  }
  std::string out;
  if (journal) out = kPriorities[static_cast<int>(level)];
  out += line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  out.push_back('\n');
  // One write(2) per line keeps lines whole between threads.
  const char* p = out.data();
  size_t n = out.size();
  while (n > 0) {
    ssize_t w = ::write(STDERR_FILENO, p, n);
    if (w <= 0) break;
    p += w;
    n -= static_cast<size_t>(w);
  }
}

}  // namespace spanvault::log
