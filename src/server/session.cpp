#include "server/session.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <sys/socket.h>

#include <array>
#include <charconv>
#include <cstdio>

#include "switchyard/core/ids.hpp"
#include "switchyard/telemetry/log.hpp"

namespace sy::server {

namespace {
constexpr auto kTuple = net::as_tuple(net::use_awaitable);

// Feeds the bytes already in `buffer` to `parser`, up to the end of the header (header_only) or of
// the message. need_more when they are not enough: then an async read takes over (and waits, under
// its timeout, for the rest). A request that arrived whole is parsed without an async operation and
// the scheduler round trip that completing one costs.
void parse_buffered(beast::flat_buffer& buffer, http::request_parser<http::string_body>& parser, bool header_only,
                    beast::error_code& ec) {
  auto done = [&] { return header_only ? parser.is_header_done() : parser.is_done(); };
  while (!done() && buffer.size() > 0) {
    std::size_t n = parser.put(buffer.data(), ec);
    buffer.consume(n);
    if (ec) return;
    if (n == 0) break;  // nothing consumed: leave the rest to the async read
  }
  if (!done()) ec = http::error::need_more;
}

bool valid_request_id(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    if (c <= 0x20 || c >= 0x7f) return false;
  }
  return true;
}
}  // namespace

Session::Session(net::ip::tcp::socket socket, Shared& shared, Worker& worker)
    : stream_(std::move(socket)), shared_(shared), worker_(worker) {
  shared_.connections.fetch_add(1, std::memory_order_relaxed);
  registry_it_ = worker_.sessions.insert(worker_.sessions.end(), this);
}

Session::~Session() {
  worker_.sessions.erase(registry_it_);
  shared_.connections.fetch_sub(1, std::memory_order_relaxed);
}

void Session::close_if_idle() {
  if (idle_) {
    beast::error_code ec;
    stream_.socket().cancel(ec);
  }
}

std::string Session::render_head(Call& call, int status, std::string_view content_type, bool chunked,
                                 std::size_t content_length) {
  // One string, written with the body in a single gather write: no per-field allocations and one
  // syscall per response.
  call.keep_alive = call.keep_alive && !shared_.draining.load(std::memory_order_relaxed);
  call.status = status;
  std::string h;
  h.reserve(256 + call.headers.size());
  h += "HTTP/1.1 ";
  h += std::to_string(status);
  h += ' ';
  h += http::obsolete_reason(static_cast<http::status>(status));
  h += "\r\nServer: switchyard\r\nContent-Type: ";
  h += content_type;
  h += "\r\nx-request-id: ";
  h += call.request_id;
  h += "\r\n";
  h += call.headers;
  if (chunked) {
    h += "Cache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n";
  } else {
    h += "Content-Length: ";
    h += std::to_string(content_length);
    h += "\r\n";
  }
  // HTTP/1.0 clients close unless they asked to keep alive; 1.1 clients keep alive unless told.
  if (!call.keep_alive) h += "Connection: close\r\n";
  else if (call.req.version() == 10) h += "Connection: keep-alive\r\n";
  h += "\r\n";
  return h;
}

net::awaitable<bool> Session::send(Call& call, int status, std::string body, std::string_view content_type) {
  std::string head = render_head(call, status, content_type, false, body.size());
  std::array<net::const_buffer, 2> bufs{net::buffer(head), net::buffer(body)};
  stream_.expires_after(std::chrono::seconds(30));
  auto [ec, n] = co_await net::async_write(stream_, bufs, kTuple);
  co_return !ec;
}

net::awaitable<bool> Session::send_error(Call& call, const Error& e) {
  if (e.retry_after) {
    auto secs = (e.retry_after->count() + 999) / 1000;
    call.add_header("retry-after", std::to_string(std::max<std::int64_t>(secs, 1)));
    call.add_header("retry-after-ms", std::to_string(e.retry_after->count()));
  }
  if (e.kind == ErrorKind::method_not_allowed) call.add_header("allow", e.param.empty() ? "POST" : e.param);
  Error shown = e;
  if (e.kind == ErrorKind::method_not_allowed) shown.param.clear();
  co_return co_await send(call, http_status(e), to_openai_json(shown));
}

net::awaitable<bool> Session::begin_stream(Call& call, std::string_view first) {
  // HTTP/1.0 has no chunked encoding: such a client gets the events until the connection closes.
  chunked_ = call.req.version() >= 11;
  if (!chunked_) call.keep_alive = false;
  std::string head = render_head(call, 200, "text/event-stream", chunked_, 0);
  if (!chunked_) head.replace(head.find("Content-Length: 0\r\n"), 19, "Cache-Control: no-cache\r\n");
  // The head and the first events leave in one write.
  if (!first.empty()) append_chunk(head, first);
  stream_.expires_after(std::chrono::seconds(30));
  auto [ec, n] = co_await net::async_write(stream_, net::buffer(head), kTuple);
  co_return !ec;
}

void Session::append_chunk(std::string& out, std::string_view data) const {
  if (!chunked_) {
    out.append(data);
    return;
  }
  char size[20];
  char* end = std::to_chars(size, size + 16, data.size(), 16).ptr;
  *end++ = '\r';
  *end++ = '\n';
  out.append(size, end);
  out.append(data);
  out.append("\r\n");
}

net::awaitable<bool> Session::send_chunk(std::string_view data) {
  if (data.empty()) co_return true;
  stream_.expires_after(std::chrono::seconds(30));
  if (!chunked_) {
    auto [ec, n] = co_await net::async_write(stream_, net::buffer(data.data(), data.size()), kTuple);
    co_return !ec;
  }
  auto [ec, n] = co_await net::async_write(stream_, http::make_chunk(net::buffer(data.data(), data.size())), kTuple);
  co_return !ec;
}

net::awaitable<bool> Session::end_stream() {
  if (!chunked_) co_return true;
  stream_.expires_after(std::chrono::seconds(30));
  auto [ec, n] = co_await net::async_write(stream_, http::make_chunk_last(), kTuple);
  co_return !ec;
}

net::awaitable<void> Session::wait_client_gone() {
  auto& sock = stream_.socket();
  for (;;) {
    auto [ec] = co_await sock.async_wait(net::ip::tcp::socket::wait_read, kTuple);
    if (ec) co_return;  // cancelled (the stream ended) or socket error
    char c;
    ssize_t n = ::recv(sock.native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) co_return;  // closed or reset
    if (n > 0) {
      // The client pipelined its next request: it is still there. Wait for the stream to end.
      net::steady_timer forever(co_await net::this_coro::executor, Clock::time_point::max());
      co_await forever.async_wait(kTuple);
      co_return;
    }
  }
}

net::awaitable<void> Session::run() {
  stream_.socket().set_option(net::ip::tcp::no_delay(true));
  for (;;) {
    auto rt = shared_.store.current();
    const auto& sc = rt->config->server;
    if (shared_.draining.load(std::memory_order_relaxed) && buffer_.size() == 0) break;
    // Wait for the first byte of the next request under the idle timeout.
    if (buffer_.size() == 0) {
      idle_ = true;
      stream_.expires_after(sc.idle_timeout);
      auto [ec, n] = co_await stream_.async_read_some(buffer_.prepare(8192), kTuple);
      idle_ = false;
      if (ec) break;
      buffer_.commit(n);
    }
    Call call;
    call.started = Clock::now();
    call.headers.reserve(256);
    call.runtime = rt;
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(sc.max_header_bytes));
    parser.body_limit(static_cast<std::uint64_t>(sc.max_body_bytes));
    // The whole header must arrive within header_timeout: a client trickling bytes is cut off.
    stream_.expires_after(sc.header_timeout);
    beast::error_code hec;
    parse_buffered(buffer_, parser, true, hec);
    if (hec == http::error::need_more) {
      std::tie(hec, std::ignore) = co_await http::async_read_header(stream_, buffer_, parser, kTuple);
    }
    call.request_id = new_request_id();
    call.keep_alive = false;
    if (hec) {
      if (hec == http::error::header_limit) {
        co_await send_error(call, Error::make(ErrorKind::header_too_large,
                                              "Request headers exceed " + std::to_string(sc.max_header_bytes) + " bytes."));
      } else if (hec == http::error::body_limit) {
        co_await send_error(call, Error::make(ErrorKind::payload_too_large,
                                              "Request body exceeds the limit of " + std::to_string(sc.max_body_bytes) +
                                                  " bytes."));
      } else if (hec != beast::error::timeout && hec != http::error::end_of_stream && hec != net::error::eof &&
                 hec != net::error::connection_reset && hec != net::error::operation_aborted) {
        co_await send_error(call, Error::bad_request("Malformed HTTP request: " + hec.message()));
      }
      break;
    }
    {
      auto& h = parser.get();
      if (auto rid = h["x-request-id"]; valid_request_id(rid)) call.request_id = std::string(rid);
      if (h[http::field::expect] == "100-continue" && !parser.is_done()) {
        http::response<http::empty_body> cont{http::status::continue_, h.version()};
        auto [cec, cn] = co_await http::async_write(stream_, cont, kTuple);
        if (cec) break;
      }
    }
    if (!parser.is_done()) {
      beast::error_code bec;
      parse_buffered(buffer_, parser, false, bec);
      if (bec == http::error::need_more) {
        stream_.expires_after(sc.body_timeout);
        std::tie(bec, std::ignore) = co_await http::async_read(stream_, buffer_, parser, kTuple);
      }
      if (bec) {
        if (bec == http::error::body_limit) {
          co_await send_error(call, Error::make(ErrorKind::payload_too_large,
                                                "Request body exceeds the limit of " +
                                                    std::to_string(sc.max_body_bytes) + " bytes."));
        } else if (bec == beast::error::timeout) {
          Error e = Error::make(ErrorKind::bad_request, "The request body did not arrive within the body timeout.");
          e.status_override = 408;
          co_await send_error(call, e);
        }
        break;
      }
    }
    stream_.expires_never();
    call.req = parser.release();
    call.keep_alive = call.req.keep_alive();
    shared_.in_flight.fetch_add(1, std::memory_order_relaxed);
    co_await handle(call);
    shared_.in_flight.fetch_sub(1, std::memory_order_relaxed);
    if (!call.keep_alive || closed_) break;
  }
  beast::error_code ec;
  stream_.socket().shutdown(net::ip::tcp::socket::shutdown_send, ec);
  stream_.socket().close(ec);
}

net::awaitable<void> Session::handle(Call& call) {
  co_await dispatch_api(*this, call);
}

}  // namespace sy::server
