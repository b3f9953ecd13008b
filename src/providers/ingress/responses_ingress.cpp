// OpenAI Responses API ingress (`POST /v1/responses`): a Responses request becomes a chat-completions
// request; a chat.completion becomes a `response` object; chat chunks become the typed Responses
// stream events (response.created, response.output_item.added, response.output_text.delta, ...,
// response.completed). Responses are not stored: `previous_response_id` and the stored-response
// endpoints answer with a clear error instead. The output items the gateway produced are remembered
// for a while (a bounded cache in this process), so that an `item_reference` to one of them — what
// the Vercel AI SDK sends by default for an earlier assistant turn — resolves.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <ctime>
#include <deque>
#include <mutex>
#include <unordered_map>
#include <nlohmann/json.hpp>
#include <vector>

#include "providers/anthropic/chat_input.hpp"
#include "switchyard/core/ids.hpp"
#include "switchyard/core/json_tree.hpp"
#include "switchyard/core/usage.hpp"
#include "switchyard/providers/ingress.hpp"
#include "switchyard/providers/sse.hpp"
#include "switchyard/providers/wire_format.hpp"

namespace sy::providers::ingress {
namespace {

using Json = nlohmann::ordered_json;

using chat::dump;
using chat::field_error;
using chat::member;
using chat::string_member;

std::string sse(std::string_view type, const Json& data) {
  std::string out = "event: ";
  out.append(type).append("\ndata: ").append(dump(data)).append("\n\n");
  return out;
}

// Settings of the request the response object repeats (as OpenAI's does), with their defaults.
constexpr const char* kEchoed[] = {"instructions", "max_output_tokens", "metadata", "parallel_tool_calls", "reasoning",
                                   "temperature",  "text",              "tool_choice", "tools",             "top_p",
                                   "user",         "service_tier"};

/// Output items this process produced, by id, for item_reference: at most kMaxItems and kMaxBytes,
/// each for kTtl. Thread-safe; touched once per Responses answer and per reference, never otherwise.
class ItemCache {
 public:
  void put(const std::string& id, std::string item) {
    if (id.empty() || item.size() > kMaxBytes / 16) return;
    std::lock_guard lock(mu_);
    auto now = std::chrono::steady_clock::now();
    bytes_ += item.size();
    auto [it, fresh] = items_.insert_or_assign(id, Entry{std::move(item), now + kTtl});
    if (fresh) order_.push_back(id);
    while (!order_.empty() && (items_.size() > kMaxItems || bytes_ > kMaxBytes)) {
      auto old = items_.find(order_.front());
      if (old != items_.end()) {
        bytes_ -= old->second.item.size();
        items_.erase(old);
      }
      order_.pop_front();
    }
  }
  std::optional<std::string> get(const std::string& id) {
    std::lock_guard lock(mu_);
    auto it = items_.find(id);
    if (it == items_.end() || it->second.expires < std::chrono::steady_clock::now()) return std::nullopt;
    return it->second.item;
  }

 private:
  static constexpr std::size_t kMaxItems = 10'000;
  static constexpr std::size_t kMaxBytes = 32u << 20;
  static constexpr std::chrono::hours kTtl{1};
  struct Entry {
    std::string item;
    std::chrono::steady_clock::time_point expires;
  };
  std::mutex mu_;
  std::unordered_map<std::string, Entry> items_;
  std::deque<std::string> order_;  // insertion order, for eviction
  std::size_t bytes_ = 0;
};

ItemCache& item_cache() {
  static ItemCache cache;
  return cache;
}

// --- request -------------------------------------------------------------------------------------

// One content part of an input message -> a chat content part (nullopt: dropped).
Result<std::optional<Json>> content_part(const Json& part, const std::string& field) {
  if (part.is_string()) return std::optional<Json>(Json{{"type", "text"}, {"text", part}});
  std::string type = string_member(part, "type");
  if (type == "input_text" || type == "output_text" || type == "text") {
    return std::optional<Json>(Json{{"type", "text"}, {"text", string_member(part, "text")}});
  }
  if (type == "refusal") return std::optional<Json>(Json{{"type", "text"}, {"text", string_member(part, "refusal")}});
  if (type == "input_image") {
    std::string url = string_member(part, "image_url");
    if (url.empty()) return field_error(field + ".image_url", "expected an image URL (file ids need stored files, which this gateway does not keep)");
    Json image = Json{{"url", url}};
    if (auto detail = string_member(part, "detail"); !detail.empty()) image["detail"] = detail;
    return std::optional<Json>(Json{{"type", "image_url"}, {"image_url", std::move(image)}});
  }
  if (type == "input_file") {
    std::string data = string_member(part, "file_data");
    if (data.empty()) return field_error(field + ".file_data", "expected inline file_data (file ids and URLs need stored files)");
    Json file = Json{{"file_data", data}};
    if (auto name = string_member(part, "filename"); !name.empty()) file["filename"] = name;
    return std::optional<Json>(Json{{"type", "file"}, {"file", std::move(file)}});
  }
  return field_error(field + ".type", "content type '" + type + "' is not supported");
}

// A message's content (a string or parts) -> chat content; assistant turns flatten to text.
Result<Json> message_content(const Json& content, const std::string& role, const std::string& field) {
  if (content.is_string()) return Json(content);
  if (!content.is_array()) return field_error(field, "expected a string or an array of content parts");
  Json parts = Json::array();
  std::string text;
  bool only_text = true;
  for (size_t i = 0; i < content.size(); ++i) {
    auto part = content_part(content[i], field + "[" + std::to_string(i) + "]");
    if (!part) return std::move(part).error();
    if (!*part) continue;
    Json& p = **part;
    if (p["type"] == "text") {
      if (!text.empty()) text += "\n";
      text += p["text"].get<std::string>();
    } else {
      only_text = false;
    }
    parts.push_back(std::move(p));
  }
  if (role == "assistant" || only_text) return Json(text);
  return parts;
}

struct ChatBuilder {
  Json messages = Json::array();
  // Function calls of one assistant turn gather into one message with tool_calls.
  Json* open_assistant = nullptr;

  void push(Json message) {
    messages.push_back(std::move(message));
    open_assistant = nullptr;
  }
  Json& assistant() {
    if (!open_assistant) {
      messages.push_back(Json{{"role", "assistant"}, {"content", nullptr}});
      open_assistant = &messages.back();
    }
    return *open_assistant;
  }
};

Status add_item(const Json& item, const std::string& field, ChatBuilder& b) {
  if (!item.is_object()) return field_error(field, "expected an object");
  std::string type = string_member(item, "type");
  if (type.empty() || type == "message") {
    std::string role = string_member(item, "role");
    if (role == "developer") role = "system";
    if (role != "user" && role != "assistant" && role != "system") {
      return field_error(field + ".role", "expected user, assistant, system or developer");
    }
    const Json* content = member(item, "content");
    if (!content) return field_error(field + ".content", "is required");
    auto c = message_content(*content, role, field + ".content");
    if (!c) return std::move(c).error();
    if (role == "assistant") {
      Json& a = b.assistant();
      std::string text = a["content"].is_string() ? a["content"].get<std::string>() : std::string();
      text += c->get<std::string>();
      a["content"] = text;
      return ok_status();
    }
    b.push(Json{{"role", role}, {"content", std::move(*c)}});
    return ok_status();
  }
  if (type == "function_call") {
    std::string call_id = string_member(item, "call_id"), name = string_member(item, "name");
    if (call_id.empty()) return field_error(field + ".call_id", "expected a non-empty string");
    if (name.empty()) return field_error(field + ".name", "expected a non-empty string");
    Json& a = b.assistant();
    if (!a.contains("tool_calls")) a["tool_calls"] = Json::array();
    a["tool_calls"].push_back(Json{{"id", call_id},
                                   {"type", "function"},
                                   {"function", {{"name", name}, {"arguments", string_member(item, "arguments")}}}});
    return ok_status();
  }
  if (type == "function_call_output") {
    std::string call_id = string_member(item, "call_id");
    if (call_id.empty()) return field_error(field + ".call_id", "expected a non-empty string");
    const Json* output = member(item, "output");
    std::string text;
    if (output && output->is_string()) {
      text = output->get<std::string>();
    } else if (output && output->is_array()) {
      auto c = message_content(*output, "assistant", field + ".output");
      if (!c) return std::move(c).error();
      text = c->get<std::string>();
    } else {
      return field_error(field + ".output", "expected a string or an array of content parts");
    }
    b.push(Json{{"role", "tool"}, {"tool_call_id", call_id}, {"content", text}});
    return ok_status();
  }
  if (type == "reasoning") return ok_status();  // an earlier turn's reasoning has no chat counterpart
  if (type == "item_reference") {
    // An item this gateway produced a while ago (clients that assume store: true send these); anything
    // else needs stored responses, which this gateway does not keep.
    if (auto cached = item_cache().get(string_member(item, "id"))) {
      auto resolved = Json::parse(*cached, nullptr, false);
      if (resolved.is_object() && string_member(resolved, "type") != "item_reference") return add_item(resolved, field, b);
    }
    return field_error(field + ".type", "item '" + string_member(item, "id") + "' is not known here: this gateway keeps its own output items for an hour only and stores no responses; send the item itself (or store: false)",
                       "stored_state_not_configured");
  }
  return field_error(field + ".type", "input item type '" + type + "' is not supported");
}

Status translate_tools(const Json& in, Json& out) {
  if (const Json* tools = member(in, "tools")) {
    if (!tools->is_array()) return field_error("tools", "expected an array");
    Json list = Json::array();
    for (size_t i = 0; i < tools->size(); ++i) {
      const Json& t = (*tools)[i];
      std::string tf = "tools[" + std::to_string(i) + "]";
      if (!t.is_object()) return field_error(tf, "expected an object");
      std::string type = string_member(t, "type");
      if (type != "function") return field_error(tf + ".type", "built-in tool '" + type + "' is not available through the gateway; declare a function tool");
      std::string name = string_member(t, "name");
      if (name.empty()) return field_error(tf + ".name", "expected a non-empty string");
      Json fn = Json{{"name", name}};
      if (auto d = string_member(t, "description"); !d.empty()) fn["description"] = d;
      if (const Json* p = member(t, "parameters")) fn["parameters"] = *p;
      if (const Json* s = member(t, "strict"); s && s->is_boolean()) fn["strict"] = *s;
      list.push_back(Json{{"type", "function"}, {"function", std::move(fn)}});
    }
    if (!list.empty()) out["tools"] = std::move(list);
  }
  if (const Json* choice = member(in, "tool_choice")) {
    if (choice->is_string()) {
      std::string c = choice->get<std::string>();
      if (c != "auto" && c != "none" && c != "required") return field_error("tool_choice", "expected auto, none, required or a function");
      out["tool_choice"] = c;
    } else if (choice->is_object() && string_member(*choice, "type") == "function" && !string_member(*choice, "name").empty()) {
      out["tool_choice"] = Json{{"type", "function"}, {"function", {{"name", string_member(*choice, "name")}}}};
    } else {
      return field_error("tool_choice", "expected auto, none, required or {\"type\":\"function\",\"name\":...}");
    }
  }
  return ok_status();
}

Status translate_format(const Json& in, Json& out) {
  const Json* text = member(in, "text");
  if (!text) return ok_status();
  if (!text->is_object()) return field_error("text", "expected an object");
  const Json* format = member(*text, "format");
  if (!format) return ok_status();
  if (!format->is_object()) return field_error("text.format", "expected an object");
  std::string type = string_member(*format, "type");
  if (type == "text") return ok_status();
  if (type == "json_object") {
    out["response_format"] = Json{{"type", "json_object"}};
    return ok_status();
  }
  if (type == "json_schema") {
    const Json* schema = member(*format, "schema");
    if (!schema || !schema->is_object()) return field_error("text.format.schema", "expected a JSON schema object");
    Json js = Json{{"name", string_member(*format, "name").empty() ? std::string("response") : string_member(*format, "name")}, {"schema", *schema}};
    if (auto d = string_member(*format, "description"); !d.empty()) js["description"] = d;
    if (const Json* s = member(*format, "strict"); s && s->is_boolean()) js["strict"] = *s;
    out["response_format"] = Json{{"type", "json_schema"}, {"json_schema", std::move(js)}};
    return ok_status();
  }
  return field_error("text.format.type", "expected text, json_object or json_schema");
}

Result<Decoded> decode(std::string body, const json::Limits& limits) {
  auto parsed = json::parse_tree<Json>(body, json::Limits{limits.max_depth, std::max(limits.max_bytes, body.size())});
  if (!parsed) return std::move(parsed).error();
  Json& in = *parsed;
  if (!in.is_object()) return Error::bad_request("The request body must be a JSON object.", {}, "invalid_json");
  for (const char* key : {"previous_response_id", "conversation"}) {
    if (member(in, key)) {
      return field_error(key, "continuing a stored response or conversation needs stored state, which this gateway does not keep; send the whole conversation as input items",
                         "stored_state_not_configured");
    }
  }
  if (const Json* bg = member(in, "background"); bg && bg->is_boolean() && bg->get<bool>()) {
    return field_error("background", "background responses are not supported by the gateway");
  }
  if (member(in, "prompt")) return field_error("prompt", "stored prompt templates are not supported by the gateway");

  Json out = Json::object();
  const Json* model = member(in, "model");
  if (!model) return Error::bad_request("Missing required parameter: 'model'.", "model", "missing_required_parameter");
  if (!model->is_string()) return field_error("model", "expected a string", "invalid_type");
  out["model"] = *model;

  ChatBuilder b;
  if (const Json* instructions = member(in, "instructions")) {
    if (!instructions->is_string()) return field_error("instructions", "expected a string", "invalid_type");
    if (!instructions->get<std::string>().empty()) b.push(Json{{"role", "system"}, {"content", *instructions}});
  }
  const Json* input = member(in, "input");
  if (!input) return Error::bad_request("Missing required parameter: 'input'.", "input", "missing_required_parameter");
  if (input->is_string()) {
    b.push(Json{{"role", "user"}, {"content", *input}});
  } else if (input->is_array()) {
    for (size_t i = 0; i < input->size(); ++i) {
      if (auto st = add_item((*input)[i], "input[" + std::to_string(i) + "]", b); !st) return std::move(st).error();
    }
  } else {
    return field_error("input", "expected a string or an array of input items", "invalid_type");
  }
  if (b.messages.empty()) return field_error("input", "expected at least one message");
  out["messages"] = std::move(b.messages);

  if (auto st = translate_tools(in, out); !st) return std::move(st).error();
  if (auto st = translate_format(in, out); !st) return std::move(st).error();
  if (const Json* mt = member(in, "max_output_tokens")) {
    if (!mt->is_number_integer() || mt->get<std::int64_t>() < 1) return field_error("max_output_tokens", "expected a positive integer");
    out["max_completion_tokens"] = *mt;
  }
  for (const char* key : {"temperature", "top_p"}) {
    if (const Json* v = member(in, key)) {
      if (!v->is_number()) return field_error(key, "expected a number", "invalid_type");
      out[key] = *v;
    }
  }
  if (const Json* p = member(in, "parallel_tool_calls")) {
    if (!p->is_boolean()) return field_error("parallel_tool_calls", "expected a boolean", "invalid_type");
    if (out.contains("tools")) out["parallel_tool_calls"] = *p;
  }
  if (const Json* r = member(in, "reasoning"); r && r->is_object()) {
    if (auto effort = string_member(*r, "effort"); !effort.empty()) out["reasoning_effort"] = effort;
  }
  for (const char* key : {"user", "service_tier"}) {
    if (const Json* v = member(in, key); v && v->is_string()) out[key] = *v;
  }
  if (const Json* sy = member(in, "switchyard")) out["switchyard"] = *sy;  // the gateway's own controls
  if (const Json* stream = member(in, "stream")) {
    if (!stream->is_boolean()) return field_error("stream", "expected a boolean", "invalid_type");
    if (stream->get<bool>()) {
      out["stream"] = true;
      out["stream_options"] = Json{{"include_usage", true}};
    }
  }
  Json echo = Json::object();
  for (const char* key : kEchoed) {
    if (const Json* v = member(in, key)) echo[key] = *v;
  }
  return Decoded{dump(out), dump(echo)};
}

// --- answers -------------------------------------------------------------------------------------

// The members of a Responses `error` event: OpenAI's error fields, flattened.
Json error_fields(const Error& e) {
  Json err = Json::parse(to_openai_json(e), nullptr, false);
  const Json* body = member(err, "error");
  if (!body) return Json{{"code", nullptr}, {"message", "error"}, {"param", nullptr}};
  return Json{{"code", (*body)["code"]}, {"message", (*body)["message"]}, {"param", (*body)["param"]}};
}

// The response object around `output` (OpenAI's member order), with the request's settings echoed.
Json response_object(const std::string& id, const std::string& model, std::int64_t created, std::string_view status,
                     Json output, const Json* usage, std::string_view incomplete, std::string_view echo_text) {
  Json echo = Json::parse(echo_text.empty() ? std::string_view("{}") : echo_text, nullptr, false);
  if (!echo.is_object()) echo = Json::object();
  auto echoed = [&](const char* key, Json fallback) { return echo.contains(key) ? echo[key] : fallback; };
  Json r = Json::object();
  r["id"] = id;
  r["object"] = "response";
  r["created_at"] = created;
  r["status"] = status;
  r["error"] = nullptr;
  r["incomplete_details"] = incomplete.empty() ? Json(nullptr) : Json{{"reason", incomplete}};
  r["instructions"] = echoed("instructions", nullptr);
  r["max_output_tokens"] = echoed("max_output_tokens", nullptr);
  r["model"] = model;
  r["output"] = std::move(output);
  r["parallel_tool_calls"] = echoed("parallel_tool_calls", true);
  r["previous_response_id"] = nullptr;
  r["reasoning"] = echoed("reasoning", Json{{"effort", nullptr}, {"summary", nullptr}});
  r["store"] = false;
  r["temperature"] = echoed("temperature", 1.0);
  r["text"] = echoed("text", Json{{"format", {{"type", "text"}}}});
  r["tool_choice"] = echoed("tool_choice", "auto");
  r["tools"] = echoed("tools", Json::array());
  r["top_p"] = echoed("top_p", 1.0);
  r["truncation"] = "disabled";
  r["usage"] = usage ? *usage : Json(nullptr);
  r["user"] = echoed("user", nullptr);
  r["metadata"] = echoed("metadata", Json::object());
  return r;
}

Json responses_usage(std::int64_t prompt, std::int64_t completion, std::int64_t cached, std::int64_t reasoning) {
  return Json{{"input_tokens", prompt},
              {"input_tokens_details", {{"cached_tokens", cached}}},
              {"output_tokens", completion},
              {"output_tokens_details", {{"reasoning_tokens", reasoning}}},
              {"total_tokens", prompt + completion}};
}

std::string_view incomplete_reason(std::string_view finish_reason) {
  if (finish_reason == "length") return "max_output_tokens";
  if (finish_reason == "content_filter") return "content_filter";
  return {};
}

std::string response_id(std::string_view upstream_id) {
  // Our own id: an upstream's chat id names a chat completion, not a response.
  (void)upstream_id;
  return "resp_" + new_request_id().substr(4);
}

Json message_item(const std::string& id, std::string_view status, const std::string& text) {
  Json content = Json::array();
  content.push_back(Json{{"type", "output_text"}, {"text", text}, {"annotations", Json::array()}, {"logprobs", Json::array()}});
  return Json{{"id", id}, {"type", "message"}, {"status", status}, {"role", "assistant"}, {"content", std::move(content)}};
}

Json call_item(const std::string& id, std::string_view status, const std::string& call_id, const std::string& name,
               const std::string& arguments) {
  return Json{{"id", id}, {"type", "function_call"}, {"status", status}, {"arguments", arguments},
              {"call_id", call_id}, {"name", name}};
}

std::int64_t count(const Json& o, const char* key) {
  const Json* v = member(o, key);
  return v && v->is_number_integer() ? std::clamp<std::int64_t>(v->get<std::int64_t>(), 0, kMaxTokenCount) : 0;
}

Result<std::string> encode(std::string chat_body, const AnswerContext& ctx) {
  auto parsed = json::parse_tree<Json>(chat_body, json::Limits{json::Limits::kDefaultMaxDepth, chat_body.size()});
  if (!parsed) return upstream_json_error(parsed.error());
  const Json& in = *parsed;
  const Json* choices = member(in, "choices");
  if (!choices || !choices->is_array() || choices->empty() || !(*choices)[0].is_object()) {
    return Error::make(ErrorKind::connection, "upstream response has no choices");
  }
  const Json& choice = (*choices)[0];
  const Json* message = member(choice, "message");
  std::string base = response_id(string_member(in, "id"));
  Json output = Json::array();
  if (message) {
    if (auto text = string_member(*message, "content"); !text.empty()) output.push_back(message_item("msg_" + base.substr(5), "completed", text));
    if (const Json* calls = member(*message, "tool_calls"); calls && calls->is_array()) {
      for (size_t i = 0; i < calls->size(); ++i) {
        const Json& call = (*calls)[i];
        const Json* fn = member(call, "function");
        output.push_back(call_item("fc_" + base.substr(5) + "_" + std::to_string(i), "completed", string_member(call, "id"),
                                   fn ? string_member(*fn, "name") : std::string(), fn ? string_member(*fn, "arguments") : std::string()));
      }
    }
  }
  std::optional<Json> usage;
  if (const Json* u = member(in, "usage")) {
    std::int64_t cached = 0, reasoning = 0;
    if (const Json* d = member(*u, "prompt_tokens_details")) cached = count(*d, "cached_tokens");
    if (const Json* d = member(*u, "completion_tokens_details")) reasoning = count(*d, "reasoning_tokens");
    usage = responses_usage(count(*u, "prompt_tokens"), count(*u, "completion_tokens"), cached, reasoning);
  }
  for (const auto& item : output) item_cache().put(string_member(item, "id"), dump(item));
  auto incomplete = incomplete_reason(string_member(choice, "finish_reason"));
  std::string model = string_member(in, "model").empty() ? ctx.model : string_member(in, "model");
  const auto* created_v = member(in, "created");
  std::int64_t created = created_v && created_v->is_number_integer() ? created_v->get<std::int64_t>()
                                                                    : static_cast<std::int64_t>(std::time(nullptr));
  return dump(response_object(base, model, created, incomplete.empty() ? "completed" : "incomplete", std::move(output),
                              usage ? &*usage : nullptr, incomplete, ctx.echo));
}

/// Chat chunks -> Responses stream events. Output items open as their first delta arrives (text, then
/// each tool call in the order the chunks announce them) and close when the stream finishes.
class ResponsesEncoder final : public StreamEncoder {
 public:
  explicit ResponsesEncoder(const AnswerContext& ctx)
      : model_(ctx.model), echo_(ctx.echo), id_(response_id({})),
        created_(static_cast<std::int64_t>(std::time(nullptr))) {}

  Status feed(std::string_view openai_sse, std::string& out) override {
    if (error_) return *error_;
    parser_.feed(openai_sse, [&](std::string_view, std::string_view data) { on_data(data, out); });
    if (error_) return *error_;
    return ok_status();
  }

  void finish(std::string& out) override {
    if (completed_) return;
    start(out);
    Json output = Json::array();
    for (auto& item : items_) {
      close(item, out);
      item_cache().put(item.id, dump(item.done));
      output.push_back(item.done);
    }
    std::optional<Json> usage;
    if (usage_seen_) usage = responses_usage(prompt_, completion_, cached_, reasoning_);
    auto incomplete = incomplete_reason(finish_reason_);
    Json r = response_object(id_, model_, created_, incomplete.empty() ? "completed" : "incomplete", std::move(output),
                             usage ? &*usage : nullptr, incomplete, echo_);
    emit(out, incomplete.empty() ? "response.completed" : "response.incomplete", Json{{"response", std::move(r)}});
    completed_ = true;
  }

  std::string error_event(const Error& e) override {
    std::string out;
    emit(out, "error", error_fields(e));
    return out;
  }

 private:
  struct Item {
    bool is_text = true;
    std::string id;
    int output_index = 0;
    std::string text;       // text, or the arguments of a call
    std::string call_id, name;
    bool closed = false;
    Json done;
  };

  void emit(std::string& out, std::string_view type, Json data) {
    Json e = Json::object();
    e["type"] = type;
    for (auto& [k, v] : data.items()) e[k] = std::move(v);
    e["sequence_number"] = sequence_++;
    out += sse(type, e);
  }

  void start(std::string& out) {
    if (started_) return;
    started_ = true;
    Json r = response_object(id_, model_, created_, "in_progress", Json::array(), nullptr, {}, echo_);
    emit(out, "response.created", Json{{"response", r}});
    emit(out, "response.in_progress", Json{{"response", std::move(r)}});
  }

  Item& open_text(std::string& out) {
    if (text_ >= 0 && !items_[static_cast<size_t>(text_)].closed) return items_[static_cast<size_t>(text_)];
    Item item;
    item.id = "msg_" + id_.substr(5) + "_" + std::to_string(items_.size());
    item.output_index = static_cast<int>(items_.size());
    emit(out, "response.output_item.added",
         Json{{"output_index", item.output_index},
              {"item", {{"id", item.id}, {"type", "message"}, {"status", "in_progress"}, {"role", "assistant"}, {"content", Json::array()}}}});
    emit(out, "response.content_part.added",
         Json{{"item_id", item.id}, {"output_index", item.output_index}, {"content_index", 0},
              {"part", {{"type", "output_text"}, {"text", ""}, {"annotations", Json::array()}, {"logprobs", Json::array()}}}});
    text_ = static_cast<int>(items_.size());
    items_.push_back(std::move(item));
    return items_.back();
  }

  void close(Item& item, std::string& out) {
    if (item.closed) return;
    item.closed = true;
    if (item.is_text) {
      emit(out, "response.output_text.done",
           Json{{"item_id", item.id}, {"output_index", item.output_index}, {"content_index", 0}, {"text", item.text},
                {"logprobs", Json::array()}});
      emit(out, "response.content_part.done",
           Json{{"item_id", item.id}, {"output_index", item.output_index}, {"content_index", 0},
                {"part", {{"type", "output_text"}, {"text", item.text}, {"annotations", Json::array()}, {"logprobs", Json::array()}}}});
      item.done = message_item(item.id, "completed", item.text);
    } else {
      emit(out, "response.function_call_arguments.done",
           Json{{"item_id", item.id}, {"output_index", item.output_index}, {"arguments", item.text}});
      item.done = call_item(item.id, "completed", item.call_id, item.name, item.text);
    }
    emit(out, "response.output_item.done", Json{{"output_index", item.output_index}, {"item", item.done}});
  }

  void on_data(std::string_view data, std::string& out) {
    if (completed_ || error_) return;
    if (data == "[DONE]") {
      finish(out);
      return;
    }
    auto parsed = json::parse_tree<Json>(data);
    if (!parsed || !parsed->is_object()) {
      error_ = Error::make(ErrorKind::connection, "upstream sent a malformed stream chunk");
      return;
    }
    const Json& chunk = *parsed;
    start(out);
    if (auto m = string_member(chunk, "model"); !m.empty()) model_ = m;
    if (const Json* u = member(chunk, "usage")) {
      prompt_ = count(*u, "prompt_tokens");
      completion_ = count(*u, "completion_tokens");
      if (const Json* d = member(*u, "prompt_tokens_details")) cached_ = std::min(count(*d, "cached_tokens"), prompt_);
      if (const Json* d = member(*u, "completion_tokens_details")) reasoning_ = count(*d, "reasoning_tokens");
      usage_seen_ = true;
    }
    const Json* choices = member(chunk, "choices");
    if (!choices || !choices->is_array() || choices->empty()) return;
    const Json& choice = (*choices)[0];
    if (auto fr = string_member(choice, "finish_reason"); !fr.empty()) finish_reason_ = fr;
    const Json* delta = member(choice, "delta");
    if (!delta) return;
    if (auto text = string_member(*delta, "content"); !text.empty()) {
      Item& item = open_text(out);
      item.text += text;
      emit(out, "response.output_text.delta",
           Json{{"item_id", item.id}, {"output_index", item.output_index}, {"content_index", 0}, {"delta", text},
                {"logprobs", Json::array()}});
    }
    const Json* calls = member(*delta, "tool_calls");
    if (!calls || !calls->is_array()) return;
    for (const auto& call : *calls) {
      const Json* idx = member(call, "index");
      std::int64_t index = idx && idx->is_number_integer() ? idx->get<std::int64_t>() : 0;
      if (index < 0 || index >= 1024) continue;  // bounds the index table
      auto k = static_cast<size_t>(index);
      if (k >= call_items_.size()) call_items_.resize(k + 1, -1);
      const Json* fn = member(call, "function");
      if (call_items_[k] < 0) {
        // A call after text closes the text item: items are sequential in the output.
        if (text_ >= 0) close(items_[static_cast<size_t>(text_)], out);
        Item item;
        item.is_text = false;
        item.id = "fc_" + id_.substr(5) + "_" + std::to_string(items_.size());
        item.output_index = static_cast<int>(items_.size());
        item.call_id = string_member(call, "id");
        item.name = fn ? string_member(*fn, "name") : std::string();
        emit(out, "response.output_item.added",
             Json{{"output_index", item.output_index}, {"item", call_item(item.id, "in_progress", item.call_id, item.name, "")}});
        call_items_[k] = static_cast<int>(items_.size());
        items_.push_back(std::move(item));
      }
      Item& item = items_[static_cast<size_t>(call_items_[k])];
      if (auto args = fn ? string_member(*fn, "arguments") : std::string(); !args.empty()) {
        item.text += args;
        emit(out, "response.function_call_arguments.delta",
             Json{{"item_id", item.id}, {"output_index", item.output_index}, {"delta", args}});
      }
    }
  }

  SseParser parser_;
  std::string model_;
  std::string echo_;
  std::string id_;
  std::int64_t created_;
  std::int64_t sequence_ = 0;
  bool started_ = false, completed_ = false;
  std::vector<Item> items_;
  int text_ = -1;                 // index in items_ of the open text item
  std::vector<int> call_items_;   // chat tool_calls index -> index in items_
  std::string finish_reason_;
  std::int64_t prompt_ = 0, completion_ = 0, cached_ = 0, reasoning_ = 0;
  bool usage_seen_ = false;
  std::optional<Error> error_;
};

class ResponsesDialect final : public Dialect {
 public:
  std::string_view name() const override { return "responses"; }
  Result<Decoded> decode_request(std::string body, const json::Limits& limits) const override {
    return decode(std::move(body), limits);
  }
  Result<std::string> encode_response(std::string chat_body, const AnswerContext& ctx) const override {
    return encode(std::move(chat_body), ctx);
  }
  std::unique_ptr<StreamEncoder> stream_encoder(const AnswerContext& ctx) const override {
    return std::make_unique<ResponsesEncoder>(ctx);
  }
  // The Responses API reports errors in OpenAI's shape.
  std::string error_body(const Error& e) const override { return to_openai_json(e); }
  std::string error_event(const Error& e) const override {
    Json event = Json{{"type", "error"}};
    Json fields = error_fields(e);
    for (auto& [k, v] : fields.items()) event[k] = v;
    event["sequence_number"] = 0;
    return sse("error", event);
  }
};

}  // namespace

const Dialect& responses_dialect() {
  static const ResponsesDialect d;
  return d;
}

}  // namespace sy::providers::ingress
