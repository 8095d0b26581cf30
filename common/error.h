// Errors as values across modules: std::expected<T, Error>.
#pragma once

#include <expected>
#include <string>
#include <utility>

namespace spanvault {

struct Error {
  enum class Code {
    kInvalidArgument,  // bad input or config
    kIo,               // the OS or RocksDB failed
    kCorruption,       // stored data that cannot be read
    kFull,             // a bound is reached and the policy is to refuse
    kUnavailable,      // not running / not reachable
  };
  Code code = Code::kInvalidArgument;
  std::string message;

  static Error Invalid(std::string m) { return {Code::kInvalidArgument, std::move(m)}; }
  static Error Io(std::string m) { return {Code::kIo, std::move(m)}; }
  static Error Corruption(std::string m) { return {Code::kCorruption, std::move(m)}; }
  static Error Full(std::string m) { return {Code::kFull, std::move(m)}; }
  static Error Unavailable(std::string m) { return {Code::kUnavailable, std::move(m)}; }
};

template <typename T>
using Result = std::expected<T, Error>;

// For functions that return nothing on success.
using Status = std::expected<void, Error>;

inline std::unexpected<Error> Fail(Error e) { return std::unexpected<Error>(std::move(e)); }

}  // namespace spanvault
