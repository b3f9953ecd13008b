#include "switchyard/pipeline/selection.hpp"

#include <algorithm>
#include <cmath>
#include <random>
#include <utility>
#include <vector>

#include "switchyard/core/random.hpp"
#include "switchyard/limits/deployment_state.hpp"
#include "switchyard/pipeline/dispatcher.hpp"

namespace sy::pipeline {

namespace {

/// Weighted random (Efraimidis-Spirakis), weights shrunk by lost headroom.
class Weighted final : public SelectionStrategy {
 public:
  void put_first(std::span<Candidate> pool) const override {
    std::uniform_real_distribution<double> uni(1e-12, 1.0);
    double best = -2;
    std::size_t bi = 0;
    for (std::size_t i = 0; i < pool.size(); ++i) {
      double key = pool[i].weight > 0 ? std::pow(uni(thread_rng()), 1.0 / pool[i].weight) : -1.0;
      if (key > best) {
        best = key;
        bi = i;
      }
    }
    std::swap(pool[0], pool[bi]);
  }
};

/// Fewest requests in flight; ties broken at random.
class LeastBusy final : public SelectionStrategy {
 public:
  void put_first(std::span<Candidate> pool) const override {
    std::shuffle(pool.begin(), pool.end(), thread_rng());
    std::stable_sort(pool.begin(), pool.end(), [](const Candidate& a, const Candidate& b) {
      return a.plan->state->in_flight() < b.plan->state->in_flight();
    });
  }
};

/// Lowest time to first byte (EWMA); unmeasured deployments go first so every one gets measured.
class Latency final : public SelectionStrategy {
 public:
  void put_first(std::span<Candidate> pool) const override {
    std::vector<std::pair<double, std::size_t>> keyed;
    keyed.reserve(pool.size());
    for (std::size_t i = 0; i < pool.size(); ++i) keyed.emplace_back(pool[i].plan->state->latency_ms(), i);
    std::shuffle(keyed.begin(), keyed.end(), thread_rng());
    std::stable_sort(keyed.begin(), keyed.end(), [](auto& a, auto& b) { return a.first < b.first; });
    std::swap(pool[0], pool[keyed[0].second]);
  }
};

}  // namespace

const SelectionStrategy& selection_strategy(config::Strategy s) {
  static const Weighted kWeighted;
  static const LeastBusy kLeastBusy;
  static const Latency kLatency;
  switch (s) {
    case config::Strategy::least_busy: return kLeastBusy;
    case config::Strategy::latency: return kLatency;
    case config::Strategy::weighted: break;
  }
  return kWeighted;
}

}  // namespace sy::pipeline
