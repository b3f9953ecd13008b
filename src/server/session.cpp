#include "server/session.hpp"

#include "net/io.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <sys/socket.h>

#include <array>
#include <charconv>
#include <cstdio>

#include "switchyard/core/ids.hpp"
#include "switchyard/providers/ingress.hpp"
#include "switchyard/telemetry/log.hpp"

namespace sy::server {

namespace {
using namespace boost::asio::experimental::awaitable_operators;
using net_io::kTuple;
using net_io::whole_writes;
using Armed = net_io::Watchdog::Armed;
/// How long one write to a client may take (a client that stops reading is cut off).
constexpr auto kWriteTimeout = std::chrono::seconds(30);

}  // namespace

bool valid_request_id(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    if (c <= 0x20 || c >= 0x7f) return false;
  }
  return true;
}


Session::Session(net::ip::tcp::socket socket, ServerState& shared, IoThread& worker, std::string client,
                 std::shared_ptr<net::cancellation_signal> cancel)
    : socket_(std::move(socket)), server_(shared), io_thread_(worker), client_(std::move(client)),
      watch_(std::make_shared<Watch>()) {
  watch_->socket = &socket_;
  watch_->cancel = std::move(cancel);
  server_.connections.fetch_add(1, std::memory_order_relaxed);
  registry_it_ = io_thread_.sessions.insert(io_thread_.sessions.end(), this);
  std::lock_guard lock(server_.clients_mu);
  ++server_.per_client[client_];
}

Session::~Session() {
  watch_->active = false;
  watch_->socket = nullptr;
  io_thread_.sessions.erase(registry_it_);
  server_.connections.fetch_sub(1, std::memory_order_relaxed);
  std::lock_guard lock(server_.clients_mu);
  if (auto it = server_.per_client.find(client_); it != server_.per_client.end() && --it->second <= 0) {
    server_.per_client.erase(it);
  }
}

bool Session::close_if_idle() {
  if (!idle_) return false;
  idle_ = false;  // shed once
  beast::error_code ec;
  socket_.cancel(ec);
  return true;
}

std::string Session::render_head(InboundRequest& call, int status, std::string_view content_type, bool chunked,
                                 std::size_t content_length) {
  // One string, written with the body in a single gather write: no per-field allocations and one
  // syscall per response.
  call.keep_alive = call.keep_alive && !server_.draining.load(std::memory_order_relaxed);
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

net::awaitable<bool> Session::send(InboundRequest& call, int status, std::string body, std::string_view content_type) {
  std::string head = render_head(call, status, content_type, false, body.size());
  // A HEAD response announces the body's length and carries none (a body would be read as the next
  // response by a pipelining client).
  if (call.req.method() == http::verb::head) body.clear();
  std::array<net::const_buffer, 2> bufs{net::buffer(head), net::buffer(body)};
  Armed armed(watchdog_, Clock::now() + kWriteTimeout);
  auto [ec, n] = co_await net::async_write(socket_, bufs, whole_writes, kTuple);
  co_return !ec;
}

net::awaitable<bool> Session::send_error(InboundRequest& call, const Error& e) {
  Error shown = e;
  if (e.kind == ErrorKind::method_not_allowed) shown.param.clear();
  co_return co_await send_error(call, e, to_openai_json(shown));
}

net::awaitable<bool> Session::send_error(InboundRequest& call, const Error& e, std::string body) {
  if (e.retry_after) {
    auto secs = (e.retry_after->count() + 999) / 1000;
    call.add_header("retry-after", std::to_string(std::max<std::int64_t>(secs, 1)));
    call.add_header("retry-after-ms", std::to_string(e.retry_after->count()));
  }
  if (e.kind == ErrorKind::method_not_allowed) call.add_header("allow", e.param.empty() ? "POST" : e.param);
  co_return co_await send(call, http_status(e), std::move(body));
}

net::awaitable<bool> Session::begin_stream(InboundRequest& call, std::string_view first) {
  // HTTP/1.0 has no chunked encoding: such a client gets the events until the connection closes.
  chunked_ = call.req.version() >= 11;
  if (!chunked_) call.keep_alive = false;
  std::string head = render_head(call, 200, "text/event-stream", chunked_, 0);
  if (!chunked_) head.replace(head.find("Content-Length: 0\r\n"), 19, "Cache-Control: no-cache\r\n");
  // The head and the first events leave in one write.
  if (!first.empty()) append_chunk(head, first);
  Armed armed(watchdog_, Clock::now() + kWriteTimeout);
  auto [ec, n] = co_await net::async_write(socket_, net::buffer(head), kTuple);
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
  Armed armed(watchdog_, Clock::now() + kWriteTimeout);
  if (!chunked_) {
    auto [ec, n] = co_await net::async_write(socket_, net::buffer(data.data(), data.size()), whole_writes, kTuple);
    co_return !ec;
  }
  auto [ec, n] = co_await net::async_write(socket_, http::make_chunk(net::buffer(data.data(), data.size())), whole_writes, kTuple);
  co_return !ec;
}

net::awaitable<bool> Session::end_stream() {
  if (!chunked_) co_return true;
  Armed armed(watchdog_, Clock::now() + kWriteTimeout);
  auto [ec, n] = co_await net::async_write(socket_, http::make_chunk_last(), kTuple);
  co_return !ec;
}

net::awaitable<void> Session::wait_client_gone() {
  auto& sock = socket_;
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

net::awaitable<Session::ReadEnd> Session::read_into_until(Clock::time_point deadline, net::mutable_buffer into,
                                                          std::size_t& n) {
  net::steady_timer timer(co_await net::this_coro::executor, deadline);
  auto r = co_await (socket_.async_read_some(into, kTuple) || timer.async_wait(kTuple));
  if (r.index() == 1) co_return ReadEnd{http::error::need_more, true};
  auto [ec, got] = std::get<0>(r);
  n = got;
  co_return ReadEnd{ec, false};
}

net::awaitable<Session::ReadEnd> Session::read_some_until(Clock::time_point deadline, std::size_t size) {
  std::size_t n = 0;
  auto end = co_await read_into_until(deadline, buffer_.prepare(size), n);
  buffer_.commit(n);
  co_return end;
}

Session::ReadEnd Session::parse_buffered_request(http::request_parser<RequestBody>& parser, bool header_only,
                                                std::size_t& header_bytes) {
  // A request that arrived whole is parsed without an async operation and the scheduler round trip
  // that completing one costs. The parser consumes whole field lines as they arrive, so the buffer
  // alone does not show the header's size: `header_bytes` counts what it consumed of the header.
  auto done = [&] { return header_only ? parser.is_header_done() : parser.is_done(); };
  beast::error_code ec;
  while (!done() && buffer_.size() > 0) {
    const bool in_header = !parser.is_header_done();
    const std::size_t n = parser.put(buffer_.data(), ec);
    if (in_header) header_bytes += n;
    buffer_.consume(n);
    if (ec) return ReadEnd{ec, false};
    if (n == 0) break;  // nothing consumed: leave the rest to the async read
  }
  // need_more: an async read takes over (and waits, under its timeout, for the rest).
  if (!done()) ec = http::error::need_more;
  return ReadEnd{ec, false};
}

net::awaitable<Session::ReadEnd> Session::read_request(http::request_parser<RequestBody>& parser, bool header_only,
                                                       Clock::time_point deadline, std::size_t max_header,
                                                       std::size_t header_bytes) {
  for (;;) {
    auto parsed = parse_buffered_request(parser, header_only, header_bytes);
    if (parsed.ec != http::error::need_more) co_return parsed;
    // The header's size so far (consumed plus waiting), bounded here: Beast counts per put() only.
    if (!parser.is_header_done() && header_bytes + buffer_.size() >= max_header) {
      co_return ReadEnd{http::error::header_limit, false};
    }
    // The body in as few reads as its length allows (a 1 MiB body in one or two, not sixteen), the head
    // in small ones.
    std::size_t want = 8192;
    if (parser.is_header_done()) {
      auto length = parser.content_length_remaining();
      want = std::clamp<std::size_t>(length ? static_cast<std::size_t>(*length) : 65536, 65536, 1u << 20);
    }
    auto got = co_await read_some_until(deadline, want);
    if (got.timed_out || got.ec) co_return got;
  }
}

net::awaitable<Session::ReadEnd> Session::read_body_direct(http::request_parser<RequestBody>& parser, std::size_t length,
                                                           Clock::time_point deadline) {
  // Reserved whole (address space only), filled in steps: the string grows (zero-filled, then written by
  // the kernel, cheaper than a copy from buffer_) a step ahead of what has arrived, so a client that
  // announces a large body and sends little makes the server touch little memory.
  constexpr std::size_t kStep = 256u << 10;
  auto& body = parser.get().body();
  body.reserve(length);
  std::size_t have = std::min(buffer_.size(), length);
  body.resize(have);
  net::buffer_copy(net::buffer(body.data(), have), buffer_.data());
  buffer_.consume(have);
  while (have < length) {
    if (body.size() == have) body.resize(std::min(length, have + kStep));
    std::size_t n = 0;
    auto end = co_await read_into_until(deadline, net::buffer(body.data() + have, body.size() - have), n);
    // The client closing before the whole body: what Beast's parser reports for it.
    if (end.ec == net::error::eof) co_return ReadEnd{http::error::partial_message, false};
    if (end.timed_out || end.ec) co_return end;
    have += n;
  }
  co_return ReadEnd{};
}

net::awaitable<void> Session::close_gracefully() {
  // Half-close, then read and drop what the client is still sending (bounded), so that the kernel does
  // not answer its remaining bytes with a reset that destroys the response before it is read.
  beast::error_code ec;
  socket_.shutdown(net::ip::tcp::socket::shutdown_send, ec);
  auto until = Clock::now() + std::chrono::seconds(2);
  std::size_t drained = 0;
  while (!ec && drained < (64u << 20)) {
    buffer_.clear();
    auto got = co_await read_some_until(until, 65536);
    if (got.timed_out || got.ec) break;
    drained += buffer_.size();
  }
  buffer_.clear();
  closed_ = true;
}

net::awaitable<bool> Session::send_early_error(InboundRequest& call, std::string_view target, const Error& e) {
  call.keep_alive = false;
  // Anthropic clients get their own error shape even when the request never reached a handler.
  co_return co_await send_error(call, e, providers::ingress::dialect_for_path(target).error_body(e));
}

namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view trim(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return v;
}

// What a parsed header says about framing that Beast would read leniently: an HTTP/1.1 request needs
// exactly one Host; a Transfer-Encoding other than exactly "chunked" (gzip, chunked twice, a list)
// would make the body ambiguous between us and the upstream — the shape of request smuggling.
std::optional<Error> framing_error(const http::request_parser<RequestBody>& parser) {
  const auto& h = parser.get();
  auto hosts = h.equal_range(http::field::host);
  auto host_count = std::distance(hosts.first, hosts.second);
  if (host_count > 1 || (host_count == 0 && h.version() >= 11)) {
    return Error::bad_request("An HTTP/1.1 request needs exactly one Host header.");
  }
  auto te = h.equal_range(http::field::transfer_encoding);
  auto te_count = std::distance(te.first, te.second);
  if (te_count == 0) return std::nullopt;
  std::string_view value = te_count == 1 ? trim(te.first->value()) : std::string_view{};
  if (te_count == 1 && iequals(value, "chunked")) {
    if (h.count(http::field::content_length)) return Error::bad_request("Send either Content-Length or Transfer-Encoding, not both.");
    return std::nullopt;
  }
  std::string joined;
  for (auto it = te.first; it != te.second; ++it) joined += (joined.empty() ? "" : ", ") + std::string(it->value());
  std::string shown = joined.substr(0, 64);
  for (auto& c : shown) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  }
  // A coding we do not implement is 501 (RFC 9112 6.1); a malformed or repeated one is 400.
  bool unknown_coding = te_count == 1 && !value.empty() && value.find(',') == std::string_view::npos &&
                        !iequals(value, "chunked");
  Error e = Error::bad_request("Transfer-Encoding '" + shown + "' is not supported; send a Content-Length or exactly 'Transfer-Encoding: chunked'.");
  if (unknown_coding) e.status_override = 501;
  return e;
}

}  // namespace

std::optional<Error> Session::read_error(const ReadEnd& end, std::string_view phase, const config::ServerConfig& sc) {
  if (end.timed_out) {
    Error e = Error::make(ErrorKind::bad_request, "The request " + std::string(phase) + " did not arrive within the " +
                                                      (phase == "body" ? "body" : "header") + " timeout.");
    e.status_override = 408;
    return e;
  }
  const auto& ec = end.ec;
  if (ec == http::error::header_limit) {
    return Error::make(ErrorKind::header_too_large, "Request headers exceed " + std::to_string(sc.max_header_bytes) + " bytes.");
  }
  if (ec == http::error::body_limit) {
    return Error::make(ErrorKind::payload_too_large,
                       "Request body exceeds the limit of " + std::to_string(sc.max_body_bytes) + " bytes.");
  }
  // The client left (or the drain closed an idle connection): nobody to answer.
  if (ec == http::error::end_of_stream || ec == net::error::eof || ec == net::error::connection_reset ||
      ec == net::error::operation_aborted) {
    return std::nullopt;
  }
  return Error::bad_request(std::string(phase == "body" ? "Malformed request body: " : "Malformed HTTP request: ") + ec.message());
}

namespace {
// One wait for the client's socket to become readable while its request is worked on. The handler owns
// the watch state, never the session: it checks `active` (cleared by unwatch and by the destructor, on
// this same thread) before touching the socket or the signal.
// A peeking receive, not async_wait(wait_read): Asio re-arms the descriptor in epoll (one epoll_ctl
// system call) for every wait, where a receive first tries the socket and then waits on the registration
// the connection already has.
template <class Watch>
void arm_watch(std::shared_ptr<Watch> w) {
  w->socket->async_receive(net::buffer(&w->peeked, 1), net::socket_base::message_peek,
                           [w](const boost::system::error_code& ec, std::size_t n) {
                             if (!w->active || !w->socket) return;
                             if (ec == net::error::operation_aborted) return;
                             if (!ec && n > 0) return;  // the client pipelined its next request: it is still there
                             // End of stream (n == 0) or a socket error: the client is gone.
                             w->active = false;
                             w->gone = true;
                             w->cancel->emit(net::cancellation_type::terminal);
                           });
}

// The io thread's watch ticks: each starts the watches asked for before it, and the timer keeps ticking
// while any request still waits for its watch.
void arm_watch_timer(IoThread& t) {
  if (t.watch_timer_armed) return;
  t.watch_timer_armed = true;
  t.watch_timer.expires_after(IoThread::kWatchTick);
  t.watch_timer.async_wait([&t](const boost::system::error_code& ec) {
    t.watch_timer_armed = false;
    if (ec) return;  // the io thread is shutting down
    ++t.watch_tick;
    bool waiting = false;
    for (Session* s : t.sessions) waiting = s->on_watch_tick(t.watch_tick) || waiting;
    if (waiting) arm_watch_timer(t);
  });
}
}  // namespace

void Session::watch_client() {
  if (!watch_->cancel) return;
  watch_->wanted = true;
  watch_->since = io_thread_.watch_tick;
  watch_->gone = false;
  arm_watch_timer(io_thread_);
}

bool Session::on_watch_tick(std::uint64_t tick) {
  if (!watch_->wanted || watch_->active) return false;
  if (watch_->since + 1 >= tick) return true;  // asked during the last tick: in flight for less than one
  watch_->active = true;
  arm_watch(watch_);
  return false;
}

bool Session::unwatch_client() {
  if (!watch_->cancel) return false;
  watch_->wanted = false;
  if (watch_->active) {
    watch_->active = false;
    beast::error_code ec;
    socket_.cancel(ec);  // the pending wait; nothing else is in flight on this socket now
  }
  return watch_->gone;
}

net::awaitable<bool> Session::next_request_arrived() {
  if (server_.draining.load(std::memory_order_relaxed)) co_return false;
  // A large body grew the buffer: an idle connection does not keep megabytes.
  if (buffer_.capacity() > (256u << 10)) buffer_.shrink_to_fit();
  idle_ = true;
  beast::error_code ec;
  std::size_t n = 0;
  {
    Armed armed(watchdog_, Clock::now() + server_.store.current()->config->server.idle_timeout);
    std::tie(ec, n) = co_await socket_.async_read_some(buffer_.prepare(8192), kTuple);
  }
  idle_ = false;
  if (ec) co_return false;
  buffer_.commit(n);
  co_return true;
}

net::awaitable<void> Session::run() {
  socket_.set_option(net::ip::tcp::no_delay(true));
  // A cancelled request (its client left) lets the session's later steps run to their own errors
  // instead of throwing out of the coroutine.
  co_await net::this_coro::throw_if_cancelled(false);
  for (;;) {
    // A pipelined request is already buffered; otherwise the connection waits for one (idle). No
    // co_await inside || or &&: GCC 12 miscompiles it (the loop ran once with a request buffered).
    if (buffer_.size() == 0) {
      if (!co_await next_request_arrived()) break;
    }
    // The snapshot of the request's arrival, not of the connection's last request: a reload while the
    // connection sat idle applies to it (keys removed, models added).
    auto rt = server_.store.current();
    const auto& sc = rt->config->server;
    InboundRequest call;
    call.started = Clock::now();
    call.headers.reserve(256);
    call.runtime = rt;
    call.key_cache = &key_cache_;
    http::request_parser<RequestBody> parser;
    // The header limit is enforced on the buffered bytes by read_request; Beast's own counts only what
    // one put() saw.
    parser.header_limit(static_cast<std::uint32_t>(sc.max_header_bytes));
    parser.body_limit(static_cast<std::uint64_t>(sc.max_body_bytes));
    // The whole header must arrive within header_timeout: a client trickling bytes is cut off (408).
    // A request that arrived whole (the usual case) is parsed here, without entering read_request.
    std::size_t header_bytes = 0;
    auto got = parse_buffered_request(parser, true, header_bytes);
    if (got.ec == http::error::need_more) {
      got = co_await read_request(parser, true, call.started + sc.header_timeout,
                                  static_cast<std::size_t>(sc.max_header_bytes), header_bytes);
    }
    call.request_id = new_request_id();
    call.keep_alive = false;
    // Set as soon as the request line is parsed (a 413 for Content-Length comes before the header ends).
    std::string target(parser.get().target());
    auto early = [&](const Error& e) -> net::awaitable<void> {
      if (co_await send_early_error(call, target, e)) co_await close_gracefully();
    };
    if (got.timed_out || got.ec) {
      if (auto e = read_error(got, "headers", sc)) co_await early(*e);
      break;
    }
    if (auto e = framing_error(parser)) {
      co_await early(*e);
      break;
    }
    {
      auto& h = parser.get();
      if (auto rid = h["x-request-id"]; valid_request_id(rid)) call.request_id = std::string(rid);
      if (h[http::field::expect] == "100-continue" && !parser.is_done()) {
        http::response<http::empty_body> cont{http::status::continue_, h.version()};
        Armed armed(watchdog_, Clock::now() + kWriteTimeout);
        auto [cec, cn] = co_await http::async_write(socket_, cont, kTuple);
        if (cec) break;
      }
    }
    if (!parser.is_done()) {
      // A large body of known length that has not all arrived is read straight into the request's
      // string; chunked bodies and small ones go through the parser (and the connection's buffer).
      const auto remaining = parser.content_length_remaining();
      const bool direct = !parser.chunked() && remaining && *remaining >= kDirectBodyBytes &&
                          *remaining > buffer_.size();
      auto body = direct ? co_await read_body_direct(parser, static_cast<std::size_t>(*remaining),
                                                     Clock::now() + sc.body_timeout)
                         : co_await read_request(parser, false, Clock::now() + sc.body_timeout,
                                                 static_cast<std::size_t>(sc.max_header_bytes));
      if (body.timed_out || body.ec) {
        if (auto e = read_error(body, "body", sc)) co_await early(*e);
        break;
      }
    }
    call.req = parser.release();
    call.keep_alive = call.req.keep_alive();
    server_.in_flight.fetch_add(1, std::memory_order_relaxed);
    co_await handle_request(*this, call);
    server_.in_flight.fetch_sub(1, std::memory_order_relaxed);
    if (!call.keep_alive || closed_) break;
  }
  beast::error_code ec;
  socket_.shutdown(net::ip::tcp::socket::shutdown_send, ec);
  socket_.close(ec);
}

}  // namespace sy::server
