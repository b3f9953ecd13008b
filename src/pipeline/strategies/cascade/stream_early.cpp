#include "pipeline/strategies/cascade/stream_early.hpp"

#include <algorithm>
#include <chrono>

#include "switchyard/providers/openai_sse.hpp"

namespace sy::pipeline::cascade {

namespace net = boost::asio;
using Clock = std::chrono::steady_clock;

namespace {

/// Largest prefix held while waiting for N tokens with logprobs (a guard against huge chunks).
constexpr std::size_t kMaxHeldBytes = 1u << 20;

/// The client's request asking for a stream with logprobs (the cascade strips them again when the client
/// did not ask for them).
Result<std::unique_ptr<Request>> with_logprobs(const Request& orig, bool client_logprobs) {
  std::vector<json::Edit> edits;
  if (!client_logprobs) {
    edits.push_back({"logprobs", std::string("true")});
    if (!orig.fields().find("top_logprobs")) edits.push_back({"top_logprobs", std::string("2")});
  }
  return Request::parse(Endpoint::chat, json::splice(orig.body(), orig.fields(), edits), orig.json_limits());
}

/// What a step's output cost when only `scan` of it was seen: the prompt, and at least one token per
/// content chunk (more when the logprobs show more).
Usage seen_usage(RequestFeatures& features, const PrefixScan& scan) {
  return Usage{features.prompt_tokens(), static_cast<std::int64_t>(std::max(scan.tokens.size(), scan.content_chunks)),
               0, false};
}

/// The weighted score of the prefix by the verifiers that judge prefixes; their scores go to `r.scores`.
double judge_prefix(EarlyStep& r, const std::string& model, const PrefixScan& scan, std::size_t tokens,
                    std::span<const std::unique_ptr<Verifier>> verifiers) {
  double total = 0, weights = 0;
  for (const auto& v : verifiers) {
    if (!v->judges_prefix()) continue;
    std::optional<double> s = v->judge_prefix(scan.tokens, tokens);
    r.scores.emplace_back(model + ":" + std::string(v->type()) + "@" + std::to_string(r.tokens), s.value_or(-1));
    total += v->weight() * s.value_or(0.0);
    weights += v->weight();
  }
  return weights > 0 ? total / weights : 0.0;
}

}  // namespace

net::awaitable<EarlyStep> stream_step(const ModelCaller& models, RequestFeatures& features, const std::string& model,
                                      double threshold, std::size_t tokens,
                                      std::span<const std::unique_ptr<Verifier>> verifiers) {
  EarlyStep r;
  const Request& orig = features.request();
  const auto* lp_field = orig.fields().find("logprobs");
  const bool client_logprobs = lp_field && lp_field->value == "true";
  auto req = with_logprobs(orig, client_logprobs);
  if (!req) {
    r.error = std::move(req).error();
    co_return r;
  }
  auto out = co_await models.call(**req, model, r.trace);
  if (!out) {
    r.error = std::move(out).error();
    co_return r;
  }
  if (!out->stream) {
    r.error = Error::make(ErrorKind::internal, "the cascade step did not stream");
    co_return r;
  }
  std::unique_ptr<ResponseStream> stream = std::move(out->stream);
  const auto* dep = r.trace.deployment_config;
  PrefixScan scan;
  std::string held;
  bool ended = false;
  auto waited_from = Clock::now();
  while (scan.tokens.size() < tokens && !scan.missing_logprobs && held.size() < kMaxHeldBytes) {
    std::size_t from = held.size();
    auto more = co_await stream->next(held);
    if (!more) {
      // Cut short before the client saw anything: the next step answers. Its prefix is paid for.
      r.error = std::move(more).error();
      if (dep) r.cost = cost_usd(seen_usage(features, scan), dep->prices());
      co_return r;
    }
    scan.feed(std::string_view(held).substr(from));
    if (!*more) {
      ended = true;
      break;
    }
  }
  r.trace.upstream_time += std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - waited_from);

  r.tokens = std::min(scan.tokens.size(), tokens);
  r.score = judge_prefix(r, model, scan, tokens, verifiers);
  if (r.score >= threshold) {
    r.verdict = EarlyStep::Verdict::accepted;
    stream->unread(std::move(held));
    if (!client_logprobs) stream->set_filter(providers::strip_logprobs);
    r.stream = std::move(stream);
    co_return r;
  }
  r.verdict = EarlyStep::Verdict::rejected;
  // A finished stream reported its usage; a cancelled one is priced on what was seen.
  Usage used = stream->usage();
  if (!ended || !used.known) used = seen_usage(features, scan);
  if (dep) r.cost = cost_usd(used, dep->prices());
  co_return r;  // dropping the stream closes the upstream connection
}

}  // namespace sy::pipeline::cascade
