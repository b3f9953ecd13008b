#include "switchyard/state/redis.hpp"

#include <hiredis/hiredis.h>

#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <charconv>
#include <deque>

namespace sy::state {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

RedisReply convert(const redisReply* r) {
  RedisReply out;
  switch (r->type) {
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
      out.type = RedisReply::Type::string;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ERROR:
      out.type = RedisReply::Type::error;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = RedisReply::Type::integer;
      out.integer = r->integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = RedisReply::Type::array;
      out.elements.reserve(r->elements);
      for (size_t i = 0; i < r->elements; ++i) out.elements.push_back(convert(r->element[i]));
      break;
    default: out.type = RedisReply::Type::nil; break;
  }
  return out;
}

RedisReply failure(std::string why) {
  RedisReply r;
  r.type = RedisReply::Type::error;
  r.str = std::move(why);
  return r;
}

std::string encode(const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (const auto& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  char* cmd = nullptr;
  int n = redisFormatCommandArgv(&cmd, static_cast<int>(args.size()), argv.data(), lens.data());
  std::string out = n > 0 ? std::string(cmd, static_cast<size_t>(n)) : std::string();
  redisFreeCommand(cmd);
  return out;
}

}  // namespace

bool parse_redis_address(std::string_view address, std::string& host, std::uint16_t& port) {
  auto colon = address.rfind(':');
  host = std::string(address.substr(0, colon));
  port = 6379;
  if (colon != std::string_view::npos) {
    auto p = address.substr(colon + 1);
    unsigned v = 0;
    auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), v);
    if (ec != std::errc() || end != p.data() + p.size() || v == 0 || v > 65535) return false;
    port = static_cast<std::uint16_t>(v);
  }
  return !host.empty();
}

struct RedisClient::Impl : std::enable_shared_from_this<Impl> {
  net::io_context& ioc;
  RedisOptions opt;
  std::vector<std::string> channels;
  Message on_message;
  tcp::socket socket{ioc};
  tcp::resolver resolver{ioc};
  net::steady_timer deadline{ioc};
  net::steady_timer retry{ioc};
  redisReader* reader = redisReaderCreate();
  struct Pending {
    Callback done;
    Clock::time_point due;
  };
  std::deque<Pending> pending;      // sent or queued, in order; answered front first
  std::string out, writing;         // bytes to send; bytes being sent
  std::vector<char> in = std::vector<char>(16384);
  bool connected = false, stopped = false, write_busy = false;
  std::uint64_t session = 0;        // bumps on every (re)connect: stale handlers see it changed
  std::chrono::milliseconds backoff{100};
  std::atomic<bool> healthy{false};
  std::atomic<std::uint64_t> failure_count{0};

  Impl(net::io_context& c, RedisOptions o, std::vector<std::string> ch, Message m)
      : ioc(c), opt(std::move(o)), channels(std::move(ch)), on_message(std::move(m)) {}
  ~Impl() { redisReaderFree(reader); }

  void connect() {
    if (stopped) return;
    ++session;
    boost::system::error_code ec;
    auto addr = net::ip::make_address(opt.host, ec);
    if (!ec) return connect_to(addr);
    // A name (e.g. "redis" in docker-compose): resolved asynchronously, under the connect deadline.
    auto self = shared_from_this();
    auto s = session;
    arm_deadline(Clock::now() + opt.timeout);
    resolver.async_resolve(opt.host, std::to_string(opt.port),
                           [self, s](const boost::system::error_code& ec, tcp::resolver::results_type results) {
                             if (s != self->session || self->stopped) return;
                             if (ec || results.empty()) return self->drop("cannot resolve " + self->opt.host);
                             self->connect_to(results.begin()->endpoint().address());
                           });
  }

  void connect_to(const net::ip::address& addr) {
    auto self = shared_from_this();
    auto s = session;
    socket = tcp::socket(ioc);
    arm_deadline(Clock::now() + opt.timeout);
    socket.async_connect(tcp::endpoint(addr, opt.port), [self, s](const boost::system::error_code& ec) {
      if (s != self->session || self->stopped) return;
      if (ec) return self->drop("connect: " + ec.message());
      boost::system::error_code ignored;
      self->socket.set_option(tcp::no_delay(true), ignored);
      self->connected = true;
      self->backoff = std::chrono::milliseconds(100);
      // The handshake: nothing else is queued (commands fail at once until the PING is answered).
      if (!self->opt.password.empty()) self->handshake({"AUTH", self->opt.password});
      if (self->opt.db) self->handshake({"SELECT", std::to_string(self->opt.db)});
      if (!self->channels.empty()) {
        std::vector<std::string> sub{"SUBSCRIBE"};
        sub.insert(sub.end(), self->channels.begin(), self->channels.end());
        self->out += encode(sub);  // its confirmations are not pending replies (see dispatch)
        self->healthy = true;
      } else {
        self->handshake({"PING"});  // the connection counts as up once the server answered
      }
      self->arm_deadline(Clock::now() + self->opt.timeout);
      self->read();
      self->flush();
    });
  }

  /// A handshake command; an error reply drops the connection, the PING's answer marks it healthy.
  void handshake(std::vector<std::string> args) {
    out += encode(args);
    bool ping = args[0] == "PING";
    std::string what = args[0];
    auto self = shared_from_this();
    auto s = session;
    pending.push_back(Pending{[self, ping, what, s](const RedisReply& r) {
                                if (s != self->session) return;  // failed by the drop of this very connection
                                if (!r.ok()) return self->drop(what + ": " + r.str);
                                if (ping) self->healthy = true;
                              },
                              Clock::now() + opt.timeout});
  }

  void drop(const std::string& why) {
    if (!stopped) ++failure_count;
    connected = false;
    healthy = false;
    ++session;
    boost::system::error_code ignored;
    socket.close(ignored);
    resolver.cancel();
    deadline.cancel();
    out.clear();
    write_busy = false;
    redisReaderFree(reader);
    reader = redisReaderCreate();
    auto failed = std::move(pending);
    pending.clear();
    for (auto& p : failed) {
      RedisReply r = failure("redis unavailable: " + why);
      r.maybe_applied = true;  // written, or about to be: it may have run
      if (p.done) p.done(r);
    }
    if (stopped) return;
    retry.expires_after(backoff);
    backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
    auto self = shared_from_this();
    retry.async_wait([self](const boost::system::error_code& ec) {
      if (!ec) self->connect();
    });
  }

  void arm_deadline(Clock::time_point due) {
    deadline.expires_at(due);
    auto self = shared_from_this();
    auto s = session;
    deadline.async_wait([self, s](const boost::system::error_code& ec) {
      if (ec || s != self->session) return;
      // Connecting, or the oldest command, took longer than the timeout.
      if (!self->connected) return self->drop("connect timed out");
      if (!self->pending.empty() && self->pending.front().due <= Clock::now()) return self->drop("timed out");
      if (!self->pending.empty()) self->arm_deadline(self->pending.front().due);
    });
  }

  void submit(std::vector<std::string> args, Callback done) {
    if (!connected || !healthy) {
      if (done) done(failure("redis unavailable"));
      return;
    }
    if (pending.size() >= opt.max_pending) {
      if (done) done(failure("redis backlog full"));
      return;
    }
    bool was_idle = pending.empty();
    out += encode(args);
    pending.push_back(Pending{std::move(done), Clock::now() + opt.timeout});
    if (was_idle) arm_deadline(pending.back().due);
    flush();
  }

  void flush() {
    if (write_busy || out.empty() || !connected) return;
    write_busy = true;
    writing.swap(out);
    out.clear();
    auto self = shared_from_this();
    auto s = session;
    net::async_write(socket, net::buffer(writing), [self, s](const boost::system::error_code& ec, std::size_t) {
      if (s != self->session) return;
      self->write_busy = false;
      self->writing.clear();
      if (ec) return self->drop("write: " + ec.message());
      self->flush();
    });
  }

  void read() {
    auto self = shared_from_this();
    auto s = session;
    socket.async_read_some(net::buffer(in), [self, s](const boost::system::error_code& ec, std::size_t n) {
      if (s != self->session) return;
      if (ec) return self->drop("read: " + ec.message());
      if (redisReaderFeed(self->reader, self->in.data(), n) != REDIS_OK) return self->drop("protocol error");
      for (;;) {
        void* raw = nullptr;
        if (redisReaderGetReply(self->reader, &raw) != REDIS_OK) return self->drop("protocol error");
        if (!raw) break;
        RedisReply reply = convert(static_cast<redisReply*>(raw));
        freeReplyObject(raw);
        if (!self->dispatch(reply)) return;
        if (s != self->session) return;  // a callback dropped the connection
      }
      if (!self->pending.empty()) self->arm_deadline(self->pending.front().due);
      else self->deadline.cancel();
      self->read();
    });
  }

  /// One reply: a published message (subscriber), or the answer to the oldest pending command.
  bool dispatch(const RedisReply& reply) {
    if (!channels.empty() && reply.type == RedisReply::Type::array && reply.elements.size() == 3 &&
        reply.elements[0].str == "message") {
      if (on_message) on_message(reply.elements[1].str, reply.elements[2].str);
      return true;
    }
    if (!channels.empty() && reply.type == RedisReply::Type::array && !reply.elements.empty() &&
        reply.elements[0].str == "subscribe") {
      return true;
    }
    if (pending.empty()) {
      drop("unexpected reply");
      return false;
    }
    Pending p = std::move(pending.front());
    pending.pop_front();
    if (p.done) p.done(reply);
    return true;
  }
};

RedisClient::RedisClient(net::io_context& ioc, RedisOptions options, std::vector<std::string> channels, Message on_message)
    : impl_(std::make_shared<Impl>(ioc, std::move(options), std::move(channels), std::move(on_message))) {}

RedisClient::~RedisClient() = default;

void RedisClient::start() {
  net::post(impl_->ioc, [impl = impl_] { impl->connect(); });
}

void RedisClient::stop() {
  impl_->stopped = true;
  impl_->retry.cancel();
  impl_->drop("stopped");
}

void RedisClient::command(std::vector<std::string> args, Callback done) {
  net::post(impl_->ioc, [impl = impl_, args = std::move(args), done = std::move(done)]() mutable {
    impl->submit(std::move(args), std::move(done));
  });
}

bool RedisClient::up() const { return impl_->healthy.load(std::memory_order_relaxed); }
std::uint64_t RedisClient::failures() const { return impl_->failure_count.load(std::memory_order_relaxed); }

}  // namespace sy::state
