// Micro-benchmarks of the rule stage: one decide() per iteration, coroutine frame included, over a
// realistic rule set (secret detectors, a token-length guard, keywords, a regex, tiers and a header) and a
// typical chat request that matches none of them, so every condition is evaluated.
#include <benchmark/benchmark.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <map>
#include <string>

#include "switchyard/config/config.hpp"
#include "switchyard/pipeline/stage.hpp"
#include "switchyard/tokenize/lazy_token_counter.hpp"

namespace {

using namespace sy;
using namespace sy::pipeline;
namespace net = boost::asio;

constexpr const char* kRules = R"(
rules:
  - name: secrets
    when: {detect: [api_key, credit_card], in: all}
    reject: {status: 400, message: "no secrets"}
  - name: long-docs
    when: {prompt_tokens: {gt: 100000}}
    route: large
  - name: free-tier
    when: {tier: free}
    route: small
  - name: vip
    when: {header: {name: x-customer, equals: vip}}
    tag: vip
  - name: code
    when: {any: [{keywords: [python, javascript, compile, stack trace]}, {regex: "```|def \\w+\\("}]}
    route: large
  - when: {all: [{tag: vip}, {not: {keywords: [cheap, quick]}}]}
    route: large
)";

struct Fixture {
  config::Diagnostics d;
  std::shared_ptr<const config::Config> cfg = config::load_config_text(
      "providers: [{name: mock, type: mock}]\nmodels: [{name: small, provider: mock}, {name: large, provider: mock}]\n",
      "bench.yaml", d);
  tokenize::LazyTokenCounter counter;
  std::unique_ptr<Stage> stage;

  Fixture() {
    config::Node n = config::parse_yaml(kRules, d);
    BuildContext ctx{*cfg, nullptr, nullptr, nullptr, "", nullptr};
    ctx.resolve_target = [this](std::string_view t) { return cfg->find_model(t) ? std::string(t) : std::string(); };
    stage = (*stage_factory("rule"))(n, ctx, d);
    counter.load_now();
  }
};

void BM_RuleStageDecide(benchmark::State& state) {
  static Fixture fx;
  if (!fx.stage) {
    state.SkipWithError("rule stage did not build");
    return;
  }
  const std::string body =
      R"({"model":"auto","messages":[{"role":"system","content":"You are a helpful assistant."},)"
      R"({"role":"user","content":"Summarise the causes of the French revolution in three bullet points, )"
      R"(with one sentence each and a short conclusion about what historians still debate."}]})";
  auto req = Request::parse(Endpoint::chat, body);
  std::map<std::string, std::string, std::less<>> headers = {{"x-customer", "regular"}};
  net::io_context ioc;
  for (auto _ : state) {
    RequestFeatures f(**req, Caller{"team-a", "pro"}, {},
                      [&](std::string_view n) -> std::string_view {
                        auto it = headers.find(n);
                        return it == headers.end() ? std::string_view{} : std::string_view(it->second);
                      },
                      &fx.counter);
    StageContext ctx{f};
    Decision out;
    net::co_spawn(ioc, fx.stage->decide(ctx), [&](std::exception_ptr, Decision dn) { out = std::move(dn); });
    ioc.restart();
    ioc.run();
    benchmark::DoNotOptimize(out);
  }
}
BENCHMARK(BM_RuleStageDecide)->Unit(benchmark::kMicrosecond);

}  // namespace
