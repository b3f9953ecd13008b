#include "providers/azure/azure_format.hpp"

#include <cctype>

#include "switchyard/core/json_scan.hpp"

namespace sy::providers {
namespace {

// Percent-encodes everything but RFC 3986 unreserved characters (deployment names are usually plain).
std::string encode_component(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
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

// "hate (high), violence (medium)" from a content_filter_results object.
std::string filtered_categories(const json::Object& choice) {
  std::string out;
  auto results = object_member(choice, "content_filter_results");
  if (!results) return out;
  for (const auto& f : results->fields) {
    if (f.type != json::Type::object) continue;
    auto cat = json::scan_object(f.value);
    if (!cat) continue;
    const auto* filtered = cat->find("filtered");
    if (!filtered || filtered->value != "true") continue;
    if (!out.empty()) out += ", ";
    out += std::string(f.key);
    if (auto sev = string_member(*cat, "severity"); !sev.empty()) out += " (" + sev + ")";
  }
  return out;
}

Error filtered_error(const std::string& categories) {
  Error e = Error::make(ErrorKind::content_filter,
                        "The response was filtered by Azure OpenAI's content management policy" +
                            (categories.empty() ? std::string(".") : ": " + categories + "."));
  e.code = "content_filter";
  return e;
}

// What one choice of a response or chunk says.
struct ChoiceView {
  bool has_output = false;  // content, text or tool calls
  std::string finish_reason;
  std::string categories;
};

ChoiceView view_choice(std::string_view raw, std::string_view holder) {
  ChoiceView v;
  auto choice = json::scan_object(raw);
  if (!choice) return v;
  v.finish_reason = string_member(*choice, "finish_reason");
  if (v.finish_reason == "content_filter") v.categories = filtered_categories(*choice);
  if (string_member(*choice, "text").size() > 0) v.has_output = true;
  if (auto m = object_member(*choice, holder)) {
    if (!string_member(*m, "content").empty()) v.has_output = true;
    for (auto key : {"tool_calls", "function_call"}) {
      const auto* f = m->find(key);
      if (f && f->type != json::Type::null) v.has_output = true;
    }
  }
  return v;
}

std::vector<json::Field> choices_of(const json::Object& o) {
  const auto* c = o.find("choices");
  if (!c || c->type != json::Type::array) return {};
  auto arr = json::scan_array(c->value);
  return arr ? std::move(*arr) : std::vector<json::Field>{};
}

}  // namespace

Result<UpstreamRequest> AzureFormat::encode(const Request& request, const EncodeOptions& options) const {
  const auto& p = options.provider;
  std::string_view version = p.options.api_version;
  if (version.empty()) version = kDefaultApiVersion;
  UpstreamRequest up;
  // base_url is the resource endpoint, https://<resource>.openai.azure.com, with or without /openai.
  up.target = p.url.base_path.ends_with("/openai") ? p.url.base_path : p.url.base_path + "/openai";
  up.target += "/deployments/" + encode_component(options.deployment.upstream_model);
  up.target += endpoint_path(request.endpoint());
  up.target += "?api-version=" + encode_component(version);
  up.headers.push_back({"content-type", "application/json"});
  if (!p.api_key.empty()) up.headers.push_back({"api-key", p.api_key});
  for (const auto& [k, v] : p.headers) up.headers.push_back({k, v});
  std::vector<json::Edit> edits = cache_control_removed(request);
  if (options.stream_usage) {
    if (auto e = stream_usage_edit(request)) edits.push_back(std::move(*e));
  }
  up.body = request.forward_body(options.deployment.upstream_model, std::move(edits));
  return up;
}

Result<std::string> AzureFormat::decode_response(const Request& request, std::string body, Usage& usage) const {
  auto obj = json::scan_object(body, request.json_limits());
  if (!obj) return upstream_json_error(obj.error());
  if (const auto* u = obj->find("usage"); u && u->type == json::Type::object) parse_openai_usage(u->value, usage);
  auto choices = choices_of(*obj);
  bool all_filtered = !choices.empty();
  std::string categories;
  for (const auto& c : choices) {
    ChoiceView v = view_choice(c.value, "message");
    if (v.finish_reason != "content_filter" || v.has_output) all_filtered = false;
    if (categories.empty()) categories = v.categories;
  }
  if (all_filtered) return filtered_error(categories);
  return body;
}

std::unique_ptr<StreamDecoder> AzureFormat::stream_decoder(const Request& request) const {
  return std::make_unique<AzureStreamDecoder>(request.client_wants_usage(), request.json_limits());
}

Error AzureFormat::classify_error(int status, const Headers& headers, std::string_view body) const {
  return classify_http_error(status, headers, body);
}

Status AzureStreamDecoder::relay(std::string& out) {
  size_t start = 0;
  for (;;) {
    size_t end = frames_.find("\n\n", start);
    if (end == std::string::npos) break;
    std::string_view frame = std::string_view(frames_).substr(start, end + 2 - start);
    start = end + 2;
    std::string_view data = frame.substr(6, frame.size() - 8);  // "data: " ... "\n\n"
    bool release = false;
    if (data == "[DONE]") {
      release = true;
    } else if (auto obj = json::scan_object(data)) {
      auto choices = choices_of(*obj);
      if (choices.empty() && !obj->find("usage")) continue;  // prompt_filter_results only
      if (choices.empty()) release = true;
      for (const auto& c : choices) {
        ChoiceView v = view_choice(c.value, "delta");
        if (!released_ && v.finish_reason == "content_filter" && !v.has_output) {
          frames_.clear();
          return filtered_error(v.categories);
        }
        if (v.has_output || !v.finish_reason.empty()) release = true;
      }
    }
    if (released_ || release) {
      if (!released_) {
        flush_held(out);
        released_ = true;
      }
      out.append(frame);
      ++events_;
    } else {
      held_.append(frame);
      ++held_frames_;
    }
  }
  frames_.erase(0, start);
  return ok_status();
}

Status AzureStreamDecoder::feed(std::string_view bytes, std::string& out) {
  auto st = inner_.feed(bytes, frames_);
  usage_ = inner_.usage();
  if (!st) return st;
  return relay(out);
}

void AzureStreamDecoder::flush_held(std::string& out) {
  out.append(held_);
  held_.clear();
  events_ += held_frames_;
  held_frames_ = 0;
}

Status AzureStreamDecoder::finish(std::string& out) {
  auto st = inner_.finish(frames_);
  usage_ = inner_.usage();
  auto r = relay(out);
  if (!r) return r;
  // A stream that ended cleanly while frames were held (nothing generated at all) still delivers them;
  // one that failed keeps them back, as feed() does, so the failure can still fail over unseen.
  if (!st) return st;
  flush_held(out);
  return st;
}

}  // namespace sy::providers
