#include <algorithm>

#include "switchyard/providers/anthropic_ingress.hpp"

#include <nlohmann/json.hpp>

#include "providers/anthropic/anthropic_mapping.hpp"
#include "providers/anthropic/chat_input.hpp"
#include "switchyard/core/json_tree.hpp"
#include "switchyard/providers/wire_format.hpp"

namespace sy::providers::anthropic_ingress {
namespace {

using Json = nlohmann::ordered_json;

constexpr std::int64_t kMaxToolCalls = 1024;

using chat::dump;
using chat::field_error;
using chat::member;
using chat::string_member;

// Prompt-cache breakpoints travel on the chat parts and tools they follow, as `cache_control`
// members (the convention of OpenAI-format clients of Anthropic models); Anthropic and Bedrock egress
// turn them back into breakpoints, other providers drop them.
void keep_cache(const Json& from, Json& to) {
  if (const Json* c = member(from, "cache_control"); c && c->is_object()) to["cache_control"] = *c;
}

bool has_cache(const Json& block) { return member(block, "cache_control") != nullptr; }

// Text of `system` or of a tool_result's content: a string or an array of text blocks (images are
// collected into `images` when given, else refused).
Result<std::string> text_of(const Json& content, const std::string& field, Json* images = nullptr) {
  if (content.is_string()) return content.get<std::string>();
  if (!content.is_array()) return field_error(field, "expected a string or an array of content blocks");
  std::string out;
  for (size_t i = 0; i < content.size(); ++i) {
    const Json& b = content[i];
    std::string bf = field + "[" + std::to_string(i) + "]";
    std::string type = string_member(b, "type");
    if (type == "text") {
      if (!out.empty()) out += "\n";
      out += string_member(b, "text");
    } else if (type == "image" && images) {
      images->push_back(b);
    } else {
      return field_error(bf + ".type", "expected a text block here, got '" + type + "'");
    }
  }
  return out;
}

// An Anthropic image or document block -> an OpenAI content part.
Result<Json> media_part(const Json& block, const std::string& field) {
  const Json* source = member(block, "source");
  if (!source || !source->is_object()) return field_error(field + ".source", "expected an object");
  std::string type = string_member(*source, "type");
  bool image = string_member(block, "type") == "image";
  std::string url;
  if (type == "base64") {
    std::string media = string_member(*source, "media_type"), data = string_member(*source, "data");
    if (media.empty() || data.empty()) return field_error(field + ".source", "base64 sources need media_type and data");
    url = "data:" + media + ";base64," + data;
  } else if (type == "url" && image) {
    url = string_member(*source, "url");
    if (url.empty()) return field_error(field + ".source.url", "expected a URL");
  } else {
    return field_error(field + ".source.type", "source type '" + type + "' is not supported");
  }
  if (image) return Json{{"type", "image_url"}, {"image_url", {{"url", url}}}};
  Json file = Json{{"file_data", url}};
  if (auto title = string_member(block, "title"); !title.empty()) file["filename"] = title;
  return Json{{"type", "file"}, {"file", std::move(file)}};
}

// One Anthropic message -> one or more OpenAI messages appended to `out`.
Status translate_message(const Json& msg, const std::string& field, Json& out) {
  std::string role = string_member(msg, "role");
  if (role != "user" && role != "assistant") return field_error(field + ".role", "expected user or assistant");
  const Json* content = member(msg, "content");
  if (!content) return field_error(field + ".content", "is required");
  if (content->is_string()) {
    out.push_back(Json{{"role", role}, {"content", *content}});
    return ok_status();
  }
  if (!content->is_array()) return field_error(field + ".content", "expected a string or an array of content blocks");

  Json parts = Json::array();       // user: text/image/file parts
  std::string text;                 // assistant: joined text
  Json tool_calls = Json::array();  // assistant
  Json tool_messages = Json::array();
  Json assistant_cache = Json::object();  // {"cache_control": ...} of the assistant's text, when it has one
  bool only_text = true;
  for (size_t i = 0; i < content->size(); ++i) {
    const Json& b = (*content)[i];
    std::string bf = field + ".content[" + std::to_string(i) + "]";
    std::string type = string_member(b, "type");
    if (type == "text") {
      if (role == "assistant") {
        text += string_member(b, "text");
        if (has_cache(b)) keep_cache(b, assistant_cache);
      } else {
        Json part = Json{{"type", "text"}, {"text", string_member(b, "text")}};
        keep_cache(b, part);
        only_text = only_text && !has_cache(b);
        parts.push_back(std::move(part));
      }
    } else if ((type == "image" || type == "document") && role == "user") {
      auto part = media_part(b, bf);
      if (!part) return std::move(part).error();
      keep_cache(b, *part);
      parts.push_back(std::move(*part));
      only_text = false;
    } else if (type == "tool_use" && role == "assistant") {
      const Json* input = member(b, "input");
      tool_calls.push_back(Json{{"id", string_member(b, "id")},
                                {"type", "function"},
                                {"function", {{"name", string_member(b, "name")}, {"arguments", input ? dump(*input) : "{}"}}}});
    } else if (type == "tool_result" && role == "user") {
      std::string result;
      if (const Json* c = member(b, "content")) {
        // Images in a tool result cannot ride in an OpenAI tool message: they follow as user content.
        Json images = Json::array();
        auto t = text_of(*c, bf + ".content", &images);
        if (!t) return std::move(t).error();
        result = std::move(*t);
        for (size_t k = 0; k < images.size(); ++k) {
          auto part = media_part(images[k], bf + ".content[" + std::to_string(k) + "]");
          if (!part) return std::move(part).error();
          parts.push_back(std::move(*part));
          only_text = false;
        }
      }
      Json tool_content = result;
      if (has_cache(b)) {
        Json part = Json{{"type", "text"}, {"text", result}};
        keep_cache(b, part);
        tool_content = Json::array({std::move(part)});
      }
      tool_messages.push_back(Json{{"role", "tool"}, {"tool_call_id", string_member(b, "tool_use_id")}, {"content", std::move(tool_content)}});
    } else if (type == "thinking" || type == "redacted_thinking") {
      // Reasoning from an earlier turn has no OpenAI request counterpart.
    } else {
      return field_error(bf + ".type", "block type '" + type + "' is not supported in a " + role + " message");
    }
  }
  // Tool results answer the previous assistant turn, so they come before anything else the user says.
  for (auto& t : tool_messages) out.push_back(std::move(t));
  if (role == "assistant") {
    if (text.empty() && tool_calls.empty()) return ok_status();
    Json m = Json{{"role", "assistant"}, {"content", text.empty() ? Json(nullptr) : Json(text)}};
    if (!text.empty() && assistant_cache.contains("cache_control")) {
      m["content"] = Json::array({Json{{"type", "text"}, {"text", text}, {"cache_control", assistant_cache["cache_control"]}}});
    }
    if (!tool_calls.empty()) m["tool_calls"] = std::move(tool_calls);
    out.push_back(std::move(m));
  } else if (!parts.empty()) {
    if (only_text && parts.size() == 1) out.push_back(Json{{"role", "user"}, {"content", parts[0]["text"]}});
    else out.push_back(Json{{"role", "user"}, {"content", std::move(parts)}});
  }
  return ok_status();
}

Status translate_tools(const Json& in, Json& out) {
  if (const Json* tools = member(in, "tools")) {
    if (!tools->is_array()) return field_error("tools", "expected an array");
    Json list = Json::array();
    for (size_t i = 0; i < tools->size(); ++i) {
      const Json& t = (*tools)[i];
      std::string tf = "tools[" + std::to_string(i) + "]";
      std::string type = string_member(t, "type");
      if (!type.empty() && type != "custom") return field_error(tf + ".type", "server tool '" + type + "' cannot be forwarded");
      std::string name = string_member(t, "name");
      if (name.empty()) return field_error(tf + ".name", "expected a non-empty string");
      Json fn = Json{{"name", name}};
      if (auto d = string_member(t, "description"); !d.empty()) fn["description"] = d;
      const Json* schema = member(t, "input_schema");
      fn["parameters"] = schema && schema->is_object() ? *schema : Json{{"type", "object"}, {"properties", Json::object()}};
      Json entry = Json{{"type", "function"}, {"function", std::move(fn)}};
      keep_cache(t, entry);
      list.push_back(std::move(entry));
    }
    out["tools"] = std::move(list);
  }
  if (const Json* choice = member(in, "tool_choice")) {
    if (!choice->is_object()) return field_error("tool_choice", "expected an object");
    std::string type = string_member(*choice, "type");
    if (type == "tool") {
      std::string name = string_member(*choice, "name");
      if (name.empty()) return field_error("tool_choice.name", "expected a non-empty string");
      out["tool_choice"] = Json{{"type", "function"}, {"function", {{"name", name}}}};
    } else if (auto mapped = anthropic::openai_tool_choice(type); !mapped.empty()) {
      out["tool_choice"] = mapped;
    } else {
      return field_error("tool_choice.type", "expected auto, any, tool or none");
    }
    if (const Json* d = member(*choice, "disable_parallel_tool_use"); d && d->is_boolean() && d->get<bool>() && out.contains("tools")) {
      out["parallel_tool_calls"] = false;
    }
  }
  return ok_status();
}

std::string sse_event(std::string_view name, const std::string& data) {
  std::string out = "event: ";
  out.append(name);
  out.append("\ndata: ");
  out.append(data);
  out.append("\n\n");
  return out;
}

std::string string_member(const json::Object& o, std::string_view key) {
  const auto* f = o.find(key);
  return f && f->type == json::Type::string ? json::string_value(f->value).value_or("") : std::string();
}

std::int64_t int_member(const json::Object& o, std::string_view key) {
  const auto* f = o.find(key);
  return f && f->type == json::Type::number ? json::integer_value(f->value).value_or(0) : 0;
}

}  // namespace

Result<std::string> to_openai_request(std::string_view anthropic_body, const json::Limits& limits) {
  auto parsed = json::parse_tree<Json>(anthropic_body, json::Limits{limits.max_depth, std::max(limits.max_bytes, anthropic_body.size())});
  if (!parsed) return std::move(parsed).error();
  Json& in = *parsed;
  if (!in.is_object()) return Error::bad_request("The request body must be a JSON object.");
  Json out = Json::object();
  const Json* model = member(in, "model");
  if (!model || !model->is_string()) return field_error("model", "expected a string");
  out["model"] = *model;

  Json messages = Json::array();
  if (const Json* system = member(in, "system")) {
    auto text = text_of(*system, "system");
    if (!text) return std::move(text).error();
    if (system->is_array() && std::any_of(system->begin(), system->end(), has_cache)) {
      // Cached system blocks stay blocks, each with its breakpoint.
      Json parts = Json::array();
      for (const auto& b : *system) {
        Json part = Json{{"type", "text"}, {"text", string_member(b, "text")}};
        keep_cache(b, part);
        parts.push_back(std::move(part));
      }
      messages.push_back(Json{{"role", "system"}, {"content", std::move(parts)}});
    } else if (!text->empty()) {
      messages.push_back(Json{{"role", "system"}, {"content", std::move(*text)}});
    }
  }
  const Json* msgs = member(in, "messages");
  if (!msgs || !msgs->is_array() || msgs->empty()) return field_error("messages", "expected a non-empty array");
  for (size_t i = 0; i < msgs->size(); ++i) {
    if (auto st = translate_message((*msgs)[i], "messages[" + std::to_string(i) + "]", messages); !st) {
      return std::move(st).error();
    }
  }
  out["messages"] = std::move(messages);

  if (const Json* mt = member(in, "max_tokens")) {
    if (!mt->is_number_integer() || mt->get<std::int64_t>() < 1) return field_error("max_tokens", "expected a positive integer");
    out["max_tokens"] = *mt;
  }
  if (const Json* stop = member(in, "stop_sequences")) {
    if (!stop->is_array()) return field_error("stop_sequences", "expected an array of strings");
    for (size_t i = 0; i < stop->size(); ++i) {
      if (!(*stop)[i].is_string()) return field_error("stop_sequences[" + std::to_string(i) + "]", "expected a string");
    }
    if (!stop->empty()) out["stop"] = *stop;
  }
  for (const char* key : {"temperature", "top_p"}) {
    if (const Json* v = member(in, key)) {
      if (!v->is_number()) return field_error(key, "expected a number");
      out[key] = *v;
    }
  }
  if (auto st = translate_tools(in, out); !st) return std::move(st).error();
  if (const Json* meta = member(in, "metadata")) {
    if (!meta->is_object()) return field_error("metadata", "expected an object");
    if (const Json* user = member(*meta, "user_id")) {
      if (!user->is_string()) return field_error("metadata.user_id", "expected a string");
      if (!user->get<std::string>().empty()) out["user"] = *user;
    }
  }
  if (const Json* stream = member(in, "stream")) {
    if (!stream->is_boolean()) return field_error("stream", "expected a boolean");
    if (stream->get<bool>()) {
      out["stream"] = true;
      out["stream_options"] = Json{{"include_usage", true}};
    }
  }
  // top_k, thinking and service tiers have no OpenAI equivalent and are not forwarded.
  return dump(out);
}

Result<std::string> to_anthropic_response(std::string_view openai_body) {
  // A body the upstream's decoder already passed through the guard.
  auto parsed = json::parse_tree<Json>(openai_body, json::Limits{json::Limits::kDefaultMaxDepth, openai_body.size()});
  if (!parsed) return upstream_json_error(parsed.error());
  Json& in = *parsed;
  const Json* choices = member(in, "choices");
  if (!choices || !choices->is_array() || choices->empty() || !(*choices)[0].is_object()) {
    return Error::make(ErrorKind::connection, "upstream response has no choices");
  }
  const Json& choice = (*choices)[0];
  const Json* message = member(choice, "message");
  Json content = Json::array();
  if (message) {
    if (auto text = string_member(*message, "content"); !text.empty()) content.push_back(Json{{"type", "text"}, {"text", text}});
    if (const Json* calls = member(*message, "tool_calls"); calls && calls->is_array()) {
      for (const auto& call : *calls) {
        const Json* fn = member(call, "function");
        std::string args = fn ? string_member(*fn, "arguments") : std::string();
        auto input = chat::parse_arguments(args);
        content.push_back(Json{{"type", "tool_use"},
                               {"id", string_member(call, "id")},
                               {"name", fn ? string_member(*fn, "name") : std::string()},
                               {"input", input ? std::move(*input) : Json::object()}});
      }
    }
  }
  std::int64_t prompt = 0, completion = 0, cached = 0, written = 0;
  if (const Json* u = member(in, "usage")) {
    auto num = [](const Json& o, const char* k) -> std::int64_t {
      const Json* v = member(o, k);
      return v && v->is_number_integer() ? std::clamp<std::int64_t>(v->get<std::int64_t>(), 0, kMaxTokenCount) : 0;
    };
    prompt = num(*u, "prompt_tokens");
    completion = num(*u, "completion_tokens");
    if (const Json* d = member(*u, "prompt_tokens_details")) {
      cached = num(*d, "cached_tokens");
      written = num(*d, "cache_write_tokens");
    }
  }
  Json out = Json::object();
  out["id"] = string_member(in, "id");
  out["type"] = "message";
  out["role"] = "assistant";
  out["model"] = string_member(in, "model");
  out["content"] = std::move(content);
  out["stop_reason"] = anthropic::anthropic_stop_reason(string_member(choice, "finish_reason"));
  out["stop_sequence"] = nullptr;
  cached = std::min(cached, prompt);
  written = std::min(written, prompt - cached);
  out["usage"] = Json{{"input_tokens", prompt - cached - written},
                      {"output_tokens", completion},
                      {"cache_creation_input_tokens", written},
                      {"cache_read_input_tokens", cached}};
  return dump(out);
}

std::string to_anthropic_error(std::string_view openai_error_json, int http_status) {
  Json in = Json::parse(openai_error_json, nullptr, false);
  std::string message;
  if (const Json* e = member(in, "error")) message = e->is_string() ? e->get<std::string>() : string_member(*e, "message");
  if (message.empty()) message = "HTTP " + std::to_string(http_status);
  Json out = Json{{"type", "error"},
                  {"error", {{"type", anthropic::error_type_for_status(http_status)}, {"message", message}}}};
  return dump(out);
}

std::string to_anthropic_error(const Error& e) { return to_anthropic_error(to_openai_json(e), http_status(e)); }

std::string anthropic_error_event(const Error& e) { return sse_event("error", to_anthropic_error(e)); }

void StreamTranslator::start_message(std::string& out) {
  if (started_) return;
  started_ = true;
  Json message = Json{{"id", id_},
                      {"type", "message"},
                      {"role", "assistant"},
                      {"model", model_},
                      {"content", Json::array()},
                      {"stop_reason", nullptr},
                      {"stop_sequence", nullptr},
                      {"usage", {{"input_tokens", 0}, {"output_tokens", 0}}}};
  out += sse_event("message_start", dump(Json{{"type", "message_start"}, {"message", std::move(message)}}));
}

void StreamTranslator::stop_block(std::string& out) {
  if (open_block_ < 0) return;
  out += sse_event("content_block_stop", R"({"type":"content_block_stop","index":)" + std::to_string(open_block_) + "}");
  open_block_ = -1;
}

void StreamTranslator::close(std::string& out) {
  if (done_) return;
  start_message(out);
  stop_block(out);
  std::string stop = stop_reason_.empty() ? "end_turn" : stop_reason_;
  Json usage = Json{{"output_tokens", completion_tokens_}};
  if (usage_seen_) {
    const std::int64_t cached = std::min(cached_tokens_, prompt_tokens_);
    const std::int64_t written = std::min(cache_write_tokens_, prompt_tokens_ - cached);
    usage["input_tokens"] = prompt_tokens_ - cached - written;
    usage["cache_creation_input_tokens"] = written;
    usage["cache_read_input_tokens"] = cached;
  }
  out += sse_event("message_delta", dump(Json{{"type", "message_delta"},
                                              {"delta", {{"stop_reason", stop}, {"stop_sequence", nullptr}}},
                                              {"usage", std::move(usage)}}));
  out += sse_event("message_stop", R"({"type":"message_stop"})");
  done_ = true;
}

void StreamTranslator::on_data(std::string_view data, std::string& out) {
  if (done_ || error_) return;
  if (data == "[DONE]") {
    close(out);
    return;
  }
  auto obj = json::scan_object(data);
  if (!obj) {
    error_ = Error::make(ErrorKind::connection, "upstream sent a malformed stream chunk");
    return;
  }
  if (!started_) {
    id_ = string_member(*obj, "id");
    if (auto m = string_member(*obj, "model"); !m.empty()) model_ = std::move(m);
    start_message(out);
  }
  if (const auto* u = obj->find("usage"); u && u->type == json::Type::object) {
    if (auto uo = json::scan_object(u->value)) {
      auto count = [](std::int64_t v) { return std::clamp<std::int64_t>(v, 0, kMaxTokenCount); };
      prompt_tokens_ = count(int_member(*uo, "prompt_tokens"));
      completion_tokens_ = count(int_member(*uo, "completion_tokens"));
      if (const auto* d = uo->find("prompt_tokens_details"); d && d->type == json::Type::object) {
        if (auto dobj = json::scan_object(d->value)) {
          cached_tokens_ = count(int_member(*dobj, "cached_tokens"));
          cache_write_tokens_ = count(int_member(*dobj, "cache_write_tokens"));
        }
      }
      usage_seen_ = true;
    }
  }
  const auto* choices = obj->find("choices");
  if (!choices || choices->type != json::Type::array) return;
  auto list = json::scan_array(choices->value);
  if (!list || list->empty() || list->front().type != json::Type::object) return;
  auto choice = json::scan_object(list->front().value);
  if (!choice) return;
  if (auto reason = string_member(*choice, "finish_reason"); !reason.empty()) {
    stop_reason_ = std::string(anthropic::anthropic_stop_reason(reason));
  }
  const auto* delta_field = choice->find("delta");
  if (!delta_field || delta_field->type != json::Type::object) return;
  auto delta = json::scan_object(delta_field->value);
  if (!delta) return;

  if (const auto* c = delta->find("content"); c && c->type == json::Type::string && c->value.size() > 2) {
    if (open_block_ < 0 || !open_is_text_) {
      stop_block(out);
      open_block_ = next_block_++;
      open_is_text_ = true;
      out += sse_event("content_block_start", R"({"type":"content_block_start","index":)" + std::to_string(open_block_) +
                                                  R"(,"content_block":{"type":"text","text":""}})");
    }
    // The raw JSON string token is valid as Anthropic's text too: copied without re-encoding.
    out += sse_event("content_block_delta", R"({"type":"content_block_delta","index":)" + std::to_string(open_block_) +
                                                R"(,"delta":{"type":"text_delta","text":)" + std::string(c->value) + "}}");
  }
  const auto* calls = delta->find("tool_calls");
  if (!calls || calls->type != json::Type::array) return;
  auto items = json::scan_array(calls->value);
  if (!items) return;
  for (const auto& item : *items) {
    auto call = json::scan_object(item.value);
    if (!call) continue;
    std::int64_t index = int_member(*call, "index");
    if (index < 0 || index >= kMaxToolCalls) continue;  // bounds the index vectors
    auto k = static_cast<size_t>(index);
    std::optional<json::Object> fn;
    if (const auto* f = call->find("function"); f && f->type == json::Type::object) {
      if (auto fo = json::scan_object(f->value)) fn = std::move(*fo);
    }
    std::string id = string_member(*call, "id");
    bool known = k < tool_block_.size() && tool_block_[k] >= 0;
    // Some servers repeat the id in every delta of a call; only a new index or a new id starts a block.
    if (!known || (!id.empty() && id != tool_ids_[k])) {
      stop_block(out);
      if (k >= tool_block_.size()) {
        tool_block_.resize(k + 1, -1);
        tool_ids_.resize(k + 1);
      }
      tool_block_[k] = open_block_ = next_block_++;
      tool_ids_[k] = id;
      open_is_text_ = false;
      std::string name = fn ? string_member(*fn, "name") : std::string();
      out += sse_event("content_block_start",
                       R"({"type":"content_block_start","index":)" + std::to_string(open_block_) +
                           R"(,"content_block":{"type":"tool_use","id":)" + json::quote(id) + R"(,"name":)" +
                           json::quote(name) + R"(,"input":{}}})");
    }
    if (!fn) continue;
    if (const auto* args = fn->find("arguments"); args && args->type == json::Type::string && args->value.size() > 2) {
      out += sse_event("content_block_delta", R"({"type":"content_block_delta","index":)" + std::to_string(tool_block_[k]) +
                                                  R"(,"delta":{"type":"input_json_delta","partial_json":)" +
                                                  std::string(args->value) + "}}");
    }
  }
}

Status StreamTranslator::feed(std::string_view openai_sse, std::string& out) {
  if (error_) return *error_;
  parser_.feed(openai_sse, [&](std::string_view, std::string_view data) { on_data(data, out); });
  if (error_) return *error_;
  return ok_status();
}

void StreamTranslator::finish(std::string& out) {
  parser_.feed("\n\n", [&](std::string_view, std::string_view data) { on_data(data, out); });
  close(out);
}

}  // namespace sy::providers::anthropic_ingress
