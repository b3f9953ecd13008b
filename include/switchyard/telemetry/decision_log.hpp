#pragma once
/// The decision log: one JSON object per line for every routed request (router, stage, scores, chosen
/// model, tokens, cost, latencies; a hash of the prompt unless prompts are explicitly enabled). Written
/// by a background thread so io threads never block on the file. The offline tools read it
/// (`switchyard calibrate --log`). Thread-safe.
#include <memory>
#include <string>
#include <string_view>

namespace spdlog {
class logger;
}

namespace sy::telemetry {

class DecisionLog {
 public:
  /// Opens (appends to) `path`; the same path returns the same log. Throws std::runtime_error when
  /// the file cannot be opened.
  static std::shared_ptr<DecisionLog> open(const std::string& path, bool include_prompt);
  bool include_prompt() const { return include_prompt_; }
  /// Appends one line (`json` must be one JSON object without newlines).
  void write(std::string_view json);

  DecisionLog(std::shared_ptr<spdlog::logger> logger, bool include_prompt)
      : logger_(std::move(logger)), include_prompt_(include_prompt) {}

 private:
  std::shared_ptr<spdlog::logger> logger_;
  bool include_prompt_;
};

}  // namespace sy::telemetry
