#include "switchyard/limits/key_ledger.hpp"

#include <cmath>
#include <ctime>

#include "switchyard/core/numbers.hpp"

namespace sy::limits {

namespace {

std::int64_t utc_day(WallTime wall) {
  auto s = std::chrono::duration_cast<std::chrono::seconds>(wall.time_since_epoch()).count();
  return s >= 0 ? s / 86400 : (s - 86399) / 86400;
}

std::int64_t utc_month(WallTime wall) {
  std::time_t t = std::chrono::system_clock::to_time_t(wall);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return static_cast<std::int64_t>(tm.tm_year) * 12 + tm.tm_mon;
}

/// Dollars as written in a config: cents when whole cents, else up to six decimals ($0.005, not $0.01).
std::string usd(double v) {
  std::string s = fixed(v, 6);
  while (s.size() > 1 && s.back() == '0' && s.find('.') != std::string::npos && s.size() - s.find('.') > 3) s.pop_back();
  return "$" + s;
}

Error over_limit(std::string message, std::string code) {
  Error e = Error::make(ErrorKind::rate_limited, std::move(message));
  e.code = std::move(code);
  return e;
}

}  // namespace

void KeyAccount::roll(WallTime wall) const {
  std::int64_t day = utc_day(wall);
  if (day == day_) return;
  day_ = day;
  today_usd_ = 0;
  std::int64_t month = utc_month(wall);
  if (month != month_) {
    month_ = month;
    month_usd_ = 0;
  }
}

std::optional<Error> KeyAccount::admit(const config::AuthKey& key, TimePoint now, WallTime wall) {
  std::lock_guard lock(mu_);
  roll(wall);
  if (key.daily_usd && today_usd_ >= *key.daily_usd) {
    return over_limit("Key '" + key.name + "' has spent its daily budget of " + usd(*key.daily_usd) +
                          " (UTC day); it resets at 00:00 UTC.",
                      "budget_exceeded");
  }
  if (key.monthly_usd && month_usd_ >= *key.monthly_usd) {
    return over_limit("Key '" + key.name + "' has spent its monthly budget of " + usd(*key.monthly_usd) +
                          " (UTC month).",
                      "budget_exceeded");
  }
  auto retry_at = [&](const MinuteWindow& w) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(w.next_expiry(now) - now) +
           std::chrono::milliseconds(1);
  };
  if (key.rpm && requests_.sum(now) >= *key.rpm) {
    Error e = over_limit("Key '" + key.name + "' is over its limit of " + std::to_string(*key.rpm) + " requests per minute.",
                         "rate_limit_exceeded");
    e.retry_after = retry_at(requests_);
    return e;
  }
  if (key.tpm && tokens_.sum(now) >= *key.tpm) {
    Error e = over_limit("Key '" + key.name + "' is over its limit of " + std::to_string(*key.tpm) + " tokens per minute.",
                         "rate_limit_exceeded");
    e.retry_after = retry_at(tokens_);
    return e;
  }
  requests_.add(now, 1);
  ++count_;
  return std::nullopt;
}

void KeyAccount::settle(TimePoint now, WallTime wall, std::int64_t tokens, double cost_usd) {
  if (!(cost_usd >= 0) || !std::isfinite(cost_usd)) cost_usd = 0;
  std::lock_guard lock(mu_);
  roll(wall);
  if (tokens > 0) tokens_.add(now, tokens);
  today_usd_ += cost_usd;
  month_usd_ += cost_usd;
  total_usd_ += cost_usd;
}

KeyUsage KeyAccount::usage(TimePoint now, WallTime wall) const {
  std::lock_guard lock(mu_);
  roll(wall);
  return {today_usd_, month_usd_, total_usd_, count_, requests_.sum(now), tokens_.sum(now)};
}

std::shared_ptr<KeyAccount> KeyLedger::account(const std::string& name) {
  std::lock_guard lock(mu_);
  auto& a = accounts_[name];
  if (!a) a = std::make_shared<KeyAccount>();
  return a;
}

}  // namespace sy::limits
