// The OpenAI dialect (pass-through) and the Anthropic Messages dialect (over anthropic_ingress's
// translation functions), behind the one Dialect interface the server uses for every endpoint.
#include "switchyard/providers/anthropic_ingress.hpp"
#include "switchyard/providers/ingress.hpp"

namespace sy::providers::ingress {
namespace {

class OpenAIDialect final : public Dialect {
 public:
  std::string_view name() const override { return "openai"; }
  // The body is the internal request already; Request::parse guards it.
  Result<Decoded> decode_request(std::string body, const json::Limits&) const override {
    return Decoded{std::move(body), {}};
  }
  Result<std::string> encode_response(std::string chat_body, const AnswerContext&) const override {
    return chat_body;
  }
  std::unique_ptr<StreamEncoder> stream_encoder(const AnswerContext&) const override { return nullptr; }
  std::string error_body(const Error& e) const override { return to_openai_json(e); }
  std::string error_event(const Error& e) const override { return "data: " + to_openai_json(e) + "\n\n"; }
};

class AnthropicEncoder final : public StreamEncoder {
 public:
  explicit AnthropicEncoder(std::string model) : translator_(std::move(model)) {}
  Status feed(std::string_view openai_sse, std::string& out) override { return translator_.feed(openai_sse, out); }
  void finish(std::string& out) override { translator_.finish(out); }
  std::string error_event(const Error& e) override { return anthropic_ingress::anthropic_error_event(e); }

 private:
  anthropic_ingress::StreamTranslator translator_;
};

class AnthropicDialect final : public Dialect {
 public:
  std::string_view name() const override { return "anthropic"; }
  Result<Decoded> decode_request(std::string body, const json::Limits& limits) const override {
    auto chat = anthropic_ingress::to_openai_request(body, limits);
    if (!chat) return std::move(chat).error();
    return Decoded{std::move(*chat), {}};
  }
  Result<std::string> encode_response(std::string chat_body, const AnswerContext&) const override {
    return anthropic_ingress::to_anthropic_response(chat_body);
  }
  std::unique_ptr<StreamEncoder> stream_encoder(const AnswerContext& ctx) const override {
    return std::make_unique<AnthropicEncoder>(ctx.model);
  }
  std::string error_body(const Error& e) const override { return anthropic_ingress::to_anthropic_error(e); }
  std::string error_event(const Error& e) const override { return anthropic_ingress::anthropic_error_event(e); }
};

}  // namespace

const Dialect& openai_dialect() {
  static const OpenAIDialect d;
  return d;
}

const Dialect& anthropic_dialect() {
  static const AnthropicDialect d;
  return d;
}

const Dialect& dialect_for_path(std::string_view path) {
  path = path.substr(0, path.find('?'));
  std::string_view api = path.starts_with("/v1/") ? path.substr(3) : path;
  if (api == "/messages") return anthropic_dialect();
  if (api == "/responses" || api.starts_with("/responses/")) return responses_dialect();
  return openai_dialect();
}

}  // namespace sy::providers::ingress
