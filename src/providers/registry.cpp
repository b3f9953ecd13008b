// The one place provider types are bound to their wire format (config::ProviderKind, whose YAML names
// are config::kProviderTypes). Formats are stateless, so one instance of each serves every provider
// of its type on every thread.
#include "providers/anthropic/anthropic_format.hpp"
#include "providers/azure/azure_format.hpp"
#include "providers/bedrock/bedrock_format.hpp"
#include "providers/gemini/gemini_format.hpp"
#include "providers/openai/openai_format.hpp"
#include "switchyard/providers/wire_format.hpp"

namespace sy::providers {

const WireFormat& wire_format_for(config::ProviderKind kind) {
  static const OpenAIFormat kOpenAI;
  static const AzureFormat kAzure;
  static const AnthropicFormat kAnthropic;
  static const BedrockFormat kBedrock;
  static const GeminiFormat kGemini;
  switch (kind) {
    case config::ProviderKind::azure: return kAzure;
    case config::ProviderKind::anthropic: return kAnthropic;
    case config::ProviderKind::bedrock: return kBedrock;
    case config::ProviderKind::gemini: return kGemini;
    case config::ProviderKind::openai:
    case config::ProviderKind::mock:  // the mock speaks OpenAI's format in-process
      break;
  }
  return kOpenAI;
}

const WireFormat* wire_format_for(std::string_view provider_type) {
  auto kind = config::provider_kind(provider_type);
  return kind ? &wire_format_for(*kind) : nullptr;
}

}  // namespace sy::providers
