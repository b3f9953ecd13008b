#include "switchyard/pipeline/outcome.hpp"

namespace sy::pipeline {

namespace net = boost::asio;

void Lease::settle(const Usage* usage) {
  if (done_) return;
  done_ = true;
  std::int64_t actual = usage && usage->known ? usage->prompt_tokens + usage->completion_tokens : -1;
  state_->release(clock_->now(), reserved_, actual, acquired_);
  // The shared window gets what the reservation missed (or back what it over-reserved); without
  // usage the reservation stands, as locally.
  if (shared_tpm_ && actual >= 0) shared_tpm_->settle(actual - shared_tokens_);
}

void ResponseStream::fail(const Error& e) {
  if (!lease_) return;
  lease_->state().on_failure(lease_->clock().now(), e, {}, lease_->reliability());
  lease_->settle(&decoder_->usage());
}

net::awaitable<Result<bool>> ResponseStream::next(std::string& out) {
  const size_t from = out.size();
  if (!pending_.empty()) {
    out.append(pending_);
    pending_.clear();
    filter(out, from);
    co_return true;
  }
  if (ended_) co_return false;
  for (;;) {
    raw_.clear();
    auto more = co_await exchange_->read_some(raw_);
    if (!more) {
      fail(more.error());
      co_return std::move(more).error();
    }
    if (!*more) {
      ended_ = true;
      auto st = decoder_->finish(out);
      if (!st) {
        fail(st.error());
        co_return std::move(st).error();
      }
      if (lease_) lease_->settle(&decoder_->usage());
      filter(out, from);
      co_return out.size() > from;
    }
    auto st = decoder_->feed(raw_, out);
    if (!st) {
      fail(st.error());
      co_return std::move(st).error();
    }
    if (out.size() > from) {
      filter(out, from);
      co_return true;
    }
  }
}

}  // namespace sy::pipeline
