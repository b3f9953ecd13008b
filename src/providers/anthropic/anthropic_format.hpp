#pragma once
#include "providers/anthropic/chunk_writer.hpp"
#include "switchyard/core/json_scan.hpp"
#include "switchyard/providers/sse.hpp"
#include "switchyard/providers/wire_format.hpp"

namespace sy::providers {

namespace anthropic {
/// Anthropic reports fresh input, cache reads and cache writes separately; OpenAI's prompt_tokens is
/// their sum, with cache reads repeated as prompt_tokens_details.cached_tokens.
struct TokenCounts {
  std::int64_t input = 0, cache_read = 0, cache_creation = 0, output = 0;
  bool seen = false;
  /// Takes the counts present in an Anthropic `usage` object (later events repeat or extend them).
  void merge(const json::Object& usage);
  void store(Usage& u) const;
};
}  // namespace anthropic

/// Anthropic's Messages API (`POST {base}/v1/messages`). Chat only: the OpenAI request is translated
/// (system prompts, merged turns, images, tools) and answers and stream events are translated back.
///
/// Options: `version` (anthropic-version header, default 2023-06-01), `beta` (anthropic-beta header, a
/// string or a list), `max_tokens` (sent when the client gives none; default 4096, since Anthropic
/// requires it).
class AnthropicFormat final : public WireFormat {
 public:
  static constexpr std::string_view kType = "anthropic";
  static constexpr std::int64_t kDefaultMaxTokens = 4096;
  Result<UpstreamRequest> encode(const Request& request, const EncodeOptions& options) const override;
  Result<std::string> decode_response(const Request& request, std::string body, Usage& usage) const override;
  std::unique_ptr<StreamDecoder> stream_decoder(const Request& request) const override;
  Error classify_error(int status, const Headers& headers, std::string_view body) const override;
};

/// Anthropic SSE events (message_start, content_block_*, message_delta, message_stop, ping, error) ->
/// OpenAI chunks. An `error` event becomes an Error from feed() (after the frames before it went out).
class AnthropicStreamDecoder final : public StreamDecoder {
 public:
  explicit AnthropicStreamDecoder(bool client_wants_usage, const json::Limits& limits = {})
      : StreamDecoder(limits), client_wants_usage_(client_wants_usage) {}
  Status feed(std::string_view bytes, std::string& out) override;
  Status finish(std::string& out) override;

 private:
  void on_event(std::string_view data, std::string& out);

  bool client_wants_usage_;
  SseParser parser_;
  chat::ChunkWriter writer_;
  std::vector<int> tool_index_;  // content block index -> OpenAI tool_calls index, -1 for other blocks
  int tools_ = 0;
  anthropic::TokenCounts counts_;
  std::string finish_reason_;
  bool done_ = false;
  std::optional<Error> error_;   // an `error` event, reported once the frames before it are out
};

}  // namespace sy::providers
