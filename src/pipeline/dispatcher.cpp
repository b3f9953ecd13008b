#include "switchyard/pipeline/dispatcher.hpp"

#include <algorithm>
#include <cmath>
#include <random>

namespace sy::pipeline {

namespace net = boost::asio;
using Clock = std::chrono::steady_clock;

net::awaitable<Result<bool>> ResponseStream::next(std::string& out) {
  if (!pending_.empty()) {
    out.append(pending_);
    pending_.clear();
    co_return true;
  }
  if (ended_) co_return false;
  for (;;) {
    raw_.clear();
    auto more = co_await exchange_->read_some(raw_);
    if (!more) co_return std::move(more).error();
    if (!*more) {
      ended_ = true;
      size_t before = out.size();
      auto st = decoder_->finish(out);
      if (!st) co_return std::move(st).error();
      co_return out.size() > before;
    }
    size_t before = out.size();
    auto st = decoder_->feed(raw_, out);
    if (!st) co_return std::move(st).error();
    if (out.size() > before) co_return true;
  }
}

namespace {

// Deployments in the order to try them: a weighted random permutation (weight 0 goes last).
std::vector<const config::DeploymentConfig*> order_deployments(const config::ModelConfig& m) {
  std::vector<const config::DeploymentConfig*> out;
  out.reserve(m.deployments.size());
  for (const auto& d : m.deployments) out.push_back(&d);
  if (out.size() < 2) return out;
  thread_local std::mt19937_64 rng{std::random_device{}()};
  // Efraimidis-Spirakis: sort by u^(1/w) descending gives a weighted permutation.
  std::vector<std::pair<double, const config::DeploymentConfig*>> keyed;
  std::uniform_real_distribution<double> uni(1e-12, 1.0);
  for (auto* d : out) keyed.emplace_back(d->weight > 0 ? std::pow(uni(rng), 1.0 / d->weight) : -1.0, d);
  std::sort(keyed.begin(), keyed.end(), [](auto& a, auto& b) { return a.first > b.first; });
  for (size_t i = 0; i < out.size(); ++i) out[i] = keyed[i].second;
  return out;
}

}  // namespace

net::awaitable<Result<Outcome>> Dispatcher::try_deployment(providers::WorkerContext& ctx, const config::Config& config,
                                                           const Request& request, const config::ModelConfig& model,
                                                           const config::DeploymentConfig& dep,
                                                           DispatchTrace& trace) const {
  const auto& provider = config.providers[dep.provider_index];
  const providers::WireFormat* format = providers::wire_format_for(provider.type);
  if (!format) co_return Error::make(ErrorKind::internal, "no wire format for provider type " + provider.type);
  auto& transport = provider.type == "mock" ? transports_.mock : transports_.http;
  auto encoded = format->encode(request, providers::EncodeOptions{provider, dep, true});
  if (!encoded) co_return std::move(encoded).error();

  auto started = Clock::now();
  auto deadline = started + provider.total_timeout;
  Attempt attempt{dep.id, "ok", 0, {}};
  auto record = [&](const Error* e) {
    attempt.elapsed = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - started);
    trace.upstream_time += attempt.elapsed;
    if (e) attempt.outcome = std::string(to_string(e->kind));
    trace.attempts.push_back(attempt);
  };
  auto fail = [&](Error e) -> Result<Outcome> {
    e.deployment = dep.id;
    record(&e);
    return e;
  };

  auto ex = co_await transport->start(ctx, provider, std::move(*encoded), deadline);
  if (!ex) co_return fail(std::move(ex).error());
  auto& exchange = *ex;
  attempt.status = exchange->head().status;
  trace.time_to_head = exchange->time_to_head;

  if (attempt.status < 200 || attempt.status > 299) {
    std::string body;
    auto st = co_await exchange->read_all(body, 1 << 20);
    (void)st;  // the status alone classifies a truncated error body
    co_return fail(format->classify_error(attempt.status, exchange->head().headers, body));
  }

  Outcome out;
  if (!request.stream()) {
    std::string body;
    auto st = co_await exchange->read_all(body, kMaxUpstreamBody);
    if (!st) co_return fail(std::move(st).error());
    auto decoded = format->decode_response(request, std::move(body), out.usage);
    if (!decoded) co_return fail(std::move(decoded).error());
    out.body = std::move(*decoded);
  } else {
    // Wait for the first event before committing, so a stream that dies before saying anything can
    // still fail over invisibly.
    auto decoder = format->stream_decoder(request);
    std::string first, raw;
    while (decoder->events() == 0) {
      raw.clear();
      auto more = co_await exchange->read_some(raw);
      if (!more) co_return fail(std::move(more).error());
      if (!*more) {
        auto st = decoder->finish(first);
        if (!st) co_return fail(std::move(st).error());
        break;
      }
      auto st = decoder->feed(raw, first);
      if (!st) co_return fail(std::move(st).error());
    }
    if (decoder->events() == 0) co_return fail(Error::make(ErrorKind::connection, "upstream stream carried no events"));
    out.stream = std::make_unique<ResponseStream>(std::move(exchange), std::move(decoder), std::move(first));
  }
  record(nullptr);
  trace.model = model.name;
  trace.deployment = dep.id;
  trace.upstream_model = dep.upstream_model;
  trace.deployment_config = &dep;
  co_return out;
}

net::awaitable<Result<Outcome>> Dispatcher::dispatch(providers::WorkerContext& ctx, const config::Config& config,
                                                     const Request& request, const std::string& model_name,
                                                     DispatchTrace& trace) const {
  std::vector<const config::ModelConfig*> chain;
  const config::ModelConfig* first = config.find_model(model_name);
  if (!first) co_return Error::make(ErrorKind::not_found, "The model '" + model_name + "' does not exist.");
  chain.push_back(first);
  for (const auto& f : first->fallbacks) {
    if (const auto* m = config.find_model(f)) chain.push_back(m);
  }
  std::optional<Error> last;
  for (const auto* model : chain) {
    for (const auto* dep : order_deployments(*model)) {
      auto r = co_await try_deployment(ctx, config, request, *model, *dep, trace);
      if (r) co_return r;
      Error e = std::move(r).error();
      bool retry_elsewhere = is_retryable(e.kind);
      last = std::move(e);
      if (!retry_elsewhere) co_return *last;
    }
  }
  if (!last) co_return Error::make(ErrorKind::unavailable, "no deployment available for model '" + model_name + "'");
  co_return *last;
}

}  // namespace sy::pipeline
