#include "switchyard/telemetry/decision_log.hpp"

#include <spdlog/async.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/spdlog.h>

#include <map>
#include <mutex>
#include <stdexcept>

#include "switchyard/telemetry/log.hpp"
#include "telemetry/redacting_sink.hpp"

namespace sy::telemetry {

std::shared_ptr<DecisionLog> DecisionLog::open(const std::string& path, bool include_prompt) {
  // Not in spdlog's registry, so log-format changes on reload never touch the decision log's "%v".
  static std::mutex mu;
  static std::map<std::string, std::shared_ptr<spdlog::logger>> open_logs;
  std::lock_guard lock(mu);
  logger("switchyard");  // makes sure the async thread pool exists
  std::string name = "decisions:" + path;
  auto& l = open_logs[path];
  if (!l) {
    try {
      auto sink = std::make_shared<RedactingSink>(std::make_shared<spdlog::sinks::basic_file_sink_mt>(path, false));
      l = std::make_shared<spdlog::async_logger>(name, sink, spdlog::thread_pool(),
                                                 spdlog::async_overflow_policy::overrun_oldest);
      l->set_pattern("%v");
      l->set_level(spdlog::level::info);
      l->flush_on(spdlog::level::info);
    } catch (const spdlog::spdlog_ex& e) {
      throw std::runtime_error("decision_log.path: cannot open " + path + ": " + e.what());
    }
  }
  return std::make_shared<DecisionLog>(l, include_prompt);
}

void DecisionLog::write(std::string_view json) { logger_->info(json); }

}  // namespace sy::telemetry
