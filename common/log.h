// Structured logging: one JSON object per line on stderr (journald-friendly).
//
//   LOG_INFO("listener started", {{"path", path}, {"mode", "0660"}});
//
// Thread-safe: each line is written with one write(2). Secrets must never be
// passed as fields; nothing here redacts.
#pragma once

#include <nlohmann/json.hpp>
#include <string_view>

namespace spanvault::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

// Parses "debug" | "info" | "warn" | "error"; false on anything else.
bool ParseLevel(std::string_view s, Level* out);
void SetLevel(Level level);
bool Enabled(Level level);
void Write(Level level, std::string_view msg, const nlohmann::json& fields = nullptr);

// Under systemd, stderr is a journal stream: JOURNAL_STREAM holds its
// "device:inode". When it matches fd 2, lines are written as "<N>{...}"
// (N = syslog priority: 7 debug, 6 info, 4 warn, 3 error) without the "ts"
// field, since journald stamps every line itself. Call once at start-up;
// returns whether journal mode is on.
bool DetectJournal();
void SetJournalMode(bool on);  // tests

}  // namespace spanvault::log

#define SV_LOG(level, ...)                                                             \
  do {                                                                                 \
    if (::spanvault::log::Enabled(level)) ::spanvault::log::Write(level, __VA_ARGS__); \
  } while (0)
#define LOG_DEBUG(...) SV_LOG(::spanvault::log::Level::kDebug, __VA_ARGS__)
#define LOG_INFO(...) SV_LOG(::spanvault::log::Level::kInfo, __VA_ARGS__)
#define LOG_WARN(...) SV_LOG(::spanvault::log::Level::kWarn, __VA_ARGS__)
#define LOG_ERROR(...) SV_LOG(::spanvault::log::Level::kError, __VA_ARGS__)
