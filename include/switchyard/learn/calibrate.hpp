#pragma once
/// Turning scores into a threshold that gives a wanted share of strong-model calls.
#include <atomic>
#include <cstddef>
#include <mutex>
#include <span>
#include <vector>

namespace sy::learn {

/// The threshold t for which the share of `scores` with score >= t is closest to `share`: the midpoint
/// between the k-th and (k+1)-th largest score, k = round(share * n). Above the maximum for share 0,
/// the minimum for share 1. Pure function.
double threshold_for_share(std::span<const double> scores, double share);

/// Share of scores >= threshold.
double share_at(std::span<const double> scores, double threshold);

/// Keeps the strong-call share at a target while traffic drifts: remembers the last `window` scores and
/// every `update_every` observations moves the threshold to `threshold_for_share` of that window.
///
/// Thread-safety: `observe` may be called from any thread (a mutex guards the window; the recompute is
/// O(window) every `update_every` calls); `threshold()` is a lock-free atomic read for the hot path.
class OnlineCalibrator {
 public:
  OnlineCalibrator(double target_share, double initial_threshold, std::size_t window = 10'000,
                   std::size_t update_every = 100);

  /// Records one request's score.
  void observe(double score);
  /// The current threshold: route strong when score >= threshold().
  double threshold() const { return threshold_.load(std::memory_order_relaxed); }
  double target_share() const { return target_; }
  /// Number of scores observed so far.
  std::size_t observed() const;

 private:
  const double target_;
  const std::size_t window_, update_every_;
  std::atomic<double> threshold_;
  mutable std::mutex mu_;
  std::vector<double> ring_;  ///< guarded by mu_
  std::size_t next_ = 0;      ///< guarded by mu_
  std::size_t seen_ = 0;      ///< guarded by mu_
  std::vector<double> work_;  ///< guarded by mu_; scratch for the recompute
};

}  // namespace sy::learn
