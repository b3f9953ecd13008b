#include "pipeline/strategies/cascade/prompts.hpp"

#include <nlohmann/json.hpp>

namespace sy::pipeline::cascade::prompts {

using Json = nlohmann::json;

namespace {
Json message(std::string_view role, std::string content) {
  return Json{{"role", std::string(role)}, {"content", std::move(content)}};
}
}  // namespace

std::string judge_body(std::string_view question, std::string_view answer) {
  Json body = {{"model", "judge"},
               {"messages", Json::array({message("system", std::string(kJudgeSystem)),
                                         message("user", "Question:\n" + std::string(question) +
                                                             "\n\nProposed answer:\n" + std::string(answer) + "\n\n" +
                                                             std::string(kJudgeQuestion))})},
               {"max_tokens", 1},
               {"temperature", 0},
               {"logprobs", true},
               {"top_logprobs", 5}};
  return body.dump();
}

std::string review_body(std::string_view rubric, std::string_view request, std::string_view draft) {
  Json body = {{"model", "reviewer"},
               {"messages", Json::array({message("system", std::string(kReviewSystem)),
                                         message("user", "Rubric:\n" + std::string(rubric) + "\n\nRequest:\n" +
                                                             std::string(request) + "\n\nAnswer:\n" +
                                                             std::string(draft))})},
               {"temperature", 0}};
  return body.dump();
}

std::string rewrite_messages(std::string_view payload, std::string_view draft, std::string_view review) {
  auto messages = Json::parse(std::string(payload), nullptr, false);  // the client's, guarded with its body
  if (!messages.is_array()) messages = Json::array();
  messages.push_back(message("assistant", std::string(draft)));
  messages.push_back(message("user", std::string(kReviewFoundProblems) + std::string(review) +
                                         std::string(kWriteImprovedAnswer)));
  return messages.dump(-1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace sy::pipeline::cascade::prompts
