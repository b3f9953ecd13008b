// Target: the rule stage (src/pipeline/stages/rule_stage.cpp): a rule stage built from fuzzed YAML by
// its registered factory (conditions, RE2 regexes, keywords, detectors, combinators, actions), then run
// on a request built from fuzzed text, as tests/pipeline/rule_stage_test.cpp drives it.
// Input: NUL-separated parts: the stage YAML (`rules: [...]`), the last user message, a system message,
// and a value used for the x-customer header and the caller tier. Targets `small` and `large` exist.
// YAML syntax errors thrown by parse_yaml are not this target's subject (config_load covers parse_yaml)
// and are skipped so they do not hide the rule stage.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <cstdint>
#include <exception>
#include <string>

#include "fuzz_common.hpp"
#include "switchyard/config/config.hpp"
#include "switchyard/core/json_scan.hpp"
#include "switchyard/pipeline/stage.hpp"

namespace net = boost::asio;
using namespace sy;
using namespace sy::pipeline;

namespace {

const config::Config& base_config() {
  static std::shared_ptr<const config::Config> cfg = [] {
    config::Diagnostics d;
    auto c = config::load_config_text(
        "providers: [{name: mock, type: mock}]\nmodels: [{name: small, provider: mock}, {name: large, provider: mock}]\n",
        "fuzz.yaml", d);
    if (!c) std::abort();
    return c;
  }();
  return *cfg;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto parts = sy::fuzz::split_nul(sy::fuzz::as_view(data, size), 4);
  const config::Config& cfg = base_config();

  config::Diagnostics pd;
  config::Node node;
  try {
    node = config::parse_yaml(parts[0], pd);
  } catch (const std::exception&) {
    return 0;
  }
  config::Diagnostics d;
  BuildContext ctx{cfg, nullptr, nullptr, nullptr, "", nullptr};
  ctx.resolve_target = [&](std::string_view t) { return cfg.find_model(t) ? std::string(t) : std::string(); };
  std::unique_ptr<Stage> stage = (*stage_factory("rule"))(node, ctx, d);
  // A factory may return a stage and still record problems: RouterSet::build then refuses the whole
  // config, so such a stage never runs.
  if (!stage || !d.empty()) return 0;

  std::string body = R"({"model":"auto","max_tokens":100,"temperature":0.5,"messages":[{"role":"system","content":)" +
                     json::quote(parts[2]) + R"(},{"role":"user","content":)" + json::quote(parts[1]) + "}]}";
  // Text that is not valid UTF-8 makes a body the parser refuses (json::quote copies bytes as they are):
  // such a request never reaches a router.
  auto req = Request::parse(Endpoint::chat, body);
  if (!req) return 0;
  std::string header_value(parts[3]);
  RequestFeatures f(**req, Caller{"key", header_value}, {},
                    [&](std::string_view n) -> std::string_view {
                      return n == "x-customer" ? std::string_view(header_value) : std::string_view{};
                    },
                    nullptr);
  static net::io_context ioc;
  StageContext sctx{f};
  ioc.restart();
  auto fut = net::co_spawn(ioc, stage->decide(sctx), net::use_future);
  ioc.run();
  Decision dec = fut.get();
  if (dec.kind == Decision::Kind::route) SY_FUZZ_CHECK(dec.target == "small" || dec.target == "large", dec.target);
  return 0;
}
