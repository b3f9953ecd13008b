#include "switchyard/tokenize/lazy_token_counter.hpp"

namespace sy::tokenize {

LazyTokenCounter::LazyTokenCounter(std::filesystem::path dir, std::function<void(const std::string&)> on_error)
    : dir_(std::move(dir)), on_error_(std::move(on_error)) {}

LazyTokenCounter::~LazyTokenCounter() {
  for (auto& s : slots_) {
    if (s.loader.joinable()) s.loader.join();
  }
}

void LazyTokenCounter::start(Encoding e, bool wait) const {
  Slot& s = slots_[static_cast<size_t>(e)];
  std::call_once(s.once, [this, e, &s] {
    s.loader = std::thread([this, e, &s] {
      auto t = Tokenizer::load(e, dir_);
      if (t) {
        s.tokenizer.store(*t, std::memory_order_release);
      } else {
        s.failed = true;
        if (on_error_) on_error_(t.error().message);
      }
    });
  });
  if (wait && s.loader.joinable() && s.loader.get_id() != std::this_thread::get_id()) s.loader.join();
}

void LazyTokenCounter::load_now() const {
  start(Encoding::o200k_base, true);
  start(Encoding::cl100k_base, true);
}

ModelTokenCounter LazyTokenCounter::for_model(std::string_view model) const {
  std::optional<Encoding> enc = encoding_for_model(model);
  // Other families are counted with cl100k as a proxy (see README for the measured error).
  Encoding e = enc.value_or(Encoding::cl100k_base);
  CountMethod method = !enc ? CountMethod::cl100k_proxy
                            : (e == Encoding::o200k_base ? CountMethod::o200k_base : CountMethod::cl100k_base);
  const Slot& s = slots_[static_cast<size_t>(e)];
  if (auto t = s.tokenizer.load(std::memory_order_acquire)) return ModelTokenCounter(method, std::move(t));
  if (!s.failed.load(std::memory_order_relaxed)) start(e, false);
  return ModelTokenCounter(CountMethod::estimate, nullptr);
}

}  // namespace sy::tokenize
