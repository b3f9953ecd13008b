#pragma once
/// A small Redis client on Asio: commands are encoded and replies parsed by hiredis (its RESP codec),
/// the socket is an Asio socket on one io_context (the state thread), so no io thread ever blocks on
/// Redis. Replies come back in order (one connection, pipelined). A command that is not answered within
/// the timeout fails, and so does everything queued behind it: the connection is dropped and reopened
/// with backoff (a slow Redis is treated as a down one). While it is down, commands fail at once.
///
/// Thread-safety: `command` and `up` may be called from any thread; callbacks run on the state thread.
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace sy::state {

struct RedisReply {
  enum class Type { error, nil, integer, string, array };
  Type type = Type::nil;
  long long integer = 0;
  std::string str;  ///< string, status, or the error message (for errors the client made too: "timeout", ...)
  bool maybe_applied = false;  ///< a client-side failure of a command that was sent: Redis may have run it
  std::vector<RedisReply> elements;
  bool ok() const { return type != Type::error; }
};

struct RedisOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 6379;
  std::string password;
  int db = 0;
  std::chrono::milliseconds timeout{100};  ///< per command, and to connect
  std::size_t max_pending = 10'000;        ///< more queued commands fail at once
};

class RedisClient {
 public:
  using Callback = std::function<void(const RedisReply&)>;
  using Message = std::function<void(std::string_view channel, std::string_view payload)>;

  /// All I/O runs on `ioc`, which must be run by exactly one thread. `channels`: when not empty this
  /// is a subscriber connection (SUBSCRIBE on every connect; `on_message` gets what is published).
  RedisClient(boost::asio::io_context& ioc, RedisOptions options, std::vector<std::string> channels = {},
              Message on_message = {});
  ~RedisClient();
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  /// Connects (and keeps reconnecting with backoff until `stop`).
  void start();
  /// Closes the connection and fails what is pending; no reconnect. Call on the state thread or before
  /// it runs.
  void stop();
  /// Queues a command; `done` runs on the state thread with the reply or an error.
  void command(std::vector<std::string> args, Callback done);
  /// Connected and answering (as far as the last command or connect attempt knows).
  bool up() const;
  /// Times a connection attempt failed or a live connection was dropped.
  std::uint64_t failures() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

/// "host:port" (port defaults to 6379); false when it is not one.
bool parse_redis_address(std::string_view address, std::string& host, std::uint16_t& port);

}  // namespace sy::state
