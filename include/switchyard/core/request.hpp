#pragma once
/// A client request as the proxy sees it: the raw body (forwarded byte for byte where possible) plus the
/// few fields routing and forwarding need, validated once at the edge.
///
/// Created by `parse_request` on the io thread that read the body; afterwards read-only, except for the
/// lazily computed text views, so it is not shared across threads without external ordering.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "switchyard/core/error.hpp"
#include "switchyard/core/json_scan.hpp"

namespace sy {

/// The largest max_tokens the gateway counts with (reservations, rules); a larger request value is
/// forwarded unchanged and counted as this.
inline constexpr std::int64_t kMaxTokensCounted = std::int64_t{1} << 30;

/// The OpenAI endpoints the proxy serves (plus Anthropic-format ingress, translated at the edge).
enum class Endpoint : std::uint8_t { chat, completions, embeddings };
std::string_view endpoint_path(Endpoint e);  ///< "/chat/completions", ...

/// One chat message reduced to what routing looks at.
struct MessageText {
  std::string role;
  std::string text;       ///< concatenated text parts
  bool has_image = false;
};

class Request {
 public:
  /// Validates `body` for `endpoint`: a JSON object with a string `model`, and `messages` (chat),
  /// `prompt` (completions) or `input` (embeddings). Errors name the field. `limits` bound the body's
  /// nesting and, kept as `json_limits()`, every JSON document of this request's exchange (upstream
  /// responses and stream events); the body's own size was bounded by the HTTP layer.
  static Result<std::unique_ptr<Request>> parse(Endpoint endpoint, std::string body, const json::Limits& limits = {});

  Endpoint endpoint() const { return endpoint_; }
  const json::Limits& json_limits() const { return limits_; }
  const std::string& body() const { return body_; }
  const json::Object& fields() const { return fields_; }
  const std::string& model() const { return model_; }
  bool stream() const { return stream_; }
  /// The client asked for the final usage chunk (`stream_options.include_usage: true`).
  bool client_wants_usage() const { return client_wants_usage_; }
  /// `max_completion_tokens`, else `max_tokens`, when given.
  std::optional<std::int64_t> max_tokens() const { return max_tokens_; }
  /// Raw JSON of `messages` (chat), `prompt` (completions) or `input` (embeddings).
  std::string_view payload() const { return payload_; }
  /// Raw JSON of the `switchyard` extension object, empty when absent. Stripped before forwarding.
  std::string_view extension() const { return extension_; }
  bool has_tools() const { return has_tools_; }
  /// Some message part or tool carries a `cache_control` prompt-cache breakpoint.
  bool has_cache_control() const { return fields_.saw_cache_control; }
  /// `response_format.type` when present ("json_object", "json_schema", "text").
  const std::string& response_format() const { return response_format_; }
  std::optional<double> temperature() const { return temperature_; }

  /// Messages as text (chat); for completions/embeddings one "user" message per prompt string.
  /// Computed on first use.
  const std::vector<MessageText>& messages() const;
  /// Text of the last user message.
  std::string_view last_user_text() const;
  /// All message texts joined with newlines.
  const std::string& all_text() const;
  bool has_images() const;

  /// Body to send upstream: `model` replaced, the `switchyard` extension removed, plus any extra edits.
  /// Borrows this request's body (see Payload): valid while this Request lives.
  Payload forward_body(std::string_view upstream_model, std::vector<json::Edit> extra = {}) const;

 private:
  Request() = default;
  Endpoint endpoint_ = Endpoint::chat;
  json::Limits limits_;
  std::string body_;
  json::Object fields_;
  std::string model_;
  bool stream_ = false;
  bool client_wants_usage_ = false;
  std::optional<std::int64_t> max_tokens_;
  std::string_view payload_;
  std::string_view extension_;
  bool has_tools_ = false;
  std::string response_format_;
  std::optional<double> temperature_;

  mutable bool texts_ready_ = false;
  mutable bool all_text_ready_ = false;
  mutable std::vector<MessageText> messages_;
  mutable std::string all_text_;
  void compute_texts() const;
};

}  // namespace sy
