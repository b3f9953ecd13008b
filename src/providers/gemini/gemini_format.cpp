#include "providers/gemini/gemini_format.hpp"

namespace sy::providers {

Result<UpstreamRequest> GeminiFormat::encode(const Request& request, const EncodeOptions& options) const {
  auto up = openai_.encode(request, options);
  if (up && options.provider.url.base_path.empty()) up->target = std::string(kDefaultBasePath) + up->target;
  return up;
}

Result<std::string> GeminiFormat::decode_response(const Request& request, std::string body, Usage& usage) const {
  return openai_.decode_response(request, std::move(body), usage);
}

std::unique_ptr<StreamDecoder> GeminiFormat::stream_decoder(const Request& request) const {
  return openai_.stream_decoder(request);
}

Error GeminiFormat::classify_error(int status, const Headers& headers, std::string_view body) const {
  return classify_http_error(status, headers, body);
}

}  // namespace sy::providers
