#pragma once
// A verify-cascade step streamed early (`stream_early: {tokens: N}`): asked for as a stream with
// logprobs, held until N tokens arrived, judged on that prefix by the verifiers that can, then either
// handed on live (the held frames first) or dropped, which closes the upstream connection before anything
// reached the client.
#include <boost/asio/awaitable.hpp>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "pipeline/strategies/cascade/verifier.hpp"

namespace sy::pipeline::cascade {

/// A step streamed early: a live stream to hand to the client, or why not.
struct EarlyStep {
  enum class Verdict { accepted, rejected, failed };
  Verdict verdict = Verdict::failed;
  double score = 0;
  std::size_t tokens = 0;  ///< tokens judged
  Error error;             ///< failed
  std::unique_ptr<ResponseStream> stream;  ///< accepted: the held prefix first, then live
  DispatchTrace trace;
  double cost = 0;  ///< rejected or failed: what the abandoned stream cost (estimated when cut short)
  std::vector<std::pair<std::string, double>> scores;
};

/// Streams the client's request to `model` and judges its first `tokens` tokens by the prefix-judging
/// `verifiers` against `threshold`. The model caller fails over as usual until a deployment sent its
/// first event.
boost::asio::awaitable<EarlyStep> stream_step(const ModelCaller& models, RequestFeatures& features,
                                              const std::string& model, double threshold, std::size_t tokens,
                                              std::span<const std::unique_ptr<Verifier>> verifiers);

}  // namespace sy::pipeline::cascade
