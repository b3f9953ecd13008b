#include "switchyard/providers/openai_sse.hpp"

#include <optional>
#include <vector>

#include "switchyard/core/json_scan.hpp"

namespace sy::providers {

namespace {

using Json = nlohmann::json;
constexpr std::string_view kData = "data: ";

std::string dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

/// The tool calls of an assistant message with the `index` each has in a stream.
Json indexed_tool_calls(const Json& tool_calls) {
  Json calls = Json::array();
  for (size_t i = 0; i < tool_calls.size(); ++i) {
    Json tc = tool_calls[i];
    tc["index"] = i;
    calls.push_back(std::move(tc));
  }
  return calls;
}

}  // namespace

std::string replay_as_sse(const Json& completion, const Json& choice, bool include_usage) {
  const Json base = {{"id", completion.value("id", "chatcmpl-cascade")}, {"object", "chat.completion.chunk"},
                     {"created", completion.value("created", 0)}, {"model", completion.value("model", "")}};
  std::string sse;
  auto emit = [&](Json delta, Json finish) {
    Json chunk = base;
    chunk["choices"] = Json::array({{{"index", 0}, {"delta", std::move(delta)}, {"finish_reason", std::move(finish)}}});
    sse += std::string(kData) + dump(chunk) + "\n\n";
  };
  const Json& msg = choice.value("message", Json::object());
  emit({{"role", "assistant"}, {"content", ""}}, nullptr);
  if (msg.contains("content") && msg["content"].is_string() && !msg["content"].get<std::string>().empty()) {
    emit({{"content", msg["content"]}}, nullptr);
  }
  if (msg.contains("tool_calls") && msg["tool_calls"].is_array()) {
    emit({{"tool_calls", indexed_tool_calls(msg["tool_calls"])}}, nullptr);
  }
  emit(Json::object(), choice.value("finish_reason", "stop"));
  if (include_usage && completion.contains("usage")) {
    Json chunk = base;
    chunk["choices"] = Json::array();
    chunk["usage"] = completion["usage"];
    sse += std::string(kData) + chunk.dump() + "\n\n";
  }
  sse += "data: [DONE]\n\n";
  return sse;
}

std::string frame_without_logprobs(std::string_view frame) {
  if (!frame.starts_with(kData) || frame.find("\"logprobs\"") == std::string_view::npos) return std::string(frame);
  std::string_view data = frame.substr(kData.size());
  size_t last = data.find_last_not_of("\r\n");
  std::string_view tail = last == std::string_view::npos ? data : data.substr(last + 1);
  data = data.substr(0, data.size() - tail.size());
  auto obj = json::scan_object(data);
  const json::Field* choices = obj ? obj->find("choices") : nullptr;
  if (!choices || choices->type != json::Type::array) return std::string(frame);
  auto items = json::scan_array(choices->value);
  if (!items) return std::string(frame);
  std::string arr = "[";
  for (size_t i = 0; i < items->size(); ++i) {
    const json::Field& item = (*items)[i];
    if (i) arr += ',';
    std::optional<json::Object> co;
    if (item.type == json::Type::object) {
      if (auto scanned = json::scan_object(item.value)) co = std::move(*scanned);
    }
    const json::Field* lp = co ? co->find("logprobs") : nullptr;
    if (lp && lp->type != json::Type::null) {
      std::vector<json::Edit> edits{{"logprobs", std::string("null")}};
      arr += json::splice(item.value, *co, edits);
    } else {
      arr += item.value;
    }
  }
  arr += ']';
  std::vector<json::Edit> edits{{"choices", std::move(arr)}};
  return std::string(kData) + json::splice(data, *obj, edits) + std::string(tail);
}

void strip_logprobs(std::string& out, std::size_t from) {
  std::string_view fresh = std::string_view(out).substr(from);
  if (fresh.find("\"logprobs\"") == std::string_view::npos) return;
  std::string rewritten;
  rewritten.reserve(fresh.size());
  size_t at = 0;
  while (at < fresh.size()) {
    size_t end = fresh.find("\n\n", at);
    end = end == std::string_view::npos ? fresh.size() : end + 2;
    rewritten += frame_without_logprobs(fresh.substr(at, end - at));
    at = end;
  }
  out.replace(from, std::string::npos, rewritten);
}

}  // namespace sy::providers
