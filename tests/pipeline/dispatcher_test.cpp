// The dispatcher's failover loop, driven by a scripted transport and a manual clock: no sockets, no
// sleeping. Each test states one behaviour of dispatcher.hpp's five steps.
#include "switchyard/pipeline/dispatcher.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <deque>
#include <functional>
#include <optional>

namespace sy::pipeline {
namespace {

namespace net = boost::asio;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

/// Time that moves only when a test advances it, or when the dispatcher sleeps (a sleep jumps to its end).
class ManualClock final : public DispatchClock {
 public:
  Clock::time_point now() const override { return now_; }
  net::awaitable<void> sleep_until(Clock::time_point t) const override {
    slept += std::max(Clock::duration::zero(), t - now_);
    if (t > now_) now_ = t;
    co_return;
  }
  void advance(Clock::duration d) { now_ += d; }
  mutable Clock::duration slept{0};

 private:
  mutable Clock::time_point now_ = Clock::time_point{} + 1000h;
};

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += s + "\n";
  return out;
}

struct Reply {
  int status = 200;
  providers::Headers headers;
  std::string body;
};

Reply ok(const std::string& text = "ok") {
  return {200, {{"content-type", "application/json"}},
          R"({"id":"c","object":"chat.completion","model":"x","choices":[{"index":0,"message":{"role":"assistant","content":")" +
              text + R"("},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}})"};
}
Reply failure(int status, providers::Headers headers = {}) {
  headers.push_back({"content-type", "application/json"});
  return {status, std::move(headers), R"({"error":{"message":"scripted failure","type":"server_error"}})"};
}

class ScriptedExchange final : public providers::Exchange {
 public:
  explicit ScriptedExchange(Reply r) : body_(std::move(r.body)) {
    head_.status = r.status;
    head_.headers = std::move(r.headers);
  }
  const providers::ResponseHead& head() const override { return head_; }
  net::awaitable<Result<bool>> read_some(std::string& out) override {
    if (done_) co_return false;
    out += body_;
    done_ = true;
    co_return true;
  }

 private:
  providers::ResponseHead head_;
  std::string body_;
  bool done_ = false;
};

/// Answers by provider name from a per-provider script (the last reply repeats); records every call.
class ScriptedTransport final : public providers::Transport {
 public:
  net::awaitable<Result<std::unique_ptr<providers::Exchange>>> start(providers::WorkerContext&,
                                                                      const config::ProviderConfig& provider,
                                                                      providers::UpstreamRequest,
                                                                      Clock::time_point) override {
    calls.push_back(provider.name);
    auto& script = scripts[provider.name];
    if (script.empty()) co_return Error::make(ErrorKind::connection, "no script for " + provider.name);
    Reply r = script.front();
    if (script.size() > 1) script.pop_front();
    co_return std::unique_ptr<providers::Exchange>(std::make_unique<ScriptedExchange>(std::move(r)));
  }
  std::map<std::string, std::deque<Reply>> scripts;
  std::vector<std::string> calls;
};

class DispatcherTest : public ::testing::Test {
 protected:
  /// `models` is the YAML of the models list; providers p0..p2 exist.
  void load(const std::string& models, const std::string& reliability = "") {
    std::string yaml = "reliability:\n  backoff_base: 100ms\n  backoff_max: 1s\n" + reliability +
                       "providers:\n"
                       "  - {name: p0, type: openai, base_url: \"http://upstream.test/v1\"}\n"
                       "  - {name: p1, type: openai, base_url: \"http://upstream.test/v1\"}\n"
                       "  - {name: p2, type: openai, base_url: \"http://upstream.test/v1\"}\n"
                       "models:\n" + models;
    config::Diagnostics d;
    auto cfg = config::load_config_text(yaml, "test.yaml", d);
    ASSERT_TRUE(cfg) << join(d.errors());
    DispatcherDeps deps{{transport, transport}, health, nullptr, std::make_shared<limits::RetryBudget>(), &clock};
    dispatcher = Dispatcher::build(cfg, deps, d);
    ASSERT_TRUE(dispatcher) << join(d.errors());
  }

  Result<Outcome> run(const std::string& model, DispatchTrace& trace, const std::string& content = "hi") {
    auto req = Request::parse(Endpoint::chat, R"({"model":")" + model +
                                                  R"(","messages":[{"role":"user","content":")" + content + R"("}]})");
    EXPECT_TRUE(req.ok());
    net::io_context ioc;
    providers::WorkerContext w;
    std::optional<Result<Outcome>> out;
    auto body = [&]() -> net::awaitable<void> { out.emplace(co_await dispatcher->dispatch(w, **req, model, trace)); };
    net::co_spawn(ioc, body(), [](std::exception_ptr e) {
      if (e) std::rethrow_exception(e);
    });
    ioc.run();
    if (!out) return Error::make(ErrorKind::internal, "the dispatch did not finish");
    return std::move(*out);
  }
  Result<Outcome> run(const std::string& model) {
    DispatchTrace trace;
    return run(model, trace);
  }

  ManualClock clock;
  std::shared_ptr<ScriptedTransport> transport = std::make_shared<ScriptedTransport>();
  std::shared_ptr<limits::HealthRegistry> health = std::make_shared<limits::HealthRegistry>();
  std::shared_ptr<const Dispatcher> dispatcher;
};

const char* kTwoDeployments =
    "  - name: m\n"
    "    strategy: least-busy\n"
    "    deployments:\n"
    "      - {provider: p0, model: a}\n"
    "      - {provider: p1, model: b}\n";
const char* kOneDeployment =
    "  - name: m\n"
    "    deployments:\n"
    "      - {provider: p0, model: a}\n";

TEST_F(DispatcherTest, UnknownModelIsNotFound) {
  load(kOneDeployment);
  auto r = run("nope");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::not_found);
  EXPECT_EQ(r.error().code, "model_not_found");
  EXPECT_EQ(r.error().param, "model");
  EXPECT_TRUE(transport->calls.empty());
}

TEST_F(DispatcherTest, FailsOverToAnotherDeploymentWithoutWaiting) {
  load(kTwoDeployments);
  transport->scripts["p0"] = {failure(500)};
  transport->scripts["p1"] = {ok("from b")};
  for (int i = 0; i < 8; ++i) {
    DispatchTrace trace;
    auto r = run("m", trace);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_NE(r->body.find("from b"), std::string::npos);
    EXPECT_EQ(trace.deployment, "m/p1/1");
  }
  EXPECT_EQ(clock.slept, Clock::duration::zero()) << "failing over needs no backoff";
}

TEST_F(DispatcherTest, RetriesTheOnlyDeploymentAfterABackoffWithJitter) {
  load(kOneDeployment);
  transport->scripts["p0"] = {failure(502), ok("second try")};
  DispatchTrace trace;
  auto r = run("m", trace);
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(trace.attempts.size(), 2u);
  EXPECT_EQ(trace.attempts[0].outcome, "server_error");
  EXPECT_EQ(trace.attempts[1].outcome, "ok");
  EXPECT_GE(clock.slept, 50ms);  // backoff_base 100ms with jitter 0.5..1
  EXPECT_LE(clock.slept, 100ms);
  EXPECT_GE(trace.upstream_time, std::chrono::duration_cast<std::chrono::microseconds>(clock.slept));
}

TEST_F(DispatcherTest, NonRetryableErrorIsReturnedWithoutFailover) {
  load(kTwoDeployments);
  transport->scripts["p0"] = {failure(400)};
  transport->scripts["p1"] = {failure(400)};
  auto r = run("m");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::upstream_bad_request);
  EXPECT_EQ(transport->calls.size(), 1u);
}

TEST_F(DispatcherTest, RateLimitedDeploymentCoolsDownAndTheNextRequestIsA429WithRetryAfter) {
  load(kOneDeployment);
  transport->scripts["p0"] = {failure(429, {{"retry-after", "7"}})};
  auto first = run("m");
  ASSERT_FALSE(first);
  EXPECT_EQ(first.error().kind, ErrorKind::rate_limited);
  EXPECT_EQ(transport->calls.size(), 1u) << "a cooling-down deployment is not retried";

  DispatchTrace trace;
  auto second = run("m", trace);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().kind, ErrorKind::rate_limited);
  ASSERT_TRUE(second.error().retry_after);
  EXPECT_GE(*second.error().retry_after, 6900ms);
  EXPECT_LE(*second.error().retry_after, 7001ms);
  ASSERT_EQ(trace.skipped.size(), 1u);
  EXPECT_EQ(trace.skipped[0].second, "cooldown");
  EXPECT_EQ(transport->calls.size(), 1u);

  clock.advance(7s);
  transport->scripts["p0"] = {ok("after cooldown")};
  EXPECT_TRUE(run("m"));
}

TEST_F(DispatcherTest, WaitsForTheEarliestRecoveryWhenConfigured) {
  load(kOneDeployment, "  wait_for_recovery: 3s\n");
  transport->scripts["p0"] = {failure(429, {{"retry-after", "2"}}), ok("after the wait")};
  DispatchTrace trace;
  auto r = run("m", trace);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_NE(r->body.find("after the wait"), std::string::npos);
  // The cooldown (2 s), then the retry's own backoff (backoff_base 100 ms with jitter).
  EXPECT_GE(clock.slept, 2s + 50ms);
  EXPECT_LE(clock.slept, 2s + 101ms);
}

TEST_F(DispatcherTest, BreakerOpensHalfOpensAfterItsCooldownAndClosesOnSuccess) {
  load(kOneDeployment, "  max_attempts: 1\n  breaker: {window: 10s, min_requests: 3, error_ratio: 0.5, cooldown: 400ms}\n");
  transport->scripts["p0"] = {failure(500)};
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(run("m"));
  EXPECT_EQ(transport->calls.size(), 3u);

  DispatchTrace trace;
  auto open = run("m", trace);
  ASSERT_FALSE(open);
  EXPECT_EQ(open.error().kind, ErrorKind::unavailable);
  ASSERT_TRUE(open.error().retry_after);
  EXPECT_LE(*open.error().retry_after, 401ms);
  ASSERT_EQ(trace.skipped.size(), 1u);
  EXPECT_EQ(trace.skipped[0].second, "breaker_open");
  EXPECT_EQ(transport->calls.size(), 3u) << "no call while open";

  clock.advance(400ms);
  transport->scripts["p0"] = {ok("probe")};
  auto probe = run("m");
  ASSERT_TRUE(probe) << probe.error().message;
  EXPECT_EQ(transport->calls.size(), 4u);
  EXPECT_TRUE(run("m")) << "closed again";
}

TEST_F(DispatcherTest, PromptTooLargeForEveryDeploymentGoesToTheContextFallbackUncalled) {
  load("  - name: small\n"
       "    context_fallback: large\n"
       "    deployments:\n"
       "      - {provider: p0, model: a, context_window: 50}\n"
       "  - name: large\n"
       "    deployments:\n"
       "      - {provider: p1, model: b, context_window: 100000}\n");
  transport->scripts["p1"] = {ok("large")};
  DispatchTrace trace;
  auto r = run("small", trace, std::string(2000, 'x'));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(trace.model, "large");
  EXPECT_EQ(transport->calls, std::vector<std::string>{"p1"});
  ASSERT_EQ(trace.skipped.size(), 1u);
  EXPECT_EQ(trace.skipped[0].second, "context_window");
}

TEST_F(DispatcherTest, FallbackModelAnswersWhenEveryDeploymentFailed) {
  load("  - name: m\n"
       "    fallbacks: [backup]\n"
       "    deployments:\n"
       "      - {provider: p0, model: a}\n"
       "  - name: backup\n"
       "    deployments:\n"
       "      - {provider: p2, model: c}\n");
  transport->scripts["p0"] = {failure(503)};
  transport->scripts["p2"] = {ok("backup")};
  DispatchTrace trace;
  auto r = run("m", trace);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(trace.model, "backup");
  EXPECT_EQ(transport->calls, (std::vector<std::string>{"p0", "p0", "p2"}));
}

TEST_F(DispatcherTest, AttemptLimitBoundsTheWholeRequest) {
  load(kTwoDeployments, "  max_attempts: 2\n");
  transport->scripts["p0"] = {failure(500)};
  transport->scripts["p1"] = {failure(500)};
  auto r = run("m");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::server_error);
  EXPECT_EQ(transport->calls.size(), 2u);
}

TEST_F(DispatcherTest, ConfiguredRpmIsASkipWithRetryAfterAtTheWindowsEnd) {
  load("  - name: m\n"
       "    deployments:\n"
       "      - {provider: p0, model: a, rpm: 2}\n");
  transport->scripts["p0"] = {ok()};
  EXPECT_TRUE(run("m"));
  EXPECT_TRUE(run("m"));
  DispatchTrace trace;
  auto third = run("m", trace);
  ASSERT_FALSE(third);
  EXPECT_EQ(third.error().kind, ErrorKind::rate_limited);
  ASSERT_EQ(trace.skipped.size(), 1u);
  EXPECT_EQ(trace.skipped[0].second, "no_headroom");
  clock.advance(61s);
  EXPECT_TRUE(run("m"));
}

TEST_F(DispatcherTest, DeploymentStateSurvivesARebuildFromTheSameRegistry) {
  load(kOneDeployment);
  transport->scripts["p0"] = {failure(429, {{"retry-after", "30"}})};
  EXPECT_FALSE(run("m"));
  load(kOneDeployment);  // a reload: a new dispatcher over the same deployment states
  DispatchTrace trace;
  EXPECT_FALSE(run("m", trace));
  ASSERT_EQ(trace.skipped.size(), 1u);
  EXPECT_EQ(trace.skipped[0].second, "cooldown");
  EXPECT_EQ(transport->calls.size(), 1u);
}

}  // namespace
}  // namespace sy::pipeline
