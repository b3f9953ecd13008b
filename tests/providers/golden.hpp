#pragma once
// Golden-file helpers for the wire-format tests: read cases from tests/testdata/<provider>/, run a
// format, compare JSON semantically (volatile fields such as `created` removed). With
// SWITCHYARD_UPDATE_GOLDEN=1 the expectations are rewritten from the actual output instead; review the
// diff before committing.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "switchyard/config/config.hpp"
#include "switchyard/core/request.hpp"
#include "switchyard/providers/wire_format.hpp"

namespace sy::providers::golden {

using Json = nlohmann::ordered_json;
namespace fs = std::filesystem;

inline fs::path testdata(std::string_view sub) { return fs::path(SWITCHYARD_TESTDATA) / sub; }

inline std::string read_file(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

inline void write_file(const fs::path& p, std::string_view text) {
  std::ofstream f(p, std::ios::binary);
  f << text;
}

inline bool updating() {
  const char* v = std::getenv("SWITCHYARD_UPDATE_GOLDEN");
  return v && *v && std::string_view(v) != "0";
}

/// Files in `dir` ending with `suffix`, sorted.
inline std::vector<fs::path> cases(const fs::path& dir, std::string_view suffix) {
  std::vector<fs::path> out;
  if (!fs::exists(dir)) return out;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().string().ends_with(suffix)) out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

/// Removes members that differ per run (`created`, and `id` when asked) at any depth.
inline Json normalise(Json j, bool drop_ids = false) {
  if (j.is_object()) {
    j.erase("created");
    if (drop_ids) j.erase("id");
    // Tool call ids are stable (they come from upstream); only the response's own id may be random.
    for (auto& [k, v] : j.items()) v = normalise(v, drop_ids && k != "tool_calls");
  } else if (j.is_array()) {
    for (auto& v : j) v = normalise(v, drop_ids);
  }
  return j;
}

/// Compares semantically (member order ignored).
inline ::testing::AssertionResult same_json(const Json& expected, const Json& actual) {
  if (nlohmann::json(expected) == nlohmann::json(actual)) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "expected:\n" << expected.dump(2) << "\nactual:\n" << actual.dump(2);
}

/// A provider of `type` from a case's optional "provider" object ({base_url, api_key, options, headers}).
inline config::ProviderConfig provider_from(std::string type, const Json& spec, std::string default_base_url) {
  config::ProviderConfig p;
  p.name = "test-" + type;
  p.type = std::move(type);
  if (auto kind = config::provider_kind(p.type)) p.kind = *kind;
  p.base_url = spec.is_object() && spec.contains("base_url") ? spec["base_url"].get<std::string>() : default_base_url;
  p.url = *config::parse_url(p.base_url);
  p.api_key = spec.is_object() && spec.contains("api_key") ? spec["api_key"].get<std::string>() : "test-key";
  if (spec.is_object() && spec.contains("headers")) {
    for (auto& [k, v] : spec["headers"].items()) p.headers.emplace_back(k, v.get<std::string>());
  }
  if (spec.is_object() && spec.contains("options")) {
    std::vector<std::pair<std::string, config::Node>> members;
    for (auto& [k, v] : spec["options"].items()) {
      std::string path = "providers[0].options." + k;
      if (v.is_array()) {
        std::vector<config::Node> items;
        for (auto& item : v) items.push_back(config::Node::make_scalar(item.get<std::string>(), path, 1));
        members.emplace_back(k, config::Node::make_sequence(std::move(items), path, 1));
      } else {
        members.emplace_back(k, config::Node::make_scalar(v.is_string() ? v.get<std::string>() : v.dump(), path, 1));
      }
    }
    config::Diagnostics d;
    config::parse_provider_options(p.kind, config::Node::make_map(std::move(members), "providers[0].options", 1),
                                   p.options, d);
    EXPECT_TRUE(d.empty()) << (d.empty() ? "" : d.errors().front());
  }
  return p;
}

inline std::unique_ptr<Request> chat_request(const Json& body, Endpoint endpoint = Endpoint::chat) {
  auto r = Request::parse(endpoint, body.dump());
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  return r.ok() ? std::move(*r) : nullptr;
}

inline Json upstream_json(const UpstreamRequest& up) {
  Json headers = Json::object();
  for (const auto& h : up.headers) headers[h.name] = h.value;
  std::string flat = up.body.str();
  Json body = Json::parse(flat, nullptr, false);
  return Json{{"method", up.method}, {"target", up.target}, {"headers", headers},
              {"body", body.is_discarded() ? Json(flat) : body}};
}

inline Json error_json(const Error& e) {
  Json j = Json{{"kind", to_string(e.kind)}, {"message", e.message}};
  if (!e.code.empty()) j["code"] = e.code;
  if (!e.param.empty()) j["param"] = e.param;
  if (e.upstream_status) j["upstream_status"] = e.upstream_status;
  if (e.retry_after) j["retry_after_ms"] = e.retry_after->count();
  return j;
}

/// Runs every `<dir>/*.json` encode case: {"provider"?, "model", "request", "endpoint"?, "expect"} where
/// expect is the upstream request ({method, target, headers, body}) or {"error": {...}}.
inline void run_encode_cases(const WireFormat& format, std::string type, std::string base_url, const fs::path& dir,
                             std::optional<std::chrono::system_clock::time_point> now = std::nullopt) {
  auto files = cases(dir, ".json");
  ASSERT_FALSE(files.empty()) << "no cases in " << dir;
  for (const auto& file : files) {
    SCOPED_TRACE(file.filename().string());
    Json c = Json::parse(read_file(file));
    auto provider = provider_from(type, c.value("provider", Json()), base_url);
    config::DeploymentConfig dep;
    dep.provider = provider.name;
    dep.upstream_model = c["model"].get<std::string>();
    std::string ep = c.value("endpoint", std::string("chat"));
    Endpoint endpoint = ep == "embeddings" ? Endpoint::embeddings : ep == "completions" ? Endpoint::completions : Endpoint::chat;
    auto request = chat_request(c["request"], endpoint);
    ASSERT_TRUE(request);
    auto up = format.encode(*request, EncodeOptions{provider, dep, true, now});
    Json actual = up.ok() ? upstream_json(*up) : Json{{"error", error_json(up.error())}};
    if (updating()) {
      c["expect"] = actual;
      write_file(file, c.dump(2) + "\n");
      continue;
    }
    EXPECT_TRUE(same_json(c["expect"], actual));
  }
}

/// Runs every `<dir>/*.json` response case: {"request"?, "upstream": body, "expect": OpenAI body or
/// {"error"}, "usage": {prompt_tokens, completion_tokens, cached_tokens}}.
inline void run_response_cases(const WireFormat& format, const fs::path& dir, bool drop_ids = false) {
  auto files = cases(dir, ".json");
  ASSERT_FALSE(files.empty()) << "no cases in " << dir;
  for (const auto& file : files) {
    SCOPED_TRACE(file.filename().string());
    Json c = Json::parse(read_file(file));
    Json req = c.contains("request") ? c["request"] : Json{{"model", "client-model"}, {"messages", {{{"role", "user"}, {"content", "hi"}}}}};
    auto request = chat_request(req);
    ASSERT_TRUE(request);
    Usage usage;
    std::string upstream = c["upstream"].is_string() ? c["upstream"].get<std::string>() : c["upstream"].dump();
    auto out = format.decode_response(*request, upstream, usage);
    Json actual = out.ok() ? normalise(Json::parse(*out), drop_ids) : Json{{"error", error_json(out.error())}};
    Json usage_json = Json{{"prompt_tokens", usage.prompt_tokens}, {"completion_tokens", usage.completion_tokens},
                           {"cached_tokens", usage.cached_tokens}, {"known", usage.known}};
    if (updating()) {
      c["expect"] = actual;
      c["usage"] = usage_json;
      write_file(file, c.dump(2) + "\n");
      continue;
    }
    EXPECT_TRUE(same_json(c["expect"], actual));
    EXPECT_TRUE(same_json(c["usage"], usage_json));
  }
}

/// Feeds `upstream` to a decoder in pieces of `step` bytes (0: all at once) and returns the OpenAI
/// frames' payloads, "[DONE]", and a final {"$error": {...}} when the decoder failed.
inline Json decode_stream(StreamDecoder& decoder, std::string_view upstream, size_t step, bool drop_ids, Usage* usage = nullptr) {
  std::string out;
  Json frames = Json::array();
  std::optional<Error> error;
  size_t events_seen = 0;
  for (size_t at = 0; at < upstream.size() && !error;) {
    size_t n = step == 0 ? upstream.size() : std::min(step, upstream.size() - at);
    auto st = decoder.feed(upstream.substr(at, n), out);
    if (!st) error = st.error();
    at += n;
  }
  if (!error) {
    auto st = decoder.finish(out);
    if (!st) error = st.error();
  }
  for (size_t p = 0; p < out.size();) {
    size_t end = out.find("\n\n", p);
    EXPECT_NE(end, std::string::npos) << "unterminated frame";
    if (end == std::string::npos) break;
    std::string_view frame = std::string_view(out).substr(p, end - p);
    EXPECT_TRUE(frame.starts_with("data: ")) << frame;
    std::string_view data = frame.substr(6);
    frames.push_back(data == "[DONE]" ? Json("[DONE]") : normalise(Json::parse(data), drop_ids));
    ++events_seen;
    p = end + 2;
  }
  EXPECT_EQ(decoder.events(), events_seen);
  if (error) frames.push_back(Json{{"$error", error_json(*error)}});
  if (usage) *usage = decoder.usage();
  return frames;
}

/// Runs every stream case in `dir`: `<case><input_suffix>` is turned into upstream bytes by `to_bytes`,
/// `<case>.expect.json` holds {"request"?: OpenAI request, "frames": [...], "usage": {...}}. Each case
/// is decoded whole, byte by byte and in 7-byte pieces; all three must give the expected frames.
template <class ToBytes>
void run_stream_cases(const WireFormat& format, const fs::path& dir, std::string_view input_suffix, ToBytes to_bytes,
                      bool drop_ids = false) {
  auto files = cases(dir, input_suffix);
  ASSERT_FALSE(files.empty()) << "no cases in " << dir;
  for (const auto& file : files) {
    std::string name = file.filename().string();
    name.resize(name.size() - input_suffix.size());
    SCOPED_TRACE(name);
    fs::path expect_file = dir / (name + ".expect.json");
    Json c = fs::exists(expect_file) ? Json::parse(read_file(expect_file)) : Json::object();
    Json req = c.contains("request") ? c["request"]
                                     : Json{{"model", "client-model"}, {"stream", true}, {"messages", {{{"role", "user"}, {"content", "hi"}}}}};
    auto request = chat_request(req);
    ASSERT_TRUE(request);
    std::string upstream = to_bytes(read_file(file));
    Usage usage;
    Json frames;
    for (size_t step : {size_t{0}, size_t{1}, size_t{7}}) {
      SCOPED_TRACE("step " + std::to_string(step));
      auto decoder = format.stream_decoder(*request);
      Usage u;
      Json got = decode_stream(*decoder, upstream, step, drop_ids, &u);
      if (step == 0) {
        frames = got;
        usage = u;
      } else {
        EXPECT_TRUE(same_json(frames, got));
      }
    }
    Json usage_json = Json{{"prompt_tokens", usage.prompt_tokens}, {"completion_tokens", usage.completion_tokens},
                           {"cached_tokens", usage.cached_tokens}, {"known", usage.known}};
    if (updating()) {
      c["frames"] = frames;
      c["usage"] = usage_json;
      write_file(expect_file, c.dump(2) + "\n");
      continue;
    }
    EXPECT_TRUE(same_json(c["frames"], frames));
    EXPECT_TRUE(same_json(c["usage"], usage_json));
  }
}

/// Runs `<dir>/errors.json`: [{"name", "status", "headers"?: {...}, "body": string or JSON, "expect": {...}}].
inline void run_error_cases(const WireFormat& format, const fs::path& file) {
  Json c = Json::parse(read_file(file));
  ASSERT_TRUE(c.is_array());
  for (auto& e : c) {
    SCOPED_TRACE(e["name"].get<std::string>());
    Headers headers;
    if (e.contains("headers")) {
      for (auto& [k, v] : e["headers"].items()) headers.push_back({k, v.get<std::string>()});
    }
    std::string body = e["body"].is_string() ? e["body"].get<std::string>() : e["body"].dump();
    Json actual = error_json(format.classify_error(e["status"].get<int>(), headers, body));
    if (updating()) {
      e["expect"] = actual;
      continue;
    }
    EXPECT_TRUE(same_json(e["expect"], actual));
  }
  if (updating()) write_file(file, c.dump(2) + "\n");
}

}  // namespace sy::providers::golden
