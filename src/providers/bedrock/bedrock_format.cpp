#include <algorithm>

#include "providers/bedrock/bedrock_format.hpp"

#include <cctype>
#include <charconv>
#include <ctime>

#include "providers/anthropic/chat_input.hpp"
#include "providers/bedrock/sigv4.hpp"
#include "switchyard/core/ids.hpp"
#include "switchyard/core/sha256.hpp"
#include "switchyard/core/json_scan.hpp"

namespace sy::providers {
namespace {

using chat::Block;
using chat::Json;

Error field_error(const std::string& field, std::string message) {
  return Error::bad_request("'" + field + "': " + std::move(message), field, "invalid_value");
}

// Converse stopReason -> OpenAI finish_reason.
struct StopRow {
  std::string_view bedrock;
  std::string_view openai;
};
constexpr StopRow kStopReasons[] = {
    {"end_turn", "stop"},          {"stop_sequence", "stop"},
    {"tool_use", "tool_calls"},    {"max_tokens", "length"},
    {"guardrail_intervened", "content_filter"}, {"content_filtered", "content_filter"},
    {"model_context_window_exceeded", "length"},
};
std::string_view finish_reason(std::string_view stop) {
  for (const auto& row : kStopReasons) {
    if (row.bedrock == stop) return row.openai;
  }
  return "stop";
}

// Bedrock names image and document formats instead of media types.
constexpr std::pair<std::string_view, std::string_view> kFormats[] = {
    {"image/png", "png"},  {"image/jpeg", "jpeg"}, {"image/jpg", "jpeg"}, {"image/gif", "gif"},
    {"image/webp", "webp"}, {"application/pdf", "pdf"}, {"text/plain", "txt"}, {"text/csv", "csv"},
    {"text/html", "html"}, {"text/markdown", "md"}, {"application/msword", "doc"},
    {"application/vnd.openxmlformats-officedocument.wordprocessingml.document", "docx"},
    {"application/vnd.ms-excel", "xls"},
    {"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"},
};
std::string_view format_of(std::string_view media_type) {
  for (const auto& [mt, f] : kFormats) {
    if (mt == media_type) return f;
  }
  return {};
}

// Document names may hold only letters, digits, single spaces, hyphens, parentheses and brackets.
std::string document_name(std::string_view filename, size_t n) {
  std::string out;
  for (char c : filename.substr(0, filename.rfind('.'))) {
    bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '(' || c == ')' || c == '[' || c == ']';
    if (ok) out.push_back(c);
    else if (!out.empty() && out.back() != ' ') out.push_back(' ');
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out.empty() ? "document-" + std::to_string(n) : out;
}

Result<Json> content_block(const Block& b, size_t& documents) {
  switch (b.kind) {
    case Block::Kind::text:
      return Json{{"text", b.text}};
    case Block::Kind::image: {
      if (!b.url.empty()) return field_error(b.field + ".image_url.url", "Bedrock takes images as data: URLs only");
      auto f = format_of(b.media_type);
      if (f.empty() || !b.media_type.starts_with("image/")) return field_error(b.field, "unsupported image type " + b.media_type);
      return Json{{"image", {{"format", f}, {"source", {{"bytes", b.data}}}}}};
    }
    case Block::Kind::document: {
      auto f = format_of(b.media_type);
      if (f.empty() || b.media_type.starts_with("image/")) return field_error(b.field, "unsupported document type " + b.media_type);
      return Json{{"document", {{"format", f}, {"name", document_name(b.name, ++documents)}, {"source", {{"bytes", b.data}}}}}};
    }
    case Block::Kind::tool_use:
      return Json{{"toolUse", {{"toolUseId", b.id}, {"name", b.name}, {"input", b.input}}}};
    case Block::Kind::tool_result:
      return Json{{"toolResult", {{"toolUseId", b.id}, {"content", Json::array({Json{{"text", b.text}}})}}}};
  }
  return Json::object();
}

// Converse marks a prompt-cache breakpoint with a block of its own after the cached content.
const Json& cache_point() {
  static const Json point = Json{{"cachePoint", {{"type", "default"}}}};
  return point;
}

Result<std::string> build_body(const Request& request, const EncodeOptions& options) {
  auto read = chat::read_chat_input(request);
  if (!read) return std::move(read).error();
  chat::ChatInput& in = *read;

  Json body = Json::object();
  Json messages = Json::array();
  size_t documents = 0;
  bool has_tool_blocks = false;
  for (const auto& turn : in.turns) {
    Json content = Json::array();
    for (const auto& b : turn.blocks) {
      auto block = content_block(b, documents);
      if (!block) return std::move(block).error();
      content.push_back(std::move(*block));
      if (!b.cache_control.is_null()) content.push_back(cache_point());
      has_tool_blocks |= b.kind == Block::Kind::tool_use || b.kind == Block::Kind::tool_result;
    }
    messages.push_back(Json{{"role", turn.assistant ? "assistant" : "user"}, {"content", std::move(content)}});
  }
  body["messages"] = std::move(messages);
  if (!in.system.empty()) {
    Json system = Json::array();
    for (auto& s : in.system) {
      system.push_back(Json{{"text", s.text}});
      if (!s.cache_control.is_null()) system.push_back(cache_point());
    }
    body["system"] = std::move(system);
  }

  Json inference = Json::object();
  if (auto n = in.max_tokens ? in.max_tokens : options.provider.options.max_tokens) inference["maxTokens"] = *n;
  if (in.temperature) inference["temperature"] = *in.temperature;
  if (in.top_p) inference["topP"] = *in.top_p;
  if (!in.stop.empty()) inference["stopSequences"] = in.stop;
  if (!inference.empty()) body["inferenceConfig"] = std::move(inference);

  // Converse has no "none": without earlier tool blocks the tools are simply left out; with them the
  // tools must stay (Bedrock requires toolConfig then) and the model may call one.
  bool send_tools = !in.tools.empty() && (in.tool_choice != "none" || has_tool_blocks);
  if (send_tools) {
    Json tools = Json::array();
    for (const auto& t : in.tools) {
      Json spec = Json{{"name", t.name}};
      if (!t.description.empty()) spec["description"] = t.description;
      spec["inputSchema"] = Json{{"json", t.schema}};
      tools.push_back(Json{{"toolSpec", std::move(spec)}});
      if (!t.cache_control.is_null()) tools.push_back(cache_point());
    }
    Json config = Json{{"tools", std::move(tools)}};
    if (in.tool_choice == "auto") config["toolChoice"] = Json{{"auto", Json::object()}};
    else if (in.tool_choice == "required") config["toolChoice"] = Json{{"any", Json::object()}};
    else if (in.tool_choice == "function") config["toolChoice"] = Json{{"tool", {{"name", in.tool_choice_name}}}};
    body["toolConfig"] = std::move(config);
  }
  for (const char* key : {"additionalModelRequestFields", "guardrailConfig", "performanceConfig"}) {
    if (auto it = in.body.find(key); it != in.body.end() && it->is_object()) body[key] = *it;
  }
  return body.dump(-1, ' ', false, Json::error_handler_t::replace);
}

// The region from options.region, else from a bedrock-runtime.<region>.amazonaws.com host.
std::string region_of(const config::ProviderConfig& p) {
  if (!p.options.region.empty()) return p.options.region;
  std::string_view host = p.url.host;
  constexpr std::string_view kPrefix = "bedrock-runtime.";
  if (host.starts_with(kPrefix)) {
    host.remove_prefix(kPrefix.size());
    return std::string(host.substr(0, host.find('.')));
  }
  return {};
}

std::optional<json::Object> object_member(const json::Object& o, std::string_view key) {
  const auto* f = o.find(key);
  if (!f || f->type != json::Type::object) return std::nullopt;
  auto r = json::scan_object(f->value);
  return r ? std::optional<json::Object>(std::move(*r)) : std::nullopt;
}

std::string string_member(const json::Object& o, std::string_view key) {
  const auto* f = o.find(key);
  return f && f->type == json::Type::string ? json::string_value(f->value).value_or("") : std::string();
}

std::int64_t int_member(const json::Object& o, std::string_view key) {
  const auto* f = o.find(key);
  return f && f->type == json::Type::number ? json::integer_value(f->value).value_or(0) : 0;
}

// Bedrock's inputTokens excludes cache reads and writes; OpenAI's prompt_tokens includes them.
void read_usage(const json::Object& u, Usage& usage) {
  auto count = [&](std::string_view key) { return std::clamp<std::int64_t>(int_member(u, key), 0, kMaxTokenCount); };
  std::int64_t cache_read = count("cacheReadInputTokens");
  usage.cache_write_tokens = count("cacheWriteInputTokens");
  usage.prompt_tokens = count("inputTokens") + cache_read + usage.cache_write_tokens;
  usage.completion_tokens = count("outputTokens");
  usage.cached_tokens = cache_read;
  usage.known = true;
}

// ConverseStream exceptions and the HTTP status each stands for (AWS API reference); others are 500.
constexpr std::pair<std::string_view, int> kExceptionStatus[] = {
    {"validationException", 400},          {"throttlingException", 429},
    {"modelStreamErrorException", 424},    {"internalServerException", 500},
    {"serviceUnavailableException", 503},
};
int exception_status(std::string_view name) {
  for (const auto& [n, status] : kExceptionStatus) {
    if (n == name) return status;
  }
  return 500;
}

// Content block indexes index a vector: an upstream cannot make it grow without bound.
constexpr int kMaxBlocks = 4096;

std::string chunk_id() { return "chatcmpl-" + new_request_id().substr(4); }

}  // namespace

Result<UpstreamRequest> BedrockFormat::encode(const Request& request, const EncodeOptions& options) const {
  if (request.endpoint() != Endpoint::chat) return chat::unsupported_endpoint(kType, request.endpoint());
  const auto& p = options.provider;
  auto credentials = sigv4::credentials_from_env();
  if (!credentials) {
    return Error::make(ErrorKind::auth, "bedrock provider '" + p.name +
                                            "': set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN "
                                            "for temporary credentials)");
  }
  std::string region = region_of(p);
  if (region.empty()) return Error::make(ErrorKind::internal, "bedrock provider '" + p.name + "': options.region is not set");
  auto body = build_body(request, options);
  if (!body) return std::move(body).error();

  UpstreamRequest up;
  // Model ids contain ':' and inference-profile ARNs '/': both are encoded into one path segment.
  up.target = p.url.base_path + "/model/" + sigv4::uri_encode(options.deployment.upstream_model, false) +
              (request.stream() ? "/converse-stream" : "/converse");
  const std::string body_hash = sha256_hex(*body);
  up.body = std::move(*body);
  // Sign with the Host header the transport will send.
  bool default_port = p.url.port == (p.url.tls ? 443 : 80);
  std::string host = default_port ? p.url.host : p.url.host + ":" + std::to_string(p.url.port);
  std::string date = sigv4::amz_date(options.now.value_or(std::chrono::system_clock::now()));
  Headers signed_headers{{"content-type", "application/json"}, {"host", host}, {"x-amz-date", date}};
  if (!credentials->session_token.empty()) signed_headers.push_back({"x-amz-security-token", credentials->session_token});
  auto sig = sigv4::sign(up.method, up.target, signed_headers, body_hash, *credentials, region, kService);
  for (auto& h : signed_headers) {
    if (h.name != "host") up.headers.push_back(std::move(h));
  }
  up.headers.push_back({"authorization", std::move(sig.authorization)});
  for (const auto& [k, v] : p.headers) up.headers.push_back({k, v});
  return up;
}

Result<std::string> BedrockFormat::decode_response(const Request& request, std::string body, Usage& usage) const {
  auto obj = json::scan_object(body, request.json_limits());
  if (!obj) return upstream_json_error(obj.error());
  auto output = object_member(*obj, "output");
  auto message = output ? object_member(*output, "message") : std::nullopt;
  if (!message) return Error::make(ErrorKind::connection, "upstream returned a body that is not a Converse response");
  std::string text;
  Json tool_calls = Json::array();
  if (const auto* content = message->find("content"); content && content->type == json::Type::array) {
    auto blocks = json::scan_array(content->value);
    for (const auto& b : blocks ? *blocks : std::vector<json::Field>{}) {
      auto block = json::scan_object(b.value);
      if (!block) continue;
      if (const auto* t = block->find("text"); t && t->type == json::Type::string) {
        json::append_string_value(t->value, text);
      } else if (auto use = object_member(*block, "toolUse")) {
        const auto* input = use->find("input");
        tool_calls.push_back(Json{{"id", string_member(*use, "toolUseId")},
                                  {"type", "function"},
                                  {"function", {{"name", string_member(*use, "name")},
                                                {"arguments", input ? std::string(input->value) : std::string("{}")}}}});
      }
      // reasoningContent, citations and guardContent blocks have no OpenAI counterpart.
    }
  }
  Json msg = Json{{"role", "assistant"}, {"content", text.empty() && !tool_calls.empty() ? Json(nullptr) : Json(text)}};
  if (!tool_calls.empty()) msg["tool_calls"] = std::move(tool_calls);
  if (auto u = object_member(*obj, "usage")) read_usage(*u, usage);

  Json out = Json::object();
  out["id"] = chunk_id();
  out["object"] = "chat.completion";
  out["created"] = static_cast<std::int64_t>(std::time(nullptr));
  out["model"] = request.model();
  out["choices"] = Json::array({Json{{"index", 0},
                                     {"message", std::move(msg)},
                                     {"logprobs", nullptr},
                                     {"finish_reason", finish_reason(string_member(*obj, "stopReason"))}}});
  if (usage.known) out["usage"] = Json::parse(chat::openai_usage_json(usage));
  return out.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::unique_ptr<StreamDecoder> BedrockFormat::stream_decoder(const Request& request) const {
  return std::make_unique<BedrockStreamDecoder>(request.model(), request.client_wants_usage(), request.json_limits());
}

Error BedrockFormat::classify_error(int status, const Headers& headers, std::string_view body) const {
  return classify_http_error(status, headers, body);
}

BedrockStreamDecoder::BedrockStreamDecoder(std::string_view model, bool client_wants_usage, const json::Limits& limits)
    : StreamDecoder(limits), client_wants_usage_(client_wants_usage) {
  writer_.start(chunk_id(), model, static_cast<std::int64_t>(std::time(nullptr)));
}

void BedrockStreamDecoder::on_message(const eventstream::Message& m, std::string& out) {
  if (done_ || error_) return;
  std::string_view kind = m.header(":message-type");
  if (kind == "exception" || kind == "error") {
    // Exceptions carry {"message": ...} and their name; error messages carry both in headers. Either is
    // classified as the HTTP error it stands for.
    std::string name(kind == "exception" ? m.header(":exception-type") : m.header(":error-code"));
    int status = kind == "exception" ? exception_status(name) : 500;
    if (!name.empty()) name[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(name[0])));
    std::string body = m.payload;
    if (kind == "error") body = R"({"message":)" + json::quote(m.header(":error-message")) + "}";
    Error e = classify_http_error(status, {{"x-amzn-errortype", name}}, body);
    e.message = "upstream stream error (" + name + "): " + e.message;
    error_ = std::move(e);
    return;
  }
  std::string_view type = m.header(":event-type");
  auto obj = json::scan_object(m.payload, limits_);
  if (!obj) {
    error_ = upstream_json_error(obj.error());
    return;
  }
  auto index = static_cast<int>(int_member(*obj, "contentBlockIndex"));
  auto tool_of = [&](int i) { return i >= 0 && static_cast<size_t>(i) < tool_index_.size() ? tool_index_[i] : -1; };
  if (type == "contentBlockStart") {
    auto start = object_member(*obj, "start");
    auto use = start ? object_member(*start, "toolUse") : std::nullopt;
    if (!use || index < 0 || index >= kMaxBlocks) return;
    if (static_cast<size_t>(index) >= tool_index_.size()) tool_index_.resize(index + 1, -1);
    tool_index_[index] = tools_++;
    writer_.tool_start(tool_index_[index], string_member(*use, "toolUseId"), string_member(*use, "name"), out);
  } else if (type == "contentBlockDelta") {
    auto delta = object_member(*obj, "delta");
    if (!delta) return;
    if (const auto* t = delta->find("text"); t && t->type == json::Type::string) {
      if (t->value.size() > 2) writer_.text(t->value, out);
    } else if (auto use = object_member(*delta, "toolUse")) {
      const auto* input = use->find("input");
      if (input && input->type == json::Type::string && input->value.size() > 2 && tool_of(index) >= 0) {
        writer_.tool_args(tool_of(index), input->value, out);
      }
    }
    // reasoningContent deltas have no OpenAI counterpart.
  } else if (type == "messageStop") {
    writer_.finish(finish_reason(string_member(*obj, "stopReason")), out);
    stopped_ = true;
  } else if (type == "metadata") {
    if (auto u = object_member(*obj, "usage")) read_usage(*u, usage_);
    if (stopped_) {
      if (client_wants_usage_ && usage_.known) writer_.usage(usage_, out);
      writer_.done(out);
      done_ = true;
    }
  }
  // messageStart and contentBlockStop need no frame: the role goes out with the first content.
}

Status BedrockStreamDecoder::feed(std::string_view bytes, std::string& out) {
  if (error_) return *error_;
  size_t before = writer_.frames();
  messages_.clear();
  auto st = decoder_.feed(bytes, messages_);
  for (const auto& m : messages_) on_message(m, out);
  events_ = writer_.frames();
  // An exception the upstream sent wins over a framing error in bytes after it, however the bytes were
  // split. Frames written before it go out first; the error follows on the next call.
  if (error_) return writer_.frames() == before ? Status(*error_) : ok_status();
  if (!st) return st;
  return ok_status();
}

Status BedrockStreamDecoder::finish(std::string& out) {
  if (error_) return *error_;
  if (!stopped_) return Error::make(ErrorKind::connection, "the upstream stream ended before messageStop");
  if (decoder_.has_partial()) return Error::make(ErrorKind::connection, "the upstream stream ended inside a message");
  if (!done_) {
    writer_.done(out);
    done_ = true;
    events_ = writer_.frames();
  }
  return ok_status();
}

}  // namespace sy::providers
