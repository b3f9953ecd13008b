#pragma once
/// Token counting whose rank tables load in the background, each on the first request that needs it.
///
/// Until an encoding is loaded (about 30-100 ms after the first request that counts with it), counts
/// are the rank-free estimate (~4.5 % mean error, see README); afterwards they are exact. An idle
/// gateway never pays the memory (o200k ~12 MB, cl100k ~6 MB), a gateway serving only non-OpenAI
/// models loads only cl100k (their proxy), and no io thread ever waits for a file. Thread-safe.
#include <array>
#include <atomic>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "switchyard/tokenize/token_counter.hpp"

namespace sy::tokenize {

class LazyTokenCounter {
 public:
  /// `on_error` runs on a loader thread when an encoding cannot be loaded (e.g. to log it).
  explicit LazyTokenCounter(std::filesystem::path dir = default_models_dir(),
                            std::function<void(const std::string&)> on_error = {});
  ~LazyTokenCounter();
  LazyTokenCounter(const LazyTokenCounter&) = delete;
  LazyTokenCounter& operator=(const LazyTokenCounter&) = delete;

  /// The model's counter: exact once its encoding is loaded, the estimate before (starting the load).
  ModelTokenCounter for_model(std::string_view model) const;
  /// Loads every encoding now, on the calling thread (tools and tests).
  void load_now() const;

 private:
  struct Slot {
    std::atomic<std::shared_ptr<const Tokenizer>> tokenizer;
    std::atomic<bool> failed{false};
    std::once_flag once;
    std::thread loader;
  };
  void start(Encoding e, bool wait) const;
  std::filesystem::path dir_;
  std::function<void(const std::string&)> on_error_;
  mutable std::array<Slot, 2> slots_;  // indexed by Encoding
};

}  // namespace sy::tokenize
