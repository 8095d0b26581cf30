// cost/ — helpers shared by the price-table loaders (not a public API).
#pragma once

#include <nlohmann/json.hpp>
#include <string_view>

#include "common/error.h"
#include "cost/price_table.h"

namespace spanvault::cost::internal {

// A price given as a decimal string (exact_json.h) or an integer, in units of
// 10^-scale. Negative prices are refused. `what` names the field in errors.
Result<PriceUnits> ParsePrice(const nlohmann::json& v, int scale, std::string_view what);

// "YYYY-MM-DD" -> nanoseconds at midnight UTC; nullopt for anything else and
// for dates outside int64 nanoseconds (before 1677-09-22, after 2262-04-11).
std::optional<int64_t> ParseDateNs(std::string_view s);

}  // namespace spanvault::cost::internal
