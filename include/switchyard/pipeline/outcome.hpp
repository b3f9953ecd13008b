#pragma once
/// What a dispatch produces: the answer (a body, or a stream already flowing), the trace of the
/// attempts it made, and the lease that holds a deployment's slot while a stream is read.
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "switchyard/config/config.hpp"
#include "switchyard/core/error.hpp"
#include "switchyard/core/usage.hpp"
#include "switchyard/limits/deployment_state.hpp"
#include "switchyard/pipeline/dispatch_clock.hpp"
#include "switchyard/providers/transport.hpp"
#include "switchyard/providers/wire_format.hpp"

namespace sy::pipeline {

/// One upstream attempt, for headers and logs.
struct Attempt {
  std::string deployment;
  std::string outcome;  ///< "ok" or the error kind
  int status = 0;       ///< upstream HTTP status, 0 if none
  std::chrono::microseconds elapsed{0};
  const config::DeploymentConfig* config = nullptr;  ///< the deployment tried (for metrics)
  ErrorKind kind = ErrorKind::internal;               ///< the failure's kind when outcome is not "ok"
};

/// What the dispatcher did, filled as it goes.
struct DispatchTrace {
  std::vector<Attempt> attempts;
  std::vector<std::pair<std::string, std::string>> skipped;  ///< deployment, reason
  std::string model;            ///< public model that answered
  std::string deployment;       ///< deployment id that answered
  std::string upstream_model;
  const config::DeploymentConfig* deployment_config = nullptr;
  std::chrono::microseconds upstream_time{0};  ///< time spent waiting on upstreams (and backoff)
  std::chrono::microseconds time_to_head{0};
};

/// Holds a deployment's slot for one upstream call; settles its token reservation and load when done.
class Lease {
 public:
  Lease(std::shared_ptr<limits::DeploymentState> state, const config::ReliabilityConfig* rel, std::int64_t reserved,
        limits::DeploymentState::Acquired acquired, const DispatchClock* clock)
      : state_(std::move(state)), rel_(rel), reserved_(reserved), acquired_(acquired), clock_(clock) {}
  ~Lease() { settle(nullptr); }
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;
  /// Releases the slot with the real usage (null: unknown). Idempotent.
  void settle(const Usage* usage);
  /// The shared tpm window `tokens` were reserved in (tokens 0: it was not reachable), settled with the
  /// real usage too.
  void share(std::shared_ptr<state::Window> tpm, std::int64_t tokens) {
    shared_tpm_ = std::move(tpm);
    shared_tokens_ = tokens;
  }
  limits::DeploymentState& state() { return *state_; }
  const config::ReliabilityConfig& reliability() const { return *rel_; }
  const DispatchClock& clock() const { return *clock_; }

 private:
  std::shared_ptr<limits::DeploymentState> state_;
  const config::ReliabilityConfig* rel_;
  std::int64_t reserved_;
  limits::DeploymentState::Acquired acquired_;  ///< how the slot was taken (probe, fast path)
  const DispatchClock* clock_;
  bool done_ = false;
  std::shared_ptr<state::Window> shared_tpm_;
  std::int64_t shared_tokens_ = 0;
};

/// A committed stream: at least one event has arrived, so the client can be answered 200. Pull
/// frames with `next` until it returns false. Destroying it closes the upstream connection.
class ResponseStream {
 public:
  ResponseStream(std::unique_ptr<providers::Exchange> exchange, std::unique_ptr<providers::StreamDecoder> decoder,
                 std::string initial, std::unique_ptr<Lease> lease)
      : exchange_(std::move(exchange)), decoder_(std::move(decoder)), pending_(std::move(initial)),
        lease_(std::move(lease)) {}
  /// Appends the next SSE frames to `out`; false once the stream has ended cleanly (the final frames,
  /// if any, were appended). An error means the upstream failed mid-stream (it counts against the
  /// deployment's health).
  boost::asio::awaitable<Result<bool>> next(std::string& out);
  const Usage& usage() const { return decoder_->usage(); }

  /// Rewrites the whole frames `next` appended to `out` from offset `from` on. Set by a stage that
  /// asked the upstream for more than the client did (the cascade strips logprobs it asked for).
  using FrameFilter = std::function<void(std::string& out, std::size_t from)>;
  void set_filter(FrameFilter filter) { filter_ = std::move(filter); }
  /// Puts frames already taken with `next` back in front of the stream: the next call returns them
  /// again (through the filter). For a stage that read ahead before committing the stream to a client.
  void unread(std::string frames) { pending_.insert(0, frames); }

 private:
  void fail(const Error& e);
  void filter(std::string& out, std::size_t from) const {
    if (filter_ && out.size() > from) filter_(out, from);
  }
  std::unique_ptr<providers::Exchange> exchange_;
  std::unique_ptr<providers::StreamDecoder> decoder_;
  std::string pending_;
  std::string raw_;
  std::unique_ptr<Lease> lease_;
  FrameFilter filter_;
  bool ended_ = false;
};

struct Outcome {
  std::string body;                        ///< complete OpenAI JSON body (non-streaming), or SSE when `sse`
  bool sse = false;                        ///< `body` is a complete event stream (a replayed answer)
  std::unique_ptr<ResponseStream> stream;  ///< set for streaming requests (or a live stream a stage accepted)
  Usage usage;                             ///< non-streaming usage
};

}  // namespace sy::pipeline
