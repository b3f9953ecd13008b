// The one place provider types are registered: type name -> wire format.
#include "providers/openai/openai_format.hpp"
#include "switchyard/providers/wire_format.hpp"

namespace sy::providers {

const WireFormat* wire_format_for(std::string_view provider_type) {
  static const OpenAIFormat kOpenAI;
  // The mock speaks OpenAI's format in-process.
  if (provider_type == OpenAIFormat::kType || provider_type == "mock") return &kOpenAI;
  return nullptr;
}

}  // namespace sy::providers
