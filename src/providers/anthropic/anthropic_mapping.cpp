#include "providers/anthropic/anthropic_mapping.hpp"

namespace sy::providers::anthropic {

std::string_view openai_finish_reason(std::string_view stop_reason) {
  for (const auto& row : kStopReasons) {
    if (row.anthropic == stop_reason) return row.openai;
  }
  return "stop";
}

std::string_view anthropic_stop_reason(std::string_view finish_reason) {
  if (finish_reason == "function_call") finish_reason = "tool_calls";
  for (const auto& row : kStopReasons) {
    if (row.openai == finish_reason) return row.anthropic;
  }
  return "end_turn";
}

int status_for_error_type(std::string_view type) {
  for (const auto& row : kErrorTypes) {
    if (row.type == type) return row.status;
  }
  return 500;
}

std::string_view error_type_for_status(int status) {
  for (const auto& row : kErrorTypes) {
    if (row.status == status) return row.type;
  }
  return status >= 500 ? "api_error" : "invalid_request_error";
}

std::string_view anthropic_tool_choice(std::string_view openai) {
  for (const auto& row : kToolChoices) {
    if (row.openai == openai) return row.anthropic;
  }
  return {};
}

std::string_view openai_tool_choice(std::string_view anthropic) {
  for (const auto& row : kToolChoices) {
    if (row.anthropic == anthropic) return row.openai;
  }
  return {};
}

}  // namespace sy::providers::anthropic
