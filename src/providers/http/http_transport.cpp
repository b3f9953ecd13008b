// HTTP(S) transport: Beast over Asio with OpenSSL. A keep-alive pool per worker thread (no locks:
// each worker only touches its own), SNI plus certificate and hostname verification by default,
// and a timeout on every step: connect, TLS handshake, write, first byte, idle between reads, total.
#include <sys/socket.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/container/small_vector.hpp>
#include <array>
#include <cerrno>
#include <charconv>
#include <optional>
#include <span>
#include <unordered_map>

#include "net/io.hpp"
#include "net/watchdog.hpp"
#include "providers/http/response_reader.hpp"
#include "switchyard/providers/transport.hpp"

namespace sy::providers {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {
using net_io::kTuple;
using Armed = net_io::Watchdog::Armed;
// An idle pooled connection older than this is dropped rather than reused: most servers close idle
// keep-alive connections after 60-75 s, and a write into a half-closed socket costs a retry.
constexpr auto kMaxPooledIdle = std::chrono::seconds(30);
constexpr std::size_t kReadBuffer = 16 * 1024;
constexpr std::uint32_t kMaxResponseHeader = 64 * 1024;
constexpr auto kDnsCacheTtl = std::chrono::seconds(60);
}  // namespace

/// One upstream connection, plain or TLS.
struct Connection {
  std::string key;
  std::optional<tcp::socket> plain;
  std::optional<beast::ssl_stream<tcp::socket>> tls;
  /// Bounds each step (connect, handshake, write, first byte, idle between reads) of the lowest socket.
  std::optional<net_io::Watchdog> watchdog;
  beast::flat_buffer buffer;
  Clock::time_point idle_since{};
  bool reused = false;

  tcp::socket& lowest() { return tls ? beast::get_lowest_layer(*tls) : *plain; }
  /// True when the idle connection cannot be reused: the peer closed it, or sent unsolicited bytes.
  bool looks_dead() {
    int fd = lowest().native_handle();
    char c;
    ssize_t n = ::recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n >= 0) return true;
    return !(errno == EAGAIN || errno == EWOULDBLOCK);
  }
};

/// Per-worker keep-alive pool and DNS cache. Not thread-safe: used only from its worker's io_context.
class HttpPool {
 public:
  std::unique_ptr<Connection> take(const std::string& key) {
    auto it = idle_.find(key);
    if (it == idle_.end()) return nullptr;
    auto& v = it->second;
    auto now = Clock::now();
    while (!v.empty()) {
      auto c = std::move(v.back());
      v.pop_back();
      // A connection back in the pool for under a second is almost never closed by the server yet;
      // skipping the liveness peek saves a syscall per request (a stale one is retried anyway).
      bool recent = now - c->idle_since < std::chrono::seconds(1);
      if (now - c->idle_since < kMaxPooledIdle && (recent || !c->looks_dead())) {
        c->reused = true;
        return c;
      }
    }
    return nullptr;
  }
  void give(std::unique_ptr<Connection> c, int max_idle) {
    auto& v = idle_[c->key];
    if (static_cast<int>(v.size()) >= max_idle) return;  // dropping it closes the socket
    c->idle_since = Clock::now();
    v.push_back(std::move(c));
  }

  struct DnsEntry {
    tcp::resolver::results_type results;
    Clock::time_point expires;
  };
  std::unordered_map<std::string, DnsEntry> dns;

 private:
  std::unordered_map<std::string, std::vector<std::unique_ptr<Connection>>> idle_;
};

void HttpPoolDeleter::operator()(HttpPool* pool) const { delete pool; }
HttpPoolPtr make_http_pool() { return HttpPoolPtr(new HttpPool()); }

namespace {

Error net_error(ErrorKind kind, std::string_view what, const config::ProviderConfig& p, const beast::error_code& ec) {
  return Error::make(kind, std::string(what) + " " + p.name + " (" + p.url.host + ":" + std::to_string(p.url.port) +
                               "): " + ec.message());
}

ErrorKind kind_of(const beast::error_code& ec) {
  if (ec == net::error::operation_aborted) return ErrorKind::cancelled;  // our client left
  return ec == beast::error::timeout ? ErrorKind::timeout : ErrorKind::connection;
}

void append_number(std::string& out, std::uint64_t n) {
  char digits[20];
  out.append(digits, std::to_chars(digits, digits + sizeof digits, n).ptr);
}

/// When one step (connect, first byte, an idle gap) must end: `step` from now, or the exchange's
/// `deadline` if that comes first, but never less than 1 ms away.
Clock::time_point step_deadline(Clock::time_point deadline, std::chrono::milliseconds step) {
  const auto now = Clock::now();
  return std::max(std::min(deadline, now + step), now + std::chrono::milliseconds(1));
}

class HttpExchange final : public Exchange {
 public:
  HttpExchange(HttpPool* pool, std::unique_ptr<Connection> conn, const config::ProviderConfig& provider,
               Clock::time_point deadline)
      : pool_(pool), conn_(std::move(conn)), provider_name_(provider.name), idle_(provider.idle_timeout),
        max_idle_(provider.max_idle_connections), deadline_(deadline) {
    parser_.body_limit(boost::none);
    parser_.header_limit(kMaxResponseHeader);
    head_.headers.reserve(16);
  }

  const ResponseHead& head() const override { return head_; }

  /// Writes the request (head and body, one gather write) and reads the response head. `stale` is
  /// set when the connection was reused and failed before any response byte arrived (the caller may
  /// retry on a new connection).
  net::awaitable<Status> begin(const std::string& head, const Payload& body, const config::ProviderConfig& p,
                               bool& stale) {
    stale = false;
    {  // armed for the write and the head only: finish_body below may destroy the connection and its watchdog
      auto& watchdog = *conn_->watchdog;
      Armed armed(watchdog, step_deadline(deadline_, p.first_byte_timeout));
      beast::error_code ec;
      // The body's pieces as they are (the client's bytes around a replaced model), not copied together.
      boost::container::small_vector<net::const_buffer, 8> bufs;
      bufs.emplace_back(net::buffer(head));
      for (std::size_t i = 0; i < body.piece_count(); ++i) bufs.emplace_back(net::buffer(body.piece(i)));
      std::span<const net::const_buffer> seq(bufs.data(), bufs.size());
      if (conn_->tls) std::tie(ec, std::ignore) = co_await net::async_write(*conn_->tls, seq, net_io::whole_writes, kTuple);
      else std::tie(ec, std::ignore) = co_await net::async_write(*conn_->plain, seq, net_io::whole_writes, kTuple);
      ec = watchdog.why(ec);
      if (ec) {
        stale = conn_->reused && ec != beast::error::timeout;
        co_return net_error(kind_of(ec), "sending to", p, ec);
      }
      if (conn_->tls) std::tie(ec, std::ignore) = co_await http::async_read_header(*conn_->tls, conn_->buffer, parser_, kTuple);
      else std::tie(ec, std::ignore) = co_await http::async_read_header(*conn_->plain, conn_->buffer, parser_, kTuple);
      ec = watchdog.why(ec);
      if (ec) {
        bool nothing_read = conn_->buffer.size() == 0;
        stale = conn_->reused && nothing_read &&
                (ec == http::error::end_of_stream || ec == net::error::eof || ec == net::error::connection_reset ||
                 ec == net::error::broken_pipe);
        if (ec == beast::error::timeout) co_return net_error(ErrorKind::timeout, "no response head from", p, ec);
        co_return net_error(kind_of(ec), "reading the response head from", p, ec);
      }
    }
    if (parser_.is_done()) finish_body();
    co_return ok_status();
  }

  net::awaitable<Result<bool>> read_some(std::string& out) override {
    // Parses buffered bytes, then reads, until body bytes were appended to `out` or the body ended.
    const std::size_t before = out.size();
    for (;;) {
      if (!conn_ || parser_.is_done()) {
        finish_body();
        co_return out.size() > before;
      }
      beast::error_code ec = parse_buffered(out);
      if (!ec && out.size() == before && !parser_.is_done()) {
        Armed armed(*conn_->watchdog, step_deadline(deadline_, idle_));
        parser_.sink(&out);
        if (conn_->tls) std::tie(ec, std::ignore) = co_await http::async_read_some(*conn_->tls, conn_->buffer, parser_, kTuple);
        else std::tie(ec, std::ignore) = co_await http::async_read_some(*conn_->plain, conn_->buffer, parser_, kTuple);
        parser_.sink(nullptr);
        ec = conn_->watchdog->why(ec);
      }
      if (ec) co_return body_error(ec);
      if (parser_.is_done()) finish_body();
      if (out.size() > before) co_return true;
    }
  }

  Result<bool> take_buffered(std::string& out) override {
    if (conn_) {
      if (auto ec = parse_buffered(out)) return body_error(ec);
    }
    if (conn_ && !parser_.is_done()) return false;
    finish_body();
    return true;
  }

 private:
  /// Feeds the bytes the connection has buffered to the parser, the body's onto `out`, until they run
  /// out or the message ends: without an async read and the scheduler round trip completing one costs.
  beast::error_code parse_buffered(std::string& out) {
    beast::error_code ec;
    parser_.sink(&out);
    while (conn_->buffer.size() > 0 && !parser_.is_done()) {
      const std::size_t taken = parser_.put(conn_->buffer.data(), ec);
      conn_->buffer.consume(taken);
      if (ec == http::error::need_more) ec = {};
      if (ec || taken == 0) break;
    }
    parser_.sink(nullptr);
    return ec;
  }

  /// The error a failed body read ends the exchange with; the connection is not reused.
  Error body_error(const beast::error_code& ec) {
    conn_.reset();  // never reuse a connection in an unknown state
    if (ec == beast::error::timeout) {
      return Error::make(ErrorKind::timeout, "upstream " + provider_name_ + " stalled (idle or total timeout)");
    }
    if (ec == net::error::operation_aborted) {
      return Error::make(ErrorKind::cancelled, "the client left; the read from " + provider_name_ + " was abandoned");
    }
    return Error::make(ErrorKind::connection, "reading the body from " + provider_name_ + ": " + ec.message());
  }

  void finish_body() {
    if (conn_ && parser_.is_done() && parser_.keep_alive()) {
      pool_->give(std::move(conn_), max_idle_);
    }
    conn_.reset();
  }

  HttpPool* pool_;
  std::unique_ptr<Connection> conn_;
  std::string provider_name_;
  std::chrono::milliseconds idle_;
  int max_idle_;
  Clock::time_point deadline_;
  ResponseHead head_;
  ResponseReader parser_{head_};
};

class HttpTransport final : public Transport {
 public:
  HttpTransport() : verify_ctx_(ssl::context::tls_client), noverify_ctx_(ssl::context::tls_client) {
    verify_ctx_.set_default_verify_paths();
    verify_ctx_.set_verify_mode(ssl::verify_peer);
    noverify_ctx_.set_verify_mode(ssl::verify_none);
    for (auto* ctx : {&verify_ctx_, &noverify_ctx_}) {
      ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                       ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    }
  }

  net::awaitable<Result<std::unique_ptr<Exchange>>> start(WorkerContext& ctx, const config::ProviderConfig& p,
                                                          UpstreamRequest request,
                                                          Clock::time_point deadline) override {
    auto started = Clock::now();
    // The head is rendered once as one string (no per-field allocations, no serializer).
    std::string head;
    head.reserve(160 + request.target.size() + 64 * request.headers.size());
    bool default_port = p.url.port == (p.url.tls ? 443 : 80);
    head.append(request.method).append(" ").append(request.target).append(" HTTP/1.1\r\nHost: ").append(p.url.host);
    if (!default_port) {
      head.push_back(':');
      append_number(head, p.url.port);
    }
    head.append("\r\nUser-Agent: switchyard\r\n");
    for (const auto& h : request.headers) {
      // Header values come from config and wire formats; a CR or LF would split the request.
      if (h.value.find_first_of("\r\n") != std::string::npos || h.name.find_first_of("\r\n: ") != std::string::npos) {
        co_return Error::make(ErrorKind::internal, "refusing to send header \"" + h.name + "\" with a line break");
      }
      head.append(h.name).append(": ").append(h.value).append("\r\n");
    }
    head.append("Content-Length: ");
    append_number(head, request.body.size());
    head.append("\r\n\r\n");

    // The pool's key: scheme (and whether TLS is verified), host and port, in one allocation.
    std::string key;
    key.reserve(24 + p.url.host.size());
    key.append(p.url.tls ? (p.verify_tls ? "https://" : "https-noverify://") : "http://").append(p.url.host).push_back(':');
    append_number(key, p.url.port);
    // At most one retry, and only when a pooled connection turned out to be closed by the server
    // before it answered: the request never reached it.
    for (int attempt = 0; attempt < 2; ++attempt) {
      std::unique_ptr<Connection> conn = ctx.pool->take(key);
      if (!conn) {
        auto fresh = co_await connect(ctx, p, key, deadline);
        if (!fresh) co_return std::move(fresh).error();
        conn = std::move(*fresh);
      }
      auto ex = std::make_unique<HttpExchange>(ctx.pool, std::move(conn), p, deadline);
      bool stale = false;
      auto st = co_await ex->begin(head, request.body, p, stale);
      if (st) {
        ex->time_to_head = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - started);
        co_return std::unique_ptr<Exchange>(std::move(ex));
      }
      if (!stale) co_return std::move(st).error();
    }
    co_return Error::make(ErrorKind::connection, "upstream " + p.name + " closed the connection");
  }

 private:
  net::awaitable<Result<tcp::resolver::results_type>> resolve(WorkerContext& ctx, const config::ProviderConfig& p) {
    std::string dns_key = p.url.host + ":" + std::to_string(p.url.port);
    auto now = Clock::now();
    if (auto it = ctx.pool->dns.find(dns_key); it != ctx.pool->dns.end() && it->second.expires > now) {
      co_return it->second.results;
    }
    tcp::resolver resolver(co_await net::this_coro::executor);
    auto [ec, results] = co_await resolver.async_resolve(p.url.host, std::to_string(p.url.port), kTuple);
    if (ec) co_return net_error(kind_of(ec), "resolving", p, ec);
    ctx.pool->dns[dns_key] = {results, now + kDnsCacheTtl};
    co_return results;
  }

  net::awaitable<Result<std::unique_ptr<Connection>>> connect(WorkerContext& ctx, const config::ProviderConfig& p,
                                                              const std::string& key, Clock::time_point deadline) {
    auto results = co_await resolve(ctx, p);
    if (!results) co_return std::move(results).error();
    auto conn = std::make_unique<Connection>();
    conn->key = key;
    conn->buffer.reserve(kReadBuffer);  // a typical response head and body arrive in one read
    auto& socket = conn->plain.emplace(co_await net::this_coro::executor);
    auto& watchdog = conn->watchdog.emplace(socket);
    {
      Armed armed(watchdog, step_deadline(deadline, p.connect_timeout));
      auto [ec, ep] = co_await net::async_connect(socket, *results, kTuple);
      ec = watchdog.why(ec);
      if (ec) co_return net_error(kind_of(ec), "connecting to", p, ec);
    }
    socket.set_option(tcp::no_delay(true));
    if (!p.url.tls) co_return conn;
    conn->tls.emplace(std::move(socket), p.verify_tls ? verify_ctx_ : noverify_ctx_);
    conn->plain.reset();
    auto& tls_watchdog = conn->watchdog.emplace(conn->lowest());
    auto& tls = *conn->tls;
    // SNI, then certificate chain and hostname checks (unless the provider opted out).
    if (!SSL_set_tlsext_host_name(tls.native_handle(), p.url.host.c_str())) {
      co_return Error::make(ErrorKind::connection, "TLS: cannot set SNI for " + p.url.host);
    }
    if (p.verify_tls) {
      tls.set_verify_mode(ssl::verify_peer);
      tls.set_verify_callback(ssl::host_name_verification(p.url.host));
    }
    Armed armed(tls_watchdog, step_deadline(deadline, p.connect_timeout));
    auto [hec] = co_await tls.async_handshake(ssl::stream_base::client, kTuple);
    hec = tls_watchdog.why(hec);
    if (hec) co_return net_error(kind_of(hec), "TLS handshake with", p, hec);
    co_return conn;
  }

  ssl::context verify_ctx_;
  ssl::context noverify_ctx_;
};

}  // namespace

std::shared_ptr<Transport> make_http_transport() { return std::make_shared<HttpTransport>(); }

}  // namespace sy::providers
