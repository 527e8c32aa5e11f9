// The values a numeric argument may take, stated once. A kernel's header declares the Range of each argument
// next to the contract it protects; its binding pairs the Range with the argument's name (a Limit), checks
// it (binding/args.h) and exports it as native.limits, so the TypeScript layer and the tests read the same
// numbers and the same words: "<name> must be <text()>, got <value>".
#pragma once
#include <cstdint>
#include <limits>
#include <string>

namespace sr {

struct Range {
  double lo = -std::numeric_limits<double>::infinity();
  double hi = std::numeric_limits<double>::infinity();
  bool lo_open = false;  // x > lo instead of x >= lo
  bool hi_open = false;  // x < hi instead of x <= hi
  bool integer = false;  // a whole number (then lo and hi are finite)

  constexpr bool contains(double x) const {
    const bool above_lo = lo_open ? x > lo : x >= lo;  // false for NaN
    const bool below_hi = hi_open ? x < hi : x <= hi;
    return above_lo && below_hi && (!integer || static_cast<double>(static_cast<int64_t>(x)) == x);
  }
  // The words after "must be": "> 0", ">= 0", "in [0, 1)", "a positive integer", ...
  std::string text() const;
};

constexpr double kMaxSafeInteger = 9007199254740991.0;  // 2^53 - 1, JavaScript's Number.MAX_SAFE_INTEGER

constexpr Range at_least(double lo) { return Range{lo, std::numeric_limits<double>::infinity(), false, false, false}; }
constexpr Range above(double lo) { return Range{lo, std::numeric_limits<double>::infinity(), true, false, false}; }
constexpr Range closed(double lo, double hi) { return Range{lo, hi, false, false, false}; }
constexpr Range half_open(double lo, double hi) { return Range{lo, hi, false, true, false}; }  // [lo, hi)
constexpr Range integers(double lo, double hi) { return Range{lo, hi, false, false, true}; }
constexpr Range positive_integer() { return integers(1, kMaxSafeInteger); }

// A binding argument with its Range: `key` in the binding's options object, `name` as errors name it (the
// TypeScript API's spelling, e.g. "options.sigma").
struct Limit {
  const char* key;
  const char* name;
  Range range;
};

// A number as JavaScript prints it (String(x)): "0.5", "1e-30", "1e+40", "NaN", "-Infinity".
std::string js_number(double x);

}  // namespace sr
