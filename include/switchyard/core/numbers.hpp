#pragma once
// Number formatting for headers, reasons and logs, without printf: std::to_chars is exact,
// locale-independent and an order of magnitude cheaper than snprintf("%.3f") on the request path.

#include <charconv>
#include <string>

namespace sy {

/// `v` with `digits` decimals, like printf's "%.<digits>f" ("0.919", "0.00000250").
inline std::string fixed(double v, int digits) {
  char buf[128];
  auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed, digits);
  if (r.ec != std::errc()) r = std::to_chars(buf, buf + sizeof buf, v);  // |v| too large for fixed notation
  return std::string(buf, r.ptr);
}

}  // namespace sy
