#pragma once
// Every prompt the cascade sends of its own (the self-verify judge, the reviewer, the rewrite request), in
// one place, and the request bodies built from them. The bodies are built in plain functions: GCC 12
// cannot put braced nlohmann initialiser lists into coroutine frames.
#include <string>
#include <string_view>

namespace sy::pipeline::cascade::prompts {

/// Self-verification: the judge's instructions, and what it is asked about a question and an answer.
inline constexpr std::string_view kJudgeSystem = "You are a careful grader. Reply with one word: yes or no.";
inline constexpr std::string_view kJudgeQuestion = "Is the proposed answer correct and complete? Reply yes or no.";

/// Review: the reviewer's instructions, its approval word, and the rubric when none is configured.
inline constexpr std::string_view kReviewSystem =
    "You review answers against a rubric. Reply APPROVED if the answer meets every point of the rubric; "
    "otherwise list the problems.";
inline constexpr std::string_view kApproved = "APPROVED";
inline constexpr std::string_view kDefaultRubric =
    "The answer is correct, complete, and directly addresses the request.";

/// Rewrite: what the rewriter is told after the draft, with the review (or that there was none).
inline constexpr std::string_view kReviewFoundProblems = "A reviewer found problems with that answer:\n";
inline constexpr std::string_view kReviewerUnavailable = "(the reviewer was unavailable)";
inline constexpr std::string_view kWriteImprovedAnswer = "\n\nWrite an improved answer to my original request.";

/// The judge's request: one token, greedy, with the top logprobs of its "yes"/"no".
std::string judge_body(std::string_view question, std::string_view answer);

/// The reviewer's request: the rubric, the client's request and the draft, greedy.
std::string review_body(std::string_view rubric, std::string_view request, std::string_view draft);

/// The rewriter's `messages`: the client's (`payload`, a JSON array; anything else counts as none), then
/// the draft as the assistant's turn and the review as the user's reply.
std::string rewrite_messages(std::string_view payload, std::string_view draft, std::string_view review);

}  // namespace sy::pipeline::cascade::prompts
