#pragma once
/// Writes OpenAI `chat.completion.chunk` SSE frames for stream decoders that translate another
/// provider's events (Anthropic, Bedrock). One per stream, used from one coroutine.
#include <cstdint>
#include <string>
#include <string_view>

#include "switchyard/core/usage.hpp"

namespace sy::providers::chat {

/// OpenAI `usage` object: prompt, completion and total tokens plus prompt_tokens_details.cached_tokens.
std::string openai_usage_json(const Usage& u);

class ChunkWriter {
 public:
  /// Sets the id and model every chunk repeats. `created` is a Unix timestamp.
  void start(std::string_view id, std::string_view model, std::int64_t created);
  bool started() const { return !prefix_.empty(); }

  // Raw JSON string tokens (quotes included) are copied as they are: no decode and re-encode.
  void text(std::string_view raw_string, std::string& out);
  void tool_start(int index, std::string_view id, std::string_view name, std::string& out);
  void tool_args(int index, std::string_view raw_string, std::string& out);
  void finish(std::string_view reason, std::string& out);
  /// The usage-only chunk (empty choices) OpenAI sends last when stream_options.include_usage is set.
  void usage(const Usage& u, std::string& out);
  void done(std::string& out);

  /// Frames written so far.
  std::size_t frames() const { return frames_; }

 private:
  // The role chunk goes out lazily with the first content, so an upstream that fails right after
  // saying hello produces no frame and can still be failed over invisibly.
  void ensure_role(std::string& out);
  void choice(std::string_view delta, std::string_view finish, std::string& out);

  std::string prefix_;  // data: {"id":...,"object":...,"created":...,"model":...,
  bool role_sent_ = false;
  std::size_t frames_ = 0;
};

}  // namespace sy::providers::chat
