#include "providers/openai/openai_format.hpp"

#include <cstring>
#include <nlohmann/json.hpp>

#include "switchyard/core/json_scan.hpp"
#include "switchyard/providers/sse.hpp"

namespace sy::providers {

std::optional<json::Edit> stream_usage_edit(const Request& request) {
  if (!request.stream() || request.client_wants_usage()) return std::nullopt;
  const json::Field* so = request.fields().find("stream_options");
  if (so && so->type == json::Type::object) {
    auto opts = json::scan_object(so->value);
    if (opts) return json::Edit{"stream_options", json::splice(so->value, *opts, {{"include_usage", std::string("true")}})};
  }
  return json::Edit{"stream_options", std::string(R"({"include_usage":true})")};
}

std::vector<json::Edit> cache_control_removed(const Request& request) {
  std::vector<json::Edit> edits;
  if (!request.has_cache_control()) return edits;
  // Breakpoints sit on messages, their content parts and tools (chat_input.hpp); OpenAI-compatible
  // servers refuse the unknown member, and cache prefixes on their own.
  auto strip = [](nlohmann::ordered_json& list) {
    for (auto& item : list) {
      if (!item.is_object()) continue;
      item.erase("cache_control");
      for (const char* inner : {"content", "function"}) {
        auto it = item.find(inner);
        if (it == item.end()) continue;
        if (it->is_object()) it->erase("cache_control");
        if (it->is_array()) {
          for (auto& part : *it) {
            if (part.is_object()) part.erase("cache_control");
          }
        }
      }
    }
  };
  for (const char* key : {"messages", "tools"}) {
    const json::Field* f = request.fields().find(key);
    if (!f || f->type != json::Type::array || f->value.find("cache_control") == std::string_view::npos) continue;
    // Part of the client's body, which passed the JSON guard.
    auto list = nlohmann::ordered_json::parse(f->value, nullptr, false);
    if (!list.is_array()) continue;
    strip(list);
    edits.push_back(json::Edit{key, list.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace)});
  }
  return edits;
}

Result<UpstreamRequest> OpenAIFormat::encode(const Request& request, const EncodeOptions& options) const {
  UpstreamRequest up;
  up.target = options.provider.url.base_path + std::string(endpoint_path(request.endpoint()));
  up.headers.reserve(2 + options.provider.headers.size());
  up.headers.push_back({"content-type", "application/json"});
  if (!options.provider.api_key.empty()) up.headers.push_back({"authorization", "Bearer " + options.provider.api_key});
  for (const auto& [k, v] : options.provider.headers) up.headers.push_back({k, v});
  std::vector<json::Edit> edits = cache_control_removed(request);
  if (options.stream_usage) {
    if (auto e = stream_usage_edit(request)) edits.push_back(std::move(*e));
  }
  up.body = request.forward_body(options.deployment.upstream_model, std::move(edits));
  return up;
}

Result<std::string> OpenAIFormat::decode_response(const Request& request, std::string body, Usage& usage) const {
  auto obj = json::scan_object(body, request.json_limits());
  if (!obj) return upstream_json_error(obj.error());
  if (const auto* u = obj->find("usage"); u && u->type == json::Type::object) parse_openai_usage(u->value, usage);
  return body;
}

std::unique_ptr<StreamDecoder> OpenAIFormat::stream_decoder(const Request& request) const {
  return std::make_unique<OpenAIStreamDecoder>(request.client_wants_usage(), request.json_limits());
}

Error OpenAIFormat::classify_error(int status, const Headers& headers, std::string_view body) const {
  return classify_http_error(status, headers, body);
}

namespace {

// The raw value after `"usage":` when it is an object, else empty. Cheap: no full parse per chunk.
std::string_view usage_object(std::string_view data) {
  size_t at = 0;
  for (;;) {
    size_t k = data.find("\"usage\"", at);
    if (k == std::string_view::npos) return {};
    size_t p = k + 7;
    while (p < data.size() && (data[p] == ' ' || data[p] == ':')) ++p;
    if (p < data.size() && data[p] == '{') {
      auto obj = json::scan_object(data);
      if (!obj) return {};
      const auto* u = obj->find("usage");
      return u && u->type == json::Type::object ? u->value : std::string_view{};
    }
    at = p;
  }
}

// An event whose top level is an `error` member ({"error":{...}}), as OpenAI-compatible servers send
// when a stream fails after it began.
bool is_error_event(std::string_view data) {
  auto obj = json::scan_object(data);
  return obj && obj->find("error") && !obj->find("choices");
}

bool has_empty_choices(std::string_view data) {
  size_t k = data.find("\"choices\"");
  if (k == std::string_view::npos) return true;
  size_t p = k + 9;
  while (p < data.size() && (data[p] == ' ' || data[p] == ':')) ++p;
  if (p >= data.size() || data[p] != '[') return false;
  ++p;
  while (p < data.size() && (data[p] == ' ' || data[p] == '\n')) ++p;
  return p < data.size() && data[p] == ']';
}

}  // namespace

Status OpenAIStreamDecoder::feed(std::string_view bytes, std::string& out) {
  if (error_) return *error_;
  bool fits = parser_.feed(bytes, [&](std::string_view, std::string_view data) {
    if (error_) return;
    if (data == "[DONE]") {
      done_ = true;
    } else if (auto checked = json::validate(data, limits_); !checked) {
      // Relayed events are the upstream's bytes: they pass the same guard as any document.
      error_ = upstream_json_error(checked.error());
      return;
    } else if (data.find("\"error\"") != std::string_view::npos && is_error_event(data)) {
      // An error mid-stream is not relayed as the upstream wrote it (it may quote our credentials):
      // it ends the stream as our own error, which leaves through the one error mapping.
      Error e = classify_http_error(500, {}, data);
      e.message = "upstream stream error: " + e.message;
      error_ = std::move(e);
      return;
    } else if (auto u = usage_object(data); !u.empty()) {
      parse_openai_usage(u, usage_);
      // The usage-only chunk we asked for on the client's behalf is not theirs to see.
      if (!client_wants_usage_ && has_empty_choices(data)) return;
    }
    out.append("data: ");
    out.append(data);
    out.append("\n\n");
    ++events_;
  }, limits_.max_bytes);
  if (!fits) error_ = Error::make(ErrorKind::connection, "upstream stream event exceeds " + std::to_string(limits_.max_bytes) + " bytes");
  // Frames before a bad event go out first; the error follows on the next call.
  return ok_status();
}

Status OpenAIStreamDecoder::finish(std::string& out) {
  // A final event without its blank line still counts.
  feed("\n\n", out);
  if (error_) return *error_;
  if (!done_) return Error::make(ErrorKind::connection, "the upstream stream ended before [DONE]");
  return ok_status();
}

}  // namespace sy::providers
