#pragma once
/// The HTTP front end: N worker threads, each with its own io_context, acceptor (SO_REUSEPORT) and
/// upstream connection pool, so a connection lives on one thread from accept to close (an implicit
/// strand) and nothing on the request path crosses threads. Beast stays behind this header.
#include <cstdint>
#include <functional>
#include <memory>

#include "switchyard/pipeline/dispatcher.hpp"
#include "switchyard/pipeline/runtime.hpp"

namespace sy::server {

struct ServerDeps {
  pipeline::RuntimeStore& store;
  const pipeline::Dispatcher& dispatcher;
  /// Called on SIGHUP (on the signal thread); reloads and publishes a new runtime.
  std::function<void()> on_reload;
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
