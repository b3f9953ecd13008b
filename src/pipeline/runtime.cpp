#include "switchyard/pipeline/runtime.hpp"

namespace sy::pipeline {

std::shared_ptr<const Runtime> RuntimeStore::current() const {
  // One cache per thread; a process has one store, so keying the cache by store is unnecessary.
  thread_local std::uint64_t cached_generation = 0;
  thread_local std::shared_ptr<const Runtime> cached;
  std::uint64_t g = generation_.load(std::memory_order_acquire);
  if (g != cached_generation || !cached) {
    std::lock_guard lock(mu_);
    cached = rt_;
    cached_generation = generation_.load(std::memory_order_relaxed);
  }
  return cached;
}

void RuntimeStore::publish(std::shared_ptr<const Runtime> rt) {
  std::lock_guard lock(mu_);
  rt_ = std::move(rt);
  generation_.fetch_add(1, std::memory_order_acq_rel);
}

}  // namespace sy::pipeline
