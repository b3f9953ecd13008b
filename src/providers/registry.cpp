// The one place provider types are registered: type name -> wire format. Formats are stateless, so one
// instance of each serves every provider of its type on every thread.
#include "providers/anthropic/anthropic_format.hpp"
#include "providers/azure/azure_format.hpp"
#include "providers/bedrock/bedrock_format.hpp"
#include "providers/gemini/gemini_format.hpp"
#include "providers/openai/openai_format.hpp"
#include "switchyard/providers/wire_format.hpp"

namespace sy::providers {

const WireFormat* wire_format_for(std::string_view provider_type) {
  static const OpenAIFormat kOpenAI;
  static const AzureFormat kAzure;
  static const AnthropicFormat kAnthropic;
  static const BedrockFormat kBedrock;
  static const GeminiFormat kGemini;
  struct Entry {
    std::string_view type;
    const WireFormat* format;
  };
  // The mock speaks OpenAI's format in-process.
  static const Entry kFormats[] = {
      {OpenAIFormat::kType, &kOpenAI}, {"mock", &kOpenAI},          {AzureFormat::kType, &kAzure},
      {AnthropicFormat::kType, &kAnthropic}, {BedrockFormat::kType, &kBedrock}, {GeminiFormat::kType, &kGemini},
  };
  for (const auto& e : kFormats) {
    if (e.type == provider_type) return e.format;
  }
  return nullptr;
}

}  // namespace sy::providers
