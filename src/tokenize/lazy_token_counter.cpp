#include "switchyard/tokenize/lazy_token_counter.hpp"

namespace sy::tokenize {

LazyTokenCounter::LazyTokenCounter(std::filesystem::path dir, std::function<void(const TokenCounter&)> on_loaded)
    : dir_(std::move(dir)), on_loaded_(std::move(on_loaded)) {}

LazyTokenCounter::~LazyTokenCounter() {
  if (loader_.joinable()) loader_.join();
}

void LazyTokenCounter::start() const {
  std::call_once(once_, [this] {
    loader_ = std::thread([this] {
      auto c = TokenCounter::load(dir_);
      counter_.store(c, std::memory_order_release);
      if (on_loaded_) on_loaded_(*c);
    });
  });
}

void LazyTokenCounter::load_now() const {
  start();
  if (loader_.joinable() && loader_.get_id() != std::this_thread::get_id()) loader_.join();
}

ModelTokenCounter LazyTokenCounter::for_model(std::string_view model) const {
  if (auto c = counter_.load(std::memory_order_acquire)) return c->for_model(model);
  start();
  return ModelTokenCounter(CountMethod::estimate, nullptr);
}

}  // namespace sy::tokenize
