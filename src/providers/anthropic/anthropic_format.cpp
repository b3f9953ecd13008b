#include "providers/anthropic/anthropic_format.hpp"

#include <algorithm>
#include <charconv>
#include <ctime>

#include "providers/anthropic/anthropic_mapping.hpp"
#include "providers/anthropic/chat_input.hpp"
#include "switchyard/core/json_scan.hpp"

namespace sy::providers {
namespace {

// Content block indexes index a vector: an upstream cannot make it grow without bound.
constexpr int kMaxBlocks = 4096;

using chat::Block;
using chat::Json;

Json content_block_of(const Block& b) {
  switch (b.kind) {
    case Block::Kind::text:
      return Json{{"type", "text"}, {"text", b.text}};
    case Block::Kind::image:
      if (!b.url.empty()) return Json{{"type", "image"}, {"source", {{"type", "url"}, {"url", b.url}}}};
      return Json{{"type", "image"}, {"source", {{"type", "base64"}, {"media_type", b.media_type}, {"data", b.data}}}};
    case Block::Kind::document:
      return Json{{"type", "document"}, {"source", {{"type", "base64"}, {"media_type", b.media_type}, {"data", b.data}}}};
    case Block::Kind::tool_use:
      return Json{{"type", "tool_use"}, {"id", b.id}, {"name", b.name}, {"input", b.input}};
    case Block::Kind::tool_result:
      return Json{{"type", "tool_result"}, {"tool_use_id", b.id}, {"content", b.text}};
  }
  return Json::object();
}

Json content_block(const Block& b) {
  Json j = content_block_of(b);
  if (!b.cache_control.is_null()) j["cache_control"] = b.cache_control;  // a prompt-cache breakpoint
  return j;
}

Result<std::string> build_body(const Request& request, const EncodeOptions& options) {
  auto read = chat::read_chat_input(request);
  if (!read) return std::move(read).error();
  chat::ChatInput& in = *read;
  const auto& provider = options.provider;

  Json body = Json::object();
  body["model"] = options.deployment.upstream_model;
  bool system_cached = std::any_of(in.system.begin(), in.system.end(), [](const auto& s) { return !s.cache_control.is_null(); });
  if (in.system.size() == 1 && !system_cached) {
    body["system"] = in.system.front().text;
  } else if (!in.system.empty()) {
    Json blocks = Json::array();
    for (auto& s : in.system) {
      Json block = Json{{"type", "text"}, {"text", s.text}};
      if (!s.cache_control.is_null()) block["cache_control"] = s.cache_control;
      blocks.push_back(std::move(block));
    }
    body["system"] = std::move(blocks);
  }
  Json messages = Json::array();
  for (const auto& turn : in.turns) {
    Json content;
    if (turn.blocks.size() == 1 && turn.blocks.front().kind == Block::Kind::text && turn.blocks.front().cache_control.is_null()) {
      content = turn.blocks.front().text;
    } else {
      content = Json::array();
      for (const auto& b : turn.blocks) content.push_back(content_block(b));
    }
    messages.push_back(Json{{"role", turn.assistant ? "assistant" : "user"}, {"content", std::move(content)}});
  }
  body["messages"] = std::move(messages);

  body["max_tokens"] = in.max_tokens.value_or(provider.options.max_tokens.value_or(AnthropicFormat::kDefaultMaxTokens));
  if (!in.stop.empty()) body["stop_sequences"] = in.stop;
  // OpenAI's temperature goes to 2, Anthropic's to 1: clamp so one request body works on both.
  if (in.temperature) body["temperature"] = std::clamp(*in.temperature, 0.0, 1.0);
  if (in.top_p) body["top_p"] = *in.top_p;
  // Anthropic-only fields a client may add; OpenAI's own `metadata` means something else and stays.
  for (const char* key : {"top_k", "thinking"}) {
    if (auto it = in.body.find(key); it != in.body.end() && !it->is_null()) body[key] = *it;
  }
  if (!in.user.empty()) body["metadata"] = Json{{"user_id", in.user}};

  if (!in.tools.empty()) {
    Json tools = Json::array();
    for (const auto& t : in.tools) {
      Json tool = Json{{"name", t.name}};
      if (!t.description.empty()) tool["description"] = t.description;
      tool["input_schema"] = t.schema;
      if (!t.cache_control.is_null()) tool["cache_control"] = t.cache_control;
      tools.push_back(std::move(tool));
    }
    body["tools"] = std::move(tools);
  }
  Json choice;
  if (in.tool_choice == "function") {
    choice = Json{{"type", "tool"}, {"name", in.tool_choice_name}};
  } else if (!in.tool_choice.empty()) {
    choice = Json{{"type", anthropic::anthropic_tool_choice(in.tool_choice)}};
  }
  if (in.parallel_tool_calls == false && !in.tools.empty() && in.tool_choice != "none") {
    if (choice.is_null()) choice = Json{{"type", "auto"}};
    choice["disable_parallel_tool_use"] = true;
  }
  // Anthropic refuses a tool_choice without tools.
  if (!choice.is_null() && !in.tools.empty()) body["tool_choice"] = std::move(choice);
  if (request.stream()) body["stream"] = true;
  return body.dump(-1, ' ', false, Json::error_handler_t::replace);
}

// A string member of a parsed object, or empty (never throws on a type mismatch).
std::string str(const Json& obj, const char* key) {
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::string string_field(const json::Object& o, std::string_view key) {
  const auto* f = o.find(key);
  return f && f->type == json::Type::string ? json::string_value(f->value).value_or("") : std::string();
}

Error stream_error(std::string_view data) {
  // {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}
  std::string type;
  if (auto o = json::scan_object(data)) {
    if (const auto* e = o->find("error"); e && e->type == json::Type::object) {
      if (auto eo = json::scan_object(e->value)) type = string_field(*eo, "type");
    }
  }
  Error err = classify_http_error(anthropic::status_for_error_type(type), {}, data);
  err.message = "upstream stream error: " + err.message;
  return err;
}

}  // namespace

namespace anthropic {

void TokenCounts::merge(const json::Object& u) {
  auto take = [&](const char* key, std::int64_t& slot) {
    if (const auto* f = u.find(key); f && f->type == json::Type::number) {
      slot = std::clamp<std::int64_t>(json::integer_value(f->value).value_or(slot), 0, kMaxTokenCount);
      seen = true;
    }
  };
  take("input_tokens", input);
  take("cache_read_input_tokens", cache_read);
  take("cache_creation_input_tokens", cache_creation);
  take("output_tokens", output);
}

void TokenCounts::store(Usage& u) const {
  if (!seen) return;
  u.prompt_tokens = input + cache_read + cache_creation;
  u.cached_tokens = cache_read;
  u.cache_write_tokens = cache_creation;
  u.completion_tokens = output;
  u.known = true;
}

}  // namespace anthropic

Result<UpstreamRequest> AnthropicFormat::encode(const Request& request, const EncodeOptions& options) const {
  if (request.endpoint() != Endpoint::chat) return chat::unsupported_endpoint(kType, request.endpoint());
  auto body = build_body(request, options);
  if (!body) return std::move(body).error();
  const auto& p = options.provider;
  UpstreamRequest up;
  // base_url may be given with or without the /v1 the API lives under.
  up.target = p.url.base_path.ends_with("/v1") ? p.url.base_path + "/messages" : p.url.base_path + "/v1/messages";
  up.headers.push_back({"content-type", "application/json"});
  if (!p.api_key.empty()) up.headers.push_back({"x-api-key", p.api_key});
  const auto& version = p.options.version;
  up.headers.push_back({"anthropic-version", version.empty() ? std::string(anthropic::kApiVersion) : version});
  std::string beta;
  for (const auto& b : p.options.beta) beta += (beta.empty() ? "" : ",") + b;
  if (!beta.empty()) up.headers.push_back({"anthropic-beta", std::move(beta)});
  for (const auto& [k, v] : p.headers) up.headers.push_back({k, v});
  up.body = std::move(*body);
  return up;
}

Result<std::string> AnthropicFormat::decode_response(const Request& request, std::string body, Usage& usage) const {
  auto parsed = json::parse_tree<Json>(body, request.json_limits());
  if (!parsed) return upstream_json_error(parsed.error());
  Json& msg = *parsed;
  if (!msg.is_object() || !msg.contains("content")) {
    return Error::make(ErrorKind::connection, "upstream returned a body that is not an Anthropic message");
  }
  std::string text;
  Json tool_calls = Json::array();
  if (const auto& content = msg["content"]; content.is_array()) {
    for (const auto& block : content) {
      std::string type = str(block, "type");
      if (type == "text") {
        text += str(block, "text");
      } else if (type == "tool_use") {
        Json input = block.contains("input") ? block["input"] : Json::object();
        tool_calls.push_back(Json{{"id", str(block, "id")},
                                  {"type", "function"},
                                  {"function", {{"name", str(block, "name")},
                                                {"arguments", input.dump(-1, ' ', false, Json::error_handler_t::replace)}}}});
      }
      // Thinking and redacted_thinking blocks have no OpenAI counterpart and are dropped.
    }
  }
  Json message = Json{{"role", "assistant"}, {"content", text.empty() && !tool_calls.empty() ? Json(nullptr) : Json(text)}};
  if (!tool_calls.empty()) message["tool_calls"] = std::move(tool_calls);
  std::string stop_reason = str(msg, "stop_reason");

  anthropic::TokenCounts counts;
  if (auto top = json::scan_object(body)) {
    if (const auto* u = top->find("usage"); u && u->type == json::Type::object) {
      if (auto uo = json::scan_object(u->value)) counts.merge(*uo);
    }
  }
  counts.store(usage);

  Json out = Json::object();
  out["id"] = str(msg, "id");
  out["object"] = "chat.completion";
  out["created"] = static_cast<std::int64_t>(std::time(nullptr));
  out["model"] = str(msg, "model");
  out["choices"] = Json::array({Json{{"index", 0},
                                     {"message", std::move(message)},
                                     {"logprobs", nullptr},
                                     {"finish_reason", anthropic::openai_finish_reason(stop_reason)}}});
  if (counts.seen) out["usage"] = Json::parse(chat::openai_usage_json(usage));
  return out.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::unique_ptr<StreamDecoder> AnthropicFormat::stream_decoder(const Request& request) const {
  return std::make_unique<AnthropicStreamDecoder>(request.client_wants_usage(), request.json_limits());
}

Error AnthropicFormat::classify_error(int status, const Headers& headers, std::string_view body) const {
  return classify_http_error(status, headers, body);
}

void AnthropicStreamDecoder::on_event(std::string_view data, std::string& out) {
  if (done_ || error_) return;
  auto obj = json::scan_object(data, limits_);
  if (!obj) {
    error_ = upstream_json_error(obj.error());
    return;
  }
  std::string type = string_field(*obj, "type");
  // Frames need an id and model; an upstream that skipped message_start still gets well-formed chunks.
  if (type != "message_start" && !writer_.started()) writer_.start("msg", "", static_cast<std::int64_t>(std::time(nullptr)));
  auto index_of = [&]() -> int {
    const auto* f = obj->find("index");
    return f && f->type == json::Type::number ? static_cast<int>(json::integer_value(f->value).value_or(-1)) : -1;
  };
  auto sub = [&](std::string_view key) -> std::optional<json::Object> {
    const auto* f = obj->find(key);
    if (!f || f->type != json::Type::object) return std::nullopt;
    auto o = json::scan_object(f->value);
    return o ? std::optional<json::Object>(std::move(*o)) : std::nullopt;
  };
  if (type == "message_start") {
    auto message = sub("message");
    std::string id = message ? string_field(*message, "id") : std::string();
    std::string model = message ? string_field(*message, "model") : std::string();
    writer_.start(id.empty() ? "msg" : id, model, static_cast<std::int64_t>(std::time(nullptr)));
    if (message) {
      if (const auto* u = message->find("usage"); u && u->type == json::Type::object) {
        if (auto uo = json::scan_object(u->value)) counts_.merge(*uo);
      }
    }
  } else if (type == "content_block_start") {
    int index = index_of();
    auto block = sub("content_block");
    if (index < 0 || index >= kMaxBlocks || !block) return;
    if (static_cast<size_t>(index) >= tool_index_.size()) tool_index_.resize(index + 1, -1);
    std::string btype = string_field(*block, "type");
    if (btype == "tool_use") {
      tool_index_[index] = tools_++;
      writer_.tool_start(tool_index_[index], string_field(*block, "id"), string_field(*block, "name"), out);
    } else if (btype == "text") {
      if (const auto* t = block->find("text"); t && t->type == json::Type::string && t->value.size() > 2) {
        writer_.text(t->value, out);
      }
    }
  } else if (type == "content_block_delta") {
    int index = index_of();
    auto delta = sub("delta");
    if (!delta) return;
    std::string dtype = string_field(*delta, "type");
    if (dtype == "text_delta") {
      if (const auto* t = delta->find("text"); t && t->type == json::Type::string && t->value.size() > 2) writer_.text(t->value, out);
    } else if (dtype == "input_json_delta") {
      const auto* pj = delta->find("partial_json");
      bool is_tool = index >= 0 && static_cast<size_t>(index) < tool_index_.size() && tool_index_[index] >= 0;
      if (is_tool && pj && pj->type == json::Type::string && pj->value.size() > 2) writer_.tool_args(tool_index_[index], pj->value, out);
    }
    // thinking_delta, signature_delta and citations_delta have no OpenAI counterpart.
  } else if (type == "message_delta") {
    if (auto delta = sub("delta")) {
      std::string reason = string_field(*delta, "stop_reason");
      if (!reason.empty()) finish_reason_ = std::string(anthropic::openai_finish_reason(reason));
    }
    if (auto u = sub("usage")) counts_.merge(*u);
  } else if (type == "message_stop") {
    writer_.finish(finish_reason_.empty() ? "stop" : finish_reason_, out);
    counts_.store(usage_);
    if (client_wants_usage_ && usage_.known) writer_.usage(usage_, out);
    writer_.done(out);
    done_ = true;
  } else if (type == "error") {
    error_ = stream_error(data);
  }
  // ping and unknown event types are ignored, as Anthropic's versioning policy asks.
}

Status AnthropicStreamDecoder::feed(std::string_view bytes, std::string& out) {
  if (error_) return *error_;
  size_t before = writer_.frames();
  bool fits = parser_.feed(bytes, [&](std::string_view, std::string_view data) { on_event(data, out); }, limits_.max_bytes);
  if (!fits && !error_) error_ = Error::make(ErrorKind::connection, "upstream stream event exceeds " + std::to_string(limits_.max_bytes) + " bytes");
  events_ = writer_.frames();
  counts_.store(usage_);
  // An error after frames went out in this same call is reported on the next call, so those frames
  // reach the client first.
  if (error_ && writer_.frames() == before) return *error_;
  return ok_status();
}

Status AnthropicStreamDecoder::finish(std::string& out) {
  auto st = feed("\n\n", out);
  if (!st) return st;
  if (error_) return *error_;
  if (!done_) return Error::make(ErrorKind::connection, "the upstream stream ended before message_stop");
  return ok_status();
}

}  // namespace sy::providers
