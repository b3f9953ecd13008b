#pragma once
/// A provider's wire format: how an OpenAI-shaped request is encoded for it and how its answers,
/// stream events and errors are decoded back. Pure functions over bytes, no I/O, so each format is
/// tested against golden files. One implementation per provider type, all the same shape.
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "switchyard/config/config.hpp"
#include "switchyard/core/error.hpp"
#include "switchyard/core/request.hpp"
#include "switchyard/core/usage.hpp"
#include "switchyard/providers/http_types.hpp"

namespace sy::providers {

struct EncodeOptions {
  const config::ProviderConfig& provider;
  const config::DeploymentConfig& deployment;
  /// Ask the upstream for usage in streams even when the client did not (to settle token limits and
  /// price the request); the decoder strips that chunk unless the client asked.
  bool stream_usage = true;
  /// Wall-clock time for request signing (AWS SigV4); unset means now. Tests pin it.
  std::optional<std::chrono::system_clock::time_point> now = std::nullopt;
};

/// Turns upstream stream bytes into OpenAI `chat.completion.chunk` SSE frames. Stateful, one per
/// exchange, used from one coroutine.
class StreamDecoder {
 public:
  /// `limits` bound every event: its size and, through the JSON guard, its nesting.
  explicit StreamDecoder(const json::Limits& limits = {}) : limits_(limits) {}
  virtual ~StreamDecoder() = default;
  /// Consumes `bytes` and appends complete SSE frames ("data: {...}\n\n") to `out`.
  virtual Status feed(std::string_view bytes, std::string& out) = 0;
  /// The upstream body ended: appends what remains (a final "data: [DONE]\n\n"). An error when the
  /// stream was cut short (no terminal event).
  virtual Status finish(std::string& out) = 0;
  /// Usage seen in the stream so far.
  const Usage& usage() const { return usage_; }
  /// Frames emitted so far (0 until the first event reached `out`).
  std::size_t events() const { return events_; }

 protected:
  json::Limits limits_;
  Usage usage_;
  std::size_t events_ = 0;
};

class WireFormat {
 public:
  virtual ~WireFormat() = default;
  /// Builds the upstream request for `request` (endpoint, model rewrite, auth headers).
  virtual Result<UpstreamRequest> encode(const Request& request, const EncodeOptions& options) const = 0;
  /// Converts a 2xx non-streaming body into the OpenAI response body; fills `usage` when reported.
  virtual Result<std::string> decode_response(const Request& request, std::string body, Usage& usage) const = 0;
  /// A decoder for a streaming 2xx body.
  virtual std::unique_ptr<StreamDecoder> stream_decoder(const Request& request) const = 0;
  /// Classifies a non-2xx response into the normalised error kinds, keeping the upstream message.
  virtual Error classify_error(int status, const Headers& headers, std::string_view body) const = 0;
};

/// The wire format of a provider type (the mock speaks OpenAI's). The one place types are bound to codecs.
const WireFormat& wire_format_for(config::ProviderKind kind);
/// The same by YAML type name ("openai", "mock", ...); nullptr when unknown.
const WireFormat* wire_format_for(std::string_view provider_type);

/// An upstream document that failed the JSON guard (too deep, too large, invalid UTF-8, repeated keys,
/// bad syntax) as an upstream failure: the attempt fails over like any malformed response.
Error upstream_json_error(const Error& guard);

/// Shared by every format: OpenAI-style error classification by status, retry-after headers and
/// message keywords (context length, content filter).
Error classify_http_error(int status, const Headers& headers, std::string_view body);

}  // namespace sy::providers
