#pragma once
/// Anthropic-format ingress: lets Anthropic clients (the official SDKs, Claude Code) call the gateway
/// with `POST /v1/messages` and be served by any deployment. The request is translated to an OpenAI
/// chat request at the edge, dispatched as usual, and the answer translated back. Pure translation,
/// no I/O; uses the same mapping tables as the `anthropic` egress format.
///
/// Wiring (server): parse with to_openai_request -> Request::parse(Endpoint::chat, ...) -> dispatch ->
/// to_anthropic_response (plain) or a StreamTranslator over the frames of the ResponseStream
/// (streaming); errors through to_anthropic_error / anthropic_error_event.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "switchyard/core/error.hpp"
#include "switchyard/core/json_scan.hpp"
#include "switchyard/providers/sse.hpp"

namespace sy::providers::anthropic_ingress {

/// An Anthropic Messages request body -> an OpenAI chat.completions request body. System prompts become
/// a system message, tool_result blocks become `tool` messages, tool_use blocks assistant tool_calls,
/// images data: URLs. A streaming request also asks for the usage chunk (Anthropic streams report
/// usage). Errors are bad_request naming the field ("messages[1].content[0].source"); the body passes
/// the JSON guard with `limits` first (its size was bounded by the HTTP layer).
Result<std::string> to_openai_request(std::string_view anthropic_body, const json::Limits& limits = {});

/// An OpenAI chat.completion body -> an Anthropic message body (content blocks, stop_reason, usage with
/// cache reads split out of input_tokens).
Result<std::string> to_anthropic_response(std::string_view openai_body);

/// An OpenAI error body ({"error":{"message",...}}) and the HTTP status it came with -> an Anthropic
/// error body ({"type":"error","error":{"type","message"}}), the type chosen by status.
std::string to_anthropic_error(std::string_view openai_error_json, int http_status);
/// The same for an Error, as the server sends it (status from http_status()).
std::string to_anthropic_error(const Error& e);
/// An Anthropic `event: error` SSE frame, for failures after the stream began.
std::string anthropic_error_event(const Error& e);

/// Turns OpenAI `chat.completion.chunk` SSE frames into Anthropic stream events: message_start, one
/// content_block_start/delta/stop run per text or tool_use block, message_delta (stop_reason and
/// usage) and message_stop. One per stream, used from one coroutine.
class StreamTranslator {
 public:
  /// `model` is reported when the chunks carry none.
  explicit StreamTranslator(std::string model = {}) : model_(std::move(model)) {}
  /// Consumes OpenAI SSE bytes (any split) and appends Anthropic SSE events to `out`. Returns an Error
  /// when a frame is not valid JSON.
  Status feed(std::string_view openai_sse, std::string& out);
  /// The upstream stream ended: closes what is open and appends message_delta and message_stop, unless
  /// `data: [DONE]` already did.
  void finish(std::string& out);
  /// message_stop was written.
  bool finished() const { return done_; }

 private:
  void on_data(std::string_view data, std::string& out);
  void start_message(std::string& out);
  void stop_block(std::string& out);
  void close(std::string& out);

  SseParser parser_;
  std::string model_;
  std::string id_;
  bool started_ = false;
  bool done_ = false;
  int next_block_ = 0;
  int open_block_ = -1;         // index of the open content block, -1 when none
  bool open_is_text_ = false;
  std::vector<int> tool_block_;  // OpenAI tool_calls index -> Anthropic block index
  std::vector<std::string> tool_ids_;
  std::string stop_reason_;
  std::int64_t prompt_tokens_ = 0, completion_tokens_ = 0, cached_tokens_ = 0, cache_write_tokens_ = 0;
  bool usage_seen_ = false;
  std::optional<Error> error_;
};

}  // namespace sy::providers::anthropic_ingress
