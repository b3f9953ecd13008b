#pragma once
/// The HTTP front end: N worker threads, each with its own io_context, acceptor (SO_REUSEPORT) and
/// upstream connection pool, so a connection lives on one thread from accept to close (an implicit
/// strand) and nothing on the request path crosses threads. Beast stays behind this header.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "switchyard/limits/deployment_state.hpp"
#include "switchyard/pipeline/runtime.hpp"

namespace boost::asio {
class thread_pool;
}
namespace sy::telemetry {
class GatewayMetrics;
class RecentDecisions;
class UsageTimeline;
}  // namespace sy::telemetry
namespace sy::limits {
class KeyLedger;
}
namespace sy::state {
class SharedState;
}

namespace sy::server {

/// What the admin API, /metrics and the dashboard read and do; process-wide, owned by main.
struct Operations {
  telemetry::GatewayMetrics* metrics = nullptr;     ///< null: /metrics answers 404
  telemetry::RecentDecisions* decisions = nullptr;  ///< null: nothing kept
  telemetry::UsageTimeline* usage = nullptr;        ///< null: nothing kept
  limits::KeyLedger* keys = nullptr;                ///< spend per key (the runtimes' accounts live here)
  boost::asio::thread_pool* blocking = nullptr;     ///< where POST /admin/reload runs `reload`
  state::SharedState* shared = nullptr;              ///< Redis-shared limits, null when all local
  limits::HealthRegistry* health = nullptr;          ///< deployment states, for /metrics and /admin/deployments
};

struct ServerDeps {
  pipeline::RuntimeStore& store;
  /// Reloads the config and publishes a new runtime; returns the problems found (empty: reloaded).
  /// Blocking: called on SIGHUP (the signal thread) and by POST /admin/reload (on `ops.blocking`).
  std::function<std::vector<std::string>()> reload;
  Operations ops;
};

class Server {
 public:
  /// Binds the listen address from the current config (throws std::runtime_error when it cannot).
  explicit Server(ServerDeps deps);
  ~Server();
  /// The bound port (useful when the config said port 0).
  std::uint16_t port() const;
  /// Serves until SIGTERM/SIGINT, then drains: stops accepting, closes idle connections, lets in-flight
  /// requests and streams finish up to server.drain_timeout. Returns the exit code (0).
  int run();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sy::server
