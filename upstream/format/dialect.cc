#include "upstream/format/dialect.h"

namespace spanvault::otlp {
namespace {

constexpr std::string_view kDialectNames[] = {"otel", "langfuse", "braintrust", "brokle", "openinference"};

}  // namespace

std::optional<Dialect> ParseDialect(std::string_view name) {
  for (size_t i = 0; i < std::size(kDialectNames); ++i) {
    if (name == kDialectNames[i]) return static_cast<Dialect>(i);
  }
  return std::nullopt;
}

std::string_view DialectName(Dialect d) { return kDialectNames[static_cast<size_t>(d)]; }

std::string KnownDialects() {
  std::string s;
  for (std::string_view n : kDialectNames) {
    if (!s.empty()) s += ", ";
    s += n;
  }
  return s;
}

}  // namespace spanvault::otlp
