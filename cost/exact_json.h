// cost/exact_json — JSON and TOML documents with decimal numbers kept as text.
//
// Price files must be read without rounding through double. Both parsers here
// produce an nlohmann::json tree in which every non-integer number is replaced
// by a string holding the number's source text ("0.43", "2.5e-06"); integers
// stay integers. The price loaders accept a string or an integer wherever a
// price goes and hand the text to ParseDecimal. Neither function throws.
#pragma once

#include <nlohmann/json.hpp>
#include <string_view>

#include "common/error.h"

namespace spanvault::cost {

// Parses JSON text. Errors carry the byte offset of the problem.
Result<nlohmann::json> ParseExactJson(std::string_view text);

// Parses TOML text (toml++). Floats keep their source token (underscores
// removed; inf/nan refused); dates and times become "YYYY-MM-DD" and
// "HH:MM:SS" strings. Errors carry line and column.
Result<nlohmann::json> ParseExactToml(std::string_view text);

}  // namespace spanvault::cost
