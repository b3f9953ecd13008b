#pragma once
/// Pure functions over OpenAI chat SSE, beside the OpenAI codec: replaying a complete answer as a stream,
/// and removing logprobs a gateway asked for from frames a client did not ask them in. No I/O, no state:
/// safe on any thread. Golden tests: tests/providers/openai_sse_test.cpp, tests/testdata/openai/sse/.
#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace sy::providers {

/// `completion` (a chat.completion body) as the chat.completion.chunk events a streaming client would
/// have received for its `choice` (sent as index 0): the role, the content, the tool calls (each with its
/// index), the finish reason; then the completion's usage in a chunk of its own when `include_usage` and
/// the body has one; then `data: [DONE]`. `id`, `created` and `model` come from the completion.
std::string replay_as_sse(const nlohmann::json& completion, const nlohmann::json& choice, bool include_usage);

/// One SSE frame (`data: {...}` and its line ends) with every choice's non-null `logprobs` set to null;
/// other frames, and every other byte, are returned as they are.
std::string frame_without_logprobs(std::string_view frame);

/// Rewrites the whole frames of `out` from offset `from` on with frame_without_logprobs (the shape of a
/// ResponseStream::FrameFilter). Leaves `out` untouched when no frame mentions logprobs.
void strip_logprobs(std::string& out, std::size_t from);

}  // namespace sy::providers
