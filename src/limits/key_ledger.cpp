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

std::optional<Error> KeyAccount::admit(const config::AuthKey& key, TimePoint now, WallTime wall, bool local_rpm) {
  std::lock_guard lock(mu_);
  roll(wall);
  double today = today_usd_, month = month_usd_;
  if (shared_spend_ && (key.daily_usd || key.monthly_usd)) {
    if (shared_->up()) {
      // Every replica's spend as of the last flush (100 ms), plus this replica's since.
      auto [t, m] = shared_spend_->totals();
      today = std::max(today, t);
      month = std::max(month, m);
    } else if (!shared_->config().budgets_fail_open) {
      Error e = Error::make(ErrorKind::unavailable,
                            "Key '" + key.name + "' has a budget and the shared spend store is unreachable; retry shortly.");
      e.code = "shared_state_unavailable";
      e.retry_after = std::chrono::milliseconds(1000);
      return e;
    }
  }
  if (key.daily_usd && today >= *key.daily_usd) {
    return over_limit("Key '" + key.name + "' has spent its daily budget of " + usd(*key.daily_usd) +
                          " (UTC day); it resets at 00:00 UTC.",
                      "budget_exceeded");
  }
  if (key.monthly_usd && month >= *key.monthly_usd) {
    return over_limit("Key '" + key.name + "' has spent its monthly budget of " + usd(*key.monthly_usd) +
                          " (UTC month).",
                      "budget_exceeded");
  }
  auto retry_at = [&](const MinuteWindow& w) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(w.next_expiry(now) - now) +
           std::chrono::milliseconds(1);
  };
  if (local_rpm && key.rpm && requests_.sum(now) >= *key.rpm) {
    Error e = over_limit("Key '" + key.name + "' is over its limit of " + std::to_string(*key.rpm) + " requests per minute.",
                         "rate_limit_exceeded");
    e.retry_after = retry_at(requests_);
    return e;
  }
  const std::int64_t tokens_used = shared_tpm_ && shared_->up() ? std::max(shared_tpm_->used(), tokens_.sum(now)) : tokens_.sum(now);
  if (key.tpm && tokens_used >= *key.tpm) {
    Error e = over_limit("Key '" + key.name + "' is over its limit of " + std::to_string(*key.tpm) + " tokens per minute.",
                         "rate_limit_exceeded");
    e.retry_after = shared_tpm_ ? std::chrono::milliseconds(1000) : retry_at(tokens_);
    return e;
  }
  requests_.add(now, 1);
  ++count_;
  return std::nullopt;
}

void KeyAccount::uncount(TimePoint now) {
  std::lock_guard lock(mu_);
  requests_.add(now, -1);
  --count_;
}

std::optional<Error> KeyAccount::over_local_rpm(const config::AuthKey& key, TimePoint now) const {
  std::lock_guard lock(mu_);
  // admit() already counted this request: over when the count passed the limit.
  if (!key.rpm || requests_.sum(now) <= *key.rpm) return std::nullopt;
  Error e = over_limit("Key '" + key.name + "' is over its limit of " + std::to_string(*key.rpm) + " requests per minute.",
                       "rate_limit_exceeded");
  e.retry_after = std::chrono::milliseconds(1000);
  return e;
}

void KeyAccount::share(std::shared_ptr<state::Window> rpm, std::shared_ptr<state::Window> tpm,
                       std::shared_ptr<state::Spend> spend, const state::SharedState* shared) {
  std::lock_guard lock(mu_);
  shared_rpm_ = std::move(rpm);
  shared_tpm_ = std::move(tpm);
  shared_spend_ = std::move(spend);
  shared_ = shared;
}

std::shared_ptr<state::Window> KeyAccount::shared_rpm() const {
  std::lock_guard lock(mu_);
  return shared_rpm_;
}

void KeyAccount::settle(TimePoint now, WallTime wall, std::int64_t tokens, double cost_usd) {
  if (!(cost_usd >= 0) || !std::isfinite(cost_usd)) cost_usd = 0;
  std::lock_guard lock(mu_);
  roll(wall);
  if (tokens > 0) tokens_.add(now, tokens);
  if (shared_tpm_ && tokens > 0) shared_tpm_->settle(tokens);
  if (shared_spend_) shared_spend_->add(cost_usd);
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
