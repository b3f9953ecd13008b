#include "switchyard/state/shared_state.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <random>

namespace sy::state {

namespace net = boost::asio;

namespace {

// Redis 5 and 6 need effects replication for a script that reads TIME and then writes; 7 always does it.
constexpr const char* kPrelude = "if redis.replicate_commands then redis.replicate_commands() end\n";

// The window is a hash of per-second counts (field: unix second). Sums the last 60 seconds, deletes
// older fields, and grants `want` if it fits under the limit, else `need` (the request itself) if that
// fits, else nothing. Redis's clock, so replicas need not agree on the time. -> {granted, new sum}
constexpr const char* kReserve = R"(
local now = tonumber(redis.call('TIME')[1])
local limit, want, need = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local h = redis.call('HGETALL', KEYS[1])
local sum = 0
for i = 1, #h, 2 do
  if tonumber(h[i]) <= now - 60 then redis.call('HDEL', KEYS[1], h[i]) else sum = sum + tonumber(h[i + 1]) end
end
local free = limit - sum
local grant = 0
if free >= want then grant = want elseif need > 0 and free >= need then grant = need end
if grant > 0 then redis.call('HINCRBY', KEYS[1], now, grant) end
redis.call('PEXPIRE', KEYS[1], 61000)
return {grant, sum + grant}
)";

// Adds a settlement (may be negative) to the current second and returns the window's sum.
constexpr const char* kSettle = R"(
local now = tonumber(redis.call('TIME')[1])
local delta = tonumber(ARGV[1])
if delta ~= 0 then redis.call('HINCRBY', KEYS[1], now, delta) end
local h = redis.call('HGETALL', KEYS[1])
local sum = 0
for i = 1, #h, 2 do
  if tonumber(h[i]) <= now - 60 then redis.call('HDEL', KEYS[1], h[i]) else sum = sum + tonumber(h[i + 1]) end
end
redis.call('PEXPIRE', KEYS[1], 61000)
return sum
)";

// Adds USD to a key's day and month totals (strings: Lua numbers would come back as integers).
constexpr const char* kSpend = R"(
local d = redis.call('INCRBYFLOAT', KEYS[1], ARGV[1])
redis.call('PEXPIRE', KEYS[1], 172800000)
local m = redis.call('INCRBYFLOAT', KEYS[2], ARGV[1])
redis.call('PEXPIRE', KEYS[2], 2764800000)
return {d, m}
)";

const std::string& script(const char* body) {
  static thread_local std::unordered_map<const char*, std::string> cache;
  auto& s = cache[body];
  if (s.empty()) s = std::string(kPrelude) + body;
  return s;
}

/// "2026-12-07" and "2026-12" for now (UTC); formatted once per day per thread (admission asks on every
/// request of a key with a budget).
const std::pair<std::string, std::string>& utc_day_month() {
  thread_local std::int64_t cached_day = -1;
  thread_local std::pair<std::string, std::string> cached;
  std::time_t t = std::time(nullptr);
  std::int64_t day = static_cast<std::int64_t>(t) / 86400;
  if (day == cached_day) return cached;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char d[16], m[16];
  std::snprintf(d, sizeof d, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
  std::snprintf(m, sizeof m, "%04d-%02d", tm.tm_year + 1900, tm.tm_mon + 1);
  cached = {d, m};
  cached_day = day;
  return cached;
}

double to_double(const std::string& s) {
  double v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return ec == std::errc() && std::isfinite(v) ? v : 0;
}

constexpr auto kLeaseLife = std::chrono::seconds(5);
constexpr auto kFlushEvery = std::chrono::milliseconds(100);

}  // namespace

// ---- Window ----

std::int64_t Window::limit() const {
  std::lock_guard lock(mu_);
  return limit_;
}

bool Window::take_local(std::int64_t amount, Clock::time_point now) {
  if (amount <= 0) return true;  // nothing to reserve
  std::lock_guard lock(mu_);
  // A stale lease is dropped (Redis still counts it: conservative), and so is one the window outgrew:
  // settlements (real tokens above the estimate) can take the window over its limit, and then nothing
  // more fits, leased or not.
  if (now >= lease_expires_ && lease_ > 0) {
    // Unused: given back with the next flush, while the second it was counted in is still in the window.
    if (now - lease_granted_ < std::chrono::seconds(55)) pending_ -= lease_;
    lease_ = 0;
  }
  if (known_sum_ + pending_ > limit_) lease_ = 0;
  if (lease_ < amount) return false;
  lease_ -= amount;
  return true;
}

void Window::settle(std::int64_t delta) {
  std::lock_guard lock(mu_);
  if (pending_ == 0) pending_since_ = Clock::now();
  pending_ += delta;
}

std::int64_t Window::used() const {
  std::lock_guard lock(mu_);
  return known_sum_ + pending_;
}

// ---- Spend ----

void Spend::add(double usd) {
  if (!(usd > 0) || !std::isfinite(usd)) return;
  std::lock_guard lock(mu_);
  pending_ += usd;
}

std::pair<double, double> Spend::totals() const {
  const auto& [day, month] = utc_day_month();
  std::lock_guard lock(mu_);
  double today = day == day_ ? known_today_ : 0;
  double mon = month == month_ ? known_month_ : 0;
  return {today + pending_, mon + pending_};
}

// ---- SharedState ----

SharedState::SharedState(const config::StateConfig& config) : config_(config) {
  std::random_device rd;
  replica_id_ = std::to_string(rd()) + std::to_string(rd());
  RedisOptions opt;
  opt.host = config.redis_host;
  opt.port = config.redis_port;
  opt.password = config.redis_password;
  opt.db = config.redis_db;
  opt.timeout = config.timeout;
  redis_ = std::make_unique<RedisClient>(ioc_, opt);
  RedisOptions sub_opt = opt;
  sub_opt.db = 0;  // channels are not per database
  subscriber_ = std::make_unique<RedisClient>(ioc_, sub_opt, std::vector<std::string>{config.prefix + "health"},
                                              [this](std::string_view c, std::string_view p) { on_message(c, p); });
  flush_timer_ = std::make_unique<net::steady_timer>(ioc_);
  redis_->start();
  subscriber_->start();
  schedule_flush();
  thread_ = std::thread([this] { ioc_.run(); });
}

SharedState::~SharedState() { shutdown(); }

void SharedState::shutdown() {
  if (!thread_.joinable()) return;
  net::post(ioc_, [this] {
    flush_timer_->cancel();
    redis_->stop();
    subscriber_->stop();
    ioc_.stop();
  });
  thread_.join();
}

std::shared_ptr<Window> SharedState::window(const std::string& name, std::int64_t limit, bool read_back) {
  std::lock_guard lock(mu_);
  auto& w = windows_[name];
  if (!w) w = std::make_shared<Window>(this, config_.prefix + "w:" + name, limit);
  std::lock_guard wl(w->mu_);
  w->limit_ = limit;
  w->read_back_ = w->read_back_ || read_back;
  return w;
}

std::shared_ptr<Spend> SharedState::spend(const std::string& key_name) {
  std::lock_guard lock(mu_);
  auto& s = spends_[key_name];
  if (!s) s = std::make_shared<Spend>(key_name);
  return s;
}

bool SharedState::up() const { return redis_->up(); }
std::uint64_t SharedState::redis_failures() const { return redis_->failures(); }

void SharedState::reserve(std::shared_ptr<Window> w, std::int64_t amount, std::function<void(Verdict)> done) {
  net::post(ioc_, [this, w = std::move(w), amount, done = std::move(done)]() mutable {
    auto finish = [](const std::function<void(Verdict)>& h, Verdict v) { h(v); };
    std::int64_t limit, want = amount;
    bool with_lease = false;
    {
      std::lock_guard lock(w->mu_);
      limit = w->limit_;
      // One reservation at a time asks for a lease on top (so concurrent misses do not each take one).
      auto extra = static_cast<std::int64_t>(std::floor(static_cast<double>(limit) * config_.lease));
      if (extra > 0 && !w->refilling_) {
        w->refilling_ = true;
        with_lease = true;
        want += extra;
      }
    }
    if (!redis_->up()) {
      if (with_lease) {
        std::lock_guard lock(w->mu_);
        w->refilling_ = false;
      }
      return finish(done, Verdict::unavailable);
    }
    commands_.fetch_add(1, std::memory_order_relaxed);
    redis_->command({"EVAL", script(kReserve), "1", w->key_, std::to_string(limit), std::to_string(want), std::to_string(amount)},
                    [w, amount, with_lease, finish, done = std::move(done)](const RedisReply& r) {
                      Verdict v = Verdict::unavailable;
                      {
                        std::lock_guard lock(w->mu_);
                        if (with_lease) w->refilling_ = false;
                        if (r.ok() && r.type == RedisReply::Type::array && r.elements.size() == 2) {
                          std::int64_t granted = r.elements[0].integer;
                          w->known_sum_ = r.elements[1].integer;
                          if (granted >= amount) {
                            v = Verdict::granted;
                            if (granted > amount) {
                              w->lease_ += granted - amount;
                              w->lease_granted_ = Clock::now();
                              w->lease_expires_ = w->lease_granted_ + kLeaseLife;
                            }
                          } else {
                            v = Verdict::refused;
                          }
                        }
                      }
                      finish(done, v);
                    });
  });
}

void SharedState::schedule_flush() {
  flush_timer_->expires_after(kFlushEvery);
  flush_timer_->async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    flush();
    schedule_flush();
  });
}

void SharedState::flush() {
  // The subscriber proves it is alive once a second (a half-open connection would lose events
  // silently): an unanswered PING drops and reopens it, which subscribes again.
  if (subscriber_->up() && ++flushes_ % 10 == 0) subscriber_->command({"PING"}, nullptr);
  if (!redis_->up()) return;  // pending amounts wait for the connection to come back
  std::vector<std::shared_ptr<Window>> windows;
  std::vector<std::shared_ptr<Spend>> spends;
  {
    std::lock_guard lock(mu_);
    for (auto& [n, w] : windows_) windows.push_back(w);
    for (auto& [n, s] : spends_) spends.push_back(s);
  }
  const auto now = Clock::now();
  for (auto& w : windows) {
    std::int64_t delta;
    {
      std::lock_guard lock(w->mu_);
      // Settlements held back longer than the window (Redis was down) no longer belong in it: added now
      // they would all land in one second and refuse everyone for a minute.
      if (w->pending_ != 0 && now - w->pending_since_ > std::chrono::seconds(60)) w->pending_ = 0;
      delta = w->pending_;
      w->pending_ = 0;
      w->pending_since_ = now;
    }
    bool read_back;
    {
      std::lock_guard lock(w->mu_);
      read_back = w->read_back_;
    }
    if (delta == 0 && !read_back) continue;
    commands_.fetch_add(1, std::memory_order_relaxed);
    redis_->command({"EVAL", script(kSettle), "1", w->key_, std::to_string(delta)}, [w, delta](const RedisReply& r) {
      std::lock_guard lock(w->mu_);
      if (r.ok() && r.type == RedisReply::Type::integer) w->known_sum_ = r.integer;
      else if (!r.maybe_applied) w->pending_ += delta;  // never sent: try again with the next flush
    });
  }
  const auto [day, month] = utc_day_month();
  for (auto& s : spends) {
    double delta;
    {
      std::lock_guard lock(s->mu_);
      // Nothing to add: the other replicas' spend is read back once a second, not every flush.
      if (s->pending_ == 0 && now - s->refreshed_ < std::chrono::seconds(1)) continue;
      s->refreshed_ = now;
      delta = s->pending_;
      s->pending_ = 0;
    }
    // Also with nothing to add: the read-back shows what the other replicas spent.
    char amount[64];
    std::snprintf(amount, sizeof amount, "%.12f", delta);
    commands_.fetch_add(1, std::memory_order_relaxed);
    redis_->command({"EVAL", script(kSpend), "2", config_.prefix + "spend:" + s->name_ + ":" + day,
                     config_.prefix + "spend:" + s->name_ + ":" + month, amount},
                    [s, delta, day = day, month = month](const RedisReply& r) {
                      std::lock_guard lock(s->mu_);
                      if (r.ok() && r.type == RedisReply::Type::array && r.elements.size() == 2) {
                        s->known_today_ = to_double(r.elements[0].str);
                        s->known_month_ = to_double(r.elements[1].str);
                        s->day_ = day;
                        s->month_ = month;
                      } else if (!r.maybe_applied) {
                        s->pending_ += delta;  // never sent (a timed-out one may have run: not twice)
                      }
                    });
  }
}

void SharedState::publish(const HealthEvent& e) {
  std::string payload = replica_id_ + " " + (e.kind == HealthEvent::Kind::cooldown ? "cooldown" : "open") + " " +
                        std::to_string(e.remaining.count()) + " " + e.deployment;
  net::post(ioc_, [this, payload = std::move(payload)]() mutable {
    commands_.fetch_add(1, std::memory_order_relaxed);
    redis_->command({"PUBLISH", config_.prefix + "health", std::move(payload)}, nullptr);
  });
}

void SharedState::command(std::vector<std::string> args, std::function<void(const RedisReply&)> done) {
  net::post(ioc_, [this, args = std::move(args), done = std::move(done)]() mutable {
    commands_.fetch_add(1, std::memory_order_relaxed);
    redis_->command(std::move(args), std::move(done));
  });
}

void SharedState::on_health_event(std::function<void(const HealthEvent&)> f) {
  std::lock_guard lock(mu_);
  on_event_ = std::move(f);
}

void SharedState::on_message(std::string_view, std::string_view payload) {
  // "<replica> <kind> <ms> <deployment id (may contain spaces)>"
  auto next = [&payload]() {
    auto sp = payload.find(' ');
    std::string_view part = payload.substr(0, sp);
    payload = sp == std::string_view::npos ? std::string_view{} : payload.substr(sp + 1);
    return part;
  };
  std::string_view replica = next(), kind = next(), ms = next();
  if (replica == replica_id_ || payload.empty()) return;
  HealthEvent e;
  if (kind == "cooldown") e.kind = HealthEvent::Kind::cooldown;
  else if (kind == "open") e.kind = HealthEvent::Kind::breaker_open;
  else return;
  long long v = 0;
  auto [p, ec] = std::from_chars(ms.data(), ms.data() + ms.size(), v);
  if (ec != std::errc() || v < 0) return;
  e.remaining = std::chrono::milliseconds(std::min<long long>(v, 24LL * 3600 * 1000));
  e.deployment = std::string(payload);
  std::function<void(const HealthEvent&)> f;
  {
    std::lock_guard lock(mu_);
    f = on_event_;
  }
  if (f) f(e);
}

namespace {

/// Suspends this coroutine until `start(answer)`'s `answer(value)` runs (on the state thread; the value
/// is handed back on this coroutine's executor), or `patience` passed: then `fallback`. Bounded, so a
/// stopped or stuck state thread never hangs a request.
template <class T, class Start>
net::awaitable<T> from_state_thread(std::chrono::milliseconds patience, T fallback, Start start) {
  struct Wait {
    net::steady_timer timer;
    T value;
  };
  auto ex = co_await net::this_coro::executor;
  auto wait = std::make_shared<Wait>(Wait{net::steady_timer(ex, patience), fallback});
  start([wait, ex](T value) {
    net::post(ex, [wait, value = std::move(value)]() mutable {
      wait->value = std::move(value);
      wait->timer.cancel();  // a late answer after the patience ran out changes nothing
    });
  });
  boost::system::error_code ec;
  co_await wait->timer.async_wait(net::redirect_error(net::use_awaitable, ec));
  co_return ec == net::error::operation_aborted ? std::move(wait->value) : fallback;
}

/// The state thread answers within the command timeout (or fails the command): twice that is patience.
std::chrono::milliseconds patience(const SharedState& s) { return 2 * s.config().timeout + std::chrono::milliseconds(50); }

}  // namespace

net::awaitable<Verdict> reserve(const std::shared_ptr<Window>& w, std::int64_t amount) {
  if (w->take_local(amount, Clock::now())) co_return Verdict::granted;
  co_return co_await from_state_thread(patience(*w->owner()), Verdict::unavailable, [&](auto answer) {
    w->owner()->reserve(w, amount, std::move(answer));
  });
}

net::awaitable<RedisReply> command(SharedState& s, std::vector<std::string> args) {
  RedisReply timeout;
  timeout.type = RedisReply::Type::error;
  timeout.str = "timeout";
  co_return co_await from_state_thread(patience(s), std::move(timeout), [&](auto answer) {
    s.command(std::move(args), std::move(answer));
  });
}

}  // namespace sy::state
