#pragma once
/// The tables that translate between OpenAI's and Anthropic's vocabularies, kept in one place so the
/// egress format (OpenAI client -> Anthropic upstream) and the ingress translation (Anthropic client ->
/// any upstream) cannot drift apart. Pure constexpr data and lookups; thread-safe.
#include <string_view>

namespace sy::providers::anthropic {

/// Anthropic `stop_reason` -> OpenAI `finish_reason`. The first row for an OpenAI value is the one the
/// reverse lookup picks.
struct StopReasonRow {
  std::string_view anthropic;
  std::string_view openai;
};
inline constexpr StopReasonRow kStopReasons[] = {
    {"end_turn", "stop"},
    {"tool_use", "tool_calls"},
    {"max_tokens", "length"},
    {"refusal", "content_filter"},
    {"stop_sequence", "stop"},
    {"pause_turn", "stop"},
    {"model_context_window_exceeded", "length"},
};

/// OpenAI finish_reason for an Anthropic stop_reason; unknown reasons map to "stop".
std::string_view openai_finish_reason(std::string_view stop_reason);
/// Anthropic stop_reason for an OpenAI finish_reason ("function_call" counts as tool use); unknown
/// reasons map to "end_turn".
std::string_view anthropic_stop_reason(std::string_view finish_reason);

/// Anthropic error `type` <-> HTTP status. The first row for a status is the one the reverse lookup picks.
struct ErrorTypeRow {
  std::string_view type;
  int status;
};
inline constexpr ErrorTypeRow kErrorTypes[] = {
    {"invalid_request_error", 400}, {"authentication_error", 401}, {"permission_error", 403},
    {"not_found_error", 404},       {"request_too_large", 413},    {"rate_limit_error", 429},
    {"api_error", 500},             {"overloaded_error", 529},     {"overloaded_error", 503},
    {"timeout_error", 504},
};

/// The status Anthropic uses for an error type (stream `error` events carry only the type); 500 when
/// unknown.
int status_for_error_type(std::string_view type);
/// The Anthropic error type for an HTTP status: exact row, else invalid_request_error for 4xx and
/// api_error for 5xx.
std::string_view error_type_for_status(int status);

/// OpenAI `tool_choice` string <-> Anthropic `tool_choice.type`. A named function is "tool" on the
/// Anthropic side and {"type":"function",...} on the OpenAI side.
struct ToolChoiceRow {
  std::string_view openai;
  std::string_view anthropic;
};
inline constexpr ToolChoiceRow kToolChoices[] = {
    {"auto", "auto"},
    {"none", "none"},
    {"required", "any"},
};
/// Empty when there is no such row.
std::string_view anthropic_tool_choice(std::string_view openai);
std::string_view openai_tool_choice(std::string_view anthropic);

/// The `anthropic-version` header sent upstream unless options.version overrides it.
inline constexpr std::string_view kApiVersion = "2023-06-01";

}  // namespace sy::providers::anthropic
