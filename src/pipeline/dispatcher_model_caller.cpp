#include "switchyard/pipeline/dispatcher_model_caller.hpp"

namespace sy::pipeline {

boost::asio::awaitable<Result<Outcome>> DispatcherModelCaller::call(const Request& request, const std::string& model,
                                                                    DispatchTrace& trace) const {
  co_return co_await dispatcher_.dispatch(worker_, request, model, trace);
}

namespace {

class NoModelCalls final : public ModelCaller {
 public:
  boost::asio::awaitable<Result<Outcome>> call(const Request&, const std::string&, DispatchTrace&) const override {
    co_return Error::make(ErrorKind::internal, "this router only decides: it may not call models");
  }
};

}  // namespace

const ModelCaller& no_model_calls() {
  static const NoModelCalls kNone;
  return kNone;
}

}  // namespace sy::pipeline
