#pragma once
/// The ModelCaller over the runtime's Dispatcher: the only place a stage's model calls meet the
/// Dispatcher and the io thread's connection pools. Made per request by the server; holds references,
/// owns nothing.
#include "switchyard/pipeline/dispatcher.hpp"
#include "switchyard/pipeline/model_caller.hpp"
#include "switchyard/providers/transport.hpp"

namespace sy::pipeline {

class DispatcherModelCaller final : public ModelCaller {
 public:
  DispatcherModelCaller(const Dispatcher& dispatcher, providers::WorkerContext& worker)
      : dispatcher_(dispatcher), worker_(worker) {}
  boost::asio::awaitable<Result<Outcome>> call(const Request& request, const std::string& model,
                                               DispatchTrace& trace) const override;

 private:
  const Dispatcher& dispatcher_;
  providers::WorkerContext& worker_;
};

}  // namespace sy::pipeline
