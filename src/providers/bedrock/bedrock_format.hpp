#pragma once
#include "providers/anthropic/chunk_writer.hpp"
#include "providers/bedrock/event_stream.hpp"
#include "switchyard/providers/wire_format.hpp"

namespace sy::providers {

/// Amazon Bedrock's Converse API: `POST {base}/model/{modelId}/converse`, and `/converse-stream`, whose
/// answer is a binary AWS event stream. Requests are signed with SigV4 (service `bedrock`) using
/// AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, read at encode time. Chat only.
///
/// Options: `region` (required unless base_url names it as bedrock-runtime.<region>.amazonaws.com),
/// `max_tokens` (sent as inferenceConfig.maxTokens when the client gives none; unset lets the model
/// default apply).
class BedrockFormat final : public WireFormat {
 public:
  static constexpr std::string_view kType = "bedrock";
  static constexpr std::string_view kService = "bedrock";
  Result<UpstreamRequest> encode(const Request& request, const EncodeOptions& options) const override;
  Result<std::string> decode_response(const Request& request, std::string body, Usage& usage) const override;
  std::unique_ptr<StreamDecoder> stream_decoder(const Request& request) const override;
  Error classify_error(int status, const Headers& headers, std::string_view body) const override;
};

/// ConverseStream events (messageStart, contentBlockStart/Delta/Stop, messageStop, metadata, and
/// exception messages) -> OpenAI chunks.
class BedrockStreamDecoder final : public StreamDecoder {
 public:
  BedrockStreamDecoder(std::string_view model, bool client_wants_usage, const json::Limits& limits = {});
  Status feed(std::string_view bytes, std::string& out) override;
  Status finish(std::string& out) override;

 private:
  void on_message(const eventstream::Message& m, std::string& out);

  bool client_wants_usage_;
  eventstream::Decoder decoder_;
  std::vector<eventstream::Message> messages_;
  chat::ChunkWriter writer_;
  std::vector<int> tool_index_;  // content block index -> OpenAI tool_calls index, -1 for text
  int tools_ = 0;
  bool stopped_ = false;         // messageStop seen
  bool done_ = false;            // [DONE] written
  std::optional<Error> error_;
};

}  // namespace sy::providers
