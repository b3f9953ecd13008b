#include "switchyard/telemetry/log.hpp"

#include <spdlog/async.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <mutex>
#include <nlohmann/json.hpp>

#include "telemetry/redacting_sink.hpp"

namespace sy::telemetry {
namespace {

std::mutex g_mu;
std::shared_ptr<spdlog::sinks::sink> g_sink;
std::atomic<bool> g_json{false};
std::atomic<bool> g_access{true};
spdlog::level::level_enum g_level = spdlog::level::info;

// %* : the message as a JSON string (quoted and escaped), for the JSON log format.
class JsonMessageFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
    std::string s = nlohmann::json(std::string(msg.payload.data(), msg.payload.size()))
                        .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    dest.append(s.data(), s.data() + s.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<JsonMessageFlag>(); }
};

void apply_format(spdlog::logger& l) {
  if (!g_json.load()) {
    l.set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ [%n] %v");
    return;
  }
  // The access logger's payload is already a list of JSON members; others are quoted by %*.
  const char* pattern = l.name() == "access" ? R"({"ts":"%Y-%m-%dT%H:%M:%S.%e%z","level":"%l","logger":"%n",%v})"
                                             : R"({"ts":"%Y-%m-%dT%H:%M:%S.%e%z","level":"%l","logger":"%n","msg":%*})";
  auto f = std::make_unique<spdlog::pattern_formatter>();
  f->add_flag<JsonMessageFlag>('*').set_pattern(pattern);
  l.set_formatter(std::move(f));
}

}  // namespace

std::shared_ptr<spdlog::logger> logger(const std::string& module) {
  std::lock_guard lock(g_mu);
  if (auto l = spdlog::get(module)) return l;
  if (!g_sink) {
    // 8Ki queued lines (each slot is preallocated, ~2 MB in all); when full the oldest is dropped
    // rather than blocking an io thread.
    spdlog::init_thread_pool(8192, 1);
    g_sink = std::make_shared<RedactingSink>(std::make_shared<spdlog::sinks::stdout_sink_mt>());
  }
  auto l = std::make_shared<spdlog::async_logger>(module, g_sink, spdlog::thread_pool(),
                                                  spdlog::async_overflow_policy::overrun_oldest);
  l->set_level(g_level);
  apply_format(*l);
  l->flush_on(spdlog::level::warn);
  spdlog::register_logger(l);
  return l;
}

void setup_logging(const config::LoggingConfig& cfg) {
  {
    std::lock_guard lock(g_mu);
    g_json = cfg.format == "json";
    g_access = cfg.access_log;
    g_level = spdlog::level::from_str(cfg.level);
  }
  logger("switchyard");
  spdlog::apply_all([](const std::shared_ptr<spdlog::logger>& l) {
    l->set_level(g_level);
    apply_format(*l);
  });
  spdlog::flush_every(std::chrono::seconds(1));
}

void shutdown_logging() {
  spdlog::apply_all([](const std::shared_ptr<spdlog::logger>& l) { l->flush(); });
  spdlog::shutdown();
}

bool access_log_enabled() { return g_access.load(std::memory_order_relaxed); }

void log_access(const AccessRecord& r) {
  static std::shared_ptr<spdlog::logger> access = logger("access");
  if (!access->should_log(spdlog::level::info)) return;
  if (g_json.load(std::memory_order_relaxed)) {
    nlohmann::json j = {{"request_id", r.request_id},
                        {"method", r.method},
                        {"path", r.path},
                        {"status", r.status},
                        {"model", r.model_requested},
                        {"model_used", r.model_used},
                        {"deployment", r.deployment},
                        {"stream", r.stream},
                        {"latency_ms", r.latency_ms},
                        {"overhead_ms", r.overhead_ms},
                        {"prompt_tokens", r.prompt_tokens},
                        {"completion_tokens", r.completion_tokens},
                        {"cost_usd", r.cost_usd},
                        {"attempts", r.attempts}};
    if (!r.router.empty()) j["router"] = r.router;
    if (!r.error.empty()) j["error"] = r.error;
    if (!r.skipped.empty()) j["skipped"] = r.skipped;
    std::string line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    access->info(std::string_view(line).substr(1, line.size() - 2));
    return;
  }
  access->info("{} {} {} {} model={} used={} deployment={} latency_ms={:.2f} overhead_ms={:.3f} tokens={}/{} cost_usd={:.6f} attempts={}{}{}{}{}{}{}",
               r.request_id, r.method, r.path, r.status, r.model_requested.empty() ? "-" : r.model_requested,
               r.model_used.empty() ? "-" : r.model_used, r.deployment.empty() ? "-" : r.deployment, r.latency_ms,
               r.overhead_ms, r.prompt_tokens, r.completion_tokens, r.cost_usd, r.attempts, r.stream ? " stream" : "",
               r.router.empty() ? "" : " router=", r.router, r.error.empty() ? "" : " error=", r.error,
               r.skipped.empty() ? "" : " skipped=", r.skipped);
}

}  // namespace sy::telemetry
