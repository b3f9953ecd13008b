#include "switchyard/learn/calibrate.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>

namespace sy::learn {

double threshold_for_share(std::span<const double> scores, double share) {
  if (scores.empty()) return 0.5;
  std::vector<double> s(scores.begin(), scores.end());
  std::sort(s.begin(), s.end(), std::greater<>());
  const std::size_t n = s.size();
  const auto k = static_cast<std::size_t>(std::llround(std::clamp(share, 0.0, 1.0) * static_cast<double>(n)));
  if (k == 0) return std::nextafter(s.front(), std::numeric_limits<double>::infinity());
  if (k >= n) return s.back();
  return s[k - 1] == s[k] ? s[k - 1] : 0.5 * (s[k - 1] + s[k]);
}

double share_at(std::span<const double> scores, double threshold) {
  if (scores.empty()) return 0;
  std::size_t c = 0;
  for (double v : scores) c += v >= threshold;
  return static_cast<double>(c) / static_cast<double>(scores.size());
}

OnlineCalibrator::OnlineCalibrator(double target_share, double initial_threshold, std::size_t window,
                                   std::size_t update_every)
    : target_(std::clamp(target_share, 0.0, 1.0)),
      window_(std::max<std::size_t>(window, 1)),
      update_every_(std::max<std::size_t>(update_every, 1)),
      threshold_(initial_threshold) {
  ring_.reserve(window_);
}

void OnlineCalibrator::observe(double score) {
  std::lock_guard lock(mu_);
  if (ring_.size() < window_) ring_.push_back(score);
  else ring_[next_] = score;
  next_ = (next_ + 1) % window_;
  ++seen_;
  if (seen_ % update_every_ != 0) return;
  work_.assign(ring_.begin(), ring_.end());
  threshold_.store(threshold_for_share(work_, target_), std::memory_order_relaxed);
}

std::size_t OnlineCalibrator::observed() const {
  std::lock_guard lock(mu_);
  return seen_;
}

}  // namespace sy::learn
