// cost/decimal — exact decimal money for the cost engine.
//
// Prices and costs never pass through floating point. A price is parsed from
// its decimal text (JSON or TOML token, "0.43", "2.5e-06") into an integer
// count of 10^-scale units; costs are integer picodollars (10^-12 USD) and are
// rendered back as plain decimals with at most 12 fractional digits.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace spanvault::cost {

// 128-bit integers for intermediate products (tokens × price). __extension__
// keeps -Wpedantic quiet about the GCC/Clang builtin type.
__extension__ typedef __int128 Int128;
__extension__ typedef unsigned __int128 UInt128;

// 10^n for 0 <= n <= 38.
Int128 Pow10(int n);

// Parses a decimal number ("12", "0.43", "-1.5", "2.5e-06", "1E3") into units
// of 10^-scale: ParseDecimal("0.43", 12) == 430000000000. Digits beyond the
// scale are rounded half away from zero. nullopt for anything that is not a
// finite decimal number or whose magnitude exceeds 10^30 units. No locale, no
// floating point.
std::optional<Int128> ParseDecimal(std::string_view text, int scale);

// Renders `units` of 10^-scale as a plain decimal: no exponent, trailing
// fractional zeros trimmed, "0" for zero. FormatDecimal(430000000000, 12) ==
// "0.43".
std::string FormatDecimal(Int128 units, int scale);
void AppendDecimal(Int128 units, int scale, std::string& out);

// round(a × b / d), half away from zero; false on overflow (d > 0).
bool MulDivRound(Int128 a, Int128 b, Int128 d, Int128& out);

}  // namespace spanvault::cost
