#pragma once
// State shared by every worker of one server: counters and flags behind atomics.
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <list>
#include <mutex>
#include <string>
#include <unordered_map>

#include "switchyard/pipeline/dispatcher.hpp"
#include "switchyard/pipeline/runtime.hpp"
#include "switchyard/providers/transport.hpp"
#include "switchyard/server/server.hpp"

namespace sy::server {

class Session;

/// What every io thread of one server shares: the runtime store, the operations state, counters and
/// flags behind atomics.
struct ServerState {
  ServerState(pipeline::RuntimeStore& s, Operations o, std::function<std::vector<std::string>()> r)
      : store(s), ops(o), reload(std::move(r)) {}
  pipeline::RuntimeStore& store;
  const Operations ops;
  const std::function<std::vector<std::string>()> reload;
  std::atomic<int> connections{0};  ///< open client connections
  std::atomic<int> in_flight{0};    ///< requests being handled (including streams)
  std::atomic<bool> draining{false};

  /// Open connections per client address, for server.max_connections_per_client. Touched once per
  /// connection (accept and close), never per request.
  std::mutex clients_mu;
  std::unordered_map<std::string, int> per_client;
  int client_connections(const std::string& client) {
    std::lock_guard lock(clients_mu);
    auto it = per_client.find(client);
    return it == per_client.end() ? 0 : it->second;
  }
};

/// One io thread of the server: its io_context, upstream connection pool and live sessions. Only that
/// thread touches `sessions` and `pool`.
struct IoThread {
  boost::asio::io_context ioc{1};
  providers::HttpPoolPtr pool = providers::make_http_pool();
  providers::WorkerContext ctx;
  std::list<Session*> sessions;  ///< live sessions, for closing idle ones on drain
  int index = 0;

  /// Client connections are watched for a hang-up only once their request has been in flight for a
  /// tick or two (Session::watch_client): most requests end before that, and a watch costs a system
  /// call and a cancellation. One timer per io thread ticks while some request waits for its watch.
  static constexpr std::chrono::milliseconds kWatchTick{50};
  boost::asio::steady_timer watch_timer{ioc};
  std::uint64_t watch_tick = 0;  ///< ticks so far; a request asks in one tick and is watched from the next
  bool watch_timer_armed = false;
};

}  // namespace sy::server
