// Composition root: parse the command line, then either run an offline tool, check a config, or
// load the config, build the objects and serve. Nothing else lives here.
#include <sys/stat.h>

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <iostream>
#include <mutex>
#include <spdlog/spdlog.h>
#include <string_view>
#include <thread>

#include <boost/asio/thread_pool.hpp>

#include "switchyard/config/config.hpp"
#include "switchyard/core/redact.hpp"
#include "switchyard/limits/key_ledger.hpp"
#include "switchyard/pipeline/dispatcher.hpp"
#include "switchyard/pipeline/runtime.hpp"
#include "switchyard/server/server.hpp"
#include "switchyard/state/shared_state.hpp"
#include "switchyard/telemetry/gateway_metrics.hpp"
#include "switchyard/telemetry/log.hpp"
#include "switchyard/telemetry/recent.hpp"
#include "switchyard/tokenize/lazy_token_counter.hpp"
#include "switchyard/tools/tools.hpp"

namespace {

constexpr const char* kUsage =
    "usage: switchyard --config FILE         serve (SIGHUP, or editing FILE or a model file it names, reloads it)\n"
    "       switchyard --check-config FILE   validate FILE and exit 0 (valid) or 1\n"
    "       switchyard train|calibrate|eval|eval-semantic|train-semantic [--help]\n"
    "       switchyard --version\n";

/// Loads and validates a config into a runtime snapshot; prints every problem to stderr on failure
/// (and hands them to `errors` when given).
std::shared_ptr<const sy::pipeline::Runtime> build_runtime(const std::string& path, sy::pipeline::RuntimeDeps& deps,
                                                           std::uint64_t generation,
                                                           std::vector<std::string>* errors = nullptr) {
  sy::config::Diagnostics d;
  auto rt = sy::pipeline::build_runtime(path, deps, generation, d);
  if (!rt) {
    for (const auto& e : d.errors()) std::cerr << e << "\n";
    if (errors) *errors = d.errors();
  }
  return rt;
}

/// Says at start (and on reload) what is open to anyone who can reach the port.
void warn_if_open(const sy::config::Config& cfg, spdlog::logger& log) {
  if (!cfg.auth.required) {
    log.warn("AUTH IS OFF (auth.required: false): anyone who can reach {}:{} can call the models on your upstream "
             "keys. Set auth.required: true and auth.keys before exposing this port.",
             cfg.server.host, cfg.server.port);
  }
  if (cfg.admin.open) {
    log.warn("THE ADMIN API IS OPEN (admin.open: true): /admin/*, /metrics and the dashboard's data answer without "
             "a key, and anyone who can reach the port can reload the config.");
  } else if (cfg.admin.keys.empty()) {
    log.info("the admin API, /metrics and the dashboard's data are refused: no admin.keys configured");
  }
}

/// What the watcher compares: modification time and size of the config and of every file its routers
/// were built from (Runtime::inputs); a missing file stamps as {0, 0}.
using Stamps = std::vector<std::pair<std::int64_t, std::int64_t>>;
Stamps file_stamps(const std::string& config_path, const std::vector<std::string>& inputs) {
  Stamps out;
  auto stamp = [&](const std::string& p) {
    struct stat st {};
    if (::stat(p.c_str(), &st) != 0) return out.emplace_back(0, 0);
    return out.emplace_back(static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec,
                            static_cast<std::int64_t>(st.st_size));
  };
  stamp(config_path);
  for (const auto& p : inputs) stamp(p);
  return out;
}

int serve(const std::string& path, sy::pipeline::RuntimeDeps& deps) {
  // Process-wide operations state: metrics families, key spend, recent decisions. Runtimes of every
  // generation point into them.
  sy::telemetry::Registry registry;
  sy::telemetry::GatewayMetrics metrics(registry);
  sy::limits::KeyLedger keys;
  boost::asio::thread_pool blocking(1);  // POST /admin/reload builds the runtime here, off the io threads
  deps.metrics = &metrics;
  deps.keys = &keys;

  // Limits shared with other replicas through Redis: from the config at start (a changed state:
  // section takes effect after a restart).
  std::unique_ptr<sy::state::SharedState> shared;
  {
    sy::config::Diagnostics d;
    auto cfg = sy::config::load_config_file(path, d);
    if (cfg && cfg->state.enabled) shared = std::make_unique<sy::state::SharedState>(cfg->state);
  }
  deps.shared = shared.get();
  auto health = deps.dispatch->health;
  if (shared) {
    // Cooldowns learned and breakers opened here reach the other replicas, and theirs reach this one.
    health->set_publisher([s = shared.get()](const sy::state::HealthEvent& e) { s->publish(e); });
    shared->on_health_event([health](const sy::state::HealthEvent& e) {
      // Only deployments this process knows: a name from Redis never creates state here.
      if (auto state = health->find(e.deployment)) state->apply(e, sy::limits::Clock::now());
    });
  }

  auto rt = build_runtime(path, deps, 1);
  if (!rt) return 1;
  // One ring and one timeline per io thread (server.threads takes effect at start only).
  const auto io_threads = static_cast<std::size_t>(std::max(1, rt->config->server.threads));
  sy::telemetry::RecentDecisions decisions(500, io_threads);
  sy::telemetry::UsageTimeline usage(io_threads);
  sy::Redactor::install(std::make_shared<const sy::Redactor>(sy::config::secret_values(*rt->config)));
  sy::telemetry::setup_logging(rt->config->logging);
  auto log = sy::telemetry::logger("switchyard");
  warn_if_open(*rt->config, *log);

  sy::pipeline::RuntimeStore store(rt);
  health->on_config(*rt->config, shared.get());
  if (shared) {
    log->info("limits, budgets, cooldowns and breakers shared through Redis at {}:{} (prefix \"{}\")",
              rt->config->state.redis_host, rt->config->state.redis_port, rt->config->state.prefix);
  }

  std::mutex reload_mu;
  std::atomic<std::uint64_t> generation{1};
  auto reload = [&]() -> std::vector<std::string> {
    std::lock_guard lock(reload_mu);
    std::vector<std::string> errors;
    auto next = build_runtime(path, deps, generation + 1, &errors);
    if (!next) {
      log->error("reload of {} failed; keeping the running config (errors above)", path);
      metrics.config_reloaded(false);
      return errors;
    }
    const auto& old = store.current()->config->server;
    const auto& now = next->config->server;
    if (old.host != now.host || old.port != now.port || old.threads != now.threads) {
      log->warn("server.listen and server.threads changes take effect after a restart");
    }
    sy::Redactor::install(std::make_shared<const sy::Redactor>(sy::config::secret_values(*next->config)));
    sy::telemetry::setup_logging(next->config->logging);
    health->on_config(*next->config, shared.get());  // a changed key brings an auth-failed deployment back
    const auto& was = store.current()->config->state;
    const auto& will = next->config->state;
    if (was.enabled != will.enabled || was.redis_host != will.redis_host || was.redis_port != will.redis_port ||
        was.prefix != will.prefix || was.redis_db != will.redis_db) {
      log->warn("state: (Redis) changes take effect after a restart");
    }
    warn_if_open(*next->config, *log);
    ++generation;
    store.publish(std::move(next));
    metrics.config_reloaded(true);
    log->info("reloaded {} (generation {})", path, generation.load());
    return {};
  };

  int code = 0;
  try {
    sy::server::Server server(sy::server::ServerDeps{
        store, reload, sy::server::Operations{&metrics, &decisions, &usage, &keys, &blocking, shared.get(), health.get()}});
    // Watch the config and the files its routers were built from (a retrained model file): a saved edit
    // reloads like SIGHUP does. A failed reload keeps the running config; the next change tries again.
    std::mutex watch_mu;
    std::condition_variable watch_cv;
    bool stop_watch = false;
    std::thread watcher([&] {
      std::vector<std::string> inputs = store.current()->inputs;
      Stamps seen = file_stamps(path, inputs);
      std::unique_lock lock(watch_mu);
      while (!watch_cv.wait_for(lock, std::chrono::seconds(1), [&] { return stop_watch; })) {
        if (auto rt = store.current(); rt->inputs != inputs) {  // reloaded meanwhile (SIGHUP, admin API)
          inputs = rt->inputs;
          seen = file_stamps(path, inputs);
          continue;
        }
        Stamps now = file_stamps(path, inputs);
        if (now == seen || now.front().first == 0) continue;  // unchanged, or the config is being replaced
        reload();
        seen = std::move(now);  // a change made during the reload shows at the next tick
      }
    });
    code = server.run();
    // What may still post to the workers' io_contexts stops while they exist: Redis waiters, and a
    // POST /admin/reload still running.
    if (shared) shared->shutdown();
    blocking.join();
    {
      std::lock_guard lock(watch_mu);
      stop_watch = true;
    }
    watch_cv.notify_all();
    watcher.join();
  } catch (const std::exception& e) {
    log->critical("{}", e.what());
    code = 1;
  }
  blocking.join();
  sy::telemetry::shutdown_logging();
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << kUsage;
    return 2;
  }
  std::string_view cmd = argv[1];
  if (cmd == "train") return sy::tools::train_main(argc - 1, argv + 1);
  if (cmd == "calibrate") return sy::tools::calibrate_main(argc - 1, argv + 1);
  if (cmd == "eval") return sy::tools::eval_main(argc - 1, argv + 1);
  if (cmd == "eval-semantic") return sy::tools::eval_semantic_main(argc - 1, argv + 1);
  if (cmd == "train-semantic") return sy::tools::train_semantic_main(argc - 1, argv + 1);
  if (cmd == "--version") {
    std::cout << "switchyard 0.1.0\n";
    return 0;
  }
  if (cmd == "--help" || cmd == "-h") {
    std::cout << kUsage;
    return 0;
  }
  if ((cmd == "--check-config" || cmd == "--config") && argc >= 3) {
    std::string path = argv[2];
    // Process-wide resources shared by every runtime snapshot.
    boost::asio::thread_pool cpu_pool(std::max(1u, std::thread::hardware_concurrency() / 2));
    sy::pipeline::RuntimeDeps deps;
    // Rank tables load in the background on first use; counts are estimates until then.
    deps.counter = std::make_shared<sy::tokenize::LazyTokenCounter>(
        sy::tokenize::default_models_dir(), [](const std::string& e) {
          sy::telemetry::logger("switchyard")->warn("token counting falls back to estimates: {}", e);
        });
    deps.cpu_pool = &cpu_pool;
    // Deployment states and the retry budget outlive every runtime; each runtime's dispatcher points
    // into them.
    sy::pipeline::DispatcherDeps dispatch{
        sy::pipeline::Transports{sy::providers::make_http_transport(), sy::providers::make_mock_transport()},
        std::make_shared<sy::limits::HealthRegistry>(), deps.counter, std::make_shared<sy::limits::RetryBudget>()};
    deps.dispatch = &dispatch;
    if (cmd == "--check-config") {
      auto rt = build_runtime(path, deps, 1);
      if (!rt) return 1;
      std::cout << path << ": ok (" << rt->config->providers.size() << " providers, " << rt->config->models.size()
                << " models, " << rt->config->routers.size() << " routers)\n";
      return 0;
    }
    int code = serve(path, deps);
    cpu_pool.join();
    return code;
  }
  std::cerr << kUsage;
  return 2;
}
