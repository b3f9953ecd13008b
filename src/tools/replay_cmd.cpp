// switchyard eval --replay LOG --config FILE: replays the requests of a decision log through the routers
// of a candidate config, decision only (no model is called), and reports how often it would have chosen
// what was chosen, and what its choices would have cost at the logged token counts.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <cstdio>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "switchyard/config/config.hpp"
#include "switchyard/core/json_tree.hpp"
#include "switchyard/learn/dataset.hpp"
#include "switchyard/pipeline/model_caller.hpp"
#include "switchyard/pipeline/router.hpp"
#include "switchyard/tokenize/lazy_token_counter.hpp"
#include "tools/learn_cli.hpp"

namespace sy::tools::cli {

namespace net = boost::asio;

namespace {

/// One logged request that can be replayed: it was routed, and its prompt was logged.
struct Logged {
  std::string router, model, key, prompt;
  Usage usage;
  double cost = 0;
};

/// The decision lines of `text` that name a router and carry their prompt (decision_log.include_prompt).
std::vector<Logged> replayable(const std::string& text, std::size_t& skipped) {
  std::vector<Logged> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    auto parsed = json::parse_tree<nlohmann::json>(line);  // the JSON guard first: bounded depth and size
    if (!parsed || !parsed->is_object() || parsed->contains("type")) continue;  // feedback and shadow lines
    const nlohmann::json& j = *parsed;
    if (json::string_or(j, "router").empty()) continue;  // a model was named
    if (!j.contains("prompt") || !j["prompt"].is_string()) {
      ++skipped;
      continue;
    }
    Logged l;
    l.router = json::string_or(j, "router");
    l.model = json::string_or(j, "model");
    l.key = json::string_or(j, "key");
    l.prompt = j["prompt"].get<std::string>();
    l.usage.prompt_tokens = json::integer_or(j, "prompt_tokens");
    l.usage.completion_tokens = json::integer_or(j, "completion_tokens");
    l.usage.known = true;
    l.cost = json::number_or(j, "cost_usd");
    out.push_back(std::move(l));
  }
  return out;
}

/// The candidate's decision for one logged request: its model, or empty when it would have rejected.
std::string decide(const pipeline::Router& router, const config::Config& cfg, const Logged& l,
                   const tokenize::LazyTokenCounter* counter) {
  nlohmann::json body = {{"model", l.router}, {"messages", nlohmann::json::array({{{"role", "user"}, {"content", l.prompt}}})}};
  auto req = Request::parse(Endpoint::chat, body.dump());
  if (!req) return {};
  pipeline::Caller caller;
  caller.key_name = l.key;
  for (std::size_t i = 0; i < cfg.auth.keys.size(); ++i) {
    if (cfg.auth.keys[i].name != l.key) continue;
    caller.key = &cfg.auth.keys[i];
    caller.key_index = static_cast<int>(i);
    caller.tier = cfg.auth.keys[i].tier;
  }
  pipeline::RequestFeatures features(**req, caller, {}, {}, counter);
  std::string model;
  net::io_context ioc;
  net::co_spawn(ioc, [&]() -> net::awaitable<void> {
    auto r = co_await router.route(features, pipeline::no_model_calls());
    if (r.kind == pipeline::RouteResult::Kind::route) model = r.model;
  }, net::detached);
  ioc.run();
  return model;
}

}  // namespace

int replay_main(int argc, char** argv) {
  Args a(argc, argv, {}, {});
  if (a.help() || !a.has("replay") || !a.has("config")) {
    std::fputs(
        "usage: switchyard eval --replay DECISION_LOG --config CANDIDATE.yaml [--router NAME]\n"
        "  Replays the routed requests of a decision log (written with decision_log.include_prompt: true)\n"
        "  through the routers of a candidate config, decision only: agreement with what was chosen, and\n"
        "  the cost of the candidate's choices at the logged token counts (first deployment's prices).\n"
        "  The request is rebuilt from its last user message and its key (tier, metadata from the\n"
        "  candidate's auth.keys): rules on system prompts, tools or earlier turns see only that message.\n"
        "  --router NAME   replay every request through this router (default: the router each one used)\n",
        a.help() ? stdout : stderr);
    return a.help() ? 0 : 2;
  }
  if (!a.error().empty()) return fail("eval", a.error());
  config::Diagnostics d;
  auto cfg = config::load_config_file(a.get("config"), d);
  if (!cfg) {
    for (const auto& e : d.errors()) std::fprintf(stderr, "%s\n", e.c_str());
    return 1;
  }
  auto counter = std::make_shared<const tokenize::LazyTokenCounter>();
  std::map<std::string, std::shared_ptr<const embed::Embedder>> embedders;
  net::thread_pool cpu(1);
  pipeline::BuildContext ctx{*cfg, counter, nullptr, &embedders,
                             std::filesystem::path(a.get("config")).parent_path().string(), &cpu};
  auto routers = pipeline::RouterSet::build(*cfg, ctx, d);
  if (!routers) {
    for (const auto& e : d.errors()) std::fprintf(stderr, "%s\n", e.c_str());
    return 1;
  }
  auto text = learn::read_file(a.get("replay"));
  if (!text) return fail("eval", text.error().message);
  std::size_t no_prompt = 0, no_router = 0, agree = 0, rejected = 0;
  double logged_cost = 0, candidate_cost = 0;
  std::map<std::string, std::pair<std::size_t, std::size_t>> per_model;  // logged, candidate
  auto logged = replayable(*text, no_prompt);
  std::size_t replayed = 0;
  for (const auto& l : logged) {
    const pipeline::Router* router = routers->find(a.get("router", l.router));
    if (!router) {
      ++no_router;
      continue;
    }
    std::string model = decide(*router, *cfg, l, counter.get());
    ++replayed;
    logged_cost += l.cost;
    ++per_model[l.model].first;
    if (model.empty()) {
      ++rejected;
      continue;
    }
    ++per_model[model].second;
    candidate_cost += cfg->cost_on(model, l.usage);
    if (model == l.model) ++agree;
  }
  cpu.join();
  std::printf("replayed %zu routed requests (%zu without a logged prompt, %zu whose router the candidate lacks)\n",
              replayed, no_prompt, no_router);
  if (replayed == 0) return 1;
  std::printf("agreement %.1f %% (%zu of %zu), rejected by the candidate %zu\n",
              100.0 * static_cast<double>(agree) / static_cast<double>(replayed), agree, replayed, rejected);
  std::printf("cost at the logged token counts: logged %.6f USD, candidate %.6f USD (%+.1f %%)\n", logged_cost,
              candidate_cost, logged_cost > 0 ? 100.0 * (candidate_cost - logged_cost) / logged_cost : 0.0);
  std::printf("%-24s %10s %10s\n", "model", "logged", "candidate");
  for (const auto& [m, n] : per_model) std::printf("%-24s %10zu %10zu\n", m.empty() ? "(none)" : m.c_str(), n.first, n.second);
  return 0;
}

}  // namespace sy::tools::cli
