#pragma once
// Number formatting for headers, reasons and logs, without printf: std::to_chars is exact,
// locale-independent and an order of magnitude cheaper than snprintf("%.3f") on the request path.

#include <charconv>
#include <cmath>
#include <cstdint>
#include <string>

namespace sy {

/// `v` with `digits` decimals, like printf's "%.<digits>f" ("0.919", "0.00000250").
inline std::string fixed(double v, int digits) {
  // Scores and shares ("0.919"): rounded in integers, a few dozen instructions where to_chars' exact
  // fixed formatting takes ~500. Only when the result is certain: the scaled value is small enough that
  // its floating-point error (< 1e-7) cannot move it across a rounding boundary, and not within 1e-6 of a
  // tie; everything else goes to to_chars.
  static constexpr double kPow10[] = {1, 10, 100, 1e3, 1e4, 1e5, 1e6};
  if (digits >= 0 && digits <= 6 && std::isfinite(v)) {
    const double scaled = std::fabs(v) * kPow10[digits];
    if (scaled < 1e9) {
      const double whole = std::floor(scaled);
      const double frac = scaled - whole;
      if (std::fabs(frac - 0.5) > 1e-6) {
        auto units = static_cast<std::uint64_t>(whole) + (frac > 0.5 ? 1 : 0);
        char out[32];
        char* end = out + sizeof out;
        char* p = end;
        for (int i = 0; i < digits; ++i) {
          *--p = static_cast<char>('0' + units % 10);
          units /= 10;
        }
        if (digits > 0) *--p = '.';
        do {
          *--p = static_cast<char>('0' + units % 10);
          units /= 10;
        } while (units != 0);
        if (std::signbit(v)) *--p = '-';
        return std::string(p, end);
      }
    }
  }
  char buf[128];
  auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed, digits);
  if (r.ec != std::errc()) r = std::to_chars(buf, buf + sizeof buf, v);  // |v| too large for fixed notation
  return std::string(buf, r.ptr);
}

}  // namespace sy
