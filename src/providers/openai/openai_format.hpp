#pragma once
#include "switchyard/providers/sse.hpp"
#include "switchyard/providers/wire_format.hpp"

namespace sy::providers {

/// OpenAI and every OpenAI-compatible server (vLLM, Ollama, llama.cpp, Groq, Together, Mistral,
/// DeepSeek, OpenRouter, Gemini's OpenAI endpoint). Bodies pass through with `model` rewritten.
class OpenAIFormat final : public WireFormat {
 public:
  static constexpr std::string_view kType = "openai";
  Result<UpstreamRequest> encode(const Request& request, const EncodeOptions& options) const override;
  Result<std::string> decode_response(const Request& request, std::string body, Usage& usage) const override;
  std::unique_ptr<StreamDecoder> stream_decoder(const Request& request) const override;
  Error classify_error(int status, const Headers& headers, std::string_view body) const override;
};

/// Relays OpenAI SSE events unchanged, recording usage and dropping the usage-only chunk the client
/// did not ask for. Reused by every format whose upstream already speaks OpenAI SSE.
class OpenAIStreamDecoder final : public StreamDecoder {
 public:
  explicit OpenAIStreamDecoder(bool client_wants_usage, const json::Limits& limits = {})
      : StreamDecoder(limits), client_wants_usage_(client_wants_usage) {}
  Status feed(std::string_view bytes, std::string& out) override;
  Status finish(std::string& out) override;

 private:
  bool client_wants_usage_;
  bool done_ = false;
  std::optional<Error> error_;  // an event that failed the JSON guard
  SseParser parser_;
};

/// Edits that drop prompt-cache breakpoints (`cache_control` on messages, parts and tools) from the
/// forwarded body: OpenAI-compatible servers refuse the member. Empty when the request has none.
std::vector<json::Edit> cache_control_removed(const Request& request);

/// The `stream_options` edit that asks for usage, preserving other stream options.
std::optional<json::Edit> stream_usage_edit(const Request& request);

}  // namespace sy::providers
