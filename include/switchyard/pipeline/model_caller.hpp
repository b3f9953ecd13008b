#pragma once
/// The one way a strategy (a stage that calls models itself, such as the cascade) reaches an upstream:
/// a request to a public model, through the gateway's failover, limits and cooldowns. Stages that only
/// look at the request (rule, semantic, learned) are never given one.
///
/// An implementation is made per request by the server (dispatcher_model_caller.hpp adapts the
/// Dispatcher); it is used from that request's coroutine only. `call` is const and may be called any
/// number of times; the request, model and trace must outlive the awaited call.
#include <boost/asio/awaitable.hpp>
#include <string>

#include "switchyard/core/error.hpp"
#include "switchyard/core/request.hpp"
#include "switchyard/pipeline/outcome.hpp"

namespace sy::pipeline {

class ModelCaller {
 public:
  virtual ~ModelCaller() = default;
  /// Sends `request` to public model `model` (its deployments, then its fallbacks), recording the
  /// attempts in `trace`. A streaming request yields a committed stream, any other a complete body.
  virtual boost::asio::awaitable<Result<Outcome>> call(const Request& request, const std::string& model,
                                                       DispatchTrace& trace) const = 0;
};

/// A caller for routers that only decide (a shadow router, an offline replay): every call is an error.
/// Such routers may hold no stage that calls models (checked where they are configured).
const ModelCaller& no_model_calls();

}  // namespace sy::pipeline
