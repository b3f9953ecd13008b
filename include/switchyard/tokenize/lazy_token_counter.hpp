#pragma once
/// Token counting whose rank tables (18 MB) load in the background on first use.
///
/// Until they are loaded (about 100 ms after the first request that counts tokens), counts are the
/// rank-free estimate (~4.5 % mean error, see README); afterwards they are exact. An idle gateway thus
/// never pays the memory, and no io thread ever waits for a file. Thread-safe.
#include <atomic>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "switchyard/tokenize/token_counter.hpp"

namespace sy::tokenize {

class LazyTokenCounter {
 public:
  /// `on_loaded` runs on the loader thread once the tables are in (e.g. to log load errors).
  explicit LazyTokenCounter(std::filesystem::path dir = default_models_dir(),
                            std::function<void(const TokenCounter&)> on_loaded = {});
  ~LazyTokenCounter();
  LazyTokenCounter(const LazyTokenCounter&) = delete;
  LazyTokenCounter& operator=(const LazyTokenCounter&) = delete;

  /// The model's counter: exact once loaded, the estimate before (starting the load).
  ModelTokenCounter for_model(std::string_view model) const;
  /// The loaded counter, or null while loading or before the first use.
  std::shared_ptr<const TokenCounter> loaded() const { return counter_.load(std::memory_order_acquire); }
  /// Loads now, on the calling thread (tools and tests).
  void load_now() const;

 private:
  void start() const;
  std::filesystem::path dir_;
  std::function<void(const TokenCounter&)> on_loaded_;
  mutable std::atomic<std::shared_ptr<const TokenCounter>> counter_;
  mutable std::once_flag once_;
  mutable std::thread loader_;
};

}  // namespace sy::tokenize
