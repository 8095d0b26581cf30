// Small utilities shared by every module: clock, time formatting, sizes,
// durations, hex ids.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace spanvault {

// Wall-clock time in Unix nanoseconds.
int64_t NowNanos();

// "2026-11-23T10:37:11.123456789Z" (trailing zeros of the fraction removed,
// no fraction when whole seconds).
std::string FormatRfc3339(int64_t unix_nanos);
void AppendRfc3339(int64_t unix_nanos, std::string& out);

// Parses RFC 3339 ("2024-05-01T12:00:00Z", "...T12:00:00.5+02:00", a space
// instead of 'T' accepted, lowercase 't'/'z' accepted). nullopt when invalid.
std::optional<int64_t> ParseRfc3339(std::string_view s);

// "500ms", "1s", "2m", "3h", "7d", "1.5s"; a bare integer is seconds.
std::optional<std::chrono::milliseconds> ParseDuration(std::string_view s);
std::string FormatDuration(std::chrono::milliseconds d);

// "1GiB", "512MiB", "64KiB", "1GB", "100MB", "4096"; bare integer is bytes.
std::optional<uint64_t> ParseSize(std::string_view s);

// Random lowercase hex id of `bytes` bytes (2*bytes chars), never all zero.
std::string RandomHexId(size_t bytes);

}  // namespace spanvault
