#pragma once
// One client connection: reads requests with limits and timeouts, hands each to the API handlers,
// writes plain and streamed responses. Runs as one coroutine on its worker's io_context.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <list>
#include <optional>
#include <string>
#include <vector>

#include "net/watchdog.hpp"
#include "server/server_state.hpp"
#include "switchyard/core/error.hpp"

namespace sy::server {

namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace net = boost::asio;
using Clock = std::chrono::steady_clock;

/// A request body held in a std::string, as Beast's string_body, except that the reader appends what
/// arrives to the capacity reserved for the Content-Length: string_body resizes first, which zero-fills
/// every byte it is about to overwrite (a 1 MiB memset per 1 MiB body).
struct RequestBody {
  using value_type = std::string;
  static std::uint64_t size(const value_type& body) { return body.size(); }
  using writer = http::string_body::writer;

  class reader {
   public:
    template <bool isRequest, class Fields>
    reader(http::header<isRequest, Fields>&, value_type& body) : body_(body) {}
    void init(const boost::optional<std::uint64_t>& length, beast::error_code& ec) {
      // The parser's body_limit is checked before init, so the length is already bounded.
      if (length) body_.reserve(static_cast<std::size_t>(*length));
      ec = {};
    }
    template <class ConstBufferSequence>
    std::size_t put(const ConstBufferSequence& buffers, beast::error_code& ec) {
      std::size_t n = 0;
      for (auto b : beast::buffers_range_ref(buffers)) {
        body_.append(static_cast<const char*>(b.data()), b.size());
        n += b.size();
      }
      ec = {};
      return n;
    }
    void finish(beast::error_code& ec) { ec = {}; }

   private:
    value_type& body_;
  };
};

/// Per-request response state the handlers fill.
/// The gateway key a connection presented last and what it matched, so that a keep-alive client sending
/// the same key on every request is hashed once per connection, not once per request. Comparing with the
/// connection's own previous key reveals nothing about any other caller's key.
struct KeyCache {
  std::string presented;
  std::uint64_t generation = 0;  ///< the runtime it was looked up in (0: none)
  const config::AuthKey* match = nullptr;
};

/// One client request being answered: the parsed HTTP request, its id, the response headers collected
/// for it, the runtime snapshot it runs against, and what was sent (for the access log).
struct InboundRequest {
  http::request<RequestBody> req;
  std::string request_id;
  Clock::time_point started;
  bool keep_alive = true;
  /// Extra response headers, already rendered as "name: value\r\n" lines (one buffer, not a string
  /// pair per header).
  std::string headers;
  void add_header(std::string_view name, std::string_view value) {
    headers.append(name).append(std::string_view(": ")).append(value).append(std::string_view("\r\n"));
  }
  /// A header whose value is free text (a routing reason may quote the prompt): its first 512 bytes,
  /// control bytes turned into spaces, so that it cannot end the line or the head.
  void add_text_header(std::string_view name, std::string_view value) {
    headers.append(name).append(std::string_view(": "));
    const std::size_t from = headers.size();
    headers.append(value.substr(0, 512));
    for (std::size_t i = from; i < headers.size(); ++i) {  // a select, not a branch: vectorised
      const auto c = static_cast<unsigned char>(headers[i]);
      headers[i] = c < 0x20 || c == 0x7f ? ' ' : headers[i];
    }
    headers.append(std::string_view("\r\n"));
  }
  std::shared_ptr<const pipeline::Runtime> runtime;
  int status = 0;  ///< status sent, for the access log
  /// The gateway key the caller presented, once looked up (hashing it once per request).
  std::optional<const config::AuthKey*> key;
  KeyCache* key_cache = nullptr;  ///< the connection's (Session::key_cache_)
};

class Session {
 public:
  /// `cancel` is the signal bound to the session coroutine's cancellation slot (server.cpp).
  Session(net::ip::tcp::socket socket, ServerState& shared, IoThread& worker, std::string client,
          std::shared_ptr<net::cancellation_signal> cancel = nullptr);
  ~Session();
  net::awaitable<void> run();

  /// Closes the connection if it is waiting for a request (drain, or shedding idle connections when
  /// a connection cap is reached). True when it was idle.
  bool close_if_idle();
  bool idle() const { return idle_; }
  /// The client's address (the key of the per-client connection cap).
  const std::string& client() const { return client_; }

  // Response writers for handlers. Each returns false when the client is gone.
  net::awaitable<bool> send(InboundRequest& call, int status, std::string body,
                            std::string_view content_type = "application/json");
  net::awaitable<bool> send_error(InboundRequest& call, const Error& e);
  /// The same with the body already rendered in the client's dialect.
  net::awaitable<bool> send_error(InboundRequest& call, const Error& e, std::string body);
  /// Sends the 200 head of an event stream, together with the first events when given.
  net::awaitable<bool> begin_stream(InboundRequest& call, std::string_view first = {});
  net::awaitable<bool> send_chunk(std::string_view data);
  net::awaitable<bool> end_stream();
  /// Completes when the client closes the connection (or it fails); never completes while the client
  /// stays connected. Used to cancel upstream work when a client leaves mid-stream.
  net::awaitable<void> wait_client_gone();

  /// Watches the connection while a request is being worked on: if the client hangs up, whatever the
  /// session coroutine is waiting for (routing, an upstream call, a backoff) is cancelled, so a departed
  /// client's request stops and frees what it holds. The watch (one socket wait and a plain handler, far
  /// cheaper than racing the work against wait_client_gone()) starts at the io thread's next watch tick
  /// after the first (IoThread::kWatchTick: 50 to 100 ms in), so a request that ends sooner costs no
  /// system call for it and a departed client is noticed within ~100 ms. `unwatch_client` ends the watch and
  /// returns whether the client left; the caller then resets the coroutine's cancellation state
  /// (`co_await net::this_coro::reset_cancellation_state()`), so that what follows starts clean.
  void watch_client();
  bool unwatch_client();
  /// At a watch tick: starts the watch asked for in an earlier tick. True while one is still asked for.
  bool on_watch_tick(std::uint64_t tick);

  ServerState& server() { return server_; }
  IoThread& io_thread() { return io_thread_; }

 private:
  /// Waits under the idle timeout for the first byte of the next request (closing then is silent: no
  /// request is in progress). False when the connection should close: draining, idle, or the client left.
  net::awaitable<bool> next_request_arrived();
  KeyCache key_cache_;
  /// How a read ended: an error code, or the deadline passed (the socket stays open for a 408).
  struct ReadEnd {
    beast::error_code ec;
    bool timed_out = false;
  };
  /// Bodies from this size on, when their length is known, are read by read_body_direct.
  static constexpr std::size_t kDirectBodyBytes = 64u << 10;
  /// Reads the rest of a Content-Length body (`length` bytes, some maybe already buffered) straight into
  /// the message's string, not through the parser: what has arrived is copied once, the rest is read in
  /// place. The parser is not fed the body; the message is released as it is.
  net::awaitable<ReadEnd> read_body_direct(http::request_parser<RequestBody>& parser, std::size_t length,
                                           Clock::time_point deadline);
  /// One read into `into`, raced against `deadline`; `n` is set to the bytes that arrived.
  net::awaitable<ReadEnd> read_into_until(Clock::time_point deadline, net::mutable_buffer into, std::size_t& n);
  /// One read of up to `size` bytes into the buffer, raced against `deadline`.
  net::awaitable<ReadEnd> read_some_until(Clock::time_point deadline, std::size_t size);
  /// Feeds the buffered bytes to `parser`, up to the end of the header (header_only) or of the request:
  /// need_more when they are not enough. `header_bytes` counts the header's bytes consumed so far.
  ReadEnd parse_buffered_request(http::request_parser<RequestBody>& parser, bool header_only, std::size_t& header_bytes);
  /// Feeds buffered bytes to `parser` and reads more until the header (or the whole request) is in;
  /// `header_bytes` of the header were consumed before (by parse_buffered_request).
  net::awaitable<ReadEnd> read_request(http::request_parser<RequestBody>& parser, bool header_only,
                                       Clock::time_point deadline, std::size_t max_header, std::size_t header_bytes = 0);
  /// What to answer when reading a request's headers or body ended badly; nullopt when the client left.
  static std::optional<Error> read_error(const ReadEnd& end, std::string_view phase, const config::ServerConfig& sc);
  /// An error for a request no handler saw, in the dialect its path speaks; the connection closes.
  net::awaitable<bool> send_early_error(InboundRequest& call, std::string_view target, const Error& e);
  /// Half-closes and drains what the client still sends (bounded), then marks the session closed.
  net::awaitable<void> close_gracefully();
  std::string render_head(InboundRequest& call, int status, std::string_view content_type, bool chunked,
                          std::size_t content_length);
  void append_chunk(std::string& out, std::string_view data) const;

  net::ip::tcp::socket socket_;
  /// The deadline of the client connection's pending read or write (idle wait, response writes).
  net_io::Watchdog watchdog_{socket_};
  beast::flat_buffer buffer_;
  ServerState& server_;
  IoThread& io_thread_;
  std::list<Session*>::iterator registry_it_;
  std::string client_;
  /// Shared with the watch's handler, which may run after this session is gone.
  struct Watch {
    bool wanted = false;  ///< a request is in flight and wants the watch (from tick `since` on)
    std::uint64_t since = 0;
    bool active = false;  ///< the peek is pending
    bool gone = false;
    char peeked = 0;  ///< where the watch's peek lands (the byte stays in the socket)
    net::ip::tcp::socket* socket = nullptr;
    std::shared_ptr<net::cancellation_signal> cancel;
  };
  std::shared_ptr<Watch> watch_;
  bool idle_ = false;
  bool closed_ = false;
  bool chunked_ = true;  ///< the current stream uses chunked encoding (HTTP/1.1)
};

/// API entry point: routes one request to its handler (api.cpp).
net::awaitable<void> handle_request(Session& session, InboundRequest& call);

/// A request id a client may set (x-request-id) or refer to (feedback): 1..128 printable ASCII bytes.
bool valid_request_id(std::string_view id);

}  // namespace sy::server
