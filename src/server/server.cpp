#include "switchyard/server/server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <spdlog/spdlog.h>
#include <stdexcept>
#include <thread>

#include "net/io.hpp"
#include "server/session.hpp"
#include "switchyard/telemetry/log.hpp"

namespace sy::server {

namespace {
using net_io::kTuple;

// Completion handler for co_spawn: a coroutine that escapes with an exception is a bug; say so.
struct LogFailure {
  const char* what;
  void operator()(std::exception_ptr e) const {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      telemetry::logger("server")->error("{} failed: {}", what, ex.what());
    }
  }
};

const std::string& too_many_connections() {
  static const std::string response = [] {
    std::string body = to_openai_json(Error::make(ErrorKind::overloaded, "Too many open connections; retry shortly."));
    return "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nConnection: close\r\n"
           "Retry-After: 1\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  }();
  return response;
}
}  // namespace

struct Server::Impl {
  ServerDeps deps;
  ServerState shared;
  std::vector<std::unique_ptr<IoThread>> workers;
  std::vector<std::unique_ptr<net::ip::tcp::acceptor>> acceptors;  // acceptors[i] lives on workers[i]
  std::uint16_t port = 0;
  std::shared_ptr<spdlog::logger> log = telemetry::logger("server");

  explicit Impl(ServerDeps d) : deps(std::move(d)), shared{deps.store, deps.ops, deps.reload} {
    auto rt = deps.store.current();
    const auto& sc = rt->config->server;
    int n = std::max(1, sc.threads);
    boost::system::error_code ec;
    auto addr = net::ip::make_address(sc.host, ec);
    if (ec) throw std::runtime_error("server.listen: \"" + sc.host + "\" is not an IP address");
    net::ip::tcp::endpoint ep(addr, sc.port);
    for (int i = 0; i < n; ++i) {
      auto w = std::make_unique<IoThread>();
      w->index = i;
      w->ctx.pool = w->pool.get();
      w->ctx.index = i;
      auto acc = std::make_unique<net::ip::tcp::acceptor>(w->ioc);
      acc->open(ep.protocol());
      acc->set_option(net::socket_base::reuse_address(true));
      // Every worker accepts on the same port; the kernel spreads connections between them.
      int one = 1;
      ::setsockopt(acc->native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
      acc->bind(ep, ec);
      if (ec) throw std::runtime_error("cannot listen on " + sc.host + ":" + std::to_string(ep.port()) + ": " + ec.message());
      acc->listen(net::socket_base::max_listen_connections);
      if (i == 0) {
        port = acc->local_endpoint().port();
        ep.port(port);  // port 0: the others join the port the kernel chose
      }
      acceptors.push_back(std::move(acc));
      workers.push_back(std::move(w));
    }
  }

  net::awaitable<void> accept_loop(IoThread& w, net::ip::tcp::acceptor& acc) {
    for (;;) {
      auto [ec, sock] = co_await acc.async_accept(kTuple);
      if (ec) {
        if (ec == net::error::operation_aborted || !acc.is_open()) co_return;
        // EMFILE and friends: back off briefly instead of spinning.
        log->warn("accept failed: {}", ec.message());
        net::steady_timer t(w.ioc, std::chrono::milliseconds(50));
        co_await t.async_wait(kTuple);
        continue;
      }
      auto rt = shared.store.current();
      const auto& sc = rt->config->server;
      boost::system::error_code aec;
      auto remote = sock.remote_endpoint(aec);
      std::string client = aec ? std::string("?") : remote.address().to_string();
      // Over a cap, idle keep-alive connections make room first (the oldest of this worker; of this
      // client for the per-client cap); only when none is idle is the newcomer refused.
      if (shared.client_connections(client) >= sc.max_connections_per_client && !shed_idle(w, &client)) {
        net::co_spawn(w.ioc, reject(std::move(sock)), LogFailure{"reject"});
        continue;
      }
      if (shared.connections.load(std::memory_order_relaxed) >= sc.max_connections && !shed_idle(w, nullptr)) {
        net::co_spawn(w.ioc, reject(std::move(sock)), LogFailure{"reject"});
        continue;
      }
      // The session's coroutine listens to a cancellation signal of its own: emitted when its client
      // hangs up during a request, it cancels whatever the request is waiting for (Session::watch_client).
      auto cancel = std::make_shared<net::cancellation_signal>();
      auto slot = cancel->slot();
      net::co_spawn(w.ioc, serve(std::move(sock), w, std::move(client), std::move(cancel)),
                    net::bind_cancellation_slot(slot, LogFailure{"session"}));
    }
  }

  static net::awaitable<void> reject(net::ip::tcp::socket sock) {
    const std::string& r = too_many_connections();
    co_await net::async_write(sock, net::buffer(r.data(), r.size()), kTuple);
    boost::system::error_code ec;
    sock.shutdown(net::ip::tcp::socket::shutdown_both, ec);
  }

  net::awaitable<void> serve(net::ip::tcp::socket sock, IoThread& w, std::string client,
                             std::shared_ptr<net::cancellation_signal> cancel) {
    Session session(std::move(sock), shared, w, std::move(client), std::move(cancel));
    co_await session.run();
  }

  /// Closes this worker's oldest idle connection (of `client`, when given). False when none is idle.
  static bool shed_idle(IoThread& w, const std::string* client) {
    for (Session* s : w.sessions) {
      if (s->idle() && (!client || s->client() == *client) && s->close_if_idle()) return true;
    }
    return false;
  }

  int run() {
    log->info("listening on {}:{} with {} worker thread(s)", deps.store.current()->config->server.host, port,
              workers.size());
    std::vector<std::thread> threads;
    std::vector<net::executor_work_guard<net::io_context::executor_type>> guards;
    for (size_t i = 0; i < workers.size(); ++i) {
      auto& w = *workers[i];
      guards.emplace_back(w.ioc.get_executor());
      net::co_spawn(w.ioc, accept_loop(w, *acceptors[i]), LogFailure{"accept loop"});
      threads.emplace_back([&w] { w.ioc.run(); });
    }

    // The main thread handles signals and the drain.
    net::io_context main_ioc{1};
    net::signal_set stop_signals(main_ioc, SIGTERM, SIGINT);
    net::signal_set hup(main_ioc, SIGHUP);
    std::function<void()> arm_hup = [&] {
      hup.async_wait([&](const boost::system::error_code& ec, int) {
        if (ec) return;
        if (deps.reload) deps.reload();
        arm_hup();
      });
    };
    arm_hup();
    net::steady_timer drain_timer(main_ioc);
    net::steady_timer poll(main_ioc);
    std::function<void()> check_drained;  // outlives the signal handler that starts it
    stop_signals.async_wait([&](const boost::system::error_code& ec, int sig) {
      if (ec) return;
      hup.cancel();
      auto drain = deps.store.current()->config->server.drain_timeout;
      log->info("signal {}: draining (up to {} ms, {} request(s) in flight)", sig, drain.count(),
                shared.in_flight.load());
      shared.draining = true;
      for (size_t i = 0; i < workers.size(); ++i) {
        auto* w = workers[i].get();
        auto* acc = acceptors[i].get();
        net::post(w->ioc, [w, acc] {
          boost::system::error_code ignored;
          acc->close(ignored);
          for (auto* s : w->sessions) s->close_if_idle();
        });
      }
      guards.clear();
      drain_timer.expires_after(drain);
      drain_timer.async_wait([&](const boost::system::error_code& tec) {
        if (tec) return;
        log->warn("drain timeout: {} request(s) still in flight are cut off", shared.in_flight.load());
        for (auto& w : workers) w->ioc.stop();
        poll.cancel();
      });
      // Poll until every worker ran out of work (all connections closed).
      check_drained = [&] {
        bool all_done = true;
        for (auto& w : workers) all_done = all_done && w->ioc.stopped();
        if (all_done || shared.connections.load() == 0) {
          drain_timer.cancel();
          for (auto& w : workers) w->ioc.stop();
          return;
        }
        poll.expires_after(std::chrono::milliseconds(20));
        poll.async_wait([&](const boost::system::error_code& pec) {
          if (!pec) check_drained();
        });
      };
      check_drained();
    });
    main_ioc.run();
    for (auto& t : threads) t.join();
    log->info("stopped");
    return 0;
  }
};

Server::Server(ServerDeps deps) : impl_(std::make_unique<Impl>(std::move(deps))) {}
Server::~Server() = default;
std::uint16_t Server::port() const { return impl_->port; }
int Server::run() { return impl_->run(); }

}  // namespace sy::server
