#include "switchyard/limits/rate_headers.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <ctime>
#include <cctype>
#include <string>

namespace sy::limits {
namespace {

std::optional<std::int64_t> to_int(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  std::int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v < 0) return std::nullopt;
  return v;
}

// Days from 1970-01-01 to y-m-d (proleptic Gregorian).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

}  // namespace

std::optional<std::chrono::milliseconds> parse_go_duration(std::string_view s) {
  if (s.empty()) return std::nullopt;
  double total_ms = 0;
  size_t i = 0;
  bool any = false;
  while (i < s.size()) {
    double v = 0;
    auto [p, ec] = std::from_chars(s.data() + i, s.data() + s.size(), v);
    if (ec != std::errc() || !(v >= 0)) return std::nullopt;  // negative or NaN
    i = static_cast<size_t>(p - s.data());
    size_t u = i;
    while (u < s.size() && ((s[u] >= 'a' && s[u] <= 'z'))) ++u;
    std::string_view unit = s.substr(i, u - i);
    double mult;
    if (unit == "h") mult = 3'600'000;
    else if (unit == "m") mult = 60'000;
    else if (unit == "s" || unit.empty()) mult = 1000;
    else if (unit == "ms") mult = 1;
    else if (unit == "us") mult = 0.001;
    else if (unit == "ns") mult = 1e-6;
    else return std::nullopt;
    total_ms += v * mult;
    any = true;
    i = u;
    if (unit.empty()) break;  // a bare number means seconds and ends the value
  }
  if (!any || i != s.size()) return std::nullopt;
  // Bounded to a day: a double beyond int64 cannot be cast (undefined behaviour).
  return std::chrono::milliseconds(static_cast<std::int64_t>(std::ceil(std::min(total_ms, 86'400'000.0))));
}

std::optional<std::int64_t> parse_rfc3339_ms(std::string_view s) {
  // YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)
  if (s.size() < 20) return std::nullopt;
  auto num = [&](size_t at, size_t len) -> std::optional<int> {
    int v = 0;
    auto [p, ec] = std::from_chars(s.data() + at, s.data() + at + len, v);
    if (ec != std::errc() || p != s.data() + at + len) return std::nullopt;
    return v;
  };
  auto y = num(0, 4), mo = num(5, 2), d = num(8, 2), h = num(11, 2), mi = num(14, 2), se = num(17, 2);
  if (!y || !mo || !d || !h || !mi || !se || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't' && s[10] != ' ')) {
    return std::nullopt;
  }
  size_t i = 19;
  double frac = 0;
  if (i < s.size() && s[i] == '.') {
    size_t j = i + 1;
    while (j < s.size() && s[j] >= '0' && s[j] <= '9') ++j;
    double scale = 0.1;
    for (size_t k = i + 1; k < j; ++k, scale /= 10) frac += (s[k] - '0') * scale;
    i = j;
  }
  std::int64_t offset_min = 0;
  if (i < s.size() && (s[i] == 'Z' || s[i] == 'z')) {
    ++i;
  } else if (i + 6 <= s.size() && (s[i] == '+' || s[i] == '-')) {
    auto oh = num(i + 1, 2), om = num(i + 4, 2);
    if (!oh || !om) return std::nullopt;
    offset_min = (*oh * 60 + *om) * (s[i] == '-' ? -1 : 1);
    i += 6;
  } else {
    return std::nullopt;
  }
  if (i != s.size()) return std::nullopt;
  std::int64_t days = days_from_civil(*y, static_cast<unsigned>(*mo), static_cast<unsigned>(*d));
  std::int64_t secs = days * 86400 + *h * 3600 + *mi * 60 + *se - offset_min * 60;
  return secs * 1000 + static_cast<std::int64_t>(std::llround(frac * 1000));
}

std::optional<std::int64_t> parse_http_date_ms(std::string_view s) {
  // "Wed, 21 Oct 2015 07:28:00 GMT"
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  if (s.size() < 29 || s[3] != ',') return std::nullopt;
  auto num = [&](size_t at, size_t len) -> std::optional<int> {
    int v = 0;
    auto [p, ec] = std::from_chars(s.data() + at, s.data() + at + len, v);
    if (ec != std::errc() || p != s.data() + at + len) return std::nullopt;
    return v;
  };
  auto d = num(5, 2), y = num(12, 4), h = num(17, 2), mi = num(20, 2), se = num(23, 2);
  int mo = 0;
  for (int k = 0; k < 12; ++k) {
    if (s.substr(8, 3) == kMonths[k]) mo = k + 1;
  }
  if (!d || !y || !h || !mi || !se || mo == 0) return std::nullopt;
  std::int64_t days = days_from_civil(*y, static_cast<unsigned>(mo), static_cast<unsigned>(*d));
  return (days * 86400 + *h * 3600 + *mi * 60 + *se) * 1000;
}

LearnedLimits parse_rate_headers(const Headers& headers, std::int64_t now_unix_ms) {
  using std::chrono::milliseconds;
  LearnedLimits l;
  auto until = [&](std::string_view v) -> std::optional<milliseconds> {
    if (auto t = parse_rfc3339_ms(v)) return milliseconds(std::max<std::int64_t>(0, *t - now_unix_ms));
    return parse_go_duration(v);
  };
  auto min_opt = [](std::optional<std::int64_t>& into, std::optional<std::int64_t> v) {
    if (v && (!into || *v < *into)) into = v;
  };
  auto max_opt = [](std::optional<milliseconds>& into, std::optional<milliseconds> v) {
    if (v && (!into || *v > *into)) into = v;
  };
  char lowered[64];
  for (const auto& h : headers) {
    // Only a few header names matter: reject the rest on their first letter, without allocating.
    if (h.name.empty() || h.name.size() > sizeof lowered) continue;
    char first = static_cast<char>(std::tolower(static_cast<unsigned char>(h.name[0])));
    if (first != 'x' && first != 'a' && first != 'r') continue;
    for (size_t i = 0; i < h.name.size(); ++i) lowered[i] = static_cast<char>(std::tolower(static_cast<unsigned char>(h.name[i])));
    std::string_view n(lowered, h.name.size()), v = h.value;
    if (n == "retry-after-ms") {
      if (auto x = to_int(v)) l.retry_after = milliseconds(*x);
      continue;
    }
    if (n == "retry-after") {
      if (l.retry_after) continue;  // retry-after-ms is more precise
      double secs = 0;
      auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), secs);
      if (ec == std::errc() && p == v.data() + v.size() && secs >= 0 && secs == secs) {
        l.retry_after = milliseconds(static_cast<std::int64_t>(std::ceil(std::min(secs * 1000, 86'400'000.0))));
      } else if (auto t = parse_http_date_ms(v)) {
        l.retry_after = milliseconds(std::max<std::int64_t>(0, *t - now_unix_ms));
      }
      continue;
    }
    std::string_view rest;
    if (n.starts_with("x-ratelimit-")) rest = n.substr(12);
    else if (n.starts_with("anthropic-ratelimit-")) rest = n.substr(20);
    else continue;
    // OpenAI: <field>-<kind>; Anthropic: <kind>-<field>. kind: requests | tokens | input-tokens | output-tokens.
    std::string_view field, kind;
    for (std::string_view f : {"limit", "remaining", "reset"}) {
      if (rest.starts_with(f) && rest.size() > f.size() && rest[f.size()] == '-') {
        field = f;
        kind = rest.substr(f.size() + 1);
      } else if (rest.ends_with(f) && rest.size() > f.size() && rest[rest.size() - f.size() - 1] == '-') {
        field = f;
        kind = rest.substr(0, rest.size() - f.size() - 1);
      }
    }
    if (field.empty()) continue;
    bool requests = kind == "requests";
    bool tokens = kind == "tokens" || kind == "input-tokens" || kind == "output-tokens";
    if (!requests && !tokens) continue;
    if (field == "limit") {
      if (requests) min_opt(l.limit_requests, to_int(v));
      else min_opt(l.limit_tokens, to_int(v));
    } else if (field == "remaining") {
      // With separate input/output token limits, the tighter one binds.
      if (requests) min_opt(l.remaining_requests, to_int(v));
      else min_opt(l.remaining_tokens, to_int(v));
    } else {
      if (requests) max_opt(l.reset_requests, until(v));
      else max_opt(l.reset_tokens, until(v));
    }
  }
  // Every wait an upstream announces is bounded to a day: "reset at year 9999" must neither overflow
  // the clock arithmetic it feeds nor take a deployment out for longer than a config reload would.
  constexpr milliseconds kMaxWait{86'400'000};
  for (auto* wait : {&l.retry_after, &l.reset_requests, &l.reset_tokens}) {
    if (*wait) *wait = std::clamp(**wait, milliseconds(0), kMaxWait);
  }
  return l;
}

}  // namespace sy::limits
