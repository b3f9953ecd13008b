#pragma once
// A ModelCaller for strategy tests: answers each model with canned chat.completion bodies (in turn, the
// last one repeating) and records what it was asked; a model with no answers is down. No dispatcher, no
// sockets, no clock.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "switchyard/pipeline/model_caller.hpp"

namespace sy::pipeline::testing {

struct FakeModelCaller final : ModelCaller {
  std::map<std::string, std::vector<std::string>> answers;  ///< model -> bodies, in turn
  mutable std::vector<std::pair<std::string, std::string>> calls;  ///< model, request body

  boost::asio::awaitable<Result<Outcome>> call(const Request& request, const std::string& model,
                                               DispatchTrace& trace) const override {
    const std::size_t nth = std::count_if(calls.begin(), calls.end(), [&](const auto& c) { return c.first == model; });
    calls.emplace_back(model, request.body());
    trace.model = model;
    auto it = answers.find(model);
    if (it == answers.end() || it->second.empty()) co_return Error::make(ErrorKind::connection, model + " is down");
    Outcome out;
    out.body = it->second[std::min(nth, it->second.size() - 1)];
    out.usage = Usage{10, 5, 0, true};
    co_return std::move(out);
  }

  /// The request bodies sent to `model`.
  std::vector<std::string> sent_to(const std::string& model) const {
    std::vector<std::string> out;
    for (const auto& [m, body] : calls) {
      if (m == model) out.push_back(body);
    }
    return out;
  }
};

/// A chat.completion whose choices say `texts` (one choice each), optionally with per-token logprobs.
inline std::string completion(const std::vector<std::string>& texts, const std::string& logprobs = "null",
                              const std::string& finish = "stop") {
  std::string choices;
  for (std::size_t i = 0; i < texts.size(); ++i) {
    choices += (i ? "," : "") + std::string(R"({"index":)") + std::to_string(i) +
               R"(,"message":{"role":"assistant","content":")" + texts[i] + R"("},"logprobs":)" + logprobs +
               R"(,"finish_reason":")" + finish + "\"}";
  }
  return R"({"id":"chatcmpl-t","object":"chat.completion","created":1,"model":"m","choices":[)" + choices +
         R"(],"usage":{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15}})";
}

/// Per-token logprobs ({"content": [...]}) with every token at `logprob`.
inline std::string logprobs(int tokens, double logprob) {
  std::string content;
  for (int i = 0; i < tokens; ++i) {
    content += (i ? "," : "") + std::string(R"({"token":"t","logprob":)") + std::to_string(logprob) + R"(,"top_logprobs":[]})";
  }
  return R"({"content":[)" + content + "]}";
}

/// Runs an awaitable to completion on a private io_context.
template <class T>
T run(boost::asio::awaitable<T> a) {
  boost::asio::io_context ioc;
  auto fut = boost::asio::co_spawn(ioc, std::move(a), boost::asio::use_future);
  ioc.run();
  return fut.get();
}

}  // namespace sy::pipeline::testing
