#pragma once
#include "providers/openai/openai_format.hpp"
#include "switchyard/providers/wire_format.hpp"

namespace sy::providers {

/// Azure OpenAI: OpenAI bodies sent to per-deployment URLs,
/// `{base}/openai/deployments/{deployment}/{chat/completions|completions|embeddings}?api-version=...`,
/// authenticated with an `api-key` header. The deployment name is the deployment's `model`; `model`
/// stays in the body too (Azure ignores it, gateways in front of Azure route by it).
///
/// Options: `api_version` (default kDefaultApiVersion, the newest GA version that accepts
/// stream_options).
///
/// A completion Azure's content filter suppressed entirely (finish_reason content_filter and nothing
/// generated) becomes an ErrorKind::content_filter error naming the filtered categories, like the 400
/// Azure returns when the prompt itself is filtered. Partial output cut by the filter is passed on.
class AzureFormat final : public WireFormat {
 public:
  static constexpr std::string_view kType = "azure";
  static constexpr std::string_view kDefaultApiVersion = "2024-10-21";
  Result<UpstreamRequest> encode(const Request& request, const EncodeOptions& options) const override;
  Result<std::string> decode_response(const Request& request, std::string body, Usage& usage) const override;
  std::unique_ptr<StreamDecoder> stream_decoder(const Request& request) const override;
  Error classify_error(int status, const Headers& headers, std::string_view body) const override;
};

/// Azure's SSE is OpenAI's plus filter annotations. This relays it like OpenAIStreamDecoder, drops the
/// `prompt_filter_results` chunks with no choices (clients indexing choices[0] trip on them), and holds
/// frames back until the first generated content, so a stream the filter blocks outright fails as a
/// content_filter error before anything reached the client.
class AzureStreamDecoder final : public StreamDecoder {
 public:
  explicit AzureStreamDecoder(bool client_wants_usage, const json::Limits& limits = {})
      : StreamDecoder(limits), inner_(client_wants_usage, limits) {}
  Status feed(std::string_view bytes, std::string& out) override;
  Status finish(std::string& out) override;

 private:
  Status relay(std::string& out);
  void flush_held(std::string& out);

  OpenAIStreamDecoder inner_;
  std::string frames_;  // output of inner_ not yet looked at
  std::string held_;    // frames held until content appears
  std::size_t held_frames_ = 0;
  bool released_ = false;
};

}  // namespace sy::providers
