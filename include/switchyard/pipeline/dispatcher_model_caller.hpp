#pragma once
/// The ModelCaller over today's Dispatcher: the only place a stage's model calls meet the Dispatcher,
/// the worker's connection pools and the config (so a change of the Dispatcher's interface touches this
/// adapter alone). Made per request by the server; holds references, owns nothing.
#include "switchyard/config/config.hpp"
#include "switchyard/pipeline/dispatcher.hpp"
#include "switchyard/pipeline/model_caller.hpp"
#include "switchyard/providers/transport.hpp"

namespace sy::pipeline {

class DispatcherModelCaller final : public ModelCaller {
 public:
  DispatcherModelCaller(const Dispatcher& dispatcher, providers::WorkerContext& worker, const config::Config& config)
      : dispatcher_(dispatcher), worker_(worker), config_(config) {}
  boost::asio::awaitable<Result<Outcome>> call(const Request& request, const std::string& model,
                                               DispatchTrace& trace) const override;

 private:
  const Dispatcher& dispatcher_;
  providers::WorkerContext& worker_;
  const config::Config& config_;
};

}  // namespace sy::pipeline
