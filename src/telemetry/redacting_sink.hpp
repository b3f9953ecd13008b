#pragma once
// A spdlog sink that scrubs secrets from every message before the sink it wraps formats and writes it
// (see switchyard/core/redact.hpp). Every logger of the process writes through one: module logs, the
// access log and the decision log. Runs on spdlog's background thread, never on an io thread.
#include <spdlog/details/log_msg.h>
#include <spdlog/sinks/sink.h>

#include <memory>
#include <string>

#include "switchyard/core/redact.hpp"

namespace sy::telemetry {

class RedactingSink final : public spdlog::sinks::sink {
 public:
  explicit RedactingSink(std::shared_ptr<spdlog::sinks::sink> inner) : inner_(std::move(inner)) {}

  void log(const spdlog::details::log_msg& msg) override {
    std::string_view payload(msg.payload.data(), msg.payload.size());
    auto redactor = Redactor::current();
    if (!redactor->matches(payload)) {
      inner_->log(msg);
      return;
    }
    std::string clean = redactor->apply(payload);
    spdlog::details::log_msg scrubbed = msg;
    scrubbed.payload = spdlog::string_view_t(clean.data(), clean.size());
    inner_->log(scrubbed);
  }
  void flush() override { inner_->flush(); }
  void set_pattern(const std::string& pattern) override { inner_->set_pattern(pattern); }
  void set_formatter(std::unique_ptr<spdlog::formatter> f) override { inner_->set_formatter(std::move(f)); }

 private:
  std::shared_ptr<spdlog::sinks::sink> inner_;
};

}  // namespace sy::telemetry
