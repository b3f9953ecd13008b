#pragma once
/// Ingress dialects: the API shapes clients speak to the gateway, each translated at the edge to and
/// from the one internal request, an OpenAI chat-completions body — the way provider wire formats
/// translate on the upstream side. OpenAI's own endpoints (chat, completions, embeddings) pass through;
/// Anthropic Messages (`POST /v1/messages`) and OpenAI Responses (`POST /v1/responses`) are decoded
/// into a chat request and their answers, stream events and errors encoded back. Everything after
/// decoding — routing, limits, failover, headers, the decision log — is one path for all of them.
///
/// Dialects are stateless singletons; pure functions over bytes, no I/O, thread-safe. A StreamEncoder
/// holds one stream's state and is used from one coroutine.
#include <memory>
#include <string>
#include <string_view>

#include "switchyard/core/error.hpp"
#include "switchyard/core/json_scan.hpp"

namespace sy::providers::ingress {

/// A client's request decoded into the internal chat body, plus what the answer must echo.
struct Decoded {
  std::string chat_body;  ///< an OpenAI chat-completions request body
  std::string echo;       ///< dialect-specific JSON the answer repeats (Responses: the request's settings)
};

/// What encoding an answer needs besides the chat body.
struct AnswerContext {
  std::string model;      ///< reported when the upstream's answer names none
  std::string_view echo;  ///< Decoded::echo
};

/// Re-encodes a stream of OpenAI `chat.completion.chunk` SSE frames as the dialect's stream events.
class StreamEncoder {
 public:
  virtual ~StreamEncoder() = default;
  /// Consumes OpenAI SSE bytes (any split) and appends the dialect's events to `out`. An Error when a
  /// frame is not valid JSON.
  virtual Status feed(std::string_view openai_sse, std::string& out) = 0;
  /// The stream ended: closes what is open and appends the dialect's final events.
  virtual void finish(std::string& out) = 0;
  /// An error after the stream began, as the dialect's error event (numbered in this stream).
  virtual std::string error_event(const Error& e) = 0;
};

class Dialect {
 public:
  virtual ~Dialect() = default;
  /// "openai", "anthropic", "responses".
  virtual std::string_view name() const = 0;
  /// The client's body -> the internal chat body. The body passes the JSON guard with `limits` first.
  /// Errors are bad_request naming the field.
  virtual Result<Decoded> decode_request(std::string body, const json::Limits& limits) const = 0;
  /// A chat.completion body -> the dialect's answer body.
  virtual Result<std::string> encode_response(std::string chat_body, const AnswerContext& ctx) const = 0;
  /// An encoder for streamed answers; nullptr when OpenAI chunks go out unchanged.
  virtual std::unique_ptr<StreamEncoder> stream_encoder(const AnswerContext& ctx) const = 0;
  /// The error body the client receives (status from http_status()).
  virtual std::string error_body(const Error& e) const = 0;
  /// An error after a stream began, as one SSE frame, for streams relayed without an encoder.
  virtual std::string error_event(const Error& e) const = 0;
};

/// OpenAI's own endpoints: bodies, chunks and errors unchanged.
const Dialect& openai_dialect();
/// Anthropic Messages, for Anthropic SDK clients and coding agents.
const Dialect& anthropic_dialect();
/// OpenAI Responses (`POST /v1/responses`), for OpenAI SDKs and agent frameworks that default to it.
const Dialect& responses_dialect();
/// The dialect a request path speaks (`/v1/messages` and `/messages`: Anthropic; `/v1/responses...`:
/// Responses; everything else OpenAI), for answering before a handler ran.
const Dialect& dialect_for_path(std::string_view path);

}  // namespace sy::providers::ingress
