#include "providers/anthropic/chunk_writer.hpp"

#include "switchyard/core/json_scan.hpp"

namespace sy::providers::chat {

std::string openai_usage_json(const Usage& u) {
  return R"({"prompt_tokens":)" + std::to_string(u.prompt_tokens) + R"(,"completion_tokens":)" +
         std::to_string(u.completion_tokens) + R"(,"total_tokens":)" + std::to_string(u.prompt_tokens + u.completion_tokens) +
         R"(,"prompt_tokens_details":{"cached_tokens":)" + std::to_string(u.cached_tokens) +
         // Not an OpenAI field: cache writes (Anthropic, Bedrock) carried through the internal shape so
         // they can be priced and reported to Anthropic-format clients. OpenAI clients ignore it.
         (u.cache_write_tokens > 0 ? R"(,"cache_write_tokens":)" + std::to_string(u.cache_write_tokens) : std::string()) +
         "}}";
}

void ChunkWriter::start(std::string_view id, std::string_view model, std::int64_t created) {
  prefix_ = R"(data: {"id":)" + json::quote(id) + R"(,"object":"chat.completion.chunk","created":)" +
            std::to_string(created) + R"(,"model":)" + json::quote(model) + ",";
}

void ChunkWriter::choice(std::string_view delta, std::string_view finish, std::string& out) {
  out.append(prefix_);
  out.append(R"("choices":[{"index":0,"delta":)");
  out.append(delta);
  out.append(R"(,"logprobs":null,"finish_reason":)");
  out.append(finish.empty() ? std::string_view("null") : finish);
  out.append("}]}\n\n");
  ++frames_;
}

void ChunkWriter::ensure_role(std::string& out) {
  if (role_sent_) return;
  role_sent_ = true;
  choice(R"({"role":"assistant","content":""})", {}, out);
}

void ChunkWriter::text(std::string_view raw_string, std::string& out) {
  ensure_role(out);
  std::string delta = R"({"content":)";
  delta.append(raw_string);
  delta.push_back('}');
  choice(delta, {}, out);
}

void ChunkWriter::tool_start(int index, std::string_view id, std::string_view name, std::string& out) {
  ensure_role(out);
  std::string delta = R"({"tool_calls":[{"index":)" + std::to_string(index) + R"(,"id":)" + json::quote(id) +
                      R"(,"type":"function","function":{"name":)" + json::quote(name) + R"(,"arguments":""}}]})";
  choice(delta, {}, out);
}

void ChunkWriter::tool_args(int index, std::string_view raw_string, std::string& out) {
  ensure_role(out);
  std::string delta = R"({"tool_calls":[{"index":)" + std::to_string(index) + R"(,"function":{"arguments":)";
  delta.append(raw_string);
  delta.append("}}]}");
  choice(delta, {}, out);
}

void ChunkWriter::finish(std::string_view reason, std::string& out) {
  ensure_role(out);
  choice("{}", json::quote(reason), out);
}

void ChunkWriter::usage(const Usage& u, std::string& out) {
  out.append(prefix_);
  out.append(R"("choices":[],"usage":)");
  out.append(openai_usage_json(u));
  out.append("}\n\n");
  ++frames_;
}

void ChunkWriter::done(std::string& out) {
  out.append("data: [DONE]\n\n");
  ++frames_;
}

}  // namespace sy::providers::chat
