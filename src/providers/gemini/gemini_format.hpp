#pragma once
#include "providers/openai/openai_format.hpp"
#include "switchyard/providers/wire_format.hpp"

namespace sy::providers {

/// Google Gemini through its OpenAI-compatible endpoint
/// (https://generativelanguage.googleapis.com/v1beta/openai/): chat (with tools, images, streaming and
/// stream usage) and embeddings speak OpenAI's format there, so bodies pass through as for `openai`
/// with a Bearer key. What differs is the error body: Google wraps it in a one-element array and names
/// the failure in `error.status` (RESOURCE_EXHAUSTED, UNAUTHENTICATED, ...), which the shared
/// classification understands. A base_url without a path gets kDefaultBasePath.
class GeminiFormat final : public WireFormat {
 public:
  static constexpr std::string_view kType = "gemini";
  static constexpr std::string_view kDefaultBasePath = "/v1beta/openai";
  Result<UpstreamRequest> encode(const Request& request, const EncodeOptions& options) const override;
  Result<std::string> decode_response(const Request& request, std::string body, Usage& usage) const override;
  std::unique_ptr<StreamDecoder> stream_decoder(const Request& request) const override;
  Error classify_error(int status, const Headers& headers, std::string_view body) const override;

 private:
  OpenAIFormat openai_;
};

}  // namespace sy::providers
