// Appends JSON text to a std::string without intermediate allocations: the
// encoder of canonical spans writes straight into the batch buffer.
#pragma once

#include <simdjson.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace spanvault::span {

// Appends `s` as a JSON string literal (quotes included). `s` must be valid
// UTF-8 (simdjson validated it); control characters are escaped.
void AppendJsonString(std::string_view s, std::string& out);
void AppendJsonInt(int64_t v, std::string& out);
void AppendJsonUint(uint64_t v, std::string& out);
// Shortest text that reads back as the same double.
void AppendJsonDouble(double v, std::string& out);
// Serialises a parsed element (compact). `number` writes its doubles
// (default: AppendJsonDouble).
using DoubleWriter = void (*)(double, std::string&);
void AppendJsonElement(simdjson::dom::element e, std::string& out, DoubleWriter number = AppendJsonDouble);

}  // namespace spanvault::span
