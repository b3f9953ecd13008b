#pragma once
/// Logging: one named spdlog logger per module, written asynchronously (formatting on the caller,
/// I/O on a background thread) so io threads never block on a terminal or a pipe. Never logs secrets;
/// prompts only when a module is explicitly told to.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "switchyard/config/config.hpp"

namespace spdlog {
class logger;
}

namespace sy::telemetry {

/// Installs the loggers from config (level, text/json). Safe to call again on reload (level/format).
void setup_logging(const config::LoggingConfig& cfg);
/// Flushes and stops the background logging thread (call last, from main).
void shutdown_logging();
/// The logger of a module ("server", "pipeline", "providers", "config", "access", ...), created on first use.
std::shared_ptr<spdlog::logger> logger(const std::string& module);

/// One line per request.
struct AccessRecord {
  std::string_view request_id;
  std::string_view method;
  std::string_view path;
  std::string_view model_requested;
  std::string_view model_used;
  std::string_view deployment;
  std::string_view router;
  int status = 0;
  bool stream = false;
  double latency_ms = 0;
  double overhead_ms = 0;
  std::int64_t prompt_tokens = 0;
  std::int64_t completion_tokens = 0;
  double cost_usd = 0;
  int attempts = 0;
  std::string_view error;
  std::string_view skipped;
};
void log_access(const AccessRecord& r);
bool access_log_enabled();

}  // namespace sy::telemetry
