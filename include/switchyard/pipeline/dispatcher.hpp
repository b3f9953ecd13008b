#pragma once
/// The dispatcher: sends a request to a model's deployments, failing over between them and then to the
/// model's fallbacks, and hands back either a complete response or a stream that is already flowing.
///
/// Stateless apart from the shared transports (thread-safe); one call per request, run on the io
/// thread of the request's connection.
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "switchyard/config/config.hpp"
#include "switchyard/core/error.hpp"
#include "switchyard/core/request.hpp"
#include "switchyard/core/usage.hpp"
#include "switchyard/providers/transport.hpp"
#include "switchyard/providers/wire_format.hpp"

namespace sy::pipeline {

/// One upstream attempt, for headers and logs.
struct Attempt {
  std::string deployment;
  std::string outcome;  ///< "ok" or the error kind
  int status = 0;       ///< upstream HTTP status, 0 if none
  std::chrono::microseconds elapsed{0};
};

/// What the dispatcher did, filled as it goes.
struct DispatchTrace {
  std::vector<Attempt> attempts;
  std::vector<std::pair<std::string, std::string>> skipped;  ///< deployment, reason
  std::string model;            ///< public model that answered
  std::string deployment;       ///< deployment id that answered
  std::string upstream_model;
  const config::DeploymentConfig* deployment_config = nullptr;
  std::chrono::microseconds upstream_time{0};  ///< time spent waiting on upstreams
  std::chrono::microseconds time_to_head{0};
};

/// A committed stream: at least one event has arrived, so the client can be answered 200. Pull
/// frames with `next` until it returns false. Destroying it closes the upstream connection.
class ResponseStream {
 public:
  ResponseStream(std::unique_ptr<providers::Exchange> exchange, std::unique_ptr<providers::StreamDecoder> decoder,
                 std::string initial)
      : exchange_(std::move(exchange)), decoder_(std::move(decoder)), pending_(std::move(initial)) {}
  /// Appends the next SSE frames to `out`; false once the stream has ended cleanly (the final frames,
  /// if any, were appended). An error means the upstream failed mid-stream.
  boost::asio::awaitable<Result<bool>> next(std::string& out);
  const Usage& usage() const { return decoder_->usage(); }

 private:
  std::unique_ptr<providers::Exchange> exchange_;
  std::unique_ptr<providers::StreamDecoder> decoder_;
  std::string pending_;
  std::string raw_;
  bool ended_ = false;
};

struct Outcome {
  std::string body;                        ///< complete OpenAI JSON body (non-streaming)
  std::unique_ptr<ResponseStream> stream;  ///< set for streaming requests
  Usage usage;                             ///< non-streaming usage
};

/// Everything the dispatcher needs from the process: shared transports.
struct Transports {
  std::shared_ptr<providers::Transport> http;
  std::shared_ptr<providers::Transport> mock;
};

class Dispatcher {
 public:
  explicit Dispatcher(Transports transports) : transports_(std::move(transports)) {}

  /// Sends `request` to public model `model` (its deployments, then its fallbacks).
  boost::asio::awaitable<Result<Outcome>> dispatch(providers::WorkerContext& ctx, const config::Config& config,
                                                   const Request& request, const std::string& model,
                                                   DispatchTrace& trace) const;

 private:
  boost::asio::awaitable<Result<Outcome>> try_deployment(providers::WorkerContext& ctx, const config::Config& config,
                                                         const Request& request, const config::ModelConfig& model,
                                                         const config::DeploymentConfig& dep,
                                                         DispatchTrace& trace) const;
  Transports transports_;
};

/// Largest upstream response body accepted for non-streaming requests.
inline constexpr std::size_t kMaxUpstreamBody = 64u << 20;

}  // namespace sy::pipeline
