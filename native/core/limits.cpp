#include "core/limits.h"

#include <charconv>
#include <cmath>
#include <cstdlib>

namespace sr {

// ECMAScript's Number::toString: the shortest digits that round-trip, placed by the same rules.
std::string js_number(double x) {
  if (std::isnan(x)) return "NaN";
  if (std::isinf(x)) return x > 0 ? "Infinity" : "-Infinity";
  if (x == 0) return "0";
  char buf[64];
  const auto res = std::to_chars(buf, buf + sizeof(buf), std::fabs(x), std::chars_format::scientific);
  const std::string sci(buf, res.ptr);  // "d.ddde+XX"
  const size_t e_at = sci.find('e');
  std::string digits = sci.substr(0, 1) + (e_at > 1 ? sci.substr(2, e_at - 2) : "");
  const int k = static_cast<int>(digits.size());
  const int n = std::atoi(sci.c_str() + e_at + 1) + 1;  // the decimal point sits after n digits
  std::string s;
  if (k <= n && n <= 21) {
    s = digits + std::string(n - k, '0');
  } else if (0 < n && n <= 21) {
    s = digits.substr(0, n) + "." + digits.substr(n);
  } else if (-6 < n && n <= 0) {
    s = "0." + std::string(-n, '0') + digits;
  } else {
    s = digits.substr(0, 1) + (k > 1 ? "." + digits.substr(1) : "") + "e" + (n - 1 >= 0 ? "+" : "-") +
        std::to_string(std::abs(n - 1));
  }
  return x < 0 ? "-" + s : s;
}

std::string Range::text() const {
  const bool lo_set = std::isfinite(lo), hi_set = std::isfinite(hi);
  if (integer) {
    if (lo == 1 && hi == kMaxSafeInteger) return "a positive integer";
    return "an integer in [" + js_number(lo) + ", " + js_number(hi) + "]";
  }
  if (lo_set && hi_set)
    return std::string("in ") + (lo_open ? "(" : "[") + js_number(lo) + ", " + js_number(hi) + (hi_open ? ")" : "]");
  if (lo_set) return (lo_open ? "> " : ">= ") + js_number(lo);
  if (hi_set) return (hi_open ? "< " : "<= ") + js_number(hi);
  return "finite";
}

}  // namespace sr
