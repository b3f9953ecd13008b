#pragma once
/// What each gateway key (auth.keys) has used: requests and tokens in the last minute for its rpm/tpm,
/// and USD spent today, this month (UTC) and in all, for its budgets. Process-wide and kept across
/// config reloads by key name, so editing a key's limits does not forgive its spend.
///
/// A request is admitted against the limits before it is routed (`admit` counts it for rpm) and
/// settled with its real tokens and cost when it ends. Requests in flight when a budget runs out still
/// finish, so spend may pass a budget by what those cost; the next request is refused.
///
/// Thread-safety: every method is thread-safe (one mutex per key, held for a few hundred nanoseconds).
/// Time is passed in, so tests drive it without sleeping.
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "switchyard/config/config.hpp"
#include "switchyard/core/error.hpp"
#include "switchyard/limits/deployment_state.hpp"
#include "switchyard/state/shared_state.hpp"

namespace sy::limits {

using WallTime = std::chrono::system_clock::time_point;

struct KeyUsage {
  double today_usd = 0, month_usd = 0, total_usd = 0;
  std::int64_t requests = 0;  ///< admitted since the process started
  std::int64_t requests_last_minute = 0, tokens_last_minute = 0;
};

class KeyAccount {
 public:
  /// Counts the request and returns nothing, or a 429 (rate_limit_exceeded with a retry-after, or
  /// budget_exceeded) without counting it. With a shared rpm window the caller reserves the request
  /// there (`local_rpm` false: this replica's window is not the limit, only counted).
  std::optional<Error> admit(const config::AuthKey& key, TimePoint now, WallTime wall, bool local_rpm = true);
  /// Takes back the count of a request admit() counted that was then refused (by the shared rpm).
  void uncount(TimePoint now);
  /// Over the rpm limit on this replica's count alone (the fail-open fallback when Redis is down).
  std::optional<Error> over_local_rpm(const config::AuthKey& key, TimePoint now) const;
  /// Limits and spend shared with other replicas (state: in the config): any may be null.
  void share(std::shared_ptr<state::Window> rpm, std::shared_ptr<state::Window> tpm, std::shared_ptr<state::Spend> spend,
             const state::SharedState* shared);
  std::shared_ptr<state::Window> shared_rpm() const;
  /// A finished request's tokens (prompt + completion) and cost.
  void settle(TimePoint now, WallTime wall, std::int64_t tokens, double cost_usd);
  KeyUsage usage(TimePoint now, WallTime wall) const;

 private:
  void roll(WallTime wall) const;  // under mu_: a new UTC day or month starts from zero
  mutable std::mutex mu_;
  MinuteWindow requests_, tokens_;
  mutable std::int64_t day_ = -1, month_ = -1;
  mutable double today_usd_ = 0, month_usd_ = 0;
  double total_usd_ = 0;
  std::int64_t count_ = 0;
  std::shared_ptr<state::Window> shared_rpm_, shared_tpm_;
  std::shared_ptr<state::Spend> shared_spend_;
  const state::SharedState* shared_ = nullptr;
};

class KeyLedger {
 public:
  /// The account of the key named `name`, created on first use and kept for the process's life.
  std::shared_ptr<KeyAccount> account(const std::string& name);

 private:
  std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<KeyAccount>> accounts_;
};

}  // namespace sy::limits
