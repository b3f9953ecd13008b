#include "switchyard/pipeline/dispatcher_model_caller.hpp"

namespace sy::pipeline {

boost::asio::awaitable<Result<Outcome>> DispatcherModelCaller::call(const Request& request, const std::string& model,
                                                                    DispatchTrace& trace) const {
  co_return co_await dispatcher_.dispatch(worker_, request, model, trace);
}

}  // namespace sy::pipeline
